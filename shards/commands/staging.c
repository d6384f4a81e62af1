/* staging: big collections arriving in parts, held aside (staging.h). A
 * shard has few at a time (one a big key in flight to it), so a list. */
#include <string.h>

#include <mimalloc.h>

#include "shards/commands/staging.h"
#include "shards/shard.h"

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
    (void)sh;
    struct staged *st = mi_malloc(sizeof *st + key.len);
    st->type = t;
    st->object = obj;
    st->sender = sender;
    st->last_ms = now_ms;
    st->klen = key.len;
    memcpy(st->key, key.ptr, key.len);
    st->next = staged;
    staged = st;
    return st;
}

static void unlink_staged(struct staged *st)
{
    for (struct staged **pp = &staged; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            return;
        }
}

void staging_drop(struct shard *sh, struct staged *st)
{
    unlink_staged(st);
    if (st->object)
        store_object_release(sh->store, st->type, st->object);
    mi_free(st);
}

void *staging_take(struct shard *sh, struct staged *st)
{
    (void)sh;
    unlink_staged(st);
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

void staging_tick(struct shard *sh, int64_t now_ms)
{
    for (struct staged *st = staged, *next; st; st = next) {
        next = st->next;
        if (now_ms - st->last_ms > STAGING_IDLE_MS)
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
