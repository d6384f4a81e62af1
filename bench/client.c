/* client: see client.h. */
#include "client.h"

#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* user_data: bits 0..7 the operation, bits 8.. the connection's index */
enum { OP_RECV = 1, OP_SEND = 2 };
static inline uint64_t ud_make(unsigned op, unsigned conn) { return (uint64_t)conn << 8 | op; }
static inline unsigned ud_op(uint64_t ud) { return (unsigned)(ud & 0xff); }
static inline unsigned ud_conn(uint64_t ud) { return (unsigned)(ud >> 8); }

#define RECV_BUF_MIN     (64u << 10)
#define RECV_BUF_MAX     ((size_t)1 << 30)
#define SEND_BUF_MIN     (64u << 10)
#define DRAIN_NS         (2ull * 1000000000ull)  /* wait this long for replies after the run */
#define PREFILL_DEPTH    64u
#define LRU_BATCH        4096u
#define REFRESH_GAP_NS   (100ull * 1000000ull)   /* cluster map reloads at most this often */

/* One request in flight. */
struct pending {
    uint64_t t_ns;          /* send time; open loop: intended send time */
    uint64_t key;           /* single-key requests: the key (a MOVED resends it) */
    uint8_t  kind;          /* enum request_kind */
    uint8_t  nkeys;
    uint8_t  redirects;     /* MOVED replies followed so far */
};

struct conn {
    int      fd;
    bool     dead, sending, dirty;
    char    *sbuf;          /* [0, slen): bytes to send; the first part may be in flight */
    size_t   scap, slen;
    char    *rbuf;          /* [0, rlen): received, not yet consumed */
    size_t   rcap, rlen;
    struct pending *q;      /* FIFO ring of in-flight requests, qcap a power of two */
    uint32_t qcap, qhead, qlen;
};

/* One client: a connection (cluster mode: one to every master) with its
 * pipeline and open-loop schedule. */
struct client {
    uint64_t next_intended; /* open loop: next send time */
    uint32_t inflight;      /* requests in flight over all its connections */
};

/* One phase of a thread's run: the prefill or the measurement. */
struct phase {
    bool     prefill;
    uint64_t target;        /* requests to issue (UINT64_MAX: until end_ns) */
    uint64_t end_ns;        /* stop issuing at (UINT64_MAX: until target) */
    uint64_t issued, done;
    unsigned depth;         /* closed loop: in flight per connection */
    uint64_t interval_ns;   /* open loop: per-connection gap; 0 closed loop */
    uint64_t prefill_next;  /* prefill: next key */
    unsigned live;          /* connections still open */
    size_t   request_max;
    uint32_t *dirty;        /* connections to look at this turn (2 * nconns room:
                             * each is listed at most once before and once
                             * during a turn's pass) */
    unsigned ndirty;
};

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *xalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p) {
        fprintf(stderr, "ringkv-bench: out of memory\n");
        abort();
    }
    return p;
}

static void note_error(struct load_thread *t, const char *text, size_t len)
{
    if (t->first_error[0])
        return;
    if (len >= sizeof t->first_error)
        len = sizeof t->first_error - 1;
    memcpy(t->first_error, text, len);
    t->first_error[len] = 0;
}

/* ---- set-up ---- */

/* Open every client's connection to node (host:port): conns[i * nnodes + node]. */
static int open_conns(struct load_thread *t, unsigned node, const char *host, int portno,
                      size_t scap, size_t scap_min, unsigned depth)
{
    char port[16];
    snprintf(port, sizeof port, "%d", portno);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "ringkv-bench: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    for (unsigned i = node; i < t->nconns; i += t->nnodes) {
        struct conn *c = &t->conns[i];
        int fd = -1;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
            fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
            if (fd < 0)
                continue;
            if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                break;
            close(fd);
            fd = -1;
        }
        if (fd < 0) {
            fprintf(stderr, "ringkv-bench: connect to %s:%d: %s\n", host, portno,
                    strerror(errno));
            freeaddrinfo(ai);
            return -1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->scap = scap < scap_min ? scap_min : scap;
        c->sbuf = xalloc(c->scap);
        c->rcap = RECV_BUF_MIN;
        c->rbuf = xalloc(c->rcap);
        c->qcap = 16;
        while (c->qcap < depth)
            c->qcap <<= 1;
        c->q = xalloc(c->qcap * sizeof *c->q);
    }
    freeaddrinfo(ai);
    return 0;
}

