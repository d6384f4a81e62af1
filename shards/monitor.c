/* monitor: MONITOR's stream (see monitor.h): the lines, the per-shard list
 * of monitors, the batches a shard sends every other shard at the end of
 * its turn, and the output limit a monitor is held to. */
#include "shards/monitor.h"

#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/numbers.h"
#include "core/output_limits.h"
#include "core/reply.h"
#include "core/resp.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/session.h"
#include "shards/shard.h"

/* A shard's part: its monitors, and the lines formed this turn for the
 * monitors of each shard (outbox[own id] included: delivered at the end of
 * the turn too, so a monitor's own command is answered before its line, as
 * in Redis, where the line is fed after the command ran). */
struct monitor_shard {
    struct session **sessions;
    int              n;
    struct buf      *outbox;   /* per target shard */
    bool             pending;  /* some outbox has lines */
};

#define MSG_MONITOR_LINES 0x4d4f4e /* a module kind; the handler runs it */

static struct monitor_shard *part_of(const struct shard *sh)
{
    return sh->monitor;
}

bool monitor_is(const struct session *s)
{
    return s->monitor;
}

void monitor_quote(struct buf *out, const char *p, size_t len)
{
    char *d = buf_reserve(out, len * 4 + 2);
    size_t n = 0;
    d[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '\\': d[n++] = '\\'; d[n++] = '\\'; break;
        case '"':  d[n++] = '\\'; d[n++] = '"'; break;
        case '\n': d[n++] = '\\'; d[n++] = 'n'; break;
        case '\r': d[n++] = '\\'; d[n++] = 'r'; break;
        case '\t': d[n++] = '\\'; d[n++] = 't'; break;
        case '\a': d[n++] = '\\'; d[n++] = 'a'; break;
        case '\b': d[n++] = '\\'; d[n++] = 'b'; break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                d[n++] = (char)c;
            } else {
                static const char hex[] = "0123456789abcdef";
                d[n++] = '\\'; d[n++] = 'x';
                d[n++] = hex[c >> 4]; d[n++] = hex[c & 15];
            }
        }
    }
    d[n++] = '"';
    out->len += n;
}

/* Which arguments Redis shows as "(redacted)": AUTH's password (and
 * username, as Redis 7.0 redacts both), HELLO's AUTH username and password. */
static bool redacted(const struct command *cmd, int argc, const struct slice *argv, int i)
{
    if (strcmp(cmd->name, "auth") == 0)
        return i >= 1;
    if (strcmp(cmd->name, "hello") == 0) {
        for (int j = 2; j + 2 < argc; j++)
            if (argv[j].len == 4 && strncasecmp(argv[j].ptr, "auth", 4) == 0)
                return i == j + 1 || i == j + 2;
    }
    (void)argc;
    return false;
}

/* SELECT: Redis shows its line, and the lines after it, in the database
 * it selects (MONITOR's line is fed after the command runs). */
static bool is_select(const struct command *cmd)
{
    return cmd && strcmp(cmd->name, "select") == 0;
}

/* The database SELECT's argument names, or db if it names none valid. */
static int select_arg(struct slice a, int db)
{
    long long n;
    return parse_ll(a, &n) && n >= 0 && n < 65536 ? (int)n : db;
}

/* One line into line: the shard's clock (the command's start) as unix
 * time, the database, the peer, the arguments. */
static void form_line(struct shard *sh, struct buf *line, int db, const char *peer, const struct command *cmd,
                      int argc, const struct slice *argv)
{
    int64_t us = ((int64_t)sh->clock_ns + sh->unix_offset_ns) / 1000;
    buf_printf(line, "+%lld.%06lld [%d %s]", (long long)(us / 1000000), (long long)(us % 1000000), db, peer);
    for (int i = 0; i < argc; i++) {
        buf_append(line, " ", 1);
        if (cmd && redacted(cmd, argc, argv, i))
            buf_append_str(line, "\"(redacted)\"");
        else
            monitor_quote(line, argv[i].ptr, argv[i].len);
    }
    buf_append(line, "\r\n", 2);
}

/* The row that runs argv (a subcommand's own: its flags say admin), or NULL. */
static const struct command *row_of(int argc, const struct slice *argv)
{
    const struct command *c = command_lookup(argv[0]);
    if (c && c->subcommands && argc >= 2) {
        const struct command *sub = command_lookup_sub(c, argv[1]);
        if (sub)
            return sub;
    }
    return c;
}

/* Add a line for every shard's monitors (delivered at the end of the turn). */
static void feed(struct shard *sh, int db, const char *peer, const struct command *cmd, int argc,
                 const struct slice *argv)
{
    struct monitor_shard *me = part_of(sh);
    int n = sh->node->nshards;
    struct buf *first = &me->outbox[0];
    size_t at = first->len;
    form_line(sh, first, db, peer, cmd, argc, argv);
    for (int t = 1; t < n; t++)
        buf_append(&me->outbox[t], first->data + at, first->len - at);
    me->pending = true;
}

