/* What the replication stream carries, checked end to end with a real master
 * and replica: a node-wide FLUSHALL is one record that lands at the same
 * point on every shard of both nodes (any thread counts, FLUSHALLs from
 * several clients crossing); in-place edits (SETBIT, APPEND, INCR, ...)
 * travel as commands, not as whole values, INCRBYFLOAT as SET ... KEEPTTL,
 * and a chained replica's full sync applies each of them once; a TTL the
 * master extends just before the key's time is kept by the replica (and by a
 * replica of that replica); and a randomized mix of writes leaves master and
 * replica with the same keys, values and TTLs.
 *
 * Runs on redis-server too (RINGKV_TEST_TARGET=redis): there the thread
 * counts are not passed and the checks are Redis's own behaviour. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <time.h>
#include <cmocka.h>

#include "harness.h"
#include "proxy.h"
#pragma GCC diagnostic ignored "-Wunused-function" /* the helpers this file does not use */
#include "repl_helpers.h"

static unsigned rnd(unsigned *seed, unsigned n) { return (unsigned)rand_r(seed) % n; }

static struct server *start_threads(const char *threads)
{
    if (target_is_redis()) {
        /* a redis-server replica's full sync goes through an RDB file: one
         * of its own, not one the next test's servers would load at start */
        static int nodes_started;
        char file[64];
        snprintf(file, sizeof file, "repl-stream-%d-%d.rdb", (int)getpid(), nodes_started++);
        return node_start((const char *[]){ "--dir", "/tmp", "--dbfilename", file, NULL });
    }
    return node_start((const char *[]){ "--threads", threads, NULL });
}

static void link_pair(struct server **m, struct server **r, const char *mthreads,
                      const char *rthreads, tconn **mc, tconn **rc)
{
    *m = start_threads(mthreads);
    *r = start_threads(rthreads);
    *mc = tconnect((*m)->port);
    *rc = tconnect((*r)->port);
    replicaof(*rc, (*m)->port);
    wait_synced(*mc, *rc, 10000);
}

