/* list: a Redis list's value object (see list.h for the contract).
 *
 * Two forms, told apart by the first byte of the object:
 *  - a block (struct list_block): a small list, the one the listpack rule
 *    of OBJECT ENCODING allows, is one allocation, an 8-byte header and
 *    its elements right after it, as Redis's listpack object is; it grows
 *    by reallocation (so the list moves), to the allocator's size class
 *    (what the class leaves over is room for the next pushes);
 *  - a chain (struct list): a 32-byte header and a doubly linked chain of
 *    nodes, each one allocation holding count elements in bytes bytes.
 * Elements are written the same way in both: [LEB128 length][bytes]
 * [back-length], the back-length being the size of the first two parts
 * written so that it reads from its last byte leftwards (each byte's top
 * bit: more bytes to the left).
 *
 * A block becomes a chain when a write would take it past the limit (the
 * write then runs on the chain: a new node, a split); a chain becomes a
 * block again after a write leaves it one node of at most half the limit
 * (or none): the form is OBJECT ENCODING's listpack / quicklist, with
 * Redis 7.2's hysteresis. A node grows by reallocation (its neighbours
 * and the header are relinked) and never holds zero elements.
 *
 * Compression (list-compress-depth d > 0, as Redis's quicklist): the
 * nodes of a chain past the first d and before the last d hold their
 * elements LZF-compressed (core/lzf.h) when that saves at least
 * COMPRESS_MIN_GAIN bytes of a node of COMPRESS_MIN_BYTES or more. The
 * depth is the chain's own, taken when it is made from a block (a
 * CONFIG SET reaches the lists that become chains after it, as in Redis,
 * where a quicklist keeps the depth it was created with). Invariant, after
 * every call that changes a chain: its first and last d nodes are plain
 * (pushes, pops and peeks at the ends never see a compressed node), every
 * node between them is compressed unless compressing it did not pay. It
 * is kept:
 *  - at the ends (push, pop, a range cut from an end) by keep_window,
 *    O(d): the d nodes at each end made plain, the node after them
 *    compressed (a node that leaves the end window is compressed once);
 *  - after a change inside (LINSERT, LSET, LREM, a range cut from the
 *    middle) by keep_all, a walk of every node (those are O(N) in Redis
 *    too): the nodes the change touched were made plain to be changed.
 * A node changed in place is made plain first (node_unpack: a new
 * allocation, relinked) and compressed again afterwards (node_pack).
 * Reading does not change the list: a compressed node's elements are
 * decompressed into one of two per-thread buffers (node_view), used in
 * turn, so that a slice handed out by a walk stays valid while the walk
 * enters the next node (list.h: until the next read of a list). */
#include "shards/store/list.h"
#include "shards/store/store.h"
#include "core/lzf.h"

#include <stdlib.h>
#include <string.h>

const struct list_limits list_default_limits = { -2, 0 };

enum { FORM_BLOCK = 0, FORM_CHAIN = 1 };

struct list_node {
    struct list_node *prev, *next;
    uint32_t          count;
    uint32_t          bytes;  /* of its elements, as they are when plain */
    uint32_t          cap;    /* the bytes data may hold */
    uint32_t          packed; /* PLAIN, PLAIN_TRIED, or the size of data compressed */
    char              data[];
};

/* A node's packed: plain, or plain and found not worth compressing as it
 * is (not tried again until it changes). Any other value: data holds
 * `packed` bytes of LZF that make `bytes` bytes of elements. */
#define PLAIN       0u
#define PLAIN_TRIED UINT32_MAX
/* Redis's quicklist rules: a node under 48 bytes is not compressed, nor
 * one that would not get at least 8 bytes smaller. */
#define COMPRESS_MIN_BYTES 48
#define COMPRESS_MIN_GAIN  8

static inline bool node_is_packed(const struct list_node *n) { return n->packed != PLAIN && n->packed != PLAIN_TRIED; }
/* n's elements changed: a compression found not to pay may pay now. */
static inline void node_changed(struct list_node *n)
{
    if (n->packed == PLAIN_TRIED)
        n->packed = PLAIN;
}

