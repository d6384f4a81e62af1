/* DUMP / RESTORE: Redis's payloads both ways, Redis's errors in Redis's
 * order, expiry, replication of a RESTORE. Runs against redis-server too
 * (RINGKV_TEST_TARGET=redis); the payloads of the other side come from a
 * real redis-server this test starts beside the server under test. */
#include <limits.h>
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
/* the node and replication helpers; not every one is used here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#include "redis_nodes.h"
#pragma GCC diagnostic pop

/* DUMP key: the payload (a bulk), or NULL for nil. */
static struct rval *dump(tconn *c, const char *key)
{
    const char *argv[] = { "DUMP", key };
    tsendv(c, 2, argv);
    struct rval *v = tread(c, 5000);
    assert_non_null(v);
    if (v->type == R_NIL) {
        rval_free(v);
        return NULL;
    }
    assert_int_equal(v->type, R_BULK);
    return v;
}

/* RESTORE key ttl payload [options...] */
static struct rval *restore(tconn *c, const char *key, const char *ttl, const char *payload, size_t len,
                            const char *opt1, const char *opt2, const char *opt3)
{
    const char *argv[7] = { "RESTORE", key, ttl, payload };
    size_t lens[7] = { 7, strlen(key), strlen(ttl), len };
    int n = 4;
    const char *opts[] = { opt1, opt2, opt3 };
    for (int i = 0; i < 3 && opts[i]; i++) {
        argv[n] = opts[i];
        lens[n++] = strlen(opts[i]);
    }
    tsendb(c, n, argv, lens);
    struct rval *v = tread(c, 5000);
    assert_non_null(v);
    return v;
}

static void set_binary(tconn *c, const char *key, const char *val, size_t len)
{
    const char *argv[] = { "SET", key, val };
    size_t lens[] = { 3, strlen(key), len };
    tsendb(c, 3, argv, lens);
    expect_ok(tread(c, 5000));
}

static void expect_stored(tconn *c, const char *key, const char *val, size_t len)
{
    const char *argv[] = { "GET", key };
    tsendv(c, 2, argv);
    struct rval *v = tread(c, 5000);
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    assert_int_equal(v->len, len);
    assert_memory_equal(v->str, val, len);
    rval_free(v);
}

/* The values both sides move: integers of every encoding width, plain
 * strings at the length encodings' edges, long compressible strings (Redis
 * sends these LZF-compressed), binary bytes. */
#define NVALUES 12
static char *value_make(int i, size_t *len)
{
    static const char *small[] = { "0", "-1", "127", "-129", "40000", "2147483647", "12345678901", "", "hello" };
    if (i < 9) {
        *len = strlen(small[i]);
        return strdup(small[i]);
    }
    size_t n = i == 9 ? 100 : i == 10 ? 16384 : 70000;
    char *v = malloc(n);
    for (size_t k = 0; k < n; k++)
        v[k] = i == 11 ? (char)(k * 2654435761u >> 13) : "abcabcabd"[k % 9];
    *len = n;
    return v;
}

/* from -> to: SET on `from`, DUMP there, RESTORE on `to`, same value. */
static void move_values(tconn *from, tconn *to, const char *prefix)
{
    for (int i = 0; i < NVALUES; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s:%d", prefix, i);
        size_t len;
        char *val = value_make(i, &len);
        set_binary(from, key, val, len);
        struct rval *p = dump(from, key);
        assert_non_null(p);
        expect_ok(restore(to, key, "0", p->str, p->len, "REPLACE", NULL, NULL));
        expect_stored(to, key, val, len);
        expect_int(tcmd(to, "PTTL %s", key), -1);
        rval_free(p);
        free(val);
    }
}

static void test_payloads_both_ways(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *r = start_redis(NULL);
    tconn *c = tconnect(s->port), *rc = tconnect(r->port);
    move_values(rc, c, "from-redis");
    move_values(c, rc, "to-redis");
    move_values(c, c, "self");
    tclose(c);
    tclose(rc);
    node_stop(s);
    node_stop(r);
}