static void unlink_pair(struct server *m, struct server *r, tconn *mc, tconn *rc)
{
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

static long long repl_offset(tconn *c)
{
    return info_field(c, "replication", "master_repl_offset");
}

/* Append one command (NUL-terminated words) as RESP to *buf. */
static void resp_cmd(char **buf, size_t *len, size_t *cap, int argc, const char *const *argv)
{
    size_t need = *len + 32;
    for (int i = 0; i < argc; i++)
        need += strlen(argv[i]) + 32;
    if (need > *cap) {
        *cap = need * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    *len += (size_t)sprintf(*buf + *len, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        *len += (size_t)sprintf(*buf + *len, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

/* Send the pipeline and read (and drop) `n` replies. */
static void run_pipeline(tconn *c, char *buf, size_t len, int n)
{
    tsend_raw(c, buf, len);
    for (int i = 0; i < n; i++) {
        struct rval *v = tread(c, 10000);
        if (!v)
            fail_msg("no reply to command %d of a pipeline of %d", i, n);
        rval_free(v);
    }
}

/* ---- FLUSHALL: one record, at one point of the stream on every shard ---- */

static void flushall_case(const char *mthreads, const char *rthreads)
{
    struct server *m, *r;
    tconn *mc, *rc;
    link_pair(&m, &r, mthreads, rthreads, &mc, &rc);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char key[32];
    for (int round = 0; round < 30; round++) {
        len = 0;
        int n = 0;
        resp_cmd(&buf, &len, &cap, 1, (const char *[]){ "FLUSHALL" });
        n++;
        for (int k = 0; k < 4 + round; k++) {
            snprintf(key, sizeof key, "%c%d", 'a' + k % 26, k / 26);
            resp_cmd(&buf, &len, &cap, 3, (const char *[]){ "SET", key, "1" });
            n++;
        }
        run_pipeline(mc, buf, len, n);
    }
    wait_synced(mc, rc, 10000);
    assert_int_equal(dbsize(mc), 4 + 29);
    assert_int_equal(dbsize(rc), 4 + 29);
    expect_same_data(m->port, r->port);

    if (!target_is_redis()) {
        /* one record, whatever the thread count: "*1\r\n$8\r\nFLUSHALL\r\n" */
        long long before = repl_offset(mc);
        expect_ok(tcmd(mc, "FLUSHALL"));
        wait_synced(mc, rc, 10000);
        long long delta = repl_offset(mc) - before;
        /* (plus the master's once-a-second PING, "*1\r\n$4\r\nPING\r\n", if one fell in) */
        if (delta < 18 || (delta - 18) % 14 != 0 || delta > 18 + 2 * 14)
            fail_msg("one FLUSHALL on %s threads moved the offset by %lld bytes, not 18", mthreads, delta);
        assert_int_equal(dbsize(rc), 0);
    }
    free(buf);
    unlink_pair(m, r, mc, rc);
}

static void test_flushall_1_to_3(void **state) { (void)state; flushall_case("1", "3"); }
static void test_flushall_2_to_2(void **state) { (void)state; flushall_case("2", "2"); }
static void test_flushall_3_to_1(void **state) { (void)state; flushall_case("3", "1"); }
static void test_flushall_3_to_2(void **state) { (void)state; flushall_case("3", "2"); }

/* Several clients on different shards, each pipelining writes with a
 * FLUSHALL now and then: the flushes cross on their way to the shards (one
 * shard runs A's before B's, another B's before A's), and the stream must
 * still leave the replica as the master. */
struct flusher {
    int         port;
    int         id;
    pthread_t   thread;
};

static void *flusher_main(void *arg)
{
    struct flusher *f = arg;
    tconn *c = tconnect(f->port);
    unsigned seed = (unsigned)f->id * 7919u + 1;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char key[32], val[32];
    for (int round = 0; round < 150; round++) {
        len = 0;
        int n = 0;
        for (int i = 0; i < 20; i++) {
            if (rnd(&seed, 30) == 0 && round < 140) { /* the last rounds leave keys to compare */
                resp_cmd(&buf, &len, &cap, 1, (const char *[]){ "FLUSHALL" });
            } else {
                snprintf(key, sizeof key, "f%d:%u", f->id, rnd(&seed, 200));
                snprintf(val, sizeof val, "%d-%d", round, i);
                resp_cmd(&buf, &len, &cap, 3, (const char *[]){ "SET", key, val });
            }
            n++;
        }
        tsend_raw(c, buf, len);
        for (int i = 0; i < n; i++)
            rval_free(tread(c, 10000));
    }
    free(buf);
    tclose(c);
    return NULL;
}

static void test_flushall_from_many_clients(void **state)
{
    (void)state;
    struct server *m, *r;
    tconn *mc, *rc;
    link_pair(&m, &r, "3", "2", &mc, &rc);
    struct flusher f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (struct flusher){ .port = m->port, .id = i };
        assert_int_equal(pthread_create(&f[i].thread, NULL, flusher_main, &f[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(f[i].thread, NULL);
    wait_synced(mc, rc, 10000);
    size_t n = expect_same_data(m->port, r->port);
    print_message("%zu keys the same after crossing FLUSHALLs\n", n);
    unlink_pair(m, r, mc, rc);
}

/* ---- in-place edits travel as commands ---- */

static void test_setbit_ships_the_command(void **state)
{
    (void)state;
    struct server *m, *r;
    tconn *mc, *rc;
    link_pair(&m, &r, "2", "2", &mc, &rc);
    /* a 1 MB bitmap */
    expect_int(tcmd(mc, "SETBIT bitmap 8388607 1"), 0);
    wait_synced(mc, rc, 10000);
    long long before = repl_offset(mc);
    for (int i = 0; i < 5; i++)
        expect_int(tcmd(mc, "SETBIT bitmap %d 1", i * 1000), 0);
    wait_synced(mc, rc, 10000);
    long long setbits = repl_offset(mc) - before;
    print_message("five SETBITs on a 1 MB bitmap moved the offset by %lld bytes\n", setbits);
    assert_true(setbits < 1000);

    before = repl_offset(mc);
    expect_int(tcmd(mc, "APPEND bitmap xyz"), 1048579);
    expect_int(tcmd(mc, "SETRANGE bitmap 10 abc"), 1048579);
    wait_synced(mc, rc, 10000);
    long long edits = repl_offset(mc) - before;
    assert_true(edits < 1000);

    /* INCRBYFLOAT goes as a SET of the result with KEEPTTL, as Redis sends
     * it: "*4\r\n$3\r\nSET\r\n$1\r\nf\r\n$3\r\n2.5\r\n$7\r\nKEEPTTL\r\n" */
    expect_ok(tcmd(mc, "SET f 1.25 PX 100000"));
    wait_synced(mc, rc, 10000);
    before = repl_offset(mc);
    expect_bulk(tcmd(mc, "INCRBYFLOAT f 1.25"), "2.5");
    wait_synced(mc, rc, 10000);
    long long delta = repl_offset(mc) - before;
    if (delta < 42 || (delta - 42) % 14 != 0 || delta > 42 + 2 * 14) /* (a PING may fall in) */
        fail_msg("INCRBYFLOAT moved the offset by %lld bytes, not 42", delta);
    expect_bulk(tcmd(rc, "GET f"), "2.5");
    assert_int_equal(get_int(tcmd(rc, "PEXPIRETIME f")), get_int(tcmd(mc, "PEXPIRETIME f")));
    expect_same_data(m->port, r->port);
    unlink_pair(m, r, mc, rc);
}

/* BITFIELD is an in-place edit too: it travels as itself, and the replica,
 * running it on the same bytes, ends with the same bytes (FAILed steps, a
 * string grown by a step that FAILs, OVERFLOW modes and all). BITFIELD_RO
 * answers on the replica, BITFIELD does not (it is a write, even with GETs
 * only, as in Redis). */
static void test_bitfield_ships_the_command(void **state)
{
    (void)state;
    struct server *m, *r;
    tconn *mc, *rc;
    link_pair(&m, &r, "2", "3", &mc, &rc);
    expect_int(tcmd(mc, "SETBIT bitmap 8388607 1"), 0); /* 1 MB */
    wait_synced(mc, rc, 10000);
    long long before = repl_offset(mc);
    for (int i = 0; i < 5; i++)
        rval_free(tcmd(mc, "BITFIELD bitmap SET u8 #%d 200 OVERFLOW SAT INCRBY i13 %d 5000 "
                           "OVERFLOW FAIL INCRBY u4 %d 9 GET i64 %d", i * 999, i * 7777, i * 13, i));
    wait_synced(mc, rc, 10000);
    long long edits = repl_offset(mc) - before;
    print_message("five BITFIELDs on a 1 MB string moved the offset by %lld bytes\n", edits);
    assert_true(edits < 4096); /* five commands of ~180 bytes, not 1 MB values */

    /* GETs alone change nothing and send nothing (but a PING may fall in) */
    before = repl_offset(mc);
    rval_free(tcmd(mc, "BITFIELD bitmap GET u8 0 GET i64 #3"));
    rval_free(tcmd(mc, "BITFIELD_RO bitmap GET u8 0"));
    wait_synced(mc, rc, 10000);
    long long reads = repl_offset(mc) - before;
    if (reads % 14 != 0 || reads > 2 * 14)
        fail_msg("BITFIELD's GETs moved the offset by %lld bytes", reads);

    /* more keys: a new one grown by a FAILed step only (redis-server creates
     * it but sends nothing, as it counts no change: its replica never gets
     * the key), signed and unsigned fields across bytes, every mode at both
     * ends */
    if (!target_is_redis())
        rval_free(tcmd(mc, "BITFIELD grown OVERFLOW FAIL SET u8 #40 256"));
    for (int i = 0; i < 200; i++)
        rval_free(tcmd(mc, "BITFIELD b:%d INCRBY i%d %d %d OVERFLOW %s INCRBY u%d %d -%d SET i64 %d %d",
                       i % 7, 1 + i % 64, i % 29, i * 37, i % 3 == 0 ? "WRAP" : i % 3 == 1 ? "SAT" : "FAIL",
                       1 + i % 63, i % 31, i * 11, i % 50, i - 100));
    wait_synced(mc, rc, 10000);
    if (!target_is_redis())
        expect_int(tcmd(rc, "STRLEN grown"), 41);
    size_t n = expect_same_data(m->port, r->port);
    print_message("%zu keys the same after BITFIELDs\n", n);

    /* on the replica: BITFIELD_RO reads, BITFIELD is refused */
    struct rval *v = tcmd(rc, "BITFIELD_RO bitmap GET u8 #999");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    assert_int_equal(v->elem[0]->type, R_INT);
    assert_int_equal(v->elem[0]->integer, 200);
    rval_free(v);
    expect_error(tcmd(rc, "BITFIELD bitmap GET u8 0"), "READONLY You can't write against a read only replica.");
    unlink_pair(m, r, mc, rc);
}

/* A replica serving a full sync to a replica of its own (chained), while
 * its master's stream carries INCRs and APPENDs: these are not idempotent,
 * so the chained replica must get each exactly once, counting what its
 * snapshot already holds. */
struct editor {
    int         port;
    atomic_bool stop;
    atomic_long replies;
    pthread_t   thread;
};

static void *editor_main(void *arg)
{
    struct editor *e = arg;
    tconn *c = tconnect(e->port);
    unsigned seed = 99;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char key[32];
    while (!atomic_load(&e->stop)) {
        len = 0;
        for (int i = 0; i < 50; i++) {
            unsigned k = rnd(&seed, 2000);
            if (i % 2) {
                snprintf(key, sizeof key, "key:%u", k * 97);
                resp_cmd(&buf, &len, &cap, 3, (const char *[]){ "APPEND", key, "+" });
            } else {
                snprintf(key, sizeof key, "ctr:%u", k);
                resp_cmd(&buf, &len, &cap, 2, (const char *[]){ "INCR", key });
            }
        }
        tsend_raw(c, buf, len);
        for (int i = 0; i < 50; i++)
            rval_free(tread(c, 10000));
        atomic_fetch_add(&e->replies, 50);
    }
    free(buf);
    tclose(c);
    return NULL;
}

static void test_chained_full_sync_with_edits(void **state)
{
    (void)state;
    struct server *m = start_threads("2"), *r1 = start_threads("2"), *r2 = start_threads("1");
    tconn *mc = tconnect(m->port), *r1c = tconnect(r1->port), *r2c = tconnect(r2->port);
    load_keys(mc, "key", 0, 200000, 24);
    replicaof(r1c, m->port);
    wait_synced(mc, r1c, 30000);
    /* static: a failed wait below leaves the test by a long jump with the
     * editor still running, which must not write into a frame gone (the
     * stack overflow ASan reported after a timeout on a loaded machine) */
    static struct editor e;
    e.port = m->port;
    atomic_store(&e.stop, false);
    atomic_store(&e.replies, 0);
    assert_int_equal(pthread_create(&e.thread, NULL, editor_main, &e), 0);
    while (atomic_load(&e.replies) < 2000)
        usleep(2000);
    replicaof(r2c, r1->port);
    wait_link(r2c, "up", 30000);
    long at_up = atomic_load(&e.replies);
    while (atomic_load(&e.replies) < at_up + 2000)
        usleep(2000);
    atomic_store(&e.stop, true);
    pthread_join(e.thread, NULL);
    wait_synced(mc, r1c, 20000);
    wait_synced(r1c, r2c, 20000);
    expect_same_data(m->port, r1->port);
    expect_same_data(m->port, r2->port);
    tclose(mc);
    tclose(r1c);
    tclose(r2c);
    node_stop(r2);
    node_stop(r1);
    node_stop(m);
}

/* A key past its TTL by the first replica's clock, which its master has
 * extended meanwhile (the extension is still on its way), is part of what
 * that replica's snapshot gives a replica of its own: the extension, in the
 * stream after the snapshot, must find the key there. */
static void test_chained_full_sync_keeps_late_keys(void **state)
{
    (void)state;
    struct server *m = start_threads("2"), *r1 = start_threads("2"), *r2 = start_threads("1");
    struct proxy *px = proxy_start(m->port);
    assert_non_null(px);
    tconn *mc = tconnect(m->port), *r1c = tconnect(r1->port), *r2c = tconnect(r2->port);
    expect_ok(tcmd(mc, "SET keep v"));
    replicaof(r1c, proxy_port(px));
    wait_synced(mc, r1c, 10000);
    long long t0 = now_ms();
    expect_ok(tcmd(mc, "SET late v PX 400"));
    wait_synced(mc, r1c, 5000);
    /* the master extends it; the first replica does not hear of it yet */
    proxy_set_stall(px, true);
    usleep(100000); /* the proxy takes the stall at its next turn */
    expect_int(tcmd(mc, "PEXPIRE late 100000"), 1);
    while (now_ms() - t0 < 600)
        usleep(20000);
    expect_nil(tcmd(r1c, "GET late")); /* past its time here */
    /* the second replica's full sync from the first, meanwhile */
    replicaof(r2c, r1->port);
    wait_link(r2c, "up", 10000);
    proxy_set_stall(px, false);
    wait_synced(mc, r1c, 10000);
    wait_synced(r1c, r2c, 10000);
    expect_bulk(tcmd(r1c, "GET late"), "v");
    expect_bulk(tcmd(r2c, "GET late"), "v");
    assert_int_equal(get_int(tcmd(r2c, "PEXPIRETIME late")), get_int(tcmd(mc, "PEXPIRETIME late")));
    expect_same_data(m->port, r2->port);
    tclose(mc);
    tclose(r1c);
    tclose(r2c);
    node_stop(r2);
    node_stop(r1);
    node_stop(m);
    proxy_stop(px);
}

/* ---- a TTL extended just before expiry ---- */

static void sleep_us(long us)
{
    struct timespec ts = { 0, us * 1000 };
    nanosleep(&ts, NULL);
}

static void test_ttl_extended_before_expiry(void **state)
{
    (void)state;
    struct server *m, *r;
    tconn *mc, *rc;
    link_pair(&m, &r, "2", "2", &mc, &rc);
    for (int i = 0; i < 300; i++) {
        expect_ok(tcmd(mc, "SET t:%d v PX 2", i));
        sleep_us(1500);
        struct rval *v = tcmd(mc, "GETEX t:%d PX 100000", i);
        rval_free(v);
    }
    sleep_us(100000);
    wait_synced(mc, rc, 10000);
    long long kept = dbsize(mc);
    print_message("the master kept %lld of 300 keys\n", kept);
    size_t same = expect_same_data(m->port, r->port);
    assert_int_equal((long long)same, kept);
    /* and with the master's TTLs */
    for (int i = 0; i < 300; i++) {
        long long mt = get_int(tcmd(mc, "PEXPIRETIME t:%d", i));
        long long rt = get_int(tcmd(rc, "PEXPIRETIME t:%d", i));
        if (mt != rt)
            fail_msg("t:%d: PEXPIRETIME %lld on the master, %lld on the replica", i, mt, rt);
    }
    unlink_pair(m, r, mc, rc);
}

/* ---- a randomized mix: same keys, values and TTLs on both ---- */

#define RANDOM_KEYS 300
#define RANDOM_OPS 6000

static char extend_key[32]; /* a key to extend at the start of the next pipeline */

/* Append one random command; returns how many replies it produces. */
static int random_command(unsigned *seed, char **buf, size_t *len, size_t *cap)
{
    char k1[32], k2[32], a[64], b[64];
    snprintf(k1, sizeof k1, "r:%u", rnd(seed, RANDOM_KEYS));
    snprintf(k2, sizeof k2, "r:%u", rnd(seed, RANDOM_KEYS));
    snprintf(a, sizeof a, "%u", rnd(seed, 100));
    unsigned op = rnd(seed, 26);
    switch (op) {
    case 0:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "SET", k1, a });
        return 1;
    case 1:
        snprintf(b, sizeof b, "%u", 1 + rnd(seed, 30));
        resp_cmd(buf, len, cap, 5, (const char *[]){ "SET", k1, a, "PX", b });
        return 1;
    case 2:
        resp_cmd(buf, len, cap, 5, (const char *[]){ "SET", k1, a, "EX", "100" });
        return 1;
    case 3:
        resp_cmd(buf, len, cap, 4, (const char *[]){ "SET", k1, a, "KEEPTTL" });
        return 1;
    case 4:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "APPEND", k1, "xy" });
        return 1;
    case 5:
        resp_cmd(buf, len, cap, 4, (const char *[]){ "SETRANGE", k1, a, "zz" });
        return 1;
    case 6:
        snprintf(b, sizeof b, "%u", rnd(seed, 2));
        resp_cmd(buf, len, cap, 4, (const char *[]){ "SETBIT", k1, a, b });
        return 1;
    case 7:
        resp_cmd(buf, len, cap, 2, (const char *[]){ "INCR", k1 });
        return 1;
    case 8:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "DECRBY", k1, a });
        return 1;
    case 9:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "INCRBYFLOAT", k1, "1.25" });
        return 1;
    case 10:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "EXPIRE", k1, "100" });
        return 1;
    case 11:
        snprintf(b, sizeof b, "%u", 1 + rnd(seed, 30));
        resp_cmd(buf, len, cap, 3, (const char *[]){ "PEXPIRE", k1, b });
        return 1;
    case 12:
        resp_cmd(buf, len, cap, 2, (const char *[]){ "PERSIST", k1 });
        return 1;
    case 13:
        resp_cmd(buf, len, cap, 4, (const char *[]){ "GETEX", k1, "PX", "100000" });
        return 1;
    case 14:
        resp_cmd(buf, len, cap, 2, (const char *[]){ "DEL", k1 });
        return 1;
    case 15:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "RENAME", k1, k2 });
        return 1;
    case 16:
        resp_cmd(buf, len, cap, 4, (const char *[]){ "COPY", k1, k2, "REPLACE" });
        return 1;
    case 17:
        resp_cmd(buf, len, cap, 5, (const char *[]){ "MSET", k1, a, k2, "m" });
        return 1;
    case 18:
        resp_cmd(buf, len, cap, 1, (const char *[]){ "MULTI" });
        resp_cmd(buf, len, cap, 3, (const char *[]){ "APPEND", k1, "t" });
        resp_cmd(buf, len, cap, 2, (const char *[]){ "INCR", k2 });
        resp_cmd(buf, len, cap, 4, (const char *[]){ "SETBIT", k2, a, "1" });
        resp_cmd(buf, len, cap, 1, (const char *[]){ "EXEC" });
        return 5;
    case 19:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "GETSET", k1, a });
        return 1;
    case 20:
        if (rnd(seed, 10) == 0) {
            resp_cmd(buf, len, cap, 1, (const char *[]){ "FLUSHALL" });
            return 1;
        }
        resp_cmd(buf, len, cap, 2, (const char *[]){ "GETDEL", k1 });
        return 1;
    case 21:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "PEXPIREAT", k1, "9999999999999" });
        return 1;
    case 22:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "RENAMENX", k1, k2 });
        return 1;
    case 23:
        /* a TTL extended just before the key's time: the pipeline ends
         * here, and the next one starts with the GETEX 1.5 ms later */
        resp_cmd(buf, len, cap, 5, (const char *[]){ "SET", k1, a, "PX", "2" });
        snprintf(extend_key, sizeof extend_key, "%s", k1);
        return 1;
    case 24:
        resp_cmd(buf, len, cap, 5, (const char *[]){ "SET", k1, a, "PX", "2" });
        resp_cmd(buf, len, cap, 3, (const char *[]){ "PEXPIRE", k1, "100000" });
        resp_cmd(buf, len, cap, 3, (const char *[]){ "APPEND", k1, "e" });
        return 3;
    default:
        resp_cmd(buf, len, cap, 3, (const char *[]){ "INCRBY", k1, a });
        return 1;
    }
}

