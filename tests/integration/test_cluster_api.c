/* The cluster's client surface (shards/cluster/commands.c, the gate in
 * cluster.c, route.c): ASKING, READONLY/READWRITE, CLUSTER NODES's line
 * format with the peer links' state, REPLICAS/SLAVES, RESET, LINKS,
 * MYSHARDID, and every CLUSTER subcommand with wrong arguments answering
 * Redis's exact error. The single-node checks run against redis-server 7
 * in cluster mode too (RINGKV_TEST_TARGET=redis); the rest needs ringkv's
 * table push (CLUSTER RINGKV-SETSTATE). */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "harness.h"
#include "proxy.h"

#define SKIP_ON_REDIS() do { if (target_is_redis()) skip(); } while (0)

static char conf_path[3][300];
static struct server node[3];
static char ids[3][41];

static void start_cluster_node(struct server *s, int i, const char *timeout_ms)
{
    unlink(conf_path[i]);
    const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[i],
                           "--cluster-node-timeout", timeout_ms, NULL };
    assert_int_equal(server_start(s, args), 0);
}

static int group_setup(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        snprintf(conf_path[i], sizeof conf_path[i], "/tmp/ringkv-test-cluster-api-%d-%d.conf", (int)getpid(), i);
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
    if (v->type != R_BULK && v->type != R_VERBATIM)
        fail_msg("not a bulk string: %s", rval_text(v));
    char *s = strdup(v->str);
    rval_free(v);
    return s;
}

static char *myid(int port)
{
    tconn *c = tconnect(port);
    char *id = bulk_text(tcmd(c, "CLUSTER MYID"));
    tclose(c);
    return id;
}

/* ------------------------------------------------------- one node */

/* Standalone: the cluster's connection commands say there is no cluster. */
static void test_disabled_in_standalone(void **state)
{
    (void)state;
    struct server s;
    assert_int_equal(server_start(&s, NULL), 0);
    tconn *c = tconnect(s.port);
    const char *cmds[] = { "ASKING", "READONLY", "READWRITE", "CLUSTER REPLICAS x", "CLUSTER RESET",
                           "CLUSTER LINKS", "CLUSTER SETSLOT 1 STABLE" };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        expect_error(tcmd(c, "%s", cmds[i]), "ERR This instance has cluster support disabled");
    expect_error(tcmd(c, "READONLY x"), "ERR wrong number of arguments for 'readonly' command");
    tclose(c);
    server_stop(&s);
}

/* A node in cluster mode with no table, and every CLUSTER subcommand with
 * wrong arguments: Redis 7's exact errors (the list was first run against
 * redis-server 7.0 with --cluster-enabled yes). */
static void test_bad_arguments(void **state)
{
    (void)state;
    struct server s;
    start_cluster_node(&s, 0, "15000");
    tconn *c = tconnect(s.port);
    static const char *const cases[][2] = {
        { "ASKING x", "ERR wrong number of arguments for 'asking' command" },
        { "READONLY x", "ERR wrong number of arguments for 'readonly' command" },
        { "READWRITE x", "ERR wrong number of arguments for 'readwrite' command" },
        { "CLUSTER REPLICAS", "ERR wrong number of arguments for 'cluster|replicas' command" },
        { "CLUSTER REPLICAS x", "ERR Unknown node x" },
        { "CLUSTER REPLICAS 0123456789012345678901234567890123456789",
          "ERR Unknown node 0123456789012345678901234567890123456789" },
        { "CLUSTER REPLICAS x y", "ERR wrong number of arguments for 'cluster|replicas' command" },
        { "CLUSTER SLAVES x", "ERR Unknown node x" },
        { "CLUSTER SLAVES", "ERR wrong number of arguments for 'cluster|slaves' command" },
        { "CLUSTER RESET x", "ERR syntax error" },
        { "CLUSTER RESET HARD x", "ERR unknown subcommand or wrong number of arguments for 'RESET'. Try CLUSTER HELP." },
        { "CLUSTER reset soft x", "ERR unknown subcommand or wrong number of arguments for 'reset'. Try CLUSTER HELP." },
        { "CLUSTER COUNT-FAILURE-REPORTS", "ERR wrong number of arguments for 'cluster|count-failure-reports' command" },
        { "CLUSTER COUNT-FAILURE-REPORTS x", "ERR Unknown node x" },
        { "CLUSTER COUNT-FAILURE-REPORTS x y",
          "ERR wrong number of arguments for 'cluster|count-failure-reports' command" },
        { "CLUSTER LINKS x", "ERR wrong number of arguments for 'cluster|links' command" },
        { "CLUSTER BUMPEPOCH x", "ERR wrong number of arguments for 'cluster|bumpepoch' command" },
        { "CLUSTER SAVECONFIG x", "ERR wrong number of arguments for 'cluster|saveconfig' command" },
        { "CLUSTER SET-CONFIG-EPOCH", "ERR wrong number of arguments for 'cluster|set-config-epoch' command" },
        { "CLUSTER SET-CONFIG-EPOCH x", "ERR value is not an integer or out of range" },
        { "CLUSTER SET-CONFIG-EPOCH -1", "ERR Invalid config epoch specified: -1" },
        { "CLUSTER SET-CONFIG-EPOCH 5 6", "ERR wrong number of arguments for 'cluster|set-config-epoch' command" },
        { "CLUSTER MEET", "ERR wrong number of arguments for 'cluster|meet' command" },
        { "CLUSTER MEET 127.0.0.1", "ERR wrong number of arguments for 'cluster|meet' command" },
        { "CLUSTER MEET 127.0.0.1 x", "ERR Invalid TCP base port specified: x" },
        { "CLUSTER MEET 127.0.0.1 7000 x", "ERR Invalid TCP bus port specified: x" },
        { "CLUSTER MEET 127.0.0.1 7000 7001 9",
          "ERR unknown subcommand or wrong number of arguments for 'MEET'. Try CLUSTER HELP." },
        { "CLUSTER MEET nohost 7000", "ERR Invalid node address specified: nohost:7000" },
        { "CLUSTER FORGET", "ERR wrong number of arguments for 'cluster|forget' command" },
        { "CLUSTER FORGET x", "ERR Unknown node x" },
        { "CLUSTER FORGET x y", "ERR wrong number of arguments for 'cluster|forget' command" },
        { "CLUSTER REPLICATE", "ERR wrong number of arguments for 'cluster|replicate' command" },
        { "CLUSTER REPLICATE x", "ERR Unknown node x" },
        { "CLUSTER REPLICATE x y", "ERR wrong number of arguments for 'cluster|replicate' command" },
        { "CLUSTER FLUSHSLOTS x", "ERR wrong number of arguments for 'cluster|flushslots' command" },
        { "CLUSTER SETSLOT", "ERR wrong number of arguments for 'cluster|setslot' command" },
        { "CLUSTER SETSLOT 1", "ERR wrong number of arguments for 'cluster|setslot' command" },
        { "CLUSTER SETSLOT 1 x", "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP" },
        { "CLUSTER SETSLOT x STABLE", "ERR Invalid or out of range slot" },
        { "CLUSTER SETSLOT -1 STABLE", "ERR Invalid or out of range slot" },
        { "CLUSTER SETSLOT 16384 STABLE", "ERR Invalid or out of range slot" },
        { "CLUSTER SETSLOT 1 STABLE x", "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP" },
        { "CLUSTER SETSLOT 1 IMPORTING", "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP" },
        { "CLUSTER SETSLOT 1 IMPORTING x", "ERR I don't know about node x" },
        { "CLUSTER SETSLOT 1 MIGRATING x", "ERR I'm not the owner of hash slot 1" },
        { "CLUSTER SETSLOT 1 NODE x", "ERR Unknown node x" },
        { "CLUSTER SETSLOT 1 FOO x", "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP" },
        { "CLUSTER ADDSLOTS", "ERR wrong number of arguments for 'cluster|addslots' command" },
        { "CLUSTER ADDSLOTS x", "ERR Invalid or out of range slot" },
        { "CLUSTER ADDSLOTS 16384", "ERR Invalid or out of range slot" },
        { "CLUSTER ADDSLOTSRANGE 1", "ERR wrong number of arguments for 'cluster|addslotsrange' command" },
        { "CLUSTER ADDSLOTSRANGE 1 2 3", "ERR wrong number of arguments for 'cluster|addslotsrange' command" },
        { "CLUSTER ADDSLOTSRANGE 2 1", "ERR start slot number 2 is greater than end slot number 1" },
        { "CLUSTER ADDSLOTSRANGE x 1", "ERR Invalid or out of range slot" },
        { "CLUSTER DELSLOTS", "ERR wrong number of arguments for 'cluster|delslots' command" },
        { "CLUSTER DELSLOTS x", "ERR Invalid or out of range slot" },
        { "CLUSTER DELSLOTS 1", "ERR Slot 1 is already unassigned" },
        { "CLUSTER DELSLOTSRANGE 1", "ERR wrong number of arguments for 'cluster|delslotsrange' command" },
        { "CLUSTER DELSLOTSRANGE 1 2 3", "ERR wrong number of arguments for 'cluster|delslotsrange' command" },
        { "CLUSTER DELSLOTSRANGE 1 2", "ERR Slot 1 is already unassigned" },
        { "CLUSTER ADDSLOTS 5 5", "ERR Slot 5 specified multiple times" },
        { "CLUSTER ADDSLOTSRANGE 0 10 5 6", "ERR Slot 5 specified multiple times" },
        { "CLUSTER ADDSLOTS 7 x", "ERR Invalid or out of range slot" },
        { "CLUSTER DELSLOTS 99 99", "ERR Slot 99 is already unassigned" },
        { "CLUSTER KEYSLOT", "ERR wrong number of arguments for 'cluster|keyslot' command" },
        { "CLUSTER KEYSLOT a b", "ERR wrong number of arguments for 'cluster|keyslot' command" },
        { "CLUSTER FAILOVER x y",
          "ERR unknown subcommand or wrong number of arguments for 'FAILOVER'. Try CLUSTER HELP." },
        { "CLUSTER HELP x", "ERR wrong number of arguments for 'cluster|help' command" },
        { "CLUSTER COUNTKEYSINSLOT 1 2", "ERR wrong number of arguments for 'cluster|countkeysinslot' command" },
        { "CLUSTER GETKEYSINSLOT 1 2 3", "ERR wrong number of arguments for 'cluster|getkeysinslot' command" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rval *v = tcmd(c, "%s", cases[i][0]);
        if (v->type != R_ERROR || strcmp(v->str, cases[i][1]) != 0)
            fail_msg("%s: got %s, not -%s", cases[i][0], rval_text(v), cases[i][1]);
        rval_free(v);
    }
    expect_ok(tcmd(c, "ASKING"));
    expect_ok(tcmd(c, "READONLY"));
    expect_ok(tcmd(c, "READWRITE"));
    struct rval *v = tcmd(c, "CLUSTER LINKS");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 0);
    rval_free(v);
    char *id = myid(s.port);
    expect_int(tcmd(c, "CLUSTER COUNT-FAILURE-REPORTS %s", id), 0);
    v = tcmd(c, "CLUSTER REPLICAS %s", id);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 0);
    rval_free(v);
    expect_error(tcmd(c, "CLUSTER FORGET %s", id), "ERR I tried hard but I can't forget myself...");
    expect_error(tcmd(c, "CLUSTER REPLICATE %s", id), "ERR Can't replicate myself");
    expect_ok(tcmd(c, "CLUSTER SAVECONFIG"));
    if (!target_is_redis()) {
        /* what ringkv-cluster does instead: a clear refusal, once the
         * arguments are good */
        expect_error_prefix(tcmd(c, "CLUSTER MEET 127.0.0.1 7000"), "ERR CLUSTER MEET is not used by ringkv: ");
        expect_error_prefix(tcmd(c, "CLUSTER FLUSHSLOTS"), "ERR CLUSTER FLUSHSLOTS is not used by ringkv: ");
        expect_error_prefix(tcmd(c, "CLUSTER BUMPEPOCH"), "ERR CLUSTER BUMPEPOCH is not used by ringkv: ");
        expect_error_prefix(tcmd(c, "CLUSTER SET-CONFIG-EPOCH 1"),
                            "ERR CLUSTER SET-CONFIG-EPOCH is not used by ringkv: ");
        /* Redis 7.2's MYSHARDID: alone, the node is its own shard */
        char *shard = bulk_text(tcmd(c, "CLUSTER MYSHARDID"));
        assert_string_equal(shard, id);
        free(shard);
        expect_error(tcmd(c, "CLUSTER MYSHARDID x"), "ERR wrong number of arguments for 'cluster|myshardid' command");
    }
    /* RESET SOFT keeps the id, HARD draws a new one (an empty master may) */
    expect_ok(tcmd(c, "CLUSTER RESET"));
    expect_ok(tcmd(c, "CLUSTER RESET SOFT"));
    char *same = myid(s.port);
    assert_string_equal(same, id);
    expect_ok(tcmd(c, "CLUSTER RESET HARD"));
    char *fresh = myid(s.port);
    assert_int_equal(strlen(fresh), 40);
    assert_string_not_equal(fresh, id);
    free(same);
    free(fresh);
    free(id);
    tclose(c);
    server_stop(&s);
}

