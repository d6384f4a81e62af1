/* Master and replica identical after a random mix of every type's writes,
 * checked by DEBUG DIGEST of both (issue 12): strings, lists, sets, sorted
 * sets, hashes and streams, in their small and big encodings, with
 * expiries, the cross-shard commands (RENAME, COPY, the STORE forms, the
 * moves between keys) and the ones whose effects are journaled rather than
 * themselves (SPOP, INCRBYFLOAT, XADD *, the pops). The master has two
 * shards and the replica one, so keys land on different shards; the
 * replica takes a full sync of a loaded master first, then the stream of
 * the mix, then a second replica full-syncs the result. And DEBUG
 * CHANGE-REPL-ID: a new replication id, after which a replica cut off
 * full-syncs. Runs against redis-server too (RINGKV_TEST_TARGET=redis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#include "redis_nodes.h"
#pragma GCC diagnostic pop

/* The first key whose DEBUG DIGEST-VALUE differs between m and r (or
 * that only one has), for the failure's message; malloc'd. */
static char *first_difference(tconn *m, tconn *r)
{
    size_t nm, nr;
    char **km = scan_all(m, &nm), **kr = scan_all(r, &nr);
    char *what = NULL;
    for (size_t i = 0; i < nm && !what; i++) {
        struct rval *a = tcmd(m, "DEBUG DIGEST-VALUE %s", km[i]), *b = tcmd(r, "DEBUG DIGEST-VALUE %s", km[i]);
        if (strcmp(a->elem[0]->str, b->elem[0]->str) != 0) {
            struct rval *ta = tcmd(m, "TYPE %s", km[i]), *tb = tcmd(r, "TYPE %s", km[i]);
            char buf[512];
            snprintf(buf, sizeof buf, "key %s: %s %s on the master, %s %s on the replica", km[i], ta->str,
                     a->elem[0]->str, tb->str, b->elem[0]->str);
            what = strdup(buf);
            rval_free(ta);
            rval_free(tb);
        }
        rval_free(a);
        rval_free(b);
        if (what)
            break;
        /* DEBUG DIGEST counts the expiry too, DIGEST-VALUE does not */
        long long ea = get_int(tcmd(m, "PEXPIRETIME %s", km[i])), eb = get_int(tcmd(r, "PEXPIRETIME %s", km[i]));
        if (ea != eb) {
            char buf[512];
            snprintf(buf, sizeof buf, "key %s: PEXPIRETIME %lld on the master, %lld on the replica", km[i], ea, eb);
            what = strdup(buf);
        }
    }
    if (!what && nm != nr)
        what = strdup("the replica has keys the master has not");
    free_keys(km, nm);
    free_keys(kr, nr);
    return what ? what : strdup("no key differs now");
}

/* Both digests equal, and the data set not empty. Equal offsets on two
 * looks (wait_synced) only suggest the stream is quiet; WAIT is the
 * barrier (every shard's stream out, and each replica's ACK sent once it
 * applied it). The keys the mix gave 30 ms to live were deleted by the
 * EXISTS before it (a lookup deletes a key past its time, and journals the
 * DEL), not by the sweep at some later time. */
static void expect_same_digest(tconn *m, tconn *r)
{
    long long replicas = info_field(m, "replication", "connected_slaves");
    if (replicas > 0) {
        long long acked = get_int(tcmd(m, "WAIT %lld 30000", replicas));
        if (acked < replicas)
            fail_msg("WAIT %lld: only %lld replica(s) acknowledged in 30 s", replicas, acked);
    }
    char *a = debug_digest(m), *b = debug_digest(r);
    if (strcmp(a, b) != 0) {
        char *where = first_difference(m, r);
        fail_msg("DEBUG DIGEST differs: master %s, replica %s (%lld vs %lld keys): %s", a, b, dbsize(m), dbsize(r),
                 where);
    }
    assert_string_not_equal(a, "0000000000000000000000000000000000000000");
    free(a);
    free(b);
}

/* A command of many arguments: prefix then " word<i>" for i in [from, to). */
static void many(tconn *c, const char *prefix, const char *word, int from, int to, bool scored)
{
    static char cmd[65536];
    int len = snprintf(cmd, sizeof cmd, "%s", prefix);
    for (int i = from; i < to; i++) {
        if (scored)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %d.%d", i, i % 7);
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s%d", word, i);
    }
    struct rval *v = tcmd(c, "%s", cmd);
    if (v->type == R_ERROR) {
        char *t = rval_text(v);
        fail_msg("%.80s: %s", cmd, t);
    }
    rval_free(v);
}

