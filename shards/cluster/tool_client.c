/* tool_client: a blocking RESP client for the admin tool (tool_client.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/resp.h"
#include "shards/cluster/tool_client.h"

static int fail(struct tool_client *c, const char *what, int e)
{
    if (e)
        snprintf(c->err, sizeof c->err, "%s: %s", what, strerror(e));
    else
        snprintf(c->err, sizeof c->err, "%s", what);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    return -1;
}

int tool_connect(struct tool_client *c, const char *host, int port, int timeout_ms, char *ip_out)
{
    c->fd = -1;
    c->err[0] = 0;
    buf_init(&c->in);
    buf_init(&c->reply);
    snprintf(c->addr, sizeof c->addr, "%s:%d", host, port);

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(c->err, sizeof c->err, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        /* on Linux SO_SNDTIMEO bounds connect() too: the connection's
         * bound first, the commands' after */
        int connect_ms = timeout_ms < TOOL_CONNECT_TIMEOUT_MS ? timeout_ms : TOOL_CONNECT_TIMEOUT_MS;
        struct timeval ctv = { .tv_sec = connect_ms / 1000, .tv_usec = (connect_ms % 1000) * 1000 };
        struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &ctv, sizeof ctv);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            c->fd = fd;
            if (ip_out) {
                const void *a = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                         : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
                inet_ntop(ai->ai_family, a, ip_out, 64);
            }
            break;
        }
        e = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        char what[340];
        snprintf(what, sizeof what, "cannot connect to %s", c->addr);
        return fail(c, what, e == EINPROGRESS || e == EAGAIN ? ETIMEDOUT : e);
    }
    return 0;
}

void tool_close(struct tool_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_free(&c->in);
    buf_free(&c->reply);
}

int tool_send(struct tool_client *c, const struct buf *cmds)
{
    if (c->fd < 0) {
        if (!c->err[0])
            snprintf(c->err, sizeof c->err, "not connected to %s", c->addr);
        return -1;
    }
    for (size_t sent = 0; sent < cmds->len;) {
        ssize_t w = send(c->fd, cmds->data + sent, cmds->len - sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            char what[340];
            snprintf(what, sizeof what, "cannot send to %s", c->addr);
            return fail(c, what, errno);
        }
        sent += (size_t)w;
    }
    return 0;
}

int tool_read(struct tool_client *c)
{
    if (c->fd < 0) {
        if (!c->err[0])
            snprintf(c->err, sizeof c->err, "not connected to %s", c->addr);
        return -1;
    }
    for (;;) {
        size_t n = c->in.len ? resp_value_len(c->in.data, c->in.len) : 0;
        if (n > 0) {
            buf_clear(&c->reply);
            buf_append(&c->reply, c->in.data, n);
            buf_consume(&c->in, n);
            return 0;
        }
        char *room = buf_reserve(&c->in, 16384);
        ssize_t r = recv(c->fd, room, 16384, 0);
        if (r < 0 && errno == EINTR)
            continue;
        char what[340];
        if (r == 0) {
            snprintf(what, sizeof what, "%s closed the connection", c->addr);
            return fail(c, what, 0);
        }
        if (r < 0) {
            snprintf(what, sizeof what, "no reply from %s", c->addr);
            return fail(c, what, errno == EAGAIN ? ETIMEDOUT : errno);
        }
        c->in.len += (size_t)r;
        if (c->in.len > 512u * 1024 * 1024) {
            snprintf(what, sizeof what, "reply from %s too large or malformed", c->addr);
            return fail(c, what, 0);
        }
    }
}

int tool_call(struct tool_client *c, int argc, const char *const *argv)
{
    struct buf out;
    buf_init(&out);
    resp_encode_strings(&out, argc, argv);
    int rc = tool_send(c, &out);
    buf_free(&out);
    return rc < 0 ? -1 : tool_read(c);
}

/* An error reply's text into c->err. */
static bool took_error(struct tool_client *c)
{
    struct resp_reader rd;
    struct slice s;
    resp_reader_init(&rd, c->reply.data, c->reply.len);
    if (!resp_read_error(&rd, &s))
        return false;
    snprintf(c->err, sizeof c->err, "%s answered: %.*s", c->addr, (int)(s.len > 200 ? 200 : s.len), s.ptr);
    return true;
}

char *tool_call_text(struct tool_client *c, int argc, const char *const *argv)
{
    if (tool_call(c, argc, argv) < 0 || took_error(c))
        return NULL;
    struct resp_reader rd;
    struct slice s;
    resp_reader_init(&rd, c->reply.data, c->reply.len);
    if (!resp_read_string(&rd, &s)) {
        snprintf(c->err, sizeof c->err, "%s: unexpected reply to %s", c->addr, argv[0]);
        return NULL;
    }
    char *t = malloc(s.len + 1);
    if (!t)
        abort();
    if (s.len)
        memcpy(t, s.ptr, s.len);
    t[s.len] = 0;
    return t;
}

int tool_call_int(struct tool_client *c, int argc, const char *const *argv, long long *v)
{
    if (tool_call(c, argc, argv) < 0 || took_error(c))
        return -1;
    struct resp_reader rd;
    resp_reader_init(&rd, c->reply.data, c->reply.len);
    if (!resp_read_int(&rd, v)) {
        snprintf(c->err, sizeof c->err, "%s: unexpected reply to %s", c->addr, argv[0]);
        return -1;
    }
    return 0;
}

bool tool_info_field(const char *info, const char *field, char *out, size_t outlen)
{
    size_t fl = strlen(field);
    for (const char *p = info; p && *p;) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            const char *v = p + fl + 1;
            size_t n = strcspn(v, "\r\n");
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}
