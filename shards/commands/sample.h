/* sample: drawing distinct elements of a big collection at random
 * (HRANDFIELD, SRANDMEMBER with a positive count far below the size):
 * random picks, each kept the first time it comes, until there are enough.
 * Elements are told apart by address, which is stable while the command
 * runs (the hashtable encodings keep each element in its own node). For a
 * count below a third of the size, a pick is new at least two times in
 * three, so it takes at most about 1.5 picks per element, and no copy of
 * the whole collection. */
#ifndef RINGKV_SAMPLE_H
#define RINGKV_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <mimalloc.h>

/* Use sampling rather than a shuffle of every element. */
static inline bool sample_sparse(size_t count, size_t size) { return count < size / 3; }

struct sample_seen {
    const void **slot; /* open addressing, NULL = empty */
    size_t       mask;
};

static inline void sample_init(struct sample_seen *s, size_t count)
{
    size_t cap = 16;
    while (cap < count * 2)
        cap <<= 1;
    s->slot = mi_calloc(cap, sizeof *s->slot);
    if (!s->slot)
        abort();
    s->mask = cap - 1;
}

/* true if p was not seen before (it is now). */
static inline bool sample_first(struct sample_seen *s, const void *p)
{
    size_t i = (size_t)(((uint64_t)(uintptr_t)p * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & s->mask;
    while (s->slot[i]) {
        if (s->slot[i] == p)
            return false;
        i = (i + 1) & s->mask;
    }
    s->slot[i] = p;
    return true;
}

static inline void sample_free(struct sample_seen *s) { mi_free(s->slot); }

#endif
