/* watched: the keys a connection watches (WATCH) and the EXEC that checks
 * them (session.h).
 *
 * A successful EXEC means that no watched key changed between the WATCH
 * and the moment the transaction's commands ran. Each shard knows what
 * changed among its own keys (watch.h), so the check and the commands must
 * run on one shard, back to back, with nothing of another client in
 * between:
 *  - the watched keys and every queued command on the connection's shard
 *    (a one-shard node always): checked and run here, in one go;
 *  - all on one other shard: the transaction goes there as one message
 *    (the watched keys and the queue), which checks and runs it and
 *    answers EXEC's whole reply;
 *  - over several shards (each command on one): in two steps
 *    (key_locks.h). Each shard it touches checks the watched keys it has
 *    and takes the transaction's keys there, so that no other client's
 *    write comes in; once all have, each runs its commands, in the queue's
 *    order, and lets the keys go; the replies are put back in the queue's
 *    order here. A shard whose watched key changed, or whose key another
 *    such transaction holds, answers no: the EXEC answers nil (the client
 *    retries, as for any changed key) and the others let their keys go.
 *    The connection reads nothing more meanwhile. Not in cluster mode
 *    (Redis Cluster answers -CROSSSLOT for keys of several slots), and
 *    not with a command that spans shards itself or needs the connection
 *    (an MSET over two shards, FLUSHALL, CLIENT ...): those are refused,
 *    the transaction dropped.
 * A command's shard is where the ordinary route runs it: its keys' (all
 * on one), the cursor's for SCAN, the connection's for connection
 * commands and those without keys; one that runs on every shard, on shard
 * 0 by a message, or on keys of several shards spans more than one. */
#include "shards/dispatch.h"
#include "shards/dispatch_internal.h"
#include "shards/key_locks.h"

#include <limits.h>
#include <mimalloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "core/numbers.h"
#include "core/reply.h"
#include "shards/message.h"
#include "shards/monitor.h"
#include "shards/node.h"
#include "shards/store/slot.h"
#include "shards/watch.h"

/* Kinds of their own for the messages of this file (they carry their handler). */
#define MSG_WATCHED_EXEC 0x576174
#define MSG_WATCH_FORGET 0x576175
#define MSG_WATCHED_ACROSS 0x576176

static int key_shard(const struct shard *sh, struct slice key)
{
    return shard_of_slot(sh->node, key_slot(key.ptr, key.len));
}

/* The shard of a watched key's name ((db, key): watch.h). */
static int name_shard(const struct shard *sh, struct slice name)
{
    return key_shard(sh, watch_key_of(name));
}

/* The session's watched keys, as slices into s->watched (mi_malloc'd;
 * NULL when there are none). */
static struct slice *watched_keys(const struct session *s)
{
    if (s->nwatched == 0)
        return NULL;
    struct slice *keys = mi_malloc(sizeof(*keys) * (size_t)s->nwatched);
    const char *p = s->watched.data;
    for (int i = 0; i < s->nwatched; i++) {
        uint64_t len;
        memcpy(&len, p, sizeof(len));
        keys[i] = (struct slice){ p + sizeof(len), len };
        p += sizeof(len) + len;
    }
    return keys;
}

/* The slot of watched_index where key is, or the free one it would take. */
static uint32_t index_slot(const struct session *s, const char *key, uint64_t len)
{
    uint32_t mask = s->watched_slots - 1;
    for (uint32_t i = (uint32_t)XXH3_64bits(key, len) & mask;; i = (i + 1) & mask) {
        size_t at = s->watched_index[i];
        if (at == 0)
            return i;
        uint64_t l;
        memcpy(&l, s->watched.data + at - 1, sizeof(l));
        if (l == len && memcmp(s->watched.data + at - 1 + sizeof(l), key, len) == 0)
            return i;
    }
}

