/* peers: the links to the other nodes, the version exchange and the pull
 * (see peers.h). Everything here runs on shard 0. */
#include "shards/cluster/peers.h"

#include <inttypes.h>
#include <mimalloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/client.h"
#include "core/config.h"
#include "core/log.h"
#include "core/resp.h"
#include "net/loop.h"
#include "shards/cluster/cluster.h"
#include "shards/conn_owner.h"
#include "shards/dispatch.h"
#include "shards/node.h"
#include "shards/shard.h"

/* What a link waits for. */
enum peer_step {
    STEP_CONNECTING,     /* loop_connect in progress */
    STEP_IDLE,           /* nothing asked */
    STEP_VERSIONS,       /* CLUSTER RINGKV-VERSIONS sent */
    STEP_STATE,          /* CLUSTER RINGKV-GETSTATE sent */
    STEP_PUSH,           /* CLUSTER RINGKV-SETSTATE sent */
    STEP_FAILOVER,       /* FAILOVER TO sent */
};

struct peer;

/* One connection to a peer: the connection's owner. It outlives its peer
 * when the peer leaves the state while the link closes (peer NULL then). */
struct peer_link {
    struct conn_owner owner;
    struct conn      *conn;
    struct peer      *peer;
    struct client     client;  /* what CLIENT LIST shows */
    enum peer_step    step;
    int64_t           since_ms; /* when the step began */
    bool              auth;     /* AUTH's reply is the next one */
    /* forwarded PUBLISHes not answered yet (their replies are dropped):
     * sent before the step's request (their replies come first), and
     * after it (they become the first kind once the step is answered) */
    unsigned          publishes_before;
    unsigned          publishes_after;
};

struct peer {
    char              id[CLUSTER_ID_LEN + 1];
    char              ip[64];
    int               port;
    struct peer_link *link;
    int64_t           next_ms;  /* when to connect or ask next */
    bool              heard;    /* answered since start or since its link broke */
    int64_t           answered_ms; /* its last answer (or when it was listed): the fence counts it */
    int               node;     /* its index in the state the list was made from */
    bool              failover; /* a FAILOVER TO is to be sent on the link */
    bool              down_logged;
    /* what CLUSTER NODES shows (cluster_peers_view), unix ms */
    int64_t           since_ms;   /* in the list since */
    int64_t           ping_ms;    /* the unanswered request was sent at (0: none) */
    int64_t           pong_ms;    /* its last answer (0: none yet) */
};

struct cluster_peers {
    struct peer *peers;
    int          npeers;
    uint64_t     generation; /* of the state the list was made from (cluster.h) */
    bool         made;
};

static const struct conn_owner_ops peer_link_ops;

static struct peer_link *link_of(const struct conn *c)
{
    return (struct peer_link *)c->owner;
}

static void send_command(struct peer_link *l, int argc, const char **argv)
{
    resp_encode_strings(&l->conn->out, argc, argv);
    conn_flush(l->conn);
}

/* Drop the peer's link (it is made again at the fast period). */
static void drop_link(struct peer *p, int64_t now_ms)
{
    struct peer_link *l = p->link;
    if (!l)
        return;
    p->link = NULL;
    l->peer = NULL;
    p->heard = false;
    p->next_ms = now_ms + PEER_FAST_MS;
    if (l->conn)
        conn_close(l->conn, false); /* link_closed frees l */
}

/* ------------------------------------------------------ the peer list */

/* Make the list follow the state's nodes: a peer kept (same id, address)
 * keeps its link; a node gone, or moved to another address, loses it. */
static void follow_nodes(struct shard *sh, struct cluster *c, const struct cluster_state *st)
{
    struct cluster_peers *ps = c->peers;
    if (ps->made && ps->generation == c->generation)
        return;
    struct peer *next = mi_calloc((size_t)(st->nnodes > 0 ? st->nnodes : 1), sizeof(struct peer));
    int n = 0;
    for (int i = 0; i < st->nnodes; i++) {
        const struct cluster_node *nd = &st->nodes[i];
        if (i == st->myself)
            continue;
        struct peer *p = &next[n++];
        snprintf(p->id, sizeof(p->id), "%s", nd->id);
        snprintf(p->ip, sizeof(p->ip), "%s", nd->ip);
        p->port = nd->port;
        p->answered_ms = c->generation > 0 ? shard_now_ms(sh) : INT64_MIN / 2; /* as sentinels.c */
        p->since_ms = shard_now_ms(sh);
        for (int k = 0; k < ps->npeers; k++) {
            struct peer *old = &ps->peers[k];
            if (strcmp(old->id, p->id) != 0 || strcmp(old->ip, p->ip) != 0 || old->port != p->port)
                continue;
            *p = *old;
            old->link = NULL;
            if (p->link)
                p->link->peer = p;
        }
        p->node = i;
    }
    for (int k = 0; k < ps->npeers; k++)
        drop_link(&ps->peers[k], shard_now_ms(sh));
    mi_free(ps->peers);
    ps->peers = next;
    ps->npeers = n;
    ps->generation = c->generation;
    ps->made = true;
}

