/* ringkv with several shard threads (--threads 2 and 4): multi-key commands
 * whose keys land on different shards give the answers one Redis would, and
 * pipelines keep their order. ringkv-only: skipped on redis-server (set
 * RINGKV_TEST_SHARDS_ON_REDIS=1 to run the same assertions against Redis,
 * without --threads, to check the tests themselves). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;
static tconn *c;
static const char *threads = "2";

static bool skip_here(void)
{
    return target_is_redis() && !getenv("RINGKV_TEST_SHARDS_ON_REDIS");
}

static int group_setup(void **state)
{
    if (skip_here())
        return 0;
    if (target_is_redis())
        return server_start(&srv, NULL);
    const char *args[] = { "--threads", threads, "--pin", "no", NULL };
    return server_start(&srv, args);
}
static int group_teardown(void **state)
{
    if (skip_here())
        return 0;
    return server_stop(&srv) == 0 ? 0 : -1;
}
static int setup(void **state)
{
    if (skip_here())
        return 0;
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

#define SKIP_ON_REDIS() do { if (skip_here()) skip(); } while (0)

enum { NK = 200 };

/* MSET key:0 0 key:1 1 ... key:n-1 n-1 as one command. */
static void mset_many(const char *prefix, int n)
{
    const char **argv = calloc((size_t)(2 * n + 1), sizeof *argv);
    char (*bufs)[2][32] = calloc((size_t)n, sizeof *bufs);
    argv[0] = "MSET";
    for (int i = 0; i < n; i++) {
        snprintf(bufs[i][0], 32, "%s:%d", prefix, i);
        snprintf(bufs[i][1], 32, "%d", i);
        argv[1 + 2 * i] = bufs[i][0];
        argv[2 + 2 * i] = bufs[i][1];
    }
    tsendv(c, 2 * n + 1, argv);
    expect_ok(tread(c, 10000));
    free(argv);
    free(bufs);
}

/* Send CMD prefix:from .. prefix:to-1 [+ extra NULL-terminated words]. */
static struct rval *multi_key(const char *cmd, const char *prefix, int from, int to)
{
    int n = to - from;
    const char **argv = calloc((size_t)n + 1, sizeof *argv);
    char (*keys)[32] = calloc((size_t)n, sizeof *keys);
    argv[0] = cmd;
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], 32, "%s:%d", prefix, from + i);
        argv[1 + i] = keys[i];
    }
    tsendv(c, n + 1, argv);
    struct rval *v = tread(c, 10000);
    free(argv);
    free(keys);
    return v;
}

static void test_mset_mget_del_exists(void **state)
{
    SKIP_ON_REDIS();
    mset_many("key", NK);
    /* MGET of every key plus missing ones, in argument order */
    struct rval *v = multi_key("MGET", "key", 0, NK + 10);
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, NK + 10);
    char want[32];
    for (int i = 0; i < NK; i++) {
        snprintf(want, sizeof want, "%d", i);
        assert_int_equal(v->elem[i]->type, R_BULK);
        assert_string_equal(v->elem[i]->str, want);
    }
    for (int i = NK; i < NK + 10; i++)
        assert_int_equal(v->elem[i]->type, R_NIL);
    rval_free(v);
    expect_int(multi_key("EXISTS", "key", 0, NK + 10), NK);
    expect_int(multi_key("TOUCH", "key", 0, NK + 10), NK);
    expect_int(tcmd(c, "DBSIZE"), NK);
    expect_int(multi_key("DEL", "key", 0, NK / 2), NK / 2);
    expect_int(multi_key("EXISTS", "key", 0, NK), NK / 2);
    expect_int(multi_key("UNLINK", "key", NK / 2, NK / 2 + 10), 10);
    expect_int(tcmd(c, "DBSIZE"), NK / 2 - 10);
    /* MSETNX over many shards: one existing key stops all of them */
    mset_many("key", 1);
    {
        const char *argv[2 * 40 + 1];
        char keys[40][32];
        argv[0] = "MSETNX";
        for (int i = 0; i < 40; i++) {
            snprintf(keys[i], 32, "nx:%d", i);
            argv[1 + 2 * i] = i == 39 ? "key:0" : keys[i];
            argv[2 + 2 * i] = "x";
        }
        tsendv(c, 81, argv);
        expect_int(tread(c, 10000), 0);
        expect_int(multi_key("EXISTS", "nx", 0, 39), 0);
        argv[2 * 39 + 1] = keys[39];
        tsendv(c, 81, argv);
        expect_int(tread(c, 10000), 1);
        expect_int(multi_key("EXISTS", "nx", 0, 40), 40);
    }
}

