/* reply: RESP2/RESP3 encoders (see reply.h).
 *
 * reply_int, reply_bulk and the aggregate headers run once or more per
 * request: they reserve room once and write digits by hand, no printf. */
#include "core/reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char digit_pairs[201] =
    "00010203040506070809"
    "10111213141516171819"
    "20212223242526272829"
    "30313233343536373839"
    "40414243444546474849"
    "50515253545556575859"
    "60616263646566676869"
    "70717273747576777879"
    "80818283848586878889"
    "90919293949596979899";

/* Decimal digits of v at dst (room for 20); returns how many. */
static inline size_t write_u64(char *dst, unsigned long long v)
{
    char tmp[20];
    char *end = tmp + sizeof(tmp), *q = end;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--q = digit_pairs[i + 1];
        *--q = digit_pairs[i];
    }
    if (v >= 10) {
        unsigned i = (unsigned)v * 2;
        *--q = digit_pairs[i + 1];
        *--q = digit_pairs[i];
    } else {
        *--q = (char)('0' + v);
    }
    size_t n = (size_t)(end - q);
    memcpy(dst, q, n);
    return n;
}

static inline size_t write_i64(char *dst, long long v)
{
    if (v < 0) {
        *dst = '-';
        return 1 + write_u64(dst + 1, 0ULL - (unsigned long long)v);
    }
    return write_u64(dst, (unsigned long long)v);
}

static inline char *room(struct buf *b, size_t n)
{
    if (b->cap - b->len < n)
        buf_reserve(b, n);
    return b->data + b->len;
}

/* "<type><v>\r\n" */
static inline void write_header(struct buf *b, char type, long long v)
{
    char *d = room(b, 24);
    char *s = d;
    *d++ = type;
    d += write_i64(d, v);
    *d++ = '\r';
    *d++ = '\n';
    b->len += (size_t)(d - s);
}

static void write_line(struct buf *b, char type, const char *s, size_t n)
{
    char *d = room(b, n + 3);
    d[0] = type;
    memcpy(d + 1, s, n);
    d[n + 1] = '\r';
    d[n + 2] = '\n';
    b->len += n + 3;
}

void reply_ok(struct reply *r)
{
    buf_append(r->out, "+OK\r\n", 5);
}

void reply_simple(struct reply *r, const char *s)
{
    write_line(r->out, '+', s, strlen(s));
}

/* Error text goes on one line: CR and LF become spaces, as Redis 7 does. */
static void write_error(struct buf *b, const char *text, size_t n)
{
    size_t at = b->len + 1;
    write_line(b, '-', text, n);
    for (size_t i = 0; i < n; i++)
        if (b->data[at + i] == '\r' || b->data[at + i] == '\n')
            b->data[at + i] = ' ';
}

void reply_error(struct reply *r, const char *text)
{
    write_error(r->out, text, strlen(text));
}

void reply_errorf(struct reply *r, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        reply_error(r, "ERR");
        return;
    }
    if ((size_t)n < sizeof(small)) {
        write_error(r->out, small, (size_t)n);
        return;
    }
    struct buf tmp;
    buf_init(&tmp);
    va_start(ap, fmt);
    char *d = buf_reserve(&tmp, (size_t)n + 1);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    write_error(r->out, d, (size_t)n);
    buf_free(&tmp);
}

void reply_int(struct reply *r, long long v)
{
    write_header(r->out, ':', v);
}

void reply_bulk(struct reply *r, const void *p, size_t n)
{
    struct buf *b = r->out;
    char *d = room(b, n + 26);
    char *s = d;
    *d++ = '$';
    d += write_u64(d, n);
    *d++ = '\r';
    *d++ = '\n';
    if (n)
        memcpy(d, p, n);
    d += n;
    *d++ = '\r';
    *d++ = '\n';
    b->len += (size_t)(d - s);
}

void reply_bulk_str(struct reply *r, const char *s)
{
    reply_bulk(r, s, strlen(s));
}

void reply_bulk_ll(struct reply *r, long long v)
{
    char digits[24];
    size_t n = write_i64(digits, v);
    reply_bulk(r, digits, n);
}

void reply_null(struct reply *r)
{
    if (r->proto >= 3)
        buf_append(r->out, "_\r\n", 3);
    else
        buf_append(r->out, "$-1\r\n", 5);
}

void reply_null_array(struct reply *r)
{
    if (r->proto >= 3)
        buf_append(r->out, "_\r\n", 3);
    else
        buf_append(r->out, "*-1\r\n", 5);
}

void reply_array(struct reply *r, size_t n)
{
    write_header(r->out, '*', (long long)n);
}

void reply_map(struct reply *r, size_t pairs)
{
    if (r->proto >= 3)
        write_header(r->out, '%', (long long)pairs);
    else
        write_header(r->out, '*', (long long)pairs * 2);
}

void reply_set(struct reply *r, size_t n)
{
    write_header(r->out, r->proto >= 3 ? '~' : '*', (long long)n);
}

/* The shortest decimal text that reads back as exactly d ("1.5", "0.1",
 * "1e+300"); "inf", "-inf", "nan" for the non-finite values. */
static size_t format_double(char *dst, size_t cap, double d)
{
    if (isnan(d)) {
        memcpy(dst, "nan", 3);
        return 3;
    }
    if (isinf(d)) {
        if (d > 0) {
            memcpy(dst, "inf", 3);
            return 3;
        }
        memcpy(dst, "-inf", 4);
        return 4;
    }
    /* %g drops trailing zeros, so when 15 digits read back, no shorter text
     * would differ from them: starting at 15 still gives the shortest */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(dst, cap, "%.*g", prec, d);
        if (strtod(dst, NULL) == d)
            break;
    }
    return (size_t)n;
}

void reply_double(struct reply *r, double d)
{
    char text[40];
    size_t n = format_double(text, sizeof(text), d);
    if (r->proto >= 3)
        write_line(r->out, ',', text, n);
    else
        reply_bulk(r, text, n);
}

void reply_double_text(struct reply *r, const char *text, size_t n)
{
    if (r->proto >= 3)
        write_line(r->out, ',', text, n);
    else
        reply_bulk(r, text, n);
}

void reply_bool(struct reply *r, bool b)
{
    if (r->proto >= 3)
        buf_append(r->out, b ? "#t\r\n" : "#f\r\n", 4);
    else
        buf_append(r->out, b ? ":1\r\n" : ":0\r\n", 4);
}

void reply_verbatim(struct reply *r, const char *p, size_t n)
{
    if (r->proto < 3) {
        reply_bulk(r, p, n);
        return;
    }
    struct buf *b = r->out;
    write_header(b, '=', (long long)(n + 4));
    char *d = room(b, n + 6);
    memcpy(d, "txt:", 4);
    if (n)
        memcpy(d + 4, p, n);
    d[n + 4] = '\r';
    d[n + 5] = '\n';
    b->len += n + 6;
}
