/* rdb: the RDB file (shards/store/rdb.h) written from a store and read
 * back into another, every type with its expiry; a damaged file refused
 * by its checksum; with the checksum off, every one-byte change and every
 * cut of the file read without a crash or a read past its end (the ASan
 * build checks that), and every cut refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/rdb.h"
#include "shards/store/serialize.h"
#include "shards/store/set.h"
#include "shards/store/store.h"
#include "shards/store/zset.h"

#define NOW 1700000000000LL

static struct slice S(const char *s) { return (struct slice){ s, strlen(s) }; }

static struct store *filled_store(void)
{
    struct store *s = store_create(NULL, NULL, NULL);
    store_set(s, S("str"), "hello", 5, 0);
    store_set(s, S("int"), "-12345", 6, NOW + 100000);
    char big[300];
    memset(big, 'z', sizeof big);
    store_set(s, S("big"), big, sizeof big, 0);
    struct hash *h = hash_create(s);
    for (int i = 0; i < 20; i++) {
        char f[16], v[16];
        snprintf(f, sizeof f, "f%d", i);
        snprintf(v, sizeof v, "%d", i * 3);
        hash_set(s, &h, S(f), S(v), &hash_default_limits);
    }
    store_set_object(s, S("hash"), TYPE_HASH, h, NOW + 5000);
    struct set *st = set_create(s, S("a"), 3, &set_default_limits);
    set_add(s, &st, S("a"), &set_default_limits);
    set_add(s, &st, S("b"), &set_default_limits);
    set_add(s, &st, S("7"), &set_default_limits);
    store_set_object(s, S("set"), TYPE_SET, st, 0);
    struct list *l = list_create(s);
    for (int i = 0; i < 50; i++) {
        char e[16];
        snprintf(e, sizeof e, "e%d", i);
        list_push(s, &l, false, S(e), &list_default_limits);
    }
    store_set_object(s, S("list"), TYPE_LIST, l, 0);
    struct zset *z = zset_create(s, 4, 0, &zset_default_limits);
    zset_set(s, &z, S("m1"), 1.5, &zset_default_limits);
    zset_set(s, &z, S("m2"), -3, &zset_default_limits);
    store_set_object(s, S("zset"), TYPE_ZSET, z, 0);
    return s;
}

/* The file of s, in memory. */
static char *file_of(struct store *s, bool compress, bool checksum, size_t *len)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/rkv-test-rdb-%d", (int)getpid());
    FILE *f = fopen(path, "w+b");
    assert_non_null(f);
    struct rdb_writer w;
    rdb_write_begin(&w, fileno(f), compress, checksum, NOW, 0);
    rdb_write_db(&w, 0, store_count(s), 2);
    rdb_write_store(&w, s, NOW);
    assert_int_equal(rdb_write_end(&w), 0);
    assert_int_equal(w.keys, 7);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    unlink(path);
    *len = (size_t)n;
    return p;
}

