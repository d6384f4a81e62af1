/* persist: RDB snapshots of the node (SAVE, BGSAVE, the `save` points,
 * saving at shutdown) and loading dump.rdb at start. The file's format is
 * shards/store/rdb.h; this is when and how a snapshot is taken.
 *
 * A snapshot is one instant of the whole node: every shard thread is
 * parked at a safe point between two commands (a barrier through the
 * mailboxes: shard 0 posts a park message to each shard and waits until
 * every other shard sits in its handler), and then
 *  - BGSAVE (and the `save` points): shard 0 forks and releases the
 *    shards at once; the child, which has shard 0's thread only, writes
 *    every shard's store as it stood (copy-on-write, as Redis's fork) and
 *    _exit()s. The pause each shard sees is the park plus the fork, which
 *    copies the page tables: INFO's latest_fork_usec.
 *  - SAVE (and SHUTDOWN's save): shard 0 writes the file itself while the
 *    others stay parked: the node answers nothing meanwhile, as Redis's
 *    SAVE blocks its one thread.
 * Since a shard parks only between two messages, and a transaction's
 * commands on one shard run back to back, a MULTI on one shard's keys is
 * in the file whole or not at all. (A command over keys of several shards
 * applies its writes on each shard apart: the snapshot may fall between
 * them, as a replica's full sync may.)
 *
 * The forked child must not take a lock another thread might hold: every
 * shard thread is parked in a futex wait outside any allocator or I/O
 * call, and the child touches only the stores (read-only), its own
 * buffers (its thread's mimalloc heap) and the file; the io_uring fds it
 * inherits are never used.
 *
 * Loading: each shard reads dump.rdb at start, before any shard serves
 * (node.c's start gate), and keeps the keys whose slot is its own; a file
 * that is damaged, cut short or holds what ringkv cannot load stops the
 * start with an error naming the file. */
#ifndef RINGKV_PERSIST_H
#define RINGKV_PERSIST_H

#include <stdbool.h>
#include <stdint.h>

struct node;
struct shard;
struct buf;
struct exec_ctx;

/* Attach the module to the node (before node_start), after the layers
 * whose write gate it wraps (replication). */
void persist_attach(struct node *n);

/* The commands (shards/commands/table.c rows): SAVE and BGSAVE run on
 * shard 0 as a message, answered once the snapshot is taken. */
void cmd_save(struct exec_ctx *ctx);
void cmd_bgsave(struct exec_ctx *ctx);
void cmd_lastsave(struct exec_ctx *ctx);
/* DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: at a park of every shard, save
 * dbfilename (unless NOSAVE), then every shard empties its store (unless
 * NOFLUSH) and loads its keys back from the file (a key already there is
 * replaced with MERGE, an error without), on its own thread; answered
 * once all are done. The function libraries are left as they are. */
void cmd_debug_reload(struct exec_ctx *ctx);
/* BGREWRITEAOF: the AOF's new base from a snapshot (shards/aof.h). */
void cmd_bgrewriteaof(struct exec_ctx *ctx);

/* Shut the node down, saving first if `save` (SHUTDOWN SAVE) or, unless
 * `nosave`, when save points are set (SHUTDOWN, SIGTERM, SIGINT): done on
 * shard 0's next tick. Any thread. */
void persist_request_shutdown(struct node *n, bool save, bool nosave);

/* A background save for someone other than a client (an rdb-only replica,
 * replication/rdb_feed.c), on shard 0: done(sh, ok, arg) runs on shard 0
 * once the next background save ends, ok if it wrote dbfilename; one is
 * started (or scheduled, behind a save under way) if none runs. Any
 * snapshot serves: one already running is joined. false if too many wait
 * already (done is not called). */
/* An RDB file written to fd: the node-wide records (the function
 * libraries), then, if keys, every shard's store (which must not change
 * meanwhile: parked shards or a forked child). On shard 0 (the libraries
 * are its). 0, or -1 with errno set. */
int persist_write_rdb(struct node *n, int fd, int64_t now_ms, bool keys);

typedef void persist_saved_fn(struct shard *sh, bool ok, uint64_t arg);
bool persist_bgsave_notify(struct shard *sh, persist_saved_fn *done, uint64_t arg);
/* The same for a save that cuts the stream: each shard, as it parks for
 * the fork, hands shard 0 its stream up to there and a mark (the modules'
 * sync_cut), so the file holds exactly the stream before one offset (a
 * Redis replica's full sync: replication/rdb_feed.c). A save under way is
 * not joined: the next one cuts. done is called at the end of every save
 * meanwhile; persist_last_save_cut says whether the one ended cut. */
bool persist_bgsave_cut_notify(struct shard *sh, persist_saved_fn *done, uint64_t arg);
bool persist_last_save_cut(const struct node *n);

/* FLUSHALL ran on sh's store. Once every shard has flushed, shard 0's
 * next tick kills a background save under way and, with save points set,
 * saves the empty keyspace (Redis saves at once, so that a restart does
 * not bring the flushed keys back). */
void persist_flushed(struct shard *sh);

/* INFO (on shard 0): the Persistence section's fields from loading to
 * the rdb_ ones, rdb_changes_since_last_save from every shard's changes
 * (the Stats section's fork fields come through the module's info hook). */
void persist_info(struct shard *sh, struct buf *out);

/* Load the RDB file at path into sh's store (its slots' keys; shard 0
 * also the function libraries), at start, its journal hook off: 0, 1 if
 * there is no such file, -1 after logging why it cannot be loaded. The
 * AOF's base goes through it too (shards/aof.c). */
int persist_load_rdb(struct shard *sh, const char *path);

#endif