/* ------------------------------------------------------ the exchange */

static void connect_peer(struct shard *sh, struct peer *p, int64_t now_ms)
{
    struct sockaddr_storage ss;
    p->next_ms = now_ms + PEER_FAST_MS;
    if (loop_parse_addr(p->ip, p->port, &ss) != 0) {
        if (!p->down_logged)
            log_warning("Cluster peer %.8s has an address I can't connect to: %s:%d", p->id, p->ip, p->port);
        p->down_logged = true;
        return;
    }
    struct peer_link *l = mi_zalloc(sizeof(*l));
    l->owner.ops = &peer_link_ops;
    l->conn = loop_connect(sh->loop, &ss, &l->owner);
    if (!l->conn) {
        mi_free(l);
        return;
    }
    l->peer = p;
    l->step = STEP_CONNECTING;
    l->since_ms = now_ms;
    l->client.id = atomic_fetch_add(&sh->node->next_client_id, 1);
    l->client.proto = 2;
    l->client.authenticated = true;
    l->client.fd = l->conn->fd;
    l->client.created_ms = now_ms;
    l->client.last_active_ms = now_ms;
    snprintf(l->client.name, sizeof(l->client.name), "cluster-peer");
    p->link = l;
}

static void ask(struct peer_link *l, enum peer_step step, int64_t now_ms)
{
    static const char *versions[] = { "CLUSTER", "RINGKV-VERSIONS" };
    static const char *getstate[] = { "CLUSTER", "RINGKV-GETSTATE" };
    send_command(l, 2, step == STEP_VERSIONS ? versions : getstate);
    if (l->peer && !l->peer->ping_ms)
        l->peer->ping_ms = now_ms;
    snprintf(l->client.last_cmd, sizeof(l->client.last_cmd), "cluster|%s",
             step == STEP_VERSIONS ? "versions" : "getstate");
    l->step = step;
    l->since_ms = now_ms;
}

/* The peer holds an older table (or none: a node the admin tool pushed to
 * some nodes only): give it ours, compare-and-set on the version it said
 * it has. It checks the state as any push (it must be listed in it). */
static void push(struct cluster *c, struct peer_link *l, uint64_t theirs, int64_t now_ms)
{
    struct buf text;
    buf_init(&text);
    cluster_state_format(cluster_now(c), NULL, &text);
    char expected[24];
    snprintf(expected, sizeof(expected), "%" PRIu64, theirs);
    struct buf *out = &l->conn->out;
    buf_printf(out, "*4\r\n$7\r\nCLUSTER\r\n$15\r\nRINGKV-SETSTATE\r\n$%zu\r\n%s\r\n$%zu\r\n", strlen(expected),
               expected, text.len);
    buf_append(out, text.data, text.len);
    buf_append_str(out, "\r\n");
    conn_flush(l->conn);
    buf_free(&text);
    snprintf(l->client.last_cmd, sizeof(l->client.last_cmd), "cluster|setstate");
    l->step = STEP_PUSH;
    l->since_ms = now_ms;
}

static void ask_failover(struct shard *sh, struct cluster *c, struct peer_link *l, int64_t now_ms)
{
    const struct cluster_state *st = cluster_now(c);
    l->peer->failover = false;
    if (st->myself < 0)
        return;
    char port[16];
    snprintf(port, sizeof(port), "%d", sh->node->port);
    const char *argv[] = { "FAILOVER", "TO", st->nodes[st->myself].ip, port };
    send_command(l, 4, argv);
    snprintf(l->client.last_cmd, sizeof(l->client.last_cmd), "failover");
    l->step = STEP_FAILOVER;
    l->since_ms = now_ms;
}

/* Is peer p the master of its group (by the state its list was made from)? */
static bool peer_is_master(const struct cluster_state *st, const struct peer *p)
{
    return st->groups[st->nodes[p->node].group].master == p->node;
}

