/* ringkv-cluster, the admin tool, against real ringkv nodes: `create` on
 * six nodes with --replicas 1 (stdin not a terminal) gives a cluster that
 * redis-cli -c, redis-cli --cluster check, redis-benchmark --cluster and
 * redis-py's RedisCluster (Debian's python3-redis; that part is skipped when
 * it is missing) use unchanged; replicas hold their masters' keys; `status`
 * lists every node. And the refusals, each changing nothing: a node
 * unreachable, a node not in cluster mode, a node already in a cluster
 * (create run twice), bad arguments (exit 2); on a terminal it asks once
 * and "no" changes nothing; nodes on two loopback "hosts" get each replica
 * on the other host than its master. With three real
 * redis-sentinel processes, `create --sentinels` registers each group as
 * ringkv-<group> (its master's address, quorum 2, down-after = the nodes'
 * cluster-node-timeout of 2000) once the replicas are attached, and returns
 * only when each Sentinel knows every group's replica and the other
 * Sentinels (ready to fail over); a second create whose names those Sentinels
 * already monitor is refused before anything changes. And `remove` (once
 * killed in the middle of a step and run again) leaves the removed group's
 * master and replica empty masters in no cluster. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define NODES 6

static struct server node[NODES];
static char conf_path[NODES][300];

static const char *tool_bin(void)
{
    const char *t = getenv("RINGKV_CLUSTER");
    return t ? t : "build/ringkv-cluster";
}

/* A node, in cluster mode or not; cluster-node-timeout 2000 ms as the
 * issue's tests set it (the Sentinels' down-after-milliseconds). */
static void start_node(int i, bool cluster)
{
    snprintf(conf_path[i], sizeof conf_path[i], "/tmp/ringkv-test-tool-%d-%d.conf", (int)getpid(), i);
    unlink(conf_path[i]);
    const char *cargs[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[i],
                            "--cluster-node-timeout", "2000", NULL };
    assert_int_equal(server_start(&node[i], cluster ? cargs : NULL), 0);
}

static void stop_nodes(int n)
{
    for (int i = 0; i < n; i++) {
        server_stop(&node[i]);
        unlink(conf_path[i]);
    }
}

/* Run the tool with these arguments (stdin not a terminal); its exit
 * status, its output in *out (malloc'd) when out is given. */
static int tool(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tool(char **out, const char *fmt, ...)
{
    char args[4096], cmd[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "timeout 60 %s %s 2>&1 </dev/null", tool_bin(), args);
    char *o = NULL;
    int st = run_cmd(cmd, &o);
    if (out)
        *out = o;
    else
        free(o);
    return st;
}

/* "127.0.0.1:p1 127.0.0.1:p2 ..." of nodes [0, n). */
static const char *addrs(int n)
{
    static char s[1024];
    int len = 0;
    s[0] = 0;
    for (int i = 0; i < n; i++)
        len += snprintf(s + len, sizeof s - (size_t)len, "%s127.0.0.1:%d", i ? " " : "", node[i].port);
    return s;
}

static char *cluster_info(int i)
{
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "CLUSTER INFO");
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    char *s = strdup(v->str);
    rval_free(v);
    tclose(c);
    return s;
}

static long long table_version(int i)
{
    char *info = cluster_info(i);
    const char *p = strstr(info, "cluster_table_version:");
    assert_non_null(p);
    long long v = atoll(p + strlen("cluster_table_version:"));
    free(info);
    return v;
}

/* ------------------------------------------------ the cluster it makes */

static int cluster_setup(void **state)
{
    for (int i = 0; i < NODES; i++)
        start_node(i, true);
    char *out = NULL;
    int st = tool(&out, "create %s --replicas 1", addrs(NODES));
    if (st != 0) {
        print_error("create exited %d:\n%s\n", st, out);
        free(out);
        return -1;
    }
    free(out);
    return 0;
}

static int cluster_teardown(void **state)
{
    stop_nodes(NODES);
    return 0;
}

static void test_every_node_ok(void **state)
{
    for (int i = 0; i < NODES; i++) {
        char *info = cluster_info(i);
        assert_non_null(strstr(info, "cluster_state:ok"));
        assert_non_null(strstr(info, "cluster_table_version:1\r\n"));
        assert_non_null(strstr(info, "cluster_slots_assigned:16384"));
        free(info);
    }
}

/* CLUSTER SLOTS from any node: 16384 slots, 3 groups (masters), each range
 * with its master and one replica, all six nodes named. */