/* Room in watched_index for one more key: at most half full. */
static void index_reserve(struct session *s)
{
    if ((uint32_t)(s->nwatched + 1) * 2 <= s->watched_slots)
        return;
    uint32_t slots = s->watched_slots ? s->watched_slots * 2 : 16;
    mi_free(s->watched_index);
    s->watched_index = mi_calloc(slots, sizeof(*s->watched_index));
    if (!s->watched_index)
        abort();
    s->watched_slots = slots;
    size_t at = 0;
    for (int i = 0; i < s->nwatched; i++) {
        uint64_t len;
        memcpy(&len, s->watched.data + at, sizeof(len));
        s->watched_index[index_slot(s, s->watched.data + at + sizeof(len), len)] = at + 1;
        at += sizeof(len) + len;
    }
}

void session_watch(struct session *s, int argc, const struct slice *argv)
{
    struct buf name;
    buf_init(&name);
    int32_t db = s->client.db;
    for (int i = 1; i < argc; i++) {
        /* once each: a client watching in a loop stays bounded; a watched
         * key is (db, key), its name the database's number then the key */
        buf_clear(&name);
        buf_append(&name, &db, WATCH_DB_BYTES);
        buf_append(&name, argv[i].ptr, argv[i].len);
        index_reserve(s);
        uint64_t len = name.len;
        uint32_t slot = index_slot(s, name.data, len);
        if (s->watched_index[slot])
            continue;
        s->watched_index[slot] = s->watched.len + 1;
        buf_append(&s->watched, &len, sizeof(len));
        buf_append(&s->watched, name.data, name.len);
        s->nwatched++;
    }
    buf_free(&name);
}

/* The session forgets its keys without telling their shards (they were
 * forgotten there already, or will be by the message that carries them). */
static void watched_clear(struct session *s)
{
    buf_free(&s->watched);
    s->nwatched = 0;
    mi_free(s->watched_index);
    s->watched_index = NULL;
    s->watched_slots = 0;
}

/* At the keys' shard: argv are the keys, caller_id the client (after the
 * connection's earlier command held there, if one is); back home: freed. */
static void forget_message(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    if (dispatch_request_waits(sh, m))
        return;
    watch_forget(sh, m->argv, m->argc, m->caller_id);
    m->answered = true;
    msg_post(sh, m, m->home);
}

/* Forget client id's watches of keys[0..n) on shard target: a message,
 * which reaches it in order with this shard's later requests there (a
 * later WATCH of the same connection). */
static void forget_on(struct shard *sh, int target, const struct slice *keys, int n, uint64_t id)
{
    struct shard_msg *m = msg_create(MSG_WATCH_FORGET, sh->id, target, NULL, -1, keys, n);
    m->handler = forget_message;
    m->caller_id = id;
    msg_post(sh, m, target);
}

void session_unwatch(struct session *s)
{
    if (s->nwatched == 0)
        return;
    struct shard *sh = s->shard;
    struct slice *keys = watched_keys(s);
    struct slice *group = mi_malloc(sizeof(*group) * (size_t)s->nwatched);
    for (int t = 0; t < sh->node->nshards; t++) {
        int n = 0;
        for (int i = 0; i < s->nwatched; i++)
            if (name_shard(sh, keys[i]) == t)
                group[n++] = keys[i];
        if (n == 0)
            continue;
        if (t == sh->id)
            watch_forget(sh, group, n, s->client.id);
        else
            forget_on(sh, t, group, n, s->client.id);
    }
    mi_free(group);
    mi_free(keys);
    watched_clear(s);
}

/* ---- where a transaction runs ------------------------------------------- */

#define SEVERAL (-1)
#define NOWHERE (-2) /* no key or command placed yet */

/* The row a queued command runs (a container's subcommand), or NULL. */
static const struct command *row_of(int argc, const struct slice *argv)
{
    const struct command *cmd = command_lookup(argv[0]);
    if (cmd && cmd->subcommands && argc >= 2) {
        const struct command *sub = command_lookup_sub(cmd, argv[1]);
        return sub ? sub : cmd;
    }
    return cmd;
}

