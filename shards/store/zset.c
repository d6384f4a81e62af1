/* zset: a Redis sorted set's value object (see zset.h for the contract).
 *
 * listpack: one allocation holds the header and the elements' bytes (so a
 * small zset is one allocation; growing it may move it, and the calls that
 * change a zset take its address). Every operation walks it: at most a
 * hundred-odd elements by default. An element: a LEB128 header (member
 * length << 1, | 1 when the score is a whole number), the member, the
 * score (a zigzag LEB128 integer, else the 8 bytes of the double), then
 * the element's size so far written backwards (its last byte holds the
 * low 7 bits, a high bit set where more bytes come before it) to walk the
 * buffer in reverse. A 10-byte member with a small whole score takes 13
 * bytes.
 * skiplist: as Redis's zskiplist: each node has 1..32 levels (a level more
 * with probability 1/4), each level's link counts the elements it passes
 * over (its span), so walking down from the top finds a rank or the count
 * below a bound in O(log n). A header node with every level starts it. The
 * nodes are also the entries of a ctab keyed by member (score lookups and
 * removal by member in O(1)); the table frees them when the zset goes. */
#include "shards/store/zset.h"
#include "shards/store/ctab.h"
#include "shards/store/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct zset_limits zset_default_limits = { 128, 64 };

enum { ENC_LISTPACK = 0, ENC_SKIPLIST = 1 };

#define MAX_LEVEL 32

struct zlevel {
    struct znode *forward;
    size_t        span;
};

struct znode {
    struct ctab_node link;     /* first: the table's chain */
    double           score;
    struct znode    *backward;
    uint32_t         len;
    uint32_t         level;
    struct zlevel    lv[];     /* then the member's bytes */
};

struct zset {
    uint32_t enc;
    uint32_t count;
};

struct zset_lp {
    struct zset h;
    uint32_t    used;  /* bytes of data in use */
    char        data[];
};

struct zset_sl {
    struct zset   h;
    int           level;
    struct znode *head, *tail;
    uint64_t      rnd;
    struct ctab   dict;
};

#define LP_HEADER offsetof(struct zset_lp, data)
/* The most bytes an element adds to its member's. */
#define LP_OVERHEAD 25

size_t zset_format_score(char *buf, double d)
{
    if (isinf(d)) {
        memcpy(buf, d > 0 ? "inf" : "-inf", d > 0 ? 3 : 4);
        return d > 0 ? 3 : 4;
    }
    if (d == 0) { /* -0 too, as Redis shows it */
        buf[0] = '0';
        return 1;
    }
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d) { /* a whole number below 10^15: %g prints all its digits */
        char tmp[24];
        unsigned long long u = d < 0 ? (unsigned long long)-(long long)d : (unsigned long long)d;
        size_t n = 0;
        do
            tmp[n++] = (char)('0' + u % 10);
        while (u /= 10);
        size_t k = 0;
        if (d < 0)
            buf[k++] = '-';
        while (n)
            buf[k++] = tmp[--n];
        return k;
    }
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) { /* %g drops trailing zeros: 15 is already shortest */
        n = snprintf(buf, ZSET_SCORE_TEXT, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return (size_t)n;
}

static int member_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* (score, member) order */
static int elem_cmp(double s1, const char *m1, size_t l1, double s2, const char *m2, size_t l2)
{
    if (s1 < s2)
        return -1;
    if (s1 > s2)
        return 1;
    return member_cmp(m1, l1, m2, l2);
}

/* ---- listpack --------------------------------------------------------- */

/* A whole score small enough to be written as an integer. */
static bool score_is_int(double d, int64_t *v)
{
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != (double)(int64_t)d ||
        (d == 0 && signbit(d)))
        return false;
    *v = (int64_t)d;
    return true;
}

static size_t put_varint(char *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 127;
        v >>= 7;
        p[n++] = (char)(b | (v ? 128 : 0));
    } while (v);
    return n;
}

static uint64_t get_varint(const char *p, size_t *n)
{
    uint64_t v = 0;
    int shift = 0;
    size_t i = 0;
    uint8_t b;
    do {
        b = (uint8_t)p[i++];
        v |= (uint64_t)(b & 127) << shift;
        shift += 7;
    } while (b & 128);
    *n = i;
    return v;
}

