/* hash: the value object of a Redis hash (field -> value, both binary safe),
 * owned by one store entry.
 *
 * Two encodings, as Redis names them for OBJECT ENCODING:
 *  - listpack: while the hash is small (at most max_listpack_entries fields,
 *    every field and value at most max_listpack_value bytes), one buffer of
 *    [varint length][bytes] elements, field then value, in insertion order;
 *    lookups walk it. A few bytes of overhead per element.
 *  - hashtable: past either limit, for good (as Redis, it never converts
 *    back): chained buckets over a power-of-two array, one allocation per
 *    field holding the field and its value, keyed by the store's seeded
 *    hash of the field.
 *
 * Memory: every allocation goes through the store's allocator
 * (store_alloc/store_realloc/store_free), so store_used_memory counts it
 * exactly. A hash never outlives its store.
 *
 * Slices handed out (hash_get, visits) point into the hash and stay valid
 * until the next change to it (which may also move the hash itself). */
#ifndef RINGKV_HASH_H
#define RINGKV_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

struct store;
struct hash;

/* When a listpack becomes a hashtable (hash-max-listpack-entries/-value). */
struct hash_limits {
    size_t max_listpack_entries;
    size_t max_listpack_value;
};
extern const struct hash_limits hash_default_limits; /* 128 / 64, Redis's defaults */

struct hash *hash_create(struct store *s);
/* Free at once. */
void hash_destroy(struct store *s, struct hash *h);
/* Free up to *budget allocations of h, counting them off *budget; true when
 * h is entirely freed (h is then gone). For freeing a big hash in slices. */
bool hash_free_step(struct store *s, struct hash *h, size_t *budget);

size_t hash_len(const struct hash *h);
/* Memory the hash holds (MEMORY USAGE): exact for a listpack; for a
 * table, its fields sampled (the first `samples`, 0: all; ctab_memory). */
size_t hash_memory(const struct hash *h, size_t samples);
bool   hash_is_listpack(const struct hash *h);

/* The value of field, or false if absent. */
bool hash_get(const struct hash *h, struct slice field, struct slice *value);
/* Set field to value: true if the field is new. Converts to a hashtable
 * past the limits. The hash may move (its header and a listpack are one
 * allocation): *hp is updated, and an entry holding it must be told
 * (store_object_changed). */
bool hash_set(struct store *s, struct hash **hp, struct slice field, struct slice value,
              const struct hash_limits *lim);
/* Remove field: true if it was there. May move the hash, as hash_set. */
bool hash_delete(struct store *s, struct hash **hp, struct slice field);

typedef void hash_visit_fn(void *arg, struct slice field, struct slice value);
/* Every field, in the encoding's order. */
void hash_foreach(const struct hash *h, hash_visit_fn *fn, void *arg);
/* HSCAN: a listpack is visited whole (next cursor 0, as Redis); a
 * hashtable by buckets in reverse-binary cursor order, so a field present for
 * the whole scan is visited at least once even if the table is resized.
 * Visits about count fields; returns the next cursor (0: done). */
uint64_t hash_scan(const struct hash *h, uint64_t cursor, size_t count, hash_visit_fn *fn, void *arg);
/* A field picked at random with rnd (uniform enough for HRANDFIELD); h not empty. */
void hash_random(const struct hash *h, uint64_t (*rnd)(void *), void *rarg,
                 struct slice *field, struct slice *value);

/* A copy (same encoding), for COPY. */
struct hash *hash_dup(struct store *s, const struct hash *h);

/* A flat form for moving a hash between stores of this process (the
 * cross-shard commands' copies): u8 encoding, u32 count, then u32 length +
 * bytes of each field and value; decoded into the same encoding. hash_decode
 * returns NULL if the bytes are not that form. */
void hash_encode(const struct hash *h, struct buf *out);
struct hash *hash_decode(struct store *s, const char *p, size_t n);

#endif
