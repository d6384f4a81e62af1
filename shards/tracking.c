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
#include "shards/subscriptions.h"
#include "shards/tracking_node.h"

struct reader {
    uint64_t id;    /* first: key_clients' client id */
    int      shard; /* where its connection is */
};

/* BCAST: the keys changed here this turn for one client and one of its
 * prefixes, each with the client whose command changed it (NOLOOP). */
struct bcast_batch {
    uint64_t   id;
    int        home;
    struct buf prefix;
    struct buf keys;    /* each a uint32 length and its bytes */
    struct buf writers; /* a uint64_t client id (0: none) per key */
    int        nkeys;
    size_t     last;    /* where the last key starts in keys */
};

/* The keys tracking clients read here, each with its readers
 * (key_clients.h); BCAST's batches of this turn. */
struct tracking {
    struct key_clients  keys;
    size_t              items;    /* readers over all keys (tracking_total_items) */
    size_t              evict_at; /* bucket where the next eviction looks */
    uint64_t            writer;   /* the tracking client whose command runs now, or 0 */
    struct bcast_batch *batches;
    int                 nbatches, batches_cap;
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
    if (!on) {
        tracking_bcast_remove(sh, c);
        c->tracking_flags = 0;
        c->tracking_caching = false;
        c->tracking_redir = 0;
    }
    c->tracking = on;
    if (sh) {
        if (on)
            table_of(sh); /* a flush tells this shard's tracking clients */
        stat_add(&sh->stats.tracking_clients, on ? 1 : (uint64_t)-1);
    }
}

void tracking_enable(struct shard *sh, struct client *c, uint64_t redir, int redir_shard, unsigned options,
                     const struct slice *p, int n)
{
    tracking_client_set(sh, c, true);
    /* Redis's enableTracking: the options are set anew, the prefixes add up */
    c->tracking_flags = (uint8_t)(options & (TRACKING_BCAST | TRACKING_OPTIN | TRACKING_OPTOUT | TRACKING_NOLOOP));
    c->tracking_redir = redir;
    c->tracking_redir_shard = redir_shard;
    if (options & TRACKING_BCAST)
        tracking_bcast_add(sh, c, p, n);
}

void tracking_writer(struct shard *sh, uint64_t id)
{
    if (id)
        table_of(sh)->writer = id;
    else if (sh->tracking)
        sh->tracking->writer = 0;
}

static void batch_free(struct bcast_batch *b)
{
    buf_free(&b->prefix);
    buf_free(&b->keys);
    buf_free(&b->writers);
}

void tracking_free(struct shard *sh)
{
    struct tracking *t = sh->tracking;
    if (!t)
        return;
    key_clients_free(&t->keys);
    for (int i = 0; i < t->nbatches; i++)
        batch_free(&t->batches[i]);
    mi_free(t->batches);
    mi_free(t);
    sh->tracking = NULL;
}

size_t tracking_keys(const struct shard *sh)
{
    return sh->tracking ? sh->tracking->keys.count : 0;
}

/* ---- invalidation messages ------------------------------------------------ */

/* The connection of client id on this shard (a client's, not a replica's
 * feed), or NULL. */
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

static struct session *session_by_id(struct shard *sh, uint64_t id)
{
    struct find_session f = { id, NULL };
    shard_each_conn_view(sh, find_visit, &f);
    return f.s && f.s->conn ? f.s : NULL;
}

/* The channel a RESP2 connection hears redirected invalidations on. */
#define TRACKING_CHANNEL "__redis__:invalidate"

static void push_done(struct session *s)
{
    if (!s->head)
        conn_flush(s->conn); /* else it leaves when the replies before it do */
}

/* The invalidation of keys[0..nkeys) (nkeys 0: every key) written to s:
 * a push on RESP3; a pub/sub message for a RESP2 connection in pub/sub
 * mode that a client redirects to; nothing otherwise (a RESP2 client
 * tracking without REDIRECT: Redis has nowhere to send it either). */
static void emit(struct session *s, const struct slice *keys, int nkeys, bool redirected)
{
    struct reply r = { session_push_target(s), s->client.proto };
    if (s->client.proto == 3) {
        buf_append_str(r.out, ">2\r\n");
        reply_bulk_str(&r, "invalidate");
    } else if (redirected && pubsub_subscribed(s)) {
        reply_array(&r, 3);
        reply_bulk_str(&r, "message");
        reply_bulk_str(&r, TRACKING_CHANNEL);
    } else {
        return;
    }
    if (nkeys > 0) {
        reply_array(&r, (size_t)nkeys);
        for (int i = 0; i < nkeys; i++)
            reply_bulk(&r, keys[i].ptr, keys[i].len);
    } else {
        reply_null(&r);
    }
    push_done(s);
}

/* REDIRECT's target is gone: the tracking client is told so (RESP3), each
 * time an invalidation finds it gone, as Redis tells it. */