static bool keep(void *arg, int db, struct slice key, struct decoded_value *v, int64_t at)
{
    (void)db;
    return decoded_value_store(arg, key, v, at);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct store *s = filled_store();
    for (int compress = 0; compress < 2; compress++) {
        size_t n;
        char *p = file_of(s, compress, true, &n);
        assert_memory_equal(p, "REDIS0010", 9);
        struct store *t = store_create(NULL, NULL, NULL);
        char err[256];
        struct rdb_read_info info = { 0 };
        if (rdb_read(p, n, keep, t, &info, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_int_equal(info.keys, 7);
        assert_int_equal(store_count(t), 7);
        struct entry *e = store_peek(t, S("big"), NOW);
        assert_non_null(e);
        assert_int_equal(entry_value_len(e), 300);
        e = store_peek(t, S("int"), NOW);
        assert_memory_equal(entry_value(e), "-12345", 6);
        assert_true(entry_expire_at(e) == NOW + 100000);
        e = store_peek(t, S("hash"), NOW);
        assert_int_equal(entry_type(e), TYPE_HASH);
        assert_int_equal(store_object_len(TYPE_HASH, entry_object(e)), 20);
        assert_true(entry_expire_at(e) == NOW + 5000);
        e = store_peek(t, S("list"), NOW);
        assert_int_equal(store_object_len(TYPE_LIST, entry_object(e)), 50);
        store_destroy(t);
        free(p);
    }
    store_destroy(s);
}

/* Keys of databases 0, 2 and 9: each read back in its database; a reader
 * with fewer databases refuses the file with Redis's line. */
static bool keep_in_db(void *arg, int db, struct slice key, struct decoded_value *v, int64_t at)
{
    struct store **dbs = arg;
    assert_true(db >= 0 && db < 10);
    return decoded_value_store(dbs[db], key, v, at);
}

static void test_databases(void **state)
{
    (void)state;
    struct store *src[3];
    static const int ids[3] = { 0, 2, 9 };
    for (int i = 0; i < 3; i++) {
        src[i] = store_create(NULL, NULL, NULL);
        char key[16], val[16];
        for (int k = 0; k <= i; k++) {
            snprintf(key, sizeof key, "k%d", k);
            snprintf(val, sizeof val, "db%d", ids[i]);
            store_set(src[i], (struct slice){ key, strlen(key) }, val, strlen(val), 0);
        }
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/rkv-test-rdb-db-%d", (int)getpid());
    FILE *f = fopen(path, "w+b");
    assert_non_null(f);
    struct rdb_writer w;
    rdb_write_begin(&w, fileno(f), false, true, NOW, 0);
    for (int i = 0; i < 3; i++) {
        rdb_write_db(&w, ids[i], store_count(src[i]), 0);
        rdb_write_store(&w, src[i], NOW);
    }
    assert_int_equal(rdb_write_end(&w), 0);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    unlink(path);
    struct store *dbs[10];
    for (int i = 0; i < 10; i++)
        dbs[i] = store_create(NULL, NULL, NULL);
    char err[256];
    struct rdb_read_info info = { .databases = 16 };
    if (rdb_read(p, (size_t)n, keep_in_db, dbs, &info, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(info.keys, 6);
    assert_int_equal(store_count(dbs[0]), 1);
    assert_int_equal(store_count(dbs[2]), 2);
    assert_int_equal(store_count(dbs[9]), 3);
    assert_int_equal(store_count(dbs[1]) + store_count(dbs[3]), 0);
    struct entry *e = store_peek(dbs[9], S("k2"), NOW);
    assert_non_null(e);
    assert_memory_equal(entry_value(e), "db9", 3);
    struct rdb_read_info four = { .databases = 4 };
    assert_int_equal(rdb_read(p, (size_t)n, NULL, NULL, &four, err, sizeof err), -1);
    assert_true(four.bad_db);
    assert_non_null(strstr(err, "FATAL: Data file was created with a Redis server configured to handle more "
                                "than 4 databases"));
    for (int i = 0; i < 10; i++)
        store_destroy(dbs[i]);
    for (int i = 0; i < 3; i++)
        store_destroy(src[i]);
    free(p);
}

static void test_damaged_refused(void **state)
{
    (void)state;
    struct store *s = filled_store();
    size_t n;
    char *p = file_of(s, true, true, &n);
    char err[256];
    for (size_t i = 0; i < n; i++) { /* every byte changed: the checksum catches it */
        p[i] ^= 0x21;
        assert_int_equal(rdb_read(p, n, NULL, NULL, NULL, err, sizeof err), -1);
        p[i] ^= 0x21;
    }
    for (size_t k = 0; k < n; k++) /* every cut */
        assert_int_equal(rdb_read(p, k, NULL, NULL, NULL, err, sizeof err), -1);
    free(p);
    store_destroy(s);
}

/* With the checksum off (0: not checked) the reader meets the damage:
 * it must refuse or read something, never crash or read past the end. */
static void test_unchecked_damage_is_safe(void **state)
{
    (void)state;
    struct store *s = filled_store();
    size_t n;
    char *p = file_of(s, true, false, &n);
    char err[256];
    static const unsigned char flips[] = { 0x01, 0x80, 0xff, 0x40 };
    for (size_t i = 9; i + 8 < n; i++)
        for (size_t f = 0; f < sizeof flips; f++) {
            char *q = malloc(n); /* exactly n bytes: ASan sees a read past the end */
            memcpy(q, p, n);
            q[i] ^= (char)flips[f];
            struct store *t = store_create(NULL, NULL, NULL);
            (void)rdb_read(q, n, keep, t, NULL, err, sizeof err);
            store_destroy(t);
            free(q);
        }
    for (size_t k = 0; k + 8 < n; k++) {
        char *q = malloc(k ? k : 1);
        memcpy(q, p, k);
        assert_int_equal(rdb_read(q, k, NULL, NULL, NULL, err, sizeof err), -1);
        free(q);
    }
    free(p);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_databases),
        cmocka_unit_test(test_damaged_refused),
        cmocka_unit_test(test_unchecked_damage_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
