/* hash (shards/store/hash.c) and the store's collections: both encodings
 * and the conversion between them, HSCAN's guarantee across a resize, the
 * flat encoding, copies, and the store's memory count coming back exactly to
 * where it was once a hash is deleted (at once or in slices), flushed,
 * replaced by a SET or evicted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shards/store/hash.h"
#include "shards/store/store.h"

#define NOW 1700000000000LL

static struct slice S(const char *s) { return (struct slice){ s, strlen(s) }; }

static struct slice num(char *buf, const char *prefix, int i)
{
    int n = snprintf(buf, 32, "%s%d", prefix, i);
    return (struct slice){ buf, (size_t)n };
}

static void expect_field(const struct hash *h, const char *f, const char *want)
{
    struct slice v;
    if (!want) {
        assert_false(hash_get(h, S(f), &v));
        return;
    }
    assert_true(hash_get(h, S(f), &v));
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.ptr, want, v.len);
}

static void test_listpack(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct hash *h = hash_create(s);
    const struct hash_limits lim = { 4, 10 };
    assert_true(hash_set(s, &h, S("a"), S("1"), &lim));
    assert_true(hash_set(s, &h, S("b"), S(""), &lim));
    assert_true(hash_set(s, &h, S(""), S("empty fld"), &lim));
    assert_false(hash_set(s, &h, S("a"), S("longer one"), &lim)); /* grows in place */
    assert_false(hash_set(s, &h, S("b"), S("x"), &lim));
    assert_false(hash_set(s, &h, S("a"), S("s"), &lim));         /* shrinks */
    expect_field(h, "a", "s");
    expect_field(h, "b", "x");
    expect_field(h, "", "empty fld");
    expect_field(h, "c", NULL);
    assert_int_equal(hash_len(h), 3);
    assert_true(hash_is_listpack(h));
    assert_true(hash_delete(s, &h, S("b")));
    assert_false(hash_delete(s, &h, S("b")));
    expect_field(h, "a", "s");
    expect_field(h, "", "empty fld");
    assert_true(hash_set(s, &h, S("c"), S("3"), &lim));
    assert_true(hash_set(s, &h, S("d"), S("4"), &lim));
    assert_true(hash_is_listpack(h));                           /* 4 fields: at the limit */
    assert_false(hash_set(s, &h, S("d"), S("44"), &lim));        /* an update does not convert */
    assert_true(hash_is_listpack(h));
    assert_true(hash_set(s, &h, S("e"), S("5"), &lim));          /* the 5th field */
    assert_false(hash_is_listpack(h));
    expect_field(h, "a", "s");
    expect_field(h, "d", "44");
    expect_field(h, "e", "5");
    assert_int_equal(hash_len(h), 5);
    hash_destroy(s, h);

    h = hash_create(s);
    assert_true(hash_set(s, &h, S("a"), S("0123456789"), &lim)); /* 10 bytes: fits */
    assert_true(hash_is_listpack(h));
    assert_false(hash_set(s, &h, S("a"), S("0123456789a"), &lim));
    assert_false(hash_is_listpack(h));
    expect_field(h, "a", "0123456789a");
    hash_destroy(s, h);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

/* A value of 200 bytes: its length takes two varint bytes. */
static void test_listpack_long_lengths(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct hash *h = hash_create(s);
    const struct hash_limits lim = { 128, 1000 };
    char big[300];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = 0;
    hash_set(s, &h, S("x"), S("1"), &lim);
    hash_set(s, &h, S(big), S(big + 100), &lim);
    hash_set(s, &h, S("y"), S(big), &lim);
    hash_set(s, &h, S("x"), S(big + 50), &lim);
    assert_true(hash_is_listpack(h));
    expect_field(h, big, big + 100);
    expect_field(h, "y", big);
    expect_field(h, "x", big + 50);
    hash_set(s, &h, S("x"), S("2"), &lim);
    expect_field(h, "x", "2");
    expect_field(h, "y", big);
    hash_destroy(s, h);
    store_destroy(s);
}