static void test_slots_three_groups(void **state)
{
    for (int i = 0; i < NODES; i++) {
        tconn *c = tconnect(node[i].port);
        struct rval *v = tcmd(c, "CLUSTER SLOTS");
        assert_int_equal(v->type, R_ARRAY);
        long long covered = 0;
        int masters[NODES], nmasters = 0;
        bool seen[NODES] = { false };
        for (size_t r = 0; r < v->n; r++) {
            struct rval *range = v->elem[r];
            assert_int_equal(range->n, 4); /* start, end, master, one replica */
            covered += range->elem[1]->integer - range->elem[0]->integer + 1;
            int mport = (int)range->elem[2]->elem[1]->integer;
            int rport = (int)range->elem[3]->elem[1]->integer;
            assert_int_not_equal(mport, rport);
            bool known = false;
            for (int m = 0; m < nmasters; m++)
                known |= masters[m] == mport;
            if (!known) {
                assert_true(nmasters < NODES);
                masters[nmasters++] = mport;
            }
            for (int k = 0; k < NODES; k++)
                if (node[k].port == mport || node[k].port == rport)
                    seen[k] = true;
        }
        assert_int_equal(covered, 16384);
        assert_int_equal(nmasters, 3);
        for (int k = 0; k < NODES; k++)
            assert_true(seen[k]);
        rval_free(v);
        tclose(c);
    }
}

static void test_redis_cli_cluster(void **state)
{
    char path[256], cmd[600];
    snprintf(path, sizeof path, "/tmp/ringkv-test-tool-cmds-%d.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 300; i++)
        fprintf(f, "SET tool:%d v%d\n", i, i);
    fclose(f);
    /* -c follows MOVED from one port for every key */
    snprintf(cmd, sizeof cmd, "timeout 60 redis-cli -c -p %d < %s", node[0].port, path);
    char *out = NULL;
    assert_int_equal(run_cmd(cmd, &out), 0);
    free(out);
    unlink(path);
    for (int i = 0; i < 300; i += 7) {
        snprintf(cmd, sizeof cmd, "timeout 10 redis-cli -c -p %d get tool:%d </dev/null", node[1].port, i);
        assert_int_equal(run_cmd(cmd, &out), 0);
        char want[32];
        snprintf(want, sizeof want, "v%d\n", i);
        assert_string_equal(out, want);
        free(out);
    }
    snprintf(cmd, sizeof cmd, "timeout 30 redis-cli --cluster check 127.0.0.1:%d </dev/null", node[2].port);
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("redis-cli --cluster check exited %d:\n%s", st, out);
    assert_non_null(strstr(out, "[OK] All 16384 slots covered."));
    assert_null(strstr(out, "[ERR]"));
    assert_null(strstr(out, "[WARNING]"));
    free(out);
    /* --cluster info: three masters, one replica each, the keys counted */
    snprintf(cmd, sizeof cmd, "timeout 30 redis-cli --cluster info 127.0.0.1:%d </dev/null", node[1].port);
    st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("redis-cli --cluster info exited %d:\n%s", st, out);
    int masters = 0;
    for (const char *p = strstr(out, "| 1 slaves."); p; p = strstr(p + 1, "| 1 slaves."))
        masters++;
    if (masters != 3 || !strstr(out, "keys in 3 masters."))
        fail_msg("redis-cli --cluster info:\n%s", out);
    free(out);
}

static void test_redis_benchmark_cluster(void **state)
{
    char cmd[300], *out = NULL;
    snprintf(cmd, sizeof cmd, "timeout 120 redis-benchmark --cluster -p %d -t set,get -n 20000 -q </dev/null 2>&1",
             node[0].port);
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("redis-benchmark --cluster exited %d:\n%s", st, out);
    assert_non_null(strstr(out, "SET: "));
    assert_non_null(strstr(out, "GET: "));
    free(out);
}

/* redis-py's RedisCluster, from Debian's python3-redis: 10k keys written
 * and read back. */
static void test_redis_py_cluster(void **state)
{
    if (run_cmd("/usr/bin/python3 -c 'import redis.cluster' >/dev/null 2>&1", NULL) != 0)
        skip();
    char cmd[1200], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "timeout 120 /usr/bin/python3 -c '\n"
             "import redis.cluster\n"
             "rc = redis.cluster.RedisCluster(host=\"127.0.0.1\", port=%d)\n"
             "p = rc.pipeline()\n"
             "for i in range(10000): p.set(\"py:%%d\" %% i, str(i))\n"
             "p.execute()\n"
             "p = rc.pipeline()\n"
             "for i in range(10000): p.get(\"py:%%d\" %% i)\n"
             "got = p.execute()\n"
             "bad = [i for i in range(10000) if got[i] != str(i).encode()]\n"
             "print(\"bad\", len(bad))\n"
             "' 2>&1 </dev/null",
             node[3].port);
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("redis-py exited %d:\n%s", st, out);
    assert_string_equal(out, "bad 0\n");
    free(out);
}

