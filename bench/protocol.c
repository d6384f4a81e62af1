/* protocol: see protocol.h. */
#include "protocol.h"

#include <string.h>

#define RESP_MAX_DEPTH  8
#define RESP_MAX_BULK   (512ll << 20)   /* Redis's own proto-max-bulk-len default */
#define RESP_MAX_ELEMS  (1ll << 24)
#define MC_MAX_VALUE    (1ll << 30)

/* ---- encoding ---- */

static char *put_str(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

static char *put_uint(char *o, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = tmp[--n];
    return o;
}

static char *put_crlf(char *o)
{
    o[0] = '\r';
    o[1] = '\n';
    return o + 2;
}

/* RESP "$len\r\n<bytes>\r\n" header only */
static char *put_bulk_header(char *o, size_t len)
{
    *o++ = '$';
    o = put_uint(o, len);
    return put_crlf(o);
}

static char *put_bulk(char *o, const char *s, size_t n)
{
    o = put_bulk_header(o, n);
    o = put_str(o, s, n);
    return put_crlf(o);
}

static char *put_bulk_key(char *o, const struct keyname *kn, uint64_t key)
{
    o = put_bulk_header(o, kn->len);
    keyname_write(kn, key, o);
    o += kn->len;
    return put_crlf(o);
}

static char *put_array_header(char *o, size_t n)
{
    *o++ = '*';
    o = put_uint(o, n);
    return put_crlf(o);
}

size_t protocol_request_max(const struct keyname *kn, unsigned nkeys, size_t value_max)
{
    /* per key: "$NN\r\n" + name + "\r\n" + the same for a value, numbers
     * bounded by 24 digits; plus the command and the array header */
    return 64 + (size_t)nkeys * (kn->len + value_max + 2 * (24 + 4) + 16);
}

size_t protocol_encode_get(enum protocol p, char *out, const struct keyname *kn,
                           const uint64_t *keys, unsigned nkeys)
{
    char *o = out;
    if (p == PROTO_MEMCACHE) {
        o = put_str(o, "get", 3);
        for (unsigned i = 0; i < nkeys; i++) {
            *o++ = ' ';
            keyname_write(kn, keys[i], o);
            o += kn->len;
        }
        o = put_crlf(o);
        return (size_t)(o - out);
    }
    o = put_array_header(o, 1 + (size_t)nkeys);
    o = nkeys == 1 ? put_bulk(o, "GET", 3) : put_bulk(o, "MGET", 4);
    for (unsigned i = 0; i < nkeys; i++)
        o = put_bulk_key(o, kn, keys[i]);
    return (size_t)(o - out);
}

size_t protocol_encode_set(enum protocol p, char *out, const struct keyname *kn,
                           uint64_t key, const char *value, size_t vlen)
{
    char *o = out;
    if (p == PROTO_MEMCACHE) {
        o = put_str(o, "set ", 4);
        keyname_write(kn, key, o);
        o += kn->len;
        o = put_str(o, " 0 0 ", 5);
        o = put_uint(o, vlen);
        o = put_crlf(o);
        o = put_str(o, value, vlen);
        o = put_crlf(o);
        return (size_t)(o - out);
    }
    o = put_array_header(o, 3);
    o = put_bulk(o, "SET", 3);
    o = put_bulk_key(o, kn, key);
    o = put_bulk(o, value, vlen);
    return (size_t)(o - out);
}

size_t protocol_encode_incr(enum protocol p, char *out, const struct keyname *kn,
                            uint64_t key)
{
    char *o = out;
    if (p == PROTO_MEMCACHE) {
        o = put_str(o, "incr ", 5);
        keyname_write(kn, key, o);
        o += kn->len;
        o = put_str(o, " 1\r\n", 4);
        return (size_t)(o - out);
    }
    o = put_array_header(o, 2);
    o = put_bulk(o, "INCR", 4);
    o = put_bulk_key(o, kn, key);
    return (size_t)(o - out);
}

size_t protocol_encode_mset(char *out, const struct keyname *kn, const uint64_t *keys,
                            unsigned nkeys, const char *value, size_t vlen)
{
    char *o = out;
    o = put_array_header(o, 1 + 2 * (size_t)nkeys);
    o = put_bulk(o, "MSET", 4);
    for (unsigned i = 0; i < nkeys; i++) {
        o = put_bulk_key(o, kn, keys[i]);
        o = put_bulk(o, value, vlen);
    }
    return (size_t)(o - out);
}

/* ---- scanning ---- */

/* The line starting at p: returns the offset just past its "\r\n", 0 if no
 * whole line yet. */
static size_t line_end(const char *p, size_t len)
{
    const char *nl = memchr(p, '\n', len);
    if (!nl)
        return 0;
    return (size_t)(nl - p) + 1;
}

/* A signed decimal in p[0..n) (n excludes "\r\n"). -1 if not a number. */
static int parse_ll(const char *p, size_t n, long long *out)
{
    int neg = 0;
    size_t i = 0;
    if (i < n && p[i] == '-') {
        neg = 1;
        i++;
    }
    if (i == n || n - i > 18)
        return -1;
    long long v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* One RESP value at buf; same returns as protocol_scan_reply. top: whether
 * a bulk here is a value of the request itself (GET) or an MGET element. */
static long resp_scan(const char *buf, size_t len, struct reply_scan *r, int depth)
{
    if (len < 3)
        return 0;
    size_t le = line_end(buf, len);
    if (!le) {
        return len > 4096 ? -1 : 0;   /* a header line is never this long */
    }
    if (le < 3 || buf[le - 2] != '\r')
        return -1;
    const char *body = buf + 1;
    size_t blen = le - 3;
    long long n;
    switch (buf[0]) {
    case '+':
    case ':':
    case ',':
    case '#':
        return (long)le;
    case '_':
        return (long)le;            /* RESP3 null */
    case '-':
    case '!':
        if (depth == 0 && !r->error) {
            r->error = 1;
            r->text = body;
            r->text_len = blen;
        } else {
            r->error = 1;
        }
        return (long)le;
    case '$':
    case '=':
        if (parse_ll(body, blen, &n) < 0 || n < -1 || n > RESP_MAX_BULK)
            return -1;
        if (n == -1)
            return (long)le;        /* nil: not a value */
        if (len - le < (size_t)n + 2)
            return 0;
        if (buf[le + n] != '\r' || buf[le + n + 1] != '\n')
            return -1;
        r->values++;
        return (long)(le + (size_t)n + 2);
    case '*':
    case '%':
    case '~':
    case '>': {
        if (parse_ll(body, blen, &n) < 0 || n < -1 || n > RESP_MAX_ELEMS)
            return -1;
        if (depth >= RESP_MAX_DEPTH)
            return -1;
        if (buf[0] == '%')
            n *= 2;
        size_t off = le;
        for (long long i = 0; i < n; i++) {
            long m = resp_scan(buf + off, len - off, r, depth + 1);
            if (m <= 0)
                return m;
            off += (size_t)m;
        }
        return (long)off;
    }
    default:
        return -1;
    }
}

static int starts(const char *p, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n >= w && memcmp(p, word, w) == 0;
}

/* memcached: a get reply is zero or more "VALUE key flags bytes [cas]\r\n
 * <data>\r\n" blocks and "END\r\n"; everything else is one line. */
static long mc_scan(const char *buf, size_t len, struct reply_scan *r)
{
    size_t off = 0;
    for (;;) {
        size_t le = line_end(buf + off, len - off);
        if (!le)
            return len - off > 4096 ? -1 : 0;
        const char *line = buf + off;
        size_t n = le >= 2 && line[le - 2] == '\r' ? le - 2 : le - 1;
        if (!starts(line, n, "VALUE ")) {
            if (off > 0 && !(n == 3 && starts(line, n, "END")))
                return -1;          /* a VALUE block must end with END */
            if (starts(line, n, "ERROR") || starts(line, n, "CLIENT_ERROR") ||
                starts(line, n, "SERVER_ERROR")) {
                r->error = 1;
                r->text = line;
                r->text_len = n;
            }
            return (long)(off + le);
        }
        /* the 4th word is the data length */
        size_t i = 0;
        int word = 0;
        const char *num = NULL;
        size_t numlen = 0;
        while (i < n) {
            while (i < n && line[i] == ' ')
                i++;
            size_t s = i;
            while (i < n && line[i] != ' ')
                i++;
            if (i > s && ++word == 4) {
                num = line + s;
                numlen = i - s;
                break;
            }
        }
        long long bytes;
        if (!num || parse_ll(num, numlen, &bytes) < 0 || bytes < 0 || bytes > MC_MAX_VALUE)
            return -1;
        size_t data = off + le;
        if (len - data < (size_t)bytes + 2)
            return 0;
        if (buf[data + bytes] != '\r' || buf[data + bytes + 1] != '\n')
            return -1;
        r->values++;
        off = data + (size_t)bytes + 2;
    }
}

long protocol_scan_reply(enum protocol p, const char *buf, size_t len, struct reply_scan *r)
{
    memset(r, 0, sizeof *r);
    long n = p == PROTO_MEMCACHE ? mc_scan(buf, len, r) : resp_scan(buf, len, r, 0);
    return n;
}
