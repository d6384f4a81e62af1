/* hash: a Redis hash's value object (see hash.h for the contract).
 *
 * One allocation holds the header and, for a listpack, its bytes (a small
 * hash costs one allocation, not two): count pairs of elements, each element
 * a LEB128 length then its bytes, size bytes used. So a listpack that grows
 * or shrinks may move: the calls that change a hash take its address.
 * hashtable: the header's data holds the pointer to buckets[size], chains of
 * struct hnode (next, lengths, field bytes then value bytes in one
 * allocation); grows at one field per bucket, shrinks below one per eight,
 * rehashing at once. */
#include "shards/store/hash.h"
#include "shards/store/store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const struct hash_limits hash_default_limits = { 128, 64 };

enum { ENC_LISTPACK = 0, ENC_TABLE = 1 };

struct hnode {
    struct hnode *next;
    uint32_t      flen, vlen;
    char          data[];
};

struct hash {
    uint32_t count;
    uint32_t size;    /* listpack: bytes used; hashtable: buckets (power of two) */
    uint8_t  enc;
    char     data[];  /* listpack: its bytes; hashtable: a struct hnode ** (unaligned) */
};

#define HEADER offsetof(struct hash, data)

static inline struct hnode **buckets_of(const struct hash *h)
{
    struct hnode **b;
    memcpy(&b, h->data, sizeof b);
    return b;
}

static inline void set_buckets(struct hash *h, struct hnode **b) { memcpy(h->data, &b, sizeof b); }

/* h's listpack resized to n bytes (h may move). */
static struct hash *lp_resize(struct store *s, struct hash *h, size_t n)
{
    return store_realloc(s, h, HEADER + n);
}

#define TABLE_MIN 8

