/* lru_sim: an exact LRU cache of a fixed number of keys, fed the same key
 * sequence the load generator sends, to say what hit ratio a perfect LRU
 * would reach next to the server's own (sampled) eviction.
 *
 * It models a cache the way a Redis-like server is used by the benchmark: a
 * write (SET, INCR, each MSET key) inserts or refreshes its key and may evict
 * the least recently used one; a read (GET, each MGET key) is a hit when the
 * key is cached (and refreshes it) and a miss otherwise (a miss inserts
 * nothing). Keys are the numbers [0, keys), so the "hash table" is a direct
 * array and the recency list is two index arrays: O(1) per access, 9 bytes
 * per key. Not thread-safe: callers feed it under a lock, in batches. */
#ifndef RINGKV_BENCH_LRU_SIM_H
#define RINGKV_BENCH_LRU_SIM_H

#include <stdbool.h>
#include <stdint.h>

struct lru_sim {
    uint64_t capacity;      /* keys the cache holds */
    uint32_t keys;          /* key space size */
    uint32_t size;          /* keys cached now */
    uint32_t head, tail;    /* most and least recently used; LRU_NONE if empty */
    uint32_t *prev, *next;
    uint8_t  *cached;
    uint64_t hits, misses;  /* of reads */
};

#define LRU_NONE UINT32_MAX

/* 0, or -1 if keys does not fit 31 bits or memory is short. */
int  lru_sim_init(struct lru_sim *s, uint64_t capacity, uint64_t keys);
void lru_sim_deinit(struct lru_sim *s);
void lru_sim_access(struct lru_sim *s, uint32_t key, bool write);
/* hits / (hits + misses), or -1 when there were no reads. */
double lru_sim_hit_ratio(const struct lru_sim *s);

#endif
