/* ringkv-repl-lag: how far replicas trail their master, in bytes and in time.
 *
 *   ringkv-repl-lag --master HOST:PORT --replica HOST:PORT [--replica ...]
 *                   [--interval MS] [--duration S] [--json]
 *
 * Every interval (10 ms) it asks the master and then each replica for
 * INFO replication over one persistent connection each (a fresh redis-cli
 * per sample costs more than the interval) and records, with the time each
 * answer arrived, the master's master_repl_offset and each replica's
 * slave_repl_offset. Works against ringkv and redis-server alike.
 *
 * Two lags come out of the samples:
 *   bytes  per sample and replica: master offset minus the replica's offset
 *          read just after it (clamped at 0: the replica is read later);
 *   ms     per master sample (t, M) and replica: the time from t until the
 *          first sample of that replica whose offset is >= M. Its resolution
 *          is the interval; a master offset that no later replica sample
 *          reached is counted as "unreached" rather than guessed.
 * Each is reported as p50, p99 and max over every replica's values together,
 * and per replica. The samples only see what INFO says: a replica whose
 * offset is updated late by the server itself looks late here too. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLICAS 16
/* An INFO replication answer is well under a kilobyte per replica; anything
 * beyond this bound is not an answer this tool understands. */
#define MAX_REPLY (1u << 20)

struct sample {
    int64_t t_us;      /* when the answer arrived (CLOCK_MONOTONIC) */
    int64_t offset;    /* the offset it reported; -1 if absent */
};

/* One server polled: its connection, what it was asked for, and its samples. */
struct endpoint {
    const char *addr;  /* "host:port" as given */
    const char *field; /* "master_repl_offset" or "slave_repl_offset" */
    int fd;
    char *in;          /* reply bytes read so far */
    size_t in_len, in_cap;
    struct sample *samples;
    size_t n_samples, cap_samples;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "ringkv-repl-lag: out of memory\n");
        exit(1);
    }
    return q;
}

static int connect_to(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host) return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0) return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* a server that stops answering ends the run instead of hanging it */
        struct timeval tv = { .tv_sec = 5 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    return fd;
}

static const char INFO_REQ[] = "*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n";

static bool send_request(struct endpoint *e)
{
    size_t off = 0;
    while (off < sizeof INFO_REQ - 1) {
        ssize_t w = write(e->fd, INFO_REQ + off, sizeof INFO_REQ - 1 - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        off += (size_t)w;
    }
    return true;
}

/* Reads one bulk-string reply; returns its body (NUL-terminated, in e->in)
 * or NULL on a closed link, an error reply or a malformed one. */
static const char *read_reply(struct endpoint *e)
{
    e->in_len = 0;
    size_t need = 0, body = 0; /* bytes of the whole reply, offset of the body */
    for (;;) {
        if (need == 0) {
            char *nl = e->in_len ? memchr(e->in, '\n', e->in_len) : NULL;
            if (nl) {
                if (e->in[0] != '$') return NULL;
                char *end;
                long long len = strtoll(e->in + 1, &end, 10);
                if (len < 0 || len > (long long)MAX_REPLY || *end != '\r') return NULL;
                body = (size_t)(nl - e->in) + 1;
                need = body + (size_t)len + 2;
            } else if (e->in_len > 64) {
                return NULL;
            }
        }
        if (need && e->in_len >= need) {
            e->in[need - 2] = '\0';
            return e->in + body;
        }
        if (e->in_cap < e->in_len + 4096) {
            e->in_cap = e->in_len + 65536;
            e->in = xrealloc(e->in, e->in_cap);
        }
        ssize_t r = read(e->fd, e->in + e->in_len, e->in_cap - e->in_len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return NULL;
        e->in_len += (size_t)r;
    }
}

/* The value of "field:" at the start of a line of an INFO body, or -1. */
static int64_t info_field(const char *info, const char *field)
{
    size_t flen = strlen(field);
    for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, field, flen) == 0 && p[flen] == ':')
            return strtoll(p + flen + 1, NULL, 10);
    }
    return -1;
}