static void test_dump_missing_and_errors(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *r = start_redis(NULL);
    tconn *c = tconnect(s->port), *rc = tconnect(r->port);
    assert_null(dump(c, "nosuchkey"));
    expect_ok(tcmd(c, "SET k v"));
    struct rval *p = dump(c, "k");
    assert_non_null(p);

    /* Redis's order: options, an existing key, the TTL, the payload */
    expect_error(restore(c, "k", "0", p->str, p->len, "BOGUS", NULL, NULL), "ERR syntax error");
    expect_error(restore(c, "k", "-1", "junk", 4, NULL, NULL, NULL), "BUSYKEY Target key name already exists.");
    expect_error(restore(c, "new", "-1", "junk", 4, NULL, NULL, NULL), "ERR Invalid TTL value, must be >= 0");
    expect_error(restore(c, "new", "x", "junk", 4, NULL, NULL, NULL), "ERR value is not an integer or out of range");
    expect_error(restore(c, "new", "0", "junk", 4, NULL, NULL, NULL),
                 "ERR DUMP payload version or checksum are wrong");
    expect_error(restore(c, "new", "0", "", 0, NULL, NULL, NULL), "ERR DUMP payload version or checksum are wrong");
    /* one byte changed */
    char *bad = malloc(p->len);
    memcpy(bad, p->str, p->len);
    bad[1] ^= 1;
    expect_error(restore(c, "new", "0", bad, p->len, NULL, NULL, NULL), "ERR DUMP payload version or checksum are wrong");
    free(bad);
    /* a version from the future (RDB 99), checksum made right by no one:
     * still refused as a version */
    char *fut = malloc(p->len);
    memcpy(fut, p->str, p->len);
    fut[p->len - 10] = 99;
    expect_error(restore(c, "new", "0", fut, p->len, NULL, NULL, NULL), "ERR DUMP payload version or checksum are wrong");
    free(fut);
    expect_error(restore(c, "new", "0", p->str, p->len, "IDLETIME", "-1", NULL), "ERR Invalid IDLETIME value, must be >= 0");
    expect_error(restore(c, "new", "0", p->str, p->len, "FREQ", "256", NULL),
                 "ERR Invalid FREQ value, must be >= 0 and <= 255");
    expect_error(restore(c, "new", "0", p->str, p->len, "IDLETIME", "x", NULL), "ERR value is not an integer or out of range");
    expect_error(restore(c, "new", "0", p->str, p->len, "IDLETIME", NULL, NULL), "ERR syntax error");
    expect_int(tcmd(c, "EXISTS new"), 0);
    expect_ok(restore(c, "new", "0", p->str, p->len, "IDLETIME", "10", NULL));
    expect_ok(restore(c, "new", "0", p->str, p->len, "FREQ", "5", "REPLACE"));
    expect_bulk(tcmd(c, "GET new"), "v");

    /* a sorted set and a list from redis-server restore here (they were
     * refused with "Bad data format" before ringkv serialized them) */
    expect_int(tcmd(rc, "ZADD h 1 f"), 1);
    expect_int(tcmd(rc, "RPUSH l a b"), 2);
    struct rval *h = dump(rc, "h"), *l = dump(rc, "l");
    expect_ok(restore(c, "k", "0", h->str, h->len, "REPLACE", NULL, NULL));
    expect_bulk(tcmd(c, "ZSCORE k f"), "1");
    expect_ok(restore(c, "k", "0", l->str, l->len, "REPLACE", NULL, NULL));
    expect_bulk(tcmd(c, "LINDEX k -1"), "b");
    expect_ok(tcmd(c, "SET k v"));
    rval_free(h);
    rval_free(l);
    rval_free(p);
    expect_error_prefix(tcmd(c, "RESTORE k 0"), "ERR wrong number of arguments");
    expect_error_prefix(tcmd(c, "DUMP"), "ERR wrong number of arguments");
    tclose(c);
    tclose(rc);
    node_stop(s);
    node_stop(r);
}

static void test_restore_expiry(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET k v"));
    struct rval *p = dump(c, "k");
    /* a relative TTL */
    expect_ok(restore(c, "a", "100000", p->str, p->len, NULL, NULL, NULL));
    long long pttl = get_int(tcmd(c, "PTTL a"));
    assert_true(pttl > 90000 && pttl <= 100000);
    /* ABSTTL: an absolute unix time in ms */
    struct rval *t = tcmd(c, "TIME");
    long long now = atoll(t->elem[0]->str) * 1000 + atoll(t->elem[1]->str) / 1000;
    rval_free(t);
    char at[32];
    snprintf(at, sizeof at, "%lld", now + 500000);
    expect_ok(restore(c, "b", at, p->str, p->len, "ABSTTL", NULL, NULL));
    expect_int(tcmd(c, "PEXPIRETIME b"), now + 500000);
    /* a time already past: +OK, and the key is not there (REPLACE deletes
     * what was) */
    expect_ok(restore(c, "c", "1", p->str, p->len, "ABSTTL", NULL, NULL));
    expect_int(tcmd(c, "EXISTS c"), 0);
    expect_ok(restore(c, "k", "1", p->str, p->len, "ABSTTL", "REPLACE", NULL));
    expect_int(tcmd(c, "EXISTS k"), 0);
    /* an expired key is not busy */
    expect_ok(tcmd(c, "SET gone v PX 1"));
    usleep(20000);
    expect_ok(restore(c, "gone", "0", p->str, p->len, NULL, NULL, NULL));
    expect_int(tcmd(c, "PTTL gone"), -1);
    /* a TTL whose sum with the clock overflows: Redis's sum wraps and the
     * key is taken as already expired; ringkv keeps it with the furthest
     * time there is */
    expect_ok(restore(c, "far", "9223372036854775807", p->str, p->len, NULL, NULL, NULL));
    if (!target_is_redis())
        expect_int(tcmd(c, "EXISTS far"), 1);
    rval_free(p);
    tclose(c);
    node_stop(s);
}

