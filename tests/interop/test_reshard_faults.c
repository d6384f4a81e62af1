/* Growing and shrinking a cluster under faults, with a replica in every
 * group and three real Sentinels (issue 11, "Faults"; README "Growing and
 * shrinking"). Ten nodes: three groups of master + replica made by
 * `ringkv-cluster create --replicas 1 --sentinels`, holding KEYS keys
 * (every one of them on its group's replica: WAIT 1 after the fill), and
 * two pairs that are added as a fourth and a fifth group.
 *
 * A writer in this process runs through every tool command: SET of a new
 * key and INCR of a counter, each confirmed with WAIT 1 (its own
 * redirections followed: -MOVED, -ASK, -TRYAGAIN, a dead node). A write
 * counts as acknowledged only when WAIT said a replica has it: that is
 * what the issue's "no acknowledged write lost" means with replicas, as
 * replication is asynchronous (a write only the master had when it died
 * is lost in a failover, moving slots or not: README "Failover in a
 * cluster").
 *
 *  1) add of a group (master + replica) under the writer, then remove of
 *     it: every acknowledged write reads back, every slot has one owner
 *     holding all its keys, and every replica holds exactly its master's
 *     keys (same DBSIZE and digest of keys and values): the moved keys
 *     reached the target's replica through its stream, and the source's
 *     replica dropped them. After remove, the group's nodes are empty.
 *  1b) add again killed in the middle of a step, then add --abort: no
 *     node shows a slot mark, the replicas included; the checks of 1).
 *  2) add again, the target killed in the middle of the move (the tool
 *     stops itself there, RINGKV_CLUSTER_STOP_AT, and goes on after the
 *     kill): the Sentinels promote its replica; meanwhile the source
 *     sends a key it does not have to the promoted replica (-ASK), which
 *     takes it (it holds the IMPORTING marks: the tool marked the replicas
 *     too); the same command run again, a node of it dead, finishes; the
 *     checks of 1).
 *  3) add of a fifth group, a source killed in the middle of the move:
 *     the Sentinels promote its replica, which holds the MIGRATING marks,
 *     so the keys that had gone are not lost from sight: every
 *     acknowledged write reads back before the move is resumed; the same
 *     command run again finishes; the checks of 1).
 *
 * Nothing sleeps as an assertion: conditions are polled up to generous
 * deadlines. Skipped (77) without redis-sentinel, and on the redis target.
 * Logs are kept in the temp directory when RINGKV_TEST_VERBOSE is set. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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
#include "shards/store/slot.h"

#define NODES    10 /* 0-5: three groups; 6,7: the fourth; 8,9: the fifth */
#define NSENT    3
#define TIMEOUT  2000 /* cluster-node-timeout, the Sentinels' down-after-milliseconds */
#define KEYS     20000
#define COUNTERS 64
#define MAX_NEW  200000

static struct server node[NODES];
static bool node_dead[NODES];
static char conf_path[NODES][300];
static pid_t sent_pid[NSENT];
static int sent_port[NSENT];
static char tmpdir[128];
static bool skipped;

static const char *tool_bin(void)
{
    const char *t = getenv("RINGKV_CLUSTER");
    return t ? t : "build/ringkv-cluster";
}

/* ------------------------------------------------------------ processes */

static void sentinel_start(int i)
{
    sent_pid[i] = sentinel_spawn(tmpdir, i, NULL, &sent_port[i]);
}

static int node_by_port(int port)
{
    for (int i = 0; i < NODES; i++)
        if (node[i].port == port)
            return i;
    fail_msg("no node on port %d", port);
    return -1;
}

/* ------------------------------------------- the client: redirections */

static tconn *conns[NODES];
static int slot_port[16384];

static tconn *conn_to(int port)
{
    int i = node_by_port(port);
    if (node_dead[i])
        return NULL;
    if (!conns[i])
        conns[i] = tconnect(port);
    return conns[i];
}

static void kill_node(int i)
{
    server_kill(&node[i]);
    node_dead[i] = true;
    tclose(conns[i]);
    conns[i] = NULL;
}

/* A live node of the three first groups (always in the cluster). */
static int live_member(void)
{
    for (int i = 0; i < 6; i++)
        if (!node_dead[i])
            return i;
    fail_msg("no live node");
    return -1;
}

/* The slot map from a live node's CLUSTER SLOTS; replicas[] (may be
 * NULL) gets each slot's first replica port (0: none). */
static void refresh_slots_on(int i, int *master, int *replica)
{
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "CLUSTER SLOTS");
    tclose(c);
    assert_int_equal(v->type, R_ARRAY);
    for (size_t r = 0; r < v->n; r++) {
        struct rval *range = v->elem[r];
        for (long long s = range->elem[0]->integer; s <= range->elem[1]->integer; s++) {
            master[s] = (int)range->elem[2]->elem[1]->integer;
            if (replica)
                replica[s] = range->n > 3 ? (int)range->elem[3]->elem[1]->integer : 0;
        }
    }
    rval_free(v);
}

