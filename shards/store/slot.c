/* slot: Redis Cluster's key → slot function (see slot.h). */
#include "shards/store/slot.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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
 * linear. Where the CPU multiplies carry-less, the way below this one is
 * used instead (the tables are kept for other CPUs, and tests use both). */
#define CRC_SPAN 16
static uint16_t crc_tab[CRC_SPAN][256];
static void crc_table_build(void) __attribute__((constructor));
static void crc_clmul_setup(void);

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
    crc_clmul_setup();
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

/* ---- carry-less multiplication (x86-64 with PCLMULQDQ) ----
 *
 * Read big-endian, n <= 8 bytes are a polynomial L of degree < 64 (the
 * first byte's top bit the highest term; leading zero bytes change nothing,
 * as the register starts at zero), and their CRC is L x^16 mod P. Barrett
 * reduction gets it with two multiplies and no table: with
 * mu = x^80 div P (degree 64: x^64 + crc_mu), the quotient
 * L x^16 div P = L xor (L * crc_mu) div x^64, and the remainder is the low
 * 16 bits of quotient * P (those of L x^16 are zero). Longer input goes 8
 * bytes a step, the register carried into the top two bytes of the next 8,
 * after a first step of the n mod 8 leading bytes; keys of 8..16 bytes have
 * a shorter way (key_slot_clmul_16). key_slot of a 12-byte key, brace test
 * included, is 33 instructions where the tables' way takes 81 (bench/
 * RESULTS.md, "Cluster mode's cost"); all in registers, no 8 KiB of tables
 * to keep in cache. Every load stays inside the key (an 8-byte key part is
 * read as its first and last 4 bytes when shorter), which ASan checks. */
static bool crc_use_clmul;
static uint64_t crc_mu;  /* x^80 div P, without its x^64 term */
static uint64_t crc_x64; /* x^64 mod P */

