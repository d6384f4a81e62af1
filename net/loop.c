#include "net/loop.h"
#include "core/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mimalloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "net/ring.h"
#include "core/log.h"

#define RECV_BGID 1
/* Unconsumed input at which a connection stops being read, and below which
 * it is read again. */
#define INPUT_STOP_BYTES (4u << 20)
#define INPUT_RESUME_BYTES (1u << 20)
#define OWN_RECV_BYTES (16u << 10)

struct loop {
    struct io_uring        ring;
    const char            *ring_mode;
    struct buf_pool        pool;
    struct loop_handlers   h;
    void                  *arg;
    const int             *listen_fds;
    int                    nlisten;
    struct __kernel_timespec tick;
    struct conn           *conns;      /* doubly linked list of open conns */
    size_t                 nconns;
    struct conn           *queued;     /* conns to send to or resume this turn */
    struct conn           *yielded;    /* conns to resume next turn */
    struct conn           *held;       /* conns whose output waits for a release */
    uint64_t               released;   /* loop_release's mark */
    unsigned long long     turns;
    bool                   stopping;
    atomic_int             sleeping;   /* 1 while waiting in io_uring_enter */
    unsigned               turn_io;    /* socket completions handled this turn */
    uint64_t               bytes_sent; /* over every connection, ever */
    struct loop_counts     counts;
    int                    bell;       /* loop_bell's eventfd (its owner's), -1 without one */
    bool                   bell_armed; /* a read of it is in flight */
    uint64_t               bell_count; /* what that read reads */
};

static void arm_accept(struct loop *l, int i)
{
    struct io_uring_sqe *sqe = ring_sqe(&l->ring);
    io_uring_prep_multishot_accept(sqe, l->listen_fds[i], NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, ud_make_index(OP_ACCEPT, (unsigned)i));
}

static void arm_tick(struct loop *l)
{
    struct io_uring_sqe *sqe = ring_sqe(&l->ring);
    io_uring_prep_timeout(sqe, &l->tick, 0, 0);
    io_uring_sqe_set_data64(sqe, ud_make(OP_TICK, NULL));
}

/* The bell's read: an OP_WAKE with the loop as payload (a shard's
 * MSG_RING wake-up has none), armed again each time it completes. */
static void arm_bell(struct loop *l)
{
    struct io_uring_sqe *sqe = ring_sqe(&l->ring);
    io_uring_prep_read(sqe, l->bell, &l->bell_count, sizeof(l->bell_count), 0);
    io_uring_sqe_set_data64(sqe, ud_make(OP_WAKE, l));
    l->bell_armed = true;
}

static void arm_recv(struct loop *l, struct conn *c)
{
    struct io_uring_sqe *sqe = ring_sqe(&l->ring);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = (unsigned short)l->pool.bgid;
    io_uring_sqe_set_data64(sqe, ud_make(OP_RECV, c));
    c->recv_armed = true;
    c->ops++;
}

/* The ring had no buffer for c: one recv into c's own buffer instead. */
static void arm_recv_own(struct loop *l, struct conn *c)
{
    c->own_buf = mi_malloc(OWN_RECV_BYTES);
    struct io_uring_sqe *sqe = ring_sqe(&l->ring);
    io_uring_prep_recv(sqe, c->fd, c->own_buf, OWN_RECV_BYTES, 0);
    io_uring_sqe_set_data64(sqe, ud_make(OP_RECV_OWN, c));
    c->recv_armed = true;
    c->ops++;
}

static void queue_conn(struct loop *l, struct conn *c)
{
    if (c->queued)
        return;
    c->queued = true;
    c->next_queued = l->queued;
    l->queued = c;
}

struct loop *loop_create(const struct loop_options *o, const struct loop_handlers *h, void *arg)
{
    struct loop *l = mi_zalloc(sizeof(*l));
    unsigned entries = o->ring_entries ? o->ring_entries : 4096;
    int ret = ring_setup(&l->ring, entries, &l->ring_mode);
    if (ret) {
        log_warning("io_uring setup failed: %s", strerror(-ret));
        mi_free(l);
        return NULL;
    }
    ret = buf_pool_setup(&l->ring, &l->pool, RECV_BGID, o->recv_buffers, o->recv_buffer_size);
    if (ret) {
        log_warning("io_uring provided buffer ring setup failed: %s", strerror(-ret));
        io_uring_queue_exit(&l->ring);
        mi_free(l);
        return NULL;
    }
    l->h = *h;
    l->arg = arg;
    l->bell = -1;
    l->listen_fds = o->listen_fds;
    l->nlisten = o->nlisten;
    loop_set_hz(l, o->hz > 0 ? o->hz : 10);
    for (int i = 0; i < l->nlisten; i++)
        arm_accept(l, i);
    arm_tick(l);
    return l;
}

