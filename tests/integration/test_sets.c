/* Sets against a running server, with Redis 7's replies and errors (the same
 * test runs against redis-server with RINGKV_TEST_TARGET=redis): SADD SREM
 * SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER
 * SINTERCARD SUNION SDIFF and the STORE forms (keys on both shards), SSCAN;
 * -WRONGTYPE; OBJECT ENCODING intset / hashtable (and listpack, which Redis
 * 7.2 has and 7.0 does not: ringkv only); RENAME and COPY of sets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* v is an array or set holding exactly the words of want, in any order. */
static void expect_members(struct rval *v, const char *want)
{
    char *text = rval_text(v);
    assert_true(v->type == R_ARRAY || v->type == R_SET);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", want);
    char *w[512];
    size_t n = 0;
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
        w[n++] = t;
    if (n != v->n)
        fail_msg("reply %s does not hold '%s'", text, want);
    char **got = malloc((n + 1) * sizeof *got);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v->elem[i]->type, R_BULK);
        got[i] = v->elem[i]->str;
    }
    qsort(got, n, sizeof *got, cmp);
    qsort(w, n, sizeof *w, cmp);
    for (size_t i = 0; i < n; i++)
        if (strcmp(got[i], w[i]) != 0)
            fail_msg("reply %s does not hold '%s'", text, want);
    free(got);
    free(text);
    rval_free(v);
}

static void test_basics(void **state)
{
    (void)state;
    expect_int(tcmd(c, "SADD s a b c a"), 3);
    expect_int(tcmd(c, "SADD s c d"), 1);
    expect_int(tcmd(c, "SCARD s"), 4);
    expect_int(tcmd(c, "SCARD nokey"), 0);
    expect_int(tcmd(c, "SISMEMBER s a"), 1);
    expect_int(tcmd(c, "SISMEMBER s z"), 0);
    expect_int(tcmd(c, "SISMEMBER nokey a"), 0);
    struct rval *v = tcmd(c, "SMISMEMBER s a z d");
    assert_int_equal(v->n, 3);
    assert_int_equal(v->elem[0]->integer, 1);
    assert_int_equal(v->elem[1]->integer, 0);
    assert_int_equal(v->elem[2]->integer, 1);
    rval_free(v);
    v = tcmd(c, "SMISMEMBER nokey a b");
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->integer, 0);
    rval_free(v);
    expect_members(tcmd(c, "SMEMBERS s"), "a b c d");
    expect_members(tcmd(c, "SMEMBERS nokey"), "");
    expect_int(tcmd(c, "SREM s a z a"), 1);
    expect_int(tcmd(c, "SREM nokey a"), 0);
    expect_int(tcmd(c, "SREM s b c d"), 3);
    expect_int(tcmd(c, "EXISTS s"), 0);      /* the last member takes the key */
    expect_error(tcmd(c, "SADD s"), "ERR wrong number of arguments for 'sadd' command");
    expect_error(tcmd(c, "SREM s"), "ERR wrong number of arguments for 'srem' command");
    expect_error(tcmd(c, "SMISMEMBER s"), "ERR wrong number of arguments for 'smismember' command");
    expect_int(tcmd(c, "SADD n 10 -3 70000 5000000000 -5000000000 10"), 5);
    expect_members(tcmd(c, "SMEMBERS n"), "10 -3 70000 5000000000 -5000000000");
    expect_int(tcmd(c, "SISMEMBER n 70000"), 1);
    expect_int(tcmd(c, "SISMEMBER n 070000"), 0);
    expect_int(tcmd(c, "SREM n 70000 -5000000000"), 2);
    expect_members(tcmd(c, "SMEMBERS n"), "10 -3 5000000000");
}

static void test_wrongtype(void **state)
{
    (void)state;
    const char *wt = "WRONGTYPE Operation against a key holding the wrong kind of value";
    expect_int(tcmd(c, "SADD s a"), 1);
    expect_ok(tcmd(c, "SET str x"));
    expect_int(tcmd(c, "HSET h f v"), 1);
    expect_error(tcmd(c, "GET s"), wt);
    expect_error(tcmd(c, "HGET s f"), wt);
    expect_error(tcmd(c, "HSET s f v"), wt);
    expect_error(tcmd(c, "SADD str a"), wt);
    expect_error(tcmd(c, "SADD h a"), wt);
    expect_error(tcmd(c, "SREM str a"), wt);
    expect_error(tcmd(c, "SMEMBERS h"), wt);
    expect_error(tcmd(c, "SISMEMBER str a"), wt);
    expect_error(tcmd(c, "SCARD str"), wt);
    expect_error(tcmd(c, "SPOP str"), wt);
    expect_error(tcmd(c, "SRANDMEMBER str"), wt);
    expect_error(tcmd(c, "SINTER s str"), wt);
    expect_error(tcmd(c, "SINTER nokey str"), wt); /* checked before the empty answer */
    expect_error(tcmd(c, "SUNION s h"), wt);
    expect_error(tcmd(c, "SDIFF s str"), wt);
    expect_error(tcmd(c, "SINTERSTORE d s str"), wt);
    expect_error(tcmd(c, "SSCAN str 0"), wt);
    expect_status(tcmd(c, "TYPE s"), "set");
    expect_ok(tcmd(c, "SET s x"));
    expect_status(tcmd(c, "TYPE s"), "string");
}

