/* slot: Redis Cluster's key → slot function (see slot.h). */
#include "shards/store/slot.h"

#include <stdbool.h>
#include <string.h>

/* CRC16-XMODEM (CCITT polynomial 0x1021, initial value 0, no reflection,
 * no final xor): the CRC Redis Cluster uses. The tables are built by a
 * constructor before main, so shard threads read them without any guard.
 *
 * Sixteen bytes a step. crc_tab[k][i] is the CRC of byte i followed by k
 * zero bytes. The CRC is linear in its input and, with no initial value,
 * the CRC of n bytes is the xor of crc_tab[n-1-j][byte j] over the bytes;
 * the register carried from the bytes before goes into the first two bytes
 * of the next piece (its high byte into the first). So a 16-byte key is
 * sixteen independent lookups and xors instead of a chain through every
 * byte. In cluster mode every key is hashed to its slot: under callgrind
 * a 12-byte key's CRC went from 82 instructions (two bytes a step, which
 * had been one) to about 45 (bench/RESULTS.md, "Cluster mode's cost").
 * 8 KiB of tables, of which a key touches a line per byte at most. The
 * last bytes (fewer than 16) go through a straight-line ladder; the
 * register carried in is pushed through them separately, as each table is
 * linear. */
#define CRC_SPAN 16
static uint16_t crc_tab[CRC_SPAN][256];
static void crc_table_build(void) __attribute__((constructor));

static void crc_table_build(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int b = 0; b < 8; b++)
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        crc_tab[0][i] = c;
    }
    for (int k = 1; k < CRC_SPAN; k++)
        for (unsigned i = 0; i < 256; i++) {
            uint16_t c = crc_tab[k - 1][i]; /* then one more zero byte */
            crc_tab[k][i] = (uint16_t)((c << 8) ^ crc_tab[0][c >> 8]);
        }
}

/* The CRC of n < 16 bytes from a zero register: the xor of one lookup per
 * byte, straight-line (a switch into a ladder, no loop). */
static inline unsigned crc_short(const unsigned char *p, size_t n)
{
    const unsigned char *e = p + n;
    unsigned x = 0;
    switch (n) {
    case 15: x ^= crc_tab[14][e[-15]]; /* fall through */
    case 14: x ^= crc_tab[13][e[-14]]; /* fall through */
    case 13: x ^= crc_tab[12][e[-13]]; /* fall through */
    case 12: x ^= crc_tab[11][e[-12]]; /* fall through */
    case 11: x ^= crc_tab[10][e[-11]]; /* fall through */
    case 10: x ^= crc_tab[9][e[-10]];  /* fall through */
    case 9:  x ^= crc_tab[8][e[-9]];   /* fall through */
    case 8:  x ^= crc_tab[7][e[-8]];   /* fall through */
    case 7:  x ^= crc_tab[6][e[-7]];   /* fall through */
    case 6:  x ^= crc_tab[5][e[-6]];   /* fall through */
    case 5:  x ^= crc_tab[4][e[-5]];   /* fall through */
    case 4:  x ^= crc_tab[3][e[-4]];   /* fall through */
    case 3:  x ^= crc_tab[2][e[-3]];   /* fall through */
    case 2:  x ^= crc_tab[1][e[-2]];   /* fall through */
    case 1:  x ^= crc_tab[0][e[-1]];   /* fall through */
    default: break;
    }
    return x;
}

/* The CRC of any length (crc16_xmodem; key_slot inlines it). */
static inline uint16_t crc16(const unsigned char *p, size_t len)
{
    if (len < CRC_SPAN) /* most keys: no register to carry */
        return (uint16_t)crc_short(p, len);
    unsigned crc = 0;
    for (; len >= CRC_SPAN; p += CRC_SPAN, len -= CRC_SPAN) {
        unsigned x = crc_tab[15][p[0] ^ (crc >> 8)] ^ crc_tab[14][p[1] ^ (crc & 0xff)];
        x ^= crc_tab[13][p[2]] ^ crc_tab[12][p[3]] ^ crc_tab[11][p[4]] ^ crc_tab[10][p[5]];
        x ^= crc_tab[9][p[6]] ^ crc_tab[8][p[7]] ^ crc_tab[7][p[8]] ^ crc_tab[6][p[9]];
        x ^= crc_tab[5][p[10]] ^ crc_tab[4][p[11]] ^ crc_tab[3][p[12]] ^ crc_tab[2][p[13]];
        crc = x ^ crc_tab[1][p[14]] ^ crc_tab[0][p[15]];
    }
    unsigned x = crc_short(p, len);
    /* the register carried in, pushed through the remaining bytes (each
     * table is linear, so this is the same as mixing it into the first
     * two bytes) */
    if (crc && len >= 2)
        x ^= crc_tab[len - 1][crc >> 8] ^ crc_tab[len - 2][crc & 0xff];
    else if (crc && len == 1)
        x ^= (crc << 8) ^ crc_tab[0][crc >> 8];
    else if (len == 0)
        x = crc;
    return (uint16_t)x;
}

uint16_t crc16_xmodem(const void *buf, size_t len)
{
    return crc16(buf, len);
}

/* Is there a '{' among the 8 bytes of w? (w xor "{{{{{{{{" has a zero byte:
 * the classic test, exact for the first zero byte and so for "any".) */
static inline uint64_t brace_bits(uint64_t w)
{
    uint64_t x = w ^ 0x7b7b7b7b7b7b7b7bull;
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

unsigned key_slot(const char *key, size_t len)
{
    /* Hash tag: the bytes between the first '{' and the first '}' after it,
     * when there are any; otherwise the whole key. Most keys have no '{':
     * looked for 8 bytes at a time, without a call. */
    bool brace = false;
    uint64_t w, last;
    if (len >= 8) {
        memcpy(&w, key, 8);
        memcpy(&last, key + len - 8, 8); /* the last 8, overlapping the others */
        brace = (brace_bits(w) | brace_bits(last)) != 0;
        for (size_t i = 8; i + 8 < len && !brace; i += 8) { /* keys over 16 bytes */
            memcpy(&w, key + i, 8);
            brace = brace_bits(w) != 0;
        }
    } else {
        for (size_t i = 0; i < len && !brace; i++)
            brace = key[i] == '{';
    }
    if (brace) {
        const char *open = memchr(key, '{', len);
        size_t start = (size_t)(open - key) + 1;
        const char *close = memchr(key + start, '}', len - start);
        if (close && close > key + start)
            return crc16((const unsigned char *)key + start, (size_t)(close - (key + start))) & (SLOT_COUNT - 1);
    }
    return crc16((const unsigned char *)key, len) & (SLOT_COUNT - 1);
}