static void refresh_slots(void)
{
    refresh_slots_on(live_member(), slot_port, NULL);
}

static int redirect_port(const char *err)
{
    const char *colon = strrchr(err, ':');
    return colon ? atoi(colon + 1) : 0;
}

/* Run a command of one key on the cluster, following -MOVED and -ASK
 * and retrying -TRYAGAIN, -CLUSTERDOWN, -READONLY (a table not learnt
 * yet) and dead nodes, up to limit_ms. The reply, and in *ran_on the port
 * that gave it; NULL when refused all that time. */
static struct rval *cluster_call(int argc, const char *const *argv, int *ran_on, long long limit_ms)
{
    int slot = (int)key_slot(argv[1], strlen(argv[1]));
    int port = slot_port[slot];
    bool asking = false;
    long long until = now_ms() + limit_ms;
    while (now_ms() < until) {
        tconn *c = port ? conn_to(port) : NULL;
        if (!c) {
            usleep(20 * 1000);
            refresh_slots();
            port = slot_port[slot];
            asking = false;
            continue;
        }
        if (asking) {
            const char *a[] = { "ASKING" };
            tsendv(c, 1, a);
        }
        tsendv(c, argc, argv);
        if (asking)
            rval_free(tread(c, 10000));
        struct rval *v = tread(c, 10000);
        if (!v)
            fail_msg("no reply from %d to %s %s", port, argv[0], argv[1]);
        if (v->type != R_ERROR) {
            *ran_on = port;
            return v;
        }
        if (strncmp(v->str, "MOVED ", 6) == 0) {
            port = slot_port[slot] = redirect_port(v->str);
            asking = false;
        } else if (strncmp(v->str, "ASK ", 4) == 0) {
            port = redirect_port(v->str);
            asking = true;
        } else if (strncmp(v->str, "TRYAGAIN", 8) == 0 || strncmp(v->str, "CLUSTERDOWN", 11) == 0 ||
                   strncmp(v->str, "READONLY", 8) == 0 || strncmp(v->str, "LOADING", 7) == 0) {
            usleep(10 * 1000);
            port = slot_port[slot];
            asking = false;
        } else {
            *ran_on = port;
            return v; /* an answer of the command's own */
        }
        rval_free(v);
    }
    return NULL;
}

/* ------------------------------------------------------------ the writer */

static struct {
    int next;                  /* w:<next> is the next new key */
    bool acked[MAX_NEW];       /* w:<i> = i acknowledged (WAIT 1 >= 1) */
    long long counter[COUNTERS]; /* c:<j>: the last value an acknowledged INCR gave */
    long long acked_writes, taken, refused;
} w;

/* WAIT 1 on the node that took a write: did a replica get it? */
static bool replica_has_it(int port)
{
    tconn *c = conn_to(port);
    if (!c)
        return false;
    struct rval *v = tcmd(c, "WAIT 1 200");
    bool ok = v && v->type == R_INT && v->integer >= 1;
    rval_free(v);
    return ok;
}

/* One round of the writer: SET w:<i> <i>, INCR c:<i % COUNTERS>. */
static void write_round(void)
{
    if (w.next >= MAX_NEW) {
        usleep(1000); /* the writer has done its share: the loops around it go on */
        return;
    }
    char key[32], val[32], ctr[32];
    int i = w.next++, port = 0;
    snprintf(key, sizeof key, "w:%d", i);
    snprintf(val, sizeof val, "%d", i);
    const char *set[] = { "SET", key, val };
    struct rval *v = cluster_call(3, set, &port, 2000);
    if (v && v->type == R_STATUS) {
        w.taken++;
        if (replica_has_it(port)) {
            w.acked[i] = true;
            w.acked_writes++;
        }
    } else {
        w.refused++;
    }
    rval_free(v);
    int j = i % COUNTERS;
    snprintf(ctr, sizeof ctr, "c:%d", j);
    const char *incr[] = { "INCR", ctr };
    v = cluster_call(2, incr, &port, 2000);
    if (v && v->type == R_INT) {
        long long got = v->integer;
        w.taken++;
        if (replica_has_it(port)) {
            if (got <= w.counter[j])
                fail_msg("INCR %s answered %lld after an acknowledged %lld: an acknowledged write was lost", ctr, got,
                         w.counter[j]);
            w.counter[j] = got;
            w.acked_writes++;
        }
    } else if (v && v->type == R_ERROR) {
        fail_msg("INCR %s: %s", ctr, v->str);
    } else {
        w.refused++;
    }
    rval_free(v);
}

/* GET key on the cluster: its value (malloc'd) or NULL for nil. */
static char *cluster_get(const char *key)
{
    const char *get[] = { "GET", key };
    int port;
    struct rval *v = cluster_call(2, get, &port, 20000);
    if (!v)
        fail_msg("GET %s refused for 20 s", key);
    if (v->type == R_ERROR)
        fail_msg("GET %s: %s", key, v->str);
    char *s = v->type == R_BULK ? strdup(v->str) : NULL;
    rval_free(v);
    return s;
}

