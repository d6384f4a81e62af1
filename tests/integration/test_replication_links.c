/* Replication links: WAIT's round trip, what a node's replicas learn when it
 * is promoted, PSYNC refused by a replica whose own link is down, the limits
 * on a syncing or chained replica's stream, proto-max-bulk-len in the stream,
 * and a write pause that stops expiry. Each test runs against redis-server
 * too (RINGKV_TEST_TARGET=redis) except where it says it is ringkv-only. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "repl_helpers.h"

/* A node: ringkv with `threads` threads, or a redis-server. */
static struct server *start_node(const char *threads, const char *const *extra)
{
    const char *args[24];
    int k = 0;
    if (!target_is_redis()) {
        args[k++] = "--threads";
        args[k++] = threads;
    } else {
        args[k++] = "--repl-diskless-sync-delay";
        args[k++] = "0";
    }
    for (; extra && *extra && k < 23; extra++)
        args[k++] = *extra;
    args[k] = NULL;
    return node_start(args);
}

static long long int_reply(struct rval *v, const char *what)
{
    if (!v || v->type != R_INT) {
        char *t = rval_text(v);
        fail_msg("%s: %s", what, t);
    }
    long long n = v->integer;
    rval_free(v);
    return n;
}

/* ---- WAIT ------------------------------------------------------------------ */

/* WAIT answers as soon as the replica has acknowledged: SET, its reply, then
 * WAIT 1 with a timeout well under a server tick (100 ms). It used to answer
 * only on a tick: the GETACK it put in the stream waited in the replica's
 * feed until the tick woke shard 0, so a short WAIT timed out with 0 (and
 * every WAIT took a tick). A busy machine may delay a round now and then:
 * most rounds must see the acknowledgement. */