/* ------------------------------------------------------- three nodes */

/* Three groups of one node each, or (with_replica) two groups, node 2
 * replicating node 0 in group 0. */
static const int bounds[4] = { 0, 5461, 10923, 16384 };

static char *state_text(bool with_replica)
{
    static char text[4096];
    if (with_replica)
        snprintf(text, sizeof text,
                 "ringkv-cluster-state 1\ntable-version 1\n"
                 "group 0 %s 1\ngroup 1 %s 1\n"
                 "node %s 127.0.0.1 %d 0\nnode %s 127.0.0.1 %d 1\nnode %s 127.0.0.1 %d 0\n"
                 "slots 0 0-8191\nslots 1 8192-16383\n",
                 ids[0], ids[1], ids[0], node[0].port, ids[1], node[1].port, ids[2], node[2].port);
    else {
        int len = snprintf(text, sizeof text, "ringkv-cluster-state 1\ntable-version 1\n");
        for (int g = 0; g < 3; g++)
            len += snprintf(text + len, sizeof text - (size_t)len,
                            "group %d %s 1\nnode %s 127.0.0.1 %d %d\nslots %d %d-%d\n", g, ids[g], ids[g],
                            node[g].port, g, g, bounds[g], bounds[g + 1] - 1);
    }
    return text;
}

static void start_three(bool with_replica, const char *timeout_ms)
{
    for (int i = 0; i < 3; i++) {
        start_cluster_node(&node[i], i, timeout_ms);
        char *id = myid(node[i].port);
        snprintf(ids[i], sizeof ids[i], "%s", id);
        free(id);
    }
    tconn *c = tconnect(node[0].port);
    const char *argv[] = { "CLUSTER", "RINGKV-SETSTATE", "0", state_text(with_replica) };
    tsendv(c, 4, argv);
    expect_ok(tread(c, 5000));
    tclose(c);
    /* the peers bring it to the others */
    for (int i = 1; i < 3; i++) {
        long long until = now_ms() + 5000;
        for (;;) {
            c = tconnect(node[i].port);
            char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
            tclose(c);
            bool ok = strstr(info, "cluster_state:ok") != NULL;
            free(info);
            if (ok)
                break;
            if (now_ms() > until)
                fail_msg("node %d did not take the pushed table", i);
            usleep(20 * 1000);
        }
    }
}

static void stop_three(void)
{
    for (int i = 0; i < 3; i++)
        if (node[i].pid > 0)
            assert_int_equal(server_stop(&node[i]), 0);
}

/* A key of the given group's slots (three groups). */
static void key_of_group(tconn *c, int g, char *key, size_t cap)
{
    for (int k = 0;; k++) {
        snprintf(key, cap, "key:%d", k);
        long long slot = get_int(tcmd(c, "CLUSTER KEYSLOT %s", key));
        if (slot >= bounds[g] && slot < bounds[g + 1])
            return;
    }
}

/* ASKING lets the next command, or the transaction it opens, use a slot
 * this node imports (CLUSTER SETSLOT <slot> IMPORTING <id>); only that
 * command: the one after is redirected again. Without IMPORTING, ASKING
 * changes nothing. */
static void test_asking(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(false, "15000");
    tconn *c = tconnect(node[1].port);
    char key[32];
    key_of_group(c, 0, key, sizeof key);
    long long slot = get_int(tcmd(c, "CLUSTER KEYSLOT %s", key));
    char moved[100];
    snprintf(moved, sizeof moved, "MOVED %lld 127.0.0.1:%d", slot, node[0].port);
    /* not importing: ASKING does not help */
    expect_ok(tcmd(c, "ASKING"));
    expect_error(tcmd(c, "GET %s", key), moved);
    /* SETSLOT's checks */
    expect_error(tcmd(c, "CLUSTER SETSLOT %d IMPORTING %s", bounds[1], ids[0]),
                 "ERR I'm already the owner of hash slot 5461");
    char want[120];
    snprintf(want, sizeof want, "ERR I don't know about node %.39sx", ids[0]);
    expect_error(tcmd(c, "CLUSTER SETSLOT %lld IMPORTING %.39sx", slot, ids[0]), want);
    expect_ok(tcmd(c, "CLUSTER SETSLOT %lld IMPORTING %s", slot, ids[0]));
    expect_error(tcmd(c, "GET %s", key), moved);
    expect_ok(tcmd(c, "ASKING"));
    expect_nil(tcmd(c, "GET %s", key)); /* served here */
    expect_error(tcmd(c, "GET %s", key), moved); /* the flag lasted one command */
    expect_ok(tcmd(c, "ASKING"));
    expect_ok(tcmd(c, "SET %s imported", key));
    expect_error(tcmd(c, "SET %s again", key), moved);
    /* a command without keys uses the flag up as well */
    expect_ok(tcmd(c, "ASKING"));
    expect_status(tcmd(c, "PING"), "PONG");
    expect_error(tcmd(c, "GET %s", key), moved);
    /* ASKING then MULTI: the whole transaction is asking */
    expect_ok(tcmd(c, "ASKING"));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "GET %s", key), "QUEUED");
    expect_status(tcmd(c, "SET %s tx", key), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, "imported");
    rval_free(v);
    expect_error(tcmd(c, "GET %s", key), moved);
    /* RESET forgets it */
    expect_ok(tcmd(c, "ASKING"));
    expect_status(tcmd(c, "RESET"), "RESET");
    expect_error(tcmd(c, "GET %s", key), moved);
    /* STABLE ends the import */
    expect_ok(tcmd(c, "CLUSTER SETSLOT %lld STABLE", slot));
    expect_ok(tcmd(c, "ASKING"));
    expect_error(tcmd(c, "GET %s", key), moved);
    tclose(c);
    stop_three();
}

/* Wait until node i's table is at least version v. */
static void wait_table_version(int i, long long v)
{
    long long until = now_ms() + 5000;
    for (;;) {
        tconn *c = tconnect(node[i].port);
        char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
        tclose(c);
        const char *f = strstr(info, "cluster_table_version:");
        long long have = f ? atoll(f + strlen("cluster_table_version:")) : 0;
        free(info);
        if (have >= v)
            return;
        if (now_ms() > until)
            fail_msg("node %d stays at table version %lld, below %lld", i, have, v);
        usleep(20 * 1000);
    }
}

/* MIGRATE of one key (MIGRATE's KEYS form: an empty key argument). */
static void migrate_one(tconn *c, int port, const char *key)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    const char *argv[] = { "MIGRATE", "127.0.0.1", p, "", "0", "5000", "KEYS", key };
    tsendv(c, 8, argv);
    expect_ok(tread(c, 5000));
}

/* A slot moved Redis's way (README "Growing and shrinking"): IMPORTING on
 * the target, MIGRATING on the source: the source serves the keys it still
 * has, sends a command lacking its keys on with -ASK (a new key too), and
 * answers -TRYAGAIN when only some are here; the target serves ASKING
 * connections, -TRYAGAIN for several keys not all there; MIGRATE moves the
 * keys; NODE flips the slot in a new table version, the source then answers
 * -MOVED and the third node learns it from its peers. Redis's errors. */
