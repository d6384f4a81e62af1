#include "dispatch.h"

#include <arpa/inet.h>
#include <mimalloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/command.h"
#include "../core/config.h"
#include "../core/log.h"
#include "../core/numbers.h"
#include "../core/reply.h"
#include "../core/resp.h"
#include "mailbox.h"
#include "node.h"
#include "slot.h"
#include "store.h"

/* ---- time --------------------------------------------------------------- */

int64_t clock_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void shard_clock_start(struct shard *sh, bool refresh)
{
    if (refresh) {
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        uint64_t mono = clock_mono_ns();
        sh->unix_offset_ns = ((int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec) - (int64_t)mono;
        sh->clock_ns = mono;
        return;
    }
    sh->clock_ns = clock_mono_ns();
}

/* ---- sessions and their ordered replies --------------------------------- */

/* The most replies a connection may have waiting on other shards, and the
 * most unsent output, before its input stops being read. */
#define MAX_PENDING 4096

enum pending_stage {
    STAGE_READY,   /* out holds the reply */
    STAGE_EXEC,    /* waiting for one shard's reply (lands in out) */
    STAGE_MERGE,   /* waiting for parts, then cmd->merge */
    STAGE_EXPORT,  /* scratch: waiting for copies of the keys */
    STAGE_APPLY,   /* scratch: waiting for owners to apply the writes */
};

struct session;

/* One reply in a connection's reply queue. */
struct pending {
    struct pending        *next;
    struct session        *session;
    enum pending_stage     stage;
    int                    waiting;     /* messages not back yet */
    struct buf             out;
    const struct command  *cmd;
    int                    nparts;
    struct buf            *parts;
    int                   *part_of_key;
    int                    nkeys;
    /* scratch commands: a copy of the command, run once the keys are here */
    int                    argc;
    struct slice          *argv;
    void                  *argv_mem;    /* the allocation argv lives in */
    int                   *part_shard;  /* shard of each part */
};

struct session {
    struct conn        *conn;     /* NULL once the connection is closed */
    struct shard       *shard;
    struct client       client;
    struct resp_parser  parser;
    struct pending     *head, *tail;
    int                 npending;
    int                 inflight; /* messages out for this session */
    bool                blocked;  /* a scratch command runs: read nothing more */
    const struct command *last_cmd; /* the row client.last_cmd names */
    bool                backpressured;
};

enum msg_kind { MSG_EXEC, MSG_EXPORT, MSG_APPLY };

struct shard_msg {
    struct shard_msg     *next;   /* overflow FIFO */
    enum msg_kind         kind;
    int                   home;   /* sender, who frees it */
    int                   target;
    int                   proto;
    uint64_t              caller_id;
    struct pending       *pending;
    int                   part;   /* index into pending->parts, or -1 */
    const struct command *cmd;
    int                   argc;   /* EXEC: the command; EXPORT: the keys */
    struct slice         *argv;
    struct buf            payload; /* APPLY: the records */
    struct buf            reply;   /* written by the target */
};

static struct mailbox *mailbox_of(const struct node *n, int from, int to);

static struct pending *pending_add(struct session *s, enum pending_stage stage)
{
    struct pending *p = mi_zalloc(sizeof(*p));
    p->session = s;
    p->stage = stage;
    if (s->tail)
        s->tail->next = p;
    else
        s->head = p;
    s->tail = p;
    s->npending++;
    return p;
}

static void pending_free(struct pending *p)
{
    buf_free(&p->out);
    if (p->parts)
        for (int i = 0; i < p->nparts; i++)
            buf_free(&p->parts[i]);
    mi_free(p->parts);
    mi_free(p->part_of_key);
    mi_free(p->argv_mem);
    mi_free(p->part_shard);
    mi_free(p);
}

static void session_free(struct session *s)
{
    for (struct pending *p = s->head, *next; p; p = next) {
        next = p->next;
        pending_free(p);
    }
    resp_parser_deinit(&s->parser);
    mi_free(s);
}

static void maybe_unpause(struct session *s);

/* Move the ready prefix of the reply queue to the connection's output. */
static void session_drain(struct session *s)
{
    bool moved = false;
    while (s->head && s->head->stage == STAGE_READY) {
        struct pending *p = s->head;
        s->head = p->next;
        if (!s->head)
            s->tail = NULL;
        s->npending--;
        if (s->conn && p->out.len) {
            if (s->conn->out.len == 0 && s->conn->out.cap < p->out.cap) {
                struct buf t = s->conn->out;
                s->conn->out = p->out;
                p->out = t;
            } else {
                buf_append(&s->conn->out, p->out.data, p->out.len);
            }
            moved = true;
        }
        pending_free(p);
    }
    if (!s->conn)
        return;
    if (s->client.close_after_reply && !s->head)
        conn_close(s->conn, true);
    else if (moved)
        conn_flush(s->conn);
    maybe_unpause(s);
}

/* Where the reply of a command run now goes: straight to the output when
 * nothing waits ahead of it, else to a ready entry at the queue's tail. */
static struct buf *reply_target(struct session *s)
{
    if (!s->head)
        return &s->conn->out;
    if (s->tail->stage == STAGE_READY)
        return &s->tail->out;
    return &pending_add(s, STAGE_READY)->out;
}

/* ---- running a command on this shard ------------------------------------ */

static size_t shard_memory_limit(const struct shard *sh)
{
    long long max = config_load(&sh->node->config, maxmemory);
    if (max <= 0)
        return 0;
    return (size_t)max / (size_t)sh->node->nshards;
}

static void publish_store_stats(struct shard *sh)
{
    struct shard_stats *st = &sh->stats;
    const struct store_stats *ss = store_get_stats(sh->store);
    __atomic_store_n(&st->keys, store_count(sh->store), __ATOMIC_RELAXED);
    __atomic_store_n(&st->expires, ss->expires, __ATOMIC_RELAXED);
    __atomic_store_n(&st->used_memory, store_used_memory(sh->store), __ATOMIC_RELAXED);
    __atomic_store_n(&st->expired_keys, ss->expired_keys, __ATOMIC_RELAXED);
    __atomic_store_n(&st->evicted_keys, ss->evicted_keys, __ATOMIC_RELAXED);
    __atomic_store_n(&st->keyspace_hits, ss->keyspace_hits, __ATOMIC_RELAXED);
    __atomic_store_n(&st->keyspace_misses, ss->keyspace_misses, __ATOMIC_RELAXED);
}

/* Run cmd on this shard against store, appending its one reply to out. */
static void run_command(struct shard *sh, struct store *store, const struct command *cmd,
                        int argc, const struct slice *argv, struct buf *out, int proto,
                        struct client *client, uint64_t caller_id)
{
    struct reply r = { out, proto };
    int64_t now = shard_now_ms(sh);
    size_t start = out->len;
    if ((cmd->flags & CMD_DENYOOM) && store == sh->store) {
        long long policy = config_load(&sh->node->config, maxmemory_policy);
        if (!store_make_room(store, shard_memory_limit(sh), (enum evict_policy)policy, now)) {
            reply_error(&r, ERR_OOM);
            stats_command_rejected(&sh->stats, cmd->index);
            stat_add(&sh->stats.total_error_replies, 1);
            return;
        }
    }
    if (cmd->flags & CMD_CONN)
        publish_store_stats(sh);
    struct exec_ctx ctx = {
        .shard = sh, .store = store, .reply = &r, .argc = argc, .argv = argv,
        .client = client, .now_ms = now, .caller_id = caller_id,
    };
    cmd->fn(&ctx);
    /* one clock read per command: it ends this one and starts the next */
    uint64_t t1 = clock_mono_ns();
    uint64_t usec = (t1 - sh->clock_ns) / 1000;
    sh->clock_ns = t1;
    bool failed = out->len > start && out->data[start] == '-';
    stats_command_done(&sh->stats, cmd->index, usec, failed);
    if (failed)
        stat_add(&sh->stats.total_error_replies, 1);
    long long slower = config_load(&sh->node->config, slowlog_slower_than);
    if (slower >= 0 && (long long)usec >= slower)
        slowlog_maybe_add(&sh->slowlog, slower, (size_t)config_load(&sh->node->config, slowlog_max_len),
                          now / 1000, usec, argc, argv, client ? client->addr : "",
                          client ? client->name : "");
}

/* ---- messages ------------------------------------------------------------ */

static struct mailbox *mailbox_of(const struct node *n, int from, int to);

/* A message carrying a copy of argv (argv[0] .. argv[argc-1], or the
 * selected arguments when idx is given). */
static struct shard_msg *msg_create(enum msg_kind kind, int home, int target, struct pending *p,
                                    int part, const struct slice *args, int argc)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += args[i].len + 1;
    struct shard_msg *m = mi_malloc(sizeof(*m) + sizeof(struct slice) * (size_t)argc + bytes);
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->home = home;
    m->target = target;
    m->pending = p;
    m->part = part;
    m->argc = argc;
    m->argv = (struct slice *)(m + 1);
    char *d = (char *)(m->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(d, args[i].ptr, args[i].len);
        d[args[i].len] = '\0';
        m->argv[i].ptr = d;
        m->argv[i].len = args[i].len;
        d += args[i].len + 1;
    }
    return m;
}

