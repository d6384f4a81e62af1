/* collection: the steps every collection command (hash.c, set.c, list.c,
 * zset.c) takes around its type's own work: finding the key's object with
 * Redis's WRONGTYPE check, handing the object back to the store after a
 * write, the blocking forms' timeout argument, and the arguments and
 * reply frame of HSCAN/SSCAN/ZSCAN. */
#ifndef RINGKV_COMMANDS_COLLECTION_H
#define RINGKV_COMMANDS_COLLECTION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/command.h"
#include "shards/store/list.h"
#include "shards/store/store.h"

/* The object of type t at key (found, so lazily expired) in *obj, or NULL
 * with *e NULL when the key is missing. Replies WRONGTYPE and returns false
 * for a key of another type. */
bool collection_find(struct exec_ctx *ctx, struct slice key, enum value_type t, struct entry **e, void **obj);

/* After a write to obj (new when e is NULL): hand a new object to the
 * store, journal a change to an existing one, or delete the key once the
 * object is empty (a new empty one is destroyed). */
void collection_written(struct exec_ctx *ctx, struct slice key, enum value_type t, struct entry *e, void *obj);

/* A new or growing list's limits: the node's list-max-listpack-size and
 * list-compress-depth (list.c; the defaults off a node, as in unit tests). */
struct list_limits list_limits_of(const struct exec_ctx *ctx);

/* Redis's timeout argument of the blocking pops: float seconds, 0 =
 * forever. The deadline in unix ms (0: none), or false with the error
 * replied. */
bool collection_timeout(struct exec_ctx *ctx, struct slice arg, int64_t *deadline);

/* The cursor argument of a SCAN-family command, read as Redis 7.0 reads it
 * (strtoull: "-1" is accepted and wraps), or false with "ERR invalid
 * cursor" replied. */
bool collection_scan_cursor(struct exec_ctx *ctx, struct slice arg, uint64_t *cursor);

/* HSCAN/SSCAN/ZSCAN's options after the cursor ([MATCH pattern] [COUNT
 * n], any order, repeated: the last wins): *count (10 when not given) and
 * *pattern (ptr NULL: every element, "*" too), or false with Redis's error
 * replied. Read after the key is found, as Redis does (a missing key
 * answers an empty scan whatever the options). */
bool collection_scan_options(struct exec_ctx *ctx, long long *count, struct slice *pattern);

/* The reply of a scan of a missing key: cursor 0, no elements. */
void collection_scan_reply_none(struct exec_ctx *ctx);

/* The start of a scan's reply: the two-element frame and the next cursor;
 * the caller then replies the elements' array. */
void collection_scan_reply_cursor(struct exec_ctx *ctx, uint64_t next);

#endif
