/* key_locks: the keys of a watched transaction over several shards held
 * for it on their shard (shards/watched.c) between its check and its run.
 *
 * A transaction whose watched keys or commands are on several shards is
 * run in two steps: each shard it touches checks the watched keys it has
 * and takes its keys for the transaction (the watched ones and those its
 * commands name), or refuses if one is taken already (no waiting: the
 * EXEC then answers nil, as for a watched key that changed, and the client
 * retries, as it does for that); once every shard has taken them, each
 * runs its part of the queue and lets them go. Meanwhile a client's
 * write of a taken key waits on its shard (dispatch.h's hold, the one of
 * keys in flight, bounded by KEY_WAIT_MAX_MS), so no write comes between
 * the check and the run: the EXEC is as if its commands ran at once after
 * its check. Reads are served (they see the keys before the run). A
 * script's writes (redis.call) of keys it did not declare, and a
 * transaction's own commands, are not held (those cannot wait half way);
 * a watched transaction on one shard that meets a taken key answers nil
 * (its client retries), an unwatched one's command meets -TRYAGAIN, as
 * for a key in flight. Expiry and eviction are not held either.
 *
 * Few keys are taken at once (the transactions in their second step), so
 * a shard keeps them in a list; a write costs one load and a branch while
 * none is taken. On the shard's own thread only. */
#ifndef RINGKV_KEY_LOCKS_H
#define RINGKV_KEY_LOCKS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/command.h"

struct shard;

/* Take keys[0..n) for transaction `owner` (its client id): all, or none
 * if one of them is another's (false). Taking a key twice is harmless. */
bool key_locks_take(struct shard *sh, const struct slice *keys, int n, uint64_t owner);

/* Let owner's keys on this shard go; the writes held for them are asked
 * again. */
void key_locks_release(struct shard *sh, uint64_t owner);

/* Does a key of cmd belong to a transaction other than caller's? Only
 * called while some key is taken (sh->key_locks_held > 0). */
bool key_locks_bar(const struct shard *sh, const struct command *cmd, int argc, const struct slice *argv,
                   uint64_t caller);

/* Is one of keys[0..n) another transaction's than caller's? */
bool key_locks_any_other(const struct shard *sh, const struct slice *keys, int n, uint64_t caller);

/* The list, freed with the shard. */
void key_locks_free(struct shard *sh);

#endif
