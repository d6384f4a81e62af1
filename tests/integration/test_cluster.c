/* Cluster mode (shards/cluster/): a node with no table answers CLUSTERDOWN;
 * three nodes given one table by CLUSTER RINGKV-SETSTATE serve their slots,
 * redirect the others with MOVED to the right ip:port, refuse cross-slot
 * commands (also inside MULTI), and show the table through CLUSTER
 * NODES/SLOTS/SHARDS/INFO in Redis's shapes; redis-cli -c follows the
 * redirections; an older push is refused; a restarted node keeps its id and
 * table. The nodes share the state (shards/cluster/peers.h): a push to one
 * reaches the others, a restarted node with an old table converges, none
 * goes back, with requirepass too; a node replicates its group's master as
 * the group record says, and CLUSTER FAILOVER [TAKEOVER] or a promotion by
 * hand moves the record, which every node follows; a master's fence counts
 * a peer that answers its asks but is slow to take a push as reached. The
 * single-node checks
 * run on redis-server in cluster mode too (RINGKV_TEST_TARGET=redis); the
 * table push and the peers are ringkv's own. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define SKIP_ON_REDIS() do { if (target_is_redis()) skip(); } while (0)

static char conf_path[3][300];

static void start_cluster_node(struct server *s, int i)
{
    const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[i], NULL };
    assert_int_equal(server_start(s, args), 0);
}

static int group_setup(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        snprintf(conf_path[i], sizeof conf_path[i], "/tmp/ringkv-test-cluster-%d-%d.conf", (int)getpid(), i);
        unlink(conf_path[i]);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        unlink(conf_path[i]);
    return 0;
}

static char *bulk_text(struct rval *v)
{
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    char *s = strdup(v->str);
    rval_free(v);
    return s;
}

/* The value of "field:" in CLUSTER INFO's text. */
static long long text_field(const char *info, const char *field)
{
    const char *p = strstr(info, field);
    assert_non_null(p);
    return atoll(p + strlen(field) + 1);
}

/* A node in cluster mode before any table: keys are not served, the rest
 * answers; CLUSTER subcommands with bad arguments answer Redis's errors. */
