/* staging: big collections arriving in parts, held aside on the shard
 * that owns their key until the last part comes (RINGKV-RESTOREPART,
 * shards/commands/dump.c; the sender is a slot move's source,
 * shards/commands/migrate_slots.c).
 *
 * A staged collection is outside the keyspace: no command, no scan, no
 * snapshot, no DUMP, no MIGRATE (the rollback of an unfinished move)
 * sees it, so nothing can take a partial collection for the whole value.
 * Each is keyed by the key's name (the source sends a key's parts one
 * after the other, each once the one before is acknowledged, possibly on
 * different links; only one push has a key in flight at a time). The
 * client that sent the first part is noted (sender). Its object is allocated from the shard's store
 * (counted in used_memory) and built by the same code as a RESTORE's
 * (shards/store/serialize.h, decoded_value_add_to); the last part moves
 * it under the key in O(1) (store_set_object, REPLACE semantics).
 *
 * One dropped: a first part for the same key (the move started over),
 * a bad part, no part for STAGING_IDLE_MS (its sender went away: the
 * source died, or the move was given up; the source still has the key,
 * it deletes it only once the last part is acknowledged), or, at the
 * next tick, its slot no longer imported here (the node's key gate would
 * answer its next part -MOVED: the move was given up, SETSLOT STABLE as
 * `ringkv-cluster --abort` sends it; no part can complete it). Freed as
 * a deleted key's value is (in slices, store_object_release).
 *
 * Per shard, on the shard's own thread (thread-local). */
#ifndef RINGKV_STAGING_H
#define RINGKV_STAGING_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "shards/store/store.h"

struct shard;

/* No part for this long: its sender is taken to be gone. Tests set
 * another bound (DEBUG SET-STAGING-IDLE: the node's staging_idle_ms) to
 * see the drop without waiting for this one. */
#define STAGING_IDLE_MS 30000

struct staged {
    struct staged  *next;
    enum value_type type;
    void           *object;  /* in the shard's store */
    uint64_t        sender;  /* the client id that sent the first part */
    int64_t         last_ms; /* the last part's time */
    int             slot;    /* the key's (cluster mode) */
    size_t          klen;
    char            key[];
};

/* key's staged collection on this shard, or NULL. */
struct staged *staging_find(struct shard *sh, struct slice key);

/* A new one for key (none must be staged for it: staging_drop first),
 * holding obj (of type t, built in the shard's store: it is the staging's
 * from now on). */
struct staged *staging_start(struct shard *sh, struct slice key, uint64_t sender, enum value_type t, void *obj,
                             int64_t now_ms);

/* Forget st, its object freed (in slices if big). */
void staging_drop(struct shard *sh, struct staged *st);

/* Forget st and hand its object to the caller (it is installed under the
 * key). */
void *staging_take(struct shard *sh, struct staged *st);

/* Collections staged on this shard now (also the shard's stats.staged_keys,
 * INFO's migrate_staged_keys). */
size_t staging_count(struct shard *sh);

/* Every tick: those with no part for STAGING_IDLE_MS (or the node's
 * staging_idle_ms when set), and those whose slot the node's key gate
 * would now send elsewhere, are dropped. */
void staging_tick(struct shard *sh, int64_t now_ms);

/* The shard stops: every staged collection freed, before its store goes. */
void staging_teardown(struct shard *sh);

#endif
