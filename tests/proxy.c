/* proxy: a fault-injecting TCP proxy for the replication tests (proxy.h).
 *
 * One thread, one poll loop. Each accepted connection is a pair of
 * non-blocking sockets with a queue of chunks per direction; a chunk is
 * what one read() returned, stamped with the time it may be written. The
 * test's orders sit in a mutex-guarded block the thread reads once per turn,
 * so an order takes effect within about 10 ms. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS   32
#define CHUNK_MAX   65536
#define QUEUE_LIMIT (8u << 20)  /* stop reading a direction beyond this */
#define TURN_MS     10

enum { UP = 0, DOWN = 1 };

struct chunk {
    struct chunk *next;
    long long     due_ms;
    size_t        len, off;
    char          data[];
};

struct queue {
    struct chunk *head, *tail;
    size_t        bytes;
};

struct pair {
    bool         used;
    int          fd[2];      /* fd[UP] = client (replica) side, fd[DOWN] = target side */
    struct queue q[2];       /* q[UP]: to the target; q[DOWN]: to the client */
    long long    down_read;  /* bytes read from the target so far */
    long long    cut_at;     /* cut after this many down bytes, -1: never */
    bool         closing;    /* read side ended: flush, then close */
};

struct proxy {
    int             listen_fd;
    int             port, target_port;
    pthread_t       thread;
    atomic_bool     quit;

    pthread_mutex_t mu;          /* guards the orders below */
    int             delay_ms;
    bool            stall;
    int             garble_left;
    long long       trunc_bytes;
    int             trunc_left;
    unsigned        trunc_gen;   /* bumped by proxy_truncate */
    unsigned        drop_gen;    /* bumped by proxy_drop_all */

    atomic_int      accepted, open, cuts, garbled;
    atomic_llong    bytes_down;

