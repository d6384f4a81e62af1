/* A ringkv replica of a real redis-server 7 master: the migration from
 * Redis to ringkv with no downtime (README "Migrating from Redis").
 *
 * The master holds every type before the link (small and big encodings,
 * expiries, a function library); ringkv (3 shards, so most multi-key
 * commands span shards) is made its replica with REPLICAOF, the master is
 * written during the full sync and after it (MSET and MSETNX over many
 * keys, DEL of many, MULTI/EXEC over several shards, EXPIRE, RENAME and
 * the other cross-shard writes, a script's effects), WAIT 1 on the master
 * must answer 1, and the two keyspaces must be the same key by key. The
 * link is then cut: the replica continues with a partial resync (PSYNC ->
 * +CONTINUE) and catches up. REPLICAOF NO ONE, and ringkv takes writes.
 * Both forms of the RDB: from disk ($<len>) and diskless ($EOF:<mark>).
 * Databases: the RDB's and the stream's (SELECT, SWAPDB, MOVE) are
 * followed; a master selecting one the replica lacks is refused loudly.
 *
 * Skipped (exit 77) when redis-server is not installed, and on the redis
 * target (ringkv is the replica here by construction). */
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
#include "keyspace_state.h"

/* A redis-server through the harness (its port, log and dump file). */
static void redis_start(struct server *s, const char *const *extra)
{
    setenv("RINGKV_TEST_TARGET", "redis", 1);
    int rc = server_start(s, extra);
    unsetenv("RINGKV_TEST_TARGET");
    assert_int_equal(rc, 0);
}

static void cmdv(tconn *c, int argc, const char *const *argv)
{
    tsendv(c, argc, argv);
    struct rval *v = tread(c, 10000);
    assert_non_null(v);
    if (v->type == R_ERROR)
        fail_msg("%s: %s", argv[0], v->str);
    rval_free(v);
}

static bool info_has(tconn *t, const char *section, const char *text)
{
    struct rval *v = tcmd(t, "INFO %s", section);
    bool has = v && v->str && strstr(v->str, text);
    rval_free(v);
    return has;
}

static void wait_link_up(tconn *c)
{
    long long until = now_ms() + 20000;
    while (!info_has(c, "replication", "master_link_status:up") && now_ms() < until)
        usleep(20000);
    assert_true(info_has(c, "replication", "master_link_status:up"));
}

/* Every type, in small and big encodings, some with an expiry, spread
 * over many keys (so over every shard of the replica). */
static void populate(tconn *m, const char *p)
{
    char k[64], f[64], v[64];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "%s:str:%d", p, i);
        snprintf(v, sizeof v, i % 3 ? "value-%d" : "%d", i);
        const char *set[] = { "SET", k, v };
        cmdv(m, 3, set);
    }
    char *big = malloc(200000);
    memset(big, 'b', 199999);
    big[199999] = '\0';
    snprintf(k, sizeof k, "%s:bigstr", p);
    const char *setbig[] = { "SET", k, big };
    cmdv(m, 3, setbig);
    free(big);
    for (int i = 0; i < 300; i++) {
        snprintf(f, sizeof f, "f%d", i);
        snprintf(v, sizeof v, "v%d", i);
        snprintf(k, sizeof k, "%s:bighash", p);
        const char *hset[] = { "HSET", k, f, v };
        cmdv(m, 4, hset);
        snprintf(k, sizeof k, "%s:biglist", p);
        const char *rpush[] = { "RPUSH", k, v };
        cmdv(m, 3, rpush);
        snprintf(k, sizeof k, "%s:bigset", p);
        const char *sadd[] = { "SADD", k, v };
        cmdv(m, 3, sadd);
        snprintf(k, sizeof k, "%s:intset", p);
        snprintf(v, sizeof v, "%d", i * 7);
        const char *sadd2[] = { "SADD", k, v };
        cmdv(m, 3, sadd2);
        snprintf(k, sizeof k, "%s:bigzset", p);
        snprintf(v, sizeof v, "%d.5", i);
        const char *zadd[] = { "ZADD", k, v, f };
        cmdv(m, 4, zadd);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "%s:hash:%d", p, i);
        expect_int(tcmd(m, "HSET %s a 1 b 2 c %d", k, i), 3);
        snprintf(k, sizeof k, "%s:list:%d", p, i);
        expect_int(tcmd(m, "RPUSH %s x y z %d", k, i), 4);
        snprintf(k, sizeof k, "%s:set:%d", p, i);
        expect_int(tcmd(m, "SADD %s a b c%d", k, i), 3);
        snprintf(k, sizeof k, "%s:zset:%d", p, i);
        expect_int(tcmd(m, "ZADD %s 1 a 2 b %d c", k, i), 3);
        snprintf(k, sizeof k, "%s:ttl:%d", p, i);
        expect_ok(tcmd(m, "SET %s v PX %d", k, 3600000 + i));
        snprintf(k, sizeof k, "%s:{tag}:%d", p, i);
        expect_ok(tcmd(m, "SET %s %d", k, i));
    }
    snprintf(k, sizeof k, "%s:stream", p);
    for (int i = 0; i < 30; i++) {
        struct rval *r = tcmd(m, "XADD %s * n %d", k, i);
        assert_non_null(r);
        rval_free(r);
    }
    expect_ok(tcmd(m, "XGROUP CREATE %s g 0", k));
    struct rval *r = tcmd(m, "XREADGROUP GROUP g c1 COUNT 5 STREAMS %s >", k);
    assert_non_null(r);
    rval_free(r);
    snprintf(k, sizeof k, "%s:hashttl", p);
    expect_int(tcmd(m, "HSET %s a 1", k), 1);
    expect_int(tcmd(m, "EXPIRE %s 7200", k), 1);
}

