/* buf: a growable byte buffer, the unit every part of ringkv passes bytes in.
 *
 * Layout: data[0..len) holds bytes, data[len..cap) is spare room. A buf owns
 * its data; buf_free releases it and leaves an empty, reusable buf.
 * Allocation failure aborts the process (an in-memory server that cannot
 * allocate a reply buffer has nothing useful left to do; maxmemory keeps the
 * data set itself bounded). */
#ifndef RINGKV_BUF_H
#define RINGKV_BUF_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct buf {
    char  *data; /* NULL until the first append */
    size_t len;  /* bytes held */
    size_t cap;  /* bytes allocated */
};

/* A view of bytes owned by someone else: an argument, a key, a value. */
struct slice {
    const char *ptr;
    size_t      len;
};

#define SLICE_LIT(s) ((struct slice){ (s), sizeof(s) - 1 })

static inline void buf_init(struct buf *b) { b->data = NULL; b->len = 0; b->cap = 0; }
void buf_free(struct buf *b);
/* Make room for at least `extra` more bytes; returns data + len. */
char *buf_reserve(struct buf *b, size_t extra);
/* The same, growing to exactly len + extra when it must grow (no doubling:
 * for a size known in advance, such as a big argument announced by its
 * length). */
char *buf_reserve_exact(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
static inline void buf_append_str(struct buf *b, const char *s) { buf_append(b, s, strlen(s)); }
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
/* Append src's bytes to dst; when dst is empty and src's block is at least as
 * big, the two blocks are swapped instead of copied. src ends empty either
 * way (holding what dst had, for reuse or buf_free). */
void buf_move(struct buf *dst, struct buf *src);
/* Buffers that travel to another shard and come back empty: keep the bigger
 * one (up to max bytes) as spare, and start the next fill from the spare. */
void buf_keep_spare(struct buf *spare, struct buf *returned, size_t max);
/* Hand b's bytes to the empty *to and give b the spare's block. */
void buf_hand_over(struct buf *b, struct buf *to, struct buf *spare);
static inline void buf_clear(struct buf *b) { b->len = 0; }

static inline int slice_eq_nocase(struct slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.ptr, lit, n) == 0;
}

#endif
