/* cmd_connection: the connection commands (PING, HELLO, AUTH, CLIENT ...).
 *
 * Most run on the connection's own thread (CMD_CONN) and read or change
 * ctx->client. CLIENT LIST and CLIENT KILL run on every shard
 * (CMD_ALL_SHARDS): each shard answers for the connections it owns and the
 * merges at the end of this file combine the answers on the caller's thread.
 *
 * The users are the ACL's (shards/commands/acl.h: AUTH and HELLO log in
 * through it); ringkv has one database, 0. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimalloc.h>

#include "shards/commands/acl.h"
#include "shards/commands/commands.h"
#include "shards/blocking.h"
#include "shards/dispatch.h"
#include "shards/conn_owner.h"
#include "shards/monitor.h"
#include "shards/session.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/tracking.h"
#include "shards/tracking_node.h"
#include "core/config.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "core/resp.h"
#include "ringkv_version.h"

#define ERR_NEEDS_CLIENT   "ERR this command needs its connection"
#define ERR_DB_RANGE       "ERR DB index is out of range"
#define ERR_BAD_NAME       "ERR Client names cannot contain spaces, newlines or special characters."
#define ERR_NAME_TOO_LONG  "ERR Client name is too long"
#define ERR_WRONGPASS      "WRONGPASS invalid username-password pair or user is disabled."
#define ERR_AUTH_NOPASS    "ERR AUTH <password> called without any password configured for the " \
                           "default user. Are you sure your configuration is correct?"
#define ERR_HELLO_NOAUTH   "NOAUTH HELLO must be called with the client already authenticated, " \
                           "otherwise the HELLO AUTH <user> <pass> option can be used to " \
                           "authenticate the client and select the RESP protocol version at the same time"

/* Longest argument echoed back inside an error text. */
#define ERR_ARG_MAX 128

static int arg_len_for_error(struct slice s)
{
    return s.len > ERR_ARG_MAX ? ERR_ARG_MAX : (int)s.len;
}

/* ---- PING ECHO QUIT SELECT -------------------------------------------- */

void cmd_ping(struct exec_ctx *ctx)
{
    if (ctx->argc > 2) {
        reply_errorf(ctx->reply, ERR_ARITY, "ping");
        return;
    }
    if (ctx->client && ctx->client->proto == 2 && pubsub_subscribed(session_of_client(ctx->client))) {
        /* in RESP2 subscribe mode PING answers like a message: ["pong", <arg>] */
        reply_array(ctx->reply, 2);
        reply_bulk_str(ctx->reply, "pong");
        reply_bulk(ctx->reply, ctx->argc > 1 ? ctx->argv[1].ptr : "", ctx->argc > 1 ? ctx->argv[1].len : 0);
        return;
    }
    if (ctx->argc == 1)
        reply_simple(ctx->reply, "PONG");
    else
        reply_bulk(ctx->reply, ctx->argv[1].ptr, ctx->argv[1].len);
}

void cmd_echo(struct exec_ctx *ctx)
{
    reply_bulk(ctx->reply, ctx->argv[1].ptr, ctx->argv[1].len);
}

void cmd_quit(struct exec_ctx *ctx)
{
    reply_ok(ctx->reply);
    if (ctx->client)
        ctx->client->close_after_reply = true;
}

void cmd_select(struct exec_ctx *ctx)
{
    long long db;
    if (!db_index_arg(ctx, ctx->argv[1], &db))
        return;
    if (db != 0 && ctx->shard && config_load(&ctx->shard->node->config, cluster_enabled)) {
        reply_error(ctx->reply, "ERR SELECT is not allowed in cluster mode");
        return;
    }
    if (db < 0 || db >= (ctx->shard ? ctx->shard->ndbs : 1)) { /* (a lone store: the unit tests') */
        reply_error(ctx->reply, ERR_DB_RANGE);
        return;
    }
    if (ctx->client)
        ctx->client->db = (int)db;
    reply_ok(ctx->reply);
}

/* ---- AUTH HELLO RESET ------------------------------------------------- */

/* AUTH [username] password */
void cmd_auth(struct exec_ctx *ctx)
{
    if (ctx->argc > 3) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    struct slice user, pass;
    if (ctx->argc == 2) {
        if (acl_default_has_nopass(ctx)) {
            reply_error(ctx->reply, ERR_AUTH_NOPASS);
            return;
        }
        user = SLICE_LIT("default");
        pass = ctx->argv[1];
    } else {
        user = ctx->argv[1];
        pass = ctx->argv[2];
    }
    if (!acl_login(ctx, user, pass)) {
        reply_error(ctx->reply, ERR_WRONGPASS);
        return;
    }
    reply_ok(ctx->reply);
}