int load_thread_connect(struct load_thread *t, struct load_shared *shared, unsigned index)
{
    const struct bench_config *cfg = shared->cfg;
    memset(t, 0, sizeof *t);
    t->index = index;
    t->shared = shared;
    histogram_init(&t->hist);
    keygen_init(&t->keygen, cfg->key_dist, cfg->zipf_exponent, cfg->keys, index + 1);
    t->rng = 0x5eed0000ull + index * 7919ull;
    t->nnodes = cfg->cluster ? cfg->cluster->nnodes : 1;
    t->nclients = cfg->connections;
    t->nconns = t->nclients * t->nnodes;
    t->conns = xalloc(t->nconns * sizeof *t->conns);
    t->clients = xalloc(t->nclients * sizeof *t->clients);
    for (unsigned i = 0; i < t->nconns; i++)
        t->conns[i].fd = -1;
    if (cfg->cluster) {
        t->map = xalloc(sizeof *t->map);
        *t->map = *cfg->cluster;
    }
    if (cfg->lru_capacity)
        t->lru_batch = xalloc(LRU_BATCH * sizeof *t->lru_batch);

    size_t reqmax = protocol_request_max(&cfg->keyname, cfg->mkeys > 1 ? cfg->mkeys : 1,
                                         cfg->value_max);
    unsigned depth = cfg->pipeline > PREFILL_DEPTH ? cfg->pipeline : PREFILL_DEPTH;
    for (unsigned node = 0; node < t->nnodes; node++) {
        const char *host = cfg->cluster ? cfg->cluster->nodes[node].host : cfg->host;
        int port = cfg->cluster ? cfg->cluster->nodes[node].port : cfg->port;
        if (open_conns(t, node, host, port, depth * reqmax > SEND_BUF_MIN ? depth * reqmax
                                                                       : SEND_BUF_MIN,
                       4 * reqmax, depth) < 0)
            return -1;
    }
    return 0;
}

void load_thread_deinit(struct load_thread *t)
{
    for (unsigned i = 0; t->conns && i < t->nconns; i++) {
        struct conn *c = &t->conns[i];
        if (c->fd >= 0)
            close(c->fd);
        free(c->sbuf);
        free(c->rbuf);
        free(c->q);
    }
    free(t->conns);
    free(t->clients);
    free(t->map);
    free(t->lru_batch);
    t->conns = NULL;
    t->clients = NULL;
    t->map = NULL;
    t->lru_batch = NULL;
}

/* ---- the LRU simulation feed ---- */

static void lru_flush(struct load_thread *t)
{
    struct load_shared *sh = t->shared;
    if (!t->lru_batch_len)
        return;
    pthread_mutex_lock(&sh->lru_lock);
    for (unsigned i = 0; i < t->lru_batch_len; i++)
        lru_sim_access(&sh->lru, t->lru_batch[i] >> 1, t->lru_batch[i] & 1);
    pthread_mutex_unlock(&sh->lru_lock);
    t->lru_batch_len = 0;
}

static inline void lru_note(struct load_thread *t, uint64_t key, bool write)
{
    if (!t->lru_batch)
        return;
    t->lru_batch[t->lru_batch_len++] = (uint32_t)(key << 1) | write;
    if (t->lru_batch_len == LRU_BATCH)
        lru_flush(t);
}

/* ---- requests ---- */