/* The shard the ordinary route would run a queued command on, or SEVERAL. */
static int command_shard(const struct shard *sh, const struct command *cmd, int argc, const struct slice *argv)
{
    if (cmd->flags & (CMD_ALL_SHARDS | CMD_SHARD0))
        return SEVERAL; /* every shard; or shard 0 in a later turn, as a message */
    if (cmd->flags & CMD_CONN)
        return sh->id;
    if (cmd->flags & CMD_CURSOR) {
        unsigned long long cursor;
        if (argc > 1 && parse_ull(argv[1], &cursor))
            return (int)(cursor % (unsigned long long)sh->node->nshards);
        return sh->id;
    }
    if (cmd->first_key <= 0)
        return sh->id;
    int small[16];
    int *idx = small;
    int nk = command_keys(cmd, argc, argv, idx, 16);
    if (nk > 16) {
        idx = mi_malloc(sizeof(int) * (size_t)nk);
        command_keys(cmd, argc, argv, idx, nk);
    }
    int owner = nk > 0 ? key_shard(sh, argv[idx[0]]) : sh->id;
    for (int k = 1; k < nk && owner != SEVERAL; k++)
        if (key_shard(sh, argv[idx[k]]) != owner)
            owner = SEVERAL;
    if (idx != small)
        mi_free(idx);
    return owner;
}

/* Calls fn for each command of a queue (RESP written by route.c); stops
 * when fn returns false. */
typedef bool queued_fn(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv);
static void each_queued(const struct buf *cmds, queued_fn *fn, void *arg)
{
    struct resp_parser parser;
    resp_parser_init(&parser);
    /* the queue holds only what the input limits let in: nothing to check */
    struct resp_limits lim = { LLONG_MAX, LLONG_MAX, SIZE_MAX, false };
    size_t used = 0;
    for (int i = 0; used < cmds->len; i++) {
        size_t consumed = 0;
        const char *err = NULL;
        if (resp_parse(&parser, cmds->data + used, cmds->len - used, &lim, &consumed, &err) != RESP_DONE)
            break; /* cannot happen: route.c wrote the queue */
        used += consumed;
        if (!fn(arg, i, row_of((int)parser.argc, parser.argv), (int)parser.argc, parser.argv))
            break;
    }
    resp_parser_deinit(&parser);
}

struct held_check {
    const struct shard *sh;
    uint64_t            id;
    bool                held;
};

static bool command_held(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv)
{
    (void)i;
    struct held_check *hc = arg;
    if (cmd && cmd->first_key > 0)
        hc->held = key_locks_bar(hc->sh, cmd, argc, argv, hc->id);
    return !hc->held;
}

/* Does a transaction over several shards hold a key of this one (its
 * watched keys or its commands'), here? Then it answers nil, as if a
 * watched key changed: it cannot run with the key held, nor wait half
 * way (key_locks.h). */
static bool tx_keys_held(const struct shard *sh, const struct slice *watched, int nwatched, const struct buf *cmds,
                         uint64_t id)
{
    if (sh->key_locks_held == 0)
        return false;
    for (int k = 0; k < nwatched; k++) {
        struct slice key = watch_key_of(watched[k]); /* a key held in any database */
        if (key_locks_any_other(sh, &key, 1, id))
            return true;
    }
    struct held_check hc = { sh, id, false };
    each_queued(cmds, command_held, &hc);
    return hc.held;
}

struct placement {
    struct shard         *sh;
    const struct session *s;
    int                   shard;   /* where everything so far runs, SEVERAL, or NOWHERE */
    const char           *refused; /* cluster mode: the gate's verdict on a command now */
    char                  text[160];
};

static void place(struct placement *pl, int shard)
{
    if (pl->shard == NOWHERE)
        pl->shard = shard;
    else if (pl->shard != shard)
        pl->shard = SEVERAL;
}

static bool place_command(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv)
{
    (void)i;
    struct placement *pl = arg;
    if (!cmd) { /* cannot happen: an unknown command is not queued */
        pl->shard = SEVERAL;
        return false;
    }
    place(pl, command_shard(pl->sh, cmd, argc, argv));
    if (!pl->refused)
        pl->refused = dispatch_key_gate_refusal(pl->sh, pl->s, cmd, argc, argv, pl->text, sizeof(pl->text));
    return pl->shard != SEVERAL;
}

