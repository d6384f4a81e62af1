/* hash: a Redis hash's value object (see hash.h for the contract).
 *
 * One allocation holds the header and, for a listpack, its bytes (a small
 * hash costs one allocation, not two): count pairs of elements, each element
 * a LEB128 length then its bytes, size bytes used. So a listpack that grows
 * or shrinks may move: the calls that change a hash take its address.
 * hashtable: the header's data holds the pointer to a struct ctab (ctab.h:
 * chained buckets resized incrementally) of struct hnode (link, lengths,
 * field bytes then value bytes in one allocation). */
#include "shards/store/hash.h"
#include "shards/store/ctab.h"
#include "shards/store/packed.h"
#include "shards/store/store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const struct hash_limits hash_default_limits = { 128, 64 };

enum { ENC_LISTPACK = 0, ENC_TABLE = 1 };

struct hnode {
    struct ctab_node link;  /* first: the table's chain */
    uint32_t         flen, vlen;
    char             data[];
};

struct hash {
    uint32_t count;
    uint32_t size;    /* listpack: bytes used */
    uint8_t  enc;
    char     data[];  /* listpack: its bytes; hashtable: a struct ctab * (unaligned) */
};

#define HEADER offsetof(struct hash, data)

static inline struct ctab *table_of(const struct hash *h)
{
    struct ctab *t;
    memcpy(&t, h->data, sizeof t);
    return t;
}

static struct slice node_key(const struct ctab_node *n)
{
    const struct hnode *h = (const struct hnode *)n;
    return (struct slice){ h->data, h->flen };
}

/* A new hashtable-encoded hash, empty, for about n fields. */
static struct hash *table_new(struct store *s, size_t n)
{
    struct hash *h = store_alloc(s, HEADER + sizeof(struct ctab *));
    struct ctab *t = store_alloc(s, sizeof *t);
    ctab_init(s, t, n, node_key);
    memcpy(h->data, &t, sizeof t);
    h->count = 0;
    h->size = 0;
    h->enc = ENC_TABLE;
    return h;
}

/* h's listpack resized to n bytes (h may move). */
static struct hash *lp_resize(struct store *s, struct hash *h, size_t n)
{
    return store_realloc(s, h, HEADER + n);
}

static inline struct slice node_field(const struct hnode *n) { return (struct slice){ n->data, n->flen }; }
static inline struct slice node_value(const struct hnode *n)
{
    return (struct slice){ n->data + n->flen, n->vlen };
}

/* ---- listpack elements (shards/store/packed.h) ---- */

/* Offset of field's pair in the listpack, or -1. */
static long lp_find(const struct hash *h, struct slice field, struct slice *value)
{
    const char *p = h->data, *end = h->data + h->size;
    while (p < end) {
        struct slice f, v;
        const char *at = p;
        p = packed_elem(p, &f);
        p = packed_elem(p, &v);
        if (packed_same(f, field)) {
            if (value)
                *value = v;
            return (long)(at - h->data);
        }
    }
    return -1;
}

/* ---- hashtable ---- */


static struct hnode *node_new(struct store *s, struct slice f, struct slice v)
{
    struct hnode *n = store_alloc(s, sizeof *n + f.len + v.len);
    n->link.next = NULL;
    n->flen = (uint32_t)f.len;
    n->vlen = (uint32_t)v.len;
    memcpy(n->data, f.ptr, f.len);
    memcpy(n->data + f.len, v.ptr, v.len);
    return n;
}




/* The listpack old becomes a hashtable holding the same pairs (a new
 * header: the old one, with its listpack, is freed). */
