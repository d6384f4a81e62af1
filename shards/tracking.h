/* tracking: client-side caching (CLIENT TRACKING, Redis 7's modes): who
 * read which key, and the invalidations when a key changes.
 *
 * Default mode (and OPTIN/OPTOUT, which only choose which reads count): a
 * key is tracked on the shard that owns it: for each key a tracking client
 * read there, the readers (client id, and the shard its connection lives
 * on). A read is recorded where it ran (run.c, after a read-only command
 * whose caller tracks its reads: client_tracks); every change the store
 * makes to a key (a command's write, expiry, eviction, a write replicated
 * from our master: the store's change hook, shard.c) forgets the key and
 * sends each reader's shard an invalidation (a closed connection's entries
 * are dropped as their keys change or are evicted). The table holds at
 * most tracking-table-max-keys keys over the node (each shard its share);
 * past it, keys are evicted and invalidated, as Redis does.
 *
 * BCAST: every change of a key that starts with one of the node's BCAST
 * prefixes (tracking_node.h) is queued on the key's shard for each client
 * of the prefix, and each shard sends its queue once per loop turn, one
 * message per client and prefix to the client's shard: one push of
 * several keys, as Redis batches them per event loop turn.
 *
 * At the client's shard an invalidation goes to the connection itself
 * (`>2 invalidate [keys]`, RESP3), or with REDIRECT to the connection it
 * names, on any shard: a push if that one is RESP3, a `message` on
 * `__redis__:invalidate` if it is RESP2 in pub/sub mode; if it is gone, the
 * tracking client gets `>2 tracking-redir-broken <id>` instead (RESP3).
 * NOLOOP: a change made by the client's own command is not sent to it. A
 * flush of the store sends `invalidate` with a null to every tracking
 * client of the node. */
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

/* A command of a tracking client starts on this shard (id: its client
 * id), or it ended (0): the changes it makes name it (NOLOOP). */
void tracking_writer(struct shard *sh, uint64_t id);

/* CLIENT TRACKING ON|OFF, RESET, a closed connection: c (a connection of
 * shard sh, NULL outside a shard) tracks or not; counted in the shard's
 * stats (INFO tracking_clients). Off drops its options, redirection and
 * BCAST prefixes. */
struct client;
void tracking_client_set(struct shard *sh, struct client *c, bool on);

/* CLIENT TRACKING ON, checked: c tracks with `options` (TRACKING_BCAST,
 * _OPTIN, _OPTOUT, _NOLOOP), its invalidations going to client redir on
 * shard redir_shard (0: itself), and with BCAST its prefixes p[0..n) added
 * to those it has. */
void tracking_enable(struct shard *sh, struct client *c, uint64_t redir, int redir_shard, unsigned options,
                     const struct slice *p, int n);

/* The node-wide part and the shard module that sends BCAST's batches at
 * the end of each turn (main, before the node starts). */
struct node;
void tracking_attach(struct node *n);

/* A connection started on shard sh, or left it: the node's clients by id
 * (REDIRECT's target must exist). */
void tracking_conn_opened(struct shard *sh, uint64_t id);
void tracking_conn_closed(struct shard *sh, uint64_t id);
/* The shard client id's connection is on, or -1 if there is none. */
int tracking_conn_shard(struct shard *sh, uint64_t id);

/* Keys tracked on this shard (INFO tracking_total_keys). */
size_t tracking_keys(const struct shard *sh);

#endif
