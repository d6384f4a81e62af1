/* cluster_map: see cluster_map.h. */
#include "cluster_map.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "protocol.h"

#define REPLY_MAX (16u << 20)   /* CLUSTER SLOTS of any real cluster is far smaller */

uint16_t cluster_crc16(const char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)((uint8_t)p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned cluster_key_slot(const char *key, size_t n)
{
    const char *open = memchr(key, '{', n);
    if (open) {
        size_t rest = n - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return cluster_crc16(open + 1, (size_t)(close - open - 1)) & (CLUSTER_SLOTS - 1);
    }
    return cluster_crc16(key, n) & (CLUSTER_SLOTS - 1);
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- a small cursor over one RESP reply (already known to be whole) ---- */

struct cursor {
    const char *p, *end;
};

/* The header of the next value: its type byte and number (array length,
 * bulk length or integer); for a bulk, *s points at its bytes. -1 on bytes
 * that are not what CLUSTER SLOTS answers. */
static int next(struct cursor *c, char *type, long long *num, const char **s)
{
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    if (!nl || nl - c->p < 3 || nl[-1] != '\r')
        return -1;
    *type = c->p[0];
    char *e;
    *num = strtoll(c->p + 1, &e, 10);
    const char *line_end = nl + 1;
    if (*type == '$') {
        if (*num < 0) {
            *s = NULL;
            c->p = line_end;
            return 0;
        }
        if (c->end - line_end < *num + 2)
            return -1;
        *s = line_end;
        c->p = line_end + *num + 2;
        return 0;
    }
    if (*type == '+' || *type == '-') {
        *s = c->p + 1;
        *num = nl - 1 - (c->p + 1);
    }
    c->p = line_end;
    return 0;
}

/* Skip one whole value. */
static int skip(struct cursor *c, int depth)
{
    char type;
    long long n;
    const char *s;
    if (depth > 8 || next(c, &type, &n, &s) < 0)
        return -1;
    if (type == '*' || type == '~')
        for (long long i = 0; i < n; i++)
            if (skip(c, depth + 1) < 0)
                return -1;
    if (type == '%')
        for (long long i = 0; i < 2 * n; i++)
            if (skip(c, depth + 1) < 0)
                return -1;
    return 0;
}

static int node_index(struct cluster_map *map, const char *host, size_t hlen, int port,
                      int keep_nodes)
{
    for (unsigned i = 0; i < map->nnodes; i++)
        if (map->nodes[i].port == port && strlen(map->nodes[i].host) == hlen &&
            !memcmp(map->nodes[i].host, host, hlen))
            return (int)i;
    if (keep_nodes || map->nnodes == CLUSTER_MAP_NODES || hlen >= sizeof map->nodes[0].host)
        return -1;
    struct cluster_node_addr *a = &map->nodes[map->nnodes];
    memcpy(a->host, host, hlen);
    a->host[hlen] = 0;
    a->port = port;
    return (int)map->nnodes++;
}

static int parse_slots(struct cluster_map *map, const char *buf, size_t len, const char *seed,
                       int keep_nodes, char *err, size_t errlen)
{
    struct cursor c = { buf, buf + len };
    char type;
    long long n;
    const char *s;
    if (next(&c, &type, &n, &s) < 0)
        return fail(err, errlen, "CLUSTER SLOTS: unreadable reply");
    if (type == '-')
        return fail(err, errlen, "CLUSTER SLOTS: %.*s", (int)n, s);
    if (type != '*')
        return fail(err, errlen, "CLUSTER SLOTS: not an array");
    if (!keep_nodes) {
        map->nnodes = 0;
        memset(map->slot_node, CLUSTER_MAP_NONE, sizeof map->slot_node);
    }
    for (long long r = 0; r < n; r++) {
        long long parts, lo, hi, port;
        const char *host;
        long long hlen;
        if (next(&c, &type, &parts, &s) < 0 || type != '*' || parts < 3 ||
            next(&c, &type, &lo, &s) < 0 || type != ':' ||
            next(&c, &type, &hi, &s) < 0 || type != ':' ||
            lo < 0 || hi < lo || hi >= CLUSTER_SLOTS)
            return fail(err, errlen, "CLUSTER SLOTS: range %lld is not [start, end, master...]", r);
        long long fields;
        if (next(&c, &type, &fields, &s) < 0 || type != '*' || fields < 2 ||
            next(&c, &type, &hlen, &host) < 0 || type != '$' ||
            next(&c, &type, &port, &s) < 0 || type != ':' || port < 1 || port > 65535)
            return fail(err, errlen, "CLUSTER SLOTS: range %lld has no master address", r);
        for (long long f = 2; f < fields; f++)
            if (skip(&c, 0) < 0)
                return fail(err, errlen, "CLUSTER SLOTS: unreadable reply");
        for (long long p = 3; p < parts; p++)   /* the replicas */
            if (skip(&c, 0) < 0)
                return fail(err, errlen, "CLUSTER SLOTS: unreadable reply");
        if (!host || hlen == 0 || (hlen == 1 && host[0] == '?')) {
            host = seed;                        /* "this node's own address" */
            hlen = (long long)strlen(seed);
        }
        int node = node_index(map, host, (size_t)hlen, (int)port, keep_nodes);
        if (node < 0) {
            if (keep_nodes)
                continue;
            return fail(err, errlen, "CLUSTER SLOTS: more than %d masters", CLUSTER_MAP_NODES);
        }
        memset(map->slot_node + lo, node, (size_t)(hi - lo + 1));
    }
    if (!map->nnodes)
        return fail(err, errlen, "CLUSTER SLOTS: no slot is served (is the cluster formed?)");
    return 0;
}

int cluster_map_load(struct cluster_map *map, const char *host, int port, int keep_nodes,
                     char *err, size_t errlen)
{
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, ports, &hints, &ai);
    if (rc)
        return fail(err, errlen, "%s: %s", host, gai_strerror(rc));
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = { .tv_sec = 5 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return fail(err, errlen, "connect to %s:%d: %s", host, port, strerror(errno));

    static const char req[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return fail(err, errlen, "%s:%d: send: %s", host, port, strerror(errno));
    }
    size_t cap = 64 << 10, len = 0;
    char *buf = malloc(cap);
    long whole = 0;
    while (buf) {
        struct reply_scan r;
        whole = len ? protocol_scan_reply(PROTO_RESP, buf, len, &r) : 0;
        if (whole != 0)
            break;
        if (len == cap) {
            char *nb = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                whole = -1;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = recv(fd, buf + len, cap - len, 0);
        if (got <= 0) {
            free(buf);
            close(fd);
            return fail(err, errlen, "%s:%d: CLUSTER SLOTS: %s", host, port,
                        got == 0 ? "connection closed" : strerror(errno));
        }
        len += (size_t)got;
    }
    close(fd);
    if (!buf || whole < 0) {
        free(buf);
        return fail(err, errlen, "%s:%d: CLUSTER SLOTS: unreadable reply", host, port);
    }
    rc = parse_slots(map, buf, (size_t)whole, host, keep_nodes, err, errlen);
    free(buf);
    return rc;
}

int cluster_map_find(const struct cluster_map *map, const char *addr, size_t len)
{
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--)
        if (addr[i - 1] == ':') {
            colon = addr + i - 1;
            break;
        }
    if (!colon)
        return -1;
    size_t hlen = (size_t)(colon - addr);
    int port = 0;
    for (const char *p = colon + 1; p < addr + len; p++) {
        if (*p < '0' || *p > '9' || port > 65535)
            return -1;
        port = port * 10 + (*p - '0');
    }
    for (unsigned i = 0; i < map->nnodes; i++)
        if (map->nodes[i].port == port && strlen(map->nodes[i].host) == hlen &&
            !memcmp(map->nodes[i].host, addr, hlen))
            return (int)i;
    return -1;
}

int cluster_parse_moved(const char *text, size_t len, unsigned *slot, const char **addr,
                        size_t *addr_len)
{
    if (len < 6 || memcmp(text, "MOVED ", 6))
        return -1;
    size_t i = 6;
    unsigned v = 0;
    if (i == len || text[i] < '0' || text[i] > '9')
        return -1;
    while (i < len && text[i] >= '0' && text[i] <= '9' && v < CLUSTER_SLOTS)
        v = v * 10 + (unsigned)(text[i++] - '0');
    if (v >= CLUSTER_SLOTS || i == len || text[i] != ' ')
        return -1;
    *slot = v;
    *addr = text + i + 1;
    *addr_len = len - i - 1;
    return 0;
}