const char *loop_ring_mode(const struct loop *l) { return l->ring_mode; }
size_t loop_conn_count(const struct loop *l) { return l->nconns; }
uint64_t loop_bytes_sent(const struct loop *l) { return l->bytes_sent; }

const struct loop_counts *loop_counts(const struct loop *l) { return &l->counts; }

/* Look at c's reply buffer: bigger than at the last look is an expand
 * (unless it is the connection's first block), smaller a shrink. */
static void reply_block_look(struct loop *l, struct conn *c)
{
    size_t now = c->out.cap > c->wire.cap ? c->out.cap : c->wire.cap;
    if (now > c->reply_block && c->reply_block_known)
        l->counts.reply_expands++;
    else if (now < c->reply_block)
        l->counts.reply_shrinks++;
    c->reply_block = now;
    c->reply_block_known |= now > 0;
}

void conn_trim_buffers(struct conn *c, size_t keep)
{
    if (c->in.len == 0 && c->in.cap > keep)
        buf_free(&c->in);
    bool out = c->out.len == 0 && c->out.cap > keep; /* a drained wire swapped in (queue_send) */
    bool wire = c->wire.len == 0 && c->wire.cap > keep;
    if (!out && !wire)
        return;
    reply_block_look(c->loop, c); /* what grew since the last send */
    if (out)
        buf_free(&c->out);
    if (wire)
        buf_free(&c->wire);
    reply_block_look(c->loop, c);
}

void loop_each_conn(struct loop *l, loop_conn_fn *fn, void *arg)
{
    for (struct conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (!c->closing)
            fn(arg, c);
    }
}

static void conn_free(struct loop *l, struct conn *c)
{
    if (l->h.on_close && c->owner)
        l->h.on_close(l->arg, c);
    close(c->fd);
    if (c->prev) c->prev->next = c->next; else l->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    l->nconns--;
    buf_free(&c->in);
    mi_free(c->own_buf);
    buf_free(&c->out);
    buf_free(&c->wire);
    mi_free(c);
}

/* A conn is freed when it is closing and nothing of it is in flight; conns
 * on the queued list are freed when the list is walked. */
static void conn_maybe_free(struct loop *l, struct conn *c)
{
    if (c->closing && c->ops == 0 && !c->queued && !c->yielded && !c->held)
        conn_free(l, c);
}

static void unhold(struct loop *l, struct conn *c);

void conn_close(struct conn *c, bool after_flush)
{
    if (c->closing)
        return;
    if (after_flush && conn_output_bytes(c) > 0) {
        c->close_after_flush = true;
        c->paused = true;
        queue_conn(c->loop, c);
        return;
    }
    c->closing = true;
    unhold(c->loop, c); /* its output is dropped */
    /* Shutting the socket down ends the multishot recv and any send in
     * flight; the conn is freed when their completions are in. */
    shutdown(c->fd, SHUT_RDWR);
    if (c->recv_armed) {
        struct io_uring_sqe *sqe = ring_sqe(&c->loop->ring);
        io_uring_prep_cancel64(sqe, ud_make(OP_RECV, c), 0);
        io_uring_sqe_set_data64(sqe, ud_make(OP_IGNORE, NULL));
    }
    queue_conn(c->loop, c);
}

void conn_flush(struct conn *c) { queue_conn(c->loop, c); }

void conn_addr_text(const struct sockaddr_storage *a, char *out, size_t n)
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

void conn_set_keepalive(struct conn *c, int seconds)
{
    int on = seconds > 0;
    setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    if (!on)
        return;
    /* as Redis: first probe after `seconds`, then every seconds/3, 3 probes */
    int intvl = seconds / 3 > 0 ? seconds / 3 : 1, cnt = 3;
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &seconds, sizeof(seconds));
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void conn_pause(struct conn *c) { c->paused = true; }

