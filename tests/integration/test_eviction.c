/* maxmemory and its policies: with allkeys-lru memory stays near the limit,
 * keys are evicted and recently used keys outlive untouched ones; with
 * noeviction writes get -OOM while reads still work; volatile-lru evicts only
 * keys that have a TTL. maxmemory bounds used_memory (minus
 * mem_not_counted_for_evict) as in Redis, and a limit set far below the
 * data is reached in bounded steps, the server answering all along. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define LIMIT (2LL * 1024 * 1024)
#define VALUE_SIZE 1000

static char value[VALUE_SIZE + 1];

/* SET prefix:i for i in [from, to) with `value`, pipelined in batches; extra
 * arguments (e.g. "EX", "1000") appended. Returns how many got an error. */
static int write_keys(tconn *t, const char *prefix, int from, int to, const char *ex, const char *exv)
{
    int errors = 0;
    char key[64];
    for (int base = from; base < to; base += 200) {
        int end = base + 200 < to ? base + 200 : to;
        for (int i = base; i < end; i++) {
            snprintf(key, sizeof key, "%s:%d", prefix, i);
            const char *a[] = { "SET", key, value, ex, exv };
            tsendv(t, ex ? 5 : 3, a);
        }
        for (int i = base; i < end; i++) {
            struct rval *r = tread(t, 10000);
            assert_non_null(r);
            if (r->type == R_ERROR) {
                assert_string_equal(r->str, "OOM command not allowed when used memory > 'maxmemory'.");
                errors++;
            } else {
                assert_int_equal(r->type, R_STATUS);
            }
            rval_free(r);
        }
    }
    return errors;
}

/* How many of prefix:i, i in [from, to), still exist (GET, which also counts
 * as a use: call it once at the end). */
static int count_present(tconn *t, const char *prefix, int from, int to)
{
    int n = 0;
    char key[64];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "%s:%d", prefix, i);
        const char *a[] = { "EXISTS", key };
        tsendv(t, 2, a);
    }
    for (int i = from; i < to; i++) {
        struct rval *r = tread(t, 10000);
        assert_non_null(r);
        assert_int_equal(r->type, R_INT);
        n += (int)r->integer;
        rval_free(r);
    }
    return n;
}

static void touch_keys(tconn *t, const char *prefix, int from, int to)
{
    char key[64];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "%s:%d", prefix, i);
        const char *a[] = { "GET", key };
        tsendv(t, 2, a);
    }
    for (int i = from; i < to; i++)
        rval_free(tread(t, 10000));
}

static void test_allkeys_lru(void **state)
{
    struct server s;
    /* 4mb: a round of writes is under half of what fits in the data's
     * part of it (an idle node's own megabyte, its backlog, counts in
     * used_memory and so against maxmemory, as in Redis) */
    const char *args[] = { "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru", NULL };
    server_start(&s, args);
    tconn *t = tconnect(s.port);
    enum { HOT = 100, BULK = 18000, ROUND = 1000, ROUNDS = 3 };
    long long peak = 0;
    /* 18 MB of values through a 4 MB limit */
    for (int base = 0; base < BULK; base += 1000) {
        assert_int_equal(write_keys(t, "bulk", base, base + 1000, NULL, NULL), 0);
        long long used = info_field(t, "memory", "used_memory");
        if (used > peak)
            peak = used;
    }
    /* then hot and cold keys; the hot ones are used before each later round
     * of writes, the cold ones never. Redis keeps recency in whole seconds,
     * hence the pauses between rounds. */
    assert_int_equal(write_keys(t, "hot", 0, HOT, NULL, NULL), 0);
    assert_int_equal(write_keys(t, "cold", 0, HOT, NULL, NULL), 0);
    for (int r = 0; r < ROUNDS; r++) {
        usleep(1100 * 1000);
        touch_keys(t, "hot", 0, HOT);
        assert_int_equal(write_keys(t, "late", r * ROUND, (r + 1) * ROUND, NULL, NULL), 0);
        long long used = info_field(t, "memory", "used_memory");
        if (used > peak)
            peak = used;
    }
    long long evicted = info_field(t, "stats", "evicted_keys");
    /* the settled figure: the memory outside the stores (the pipeline's
     * input buffers, given back at the next tick) is sampled once a tick,
     * so right after a round it may still count a buffer already trimmed
     * (under ASan, whose ticks lag, up to 6 % over was seen); the peak
     * keeps the figures taken right after each round */
    long long at_once = info_field(t, "memory", "used_memory");
    usleep(300 * 1000);
    long long used = info_field(t, "memory", "used_memory");
    print_message("used_memory %lld (%lld right after the last round; peak %lld, limit %lld), evicted_keys %lld\n",
                  used, at_once, peak, 2 * LIMIT, evicted);
    assert_true(evicted > 0);
    assert_true(used <= 2 * LIMIT + LIMIT / 10);
    assert_true(peak <= 2 * LIMIT + LIMIT / 5);
    struct rval *v = tcmd(t, "DBSIZE");
    assert_true(v->integer < BULK);
    rval_free(v);
    int hot = count_present(t, "hot", 0, HOT);
    int cold = count_present(t, "cold", 0, HOT);
    print_message("survivors: hot %d/%d, cold %d/%d\n", hot, HOT, cold, HOT);
    assert_true(hot > cold);
    assert_true(hot >= HOT * 2 / 5); /* Redis 7.0 itself keeps about half */
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
}

