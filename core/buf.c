/* buf: growable byte buffer (see buf.h). */
#include "core/buf.h"

#include <mimalloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void buf_free(struct buf *b)
{
    mi_free(b->data);
    buf_init(b);
}

/* Grow to hold len + extra bytes: doubling keeps appends amortised O(1). */
static void buf_grow(struct buf *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need < b->len)
        abort(); /* size_t overflow: a caller bug, not a network input */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    char *p = mi_realloc(b->data, cap);
    if (!p)
        abort();
    b->data = p;
    b->cap = cap;
}

char *buf_reserve_exact(struct buf *b, size_t extra)
{
    if (b->cap - b->len < extra) {
        size_t cap = b->len + extra;
        if (cap < b->len)
            abort(); /* size_t overflow: a caller bug */
        char *p = mi_realloc(b->data, cap);
        if (!p)
            abort();
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

char *buf_reserve(struct buf *b, size_t extra)
{
    if (b->cap - b->len < extra)
        buf_grow(b, extra);
    return b->data + b->len;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->cap - b->len < n)
        buf_grow(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t room = b->cap - b->len;
    char *dst = room ? b->data + b->len : NULL;

    va_start(ap, fmt);
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= room) { /* did not fit (with its NUL): grow and format again */
        dst = buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(dst, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void buf_move(struct buf *dst, struct buf *src)
{
    if (dst->len == 0 && dst->cap <= src->cap) {
        struct buf t = *dst;
        *dst = *src;
        *src = t;
    } else {
        buf_append(dst, src->data, src->len);
    }
    src->len = 0;
}

void buf_keep_spare(struct buf *spare, struct buf *returned, size_t max)
{
    if (returned->cap > spare->cap && returned->cap <= max) {
        struct buf t = *spare;
        *spare = *returned;
        *returned = t;
        spare->len = 0;
    }
}

void buf_hand_over(struct buf *b, struct buf *to, struct buf *spare)
{
    *to = *b;
    *b = *spare;
    buf_init(spare);
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
