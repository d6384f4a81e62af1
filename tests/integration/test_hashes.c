/* Hashes against a running server, with Redis 7's replies and errors (the
 * same test runs against redis-server with RINGKV_TEST_TARGET=redis):
 * HSET HSETNX HGET HMGET HMSET HGETALL HDEL HEXISTS HLEN HSTRLEN HKEYS HVALS
 * HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN; -WRONGTYPE both ways between
 * strings and hashes; TYPE, SCAN TYPE, OBJECT ENCODING (listpack ->
 * hashtable past hash-max-listpack-entries/-value), EXPIRE/TTL/PERSIST,
 * RENAME/COPY (keys on two shards), memory given back when a big hash is
 * deleted. */
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
    expect_ok(tcmd(c, "CONFIG SET hash-max-listpack-entries 128"));
    expect_ok(tcmd(c, "CONFIG SET hash-max-listpack-value 64"));
    return 0;
}
static int teardown(void **state) { (void)state; tclose(c); c = NULL; return 0; }

/* v is an array (or map) whose elements, as text, are exactly the words of
 * `want` in that order; frees v. */
static void expect_words(struct rval *v, const char *want)
{
    char *text = rval_text(v);
    assert_non_null(v);
    assert_true(v->type == R_ARRAY || v->type == R_MAP || v->type == R_SET);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", want);
    size_t i = 0;
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " "), i++) {
        if (i >= v->n)
            fail_msg("reply %s is shorter than '%s'", text, want);
        if (strcmp(w, "(nil)") == 0)
            assert_int_equal(v->elem[i]->type, R_NIL);
        else if (v->elem[i]->type != R_BULK || strcmp(v->elem[i]->str, w) != 0)
            fail_msg("reply %s differs from '%s' at %zu", text, want, i);
    }
    if (i != v->n)
        fail_msg("reply %s is longer than '%s'", text, want);
    free(text);
    rval_free(v);
}

static long long used_memory(void)
{
    struct rval *v = tcmd(c, "INFO memory");
    assert_int_equal(v->type == R_VERBATIM || v->type == R_BULK, 1);
    const char *p = strstr(v->str, "used_memory:");
    assert_non_null(p);
    long long m = atoll(p + strlen("used_memory:"));
    rval_free(v);
    return m;
}

static void test_set_get(void **state)
{
    (void)state;
    expect_int(tcmd(c, "HSET h f1 v1 f2 v2"), 2);
    expect_int(tcmd(c, "HSET h f1 x f3 v3"), 1);  /* f1 updated, f3 new */
    expect_bulk(tcmd(c, "HGET h f1"), "x");
    expect_nil(tcmd(c, "HGET h nofield"));
    expect_nil(tcmd(c, "HGET nokey f"));
    expect_words(tcmd(c, "HMGET h f1 nofield f3"), "x (nil) v3");
    expect_words(tcmd(c, "HMGET nokey a b"), "(nil) (nil)");
    expect_words(tcmd(c, "HGETALL h"), "f1 x f2 v2 f3 v3");
    expect_words(tcmd(c, "HKEYS h"), "f1 f2 f3");
    expect_words(tcmd(c, "HVALS h"), "x v2 v3");
    expect_words(tcmd(c, "HGETALL nokey"), "");
    expect_words(tcmd(c, "HKEYS nokey"), "");
    expect_int(tcmd(c, "HLEN h"), 3);
    expect_int(tcmd(c, "HLEN nokey"), 0);
    expect_int(tcmd(c, "HEXISTS h f2"), 1);
    expect_int(tcmd(c, "HEXISTS h nofield"), 0);
    expect_int(tcmd(c, "HEXISTS nokey f"), 0);
    expect_int(tcmd(c, "HSTRLEN h f2"), 2);
    expect_int(tcmd(c, "HSTRLEN h nofield"), 0);
    expect_int(tcmd(c, "HSTRLEN nokey f"), 0);
    expect_int(tcmd(c, "HSETNX h f1 y"), 0);
    expect_int(tcmd(c, "HSETNX h f4 y"), 1);
    expect_int(tcmd(c, "HSETNX newh a b"), 1);
    expect_bulk(tcmd(c, "HGET newh a"), "b");
    expect_ok(tcmd(c, "HMSET m a 1 b 2"));
    expect_words(tcmd(c, "HGETALL m"), "a 1 b 2");
    expect_error(tcmd(c, "HSET h f1"), "ERR wrong number of arguments for 'hset' command");
    expect_error(tcmd(c, "HSET h f1 v1 f2"), "ERR wrong number of arguments for 'hset' command");
    expect_error(tcmd(c, "HMSET h f1 v1 f2"), "ERR wrong number of arguments for 'hmset' command");
    expect_error(tcmd(c, "HGET h"), "ERR wrong number of arguments for 'hget' command");
    expect_error(tcmd(c, "HSETNX h a"), "ERR wrong number of arguments for 'hsetnx' command");
}

