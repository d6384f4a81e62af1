/* ringkv-cluster rebalance, --abort, and Sentinel registration on add and
 * remove (issue 11), against real ringkv nodes and three real
 * redis-sentinel processes.
 *
 * Three groups made by `create --sentinels` hold 100k keys (through
 * redis-py's RedisCluster, Debian's python3-redis: skipped without it,
 * redis-sentinel or redis-cli). Then, in order:
 *   - add of a fourth group (a master and a replica): every Sentinel lists
 *     ringkv-4 (SENTINEL MASTERS) with its master and its replica;
 *   - rebalance --weight 4=2 under a writer (tests/interop/reshard_load.py:
 *     INCR of counters, SET of new keys, then every key read back): group 4
 *     ends with 2/5 of the slots (±3 points), the others 1/5 each, nothing
 *     lost, status shows the weight; rebalance again: nothing to move;
 *     refused (nothing changed): an unknown group, a weight that is not a
 *     positive integer;
 *   - remove of group 4 under the writer: no Sentinel lists ringkv-4;
 *   - add killed (SIGKILL, by itself: RINGKV_CLUSTER_DIE_AFTER_FLIPS=0)
 *     in the middle of its first step, slots left
 *     MIGRATING/IMPORTING with keys on both sides; then add --abort: no
 *     slot marked on any node (CLUSTER NODES), the keys back on their
 *     owners (the masters' DBSIZE add up to the keys there are: each in
 *     exactly one place), every key readable through redis-cli -c, and the
 *     new group, which served no slot yet, out again (its nodes in no
 *     cluster, off the Sentinels);
 *   - rebalance --weight 1=2 killed after its first flip under the writer,
 *     then rebalance --abort: no marks, each key in one place, the flipped
 *     slots stay; the same rebalance again finishes: 1/2, 1/4, 1/4;
 *   - add of group 4 again, its remove killed mid-move, remove --abort: no
 *     node shows a mark, the group's replica included; remove again. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define NODES 5 /* three groups of one master, then a fourth of two nodes */
#define NSENT 3
#define KEYS  100000
#define COUNTERS 1000 /* reshard_load.py's c:<j> */

static struct server node[NODES];
static char conf_path[NODES][300];
static pid_t sent_pid[NSENT];
static int sent_port[NSENT];
static char tmpdir[128];
static bool ready;
static long long new_keys; /* n:0 .. n:<new_keys - 1>, the writers' new keys so far */

static const char *tool_bin(void)
{
    const char *t = getenv("RINGKV_CLUSTER");
    return t ? t : "build/ringkv-cluster";
}

static const char *load_py(void)
{
    return getenv("RINGKV_RESHARD_PY");
}

/* Run the tool; its exit status, its output (stdout and stderr) in *out. */
static int tool(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tool(char **out, const char *fmt, ...)
{
    char args[1000], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "timeout 120 %s %s 2>&1 </dev/null", tool_bin(), args);
    return run_cmd(cmd, out);
}

static void sentinel_start(int i)
{
    sent_pid[i] = sentinel_spawn(tmpdir, i, NULL, &sent_port[i]);
}