static void test_no_table(void **state)
{
    (void)state;
    struct server s;
    unlink(conf_path[0]);
    start_cluster_node(&s, 0);
    tconn *c = tconnect(s.port);
    expect_error(tcmd(c, "SET foo bar"), "CLUSTERDOWN Hash slot not served");
    expect_error(tcmd(c, "GET foo"), "CLUSTERDOWN Hash slot not served");
    expect_error(tcmd(c, "MSET a 1 b 2"), "CLUSTERDOWN Hash slot not served");
    expect_status(tcmd(c, "PING"), "PONG");
    expect_int(tcmd(c, "DBSIZE"), 0);
    char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
    assert_non_null(strstr(info, "cluster_state:fail\r\n"));
    assert_int_equal(text_field(info, "cluster_slots_assigned"), 0);
    assert_int_equal(text_field(info, "cluster_known_nodes"), 1);
    free(info);
    char *all = bulk_text(tcmd(c, "INFO cluster"));
    assert_non_null(strstr(all, "cluster_enabled:1\r\n"));
    free(all);
    char *id = bulk_text(tcmd(c, "CLUSTER MYID"));
    assert_int_equal(strlen(id), 40);
    char *nodes = bulk_text(tcmd(c, "CLUSTER NODES"));
    assert_non_null(strstr(nodes, id));
    assert_non_null(strstr(nodes, "myself,master - 0 0 0 connected\n"));
    free(nodes);
    free(id);

    /* wrong arguments: Redis 7's errors */
    expect_error(tcmd(c, "CLUSTER COUNTKEYSINSLOT x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "CLUSTER COUNTKEYSINSLOT -1"), "ERR Invalid slot");
    expect_error(tcmd(c, "CLUSTER COUNTKEYSINSLOT 16384"), "ERR Invalid slot");
    expect_int(tcmd(c, "CLUSTER COUNTKEYSINSLOT 1"), 0);
    expect_error(tcmd(c, "CLUSTER GETKEYSINSLOT 1 x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "CLUSTER GETKEYSINSLOT x 1"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "CLUSTER GETKEYSINSLOT 1 -1"), "ERR Invalid slot or number of keys");
    expect_error(tcmd(c, "CLUSTER GETKEYSINSLOT 16384 1"), "ERR Invalid slot or number of keys");
    expect_error(tcmd(c, "CLUSTER MYID x"), "ERR wrong number of arguments for 'cluster|myid' command");
    expect_error(tcmd(c, "CLUSTER NODES x"), "ERR wrong number of arguments for 'cluster|nodes' command");
    expect_error(tcmd(c, "CLUSTER INFO x"), "ERR wrong number of arguments for 'cluster|info' command");
    expect_error(tcmd(c, "CLUSTER SLOTS x"), "ERR wrong number of arguments for 'cluster|slots' command");
    expect_error(tcmd(c, "CLUSTER SHARDS x"), "ERR wrong number of arguments for 'cluster|shards' command");
    expect_error(tcmd(c, "CLUSTER COUNTKEYSINSLOT"),
                 "ERR wrong number of arguments for 'cluster|countkeysinslot' command");
    expect_error(tcmd(c, "CLUSTER GETKEYSINSLOT 1"),
                 "ERR wrong number of arguments for 'cluster|getkeysinslot' command");
    expect_error(tcmd(c, "CLUSTER FOO"), "ERR unknown subcommand 'FOO'. Try CLUSTER HELP.");
    expect_error(tcmd(c, "CLUSTER"), "ERR wrong number of arguments for 'cluster' command");
    expect_error(tcmd(c, "CLUSTER FAILOVER"), "ERR You should send CLUSTER FAILOVER to a replica");
    expect_error(tcmd(c, "CLUSTER FAILOVER TAKEOVER"), "ERR You should send CLUSTER FAILOVER to a replica");
    expect_error(tcmd(c, "CLUSTER FAILOVER NOW"), "ERR syntax error");
    /* HELLO says the mode */
    struct rval *hello = tcmd(c, "HELLO 2");
    assert_int_equal(hello->type, R_ARRAY);
    bool mode_seen = false;
    for (size_t i = 0; i + 1 < hello->n; i += 2)
        if (strcmp(hello->elem[i]->str, "mode") == 0) {
            assert_string_equal(hello->elem[i + 1]->str, "cluster");
            mode_seen = true;
        }
    assert_true(mode_seen);
    rval_free(hello);
    tclose(c);
    server_stop(&s);
}

/* Standalone mode (the default) is unchanged: no gate, CLUSTER answers
 * that cluster support is disabled. */
static void test_standalone(void **state)
{
    (void)state;
    struct server s;
    assert_int_equal(server_start(&s, NULL), 0);
    tconn *c = tconnect(s.port);
    expect_ok(tcmd(c, "MSET a 1 b 2 c 3"));
    expect_int(tcmd(c, "DEL a b c"), 3);
    const char *subs[] = { "INFO", "NODES", "SLOTS", "SHARDS", "MYID", "COUNTKEYSINSLOT 1", "GETKEYSINSLOT 1 1" };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        expect_error(tcmd(c, "CLUSTER %s", subs[i]), "ERR This instance has cluster support disabled");
    char *all = bulk_text(tcmd(c, "INFO cluster"));
    assert_non_null(strstr(all, "cluster_enabled:0\r\n"));
    free(all);
    if (!target_is_redis())
        expect_error(tcmd(c, "CLUSTER RINGKV-SETSTATE 0 x"), "ERR This instance has cluster support disabled");
    tclose(c);
    server_stop(&s);
}

/* ------------------------------------------------ three nodes, one table */

static struct server node[3];
static char ids[3][41];
static const int bounds[4] = { 0, 5461, 10923, 16384 };

static char *state_text(int version)
{
    static char text[4096];
    int len = snprintf(text, sizeof text, "ringkv-cluster-state 1\ntable-version %d\n", version);
    for (int g = 0; g < 3; g++)
        len += snprintf(text + len, sizeof text - (size_t)len, "group %d %s 1\nnode %s 127.0.0.1 %d %d\nslots %d %d-%d\n",
                        g, ids[g], ids[g], node[g].port, g, g, bounds[g], bounds[g + 1] - 1);
    return text;
}

static struct rval *push(int i, const char *expected, const char *text)
{
    tconn *c = tconnect(node[i].port);
    const char *argv[] = { "CLUSTER", "RINGKV-SETSTATE", expected, text };
    tsendv(c, 4, argv);
    struct rval *v = tread(c, 5000);
    tclose(c);
    return v;
}

static void start_three(void)
{
    for (int i = 0; i < 3; i++) {
        unlink(conf_path[i]); /* a new node each test */
        start_cluster_node(&node[i], i);
        tconn *c = tconnect(node[i].port);
        char *id = bulk_text(tcmd(c, "CLUSTER MYID"));
        snprintf(ids[i], sizeof ids[i], "%s", id);
        free(id);
        tclose(c);
    }
    for (int i = 0; i < 3; i++)
        expect_ok(push(i, "0", state_text(1)));
}

/* Each node exits cleanly (under ASan: without a leak, with its peer
 * links closed and freed). */
static void stop_three(void)
{
    for (int i = 0; i < 3; i++)
        assert_int_equal(server_stop(&node[i]), 0);
}

/* The node serving a key's slot. */
static int owner_of(tconn *c, const char *key)
{
    struct rval *v = tcmd(c, "CLUSTER KEYSLOT %s", key);
    long long slot = get_int(v);
    for (int g = 0; g < 3; g++)
        if (slot < bounds[g + 1])
            return g;
    return -1;
}

static void test_routing(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three();
    tconn *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = tconnect(node[i].port);
    const char *keys[] = { "foo", "bar", "somekey", "a", "b", "c", "user:1", "user:2" };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int o = owner_of(c[0], keys[k]);
        long long slot = get_int(tcmd(c[0], "CLUSTER KEYSLOT %s", keys[k]));
        for (int i = 0; i < 3; i++) {
            if (i == o) {
                expect_ok(tcmd(c[i], "SET %s v%zu", keys[k], k));
                char want[16];
                snprintf(want, sizeof want, "v%zu", k);
                expect_bulk(tcmd(c[i], "GET %s", keys[k]), want);
            } else {
                char moved[100];
                snprintf(moved, sizeof moved, "MOVED %lld 127.0.0.1:%d", slot, node[o].port);
                expect_error(tcmd(c[i], "GET %s", keys[k]), moved);
                expect_error(tcmd(c[i], "SET %s x", keys[k]), moved);
            }
        }
    }
    /* keys of several slots: CROSSSLOT, before MOVED (a, b, c are on
     * different nodes; foo and somekey on the same node, different slots) */
    for (int i = 0; i < 3; i++) {
        expect_error(tcmd(c[i], "MSET a 1 b 2"), "CROSSSLOT Keys in request don't hash to the same slot");
        expect_error(tcmd(c[i], "DEL a b c"), "CROSSSLOT Keys in request don't hash to the same slot");
        expect_error(tcmd(c[i], "PFCOUNT a b"), "CROSSSLOT Keys in request don't hash to the same slot");
        expect_error(tcmd(c[i], "PFMERGE a b c"), "CROSSSLOT Keys in request don't hash to the same slot");
        expect_error(tcmd(c[i], "GEOSEARCHSTORE a b FROMLONLAT 1 1 BYRADIUS 1 km"),
                     "CROSSSLOT Keys in request don't hash to the same slot");
        expect_error(tcmd(c[i], "GEORADIUS a 1 1 1 km STORE b"), "CROSSSLOT Keys in request don't hash to the same slot");
        expect_error(tcmd(c[i], "GEORADIUSBYMEMBER a m 1 km STOREDIST c"),
                     "CROSSSLOT Keys in request don't hash to the same slot");
    }
    int o = owner_of(c[0], "foo");
    assert_int_equal(owner_of(c[0], "somekey"), o);
    expect_error(tcmd(c[o], "MGET foo somekey"), "CROSSSLOT Keys in request don't hash to the same slot");
    /* hash tags: one slot, one node, multi-key commands work there */
    int t = owner_of(c[0], "{user1000}");
    expect_ok(tcmd(c[t], "MSET {user1000}.following 1 {user1000}.followers 2"));
    expect_int(tcmd(c[t], "DEL {user1000}.following {user1000}.followers"), 2);
    expect_int(tcmd(c[t], "PFADD {user1000}.visits a b c"), 1);
    expect_ok(tcmd(c[t], "PFMERGE {user1000}.all {user1000}.visits {user1000}.none"));
    expect_int(tcmd(c[t], "PFCOUNT {user1000}.all {user1000}.visits"), 3);
    expect_int(tcmd(c[t], "DEL {user1000}.visits {user1000}.all"), 2);
    expect_error_prefix(tcmd(c[(t + 1) % 3], "MSET {user1000}.a 1 {user1000}.b 2"), "MOVED ");
    /* EVAL: its declared keys are gated (ARGV is not), as in Redis Cluster;
     * a key the script did not declare, of another node, is refused */
    expect_error(tcmd(c[0], "EVAL return 2 a b"), "CROSSSLOT Keys in request don't hash to the same slot");
    expect_error_prefix(tcmd(c[(t + 1) % 3], "EVAL return 1 {user1000}.a"), "MOVED ");
    expect_nil(tcmd(c[t], "EVAL return 1 {user1000}.a a b c"));
    const char *argv[] = { "EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "{user1000}.s", "a" };
    tsendv(c[t], 5, argv);
    expect_ok(tread(c[t], 10000));
    const char *stray_key = owner_of(c[0], "a") == t ? "b" : "a"; /* a, b: on different nodes */
    assert_true(owner_of(c[0], stray_key) != t);
    const char *stray[] = { "EVAL", "return redis.call('set', ARGV[1], 'x')", "1", "{user1000}.s", stray_key };
    tsendv(c[t], 5, stray);
    expect_error_prefix(tread(c[t], 10000), "ERR Script attempted to access a non local key in a cluster node script");
    expect_int(tcmd(c[t], "DEL {user1000}.s"), 1);
    /* commands without keys are not gated */
    expect_status(tcmd(c[0], "PING"), "PONG");
    /* COUNTKEYSINSLOT/GETKEYSINSLOT on the owner */
    long long slot = get_int(tcmd(c[0], "CLUSTER KEYSLOT foo"));
    expect_int(tcmd(c[o], "CLUSTER COUNTKEYSINSLOT %lld", slot), 1);
    struct rval *v = tcmd(c[o], "CLUSTER GETKEYSINSLOT %lld 10", slot);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    assert_string_equal(v->elem[0]->str, "foo");
    rval_free(v);

    /* MULTI: checked at queue time; a refused command aborts the EXEC, keys
     * of two slots of this node make EXEC answer CROSSSLOT */
    int other = (o + 1) % 3;
    expect_ok(tcmd(c[other], "MULTI"));
    expect_error_prefix(tcmd(c[other], "SET foo 1"), "MOVED ");
    expect_error(tcmd(c[other], "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_ok(tcmd(c[o], "MULTI"));
    expect_status(tcmd(c[o], "SET foo 1"), "QUEUED");
    expect_status(tcmd(c[o], "SET somekey 1"), "QUEUED");
    expect_error(tcmd(c[o], "EXEC"), "CROSSSLOT Keys in request don't hash to the same slot");
    expect_bulk(tcmd(c[o], "GET foo"), "v0");
    expect_ok(tcmd(c[o], "MULTI"));
    expect_status(tcmd(c[o], "SET foo 2"), "QUEUED");
    expect_status(tcmd(c[o], "PING"), "QUEUED");
    v = tcmd(c[o], "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    rval_free(v);
    expect_bulk(tcmd(c[o], "GET foo"), "2");

    /* WATCH: its keys pass the slot gate (MOVED, CROSSSLOT); on the owner
     * another client's write aborts the EXEC, no write lets it run */
    char moved[100];
    snprintf(moved, sizeof moved, "MOVED %lld 127.0.0.1:%d", slot, node[o].port);
    expect_error(tcmd(c[other], "WATCH foo"), moved);
    expect_error(tcmd(c[o], "WATCH foo somekey"), "CROSSSLOT Keys in request don't hash to the same slot");
    tconn *w = tconnect(node[o].port);
    expect_ok(tcmd(c[o], "WATCH foo"));
    expect_ok(tcmd(w, "SET foo 3"));
    expect_ok(tcmd(c[o], "MULTI"));
    expect_status(tcmd(c[o], "SET foo 4"), "QUEUED");
    expect_nil(tcmd(c[o], "EXEC"));
    expect_bulk(tcmd(c[o], "GET foo"), "3");
    expect_ok(tcmd(c[o], "WATCH foo"));
    expect_ok(tcmd(c[o], "MULTI"));
    expect_status(tcmd(c[o], "SET foo 4"), "QUEUED");
    v = tcmd(c[o], "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    rval_free(v);
    expect_bulk(tcmd(w, "GET foo"), "4");
    tclose(w);
    for (int i = 0; i < 3; i++)
        tclose(c[i]);
    stop_three();
}

/* CLUSTER NODES/SLOTS/SHARDS/INFO in Redis's shapes, the same table on
 * every node. */
static void test_views(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three();
    for (int i = 0; i < 3; i++) {
        tconn *c = tconnect(node[i].port);
        /* the link state is the peer links': up within a moment */
        for (long long until = now_ms() + 3000;; usleep(20 * 1000)) {
            char *nodes = bulk_text(tcmd(c, "CLUSTER NODES"));
            bool up = strstr(nodes, "disconnected") == NULL;
            free(nodes);
            if (up || now_ms() > until)
                break;
        }
        char *nodes = bulk_text(tcmd(c, "CLUSTER NODES"));
        int lines = 0;
        for (char *line = strtok(nodes, "\n"); line; line = strtok(NULL, "\n"), lines++) {
            char id[64], addr[64], flags[64], master[64], link[64];
            long long ping, pong, epoch;
            int a, b, used = 0;
            assert_int_equal(sscanf(line, "%63s %63s %63s %63s %lld %lld %lld %63s %d-%d%n", id, addr, flags,
                                    master, &ping, &pong, &epoch, link, &a, &b, &used), 10);
            assert_int_equal(line[used], '\0'); /* one range each */
            int g = -1;
            for (int k = 0; k < 3; k++)
                if (strcmp(id, ids[k]) == 0)
                    g = k;
            assert_true(g >= 0);
            char want[64];
            snprintf(want, sizeof want, "127.0.0.1:%d@%d", node[g].port, node[g].port + 10000);
            assert_string_equal(addr, want);
            assert_string_equal(flags, g == i ? "myself,master" : "master");
            assert_string_equal(master, "-");
            assert_string_equal(link, "connected");
            assert_int_equal(a, bounds[g]);
            assert_int_equal(b, bounds[g + 1] - 1);
        }
        assert_int_equal(lines, 3);
        free(nodes);

        struct rval *v = tcmd(c, "CLUSTER SLOTS");
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 3);
        for (size_t r = 0; r < v->n; r++) {
            struct rval *range = v->elem[r];
            assert_int_equal(range->n, 3);
            int g = -1;
            for (int k = 0; k < 3; k++)
                if (range->elem[0]->integer == bounds[k])
                    g = k;
            assert_true(g >= 0);
            assert_int_equal(range->elem[1]->integer, bounds[g + 1] - 1);
            struct rval *m = range->elem[2];
            assert_int_equal(m->n, 4);
            assert_string_equal(m->elem[0]->str, "127.0.0.1");
            assert_int_equal(m->elem[1]->integer, node[g].port);
            assert_string_equal(m->elem[2]->str, ids[g]);
        }
        rval_free(v);

        v = tcmd(c, "CLUSTER SHARDS");
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 3);
        for (size_t s = 0; s < v->n; s++) {
            struct rval *sh = v->elem[s];
            assert_int_equal(sh->n, 4); /* slots, [a b], nodes, [node] */
            assert_string_equal(sh->elem[0]->str, "slots");
            assert_int_equal(sh->elem[1]->n, 2);
            assert_string_equal(sh->elem[2]->str, "nodes");
            assert_int_equal(sh->elem[3]->n, 1);
            struct rval *nd = sh->elem[3]->elem[0];
            assert_int_equal(nd->n, 14);
            const char *names[] = { "id", "port", "ip", "endpoint", "role", "replication-offset", "health" };
            for (int f = 0; f < 7; f++)
                assert_string_equal(nd->elem[2 * f]->str, names[f]);
            assert_string_equal(nd->elem[9]->str, "master");
        }
        rval_free(v);

        char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
        assert_non_null(strstr(info, "cluster_state:ok\r\n"));
        assert_int_equal(text_field(info, "cluster_slots_assigned"), 16384);
        assert_int_equal(text_field(info, "cluster_slots_ok"), 16384);
        assert_int_equal(text_field(info, "cluster_known_nodes"), 3);
        assert_int_equal(text_field(info, "cluster_size"), 3);
        free(info);
        tclose(c);
    }
    stop_three();
}

/* The table changes only forward: a push on a stale version, or of a
 * version not newer, is refused; a bad state is refused with the line. */
static void test_push_refusals(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three();
    expect_error(push(0, "0", state_text(2)), "ERR table version is 1, not the expected 0");
    expect_error(push(0, "1", state_text(1)), "ERR table version 1 is not newer than this node's 1");
    expect_error_prefix(push(0, "1", "ringkv-cluster-state 1\ntable-version 2\nslots 9 0-10\n"),
                        "ERR bad cluster state: line 3:");
    expect_error_prefix(push(0, "1", "nonsense"), "ERR bad cluster state: line 1:");
    char other[4096];
    snprintf(other, sizeof other, "ringkv-cluster-state 1\ntable-version 2\ngroup 0 %s 1\nnode %s 127.0.0.1 1 0\n"
             "slots 0 0-16383\n", ids[1], ids[1]);
    char want[120];
    snprintf(want, sizeof want, "ERR this node (%s) is not in the pushed state", ids[0]);
    expect_error(push(0, "1", other), want);
    expect_ok(push(0, "1", state_text(2)));
    tconn *c = tconnect(node[0].port);
    char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
    assert_int_equal(text_field(info, "cluster_table_version"), 2);
    free(info);
    tclose(c);
    stop_three();
}

/* A node restarted on its cluster config file keeps its id and table. */
static void test_restart_keeps_state(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three();
    tconn *c = tconnect(node[1].port);
    char *before = bulk_text(tcmd(c, "CLUSTER NODES"));
    tclose(c);
    server_kill(&node[1]);
    start_cluster_node(&node[1], 1);
    c = tconnect(node[1].port);
    char *id = bulk_text(tcmd(c, "CLUSTER MYID"));
    assert_string_equal(id, ids[1]);
    /* a master by its file is fenced, and says cluster_state:fail, until it
     * has heard from a majority of the masters (fence.h): soon, the other
     * two are up */
    char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
    for (long long until = now_ms() + 10000; !strstr(info, "cluster_state:ok\r\n") && now_ms() < until;) {
        usleep(20 * 1000);
        free(info);
        info = bulk_text(tcmd(c, "CLUSTER INFO"));
    }
    assert_non_null(strstr(info, "cluster_state:ok\r\n"));
    assert_int_equal(text_field(info, "cluster_table_version"), 1);
    char *after = bulk_text(tcmd(c, "CLUSTER NODES"));
    /* the same table; only the restarted node's own port may differ (the
     * harness picks a free one), so compare the other nodes' lines, but for
     * their ping-sent and pong-recv times and link state (fields 5, 6, 8):
     * the links' own, and it has reached them since */
    for (int g = 0; g < 3; g += 2) {
        char *line = strstr(before, ids[g]);
        assert_non_null(line);
        char *again = strstr(after, ids[g]);
        assert_non_null(again);
        char a[512], b[512];
        snprintf(a, sizeof a, "%.*s", (int)(strchr(line, '\n') - line), line);
        snprintf(b, sizeof b, "%.*s", (int)(strchr(again, '\n') - again), again);
        char *sa, *sb, *fa = strtok_r(a, " ", &sa), *fb = strtok_r(b, " ", &sb);
        for (int f = 1; fa || fb; f++, fa = strtok_r(NULL, " ", &sa), fb = strtok_r(NULL, " ", &sb)) {
            assert_non_null(fa);
            assert_non_null(fb);
            if (f != 5 && f != 6 && f != 8)
                assert_string_equal(fa, fb);
        }
    }
    /* a key of group 0 is still redirected there */
    long long slot = get_int(tcmd(c, "CLUSTER KEYSLOT b"));
    char moved[100];
    snprintf(moved, sizeof moved, "MOVED %lld 127.0.0.1:%d", slot, node[0].port);
    expect_error(tcmd(c, "GET b"), moved);
    free(before);
    free(after);
    free(id);
    free(info);
    tclose(c);
    stop_three();
}

/* redis-cli -c follows MOVED: a key set through any node reads back
 * through any other. */
static void test_redis_cli_follows_moved(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    if (run_cmd("command -v redis-cli >/dev/null", NULL) != 0)
        skip();
    start_three();
    char cmd[200];
    char *out = NULL;
    for (int k = 0; k < 6; k++) {
        snprintf(cmd, sizeof cmd, "redis-cli -c -p %d set key:%d val%d", node[k % 3].port, k, k);
        assert_int_equal(run_cmd(cmd, &out), 0);
        assert_string_equal(out, "OK\n");
        free(out);
        snprintf(cmd, sizeof cmd, "redis-cli -c -p %d get key:%d", node[(k + 1) % 3].port, k);
        assert_int_equal(run_cmd(cmd, &out), 0);
        char want[32];
        snprintf(want, sizeof want, "val%d\n", k);
        assert_string_equal(out, want);
        free(out);
    }
    stop_three();
}


/* ------------------------------------------------ peers share the state */

static long long table_version(int i)
{
    tconn *c = tconnect(node[i].port);
    char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
    long long v = text_field(info, "cluster_table_version");
    free(info);
    tclose(c);
    return v;
}

/* Wait until node i reports table version v; returns the ms it took, or
 * fails the test after timeout_ms. */
static long long wait_version(int i, long long v, int timeout_ms)
{
    long long start = now_ms(), got = -1;
    while (now_ms() - start < timeout_ms) {
        got = table_version(i);
        if (got == v)
            return now_ms() - start;
        usleep(20 * 1000);
    }
    fail_msg("node %d: table version %lld, not %lld after %d ms", i, got, v, timeout_ms);
    return -1;
}

static void start_unpushed(void)
{
    for (int i = 0; i < 3; i++) {
        unlink(conf_path[i]);
        start_cluster_node(&node[i], i);
        tconn *c = tconnect(node[i].port);
        char *id = bulk_text(tcmd(c, "CLUSTER MYID"));
        snprintf(ids[i], sizeof ids[i], "%s", id);
        free(id);
        tclose(c);
    }
}

/* A state pushed to one node only reaches the others: the node that has it
 * finds their tables older and pushes it to them; a newer one pushed to
 * another node is pulled by the rest. */
static void test_peers_share_pushed_state(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_unpushed();
    expect_ok(push(0, "0", state_text(1)));
    long long ms1 = wait_version(1, 1, 5000), ms2 = wait_version(2, 1, 5000);
    print_message("table version 1 reached the other nodes in %lld and %lld ms\n", ms1, ms2);
    expect_ok(push(1, "1", state_text(2)));
    ms1 = wait_version(0, 2, 5000);
    ms2 = wait_version(2, 2, 5000);
    print_message("table version 2 reached the other nodes in %lld and %lld ms\n", ms1, ms2);
    /* the admin tool pushing what a node got from its peers already: done */
    expect_ok(push(2, "1", state_text(2)));
    /* and every node serves by the table: a key of group 2 from node 0 */
    tconn *c = tconnect(node[0].port);
    long long slot = get_int(tcmd(c, "CLUSTER KEYSLOT c")); /* 7365: group 1's */
    assert_true(slot >= bounds[1] && slot < bounds[2]);
    char moved[100];
    snprintf(moved, sizeof moved, "MOVED %lld 127.0.0.1:%d", slot, node[1].port);
    expect_error(tcmd(c, "GET c"), moved);
    tclose(c);
    stop_three();
}

/* A node killed and restarted on its file holds the old table while the
 * others moved on: it converges to the newest within about a second; a
 * push of an older table is refused and no node goes back. */
static void test_restarted_node_converges(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three();
    server_kill(&node[1]);
    expect_ok(push(0, "1", state_text(2)));
    wait_version(2, 2, 5000);
    /* no node needs another up to serve what it owns */
    server_kill(&node[2]);
    tconn *c = tconnect(node[0].port);
    assert_true(get_int(tcmd(c, "CLUSTER KEYSLOT bar")) < bounds[1]); /* group 0's */
    expect_ok(tcmd(c, "SET bar 1"));
    expect_bulk(tcmd(c, "GET bar"), "1");
    tclose(c);
    start_cluster_node(&node[2], 2);
    start_cluster_node(&node[1], 1);
    long long ms = wait_version(1, 2, 3000);
    print_message("the restarted node took table version 2 in %lld ms\n", ms);
    /* an older table pushed is refused and the nodes keep the newest */
    expect_error(push(2, "2", state_text(1)), "ERR table version 1 is not newer than this node's 2");
    expect_error(push(2, "1", state_text(1)), "ERR table version is 2, not the expected 1");
    usleep(700 * 1000); /* more than a slow exchange period */
    for (int i = 0; i < 3; i++)
        assert_int_equal(table_version(i), 2);
    stop_three();
}

/* Nodes guarded by requirepass: the peer links authenticate with
 * masterauth, so the state still spreads. */
static void test_peers_authenticate(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    for (int i = 0; i < 3; i++) {
        unlink(conf_path[i]);
        const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[i],
                               "--requirepass", "s3cret", "--masterauth", "s3cret", NULL };
        assert_int_equal(server_start(&node[i], args), 0);
        tconn *c = tconnect(node[i].port);
        expect_ok(tcmd(c, "AUTH s3cret"));
        char *id = bulk_text(tcmd(c, "CLUSTER MYID"));
        snprintf(ids[i], sizeof ids[i], "%s", id);
        free(id);
        tclose(c);
    }
    tconn *c = tconnect(node[0].port);
    expect_ok(tcmd(c, "AUTH s3cret"));
    const char *argv[] = { "CLUSTER", "RINGKV-SETSTATE", "0", state_text(1) };
    tsendv(c, 4, argv);
    expect_ok(tread(c, 5000));
    tclose(c);
    for (int i = 1; i < 3; i++) {
        c = tconnect(node[i].port);
        expect_ok(tcmd(c, "AUTH s3cret"));
        long long start = now_ms(), v = 0;
        while (v != 1 && now_ms() - start < 5000) {
            char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
            v = text_field(info, "cluster_table_version");
            free(info);
            usleep(20 * 1000);
        }
        assert_int_equal(v, 1);
        tclose(c);
    }
    stop_three();
}

/* Groups with a replica: node 2 is in group 0 with node 0 as master. */
static char *replica_state_text(int version)
{
    static char text[4096];
    snprintf(text, sizeof text,
             "ringkv-cluster-state 1\ntable-version %d\n"
             "group 0 %s 1\ngroup 1 %s 1\n"
             "node %s 127.0.0.1 %d 0\nnode %s 127.0.0.1 %d 1\nnode %s 127.0.0.1 %d 0\n"
             "slots 0 0-8191\nslots 1 8192-16383\n",
             version, ids[0], ids[1], ids[0], node[0].port, ids[1], node[1].port, ids[2], node[2].port);
    return text;
}

/* ROLE's first element, and for a replica the master's port. */
static const char *role_of(int i, long long *master_port)
{
    static char role[16];
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "ROLE");
    assert_int_equal(v->type, R_ARRAY);
    snprintf(role, sizeof role, "%s", v->elem[0]->str);
    *master_port = strcmp(role, "slave") == 0 ? v->elem[2]->integer : 0;
    rval_free(v);
    tclose(c);
    return role;
}

static void wait_role(int i, const char *role, int master, int timeout_ms)
{
    long long start = now_ms(), port = 0;
    const char *got = "";
    while (now_ms() - start < timeout_ms) {
        got = role_of(i, &port);
        if (strcmp(got, role) == 0 && (master < 0 || port == node[master].port))
            return;
        usleep(20 * 1000);
    }
    fail_msg("node %d: ROLE %s (master port %lld), not %s after %d ms", i, got, port, role, timeout_ms);
}

/* The port of the master CLUSTER SLOTS on node i gives for slot 0. */
static long long slot0_master(int i)
{
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "CLUSTER SLOTS");
    long long port = -1;
    for (size_t r = 0; r < v->n; r++)
        if (v->elem[r]->elem[0]->integer == 0)
            port = v->elem[r]->elem[2]->elem[1]->integer;
    rval_free(v);
    tclose(c);
    return port;
}

/* A replica node follows its group's record: it becomes REPLICAOF the
 * group's master and holds its keys. CLUSTER FAILOVER TAKEOVER on it makes
 * it the master: every node's CLUSTER SLOTS names it within a second or
 * two, the old master follows it as a replica, writes to it work. */
static void test_group_roles_and_takeover(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_unpushed();
    expect_ok(push(0, "0", replica_state_text(1)));
    wait_role(2, "slave", 0, 5000);
    wait_role(0, "master", -1, 1000);
    tconn *m = tconnect(node[0].port);
    char key[32], first[32] = "";
    int keys = 0;
    for (int k = 0; keys < 50; k++) {
        snprintf(key, sizeof key, "k%d", k);
        if (get_int(tcmd(m, "CLUSTER KEYSLOT %s", key)) > 8191)
            continue;
        expect_ok(tcmd(m, "SET %s v%d", key, k));
        if (!first[0])
            snprintf(first, sizeof first, "%s", key);
        keys++;
    }
    expect_int(tcmd(m, "WAIT 1 5000"), 1);
    tconn *r = tconnect(node[2].port);
    expect_int(tcmd(r, "DBSIZE"), 50);
    expect_error_prefix(tcmd(r, "GET %s", first), "MOVED"); /* a replica redirects to its master */
    /* CLUSTER FAILOVER refuses on the master */
    expect_error(tcmd(m, "CLUSTER FAILOVER"), "ERR You should send CLUSTER FAILOVER to a replica");

    expect_ok(tcmd(r, "CLUSTER FAILOVER TAKEOVER"));
    long long start = now_ms();
    wait_role(2, "master", -1, 1000);
    for (int i = 0; i < 3; i++) {
        while (slot0_master(i) != node[2].port && now_ms() - start < 2000)
            usleep(20 * 1000);
        assert_int_equal(slot0_master(i), node[2].port);
    }
    print_message("every node named the new master in %lld ms\n", now_ms() - start);
    char *info = bulk_text(tcmd(r, "CLUSTER INFO"));
    assert_int_equal(text_field(info, "cluster_my_epoch"), 2);
    free(info);
    /* the new master takes writes and has the old master's keys */
    for (int k = 0; k < 200; k++) {
        snprintf(key, sizeof key, "k%d", k);
        if (get_int(tcmd(r, "CLUSTER KEYSLOT %s", key)) > 8191)
            continue;
        struct rval *v = tcmd(r, "GET %s", key);
        if (v->type == R_BULK) {
            char want[16];
            snprintf(want, sizeof want, "v%d", k);
            assert_string_equal(v->str, want);
        }
        rval_free(v);
    }
    expect_int(tcmd(r, "DBSIZE"), 50);
    expect_ok(tcmd(r, "SET %s after", first));
    /* the old master follows the record: a replica of the new one */
    wait_role(0, "slave", 2, 3000);
    expect_int(tcmd(r, "WAIT 1 5000"), 1);
    char moved[100];
    snprintf(moved, sizeof moved, "MOVED %lld 127.0.0.1:%d", get_int(tcmd(m, "CLUSTER KEYSLOT %s", first)),
             node[2].port);
    expect_error(tcmd(m, "GET %s", first), moved);
    expect_bulk(tcmd(r, "GET %s", first), "after");

    /* CLUSTER FAILOVER without an option on the old master, now a
     * replica: the master hands over (replication's FAILOVER TO), no write
     * lost, and the promotion is recorded (epoch 3) */
    expect_ok(tcmd(m, "CLUSTER FAILOVER"));
    wait_role(0, "master", -1, 5000);
    wait_role(2, "slave", 0, 3000);
    start = now_ms();
    for (int i = 0; i < 3; i++) {
        while (slot0_master(i) != node[0].port && now_ms() - start < 3000)
            usleep(20 * 1000);
        assert_int_equal(slot0_master(i), node[0].port);
    }
    expect_bulk(tcmd(m, "GET %s", first), "after");
    info = bulk_text(tcmd(m, "CLUSTER INFO"));
    assert_int_equal(text_field(info, "cluster_my_epoch"), 3);
    free(info);

    /* promoted by hand (as a Sentinel does): recorded with epoch 4, the
     * peers follow it */
    expect_ok(tcmd(r, "REPLICAOF NO ONE"));
    start = now_ms();
    for (int i = 0; i < 3; i++) {
        while (slot0_master(i) != node[2].port && now_ms() - start < 3000)
            usleep(20 * 1000);
        assert_int_equal(slot0_master(i), node[2].port);
    }
    wait_role(0, "slave", 2, 3000);
    info = bulk_text(tcmd(r, "CLUSTER INFO"));
    assert_int_equal(text_field(info, "cluster_my_epoch"), 4);
    free(info);

    /* the peer links: in CLIENT LIST as cluster-peer clients, not dropped
     * by the idle timeout */
    expect_ok(tcmd(m, "CONFIG SET timeout 1"));
    char *before = bulk_text(tcmd(m, "CLIENT LIST"));
    usleep(2500 * 1000);
    tclose(m); /* idle too: closed by the server */
    m = tconnect(node[0].port);
    char *after = bulk_text(tcmd(m, "CLIENT LIST"));
    int links = 0;
    for (char *line = strstr(before, "name=cluster-peer"); line; line = strstr(line + 1, "name=cluster-peer")) {
        char *start_of_line = line;
        while (start_of_line > before && start_of_line[-1] != '\n')
            start_of_line--;
        size_t len = (size_t)(strchr(start_of_line, ' ') - start_of_line); /* "id=<n>" */
        char id[32];
        snprintf(id, sizeof id, "%.*s ", (int)len, start_of_line);
        assert_non_null(strstr(after, id));
        links++;
    }
    assert_int_equal(links, 2);
    free(before);
    free(after);
    tclose(m);
    tclose(r);
    stop_three();
}

/* A client writing to a group's master through a CLUSTER FAILOVER sees its
 * writes answered or redirected, never refused: the writes the hand-over
 * holds, and those that arrive before the old master's table names the new
 * one, wait and then get -MOVED to the new master, as Redis Cluster's old
 * master answers (redis-py, ioredis and node-redis follow -MOVED, and
 * surface -READONLY as an error). Every acknowledged write is on the new
 * master. */
static void test_failover_writes_get_moved(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_unpushed();
    expect_ok(push(0, "0", replica_state_text(1)));
    wait_role(2, "slave", 0, 5000);
    wait_role(0, "master", -1, 1000);
    tconn *m = tconnect(node[0].port);
    /* keys of group 0's slots (0-8191) */
    enum { NKEYS = 64, BATCH = 32 };
    char keys[NKEYS][16];
    for (int k = 0, n = 0; n < NKEYS; k++) {
        snprintf(keys[n], sizeof keys[n], "w%d", k);
        if (get_int(tcmd(m, "CLUSTER KEYSLOT %s", keys[n])) <= 8191)
            n++;
    }
    tconn *r = tconnect(node[2].port);
    /* the replica has heard from its master on the peer link (CLUSTER
     * FAILOVER asks the master there): pong-recv set, connected */
    char master_at[32];
    snprintf(master_at, sizeof master_at, "127.0.0.1:%d@", node[0].port);
    for (long long t0 = now_ms();; usleep(20 * 1000)) {
        char *nodes = bulk_text(tcmd(r, "CLUSTER NODES"));
        const char *line = strstr(nodes, master_at);
        char flags[64] = "", link[32] = "";
        long long ping = -1, pong = 0;
        if (line)
            sscanf(line, "%*s %63s %*s %lld %lld %*s %31s", flags, &ping, &pong, link);
        free(nodes);
        if (pong > 0 && strcmp(link, "connected") == 0)
            break;
        if (now_ms() - t0 > 5000)
            fail_msg("the replica has not heard from its master on the peer link");
    }
    /* written once before: every key has an acknowledged value */
    long long acked[NKEYS];
    for (int k = 0; k < NKEYS; k++) {
        expect_ok(tcmd(m, "SET %s 0", keys[k]));
        acked[k] = 0;
    }
    const char *fo[] = { "CLUSTER", "FAILOVER" };
    tsendv(r, 2, fo); /* its reply is read after the writes */
    long long ok = 0, moved = 0, start = now_ms(), first_moved = 0, seq = 1;
    char expect_moved[64];
    snprintf(expect_moved, sizeof expect_moved, "MOVED ");
    while (now_ms() - start < 10000 && (!first_moved || now_ms() - first_moved < 300)) {
        char vals[BATCH][24];
        int which[BATCH];
        for (int b = 0; b < BATCH; b++) {
            which[b] = (int)(seq % NKEYS);
            snprintf(vals[b], sizeof vals[b], "%lld", seq++);
            const char *argv[] = { "SET", keys[which[b]], vals[b] };
            tsendv(m, 3, argv);
        }
        for (int b = 0; b < BATCH; b++) {
            struct rval *v = tread(m, 5000);
            assert_non_null(v);
            if (v->type == R_STATUS) {
                ok++;
                acked[which[b]] = atoll(vals[b]);
            } else {
                assert_int_equal(v->type, R_ERROR);
                if (strncmp(v->str, expect_moved, 6) != 0)
                    fail_msg("a write during CLUSTER FAILOVER got -%s", v->str);
                char want[64];
                snprintf(want, sizeof want, ":%d", node[2].port);
                assert_non_null(strstr(v->str, want)); /* to the new master */
                moved++;
                if (!first_moved)
                    first_moved = now_ms();
            }
            rval_free(v);
        }
    }
    expect_ok(tread(r, 5000));
    print_message("writes through the failover: %lld answered, %lld -MOVED\n", ok, moved);
    assert_true(moved > 0);
    /* the new master has every acknowledged write */
    for (int k = 0; k < NKEYS; k++) {
        char want[24];
        snprintf(want, sizeof want, "%lld", acked[k]);
        expect_bulk(tcmd(r, "GET %s", keys[k]), want);
    }
    tclose(m);
    tclose(r);
    stop_three();
}

/* ------------------------------------------ the file, off shard 0's loop */

/* One node, one shard (every connection is shard 0's), all slots its own
 * at table version v. */
static char *single_state_text(const char *id, int port, int v)
{
    static char text[512];
    snprintf(text, sizeof text, "ringkv-cluster-state 1\ntable-version %d\ngroup 0 %s 1\nnode %s 127.0.0.1 %d 0\n"
             "slots 0 0-16383\n", v, id, id, port);
    return text;
}

static void start_single(struct server *s, char id[41])
{
    unlink(conf_path[0]);
    const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[0], "--threads", "1", NULL };
    assert_int_equal(server_start(s, args), 0);
    tconn *c = tconnect(s->port);
    char *got = bulk_text(tcmd(c, "CLUSTER MYID"));
    snprintf(id, 41, "%s", got);
    free(got);
    tclose(c);
}

static long long version_at(int port)
{
    tconn *c = tconnect(port);
    char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
    long long v = text_field(info, "cluster_table_version");
    free(info);
    tclose(c);
    return v;
}

static void send_push(tconn *c, long long expected, const char *text)
{
    char exp[32];
    snprintf(exp, sizeof exp, "%lld", expected);
    const char *argv[] = { "CLUSTER", "RINGKV-SETSTATE", exp, text };
    tsendv(c, 4, argv);
}

/* Read the node's state file written into a FIFO (which holds its writer)
 * until its table's last line, up to 10 s; got is NUL-terminated. */
static void drain_fifo(const char *fifo, char *got, size_t cap)
{
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    size_t n = 0;
    for (long long until = now_ms() + 10000; now_ms() < until && !memmem(got, n, "slots 0 0-16383\n", 16);) {
        ssize_t r = read(rd, got + n, cap - 1 - n);
        if (r > 0)
            n += (size_t)r;
        else
            usleep(10 * 1000);
    }
    got[n] = '\0';
    close(rd);
}

/* The cluster config file is written by a thread of its own, not on shard
 * 0's loop (issue 11), and a push is acknowledged only once its state is
 * in the file. The node's temp file is made a FIFO, so the write of the
 * next version hangs in open() until the test reads the FIFO: a slow disk
 * that cannot be faster than the test lets it be. Meanwhile the one shard
 * answers another client, the push is not answered, and the version in
 * force is still the old one; once read, the write fails (fsync of a FIFO:
 * EINVAL), the push is answered with the file's error and the version
 * never goes in force. Then two versions stacked up behind a hung write
 * (below) are written as one, +OK, and a kill -9 right after it finds
 * the newest in the file at restart. (Before the writer thread, shard 0
 * itself hung in open(): the PING got no answer.) */
static void test_file_written_off_the_loop(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    struct server s;
    char id[41];
    start_single(&s, id);
    tconn *pusher = tconnect(s.port);
    send_push(pusher, 0, single_state_text(id, s.port, 1));
    expect_ok(tread(pusher, 10000));
    char fifo[400];
    snprintf(fifo, sizeof fifo, "%s.tmp-%d", conf_path[0], (int)s.pid);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    send_push(pusher, 1, single_state_text(id, s.port, 2));
    usleep(200 * 1000); /* the push reaches the node and its write hangs */
    tconn *other = tconnect(s.port);
    tsendv(other, 1, (const char *[]){ "PING" });
    struct rval *pong = tread(other, 5000);
    struct rval *early = pong ? tread(pusher, 300) : NULL;
    struct rval *info = pong ? (tsendv(other, 2, (const char *[]){ "CLUSTER", "INFO" }), tread(other, 5000)) : NULL;
    /* the writer (or, before it, shard 0) is let go in every case */
    char got[4096];
    drain_fifo(fifo, got, sizeof got);
    if (!pong) {
        server_kill(&s);
        unlink(fifo);
        fail_msg("PING not answered while the cluster config file was being written");
    }
    expect_status(pong, "PONG");
    assert_null(early); /* not acknowledged before the file holds it */
    assert_non_null(info);
    char *text = bulk_text(info);
    assert_int_equal(text_field(text, "cluster_table_version"), 1); /* not in force either */
    free(text);
    assert_non_null(strstr(got, "table-version 2\n")); /* what the writer was writing */
    struct rval *answer = tread(pusher, 10000);
    assert_non_null(answer);
    expect_error_prefix(answer, "ERR can't write the cluster config file");
    assert_int_equal(version_at(s.port), 1);
    assert_int_equal(access(fifo, F_OK), -1); /* the failed write took its temp file away */
    /* Versions stack up while a write hangs: the second push (from another
     * connection) is compare-and-set on the newest version accepted, v2,
     * not on the one in force, and is held too; once the hung write is let
     * go, the writer writes the newest (v3) and its push is answered +OK
     * (the first one's too, or its own write's error, whichever shard 0
     * sees first: v3 is built on v2). In force and in the file at a kill
     * -9 right after the +OK. */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    send_push(pusher, 1, single_state_text(id, s.port, 2));
    usleep(200 * 1000);
    tconn *second = tconnect(s.port);
    send_push(second, 2, single_state_text(id, s.port, 3));
    assert_null(tread(second, 300));
    assert_int_equal(version_at(s.port), 1);
    drain_fifo(fifo, got, sizeof got);
    assert_non_null(strstr(got, "table-version 2\n"));
    answer = tread(pusher, 10000);
    assert_non_null(answer);
    if (answer->type == R_ERROR)
        expect_error_prefix(answer, "ERR can't write the cluster config file");
    else
        expect_ok(answer);
    answer = tread(second, 10000);
    assert_non_null(answer);
    expect_ok(answer);
    server_kill(&s);
    tclose(pusher);
    tclose(second);
    tclose(other);
    const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[0], "--threads", "1", NULL };
    assert_int_equal(server_start(&s, args), 0);
    assert_int_equal(version_at(s.port), 3);
    assert_int_equal(server_stop(&s), 0);
}

/* 200 versions pushed in one pipeline, each compare-and-set on the one
 * before (a connection's CLUSTER commands run one after the other, each
 * once the one before is answered, i.e. in the file): every push is
 * answered +OK in order, a client of the one shard is answered
 * meanwhile, and a kill -9 right after the last +OK finds the last
 * version in the file at restart. A clean stop writes what was accepted
 * last too. */
static void test_pipelined_pushes_are_durable(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    struct server s;
    char id[41];
    start_single(&s, id);
    tconn *pusher = tconnect(s.port), *other = tconnect(s.port);
    for (int v = 1; v <= 200; v++)
        send_push(pusher, v - 1, single_state_text(id, s.port, v));
    int pongs = 0;
    for (int v = 1; v <= 200; v++) {
        if (v % 20 == 0) {
            tsendv(other, 1, (const char *[]){ "PING" });
            struct rval *pong = tread(other, 10000);
            assert_non_null(pong);
            expect_status(pong, "PONG");
            pongs++;
        }
        struct rval *r = tread(pusher, 10000);
        assert_non_null(r);
        expect_ok(r);
    }
    assert_int_equal(pongs, 10);
    server_kill(&s);
    tclose(pusher);
    tclose(other);
    const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[0], "--threads", "1", NULL };
    assert_int_equal(server_start(&s, args), 0);
    assert_int_equal(version_at(s.port), 200);
    /* a pull or a push accepted just before a clean stop is in the file */
    pusher = tconnect(s.port);
    send_push(pusher, 200, single_state_text(id, s.port, 201));
    assert_int_equal(server_stop(&s), 0);
    tclose(pusher);
    assert_int_equal(server_start(&s, args), 0);
    long long v = version_at(s.port);
    assert_true(v == 200 || v == 201); /* 201 unless the stop came before the push was read */
    assert_int_equal(server_stop(&s), 0);
}

