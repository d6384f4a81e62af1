/* Keyspace commands against a running server: DEL UNLINK EXISTS TOUCH TYPE
 * RENAME RENAMENX COPY, the EXPIRE family with NX XX GT LT, TTL and friends,
 * KEYS, SCAN (a full scan returns every key), RANDOMKEY, DBSIZE, FLUSH*;
 * several databases (a server of their own): MOVE, SWAPDB, FLUSHDB and
 * FLUSHALL, COPY ... DB, blocked clients and WATCH per database. */
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
    const char *args[] = { "--databases", "1", NULL };
    return server_start(&srv, args);
}
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

static void test_del_unlink_exists_touch(void **state)
{
    expect_ok(tcmd(c, "MSET a 1 b 2 c 3 d 4"));
    expect_int(tcmd(c, "EXISTS a b nokey a"), 3);  /* repeated keys count twice */
    expect_int(tcmd(c, "TOUCH a b nokey"), 2);
    expect_int(tcmd(c, "DEL a nokey b"), 2);
    expect_int(tcmd(c, "EXISTS a b"), 0);
    expect_int(tcmd(c, "UNLINK c d d"), 2);
    expect_int(tcmd(c, "DBSIZE"), 0);
    expect_error(tcmd(c, "DEL"), "ERR wrong number of arguments for 'del' command");
    expect_error(tcmd(c, "EXISTS"), "ERR wrong number of arguments for 'exists' command");
}

static void test_type(void **state)
{
    expect_ok(tcmd(c, "SET k v"));
    expect_status(tcmd(c, "TYPE k"), "string");
    expect_status(tcmd(c, "TYPE nokey"), "none");
}

static void test_rename_renamenx(void **state)
{
    expect_error(tcmd(c, "RENAME nokey b"), "ERR no such key");
    expect_error(tcmd(c, "RENAMENX nokey b"), "ERR no such key");
    expect_ok(tcmd(c, "SET a 1 EX 100"));
    expect_ok(tcmd(c, "RENAME a b"));
    expect_int(tcmd(c, "EXISTS a"), 0);
    expect_bulk(tcmd(c, "GET b"), "1");
    long long ttl = get_int(tcmd(c, "TTL b"));  /* the TTL moves with it */
    assert_true(ttl > 95 && ttl <= 100);
    expect_ok(tcmd(c, "SET c 3"));
    expect_ok(tcmd(c, "RENAME b c"));            /* overwrites */
    expect_bulk(tcmd(c, "GET c"), "1");
    expect_ok(tcmd(c, "RENAME c c"));            /* same key: OK */
    expect_ok(tcmd(c, "SET d 4"));
    expect_int(tcmd(c, "RENAMENX c d"), 0);
    expect_bulk(tcmd(c, "GET c"), "1");
    expect_int(tcmd(c, "RENAMENX c e"), 1);
    expect_bulk(tcmd(c, "GET e"), "1");
    expect_int(tcmd(c, "RENAMENX e e"), 0);
}

static void test_copy(void **state)
{
    expect_int(tcmd(c, "COPY nokey b"), 0);
    expect_ok(tcmd(c, "SET a 1 PX 100000"));
    expect_int(tcmd(c, "COPY a b"), 1);
    expect_bulk(tcmd(c, "GET b"), "1");
    assert_true(get_int(tcmd(c, "PTTL b")) > 90000);
    expect_ok(tcmd(c, "SET a 2"));
    expect_bulk(tcmd(c, "GET b"), "1");          /* a copy, not a reference */
    expect_int(tcmd(c, "COPY a b"), 0);          /* destination exists */
    expect_int(tcmd(c, "COPY a b REPLACE"), 1);
    expect_bulk(tcmd(c, "GET b"), "2");
    expect_int(tcmd(c, "TTL b"), -1);
    expect_error(tcmd(c, "COPY a a"), "ERR source and destination objects are the same");
    expect_error(tcmd(c, "COPY a b FOO"), "ERR syntax error");
}

