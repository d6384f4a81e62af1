/* resp: request parser (RESP multibulk and inline) and RESP value walker.
 *
 * The parser follows Redis 7's processMultibulkBuffer/processInlineBuffer:
 * the same acceptance rules and error texts, with two deliberate
 * differences that only make errors come earlier: a bulk header that does not
 * start with '$' is refused as soon as its first byte arrives, and a NUL byte
 * in a header line is a bad number rather than "wait for more".
 *
 * Resumability: p->pos is where the next unparsed part of the command starts,
 * p->scan how far the search for the current line's end has got. Completed
 * arguments are kept as offsets, so a command delivered in many small reads is
 * scanned once overall, and the caller may move its buffer between calls. */
#include "core/resp.h"
#include "core/args.h"
#include "core/numbers.h"

#include <limits.h>
#include <mimalloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Between commands, larger argument arrays and scratch space are released. */
#define RESP_KEEP_ARGS    1024
#define RESP_KEEP_SCRATCH (64 * 1024)

/* off[] entries with this bit set index p->scratch instead of the buffer. */
#define OFF_SCRATCH ((size_t)1 << (sizeof(size_t) * 8 - 1))

#define ERR_MBULK_LEN    "ERR Protocol error: invalid multibulk length"
#define ERR_BULK_LEN     "ERR Protocol error: invalid bulk length"
#define ERR_STRICT_CRLF  "ERR Protocol error: expected CRLF"
#define ERR_STRICT_INLINE "ERR Protocol error: expected '*'"
#define ERR_MBULK_BIG    "ERR Protocol error: too big mbulk count string"
#define ERR_BULK_BIG     "ERR Protocol error: too big bulk count string"
#define ERR_INLINE_BIG   "ERR Protocol error: too big inline request"
#define ERR_QUOTES       "ERR Protocol error: unbalanced quotes in request"

static void parser_reset(struct resp_parser *p)
{
    p->pos = 0;
    p->scan = 0;
    p->want_args = -1;
    p->bulk_len = -1;
    p->inline_cmd = 0;
}

void resp_parser_init(struct resp_parser *p)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->scratch);
    parser_reset(p);
}

void resp_parser_deinit(struct resp_parser *p)
{
    mi_free(p->off);
    mi_free(p->len);
    mi_free(p->argv);
    buf_free(&p->scratch);
    memset(p, 0, sizeof(*p));
    parser_reset(p);
}

static void grow_args(struct resp_parser *p)
{
    size_t cap = p->cap ? p->cap * 2 : 16;
    size_t *off = mi_realloc(p->off, cap * sizeof(*off));
    size_t *len = mi_realloc(p->len, cap * sizeof(*len));
    struct slice *argv = mi_realloc(p->argv, cap * sizeof(*argv));
    if (!off || !len || !argv)
        abort();
    p->off = off;
    p->len = len;
    p->argv = argv;
    p->cap = cap;
}

static inline void push_arg(struct resp_parser *p, size_t off, size_t len)
{
    if (p->argc == p->cap)
        grow_args(p);
    p->off[p->argc] = off;
    p->len[p->argc] = len;
    p->argc++;
}

/* Resolve the kept offsets into slices of this call's buffer. */
static void fill_argv(struct resp_parser *p, const char *buf)
{
    for (size_t i = 0; i < p->argc; i++) {
        size_t off = p->off[i];
        p->argv[i].ptr = (off & OFF_SCRATCH) ? p->scratch.data + (off & ~OFF_SCRATCH) : buf + off;
        p->argv[i].len = p->len[i];
    }
}

/* Redis's string2ll rules: optional '-', no '+', no leading zeros (except "0"),
 * no spaces, no "-0", whole text used, no overflow. */
static bool parse_count(const char *s, size_t n, long long *out)
{
    return parse_ll((struct slice){ s, n }, out);
}

static enum resp_status fail(struct resp_parser *p, const char **err, const char *text)
{
    *err = text;
    parser_reset(p);
    p->argc = 0;
    return RESP_ERROR;
}

/* ---- inline commands ------------------------------------------------------ */

/* Split an inline command with Redis's rules (core/args.h): plain words
 * point into the caller's buffer (kept as offsets), quoted ones were decoded
 * into p->scratch, which is sized for the whole line first. */
struct inline_split {
    struct resp_parser *p;
    const char         *line;
};

static void inline_word(void *arg, struct slice w)
{
    struct inline_split *is = arg;
    struct resp_parser *p = is->p;
    if (w.ptr >= p->scratch.data && w.ptr < p->scratch.data + p->scratch.cap)
        push_arg(p, OFF_SCRATCH | (size_t)(w.ptr - p->scratch.data), w.len);
    else
        push_arg(p, (size_t)(w.ptr - is->line), w.len);
}