static int setup(void **state)
{
    (void)state;
    if (!load_py() || run_cmd("/usr/bin/python3 -c 'import redis.cluster' >/dev/null 2>&1", NULL) != 0 ||
        run_cmd("redis-sentinel --version >/dev/null 2>&1", NULL) != 0 ||
        run_cmd("redis-cli --version >/dev/null 2>&1", NULL) != 0)
        return 0; /* each test skips */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ringkv-test-rebalance-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(tmpdir))
        return -1;
    for (int i = 0; i < NSENT; i++)
        sentinel_start(i);
    for (int i = 0; i < NODES; i++) {
        /* from a config file: a Sentinel's promotion sends CONFIG REWRITE;
         * a node timeout (the Sentinels' down-after) long enough for a
         * loaded machine */
        snprintf(conf_path[i], sizeof conf_path[i], "%s/nodes-%d.conf", tmpdir, i);
        char conf[2000];
        snprintf(conf, sizeof conf, "cluster-enabled yes\ncluster-config-file %s\ncluster-node-timeout 10000\n",
                 conf_path[i]);
        assert_int_equal(server_start_conf(&node[i], conf, NULL), 0);
    }
    char *out = NULL;
    int st = tool(&out, "create 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d --sentinels 127.0.0.1:%d,127.0.0.1:%d,"
                  "127.0.0.1:%d", node[0].port, node[1].port, node[2].port, sent_port[0], sent_port[1],
                  sent_port[2]);
    if (st != 0)
        fail_with_output(out, "create exited %d", st);
    free(out);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "timeout 120 /usr/bin/python3 %s %d %d fill 2>&1 </dev/null", load_py(), node[0].port,
             KEYS);
    st = run_cmd(cmd, &out);
    if (st != 0)
        fail_with_output(out, "filling exited %d", st);
    free(out);
    ready = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    for (int i = 0; i < NODES; i++)
        if (node[i].pid > 0 && server_stop(&node[i]) != 0) {
            print_error("node %d did not exit cleanly (a sanitizer report?)\n", i);
            rc = -1;
        }
    for (int i = 0; i < NSENT; i++)
        if (sent_pid[i] > 0) {
            kill(sent_pid[i], SIGKILL);
            waitpid(sent_pid[i], NULL, 0);
        }
    if (tmpdir[0]) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        run_cmd(cmd, NULL);
    }
    return rc;
}

/* The writer and the read-back around one tool command (reshard_load.py
 * `mode`: run, or run-any for a tool killed on purpose); its report. */
static char *under_load(const char *mode, const char *env, const char *tool_args)
{
    char cmd[1400], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s timeout 280 /usr/bin/python3 %s %d %d %s %s %s </dev/null", env, load_py(),
             node[0].port, KEYS, mode, tool_bin(), tool_args);
    long long t0 = now_ms();
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_with_output(out, "under load (%s %s) exited %d", mode, tool_args, st);
    assert_int_equal(strncmp(out, "ok keys 100000 ", 15), 0);
    print_message("%.*s(%lld ms)\n", (int)strcspn(out, "\n") + 1, out, now_ms() - t0);
    const char *p = strstr(out, " new ");
    assert_non_null(p);
    if (atoll(p + 5) > new_keys)
        new_keys = atoll(p + 5);
    return out;
}

/* Slots per master port, as node i's CLUSTER SLOTS says. */
static void slots_by_port(int i, int *count_of /* [NODES] */)
{
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "CLUSTER SLOTS");
    tclose(c);
    assert_int_equal(v->type, R_ARRAY);
    for (int n = 0; n < NODES; n++)
        count_of[n] = 0;
    for (size_t r = 0; r < v->n; r++) {
        struct rval *range = v->elem[r];
        int port = (int)range->elem[2]->elem[1]->integer;
        for (int n = 0; n < NODES; n++)
            if (node[n].port == port)
                count_of[n] += (int)(range->elem[1]->integer - range->elem[0]->integer + 1);
    }
    rval_free(v);
}

static long long table_version(int i)
{
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "CLUSTER INFO");
    tclose(c);
    const char *p = strstr(v->str, "cluster_table_version:");
    assert_non_null(p);
    long long ver = atoll(p + strlen("cluster_table_version:"));
    rval_free(v);
    return ver;
}

/* Does Sentinel i monitor ringkv-<gid>? Its master's port in *port and
 * replicas in *slaves when it does. */
static bool sentinel_lists(int i, int gid, int *port, int *slaves)
{
    char name[32];
    snprintf(name, sizeof name, "ringkv-%d", gid);
    tconn *c = tconnect(sent_port[i]);
    struct rval *v = tcmd(c, "SENTINEL MASTERS");
    tclose(c);
    assert_int_equal(v->type, R_ARRAY);
    bool found = false;
    for (size_t m = 0; m < v->n; m++) {
        struct rval *f = v->elem[m];
        bool this = false;
        int p = 0, s = -1;
        for (size_t k = 0; k + 1 < f->n; k += 2) {
            const char *key = f->elem[k]->str, *val = f->elem[k + 1]->str;
            if (strcmp(key, "name") == 0)
                this = strcmp(val, name) == 0;
            else if (strcmp(key, "port") == 0)
                p = atoi(val);
            else if (strcmp(key, "num-slaves") == 0)
                s = atoi(val);
        }
        if (this) {
            found = true;
            *port = p;
            *slaves = s;
        }
    }
    rval_free(v);
    return found;
}