static void redirect_broken(struct session *s)
{
    s->client.tracking_flags |= TRACKING_BROKEN_REDIR;
    if (s->client.proto != 3)
        return;
    struct reply r = { session_push_target(s), 3 };
    buf_append_str(r.out, ">2\r\n");
    reply_bulk_str(&r, "tracking-redir-broken");
    reply_int(&r, (long long)s->client.tracking_redir);
    push_done(s);
}

/* At the REDIRECT target's shard: argv the keys (none: every key), value
 * the target's id, payload the tracking client's id; back home, value is
 * 0 if it was delivered, else the tracking client learns it is broken. */
static void redirect_message(struct shard *sh, struct shard_msg *m)
{
    if (!m->answered) {
        struct session *target = session_by_id(sh, m->value);
        if (target) {
            emit(target, m->argv, m->argc, true);
            m->value = 0;
        }
        m->answered = true;
        msg_post(sh, m, m->home);
        return;
    }
    uint64_t id;
    memcpy(&id, m->payload.data, sizeof id);
    struct session *s = m->value ? session_by_id(sh, id) : NULL;
    if (s && s->client.tracking && s->client.tracking_redir == m->value)
        redirect_broken(s);
    msg_free(m);
}

/* Tell the tracking client s, a connection of this shard, that keys
 * changed: on its own connection or where it redirects to. */
static void tell(struct shard *sh, struct session *s, const struct slice *keys, int nkeys)
{
    const struct client *c = &s->client;
    if (!s->conn || !c->tracking)
        return;
    if (!c->tracking_redir) {
        emit(s, keys, nkeys, false);
        return;
    }
    if (c->tracking_redir_shard == sh->id) {
        struct session *target = session_by_id(sh, c->tracking_redir);
        if (target)
            emit(target, keys, nkeys, true);
        else
            redirect_broken(s);
        return;
    }
    struct shard_msg *m = msg_create(0, sh->id, c->tracking_redir_shard, NULL, -1, keys, nkeys);
    m->handler = redirect_message;
    m->value = c->tracking_redir;
    buf_append(&m->payload, &c->id, sizeof c->id);
    msg_post(sh, m, c->tracking_redir_shard);
}

/* At the readers' shard: argv[0] is the key (argc 0: every key), payload
 * the client ids, value the tracking client whose command changed it (0:
 * none); back home: freed. */
static void tracking_message(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    const uint64_t *ids = (const uint64_t *)m->payload.data;
    size_t n = m->payload.len / sizeof(uint64_t);
    for (size_t i = 0; i < n; i++) {
        struct session *s = session_by_id(sh, ids[i]);
        if (!s || (s->client.tracking_flags & TRACKING_BCAST))
            continue; /* gone, or in BCAST mode since: its reads are no longer tracked */
        if ((s->client.tracking_flags & TRACKING_NOLOOP) && ids[i] == m->value)
            continue; /* its own change */
        tell(sh, s, m->argv, m->argc);
    }
    m->answered = true;
    msg_post(sh, m, m->home);
}

/* At a BCAST client's shard: argv the keys of one of its prefixes changed
 * on the sender's shard in one turn, payload the client's id and then the
 * writer of each key (NOLOOP); back home: freed. */
static void bcast_message(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    const uint64_t *ids = (const uint64_t *)m->payload.data;
    struct session *s = session_by_id(sh, ids[0]);
    if (s && s->client.tracking && (s->client.tracking_flags & TRACKING_BCAST)) {
        int n = m->argc;
        struct slice *keys = m->argv;
        if (s->client.tracking_flags & TRACKING_NOLOOP) {
            /* keep the keys others changed, in place */
            n = 0;
            for (int i = 0; i < m->argc; i++)
                if (ids[1 + i] != ids[0])
                    keys[n++] = m->argv[i];
        }
        if (n > 0)
            tell(sh, s, keys, n);
    }
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
        m->value = t->writer;
        msg_post(sh, m, target);
    }
}

/* ---- BCAST ------------------------------------------------------------------ */