static void test_pop_random(void **state)
{
    (void)state;
    expect_nil(tcmd(c, "SPOP nokey"));
    expect_members(tcmd(c, "SPOP nokey 3"), "");
    expect_nil(tcmd(c, "SRANDMEMBER nokey"));
    expect_members(tcmd(c, "SRANDMEMBER nokey 3"), "");
    expect_int(tcmd(c, "SADD s a b c d e"), 5);
    struct rval *v = tcmd(c, "SPOP s");
    assert_int_equal(v->type, R_BULK);
    expect_int(tcmd(c, "SISMEMBER s %s", v->str), 0);
    rval_free(v);
    v = tcmd(c, "SPOP s 2");
    assert_int_equal(v->n, 2);
    rval_free(v);
    expect_int(tcmd(c, "SCARD s"), 2);
    expect_members(tcmd(c, "SPOP s 0"), "");
    v = tcmd(c, "SPOP s 10");                   /* all of them: the key goes */
    assert_int_equal(v->n, 2);
    rval_free(v);
    expect_int(tcmd(c, "EXISTS s"), 0);
    expect_error(tcmd(c, "SPOP s -1"), "ERR value is out of range, must be positive");
    expect_error(tcmd(c, "SPOP s x"), "ERR value is out of range, must be positive");
    expect_error(tcmd(c, "SPOP s 1 2"), "ERR syntax error");

    expect_int(tcmd(c, "SADD r 1 2 3"), 3);
    v = tcmd(c, "SRANDMEMBER r");
    assert_true(v->type == R_BULK && strchr("123", v->str[0]));
    rval_free(v);
    expect_members(tcmd(c, "SRANDMEMBER r 5"), "1 2 3");
    v = tcmd(c, "SRANDMEMBER r 2");
    assert_int_equal(v->n, 2);
    assert_string_not_equal(v->elem[0]->str, v->elem[1]->str);
    rval_free(v);
    v = tcmd(c, "SRANDMEMBER r -7");
    assert_int_equal(v->n, 7);
    rval_free(v);
    expect_members(tcmd(c, "SRANDMEMBER r 0"), "");
    expect_int(tcmd(c, "SCARD r"), 3);
    expect_error(tcmd(c, "SRANDMEMBER r 1 2"), "ERR syntax error");
    expect_error(tcmd(c, "SRANDMEMBER r x"), "ERR value is not an integer or out of range");
    /* a few distinct members of a big set (sampled, not shuffled whole) */
    for (int b = 0; b < 3000; b += 500) {
        char cmd[8192];
        int len = snprintf(cmd, sizeof cmd, "SADD rbig");
        for (int j = b; j < b + 500; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " m%d", j);
        rval_free(tcmd(c, "%s", cmd));
    }
    for (int round = 0; round < 20; round++) {
        v = tcmd(c, "SRANDMEMBER rbig 50");
        assert_int_equal(v->n, 50);
        char seen[3000] = { 0 };
        for (size_t i = 0; i < v->n; i++) {
            int m = atoi(v->elem[i]->str + 1);
            assert_true(m >= 0 && m < 3000 && !seen[m]);
            seen[m] = 1;
        }
        rval_free(v);
    }
    if (!target_is_redis()) { /* Redis would build the reply until its memory runs out */
        expect_error(tcmd(c, "SRANDMEMBER r -4611686018427387904"), "ERR value is out of range");
        expect_int(tcmd(c, "SCARD r"), 3);
    }
}