/* A small list: 8 bytes before its elements, so ten elements of 10 bytes
 * (12 each) make a 128-byte block. Its sizes fit 16 bits: a block holds
 * at most node_data_limit (under 64 KB) bytes, elements take 2 bytes or
 * more. */
struct list_block {
    uint8_t  form;   /* FORM_BLOCK */
    uint8_t  spare;
    uint16_t count;
    uint16_t bytes;
    uint16_t cap;    /* the bytes data may hold: the allocation less the header */
    char     data[];
};
#define BLOCK_HEADER offsetof(struct list_block, data)

/* A chain's header: 32 bytes, one mimalloc size class. */
struct list {
    uint8_t           form;   /* FORM_CHAIN */
    uint8_t           depth;  /* list-compress-depth, taken when made (depth_of) */
    int16_t           fill;   /* the limit last given (for shrinking back): fill_of */
    uint32_t          nodes;
    size_t            len;
    struct list_node *head, *tail;
};

_Static_assert(BLOCK_HEADER == 8, "a small list's header is 8 bytes");
_Static_assert(sizeof(struct list) == 32, "a chain's header is one 32-byte block");
_Static_assert(sizeof(struct list_node) == 32, "a node's header is 32 bytes, compressed or not");

/* The form of l, read as a byte whichever struct it is. */
static inline bool is_block(const struct list *l) { return *(const unsigned char *)l == FORM_BLOCK; }
static inline struct list_block *block_of(struct list *l) { return (struct list_block *)l; }
static inline const struct list_block *cblock_of(const struct list *l) { return (const struct list_block *)l; }

/* A list-max-listpack-size as the header keeps it. Nothing changes for
 * the values clamped: past 32767 elements a node is bounded by its 8 KB
 * anyway (an element takes 2 bytes or more), and every fill below -5
 * reads as -5 (bytes_limit). */
static int16_t fill_of(long long fill)
{
    return (int16_t)(fill > INT16_MAX ? INT16_MAX : fill < INT16_MIN ? INT16_MIN : fill);
}

/* A list-compress-depth as the header keeps it: beyond 255 plain nodes at
 * each end (2 MB of elements with 8 KB nodes) a list is kept plain up to
 * 510 nodes where Redis would go on to the depth given. */
static uint8_t depth_of(long long depth)
{
    return (uint8_t)(depth < 0 ? 0 : depth > UINT8_MAX ? UINT8_MAX : depth);
}

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

/* The bytes of elements a node (or a block) holds at most: a node's
 * allocation, header included, within the limit. */
static size_t node_data_limit(long long fill)
{
    return bytes_limit(fill) - sizeof(struct list_node);
}

_Static_assert(65536 - sizeof(struct list_node) <= UINT16_MAX, "a block's bytes fit its 16 bits");

/* May count elements in bytes bytes take one more of sz bytes under the
 * limit? */
static bool fits(size_t count, size_t bytes, size_t sz, long long fill)
{
    size_t lim = node_data_limit(fill);
    if (sz > lim || bytes + sz > lim)
        return false;
    return fill < 0 || (long long)count + 1 <= (fill ? fill : 1);
}

/* Are count elements in bytes bytes past the limit divided by div? */
static bool over(size_t count, size_t bytes, long long fill, size_t div)
{
    if (fill >= 0 && count > (size_t)(fill ? fill : 1) / div)
        return true;
    return bytes > node_data_limit(fill) / div;
}

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

