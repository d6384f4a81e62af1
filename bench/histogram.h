/* histogram: a log-linear latency histogram (the HdrHistogram idea).
 *
 * Values are nanoseconds (uint64). Each power of two above 256 is cut into 128
 * equal-width buckets, and values below 256 get one bucket each, so a bucket
 * never spans more than 1/128 of its lower edge; reporting the bucket's
 * midpoint keeps every reported value within 1/256 (0.4%) of a value that was
 * recorded, below the 1% the benchmark promises. The whole 64-bit range fits
 * in HISTOGRAM_BUCKETS counters (60 KiB): recording is a clz, a shift and an
 * increment, with no allocation and no branches on the value's size.
 *
 * One histogram belongs to one thread while it records; merge them after the
 * threads have stopped. */
#ifndef RINGKV_BENCH_HISTOGRAM_H
#define RINGKV_BENCH_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

#define HISTOGRAM_SUB_BITS 7                       /* 128 buckets per octave */
#define HISTOGRAM_BUCKETS  ((64 - HISTOGRAM_SUB_BITS) * (1u << HISTOGRAM_SUB_BITS) + \
                            (2u << HISTOGRAM_SUB_BITS))

struct histogram {
    uint64_t count;                     /* values recorded */
    uint64_t min, max;                  /* exact extremes (min is UINT64_MAX when empty) */
    uint64_t buckets[HISTOGRAM_BUCKETS];
};

/* ---- lifecycle ---- */
void histogram_init(struct histogram *h);          /* empty it */

/* ---- recording ---- */
static inline unsigned histogram_index(uint64_t v)
{
    /* shift = how many low bits a bucket at this magnitude ignores */
    unsigned msb = v ? 63u - (unsigned)__builtin_clzll(v) : 0;
    unsigned shift = msb > HISTOGRAM_SUB_BITS ? msb - HISTOGRAM_SUB_BITS : 0;
    return (shift << HISTOGRAM_SUB_BITS) + (unsigned)(v >> shift);
}

static inline void histogram_record(struct histogram *h, uint64_t v)
{
    h->buckets[histogram_index(v)]++;
    h->count++;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

/* ---- reading ---- */
/* The lowest value bucket i holds and the width of its range. */
uint64_t histogram_bucket_low(unsigned i);
uint64_t histogram_bucket_width(unsigned i);
/* The value at percentile p (0..100]: the midpoint of the bucket holding the
 * ceil(p/100 * count)-th smallest value, clamped to [min, max]; p >= 100
 * returns max exactly. 0 when empty. */
uint64_t histogram_percentile(const struct histogram *h, double p);
/* dst += src. */
void histogram_merge(struct histogram *dst, const struct histogram *src);
/* Write the full spectrum: a '#' header, then one line per non-empty bucket,
 * "percentile latency_us", the percentile being the share of values at or
 * below that bucket. Returns 0, or -1 on a write error. */
int histogram_write_spectrum(const struct histogram *h, FILE *f);

#endif
