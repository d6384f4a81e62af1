/* A ringkv cluster's high availability with real redis-sentinel processes
 * (issue 10; ARCHITECTURE.md "Cluster"; shards/cluster/sentinels.h,
 * fence.h). Six nodes (3 groups x master + 1 replica) made by
 * ringkv-cluster with cluster-node-timeout 2000, three Sentinels.
 *
 *  a) kill -9 of a master under a writer that confirms each write with
 *     WAIT 1: CLUSTER SLOTS on every live node names the promoted replica
 *     for that group's slots, writes to those slots resume, and every write
 *     WAIT acknowledged reads back from the new master. The group's record
 *     carries the Sentinels' config epoch (epoch >> 32 >= 1).
 *  b) the nodes reach the Sentinels through proxies (tests/proxy.c; the
 *     Sentinels reach the nodes directly, so they see every master alive
 *     and promote nobody): with the proxies stalled, a master answers
 *     writes -CLUSTERDOWN The cluster is down within cluster-node-timeout
 *     (+ slack for a loaded machine) and still serves reads, its CLUSTER
 *     INFO saying cluster_state:fail (Redis's minority partition); with the
 *     proxies flowing again it takes writes again, cluster_state:ok.
 *  d) a node that can reach no other node (its peers' addresses are dead)
 *     and one "Sentinel" (a scripted one in this test, so its answers can
 *     be chosen): it takes the master the Sentinel names for a group, with
 *     the Sentinel's config epoch << 32, but not while the Sentinel says a
 *     failover is in progress, not from a lower config epoch, not a master
 *     that is no node of the group; restarted, it asks the Sentinel again
 *     (the address is in its cluster config file), and, a master by its
 *     file, takes no write until the Sentinel answers.
 *  c) without Sentinels: a master whose two fellow masters stop answering
 *     (SIGSTOP: a process that answers nothing, as a partition looks from
 *     the master) fences the same way, and takes writes once they answer.
 *
 * Nothing here sleeps as an assertion: every condition is polled up to a
 * generous deadline. Skipped (77) without redis-sentinel or redis-cli, and
 * on the redis target (the cluster is ringkv's). Node and Sentinel logs
 * are kept in the temp directory when RINGKV_TEST_VERBOSE is set. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "proxy.h"

#define NODES   6
#define NSENT   3
#define TIMEOUT 2000 /* cluster-node-timeout, the Sentinels' down-after-milliseconds */
#define ERR_DOWN "CLUSTERDOWN The cluster is down"

static struct server node[NODES];
static bool node_dead[NODES];
static bool node_stopped[NODES];
static char conf_path[NODES][300];
static pid_t sent_pid[NSENT];
static int sent_port[NSENT];
static struct proxy *sent_proxy[NSENT];
static char tmpdir[128];

static const char *tool_bin(void)
{
    const char *t = getenv("RINGKV_CLUSTER");
    return t ? t : "build/ringkv-cluster";
}

/* --------------------------------------------------------------- setup */

/* From a config file: Sentinel's promotion sends CONFIG REWRITE. */
static void start_nodes(void)
{
    for (int i = 0; i < NODES; i++) {
        snprintf(conf_path[i], sizeof conf_path[i], "%s/nodes-%d.conf", tmpdir, i);
        char conf[2000];
        snprintf(conf, sizeof conf, "cluster-enabled yes\ncluster-config-file %s\ncluster-node-timeout %d\n",
                 conf_path[i], TIMEOUT);
        assert_int_equal(server_start_conf(&node[i], conf, NULL), 0);
        node_dead[i] = node_stopped[i] = false;
    }
}

static void stop_nodes(void)
{
    for (int i = 0; i < NODES; i++) {
        if (node_stopped[i])
            kill(node[i].pid, SIGCONT);
        if (!node_dead[i])
            server_stop(&node[i]);
        unlink(conf_path[i]);
    }
}

