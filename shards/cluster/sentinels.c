/* sentinels: the links to the Sentinels and the records learnt from them
 * (see sentinels.h). Everything here runs on shard 0. */
#include "shards/cluster/sentinels.h"

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

#define NAME_PREFIX "ringkv-"

struct sentinel;

/* One connection to a Sentinel: the ask link or the watch link. It
 * outlives its Sentinel when the list changes while it closes. */
struct sentinel_link {
    struct conn_owner owner;
    struct conn      *conn;
    struct sentinel  *sentinel;
    bool              watch;      /* the SUBSCRIBE link */
    bool              connecting;
    struct client     client;     /* what CLIENT LIST shows */
    uint32_t         *asked;      /* the ask link: the groups of the answers awaited, in order */
    int               nasked;
    int               answered;
    int64_t           since_ms;   /* connect or batch sent */
};

struct sentinel {
    char                  ip[64];
    int                   port;
    struct sentinel_link *ask, *watch;
    int64_t               next_ask_ms;
    int64_t               next_connect_ms;
    int64_t               reached_ms;  /* last whole answer (or when listed) */
    bool                  down_logged;
    bool                  stranger_logged; /* it named a master that is no node of the group */
};

struct cluster_sentinels {
    struct sentinel *list;
    int              n;
    uint64_t         generation; /* of the state the list was made from */
    bool             made;
};

static const struct conn_owner_ops sentinel_link_ops;

static struct sentinel_link *link_of(const struct conn *c)
{
    return (struct sentinel_link *)c->owner;
}

static int64_t node_timeout_ms(const struct shard *sh)
{
    long long t = config_load(&sh->node->config, cluster_node_timeout);
    return t > 0 ? t : 15000;
}

static int64_t poll_ms(const struct shard *sh)
{
    int64_t p = node_timeout_ms(sh) / 4;
    return p < SENTINEL_POLL_MIN_MS ? SENTINEL_POLL_MIN_MS : p > SENTINEL_POLL_MAX_MS ? SENTINEL_POLL_MAX_MS : p;
}

static void close_link(struct sentinel_link *l)
{
    if (!l)
        return;
    l->sentinel = NULL;
    if (l->conn)
        conn_close(l->conn, false); /* link_closed frees l */
}

/* Drop both links of s: made again after SENTINEL_RETRY_MS. */
static void drop_links(struct sentinel *s, int64_t now_ms)
{
    struct sentinel_link *a = s->ask, *w = s->watch;
    s->ask = s->watch = NULL;
    s->next_connect_ms = now_ms + SENTINEL_RETRY_MS;
    close_link(a);
    close_link(w);
}

/* Make the list follow the state's Sentinels: one kept (same address)
 * keeps its links and its last answer. */
static void follow_list(struct shard *sh, struct cluster *c, const struct cluster_state *st, int64_t now_ms)
{
    struct cluster_sentinels *ss = c->sentinels;
    if (ss->made && ss->generation == c->generation)
        return;
    struct sentinel *next = mi_calloc((size_t)(st->nsentinels > 0 ? st->nsentinels : 1), sizeof(struct sentinel));
    for (int i = 0; i < st->nsentinels; i++) {
        struct sentinel *s = &next[i];
        snprintf(s->ip, sizeof(s->ip), "%s", st->sentinels[i].ip);
        s->port = st->sentinels[i].port;
        /* listed by a push or a pull: not cut off before a whole window
         * passed; listed by the file at start: not heard yet (this node
         * may have been replaced while it was down) */
        s->reached_ms = c->generation > 0 ? now_ms : INT64_MIN / 2;
        for (int k = 0; k < ss->n; k++) {
            struct sentinel *old = &ss->list[k];
            if (old->port != s->port || strcmp(old->ip, s->ip) != 0)
                continue;
            *s = *old;
            old->ask = old->watch = NULL;
            old->port = 0; /* taken */
            if (s->ask)
                s->ask->sentinel = s;
            if (s->watch)
                s->watch->sentinel = s;
            break;
        }
    }
    (void)sh;
    for (int k = 0; k < ss->n; k++)
        drop_links(&ss->list[k], now_ms);
    mi_free(ss->list);
    ss->list = next;
    ss->n = st->nsentinels;
    ss->generation = c->generation;
    ss->made = true;
}

