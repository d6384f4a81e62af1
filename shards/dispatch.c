#include "shards/dispatch.h"

#include <arpa/inet.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/command.h"
#include "core/config.h"
#include "core/log.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "core/resp.h"
#include "shards/mailbox.h"
#include "shards/message.h"
#include "shards/scratch.h"
#include "shards/session.h"
#include "shards/node.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

/* ---- time --------------------------------------------------------------- */

void shard_clock_start(struct shard *sh, bool refresh)
{
    if (refresh) {
        int64_t unix_us = clock_unix_us();
        uint64_t mono = clock_mono_ns();
        sh->unix_offset_ns = unix_us * 1000 - (int64_t)mono;
        sh->clock_ns = mono;
        return;
    }
    sh->clock_ns = clock_mono_ns();
}

static void pending_launch(struct shard *sh, struct pending *p);
static void replay_continue(struct shard *sh, struct session *s);
static void reply_now(struct session *s, const char *err);

/* ---- sessions and their ordered replies --------------------------------- */

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
    if (p->launch)
        msg_free(p->launch);
    mi_free(p);
}

void session_free(struct session *s)
{
    for (struct pending *p = s->head, *next; p; p = next) {
        next = p->next;
        pending_free(p);
    }
    resp_parser_deinit(&s->parser);
    buf_free(&s->multi_cmds);
    buf_free(&s->exec_cmds);
    if (s->held)
        msg_free(s->held);
    mi_free(s);
}