static void sentinel_start(int i)
{
    sent_pid[i] = sentinel_spawn(tmpdir, i, "loglevel verbose\n", &sent_port[i]);
}

/* Run the tool (stdin not a terminal); fails the test unless it exits 0. */
static void create(const char *extra)
{
    char cmd[2048], *out = NULL;
    int len = snprintf(cmd, sizeof cmd, "timeout 60 %s create", tool_bin());
    for (int i = 0; i < NODES; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " 127.0.0.1:%d", node[i].port);
    snprintf(cmd + len, sizeof cmd - (size_t)len, " --replicas 1 %s 2>&1 </dev/null", extra);
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("create exited %d:\n%s", st, out);
    free(out);
}

static int mktmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ringkv-test-csent-%d-XXXXXX", (int)getpid());
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void rmtmp(void)
{
    if (getenv("RINGKV_TEST_VERBOSE")) {
        printf("logs kept in %s\n", tmpdir);
        return;
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    run_cmd(cmd, NULL);
}

/* Three Sentinels, each behind a proxy the nodes are given; six nodes. */
static int sentinels_setup(void **state)
{
    (void)state;
    if (mktmp() != 0)
        return -1;
    for (int i = 0; i < NSENT; i++) {
        sentinel_start(i);
        sent_proxy[i] = proxy_start(sent_port[i]);
    }
    start_nodes();
    char list[200];
    snprintf(list, sizeof list, "--sentinels 127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", proxy_port(sent_proxy[0]),
             proxy_port(sent_proxy[1]), proxy_port(sent_proxy[2]));
    create(list);
    return 0;
}

static int sentinels_teardown(void **state)
{
    (void)state;
    stop_nodes();
    for (int i = 0; i < NSENT; i++) {
        proxy_stop(sent_proxy[i]);
        if (sent_pid[i] > 0) {
            kill(sent_pid[i], SIGKILL);
            waitpid(sent_pid[i], NULL, 0);
        }
    }
    rmtmp();
    return 0;
}

static int plain_setup(void **state)
{
    (void)state;
    if (mktmp() != 0)
        return -1;
    start_nodes();
    create("");
    return 0;
}

static int plain_teardown(void **state)
{
    (void)state;
    stop_nodes();
    rmtmp();
    return 0;
}

/* ------------------------------------------------------------- helpers */

static int live_node(void)
{
    for (int i = 0; i < NODES; i++)
        if (!node_dead[i] && !node_stopped[i])
            return i;
    fail_msg("no live node");
    return -1;
}

static int node_by_port(int port)
{
    for (int i = 0; i < NODES; i++)
        if (node[i].port == port)
            return i;
    fail_msg("no node on port %d", port);
    return -1;
}

static int slot_of(const char *key)
{
    tconn *c = tconnect(node[live_node()].port);
    long long s = get_int(tcmd(c, "CLUSTER KEYSLOT %s", key));
    tclose(c);
    return (int)s;
}

/* The port CLUSTER SLOTS on node i names as the master of slot, and its
 * replica's port in *replica (0 when none). */
static int master_of_slot_on(int i, int slot, int *replica)
{
    tconn *c = tconnect(node[i].port);
    struct rval *v = tcmd(c, "CLUSTER SLOTS");
    tclose(c);
    int port = 0;
    assert_int_equal(v->type, R_ARRAY);
    for (size_t r = 0; r < v->n; r++) {
        struct rval *range = v->elem[r];
        if (slot < range->elem[0]->integer || slot > range->elem[1]->integer)
            continue;
        port = (int)range->elem[2]->elem[1]->integer;
        if (replica)
            *replica = range->n > 3 ? (int)range->elem[3]->elem[1]->integer : 0;
    }
    rval_free(v);
    return port;
}

static int master_of_slot(int slot, int *replica)
{
    return master_of_slot_on(live_node(), slot, replica);
}

/* SET key on port: the reply's text ("OK", or the error). malloc'd. */
static char *try_set(int port, const char *key)
{
    tconn *c = tconnect(port);
    struct rval *v = tcmd(c, "SET %s v", key);
    tclose(c);
    char *t = v ? strdup(v->type == R_ERROR || v->type == R_STATUS ? v->str : "?") : strdup("(no reply)");
    rval_free(v);
    return t;
}

/* CLUSTER INFO's cluster_state on port is want ("ok" or "fail"). */
static void expect_cluster_state(int port, const char *want)
{
    tconn *c = tconnect(port);
    struct rval *v = tcmd(c, "CLUSTER INFO");
    tclose(c);
    assert_non_null(v);
    assert_non_null(v->str); /* a bulk string, verbatim in RESP3 */
    char line[64];
    snprintf(line, sizeof line, "cluster_state:%s\r\n", want);
    if (!strstr(v->str, line))
        fail_msg("CLUSTER INFO on %d: expected %s, got:\n%s", port, line, v->str);
    rval_free(v);
}

/* Poll SET on port until its answer starts with want; the ms it took, or
 * fails the test after limit_ms with the last answer. */
static long long wait_set_answer(int port, const char *key, const char *want, long long limit_ms)
{
    long long start = now_ms();
    char *last = NULL;
    for (;;) {
        free(last);
        last = try_set(port, key);
        if (strncmp(last, want, strlen(want)) == 0)
            break;
        if (now_ms() - start > limit_ms)
            fail_msg("SET %s on %d answered '%s' for %lld ms, expected '%s'", key, port, last, limit_ms, want);
        usleep(50 * 1000);
    }
    free(last);
    return now_ms() - start;
}

/* ------------------------------------------- b) cut off from the Sentinels */

static void test_cut_off_from_sentinels_fences(void **state)
{
    (void)state;
    int slot = slot_of("{fence}");
    int mport = master_of_slot(slot, NULL);
    /* the nodes have reached the Sentinels (the fence is not up) */
    wait_set_answer(mport, "{fence}:0", "OK", 10000);
    tconn *c = tconnect(mport);
    expect_ok(tcmd(c, "SET {fence}:kept before"));
    tclose(c);

    for (int i = 0; i < NSENT; i++)
        proxy_set_stall(sent_proxy[i], true);
    long long took = wait_set_answer(mport, "{fence}:1", ERR_DOWN, TIMEOUT + 8000);
    printf("# fenced %lld ms after the Sentinels were cut off (cluster-node-timeout %d)\n", took, TIMEOUT);
    /* within the timeout, plus the ask period and slack for a loaded machine */
    assert_true(took <= TIMEOUT + 3000);
    /* reads are still served; CLUSTER INFO says fail, as a Redis Cluster
     * node in a minority partition does */
    c = tconnect(mport);
    expect_bulk(tcmd(c, "GET {fence}:kept"), "before");
    expect_error(tcmd(c, "DEL {fence}:kept"), ERR_DOWN);
    tclose(c);
    expect_cluster_state(mport, "fail");
    /* still fenced a while later: the Sentinels see the master alive, so
     * nobody was promoted, and the record still names it */
    usleep(TIMEOUT * 1000);
    char *t = try_set(mport, "{fence}:2");
    assert_string_equal(t, ERR_DOWN);
    free(t);

    for (int i = 0; i < NSENT; i++)
        proxy_set_stall(sent_proxy[i], false);
    took = wait_set_answer(mport, "{fence}:3", "OK", 20000);
    printf("# writes taken again %lld ms after the links healed\n", took);
    expect_cluster_state(mport, "ok");
    assert_int_equal(master_of_slot(slot, NULL), mport);
}

/* ------------------------------------------------ a) kill -9 of a master */

/* One write confirmed by WAIT 1 (waiting up to wait_ms): 2 when WAIT said
 * >= 1 replica has it, 1 when only the SET was taken, 0 when refused. */
static int write_acked(tconn *c, const char *key, int wait_ms)
{
    char ms[16];
    snprintf(ms, sizeof ms, "%d", wait_ms);
    const char *set[] = { "SET", key, key };
    tsendv(c, 3, set);
    const char *wait[] = { "WAIT", "1", ms };
    tsendv(c, 3, wait);
    struct rval *a = tread(c, 5000 + wait_ms);
    struct rval *b = a ? tread(c, 5000 + wait_ms) : NULL;
    int got = a && b && a->type == R_STATUS ? 1 + (b->type == R_INT && b->integer >= 1) : 0;
    rval_free(a);
    rval_free(b);
    return got;
}

static void test_kill_master_failover(void **state)
{
    (void)state;
    int slot = slot_of("{ha}");
    int replica = 0;
    int mport = master_of_slot(slot, &replica);
    assert_true(replica > 0);
    int victim = node_by_port(mport);
    wait_set_answer(mport, "{ha}:warm", "OK", 10000);

    enum { MAX_KEYS = 100000 };
    static bool acked[MAX_KEYS];
    memset(acked, 0, sizeof acked);
    int next = 0, acked_before = 0, acked_after = 0;
    char key[64];
    tconn *c = tconnect(mport);
    /* the writer: 200 acknowledged writes, the kill, then on until the
     * promoted replica has taken 20 (WAIT 1 cannot say more than 0 then:
     * its only replica is the dead node) */
    while (acked_before < 200 && next < MAX_KEYS) {
        snprintf(key, sizeof key, "{ha}:%d", next);
        if (write_acked(c, key, 1000) == 2) {
            acked[next] = true;
            acked_before++;
        }
        next++;
    }
    server_kill(&node[victim]);
    node_dead[victim] = true;
    long long killed = now_ms();
    /* a write in flight at the kill may or may not have been taken: only
     * what WAIT acknowledged counts */
    snprintf(key, sizeof key, "{ha}:%d", next);
    if (write_acked(c, key, 1000) == 2)
        acked[next] = true;
    next++;
    tclose(c);
    c = NULL;
    int target = 0;
    long long first_ack = 0;
    while (acked_after < 20 && next < MAX_KEYS) {
        if (now_ms() - killed > 60000)
            fail_msg("writes to slot %d did not resume within 60 s of the kill", slot);
        if (!c) {
            target = master_of_slot(slot, NULL);
            if (target == mport) {
                usleep(100 * 1000);
                continue;
            }
            c = tconnect(target);
        }
        snprintf(key, sizeof key, "{ha}:%d", next);
        int got = write_acked(c, key, 100);
        if (got) {
            acked[next] = got == 2;
            acked_after++;
            if (!first_ack)
                first_ack = now_ms();
        } else {
            tclose(c); /* MOVED, CLUSTERDOWN, READONLY, NOREPLICAS...: look again */
            c = NULL;
            usleep(100 * 1000);
        }
        next++;
    }
    tclose(c);
    printf("# first write taken by the promoted replica %lld ms after the kill\n", first_ack - killed);
    assert_int_equal(target, replica);

    /* every live node names the promoted replica for the slot */
    for (int i = 0; i < NODES; i++) {
        if (node_dead[i])
            continue;
        int got = 0;
        for (long long until = now_ms() + 20000; now_ms() < until; usleep(100 * 1000))
            if ((got = master_of_slot_on(i, slot, NULL)) == replica)
                break;
        if (got != replica)
            fail_msg("node %d names %d as the master of slot %d, not the promoted %d", node[i].port, got, slot,
                     replica);
    }
    /* the group's record carries the Sentinels' config epoch: every node
     * learnt it from them, whatever the promoted node recorded first */
    for (int i = 0; i < NODES; i++) {
        if (node_dead[i])
            continue;
        bool sentinel_epoch = false;
        for (long long until = now_ms() + 20000; now_ms() < until && !sentinel_epoch; usleep(100 * 1000)) {
            tconn *n = tconnect(node[i].port);
            struct rval *v = tcmd(n, "CLUSTER RINGKV-VERSIONS");
            tclose(n);
            if (v->type != R_BULK && v->type != R_VERBATIM)
                fail_msg("CLUSTER RINGKV-VERSIONS: %s", rval_text(v));
            for (char *line = strtok(v->str, "\n"); line; line = strtok(NULL, "\n")) {
                unsigned long long id, epoch;
                if (sscanf(line, "group %llu %llu", &id, &epoch) == 2 && (epoch >> 32) >= 1)
                    sentinel_epoch = true;
            }
            rval_free(v);
        }
        if (!sentinel_epoch)
            fail_msg("node %d has no group record with a Sentinel config epoch", node[i].port);
    }

    /* every acknowledged write reads back from the new master */
    c = tconnect(replica);
    int lost = 0, checked = 0;
    for (int i = 0; i < next; i++) {
        if (!acked[i])
            continue;
        snprintf(key, sizeof key, "{ha}:%d", i);
        const char *get[] = { "GET", key };
        tsendv(c, 2, get);
        struct rval *v = tread(c, 5000);
        assert_non_null(v);
        if (v->type != R_BULK || strcmp(v->str, key) != 0)
            lost++;
        rval_free(v);
        checked++;
    }
    tclose(c);
    printf("# %d acknowledged writes checked, %d lost\n", checked, lost);
    assert_int_equal(lost, 0);
}

/* ---------------------------------- c) without Sentinels: the masters */

static void test_cut_off_from_masters_fences(void **state)
{
    (void)state;
    int slot = slot_of("{alone}");
    int mport = master_of_slot(slot, NULL);
    wait_set_answer(mport, "{alone}:0", "OK", 10000);
    expect_cluster_state(mport, "ok");
    tconn *c = tconnect(mport);
    expect_ok(tcmd(c, "SET {alone}:kept before"));
    tclose(c);
    /* the two other masters stop answering */
    int others[2], nothers = 0;
    for (int s = 0; s < 16384 && nothers < 2; s += 64) {
        int p = master_of_slot(s, NULL);
        if (p != mport && (nothers == 0 || others[0] != p))
            others[nothers++] = p;
    }
    assert_int_equal(nothers, 2);
    for (int k = 0; k < 2; k++) {
        int i = node_by_port(others[k]);
        process_stop(node[i].pid);
        node_stopped[i] = true;
    }
    long long took = wait_set_answer(mport, "{alone}:1", ERR_DOWN, TIMEOUT + 8000);
    printf("# fenced %lld ms after the other masters stopped answering\n", took);
    assert_true(took <= TIMEOUT + 3000);
    c = tconnect(mport);
    expect_bulk(tcmd(c, "GET {alone}:kept"), "before");
    tclose(c);
    expect_cluster_state(mport, "fail"); /* Redis's minority partition */
    for (int k = 0; k < 2; k++) {
        int i = node_by_port(others[k]);
        kill(node[i].pid, SIGCONT);
        node_stopped[i] = false;
    }
    took = wait_set_answer(mport, "{alone}:2", "OK", 20000);
    printf("# writes taken again %lld ms after the masters answered again\n", took);
    expect_cluster_state(mport, "ok");
}

/* ------------------------------- d) learning from a Sentinel, alone */

/* A scripted Sentinel: answers SENTINEL MASTER ringkv-1 from fake_view,
 * "No such master" for other names, SUBSCRIBE with its confirmation. */
static struct {
    pthread_mutex_t lock;
    int             listen_fd;
    int             port;
    int             asked;       /* SENTINEL MASTER ringkv-1 answered */
    char            view[512];   /* the reply to it (RESP), "" for -ERR */
    volatile int    mute;        /* read commands, answer none */
    volatile int    stop;
    pthread_t       thread;
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void fake_set_view(int port, int config_epoch, const char *flags)
{
    const char *f[8][2];
    char p[16], e[16];
    snprintf(p, sizeof p, "%d", port);
    snprintf(e, sizeof e, "%d", config_epoch);
    f[0][0] = "name", f[0][1] = "ringkv-1";
    f[1][0] = "ip", f[1][1] = "127.0.0.1";
    f[2][0] = "port", f[2][1] = p;
    f[3][0] = "flags", f[3][1] = flags;
    f[4][0] = "config-epoch", f[4][1] = e;
    f[5][0] = "quorum", f[5][1] = "1";
    pthread_mutex_lock(&fake.lock);
    int len = snprintf(fake.view, sizeof fake.view, "*12\r\n");
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 2; k++)
            len += snprintf(fake.view + len, sizeof fake.view - (size_t)len, "$%zu\r\n%s\r\n", strlen(f[i][k]),
                            f[i][k]);
    pthread_mutex_unlock(&fake.lock);
}

static int fake_asked(void)
{
    pthread_mutex_lock(&fake.lock);
    int n = fake.asked;
    pthread_mutex_unlock(&fake.lock);
    return n;
}

/* One whole multibulk command at the start of buf: its words (NUL-ended
 * in place) and its length, or 0 when incomplete. */
static size_t fake_parse(char *buf, size_t n, char **w, int *nw)
{
    char *p = buf, *end = buf + n;
    if (n < 4 || *p != '*')
        return 0;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return 0;
    int argc = atoi(p + 1);
    p = nl + 1;
    *nw = 0;
    for (int i = 0; i < argc; i++) {
        if (p >= end || *p != '$')
            return 0;
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return 0;
        size_t len = (size_t)atol(p + 1);
        p = nl + 1;
        if ((size_t)(end - p) < len + 2)
            return 0;
        if (*nw < 8)
            w[(*nw)++] = p;
        p[len] = '\0';
        p += len + 2;
    }
    return (size_t)(p - buf);
}

static void *fake_run(void *arg)
{
    (void)arg;
    struct pollfd fds[64];
    char bufs[64][4096];
    size_t used[64];
    int n = 1;
    fds[0] = (struct pollfd){ .fd = fake.listen_fd, .events = POLLIN };
    while (!fake.stop) {
        if (poll(fds, (nfds_t)n, 50) <= 0)
            continue;
        if ((fds[0].revents & POLLIN) && n < 64) {
            int fd = accept(fake.listen_fd, NULL, NULL);
            if (fd >= 0) {
                fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
                used[n++] = 0;
            }
        }
        for (int i = 1; i < n; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(fds[i].fd, bufs[i] + used[i], sizeof bufs[i] - used[i] - 1);
            if (r <= 0) {
                close(fds[i].fd);
                fds[i] = fds[n - 1];
                memcpy(bufs[i], bufs[n - 1], used[n - 1]);
                used[i] = used[n - 1];
                n--;
                i--;
                continue;
            }
            used[i] += (size_t)r;
            for (;;) {
                char *w[8];
                int nw = 0;
                size_t len = fake_parse(bufs[i], used[i], w, &nw);
                if (len == 0)
                    break;
                char out[600];
                if (fake.mute) {
                    memmove(bufs[i], bufs[i] + len, used[i] - len);
                    used[i] -= len;
                    continue;
                }
                if (nw >= 2 && strcasecmp(w[0], "SUBSCRIBE") == 0) {
                    snprintf(out, sizeof out, "*3\r\n$9\r\nsubscribe\r\n$%zu\r\n%s\r\n:1\r\n", strlen(w[1]), w[1]);
                } else if (nw == 3 && strcasecmp(w[0], "SENTINEL") == 0 && strcasecmp(w[1], "MASTER") == 0) {
                    pthread_mutex_lock(&fake.lock);
                    if (strcmp(w[2], "ringkv-1") == 0 && fake.view[0]) {
                        snprintf(out, sizeof out, "%s", fake.view);
                        fake.asked++;
                    } else {
                        snprintf(out, sizeof out, "-ERR No such master with that name\r\n");
                    }
                    pthread_mutex_unlock(&fake.lock);
                } else {
                    snprintf(out, sizeof out, "+PONG\r\n");
                }
                if (write(fds[i].fd, out, strlen(out)) < 0)
                    break;
                memmove(bufs[i], bufs[i] + len, used[i] - len);
                used[i] -= len;
            }
        }
    }
    for (int i = 1; i < n; i++)
        close(fds[i].fd);
    return NULL;
}

static void fake_start(void)
{
    fake.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fake.listen_fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fake.listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    getsockname(fake.listen_fd, (struct sockaddr *)&a, &alen);
    fake.port = ntohs(a.sin_port);
    assert_int_equal(listen(fake.listen_fd, 64), 0);
    fake.stop = 0;
    fake.view[0] = 0;
    assert_int_equal(pthread_create(&fake.thread, NULL, fake_run, NULL), 0);
}

static void fake_stop(void)
{
    fake.stop = 1;
    pthread_join(fake.thread, NULL);
    close(fake.listen_fd);
}

/* The master port of slot 0 (group 1) and group 1's epoch on node x. */
static int group1_master(struct server *x, unsigned long long *epoch)
{
    tconn *c = tconnect(x->port);
    struct rval *v = tcmd(c, "CLUSTER RINGKV-VERSIONS");
    *epoch = 0;
    for (char *line = strtok(v->str, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long long id, e;
        if (sscanf(line, "group %llu %llu", &id, &e) == 2 && id == 1)
            *epoch = e;
    }
    rval_free(v);
    tclose(c);
    int port = 0;
    c = tconnect(x->port);
    v = tcmd(c, "CLUSTER SLOTS");
    for (size_t r = 0; r < v->n; r++)
        if (v->elem[r]->elem[0]->integer == 0)
            port = (int)v->elem[r]->elem[2]->elem[1]->integer;
    rval_free(v);
    tclose(c);
    return port;
}

/* The Sentinel's view is taken, or (want_port 0) still not after it was
 * asked three more times. */
static void expect_group1(struct server *x, int want_port, unsigned long long want_epoch)
{
    int asked = fake_asked();
    unsigned long long epoch = 0;
    int port = 0;
    for (long long until = now_ms() + 15000; now_ms() < until; usleep(50 * 1000)) {
        port = group1_master(x, &epoch);
        if (port == want_port && epoch == want_epoch && fake_asked() >= asked + 3)
            return;
    }
    fail_msg("group 1: master port %d epoch %llu, expected %d epoch %llu (asked %d times since)", port, epoch,
             want_port, want_epoch, fake_asked() - asked);
}

static void test_learns_from_sentinel_alone(void **state)
{
    (void)state;
    if (mktmp() != 0)
        fail_msg("mkdtemp");
    fake_start();
    struct server x;
    char xconf[300], conf[600];
    snprintf(xconf, sizeof xconf, "%s/nodes-x.conf", tmpdir);
    snprintf(conf, sizeof conf, "cluster-enabled yes\ncluster-config-file %s\ncluster-node-timeout %d\n", xconf,
             TIMEOUT);
    assert_int_equal(server_start_conf(&x, conf, NULL), 0);
    tconn *c = tconnect(x.port);
    struct rval *v = tcmd(c, "CLUSTER MYID");
    char myid[64];
    snprintf(myid, sizeof myid, "%s", v->str);
    rval_free(v);
    /* group 1: a1 master, b1 replica; group 2: this node; group 3: c3;
     * every other node at a port nothing listens on */
    int pa = free_port(), pb = free_port(), pc = free_port(), stranger = free_port();
    char text[2000];
    snprintf(text, sizeof text,
             "ringkv-cluster-state 1\ntable-version 1\nsentinel 127.0.0.1 %d\n"
             "group 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0\ngroup 2 %s 0\n"
             "group 3 cccccccccccccccccccccccccccccccccccccccc 0\n"
             "node aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1 %d 1\n"
             "node bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 127.0.0.1 %d 1\n"
             "node %s 127.0.0.1 %d 2\n"
             "node cccccccccccccccccccccccccccccccccccccccc 127.0.0.1 %d 3\n"
             "slots 1 0-5460\nslots 2 5461-10922\nslots 3 10923-16383\n",
             fake.port, myid, pa, pb, myid, x.port, pc);
    const char *push[] = { "CLUSTER", "RINGKV-SETSTATE", "0", text };
    tsendv(c, 4, push);
    expect_ok(tread(c, 5000));
    tclose(c);
    unsigned long long epoch;
    assert_int_equal(group1_master(&x, &epoch), pa);

    /* mid-failover (the new epoch with the old address, or the new one):
     * not taken */
    fake_set_view(pb, 2, "master,failover_in_progress");
    expect_group1(&x, pa, 0);
    /* the switch done: taken, with the Sentinel's epoch */
    fake_set_view(pb, 2, "master");
    expect_group1(&x, pb, 2ull << 32);
    /* a Sentinel that lags (a lower config epoch): never back */
    fake_set_view(pa, 1, "master");
    expect_group1(&x, pb, 2ull << 32);
    /* a master that is no node of the group: ignored */
    fake_set_view(stranger, 5, "master");
    expect_group1(&x, pb, 2ull << 32);
    /* a key of group 2, this node's */
    char key[32];
    c = tconnect(x.port);
    for (int i = 0;; i++) {
        snprintf(key, sizeof key, "k%d", i);
        long long slot = get_int(tcmd(c, "CLUSTER KEYSLOT %s", key));
        if (slot >= 5461 && slot <= 10922)
            break;
    }
    expect_ok(tcmd(c, "SET %s before", key));
    tclose(c);
    /* restarted while the Sentinel answers nothing: a master by its file
     * takes no write before it hears from the Sentinel (it may have been
     * replaced while it was down); reads are served */
    fake.mute = 1;
    server_stop(&x);
    assert_int_equal(server_start_conf(&x, conf, NULL), 0);
    c = tconnect(x.port);
    expect_error(tcmd(c, "SET %s during", key), ERR_DOWN);
    tclose(c);
    fake.mute = 0;
    wait_set_answer(x.port, key, "OK", 20000);
    /* the Sentinel's address came from the file, and the next switch is
     * learnt from it */
    expect_group1(&x, pb, 2ull << 32);
    fake_set_view(pa, 3, "master");
    expect_group1(&x, pa, 3ull << 32);
    server_stop(&x);
    fake_stop();
    rmtmp();
}

int main(void)
{
    if (target_is_redis())
        return 77; /* the cluster, its fence and its tool are ringkv's */
    if (run_cmd("redis-cli --version >/dev/null 2>&1", NULL) != 0 ||
        run_cmd("redis-sentinel --version >/dev/null 2>&1", NULL) != 0)
        return 77;
    signal(SIGPIPE, SIG_IGN);
    /* the kill first, right after create: the Sentinels must be ready
     * to fail over the moment the tool returns */
    const struct CMUnitTest with_sentinels[] = {
        cmocka_unit_test(test_kill_master_failover),
        cmocka_unit_test(test_cut_off_from_sentinels_fences),
    };
    const struct CMUnitTest without[] = {
        cmocka_unit_test(test_cut_off_from_masters_fences),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_learns_from_sentinel_alone),
    };
    int failed = cmocka_run_group_tests_name("cluster_sentinel", with_sentinels, sentinels_setup, sentinels_teardown);
    failed += cmocka_run_group_tests_name("cluster_fence_masters", without, plain_setup, plain_teardown);
    failed += cmocka_run_group_tests_name("cluster_sentinel_alone", alone, NULL, NULL);
    return failed;
}
