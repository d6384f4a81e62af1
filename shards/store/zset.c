/* zset: a Redis sorted set's value object (see zset.h for the contract).
 *
 * listpack: one allocation, a 4-byte header (the count and the
 * encoding) and the elements in order, so a small zset is one block
 * (growing it may move it, and the calls that change a zset take its
 * address). Every operation walks it, forwards (at most a hundred-odd
 * elements by default): a change is one walk that finds the member, its
 * new place and the end. An element is
 *     [member length: LEB128][member][score]
 * and a score's first byte says its form:
 *     0xxxxxxx                  a whole number 0..127
 *     10xxxxxx + 1 byte         a whole number in 14 bits (two's complement,
 *     110xxxxx + 2 bytes            the tag's bits the highest, the bytes
 *     1110xxxx + 3 bytes            big-endian): 14, 21, 28 bits
 *     11110nnn + n bytes        a whole number in 8n bits, n 4..7
 *     0xFE + 4 bytes            a float that is exactly the score
 *                               (1.5, -0, inf)
 *     0xFF + 8 bytes            any other double
 * (whole numbers up to 2^53 in magnitude, -0 excepted). So a 13-byte
 * member with a score under 128 takes 15 bytes, where Redis's listpack
 * takes 17 (two entries, each with its back-length), and ten of them
 * with the header a 160-byte block. Nothing needs the back-lengths
 * Redis keeps: a descending walk goes forward from marks it keeps
 * (zset.h's zset_iter).
 *
 * skiplist (Redis's name, which OBJECT ENCODING reports and clients and
 * tests read): behind it is not a skip list but an order-statistic B+tree,
 * as Dragonfly keeps its sorted sets. A skip list of 100,000 members is
 * about 17 levels of nodes scattered in memory, and a ZADD that moves a
 * member walks it twice (out of the old place, into the new one): most of
 * its time is cache misses. The tree's nodes are NODE_BYTES blocks (1024:
 * a leaf of 62 elements, an inner node of 36 children; measured against
 * 256 and 512, it took the least CPU and memory per element for ZADD at
 * 100,000 members: bench/RESULTS.md "Sorted sets as a B+tree"), so the
 * same search is 4 nodes at 1,000,000 members, a binary search of a few
 * cache lines in each.
 *  - A leaf holds (score, member) pairs in order, the scores in one array
 *    (a search compares doubles side by side; members' bytes are read only
 *    between equal scores), and links to its neighbours for walks.
 *  - An inner node holds, for each child, its pointer, its element count
 *    and its greatest (score, member): a search picks the first child
 *    whose greatest is not below the key, and summing the counts of the
 *    children passed over gives ranks and the count below a score or a
 *    member bound in O(log n); a walk from a rank descends by the counts.
 *  - Members' bytes live once, in the nodes of a chained hash table
 *    (ctab.h) keyed by member, which also hold the score (ZSCORE, and a
 *    ZADD's "did it change" are one lookup); the tree points at them.
 *  - A full leaf first gives some of its elements to a neighbour with
 *    room (random inserts then keep leaves about 80% full, where splits
 *    alone leave them 50-70%); else it splits in two, as a full inner node
 *    does (at the end of the tree the old one stays full and the new one
 *    starts with the new element, so a load in order fills its nodes). A
 *    node that falls under a third of its capacity takes elements from a
 *    neighbour, or merges with it when both fit in one node.
 *  - A score change whose place in the order stays (between its
 *    neighbours) is written in place; otherwise the element leaves its
 *    leaf and is inserted anew (the ctab node stays).
 * The table frees the members when the zset goes, after the tree's nodes
 * (both in slices: zset_free_step). */
#include "shards/store/zset.h"
#include "shards/store/ctab.h"
#include "shards/store/store.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct zset_limits zset_default_limits = { 128, 64 };

/* ENC_SKIPLIST names the tree: the flat form's encoding byte is 1. */
enum { ENC_LISTPACK = 0, ENC_SKIPLIST = 1 };

/* What both forms start with: count << 1 | encoding, one word so that a
 * listpack's header is 4 bytes. */
struct zset {
    uint32_t word;
};

static inline unsigned zenc(const struct zset *z) { return z->word & 1; }
static inline size_t zcount(const struct zset *z) { return z->word >> 1; }
static inline void zcount_add(struct zset *z, int d) { z->word += (uint32_t)(d * 2); }

/* The listpack: its bytes in use are not kept, a walk of count elements
 * ends there. */
struct zset_lp {
    struct zset h;
    char        data[];
};

/* ---- the tree's parts --------------------------------------------------- */

#define NODE_BYTES 1024
#define LEAF_CAP   ((NODE_BYTES - 24) / 16)
#define INNER_CAP  ((NODE_BYTES - 8) / 28)
/* Under this a node takes from a neighbour or merges with it (the root
 * excepted). */
#define LEAF_MIN   (LEAF_CAP / 3)
#define INNER_MIN  (INNER_CAP / 3 > 2 ? INNER_CAP / 3 : 2)
/* The longest search path: a root splits only when full, and a node under
 * its minimum is merged or refilled, so a tree of 2^32 elements is about
 * seven levels deep; far more than that is a broken tree (asserted). */
#define MAX_DEPTH  36

/* A member: the table's node, which the tree points at. Its length goes
 * before its bytes as a LEB128 number (one byte below 128): with a 16-byte
 * header, a 13-byte member takes a 32-byte block, where a 4-byte length
 * field would make it 48 (mimalloc's classes past 32 are 16 bytes apart). */
struct zmember {
    struct ctab_node link;     /* first: the table's chain */
    double           score;
    char             bytes[];  /* length, member */
};

/* What both kinds of node start with: n slots in use. */
struct bnode {
    uint16_t n;
    uint16_t pad16;
    uint32_t pad32;
};

struct bleaf {
    struct bnode           h;
    struct bleaf          *prev, *next;
    double                 score[LEAF_CAP];
    const struct zmember  *m[LEAF_CAP];
};