void conn_yield(struct conn *c)
{
    struct loop *l = c->loop;
    if (c->yielded || c->closing)
        return;
    c->yielded = true;
    c->next_yielded = l->yielded;
    l->yielded = c;
}

unsigned long long loop_turns(const struct loop *l) { return l->turns; }

/* Start of a turn's finish: the conns that yielded last turn get on_data
 * again (or are freed, if closed meanwhile). */
static void resume_yielded(struct loop *l)
{
    struct conn *list = l->yielded;
    l->yielded = NULL;
    for (struct conn *c = list, *next; c; c = next) {
        next = c->next_yielded;
        c->yielded = false;
        c->resume = !c->closing;
        queue_conn(l, c);
    }
}

void conn_resume(struct conn *c)
{
    if (c->closing || c->close_after_flush)
        return;
    c->paused = false;
    c->resume = true;
    queue_conn(c->loop, c);
}

static struct conn *conn_add(struct loop *l, int fd)
{
    struct conn *c = mi_zalloc(sizeof(*c));
    c->loop = l;
    c->fd = fd;
    c->next = l->conns;
    if (l->conns) l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    return c;
}

struct conn *loop_connect(struct loop *l, const struct sockaddr_storage *addr, struct conn_owner *owner)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct conn *c = conn_add(l, fd);
    c->owner = owner;
    c->peer = *addr;
    c->connecting = true;
    struct io_uring_sqe *sqe = ring_sqe(&l->ring);
    socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    io_uring_prep_connect(sqe, fd, (struct sockaddr *)&c->peer, len);
    io_uring_sqe_set_data64(sqe, ud_make(OP_CONNECT, c));
    c->ops++;
    return c;
}

