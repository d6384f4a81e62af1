/* histogram: see histogram.h. */
#include "histogram.h"

#include <math.h>
#include <string.h>

void histogram_init(struct histogram *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static unsigned bucket_shift(unsigned i)
{
    unsigned sub = 1u << HISTOGRAM_SUB_BITS;
    return i < 2 * sub ? 0 : (i >> HISTOGRAM_SUB_BITS) - 1;
}

uint64_t histogram_bucket_low(unsigned i)
{
    unsigned shift = bucket_shift(i);
    uint64_t top = i - ((uint64_t)shift << HISTOGRAM_SUB_BITS);
    return top << shift;
}

uint64_t histogram_bucket_width(unsigned i)
{
    return (uint64_t)1 << bucket_shift(i);
}

static uint64_t bucket_value(const struct histogram *h, unsigned i)
{
    uint64_t v = histogram_bucket_low(i) + histogram_bucket_width(i) / 2;
    if (v < h->min) v = h->min;
    if (v > h->max) v = h->max;
    return v;
}

uint64_t histogram_percentile(const struct histogram *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    if (p < 0.0)
        p = 0.0;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank)
            return bucket_value(h, i);
    }
    return h->max;
}

void histogram_merge(struct histogram *dst, const struct histogram *src)
{
    for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

int histogram_write_spectrum(const struct histogram *h, FILE *f)
{
    fprintf(f, "# percentile latency_us (%llu values)\n", (unsigned long long)h->count);
    uint64_t seen = 0;
    for (unsigned i = 0; i < HISTOGRAM_BUCKETS && seen < h->count; i++) {
        if (!h->buckets[i])
            continue;
        seen += h->buckets[i];
        double pct = 100.0 * (double)seen / (double)h->count;
        fprintf(f, "%.6f %.3f\n", pct, (double)bucket_value(h, i) / 1000.0);
    }
    return ferror(f) ? -1 : 0;
}