/* The 100k keys through redis-py's RedisCluster: all read back,
 * each from the master of the group the table says (a plain connection,
 * not redirected) and from its replica (READONLY): tests/interop/
 * cluster_keys.py. */
static void test_redis_py_100k(void **state)
{
    const char *script = getenv("RINGKV_CLUSTER_KEYS_PY");
    if (!script || run_cmd("/usr/bin/python3 -c 'import redis.cluster' >/dev/null 2>&1", NULL) != 0)
        skip();
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof cmd, "timeout 240 /usr/bin/python3 %s %d 100000 2>&1 </dev/null", script, node[4].port);
    long long start = now_ms();
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("cluster_keys.py exited %d:\n%s", st, out);
    assert_int_equal(strncmp(out, "ok 100000 keys, 3 groups", 24), 0);
    print_message("%s(%lld ms in all)\n", out, now_ms() - start);
    free(out);
}

/* Every replica ends with as many keys as its master (the master's
 * writes reach it), checked through CLUSTER SLOTS's pairs. */
static void test_replicas_hold_keys(void **state)
{
    tconn *c = tconnect(node[0].port);
    struct rval *v = tcmd(c, "CLUSTER SLOTS");
    tclose(c);
    for (size_t r = 0; r < v->n; r++) {
        int mport = (int)v->elem[r]->elem[2]->elem[1]->integer;
        int rport = (int)v->elem[r]->elem[3]->elem[1]->integer;
        tconn *m = tconnect(mport), *rep = tconnect(rport);
        long long want = get_int(tcmd(m, "DBSIZE")), got = -1;
        assert_true(want > 0);
        for (long long until = now_ms() + 10000; now_ms() < until; usleep(50000)) {
            got = get_int(tcmd(rep, "DBSIZE"));
            if (got == want)
                break;
        }
        assert_int_equal(got, want);
        tclose(m);
        tclose(rep);
    }
    rval_free(v);
}

static void test_status(void **state)
{
    char *out = NULL;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", node[5].port);
    int st = tool(&out, "status %s", addr);
    if (st != 0)
        fail_msg("status exited %d:\n%s", st, out);
    for (int i = 0; i < NODES; i++) {
        char a[32];
        snprintf(a, sizeof a, "127.0.0.1:%d ", node[i].port);
        if (!strstr(out, a))
            fail_msg("status does not list %s:\n%s", a, out);
    }
    assert_non_null(strstr(out, "3 groups, 6 nodes, table version 1"));
    assert_null(strstr(out, "BEHIND"));
    free(out);
}

/* status while writes go on: a replica's lag is never below 0 (a replica
 * asked after its master can be past the offset the master had). */
static void test_status_lag_under_writes(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd,
             "timeout 60 redis-benchmark --cluster -p %d -t set -n 2000000 -c 4 -q >/dev/null 2>&1 </dev/null & echo $!",
             node[0].port);
    char *pid = NULL;
    assert_int_equal(run_cmd(cmd, &pid), 0);
    int replicas = 0;
    for (int round = 0; round < 10; round++) {
        char *out = NULL;
        int st = tool(&out, "status 127.0.0.1:%d", node[0].port);
        if (st != 0)
            fail_msg("status exited %d:\n%s", st, out);
        for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            char id[32], addr[64], role[16], slots[32], mem[32];
            long long keys, lag;
            if (sscanf(l, "%31s %63s %15s %31s %lld %31s %lld", id, addr, role, slots, &keys, mem, &lag) == 7 &&
                strcmp(role, "replica") == 0) {
                replicas++;
                if (lag < 0)
                    fail_msg("a negative lag under writes:\n%s", out);
            }
        }
        free(out);
    }
    char kill[64];
    snprintf(kill, sizeof kill, "kill %d 2>/dev/null", atoi(pid));
    (void)!system(kill);
    free(pid);
    assert_int_equal(replicas, 10 * 3);
}

/* A node slow to answer (stopped 6 s: a command that waits for an fsync
 * of its cluster file on a busy disk looks the same to the tool) is
 * waited for, not reported unreachable: the tool gives a node 30 s a
 * command (it gave 5, and `remove` failed with "no reply from ..." in
 * loaded test runs). */