static void test_migrating_slot(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(false, "15000");
    tconn *src = tconnect(node[0].port), *dst = tconnect(node[1].port), *other = tconnect(node[2].port);
    char tag[32], a[48], b[48], fresh[48];
    key_of_group(src, 0, tag, sizeof tag);
    snprintf(a, sizeof a, "{%s}a", tag);
    snprintf(b, sizeof b, "{%s}b", tag);
    snprintf(fresh, sizeof fresh, "{%s}fresh", tag);
    long long slot = get_int(tcmd(src, "CLUSTER KEYSLOT %s", a));
    char ask[100], moved_to_dst[100];
    snprintf(ask, sizeof ask, "ASK %lld 127.0.0.1:%d", slot, node[1].port);
    snprintf(moved_to_dst, sizeof moved_to_dst, "MOVED %lld 127.0.0.1:%d", slot, node[1].port);
    expect_ok(tcmd(src, "SET %s va", a));
    expect_ok(tcmd(src, "SET %s vb", b));

    /* the checks, in Redis's words */
    char want[160];
    snprintf(want, sizeof want, "ERR I don't know about node %.39sx", ids[1]);
    expect_error(tcmd(src, "CLUSTER SETSLOT %lld MIGRATING %.39sx", slot, ids[1]), want);
    snprintf(want, sizeof want, "ERR I'm not the owner of hash slot %d", bounds[1]);
    expect_error(tcmd(src, "CLUSTER SETSLOT %d MIGRATING %s", bounds[1], ids[1]), want);
    snprintf(want, sizeof want, "ERR Unknown node %.39sx", ids[1]);
    expect_error(tcmd(src, "CLUSTER SETSLOT %lld NODE %.39sx", slot, ids[1]), want);
    expect_error(tcmd(src, "CLUSTER SETSLOT %lld MIGRATING", slot),
                 "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");

    expect_ok(tcmd(dst, "CLUSTER SETSLOT %lld IMPORTING %s", slot, ids[0]));
    expect_ok(tcmd(src, "CLUSTER SETSLOT %lld MIGRATING %s", slot, ids[1]));
    /* the source: what is here is served; what is not goes on with -ASK */
    expect_bulk(tcmd(src, "GET %s", a), "va");
    expect_error(tcmd(src, "GET %s", fresh), ask);
    expect_error(tcmd(src, "SET %s x", fresh), ask);
    expect_error(tcmd(src, "MGET %s %s", a, fresh), "TRYAGAIN Multiple keys request during rehashing of slot");
    expect_error(tcmd(src, "EXISTS %s", fresh), ask); /* a read too, as Redis */
    /* the target: an ASKING connection creates the new key there */
    expect_error_prefix(tcmd(dst, "GET %s", fresh), "MOVED ");
    expect_ok(tcmd(dst, "ASKING"));
    expect_ok(tcmd(dst, "SET %s new", fresh));
    /* MIGRATE moves a; the source asks for it from then on */
    migrate_one(src, node[1].port, a);
    expect_error(tcmd(src, "GET %s", a), ask);
    expect_ok(tcmd(dst, "ASKING"));
    expect_bulk(tcmd(dst, "GET %s", a), "va");
    expect_ok(tcmd(dst, "ASKING"));
    expect_error(tcmd(dst, "MGET %s %s", a, b), "TRYAGAIN Multiple keys request during rehashing of slot");
    expect_int(tcmd(src, "CLUSTER COUNTKEYSINSLOT %lld", slot), 1);
    migrate_one(src, node[1].port, b);
    expect_int(tcmd(src, "CLUSTER COUNTKEYSINSLOT %lld", slot), 0);

    /* the flip: the target first, as redis-cli does, then the source */
    expect_ok(tcmd(dst, "CLUSTER SETSLOT %lld NODE %s", slot, ids[1]));
    expect_bulk(tcmd(dst, "GET %s", b), "vb"); /* no ASKING: its own slot now */
    /* not told yet (-ASK), or told by its peers already (-MOVED): either
     * way to dst */
    struct rval *v = tcmd(src, "GET %s", fresh);
    if (!v || v->type != R_ERROR || (strcmp(v->str, ask) != 0 && strcmp(v->str, moved_to_dst) != 0))
        fail_msg("GET %s on the source after the target's flip: %s", fresh, rval_text(v));
    rval_free(v);
    expect_ok(tcmd(src, "CLUSTER SETSLOT %lld NODE %s", slot, ids[1]));
    expect_error(tcmd(src, "GET %s", a), moved_to_dst);
    wait_table_version(2, 2);
    expect_error(tcmd(other, "GET %s", a), moved_to_dst);
    expect_int(tcmd(dst, "CLUSTER COUNTKEYSINSLOT %lld", slot), 3);
    /* told again: nothing changes */
    expect_ok(tcmd(src, "CLUSTER SETSLOT %lld NODE %s", slot, ids[1]));
    wait_table_version(0, 2);
    char *info = bulk_text(tcmd(src, "CLUSTER INFO"));
    assert_non_null(strstr(info, "cluster_table_version:2\r\n"));
    free(info);
    tclose(src);
    tclose(dst);
    tclose(other);
    stop_three();
}

/* The fake target's side of a MIGRATE: wait for its RESTORE-ASKING of key
 * and the ROLE after it, on the link fd or on a new connection to lfd (a
 * MIGRATE reuses its link to a destination when it can). Returns the fd
 * they came on. */