static void test_expire_family(void **state)
{
    expect_int(tcmd(c, "EXPIRE nokey 10"), 0);
    expect_ok(tcmd(c, "SET k v"));
    expect_int(tcmd(c, "TTL k"), -1);
    expect_int(tcmd(c, "PTTL k"), -1);
    expect_int(tcmd(c, "EXPIRETIME k"), -1);
    expect_int(tcmd(c, "TTL nokey"), -2);
    expect_int(tcmd(c, "PTTL nokey"), -2);
    expect_int(tcmd(c, "EXPIRETIME nokey"), -2);
    expect_int(tcmd(c, "PEXPIRETIME nokey"), -2);
    expect_int(tcmd(c, "EXPIRE k 100"), 1);
    long long ttl = get_int(tcmd(c, "TTL k"));
    assert_true(ttl > 95 && ttl <= 100);
    expect_int(tcmd(c, "PEXPIRE k 200000"), 1);
    ttl = get_int(tcmd(c, "PTTL k"));
    assert_true(ttl > 190000 && ttl <= 200000);
    expect_int(tcmd(c, "EXPIREAT k 4102444800"), 1);
    expect_int(tcmd(c, "EXPIRETIME k"), 4102444800LL);
    expect_int(tcmd(c, "PEXPIREAT k 4102444800999"), 1);
    expect_int(tcmd(c, "PEXPIRETIME k"), 4102444800999LL);
    expect_int(tcmd(c, "EXPIRETIME k"), 4102444801LL);  /* Redis rounds to the nearest second */
    expect_int(tcmd(c, "PERSIST k"), 1);
    expect_int(tcmd(c, "PERSIST k"), 0);
    expect_int(tcmd(c, "PERSIST nokey"), 0);
    expect_int(tcmd(c, "TTL k"), -1);
    /* a time in the past deletes the key */
    expect_int(tcmd(c, "EXPIRE k -1"), 1);
    expect_int(tcmd(c, "EXISTS k"), 0);
    expect_ok(tcmd(c, "SET k v"));
    expect_int(tcmd(c, "PEXPIREAT k 1"), 1);
    expect_int(tcmd(c, "EXISTS k"), 0);
    expect_error(tcmd(c, "EXPIRE k abc"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "EXPIRE k 10 FOO"), "ERR Unsupported option FOO");
    expect_error(tcmd(c, "EXPIRE k 9223372036854775807"), "ERR invalid expire time in 'expire' command");
}

static void test_expire_nx_xx_gt_lt(void **state)
{
    expect_ok(tcmd(c, "SET k v"));
    expect_int(tcmd(c, "EXPIRE k 100 XX"), 0);   /* no TTL yet */
    expect_int(tcmd(c, "EXPIRE k 100 GT"), 0);   /* no TTL counts as infinite */
    expect_int(tcmd(c, "EXPIRE k 100 LT"), 1);
    expect_int(tcmd(c, "EXPIRE k 200 NX"), 0);
    expect_int(tcmd(c, "EXPIRE k 200 XX"), 1);
    expect_int(tcmd(c, "EXPIRE k 100 GT"), 0);
    expect_int(tcmd(c, "EXPIRE k 300 GT"), 1);
    expect_int(tcmd(c, "EXPIRE k 400 LT"), 0);
    expect_int(tcmd(c, "EXPIRE k 50 LT"), 1);
    long long ttl = get_int(tcmd(c, "TTL k"));
    assert_true(ttl > 45 && ttl <= 50);
    expect_int(tcmd(c, "PEXPIRE k 1000000 gt"), 1);
    expect_ok(tcmd(c, "SET n v"));
    expect_int(tcmd(c, "PEXPIREAT n 4102444800000 NX"), 1);
    expect_int(tcmd(c, "EXPIREAT n 4102444801 LT"), 0);
    expect_error(tcmd(c, "EXPIRE k 10 NX XX"),
                 "ERR NX and XX, GT or LT options at the same time are not compatible");
    expect_error(tcmd(c, "EXPIRE k 10 NX GT"),
                 "ERR NX and XX, GT or LT options at the same time are not compatible");
    expect_error(tcmd(c, "EXPIRE k 10 GT LT"),
                 "ERR GT and LT options at the same time are not compatible");
}

static void test_keys(void **state)
{
    expect_ok(tcmd(c, "MSET user:1 a user:2 b user:10 c other d h?llo e"));
    struct rval *v = tcmd(c, "KEYS user:*");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 3);
    rval_free(v);
    v = tcmd(c, "KEYS user:?");
    assert_int_equal(v->n, 2);
    rval_free(v);
    v = tcmd(c, "KEYS user:[1]*");
    assert_int_equal(v->n, 2);
    rval_free(v);
    v = tcmd(c, "KEYS h\\?llo");
    assert_int_equal(v->n, 1);
    assert_string_equal(v->elem[0]->str, "h?llo");
    rval_free(v);
    v = tcmd(c, "KEYS *");
    assert_int_equal(v->n, 5);
    rval_free(v);
    v = tcmd(c, "KEYS nomatch*");
    assert_int_equal(v->n, 0);
    rval_free(v);
}