static void test_status_waits_for_slow_node(void **state)
{
    pid_t waker = fork();
    assert_true(waker >= 0);
    if (waker == 0) {
        usleep(6000 * 1000);
        kill(node[5].pid, SIGCONT);
        _exit(0);
    }
    process_stop(node[5].pid);
    long long t0 = now_ms();
    char *out = NULL;
    int st = tool(&out, "status 127.0.0.1:%d", node[0].port);
    long long took = now_ms() - t0;
    kill(node[5].pid, SIGCONT);
    waitpid(waker, NULL, 0);
    char line[64];
    snprintf(line, sizeof line, "127.0.0.1:%d ", node[5].port);
    const char *p = strstr(out, line);
    if (st != 0 || !p || strstr(out, "UNREACHABLE"))
        fail_msg("status with a node answering after 6 s exited %d after %lld ms:\n%s", st, took, out);
    assert_true(took >= 5500);
    free(out);
}

/* PUBLISH on node `from`, every node subscribed: each gets it once. */
static void publish_everywhere(tconn *const *sub, int from, const char *text)
{
    tconn *c = tconnect(node[from].port);
    /* its peer links up (a loaded run may have had one drop and come
     * back: a message on a link down is missed, as pub/sub allows) */
    for (long long until = now_ms() + 10000;; usleep(50 * 1000)) {
        struct rval *nodes = tcmd(c, "CLUSTER NODES");
        bool all_up = nodes->type == R_BULK && !strstr(nodes->str, "disconnected");
        rval_free(nodes);
        if (all_up)
            break;
        assert_true(now_ms() < until);
    }
    expect_int(tcmd(c, "PUBLISH cluster-news %s", text), 1);
    tclose(c);
    for (int i = 0; i < NODES; i++) {
        struct rval *m = tread(sub[i], 5000);
        if (!m || m->type != R_ARRAY || m->n != 3 || strcmp(m->elem[2]->str, text) != 0)
            fail_msg("node %d (port %d) did not get the message published on node %d: %s", i, node[i].port,
                     from, m ? rval_text(m) : "(no reply)");
        rval_free(m);
    }
    for (int i = 0; i < NODES; i++)
        assert_null(tread(sub[i], 300)); /* once */
}

/* PUBLISH on a master, and on a replica, reaches the subscribers of every
 * node once, as in Redis Cluster (forwarded on the peer links to the
 * masters, a replica's to its own master too; each master's stream takes
 * it to its replicas, but back to the replica it came from); the reply
 * counts the node's own subscribers. */
static void test_publish_reaches_every_node(void **state)
{
    tconn *sub[NODES];
    int master = -1, replica = -1;
    for (int i = 0; i < NODES; i++) {
        sub[i] = tconnect(node[i].port);
        tconn *c = tconnect(node[i].port);
        struct rval *role = tcmd(c, "ROLE");
        if (strcmp(role->elem[0]->str, "master") == 0 && master < 0)
            master = i;
        else if (strcmp(role->elem[0]->str, "slave") == 0 && replica < 0)
            replica = i;
        rval_free(role);
        tclose(c);
        const char *argv[] = { "SUBSCRIBE", "cluster-news" };
        tsendv(sub[i], 2, argv);
        rval_free(tread(sub[i], 5000));
    }
    assert_true(master >= 0 && replica >= 0);
    publish_everywhere(sub, master, "from-a-master");
    publish_everywhere(sub, replica, "from-a-replica");
    for (int i = 0; i < NODES; i++)
        tclose(sub[i]);
}

/* create on nodes already in a cluster: refused, the table unchanged. */
static void test_create_twice_refused(void **state)
{
    char *out = NULL;
    int st = tool(&out, "create %s --replicas 1", addrs(NODES));
    assert_int_equal(st, 1);
    if (!strstr(out, "already in a cluster"))
        fail_msg("no clear message:\n%s", out);
    free(out);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(table_version(i), 1);
}

/* A node killed (kill -9): status still lists every node, shows that one
 * UNREACHABLE and exits 1. Last of its group: it leaves a node down. */
static void test_status_unreachable(void **state)
{
    server_kill(&node[4]);
    char *out = NULL;
    int st = tool(&out, "status 127.0.0.1:%d", node[0].port);
    assert_int_equal(st, 1);
    char line[64];
    snprintf(line, sizeof line, "127.0.0.1:%d ", node[4].port);
    const char *p = strstr(out, line);
    if (!p || !strstr(p, "UNREACHABLE") || !strstr(out, "1 node(s) unreachable"))
        fail_msg("status does not show 127.0.0.1:%d as unreachable:\n%s", node[4].port, out);
    free(out);
}

/* ---------------------------------------------------------- refusals */

static void expect_nothing_changed(int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(table_version(i), 0);
}

