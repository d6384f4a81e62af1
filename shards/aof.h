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

#include <stddef.h>

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

/* Shard 0: bytes the stream takes (master_stream_bytes), to be appended. */
void aof_feed(struct node *n, const void *p, size_t len);

/* INFO persistence's aof_* fields (on shard 0). */
void aof_info(struct shard *sh, struct buf *out);

#endif
