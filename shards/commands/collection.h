/* collection: the steps every collection command (hash.c, set.c, list.c,
 * zset.c) takes around its type's own work: finding the key's object with
 * Redis's WRONGTYPE check, handing the object back to the store after a
 * write, and the blocking forms' timeout argument. */
#ifndef RINGKV_COMMANDS_COLLECTION_H
#define RINGKV_COMMANDS_COLLECTION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/command.h"
#include "shards/store/store.h"

/* The object of type t at key (found, so lazily expired) in *obj, or NULL
 * with *e NULL when the key is missing. Replies WRONGTYPE and returns false
 * for a key of another type. */
bool collection_find(struct exec_ctx *ctx, struct slice key, enum value_type t, struct entry **e, void **obj);

/* After a write to obj (new when e is NULL): hand a new object to the
 * store, journal a change to an existing one, or delete the key once the
 * object is empty (a new empty one is destroyed). */
void collection_written(struct exec_ctx *ctx, struct slice key, enum value_type t, struct entry *e, void *obj);

/* Redis's timeout argument of the blocking pops: float seconds, 0 =
 * forever. The deadline in unix ms (0: none), or false with the error
 * replied. */
bool collection_timeout(struct exec_ctx *ctx, struct slice arg, int64_t *deadline);

#endif
