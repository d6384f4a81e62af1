/* packed: the element format of the compact encodings of hashes and sets
 * (a hash's listpack of field, value pairs; a set's listpack of members):
 * each element is its length as a varint (7 bits a byte, low bits first,
 * the high bit set on every byte but the last), then its bytes. One
 * format, so both walk, size and write elements the same way. */
#ifndef RINGKV_PACKED_H
#define RINGKV_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "core/buf.h"

/* Bytes the varint of v takes. */
static inline size_t packed_len_size(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Bytes an element of len bytes takes, its length included. */
static inline size_t packed_elem_size(size_t len) { return packed_len_size(len) + len; }

/* Write the varint of v at w; returns where the element's bytes go. */
static inline char *packed_put_len(char *w, size_t v)
{
    while (v >= 0x80) {
        *w++ = (char)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    *w++ = (char)v;
    return w;
}

/* The element at p: its bytes in *out; returns where the next starts. */
static inline const char *packed_elem(const char *p, struct slice *out)
{
    size_t v = 0;
    int shift = 0;
    unsigned char c;
    do {
        c = (unsigned char)*p++;
        v |= (size_t)(c & 0x7f) << shift;
        shift += 7;
    } while (c & 0x80);
    out->ptr = p;
    out->len = v;
    return p + v;
}

static inline bool packed_same(struct slice a, struct slice b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

#endif
