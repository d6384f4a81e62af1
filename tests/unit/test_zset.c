/* zset (shards/store/zset.c): both encodings checked against a plain model
 * (a sorted array) through a random mix of sets, score changes and
 * removals: lengths, scores, ranks, counts below score and member bounds,
 * walks from every rank both ways; the listpack's conversion past each
 * limit; ZSCAN's cursor over a skiplist; the flat encoding and copies; and
 * memory back to zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

/* Members long enough for two-byte lengths, scores of every kind: walks
 * both ways agree. */
static void test_long_members(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct zset_limits lim = { 1000, 1000 };
    struct zset *z = zset_create(s, 0, 0, &lim);
    static char m[60][400];
    for (int i = 0; i < 60; i++) {
        int len = 100 + i * 5;
        memset(m[i], 'a' + i % 26, (size_t)len);
        snprintf(m[i] + len, 8, "%d", i);
        double sc = i % 3 == 0 ? i * 1000003.0 : i % 3 == 1 ? -i - 0.25 : 1e300 / (i + 1);
        zset_set(s, &z, S(m[i]), sc, &lim);
    }
    assert_string_equal(zset_encoding(z), "listpack");
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
    }
    zset_destroy(s, z);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listpack),
        cmocka_unit_test(test_skiplist),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_long_members),
        cmocka_unit_test(test_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