/* The commands EXEC is about to run, as Redis shows them: each of the
 * queue, then "exec" (Redis feeds a command after it ran; EXEC ends after
 * its queue). Only when the queue will run: not after a refused command
 * (EXECABORT) or when the node refuses it now. */
static int feed_queue(struct shard *sh, int db, const char *peer, const struct buf *cmds)
{
    struct resp_parser parser;
    resp_parser_init(&parser);
    struct resp_limits lim = { LLONG_MAX, LLONG_MAX, SIZE_MAX, false };
    size_t used = 0;
    while (used < cmds->len) {
        size_t consumed = 0;
        const char *err = NULL;
        if (resp_parse(&parser, cmds->data + used, cmds->len - used, &lim, &consumed, &err) != RESP_DONE)
            break; /* cannot happen: route.c wrote the queue */
        used += consumed;
        const struct command *c = row_of((int)parser.argc, parser.argv);
        if (c && !(c->flags & CMD_ADMIN))
            feed(sh, db, peer, c, (int)parser.argc, parser.argv);
        if (c && is_select(c) && parser.argc == 2) /* a queued SELECT: the lines after it */
            db = select_arg(parser.argv[1], db);
    }
    resp_parser_deinit(&parser);
    return db;
}

static void feed_exec(struct shard *sh, struct session *s, const struct command *exec, int argc,
                      const struct slice *argv)
{
    if (s->nwatched > 0 && s->in_multi && !s->multi_dirty && !dispatch_exec_refusal(sh, s))
        return; /* a watched EXEC: shown once its check is known (monitor_exec_watched) */
    int db = s->client.db;
    if (s->in_multi && !s->multi_dirty && !dispatch_exec_refusal(sh, s))
        db = feed_queue(sh, db, s->client.addr, &s->multi_cmds);
    feed(sh, db, s->client.addr, exec, argc, argv);
}

void monitor_exec_watched(struct shard *sh, const struct session *s, struct slice exec, const struct buf *cmds,
                          bool ran)
{
    int db = s->client.db;
    if (ran)
        db = feed_queue(sh, db, s->client.addr, cmds);
    feed(sh, db, s->client.addr, command_lookup(exec), 1, &exec);
}

static void deliver(struct shard *sh, const char *p, size_t n);

/* The lines for this shard's monitors, delivered now rather than at the end
 * of the turn. */
static void deliver_local(struct shard *sh)
{
    struct buf *b = &part_of(sh)->outbox[sh->id];
    if (b->len) {
        deliver(sh, b->data, b->len);
        buf_clear(b);
    }
}

bool monitor_command(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                     const struct slice *argv)
{
    if (s->monitor) /* its earlier commands' lines before it runs this one (a RESET ends it) */
        deliver_local(sh);
    if (s->monitor && (cmd->flags & (CMD_READONLY | CMD_WRITE))) {
        /* Redis: a monitor is a replica-flagged client */
        static const char refusal[] = "ERR Replica can't interact with the keyspace";
        struct reply r = { session_push_target(s), s->client.proto }; /* in its place, as a reply */
        reply_error(&r, refusal);
        stats_error_reply(&sh->stats, refusal, sizeof(refusal) - 1);
        stats_command_rejected(&sh->stats, cmd->index);
        return false;
    }
    if (s->in_exec)
        return true; /* shown when EXEC began (feed_exec) */
    if (cmd->flags & CMD_ADMIN)
        return true;
    if (cmd->flags & CMD_EXEC)
        feed_exec(sh, s, cmd, argc, argv);
    else
        feed(sh, is_select(cmd) && argc == 2 ? select_arg(argv[1], s->client.db) : s->client.db,
             s->client.addr, cmd, argc, argv);
    return true;
}

void monitor_command_from(struct shard *sh, const char *peer, int argc, const struct slice *argv)
{
    const struct command *cmd = row_of(argc, argv);
    if (cmd && (cmd->flags & CMD_ADMIN))
        return; /* REPLCONF GETACK: admin, not shown by Redis either */
    feed(sh, sh->db, peer, cmd, argc, argv);
}

/* The limit a monitor is held to: Redis counts it a normal client. */
static struct output_limit monitor_limit(const struct config *cfg)
{
    static _Thread_local const char *parsed;
    static _Thread_local struct output_limit limits[OUTPUT_CLASSES];
    const char *text = config_str(cfg, client_output_buffer_limit);
    if (text != parsed) {
        output_limits_parse(OUTPUT_LIMITS_DEFAULT, limits);
        output_limits_parse(text, limits); /* checked when it was set */
        parsed = text;
    }
    struct output_limit lim = limits[OUTPUT_NORMAL];
    if (!lim.hard && !lim.soft) /* Redis would let it grow without bound */
        lim.hard = config_load(cfg, client_output_limit);
    return lim;
}

