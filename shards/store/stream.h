/* stream: the value object of a Redis stream (an append-only log of
 * entries, each an ID and a list of field-value pairs), owned by one store
 * entry.
 *
 * An ID is two unsigned 64-bit numbers, ms-seq, compared as a pair. Every
 * entry's ID is greater than the one before it: XADD appends at the tail,
 * always. Entries are written back to back into nodes, each one
 * allocation, a new node begun when the tail one holds
 * stream-node-max-entries entries (deleted ones included) or its Redis
 * listpack would reach stream-node-max-bytes, as Redis decides (stream.c
 * sizes each entry as Redis's listpack lays it out, so nodes split where
 * Redis's do and approximate trims remove the same entries).
 *
 * The nodes are held in a vector ordered by their first ID (the "master
 * ID", as Redis keys its radix tree): appends only ever add at the end, so
 * a vector takes them in amortized O(1) and finds the node of an ID by
 * binary search in O(log n), as Redis's radix tree does, with one
 * allocation for the whole index and no per-node key. Trimming removes
 * nodes from the front, which only moves the vector's start. A node that
 * XDEL empties in the middle stays, empty, so the vector never shifts on a
 * delete; such nodes are dropped in one pass once they are half of all the
 * nodes (amortized O(1) per delete, and a walk skips at most as many empty
 * nodes as it visits full ones).
 *
 * A deleted entry is flagged, not removed, as in Redis: its node keeps its
 * bytes until every entry of the node is deleted. The stream keeps its
 * last ID (the greatest ever given, even once deleted), the number of
 * entries ever added, and the greatest ID XDEL removed.
 *
 * Memory: every allocation goes through the store's allocator, so
 * store_used_memory counts it exactly; stream_memory is the running total
 * of this stream's allocations. */
#ifndef RINGKV_STREAM_H
#define RINGKV_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

struct store;
struct stream;

struct stream_id {
    uint64_t ms, seq;
};

static inline int stream_id_cmp(struct stream_id a, struct stream_id b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}
static inline bool stream_id_is_zero(struct stream_id a) { return a.ms == 0 && a.seq == 0; }
/* The ID just after / before a: false at the greatest / at 0-0. */
bool stream_id_incr(struct stream_id *a);
bool stream_id_decr(struct stream_id *a);
/* "ms-seq" into buf (at least STREAM_ID_TEXT bytes); returns its length. */
#define STREAM_ID_TEXT 42
size_t stream_id_format(char *buf, struct stream_id id);

/* stream-node-max-bytes (0: no limit but 1 GB) and stream-node-max-entries
 * (0: no limit). */
struct stream_limits {
    long long node_max_bytes;
    long long node_max_entries;
};
extern const struct stream_limits stream_default_limits; /* 4096, 100 */

struct stream *stream_create(struct store *s);
void stream_destroy(struct store *s, struct stream *st);
/* Free up to *budget allocations, counting them off; true when st is
 * entirely freed. */
bool stream_free_step(struct store *s, struct stream *st, size_t *budget);

/* Live entries. */
size_t stream_len(const struct stream *st);
/* Bytes st takes: every allocation it holds (exact). */
size_t stream_memory(const struct stream *st);
/* Nodes holding entries (XINFO's radix-tree-keys). */
size_t stream_nodes(const struct stream *st);

struct stream_id stream_last_id(const struct stream *st);
struct stream_id stream_max_deleted_id(const struct stream *st);
uint64_t stream_entries_added(const struct stream *st);
/* The ID of the first / last live entry (false when st is empty). */
bool stream_first_entry_id(const struct stream *st, struct stream_id *id);
bool stream_last_entry_id(const struct stream *st, struct stream_id *id);
/* XSETID and decoding: set what the stream remembers beyond its entries
 * (the caller checked them against the entries, as XSETID does). */
void stream_set_meta(struct stream *st, struct stream_id last, uint64_t entries_added,
                     struct stream_id max_deleted);

/* Append an entry with id (greater than stream_last_id: the caller checked)
 * and nfields field-value pairs (fv[2i], fv[2i+1]; nfields >= 1). The last
 * ID becomes id and entries-added grows by one. */