static void test_smove(void **state)
{
    (void)state;
    const char *wt = "WRONGTYPE Operation against a key holding the wrong kind of value";
    expect_ok(tcmd(c, "SET str x"));
    expect_int(tcmd(c, "SMOVE nokey str a"), 0);   /* a missing source first */
    expect_int(tcmd(c, "SADD src a b"), 2);
    expect_error(tcmd(c, "SMOVE src str a"), wt);
    expect_error(tcmd(c, "SMOVE str src a"), wt);
    expect_int(tcmd(c, "SMOVE src src a"), 1);
    expect_int(tcmd(c, "SMOVE src src z"), 0);
    expect_int(tcmd(c, "SMOVE src dst z"), 0);
    expect_int(tcmd(c, "EXISTS dst"), 0);
    expect_int(tcmd(c, "SMOVE src dst a"), 1);
    expect_members(tcmd(c, "SMEMBERS dst"), "a");
    expect_int(tcmd(c, "SADD dst b"), 1);
    expect_int(tcmd(c, "SMOVE src dst b"), 1);     /* already there: still 1 */
    expect_int(tcmd(c, "EXISTS src"), 0);
    expect_members(tcmd(c, "SMEMBERS dst"), "a b");
}

static void test_algebra(void **state)
{
    (void)state;
    expect_int(tcmd(c, "SADD k1 a b c d 1 2"), 6);
    expect_int(tcmd(c, "SADD k2 c d e 2"), 4);
    expect_int(tcmd(c, "SADD k3 d 2 x"), 3);
    expect_members(tcmd(c, "SINTER k1 k2 k3"), "d 2");
    expect_members(tcmd(c, "SINTER k1 k2 nokey"), "");
    expect_members(tcmd(c, "SINTER k1"), "a b c d 1 2");
    expect_members(tcmd(c, "SUNION k1 k2 nokey k3"), "a b c d e x 1 2");
    expect_members(tcmd(c, "SDIFF k1 k2 k3"), "a b 1");
    expect_members(tcmd(c, "SDIFF nokey k1"), "");
    expect_members(tcmd(c, "SDIFF k1 nokey"), "a b c d 1 2");
    expect_int(tcmd(c, "SINTERSTORE dst k1 k2"), 3);
    expect_members(tcmd(c, "SMEMBERS dst"), "c d 2");
    expect_int(tcmd(c, "SUNIONSTORE dst k2 k3"), 5);
    expect_members(tcmd(c, "SMEMBERS dst"), "c d e x 2");
    expect_int(tcmd(c, "SDIFFSTORE dst k1 k2"), 3);
    expect_members(tcmd(c, "SMEMBERS dst"), "a b 1");
    expect_int(tcmd(c, "SDIFFSTORE k1 k1 k2"), 3);   /* the destination among the sources */
    expect_members(tcmd(c, "SMEMBERS k1"), "a b 1");
    expect_ok(tcmd(c, "SET str x"));
    expect_int(tcmd(c, "EXPIRE dst 100"), 1);
    expect_int(tcmd(c, "SINTERSTORE str k1 k3"), 0); /* empty: the destination goes */
    expect_int(tcmd(c, "EXISTS str"), 0);
    expect_int(tcmd(c, "SUNIONSTORE dst k3"), 3);    /* replaces, without the TTL */
    expect_int(tcmd(c, "TTL dst"), -1);
    expect_int(tcmd(c, "SINTERSTORE dst nokey k3"), 0);
    expect_int(tcmd(c, "EXISTS dst"), 0);

    expect_int(tcmd(c, "SADD k2 a b"), 2);
    expect_int(tcmd(c, "SINTERCARD 2 k1 k2"), 2);
    expect_int(tcmd(c, "SINTERCARD 2 k1 k2 LIMIT 1"), 1);
    expect_int(tcmd(c, "SINTERCARD 2 k1 k2 LIMIT 0"), 2);
    expect_int(tcmd(c, "SINTERCARD 2 k1 nokey"), 0);
    expect_error(tcmd(c, "SINTERCARD 0 k1"), "ERR numkeys should be greater than 0");
    expect_error(tcmd(c, "SINTERCARD x k1"), "ERR numkeys should be greater than 0");
    expect_error(tcmd(c, "SINTERCARD 3 k1 k2"), "ERR Number of keys can't be greater than number of args");
    expect_error(tcmd(c, "SINTERCARD 2 k1 k2 LIMIT -1"), "ERR LIMIT can't be negative");
    expect_error(tcmd(c, "SINTERCARD 2 k1 k2 FOO 1"), "ERR syntax error");
    expect_error(tcmd(c, "SINTERCARD 1 k1 k2"), "ERR syntax error");
}