/* ------------------------------------ the fence, a push left unanswered */

/* A peer that answers every CLUSTER RINGKV-VERSIONS with an older table
 * (version 0) and never answers the RINGKV-SETSTATE that brings it on: a
 * node whose config file takes longer to write than the pusher waits (a
 * slow fsync on a loaded machine holds a push's +OK). A byte on report per
 * push seen. Runs in a child until killed. */
static void fake_slow_peer(int lfd, int report)
{
    struct pollfd pf[9] = { { .fd = lfd, .events = POLLIN } };
    char buf[8][64];
    size_t len[8] = { 0 };
    int n = 1;
    for (;;) {
        if (poll(pf, (nfds_t)n, -1) < 0)
            continue;
        if ((pf[0].revents & POLLIN) && n < 9) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                pf[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
                len[n - 1] = 0;
                n++;
            }
        }
        for (int i = 1; i < n; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char *b = buf[i - 1];
            size_t keep = len[i - 1];
            ssize_t r = read(pf[i].fd, b + keep, sizeof buf[0] - 1 - keep);
            if (r <= 0) {
                close(pf[i].fd);
                pf[i] = pf[n - 1];
                memcpy(buf[i - 1], buf[n - 2], sizeof buf[0]);
                len[i - 1] = len[n - 2];
                n--;
                i--;
                continue;
            }
            b[keep + (size_t)r] = '\0';
            /* the commands' names, whole in the window kept (the state
             * text a push carries goes through it unseen) */
            char *at = b, *hit;
            for (;;) {
                char *v = strstr(at, "RINGKV-VERSIONS"), *p = strstr(at, "RINGKV-SETSTATE");
                hit = v && (!p || v < p) ? v : p;
                if (!hit)
                    break;
                if (hit == v) {
                    static const char answer[] = "$15\r\ntable-version 0\r\n";
                    (void)!write(pf[i].fd, answer, sizeof answer - 1);
                } else {
                    (void)!write(report, "p", 1);
                }
                at = hit + 15;
            }
            size_t rest = strlen(at), tail = rest < 16 ? rest : 16;
            memmove(b, at + rest - tail, tail);
            len[i - 1] = tail;
        }
    }
}

