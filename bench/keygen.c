/* keygen: see keygen.h. The zipfian sampler follows the method of
 * W. Hoermann and G. Derflinger, "Rejection-inversion to generate variates
 * from monotone discrete distributions" (1996): draw x from the continuous
 * density h(x) = x^-E by inverting its integral H, round it to the nearest
 * integer k, and accept k when x lies close enough to k or a uniform test
 * under h(k) passes. */
#include "keygen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* log1p(x)/x and expm1(x)/x, accurate near 0 where the quotient is 0/0 */
static double log1p_over(double x)
{
    if (fabs(x) > 1e-8)
        return log1p(x) / x;
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

static double expm1_over(double x)
{
    if (fabs(x) > 1e-8)
        return expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

/* h(x) = x^-E */
static double zipf_h(double e, double x) { return exp(-e * log(x)); }

/* H(x) = (x^(1-E) - 1) / (1-E), the integral of h from 1 (log x when E = 1) */
static double zipf_H(double e, double x)
{
    double lx = log(x);
    return expm1_over((1.0 - e) * lx) * lx;
}

/* the inverse of H */
static double zipf_H_inv(double e, double y)
{
    double t = y * (1.0 - e);
    if (t < -1.0)
        t = -1.0;           /* rounding can step just outside H's range */
    return exp(log1p_over(t) * y);
}

int keygen_parse_dist(const char *text, enum key_dist *dist, double *exponent)
{
    *exponent = 0;
    if (!strcmp(text, "uniform")) {
        *dist = KEY_UNIFORM;
        return 0;
    }
    if (!strcmp(text, "sequential")) {
        *dist = KEY_SEQUENTIAL;
        return 0;
    }
    if (!strncmp(text, "zipf:", 5)) {
        char *end;
        double e = strtod(text + 5, &end);
        if (end == text + 5 || *end || !(e > 0) || e > 100)
            return -1;
        *dist = KEY_ZIPF;
        *exponent = e;
        return 0;
    }
    return -1;
}

void keygen_init(struct keygen *g, enum key_dist dist, double exponent,
                 uint64_t keys, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->dist = dist;
    g->keys = keys ? keys : 1;
    g->rng = seed * 0x2545f4914f6cdd1dull + 0x1234567ull;
    g->next_seq = keygen_below(&g->rng, g->keys);
    g->exponent = exponent;
    if (dist == KEY_ZIPF) {
        double e = exponent;
        g->h_integral_x1 = zipf_H(e, 1.5) - 1.0;
        g->h_integral_n = zipf_H(e, (double)g->keys + 0.5);
        g->s = 2.0 - zipf_H_inv(e, zipf_H(e, 2.5) - zipf_h(e, 2.0));
    }
}

static uint64_t zipf_next(struct keygen *g)
{
    double e = g->exponent;
    for (;;) {
        double u = g->h_integral_n +
                   keygen_unit(&g->rng) * (g->h_integral_x1 - g->h_integral_n);
        double x = zipf_H_inv(e, u);
        double kf = floor(x + 0.5);
        if (kf < 1.0)
            kf = 1.0;
        else if (kf > (double)g->keys)
            kf = (double)g->keys;
        if (kf - x <= g->s || u >= zipf_H(e, kf + 0.5) - zipf_h(e, kf))
            return (uint64_t)kf - 1;
    }
}

uint64_t keygen_next(struct keygen *g)
{
    switch (g->dist) {
    case KEY_ZIPF:
        return zipf_next(g);
    case KEY_SEQUENTIAL: {
        uint64_t k = g->next_seq++;
        if (g->next_seq >= g->keys)
            g->next_seq = 0;
        return k;
    }
    case KEY_UNIFORM:
    default:
        return keygen_below(&g->rng, g->keys);
    }
}

int keyname_init(struct keyname *kn, const char *prefix, size_t total_size, uint64_t keys)
{
    memset(kn, 0, sizeof *kn);
    size_t plen = strlen(prefix);
    if (plen >= sizeof kn->prefix)
        return -1;
    memcpy(kn->prefix, prefix, plen);
    kn->prefix_len = plen;
    unsigned need = 1;
    for (uint64_t m = keys > 0 ? keys - 1 : 0; m >= 10; m /= 10)
        need++;
    if (total_size == 0) {
        kn->digits = need > 8 ? need : 8;
    } else {
        if (total_size < plen + need || total_size - plen > 40)
            return -1;
        kn->digits = (unsigned)(total_size - plen);
    }
    kn->len = plen + kn->digits;
    return 0;
}
