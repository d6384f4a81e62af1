/* blocking: clients blocked on keys (see blocking.h for the contract).
 *
 * Per shard: the blocked clients in the order they blocked (an array; a
 * client leaves it when answered, the others keep their order), and the
 * keys that got elements during this turn (copies, served at its end).
 * Serving a key walks the array in order and offers the key to each client
 * waiting on it until one declines (the key is empty again): per key, the
 * clients are served in the order they blocked, as Redis does. */
#include "shards/blocking.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "core/reply.h"
#include "shards/dispatch_internal.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/store.h"

/* MSG_EXEC's value for a command that may block (set by route.c). */
#define MAY_BLOCK 1
/* Module messages: a closed connection's notice, an undo. */
#define MSG_BLOCKING_GONE 0x426c01
#define MSG_BLOCKING_UNDO 0x426c02
#define MSG_BLOCKING_TAKEN 0x426c03

/* The parts of one command over several shards: one may take elements. */
struct claim {
    _Atomic int      taken;
    uint64_t         id;   /* what the cancel notices name (never reused) */
    _Atomic int      blocked; /* its parts blocked now (INFO blocked_clients) */
};

static _Atomic uint64_t next_claim_id = 1;

struct blocked {
    struct shard_msg         *m;
    uint64_t                  claim_id;     /* 0: not a part */
    int64_t                   deadline_ms;  /* 0: forever */
    blocking_serve_fn        *serve;
    enum blocking_timeout_reply on_timeout;
    int                       nkeys;
    const struct slice       *keys;        /* into m->argv */
    struct buf                state;       /* blocking_set_state's bytes (XREAD's IDs) */
};

struct blocking_shard {
    struct blocked *at;
    size_t          n, cap;
    struct buf      ready;   /* keys: u32 length + bytes each */
    struct slice    serving_state; /* the state of the client a serve function serves now */
    bool            pass;          /* blocking_pass: the client served now declined, not the key */
};

static struct blocking_shard *state_of(struct shard *sh)
{
    if (!sh->blocking)
        sh->blocking = mi_zalloc(sizeof *sh->blocking);
    return sh->blocking;
}

size_t blocking_count(const struct shard *sh)
{
    return sh->blocking ? sh->blocking->n : 0;
}

/* INFO blocked_clients and clients_in_timeout_table count clients, once
 * each: a client blocked on several shards (a claim's parts) counts where
 * its first part blocks and stops counting where its last part leaves, so
 * only the sum over the shards means something (stats.h). */
static void count_blocked(struct shard *sh, const struct blocked *w, int delta)
{
    struct claim *c = w->m->arg;
    if (w->claim_id && c) {
        int before = atomic_fetch_add_explicit(&c->blocked, delta, memory_order_acq_rel);
        if (before + (delta < 0 ? delta : 0) != 0)
            return; /* another part of the same client counts it */
    }
    stat_add(&sh->stats.blocked_clients, (uint64_t)(int64_t)delta);
    if (w->deadline_ms)
        stat_add(&sh->stats.blocked_with_timeout, (uint64_t)(int64_t)delta);
}

bool blocking_wait(struct exec_ctx *ctx, const struct slice *keys, int nkeys, int64_t deadline_ms,
                   blocking_serve_fn *serve, enum blocking_timeout_reply on_timeout)
{
    struct shard_msg *m = ctx->msg;
    if (!m || m->value != MAY_BLOCK || ctx->store != ctx->shard->store)
        return false;
    struct claim *c = m->arg;
    if (c && atomic_load_explicit(&c->taken, memory_order_acquire))
        return false; /* another part was served already */
    struct blocking_shard *b = state_of(ctx->shard);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->at = mi_realloc(b->at, b->cap * sizeof *b->at);
        if (!b->at)
            abort();
    }
    b->at[b->n++] = (struct blocked){ m, c ? c->id : 0, deadline_ms, serve, on_timeout, nkeys, keys, { 0 } };
    count_blocked(ctx->shard, &b->at[b->n - 1], 1);
    ctx->deferred = true;
    return true;
}

