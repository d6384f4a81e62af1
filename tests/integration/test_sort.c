/* SORT and SORT_RO against a running server, with Redis 7's replies and
 * errors (the same test runs against redis-server with
 * RINGKV_TEST_TARGET=redis, but for ringkv's refusal of BY/GET patterns):
 * numeric and ALPHA order, DESC, LIMIT's clamping, BY nosort keeping a
 * list's and a sorted set's own order, GET #, STORE (a list; an empty
 * result deletes the destination; the key itself as destination; keys on
 * both shards), a set sorted into STORE by its bytes, errors and their
 * order, COMMAND GETKEYS. */
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

static int group_setup(void **state)
{
    (void)state;
    return server_start(&srv, NULL);
}
static int group_teardown(void **state) { (void)state; return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    (void)state;
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { (void)state; tclose(c); c = NULL; return 0; }

/* The reply as the harness prints it: ["a", "b"], (integer) 3, -ERR ... */
#define expect_text(v, want) expect_text_at((v), (want), __LINE__)
static void expect_text_at(struct rval *v, const char *want, int line)
{
    char *got = rval_text(v);
    if (strcmp(got, want) != 0)
        fail_msg("line %d: got %s, want %s", line, got, want);
    free(got);
    rval_free(v);
}

static void test_numeric_and_alpha(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH l 3 1 2 10 -1.5 inf 0x10"), 7);
    expect_text(tcmd(c, "SORT l"), "[\"-1.5\", \"1\", \"2\", \"3\", \"10\", \"0x10\", \"inf\"]");
    expect_text(tcmd(c, "SORT l DESC"), "[\"inf\", \"0x10\", \"10\", \"3\", \"2\", \"1\", \"-1.5\"]");
    expect_text(tcmd(c, "SORT l ALPHA"), "[\"-1.5\", \"0x10\", \"1\", \"10\", \"2\", \"3\", \"inf\"]");
    expect_text(tcmd(c, "SORT_RO l ALPHA DESC"), "[\"inf\", \"3\", \"2\", \"10\", \"1\", \"0x10\", \"-1.5\"]");
    /* equal numbers in the order of their bytes (DESC: reversed too) */
    expect_int(tcmd(c, "RPUSH e 1.0 1 01 2"), 4);
    expect_text(tcmd(c, "SORT e"), "[\"01\", \"1\", \"1.0\", \"2\"]");
    expect_text(tcmd(c, "SORT e DESC"), "[\"2\", \"1.0\", \"1\", \"01\"]");
    /* not a number: the whole element must parse, NaN neither */
    expect_int(tcmd(c, "RPUSH bad 1 2x"), 2);
    expect_error(tcmd(c, "SORT bad"), "ERR One or more scores can't be converted into double");
    expect_text(tcmd(c, "SORT bad ALPHA"), "[\"1\", \"2x\"]");
    expect_int(tcmd(c, "RPUSH nan nan"), 1);
    expect_error(tcmd(c, "SORT nan"), "ERR One or more scores can't be converted into double");
    /* sets and sorted sets: their members, by value (a sorted set's scores
     * play no part) */
    expect_int(tcmd(c, "SADD s 5 3 40"), 3);
    expect_text(tcmd(c, "SORT s"), "[\"3\", \"5\", \"40\"]");
    expect_text(tcmd(c, "SORT s ALPHA"), "[\"3\", \"40\", \"5\"]");
    expect_int(tcmd(c, "ZADD z 1 c 2 a 3 b"), 3);
    expect_text(tcmd(c, "SORT z ALPHA"), "[\"a\", \"b\", \"c\"]");
    expect_text(tcmd(c, "SORT nokey"), "[]");
}

static void test_limit_and_nosort(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH l 5 1 4 2 3"), 5);
    expect_text(tcmd(c, "SORT l LIMIT 1 2"), "[\"2\", \"3\"]");
    expect_text(tcmd(c, "SORT l LIMIT -5 2"), "[\"1\", \"2\"]");
    expect_text(tcmd(c, "SORT l LIMIT 3 -1"), "[\"4\", \"5\"]");
    expect_text(tcmd(c, "SORT l LIMIT 3 100"), "[\"4\", \"5\"]");
    expect_text(tcmd(c, "SORT l LIMIT 5 1"), "[]");
    expect_text(tcmd(c, "SORT l LIMIT 0 0"), "[]");
    /* offset + count past LLONG_MAX (it overflowed once) */
    expect_text(tcmd(c, "SORT l LIMIT 2 9223372036854775807"), "[\"3\", \"4\", \"5\"]");
    expect_text(tcmd(c, "SORT l LIMIT 9223372036854775807 9223372036854775807"), "[]");
    expect_text(tcmd(c, "SORT l LIMIT -9223372036854775808 -9223372036854775808"), "[\"1\", \"2\", \"3\", \"4\", \"5\"]");
    expect_text(tcmd(c, "SORT l BY nosort LIMIT 4 9223372036854775807 DESC"), "[\"5\"]");
    expect_text(tcmd(c, "SORT nosuchkey LIMIT 1 9223372036854775807"), "[]");
    /* BY a word without '*': the list's own order, DESC from its tail */
    expect_text(tcmd(c, "SORT l BY nosort"), "[\"5\", \"1\", \"4\", \"2\", \"3\"]");
    expect_text(tcmd(c, "SORT l BY nosort DESC"), "[\"3\", \"2\", \"4\", \"1\", \"5\"]");
    expect_text(tcmd(c, "SORT l BY constant LIMIT 1 2"), "[\"1\", \"4\"]");
    expect_text(tcmd(c, "SORT l BY nosort LIMIT 1 2 DESC"), "[\"2\", \"4\"]");
    /* a sorted set's own order is its scores' */
    expect_int(tcmd(c, "ZADD z 3 x 1 y 2 w"), 3);
    expect_text(tcmd(c, "SORT z BY nosort"), "[\"y\", \"w\", \"x\"]");
    expect_text(tcmd(c, "SORT z BY nosort DESC LIMIT 0 2"), "[\"x\", \"w\"]");
    /* GET #: the element, once per GET */
    expect_text(tcmd(c, "SORT l LIMIT 0 2 GET # GET #"), "[\"1\", \"1\", \"2\", \"2\"]");
}

static void test_store(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH l 3 1 2"), 3);
    /* destinations on both shards (two of them: keys d0..d7 cover both) */
    for (int i = 0; i < 8; i++) {
        expect_int(tcmd(c, "SORT l DESC STORE d%d", i), 3);
        expect_text(tcmd(c, "LRANGE d%d 0 -1", i), "[\"3\", \"2\", \"1\"]");
        expect_status(tcmd(c, "TYPE d%d", i), "list");
    }
    /* over a key of another type, and the key itself */
    expect_ok(tcmd(c, "SET str x"));
    expect_int(tcmd(c, "SORT l STORE str"), 3);
    expect_text(tcmd(c, "LRANGE str 0 -1"), "[\"1\", \"2\", \"3\"]");
    expect_int(tcmd(c, "SORT l DESC STORE l"), 3);
    expect_text(tcmd(c, "LRANGE l 0 -1"), "[\"3\", \"2\", \"1\"]");
    /* an empty result deletes the destination */
    expect_int(tcmd(c, "SORT nokey STORE d0"), 0);
    expect_int(tcmd(c, "EXISTS d0"), 0);
    expect_int(tcmd(c, "SORT l LIMIT 10 1 STORE d1"), 0);
    expect_int(tcmd(c, "EXISTS d1"), 0);
    /* a set sorted into STORE by nosort is sorted by its bytes (the same
     * list on every replica) */
    expect_int(tcmd(c, "SADD s b 10 a 9"), 4);
    expect_int(tcmd(c, "SORT s BY nosort STORE d2"), 4);
    expect_text(tcmd(c, "LRANGE d2 0 -1"), "[\"10\", \"9\", \"a\", \"b\"]");
    /* the last STORE wins; GET # repeats in the list too */
    expect_int(tcmd(c, "SORT l STORE x3 STORE x4 GET # GET #"), 6);
    expect_int(tcmd(c, "EXISTS x3"), 0);
    expect_text(tcmd(c, "LRANGE x4 0 -1"), "[\"1\", \"1\", \"2\", \"2\", \"3\", \"3\"]");
    expect_text(tcmd(c, "COMMAND GETKEYS SORT l BY nosort STORE d5"), "[\"l\", \"d5\"]");
    expect_text(tcmd(c, "COMMAND GETKEYS SORT l STORE d5 STORE d6"), "[\"l\", \"d6\"]");
    expect_text(tcmd(c, "COMMAND GETKEYS SORT_RO l"), "[\"l\"]");
}

/* Redis's SORT turns a small (listpack) sorted set it reads into a
 * skiplist for good, SORT_RO and a SORT that fails too; nothing else
 * about the set changes. */
static void test_sorted_set_encoding(void **state)
{
    (void)state;
    expect_int(tcmd(c, "ZADD z 2 b 1 a"), 2);
    expect_bulk(tcmd(c, "OBJECT ENCODING z"), "listpack");
    struct rval *v = tcmd(c, "SORT z BY nosort");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    rval_free(v);
    expect_bulk(tcmd(c, "OBJECT ENCODING z"), "skiplist");
    expect_int(tcmd(c, "ZCARD z"), 2);
    expect_bulk(tcmd(c, "ZSCORE z b"), "2");
    expect_int(tcmd(c, "ZADD y 1 x"), 1);
    expect_error(tcmd(c, "SORT_RO y"), "ERR One or more scores can't be converted into double");
    expect_bulk(tcmd(c, "OBJECT ENCODING y"), "skiplist");
    /* a syntax error stops SORT before it looks at the key */
    expect_int(tcmd(c, "ZADD w 1 x"), 1);
    expect_error(tcmd(c, "SORT w LIMIT 0"), "ERR syntax error");
    expect_bulk(tcmd(c, "OBJECT ENCODING w"), "listpack");
}

static void test_errors(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "SET str x"));
    expect_error(tcmd(c, "SORT str"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_int(tcmd(c, "HSET h f v"), 1);
    expect_error(tcmd(c, "SORT h"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    /* the options are read before the key is looked up */
    expect_error(tcmd(c, "SORT str FOO"), "ERR syntax error");
    expect_error(tcmd(c, "SORT str LIMIT x 1"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "SORT l LIMIT 1"), "ERR syntax error");
    expect_error(tcmd(c, "SORT l STORE"), "ERR syntax error");
    expect_error(tcmd(c, "SORT_RO l STORE d"), "ERR syntax error");
    expect_error(tcmd(c, "SORT"), "ERR wrong number of arguments for 'sort' command");
    /* a failed sort stores nothing */
    expect_int(tcmd(c, "RPUSH bad 1 b"), 2);
    expect_error(tcmd(c, "SORT bad STORE d"), "ERR One or more scores can't be converted into double");
    expect_int(tcmd(c, "EXISTS d"), 0);
    if (target_is_redis())
        return;
    /* ringkv: BY and GET patterns name keys anywhere: refused */
    expect_error_prefix(tcmd(c, "SORT bad BY w_*"), "ERR BY option of SORT with a pattern is not supported");
    expect_error_prefix(tcmd(c, "SORT bad GET o_*"), "ERR GET option of SORT with a pattern other than #");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_numeric_and_alpha, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_and_nosort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sorted_set_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