static enum resp_status parse_inline(struct resp_parser *p, const char *buf, size_t n,
                                     const struct resp_limits *lim, size_t *consumed,
                                     const char **err)
{
    size_t from = p->scan;
    const char *nl = from < n ? memchr(buf + from, '\n', n - from) : NULL;
    if (!nl) {
        if (n > lim->max_inline_len)
            return fail(p, err, ERR_INLINE_BIG);
        p->scan = n;
        return RESP_MORE;
    }
    size_t eol = (size_t)(nl - buf);
    size_t line_len = eol;
    if (line_len > 0 && buf[line_len - 1] == '\r')
        line_len--;

    p->argc = 0;
    p->scratch.len = 0;
    buf_reserve(&p->scratch, line_len + 1);
    struct inline_split is = { p, buf };
    if (args_split(buf, line_len, p->scratch.data, &p->scratch.len, inline_word, &is) < 0)
        return fail(p, err, ERR_QUOTES);

    parser_reset(p);
    *consumed = eol + 1;
    if (p->argc == 0)
        return RESP_EMPTY;
    fill_argv(p, buf);
    return RESP_DONE;
}

/* ---- multibulk ------------------------------------------------------------ */

/* Find the CR ending the line that starts at `start`, resuming the search at
 * p->scan. Returns its index, or (size_t)-1 when the line is not complete
 * (the CR and the byte after it must both be present, as in Redis). */
static size_t find_line_end(struct resp_parser *p, const char *buf, size_t n, size_t start)
{
    size_t from = p->scan > start ? p->scan : start;
    const char *cr = from < n ? memchr(buf + from, '\r', n - from) : NULL;
    if (!cr) {
        p->scan = n;
        return (size_t)-1;
    }
    size_t at = (size_t)(cr - buf);
    if (at + 1 >= n) {
        p->scan = at; /* resume on the CR once the byte after it arrives */
        return (size_t)-1;
    }
    return at;
}

/* Fast path for the common header "<type><digits>\r?" at buf[start]: a
 * positive or zero number of at most 18 digits without leading zeros,
 * followed by CR and one more byte. Returns the CR's index and sets *v, or
 * (size_t)-1 to fall back to the general path (which also reports errors).
 * Scans at most 19 bytes, so retrying it on every call stays O(1). */
static inline size_t quick_header(const char *buf, size_t n, size_t start, long long *v)
{
    const char *s = buf + start + 1, *end = buf + n, *q = s;
    const char *stop = end - s > 18 ? s + 18 : end;
    long long acc = 0;
    while (q < stop && (unsigned char)(*q - '0') < 10)
        acc = acc * 10 + (*q++ - '0');
    if (q == s || q + 1 >= end || *q != '\r' || (s[0] == '0' && q - s > 1))
        return (size_t)-1;
    *v = acc;
    return (size_t)(q - buf);
}