static struct sentinel_link *connect_link(struct shard *sh, struct sentinel *s, bool watch, int64_t now_ms)
{
    struct sockaddr_storage ss;
    if (loop_parse_addr(s->ip, s->port, &ss) != 0) {
        if (!s->down_logged)
            log_warning("Cluster: Sentinel %s:%d has an address I can't connect to", s->ip, s->port);
        s->down_logged = true;
        return NULL;
    }
    struct sentinel_link *l = mi_zalloc(sizeof(*l));
    l->owner.ops = &sentinel_link_ops;
    l->conn = loop_connect(sh->loop, &ss, &l->owner);
    if (!l->conn) {
        mi_free(l);
        return NULL;
    }
    l->sentinel = s;
    l->watch = watch;
    l->connecting = true;
    l->since_ms = now_ms;
    l->client.id = atomic_fetch_add(&sh->node->next_client_id, 1);
    l->client.proto = 2;
    l->client.authenticated = true;
    l->client.fd = l->conn->fd;
    l->client.created_ms = now_ms;
    l->client.last_active_ms = now_ms;
    snprintf(l->client.name, sizeof(l->client.name), "cluster-sentinel");
    return l;
}

/* One SENTINEL MASTER per group, pipelined. */
static void ask(struct cluster *c, struct sentinel_link *l, int64_t now_ms)
{
    const struct cluster_state *st = cluster_now(c);
    mi_free(l->asked);
    l->asked = mi_malloc(sizeof(uint32_t) * (size_t)(st->ngroups > 0 ? st->ngroups : 1));
    l->nasked = st->ngroups;
    l->answered = 0;
    l->since_ms = now_ms;
    for (int g = 0; g < st->ngroups; g++) {
        char name[32];
        snprintf(name, sizeof(name), NAME_PREFIX "%" PRIu32, st->groups[g].id);
        const char *argv[] = { "SENTINEL", "MASTER", name };
        resp_encode_strings(&l->conn->out, 3, argv);
        l->asked[g] = st->groups[g].id;
    }
    snprintf(l->client.last_cmd, sizeof(l->client.last_cmd), "sentinel|master");
    conn_flush(l->conn);
}

void cluster_sentinels_tick(struct shard *sh, struct cluster *c, int64_t now_ms)
{
    if (!c->sentinels)
        c->sentinels = mi_zalloc(sizeof(*c->sentinels));
    const struct cluster_state *st = cluster_now(c);
    follow_list(sh, c, st, now_ms);
    struct cluster_sentinels *ss = c->sentinels;
    int64_t timeout = node_timeout_ms(sh);
    for (int i = 0; i < ss->n; i++) {
        struct sentinel *s = &ss->list[i];
        struct sentinel_link *a = s->ask, *w = s->watch;
        bool stuck = (a && (a->connecting || a->nasked > a->answered) && now_ms - a->since_ms > timeout) ||
                     (w && w->connecting && now_ms - w->since_ms > timeout);
        if (stuck) {
            if (!s->down_logged)
                log_warning("Cluster: Sentinel %s:%d did not answer for %" PRId64 " ms: links dropped", s->ip,
                            s->port, timeout);
            s->down_logged = true;
            drop_links(s, now_ms);
            continue;
        }
        if ((!a || !w) && now_ms >= s->next_connect_ms) {
            /* both links or none: one left alone is dropped and both made again */
            drop_links(s, now_ms);
            s->ask = connect_link(sh, s, false, now_ms);
            s->watch = s->ask ? connect_link(sh, s, true, now_ms) : NULL;
            if (s->ask && !s->watch)
                drop_links(s, now_ms);
        }
        a = s->ask;
        if (a && !a->connecting && a->nasked == a->answered && now_ms >= s->next_ask_ms) {
            ask(c, a, now_ms);
            s->next_ask_ms = now_ms + poll_ms(sh);
        }
    }
}

int cluster_sentinels_reached(const struct cluster *c, int64_t now_ms, int64_t window_ms)
{
    const struct cluster_sentinels *ss = c->sentinels;
    int n = 0;
    if (!ss)
        return cluster_now(c)->nsentinels; /* before the first tick: nothing is known to be cut off */
    for (int i = 0; i < ss->n; i++)
        n += now_ms - ss->list[i].reached_ms <= window_ms;
    return n;
}

void cluster_sentinels_free(struct cluster *c)
{
    struct cluster_sentinels *ss = c->sentinels;
    if (!ss)
        return;
    for (int i = 0; i < ss->n; i++) {
        if (ss->list[i].ask)
            ss->list[i].ask->sentinel = NULL;
        if (ss->list[i].watch)
            ss->list[i].watch->sentinel = NULL;
    }
    mi_free(ss->list);
    mi_free(ss);
    c->sentinels = NULL;
}

/* ------------------------------------------------------ the answers */

static bool slice_is(const struct slice *s, const char *text)
{
    size_t n = strlen(text);
    return s->ptr && s->len == n && memcmp(s->ptr, text, n) == 0;
}

