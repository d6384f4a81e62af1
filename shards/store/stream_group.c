/* stream_group: a stream's consumer groups, their consumers and pending
 * entries (see stream.h for the contract).
 *
 * A pending entry is one allocation in two treaps at once, the group's and
 * its consumer's, both ordered by ID: a treap keeps a random priority per
 * node in heap order, so it stays balanced (O(log n) expected depth)
 * whatever order IDs come in, with a few lines of rotations and no
 * rebalancing cases. XACK of one entry among 100k pending is a lookup and
 * two removals, each about 17 levels deep. */
#include "shards/store/stream.h"
#include "shards/store/store.h"

#include <stdlib.h>
#include <string.h>

/* ---- treaps of pending entries ---- */

static uint32_t next_prio(void)
{
    /* xorshift32: the priorities need only be spread, not secret */
    static _Thread_local uint32_t x = 2463534242u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

#define L(n, t) ((n)->link[t][0])
#define R(n, t) ((n)->link[t][1])

static struct stream_nack *treap_insert(struct stream_nack *root, struct stream_nack *n, int t)
{
    if (!root)
        return n;
    if (stream_id_cmp(n->id, root->id) < 0) {
        L(root, t) = treap_insert(L(root, t), n, t);
        if (L(root, t)->prio > root->prio) { /* rotate right */
            struct stream_nack *l = L(root, t);
            L(root, t) = R(l, t);
            R(l, t) = root;
            return l;
        }
    } else {
        R(root, t) = treap_insert(R(root, t), n, t);
        if (R(root, t)->prio > root->prio) { /* rotate left */
            struct stream_nack *r = R(root, t);
            R(root, t) = L(r, t);
            L(r, t) = root;
            return r;
        }
    }
    return root;
}

/* Join two treaps, every key of a before every key of b. */
static struct stream_nack *treap_join(struct stream_nack *a, struct stream_nack *b, int t)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->prio > b->prio) {
        R(a, t) = treap_join(R(a, t), b, t);
        return a;
    }
    L(b, t) = treap_join(a, L(b, t), t);
    return b;
}

static struct stream_nack *treap_remove(struct stream_nack *root, struct stream_id id, int t)
{
    if (!root)
        return NULL;
    int c = stream_id_cmp(id, root->id);
    if (c < 0)
        L(root, t) = treap_remove(L(root, t), id, t);
    else if (c > 0)
        R(root, t) = treap_remove(R(root, t), id, t);
    else
        return treap_join(L(root, t), R(root, t), t);
    return root;
}

static struct stream_nack *treap_find(struct stream_nack *n, struct stream_id id, int t)
{
    while (n) {
        int c = stream_id_cmp(id, n->id);
        if (c == 0)
            return n;
        n = c < 0 ? L(n, t) : R(n, t);
    }
    return NULL;
}

/* The first node at or after id. */
static struct stream_nack *treap_from(struct stream_nack *n, struct stream_id id, int t)
{
    struct stream_nack *best = NULL;
    while (n) {
        if (stream_id_cmp(n->id, id) >= 0) {
            best = n;
            n = L(n, t);
        } else {
            n = R(n, t);
        }
    }
    return best;
}

/* The last node at or before id. */
static struct stream_nack *treap_upto(struct stream_nack *n, struct stream_id id, int t)
{
    struct stream_nack *best = NULL;
    while (n) {
        if (stream_id_cmp(n->id, id) <= 0) {
            best = n;
            n = R(n, t);
        } else {
            n = L(n, t);
        }
    }
    return best;
}

struct stream_nack *stream_pel_find(const struct stream_group *g, struct stream_id id)
{
    return treap_find(g->pel, id, 0);
}

struct stream_nack *stream_pel_from(const struct stream_group *g, struct stream_id id)
{
    return treap_from(g->pel, id, 0);
}

struct stream_nack *stream_pel_upto(const struct stream_group *g, struct stream_id id)
{
    return treap_upto(g->pel, id, 0);
}

struct stream_nack *stream_consumer_pel_from(const struct stream_consumer *c, struct stream_id id)
{
    return treap_from(c->pel, id, 1);
}

