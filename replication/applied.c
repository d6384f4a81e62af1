/* applied: how far a replica's shards have applied its master's stream,
 * for INFO's slave_repl_offset and ROLE (a Redis replica's offset counts
 * what it has executed; slave_read_repl_offset what it has read).
 *
 * Shard 0 reads the stream and posts each shard its writes in batches
 * (MSG_REPL_APPLY, replica.c). Each batch carries a number, ever growing
 * on the node, and the shard taking it stores the last number it took
 * (repl_shard.applied_seq, an atomic only that shard writes). Shard 0
 * keeps, per shard, the batches it posted and has not seen taken yet, each
 * with the lowest offset of the stream whose writes it carries (`from`):
 * every write before the lowest `from` still pending, over all shards, is
 * applied; and so is every write read, when none is pending (up to a
 * cross-shard command under way: the target the caller gives). No message
 * of its own: a post notes one pair, INFO reads a word per shard.
 *
 * A batch deferred by a shard that is making a snapshot for a replica of
 * its own (repl.c) counts as taken, as the ACK's fence does. */
#include "replication/repl_state.h"

#include <mimalloc.h>
#include <stdatomic.h>

#include "shards/node.h"
#include "shards/shard.h"

struct applied_batch {
    uint64_t seq;
    uint64_t from;
};

/* One shard's pending batches, oldest first (a ring). */
struct applied_track {
    struct applied_batch *b;
    unsigned              head, len, cap;
};

static struct applied_track *tracks(struct repl_link *l, int nshards)
{
    if (!l->applied)
        l->applied = mi_calloc((size_t)nshards, sizeof(struct applied_track));
    return l->applied;
}

/* Drop the batches shard i has taken. */
static void settle(struct shard *sh, struct applied_track *t, int i)
{
    uint64_t taken = atomic_load_explicit(&sh->node->shards[i]->repl->applied_seq, memory_order_acquire);
    while (t->len && t->b[t->head].seq <= taken) {
        t->head = (t->head + 1) % t->cap;
        t->len--;
    }
}

uint64_t applied_posting(struct shard *sh, struct repl_link *l, int i)
{
    struct repl *r = repl_of(sh);
    struct applied_track *t = &tracks(l, sh->node->nshards)[i];
    settle(sh, t, i);
    if (t->len == t->cap) {
        unsigned cap = t->cap ? t->cap * 2 : 16;
        struct applied_batch *b = mi_malloc(sizeof(*b) * cap);
        for (unsigned k = 0; k < t->len; k++)
            b[k] = t->b[(t->head + k) % t->cap];
        mi_free(t->b);
        t->b = b;
        t->head = 0;
        t->cap = cap;
    }
    uint64_t seq = ++r->apply_seq;
    t->b[(t->head + t->len) % t->cap] = (struct applied_batch){ seq, l->post_from };
    t->len++;
    return seq;
}

uint64_t applied_offset(struct shard *sh, struct repl_link *l, uint64_t target)
{
    if (!l->applied)
        return target;
    uint64_t low = target;
    for (int i = 0; i < sh->node->nshards; i++) {
        struct applied_track *t = &l->applied[i];
        settle(sh, t, i);
        for (unsigned k = 0; k < t->len; k++) {
            uint64_t from = t->b[(t->head + k) % t->cap].from;
            if (from < low)
                low = from;
        }
    }
    return low;
}

void applied_forget(struct repl_link *l, int nshards)
{
    if (!l->applied)
        return;
    for (int i = 0; i < nshards; i++)
        l->applied[i].len = 0;
}

void applied_free(struct repl_link *l, int nshards)
{
    if (!l->applied)
        return;
    for (int i = 0; i < nshards; i++)
        mi_free(l->applied[i].b);
    mi_free(l->applied);
    l->applied = NULL;
}