/* Move the ready prefix of the reply queue to the connection's output. */
void session_drain(struct session *s)
{
    bool moved = false;
    while (s->head && s->head->stage == STAGE_READY) {
        struct pending *p = s->head;
        s->head = p->next;
        if (!s->head)
            s->tail = NULL;
        s->npending--;
        if (s->conn && p->out.len) {
            buf_move(&s->conn->out, &p->out);
            moved = true;
        }
        pending_free(p);
    }
    if (s->head && s->head->stage == STAGE_LAUNCH && s->head->launch)
        pending_launch(s->shard, s->head);
    if (!s->conn)
        return;
    if (s->client.close_after_reply && !s->head)
        conn_close(s->conn, true);
    else if (moved)
        conn_flush(s->conn);
    session_maybe_unpause(s);
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

struct buf *session_push_target(struct session *s)
{
    return reply_target(s);
}

size_t session_output_bytes(const struct session *s)
{
    size_t n = s->conn ? conn_output_bytes(s->conn) : 0;
    for (const struct pending *p = s->head; p; p = p->next)
        n += p->out.len;
    return n;
}

/* ---- running a command on this shard ------------------------------------ */

static size_t shard_memory_limit(const struct shard *sh)
{
    long long max = config_load(&sh->node->config, maxmemory);
    if (max <= 0)
        return 0;
    return (size_t)max / (size_t)sh->node->nshards;
}

void shard_publish_stats(struct shard *sh)
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

/* The slow log: a command of `client` that ran for usec goes into this
 * shard's log if it is slow, with the next id of the node's one sequence.
 * Called on the connection's shard, wherever the command ran (the time
 * comes back in the answer), so the client's addr and name are at hand. */
static void slow_record(struct shard *sh, uint64_t usec, int argc, const struct slice *argv,
                        const struct client *client)
{
    const struct config *cfg = &sh->node->config;
    long long slower = config_load(cfg, slowlog_slower_than);
    if (slower < 0 || usec < (uint64_t)slower)
        return;
    uint64_t id = atomic_fetch_add_explicit(&sh->node->next_slowlog_id, 1, memory_order_relaxed);
    slowlog_add(&sh->slowlog, id, (size_t)config_load(cfg, slowlog_max_len), shard_now_ms(sh) / 1000,
                usec, argc, argv, client->addr, client->name);
}

/* Run cmd on this shard against store, appending its one reply to out; *usec
 * is set to how long it ran. Returns true if the handler kept msg to answer
 * it later. */
static bool run_command_msg(struct shard *sh, struct store *store, const struct command *cmd,
                            int argc, const struct slice *argv, struct buf *out, int proto,
                            struct client *client, uint64_t caller_id, struct shard_msg *msg,
                            uint64_t *usec_out)
{
    *usec_out = 0;
    struct reply r = { out, proto };
    int64_t now = shard_now_ms(sh);
    size_t start = out->len;
    if ((cmd->flags & CMD_DENYOOM) && store == sh->store) {
        long long policy = config_load(&sh->node->config, maxmemory_policy);
        if (!store_make_room(store, shard_memory_limit(sh), (enum evict_policy)policy, now)) {
            reply_error(&r, ERR_OOM);
            stats_command_rejected(&sh->stats, cmd->index);
            stat_add(&sh->stats.total_error_replies, 1);
            return false;
        }
    }
    if ((cmd->flags & CMD_WRITE) && msg && store == sh->store) {
        /* accepted by the connection's shard, but a role change or a
         * FAILOVER's pause may have begun since: the offset the target must
         * reach is fixed, so this write may not happen */
        const char *refused = node_write_refusal(sh->node);
        if (!refused && atomic_load_explicit(&sh->node->repl_writes_paused, memory_order_relaxed))
            refused = "READONLY You can't write while a FAILOVER hands this master over to a replica.";
        if (refused) {
            reply_error(&r, refused);
            stats_command_rejected(&sh->stats, cmd->index);
            if (sh->node->journal)
                sh->node->journal->command_refused(sh, cmd);
            return false;
        }
    }
    if (cmd->flags & CMD_CONN)
        shard_publish_stats(sh);
    struct exec_ctx ctx = {
        .shard = sh, .store = store, .reply = &r, .argc = argc, .argv = argv,
        .client = client, .now_ms = now, .caller_id = caller_id, .msg = msg,
    };
    /* the row's journal column decides what the replication stream gets */
    const struct journal_sink *journal = cmd->journal != JOURNAL_EFFECTS && store == sh->store
                                         ? sh->node->journal : NULL;
    if (journal)
        journal->command_begin(sh, cmd, &ctx);
    cmd->fn(&ctx);
    if (journal)
        journal->command_end(sh, cmd, argc, argv);
    /* one clock read per command: it ends this one and starts the next */
    uint64_t t1 = clock_mono_ns();
    uint64_t usec = (t1 - sh->clock_ns) / 1000;
    sh->clock_ns = t1;
    bool failed = out->len > start && out->data[start] == '-';
    stats_command_done(&sh->stats, cmd->index, usec, failed);
    if (failed)
        stat_add(&sh->stats.total_error_replies, 1);
    if (!ctx.deferred) /* else msg may be on its way back already */
        *usec_out = usec;
    return ctx.deferred;
}

/* Run cmd here for the session's client; returns how long it ran. */
static uint64_t run_command(struct shard *sh, struct store *store, const struct command *cmd,
                            int argc, const struct slice *argv, struct buf *out, int proto,
                            struct client *client, uint64_t caller_id)
{
    uint64_t usec;
    run_command_msg(sh, store, cmd, argc, argv, out, proto, client, caller_id, NULL, &usec);
    return usec;
}

/* Run cmd here for the session's client and log it if it was slow. */
static void run_logged(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                       const struct slice *argv, struct buf *out)
{
    uint64_t usec = run_command(sh, sh->store, cmd, argc, argv, out, s->client.proto, &s->client,
                                s->client.id);
    if (!(cmd->flags & CMD_SKIP_SLOWLOG))
        slow_record(sh, usec, argc, argv, &s->client);
}

/* ---- messages ------------------------------------------------------------ */

static void send_request(struct shard *sh, struct session *s, struct shard_msg *m)
{
    m->proto = s->client.proto;
    m->caller_id = s->client.id;
    s->inflight++;
    stat_add(&sh->stats.cross_shard_requests, 1);
    msg_post(sh, m, m->target);
}

/* Send a pending command that waited for the ones before it. */
static void pending_launch(struct shard *sh, struct pending *p)
{
    struct shard_msg *m = p->launch;
    p->launch = NULL;
    p->stage = STAGE_EXEC;
    send_request(sh, p->session, m);
}

/* ---- export / apply (scratch commands) ---------------------------------- */

/* All copies are in: run the command on a scratch store, then send the
 * writes it made to their owners. */
static void scratch_run(struct shard *sh, struct pending *p)
{
    struct session *s = p->session;
    int n = sh->node->nshards;
    struct write_capture cap = { false, sh->node, mi_calloc((size_t)n, sizeof(struct buf)) };
    struct store *scratch = store_create(NULL, write_capture_hook, &cap);
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
        if (!cursor[part] || cursor[part] >= p->parts[part].data + p->parts[part].len)
            continue;
        key_import(scratch, p->argv[idx[k]], &cursor[part], now);
    }
    mi_free(cursor);
    mi_free(idx);
    cap.on = true;
    uint64_t usec = run_command(sh, scratch, cmd, p->argc, p->argv, &p->out, s->client.proto, NULL,
                                s->client.id);
    slow_record(sh, usec, p->argc, p->argv, &s->client);
    cap.on = false;
    store_destroy(scratch);
    p->stage = STAGE_APPLY;
    p->waiting = 0;
    for (int t = 0; t < n; t++) {
        if (cap.per_shard[t].len == 0)
            continue;
        if (t == sh->id) {
            writes_apply(sh->store, &cap.per_shard[t], now);
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
    case STAGE_LAUNCH:
        break;
    }
    if (p->stage == STAGE_READY && p->argv_mem && s->blocked) {
        /* a scratch command finished: the EXEC it is part of, then the
         * connection, may go on */
        s->blocked = false;
        if (s->in_exec)
            replay_continue(sh, s);
        if (s->conn && !s->blocked && !s->in_exec)
            conn_resume(s->conn);
    }
}

static void handle_answer(struct shard *sh, struct shard_msg *m)
{
    struct pending *p = m->pending;
    struct session *s = p->session;
    s->inflight--;
    if (m->kind == MSG_EXEC) {
        if (!p->log_once) {
            slow_record(sh, m->usec, m->argc, m->argv, &s->client);
        } else {
            p->usec += m->usec;
            if (p->waiting == 1) /* the last part: argv is the command's own */
                slow_record(sh, p->usec, m->argc, m->argv, &s->client);
        }
    }
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
        if (run_command_msg(sh, sh->store, m->cmd, m->argc, m->argv, &m->reply, m->proto, NULL,
                            m->caller_id, m, &m->usec))
            return; /* the handler keeps the message and answers it later */
        break;
    case MSG_EXPORT:
        keys_export(sh->store, m->argc, m->argv, &m->reply, now);
        break;
    case MSG_APPLY:
        writes_apply(sh->store, &m->payload, now);
        break;
    default:
        break;
    }
    m->answered = true;
    msg_post(sh, m, m->home);
}