/* The writes of a live master, multi-key ones over every shard: s is a
 * prefix populate() filled, p a new one. */
static void live_writes(tconn *m, const char *s, const char *p)
{
    /* MSET and MSETNX over many keys */
    const char *ms[1 + 2 * 100];
    char keys[100][32], nxk[4][32];
    int n = 0;
    ms[n++] = "MSET";
    for (int i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof keys[i], "%s:m%d", p, i);
        ms[n++] = keys[i];
        ms[n++] = keys[i];
    }
    cmdv(m, n, ms);
    for (int i = 0; i < 4; i++)
        snprintf(nxk[i], sizeof nxk[i], "%s:nx%d", p, i);
    const char *nx[] = { "MSETNX", nxk[0], "1", nxk[1], "2", nxk[2], "3", nxk[3], "4" };
    cmdv(m, 9, nx);
    cmdv(m, 9, nx); /* refused on the master (0): not propagated */
    /* DEL of many */
    const char *del[1 + 50];
    del[0] = "DEL";
    for (int i = 0; i < 50; i++)
        del[1 + i] = keys[i * 2];
    cmdv(m, 51, del);
    /* a transaction over several shards */
    expect_ok(tcmd(m, "MULTI"));
    expect_status(tcmd(m, "INCR %s:str:0", s), "QUEUED");
    expect_status(tcmd(m, "SET %s:tx:a 1", p), "QUEUED");
    expect_status(tcmd(m, "RPUSH %s:tx:l a b c", p), "QUEUED");
    expect_status(tcmd(m, "RENAME %s:str:1 %s:tx:renamed", s, p), "QUEUED");
    expect_status(tcmd(m, "EXPIRE %s:tx:a 5000", p), "QUEUED");
    struct rval *r = tcmd(m, "EXEC");
    assert_non_null(r);
    assert_int_equal(r->type, R_ARRAY);
    rval_free(r);
    /* expiries */
    expect_int(tcmd(m, "EXPIRE %s:str:2 1000", s), 1);
    expect_int(tcmd(m, "PEXPIRE %s:str:3 2000000", s), 1);
    expect_int(tcmd(m, "EXPIREAT %s:str:4 4102444800", s), 1);
    expect_int(tcmd(m, "PERSIST %s:ttl:0", s), 1);
    expect_ok(tcmd(m, "SETEX %s:str:5 500 x", s));
    /* cross-shard writes that do not split */
    expect_ok(tcmd(m, "RENAME %s:str:6 %s:renamed6", s, p));
    expect_int(tcmd(m, "RENAMENX %s:str:7 %s:renamed7", s, p), 1);
    expect_int(tcmd(m, "SMOVE %s:set:0 %s:set:1 a", s, s), 1);
    expect_bulk(tcmd(m, "LMOVE %s:list:0 %s:list:1 LEFT RIGHT", s, s), "x");
    expect_bulk(tcmd(m, "RPOPLPUSH %s:list:2 %s:list:3", s, s), "2");
    expect_int(tcmd(m, "SUNIONSTORE %s:union %s:set:2 %s:set:3 %s:set:4", p, s, s, s), 5);
    expect_int(tcmd(m, "SINTERSTORE %s:inter %s:set:2 %s:set:3", p, s, s), 2);
    expect_int(tcmd(m, "ZUNIONSTORE %s:zu 2 %s:zset:2 %s:zset:3", p, s, s), 3);
    expect_int(tcmd(m, "COPY %s:hash:0 %s:hashcopy", s, p), 1);
    expect_ok(tcmd(m, "PFMERGE %s:hll %s:hll1", p, p));
    expect_int(tcmd(m, "PFADD %s:hll1 a b c", p), 1);
    expect_int(tcmd(m, "BITOP OR %s:bits %s:str:8 %s:str:9", p, s, s), 7);
    /* single-key writes Redis sends in forms of their own */
    static const char *const own[][2] = {
        { "INCRBYFLOAT", ":float 1.5" },     { "HINCRBYFLOAT", ":hash:1 a 2.25" }, { "SPOP", ":bigset 3" },
        { "GETDEL", ":str:10" },             { "GETEX", ":str:11 EX 3000" },       { "LPUSH", ":biglist head" },
        { "ZINCRBY", ":bigzset 10 f1" },     { "XADD", ":stream * n live" },       { "XACK", ":stream g 0-1" },
        { "HDEL", ":bighash f1 f2" },        { "LTRIM", ":list:4 1 -1" },          { "ZREM", ":bigzset f3" },
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        r = tcmd(m, "%s %s%s", own[i][0], i == 0 ? p : s, own[i][1]);
        assert_non_null(r);
        assert_int_not_equal(r->type, R_ERROR);
        rval_free(r);
    }
    static const char *const more[][2] = {
        { "SETRANGE", ":str:12 3 xyz" },     { "APPEND", ":str:13 tail" },         { "HSETNX", ":hash:2 new 1" },
        { "LINSERT", ":list:5 BEFORE y w" }, { "LSET", ":list:6 0 first" },        { "ZADD", ":zset:4 GT 9 a" },
        { "GEOADD", ":geo 13.36 38.11 palermo 15.08 37.50 catania" },              { "SETBIT", ":bits2 77 1" },
        { "BITFIELD", ":bf SET u8 0 200 INCRBY u8 0 100" },                        { "EXPIRE", ":str:14 9000 GT" },
        { "XTRIM", ":stream MAXLEN 25" },    { "XGROUP", "" },                     { "RPOP", ":list:7 2" },
        { "SREM", ":set:5 a" },              { "HDEL", ":hash:3 a b c" },          { "INCRBY", ":str:15 5" },
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        if (strcmp(more[i][0], "XGROUP") == 0)
            r = tcmd(m, "XGROUP CREATECONSUMER %s:stream g c9", s);
        else
            r = tcmd(m, "%s %s%s", more[i][0], s, more[i][1]);
        assert_non_null(r);
        if (r->type == R_ERROR)
            fail_msg("%s: %s", more[i][0], r->str);
        rval_free(r);
    }
    /* consumer groups: XREADGROUP and XAUTOCLAIM go as XCLAIMs */
    r = tcmd(m, "XREADGROUP GROUP g c2 COUNT 3 STREAMS %s:stream >", s);
    assert_non_null(r);
    rval_free(r);
    r = tcmd(m, "XAUTOCLAIM %s:stream g c3 0 0-0 COUNT 2", s);
    assert_non_null(r);
    assert_int_not_equal(r->type, R_ERROR);
    rval_free(r);
    r = tcmd(m, "XCLAIM %s:stream g c4 0 0-1 FORCE", s);
    rval_free(r);
    expect_int(tcmd(m, "GEOSEARCHSTORE %s:geostore %s:geo FROMLONLAT 15 37 BYRADIUS 200 km", p, s), 2);
    expect_int(tcmd(m, "SORT %s:list:8 ALPHA STORE %s:sorted", s, p), 4);
    /* a script's effects (a transaction in the stream), a function's */
    expect_int(tcmd(m, "EVAL redis.call('set',KEYS[1],'e1');redis.call('incr',KEYS[2]);return(1) 2 %s:ev1 %s:ev2",
                    p, p), 1);
    expect_int(tcmd(m, "FCALL rfunc 1 %s:fcall", p), 1);
}

