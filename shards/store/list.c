/* list: a Redis list's value object (see list.h for the contract).
 *
 * The header (struct list) is allocated once and never moves; the nodes
 * are a doubly linked chain, each one allocation holding count elements in
 * bytes bytes: [LEB128 length][bytes][back-length], the back-length being
 * the size of the first two parts written so that it reads from its last
 * byte leftwards (each byte's top bit: more bytes to the left). A node
 * grows by reallocation (so its address changes; its neighbours and the
 * header are relinked) and never holds zero elements. */
#include "shards/store/list.h"
#include "shards/store/store.h"

#include <stdlib.h>
#include <string.h>

const struct list_limits list_default_limits = { -2 };

struct list_node {
    struct list_node *prev, *next;
    uint32_t          count;
    uint32_t          bytes;
    uint32_t          cap;
    char              data[];
};

struct list {
    struct list_node *head, *tail;
    size_t            len;
    size_t            nodes;
    long long         fill;   /* the limit last given (for shrinking back) */
    bool              quick;  /* OBJECT ENCODING quicklist */
};

/* Redis's limit for a positive fill: a node's bytes stay under this too. */
#define SIZE_SAFETY_LIMIT 8192

static size_t bytes_limit(long long fill)
{
    static const size_t by_neg[] = { 4096, 8192, 16384, 32768, 65536 };
    if (fill >= 0)
        return SIZE_SAFETY_LIMIT;
    long long i = -fill - 1;
    if (i > 4)
        i = 4;
    return by_neg[i];
}

/* The bytes of elements a node holds at most: its allocation, header
 * included, within the limit. */
static size_t node_data_limit(long long fill);

/* ---- elements ---------------------------------------------------------- */

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 128) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t elem_size(size_t len)
{
    size_t front = varint_len(len) + len;
    return front + varint_len(front);
}

static char *write_elem(char *p, struct slice v)
{
    char *start = p;
    size_t n = v.len;
    while (n >= 128) {
        *p++ = (char)((n & 127) | 128);
        n >>= 7;
    }
    *p++ = (char)n;
    if (v.len)
        memcpy(p, v.ptr, v.len);
    p += v.len;
    size_t front = (size_t)(p - start);
    /* back-length: lowest 7 bits first, every byte but the first flagged */
    size_t i = 0;
    do {
        *p++ = (char)((front & 127) | (i ? 128 : 0));
        front >>= 7;
        i++;
    } while (front);
    return p;
}

/* The element at p; returns its whole size. */
static size_t read_elem(const char *p, struct slice *out)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t len = 0, shift = 0, i = 0;
    for (;;) {
        unsigned char b = u[i++];
        len |= (size_t)(b & 127) << shift;
        if (!(b & 128))
            break;
        shift += 7;
    }
    out->ptr = p + i;
    out->len = len;
    size_t front = i + len;
    return front + varint_len(front);
}

/* Offset of the element before the one at off (off > 0). */
static size_t prev_off(const struct list_node *n, size_t off)
{
    const unsigned char *u = (const unsigned char *)n->data;
    size_t p = off - 1, front = 0;
    for (;;) {
        unsigned char b = u[p];
        front = (front << 7) | (b & 127);
        if (!(b & 128))
            break;
        p--;
    }
    return p - front;
}

static size_t last_off(const struct list_node *n)
{
    return prev_off(n, n->bytes);
}

/* ---- nodes ------------------------------------------------------------- */

static struct list_node *node_new(struct store *s, size_t cap)
{
    struct list_node *n = store_alloc(s, sizeof *n + cap);
    n->prev = n->next = NULL;
    n->count = 0;
    n->bytes = 0;
    n->cap = (uint32_t)cap;
    return n;
}

/* Point n's neighbours (or the header's ends) at n after it moved. */
static void relink(struct list *l, struct list_node *n)
{
    if (n->prev)
        n->prev->next = n;
    else
        l->head = n;
    if (n->next)
        n->next->prev = n;
    else
        l->tail = n;
}

static struct list_node *node_reserve(struct store *s, struct list *l, struct list_node *n, size_t extra)
{
    size_t need = (size_t)n->bytes + extra;
    if (need <= n->cap)
        return n;
    /* a list of several nodes is a big one: its nodes fill up, so they get
     * their whole size at once, header included (8 KB nodes are 8 KB
     * allocations, not a size class above); a small list's node takes
     * just what it holds (the allocator's size classes leave the room
     * for the next pushes) */
    size_t lim = node_data_limit(l->fill);
    size_t cap = l->nodes > 1 && need <= lim ? lim : need;
    n = store_realloc(s, n, sizeof *n + cap);
    n->cap = (uint32_t)cap;
    relink(l, n);
    return n;
}

