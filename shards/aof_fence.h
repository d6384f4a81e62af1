/* aof_fence: with appendonly on, a reply leaves only once the writes it
 * may depend on are in the append-only file (and on the disk with
 * appendfsync always), as Redis writes its AOF before it replies.
 *
 * Every shard counts the stream messages it sends shard 0 (the module
 * hook journal_mark: replication's repl_journal_mark, the one its unsent
 * bytes will make included) and publishes that count whenever its mail becomes visible to other shards;
 * the AOF's writer publishes, per shard, how many of them are written
 * (aof_written_mark). When a connection is about to send new output, its
 * shard asks for the counts of every shard whose writes are not all
 * written yet (its own, and those of the shards whose replies it got: the
 * count a shard published before its reply became visible covers that
 * reply's writes): a fence, numbered. The loop holds that output (net/loop.h,
 * send fences) until the shard releases the fence's number, once the
 * writer has written that far; the writer wakes a shard that waits. With
 * appendonly off, on a replica, or with nothing unwritten, output goes at
 * once, and a fence costs one load per shard. */
#ifndef RINGKV_AOF_FENCE_H
#define RINGKV_AOF_FENCE_H

#include <stdbool.h>
#include <stdint.h>

struct shard;

/* The loop's output_fence: the fence new output must wait for, or 0. */
uint64_t aof_fence_output(struct shard *sh);
/* Each turn: release the fences the writer has passed. */
void aof_fence_turn(struct shard *sh);
/* The loop's has_work, after its sleeping flag is set: a fence passed. */
bool aof_fence_ready(struct shard *sh);
/* Before this shard's mail becomes visible to other shards. */
void aof_fence_publish(struct shard *sh);
/* The loop is about to go (before loop_destroy): no wake may reach it. */
void aof_fence_stop(struct shard *sh);
void aof_fence_free(struct shard *sh);

#endif
