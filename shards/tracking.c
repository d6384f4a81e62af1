/* tracking: the table of tracked keys on each shard and the invalidation
 * messages (tracking.h). */
#include "shards/tracking.h"

#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/reply.h"
#include "shards/conn_owner.h"
#include "shards/key_clients.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/session.h"
#include "shards/shard.h"

struct reader {
    uint64_t id;    /* first: key_clients' client id */
    int      shard; /* where its connection is */
};

/* The keys tracking clients read here, each with its readers
 * (key_clients.h). */
struct tracking {
    struct key_clients keys;
    size_t             items;    /* readers over all keys (tracking_total_items) */
    size_t             evict_at; /* bucket where the next eviction looks */
};

static struct tracking *table_of(struct shard *sh)
{
    if (!sh->tracking) {
        struct tracking *t = mi_zalloc(sizeof(*t));
        if (!t)
            abort();
        key_clients_init(&t->keys, sizeof(struct reader), 1024);
        sh->tracking = t;
    }
    return sh->tracking;
}

/* INFO's tracking_total_keys and tracking_total_items: this shard's part,
 * published as the table changes. */
static void publish(struct shard *sh, const struct tracking *t)
{
    __atomic_store_n(&sh->stats.tracking_keys, (uint64_t)t->keys.count, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->stats.tracking_items, (uint64_t)t->items, __ATOMIC_RELAXED);
}

/* Free an entry unlinked from t (its readers leave the item count). */
static void tracked_drop(struct tracking *t, struct key_clients_entry *e)
{
    t->items -= e->n;
    key_clients_entry_free(e);
}

void tracking_client_set(struct shard *sh, struct client *c, bool on)
{
    if (c->tracking == on)
        return;
    c->tracking = on;
    if (sh)
        stat_add(&sh->stats.tracking_clients, on ? 1 : (uint64_t)-1);
}

void tracking_free(struct shard *sh)
{
    struct tracking *t = sh->tracking;
    if (!t)
        return;
    key_clients_free(&t->keys);
    mi_free(t);
    sh->tracking = NULL;
}

size_t tracking_keys(const struct shard *sh)
{
    return sh->tracking ? sh->tracking->keys.count : 0;
}

/* ---- invalidation messages ------------------------------------------------ */

/* Push the invalidation of key (NULL: all keys) to the tracking client id
 * if its connection is on this shard and still tracks. */
struct find_session {
    uint64_t        id;
    struct session *s;
};

static void find_visit(void *arg, struct conn *c, const struct conn_view *v)
{
    struct find_session *f = arg;
    if (v->client->id == f->id && (v->type == CLIENT_TYPE_NORMAL || v->type == CLIENT_TYPE_PUBSUB))
        f->s = session_of_conn(c);
}

static void push_invalidation(struct session *s, const struct slice *key)
{
    if (!s->conn || !s->client.tracking || s->client.proto != 3)
        return; /* gone, tracking off, or back to RESP2 (HELLO 2): no pushes */
    struct reply r = { session_push_target(s), 3 };
    buf_append_str(r.out, ">2\r\n");
    reply_bulk_str(&r, "invalidate");
    if (key) {
        reply_array(&r, 1);
        reply_bulk(&r, key->ptr, key->len);
    } else {
        reply_null(&r);
    }
    if (!s->head)
        conn_flush(s->conn); /* else it leaves when the replies before it do */
}

static void deliver(struct shard *sh, const uint64_t *ids, size_t n, const struct slice *key)
{
    for (size_t i = 0; i < n; i++) {
        struct find_session f = { ids[i], NULL };
        shard_each_conn_view(sh, find_visit, &f);
        if (f.s)
            push_invalidation(f.s, key);
    }
}

/* At the readers' shard: argv[0] is the key (argc 0: every key), payload
 * the client ids; back home: freed. */
static void tracking_message(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    deliver(sh, (const uint64_t *)m->payload.data, m->payload.len / sizeof(uint64_t),
            m->argc ? &m->argv[0] : NULL);
    m->answered = true;
    msg_post(sh, m, m->home);
}