/* Give back most of a node's room once it is mostly empty. */
static struct list_node *node_shrink(struct store *s, struct list *l, struct list_node *n)
{
    if (n->cap > 256 && n->bytes < n->cap / 4) {
        size_t cap = (size_t)n->bytes * 2;
        n = store_realloc(s, n, sizeof *n + cap);
        n->cap = (uint32_t)cap;
        relink(l, n);
    }
    return n;
}

static void link_after(struct list *l, struct list_node *at, struct list_node *n)
{
    n->prev = at;
    n->next = at ? at->next : l->head;
    if (n->next)
        n->next->prev = n;
    else
        l->tail = n;
    if (at)
        at->next = n;
    else
        l->head = n;
    l->nodes++;
}

static void unlink_free(struct store *s, struct list *l, struct list_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    l->nodes--;
    store_free(s, n);
}

static size_t node_data_limit(long long fill)
{
    return bytes_limit(fill) - sizeof(struct list_node);
}

/* May n take one more element of sz bytes under the limit? */
static bool allows(const struct list_node *n, size_t sz, long long fill)
{
    size_t lim = node_data_limit(fill);
    if (sz > lim || (size_t)n->bytes + sz > lim)
        return false;
    return fill < 0 || (long long)n->count + 1 <= (fill ? fill : 1);
}

static bool node_over(const struct list_node *n, long long fill, size_t div)
{
    if (fill >= 0 && (size_t)n->count > (size_t)(fill ? fill : 1) / div)
        return true;
    return n->bytes > node_data_limit(fill) / div;
}

/* Keep OBJECT ENCODING as Redis 7.2 would answer. */
static void update_encoding(struct list *l)
{
    if (l->nodes > 1)
        l->quick = true;
    else if (l->nodes == 0)
        l->quick = false;
    else if (!l->quick)
        l->quick = node_over(l->head, l->fill, 1);
    else
        l->quick = node_over(l->head, l->fill, 2);
}

/* Split n so that its first k elements (0 < k < count) stay and the rest
 * go to a new node after it. */
static void node_split(struct store *s, struct list *l, struct list_node *n, size_t k)
{
    size_t off = 0;
    struct slice v;
    for (size_t i = 0; i < k; i++)
        off += read_elem(n->data + off, &v);
    size_t rest = n->bytes - off;
    struct list_node *m = node_new(s, rest);
    memcpy(m->data, n->data + off, rest);
    m->bytes = (uint32_t)rest;
    m->count = (uint32_t)(n->count - k);
    n->bytes = (uint32_t)off;
    n->count = (uint32_t)k;
    link_after(l, n, m);
}

/* ---- the list ---------------------------------------------------------- */

struct list *list_create(struct store *s)
{
    struct list *l = store_alloc(s, sizeof *l);
    memset(l, 0, sizeof *l);
    l->fill = list_default_limits.fill;
    return l;
}

bool list_free_step(struct store *s, struct list *l, size_t *budget)
{
    while (l->head) {
        if (*budget == 0)
            return false;
        struct list_node *n = l->head;
        l->head = n->next;
        l->len -= n->count;
        l->nodes--;
        store_free(s, n);
        (*budget)--;
    }
    store_free(s, l);
    if (*budget)
        (*budget)--;
    return true;
}

void list_destroy(struct store *s, struct list *l)
{
    size_t all = SIZE_MAX;
    list_free_step(s, l, &all);
}

size_t list_len(const struct list *l) { return l->len; }

size_t list_memory(const struct list *l, size_t samples)
{
    size_t seen = 0, bytes = 0;
    for (const struct list_node *n = l->head; n && (samples == 0 || seen < samples); n = n->next) {
        bytes += store_alloc_size(n);
        seen++;
    }
    return store_alloc_size(l) + (seen ? (size_t)((double)bytes / (double)seen * (double)l->nodes) : 0);
}

const char *list_encoding(const struct list *l) { return l->quick ? "quicklist" : "listpack"; }

void list_push(struct store *s, struct list *l, bool head, struct slice v, const struct list_limits *lim)
{
    l->fill = lim->fill;
    size_t sz = elem_size(v.len);
    struct list_node *n = head ? l->head : l->tail;
    if (!n || !allows(n, sz, lim->fill)) {
        n = node_new(s, sz);
        link_after(l, head ? NULL : l->tail, n);
    } else {
        n = node_reserve(s, l, n, sz);
    }
    if (head) {
        memmove(n->data + sz, n->data, n->bytes);
        write_elem(n->data, v);
    } else {
        write_elem(n->data + n->bytes, v);
    }
    n->bytes += (uint32_t)sz;
    n->count++;
    l->len++;
    update_encoding(l);
}