/* size written backwards (see the top of the file) */
static size_t put_backlen(char *p, uint64_t v)
{
    uint8_t g[10];
    size_t k = 0;
    do {
        g[k++] = v & 127;
        v >>= 7;
    } while (v);
    for (size_t i = 0; i < k; i++) /* highest group first, unflagged */
        p[i] = (char)(g[k - 1 - i] | (i == 0 ? 0 : 128));
    return k;
}

static inline size_t backlen_size(uint64_t v)
{
    size_t k = 1;
    while (v >>= 7)
        k++;
    return k;
}

/* The size of the element that ends at end. */
static size_t get_backlen(const char *end)
{
    uint64_t v = 0;
    int shift = 0;
    uint8_t b;
    do {
        b = (uint8_t)*--end;
        v |= (uint64_t)(b & 127) << shift;
        shift += 7;
    } while (b & 128);
    return (size_t)v + (size_t)(shift / 7);
}

/* An element as written: its bytes into out (LP_OVERHEAD + member), its
 * size returned. */
static size_t lp_encode(char *out, struct slice m, double score)
{
    int64_t iv;
    bool isint = score_is_int(score, &iv);
    size_t n = put_varint(out, ((uint64_t)m.len << 1) | (isint ? 1 : 0));
    memcpy(out + n, m.ptr, m.len);
    n += m.len;
    if (isint) {
        n += put_varint(out + n, ((uint64_t)iv << 1) ^ (uint64_t)(iv >> 63));
    } else {
        memcpy(out + n, &score, 8);
        n += 8;
    }
    return n + put_backlen(out + n, n);
}

struct lp_elem {
    const char *m;
    size_t      len;
    double      score;
    size_t      size;  /* bytes of the whole element */
};

static inline struct lp_elem lp_read(const struct zset_lp *z, size_t off)
{
    struct lp_elem e;
    const char *p = z->data + off;
    size_t n;
    uint64_t hdr = get_varint(p, &n);
    e.len = (size_t)(hdr >> 1);
    e.m = p + n;
    n += e.len;
    if (hdr & 1) {
        size_t k;
        uint64_t u = get_varint(p + n, &k);
        e.score = (double)(int64_t)((u >> 1) ^ (~(u & 1) + 1));
        n += k;
    } else {
        memcpy(&e.score, p + n, 8);
        n += 8;
    }
    e.size = n + backlen_size(n); /* the backlen holds n */
    return e;
}

/* Offset of member's element, or SIZE_MAX; *rank its position. */
static size_t lp_find(const struct zset_lp *z, struct slice m, size_t *rank, double *score)
{
    size_t off = 0;
    for (size_t i = 0; i < z->h.count; i++) {
        struct lp_elem e = lp_read(z, off);
        if (e.len == m.len && memcmp(e.m, m.ptr, m.len) == 0) {
            if (rank)
                *rank = i;
            if (score)
                *score = e.score;
            return off;
        }
        off += e.size;
    }
    return SIZE_MAX;
}

static struct zset_lp *lp_new(struct store *s, size_t bytes)
{
    struct zset_lp *z = store_alloc(s, LP_HEADER + (bytes ? bytes : 1));
    z->h.enc = ENC_LISTPACK;
    z->h.count = 0;
    z->used = 0;
    return z;
}

static void lp_remove_at(struct zset_lp *z, size_t off)
{
    size_t n = lp_read(z, off).size;
    memmove(z->data + off, z->data + off + n, z->used - off - n);
    z->used -= (uint32_t)n;
    z->h.count--;
}

static struct zset_lp *lp_insert(struct store *s, struct zset_lp *z, struct slice m, double score)
{
    size_t off = 0;
    for (size_t i = 0; i < z->h.count; i++) {
        struct lp_elem e = lp_read(z, off);
        if (elem_cmp(e.score, e.m, e.len, score, m.ptr, m.len) > 0)
            break;
        off += e.size;
    }
    char tmp[256];
    char *enc = m.len + LP_OVERHEAD <= sizeof tmp ? tmp : store_alloc(s, m.len + LP_OVERHEAD);
    size_t n = lp_encode(enc, m, score);
    z = store_realloc(s, z, LP_HEADER + z->used + n);
    memmove(z->data + off + n, z->data + off, z->used - off);
    memcpy(z->data + off, enc, n);
    if (enc != tmp)
        store_free(s, enc);
    z->used += (uint32_t)n;
    z->h.count++;
    return z;
}