static void test_table(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct hash *h = hash_create(s);
    char f[32], v[32];
    for (int i = 0; i < 20000; i++)
        assert_true(hash_set(s, &h, num(f, "f", i), num(v, "v", i), &hash_default_limits));
    assert_false(hash_is_listpack(h));
    for (int i = 0; i < 20000; i += 2)
        assert_true(hash_delete(s, &h, num(f, "f", i)));
    assert_int_equal(hash_len(h), 10000);
    for (int i = 0; i < 20000; i++) {
        struct slice got;
        bool there = hash_get(h, num(f, "f", i), &got);
        assert_int_equal(there, i % 2 == 1);
        if (there) {
            struct slice want = num(v, "v", i);
            assert_int_equal(got.len, want.len);
            assert_memory_equal(got.ptr, want.ptr, want.len);
        }
    }
    for (int i = 1; i < 20000; i += 2)
        assert_true(hash_delete(s, &h, num(f, "f", i)));        /* shrinks as it empties */
    assert_int_equal(hash_len(h), 0);
    hash_destroy(s, h);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

static void count_visit(void *arg, struct slice f, struct slice v)
{
    (void)f;
    (void)v;
    (*(size_t *)arg)++;
}

/* Random adds and deletes through many incremental grows and shrinks (a
 * rehash in progress most of the time): every field is found exactly when
 * it should be, and the count and a full visit agree. A field added during
 * a rehash and deleted before it ends was once counted in the wrong array,
 * which ended the rehash early and lost fields. */
static void test_table_churn(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct hash *h = hash_create(s);
    enum { N = 20000 };
    char *in = calloc(N, 1), f[32];
    size_t count = 0;
    unsigned seed = 1;
    for (int round = 0; round < 40; round++) {
        int adds = round % 4 < 2 ? 6000 : 1000; /* grow, then shrink, and again */
        for (int i = 0; i < 7000; i++) {
            int k = (int)(rand_r(&seed) % N);
            if (i < adds) {
                bool added = hash_set(s, &h, num(f, "f", k), S("v"), &hash_default_limits);
                assert_int_equal(added, !in[k]);
                count += !in[k];
                in[k] = 1;
            } else {
                bool gone = hash_delete(s, &h, num(f, "f", k));
                assert_int_equal(gone, in[k]);
                count -= in[k];
                in[k] = 0;
            }
        }
        assert_int_equal(hash_len(h), count);
        size_t visited = 0;
        hash_foreach(h, count_visit, &visited);
        assert_int_equal(visited, count);
        for (int k = 0; k < N; k++) {
            struct slice v;
            assert_int_equal(hash_get(h, num(f, "f", k), &v), in[k]);
        }
    }
    free(in);
    hash_destroy(s, h);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

struct seen {
    char *flags;
    int   n;
};

static void mark(void *arg, struct slice f, struct slice v)
{
    (void)v;
    struct seen *s = arg;
    char b[40];
    memcpy(b, f.ptr, f.len); /* fields are not NUL-terminated */
    b[f.len] = 0;
    int i = atoi(b + 1);
    assert_true(i >= 0 && i < s->n);
    s->flags[i] = 1;
}

/* Fields present for the whole scan are all visited, though the table grows
 * and then shrinks between the calls. */
static void test_scan_across_resize(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct hash *h = hash_create(s);
    char f[32];
    for (int i = 0; i < 1000; i++)
        hash_set(s, &h, num(f, "f", i), S("v"), &hash_default_limits);
    struct seen seen = { calloc(100000, 1), 100000 };
    uint64_t cursor = 0;
    int calls = 0, added = 1000;
    do {
        cursor = hash_scan(h, cursor, 10, mark, &seen);
        calls++;
        if (calls < 40) { /* grow */
            for (int k = 0; k < 500; k++, added++)
                hash_set(s, &h, num(f, "f", added), S("v"), &hash_default_limits);
        } else if (calls < 60) { /* shrink: only fields added during the scan go */
            for (int k = 0; k < 1000 && added > 1000; k++)
                hash_delete(s, &h, num(f, "f", --added));
        }
    } while (cursor != 0);
    for (int i = 0; i < 1000; i++)
        assert_true(seen.flags[i]);
    free(seen.flags);
    hash_destroy(s, h);
    store_destroy(s);
}

static void collect(void *arg, struct slice f, struct slice v)
{
    struct hash_limits any = { SIZE_MAX, SIZE_MAX };
    void **a = arg;
    hash_set(a[0], (struct hash **)&a[1], f, v, &any);
}

static void expect_same(struct store *s, const struct hash *a, const struct hash *b)
{
    assert_int_equal(hash_len(a), hash_len(b));
    struct hash *copy = hash_create(s);
    void *arg[2] = { s, copy };
    hash_foreach(a, collect, arg);
    char f[32];
    for (int i = 0; i < 100000; i++) {
        struct slice va, vb;
        bool ia = hash_get(a, num(f, "f", i), &va), ib = hash_get(b, num(f, "f", i), &vb);
        assert_int_equal(ia, ib);
        if (ia) {
            assert_int_equal(va.len, vb.len);
            assert_memory_equal(va.ptr, vb.ptr, va.len);
        }
    }
    hash_destroy(s, arg[1]); /* where the copy is now: it may have moved */
}

static void test_encode_dup(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL), *t = store_create(NULL, NULL, NULL);
    for (int size = 0; size <= 500; size += 250) {
        struct hash *h = hash_create(s);
        char f[32], v[32];
        for (int i = 0; i < size; i++)
            hash_set(s, &h, num(f, "f", i), num(v, "value-", i * 7), &hash_default_limits);
        struct buf b;
        buf_init(&b);
        hash_encode(h, &b);
        struct hash *d = hash_decode(t, b.data, b.len);
        assert_non_null(d);
        assert_int_equal(hash_is_listpack(d), hash_is_listpack(h));
        expect_same(s, h, d);
        assert_null(hash_decode(t, b.data, b.len - 1));        /* cut short */
        struct hash *c = hash_dup(s, h);
        expect_same(s, h, c);
        hash_set(s, &c, S("f1"), S("changed"), &hash_default_limits);
        if (size)
            expect_field(h, "f1", "value-7");
        buf_free(&b);
        hash_destroy(s, c);
        hash_destroy(s, h);
        hash_destroy(t, d);
    }
    assert_int_equal(store_used_memory(t), 0);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
    store_destroy(t);
}

static struct hash *filled(struct store *s, int n)
{
    struct hash *h = hash_create(s);
    char f[32];
    for (int i = 0; i < n; i++)
        hash_set(s, &h, num(f, "f", i), S("some value"), &hash_default_limits);
    return h;
}

/* The store's count comes back to its baseline whatever way a hash goes. */
static void test_store_memory(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    store_set(s, S("str"), "x", 1, 0);
    size_t base = store_used_memory(s);

    /* small: freed at once */
    store_set_object(s, S("h"), TYPE_HASH, filled(s, 10), 0);
    assert_true(store_used_memory(s) > base);
    assert_true(store_delete(s, S("h")));
    assert_int_equal(store_used_memory(s), base);

    /* big: in slices */
    store_set_object(s, S("h"), TYPE_HASH, filled(s, 50000), 0);
    size_t full = store_used_memory(s);
    assert_true(full > base + 50000 * 16);
    assert_true(store_delete(s, S("h")));
    assert_int_equal(store_lazy_pending(s), 1);
    assert_null(store_find(s, S("h"), NOW));
    int steps = 0;
    while (store_lazy_pending(s)) {
        store_rehash_step(s);
        steps++;
    }
    assert_true(steps > 1);                                     /* not all in one call */
    assert_int_equal(store_used_memory(s), base);

    /* FLUSH */
    store_set_object(s, S("h"), TYPE_HASH, filled(s, 50000), 0);
    store_set_object(s, S("g"), TYPE_HASH, filled(s, 5), NOW + 1000);
    store_flush(s);
    while (store_lazy_pending(s))
        store_rehash_step(s);
    assert_int_equal(store_used_memory(s), 0);

    /* SET over a hash, expiry, and a hash over a hash */
    store_set(s, S("str"), "x", 1, 0);
    store_set_object(s, S("h"), TYPE_HASH, filled(s, 10), 0);
    store_set_object(s, S("h"), TYPE_HASH, filled(s, 20), 0);
    store_set(s, S("h"), "y", 1, 0);
    assert_int_equal(entry_type(store_find(s, S("h"), NOW)), TYPE_STRING);
    store_delete(s, S("h"));
    store_set_object(s, S("h"), TYPE_HASH, filled(s, 3000), NOW + 10);
    assert_null(store_find(s, S("h"), NOW + 20));               /* expired: removed */
    while (store_lazy_pending(s))
        store_rehash_step(s);
    assert_int_equal(store_used_memory(s), base);

    /* evicted to make room */
    store_set_object(s, S("h"), TYPE_HASH, filled(s, 50000), 0);
    assert_true(store_make_room(s, base + 1000, EVICT_ALLKEYS_LRU, NOW) || store_lazy_pending(s));
    for (int i = 0; i < 1000 && store_used_memory(s) > base + 1000; i++)
        store_make_room(s, base + 1000, EVICT_ALLKEYS_LRU, NOW);
    assert_true(store_used_memory(s) <= base + 1000);
    while (store_lazy_pending(s))
        store_rehash_step(s);
    store_destroy(s);
}

/* RENAME's move: the object goes to the new key, the old key is deleted
 * without freeing it. */
static void test_take_object(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    store_set_object(s, S("a"), TYPE_HASH, filled(s, 2000), NOW + 5000);
    struct entry *e = store_find(s, S("a"), NOW);
    void *obj = store_take_object(s, e);
    store_set_object(s, S("b"), TYPE_HASH, obj, NOW + 5000);
    assert_true(store_delete(s, S("a")));
    assert_int_equal(store_lazy_pending(s), 0);
    e = store_find(s, S("b"), NOW);
    assert_int_equal(entry_type(e), TYPE_HASH);
    assert_int_equal(hash_len(entry_object(e)), 2000);
    assert_int_equal(entry_expire_at(e), NOW + 5000);
    assert_string_equal(value_type_name(entry_type(e)), "hash");
    store_destroy(s); /* frees b's hash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listpack),
        cmocka_unit_test(test_listpack_long_lengths),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_scan_across_resize),
        cmocka_unit_test(test_table_churn),
        cmocka_unit_test(test_encode_dup),
        cmocka_unit_test(test_store_memory),
        cmocka_unit_test(test_take_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