/* RESTORE reaches a replica as what it did: the same value and the same
 * absolute expiry, on keys of every shard; REPLACE with a past time as a
 * deletion. */
static void test_restore_replicated(void **state)
{
    (void)state;
    struct server *m = start_node(NULL);
    struct server *r = start_node(NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    expect_ok(tcmd(mc, "SET src 12345"));
    struct rval *p = dump(mc, "src");
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "r%d", i);
        expect_ok(restore(mc, key, i % 2 ? "600000" : "0", p->str, p->len, NULL, NULL, NULL));
    }
    expect_ok(tcmd(mc, "SET doomed x"));
    expect_ok(restore(mc, "doomed", "1", p->str, p->len, "ABSTTL", "REPLACE", NULL));
    wait_synced(mc, rc, 10000);
    for (int i = 0; i < 20; i++) {
        expect_bulk(tcmd(rc, "GET r%d", i), "12345");
        long long me = get_int(tcmd(mc, "PEXPIRETIME r%d", i));
        expect_int(tcmd(rc, "PEXPIRETIME r%d", i), me);
    }
    expect_int(tcmd(rc, "EXISTS doomed"), 0);
    rval_free(p);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* A full sync carries each key as its DUMP payload (the RKV.RESTORE
 * frame): every kind of value arrives whole, with its absolute expiry. */
static void test_full_sync_values(void **state)
{
    (void)state;
    struct server *m = start_node(NULL);
    tconn *mc = tconnect(m->port);
    const char *texts[] = { "-0", "007", "2147483648", "-2147483648", " 1", "1.5" };
    int ntexts = (int)(sizeof(texts) / sizeof(texts[0]));
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < NVALUES + ntexts; i++) {
            char key[32];
            snprintf(key, sizeof key, "fs:%d:%d", round, i);
            size_t len;
            char *val = i < NVALUES ? value_make(i, &len) : strdup(texts[i - NVALUES]);
            if (i >= NVALUES)
                len = strlen(val);
            set_binary(mc, key, val, len);
            if (round == 1)
                expect_int(tcmd(mc, "PEXPIRE %s %d", key, 600000 + i), 1);
            free(val);
        }
    struct server *r = start_node(NULL);
    tconn *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < NVALUES + ntexts; i++) {
            char key[32];
            snprintf(key, sizeof key, "fs:%d:%d", round, i);
            size_t len;
            char *val = i < NVALUES ? value_make(i, &len) : strdup(texts[i - NVALUES]);
            if (i >= NVALUES)
                len = strlen(val);
            expect_stored(rc, key, val, len);
            long long at = get_int(tcmd(mc, "PEXPIRETIME %s", key));
            expect_int(tcmd(rc, "PEXPIRETIME %s", key), at);
            free(val);
        }
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}


/* ---- collections ---- */

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A collection's contents as one text, the same whatever order the server
 * answers in: a hash's "field=value" lines or a set's members, sorted; a
 * list's elements in order; a sorted set's "member=score" lines in order,
 * the score as the double it reads as (each side prints it its own way;
 * Redis 7.0 keeps ZADD's -0 as 0). */
static char *contents(tconn *c, const char *key)
{
    struct rval *t = tcmd(c, "TYPE %s", key);
    assert_int_equal(t->type, R_STATUS);
    bool hash = strcmp(t->str, "hash") == 0, list = strcmp(t->str, "list") == 0,
         zset = strcmp(t->str, "zset") == 0;
    assert_true(hash || list || zset || strcmp(t->str, "set") == 0);
    char kind[8];
    snprintf(kind, sizeof kind, "%s", t->str);
    rval_free(t);
    const char *argv[] = { hash ? "HGETALL" : list ? "LRANGE" : zset ? "ZRANGE" : "SMEMBERS", key, "0", "-1",
                           "WITHSCORES" };
    tsendv(c, list ? 4 : zset ? 5 : 2, argv);
    struct rval *v = tread(c, 10000);
    assert_non_null(v);
    assert_true(v->type == R_ARRAY || v->type == R_MAP || v->type == R_SET);
    bool pairs = hash || zset;
    size_t n = pairs ? v->n / 2 : v->n, total = 1;
    char **lines = calloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        const struct rval *a = v->elem[pairs ? 2 * i : i], *b = pairs ? v->elem[2 * i + 1] : NULL;
        char score[40];
        const char *second = b ? b->str : "";
        if (zset) {
            double d = strtod(b->str, NULL);
            snprintf(score, sizeof score, "%.17g", d == 0 ? 0.0 : d);
            second = score;
        }
        size_t len = a->len + strlen(second) + 3;
        lines[i] = malloc(len);
        snprintf(lines[i], len, b ? "%s=%s\n" : "%s\n", a->str, second);
        total += len;
    }
    if (!list && !zset)
        qsort(lines, n, sizeof *lines, by_text);
    char *out = malloc(total + 16);
    size_t at = (size_t)snprintf(out, 16, "%s:%zu\n", kind, n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(lines[i]);
        memcpy(out + at, lines[i], l);
        at += l;
        free(lines[i]);
    }
    out[at] = 0;
    free(lines);
    rval_free(v);
    return out;
}