static void random_case(const char *mthreads, const char *rthreads, unsigned seed0)
{
    struct server *m, *r;
    tconn *mc, *rc;
    link_pair(&m, &r, mthreads, rthreads, &mc, &rc);
    unsigned seed = seed0;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    extend_key[0] = 0;
    for (int done = 0; done < RANDOM_OPS;) {
        len = 0;
        int replies = 0, batch = 1 + (int)rnd(&seed, 40);
        if (extend_key[0]) {
            sleep_us(1500);
            resp_cmd(&buf, &len, &cap, 4, (const char *[]){ "GETEX", extend_key, "PX", "100000" });
            replies++;
            extend_key[0] = 0;
        }
        for (int i = 0; i < batch && !extend_key[0]; i++)
            replies += random_command(&seed, &buf, &len, &cap);
        run_pipeline(mc, buf, len, replies);
        done += batch;
        if (rnd(&seed, 8) == 0)
            sleep_us(1000 + rnd(&seed, 3000));
    }
    free(buf);
    sleep_us(100000); /* every short TTL (up to 30 ms) has passed */
    wait_synced(mc, rc, 10000);
    size_t n;
    char **keys = scan_all(mc, &n);
    size_t rn;
    char **rkeys = scan_all(rc, &rn);
    if (n != rn)
        fail_msg("seed %u (%s -> %s threads): %zu keys on the master, %zu on the replica", seed0,
                 mthreads, rthreads, n, rn);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i], rkeys[i]) != 0)
            fail_msg("seed %u: key sets differ at '%s' / '%s'", seed0, keys[i], rkeys[i]);
        struct rval *mv = tcmd(mc, "GET %s", keys[i]), *rv = tcmd(rc, "GET %s", keys[i]);
        if (mv->type != rv->type || mv->len != rv->len || (mv->str && memcmp(mv->str, rv->str, mv->len)))
            fail_msg("seed %u (%s -> %s threads): values of %s differ", seed0, mthreads, rthreads,
                     keys[i]);
        rval_free(mv);
        rval_free(rv);
        long long mt = get_int(tcmd(mc, "PEXPIRETIME %s", keys[i]));
        long long rt = get_int(tcmd(rc, "PEXPIRETIME %s", keys[i]));
        if (mt != rt)
            fail_msg("seed %u (%s -> %s threads): %s expires at %lld on the master, %lld on the "
                     "replica", seed0, mthreads, rthreads, keys[i], mt, rt);
    }
    print_message("seed %u: %zu keys the same on master and replica\n", seed0, n);
    free_keys(keys, n);
    free_keys(rkeys, rn);
    unlink_pair(m, r, mc, rc);
}

