/* state_file: the cluster config file, written off the shard loops (issue
 * 11: no blocking calls on the data path).
 *
 * Every table or group version a node accepts is written whole to its
 * cluster config file, atomically: a temp file in the same directory,
 * write, fsync, rename over the file, fsync of the directory (so the
 * rename itself survives a crash). A kill -9 at any point leaves the old
 * file or the new one, never a torn one. That costs one or two fsyncs,
 * 0.2 to 23 ms each on this machine (bench/RESULTS.md), 76-86 of them in a
 * slot move: on shard 0's loop they paused every client of shard 0.
 *
 * So one writer thread of the cluster layer does it. Why a thread and not
 * io_uring file operations on shard 0's ring: the loop (net/) knows
 * connections only, and a chain open/write/fsync/rename/open/fsync would
 * need it to know files and links of operations; fsync is punted to the
 * kernel's io-wq workers anyway, i.e. it blocks a thread either way. A
 * thread of our own is the same cost, with plain blocking calls that read
 * as the contract above.
 *
 * The handoff is one slot holding the newest text not yet taken, swapped
 * with atomic exchanges (no lock): shard 0 puts a text in (state_file_hand;
 * a text still there, not taken yet, is dropped: only the newest version
 * matters, so versions that queue up while an fsync runs coalesce into one
 * write); the writer takes it out. Each text carries a ticket (1, 2, ...,
 * in the order handed). The writer sleeps on a futex word shard 0 bumps
 * and wakes (one FUTEX_WAKE per version handed, never a wait on shard 0).
 * After each write it publishes the ticket written (durable) or failed
 * (with errno) and rings the bell of shard 0's loop (net/loop.h,
 * loop_bell: an eventfd the loop keeps a read armed on), whose turn hook
 * then answers what waited for it (cluster.h). Tickets are written in
 * increasing order, so "durable >= t" means ticket t's version, or a newer
 * one, is in the file.
 *
 * state_file_stop (at shutdown) lets the writer finish the newest text
 * handed before it exits. */
#ifndef RINGKV_CLUSTER_STATE_FILE_H
#define RINGKV_CLUSTER_STATE_FILE_H

#include <stddef.h>
#include <stdint.h>

struct state_file;

/* The write itself (above), blocking: the writer thread's, and
 * cluster_attach's for a new node's first file, before the shards run.
 * Returns 0, or -1 with errno set. */
int state_file_write(const char *path, const char *text, size_t len);

/* Start the writer of path (its thread, its eventfd). On the main thread,
 * before the shards are pinned, so the writer is not pinned to a shard's
 * CPU. Returns NULL (errno set) if the thread or the eventfd can't be had. */
struct state_file *state_file_start(const char *path);

/* The eventfd the writer rings after each write: for loop_bell. */
int state_file_bell(const struct state_file *f);

/* Hand text[0..len) over (copied) to be written; shard 0 only. Returns its
 * ticket. */
uint64_t state_file_hand(struct state_file *f, const char *text, size_t len);

/* The last ticket handed (0: none yet); shard 0 only. */
uint64_t state_file_handed(const struct state_file *f);

/* The highest ticket in the file (0: none yet). Any thread. */
uint64_t state_file_durable(const struct state_file *f);

/* The highest ticket whose write failed (0: none), and the errno of the
 * last failure. Any thread. */
uint64_t state_file_failed(const struct state_file *f, int *err);

/* Let the writer write the newest text handed, join it, and free f (the
 * eventfd too: call it once the loop it rang is gone). */
void state_file_stop(struct state_file *f);

#endif