/* max_*[i]: the greatest element under child[i], cnt[i] how many. */
struct binner {
    struct bnode           h;
    double                 max_score[INNER_CAP];
    const struct zmember  *max_m[INNER_CAP];
    struct bnode          *child[INNER_CAP];
    uint32_t               cnt[INNER_CAP];
};

_Static_assert(sizeof(struct bleaf) <= NODE_BYTES, "a leaf fits its block");
_Static_assert(sizeof(struct binner) <= NODE_BYTES, "an inner node fits its block");

struct zset_tree {
    struct zset   h;
    uint32_t      height; /* inner levels above the leaves: 0 when the root is a leaf */
    uint32_t      nodes;  /* tree nodes allocated, NODE_BYTES each */
    struct bnode *root;   /* NULL only while zset_free_step frees it */
    struct ctab   dict;
};

#define LP_HEADER offsetof(struct zset_lp, data)
_Static_assert(LP_HEADER == 4, "a listpack's header is one word");

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
    /* A whole number below 10^17 written with an exponent: Redis writes
     * it out (7.0's %.17g in all its digits; 7.2 its shortest digits, then
     * zeros, while the exponent is below the digits' count + 7; where both
     * do, so does this), as the 16-digit scores of a geo set
     * (3476079861717830, not 3.47607986171783e+15). */
    const char *e = memchr(buf, 'e', (size_t)n);
    if (e && e[1] == '+' && d > -1e17 && d < 1e17) {
        char digits[24];
        size_t nd = 0;
        for (const char *p = buf; p < e; p++)
            if (*p >= '0' && *p <= '9')
                digits[nd++] = *p;
        int exp = atoi(e + 2);
        int zeros = exp - ((int)nd - 1);
        if (zeros >= 0 && exp < (int)nd + 7) {
            size_t k = 0;
            if (d < 0)
                buf[k++] = '-';
            memcpy(buf + k, digits, nd);
            k += nd;
            memset(buf + k, '0', (size_t)zeros);
            return k + (size_t)zeros;
        }
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

/* A score's forms (the top of the file): the first byte's tag. */
#define SC_INT14  0x80 /* 10xxxxxx */
#define SC_INT21  0xC0 /* 110xxxxx */
#define SC_INT28  0xE0 /* 1110xxxx */
#define SC_INTN   0xF0 /* 11110nnn, n 4..7 */
#define SC_FLOAT  0xFE
#define SC_DOUBLE 0xFF

/* The bytes of a score whose first byte is b. */
static inline size_t score_size(uint8_t b)
{
    if (b < 0x80)
        return 1;
    if (b < 0xC0)
        return 2;
    if (b < 0xE0)
        return 3;
    if (b < 0xF0)
        return 4;
    if (b < 0xF8)
        return 1 + (b & 7u);
    return b == SC_FLOAT ? 5 : 9;
}

/* v in the form whose tag keeps tbits of it before k bytes, if it fits. */
static bool put_int_form(char *p, int64_t v, uint8_t tag, unsigned tbits, unsigned k)
{
    unsigned bits = tbits + 8 * k;
    int64_t lim = (int64_t)1 << (bits - 1);
    if (v < -lim || v >= lim)
        return false;
    uint64_t u = (uint64_t)v;
    p[0] = (char)(tag | ((u >> (8 * k)) & ((1u << tbits) - 1)));
    for (unsigned i = 1; i <= k; i++)
        p[i] = (char)(u >> (8 * (k - i)));
    return true;
}

/* score at p in its fewest bytes (at most 9): the size. */
static size_t score_put(char *p, double d)
{
    int64_t v;
    if (score_is_int(d, &v)) {
        if (v >= 0 && v < 128) {
            p[0] = (char)v;
            return 1;
        }
        if (put_int_form(p, v, SC_INT14, 6, 1))
            return 2;
        if (put_int_form(p, v, SC_INT21, 5, 2))
            return 3;
        if (put_int_form(p, v, SC_INT28, 4, 3))
            return 4;
        for (unsigned k = 4; k <= 7; k++) /* |v| <= 2^53: 7 bytes hold it */
            if (put_int_form(p, v, (uint8_t)(SC_INTN | k), 0, k))
                return 1 + k;
    }
    /* (a double past float's range may not be converted: C leaves it
     * undefined) */
    if (isinf(d) || fabs(d) <= FLT_MAX) {
        float f = (float)d;
        if ((double)f == d) { /* -0 stays -0: the conversion keeps the sign */
            p[0] = (char)SC_FLOAT;
            memcpy(p + 1, &f, 4);
            return 5;
        }
    }
    p[0] = (char)SC_DOUBLE;
    memcpy(p + 1, &d, 8);
    return 9;
}

/* The score at p (written by score_put). */
static inline double score_get(const char *p)
{
    uint8_t b = (uint8_t)p[0];
    if (b < 0x80)
        return b;
    if (b == SC_DOUBLE) {
        double d;
        memcpy(&d, p + 1, 8);
        return d;
    }
    if (b == SC_FLOAT) {
        float f;
        memcpy(&f, p + 1, 4);
        return f;
    }
    unsigned k = (unsigned)score_size(b) - 1, tbits = b < 0xC0 ? 6 : b < 0xE0 ? 5 : b < 0xF0 ? 4 : 0;
    uint64_t u = b & ((1u << tbits) - 1);
    for (unsigned i = 1; i <= k; i++)
        u = u << 8 | (uint8_t)p[i];
    uint64_t sign = (uint64_t)1 << (tbits + 8 * k - 1);
    return (double)(int64_t)((u ^ sign) - sign);
}

/* The most bytes an element adds to its member's: a length of up to 10
 * bytes, a score of up to 9. */
#define LP_OVERHEAD 19
/* A listpack converts past this many bytes whatever the limits say
 * (Redis's listpack safety size): its offsets then fit 32 bits. */
#define LP_MAX_BYTES ((size_t)1 << 30)

/* An element as written: its bytes into out (LP_OVERHEAD + member), its
 * size returned. */
static size_t lp_encode(char *out, struct slice m, double score)
{
    size_t n = put_varint(out, m.len);
    memcpy(out + n, m.ptr, m.len);
    n += m.len;
    return n + score_put(out + n, score);
}

struct lp_elem {
    const char *m;
    size_t      len;
    const char *score; /* its bytes: score_get */
    size_t      size;  /* bytes of the whole element */
};

static inline struct lp_elem lp_read(const struct zset_lp *z, size_t off)
{
    struct lp_elem e;
    const char *p = z->data + off;
    size_t n = 1;
    if ((uint8_t)p[0] < 128)
        e.len = (uint8_t)p[0];
    else
        e.len = (size_t)get_varint(p, &n);
    e.m = p + n;
    e.score = e.m + e.len;
    e.size = n + e.len + score_size((uint8_t)*e.score);
    return e;
}

/* The offset of the element count elements on from off. */
static size_t lp_skip(const struct zset_lp *z, size_t off, size_t count)
{
    while (count--)
        off += lp_read(z, off).size;
    return off;
}

/* Offset of member's element, or SIZE_MAX; *rank its position. */
static size_t lp_find(const struct zset_lp *z, struct slice m, size_t *rank, double *score)
{
    size_t off = 0, n = zcount(&z->h);
    for (size_t i = 0; i < n; i++) {
        struct lp_elem e = lp_read(z, off);
        if (e.len == m.len && memcmp(e.m, m.ptr, m.len) == 0) {
            if (rank)
                *rank = i;
            if (score)
                *score = score_get(e.score);
            return off;
        }
        off += e.size;
    }
    return SIZE_MAX;
}

static struct zset_lp *lp_new(struct store *s, size_t bytes)
{
    struct zset_lp *z = store_alloc(s, LP_HEADER + bytes);
    z->h.word = ENC_LISTPACK;
    return z;
}

/* What one walk finds for a member and the score it is to have: its
 * element (at, SIZE_MAX if absent; at_size; cur its score), where the
 * element would go among the others (place: the offset of the first other
 * one that sorts after it), and the end. */
struct lp_walk {
    size_t at, at_size, place, end;
    double cur;
};

static void lp_walk(const struct zset_lp *z, struct slice m, double score, struct lp_walk *w)
{
    size_t off = 0, n = zcount(&z->h);
    w->at = w->place = SIZE_MAX;
    w->at_size = 0;
    w->cur = 0;
    for (size_t i = 0; i < n; i++) {
        struct lp_elem e = lp_read(z, off);
        if (w->at == SIZE_MAX && e.len == m.len && memcmp(e.m, m.ptr, m.len) == 0) {
            w->at = off;
            w->at_size = e.size;
            w->cur = score_get(e.score);
        } else if (w->place == SIZE_MAX && elem_cmp(score_get(e.score), e.m, e.len, score, m.ptr, m.len) > 0) {
            w->place = off;
        }
        off += e.size;
    }
    w->end = off;
    if (w->place == SIZE_MAX)
        w->place = off;
}

/* Take n bytes at off out of end bytes of elements. */
static void lp_cut(struct zset_lp *z, size_t off, size_t n, size_t end)
{
    memmove(z->data + off, z->data + off + n, end - off - n);
}

/* The block holds end bytes of elements now: one at most half used is
 * made smaller (the allocator reallocates in place down to half). */
static struct zset_lp *lp_fit(struct store *s, struct zset_lp *z, size_t end)
{
    if (LP_HEADER + end <= store_alloc_size(z) / 2)
        z = store_realloc(s, z, LP_HEADER + end);
    return z;
}

/* Put the element (m, score) at place, end bytes of elements before: the
 * block grows when it must (to what it needs, the allocator's size class
 * leaving room over). */
static struct zset_lp *lp_insert_at(struct store *s, struct zset_lp *z, size_t place, size_t end, struct slice m,
                                    double score)
{
    char tmp[256];
    char *enc = m.len + LP_OVERHEAD <= sizeof tmp ? tmp : store_alloc(s, m.len + LP_OVERHEAD);
    size_t n = lp_encode(enc, m, score);
    if (LP_HEADER + end + n > store_alloc_size(z))
        z = store_realloc(s, z, LP_HEADER + end + n);
    memmove(z->data + place + n, z->data + place, end - place);
    memcpy(z->data + place, enc, n);
    if (enc != tmp)
        store_free(s, enc);
    return z;
}

/* ---- the tree ------------------------------------------------------------ */

static inline struct slice zm_member(const struct zmember *zm)
{
    if ((uint8_t)zm->bytes[0] < 128)
        return (struct slice){ zm->bytes + 1, (uint8_t)zm->bytes[0] };
    size_t n;
    uint64_t len = get_varint(zm->bytes, &n);
    return (struct slice){ zm->bytes + n, (size_t)len };
}

static struct slice member_key(const struct ctab_node *n)
{
    return zm_member((const struct zmember *)n);
}

/* (score, member) order between members of the tree: equal only for the
 * same member, whose bytes are then not read. */
static inline int key_cmp(double s1, const struct zmember *m1, double s2, const struct zmember *m2)
{
    if (s1 < s2)
        return -1;
    if (s1 > s2)
        return 1;
    if (m1 == m2)
        return 0;
    struct slice a = zm_member(m1), b = zm_member(m2);
    return member_cmp(a.ptr, a.len, b.ptr, b.len);
}

/* What a slot holds: a leaf's (score, m), an inner node's greatest
 * (score, m) of child and its count. */
struct bslot {
    double                score;
    const struct zmember *m;
    struct bnode         *child;
    uint32_t              cnt;
};

/* A search's way down: node[d] at depth d (0 the root, the tree's height
 * the leaf), idx[d] the child taken there, in the leaf the element's
 * place (where it is, or would go). */
struct bpath {
    struct bnode *node[MAX_DEPTH];
    unsigned      idx[MAX_DEPTH];
};

static struct bnode *node_new(struct store *s, struct zset_tree *t, bool leaf)
{
    struct bnode *n = store_alloc(s, NODE_BYTES);
    n->n = 0;
    if (leaf) {
        struct bleaf *l = (struct bleaf *)n;
        l->prev = l->next = NULL;
    }
    t->nodes++;
    return n;
}

static void node_free(struct store *s, struct zset_tree *t, struct bnode *n)
{
    store_free(s, n);
    t->nodes--;
}

/* k slots from src at si to dst at di (the same node too). */
static void slots_move(bool leaf, struct bnode *dst, unsigned di, const struct bnode *src, unsigned si, unsigned k)
{
    if (k == 0)
        return;
    if (leaf) {
        struct bleaf *d = (struct bleaf *)dst;
        const struct bleaf *f = (const struct bleaf *)src;
        memmove(&d->score[di], &f->score[si], k * sizeof d->score[0]);
        memmove(&d->m[di], &f->m[si], k * sizeof d->m[0]);
        return;
    }
    struct binner *d = (struct binner *)dst;
    const struct binner *f = (const struct binner *)src;
    memmove(&d->max_score[di], &f->max_score[si], k * sizeof d->max_score[0]);
    memmove(&d->max_m[di], &f->max_m[si], k * sizeof d->max_m[0]);
    memmove(&d->child[di], &f->child[si], k * sizeof d->child[0]);
    memmove(&d->cnt[di], &f->cnt[si], k * sizeof d->cnt[0]);
}

static void slot_insert(bool leaf, struct bnode *n, unsigned pos, const struct bslot *v)
{
    slots_move(leaf, n, pos + 1, n, pos, n->n - pos);
    if (leaf) {
        struct bleaf *l = (struct bleaf *)n;
        l->score[pos] = v->score;
        l->m[pos] = v->m;
    } else {
        struct binner *in = (struct binner *)n;
        in->max_score[pos] = v->score;
        in->max_m[pos] = v->m;
        in->child[pos] = v->child;
        in->cnt[pos] = v->cnt;
    }
    n->n++;
}

static void slot_remove(bool leaf, struct bnode *n, unsigned pos)
{
    slots_move(leaf, n, pos, n, pos + 1, n->n - pos - 1);
    n->n--;
}

/* The greatest element under n (which is not empty). */
static inline void node_max(bool leaf, const struct bnode *n, double *score, const struct zmember **m)
{
    if (leaf) {
        const struct bleaf *l = (const struct bleaf *)n;
        *score = l->score[n->n - 1];
        *m = l->m[n->n - 1];
    } else {
        const struct binner *in = (const struct binner *)n;
        *score = in->max_score[n->n - 1];
        *m = in->max_m[n->n - 1];
    }
}

static uint32_t node_count(bool leaf, const struct bnode *n)
{
    if (leaf)
        return n->n;
    const struct binner *in = (const struct binner *)n;
    uint32_t c = 0;
    for (unsigned i = 0; i < n->n; i++)
        c += in->cnt[i];
    return c;
}

/* What in says of its child i, made true again. */
static void child_refresh(struct binner *in, unsigned i, bool leaf)
{
    in->cnt[i] = node_count(leaf, in->child[i]);
    node_max(leaf, in->child[i], &in->max_score[i], &in->max_m[i]);
}

static struct bslot slot_of(bool leaf, struct bnode *n)
{
    struct bslot v = { .child = n, .cnt = node_count(leaf, n) };
    node_max(leaf, n, &v.score, &v.m);
    return v;
}

/* Find (score, zm)'s place: in each inner node the first child whose
 * greatest is not below it (the last if none), in the leaf the first
 * element not below it. */
/* The first of n (score, member) pairs in order that is not below
 * (score, zm); n if none. */
static inline unsigned first_not_below(const double *sc, const struct zmember *const *m, unsigned n, double score,
                                       const struct zmember *zm)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (key_cmp(score, zm, sc[mid], m[mid]) <= 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void tree_find(const struct zset_tree *t, double score, const struct zmember *zm, struct bpath *p)
{
    struct bnode *n = t->root;
    for (unsigned d = 0; d < t->height; d++) {
        const struct binner *in = (const struct binner *)n;
        /* the last child takes what is past every max */
        unsigned lo = first_not_below(in->max_score, in->max_m, in->h.n - 1u, score, zm);
        p->node[d] = n;
        p->idx[d] = lo;
        n = in->child[lo];
    }
    const struct bleaf *l = (const struct bleaf *)n;
    unsigned lo = first_not_below(l->score, l->m, l->h.n, score, zm);
    p->node[t->height] = n;
    p->idx[t->height] = lo;
}

/* Put v in node a at pos; a full node splits, and the new right half is
 * returned (NULL if none). At the tree's end (at_end: a is the last node
 * of its level and v goes after all) a keeps all it had, so a load in
 * order leaves full nodes behind it. */
static struct bnode *node_insert(struct store *s, struct zset_tree *t, bool leaf, struct bnode *a, unsigned pos,
                                 const struct bslot *v, bool at_end)
{
    unsigned cap = leaf ? LEAF_CAP : INNER_CAP;
    if (a->n < cap) {
        slot_insert(leaf, a, pos, v);
        return NULL;
    }
    struct bnode *b = node_new(s, t, leaf);
    unsigned k = at_end && pos == cap ? cap : (cap + 1) / 2; /* a's slots after */
    if (pos < k) {
        slots_move(leaf, b, 0, a, k - 1, cap - k + 1);
        b->n = (uint16_t)(cap - k + 1);
        a->n = (uint16_t)(k - 1);
        slot_insert(leaf, a, pos, v);
    } else {
        slots_move(leaf, b, 0, a, k, cap - k);
        b->n = (uint16_t)(cap - k);
        a->n = (uint16_t)k;
        slot_insert(leaf, b, pos - k, v);
    }
    if (leaf) {
        struct bleaf *al = (struct bleaf *)a, *bl = (struct bleaf *)b;
        bl->prev = al;
        bl->next = al->next;
        if (al->next)
            al->next->prev = bl;
        al->next = bl;
    }
    return b;
}

/* v into the full leaf l (child i of in) by way of a neighbour with room
 * for two or more: l gives it half that room's worth of its slots, and v
 * goes where it belongs. A split would leave two half-full leaves: with
 * this, leaves filled in random order stay about four fifths full. false
 * if neither neighbour has the room. */
static bool leaf_share(struct binner *in, unsigned i, struct bleaf *l, unsigned pos, const struct bslot *v)
{
    if (i > 0) {
        struct bnode *left = in->child[i - 1];
        unsigned room = LEAF_CAP - left->n;
        if (room >= 2) {
            unsigned k = room / 2, was = left->n;
            slots_move(true, left, was, &l->h, 0, k);
            slots_move(true, &l->h, 0, &l->h, k, LEAF_CAP - k);
            left->n = (uint16_t)(was + k);
            l->h.n = (uint16_t)(LEAF_CAP - k);
            if (pos < k)
                slot_insert(true, left, was + pos, v);
            else
                slot_insert(true, &l->h, pos - k, v);
            child_refresh(in, i - 1, true);
            child_refresh(in, i, true);
            return true;
        }
    }
    if (i + 1u < in->h.n) {
        struct bnode *right = in->child[i + 1];
        unsigned room = LEAF_CAP - right->n;
        if (room >= 2) {
            unsigned k = room / 2, keep = LEAF_CAP - k;
            slots_move(true, right, k, right, 0, right->n);
            slots_move(true, right, 0, &l->h, keep, k);
            right->n = (uint16_t)(right->n + k);
            l->h.n = (uint16_t)keep;
            if (pos <= keep)
                slot_insert(true, &l->h, pos, v);
            else
                slot_insert(true, right, pos - keep, v);
            child_refresh(in, i, true);
            child_refresh(in, i + 1, true);
            return true;
        }
    }
    return false;
}

/* Link zm (its score set) into the tree. */
static void tree_insert(struct store *s, struct zset_tree *t, const struct zmember *zm)
{
    struct bpath p;
    tree_find(t, zm->score, zm, &p);
    unsigned h = t->height;
    struct bleaf *l = (struct bleaf *)p.node[h];
    struct bslot v = { .score = zm->score, .m = zm };
    bool at_end = !l->next && p.idx[h] == LEAF_CAP;
    int d = (int)h - 1;
    struct bnode *right = NULL;
    if (l->h.n == LEAF_CAP && !at_end && h > 0 &&
        leaf_share((struct binner *)p.node[h - 1], p.idx[h - 1], l, p.idx[h], &v))
        d--; /* the parent knows */
    else
        right = node_insert(s, t, true, &l->h, p.idx[h], &v, at_end);
    for (; d >= 0; d--) {
        struct binner *in = (struct binner *)p.node[d];
        unsigned i = p.idx[d];
        bool below_leaf = d == (int)h - 1;
        if (!right) {
            in->cnt[i]++;
            node_max(below_leaf, in->child[i], &in->max_score[i], &in->max_m[i]);
            continue;
        }
        child_refresh(in, i, below_leaf);
        v = slot_of(below_leaf, right);
        at_end = at_end && i + 1 == INNER_CAP;
        right = node_insert(s, t, false, &in->h, i + 1, &v, at_end);
    }
    if (right) { /* the root split: a new root above both halves */
        bool below_leaf = h == 0;
        struct binner *root = (struct binner *)node_new(s, t, false);
        struct bslot a = slot_of(below_leaf, t->root), b = slot_of(below_leaf, right);
        slot_insert(false, &root->h, 0, &a);
        slot_insert(false, &root->h, 1, &b);
        t->root = &root->h;
        t->height++;
        assert(t->height < MAX_DEPTH); /* a path fits its arrays */
    }
}

/* in's children i and i + 1 (one of them under its minimum): merged into
 * the first when they fit in one node, else their slots shared evenly. */
static void children_rebalance(struct store *s, struct zset_tree *t, struct binner *in, unsigned i, bool leaf)
{
    struct bnode *a = in->child[i], *b = in->child[i + 1];
    unsigned cap = leaf ? LEAF_CAP : INNER_CAP;
    if (a->n + b->n <= cap) {
        slots_move(leaf, a, a->n, b, 0, b->n);
        a->n = (uint16_t)(a->n + b->n);
        if (leaf) {
            struct bleaf *al = (struct bleaf *)a, *bl = (struct bleaf *)b;
            al->next = bl->next;
            if (bl->next)
                bl->next->prev = al;
        }
        node_free(s, t, b);
        in->cnt[i] += in->cnt[i + 1];
        slot_remove(false, &in->h, i + 1);
        node_max(leaf, a, &in->max_score[i], &in->max_m[i]);
        return;
    }
    unsigned want = (a->n + b->n) / 2u; /* a's slots after */
    if (a->n < want) {
        unsigned k = want - a->n;
        slots_move(leaf, a, a->n, b, 0, k);
        slots_move(leaf, b, 0, b, k, b->n - k);
        a->n = (uint16_t)(a->n + k);
        b->n = (uint16_t)(b->n - k);
    } else {
        unsigned k = a->n - want;
        slots_move(leaf, b, k, b, 0, b->n);
        slots_move(leaf, b, 0, a, a->n - k, k);
        a->n = (uint16_t)(a->n - k);
        b->n = (uint16_t)(b->n + k);
    }
    child_refresh(in, i, leaf);
    child_refresh(in, i + 1, leaf);
}

/* Take the element at p's leaf place out of the tree (not the table). */
static void tree_remove_at(struct store *s, struct zset_tree *t, const struct bpath *p)
{
    unsigned h = t->height;
    slot_remove(true, p->node[h], p->idx[h]);
    for (int d = (int)h - 1; d >= 0; d--) {
        struct binner *in = (struct binner *)p->node[d];
        unsigned i = p->idx[d];
        bool below_leaf = d == (int)h - 1;
        struct bnode *c = in->child[i];
        in->cnt[i]--;
        if (c->n == 0) { /* emptied (a node split off at the end may hold one) */
            if (below_leaf) {
                struct bleaf *l = (struct bleaf *)c;
                if (l->prev)
                    l->prev->next = l->next;
                if (l->next)
                    l->next->prev = l->prev;
            }
            node_free(s, t, c);
            slot_remove(false, &in->h, i);
        } else if (c->n < (below_leaf ? LEAF_MIN : INNER_MIN) && in->h.n > 1) {
            children_rebalance(s, t, in, i > 0 ? i - 1 : i, below_leaf);
        } else {
            node_max(below_leaf, c, &in->max_score[i], &in->max_m[i]);
        }
    }
    while (t->height > 0 && t->root->n <= 1) {
        struct binner *root = (struct binner *)t->root;
        struct bnode *only = root->h.n ? root->child[0] : NULL;
        node_free(s, t, &root->h);
        t->height--;
        t->root = only ? only : node_new(s, t, true);
        if (!only)
            t->height = 0;
    }
}

/* The leaf and place of the element at rank r (< count). */
static const struct bleaf *tree_at(const struct zset_tree *t, size_t r, unsigned *pos)
{
    const struct bnode *n = t->root;
    for (unsigned d = 0; d < t->height; d++) {
        const struct binner *in = (const struct binner *)n;
        unsigned j = 0;
        while (j + 1u < in->h.n && r >= in->cnt[j])
            r -= in->cnt[j++];
        n = in->child[j];
    }
    *pos = (unsigned)r;
    return (const struct bleaf *)n;
}

/* The rank of the element at p's leaf place. */
static size_t tree_rank(const struct zset_tree *t, const struct bpath *p)
{
    size_t r = 0;
    for (unsigned d = 0; d < t->height; d++) {
        const struct binner *in = (const struct binner *)p->node[d];
        for (unsigned j = 0; j < p->idx[d]; j++)
            r += in->cnt[j];
    }
    return r + p->idx[t->height];
}

static struct zset_tree *tree_new(struct store *s, size_t hint)
{
    struct zset_tree *t = store_alloc(s, sizeof *t);
    t->h.word = ENC_SKIPLIST;
    t->height = 0;
    t->nodes = 0;
    t->root = node_new(s, t, true);
    ctab_init(s, &t->dict, hint, member_key);
    return t;
}

static struct zmember *tree_lookup(const struct zset_tree *t, struct slice m)
{
    struct ctab_node **link = ctab_find(&t->dict, m);
    return link ? (struct zmember *)*link : NULL;
}

static void tree_add(struct store *s, struct zset_tree *t, struct slice m, double score)
{
    char len[10];
    size_t n = put_varint(len, m.len);
    struct zmember *zm = store_alloc(s, offsetof(struct zmember, bytes) + n + m.len);
    zm->link.next = NULL;
    zm->score = score;
    memcpy(zm->bytes, len, n);
    memcpy(zm->bytes + n, m.ptr, m.len);
    ctab_add(s, &t->dict, &zm->link);
    tree_insert(s, t, zm);
    zcount_add(&t->h, 1);
}

/* zm's score becomes score (another): in place when its neighbours still
 * surround it, else out of its leaf and in anew. */
static void tree_rescore(struct store *s, struct zset_tree *t, struct zmember *zm, double score)
{
    struct bpath p;
    tree_find(t, zm->score, zm, &p);
    unsigned h = t->height, pos = p.idx[h];
    struct bleaf *l = (struct bleaf *)p.node[h];
    assert(pos < l->h.n && l->m[pos] == zm);
    const struct bleaf *pl = pos > 0 ? l : l->prev, *nl = pos + 1u < l->h.n ? l : l->next;
    unsigned pi = pos > 0 ? pos - 1 : pl ? pl->h.n - 1u : 0, ni = pos + 1u < l->h.n ? pos + 1 : 0;
    if ((!pl || key_cmp(score, zm, pl->score[pi], pl->m[pi]) > 0) &&
        (!nl || key_cmp(score, zm, nl->score[ni], nl->m[ni]) < 0)) {
        l->score[pos] = score;
        zm->score = score;
        for (int d = (int)h - 1; d >= 0; d--) { /* the greatest of the nodes it ends */
            struct binner *in = (struct binner *)p.node[d];
            if (in->max_m[p.idx[d]] != zm)
                break;
            in->max_score[p.idx[d]] = score;
        }
        return;
    }
    tree_remove_at(s, t, &p);
    zm->score = score;
    tree_insert(s, t, zm);
}

/* Free up to *budget of the tree's nodes: the leftmost leaf each time, and
 * the inner nodes it leaves empty. */
static bool tree_free_step(struct store *s, struct zset_tree *t, size_t *budget)
{
    while (t->root) {
        if (*budget == 0)
            return false;
        struct binner *path[MAX_DEPTH];
        struct bnode *n = t->root;
        for (unsigned d = 0; d < t->height; d++) {
            path[d] = (struct binner *)n;
            n = path[d]->child[0];
        }
        node_free(s, t, n);
        (*budget)--;
        int d = (int)t->height - 1;
        for (; d >= 0; d--) {
            slot_remove(false, &path[d]->h, 0);
            if (path[d]->h.n > 0)
                break;
            node_free(s, t, &path[d]->h);
            if (*budget)
                (*budget)--;
        }
        if (d < 0)
            t->root = NULL;
    }
    return true;
}

/* Convert a listpack to a tree (for good). */
static struct zset *to_tree(struct store *s, struct zset_lp *lp)
{
    size_t n = zcount(&lp->h);
    struct zset_tree *t = tree_new(s, n * 2);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        struct lp_elem e = lp_read(lp, off);
        tree_add(s, t, (struct slice){ e.m, e.len }, score_get(e.score));
        off += e.size;
    }
    store_free(s, lp);
    return &t->h;
}

/* ---- the interface ---------------------------------------------------- */

struct zset *zset_to_skiplist(struct store *s, struct zset *z)
{
    return zenc(z) == ENC_LISTPACK ? to_tree(s, (struct zset_lp *)z) : z;
}

struct zset *zset_create(struct store *s, size_t size_hint, size_t max_member, const struct zset_limits *lim)
{
    /* a length byte, the member and a one-byte score each (the block
     * grows past that as it must, and a block begun too big stays so:
     * members guessed at 16 bytes at most) */
    if (size_hint <= lim->max_listpack_entries && max_member <= lim->max_listpack_value)
        return &lp_new(s, size_hint * (2 + (max_member < 16 ? max_member : 16)))->h;
    return &tree_new(s, size_hint)->h;
}

bool zset_free_step(struct store *s, struct zset *z, size_t *budget)
{
    if (zenc(z) == ENC_SKIPLIST) {
        struct zset_tree *t = (struct zset_tree *)z;
        if (!tree_free_step(s, t, budget) || !ctab_free_step(s, &t->dict, budget))
            return false;
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

size_t zset_len(const struct zset *z) { return zcount(z); }

size_t zset_memory(const struct zset *z, size_t samples)
{
    size_t m = store_alloc_size(z);
    if (zenc(z) == ENC_SKIPLIST) {
        const struct zset_tree *t = (const struct zset_tree *)z;
        m += ctab_memory(&t->dict, samples);
        if (t->root) /* every node is a NODE_BYTES block */
            m += t->nodes * store_alloc_size(t->root);
    }
    return m;
}

const char *zset_encoding(const struct zset *z)
{
    return zenc(z) == ENC_LISTPACK ? "listpack" : "skiplist";
}

bool zset_score(const struct zset *z, struct slice m, double *score)
{
    if (zenc(z) == ENC_LISTPACK) {
        const struct zset_lp *lp = (const struct zset_lp *)z;
        return lp_find(lp, m, NULL, score) != SIZE_MAX;
    }
    const struct zmember *zm = tree_lookup((const struct zset_tree *)z, m);
    if (!zm)
        return false;
    *score = zm->score;
    return true;
}

enum zset_put_result zset_put(struct store *s, struct zset **zp, struct slice m, double score,
                              const struct zset_limits *lim)
{
    struct zset *z = *zp;
    if (zenc(z) == ENC_LISTPACK) {
        struct zset_lp *lp = (struct zset_lp *)z;
        struct lp_walk w;
        lp_walk(lp, m, score, &w);
        bool added = w.at == SIZE_MAX;
        if (!added) {
            if (w.cur == score)
                return ZSET_SAME;
            lp_cut(lp, w.at, w.at_size, w.end);
            w.end -= w.at_size;
            if (w.place > w.at)
                w.place -= w.at_size;
        }
        if (added && (zcount(z) + 1 > lim->max_listpack_entries || m.len > lim->max_listpack_value ||
                      w.end + m.len + LP_OVERHEAD > LP_MAX_BYTES)) {
            z = to_tree(s, lp);
        } else {
            lp = lp_insert_at(s, lp, w.place, w.end, m, score);
            if (added)
                zcount_add(&lp->h, 1);
            *zp = &lp->h;
            return added ? ZSET_ADDED : ZSET_UPDATED;
        }
    }
    struct zset_tree *t = (struct zset_tree *)z;
    *zp = z;
    struct zmember *zm = tree_lookup(t, m);
    if (zm) {
        if (zm->score == score)
            return ZSET_SAME;
        tree_rescore(s, t, zm, score);
        return ZSET_UPDATED;
    }
    tree_add(s, t, m, score);
    return ZSET_ADDED;
}

bool zset_set(struct store *s, struct zset **zp, struct slice m, double score, const struct zset_limits *lim)
{
    return zset_put(s, zp, m, score, lim) == ZSET_ADDED;
}

bool zset_remove(struct store *s, struct zset **zp, struct slice m)
{
    struct zset *z = *zp;
    if (zenc(z) == ENC_LISTPACK) {
        struct zset_lp *lp = (struct zset_lp *)z;
        size_t rank, off = lp_find(lp, m, &rank, NULL);
        if (off == SIZE_MAX)
            return false;
        size_t size = lp_read(lp, off).size, end = lp_skip(lp, off + size, zcount(z) - rank - 1);
        lp_cut(lp, off, size, end);
        zcount_add(&lp->h, -1);
        *zp = &lp_fit(s, lp, end - size)->h;
        return true;
    }
    struct zset_tree *t = (struct zset_tree *)z;
    struct ctab_node **link = ctab_find(&t->dict, m);
    if (!link)
        return false;
    struct zmember *zm = (struct zmember *)*link;
    struct bpath p;
    tree_find(t, zm->score, zm, &p);
    tree_remove_at(s, t, &p);
    ctab_unlink(s, &t->dict, link);
    store_free(s, zm);
    zcount_add(&t->h, -1);
    return true;
}

bool zset_rank(const struct zset *z, struct slice m, size_t *rank)
{
    if (zenc(z) == ENC_LISTPACK)
        return lp_find((const struct zset_lp *)z, m, rank, NULL) != SIZE_MAX;
    const struct zset_tree *t = (const struct zset_tree *)z;
    const struct zmember *zm = tree_lookup(t, m);
    if (!zm)
        return false;
    struct bpath p;
    tree_find(t, zm->score, zm, &p);
    *rank = tree_rank(t, &p);
    return true;
}

/* A bound of a score or a member range: an element is before it when its
 * score (lex: its member) is below v, or with or_equal equal to it. The
 * elements before a bound are a prefix of the order. */
struct bound {
    double       v;
    struct slice lex;
    bool         is_lex;
    bool         or_equal;
};

static inline bool before(const struct bound *b, double score, const char *m, size_t len)
{
    if (!b->is_lex)
        return score < b->v || (b->or_equal && score == b->v);
    int c = member_cmp(m, len, b->lex.ptr, b->lex.len);
    return c < 0 || (b->or_equal && c == 0);
}

/* The same for a member of the tree: its bytes read only for a lex bound. */
static inline bool before_member(const struct bound *b, double score, const struct zmember *zm)
{
    if (!b->is_lex)
        return score < b->v || (b->or_equal && score == b->v);
    struct slice m = zm_member(zm);
    return before(b, score, m.ptr, m.len);
}

static size_t count_prefix(const struct zset *z, const struct bound *b)
{
    if (zenc(z) == ENC_LISTPACK) {
        const struct zset_lp *lp = (const struct zset_lp *)z;
        size_t off = 0, i = 0;
        for (size_t n = zcount(z); i < n; i++) {
            struct lp_elem e = lp_read(lp, off);
            if (!before(b, score_get(e.score), e.m, e.len))
                break;
            off += e.size;
        }
        return i;
    }
    const struct zset_tree *t = (const struct zset_tree *)z;
    size_t r = 0;
    const struct bnode *n = t->root;
    for (unsigned d = 0; d < t->height; d++) {
        const struct binner *in = (const struct binner *)n;
        unsigned lo = 0, hi = in->h.n;
        while (lo < hi) { /* the first child not wholly before */
            unsigned mid = (lo + hi) / 2;
            if (before_member(b, in->max_score[mid], in->max_m[mid]))
                lo = mid + 1;
            else
                hi = mid;
        }
        for (unsigned j = 0; j < lo; j++)
            r += in->cnt[j];
        if (lo == in->h.n)
            return r;
        n = in->child[lo];
    }
    const struct bleaf *l = (const struct bleaf *)n;
    unsigned lo = 0, hi = l->h.n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (before_member(b, l->score[mid], l->m[mid]))
            lo = mid + 1;
        else
            hi = mid;
    }
    return r + lo;
}

size_t zset_count_below(const struct zset *z, double v, bool or_equal)
{
    struct bound b = { .v = v, .or_equal = or_equal };
    return count_prefix(z, &b);
}

size_t zset_count_below_lex(const struct zset *z, struct slice v, bool or_equal)
{
    struct bound b = { .lex = v, .is_lex = true, .or_equal = or_equal };
    return count_prefix(z, &b);
}

void zset_iter_at(const struct zset *z, size_t rank, bool rev, struct zset_iter *it)
{
    /* (not the marks: only a descending listpack walk writes and reads them) */
    it->z = z;
    it->node = NULL;
    it->off = 0;
    it->left = 0;
    it->rev = rev;
    size_t n = zcount(z);
    if (rank >= n)
        return;
    it->left = n - rank;
    size_t asc = rev ? n - 1 - rank : rank;
    if (zenc(z) == ENC_LISTPACK) {
        const struct zset_lp *lp = (const struct zset_lp *)z;
        if (!rev) {
            it->off = lp_skip(lp, 0, asc);
            return;
        }
        /* marks at 0, stride, 2 stride... up to asc: asc / stride is
         * below ZSET_ITER_MARKS */
        size_t stride = asc / ZSET_ITER_MARKS + 1, off = 0;
        for (size_t i = 0; i < asc; i++) {
            if (i % stride == 0)
                it->mark[i / stride] = (uint32_t)off;
            off += lp_read(lp, off).size;
        }
        if (asc % stride == 0)
            it->mark[asc / stride] = (uint32_t)off;
        it->stride = stride;
        it->pos = asc;
        it->off = off;
    } else {
        unsigned pos;
        it->node = tree_at((const struct zset_tree *)z, asc, &pos);
        it->off = pos; /* the place in the leaf */
    }
}

bool zset_iter_next(struct zset_iter *it, struct slice *m, double *score)
{
    if (it->left == 0)
        return false;
    it->left--;
    if (zenc(it->z) == ENC_LISTPACK) {
        const struct zset_lp *lp = (const struct zset_lp *)it->z;
        struct lp_elem e = lp_read(lp, it->off);
        *m = (struct slice){ e.m, e.len };
        *score = score_get(e.score);
        if (!it->rev) {
            it->off += e.size;
        } else if (it->left) { /* the one before: forward from its mark */
            size_t p = --it->pos;
            it->off = lp_skip(lp, it->mark[p / it->stride], p % it->stride);
        }
        return true;
    }
    const struct bleaf *l = it->node;
    const struct zmember *zm = l->m[it->off];
    *m = zm_member(zm);
    *score = l->score[it->off];
    if (!it->left)
        return true;
    if (it->rev) {
        if (it->off == 0) {
            l = l->prev;
            it->node = l;
            it->off = l->h.n;
        }
        it->off--;
    } else if (++it->off == l->h.n) {
        it->node = l->next;
        it->off = 0;
    }
    return true;
}

struct scan_visit {
    zset_visit_fn *fn;
    void          *arg;
};

static void scan_member(void *arg, const struct ctab_node *cn)
{
    const struct scan_visit *v = arg;
    const struct zmember *zm = (const struct zmember *)cn;
    v->fn(v->arg, zm_member(zm), zm->score);
}

uint64_t zset_scan(const struct zset *z, uint64_t cursor, size_t count, zset_visit_fn *fn, void *arg)
{
    if (zenc(z) == ENC_SKIPLIST) {
        struct scan_visit v = { fn, arg };
        return ctab_scan(&((const struct zset_tree *)z)->dict, cursor, count, scan_member, &v);
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
    uint8_t enc = (uint8_t)zenc(z);
    uint32_t count = (uint32_t)zcount(z);
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
    /* a listpack's element is at least 10 bytes smaller than here: a block
     * begun bigger than it needs would stay so */
    size_t lp_bytes = n - 5 > 10 * hint ? n - 5 - 10 * hint : 0;
    struct zset *z = enc == ENC_LISTPACK ? &lp_new(s, lp_bytes)->h : &tree_new(s, hint)->h;
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