/* What SENTINEL MASTER said of a group's master. */
struct sentinel_view {
    char     ip[64];
    int      port;
    uint64_t config_epoch;
    bool     has_ip, has_port, has_epoch;
    bool     failing_over;
};

/* The flat field/value array of SENTINEL MASTER (a map in RESP3). */
static bool read_master_reply(const char *p, size_t n, struct sentinel_view *v)
{
    struct resp_reader rd;
    long long count;
    resp_reader_init(&rd, p, n);
    if (!resp_read_aggregate(&rd, &count) || count < 0)
        return false;
    if (p[0] == '%')
        count *= 2; /* pairs */
    memset(v, 0, sizeof(*v));
    for (long long i = 0; i + 1 < count; i += 2) {
        struct slice k, val;
        if (!resp_read_string(&rd, &k) || !resp_read_string(&rd, &val) || !k.ptr || !val.ptr)
            return false;
        char text[128];
        snprintf(text, sizeof(text), "%.*s", (int)(val.len < sizeof(text) ? val.len : sizeof(text) - 1), val.ptr);
        if (slice_is(&k, "ip") && val.len < sizeof(v->ip)) {
            memcpy(v->ip, val.ptr, val.len);
            v->ip[val.len] = '\0';
            v->has_ip = true;
        } else if (slice_is(&k, "port")) {
            v->port = atoi(text);
            v->has_port = v->port > 0 && v->port <= 65535;
        } else if (slice_is(&k, "config-epoch")) {
            char *end;
            unsigned long long e = strtoull(text, &end, 10);
            /* past 2^31 the record epoch would leave the text form's range */
            v->has_epoch = *end == '\0' && text[0] >= '0' && text[0] <= '9' && e < (1ull << 31);
            v->config_epoch = e;
        } else if (slice_is(&k, "flags")) {
            v->failing_over = strstr(text, "failover_in_progress") != NULL;
        }
    }
    return true;
}

/* A Sentinel's view of group gid: publish it when it is a newer record. */
static void take_view(struct shard *sh, struct cluster *c, struct sentinel *s, uint32_t gid,
                      const struct sentinel_view *v)
{
    if (!v->has_ip || !v->has_port || !v->has_epoch || v->failing_over)
        return;
    const struct cluster_state *st = cluster_newest(c); /* a change's base (cluster.h) */
    int g = cluster_state_group_by_id(st, gid);
    if (g < 0)
        return;
    const struct cluster_group *gr = &st->groups[g];
    int m = cluster_state_node_at(st, g, v->ip, v->port);
    uint64_t epoch = cluster_epoch_of_sentinel(v->config_epoch);
    if (m < 0) {
        if (!s->stranger_logged)
            log_warning("Cluster: Sentinel %s:%d names %s:%d as the master of group %" PRIu32
                        ", which is no node of that group: ignored", s->ip, s->port, v->ip, v->port, gid);
        s->stranger_logged = true;
        return;
    }
    if (!cluster_record_newer(epoch, st->nodes[m].id, gr->epoch, st->nodes[gr->master].id))
        return;
    struct cluster_state *next = cluster_state_copy(st);
    next->groups[g].master = m;
    next->groups[g].epoch = epoch;
    char err[300];
    if (cluster_publish(sh, c, next, err, sizeof(err)) != 0) {
        log_warning("Cluster: the record learnt from Sentinel %s:%d not taken: %s", s->ip, s->port, err);
        return;
    }
    log_notice("Cluster: Sentinel %s:%d says group %" PRIu32 "'s master is %.8s (%s:%d), config epoch %" PRIu64
               ": recorded with epoch %" PRIu64, s->ip, s->port, gid, st->nodes[m].id, v->ip, v->port,
               v->config_epoch, epoch);
}

/* One whole reply on the ask link. */
static bool ask_reply(struct shard *sh, struct cluster *c, struct sentinel_link *l, const char *p, size_t n)
{
    struct sentinel *s = l->sentinel;
    if (l->answered >= l->nasked)
        return false; /* nothing was asked */
    uint32_t gid = l->asked[l->answered++];
    if (p[0] != '-') {
        struct sentinel_view v;
        if (!read_master_reply(p, n, &v))
            return false;
        take_view(sh, c, s, gid, &v);
    }
    /* an error ("No such master": not registered yet) is an answer too */
    if (l->answered == l->nasked) {
        int64_t now = shard_now_ms(sh);
        s->reached_ms = now;
        l->client.last_active_ms = now;
        if (s->down_logged)
            log_notice("Cluster: Sentinel %s:%d reached", s->ip, s->port);
        s->down_logged = false;
    }
    return true;
}

