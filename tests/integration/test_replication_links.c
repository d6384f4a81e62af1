/* Replication links: WAIT's round trip, what a node's replicas learn when it
 * is promoted, PSYNC refused by a replica whose own link is down, the limits
 * on a syncing or chained replica's stream, proto-max-bulk-len in the stream,
 * and a write pause that stops expiry. Each test runs against redis-server
 * too (RINGKV_TEST_TARGET=redis) except where it says it is ringkv-only. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "repl_helpers.h"

/* The redis-server nodes' directories, removed by the teardown. */
static char node_dirs[MAX_NODES][32];
static int nnode_dirs;

static int links_teardown(void **state)
{
    int rc = nodes_teardown(state);
    for (int i = 0; i < nnode_dirs; i++) {
        char cmd[320];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", node_dirs[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", node_dirs[i]);
    }
    nnode_dirs = 0;
    return rc;
}

/* A node: ringkv with `threads` threads, or a redis-server. */
static struct server *start_node(const char *threads, const char *const *extra)
{
    const char *args[24];
    int k = 0;
    if (!target_is_redis()) {
        args[k++] = "--threads";
        args[k++] = threads;
    } else {
        /* a directory of its own: a replica's disk-based sync leaves a
         * dump.rdb the next redis-server started in the same place loads */
        assert_true(nnode_dirs < MAX_NODES);
        char *dir = node_dirs[nnode_dirs++];
        snprintf(dir, sizeof node_dirs[0], "/tmp/rkv-links.XXXXXX");
        assert_non_null(mkdtemp(dir));
        args[k++] = "--dir";
        args[k++] = dir;
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

/* ---- the master by name ---------------------------------------------------- */

/* REPLICAOF <host name> <port>, as in a redis.conf of a container's
 * deployment (`replicaof redis-0.redis 6379`): the name is looked up by a
 * thread of its own, never by the shard's loop, at each connection (a
 * moved master is found again). The name here is this machine's own, from
 * its hosts file (a loopback address; the master listens there too). A
 * name that does not resolve leaves the link down and the node serving. */
static void test_master_by_host_name(void **state)
{
    (void)state;
    char host[256] = "";
    assert_int_equal(gethostname(host, sizeof host - 1), 0);
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    char ip[INET_ADDRSTRLEN] = "";
    if (getaddrinfo(host, NULL, &hints, &ai) == 0) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof ip);
        freeaddrinfo(ai);
    }
    if (strncmp(ip, "127.", 4) != 0) {
        fprintf(stderr, "skipped: this machine's name (%s) is not a loopback address in its hosts file\n", host);
        skip();
    }
    char bind[64];
    snprintf(bind, sizeof bind, "127.0.0.1 -%s", ip);
    const char *const margs[] = { "--bind", bind, NULL };
    struct server *m = start_node("2", strcmp(ip, "127.0.0.1") ? margs : NULL), *r = start_node("2", NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    expect_ok(tcmd(mc, "SET by-name yes"));
    expect_ok(tcmd(rc, "REPLICAOF %s %d", host, m->port));
    wait_synced(mc, rc, 20000);
    expect_bulk(tcmd(rc, "GET by-name"), "yes");
    char *info = info_text(rc, "replication");
    char shown[256];
    assert_true(info_str(info, "master_host", shown, sizeof shown));
    assert_string_equal(shown, host);
    free(info);

    /* a name nobody knows: the link stays down, the node answers */
    expect_ok(tcmd(rc, "REPLICAOF ringkv-no-such-host.invalid %d", m->port));
    usleep(300 * 1000);
    expect_status(tcmd(rc, "PING"), "PONG");
    expect_bulk(tcmd(rc, "GET by-name"), "yes");
    info = info_text(rc, "replication");
    assert_true(info_str(info, "master_host", shown, sizeof shown));
    assert_string_equal(shown, "ringkv-no-such-host.invalid");
    assert_true(info_str(info, "master_link_status", shown, sizeof shown));
    assert_string_equal(shown, "down");
    free(info);
    if (!target_is_redis()) /* redis-server takes any text, and fails to connect */
        expect_error(tcmd(rc, "REPLICAOF no/such:host %d", m->port),
                     "ERR Invalid master address: an IPv4/IPv6 address or a host name");
    expect_ok(tcmd(rc, "REPLICAOF NO ONE"));
    expect_ok(tcmd(rc, "SET mine 1"));
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
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

/* ---- a write pause stops expiry and eviction ----------------------------- */

/* A master with a synced replica and `n` keys "ttl:<i>" of PX ttl_ms, set
 * from the time it returns (now_ms()). */
static long long pair_with_ttl_keys(struct server **m, struct server **r, tconn **mc, tconn **rc, int n,
                                    int ttl_ms)
{
    *m = start_node("2", NULL);
    *r = start_node("1", NULL);
    *mc = tconnect((*m)->port);
    *rc = tconnect((*r)->port);
    load_keys(*mc, "key", 0, 100, 16);
    replicaof(*rc, (*m)->port);
    wait_synced(*mc, *rc, 10000);
    /* the first acknowledgement (redis-server's replica is online then) */
    expect_int(tcmd(*mc, "WAIT 1 5000"), 1);
    long long t0 = now_ms();
    for (int i = 0; i < n; i++)
        expect_ok(tcmd(*mc, "SET ttl:%d v PX %d", i, ttl_ms));
    expect_int(tcmd(*mc, "WAIT 1 5000"), 1); /* the replica has them */
    return t0;
}

/* The pause began before the keys' time was up (else the test proves
 * nothing), and then sleep until they are well past it. */
static void sleep_past_ttl(tconn *mc, long long t0, int ttl_ms, long long keys)
{
    if (now_ms() - t0 >= ttl_ms - 100)
        fail_msg("the setup took %lld ms, longer than the keys' TTL", now_ms() - t0);
    assert_int_equal(dbsize(mc), keys);
    long long wake = t0 + ttl_ms + 500;
    while (now_ms() < wake)
        usleep(10000);
}

/* The stream while paused: nothing but the master's keepalive PINGs (14
 * bytes each; ringkv sends one a second, redis-server every 10 s). */
static void expect_only_pings(long long from, long long to)
{
    long long d = to - from;
    if (d < 0 || d % 14 != 0 || d > 14 * 4)
        fail_msg("master_repl_offset moved by %lld bytes during the pause (%lld -> %lld)", d, from, to);
}

/* CLIENT PAUSE WRITE holds active and lazy expiry, as in Redis: keys past
 * their time read as missing but stay, no DEL enters the stream (the offset
 * stands still but for PINGs); after CLIENT UNPAUSE the DELs flow and the
 * replica drops the keys. Active expiry used to go on during the pause, so
 * a FAILOVER waiting for its target to reach the offset chased it. */
static void test_pause_holds_expiry(void **state)
{
    (void)state;
    struct server *m, *r;
    tconn *mc, *rc;
    long long t0 = pair_with_ttl_keys(&m, &r, &mc, &rc, 50, 1500);
    long long expired0 = info_field(mc, "stats", "expired_keys");
    expect_ok(tcmd(mc, "CLIENT PAUSE 8000 WRITE"));
    sleep_past_ttl(mc, t0, 1500, 150); /* every key is past its time, several ticks later */
    long long o1 = info_field(mc, "replication", "master_repl_offset");
    expect_nil(tcmd(mc, "GET ttl:0"));          /* reads report them missing... */
    expect_int(tcmd(mc, "EXISTS ttl:1"), 0);
    expect_int(tcmd(mc, "PTTL ttl:2"), -2);
    usleep(400 * 1000);
    long long o2 = info_field(mc, "replication", "master_repl_offset");
    expect_only_pings(o1, o2);
    assert_int_equal(info_field(mc, "stats", "expired_keys"), expired0); /* ...but they stay */
    assert_int_equal(dbsize(mc), 150);
    assert_int_equal(dbsize(rc), 150);
    expect_ok(tcmd(mc, "CLIENT UNPAUSE"));
    long long deadline = now_ms() + 10000;
    while (dbsize(rc) != 100) {
        if (now_ms() > deadline)
            fail_msg("the replica still holds %lld keys 10 s after the pause", dbsize(rc));
        usleep(20000);
    }
    assert_int_equal(dbsize(mc), 100);
    assert_true(info_field(mc, "stats", "expired_keys") >= expired0 + 50);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* The same for a FAILOVER's write pause: the target never catches up, so
 * the pause lasts until the TIMEOUT; meanwhile nothing expires. */
static void test_failover_pause_holds_expiry(void **state)
{
    (void)state;
    struct server *m, *r;
    tconn *mc, *rc;
    long long t0 = pair_with_ttl_keys(&m, &r, &mc, &rc, 50, 1500);
    process_stop(r->pid); /* the target cannot acknowledge: the pause lasts */
    expect_ok(tcmd(mc, "SET behind 1"));
    expect_ok(tcmd(mc, "FAILOVER TIMEOUT 3500"));
    sleep_past_ttl(mc, t0, 1500, 151);
    long long o1 = info_field(mc, "replication", "master_repl_offset");
    expect_nil(tcmd(mc, "GET ttl:0"));
    usleep(400 * 1000);
    long long o2 = info_field(mc, "replication", "master_repl_offset");
    expect_only_pings(o1, o2);
    assert_int_equal(dbsize(mc), 151);
    /* the failover times out (the target still stopped); then the master
     * expires the keys and the replica follows */
    char fs[64];
    long long until = now_ms() + 10000;
    for (;;) {
        info_string(mc, "master_failover_state", fs, sizeof fs);
        if (strcmp(fs, "no-failover") == 0)
            break;
        if (now_ms() > until)
            fail_msg("master_failover_state is still %s", fs);
        usleep(20000);
    }
    kill(r->pid, SIGCONT);
    long long deadline = now_ms() + 10000;
    while (dbsize(rc) != 101) {
        if (now_ms() > deadline)
            fail_msg("the replica holds %lld keys 10 s after the failover's timeout", dbsize(rc));
        usleep(20000);
    }
    assert_int_equal(dbsize(mc), 101);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* Eviction waits for the end of a write pause too: maxmemory lowered
 * during CLIENT PAUSE WRITE evicts nothing (no DEL in the stream) until
 * CLIENT UNPAUSE. */
static void test_pause_holds_eviction(void **state)
{
    (void)state;
    struct server *m = start_node("2", NULL), *r = start_node("1", NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(mc, "key", 0, 2000, 64);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    expect_int(tcmd(mc, "WAIT 1 5000"), 1);
    expect_ok(tcmd(mc, "CONFIG SET maxmemory-policy allkeys-random"));
    expect_ok(tcmd(mc, "CLIENT PAUSE 8000 WRITE"));
    long long o1 = info_field(mc, "replication", "master_repl_offset");
    expect_ok(tcmd(mc, "CONFIG SET maxmemory 64kb")); /* under what 2000 keys take */
    usleep(500 * 1000); /* several ticks */
    expect_bulk(tcmd(mc, "PING hello"), "hello");
    long long o2 = info_field(mc, "replication", "master_repl_offset");
    expect_only_pings(o1, o2);
    assert_int_equal(info_field(mc, "stats", "evicted_keys"), 0);
    assert_int_equal(dbsize(mc), 2000);
    expect_ok(tcmd(mc, "CLIENT UNPAUSE"));
    long long deadline = now_ms() + 10000;
    while (info_field(mc, "stats", "evicted_keys") < 1000) {
        if (now_ms() > deadline)
            fail_msg("the master evicted %lld keys after the pause (%lld left, used_memory %lld)",
                     info_field(mc, "stats", "evicted_keys"), dbsize(mc), info_field(mc, "memory", "used_memory"));
        expect_status(tcmd(mc, "PING"), "PONG"); /* redis-server evicts before a command */
        usleep(20000);
    }
    expect_ok(tcmd(mc, "CONFIG SET maxmemory 0"));
    wait_synced(mc, rc, 10000);
    assert_int_equal(dbsize(rc), dbsize(mc));
    assert_true(dbsize(mc) <= 1000);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* ---- output limits during a full sync ------------------------------------ */

/* The replica-class hard limit at 4 MB, on ringkv or redis-server. */
static const char *const *small_replica_limit(void)
{
    static const char *const ringkv_args[] = { "--replica-output-hard-limit", "4mb", NULL };
    static const char *const redis_args[] = { "--client-output-buffer-limit", "replica 4mb 0 0", NULL };
    return target_is_redis() ? redis_args : ringkv_args;
}

/* Stop `replica` as soon as `master` lists it (its full sync has begun), so
 * the sync cannot end: the data set is far larger than the socket buffers
 * and the snapshot window. Fails if the sync ended anyway. */
static void stop_replica_in_sync(tconn *mc, struct server *replica)
{
    long long deadline = now_ms() + 10000;
    while (info_field(mc, "replication", "connected_slaves") < 1) {
        if (now_ms() > deadline)
            fail_msg("the replica never attached");
        usleep(1000);
    }
    process_stop(replica->pid);
    char *i = info_text(mc, "replication");
    bool syncing = strstr(i, "state=online") == NULL;
    free(i);
    if (!syncing) {
        kill(replica->pid, SIGCONT);
        fail_msg("the full sync ended before the replica could be stopped");
    }
}

/* ~30 MB of stream: 3000 SETs of 10 KB. */
static void write_stream(tconn *c)
{
    load_keys(c, "stream", 0, 3000, 10000);
}

static void wait_no_replicas(tconn *mc, const char *who)
{
    long long deadline = now_ms() + 20000;
    while (info_field(mc, "replication", "connected_slaves") != 0) {
        if (now_ms() > deadline)
            fail_msg("%s still has its syncing replica 20 s after 30 MB of stream over a 4 MB limit", who);
        usleep(20000);
    }
}

/* A replica stalls during its full sync while the master takes 30 MB of
 * writes: the stream part of its output passes replica-output-hard-limit
 * and the master drops it (as Redis does during a sync), instead of
 * buffering the stream without bound; once resumed it syncs again. The
 * limits used to apply only to online replicas. */
static void test_syncing_replica_output_limit(void **state)
{
    (void)state;
    struct server *m = start_node("2", small_replica_limit()), *r = start_node("1", NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_keys(mc, "key", 0, 400000, 200);
    replicaof(rc, m->port);
    tclose(rc);
    stop_replica_in_sync(mc, r);
    write_stream(mc);
    wait_no_replicas(mc, "the master");
    if (!target_is_redis())
        assert_true(log_contains(m, "overcoming of output buffer limits"));
    kill(r->pid, SIGCONT);
    rc = tconnect(r->port);
    wait_synced(mc, rc, 60000);
    assert_int_equal(dbsize(rc), dbsize(mc));
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* The same one step down a chain: C, replica of B, stalls in its full sync
 * from B while A's writes flow through B, which holds them for C until C's
 * snapshot is complete. That held stream is limited too. */
static void test_chained_held_stream_limit(void **state)
{
    (void)state;
    struct server *a = start_node("2", NULL), *b = start_node("2", small_replica_limit()),
                  *c = start_node("1", NULL);
    tconn *ac = tconnect(a->port), *bc = tconnect(b->port), *cc = tconnect(c->port);
    load_keys(ac, "key", 0, 400000, 200);
    replicaof(bc, a->port);
    wait_synced(ac, bc, 60000);
    replicaof(cc, b->port);
    tclose(cc);
    stop_replica_in_sync(bc, c);
    write_stream(ac);
    wait_no_replicas(bc, "B");
    if (!target_is_redis())
        assert_true(log_contains(b, "overcoming of output buffer limits"));
    kill(c->pid, SIGCONT);
    cc = tconnect(c->port);
    wait_synced(bc, cc, 60000);
    assert_int_equal(dbsize(cc), dbsize(ac));
    tclose(ac);
    tclose(bc);
    tclose(cc);
    node_stop(c);
    node_stop(b);
    node_stop(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_master_by_host_name, links_teardown),
        cmocka_unit_test_teardown(test_wait_acknowledged_promptly, links_teardown),
        cmocka_unit_test_teardown(test_promotion_tells_replicas, links_teardown),
        cmocka_unit_test_teardown(test_continue_new_id_tells_replicas, links_teardown),
        cmocka_unit_test_teardown(test_nomasterlink_partial, links_teardown),
        cmocka_unit_test_teardown(test_stream_bulk_over_512mb, links_teardown),
        cmocka_unit_test_teardown(test_pause_holds_expiry, links_teardown),
        cmocka_unit_test_teardown(test_failover_pause_holds_expiry, links_teardown),
        cmocka_unit_test_teardown(test_pause_holds_eviction, links_teardown),
        cmocka_unit_test_teardown(test_syncing_replica_output_limit, links_teardown),
        cmocka_unit_test_teardown(test_chained_held_stream_limit, links_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
