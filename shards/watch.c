/* watch: the table of watched keys on each shard (watch.h). */
#include "shards/watch.h"

#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>

#include "shards/key_clients.h"
#include "shards/shard.h"

struct watcher {
    uint64_t id; /* first: key_clients' client id */
    bool     touched;
    bool     existed;
};

/* The keys clients watch here, each with its watchers (key_clients.h). */
struct watch_table {
    struct key_clients keys;
};

static struct watch_table *table_of(struct shard *sh)
{
    if (!sh->watch) {
        struct watch_table *t = mi_zalloc(sizeof(*t));
        if (!t)
            abort();
        key_clients_init(&t->keys, sizeof(struct watcher), 64);
        sh->watch = t;
    }
    return sh->watch;
}

void watch_free(struct shard *sh)
{
    struct watch_table *t = sh->watch;
    if (!t)
        return;
    key_clients_free(&t->keys);
    mi_free(t);
    sh->watch = NULL;
}

/* The watcher id of key, or NULL. */
static struct watcher *watcher_of(struct watch_table *t, struct slice key, uint64_t id)
{
    struct key_clients_entry *e = t ? key_clients_find(&t->keys, key.ptr, key.len) : NULL;
    return e ? key_clients_item(&t->keys, e, id) : NULL;
}

void watch_add(struct shard *sh, struct slice key, uint64_t id, bool existed)
{
    struct watch_table *t = table_of(sh);
    bool added;
    struct watcher *w = key_clients_attach(&t->keys, key_clients_add(&t->keys, key.ptr, key.len), id, &added);
    if (added)
        w->existed = existed;
}

bool watch_touched(struct shard *sh, const struct slice *keys, int n, uint64_t id, int64_t now_ms)
{
    for (int k = 0; k < n; k++) {
        struct watcher *w = watcher_of(sh->watch, keys[k], id);
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
        struct key_clients_entry *e = key_clients_find(&t->keys, keys[k].ptr, keys[k].len);
        struct watcher *w = e ? key_clients_item(&t->keys, e, id) : NULL;
        if (!w)
            continue; /* the same key twice in the list, or forgotten already */
        key_clients_detach(&t->keys, e, w);
        if (e->n == 0)
            key_clients_entry_free(key_clients_take(&t->keys, keys[k].ptr, keys[k].len));
    }
}

/* Touch the watchers of e; on a flush (existed_only) only those for whom
 * the key was live: for the others it did not exist and still does not
 * (one created meanwhile touched them already). */
static void touch(const struct watch_table *t, const struct key_clients_entry *e, bool existed_only)
{
    for (uint32_t i = 0; i < e->n; i++) {
        struct watcher *w = key_clients_at(&t->keys, e, i);
        if (!existed_only || w->existed)
            w->touched = true;
    }
}

static void touch_all(const struct watch_table *t, bool existed_only)
{
    KEY_CLIENTS_EACH(&t->keys, e)
        touch(t, e, existed_only);
}

void watch_changed(struct shard *sh, const struct journal_record *rec)
{
    struct watch_table *t = sh->watch;
    if (!t || t->keys.count == 0)
        return; /* the common case: a load and a test */
    if (rec->op == JOURNAL_FLUSH) {
        touch_all(t, true);
        return;
    }
    struct key_clients_entry *e = key_clients_find(&t->keys, rec->key.ptr, rec->key.len);
    if (!e)
        return;
    /* the store deleting a key that had expired before a client watched
     * it: for that client nothing changed (Redis's expired watched key) */
    touch(t, e, rec->op == JOURNAL_DEL && rec->by_store);
}

void watch_flushed(struct shard *sh)
{
    if (sh->watch)
        touch_all(sh->watch, false);
}