static enum resp_status parse_multibulk(struct resp_parser *p, const char *buf, size_t n,
                                        const struct resp_limits *lim, size_t *consumed,
                                        const char **err)
{
    if (p->want_args < 0) {
        long long count;
        size_t cr = quick_header(buf, n, 0, &count);
        if (cr == (size_t)-1) {
            cr = find_line_end(p, buf, n, 1);
            if (cr == (size_t)-1) {
                if (n > lim->max_inline_len)
                    return fail(p, err, ERR_MBULK_BIG);
                return RESP_MORE;
            }
            if (!parse_count(buf + 1, cr - 1, &count))
                return fail(p, err, ERR_MBULK_LEN);
        }
        if (count > INT_MAX || count > lim->max_args)
            return fail(p, err, ERR_MBULK_LEN);
        size_t next = cr + 2; /* Redis skips the byte after the CR unchecked */
        if (lim->strict && buf[cr + 1] != '\n')
            return fail(p, err, ERR_STRICT_CRLF);
        if (count <= 0) {
            parser_reset(p);
            *consumed = next;
            return RESP_EMPTY;
        }
        p->want_args = count;
        p->bulk_len = -1;
        p->pos = next;
        p->scan = next;
        p->argc = 0;
    }

    while ((long long)p->argc < p->want_args) {
        if (p->bulk_len < 0) {
            if (p->pos >= n)
                return RESP_MORE;
            if (buf[p->pos] != '$') {
                char c = buf[p->pos];
                if (c == '\r' || c == '\n')
                    c = ' '; /* Redis 7 keeps error lines single-line this way */
                static const char text[] = "ERR Protocol error: expected '$', got ' '";
                _Static_assert(sizeof(text) <= sizeof(p->errbuf), "errbuf too small");
                memcpy(p->errbuf, text, sizeof(text));
                p->errbuf[sizeof(text) - 3] = c;
                return fail(p, err, p->errbuf);
            }
            long long len;
            size_t cr = quick_header(buf, n, p->pos, &len);
            if (cr == (size_t)-1) {
                cr = find_line_end(p, buf, n, p->pos);
                if (cr == (size_t)-1) {
                    if (n - p->pos > lim->max_inline_len)
                        return fail(p, err, ERR_BULK_BIG);
                    return RESP_MORE;
                }
                if (!parse_count(buf + p->pos + 1, cr - p->pos - 1, &len) || len < 0)
                    return fail(p, err, ERR_BULK_LEN);
            }
            if (len > lim->max_bulk_len)
                return fail(p, err, ERR_BULK_LEN);
            if (lim->strict && buf[cr + 1] != '\n')
                return fail(p, err, ERR_STRICT_CRLF);
            p->bulk_len = len;
            p->pos = cr + 2;
            p->scan = p->pos;
        }
        /* the bulk and the two bytes after it (CRLF, not checked, as in Redis) */
        if ((size_t)(n - p->pos) < (size_t)p->bulk_len + 2)
            return RESP_MORE;
        if (lim->strict && (buf[p->pos + (size_t)p->bulk_len] != '\r' ||
                            buf[p->pos + (size_t)p->bulk_len + 1] != '\n'))
            return fail(p, err, ERR_STRICT_CRLF);
        push_arg(p, p->pos, (size_t)p->bulk_len);
        p->pos += (size_t)p->bulk_len + 2;
        p->scan = p->pos;
        p->bulk_len = -1;
    }

    *consumed = p->pos;
    parser_reset(p);
    fill_argv(p, buf);
    return RESP_DONE;
}

enum resp_status resp_parse(struct resp_parser *p, const char *buf, size_t n,
                            const struct resp_limits *lim, size_t *consumed,
                            const char **err)
{
    *consumed = 0;
    if (p->want_args < 0 && !p->inline_cmd && p->scan == 0) {
        /* a new command: the arrays of a huge previous one are not kept
         * for the connection's lifetime */
        p->argc = 0;
        if (p->cap > RESP_KEEP_ARGS) {
            mi_free(p->off);
            mi_free(p->len);
            mi_free(p->argv);
            p->off = p->len = NULL;
            p->argv = NULL;
            p->cap = 0;
        }
        if (p->scratch.cap > RESP_KEEP_SCRATCH)
            buf_free(&p->scratch);
        if (n == 0)
            return RESP_MORE;
        if (buf[0] != '*') {
            if (lim->strict)
                return fail(p, err, ERR_STRICT_INLINE);
            p->inline_cmd = 1;
        }
    }
    if (p->inline_cmd)
        return parse_inline(p, buf, n, lim, consumed, err);
    return parse_multibulk(p, buf, n, lim, consumed, err);
}

/* ---- walking RESP values -------------------------------------------------- */

static size_t value_len(const char *b, size_t n, int depth)
{
    if (n < 3)
        return 0;
    const char *cr = memchr(b + 1, '\r', n - 1);
    if (!cr)
        return 0;
    size_t line = (size_t)(cr - b);       /* header text is b[1..line) */
    if (line + 1 >= n || b[line + 1] != '\n')
        return 0;
    size_t hdr = line + 2;                 /* bytes of the header line */

    switch (b[0]) {
    case '+': case '-': case ':': case ',': case '(':
        return hdr;
    case '_':
        return line == 1 ? hdr : 0;
    case '#':
        return line == 2 && (b[1] == 't' || b[1] == 'f') ? hdr : 0;
    case '$': case '!': case '=': {
        long long len;
        if (!parse_count(b + 1, line - 1, &len))
            return 0;
        if (len == -1 && b[0] == '$')
            return hdr;
        if (len < 0 || (unsigned long long)len > n - hdr || n - hdr - (size_t)len < 2)
            return 0;
        size_t end = hdr + (size_t)len;
        if (b[end] != '\r' || b[end + 1] != '\n')
            return 0;
        return end + 2;
    }
    case '*': case '~': case '>': case '%': case '|': {
        long long count;
        if (!parse_count(b + 1, line - 1, &count))
            return 0;
        if (count == -1 && b[0] == '*')
            return hdr;
        /* every element takes at least 3 bytes: a larger count cannot be complete */
        if (count < 0 || (unsigned long long)count > n / 3)
            return 0;
        if (depth >= RESP_MAX_DEPTH)
            return 0;
        size_t elems = (size_t)count;
        if (b[0] == '%' || b[0] == '|')
            elems *= 2;
        if (b[0] == '|')
            elems += 1; /* the value the attribute annotates */
        size_t off = hdr;
        for (size_t i = 0; i < elems; i++) {
            size_t l = value_len(b + off, n - off, depth + 1);
            if (l == 0)
                return 0;
            off += l;
        }
        return off;
    }
    default:
        return 0;
    }
}