void blocking_set_state(struct exec_ctx *ctx, const void *p, size_t n)
{
    struct blocking_shard *b = ctx->shard->blocking;
    buf_append(&b->at[b->n - 1].state, p, n);
}

void blocking_pass(struct shard *sh)
{
    if (sh->blocking)
        sh->blocking->pass = true;
}

struct slice blocking_state(struct shard *sh)
{
    return sh->blocking ? sh->blocking->serving_state : (struct slice){ NULL, 0 };
}

/* key of database db got elements (or changed): its clients are offered
 * it at the end of the turn */
static void mark_ready(struct blocking_shard *b, int db, struct slice key)
{
    uint32_t n = (uint32_t)key.len;
    int32_t d = db;
    buf_append(&b->ready, &n, 4);
    buf_append(&b->ready, &d, 4);
    buf_append(&b->ready, key.ptr, key.len);
}

void blocking_store_changed(struct shard *sh, const struct journal_record *rec)
{
    if (!sh->blocking || sh->blocking->n == 0)
        return;
    /* a key deleted or given a string is offered too: a blocked
     * XREADGROUP answers that its stream is gone (the pops' serve
     * functions find nothing and decline) */
    if (rec->op == JOURNAL_SET || rec->op == JOURNAL_DEL)
        mark_ready(sh->blocking, rec->db, rec->key);
}

void blocking_dbs_swapped(struct shard *sh, int a, int b)
{
    struct blocking_shard *bs = sh->blocking;
    if (!bs || bs->n == 0)
        return;
    /* Redis 7 (scanDatabaseForReadyKeys): a key of either database a
     * client waits on is offered again; the serve functions find whether
     * it has elements now */
    for (size_t i = 0; i < bs->n; i++)
        if (bs->at[i].m->db == a || bs->at[i].m->db == b)
            for (int k = 0; k < bs->at[i].nkeys; k++)
                mark_ready(bs, bs->at[i].m->db, bs->at[i].keys[k]);
}

void blocking_key_ready(struct exec_ctx *ctx, struct slice key)
{
    struct shard *sh = ctx->shard;
    if (!sh || !sh->blocking || sh->blocking->n == 0 || ctx->store != sh->store)
        return;
    mark_ready(sh->blocking, sh->db, key);
}

void blocking_run(struct shard *sh, int argc, const struct slice *argv, struct buf *out, int proto)
{
    const struct command *cmd = command_lookup(argv[0]);
    if (!cmd)
        abort(); /* a serve function names its own rows */
    dispatch_run_uncounted(sh, cmd, argc, argv, out, proto, NULL, 0); /* the blocked row was counted */
}

void blocking_undo(struct shard_msg *m, int argc, const struct slice *argv)
{
    uint32_t n = (uint32_t)argc;
    buf_append(&m->payload, &n, 4);
    for (int i = 0; i < argc; i++) {
        uint32_t l = (uint32_t)argv[i].len;
        buf_append(&m->payload, &l, 4);
        buf_append(&m->payload, argv[i].ptr, argv[i].len);
    }
}

/* Take b->at[i] out, keeping the others' order, and send its answer. */
static void answer(struct shard *sh, struct blocking_shard *b, size_t i)
{
    struct shard_msg *m = b->at[i].m;
    count_blocked(sh, &b->at[i], -1);
    buf_free(&b->at[i].state);
    memmove(&b->at[i], &b->at[i + 1], (b->n - i - 1) * sizeof *b->at);
    b->n--;
    m->answered = true;
    msg_post(sh, m, m->home);
}

static void answer_timeout(struct shard *sh, struct blocking_shard *b, size_t i)
{
    struct shard_msg *m = b->at[i].m;
    struct reply r = { &m->reply, m->proto };
    if (b->at[i].on_timeout == BLOCKING_NULL_BULK)
        reply_null(&r);
    else
        reply_null_array(&r);
    answer(sh, b, i);
}