/* ---- the transaction shipped to its shard ------------------------------- */

/* What the shipped message carries besides the keys (argv) and the queue
 * (payload): the queue's length, and how long each command ran there (the
 * slow log is kept on the connection's shard, with the client's address). */
struct shipped {
    int      count;
    bool     ran;          /* no watched key had changed: the queue ran */
    char     exec_name[4]; /* EXEC as sent, for MONITOR's line ("exec", "EXEC"...) */
    uint64_t usec[];
};

struct run_there {
    struct shard     *sh;
    struct shard_msg *m;
    struct shipped   *tx;
};

static bool run_there(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv)
{
    struct run_there *rt = arg;
    if (i >= rt->tx->count)
        return false;
    rt->tx->usec[i] = dispatch_run_shipped(rt->sh, cmd, argc, argv, &rt->m->reply, rt->m);
    return true;
}

struct slow_home {
    struct shard         *sh;
    const struct session *s;
    const struct shipped *tx;
};

static bool slow_home(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv)
{
    struct slow_home *h = arg;
    if (i >= h->tx->count)
        return false;
    if (cmd && !(cmd->flags & CMD_SKIP_SLOWLOG))
        dispatch_slow_record(h->sh, h->tx->usec[i], argc, argv, &h->s->client);
    return true;
}

/* At the keys' shard: check, forget the watches, run (one message: nothing
 * else runs here in between). Back home: the answer in its place. */
static void shipped_message(struct shard *sh, struct shard_msg *m)
{
    struct shipped *tx = m->arg;
    if (!m->answered) {
        if (dispatch_request_waits(sh, m))
            return; /* after the connection's earlier command, held here */
        struct reply r = { &m->reply, m->proto };
        bool touched = watch_touched(sh, m->argv, m->argc, m->caller_id, shard_now_ms(sh)) ||
                       tx_keys_held(sh, m->argv, m->argc, &m->payload, m->caller_id);
        watch_forget(sh, m->argv, m->argc, m->caller_id);
        tx->ran = !touched;
        if (touched) {
            reply_null_array(&r);
        } else {
            reply_array(&r, (size_t)tx->count);
            struct run_there rt = { sh, m, tx };
            each_queued(&m->payload, run_there, &rt);
        }
        m->answered = true;
        msg_post(sh, m, m->home);
        return;
    }
    struct pending *p = m->pending;
    struct session *s = p->session;
    s->inflight--;
    if (tx->ran) {
        struct slow_home h = { sh, s, tx };
        each_queued(&m->payload, slow_home, &h);
    }
    if (monitor_watching(sh->node))
        monitor_exec_watched(sh, s, (struct slice){ tx->exec_name, sizeof(tx->exec_name) }, &m->payload, tx->ran);
    struct buf t = p->out;
    p->out = m->reply;
    m->reply = t;
    mi_free(tx);
    msg_free(m);
    pending_answered(sh, p);
}

static void ship(struct shard *sh, struct session *s, struct buf *cmds, int count, int target, struct slice exec)
{
    struct slice *keys = watched_keys(s);
    struct shard_msg *m = msg_create(MSG_WATCHED_EXEC, sh->id, target, NULL, -1, keys, s->nwatched);
    mi_free(keys);
    m->handler = shipped_message;
    m->payload = *cmds;
    buf_init(cmds);
    struct shipped *tx = mi_zalloc(sizeof(*tx) + sizeof(uint64_t) * (size_t)count);
    tx->count = count;
    memcpy(tx->exec_name, exec.ptr, exec.len < sizeof(tx->exec_name) ? exec.len : sizeof(tx->exec_name));
    m->arg = tx;
    struct pending *p = session_pending_add(s, STAGE_EXEC);
    p->waiting = 1;
    m->pending = p;
    watched_clear(s); /* the message forgets them there */
    dispatch_send_request(sh, s, m);
}

/* ---- a transaction over several shards --------------------------------- */