static void crc_clmul_setup(void)
{
    /* x^80 divided by P = x^16 + 0x1021, bit by bit */
    unsigned __int128 rem = (unsigned __int128)1 << 80, quot = 0;
    for (int d = 80; d >= 16; d--)
        if ((rem >> d) & 1) {
            rem ^= (unsigned __int128)0x11021 << (d - 16);
            quot |= (unsigned __int128)1 << (d - 16);
        }
    crc_mu = (uint64_t)quot;
    uint64_t r = 1; /* x^0, times x 64 times, mod P */
    for (int i = 0; i < 64; i++)
        r = (r << 1) ^ ((r & 0x8000) ? 0x11021 : 0);
    crc_x64 = r;
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_use_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

bool slot_clmul_use(bool on)
{
    bool was = crc_use_clmul;
#if defined(__x86_64__)
    crc_use_clmul = on && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#else
    (void)on;
#endif
    return was;
}

#if defined(__x86_64__)
#define CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

/* The CRC of the bytes whose big-endian value is v, from a zero register. */
CLMUL_TARGET static inline unsigned crc_reduce(uint64_t v)
{
    __m128i x = _mm_cvtsi64_si128((long long)v);
    __m128i q = _mm_clmulepi64_si128(x, _mm_cvtsi64_si128((long long)crc_mu), 0);
    q = _mm_xor_si128(_mm_srli_si128(q, 8), x); /* the quotient, without leaving the register */
    __m128i r = _mm_clmulepi64_si128(q, _mm_cvtsi64_si128(0x1021), 0);
    return (unsigned)_mm_cvtsi128_si32(r) & 0xffff;
}

static inline uint64_t load_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static inline uint32_t load_be32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

CLMUL_TARGET static inline unsigned crc16_clmul(const unsigned char *p, size_t n)
{
    if (n < 8) {
        uint64_t v;
        if (n >= 4) /* first and last 4, overlapping: the same bits where they meet */
            v = ((uint64_t)load_be32(p) << (8 * (n - 4))) | load_be32(p + n - 4);
        else if (n > 0) /* the first, middle and last byte */
            v = ((uint64_t)p[0] << (8 * (n - 1))) | ((uint64_t)p[n / 2] << (8 * (n - 1 - n / 2))) | p[n - 1];
        else
            return 0;
        return crc_reduce(v);
    }
    const unsigned char *end = p + n;
    unsigned crc = 0;
    size_t lead = n & 7;
    if (lead) { /* the first n mod 8 bytes: the top of the first 8 */
        crc = crc_reduce(load_be64(p) >> (64 - 8 * lead));
        p += lead;
    }
    for (; p < end; p += 8)
        crc = crc_reduce(load_be64(p) ^ ((uint64_t)crc << 48));
    return crc;
}
#endif

/* Is there a '{' among the 8 bytes of w? (w xor "{{{{{{{{" has a zero byte:
 * the classic test, exact for the first zero byte and so for "any".) */
static inline uint64_t brace_bits(uint64_t w)
{
    uint64_t x = w ^ 0x7b7b7b7b7b7b7b7bull;
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

/* Where a key's slot comes from: its hash tag, the bytes between the first
 * '{' and the first '}' after it, when there are any; otherwise the whole
 * key. Most keys have no '{': looked for 8 bytes at a time, without a
 * call. Sets *len to the length of what is hashed and returns its start. */
static inline __attribute__((always_inline)) const char *slot_bytes(const char *key, size_t *len)
{
    size_t n = *len;
    bool brace = false;
    uint64_t w, last;
    if (n >= 8) {
        memcpy(&w, key, 8);
        memcpy(&last, key + n - 8, 8); /* the last 8, overlapping the others */
        brace = (brace_bits(w) | brace_bits(last)) != 0;
        for (size_t i = 8; i + 8 < n && !brace; i += 8) { /* keys over 16 bytes */
            memcpy(&w, key + i, 8);
            brace = brace_bits(w) != 0;
        }
    } else {
        for (size_t i = 0; i < n && !brace; i++)
            brace = key[i] == '{';
    }
    if (brace) {
        const char *open = memchr(key, '{', n);
        size_t start = (size_t)(open - key) + 1;
        const char *close = memchr(key + start, '}', n - start);
        if (close && close > key + start) {
            *len = (size_t)(close - (key + start));
            return key + start;
        }
    }
    return key;
}

#if defined(__x86_64__)
/* crc16_xmodem's way with carry-less multiplication (the inline one can
 * only be inlined into a function of the same target) */
CLMUL_TARGET static unsigned crc16_clmul_call(const void *buf, size_t len)
{
    return crc16_clmul(buf, len);
}

/* Any key: out of the way of the common one below, so that one needs no
 * saved registers. */
CLMUL_TARGET __attribute__((noinline)) static unsigned key_slot_clmul_any(const char *key, size_t len)
{
    const char *p = slot_bytes(key, &len);
    return crc16_clmul((const unsigned char *)p, len) & (SLOT_COUNT - 1);
}

/* The common key, 8 to 16 bytes without a '{': its first and last 8 bytes
 * (overlapping) in one vector register, one compare finds any brace; the
 * key is then head x^64 + tail, head its first len - 8 bytes (none for 8)
 * and tail its last 8. Up to 14 bytes, head has at most 48 bits and
 * head * (x^64 mod P) + tail, congruent to the key and within 64 bits, is
 * one multiply and one reduction; 15 and 16 bytes take two reductions, the
 * first's remainder carried into the top of the tail. short_key: the
 * caller knows len <= 14 (one length test on the common path). */
CLMUL_TARGET static inline __attribute__((always_inline)) unsigned
key_slot_clmul_16(const char *key, size_t len, bool short_key)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t first, last;
    memcpy(&first, p, 8);
    memcpy(&last, p + len - 8, 8);
    __m128i both = _mm_set_epi64x((long long)last, (long long)first);
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(both, _mm_set1_epi8('{'))))
        return key_slot_clmul_any(key, len);
    unsigned half = 4 * (16 - (unsigned)len); /* the shift by 8 * (16 - len) in two, as it may be 64 */
    uint64_t head = (__builtin_bswap64(first) >> half) >> half, tail = __builtin_bswap64(last);
    if (short_key) {
        __m128i h = _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)head), _mm_cvtsi64_si128((long long)crc_x64), 0);
        return crc_reduce((uint64_t)_mm_cvtsi128_si64(h) ^ tail) & (SLOT_COUNT - 1);
    }
    unsigned crc = crc_reduce(head);
    return crc_reduce(tail ^ ((uint64_t)crc << 48)) & (SLOT_COUNT - 1);
}

CLMUL_TARGET static unsigned key_slot_clmul(const char *key, size_t len)
{
    if (len - 8 <= 6)
        return key_slot_clmul_16(key, len, true);
    if (len - 15 <= 1)
        return key_slot_clmul_16(key, len, false);
    return key_slot_clmul_any(key, len);
}
#endif

uint16_t crc16_xmodem(const void *buf, size_t len)
{
#if defined(__x86_64__)
    if (crc_use_clmul)
        return (uint16_t)crc16_clmul_call(buf, len);
#endif
    return crc16(buf, len);
}

/* The tables' way; out of line, so that key_slot is only the choice. */
__attribute__((noinline)) static unsigned key_slot_tables(const char *key, size_t len)
{
    const char *p = slot_bytes(key, &len);
    return crc16((const unsigned char *)p, len) & (SLOT_COUNT - 1);
}

/* The carry-less multiply where the CPU has it (chosen once at start),
 * else the tables; the choice is one predictable branch and a jump. */
unsigned key_slot(const char *key, size_t len)
{
#if defined(__x86_64__)
    if (crc_use_clmul)
        return key_slot_clmul(key, len);
#endif
    return key_slot_tables(key, len);
}