/* add registers the new group with every Sentinel, with its replica. */
static void test_add_registers_with_sentinels(void **state)
{
    (void)state;
    if (!ready)
        skip();
    char *out = NULL;
    int st = tool(&out, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", node[0].port, node[3].port, node[4].port);
    if (st != 0)
        fail_with_output(out, "add exited %d", st);
    assert_non_null(strstr(out, "Registering group 4 with 3 Sentinels"));
    free(out);
    for (int i = 0; i < NSENT; i++) {
        int port = 0, slaves = -1;
        if (!sentinel_lists(i, 4, &port, &slaves))
            fail_msg("Sentinel %d does not list ringkv-4 after add", i);
        assert_int_equal(port, node[3].port);
        assert_int_equal(slaves, 1);
    }
}

/* rebalance --weight 4=2 under the writer: 2/5 of the slots to group 4. */
static void test_rebalance_weight(void **state)
{
    (void)state;
    if (!ready)
        skip();
    char args[300];
    snprintf(args, sizeof args, "rebalance 127.0.0.1:%d --weight 4=2", node[1].port);
    char *out = under_load("run", "", args);
    assert_non_null(strstr(out, "group 4: 2 (40.0%)"));
    free(out);
    int count[NODES];
    slots_by_port(2, count);
    print_message("slots: %d %d %d %d\n", count[0], count[1], count[2], count[3]);
    assert_true(abs(count[3] - 16384 * 2 / 5) <= 16384 * 3 / 100);
    for (int n = 0; n < 3; n++)
        assert_true(abs(count[n] - 16384 / 5) <= 16384 * 3 / 100);
    assert_int_equal(count[0] + count[1] + count[2] + count[3], 16384);
    long long v = table_version(0);
    for (int i = 1; i < NODES; i++)
        assert_int_equal(table_version(i), v);
    /* the weight is the cluster's: status shows it, the next rebalance has
     * nothing to move */
    int st = tool(&out, "status 127.0.0.1:%d", node[2].port);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "\n4/2 "));
    free(out);
    st = tool(&out, "rebalance 127.0.0.1:%d", node[0].port);
    if (st != 0 || !strstr(out, "Nothing to move"))
        fail_with_output(out, "rebalance again exited %d", st);
    free(out);
    assert_int_equal(table_version(0), v);
    /* refused, nothing changed */
    st = tool(&out, "rebalance 127.0.0.1:%d --weight 9=2", node[0].port);
    if (st != 1 || !strstr(out, "No group 9 in the cluster: its groups are 1, 2, 3, 4"))
        fail_with_output(out, "unknown group: exit %d", st);
    free(out);
    const char *bad[] = { "4=0", "4=-1", "4=x", "4=1.5", "=2", "4", "4=2000000" };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        st = tool(&out, "rebalance 127.0.0.1:%d --weight %s", node[0].port, bad[k]);
        if (st != 2 || !strstr(out, "--weight needs <group>=<w>"))
            fail_with_output(out, "--weight %s: exit %d", bad[k], st);
        free(out);
    }
    assert_int_equal(table_version(0), v);
}

/* remove takes the group's name off every Sentinel. */
static void test_remove_unregisters(void **state)
{
    (void)state;
    if (!ready)
        skip();
    char args[300];
    snprintf(args, sizeof args, "remove 127.0.0.1:%d 127.0.0.1:%d", node[0].port, node[3].port);
    free(under_load("run", "", args));
    for (int i = 0; i < NSENT; i++) {
        int port, slaves;
        if (sentinel_lists(i, 4, &port, &slaves))
            fail_msg("Sentinel %d still lists ringkv-4 after remove", i);
    }
    assert_int_equal(table_version(3), 0);
    assert_int_equal(table_version(4), 0);
}