static void test_unreachable_refused(void **state)
{
    for (int i = 0; i < 3; i++)
        start_node(i, true);
    char *out = NULL;
    int st = tool(&out, "create %s 127.0.0.1:%d", addrs(3), free_port());
    assert_int_equal(st, 1);
    if (!strstr(out, "cannot connect"))
        fail_msg("no clear message:\n%s", out);
    free(out);
    expect_nothing_changed(3);
    stop_nodes(3);
}

static void test_not_cluster_mode_refused(void **state)
{
    for (int i = 0; i < 3; i++)
        start_node(i, true);
    start_node(3, false);
    char *out = NULL;
    int st = tool(&out, "create %s", addrs(4));
    assert_int_equal(st, 1);
    if (!strstr(out, "not configured as a cluster node"))
        fail_msg("no clear message:\n%s", out);
    free(out);
    expect_nothing_changed(3);
    stop_nodes(4);
}

/* On a terminal (script(1) gives the tool one) create asks once, as
 * redis-cli does: anything but "yes" changes nothing; "yes" goes on. */
static void test_terminal_asks(void **state)
{
    if (run_cmd("script --version >/dev/null 2>&1", NULL) != 0)
        skip();
    for (int i = 0; i < 3; i++)
        start_node(i, true);
    char cmd[1024], *out = NULL;
    const char *answers[] = { "no", "yes" };
    for (int a = 0; a < 2; a++) {
        snprintf(cmd, sizeof cmd, "(sleep 1; printf '%s\\n') | timeout 30 script -qec '%s create %s' /dev/null",
                 answers[a], tool_bin(), addrs(3));
        int st = run_cmd(cmd, &out);
        if (!strstr(out, "Can I set the above configuration? (type 'yes' to accept)"))
            fail_msg("no question asked:\n%s", out);
        free(out);
        if (a == 0) {
            assert_int_equal(st, 1);
            expect_nothing_changed(3);
        } else {
            assert_int_equal(st, 0);
            for (int i = 0; i < 3; i++)
                assert_int_equal(table_version(i), 1);
        }
    }
    stop_nodes(3);
}

static void test_bad_arguments(void **state)
{
    char *out = NULL;
    assert_int_equal(tool(NULL, "%s", ""), 2);
    assert_int_equal(tool(NULL, "frobnicate"), 2);
    assert_int_equal(tool(NULL, "create"), 2);
    assert_int_equal(tool(NULL, "create 127.0.0.1:1 --replicas"), 2);
    assert_int_equal(tool(NULL, "create 127.0.0.1:1 --replicas x"), 2);
    assert_int_equal(tool(NULL, "create 127.0.0.1 127.0.0.1:2"), 2);
    assert_int_equal(tool(NULL, "create 127.0.0.1:99999"), 2);
    assert_int_equal(tool(NULL, "create 127.0.0.1:1 --nope"), 2);
    assert_int_equal(tool(NULL, "create 127.0.0.1:1 --sentinels nohost"), 2);
    assert_int_equal(tool(NULL, "status"), 2);
    assert_int_equal(tool(NULL, "status a:1 b:2"), 2);
    assert_int_equal(tool(&out, "--help"), 0);
    assert_non_null(strstr(out, "Usage: ringkv-cluster"));
    free(out);
    /* fewer than three masters: refused before connecting to anything */
    assert_int_equal(tool(&out, "create 127.0.0.1:1 127.0.0.1:2 --replicas 1"), 1);
    assert_non_null(strstr(out, "at least 3"));
    free(out);
}

/* ------------------------------------------------------- Sentinels */

#define NSENT 3
static pid_t sent_pid[NSENT];
static int sent_port[NSENT];
static char sent_dir[128];

/* redis-sentinel with a config of its own and nothing monitored. */
static void sentinel_start(int i)
{
    sent_pid[i] = sentinel_spawn(sent_dir, i, NULL, &sent_port[i]);
}