    struct pair     pairs[MAX_PAIRS];
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void queue_clear(struct queue *q)
{
    while (q->head) {
        struct chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    q->tail = NULL;
    q->bytes = 0;
}

static void queue_push(struct queue *q, const char *p, size_t n, long long due)
{
    struct chunk *c = malloc(sizeof *c + n);
    if (!c)
        abort();
    c->next = NULL;
    c->due_ms = due;
    c->len = n;
    c->off = 0;
    memcpy(c->data, p, n);
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += n;
}

static void pair_close(struct proxy *p, struct pair *pr)
{
    close(pr->fd[UP]);
    close(pr->fd[DOWN]);
    queue_clear(&pr->q[UP]);
    queue_clear(&pr->q[DOWN]);
    pr->used = false;
    atomic_fetch_sub(&p->open, 1);
}

/* The garbage: "*x" repeated, a CRLF every 64 bytes. At a command boundary
 * it is an invalid multibulk length; inside a bulk the CRLF after the
 * payload is missing; in a length line the number is not a number. */
static void garble(char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = i % 64;
        b[i] = k == 62 ? '\r' : k == 63 ? '\n' : (k % 2 == 0 ? '*' : 'x');
    }
}

static void accept_new(struct proxy *p, long long trunc_bytes, int *trunc_left)
{
    for (;;) {
        int cfd = accept(p->listen_fd, NULL, NULL);
        if (cfd < 0)
            return;
        struct pair *pr = NULL;
        for (int i = 0; i < MAX_PAIRS; i++)
            if (!p->pairs[i].used) {
                pr = &p->pairs[i];
                break;
            }
        int tfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p->target_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (!pr || tfd < 0 || connect(tfd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(cfd);
            if (tfd >= 0)
                close(tfd);
            continue;
        }
        set_nonblock(cfd);
        set_nonblock(tfd);
        memset(pr, 0, sizeof *pr);
        pr->used = true;
        pr->fd[UP] = cfd;
        pr->fd[DOWN] = tfd;
        pr->cut_at = -1;
        if (*trunc_left > 0) {
            pr->cut_at = trunc_bytes;
            (*trunc_left)--;
        }
        atomic_fetch_add(&p->accepted, 1);
        atomic_fetch_add(&p->open, 1);
    }
}

/* Read what the side `from` sent into the queue of its direction.
 * from UP (client) feeds q[UP]; from DOWN (target) feeds q[DOWN]. */
static void pair_read(struct proxy *p, struct pair *pr, int from, int delay_ms, int *garble_left)
{
    char buf[CHUNK_MAX];
    ssize_t n = read(pr->fd[from], buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        pr->closing = true;
        return;
    }
    if (n < 0)
        return;
    size_t len = (size_t)n;
    if (from == DOWN) {
        if (pr->cut_at >= 0 && pr->down_read + (long long)len >= pr->cut_at) {
            len = (size_t)(pr->cut_at - pr->down_read);
            pr->closing = true;
            atomic_fetch_add(&p->cuts, 1);
        }
        if (*garble_left > 0 && len > 0) {
            garble(buf, len);
            (*garble_left)--;
            atomic_fetch_add(&p->garbled, 1);
        }
        pr->down_read += (long long)len;
        atomic_fetch_add(&p->bytes_down, (long long)len);
    }
    if (len > 0)
        queue_push(&pr->q[from], buf, len, mono_ms() + delay_ms);
}

/* Write the due chunks of direction dir to its destination. false on a
 * write error (the pair is to be closed). */
static bool pair_write(struct pair *pr, int dir, long long now)
{
    int to = dir == UP ? pr->fd[DOWN] : pr->fd[UP];
    struct queue *q = &pr->q[dir];
    while (q->head && q->head->due_ms <= now) {
        struct chunk *c = q->head;
        ssize_t w = write(to, c->data + c->off, c->len - c->off);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        if (w <= 0)
            return false;
        c->off += (size_t)w;
        q->bytes -= (size_t)w;
        if (c->off < c->len)
            return true;
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        free(c);
    }
    return true;
}

static void *proxy_main(void *arg)
{
    struct proxy *p = arg;
    unsigned seen_drop = 0, seen_trunc = 0;
    struct pollfd pfd[1 + 2 * MAX_PAIRS];
    int owner[1 + 2 * MAX_PAIRS];

    while (!atomic_load(&p->quit)) {
        pthread_mutex_lock(&p->mu);
        int delay_ms = p->delay_ms;
        bool stall = p->stall;
        unsigned drop_gen = p->drop_gen;
        if (p->trunc_gen != seen_trunc) {
            seen_trunc = p->trunc_gen;
            for (int i = 0; i < MAX_PAIRS; i++) {
                struct pair *pr = &p->pairs[i];
                if (!pr->used)
                    continue;
                pr->cut_at = -1;
                if (p->trunc_left > 0) {
                    pr->cut_at = pr->down_read + p->trunc_bytes;
                    p->trunc_left--;
                }
            }
        }
        pthread_mutex_unlock(&p->mu);

        if (drop_gen != seen_drop) {
            seen_drop = drop_gen;
            for (int i = 0; i < MAX_PAIRS; i++)
                if (p->pairs[i].used)
                    pair_close(p, &p->pairs[i]);
        }

        long long now = mono_ms();
        int timeout = TURN_MS;
        int n = 0;
        pfd[n] = (struct pollfd){ .fd = p->listen_fd, .events = POLLIN };
        owner[n++] = -1;
        for (int i = 0; i < MAX_PAIRS; i++) {
            struct pair *pr = &p->pairs[i];
            if (!pr->used)
                continue;
            for (int side = 0; side < 2; side++) {
                /* side's fd: reading feeds q[side]; writing drains q[1-side] */
                short ev = 0;
                if (!stall && !pr->closing && pr->q[side].bytes < QUEUE_LIMIT)
                    ev |= POLLIN;
                struct chunk *h = pr->q[1 - side].head;
                if (!stall && h) {
                    if (h->due_ms <= now)
                        ev |= POLLOUT;
                    else if (h->due_ms - now < timeout)
                        timeout = (int)(h->due_ms - now);
                }
                /* nothing wanted: a negative fd makes poll skip it (no POLLHUP spin) */
                pfd[n] = (struct pollfd){ .fd = ev ? pr->fd[side] : -1, .events = ev };
                owner[n++] = i * 2 + side;
            }
        }
        int r = poll(pfd, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR)
            break;

        pthread_mutex_lock(&p->mu);
        int garble_left = p->garble_left;
        long long trunc_bytes = p->trunc_bytes;
        int trunc_left = p->trunc_left;
        pthread_mutex_unlock(&p->mu);
        int garble_before = garble_left, trunc_before = trunc_left;

        if (r > 0 && (pfd[0].revents & POLLIN))
            accept_new(p, trunc_bytes, &trunc_left);
        now = mono_ms();
        for (int k = 1; k < n && r > 0; k++) {
            struct pair *pr = &p->pairs[owner[k] / 2];
            int side = owner[k] % 2;
            if (!pr->used)
                continue;
            if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
                if (!stall && !pr->closing)
                    pair_read(p, pr, side, delay_ms, &garble_left);
        }
        /* write what is due (also bytes just read with no delay) */
        now = mono_ms();
        for (int i = 0; i < MAX_PAIRS; i++) {
            struct pair *pr = &p->pairs[i];
            if (!pr->used || stall)
                continue;
            if (!pair_write(pr, UP, now) || !pair_write(pr, DOWN, now)) {
                pair_close(p, pr);
                continue;
            }
            if (pr->closing && !pr->q[UP].head && !pr->q[DOWN].head)
                pair_close(p, pr);
        }

        if (garble_left != garble_before || trunc_left != trunc_before) {
            pthread_mutex_lock(&p->mu);
            p->garble_left -= garble_before - garble_left;
            if (p->garble_left < 0)
                p->garble_left = 0;
            p->trunc_left -= trunc_before - trunc_left;
            if (p->trunc_left < 0)
                p->trunc_left = 0;
            pthread_mutex_unlock(&p->mu);
        }
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        if (p->pairs[i].used)
            pair_close(p, &p->pairs[i]);
    return NULL;
}

struct proxy *proxy_start(int target_port)
{
    struct proxy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->target_port = target_port;
    pthread_mutex_init(&p->mu, NULL);
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (p->listen_fd < 0)
        goto fail;
    int one = 1;
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(p->listen_fd, 64) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&a, &len) != 0)
        goto fail;
    p->port = ntohs(a.sin_port);
    fcntl(p->listen_fd, F_SETFL, fcntl(p->listen_fd, F_GETFL) | O_NONBLOCK);
    if (pthread_create(&p->thread, NULL, proxy_main, p) != 0)
        goto fail;
    return p;
fail:
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
}

void proxy_stop(struct proxy *p)
{
    if (!p)
        return;
    atomic_store(&p->quit, true);
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int proxy_port(const struct proxy *p) { return p->port; }

void proxy_drop_all(struct proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->drop_gen++;
    pthread_mutex_unlock(&p->mu);
}

void proxy_set_delay(struct proxy *p, int ms)
{
    pthread_mutex_lock(&p->mu);
    p->delay_ms = ms < 0 ? 0 : ms;
    pthread_mutex_unlock(&p->mu);
}

void proxy_set_stall(struct proxy *p, bool stall)
{
    pthread_mutex_lock(&p->mu);
    p->stall = stall;
    pthread_mutex_unlock(&p->mu);
}

void proxy_garble_chunks(struct proxy *p, int chunks)
{
    pthread_mutex_lock(&p->mu);
    p->garble_left = chunks < 0 ? 0 : chunks;
    pthread_mutex_unlock(&p->mu);
}

void proxy_truncate(struct proxy *p, long long bytes, int connections)
{
    pthread_mutex_lock(&p->mu);
    p->trunc_bytes = bytes < 0 ? 0 : bytes;
    p->trunc_left = connections < 0 ? 0 : connections;
    p->trunc_gen++;
    pthread_mutex_unlock(&p->mu);
}

int proxy_accepted(struct proxy *p) { return atomic_load(&p->accepted); }
int proxy_open(struct proxy *p) { return atomic_load(&p->open); }
int proxy_cuts(struct proxy *p) { return atomic_load(&p->cuts); }
int proxy_garbled(struct proxy *p) { return atomic_load(&p->garbled); }
long long proxy_bytes_down(struct proxy *p) { return atomic_load(&p->bytes_down); }
