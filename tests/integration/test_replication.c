/* Replication with real ringkv processes on loopback (issue 4's tests): full
 * sync while writes continue, partial resync after a cut link, kill -9 of the
 * master and promotion of a replica, backlog overflow, a replica's full sync
 * served by a replica, replicas with another
 * thread count, expiry on replicas, READONLY/ROLE/INFO, FAILOVER under load.
 * Each test starts its own nodes; the faults through a proxy are in
 * test_replication_faults.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <cmocka.h>

#include "harness.h"
#include "keyspace_state.h"
#include "proxy.h"
#include "repl_helpers.h"
#include "shards/store/slot.h"

/* A writer on the master (new keys, and overwrites of key:0..keys-1) goes
 * on while rc becomes a replica of from_port and its link comes up, and
 * for 2000 more replies after; then it stops, with no error. at_start and
 * at_linkup (if not NULL): the writer's replies at REPLICAOF and at link-up. */
static void sync_while_writing(struct writer *w, int master_port, tconn *rc, int from_port, long keys,
                               long *at_start, long *at_linkup)
{
    writer_start(w, master_port, "w", keys, 24);
    writer_wait_ok(w, 2000, 10000);
    long start = atomic_load(&w->ok);
    replicaof(rc, from_port);
    /* a deadline, not a speed: 1M keys under the ASan build (-O0) now go
     * as DUMP payloads, decoded on the replica, which took over 30 s there */
    wait_link(rc, "up", 150000);
    long linkup = atomic_load(&w->ok);
    writer_wait_ok(w, linkup + 2000, 10000);
    writer_stop(w);
    assert_int_equal(w->errors, 0);
    if (at_start)
        *at_start = start;
    if (at_linkup)
        *at_linkup = linkup;
}

/* 1M keys on the master, synced to an empty replica while a writer keeps
 * writing (new keys and overwrites of the loaded ones). Under
 * AddressSanitizer 200k: the same paths (the writer still goes on during
 * the sync, asserted), 100 s less of the CI run. */
#define FULL_SYNC_KEYS (HARNESS_SANITIZED ? 200000 : 1000000)