static void test_del(void **state)
{
    (void)state;
    expect_int(tcmd(c, "HSET h a 1 b 2 c 3"), 3);
    expect_int(tcmd(c, "HDEL h a nofield a"), 1);
    expect_int(tcmd(c, "HDEL nokey a"), 0);
    expect_int(tcmd(c, "HLEN h"), 2);
    expect_int(tcmd(c, "HDEL h b c"), 2);
    expect_int(tcmd(c, "EXISTS h"), 0);       /* the last field takes the key */
    expect_status(tcmd(c, "TYPE h"), "none");
    expect_error(tcmd(c, "HDEL h"), "ERR wrong number of arguments for 'hdel' command");
}

static void test_wrongtype(void **state)
{
    (void)state;
    const char *wt = "WRONGTYPE Operation against a key holding the wrong kind of value";
    expect_int(tcmd(c, "HSET h f v"), 1);
    expect_error(tcmd(c, "GET h"), wt);
    expect_error(tcmd(c, "APPEND h x"), wt);
    expect_error(tcmd(c, "INCR h"), wt);
    expect_error(tcmd(c, "INCRBYFLOAT h 1.5"), wt);
    expect_error(tcmd(c, "SETRANGE h 0 x"), wt);
    expect_error(tcmd(c, "GETRANGE h 0 -1"), wt);
    expect_error(tcmd(c, "STRLEN h"), wt);
    expect_error(tcmd(c, "GETSET h x"), wt);
    expect_error(tcmd(c, "GETDEL h"), wt);
    expect_error(tcmd(c, "GETEX h"), wt);
    expect_error(tcmd(c, "SETBIT h 1 1"), wt);
    expect_error(tcmd(c, "GETBIT h 1"), wt);
    expect_error(tcmd(c, "BITCOUNT h"), wt);
    expect_error(tcmd(c, "SET h x GET"), wt);
    expect_words(tcmd(c, "MGET h"), "(nil)");
    expect_int(tcmd(c, "HLEN h"), 1);          /* untouched by the refused writes */
    expect_ok(tcmd(c, "SET h x"));             /* SET replaces any type */
    expect_bulk(tcmd(c, "GET h"), "x");
    expect_status(tcmd(c, "TYPE h"), "string");
    expect_error(tcmd(c, "HSET h f v"), wt);
    expect_error(tcmd(c, "HGET h f"), wt);
    expect_error(tcmd(c, "HMGET h f"), wt);
    expect_error(tcmd(c, "HGETALL h"), wt);
    expect_error(tcmd(c, "HDEL h f"), wt);
    expect_error(tcmd(c, "HLEN h"), wt);
    expect_error(tcmd(c, "HEXISTS h f"), wt);
    expect_error(tcmd(c, "HSTRLEN h f"), wt);
    expect_error(tcmd(c, "HKEYS h"), wt);
    expect_error(tcmd(c, "HVALS h"), wt);
    expect_error(tcmd(c, "HINCRBY h f 1"), wt);
    expect_error(tcmd(c, "HINCRBYFLOAT h f 1"), wt);
    expect_error(tcmd(c, "HSETNX h f v"), wt);
    expect_error(tcmd(c, "HRANDFIELD h"), wt);
    expect_error(tcmd(c, "HSCAN h 0"), wt);
}