/* What dispatch_free_later waits on: the answers not back yet. */
struct grace {
    int    waiting;
    int    n;
    char **ptrs;
};

static void grace_end(struct grace *g)
{
    for (int i = 0; i < g->n; i++)
        mi_free(g->ptrs[i]);
    mi_free(g->ptrs);
    mi_free(g);
}

void dispatch_free_later(struct shard *sh, char **ptrs, int n)
{
    struct grace *g = mi_zalloc(sizeof(*g));
    g->n = n;
    g->ptrs = ptrs;
    if (n > 0)
        for (int t = 0; t < sh->node->nshards; t++) {
            if (t == sh->id)
                continue;
            struct shard_msg *m = msg_create(MSG_GRACE, sh->id, t, NULL, -1, NULL, 0);
            m->arg = g;
            g->waiting++;
            msg_post(sh, m, t);
        }
    if (g->waiting == 0)
        grace_end(g);
}

void dispatch_message(struct shard *sh, struct shard_msg *m)
{
    if (m->handler) {
        m->handler(sh, m);
        return;
    }
    if (m->kind == MSG_GRACE) {
        if (!m->answered) {
            m->answered = true;
            msg_post(sh, m, m->home);
            return;
        }
        struct grace *g = m->arg;
        msg_free(m);
        if (--g->waiting == 0)
            grace_end(g);
        return;
    }
    if (m->kind == MSG_UNPAUSE) {
        if (m->answered) {
            msg_free(m);
            return;
        }
        pause_release(sh);
        m->answered = true;
        msg_post(sh, m, m->home);
        return;
    }
    if (m->answered)
        handle_answer(sh, m);
    else
        handle_request(sh, m);
}

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
    p->log_once = true;
    for (int t = 0; t < n; t++) {
        if (t == sh->id)
            continue;
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, t, p, t, argv, argc);
        m->cmd = cmd;
        p->waiting++;
        send_request(sh, s, m);
    }
    p->usec += run_command(sh, sh->store, cmd, argc, argv, &p->parts[sh->id], s->client.proto,
                           &s->client, s->client.id);
    if (p->waiting == 0) {
        slow_record(sh, p->usec, argc, argv, &s->client);
        pending_complete(sh, p);
    }
}