/* A client name is printable ASCII without spaces ('!'..'~'); "" clears it. */
static const char *client_name_problem(struct slice name)
{
    for (size_t i = 0; i < name.len; i++)
        if (name.ptr[i] < '!' || name.ptr[i] > '~')
            return ERR_BAD_NAME;
    if (name.len >= sizeof(((struct client *)0)->name))
        return ERR_NAME_TOO_LONG;
    return NULL;
}

static void client_set_name(struct client *c, struct slice name)
{
    memcpy(c->name, name.ptr, name.len);
    c->name[name.len] = '\0';
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]]
 * Checks in Redis's order: the version, then the options (a bad name is
 * refused before authenticating), then the credentials, then that the client
 * is authenticated; only then is anything changed. The reply is already in
 * the new protocol. */
void cmd_hello(struct exec_ctx *ctx)
{
    struct client *c = ctx->client;
    if (!c) {
        reply_error(ctx->reply, ERR_NEEDS_CLIENT);
        return;
    }
    long long ver = 0;
    int j = 1;
    if (ctx->argc >= 2) {
        if (!parse_ll(ctx->argv[1], &ver)) {
            reply_error(ctx->reply, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(ctx->reply, "NOPROTO unsupported protocol version");
            return;
        }
        j = 2;
    }
    const struct slice *user = NULL, *pass = NULL, *name = NULL;
    for (; j < ctx->argc; j++) {
        int more = ctx->argc - 1 - j;
        struct slice opt = ctx->argv[j];
        if (slice_eq_nocase(opt, "auth") && more >= 2) {
            user = &ctx->argv[j + 1];
            pass = &ctx->argv[j + 2];
            j += 2;
        } else if (slice_eq_nocase(opt, "setname") && more >= 1) {
            name = &ctx->argv[j + 1];
            const char *problem = client_name_problem(*name);
            if (problem) {
                reply_error(ctx->reply, problem);
                return;
            }
            j++;
        } else {
            reply_errorf(ctx->reply, "ERR Syntax error in HELLO option '%.*s'",
                         arg_len_for_error(opt), opt.ptr);
            return;
        }
    }
    if (user) {
        if (!acl_login(ctx, *user, *pass)) {
            reply_error(ctx->reply, ERR_WRONGPASS);
            return;
        }
    }
    if (!c->authenticated) {
        reply_error(ctx->reply, ERR_HELLO_NOAUTH);
        return;
    }
    if (name)
        client_set_name(c, *name);
    if (ver) {
        c->proto = (int)ver;
        ctx->reply->proto = (int)ver;
    }

    struct reply *r = ctx->reply;
    reply_map(r, 7);
    reply_bulk_str(r, "server");  reply_bulk_str(r, "redis");
    reply_bulk_str(r, "version"); reply_bulk_str(r, REDIS_COMPAT_VERSION);
    reply_bulk_str(r, "proto");   reply_int(r, c->proto);
    reply_bulk_str(r, "id");      reply_int(r, (long long)c->id);
    reply_bulk_str(r, "mode");    reply_bulk_str(r, ctx->shard && ctx->shard->node->cluster ? "cluster" : "standalone");
    bool replica = ctx->shard && atomic_load_explicit(&ctx->shard->node->repl_role, memory_order_relaxed);
    reply_bulk_str(r, "role");    reply_bulk_str(r, replica ? "replica" : "master");
    reply_bulk_str(r, "modules"); reply_array(r, 0);
}

/* RESET: back to a fresh connection's state (RESP2, no name, database 0,
 * authenticated only if no password is needed); answered in RESP2. */
void cmd_reset(struct exec_ctx *ctx)
{
    struct client *c = ctx->client;
    if (c) {
        if ((c->reply_off || c->reply_skip_next) && ctx->shard)
            ctx->reply->out = session_reply_unmute(c); /* RESET is answered: replies are back on */
        c->proto = 2;
        c->name[0] = '\0';
        c->db = 0;
        c->no_evict = false;
        c->read_replica = false; /* READWRITE, as Redis's RESET */
        c->asking = 0;
        c->no_touch = false;
        c->reply_off = false;
        c->reply_skip_next = false;
        tracking_client_set(ctx->shard, c, false);
        acl_client_reset_user(ctx);
        if (ctx->shard) {
            pubsub_session_end(ctx->shard, session_of_client(c));
            monitor_session_end(ctx->shard, session_of_client(c));
        }
        multi_session_end(session_of_client(c));
    }
    ctx->reply->proto = 2;
    reply_simple(ctx->reply, "RESET");
}

/* ---- CLIENT ID GETNAME SETNAME INFO HELP ------------------------------ */

void cmd_client_id(struct exec_ctx *ctx)
{
    if (!ctx->client) {
        reply_error(ctx->reply, ERR_NEEDS_CLIENT);
        return;
    }
    reply_int(ctx->reply, (long long)ctx->client->id);
}

void cmd_client_getname(struct exec_ctx *ctx)
{
    if (!ctx->client) {
        reply_error(ctx->reply, ERR_NEEDS_CLIENT);
        return;
    }
    if (ctx->client->name[0])
        reply_bulk_str(ctx->reply, ctx->client->name);
    else
        reply_null(ctx->reply);
}

void cmd_client_setname(struct exec_ctx *ctx)
{
    if (!ctx->client) {
        reply_error(ctx->reply, ERR_NEEDS_CLIENT);
        return;
    }
    const char *problem = client_name_problem(ctx->argv[2]);
    if (problem) {
        reply_error(ctx->reply, problem);
        return;
    }
    client_set_name(ctx->client, ctx->argv[2]);
    reply_ok(ctx->reply);
}

/* One CLIENT LIST / CLIENT INFO line, newline included, in Redis 7's field
 * order, then Redis 8's io-thread (the shard thread serving the client). ringkv has no per-client query/argv/multi buffers the way Redis
 * does: the memory fields are approximations from what the connection holds
 * (unparsed input, unsent output, replies waiting on other shards). */
static void client_line(struct buf *out, const struct conn_view *v, int64_t now_ms)
{
    const struct client *c = v->client;
    long long age = c->created_ms > 0 && now_ms > c->created_ms ? (now_ms - c->created_ms) / 1000 : 0;
    long long idle = c->last_active_ms > 0 && now_ms > c->last_active_ms
                         ? (now_ms - c->last_active_ms) / 1000 : 0;
    const size_t read_buf = 16384; /* the size of one receive buffer */
    size_t qbuf_free = v->qbuf < read_buf ? read_buf - v->qbuf : 0;
    size_t tot_mem = sizeof(struct client) + v->qbuf + qbuf_free + v->obuf + v->pending * 64 + v->multi_mem;
    /* Redis's letters in its order, "N" only when there is none: x MULTI,
     * t TRACKING, R its REDIRECT target gone, B BCAST, e NO-EVICT, T
     * NO-TOUCH */
    char flags[16];
    snprintf(flags, sizeof(flags), "%s%s%s%s%s%s%s", strcmp(v->flags, "N") == 0 ? "" : v->flags,
             v->in_multi ? "x" : "", c->tracking ? "t" : "",
             c->tracking_flags & TRACKING_BROKEN_REDIR ? "R" : "", c->tracking_flags & TRACKING_BCAST ? "B" : "",
             c->no_evict ? "e" : "", c->no_touch ? "T" : "");
    if (!flags[0])
        snprintf(flags, sizeof(flags), "N");
    buf_printf(out,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
               "sub=%zu psub=%zu ssub=%zu multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=%zu "
               "rbs=%zu rbp=%zu obl=%zu oll=%zu omem=%zu tot-mem=%zu events=%s cmd=%s "
               "user=%s redir=%lld resp=%d io-thread=%d\n",
               (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name, age, idle,
               flags, c->db, v->sub, v->psub, v->ssub, v->in_multi ? v->multi_count : -1,
               v->qbuf, qbuf_free, v->multi_mem, read_buf, v->qbuf, v->obuf, v->pending, v->obuf, tot_mem,
               v->obuf ? "rw" : "r", c->last_cmd[0] ? c->last_cmd : "NULL", v->user,
               c->tracking ? (long long)c->tracking_redir : -1LL, c->proto, v->shard);
}

struct find_client {
    uint64_t          id;
    bool              found;
    struct conn_view  view;
};

static void find_client_visit(void *arg, struct conn *conn, const struct conn_view *v)
{
    (void)conn;
    struct find_client *f = arg;
    if (v->client->id == f->id) {
        f->found = true;
        f->view = *v;
    }
}

void cmd_client_info(struct exec_ctx *ctx)
{
    if (!ctx->client) {
        reply_error(ctx->reply, ERR_NEEDS_CLIENT);
        return;
    }
    struct find_client f = { .id = ctx->client->id, .found = false };
    if (ctx->shard)
        shard_each_conn_view(ctx->shard, find_client_visit, &f);
    if (!f.found) /* no connection (a unit test's context) */
        f.view = (struct conn_view){ .type = CLIENT_TYPE_NORMAL, .flags = "N", .user = "default" };
    f.view.client = ctx->client;
    struct buf line;
    buf_init(&line);
    client_line(&line, &f.view, ctx->now_ms);
    reply_verbatim(ctx->reply, line.data, line.len);
    buf_free(&line);
}

void cmd_client_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client (ringkv has no blocking commands: 0).",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(ctx->reply, lines[i]);
}

/* ---- CLIENT REPLY NO-EVICT NO-TOUCH GETREDIR TRACKING ... -------------- */

/* ON or OFF (any case) into *on; false for anything else. */
static bool on_off(struct slice s, bool *on)
{
    if (slice_eq_nocase(s, "on"))
        *on = true;
    else if (slice_eq_nocase(s, "off"))
        *on = false;
    else
        return false;
    return true;
}

/* CLIENT REPLY ON|OFF|SKIP. OFF and SKIP answer nothing (their own reply is
 * the first one dropped); ON answers +OK even while replies are off. The
 * dispatcher decides per command whether its reply is dropped (route.c
 * dispatch_execute); the row refuses it inside MULTI, where EXEC's array
 * would lose some of its elements. */
void cmd_client_reply(struct exec_ctx *ctx)
{
    struct client *c = ctx->client;
    if (!c) {
        reply_error(ctx->reply, ERR_NEEDS_CLIENT);
        return;
    }
    struct slice a = ctx->argv[2];
    if (slice_eq_nocase(a, "on")) {
        c->reply_off = false;
        c->reply_skip_next = false;
        if (ctx->shard) /* a unit test's context has no session */
            ctx->reply->out = session_reply_unmute(c);
        reply_ok(ctx->reply);
    } else if (slice_eq_nocase(a, "off")) {
        c->reply_off = true;
    } else if (slice_eq_nocase(a, "skip")) {
        if (!c->reply_off)
            c->reply_skip_next = true;
    } else {
        reply_error(ctx->reply, ERR_SYNTAX);
    }
}

/* CLIENT NO-EVICT ON|OFF: ringkv never closes a client to free memory (its
 * maxmemory bounds the data), so every client already is what NO-EVICT asks
 * for; the flag is kept and shown in CLIENT LIST (flags=e). */
void cmd_client_no_evict(struct exec_ctx *ctx)
{
    bool on;
    if (!on_off(ctx->argv[2], &on)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (ctx->client)
        ctx->client->no_evict = on;
    reply_ok(ctx->reply);
}

/* CLIENT NO-TOUCH ON|OFF (Redis 7.2): the client's commands leave the LRU
 * clock of the keys they find (run.c sets the store's mode around each of
 * its commands, wherever it runs; TOUCH still touches); shown as flags=T. */
void cmd_client_no_touch(struct exec_ctx *ctx)
{
    bool on;
    if (!on_off(ctx->argv[2], &on)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (ctx->client)
        ctx->client->no_touch = on;
    reply_ok(ctx->reply);
}

/* Client-side caching (shards/tracking.h): CLIENT TRACKING and the
 * commands around it, with Redis 7's modes, checks and texts. */
void cmd_client_getredir(struct exec_ctx *ctx)
{
    /* the client redirected to, 0 for none; -1: not tracking */
    const struct client *c = ctx->client;
    reply_int(ctx->reply, c && c->tracking ? (long long)c->tracking_redir : -1);
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
 * [OPTOUT] [NOLOOP], checked in Redis's order. */
void cmd_client_tracking(struct exec_ctx *ctx)
{
    struct client *c = ctx->client;
    bool on;
    if (!on_off(ctx->argv[2], &on)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    uint64_t redir = 0;
    int redir_shard = -1;
    unsigned options = 0;
    int nprefixes = 0;
    struct slice *prefixes = NULL; /* at most argc of them */
    for (int j = 3; j < ctx->argc; j++) {
        struct slice o = ctx->argv[j];
        bool more = j + 1 < ctx->argc;
        if (slice_eq_nocase(o, "redirect") && more) {
            j++;
            if (redir) {
                reply_error(ctx->reply, "ERR A client can only redirect to a single other client");
                goto done;
            }
            long long id;
            if (!parse_ll(ctx->argv[j], &id)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                goto done;
            }
            /* it must exist now; it may go later (tracking-redir-broken) */
            redir_shard = id > 0 ? tracking_conn_shard(ctx->shard, (uint64_t)id) : -1;
            if (redir_shard < 0) {
                reply_error(ctx->reply, "ERR The client ID you want redirect to does not exist");
                goto done;
            }
            redir = (uint64_t)id;
        } else if (slice_eq_nocase(o, "bcast")) {
            options |= TRACKING_BCAST;
        } else if (slice_eq_nocase(o, "optin")) {
            options |= TRACKING_OPTIN;
        } else if (slice_eq_nocase(o, "optout")) {
            options |= TRACKING_OPTOUT;
        } else if (slice_eq_nocase(o, "noloop")) {
            options |= TRACKING_NOLOOP;
        } else if (slice_eq_nocase(o, "prefix") && more) {
            j++;
            if (!prefixes) {
                prefixes = mi_malloc(sizeof(struct slice) * (size_t)ctx->argc);
                if (!prefixes)
                    abort();
            }
            prefixes[nprefixes++] = ctx->argv[j];
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            goto done;
        }
    }
    if (!c) {
        reply_error(ctx->reply, ERR_NEEDS_CLIENT);
        goto done;
    }
    if (!on) {
        tracking_client_set(ctx->shard, c, false);
        reply_ok(ctx->reply);
        goto done;
    }
    unsigned had = c->tracking ? c->tracking_flags : 0;
    char err[600];
    if (!(options & TRACKING_BCAST) && nprefixes) {
        reply_error(ctx->reply, "ERR PREFIX option requires BCAST mode to be enabled");
    } else if (c->tracking && (had & TRACKING_BCAST) != (options & TRACKING_BCAST)) {
        reply_error(ctx->reply, "ERR You can't switch BCAST mode on/off before disabling tracking for this "
                                "client, and then re-enabling it with a different mode.");
    } else if ((options & TRACKING_BCAST) && (options & (TRACKING_OPTIN | TRACKING_OPTOUT))) {
        reply_error(ctx->reply, "ERR OPTIN and OPTOUT are not compatible with BCAST");
    } else if ((options & TRACKING_OPTIN) && (options & TRACKING_OPTOUT)) {
        reply_error(ctx->reply, "ERR You can't specify both OPTIN mode and OPTOUT mode");
    } else if (((options & TRACKING_OPTIN) && (had & TRACKING_OPTOUT)) ||
               ((options & TRACKING_OPTOUT) && (had & TRACKING_OPTIN))) {
        reply_error(ctx->reply, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
                                "client, and then re-enabling it with a different mode.");
    } else if ((options & TRACKING_BCAST) && !tracking_prefixes_check(c, prefixes, nprefixes, err, sizeof err)) {
        reply_error(ctx->reply, err);
    } else {
        tracking_enable(ctx->shard, c, redir, redir_shard, options, prefixes, nprefixes);
        reply_ok(ctx->reply);
    }
done:
    mi_free(prefixes);
}

/* CLIENT TRACKINGINFO, as Redis reports it: the flags (on/off, then the
 * options), the client redirected to, the BCAST prefixes. */
void cmd_client_trackinginfo(struct exec_ctx *ctx)
{
    const struct client *c = ctx->client;
    bool on = c && c->tracking;
    unsigned f = on ? c->tracking_flags : 0;
    const char *flags[8];
    size_t n = 0;
    flags[n++] = on ? "on" : "off";
    if (f & TRACKING_BCAST)
        flags[n++] = "bcast";
    if (f & TRACKING_OPTIN) {
        flags[n++] = "optin";
        if (c->tracking_caching)
            flags[n++] = "caching-yes";
    }
    if (f & TRACKING_OPTOUT) {
        flags[n++] = "optout";
        if (c->tracking_caching)
            flags[n++] = "caching-no";
    }
    if (f & TRACKING_NOLOOP)
        flags[n++] = "noloop";
    if (f & TRACKING_BROKEN_REDIR)
        flags[n++] = "broken_redirect";
    reply_map(ctx->reply, 3);
    reply_bulk_str(ctx->reply, "flags");
    reply_set(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_bulk_str(ctx->reply, flags[i]);
    reply_bulk_str(ctx->reply, "redirect");
    reply_int(ctx->reply, on ? (long long)c->tracking_redir : -1);
    reply_bulk_str(ctx->reply, "prefixes");
    if (on)
        tracking_prefixes_reply(c, ctx->reply);
    else
        reply_array(ctx->reply, 0);
}

/* CLIENT CACHING YES|NO: in OPTIN mode the next command's reads (or a
 * transaction's) are tracked, in OPTOUT mode they are not (the flag's life:
 * shards/route.c, route_command). */
void cmd_client_caching(struct exec_ctx *ctx)
{
    struct client *c = ctx->client;
    if (!c || !c->tracking) {
        reply_error(ctx->reply, "ERR CLIENT CACHING can be called only when the client is in tracking "
                                "mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    struct slice o = ctx->argv[2];
    if (slice_eq_nocase(o, "yes")) {
        if (!(c->tracking_flags & TRACKING_OPTIN)) {
            reply_error(ctx->reply, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
            return;
        }
    } else if (slice_eq_nocase(o, "no")) {
        if (!(c->tracking_flags & TRACKING_OPTOUT)) {
            reply_error(ctx->reply, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
            return;
        }
    } else {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    c->tracking_caching = true;
    reply_ok(ctx->reply);
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: runs on every shard (a client blocks
 * on its keys' shard, shards/blocking.h); the shard where it is blocked
 * answers it (its timeout reply, or -UNBLOCKED) and counts 1, the others
 * 0 (merge_client_unblock: 1 if any). */
void cmd_client_unblock(struct exec_ctx *ctx)
{
    long long id;
    if (!parse_ll(ctx->argv[2], &id)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (ctx->argc == 4 && !slice_eq_nocase(ctx->argv[3], "timeout") &&
        !slice_eq_nocase(ctx->argv[3], "error")) {
        reply_error(ctx->reply, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        return;
    }
    if (ctx->argc > 4) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    bool as_error = ctx->argc == 4 && slice_eq_nocase(ctx->argv[3], "error");
    reply_int(ctx->reply, ctx->shard && blocking_unblock(ctx->shard, (uint64_t)id, as_error) ? 1 : 0);
}

/* ---- CLIENT LIST ------------------------------------------------------ */

/* A TYPE argument: a client type (conn_owner.h), TYPE_ANY without one.
 * Returns false for an unknown type name. */
#define TYPE_ANY (-1)
static bool client_type_parse(struct slice s, int *type)
{
    if (slice_eq_nocase(s, "normal"))
        *type = CLIENT_TYPE_NORMAL;
    else if (slice_eq_nocase(s, "replica") || slice_eq_nocase(s, "slave"))
        *type = CLIENT_TYPE_REPLICA;
    else if (slice_eq_nocase(s, "pubsub"))
        *type = CLIENT_TYPE_PUBSUB;
    else if (slice_eq_nocase(s, "master"))
        *type = CLIENT_TYPE_MASTER;
    else
        return false;
    return true;
}

static bool client_type_matches(int type, const struct conn_view *v)
{
    return type == TYPE_ANY || type == (int)v->type;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct list_filter {
    struct buf      *out;
    int64_t          now_ms;
    int              type;   /* enum client_type or TYPE_ANY */
    const uint64_t  *ids;    /* sorted; NULL: every id */
    size_t           nids;
};

static void list_visit(void *arg, struct conn *conn, const struct conn_view *v)
{
    (void)conn;
    struct list_filter *f = arg;
    if (!client_type_matches(f->type, v))
        return;
    if (f->ids && !bsearch(&v->client->id, f->ids, f->nids, sizeof(uint64_t), cmp_u64))
        return;
    client_line(f->out, v, f->now_ms);
}

static void type_error(struct reply *r, struct slice t)
{
    reply_errorf(r, "ERR Unknown client type '%.*s'", arg_len_for_error(t), t.ptr);
}

/* CLIENT LIST [TYPE type] | [ID id [id ...]]: this shard's connections. */
void cmd_client_list(struct exec_ctx *ctx)
{
    struct buf out;
    buf_init(&out);
    struct list_filter f = { .out = &out, .now_ms = ctx->now_ms, .type = TYPE_ANY };
    uint64_t *ids = NULL;

    if (ctx->argc == 4 && slice_eq_nocase(ctx->argv[2], "type")) {
        if (!client_type_parse(ctx->argv[3], &f.type)) {
            type_error(ctx->reply, ctx->argv[3]);
            return;
        }
    } else if (ctx->argc > 3 && slice_eq_nocase(ctx->argv[2], "id")) {
        size_t n = (size_t)(ctx->argc - 3);
        ids = mi_malloc(n * sizeof(*ids));
        if (!ids)
            abort();
        for (size_t i = 0; i < n; i++) {
            long long id;
            if (!parse_ll(ctx->argv[3 + i], &id)) {
                mi_free(ids);
                reply_error(ctx->reply, "ERR Invalid client ID");
                return;
            }
            ids[i] = (uint64_t)id;
        }
        qsort(ids, n, sizeof(*ids), cmp_u64);
        f.ids = ids;
        f.nids = n;
    } else if (ctx->argc != 2) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }

    if (ctx->shard)
        shard_each_conn_view(ctx->shard, list_visit, &f);
    reply_verbatim(ctx->reply, out.data ? out.data : "", out.len);
    buf_free(&out);
    mi_free(ids);
}

/* ---- CLIENT KILL ------------------------------------------------------ */

struct kill_filter {
    bool         old_form;  /* CLIENT KILL addr */
    const struct slice *addr, *laddr, *user;
    int          type;      /* enum client_type or TYPE_ANY */
    uint64_t     id;        /* 0: any */
    bool         skipme;
    uint64_t     caller_id;
    /* matches, killed after the walk so the walk never sees a dying client */
    const struct client **victims;
    size_t       n, cap;
};

static bool str_is(const char *s, const struct slice *want)
{
    size_t l = strlen(s);
    return l == want->len && memcmp(s, want->ptr, l) == 0;
}

static void kill_visit(void *arg, struct conn *conn, const struct conn_view *v)
{
    (void)conn;
    struct kill_filter *f = arg;
    const struct client *c = v->client;
    if (f->addr && !str_is(c->addr, f->addr)) return;
    if (f->laddr && !str_is(c->laddr, f->laddr)) return;
    if (f->user && !str_is(v->user, f->user)) return;
    if (!client_type_matches(f->type, v)) return;
    if (f->id && c->id != f->id) return;
    if (f->skipme && c->id == f->caller_id) return;
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->victims = mi_realloc(f->victims, f->cap * sizeof(*f->victims));
        if (!f->victims)
            abort();
    }
    f->victims[f->n++] = c;
}

/* CLIENT KILL addr | CLIENT KILL <filter> <value> ... on this shard's
 * connections. The old form answers +OK or "ERR No such client", the new
 * form the number killed; merge_client_kill combines the shards' answers. */
void cmd_client_kill(struct exec_ctx *ctx)
{
    struct kill_filter f = { .skipme = true, .caller_id = ctx->caller_id, .type = TYPE_ANY };
    if (ctx->argc == 3) {
        f.old_form = true;
        f.addr = &ctx->argv[2];
        f.skipme = false; /* with the old form a client may kill itself */
    } else {
        for (int i = 2; i < ctx->argc; i += 2) {
            struct slice opt = ctx->argv[i];
            if (i + 1 >= ctx->argc) {
                reply_error(ctx->reply, ERR_SYNTAX);
                return;
            }
            const struct slice *val = &ctx->argv[i + 1];
            if (slice_eq_nocase(opt, "id")) {
                long long id;
                if (!parse_ll(*val, &id) || id < 1) {
                    reply_error(ctx->reply, "ERR client-id should be greater than 0");
                    return;
                }
                f.id = (uint64_t)id;
            } else if (slice_eq_nocase(opt, "type")) {
                if (!client_type_parse(*val, &f.type)) {
                    type_error(ctx->reply, *val);
                    return;
                }
            } else if (slice_eq_nocase(opt, "addr")) {
                f.addr = val;
            } else if (slice_eq_nocase(opt, "laddr")) {
                f.laddr = val;
            } else if (slice_eq_nocase(opt, "user")) {
                bool known = ctx->shard ? acl_find(acl_current(&ctx->shard->node->acl), val->ptr, val->len) != NULL
                                        : slice_eq_nocase(*val, "default"); /* a unit test's: the one user */
                if (!known) {
                    reply_errorf(ctx->reply, "ERR No such user '%.*s'", arg_len_for_error(*val), val->ptr);
                    return;
                }
                f.user = val;
            } else if (slice_eq_nocase(opt, "skipme")) {
                if (slice_eq_nocase(*val, "yes")) {
                    f.skipme = true;
                } else if (slice_eq_nocase(*val, "no")) {
                    f.skipme = false;
                } else {
                    reply_error(ctx->reply, ERR_SYNTAX);
                    return;
                }
            } else {
                reply_error(ctx->reply, ERR_SYNTAX);
                return;
            }
        }
    }

    if (ctx->shard)
        shard_each_conn_view(ctx->shard, kill_visit, &f);
    for (size_t i = 0; i < f.n; i++)
        shard_kill_client(ctx->shard, f.victims[i]);
    size_t killed = f.n;
    mi_free(f.victims);

    if (f.old_form) {
        if (killed)
            reply_ok(ctx->reply);
        else
            reply_error(ctx->reply, "ERR No such client");
    } else {
        reply_int(ctx->reply, (long long)killed);
    }
}

/* ---- merges ----------------------------------------------------------- */

/* The text of an error part ("-ERR ...\r\n") replied as it is. */
static void reply_part_error(struct reply *out, const struct buf *part)
{
    size_t end = 1;
    while (end < part->len && part->data[end] != '\r' && part->data[end] != '\n')
        end++;
    char *text = mi_malloc(end);
    if (!text)
        abort();
    memcpy(text, part->data + 1, end - 1);
    text[end - 1] = '\0';
    reply_error(out, text);
    mi_free(text);
}

/* Body of a bulk ("$n\r\n...") or verbatim ("=n\r\ntxt:...") string part;
 * false when the part is neither or is malformed. */
static bool part_string(const struct buf *part, const char **p, size_t *n)
{
    if (part->len < 4 || (part->data[0] != '$' && part->data[0] != '='))
        return false;
    size_t i = 1, len = 0;
    while (i < part->len && part->data[i] >= '0' && part->data[i] <= '9') {
        if (len > (SIZE_MAX - 9) / 10)
            return false;
        len = len * 10 + (size_t)(part->data[i] - '0');
        i++;
    }
    if (i == 1 || i + 2 > part->len || part->data[i] != '\r' || part->data[i + 1] != '\n')
        return false;
    i += 2;
    if (len > part->len - i)
        return false;
    const char *body = part->data + i;
    if (part->data[0] == '=') {
        if (len < 4)
            return false;
        body += 4; /* "txt:" */
        len -= 4;
    }
    *p = body;
    *n = len;
    return true;
}

void merge_client_list(struct reply *out, const struct merge_input *in)
{
    for (int i = 0; i < in->nparts; i++) {
        if (in->parts[i].len > 0 && in->parts[i].data[0] == '-') {
            reply_part_error(out, &in->parts[i]);
            return;
        }
    }
    struct buf all;
    buf_init(&all);
    for (int i = 0; i < in->nparts; i++) {
        const char *p;
        size_t n;
        if (part_string(&in->parts[i], &p, &n))
            buf_append(&all, p, n);
    }
    reply_verbatim(out, all.data ? all.data : "", all.len);
    buf_free(&all);
}

void merge_client_kill(struct reply *out, const struct merge_input *in)
{
    long long sum = 0;
    bool any_ok = false;
    int first_error = -1;
    for (int i = 0; i < in->nparts; i++) {
        struct resp_reader rd;
        resp_reader_init(&rd, in->parts[i].data, in->parts[i].len);
        long long v;
        struct slice text;
        if (resp_read_int(&rd, &v))
            sum += v;
        else if (resp_peek(&rd) == '+' && resp_read_string(&rd, &text))
            any_ok = true;
        else if (resp_read_error(&rd, &text) && first_error < 0)
            first_error = i;
    }
    if (any_ok)
        reply_ok(out);
    else if (first_error >= 0)
        reply_part_error(out, &in->parts[first_error]);
    else
        reply_int(out, sum);
}

/* CLIENT PAUSE timeout [WRITE|ALL] (shards/pause.c holds the commands). */
void cmd_client_pause(struct exec_ctx *ctx)
{
    long long timeout;
    if (!parse_ll(ctx->argv[2], &timeout)) {
        reply_error(ctx->reply, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(ctx->reply, "ERR timeout is negative");
        return;
    }
    enum pause_mode mode = PAUSE_ALL;
    if (ctx->argc == 4) {
        if (slice_eq_nocase(ctx->argv[3], "write")) {
            mode = PAUSE_WRITE;
        } else if (!slice_eq_nocase(ctx->argv[3], "all")) {
            reply_error(ctx->reply, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    } else if (ctx->argc > 4) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    pause_start(ctx->shard->node, ctx->now_ms, timeout, mode);
    reply_ok(ctx->reply);
}

void cmd_client_unpause(struct exec_ctx *ctx)
{
    pause_stop(ctx->shard);
    reply_ok(ctx->reply);
}
