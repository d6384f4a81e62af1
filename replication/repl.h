/* repl: master-replica replication (ARCHITECTURE.md "Replication").
 *
 * The stream. Every shard hands the changes its store applies (the journal
 * hook) to its journal buffer as RESP commands, or the command itself where
 * its table row says so (core/command.h, the journal column: in-place edits
 * as commands, FLUSHALL as one node-wide record placed by a barrier on shard
 * 0, see repl.c); once per loop turn the
 * buffer goes, as one message, to shard 0, the node's replication shard.
 * Shard 0 appends what arrives to the node's backlog, whose byte offset is the
 * node's replication offset (master_repl_offset), and queues the same bytes
 * for every replica. So a node has one stream and one offset, as Redis does:
 * PSYNC, WAIT, INFO and Sentinel's "which replica is most up to date" all
 * work on one number. (A stream per shard was the first design; one ordered stream
 * per node keeps the PSYNC2 failover contract simple and is cheap here: the
 * bytes are copied once more, in batches.)
 *
 * Master side. A replica's connection lands on any shard (H). Its PSYNC goes
 * to shard 0, which answers +CONTINUE and sends the backlog from the asked
 * offset, or +FULLRESYNC <replid> <offset> and starts a snapshot: every shard
 * walks its table a slice per loop turn (no fork, no pause) and sends the
 * keys as RKV.RESTORE frames (key, expiry, DUMP payload) through the same
 * mailbox as its journal bytes, so
 * on each shard the two stay in the order they happened. Shard 0 passes
 * frames and journal bytes to the replica in arrival order and ends with
 * RKV.LOADDONE. Frames are not part of the offset.
 *
 * Replica side. Shard 0 holds the link to the master, parses the stream and
 * sends each write to the shard owning its key here (by slot, so master and
 * replica may have different thread counts). During a full sync the writes
 * go to a staging store per shard that replaces the live one only at
 * RKV.LOADDONE: a replica never serves half a snapshot. A command journaled
 * as itself runs here through the same table row and handler, on the shard
 * owning its key (a node-wide one on every shard, each at the same point of
 * its apply order). Everything applies with the master's clock: no key is
 * past its time to the stream (a key our clock calls expired stays, and the
 * master's later writes apply to it, until the master's DEL). The stream
 * bytes
 * (without the frames) go to the replica's own backlog, so after a promotion
 * its siblings can continue from it with a partial resync. A replica's stores
 * are passive: they hide expired keys and wait for the master's DEL. */
#ifndef RINGKV_REPL_H
#define RINGKV_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/command.h"
#include "shards/store/store.h"

struct shard;
struct node;
struct conn;
struct shard_msg;

/* Attach replication to a node before it starts: its shard module, the
 * stores' journal sink and the write gate (replication/module.c). */
void repl_attach(struct node *n);

/* The node's replication state lives on shard 0; this part of it may be read
 * by any shard. */
bool repl_is_replica(const struct node *n);

/* Why a client's write must be refused now (a read-only replica, too few
 * good replicas, a failover handing over), or NULL. Any shard. */
const char *repl_write_refusal(const struct node *n);

/* Per shard: setup (on the shard's thread, before its store exists: the
 * store's journal hook is repl_journal_hook with the shard as argument) and
 * teardown. */
void repl_shard_setup(struct shard *sh);
void repl_shard_teardown(struct shard *sh);
journal_hook repl_journal_hook;
/* Around every command a shard runs on its own store (the dispatcher): the
 * row's journal column (core/command.h) decides what the stream gets.
 * repl_command_refused: a part the shard refused to run (a write refused
 * mid-flight) still counts as its part of a node-wide command. */
void repl_command_begin(struct shard *sh, const struct command *cmd, struct exec_ctx *ctx);
void repl_command_end(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv);
void repl_command_refused(struct shard *sh, const struct command *cmd);
/* The shard module's stream_cut hook (an AOF rewrite's park). */
void repl_stream_cut(struct shard *sh);
/* The module's sync_cut (shards/shard.h): repl.c. */
void repl_sync_cut(struct shard *sh);
/* The journal sink's key_before_write (shards/node.h): a write is about to
 * reach key, one of the keys a full sync sends in parts (a big list): the
 * rest of its parts goes now, ahead of the write's stream bytes. */
void repl_key_before_write(struct shard *sh, const struct slice *key);
/* End of every loop turn: ship journal bytes, produce snapshot slices, and on
 * shard 0 send what is queued for each replica. */
void repl_shard_turn(struct shard *sh);
/* Replication work for this shard's next turn (a snapshot slice whose
 * replica is not a window behind, feeds held for batching): the loop must
 * come round again without sleeping. */
bool repl_turn_pending(struct shard *sh);
/* The count of stream messages (bytes or barriers) this shard has sent
 * shard 0, with the one its bytes not sent yet will make: once shard 0's
 * AOF has taken that many of this shard's, every write it has made so far
 * is in the file (shards/aof_fence.c). A big collection given whole goes
 * in parts over later turns: only its first is counted. */
uint64_t repl_journal_mark(struct shard *sh);
/* A replica's connection sent some output (its shard's on_sent). */
void repl_replica_sent(struct shard *sh, struct conn *c, struct client *cl);
/* Every tick: on shard 0, the link to the master (connect, retry, timeout,
 * ACK), pings and lag of the replicas. */
void repl_shard_tick(struct shard *sh, int64_t now_ms);
/* Every MSG_REPL_* message, request or answer. */
void repl_message(struct shard *sh, struct shard_msg *m);

/* A replica client's connection (master side, on its shard H) closed. */
void repl_replica_client_closed(struct shard *sh, struct client *c);

/* Start replicating from host:port, or (host NULL) become a master. Runs on
 * shard 0. Returns 0, or -1 with err set. */
int repl_set_master(struct shard *sh, const char *host, int port, char *err, size_t errlen);

/* The master this node replicates from now (REPLICAOF changes it at run
 * time; CONFIG REWRITE writes it). Runs on shard 0. Returns true and fills
 * host (NUL-terminated, cut to hostlen) and port on a replica; false on a
 * master. */
bool repl_current_master(struct shard *sh, char *host, size_t hostlen, int *port);
/* Shard 0 of a replica: the database its master's stream is in at what it
 * has read (where an AOF file begun now starts: a SELECT first if not 0);
 * 0 on a master. */
int repl_stream_db(struct shard *sh);

/* INFO replication section body, INFO stats' sync counters (shard 0). */
void repl_info(struct shard *sh, struct buf *out);
void repl_info_stats(struct shard *sh, struct buf *out);

/* Commands (shards/commands.h lists them in the table). */
command_fn cmd_replicaof, cmd_role, cmd_replconf, cmd_psync, cmd_wait, cmd_failover;

#endif