/* One whole message on the watch link: a +switch-master of ours makes the
 * node ask that Sentinel now. */
static bool watch_reply(struct shard *sh, struct sentinel_link *l, const char *p, size_t n)
{
    struct sentinel *s = l->sentinel;
    struct resp_reader rd;
    long long count;
    struct slice kind, channel, text;
    resp_reader_init(&rd, p, n);
    if (!resp_read_aggregate(&rd, &count) || count != 3 || !resp_read_string(&rd, &kind) ||
        !resp_read_string(&rd, &channel))
        return p[0] != '-';
    if (!slice_is(&kind, "message") || !resp_read_string(&rd, &text) || !text.ptr)
        return true; /* the subscribe confirmation */
    if (text.len > strlen(NAME_PREFIX) && memcmp(text.ptr, NAME_PREFIX, strlen(NAME_PREFIX)) == 0) {
        log_notice("Cluster: Sentinel %s:%d: +switch-master %.*s", s->ip, s->port,
                   (int)(text.len > 200 ? 200 : text.len), text.ptr);
        s->next_ask_ms = shard_now_ms(sh);
    }
    return true;
}

/* ------------------------------------------- the link as a connection owner */

static size_t link_data(struct shard *sh, struct conn *c, const char *p, size_t n)
{
    struct sentinel_link *l = link_of(c);
    struct cluster *cl = cluster_of(sh->node);
    size_t used = 0;
    while (used < n) {
        if (!l->sentinel) {
            conn_close(c, false);
            return n;
        }
        size_t len = resp_value_len(p + used, n - used);
        if (len == 0)
            break; /* incomplete (a malformed reply times out) */
        bool ok = l->watch ? watch_reply(sh, l, p + used, len) : ask_reply(sh, cl, l, p + used, len);
        if (!ok) {
            struct sentinel *s = l->sentinel;
            if (!s->down_logged)
                log_warning("Cluster: Sentinel %s:%d sent an unexpected reply (%.*s): links dropped", s->ip,
                            s->port, (int)(len > 100 ? 100 : len - 2), p + used);
            s->down_logged = true;
            drop_links(s, shard_now_ms(sh));
            return n;
        }
        used += len;
    }
    return used;
}

static void link_connected(struct shard *sh, struct conn *c, int err)
{
    struct sentinel_link *l = link_of(c);
    struct sentinel *s = l->sentinel;
    if (err) {
        if (s) {
            if (s->ask == l)
                s->ask = NULL;
            if (s->watch == l)
                s->watch = NULL;
            if (!s->down_logged)
                log_warning("Cluster: Sentinel %s:%d unreachable: %s", s->ip, s->port, strerror(-err));
            s->down_logged = true;
            drop_links(s, shard_now_ms(sh)); /* the other one too */
        }
        mi_free(l->asked);
        mi_free(l);
        return;
    }
    if (!s) {
        conn_close(c, false);
        return;
    }
    conn_set_keepalive(c, 60);
    l->connecting = false;
    int64_t now = shard_now_ms(sh);
    if (l->watch) {
        const char *sub[] = { "SUBSCRIBE", "+switch-master" };
        resp_encode_strings(&c->out, 2, sub);
        conn_flush(c);
        snprintf(l->client.last_cmd, sizeof(l->client.last_cmd), "subscribe");
    } else {
        ask(cluster_of(sh->node), l, now);
        s->next_ask_ms = now + poll_ms(sh);
    }
}

static void link_closed(struct shard *sh, struct conn *c)
{
    struct sentinel_link *l = link_of(c);
    c->owner = NULL;
    struct sentinel *s = l->sentinel;
    if (s) {
        /* one link gone: both go, so the watch is never missing unseen */
        if (s->ask == l)
            s->ask = NULL;
        if (s->watch == l)
            s->watch = NULL;
        if (!s->down_logged)
            log_notice("Cluster: Sentinel %s:%d: link closed", s->ip, s->port);
        drop_links(s, shard_now_ms(sh));
    }
    mi_free(l->asked);
    mi_free(l);
}

static void link_describe(struct shard *sh, const struct conn *c, struct conn_view *v)
{
    (void)sh;
    conn_view_outgoing(c, &link_of(c)->client, v);
}


/* No idle op: the ask link asks every poll period and times out on
 * cluster-node-timeout; the watch link is quiet between switches. */
static const struct conn_owner_ops sentinel_link_ops = {
    .name = "cluster sentinel link",
    .data = link_data,
    .connected = link_connected,
    .closed = link_closed,
    .describe = link_describe,
    .kill = conn_owner_kill_close,
};