static struct hash *to_table(struct store *s, struct hash *old)
{
    struct hash *h = table_new(s, (size_t)old->count * 2);
    struct ctab *t = table_of(h);
    const char *p = old->data, *end = old->data + old->size;
    while (p < end) {
        struct slice f, v;
        p = packed_elem(p, &f);
        p = packed_elem(p, &v);
        ctab_add(s, t, &node_new(s, f, v)->link);
    }
    h->count = old->count;
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
        struct ctab *t = table_of(h);
        if (!ctab_free_step(s, t, budget))
            return false;
        store_free(s, t);
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

size_t hash_memory(const struct hash *h, size_t samples)
{
    size_t m = store_alloc_size(h);
    if (h->enc == ENC_TABLE)
        m += store_alloc_size(table_of(h)) + ctab_memory(table_of(h), samples);
    return m;
}
bool hash_is_listpack(const struct hash *h) { return h->enc == ENC_LISTPACK; }

bool hash_get(const struct hash *h, struct slice field, struct slice *value)
{
    if (h->enc == ENC_LISTPACK)
        return lp_find(h, field, value) >= 0;
    struct ctab_node **link = ctab_find(table_of(h), field);
    if (!link)
        return false;
    *value = node_value((const struct hnode *)*link);
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
        struct ctab_node **link = ctab_find(table_of(h), field);
        if (link) {
            struct hnode *old = (struct hnode *)*link;
            if (old->vlen == value.len) {
                memcpy(old->data + old->flen, value.ptr, value.len);
            } else { /* a new node in the old one's place in its chain */
                struct hnode *n = node_new(s, field, value);
                n->link.next = old->link.next;
                *link = &n->link;
                store_free(s, old);
            }
            return false;
        }
        ctab_add(s, table_of(h), &node_new(s, field, value)->link);
        h->count++;
        return true;
    }
    struct slice oldv;
    long at = lp_find(h, field, &oldv);
    size_t need_v = packed_elem_size(value.len);
    if (at >= 0) {
        /* replace the value element in place, moving the tail */
        size_t voff = (size_t)(oldv.ptr - h->data) - packed_len_size(oldv.len);
        size_t old_sz = packed_elem_size(oldv.len);
        size_t tail = h->size - voff - old_sz;
        size_t nlen = h->size - old_sz + need_v;
        if (nlen > h->size)
            *hp = h = lp_resize(s, h, nlen);
        memmove(h->data + voff + need_v, h->data + voff + old_sz, tail);
        char *w = packed_put_len(h->data + voff, value.len);
        memcpy(w, value.ptr, value.len);
        if (nlen < h->size)
            *hp = h = lp_resize(s, h, nlen);
        h->size = (uint32_t)nlen;
        return false;
    }
    size_t nlen = h->size + packed_elem_size(field.len) + need_v;
    *hp = h = lp_resize(s, h, nlen);
    char *w = packed_put_len(h->data + h->size, field.len);
    memcpy(w, field.ptr, field.len);
    w = packed_put_len(w + field.len, value.len);
    memcpy(w, value.ptr, value.len);
    h->size = (uint32_t)nlen;
    h->count++;
    return true;
}

bool hash_delete(struct store *s, struct hash **hp, struct slice field)
{
    struct hash *h = *hp;
    if (h->enc == ENC_TABLE) {
        struct ctab *t = table_of(h);
        struct ctab_node **link = ctab_find(t, field);
        if (!link)
            return false;
        struct ctab_node *n = *link;
        ctab_unlink(s, t, link);
        store_free(s, n);
        h->count--;
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

struct visit {
    hash_visit_fn *fn;
    void          *arg;
};

static void visit_node(void *arg, const struct ctab_node *n)
{
    struct visit *v = arg;
    const struct hnode *h = (const struct hnode *)n;
    v->fn(v->arg, node_field(h), node_value(h));
}

void hash_foreach(const struct hash *h, hash_visit_fn *fn, void *arg)
{
    if (h->enc == ENC_LISTPACK) {
        const char *p = h->data, *end = h->data + h->size;
        while (p < end) {
            struct slice f, v;
            p = packed_elem(p, &f);
            p = packed_elem(p, &v);
            fn(arg, f, v);
        }
        return;
    }
    struct visit v = { fn, arg };
    ctab_foreach(table_of(h), visit_node, &v);
}


uint64_t hash_scan(const struct hash *h, uint64_t cursor, size_t count, hash_visit_fn *fn, void *arg)
{
    if (h->enc == ENC_LISTPACK) {
        hash_foreach(h, fn, arg);
        return 0;
    }
    struct visit v = { fn, arg };
    return ctab_scan(table_of(h), cursor, count, visit_node, &v);
}

void hash_random(const struct hash *h, uint64_t (*rnd)(void *), void *rarg,
                 struct slice *field, struct slice *value)
{
    assert(h->count > 0);
    if (h->enc == ENC_LISTPACK) {
        size_t k = (size_t)(rnd(rarg) % h->count);
        const char *p = h->data;
        for (;;) {
            p = packed_elem(p, field);
            p = packed_elem(p, value);
            if (k-- == 0)
                return;
        }
    }
    const struct hnode *n = (const struct hnode *)ctab_random(table_of(h), rnd, rarg);
    *field = node_field(n);
    *value = node_value(n);
}

static void dup_node(void *arg, const struct ctab_node *n)
{
    void **a = arg;
    const struct hnode *h = (const struct hnode *)n;
    ctab_add(a[0], a[1], &node_new(a[0], node_field(h), node_value(h))->link);
}

struct hash *hash_dup(struct store *s, const struct hash *h)
{
    if (h->enc == ENC_LISTPACK) {
        struct hash *d = store_alloc(s, HEADER + h->size);
        memcpy(d, h, HEADER + h->size);
        return d;
    }
    struct hash *d = table_new(s, h->count);
    void *arg[2] = { s, table_of(d) };
    ctab_foreach(table_of(h), dup_node, arg);
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
    struct hash *h = enc == ENC_TABLE ? table_new(s, count) : hash_create(s);
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