/* Every type, small and big. */
static void load(tconn *c)
{
    for (int i = 0; i < 30; i++) {
        char key[32];
        snprintf(key, sizeof key, "str:%d", i);
        expect_ok(tcmd(c, "SET %s value%d", key, i * 11));
    }
    for (int i = 0; i < 20; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "RPUSH list:%d", i);
        many(c, cmd, "e", 0, 1 + i * 9, false);
        snprintf(cmd, sizeof cmd, "SADD set:%d", i);
        many(c, cmd, i % 2 ? "" : "m", 0, 1 + i * 11, false);
        snprintf(cmd, sizeof cmd, "ZADD zset:%d", i);
        many(c, cmd, "z", 0, 1 + i * 9, true);
        snprintf(cmd, sizeof cmd, "HSET hash:%d", i);
        many(c, cmd, "f", 0, 2 + i * 12, false); /* field = value pairs */
        for (int j = 0; j < 1 + i % 5; j++)
            rval_free(tcmd(c, "XADD stream:%d * f%d v%d n %d", i, j, j, i));
        if (i % 4 == 0)
            expect_int(tcmd(c, "EXPIRE hash:%d 100000", i), 1);
    }
    many(c, "RPUSH biglist", "item", 0, 3000, false);
    many(c, "SADD bigset", "member", 0, 2000, false);
    many(c, "ZADD bigzset", "m", 0, 1500, true);
    many(c, "HSET bighash", "f", 0, 1000, false);
    for (int j = 0; j < 400; j++)
        rval_free(tcmd(c, "XADD bigstream * field %d other x%d", j, j));
    expect_int(tcmd(c, "PEXPIRE bigzset 100000000"), 1);
}

/* Writes that once made the replica differ: a list rotated onto itself
 * (LMOVE k k) went out as a pop and a push, and a list of one element
 * lost its expiry on the replica in between. */
static void known_cases(tconn *c)
{
    expect_int(tcmd(c, "RPUSH one x"), 1);
    expect_int(tcmd(c, "EXPIRE one 100000"), 1);
    expect_bulk(tcmd(c, "LMOVE one one LEFT RIGHT"), "x");
    expect_int(tcmd(c, "RPUSH rot a b c d"), 4);
    expect_bulk(tcmd(c, "LMOVE rot rot RIGHT LEFT"), "d");
    expect_bulk(tcmd(c, "RPOPLPUSH rot rot"), "c");
}