/* ---- skiplist --------------------------------------------------------- */

static inline char *node_member(const struct znode *n)
{
    return (char *)&n->lv[n->level];
}

static struct slice node_key(const struct ctab_node *n)
{
    const struct znode *z = (const struct znode *)n;
    return (struct slice){ node_member(z), z->len };
}

static struct znode *node_new(struct store *s, int level, double score, struct slice m)
{
    struct znode *n = store_alloc(s, sizeof *n + (size_t)level * sizeof(struct zlevel) + m.len);
    n->link.next = NULL;
    n->score = score;
    n->backward = NULL;
    n->len = (uint32_t)m.len;
    n->level = (uint32_t)level;
    for (int i = 0; i < level; i++)
        n->lv[i] = (struct zlevel){ NULL, 0 };
    memcpy(node_member(n), m.ptr, m.len);
    return n;
}

static struct zset_sl *sl_new(struct store *s, size_t hint)
{
    struct zset_sl *z = store_alloc(s, sizeof *z);
    z->h.enc = ENC_SKIPLIST;
    z->h.count = 0;
    z->level = 1;
    z->head = node_new(s, MAX_LEVEL, 0, (struct slice){ "", 0 });
    z->tail = NULL;
    z->rnd = (uint64_t)(uintptr_t)z | 1;
    ctab_init(s, &z->dict, hint, node_key);
    return z;
}

static int random_level(struct zset_sl *z)
{
    int level = 1;
    for (;;) {
        uint64_t x = z->rnd;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        z->rnd = x;
        for (int i = 0; i < 32; i++, x >>= 2) {
            if ((x & 3) != 0 || level == MAX_LEVEL)
                return level;
            level++;
        }
    }
}

static inline bool node_before(const struct znode *n, double score, const char *m, size_t len)
{
    return elem_cmp(n->score, node_member(n), n->len, score, m, len) < 0;
}

/* Link node n (its score and member set, its level drawn) into the list. */
static void sl_link(struct zset_sl *z, struct znode *n)
{
    struct slice m = { node_member(n), n->len };
    double score = n->score;
    struct znode *update[MAX_LEVEL];
    size_t rank[MAX_LEVEL];
    struct znode *x = z->head;
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        while (x->lv[i].forward && node_before(x->lv[i].forward, score, m.ptr, m.len)) {
            rank[i] += x->lv[i].span;
            x = x->lv[i].forward;
        }
        update[i] = x;
    }
    int level = (int)n->level;
    if (level > z->level) {
        for (int i = z->level; i < level; i++) {
            rank[i] = 0;
            update[i] = z->head;
            update[i]->lv[i].span = z->h.count;
        }
        z->level = level;
    }
    for (int i = 0; i < level; i++) {
        n->lv[i].forward = update[i]->lv[i].forward;
        update[i]->lv[i].forward = n;
        n->lv[i].span = update[i]->lv[i].span - (rank[0] - rank[i]);
        update[i]->lv[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = level; i < z->level; i++)
        update[i]->lv[i].span++;
    n->backward = update[0] == z->head ? NULL : update[0];
    if (n->lv[0].forward)
        n->lv[0].forward->backward = n;
    else
        z->tail = n;
    z->h.count++;
}

static void sl_insert(struct store *s, struct zset_sl *z, struct slice m, double score)
{
    struct znode *n = node_new(s, random_level(z), score, m);
    sl_link(z, n);
    ctab_add(s, &z->dict, &n->link);
}

/* Take node n out of the list (not the table). */
static void sl_unlink(struct zset_sl *z, struct znode *n)
{
    struct znode *update[MAX_LEVEL];
    struct znode *x = z->head;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && node_before(x->lv[i].forward, n->score, node_member(n), n->len))
            x = x->lv[i].forward;
        update[i] = x;
    }
    for (int i = 0; i < z->level; i++) {
        if (update[i]->lv[i].forward == n) {
            update[i]->lv[i].span += n->lv[i].span - 1;
            update[i]->lv[i].forward = n->lv[i].forward;
        } else {
            update[i]->lv[i].span--;
        }
    }
    if (n->lv[0].forward)
        n->lv[0].forward->backward = n->backward;
    else
        z->tail = n->backward;
    while (z->level > 1 && !z->head->lv[z->level - 1].forward)
        z->level--;
    z->h.count--;
}