static void load_function(tconn *m)
{
    const char *code = "#!lua name=rlib\nredis.register_function('rfunc', function(keys, args) "
                       "redis.call('set', keys[1], 'f') return 1 end)";
    const char *fl[] = { "FUNCTION", "LOAD", code };
    tsendv(m, 3, fl);
    expect_bulk(tread(m, 5000), "rlib");
}

static void compare(tconn *m, tconn *s)
{
    char *a = keyspace_state(m);
    char *b = keyspace_state(s);
    expect_same_keyspace(a, b);
    free(a);
    free(b);
}

/* The same, once a replica that acknowledged its offset has applied it
 * (a chained replica's offset is what it read). */
static void compare_soon(tconn *m, tconn *s)
{
    char *a = keyspace_state(m);
    char *b = keyspace_state(s);
    long long until = now_ms() + 20000;
    while (strcmp(a, b) != 0 && now_ms() < until) {
        usleep(50000);
        free(b);
        b = keyspace_state(s);
    }
    expect_same_keyspace(a, b);
    free(a);
    free(b);
}

static void replica_of_redis(const char *diskless)
{
    struct server r;
    const char *const rargs[] = { "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0", NULL };
    redis_start(&r, rargs);
    tconn *m = tconnect(r.port);
    load_function(m);
    populate(m, "pre");

    struct server s;
    const char *const args[] = { "--threads", "3", NULL };
    assert_int_equal(server_start(&s, args), 0);
    tconn *sc = tconnect(s.port);
    expect_ok(tcmd(sc, "SET mine 1")); /* its own data goes: a full sync replaces it */
    expect_ok(tcmd(sc, "REPLICAOF 127.0.0.1 %d", r.port));
    /* writes while the full sync runs */
    populate(m, "during");
    wait_link_up(sc);
    assert_int_equal(count_in_file(s.logfile, "its RDB file"), 1);
    live_writes(m, "pre", "after");
    expect_int(tcmd(m, "WAIT 1 5000"), 1);
    compare(m, sc);
    expect_nil(tcmd(sc, "GET mine"));
    /* the function library came with the RDB */
    struct rval *fl = tcmd(sc, "FUNCTION LIST");
    char *ft = rval_text(fl);
    assert_non_null(strstr(ft, "rlib"));
    free(ft);
    rval_free(fl);

    /* the link cut: a partial resync, and the writes made meanwhile */
    long long partial = info_field(m, "stats", "sync_partial_ok");
    struct rval *k = tcmd(sc, "CLIENT KILL TYPE master");
    rval_free(k);
    live_writes(m, "during", "cut");
    wait_link_up(sc);
    expect_int(tcmd(m, "WAIT 1 5000"), 1);
    assert_int_equal(info_field(m, "stats", "sync_partial_ok"), partial + 1);
    assert_int_equal(info_field(m, "stats", "sync_full"), 1);
    compare(m, sc);
    /* the master's INFO sees the replica online, at its offset */
    assert_true(info_has(m, "replication", "connected_slaves:1"));
    assert_true(info_has(m, "replication", "state=online"));

    /* nothing of the stream failed here, nothing was refused */
    assert_int_equal(count_in_file(s.logfile, "failed here"), 0);
    assert_int_equal(count_in_file(s.logfile, "could not be stored"), 0);
    assert_int_equal(count_in_file(s.logfile, "in the replication stream"), 0);
    assert_int_equal(count_in_file(s.logfile, "Connection with master lost"), 1); /* the cut */

    /* the switch: ringkv on its own, taking writes */
    expect_ok(tcmd(sc, "REPLICAOF NO ONE"));
    expect_ok(tcmd(sc, "SET after:switch 1"));
    expect_bulk(tcmd(sc, "GET after:switch"), "1");
    expect_int(tcmd(sc, "INCR after:counter"), 1);
    tclose(sc);
    tclose(m);
    assert_int_equal(server_stop(&s), 0);
    server_stop(&r);
}