/* One random write of any type on c. */
static void random_write(tconn *c, unsigned *seed)
{
    unsigned a = rand_r(seed) % 20, b = rand_r(seed) % 20, d = rand_r(seed) % 20, m = rand_r(seed) % 300;
    struct rval *v;
    switch (rand_r(seed) % 80) {
    /* strings */
    case 0: v = tcmd(c, "SET str:%u v%u", a, m); break;
    case 1: v = tcmd(c, "APPEND str:%u +%u", a, m); break;
    case 2: v = tcmd(c, "INCRBY cnt:%u %d", a % 5, (int)m - 150); break;
    case 3: v = tcmd(c, "INCRBYFLOAT flt:%u 0.%u", a % 5, m); break;
    case 4: v = tcmd(c, "SETRANGE str:%u %u xyz", a, m % 20); break;
    case 5: v = tcmd(c, "GETDEL str:%u", a); break;
    case 6: v = tcmd(c, "SET str:%u v%u EX 100000", a, m); break;
    case 7: v = tcmd(c, "SETBIT bits:%u %u 1", a % 3, m * 7); break;
    /* lists */
    case 8: v = tcmd(c, "%s list:%u a%u b%u", m % 2 ? "LPUSH" : "RPUSH", a, m, m); break;
    case 9: v = tcmd(c, "%s list:%u %u", m % 2 ? "LPOP" : "RPOP", a, 1 + m % 3); break;
    case 10: v = tcmd(c, "LINSERT list:%u %s e%u i%u", a, m % 2 ? "BEFORE" : "AFTER", m % 40, m); break;
    case 11: v = tcmd(c, "LSET list:%u %d s%u", a, (int)(m % 20) - 10, m); break;
    case 12: v = tcmd(c, "LREM list:%u %d e%u", a, (int)(m % 5) - 2, m % 40); break;
    case 13: v = tcmd(c, "LMOVE list:%u list:%u %s %s", a, b, m % 2 ? "LEFT" : "RIGHT", m % 3 ? "LEFT" : "RIGHT"); break;
    case 14: v = tcmd(c, "LTRIM biglist %u -%u", m % 3, 1 + m % 3); break;
    /* sets */
    case 15: v = tcmd(c, "SADD set:%u %u m%u", a, m, m); break;
    case 16: v = tcmd(c, "SREM set:%u %u m%u", a, m % 50, m % 50); break;
    case 17: v = tcmd(c, "SPOP set:%u %u", a, m % 4); break;
    case 18: v = tcmd(c, "SMOVE set:%u set:%u m%u", a, b, m % 50); break;
    case 19: v = tcmd(c, "SUNIONSTORE set:%u set:%u set:%u", a, b, d); break;
    case 20: v = tcmd(c, "SINTERSTORE set:%u set:%u set:%u", a, b, d); break;
    case 21: v = tcmd(c, "SPOP bigset"); break;
    /* sorted sets */
    case 22: v = tcmd(c, "ZADD zset:%u %u.%u z%u", a, m, m % 10, m); break;
    case 23: v = tcmd(c, "ZINCRBY zset:%u 0.%u z%u", a, m, m % 60); break;
    case 24: v = tcmd(c, "ZREM zset:%u z%u", a, m % 60); break;
    case 25: v = tcmd(c, "%s zset:%u %u", m % 2 ? "ZPOPMIN" : "ZPOPMAX", a, 1 + m % 2); break;
    case 26: v = tcmd(c, "ZUNIONSTORE zset:%u 2 zset:%u zset:%u WEIGHTS 1 0.5", a, b, d); break;
    case 27: v = tcmd(c, "ZRANGESTORE zset:%u zset:%u 0 %u", a, b, m % 30); break;
    case 28: v = tcmd(c, "ZREMRANGEBYSCORE zset:%u %u %u", a, m % 50, m % 50 + 5); break;
    case 29: v = tcmd(c, "ZINCRBY bigzset 1.5 m%u", m); break;
    /* hashes */
    case 30: v = tcmd(c, "HSET hash:%u f%u x%u g%u y", a, m % 80, m, m % 80); break;
    case 31: v = tcmd(c, "HDEL hash:%u f%u f%u", a, m % 80, (m + 1) % 80); break;
    case 32: v = tcmd(c, "HINCRBY hash:%u n%u %d", a, m % 5, (int)m - 150); break;
    case 33: v = tcmd(c, "HINCRBYFLOAT hash:%u fl%u 0.%u", a, m % 3, m); break;
    case 34: v = tcmd(c, "HSETNX bighash new%u %u", m, m); break;
    /* streams */
    case 35: v = tcmd(c, "XADD stream:%u * f%u v%u", a, m, m); break;
    case 36: v = tcmd(c, "XADD stream:%u MAXLEN 4 * f v%u", a, m); break;
    case 37: v = tcmd(c, "XTRIM bigstream MAXLEN ~ %u", 300 + m); break;
    case 38: v = tcmd(c, "XADD bigstream * field %u", m); break;
    /* keys */
    case 39: v = tcmd(c, "RENAME %s:%u %s:%u", m % 2 ? "hash" : "zset", a, m % 2 ? "hash" : "zset", b); break;
    case 40: v = tcmd(c, "COPY %s:%u %s:%u REPLACE", m % 2 ? "list" : "set", a, m % 2 ? "list" : "set", b); break;
    case 41: v = tcmd(c, "DEL %s:%u", m % 3 == 0 ? "list" : m % 3 == 1 ? "stream" : "set", a); break;
    case 42: v = tcmd(c, "EXPIRE %s:%u 100000", m % 2 ? "list" : "zset", a); break;
    case 43: v = tcmd(c, "PERSIST %s:%u", m % 2 ? "list" : "zset", a); break;
    case 44: v = tcmd(c, "PEXPIRE str:%u 30", a); break;
    case 45: v = tcmd(c, "SET %s:%u overwritten", m % 2 ? "hash" : "set", a); break;
    case 46: v = tcmd(c, "RPOPLPUSH list:%u list:%u", a, b); break;
    case 47: v = tcmd(c, "LMPOP 2 list:%u list:%u LEFT COUNT 2", a, b); break;
    case 48: v = tcmd(c, "ZMPOP 2 zset:%u zset:%u MIN COUNT 2", a, b); break;
    case 49: v = tcmd(c, "MSET str:%u m%u str:%u n%u", a, m, b, m); break;
    /* more forms: options, scripts, transactions, the other types' stores */
    case 50: v = tcmd(c, "SET str:%u k%u KEEPTTL", a, m); break;
    case 51: v = tcmd(c, "SET str:%u g%u GET", a, m); break;
    case 52: v = tcmd(c, "GETEX str:%u %s", a, m % 2 ? "PERSIST" : "EX 100000"); break;
    case 53: v = tcmd(c, "EXPIRE %s:%u 100000 %s", m % 2 ? "hash" : "list", a, m % 3 ? "NX" : "GT"); break;
    case 54: v = tcmd(c, "PEXPIREAT %s:%u 1000", m % 2 ? "set" : "zset", a); break; /* in the past: deleted */
    case 55: v = tcmd(c, "SDIFFSTORE set:%u set:%u set:%u", a, b, d); break;
    case 56: v = tcmd(c, "ZINTERSTORE zset:%u 2 zset:%u zset:%u AGGREGATE MAX", a, b, d); break;
    case 57: v = tcmd(c, "ZDIFFSTORE zset:%u 2 zset:%u zset:%u", a, b, d); break;
    case 58: v = tcmd(c, "ZRANGESTORE zset:%u zset:%u (%u +inf BYSCORE LIMIT 0 5", a, b, m % 50); break;
    case 59: v = tcmd(c, "SORT list:%u BY nosort LIMIT 0 10 ALPHA STORE list:%u", a, b); break;
    case 60: v = tcmd(c, "GEOADD geo:%u %u.5 %u.25 p%u", a % 3, m % 170, m % 80, m); break;
    case 61: v = tcmd(c, "GEOSEARCHSTORE geo:%u geo:%u FROMLONLAT 10 10 BYRADIUS 5000 km", b % 3, a % 3); break;
    case 62: v = tcmd(c, "PFADD hll:%u e%u f%u", a % 3, m, m / 2); break;
    case 63: v = tcmd(c, "PFMERGE hll:%u hll:%u hll:%u", a % 3, b % 3, d % 3); break;
    case 64: v = tcmd(c, "BITOP %s bits:%u bits:%u bits:%u", m % 2 ? "OR" : "XOR", a % 3, b % 3, d % 3); break;
    case 65: v = tcmd(c, "EVAL redis.call('rpush',KEYS[1],ARGV[1])redis.call('lpop',KEYS[1]) 1 list:%u s%u", a, m); break;
    case 66: v = tcmd(c, "EVAL redis.call('hincrbyfloat',KEYS[1],'e',ARGV[1]) 1 hash:%u 1.%u", a, m); break;
    case 67: {
        /* a transaction over keys of both shards */
        rval_free(tcmd(c, "MULTI"));
        rval_free(tcmd(c, "SADD set:%u t%u", a, m));
        rval_free(tcmd(c, "ZADD zset:%u %u t%u", b, m, m));
        rval_free(tcmd(c, "RPOPLPUSH list:%u list:%u", a, b));
        v = tcmd(c, "EXEC");
        break;
    }
    case 68: v = tcmd(c, "RENAME stream:%u stream:%u", a, b); break;
    case 69: v = tcmd(c, "COPY stream:%u stream:%u REPLACE", a, b); break;
    case 70: v = tcmd(c, "XDEL stream:%u 0-1 %u-0", a, m); break;
    case 71: v = tcmd(c, "XADD stream:%u MINID ~ 0 * f %u", a, m); break;
    case 72: v = tcmd(c, "HSET bighash f%u %u", m, m); break;
    case 73: v = tcmd(c, "ZREMRANGEBYRANK bigzset 0 %u", m % 3); break;
    case 74: v = tcmd(c, "BLMOVE list:%u list:%u %s LEFT 0.01", a, b, m % 2 ? "LEFT" : "RIGHT"); break;
    case 75: v = tcmd(c, "SMOVE bigset set:%u member%u", a, m); break;
    case 76: v = tcmd(c, "ZADD zset:%u %s %u z%u", a, m % 2 ? "GT CH" : "NX INCR", m, m % 60); break;
    case 77: v = tcmd(c, "LMPOP 1 biglist RIGHT COUNT %u", 1 + m % 3); break;
    case 78: v = tcmd(c, "UNLINK %s:%u", m % 2 ? "hash" : "zset", a); break;
    default: v = tcmd(c, "SETRANGE str:%u %u big%u", a, m * 30, m); break;
    }
    /* WRONGTYPE (a key another write made a string) and the like are fine */
    rval_free(v);
}