/* Queue key for the client and prefix of entry e. */
static void bcast_queue(struct tracking *t, const struct bcast_entry *e, struct slice key)
{
    struct bcast_batch *b = NULL;
    for (int i = 0; i < t->nbatches && !b; i++) {
        struct bcast_batch *x = &t->batches[i];
        if (x->id == e->id && x->prefix.len == e->len && memcmp(x->prefix.data, e->prefix, e->len) == 0)
            b = x;
    }
    if (!b) {
        if (t->nbatches == t->batches_cap) {
            t->batches_cap = t->batches_cap ? t->batches_cap * 2 : 8;
            t->batches = mi_realloc(t->batches, (size_t)t->batches_cap * sizeof(struct bcast_batch));
            if (!t->batches)
                abort();
        }
        b = &t->batches[t->nbatches++];
        memset(b, 0, sizeof(*b));
        b->id = e->id;
        b->home = e->home;
        buf_append(&b->prefix, e->prefix, e->len);
    }
    uint32_t len = (uint32_t)key.len, last_len;
    if (b->nkeys > 0) {
        /* the key just queued changed again (a command's or a
         * transaction's several changes of one key): named once, by
         * whoever changed it (0, as Redis, when they differ) */
        memcpy(&last_len, b->keys.data + b->last, sizeof last_len);
        if (last_len == len && memcmp(b->keys.data + b->last + sizeof len, key.ptr, len) == 0) {
            uint64_t *w = (uint64_t *)(void *)(b->writers.data + b->writers.len - sizeof(uint64_t));
            if (*w != t->writer)
                *w = 0;
            return;
        }
    }
    b->last = b->keys.len;
    buf_append(&b->keys, &len, sizeof len);
    buf_append(&b->keys, key.ptr, key.len);
    buf_append(&b->writers, &t->writer, sizeof t->writer);
    b->nkeys++;
}

static __attribute__((noinline)) void bcast_changed(struct shard *sh, const struct bcast_table *bt,
                                                    struct slice key)
{
    struct tracking *t = NULL;
    for (size_t i = 0; i < bt->n; i++) {
        const struct bcast_entry *e = &bt->e[i];
        if (key.len >= e->len && memcmp(key.ptr, e->prefix, e->len) == 0) {
            if (!t)
                t = table_of(sh);
            bcast_queue(t, e, key);
        }
    }
}

/* End of the turn: each batch to its client's shard, one message each. */
static void tracking_turn(struct shard *sh)
{
    struct tracking *t = sh->tracking;
    if (!t || t->nbatches == 0)
        return;
    for (int i = 0; i < t->nbatches; i++) {
        struct bcast_batch *b = &t->batches[i];
        struct slice *keys = mi_malloc((size_t)b->nkeys * sizeof(struct slice));
        if (!keys)
            abort();
        size_t off = 0;
        for (int k = 0; k < b->nkeys; k++) {
            uint32_t len;
            memcpy(&len, b->keys.data + off, sizeof len);
            keys[k] = (struct slice){ b->keys.data + off + sizeof len, len };
            off += sizeof len + len;
        }
        struct shard_msg *m = msg_create(0, sh->id, b->home, NULL, -1, keys, b->nkeys);
        mi_free(keys);
        m->handler = bcast_message;
        buf_append(&m->payload, &b->id, sizeof b->id);
        buf_append(&m->payload, b->writers.data, b->writers.len);
        msg_post(sh, m, b->home);
        batch_free(b);
    }
    t->nbatches = 0;
}

static void tracking_node_teardown(struct node *n)
{
    tracking_node_free(n->tracking);
    n->tracking = NULL;
}

static const struct shard_module tracking_module = {
    .name = "tracking",
    .turn = tracking_turn,
    .node_teardown = tracking_node_teardown,
};

void tracking_attach(struct node *n)
{
    n->tracking = tracking_node_create();
    node_attach_module(n, &tracking_module);
}

void tracking_conn_opened(struct shard *sh, uint64_t id)
{
    if (sh->node->tracking)
        tracking_node_client_opened(sh->node->tracking, id, sh->id);
}

void tracking_conn_closed(struct shard *sh, uint64_t id)
{
    if (sh->node->tracking)
        tracking_node_client_closed(sh->node->tracking, id);
}

int tracking_conn_shard(struct shard *sh, uint64_t id)
{
    return sh && sh->node->tracking ? tracking_node_client_shard(sh->node->tracking, id) : -1;
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
    struct shard *sh = arg;
    if ((v->type == CLIENT_TYPE_NORMAL || v->type == CLIENT_TYPE_PUBSUB) && v->client->tracking)
        tell(sh, session_of_conn(c), NULL, 0);
}

void tracking_flushed(struct shard *sh)
{
    struct tracking *t = sh->tracking;
    if (!t)
        return; /* no client ever tracked a key of this shard */
    key_clients_clear(&t->keys);
    t->items = 0;
    publish(sh, t);
    shard_each_conn_view(sh, flush_visit, sh);
}

/* A change of a shard where some client tracks (the table exists). */
static __attribute__((noinline)) void tracked_change(struct shard *sh, struct tracking *t,
                                                     const struct journal_record *rec)
{
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

void tracking_changed(struct shard *sh, const struct journal_record *rec)
{
    /* the common case, nobody tracking: a few loads and tests */
    struct tracking_node *tn = sh->node->tracking;
    const struct bcast_table *bt = tn ? tracking_node_table(tn) : NULL;
    if (bt && rec->op != JOURNAL_FLUSH)
        bcast_changed(sh, bt, rec->key);
    if (sh->tracking)
        tracked_change(sh, sh->tracking, rec);
}