/* The marks CLUSTER NODES shows on node i's own line. */
static int marks_on(int i)
{
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "CLUSTER NODES");
    tclose(c);
    int n = 0;
    for (const char *p = v->str; (p = strstr(p, "->-")); p++)
        n++;
    for (const char *p = v->str; (p = strstr(p, "-<-")); p++)
        n++;
    rval_free(v);
    return n;
}

static long long dbsize(int i)
{
    tconn *c = tconnect(node[i].port);
    long long n = get_int(tcmd(c, "DBSIZE"));
    tclose(c);
    return n;
}

/* add killed mid-move, then add --abort. */
static void test_add_killed_then_aborted(void **state)
{
    (void)state;
    if (!ready)
        skip();
    char args[300];
    snprintf(args, sizeof args, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", node[0].port, node[3].port,
             node[4].port);
    /* without the writer: redis-py 4.3.4 cannot follow an -ASK to a node it
     * does not know (reshard_load.py, Writer.call), and a new group that
     * serves no slot yet is such a node */
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof cmd, "RINGKV_CLUSTER_DIE_AFTER_FLIPS=0 timeout 120 %s %s 2>&1 </dev/null", tool_bin(), args);
    int st = run_cmd(cmd, &out);
    if (!strstr(out, "[TEST] killing myself"))
        fail_with_output(out, "the add meant to be killed exited %d", st);
    free(out);
    int marked = 0;
    for (int i = 0; i < 4; i++)
        marked += marks_on(i);
    print_message("%d slot marks after the kill\n", marked);
    assert_true(marked > 0); /* the kill left slots half moved */
    assert_true(dbsize(3) > 0); /* with some of their keys on the new master */

    st = tool(&out, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d --abort --yes", node[0].port, node[3].port,
                  node[4].port);
    if (st != 0)
        fail_with_output(out, "add --abort exited %d", st);
    assert_non_null(strstr(out, "rolled back"));
    assert_non_null(strstr(out, "taken out"));
    free(out);
    for (int i = 0; i < 3; i++)
        if (marks_on(i) != 0)
            fail_msg("node %d still shows slot marks after --abort", i);
    /* the new group out again: its nodes in no cluster, empty, off the
     * Sentinels */
    assert_int_equal(table_version(3), 0);
    assert_int_equal(table_version(4), 0);
    assert_int_equal(dbsize(3), 0);
    for (int i = 0; i < NSENT; i++) {
        int port, slaves;
        if (sentinel_lists(i, 4, &port, &slaves))
            fail_msg("Sentinel %d still lists ringkv-4 after add --abort", i);
    }
    /* each key in exactly one place: the masters hold as many as there are
     * (the filled ones, the counters, the writer's new ones) */
    long long total = dbsize(0) + dbsize(1) + dbsize(2);
    assert_int_equal(total, KEYS + COUNTERS + new_keys);
    /* every filled key readable through redis-cli -c */
    char path[300];
    snprintf(path, sizeof path, "%s/gets.txt", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < KEYS; i++)
        fprintf(f, "GET k:%d\n", i);
    fclose(f);
    snprintf(cmd, sizeof cmd, "timeout 120 redis-cli -c -p %d < %s 2>&1", node[1].port, path);
    assert_int_equal(run_cmd(cmd, &out), 0);
    int i = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "-> Redirected", 13) == 0)
            continue; /* redis-cli -c following a -MOVED */
        char want[32];
        snprintf(want, sizeof want, "v%d", i);
        if (i >= KEYS || strcmp(line, want) != 0)
            fail_msg("redis-cli -c: GET k:%d answered '%s'", i, line);
        i++;
    }
    assert_int_equal(i, KEYS);
    free(out);
}

/* rebalance killed mid-move under the writer, then rebalance --abort: the
 * half-moved slots back with their owner (the flipped ones and the weight
 * stay); then rebalance without --weight finishes the move. */