static void fifo_push(struct conn *c, struct pending p)
{
    if (c->qlen == c->qcap) {
        /* open loop only: unroll the ring into a twice larger one */
        struct pending *q = xalloc(2 * (size_t)c->qcap * sizeof *q);
        for (uint32_t i = 0; i < c->qlen; i++)
            q[i] = c->q[(c->qhead + i) & (c->qcap - 1)];
        free(c->q);
        c->q = q;
        c->qhead = 0;
        c->qcap *= 2;
    }
    c->q[(c->qhead + c->qlen) & (c->qcap - 1)] = p;
    c->qlen++;
}

static struct pending fifo_pop(struct conn *c)
{
    struct pending p = c->q[c->qhead];
    c->qhead = (c->qhead + 1) & (c->qcap - 1);
    c->qlen--;
    return p;
}

static size_t value_len(struct load_thread *t)
{
    const struct bench_config *cfg = t->shared->cfg;
    if (cfg->value_min == cfg->value_max)
        return cfg->value_min;
    return cfg->value_min + keygen_below(&t->rng, cfg->value_max - cfg->value_min + 1);
}

/* ---- the ring ---- */

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(ring)))
        io_uring_submit(ring);
    return sqe;
}

static void arm_recv(struct io_uring *ring, struct conn *c, unsigned idx)
{
    struct io_uring_sqe *sqe = get_sqe(ring);
    io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    io_uring_sqe_set_data64(sqe, ud_make(OP_RECV, idx));
}

static void arm_send(struct io_uring *ring, struct conn *c, unsigned idx)
{
    struct io_uring_sqe *sqe = get_sqe(ring);
    io_uring_prep_send(sqe, c->fd, c->sbuf, c->slen, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud_make(OP_SEND, idx));
    c->sending = true;
}

static void mark_dirty(struct phase *ph, struct conn *c, unsigned idx)
{
    if (!c->dirty) {
        c->dirty = true;
        ph->dirty[ph->ndirty++] = idx;
    }
}

/* ---- building and routing requests ---- */

/* The connection of client cl to the node serving key (cluster mode), or
 * client cl's one connection. */
static unsigned route(struct load_thread *t, unsigned cl, uint64_t key)
{
    if (!t->map)
        return cl;
    const struct keyname *kn = &t->shared->cfg->keyname;
    char name[256];
    keyname_write(kn, key, name);
    unsigned node = t->map->slot_node[cluster_key_slot(name, kn->len)];
    if (node >= t->nnodes)
        node = 0;           /* no owner known: that node answers MOVED or CLUSTERDOWN */
    return cl * t->nnodes + node;
}

/* Encode p (a single-key request whose key is chosen) for connection idx and
 * queue it there. false when it has no room or is closed. */
static bool queue_on(struct load_thread *t, struct phase *ph, unsigned idx, struct pending p)
{
    const struct bench_config *cfg = t->shared->cfg;
    struct conn *c = &t->conns[idx];
    if (c->dead || c->scap - c->slen < ph->request_max)
        return false;
    char *out = c->sbuf + c->slen;
    const char *value = t->shared->value;
    size_t n;
    switch (p.kind) {
    case REQ_SET:
        if (ph->prefill && cfg->workload == WL_INCR)
            n = protocol_encode_set(cfg->protocol, out, &cfg->keyname, p.key, "0", 1);
        else
            n = protocol_encode_set(cfg->protocol, out, &cfg->keyname, p.key, value, value_len(t));
        break;
    case REQ_INCR:
        n = protocol_encode_incr(cfg->protocol, out, &cfg->keyname, p.key);
        break;
    case REQ_GET:
    default:
        n = protocol_encode_get(cfg->protocol, out, &cfg->keyname, &p.key, 1);
        break;
    }
    c->slen += n;
    fifo_push(c, p);
    t->clients[idx / t->nnodes].inflight++;
    mark_dirty(ph, c, idx);
    return true;
}

/* Issue one request of client cl sent (or meant to be sent) at t_ns. false
 * when it cannot now: a send buffer without room (a send still in flight)
 * or, in cluster mode, the connection to the key's node closed (the request
 * is then counted as an error). */