/* A master's fence counts a peer's answer to RINGKV-VERSIONS as hearing
 * from it, also when a push follows that waits on the peer's file: two
 * groups, this node and a peer answering every ask but never a push (the
 * link drops each push after PEER_TIMEOUT_MS and asks again). Needing both
 * masters, the node must go on taking writes: every answer is within the
 * 4 s timeout of the one before. (Counted only after a push's answer, the
 * node fenced itself 4 s after the table came: -CLUSTERDOWN to its
 * writes, as a move's target under redis-cli --cluster reshard answered a
 * MIGRATE on a loaded machine while its peers were answering.) */
static void test_fence_hears_a_peer_slow_to_save(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1, port = free_port(), pipefd[2];
    assert_true(lfd >= 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(pipe(pipefd), 0);
    pid_t fake = fork();
    assert_true(fake >= 0);
    if (fake == 0) {
        close(pipefd[0]);
        fake_slow_peer(lfd, pipefd[1]);
        _exit(0);
    }
    close(lfd);
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

    struct server s;
    unlink(conf_path[0]);
    const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[0], "--threads", "1",
                           "--cluster-node-timeout", "4000", NULL };
    assert_int_equal(server_start(&s, args), 0);
    tconn *c = tconnect(s.port);
    char *id = bulk_text(tcmd(c, "CLUSTER MYID"));
    const char *peer_id = "f00df00df00df00df00df00df00df00df00df00d";
    char text[1024], key[32] = "";
    snprintf(text, sizeof text, "ringkv-cluster-state 1\ntable-version 1\ngroup 0 %s 1\nnode %s 127.0.0.1 %d 0\n"
             "slots 0 0-8191\ngroup 1 %s 1\nnode %s 127.0.0.1 %d 1\nslots 1 8192-16383\n", id, id, s.port, peer_id,
             peer_id, port);
    free(id);
    send_push(c, 0, text);
    expect_ok(tread(c, 5000));
    for (int i = 0; !*key; i++) { /* a key of this node's slots */
        snprintf(key, sizeof key, "k:%d", i);
        if (get_int(tcmd(c, "CLUSTER KEYSLOT %s", key)) >= 8192)
            key[0] = '\0';
    }
    char *refused = NULL;
    for (long long until = now_ms() + 9000; now_ms() < until && !refused; usleep(100 * 1000)) {
        struct rval *r = tcmd(c, "SET %s v", key);
        if (r->type != R_STATUS)
            refused = rval_text(r);
        rval_free(r);
    }
    char got[64];
    ssize_t pushes = read(pipefd[0], got, sizeof got);
    close(pipefd[0]);
    kill(fake, SIGKILL);
    waitpid(fake, NULL, 0);
    tclose(c);
    assert_int_equal(server_stop(&s), 0);
    if (refused)
        fail_msg("a write was refused while the peer answered every ask: %s", refused);
    assert_true(pushes >= 2); /* the node pushed, was not answered, and asked again */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standalone),
        cmocka_unit_test(test_no_table),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_push_refusals),
        cmocka_unit_test(test_restart_keeps_state),
        cmocka_unit_test(test_redis_cli_follows_moved),
        cmocka_unit_test(test_peers_share_pushed_state),
        cmocka_unit_test(test_restarted_node_converges),
        cmocka_unit_test(test_peers_authenticate),
        cmocka_unit_test(test_group_roles_and_takeover),
        cmocka_unit_test(test_failover_writes_get_moved),
        cmocka_unit_test(test_file_written_off_the_loop),
        cmocka_unit_test(test_pipelined_pushes_are_durable),
        cmocka_unit_test(test_fence_hears_a_peer_slow_to_save),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
