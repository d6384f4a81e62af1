/* lru_sim: see lru_sim.h. */
#include "lru_sim.h"

#include <stdlib.h>

int lru_sim_init(struct lru_sim *s, uint64_t capacity, uint64_t keys)
{
    *s = (struct lru_sim){ .capacity = capacity, .head = LRU_NONE, .tail = LRU_NONE };
    if (keys == 0 || keys >= (1ull << 31))
        return -1;
    s->keys = (uint32_t)keys;
    s->prev = malloc(keys * sizeof *s->prev);
    s->next = malloc(keys * sizeof *s->next);
    s->cached = calloc(keys, 1);
    if (!s->prev || !s->next || !s->cached) {
        lru_sim_deinit(s);
        return -1;
    }
    return 0;
}

void lru_sim_deinit(struct lru_sim *s)
{
    free(s->prev);
    free(s->next);
    free(s->cached);
    s->prev = s->next = NULL;
    s->cached = NULL;
}

static void unlink_key(struct lru_sim *s, uint32_t k)
{
    uint32_t p = s->prev[k], n = s->next[k];
    if (p != LRU_NONE) s->next[p] = n; else s->head = n;
    if (n != LRU_NONE) s->prev[n] = p; else s->tail = p;
}

static void push_head(struct lru_sim *s, uint32_t k)
{
    s->prev[k] = LRU_NONE;
    s->next[k] = s->head;
    if (s->head != LRU_NONE) s->prev[s->head] = k;
    s->head = k;
    if (s->tail == LRU_NONE) s->tail = k;
}

void lru_sim_access(struct lru_sim *s, uint32_t key, bool write)
{
    if (key >= s->keys)
        return;
    if (s->cached[key]) {
        if (!write)
            s->hits++;
        if (s->head != key) {
            unlink_key(s, key);
            push_head(s, key);
        }
        return;
    }
    if (!write) {
        s->misses++;
        return;
    }
    if (s->capacity == 0)
        return;
    if (s->size >= s->capacity) {
        uint32_t victim = s->tail;
        unlink_key(s, victim);
        s->cached[victim] = 0;
        s->size--;
    }
    push_head(s, key);
    s->cached[key] = 1;
    s->size++;
}

double lru_sim_hit_ratio(const struct lru_sim *s)
{
    uint64_t reads = s->hits + s->misses;
    return reads ? (double)s->hits / (double)reads : -1.0;
}