/* The collections both sides move, in every encoding either side has:
 * hashes as listpack (integers of every width among the values) and
 * hashtable (by count, by a long value); sets as intset (64-bit members
 * too), listpack / small hashtable of strings, big intset-range sets past
 * set-max-intset-entries, big string sets. */
#define NCOLL 16
static const char *coll_name[NCOLL] = { "h-small", "h-big", "h-long", "s-ints", "s-strs", "s-ints-big", "s-big",
                                        "h-one", "l-small", "l-big", "l-long", "l-ints", "z-small", "z-big",
                                        "z-long", "z-one" };

/* RPUSH/ZADD key and n arguments made by make(i, buf) (their lengths as
 * returned), in one command. */
static void push_many(tconn *c, const char *cmd, const char *key, int n, size_t (*make)(int, char *), long long want)
{
    const char **argv = calloc((size_t)n + 2, sizeof *argv);
    size_t *lens = calloc((size_t)n + 2, sizeof *lens);
    argv[0] = cmd;
    lens[0] = strlen(cmd);
    argv[1] = key;
    lens[1] = strlen(key);
    for (int i = 0; i < n; i++) {
        char *b = malloc(80000);
        lens[i + 2] = make(i, b);
        argv[i + 2] = b;
    }
    tsendb(c, n + 2, argv, lens);
    expect_int(tread(c, 10000), want);
    for (int i = 0; i < n; i++)
        free((char *)argv[i + 2]);
    free(argv);
    free(lens);
}

/* 2000 elements of about 100 bytes and integers: many nodes */
static size_t elem_big(int i, char *b)
{
    if (i % 7 == 0)
        return (size_t)sprintf(b, "%lld", (long long)i * 7919 - 5000000);
    memset(b, 'a' + i % 26, 100);
    return 100 + (size_t)sprintf(b + 100, ":%d", i);
}

/* elements longer than a node: 70 KB, 64 KB + 1, a small one between */
static size_t elem_long(int i, char *b)
{
    size_t n = i == 0 ? 70000 : i == 1 ? 3 : i == 2 ? 65537 : 5000;
    memset(b, 'x' + i % 3, n);
    return n;
}

static size_t elem_int(int i, char *b)
{
    return (size_t)sprintf(b, "%lld", (i % 2 ? -1LL : 1LL) * ((long long)i * i * i * 104729 % 9000000000000000000LL));
}

/* score member pairs of a big sorted set */
static size_t zpair_big(int i, char *b)
{
    if (i % 2 == 0)
        return (size_t)sprintf(b, "%.17g", (i / 2) * 0.37 - 40 + (i % 3 ? 1e-9 : 0));
    return (size_t)sprintf(b, i % 6 == 1 ? "%d" : "member:%d", i / 2);
}

static size_t zpair_long(int i, char *b)
{
    if (i % 2 == 0)
        return (size_t)sprintf(b, "%d", i);
    size_t n = i == 1 ? 100 : 3;
    memset(b, 'm', n);
    b[n - 1] = (char)('0' + i);
    return n;
}