static void handle_connect(struct loop *l, struct io_uring_cqe *cqe)
{
    struct conn *c = ud_ptr(cqe->user_data);
    c->ops--;
    c->connecting = false;
    if (cqe->res < 0 || c->closing) {
        int err = cqe->res < 0 ? cqe->res : -ECANCELED;
        if (l->h.on_connect)
            l->h.on_connect(l->arg, c, err);
        c->owner = NULL; /* on_close is not called for a conn that never opened */
        c->closing = true;
        conn_maybe_free(l, c);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    socklen_t len = sizeof(c->local);
    getsockname(c->fd, (struct sockaddr *)&c->local, &len);
    arm_recv(l, c);
    if (l->h.on_connect)
        l->h.on_connect(l->arg, c, 0);
}

static void handle_accept(struct loop *l, struct io_uring_cqe *cqe)
{
    int i = (int)ud_index(cqe->user_data);
    if (!(cqe->flags & IORING_CQE_F_MORE) && !l->stopping)
        arm_accept(l, i);
    if (cqe->res < 0) {
        if (cqe->res != -ECANCELED)
            log_verbose("accept: %s", strerror(-cqe->res));
        return;
    }
    int fd = cqe->res;
    if (l->stopping) {
        close(fd);
        return;
    }
    struct conn *c = conn_add(l, fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    socklen_t len = sizeof(c->peer);
    getpeername(fd, (struct sockaddr *)&c->peer, &len);
    len = sizeof(c->local);
    getsockname(fd, (struct sockaddr *)&c->local, &len);
    arm_recv(l, c);
    if (l->h.on_open)
        l->h.on_open(l->arg, c);
}

/* Keep bytes on_data did not consume, after those already kept. The
 * consumed front is dropped when it is at least as big as what is left (so
 * every byte is moved at most once more). */
static void input_keep(struct conn *c, const char *p, size_t n)
{
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off >= (64u << 10) && c->in_off >= c->in.len - c->in_off) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    buf_append(&c->in, p, n);
}

static void input_consumed(struct conn *c, size_t used)
{
    c->in_off += used;
    if (c->in_off >= c->in.len)
        c->in.len = c->in_off = 0;
}

/* Room for what on_data said the kept input will grow to. */
static void input_make_room(struct conn *c)
{
    size_t keep = conn_input_bytes(c);
    if (c->in_expect > keep)
        buf_reserve_exact(&c->in, c->in_expect - keep);
    c->in_expect = 0;
}

/* Hand on_data what conn->in holds. */
static void input_process(struct loop *l, struct conn *c)
{
    size_t used = l->h.on_data(l->arg, c, c->in.data + c->in_off, conn_input_bytes(c));
    if (!c->closing) {
        input_consumed(c, used);
        input_make_room(c);
    }
}

/* Input piling up unconsumed: stop reading (the multishot recv ends with
 * -ECANCELED) until it is worked down. */
static void input_check_stop(struct loop *l, struct conn *c)
{
    if (!c->recv_armed || c->recv_stopped || conn_input_bytes(c) < INPUT_STOP_BYTES)
        return;
    c->recv_stopped = true;
    struct io_uring_sqe *sqe = ring_sqe(&l->ring);
    io_uring_prep_cancel64(sqe, ud_make(OP_RECV, c), 0);
    io_uring_sqe_set_data64(sqe, ud_make(OP_IGNORE, NULL));
}

static void input_check_resume(struct loop *l, struct conn *c)
{
    if (c->recv_stopped && !c->recv_armed && !c->closing && !c->close_after_flush &&
        conn_input_bytes(c) < INPUT_RESUME_BYTES) {
        c->recv_stopped = false;
        arm_recv(l, c);
    }
}

static void deliver(struct loop *l, struct conn *c, const char *p, size_t n)
{
    if (c->closing || c->close_after_flush)
        return;
    bool waiting = c->paused || c->yielded;
    if (conn_input_bytes(c) == 0 && !waiting) {
        size_t used = l->h.on_data(l->arg, c, p, n);
        if (used < n && !c->closing) {
            input_keep(c, p + used, n - used);
            input_make_room(c);
        }
    } else {
        input_keep(c, p, n);
        if (c->in_limit && conn_input_bytes(c) > c->in_limit) {
            log_warning("Closing client that reached max query buffer length (qbuf=%zu)", conn_input_bytes(c));
            conn_close(c, false);
            return;
        }
        if (!waiting)
            input_process(l, c);
    }
    if (!c->closing && (c->paused || c->yielded))
        input_check_stop(l, c);
}

static void handle_recv(struct loop *l, struct io_uring_cqe *cqe)
{
    struct conn *c = ud_ptr(cqe->user_data);
    int res = cqe->res;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (res > 0) {
            l->counts.reads++;
            deliver(l, c, buf_pool_data(&l->pool, bid), (size_t)res);
        }
        buf_pool_recycle(&l->pool, bid);
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        c->recv_armed = false;
        c->ops--;
        if (c->recv_stopped && (res == -ECANCELED || res == -ENOBUFS || res > 0)) {
            input_check_resume(l, c); /* stopped on purpose: read again once worked down */
        } else if (res == -ENOBUFS && !c->closing) {
            arm_recv_own(l, c); /* the ring is dry: busier conns took every buffer */
        } else if (res > 0 && !c->closing && !c->close_after_flush) {
            /* the kernel ended the multishot on a completion that carries
             * data (its completion queue was full): the stream goes on */
            arm_recv(l, c);
        } else if (!c->closing && !c->close_after_flush) {
            /* end of stream or an error: the peer is gone */
            conn_close(c, false);
        }
    }
    conn_maybe_free(l, c);
}

static void handle_recv_own(struct loop *l, struct io_uring_cqe *cqe)
{
    struct conn *c = ud_ptr(cqe->user_data);
    int res = cqe->res;
    c->recv_armed = false;
    c->ops--;
    if (res > 0) {
        l->counts.reads++;
        deliver(l, c, c->own_buf, (size_t)res);
    }
    mi_free(c->own_buf); /* not kept: only a dry ring needs it */
    c->own_buf = NULL;
    if (c->closing || c->close_after_flush) {
        /* nothing more to read */
    } else if (res > 0 || res == -ENOBUFS) {
        if (c->recv_stopped)
            input_check_resume(l, c);
        else
            arm_recv(l, c); /* back to the shared ring */
    } else {
        conn_close(c, false); /* end of stream or an error */
    }
    conn_maybe_free(l, c);
}

/* ---- send fences (loop_release) ---- */

static void hold(struct loop *l, struct conn *c)
{
    if (c->held)
        return;
    c->held = true;
    c->next_held = l->held;
    l->held = c;
}

