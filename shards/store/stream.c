/* stream: the stream value object (see stream.h for the contract).
 *
 * A node is one allocation: a header, then its entries back to back, each
 *
 *   flags    1 byte (ENTRY_DELETED)
 *   ms, seq  2 x 8 bytes, the entry's ID
 *   nfields  4 bytes
 *   pairs    nfields x (4-byte length, field bytes, 4-byte length, value bytes)
 *   size     4 bytes, the whole entry's bytes (a walk backwards reads it)
 *
 * Lengths are host-order and unaligned (memcpy). Besides its own bytes a
 * node counts the bytes Redis's listpack would take for the same entries
 * (lp_entries), so that the tail node closes where Redis's would: Redis
 * begins a new node when the tail's listpack bytes plus the new entry's
 * field and value lengths reach stream-node-max-bytes, or when it holds
 * stream-node-max-entries entries, deleted ones included. */
#include "shards/store/stream.h"
#include "shards/store/store.h"

#include <stdlib.h>
#include <string.h>

#define ENTRY_DELETED 1u
#define ENTRY_HEAD    21u /* flags, ms, seq, nfields */
#define ENTRY_TAIL    4u  /* size */
/* Redis's bound on a listpack (STREAM_LISTPACK_MAX_SIZE). */
#define NODE_MAX_BYTES_CAP (1LL << 30)
/* Redis's entry flags, for sizing its layout. */
#define LP_FLAG_SAMEFIELDS 2

const struct stream_limits stream_default_limits = { 4096, 100 };

struct stream_node {
    struct stream_id master;     /* the ID of its first entry (deleted or not) */
    uint32_t         live;       /* entries not deleted */
    uint32_t         deleted;    /* entries flagged deleted */
    uint64_t         lp_entries; /* bytes Redis's listpack gives its entries */
    size_t           used;       /* bytes of data in use */
    char             data[];
};

struct stream {
    struct stream_node **nodes;    /* by master ID; [head, head + len) in use */
    size_t               head, len, cap;
    size_t               empty;    /* nodes in use holding no live entry */
    size_t               length;   /* live entries */
    struct stream_id     last_id;
    struct stream_id     max_deleted;
    uint64_t             entries_added;
    struct stream_group **groups;  /* by name (stream_group.c) */
    size_t               ngroups, groups_cap;
    size_t               mem;      /* bytes of every allocation below */
};

/* ---- IDs ---- */

bool stream_id_incr(struct stream_id *a)
{
    if (a->seq == UINT64_MAX) {
        if (a->ms == UINT64_MAX)
            return false;
        a->ms++;
        a->seq = 0;
    } else {
        a->seq++;
    }
    return true;
}

bool stream_id_decr(struct stream_id *a)
{
    if (a->seq == 0) {
        if (a->ms == 0)
            return false;
        a->ms--;
        a->seq = UINT64_MAX;
    } else {
        a->seq--;
    }
    return true;
}

static size_t format_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t stream_id_format(char *buf, struct stream_id id)
{
    size_t n = format_u64(buf, id.ms);
    buf[n++] = '-';
    n += format_u64(buf + n, id.seq);
    buf[n] = '\0';
    return n;
}

/* ---- Redis's listpack sizes ---- */