struct slice list_peek(const struct list *l, bool head)
{
    struct slice v;
    if (head)
        read_elem(l->head->data, &v);
    else
        read_elem(l->tail->data + last_off(l->tail), &v);
    return v;
}

/* Remove the element at off of n (its size sz). */
static void node_cut(struct store *s, struct list *l, struct list_node *n, size_t off, size_t sz, size_t k)
{
    memmove(n->data + off, n->data + off + sz, n->bytes - off - sz);
    n->bytes -= (uint32_t)sz;
    n->count -= (uint32_t)k;
    l->len -= k;
    if (n->count == 0)
        unlink_free(s, l, n);
    else
        node_shrink(s, l, n);
}

void list_pop(struct store *s, struct list *l, bool head)
{
    struct slice v;
    if (head) {
        node_cut(s, l, l->head, 0, read_elem(l->head->data, &v), 1);
    } else {
        struct list_node *n = l->tail;
        size_t off = last_off(n);
        node_cut(s, l, n, off, n->bytes - off, 1);
    }
    update_encoding(l);
}

/* The node and offset of the element at index (< len). */
static void locate(const struct list *l, size_t index, struct list_node **np, size_t *offp)
{
    struct list_node *n;
    size_t in; /* index within n */
    if (index < l->len / 2) {
        n = l->head;
        while (index >= n->count) {
            index -= n->count;
            n = n->next;
        }
        in = index;
    } else {
        size_t back = l->len - 1 - index; /* from the tail */
        n = l->tail;
        while (back >= n->count) {
            back -= n->count;
            n = n->prev;
        }
        in = n->count - 1 - back;
    }
    size_t off;
    struct slice v;
    if (in < n->count / 2) {
        off = 0;
        for (size_t i = 0; i < in; i++)
            off += read_elem(n->data + off, &v);
    } else {
        off = last_off(n);
        for (size_t i = n->count - 1; i > in; i--)
            off = prev_off(n, off);
    }
    *np = n;
    *offp = off;
}

bool list_index(const struct list *l, long long index, struct slice *out)
{
    if (index < 0)
        index += (long long)l->len;
    if (index < 0 || (size_t)index >= l->len)
        return false;
    struct list_node *n;
    size_t off;
    locate(l, (size_t)index, &n, &off);
    read_elem(n->data + off, out);
    return true;
}

void list_iter_at(const struct list *l, size_t index, struct list_iter *it)
{
    it->l = l;
    it->index = index;
    if (index >= l->len) {
        it->node = NULL;
        it->off = 0;
        return;
    }
    locate(l, index, &it->node, &it->off);
}

bool list_iter_next(struct list_iter *it, struct slice *out)
{
    if (!it->node)
        return false;
    it->off += read_elem(it->node->data + it->off, out);
    it->index++;
    if (it->off >= it->node->bytes) {
        it->node = it->node->next;
        it->off = 0;
    }
    return true;
}

bool list_iter_prev(struct list_iter *it, struct slice *out)
{
    if (!it->node)
        return false;
    read_elem(it->node->data + it->off, out);
    it->index--;
    if (it->off == 0) {
        it->node = it->node->prev;
        it->off = it->node ? last_off(it->node) : 0;
    } else {
        it->off = prev_off(it->node, it->off);
    }
    return true;
}

void list_insert(struct store *s, struct list *l, size_t index, struct slice v, const struct list_limits *lim)
{
    if (index >= l->len) {
        list_push(s, l, false, v, lim);
        return;
    }
    if (index == 0) {
        list_push(s, l, true, v, lim);
        return;
    }
    l->fill = lim->fill;
    struct list_node *n;
    size_t off;
    locate(l, index, &n, &off);
    size_t sz = elem_size(v.len);
    n = node_reserve(s, l, n, sz);
    memmove(n->data + off + sz, n->data + off, n->bytes - off);
    write_elem(n->data + off, v);
    n->bytes += (uint32_t)sz;
    n->count++;
    l->len++;
    /* past the limit: halve the node (an over-long element ends alone in
     * one half or shares it with few) */
    if (node_over(n, lim->fill, 1) && n->count > 1)
        node_split(s, l, n, n->count / 2);
    update_encoding(l);
}

