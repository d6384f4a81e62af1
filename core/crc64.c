#include "core/crc64.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* The Jones polynomial without its x^64 term, and its reflected form (its
 * bits in reverse order): a reflected CRC shifts right, so the polynomial
 * is read from the other end. */
#define JONES             0xad93d23594c935a9ULL
#define JONES_REFLECTED   0x95ac9329ac4bc9b5ULL

/* table[0] advances the crc by one byte; table[k] by one byte followed by k
 * zero bytes, so eight bytes are eight independent lookups. */
static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* ---- folding with carry-less multiplication (x86-64 with PCLMULQDQ) ----
 *
 * In the reflected order, 16 bytes loaded little-endian are a 128-bit
 * polynomial whose first 8 bytes (the low half) hold the higher degrees:
 * X = H x^64 + L. Moving X forward by d bits, to lie over the next bytes,
 * keeps the remainder mod P when H and L are multiplied by x^(d+64) and
 * x^d mod P. A carry-less product of two reflected 64-bit values comes out
 * one degree short, so the constants are x^(d+63) and x^(d-1) mod P,
 * reflected. Four accumulators move by 512 bits a step (their products
 * overlap in the CPU), are folded into one by 128 bits at the end, and the
 * last 16 bytes they leave, with the tail, go through the tables. */
static bool have_clmul;
static uint64_t fold128[2], fold512[2]; /* { for H, for L } */

static uint64_t reflect64(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++, v >>= 1)
        r = (r << 1) | (v & 1);
    return r;
}

/* x^n mod P, reflected. */
static uint64_t xpow_mod(int n)
{
    uint64_t r = 1;
    for (int i = 0; i < n; i++)
        r = (r << 1) ^ ((r >> 63) ? JONES : 0);
    return reflect64(r);
}

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
    fold128[0] = xpow_mod(128 + 63);
    fold128[1] = xpow_mod(128 - 1);
    fold512[0] = xpow_mod(512 + 63);
    fold512[1] = xpow_mod(512 - 1);
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) /* compiles to one load on a little-endian machine */
        v = (v << 8) | p[i];
    return v;
}

static uint64_t crc64_tables(uint64_t crc, const unsigned char *p, size_t n)
{
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

#if defined(__x86_64__)
#define CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

CLMUL_TARGET static inline __m128i fold(__m128i x, __m128i k, __m128i next)
{
    __m128i h = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i l = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(h, l), next);
}

/* n >= 64 */
CLMUL_TARGET static uint64_t crc64_clmul(uint64_t crc, const unsigned char *p, size_t n)
{
    const __m128i k1 = _mm_set_epi64x((long long)fold128[1], (long long)fold128[0]);
    const __m128i k4 = _mm_set_epi64x((long long)fold512[1], (long long)fold512[0]);
    /* a crc to continue from: the same as xoring it into the first 8 bytes */
    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_set_epi64x(0, (long long)crc));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64;
    n -= 64;
    for (; n >= 64; n -= 64, p += 64) {
        x0 = fold(x0, k4, _mm_loadu_si128((const __m128i *)p));
        x1 = fold(x1, k4, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k4, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k4, _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    __m128i x = fold(fold(fold(x0, k1, x1), k1, x2), k1, x3);
    for (; n >= 16; n -= 16, p += 16)
        x = fold(x, k1, _mm_loadu_si128((const __m128i *)p));
    unsigned char rest[16];
    _mm_storeu_si128((__m128i *)rest, x);
    return crc64_tables(crc64_tables(0, rest, 16), p, n);
}
#endif

uint64_t crc64(uint64_t crc, const void *data, size_t n)
{
    pthread_once(&table_once, table_build);
#if defined(__x86_64__)
    if (have_clmul && n >= 128)
        return crc64_clmul(crc, data, n);
#endif
    return crc64_tables(crc, data, n);
}

bool crc64_uses_clmul(void)
{
    pthread_once(&table_once, table_build);
    return have_clmul;
}