static struct znode *sl_find(const struct zset_sl *z, struct slice m)
{
    struct ctab_node **link = ctab_find(&z->dict, m);
    return link ? (struct znode *)*link : NULL;
}

/* The node at 0-based rank r (< count). */
static struct znode *sl_at(const struct zset_sl *z, size_t r)
{
    size_t want = r + 1, traversed = 0;
    struct znode *x = z->head;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && traversed + x->lv[i].span <= want) {
            traversed += x->lv[i].span;
            x = x->lv[i].forward;
        }
        if (traversed == want)
            return x;
    }
    return NULL;
}

/* Convert a listpack to a skiplist (for good). */
static struct zset *to_skiplist(struct store *s, struct zset_lp *lp)
{
    struct zset_sl *z = sl_new(s, lp->h.count * 2);
    size_t off = 0;
    for (size_t i = 0; i < lp->h.count; i++) {
        struct lp_elem e = lp_read(lp, off);
        sl_insert(s, z, (struct slice){ e.m, e.len }, e.score);
        off += e.size;
    }
    store_free(s, lp);
    return &z->h;
}

/* ---- the interface ---------------------------------------------------- */

struct zset *zset_create(struct store *s, size_t size_hint, size_t max_member, const struct zset_limits *lim)
{
    if (size_hint <= lim->max_listpack_entries && max_member <= lim->max_listpack_value)
        return &lp_new(s, size_hint * (4 + (max_member < 16 ? max_member : 16)))->h;
    return &sl_new(s, size_hint)->h;
}

bool zset_free_step(struct store *s, struct zset *z, size_t *budget)
{
    if (z->enc == ENC_SKIPLIST) {
        struct zset_sl *sl = (struct zset_sl *)z;
        if (!ctab_free_step(s, &sl->dict, budget))
            return false;
        store_free(s, sl->head);
    }
    store_free(s, z);
    if (*budget)
        (*budget)--;
    return true;
}

void zset_destroy(struct store *s, struct zset *z)
{
    size_t all = SIZE_MAX;
    zset_free_step(s, z, &all);
}

size_t zset_len(const struct zset *z) { return z->count; }

size_t zset_memory(const struct zset *z, size_t samples)
{
    size_t m = store_alloc_size(z);
    if (z->enc == ENC_SKIPLIST) {
        const struct zset_sl *sl = (const struct zset_sl *)z;
        m += store_alloc_size(sl->head) + ctab_memory(&sl->dict, samples);
    }
    return m;
}

const char *zset_encoding(const struct zset *z)
{
    return z->enc == ENC_LISTPACK ? "listpack" : "skiplist";
}

bool zset_score(const struct zset *z, struct slice m, double *score)
{
    if (z->enc == ENC_LISTPACK) {
        const struct zset_lp *lp = (const struct zset_lp *)z;
        return lp_find(lp, m, NULL, score) != SIZE_MAX;
    }
    struct znode *n = sl_find((const struct zset_sl *)z, m);
    if (!n)
        return false;
    *score = n->score;
    return true;
}

bool zset_set(struct store *s, struct zset **zp, struct slice m, double score, const struct zset_limits *lim)
{
    struct zset *z = *zp;
    if (z->enc == ENC_LISTPACK) {
        struct zset_lp *lp = (struct zset_lp *)z;
        double cur;
        size_t off = lp_find(lp, m, NULL, &cur);
        bool added = off == SIZE_MAX;
        if (!added) {
            if (cur == score)
                return false;
            lp_remove_at(lp, off);
        }
        if (added && (lp->h.count + 1 > lim->max_listpack_entries || m.len > lim->max_listpack_value)) {
            z = to_skiplist(s, lp);
        } else {
            *zp = &lp_insert(s, lp, m, score)->h;
            return added;
        }
    }
    struct zset_sl *sl = (struct zset_sl *)z;
    struct znode *n = sl_find(sl, m);
    bool added = n == NULL;
    if (n) {
        if (n->score == score) {
            *zp = z;
            return false;
        }
        struct znode *prev = n->backward, *next = n->lv[0].forward;
        if ((!prev || prev->score < score) && (!next || next->score > score)) {
            n->score = score; /* its place stays: no relinking */
            *zp = z;
            return false;
        }
        /* moved in the order: the same node, relinked (the table keeps it) */
        sl_unlink(sl, n);
        n->score = score;
        sl_link(sl, n);
        *zp = z;
        return false;
    }
    sl_insert(s, sl, m, score);
    *zp = z;
    return added;
}