static size_t lp_backlen_size(uint64_t l)
{
    return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

size_t stream_lp_int_size(int64_t v)
{
    size_t n = v >= 0 && v <= 127           ? 1
               : v >= -4096 && v <= 4095    ? 2
               : v >= INT16_MIN && v <= INT16_MAX ? 3
               : v >= -8388608 && v <= 8388607    ? 4
               : v >= INT32_MIN && v <= INT32_MAX ? 5
                                                  : 9;
    return n + lp_backlen_size(n);
}

/* Redis's string2ll: the canonical text of a 64-bit integer. */
static bool canonical_int(struct slice s, int64_t *v)
{
    if (s.len == 0 || s.len > 20)
        return false;
    size_t i = s.ptr[0] == '-' ? 1 : 0;
    if (i == s.len || (s.ptr[i] == '0' && (s.len - i > 1 || i == 1)))
        return false;
    uint64_t x = 0;
    for (; i < s.len; i++) {
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (s.ptr[0] == '-') {
        if (x > (uint64_t)INT64_MAX + 1)
            return false;
        *v = (int64_t)(0 - x);
    } else {
        if (x > (uint64_t)INT64_MAX)
            return false;
        *v = (int64_t)x;
    }
    return true;
}

size_t stream_lp_string_size(struct slice s)
{
    int64_t v;
    if (canonical_int(s, &v))
        return stream_lp_int_size(v);
    size_t n = (s.len < 64 ? 1 : s.len < 4096 ? 2 : 5) + s.len;
    return n + lp_backlen_size(n);
}

/* ---- entries in a node ---- */

static inline uint32_t get_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t get_u64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline struct stream_id entry_id_at(const char *p)
{
    return (struct stream_id){ get_u64(p + 1), get_u64(p + 9) };
}

static inline size_t entry_size_before(const struct stream_node *n, size_t end)
{
    return get_u32(n->data + end - ENTRY_TAIL);
}

static size_t entry_size_at(const char *p)
{
    uint32_t nf = get_u32(p + 17);
    size_t off = ENTRY_HEAD;
    for (uint32_t i = 0; i < 2 * nf; i++)
        off += 4 + get_u32(p + off);
    return off + ENTRY_TAIL;
}

void stream_entry_pair(const struct stream_entry *e, size_t *at, struct slice *field, struct slice *value)
{
    const char *p = e->pairs + *at;
    uint32_t fl = get_u32(p);
    *field = (struct slice){ p + 4, fl };
    p += 4 + fl;
    uint32_t vl = get_u32(p);
    *value = (struct slice){ p + 4, vl };
    *at += 8 + fl + vl;
}

static void entry_view(const char *p, struct stream_entry *e)
{
    e->id = entry_id_at(p);
    e->nfields = get_u32(p + 17);
    e->pairs = p + ENTRY_HEAD;
}

/* ---- allocation ---- */

static void *st_alloc(struct store *s, struct stream *st, size_t n)
{
    void *p = store_alloc(s, n);
    st->mem += store_alloc_size(p);
    return p;
}

static void *st_realloc(struct store *s, struct stream *st, void *p, size_t n)
{
    st->mem -= store_alloc_size(p);
    p = store_realloc(s, p, n);
    st->mem += store_alloc_size(p);
    return p;
}

static void st_free(struct store *s, struct stream *st, void *p)
{
    if (!p)
        return;
    st->mem -= store_alloc_size(p);
    store_free(s, p);
}

void *stream_mem_alloc(struct store *s, struct stream *st, size_t n) { return st_alloc(s, st, n); }
void *stream_mem_realloc(struct store *s, struct stream *st, void *p, size_t n) { return st_realloc(s, st, p, n); }
void stream_mem_free(struct store *s, struct stream *st, void *p) { st_free(s, st, p); }

struct stream_group ***stream_groups_vector(struct stream *st, size_t **n, size_t **cap)
{
    *n = &st->ngroups;
    *cap = &st->groups_cap;
    return &st->groups;
}

struct stream *stream_create(struct store *s)
{
    struct stream *st = store_alloc(s, sizeof *st);
    memset(st, 0, sizeof *st);
    st->mem = store_alloc_size(st);
    return st;
}

size_t stream_len(const struct stream *st) { return st->length; }
size_t stream_memory(const struct stream *st) { return st->mem; }
size_t stream_nodes(const struct stream *st) { return st->len - st->empty; }
struct stream_id stream_last_id(const struct stream *st) { return st->last_id; }
struct stream_id stream_max_deleted_id(const struct stream *st) { return st->max_deleted; }
uint64_t stream_entries_added(const struct stream *st) { return st->entries_added; }

void stream_set_meta(struct stream *st, struct stream_id last, uint64_t entries_added,
                     struct stream_id max_deleted)
{
    st->last_id = last;
    st->entries_added = entries_added;
    st->max_deleted = max_deleted;
}

void stream_note_deleted(struct stream *st, struct stream_id id)
{
    if (stream_id_cmp(id, st->max_deleted) > 0)
        st->max_deleted = id;
}

static inline struct stream_node *node_at(const struct stream *st, size_t i) { return st->nodes[st->head + i]; }

bool stream_free_step(struct store *s, struct stream *st, size_t *budget)
{
    if (st->groups)
        stream_groups_free(s, st); /* at once: a PEL is freed whole */
    while (st->len > 0 && *budget > 0) {
        st_free(s, st, st->nodes[st->head + st->len - 1]);
        st->len--;
        (*budget)--;
    }
    if (st->len > 0)
        return false;
    st_free(s, st, st->nodes);
    store_free(s, st);
    return true;
}

void stream_destroy(struct store *s, struct stream *st)
{
    size_t all = SIZE_MAX;
    stream_free_step(s, st, &all);
}

/* ---- the node vector ---- */

static void vector_push(struct store *s, struct stream *st, struct stream_node *n)
{
    if (st->head + st->len == st->cap) {
        if (st->head > 0 && st->head >= st->len) {
            /* half of the room is in front, left by trims: slide down */
            memmove(st->nodes, st->nodes + st->head, st->len * sizeof *st->nodes);
            st->head = 0;
        } else {
            st->cap = st->cap ? st->cap * 2 : 4;
            st->nodes = st_realloc(s, st, st->nodes, st->cap * sizeof *st->nodes);
        }
    }
    st->nodes[st->head + st->len++] = n;
}

/* Drop the nodes that hold no live entry, in one pass: called once they
 * are half of the nodes, so each delete pays O(1) for it on average. */
static void vector_compact(struct store *s, struct stream *st)
{
    size_t w = 0;
    for (size_t i = 0; i < st->len; i++) {
        struct stream_node *n = node_at(st, i);
        if (n->live == 0)
            st_free(s, st, n);
        else
            st->nodes[w++] = n;
    }
    st->head = 0;
    st->len = w;
    st->empty = 0;
}

/* Node i lost its last live entry: free it at once at either end, else
 * leave it for vector_compact (its master ID still orders the search). */
static void node_emptied(struct store *s, struct stream *st, size_t i)
{
    st->empty++;
    if (i > 0 && i + 1 < st->len) {
        /* one left in the middle keeps only its header: its deleted
         * entries' bytes go now, as Redis frees the node */
        struct stream_node *n = st_realloc(s, st, node_at(st, i), sizeof *n);
        n->used = 0;
        n->deleted = 0;
        n->lp_entries = 0;
        st->nodes[st->head + i] = n;
    }
    while (st->len > 0 && node_at(st, 0)->live == 0) {
        st_free(s, st, node_at(st, 0));
        st->head++;
        st->len--;
        st->empty--;
    }
    while (st->len > 0 && node_at(st, st->len - 1)->live == 0) {
        st_free(s, st, node_at(st, st->len - 1));
        st->len--;
        st->empty--;
    }
    if (st->len == 0)
        st->head = 0;
    else if (st->empty > 8 && st->empty * 2 > st->len)
        vector_compact(s, st);
}

/* The last node whose master ID is at most id: its index, or -1 when id
 * is before every node. */
static long find_node(const struct stream *st, struct stream_id id)
{
    size_t lo = 0, hi = st->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (stream_id_cmp(node_at(st, mid)->master, id) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* ---- appending ---- */

/* The bytes Redis's listpack gives the master entry of a node. */
static size_t lp_master_bytes(const struct stream_node *n)
{
    const char *first = n->data;
    uint32_t nf = get_u32(first + 17);
    size_t b = stream_lp_int_size(n->live) + stream_lp_int_size(n->deleted) + stream_lp_int_size(nf) +
               stream_lp_int_size(0);
    size_t off = ENTRY_HEAD;
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t fl = get_u32(first + off);
        b += stream_lp_string_size((struct slice){ first + off + 4, fl });
        off += 4 + fl;
        off += 4 + get_u32(first + off);
    }
    return b;
}

/* Do the entry's fields equal the node's master fields (its first entry's)? */
static bool same_fields(const struct stream_node *n, const struct slice *fv, size_t nfields)
{
    const char *first = n->data;
    if (get_u32(first + 17) != nfields)
        return false;
    size_t off = ENTRY_HEAD;
    for (size_t i = 0; i < nfields; i++) {
        uint32_t fl = get_u32(first + off);
        if (fl != fv[2 * i].len || memcmp(first + off + 4, fv[2 * i].ptr, fl) != 0)
            return false;
        off += 4 + fl;
        off += 4 + get_u32(first + off);
    }
    return true;
}

/* The bytes Redis's listpack gives an entry in node n (whose master ID
 * is master): flags, the ID's deltas, the fields unless they are the
 * master's, the values, the count of elements. */
static size_t lp_entry_bytes(struct stream_id master, bool same, struct stream_id id, const struct slice *fv,
                             size_t nfields)
{
    size_t b = stream_lp_int_size(same ? LP_FLAG_SAMEFIELDS : 0) +
               stream_lp_int_size((int64_t)(id.ms - master.ms)) + stream_lp_int_size((int64_t)(id.seq - master.seq));
    if (!same)
        b += stream_lp_int_size((int64_t)nfields);
    for (size_t i = 0; i < nfields; i++) {
        if (!same)
            b += stream_lp_string_size(fv[2 * i]);
        b += stream_lp_string_size(fv[2 * i + 1]);
    }
    return b + stream_lp_int_size(same ? (int64_t)nfields + 3 : 2 * (int64_t)nfields + 4);
}

static size_t node_lp_bytes(const struct stream_node *n)
{
    return 6 + lp_master_bytes(n) + n->lp_entries + 1;
}

void stream_append(struct store *s, struct stream *st, struct stream_id id, const struct slice *fv, size_t nfields,
                   const struct stream_limits *lim)
{
    size_t need = ENTRY_HEAD + ENTRY_TAIL, fields_len = 0;
    for (size_t i = 0; i < 2 * nfields; i++) {
        need += 4 + fv[i].len;
        fields_len += fv[i].len;
    }
    /* Redis's choice of a new node (streamAppendItem) */
    struct stream_node *n = st->len ? node_at(st, st->len - 1) : NULL;
    if (n) {
        long long max_bytes = lim->node_max_bytes;
        if (max_bytes <= 0 || max_bytes > NODE_MAX_BYTES_CAP)
            max_bytes = NODE_MAX_BYTES_CAP;
        if (node_lp_bytes(n) + fields_len >= (size_t)max_bytes)
            n = NULL;
        else if (lim->node_max_entries > 0 && (long long)(n->live + n->deleted) >= lim->node_max_entries)
            n = NULL;
    }
    if (!n) {
        size_t cap = sizeof *n + need;
        n = st_alloc(s, st, cap);
        n->master = id;
        n->live = n->deleted = 0;
        n->lp_entries = 0;
        n->used = 0;
        vector_push(s, st, n);
    } else if (store_alloc_size(n) < sizeof *n + n->used + need) {
        size_t want = sizeof *n + n->used + need, grow = sizeof *n + 2 * n->used;
        n = st_realloc(s, st, n, want > grow ? want : grow);
        st->nodes[st->head + st->len - 1] = n;
    }
    /* the first entry's fields are the node's master fields */
    bool same = n->live + n->deleted == 0 || same_fields(n, fv, nfields);
    n->lp_entries += lp_entry_bytes(n->master, same, id, fv, nfields);
    char *p = n->data + n->used;
    uint32_t nf = (uint32_t)nfields, size = (uint32_t)need;
    p[0] = 0;
    memcpy(p + 1, &id.ms, 8);
    memcpy(p + 9, &id.seq, 8);
    memcpy(p + 17, &nf, 4);
    size_t off = ENTRY_HEAD;
    for (size_t i = 0; i < 2 * nfields; i++) {
        uint32_t l = (uint32_t)fv[i].len;
        memcpy(p + off, &l, 4);
        if (l)
            memcpy(p + off + 4, fv[i].ptr, l);
        off += 4 + l;
    }
    memcpy(p + off, &size, 4);
    n->used += need;
    n->live++;
    st->length++;
    st->last_id = id;
    st->entries_added++;
}

/* ---- walks ---- */

void stream_iter_init(struct stream_iter *it, const struct stream *st, struct stream_id start, struct stream_id end,
                      bool rev)
{
    it->st = st;
    it->start = start;
    it->end = end;
    it->rev = rev;
    it->done = st->len == 0 || stream_id_cmp(start, end) > 0;
    if (it->done)
        return;
    if (!rev) {
        long i = find_node(st, start);
        it->node = i < 0 ? 0 : (size_t)i;
        it->off = 0;
    } else {
        long i = find_node(st, end);
        if (i < 0) {
            it->done = true;
            return;
        }
        it->node = (size_t)i;
        it->off = node_at(st, it->node)->used;
    }
}

bool stream_iter_next(struct stream_iter *it, struct stream_entry *out)
{
    const struct stream *st = it->st;
    while (!it->done) {
        const struct stream_node *n = node_at(st, it->node);
        if (!it->rev) {
            if (it->off >= n->used) {
                if (++it->node >= st->len)
                    it->done = true;
                it->off = 0;
                continue;
            }
            const char *p = n->data + it->off;
            struct stream_id id = entry_id_at(p);
            it->off += entry_size_at(p);
            if (stream_id_cmp(id, it->end) > 0) {
                it->done = true;
                break;
            }
            if ((p[0] & ENTRY_DELETED) || stream_id_cmp(id, it->start) < 0)
                continue;
            entry_view(p, out);
            return true;
        } else {
            if (it->off == 0) {
                if (it->node == 0)
                    it->done = true;
                else
                    it->off = node_at(st, --it->node)->used;
                continue;
            }
            size_t sz = entry_size_before(n, it->off);
            it->off -= sz;
            const char *p = n->data + it->off;
            struct stream_id id = entry_id_at(p);
            if (stream_id_cmp(id, it->start) < 0) {
                it->done = true;
                break;
            }
            if ((p[0] & ENTRY_DELETED) || stream_id_cmp(id, it->end) > 0)
                continue;
            entry_view(p, out);
            return true;
        }
    }
    return false;
}

bool stream_first_entry_id(const struct stream *st, struct stream_id *id)
{
    struct stream_iter it;
    struct stream_entry e;
    stream_iter_init(&it, st, (struct stream_id){ 0, 0 }, (struct stream_id){ UINT64_MAX, UINT64_MAX }, false);
    if (!stream_iter_next(&it, &e))
        return false;
    *id = e.id;
    return true;
}

bool stream_last_entry_id(const struct stream *st, struct stream_id *id)
{
    struct stream_iter it;
    struct stream_entry e;
    stream_iter_init(&it, st, (struct stream_id){ 0, 0 }, (struct stream_id){ UINT64_MAX, UINT64_MAX }, true);
    if (!stream_iter_next(&it, &e))
        return false;
    *id = e.id;
    return true;
}

/* ---- deleting ---- */

/* Flag the entry at p of node i deleted. */
static void mark_deleted(struct store *s, struct stream *st, size_t i, char *p)
{
    struct stream_node *n = node_at(st, i);
    p[0] |= ENTRY_DELETED;
    n->live--;
    n->deleted++;
    st->length--;
    if (n->live == 0)
        node_emptied(s, st, i);
}

bool stream_delete(struct store *s, struct stream *st, struct stream_id id)
{
    long i = find_node(st, id);
    if (i < 0)
        return false;
    struct stream_node *n = node_at(st, (size_t)i);
    for (size_t off = 0; off < n->used;) {
        char *p = n->data + off;
        int c = stream_id_cmp(entry_id_at(p), id);
        if (c > 0)
            return false;
        if (c == 0) {
            if (p[0] & ENTRY_DELETED)
                return false;
            mark_deleted(s, st, (size_t)i, p);
            return true;
        }
        off += entry_size_at(p);
    }
    return false;
}

/* The greatest ID in node n (deleted entries too). */
static struct stream_id node_last_id(const struct stream_node *n)
{
    return entry_id_at(n->data + n->used - entry_size_before(n, n->used));
}

size_t stream_trim(struct store *s, struct stream *st, enum stream_trim_strategy strategy, uint64_t maxlen,
                   struct stream_id minid, bool approx, long long limit)
{
    size_t removed = 0;
    while (st->len > 0) {
        if (strategy == STREAM_TRIM_MAXLEN && st->length <= maxlen)
            break;
        struct stream_node *n = node_at(st, 0);
        if (limit && (long long)(removed + n->live) > limit)
            break;
        bool whole = strategy == STREAM_TRIM_MAXLEN ? st->length - n->live >= maxlen
                                                     : stream_id_cmp(node_last_id(n), minid) < 0;
        if (whole) {
            removed += n->live;
            st->length -= n->live;
            st_free(s, st, n);
            st->head++;
            st->len--;
            if (st->len == 0)
                st->head = 0;
            /* emptied nodes that are now first go too */
            while (st->len > 0 && node_at(st, 0)->live == 0) {
                st_free(s, st, node_at(st, 0));
                st->head++;
                st->len--;
                st->empty--;
            }
            continue;
        }
        if (approx)
            break;
        /* flag entries of this node deleted, up to where the bound stops */
        for (size_t off = 0; off < n->used;) {
            char *p = n->data + off;
            bool stop = strategy == STREAM_TRIM_MAXLEN ? st->length <= maxlen
                                                        : stream_id_cmp(entry_id_at(p), minid) >= 0;
            if (stop)
                break;
            off += entry_size_at(p);
            if (!(p[0] & ENTRY_DELETED)) {
                p[0] |= ENTRY_DELETED;
                n->live--;
                n->deleted++;
                st->length--;
                removed++;
            }
        }
        if (n->live == 0) /* MINID past every live entry, not its last deleted one */
            node_emptied(s, st, 0);
        break; /* Redis stops after the first node it cannot remove whole */
    }
    return removed;
}

/* ---- copies ---- */

struct stream *stream_dup(struct store *s, const struct stream *src)
{
    struct stream *st = stream_create(s);
    st->nodes = st_alloc(s, st, (src->len ? src->len : 1) * sizeof *st->nodes);
    st->cap = store_alloc_size(st->nodes) / sizeof *st->nodes;
    for (size_t i = 0; i < src->len; i++) {
        const struct stream_node *n = node_at(src, i);
        if (n->live == 0)
            continue;
        struct stream_node *c = st_alloc(s, st, sizeof *n + n->used);
        memcpy(c, n, sizeof *n + n->used);
        st->nodes[st->len++] = c;
    }
    st->length = src->length;
    st->last_id = src->last_id;
    st->max_deleted = src->max_deleted;
    st->entries_added = src->entries_added;
    for (size_t i = 0; i < src->ngroups; i++) {
        const struct stream_group *g = src->groups[i];
        struct stream_group *c = stream_group_create(s, st, (struct slice){ g->name, g->name_len }, g->last_id,
                                                     g->entries_read);
        for (size_t k = 0; k < g->nconsumers; k++)
            stream_consumer_create(s, st, c, (struct slice){ g->consumers[k]->name, g->consumers[k]->name_len },
                                   g->consumers[k]->seen_time);
        struct stream_id at = { 0, 0 };
        for (struct stream_nack *n = stream_pel_from(g, at); n;) {
            struct stream_consumer *owner =
                stream_consumer_find(c, (struct slice){ n->consumer->name, n->consumer->name_len });
            stream_pel_add(s, st, c, owner, n->id, n->delivery_time, n->delivery_count);
            at = n->id;
            if (!stream_id_incr(&at))
                break;
            n = stream_pel_from(g, at);
        }
    }
    return st;
}

/* Flat form: "STRM", then the stream's meta (last ID, max deleted ID,
 * entries added, node count), then per node its header fields and its
 * data bytes as they are. The decoder checks every entry's lengths. */
void stream_encode(const struct stream *st, struct buf *out)
{
    uint64_t meta[6] = { st->last_id.ms, st->last_id.seq, st->max_deleted.ms, st->max_deleted.seq,
                         st->entries_added, stream_nodes(st) };
    buf_append(out, "STRM", 4);
    buf_append(out, meta, sizeof meta);
    for (size_t i = 0; i < st->len; i++) {
        const struct stream_node *n = node_at(st, i);
        if (n->live == 0)
            continue;
        uint64_t h[6] = { n->master.ms, n->master.seq, n->live, n->deleted, n->lp_entries, n->used };
        buf_append(out, h, sizeof h);
        buf_append(out, n->data, n->used);
    }
    /* then the groups: name, last ID, entries read, consumers (name, seen
     * time), the PEL in ID order (ID, time, count, owner's index) */
    uint64_t ng = st->ngroups;
    buf_append(out, &ng, 8);
    for (size_t i = 0; i < st->ngroups; i++) {
        const struct stream_group *g = st->groups[i];
        uint64_t gh[6] = { g->name_len, g->last_id.ms, g->last_id.seq, (uint64_t)g->entries_read, g->nconsumers,
                           g->pel_count };
        buf_append(out, gh, sizeof gh);
        buf_append(out, g->name, g->name_len);
        for (size_t k = 0; k < g->nconsumers; k++) {
            uint64_t ch[2] = { g->consumers[k]->name_len, (uint64_t)g->consumers[k]->seen_time };
            buf_append(out, ch, sizeof ch);
            buf_append(out, g->consumers[k]->name, g->consumers[k]->name_len);
        }
        struct stream_id at = { 0, 0 };
        for (struct stream_nack *n = stream_pel_from(g, at); n;) {
            size_t owner = 0;
            while (g->consumers[owner] != n->consumer)
                owner++;
            uint64_t nh[5] = { n->id.ms, n->id.seq, (uint64_t)n->delivery_time, n->delivery_count, owner };
            buf_append(out, nh, sizeof nh);
            at = n->id;
            if (!stream_id_incr(&at))
                break;
            n = stream_pel_from(g, at);
        }
    }
}

/* Are n's bytes a well-formed run of entries, ascending, from its master
 * ID, with its counts? */
static bool node_valid(const struct stream_node *n, struct stream_id *prev, bool *any)
{
    uint32_t live = 0, deleted = 0;
    for (size_t off = 0; off < n->used;) {
        if (n->used - off < ENTRY_HEAD + ENTRY_TAIL)
            return false;
        const char *p = n->data + off;
        size_t sz = ENTRY_HEAD;
        uint32_t nf = get_u32(p + 17);
        if (nf == 0)
            return false;
        for (uint64_t k = 0; k < 2 * (uint64_t)nf; k++) {
            if (n->used - off - sz < 4 + ENTRY_TAIL)
                return false;
            uint32_t l = get_u32(p + sz);
            if (n->used - off - sz - 4 - ENTRY_TAIL < l)
                return false;
            sz += 4 + l;
        }
        sz += ENTRY_TAIL;
        if (get_u32(p + sz - ENTRY_TAIL) != sz)
            return false;
        struct stream_id id = entry_id_at(p);
        if (off == 0 && stream_id_cmp(id, n->master) != 0)
            return false;
        if (*any && stream_id_cmp(id, *prev) <= 0)
            return false;
        *prev = id;
        *any = true;
        if ((unsigned char)p[0] & ~ENTRY_DELETED)
            return false;
        if (p[0] & ENTRY_DELETED)
            deleted++;
        else
            live++;
        off += sz;
    }
    return live == n->live && deleted == n->deleted && live > 0;
}

struct stream *stream_decode(struct store *s, const char *p, size_t n)
{
    uint64_t meta[6];
    if (n < 4 + sizeof meta || memcmp(p, "STRM", 4) != 0)
        return NULL;
    memcpy(meta, p + 4, sizeof meta);
    p += 4 + sizeof meta;
    n -= 4 + sizeof meta;
    if (meta[5] > n / (6 * 8))
        return NULL;
    struct stream *st = stream_create(s);
    st->last_id = (struct stream_id){ meta[0], meta[1] };
    st->max_deleted = (struct stream_id){ meta[2], meta[3] };
    st->entries_added = meta[4];
    struct stream_id prev = { 0, 0 };
    bool any = false;
    for (uint64_t i = 0; i < meta[5]; i++) {
        uint64_t h[6];
        if (n < sizeof h)
            goto bad;
        memcpy(h, p, sizeof h);
        p += sizeof h;
        n -= sizeof h;
        if (h[5] > n || h[2] > UINT32_MAX || h[3] > UINT32_MAX)
            goto bad;
        struct stream_node *nd = st_alloc(s, st, sizeof *nd + h[5]);
        nd->master = (struct stream_id){ h[0], h[1] };
        nd->live = (uint32_t)h[2];
        nd->deleted = (uint32_t)h[3];
        nd->lp_entries = h[4];
        nd->used = h[5];
        memcpy(nd->data, p, h[5]);
        p += h[5];
        n -= h[5];
        vector_push(s, st, nd);
        if (!node_valid(nd, &prev, &any))
            goto bad;
        st->length += nd->live;
    }
    if (any && stream_id_cmp(prev, st->last_id) > 0)
        goto bad;
    uint64_t ng;
    if (n < 8)
        goto bad;
    memcpy(&ng, p, 8);
    p += 8;
    n -= 8;
    for (uint64_t i = 0; i < ng; i++) {
        uint64_t gh[6];
        if (n < sizeof gh)
            goto bad;
        memcpy(gh, p, sizeof gh);
        p += sizeof gh;
        n -= sizeof gh;
        if (gh[0] > n)
            goto bad;
        struct stream_group *g = stream_group_create(s, st, (struct slice){ p, gh[0] },
                                                     (struct stream_id){ gh[1], gh[2] }, (int64_t)gh[3]);
        p += gh[0];
        n -= gh[0];
        if (!g || gh[4] > n / 16)
            goto bad;
        for (uint64_t k = 0; k < gh[4]; k++) {
            uint64_t ch[2];
            if (n < sizeof ch)
                goto bad;
            memcpy(ch, p, sizeof ch);
            p += sizeof ch;
            n -= sizeof ch;
            if (ch[0] > n || !stream_consumer_create(s, st, g, (struct slice){ p, ch[0] }, (int64_t)ch[1]))
                goto bad;
            p += ch[0];
            n -= ch[0];
        }
        if (gh[5] > n / 40)
            goto bad;
        for (uint64_t k = 0; k < gh[5]; k++) {
            uint64_t nh[5];
            memcpy(nh, p, sizeof nh);
            p += sizeof nh;
            n -= sizeof nh;
            struct stream_id id = { nh[0], nh[1] };
            if (nh[4] >= g->nconsumers || stream_pel_find(g, id))
                goto bad;
            stream_pel_add(s, st, g, g->consumers[nh[4]], id, (int64_t)nh[2], nh[3]);
        }
    }
    if (n != 0)
        goto bad;
    return st;
bad:
    stream_destroy(s, st);
    return NULL;
}

/* ---- Redis's layout ---- */

bool stream_node_at(const struct stream *st, size_t i, struct stream_node_view *v)
{
    if (i >= st->len)
        return false;
    const struct stream_node *n = node_at(st, i);
    v->master = n->master;
    v->live = n->live;
    v->deleted = n->deleted;
    v->data = n->data;
    v->bytes = n->used;
    return true;
}

bool stream_node_entry(const struct stream_node_view *v, size_t *off, struct stream_entry *e, bool *deleted)
{
    if (*off >= v->bytes)
        return false;
    const char *p = v->data + *off;
    entry_view(p, e);
    *deleted = (p[0] & ENTRY_DELETED) != 0;
    *off += entry_size_at(p);
    return true;
}