struct stream_nack *stream_pel_add(struct store *s, struct stream *st, struct stream_group *g,
                                   struct stream_consumer *c, struct stream_id id, int64_t delivery_time,
                                   uint64_t delivery_count)
{
    struct stream_nack *n = stream_mem_alloc(s, st, sizeof *n);
    memset(n, 0, sizeof *n);
    n->id = id;
    n->delivery_time = delivery_time;
    n->delivery_count = delivery_count;
    n->consumer = c;
    n->prio = next_prio();
    g->pel = treap_insert(g->pel, n, 0);
    g->pel_count++;
    c->pel = treap_insert(c->pel, n, 1);
    c->pel_count++;
    return n;
}

void stream_pel_remove(struct store *s, struct stream *st, struct stream_group *g, struct stream_nack *n)
{
    g->pel = treap_remove(g->pel, n->id, 0);
    g->pel_count--;
    struct stream_consumer *c = n->consumer;
    c->pel = treap_remove(c->pel, n->id, 1);
    c->pel_count--;
    stream_mem_free(s, st, n);
}

void stream_nack_move(struct stream_nack *n, struct stream_consumer *to)
{
    struct stream_consumer *from = n->consumer;
    if (from == to)
        return;
    from->pel = treap_remove(from->pel, n->id, 1);
    from->pel_count--;
    L(n, 1) = R(n, 1) = NULL;
    to->pel = treap_insert(to->pel, n, 1);
    to->pel_count++;
    n->consumer = to;
}

/* ---- names ---- */

static int name_cmp(const char *a, size_t alen, struct slice b)
{
    size_t n = alen < b.len ? alen : b.len;
    int c = memcmp(a, b.ptr, n);
    if (c)
        return c;
    return alen < b.len ? -1 : alen > b.len ? 1 : 0;
}

