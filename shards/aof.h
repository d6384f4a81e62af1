/* aof: the append-only file, as Redis 7 keeps it (README "Persistence").
 *
 * With `appendonly yes` the node's replication stream (every change, in the
 * RESP command form shard 0 appends to the backlog: ARCHITECTURE.md
 * "Replication") is also written to a file: Redis 7's multi-part AOF in
 * `dir/appenddirname/`, a base (an RDB file) and incr files of RESP
 * commands named by a manifest (shards/aof_manifest.h). Shard 0 collects a
 * loop turn's bytes and hands them, one buffer a turn, to the AOF's own
 * thread through a single-producer ring; that thread write()s them and
 * fsyncs by `appendfsync` (everysec: at most once a second; no: never), so
 * no shard thread makes a syscall for it.
 *
 * At start (before any shard serves), with an AOF present it is loaded
 * instead of dbfilename: the base through the RDB loader, then the incr
 * files, each command run on the shard owning its keys with the store's
 * journal hook off (persist.c calls aof_load). Without one, a base is made
 * first: a copy of dbfilename if there is one (what is then loaded), an
 * empty RDB if not, with an empty incr file and the manifest. */
#ifndef RINGKV_AOF_H
#define RINGKV_AOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct shard;
struct buf;

/* Attach the module (after persist_attach, before node_start). With
 * appendonly yes it finds or makes the AOF (on the main thread, before any
 * shard exists), cuts a truncated last command when aof-load-truncated
 * allows, and starts the writer thread: 0, or -1 after logging why the
 * server cannot start. */
int aof_attach(struct node *n);

/* At start, on every shard (persist.c's start hook): load the AOF's keys
 * of this shard: 1 if it did, 0 if there is no AOF to load (appendonly no),
 * -1 after logging why it cannot be loaded. */
int aof_load(struct shard *sh);

/* Shard 0: bytes the stream takes (master_stream_bytes), to be appended:
 * from shard `from`'s part, a node-wide record, or a master's stream. */
#define AOF_FROM_RECORD (-1)
#define AOF_FROM_LINK   (-2)
void aof_feed(struct node *n, int from, const void *p, size_t len);

/* Shard 0: one of shard `from`'s stream messages passed without bytes of
 * its own for the file (its barrier of a node-wide record). */
void aof_journal_msg_passed(struct node *n, int from);

/* ---- reply fences (shards/aof_fence.c) ----
 * Do replies wait for their writes to be in the file (appendonly on)? */
bool aof_fencing(const struct node *n);
/* How many of shard `shard`'s stream messages (repl_journal_mark) are in
 * the file (and on the disk with appendfsync always). */
uint64_t aof_written_mark(const struct node *n, int shard);
/* Shard `shard` waits for that to grow (its loop, woken by the writer
 * when it does), or no longer (NULL: returns once the writer cannot be
 * waking the loop any more). */
struct loop;
void aof_fence_waiter(struct node *n, int shard, struct loop *l);

/* Shard 0: shard `from`'s mark of a rewrite's park came, after every byte
 * it made before parking (repl_stream_cut). Once every shard's has, the
 * old incr file is whole and the writer moves to the new one. */
void aof_stream_cut(struct node *n, int from);

/* ---- the rewrite (BGREWRITEAOF; shards/persist.c parks and forks) ----
 *
 * With every shard parked, shard 0 calls aof_rewrite_parked: a new incr
 * file is made and the manifest names it after the old ones (so a rewrite
 * that fails loses nothing: old base, old incr files, new incr file), and
 * the cut begins; the forked child writes the snapshot as an RDB file to
 * the path given. aof_rewrite_done (the child reaped) waits for the cut,
 * then renames the file as the new base, writes the manifest of the new
 * base and the new incr file, and deletes the old files. */
bool aof_on(const struct node *n);
/* A rewrite is under way (its child, or its end). */
bool aof_rewrite_busy(const struct node *n);
/* Shard 0, every shard parked: 0 and the child's file in tmp, or -1. */
int aof_rewrite_parked(struct shard *sh, char *tmp, size_t len);
/* The fork failed (ok false) or the child is running. */
void aof_rewrite_forked(struct shard *sh, bool ok);
/* The child ended (ok: its file is whole), or was killed (at shutdown). */
void aof_rewrite_done(struct shard *sh, bool ok);
/* Shard 0's tick asks: start a rewrite now (BGREWRITEAOF scheduled, or
 * the AOF grew past auto-aof-rewrite-percentage of its size after the
 * last one, and past auto-aof-rewrite-min-size)? */
bool aof_rewrite_due(struct shard *sh, int64_t now_ms);
/* A replica's full sync replaced the data (shard 0, at its end): the AOF
 * no longer leads to it, so nothing is appended until a rewrite, asked for
 * at once, starts a new base and incr file; a crash meanwhile loads the
 * old AOF, whole (Redis restarts its AOF the same way). */
void aof_dataset_replaced(struct node *n);
/* BGREWRITEAOF while a background save runs: once it is done. */
void aof_rewrite_schedule(struct node *n);

/* INFO persistence's aof_* fields (on shard 0). */
void aof_info(struct shard *sh, struct buf *out);

#endif