static void msg_free(struct shard_msg *m)
{
    buf_free(&m->payload);
    buf_free(&m->reply);
    mi_free(m);
}

/* Queue m for its target (requests) or its home (answers). */
static void post(struct shard *sh, struct shard_msg *m, int to)
{
    struct mailbox *mb = mailbox_of(sh->node, sh->id, to);
    m->next = NULL;
    if (sh->overflow_head[to] || !mailbox_push(mb, m)) {
        if (sh->overflow_tail[to])
            sh->overflow_tail[to]->next = m;
        else
            sh->overflow_head[to] = m;
        sh->overflow_tail[to] = m;
    }
    sh->posted[to] = true;
}

static void send_request(struct shard *sh, struct session *s, struct shard_msg *m)
{
    m->proto = s->client.proto;
    m->caller_id = s->client.id;
    s->inflight++;
    stat_add(&sh->stats.cross_shard_requests, 1);
    post(sh, m, m->target);
}

/* ---- export / apply (scratch commands) ---------------------------------- */

static void put_u32(struct buf *b, uint32_t v) { buf_append(b, &v, 4); }
static void put_i64(struct buf *b, int64_t v) { buf_append(b, &v, 8); }
static uint32_t get_u32(const char **p) { uint32_t v; memcpy(&v, *p, 4); *p += 4; return v; }
static int64_t get_i64(const char **p) { int64_t v; memcpy(&v, *p, 8); *p += 8; return v; }