static int fake_target_read(int lfd, int fd, const char *key)
{
    char in[16384];
    size_t got = 0;
    for (;;) {
        struct pollfd pf[2] = { { .fd = lfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
        if (poll(pf, fd >= 0 ? 2 : 1, 5000) < 1)
            fail_msg("no MIGRATE of %s came (%zu bytes)", key, got);
        if (pf[0].revents & POLLIN) {
            if (fd >= 0)
                close(fd);
            fd = accept(lfd, NULL, NULL);
            assert_true(fd >= 0);
            got = 0;
            continue;
        }
        ssize_t r = read(fd, in + got, sizeof in - 1 - got);
        assert_true(r > 0);
        got += (size_t)r;
        in[got] = 0;
        /* the payloads are binary: memmem, not strstr */
        if (memmem(in, got, "RESTORE-ASKING", 14) && memmem(in, got, key, strlen(key)) &&
            memmem(in, got, "ROLE\r\n", 6))
            return fd;
        assert_true(got < sizeof in - 1);
    }
}

/* A key of group 0 in a slot other than `slot`. */
static void key_of_group0_not_in(tconn *c, long long slot, char *key, size_t cap)
{
    for (int k = 0;; k++) {
        snprintf(key, cap, "elsewhere:%d", k);
        long long sl = get_int(tcmd(c, "CLUSTER KEYSLOT %s", key));
        if (sl >= bounds[0] && sl < bounds[1] && sl != slot)
            return;
    }
}

/* INFO stats' field `name` is want (the field must be there). */
static void expect_int_field(tconn *c, const char *name, long long want)
{
    long long got = info_field(c, "stats", name);
    if (got != want)
        fail_msg("INFO stats %s: %lld, expected %lld", name, got, want);
}

#define ERR_TRYAGAIN_TEXT "TRYAGAIN Multiple keys request during rehashing of slot"
#define TARGET_HAS_IT "+OK\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n" /* RESTORE's and ROLE's answers */
#define TARGET_REFUSES "-ERR not today\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"

/* A key deleted on the source while a MIGRATE of it is in flight would
 * live on at the target (the delete step finds nothing to delete): so
 * while a key of a slot being given away is in flight, a write to it
 * waits on the source until that MIGRATE settles, as Redis's MIGRATE
 * makes its whole server wait; then it is asked again: the key gone, it
 * gets -ASK; the MIGRATE failed and the key still here, it runs. With it
 * wait the commands its connection sent after it (in order), and nothing
 * else: reads of the key, the slot's other keys and other slots are
 * served meanwhile. A wait is bounded: past about a second it answers
 * -TRYAGAIN (dispatch.h, KEY_WAIT_MAX_MS). The target is a fake one here
 * (a socket of the test), so each MIGRATE stays in flight until the test
 * answers its RESTORE-ASKING. */
static void test_write_during_migrate_in_flight(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(false, "15000");
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t salen = sizeof sa;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
    char fport[16];
    snprintf(fport, sizeof fport, "%d", ntohs(sa.sin_port));

    tconn *a = tconnect(node[0].port), *b = tconnect(node[0].port), *c = tconnect(node[0].port);
    char tag[32], k[48], other[48], third[48], elsewhere[48];
    key_of_group(a, 0, tag, sizeof tag);
    snprintf(k, sizeof k, "{%s}k", tag);
    snprintf(other, sizeof other, "{%s}other", tag);
    snprintf(third, sizeof third, "{%s}third", tag);
    long long slot = get_int(tcmd(a, "CLUSTER KEYSLOT %s", k));
    key_of_group0_not_in(a, slot, elsewhere, sizeof elsewhere);
    char ask[100];
    snprintf(ask, sizeof ask, "ASK %lld 127.0.0.1:%d", slot, node[1].port);
    expect_ok(tcmd(a, "SET %s v", k));
    expect_ok(tcmd(a, "SET %s w", other));
    expect_ok(tcmd(a, "SET %s t", third));
    expect_ok(tcmd(a, "CLUSTER SETSLOT %lld MIGRATING %s", slot, ids[1]));
    const char *argv[] = { "MIGRATE", "127.0.0.1", fport, "", "0", "5000", "KEYS", k };
    tsendv(a, 8, argv);
    int fd = fake_target_read(lfd, -1, k);

    /* in flight: a write of the key waits, and the GET its connection
     * sent after it waits behind it */
    const char *set_k[] = { "SET", k, "v2" }, *get_k[] = { "GET", k };
    tsendv(b, 3, set_k);
    tsendv(b, 2, get_k);
    assert_null(tread(b, 300));
    /* nothing else waits: a read of the key, the slot's other key, another slot */
    expect_bulk(tcmd(c, "GET %s", k), "v");
    expect_ok(tcmd(c, "SET %s w2", other));
    expect_ok(tcmd(c, "SET %s e", elsewhere));
    assert_null(tread(a, 0)); /* the MIGRATE is still in flight */
    /* the target takes it, and its ROLE names no replica to wait for (in
     * cluster mode MIGRATE asks, README "Limitations"): MIGRATE deletes
     * it here and answers; the write held, asked again, goes to the
     * target, and so does the GET after it */
    assert_int_equal(write(fd, TARGET_HAS_IT, strlen(TARGET_HAS_IT)), (ssize_t)strlen(TARGET_HAS_IT));
    expect_ok(tread(a, 5000));
    expect_error(tread(b, 5000), ask);
    expect_error(tread(b, 5000), ask);
    /* INFO counts the write held (the GET behind it waited for its
     * connection's order, not for a key in flight: not counted) */
    expect_int_field(c, "migrate_held_writes", 1);
    expect_int_field(c, "migrate_held_writes_tryagain", 0);

    /* a MIGRATE that fails leaves its key here: the write held runs, then
     * its connection's next command sees it; a command of several keys,
     * one of them in flight, waits the same */
    argv[7] = other;
    tsendv(a, 8, argv);
    fd = fake_target_read(lfd, fd, other);
    const char *set_o[] = { "SET", other, "w3" }, *get_o[] = { "GET", other };
    /* (the same value for other: c's MSET may run between b's SET and GET) */
    const char *mset[] = { "MSET", third, "t3", other, "w3" }, *get_t[] = { "GET", third };
    tsendv(b, 3, set_o);
    tsendv(b, 2, get_o);
    tsendv(c, 5, mset);
    tsendv(c, 2, get_t);
    assert_null(tread(b, 300));
    assert_null(tread(c, 0));
    assert_int_equal(write(fd, TARGET_REFUSES, strlen(TARGET_REFUSES)), (ssize_t)strlen(TARGET_REFUSES));
    expect_error(tread(a, 5000), "ERR Target instance replied with error: ERR not today");
    expect_ok(tread(b, 5000));
    expect_bulk(tread(b, 5000), "w3");
    expect_ok(tread(c, 5000));
    expect_bulk(tread(c, 5000), "t3");
    expect_int_field(c, "migrate_held_writes", 3); /* b's SET and c's MSET */
    expect_int_field(c, "migrate_held_writes_tryagain", 0);

    /* the target silent: the write held answers -TRYAGAIN after the
     * bound (a second), as before this wait existed, and the client
     * retries as it chooses */
    tsendv(a, 8, argv);
    fd = fake_target_read(lfd, fd, other);
    const char *set_o4[] = { "SET", other, "w4" };
    long long t0 = now_ms();
    tsendv(b, 3, set_o4);
    expect_error(tread(b, 5000), ERR_TRYAGAIN_TEXT);
    assert_true(now_ms() - t0 >= 900);
    expect_bulk(tcmd(c, "GET %s", other), "w3");
    expect_int_field(c, "migrate_held_writes", 4);
    expect_int_field(c, "migrate_held_writes_tryagain", 1); /* held, then past the bound */
    /* a transaction's write of it is not held (other clients' commands
     * would run between the transaction's): -TRYAGAIN in its place in the
     * EXEC array while the MIGRATE is still in flight */
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %s w5", other), "QUEUED");
    expect_status(tcmd(c, "GET %s", third), "QUEUED");
    tsendv(c, 1, (const char *[]){ "EXEC" });
    /* (that its write was not held shows in migrate_held_writes below,
     * which a held write counts: no timing needed) */
    struct rval *x = tread(c, 5000);
    assert_non_null(x);
    assert_int_equal(x->type, R_ARRAY);
    assert_int_equal(x->n, 2);
    assert_int_equal(x->elem[0]->type, R_ERROR);
    assert_string_equal(x->elem[0]->str, ERR_TRYAGAIN_TEXT);
    assert_string_equal(x->elem[1]->str, "t3");
    rval_free(x);
    assert_null(tread(a, 0)); /* still in flight */
    assert_int_equal(write(fd, TARGET_REFUSES, strlen(TARGET_REFUSES)), (ssize_t)strlen(TARGET_REFUSES));
    expect_error(tread(a, 5000), "ERR Target instance replied with error: ERR not today");
    /* settled: the slot's other key takes writes at once again */
    expect_int(tcmd(b, "DEL %s", other), 1);
    /* the transaction's write was refused, not held: not counted; CONFIG
     * RESETSTAT zeroes both */
    expect_int_field(c, "migrate_held_writes", 4);
    expect_int_field(c, "migrate_held_writes_tryagain", 1);
    expect_ok(tcmd(c, "CONFIG RESETSTAT"));
    expect_int_field(c, "migrate_held_writes", 0);
    expect_int_field(c, "migrate_held_writes_tryagain", 0);
    close(fd);
    close(lfd);
    tclose(a);
    tclose(b);
    tclose(c);
    stop_three();
}

/* The same with a real target and a MIGRATE made slow by a proxy that
 * delays every byte (a big batch on a slow link): a write of a key in
 * flight waits for the MIGRATE, then gets -ASK, and written at the target
 * (ASKING) it is there; writes of the slot's other keys and of other
 * slots are answered while the MIGRATE is still in flight. Before the
 * wait existed the write got -TRYAGAIN at once. */
static void test_write_waits_for_real_migrate(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(false, "15000");
    struct proxy *px = proxy_start(node[1].port);
    proxy_set_delay(px, 150);
    tconn *a = tconnect(node[0].port), *b = tconnect(node[0].port), *c = tconnect(node[0].port),
          *t = tconnect(node[1].port);
    char tag[32], small[48], elsewhere[48], names[20][48];
    key_of_group(a, 0, tag, sizeof tag);
    snprintf(small, sizeof small, "{%s}small", tag);
    long long slot = get_int(tcmd(a, "CLUSTER KEYSLOT %s", small));
    key_of_group0_not_in(a, slot, elsewhere, sizeof elsewhere);
    char ask[100];
    snprintf(ask, sizeof ask, "ASK %lld 127.0.0.1:%d", slot, node[1].port);
    size_t vlen = 64 * 1024;
    char *value = malloc(vlen + 1);
    memset(value, 'x', vlen);
    value[vlen] = 0;
    const char *margv[7 + 20] = { "MIGRATE", "127.0.0.1", NULL, "", "0", "10000", "KEYS" };
    char pport[16];
    snprintf(pport, sizeof pport, "%d", proxy_port(px));
    margv[2] = pport;
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "{%s}big:%d", tag, i);
        const char *set[] = { "SET", names[i], value };
        tsendv(a, 3, set);
        expect_ok(tread(a, 5000));
        margv[7 + i] = names[i];
    }
    expect_ok(tcmd(a, "SET %s s", small));
    expect_ok(tcmd(t, "CLUSTER SETSLOT %lld IMPORTING %s", slot, ids[0]));
    expect_ok(tcmd(a, "CLUSTER SETSLOT %lld MIGRATING %s", slot, ids[1]));
    tsendv(a, 27, margv);
    /* the keys are dumped (in flight) before the link is made */
    long long until = now_ms() + 5000;
    while (proxy_accepted(px) < 1) {
        if (now_ms() > until)
            fail_msg("the MIGRATE did not connect");
        usleep(2000);
    }
    const char *set_k[] = { "SET", names[7], "fresh" };
    tsendv(b, 3, set_k);
    expect_ok(tcmd(c, "SET %s s2", small));
    expect_ok(tcmd(c, "SET %s e", elsewhere));
    assert_null(tread(a, 0)); /* answered while the MIGRATE is in flight */
    expect_ok(tread(a, 10000));
    /* the write waited for it, and goes to the target */
    expect_error(tread(b, 5000), ask);
    expect_ok(tcmd(t, "ASKING"));
    expect_ok(tcmd(t, "SET %s fresh", names[7]));
    /* nothing lost: the write is at the target, with the keys moved */
    expect_ok(tcmd(t, "ASKING"));
    expect_bulk(tcmd(t, "GET %s", names[7]), "fresh");
    expect_ok(tcmd(t, "ASKING"));
    expect_int(tcmd(t, "STRLEN %s", names[3]), (long long)vlen);
    expect_bulk(tcmd(c, "GET %s", small), "s2");
    expect_int(tcmd(c, "CLUSTER COUNTKEYSINSLOT %lld", slot), 1); /* small alone is left here */
    free(value);
    tclose(a);
    tclose(b);
    tclose(c);
    tclose(t);
    proxy_stop(px);
    stop_three();
}

/* A READONLY connection on a replica reads its group's slots there; writes
 * and other groups' slots are still redirected; READWRITE (and RESET) undo
 * it. CLUSTER REPLICAS/SLAVES list the replica in NODES's format; CLUSTER
 * RESET is refused on a master holding keys. */
