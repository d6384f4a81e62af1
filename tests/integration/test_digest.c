/* DEBUG DIGEST, DIGEST-VALUE, PROTOCOL and RELOAD: the digests are the
 * very ones redis-server 7 gives for the same data (a redis-server is
 * started beside the server under test and both get the same commands:
 * every type, in each of its encodings, with expiries), PROTOCOL's replies
 * are Redis's bytes in RESP2 and RESP3, and a RELOAD brings every type back
 * with the same digest. Runs against redis-server too
 * (RINGKV_TEST_TARGET=redis: then both servers are redis-servers). */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
/* the node helpers; not every one is used here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#include "redis_nodes.h"
#pragma GCC diagnostic pop

#define ZEROS "0000000000000000000000000000000000000000"

static const char *const node_args[] = { "--threads", "2", "--enable-debug-command", "yes", NULL };
static const char *const redis_args[] = { "--enable-debug-command", "yes", NULL };

static struct server *start_target(void)
{
    return start_node(target_is_redis() ? redis_args : node_args);
}

/* Run the same command on both and expect the same reply type. */
static void both(tconn *a, tconn *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void both(tconn *a, tconn *b, const char *fmt, ...)
{
    char cmd[65536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    struct rval *x = tcmd(a, "%s", cmd), *y = tcmd(b, "%s", cmd);
    assert_non_null(x);
    assert_non_null(y);
    if (x->type == R_ERROR || x->type != y->type) {
        char *tx = rval_text(x), *ty = rval_text(y);
        fail_msg("%.200s: %s / %s", cmd, tx, ty);
    }
    rval_free(x);
    rval_free(y);
}

/* A command of many words: prefix, then for i in [0, n) the score
 * i * scale (unless 0), the element word<i> and, with pairs, value<i>. */
static void both_many(tconn *a, tconn *b, const char *prefix, int n, const char *word, double scale, bool pairs)
{
    static char cmd[65536];
    int len = snprintf(cmd, sizeof cmd, "%s", prefix);
    for (int i = 0; i < n; i++) {
        if (scale != 0)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %.6f", i * scale);
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s%d", word, i);
        if (pairs)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " value%d", i);
    }
    both(a, b, "%s", cmd);
}

/* The same data of every type and encoding on a and b. */
static void fill(tconn *a, tconn *b)
{
    /* strings: text, integers, a long one, edited in place */
    both(a, b, "SET str hello");
    both(a, b, "SET int 12345");
    both(a, b, "SET neg -77");
    both(a, b, "SET long %0300d", 7);
    both(a, b, "APPEND str -world");
    both(a, b, "INCRBY int 5");
    both(a, b, "SET fl 1.5");
    both(a, b, "INCRBYFLOAT fl 0.1");
    both(a, b, "SETRANGE long 10 abc");
    both(a, b, "SETBIT bits 77 1");
    /* lists: a listpack with integers, a quicklist of many nodes */
    both(a, b, "RPUSH list a b 3 -4 c");
    both(a, b, "LPUSH list first");
    both(a, b, "LINSERT list BEFORE c 99");
    both_many(a, b, "RPUSH biglist", 2000, "element-", 0, false);
    both(a, b, "LSET biglist 1000 changed");
    both(a, b, "LREM biglist 1 element-5");
    /* sets: intset, listpack, hashtable */
    both(a, b, "SADD intset 5 1 3 -10 100000000000");
    both(a, b, "SADD smallset x y z 7");
    both_many(a, b, "SADD bigset", 700, "member:", 0, false);
    both(a, b, "SREM bigset member:3");
    /* sorted sets: a listpack with scores of every kind, a skiplist */
    both(a, b, "ZADD zs 0.1 a 1e-7 b -3 c 1e20 d inf e -inf f 2.5 g 12345678901 h");
    both(a, b, "ZINCRBY zs 0.2 a");
    both(a, b, "ZINCRBY zs 0.1 i");
    both(a, b, "ZINCRBY zs 0.2 i");
    both_many(a, b, "ZADD bigzs", 300, "zm", 0.37, false);
    both(a, b, "ZINCRBY bigzs 0.001 zm7");
    both(a, b, "ZREM bigzs zm8");
    /* hashes: a listpack, a hashtable */
    both(a, b, "HSET hash f v g 17 h -1.5");
    both(a, b, "HINCRBYFLOAT hash h 0.25");
    both(a, b, "HINCRBY hash g 3");
    both_many(a, b, "HSET bighash", 200, "field", 0, true);
    both(a, b, "HDEL bighash field0");
    /* streams: a few entries, one deleted; a long one of several nodes */
    both(a, b, "XADD st 1-1 name ann age 30");
    both(a, b, "XADD st 1-2 name bob");
    both(a, b, "XADD st 5-0 a 1 b 2 c 3");
    both(a, b, "XDEL st 1-2");
    both(a, b, "XGROUP CREATE st grp 0");
    for (int i = 1; i <= 300; i++)
        both(a, b, "XADD bigst %d-0 field value%d other %d", i, i, i * 7);
    both(a, b, "XTRIM bigst MAXLEN 250");
    /* expiries: the digest says whether a key has one, not when */
    both(a, b, "SET tmp1 v EX 10000");
    both(a, b, "EXPIRE list 10000");
    both(a, b, "PEXPIRE bigzs 100000000");
    both(a, b, "EXPIRE bighash 10000");
    both(a, b, "SET tmp2 v EX 10000");
    both(a, b, "PERSIST tmp2");
    /* keys that share a hash tag and keys all over */
    for (int i = 0; i < 40; i++)
        both(a, b, "SET {tag}k%d %d", i, i * 3);
}

static const char *const all_keys =
    "str int neg long fl bits list biglist intset smallset bigset zs bigzs hash bighash st bigst tmp1 tmp2 "
    "{tag}k0 {tag}k39 nosuchkey";

static void expect_same(tconn *a, tconn *b)
{
    char *da = debug_digest(a), *db = debug_digest(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    struct rval *x = tcmd(a, "DEBUG DIGEST-VALUE %s", all_keys), *y = tcmd(b, "DEBUG DIGEST-VALUE %s", all_keys);
    assert_int_equal(x->type, R_ARRAY);
    assert_int_equal(y->type, R_ARRAY);
    assert_int_equal(x->n, y->n);
    for (size_t i = 0; i < x->n; i++) {
        assert_int_equal(x->elem[i]->type, R_STATUS);
        if (strcmp(x->elem[i]->str, y->elem[i]->str) != 0)
            fail_msg("DIGEST-VALUE of key %zu differs: %s / %s", i, x->elem[i]->str, y->elem[i]->str);
    }
    rval_free(x);
    rval_free(y);
}

/* The same commands on the server under test and on a redis-server: the
 * same digests, of the dataset and of each value. */
static void test_digest_same_as_redis(void **state)
{
    (void)state;
    struct server *t = start_target();
    struct server *r = start_redis(redis_args);
    tconn *a = tconnect(t->port), *b = tconnect(r->port);
    expect_status(tcmd(a, "DEBUG DIGEST"), ZEROS);
    expect_status(tcmd(b, "DEBUG DIGEST"), ZEROS);
    fill(a, b);
    expect_same(a, b);
    char *before = debug_digest(a);
    /* a change anywhere changes it; putting it back restores it */
    both(a, b, "ZADD bigzs 1000 zm8");
    char *changed = debug_digest(a);
    assert_string_not_equal(before, changed);
    expect_same(a, b);
    both(a, b, "ZREM bigzs zm8");
    char *back = debug_digest(a);
    assert_string_equal(before, back);
    /* the order of a list counts, the order of a set's members does not */
    both(a, b, "RPUSH l2 x y");
    both(a, b, "RPUSH l3 y x");
    both(a, b, "SADD s2 x y");
    both(a, b, "SADD s3 y x");
    struct rval *v = tcmd(a, "DEBUG DIGEST-VALUE l2 l3 s2 s3");
    assert_int_equal(v->n, 4);
    assert_string_not_equal(v->elem[0]->str, v->elem[1]->str);
    assert_string_equal(v->elem[2]->str, v->elem[3]->str);
    rval_free(v);
    expect_same(a, b);
    /* DIGEST-VALUE of no key, of a missing key; DIGEST takes no argument */
    v = tcmd(a, "DEBUG DIGEST-VALUE");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 0);
    rval_free(v);
    v = tcmd(a, "DEBUG DIGEST-VALUE nosuchkey");
    assert_int_equal(v->n, 1);
    assert_string_equal(v->elem[0]->str, ZEROS);
    rval_free(v);
    expect_error(tcmd(a, "DEBUG DIGEST x"),
                 "ERR unknown subcommand or wrong number of arguments for 'DIGEST'. Try DEBUG HELP.");
    both(a, b, "FLUSHALL");
    expect_status(tcmd(a, "DEBUG DIGEST"), ZEROS);
    free(before);
    free(changed);
    free(back);
    tclose(a);
    tclose(b);
    node_stop(r);
    node_stop(t);
}

/* A key past its time counts until it is removed, as Redis's digest walks
 * the keys held (the sweep off, a read removes it). */
static void test_digest_expired_key(void **state)
{
    (void)state;
    struct server *t = start_target();
    struct server *r = start_redis(redis_args);
    tconn *a = tconnect(t->port), *b = tconnect(r->port);
    both(a, b, "DEBUG SET-ACTIVE-EXPIRE 0");
    both(a, b, "SET gone v PX 50");
    both(a, b, "SET stay v");
    usleep(200 * 1000);
    expect_same(a, b);
    struct rval *v = tcmd(a, "DEBUG DIGEST-VALUE gone");
    assert_string_not_equal(v->elem[0]->str, ZEROS);
    rval_free(v);
    char *held = debug_digest(a);
    both(a, b, "GET gone"); /* removed now */
    char *after = debug_digest(a);
    assert_string_not_equal(held, after);
    expect_same(a, b);
    both(a, b, "DEBUG SET-ACTIVE-EXPIRE 1");
    free(held);
    free(after);
    tclose(a);
    tclose(b);
    node_stop(r);
    node_stop(t);
}

/* ---- RELOAD ---- */

/* Every type survives a DEBUG RELOAD with the same digest (the redis-server
 * beside it, which holds the same data, is not reloaded: still the same
 * digests); the options as Redis's. */
static void test_reload(void **state)
{
    (void)state;
    struct server *t = start_target();
    struct server *r = start_redis(redis_args);
    tconn *a = tconnect(t->port), *b = tconnect(r->port);
    fill(a, b);
    char *before = debug_digest(a);
    long long keys = get_int(tcmd(a, "DBSIZE"));
    expect_ok(tcmd(a, "DEBUG RELOAD"));
    char *after = debug_digest(a);
    assert_string_equal(before, after);
    assert_int_equal(get_int(tcmd(a, "DBSIZE")), keys);
    expect_same(a, b);
    /* values read back as they were written */
    expect_bulk(tcmd(a, "GET str"), "hello-world");
    expect_int(tcmd(a, "LLEN biglist"), 1999);
    expect_bulk(tcmd(a, "OBJECT ENCODING bigzs"), "skiplist");
    expect_int(tcmd(a, "XLEN bigst"), 250);
    assert_true(get_int(tcmd(a, "TTL tmp1")) > 9000);
    expect_int(tcmd(a, "TTL tmp2"), -1);
    /* the connection and the others go on writing */
    expect_ok(tcmd(a, "SET after reload"));
    expect_bulk(tcmd(a, "GET after"), "reload");
    /* NOSAVE: the file as it was, the key set since is gone */
    expect_ok(tcmd(a, "DEBUG RELOAD NOSAVE"));
    expect_nil(tcmd(a, "GET after"));
    free(after);
    after = debug_digest(a);
    assert_string_equal(before, after);
    /* NOFLUSH MERGE: the file's keys over what is here, the others kept */
    expect_ok(tcmd(a, "SET str changed"));
    expect_ok(tcmd(a, "SET extra 1"));
    expect_ok(tcmd(a, "DEBUG RELOAD NOSAVE NOFLUSH MERGE"));
    expect_bulk(tcmd(a, "GET str"), "hello-world");
    expect_bulk(tcmd(a, "GET extra"), "1");
    assert_int_equal(get_int(tcmd(a, "DBSIZE")), keys + 1);
    expect_error(tcmd(a, "DEBUG RELOAD NOW"), "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
    /* an empty data set reloads empty */
    expect_ok(tcmd(a, "FLUSHALL"));
    expect_ok(tcmd(a, "DEBUG RELOAD"));
    expect_status(tcmd(a, "DEBUG DIGEST"), ZEROS);
    assert_int_equal(get_int(tcmd(a, "DBSIZE")), 0);
    free(before);
    free(after);
    tclose(a);
    tclose(b);
    node_stop(r); /* their files removed with them */
    node_stop(t);
}

/* ---- several databases ---- */

/* The same data in databases 0, 2 and 9 here and on a redis-server: the
 * same DEBUG DIGEST (Redis mixes each database's number in); the same data
 * in another database has another digest; DIGEST-VALUE reads the
 * connection's database; DEBUG RELOAD keeps each key in its database. */
static void test_databases(void **state)
{
    (void)state;
    struct server *t = start_target();
    struct server *r = start_redis(redis_args);
    tconn *a = tconnect(t->port), *b = tconnect(r->port);
    fill(a, b);
    char *only0 = debug_digest(a);
    both(a, b, "SELECT 2");
    both(a, b, "SET str db2");
    both(a, b, "HSET hash f 2");
    both(a, b, "ZADD zs 2 a");
    for (int i = 0; i < 30; i++)
        both(a, b, "RPUSH l%d %d", i, i);
    both(a, b, "SELECT 9");
    both(a, b, "SET tmp v EX 10000");
    both(a, b, "SADD st 9");
    both(a, b, "SELECT 0");
    expect_same(a, b);
    char *three = debug_digest(a);
    assert_string_not_equal(only0, three);
    /* DIGEST-VALUE in the connection's database */
    both(a, b, "SELECT 2");
    struct rval *x = tcmd(a, "DEBUG DIGEST-VALUE str nosuchkey"), *y = tcmd(b, "DEBUG DIGEST-VALUE str nosuchkey");
    assert_int_equal(x->n, 2);
    assert_string_equal(x->elem[0]->str, y->elem[0]->str);
    assert_string_equal(x->elem[1]->str, ZEROS);
    struct rval *v0 = tcmd(a, "DEBUG DIGEST-VALUE l0");
    assert_string_not_equal(v0->elem[0]->str, ZEROS);
    rval_free(v0);
    rval_free(x);
    rval_free(y);
    /* the keys of database 9 in database 8 instead: another digest, as Redis's */
    both(a, b, "SELECT 9");
    both(a, b, "FLUSHDB");
    both(a, b, "SELECT 8");
    both(a, b, "SET tmp v EX 10000");
    both(a, b, "SADD st 9");
    both(a, b, "SELECT 0");
    char *moved = debug_digest(a), *moved_redis = debug_digest(b);
    assert_string_equal(moved, moved_redis);
    assert_string_not_equal(moved, three);
    /* DEBUG RELOAD from database 2: every database as it was */
    both(a, b, "SELECT 2");
    expect_ok(tcmd(a, "DEBUG RELOAD"));
    expect_bulk(tcmd(a, "GET str"), "db2");
    char *reloaded = debug_digest(a);
    assert_string_equal(moved, reloaded);
    expect_ok(tcmd(a, "SELECT 8"));
    assert_true(get_int(tcmd(a, "TTL tmp")) > 9000);
    expect_ok(tcmd(a, "SELECT 0"));
    expect_bulk(tcmd(a, "GET str"), "hello-world");
    free(only0);
    free(three);
    free(moved);
    free(moved_redis);
    free(reloaded);
    tclose(a);
    tclose(b);
    node_stop(r);
    node_stop(t);
}

/* ---- PROTOCOL ---- */

/* Send a command and read exactly the bytes want (fails on anything else
 * within 5 s). */
static void expect_raw(tconn *c, const char *cmd, const char *want)
{
    tsend_raw(c, cmd, strlen(cmd));
    size_t n = strlen(want), got = 0;
    char buf[1024];
    long long deadline = now_ms() + 5000;
    while (got < n && now_ms() < deadline) {
        struct pollfd p = { tfd(c), POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(tfd(c), buf + got, sizeof buf - got - 1);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = 0;
    if (got != n || memcmp(buf, want, n) != 0)
        fail_msg("%s: got '%s', want '%s'", cmd, buf, want);
}

#define PROTO(t) "DEBUG PROTOCOL " t "\r\n"

static void test_protocol(void **state)
{
    (void)state;
    struct server *t = start_target();
    tconn *c = tconnect(t->port);
    /* RESP2 */
    expect_raw(c, PROTO("string"), "$11\r\nHello World\r\n");
    expect_raw(c, PROTO("integer"), ":12345\r\n");
    expect_raw(c, PROTO("double"), "$5\r\n3.141\r\n");
    expect_raw(c, PROTO("bignum"), "$37\r\n1234567999999999999999999999999999999\r\n");
    expect_raw(c, PROTO("null"), "$-1\r\n");
    expect_raw(c, PROTO("array"), "*3\r\n:0\r\n:1\r\n:2\r\n");
    expect_raw(c, PROTO("set"), "*3\r\n:0\r\n:1\r\n:2\r\n");
    expect_raw(c, PROTO("map"), "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n");
    expect_raw(c, PROTO("attrib"), "$39\r\nSome real reply following the attribute\r\n");
    expect_raw(c, PROTO("push"), "-ERR RESP2 is not supported by this command\r\n");
    expect_raw(c, PROTO("verbatim"), "$25\r\nThis is a verbatim\nstring\r\n");
    expect_raw(c, PROTO("true"), ":1\r\n");
    expect_raw(c, PROTO("FALSE"), ":0\r\n");
    expect_raw(c, PROTO("bogus"), "-ERR Wrong protocol type name. Please use one of the following: "
                                  "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false\r\n");
    expect_raw(c, "DEBUG PROTOCOL\r\n",
               "-ERR unknown subcommand or wrong number of arguments for 'PROTOCOL'. Try DEBUG HELP.\r\n");
    /* RESP3 */
    struct rval *v = tcmd(c, "HELLO 3");
    rval_free(v);
    expect_raw(c, PROTO("string"), "$11\r\nHello World\r\n");
    expect_raw(c, PROTO("integer"), ":12345\r\n");
    expect_raw(c, PROTO("double"), ",3.141\r\n");
    expect_raw(c, PROTO("bignum"), "(1234567999999999999999999999999999999\r\n");
    expect_raw(c, PROTO("null"), "_\r\n");
    expect_raw(c, PROTO("array"), "*3\r\n:0\r\n:1\r\n:2\r\n");
    expect_raw(c, PROTO("set"), "~3\r\n:0\r\n:1\r\n:2\r\n");
    expect_raw(c, PROTO("map"), "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n");
    expect_raw(c, PROTO("attrib"), "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
                                   "$39\r\nSome real reply following the attribute\r\n");
    expect_raw(c, PROTO("push"), ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"
                                 "$40\r\nSome real reply following the push reply\r\n");
    expect_raw(c, PROTO("verbatim"), "=29\r\ntxt:This is a verbatim\nstring\r\n");
    expect_raw(c, PROTO("true"), "#t\r\n");
    expect_raw(c, PROTO("false"), "#f\r\n");
    /* the connection goes on */
    expect_raw(c, "PING\r\n", "+PONG\r\n");
    tclose(c);
    node_stop(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_digest_same_as_redis, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_digest_expired_key, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_reload, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_databases, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_protocol, redis_nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