/* For each key: u8 present, then i64 expiry, u32 length, value bytes. */
static void export_keys(struct store *st, int nkeys, const struct slice *keys, struct buf *out, int64_t now)
{
    for (int i = 0; i < nkeys; i++) {
        struct entry *e = store_peek(st, keys[i], now);
        char present = e != NULL;
        buf_append(out, &present, 1);
        if (!e)
            continue;
        put_i64(out, entry_expire_at(e));
        put_u32(out, (uint32_t)entry_value_len(e));
        buf_append(out, entry_value(e), entry_value_len(e));
    }
}

/* Records: u8 op, u32 key length, key, then per op: SET u32 len + value +
 * i64 expiry; EXPIRE i64. */
static void record_encode(struct buf *b, const struct journal_record *r)
{
    char op = (char)r->op;
    buf_append(b, &op, 1);
    put_u32(b, (uint32_t)r->key.len);
    buf_append(b, r->key.ptr, r->key.len);
    if (r->op == JOURNAL_SET) {
        put_u32(b, (uint32_t)r->value.len);
        buf_append(b, r->value.ptr, r->value.len);
        put_i64(b, r->expire_at_ms);
    } else if (r->op == JOURNAL_EXPIRE) {
        put_i64(b, r->expire_at_ms);
    }
}

static void apply_records(struct store *st, const struct buf *b, int64_t now)
{
    const char *p = b->data, *end = b->data + b->len;
    while (p < end) {
        enum journal_op op = (enum journal_op)*p++;
        uint32_t klen = get_u32(&p);
        struct slice key = { p, klen };
        p += klen;
        if (op == JOURNAL_SET) {
            uint32_t vlen = get_u32(&p);
            const char *val = p;
            p += vlen;
            int64_t at = get_i64(&p);
            store_set(st, key, val, vlen, at);
        } else if (op == JOURNAL_DEL) {
            store_delete(st, key);
        } else if (op == JOURNAL_EXPIRE || op == JOURNAL_PERSIST) {
            int64_t at = op == JOURNAL_EXPIRE ? get_i64(&p) : 0;
            struct entry *e = store_peek(st, key, now);
            if (e)
                store_set_expire(st, e, at, now);
        }
    }
}

struct capture {
    bool        on;
    struct shard *sh;
    struct buf *per_shard; /* records for each owner shard */
};

static void capture_hook(void *arg, const struct journal_record *r)
{
    struct capture *c = arg;
    if (!c->on || r->op == JOURNAL_FLUSH)
        return;
    int owner = shard_of_slot(c->sh->node, key_slot(r->key.ptr, r->key.len));
    record_encode(&c->per_shard[owner], r);
}

/* All copies are in: run the command on a scratch store, then send the
 * writes it made to their owners. */