static void test_readonly_replica(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(true, "15000");
    tconn *m = tconnect(node[0].port), *r = tconnect(node[2].port);
    char key[32] = "", other[32] = "";
    for (int k = 0; !key[0] || !other[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "ro:%d", k);
        long long slot = get_int(tcmd(m, "CLUSTER KEYSLOT %s", name));
        snprintf(slot < 8192 ? key : other, 32, "%s", name);
    }
    expect_ok(tcmd(m, "SET %s v1", key));
    struct rval *v;
    long long until = now_ms() + 5000;
    while (get_int(tcmd(m, "WAIT 1 200")) != 1)
        if (now_ms() > until)
            fail_msg("the replica did not come up");
    long long slot = get_int(tcmd(r, "CLUSTER KEYSLOT %s", key));
    long long oslot = get_int(tcmd(r, "CLUSTER KEYSLOT %s", other));
    char to_master[100], to_other[100];
    snprintf(to_master, sizeof to_master, "MOVED %lld 127.0.0.1:%d", slot, node[0].port);
    snprintf(to_other, sizeof to_other, "MOVED %lld 127.0.0.1:%d", oslot, node[1].port);
    expect_error(tcmd(r, "GET %s", key), to_master);
    expect_ok(tcmd(r, "READONLY"));
    expect_bulk(tcmd(r, "GET %s", key), "v1");
    expect_int(tcmd(r, "EXISTS %s", key), 1);
    expect_error(tcmd(r, "SET %s v2", key), to_master);
    expect_error(tcmd(r, "GET %s", other), to_other);
    /* BITFIELD_RO reads there too; BITFIELD is a write, even with GETs only */
    v = tcmd(r, "BITFIELD_RO %s GET u8 0", key);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    assert_int_equal(v->elem[0]->integer, 'v');
    rval_free(v);
    expect_error(tcmd(r, "BITFIELD %s GET u8 0", key), to_master);
    expect_error(tcmd(r, "BITFIELD_RO %s GET u8 0", other), to_other);
    expect_error(tcmd(m, "BITFIELD %s SET u8 0 1", other), to_other);
    /* sharded pub/sub: SPUBLISH on the slot's master, whose replicas get it
     * through the stream; a READONLY connection subscribes on a replica */
    expect_error(tcmd(r, "SPUBLISH %s m", key), to_master);
    expect_error(tcmd(m, "SPUBLISH %s m", other), to_other);
    tconn *rs = tconnect(node[2].port);
    expect_error(tcmd(rs, "SSUBSCRIBE %s", key), to_master);
    expect_ok(tcmd(rs, "READONLY"));
    const char *ssub[] = { "SSUBSCRIBE", key };
    tsendv(rs, 2, ssub);
    v = tread(rs, 5000);
    assert_non_null(v);
    assert_string_equal(v->elem[0]->str, "ssubscribe");
    rval_free(v);
    expect_int(tcmd(m, "SPUBLISH %s m1", key), 0);
    v = tread(rs, 5000);
    assert_non_null(v);
    assert_string_equal(v->elem[0]->str, "smessage");
    assert_string_equal(v->elem[2]->str, "m1");
    rval_free(v);
    tclose(rs);
    expect_ok(tcmd(r, "MULTI"));
    expect_status(tcmd(r, "GET %s", key), "QUEUED");
    v = tcmd(r, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_string_equal(v->elem[0]->str, "v1");
    rval_free(v);
    /* READONLY on the master changes nothing there */
    expect_ok(tcmd(m, "READONLY"));
    expect_ok(tcmd(m, "SET %s v3", key));
    expect_error(tcmd(m, "GET %s", other), to_other);
    expect_ok(tcmd(r, "READWRITE"));
    expect_error(tcmd(r, "GET %s", key), to_master);
    expect_ok(tcmd(r, "READONLY"));
    expect_status(tcmd(r, "RESET"), "RESET");
    expect_error(tcmd(r, "GET %s", key), to_master);

    /* REPLICAS / SLAVES */
    v = tcmd(m, "CLUSTER REPLICAS %s", ids[0]);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    char prefix[200];
    snprintf(prefix, sizeof prefix, "%s 127.0.0.1:%d@%d slave %s ", ids[2], node[2].port, node[2].port + 10000,
             ids[0]);
    if (strncmp(v->elem[0]->str, prefix, strlen(prefix)) != 0)
        fail_msg("CLUSTER REPLICAS: '%s' does not start with '%s'", v->elem[0]->str, prefix);
    assert_null(strchr(v->elem[0]->str, '\n'));
    rval_free(v);
    v = tcmd(r, "CLUSTER SLAVES %s", ids[1]);
    assert_int_equal(v->n, 0);
    rval_free(v);
    expect_error(tcmd(m, "CLUSTER REPLICAS %s", ids[2]), "ERR The specified node is not a master");
    /* FORGET, REPLICATE: Redis's checks first */
    expect_error(tcmd(r, "CLUSTER FORGET %s", ids[0]), "ERR Can't forget my master!");
    expect_error(tcmd(m, "CLUSTER REPLICATE %s", ids[2]), "ERR I can only replicate a master, not a replica.");
    expect_error_prefix(tcmd(m, "CLUSTER REPLICATE %s", ids[1]), "ERR CLUSTER REPLICATE is not used by ringkv: ");
    expect_error(tcmd(r, "CLUSTER SETSLOT 1 STABLE"), "ERR Please use SETSLOT only with masters.");
    /* MYSHARDID: the same for a group's nodes, another for another group */
    char *s0 = bulk_text(tcmd(m, "CLUSTER MYSHARDID")), *s2 = bulk_text(tcmd(r, "CLUSTER MYSHARDID"));
    tconn *o = tconnect(node[1].port);
    char *s1 = bulk_text(tcmd(o, "CLUSTER MYSHARDID"));
    tclose(o);
    assert_string_equal(s0, s2);
    assert_string_not_equal(s0, s1);
    assert_int_equal(strlen(s0), 40);
    free(s0);
    free(s1);
    free(s2);
    /* RESET: not on a master with keys */
    expect_error(tcmd(m, "CLUSTER RESET"), "ERR CLUSTER RESET can't be called with master nodes containing keys");
    expect_error(tcmd(m, "CLUSTER RESET HARD"),
                 "ERR CLUSTER RESET can't be called with master nodes containing keys");
    expect_error(tcmd(m, "CLUSTER FLUSHSLOTS"), "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
    tclose(m);
    tclose(r);
    stop_three();
}

/* The fields of a CLUSTER NODES line. */
struct nodes_line {
    char id[64], addr[80], flags[64], master[64], link[32];
    long long ping, pong, epoch;
};

/* Node i's CLUSTER NODES line for node `of`; false if it has none. */
static bool nodes_line_of(int i, int of, struct nodes_line *out)
{
    tconn *c = tconnect(node[i].port);
    char *text = bulk_text(tcmd(c, "CLUSTER NODES"));
    tclose(c);
    bool found = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        struct nodes_line l;
        int n = sscanf(line, "%63s %79s %63s %63s %lld %lld %lld %31s", l.id, l.addr, l.flags, l.master, &l.ping,
                       &l.pong, &l.epoch, l.link);
        assert_int_equal(n, 8);
        if (strcmp(l.id, ids[of]) == 0) {
            *out = l;
            found = true;
        }
    }
    free(text);
    return found;
}

/* CLUSTER NODES's ping-sent, pong-recv and link-state come from the peer
 * links: a peer that answers is connected with a recent pong; a killed one
 * turns disconnected, then fail? after cluster-node-timeout and fail
 * after twice that. CLUSTER LINKS lists the links that are up. */
static void test_nodes_link_state(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(false, "600");
    struct nodes_line l;
    long long until = now_ms() + 3000;
    do {
        assert_true(nodes_line_of(0, 2, &l));
        usleep(20 * 1000);
    } while (l.pong == 0 && now_ms() < until);
    assert_string_equal(l.flags, "master");
    assert_string_equal(l.link, "connected");
    assert_true(l.pong > 0);
    assert_string_equal(l.master, "-");
    assert_int_equal(l.epoch, 1);
    assert_true(nodes_line_of(0, 0, &l));
    assert_string_equal(l.flags, "myself,master");
    assert_int_equal(l.ping, 0);
    assert_int_equal(l.pong, 0);
    tconn *c = tconnect(node[0].port);
    struct rval *v = tcmd(c, "CLUSTER LINKS");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->n, 12);
    assert_string_equal(v->elem[0]->elem[0]->str, "direction");
    assert_string_equal(v->elem[0]->elem[1]->str, "to");
    rval_free(v);

    server_kill(&node[2]);
    node[2].pid = 0;
    const char *seen[] = { "master,fail?", "master,fail" };
    for (int k = 0; k < 2; k++) {
        until = now_ms() + 5000;
        for (;;) {
            assert_true(nodes_line_of(0, 2, &l));
            if (strcmp(l.flags, seen[k]) == 0)
                break;
            if (now_ms() > until)
                fail_msg("node 2 is '%s' on node 0, not '%s'", l.flags, seen[k]);
            usleep(50 * 1000);
        }
        assert_string_equal(l.link, "disconnected");
    }
    v = tcmd(c, "CLUSTER LINKS");
    assert_int_equal(v->n, 1);
    rval_free(v);
    assert_true(nodes_line_of(0, 1, &l));
    assert_string_equal(l.flags, "master");
    tclose(c);
    stop_three();
}

/* The node's own view of the cluster, polled until `what` is in its
 * CLUSTER INFO (Redis updates its state before it next sleeps; ringkv once
 * the new version is in the file). */
static void wait_cluster_info(tconn *c, const char *what)
{
    for (long long until = now_ms() + 5000;; usleep(20 * 1000)) {
        char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
        bool found = strstr(info, what) != NULL;
        free(info);
        if (found)
            return;
        if (now_ms() > until)
            fail_msg("CLUSTER INFO never said %s", what);
    }
}

