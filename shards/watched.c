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
 *  - over several shards: refused, the transaction dropped. Isolating a
 *    transaction across shards would need locks on the data path; a
 *    common hash tag puts the keys on one shard (in cluster mode Redis
 *    itself answers -CROSSSLOT for keys of several slots).
 * A command's shard is where the ordinary route runs it: its keys' (all
 * on one), the cursor's for SCAN, the connection's for connection
 * commands and those without keys; one that runs on every shard, on shard
 * 0 by a message, or on keys of several shards spans more than one. */
#include "shards/dispatch.h"
#include "shards/dispatch_internal.h"

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

static int key_shard(const struct shard *sh, struct slice key)
{
    return shard_of_slot(sh->node, key_slot(key.ptr, key.len));
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
    for (int i = 1; i < argc; i++) {
        /* once each: a client watching in a loop stays bounded */
        index_reserve(s);
        uint64_t len = argv[i].len;
        uint32_t slot = index_slot(s, argv[i].ptr, len);
        if (s->watched_index[slot])
            continue;
        s->watched_index[slot] = s->watched.len + 1;
        buf_append(&s->watched, &len, sizeof(len));
        buf_append(&s->watched, argv[i].ptr, argv[i].len);
        s->nwatched++;
    }
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
            if (key_shard(sh, keys[i]) == t)
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
        bool touched = watch_touched(sh, m->argv, m->argc, m->caller_id, shard_now_ms(sh));
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
    if (--p->waiting == 0)
        pending_complete(sh, p);
    if (!s->conn) {
        if (s->inflight == 0)
            session_free(s);
        return;
    }
    session_drain(s);
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
            place(&pl, key_shard(sh, (struct slice){ p + sizeof(len), len }));
            p += sizeof(len) + len;
        }
        if (pl.shard != SEVERAL)
            each_queued(cmds, place_command, &pl);
    } else {
        pl.shard = sh->id;
    }
    if (pl.shard == SEVERAL) {
        monitor_here(sh, s, exec, cmds, false);
        multi_session_end(s);
        reply_errorf(r, "ERR WATCH needs the watched keys and the transaction's keys on one shard of this "
                        "node (ringkv has %d shards): give them a common hash tag, as {user:1}:a {user:1}:b", n);
        return;
    }
    if (pl.shard == sh->id) {
        struct slice *keys = watched_keys(s);
        bool touched = watch_touched(sh, keys, s->nwatched, s->client.id, shard_now_ms(sh));
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
