/* tracking: client-side caching (CLIENT TRACKING ON, Redis 7's default mode,
 * for RESP3 connections): who read which key, and the invalidation pushes
 * when a key changes.
 *
 * A key is tracked on the shard that owns it: for each key a tracking
 * client read there, the readers (client id, and the shard its connection
 * lives on). A read is recorded where it ran (run.c, after a read-only
 * command for a tracking caller); every change the store makes to a key (a
 * command's write, expiry, eviction, a write replicated from our master: the
 * store's change hook, shard.c) forgets the key and sends each reader's
 * shard an invalidation, which pushes `>2 invalidate [key]` to the
 * connection if it is still there and still tracking (a closed connection's
 * entries are dropped as their keys change or are evicted). A flush of the
 * store pushes `>2 invalidate (null)` to every tracking client of the node.
 * The table holds at most tracking-table-max-keys keys over the node (each
 * shard its share); past it, keys are evicted and invalidated, as Redis
 * does. */
#ifndef RINGKV_TRACKING_H
#define RINGKV_TRACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/command.h"
#include "shards/store/store.h"

struct shard;
struct tracking;

/* The shard's table: created on first use, freed with the shard. */
void tracking_free(struct shard *sh);

/* A read-only command ran on this shard's store for a tracking client
 * (client id `id`, connection on shard `home`): remember its keys. */
void tracking_read(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv,
                   uint64_t id, int home);

/* The store changed (its change hook): invalidate the key's readers, or
 * every tracking client on a flush. */
void tracking_changed(struct shard *sh, const struct journal_record *rec);

/* The store was replaced whole (a replica's full sync): every tracking
 * client's cache is stale. */
void tracking_flushed(struct shard *sh);

/* CLIENT TRACKING ON|OFF, RESET, a closed connection: c (a connection of
 * shard sh, NULL outside a shard) tracks or not; counted in the shard's
 * stats (INFO tracking_clients). */
struct client;
void tracking_client_set(struct shard *sh, struct client *c, bool on);

/* Keys tracked on this shard (INFO tracking_total_keys). */
size_t tracking_keys(const struct shard *sh);

#endif