static void scratch_run(struct shard *sh, struct pending *p)
{
    struct session *s = p->session;
    int n = sh->node->nshards;
    struct capture cap = { false, sh, mi_calloc((size_t)n, sizeof(struct buf)) };
    struct store *scratch = store_create(NULL, capture_hook, &cap);
    int64_t now = shard_now_ms(sh);
    /* import: the keys of part i are in key order among those with
     * part_of_key == i */
    const struct command *cmd = p->cmd;
    int nk = p->nkeys;
    int *idx = mi_malloc(sizeof(int) * (size_t)nk);
    command_keys(cmd, p->argc, p->argv, idx, nk);
    const char **cursor = mi_calloc((size_t)p->nparts, sizeof(char *));
    for (int i = 0; i < p->nparts; i++)
        cursor[i] = p->parts[i].data;
    for (int k = 0; k < nk; k++) {
        int part = p->part_of_key[k];
        const char *q = cursor[part];
        if (!q || q >= p->parts[part].data + p->parts[part].len)
            continue;
        char present = *q++;
        if (present) {
            int64_t at = get_i64(&q);
            uint32_t vlen = get_u32(&q);
            if (!store_peek(scratch, p->argv[idx[k]], now))
                store_set(scratch, p->argv[idx[k]], q, vlen, at);
            q += vlen;
        }
        cursor[part] = q;
    }
    mi_free(cursor);
    mi_free(idx);
    cap.on = true;
    run_command(sh, scratch, cmd, p->argc, p->argv, &p->out, s->client.proto, NULL, s->client.id);
    cap.on = false;
    store_destroy(scratch);
    p->stage = STAGE_APPLY;
    p->waiting = 0;
    for (int t = 0; t < n; t++) {
        if (cap.per_shard[t].len == 0)
            continue;
        if (t == sh->id) {
            apply_records(sh->store, &cap.per_shard[t], now);
            buf_free(&cap.per_shard[t]);
            continue;
        }
        struct shard_msg *m = msg_create(MSG_APPLY, sh->id, t, p, -1, NULL, 0);
        m->payload = cap.per_shard[t];
        p->waiting++;
        send_request(sh, s, m);
    }
    mi_free(cap.per_shard);
    if (p->waiting == 0)
        p->stage = STAGE_READY;
}

/* A pending entry got its last answer. */
static void pending_complete(struct shard *sh, struct pending *p)
{
    struct session *s = p->session;
    switch (p->stage) {
    case STAGE_MERGE: {
        struct reply r = { &p->out, s->client.proto };
        struct merge_input in = { p->parts, p->nparts, p->part_of_key, p->nkeys };
        p->cmd->merge(&r, &in);
        p->stage = STAGE_READY;
        break;
    }
    case STAGE_EXPORT:
        scratch_run(sh, p);
        break;
    case STAGE_EXEC:
    case STAGE_APPLY:
        p->stage = STAGE_READY;
        break;
    case STAGE_READY:
        break;
    }
    if (p->stage == STAGE_READY && p->argv_mem && s->blocked) {
        /* a scratch command finished: the connection may go on */
        s->blocked = false;
        if (s->conn)
            conn_resume(s->conn);
    }
}

static void handle_answer(struct shard *sh, struct shard_msg *m)
{
    struct pending *p = m->pending;
    struct session *s = p->session;
    s->inflight--;
    if (m->kind == MSG_EXEC || m->kind == MSG_EXPORT) {
        struct buf *dst = m->part >= 0 ? &p->parts[m->part] : &p->out;
        struct buf t = *dst;
        *dst = m->reply;
        m->reply = t;
    }
    msg_free(m);
    if (--p->waiting == 0)
        pending_complete(sh, p);
    if (!s->conn) {
        if (s->inflight == 0)
            session_free(s);
        return;
    }
    session_drain(s);
}

static void handle_request(struct shard *sh, struct shard_msg *m)
{
    int64_t now = shard_now_ms(sh);
    switch (m->kind) {
    case MSG_EXEC:
        run_command(sh, sh->store, m->cmd, m->argc, m->argv, &m->reply, m->proto, NULL, m->caller_id);
        break;
    case MSG_EXPORT:
        export_keys(sh->store, m->argc, m->argv, &m->reply, now);
        break;
    case MSG_APPLY:
        apply_records(sh->store, &m->payload, now);
        break;
    }
    post(sh, m, m->home);
}

static struct mailbox *mailbox_of(const struct node *n, int from, int to);

/* ---- routing -------------------------------------------------------------- */

static int key_shard(const struct shard *sh, struct slice key)
{
    return shard_of_slot(sh->node, key_slot(key.ptr, key.len));
}

/* Every shard runs the command; the merge combines. */
static void route_all_shards(struct shard *sh, struct session *s, const struct command *cmd,
                             int argc, const struct slice *argv)
{
    int n = sh->node->nshards;
    struct pending *p = pending_add(s, STAGE_MERGE);
    p->cmd = cmd;
    p->nparts = n;
    p->parts = mi_calloc((size_t)n, sizeof(struct buf));
    for (int t = 0; t < n; t++) {
        if (t == sh->id)
            continue;
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, t, p, t, argv, argc);
        m->cmd = cmd;
        p->waiting++;
        send_request(sh, s, m);
    }
    run_command(sh, sh->store, cmd, argc, argv, &p->parts[sh->id], s->client.proto, &s->client, s->client.id);
    if (p->waiting == 0)
        pending_complete(sh, p);
}

/* Keys over several shards, command splittable: one sub-command per shard
 * with that shard's keys (each key with the key_step-1 arguments after it). */
