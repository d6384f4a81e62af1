/* clients: a connection's arrival and departure (maxclients, protected
 * mode, its session), idle timeouts, and the shard's view of its clients for
 * CLIENT LIST / KILL. */
#include <arpa/inet.h>
#include <mimalloc.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "shards/dispatch.h"
#include "shards/node.h"
#include "shards/session.h"
#include "replication/repl.h"

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

void dispatch_connected(void *arg, struct conn *c, int err)
{
    repl_link_connected(arg, c, err);
}

void dispatch_close(void *arg, struct conn *c)
{
    struct shard *sh = arg;
    if (repl_is_link(c)) {
        repl_link_closed(sh, c);
        return;
    }
    struct session *s = c->session;
    if (s && s->client.is_replica)
        repl_replica_client_closed(sh, &s->client);
    if (s) {
        pubsub_session_end(sh, s);
        pause_session_end(sh, s);
    }
    atomic_fetch_sub(&sh->node->clients, 1);
    stat_add(&sh->stats.connected_clients, (uint64_t)-1);
    if (!s)
        return;
    s->conn = NULL;
    c->session = NULL;
    if (s->inflight == 0)
        session_free(s);
}

struct timeout_walk { int64_t now, limit_ms; };

static void check_idle(void *arg, struct conn *c)
{
    struct timeout_walk *w = arg;
    struct session *s = c->session;
    if (s && !s->head && !s->held && w->now - s->client.last_active_ms > w->limit_ms) {
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
    struct client_io io = { conn_input_bytes(c), conn_output_bytes(c), (size_t)s->npending };
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

/* ---- replicas' connections on this shard ---------------------------------- */

static struct session *session_of(struct client *c)
{
    return (struct session *)((char *)c - offsetof(struct session, client));
}

void shard_replica_register(struct shard *sh, struct client *c)
{
    struct session *s = session_of(c);
    sh->replica_conns = mi_realloc(sh->replica_conns, sizeof(struct conn *) * (size_t)(sh->nreplica_conns + 1));
    sh->replica_conns[sh->nreplica_conns++] = s->conn;
}

void shard_replica_unregister(struct shard *sh, struct client *c)
{
    struct session *s = session_of(c);
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
    return c && c->session ? &((struct session *)c->session)->client : NULL;
}

struct conn *shard_replica_conn(struct shard *sh, uint64_t client_id)
{
    for (int i = 0; i < sh->nreplica_conns; i++) {
        struct session *s = sh->replica_conns[i]->session;
        if (s && s->client.id == client_id)
            return sh->replica_conns[i];
    }
    return NULL;
}