static bool build_request(struct load_thread *t, struct phase *ph, unsigned cl, uint64_t t_ns)
{
    const struct bench_config *cfg = t->shared->cfg;
    /* room first, so no key is drawn for a request that cannot go out */
    for (unsigned n = 0; n < t->nnodes; n++) {
        struct conn *c = &t->conns[cl * t->nnodes + n];
        if (!c->dead && c->scap - c->slen < ph->request_max)
            return false;
    }
    struct pending p = { .t_ns = t_ns, .nkeys = 1 };

    if (ph->prefill) {
        p.kind = REQ_SET;
        p.key = ph->prefill_next++;
    } else if (cfg->workload == WL_GET_SET) {
        p.key = keygen_next(&t->keygen);
        bool set = keygen_below(&t->rng, cfg->set_ratio + cfg->get_ratio) < cfg->set_ratio;
        p.kind = set ? REQ_SET : REQ_GET;
        lru_note(t, p.key, set);
    } else if (cfg->workload == WL_INCR) {
        p.key = keygen_next(&t->keygen);
        p.kind = REQ_INCR;
        lru_note(t, p.key, true);
    } else {
        /* MGET / MSET: one connection only (main() refuses them with --cluster) */
        struct conn *c = &t->conns[cl];
        if (c->dead)
            return false;
        char *out = c->sbuf + c->slen;
        uint64_t keys[256];
        unsigned m = cfg->mkeys;
        size_t n;
        for (unsigned i = 0; i < m; i++) {
            keys[i] = keygen_next(&t->keygen);
            lru_note(t, keys[i], cfg->workload == WL_MSET);
        }
        p.nkeys = (uint8_t)m;
        if (cfg->workload == WL_MGET) {
            p.kind = REQ_MGET;
            n = protocol_encode_get(cfg->protocol, out, &cfg->keyname, keys, m);
        } else {
            p.kind = REQ_MSET;
            n = protocol_encode_mset(out, &cfg->keyname, keys, m, t->shared->value, value_len(t));
        }
        c->slen += n;
        fifo_push(c, p);
        t->clients[cl].inflight++;
        mark_dirty(ph, c, cl);
        ph->issued++;
        return true;
    }
    unsigned idx = route(t, cl, p.key);
    ph->issued++;
    if (!queue_on(t, ph, idx, p)) {
        /* only a closed connection gets here: the room was checked */
        ph->done++;
        if (ph->prefill)
            t->prefill_errors++;
        else
            t->errors++;
        note_error(t, "connection to the key's node closed", 35);
        return false;
    }
    return true;
}

/* The connection is gone: its in-flight requests will never be answered. */
static void conn_fail(struct load_thread *t, struct phase *ph, unsigned idx, const char *why)
{
    struct conn *c = &t->conns[idx];
    if (c->dead)
        return;
    c->dead = true;
    ph->live--;
    char msg[160];
    int n = snprintf(msg, sizeof msg, "connection %s", why);
    note_error(t, msg, (size_t)n);
    if (ph->prefill)
        t->prefill_errors += c->qlen ? c->qlen : 1;
    else
        t->errors += c->qlen ? c->qlen : 1;
    ph->done += c->qlen;
    t->clients[idx / t->nnodes].inflight -= c->qlen;
    c->qlen = 0;
}

/* A -MOVED reply to p: point its slot at the node named and send p there
 * again. false when it cannot be followed (then it is an error reply). */
static bool follow_moved(struct load_thread *t, struct phase *ph, unsigned idx,
                         const struct reply_scan *r, struct pending p)
{
    unsigned slot;
    const char *addr;
    size_t alen;
    if (!t->map || p.nkeys != 1 ||
        cluster_parse_moved(r->text, r->text_len, &slot, &addr, &alen) < 0)
        return false;
    t->moved++;
    t->refresh_wanted = true;
    int node = cluster_map_find(t->map, addr, alen);
    if (node < 0 || p.redirects >= CLUSTER_MAX_REDIRECTS)
        return false;
    t->map->slot_node[slot] = (uint8_t)node;
    p.redirects++;
    unsigned cl = idx / t->nnodes;
    return queue_on(t, ph, cl * t->nnodes + (unsigned)node, p);
}

