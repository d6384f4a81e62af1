/* dispatch: from parsed commands to replies (ARCHITECTURE.md "A request's way"). It owns the
 * protocol side of each connection (a session: client state, parser, ordered
 * reply queue), decides where each command runs, runs it or posts it to the
 * owning shard's mailbox, and gathers the replies back in request order.
 *
 * Where a command runs:
 *  - connection/server commands (CMD_CONN) and commands whose keys all live
 *    on this shard: here, at once, reply straight into the output buffer
 *    when nothing is waiting ahead of it;
 *  - keys all on one other shard: posted there (MSG_EXEC); the reply comes
 *    back in the same message;
 *  - CMD_SPLIT commands over several shards: one sub-command per shard,
 *    merged by the table's merge;
 *  - CMD_ALL_SHARDS: run on every shard, merged;
 *  - other multi-key commands over several shards (RENAME, COPY, MSETNX,
 *    BITOP, LCS): copies of their keys are fetched (MSG_EXPORT), the command
 *    runs on a scratch store here, and the writes it made are applied on the
 *    owners (MSG_APPLY). Later commands of that connection wait for it. Not
 *    atomic against other clients (README, Guarantees).
 * Messages are allocated and freed by the shard that sent them; the target
 * writes its answer into the message and posts it back. */
#ifndef RINGKV_DISPATCH_H
#define RINGKV_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include "core/clock.h"
#include "shards/shard.h"
#include "net/loop.h"

/* loop_handlers of a shard (arg: struct shard *). */
void   dispatch_open(void *arg, struct conn *c);
size_t dispatch_data(void *arg, struct conn *c, const char *p, size_t n);
void   dispatch_close(void *arg, struct conn *c);
void   dispatch_connected(void *arg, struct conn *c, int err);
void   dispatch_sent(void *arg, struct conn *c);

struct shard_msg;
/* A message from another shard: a request to run here, or an answer to one
 * this shard sent (called by mail_exchange). */
void dispatch_message(struct shard *sh, struct shard_msg *m);

/* Copy this shard's store counters (keys, memory, hits, ...) into its
 * stats, where INFO on any shard reads them. */
void shard_publish_stats(struct shard *sh);

/* Run cmd from inside another command on the same shard and store (a
 * script's redis.call: shards/commands/scripting.c), its RESP2 reply
 * appended to out. The command goes through what any command run here
 * goes through (the -OOM check, the key gate while a slot moves, the
 * journal, its stats) and is timed on its own; the time of the outer
 * command goes on counting around it. */
struct exec_ctx;
struct command;
/* Apply a cross-shard command's writes to this shard's keys (records as
 * shards/scratch.h captures them), as a MSG_APPLY does. */
void dispatch_apply_writes(struct shard *sh, const struct buf *records, int64_t now);
/* A CMD_DEST_DB row's destination database (its `DB n`, if valid here),
 * else db; and the key index (in key order) of that destination (1). */
int dispatch_dest_db(const struct shard *sh, const struct command *cmd, int argc, const struct slice *argv, int db);
#define DISPATCH_DEST_KEY 1
void dispatch_run_nested(const struct exec_ctx *outer, const struct command *cmd, int argc,
                         const struct slice *argv, struct buf *out);

/* The bytes this shard's store may hold under maxmemory (0: no limit): an
 * even share of maxmemory minus the rest of used_memory that counts, never
 * under a quarter of maxmemory / shards (run.c says why). */
size_t shard_memory_limit(const struct shard *sh);
/* Evict from this shard's store what the policy allows until it is under
 * limit (store_evict), for at most Redis's default eviction time (500 us),
 * recording an "eviction-cycle" latency spike when it took
 * latency-monitor-threshold ms or more. Still over the limit when the time
 * is up: sh->evicting is set and shard_evict_step goes on each loop turn.
 * False only if the policy can free nothing more (the caller answers -OOM). */
bool shard_make_room(struct shard *sh, size_t limit, int policy, int64_t now_ms);
/* One more budget of an eviction still running; true while one is. */
bool shard_evict_step(struct shard *sh);

