/* The real redis-benchmark against the server, pipelined, with many clients
 * and with benchmark threads; then the data it wrote is checked: INCR totals
 * and SET/MSET values. Skipped (exit 77) when redis-benchmark is missing. */
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

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

static void bench(const char *args)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "timeout 60 redis-benchmark -p %d %s 2>&1 </dev/null", srv.port, args);
    int st = run_cmd(cmd, &out);
    print_message("%s\n", cmd);
    if (st != 0)
        fail_msg("`%s` exited %d", cmd, st);
    if (strstr(out, "ERR") || strstr(out, "rror"))
        fail_msg("`%s` reported errors: %s", cmd, out);
    free(out);
}

/* Visit every key matching pattern with a full SCAN. vlen < 0: returns the
 * sum of their integer values. vlen >= 0: checks every value is vlen bytes
 * and all are the same bytes (redis-benchmark writes one fixed payload of -d
 * bytes: 'x's in older versions, a fixed pseudo-random text in Redis 7). */
static long long scan_values(const char *pattern, int vlen, long long *nkeys)
{
    char cursor[32] = "0";
    char *first = NULL;
    long long sum = 0;
    *nkeys = 0;
    do {
        struct rval *v = tcmd(c, "SCAN %s MATCH %s COUNT 200", cursor, pattern);
        assert_non_null(v);
        assert_int_equal(v->n, 2);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        struct rval *keys = v->elem[1];
        for (size_t i = 0; i < keys->n; i++) {
            const char *a[] = { "GET", keys->elem[i]->str };
            tsendv(c, 2, a);
        }
        for (size_t i = 0; i < keys->n; i++) {
            struct rval *g = tread(c, 10000);
            assert_non_null(g);
            assert_int_equal(g->type, R_BULK);
            if (vlen >= 0) {
                if (g->len != (size_t)vlen)
                    fail_msg("key %s holds %zu bytes, expected %d", keys->elem[i]->str, g->len, vlen);
                if (!first)
                    first = strdup(g->str);
                if (strcmp(g->str, first) != 0)
                    fail_msg("key %s holds '%s', others '%s'", keys->elem[i]->str, g->str, first);
            } else {
                sum += atoll(g->str);
            }
            rval_free(g);
        }
        *nkeys += (long long)keys->n;
        rval_free(v);
    } while (strcmp(cursor, "0") != 0);
    free(first);
    return sum;
}

static void test_pipelined(void **state)
{
    bench("-t set,get,incr,mset -n 20000 -P 16 -q");
    /* without -r every INCR hits the one key "counter:__rand_int__" */
    expect_bulk(tcmd(c, "GET counter:__rand_int__"), "20000");
    long long nkeys = 0;
    scan_values("key:*", 3, &nkeys);
    assert_int_equal(nkeys, 1);
}

static void test_many_clients(void **state)
{
    bench("-t set,get,incr,mset -n 20000 -c 50 -P 4 -r 1000 -d 16 -q");
    long long nkeys = 0;
    long long total = scan_values("counter:*", -1, &nkeys);
    assert_int_equal(total, 20000);
    assert_true(nkeys > 1 && nkeys <= 1000);
    scan_values("key:*", 16, &nkeys);
    assert_true(nkeys > 1 && nkeys <= 1000);
}

static void test_benchmark_threads(void **state)
{
    bench("-t set,get,incr -n 20000 -c 20 --threads 2 -r 500 -d 8 -q");
    long long nkeys = 0;
    assert_int_equal(scan_values("counter:*", -1, &nkeys), 20000);
    scan_values("key:*", 8, &nkeys);
    assert_true(nkeys > 1 && nkeys <= 500);
}

/* Plain `redis-benchmark -q`: every one of its default tests runs to the
 * end without an error (it used to stop at LPUSH, an unknown command), and
 * what the list, set, hash and sorted set tests leave behind is there. */
static void test_default_tests(void **state)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "timeout 120 redis-benchmark -p %d -q -n 2000 2>&1 </dev/null", srv.port);
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("`%s` exited %d: %s", cmd, st, out);
    if (strstr(out, "ERR") || strstr(out, "rror"))
        fail_msg("`%s` reported errors: %s", cmd, out);
    static const char *const names[] = { "PING_INLINE:", "PING_MBULK:", "SET:", "GET:", "INCR:", "LPUSH:",
                                         "RPUSH:", "LPOP:", "RPOP:", "SADD:", "HSET:", "SPOP:", "ZADD:",
                                         "ZPOPMIN:", "LRANGE_100", "LRANGE_300", "LRANGE_500",
                                         "LRANGE_600", "MSET (10 keys):", NULL };
    for (int i = 0; names[i]; i++)
        if (!strstr(out, names[i]))
            fail_msg("no result for %s in: %s", names[i], out);
    free(out);
    /* LPUSH/RPUSH/LPOP/RPOP and the LRANGE runs use "mylist", SADD/SPOP
     * "myset", HSET "myhash", ZADD/ZPOPMIN "myzset" */
    expect_status(tcmd(c, "TYPE mylist"), "list");
    assert_true(get_int(tcmd(c, "LLEN mylist")) >= 600);
    expect_status(tcmd(c, "TYPE myhash"), "hash");
    assert_true(get_int(tcmd(c, "HLEN myhash")) >= 1);
}

int main(void)
{
    if (run_cmd("command -v redis-benchmark >/dev/null 2>&1", NULL) != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_benchmark_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_tests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