/* The nodes of a group whose master is a peer that does not answer now are
 * asked at the fast period: that group is likely failing over (a Sentinel,
 * or a person, is about to promote one of its replicas), and its new
 * record is pulled within PEER_FAST_MS of being made rather than
 * PEER_SLOW_MS. One pass to mark the groups, one to hurry their nodes. */
static void hurry_groups_without_master(const struct cluster_state *st, struct cluster_peers *ps, int64_t now_ms)
{
    bool any = false;
    for (int i = 0; i < ps->npeers && !any; i++)
        any = !ps->peers[i].heard && peer_is_master(st, &ps->peers[i]);
    if (!any)
        return;
    bool *silent = mi_zalloc(sizeof(bool) * (size_t)st->ngroups);
    for (int i = 0; i < ps->npeers; i++)
        if (!ps->peers[i].heard && peer_is_master(st, &ps->peers[i]))
            silent[st->nodes[ps->peers[i].node].group] = true;
    for (int i = 0; i < ps->npeers; i++) {
        struct peer *p = &ps->peers[i];
        if (p->link && p->link->step == STEP_IDLE && p->heard && p->next_ms > now_ms + PEER_FAST_MS &&
            silent[st->nodes[p->node].group])
            p->next_ms = now_ms + PEER_FAST_MS;
    }
    mi_free(silent);
}

void cluster_peers_tick(struct shard *sh, struct cluster *c, int64_t now_ms)
{
    if (!c->peers)
        c->peers = mi_zalloc(sizeof(*c->peers));
    const struct cluster_state *st = cluster_now(c);
    follow_nodes(sh, c, st);
    struct cluster_peers *ps = c->peers;
    hurry_groups_without_master(st, ps, now_ms);
    for (int i = 0; i < ps->npeers; i++) {
        struct peer *p = &ps->peers[i];
        struct peer_link *l = p->link;
        if (!l) {
            if (now_ms >= p->next_ms)
                connect_peer(sh, p, now_ms);
        } else if (l->step != STEP_IDLE) {
            if (now_ms - l->since_ms > PEER_TIMEOUT_MS) {
                log_warning("Cluster peer %.8s (%s:%d) did not answer for %d ms: link dropped", p->id, p->ip,
                            p->port, PEER_TIMEOUT_MS);
                drop_link(p, now_ms);
            }
        } else if (p->failover) {
            ask_failover(sh, c, l, now_ms);
        } else if (now_ms >= p->next_ms) {
            ask(l, STEP_VERSIONS, now_ms);
        }
    }
}

void cluster_peers_free(struct cluster *c)
{
    struct cluster_peers *ps = c->peers;
    if (!ps)
        return;
    for (int i = 0; i < ps->npeers; i++)
        if (ps->peers[i].link)
            ps->peers[i].link->peer = NULL;
    mi_free(ps->peers);
    mi_free(ps);
    c->peers = NULL;
}

int cluster_peers_masters_reached(const struct cluster *c, int64_t now_ms, int64_t window_ms)
{
    const struct cluster_state *st = cluster_now(c);
    const struct cluster_peers *ps = c->peers;
    if (!ps)
        return st->ngroups > 0 ? st->ngroups - 1 : 0; /* before the first tick: nothing is known to be cut off */
    int n = 0;
    if (ps->made && ps->generation == c->generation) {
        for (int i = 0; i < ps->npeers; i++)
            n += peer_is_master(st, &ps->peers[i]) && now_ms - ps->peers[i].answered_ms <= window_ms;
        return n;
    }
    /* the state changed since the list was made (this tick): by id */
    for (int g = 0; g < st->ngroups; g++) {
        const struct cluster_node *m = &st->nodes[st->groups[g].master];
        if (st->groups[g].master == st->myself)
            continue;
        for (int i = 0; i < ps->npeers; i++)
            if (strcmp(ps->peers[i].id, m->id) == 0) {
                n += now_ms - ps->peers[i].answered_ms <= window_ms;
                break;
            }
    }
    return n;
}