static void add_sample(struct endpoint *e, int64_t t_us, int64_t offset)
{
    if (e->n_samples == e->cap_samples) {
        e->cap_samples = e->cap_samples ? e->cap_samples * 2 : 1024;
        e->samples = xrealloc(e->samples, e->cap_samples * sizeof *e->samples);
    }
    e->samples[e->n_samples++] = (struct sample){ t_us, offset };
}

/* ---- statistics ---------------------------------------------------------- */

struct series {
    double *v;
    size_t n, cap;
    size_t unreached; /* ms lag only: master offsets no replica sample reached */
};

static void series_add(struct series *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted series (0 when empty). */
static double pct(const struct series *s, double p)
{
    if (s->n == 0) return 0;
    size_t rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > s->n) rank = s->n;
    return s->v[rank - 1];
}

/* Lag of replica r behind master m, added to the per-replica and pooled series. */
static void lag_of(const struct endpoint *m, const struct endpoint *r,
                   struct series *bytes, struct series *ms,
                   struct series *all_bytes, struct series *all_ms)
{
    size_t n = m->n_samples < r->n_samples ? m->n_samples : r->n_samples;
    for (size_t i = 0; i < n; i++) {
        if (m->samples[i].offset < 0 || r->samples[i].offset < 0) continue;
        int64_t b = m->samples[i].offset - r->samples[i].offset;
        if (b < 0) b = 0;
        series_add(bytes, (double)b);
        series_add(all_bytes, (double)b);
    }
    /* Replica offsets never go down while one link lasts, so one cursor walks
     * both series once; a full resync in the middle would only make the lag
     * look larger until the replica passes the offset again. */
    size_t j = 0;
    for (size_t i = 0; i < m->n_samples; i++) {
        int64_t target = m->samples[i].offset;
        if (target < 0) continue;
        if (j < i) j = i;
        while (j < r->n_samples && r->samples[j].offset < target) j++;
        if (j == r->n_samples) {
            ms->unreached++;
            all_ms->unreached++;
            continue;
        }
        double lag = (double)(r->samples[j].t_us - m->samples[i].t_us) / 1000.0;
        if (lag < 0) lag = 0;
        series_add(ms, lag);
        series_add(all_ms, lag);
    }
    qsort(bytes->v, bytes->n, sizeof *bytes->v, cmp_double);
    qsort(ms->v, ms->n, sizeof *ms->v, cmp_double);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: ringkv-repl-lag --master HOST:PORT --replica HOST:PORT [--replica ...]\n"
        "                       [--interval MS] [--duration S] [--json]\n"
        "Polls INFO replication every MS milliseconds (10) for S seconds (10) and\n"
        "prints each replica's lag behind the master in bytes and milliseconds\n"
        "(p50, p99, max).\n");
}

