/* watch: WATCH's table on each shard (optimistic transactions, Redis's
 * check-and-set). For each key a client watches, on the shard that owns
 * the key: the ids of the clients watching it, each with whether the key
 * has changed since it began watching (touched) and whether the key was
 * live then (existed).
 *
 * Every change the store makes to a key marks its watchers touched: a
 * command's write (a SET to the same value too, as in Redis), expiry,
 * eviction, a write replicated from our master (the store's change hook,
 * shard.c). A flush touches the watchers of keys that were live when they
 * began watching, as Redis's FLUSHALL does (a key that did not exist and
 * still does not has not changed); a replica's full sync touches every
 * watcher. A key that was live when watched and reads as missing at the
 * check changed too (it expired meanwhile, on a replica without a DEL
 * from its master yet). A key that had expired before it was watched and
 * is then deleted by the store has not changed, as in Redis.
 *
 * The connection's shard keeps which keys its client watches (the
 * session, shards/watched.c) and forgets them here when it is done
 * (EXEC, DISCARD, UNWATCH, RESET, the connection closing): the table
 * holds no more than what open connections watch. */
#ifndef RINGKV_WATCH_H
#define RINGKV_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include "core/command.h"
#include "shards/store/store.h"

struct shard;

/* A watched key is a key of one database: (db, key). Its name, in the
 * table here and in the session's list (shards/watched.c) and the messages
 * between them, is the database's number (WATCH_DB_BYTES bytes) followed
 * by the key, so a write to the same key in another database touches
 * nothing. */
#define WATCH_DB_BYTES 4
/* name's key (for its slot and shard, key locks) and database */
static inline struct slice watch_key_of(struct slice name)
{
    return (struct slice){ name.ptr + WATCH_DB_BYTES, name.len - WATCH_DB_BYTES };
}
static inline int watch_db_of(struct slice name)
{
    int32_t db;
    __builtin_memcpy(&db, name.ptr, sizeof(db));
    return db;
}

/* Client `id` watches key of database db on this shard from now on;
 * existed: the key is live now. A key it watches already keeps its state
 * (Redis: WATCH of a watched key changes nothing). */
void watch_add(struct shard *sh, int db, struct slice key, uint64_t id, bool existed);

/* Has any of names[0..n) (watched keys' names, above) changed since client id began watching it here?
 * A key it does not watch here counts as changed (cannot happen: a
 * connection's WATCH reaches the shard before its EXEC does). */
bool watch_touched(struct shard *sh, const struct slice *keys, int n, uint64_t id, int64_t now_ms);

/* Client id no longer watches names[0..n) here. */
void watch_forget(struct shard *sh, const struct slice *keys, int n, uint64_t id);

/* The store changed (its change hook): touch the key's watchers (of the
 * record's database; a flush: of that database's keys). */
void watch_changed(struct shard *sh, const struct journal_record *rec);

/* SWAPDB swapped databases a and b here: the watchers of a key of either
 * that exists in either are touched (Redis's touchAllWatchedKeysInDb). */
void watch_dbs_swapped(struct shard *sh, int a, int b, int64_t now_ms);

/* The store was replaced whole (a replica's full sync): every watcher of
 * this shard is touched. */
void watch_flushed(struct shard *sh);

/* The shard's table: created on first use, freed with the shard. */
void watch_free(struct shard *sh);

#endif