/* Would a part of a split command that may add memory (MSET) be refused
 * with -OOM on its shard? Each part checks on its own shard, so without
 * this the parts of the shards still under their share would be written:
 * Redis makes one check for the whole command. Under noeviction a shard
 * over its share refuses (read from the used_memory the shards publish
 * every turn: a turn old at most); the other policies make room on each
 * shard, and the per-part check stays for what this cannot see. */
static bool split_over_memory(struct shard *sh, const int *owner, int nk)
{
    size_t limit = shard_memory_limit(sh);
    if (limit == 0 || config_load(&sh->node->config, maxmemory_policy) != EVICT_NOEVICTION)
        return false;
    for (int k = 0; k < nk; k++) {
        const struct shard *t = sh->node->shards[owner[k]];
        uint64_t used = owner[k] == sh->id ? store_used_memory(sh->store)
                                           : __atomic_load_n(&t->stats.used_memory, __ATOMIC_RELAXED);
        if (used > limit)
            return true;
    }
    return false;
}

/* Keys over several shards, command splittable: one sub-command per shard
 * with that shard's keys (each key with the key_step-1 arguments after it). */
static void route_split(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                        const struct slice *argv, const int *idx, const int *owner, int nk)
{
    if ((cmd->flags & CMD_DENYOOM) && split_over_memory(sh, owner, nk)) {
        reply_now(s, ERR_OOM);
        stats_command_rejected(&sh->stats, cmd->index);
        return;
    }
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
        run_logged(sh, s, cmd, local_argc, local_argv, &p->parts[local_part]);
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
            keys_export(sh->store, kc, keys, &p->parts[part], shard_now_ms(sh));
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
    if (s->in_multi)
        s->multi_dirty = true; /* Redis aborts the EXEC of a transaction with refused commands */
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

/* Over maxmemory even after evicting what the policy allows from this
 * shard's part of the keyspace (the part the connection's commands are
 * checked against before they are queued). */
static bool over_memory(struct shard *sh)
{
    size_t limit = shard_memory_limit(sh);
    if (limit == 0)
        return false;
    long long policy = config_load(&sh->node->config, maxmemory_policy);
    return !store_make_room(sh->store, limit, (enum evict_policy)policy, shard_now_ms(sh));
}

const char *dispatch_exec_refusal(struct shard *sh, const struct session *s)
{
    if (s->multi_denyoom && over_memory(sh))
        return ERR_OOM;
    return s->multi_writes ? node_write_refusal(sh->node) : NULL;
}

/* Inside MULTI: keep the command (as RESP) for EXEC and answer +QUEUED. */
static void queue_command(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                          const struct slice *argv)
{
    size_t limit = (size_t)config_load(&sh->node->config, client_query_buffer_limit);
    size_t need = 16;
    for (int i = 0; i < argc; i++)
        need += argv[i].len + 16;
    if (s->multi_cmds.len + need > limit) {
        reply_now(s, "ERR MULTI queue over client-query-buffer-limit");
        return;
    }
    buf_printf(&s->multi_cmds, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        buf_printf(&s->multi_cmds, "$%zu\r\n", argv[i].len);
        buf_append(&s->multi_cmds, argv[i].ptr, argv[i].len);
        buf_append(&s->multi_cmds, "\r\n", 2);
    }
    s->multi_count++;
    if (cmd->flags & CMD_WRITE)
        s->multi_writes = true;
    if (cmd->flags & CMD_DENYOOM)
        s->multi_denyoom = true;
    struct reply r = { reply_target(s), s->client.proto };
    reply_simple(&r, "QUEUED");
}

static void execute(struct shard *sh, struct session *s, int argc, const struct slice *argv);

/* Keys that run to the end of the command in groups (MSET, MSETNX: key
 * value ...) come in whole groups. Redis checks this in the command itself
 * (the arity allows any count), so inside MULTI it is queued and fails in
 * EXEC's array; here it is checked before routing, since the parts of a
 * split command run on their own. */
static bool key_groups_whole(const struct command *cmd, int argc)
{
    if (cmd->first_key <= 0 || cmd->last_key >= 0 || cmd->key_step <= 1)
        return true;
    return (argc - cmd->first_key) % cmd->key_step == 0;
}

/* Run EXEC's queue from where it stopped until it ends or a scratch
 * command blocks the session (pending_complete calls this again when that
 * command is done). A call made while an outer one is looping (a scratch
 * command complete at once) leaves the rest to the outer one. */
static void replay_continue(struct shard *sh, struct session *s)
{
    if (s->replaying)
        return;
    s->replaying = true;
    struct resp_parser parser;
    resp_parser_init(&parser);
    /* the queue holds only commands the input limits (proto-max-bulk-len, as
     * set when each arrived) let through: reading them back checks nothing */
    struct resp_limits lim = { LLONG_MAX, LLONG_MAX, SIZE_MAX, false };
    while (s->exec_used < s->exec_cmds.len && !s->blocked && s->conn) {
        size_t consumed = 0;
        const char *err = NULL;
        if (resp_parse(&parser, s->exec_cmds.data + s->exec_used, s->exec_cmds.len - s->exec_used,
                       &lim, &consumed, &err) != RESP_DONE)
            break; /* cannot happen: the bytes were written by queue_command */
        s->exec_used += consumed;
        execute(sh, s, (int)parser.argc, parser.argv);
    }
    resp_parser_deinit(&parser);
    s->replaying = false;
    if (s->blocked && s->conn)
        return;
    /* done; or the connection is gone, and the rest of the queue with it */
    buf_free(&s->exec_cmds);
    s->exec_used = 0;
    s->in_exec = false;
}

void dispatch_replay(struct shard *sh, struct session *s, struct buf *cmds)
{
    buf_free(&s->exec_cmds);
    s->exec_cmds = *cmds;
    buf_init(cmds);
    s->exec_used = 0;
    s->in_exec = true;
    replay_continue(sh, s);
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

    if (s->client.proto == 2 && !(cmd->flags & CMD_SUBSCRIBED) && pubsub_subscribed(s)) {
        snprintf(text, sizeof(text), "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                 "PING / QUIT / RESET are allowed in this context", cmd->name);
        reply_now(s, text);
        return;
    }
    if (pause_any(sh->node) && pause_holds(sh, s, cmd)) {
        pause_hold(sh, s, cmd, argc, argv);
        return;
    }
    if (cmd->flags & CMD_WRITE) {
        /* also when queued: Redis refuses it then, and the EXEC aborts */
        const char *refused = node_write_refusal(sh->node);
        if (refused) {
            reply_now(s, refused);
            stats_command_rejected(&sh->stats, cmd->index);
            return;
        }
    }
    if (s->in_multi && !(cmd->flags & CMD_NOT_QUEUED)) {
        const char *refused = NULL;
        if (cmd->flags & (CMD_NO_MULTI | CMD_NO_REPLY))
            refused = "ERR Command not allowed inside a transaction";
        else if (over_memory(sh))
            refused = ERR_OOM; /* queuing takes memory too: Redis refuses any command */
        if (refused) {
            reply_now(s, refused);
            stats_command_rejected(&sh->stats, cmd->index);
            return;
        }
        queue_command(sh, s, cmd, argc, argv);
        return;
    }
    if (!key_groups_whole(cmd, argc)) {
        /* the command's own check, made before any part of it is sent to
         * another shard: a split MSET would write the parts that are whole */
        snprintf(text, sizeof(text), ERR_ARITY, cmd->name);
        reply_now(s, text);
        stats_command_rejected(&sh->stats, cmd->index);
        return;
    }
    int n = sh->node->nshards;
    if (cmd->flags & CMD_SHARD0) {
        /* always as a message, even on shard 0, so the handler may keep it
         * (WAIT); and only once the earlier commands are done */
        struct pending *p = pending_add(s, STAGE_LAUNCH);
        p->cmd = cmd;
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, 0, p, -1, argv, argc);
        m->cmd = cmd;
        p->launch = m;
        p->waiting = 1;
        if (s->head == p)
            pending_launch(sh, p);
        return;
    }
    if (cmd->flags & CMD_ALL_SHARDS) {
        /* even alone: the merge shapes the reply (SLOWLOG GET) */
        route_all_shards(sh, s, cmd, argc, argv);
        return;
    }
    if (n == 1 || (cmd->flags & CMD_CONN)) {
        run_logged(sh, s, cmd, argc, argv, reply_target(s));
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
        run_logged(sh, s, cmd, argc, argv, reply_target(s));
        return;
    }
    struct pending *p = pending_add(s, STAGE_EXEC);
    p->cmd = cmd;
    struct shard_msg *m = msg_create(MSG_EXEC, sh->id, target, p, -1, argv, argc);
    m->cmd = cmd;
    p->waiting = 1;
    send_request(sh, s, m);
}

/* ---- settings the loop and connections hold ------------------------------ */

static void set_query_limit(void *arg, struct conn *c)
{
    /* accepted connections have a limit from the start (clients.c); the
     * link to our master, which we opened, has none */
    if (c->owner && c->in_limit)
        c->in_limit = *(const size_t *)arg;
}

void dispatch_tick(struct shard *sh)
{
    const struct config *cfg = &sh->node->config;
    loop_set_hz(sh->loop, (int)config_load(cfg, hz));
    /* a connection takes the limit when it opens (clients.c); a change
     * reaches the open ones here, at most one tick after the CONFIG SET */
    size_t limit = (size_t)config_load(cfg, client_query_buffer_limit);
    if (limit != sh->query_limit) {
        sh->query_limit = limit;
        loop_each_conn(sh->loop, set_query_limit, &limit);
    }
}

/* ---- connection events ------------------------------------------------- */

static bool over_limits(struct session *s)
{
    const struct config *cfg = &s->shard->node->config;
    return s->npending >= MAX_PENDING ||
           conn_output_bytes(s->conn) > (size_t)config_load(cfg, client_output_limit);
}

void session_maybe_unpause(struct session *s)
{
    if (s->backpressured && !over_limits(s)) {
        s->backpressured = false;
        if (!s->blocked && !s->held)
            conn_resume(s->conn);
    }
}

void dispatch_run_held(struct shard *sh, struct session *s, int argc, const struct slice *argv)
{
    struct conn *c = s->conn;
    if (!c)
        return;
    shard_clock_start(sh, false);
    execute(sh, s, argc, argv);
    if (s->head && s->head->stage == STAGE_READY)
        session_drain(s);
    if (c->out.len)
        conn_flush(c);
    if (!s->held && !s->blocked && !s->backpressured)
        conn_resume(c); /* what the client sent after the held command */
}

void session_sent(struct shard *sh, struct conn *c)
{
    struct session *s = session_of_conn(c);
    session_maybe_unpause(s);
    if (s->feed && s->feed->sent)
        s->feed->sent(sh, c, &s->client);
}

/* The RESP integer at *p up to "\r\n" (at most 18 digits), moving *p past
 * it; -1 if it is not one or not complete within end. */
static long long scan_int(const char **p, const char *end)
{
    long long v = 0;
    const char *q = *p;
    int digits = 0;
    while (q < end && *q >= '0' && *q <= '9' && digits < 18) {
        v = v * 10 + (*q++ - '0');
        digits++;
    }
    if (!digits || end - q < 2 || q[0] != '\r' || q[1] != '\n')
        return -1;
    *p = q + 2;
    return v;
}

/* A pipeline: before running its commands, prefetch what the first key of
 * each of the next few will touch in this shard's store, so their lookups
 * overlap their cache misses instead of taking them one after another (the
 * lookup's miss on the entry is most of a SET's or GET's time once the table
 * outgrows the cache). Scans complete multibulk commands only and stops at
 * anything else; a key that lives on another shard costs a wasted prefetch. */
#define PREFETCH_MAX 16
static void prefetch_pipeline(struct shard *sh, const char *p, size_t n)
{
    uint64_t h[PREFETCH_MAX];
    int k = 0;
    const char *end = p + n;
    while (k < PREFETCH_MAX && end - p > 4 && *p == '*') {
        p++;
        long long argc = scan_int(&p, end);
        if (argc < 1 || argc > 1024)
            break;
        bool complete = true;
        for (long long i = 0; i < argc; i++) {
            if (p >= end || *p != '$') {
                complete = false;
                break;
            }
            p++;
            long long len = scan_int(&p, end);
            if (len < 0 || end - p < len + 2) {
                complete = false;
                break;
            }
            if (i == 1)
                h[k] = store_key_hash((struct slice){ p, (size_t)len });
            p += len + 2;
        }
        if (!complete)
            break;
        if (argc >= 2)
            k++;
    }
    if (k < 2)
        return; /* a single command: nothing to overlap with */
    for (int i = 0; i < k; i++)
        store_prefetch_bucket(sh->store, h[i]);
    for (int i = 0; i < k; i++)
        store_prefetch_entry(sh->store, h[i]);
}

size_t session_data(struct shard *sh, struct conn *c, const char *p, size_t n)
{
    struct session *s = session_of_conn(c);
    const struct config *cfg = &sh->node->config;
    struct resp_limits lim = {
        config_load(cfg, proto_max_bulk_len), 1024 * 1024, 64 * 1024, false,
    };
    stat_add(&sh->stats.net_input_bytes, n);
    shard_clock_start(sh, false);
    if (n >= 64) /* p starts at a command: a partial one stays in the input */
        prefetch_pipeline(sh, p, n);
    size_t used = 0;
    while (used < n) {
        if (s->blocked || s->held || c->closing || c->close_after_flush || s->client.close_after_reply) {
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
    if (s->head && s->head->stage == STAGE_READY)
        session_drain(s); /* replies completed at once (all parts local) */
    if (s->client.close_after_reply && !s->head) {
        conn_close(c, true);
    } else if (c->out.len) {
        conn_flush(c);
    }
    return used;
}

/* ---- mail ------------------------------------------------------------------ */