int main(int argc, char **argv)
{
    struct endpoint ep[1 + MAX_REPLICAS] = { 0 };
    size_t n_ep = 1;
    long interval_ms = 10;
    double duration_s = 10;
    bool json = false;
    static const struct option opts[] = {
        { "master", required_argument, 0, 'm' },
        { "replica", required_argument, 0, 'r' },
        { "interval", required_argument, 0, 'i' },
        { "duration", required_argument, 0, 'd' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:r:i:d:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': ep[0].addr = optarg; break;
        case 'r':
            if (n_ep == 1 + MAX_REPLICAS) {
                fprintf(stderr, "ringkv-repl-lag: at most %d replicas\n", MAX_REPLICAS);
                return 2;
            }
            ep[n_ep++].addr = optarg;
            break;
        case 'i': interval_ms = strtol(optarg, NULL, 10); break;
        case 'd': duration_s = strtod(optarg, NULL); break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!ep[0].addr || n_ep < 2 || interval_ms < 1 || interval_ms > 60000 ||
        !(duration_s > 0 && duration_s <= 86400)) {
        usage(stderr);
        return 2;
    }
    for (size_t k = 0; k < n_ep; k++) {
        ep[k].field = k == 0 ? "master_repl_offset" : "slave_repl_offset";
        ep[k].fd = connect_to(ep[k].addr);
        if (ep[k].fd < 0) {
            fprintf(stderr, "ringkv-repl-lag: cannot connect to %s\n", ep[k].addr);
            return 1;
        }
    }

    int64_t start = now_us(), end = start + (int64_t)(duration_s * 1e6);
    int64_t next = start;
    while (next < end) {
        /* Ask everyone first, then read: the master's answer and the
         * replicas' are then as close together as the links allow. */
        for (size_t k = 0; k < n_ep; k++) {
            if (!send_request(&ep[k])) {
                fprintf(stderr, "ringkv-repl-lag: %s: write failed\n", ep[k].addr);
                return 1;
            }
        }
        for (size_t k = 0; k < n_ep; k++) {
            const char *info = read_reply(&ep[k]);
            if (!info) {
                fprintf(stderr, "ringkv-repl-lag: %s: no INFO answer\n", ep[k].addr);
                return 1;
            }
            add_sample(&ep[k], now_us(), info_field(info, ep[k].field));
        }
        next += interval_ms * 1000;
        int64_t wait = next - now_us();
        if (wait > 0) {
            struct timespec ts = { wait / 1000000, (wait % 1000000) * 1000 };
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
        } else {
            next = now_us(); /* fell behind: do not burst to catch up */
        }
    }

    struct series bytes[MAX_REPLICAS] = { 0 }, ms[MAX_REPLICAS] = { 0 };
    struct series all_bytes = { 0 }, all_ms = { 0 };
    for (size_t k = 1; k < n_ep; k++)
        lag_of(&ep[0], &ep[k], &bytes[k - 1], &ms[k - 1], &all_bytes, &all_ms);
    qsort(all_bytes.v, all_bytes.n, sizeof *all_bytes.v, cmp_double);
    qsort(all_ms.v, all_ms.n, sizeof *all_ms.v, cmp_double);
    int64_t first = ep[0].samples[0].offset, last = ep[0].samples[ep[0].n_samples - 1].offset;
    double span_s = (double)(ep[0].samples[ep[0].n_samples - 1].t_us - ep[0].samples[0].t_us) / 1e6;
    double stream_rate = span_s > 0 && first >= 0 && last >= 0 ? (double)(last - first) / span_s : 0;

    if (json) {
        printf("{\"interval_ms\":%ld,\"duration_s\":%.3f,\"samples\":%zu,"
               "\"master_stream_bytes_per_sec\":%.0f,"
               "\"lag_bytes\":{\"p50\":%.0f,\"p99\":%.0f,\"max\":%.0f},"
               "\"lag_ms\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"unreached\":%zu},"
               "\"replicas\":[",
               interval_ms, span_s, ep[0].n_samples, stream_rate,
               pct(&all_bytes, 50), pct(&all_bytes, 99), pct(&all_bytes, 100),
               pct(&all_ms, 50), pct(&all_ms, 99), pct(&all_ms, 100), all_ms.unreached);
        for (size_t k = 1; k < n_ep; k++) {
            const struct series *b = &bytes[k - 1], *t = &ms[k - 1];
            printf("%s{\"addr\":\"%s\",\"lag_bytes\":{\"p50\":%.0f,\"p99\":%.0f,\"max\":%.0f},"
                   "\"lag_ms\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"unreached\":%zu}}",
                   k > 1 ? "," : "", ep[k].addr, pct(b, 50), pct(b, 99), pct(b, 100),
                   pct(t, 50), pct(t, 99), pct(t, 100), t->unreached);
        }
        printf("]}\n");
    } else {
        printf("%zu samples every %ld ms over %.1f s; master stream %.0f bytes/s\n",
               ep[0].n_samples, interval_ms, span_s, stream_rate);
        printf("%-24s %10s %10s %10s   %8s %8s %8s %9s\n", "replica", "bytes p50", "p99", "max",
               "ms p50", "p99", "max", "unreached");
        for (size_t k = 0; k < n_ep; k++) {
            const struct series *b = k ? &bytes[k - 1] : &all_bytes, *t = k ? &ms[k - 1] : &all_ms;
            printf("%-24s %10.0f %10.0f %10.0f   %8.1f %8.1f %8.1f %9zu\n",
                   k ? ep[k].addr : "all", pct(b, 50), pct(b, 99), pct(b, 100),
                   pct(t, 50), pct(t, 99), pct(t, 100), t->unreached);
        }
    }
    for (size_t k = 0; k < n_ep; k++) close(ep[k].fd);
    return 0;
}