static void test_incr(void **state)
{
    (void)state;
    expect_int(tcmd(c, "HINCRBY h n 5"), 5);
    expect_int(tcmd(c, "HINCRBY h n -7"), -2);
    expect_error(tcmd(c, "HINCRBY h n x"), "ERR value is not an integer or out of range");
    expect_int(tcmd(c, "HSET h s abc big 9223372036854775807 f 1.5"), 3);
    expect_error(tcmd(c, "HINCRBY h s 1"), "ERR hash value is not an integer");
    expect_error(tcmd(c, "HINCRBY h big 1"), "ERR increment or decrement would overflow");
    expect_error(tcmd(c, "HINCRBY h f 1"), "ERR hash value is not an integer");
    expect_bulk(tcmd(c, "HINCRBYFLOAT h f 0.25"), "1.75");
    expect_bulk(tcmd(c, "HINCRBYFLOAT h g 3"), "3");
    expect_bulk(tcmd(c, "HINCRBYFLOAT h n 1.0e1"), "8");
    expect_bulk(tcmd(c, "HGET h n"), "8");
    expect_error(tcmd(c, "HINCRBYFLOAT h s 1"), "ERR hash value is not a float");
    expect_error(tcmd(c, "HINCRBYFLOAT h f x"), "ERR value is not a valid float");
    expect_error(tcmd(c, "HINCRBYFLOAT h f inf"), "ERR value is NaN or Infinity");
    expect_int(tcmd(c, "EXISTS nokey"), 0);
    expect_error(tcmd(c, "HINCRBY nokey f x"), "ERR value is not an integer or out of range");
    expect_int(tcmd(c, "EXISTS nokey"), 0);
}

static void fill(const char *key, int from, int to);

