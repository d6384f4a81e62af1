/* zset (shards/store/zset.c): both encodings checked against a plain model
 * (a sorted array) through a random mix of sets, score changes and
 * removals: lengths, scores, ranks, counts below score and member bounds,
 * walks from every rank both ways; the listpack's conversion past each
 * limit; ZSCAN's cursor over a skiplist; the flat encoding and copies; and
 * memory back to zero. The listpack's own encoding: scores at the edges of
 * each of its forms, members of every length class, the conversion
 * points, its bytes on issue 12's load, and binary members against a
 * model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>

#include "shards/store/store.h"
#include "shards/store/zset.h"

#define MAXM 400

struct model {
    char   m[MAXM][16];
    double score[MAXM];
    int    n;
};

static int elem_cmp(const struct model *md, int i, double s, const char *m)
{
    if (md->score[i] != s)
        return md->score[i] < s ? -1 : 1;
    return strcmp(md->m[i], m);
}

static void model_set(struct model *md, const char *m, double s)
{
    for (int i = 0; i < md->n; i++)
        if (strcmp(md->m[i], m) == 0) {
            memmove(&md->m[i], &md->m[i + 1], (size_t)(md->n - i - 1) * sizeof md->m[0]);
            memmove(&md->score[i], &md->score[i + 1], (size_t)(md->n - i - 1) * sizeof md->score[0]);
            md->n--;
            break;
        }
    int at = 0;
    while (at < md->n && elem_cmp(md, at, s, m) < 0)
        at++;
    memmove(&md->m[at + 1], &md->m[at], (size_t)(md->n - at) * sizeof md->m[0]);
    memmove(&md->score[at + 1], &md->score[at], (size_t)(md->n - at) * sizeof md->score[0]);
    snprintf(md->m[at], sizeof md->m[at], "%s", m);
    md->score[at] = s;
    md->n++;
}

static bool model_remove(struct model *md, const char *m)
{
    for (int i = 0; i < md->n; i++)
        if (strcmp(md->m[i], m) == 0) {
            memmove(&md->m[i], &md->m[i + 1], (size_t)(md->n - i - 1) * sizeof md->m[0]);
            memmove(&md->score[i], &md->score[i + 1], (size_t)(md->n - i - 1) * sizeof md->score[0]);
            md->n--;
            return true;
        }
    return false;
}

static struct slice S(const char *s) { return (struct slice){ s, strlen(s) }; }

static void check(const struct zset *z, const struct model *md)
{
    assert_int_equal(zset_len(z), (size_t)md->n);
    for (int i = 0; i < md->n; i++) {
        size_t r;
        double s;
        assert_true(zset_rank(z, S(md->m[i]), &r));
        assert_int_equal(r, (size_t)i);
        assert_true(zset_score(z, S(md->m[i]), &s));
        assert_true(s == md->score[i]);
    }
    for (int v = -2; v <= 12; v++) {
        size_t below = 0, upto = 0;
        for (int i = 0; i < md->n; i++) {
            below += md->score[i] < v;
            upto += md->score[i] <= v;
        }
        assert_int_equal(zset_count_below(z, v, false), below);
        assert_int_equal(zset_count_below(z, v, true), upto);
    }
    /* walks from a few ranks, both ways */
    for (int start = 0; start < md->n; start += 1 + md->n / 7) {
        struct zset_iter it;
        struct slice m;
        double s;
        zset_iter_at(z, (size_t)start, false, &it);
        for (int i = start; i < md->n; i++) {
            assert_true(zset_iter_next(&it, &m, &s));
            assert_int_equal(m.len, strlen(md->m[i]));
            assert_memory_equal(m.ptr, md->m[i], m.len);
            assert_true(s == md->score[i]);
        }
        assert_false(zset_iter_next(&it, &m, &s));
        zset_iter_at(z, (size_t)start, true, &it);
        for (int i = md->n - 1 - start; i >= 0; i--) {
            assert_true(zset_iter_next(&it, &m, &s));
            assert_int_equal(m.len, strlen(md->m[i]));
            assert_memory_equal(m.ptr, md->m[i], m.len);
            assert_true(s == md->score[i]);
        }
        assert_false(zset_iter_next(&it, &m, &s));
    }
}

