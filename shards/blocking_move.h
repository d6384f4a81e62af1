/* blocking_move: BLMOVE and BRPOPLPUSH with their source and destination
 * on two shards: a blocking pop of the source on its shard, then the push
 * on the destination's (blocking_move.c). Private to the dispatcher. */
#ifndef RINGKV_BLOCKING_MOVE_H
#define RINGKV_BLOCKING_MOVE_H

#include <stdbool.h>
#include "core/command.h"

struct shard;
struct session;
struct pending;

/* route.c: take the command (its reply is queued in its place, or a
 * syntax error); true once it is taken. */
bool blocking_move_route(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                         const struct slice *argv, int src_shard, int dst_shard);
/* run.c: a step of p (STAGE_MOVE_*) got its answer: the next step sent,
 * or p ready. */
void blocking_move_step(struct shard *sh, struct pending *p);

#endif
