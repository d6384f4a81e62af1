/* set: a Redis set's value object (see set.h for the contract).
 *
 * One allocation holds the header and a compact encoding's bytes (so a
 * small set is one allocation; growing or shrinking it may move it, and the
 * calls that change a set take its address):
 * intset: count integers of width bytes each (2, 4 or 8, native byte
 * order), ascending; a wider value widens them all (never back).
 * listpack: count elements, each a LEB128 length then its bytes; size bytes.
 * hashtable: the data holds the pointer to a struct ctab (ctab.h: chained
 * buckets resized incrementally) of struct snode. */
#include "shards/store/set.h"
#include "shards/store/ctab.h"
#include "shards/store/packed.h"
#include "shards/store/store.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/numbers.h"

const struct set_limits set_default_limits = { 512, 128, 64 };

enum { ENC_INTSET = 0, ENC_LISTPACK = 1, ENC_TABLE = 2 };

struct snode {
    struct ctab_node link; /* first: the table's chain */
    uint32_t         len;
    char             data[];
};

struct set {
    uint32_t count;
    uint32_t size;  /* listpack: bytes used */
    uint8_t  enc;
    uint8_t  width; /* intset */
    char     data[]; /* intset, listpack: their bytes; hashtable: a struct ctab * */
};

#define HEADER offsetof(struct set, data)

static inline struct ctab *table_of(const struct set *set)
{
    struct ctab *t;
    memcpy(&t, set->data, sizeof t);
    return t;
}

static struct slice node_key(const struct ctab_node *n)
{
    const struct snode *m = (const struct snode *)n;
    return (struct slice){ m->data, m->len };
}

/* A new hashtable-encoded set, empty, for about n members. */
static struct set *table_new(struct store *s, size_t n)
{
    struct set *set = store_alloc(s, HEADER + sizeof(struct ctab *));
    struct ctab *t = store_alloc(s, sizeof *t);
    ctab_init(s, t, n, node_key);
    memcpy(set->data, &t, sizeof t);
    set->count = 0;
    set->size = 0;
    set->enc = ENC_TABLE;
    set->width = 0;
    return set;
}

static inline struct set *resize(struct store *s, struct set *set, size_t bytes)
{
    return store_realloc(s, set, HEADER + bytes);
}


/* member is the canonical text of a 64-bit integer (as Redis's string2ll
 * reads it: no sign but '-', no leading zeros, no spaces). */
static bool as_int(struct slice m, int64_t *v)
{
    if (m.len == 0 || m.len > 20)
        return false;
    long long x;
    if (!parse_ll(m, &x))
        return false;
    char t[SET_INT_TEXT];
    int n = format_ll(t, sizeof t, x);
    if ((size_t)n != m.len || memcmp(t, m.ptr, m.len) != 0)
        return false;
    *v = x;
    return true;
}

static inline struct slice int_text(int64_t v, char *t)
{
    return (struct slice){ t, (size_t)format_ll(t, SET_INT_TEXT, v) };
}

/* ---- intset ---- */

static inline int width_of(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX)
        return 2;
    if (v >= INT32_MIN && v <= INT32_MAX)
        return 4;
    return 8;
}

static inline int64_t is_get(const struct set *set, size_t i)
{
    const char *p = set->data + i * set->width;
    switch (set->width) {
    case 2: { int16_t x; memcpy(&x, p, 2); return x; }
    case 4: { int32_t x; memcpy(&x, p, 4); return x; }
    default: { int64_t x; memcpy(&x, p, 8); return x; }
    }
}