enum across_step { ACROSS_CHECK, ACROSS_RUN, ACROSS_DROP };
enum across_verdict { VERDICT_NONE, VERDICT_TAKEN, VERDICT_CHANGED, VERDICT_BUSY };

/* One shard's part: made at home, read there (the message carries it). */
struct across_part {
    struct across      *tx;
    int                 shard;
    struct slice       *watched;     /* its watched keys (into keymem) */
    int                 nwatched;
    struct slice       *lock;        /* the keys it takes: watched and named */
    int                 nlock;
    struct buf          cmds;        /* its commands, RESP, in the queue's order */
    struct buf          keymem;      /* the bytes of its watched and lock keys (the slices') */
    int                 ncmds;
    size_t             *ends;        /* where each command's reply ends in the message's reply */
    uint64_t           *usec;
    enum across_verdict verdict;     /* written there at the check */
};

struct across {
    struct shard       *home;
    struct session     *s;
    struct pending     *p;
    int                 count;       /* commands in the queue */
    int                *part_of;     /* the part each command runs in */
    struct across_part *parts;
    int                 nparts;
    int                 answers;     /* of the current step */
    enum across_step    step;
    struct buf          queue;       /* the whole queue, for MONITOR and the slow log */
    char                exec_name[4];
    struct shard_msg  **msgs;        /* one per part, reused by each step */
};

static void across_free(struct across *tx)
{
    for (int i = 0; i < tx->nparts; i++) {
        struct across_part *pt = &tx->parts[i];
        mi_free(pt->watched);
        mi_free(pt->lock);
        buf_free(&pt->cmds);
        buf_free(&pt->keymem);
        mi_free(pt->ends);
        mi_free(pt->usec);
    }
    mi_free(tx->parts);
    mi_free(tx->part_of);
    mi_free(tx->msgs);
    buf_free(&tx->queue);
    mi_free(tx);
}

struct run_part {
    struct shard        *sh;
    struct shard_msg    *m;
    struct across_part  *pt;
    int                  i;
};

static bool run_part_command(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv)
{
    (void)i;
    struct run_part *rp = arg;
    rp->pt->usec[rp->i] = dispatch_run_shipped(rp->sh, cmd, argc, argv, &rp->m->reply, rp->m);
    rp->pt->ends[rp->i++] = rp->m->reply.len;
    return true;
}

static void across_home(struct shard *sh, struct shard_msg *m);

/* At a part's shard: the step the message asks; then home. */
static void across_there(struct shard *sh, struct shard_msg *m)
{
    struct across_part *pt = m->arg;
    struct across *tx = pt->tx;
    switch (tx->step) {
    case ACROSS_CHECK:
        if (dispatch_request_waits(sh, m))
            return; /* after the connection's earlier request held here */
        if (watch_touched(sh, pt->watched, pt->nwatched, m->caller_id, shard_now_ms(sh)))
            pt->verdict = VERDICT_CHANGED;
        else if (!key_locks_take(sh, pt->lock, pt->nlock, m->caller_id))
            pt->verdict = VERDICT_BUSY;
        else
            pt->verdict = VERDICT_TAKEN;
        if (pt->verdict != VERDICT_TAKEN)
            watch_forget(sh, pt->watched, pt->nwatched, m->caller_id);
        break;
    case ACROSS_RUN: {
        m->reply.len = 0;
        struct run_part rp = { sh, m, pt, 0 };
        each_queued(&pt->cmds, run_part_command, &rp);
        watch_forget(sh, pt->watched, pt->nwatched, m->caller_id);
        key_locks_release(sh, m->caller_id);
        break;
    }
    case ACROSS_DROP:
        watch_forget(sh, pt->watched, pt->nwatched, m->caller_id);
        key_locks_release(sh, m->caller_id);
        break;
    }
    m->answered = true;
    m->handler = across_home;
    msg_post(sh, m, m->home);
}

static void across_post(struct shard *sh, struct across *tx, int i)
{
    struct shard_msg *m = tx->msgs[i];
    m->answered = false;
    m->handler = across_there;
    m->target = tx->parts[i].shard;
    dispatch_send_request(sh, tx->s, m);
}