static void unhold(struct loop *l, struct conn *c)
{
    if (!c->held)
        return;
    for (struct conn **p = &l->held; *p; p = &(*p)->next_held)
        if (*p == c) {
            *p = c->next_held;
            break;
        }
    c->held = false;
}

void loop_release(struct loop *l, uint64_t mark)
{
    if (mark <= l->released)
        return;
    l->released = mark;
    while (l->held) {
        struct conn *c = l->held;
        l->held = c->next_held;
        c->held = false;
        queue_conn(l, c);
    }
}

/* Of c->out, the leading bytes that may be sent now: the new bytes get the
 * layer above's fence (or follow the held ones), then the regions whose
 * marks are released. */
static size_t out_sendable(struct loop *l, struct conn *c)
{
    if (c->fenced_b < c->out.len) {
        uint64_t f = l->h.output_fence ? l->h.output_fence(l->arg) : 0;
        if (c->fenced_a == 0) {
            if (f <= l->released)
                return c->out.len; /* the common case: nothing held */
            c->fenced_a = c->fenced_b = c->out.len;
            c->fence_a = c->fence_b = f;
        } else if (c->fenced_b == c->fenced_a && f <= c->fence_a) {
            c->fenced_a = c->fenced_b = c->out.len; /* behind A, no later mark */
        } else {
            if (c->fenced_b == c->fenced_a)
                c->fence_b = c->fence_a;
            c->fenced_b = c->out.len;
            if (f > c->fence_b)
                c->fence_b = f;
        }
    }
    if (c->fenced_a == 0)
        return c->out.len;
    if (c->fence_a > l->released)
        return 0;
    if (c->fence_b <= l->released) {
        size_t n = c->fenced_b;
        c->fenced_a = c->fenced_b = 0;
        return n;
    }
    size_t n = c->fenced_a; /* B becomes A */
    c->fenced_a = c->fenced_b = c->fenced_b - n;
    c->fence_a = c->fence_b;
    return n;
}

static void queue_send(struct loop *l, struct conn *c)
{
    if (c->sending || c->closing)
        return;
    if (c->wire_off >= c->wire.len) {
        if (c->out.len == 0)
            return;
        reply_block_look(l, c); /* grown by the replies written since the last send? */
        size_t n = out_sendable(l, c);
        if (n == 0) {
            hold(l, c); /* queued again by loop_release */
            return;
        }
        if (n == c->out.len) {
            /* swap: out becomes the bytes on the wire, the old wire
             * buffer (empty) collects the next replies */
            struct buf t = c->wire;
            c->wire = c->out;
            c->out = t;
            c->out.len = 0;
        } else {
            /* a released head; what is held stays in out */
            c->wire.len = 0;
            buf_append(&c->wire, c->out.data, n);
            memmove(c->out.data, c->out.data + n, c->out.len - n);
            c->out.len -= n;
        }
        c->wire_off = 0;
    }
    struct io_uring_sqe *sqe = ring_sqe(&l->ring);
    io_uring_prep_send(sqe, c->fd, c->wire.data + c->wire_off, c->wire.len - c->wire_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud_make(OP_SEND, c));
    c->sending = true;
    c->ops++;
}

static void handle_send(struct loop *l, struct io_uring_cqe *cqe)
{
    struct conn *c = ud_ptr(cqe->user_data);
    c->sending = false;
    c->ops--;
    if (cqe->res < 0) {
        if (!c->closing)
            conn_close(c, false);
    } else if (!c->closing) {
        l->bytes_sent += (uint64_t)cqe->res;
        l->counts.writes++;
        c->wire_off += (size_t)cqe->res;
        if (c->wire_off >= c->wire.len) {
            c->wire.len = 0;
            c->wire_off = 0;
            /* keep a big wire buffer from pinning memory once drained,
             * unless big output keeps coming (a replica's stream catching
             * up): freeing it would make out grow again from nothing,
             * copying and faulting in every byte once more */
            if (c->wire.cap > (1u << 20) && c->out.len < (64u << 10)) {
                reply_block_look(l, c); /* out grown meanwhile? */
                buf_free(&c->wire);
                reply_block_look(l, c);
            }
        }
        if (conn_output_bytes(c) > 0)
            queue_conn(l, c);
        else if (c->close_after_flush)
            { c->close_after_flush = false; conn_close(c, false); }
        if (l->h.on_sent && !c->closing)
            l->h.on_sent(l->arg, c);
    }
    conn_maybe_free(l, c);
}