static void test_replica_of_redis_disk(void **state)
{
    (void)state;
    replica_of_redis("no");
}

static void test_replica_of_redis_diskless(void **state)
{
    (void)state;
    replica_of_redis("yes");
}

/* A database the replica lacks (--databases 4 here): a master writing
 * database 5 is not followed, loudly, and what came before stays applied
 * (database 2 among it). */
static void test_other_database_refused(void **state)
{
    (void)state;
    struct server r;
    const char *const rargs[] = { "--repl-diskless-sync-delay", "0", NULL };
    redis_start(&r, rargs);
    tconn *m = tconnect(r.port);
    expect_ok(tcmd(m, "SET k0 v0"));
    struct server s;
    const char *const args[] = { "--threads", "3", "--databases", "4", NULL };
    assert_int_equal(server_start(&s, args), 0);
    tconn *sc = tconnect(s.port);
    expect_ok(tcmd(sc, "REPLICAOF 127.0.0.1 %d", r.port));
    wait_link_up(sc);
    expect_ok(tcmd(m, "SET k1 v1"));
    expect_ok(tcmd(m, "SELECT 2"));
    expect_ok(tcmd(m, "SET in2 v"));
    expect_ok(tcmd(m, "SELECT 5"));
    expect_ok(tcmd(m, "SET other v"));
    long long until = now_ms() + 5000;
    while (count_in_file(s.logfile, "uses database 5") == 0 && now_ms() < until)
        usleep(20000);
    assert_int_equal(count_in_file(s.logfile, "uses database 5"), 1);
    assert_true(info_has(sc, "replication", "master_link_status:down"));
    expect_bulk(tcmd(sc, "GET k1"), "v1");
    expect_nil(tcmd(sc, "GET other"));
    expect_ok(tcmd(sc, "SELECT 2"));
    expect_bulk(tcmd(sc, "GET in2"), "v");
    tclose(sc);
    tclose(m);
    assert_int_equal(server_stop(&s), 0);
    server_stop(&r);
}