static bool waits_on(const struct blocked *w, struct slice key)
{
    for (int k = 0; k < w->nkeys; k++)
        if (w->keys[k].len == key.len && memcmp(w->keys[k].ptr, key.ptr, key.len) == 0)
            return true;
    return false;
}

/* Offer key of database db to the clients waiting on it there, in the
 * order they blocked. A serve function runs with the client's database
 * selected (its peeks at sh->store, the command it runs). */
static void serve_key(struct shard *sh, struct blocking_shard *b, int db, struct slice key)
{
    struct buf out;
    buf_init(&out);
    size_t i = 0;
    int before = sh->db;
    while (i < b->n) {
        struct blocked *w = &b->at[i];
        if (w->m->db != db || !waits_on(w, key)) {
            i++;
            continue;
        }
        buf_clear(&out);
        b->serving_state = (struct slice){ w->state.data, w->state.len };
        b->pass = false;
        shard_select(sh, db);
        bool served = w->serve(sh, w->m, key, &out);
        shard_select(sh, before);
        b->serving_state = (struct slice){ NULL, 0 };
        if (!served && b->pass) { /* nothing for this one: the next may take it */
            i++;
            continue;
        }
        if (!served)
            break; /* the key is empty again */
        struct buf t = w->m->reply;
        w->m->reply = out;
        out = t;
        answer(sh, b, i);
    }
    buf_free(&out);
}

static void blocking_turn(struct shard *sh)
{
    struct blocking_shard *b = sh->blocking;
    if (!b)
        return;
    /* serving may make more keys ready (BLMOVE's destination): until none */
    while (b->ready.len) {
        struct buf ready = b->ready;
        buf_init(&b->ready);
        for (size_t off = 0; off + 8 <= ready.len;) {
            uint32_t n;
            int32_t db;
            memcpy(&n, ready.data + off, 4);
            memcpy(&db, ready.data + off + 4, 4);
            struct slice key = { ready.data + off + 8, n };
            off += 8 + n;
            if (b->n)
                serve_key(sh, b, db, key);
        }
        buf_free(&ready);
    }
}

static bool blocking_pending(struct shard *sh)
{
    return sh->blocking && sh->blocking->ready.len > 0;
}

static void blocking_tick(struct shard *sh, int64_t now_ms)
{
    struct blocking_shard *b = sh->blocking;
    if (!b)
        return;
    for (size_t i = 0; i < b->n;) {
        if (b->at[i].deadline_ms && b->at[i].deadline_ms <= now_ms)
            answer_timeout(sh, b, i);
        else
            i++;
    }
}

void *blocking_claim_new(void)
{
    struct claim *c = mi_zalloc(sizeof *c);
    if (!c)
        abort();
    c->id = atomic_fetch_add_explicit(&next_claim_id, 1, memory_order_relaxed);
    return c;
}

void blocking_claim_free(void *claim) { mi_free(claim); }

/* Another part took elements: the parts blocked here answer null. */
static void taken_handler(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    struct blocking_shard *b = sh->blocking;
    for (size_t i = 0; b && i < b->n;) {
        if (b->at[i].claim_id == m->value)
            answer_timeout(sh, b, i);
        else
            i++;
    }
    m->answered = true;
    msg_post(sh, m, m->home);
}

bool blocking_take(struct shard *sh, struct shard_msg *m)
{
    struct claim *c = m ? m->arg : NULL;
    if (!c || m->kind != MSG_EXEC || !m->cmd || !(m->cmd->flags & CMD_BLOCKING))
        return true;
    int expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&c->taken, &expected, 1, memory_order_acq_rel,
                                                 memory_order_acquire))
        return false;
    for (int t = 0; t < sh->node->nshards; t++) {
        if (t == sh->id)
            continue;
        struct shard_msg *n = msg_create(MSG_BLOCKING_TAKEN, sh->id, t, NULL, -1, NULL, 0);
        n->handler = taken_handler;
        n->value = c->id;
        msg_post(sh, n, t);
    }
    return true;
}