int cluster_peers_ask_failover(struct shard *sh, struct cluster *c, char *err, size_t errlen)
{
    const struct cluster_state *st = cluster_now(c);
    if (!c->peers || st->myself < 0) {
        snprintf(err, errlen, "ERR I'm a replica but my master is unknown to me");
        return -1;
    }
    follow_nodes(sh, c, st);
    const struct cluster_node *m = &st->nodes[st->groups[st->nodes[st->myself].group].master];
    for (int i = 0; i < c->peers->npeers; i++) {
        struct peer *p = &c->peers->peers[i];
        if (strcmp(p->id, m->id) != 0)
            continue;
        if (!p->link || !p->heard) {
            snprintf(err, errlen, "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
            return -1;
        }
        p->failover = true;
        if (p->link->step == STEP_IDLE)
            ask_failover(sh, c, p->link, shard_now_ms(sh));
        return 0;
    }
    snprintf(err, errlen, "ERR I'm a replica but my master is unknown to me");
    return -1;
}

bool cluster_peers_view(const struct cluster *c, const char *id, int64_t now_ms, struct cluster_peer_view *out)
{
    const struct cluster_peers *ps = c->peers;
    for (int i = 0; ps && i < ps->npeers; i++) {
        const struct peer *p = &ps->peers[i];
        if (strcmp(p->id, id) != 0)
            continue;
        out->connected = p->link && p->link->step != STEP_CONNECTING;
        out->ping_sent_ms = p->ping_ms;
        out->pong_recv_ms = p->pong_ms;
        int64_t last = p->pong_ms ? p->pong_ms : p->since_ms;
        out->silent_ms = p->heard || now_ms < last ? 0 : now_ms - last;
        out->link_created_ms = p->link ? p->link->client.created_ms : 0;
        out->send_buffer_used = p->link && p->link->conn ? conn_output_bytes(p->link->conn) : 0;
        return true;
    }
    return false;
}

/* Is anything in the peer's versions newer than ours? The text is
 * "table-version <v>" then "group <id> <epoch> <master-id>" lines; *table is set to
 * the peer's table version. */
static bool versions_newer(const struct cluster_state *st, const char *text, size_t len, uint64_t *table)
{
    *table = UINT64_MAX;
    char *copy = mi_malloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    bool newer = false;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !newer; line = strtok_r(NULL, "\n", &save)) {
        unsigned long long v, id, epoch;
        char master[CLUSTER_ID_LEN + 1];
        if (sscanf(line, "table-version %llu", &v) == 1) {
            newer = v > st->version;
            *table = v;
        } else if (sscanf(line, "group %llu %llu %40s", &id, &epoch, master) == 3 && id <= UINT32_MAX) {
            int g = cluster_state_group_by_id(st, (uint32_t)id);
            newer = g >= 0 && cluster_record_newer(epoch, master, st->groups[g].epoch,
                                                   st->nodes[st->groups[g].master].id);
        }
    }
    mi_free(copy);
    return newer;
}

/* The peer's whole state: publish what is newer in it. */
static void take_state(struct shard *sh, struct cluster *c, struct peer *p, const char *text, size_t len)
{
    char err[300];
    struct cluster_state *theirs = cluster_state_parse(text, len, c->myid, NULL, err, sizeof(err));
    if (!theirs) {
        log_warning("Cluster peer %.8s sent a state I can't read: %s", p->id, err);
        return;
    }
    /* the newest state accepted (cluster.h): one still being written is
     * not pulled again */
    const struct cluster_state *ours = cluster_newest(c);
    struct cluster_state *next = NULL;
    if (theirs->version > ours->version) {
        if (theirs->myself < 0) {
            /* a table without this node: that is for the admin tool to
             * sort out, not a reason to stop serving */
            if (!p->down_logged)
                log_warning("Cluster peer %.8s has table version %" PRIu64 ", which does not list me: not taken",
                            p->id, theirs->version);
            p->down_logged = true;
            mi_free(theirs);
            return;
        }
        cluster_state_keep_newer_groups(theirs, ours);
        next = theirs;
        log_notice("Cluster state: table version %" PRIu64 " pulled from %.8s (%s:%d), mine was %" PRIu64,
                   theirs->version, p->id, p->ip, p->port, ours->version);
    } else {
        next = cluster_state_copy(ours);
        int taken = cluster_state_keep_newer_groups(next, theirs);
        mi_free(theirs);
        if (taken == 0) {
            mi_free(next);
            return;
        }
        log_notice("Cluster state: %d newer group record(s) pulled from %.8s (%s:%d)", taken, p->id, p->ip,
                   p->port);
    }
    if (cluster_publish(sh, c, next, err, sizeof(err)) != 0)
        log_warning("Cluster state pulled from %.8s not taken: %s", p->id, err);
}

/* The peer answered a request of ours: it is reached, and the fence counts
 * it from now (answered_ms). */
static void peer_answered(struct peer *peer, int64_t now)
{
    if (!peer->heard)
        log_notice("Cluster peer %.8s (%s:%d) reached", peer->id, peer->ip, peer->port);
    peer->heard = true;
    peer->answered_ms = now;
    peer->down_logged = false;
}

