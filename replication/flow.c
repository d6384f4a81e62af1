/* flow: pacing a full sync's snapshot by what the replica reads.
 *
 * Without it the shards would make the snapshot as fast as they can walk
 * their tables and the master would hold, in the replica connection's output
 * buffer, whatever part of the data set the replica has not read yet: for a
 * slow replica and a large data set, a second copy. With it, at most about
 * SNAP_WINDOW_BYTES wait (produced and not sent), as a fork-based
 * snapshot writing into a pipe would bound it. */
#include "replication/repl_state.h"

#include <mimalloc.h>

#include "net/loop.h"
#include "shards/node.h"
#include "shards/shard.h"

struct snap_flow *snap_flow_create(int refs)
{
    struct snap_flow *f = mi_zalloc(sizeof(*f));
    atomic_init(&f->refs, refs);
    return f;
}

void snap_flow_ref(struct snap_flow *f)
{
    atomic_fetch_add(&f->refs, 1);
}

void snap_flow_unref(struct snap_flow *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1)
        mi_free(f);
}

static long long waiting(struct snap_flow *f)
{
    return atomic_load(&f->inflight) + atomic_load(&f->unsent);
}

bool snap_flow_full(struct snap_flow *f)
{
    if (waiting(f) < (long long)SNAP_WINDOW_BYTES)
        return false;
    /* say so before looking again, so a drain between the two looks is seen
     * by one side or the other (both are sequentially consistent) */
    atomic_store(&f->throttled, 1);
    return waiting(f) >= (long long)SNAP_WINDOW_BYTES;
}

void snap_flow_unsent(struct shard *sh, struct snap_flow *f, size_t unsent)
{
    atomic_store(&f->unsent, (long long)unsent);
    if (!atomic_load(&f->throttled) || waiting(f) >= (long long)SNAP_WINDOW_BYTES / 2)
        return;
    atomic_store(&f->throttled, 0);
    for (int i = 0; i < sh->node->nshards; i++)
        if (i != sh->id)
            loop_wake(sh->loop, sh->node->shards[i]->loop);
}