static void test_wait_acknowledged_promptly(void **state)
{
    (void)state;
    struct server *m = start_node("1", NULL), *r = start_node("1", NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    /* the first acknowledgement (redis-server counts a replica in WAIT only
     * once it has sent one after its sync) */
    expect_ok(tcmd(mc, "SET wait:first x"));
    expect_int(tcmd(mc, "WAIT 1 5000"), 1);
    int acknowledged = 0;
    for (int i = 0; i < 20; i++) {
        expect_ok(tcmd(mc, "SET wait:%d %d", i, i));
        long long n = int_reply(tcmd(mc, "WAIT 1 20"), "WAIT 1 20");
        assert_true(n == 0 || n == 1);
        acknowledged += n == 1;
    }
    if (acknowledged < 15)
        fail_msg("WAIT 1 20 saw the acknowledgement in %d of 20 rounds", acknowledged);
    /* no timeout: answers once acknowledged, with the count */
    expect_ok(tcmd(mc, "SET wait:last x"));
    expect_int(tcmd(mc, "WAIT 1 0"), 1);
    /* more replicas than there are: the count at the timeout */
    expect_int(tcmd(mc, "WAIT 2 50"), 1);
    expect_bulk(tcmd(rc, "GET wait:last"), "x");
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* ---- a promotion and the promoted node's replicas ------------------------- */

static void info_string(tconn *c, const char *field, char *out, size_t outlen)
{
    char *i = info_text(c, "replication");
    if (!info_str(i, field, out, outlen))
        fail_msg("INFO replication has no %s", field);
    free(i);
}

/* Until r's master_replid is the same as m's (r has learned m's history). */
static void wait_same_replid(tconn *m, tconn *r, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    char a[64], b[64];
    for (;;) {
        info_string(m, "master_replid", a, sizeof a);
        info_string(r, "master_replid", b, sizeof b);
        if (strcmp(a, b) == 0)
            return;
        if (now_ms() > deadline)
            fail_msg("the replica's master_replid is %s, its master's %s after %d ms", b, a, timeout_ms);
        usleep(20000);
    }
}

/* A, B replica of A, C replica of B, all synced. */
static void chain_up(struct server **a, struct server **b, struct server **c)
{
    *a = start_node("2", NULL);
    *b = start_node("1", NULL);
    *c = start_node("2", NULL);
    tconn *ac = tconnect((*a)->port), *bc = tconnect((*b)->port), *cc = tconnect((*c)->port);
    load_keys(ac, "key", 0, 500, 16);
    replicaof(bc, (*a)->port);
    wait_synced(ac, bc, 10000);
    replicaof(cc, (*b)->port);
    wait_synced(bc, cc, 10000);
    tclose(ac);
    tclose(bc);
    tclose(cc);
}

/* REPLICAOF NO ONE on B gives B a new replication id; C, B's replica, must
 * learn it (B drops its replicas, they continue partially under B's
 * replid2). It used to keep the old id and take B's new writes as A's
 * history: pointed at A afterwards, C continued partially from an offset
 * that means other bytes on A and served B's value of xx, not A's. */
static void test_promotion_tells_replicas(void **state)
{
    (void)state;
    struct server *a, *b, *c;
    chain_up(&a, &b, &c);
    tconn *ac = tconnect(a->port), *bc = tconnect(b->port), *cc = tconnect(c->port);
    long long partial = info_field(bc, "stats", "sync_partial_ok");
    long long full = info_field(bc, "stats", "sync_full");
    expect_ok(tcmd(bc, "REPLICAOF NO ONE"));
    expect_ok(tcmd(bc, "SET xx B"));
    expect_ok(tcmd(ac, "SET xx AAAAAAAAAAAAAA"));
    load_keys(ac, "more", 0, 200, 16);
    wait_same_replid(bc, cc, 10000);
    wait_synced(bc, cc, 10000);
    expect_bulk(tcmd(cc, "GET xx"), "B");
    /* the README's promise: the promoted node's replicas continue partially */
    assert_int_equal(info_field(bc, "stats", "sync_partial_ok"), partial + 1);
    assert_int_equal(info_field(bc, "stats", "sync_full"), full);
    /* C now follows A: B's history is not A's, so a full sync */
    replicaof(cc, a->port);
    wait_synced(ac, cc, 10000);
    expect_bulk(tcmd(cc, "GET xx"), "AAAAAAAAAAAAAA");
    long long keys = dbsize(ac);
    tclose(ac);
    tclose(bc);
    tclose(cc);
    assert_int_equal(expect_same_data(a->port, c->port), keys);
    node_stop(c);
    node_stop(b);
    node_stop(a);
}

/* A <- B <- C <- D. REPLICAOF NO ONE on B: C reconnects and B answers
 * +CONTINUE with its new id; C must pass it on to D, its own replica, the
 * same way (before, D kept the old id: only a promotion dropped replicas,
 * not a +CONTINUE with a new id). */
static void test_continue_new_id_tells_replicas(void **state)
{
    (void)state;
    struct server *a, *b, *c;
    chain_up(&a, &b, &c);
    struct server *d = start_node("1", NULL);
    tconn *bc = tconnect(b->port), *cc = tconnect(c->port), *dc = tconnect(d->port);
    replicaof(dc, c->port);
    wait_synced(cc, dc, 10000);
    long long partial = info_field(cc, "stats", "sync_partial_ok");
    expect_ok(tcmd(bc, "REPLICAOF NO ONE"));
    wait_same_replid(bc, cc, 10000);
    wait_same_replid(bc, dc, 10000);
    expect_ok(tcmd(bc, "SET from-b 1"));
    wait_synced(bc, cc, 10000);
    wait_synced(cc, dc, 10000);
    expect_bulk(tcmd(dc, "GET from-b"), "1");
    /* D continued partially from C, under C's replid2 */
    assert_int_equal(info_field(cc, "stats", "sync_partial_ok"), partial + 1);
    tclose(bc);
    tclose(cc);
    tclose(dc);
    node_stop(d);
    node_stop(c);
    node_stop(b);
    node_stop(a);
}

/* ---- a replica whose own link is down ------------------------------------ */

/* B's master is gone: B refuses its replica's PSYNC, partial as well as
 * full, with -NOMASTERLINK. It used to accept a partial one, and C then
 * showed master_link_status:up while nothing could reach it. */
static void test_nomasterlink_partial(void **state)
{
    (void)state;
    struct server *a, *b, *c;
    chain_up(&a, &b, &c);
    tconn *bc = tconnect(b->port), *cc = tconnect(c->port);
    long long partial = info_field(bc, "stats", "sync_partial_ok");
    server_kill(a);
    wait_link(bc, "down", 10000);
    struct rval *v = tcmd(bc, "CLIENT KILL TYPE replica");
    assert_non_null(v);
    assert_int_equal(v->type, R_INT);
    assert_int_equal(v->integer, 1);
    rval_free(v);
    wait_link(cc, "down", 10000);
    /* C retries (ringkv from 100 ms, redis-server every second): never up */
    long long until = now_ms() + 2500;
    char link[32];
    while (now_ms() < until) {
        info_string(cc, "master_link_status", link, sizeof link);
        if (strcmp(link, "up") == 0)
            fail_msg("C's link is up although its master B has no link to A");
        usleep(20000);
    }
    assert_int_equal(info_field(bc, "stats", "sync_partial_ok"), partial);
    tclose(bc);
    tclose(cc);
    node_stop(c);
    node_stop(b);
}

/* ---- proto-max-bulk-len in the stream ------------------------------------- */

/* A value over 512 MB, on a master and a replica whose proto-max-bulk-len
 * allow it, reaches the replica. The replica's stream parser had a fixed
 * 512 MB limit: it took the SET for a protocol error and reconnected for
 * ever. (redis-server does not limit its master's bulks at all; ringkv
 * applies proto-max-bulk-len to them as to a client's.) */
static void test_stream_bulk_over_512mb(void **state)
{
    (void)state;
    struct server *m, *r;
    if (target_is_redis()) {
        m = start_node("1", (const char *[]){ "--proto-max-bulk-len", "1gb", "--client-output-buffer-limit",
                                               "replica 0 0 0", NULL });
        r = start_node("1", (const char *[]){ "--proto-max-bulk-len", "1gb", NULL });
    } else {
        m = start_node("1", (const char *[]){ "--proto-max-bulk-len", "1gb", "--replica-output-hard-limit", "0",
                                               NULL });
        r = start_node("1", (const char *[]){ "--proto-max-bulk-len", "1gb", NULL });
    }
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    size_t vlen = (512u << 20) + 4096;
    char head[96];
    int hl = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%zu\r\n", vlen);
    char *cmd = malloc((size_t)hl + vlen + 2);
    assert_non_null(cmd);
    memcpy(cmd, head, (size_t)hl);
    memset(cmd + hl, 'v', vlen);
    memcpy(cmd + hl + vlen, "\r\n", 2);
    tsend_raw(mc, cmd, (size_t)hl + vlen + 2);
    free(cmd);
    expect_ok(tread(mc, 60000));
    wait_synced(mc, rc, 60000);
    expect_int(tcmd(rc, "STRLEN big"), (long long)vlen);
    expect_int(tcmd(mc, "DEL big"), 1);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_wait_acknowledged_promptly, nodes_teardown),
        cmocka_unit_test_teardown(test_promotion_tells_replicas, nodes_teardown),
        cmocka_unit_test_teardown(test_continue_new_id_tells_replicas, nodes_teardown),
        cmocka_unit_test_teardown(test_nomasterlink_partial, nodes_teardown),
        cmocka_unit_test_teardown(test_stream_bulk_over_512mb, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
