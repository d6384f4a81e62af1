/* zset: the value object of a Redis sorted set (distinct binary-safe
 * members, each with a double score; ordered by score, then by member
 * bytes), owned by one store entry.
 *
 * Two encodings, as Redis 7 names them for OBJECT ENCODING:
 *  - listpack: small sorted sets (at most max_listpack_entries members of
 *    at most max_listpack_value bytes): one allocation, a 4-byte header
 *    and the elements in order, each its member's length, its bytes and
 *    its score in as few bytes as it takes (a whole score 0..127 in one);
 *    zset.c has the layout. Walked forwards only: a descending walk
 *    (zset_iter) goes forward from marks it keeps;
 *  - skiplist: past those, for good: Redis's name for what is here an
 *    order-statistic B+tree (nodes keep their children's element counts:
 *    ranks and counts below a bound in O(log n); zset.c says why), and a
 *    chained hash table (ctab.h) from member to its score, one allocation
 *    per member that the tree points at.
 *
 * Memory: every allocation goes through the store's allocator, so
 * store_used_memory counts it exactly. A zset holds at most 2^31 - 1
 * members (its count shares a 32-bit word with the encoding); a listpack
 * past 1 GB converts whatever the limits say, as Redis's does.
 *
 * Scores are never NaN (callers refuse them). Members handed out are slices
 * valid until the next change to the zset. Ranks are 0-based, ascending. */
#ifndef RINGKV_ZSET_H
#define RINGKV_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

struct store;
struct zset;

struct zset_limits {
    size_t max_listpack_entries;
    size_t max_listpack_value;
};
extern const struct zset_limits zset_default_limits; /* 128 / 64, Redis's defaults */

/* Shortest text that reads back as exactly d ("1.5", "inf", "-inf"), as
 * scores are replied and journaled; buf holds at least ZSET_SCORE_TEXT. */
#define ZSET_SCORE_TEXT 40
size_t zset_format_score(char *buf, double d);

/* A new empty zset for about size_hint members, the longest max_member
 * bytes (listpack if both fit the limits, else skiplist). */
struct zset *zset_create(struct store *s, size_t size_hint, size_t max_member, const struct zset_limits *lim);
void zset_destroy(struct store *s, struct zset *z);
/* Free up to *budget allocations; true when z is entirely freed. */
bool zset_free_step(struct store *s, struct zset *z, size_t *budget);

size_t zset_len(const struct zset *z);
/* Bytes z takes (store_object_memory says how; samples as there): a
 * skiplist's members are its table's nodes, plus the tree's nodes. */
size_t zset_memory(const struct zset *z, size_t samples);
/* "listpack" or "skiplist". */
const char *zset_encoding(const struct zset *z);
/* z as a skiplist, whatever the limits (for good; z itself if it is one
 * already): what Redis's SORT does to a sorted set it reads. */
struct zset *zset_to_skiplist(struct store *s, struct zset *z);

bool zset_score(const struct zset *z, struct slice member, double *score);
/* Set member's score (adding it when absent); true if it was added. The
 * zset may move (a listpack shares its header's allocation): *zp is
 * updated, and an entry holding it must be told (store_object_changed). */
bool zset_set(struct store *s, struct zset **zp, struct slice member, double score, const struct zset_limits *lim);
/* zset_set telling what it did, with the one lookup of member: ZADD
 * without NX/XX/GT/LT/INCR, which needs no current score to decide, counts
 * the members added and (CH) changed from it. */
enum zset_put_result { ZSET_SAME, ZSET_ADDED, ZSET_UPDATED };
enum zset_put_result zset_put(struct store *s, struct zset **zp, struct slice member, double score,
                              const struct zset_limits *lim);
/* true if member was removed. May move the zset, as zset_set. */
bool zset_remove(struct store *s, struct zset **zp, struct slice member);

/* member's rank (ascending), false when absent. */
bool zset_rank(const struct zset *z, struct slice member, size_t *rank);
/* How many elements sort before a score bound: those with a score below
 * v, or with or_equal at most v. A score range [min, max] is the ranks
 * [count_below(min, min exclusive), count_below(max, max inclusive)). */
size_t zset_count_below(const struct zset *z, double v, bool or_equal);
/* The same by member bytes (for a zset whose scores are all equal, as
 * Redis's lex ranges assume). */
size_t zset_count_below_lex(const struct zset *z, struct slice v, bool or_equal);

/* Walking in order from a rank, ascending or (rev) descending; rank counts
 * from the walk's start (rev: 0 is the highest). */
#define ZSET_ITER_MARKS 32
struct zset_iter {
    const struct zset *z;
    const void        *node; /* skiplist: the leaf (off: the place in it) */
    size_t             off;  /* listpack: offset of the next element */
    size_t             left;
    bool               rev;
    /* A listpack walked descending: its elements say nothing of where the
     * one before starts, so zset_iter_at keeps the offset of every
     * stride-th element up to the start (marks), and each step goes
     * forward from the mark at or before the element it wants: at most
     * stride - 1 elements skipped, stride 1..4 within the default 128. */
    size_t             pos;      /* the next element's position (ascending) */
    size_t             stride;
    uint32_t           mark[ZSET_ITER_MARKS];
};
void zset_iter_at(const struct zset *z, size_t rank, bool rev, struct zset_iter *it);
bool zset_iter_next(struct zset_iter *it, struct slice *member, double *score);

typedef void zset_visit_fn(void *arg, struct slice member, double score);
/* ZSCAN: a listpack visited whole (next cursor 0); a skiplist by its
 * table's reverse-binary cursor, about count members per call. */
uint64_t zset_scan(const struct zset *z, uint64_t cursor, size_t count, zset_visit_fn *fn, void *arg);

struct zset *zset_dup(struct store *s, const struct zset *z);

/* Flat form for cross-shard copies: u8 encoding, u32 count, then for each
 * element in order a double score, u32 length and bytes; decoded into the
 * same encoding, NULL when the bytes are not such a form. */
void zset_encode(const struct zset *z, struct buf *out);
struct zset *zset_decode(struct store *s, const char *p, size_t n);

#endif