static void start_chain(int master_port, struct server *a, tconn **ac, struct server *b, tconn **bc);

/* Databases 0..9 of both the same, key by key (SELECT on each connection). */
static void compare_databases(tconn *m, tconn *s, bool soon)
{
    for (int d = 0; d < 10; d++) {
        expect_ok(tcmd(m, "SELECT %d", d));
        expect_ok(tcmd(s, "SELECT %d", d));
        if (soon)
            compare_soon(m, s);
        else
            compare(m, s);
    }
    expect_ok(tcmd(m, "SELECT 0"));
    expect_ok(tcmd(s, "SELECT 0"));
}

/* A redis-server master with keys in several databases: its RDB's
 * SELECTDB puts each key in its database here, its stream's SELECT,
 * SWAPDB, MOVE, FLUSHDB, FLUSHALL and a cross-shard RENAME are followed in
 * their database. A second ringkv replica of the first (its own full sync,
 * then the Redis stream as it came, in the database it is in at the
 * sync's offset) and a cut link (PSYNC goes on in the stream's database)
 * end the same. */
static void test_databases(void **state)
{
    (void)state;
    struct server r;
    const char *const rargs[] = { "--repl-diskless-sync-delay", "0", NULL };
    redis_start(&r, rargs);
    tconn *m = tconnect(r.port);
    populate(m, "db0");
    expect_ok(tcmd(m, "SELECT 1"));
    populate(m, "db1");
    expect_ok(tcmd(m, "SET same db1"));
    expect_ok(tcmd(m, "SELECT 5"));
    expect_ok(tcmd(m, "SET same db5"));
    expect_int(tcmd(m, "HSET h5 a 1 b 2"), 2);
    expect_int(tcmd(m, "RPUSH l5 x y z"), 3);
    expect_ok(tcmd(m, "SET t5 v PX 600000"));
    expect_ok(tcmd(m, "SELECT 0"));
    expect_ok(tcmd(m, "SET same db0"));

    struct server a, b;
    tconn *ac, *bc;
    start_chain(r.port, &a, &ac, &b, &bc);
    compare_databases(m, ac, true);

    /* the stream */
    expect_ok(tcmd(m, "SELECT 2"));
    expect_ok(tcmd(m, "SET x2 1"));
    expect_ok(tcmd(m, "SET y2 2"));
    expect_ok(tcmd(m, "SELECT 1"));
    expect_ok(tcmd(m, "SET moving v"));
    expect_int(tcmd(m, "PEXPIRE moving 600000"), 1);
    expect_int(tcmd(m, "MOVE moving 7"), 1);
    expect_ok(tcmd(m, "SET after:move v"));
    expect_ok(tcmd(m, "SWAPDB 1 5"));
    expect_ok(tcmd(m, "SELECT 3"));
    expect_ok(tcmd(m, "SET doomed v"));
    expect_ok(tcmd(m, "FLUSHDB"));
    expect_ok(tcmd(m, "SET kept3 v"));
    expect_ok(tcmd(m, "MULTI"));
    expect_status(tcmd(m, "SET tx3 1"), "QUEUED");
    expect_status(tcmd(m, "INCR tx3"), "QUEUED");
    struct rval *ex = tcmd(m, "EXEC");
    assert_true(ex && ex->type == R_ARRAY);
    rval_free(ex);
    expect_ok(tcmd(m, "SELECT 6"));
    for (int i = 0; i < 20; i++) {
        expect_ok(tcmd(m, "SET src%d v%d", i, i));
        expect_ok(tcmd(m, "RENAME src%d dst%d", i, i)); /* over two shards of the replica, most */
    }
    expect_int(tcmd(m, "WAIT 1 5000"), 1);
    compare_databases(m, ac, true);

    /* the second replica's full sync while the stream is in database 6 */
    expect_ok(tcmd(bc, "REPLICAOF 127.0.0.1 %d", a.port));
    wait_link_up(bc);
    expect_ok(tcmd(m, "SET after:chain6 v")); /* no SELECT before it: still 6 */
    expect_int(tcmd(m, "WAIT 1 5000"), 1);
    long long want = info_field(ac, "replication", "master_repl_offset");
    assert_int_equal(info_field_becomes(bc, "replication", "slave_repl_offset", want, 10000), want);
    compare_databases(m, ac, true);
    compare_databases(m, bc, true);

    /* a cut link: PSYNC goes on in database 6 */
    expect_int(tcmd(ac, "CLIENT KILL TYPE master"), 1);
    expect_ok(tcmd(m, "SET after:cut6 v"));
    wait_link_up(ac);
    expect_ok(tcmd(m, "SET after:cut6b v"));
    expect_ok(tcmd(m, "SELECT 0"));
    expect_ok(tcmd(m, "FLUSHALL"));
    expect_ok(tcmd(m, "SET last v"));
    expect_int(tcmd(m, "WAIT 1 5000"), 1);
    compare_databases(m, ac, true);
    compare_databases(m, bc, true);
    expect_int(tcmd(ac, "DBSIZE"), 1);
    assert_int_equal(count_in_file(a.logfile, "could not be applied"), 0);
    assert_int_equal(count_in_file(a.logfile, "failed here"), 0);
    assert_int_equal(count_in_file(b.logfile, "failed here"), 0);
    tclose(ac);
    tclose(bc);
    tclose(m);
    assert_int_equal(server_stop(&b), 0);
    assert_int_equal(server_stop(&a), 0);
    server_stop(&r);
}