/* Every part answered the run: EXEC's reply, the queue's replies in order. */
static void across_reply(struct shard *sh, struct across *tx)
{
    struct session *s = tx->s;
    struct reply r = { &tx->p->out, s->client.proto };
    reply_array(&r, (size_t)tx->count);
    int *next = mi_calloc((size_t)tx->nparts, sizeof(int));
    for (int i = 0; i < tx->count; i++) {
        int pi = tx->part_of[i];
        struct across_part *pt = &tx->parts[pi];
        const struct buf *rep = &tx->msgs[pi]->reply;
        size_t from = next[pi] ? pt->ends[next[pi] - 1] : 0;
        buf_append(&tx->p->out, rep->data + from, pt->ends[next[pi]] - from);
        next[pi]++;
    }
    mi_free(next);
}

/* The slow log's entries of the queue's commands, with their times. */
struct slow_across {
    struct shard  *sh;
    struct across *tx;
    int           *next;
};

static bool slow_across(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv)
{
    struct slow_across *sa = arg;
    int pi = sa->tx->part_of[i];
    uint64_t usec = sa->tx->parts[pi].usec[sa->next[pi]++];
    if (cmd && !(cmd->flags & CMD_SKIP_SLOWLOG))
        dispatch_slow_record(sa->sh, usec, argc, argv, &sa->tx->s->client);
    return true;
}

/* Home: a part answered; once all have, the next step. */
static void across_home(struct shard *sh, struct shard_msg *m)
{
    struct across_part *pt = m->arg;
    struct across *tx = pt->tx;
    struct session *s = tx->s;
    s->inflight--;
    if (++tx->answers < tx->nparts)
        return;
    tx->answers = 0;
    bool ran = false, done = true;
    if (tx->step == ACROSS_CHECK) {
        bool all = true;
        for (int i = 0; i < tx->nparts; i++)
            all = all && tx->parts[i].verdict == VERDICT_TAKEN;
        tx->step = all ? ACROSS_RUN : ACROSS_DROP;
        int sent = 0;
        for (int i = 0; i < tx->nparts; i++)
            if (all || tx->parts[i].verdict == VERDICT_TAKEN) {
                across_post(sh, tx, i);
                sent++;
            }
        /* the parts not taken answer nothing more: count them answered */
        tx->answers = tx->nparts - sent;
        done = sent == 0;
        if (!done)
            return;
    } else {
        ran = tx->step == ACROSS_RUN;
    }
    if (!done)
        return;
    if (ran) {
        across_reply(sh, tx);
        int *next = mi_calloc((size_t)tx->nparts, sizeof(int));
        struct slow_across sa = { sh, tx, next };
        each_queued(&tx->queue, slow_across, &sa);
        mi_free(next);
    } else {
        struct reply r = { &tx->p->out, s->client.proto };
        reply_null_array(&r);
    }
    if (monitor_watching(sh->node))
        monitor_exec_watched(sh, s, (struct slice){ tx->exec_name, strnlen(tx->exec_name, sizeof(tx->exec_name)) },
                             &tx->queue, ran);
    struct pending *p = tx->p;
    for (int i = 0; i < tx->nparts; i++)
        msg_free(tx->msgs[i]);
    across_free(tx);
    p->waiting = 1; /* this is its one answer */
    pending_answered(sh, p);
}

struct part_builder {
    struct shard  *sh;
    struct across *tx;
    int           *part_at;  /* shard -> part index, -1 none */
    bool           refused;  /* a command spans shards or needs the connection */
};

static int part_for(struct part_builder *b, int shard)
{
    if (b->part_at[shard] < 0) {
        struct across *tx = b->tx;
        b->part_at[shard] = tx->nparts;
        tx->parts = mi_realloc(tx->parts, sizeof(*tx->parts) * (size_t)(tx->nparts + 1));
        struct across_part *pt = &tx->parts[tx->nparts++];
        memset(pt, 0, sizeof(*pt));
        pt->tx = tx;
        pt->shard = shard;
        buf_init(&pt->cmds);
        buf_init(&pt->keymem);
    }
    return b->part_at[shard];
}