/* GET of n keys, pipelined to each key's master by the slot map: their
 * values (malloc'd, NULL for nil) in out. A reply that is an error (a
 * slot half moved: -ASK, or a table learnt since) is asked again through
 * cluster_get. */
static void get_many(char (*keys)[32], int n, char **out)
{
    int *port = calloc((size_t)n, sizeof *port);
    assert_non_null(port);
    for (int i = 0; i < n; i++) {
        port[i] = slot_port[key_slot(keys[i], strlen(keys[i]))];
        tconn *c = conn_to(port[i]);
        if (!c) {
            port[i] = 0;
            continue;
        }
        const char *get[] = { "GET", keys[i] };
        tsendv(c, 2, get);
    }
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        if (!port[i]) {
            out[i] = cluster_get(keys[i]);
            continue;
        }
        struct rval *v = tread(conn_to(port[i]), 10000);
        if (!v)
            fail_msg("no reply from %d to GET %s", port[i], keys[i]);
        if (v->type == R_ERROR)
            port[i] = -1; /* asked again below, once every reply is read */
        else if (v->type == R_BULK)
            out[i] = strdup(v->str);
        rval_free(v);
    }
    for (int i = 0; i < n; i++)
        if (port[i] < 0)
            out[i] = cluster_get(keys[i]);
    free(port);
}

/* Every key of the fill, every acknowledged new key and every counter's
 * last acknowledged value (or more: an INCR taken without WAIT's
 * confirmation may have happened) reads back. */
static void check_acknowledged(const char *when)
{
    enum { BATCH = 2000 };
    static char keys[BATCH][32], want[BATCH][32];
    static char *got[BATCH];
    static int counter_of[BATCH];
    refresh_slots();
    long long checked = 0;
    int total = KEYS + w.next + COUNTERS;
    for (int from = 0; from < total;) {
        int n = 0;
        for (; from < total && n < BATCH; from++) {
            counter_of[n] = -1;
            if (from < KEYS) {
                snprintf(keys[n], sizeof keys[n], "k:%d", from);
                snprintf(want[n], sizeof want[n], "v%d", from);
            } else if (from < KEYS + w.next) {
                int i = from - KEYS;
                if (!w.acked[i])
                    continue;
                snprintf(keys[n], sizeof keys[n], "w:%d", i);
                snprintf(want[n], sizeof want[n], "%d", i);
            } else {
                counter_of[n] = from - KEYS - w.next;
                snprintf(keys[n], sizeof keys[n], "c:%d", counter_of[n]);
            }
            n++;
        }
        get_many(keys, n, got);
        for (int i = 0; i < n; i++) {
            int j = counter_of[i];
            if (j >= 0 && (got[i] ? atoll(got[i]) : 0) < w.counter[j])
                fail_msg("%s: %s is %s, an INCR acknowledged %lld", when, keys[i], got[i] ? got[i] : "(nil)",
                         w.counter[j]);
            if (j < 0 && (!got[i] || strcmp(got[i], want[i]) != 0))
                fail_msg("%s: acknowledged %s is %s, not %s", when, keys[i], got[i] ? got[i] : "(nil)", want[i]);
            free(got[i]);
            checked++;
        }
    }
    print_message("# %s: %lld keys read back (writer: %lld writes acknowledged, %lld taken, %lld refused)\n", when,
                  checked, w.acked_writes, w.taken, w.refused);
}

/* ------------------------------------------------------------- the tool */

/* Start the tool (its output in tmpdir/tool-<n>.out), with
 * RINGKV_CLUSTER_STOP_AT=stop_port unless 0. */
static pid_t tool_start(int stop_port, const char *args, char *out_path, size_t out_len)
{
    static int runs;
    snprintf(out_path, out_len, "%s/tool-%d.out", tmpdir, runs++);
    char copy[512], *argv[16];
    snprintf(copy, sizeof copy, "%s", args);
    int argc = 0;
    argv[argc++] = (char *)tool_bin();
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && argc < 14; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    argv[argc++] = "--yes";
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        char port[16];
        snprintf(port, sizeof port, "%d", stop_port);
        if (stop_port)
            setenv("RINGKV_CLUSTER_STOP_AT", port, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    return text;
}

/* The writer runs until the tool exits (its status) or stops itself (-1). */
static int writer_until_tool(pid_t pid, const char *out_path)
{
    long long until = now_ms() + 180000;
    for (;;) {
        write_round();
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG | WUNTRACED);
        if (r == pid && WIFSTOPPED(st))
            return -1;
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fail_msg("the tool did not finish within 180 s:\n%s", slurp(out_path));
        }
    }
}