static void route_split(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                        const struct slice *argv, const int *idx, const int *owner, int nk)
{
    int n = sh->node->nshards;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    int *part_of_shard = mi_malloc(sizeof(int) * (size_t)n);
    for (int t = 0; t < n; t++)
        part_of_shard[t] = -1;
    struct pending *p = pending_add(s, STAGE_MERGE);
    p->cmd = cmd;
    p->nkeys = nk;
    p->part_of_key = mi_malloc(sizeof(int) * (size_t)nk);
    int *part_shard = mi_malloc(sizeof(int) * (size_t)n);
    for (int k = 0; k < nk; k++) {
        int t = owner[k];
        if (part_of_shard[t] < 0) {
            part_of_shard[t] = p->nparts;
            part_shard[p->nparts] = t;
            p->nparts++;
        }
        p->part_of_key[k] = part_of_shard[t];
    }
    p->parts = mi_calloc((size_t)p->nparts, sizeof(struct buf));
    struct slice *sub = mi_malloc(sizeof(struct slice) * (size_t)argc);
    int local_part = -1;
    int local_argc = 0;
    struct slice *local_argv = NULL;
    for (int part = 0; part < p->nparts; part++) {
        int t = part_shard[part];
        int sc = 0;
        for (int i = 0; i < cmd->first_key; i++)
            sub[sc++] = argv[i];
        for (int k = 0; k < nk; k++)
            if (owner[k] == t)
                for (int j = 0; j < step && idx[k] + j < argc; j++)
                    sub[sc++] = argv[idx[k] + j];
        for (int i = idx[nk - 1] + step; i < argc; i++)
            sub[sc++] = argv[i];
        if (t == sh->id) {
            local_part = part;
            local_argc = sc;
            local_argv = mi_malloc(sizeof(struct slice) * (size_t)sc);
            memcpy(local_argv, sub, sizeof(struct slice) * (size_t)sc);
            continue;
        }
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, t, p, part, sub, sc);
        m->cmd = cmd;
        p->waiting++;
        send_request(sh, s, m);
    }
    if (local_part >= 0) {
        run_command(sh, sh->store, cmd, local_argc, local_argv, &p->parts[local_part],
                    s->client.proto, &s->client, s->client.id);
        mi_free(local_argv);
    }
    mi_free(sub);
    mi_free(part_shard);
    mi_free(part_of_shard);
    if (p->waiting == 0)
        pending_complete(sh, p);
}

/* Keys over several shards, not splittable: fetch copies, run here. */
static void route_scratch(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                          const struct slice *argv, const int *idx, const int *owner, int nk)
{
    int n = sh->node->nshards;
    struct pending *p = pending_add(s, STAGE_EXPORT);
    p->cmd = cmd;
    p->nkeys = nk;
    /* keep a copy of the command: the input buffer moves on */
    struct shard_msg *copy = msg_create(MSG_EXEC, sh->id, sh->id, NULL, -1, argv, argc);
    p->argc = argc;
    p->argv = copy->argv;
    p->argv_mem = copy;
    const struct slice *args = copy->argv;
    p->part_of_key = mi_malloc(sizeof(int) * (size_t)nk);
    p->part_shard = mi_malloc(sizeof(int) * (size_t)n);
    int *part_of_shard = mi_malloc(sizeof(int) * (size_t)n);
    for (int t = 0; t < n; t++)
        part_of_shard[t] = -1;
    for (int k = 0; k < nk; k++) {
        int t = owner[k];
        if (part_of_shard[t] < 0) {
            part_of_shard[t] = p->nparts;
            p->part_shard[p->nparts++] = t;
        }
        p->part_of_key[k] = part_of_shard[t];
    }
    p->parts = mi_calloc((size_t)p->nparts, sizeof(struct buf));
    struct slice *keys = mi_malloc(sizeof(struct slice) * (size_t)nk);
    for (int part = 0; part < p->nparts; part++) {
        int t = p->part_shard[part];
        int kc = 0;
        for (int k = 0; k < nk; k++)
            if (owner[k] == t)
                keys[kc++] = args[idx[k]];
        if (t == sh->id) {
            export_keys(sh->store, kc, keys, &p->parts[part], shard_now_ms(sh));
            continue;
        }
        struct shard_msg *m = msg_create(MSG_EXPORT, sh->id, t, p, part, keys, kc);
        p->waiting++;
        send_request(sh, s, m);
    }
    mi_free(keys);
    mi_free(part_of_shard);
    s->blocked = true;
    if (p->waiting == 0)
        pending_complete(sh, p);
}

static void reply_now(struct session *s, const char *err)
{
    struct reply r = { reply_target(s), s->client.proto };
    reply_error(&r, err);
}