/* Full SCAN with the given extra arguments; returns how many keys it saw and
 * checks each key is in [0, nkeys) of "key:%d" at most... (duplicates allowed
 * by SCAN's contract are counted once). */
static int full_scan(const char *extra, int nkeys, const char *prefix)
{
    char *seen = calloc((size_t)nkeys, 1);
    int distinct = 0;
    char cursor[32] = "0";
    int rounds = 0;
    do {
        struct rval *v = tcmd(c, "SCAN %s %s", cursor, extra);
        assert_non_null(v);
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 2);
        assert_int_equal(v->elem[0]->type, R_BULK);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        struct rval *keys = v->elem[1];
        for (size_t i = 0; i < keys->n; i++) {
            const char *k = keys->elem[i]->str;
            assert_true(strncmp(k, prefix, strlen(prefix)) == 0);
            int idx = atoi(k + strlen(prefix));
            assert_true(idx >= 0 && idx < nkeys);
            if (!seen[idx]) {
                seen[idx] = 1;
                distinct++;
            }
        }
        rval_free(v);
        assert_true(++rounds < 100000);
    } while (strcmp(cursor, "0") != 0);
    free(seen);
    return distinct;
}

static void test_scan(void **state)
{
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        char k[32], val[32];
        snprintf(k, sizeof k, "key:%d", i);
        snprintf(val, sizeof val, "%d", i);
        const char *argv[] = { "SET", k, val };
        tsendv(c, 3, argv);
    }
    for (int i = 0; i < N; i++)
        expect_ok(tread(c, 5000));
    expect_ok(tcmd(c, "SET other x"));
    assert_int_equal(full_scan("MATCH key:*", N, "key:"), N);
    assert_int_equal(full_scan("MATCH key:* COUNT 7", N, "key:"), N);
    assert_int_equal(full_scan("MATCH key:* COUNT 1000", N, "key:"), N);
    assert_int_equal(full_scan("MATCH key:* TYPE string", N, "key:"), N);
    assert_int_equal(full_scan("MATCH key:1?? COUNT 50", N, "key:"), 100);
    assert_int_equal(full_scan("MATCH key:* TYPE list", N, "key:"), 0);
    expect_error(tcmd(c, "SCAN x"), "ERR invalid cursor");
    expect_error(tcmd(c, "SCAN 0 COUNT 0"), "ERR syntax error");
    expect_error(tcmd(c, "SCAN 0 COUNT x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "SCAN 0 FOO"), "ERR syntax error");
}

static void test_randomkey_dbsize_flush(void **state)
{
    expect_nil(tcmd(c, "RANDOMKEY"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    expect_ok(tcmd(c, "MSET a 1 b 2 c 3"));
    expect_int(tcmd(c, "DBSIZE"), 3);
    for (int i = 0; i < 10; i++) {
        struct rval *v = tcmd(c, "RANDOMKEY");
        assert_non_null(v);
        assert_int_equal(v->type, R_BULK);
        assert_true(strcmp(v->str, "a") == 0 || strcmp(v->str, "b") == 0 || strcmp(v->str, "c") == 0);
        rval_free(v);
    }
    expect_ok(tcmd(c, "FLUSHDB"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    expect_ok(tcmd(c, "MSET a 1 b 2"));
    expect_ok(tcmd(c, "FLUSHALL ASYNC"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    expect_ok(tcmd(c, "SET a 1"));
    expect_ok(tcmd(c, "FLUSHDB SYNC"));
    expect_nil(tcmd(c, "GET a"));
    expect_error(tcmd(c, "FLUSHALL FOO"), "ERR syntax error");
}

static void test_select(void **state)
{
    expect_ok(tcmd(c, "SELECT 0"));
    expect_error(tcmd(c, "SELECT 1"), "ERR DB index is out of range");
    expect_error(tcmd(c, "SELECT x"), "ERR value is not an integer or out of range");
}

/* INFO stats keyspace_hits / keyspace_misses count as Redis 7.0 counts:
 * the key lookups of reads (GET, TTL, TYPE, OBJECT, EXISTS...) and the keys
 * some writes read (SET ... GET, GETDEL, COPY's source, the sources of
 * SUNIONSTORE and ZUNIONSTORE, of BITOP, PFMERGE, SORT ... STORE), not the
 * lookups of writes that change the key they find (INCR, LPUSH, HSET, SADD,
 * EXPIRE, SMOVE, RENAME, SET NX / XX...); keys on several shards too. A
 * dashboard's hit ratio is the same on both servers. */
static void test_hits_and_misses(void **state)
{
    static const struct {
        const char *cmd;
        int hits, misses;
    } steps[] = {
        { "SET a 1", 0, 0 },          { "SET a 2 NX", 0, 0 },        { "SET a 3 XX", 0, 0 },
        { "SET a 4 GET", 1, 0 },      { "SET b 4 GET", 0, 1 },       { "GETSET a 5", 1, 0 },
        { "GETDEL a", 1, 0 },         { "GETEX b", 1, 0 },           { "GET nokey", 0, 1 },
        { "SETNX c 1", 0, 0 },        { "APPEND c x", 0, 0 },        { "INCRBYFLOAT f 1.5", 0, 0 },
        { "INCR n", 0, 0 },           { "EXPIRE c 100", 0, 0 },      { "PERSIST c", 0, 0 },
        { "TTL c", 1, 0 },            { "PTTL nokey", 0, 1 },        { "TYPE c", 1, 0 },
        { "EXISTS c nokey", 1, 1 },   { "OBJECT ENCODING c", 1, 0 }, { "SADD s x", 0, 0 },
        { "SREM s x", 0, 0 },         { "HSET h f v", 0, 0 },        { "HGET h f", 1, 0 },
        { "HINCRBY h g 1", 0, 0 },    { "RPUSH l a b c", 0, 0 },     { "LPOP l", 0, 0 },
        { "LRANGE l 0 -1", 1, 0 },    { "ZADD z 1 a", 0, 0 },        { "ZINCRBY z 1 a", 0, 0 },
        { "PFADD p a", 0, 0 },        { "PFCOUNT p", 1, 0 },         { "SADD s1 a", 0, 0 },
        { "SADD s2 b", 0, 0 },        { "SMOVE s1 s2 a", 0, 0 },     { "SINTERSTORE d s2 nokey", 1, 1 },
        { "SUNIONSTORE d s2 s3 s4", 1, 2 }, { "ZUNIONSTORE zd 2 z nokey", 1, 1 },
        { "LMOVE l l2 LEFT LEFT", 0, 0 }, { "RENAME l2 l3", 0, 0 },   { "BITOP AND bb c c", 2, 0 },
        { "COPY c c2", 1, 0 },        { "SORT l3 ALPHA STORE l4", 1, 0 },  { "MGET c f n nokey s2 h", 5, 1 },
        { "TOUCH c f nokey", 2, 1 },  { "DEL c f nokey", 0, 0 },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        long long hits = info_field(c, "stats", "keyspace_hits");
        long long misses = info_field(c, "stats", "keyspace_misses");
        char line[128];
        snprintf(line, sizeof line, "%s", steps[i].cmd);
        const char *argv[16];
        int argc = 0;
        for (char *w = strtok(line, " "); w && argc < 16; w = strtok(NULL, " "))
            argv[argc++] = w;
        tsendv(c, argc, argv);
        struct rval *v = tread(c, 5000);
        assert_non_null(v);
        if (v->type == R_ERROR)
            fail_msg("%s: %s", steps[i].cmd, v->str);
        rval_free(v);
        long long dh = info_field(c, "stats", "keyspace_hits") - hits;
        long long dm = info_field(c, "stats", "keyspace_misses") - misses;
        if (dh != steps[i].hits || dm != steps[i].misses)
            fail_msg("%s: %lld hits, %lld misses; expected %d, %d", steps[i].cmd, dh, dm, steps[i].hits,
                     steps[i].misses);
    }
}

/* ---- several databases (a server of its own: 16 databases; ringkv with
 * two shards, so that keys of one command may be on two) ---- */

static struct server dbsrv;

static tconn *db_server(void)
{
    static const char *const args[] = { "--threads", "2", NULL };
    static const char *const redis_args[] = { NULL };
    assert_int_equal(server_start(&dbsrv, target_is_redis() ? redis_args : args), 0);
    return tconnect(dbsrv.port);
}

static void db_server_end(tconn *d)
{
    tclose(d);
    assert_int_equal(server_stop(&dbsrv), 0);
}

/* A reply that is the two-element array [key, element] (BLPOP's). */
static void expect_pop(struct rval *v, const char *key, const char *elem)
{
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, key);
    assert_string_equal(v->elem[1]->str, elem);
    rval_free(v);
}

static void test_move_swapdb_flush(void **state)
{
    tconn *d = db_server();
    expect_ok(tcmd(d, "SET k v EX 100"));
    expect_int(tcmd(d, "MOVE k 3"), 1);
    expect_int(tcmd(d, "EXISTS k"), 0);
    expect_int(tcmd(d, "MOVE k 3"), 0);            /* gone from here */
    expect_ok(tcmd(d, "SELECT 3"));
    expect_bulk(tcmd(d, "GET k"), "v");
    long long ttl = get_int(tcmd(d, "TTL k"));     /* the TTL moves with it */
    assert_true(ttl > 90 && ttl <= 100);
    expect_ok(tcmd(d, "SELECT 0"));
    expect_ok(tcmd(d, "SET k other"));
    expect_int(tcmd(d, "MOVE k 3"), 0);            /* the target has it */
    expect_bulk(tcmd(d, "GET k"), "other");
    expect_error(tcmd(d, "MOVE k 0"), "ERR source and destination objects are the same");
    expect_error(tcmd(d, "MOVE k 16"), "ERR DB index is out of range");
    expect_error(tcmd(d, "MOVE k -1"), "ERR DB index is out of range");
    expect_error(tcmd(d, "MOVE k x"), "ERR value is not an integer or out of range");
    expect_int(tcmd(d, "RPUSH l a b"), 2);
    expect_int(tcmd(d, "MOVE l 5"), 1);
    expect_int(tcmd(d, "EXISTS l"), 0);
    expect_ok(tcmd(d, "SELECT 5"));
    expect_int(tcmd(d, "LLEN l"), 2);
    expect_int(tcmd(d, "DBSIZE"), 1);
    /* SWAPDB: every shard's databases 5 and 6 trade places */
    expect_ok(tcmd(d, "MSET s1 1 s2 2 s3 3 s4 4"));
    expect_ok(tcmd(d, "SWAPDB 5 6"));
    expect_int(tcmd(d, "DBSIZE"), 0);
    expect_ok(tcmd(d, "SELECT 6"));
    expect_int(tcmd(d, "DBSIZE"), 5);
    expect_int(tcmd(d, "LLEN l"), 2);
    expect_ok(tcmd(d, "SWAPDB 6 6"));
    expect_error(tcmd(d, "SWAPDB x 1"), "ERR invalid first DB index");
    expect_error(tcmd(d, "SWAPDB 1 x"), "ERR invalid second DB index");
    expect_error(tcmd(d, "SWAPDB 1 16"), "ERR DB index is out of range");
    expect_error(tcmd(d, "SWAPDB 1 99999999999"), "ERR invalid second DB index");
    /* FLUSHDB: the connection's database only; FLUSHALL: every one */
    expect_ok(tcmd(d, "FLUSHDB"));
    expect_int(tcmd(d, "DBSIZE"), 0);
    expect_ok(tcmd(d, "SELECT 3"));
    expect_int(tcmd(d, "DBSIZE"), 1);
    expect_ok(tcmd(d, "SELECT 0"));
    expect_int(tcmd(d, "DBSIZE"), 1);
    expect_ok(tcmd(d, "FLUSHALL"));
    expect_int(tcmd(d, "DBSIZE"), 0);
    expect_ok(tcmd(d, "SELECT 3"));
    expect_int(tcmd(d, "DBSIZE"), 0);
    db_server_end(d);
}

/* COPY ... DB n, the two keys on two shards of ringkv too */
static void test_copy_db(void **state)
{
    tconn *d = db_server();
    char src[64], dst[64];
    keys_on_two_shards(d, "cp", src, dst, sizeof(src));
    expect_ok(tcmd(d, "SET %s v1", src));
    expect_int(tcmd(d, "COPY %s %s DB 4", src, dst), 1);
    expect_int(tcmd(d, "EXISTS %s", dst), 0);
    expect_int(tcmd(d, "COPY %s %s DB 4", src, dst), 0);   /* there already */
    expect_ok(tcmd(d, "SET %s v2", src));
    expect_int(tcmd(d, "COPY %s %s DB 4 REPLACE", src, dst), 1);
    expect_int(tcmd(d, "COPY %s %s DB 4", src, src), 1);   /* the same name in another database */
    expect_error(tcmd(d, "COPY %s %s DB 0", src, src), "ERR source and destination objects are the same");
    expect_error(tcmd(d, "COPY %s %s DB 16", src, dst), "ERR DB index is out of range");
    expect_error(tcmd(d, "COPY %s %s DB x", src, dst), "ERR value is not an integer or out of range");
    expect_int(tcmd(d, "SADD set%s a b c", src), 3);
    expect_int(tcmd(d, "COPY set%s set%s DB 4", src, dst), 1);
    expect_ok(tcmd(d, "SELECT 4"));
    expect_bulk(tcmd(d, "GET %s", dst), "v2");
    expect_bulk(tcmd(d, "GET %s", src), "v2");
    expect_int(tcmd(d, "SCARD set%s", dst), 3);
    expect_int(tcmd(d, "DBSIZE"), 3);
    expect_int(tcmd(d, "COPY %s %s DB 0", dst, src), 0);   /* db 0 has it */
    /* from a script, the keys on two shards (ringkv: on copies, holding
     * every shard): the copy lands in database 7, not in the script's */
    expect_int(tcmd(d, "DEL %s", dst), 1);
    const char *copy[] = { "EVAL", "return redis.call('COPY',KEYS[1],KEYS[2],'DB','7')", "2", src, dst };
    tsendv(d, 5, copy);
    expect_int(tread(d, 5000), 1);
    expect_int(tcmd(d, "EXISTS %s", dst), 0);
    expect_ok(tcmd(d, "SELECT 7"));
    expect_bulk(tcmd(d, "GET %s", dst), "v2");
    expect_int(tcmd(d, "DBSIZE"), 1);
    db_server_end(d);
}

/* A client blocked on a key of database 1 is woken by that key in database
 * 1 only; after SWAPDB, by the key now in its database (Redis 7). */
static void test_blocking_per_db(void **state)
{
    tconn *d = db_server();
    tconn *b = tconnect(dbsrv.port);
    expect_ok(tcmd(b, "SELECT 1"));
    const char *blpop[] = { "BLPOP", "q", "0" };
    tsendv(b, 3, blpop);
    assert_int_equal(info_field_becomes(d, "clients", "blocked_clients", 1, 10000), 1);
    expect_int(tcmd(d, "RPUSH q in0"), 1);       /* database 0: not its key */
    expect_ok(tcmd(d, "SELECT 2"));
    expect_int(tcmd(d, "RPUSH q in2"), 1);
    assert_null(tread(b, 200));
    expect_ok(tcmd(d, "SWAPDB 1 2"));            /* database 1 now has q */
    expect_pop(tread(b, 5000), "q", "in2");
    expect_ok(tcmd(d, "SELECT 0"));
    expect_int(tcmd(d, "LLEN q"), 1);
    tsendv(b, 3, blpop);
    assert_int_equal(info_field_becomes(d, "clients", "blocked_clients", 1, 10000), 1);
    expect_ok(tcmd(d, "SELECT 1"));
    expect_int(tcmd(d, "LPUSH q in1"), 1);
    expect_pop(tread(b, 5000), "q", "in1");
    tclose(b);
    db_server_end(d);
}

/* A watched key is a key of one database: a write to the same name in
 * another does not abort the EXEC; FLUSHDB of another database neither;
 * FLUSHALL, SWAPDB and a write of its own database do. */
static void test_watch_per_db(void **state)
{
    tconn *d = db_server();
    tconn *o = tconnect(dbsrv.port);
    expect_ok(tcmd(d, "SELECT 2"));
    expect_ok(tcmd(d, "SET w 1"));
    struct {
        const char *other[3];
        bool aborts;
    } cases[] = {
        { { "SELECT 0", "SET w x", NULL }, false },
        { { "SELECT 3", "FLUSHDB", NULL }, false },
        { { "SELECT 2", "SET w y", NULL }, true },
        { { "SELECT 2", "FLUSHDB", NULL }, true },
        { { "SELECT 0", "FLUSHALL", NULL }, true },
        { { "SELECT 0", "SWAPDB 2 7", NULL }, true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_ok(tcmd(d, "SET w 1"));
        expect_ok(tcmd(d, "WATCH w"));
        for (int j = 0; cases[i].other[j]; j++) {
            struct rval *v = tcmd(o, "%s", cases[i].other[j]);
            assert_non_null(v);
            assert_int_not_equal(v->type, R_ERROR);
            rval_free(v);
        }
        expect_ok(tcmd(d, "MULTI"));
        expect_status(tcmd(d, "INCR w"), "QUEUED");
        struct rval *v = tcmd(d, "EXEC");
        assert_non_null(v);
        if (cases[i].aborts) {
            assert_int_equal(v->type, R_NIL);
        } else {
            assert_int_equal(v->type, R_ARRAY);
            assert_int_equal(v->n, 1);
        }
        rval_free(v);
    }
    tclose(o);
    db_server_end(d);
}

/* A transaction over keys of two shards with a SELECT in it: the commands
 * after it act in that database (MOVE, COPY ... DB, SWAPDB too), and the
 * connection stays in it after EXEC; CLIENT INFO and CLIENT LIST show the
 * database; RESET selects 0 again. */
static void test_db_in_transaction_and_client(void **state)
{
    (void)state;
    tconn *d = db_server();
    char a[64], b[64];
    keys_on_two_shards(d, "tx", a, b, sizeof a);
    expect_ok(tcmd(d, "SELECT 3"));
    expect_ok(tcmd(d, "MULTI"));
    expect_status(tcmd(d, "SET %s 1", a), "QUEUED");
    expect_status(tcmd(d, "SELECT 4"), "QUEUED");
    expect_status(tcmd(d, "SET %s 2", b), "QUEUED");
    expect_status(tcmd(d, "MOVE %s 3", b), "QUEUED");
    expect_status(tcmd(d, "SET %s 3", b), "QUEUED");
    expect_status(tcmd(d, "COPY %s %s DB 3", b, a), "QUEUED");
    expect_status(tcmd(d, "COPY %s %s DB 3 REPLACE", b, a), "QUEUED");
    expect_status(tcmd(d, "SWAPDB 3 4"), "QUEUED");
    expect_status(tcmd(d, "GET %s", b), "QUEUED");
    struct rval *v = tcmd(d, "EXEC");
    char *text = rval_text(v);
    if (strcmp(text, "[+OK, +OK, +OK, (integer) 1, +OK, (integer) 0, (integer) 1, +OK, \"2\"]") != 0)
        fail_msg("EXEC: %s", text);
    free(text);
    rval_free(v);
    /* databases 3 and 4 swapped: the connection's 4 has a (3) and b (2),
     * 3 has b (3) */
    expect_bulk(tcmd(d, "GET %s", a), "3");
    expect_bulk(tcmd(d, "GET %s", b), "2");
    expect_ok(tcmd(d, "SELECT 3"));
    expect_bulk(tcmd(d, "GET %s", b), "3");
    expect_int(tcmd(d, "DBSIZE"), 1);
    v = tcmd(d, "CLIENT INFO");
    assert_non_null(v);
    if (!strstr(v->str, " db=3 "))
        fail_msg("CLIENT INFO: %s", v->str);
    rval_free(v);
    v = tcmd(d, "CLIENT LIST ID %lld", get_int(tcmd(d, "CLIENT ID")));
    assert_non_null(v);
    if (!strstr(v->str, " db=3 "))
        fail_msg("CLIENT LIST: %s", v->str);
    rval_free(v);
    expect_status(tcmd(d, "RESET"), "RESET");
    v = tcmd(d, "CLIENT INFO");
    assert_non_null(v);
    if (!strstr(v->str, " db=0 "))
        fail_msg("CLIENT INFO after RESET: %s", v->str);
    rval_free(v);
    expect_int(tcmd(d, "DBSIZE"), 0);
    db_server_end(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_del_unlink_exists_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_renamenx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_family, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_nx_xx_gt_lt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randomkey_dbsize_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hits_and_misses, setup, teardown),
        cmocka_unit_test(test_move_swapdb_flush),
        cmocka_unit_test(test_copy_db),
        cmocka_unit_test(test_blocking_per_db),
        cmocka_unit_test(test_watch_per_db),
        cmocka_unit_test(test_db_in_transaction_and_client),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