/* Offset of the element before the one at off (off > 0) in data. */
static size_t prev_off(const char *data, size_t off)
{
    const unsigned char *u = (const unsigned char *)data;
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

/* Offset of element in (< count) of count elements in bytes bytes, walked
 * to from the nearer end. */
static size_t elem_off(const char *data, size_t bytes, size_t count, size_t in)
{
    size_t off;
    struct slice v;
    if (in < count / 2) {
        off = 0;
        for (size_t i = 0; i < in; i++)
            off += read_elem(data + off, &v);
    } else {
        off = prev_off(data, bytes);
        for (size_t i = count - 1; i > in; i--)
            off = prev_off(data, off);
    }
    return off;
}

/* Offset after k elements from off. */
static size_t skip_elems(const char *data, size_t off, size_t k)
{
    struct slice v;
    for (size_t i = 0; i < k; i++)
        off += read_elem(data + off, &v);
    return off;
}

static bool same(struct slice a, struct slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* LREM's pass over one run of elements: drops those equal to v (after
 * skipping *skip matches, while *removed < limit), moving the kept ones
 * down; returns how many it dropped and the bytes kept in *bytes. */
static size_t remove_in(char *data, size_t *bytes, struct slice v, size_t *skip, size_t limit, size_t *removed)
{
    size_t r = 0, w = 0, gone = 0;
    struct slice e;
    while (r < *bytes) {
        size_t sz = read_elem(data + r, &e);
        bool drop = false;
        if (*removed < limit && same(e, v)) {
            if (*skip)
                (*skip)--;
            else
                drop = true;
        }
        if (drop) {
            (*removed)++;
            gone++;
        } else {
            if (w != r)
                memmove(data + w, data + r, sz);
            w += sz;
        }
        r += sz;
    }
    *bytes = w;
    return gone;
}

/* How many elements of a run equal v. */
static size_t matches_in(const char *data, size_t bytes, struct slice v)
{
    size_t n = 0;
    struct slice e;
    for (size_t off = 0; off < bytes;)
        if ((off += read_elem(data + off, &e)), same(e, v))
            n++;
    return n;
}

/* ---- blocks ------------------------------------------------------------ */

static uint16_t block_cap(const struct list_block *b)
{
    size_t cap = store_alloc_size(b) - BLOCK_HEADER;
    return (uint16_t)(cap > UINT16_MAX ? UINT16_MAX : cap);
}

static struct list_block *block_new(struct store *s, size_t need)
{
    struct list_block *b = store_alloc(s, BLOCK_HEADER + need);
    b->form = FORM_BLOCK;
    b->spare = 0;
    b->count = 0;
    b->bytes = 0;
    b->cap = block_cap(b);
    return b;
}

/* Room for extra more bytes (b may move): the size class that holds them. */
static struct list_block *block_reserve(struct store *s, struct list_block *b, size_t extra)
{
    size_t need = (size_t)b->bytes + extra;
    if (need <= b->cap)
        return b;
    b = store_realloc(s, b, BLOCK_HEADER + need);
    b->cap = block_cap(b);
    return b;
}

/* Give back most of the room once the block is mostly empty (b may
 * move), as node_shrink does for a node. */
static struct list_block *block_shrink(struct store *s, struct list_block *b)
{
    if (b->cap > 256 && b->bytes < b->cap / 4) {
        b = store_realloc(s, b, BLOCK_HEADER + (size_t)b->bytes * 2);
        b->cap = block_cap(b);
    }
    return b;
}

/* Cut bytes [off, off + sz) holding k elements (b may move). */
static struct list_block *block_cut(struct store *s, struct list_block *b, size_t off, size_t sz, size_t k)
{
    memmove(b->data + off, b->data + off + sz, b->bytes - off - sz);
    b->bytes = (uint16_t)(b->bytes - sz);
    b->count = (uint16_t)(b->count - k);
    return block_shrink(s, b);
}

/* ---- nodes ------------------------------------------------------------- */

static struct list_node *node_new(struct store *s, size_t cap)
{
    struct list_node *n = store_alloc(s, sizeof *n + cap);
    n->prev = n->next = NULL;
    n->count = 0;
    n->bytes = 0;
    n->cap = (uint32_t)cap;
    n->packed = PLAIN;
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
     * allocations, not a size class above); a node alone takes just what
     * it holds */
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

/* Split the plain node n so that its first k elements (0 < k < count)
 * stay and the rest go to a new (plain) node after it. */
static void node_split(struct store *s, struct list *l, struct list_node *n, size_t k)
{
    size_t off = skip_elems(n->data, 0, k);
    size_t rest = n->bytes - off;
    struct list_node *m = node_new(s, rest);
    memcpy(m->data, n->data + off, rest);
    m->bytes = (uint32_t)rest;
    m->count = (uint32_t)(n->count - k);
    n->bytes = (uint32_t)off;
    n->count = (uint32_t)k;
    node_changed(n);
    link_after(l, n, m);
}

/* ---- compression (list-compress-depth) -------------------------------- */

/* The biggest node compressed (what node_view can decompress into): an
 * element longer than a node's limit has a node of its own, of any size;
 * such a node past 64 KB stays plain. */
#define VIEW_MAX 65536

/* The two buffers a thread reads compressed nodes into, used in turn. */
static _Thread_local char view_buf[2][VIEW_MAX];
static _Thread_local unsigned view_next;

/* n's elements, plain: its own bytes, or (compressed) a copy decompressed
 * into the next of the thread's two buffers, valid until the one after. */
static const char *node_view(const struct list_node *n)
{
    if (!node_is_packed(n))
        return n->data;
    char *out = view_buf[view_next++ & 1];
    if (!lzf_decompress_exact(n->data, n->packed, out, n->bytes))
        abort(); /* written by node_pack: cannot be malformed */
    return out;
}

/* n made plain in place, to be changed (a new allocation, relinked). */
static struct list_node *node_unpack(struct store *s, struct list *l, struct list_node *n)
{
    if (!node_is_packed(n))
        return n;
    struct list_node *m = node_new(s, n->bytes);
    if (!lzf_decompress_exact(n->data, n->packed, m->data, n->bytes))
        abort();
    m->prev = n->prev;
    m->next = n->next;
    m->count = n->count;
    m->bytes = n->bytes;
    relink(l, m);
    store_free(s, n);
    return m;
}

/* n compressed, if that pays (a new allocation of just the compressed
 * bytes, relinked); else marked so that it is not tried again unchanged. */
static struct list_node *node_pack(struct store *s, struct list *l, struct list_node *n)
{
    if (n->packed != PLAIN || n->bytes < COMPRESS_MIN_BYTES || n->bytes > VIEW_MAX)
        return n;
    char out[VIEW_MAX];
    size_t z = lzf_compress(n->data, n->bytes, out, n->bytes - COMPRESS_MIN_GAIN);
    if (z == 0) {
        n->packed = PLAIN_TRIED;
        return n;
    }
    struct list_node *m = store_alloc(s, sizeof *m + z);
    *m = *n;
    m->cap = (uint32_t)z;
    m->packed = (uint32_t)z;
    memcpy(m->data, out, z);
    relink(l, m);
    store_free(s, n);
    return m;
}

/* After a change at an end (a push, a pop, a range cut from an end): the
 * depth's nodes at each end plain, the node after each window compressed.
 * The nodes further in did not move by more than the change at the end,
 * so they are as the invariant wants them. O(depth). */
static void keep_window(struct store *s, struct list *l)
{
    unsigned d = l->depth;
    if (d == 0)
        return;
    if (l->nodes <= 2 * d) {
        for (struct list_node *n = l->head; n; n = n->next)
            n = node_unpack(s, l, n);
        return;
    }
    struct list_node *n = l->head;
    for (unsigned i = 0; i < d; i++)
        n = node_unpack(s, l, n)->next;
    node_pack(s, l, n);
    n = l->tail;
    for (unsigned i = 0; i < d; i++)
        n = node_unpack(s, l, n)->prev;
    node_pack(s, l, n);
}

/* After a change inside the chain: every node as the invariant wants it
 * (the changed ones were made plain to be changed). O(nodes). */
static void keep_all(struct store *s, struct list *l)
{
    unsigned d = l->depth;
    if (d == 0)
        return;
    size_t i = 0, all = l->nodes;
    for (struct list_node *n = l->head; n; n = n->next, i++)
        n = i < d || i + d >= all ? node_unpack(s, l, n) : node_pack(s, l, n);
}

/* ---- between the forms ------------------------------------------------- */

/* b's elements as a chain of one node (none when b is empty), for a write
 * that takes the list past the limit lim->fill; b is freed. The chain
 * keeps lim->compress as its depth. */
static struct list *chain_of(struct store *s, struct list_block *b, const struct list_limits *lim)
{
    struct list *l = store_alloc(s, sizeof *l);
    memset(l, 0, sizeof *l);
    l->form = FORM_CHAIN;
    l->fill = fill_of(lim->fill);
    l->depth = depth_of(lim->compress);
    if (b->count) {
        struct list_node *n = node_new(s, b->bytes);
        memcpy(n->data, b->data, b->bytes);
        n->bytes = b->bytes;
        n->count = b->count;
        link_after(l, NULL, n);
        l->len = b->count;
    }
    store_free(s, b);
    return l;
}

/* The chain *lp (no more than one node) back to a block when it is none
 * or one node within half the limit (Redis 7.2's quicklist -> listpack
 * rule). */
static void settle_small(struct store *s, struct list **lp)
{
    struct list *l = *lp;
    struct list_node *n = l->head;
    if (n && over(n->count, n->bytes, l->fill, 2))
        return;
    if (n)
        n = node_unpack(s, l, n); /* an end: plain already (keep_window) */
    struct list_block *b = block_new(s, n ? n->bytes : 0);
    if (n) {
        memcpy(b->data, n->data, n->bytes);
        b->bytes = (uint16_t)n->bytes;
        b->count = (uint16_t)n->count;
        store_free(s, n);
    }
    store_free(s, l);
    *lp = (struct list *)b;
}

/* After a write to the chain *lp: a block again if it is small enough
 * (the test of several nodes inline: it is every pop of a big list). */
static inline void settle(struct store *s, struct list **lp)
{
    if ((*lp)->nodes <= 1)
        settle_small(s, lp);
}

/* ---- the list ---------------------------------------------------------- */

struct list *list_create(struct store *s)
{
    return (struct list *)block_new(s, 0);
}

bool list_free_step(struct store *s, struct list *l, size_t *budget)
{
    if (!is_block(l)) {
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

size_t list_len(const struct list *l) { return is_block(l) ? cblock_of(l)->count : l->len; }

size_t list_memory(const struct list *l, size_t samples)
{
    size_t m = store_alloc_size(l), seen = 0, bytes = 0;
    if (is_block(l))
        return m;
    for (const struct list_node *n = l->head; n && (samples == 0 || seen < samples); n = n->next) {
        bytes += store_alloc_size(n);
        seen++;
    }
    if (seen)
        m += seen == l->nodes ? bytes : (size_t)((double)bytes / (double)seen * (double)l->nodes);
    return m;
}

const char *list_encoding(const struct list *l) { return is_block(l) ? "listpack" : "quicklist"; }

/* (Not inlined, nor is block_push: list_push then only picks one, and the
 * other's register saves stay out of the path taken.) */
__attribute__((noinline)) static void chain_push(struct store *s, struct list *l, bool head, struct slice v,
                                                 const struct list_limits *lim)
{
    l->fill = fill_of(lim->fill);
    size_t sz = elem_size(v.len);
    struct list_node *n = head ? l->head : l->tail;
    if (!n || !fits(n->count, n->bytes, sz, lim->fill)) {
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
    node_changed(n);
    l->len++;
    keep_window(s, l);
}

__attribute__((noinline)) static void block_push(struct store *s, struct list **lp, bool head, struct slice v,
                                                 const struct list_limits *lim)
{
    struct list_block *b = block_of(*lp);
    size_t sz = elem_size(v.len);
    if (!fits(b->count, b->bytes, sz, lim->fill)) {
        *lp = chain_of(s, b, lim);
        chain_push(s, *lp, head, v, lim);
        return; /* two nodes, or one past the limit: a chain */
    }
    b = block_reserve(s, b, sz);
    if (head) {
        memmove(b->data + sz, b->data, b->bytes);
        write_elem(b->data, v);
    } else {
        write_elem(b->data + b->bytes, v);
    }
    b->bytes = (uint16_t)(b->bytes + sz);
    b->count++;
    *lp = (struct list *)b;
}

void list_push(struct store *s, struct list **lp, bool head, struct slice v, const struct list_limits *lim)
{
    if (is_block(*lp))
        block_push(s, lp, head, v, lim);
    else
        chain_push(s, *lp, head, v, lim);
}

struct slice list_peek(const struct list *l, bool head)
{
    struct slice v;
    if (is_block(l)) {
        const struct list_block *b = cblock_of(l);
        read_elem(head ? b->data : b->data + prev_off(b->data, b->bytes), &v);
    } else if (head) {
        read_elem(node_view(l->head), &v); /* an end: plain (keep_window) */
    } else {
        const char *data = node_view(l->tail);
        read_elem(data + prev_off(data, l->tail->bytes), &v);
    }
    return v;
}

/* Remove the k elements at off of n (their size sz); n is plain. */
static void node_cut(struct store *s, struct list *l, struct list_node *n, size_t off, size_t sz, size_t k)
{
    memmove(n->data + off, n->data + off + sz, n->bytes - off - sz);
    n->bytes -= (uint32_t)sz;
    n->count -= (uint32_t)k;
    node_changed(n);
    l->len -= k;
    if (n->count == 0)
        unlink_free(s, l, n);
    else
        node_shrink(s, l, n);
}

__attribute__((noinline)) static void block_pop(struct store *s, struct list **lp, bool head)
{
    struct list_block *b = block_of(*lp);
    struct slice v;
    size_t off = head ? 0 : prev_off(b->data, b->bytes);
    size_t sz = head ? read_elem(b->data, &v) : b->bytes - off;
    *lp = (struct list *)block_cut(s, b, off, sz, 1);
}

__attribute__((noinline)) static void chain_pop(struct store *s, struct list **lp, bool head)
{
    struct list *l = *lp;
    struct slice v;
    if (head) {
        node_cut(s, l, l->head, 0, read_elem(l->head->data, &v), 1);
    } else {
        struct list_node *n = l->tail;
        size_t off = prev_off(n->data, n->bytes);
        node_cut(s, l, n, off, n->bytes - off, 1);
    }
    keep_window(s, l);
    settle(s, lp);
}

void list_pop(struct store *s, struct list **lp, bool head)
{
    if (is_block(*lp))
        block_pop(s, lp, head);
    else
        chain_pop(s, lp, head);
}

/* The node of the element at index (< len) of a chain, and the element's
 * index within it. */
static void locate(const struct list *l, size_t index, struct list_node **np, size_t *inp)
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
    *np = n;
    *inp = in;
}

bool list_index(const struct list *l, long long index, struct slice *out)
{
    long long len = (long long)list_len(l);
    if (index < 0)
        index += len;
    if (index < 0 || index >= len)
        return false;
    if (is_block(l)) {
        const struct list_block *b = cblock_of(l);
        read_elem(b->data + elem_off(b->data, b->bytes, b->count, (size_t)index), out);
        return true;
    }
    struct list_node *n;
    size_t in;
    locate(l, (size_t)index, &n, &in);
    const char *data = node_view(n);
    read_elem(data + elem_off(data, n->bytes, n->count, in), out);
    return true;
}

/* Point it at the elements of n (NULL: past an end). */
static void iter_enter(struct list_iter *it, struct list_node *n)
{
    it->node = n;
    it->data = n ? node_view(n) : NULL;
    it->bytes = n ? n->bytes : 0;
}

void list_iter_at(const struct list *l, size_t index, struct list_iter *it)
{
    it->l = l;
    it->index = index;
    it->node = NULL;
    it->data = NULL;
    it->bytes = 0;
    it->off = 0;
    if (index >= list_len(l))
        return;
    if (is_block(l)) {
        const struct list_block *b = cblock_of(l);
        it->data = b->data;
        it->bytes = b->bytes;
        it->off = elem_off(b->data, b->bytes, b->count, index);
        return;
    }
    struct list_node *n;
    size_t in;
    locate(l, index, &n, &in);
    iter_enter(it, n);
    it->off = elem_off(it->data, it->bytes, n->count, in);
}

/* An iterator steps into the next node only when it reads from it (so a
 * compressed node is decompressed then, and the slice read last from the
 * node before stays valid: node_view's two buffers). PAST_START: the
 * backward walk has read a node's first element. */
#define PAST_START SIZE_MAX

bool list_iter_next(struct list_iter *it, struct slice *out)
{
    if (it->data && it->off >= it->bytes) {
        iter_enter(it, it->node ? it->node->next : NULL);
        it->off = 0;
    }
    if (!it->data)
        return false;
    it->off += read_elem(it->data + it->off, out);
    it->index++;
    return true;
}

bool list_iter_prev(struct list_iter *it, struct slice *out)
{
    if (it->data && it->off == PAST_START) {
        iter_enter(it, it->node ? it->node->prev : NULL);
        it->off = it->data ? prev_off(it->data, it->bytes) : 0;
    }
    if (!it->data)
        return false;
    read_elem(it->data + it->off, out);
    it->index--;
    it->off = it->off == 0 ? PAST_START : prev_off(it->data, it->off);
    return true;
}

static void chain_insert(struct store *s, struct list *l, size_t index, struct slice v, const struct list_limits *lim)
{
    l->fill = fill_of(lim->fill);
    struct list_node *n;
    size_t in;
    locate(l, index, &n, &in);
    n = node_unpack(s, l, n);
    size_t off = elem_off(n->data, n->bytes, n->count, in);
    size_t sz = elem_size(v.len);
    n = node_reserve(s, l, n, sz);
    memmove(n->data + off + sz, n->data + off, n->bytes - off);
    write_elem(n->data + off, v);
    n->bytes += (uint32_t)sz;
    n->count++;
    node_changed(n);
    l->len++;
    /* past the limit: halve the node (an over-long element ends alone in
     * one half or shares it with few) */
    if (over(n->count, n->bytes, lim->fill, 1) && n->count > 1)
        node_split(s, l, n, n->count / 2);
    keep_all(s, l);
}

void list_insert(struct store *s, struct list **lp, size_t index, struct slice v, const struct list_limits *lim)
{
    size_t len = list_len(*lp);
    if (index >= len || index == 0) {
        list_push(s, lp, index == 0 && len > 0, v, lim);
        return;
    }
    if (is_block(*lp)) {
        struct list_block *b = block_of(*lp);
        size_t sz = elem_size(v.len);
        if (over((size_t)b->count + 1, (size_t)b->bytes + sz, lim->fill, 1)) {
            /* the chain splits the node it grew past the limit */
            *lp = chain_of(s, b, lim);
            chain_insert(s, *lp, index, v, lim);
            settle(s, lp);
            return;
        }
        size_t off = elem_off(b->data, b->bytes, b->count, index);
        b = block_reserve(s, b, sz);
        memmove(b->data + off + sz, b->data + off, b->bytes - off);
        write_elem(b->data + off, v);
        b->bytes = (uint16_t)(b->bytes + sz);
        b->count++;
        *lp = (struct list *)b;
        return;
    }
    chain_insert(s, *lp, index, v, lim);
    settle(s, lp);
}

void list_replace(struct store *s, struct list **lp, size_t index, struct slice v, const struct list_limits *lim)
{
    list_delete_range(s, lp, index, 1);
    list_insert(s, lp, index, v, lim);
}

void list_delete_range(struct store *s, struct list **lp, size_t index, size_t n)
{
    if (n == 0)
        return;
    if (is_block(*lp)) {
        struct list_block *b = block_of(*lp);
        size_t off = elem_off(b->data, b->bytes, b->count, index);
        size_t end = index + n == b->count ? b->bytes : skip_elems(b->data, off, n);
        *lp = (struct list *)block_cut(s, b, off, end - off, n);
        return;
    }
    struct list *l = *lp;
    bool at_end = index == 0 || index + n == l->len;
    struct list_node *node;
    size_t in;
    locate(l, index, &node, &in);
    while (n > 0 && node) {
        struct list_node *next = node->next;
        if (in == 0 && n >= node->count) {
            n -= node->count;
            l->len -= node->count;
            unlink_free(s, l, node);
        } else {
            node = node_unpack(s, l, node);
            size_t off = elem_off(node->data, node->bytes, node->count, in), end = off, k = 0;
            struct slice v;
            while (k < n && end < node->bytes) {
                end += read_elem(node->data + end, &v);
                k++;
            }
            n -= k;
            node_cut(s, l, node, off, end - off, k);
        }
        node = next;
        in = 0;
    }
    if (at_end)
        keep_window(s, l);
    else
        keep_all(s, l);
    settle(s, lp);
}

size_t list_remove(struct store *s, struct list **lp, struct slice v, long long count)
{
    struct list *l = *lp;
    bool block = is_block(l);
    size_t skip = 0, limit = SIZE_MAX;
    if (count < 0) {
        /* the last -count matches: skip all the others from the head */
        size_t matches = 0;
        if (block)
            matches = matches_in(block_of(l)->data, block_of(l)->bytes, v);
        else
            for (struct list_node *n = l->head; n; n = n->next)
                matches += matches_in(node_view(n), n->bytes, v);
        limit = (size_t)-(count + 1) + 1;
        skip = matches > limit ? matches - limit : 0;
    } else if (count > 0) {
        limit = (size_t)count;
    }
    size_t removed = 0;
    if (block) {
        struct list_block *b = block_of(l);
        size_t bytes = b->bytes;
        size_t gone = remove_in(b->data, &bytes, v, &skip, limit, &removed);
        if (gone) {
            b->count = (uint16_t)(b->count - gone);
            b->bytes = (uint16_t)bytes;
            *lp = (struct list *)block_shrink(s, b);
        }
        return removed;
    }
    struct list_node *n = l->head;
    while (n && removed < limit) {
        struct list_node *next = n->next;
        if (node_is_packed(n) && matches_in(node_view(n), n->bytes, v) == 0) {
            n = next; /* nothing to remove here: left compressed */
            continue;
        }
        n = node_unpack(s, l, n);
        size_t bytes = n->bytes;
        size_t gone = remove_in(n->data, &bytes, v, &skip, limit, &removed);
        if (gone) {
            n->bytes = (uint32_t)bytes;
            n->count -= (uint32_t)gone;
            node_changed(n);
            l->len -= gone;
            if (n->count == 0)
                unlink_free(s, l, n);
            else
                node_shrink(s, l, n);
        }
        n = next;
    }
    keep_all(s, l);
    settle(s, lp);
    return removed;
}

struct list *list_dup(struct store *s, const struct list *l)
{
    if (is_block(l)) {
        const struct list_block *b = cblock_of(l);
        struct list_block *c = block_new(s, b->bytes);
        memcpy(c->data, b->data, b->bytes);
        c->bytes = b->bytes;
        c->count = b->count;
        return (struct list *)c;
    }
    struct list *c = store_alloc(s, sizeof *c);
    memset(c, 0, sizeof *c);
    c->form = FORM_CHAIN;
    c->fill = l->fill;
    c->depth = l->depth;
    for (const struct list_node *n = l->head; n; n = n->next) {
        size_t held = node_is_packed(n) ? n->packed : n->bytes; /* compressed nodes copied as they are */
        struct list_node *m = node_new(s, held);
        memcpy(m->data, n->data, held);
        m->bytes = n->bytes;
        m->count = n->count;
        m->packed = n->packed;
        link_after(c, c->tail, m);
        c->len += n->count;
    }
    return c;
}

size_t list_visit(const struct list *l, size_t start, size_t count, list_visit_fn *fn, void *arg)
{
    size_t len = list_len(l);
    if (start >= len)
        return len;
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
    uint32_t count = (uint32_t)list_len(l);
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
        list_push(s, &l, false, (struct slice){ p, len }, &list_default_limits);
        p += len;
    }
    if (p != end)
        goto bad;
    return l;
bad:
    list_destroy(s, l);
    return NULL;
}
