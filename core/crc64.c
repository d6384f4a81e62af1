#include "core/crc64.h"

#include <pthread.h>
#include <string.h>

/* The reflected form of the Jones polynomial (its bits in reverse order):
 * a reflected CRC shifts right, so the polynomial is read from the other end. */
#define JONES_REFLECTED 0x95ac9329ac4bc9b5ULL

/* table[0] advances the crc by one byte; table[k] by one byte followed by k
 * zero bytes, so eight bytes are eight independent lookups. */
static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (c >> 1) ^ JONES_REFLECTED : c >> 1;
        table[0][i] = c;
    }
    for (int i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
}

static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) /* compiles to one load on a little-endian machine */
        v = (v << 8) | p[i];
    return v;
}

uint64_t crc64(uint64_t crc, const void *data, size_t n)
{
    pthread_once(&table_once, table_build);
    const unsigned char *p = data;
    for (; n >= 8; n -= 8, p += 8) {
        crc ^= load_le64(p);
        crc = table[7][crc & 0xff] ^ table[6][(crc >> 8) & 0xff] ^ table[5][(crc >> 16) & 0xff] ^
              table[4][(crc >> 24) & 0xff] ^ table[3][(crc >> 32) & 0xff] ^
              table[2][(crc >> 40) & 0xff] ^ table[1][(crc >> 48) & 0xff] ^ table[0][crc >> 56];
    }
    for (; n > 0; n--, p++)
        crc = table[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return crc;
}
