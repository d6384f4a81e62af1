/* watch: the table of watched keys on each shard (watch.h). */
#include "shards/watch.h"

#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "shards/shard.h"

struct watcher {
    uint64_t id;
    bool     touched;
    bool     existed;
};

/* One watched key and who watches it. */
struct watched_key {
    struct watched_key *next;
    uint64_t            hash;
    struct watcher     *watchers;
    uint32_t            nwatchers, cap;
    size_t              klen;
    char                key[];
};

struct watch_table {
    struct watched_key **buckets;
    size_t               nbuckets; /* power of two */
    size_t               count;
};

static struct watch_table *table_of(struct shard *sh)
{
    if (!sh->watch) {
        struct watch_table *t = mi_zalloc(sizeof(*t));
        if (!t)
            abort();
        t->nbuckets = 64;
        t->buckets = mi_calloc(t->nbuckets, sizeof(*t->buckets));
        if (!t->buckets)
            abort();
        sh->watch = t;
    }
    return sh->watch;
}

void watch_free(struct shard *sh)
{
    struct watch_table *t = sh->watch;
    if (!t)
        return;
    for (size_t b = 0; b < t->nbuckets; b++)
        for (struct watched_key *e = t->buckets[b], *next; e; e = next) {
            next = e->next;
            mi_free(e->watchers);
            mi_free(e);
        }
    mi_free(t->buckets);
    mi_free(t);
    sh->watch = NULL;
}

static void grow(struct watch_table *t)
{
    size_t n = t->nbuckets * 2;
    struct watched_key **b = mi_calloc(n, sizeof(*b));
    if (!b)
        abort();
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct watched_key *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    mi_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* The link that points to key's entry (*link NULL if it has none). */
static struct watched_key **find(struct watch_table *t, const char *key, size_t klen, uint64_t h)
{
    struct watched_key **pp = &t->buckets[h & (t->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0))
        pp = &(*pp)->next;
    return pp;
}

static struct watcher *watcher_of(struct watched_key *e, uint64_t id)
{
    for (uint32_t i = 0; i < e->nwatchers; i++)
        if (e->watchers[i].id == id)
            return &e->watchers[i];
    return NULL;
}

void watch_add(struct shard *sh, struct slice key, uint64_t id, bool existed)
{
    struct watch_table *t = table_of(sh);
    uint64_t h = XXH3_64bits(key.ptr, key.len);
    struct watched_key *e = *find(t, key.ptr, key.len, h);
    if (!e) {
        if (t->count >= t->nbuckets)
            grow(t);
        e = mi_zalloc(sizeof(*e) + key.len);
        if (!e)
            abort();
        e->hash = h;
        e->klen = key.len;
        memcpy(e->key, key.ptr, key.len);
        size_t b = h & (t->nbuckets - 1);
        e->next = t->buckets[b];
        t->buckets[b] = e;
        t->count++;
    }
    if (watcher_of(e, id))
        return;
    if (e->nwatchers == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 2;
        e->watchers = mi_realloc(e->watchers, e->cap * sizeof(*e->watchers));
        if (!e->watchers)
            abort();
    }
    e->watchers[e->nwatchers++] = (struct watcher){ id, false, existed };
}

bool watch_touched(struct shard *sh, const struct slice *keys, int n, uint64_t id, int64_t now_ms)
{
    struct watch_table *t = sh->watch;
    for (int k = 0; k < n; k++) {
        struct watched_key *e = t ? *find(t, keys[k].ptr, keys[k].len, XXH3_64bits(keys[k].ptr, keys[k].len))
                                  : NULL;
        struct watcher *w = e ? watcher_of(e, id) : NULL;
        if (!w || w->touched)
            return true;
        /* live then, missing now: it expired with no DEL seen here yet
         * (store_peek deletes nothing, so the check changes no key) */
        if (w->existed && !store_peek(sh->store, keys[k], now_ms))
            return true;
    }
    return false;
}

void watch_forget(struct shard *sh, const struct slice *keys, int n, uint64_t id)
{
    struct watch_table *t = sh->watch;
    if (!t)
        return;
    for (int k = 0; k < n; k++) {
        struct watched_key **pp = find(t, keys[k].ptr, keys[k].len, XXH3_64bits(keys[k].ptr, keys[k].len));
        struct watched_key *e = *pp;
        struct watcher *w = e ? watcher_of(e, id) : NULL;
        if (!w)
            continue; /* the same key twice in the list, or forgotten already */
        *w = e->watchers[--e->nwatchers];
        if (e->nwatchers > 0)
            continue;
        *pp = e->next;
        t->count--;
        mi_free(e->watchers);
        mi_free(e);
    }
}

/* Touch the watchers of e; on a flush (existed_only) only those for whom
 * the key was live: for the others it did not exist and still does not
 * (one created meanwhile touched them already). */
static void touch(struct watched_key *e, bool existed_only)
{
    for (uint32_t i = 0; i < e->nwatchers; i++)
        if (!existed_only || e->watchers[i].existed)
            e->watchers[i].touched = true;
}

static void touch_all(struct watch_table *t, bool existed_only)
{
    for (size_t b = 0; b < t->nbuckets; b++)
        for (struct watched_key *e = t->buckets[b]; e; e = e->next)
            touch(e, existed_only);
}

void watch_changed(struct shard *sh, const struct journal_record *rec)
{
    struct watch_table *t = sh->watch;
    if (!t || t->count == 0)
        return; /* the common case: a load and a test */
    if (rec->op == JOURNAL_FLUSH) {
        touch_all(t, true);
        return;
    }
    struct watched_key *e = *find(t, rec->key.ptr, rec->key.len, XXH3_64bits(rec->key.ptr, rec->key.len));
    if (!e)
        return;
    /* the store deleting a key that had expired before a client watched
     * it: for that client nothing changed (Redis's expired watched key) */
    touch(e, rec->op == JOURNAL_DEL && rec->by_store);
}

void watch_flushed(struct shard *sh)
{
    if (sh->watch)
        touch_all(sh->watch, false);
}
