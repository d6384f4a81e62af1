/* notify: keyspace notifications (notify-keyspace-events), Redis 7.0's.
 *
 * An event is a pub/sub message: on __keyspace@0__:<key> the event's name,
 * on __keyevent@0__:<event> the key. Events come from the store's change
 * hook (shard.c, shard_store_changed), the one place every change passes:
 *  - a key's time passed or eviction took it (a DEL the store made on its
 *    own): "expired" or "evicted", at once;
 *  - while a command runs on the shard's store (run.c brackets it with
 *    notify_command_begin/end), its changes are noted and, once it is done,
 *    named after the command as Redis names them (a table in notify.c:
 *    INCR is "incrby", LMOVE a pop and a push, a collection left empty a
 *    "del" after the command's own event), in Redis's order;
 *  - any other change (a write replicated from our master as its effects,
 *    a cross-shard command's writes applied to their owner) by what it did:
 *    "set", "del", "expire", "persist".
 * The messages go to every shard (the subscribers live on their
 * connections' shards) through the mailboxes, one message per command and
 * shard; each shard hands them to its subscribers as PUBLISH does. With the
 * option empty, a change costs one load and a branch here. */
#ifndef RINGKV_NOTIFY_H
#define RINGKV_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"

struct shard;
struct store;
struct command;
struct journal_record;

/* A command is about to run on store (the shard's, or a scratch store whose
 * writes are passed here by their capture). */
void notify_command_begin(struct shard *sh, struct store *store, const struct command *cmd, int argc,
                          const struct slice *argv, int64_t now_ms);
/* It is done: publish the events of what it changed. */
void notify_command_end(struct shard *sh);
/* The shard's store changed (shard_store_changed). */
void notify_store_changed(struct shard *sh, const struct journal_record *rec);
/* While on, changes other than the store's own (expiry, eviction) are not
 * published: a cross-shard command's writes applied to their owner, whose
 * events the command's shard published as it ran them on a scratch store
 * (shards/scratch.h, write_capture.notify). */
void notify_quiet(struct shard *sh, bool on);
/* Free the shard's notification state (teardown). */
void notify_free(struct shard *sh);

#endif