static void make_collection(tconn *c, const char *key, int which)
{
    expect_int(tcmd(c, "DEL %s", key), 0);
    char big[200];
    memset(big, 'v', 100);
    big[100] = 0;
    switch (which) {
    case 0:
        expect_int(tcmd(c, "HSET %s a 1 b hello c 300000 d -5 e 70000 f 5000000000 g -4000 h 00", key), 8);
        break;
    case 1:
        /* past hash-max-listpack-entries (ours 128, redis-server's 512) */
        for (int i = 0; i < 600; i++)
            expect_int(tcmd(c, "HSET %s field:%d %d", key, i, i * 37 - 1000), 1);
        break;
    case 2:
        expect_int(tcmd(c, "HSET %s short x long %s", key, big), 2);
        break;
    case 3:
        expect_int(tcmd(c, "SADD %s 1 2 3 -70000 5000000000 -9223372036854775808", key), 6);
        break;
    case 4:
        expect_int(tcmd(c, "SADD %s x y z 7 hello", key), 5);
        break;
    case 5:
        for (int i = 0; i < 600; i++)
            expect_int(tcmd(c, "SADD %s %d", key, i * 3 - 900), 1);
        break;
    case 6:
        for (int i = 0; i < 300; i++)
            expect_int(tcmd(c, "SADD %s member:%d", key, i), 1);
        break;
    case 7:
        expect_int(tcmd(c, "HSET %s only 1", key), 1);
        break;
    case 8:
        expect_int(tcmd(c, "RPUSH %s a -5 300 70000 5000000000 -9223372036854775808 hello 0 -0 007", key), 10);
        break;
    case 9:
        push_many(c, "RPUSH", key, 2000, elem_big, 2000);
        break;
    case 10:
        push_many(c, "RPUSH", key, 4, elem_long, 4);
        break;
    case 11:
        push_many(c, "RPUSH", key, 3000, elem_int, 3000);
        break;
    case 12:
        expect_int(tcmd(c, "ZADD %s inf a -inf b -0 c 1.5 d 0.1 e 1e308 f 5e-324 g -2 h 4096 i 2.2250738585072014e-308 j "
                           "-1.7976931348623157e308 k 123456789012345678 7",
                        key),
                   12);
        break;
    case 13:
        push_many(c, "ZADD", key, 600, zpair_big, 300);
        break;
    case 14:
        push_many(c, "ZADD", key, 6, zpair_long, 3);
        break;
    case 15:
        expect_int(tcmd(c, "ZADD %s 0 only", key), 1);
        break;
    }
}

/* from -> to: DUMP each collection on from, RESTORE it on to, the same
 * contents there; hashes in the encoding Redis would give them. */
static void move_collections(tconn *from, tconn *to, const char *prefix)
{
    /* lists not: a small list is a listpack in ringkv (as Redis 7.2), a
     * quicklist in redis-server 7.0 */
    static const char *hash_enc[NCOLL] = { "listpack", "hashtable", "hashtable", NULL,       NULL,       NULL,
                                           NULL,       "listpack",  NULL,        NULL,       NULL,       NULL,
                                           "listpack", "skiplist",  "skiplist",  "listpack" };
    for (int i = 0; i < NCOLL; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s:%s", prefix, coll_name[i]);
        make_collection(from, key, i);
        struct rval *p = dump(from, key);
        assert_non_null(p);
        expect_ok(restore(to, key, "0", p->str, p->len, "REPLACE", NULL, NULL));
        char *want = contents(from, key), *got = contents(to, key);
        assert_string_equal(got, want);
        free(want);
        free(got);
        expect_int(tcmd(to, "PTTL %s", key), -1);
        if (hash_enc[i])
            expect_bulk(tcmd(to, "OBJECT ENCODING %s", key), hash_enc[i]);
        rval_free(p);
    }
}

static void test_collections_both_ways(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *r = start_redis(NULL);
    tconn *c = tconnect(s->port), *rc = tconnect(r->port);
    move_collections(rc, c, "from-redis");
    move_collections(c, rc, "to-redis");
    move_collections(c, c, "self");
    /* restored by the thresholds of the config, as HSET would make it */
    expect_ok(tcmd(c, "CONFIG SET hash-max-listpack-entries 2"));
    struct rval *p = dump(rc, "from-redis:h-small");
    expect_ok(restore(c, "h2", "0", p->str, p->len, NULL, NULL, NULL));
    expect_bulk(tcmd(c, "OBJECT ENCODING h2"), "hashtable");
    expect_ok(tcmd(c, "CONFIG SET hash-max-listpack-entries 128"));
    rval_free(p);
    p = dump(rc, "from-redis:s-ints-big");
    expect_ok(tcmd(c, "CONFIG SET set-max-intset-entries 1000"));
    expect_ok(restore(c, "s2", "0", p->str, p->len, NULL, NULL, NULL));
    expect_bulk(tcmd(c, "OBJECT ENCODING s2"), "intset");
    expect_ok(tcmd(c, "CONFIG SET set-max-intset-entries 512"));
    rval_free(p);
    tclose(c);
    tclose(rc);
    node_stop(s);
    node_stop(r);
}