/* A copy of key in the part's keymem, added to *list: its slice holds the
 * offset until keys_fixed points it at the bytes (keymem may move while
 * keys are added). The keys given are the session's or a parser's: they
 * do not outlive the building. */
static void add_key(struct across_part *pt, struct slice **list, int *n, struct slice key)
{
    *list = mi_realloc(*list, sizeof(**list) * (size_t)(*n + 1));
    (*list)[(*n)++] = (struct slice){ (const char *)(uintptr_t)pt->keymem.len, key.len };
    buf_append(&pt->keymem, key.ptr, key.len);
}

static void keys_fixed(struct across_part *pt)
{
    for (int k = 0; k < pt->nwatched; k++)
        pt->watched[k].ptr = pt->keymem.data + (uintptr_t)pt->watched[k].ptr;
    for (int k = 0; k < pt->nlock; k++)
        pt->lock[k].ptr = pt->keymem.data + (uintptr_t)pt->lock[k].ptr;
}

static void add_lock_key(struct across_part *pt, struct slice key)
{
    add_key(pt, &pt->lock, &pt->nlock, key);
}


static bool build_command(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv)
{
    struct part_builder *b = arg;
    /* SELECT changes the connection's database, which a part (run away
     * from the connection) cannot: refused as a command needing it */
    if (!cmd || ((cmd->flags & CMD_CONN) && (!command_needs_no_connection(cmd) || strcmp(cmd->name, "select") == 0))) {
        b->refused = true;
        return false;
    }
    int shard = command_shard(b->sh, cmd, argc, argv);
    if (shard == SEVERAL) {
        b->refused = true;
        return false;
    }
    int pi = part_for(b, shard);
    b->tx->part_of[i] = pi;
    struct across_part *pt = &b->tx->parts[pi];
    resp_encode_command(&pt->cmds, argc, argv);
    pt->ncmds++;
    return true;
}

/* The keys each part takes: its watched keys and those its commands name. */
static bool lock_keys_of(void *arg, int i, const struct command *cmd, int argc, const struct slice *argv)
{
    (void)i;
    struct across_part *pt = arg;
    int small[16];
    int *idx = small;
    int nk = command_keys(cmd, argc, argv, idx, 16);
    if (nk > 16) {
        idx = mi_malloc(sizeof(int) * (size_t)nk);
        command_keys(cmd, argc, argv, idx, nk);
    }
    for (int k = 0; k < nk; k++)
        add_lock_key(pt, argv[idx[k]]);
    if (idx != small)
        mi_free(idx);
    return true;
}

/* Start a watched transaction over several shards; false (nothing done) if
 * one of its commands cannot be run in a part. */
