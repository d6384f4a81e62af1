/* ctab: the chained hash table of a collection's hashtable encoding (a
 * hash's fields, a set's members), resized incrementally so that no
 * single command pays for rehashing a big collection.
 *
 * Nodes are the caller's allocations whose first member is the chain link
 * (struct ctab_node); the table finds a node's key through the key function
 * given at init, and hashes it with the store's seeded hash. Growth (at one
 * node per bucket) and shrinking (below one per eight) start a rehash into
 * a second bucket array; every add and unlink then moves a bucket or two
 * (as Redis's dict does), and lookups look in both arrays meanwhile.
 *
 * Memory: bucket arrays come from the store's allocator; nodes are the
 * caller's, also from it (ctab_free_step frees them with store_free). */
#ifndef RINGKV_CTAB_H
#define RINGKV_CTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

struct store;

struct ctab_node {
    struct ctab_node *next;
};

typedef struct slice ctab_key_fn(const struct ctab_node *n);

struct ctab {
    struct ctab_node **b[2];   /* b[1] only while rehashing */
    uint32_t           size[2];
    uint32_t           cap[2];  /* buckets allocated (size shrinks as ctab_free_step frees) */
    uint32_t           used[2];
    uint32_t           idx;     /* next bucket of b[0] to move */
    ctab_key_fn       *key;
};

/* An empty table of at least size buckets. */
void ctab_init(struct store *s, struct ctab *t, size_t size, ctab_key_fn *key);
size_t ctab_count(const struct ctab *t);

/* The link that points to key's node (*link is the node), or NULL if the key
 * is absent. Valid until the next ctab_add/ctab_unlink. */
struct ctab_node **ctab_find(const struct ctab *t, struct slice key);
/* Add node, whose key is not in the table. */
void ctab_add(struct store *s, struct ctab *t, struct ctab_node *node);
/* Take the node at link (from ctab_find) out of the table; the caller frees
 * it. */
void ctab_unlink(struct store *s, struct ctab *t, struct ctab_node **link);

/* Memory the table holds (MEMORY USAGE): its bucket arrays, and its nodes
 * as the allocator sized them, the first `samples` nodes averaged over all
 * (samples 0: every node). */
size_t ctab_memory(const struct ctab *t, size_t samples);

typedef void ctab_visit_fn(void *arg, const struct ctab_node *n);
void ctab_foreach(const struct ctab *t, ctab_visit_fn *fn, void *arg);
/* SCAN's guarantee (a node present for the whole scan is visited at least
 * once) across growth, shrinking and rehashes in progress; about count nodes
 * per call; returns the next cursor (0: done). */
uint64_t ctab_scan(const struct ctab *t, uint64_t cursor, size_t count, ctab_visit_fn *fn, void *arg);
/* A node picked at random; the table is not empty. */
const struct ctab_node *ctab_random(const struct ctab *t, uint64_t (*rnd)(void *), void *rarg);

/* Free up to *budget nodes (counted off *budget), then the bucket arrays;
 * true when all is freed. */
bool ctab_free_step(struct store *s, struct ctab *t, size_t *budget);

#endif
