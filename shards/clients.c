/* clients: a connection's arrival and departure (maxclients, protected
 * mode, its session), the shard's loop handlers (which hand every event to
 * the connection's owner: conn_owner.h), the owner ops of a client's session
 * and of a replica's feed, idle timeouts, and the shard's view of its
 * connections for CLIENT LIST / KILL. */
#include <arpa/inet.h>
#include <mimalloc.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "shards/blocking.h"
#include "shards/dispatch.h"
#include "shards/monitor.h"
#include "shards/node.h"
#include "shards/session.h"
#include "shards/tracking.h"

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

#define ERR_MAXCLIENTS "-ERR max number of clients reached\r\n"
#define ERR_DENIED "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

static const struct conn_owner_ops session_ops, feed_ops;

void dispatch_open(void *arg, struct conn *c)
{
    struct shard *sh = arg;
    struct node *n = sh->node;
    long clients = atomic_fetch_add(&n->clients, 1) + 1;
    stat_add(&sh->stats.connections_received, 1);
    stat_add(&sh->stats.connected_clients, 1);
    struct session *s = mi_zalloc(sizeof(*s));
    s->owner.ops = &session_ops;
    s->conn = c;
    s->shard = sh;
    c->owner = &s->owner;
    resp_parser_init(&s->parser);
    struct client *cl = &s->client;
    cl->id = atomic_fetch_add(&n->next_client_id, 1);
    tracking_conn_opened(sh, cl->id); /* REDIRECT finds it by id */
    cl->proto = 2;
    /* the default user (id 0, as zeroed), authenticated when it needs no
     * password, as in Redis */
    cl->authenticated = !acl_auth_required(acl_current(&n->acl));
    cl->fd = c->fd;
    cl->created_ms = cl->last_active_ms = clock_unix_ms();
    shard_clock_start(sh, false);
    conn_addr_text(&c->peer, cl->addr, sizeof(cl->addr));
    cl->local = peer_is_loopback(&c->peer);
    conn_addr_text(&c->local, cl->laddr, sizeof(cl->laddr));
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

/* ---- the loop handlers: every event goes to the connection's owner ----- */

size_t dispatch_data(void *arg, struct conn *c, const char *p, size_t n)
{
    return c->owner->ops->data(arg, c, p, n);
}

void dispatch_sent(void *arg, struct conn *c)
{
    struct shard *sh = arg;
    uint64_t sent = loop_bytes_sent(sh->loop); /* INFO total_net_output_bytes */
    stat_add(&sh->stats.net_output_bytes, sent - sh->net_out_seen);
    /* the bytes since the last call are c's send's (called after each) */
    if (c->owner && c->owner->ops->replication)
        stat_add(&sh->stats.net_repl_output_bytes, sent - sh->net_out_seen);
    sh->net_out_seen = sent;
    if (c->owner && c->owner->ops->sent)
        c->owner->ops->sent(arg, c);
}

void dispatch_connected(void *arg, struct conn *c, int err)
{
    c->owner->ops->connected(arg, c, err);
}

void dispatch_close(void *arg, struct conn *c)
{
    c->owner->ops->closed(arg, c);
}

/* ---- a client's session as the owner ----------------------------------- */

static void session_closed(struct shard *sh, struct conn *c)
{
    struct session *s = session_of_conn(c);
    if (s->feed)
        s->feed->closed(sh, &s->client);
    pubsub_session_end(sh, s);
    monitor_session_end(sh, s);
    pause_session_end(sh, s);
    tracking_client_set(sh, &s->client, false);
    tracking_conn_closed(sh, s->client.id);
    session_unwatch(s);
    if (s->inflight > 0) /* it may be blocked on a shard's keys */
        blocking_client_gone(sh, s->client.id);
    atomic_fetch_sub(&sh->node->clients, 1);
    stat_add(&sh->stats.connected_clients, (uint64_t)-1);
    s->conn = NULL;
    c->owner = NULL;
    if (s->inflight == 0)
        session_free(s);
}

static void session_describe(struct shard *sh, const struct conn *c, struct conn_view *v)
{
    struct session *s = session_of_conn(c);
    v->client = &s->client;
    pubsub_counts(s, &v->sub, &v->psub, &v->ssub);
    /* Redis: a client with a subscription is of the pubsub type (RESP3 too) */
    v->type = v->sub + v->psub + v->ssub > 0 ? CLIENT_TYPE_PUBSUB : CLIENT_TYPE_NORMAL;
    v->flags = s->monitor ? "O" : v->type == CLIENT_TYPE_PUBSUB ? "P" : "N";
    /* the name lives in the current users set, which no shard frees
     * while this command runs */
    const struct acl_user *u = acl_client_user(acl_current(&sh->node->acl), &s->client);
    v->user = u ? u->name : "default";
    v->pending = (size_t)s->npending;
    v->obuf = session_output_bytes(s);
    v->in_multi = s->in_multi;
    v->multi_count = s->multi_count;
    v->multi_mem = s->multi_cmds.len;
}

/* Idle: nothing waiting for it, no command held, no subscription (Redis
 * exempts subscribers: they only listen), and nothing from it for longer
 * than the limit. */
static bool session_idle(const struct conn *c, int64_t now_ms, int64_t limit_ms)
{
    const struct session *s = session_of_conn(c);
    return !s->head && !s->held && !pubsub_subscribed(s) &&
           now_ms - s->client.last_active_ms > limit_ms;
}

/* Close once the replies already asked for are sent. */
static void session_kill(struct shard *sh, struct conn *c)
{
    (void)sh;
    struct session *s = session_of_conn(c);
    s->client.close_after_reply = true;
    if (!s->head)
        conn_close(c, true);
    else
        conn_pause(c);
}

/* ---- ACL users gone ----------------------------------------------------- */

/* The users set this shard last swept its connections against. */
static _Thread_local uint64_t acl_swept_gen;

static void acl_sweep_conn(void *arg, struct conn *c)
{
    struct shard *sh = arg;
    if (!c->owner || c->owner->ops != &session_ops)
        return;
    struct session *s = session_of_conn(c);
    const struct acl_user *u = acl_client_user(acl_current(&sh->node->acl), &s->client);
    if (!u) {
        session_kill(sh, c);
        return;
    }
    /* a subscriber whose user may no longer hear one of its channels is
     * closed, as Redis closes it when the user's channels shrink */
    const struct pubsub *ps = s->pubsub;
    if (!ps || (u->flags & ACL_USER_ALLCHANNELS))
        return;
    for (size_t i = 0; i < ps->nchannels; i++)
        if (!acl_channel_allowed(u, (struct slice){ ps->channels[i].data, ps->channels[i].len }, false)) {
            session_kill(sh, c);
            return;
        }
    for (size_t i = 0; i < ps->npatterns; i++)
        if (!acl_channel_allowed(u, (struct slice){ ps->patterns[i].data, ps->patterns[i].len }, true)) {
            session_kill(sh, c);
            return;
        }
}

void dispatch_acl_sweep(struct shard *sh)
{
    const struct acl_users *set = acl_current(&sh->node->acl);
    if (set->generation == acl_swept_gen)
        return;
    acl_swept_gen = set->generation;
    /* a deleted user's clients are closed, as Redis closes them at once:
     * here at the next tick for the idle ones, and by the command path
     * (route.c) for one that sends a command first; so are subscribers
     * that lost a channel */
    loop_each_conn(sh->loop, acl_sweep_conn, sh);
}

static const struct conn_owner_ops session_ops = {
    .name = "client",
    .data = session_data,
    .sent = session_sent,
    .closed = session_closed,
    .describe = session_describe,
    .idle = session_idle,
    .kill = session_kill,
};

/* After PSYNC the session feeds a replica: the same session (its REPLCONF
 * ACKs are commands), listed as Redis lists a replica (flags=S, TYPE
 * replica) and exempt from the idle timeout (its liveness is the
 * replication's business). */
static void feed_describe(struct shard *sh, const struct conn *c, struct conn_view *v)
{
    session_describe(sh, c, v);
    v->type = CLIENT_TYPE_REPLICA;
    v->flags = "S";
}

static const struct conn_owner_ops feed_ops = {
    .name = "replica",
    .replication = true,
    .data = session_data,
    .sent = session_sent,
    .closed = session_closed,
    .describe = feed_describe,
    .kill = session_kill,
};

/* ---- walkers over the shard's connections ------------------------------ */

struct tick_walk { int64_t now, limit_ms; size_t max_output, max_input, normal_memory; };

static void tick_conn(void *arg, struct conn *c)
{
    struct tick_walk *w = arg;
    size_t out = conn_output_bytes(c);
    if (out > w->max_output)
        w->max_output = out;
    size_t in = conn_input_bytes(c);
    if (in > w->max_input)
        w->max_input = in;
    conn_trim_buffers(c, 32u << 10);
    if (c->owner && c->owner->ops == &session_ops) /* a client's: its buffers and session */
        w->normal_memory += conn_output_memory(c) + c->in.cap + sizeof(struct session);
    if (w->limit_ms > 0 && c->owner && c->owner->ops->idle &&
        c->owner->ops->idle(c, w->now, w->limit_ms)) {
        log_verbose("Closing idle %s on fd %d", c->owner->ops->name, c->fd);
        conn_close(c, false);
    }
}

/* Every tick (as Redis's clientsCron): subscribers over their output
 * limits, idle connections, the biggest output and input, the normal clients'
 * buffers and the loop's counts for INFO. */
void dispatch_timeouts(struct shard *sh, int64_t now_ms)
{
    pubsub_check_output(sh, now_ms);
    long long t = config_load(&sh->node->config, timeout);
    struct tick_walk w = { now_ms, t > 0 ? t * 1000 : 0, 0, 0, 0 };
    loop_each_conn(sh->loop, tick_conn, &w);
    __atomic_store_n(&sh->stats.client_max_output, (uint64_t)w.max_output, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->stats.client_max_input, (uint64_t)w.max_input, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->stats.clients_normal_memory, (uint64_t)w.normal_memory, __ATOMIC_RELAXED);
    const struct loop_counts *now = loop_counts(sh->loop), *seen = &sh->loop_seen; /* the trims above included */
    stat_add(&sh->stats.reads_processed, now->reads - seen->reads);
    stat_add(&sh->stats.writes_processed, now->writes - seen->writes);
    stat_add(&sh->stats.reply_buffer_expands, now->reply_expands - seen->reply_expands);
    stat_add(&sh->stats.reply_buffer_shrinks, now->reply_shrinks - seen->reply_shrinks);
    sh->loop_seen = *now;
}

static bool conn_view_of(struct shard *sh, struct conn *c, struct conn_view *v)
{
    if (!c->owner || !c->owner->ops->describe)
        return false;
    memset(v, 0, sizeof(*v));
    v->qbuf = conn_input_bytes(c);
    v->obuf = conn_output_bytes(c);
    v->shard = sh->id;
    c->owner->ops->describe(sh, c, v);
    return v->client != NULL;
}

struct view_walk { struct shard *sh; conn_view_fn *fn; void *arg; };

static void visit_view(void *arg, struct conn *c)
{
    struct view_walk *w = arg;
    struct conn_view v;
    if (conn_view_of(w->sh, c, &v))
        w->fn(w->arg, c, &v);
}

void shard_each_conn_view(struct shard *sh, conn_view_fn *fn, void *arg)
{
    struct view_walk w = { sh, fn, arg };
    loop_each_conn(sh->loop, visit_view, &w);
}

void conn_view_outgoing(const struct conn *c, struct client *cl, struct conn_view *v)
{
    conn_addr_text(&c->peer, cl->addr, sizeof(cl->addr));
    conn_addr_text(&c->local, cl->laddr, sizeof(cl->laddr));
    v->client = cl;
    v->type = CLIENT_TYPE_NORMAL;
    v->flags = "N";
    v->user = "default";
    v->qbuf = conn_input_bytes(c);
    v->obuf = conn_output_bytes(c);
}

void conn_owner_kill_close(struct shard *sh, struct conn *c)
{
    (void)sh;
    conn_close(c, false);
}

struct kill_walk { struct shard *sh; const struct client *target; };

static void kill_match(void *arg, struct conn *c)
{
    struct kill_walk *w = arg;
    struct conn_view v;
    if (conn_view_of(w->sh, c, &v) && v.client == w->target && c->owner->ops->kill)
        c->owner->ops->kill(w->sh, c);
}

void shard_kill_client(struct shard *s, const struct client *c)
{
    struct kill_walk w = { s, c };
    loop_each_conn(s->loop, kill_match, &w);
}

/* ---- replicas' connections on this shard ---------------------------------- */

void shard_replica_register(struct shard *sh, struct client *c, const struct replica_feed_ops *ops)
{
    struct session *s = session_of_client(c);
    s->owner.ops = &feed_ops;
    s->feed = ops;
    sh->replica_conns = mi_realloc(sh->replica_conns, sizeof(struct conn *) * (size_t)(sh->nreplica_conns + 1));
    sh->replica_conns[sh->nreplica_conns++] = s->conn;
}

void shard_replica_unregister(struct shard *sh, struct client *c)
{
    struct session *s = session_of_client(c);
    for (int i = 0; i < sh->nreplica_conns; i++) {
        if (sh->replica_conns[i] == s->conn) {
            sh->replica_conns[i] = sh->replica_conns[--sh->nreplica_conns];
            return;
        }
    }
}

struct client *shard_replica_client(struct shard *sh, uint64_t client_id)
{
    struct conn *c = shard_replica_conn(sh, client_id);
    return c && c->owner ? &session_of_conn(c)->client : NULL;
}

struct conn *shard_replica_conn(struct shard *sh, uint64_t client_id)
{
    for (int i = 0; i < sh->nreplica_conns; i++) {
        struct conn *c = sh->replica_conns[i];
        if (c->owner && session_of_conn(c)->client.id == client_id)
            return sh->replica_conns[i];
    }
    return NULL;
}