bool zset_remove(struct store *s, struct zset **zp, struct slice m)
{
    struct zset *z = *zp;
    if (z->enc == ENC_LISTPACK) {
        struct zset_lp *lp = (struct zset_lp *)z;
        size_t off = lp_find(lp, m, NULL, NULL);
        if (off == SIZE_MAX)
            return false;
        lp_remove_at(lp, off);
        return true;
    }
    struct zset_sl *sl = (struct zset_sl *)z;
    struct ctab_node **link = ctab_find(&sl->dict, m);
    if (!link)
        return false;
    struct znode *n = (struct znode *)*link;
    ctab_unlink(s, &sl->dict, link);
    sl_unlink(sl, n);
    store_free(s, n);
    return true;
}

bool zset_rank(const struct zset *z, struct slice m, size_t *rank)
{
    if (z->enc == ENC_LISTPACK)
        return lp_find((const struct zset_lp *)z, m, rank, NULL) != SIZE_MAX;
    const struct zset_sl *sl = (const struct zset_sl *)z;
    struct znode *n = sl_find(sl, m);
    if (!n)
        return false;
    size_t r = 0;
    struct znode *x = sl->head;
    for (int i = sl->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && elem_cmp(x->lv[i].forward->score, node_member(x->lv[i].forward),
                                            x->lv[i].forward->len, n->score, m.ptr, m.len) <= 0) {
            r += x->lv[i].span;
            x = x->lv[i].forward;
        }
        if (x == n)
            break;
    }
    *rank = r - 1;
    return true;
}

/* The count of elements for which before(elem) holds, a prefix of the
 * order. */
typedef bool before_fn(const void *arg, double score, const char *m, size_t len);

static size_t count_prefix(const struct zset *z, before_fn *before, const void *arg)
{
    if (z->enc == ENC_LISTPACK) {
        const struct zset_lp *lp = (const struct zset_lp *)z;
        size_t off = 0, i = 0;
        for (; i < z->count; i++) {
            struct lp_elem e = lp_read(lp, off);
            if (!before(arg, e.score, e.m, e.len))
                break;
            off += e.size;
        }
        return i;
    }
    const struct zset_sl *sl = (const struct zset_sl *)z;
    size_t r = 0;
    struct znode *x = sl->head;
    for (int i = sl->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && before(arg, x->lv[i].forward->score, node_member(x->lv[i].forward),
                                          x->lv[i].forward->len)) {
            r += x->lv[i].span;
            x = x->lv[i].forward;
        }
    }
    return r;
}

struct score_bound { double v; bool or_equal; };
struct lex_bound   { struct slice v; bool or_equal; };

static bool before_score(const void *arg, double score, const char *m, size_t len)
{
    (void)m;
    (void)len;
    const struct score_bound *b = arg;
    return score < b->v || (b->or_equal && score == b->v);
}

static bool before_lex(const void *arg, double score, const char *m, size_t len)
{
    (void)score;
    const struct lex_bound *b = arg;
    int c = member_cmp(m, len, b->v.ptr, b->v.len);
    return c < 0 || (b->or_equal && c == 0);
}

size_t zset_count_below(const struct zset *z, double v, bool or_equal)
{
    struct score_bound b = { v, or_equal };
    return count_prefix(z, before_score, &b);
}

size_t zset_count_below_lex(const struct zset *z, struct slice v, bool or_equal)
{
    struct lex_bound b = { v, or_equal };
    return count_prefix(z, before_lex, &b);
}