static void test_randfield(void **state)
{
    (void)state;
    expect_nil(tcmd(c, "HRANDFIELD nokey"));
    expect_words(tcmd(c, "HRANDFIELD nokey 3"), "");
    expect_int(tcmd(c, "HSET h a 1 b 2 c 3"), 3);
    struct rval *v = tcmd(c, "HRANDFIELD h");
    assert_int_equal(v->type, R_BULK);
    assert_true(strchr("abc", v->str[0]) && v->len == 1);
    rval_free(v);
    v = tcmd(c, "HRANDFIELD h 2");             /* distinct */
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_string_not_equal(v->elem[0]->str, v->elem[1]->str);
    rval_free(v);
    v = tcmd(c, "HRANDFIELD h 10");            /* all of them, once */
    assert_int_equal(v->n, 3);
    rval_free(v);
    v = tcmd(c, "HRANDFIELD h -10");           /* with repetitions */
    assert_int_equal(v->n, 10);
    rval_free(v);
    v = tcmd(c, "HRANDFIELD h -4 WITHVALUES"); /* RESP2: field, value, ... */
    assert_int_equal(v->n, 8);
    for (size_t i = 0; i < 8; i += 2)
        assert_int_equal(v->elem[i + 1]->str[0] - '0', v->elem[i]->str[0] - 'a' + 1);
    rval_free(v);
    v = tcmd(c, "HRANDFIELD h 2 withvalues");
    assert_int_equal(v->n, 4);
    rval_free(v);
    expect_words(tcmd(c, "HRANDFIELD h 0"), "");
    expect_error(tcmd(c, "HRANDFIELD h 1 WITHVALUES x"), "ERR syntax error");
    expect_error(tcmd(c, "HRANDFIELD h 1 foo"), "ERR syntax error");
    expect_error(tcmd(c, "HRANDFIELD h x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "HRANDFIELD h 9223372036854775807 WITHVALUES"), "ERR value is out of range");
    /* a few distinct fields of a big hash (sampled, not shuffled whole) */
    fill("rbig", 0, 3000);
    for (int round = 0; round < 20; round++) {
        v = tcmd(c, "HRANDFIELD rbig 50 WITHVALUES");
        assert_int_equal(v->n, 100);
        char seen[3000] = { 0 };
        for (size_t i = 0; i < v->n; i += 2) {
            int f = atoi(v->elem[i]->str + 1);
            assert_true(f >= 0 && f < 3000 && !seen[f]);
            seen[f] = 1;
            assert_int_equal(atoi(v->elem[i + 1]->str + 1), f);
        }
        rval_free(v);
    }
    if (!target_is_redis()) { /* Redis would build the reply until its memory runs out */
        expect_error(tcmd(c, "HRANDFIELD h -4611686018427387904"), "ERR value is out of range");
        expect_error(tcmd(c, "HRANDFIELD h -16777217"), "ERR value is out of range");
        expect_int(tcmd(c, "HLEN h"), 3);
    }
}

/* A full HSCAN returns every field at least once, and each with its value. */
static void scan_all(const char *key, int nfields, const char *match, int want_matches)
{
    char *seen = calloc((size_t)nfields, 1);
    char cursor[32] = "0";
    int rounds = 0;
    do {
        struct rval *v = match ? tcmd(c, "HSCAN %s %s MATCH %s COUNT 7", key, cursor, match)
                               : tcmd(c, "HSCAN %s %s COUNT 7", key, cursor);
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 2);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        struct rval *items = v->elem[1];
        assert_int_equal(items->n % 2, 0);
        for (size_t i = 0; i < items->n; i += 2) {
            int f = atoi(items->elem[i]->str + 1), val = atoi(items->elem[i + 1]->str + 1);
            assert_true(f >= 0 && f < nfields);
            assert_int_equal(f, val);
            seen[f] = 1;
        }
        rval_free(v);
        assert_true(++rounds < 100000);
    } while (strcmp(cursor, "0") != 0);
    int n = 0;
    for (int i = 0; i < nfields; i++)
        n += seen[i];
    assert_int_equal(n, want_matches);
    free(seen);
}

static void fill(const char *key, int from, int to)
{
    for (int i = from; i < to; i += 100) {
        char cmd[8192];
        int len = snprintf(cmd, sizeof cmd, "HSET %s", key);
        for (int j = i; j < i + 100 && j < to; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " f%d v%d", j, j);
        struct rval *v = tcmd(c, "%s", cmd);
        assert_int_equal(v->type, R_INT);
        rval_free(v);
    }
}

static void test_scan(void **state)
{
    (void)state;
    struct rval *v = tcmd(c, "HSCAN nokey 0");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, "0");
    assert_int_equal(v->elem[1]->n, 0);
    rval_free(v);
    fill("small", 0, 20);
    scan_all("small", 20, NULL, 20);
    scan_all("small", 20, "f1*", 11);
    fill("big", 0, 1000);
    scan_all("big", 1000, NULL, 1000);
    scan_all("big", 1000, "f9?", 10);
    expect_error(tcmd(c, "HSCAN big x"), "ERR invalid cursor");
    expect_error(tcmd(c, "HSCAN big 0 COUNT 0"), "ERR syntax error");
    expect_error(tcmd(c, "HSCAN big 0 COUNT x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "HSCAN big 0 FOO 1"), "ERR syntax error");
}

static void test_encoding(void **state)
{
    (void)state;
    fill("h", 0, 128);
    expect_bulk(tcmd(c, "OBJECT ENCODING h"), "listpack");
    fill("h", 128, 129);                        /* the 129th field */
    expect_bulk(tcmd(c, "OBJECT ENCODING h"), "hashtable");
    expect_int(tcmd(c, "HLEN h"), 129);
    expect_bulk(tcmd(c, "HGET h f77"), "v77");
    expect_int(tcmd(c, "HSET v short x"), 1);
    expect_bulk(tcmd(c, "OBJECT ENCODING v"), "listpack");
    char longv[80];
    memset(longv, 'x', 65);
    longv[65] = '\0';
    expect_int(tcmd(c, "HSET v long %s", longv), 1); /* a value past 64 bytes */
    expect_bulk(tcmd(c, "OBJECT ENCODING v"), "hashtable");
    expect_bulk(tcmd(c, "HGET v long"), longv);
    expect_ok(tcmd(c, "CONFIG SET hash-max-ziplist-entries 4")); /* the old name */
    struct rval *r = tcmd(c, "CONFIG GET hash-max-listpack-entries");
    assert_int_equal(r->n, 2);
    assert_string_equal(r->elem[1]->str, "4");
    rval_free(r);
    fill("w", 0, 4);
    expect_bulk(tcmd(c, "OBJECT ENCODING w"), "listpack");
    fill("w", 4, 5);
    expect_bulk(tcmd(c, "OBJECT ENCODING w"), "hashtable");
    expect_int(tcmd(c, "HDEL w f0 f1 f2 f3"), 4);
    expect_bulk(tcmd(c, "OBJECT ENCODING w"), "hashtable"); /* never back */
    expect_ok(tcmd(c, "SET s 12345"));
    expect_bulk(tcmd(c, "OBJECT ENCODING s"), "int");
    expect_ok(tcmd(c, "SET s abc"));
    expect_bulk(tcmd(c, "OBJECT ENCODING s"), "embstr");
    expect_nil(tcmd(c, "OBJECT ENCODING nokey"));
}

static void test_keyspace(void **state)
{
    (void)state;
    expect_int(tcmd(c, "HSET h a 1"), 1);
    expect_ok(tcmd(c, "SET s x"));
    expect_status(tcmd(c, "TYPE h"), "hash");
    struct rval *v = tcmd(c, "SCAN 0 TYPE hash COUNT 1000");
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
    size_t found = v->elem[1]->n;
    rval_free(v);
    while (strcmp(cursor, "0") != 0) {
        v = tcmd(c, "SCAN %s TYPE hash COUNT 1000", cursor);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        found += v->elem[1]->n;
        rval_free(v);
    }
    assert_int_equal(found, 1);
    expect_words(tcmd(c, "KEYS h"), "h");
    expect_int(tcmd(c, "EXISTS h s"), 2);
    expect_int(tcmd(c, "EXPIRE h 100"), 1);
    long long ttl = get_int(tcmd(c, "TTL h"));
    assert_true(ttl > 95 && ttl <= 100);
    expect_int(tcmd(c, "PERSIST h"), 1);
    expect_int(tcmd(c, "TTL h"), -1);
    expect_int(tcmd(c, "PEXPIRE h 50"), 1);
    usleep(150 * 1000);
    expect_int(tcmd(c, "EXISTS h"), 0);
    expect_nil(tcmd(c, "HGET h a"));

    /* RENAME and COPY of hashes, to names on either shard */
    fill("src", 0, 200);
    expect_int(tcmd(c, "EXPIRE src 1000"), 1);
    const char *names[] = { "d1", "d2", "d3", "d4", "{src}d" };
    for (int i = 0; i < 5; i++) {
        expect_int(tcmd(c, "COPY src %s", names[i]), 1);
        expect_int(tcmd(c, "HLEN %s", names[i]), 200);
        expect_bulk(tcmd(c, "HGET %s f123", names[i]), "v123");
        assert_true(get_int(tcmd(c, "TTL %s", names[i])) > 990);
        expect_int(tcmd(c, "HSET %s f1 changed", names[i]), 0);
    }
    expect_bulk(tcmd(c, "HGET src f1"), "v1");  /* a copy, not shared */
    expect_ok(tcmd(c, "RENAME src r1"));
    expect_int(tcmd(c, "EXISTS src"), 0);
    expect_int(tcmd(c, "HLEN r1"), 200);
    for (int i = 0; i < 4; i++) {
        expect_ok(tcmd(c, "RENAME %s r%d", i == 0 ? "r1" : names[i], i + 2));
        expect_int(tcmd(c, "HLEN r%d", i + 2), 200);
    }
    expect_ok(tcmd(c, "SET small 1"));
    expect_int(tcmd(c, "HSET lp a 1"), 1);
    expect_int(tcmd(c, "COPY lp small"), 0);
    expect_int(tcmd(c, "COPY lp small REPLACE"), 1);
    expect_words(tcmd(c, "HGETALL small"), "a 1");
    expect_bulk(tcmd(c, "OBJECT ENCODING small"), "listpack");
    expect_int(tcmd(c, "DEL r5 small lp"), 3);
}

/* A big hash's memory comes back when it is deleted (freed in slices over
 * the following turns: poll), and is counted while it lives. */
static void test_memory(void **state)
{
    (void)state;
    long long base = used_memory();
    fill("big", 0, 20000);
    long long full = used_memory();
    assert_true(full - base > 20000 * 20);
    expect_int(tcmd(c, "DEL big"), 1);
    long long now = full;
    /* a deadline, not a speed: 10 s (the ASan build on a loaded machine
     * frees the slices and ticks the figure far slower than 2 s) */
    for (int i = 0; i < 500 && now - base > 20000 * 5; i++) {
        usleep(20 * 1000);
        now = used_memory();
    }
    assert_true(now - base < 20000 * 5);
    fill("big", 0, 20000);
    expect_ok(tcmd(c, "FLUSHALL"));
    for (int i = 0; i < 500 && (now = used_memory()) - base > 20000 * 5; i++)
        usleep(20 * 1000);
    assert_true(now - base < 20000 * 5);
}

/* maxmemory holds with hashes: noeviction refuses HSET with -OOM, and
 * allkeys-lru evicts whole hashes to stay near the limit. */
static void test_maxmemory(void **state)
{
    (void)state;
    long long base = used_memory();
    long long limit = base + 2 * 1024 * 1024;
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy noeviction"));
    expect_ok(tcmd(c, "CONFIG SET maxmemory %lld", limit));
    int i = 0;
    struct rval *v = NULL;
    for (; i < 100000; i++) {
        char key[32];
        snprintf(key, sizeof key, "mm:%d", i);
        v = tcmd(c, "HSET %s a 0123456789012345678901234567890123456789 b 0123456789012345678901234567890123456789 "
                    "c 0123456789012345678901234567890123456789 d 0123456789012345678901234567890123456789",
                 key);
        if (v->type == R_ERROR)
            break;
        rval_free(v);
        v = NULL;
    }
    assert_non_null(v);
    expect_error(v, "OOM command not allowed when used memory > 'maxmemory'.");
    assert_true(i > 1000);
    assert_true(used_memory() < limit + limit / 10);
    expect_int(tcmd(c, "HDEL mm:1 a"), 1);      /* not DENYOOM */

    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy allkeys-lru"));
    for (int k = 0; k < 3; k++)
        fill("lru-big", k * 10000, k * 10000 + 10000);
    for (int k = 0; k < 20000; k++) {
        v = tcmd(c, "HSET lru:%d f 0123456789012345678901234567890123456789", k);
        assert_int_equal(v->type, R_INT);
        rval_free(v);
    }
    assert_true(used_memory() < limit + limit / 10);
    expect_ok(tcmd(c, "CONFIG SET maxmemory 0"));
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy noeviction"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randfield, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyspace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maxmemory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