/* One whole reply on the link. Returns false to drop the link. */
static bool link_reply(struct shard *sh, struct cluster *c, struct peer_link *l, const char *p, size_t n)
{
    struct peer *peer = l->peer;
    int64_t now = shard_now_ms(sh);
    struct resp_reader rd;
    struct slice s;
    resp_reader_init(&rd, p, n);
    bool error = resp_read_error(&rd, &s);
    if (!error && !resp_read_string(&rd, &s))
        return false;
    enum peer_step step = l->step;
    l->step = STEP_IDLE;
    l->since_ms = now;
    peer->ping_ms = 0;
    peer->pong_ms = now;
    l->client.last_active_ms = now;
    switch (step) {
    case STEP_VERSIONS:
        if (error) {
            /* not a ringkv node in cluster mode: ask again later */
            if (!peer->down_logged)
                log_warning("Cluster peer %.8s (%s:%d) answered %.*s", peer->id, peer->ip, peer->port,
                            (int)(s.len > 100 ? 100 : s.len), s.ptr);
            peer->down_logged = true;
            peer->next_ms = now + PEER_SLOW_MS;
            return true;
        }
        /* an answer, whatever follows it: the push below is answered only
         * once the peer's config file holds the state (a slow fsync on a
         * loaded machine), and that wait is not the peer being out of
         * reach (it was counted so: a master fenced itself, -CLUSTERDOWN to
         * a MIGRATE's RESTORE, while every peer answered its asks) */
        peer_answered(peer, now);
        uint64_t theirs;
        if (s.ptr && versions_newer(cluster_newest(c), s.ptr, s.len, &theirs)) {
            ask(l, STEP_STATE, now);
            return true;
        }
        if (s.ptr && theirs < cluster_now(c)->version) {
            push(c, l, theirs, now);
            return true;
        }
        break;
    case STEP_PUSH:
        if (error)
            log_warning("Cluster peer %.8s (%s:%d) refused my state: %.*s", peer->id, peer->ip, peer->port,
                        (int)(s.len > 200 ? 200 : s.len), s.ptr);
        break;
    case STEP_STATE:
        if (!error && s.ptr)
            take_state(sh, c, peer, s.ptr, s.len);
        break;
    case STEP_FAILOVER:
        if (error)
            log_warning("CLUSTER FAILOVER: the master %.8s refused the hand-over: %.*s", peer->id,
                        (int)(s.len > 200 ? 200 : s.len), s.ptr);
        else
            log_notice("CLUSTER FAILOVER: the master %.8s is handing over to me", peer->id);
        return true;
    default:
        return false; /* nothing was asked */
    }
    peer_answered(peer, now);
    peer->next_ms = now + PEER_SLOW_MS;
    return true;
}

/* ------------------------------------------- the link as a connection owner */

static size_t link_data(struct shard *sh, struct conn *c, const char *p, size_t n)
{
    struct peer_link *l = link_of(c);
    struct cluster *cl = cluster_of(sh->node);
    size_t used = 0;
    while (used < n) {
        if (!l->peer) {
            conn_close(c, false);
            return n;
        }
        size_t len = resp_value_len(p + used, n - used);
        if (len == 0)
            break; /* incomplete (a malformed reply times out) */
        if (l->auth) {
            l->auth = false;
            used += len;
            if (p[used - len] != '-')
                continue;
            struct peer *peer = l->peer;
            if (!peer->down_logged)
                log_warning("Cluster peer %.8s (%s:%d) refused AUTH with masterauth: %.*s", peer->id, peer->ip,
                            peer->port, (int)(len > 100 ? 100 : len - 2), p + used - len);
            drop_link(peer, shard_now_ms(sh));
            peer->down_logged = true;
            peer->next_ms = shard_now_ms(sh) + PEER_SLOW_MS;
            return n;
        }
        if (l->publishes_before > 0) {
            /* a forwarded PUBLISH's count: dropped, but the peer answers
             * (a step asked after it waits its turn behind it) */
            l->publishes_before--;
            used += len;
            int64_t now = shard_now_ms(sh);
            l->since_ms = now;
            peer_answered(l->peer, now);
            continue;
        }
        if (!link_reply(sh, cl, l, p + used, len)) {
            struct peer *peer = l->peer;
            log_warning("Cluster peer %.8s (%s:%d) sent an unexpected reply: link dropped", peer->id, peer->ip,
                        peer->port);
            drop_link(peer, shard_now_ms(sh));
            return n;
        }
        l->publishes_before = l->publishes_after;
        l->publishes_after = 0;
        used += len;
    }
    return used;
}