void stream_append(struct store *s, struct stream *st, struct stream_id id, const struct slice *fv, size_t nfields,
                   const struct stream_limits *lim);

/* One live entry found by a walk: its ID and its pairs, read with
 * stream_entry_pair. Valid until the stream changes. */
struct stream_entry {
    struct stream_id id;
    size_t           nfields;
    const char      *pairs;
};
/* The i-th pair walked in order: *at starts at 0 and moves on. */
void stream_entry_pair(const struct stream_entry *e, size_t *at, struct slice *field, struct slice *value);

/* A walk over the live entries with IDs in [start, end], ascending or (rev)
 * descending. */
struct stream_iter {
    const struct stream *st;
    struct stream_id     start, end;
    bool                 rev;
    size_t               node;  /* index in the vector (relative to its start) */
    size_t               off;   /* byte offset in the node of the next entry to read
                                   (rev: the end of the next entry to read) */
    bool                 done;
};
void stream_iter_init(struct stream_iter *it, const struct stream *st, struct stream_id start, struct stream_id end,
                      bool rev);
bool stream_iter_next(struct stream_iter *it, struct stream_entry *out);

/* Delete the entry with id (XDEL): true if it was there and live. The
 * caller updates max-deleted-id (stream_note_deleted). */
bool stream_delete(struct store *s, struct stream *st, struct stream_id id);
/* XDEL's bookkeeping: the greatest deleted ID so far. */
void stream_note_deleted(struct stream *st, struct stream_id id);

/* XTRIM / XADD's trimming, as Redis's streamTrim: MAXLEN (keep at most
 * maxlen entries) or MINID (drop entries below minid); approx removes
 * whole nodes only; limit (0: none) bounds the entries removed (whole
 * nodes; Redis's LIMIT for ~). Returns the entries removed. */
enum stream_trim_strategy { STREAM_TRIM_MAXLEN, STREAM_TRIM_MINID };
size_t stream_trim(struct store *s, struct stream *st, enum stream_trim_strategy strategy, uint64_t maxlen,
                   struct stream_id minid, bool approx, long long limit);

/* A copy, for COPY. */
struct stream *stream_dup(struct store *s, const struct stream *st);

/* Flat form for cross-shard copies; stream_decode returns NULL for bytes
 * not of that form. */
void stream_encode(const struct stream *st, struct buf *out);
struct stream *stream_decode(struct store *s, const char *p, size_t n);

/* The size Redis's listpack gives an element: an integer's or a string's
 * (a string holding an integer's canonical text counts as that integer),
 * its back-length included. For writing and sizing Redis's node layout. */
size_t stream_lp_int_size(int64_t v);
size_t stream_lp_string_size(struct slice s);

/* The nodes, for writing Redis's layout (serialize.c): the i-th node of
 * the vector (false past the last), its master ID and its counts of live
 * and deleted entries (a node emptied by XDEL and not dropped yet has no
 * live one: skip it; stream_nodes counts the others); a walk over all its
 * entries, deleted ones too (*deleted says which). */
struct stream_node_view {
    struct stream_id master;
    uint32_t         live, deleted;
    const char      *data;
    size_t           bytes;
};
bool stream_node_at(const struct stream *st, size_t i, struct stream_node_view *v);
/* The entry at *off of a node (false past its end), and *off moved on. */
bool stream_node_entry(const struct stream_node_view *v, size_t *off, struct stream_entry *e, bool *deleted);


/* ---- consumer groups (stream_group.c) ----
 * A group has a name, the last ID delivered to it, its count of entries
 * read (-1: not known, as Redis's SCG_INVALID_ENTRIES_READ), its pending
 * entries list (PEL: the IDs delivered and not acknowledged, each with its
 * owner, the time of its last delivery and how many times it was
 * delivered) and its consumers, each with its own PEL. Both PELs are
 * treaps ordered by ID sharing their nodes (one allocation per pending
 * entry): a lookup, insertion or removal is O(log n) expected. Groups and
 * consumers are sorted vectors by name (few of them; Redis lists them in
 * name order too). */