/* Tell every reader of e that its key changed. */
static void invalidate(struct shard *sh, const struct tracking *t, const struct key_clients_entry *e)
{
    struct slice key = { e->key, e->klen };
    int nshards = sh->node->nshards;
    for (int target = 0; target < nshards; target++) {
        struct buf ids;
        buf_init(&ids);
        for (uint32_t i = 0; i < e->n; i++) {
            const struct reader *r = key_clients_at(&t->keys, e, i);
            if (r->shard == target)
                buf_append(&ids, &r->id, sizeof(uint64_t));
        }
        if (ids.len == 0)
            continue;
        /* to this shard too, as a message: handled next turn, after the
         * reply of the write (a client's own write: its reply first, then
         * the invalidation, as Redis orders them) */
        struct shard_msg *m = msg_create(0, sh->id, target, NULL, -1, &key, 1);
        m->handler = tracking_message;
        m->payload = ids;
        msg_post(sh, m, target);
    }
}

/* ---- reads and changes ---------------------------------------------------- */

/* Evict entries until the shard is within its share of
 * tracking-table-max-keys, invalidating their readers. */
static void evict(struct shard *sh, struct tracking *t)
{
    long long max = config_load(&sh->node->config, tracking_table_max_keys);
    if (max <= 0)
        return; /* 0: no limit, as in Redis */
    size_t share = (size_t)max / (size_t)sh->node->nshards;
    if (share == 0)
        share = 1;
    while (t->keys.count > share) {
        struct key_clients_entry *e = key_clients_take_any(&t->keys, &t->evict_at);
        invalidate(sh, t, e);
        tracked_drop(t, e);
    }
}

static void remember(struct tracking *t, struct slice key, uint64_t id, int home)
{
    bool added;
    struct reader *r = key_clients_attach(&t->keys, key_clients_add(&t->keys, key.ptr, key.len), id, &added);
    if (added) {
        r->shard = home;
        t->items++;
    }
}

void tracking_read(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv,
                   uint64_t id, int home)
{
    int small[16];
    int *idx = small;
    int n = command_keys(cmd, argc, argv, idx, 16);
    if (n > 16) {
        idx = mi_malloc(sizeof(int) * (size_t)n);
        if (!idx)
            abort();
        command_keys(cmd, argc, argv, idx, n);
    }
    if (n == 0)
        return; /* no keys (KEYS, DBSIZE): nothing to remember */
    struct tracking *t = table_of(sh);
    for (int k = 0; k < n; k++)
        remember(t, argv[idx[k]], id, home);
    if (idx != small)
        mi_free(idx);
    evict(sh, t);
    publish(sh, t);
}

/* A flush: every tracking connection of this shard is told all its keys
 * changed (each shard flushes its own store, FLUSHALL and a replica's full
 * sync on every shard, so each client hears it once). */
static void flush_visit(void *arg, struct conn *c, const struct conn_view *v)
{
    (void)arg;
    if (v->type == CLIENT_TYPE_NORMAL || v->type == CLIENT_TYPE_PUBSUB)
        push_invalidation(session_of_conn(c), NULL);
}

void tracking_flushed(struct shard *sh)
{
    struct tracking *t = sh->tracking;
    if (!t)
        return; /* no client ever tracked a key of this shard */
    key_clients_clear(&t->keys);
    t->items = 0;
    publish(sh, t);
    shard_each_conn_view(sh, flush_visit, NULL);
}

void tracking_changed(struct shard *sh, const struct journal_record *rec)
{
    struct tracking *t = sh->tracking;
    if (!t)
        return; /* the common case: one load and a test */
    if (rec->op == JOURNAL_FLUSH) {
        tracking_flushed(sh);
        return;
    }
    if (t->keys.count == 0)
        return;
    struct key_clients_entry *e = key_clients_take(&t->keys, rec->key.ptr, rec->key.len);
    if (!e)
        return;
    invalidate(sh, t, e);
    tracked_drop(t, e);
    publish(sh, t);
}
