/* set: the value object of a Redis set (distinct binary-safe members),
 * owned by one store entry.
 *
 * Three encodings, as Redis 7.2 names them for OBJECT ENCODING:
 *  - intset: while every member is the canonical text of a 64-bit integer
 *    and there are at most max_intset_entries: a sorted array of integers
 *    of the narrowest width (2, 4 or 8 bytes) that holds them all;
 *  - listpack: small sets with other members (at most max_listpack_entries
 *    members of at most max_listpack_value bytes): one buffer of [varint
 *    length][bytes] elements;
 *  - hashtable: past those, for good: chained buckets, one allocation per
 *    member, keyed by the store's seeded hash.
 * An intset past its limit becomes a hashtable; an intset given another
 * member becomes a listpack if that fits, else a hashtable (as Redis 7.2).
 *
 * Memory: every allocation goes through the store's allocator, so
 * store_used_memory counts it exactly.
 *
 * Members handed out are slices valid until the next change to the set; an
 * intset's members are written as text into storage the call provides (a
 * visit's slice is valid during the visit only). */
#ifndef RINGKV_SET_H
#define RINGKV_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

struct store;
struct set;

struct set_limits {
    size_t max_intset_entries;
    size_t max_listpack_entries;
    size_t max_listpack_value;
};
extern const struct set_limits set_default_limits; /* 512 / 128 / 64, Redis's defaults */

/* Text of an integer member: at most 20 bytes and a sign. */
#define SET_INT_TEXT 24

/* A new empty set for about size_hint members whose first is first (the
 * encoding Redis would pick: intset for an integer, listpack if the hint
 * fits, else hashtable). */
struct set *set_create(struct store *s, struct slice first, size_t size_hint, const struct set_limits *lim);
void set_destroy(struct store *s, struct set *set);
/* Free up to *budget allocations; true when set is entirely freed. */
bool set_free_step(struct store *s, struct set *set, size_t *budget);

size_t set_len(const struct set *set);
/* Memory the set holds (MEMORY USAGE): exact for an intset or listpack;
 * for a table, its members sampled (the first `samples`, 0: all). */
size_t set_memory(const struct set *set, size_t samples);
/* "intset", "listpack" or "hashtable". */
const char *set_encoding(const struct set *set);

bool set_contains(const struct set *set, struct slice member);
/* true if member was added (was not there). The set may move (a compact
 * encoding shares its header's allocation): *sp is updated, and an entry
 * holding it must be told (store_object_changed). */
bool set_add(struct store *s, struct set **sp, struct slice member, const struct set_limits *lim);
/* true if member was removed. May move the set, as set_add. */
bool set_remove(struct store *s, struct set **sp, struct slice member);

typedef void set_visit_fn(void *arg, struct slice member);
void set_foreach(const struct set *set, set_visit_fn *fn, void *arg);
/* SSCAN: intset and listpack visited whole (next cursor 0); a hashtable by
 * reverse-binary cursor, about count members per call. */
uint64_t set_scan(const struct set *set, uint64_t cursor, size_t count, set_visit_fn *fn, void *arg);
/* A member picked at random with rnd; set not empty. An intset's member is
 * written to text (SET_INT_TEXT bytes). */
struct slice set_random(const struct set *set, uint64_t (*rnd)(void *), void *rarg, char *text);

struct set *set_dup(struct store *s, const struct set *set);

/* Flat form for cross-shard copies: u8 encoding, u32 count, then u32
 * length + bytes of each member; decoded into the same encoding. */
void set_encode(const struct set *set, struct buf *out);
struct set *set_decode(struct store *s, const char *p, size_t n);

#endif