void zset_iter_at(const struct zset *z, size_t rank, bool rev, struct zset_iter *it)
{
    *it = (struct zset_iter){ .z = z, .rev = rev };
    if (rank >= z->count)
        return;
    it->left = z->count - rank;
    size_t asc = rev ? z->count - 1 - rank : rank;
    if (z->enc == ENC_LISTPACK) {
        const struct zset_lp *lp = (const struct zset_lp *)z;
        size_t off = 0;
        for (size_t i = 0; i < asc; i++)
            off += lp_read(lp, off).size;
        it->off = off;
    } else {
        it->node = sl_at((const struct zset_sl *)z, asc);
    }
}

bool zset_iter_next(struct zset_iter *it, struct slice *m, double *score)
{
    if (it->left == 0)
        return false;
    it->left--;
    if (it->z->enc == ENC_LISTPACK) {
        const struct zset_lp *lp = (const struct zset_lp *)it->z;
        struct lp_elem e = lp_read(lp, it->off);
        *m = (struct slice){ e.m, e.len };
        *score = e.score;
        if (it->rev) {
            if (it->left)
                it->off -= get_backlen(lp->data + it->off);
        } else {
            it->off += e.size;
        }
        return true;
    }
    const struct znode *n = it->node;
    *m = (struct slice){ node_member(n), n->len };
    *score = n->score;
    it->node = it->rev ? n->backward : n->lv[0].forward;
    return true;
}

struct scan_visit {
    zset_visit_fn *fn;
    void          *arg;
};

static void scan_node(void *arg, const struct ctab_node *cn)
{
    const struct scan_visit *v = arg;
    const struct znode *n = (const struct znode *)cn;
    v->fn(v->arg, (struct slice){ node_member(n), n->len }, n->score);
}

uint64_t zset_scan(const struct zset *z, uint64_t cursor, size_t count, zset_visit_fn *fn, void *arg)
{
    if (z->enc == ENC_SKIPLIST) {
        struct scan_visit v = { fn, arg };
        return ctab_scan(&((const struct zset_sl *)z)->dict, cursor, count, scan_node, &v);
    }
    struct zset_iter it;
    struct slice m;
    double score;
    zset_iter_at(z, 0, false, &it);
    while (zset_iter_next(&it, &m, &score))
        fn(arg, m, score);
    return 0;
}

void zset_encode(const struct zset *z, struct buf *out)
{
    uint8_t enc = (uint8_t)z->enc;
    uint32_t count = z->count;
    buf_append(out, &enc, 1);
    buf_append(out, &count, 4);
    struct zset_iter it;
    struct slice m;
    double score;
    zset_iter_at(z, 0, false, &it);
    while (zset_iter_next(&it, &m, &score)) {
        uint32_t len = (uint32_t)m.len;
        buf_append(out, &score, 8);
        buf_append(out, &len, 4);
        buf_append(out, m.ptr, m.len);
    }
}

struct zset *zset_decode(struct store *s, const char *p, size_t n)
{
    if (n < 5 || (uint8_t)p[0] > ENC_SKIPLIST)
        return NULL;
    uint8_t enc = (uint8_t)p[0];
    uint32_t count;
    memcpy(&count, p + 1, 4);
    const char *end = p + n;
    p += 5;
    struct zset_limits any = { SIZE_MAX, SIZE_MAX };
    struct zset_limits none = { 0, 0 };
    /* each element takes at least 12 bytes: a count past that is not
     * believed for the table's first size */
    size_t hint = count < n / 12 ? count : n / 12;
    struct zset *z = enc == ENC_LISTPACK ? &lp_new(s, n)->h : &sl_new(s, hint)->h;
    for (uint32_t i = 0; i < count; i++) {
        double score;
        uint32_t len;
        if (end - p < 12)
            goto bad;
        memcpy(&score, p, 8);
        memcpy(&len, p + 8, 4);
        p += 12;
        if ((size_t)(end - p) < len || isnan(score))
            goto bad;
        zset_set(s, &z, (struct slice){ p, len }, score, enc == ENC_LISTPACK ? &any : &none);
        p += len;
    }
    if (p != end)
        goto bad;
    return z;
bad:
    zset_destroy(s, z);
    return NULL;
}

struct zset *zset_dup(struct store *s, const struct zset *z)
{
    struct buf b;
    buf_init(&b);
    zset_encode(z, &b);
    struct zset *copy = zset_decode(s, b.data, b.len);
    buf_free(&b);
    return copy;
}
