/* tracking_node: BCAST's node-wide prefix table, each BCAST client's own
 * prefixes, and the node's clients by id (tracking_node.h). */
#include "shards/tracking_node.h"

#include <mimalloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shards/dispatch.h"
#include "shards/node.h"
#include "shards/shard.h"

/* A client's prefixes: n of them, each a uint32 length and its bytes. */
struct tracking_prefixes {
    size_t     n;
    struct buf data;
};

/* The directory: open addressing, linear probing, id 0 for a free slot,
 * cap a power of two. */
struct client_slot {
    uint64_t id;
    int      shard;
};


static void *xzalloc(size_t n)
{
    void *p = mi_zalloc(n);
    if (!p)
        abort();
    return p;
}

struct tracking_node *tracking_node_create(void)
{
    struct tracking_node *tn = xzalloc(sizeof(*tn));
    pthread_mutex_init(&tn->lock, NULL);
    tn->cap = 256;
    tn->slots = xzalloc(tn->cap * sizeof(struct client_slot));
    return tn;
}

void tracking_node_free(struct tracking_node *tn)
{
    if (!tn)
        return;
    mi_free(atomic_load(&tn->table));
    mi_free(tn->slots);
    pthread_mutex_destroy(&tn->lock);
    mi_free(tn);
}

/* ---- clients by id --------------------------------------------------------- */

static size_t slot_of(const struct tracking_node *tn, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (tn->cap - 1);
}

static void dir_put(struct tracking_node *tn, uint64_t id, int shard)
{
    size_t i = slot_of(tn, id);
    while (tn->slots[i].id != 0)
        i = (i + 1) & (tn->cap - 1);
    tn->slots[i] = (struct client_slot){ id, shard };
    tn->count++;
}

void tracking_node_client_opened(struct tracking_node *tn, uint64_t id, int shard)
{
    pthread_mutex_lock(&tn->lock);
    if ((tn->count + 1) * 2 > tn->cap) {
        struct client_slot *old = tn->slots;
        size_t oldcap = tn->cap;
        tn->cap *= 2;
        tn->slots = xzalloc(tn->cap * sizeof(struct client_slot));
        tn->count = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].id)
                dir_put(tn, old[i].id, old[i].shard);
        mi_free(old);
    }
    dir_put(tn, id, shard);
    pthread_mutex_unlock(&tn->lock);
}

void tracking_node_client_closed(struct tracking_node *tn, uint64_t id)
{
    pthread_mutex_lock(&tn->lock);
    size_t mask = tn->cap - 1, i = slot_of(tn, id);
    while (tn->slots[i].id != 0 && tn->slots[i].id != id)
        i = (i + 1) & mask;
    if (tn->slots[i].id == id) {
        /* backward shift: pull later entries of the run into the hole */
        tn->slots[i].id = 0;
        tn->count--;
        for (size_t j = (i + 1) & mask; tn->slots[j].id != 0; j = (j + 1) & mask) {
            size_t home = slot_of(tn, tn->slots[j].id);
            /* j's entry may move to i if its home is not in (i, j] */
            bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays) {
                tn->slots[i] = tn->slots[j];
                tn->slots[j].id = 0;
                i = j;
            }
        }
    }
    pthread_mutex_unlock(&tn->lock);
}

int tracking_node_client_shard(struct tracking_node *tn, uint64_t id)
{
    int shard = -1;
    if (id == 0)
        return -1;
    pthread_mutex_lock(&tn->lock);
    for (size_t i = slot_of(tn, id); tn->slots[i].id != 0; i = (i + 1) & (tn->cap - 1)) {
        if (tn->slots[i].id == id) {
            shard = tn->slots[i].shard;
            break;
        }
    }
    pthread_mutex_unlock(&tn->lock);
    return shard;
}

/* ---- a client's prefixes -------------------------------------------------- */

/* The i-th prefix from *off on (advances it). */
static struct slice prefix_next(const struct tracking_prefixes *tp, size_t *off)
{
    uint32_t len;
    memcpy(&len, tp->data.data + *off, sizeof len);
    struct slice s = { tp->data.data + *off + sizeof len, len };
    *off += sizeof len + len;
    return s;
}

/* Is one of a and b a prefix of the other (Redis's stringCheckPrefix)? */
static bool overlap(struct slice a, struct slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    return memcmp(a.ptr, b.ptr, n) == 0;
}

static bool has_prefix(const struct tracking_prefixes *tp, struct slice p)
{
    size_t off = 0;
    for (size_t i = 0; tp && i < tp->n; i++) {
        struct slice q = prefix_next(tp, &off);
        if (q.len == p.len && memcmp(q.ptr, p.ptr, p.len) == 0)
            return true;
    }
    return false;
}

bool tracking_prefixes_check(const struct client *c, const struct slice *p, int n, char *err, size_t errlen)
{
    const struct tracking_prefixes *tp = c->tracking_prefixes;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        for (size_t k = 0; tp && k < tp->n; k++) {
            struct slice q = prefix_next(tp, &off);
            if (overlap(q, p[i])) {
                snprintf(err, errlen, "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. "
                         "Prefixes for a single client must not overlap.",
                         (int)(p[i].len > 200 ? 200 : p[i].len), p[i].ptr, (int)(q.len > 200 ? 200 : q.len), q.ptr);
                return false;
            }
        }
        for (int j = i + 1; j < n; j++) {
            if (overlap(p[i], p[j])) {
                snprintf(err, errlen, "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                         "Prefixes for a single client must not overlap.",
                         (int)(p[i].len > 200 ? 200 : p[i].len), p[i].ptr, (int)(p[j].len > 200 ? 200 : p[j].len),
                         p[j].ptr);
                return false;
            }
        }
    }
    return true;
}