static void sadd_range(const char *key, const char *prefix, int from, int to)
{
    for (int i = from; i < to; i += 200) {
        char cmd[16384];
        int len = snprintf(cmd, sizeof cmd, "SADD %s", key);
        for (int j = i; j < i + 200 && j < to; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s%d", prefix, j);
        struct rval *v = tcmd(c, "%s", cmd);
        assert_int_equal(v->type, R_INT);
        rval_free(v);
    }
}

static void test_scan(void **state)
{
    (void)state;
    sadd_range("s", "m", 0, 2000);
    char *seen = calloc(2000, 1);
    char cursor[32] = "0";
    do {
        struct rval *v = tcmd(c, "SSCAN s %s COUNT 13", cursor);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        for (size_t i = 0; i < v->elem[1]->n; i++)
            seen[atoi(v->elem[1]->elem[i]->str + 1)] = 1;
        rval_free(v);
    } while (strcmp(cursor, "0") != 0);
    for (int i = 0; i < 2000; i++)
        assert_true(seen[i]);
    free(seen);
    expect_int(tcmd(c, "SADD small 1 2 3 10"), 4);
    struct rval *v = tcmd(c, "SSCAN small 0 MATCH 1*");
    assert_string_equal(v->elem[0]->str, "0");
    expect_members(v->elem[1], "1 10");
    v->elem[1] = NULL;
    v->n = 1;
    rval_free(v);
    expect_error(tcmd(c, "SSCAN s x"), "ERR invalid cursor");
    expect_error(tcmd(c, "SSCAN s 0 COUNT 0"), "ERR syntax error");
}

static void test_encoding(void **state)
{
    (void)state;
    sadd_range("i", "", 0, 512);
    expect_bulk(tcmd(c, "OBJECT ENCODING i"), "intset");
    expect_int(tcmd(c, "SADD i 512"), 1);         /* the 513th */
    expect_bulk(tcmd(c, "OBJECT ENCODING i"), "hashtable");
    expect_int(tcmd(c, "SISMEMBER i 300"), 1);
    expect_int(tcmd(c, "SADD j 1 2"), 2);
    expect_bulk(tcmd(c, "OBJECT ENCODING j"), "intset");
    expect_int(tcmd(c, "SADD j 01"), 1);          /* not the canonical text of an integer */
    if (!target_is_redis()) /* Redis 7.2's listpack; 7.0 goes to hashtable */
        expect_bulk(tcmd(c, "OBJECT ENCODING j"), "listpack");
    expect_members(tcmd(c, "SMEMBERS j"), "1 2 01");
    sadd_range("l", "x", 0, 128);
    if (!target_is_redis())
        expect_bulk(tcmd(c, "OBJECT ENCODING l"), "listpack");
    sadd_range("l", "y", 0, 1);
    expect_bulk(tcmd(c, "OBJECT ENCODING l"), "hashtable");
    expect_int(tcmd(c, "SCARD l"), 129);
    char longm[80];
    memset(longm, 'z', 65);
    longm[65] = 0;
    expect_int(tcmd(c, "SADD m a"), 1);
    expect_int(tcmd(c, "SADD m %s", longm), 1);
    expect_bulk(tcmd(c, "OBJECT ENCODING m"), "hashtable");
    expect_int(tcmd(c, "SISMEMBER m %s", longm), 1);
}

static void test_rename_copy(void **state)
{
    (void)state;
    sadd_range("src", "", 0, 300);
    sadd_range("strs", "s", 0, 300);
    const char *names[] = { "a1", "a2", "a3", "a4" };
    for (int i = 0; i < 4; i++) {
        expect_int(tcmd(c, "COPY src %s", names[i]), 1);
        expect_int(tcmd(c, "SCARD %s", names[i]), 300);
        expect_bulk(tcmd(c, "OBJECT ENCODING %s", names[i]), "intset");
        expect_int(tcmd(c, "SREM %s 7", names[i]), 1);
        expect_int(tcmd(c, "COPY strs %s REPLACE", names[i]), 1);
        expect_int(tcmd(c, "SISMEMBER %s s299", names[i]), 1);
    }
    expect_int(tcmd(c, "SISMEMBER src 7"), 1);
    expect_ok(tcmd(c, "RENAME src b1"));
    expect_ok(tcmd(c, "RENAME b1 b2"));
    expect_ok(tcmd(c, "RENAME b2 b3"));
    expect_int(tcmd(c, "SCARD b3"), 300);
    expect_int(tcmd(c, "EXISTS src b1 b2"), 0);
    /* multi-key commands over keys that land on both shards */
    expect_int(tcmd(c, "SINTERSTORE b4 b3 a1 a2 a3 a4"), 0);
    expect_int(tcmd(c, "SUNIONSTORE b4 b3 a1 a2 a3 a4"), 600);
    expect_int(tcmd(c, "SMOVE b4 a3 42"), 1);
    expect_int(tcmd(c, "SISMEMBER a3 42"), 1);
    expect_int(tcmd(c, "SISMEMBER b4 42"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pop_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_algebra, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_copy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