void list_replace(struct store *s, struct list *l, size_t index, struct slice v, const struct list_limits *lim)
{
    list_delete_range(s, l, index, 1);
    list_insert(s, l, index, v, lim);
}

void list_delete_range(struct store *s, struct list *l, size_t index, size_t n)
{
    if (n == 0)
        return;
    struct list_node *node;
    size_t off;
    locate(l, index, &node, &off);
    while (n > 0 && node) {
        struct list_node *next = node->next;
        if (off == 0 && n >= node->count) {
            n -= node->count;
            l->len -= node->count;
            unlink_free(s, l, node);
        } else {
            size_t end = off, k = 0;
            struct slice v;
            while (k < n && end < node->bytes) {
                end += read_elem(node->data + end, &v);
                k++;
            }
            n -= k;
            node_cut(s, l, node, off, end - off, k);
        }
        node = next;
        off = 0;
    }
    update_encoding(l);
}

static bool same(struct slice a, struct slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

size_t list_remove(struct store *s, struct list *l, struct slice v, long long count)
{
    size_t skip = 0, limit = SIZE_MAX;
    struct slice e;
    if (count < 0) {
        /* the last -count matches: skip all the others from the head */
        size_t matches = 0;
        for (struct list_node *n = l->head; n; n = n->next)
            for (size_t off = 0; off < n->bytes;)
                if ((off += read_elem(n->data + off, &e)), same(e, v))
                    matches++;
        limit = (size_t)-(count + 1) + 1;
        skip = matches > limit ? matches - limit : 0;
    } else if (count > 0) {
        limit = (size_t)count;
    }
    size_t removed = 0;
    struct list_node *n = l->head;
    while (n && removed < limit) {
        struct list_node *next = n->next;
        size_t r = 0, w = 0, gone = 0;
        while (r < n->bytes) {
            size_t sz = read_elem(n->data + r, &e);
            bool drop = false;
            if (same(e, v) && removed < limit) {
                if (skip)
                    skip--;
                else
                    drop = true;
            }
            if (drop) {
                removed++;
                gone++;
            } else {
                if (w != r)
                    memmove(n->data + w, n->data + r, sz);
                w += sz;
            }
            r += sz;
        }
        if (gone) {
            n->bytes = (uint32_t)w;
            n->count -= (uint32_t)gone;
            l->len -= gone;
            if (n->count == 0)
                unlink_free(s, l, n);
            else
                node_shrink(s, l, n);
        }
        n = next;
    }
    update_encoding(l);
    return removed;
}

struct list *list_dup(struct store *s, const struct list *l)
{
    struct list *c = list_create(s);
    c->fill = l->fill;
    for (const struct list_node *n = l->head; n; n = n->next) {
        struct list_node *m = node_new(s, n->bytes);
        memcpy(m->data, n->data, n->bytes);
        m->bytes = n->bytes;
        m->count = n->count;
        link_after(c, c->tail, m);
        c->len += n->count;
    }
    c->quick = l->quick;
    return c;
}

size_t list_visit(const struct list *l, size_t start, size_t count, list_visit_fn *fn, void *arg)
{
    if (start >= l->len)
        return l->len;
    struct list_iter it;
    struct slice v;
    list_iter_at(l, start, &it);
    size_t i = 0;
    while (i < count && list_iter_next(&it, &v)) {
        fn(arg, v);
        i++;
    }
    return start + i;
}

static void encode_elem(void *arg, struct slice v)
{
    struct buf *out = arg;
    uint32_t n = (uint32_t)v.len;
    buf_append(out, &n, 4);
    buf_append(out, v.ptr, v.len);
}

void list_encode(const struct list *l, struct buf *out)
{
    uint32_t count = (uint32_t)l->len;
    buf_append(out, &count, 4);
    list_visit(l, 0, SIZE_MAX, encode_elem, out);
}

struct list *list_decode(struct store *s, const char *p, size_t n)
{
    const char *end = p + n;
    if (n < 4)
        return NULL;
    uint32_t count;
    memcpy(&count, p, 4);
    p += 4;
    struct list *l = list_create(s);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len;
        if (end - p < 4)
            goto bad;
        memcpy(&len, p, 4);
        p += 4;
        if ((size_t)(end - p) < len)
            goto bad;
        list_push(s, l, false, (struct slice){ p, len }, &list_default_limits);
        p += len;
    }
    if (p != end)
        goto bad;
    return l;
bad:
    list_destroy(s, l);
    return NULL;
}