/* Run the tool under the writer; it must exit 0. Its output (static). */
static char *tool_under_writer(const char *args)
{
    char out[300];
    long long t0 = now_ms();
    pid_t pid = tool_start(0, args, out, sizeof out);
    int st = writer_until_tool(pid, out);
    char *text = slurp(out);
    if (st != 0)
        fail_msg("ringkv-cluster %s exited %d:\n%s", args, st, text);
    print_message("# ringkv-cluster %s: %lld ms\n", args, now_ms() - t0);
    return text;
}

/* ----------------------------------------------------------- the checks */

/* The port of a node's group master by its CLUSTER NODES, for the node
 * at port: is it flagged master there? */
static bool flagged_master_on(int on, int port)
{
    tconn *c = tconnect(node[on].port);
    struct rval *v = tcmd(c, "CLUSTER NODES");
    tclose(c);
    char addr[32];
    snprintf(addr, sizeof addr, " 127.0.0.1:%d@", port);
    bool master = false;
    for (char *line = strtok(v->str, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, addr))
            master = strstr(line, "master") != NULL;
    rval_free(v);
    return master;
}

/* Keep the writer going until every live member of the first groups
 * names the node at port a master (the Sentinels promoted it). */
static void writer_until_promoted(int port)
{
    long long t0 = now_ms(), until = t0 + 60000;
    for (int i = 0; i < 6; i++) {
        while (!node_dead[i] && !flagged_master_on(i, port)) {
            if (now_ms() > until)
                fail_msg("node %d was not promoted within 60 s", port);
            write_round();
        }
    }
    print_message("# %d promoted %lld ms after the kill\n", port, now_ms() - t0);
}

/* The keys a node holds, by SCAN: each must be of a slot owner[] gives
 * the node at port (its count returned). */