static const char *sentinel_list(void)
{
    static char s[128];
    snprintf(s, sizeof s, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", sent_port[0], sent_port[1], sent_port[2]);
    return s;
}

static int sentinel_setup(void **state)
{
    snprintf(sent_dir, sizeof sent_dir, "/tmp/ringkv-test-tool-sent-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(sent_dir))
        return -1;
    for (int i = 0; i < NSENT; i++)
        sentinel_start(i);
    return 0;
}

static int sentinel_teardown(void **state)
{
    for (int i = 0; i < NSENT; i++)
        if (sent_pid[i] > 0) {
            kill(sent_pid[i], SIGKILL);
            waitpid(sent_pid[i], NULL, 0);
        }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sent_dir);
    run_cmd(cmd, NULL);
    return 0;
}

/* The value of field in `SENTINEL MASTER name` on sentinel i (malloc'd). */
static char *sentinel_field(int i, const char *name, const char *field)
{
    tconn *c = tconnect(sent_port[i]);
    struct rval *v = tcmd(c, "SENTINEL MASTER %s", name);
    tclose(c);
    if (v->type != R_ARRAY && v->type != R_MAP) {
        char *t = rval_text(v);
        fail_msg("SENTINEL MASTER %s on %d: %s", name, sent_port[i], t);
    }
    char *out = NULL;
    for (size_t k = 0; k + 1 < v->n; k += 2)
        if (strcmp(v->elem[k]->str, field) == 0)
            out = strdup(v->elem[k + 1]->str);
    rval_free(v);
    assert_non_null(out);
    return out;
}

static void test_sentinels_registered(void **state)
{
    for (int i = 0; i < NODES; i++)
        start_node(i, true);
    char *out = NULL;
    int st = tool(&out, "create %s --replicas 1 --sentinels %s", addrs(NODES), sentinel_list());
    if (st != 0)
        fail_msg("create --sentinels exited %d:\n%s", st, out);
    free(out);
    /* the masters, as CLUSTER SLOTS names them */
    tconn *c = tconnect(node[0].port);
    struct rval *slots = tcmd(c, "CLUSTER SLOTS");
    tclose(c);
    for (int g = 1; g <= 3; g++) {
        char name[32];
        snprintf(name, sizeof name, "ringkv-%d", g);
        for (int i = 0; i < NSENT; i++) {
            char *port = sentinel_field(i, name, "port");
            bool is_master = false;
            for (size_t r = 0; r < slots->n; r++)
                is_master |= slots->elem[r]->elem[2]->elem[1]->integer == atoll(port);
            assert_true(is_master);
            free(port);
            char *q = sentinel_field(i, name, "quorum");
            assert_string_equal(q, "2");
            free(q);
            char *d = sentinel_field(i, name, "down-after-milliseconds");
            assert_string_equal(d, "2000"); /* the nodes' cluster-node-timeout */
            free(d);
            /* ready to fail over the moment create returns: the Sentinel
             * knows the group's replica and the other Sentinels */
            char *ns = sentinel_field(i, name, "num-slaves");
            assert_string_equal(ns, "1");
            free(ns);
            char *os = sentinel_field(i, name, "num-other-sentinels");
            assert_string_equal(os, "2");
            free(os);
        }
    }
    /* the three masters are three different names */
    char *p1 = sentinel_field(0, "ringkv-1", "port"), *p2 = sentinel_field(0, "ringkv-2", "port"),
         *p3 = sentinel_field(0, "ringkv-3", "port");
    assert_true(strcmp(p1, p2) != 0 && strcmp(p2, p3) != 0 && strcmp(p1, p3) != 0);
    free(p1);
    free(p2);
    free(p3);
    rval_free(slots);
    stop_nodes(NODES);
}

/* Names the Sentinels already monitor: refused, the new nodes unchanged,
 * the Sentinels still pointing at the first cluster's masters. */
static void test_sentinel_names_taken_refused(void **state)
{
    char *before = sentinel_field(1, "ringkv-1", "port");
    for (int i = 0; i < 3; i++)
        start_node(i, true);
    char *out = NULL;
    int st = tool(&out, "create %s --sentinels %s", addrs(3), sentinel_list());
    assert_int_equal(st, 1);
    if (!strstr(out, "already monitors"))
        fail_msg("no clear message:\n%s", out);
    free(out);
    expect_nothing_changed(3);
    char *after = sentinel_field(1, "ringkv-1", "port");
    assert_string_equal(before, after);
    free(before);
    free(after);
    stop_nodes(3);
}

/* ------------------------------------------------------- two hosts */

/* Nodes on two "hosts" (127.0.0.1 and 127.0.0.2, both loopback), given
 * host by host: the masters are spread over both, and every replica is on
 * the other host than its master (anti-affinity, as redis-cli). */
static void test_replicas_on_other_hosts(void **state)
{
    for (int i = 0; i < NODES; i++) {
        snprintf(conf_path[i], sizeof conf_path[i], "/tmp/ringkv-test-tool-%d-%d.conf", (int)getpid(), i);
        unlink(conf_path[i]);
        const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_path[i],
                               "--bind", "127.0.0.1 127.0.0.2", NULL };
        assert_int_equal(server_start(&node[i], args), 0);
    }
    char list[512];
    int len = 0;
    for (int i = 0; i < NODES; i++)
        len += snprintf(list + len, sizeof list - (size_t)len, " 127.0.0.%d:%d", i < 3 ? 1 : 2, node[i].port);
    char *out = NULL;
    int st = tool(&out, "create%s --replicas 1", list);
    if (st != 0)
        fail_msg("create exited %d:\n%s", st, out);
    free(out);
    tconn *c = tconnect(node[0].port);
    struct rval *v = tcmd(c, "CLUSTER SLOTS");
    tclose(c);
    bool master_on[3] = { false };
    for (size_t r = 0; r < v->n; r++) {
        const char *mip = v->elem[r]->elem[2]->elem[0]->str, *rip = v->elem[r]->elem[3]->elem[0]->str;
        if (strcmp(mip, rip) == 0)
            fail_msg("a replica is on its master's host %s", mip);
        master_on[mip[strlen(mip) - 1] - '0'] = true;
    }
    assert_true(master_on[1] && master_on[2]);
    rval_free(v);
    stop_nodes(NODES);
}