/* RESTORE payload bytes as given, with the footer made right (version 10,
 * its CRC-64 computed here): the object itself has to be refused. */
static struct rval *restore_object(tconn *c, const char *key, const char *obj, size_t n)
{
    char p[512];
    assert_true(n + 10 <= sizeof p);
    memcpy(p, obj, n);
    p[n] = 10;
    p[n + 1] = 0;
    uint64_t crc = 0;
    for (size_t i = 0; i < n + 2; i++) { /* CRC-64/Jones, bitwise */
        crc ^= (unsigned char)p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
    }
    for (int i = 0; i < 8; i++)
        p[n + 2 + i] = (char)(crc >> (8 * i));
    return restore(c, key, "0", p, n + 10, "REPLACE", NULL, NULL);
}

/* Damaged and forged collections: "Bad data format", the key as it was,
 * the server answering. */
static void test_collections_refused(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET k v"));
#define OBJ(lit) lit, sizeof(lit) - 1
    /* ours_only: what redis-server 7.0 does not check by default (it sizes
     * its table by a forged count before reading; without
     * sanitize-dump-payload it walks a listpack's entries only when used) */
    static const struct {
        const char *obj;
        size_t n;
        bool ours_only;
    } bad[] = {
        { OBJ("\x02\x80\xff\xff\xff\xff\x01x"), true },                      /* a set of 2^32 - 1 in 2 bytes */
        { OBJ("\x04\x81\x7f\xff\xff\xff\xff\xff\xff\xff\x01x\x01y"), true }, /* a hash of 2^63 */
        { OBJ("\x02\x00"), false },                                           /* empty */
        { OBJ("\x04\x01\x01x"), false },                                      /* a field, no value */
        { OBJ("\x0b\x0c\x02\x00\x00\x00\xff\xff\xff\x0f\x01\x00\x2c\x01"), false }, /* intset count */
        { OBJ("\x10\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\xf4\x01\xff"), true }, /* listpack int64 cut */
        { OBJ("\x10\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\x01\x01\xfe"), false }, /* no terminator */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i].ours_only && target_is_redis())
            continue;
        expect_error(restore_object(c, "k", bad[i].obj, bad[i].n), "ERR Bad data format");
        expect_bulk(tcmd(c, "GET k"), "v");
    }
    /* a field twice, a member twice: refused, where redis-server 7.0
     * (without sanitize-dump-payload) accepts a small hash holding a field
     * twice, a corrupt value */
    if (!target_is_redis()) {
        expect_error(restore_object(c, "k", OBJ("\x04\x02\x01x\x01y\x01x\x01z")), "ERR Bad data format");
        expect_error(restore_object(c, "k", OBJ("\x02\x02\xc0\x05\x01\x35")), "ERR Bad data format");
        expect_bulk(tcmd(c, "GET k"), "v");
    }
    expect_ok(restore_object(c, "k", OBJ("\x02\x02\xc0\x05\x01\x36")));
    expect_int(tcmd(c, "SISMEMBER k 6"), 1);
    expect_int(tcmd(c, "SCARD k"), 2);
#undef OBJ
    tclose(c);
    node_stop(s);
}

/* A RESTOREd collection reaches a replica whole, with its absolute expiry
 * (the store's SET of the object: DEL, HSET/SADD in chunks, PEXPIREAT),
 * whether restored fresh or over another value. */