static inline void is_put(char *buf, int width, size_t i, int64_t v)
{
    char *p = buf + i * (size_t)width;
    switch (width) {
    case 2: { int16_t x = (int16_t)v; memcpy(p, &x, 2); break; }
    case 4: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

/* Position of v, or where it would go (*found false). */
static size_t is_search(const struct set *set, int64_t v, bool *found)
{
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t x = is_get(set, mid);
        if (x == v) {
            *found = true;
            return mid;
        }
        if (x < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static bool is_add(struct store *s, struct set **sp, int64_t v)
{
    struct set *set = *sp;
    int w = width_of(v);
    if (w > set->width) {
        /* widen every member, from the last down, in place */
        *sp = set = resize(s, set, (size_t)(set->count + 1) * (size_t)w);
        for (size_t i = set->count; i-- > 0;)
            is_put(set->data, w, i, is_get(set, i));
        set->width = (uint8_t)w;
        /* a value needing the wider width is below or above them all */
        if (v < 0) {
            memmove(set->data + w, set->data, (size_t)set->count * (size_t)w);
            is_put(set->data, w, 0, v);
        } else {
            is_put(set->data, w, set->count, v);
        }
        set->count++;
        return true;
    }
    bool found;
    size_t at = is_search(set, v, &found);
    if (found)
        return false;
    *sp = set = resize(s, set, (size_t)(set->count + 1) * set->width);
    memmove(set->data + (at + 1) * set->width, set->data + at * set->width,
            (size_t)(set->count - at) * set->width);
    is_put(set->data, set->width, at, v);
    set->count++;
    return true;
}

static bool is_remove(struct store *s, struct set **sp, int64_t v)
{
    struct set *set = *sp;
    if (width_of(v) > set->width)
        return false;
    bool found;
    size_t at = is_search(set, v, &found);
    if (!found)
        return false;
    memmove(set->data + at * set->width, set->data + (at + 1) * set->width,
            (size_t)(set->count - at - 1) * set->width);
    set->count--;
    *sp = resize(s, set, (size_t)set->count * set->width);
    return true;
}

/* ---- listpack (shards/store/packed.h) ---- */

static long lp_find(const struct set *set, struct slice m)
{
    const char *p = set->data, *end = set->data + set->size;
    while (p < end) {
        struct slice e;
        const char *at = p;
        p = packed_elem(p, &e);
        if (packed_same(e, m))
            return (long)(at - set->data);
    }
    return -1;
}

static struct set *lp_append(struct store *s, struct set *set, struct slice m)
{
    size_t n = set->size + packed_elem_size(m.len);
    set = resize(s, set, n);
    char *w = packed_put_len(set->data + set->size, m.len);
    memcpy(w, m.ptr, m.len);
    set->size = (uint32_t)n;
    set->count++;
    return set;
}

/* ---- hashtable ---- */




static void table_insert(struct store *s, struct set *set, struct slice m)
{
    struct snode *n = store_alloc(s, sizeof *n + m.len);
    n->len = (uint32_t)m.len;
    memcpy(n->data, m.ptr, m.len);
    ctab_add(s, table_of(set), &n->link);
    set->count++;
}

/* ---- conversions ---- */

struct convert {
    struct store *s;
    struct set   *to;
};

static void convert_visit(void *arg, struct slice m)
{
    struct convert *c = arg;
    if (c->to->enc == ENC_TABLE)
        table_insert(c->s, c->to, m);
    else
        c->to = lp_append(c->s, c->to, m);
}

/* A set of encoding enc (listpack or hashtable) with the members of set,
 * which is freed. */
static struct set *convert(struct store *s, struct set *set, int enc, size_t hint)
{
    struct set *to;
    if (enc == ENC_TABLE) {
        to = table_new(s, hint);
    } else {
        to = store_alloc(s, HEADER);
        to->count = 0;
        to->size = 0;
        to->enc = (uint8_t)enc;
        to->width = 0;
    }
    struct convert c = { s, to };
    set_foreach(set, convert_visit, &c);
    store_free(s, set);
    return c.to;
}

/* ---- the API ---- */

struct set *set_create(struct store *s, struct slice first, size_t size_hint, const struct set_limits *lim)
{
    struct set *set = store_alloc(s, HEADER);
    set->count = 0;
    set->size = 0;
    set->width = 0;
    int64_t v;
    if (as_int(first, &v) && size_hint <= lim->max_intset_entries) {
        set->enc = ENC_INTSET;
        set->width = 2;
    } else {
        set->enc = ENC_LISTPACK;
        if (size_hint > lim->max_listpack_entries || first.len > lim->max_listpack_value)
            set = convert(s, set, ENC_TABLE, size_hint);
    }
    return set;
}

bool set_free_step(struct store *s, struct set *set, size_t *budget)
{
    if (set->enc == ENC_TABLE) {
        struct ctab *t = table_of(set);
        if (!ctab_free_step(s, t, budget))
            return false;
        store_free(s, t);
    }
    store_free(s, set);
    if (*budget)
        (*budget)--;
    return true;
}

void set_destroy(struct store *s, struct set *set)
{
    size_t all = SIZE_MAX;
    set_free_step(s, set, &all);
}

size_t set_len(const struct set *set) { return set->count; }

size_t set_memory(const struct set *set, size_t samples)
{
    size_t m = store_alloc_size(set);
    if (set->enc == ENC_TABLE)
        m += store_alloc_size(table_of(set)) + ctab_memory(table_of(set), samples);
    return m;
}

const char *set_encoding(const struct set *set)
{
    switch (set->enc) {
    case ENC_INTSET:   return "intset";
    case ENC_LISTPACK: return "listpack";
    default:           return "hashtable";
    }
}

bool set_contains(const struct set *set, struct slice m)
{
    int64_t v;
    bool found;
    switch (set->enc) {
    case ENC_INTSET:
        if (!as_int(m, &v) || width_of(v) > set->width)
            return false;
        is_search(set, v, &found);
        return found;
    case ENC_LISTPACK:
        return lp_find(set, m) >= 0;
    default:
        return ctab_find(table_of(set), m) != NULL;
    }
}

bool set_add(struct store *s, struct set **sp, struct slice m, const struct set_limits *lim)
{
    struct set *set = *sp;
    int64_t v;
    if (set->enc == ENC_INTSET) {
        if (as_int(m, &v)) {
            if (!is_add(s, sp, v))
                return false;
            if ((*sp)->count > lim->max_intset_entries)
                *sp = convert(s, *sp, ENC_TABLE, (*sp)->count);
            return true;
        }
        /* another member: a listpack if it fits (every integer is at most
         * 20 bytes of text), else a hashtable */
        if (set->count < lim->max_listpack_entries && m.len <= lim->max_listpack_value &&
            (set->count == 0 || lim->max_listpack_value >= 20))
            *sp = set = convert(s, set, ENC_LISTPACK, 0);
        else
            *sp = set = convert(s, set, ENC_TABLE, set->count + 1);
    }
    if (set->enc == ENC_LISTPACK) {
        if (lp_find(set, m) >= 0)
            return false;
        if (set->count < lim->max_listpack_entries && m.len <= lim->max_listpack_value) {
            *sp = lp_append(s, set, m);
            return true;
        }
        *sp = set = convert(s, set, ENC_TABLE, set->count + 1);
    }
    if (ctab_find(table_of(set), m))
        return false;
    table_insert(s, set, m);
    return true;
}

bool set_remove(struct store *s, struct set **sp, struct slice m)
{
    struct set *set = *sp;
    int64_t v;
    switch (set->enc) {
    case ENC_INTSET:
        return as_int(m, &v) && is_remove(s, sp, v);
    case ENC_LISTPACK: {
        long at = lp_find(set, m);
        if (at < 0)
            return false;
        size_t sz = packed_elem_size(m.len);
        memmove(set->data + at, set->data + at + sz, set->size - (size_t)at - sz);
        set->size -= (uint32_t)sz;
        set->count--;
        *sp = resize(s, set, set->size);
        return true;
    }
    default: {
        struct ctab *t = table_of(set);
        struct ctab_node **link = ctab_find(t, m);
        if (!link)
            return false;
        struct ctab_node *n = *link;
        ctab_unlink(s, t, link);
        store_free(s, n);
        set->count--;
        return true;
    }
    }
}

struct visit {
    set_visit_fn *fn;
    void         *arg;
};

static void visit_node(void *arg, const struct ctab_node *n)
{
    struct visit *v = arg;
    v->fn(v->arg, node_key(n));
}

void set_foreach(const struct set *set, set_visit_fn *fn, void *arg)
{
    char t[SET_INT_TEXT];
    switch (set->enc) {
    case ENC_INTSET:
        for (size_t i = 0; i < set->count; i++)
            fn(arg, int_text(is_get(set, i), t));
        break;
    case ENC_LISTPACK: {
        const char *p = set->data, *end = set->data + set->size;
        while (p < end) {
            struct slice e;
            p = packed_elem(p, &e);
            fn(arg, e);
        }
        break;
    }
    default: {
        struct visit vi = { fn, arg };
        ctab_foreach(table_of(set), visit_node, &vi);
    }
    }
}


uint64_t set_scan(const struct set *set, uint64_t cursor, size_t count, set_visit_fn *fn, void *arg)
{
    if (set->enc != ENC_TABLE) {
        set_foreach(set, fn, arg);
        return 0;
    }
    struct visit vi = { fn, arg };
    return ctab_scan(table_of(set), cursor, count, visit_node, &vi);
}

struct slice set_random(const struct set *set, uint64_t (*rnd)(void *), void *rarg, char *text)
{
    assert(set->count > 0);
    switch (set->enc) {
    case ENC_INTSET:
        return int_text(is_get(set, (size_t)(rnd(rarg) % set->count)), text);
    case ENC_LISTPACK: {
        size_t k = (size_t)(rnd(rarg) % set->count);
        const char *p = set->data;
        struct slice e;
        for (;;) {
            p = packed_elem(p, &e);
            if (k-- == 0)
                return e;
        }
    }
    default:
        return node_key(ctab_random(table_of(set), rnd, rarg));
    }
}

static void dup_node(void *arg, const struct ctab_node *n)
{
    void **a = arg;
    struct slice m = node_key(n);
    struct snode *c = store_alloc(a[0], sizeof *c + m.len);
    c->len = (uint32_t)m.len;
    memcpy(c->data, m.ptr, m.len);
    ctab_add(a[0], a[1], &c->link);
}

struct set *set_dup(struct store *s, const struct set *set)
{
    if (set->enc == ENC_INTSET || set->enc == ENC_LISTPACK) {
        size_t n = HEADER + (set->enc == ENC_INTSET ? (size_t)set->count * set->width : set->size);
        struct set *d = store_alloc(s, n);
        memcpy(d, set, n);
        return d;
    }
    struct set *d = table_new(s, set->count);
    void *arg[2] = { s, table_of(d) };
    ctab_foreach(table_of(set), dup_node, arg);
    d->count = set->count;
    return d;
}

static void encode_member(void *arg, struct slice m)
{
    struct buf *out = arg;
    uint32_t l = (uint32_t)m.len;
    buf_append(out, &l, 4);
    buf_append(out, m.ptr, m.len);
}

void set_encode(const struct set *set, struct buf *out)
{
    buf_append(out, &set->enc, 1);
    buf_append(out, &set->count, 4);
    set_foreach(set, encode_member, out);
}

struct set *set_decode(struct store *s, const char *p, size_t n)
{
    const char *end = p + n;
    if (n < 5 || (uint8_t)p[0] > ENC_TABLE)
        return NULL;
    uint8_t enc = (uint8_t)p[0];
    uint32_t count;
    memcpy(&count, p + 1, 4);
    p += 5;
    /* keep the encoding: limits that never convert */
    const struct set_limits any = { SIZE_MAX, SIZE_MAX, SIZE_MAX };
    struct set *set = store_alloc(s, HEADER);
    set->count = 0;
    set->size = 0;
    set->width = 0;
    set->enc = ENC_LISTPACK;
    if (enc == ENC_INTSET)
        set->enc = ENC_INTSET, set->width = 2;
    else if (enc == ENC_TABLE)
        set = convert(s, set, ENC_TABLE, count);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t l;
        if (end - p < 4)
            goto bad;
        memcpy(&l, p, 4);
        p += 4;
        if ((size_t)(end - p) < l)
            goto bad;
        struct slice m = { p, l };
        int64_t v;
        if (set->enc == ENC_INTSET && !as_int(m, &v))
            goto bad;
        set_add(s, &set, m, &any);
        p += l;
    }
    if (p != end)
        goto bad;
    return set;
bad:
    set_destroy(s, set);
    return NULL;
}