static int slice_cmp(const void *a, const void *b)
{
    const struct slice *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

void tracking_prefixes_reply(const struct client *c, struct reply *r)
{
    const struct tracking_prefixes *tp = c->tracking_prefixes;
    if (!tp || tp->n == 0) {
        reply_array(r, 0);
        return;
    }
    struct slice *all = mi_malloc(tp->n * sizeof(struct slice));
    if (!all)
        abort();
    size_t off = 0;
    for (size_t i = 0; i < tp->n; i++)
        all[i] = prefix_next(tp, &off);
    qsort(all, tp->n, sizeof(struct slice), slice_cmp);
    reply_array(r, tp->n);
    for (size_t i = 0; i < tp->n; i++)
        reply_bulk(r, all[i].ptr, all[i].len);
    mi_free(all);
}

/* ---- the node's table ------------------------------------------------------ */

static int entry_cmp(const void *a, const void *b)
{
    const struct bcast_entry *x = a, *y = b;
    struct slice sx = { x->prefix, x->len }, sy = { y->prefix, y->len };
    int c = slice_cmp(&sx, &sy);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* A table of the entries of old not of client `drop` (0: none), plus
 * extra[0..nextra); NULL when that leaves none. */
static struct bcast_table *table_build(const struct bcast_table *old, uint64_t drop,
                                       const struct bcast_entry *extra, size_t nextra)
{
    size_t n = 0, bytes = 0;
    for (size_t i = 0; old && i < old->n; i++)
        if (old->e[i].id != drop) {
            n++;
            bytes += old->e[i].len;
        }
    for (size_t i = 0; i < nextra; i++)
        bytes += extra[i].len;
    n += nextra;
    if (n == 0)
        return NULL;
    struct bcast_table *t = xzalloc(sizeof(*t) + n * sizeof(struct bcast_entry) + bytes);
    char *text = (char *)&t->e[n];
    size_t k = 0;
    for (size_t pass = 0; pass < 2; pass++) {
        const struct bcast_entry *src = pass == 0 ? (old ? old->e : NULL) : extra;
        size_t count = pass == 0 ? (old ? old->n : 0) : nextra;
        for (size_t i = 0; i < count; i++) {
            if (pass == 0 && src[i].id == drop)
                continue;
            t->e[k] = src[i];
            memcpy(text, src[i].prefix, src[i].len);
            t->e[k].prefix = text;
            text += src[i].len;
            k++;
        }
    }
    t->n = n;
    qsort(t->e, n, sizeof(struct bcast_entry), entry_cmp);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || t->e[i].len != t->e[i - 1].len || memcmp(t->e[i].prefix, t->e[i - 1].prefix, t->e[i].len) != 0)
            t->distinct++;
    return t;
}

/* Publish t in place of the current table (under the lock); the old one is
 * freed once no shard can be reading it. */
static void table_publish(struct shard *sh, struct tracking_node *tn, struct bcast_table *t)
{
    struct bcast_table *old = atomic_exchange_explicit(&tn->table, t, memory_order_acq_rel);
    if (!old)
        return;
    char **ptrs = mi_malloc(sizeof(char *));
    if (!ptrs)
        abort();
    ptrs[0] = (char *)old;
    dispatch_free_later(sh, ptrs, 1);
}

void tracking_bcast_add(struct shard *sh, struct client *c, const struct slice *p, int n)
{
    static const struct slice every = { "", 0 };
    if (n == 0) {
        p = &every;
        n = 1;
    }
    struct tracking_prefixes *tp = c->tracking_prefixes;
    if (!tp) {
        tp = c->tracking_prefixes = xzalloc(sizeof(*tp));
        buf_init(&tp->data);
    }
    struct bcast_entry *extra = mi_malloc((size_t)n * sizeof(struct bcast_entry));
    if (!extra)
        abort();
    size_t nextra = 0;
    for (int i = 0; i < n; i++) {
        if (has_prefix(tp, p[i]))
            continue; /* already one of its prefixes (BCAST again, or given twice) */
        uint32_t len = (uint32_t)p[i].len;
        buf_append(&tp->data, &len, sizeof len);
        buf_append(&tp->data, p[i].ptr, p[i].len);
        tp->n++;
        extra[nextra++] = (struct bcast_entry){ c->id, sh ? sh->id : 0, len, p[i].ptr };
    }
    struct tracking_node *tn = sh ? sh->node->tracking : NULL;
    if (nextra > 0 && tn) {
        pthread_mutex_lock(&tn->lock);
        table_publish(sh, tn, table_build(atomic_load(&tn->table), 0, extra, nextra));
        pthread_mutex_unlock(&tn->lock);
    }
    mi_free(extra);
}

void tracking_bcast_remove(struct shard *sh, struct client *c)
{
    struct tracking_prefixes *tp = c->tracking_prefixes;
    if (!tp)
        return;
    buf_free(&tp->data);
    mi_free(tp);
    c->tracking_prefixes = NULL;
    struct tracking_node *tn = sh ? sh->node->tracking : NULL;
    if (!tn)
        return;
    pthread_mutex_lock(&tn->lock);
    table_publish(sh, tn, table_build(atomic_load(&tn->table), c->id, NULL, 0));
    pthread_mutex_unlock(&tn->lock);
}

size_t tracking_total_prefixes(const struct node *n)
{
    const struct bcast_table *t = n->tracking ? tracking_node_table(n->tracking) : NULL;
    return t ? t->distinct : 0;
}
