/* Replication through a fault-injecting proxy (tests/proxy.h): the replica
 * points at the proxy, which forwards to the master and, on the test's
 * order, drops the link mid-stream, delays every byte, garbles the stream,
 * cuts the connection part way through a full sync, or stalls. Whatever
 * happens, the replica must recover and end with exactly the master's data,
 * never apply a corrupt record and never serve half a snapshot. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "proxy.h"
#include "repl_helpers.h"

static struct proxy *px;

static int teardown(void **state)
{
    if (px) {
        proxy_stop(px);
        px = NULL;
    }
    return nodes_teardown(state);
}

/* Master (2 threads) with nkeys, a replica (1 thread), a proxy to the master. */
static void setup_nodes(struct server **m, struct server **r, long nkeys, int valsize,
                        const char *const *replica_args)
{
    /* the writers fill a 1 MB backlog in a fraction of the reconnect time:
     * a big one keeps a cut link resumable */
    *m = node_start((const char *[]){ "--threads", "2", "--repl-backlog-size", "256mb", NULL });
    *r = node_start(replica_args ? replica_args : (const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect((*m)->port);
    load_keys(mc, "key", 0, nkeys, valsize);
    tclose(mc);
    px = proxy_start((*m)->port);
    assert_non_null(px);
}

static void wait_accepted(int n, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (proxy_accepted(px) < n) {
        if (now_ms() > deadline)
            fail_msg("the replica did not reconnect: %d connections, wanted %d",
                     proxy_accepted(px), n);
        usleep(10000);
    }
}

static void finish(struct server *m, struct server *r, tconn *mc, tconn *rc)
{
    wait_synced(mc, rc, 15000);
    expect_same_data(m->port, r->port);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

static void test_drop_mid_stream(void **state)
{
    struct server *m, *r;
    setup_nodes(&m, &r, 10000, 32, NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    struct writer w;
    writer_start(&w, m->port, "w", 10000, 32);
    replicaof(rc, proxy_port(px));
    wait_link(rc, "up", 10000);
    for (int drop = 1; drop <= 3; drop++) {
        writer_wait_ok(&w, atomic_load(&w.ok) + 1000, 10000);
        proxy_drop_all(px);
        wait_accepted(drop + 1, 10000);
        wait_link(rc, "up", 10000);
    }
    writer_wait_ok(&w, atomic_load(&w.ok) + 1000, 10000);
    writer_stop(&w);
    assert_int_equal(w.errors, 0);
    writer_free(&w);
    /* the drops cost no data, and a cut link resumes by partial resync */
    if (info_field(mc, "stats", "sync_partial_ok") < 1)
        fail_msg("3 dropped links, no partial resync: sync_full %lld, sync_partial_ok %lld, "
                 "sync_partial_err %lld (replica log %s)", info_field(mc, "stats", "sync_full"),
                 info_field(mc, "stats", "sync_partial_ok"),
                 info_field(mc, "stats", "sync_partial_err"), r->logfile);
    finish(m, r, mc, rc);
}

static void test_delay(void **state)
{
    struct server *m, *r;
    setup_nodes(&m, &r, 10000, 32, NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    proxy_set_delay(px, 200);
    struct writer w;
    writer_start(&w, m->port, "w", 10000, 32);
    long long t0 = now_ms();
    replicaof(rc, proxy_port(px));
    wait_link(rc, "up", 15000);
    /* the handshake alone crosses the proxy several times */
    assert_true(now_ms() - t0 >= 400);
    writer_wait_ok(&w, atomic_load(&w.ok) + 3000, 10000);
    writer_stop(&w);
    assert_int_equal(w.errors, 0);
    writer_free(&w);
    finish(m, r, mc, rc);
}

/* A key made of the proxy's garbage would contain "*x*x". */
static void expect_no_garbage_key(tconn *c)
{
    struct rval *v = tcmd(c, "KEYS *x\\*x*");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    if (v->n != 0) {
        char *t = rval_text(v);
        fail_msg("garbage keys on the replica: %s", t);
    }
    rval_free(v);
}

static void test_garbled_stream(void **state)
{
    struct server *m, *r;
    setup_nodes(&m, &r, 10000, 32, NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    struct writer w;
    writer_start(&w, m->port, "w", 10000, 32);
    replicaof(rc, proxy_port(px));
    wait_link(rc, "up", 10000);
    writer_wait_ok(&w, atomic_load(&w.ok) + 1000, 10000);

    /* one garbled chunk mid-stream: detected, logged, link dropped, retried */
    proxy_garble_chunks(px, 1);
    long long deadline = now_ms() + 10000;
    while (proxy_garbled(px) < 1) {
        if (now_ms() > deadline)
            fail_msg("nothing flowed to garble");
        usleep(5000);
    }
    wait_accepted(2, 10000);
    deadline = now_ms() + 5000;
    while (!log_contains(r, "Protocol error")) {
        if (now_ms() > deadline)
            fail_msg("the replica did not log a protocol error (log %s)", r->logfile);
        usleep(20000);
    }
    wait_link(rc, "up", 10000);
    expect_no_garbage_key(rc);

    /* garbling everything for a while (handshakes included): the replica
     * keeps retrying, and the link recovers once the stream is clean */
    int accepted = proxy_accepted(px);
    proxy_garble_chunks(px, 1000000);
    deadline = now_ms() + 10000;
    while (proxy_accepted(px) < accepted + 2) {
        if (now_ms() > deadline)
            fail_msg("no retries while the stream was garbled (%d connections)",
                     proxy_accepted(px));
        usleep(10000);
    }
    proxy_garble_chunks(px, 0);
    wait_link(rc, "up", 10000);
    writer_wait_ok(&w, atomic_load(&w.ok) + 1000, 10000);
    writer_stop(&w);
    assert_int_equal(w.errors, 0);
    writer_free(&w);
    wait_synced(mc, rc, 15000);
    expect_no_garbage_key(rc);
    assert_int_equal(dbsize(rc), dbsize(mc));
    finish(m, r, mc, rc);
}

static void test_truncated_snapshot(void **state)
{
    struct server *m, *r;
    /* 20000 keys of 100 bytes: a snapshot of about 2.5 MB, cut at 200 KB */
    setup_nodes(&m, &r, 20000, 100, NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(rc, "old", 0, 10, 8);
    assert_int_equal(dbsize(rc), 10);
    proxy_truncate(px, 200000, 3);
    replicaof(rc, proxy_port(px));

    /* until the third cut, and until the sync completes after it, the
     * replica serves its old data: never a part of the snapshot */
    long long deadline = now_ms() + 20000, stuck_since = 0;
    long looks = 0;
    for (;;) {
        /* DBSIZE before INFO: the replica marks the link up before its
         * shards swap in the loaded copy, never after, so a full count
         * read first is always followed by "up" */
        long long n = dbsize(rc);
        char *ri = info_text(rc, "replication");
        bool up = strstr(ri, "master_link_status:up\r\n") != NULL &&
                  strstr(ri, "master_sync_in_progress:0\r\n") != NULL;
        long long roff = info_num(ri, "slave_repl_offset");
        free(ri);
        looks++;
        if (up && n == 20000)
            break;
        if (n != 10)
            fail_msg("the replica shows %lld keys during a full sync (had 10, master has "
                     "20000): half a snapshot is visible (%d cuts so far)", n, proxy_cuts(px));
        /* link up and in sync, yet only the old keys: the snapshot was never
         * completed but the replica resumed as if it had been */
        if (up && !stuck_since)
            stuck_since = now_ms();
        if (!up)
            stuck_since = 0;
        if (up && now_ms() - stuck_since > 2000)
            fail_msg("after %d truncated full syncs the replica reports master_link_status:up, "
                     "master_sync_in_progress:0, slave_repl_offset:%lld (master_repl_offset "
                     "%lld) but holds only its 10 old keys, not the master's 20000: it resumed "
                     "by partial resync from a snapshot it never completed (replica log %s, "
                     "master log %s)", proxy_cuts(px), roff,
                     info_field(mc, "replication", "master_repl_offset"), r->logfile,
                     m->logfile);
        if (now_ms() > deadline)
            fail_msg("no completed sync after %d truncated attempts (%d connections; "
                     "replica log %s, master log %s)", proxy_cuts(px), proxy_accepted(px),
                     r->logfile, m->logfile);
        usleep(2000);
    }
    /* at least one full sync was cut (on a slow build the proxy may let a
     * later attempt through whole before it cuts): every cut one was
     * followed by another attempt */
    assert_true(proxy_cuts(px) >= 1);
    assert_true(proxy_accepted(px) >= proxy_cuts(px) + 1);
    assert_true(looks > 3);
    expect_nil(tcmd(rc, "GET old:0"));
    assert_int_equal(dbsize(rc), 20000);
    finish(m, r, mc, rc);
}

static void test_stalled_master(void **state)
{
    struct server *m, *r;
    setup_nodes(&m, &r, 2000, 16, (const char *[]){ "--threads", "1", "--repl-timeout", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, proxy_port(px));
    wait_synced(mc, rc, 10000);
    proxy_set_stall(px, true);
    expect_ok(tcmd(mc, "SET during-stall 1"));
    /* a master that sends nothing for repl-timeout is given up */
    wait_link(rc, "down", 5000);
    assert_true(log_contains(r, "MASTER timeout") || log_contains(r, "timeout"));
    proxy_set_stall(px, false);
    wait_link(rc, "up", 10000);
    wait_synced(mc, rc, 10000);
    expect_bulk(tcmd(rc, "GET during-stall"), "1");
    finish(m, r, mc, rc);
}

/* The unsent output (omem) of the master's replica connection, -1 if none. */
static long long replica_omem(tconn *mc)
{
    struct rval *v = tcmd(mc, "CLIENT LIST TYPE replica");
    assert_non_null(v);
    long long omem = -1;
    const char *p = v->str ? strstr(v->str, " omem=") : NULL;
    if (p)
        omem = atoll(p + 6);
    rval_free(v);
    return omem;
}

/* A full sync to a replica that stops reading (the proxy stalls as soon as
 * the master has accepted the PSYNC): the master makes its snapshot only as
 * fast as it is sent, so the unsent output of the replica's connection stays
 * near the snapshot window (8 MB) instead of growing towards the data set
 * (~170 MB); when the replica reads again the sync completes, identical. */
static void test_snapshot_paced_by_replica(void **state)
{
    struct server *m, *r;
    setup_nodes(&m, &r, 300000, 500, NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, proxy_port(px));
    long long deadline = now_ms() + 10000;
    while (info_field(mc, "replication", "connected_slaves") < 1) {
        if (now_ms() > deadline)
            fail_msg("the master never accepted the replica");
        usleep(1000);
    }
    proxy_set_stall(px, true);
    /* 2 s of samples, longer (up to 15 s) until the snapshot is seen
     * piling up: on a loaded machine its first megabyte can take longer */
    long long max_omem = 0, start = now_ms();
    for (long long now = start; now < start + 15000 && (now < start + 2000 || max_omem <= 1000000);
         now = now_ms()) {
        long long o = replica_omem(mc);
        if (o > max_omem)
            max_omem = o;
        usleep(50000);
    }
    /* the snapshot did pile up (the stall works), but only by a window */
    print_message("most snapshot bytes unsent while stalled: %lld\n", max_omem);
    assert_true(max_omem > 1000000);
    if (max_omem > 32ll << 20)
        fail_msg("%lld bytes of snapshot waited unsent for a stalled replica", max_omem);
    proxy_set_stall(px, false);
    wait_link(rc, "up", 30000);
    finish(m, r, mc, rc);
}

/* A replica that stops reading (SIGSTOP) is dropped once its unsent stream
 * passes replica-output-hard-limit, so the master's memory stays bounded and
 * its clients keep being served; when the replica runs again it reconnects
 * and ends identical. */
static void test_stopped_replica_dropped(void **state)
{
    if (target_is_redis())
        skip();
    const char *margs[] = { "--threads", "1", "--replica-output-hard-limit", "2mb", "--replica-output-soft-limit", "1mb", NULL };
    struct server *m = node_start(margs);
    const char *rargs[] = { "--threads", "1", NULL };
    struct server *r = node_start(rargs);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(mc, "k", 0, 1000, 32);
    replicaof(rc, m->port);
    wait_link(rc, "up", 10000);
    tclose(rc);
    process_stop(r->pid);
    /* about 20 MB of writes while the replica sleeps */
    long long deadline = now_ms() + 20000;
    long round = 0;
    while (info_field(mc, "replication", "connected_slaves") > 0) {
        if (now_ms() > deadline) {
            kill(r->pid, SIGCONT);
            fail_msg("the stopped replica was never dropped (master log %s)", m->logfile);
        }
        load_keys(mc, "big", round * 200, (round + 1) * 200, 1000);
        round++;
    }
    assert_true(log_contains(m, "overcoming of output buffer limits"));
    expect_status(tcmd(mc, "PING"), "PONG"); /* the master serves on */
    kill(r->pid, SIGCONT);
    rc = tconnect(r->port);
    wait_link(rc, "up", 20000);
    wait_synced(mc, rc, 20000);
    assert_int_equal(dbsize(rc), dbsize(mc));
    tclose(rc);
    tclose(mc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    if (target_is_redis())
        return 0;  /* ringkv-only options (--threads) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_drop_mid_stream, teardown),
        cmocka_unit_test_teardown(test_delay, teardown),
        cmocka_unit_test_teardown(test_garbled_stream, teardown),
        cmocka_unit_test_teardown(test_truncated_snapshot, teardown),
        cmocka_unit_test_teardown(test_stalled_master, teardown),
        cmocka_unit_test_teardown(test_stopped_replica_dropped, teardown),
        cmocka_unit_test_teardown(test_snapshot_paced_by_replica, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