/* Pauses (pause.c): ask every shard to run the commands it holds whose
 * pause is over (CLIENT UNPAUSE, the end of a FAILOVER); the tick's check
 * for pauses whose timeout ran out. */
void pause_wake_all(struct shard *sh);
/* CLIENT PAUSE / UNPAUSE: pause the node's clients for timeout_ms (a pause
 * in force is never shortened or weakened), or end every pause now. */
void pause_start(struct node *n, int64_t now_ms, long long timeout_ms, int mode); /* enum pause_mode (node.h) */
void pause_stop(struct shard *sh);
void pause_release(struct shard *sh);
/* The hold every store of a shard gets (store_set_hold; arg: the shard):
 * true while writes are paused, when the keyspace stands still as in Redis
 * (no expiry, no eviction) so the replication offset does not move. */
bool pause_keeps_keys(void *shard, int64_t now_ms);

/* Cluster mode: writes waiting for keys a MIGRATE has in flight on this
 * shard (node.h, KEY_GATE_WAIT). Such a write is held on the keys' shard,
 * in arrival order, and with it every later request of the same
 * connection that reaches this shard (a connection's own commands on
 * its shard: the connection reads nothing more until it is answered);
 * nothing else on the shard waits. It is asked again, and runs or is
 * refused (-ASK once its keys are gone), when the shard's keys in flight
 * settle: the one who settles them calls dispatch_key_waits_wake. A hold
 * is bounded (KEY_WAIT_MAX_MS, checked each tick): past it the command
 * answers -TRYAGAIN as before, and the client's own retry decides. The
 * bound: under the default socket timeouts of common clients (Jedis 2 s,
 * Lettuce's command timeout 60 s; redis-py none), so a held client is
 * never timed out for it, far over a MIGRATE batch's time (tens of ms on
 * a loaded machine, bench/RESULTS.md), and under CLUSTER_GIVEN_AWAY_MS
 * (5 s), so that a held command is asked again while the source still
 * knows the slot was given away (-MOVED rather than writing a key it no
 * longer owns). A script waiting for the other shards (shards/hold.h)
 * has no bound: it is asked again at each release of the shards, and at
 * each tick once past KEY_WAIT_MAX_MS, until it holds them. */
#define KEY_WAIT_MAX_MS 1000
void dispatch_key_waits_wake(struct shard *sh);
/* Every tick while some wait: the holds past KEY_WAIT_MAX_MS are asked
 * again (answered -TRYAGAIN if their keys are still in flight). */
void dispatch_key_waits_tick(struct shard *sh, int64_t now_ms);

/* Free ptrs[0..n) (mi_ allocations; ptrs too) once no other shard can
 * still be using them: each other shard is sent a message, and a shard
 * handles messages between commands, so once all have answered none holds
 * a pointer it read during a command (CONFIG SET's replaced strings). */
void dispatch_free_later(struct shard *sh, char **ptrs, int n);

/* Every tick: apply what CONFIG SET changed that this shard's loop and
 * open connections hold a copy of (hz, client-query-buffer-limit). */
void dispatch_tick(struct shard *sh);
/* Every tick: after a change of the ACL users, close the connections whose
 * user is gone (ACL DELUSER, ACL LOAD) and the subscribers whose user may
 * no longer hear one of their channels or patterns. */
void dispatch_acl_sweep(struct shard *sh);

/* Every tick: close connections idle past `timeout` seconds and
 * subscribers over their output limits; publish the biggest unsent output
 * of the shard's connections (INFO client_recent_max_output_buffer). */
void dispatch_timeouts(struct shard *sh, int64_t now_ms);

/* Restart the shard's command clock now (at the start of a batch) and
 * refresh its unix offset when refresh is set. */
void shard_clock_start(struct shard *sh, bool refresh);
/* Unix ms of the shard's command clock. */
static inline int64_t shard_now_ms(const struct shard *sh)
{
    return ((int64_t)sh->clock_ns + sh->unix_offset_ns) / 1000000;
}

#endif