static void test_noeviction(void **state)
{
    struct server s;
    const char *args[] = { "--maxmemory", "2mb", "--maxmemory-policy", "noeviction", NULL };
    server_start(&s, args);
    tconn *t = tconnect(s.port);
    expect_ok(tcmd(t, "SET first 1"));
    int errors = 0, written = 0;
    while (errors == 0 && written < 20000) {
        errors = write_keys(t, "fill", written, written + 1000, NULL, NULL);
        written += 1000;
    }
    assert_true(errors > 0);
    /* still full: more writes of the same size are refused too */
    assert_true(write_keys(t, "more", 0, 10, NULL, NULL) > 0);
    /* reads and deletes still work */
    expect_bulk(tcmd(t, "GET first"), "1");
    expect_int(tcmd(t, "EXISTS fill:0"), 1);
    expect_int(tcmd(t, "DEL fill:0"), 1);
    expect_status(tcmd(t, "PING"), "PONG");
    assert_int_equal(info_field(t, "stats", "evicted_keys"), 0);
    /* raising the limit lets writes in again */
    expect_ok(tcmd(t, "CONFIG SET maxmemory 0"));
    expect_ok(tcmd(t, "SET more 1"));
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
}

static void test_volatile_lru(void **state)
{
    struct server s;
    const char *args[] = { "--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru", NULL };
    server_start(&s, args);
    tconn *t = tconnect(s.port);
    enum { KEEP = 300 };
    assert_int_equal(write_keys(t, "persist", 0, KEEP, NULL, NULL), 0);
    assert_int_equal(write_keys(t, "vol", 0, 10000, "EX", "1000"), 0);
    assert_true(info_field(t, "stats", "evicted_keys") > 0);
    assert_int_equal(count_present(t, "persist", 0, KEEP), KEEP);
    assert_true(count_present(t, "vol", 0, 10000) < 10000);
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
}

/* Redis bounds used_memory minus mem_not_counted_for_evict (replicas'
 * buffers: none here) by maxmemory: a fill with allkeys-lru keeps
 * used_memory at maxmemory, give or take the last writes' buffers. Before
 * ringkv bounded only its stores' data by maxmemory, and used_memory ran a
 * megabyte (its backlog, its buffers) over a small limit. */
static void test_used_memory_bounded(void **state)
{
    (void)state;
    enum { LIMIT_MB = 8, BULK = 30000 };
    const long long limit = LIMIT_MB * 1024LL * 1024;
    struct server s;
    const char *args[] = { "--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru", NULL };
    server_start(&s, args);
    tconn *t = tconnect(s.port);
    assert_int_equal(info_field(t, "memory", "mem_not_counted_for_evict"), 0); /* no replicas */
    long long peak = 0;
    for (int base = 0; base < BULK; base += 1000) {
        assert_int_equal(write_keys(t, "fill", base, base + 1000, NULL, NULL), 0);
        long long used = info_field(t, "memory", "used_memory");
        if (used > peak)
            peak = used;
    }
    long long used = info_field(t, "memory", "used_memory");
    long long not_counted = info_field(t, "memory", "mem_not_counted_for_evict");
    long long evicted = info_field(t, "stats", "evicted_keys");
    struct rval *v = tcmd(t, "DBSIZE");
    long long keys = v->integer;
    rval_free(v);
    print_message("used_memory %lld (peak %lld, maxmemory %lld, not counted %lld), keys %lld, evicted %lld\n",
                  used, peak, limit, not_counted, keys, evicted);
    assert_true(evicted > 0);
    /* at maxmemory, not far under it: the data fills what is left */
    assert_true(used - not_counted > limit - limit / 5);
    assert_true(used - not_counted <= limit + limit / 20);
    assert_true(peak <= limit + limit / 10);
    assert_true(keys > 1000);
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
}