static unsigned test_seed(void)
{
    const char *s = getenv("RINGKV_TEST_SEED");
    return s ? (unsigned)strtoul(s, NULL, 10) : 20261201u;
}

static void test_random_mix_3_to_2(void **state) { (void)state; random_case("3", "2", test_seed()); }
static void test_random_mix_1_to_3(void **state) { (void)state; random_case("1", "3", test_seed() + 1); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_flushall_1_to_3, nodes_teardown),
        cmocka_unit_test_teardown(test_flushall_2_to_2, nodes_teardown),
        cmocka_unit_test_teardown(test_flushall_3_to_1, nodes_teardown),
        cmocka_unit_test_teardown(test_flushall_3_to_2, nodes_teardown),
        cmocka_unit_test_teardown(test_flushall_from_many_clients, nodes_teardown),
        cmocka_unit_test_teardown(test_setbit_ships_the_command, nodes_teardown),
        cmocka_unit_test_teardown(test_bitfield_ships_the_command, nodes_teardown),
        cmocka_unit_test_teardown(test_chained_full_sync_with_edits, nodes_teardown),
        cmocka_unit_test_teardown(test_chained_full_sync_keeps_late_keys, nodes_teardown),
        cmocka_unit_test_teardown(test_ttl_extended_before_expiry, nodes_teardown),
        cmocka_unit_test_teardown(test_random_mix_3_to_2, nodes_teardown),
        cmocka_unit_test_teardown(test_random_mix_1_to_3, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