static void random_mix(const struct zset_limits *lim, int members, const char *want_enc)
{
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset *z = zset_create(s, 0, 0, lim);
    static struct model md;
    md.n = 0;
    unsigned seed = 99;
    for (int op = 0; op < 3000; op++) {
        char m[16];
        snprintf(m, sizeof m, "m%u", rand_r(&seed) % (unsigned)members);
        /* whole scores (written as integers in a listpack), halves and
         * one below zero (written as doubles) */
        double sc = (double)(rand_r(&seed) % 12) + (rand_r(&seed) % 3 == 0 ? 0.5 : 0) - (op % 5 == 0 ? 1 : 0);
        if (rand_r(&seed) % 4 == 0) {
            assert_int_equal(zset_remove(s, &z, S(m)), model_remove(&md, m));
        } else {
            double old;
            bool had = zset_score(z, S(m), &old);
            assert_int_equal(zset_set(s, &z, S(m), sc, lim), !had);
            model_set(&md, m, sc);
        }
        if (op % 97 == 0)
            check(z, &md);
    }
    check(z, &md);
    assert_string_equal(zset_encoding(z), want_enc);
    /* lex counts, on a zset whose scores are equal */
    struct zset *l = zset_create(s, 0, 0, lim);
    for (int i = 0; i < members; i++) {
        char m[16];
        snprintf(m, sizeof m, "k%03d", i);
        zset_set(s, &l, S(m), 1, lim);
    }
    assert_int_equal(zset_count_below_lex(l, S("k010"), false), 10);
    assert_int_equal(zset_count_below_lex(l, S("k010"), true), 11);
    assert_int_equal(zset_count_below_lex(l, S("k0105"), false), 11);
    /* the flat form and copies */
    struct buf b;
    buf_init(&b);
    zset_encode(z, &b);
    struct zset *d = zset_decode(s, b.data, b.len);
    assert_non_null(d);
    assert_string_equal(zset_encoding(d), zset_encoding(z));
    check(d, &md);
    assert_null(zset_decode(s, b.data, b.len - 1));
    buf_free(&b);
    struct zset *copy = zset_dup(s, z);
    check(copy, &md);
    zset_destroy(s, copy);
    zset_destroy(s, d);
    zset_destroy(s, l);
    zset_destroy(s, z);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

static void test_listpack(void **state)
{
    (void)state;
    struct zset_limits lim = { 1000, 64 };
    random_mix(&lim, 100, "listpack");
}

static void test_skiplist(void **state)
{
    (void)state;
    random_mix(&zset_default_limits, 350, "skiplist");
}

static void test_conversions(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    size_t empty = store_used_memory(s);
    struct zset_limits lim = { 4, 8 };
    struct zset *z = zset_create(s, 1, 1, &lim);
    for (int i = 0; i < 4; i++) {
        char m[8];
        snprintf(m, sizeof m, "%d", i);
        zset_set(s, &z, S(m), i, &lim);
    }
    assert_string_equal(zset_encoding(z), "listpack");
    zset_set(s, &z, S("x"), 9, &lim);
    assert_string_equal(zset_encoding(z), "skiplist");
    assert_int_equal(zset_len(z), 5);
    zset_destroy(s, z);
    z = zset_create(s, 1, 1, &lim);
    zset_set(s, &z, S("a-member-longer-than-8"), 1, &lim);
    assert_string_equal(zset_encoding(z), "skiplist");
    zset_destroy(s, z);
    assert_int_equal(store_used_memory(s), empty);
    store_destroy(s);
}

/* Members long enough for two-byte lengths (126..130 bytes around the
 * one-byte limit, and up to 400), scores of every kind, in both encodings:
 * walks both ways agree, ranks, scores and ZSCAN find every member. */
static void test_long_members(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset_limits lims[2] = { { 1000, 1000 }, { 1000, 64 } };
    static char m[60][420];
    for (int i = 0; i < 60; i++) {
        int len = i < 5 ? 120 + i : 100 + i * 5; /* 126..130 with the number */
        memset(m[i], 'a' + i % 26, (size_t)len);
        snprintf(m[i] + len, 8, "%d", i);
    }
    for (int e = 0; e < 2; e++) {
        struct zset *z = zset_create(s, 0, 0, &lims[e]);
        for (int i = 0; i < 60; i++) {
            double sc = i % 3 == 0 ? i * 1000003.0 : i % 3 == 1 ? -i - 0.25 : 1e300 / (i + 1);
            zset_set(s, &z, S(m[i]), sc, &lims[e]);
        }
        assert_string_equal(zset_encoding(z), e == 0 ? "listpack" : "skiplist");
        struct slice fw[60], mm;
        double fs[60], sc;
        struct zset_iter it;
        zset_iter_at(z, 0, false, &it);
        for (int i = 0; i < 60; i++) {
            assert_true(zset_iter_next(&it, &fw[i], &fs[i]));
            if (i)
                assert_true(fs[i - 1] <= fs[i]);
        }
        zset_iter_at(z, 0, true, &it);
        for (int i = 59; i >= 0; i--) {
            assert_true(zset_iter_next(&it, &mm, &sc));
            assert_true(mm.ptr == fw[i].ptr && sc == fs[i]);
        }
        for (int i = 0; i < 60; i++) {
            size_t r;
            assert_true(zset_rank(z, S(m[i]), &r));
            assert_true(fw[r].len == strlen(m[i]));
            assert_memory_equal(fw[r].ptr, m[i], fw[r].len);
            assert_true(zset_score(z, S(m[i]), &sc));
            assert_true(sc == fs[r]);
        }
        zset_destroy(s, z);
    }
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

struct seen { int n; };
static void count_visit(void *arg, struct slice m, double score)
{
    (void)m;
    (void)score;
    ((struct seen *)arg)->n++;
}

static void test_scan(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset *z = zset_create(s, 0, 0, &zset_default_limits);
    for (int i = 0; i < 1000; i++) {
        char m[16];
        snprintf(m, sizeof m, "m%d", i);
        zset_set(s, &z, S(m), i % 10, &zset_default_limits);
    }
    struct seen seen = { 0 };
    uint64_t cursor = 0;
    do
        cursor = zset_scan(z, cursor, 10, count_visit, &seen);
    while (cursor != 0);
    assert_true(seen.n >= 1000);
    zset_destroy(s, z);
    store_destroy(s);
}

/* ---- the tree against a model, at scale --------------------------------- */

/* A sorted array of (score, member number), in the zset's order. */
struct big_model {
    double *score;
    int    *m;
    int     n;
    bool   *has; /* by member number: in the model, with score cur */
    double *cur;
};

static uint64_t prng_state;
static uint64_t prng(void)
{
    uint64_t x = prng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return prng_state = x;
}

static int mname(char *buf, int m) { return snprintf(buf, 16, "mem%d", m); }

static int big_cmp(double s1, int m1, double s2, int m2)
{
    if (s1 != s2)
        return s1 < s2 ? -1 : 1;
    char a[16], b[16];
    mname(a, m1);
    mname(b, m2);
    return strcmp(a, b);
}

/* m's place, or -1: binary search when its score is known (has[m]). */
/* The first place whose (score, member) is not below (s, m). */
static int big_lower_bound(const struct big_model *md, double s, int m)
{
    int lo = 0, hi = md->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (big_cmp(md->score[mid], md->m[mid], s, m) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int big_find(const struct big_model *md, int m)
{
    if (!md->has || !md->has[m]) {
        if (md->has)
            return -1;
        for (int i = 0; i < md->n; i++)
            if (md->m[i] == m)
                return i;
        return -1;
    }
    double s = md->cur[m];
    int lo = big_lower_bound(md, s, m);
    assert_true(lo < md->n && md->m[lo] == m);
    return lo;
}

static void big_remove_at(struct big_model *md, int i)
{
    if (md->has)
        md->has[md->m[i]] = false;
    memmove(&md->m[i], &md->m[i + 1], (size_t)(md->n - i - 1) * sizeof md->m[0]);
    memmove(&md->score[i], &md->score[i + 1], (size_t)(md->n - i - 1) * sizeof md->score[0]);
    md->n--;
}

static void big_insert(struct big_model *md, int m, double s)
{
    int lo = big_lower_bound(md, s, m);
    memmove(&md->m[lo + 1], &md->m[lo], (size_t)(md->n - lo) * sizeof md->m[0]);
    memmove(&md->score[lo + 1], &md->score[lo], (size_t)(md->n - lo) * sizeof md->score[0]);
    md->m[lo] = m;
    md->score[lo] = s;
    md->n++;
    if (md->has) {
        md->has[m] = true;
        md->cur[m] = s;
    }
}

/* Scores with many ties: whole numbers, halves, both zeros, both
 * infinities, huge and tiny ones. */
static double big_score(void)
{
    static const double special[] = { 0.0, -0.0, INFINITY, -INFINITY, 1e300, -1e300, 5e-324, 1.5, -2.25 };
    uint64_t r = prng();
    if (r % 8 == 0)
        return special[(r >> 8) % (sizeof special / sizeof special[0])];
    return (double)((int64_t)((r >> 8) % 200) - 100) + ((r >> 20) % 2 ? 0.5 : 0);
}

static void same_score(double a, double b)
{
    assert_true(a == b);
    assert_int_equal(signbit(a) != 0, signbit(b) != 0); /* -0 stays -0 */
}

/* A walk of up to k from rank r, one way, against the model. */
static void big_walk(const struct zset *z, const struct big_model *md, int r, int k, bool rev)
{
    struct zset_iter it;
    struct slice m;
    double s;
    char name[16];
    zset_iter_at(z, (size_t)r, rev, &it);
    for (int j = 0; j < k && r + j < md->n; j++) {
        int i = rev ? md->n - 1 - (r + j) : r + j;
        assert_true(zset_iter_next(&it, &m, &s));
        int len = mname(name, md->m[i]);
        assert_int_equal(m.len, (size_t)len);
        assert_memory_equal(m.ptr, name, m.len);
        same_score(s, md->score[i]);
    }
    if (r + k >= md->n)
        assert_false(zset_iter_next(&it, &m, &s));
}

static size_t big_below(const struct big_model *md, double v, bool or_equal)
{
    size_t c = 0;
    for (int i = 0; i < md->n; i++)
        c += md->score[i] < v || (or_equal && md->score[i] == v);
    return c;
}

/* Everything the model knows, checked (full) or a sample of it. */
static void big_check(const struct zset *z, const struct big_model *md, bool full)
{
    char name[16];
    assert_int_equal(zset_len(z), (size_t)md->n);
    if (full) {
        big_walk(z, md, 0, md->n, false);
        big_walk(z, md, 0, md->n, true);
        for (int i = 0; i < md->n; i++) {
            size_t r;
            double s;
            int len = mname(name, md->m[i]);
            assert_true(zset_rank(z, (struct slice){ name, (size_t)len }, &r));
            assert_int_equal(r, (size_t)i);
            assert_true(zset_score(z, (struct slice){ name, (size_t)len }, &s));
            same_score(s, md->score[i]);
        }
    }
    for (int k = 0; k < (full ? 40 : prng() % 16 == 0); k++) {
        double v = big_score();
        assert_int_equal(zset_count_below(z, v, false), big_below(md, v, false));
        assert_int_equal(zset_count_below(z, v, true), big_below(md, v, true));
    }
    if (md->n) {
        int r = (int)(prng() % (uint64_t)md->n);
        big_walk(z, md, r, 40, false);
        big_walk(z, md, r, 40, true);
        int i = (int)(prng() % (uint64_t)md->n);
        size_t rank;
        int len = mname(name, md->m[i]);
        assert_true(zset_rank(z, (struct slice){ name, (size_t)len }, &rank));
        assert_int_equal(rank, (size_t)i);
    }
}

/* One step of the mix: a set (ZADD's zset_put) or a removal of a member
 * out of pool; the result checked against the model. */
static void big_step(struct store *s, struct zset **z, struct big_model *md, int pool, int remove_pct,
                     const struct zset_limits *lim)
{
    char name[16];
    int m = (int)(prng() % (uint64_t)pool);
    struct slice key = { name, (size_t)mname(name, m) };
    int at = big_find(md, m);
    if ((int)(prng() % 100) < remove_pct) {
        assert_int_equal(zset_remove(s, z, key), at >= 0);
        if (at >= 0)
            big_remove_at(md, at);
        return;
    }
    double sc = big_score();
    enum zset_put_result want = at < 0 ? ZSET_ADDED : md->score[at] == sc ? ZSET_SAME : ZSET_UPDATED;
    assert_int_equal(zset_put(s, z, key, sc, lim), want);
    if (want == ZSET_SAME)
        return;
    if (at >= 0)
        big_remove_at(md, at);
    big_insert(md, m, sc);
}

/* Tens of thousands of random sets, score changes and removals against
 * the model: from a listpack past its conversion to a tree of three and
 * four levels, down to empty and up again; pops from both ends and runs
 * removed from the middle; the flat form, a copy, memory and freeing in
 * slices. */
static void test_tree_model(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset_limits lim = { 64, 64 };
    static struct big_model md;
    md.score = calloc(40000, sizeof *md.score);
    md.m = calloc(40000, sizeof *md.m);
    md.has = calloc(40000, sizeof *md.has);
    md.cur = calloc(40000, sizeof *md.cur);
    md.n = 0;
    prng_state = 0x9e3779b97f4a7c15u;
    struct zset *z = zset_create(s, 0, 0, &lim);
    /* small: the listpack, and its conversion */
    for (int op = 0; op < 3000; op++) {
        big_step(s, &z, &md, 100, 20, &lim);
        big_check(z, &md, op % 250 == 0);
    }
    assert_string_equal(zset_encoding(z), "skiplist");
    big_check(z, &md, true);
    /* big: a pool of 30,000, more sets than removals, then the reverse */
    for (int op = 0; op < 40000; op++) {
        big_step(s, &z, &md, 30000, 10, &lim);
        big_check(z, &md, op % 5000 == 4999);
    }
    assert_true(md.n > 15000);
    for (int op = 0; op < 25000; op++) {
        big_step(s, &z, &md, 30000, 50, &lim);
        big_check(z, &md, op % 5000 == 4999);
    }
    /* pops from both ends, a run out of the middle */
    char name[16];
    for (int k = 0; k < 3000 && md.n; k++) {
        bool max = k % 3 == 0;
        struct zset_iter it;
        struct slice m;
        double sc;
        zset_iter_at(z, 0, max, &it);
        assert_true(zset_iter_next(&it, &m, &sc));
        snprintf(name, sizeof name, "%.*s", (int)m.len, m.ptr);
        assert_true(zset_remove(s, &z, (struct slice){ name, m.len }));
        big_remove_at(&md, max ? md.n - 1 : 0);
    }
    big_check(z, &md, true);
    int from = md.n / 3, run = md.n / 3;
    for (int k = 0; k < run; k++) {
        struct zset_iter it;
        struct slice m;
        double sc;
        zset_iter_at(z, (size_t)from, false, &it);
        assert_true(zset_iter_next(&it, &m, &sc));
        snprintf(name, sizeof name, "%.*s", (int)m.len, m.ptr);
        assert_true(zset_remove(s, &z, (struct slice){ name, m.len }));
        big_remove_at(&md, from);
    }
    big_check(z, &md, true);
    /* the flat form (NaN refused in it) and a copy */
    struct buf b;
    buf_init(&b);
    zset_encode(z, &b);
    struct zset *d = zset_decode(s, b.data, b.len);
    assert_non_null(d);
    assert_string_equal(zset_encoding(d), "skiplist");
    big_check(d, &md, true);
    double nan = NAN;
    memcpy(b.data + 5, &nan, 8);
    assert_null(zset_decode(s, b.data, b.len));
    buf_free(&b);
    zset_destroy(s, d);
    /* memory: what zset_memory says is what the store counts */
    size_t before = store_used_memory(s);
    struct zset *copy = zset_dup(s, z);
    big_check(copy, &md, true);
    size_t used = store_used_memory(s) - before, said = zset_memory(copy, 0);
    assert_true(said <= used && said >= used - used / 50);
    zset_destroy(s, copy);
    /* down to empty in random order, up again in order (the end's splits) */
    while (md.n) {
        int i = (int)(prng() % (uint64_t)md.n);
        assert_true(zset_remove(s, &z, (struct slice){ name, (size_t)mname(name, md.m[i]) }));
        big_remove_at(&md, i);
        if (md.n % 1000 == 0)
            big_check(z, &md, md.n % 5000 == 0);
    }
    assert_string_equal(zset_encoding(z), "skiplist");
    for (int i = 0; i < 20000; i++) {
        zset_set(s, &z, (struct slice){ name, (size_t)mname(name, i) }, i / 4, &lim);
        big_insert(&md, i, i / 4);
    }
    big_check(z, &md, true);
    for (int op = 0; op < 20000; op++) {
        big_step(s, &z, &md, 30000, 30, &lim);
        big_check(z, &md, op % 5000 == 4999);
    }
    /* freed in slices */
    size_t budget = 0;
    int steps = 0;
    do {
        budget = 7;
        steps++;
    } while (!zset_free_step(s, z, &budget));
    assert_true(steps > 100);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
    free(md.score);
    free(md.m);
    free(md.has);
    free(md.cur);
}

/* Lex counts on a big zset of equal scores, against the model. */
static void test_tree_lex(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    static struct big_model md;
    md.score = calloc(5000, sizeof *md.score);
    md.m = calloc(5000, sizeof *md.m);
    md.n = 0;
    prng_state = 12345;
    struct zset *z = zset_create(s, 0, 0, &zset_default_limits);
    char name[16], bound[16];
    for (int op = 0; op < 20000; op++) {
        int m = (int)(prng() % 4000);
        int at = big_find(&md, m);
        struct slice key = { name, (size_t)mname(name, m) };
        if (prng() % 3 == 0) {
            assert_int_equal(zset_remove(s, &z, key), at >= 0);
            if (at >= 0)
                big_remove_at(&md, at);
        } else if (at < 0) {
            assert_true(zset_set(s, &z, key, 7, &zset_default_limits));
            big_insert(&md, m, 7);
        }
        if (op % 100 == 0) {
            /* a member's name, or one between two ("mem12" < "mem12x" < "mem120") */
            int n = mname(bound, (int)(prng() % 4000));
            if (prng() % 2)
                bound[n++] = 'x', bound[n] = 0;
            for (int eq = 0; eq < 2; eq++) {
                size_t want = 0;
                for (int i = 0; i < md.n; i++) {
                    char mm[16];
                    mname(mm, md.m[i]);
                    int c = strcmp(mm, bound);
                    want += c < 0 || (eq && c == 0);
                }
                assert_int_equal(zset_count_below_lex(z, (struct slice){ bound, (size_t)n }, eq), want);
            }
        }
    }
    big_check(z, &md, true);
    zset_destroy(s, z);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
    free(md.score);
    free(md.m);
}

/* ---- the listpack's encoding -------------------------------------------- */

/* Scores at the edges of every form of the listpack (one byte 0..127,
 * whole numbers in 14, 21, 28 bits and 4..7 bytes, floats, doubles), read
 * back bit for bit, in order both ways, counted below, in one listpack. */
static void test_listpack_scores(void **state)
{
    (void)state;
    static const double scores[] = {
        0, 1, 127, 128, -1, -64, -65, 8191, 8192, -8192, -8193,
        1048575, 1048576, -1048576, -1048577, 134217727, 134217728, -134217728, -134217729,
        2147483647.0, 2147483648.0, -2147483648.0, -2147483649.0, 549755813887.0, 549755813888.0,
        140737488355327.0, 140737488355328.0, 9007199254740991.0, 9007199254740992.0, -9007199254740992.0,
        9007199254740994.0, 9223372036854775808.0, -9223372036854775808.0, 1e300, -1e300, 5e-324, DBL_MIN,
        0.5, -2.25, 0.1, 1.0 / 3, -0.0, INFINITY, -INFINITY, FLT_MAX, (double)FLT_MAX * 2, FLT_MIN / 4,
        1.5e-45, 16777217.0, 1234567.125,
    };
    enum { N = sizeof scores / sizeof scores[0] };
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset_limits lim = { 1000, 64 };
    struct zset *z = zset_create(s, 0, 0, &lim);
    char name[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(name[i], sizeof name[i], "s%02d", i);
        assert_int_equal(zset_put(s, &z, S(name[i]), scores[i], &lim), ZSET_ADDED);
    }
    assert_string_equal(zset_encoding(z), "listpack");
    /* the order: by score, -0 and 0 equal (then by member) */
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = 1; i < N; i++)
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            if (scores[a] < scores[b] || (scores[a] == scores[b] && strcmp(name[a], name[b]) < 0))
                break;
            order[j - 1] = b;
            order[j] = a;
        }
    for (int i = 0; i < N; i++) {
        double sc;
        size_t r;
        assert_true(zset_score(z, S(name[i]), &sc));
        assert_memory_equal(&sc, &scores[i], sizeof sc); /* bit for bit: -0 stays -0 */
        assert_true(zset_rank(z, S(name[i]), &r));
        assert_string_equal(name[order[r]], name[i]);
        size_t below = 0;
        for (int j = 0; j < N; j++)
            below += scores[j] < scores[i];
        assert_int_equal(zset_count_below(z, scores[i], false), below);
    }
    for (int start = 0; start < N; start++)
        for (int rev = 0; rev < 2; rev++) {
            struct zset_iter it;
            struct slice m;
            double sc;
            zset_iter_at(z, (size_t)start, rev, &it);
            for (int k = start; k < N; k++) {
                int want = order[rev ? N - 1 - k : k];
                assert_true(zset_iter_next(&it, &m, &sc));
                assert_int_equal(m.len, strlen(name[want]));
                assert_memory_equal(m.ptr, name[want], m.len);
                assert_memory_equal(&sc, &scores[want], sizeof sc);
            }
            assert_false(zset_iter_next(&it, &m, &sc));
        }
    /* every score changed to every form's neighbour, and back */
    for (int i = 0; i < N; i++) {
        double to = scores[(i + 7) % N];
        enum zset_put_result r = zset_put(s, &z, S(name[i]), to, &lim);
        assert_int_equal(r, to == scores[i] ? ZSET_SAME : ZSET_UPDATED);
        double sc;
        assert_true(zset_score(z, S(name[i]), &sc));
        if (r == ZSET_UPDATED)
            assert_memory_equal(&sc, &to, sizeof sc);
        zset_put(s, &z, S(name[i]), scores[i], &lim);
    }
    for (int i = 0; i < N; i++) {
        double sc;
        assert_true(zset_score(z, S(name[i]), &sc));
        assert_true(sc == scores[i]);
    }
    assert_int_equal(zset_len(z), N);
    zset_destroy(s, z);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

/* Members of 0, 1, 63, 64, 127, 128 (the length's second byte), 255, 256,
 * 1000 and 20000 bytes, any bytes (NUL, 0xFF), in a listpack. */
static void test_listpack_member_lengths(void **state)
{
    (void)state;
    static const size_t lens[] = { 0, 1, 63, 64, 127, 128, 255, 256, 1000, 20000 };
    enum { N = sizeof lens / sizeof lens[0] };
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset_limits lim = { 100, 20000 };
    static char m[N][20001];
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < lens[i]; j++)
            m[i][j] = (char)(j % 3 == 0 ? 0 : j % 3 == 1 ? 0xFF : 'a' + i);
    struct zset *z = zset_create(s, N, 20000, &lim);
    for (int i = 0; i < N; i++) /* scores falling: the last member first */
        assert_true(zset_set(s, &z, (struct slice){ m[i], lens[i] }, (double)(N - i) * 1000.5, &lim));
    assert_string_equal(zset_encoding(z), "listpack");
    for (int rev = 0; rev < 2; rev++) {
        struct zset_iter it;
        struct slice mm;
        double sc;
        zset_iter_at(z, 0, rev, &it);
        for (int k = 0; k < N; k++) {
            int i = rev ? k : N - 1 - k;
            assert_true(zset_iter_next(&it, &mm, &sc));
            assert_int_equal(mm.len, lens[i]);
            if (lens[i])
                assert_memory_equal(mm.ptr, m[i], lens[i]);
            assert_true(sc == (double)(N - i) * 1000.5);
        }
    }
    /* taken out one by one from the middle, the rest still read */
    for (int i = N / 2, k = 0; k < N; k++, i = (i + 3) % N) {
        size_t r;
        assert_true(zset_rank(z, (struct slice){ m[i], lens[i] }, &r));
        assert_true(zset_remove(s, &z, (struct slice){ m[i], lens[i] }));
        assert_false(zset_rank(z, (struct slice){ m[i], lens[i] }, &r));
        assert_int_equal(zset_len(z), (size_t)(N - k - 1));
        for (int j = 0; j < N; j++) {
            double sc;
            bool gone = false;
            for (int q = N / 2, t = 0; t <= k; t++, q = (q + 3) % N)
                gone |= q == j;
            assert_int_equal(zset_score(z, (struct slice){ m[j], lens[j] }, &sc), !gone);
        }
    }
    /* emptied: the block gave back what it held */
    assert_true(zset_memory(z, 0) <= 64);
    zset_destroy(s, z);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

/* The conversion points: max_listpack_entries members stay a listpack,
 * one more converts; a member of max_listpack_value bytes stays, one byte
 * longer converts; a score change of a member at the limit converts
 * nothing. */
static void test_listpack_limits(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset_limits lim = { 128, 64 };
    char m[70];
    memset(m, 'x', sizeof m);
    struct zset *z = zset_create(s, 0, 0, &lim);
    for (int i = 0; i < 128; i++) {
        char k[8];
        snprintf(k, sizeof k, "%d", i);
        zset_set(s, &z, S(k), i % 2 ? -i : i * 1000, &lim);
    }
    assert_string_equal(zset_encoding(z), "listpack");
    assert_int_equal(zset_put(s, &z, S("5"), 0.25, &lim), ZSET_UPDATED);
    assert_string_equal(zset_encoding(z), "listpack");
    assert_true(zset_set(s, &z, S("128"), 1, &lim));
    assert_string_equal(zset_encoding(z), "skiplist");
    assert_int_equal(zset_len(z), 129);
    double sc;
    assert_true(zset_score(z, S("5"), &sc) && sc == 0.25);
    assert_true(zset_score(z, S("127"), &sc) && sc == -127);
    zset_destroy(s, z);
    z = zset_create(s, 1, 64, &lim);
    assert_true(zset_set(s, &z, (struct slice){ m, 64 }, 1, &lim));
    assert_string_equal(zset_encoding(z), "listpack");
    assert_true(zset_set(s, &z, (struct slice){ m, 65 }, 2, &lim));
    assert_string_equal(zset_encoding(z), "skiplist");
    assert_true(zset_score(z, (struct slice){ m, 64 }, &sc) && sc == 1);
    zset_destroy(s, z);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

/* issue 12's load of small sorted sets (ten members "member:f:kkkk", whole
 * scores under 170) in a 160-byte block: 15 bytes an element, where the
 * listpack with back-lengths and 8-byte scores headers took a 192-byte
 * block (bench/RESULTS.md "Small sorted sets"). */
static void test_listpack_bytes(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    for (int k = 9000; k < 10000; k += 37) {
        struct zset *z = zset_create(s, 10, 13, &zset_default_limits);
        for (int f = 0; f < 10; f++) {
            char m[16];
            snprintf(m, sizeof m, "member:%d:%d", f, k);
            zset_set(s, &z, S(m), f * 7 + k % 100, &zset_default_limits);
        }
        assert_int_equal(zset_len(z), 10);
        assert_true(zset_memory(z, 0) <= 160);
        zset_destroy(s, z);
    }
    store_destroy(s);
}

/* ---- the listpack against a model: binary members ------------------------ */

struct bin_model {
    char   m[400][40];
    size_t len[400];
    double score[400];
    int    n;
};

static int bin_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : al < bl ? -1 : al > bl;
}

static int bin_find(const struct bin_model *md, const char *m, size_t len)
{
    for (int i = 0; i < md->n; i++)
        if (md->len[i] == len && memcmp(md->m[i], m, len) == 0)
            return i;
    return -1;
}

static void bin_remove_at(struct bin_model *md, int i)
{
    memmove(&md->m[i], &md->m[i + 1], (size_t)(md->n - i - 1) * sizeof md->m[0]);
    memmove(&md->len[i], &md->len[i + 1], (size_t)(md->n - i - 1) * sizeof md->len[0]);
    memmove(&md->score[i], &md->score[i + 1], (size_t)(md->n - i - 1) * sizeof md->score[0]);
    md->n--;
}

static void bin_insert(struct bin_model *md, const char *m, size_t len, double sc)
{
    int at = 0;
    while (at < md->n && (md->score[at] < sc || (md->score[at] == sc && bin_cmp(md->m[at], md->len[at], m, len) < 0)))
        at++;
    memmove(&md->m[at + 1], &md->m[at], (size_t)(md->n - at) * sizeof md->m[0]);
    memmove(&md->len[at + 1], &md->len[at], (size_t)(md->n - at) * sizeof md->len[0]);
    memmove(&md->score[at + 1], &md->score[at], (size_t)(md->n - at) * sizeof md->score[0]);
    memcpy(md->m[at], m, len);
    md->len[at] = len;
    md->score[at] = sc;
    md->n++;
}

/* A score of any of the listpack's forms. */
static double any_score(void)
{
    static const double special[] = { 0.0, -0.0, INFINITY, -INFINITY, 1e300, -1e300, 5e-324, 0.1, 127, 128,
                                      -8193, 2147483648.0, 9007199254740992.0, 9007199254740994.0 };
    uint64_t r = prng();
    switch (r % 6) {
    case 0: return special[(r >> 8) % (sizeof special / sizeof special[0])];
    case 1: return (double)((r >> 8) % 160);                            /* one byte and two */
    case 2: return (double)((int64_t)((r >> 8) % 4000000) - 2000000);   /* 14..28 bits */
    case 3: return (double)((int64_t)(r >> 12) - ((int64_t)1 << 51)); /* 4..7 bytes */
    case 4: return (double)((r >> 8) % 64) / 4 - 8;                     /* floats */
    default: return (double)((r >> 8) % 1000) / 7;                      /* doubles */
    }
}

static void bin_check(const struct zset *z, const struct bin_model *md)
{
    assert_int_equal(zset_len(z), (size_t)md->n);
    assert_string_equal(zset_encoding(z), "listpack");
    for (int i = 0; i < md->n; i++) {
        size_t r;
        double sc;
        struct slice m = { md->m[i], md->len[i] };
        assert_true(zset_rank(z, m, &r));
        assert_int_equal(r, (size_t)i);
        assert_true(zset_score(z, m, &sc));
        same_score(sc, md->score[i]);
    }
    for (int k = 0; k < 8; k++) {
        double v = any_score();
        for (int eq = 0; eq < 2; eq++) {
            size_t want = 0;
            for (int i = 0; i < md->n; i++)
                want += md->score[i] < v || (eq && md->score[i] == v);
            assert_int_equal(zset_count_below(z, v, eq), want);
        }
    }
    /* walks both ways from every rank, up to 12 steps, and one whole */
    for (int start = 0; start <= md->n; start++)
        for (int rev = 0; rev < 2; rev++) {
            struct zset_iter it;
            struct slice m;
            double sc;
            int steps = start == 0 ? md->n : 12;
            zset_iter_at(z, (size_t)start, rev, &it);
            for (int k = start; k < md->n && k < start + steps; k++) {
                int i = rev ? md->n - 1 - k : k;
                assert_true(zset_iter_next(&it, &m, &sc));
                assert_int_equal(m.len, md->len[i]);
                if (m.len)
                    assert_memory_equal(m.ptr, md->m[i], m.len);
                same_score(sc, md->score[i]);
            }
            if (start + steps >= md->n)
                assert_false(zset_iter_next(&it, &m, &sc));
        }
}

/* Random puts and removals of 300 binary members of 0..39 bytes with scores of every form, up to 300 members in one
 * listpack (descending walks then skip up to 9 elements from their marks),
 * against the model; then the flat form and a copy, and memory back to
 * zero. */
static void test_listpack_model(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset_limits lim = { 400, 64 };
    static struct bin_model md;
    md.n = 0;
    prng_state = 0x2545f4914f6cdd1du;
    struct zset *z = zset_create(s, 0, 0, &lim);
    int most = 0;
    for (int op = 0; op < 6000; op++) {
        /* member k of 300: k % 40 bytes, from its number and 0, 0xFF */
        char m[40];
        unsigned k = (unsigned)(prng() % 300);
        size_t len = k % 40;
        for (size_t j = 0; j < len; j++)
            m[j] = (char)(j == 0 ? k >> 8 : j == 1 ? k & 0xFF : j % 2 ? 0 : 0xFF);
        int at = bin_find(&md, m, len);
        int remove_pct = op < 4000 ? 25 : 70;
        if ((int)(prng() % 100) < remove_pct) {
            assert_int_equal(zset_remove(s, &z, (struct slice){ m, len }), at >= 0);
            if (at >= 0)
                bin_remove_at(&md, at);
        } else {
            double sc = any_score();
            enum zset_put_result want = at < 0 ? ZSET_ADDED : md.score[at] == sc ? ZSET_SAME : ZSET_UPDATED;
            assert_int_equal(zset_put(s, &z, (struct slice){ m, len }, sc, &lim), want);
            if (want != ZSET_SAME) {
                if (at >= 0)
                    bin_remove_at(&md, at);
                bin_insert(&md, m, len, sc);
            }
        }
        if (md.n > most)
            most = md.n;
        if (op % 150 == 0)
            bin_check(z, &md);
    }
    assert_true(most > 150); /* walks from marks 5 and more apart */
    bin_check(z, &md);
    struct buf b;
    buf_init(&b);
    zset_encode(z, &b);
    struct zset *d = zset_decode(s, b.data, b.len);
    buf_free(&b);
    assert_non_null(d);
    bin_check(d, &md);
    struct zset *copy = zset_dup(s, z);
    bin_check(copy, &md);
    zset_destroy(s, copy);
    zset_destroy(s, d);
    zset_destroy(s, z);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listpack),
        cmocka_unit_test(test_skiplist),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_long_members),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_tree_model),
        cmocka_unit_test(test_tree_lex),
        cmocka_unit_test(test_listpack_scores),
        cmocka_unit_test(test_listpack_member_lengths),
        cmocka_unit_test(test_listpack_limits),
        cmocka_unit_test(test_listpack_bytes),
        cmocka_unit_test(test_listpack_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