/* A part's reply: is it a null (*-1, $-1 or RESP3 _)? */
static bool is_null_reply(const struct buf *b)
{
    return b->len == 0 || b->data[0] == '_' || (b->len >= 3 && b->data[1] == '-' && b->data[2] == '1');
}

void merge_blocking(struct reply *out, const struct merge_input *in)
{
    int err = -1;
    for (int i = 0; i < in->nparts; i++) {
        const struct buf *p = &in->parts[i];
        if (p->len && p->data[0] == '-') {
            if (err < 0)
                err = i;
        } else if (!is_null_reply(p)) {
            buf_append(out->out, p->data, p->len);
            return;
        }
    }
    const struct buf *p = &in->parts[err >= 0 ? err : 0];
    buf_append(out->out, p->data, p->len);
}

void merge_client_unblock(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    for (int i = 0; i < in->nparts; i++)
        if (in->parts[i].len >= 2 && memcmp(in->parts[i].data, ":1", 2) == 0) {
            reply_int(out, 1);
            return;
        }
    reply_int(out, 0);
}

bool blocking_unblock(struct shard *sh, uint64_t id, bool as_error)
{
    struct blocking_shard *b = sh->blocking;
    if (!b)
        return false;
    for (size_t i = 0; i < b->n; i++) {
        if (b->at[i].m->caller_id != id)
            continue;
        if (as_error) {
            struct reply r = { &b->at[i].m->reply, b->at[i].m->proto };
            reply_error(&r, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
            answer(sh, b, i);
        } else {
            answer_timeout(sh, b, i);
        }
        return true;
    }
    return false;
}

/* A closed connection's notice: at each shard, answer its blocked command
 * (nothing taken); back home, freed. */
static void gone_handler(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    blocking_unblock(sh, m->value, false);
    m->answered = true;
    msg_post(sh, m, m->home);
}

void blocking_client_gone(struct shard *sh, uint64_t client_id)
{
    for (int t = 0; t < sh->node->nshards; t++) {
        struct shard_msg *m = msg_create(MSG_BLOCKING_GONE, sh->id, t, NULL, -1, NULL, 0);
        m->handler = gone_handler;
        m->value = client_id;
        msg_post(sh, m, t);
    }
}

/* Run the undo commands in m->payload here. */
static void undo_handler(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    const char *p = m->payload.data, *end = p + m->payload.len;
    struct buf out;
    buf_init(&out);
    while (end - p >= 4) {
        uint32_t argc;
        memcpy(&argc, p, 4);
        p += 4;
        struct slice *argv = mi_malloc((argc ? argc : 1) * sizeof *argv);
        if (!argv)
            abort();
        for (uint32_t i = 0; i < argc; i++) {
            uint32_t l;
            memcpy(&l, p, 4);
            argv[i] = (struct slice){ p + 4, l };
            p += 4 + l;
        }
        buf_clear(&out);
        blocking_run(sh, (int)argc, argv, &out, 2);
        mi_free(argv);
    }
    buf_free(&out);
    m->answered = true;
    msg_post(sh, m, m->home);
}

void blocking_answer_orphaned(struct shard *sh, struct shard_msg *m)
{
    if (m->payload.len == 0)
        return;
    struct shard_msg *u = msg_create(MSG_BLOCKING_UNDO, sh->id, m->target, NULL, -1, NULL, 0);
    u->handler = undo_handler;
    buf_append(&u->payload, m->payload.data, m->payload.len);
    msg_post(sh, u, m->target);
}

static void blocking_teardown(struct shard *sh)
{
    struct blocking_shard *b = sh->blocking;
    if (!b)
        return;
    mi_free(b->at);
    buf_free(&b->ready);
    mi_free(b);
    sh->blocking = NULL;
}

const struct shard_module blocking_module = {
    .name = "blocking",
    .turn = blocking_turn,
    .pending = blocking_pending,
    .tick = blocking_tick,
    .teardown = blocking_teardown,
};
