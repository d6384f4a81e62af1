/* keygen: which key each request names, and how key names are spelled.
 *
 * A key is a number in [0, keys); its name is the prefix followed by the
 * number zero-padded to a fixed digit count, so every name has the same
 * length and a request's size does not depend on which key it drew.
 *
 * Distributions:
 *   uniform     every key equally likely;
 *   zipf:E      key k-1 has weight 1/k^E (key 0 the most popular), drawn by
 *               rejection-inversion (Hoermann and Derflinger, 1996): set-up is
 *               O(1), a draw is O(1) expected with a few logs and exps and
 *               rarely more than one try, for any E > 0 (E = 1 included);
 *   sequential  0, 1, 2, ... wrapping at keys; each generator starts at its
 *               own offset so threads do not walk in step.
 * A generator holds its own random state: one per load thread, no sharing. */
#ifndef RINGKV_BENCH_KEYGEN_H
#define RINGKV_BENCH_KEYGEN_H

#include <stddef.h>
#include <stdint.h>

enum key_dist { KEY_UNIFORM, KEY_ZIPF, KEY_SEQUENTIAL };

struct keygen {
    enum key_dist dist;
    uint64_t keys;          /* key space size, >= 1 */
    uint64_t rng;           /* splitmix64 state */
    uint64_t next_seq;      /* KEY_SEQUENTIAL: next key */
    /* KEY_ZIPF: the precomputed constants of rejection-inversion */
    double exponent;
    double h_integral_x1, h_integral_n, s;
};

/* Parse "uniform", "sequential" or "zipf:E" (E > 0). 0 or -1. */
int keygen_parse_dist(const char *text, enum key_dist *dist, double *exponent);
/* Set up a generator; seed makes each thread's stream different. */
void keygen_init(struct keygen *g, enum key_dist dist, double exponent,
                 uint64_t keys, uint64_t seed);
/* The next key number, in [0, keys). */
uint64_t keygen_next(struct keygen *g);

/* ---- random numbers for the rest of the load generator ---- */
static inline uint64_t keygen_rand(uint64_t *state)
{
    /* splitmix64: one add and three multiply-xorshifts, passes BigCrush */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in [0, n) without division (Lemire's multiply-shift; the bias is
 * below 2^-32 for the n a benchmark uses). */
static inline uint64_t keygen_below(uint64_t *state, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)keygen_rand(state) * n) >> 64);
}
/* Uniform in [0, 1). */
static inline double keygen_unit(uint64_t *state)
{
    return (double)(keygen_rand(state) >> 11) * 0x1.0p-53;
}

/* ---- names ---- */
struct keyname {
    char   prefix[64];
    size_t prefix_len;
    unsigned digits;        /* zero-padded width of the number */
    size_t len;             /* prefix_len + digits */
};
/* total_size 0: prefix + max(8, digits of keys-1). Otherwise the name is
 * total_size bytes; -1 if that leaves too few digits for keys-1 or the prefix
 * is longer than 63 bytes. */
int keyname_init(struct keyname *kn, const char *prefix, size_t total_size, uint64_t keys);
/* Write key k's name (kn->len bytes, no NUL) at out. */
static inline void keyname_write(const struct keyname *kn, uint64_t k, char *out)
{
    for (size_t i = 0; i < kn->prefix_len; i++)
        out[i] = kn->prefix[i];
    char *d = out + kn->len;
    for (unsigned i = 0; i < kn->digits; i++) {
        *--d = (char)('0' + k % 10);
        k /= 10;
    }
}

#endif