/* The line CLUSTER NODES prints for this node, without its newline. */
static char *own_nodes_line(tconn *c)
{
    char *nodes = bulk_text(tcmd(c, "CLUSTER NODES"));
    char *line = strstr(nodes, "myself");
    assert_non_null(line);
    while (line > nodes && line[-1] != '\n')
        line--;
    char *end = strchr(line, '\n');
    char *own = strndup(line, end ? (size_t)(end - line) : strlen(line));
    free(nodes);
    return own;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* ADDSLOTS[RANGE] and DELSLOTS[RANGE] by hand, as client libraries' test
 * setups make a one-node cluster: a node without a table takes every slot
 * and serves keys; slots taken away are served by nobody (the cluster is
 * down, as Redis's with full coverage required) until given again. Runs
 * against redis-server too. */
static void test_slots_by_hand(void **state)
{
    (void)state;
    struct server s;
    start_cluster_node(&s, 0, "15000");
    tconn *c = tconnect(s.port);
    expect_ok(tcmd(c, "CLUSTER ADDSLOTSRANGE 0 8191"));
    expect_ok(tcmd(c, "CLUSTER ADDSLOTS 8192 8193"));
    expect_ok(tcmd(c, "CLUSTER ADDSLOTSRANGE 8194 9000 9001 16383"));
    expect_error(tcmd(c, "CLUSTER ADDSLOTS 5"), "ERR Slot 5 is already busy");
    expect_error(tcmd(c, "CLUSTER ADDSLOTSRANGE 16000 16383"), "ERR Slot 16000 is already busy");
    wait_cluster_info(c, "cluster_state:ok");
    wait_cluster_info(c, "cluster_slots_assigned:16384");
    expect_ok(tcmd(c, "SET foo bar"));
    expect_bulk(tcmd(c, "GET foo"), "bar");
    struct rval *v = tcmd(c, "CLUSTER SLOTS");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    assert_int_equal(v->elem[0]->elem[0]->integer, 0);
    assert_int_equal(v->elem[0]->elem[1]->integer, 16383);
    assert_int_equal(v->elem[0]->elem[2]->elem[1]->integer, s.port);
    rval_free(v);
    char *line = own_nodes_line(c);
    if (!ends_with(line, " connected 0-16383"))
        fail_msg("own line: %s", line);
    free(line);

    /* taken away: nobody serves them, and the whole cluster is down */
    expect_ok(tcmd(c, "CLUSTER DELSLOTSRANGE 100 200"));
    expect_error(tcmd(c, "CLUSTER DELSLOTS 100"), "ERR Slot 100 is already unassigned");
    wait_cluster_info(c, "cluster_slots_assigned:16283");
    wait_cluster_info(c, "cluster_state:fail");
    expect_error_prefix(tcmd(c, "GET foo"), "CLUSTERDOWN ");
    line = own_nodes_line(c);
    if (!ends_with(line, " connected 0-99 201-16383"))
        fail_msg("own line: %s", line);
    free(line);

    /* given again: served again, the key still there */
    expect_ok(tcmd(c, "CLUSTER ADDSLOTSRANGE 100 200"));
    wait_cluster_info(c, "cluster_state:ok");
    expect_bulk(tcmd(c, "GET foo"), "bar");
    tclose(c);
    server_stop(&s);
}

/* Sharded pub/sub on one node serving every slot: an SSUBSCRIBE's channels
 * in one slot (-CROSSSLOT otherwise); when a slot stops being served, its
 * subscribers get a "sunsubscribe" push per channel of it, and its channels
 * answer -CLUSTERDOWN. */
static void test_sharded_pubsub_slots(void **state)
{
    (void)state;
    struct server s;
    start_cluster_node(&s, 0, "15000");
    tconn *c = tconnect(s.port), *sub = tconnect(s.port);
    expect_ok(tcmd(c, "CLUSTER ADDSLOTSRANGE 0 16383"));
    wait_cluster_info(c, "cluster_state:ok");
    long long slot = get_int(tcmd(c, "CLUSTER KEYSLOT ch"));
    expect_error(tcmd(sub, "SSUBSCRIBE ch other"), "CROSSSLOT Keys in request don't hash to the same slot");
    const char *two[] = { "SSUBSCRIBE", "ch", "{ch}x" };
    tsendv(sub, 3, two);
    for (int i = 0; i < 2; i++) {
        struct rval *v = tread(sub, 5000);
        assert_non_null(v);
        assert_string_equal(v->elem[0]->str, "ssubscribe");
        assert_int_equal(v->elem[2]->integer, i + 1);
        rval_free(v);
    }
    const char *one[] = { "SSUBSCRIBE", "other" };
    tsendv(sub, 2, one);
    struct rval *v = tread(sub, 5000);
    assert_int_equal(v->elem[2]->integer, 3);
    rval_free(v);
    expect_int(tcmd(c, "SPUBLISH ch m1"), 1);
    v = tread(sub, 5000);
    assert_string_equal(v->elem[0]->str, "smessage");
    assert_string_equal(v->elem[2]->str, "m1");
    rval_free(v);

    expect_ok(tcmd(c, "CLUSTER DELSLOTS %lld", slot));
    bool seen_ch = false, seen_x = false;
    for (int i = 0; i < 2; i++) { /* the slot's two channels, in any order */
        v = tread(sub, 5000);
        assert_non_null(v);
        assert_string_equal(v->elem[0]->str, "sunsubscribe");
        seen_ch = seen_ch || strcmp(v->elem[1]->str, "ch") == 0;
        seen_x = seen_x || strcmp(v->elem[1]->str, "{ch}x") == 0;
        assert_int_equal(v->elem[2]->integer, 2 - i);
        rval_free(v);
    }
    assert_true(seen_ch && seen_x);
    expect_error(tcmd(c, "SPUBLISH ch m2"), "CLUSTERDOWN Hash slot not served");
    expect_error(tcmd(sub, "SSUBSCRIBE ch"), "CLUSTERDOWN Hash slot not served");
    /* the channel of a slot still served stays */
    expect_ok(tcmd(c, "CLUSTER ADDSLOTS %lld", slot));
    wait_cluster_info(c, "cluster_state:ok");
    expect_int(tcmd(c, "SPUBLISH other m3"), 1);
    v = tread(sub, 5000);
    assert_string_equal(v->elem[1]->str, "other");
    rval_free(v);
    tclose(sub);
    tclose(c);
    server_stop(&s);
}

/* ------------------------------------------------ keys by slot */

/* One node serving every slot: redis-server by CLUSTER ADDSLOTSRANGE,
 * ringkv by a pushed table of one group. */
static void start_one_owner(struct server *s)
{
    start_cluster_node(s, 0, "15000");
    tconn *c = tconnect(s->port);
    if (target_is_redis()) {
        expect_ok(tcmd(c, "CLUSTER ADDSLOTSRANGE 0 16383"));
    } else {
        char *id = myid(s->port), text[600];
        snprintf(text, sizeof text, "ringkv-cluster-state 1\ntable-version 1\ngroup 0 %s 1\n"
                 "node %s 127.0.0.1 %d 0\nslots 0 0-16383\n", id, id, s->port);
        const char *argv[] = { "CLUSTER", "RINGKV-SETSTATE", "0", text };
        tsendv(c, 4, argv);
        expect_ok(tread(c, 5000));
        free(id);
    }
    for (long long until = now_ms() + 5000;; usleep(20 * 1000)) {
        char *info = bulk_text(tcmd(c, "CLUSTER INFO"));
        bool ok = strstr(info, "cluster_state:ok") != NULL;
        free(info);
        if (ok)
            break;
        if (now_ms() > until)
            fail_msg("the node did not reach cluster_state:ok");
    }
    tclose(c);
}

/* COUNTKEYSINSLOT and GETKEYSINSLOT follow keys as they come and go
 * (set, deleted, renamed, expired, flushed), on a node with two shards;
 * GETKEYSINSLOT gives at most <count> keys, all of the slot. */
static void test_keys_in_slot(void **state)
{
    (void)state;
    struct server s;
    start_one_owner(&s);
    tconn *c = tconnect(s.port);
    /* 300 keys in the slot of {a}, 1000 elsewhere */
    long long slot = get_int(tcmd(c, "CLUSTER KEYSLOT {a}"));
    for (int i = 0; i < 300; i++)
        expect_ok(tcmd(c, "SET {a}:%d v", i));
    for (int i = 0; i < 1000; i++) {
        struct rval *v = tcmd(c, "SET other:%d v", i);
        if (v->type == R_ERROR)
            fail_msg("SET other:%d: %s", i, v->str);
        rval_free(v);
    }
    expect_int(tcmd(c, "CLUSTER COUNTKEYSINSLOT %lld", slot), 300);
    struct rval *v = tcmd(c, "CLUSTER GETKEYSINSLOT %lld 1000", slot);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 300);
    for (size_t i = 0; i < v->n; i++)
        assert_int_equal(strncmp(v->elem[i]->str, "{a}:", 4), 0);
    rval_free(v);
    v = tcmd(c, "CLUSTER GETKEYSINSLOT %lld 7", slot);
    assert_int_equal(v->n, 7);
    rval_free(v);
    v = tcmd(c, "CLUSTER GETKEYSINSLOT %lld 0", slot);
    assert_int_equal(v->n, 0);
    rval_free(v);
    /* a slot of exactly one of the other keys */
    long long one = get_int(tcmd(c, "CLUSTER KEYSLOT other:17"));
    long long n = get_int(tcmd(c, "CLUSTER COUNTKEYSINSLOT %lld", one));
    assert_true(n >= 1);
    v = tcmd(c, "CLUSTER GETKEYSINSLOT %lld 100", one);
    assert_int_equal((long long)v->n, n);
    rval_free(v);
    /* deletes, a rename within the slot, an overwrite */
    expect_int(tcmd(c, "DEL {a}:0 {a}:1 {a}:2"), 3);
    expect_ok(tcmd(c, "RENAME {a}:3 {a}:renamed"));
    expect_ok(tcmd(c, "SET {a}:4 again"));
    expect_int(tcmd(c, "CLUSTER COUNTKEYSINSLOT %lld", slot), 297);
    /* keys past their time: gone once they are removed */
    for (int i = 10; i < 20; i++)
        expect_int(tcmd(c, "PEXPIRE {a}:%d 1", i), 1);
    usleep(50 * 1000);
    for (int i = 10; i < 20; i++)
        expect_nil(tcmd(c, "GET {a}:%d", i));
    expect_int(tcmd(c, "CLUSTER COUNTKEYSINSLOT %lld", slot), 287);
    v = tcmd(c, "CLUSTER GETKEYSINSLOT %lld 1000", slot);
    assert_int_equal(v->n, 287);
    rval_free(v);
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_int(tcmd(c, "CLUSTER COUNTKEYSINSLOT %lld", slot), 0);
    expect_ok(tcmd(c, "SET {a}:x 1"));
    expect_int(tcmd(c, "CLUSTER COUNTKEYSINSLOT %lld", slot), 1);
    tclose(c);
    server_stop(&s);
}

/* SORT in a cluster, as Redis Cluster: BY with a pattern and any GET
 * refused with Redis's texts, STORE to another slot -CROSSSLOT, STORE to
 * a key of the same slot (a hash tag) done. */
static void test_sort_in_cluster(void **state)
{
    (void)state;
    struct server s;
    start_one_owner(&s);
    tconn *c = tconnect(s.port);
    expect_int(tcmd(c, "RPUSH {l}:a 3 1 2"), 3);
    expect_error(tcmd(c, "SORT {l}:a BY w_*"), "ERR BY option of SORT denied in Cluster mode.");
    expect_error(tcmd(c, "SORT {l}:a GET #"), "ERR GET option of SORT denied in Cluster mode.");
    expect_error(tcmd(c, "SORT {l}:a STORE other"), "CROSSSLOT Keys in request don't hash to the same slot");
    expect_int(tcmd(c, "SORT {l}:a BY nosort DESC STORE {l}:b"), 3);
    struct rval *v = tcmd(c, "LRANGE {l}:b 0 -1");
    char *text = rval_text(v);
    if (strcmp(text, "[\"2\", \"1\", \"3\"]") != 0)
        fail_msg("LRANGE {l}:b: %s", text);
    free(text);
    rval_free(v);
    tclose(c);
    server_stop(&s);
}

/* Cluster mode has database 0 only: SELECT, MOVE, SWAPDB and COPY ... DB
 * of another database are refused with Redis's texts (MOVE and SWAPDB
 * before their arguments are read); database 0 itself is fine. */
static void test_databases_in_cluster(void **state)
{
    (void)state;
    struct server s;
    start_one_owner(&s);
    tconn *c = tconnect(s.port);
    expect_ok(tcmd(c, "SET {d}a 1"));
    expect_error(tcmd(c, "SELECT 1"), "ERR SELECT is not allowed in cluster mode");
    expect_ok(tcmd(c, "SELECT 0"));
    expect_error(tcmd(c, "MOVE {d}a 1"), "ERR MOVE is not allowed in cluster mode");
    expect_error(tcmd(c, "MOVE {d}a x"), "ERR MOVE is not allowed in cluster mode");
    expect_error(tcmd(c, "SWAPDB 0 1"), "ERR SWAPDB is not allowed in cluster mode");
    expect_error(tcmd(c, "SWAPDB x 1"), "ERR SWAPDB is not allowed in cluster mode");
    expect_error(tcmd(c, "COPY {d}a {d}b DB 1"), "ERR Copying to another database is not allowed in cluster mode");
    expect_error(tcmd(c, "COPY {d}a {d}b DB x"), "ERR value is not an integer or out of range");
    expect_int(tcmd(c, "COPY {d}a {d}b DB 0"), 1);
    const char *sel[] = { "EVAL", "return redis.pcall('SELECT','1')", "0" };
    tsendv(c, 3, sel);
    expect_error(tread(c, 5000), "ERR SELECT is not allowed in cluster mode");
    expect_bulk(tcmd(c, "GET {d}b"), "1");
    tclose(c);
    server_stop(&s);
}

/* Commands whose keys a count names (ZUNION, ZUNIONSTORE's sources,
 * SINTERCARD, ZMPOP, EVAL) are checked on those keys only: the count and
 * the options after the keys (WEIGHTS, AGGREGATE, LIMIT, MIN) are no keys,
 * so keys of one slot pass and keys of two are -CROSSSLOT; COMMAND shows
 * them as Redis does (movablekeys, 0 0 0 or the destination's 1 1 1), so
 * that cluster clients find the keys with COMMAND GETKEYS. */
static void test_counted_keys_in_cluster(void **state)
{
    (void)state;
    struct server s;
    start_one_owner(&s);
    tconn *c = tconnect(s.port);
    expect_int(tcmd(c, "ZADD {z}a 1 x 2 y"), 2);
    expect_int(tcmd(c, "ZADD {z}b 3 x"), 1);
    expect_int(tcmd(c, "ZUNIONSTORE {z}d 2 {z}a {z}b WEIGHTS 1 2 AGGREGATE MAX"), 2);
    expect_bulk(tcmd(c, "ZSCORE {z}d x"), "6");
    expect_int(tcmd(c, "ZINTERSTORE {z}d 2 {z}a {z}b"), 1);
    expect_int(tcmd(c, "ZDIFFSTORE {z}d 2 {z}a {z}b"), 1);
    struct rval *v = tcmd(c, "ZUNION 2 {z}a {z}b WITHSCORES");
    assert_int_equal(v->type, R_ARRAY);
    rval_free(v);
    expect_int(tcmd(c, "ZINTERCARD 2 {z}a {z}b LIMIT 5"), 1);
    expect_int(tcmd(c, "SADD {s}a m n"), 2);
    expect_int(tcmd(c, "SINTERCARD 1 {s}a LIMIT 1"), 1);
    v = tcmd(c, "ZMPOP 2 {z}a {z}b MIN");
    assert_int_equal(v->type, R_ARRAY);
    rval_free(v);
    const char *eval[] = { "EVAL", "return redis.call('zcard', KEYS[1])", "2", "{z}a", "{z}b", "arg" };
    tsendv(c, 6, eval);
    expect_int(tread(c, 5000), 1);
    expect_error(tcmd(c, "ZUNIONSTORE {z}d 2 {z}a other"), "CROSSSLOT Keys in request don't hash to the same slot");
    expect_error(tcmd(c, "ZUNION 2 {z}a other"), "CROSSSLOT Keys in request don't hash to the same slot");
    v = tcmd(c, "COMMAND GETKEYS ZUNIONSTORE d 2 a b WEIGHTS 1 2");
    char *text = rval_text(v);
    if (strcmp(text, "[\"d\", \"a\", \"b\"]") != 0)
        fail_msg("COMMAND GETKEYS ZUNIONSTORE: %s", text);
    free(text);
    rval_free(v);
    v = tcmd(c, "COMMAND INFO zunion zunionstore");
    for (int i = 0; i < 2; i++) {
        struct rval *row = v->elem[i];
        bool movable = false;
        for (size_t f = 0; f < row->elem[2]->n; f++)
            movable |= strcmp(row->elem[2]->elem[f]->str, "movablekeys") == 0;
        assert_true(movable);
        assert_int_equal(row->elem[3]->integer, i); /* zunion 0 0 0, zunionstore 1 1 1 */
        assert_int_equal(row->elem[4]->integer, i);
        assert_int_equal(row->elem[5]->integer, i);
    }
    rval_free(v);
    tclose(c);
    server_stop(&s);
}

/* A replica's keys by slot are its master's, also after a full sync
 * replaced its store (the index is made again). */
static void test_replica_keys_in_slot(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(true, "15000");
    tconn *m = tconnect(node[0].port), *r = tconnect(node[2].port);
    long long slot = get_int(tcmd(m, "CLUSTER KEYSLOT {b}"));
    assert_true(slot < 8192);
    for (int i = 0; i < 200; i++)
        expect_ok(tcmd(m, "SET {b}:%d v", i));
    long long until = now_ms() + 5000;
    while (get_int(tcmd(m, "WAIT 1 200")) != 1)
        if (now_ms() > until)
            fail_msg("the replica did not come up");
    expect_int(tcmd(m, "CLUSTER COUNTKEYSINSLOT %lld", slot), 200);
    expect_int(tcmd(r, "CLUSTER COUNTKEYSINSLOT %lld", slot), 200);
    struct rval *v = tcmd(r, "CLUSTER GETKEYSINSLOT %lld 500", slot);
    assert_int_equal(v->n, 200);
    rval_free(v);
    expect_int(tcmd(m, "DEL {b}:0 {b}:1"), 2);
    expect_int(tcmd(m, "WAIT 1 2000"), 1);
    expect_int(tcmd(r, "CLUSTER COUNTKEYSINSLOT %lld", slot), 198);
    tclose(m);
    tclose(r);
    stop_three();
}

/* ------------------------------------------- RINGKV-MIGRATESLOTS */

/* A slot of group 0 and a tag whose keys are in it, the k-th such. */
static long long tag_of_group0(tconn *c, int k, char *tag, size_t cap)
{
    for (int i = 0, seen = 0;; i++) {
        snprintf(tag, cap, "push:%d", i);
        long long slot = get_int(tcmd(c, "CLUSTER KEYSLOT %s", tag));
        if (slot < bounds[1] && seen++ == k)
            return slot;
    }
}

/* Marks the slots as moving from node 0 to node 1, as the tool does. */
static void mark_moving(tconn *src, tconn *dst, const long long *slots, int n)
{
    for (int i = 0; i < n; i++) {
        expect_ok(tcmd(dst, "CLUSTER SETSLOT %lld IMPORTING %s", slots[i], ids[0]));
        expect_ok(tcmd(src, "CLUSTER SETSLOT %lld MIGRATING %s", slots[i], ids[1]));
    }
}

/* RINGKV-MIGRATESLOTS host port timeout [BATCH n] [PIPELINE n] SLOTS ...:
 * the source pushes every key of the slots (README "Growing and
 * shrinking"): afterwards the source has none, the target has them all
 * with their TTLs, a 100k-member set whole; the answer counts them. A
 * writer INCRs a key of a moving slot throughout (following -ASK, as a
 * cluster client does): none of its writes is lost. */
static void test_migrateslots_moves_slots(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(false, "15000");
    tconn *src = tconnect(node[0].port), *dst = tconnect(node[1].port);
    char tag[3][32];
    long long slots[3];
    for (int t = 0; t < 3; t++)
        slots[t] = tag_of_group0(src, t, tag[t], sizeof tag[t]);
    /* 3 x 400 strings (a third with a TTL), a counter, a 100k-member set */
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < 400; i++) {
            if (i % 3 == 0)
                expect_ok(tcmd(src, "SET {%s}:%d v%d PX 600000", tag[t], i, i));
            else
                expect_ok(tcmd(src, "SET {%s}:%d v%d", tag[t], i, i));
        }
    expect_ok(tcmd(src, "SET {%s}:counter 1000", tag[0]));
    for (int i = 0; i < 100000; i += 1000) {
        char *argv[1002];
        char bufs[1000][24];
        argv[0] = "SADD";
        char key[64];
        snprintf(key, sizeof key, "{%s}:set", tag[1]);
        argv[1] = key;
        for (int j = 0; j < 1000; j++) {
            snprintf(bufs[j], sizeof bufs[j], "m%d", i + j);
            argv[2 + j] = bufs[j];
        }
        tsendv(src, 1002, (const char *const *)argv);
        expect_int(tread(src, 5000), 1000);
    }
    mark_moving(src, dst, slots, 3);
    tconn *push = tconnect(node[0].port);
    char port[16], s0[16], s1[16], s2[16];
    snprintf(port, sizeof port, "%d", node[1].port);
    snprintf(s0, sizeof s0, "%lld", slots[0]);
    snprintf(s1, sizeof s1, "%lld", slots[1]);
    snprintf(s2, sizeof s2, "%lld", slots[2]);
    const char *argv[] = { "RINGKV-MIGRATESLOTS", "127.0.0.1", port, "10000", "BATCH", "50", "PIPELINE", "4",
                           "SLOTS", s0, s1, s2 };
    tsendv(push, 12, argv);
    /* the writer, while the push runs (it may be done before the last) */
    char counter[64], ask[100];
    snprintf(counter, sizeof counter, "{%s}:counter", tag[0]);
    snprintf(ask, sizeof ask, "ASK %lld 127.0.0.1:%d", slots[0], node[1].port);
    long long want = 1000;
    for (int i = 0; i < 300; i++) {
        struct rval *v = tcmd(src, "INCR %s", counter);
        if (v->type == R_ERROR) {
            if (strcmp(v->str, ask) != 0)
                fail_msg("INCR on the source: %s", rval_text(v));
            rval_free(v);
            expect_ok(tcmd(dst, "ASKING"));
            v = tcmd(dst, "INCR %s", counter);
        }
        assert_int_equal(v->type, R_INT);
        assert_int_equal(v->integer, ++want);
        rval_free(v);
    }
    struct rval *r = tread(push, 30000);
    if (!r || r->type != R_ARRAY || r->n != 2 || r->elem[0]->type != R_INT)
        fail_msg("RINGKV-MIGRATESLOTS answered %s", r ? rval_text(r) : "nothing");
    /* every key went once at least (the counter may have gone before the
     * writer's first INCR on the source, or after some) */
    assert_true(r->elem[0]->integer >= 3 * 400 + 2);
    assert_true(r->elem[1]->integer >= 0);
    rval_free(r);
    for (int t = 0; t < 3; t++) {
        expect_int(tcmd(src, "CLUSTER COUNTKEYSINSLOT %lld", slots[t]), 0);
        expect_int(tcmd(dst, "CLUSTER COUNTKEYSINSLOT %lld", slots[t]), 400 + (t < 2 ? 1 : 0));
    }
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < 400; i++) {
            expect_ok(tcmd(dst, "ASKING"));
            char val[16];
            snprintf(val, sizeof val, "v%d", i);
            expect_bulk(tcmd(dst, "GET {%s}:%d", tag[t], i), val);
            expect_ok(tcmd(dst, "ASKING"));
            long long ttl = get_int(tcmd(dst, "PTTL {%s}:%d", tag[t], i));
            if (i % 3 == 0)
                assert_true(ttl > 500000 && ttl <= 600000);
            else
                assert_int_equal(ttl, -1);
        }
    /* to a ringkv target the batches went as RINGKV-RESTOREMANY, one a
     * slot's keys of a batch, no RESTORE-ASKING a key */
    long long many = command_calls(dst, "ringkv-restoremany");
    assert_true(many >= 3 * 400 / 50 && many < 3 * 400);
    assert_int_equal(command_calls(dst, "restore-asking"), 0);
    /* and the keys coming were announced once, before them (run on each
     * of the node's two shards, counted once as the one command it is) */
    assert_int_equal(command_calls(dst, "ringkv-reservekeys"), 1);
    expect_ok(tcmd(dst, "ASKING"));
    expect_int(tcmd(dst, "SCARD {%s}:set", tag[1]), 100000);
    expect_ok(tcmd(dst, "ASKING"));
    expect_int(tcmd(dst, "SISMEMBER {%s}:set m99999", tag[1]), 1);
    expect_ok(tcmd(dst, "ASKING"));
    char wantv[24];
    snprintf(wantv, sizeof wantv, "%lld", want);
    expect_bulk(tcmd(dst, "GET %s", counter), wantv);
    expect_error(tcmd(src, "GET %s", counter), ask);
    /* nothing left: at once, none moved */
    tsendv(push, 12, argv);
    r = tread(push, 10000);
    assert_int_equal(r->type, R_ARRAY);
    assert_int_equal(r->elem[0]->integer, 0);
    rval_free(r);
    tclose(push);
    tclose(src);
    tclose(dst);
    stop_three();
}

