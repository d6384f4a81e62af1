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

/* The name of (db, key) (watch.h): into small, or a mi_malloc'd buffer
 * (*big, to free) for a long key. */
static struct slice name_make(char *small, size_t cap, char **big, int db, struct slice key)
{
    size_t n = WATCH_DB_BYTES + key.len;
    char *p = small;
    *big = NULL;
    if (n > cap) {
        p = *big = mi_malloc(n);
        if (!p)
            abort();
    }
    int32_t d = db;
    memcpy(p, &d, WATCH_DB_BYTES);
    memcpy(p + WATCH_DB_BYTES, key.ptr, key.len);
    return (struct slice){ p, n };
}

void watch_add(struct shard *sh, int db, struct slice key, uint64_t id, bool existed)
{
    struct watch_table *t = table_of(sh);
    char small[256], *big;
    struct slice name = name_make(small, sizeof(small), &big, db, key);
    bool added;
    struct watcher *w = key_clients_attach(&t->keys, key_clients_add(&t->keys, name.ptr, name.len), id, &added);
    if (added)
        w->existed = existed;
    mi_free(big);
}

bool watch_touched(struct shard *sh, const struct slice *keys, int n, uint64_t id, int64_t now_ms)
{
    for (int k = 0; k < n; k++) {
        struct watcher *w = watcher_of(sh->watch, keys[k], id);
        if (!w || w->touched)
            return true;
        /* live then, missing now: it expired with no DEL seen here yet
         * (store_peek deletes nothing, so the check changes no key) */
        if (w->existed && !store_peek(shard_db(sh, watch_db_of(keys[k])), watch_key_of(keys[k]), now_ms))
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

/* The watched keys of database db (a flush of it). */
static void touch_db(const struct watch_table *t, int db)
{
    KEY_CLIENTS_EACH(&t->keys, e) {
        int32_t d;
        memcpy(&d, e->key, WATCH_DB_BYTES);
        if (d == db)
            touch(t, e, true);
    }
}

void watch_dbs_swapped(struct shard *sh, int a, int b, int64_t now_ms)
{
    const struct watch_table *t = sh->watch;
    if (!t || t->keys.count == 0)
        return;
    KEY_CLIENTS_EACH(&t->keys, e) {
        int32_t d;
        memcpy(&d, e->key, WATCH_DB_BYTES);
        if (d != a && d != b)
            continue;
        struct slice key = { e->key + WATCH_DB_BYTES, e->klen - WATCH_DB_BYTES };
        if (store_peek(shard_db(sh, a), key, now_ms) || store_peek(shard_db(sh, b), key, now_ms))
            touch(t, e, false);
    }
}

void watch_changed(struct shard *sh, const struct journal_record *rec)
{
    struct watch_table *t = sh->watch;
    if (!t || t->keys.count == 0)
        return; /* the common case: a load and a test */
    if (rec->op == JOURNAL_FLUSH) {
        touch_db(t, rec->db);
        return;
    }
    char small[256], *big;
    struct slice name = name_make(small, sizeof(small), &big, rec->db, rec->key);
    struct key_clients_entry *e = key_clients_find(&t->keys, name.ptr, name.len);
    mi_free(big);
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