/* A replica that does not read: the master's output to it grows, and as in
 * Redis that memory is mem_not_counted_for_evict, not a reason to evict the
 * data (with it counted, the master would evict nearly every key). */
static void test_replica_output_not_counted(void **state)
{
    (void)state;
    const long long limit = 8 * 1024 * 1024;
    struct server m, r;
    const char *margs[] = { "--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru", "--save", "", NULL };
    server_start(&m, margs);
    const char *rargs[] = { "--save", "", NULL };
    server_start(&r, rargs);
    tconn *t = tconnect(m.port);
    tconn *rt = tconnect(r.port);
    expect_ok(tcmd(rt, "REPLICAOF 127.0.0.1 %d", m.port));
    long long deadline = now_ms() + 10000;
    for (;;) {
        struct rval *ri = tcmd(rt, "INFO replication");
        bool up = strstr(ri->str, "master_link_status:up") != NULL;
        rval_free(ri);
        if (up && info_field(t, "replication", "connected_slaves") >= 1)
            break;
        assert_true(now_ms() < deadline);
        usleep(50 * 1000);
    }
    tclose(rt);
    process_stop(r.pid);
    assert_int_equal(write_keys(t, "rep", 0, 12000, NULL, NULL), 0); /* 12 MB through 8mb */
    usleep(300 * 1000); /* a tick or more: the buffers sampled */
    long long used = info_field(t, "memory", "used_memory");
    long long not_counted = info_field(t, "memory", "mem_not_counted_for_evict");
    struct rval *v = tcmd(t, "DBSIZE");
    long long keys = v->integer;
    rval_free(v);
    print_message("used_memory %lld, not counted %lld, keys %lld\n", used, not_counted, keys);
    kill(r.pid, SIGCONT);
    assert_true(not_counted > 2 * 1024 * 1024);
    assert_true(used - not_counted <= limit + limit / 10);
    /* the data keeps room: with the replica's output counted, only the
     * floor was left (1586 keys); Redis holds ~5700, ringkv ~5400 (~2700
     * under ASan: the output moving between shards is sampled a tick
     * apart, and a momentary overestimate evicts for good) */
    assert_true(keys > 2000);
    tclose(t);
    assert_int_equal(server_stop(&r), 0);
    assert_int_equal(server_stop(&m), 0);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* keys k:0.. k:<n-1> (a multiple of 1000) with 14-byte values, pipelined
 * 1000 at a time. */
static void load_small_keys(tconn *t, int n)
{
    char key[32], val[32];
    for (int base = 0; base < n; base += 1000) {
        for (int i = base; i < base + 1000; i++) {
            snprintf(key, sizeof key, "k:%d", i);
            snprintf(val, sizeof val, "value-%08d", i);
            const char *a[] = { "SET", key, val };
            tsendv(t, 3, a);
        }
        for (int i = base; i < base + 1000; i++) {
            struct rval *r = tread(t, 10000);
            assert_non_null(r);
            assert_int_equal(r->type, R_STATUS);
            rval_free(r);
        }
    }
}

/* maxmemory set far below the data (300k keys, then `limit`) is reached in
 * bounded steps: every PING meanwhile is answered within a bounded time,
 * and the end is a store near its limit, not an empty one. Before, one
 * eviction call ran until under the limit (1161 ms with the shard deaf),
 * and as a shrinking table's old and new arrays both counted against a
 * share smaller than the old one, it evicted every key. */
static void shrink_to(const char *limit, long long used_max)
{
    enum { KEYS = 300000 };
    struct server s;
    server_start(&s, NULL);
    tconn *t = tconnect(s.port);
    load_small_keys(t, KEYS);
    expect_ok(tcmd(t, "CONFIG SET maxmemory-policy allkeys-lru"));
    expect_ok(tcmd(t, "CONFIG SET maxmemory %s", limit));
    long long worst = 0, start = mono_ms(), keys = KEYS, stable_since = mono_ms();
    int pings = 0;
    /* done: a second without an eviction once the shards are no longer
     * over their shares (current_eviction_exceeded_time back to 0). Not a
     * quiet second alone: on a loaded machine under ASan the first
     * eviction came after more than a second, and a shrinking table's
     * rehash, which evicts nothing meanwhile, can take as long (CI ended
     * the loop at 300000 and 218504 keys) */
    while (mono_ms() - start < 120000) {
        long long t0 = mono_ms();
        expect_status(tcmd(t, "PING"), "PONG");
        long long took = mono_ms() - t0;
        worst = took > worst ? took : worst;
        pings++;
        struct rval *v = tcmd(t, "DBSIZE");
        long long now_keys = v->integer;
        rval_free(v);
        if (now_keys != keys) {
            keys = now_keys;
            stable_since = mono_ms();
        } else if (mono_ms() - stable_since > 1000 && keys < KEYS &&
                   info_field(t, "stats", "current_eviction_exceeded_time") == 0) {
            break;
        }
        usleep(2000);
    }
    long long used = info_field(t, "memory", "used_memory");
    print_message("worst PING %lld ms over %d, keys left %lld, used_memory %lld\n", worst, pings, keys, used);
    assert_true(worst < 500); /* answering, not fast: a loose bound */
    assert_true(keys > 0);
    assert_true(keys < KEYS / 10);
    assert_true(used < used_max);
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
}

static void test_eviction_in_steps(void **state)
{
    (void)state;
    shrink_to("2mb", 2 * 1024 * 1024 + 200 * 1024);
}

/* 1mb is about what an idle node holds (its backlog, its buffers): Redis
 * evicts every key there; ringkv keeps each store a floor of a quarter of
 * maxmemory / shards (README, "Memory"), so a burst of buffers never
 * empties it. */
static void test_eviction_floor(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    shrink_to("1mb", 2 * 1024 * 1024);
}

/* OBJECT IDLETIME and FREQ give real values (they answered 0 always
 * before): IDLETIME grows while a key is not used and goes back to 0
 * when it is, and does not count itself as a use; under an LFU policy
 * FREQ grows with accesses, a new key starting at Redis's 5, while
 * IDLETIME answers Redis's error (and FREQ under LRU), of every type. */
static void test_object_idletime_freq(void **state)
{
    (void)state;
    struct server s;
    const char *args[] = { NULL };
    server_start(&s, args);
    tconn *t = tconnect(s.port);
    expect_ok(tcmd(t, "SET k v"));
    expect_int(tcmd(t, "HSET h f v"), 1);
    expect_int(tcmd(t, "RPUSH l a"), 1);
    expect_int(tcmd(t, "ZADD z 1 m"), 1);
    expect_int(tcmd(t, "SADD st m"), 1);
    expect_int(tcmd(t, "OBJECT IDLETIME k"), 0);
    sleep(3);
    /* another key used meanwhile moves the clock on: k stays idle */
    expect_ok(tcmd(t, "SET other v"));
    static const char *keys[] = { "k", "h", "l", "z", "st" };
    for (int i = 0; i < 5; i++) {
        long long idle = get_int(tcmd(t, "OBJECT IDLETIME %s", keys[i]));
        if (idle < 2 || idle > 4)
            fail_msg("OBJECT IDLETIME %s: %lld after 3 s", keys[i], idle);
    }
    expect_bulk(tcmd(t, "GET k"), "v");
    expect_int(tcmd(t, "OBJECT IDLETIME k"), 0);
    expect_int(tcmd(t, "LLEN l"), 1);
    expect_int(tcmd(t, "OBJECT IDLETIME l"), 0);
    long long idle = get_int(tcmd(t, "OBJECT IDLETIME h"));
    assert_true(idle >= 2); /* asking is no use */
    /* RESTORE ... IDLETIME: as old as asked (ringkv: as far back as its
     * clock's history goes, here the 3 s since the first write) */
    struct rval *p = tcmd(t, "DUMP k");
    assert_int_equal(p->type, R_BULK);
    const char *ra[] = { "RESTORE", "old", "0", p->str, "IDLETIME", "1000" };
    size_t rl[] = { 7, 3, 1, p->len, 8, 4 };
    tsendb(t, 6, ra, rl);
    expect_ok(tread(t, 5000));
    idle = get_int(tcmd(t, "OBJECT IDLETIME old"));
    assert_true(idle >= 2 && idle <= 1000);
    expect_nil(tcmd(t, "OBJECT IDLETIME missing"));
    expect_error(tcmd(t, "OBJECT FREQ k"), "ERR An LFU maxmemory policy is not selected, access frequency not "
                                           "tracked. Please note that when switching between policies at "
                                           "runtime LRU and LFU data will take some time to adjust.");

    expect_ok(tcmd(t, "CONFIG SET maxmemory-policy allkeys-lfu"));
    usleep(300 * 1000); /* ringkv's shards take the policy on at their next tick */
    expect_error(tcmd(t, "OBJECT IDLETIME k"), "ERR An LFU maxmemory policy is selected, idle time not tracked. "
                                               "Please note that when switching between policies at runtime LRU "
                                               "and LFU data will take some time to adjust.");
    expect_ok(tcmd(t, "SET fresh v"));
    expect_int(tcmd(t, "OBJECT FREQ fresh"), 5);
    /* RESTORE ... FREQ sets the counter */
    const char *rf[] = { "RESTORE", "often", "0", p->str, "FREQ", "100" };
    size_t rfl[] = { 7, 5, 1, p->len, 4, 3 };
    tsendb(t, 6, rf, rfl);
    expect_ok(tread(t, 5000));
    expect_int(tcmd(t, "OBJECT FREQ often"), 100);
    rval_free(p);
    expect_int(tcmd(t, "HSET hf f v"), 1);
    long long before = get_int(tcmd(t, "OBJECT FREQ hf"));
    for (int i = 0; i < 300; i++) {
        expect_bulk(tcmd(t, "GET fresh"), "v");
        expect_bulk(tcmd(t, "HGET hf f"), "v");
    }
    long long after = get_int(tcmd(t, "OBJECT FREQ fresh")), hafter = get_int(tcmd(t, "OBJECT FREQ hf"));
    print_message("OBJECT FREQ: 5 -> %lld after 300 GETs; a hash %lld -> %lld\n", after, before, hafter);
    /* with lfu-log-factor 10, 300 accesses make about 10 */
    assert_true(after > 6 && after < 20);
    assert_true(hafter > before);
    expect_nil(tcmd(t, "OBJECT FREQ missing"));
    tclose(t);
    server_stop(&s);
}

/* allkeys-lfu evicts the keys least used: keys read many times outlive
 * keys written once, however recently those were written (allkeys-lru
 * would evict the hot keys first: they are the least recent). 100 reads
 * make a counter of about 10; it decays by one a minute, so it stays
 * above a new key's 5 even if the writes take minutes (a sanitizer on a
 * loaded machine). */
static void test_allkeys_lfu(void **state)
{
    (void)state;
    struct server s;
    const char *args[] = { "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lfu", NULL };
    server_start(&s, args);
    tconn *t = tconnect(s.port);
    usleep(300 * 1000);
    enum { HOT = 100 };
    assert_int_equal(write_keys(t, "hot", 0, HOT, NULL, NULL), 0);
    for (int r = 0; r < 100; r++)
        touch_keys(t, "hot", 0, HOT);
    /* 10 MB of keys used once, written after the hot ones */
    for (int base = 0; base < 10000; base += 1000)
        assert_int_equal(write_keys(t, "once", base, base + 1000, NULL, NULL), 0);
    long long evicted = info_field(t, "stats", "evicted_keys");
    int hot = count_present(t, "hot", 0, HOT);
    print_message("allkeys-lfu: evicted %lld, hot keys left %d of %d\n", evicted, hot, HOT);
    assert_true(evicted > 0);
    assert_true(hot >= HOT * 9 / 10);
    tclose(t);
    server_stop(&s);
}

/* Fill a fresh store with `keys` small keys, then set maxmemory `limit`
 * under allkeys-lru and wait until the evictions stop (a second without
 * one). */
static void fill_and_shrink(tconn *t, int keys, const char *limit)
{
    expect_ok(tcmd(t, "CONFIG SET maxmemory 0"));
    expect_ok(tcmd(t, "FLUSHALL"));
    expect_ok(tcmd(t, "CONFIG RESETSTAT"));
    load_small_keys(t, keys);
    expect_ok(tcmd(t, "CONFIG SET maxmemory-policy allkeys-lru"));
    expect_ok(tcmd(t, "CONFIG SET maxmemory %s", limit));
    long long start = mono_ms(), last = keys, stable_since = mono_ms();
    while (mono_ms() - start < 60000) {
        /* a write: eviction's first step (unbounded at tenacity 100: under
         * a sanitizer build it may take seconds) */
        const char *poke[] = { "SET", "poke", "x" };
        tsendv(t, 3, poke);
        expect_ok(tread(t, 60000));
        long long now_keys = get_int(tcmd(t, "DBSIZE"));
        if (now_keys != last) {
            last = now_keys;
            stable_since = mono_ms();
        } else if (mono_ms() - stable_since > 1000) {
            break;
        }
        usleep(5000);
    }
    print_message("%d keys shrunk to %lld\n", keys, last);
    assert_true(last < keys / 2);
}

/* maxmemory-eviction-tenacity bounds one eviction step as Redis's does:
 * at 100 a step is unbounded, so shrinking 80k keys to 2mb never stops
 * at a time bound (eviction_time_cap_reached_count stays 0); at 10 (500
 * us) the same shrink (tens of thousands of keys to evict) cannot be done
 * in one step and stops at its bound over and over. CONFIG GET/SET with
 * Redis's range and error. */
static void test_eviction_tenacity(void **state)
{
    (void)state;
    struct server s;
    static const char *const no_save[] = { "--save", "", NULL }; /* no dump.rdb left by redis-server */
    server_start(&s, target_is_redis() ? no_save : NULL);
    tconn *t = tconnect(s.port);
    struct rval *v = tcmd(t, "CONFIG GET maxmemory-eviction-tenacity");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[1]->str, "10");
    rval_free(v);
    expect_error(tcmd(t, "CONFIG SET maxmemory-eviction-tenacity 101"),
                 "ERR CONFIG SET failed (possibly related to argument 'maxmemory-eviction-tenacity') - "
                 "argument must be between 0 and 100 inclusive");
    expect_ok(tcmd(t, "CONFIG SET maxmemory-eviction-tenacity 100"));
    v = tcmd(t, "CONFIG GET maxmemory-eviction-tenacity");
    assert_string_equal(v->elem[1]->str, "100");
    rval_free(v);
    if (target_is_redis()) { /* the step counter is ringkv's */
        tclose(t);
        assert_int_equal(server_stop(&s), 0);
        return;
    }
    fill_and_shrink(t, 80000, "2mb");
    assert_true(info_field(t, "stats", "evicted_keys") > 40000);
    assert_int_equal(info_field(t, "stats", "eviction_time_cap_reached_count"), 0);
    assert_int_equal(info_field(t, "stats", "current_eviction_exceeded_time"), 0);
    info_field(t, "stats", "total_eviction_exceeded_time");

    expect_ok(tcmd(t, "CONFIG SET maxmemory-eviction-tenacity 10"));
    fill_and_shrink(t, 80000, "2mb");
    long long capped = info_field(t, "stats", "eviction_time_cap_reached_count");
    print_message("tenacity 10: %lld steps stopped at their bound\n", capped);
    assert_true(capped > 0);
    assert_int_equal(info_field(t, "stats", "current_eviction_exceeded_time"), 0);
    expect_ok(tcmd(t, "CONFIG RESETSTAT"));
    assert_int_equal(info_field(t, "stats", "eviction_time_cap_reached_count"), 0);
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
}

int main(void)
{
    memset(value, 'v', VALUE_SIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allkeys_lru),
        cmocka_unit_test(test_noeviction),
        cmocka_unit_test(test_volatile_lru),
        cmocka_unit_test(test_used_memory_bounded),
        cmocka_unit_test(test_replica_output_not_counted),
        cmocka_unit_test(test_eviction_in_steps),
        cmocka_unit_test(test_eviction_floor),
        cmocka_unit_test(test_object_idletime_freq),
        cmocka_unit_test(test_allkeys_lfu),
        cmocka_unit_test(test_eviction_tenacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