size_t resp_value_len(const char *buf, size_t n)
{
    return value_len(buf, n, 0);
}

/* ---- reading whole values (see resp.h) ------------------------------------ */

/* The next value's header line: its text b[1..*line) and the header's length
 * with CRLF; and the whole value's length. False if it is not whole. */
static bool next_value(const struct resp_reader *r, size_t *line, size_t *whole)
{
    size_t n = (size_t)(r->end - r->p);
    *whole = value_len(r->p, n, 0);
    if (*whole == 0)
        return false;
    *line = (size_t)((const char *)memchr(r->p + 1, '\r', n - 1) - r->p);
    return true;
}

bool resp_read_value(struct resp_reader *r, struct slice *raw)
{
    size_t line, whole;
    if (!next_value(r, &line, &whole))
        return false;
    *raw = (struct slice){ r->p, whole };
    r->p += whole;
    return true;
}

bool resp_read_int(struct resp_reader *r, long long *v)
{
    size_t line, whole;
    if (resp_peek(r) != ':' || !next_value(r, &line, &whole) || !parse_count(r->p + 1, line - 1, v))
        return false;
    r->p += whole;
    return true;
}

bool resp_read_string(struct resp_reader *r, struct slice *s)
{
    size_t line, whole;
    char t = resp_peek(r);
    if ((t != '$' && t != '+' && t != '_') || !next_value(r, &line, &whole))
        return false;
    if (t == '+')
        *s = (struct slice){ r->p + 1, line - 1 };
    else if (t == '_' || whole == line + 2) /* _ or $-1 */
        *s = (struct slice){ NULL, 0 };
    else
        *s = (struct slice){ r->p + line + 2, whole - line - 4 };
    r->p += whole;
    return true;
}

bool resp_read_error(struct resp_reader *r, struct slice *s)
{
    size_t line, whole;
    char t = resp_peek(r);
    if ((t != '-' && t != '!') || !next_value(r, &line, &whole))
        return false;
    if (t == '-')
        *s = (struct slice){ r->p + 1, line - 1 };
    else
        *s = (struct slice){ r->p + line + 2, whole - line - 4 };
    r->p += whole;
    return true;
}

bool resp_read_aggregate(struct resp_reader *r, long long *count)
{
    size_t line, whole;
    char t = resp_peek(r);
    if ((t != '*' && t != '~' && t != '>' && t != '%' && t != '_') || !next_value(r, &line, &whole))
        return false;
    if (t == '_') {
        *count = -1;
        r->p += whole;
        return true;
    }
    if (!parse_count(r->p + 1, line - 1, count))
        return false;
    r->p += line + 2; /* to the first element (a null array has none) */
    return true;
}

/* ---- writing a command (see resp.h) --------------------------------------- */

/* '*' or '$', a decimal count, CRLF: at most 23 bytes. */
static char *put_header(char *w, char type, size_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    *w++ = type;
    while (n)
        *w++ = tmp[--n];
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

static char *put_bulk(char *w, const char *p, size_t n)
{
    w = put_header(w, '$', n);
    memcpy(w, p, n);
    w += n;
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

#define HEADER_MAX 24

void resp_encode_command(struct buf *out, int argc, const struct slice *argv)
{
    size_t need = HEADER_MAX;
    for (int i = 0; i < argc; i++)
        need += HEADER_MAX + argv[i].len + 2;
    char *w = buf_reserve(out, need);
    w = put_header(w, '*', (size_t)argc);
    for (int i = 0; i < argc; i++)
        w = put_bulk(w, argv[i].ptr, argv[i].len);
    out->len = (size_t)(w - out->data);
}

void resp_encode_strings(struct buf *out, int argc, const char *const *argv)
{
    size_t need = HEADER_MAX;
    for (int i = 0; i < argc; i++)
        need += HEADER_MAX + strlen(argv[i]) + 2;
    char *w = buf_reserve(out, need);
    w = put_header(w, '*', (size_t)argc);
    for (int i = 0; i < argc; i++)
        w = put_bulk(w, argv[i], strlen(argv[i]));
    out->len = (size_t)(w - out->data);
}