static void test_random_mix_digest(void **state)
{
    (void)state;
    const char *const margs[] = { "--threads", "2", "--enable-debug-command", "yes", NULL };
    const char *const rargs[] = { "--threads", "1", "--enable-debug-command", "yes", NULL };
    const char *const redis_args[] = { "--enable-debug-command", "yes", NULL };
    bool redis = target_is_redis();
    struct server *m = start_node(redis ? redis_args : margs);
    struct server *r = start_node(redis ? redis_args : rargs);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load(mc);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 30000);
    expect_same_digest(mc, rc);

    /* RINGKV_TEST_SEED: another mix */
    known_cases(mc);
    wait_synced(mc, rc, 30000);
    expect_same_digest(mc, rc);
    assert_true(get_int(tcmd(rc, "TTL one")) > 0);

    unsigned seed = getenv("RINGKV_TEST_SEED") ? (unsigned)atol(getenv("RINGKV_TEST_SEED")) : 20261203;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2500; i++)
            random_write(mc, &seed);
        usleep(100 * 1000); /* the PEXPIRE 30 keys are past their time by now */
        for (int i = 0; i < 20; i++)
            rval_free(tcmd(mc, "EXISTS str:%d", i)); /* their DELs go out */
        wait_synced(mc, rc, 30000);
        expect_same_digest(mc, rc);
    }

    /* a second replica full-syncs the result */
    struct server *r2 = start_node(redis ? redis_args : margs);
    tconn *r2c = tconnect(r2->port);
    replicaof(r2c, m->port);
    wait_synced(mc, r2c, 30000);
    expect_same_digest(mc, r2c);
    assert_true(dbsize(mc) > 100);

    /* the digest sees one element more or less: the second replica, on
     * its own now, gets one */
    expect_ok(tcmd(r2c, "REPLICAOF NO ONE"));
    char *was = debug_digest(r2c);
    expect_int(tcmd(r2c, "RPUSH biglist one-more"), get_int(tcmd(mc, "LLEN biglist")) + 1);
    char *now = debug_digest(r2c);
    assert_string_not_equal(was, now);
    free(now);
    expect_bulk(tcmd(r2c, "RPOP biglist"), "one-more");
    now = debug_digest(r2c);
    assert_string_equal(was, now);
    free(now);
    free(was);
    tclose(r2c);
    tclose(mc);
    tclose(rc);
    node_stop(r2);
    node_stop(r);
    node_stop(m);
}