/* ------------------------------------ remove: the group's nodes forgotten */

/* `remove` of a group with a replica, killed in the middle of a step
 * (RINGKV_CLUSTER_DIE_AFTER_FLIPS, under --max-keys-per-sec so that a step
 * goes in pieces) and run again, then add and remove twice more: each
 * time both of the group's nodes end as empty masters in no cluster, and
 * stay so. Before, a replica told CLUSTER RESET HARD followed its old
 * group's record again while the reset was being written to its cluster
 * config file (its roles tick read the state still in force, the one it
 * was leaving), and stayed a replica of the old master for good. The
 * group's nodes run at hz 500 (a tick every 2 ms) so that a tick falls in
 * that window whatever the disk's speed: with hz 10 it did on a loaded
 * machine only. */
#define RM_NODES 8
#define RM_KEYS  2000

static struct server rm_node[RM_NODES];
static char rm_conf[RM_NODES][300];

static int rm_setup(void **state)
{
    (void)state;
    for (int i = 0; i < RM_NODES; i++) {
        snprintf(rm_conf[i], sizeof rm_conf[i], "/tmp/ringkv-test-tool-rm-%d-%d.conf", (int)getpid(), i);
        unlink(rm_conf[i]);
        const char *cargs[] = { "--cluster-enabled", "yes", "--cluster-config-file", rm_conf[i],
                                "--cluster-node-timeout", "2000", "--hz", i >= 6 ? "500" : "10", NULL };
        if (server_start(&rm_node[i], cargs) != 0)
            return -1;
    }
    char cmd[1024], *out = NULL;
    int len = snprintf(cmd, sizeof cmd, "timeout 60 %s create", tool_bin());
    for (int i = 0; i < 6; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " 127.0.0.1:%d", rm_node[i].port);
    snprintf(cmd + len, sizeof cmd - (size_t)len, " --replicas 1 2>&1 </dev/null");
    int st = run_cmd(cmd, &out);
    if (st != 0) {
        print_error("create exited %d:\n%s\n", st, out);
        free(out);
        return -1;
    }
    free(out);
    /* the keys, each SET on node 0 and where its -MOVED says */
    tconn *conn[RM_NODES] = { 0 };
    for (int k = 0; k < RM_KEYS; k++) {
        int at = 0;
        for (int tries = 0; tries < 3; tries++) {
            if (!conn[at])
                conn[at] = tconnect(rm_node[at].port);
            struct rval *v = tcmd(conn[at], "SET rm:%d v%d", k, k);
            int port = 0;
            bool moved = v->type == R_ERROR && sscanf(v->str, "MOVED %*d 127.0.0.1:%d", &port) == 1;
            if (!moved)
                expect_ok(v);
            else
                rval_free(v);
            if (!moved)
                break;
            for (int i = 0; i < RM_NODES; i++)
                if (rm_node[i].port == port)
                    at = i;
        }
    }
    for (int i = 0; i < RM_NODES; i++)
        tclose(conn[i]);
    return 0;
}

static int rm_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < RM_NODES; i++) {
        server_stop(&rm_node[i]);
        unlink(rm_conf[i]);
    }
    return 0;
}

/* Node i is an empty master in no cluster, for 1 s on end. */
static void expect_forgotten(int i, const char *when)
{
    tconn *c = tconnect(rm_node[i].port);
    for (long long until = now_ms() + 1000; now_ms() < until; usleep(20 * 1000)) {
        struct rval *role = tcmd(c, "ROLE");
        assert_true(role->type == R_ARRAY && role->n >= 1);
        struct rval *info = tcmd(c, "CLUSTER INFO");
        assert_true(info->type == R_BULK || info->type == R_VERBATIM);
        bool master = strcmp(role->elem[0]->str, "master") == 0;
        bool alone = strstr(info->str, "cluster_known_nodes:1\r\n") != NULL;
        if (!master || !alone)
            fail_msg("%s: node %d (port %d) is not an empty master in no cluster: ROLE %s, CLUSTER INFO:\n%s",
                     when, i, rm_node[i].port, rval_text(role), info->str);
        rval_free(role);
        rval_free(info);
    }
    expect_int(tcmd(c, "DBSIZE"), 0);
    tclose(c);
}