static void link_connected(struct shard *sh, struct conn *c, int err)
{
    struct peer_link *l = link_of(c);
    struct peer *p = l->peer;
    if (err) {
        if (p) {
            p->link = NULL;
            p->heard = false;
            if (!p->down_logged)
                log_warning("Cluster peer %.8s (%s:%d) unreachable: %s", p->id, p->ip, p->port, strerror(-err));
            p->down_logged = true;
        }
        mi_free(l);
        return;
    }
    if (!p) {
        conn_close(c, false);
        return;
    }
    conn_set_keepalive(c, 60);
    int64_t now = shard_now_ms(sh);
    l->step = STEP_IDLE;
    /* nodes guarded by requirepass: the peers use the password replicas
     * use for their master (masterauth), as every node of a cluster is
     * some node's replica or master */
    const char *pass = config_str(&sh->node->config, masterauth);
    if (pass && *pass) {
        /* with masteruser, as that ACL user, as a replica's link does */
        const char *user = config_str(&sh->node->config, masteruser);
        if (user && *user) {
            const char *auth[] = { "AUTH", user, pass };
            send_command(l, 3, auth);
        } else {
            const char *auth[] = { "AUTH", pass };
            send_command(l, 2, auth);
        }
        l->auth = true;
    }
    if (p->failover)
        ask_failover(sh, cluster_of(sh->node), l, now);
    else
        ask(l, STEP_VERSIONS, now);
}

static void link_closed(struct shard *sh, struct conn *c)
{
    struct peer_link *l = link_of(c);
    c->owner = NULL;
    if (l->peer) {
        struct peer *p = l->peer;
        p->link = NULL;
        p->heard = false;
        p->next_ms = shard_now_ms(sh) + PEER_FAST_MS;
        if (!p->down_logged)
            log_notice("Cluster peer %.8s (%s:%d): link closed", p->id, p->ip, p->port);
    }
    mi_free(l);
}

/* CLIENT LIST: a normal client named cluster-peer, with the peer's address. */
static void link_describe(struct shard *sh, const struct conn *c, struct conn_view *v)
{
    (void)sh;
    conn_view_outgoing(c, &link_of(c)->client, v);
}

/* No idle op: the link asks at least every PEER_SLOW_MS, and its liveness
 * is PEER_TIMEOUT_MS, not the clients' `timeout`.
 * CLIENT KILL: the link goes; the tick makes it again. */
static const struct conn_owner_ops peer_link_ops = {
    .name = "cluster peer link",
    .data = link_data,
    .connected = link_connected,
    .closed = link_closed,
    .describe = link_describe,
    .kill = conn_owner_kill_close,
};

/* ------------------------------------------------- PUBLISH to the cluster */

/* A link holding this much unsent drops the forwarded messages (pub/sub
 * delivers at most once; a peer that reads nothing must not grow it). */
#define PUBLISH_UNSENT_MAX (8u << 20)

void cluster_publish_elsewhere(struct shard *sh, struct slice channel, struct slice message)
{
    struct cluster *c = cluster_of(sh->node);
    const struct cluster_state *st = cluster_now(c);
    if (!c->peers || st->myself < 0)
        return;
    /* a replica's goes to its own master too, which sends it to its other
     * replicas and back here: named as ours, it is not delivered twice */
    bool replica = !cluster_node_is_master(st, st->myself);
    struct slice origin = { st->nodes[st->myself].id, strlen(st->nodes[st->myself].id) };
    struct cluster_peers *ps = c->peers;
    for (int i = 0; i < ps->npeers; i++) {
        struct peer *p = &ps->peers[i];
        struct peer_link *l = p->link;
        if (!l || !l->conn || l->step == STEP_CONNECTING || p->node >= st->nnodes ||
            strcmp(st->nodes[p->node].id, p->id) != 0 || !peer_is_master(st, p) ||
            conn_output_bytes(l->conn) > PUBLISH_UNSENT_MAX)
            continue;
        struct slice argv[] = { SLICE_LIT("CLUSTER"), SLICE_LIT("RINGKV-PUBLISH"), channel, message, origin };
        resp_encode_command(&l->conn->out, replica ? 5 : 4, argv);
        conn_flush(l->conn);
        if (l->step == STEP_IDLE)
            l->publishes_before++;
        else
            l->publishes_after++;
    }
}
