/* aof_fence: replies wait for their writes to be in the AOF (aof_fence.h). */
#include "shards/aof_fence.h"

#include <mimalloc.h>
#include <stdatomic.h>
#include <string.h>

#include "net/loop.h"
#include "shards/aof.h"
#include "shards/node.h"
#include "shards/shard.h"

/* Fences not yet released, oldest first; past this many the newest one
 * takes the counts of the next (a later release for its output only). */
#define FENCES_MAX 64

struct fence {
    uint64_t  number;
    uint64_t *need;   /* per shard: the count to reach, 0 for none */
};

struct aof_fence {
    struct fence q[FENCES_MAX];
    int          head, count;
    uint64_t     numbered;  /* the last fence's number */
    uint64_t    *scratch;   /* per shard */
    bool         waiting;   /* the writer wakes this loop */
};

static struct aof_fence *fence_state(struct shard *sh)
{
    if (!sh->aof_fence) {
        int n = sh->node->nshards;
        struct aof_fence *f = mi_zalloc(sizeof *f);
        f->scratch = mi_zalloc(sizeof(uint64_t) * (size_t)n);
        for (int i = 0; i < FENCES_MAX; i++)
            f->q[i].need = mi_zalloc(sizeof(uint64_t) * (size_t)n);
        sh->aof_fence = f;
    }
    return sh->aof_fence;
}

static bool fencing(struct shard *sh)
{
    return aof_fencing(sh->node) && !node_is_replica(sh->node);
}

/* This shard's count of stream messages (the journal's module says it). */
static uint64_t own_mark(struct shard *sh)
{
    const struct node *n = sh->node;
    for (int i = 0; i < n->nmodules; i++)
        if (n->modules[i]->journal_mark)
            return n->modules[i]->journal_mark(sh);
    return 0;
}

void aof_fence_publish(struct shard *sh)
{
    if (aof_fencing(sh->node))
        atomic_store_explicit(&sh->journal_mark, own_mark(sh), memory_order_release);
}

static void set_waiting(struct shard *sh, struct aof_fence *f, bool on)
{
    if (f->waiting == on)
        return;
    f->waiting = on;
    aof_fence_waiter(sh->node, sh->id, on ? sh->loop : NULL);
}

uint64_t aof_fence_output(struct shard *sh)
{
    if (!fencing(sh))
        return 0;
    struct node *n = sh->node;
    int nsh = n->nshards;
    struct aof_fence *f = fence_state(sh);
    bool any = false;
    for (int i = 0; i < nsh; i++) {
        uint64_t made = i == sh->id ? own_mark(sh)
                                    : atomic_load_explicit(&n->shards[i]->journal_mark, memory_order_acquire);
        uint64_t written = aof_written_mark(n, i);
        f->scratch[i] = made > written ? made : 0;
        any |= made > written;
    }
    if (!any)
        return 0;
    if (f->count > 0) {
        struct fence *last = &f->q[(f->head + f->count - 1) % FENCES_MAX];
        bool covered = true;
        for (int i = 0; i < nsh && covered; i++)
            covered = f->scratch[i] <= last->need[i];
        if (covered)
            return last->number;
        if (f->count == FENCES_MAX) {
            for (int i = 0; i < nsh; i++)
                if (f->scratch[i] > last->need[i])
                    last->need[i] = f->scratch[i];
            return last->number;
        }
    }
    struct fence *nf = &f->q[(f->head + f->count) % FENCES_MAX];
    f->count++;
    nf->number = ++f->numbered;
    memcpy(nf->need, f->scratch, sizeof(uint64_t) * (size_t)nsh);
    /* woken when the writer gets there (the loop may sleep before this
     * turn's end looks again) */
    set_waiting(sh, f, true);
    return nf->number;
}

static bool passed(struct shard *sh, const struct fence *fc)
{
    for (int i = 0; i < sh->node->nshards; i++)
        if (fc->need[i] && aof_written_mark(sh->node, i) < fc->need[i])
            return false;
    return true;
}

void aof_fence_turn(struct shard *sh)
{
    struct aof_fence *f = sh->aof_fence;
    if (!f || f->count == 0)
        return;
    if (!fencing(sh)) { /* appendonly turned off, or now a replica */
        f->count = 0;
        loop_release(sh->loop, f->numbered);
        set_waiting(sh, f, false);
        return;
    }
    uint64_t released = 0;
    while (f->count > 0 && passed(sh, &f->q[f->head])) {
        released = f->q[f->head].number;
        f->head = (f->head + 1) % FENCES_MAX;
        f->count--;
    }
    if (released)
        loop_release(sh->loop, released);
    set_waiting(sh, f, f->count > 0);
}

bool aof_fence_ready(struct shard *sh)
{
    struct aof_fence *f = sh->aof_fence;
    return f && f->count > 0 && (!fencing(sh) || passed(sh, &f->q[f->head]));
}

void aof_fence_stop(struct shard *sh)
{
    if (sh->aof_fence)
        set_waiting(sh, sh->aof_fence, false);
}

void aof_fence_free(struct shard *sh)
{
    struct aof_fence *f = sh->aof_fence;
    if (!f)
        return;
    for (int i = 0; i < FENCES_MAX; i++)
        mi_free(f->q[i].need);
    mi_free(f->scratch);
    mi_free(f);
    sh->aof_fence = NULL;
}