/* DEBUG CHANGE-REPL-ID: a new master_replid, no second one; the replica
 * linked goes on, and once its link is cut it cannot continue the old id:
 * a full sync, after which both are identical again. */
static void test_change_repl_id(void **state)
{
    (void)state;
    const char *const args[] = { "--threads", "2", "--enable-debug-command", "yes", NULL };
    const char *const redis_args[] = { "--enable-debug-command", "yes", NULL };
    bool redis = target_is_redis();
    struct server *m = start_node(redis ? redis_args : args);
    struct server *r = start_node(redis ? redis_args : args);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load(mc);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 30000);
    char *info = info_text(mc, "replication");
    char before[64], after[64], second[64];
    assert_true(info_str(info, "master_replid", before, sizeof before));
    free(info);
    long long full = info_field(mc, "stats", "sync_full");
    expect_ok(tcmd(mc, "DEBUG CHANGE-REPL-ID"));
    expect_error(tcmd(mc, "DEBUG CHANGE-REPL-ID now"),
                 "ERR unknown subcommand or wrong number of arguments for 'CHANGE-REPL-ID'. Try DEBUG HELP.");
    info = info_text(mc, "replication");
    assert_true(info_str(info, "master_replid", after, sizeof after));
    assert_true(info_str(info, "master_replid2", second, sizeof second));
    free(info);
    assert_int_equal(strlen(after), 40);
    assert_string_not_equal(before, after);
    assert_string_equal(second, "0000000000000000000000000000000000000000");
    /* the link goes on */
    expect_ok(tcmd(mc, "SET after-change 1"));
    wait_synced(mc, rc, 30000);
    expect_bulk(tcmd(rc, "GET after-change"), "1");
    /* cut, it comes back with a full sync */
    rval_free(tcmd(mc, "CLIENT KILL TYPE replica"));
    long long deadline = now_ms() + 30000;
    while (info_field(mc, "stats", "sync_full") == full && now_ms() < deadline)
        usleep(50 * 1000);
    assert_int_equal(info_field(mc, "stats", "sync_full"), full + 1);
    wait_synced(mc, rc, 30000);
    expect_same_digest(mc, rc);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_random_mix_digest, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_change_repl_id, redis_nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
