/* staging: big collections arriving in parts, held aside (staging.h). A
 * shard has few at a time (one a big key in flight to it), so a list. */
#include <stdatomic.h>
#include <string.h>

#include <mimalloc.h>

#include "shards/commands/staging.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/slot.h"

static __thread struct staged *staged;

struct staged *staging_find(struct shard *sh, struct slice key)
{
    (void)sh;
    for (struct staged *st = staged; st; st = st->next)
        if (st->klen == key.len && memcmp(st->key, key.ptr, key.len) == 0)
            return st;
    return NULL;
}

struct staged *staging_start(struct shard *sh, struct slice key, uint64_t sender, enum value_type t, void *obj,
                             int64_t now_ms)
{
    struct staged *st = mi_malloc(sizeof *st + key.len);
    st->type = t;
    st->object = obj;
    st->sender = sender;
    st->last_ms = now_ms;
    st->slot = (int)key_slot(key.ptr, key.len);
    st->klen = key.len;
    memcpy(st->key, key.ptr, key.len);
    st->next = staged;
    staged = st;
    stat_add(&sh->stats.staged_keys, 1);
    return st;
}

static void unlink_staged(struct shard *sh, struct staged *st)
{
    for (struct staged **pp = &staged; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            stat_add(&sh->stats.staged_keys, (uint64_t)-1);
            return;
        }
}

void staging_drop(struct shard *sh, struct staged *st)
{
    unlink_staged(sh, st);
    if (st->object)
        store_object_release(sh->store, st->type, st->object);
    mi_free(st);
}

void *staging_take(struct shard *sh, struct staged *st)
{
    unlink_staged(sh, st);
    void *obj = st->object;
    mi_free(st);
    return obj;
}

size_t staging_count(struct shard *sh)
{
    (void)sh;
    size_t n = 0;
    for (struct staged *st = staged; st; st = st->next)
        n++;
    return n;
}

/* Whether st's next part may still come: in cluster mode, whether the
 * node's key gate lets a part of its slot in (ASKING: the slot imported
 * here, or this node's). A -MOVED means the move was given up (the slot
 * no longer imported: SETSLOT STABLE); a -CLUSTERDOWN may pass (peers
 * that seemed silent a while) and drops nothing. */
static bool part_may_come(struct shard *sh, const struct staged *st)
{
    const struct node *n = sh->node;
    if (!n->key_gate)
        return true;
    char err[160];
    const char *refused = n->key_gate(n, st->slot, false, KEY_GATE_ASKING, err, sizeof err);
    return !refused || strncmp(refused, "MOVED ", 6) != 0;
}

void staging_tick(struct shard *sh, int64_t now_ms)
{
    if (!staged)
        return;
    int64_t idle = atomic_load_explicit(&sh->node->staging_idle_ms, memory_order_relaxed);
    if (idle <= 0)
        idle = STAGING_IDLE_MS;
    for (struct staged *st = staged, *next; st; st = next) {
        next = st->next;
        if (now_ms - st->last_ms > idle || !part_may_come(sh, st))
            staging_drop(sh, st);
    }
}

void staging_teardown(struct shard *sh)
{
    while (staged) {
        struct staged *st = staged;
        staged = st->next;
        if (st->object)
            store_object_destroy(sh->store, st->type, st->object);
        mi_free(st);
    }
}
