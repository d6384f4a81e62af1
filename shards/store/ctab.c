/* ctab: a collection's chained hash table, resized incrementally (see
 * ctab.h). The same scheme as the store's own table: while a rehash runs,
 * b[0]'s buckets below idx are empty (moved to b[1]), new nodes go to b[1],
 * and each add or unlink moves one more bucket. */
#include "shards/store/ctab.h"
#include "shards/store/store.h"

#include <assert.h>
#include <string.h>

#define CTAB_MIN 8

static inline bool rehashing(const struct ctab *t) { return t->b[1] != NULL; }

static inline uint64_t node_hash(const struct ctab *t, const struct ctab_node *n)
{
    return store_key_hash(t->key(n));
}

/* zeroed without touching: a big array's pages fault in only as the
 * rehash reaches them, spread over the commands that follow */
static struct ctab_node **buckets_new(struct store *s, size_t n)
{
    return store_alloc_zeroed(s, n * sizeof(struct ctab_node *));
}

static void buckets_free(struct store *s, struct ctab_node **b, size_t n)
{
    store_free_zeroed(s, b, n * sizeof *b);
}

void ctab_init(struct store *s, struct ctab *t, size_t size, ctab_key_fn *key)
{
    size_t n = CTAB_MIN;
    while (n < size)
        n <<= 1;
    memset(t, 0, sizeof *t);
    t->b[0] = buckets_new(s, n);
    t->size[0] = t->cap[0] = (uint32_t)n;
    t->key = key;
}

size_t ctab_count(const struct ctab *t) { return (size_t)t->used[0] + t->used[1]; }

/* Move up to n buckets of b[0] to b[1]; the rehash ends when b[0] is empty. */
static void rehash_step(struct store *s, struct ctab *t, size_t n)
{
    size_t empty_visits = n * 10;
    while (n-- && t->used[0] != 0) {
        assert(t->idx < t->size[0]);
        while (t->b[0][t->idx] == NULL) {
            t->idx++;
            if (--empty_visits == 0)
                return;
        }
        struct ctab_node *e = t->b[0][t->idx];
        size_t mask1 = t->size[1] - 1;
        while (e) {
            struct ctab_node *next = e->next;
            size_t b = (size_t)node_hash(t, e) & mask1;
            e->next = t->b[1][b];
            t->b[1][b] = e;
            t->used[0]--;
            t->used[1]++;
            e = next;
        }
        t->b[0][t->idx++] = NULL;
    }
    if (t->used[0] == 0) {
        buckets_free(s, t->b[0], t->cap[0]);
        t->b[0] = t->b[1];
        t->size[0] = t->size[1];
        t->cap[0] = t->cap[1];
        t->cap[1] = 0;
        t->used[0] = t->used[1];
        t->b[1] = NULL;
        t->size[1] = 0;
        t->used[1] = 0;
        t->idx = 0;
    }
}

static void start_rehash(struct store *s, struct ctab *t, size_t size)
{
    if (size == t->size[0])
        return;
    t->b[1] = buckets_new(s, size);
    t->size[1] = t->cap[1] = (uint32_t)size;
    t->used[1] = 0;
    t->idx = 0;
    if (t->used[0] == 0)
        rehash_step(s, t, 0); /* nothing to move: swap at once */
}

struct ctab_node **ctab_find(const struct ctab *t, struct slice key)
{
    uint64_t h = store_key_hash(key);
    for (int k = 0; k < 2; k++) {
        if (t->size[k] == 0)
            continue;
        size_t b = (size_t)h & (t->size[k] - 1);
        if (k == 0 && rehashing(t) && b < t->idx)
            continue; /* moved */
        for (struct ctab_node **pp = &t->b[k][b]; *pp; pp = &(*pp)->next) {
            struct slice nk = t->key(*pp);
            if (nk.len == key.len && memcmp(nk.ptr, key.ptr, key.len) == 0)
                return pp;
        }
    }
    return NULL;
}

void ctab_add(struct store *s, struct ctab *t, struct ctab_node *node)
{
    if (rehashing(t))
        rehash_step(s, t, 1);
    else if (ctab_count(t) >= t->size[0])
        start_rehash(s, t, (size_t)t->size[0] * 2);
    int k = rehashing(t) ? 1 : 0;
    size_t b = (size_t)node_hash(t, node) & (t->size[k] - 1);
    node->next = t->b[k][b];
    t->b[k][b] = node;
    t->used[k]++;
}

void ctab_unlink(struct store *s, struct ctab *t, struct ctab_node **link)
{
    struct ctab_node *n = *link;
    /* which array holds it: b[0] if its chain there has it (a node added
     * during a rehash is in b[1] even if its b[0] bucket is not moved yet) */
    int k = 1;
    size_t b0 = (size_t)node_hash(t, n) & (t->size[0] - 1);
    if (!rehashing(t) || b0 >= t->idx)
        for (const struct ctab_node *x = t->b[0][b0]; x; x = x->next)
            if (x == n) {
                k = 0;
                break;
            }
    *link = n->next;
    t->used[k]--;
    if (rehashing(t)) {
        rehash_step(s, t, 1);
    } else if (t->size[0] > CTAB_MIN && ctab_count(t) * 8 < t->size[0]) {
        size_t size = CTAB_MIN;
        while (size < ctab_count(t) * 2)
            size <<= 1;
        start_rehash(s, t, size);
    }
}

