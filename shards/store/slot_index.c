/* slot_index: a store's keys by cluster slot (see slot_index.h). */
#include "shards/store/slot_index.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "shards/store/slot.h"

/* One slot's hashes: open addressing, linear probing, 0 = empty. */
struct slot_keys {
    uint64_t *h;
    uint32_t  n;
    uint32_t  cap;   /* 0 or a power of two */
};

struct slot_index {
    void            *heap;
    size_t           bytes; /* the tables' bytes */
    struct slot_keys slots[SLOT_COUNT];
};

#define MIN_CAP 4

/* 0 marks an empty place: a hash of 0 is kept as 1 (the store compares
 * the same way). */
static inline uint64_t norm(uint64_t h)
{
    return h ? h : 1;
}

static void *alloc_zero(struct slot_index *x, size_t n)
{
    void *p = x->heap ? mi_heap_zalloc((mi_heap_t *)x->heap, n) : mi_zalloc(n);
    if (!p)
        abort();
    return p;
}

struct slot_index *slot_index_create(void *heap)
{
    struct slot_index *x = heap ? mi_heap_zalloc((mi_heap_t *)heap, sizeof(*x)) : mi_zalloc(sizeof(*x));
    if (!x)
        abort();
    x->heap = heap;
    return x;
}

void slot_index_clear(struct slot_index *x)
{
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        mi_free(x->slots[s].h);
        x->slots[s] = (struct slot_keys){ 0 };
    }
    x->bytes = 0;
}

void slot_index_destroy(struct slot_index *x)
{
    if (!x)
        return;
    slot_index_clear(x);
    mi_free(x);
}

static inline size_t home(uint64_t h, uint32_t cap)
{
    /* the store's bucket uses the low bits: take the high ones here */
    return (size_t)(h >> 40) & (cap - 1);
}

static void put(uint64_t *table, uint32_t cap, uint64_t h)
{
    size_t i = home(h, cap);
    while (table[i])
        i = (i + 1) & (cap - 1);
    table[i] = h;
}

static void resize(struct slot_index *x, struct slot_keys *k, uint32_t cap)
{
    uint64_t *t = alloc_zero(x, (size_t)cap * sizeof(uint64_t));
    for (uint32_t i = 0; i < k->cap; i++)
        if (k->h[i])
            put(t, cap, k->h[i]);
    mi_free(k->h);
    x->bytes += (size_t)cap * sizeof(uint64_t);
    x->bytes -= (size_t)k->cap * sizeof(uint64_t);
    k->h = t;
    k->cap = cap;
}

void slot_index_add(struct slot_index *x, unsigned slot, uint64_t h)
{
    struct slot_keys *k = &x->slots[slot];
    if ((size_t)(k->n + 1) * 4 > (size_t)k->cap * 3)
        resize(x, k, k->cap ? k->cap * 2 : MIN_CAP);
    put(k->h, k->cap, norm(h));
    k->n++;
}

void slot_index_remove(struct slot_index *x, unsigned slot, uint64_t h)
{
    struct slot_keys *k = &x->slots[slot];
    if (k->n == 0)
        return;
    h = norm(h);
    uint32_t mask = k->cap - 1;
    size_t i = home(h, k->cap);
    while (k->h[i] != h) {
        if (!k->h[i])
            return;
        i = (i + 1) & mask;
    }
    /* backward-shift deletion: move later members of the run up into the
     * hole when their home is not between the hole and them */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; k->h[j]; j = (j + 1) & mask) {
        size_t want = home(k->h[j], k->cap);
        bool stays = hole <= j ? (want > hole && want <= j) : (want > hole || want <= j);
        if (!stays) {
            k->h[hole] = k->h[j];
            hole = j;
        }
    }
    k->h[hole] = 0;
    k->n--;
    if (k->n == 0) {
        mi_free(k->h);
        x->bytes -= (size_t)k->cap * sizeof(uint64_t);
        k->h = NULL;
        k->cap = 0;
    } else if (k->cap > MIN_CAP * 2 && (size_t)k->n * 8 < k->cap) {
        resize(x, k, k->cap / 2); /* a slot whose keys went (moved away) */
    }
}

size_t slot_index_count(const struct slot_index *x, unsigned slot)
{
    return x->slots[slot].n;
}

size_t slot_index_span(const struct slot_index *x, unsigned slot)
{
    return x->slots[slot].cap;
}

int slot_index_at(const struct slot_index *x, unsigned slot, size_t pos, uint64_t *h)
{
    uint64_t v = x->slots[slot].h[pos];
    *h = v;
    return v != 0;
}

size_t slot_index_memory(const struct slot_index *x)
{
    return sizeof(*x) + x->bytes;
}

size_t slot_index_table_bytes(const struct slot_index *x)
{
    return x->bytes;
}