static void unknown_command(struct session *s, int argc, const struct slice *argv)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "ERR unknown command '%.*s', with args beginning with: ",
               (int)(argv[0].len > 128 ? 128 : argv[0].len), argv[0].ptr);
    for (int i = 1; i < argc && b.len < 1024; i++)
        buf_printf(&b, "'%.*s' ", (int)(argv[i].len > 128 ? 128 : argv[i].len), argv[i].ptr);
    buf_append(&b, "", 1);
    /* error replies are one line: replace CR/LF the client sent */
    for (size_t i = 0; i + 1 < b.len; i++)
        if (b.data[i] == '\r' || b.data[i] == '\n')
            b.data[i] = ' ';
    reply_now(s, b.data);
    buf_free(&b);
}

static void execute(struct shard *sh, struct session *s, int argc, const struct slice *argv)
{
    const struct command *cmd = command_lookup(argv[0]);
    const struct command *container = NULL;
    char text[256];
    if (!cmd) {
        unknown_command(s, argc, argv);
        return;
    }
    if (cmd->subcommands && (argc >= 2 || !cmd->fn)) {
        if (argc < 2) {
            snprintf(text, sizeof(text), ERR_ARITY, cmd->name);
            reply_now(s, text);
            return;
        }
        const struct command *sub = command_lookup_sub(cmd, argv[1]);
        if (!sub) {
            char upper[32];
            size_t i = 0;
            for (; cmd->name[i] && i < sizeof(upper) - 1; i++)
                upper[i] = (char)(cmd->name[i] >= 'a' && cmd->name[i] <= 'z' ? cmd->name[i] - 32 : cmd->name[i]);
            upper[i] = '\0';
            snprintf(text, sizeof(text), "ERR unknown subcommand '%.*s'. Try %s HELP.",
                     (int)(argv[1].len > 64 ? 64 : argv[1].len), argv[1].ptr, upper);
            for (char *c = text; *c; c++)
                if (*c == '\r' || *c == '\n') *c = ' ';
            reply_now(s, text);
            return;
        }
        if (!command_arity_ok(sub, argc)) {
            snprintf(text, sizeof(text), "ERR wrong number of arguments for '%s|%s' command", cmd->name, sub->name);
            reply_now(s, text);
            stats_command_rejected(&sh->stats, sub->index);
            return;
        }
        container = cmd;
        cmd = sub;
    } else if (!command_arity_ok(cmd, argc)) {
        snprintf(text, sizeof(text), ERR_ARITY, cmd->name);
        reply_now(s, text);
        stats_command_rejected(&sh->stats, cmd->index);
        return;
    }
    if (!s->client.authenticated && !(cmd->flags & CMD_NOAUTH)) {
        const char *pass = config_str(&sh->node->config, requirepass);
        if (pass && *pass) {
            reply_now(s, ERR_NOAUTH);
            stats_command_rejected(&sh->stats, cmd->index);
            return;
        }
        s->client.authenticated = true; /* the password was removed meanwhile */
    }
    s->client.last_active_ms = shard_now_ms(sh);
    if (s->last_cmd != cmd) { /* formatting the name per command would show in profiles */
        s->last_cmd = cmd;
        if (container)
            snprintf(s->client.last_cmd, sizeof(s->client.last_cmd), "%s|%s", container->name, cmd->name);
        else
            snprintf(s->client.last_cmd, sizeof(s->client.last_cmd), "%s", cmd->name);
    }

    int n = sh->node->nshards;
    if (cmd->flags & CMD_ALL_SHARDS) {
        /* even alone: the merge shapes the reply (SLOWLOG GET) */
        route_all_shards(sh, s, cmd, argc, argv);
        return;
    }
    if (n == 1 || (cmd->flags & CMD_CONN)) {
        run_command(sh, sh->store, cmd, argc, argv, reply_target(s), s->client.proto, &s->client, s->client.id);
        return;
    }
    int target = sh->id;
    if (cmd->flags & CMD_CURSOR) {
        unsigned long long cursor;
        if (argc > 1 && parse_ull(argv[1], &cursor))
            target = (int)(cursor % (unsigned long long)n);
    } else if (cmd->first_key > 0) {
        int idx[256], owner[256];
        int nk = command_keys(cmd, argc, argv, idx, 256);
        if (nk > 256) {
            /* many keys: look them up in a heap array */
            int *bidx = mi_malloc(sizeof(int) * (size_t)nk), *bown = mi_malloc(sizeof(int) * (size_t)nk);
            command_keys(cmd, argc, argv, bidx, nk);
            bool same = true;
            for (int k = 0; k < nk; k++) {
                bown[k] = key_shard(sh, argv[bidx[k]]);
                same = same && bown[k] == bown[0];
            }
            if (same)
                target = bown[0];
            else if (cmd->flags & CMD_SPLIT)
                route_split(sh, s, cmd, argc, argv, bidx, bown, nk);
            else
                route_scratch(sh, s, cmd, argc, argv, bidx, bown, nk);
            mi_free(bidx);
            mi_free(bown);
            if (!same)
                return;
        } else if (nk > 0) {
            bool same = true;
            for (int k = 0; k < nk; k++) {
                owner[k] = key_shard(sh, argv[idx[k]]);
                same = same && owner[k] == owner[0];
            }
            if (!same) {
                if (cmd->flags & CMD_SPLIT)
                    route_split(sh, s, cmd, argc, argv, idx, owner, nk);
                else
                    route_scratch(sh, s, cmd, argc, argv, idx, owner, nk);
                return;
            }
            target = owner[0];
        }
    }
    if (target == sh->id) {
        run_command(sh, sh->store, cmd, argc, argv, reply_target(s), s->client.proto, &s->client, s->client.id);
        return;
    }
    struct pending *p = pending_add(s, STAGE_EXEC);
    p->cmd = cmd;
    struct shard_msg *m = msg_create(MSG_EXEC, sh->id, target, p, -1, argv, argc);
    m->cmd = cmd;
    p->waiting = 1;
    send_request(sh, s, m);
}

