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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_wait_acknowledged_promptly, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