size_t ctab_memory(const struct ctab *t, size_t samples)
{
    size_t buckets = ((size_t)t->cap[0] + t->cap[1]) * sizeof(struct ctab_node *);
    size_t count = ctab_count(t), seen = 0, bytes = 0;
    for (int k = 0; k < 2 && (samples == 0 || seen < samples); k++)
        for (size_t b = 0; b < t->size[k] && (samples == 0 || seen < samples); b++)
            for (const struct ctab_node *n = t->b[k][b]; n && (samples == 0 || seen < samples); n = n->next) {
                bytes += store_alloc_size(n);
                seen++;
            }
    return buckets + (seen ? (size_t)((double)bytes / (double)seen * (double)count) : 0);
}

void ctab_foreach(const struct ctab *t, ctab_visit_fn *fn, void *arg)
{
    for (int k = 0; k < 2; k++)
        for (size_t b = 0; b < t->size[k]; b++)
            for (const struct ctab_node *n = t->b[k][b]; n; n = n->next)
                fn(arg, n);
}

static inline uint64_t reverse_bits(uint64_t v)
{
    v = ((v >> 1) & UINT64_C(0x5555555555555555)) | ((v & UINT64_C(0x5555555555555555)) << 1);
    v = ((v >> 2) & UINT64_C(0x3333333333333333)) | ((v & UINT64_C(0x3333333333333333)) << 2);
    v = ((v >> 4) & UINT64_C(0x0f0f0f0f0f0f0f0f)) | ((v & UINT64_C(0x0f0f0f0f0f0f0f0f)) << 4);
    return __builtin_bswap64(v);
}

static size_t visit_bucket(const struct ctab_node *n, ctab_visit_fn *fn, void *arg)
{
    size_t k = 0;
    for (; n; n = n->next, k++)
        fn(arg, n);
    return k;
}

static inline uint64_t next_cursor(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = reverse_bits(v);
    v++;
    return reverse_bits(v);
}

uint64_t ctab_scan(const struct ctab *t, uint64_t cursor, size_t count, ctab_visit_fn *fn, void *arg)
{
    if (ctab_count(t) == 0)
        return 0;
    size_t seen = 0, visits = 0, max_visits = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    uint64_t v = cursor;
    do {
        if (!rehashing(t)) {
            uint64_t m0 = t->size[0] - 1;
            seen += visit_bucket(t->b[0][v & m0], fn, arg);
            v = next_cursor(v, m0);
            visits++;
        } else {
            /* the small table's bucket, then every bucket of the big one
             * that expands it (b[0]'s buckets below idx are empty) */
            int small = t->size[0] <= t->size[1] ? 0 : 1, big = 1 - small;
            uint64_t m0 = t->size[small] - 1, m1 = t->size[big] - 1;
            seen += visit_bucket(t->b[small][v & m0], fn, arg);
            do {
                seen += visit_bucket(t->b[big][v & m1], fn, arg);
                v = next_cursor(v, m1);
                visits++;
            } while (v & (m0 ^ m1));
        }
    } while (v != 0 && seen < count && visits < max_visits);
    return v;
}

const struct ctab_node *ctab_random(const struct ctab *t, uint64_t (*rnd)(void *), void *rarg)
{
    assert(ctab_count(t) > 0);
    const struct ctab_node *head = NULL;
    while (!head) {
        if (rehashing(t)) {
            size_t span = t->size[0] + t->size[1] - t->idx;
            size_t i = t->idx + (size_t)(rnd(rarg) % span);
            head = i >= t->size[0] ? t->b[1][i - t->size[0]] : t->b[0][i];
        } else {
            head = t->b[0][rnd(rarg) & (t->size[0] - 1)];
        }
    }
    size_t len = 0;
    for (const struct ctab_node *n = head; n; n = n->next)
        len++;
    size_t k = (size_t)(rnd(rarg) % len);
    while (k--)
        head = head->next;
    return head;
}

bool ctab_free_step(struct store *s, struct ctab *t, size_t *budget)
{
    /* from the last bucket down, shrinking size as buckets empty, so a later
     * step resumes where this one stopped */
    for (int k = 1; k >= 0; k--) {
        while (t->size[k] > 0) {
            struct ctab_node **b = &t->b[k][t->size[k] - 1];
            while (*b) {
                if (*budget == 0)
                    return false;
                struct ctab_node *n = *b;
                *b = n->next;
                store_free(s, n);
                (*budget)--;
            }
            t->size[k]--;
        }
        if (t->b[k]) {
            buckets_free(s, t->b[k], t->cap[k]);
            t->b[k] = NULL;
        }
    }
    t->used[0] = t->used[1] = 0;
    return true;
}