/* End of turn: resume paused conns whose turn came, queue sends, free
 * closed conns. */
static void walk_queued(struct loop *l)
{
    while (l->queued) {
        struct conn *list = l->queued;
        l->queued = NULL;
        for (struct conn *c = list, *next; c; c = next) {
            next = c->next_queued;
            c->queued = false;
            if (c->resume && !c->closing && !c->paused && !c->yielded) {
                c->resume = false;
                if (conn_input_bytes(c) > 0)
                    input_process(l, c);
                if (!c->closing)
                    input_check_resume(l, c);
            }
            if (c->closing) {
                conn_maybe_free(l, c);
                continue;
            }
            if (conn_output_bytes(c) > 0)
                queue_send(l, c);
            else if (c->close_after_flush) {
                c->close_after_flush = false;
                conn_close(c, false);
                /* conn_close queued it again: freed on the next pass */
            }
        }
    }
}

void loop_set_hz(struct loop *l, int hz)
{
    if (hz < 1)
        hz = 1;
    if (hz > 1000)
        hz = 1000;
    long ms = 1000 / hz;
    l->tick.tv_sec = ms / 1000;
    l->tick.tv_nsec = (ms % 1000) * 1000000L;
}

static void handle_cqe(struct loop *l, struct io_uring_cqe *cqe)
{
    switch (ud_op(cqe->user_data)) {
    case OP_ACCEPT: handle_accept(l, cqe); break;
    case OP_RECV:   handle_recv(l, cqe); break;
    case OP_RECV_OWN: handle_recv_own(l, cqe); break;
    case OP_SEND:   handle_send(l, cqe); break;
    case OP_CONNECT: handle_connect(l, cqe); break;
    case OP_TICK:
        if (!l->stopping)
            arm_tick(l);
        if (l->h.on_tick)
            l->h.on_tick(l->arg);
        break;
    case OP_WAKE:   /* the point was to return from the wait */
        if (ud_ptr(cqe->user_data)) { /* the bell rang (loop_bell) */
            l->bell_armed = false;
            if (!l->stopping)
                arm_bell(l);
        }
        break;
    case OP_IGNORE:
        break;
    }
}

static void run_turn(struct loop *l, bool may_sleep)
{
    if (may_sleep) {
        /* Announce the sleep, then look once more for work posted before
         * the announcement was visible (pairs with loop_wake). */
        atomic_store(&l->sleeping, 1);
        if (l->h.has_work && l->h.has_work(l->arg)) {
            atomic_store(&l->sleeping, 0);
            may_sleep = false;
        }
    }
    if (may_sleep) {
        io_uring_submit_and_wait(&l->ring, 1);
        atomic_store(&l->sleeping, 0);
    } else {
        io_uring_submit_and_get_events(&l->ring);
    }
    unsigned head, n = 0, io = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&l->ring, head, cqe) {
        enum ring_op op = ud_op(cqe->user_data);
        io += op == OP_RECV || op == OP_RECV_OWN || op == OP_SEND || op == OP_ACCEPT;
        handle_cqe(l, cqe);
        n++;
    }
    io_uring_cq_advance(&l->ring, n);
    l->turn_io = io;
    l->turns++;
}

bool loop_turn_idle(const struct loop *l)
{
    return l->turn_io == 0;
}

/* End of a turn: exchange mail with other shards and send what is ready.
 * Sending can resume a connection whose input then posts new mail, so go
 * round a few times until nothing is left queued. Returns true if work is
 * still waiting. */
static bool finish_turn(struct loop *l)
{
    bool more = false;
    resume_yielded(l);
    for (int round = 0; round < 8; round++) {
        more = l->h.before_sleep ? l->h.before_sleep(l->arg) : false;
        if (!l->queued)
            return more;
        walk_queued(l);
    }
    return true;
}