static inline struct slice node_field(const struct hnode *n) { return (struct slice){ n->data, n->flen }; }
static inline struct slice node_value(const struct hnode *n)
{
    return (struct slice){ n->data + n->flen, n->vlen };
}
static inline bool same(struct slice a, struct slice b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* ---- listpack elements ---- */

static size_t varint_size(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static char *varint_put(char *w, size_t v)
{
    while (v >= 0x80) {
        *w++ = (char)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    *w++ = (char)v;
    return w;
}

/* The element at p: its bytes in *out; returns where the next starts. */
static const char *lp_elem(const char *p, struct slice *out)
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

static inline size_t elem_size(size_t len) { return varint_size(len) + len; }

/* Offset of field's pair in the listpack, or -1. */
static long lp_find(const struct hash *h, struct slice field, struct slice *value)
{
    const char *p = h->data, *end = h->data + h->size;
    while (p < end) {
        struct slice f, v;
        const char *at = p;
        p = lp_elem(p, &f);
        p = lp_elem(p, &v);
        if (same(f, field)) {
            if (value)
                *value = v;
            return (long)(at - h->data);
        }
    }
    return -1;
}

/* ---- hashtable ---- */

static inline size_t bucket_of(const struct hash *h, struct slice field)
{
    return (size_t)store_key_hash(field) & (h->size - 1);
}

static struct hnode *node_new(struct store *s, struct slice f, struct slice v)
{
    struct hnode *n = store_alloc(s, sizeof *n + f.len + v.len);
    n->next = NULL;
    n->flen = (uint32_t)f.len;
    n->vlen = (uint32_t)v.len;
    memcpy(n->data, f.ptr, f.len);
    memcpy(n->data + f.len, v.ptr, v.len);
    return n;
}

static void table_resize(struct store *s, struct hash *h, size_t nsize)
{
    struct hnode **nb = store_alloc(s, nsize * sizeof *nb);
    struct hnode **ob = buckets_of(h);
    memset(nb, 0, nsize * sizeof *nb);
    for (size_t b = 0; b < h->size; b++) {
        struct hnode *n = ob[b];
        while (n) {
            struct hnode *next = n->next;
            size_t i = (size_t)store_key_hash(node_field(n)) & (nsize - 1);
            n->next = nb[i];
            nb[i] = n;
            n = next;
        }
    }
    store_free(s, ob);
    set_buckets(h, nb);
    h->size = (uint32_t)nsize;
}

static struct hnode **table_slot(const struct hash *h, struct slice field)
{
    struct hnode **pp = &buckets_of(h)[bucket_of(h, field)];
    while (*pp && !same(node_field(*pp), field))
        pp = &(*pp)->next;
    return pp;
}

static void table_insert(struct store *s, struct hash *h, struct hnode *n)
{
    if (h->count >= h->size)
        table_resize(s, h, (size_t)h->size * 2);
    size_t b = bucket_of(h, node_field(n));
    struct hnode **bk = buckets_of(h);
    n->next = bk[b];
    bk[b] = n;
    h->count++;
}

/* The listpack h becomes a hashtable holding the same pairs (a new
 * header: the old one, with its listpack, is freed). */
static struct hash *to_table(struct store *s, struct hash *old)
{
    size_t n = old->count;
    size_t size = TABLE_MIN;
    while (size < n * 2)
        size <<= 1;
    struct hash *h = store_alloc(s, HEADER + sizeof(struct hnode **));
    struct hnode **b = store_alloc(s, size * sizeof *b);
    memset(b, 0, size * sizeof *b);
    set_buckets(h, b);
    h->size = (uint32_t)size;
    h->count = 0;
    h->enc = ENC_TABLE;
    const char *p = old->data, *end = old->data + old->size;
    while (p < end) {
        struct slice f, v;
        p = lp_elem(p, &f);
        p = lp_elem(p, &v);
        table_insert(s, h, node_new(s, f, v));
    }
    store_free(s, old);
    return h;
}

/* ---- the API ---- */

struct hash *hash_create(struct store *s)
{
    struct hash *h = store_alloc(s, HEADER);
    h->count = 0;
    h->size = 0;
    h->enc = ENC_LISTPACK;
    return h;
}

bool hash_free_step(struct store *s, struct hash *h, size_t *budget)
{
    if (h->enc == ENC_TABLE) {
        /* free from the last bucket down, shrinking size as buckets empty,
         * so a later step resumes where this one stopped */
        struct hnode **bk = buckets_of(h);
        while (h->size > 0) {
            struct hnode **b = &bk[h->size - 1];
            while (*b) {
                if (*budget == 0)
                    return false;
                struct hnode *n = *b;
                *b = n->next;
                store_free(s, n);
                (*budget)--;
            }
            h->size--;
        }
        store_free(s, bk);
    }
    store_free(s, h);
    if (*budget)
        (*budget)--;
    return true;
}

void hash_destroy(struct store *s, struct hash *h)
{
    size_t budget = SIZE_MAX;
    hash_free_step(s, h, &budget);
}

size_t hash_len(const struct hash *h) { return h->count; }
bool hash_is_listpack(const struct hash *h) { return h->enc == ENC_LISTPACK; }

bool hash_get(const struct hash *h, struct slice field, struct slice *value)
{
    if (h->enc == ENC_LISTPACK)
        return lp_find(h, field, value) >= 0;
    struct hnode *n = *table_slot(h, field);
    if (!n)
        return false;
    *value = node_value(n);
    return true;
}

bool hash_set(struct store *s, struct hash **hp, struct slice field, struct slice value,
              const struct hash_limits *lim)
{
    struct hash *h = *hp;
    if (h->enc == ENC_LISTPACK &&
        (field.len > lim->max_listpack_value || value.len > lim->max_listpack_value ||
         (h->count >= lim->max_listpack_entries && lp_find(h, field, NULL) < 0)))
        *hp = h = to_table(s, h);
    if (h->enc == ENC_TABLE) {
        struct hnode **pp = table_slot(h, field);
        if (*pp) {
            struct hnode *old = *pp;
            if (old->vlen == value.len) {
                memcpy(old->data + old->flen, value.ptr, value.len);
            } else {
                struct hnode *n = node_new(s, field, value);
                n->next = old->next;
                *pp = n;
                store_free(s, old);
            }
            return false;
        }
        table_insert(s, h, node_new(s, field, value));
        return true;
    }
    struct slice oldv;
    long at = lp_find(h, field, &oldv);
    size_t need_v = elem_size(value.len);
    if (at >= 0) {
        /* replace the value element in place, moving the tail */
        size_t voff = (size_t)(oldv.ptr - h->data) - varint_size(oldv.len);
        size_t old_sz = elem_size(oldv.len);
        size_t tail = h->size - voff - old_sz;
        size_t nlen = h->size - old_sz + need_v;
        if (nlen > h->size)
            *hp = h = lp_resize(s, h, nlen);
        memmove(h->data + voff + need_v, h->data + voff + old_sz, tail);
        char *w = varint_put(h->data + voff, value.len);
        memcpy(w, value.ptr, value.len);
        if (nlen < h->size)
            *hp = h = lp_resize(s, h, nlen);
        h->size = (uint32_t)nlen;
        return false;
    }
    size_t nlen = h->size + elem_size(field.len) + need_v;
    *hp = h = lp_resize(s, h, nlen);
    char *w = varint_put(h->data + h->size, field.len);
    memcpy(w, field.ptr, field.len);
    w = varint_put(w + field.len, value.len);
    memcpy(w, value.ptr, value.len);
    h->size = (uint32_t)nlen;
    h->count++;
    return true;
}

bool hash_delete(struct store *s, struct hash **hp, struct slice field)
{
    struct hash *h = *hp;
    if (h->enc == ENC_TABLE) {
        struct hnode **pp = table_slot(h, field);
        if (!*pp)
            return false;
        struct hnode *n = *pp;
        *pp = n->next;
        store_free(s, n);
        h->count--;
        if (h->size > TABLE_MIN && (size_t)h->count * 8 < h->size)
            table_resize(s, h, h->size / 2);
        return true;
    }
    struct slice v;
    long at = lp_find(h, field, &v);
    if (at < 0)
        return false;
    size_t end = (size_t)(v.ptr - h->data) + v.len;
    memmove(h->data + at, h->data + end, h->size - end);
    h->size -= (uint32_t)(end - (size_t)at);
    h->count--;
    *hp = lp_resize(s, h, h->size);
    return true;
}

void hash_foreach(const struct hash *h, hash_visit_fn *fn, void *arg)
{
    if (h->enc == ENC_LISTPACK) {
        const char *p = h->data, *end = h->data + h->size;
        while (p < end) {
            struct slice f, v;
            p = lp_elem(p, &f);
            p = lp_elem(p, &v);
            fn(arg, f, v);
        }
        return;
    }
    struct hnode **bk = buckets_of(h);
    for (size_t b = 0; b < h->size; b++)
        for (struct hnode *n = bk[b]; n; n = n->next)
            fn(arg, node_field(n), node_value(n));
}

static inline uint64_t reverse_bits(uint64_t v)
{
    v = ((v >> 1) & UINT64_C(0x5555555555555555)) | ((v & UINT64_C(0x5555555555555555)) << 1);
    v = ((v >> 2) & UINT64_C(0x3333333333333333)) | ((v & UINT64_C(0x3333333333333333)) << 2);
    v = ((v >> 4) & UINT64_C(0x0f0f0f0f0f0f0f0f)) | ((v & UINT64_C(0x0f0f0f0f0f0f0f0f)) << 4);
    return __builtin_bswap64(v);
}

uint64_t hash_scan(const struct hash *h, uint64_t cursor, size_t count, hash_visit_fn *fn, void *arg)
{
    if (h->enc == ENC_LISTPACK) {
        hash_foreach(h, fn, arg);
        return 0;
    }
    uint64_t mask = h->size - 1, v = cursor;
    size_t seen = 0, visits = 0, max_visits = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    struct hnode **bk = buckets_of(h);
    do {
        for (struct hnode *n = bk[v & mask]; n; n = n->next) {
            fn(arg, node_field(n), node_value(n));
            seen++;
        }
        v |= ~mask;
        v = reverse_bits(v);
        v++;
        v = reverse_bits(v);
        visits++;
    } while (v != 0 && seen < count && visits < max_visits);
    return v;
}

void hash_random(const struct hash *h, uint64_t (*rnd)(void *), void *rarg,
                 struct slice *field, struct slice *value)
{
    assert(h->count > 0);
    if (h->enc == ENC_LISTPACK) {
        size_t k = (size_t)(rnd(rarg) % h->count);
        const char *p = h->data;
        for (;;) {
            p = lp_elem(p, field);
            p = lp_elem(p, value);
            if (k-- == 0)
                return;
        }
    }
    const struct hnode *head = NULL;
    struct hnode **bk = buckets_of(h);
    while (!head)
        head = bk[rnd(rarg) & (h->size - 1)];
    size_t len = 0;
    for (const struct hnode *n = head; n; n = n->next)
        len++;
    size_t k = (size_t)(rnd(rarg) % len);
    while (k--)
        head = head->next;
    *field = node_field(head);
    *value = node_value(head);
}

struct hash *hash_dup(struct store *s, const struct hash *h)
{
    if (h->enc == ENC_LISTPACK) {
        struct hash *d = store_alloc(s, HEADER + h->size);
        memcpy(d, h, HEADER + h->size);
        return d;
    }
    struct hash *d = store_alloc(s, HEADER + sizeof(struct hnode **));
    d->enc = ENC_TABLE;
    d->size = h->size;
    struct hnode **db = store_alloc(s, (size_t)h->size * sizeof *db), **hb = buckets_of(h);
    memset(db, 0, (size_t)h->size * sizeof *db);
    set_buckets(d, db);
    for (size_t b = 0; b < h->size; b++)
        for (struct hnode *n = hb[b]; n; n = n->next) {
            struct hnode *c = node_new(s, node_field(n), node_value(n));
            c->next = db[b];
            db[b] = c;
        }
    d->count = h->count;
    return d;
}

static void encode_pair(void *arg, struct slice f, struct slice v)
{
    struct buf *out = arg;
    uint32_t l = (uint32_t)f.len;
    buf_append(out, &l, 4);
    buf_append(out, f.ptr, f.len);
    l = (uint32_t)v.len;
    buf_append(out, &l, 4);
    buf_append(out, v.ptr, v.len);
}

void hash_encode(const struct hash *h, struct buf *out)
{
    buf_append(out, &h->enc, 1);
    buf_append(out, &h->count, 4);
    hash_foreach(h, encode_pair, out);
}

struct hash *hash_decode(struct store *s, const char *p, size_t n)
{
    const char *end = p + n;
    if (n < 5)
        return NULL;
    uint8_t enc = (uint8_t)p[0];
    uint32_t count;
    memcpy(&count, p + 1, 4);
    p += 5;
    /* the listpack keeps its encoding whatever the pairs; a hashtable too */
    const struct hash_limits any = { SIZE_MAX, SIZE_MAX };
    struct hash *h = hash_create(s);
    if (enc == ENC_TABLE)
        h = to_table(s, h);
    for (uint32_t i = 0; i < count; i++) {
        struct slice e[2];
        for (int k = 0; k < 2; k++) {
            uint32_t l;
            if (end - p < 4)
                goto bad;
            memcpy(&l, p, 4);
            p += 4;
            if ((size_t)(end - p) < l)
                goto bad;
            e[k] = (struct slice){ p, l };
            p += l;
        }
        hash_set(s, &h, e[0], e[1], &any);
    }
    if (p != end)
        goto bad;
    return h;
bad:
    hash_destroy(s, h);
    return NULL;
}