/* ---- connection events ------------------------------------------------- */

static bool peer_is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)a;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
        return false;
    }
    return a->ss_family == AF_UNIX;
}

static void format_addr(const struct sockaddr_storage *a, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

#define ERR_MAXCLIENTS "-ERR max number of clients reached\r\n"
#define ERR_DENIED "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

void dispatch_open(void *arg, struct conn *c)
{
    struct shard *sh = arg;
    struct node *n = sh->node;
    long clients = atomic_fetch_add(&n->clients, 1) + 1;
    stat_add(&sh->stats.connections_received, 1);
    stat_add(&sh->stats.connected_clients, 1);
    struct session *s = mi_zalloc(sizeof(*s));
    s->conn = c;
    s->shard = sh;
    c->session = s;
    resp_parser_init(&s->parser);
    struct client *cl = &s->client;
    cl->id = atomic_fetch_add(&n->next_client_id, 1);
    cl->proto = 2;
    const char *pass = config_str(&n->config, requirepass);
    cl->authenticated = !(pass && *pass);
    cl->fd = c->fd;
    cl->created_ms = cl->last_active_ms = clock_unix_ms();
    shard_clock_start(sh, false);
    format_addr(&c->peer, cl->addr, sizeof(cl->addr));
    format_addr(&c->local, cl->laddr, sizeof(cl->laddr));
    c->in_limit = (size_t)config_load(&n->config, client_query_buffer_limit);
    conn_set_keepalive(c, (int)config_load(&n->config, tcp_keepalive));
    if (clients > config_load(&n->config, maxclients)) {
        buf_append_str(&c->out, ERR_MAXCLIENTS);
        stat_add(&sh->stats.rejected_connections, 1);
        conn_close(c, true);
        return;
    }
    if (config_load(&n->config, protected_mode) && cl->authenticated && !peer_is_loopback(&c->peer)) {
        buf_append_str(&c->out, ERR_DENIED);
        stat_add(&sh->stats.rejected_connections, 1);
        log_warning("Possible SECURITY ATTACK detected: protected mode refused %s", cl->addr);
        conn_close(c, true);
        return;
    }
}

void dispatch_close(void *arg, struct conn *c)
{
    struct shard *sh = arg;
    struct session *s = c->session;
    atomic_fetch_sub(&sh->node->clients, 1);
    stat_add(&sh->stats.connected_clients, (uint64_t)-1);
    if (!s)
        return;
    s->conn = NULL;
    c->session = NULL;
    if (s->inflight == 0)
        session_free(s);
}

static bool over_limits(struct session *s)
{
    const struct config *cfg = &s->shard->node->config;
    return s->npending >= MAX_PENDING ||
           conn_output_bytes(s->conn) > (size_t)config_load(cfg, client_output_limit);
}

static void maybe_unpause(struct session *s)
{
    if (s->backpressured && !over_limits(s)) {
        s->backpressured = false;
        if (!s->blocked)
            conn_resume(s->conn);
    }
}

void dispatch_sent(void *arg, struct conn *c)
{
    struct session *s = c->session;
    if (s)
        maybe_unpause(s);
}

size_t dispatch_data(void *arg, struct conn *c, const char *p, size_t n)
{
    struct shard *sh = arg;
    struct session *s = c->session;
    const struct config *cfg = &sh->node->config;
    struct resp_limits lim = {
        config_load(cfg, proto_max_bulk_len), 1024 * 1024, 64 * 1024,
    };
    stat_add(&sh->stats.net_input_bytes, n);
    shard_clock_start(sh, false);
    size_t used = 0;
    while (used < n) {
        if (s->blocked || c->closing || c->close_after_flush || s->client.close_after_reply) {
            conn_pause(c);
            break;
        }
        if (over_limits(s)) {
            s->backpressured = true;
            conn_pause(c);
            break;
        }
        size_t consumed = 0;
        const char *err = NULL;
        enum resp_status st = resp_parse(&s->parser, p + used, n - used, &lim, &consumed, &err);
        if (st == RESP_MORE)
            break;
        if (st == RESP_ERROR) {
            struct reply r = { reply_target(s), s->client.proto };
            reply_error(&r, err);
            log_verbose("Protocol error (%s) from client: id=%llu addr=%s", err,
                        (unsigned long long)s->client.id, s->client.addr);
            s->client.close_after_reply = true;
            used = n;
            break;
        }
        used += consumed;
        if (st == RESP_EMPTY)
            continue;
        stat_add(&sh->stats.commands_processed, 1);
        execute(sh, s, (int)s->parser.argc, s->parser.argv);
    }
    if (n - used > (size_t)config_load(cfg, client_query_buffer_limit)) {
        log_warning("Closing client that reached max query buffer length: id=%llu addr=%s (qbuf=%zu)",
                    (unsigned long long)s->client.id, s->client.addr, n - used);
        conn_close(c, false);
        return n;
    }
    if (s->client.close_after_reply && !s->head) {
        conn_close(c, true);
    } else if (c->out.len) {
        conn_flush(c);
    }
    return used;
}

/* ---- mail ------------------------------------------------------------------ */

static struct mailbox *mailbox_of(const struct node *n, int from, int to)
{
    return node_mailbox(n, from, to);
}

bool dispatch_mail(struct shard *sh)
{
    int n = sh->node->nshards;
    if (n == 1)
        return false;
    shard_clock_start(sh, false);
    for (int from = 0; from < n; from++) {
        if (from == sh->id)
            continue;
        struct mailbox *mb = mailbox_of(sh->node, from, sh->id);
        struct shard_msg *m;
        int budget = 4096; /* bounded, so one busy peer cannot starve our sockets */
        while (budget-- > 0 && (m = mailbox_pop(mb)) != NULL) {
            if (m->home == sh->id)
                handle_answer(sh, m);
            else
                handle_request(sh, m);
        }
    }
    bool more = false;
    for (int to = 0; to < n; to++) {
        if (!sh->posted[to])
            continue;
        struct mailbox *mb = mailbox_of(sh->node, sh->id, to);
        while (sh->overflow_head[to] && mailbox_push(mb, sh->overflow_head[to])) {
            sh->overflow_head[to] = sh->overflow_head[to]->next;
            if (!sh->overflow_head[to])
                sh->overflow_tail[to] = NULL;
        }
        mailbox_publish(mb);
        loop_wake(sh->loop, sh->node->shards[to]->loop);
        if (sh->overflow_head[to])
            more = true;
        else
            sh->posted[to] = false;
    }
    return more || dispatch_has_mail(sh);
}

bool dispatch_has_mail(struct shard *sh)
{
    int n = sh->node->nshards;
    for (int from = 0; from < n; from++)
        if (from != sh->id && mailbox_has_mail(mailbox_of(sh->node, from, sh->id)))
            return true;
    return false;
}

struct timeout_walk { int64_t now, limit_ms; };

static void check_idle(void *arg, struct conn *c)
{
    struct timeout_walk *w = arg;
    struct session *s = c->session;
    if (s && !s->head && w->now - s->client.last_active_ms > w->limit_ms) {
        log_verbose("Closing idle client id=%llu addr=%s", (unsigned long long)s->client.id, s->client.addr);
        conn_close(c, false);
    }
}

void dispatch_timeouts(struct shard *sh, int64_t now_ms)
{
    long long t = config_load(&sh->node->config, timeout);
    if (t <= 0)
        return;
    struct timeout_walk w = { now_ms, t * 1000 };
    loop_each_conn(sh->loop, check_idle, &w);
}

/* ---- the shard's view of its clients (CLIENT LIST / KILL) ----------------- */

struct client_walk { shard_client_fn *fn; void *arg; };

static void visit_client(void *arg, struct conn *c)
{
    struct client_walk *w = arg;
    struct session *s = c->session;
    if (!s)
        return;
    struct client_io io = { c->in.len, conn_output_bytes(c), (size_t)s->npending };
    w->fn(w->arg, &s->client, &io);
}

void shard_each_client(struct shard *s, shard_client_fn *fn, void *arg)
{
    struct client_walk w = { fn, arg };
    loop_each_conn(s->loop, visit_client, &w);
}

struct kill_walk { struct client *target; };

static void kill_match(void *arg, struct conn *c)
{
    struct kill_walk *w = arg;
    struct session *s = c->session;
    if (s && &s->client == w->target) {
        s->client.close_after_reply = true;
        if (!s->head)
            conn_close(c, true);
        else
            conn_pause(c);
    }
}

void shard_kill_client(struct shard *s, struct client *c)
{
    struct kill_walk w = { c };
    loop_each_conn(s->loop, kill_match, &w);
}