static long long keys_all_owned(int port, const int *owner)
{
    tconn *c = tconnect(port);
    long long n = 0;
    char cursor[32] = "0";
    do {
        const char *scan[] = { "SCAN", cursor, "COUNT", "1000" };
        tsendv(c, 4, scan);
        struct rval *v = tread(c, 10000);
        assert_non_null(v);
        assert_int_equal(v->type, R_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        for (size_t k = 0; k < v->elem[1]->n; k++) {
            const char *key = v->elem[1]->elem[k]->str;
            int s = (int)key_slot(key, strlen(key));
            if (owner[s] != port)
                fail_msg("master %d holds %s, of slot %d, which %d owns", port, key, s, owner[s]);
        }
        n += (long long)v->elem[1]->n;
        rval_free(v);
    } while (strcmp(cursor, "0") != 0);
    tclose(c);
    return n;
}

/* Every live node agrees on the owners; every live master holds keys of
 * its own slots only. */
static void check_one_owner(void)
{
    static int m0[16384], mi[16384];
    refresh_slots_on(live_member(), m0, NULL);
    for (int i = 0; i < NODES; i++) {
        if (node_dead[i])
            continue;
        tconn *c = tconnect(node[i].port);
        struct rval *v = tcmd(c, "CLUSTER INFO");
        tclose(c);
        bool in_cluster = strstr(v->str, "cluster_table_version:0\r") == NULL;
        rval_free(v);
        if (!in_cluster)
            continue;
        for (long long until = now_ms() + 20000;; usleep(50 * 1000)) {
            refresh_slots_on(i, mi, NULL);
            if (memcmp(m0, mi, sizeof m0) == 0)
                break;
            if (now_ms() > until)
                fail_msg("node %d does not agree on the slots' owners", node[i].port);
        }
    }
    for (int i = 0; i < NODES; i++) {
        bool master = false;
        for (int s = 0; s < 16384 && !master; s++)
            master = m0[s] == node[i].port;
        if (!master)
            continue;
        assert_false(node_dead[i]);
        keys_all_owned(node[i].port, m0);
    }
}

/* A digest of every key and value a node holds (strings only here), and
 * its key count. */
static unsigned long long digest_of(int port, long long *count)
{
    tconn *c = tconnect(port);
    expect_ok(tcmd(c, "READONLY"));
    unsigned long long sum = 0;
    *count = 0;
    char cursor[32] = "0";
    do {
        const char *scan[] = { "SCAN", cursor, "COUNT", "1000" };
        tsendv(c, 4, scan);
        struct rval *v = tread(c, 10000);
        assert_non_null(v);
        assert_int_equal(v->type, R_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        struct rval *keys = v->elem[1];
        for (size_t k = 0; k < keys->n; k++) {
            const char *get[] = { "GET", keys->elem[k]->str };
            tsendv(c, 2, get);
        }
        for (size_t k = 0; k < keys->n; k++) {
            struct rval *g = tread(c, 10000);
            assert_non_null(g);
            unsigned long long h = 1469598103934665603ULL;
            for (const char *p = keys->elem[k]->str; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
            h = (h ^ '=') * 1099511628211ULL;
            for (const char *p = g->type == R_BULK ? g->str : "(nil)"; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
            sum += h;
            rval_free(g);
        }
        *count += (long long)keys->n;
        rval_free(v);
    } while (strcmp(cursor, "0") != 0);
    tclose(c);
    return sum;
}

/* Every live replica holds exactly its master's keys (polled: the stream
 * may still be on its way). */
static void check_replicas_match(void)
{
    static int m[16384], r[16384];
    refresh_slots_on(live_member(), m, r);
    int checked = 0;
    for (int s = 0; s < 16384; s++) {
        if (!r[s] || (s > 0 && m[s] == m[s - 1] && r[s] == r[s - 1]))
            continue;
        bool seen = false; /* a pair with several ranges: once */
        for (int t = 0; t < s && !seen; t++)
            seen = m[t] == m[s] && r[t] == r[s];
        if (seen || node_dead[node_by_port(r[s])])
            continue;
        long long until = now_ms() + 20000, nm = 0, nr = 0;
        unsigned long long dm = 0, dr = 0;
        for (;;) {
            dm = digest_of(m[s], &nm);
            dr = digest_of(r[s], &nr);
            if (nm == nr && dm == dr)
                break;
            if (now_ms() > until)
                fail_msg("replica %d holds %lld keys (digest %llx), its master %d %lld (digest %llx)", r[s], nr, dr,
                         m[s], nm, dm);
            usleep(100 * 1000);
        }
        print_message("# master %d and replica %d: %lld keys each, same digest\n", m[s], r[s], nm);
        checked++;
    }
    assert_true(checked >= 3);
}

/* The share of slots the master at port owns. */
static double share_of(int port)
{
    refresh_slots();
    int n = 0;
    for (int s = 0; s < 16384; s++)
        n += slot_port[s] == port;
    return (double)n / 16384;
}

/* A key of the given slot (w.next is not used: keys of its own). */
static void key_in_slot(int slot, char *key, size_t len)
{
    for (int i = 0;; i++) {
        snprintf(key, len, "probe:%d", i);
        if ((int)key_slot(key, strlen(key)) == slot)
            return;
    }
}

/* Right after a move (within CLUSTER_GIVEN_AWAY_MS, 5 s, of its last
 * flip), the last slot moved starts coming back: its old owner, marked
 * IMPORTING, serves an ASKING connection the slot (it kept a mark of the
 * slot it gave away for a grace, which answered -MOVED to it, so a remove
 * right after an add failed: "Target instance replied with error:
 * MOVED"). Undone at once. */
static void slot_back_at_once(const int *before)
{
    refresh_slots();
    int s = 16383;
    while (s >= 0 && slot_port[s] == before[s])
        s--;
    assert_true(s >= 0);
    tconn *t = tconnect(slot_port[s]);
    struct rval *id = tcmd(t, "CLUSTER MYID");
    tclose(t);
    char key[32];
    key_in_slot(s, key, sizeof key);
    tconn *c = tconnect(before[s]);
    expect_ok(tcmd(c, "CLUSTER SETSLOT %d IMPORTING %s", s, id->str));
    expect_ok(tcmd(c, "ASKING"));
    struct rval *v = tcmd(c, "SET %s x", key);
    if (v->type != R_STATUS)
        fail_msg("SET of slot %d on its old owner, importing it, after ASKING: %s", s, rval_text(v));
    rval_free(v);
    expect_ok(tcmd(c, "ASKING"));
    expect_int(tcmd(c, "DEL %s", key), 1);
    expect_ok(tcmd(c, "CLUSTER SETSLOT %d STABLE", s));
    tclose(c);
    rval_free(id);
}

/* --------------------------------------------------------------- setup */

static int setup(void **state)
{
    (void)state;
    if (target_is_redis() || run_cmd("redis-sentinel --version >/dev/null 2>&1", NULL) != 0 ||
        run_cmd("redis-cli --version >/dev/null 2>&1", NULL) != 0) {
        skipped = true;
        return 0;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ringkv-test-rfaults-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(tmpdir))
        return -1;
    for (int i = 0; i < NSENT; i++)
        sentinel_start(i);
    for (int i = 0; i < NODES; i++) {
        snprintf(conf_path[i], sizeof conf_path[i], "%s/nodes-%d.conf", tmpdir, i);
        char conf[4096];
        snprintf(conf, sizeof conf, "cluster-enabled yes\ncluster-config-file %s\ncluster-node-timeout %d\n",
                 conf_path[i], TIMEOUT);
        assert_int_equal(server_start_conf(&node[i], conf, NULL), 0);
    }
    char cmd[2048], *out = NULL;
    int len = snprintf(cmd, sizeof cmd, "timeout 60 %s create", tool_bin());
    for (int i = 0; i < 6; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " 127.0.0.1:%d", node[i].port);
    snprintf(cmd + len, sizeof cmd - (size_t)len,
             " --replicas 1 --sentinels 127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d 2>&1 </dev/null", sent_port[0],
             sent_port[1], sent_port[2]);
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("create exited %d:\n%s", st, out);
    free(out);
    /* the fill, pipelined to each key's master, then WAIT 1 there: every
     * key is on its replica too */
    refresh_slots();
    long long sent[NODES] = { 0 };
    for (int i = 0; i < KEYS; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "k:%d", i);
        snprintf(val, sizeof val, "v%d", i);
        int port = slot_port[key_slot(key, strlen(key))];
        const char *set[] = { "SET", key, val };
        tsendv(conn_to(port), 3, set);
        sent[node_by_port(port)]++;
    }
    for (int j = 0; j < COUNTERS; j++) {
        char key[32];
        snprintf(key, sizeof key, "c:%d", j);
        int port = slot_port[key_slot(key, strlen(key))];
        const char *set[] = { "SET", key, "0" };
        tsendv(conn_to(port), 3, set);
        sent[node_by_port(port)]++;
    }
    for (int i = 0; i < NODES; i++) {
        for (long long k = 0; k < sent[i]; k++)
            expect_ok(tread(conns[i], 10000));
        if (sent[i]) {
            struct rval *v = tcmd(conns[i], "WAIT 1 10000");
            assert_true(v->type == R_INT && v->integer == 1);
            rval_free(v);
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (skipped)
        return 0;
    int rc = 0;
    for (int i = 0; i < NODES; i++) {
        tclose(conns[i]);
        conns[i] = NULL;
        if (!node_dead[i] && node[i].pid > 0 && server_stop(&node[i]) != 0) {
            print_error("node %d did not exit cleanly (a sanitizer report?)\n", i);
            rc = -1;
        }
    }
    for (int i = 0; i < NSENT; i++)
        if (sent_pid[i] > 0) {
            kill(sent_pid[i], SIGKILL);
            waitpid(sent_pid[i], NULL, 0);
        }
    if (getenv("RINGKV_TEST_VERBOSE")) {
        printf("logs kept in %s\n", tmpdir);
    } else {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        run_cmd(cmd, NULL);
    }
    return rc;
}

/* ----------------------------------------------------------------- tests */

static void test_add_remove_with_replicas(void **state)
{
    (void)state;
    if (skipped)
        skip();
    static int before[16384];
    refresh_slots_on(0, before, NULL);
    char args[300];
    snprintf(args, sizeof args, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", node[0].port, node[6].port,
             node[7].port);
    tool_under_writer(args);
    slot_back_at_once(before);
    double share = share_of(node[6].port);
    print_message("# the new group owns %.2f%% of the slots\n", share * 100);
    assert_true(share >= 0.22 && share <= 0.27);
    check_acknowledged("after add");
    check_one_owner();
    check_replicas_match();

    snprintf(args, sizeof args, "remove 127.0.0.1:%d 127.0.0.1:%d", node[1].port, node[6].port);
    tool_under_writer(args);
    assert_true(share_of(node[6].port) == 0);
    check_acknowledged("after remove");
    check_one_owner();
    check_replicas_match();
    /* the removed group's nodes are empty (the replica dropped the keys
     * its master gave away) and in no cluster */
    for (int i = 6; i <= 7; i++) {
        tconn *c = tconnect(node[i].port);
        expect_int(tcmd(c, "DBSIZE"), 0);
        tclose(c);
    }
}

/* The marks CLUSTER NODES shows on node i's own line ("[s->-id]",
 * "[s-<-id]"). */
static int marks_on(int i)
{
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "CLUSTER NODES");
    tclose(c);
    int n = 0;
    for (const char *line = v->str; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *own = strndup(line, len);
        assert_non_null(own);
        if (strstr(own, "myself")) {
            for (const char *p = own; (p = strstr(p, "->-")); p++)
                n++;
            for (const char *p = own; (p = strstr(p, "-<-")); p++)
                n++;
        }
        free(own);
        line = end ? end + 1 : NULL;
    }
    rval_free(v);
    return n;
}

/* add of a group killed in the middle of a step (every group has a
 * replica), then add --abort: no node shows a slot mark, the replicas
 * included (a move marks both groups' replicas before their masters; an
 * abort that cleared and checked the masters only left them, and such a
 * replica, promoted, answered -ASK for slots no node imports). */
static void test_add_killed_aborted_no_marks_anywhere(void **state)
{
    (void)state;
    if (skipped)
        skip();
    char args[300], out[300];
    snprintf(args, sizeof args, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", node[0].port, node[6].port,
             node[7].port);
    setenv("RINGKV_CLUSTER_DIE_AFTER_FLIPS", "0", 1);
    pid_t pid = tool_start(0, args, out, sizeof out);
    unsetenv("RINGKV_CLUSTER_DIE_AFTER_FLIPS");
    int st = writer_until_tool(pid, out);
    char *text = slurp(out);
    if (!strstr(text, "[TEST] killing myself"))
        fail_msg("the add meant to be killed exited %d:\n%s", st, text);
    int on_replicas = 0;
    for (int i = 0; i < 8; i++) {
        int n = marks_on(i);
        print_message("# node %d shows %d slot marks after the kill\n", i, n);
        if (i >= 3 && i <= 5)
            on_replicas += n;
    }
    assert_true(on_replicas > 0); /* the sources' replicas were marked */
    snprintf(args + strlen(args), sizeof args - strlen(args), " --abort");
    tool_under_writer(args);
    for (int i = 0; i < 8; i++) {
        int n = marks_on(i);
        if (n != 0)
            fail_msg("node %d (port %d) still shows %d slot marks after add --abort", i, node[i].port, n);
    }
    check_acknowledged("after add --abort");
    check_one_owner();
    check_replicas_match();
}

static void test_target_killed_mid_move(void **state)
{
    (void)state;
    if (skipped)
        skip();
    char args[300], out[300];
    snprintf(args, sizeof args, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", node[0].port, node[6].port,
             node[7].port);
    pid_t pid = tool_start(node[6].port, args, out, sizeof out);
    int st = writer_until_tool(pid, out);
    char *text = slurp(out);
    if (st != -1)
        fail_msg("the tool did not stop mid-move (exit %d):\n%s", st, text);
    int from_slot = -1, to_slot = -1, src_port = 0, dst_port = 0;
    const char *line = strstr(text, "[TEST] stopping in the middle of moving slots ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "[TEST] stopping in the middle of moving slots %d-%d from 127.0.0.1:%d to 127.0.0.1:%d",
                            &from_slot, &to_slot, &src_port, &dst_port), 4);
    assert_int_equal(dst_port, node[6].port);

    kill_node(6);
    writer_until_promoted(node[7].port);
    /* the source sends a key it does not have to the promoted replica,
     * which takes it for the slot it imports */
    char key[32];
    key_in_slot(from_slot, key, sizeof key);
    tconn *c = tconnect(src_port);
    struct rval *v = tcmd(c, "SET %s x", key);
    char want[64];
    snprintf(want, sizeof want, "ASK %d 127.0.0.1:%d", from_slot, node[7].port);
    if (v->type != R_ERROR || strcmp(v->str, want) != 0)
        fail_msg("SET of a new key of a moving slot on the source: %s, not -%s", rval_text(v), want);
    rval_free(v);
    tclose(c);
    c = tconnect(node[7].port);
    expect_ok(tcmd(c, "ASKING"));
    expect_ok(tcmd(c, "SET %s x", key));
    expect_error_prefix(tcmd(c, "DEL %s", key), "MOVED "); /* ASKING wore off */
    tclose(c);

    kill(pid, SIGCONT);
    st = writer_until_tool(pid, out);
    print_message("# the stopped tool went on and exited %d\n", st);
    /* the same command again, a node of it dead */
    text = tool_under_writer(args);
    assert_non_null(strstr(text, "going on with its slots"));
    double share = share_of(node[7].port);
    print_message("# the new group owns %.2f%% of the slots\n", share * 100);
    assert_true(share >= 0.22 && share <= 0.27);
    check_acknowledged("after the target was killed");
    check_one_owner();
    check_replicas_match();
}

static void test_source_killed_mid_move(void **state)
{
    (void)state;
    if (skipped)
        skip();
    /* a source with a live replica: the master of slot 0's group */
    static int m[16384], r[16384];
    refresh_slots_on(live_member(), m, r);
    int victim = -1;
    for (int s = 0; s < 16384 && victim < 0; s++) {
        int i = node_by_port(m[s]);
        if (i < 6 && r[s] && !node_dead[node_by_port(r[s])])
            victim = i;
    }
    assert_true(victim >= 0);
    int replica = 0;
    for (int s = 0; s < 16384; s++)
        if (m[s] == node[victim].port)
            replica = r[s];
    int any = victim == 0 ? 1 : 0;
    char args[300], out[300];
    snprintf(args, sizeof args, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", node[any].port, node[8].port,
             node[9].port);
    pid_t pid = tool_start(node[victim].port, args, out, sizeof out);
    int st = writer_until_tool(pid, out);
    char *text = slurp(out);
    if (st != -1)
        fail_msg("the tool did not stop mid-move (exit %d):\n%s", st, text);
    int src_port = 0;
    const char *line = strstr(text, "[TEST] stopping in the middle of moving slots ");
    assert_non_null(line);
    int a, b, dst_port;
    assert_int_equal(sscanf(line, "[TEST] stopping in the middle of moving slots %d-%d from 127.0.0.1:%d to 127.0.0.1:%d",
                            &a, &b, &src_port, &dst_port), 4);
    assert_int_equal(src_port, node[victim].port);

    kill_node(victim);
    writer_until_promoted(replica);
    /* the move half done, its source replaced: nothing acknowledged is
     * out of sight (the promoted replica sends -ASK for what has gone) */
    check_acknowledged("the source failed over, the move not resumed");

    kill(pid, SIGCONT);
    st = writer_until_tool(pid, out);
    print_message("# the stopped tool went on and exited %d\n", st);
    snprintf(args, sizeof args, "add 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", node[any].port, node[8].port,
             node[9].port);
    text = tool_under_writer(args);
    assert_non_null(strstr(text, "going on with its slots"));
    double share = share_of(node[8].port);
    print_message("# the fifth group owns %.2f%% of the slots\n", share * 100);
    assert_true(share >= 0.17 && share <= 0.22);
    check_acknowledged("after the source was killed");
    check_one_owner();
    check_replicas_match();
}

/* MIGRATE in cluster mode deletes a key on the source only once the
 * target's replicas have it too: with the target's replica stopped
 * (SIGSTOP: connected, answering nothing), MIGRATE answers NOREPLICAS and
 * the key stays on the source; with it going again, the key moves. Before,
 * the source deleted it at the target master's +OK, and a target master
 * killed within its replication lag lost it. */
static void test_migrate_waits_for_target_replicas(void **state)
{
    (void)state;
    if (skipped)
        skip();
    int target = 8, replica = 9;
    assert_false(node_dead[target] || node_dead[replica]);
    refresh_slots();
    int s = 0;
    while (s < 16384 && (slot_port[s] == node[target].port || node_dead[node_by_port(slot_port[s])]))
        s++;
    assert_true(s < 16384);
    int src = slot_port[s];
    char key[32];
    key_in_slot(s, key, sizeof key);
    tconn *t = tconnect(node[target].port), *c = tconnect(src);
    struct rval *tid = tcmd(t, "CLUSTER MYID"), *sid = tcmd(c, "CLUSTER MYID");
    expect_ok(tcmd(c, "SET %s moved-once", key));
    expect_ok(tcmd(t, "CLUSTER SETSLOT %d IMPORTING %s", s, sid->str));
    expect_ok(tcmd(c, "CLUSTER SETSLOT %d MIGRATING %s", s, tid->str));

    /* the replica's link is up and has everything (a precondition: the
     * stopped replica must be one the target counts) */
    for (long long until = now_ms() + 30000;; usleep(50 * 1000)) {
        struct rval *role = tcmd(t, "ROLE");
        bool linked = role->type == R_ARRAY && role->n == 3 && role->elem[2]->n >= 1;
        rval_free(role);
        if (linked) {
            struct rval *w1 = tcmd(t, "WAIT 1 5000");
            linked = w1->type == R_INT && w1->integer >= 1;
            rval_free(w1);
        }
        if (linked)
            break;
        if (now_ms() > until)
            fail_msg("the target %d has no replica caught up", node[target].port);
    }
    process_stop(node[replica].pid);
    struct rval *before = tcmd(t, "ROLE");
    long long t0 = now_ms();
    struct rval *v = tcmd(c, "MIGRATE 127.0.0.1 %d %s 0 3000", node[target].port, key);
    long long took = now_ms() - t0;
    kill(node[replica].pid, SIGCONT);
    if (v->type != R_ERROR || !strstr(v->str, "NOREPLICAS")) {
        struct rval *role = tcmd(t, "ROLE");
        fail_msg("MIGRATE with the target's replica (port %d) stopped: %s after %lld ms (the target's ROLE "
                 "before: %s, after: %s)", node[replica].port, rval_text(v), took, rval_text(before),
                 rval_text(role));
    }
    rval_free(before);
    print_message("# %s\n", v->str);
    rval_free(v);
    expect_bulk(tcmd(c, "GET %s", key), "moved-once"); /* still here */

    /* REPLACE, as the tool sends it: the target's master has a copy */
    expect_ok(tcmd(c, "MIGRATE 127.0.0.1 %d %s 0 10000 REPLACE", node[target].port, key));
    v = tcmd(c, "GET %s", key);
    expect_error_prefix(v, "ASK ");
    tconn *r = tconnect(node[replica].port);
    expect_int(tcmd(r, "CLUSTER COUNTKEYSINSLOT %d", s), 1); /* the replica had it before the +OK */
    tclose(r);
    /* undone */
    expect_ok(tcmd(t, "ASKING"));
    expect_int(tcmd(t, "DEL %s", key), 1);
    expect_ok(tcmd(t, "CLUSTER SETSLOT %d STABLE", s));
    expect_ok(tcmd(c, "CLUSTER SETSLOT %d STABLE", s));
    rval_free(tid);
    rval_free(sid);
    tclose(t);
    tclose(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_remove_with_replicas),
        cmocka_unit_test(test_add_killed_aborted_no_marks_anywhere),
        cmocka_unit_test(test_target_killed_mid_move),
        cmocka_unit_test(test_source_killed_mid_move),
        cmocka_unit_test(test_migrate_waits_for_target_replicas),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