/* Its errors: Redis-style for bad arguments; a target that cannot be
 * reached or refuses the keys leaves every key at the source and says
 * why. */
static void test_migrateslots_errors(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(false, "15000");
    tconn *src = tconnect(node[0].port), *dst = tconnect(node[1].port);
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 1 1000 SLOTS"),
                 "ERR wrong number of arguments for 'ringkv-migrateslots' command");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 1000 SLOTS 16384", node[1].port),
                 "ERR Invalid or out of range slot");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 1000 SLOTS -1", node[1].port),
                 "ERR Invalid or out of range slot");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 1000 SLOTS 1 x", node[1].port),
                 "ERR Invalid or out of range slot");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d soon SLOTS 1", node[1].port),
                 "ERR value is not an integer or out of range");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 1000 BATCH x SLOTS 1", node[1].port),
                 "ERR value is not an integer or out of range");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 1000 BATCH 0 SLOTS 1", node[1].port),
                 "ERR value is out of range, must be positive");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 1000 NOW SLOTS 1", node[1].port), "ERR syntax error");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 1000 BATCH 10 PIPELINE 2", node[1].port),
                 "ERR syntax error");
    char tag[32];
    long long slot = tag_of_group0(src, 0, tag, sizeof tag);
    for (int i = 0; i < 300; i++)
        expect_ok(tcmd(src, "SET {%s}:%d v", tag, i));
    /* not importing there: the target answers -MOVED to RESTORE-ASKING */
    struct rval *v = tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 5000 BATCH 40 SLOTS %lld", node[1].port, slot);
    expect_error_prefix(v, "ERR Target instance replied with error: MOVED ");
    expect_int(tcmd(src, "CLUSTER COUNTKEYSINSLOT %lld", slot), 300);
    expect_int(tcmd(dst, "DBSIZE"), 0);
    /* nobody listening there */
    int gone = free_port();
    mark_moving(src, dst, &slot, 1);
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 5000 SLOTS %lld", gone, slot),
                 "IOERR error or timeout writing to target instance");
    expect_int(tcmd(src, "CLUSTER COUNTKEYSINSLOT %lld", slot), 300);
    for (int i = 0; i < 300; i++)
        expect_bulk(tcmd(src, "GET {%s}:%d", tag, i), "v");
    expect_error(tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 5000 RESTORES SOME SLOTS %lld", node[1].port, slot),
                 "ERR syntax error");
    /* and then it goes, a RESTORE-ASKING a key when asked so (RESTORES
     * ONE: what MIGRATE sends) */
    v = tcmd(src, "RINGKV-MIGRATESLOTS 127.0.0.1 %d 5000 RESTORES ONE SLOTS %lld", node[1].port, slot);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->elem[0]->integer, 300);
    rval_free(v);
    expect_int(tcmd(dst, "CLUSTER COUNTKEYSINSLOT %lld", slot), 300);
    assert_int_equal(command_calls(dst, "restore-asking"), 300);
    assert_int_equal(command_calls(dst, "ringkv-restoremany"), 0);
    tclose(src);
    tclose(dst);
    stop_three();
}