static void test_keys_scan_dbsize_info(void **state)
{
    SKIP_ON_REDIS();
    mset_many("sk", NK);
    mset_many("other", 7);
    struct rval *v = tcmd(c, "KEYS sk:*");
    assert_int_equal(v->n, NK);
    rval_free(v);
    v = tcmd(c, "KEYS *");
    assert_int_equal(v->n, NK + 7);
    rval_free(v);
    expect_int(tcmd(c, "DBSIZE"), NK + 7);

    char *seen = calloc(NK, 1);
    int distinct = 0, rounds = 0;
    char cursor[32] = "0";
    do {
        v = tcmd(c, "SCAN %s MATCH sk:* COUNT 13", cursor);
        assert_non_null(v);
        assert_int_equal(v->n, 2);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        for (size_t i = 0; i < v->elem[1]->n; i++) {
            int idx = atoi(v->elem[1]->elem[i]->str + 3);
            assert_true(idx >= 0 && idx < NK);
            if (!seen[idx]++)
                distinct++;
        }
        rval_free(v);
        assert_true(++rounds < 10000);
    } while (strcmp(cursor, "0") != 0);
    assert_int_equal(distinct, NK);
    free(seen);

    v = tcmd(c, "INFO keyspace");
    assert_non_null(v);
    char want[64];
    snprintf(want, sizeof want, "db0:keys=%d,expires=0,", NK + 7);
    assert_non_null(strstr(v->str, want));
    rval_free(v);
    expect_ok(tcmd(c, "SET ttl v EX 100"));
    v = tcmd(c, "INFO keyspace");
    snprintf(want, sizeof want, "db0:keys=%d,expires=1,", NK + 8);
    assert_non_null(strstr(v->str, want));
    rval_free(v);
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    v = tcmd(c, "KEYS *");
    assert_int_equal(v->n, 0);
    rval_free(v);
}

static void test_pipeline_order_across_shards(void **state)
{
    SKIP_ON_REDIS();
    enum { N = 1000 };
    size_t cap = N * 2 * 64, len = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < N; i++) {
        char k[32], val[32];
        int kl = snprintf(k, sizeof k, "k_%d", i);
        int vl = snprintf(val, sizeof val, "v%d", i);
        len += (size_t)sprintf(buf + len, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl, k, vl, val);
        len += (size_t)sprintf(buf + len, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, k);
    }
    tsend_raw(c, buf, len);
    for (int i = 0; i < N; i++) {
        char val[32];
        snprintf(val, sizeof val, "v%d", i);
        expect_ok(tread(c, 10000));
        expect_bulk(tread(c, 10000), val);
    }
    free(buf);
    /* a second connection's pipeline of reads over the same keys */
    tconn *d = tconnect(srv.port);
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof k, "k_%d", (i * 7) % N);
        const char *a[] = { "GET", k };
        tsendv(d, 2, a);
    }
    for (int i = 0; i < N; i++) {
        char val[32];
        snprintf(val, sizeof val, "v%d", (i * 7) % N);
        expect_bulk(tread(d, 10000), val);
    }
    tclose(d);
}

static void test_cross_shard_rename_copy(void **state)
{
    SKIP_ON_REDIS();
    char want[32];
    for (int i = 0; i < 40; i++) {
        snprintf(want, sizeof want, "value%d", i);
        expect_ok(tcmd(c, "SET src:%d %s EX 1000", i, want));
        expect_ok(tcmd(c, "RENAME src:%d dst:%d", i, i));
        expect_int(tcmd(c, "EXISTS src:%d", i), 0);
        expect_bulk(tcmd(c, "GET dst:%d", i), want);
        struct rval *t = tcmd(c, "TTL dst:%d", i);
        assert_true(t->integer > 900);
        rval_free(t);
        expect_int(tcmd(c, "RENAMENX dst:%d src:%d", i, i), 1);
        expect_int(tcmd(c, "COPY src:%d cp:%d", i, i), 1);
        expect_bulk(tcmd(c, "GET cp:%d", i), want);
        expect_int(tcmd(c, "COPY src:%d cp:%d", i, i), 0);
        expect_ok(tcmd(c, "SET other:%d x", i));
        expect_int(tcmd(c, "COPY other:%d cp:%d REPLACE", i, i), 1);
        expect_bulk(tcmd(c, "GET cp:%d", i), "x");
        expect_int(tcmd(c, "RENAMENX src:%d other:%d", i, i), 0);
    }
    expect_int(tcmd(c, "DBSIZE"), 120);
}

static void test_cross_shard_bitop_lcs(void **state)
{
    SKIP_ON_REDIS();
    for (int i = 0; i < 20; i++) {
        expect_ok(tcmd(c, "MSET a:%d abc b:%d ABCD", i, i));
        expect_int(tcmd(c, "BITOP OR d:%d a:%d b:%d", i, i, i), 4);
        expect_bulk(tcmd(c, "GET d:%d", i), "abcD");
        expect_int(tcmd(c, "BITOP XOR x:%d a:%d a:%d b:%d", i, i, i, i), 4);
        expect_bulk(tcmd(c, "GET x:%d", i), "ABCD");
        expect_ok(tcmd(c, "MSET l1:%d ohmytext l2:%d mynewtext", i, i));
        expect_bulk(tcmd(c, "LCS l1:%d l2:%d", i, i), "mytext");
    }
}

static void test_hash_tags_same_shard(void **state)
{
    SKIP_ON_REDIS();
    expect_ok(tcmd(c, "MSET {user1000}.following 1 {user1000}.followers 2"));
    expect_ok(tcmd(c, "RENAME {user1000}.following {user1000}.x"));
    expect_bulk(tcmd(c, "GET {user1000}.x"), "1");
    expect_int(tcmd(c, "DEL {user1000}.x {user1000}.followers"), 2);
}

static int run_with(const char *n)
{
    threads = n;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mset_mget_del_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_scan_dbsize_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_order_across_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cross_shard_rename_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cross_shard_bitop_lcs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_tags_same_shard, setup, teardown),
    };
    print_message("---- --threads %s ----\n", n);
    return cmocka_run_group_tests_name(n[0] == '2' ? "threads 2" : "threads 4", tests,
                                       group_setup, group_teardown);
}

int main(void)
{
    if (skip_here())
        return 77;  /* meson: skipped */
    int failed = run_with("2");
    failed += run_with("4");
    return failed;
}