static void test_rebalance_killed_aborted_resumed(void **state)
{
    (void)state;
    if (!ready)
        skip();
    char args[300];
    int before[NODES], count[NODES];
    slots_by_port(0, before);
    snprintf(args, sizeof args, "rebalance 127.0.0.1:%d --weight 1=2", node[0].port);
    char *out = under_load("run-any", "RINGKV_CLUSTER_DIE_AFTER_FLIPS=1", args);
    assert_non_null(strstr(out, "[TEST] killing myself"));
    free(out);
    int marked = 0;
    for (int i = 0; i < 3; i++)
        marked += marks_on(i);
    assert_true(marked > 0);
    int st = tool(&out, "rebalance 127.0.0.1:%d --abort --yes", node[2].port);
    if (st != 0 || !strstr(out, "rolled back"))
        fail_with_output(out, "rebalance --abort exited %d", st);
    free(out);
    for (int i = 0; i < 3; i++)
        if (marks_on(i) != 0)
            fail_msg("node %d still shows slot marks after --abort", i);
    assert_int_equal(dbsize(0) + dbsize(1) + dbsize(2), KEYS + COUNTERS + new_keys);
    slots_by_port(1, count);
    print_message("after --abort: %d %d %d slots (before the move: %d %d %d)\n", count[0], count[1], count[2],
                  before[0], before[1], before[2]);
    /* the steps flipped before the kill stay (at least one: the tool dies
     * in a step after its first flip, which may move slots between the
     * other groups as well as to group 1; the movers run several steps at
     * once, so how many is timing), the others' slots are back: the move
     * is not finished */
    assert_true(count[0] != before[0] || count[1] != before[1] || count[2] != before[2]);
    assert_true(count[0] < 16384 / 2 - 16384 * 3 / 100);
    out = under_load("run", "", args); /* the same command again: goes on */
    free(out);
    slots_by_port(2, count);
    print_message("resumed: %d %d %d slots\n", count[0], count[1], count[2]);
    assert_true(abs(count[0] - 16384 / 2) <= 16384 * 3 / 100);
    assert_true(abs(count[1] - 16384 / 4) <= 16384 * 3 / 100);
    assert_true(abs(count[2] - 16384 / 4) <= 16384 * 3 / 100);
}

/* remove of a group with a replica killed mid-move, then remove --abort:
 * no node shows a mark, the source group's replica included (the move
 * marks a group's replicas before its master, and an abort that cleared
 * the masters only left them there: that replica, promoted, answered
 * -ASK for slots no node imports); then the same remove finishes. */
static void test_remove_killed_aborted_replica_marks(void **state)
{
    (void)state;
    if (!ready)
        skip();
    char *out = NULL;
    int st = tool(&out, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", node[0].port, node[3].port, node[4].port);
    if (st != 0)
        fail_with_output(out, "add exited %d", st);
    free(out);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "RINGKV_CLUSTER_DIE_AFTER_FLIPS=0 timeout 120 %s remove 127.0.0.1:%d 127.0.0.1:%d 2>&1 </dev/null",
             tool_bin(), node[0].port, node[3].port);
    st = run_cmd(cmd, &out);
    if (!strstr(out, "[TEST] killing myself"))
        fail_with_output(out, "the remove meant to be killed exited %d", st);
    free(out);
    int on_replica = marks_on(4);
    print_message("%d slot marks on the source group's replica after the kill\n", on_replica);
    assert_true(on_replica > 0);
    st = tool(&out, "remove 127.0.0.1:%d 127.0.0.1:%d --abort --yes", node[0].port, node[3].port);
    if (st != 0)
        fail_with_output(out, "remove --abort exited %d", st);
    free(out);
    for (int i = 0; i < NODES; i++)
        if (marks_on(i) != 0)
            fail_msg("node %d still shows slot marks after remove --abort", i);
    st = tool(&out, "remove 127.0.0.1:%d 127.0.0.1:%d", node[0].port, node[3].port);
    if (st != 0)
        fail_with_output(out, "remove exited %d", st);
    free(out);
    assert_int_equal(table_version(3), 0);
    assert_int_equal(table_version(4), 0);
    assert_int_equal(dbsize(0) + dbsize(1) + dbsize(2), KEYS + COUNTERS + new_keys);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_registers_with_sentinels),
        cmocka_unit_test(test_rebalance_weight),
        cmocka_unit_test(test_remove_unregisters),
        cmocka_unit_test(test_add_killed_then_aborted),
        cmocka_unit_test(test_rebalance_killed_aborted_resumed),
        cmocka_unit_test(test_remove_killed_aborted_replica_marks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