static void test_remove_forgets_group_nodes(void **state)
{
    (void)state;
    char cmd[1024], *out = NULL;
    for (int round = 0; round < 3; round++) {
        int st = tool(&out, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", rm_node[0].port, rm_node[6].port,
                      rm_node[7].port);
        if (st != 0)
            fail_with_output(out, "round %d: add exited %d", round, st);
        free(out);
        if (round == 0) {
            /* killed in the middle of a step, then run again */
            snprintf(cmd, sizeof cmd,
                     "RINGKV_CLUSTER_DIE_AFTER_FLIPS=2 timeout 60 %s remove 127.0.0.1:%d 127.0.0.1:%d "
                     "--max-keys-per-sec 2000 2>&1 </dev/null", tool_bin(), rm_node[1].port, rm_node[6].port);
            st = run_cmd(cmd, &out);
            if (st != 128 + SIGKILL || !strstr(out, "[TEST] killing myself"))
                fail_with_output(out, "the remove to be killed mid-step exited %d", st);
            free(out);
        }
        st = tool(&out, "remove 127.0.0.1:%d 127.0.0.1:%d", rm_node[1].port, rm_node[6].port);
        if (st != 0)
            fail_with_output(out, "round %d: remove exited %d", round, st);
        free(out);
        char when[64];
        snprintf(when, sizeof when, "after remove, round %d", round);
        expect_forgotten(6, when);
        expect_forgotten(7, when);
        /* the cluster kept every key */
        long long keys = 0;
        for (int i = 0; i < 6; i++) {
            tconn *c = tconnect(rm_node[i].port);
            struct rval *role = tcmd(c, "ROLE");
            if (strcmp(role->elem[0]->str, "master") == 0)
                keys += get_int(tcmd(c, "DBSIZE"));
            rval_free(role);
            tclose(c);
        }
        assert_int_equal(keys, RM_KEYS);
    }
}

int main(void)
{
    if (target_is_redis())
        return 77; /* the tool drives ringkv's own table push */
    if (run_cmd("redis-cli --version >/dev/null 2>&1", NULL) != 0)
        return 77;
    const struct CMUnitTest made[] = {
        cmocka_unit_test(test_every_node_ok),
        cmocka_unit_test(test_slots_three_groups),
        cmocka_unit_test(test_redis_cli_cluster),
        cmocka_unit_test(test_redis_benchmark_cluster),
        cmocka_unit_test(test_redis_py_cluster),
        cmocka_unit_test(test_redis_py_100k),
        cmocka_unit_test(test_replicas_hold_keys),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_status_lag_under_writes),
        cmocka_unit_test(test_status_waits_for_slow_node),
        cmocka_unit_test(test_publish_reaches_every_node),
        cmocka_unit_test(test_create_twice_refused),
        cmocka_unit_test(test_status_unreachable),
    };
    const struct CMUnitTest hosts[] = {
        cmocka_unit_test(test_replicas_on_other_hosts),
    };
    const struct CMUnitTest refusals[] = {
        cmocka_unit_test(test_unreachable_refused),
        cmocka_unit_test(test_not_cluster_mode_refused),
        cmocka_unit_test(test_terminal_asks),
        cmocka_unit_test(test_bad_arguments),
    };
    const struct CMUnitTest removal[] = {
        cmocka_unit_test(test_remove_forgets_group_nodes),
    };
    const struct CMUnitTest sentinel[] = {
        cmocka_unit_test(test_sentinels_registered),
        cmocka_unit_test(test_sentinel_names_taken_refused),
    };
    int failed = cmocka_run_group_tests_name("cluster_tool", made, cluster_setup, cluster_teardown);
    failed += cmocka_run_group_tests_name("cluster_tool_hosts", hosts, NULL, NULL);
    failed += cmocka_run_group_tests_name("cluster_tool_refusals", refusals, NULL, NULL);
    failed += cmocka_run_group_tests_name("cluster_tool_remove", removal, rm_setup, rm_teardown);
    if (run_cmd("redis-sentinel --version >/dev/null 2>&1", NULL) == 0)
        failed += cmocka_run_group_tests_name("cluster_tool_sentinels", sentinel, sentinel_setup, sentinel_teardown);
    else
        printf("redis-sentinel not installed: the Sentinel registration tests are skipped\n");
    return failed;
}