#define STREAM_ENTRIES_READ_UNKNOWN (-1)

struct stream_consumer;
struct stream_nack {
    struct stream_id        id;
    int64_t                 delivery_time;  /* unix ms */
    uint64_t                delivery_count;
    struct stream_consumer *consumer;
    struct stream_nack     *link[2][2];     /* [0]: the group's treap, [1]: the consumer's; [l, r] */
    uint32_t                prio;
};

struct stream_consumer {
    struct stream_nack *pel;
    size_t              pel_count;
    int64_t             seen_time;  /* unix ms of its last interaction */
    size_t              name_len;
    char                name[];
};

struct stream_group {
    struct stream_id         last_id;
    int64_t                  entries_read;
    struct stream_nack      *pel;
    size_t                   pel_count;
    struct stream_consumer **consumers;
    size_t                   nconsumers, consumers_cap;
    size_t                   name_len;
    char                     name[];
};

size_t stream_groups(const struct stream *st);
struct stream_group *stream_group_at(const struct stream *st, size_t i);
struct stream_group *stream_group_find(const struct stream *st, struct slice name);
/* A new group (NULL if one has that name). */
struct stream_group *stream_group_create(struct store *s, struct stream *st, struct slice name, struct stream_id last,
                                         int64_t entries_read);
/* Remove a group with its consumers and PEL: false if there was none. */
bool stream_group_destroy(struct store *s, struct stream *st, struct slice name);

struct stream_consumer *stream_consumer_find(const struct stream_group *g, struct slice name);
/* A new consumer (NULL if the group has one of that name). */
struct stream_consumer *stream_consumer_create(struct store *s, struct stream *st, struct stream_group *g,
                                               struct slice name, int64_t now_ms);
/* Remove a consumer and its pending entries (from the group's PEL too);
 * returns how many it had. */
size_t stream_consumer_delete(struct store *s, struct stream *st, struct stream_group *g, struct stream_consumer *c);

/* The group's pending entry for id, or NULL. */
struct stream_nack *stream_pel_find(const struct stream_group *g, struct stream_id id);
/* The first pending entry at or after id: of the group, or of a consumer. */
struct stream_nack *stream_pel_from(const struct stream_group *g, struct stream_id id);
struct stream_nack *stream_consumer_pel_from(const struct stream_consumer *c, struct stream_id id);
/* The last pending entry at or before id, of the group. */
struct stream_nack *stream_pel_upto(const struct stream_group *g, struct stream_id id);
/* A new pending entry of c for id (not pending yet), delivered now, once. */
struct stream_nack *stream_pel_add(struct store *s, struct stream *st, struct stream_group *g,
                                   struct stream_consumer *c, struct stream_id id, int64_t delivery_time,
                                   uint64_t delivery_count);
/* Acknowledge: out of both PELs, freed. */
void stream_pel_remove(struct store *s, struct stream *st, struct stream_group *g, struct stream_nack *n);
/* Give a pending entry to another consumer. */
void stream_nack_move(struct stream_nack *n, struct stream_consumer *to);

/* Redis's streamEstimateDistanceFromFirstEverEntry: the number of entries
 * added up to id, if it can be known (else STREAM_ENTRIES_READ_UNKNOWN). */
int64_t stream_entries_before(const struct stream *st, struct stream_id id);
/* Redis's streamRangeHasTombstones: may entries in [start, end] have
 * been deleted? */
bool stream_range_has_tombstones(const struct stream *st, struct stream_id start, struct stream_id end);

/* Allocation for the groups' parts, counted with the stream. */
void *stream_mem_alloc(struct store *s, struct stream *st, size_t n);
void *stream_mem_realloc(struct store *s, struct stream *st, void *p, size_t n);
void stream_mem_free(struct store *s, struct stream *st, void *p);
/* (stream.c) the groups' vector, for stream_group.c */
struct stream_group ***stream_groups_vector(struct stream *st, size_t **n, size_t **cap);
void stream_groups_free(struct store *s, struct stream *st);

#endif