static void test_full_sync_while_writing(void **state)
{
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(mc, "key", 0, FULL_SYNC_KEYS, 24);

    struct writer w;
    long at_start, at_linkup;
    sync_while_writing(&w, m->port, rc, m->port, FULL_SYNC_KEYS, &at_start, &at_linkup);
    assert_true(at_linkup > at_start); /* the writer went on during the sync */

    wait_synced(mc, rc, 20000);
    size_t n = expect_same_data(m->port, r->port);
    assert_true(n >= FULL_SYNC_KEYS + (size_t)w.next_new / 2);
    assert_int_equal(info_field(mc, "stats", "sync_full"), 1);
    writer_free(&w);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* A replica serves a full sync to a replica of its own while writes go on
 * at the top (overwriting the keys being copied): the snapshot comes from a
 * node whose shards apply the stream after its link reads it, so the stream
 * must follow the snapshot, not run alongside it. All three end identical. */
static void test_chained_full_sync(void **state)
{
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r1 = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r2 = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *r1c = tconnect(r1->port), *r2c = tconnect(r2->port);
    load_keys(mc, "key", 0, 200000, 24);
    replicaof(r1c, m->port);
    wait_synced(mc, r1c, 30000);

    struct writer w;
    sync_while_writing(&w, m->port, r2c, r1->port, 200000, NULL, NULL);
    wait_synced(mc, r1c, 20000);
    wait_synced(r1c, r2c, 20000);
    assert_true(expect_same_data(m->port, r2->port) >= 200000);
    assert_int_equal(info_field(r1c, "stats", "sync_full"), 1);

    /* a replica cut off from its master has no whole copy to give */
    node_stop(m);
    wait_link(r1c, "down", 10000);
    tconn *raw = tconnect(r1->port);
    expect_error(tcmd(raw, "PSYNC ? -1"), "NOMASTERLINK Can't SYNC while not connected with my master");
    tclose(raw);
    writer_free(&w);
    tclose(mc);
    tclose(r1c);
    tclose(r2c);
    node_stop(r2);
    node_stop(r1);
}

/* A master and a synced replica with a few keys. */
static void pair_up(struct server **m, struct server **r, const char *mthreads,
                    const char *rthreads, const char *const *extra_master)
{
    const char *margs[16] = { "--threads", mthreads };
    int k = 2;
    for (; extra_master && *extra_master && k < 15; extra_master++)
        margs[k++] = *extra_master;
    margs[k] = NULL;
    *m = node_start(margs);
    *r = node_start((const char *[]){ "--threads", rthreads, NULL });
    tconn *mc = tconnect((*m)->port), *rc = tconnect((*r)->port);
    load_keys(mc, "key", 0, 1000, 16);
    replicaof(rc, (*m)->port);
    wait_synced(mc, rc, 10000);
    tclose(mc);
    tclose(rc);
}

static void test_cut_link_partial_resync(void **state)
{
    struct server *m, *r;
    pair_up(&m, &r, "2", "1", NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    long long full = info_field(mc, "stats", "sync_full");
    long long partial = info_field(mc, "stats", "sync_partial_ok");
    assert_int_equal(full, 1);

    /* the kill and the writes in one pipeline: the writes land while the
     * replica waits out its reconnect back-off */
    char *buf = NULL;
    size_t len = 0, cap = 0;
    const char kill_cmd[] = "*4\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$4\r\nTYPE\r\n$7\r\nreplica\r\n";
    char key[64], val[64];
    resp_set(&buf, &len, &cap, "before-cut", "1");
    buf = realloc(buf, cap + sizeof kill_cmd);
    memcpy(buf + len, kill_cmd, sizeof kill_cmd - 1);
    len += sizeof kill_cmd - 1;
    cap += sizeof kill_cmd;
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "down:%d", i);
        snprintf(val, sizeof val, "while-down-%d", i);
        resp_set(&buf, &len, &cap, key, val);
    }
    tsend_raw(mc, buf, len);
    free(buf);
    expect_ok(tread(mc, 10000));
    expect_int(tread(mc, 10000), 1);
    for (int i = 0; i < 200; i++)
        expect_ok(tread(mc, 10000));

    wait_field_at_least(mc, "stats", "sync_partial_ok", partial + 1, 10000);
    wait_synced(mc, rc, 10000);
    assert_int_equal(info_field(mc, "stats", "sync_full"), full);
    expect_bulk(tcmd(rc, "GET down:0"), "while-down-0");
    expect_bulk(tcmd(rc, "GET down:199"), "while-down-199");
    expect_same_data(m->port, r->port);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

static void test_kill9_promote_replica(void **state)
{
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *ra = node_start((const char *[]){ "--threads", "1", NULL });
    struct server *rb = node_start((const char *[]){ "--threads", "2", NULL });
    tconn *mc = tconnect(m->port), *ac = tconnect(ra->port), *bc = tconnect(rb->port);
    load_keys(mc, "key", 0, 2000, 16);
    replicaof(ac, m->port);
    replicaof(bc, m->port);
    wait_synced(mc, ac, 10000);
    wait_synced(mc, bc, 10000);

    /* batches of writes, each acknowledged by WAIT 2 */
    long acked_upto = 0;
    for (int batch = 0; batch < 20; batch++) {
        load_keys(mc, "acked", acked_upto, acked_upto + 100, 32);
        struct rval *v = tcmd(mc, "WAIT 2 2000");
        assert_non_null(v);
        assert_int_equal(v->type, R_INT);
        if (v->integer == 2)
            acked_upto += 100;
        else
            fail_msg("WAIT 2 2000 answered %lld with two online replicas", v->integer);
        rval_free(v);
    }
    server_kill(m);
    tclose(mc);

    /* promote the replica that is furthest ahead (what Sentinel does) */
    long long oa = info_field(ac, "replication", "slave_repl_offset");
    long long ob = info_field(bc, "replication", "slave_repl_offset");
    if (ob > oa) {
        struct server *ts = ra; ra = rb; rb = ts;
        tconn *tc = ac; ac = bc; bc = tc;
    }
    expect_ok(tcmd(ac, "REPLICAOF NO ONE"));
    char *ai = info_text(ac, "replication");
    assert_non_null(strstr(ai, "role:master"));
    free(ai);
    replicaof(bc, ra->port);
    wait_synced(ac, bc, 10000);
    assert_int_equal(info_field(ac, "stats", "sync_partial_ok"), 1);
    assert_int_equal(info_field(ac, "stats", "sync_full"), 0);

    for (const struct server *s = ra;; s = rb) {
        tconn *c = tconnect(s->port);
        for (long i = 0; i < acked_upto; i += 97) {
            char val[64];
            value_of(val, sizeof val, "acked", i, 32);
            expect_bulk(tcmd(c, "GET acked:%ld", i), val);
        }
        char val[64];
        value_of(val, sizeof val, "acked", acked_upto - 1, 32);
        expect_bulk(tcmd(c, "GET acked:%ld", acked_upto - 1), val);
        tclose(c);
        if (s == rb)
            break;
    }
    expect_same_data(ra->port, rb->port);

    /* the new master takes writes and B receives them */
    expect_ok(tcmd(ac, "SET after-promotion yes"));
    load_keys(ac, "new", 0, 500, 16);
    wait_synced(ac, bc, 10000);
    expect_bulk(tcmd(bc, "GET after-promotion"), "yes");
    expect_same_data(ra->port, rb->port);
    tclose(ac);
    tclose(bc);
    node_stop(rb);
    node_stop(ra);
}

static void test_backlog_overflow_full_sync(void **state)
{
    struct server *m, *r;
    pair_up(&m, &r, "2", "1", (const char *[]){ "--repl-backlog-size", "16384", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    assert_int_equal(info_field(mc, "replication", "repl_backlog_size"), 16384);
    long long full = info_field(mc, "stats", "sync_full");
    long long partial = info_field(mc, "stats", "sync_partial_ok");

    /* cut, then 200 KB of writes before the replica is back */
    const char kill_cmd[] = "*4\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$4\r\nTYPE\r\n$7\r\nreplica\r\n";
    char *buf = NULL;
    size_t len = 0, cap = 0;
    buf = malloc(sizeof kill_cmd);
    memcpy(buf, kill_cmd, sizeof kill_cmd - 1);
    len = sizeof kill_cmd - 1;
    cap = sizeof kill_cmd;
    char key[64], val[1100];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "big:%d", i);
        value_of(val, sizeof val, "big", i, 1000);
        resp_set(&buf, &len, &cap, key, val);
    }
    tsend_raw(mc, buf, len);
    free(buf);
    expect_int(tread(mc, 10000), 1);
    for (int i = 0; i < 200; i++)
        expect_ok(tread(mc, 10000));

    wait_field_at_least(mc, "stats", "sync_full", full + 1, 10000);
    wait_synced(mc, rc, 10000);
    assert_int_equal(info_field(mc, "stats", "sync_partial_ok"), partial);
    expect_same_data(m->port, r->port);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* Full sync with writes going on, then the replica identical. */
static void threads_case(const char *mthreads, const char *rthreads)
{
    struct server *m = node_start((const char *[]){ "--threads", mthreads, NULL });
    struct server *r = node_start((const char *[]){ "--threads", rthreads, NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(mc, "key", 0, 20000, 24);
    struct writer w;
    sync_while_writing(&w, m->port, rc, m->port, 20000, NULL, NULL);
    wait_synced(mc, rc, 10000);
    expect_same_data(m->port, r->port);
    /* and the stream after the sync is placed by slot as well */
    load_keys(mc, "after", 0, 3000, 8);
    wait_synced(mc, rc, 10000);
    expect_same_data(m->port, r->port);
    writer_free(&w);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

static void test_replica_more_threads(void **state) { threads_case("2", "3"); }
static void test_replica_fewer_threads(void **state) { threads_case("3", "2"); }


/* RPUSH key of n elements "<key>:<i>", 1000 a command. */
static void rpush_many(tconn *c, const char *key, int n)
{
    const char **argv = malloc(sizeof(char *) * 1002);
    char (*el)[32] = malloc(32 * 1000);
    for (int from = 0; from < n; from += 1000) {
        int k = 0;
        argv[k++] = "RPUSH";
        argv[k++] = key;
        for (int i = from; i < n && i < from + 1000; i++) {
            snprintf(el[i - from], 32, "%s:%d", key, i);
            argv[k++] = el[i - from];
        }
        tsendv(c, k, argv);
        struct rval *v = tread(c, 10000);
        assert_true(v && v->type == R_INT);
        rval_free(v);
    }
    free(el);
    free(argv);
}

/* Every database of the two nodes holds the same keys, values and times
 * (keyspace_state: values and PEXPIRETIME, key by key). */
static void expect_same_databases(tconn *mc, tconn *rc, int ndbs)
{
    for (int d = 0; d < ndbs; d++) {
        expect_ok(tcmd(mc, "SELECT %d", d));
        expect_ok(tcmd(rc, "SELECT %d", d));
        assert_int_equal(dbsize(rc), dbsize(mc));
        char *a = keyspace_state(mc), *b = keyspace_state(rc);
        if (strcmp(a, b) != 0)
            fprintf(stderr, "database %d differs\n", d);
        expect_same_keyspace(a, b);
        free(a);
        free(b);
    }
    expect_ok(tcmd(mc, "SELECT 0"));
    expect_ok(tcmd(rc, "SELECT 0"));
}

/* A ringkv master with keys in databases 0, 3 and 9 (strings, some with a
 * time, a hash, a set, a list of 50k elements that the snapshot sends in
 * parts, the same key name in each), a replica with another thread count:
 * the full sync brings every database, the writes made during it (to the
 * big list among them, in db 3) and after it (a database made since,
 * FLUSHDB of one) land in their database. Then a cut link: the partial
 * resync goes on in the database the stream was in. */
static void test_databases(void **state)
{
    struct server *m = node_start((const char *[]){ "--threads", "3", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "2", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(mc, "key", 0, 1000, 16);
    expect_ok(tcmd(mc, "SET same db0"));
    expect_ok(tcmd(mc, "SELECT 3"));
    expect_ok(tcmd(mc, "SET same db3"));
    load_keys(mc, "k3", 0, 500, 16);
    for (int i = 0; i < 100; i++)
        expect_ok(tcmd(mc, "SET t3:%d v%d PX %d", i, i, 600000 + i));
    for (int i = 0; i < 200; i++)
        expect_int(tcmd(mc, "HSET h3 f%d v%d", i, i), 1);
    rpush_many(mc, "biglist", 50000);
    expect_ok(tcmd(mc, "SELECT 9"));
    expect_ok(tcmd(mc, "SET same db9"));
    load_keys(mc, "k9", 0, 300, 16);
    expect_int(tcmd(mc, "SADD s9 a b c d"), 4);
    expect_ok(tcmd(mc, "SET t9 v EX 3000"));

    /* the full sync, written meanwhile in several databases */
    replicaof(rc, m->port);
    expect_ok(tcmd(mc, "SELECT 3"));
    expect_int(tcmd(mc, "LPUSH biglist head"), 50001);
    expect_int(tcmd(mc, "RPUSH biglist tail"), 50002);
    expect_int(tcmd(mc, "HSET h3 during 1"), 1);
    expect_ok(tcmd(mc, "SET during3 v"));
    expect_ok(tcmd(mc, "SELECT 9"));
    expect_int(tcmd(mc, "DEL k9:1 k9:2"), 2);
    expect_ok(tcmd(mc, "SET during9 v"));
    expect_ok(tcmd(mc, "SELECT 0"));
    expect_ok(tcmd(mc, "SET during0 v"));
    wait_synced(mc, rc, 20000);
    expect_same_databases(mc, rc, 16);
    expect_bulk(tcmd(rc, "GET same"), "db0");
    expect_ok(tcmd(rc, "SELECT 3"));
    expect_bulk(tcmd(rc, "GET same"), "db3");
    expect_int(tcmd(rc, "LLEN biglist"), 50002);
    expect_bulk(tcmd(rc, "LINDEX biglist 0"), "head");

    /* the stream after it: a database made now, FLUSHDB of one, a time */
    expect_ok(tcmd(mc, "SELECT 5"));
    expect_ok(tcmd(mc, "SET new5 v"));
    expect_int(tcmd(mc, "INCR same"), 1);
    expect_ok(tcmd(mc, "SELECT 9"));
    expect_ok(tcmd(mc, "FLUSHDB"));
    expect_ok(tcmd(mc, "SET after9 v"));
    expect_ok(tcmd(mc, "SELECT 3"));
    expect_int(tcmd(mc, "EXPIRE k3:7 5000"), 1);
    expect_bulk(tcmd(mc, "LPOP biglist"), "head");
    wait_synced(mc, rc, 10000);
    expect_same_databases(mc, rc, 16);

    /* a cut link: the partial resync, writes of several databases meanwhile */
    expect_int(tcmd(rc, "CLIENT KILL TYPE master"), 1);
    expect_ok(tcmd(mc, "SELECT 3"));
    expect_ok(tcmd(mc, "SET cut3 v"));
    expect_ok(tcmd(mc, "SELECT 0"));
    expect_ok(tcmd(mc, "SET cut0 v"));
    wait_synced(mc, rc, 10000);
    expect_same_databases(mc, rc, 16);
    assert_int_equal(info_field(mc, "stats", "sync_full"), 1);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

static void test_expiry_on_replica(void **state)
{
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    struct proxy *px = proxy_start(m->port);
    assert_non_null(px);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    expect_ok(tcmd(mc, "SET keep forever"));
    replicaof(rc, proxy_port(px));
    wait_synced(mc, rc, 10000);

    long long t0 = now_ms();
    expect_ok(tcmd(mc, "SET shortlived v PX 800"));
    wait_synced(mc, rc, 5000);
    if (now_ms() - t0 < 700)
        expect_bulk(tcmd(rc, "GET shortlived"), "v");
    /* hold the stream: the master's DEL cannot arrive */
    proxy_set_stall(px, true);
    while (now_ms() - t0 < 1000)
        usleep(20000);
    expect_nil(tcmd(rc, "GET shortlived"));
    expect_int(tcmd(rc, "EXISTS shortlived"), 0);
    /* the replica did not delete it itself: it still counts */
    expect_int(tcmd(rc, "DBSIZE"), 2);
    /* the master expires it (its GET deletes it lazily) and the DEL flows */
    expect_nil(tcmd(mc, "GET shortlived"));
    proxy_set_stall(px, false);
    long long deadline = now_ms() + 5000;
    while (dbsize(rc) != 1) {
        if (now_ms() > deadline)
            fail_msg("the master's DEL of an expired key did not reach the replica");
        usleep(20000);
    }
    wait_synced(mc, rc, 10000);
    expect_bulk(tcmd(rc, "GET keep"), "forever");

    /* the active sweep, not only a lazy GET, sends the DEL too */
    expect_ok(tcmd(mc, "SET swept v PX 100"));
    deadline = now_ms() + 5000;
    while (dbsize(rc) != 1 || dbsize(mc) != 1) {
        if (now_ms() > deadline)
            fail_msg("a key expired by the master's sweep is still on the replica "
                     "(replica DBSIZE %lld, master %lld)", dbsize(rc), dbsize(mc));
        usleep(20000);
    }
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
    proxy_stop(px);
}

static void test_readonly_role_info(void **state)
{
    struct server *m, *r;
    pair_up(&m, &r, "2", "1", NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);

    expect_error(tcmd(rc, "SET x 1"), "READONLY You can't write against a read only replica.");
    expect_error(tcmd(rc, "DEL key:1"), "READONLY You can't write against a read only replica.");
    char v1[64];
    value_of(v1, sizeof v1, "key", 1, 16);
    expect_bulk(tcmd(rc, "GET key:1"), v1);

    /* the offset counts stream bytes since the backlog began (the first
     * replica): write something and let it arrive */
    expect_ok(tcmd(mc, "SET role-test 1"));
    wait_synced(mc, rc, 5000);
    struct rval *v = tcmd(mc, "ROLE");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 3);
    if (v->elem[1]->type != R_INT || v->elem[1]->integer <= 0 || v->elem[2]->n != 1) {
        char *t = rval_text(v);
        char *mi = info_text(mc, "replication");
        fail_msg("ROLE on a master with one synced replica: %s\nwhile INFO says:\n%s", t, mi);
    }
    assert_string_equal(v->elem[0]->str, "master");
    assert_int_equal(v->elem[1]->type, R_INT);
    long long moff = v->elem[1]->integer;
    assert_true(moff > 0);
    assert_int_equal(v->elem[2]->type, R_ARRAY);
    assert_int_equal(v->elem[2]->n, 1);
    struct rval *rep = v->elem[2]->elem[0];
    assert_int_equal(rep->n, 3);
    assert_string_equal(rep->elem[0]->str, "127.0.0.1");
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    assert_string_equal(rep->elem[1]->str, port);
    assert_int_equal(rep->elem[2]->type, R_BULK);
    rval_free(v);

    v = tcmd(rc, "ROLE");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 5);
    assert_string_equal(v->elem[0]->str, "slave");
    assert_string_equal(v->elem[1]->str, "127.0.0.1");
    assert_int_equal(v->elem[2]->type, R_INT);
    assert_int_equal(v->elem[2]->integer, m->port);
    assert_string_equal(v->elem[3]->str, "connected");
    assert_int_equal(v->elem[4]->type, R_INT);
    assert_int_equal(v->elem[4]->integer, moff);
    rval_free(v);

    char *mi = info_text(mc, "replication");
    static const char *const master_fields[] = {
        "role", "connected_slaves", "slave0", "master_replid", "master_replid2",
        "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
        "repl_backlog_first_byte_offset", "repl_backlog_histlen", NULL };
    char val[256];
    for (const char *const *f = master_fields; *f; f++)
        if (!info_str(mi, *f, val, sizeof val))
            fail_msg("master INFO replication has no %s:\n%s", *f, mi);
    assert_non_null(strstr(mi, "role:master\r\n"));
    assert_int_equal(info_num(mi, "connected_slaves"), 1);
    info_str(mi, "slave0", val, sizeof val);
    char want[128];
    snprintf(want, sizeof want, "ip=127.0.0.1,port=%d,state=online,offset=", r->port);
    if (strncmp(val, want, strlen(want)) != 0 || !strstr(val, ",lag="))
        fail_msg("slave0:%s", val);
    char mreplid[64];
    info_str(mi, "master_replid", mreplid, sizeof mreplid);
    assert_int_equal(strlen(mreplid), 40);
    free(mi);

    char *ri = info_text(rc, "replication");
    static const char *const replica_fields[] = {
        "role", "master_host", "master_port", "master_link_status", "master_last_io_seconds_ago",
        "master_sync_in_progress", "slave_repl_offset", "slave_priority", "slave_read_only",
        "connected_slaves", "master_replid", "master_repl_offset", NULL };
    for (const char *const *f = replica_fields; *f; f++)
        if (!info_str(ri, *f, val, sizeof val))
            fail_msg("replica INFO replication has no %s:\n%s", *f, ri);
    assert_non_null(strstr(ri, "role:slave\r\n"));
    assert_int_equal(info_num(ri, "master_port"), m->port);
    assert_int_equal(info_num(ri, "slave_read_only"), 1);
    info_str(ri, "master_link_status", val, sizeof val);
    assert_string_equal(val, "up");
    info_str(ri, "master_replid", val, sizeof val);
    assert_string_equal(val, mreplid);
    free(ri);

    char *st = info_text(mc, "stats");
    assert_true(info_num(st, "sync_full") == 1);
    assert_true(info_num(st, "sync_partial_ok") == 0);
    assert_true(info_num(st, "sync_partial_err") != LLONG_MIN);
    free(st);

    /* WAIT counts the replica; REPLICAOF NO ONE makes it writable again */
    expect_ok(tcmd(mc, "SET w 1"));
    expect_int(tcmd(mc, "WAIT 1 2000"), 1);
    expect_ok(tcmd(rc, "REPLICAOF NO ONE"));
    expect_ok(tcmd(rc, "SET x 1"));
    expect_bulk(tcmd(rc, "GET w"), "1");
    long long deadline = now_ms() + 5000;
    while (info_field(mc, "replication", "connected_slaves") != 0) {
        if (now_ms() > deadline)
            fail_msg("the master still lists a replica that left");
        usleep(20000);
    }
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* Until the old replica (rc) is a master and the old master (mc) its
 * replica with the link up. */
static void wait_roles_swapped(tconn *mc, tconn *rc, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *ri = info_text(rc, "replication"), *mi = info_text(mc, "replication");
        bool done = strstr(ri, "role:master\r\n") && strstr(mi, "role:slave\r\n") &&
                    strstr(mi, "master_link_status:up\r\n");
        free(ri);
        free(mi);
        if (done)
            return;
        if (now_ms() > deadline)
            fail_msg("FAILOVER did not swap the roles within %d ms", timeout_ms);
        usleep(20000);
    }
}

static void test_failover_under_load(void **state)
{
    struct server *m, *r;
    pair_up(&m, &r, "2", "1", NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    struct writer w;
    writer_start(&w, m->port, "f", 0, 24);
    writer_wait_ok(&w, 2000, 10000);
    expect_ok(tcmd(mc, "FAILOVER TIMEOUT 5000"));
    wait_roles_swapped(mc, rc, 10000);
    usleep(100000);
    writer_stop(&w);
    wait_synced(rc, mc, 10000);
    /* every write the old master acknowledged is on both */
    expect_acked_present(&w, r->port);
    expect_acked_present(&w, m->port);
    expect_same_data(m->port, r->port);
    assert_int_equal(info_field(rc, "stats", "sync_full"), 0);
    expect_ok(tcmd(rc, "SET after-failover 1"));
    wait_synced(rc, mc, 10000);
    expect_bulk(tcmd(mc, "GET after-failover"), "1");
    writer_free(&w);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* During a FAILOVER the master holds writes instead of refusing them (as
 * CLIENT PAUSE WRITE does) while reads go on. The only replica is stopped
 * after the master took one more write, so it never reaches the offset: at
 * the TIMEOUT the failover is given up, the held write succeeds on the
 * master, and reaches the replica once it runs again. */
/* FAILOVER of an idle pair: the old master must continue by partial
 * resync, so the target has to have received everything the old master
 * counted, the GETACK it sends while waiting included (a periodic ACK of
 * the data alone once let it hand over before the GETACK arrived). */
static void test_failover_idle_partial(void **state)
{
    struct server *m, *r;
    pair_up(&m, &r, "2", "1", NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    expect_ok(tcmd(mc, "FAILOVER"));
    wait_roles_swapped(mc, rc, 10000);
    assert_int_equal(info_field(rc, "stats", "sync_full"), 0);
    assert_int_equal(info_field(rc, "stats", "sync_partial_ok"), 1);
    wait_synced(rc, mc, 10000);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

static void test_failover_holds_writes(void **state)
{
    struct server *m, *r;
    pair_up(&m, &r, "2", "1", NULL);
    tconn *mc = tconnect(m->port), *wc = tconnect(m->port);
    process_stop(r->pid);
    expect_ok(tcmd(mc, "SET behind 1")); /* the replica cannot acknowledge this */
    expect_ok(tcmd(mc, "FAILOVER TIMEOUT 2000"));
    tsendv(wc, 3, (const char *[]){ "SET", "held", "1" });
    assert_int_equal(dbsize(mc), 1001);
    assert_null(tread(wc, 300));
    expect_ok(tread(wc, 10000));
    kill(r->pid, SIGCONT);
    char *mi = info_text(mc, "replication");
    assert_non_null(strstr(mi, "role:master\r\n"));
    free(mi);
    tconn *rc = tconnect(r->port);
    wait_synced(mc, rc, 10000);
    expect_bulk(tcmd(rc, "GET held"), "1");
    tclose(rc);
    tclose(mc);
    tclose(wc);
    node_stop(r);
    node_stop(m);
}

/* The shard thread serving connection c (CLIENT INFO's io-thread). */
static int shard_of_conn(tconn *c)
{
    struct rval *v = tcmd(c, "CLIENT INFO");
    const char *f = v->type == R_BULK || v->type == R_VERBATIM ? strstr(v->str, " io-thread=") : NULL;
    if (!f)
        fail_msg("CLIENT INFO without io-thread: %s", rval_text(v));
    int shard = atoi(f + strlen(" io-thread="));
    rval_free(v);
    return shard;
}

/* Connects to port until a connection lands on shard `want`; the others
 * go into spare (up to 48, *nspare of them), kept open so the node's
 * round-robin moves on. */
static tconn *conn_on_shard(int port, int want, tconn **spare, int *nspare)
{
    for (;;) {
        assert_true(*nspare < 48);
        tconn *c = tconnect(port);
        if (shard_of_conn(c) == want)
            return c;
        spare[(*nspare)++] = c;
    }
}

/* A WAIT right after writes that wait at the stream gate behind a FLUSHALL
 * (which another shard has not run its part of yet) counts only replicas
 * that have them: with the one replica stopped, 0. Before, the WAIT took
 * the backlog's end as its target while those writes were still held, and
 * answered 1. Three shards: the FLUSHALL comes from a connection of shard 1
 * while shard 2 sleeps (DEBUG SLEEP), so shard 2 reads the WAIT's flush
 * (from shard 0, whose mailbox it reads first) before its FLUSHALL part
 * (from shard 1); shards 0 and 1 have passed the FLUSHALL, so a write on
 * shard 0 waits at the gate. FAILOVER takes the end of the stream the same
 * way. */
static void test_wait_counts_writes_held_behind_flushall(void **state)
{
    (void)state;
    struct server *m, *r;
    pair_up(&m, &r, "3", "1", (const char *[]){ "--enable-debug-command", "yes", NULL });
    tconn *on[3], *spare[48];
    int nspare = 0;
    for (int i = 0; i < 3; i++)
        on[i] = conn_on_shard(m->port, i, spare, &nspare);
    char key[32];
    for (int i = 0;; i++) {
        snprintf(key, sizeof key, "held:%d", i);
        if (key_slot(key, strlen(key)) % 3 == 0)
            break;
    }
    /* the master streams a PING every second, which the stopped replica
     * would not acknowledge either (and which would hide the bug): start
     * right after one, and take well under a second */
    long long at = info_field(on[0], "replication", "master_repl_offset");
    for (long long until = now_ms() + 3000;
         info_field(on[0], "replication", "master_repl_offset") == at && now_ms() < until;)
        usleep(2000);
    expect_int(tcmd(on[0], "WAIT 1 5000"), 1);
    process_stop(r->pid);
    tsendv(on[2], 3, (const char *[]){ "DEBUG", "SLEEP", "0.3" });
    usleep(50 * 1000);
    tsendv(on[1], 1, (const char *[]){ "FLUSHALL" });
    usleep(50 * 1000);
    expect_ok(tcmd(on[0], "SET %s v", key));
    struct rval *w = tcmd(on[0], "WAIT 1 100");
    if (w->type != R_INT || w->integer != 0)
        fail_msg("WAIT 1 100 with the only replica stopped, a write held behind a FLUSHALL: %s", rval_text(w));
    rval_free(w);
    expect_ok(tread(on[1], 10000));
    expect_ok(tread(on[2], 10000));
    kill(r->pid, SIGCONT);
    tconn *rc = tconnect(r->port);
    wait_synced(on[0], rc, 10000);
    expect_bulk(tcmd(rc, "GET %s", key), "v");
    assert_int_equal(dbsize(rc), 1);
    tclose(rc);
    for (int i = 0; i < 3; i++)
        tclose(on[i]);
    for (int i = 0; i < nspare; i++)
        tclose(spare[i]);
    node_stop(r);
    node_stop(m);
}

/* WAIT counts a replica once it has applied the writes, not once its link
 * has read them: a replica's shard 0 reads the stream and hands each write
 * to the shard owning its key, and its acknowledgement waits until those
 * shards are past it (a Redis replica's offset counts what it has
 * executed), so a read on the replica after WAIT sees the write. Here the
 * replica's shard 1 sleeps (DEBUG SLEEP) while the master writes a key of
 * it: WAIT answered 1 before the acknowledgement waited (the stream was
 * read), 0 now; and 1 once the shard is awake and has applied it. */
static void test_wait_counts_applied_writes(void **state)
{
    (void)state;
    struct server *m = node_start((const char *[]){ "--threads", "1", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "2", "--enable-debug-command", "yes", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    tconn *spare[48];
    int nspare = 0;
    tconn *on1 = conn_on_shard(r->port, 1, spare, &nspare);
    char key[32];
    for (int i = 0;; i++) {
        snprintf(key, sizeof key, "applied:%d", i);
        if (key_slot(key, strlen(key)) % 2 == 1)
            break;
    }
    expect_int(tcmd(mc, "WAIT 1 5000"), 1);
    tsendv(on1, 3, (const char *[]){ "DEBUG", "SLEEP", "1" });
    usleep(100 * 1000);
    expect_ok(tcmd(mc, "SET %s v", key));
    struct rval *w = tcmd(mc, "WAIT 1 300");
    if (w->type != R_INT || w->integer != 0)
        fail_msg("WAIT 1 300 while the replica's shard owning the key sleeps: %s (expected 0)", rval_text(w));
    rval_free(w);
    expect_ok(tread(on1, 10000));
    expect_int(tcmd(mc, "WAIT 1 5000"), 1);
    expect_bulk(tcmd(rc, "GET %s", key), "v");
    tclose(on1);
    for (int i = 0; i < nspare; i++)
        tclose(spare[i]);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* The lines of a CLIENT LIST reply that contain `needle`; the reply's text in
 * *all (malloc'd) when all is not NULL. */
static int client_lines_with(tconn *c, const char *args, const char *needle, char **all)
{
    struct rval *v = tcmd(c, "CLIENT LIST%s", args);
    assert_non_null(v);
    if (v->type != R_BULK && v->type != R_VERBATIM) {
        char *t = rval_text(v);
        fail_msg("CLIENT LIST%s: %s", args, t);
    }
    int n = 0;
    for (const char *p = v->str; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    if (all)
        *all = strdup(v->str);
    rval_free(v);
    return n;
}

/* A replica's link to its master is a connection with its own kind of
 * owner, not a client session: CLIENT LIST shows it as Redis does (flags=M,
 * the master's address, no garbage id), CLIENT KILL TYPE normal leaves it,
 * TYPE master drops it (and it comes back), and the idle timeout spares it
 * and the master's feed of the replica (flags=S): with `timeout 1` on both
 * sides the link stays up and no partial resync happens. HELLO on the
 * replica says role replica. */
static void test_link_is_master_client(void **state)
{
    struct server *m = node_start((const char *[]){ "--threads", "2", "--timeout", "1", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "2", "--timeout", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(mc, "key", 0, 100, 16);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    long long partial = info_field(mc, "stats", "sync_partial_ok");

    char *list = NULL;
    char want[96];
    snprintf(want, sizeof want, "addr=127.0.0.1:%d ", m->port);
    int links = client_lines_with(rc, "", "flags=M", &list);
    if (links != 1 || !strstr(list, want) || strstr(list, "id=18446744073709551615") ||
        strstr(list, "resp=-1") || !strstr(list, "user=(superuser)"))
        fail_msg("CLIENT LIST on the replica, wanted one flags=M line with %s:\n%s", want, list);
    free(list);
    assert_int_equal(client_lines_with(rc, " TYPE master", "flags=M", NULL), 1);
    assert_int_equal(client_lines_with(rc, " TYPE normal", "flags=M", NULL), 0);
    assert_int_equal(client_lines_with(mc, " TYPE replica", "flags=S", NULL), 1);
    assert_int_equal(client_lines_with(mc, " TYPE normal", "flags=S", NULL), 0);

    struct rval *h = tcmd(rc, "HELLO 3");
    assert_non_null(h);
    assert_int_equal(h->type, R_MAP);
    bool found = false;
    for (size_t i = 0; i + 1 < h->n; i += 2)
        if (strcmp(h->elem[i]->str, "role") == 0) {
            assert_string_equal(h->elem[i + 1]->str, "replica");
            found = true;
        }
    assert_true(found);
    rval_free(h);
    h = tcmd(mc, "HELLO 3");
    for (size_t i = 0; i + 1 < h->n; i += 2)
        if (strcmp(h->elem[i]->str, "role") == 0)
            assert_string_equal(h->elem[i + 1]->str, "master");
    rval_free(h);

    expect_int(tcmd(rc, "CLIENT KILL TYPE normal"), 0);
    /* 3 s of `timeout 1` (our own connections stay active) */
    for (int i = 0; i < 10; i++) {
        usleep(300000);
        expect_ok(tcmd(mc, "SET idle-check %d", i));
        wait_link(rc, "up", 100);
        assert_int_equal(dbsize(rc) >= 100, 1);
    }
    wait_synced(mc, rc, 5000);
    assert_int_equal(info_field(mc, "stats", "sync_partial_ok"), partial);
    assert_int_equal(client_lines_with(rc, " TYPE master", "flags=M", NULL), 1);

    /* an idle normal client is still closed */
    tconn *idle = tconnect(r->port);
    expect_status(tcmd(idle, "PING"), "PONG");
    assert_true(tclosed(idle, 4000));
    tclose(idle);
    /* ours were idle as long: new ones */
    tclose(rc);
    tclose(mc);
    rc = tconnect(r->port);
    mc = tconnect(m->port);

    /* TYPE master drops the link; it reconnects with a partial resync */
    expect_int(tcmd(rc, "CLIENT KILL TYPE master"), 1);
    wait_field_at_least(mc, "stats", "sync_partial_ok", partial + 1, 10000);
    wait_link(rc, "up", 10000);
    expect_ok(tcmd(mc, "SET after-kill 1"));
    wait_synced(mc, rc, 5000);
    expect_bulk(tcmd(rc, "GET after-kill"), "1");
    assert_int_equal(client_lines_with(rc, " TYPE master", "flags=M", NULL), 1);
    tclose(rc);
    tclose(mc);
    node_stop(r);
    node_stop(m);
}

/* INFO's replication traffic, as redis-server 7.0 counts it: what a master
 * sends its replicas (full sync and stream) in total_net_repl_output_bytes,
 * what a replica reads from its master in total_net_repl_input_bytes, each
 * a part of total_net_output_bytes / total_net_input_bytes; the replica's
 * own replies to its master (REPLCONF ACK) are not replication output. The
 * stream alone is master_repl_offset bytes, so each count is at least
 * that; mem_total_replication_buffers holds the backlog. */
static void test_replication_traffic_in_info(void **state)
{
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(mc, "before", 0, 2000, 100); /* in the full sync */
    replicaof(rc, m->port);
    wait_synced(mc, rc, 20000);
    load_keys(mc, "after", 0, 2000, 100); /* in the stream */
    wait_synced(mc, rc, 20000);
    long long offset = info_field(mc, "replication", "master_repl_offset");
    long long out = info_field(mc, "stats", "total_net_output_bytes");
    long long repl_out = info_field(mc, "stats", "total_net_repl_output_bytes");
    assert_true(repl_out >= offset + 2000 * 100); /* the stream, and the snapshot's values */
    assert_true(out >= repl_out);
    assert_int_equal(info_field(mc, "stats", "total_net_repl_input_bytes"), 0);
    long long in = info_field(rc, "stats", "total_net_input_bytes");
    long long repl_in = info_field(rc, "stats", "total_net_repl_input_bytes");
    assert_true(repl_in >= offset + 2000 * 100);
    assert_true(in >= repl_in);
    assert_int_equal(info_field(rc, "stats", "total_net_repl_output_bytes"), 0);
    assert_true(info_field(mc, "memory", "mem_total_replication_buffers") >=
                info_field(mc, "memory", "mem_replication_backlog"));
    expect_ok(tcmd(mc, "CONFIG RESETSTAT"));
    assert_int_equal(info_field(mc, "stats", "total_net_repl_output_bytes"), 0);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    if (target_is_redis()) {
        /* these tests start ringkv-only options (--threads); run on ringkv */
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_readonly_role_info, nodes_teardown),
        cmocka_unit_test_teardown(test_link_is_master_client, nodes_teardown),
        cmocka_unit_test_teardown(test_replication_traffic_in_info, nodes_teardown),
        cmocka_unit_test_teardown(test_full_sync_while_writing, nodes_teardown),
        cmocka_unit_test_teardown(test_chained_full_sync, nodes_teardown),
        cmocka_unit_test_teardown(test_cut_link_partial_resync, nodes_teardown),
        cmocka_unit_test_teardown(test_kill9_promote_replica, nodes_teardown),
        cmocka_unit_test_teardown(test_backlog_overflow_full_sync, nodes_teardown),
        cmocka_unit_test_teardown(test_replica_more_threads, nodes_teardown),
        cmocka_unit_test_teardown(test_replica_fewer_threads, nodes_teardown),
        cmocka_unit_test_teardown(test_expiry_on_replica, nodes_teardown),
        cmocka_unit_test_teardown(test_databases, nodes_teardown),
        cmocka_unit_test_teardown(test_failover_under_load, nodes_teardown),
        cmocka_unit_test_teardown(test_failover_holds_writes, nodes_teardown),
        cmocka_unit_test_teardown(test_wait_counts_writes_held_behind_flushall, nodes_teardown),
        cmocka_unit_test_teardown(test_wait_counts_applied_writes, nodes_teardown),
        cmocka_unit_test_teardown(test_failover_idle_partial, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