static void on_reply(struct load_thread *t, struct phase *ph, unsigned idx,
                     const struct reply_scan *r, uint64_t now)
{
    struct conn *c = &t->conns[idx];
    struct pending p = fifo_pop(c);
    t->clients[idx / t->nnodes].inflight--;
    if (r->error && t->map && follow_moved(t, ph, idx, r, p))
        return;             /* still in flight, on another connection */
    ph->done++;
    if (ph->prefill) {
        if (r->error) {
            t->prefill_errors++;
            note_error(t, r->text, r->text_len);
        }
        return;
    }
    histogram_record(&t->hist, now > p.t_ns ? now - p.t_ns : 0);
    atomic_store_explicit(&t->completed,
                          atomic_load_explicit(&t->completed, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    t->end_ns = now;
    if (r->error) {
        t->errors++;
        note_error(t, r->text, r->text_len);
    } else if (p.kind == REQ_GET || p.kind == REQ_MGET) {
        uint32_t v = r->values < p.nkeys ? r->values : p.nkeys;
        t->hits += v;
        t->misses += p.nkeys - v;
    }
}

static void on_recv(struct load_thread *t, struct phase *ph, struct io_uring *ring,
                    unsigned idx, int res)
{
    const struct bench_config *cfg = t->shared->cfg;
    struct conn *c = &t->conns[idx];
    if (c->dead)
        return;
    if (res <= 0) {
        conn_fail(t, ph, idx, res == 0 ? "closed by the server" : strerror(-res));
        return;
    }
    c->rlen += (size_t)res;
    uint64_t now = bench_now_ns();
    size_t off = 0;
    while (off < c->rlen) {
        struct reply_scan r;
        long n = protocol_scan_reply(cfg->protocol, c->rbuf + off, c->rlen - off, &r);
        if (n == 0)
            break;
        if (n < 0 || c->qlen == 0) {
            conn_fail(t, ph, idx, n < 0 ? "dropped: malformed reply" : "dropped: unexpected reply");
            return;
        }
        on_reply(t, ph, idx, &r, now);
        off += (size_t)n;
    }
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    if (c->rlen == c->rcap) {
        if (c->rcap >= RECV_BUF_MAX) {
            conn_fail(t, ph, idx, "dropped: reply too large");
            return;
        }
        char *nb = realloc(c->rbuf, c->rcap * 2);
        if (!nb) {
            conn_fail(t, ph, idx, "dropped: out of memory");
            return;
        }
        c->rbuf = nb;
        c->rcap *= 2;
    }
    arm_recv(ring, c, idx);
    mark_dirty(ph, c, idx);
}

static void on_send(struct load_thread *t, struct phase *ph, unsigned idx, int res)
{
    struct conn *c = &t->conns[idx];
    c->sending = false;
    if (c->dead)
        return;
    if (res < 0) {
        conn_fail(t, ph, idx, strerror(-res));
        return;
    }
    memmove(c->sbuf, c->sbuf + res, c->slen - (size_t)res);
    c->slen -= (size_t)res;
    mark_dirty(ph, c, idx);
}

/* Issue what client cl may send now. false when it has to wait for a send
 * to complete (or a connection it needs is closed), not for a timer. */
static bool fill(struct load_thread *t, struct phase *ph, unsigned cl, uint64_t now)
{
    struct client *k = &t->clients[cl];
    if (ph->interval_ns) {
        while (k->next_intended <= now && ph->issued < ph->target) {
            if (!build_request(t, ph, cl, k->next_intended))
                return false;
            k->next_intended += ph->interval_ns;
        }
        return true;
    }
    while (k->inflight < ph->depth && ph->issued < ph->target)
        if (!build_request(t, ph, cl, now))
            return false;
    return true;
}

/* Cluster mode, after a MOVED: the whole map again from the node the run
 * started on (its node list kept), at most every REFRESH_GAP_NS. A failed
 * reload keeps the map as the MOVED replies made it. */
static void refresh_map(struct load_thread *t, uint64_t now)
{
    const struct bench_config *cfg = t->shared->cfg;
    if (!t->refresh_wanted || now - t->refreshed_ns < REFRESH_GAP_NS)
        return;
    t->refresh_wanted = false;
    t->refreshed_ns = now;
    char err[160];
    struct cluster_map *fresh = xalloc(sizeof *fresh);
    *fresh = *t->map;
    if (cluster_map_load(fresh, cfg->host, cfg->port, 1, err, sizeof err) == 0)
        memcpy(t->map->slot_node, fresh->slot_node, sizeof fresh->slot_node);
    free(fresh);
}

static void run_phase(struct load_thread *t, struct io_uring *ring, struct phase *ph)
{
    ph->live = 0;
    ph->ndirty = 0;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct conn *c = &t->conns[i];
        c->dirty = false;
        if (!c->dead) {
            ph->live++;
            mark_dirty(ph, c, i);
        }
    }
    for (;;) {
        uint64_t now = bench_now_ns();
        bool issuing = ph->issued < ph->target && now < ph->end_ns && ph->live > 0;
        if (!issuing && (ph->issued == ph->done || ph->live == 0))
            break;
        if (!issuing && ph->end_ns != UINT64_MAX && now >= ph->end_ns + DRAIN_NS)
            break;                  /* replies that never came: not counted */

        uint64_t wake = UINT64_MAX;
        if (ph->interval_ns) {
            for (unsigned cl = 0; cl < t->nclients; cl++) {
                if (issuing && fill(t, ph, cl, now)) {
                    if (t->clients[cl].next_intended < wake)
                        wake = t->clients[cl].next_intended;
                }
            }
            for (unsigned i = 0; i < t->nconns; i++) {
                struct conn *c = &t->conns[i];
                c->dirty = false;
                if (!c->dead && !c->sending && c->slen)
                    arm_send(ring, c, i);
            }
            ph->ndirty = 0;
        } else {
            /* a fill may queue on the client's other connections: they are
             * marked dirty and come later in this same pass */
            for (unsigned d = 0; d < ph->ndirty; d++) {
                unsigned i = ph->dirty[d];
                struct conn *c = &t->conns[i];
                c->dirty = false;
                if (c->dead)
                    continue;
                if (issuing)
                    fill(t, ph, i / t->nnodes, now);
                if (!c->sending && c->slen)
                    arm_send(ring, c, i);
            }
            ph->ndirty = 0;
        }
        if (ph->end_ns != UINT64_MAX) {
            uint64_t e = issuing ? ph->end_ns : ph->end_ns + DRAIN_NS;
            if (e < wake)
                wake = e;
        }

        struct io_uring_cqe *cqe;
        if (wake == UINT64_MAX) {
            io_uring_submit_and_wait(ring, 1);
        } else {
            uint64_t n2 = bench_now_ns();
            if (wake <= n2) {
                io_uring_submit(ring);
            } else {
                uint64_t d = wake - n2;
                struct __kernel_timespec ts = { .tv_sec = (long long)(d / 1000000000ull),
                                                .tv_nsec = (long long)(d % 1000000000ull) };
                io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
            }
        }
        unsigned head, seen = 0;
        io_uring_for_each_cqe(ring, head, cqe) {
            seen++;
            uint64_t ud = io_uring_cqe_get_data64(cqe);
            unsigned idx = ud_conn(ud);
            if (idx >= t->nconns)
                continue;
            if (ud_op(ud) == OP_RECV)
                on_recv(t, ph, ring, idx, cqe->res);
            else if (ud_op(ud) == OP_SEND)
                on_send(t, ph, idx, cqe->res);
        }
        io_uring_cq_advance(ring, seen);
        if (t->map)
            refresh_map(t, bench_now_ns());
    }
}

static int ring_init(struct io_uring *ring, unsigned entries)
{
    /* one submitter and completions reaped only when we wait: the kernel
     * runs task work in batches at our wait instead of interrupting us */
    unsigned flagsets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    for (unsigned i = 0; i < sizeof flagsets / sizeof flagsets[0]; i++) {
        rc = io_uring_queue_init(entries, ring, flagsets[i]);
        if (rc == 0)
            return 0;
    }
    return rc;
}

void *load_thread_main(void *arg)
{
    struct load_thread *t = arg;
    struct load_shared *sh = t->shared;
    const struct bench_config *cfg = sh->cfg;
    struct io_uring ring;
    bool have_ring = false;
    struct phase ph = { 0 };

    if (cfg->ncpus) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cfg->cpus[t->index % cfg->ncpus], &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof set, &set))
            fprintf(stderr, "ringkv-bench: cannot pin thread %u to CPU %d\n", t->index,
                    cfg->cpus[t->index % cfg->ncpus]);
    }
    unsigned entries = 64;
    while (entries < 2 * t->nconns + 16)
        entries <<= 1;
    int rc = ring_init(&ring, entries);
    if (rc < 0) {
        snprintf(t->first_error, sizeof t->first_error, "io_uring_queue_init: %s", strerror(-rc));
        t->failed = 1;
    } else {
        have_ring = true;
    }
    ph.dirty = xalloc(2 * t->nconns * sizeof *ph.dirty);
    ph.request_max = protocol_request_max(&cfg->keyname, cfg->mkeys > 1 ? cfg->mkeys : 1,
                                          cfg->value_max);

    if (have_ring) {
        for (unsigned i = 0; i < t->nconns; i++)
            arm_recv(&ring, &t->conns[i], i);
        io_uring_submit(&ring);
    }

    if (have_ring && cfg->prefill) {
        uint64_t lo = cfg->keys * t->index / cfg->threads;
        uint64_t hi = cfg->keys * (t->index + 1) / cfg->threads;
        ph.prefill = true;
        ph.prefill_next = lo;
        ph.target = hi - lo;
        ph.end_ns = UINT64_MAX;
        ph.depth = PREFILL_DEPTH;
        run_phase(t, &ring, &ph);
    }

    pthread_barrier_wait(&sh->ready);
    pthread_barrier_wait(&sh->go);
    uint64_t start = atomic_load(&sh->start_ns);

    if (have_ring) {
        ph.prefill = false;
        ph.issued = ph.done = 0;
        if (cfg->requests) {
            ph.target = cfg->requests / cfg->threads +
                        (t->index < cfg->requests % cfg->threads ? 1 : 0);
            ph.end_ns = UINT64_MAX;
        } else {
            ph.target = UINT64_MAX;
            ph.end_ns = start + (uint64_t)(cfg->duration_s * 1e9);
        }
        ph.depth = cfg->pipeline;
        if (cfg->rate > 0) {
            double total_conns = (double)cfg->threads * t->nclients;
            ph.interval_ns = (uint64_t)(1e9 * total_conns / cfg->rate);
            if (ph.interval_ns == 0)
                ph.interval_ns = 1;
            /* stagger the connections so the whole schedule is evenly spaced */
            for (unsigned i = 0; i < t->nclients; i++) {
                double slot = (double)i * cfg->threads + t->index;
                t->clients[i].next_intended = start + (uint64_t)(slot * 1e9 / cfg->rate);
            }
        }
        run_phase(t, &ring, &ph);
        lru_flush(t);
        io_uring_queue_exit(&ring);
    }
    if (!t->end_ns)
        t->end_ns = bench_now_ns();
    free(ph.dirty);
    atomic_fetch_add(&sh->finished, 1);
    return NULL;
}