void loop_run(struct loop *l, atomic_int *stop)
{
    bool busy = true;
    while (!atomic_load_explicit(stop, memory_order_relaxed)) {
        run_turn(l, !busy);
        busy = finish_turn(l) || l->yielded;
    }
    /* Shutdown: stop accepting, close every connection, wait (bounded) for
     * their operations to finish so no completion refers to freed memory. */
    l->stopping = true;
    for (int i = 0; i < l->nlisten; i++) {
        struct io_uring_sqe *sqe = ring_sqe(&l->ring);
        io_uring_prep_cancel64(sqe, ud_make_index(OP_ACCEPT, (unsigned)i), 0);
        io_uring_sqe_set_data64(sqe, ud_make(OP_IGNORE, NULL));
    }
    for (struct conn *c = l->conns; c; c = c->next)
        conn_close(c, false);
    resume_yielded(l);
    walk_queued(l);
    uint64_t t0 = clock_mono_ns();
    while (l->conns) {
        struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000L };
        struct io_uring_cqe *cqe = NULL;
        io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
        unsigned head, n = 0;
        io_uring_for_each_cqe(&l->ring, head, cqe) {
            handle_cqe(l, cqe);
            n++;
        }
        io_uring_cq_advance(&l->ring, n);
        walk_queued(l);
        if (clock_mono_ns() - t0 > 3000000000ull)
            break;
    }
}

void loop_destroy(struct loop *l)
{
    /* the bell's read writes into l: cancelled and reaped before l goes
     * (its eventfd is its owner's, who may still ring it) */
    if (l->bell_armed) {
        struct io_uring_sqe *sqe = ring_sqe(&l->ring);
        io_uring_prep_cancel64(sqe, ud_make(OP_WAKE, l), 0);
        io_uring_sqe_set_data64(sqe, ud_make(OP_IGNORE, NULL));
        for (int tries = 0; l->bell_armed && tries < 50; tries++) {
            struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000L };
            struct io_uring_cqe *cqe = NULL;
            io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
            unsigned head, n = 0;
            io_uring_for_each_cqe(&l->ring, head, cqe) {
                if (cqe->user_data == ud_make(OP_WAKE, l))
                    l->bell_armed = false;
                n++;
            }
            io_uring_cq_advance(&l->ring, n);
        }
    }
    while (l->conns) {
        struct conn *c = l->conns;
        c->ops = 0;
        c->queued = false;
        c->closing = true;
        conn_free(l, c);
    }
    buf_pool_teardown(&l->ring, &l->pool);
    io_uring_queue_exit(&l->ring);
    mi_free(l);
}

void loop_wake(struct loop *self, struct loop *target)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load(&target->sleeping) || !atomic_exchange(&target->sleeping, 0))
        return;
    struct io_uring_sqe *sqe = ring_sqe(&self->ring);
    io_uring_prep_msg_ring(sqe, target->ring.ring_fd, 0, ud_make(OP_WAKE, NULL), 0);
    io_uring_sqe_set_data64(sqe, ud_make(OP_IGNORE, NULL));
}

void loop_submit(struct loop *l)
{
    io_uring_submit(&l->ring);
}

void loop_bell(struct loop *l, int fd)
{
    l->bell = fd;
    arm_bell(l);
}

struct loop_waker {
    struct io_uring ring;
};

struct loop_waker *loop_waker_create(void)
{
    struct loop_waker *w = mi_zalloc(sizeof *w);
    if (io_uring_queue_init(8, &w->ring, 0) != 0) {
        mi_free(w);
        return NULL;
    }
    return w;
}

void loop_waker_wake(struct loop_waker *w, struct loop *target)
{
    if (!w)
        return;
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load(&target->sleeping) || !atomic_exchange(&target->sleeping, 0))
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe)
        return;
    io_uring_prep_msg_ring(sqe, target->ring.ring_fd, 0, ud_make(OP_WAKE, NULL), 0);
    io_uring_submit(&w->ring);
    /* its own completion: reaped at once, the ring is only for sending */
    struct io_uring_cqe *cqe;
    if (io_uring_wait_cqe(&w->ring, &cqe) == 0)
        io_uring_cqe_seen(&w->ring, cqe);
}

void loop_waker_destroy(struct loop_waker *w)
{
    if (!w)
        return;
    io_uring_queue_exit(&w->ring);
    mi_free(w);
}

int loop_parse_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    const char *h = strcasecmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return -1;
}