/* appendonly yes on the replica: its AOF holds what its loader can run on
 * the shards owning the keys (a cross-shard command's effects, MSET for a
 * split MSETNX), so a restart from it gives the master's keyspace. */
static void test_aof_of_replica(void **state)
{
    (void)state;
    struct server r;
    const char *const rargs[] = { "--repl-diskless-sync-delay", "0", NULL };
    redis_start(&r, rargs);
    tconn *m = tconnect(r.port);
    load_function(m);
    populate(m, "pre");
    populate(m, "during");
    char dir[] = "/tmp/rkv-replica-aof.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct server s;
    const char *const args[] = { "--threads", "3", "--dir", dir, "--appendonly", "yes", NULL };
    assert_int_equal(server_start(&s, args), 0);
    tconn *sc = tconnect(s.port);
    expect_ok(tcmd(sc, "REPLICAOF 127.0.0.1 %d", r.port));
    wait_link_up(sc);
    /* the AOF starts again from the synced data (a rewrite): the writes
     * after it are in its incr file */
    long long until = now_ms() + 20000;
    while ((info_field(sc, "persistence", "aof_rewrite_in_progress") != 0 ||
            info_field(sc, "persistence", "aof_rewrite_scheduled") != 0 ||
            info_field(sc, "persistence", "aof_rewrites") < 1) && now_ms() < until)
        usleep(20000);
    assert_true(info_field(sc, "persistence", "aof_rewrites") >= 1);
    live_writes(m, "pre", "after");
    live_writes(m, "during", "later");
    expect_int(tcmd(m, "WAIT 1 5000"), 1);
    compare(m, sc);
    tclose(sc);
    assert_int_equal(server_stop(&s), 0);

    /* the replica restarted from its AOF alone */
    const char *const again[] = { "--threads", "3", "--dir", dir, "--appendonly", "yes", NULL };
    assert_int_equal(server_start(&s, again), 0);
    sc = tconnect(s.port);
    compare(m, sc);
    tclose(sc);
    tclose(m);
    assert_int_equal(server_stop(&s), 0);
    server_stop(&r);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* a (3 shards), a replica of the redis-server on master_port, its link
 * up; b (2 shards), not linked yet. */
static void start_chain(int master_port, struct server *a, tconn **ac, struct server *b, tconn **bc)
{
    const char *const aargs[] = { "--threads", "3", NULL };
    const char *const bargs[] = { "--threads", "2", NULL };
    assert_int_equal(server_start(a, aargs), 0);
    assert_int_equal(server_start(b, bargs), 0);
    *ac = tconnect(a->port);
    *bc = tconnect(b->port);
    expect_ok(tcmd(*ac, "REPLICAOF 127.0.0.1 %d", master_port));
    wait_link_up(*ac);
}

/* redis-server -> ringkv (3 shards) -> ringkv (2 shards): the second gets
 * the first's own full sync, then the Redis master's stream as it came,
 * applied the same way (its cross-shard commands included). */
static void test_chained_replica(void **state)
{
    (void)state;
    struct server r;
    const char *const rargs[] = { "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes", NULL };
    redis_start(&r, rargs);
    tconn *m = tconnect(r.port);
    load_function(m);
    populate(m, "pre");
    /* enough keys for the second's full sync to take a while: the first
     * applies the cross-shard commands meanwhile behind the writes it
     * defers while its snapshot runs (repl.c) */
    expect_ok(tcmd(m, "DEBUG POPULATE %d big 64", HARNESS_SANITIZED ? 10000 : 50000));
    struct server a, b;
    tconn *ac, *bc;
    start_chain(r.port, &a, &ac, &b, &bc);
    expect_ok(tcmd(bc, "REPLICAOF 127.0.0.1 %d", a.port));
    /* the second's full sync runs while the first applies these */
    populate(m, "during");
    live_writes(m, "pre", "after");
    wait_link_up(bc);
    live_writes(m, "during", "later");
    expect_int(tcmd(m, "WAIT 1 5000"), 1);
    long long want = info_field(ac, "replication", "master_repl_offset");
    assert_int_equal(info_field_becomes(bc, "replication", "slave_repl_offset", want, 10000), want);
    compare(m, ac);
    compare_soon(m, bc);
    tclose(ac);
    tclose(bc);
    tclose(m);
    assert_int_equal(server_stop(&b), 0);
    assert_int_equal(server_stop(&a), 0);
    server_stop(&r);
}

/* Until the replication offset `field` is at least want (the master's
 * PINGs move it on meanwhile); false after 20 s. */
static bool offset_reaches(tconn *c, const char *field, long long want)
{
    long long until = now_ms() + 20000;
    while (info_field(c, "replication", field) < want) {
        if (now_ms() > until)
            return false;
        usleep(10000);
    }
    return true;
}

/* A sync asked of a ringkv replica while a cross-shard command of its
 * master's stream is under way (its bytes counted in the replica's offset,
 * its writes not yet on the shards) waits until that command is applied:
 * a snapshot begun before would lack its writes, and the stream after the
 * offset would not bring them again. The command is kept under way by a
 * first sync that does not read: the shards' snapshots for it stay open,
 * and the replica defers what touches its shards until they end. */
static void test_sync_waits_for_cross_shard_command(void **state)
{
    (void)state;
    struct server r;
    const char *const rargs[] = { "--enable-debug-command", "yes", NULL };
    redis_start(&r, rargs);
    tconn *m = tconnect(r.port);
    /* far more than the snapshot window and the socket buffers hold */
    expect_ok(tcmd(m, "DEBUG POPULATE %d key 1000", HARNESS_SANITIZED ? 30000 : 40000));
    expect_ok(tcmd(m, "SET src:a abc"));
    expect_ok(tcmd(m, "SET src:b xyz"));
    expect_ok(tcmd(m, "SET src:c 123"));
    struct server a, b;
    tconn *ac, *bc;
    start_chain(r.port, &a, &ac, &b, &bc);

    /* a replica of a that asks for a full sync and reads nothing more */
    tconn *stuck = tconnect(a.port);
    expect_ok(tcmd(stuck, "REPLCONF capa ringkv"));
    struct rval *v = tcmd(stuck, "PSYNC ? -1");
    assert_true(v->type == R_STATUS && strncmp(v->str, "FULLRESYNC", 10) == 0);
    rval_free(v);
    usleep(300 * 1000); /* its snapshots fill what it does not read */

    /* on a, over keys of its three shards: under way until the stuck
     * snapshots end */
    expect_int(tcmd(m, "BITOP OR dest:bits src:a src:b src:c"), 3);
    expect_int(tcmd(m, "INCR after:counter"), 1);
    /* a has read them, and says so in slave_read_repl_offset; its
     * slave_repl_offset counts what it applied, as a Redis replica's
     * counts what it executed: before the command under way */
    long long sent = info_field(m, "replication", "master_repl_offset");
    assert_true(offset_reaches(ac, "slave_read_repl_offset", sent));
    assert_true(info_field(ac, "replication", "slave_repl_offset") < sent);
    expect_ok(tcmd(bc, "REPLICAOF 127.0.0.1 %d", a.port));
    usleep(300 * 1000); /* b's PSYNC is in */
    assert_true(info_field(ac, "replication", "slave_repl_offset") < sent);
    tclose(stuck);
    assert_true(offset_reaches(ac, "slave_repl_offset", sent));

    wait_link_up(bc);
    long long want = info_field(ac, "replication", "master_repl_offset");
    assert_int_equal(info_field_becomes(bc, "replication", "slave_repl_offset", want, 20000), want);
    long long until = now_ms() + 20000;
    struct rval *got;
    while ((got = tcmd(bc, "GET dest:bits"))->type == R_NIL && now_ms() < until) {
        rval_free(got);
        usleep(50 * 1000);
    }
    rval_free(got);
    struct rval *want_bits = tcmd(m, "GET dest:bits");
    expect_bulk(tcmd(bc, "GET dest:bits"), want_bits->str);
    expect_bulk(tcmd(ac, "GET dest:bits"), want_bits->str);
    rval_free(want_bits);
    expect_bulk(tcmd(bc, "GET after:counter"), "1");
    tclose(ac);
    tclose(bc);
    tclose(m);
    assert_int_equal(server_stop(&b), 0);
    assert_int_equal(server_stop(&a), 0);
    server_stop(&r);
}

int main(void)
{
    if (target_is_redis())
        return 77;
    if (system("redis-server --version >/dev/null 2>&1") != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replica_of_redis_disk),
        cmocka_unit_test(test_replica_of_redis_diskless),
        cmocka_unit_test(test_other_database_refused),
        cmocka_unit_test(test_databases),
        cmocka_unit_test(test_aof_of_replica),
        cmocka_unit_test(test_chained_replica),
        cmocka_unit_test(test_sync_waits_for_cross_shard_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