static void test_restore_collections_replicated(void **state)
{
    (void)state;
    struct server *m = start_node(NULL);
    struct server *r = start_node(NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    for (int i = 0; i < NCOLL; i++) {
        char src[32], key[32];
        snprintf(src, sizeof src, "src:%d", i);
        snprintf(key, sizeof key, "r:%d", i);
        make_collection(mc, src, i);
        struct rval *p = dump(mc, src);
        expect_ok(tcmd(mc, "SET %s over", key));
        expect_ok(restore(mc, key, i % 2 ? "600000" : "0", p->str, p->len, "REPLACE", NULL, NULL));
        rval_free(p);
    }
    wait_synced(mc, rc, 10000);
    for (int i = 0; i < NCOLL; i++) {
        char key[32];
        snprintf(key, sizeof key, "r:%d", i);
        char *want = contents(mc, key), *got = contents(rc, key);
        assert_string_equal(got, want);
        free(want);
        free(got);
        long long at = get_int(tcmd(mc, "PEXPIRETIME %s", key));
        assert_true(i % 2 ? at > 0 : at == -1);
        expect_int(tcmd(rc, "PEXPIRETIME %s", key), at);
    }
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* RINGKV-RESTOREMANY key ttl payload ...: n triples in one command (the
 * payloads as DUMP gave them, p[i]; NULL: the bytes in bad). */
static struct rval *restoremany(tconn *c, int n, const char *const *keys, const char *const *ttls,
                                struct rval *const *p, const char *bad, size_t badlen)
{
    const char *argv[64];
    size_t lens[64];
    assert_true(1 + 3 * n <= 64);
    argv[0] = "RINGKV-RESTOREMANY";
    lens[0] = strlen(argv[0]);
    for (int i = 0; i < n; i++) {
        argv[1 + 3 * i] = keys[i];
        lens[1 + 3 * i] = strlen(keys[i]);
        argv[2 + 3 * i] = ttls[i];
        lens[2 + 3 * i] = strlen(ttls[i]);
        argv[3 + 3 * i] = p[i] ? p[i]->str : bad;
        lens[3 + 3 * i] = p[i] ? p[i]->len : badlen;
    }
    tsendb(c, 1 + 3 * n, argv, lens);
    struct rval *v = tread(c, 5000);
    assert_non_null(v);
    return v;
}

/* ringkv's multi-key RESTORE (a slot push's batches, issue 11): each
 * triple as RESTORE ... REPLACE (relative TTLs, collections, over keys of
 * other types), all or nothing (a bad payload or TTL anywhere writes no
 * key), RESTORE's errors, Redis's arity error for a count that is not
 * triples; the replica gets the keys through its stream (read after WAIT):
 * the same values and absolute expiries. Keys of one slot (as a push sends
 * them) and keys over both shards. ringkv only. */
static void test_restoremany(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    struct server *m = start_node(NULL);
    struct server *r = start_node(NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    expect_ok(tcmd(mc, "SET src:s hello"));
    expect_int(tcmd(mc, "HSET src:h a 1 b two"), 2);
    expect_int(tcmd(mc, "RPUSH src:l x y z"), 3);
    expect_int(tcmd(mc, "ZADD src:z 1 one 2.5 two"), 2);
    expect_int(tcmd(mc, "SADD src:set p q r"), 3);
    struct rval *ps = dump(mc, "src:s"), *ph = dump(mc, "src:h"), *pl = dump(mc, "src:l"), *pz = dump(mc, "src:z"),
                *pset = dump(mc, "src:set");
    /* keys there before, of other types: replaced */
    expect_int(tcmd(mc, "RPUSH {b}:s old"), 1);
    expect_ok(tcmd(mc, "SET {b}:h old"));
    expect_ok(tcmd(mc, "SET {b}:keep before"));
    const char *k1[] = { "{b}:s", "{b}:t", "{b}:h", "{b}:l", "{b}:z", "{b}:set", "{b}:s" };
    const char *t1[] = { "0", "600000", "0", "300000", "0", "0", "0" };
    struct rval *p1[] = { ps, ps, ph, pl, pz, pset, pz };
    /* the last triple restores {b}:s again: the later one wins, as with
     * RESTOREs one after the other */
    expect_ok(restoremany(mc, 7, k1, t1, p1, NULL, 0));
    expect_status(tcmd(mc, "TYPE {b}:s"), "zset");
    expect_bulk(tcmd(mc, "ZSCORE {b}:s two"), "2.5");
    expect_bulk(tcmd(mc, "GET {b}:t"), "hello");
    long long pttl = get_int(tcmd(mc, "PTTL {b}:t"));
    assert_true(pttl > 590000 && pttl <= 600000);
    expect_bulk(tcmd(mc, "HGET {b}:h b"), "two");
    expect_int(tcmd(mc, "PTTL {b}:h"), -1);
    expect_bulk(tcmd(mc, "LINDEX {b}:l 2"), "z");
    pttl = get_int(tcmd(mc, "PTTL {b}:l"));
    assert_true(pttl > 290000 && pttl <= 300000);
    expect_int(tcmd(mc, "SCARD {b}:set"), 3);
    /* keys on both shards (no tag): the same, one command */
    const char *k2[] = { "a:1", "a:2", "a:3", "a:4", "a:5", "a:6" };
    const char *t2[] = { "0", "0", "0", "0", "0", "400000" };
    struct rval *p2[] = { ps, ph, ps, pl, ps, pset };
    expect_ok(restoremany(mc, 6, k2, t2, p2, NULL, 0));
    expect_bulk(tcmd(mc, "GET a:5"), "hello");
    expect_bulk(tcmd(mc, "HGET a:2 a"), "1");
    expect_int(tcmd(mc, "SISMEMBER a:6 q"), 1);

    /* all or nothing: a bad payload, a bad TTL after good triples (of a
     * key there and of new keys) leaves every key as it was */
    const char *k3[] = { "{b}:keep", "{b}:n1", "{b}:n2" };
    const char *t3[] = { "0", "0", "0" };
    struct rval *p3[] = { ps, ph, NULL };
    expect_error(restoremany(mc, 3, k3, t3, p3, "junk", 4), "ERR DUMP payload version or checksum are wrong");
    char *flipped = malloc(ps->len);
    memcpy(flipped, ps->str, ps->len);
    flipped[1] ^= 1;
    expect_error(restoremany(mc, 3, k3, t3, p3, flipped, ps->len), "ERR DUMP payload version or checksum are wrong");
    free(flipped);
    /* a forged object with a right footer: a set of 2^32 - 1 in 2 bytes */
    char forged[24] = "\x02\x80\xff\xff\xff\xff\x01x";
    size_t fn = 8;
    forged[fn] = 10;
    forged[fn + 1] = 0;
    uint64_t crc = 0;
    for (size_t i = 0; i < fn + 2; i++) {
        crc ^= (unsigned char)forged[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
    }
    for (int i = 0; i < 8; i++)
        forged[fn + 2 + i] = (char)(crc >> (8 * i));
    expect_error(restoremany(mc, 3, k3, t3, p3, forged, fn + 10), "ERR Bad data format");
    struct rval *p4[] = { ps, ph, ps };
    const char *t4[] = { "0", "0", "-5" };
    expect_error(restoremany(mc, 3, k3, t4, p4, NULL, 0), "ERR Invalid TTL value, must be >= 0");
    const char *t5[] = { "0", "soon", "0" };
    expect_error(restoremany(mc, 3, k3, t5, p4, NULL, 0), "ERR value is not an integer or out of range");
    expect_bulk(tcmd(mc, "GET {b}:keep"), "before");
    expect_int(tcmd(mc, "EXISTS {b}:n1 {b}:n2"), 0);

    /* the arity: at least one triple, and only whole ones (in MULTI too,
     * where the router's check is not made) */
    expect_error(tcmd(mc, "RINGKV-RESTOREMANY k 0"), "ERR wrong number of arguments for 'ringkv-restoremany' command");
    expect_error(tcmd(mc, "RINGKV-RESTOREMANY"), "ERR wrong number of arguments for 'ringkv-restoremany' command");
    const char *odd[] = { "RINGKV-RESTOREMANY", "{b}:n1", "0", ps->str, "{b}:n2" };
    size_t oddl[] = { 18, 6, 1, ps->len, 6 };
    tsendb(mc, 5, odd, oddl);
    expect_error(tread(mc, 5000), "ERR wrong number of arguments for 'ringkv-restoremany' command");
    expect_ok(tcmd(mc, "MULTI"));
    tsendb(mc, 5, odd, oddl);
    expect_status(tread(mc, 5000), "QUEUED");
    struct rval *ex = tcmd(mc, "EXEC");
    assert_int_equal(ex->type, R_ARRAY);
    assert_int_equal(ex->n, 1);
    assert_int_equal(ex->elem[0]->type, R_ERROR);
    assert_string_equal(ex->elem[0]->str, "ERR wrong number of arguments for 'ringkv-restoremany' command");
    rval_free(ex);
    expect_int(tcmd(mc, "EXISTS {b}:n1 {b}:n2"), 0);

    /* the replica: what the master has, read after WAIT */
    expect_int(tcmd(mc, "WAIT 1 5000"), 1);
    const char *coll[] = { "{b}:s", "{b}:h", "{b}:l", "{b}:set", "a:2", "a:4", "a:6" };
    for (size_t i = 0; i < sizeof coll / sizeof coll[0]; i++) {
        char *want = contents(mc, coll[i]), *got = contents(rc, coll[i]);
        assert_string_equal(got, want);
        free(want);
        free(got);
    }
    const char *all[] = { "{b}:s", "{b}:t", "{b}:h", "{b}:l", "{b}:set", "a:1", "a:3", "a:5", "a:6" };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        long long at = get_int(tcmd(mc, "PEXPIRETIME %s", all[i]));
        expect_int(tcmd(rc, "PEXPIRETIME %s", all[i]), at);
    }
    expect_bulk(tcmd(rc, "GET {b}:t"), "hello");
    expect_bulk(tcmd(rc, "GET a:3"), "hello");
    expect_bulk(tcmd(rc, "GET {b}:keep"), "before");
    expect_int(tcmd(rc, "EXISTS {b}:n1 {b}:n2"), 0);
    rval_free(ps);
    rval_free(ph);
    rval_free(pl);
    rval_free(pz);
    rval_free(pset);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_payloads_both_ways, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_dump_missing_and_errors, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_restore_expiry, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_restore_replicated, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_full_sync_values, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_collections_both_ways, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_collections_refused, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_restore_collections_replicated, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_restoremany, redis_nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
