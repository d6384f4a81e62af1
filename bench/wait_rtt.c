/* ringkv-wait-rtt: the round trip of a safe write, SET then WAIT.
 *
 *   ringkv-wait-rtt --port PORT [--host HOST] [--duration S] [--replicas N]
 *                   [--timeout MS] [--pipelined] [--json]
 *
 * One client, one connection: SET rtt:<i> <i>, its answer, then
 * WAIT <replicas> <timeout>, its answer, and the next round (--pipelined:
 * SET and WAIT sent together, both answers awaited). It counts the rounds per second, the rounds whose WAIT answered fewer
 * than --replicas (the acknowledgement did not come within the timeout),
 * and the round time's p50 / p99 / max. That is the cost a client pays to
 * know a write reached a replica: the master's stream to the replica, the
 * replica's ACK, and the master waking the WAIT. Works against ringkv and
 * redis-server alike. */
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

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int dial(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads until `lines` CRLF-terminated reply lines are in (SET's +OK and
 * WAIT's :n are one line each); the WAIT's integer goes to *count. */
static bool read_replies(int fd, int lines, long long *count)
{
    char buf[256];
    size_t len = 0;
    int seen = 0;
    while (seen < lines) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        len += (size_t)r;
        buf[len] = '\0';
        seen = 0;
        for (char *p = buf; (p = strstr(p, "\r\n")); p += 2)
            seen++;
        if (len >= sizeof(buf) - 1)
            return false;
    }
    if (buf[0] == '-' || strstr(buf, "\r\n-"))
        return false;
    char *last = buf[0] == ':' ? buf : strstr(buf, "\r\n:");
    if (last)
        *count = strtoll(last + (last == buf ? 1 : 3), NULL, 10);
    return last || lines == 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = NULL;
    double duration = 5;
    long replicas = 1, timeout = 200;
    bool json = false, pipelined = false;
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'h' },     { "port", required_argument, NULL, 'p' },
        { "duration", required_argument, NULL, 'd' }, { "replicas", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },  { "json", no_argument, NULL, 'j' },
        { "pipelined", no_argument, NULL, 'P' },      { NULL, 0, NULL, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "h:p:d:r:t:jP", opts, NULL)) != -1) {
        switch (o) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 'd': duration = atof(optarg); break;
        case 'r': replicas = atol(optarg); break;
        case 't': timeout = atol(optarg); break;
        case 'j': json = true; break;
        case 'P': pipelined = true; break;
        default:
            fprintf(stderr, "usage: ringkv-wait-rtt --port PORT [--host H] [--duration S] "
                            "[--replicas N] [--timeout MS] [--pipelined] [--json]\n");
            return 2;
        }
    }
    if (!port || duration <= 0) {
        fprintf(stderr, "ringkv-wait-rtt: --port is required, --duration must be > 0\n");
        return 2;
    }
    int fd = dial(host, port);
    if (fd < 0) {
        fprintf(stderr, "ringkv-wait-rtt: cannot connect to %s:%s\n", host, port);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    int64_t *rtt = malloc(cap * sizeof(*rtt));
    long long short_count = 0;
    int64_t start = now_us(), end = start + (int64_t)(duration * 1e6);
    char cmd[256], wait[64], val[24];
    int wl = snprintf(wait, sizeof(wait), "%ld", replicas);
    char tbuf[24];
    int tl = snprintf(tbuf, sizeof(tbuf), "%ld", timeout);
    int64_t t = start;
    while (t < end) {
        int vl = snprintf(val, sizeof(val), "%zu", n);
        int len = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$%d\r\nrtt:%s\r\n$%d\r\n%s\r\n",
                           vl + 4, val, vl, val);
        int wlen = snprintf(cmd + len, sizeof(cmd) - (size_t)len,
                            "*3\r\n$4\r\nWAIT\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", wl, wait, tl, tbuf);
        long long count = 0;
        bool ok;
        if (pipelined) {
            ok = send_all(fd, cmd, (size_t)(len + wlen)) && read_replies(fd, 2, &count);
        } else {
            long long unused;
            ok = send_all(fd, cmd, (size_t)len) && read_replies(fd, 1, &unused) &&
                 send_all(fd, cmd + len, (size_t)wlen) && read_replies(fd, 1, &count);
        }
        if (!ok) {
            fprintf(stderr, "ringkv-wait-rtt: the server closed or answered an error\n");
            return 1;
        }
        int64_t t2 = now_us();
        if (n == cap)
            rtt = realloc(rtt, (cap *= 2) * sizeof(*rtt));
        rtt[n++] = t2 - t;
        if (count < replicas)
            short_count++;
        t = t2;
    }
    close(fd);
    double secs = (double)(t - start) / 1e6;
    qsort(rtt, n, sizeof(*rtt), cmp_i64);
    int64_t p50 = n ? rtt[n / 2] : 0, p99 = n ? rtt[(n * 99) / 100] : 0, max = n ? rtt[n - 1] : 0;
    double rate = (double)n / secs;
    if (json)
        printf("{\"rounds\":%zu,\"seconds\":%.3f,\"rounds_per_sec\":%.1f,\"short\":%lld,"
               "\"p50_us\":%lld,\"p99_us\":%lld,\"max_us\":%lld}\n",
               n, secs, rate, short_count, (long long)p50, (long long)p99, (long long)max);
    else
        printf("%zu rounds in %.2f s: %.1f rounds/s, %lld answered fewer than %ld; "
               "round p50 %lld us, p99 %lld us, max %lld us\n",
               n, secs, rate, short_count, replicas, (long long)p50, (long long)p99, (long long)max);
    free(rtt);
    return 0;
}