/* RINGKV-RESTOREMANY at the key gate (a slot push's batches): on a node
 * importing the slot it creates several keys none of which is there (a
 * multi-key command of an importing slot gets -TRYAGAIN otherwise), as
 * RESTORE-ASKING without ASKING; keys of two slots: -CROSSSLOT; a slot
 * not imported: -MOVED. */
static void test_restoremany_gate(void **state)
{
    (void)state;
    SKIP_ON_REDIS();
    start_three(false, "15000");
    tconn *src = tconnect(node[0].port), *dst = tconnect(node[1].port);
    char tag[2][32];
    long long slot[2];
    for (int t = 0; t < 2; t++)
        slot[t] = tag_of_group0(src, t, tag[t], sizeof tag[t]);
    expect_ok(tcmd(src, "SET payload:{%s} v", tag[0]));
    const char *dargv[2] = { "DUMP", NULL };
    char pk[64];
    snprintf(pk, sizeof pk, "payload:{%s}", tag[0]);
    dargv[1] = pk;
    tsendv(src, 2, dargv);
    struct rval *p = tread(src, 5000);
    assert_int_equal(p->type, R_BULK);
    char k[4][64];
    snprintf(k[0], sizeof k[0], "{%s}:a", tag[0]);
    snprintf(k[1], sizeof k[1], "{%s}:b", tag[0]);
    snprintf(k[2], sizeof k[2], "{%s}:c", tag[0]);
    snprintf(k[3], sizeof k[3], "{%s}:d", tag[1]);
    const char *argv[10] = { "RINGKV-RESTOREMANY", k[0], "0", p->str, k[1], "5000", p->str, k[2], "0", p->str };
    size_t lens[10] = { 18, strlen(k[0]), 1, p->len, strlen(k[1]), 4, p->len, strlen(k[2]), 1, p->len };
    char moved[100];
    snprintf(moved, sizeof moved, "MOVED %lld 127.0.0.1:%d", slot[0], node[0].port);
    tsendb(dst, 10, argv, lens);
    expect_error(tread(dst, 5000), moved);
    mark_moving(src, dst, slot, 2);
    tsendb(dst, 10, argv, lens);
    expect_ok(tread(dst, 5000));
    expect_ok(tcmd(dst, "ASKING"));
    expect_int(tcmd(dst, "EXISTS %s %s %s", k[0], k[1], k[2]), 3);
    expect_ok(tcmd(dst, "ASKING"));
    long long pttl = get_int(tcmd(dst, "PTTL %s", k[1]));
    assert_true(pttl > 0 && pttl <= 5000);
    /* again over them (REPLACE), one of them there: still +OK */
    tsendb(dst, 10, argv, lens);
    expect_ok(tread(dst, 5000));
    argv[7] = k[3];
    lens[7] = strlen(k[3]);
    tsendb(dst, 10, argv, lens);
    expect_error(tread(dst, 5000), "CROSSSLOT Keys in request don't hash to the same slot");
    /* the announcement of keys coming: a count within bounds */
    expect_ok(tcmd(dst, "RINGKV-RESERVEKEYS 100000"));
    expect_ok(tcmd(dst, "RINGKV-RESERVEKEYS 0"));
    expect_error(tcmd(dst, "RINGKV-RESERVEKEYS many"), "ERR value is not an integer or out of range");
    expect_error(tcmd(dst, "RINGKV-RESERVEKEYS -1"), "ERR value is out of range");
    expect_error(tcmd(dst, "RINGKV-RESERVEKEYS 16777217"), "ERR value is out of range");
    expect_error(tcmd(dst, "RINGKV-RESERVEKEYS"), "ERR wrong number of arguments for 'ringkv-reservekeys' command");
    rval_free(p);
    tclose(src);
    tclose(dst);
    stop_three();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled_in_standalone),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_slots_by_hand),
        cmocka_unit_test(test_sharded_pubsub_slots),
        cmocka_unit_test(test_asking),
        cmocka_unit_test(test_migrating_slot),
        cmocka_unit_test(test_write_during_migrate_in_flight),
        cmocka_unit_test(test_write_waits_for_real_migrate),
        cmocka_unit_test(test_readonly_replica),
        cmocka_unit_test(test_nodes_link_state),
        cmocka_unit_test(test_keys_in_slot),
        cmocka_unit_test(test_sort_in_cluster),
        cmocka_unit_test(test_databases_in_cluster),
        cmocka_unit_test(test_counted_keys_in_cluster),
        cmocka_unit_test(test_replica_keys_in_slot),
        cmocka_unit_test(test_migrateslots_moves_slots),
        cmocka_unit_test(test_migrateslots_errors),
        cmocka_unit_test(test_restoremany_gate),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
