/* list: the value object of a Redis list (a sequence of binary-safe
 * elements, pushed and popped at both ends), owned by one store entry.
 *
 * Elements are written back to back as [varint length][bytes][varint
 * back-length] (the back-length lets them be walked from the end, so both
 * ends cost O(1)). Two forms, as Redis 7.2's OBJECT ENCODING names them:
 *  - "listpack": a small list is one allocation, a small header and its
 *    elements, as Redis's listpack object is;
 *  - "quicklist": in the manner of Redis's quicklist, a header and a
 *    doubly linked chain of compact nodes, each one allocation. A node
 *    holds at most list-max-listpack-size elements (a positive limit) or
 *    bytes (-1..-5: 4, 8, 16, 32, 64 KB); an element longer than that gets
 *    a node of its own. Positions are found by skipping whole nodes by
 *    their counts from the nearer end.
 * A list is a listpack while it is within that limit, becomes a quicklist
 * once a write takes it past it, and a listpack again when it shrinks to
 * one node of at most half the limit. With list-compress-depth d > 0 a
 * quicklist's nodes past the first d and before the last d are kept
 * LZF-compressed, as Redis's are (list.c says how).
 *
 * The list moves: a listpack grows and shrinks by reallocation, and a
 * change of form is a new allocation. The calls that change a list take
 * its address (struct list **) and update it; an entry holding the list
 * must then be told (store_object_changed). Everything is allocated
 * through the store's allocator, so store_used_memory counts it exactly.
 *
 * Element slices handed out point into the list, or into a per-thread
 * buffer a compressed node was decompressed into: they stay valid until
 * the next change to the list and until the second read after (a walk's
 * slice stays valid while it steps on once; the next element is then read
 * before the one after that). */
#ifndef RINGKV_LIST_H
#define RINGKV_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

struct store;
struct list;
struct list_node;

/* list-max-listpack-size and list-compress-depth as Redis reads them. */
struct list_limits {
    long long fill;
    long long compress; /* nodes kept plain at each end (0: none compressed); taken when a list becomes a quicklist */
};
extern const struct list_limits list_default_limits; /* -2: 8 KB nodes; 0: no compression */

/* A new empty list (a listpack). */
struct list *list_create(struct store *s);
void list_destroy(struct store *s, struct list *l);
/* Free up to *budget nodes, counting them off; true when l is entirely
 * freed (for freeing a big list in slices). */
bool list_free_step(struct store *s, struct list *l, size_t *budget);

size_t list_len(const struct list *l);
/* Bytes l takes: a listpack its one allocation; a quicklist its header
 * and its nodes, the average of the first `samples` nodes (0: all) times
 * their number. */
size_t list_memory(const struct list *l, size_t samples);
/* "listpack" or "quicklist". */
const char *list_encoding(const struct list *l);

/* Add v at the head (LPUSH) or the tail (RPUSH). */
void list_push(struct store *s, struct list **lp, bool head, struct slice v, const struct list_limits *lim);
/* The element at the head or the tail; l not empty. */
struct slice list_peek(const struct list *l, bool head);
/* Remove the element at the head or the tail; l not empty. */
void list_pop(struct store *s, struct list **lp, bool head);

/* The element at index (0-based from the head; negative from the tail, as
 * LINDEX); false when out of range. */
bool list_index(const struct list *l, long long index, struct slice *out);

/* A position in the list for walking it either way. */
struct list_iter {
    const struct list      *l;
    struct list_node       *node;   /* a quicklist's node it is in (NULL in a listpack) */
    const char             *data;   /* the elements it walks (NULL: past an end) */
    size_t                  bytes;  /* their bytes */
    size_t                  off;    /* byte offset of the element in data */
    size_t                  index;  /* its index in the list */
};
/* Position it at index (0 <= index < len). */
void list_iter_at(const struct list *l, size_t index, struct list_iter *it);
/* The element at it; then step forward or back. False when past an end. */
bool list_iter_next(struct list_iter *it, struct slice *out);
bool list_iter_prev(struct list_iter *it, struct slice *out);

/* Insert v before the element at index (index == len: at the tail). */
void list_insert(struct store *s, struct list **lp, size_t index, struct slice v, const struct list_limits *lim);
/* Replace the element at index (0 <= index < len). */
void list_replace(struct store *s, struct list **lp, size_t index, struct slice v, const struct list_limits *lim);
/* Remove n elements from index on (index + n <= len). */
void list_delete_range(struct store *s, struct list **lp, size_t index, size_t n);
/* LREM: remove elements equal to v: every one (count 0), the first count
 * from the head (count > 0) or the last -count from the tail (count < 0).
 * Returns how many were removed. */
size_t list_remove(struct store *s, struct list **lp, struct slice v, long long count);

/* A copy, for COPY. */
struct list *list_dup(struct store *s, const struct list *l);

typedef void list_visit_fn(void *arg, struct slice v);
/* Elements from index start on, at most count of them, head to tail;
 * returns the index after the last visited (len when done). */
size_t list_visit(const struct list *l, size_t start, size_t count, list_visit_fn *fn, void *arg);

/* Flat form for cross-shard copies: u32 count then u32 length + bytes of
 * each element; list_decode returns NULL for bytes not of that form. */
void list_encode(const struct list *l, struct buf *out);
struct list *list_decode(struct store *s, const char *p, size_t n);

#endif