/* Index of the first group whose name is not before name. */
static size_t group_slot(struct stream_group *const *v, size_t n, struct slice name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(v[mid]->name, v[mid]->name_len, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t consumer_slot(struct stream_consumer *const *v, size_t n, struct slice name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(v[mid]->name, v[mid]->name_len, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- groups ---- */

size_t stream_groups(const struct stream *st)
{
    size_t *n, *cap;
    stream_groups_vector((struct stream *)st, &n, &cap);
    return *n;
}

struct stream_group *stream_group_at(const struct stream *st, size_t i)
{
    size_t *n, *cap;
    struct stream_group **v = *stream_groups_vector((struct stream *)st, &n, &cap);
    return i < *n ? v[i] : NULL;
}

struct stream_group *stream_group_find(const struct stream *st, struct slice name)
{
    size_t *n, *cap;
    struct stream_group **v = *stream_groups_vector((struct stream *)st, &n, &cap);
    size_t i = group_slot(v, *n, name);
    return i < *n && name_cmp(v[i]->name, v[i]->name_len, name) == 0 ? v[i] : NULL;
}

struct stream_group *stream_group_create(struct store *s, struct stream *st, struct slice name, struct stream_id last,
                                         int64_t entries_read)
{
    size_t *n, *cap;
    struct stream_group ***vp = stream_groups_vector(st, &n, &cap);
    size_t i = group_slot(*vp, *n, name);
    if (i < *n && name_cmp((*vp)[i]->name, (*vp)[i]->name_len, name) == 0)
        return NULL;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 2;
        *vp = stream_mem_realloc(s, st, *vp, *cap * sizeof **vp);
    }
    struct stream_group *g = stream_mem_alloc(s, st, sizeof *g + name.len);
    memset(g, 0, sizeof *g);
    g->last_id = last;
    g->entries_read = entries_read;
    g->name_len = name.len;
    memcpy(g->name, name.ptr, name.len);
    memmove(*vp + i + 1, *vp + i, (*n - i) * sizeof **vp);
    (*vp)[i] = g;
    (*n)++;
    return g;
}

static void free_pel(struct store *s, struct stream *st, struct stream_nack *n)
{
    if (!n)
        return;
    free_pel(s, st, L(n, 0));
    free_pel(s, st, R(n, 0));
    stream_mem_free(s, st, n);
}

static void group_free(struct store *s, struct stream *st, struct stream_group *g)
{
    free_pel(s, st, g->pel);
    for (size_t i = 0; i < g->nconsumers; i++)
        stream_mem_free(s, st, g->consumers[i]);
    stream_mem_free(s, st, g->consumers);
    stream_mem_free(s, st, g);
}

bool stream_group_destroy(struct store *s, struct stream *st, struct slice name)
{
    size_t *n, *cap;
    struct stream_group ***vp = stream_groups_vector(st, &n, &cap);
    size_t i = group_slot(*vp, *n, name);
    if (i >= *n || name_cmp((*vp)[i]->name, (*vp)[i]->name_len, name) != 0)
        return false;
    group_free(s, st, (*vp)[i]);
    memmove(*vp + i, *vp + i + 1, (*n - i - 1) * sizeof **vp);
    (*n)--;
    return true;
}

void stream_groups_free(struct store *s, struct stream *st)
{
    size_t *n, *cap;
    struct stream_group ***vp = stream_groups_vector(st, &n, &cap);
    for (size_t i = 0; i < *n; i++)
        group_free(s, st, (*vp)[i]);
    stream_mem_free(s, st, *vp);
    *vp = NULL;
    *n = *cap = 0;
}

/* ---- consumers ---- */

struct stream_consumer *stream_consumer_find(const struct stream_group *g, struct slice name)
{
    size_t i = consumer_slot(g->consumers, g->nconsumers, name);
    return i < g->nconsumers && name_cmp(g->consumers[i]->name, g->consumers[i]->name_len, name) == 0
               ? g->consumers[i]
               : NULL;
}

struct stream_consumer *stream_consumer_create(struct store *s, struct stream *st, struct stream_group *g,
                                               struct slice name, int64_t now_ms)
{
    size_t i = consumer_slot(g->consumers, g->nconsumers, name);
    if (i < g->nconsumers && name_cmp(g->consumers[i]->name, g->consumers[i]->name_len, name) == 0)
        return NULL;
    if (g->nconsumers == g->consumers_cap) {
        g->consumers_cap = g->consumers_cap ? g->consumers_cap * 2 : 2;
        g->consumers = stream_mem_realloc(s, st, g->consumers, g->consumers_cap * sizeof *g->consumers);
    }
    struct stream_consumer *c = stream_mem_alloc(s, st, sizeof *c + name.len);
    memset(c, 0, sizeof *c);
    c->seen_time = now_ms;
    c->name_len = name.len;
    memcpy(c->name, name.ptr, name.len);
    memmove(g->consumers + i + 1, g->consumers + i, (g->nconsumers - i) * sizeof *g->consumers);
    g->consumers[i] = c;
    g->nconsumers++;
    return c;
}

size_t stream_consumer_delete(struct store *s, struct stream *st, struct stream_group *g, struct stream_consumer *c)
{
    size_t pending = c->pel_count;
    while (c->pel)
        stream_pel_remove(s, st, g, c->pel);
    size_t i = consumer_slot(g->consumers, g->nconsumers, (struct slice){ c->name, c->name_len });
    memmove(g->consumers + i, g->consumers + i + 1, (g->nconsumers - i - 1) * sizeof *g->consumers);
    g->nconsumers--;
    stream_mem_free(s, st, c);
    return pending;
}

/* ---- counting entries read ---- */

bool stream_range_has_tombstones(const struct stream *st, struct stream_id start, struct stream_id end)
{
    struct stream_id maxdel = stream_max_deleted_id(st), first = { 0, 0 };
    if (stream_len(st) == 0 || stream_id_is_zero(maxdel))
        return false;
    stream_first_entry_id(st, &first);
    if (stream_id_cmp(first, maxdel) > 0)
        return false;
    return stream_id_cmp(start, maxdel) <= 0 && stream_id_cmp(maxdel, end) <= 0;
}

int64_t stream_entries_before(const struct stream *st, struct stream_id id)
{
    uint64_t added = stream_entries_added(st);
    struct stream_id last = stream_last_id(st), maxdel = stream_max_deleted_id(st), first = { 0, 0 };
    if (!added)
        return 0;
    if (stream_len(st) == 0 && stream_id_cmp(id, last) < 1)
        return (int64_t)added;
    int cmp_last = stream_id_cmp(id, last);
    if (cmp_last == 0)
        return (int64_t)added;
    if (cmp_last > 0)
        return STREAM_ENTRIES_READ_UNKNOWN;
    stream_first_entry_id(st, &first);
    int cmp_first = stream_id_cmp(id, first);
    if (stream_id_is_zero(maxdel) || stream_id_cmp(maxdel, first) < 0) {
        if (cmp_first < 0)
            return (int64_t)(added - stream_len(st));
        if (cmp_first == 0)
            return (int64_t)(added - stream_len(st) + 1);
    }
    return STREAM_ENTRIES_READ_UNKNOWN;
}