static bool across_start(struct shard *sh, struct session *s, struct buf *cmds, int count, struct slice exec)
{
    struct across *tx = mi_zalloc(sizeof(*tx));
    tx->home = sh;
    tx->s = s;
    tx->count = count;
    tx->part_of = mi_malloc(sizeof(int) * (size_t)(count ? count : 1));
    int nshards = sh->node->nshards;
    int *part_at = mi_malloc(sizeof(int) * (size_t)nshards);
    for (int t = 0; t < nshards; t++)
        part_at[t] = -1;
    struct part_builder b = { sh, tx, part_at, false };
    each_queued(cmds, build_command, &b);
    if (b.refused) {
        mi_free(part_at);
        across_free(tx);
        return false;
    }
    /* the watched keys, to their shards' parts */
    struct slice *watched = watched_keys(s); /* into s->watched, cleared below */
    for (int i = 0; i < s->nwatched; i++) {
        int pi = part_for(&b, name_shard(sh, watched[i])); /* may move tx->parts */
        struct across_part *pt = &tx->parts[pi];
        add_key(pt, &pt->watched, &pt->nwatched, watched[i]);
        add_lock_key(pt, watch_key_of(watched[i]));
    }
    mi_free(watched);
    mi_free(part_at);
    for (int i = 0; i < tx->nparts; i++) {
        struct across_part *pt = &tx->parts[i];
        each_queued(&pt->cmds, lock_keys_of, pt);
        keys_fixed(pt);
        pt->ends = mi_malloc(sizeof(size_t) * (size_t)(pt->ncmds ? pt->ncmds : 1));
        pt->usec = mi_calloc((size_t)(pt->ncmds ? pt->ncmds : 1), sizeof(uint64_t));
    }
    tx->queue = *cmds;
    buf_init(cmds);
    memcpy(tx->exec_name, exec.ptr, exec.len < sizeof(tx->exec_name) ? exec.len : sizeof(tx->exec_name));
    tx->p = session_pending_add(s, STAGE_EXEC);
    tx->p->holds = true; /* the connection reads nothing more until it is done */
    tx->p->waiting = 1;
    s->blocked = true;
    tx->step = ACROSS_CHECK;
    tx->msgs = mi_malloc(sizeof(*tx->msgs) * (size_t)tx->nparts);
    for (int i = 0; i < tx->nparts; i++) {
        struct shard_msg *m = msg_create(MSG_WATCHED_ACROSS, sh->id, tx->parts[i].shard, NULL, -1, NULL, 0);
        m->arg = &tx->parts[i];
        tx->msgs[i] = m;
    }
    watched_clear(s); /* the parts forget them there */
    for (int i = 0; i < tx->nparts; i++)
        across_post(sh, tx, i);
    return true;
}

/* ---- EXEC ---------------------------------------------------------------- */

/* MONITOR's lines of a watched EXEC decided here. */
static void monitor_here(struct shard *sh, const struct session *s, struct slice exec, const struct buf *cmds,
                         bool ran)
{
    if (monitor_watching(sh->node))
        monitor_exec_watched(sh, s, exec, cmds, ran);
}

void dispatch_exec_watched(struct shard *sh, struct session *s, struct buf *cmds, int count, struct reply *r,
                           struct slice exec)
{
    int n = sh->node->nshards;
    struct placement pl = { sh, s, NOWHERE, NULL, { 0 } };
    if (n > 1) {
        const char *p = s->watched.data;
        for (int i = 0; i < s->nwatched; i++) {
            uint64_t len;
            memcpy(&len, p, sizeof(len));
            place(&pl, name_shard(sh, (struct slice){ p + sizeof(len), len }));
            p += sizeof(len) + len;
        }
        if (pl.shard != SEVERAL)
            each_queued(cmds, place_command, &pl);
    } else {
        pl.shard = sh->id;
    }
    if (pl.shard == SEVERAL) {
        if (!sh->node->key_gate && across_start(sh, s, cmds, count, exec)) {
            multi_session_end(s);
            return; /* answered once its parts have run (across_home) */
        }
        monitor_here(sh, s, exec, cmds, false);
        multi_session_end(s);
        reply_errorf(r, "ERR WATCH with a command that spans shards or needs the connection, in a transaction "
                        "over several shards of this node (ringkv has %d shards): give the keys a common hash "
                        "tag, as {user:1}:a {user:1}:b", n);
        return;
    }
    if (pl.shard == sh->id) {
        struct slice *keys = watched_keys(s);
        bool touched = watch_touched(sh, keys, s->nwatched, s->client.id, shard_now_ms(sh)) ||
                       tx_keys_held(sh, keys, s->nwatched, cmds, s->client.id);
        mi_free(keys);
        multi_session_end(s); /* forgets the watches, here */
        monitor_here(sh, s, exec, cmds, !touched);
        if (touched) {
            reply_null_array(r);
            return;
        }
        reply_array(r, (size_t)count);
        dispatch_replay(sh, s, cmds);
        return;
    }
    if (pl.refused) {
        /* cluster mode, the slot no longer served as when the commands were
         * queued: Redis answers EXEC with the redirection, discarding it */
        monitor_here(sh, s, exec, cmds, false);
        multi_session_end(s);
        reply_error(r, pl.refused);
        return;
    }
    ship(sh, s, cmds, count, pl.shard, exec);
    multi_session_end(s);
}