static bool over_limit(struct session *s, const struct output_limit *lim, int64_t now_ms)
{
    size_t used = session_output_bytes(s);
    if (lim->hard && used >= (size_t)lim->hard)
        return true;
    if (!lim->soft || used < (size_t)lim->soft) {
        s->obuf_soft_since_ms = 0;
        return false;
    }
    if (!s->obuf_soft_since_ms) {
        s->obuf_soft_since_ms = now_ms;
        return false;
    }
    return now_ms - s->obuf_soft_since_ms > lim->soft_seconds * 1000;
}

static void drop_monitor(struct session *s)
{
    log_warning("Client id=%llu addr=%s laddr=%s fd=%d name=%s flags=O omem=%zu "
                "scheduled to be closed ASAP for overcoming of output buffer limits.",
                (unsigned long long)s->client.id, s->client.addr, s->client.laddr, s->client.fd,
                s->client.name, session_output_bytes(s));
    conn_close(s->conn, false); /* leaves the list when its connection is freed */
}

/* Lines for this shard's monitors. */
static void deliver(struct shard *sh, const char *p, size_t n)
{
    struct monitor_shard *me = part_of(sh);
    if (me->n == 0)
        return;
    struct output_limit lim = monitor_limit(&sh->node->config);
    int64_t now = shard_now_ms(sh);
    for (int i = 0; i < me->n; i++) {
        struct session *s = me->sessions[i];
        if (!s->conn || s->conn->closing)
            continue;
        buf_append(session_push_target(s), p, n);
        if (over_limit(s, &lim, now)) {
            drop_monitor(s);
            continue;
        }
        if (!s->head)
            conn_flush(s->conn); /* else it leaves when the replies before it do */
    }
}

/* Every tick: a monitor over the soft limit longer than the soft seconds
 * is closed even when no line comes (Redis's clientsCron check). */
static void monitor_tick(struct shard *sh, int64_t now_ms)
{
    struct monitor_shard *me = part_of(sh);
    if (me->n == 0)
        return;
    struct output_limit lim = monitor_limit(&sh->node->config);
    for (int i = 0; i < me->n; i++) {
        struct session *s = me->sessions[i];
        if (s->conn && !s->conn->closing && over_limit(s, &lim, now_ms))
            drop_monitor(s);
    }
}

static void lines_arrived(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    deliver(sh, m->payload.data, m->payload.len);
    m->answered = true;
    msg_post(sh, m, m->home);
}

/* End of the turn: every shard's lines go out, one message per shard. */
static void monitor_turn(struct shard *sh)
{
    struct monitor_shard *me = part_of(sh);
    if (!me->pending)
        return;
    me->pending = false;
    for (int t = 0; t < sh->node->nshards; t++) {
        struct buf *b = &me->outbox[t];
        if (b->len == 0)
            continue;
        if (t == sh->id) {
            deliver_local(sh);
            continue;
        }
        struct shard_msg *m = msg_create(MSG_MONITOR_LINES, sh->id, t, NULL, -1, NULL, 0);
        m->handler = lines_arrived;
        m->payload = *b;
        buf_init(b);
        msg_post(sh, m, t);
    }
}

static bool monitor_pending(struct shard *sh)
{
    return part_of(sh)->pending;
}

void monitor_start(struct shard *sh, struct session *s)
{
    struct monitor_shard *me = part_of(sh);
    if (s->monitor)
        return;
    s->monitor = true;
    me->sessions = mi_realloc(me->sessions, sizeof(*me->sessions) * (size_t)(me->n + 1));
    me->sessions[me->n++] = s;
    atomic_fetch_add_explicit(&sh->node->monitors, 1, memory_order_relaxed);
}

void monitor_session_end(struct shard *sh, struct session *s)
{
    if (!s->monitor)
        return;
    s->monitor = false;
    struct monitor_shard *me = part_of(sh);
    for (int i = 0; i < me->n; i++) {
        if (me->sessions[i] == s) {
            me->sessions[i] = me->sessions[--me->n];
            break;
        }
    }
    atomic_fetch_sub_explicit(&sh->node->monitors, 1, memory_order_relaxed);
}

static void monitor_setup(struct shard *sh)
{
    struct monitor_shard *me = mi_zalloc(sizeof(*me));
    me->outbox = mi_calloc((size_t)sh->node->nshards, sizeof(struct buf));
    sh->monitor = me;
}

static void monitor_teardown(struct shard *sh)
{
    struct monitor_shard *me = part_of(sh);
    if (!me)
        return;
    for (int t = 0; t < sh->node->nshards; t++)
        buf_free(&me->outbox[t]);
    mi_free(me->outbox);
    mi_free(me->sessions);
    mi_free(me);
    sh->monitor = NULL;
}

static const struct shard_module monitor_module = {
    .name = "monitor",
    .setup = monitor_setup,
    .teardown = monitor_teardown,
    .turn = monitor_turn,
    .tick = monitor_tick,
    .pending = monitor_pending,
};

void monitor_attach(struct node *n)
{
    node_attach_module(n, &monitor_module);
}
