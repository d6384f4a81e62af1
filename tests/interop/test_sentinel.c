/* The real Redis Sentinel driving failover of ringkv (ARCHITECTURE.md "Replication"): a master
 * and two replicas, three redis-sentinel processes monitoring them with a
 * quorum of 2.
 *
 *  - automatic failover: the master is killed with SIGKILL; the sentinels
 *    must agree it is down, promote one replica and re-point the other one
 *    to it. Every write acknowledged by WAIT 2 before the kill must be on
 *    both survivors, and a write on the new master must reach the other
 *    replica.
 *  - manual failover: SENTINEL FAILOVER with the master alive; the old
 *    master must end up as a replica of the promoted node.
 *
 * Sentinel relies on INFO replication (role, slaveN lines, master_link_status,
 * slave_repl_offset, slave_priority), PING, PUBLISH/SUBSCRIBE on
 * __sentinel__:hello, CLIENT SETNAME, and a MULTI/EXEC holding REPLICAOF,
 * CONFIG REWRITE and CLIENT KILL; every node is started from a config file so
 * CONFIG REWRITE has a file to write. The sentinel and node logs are printed
 * and kept when a test fails (or when RINGKV_TEST_VERBOSE is set); the
 * sentinels log at level verbose, or at RINGKV_SENTINEL_LOGLEVEL (debug shows
 * every ping and reply). Skipped (exit 77) when redis-sentinel is not
 * installed. */
#include <errno.h>
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

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "integration/repl_helpers.h"
#pragma GCC diagnostic pop

#define MASTER_NAME "mymaster"
#define NSENTINELS 3
#define NKEYS 2000
/* Sentinel's down-after-milliseconds, which must be well above Sentinel's
 * fixed 1000 ms reconnect period. On +switch-master Sentinel reuses the
 * master's link: it restarts its down-after clock (act_ping_time = now) but
 * connects to the new address only once 1000 ms have passed since that link's
 * last connect attempt (after the kill -9 it was retrying the dead master
 * every second; after CLIENT KILL on the old master it had just reconnected).
 * The first connection to the promoted node can so open up to ~1 s after the
 * switch, and with down-after at 1000 its PONG is late whatever the server:
 * redis-server nodes (RINGKV_TEST_TARGET=redis) fail the same way. Redis's
 * own Sentinel tests use 2000. */
#define DOWN_AFTER_MS 2000

/* ---- sentinels ---- */

struct sentinel {
    pid_t pid;
    int   port;
    char  conf[300];
    char  log[300];
};

static struct sentinel sentinels[NSENTINELS];
static char tmpdir[128];
static bool test_passed;

static void print_file_tail(const char *path, int max_lines)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "(cannot open %s)\n", path);
        return;
    }
    /* count lines, then print the last max_lines */
    char line[2048];
    long total = 0;
    while (fgets(line, sizeof line, f))
        total++;
    rewind(f);
    long skip = total > max_lines ? total - max_lines : 0;
    fprintf(stderr, "---- %s (last %ld of %ld lines) ----\n", path, total - skip, total);
    for (long i = 0; fgets(line, sizeof line, f); i++)
        if (i >= skip)
            fputs(line, stderr);
    fprintf(stderr, "---- end of %s ----\n", path);
    fclose(f);
}

/* Writes the sentinel's config file and starts `redis-sentinel <file>`; waits
 * until it answers PING. */
static void sentinel_start(struct sentinel *s, int idx, int master_port)
{
    memset(s, 0, sizeof *s);
    s->port = free_port();
    snprintf(s->conf, sizeof s->conf, "%s/sentinel-%d.conf", tmpdir, idx);
    snprintf(s->log, sizeof s->log, "%s/sentinel-%d.log", tmpdir, idx);
    const char *loglevel = getenv("RINGKV_SENTINEL_LOGLEVEL");
    FILE *f = fopen(s->conf, "w");
    assert_non_null(f);
    fprintf(f,
            "port %d\n"
            "bind 127.0.0.1\n"
            "daemonize no\n"
            "loglevel %s\n"
            "logfile %s\n"
            "dir %s\n"
            "sentinel monitor " MASTER_NAME " 127.0.0.1 %d 2\n"
            "sentinel down-after-milliseconds " MASTER_NAME " %d\n"
            "sentinel failover-timeout " MASTER_NAME " 10000\n"
            "sentinel parallel-syncs " MASTER_NAME " 1\n",
            s->port, loglevel ? loglevel : "verbose", s->log, tmpdir, master_port, DOWN_AFTER_MS);
    fclose(f);

    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        /* output before the logfile is opened goes next to it */
        char early[320];
        snprintf(early, sizeof early, "%s.out", s->log);
        int out = open(early, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
            close(out);
        }
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        execlp("redis-sentinel", "redis-sentinel", s->conf, (char *)NULL);
        fprintf(stderr, "exec redis-sentinel: %s\n", strerror(errno));
        _exit(127);
    }
    s->pid = pid;

    long long deadline = now_ms() + 10000;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            char early[320];
            snprintf(early, sizeof early, "%s.out", s->log);
            print_file_tail(early, 50);
            print_file_tail(s->log, 50);
            fail_msg("redis-sentinel on port %d exited during start-up (status 0x%x)", s->port,
                     st);
        }
        char cmd[128], *out = NULL;
        snprintf(cmd, sizeof cmd, "timeout 2 redis-cli -p %d ping 2>/dev/null", s->port);
        if (run_cmd(cmd, &out) == 0 && out && strncmp(out, "PONG", 4) == 0) {
            free(out);
            return;
        }
        free(out);
        if (now_ms() > deadline)
            fail_msg("redis-sentinel did not answer PING within 10 s on port %d", s->port);
        usleep(20000);
    }
}

static void sentinels_kill_all(void)
{
    for (int i = 0; i < NSENTINELS; i++)
        if (sentinels[i].pid > 0) {
            kill(sentinels[i].pid, SIGKILL);
            waitpid(sentinels[i].pid, NULL, 0);
            sentinels[i].pid = 0;
        }
}

static void remove_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (run_cmd(cmd, NULL) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    tmpdir[0] = 0;
}

static int setup(void **state)
{
    test_passed = false;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ringkv-sentinel-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Kills what still runs. On failure (or when RINGKV_TEST_VERBOSE is set)
 * prints the sentinel and node logs and keeps the files; otherwise removes
 * them. */
static int teardown(void **state)
{
    bool keep = !test_passed || getenv("RINGKV_TEST_VERBOSE");
    if (keep) {
        for (int i = 0; i < NSENTINELS; i++)
            if (sentinels[i].log[0])
                print_file_tail(sentinels[i].log, 80);
        for (int i = 0; i < MAX_NODES; i++)
            if (nodes[i] && nodes[i]->logfile[0])
                print_file_tail(nodes[i]->logfile, 40);
        fprintf(stderr, "sentinel files kept in %s\n", tmpdir);
    }
    sentinels_kill_all();
    for (int i = 0; i < MAX_NODES; i++)
        if (nodes[i] && !keep) {
            server_kill(nodes[i]);
            char conf[300];
            snprintf(conf, sizeof conf, "%s.conf", nodes[i]->logfile);
            unlink(nodes[i]->logfile);
            unlink(conf);
        }
    nodes_teardown(state);
    if (!keep)
        remove_tmpdir();
    tmpdir[0] = 0;
    memset(sentinels, 0, sizeof sentinels);
    return 0;
}

/* The end of a passing test: sentinels go first (so that they reconfigure
 * nothing more), then every node still running must exit 0 on SIGTERM. */
static void stop_all(void)
{
    sentinels_kill_all();
    for (int i = 0; i < MAX_NODES; i++)
        if (nodes[i])
            node_stop(nodes[i]);
}

/* ---- nodes ---- */

/* A node started from a config file (so that CONFIG REWRITE, which Sentinel
 * sends with every REPLICAOF, has a file to write), killed by the teardown. */
static struct server *node_start_conf(void)
{
    static const char *const args[] = { "--threads", "2", NULL };
    static const char *const redis_args[] = { NULL };
    struct server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    for (int i = 0; i < MAX_NODES; i++)
        if (!nodes[i]) {
            nodes[i] = s;
            break;
        }
    assert_int_equal(server_start_conf(s, "", target_is_redis() ? redis_args : args), 0);
    return s;
}

/* ---- asking a sentinel ---- */

/* SENTINEL get-master-addr-by-name: the master's port (host must be
 * 127.0.0.1), or -1 when the sentinel gives no address. */
static int sentinel_master_port(int sport)
{
    tconn *c = tconnect(sport);
    struct rval *v = tcmd(c, "SENTINEL get-master-addr-by-name " MASTER_NAME);
    int port = -1;
    if (v && v->type == R_ARRAY && v->n == 2 && v->elem[0]->str && v->elem[1]->str) {
        if (strcmp(v->elem[0]->str, "127.0.0.1") != 0)
            fail_msg("sentinel on %d names master host %s", sport, v->elem[0]->str);
        port = atoi(v->elem[1]->str);
    }
    rval_free(v);
    tclose(c);
    return port;
}

/* Number of entries in `SENTINEL <what> mymaster` (replicas, sentinels). */
static int sentinel_count(int sport, const char *what)
{
    tconn *c = tconnect(sport);
    struct rval *v = tcmd(c, "SENTINEL %s " MASTER_NAME, what);
    if (!v || v->type != R_ARRAY) {
        char *t = rval_text(v);
        fail_msg("SENTINEL %s on %d: %s", what, sport, t);
    }
    int n = (int)v->n;
    rval_free(v);
    tclose(c);
    return n;
}

/* Until every sentinel knows both replicas and the two other sentinels. */
static void wait_sentinels_ready(int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (int i = 0; i < NSENTINELS; i++) {
        for (;;) {
            int r = sentinel_count(sentinels[i].port, "replicas");
            int s = sentinel_count(sentinels[i].port, "sentinels");
            if (r == 2 && s == NSENTINELS - 1)
                break;
            if (now_ms() > deadline)
                fail_msg("sentinel %d (port %d) sees %d replicas and %d other sentinels after "
                         "%d ms, wanted 2 and %d", i, sentinels[i].port, r, s, timeout_ms,
                         NSENTINELS - 1);
            usleep(100000);
        }
    }
}

/* Until every sentinel names a master other than old_port; returns it (the
 * sentinels must agree). */
static int wait_new_master(int old_port, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    int ports[NSENTINELS];
    for (int i = 0; i < NSENTINELS; i++) {
        while ((ports[i] = sentinel_master_port(sentinels[i].port)) == old_port ||
               ports[i] < 0) {
            if (now_ms() > deadline)
                fail_msg("sentinel %d (port %d) still names master port %d after %d ms (old "
                         "master %d)", i, sentinels[i].port, ports[i], timeout_ms, old_port);
            usleep(100000);
        }
    }
    for (int i = 1; i < NSENTINELS; i++)
        if (ports[i] != ports[0])
            fail_msg("sentinels disagree on the new master: %d vs %d", ports[0], ports[i]);
    return ports[0];
}

/* The "flags" field of `SENTINEL master mymaster` (a flat field/value
 * array); malloc'd. */
static char *sentinel_master_flags(int sport)
{
    tconn *c = tconnect(sport);
    struct rval *v = tcmd(c, "SENTINEL master " MASTER_NAME);
    char *flags = NULL;
    if (v && (v->type == R_ARRAY || v->type == R_MAP))
        for (size_t i = 0; i + 1 < v->n; i += 2)
            if (v->elem[i]->str && strcmp(v->elem[i]->str, "flags") == 0 && v->elem[i + 1]->str)
                flags = strdup(v->elem[i + 1]->str);
    if (!flags) {
        char *t = rval_text(v);
        fail_msg("SENTINEL master on %d has no flags: %s", sport, t);
    }
    rval_free(v);
    tclose(c);
    return flags;
}

/* true if the sentinel's log holds needle. */
static bool sentinel_log_has(const struct sentinel *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* Until no sentinel has a failover in progress, i.e. the leader saw every
 * replica report (by INFO) the new master with its link up: +slave-reconf-done
 * for each, then +failover-end. A failover that ended only because
 * failover-timeout passed (+failover-end-for-timeout: Sentinel never saw a
 * replica finish re-pointing) fails. */
static void wait_failover_end(int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (int i = 0; i < NSENTINELS; i++) {
        for (;;) {
            char *flags = sentinel_master_flags(sentinels[i].port);
            bool done = strcmp(flags, "master") == 0;
            if (!done && now_ms() > deadline)
                fail_msg("sentinel %d (port %d): master flags '%s' after %d ms, wanted "
                         "'master' (failover finished)", i, sentinels[i].port, flags, timeout_ms);
            free(flags);
            if (done)
                break;
            usleep(100000);
        }
        if (sentinel_log_has(&sentinels[i], "+failover-end-for-timeout"))
            fail_msg("sentinel %d ended the failover by timeout: it never saw the replicas "
                     "re-pointed", i);
    }
}

/* The first line of the sentinel's log that holds needle (malloc'd), or NULL. */
static char *sentinel_log_line(const struct sentinel *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return NULL;
    char line[2048];
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f))
        if (strstr(line, needle)) {
            line[strcspn(line, "\r\n")] = 0;
            found = strdup(line);
        }
    fclose(f);
    return found;
}

/* The promoted node must stay healthy for Sentinel: no sentinel may have
 * judged it subjectively down (no valid PING reply within
 * down-after-milliseconds) since it became the master, which would start a
 * second failover away from it. */
static void expect_promoted_never_down(int port)
{
    char needle[96];
    snprintf(needle, sizeof needle, "+sdown master " MASTER_NAME " 127.0.0.1 %d", port);
    for (int i = 0; i < NSENTINELS; i++) {
        char *line = sentinel_log_line(&sentinels[i], needle);
        if (line)
            fail_msg("sentinel %d (port %d) judged the promoted master (port %d) down: no "
                     "valid PING reply within %d ms: '%s'", i, sentinels[i].port, port, DOWN_AFTER_MS,
                     line);
    }
}

/* ---- roles ---- */

/* Until ROLE of the node at port says master. */
static void wait_role_master(int port, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        /* a fresh connection each look: Sentinel's reconfiguration ends with
         * CLIENT KILL TYPE normal */
        tconn *c = tconnect(port);
        struct rval *v = tcmd(c, "ROLE");
        bool ok = v && v->type == R_ARRAY && v->n >= 1 && v->elem[0]->str &&
                  strcmp(v->elem[0]->str, "master") == 0;
        tclose(c);
        if (ok) {
            rval_free(v);
            break;
        }
        if (now_ms() > deadline) {
            char *t = rval_text(v);
            fail_msg("ROLE of port %d is %s after %d ms, wanted master", port, t, timeout_ms);
        }
        rval_free(v);
        usleep(50000);
    }
}

/* Until ROLE of the node at port is [slave, 127.0.0.1, master_port, connected,
 * ...] and INFO says master_link_status:up. */
static void wait_follows(int port, int master_port, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        /* a fresh connection each look: Sentinel's reconfiguration ends with
         * CLIENT KILL TYPE normal */
        tconn *c = tconnect(port);
        struct rval *v = tcmd(c, "ROLE");
        bool ok = v && v->type == R_ARRAY && v->n >= 4 && v->elem[0]->str &&
                  strcmp(v->elem[0]->str, "slave") == 0 && v->elem[1]->str &&
                  strcmp(v->elem[1]->str, "127.0.0.1") == 0 && v->elem[2]->type == R_INT &&
                  v->elem[2]->integer == master_port && v->elem[3]->str &&
                  strcmp(v->elem[3]->str, "connected") == 0;
        if (ok) {
            char *ri = info_text(c, "replication");
            char link[32] = "";
            info_str(ri, "master_link_status", link, sizeof link);
            free(ri);
            ok = strcmp(link, "up") == 0;
        }
        tclose(c);
        if (ok) {
            rval_free(v);
            break;
        }
        if (now_ms() > deadline) {
            char *t = rval_text(v);
            fail_msg("ROLE of port %d is %s after %d ms, wanted a connected slave of %d", port,
                     t, timeout_ms, master_port);
        }
        rval_free(v);
        usleep(50000);
    }
}

/* ---- data ---- */

/* NKEYS keys "<prefix>:i" on the master, then WAIT 2: both replicas must
 * acknowledge them. */
static void write_acked(int master_port, const char *prefix)
{
    tconn *m = tconnect(master_port);
    load_keys(m, prefix, 0, NKEYS, 32);
    long long acked = get_int(tcmd(m, "WAIT 2 5000"));
    if (acked != 2)
        fail_msg("WAIT 2 5000 on the master gave %lld", acked);
    tclose(m);
}

/* Every "<prefix>:i" is on the node at port with its value. */
static void expect_keys(int port, const char *prefix)
{
    tconn *c = tconnect(port);
    char **keys = malloc(NKEYS * sizeof *keys);
    assert_non_null(keys);
    char key[64], val[128];
    for (long i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof key, "%s:%ld", prefix, i);
        keys[i] = strdup(key);
    }
    struct rval **v = get_batch(c, keys, 0, NKEYS);
    for (long i = 0; i < NKEYS; i++) {
        value_of(val, sizeof val, prefix, i, 32);
        if (v[i]->type != R_BULK || strcmp(v[i]->str, val) != 0) {
            char *t = rval_text(v[i]);
            fail_msg("acknowledged key %s on port %d: GET gives %s, wanted %s", keys[i], port, t,
                     val);
        }
        rval_free(v[i]);
        free(keys[i]);
    }
    free(v);
    free(keys);
    tclose(c);
}

/* A write on the new master reaches the replica at rport. */
static void expect_write_propagates(int mport, int rport, const char *key)
{
    tconn *m = tconnect(mport);
    expect_ok(tcmd(m, "SET %s after-failover", key));
    long long acked = get_int(tcmd(m, "WAIT 1 5000"));
    if (acked < 1)
        fail_msg("WAIT 1 5000 on the new master (port %d) gave %lld", mport, acked);
    tclose(m);
    tconn *r = tconnect(rport);
    long long deadline = now_ms() + 5000;
    for (;;) {
        struct rval *v = tcmd(r, "GET %s", key);
        if (v && v->type == R_BULK && strcmp(v->str, "after-failover") == 0) {
            rval_free(v);
            break;
        }
        if (now_ms() > deadline) {
            char *t = rval_text(v);
            fail_msg("write on the new master (port %d) not on replica %d after 5 s: GET %s "
                     "gives %s", mport, rport, key, t);
        }
        rval_free(v);
        usleep(20000);
    }
    /* a replica refuses writes from clients */
    expect_error_prefix(tcmd(r, "SET %s x", key), "READONLY");
    tclose(r);
}

/* ---- the set-up both tests share ---- */

struct trio {
    struct server *master, *r1, *r2;
};

static void start_trio_and_sentinels(struct trio *t)
{
    t->master = node_start_conf();
    t->r1 = node_start_conf();
    t->r2 = node_start_conf();
    tconn *m = tconnect(t->master->port);
    tconn *a = tconnect(t->r1->port), *b = tconnect(t->r2->port);
    replicaof(a, t->master->port);
    replicaof(b, t->master->port);
    wait_link(a, "up", 10000);
    wait_link(b, "up", 10000);
    /* Sentinel learns the replicas from the master's INFO slaveN lines */
    wait_field_at_least(m, "replication", "connected_slaves", 2, 5000);
    tclose(m);
    tclose(a);
    tclose(b);
    for (int i = 0; i < NSENTINELS; i++)
        sentinel_start(&sentinels[i], i, t->master->port);
    wait_sentinels_ready(15000);
}

/* ---- tests ---- */

/* Which replica of t the sentinels promoted (the one on port newp), and the
 * other one; fails the test if newp is neither. */
static void pick_promoted(struct trio *t, int newp, struct server **promoted, struct server **other)
{
    if (newp == t->r1->port) {
        *promoted = t->r1;
        *other = t->r2;
    } else if (newp == t->r2->port) {
        *promoted = t->r2;
        *other = t->r1;
    } else {
        fail_msg("sentinels name port %d as the new master, not a replica (%d, %d)", newp,
                 t->r1->port, t->r2->port);
    }
}

static void test_failover_after_master_killed(void **state)
{
    struct trio t;
    start_trio_and_sentinels(&t);
    write_acked(t.master->port, "acked");

    int old = t.master->port;
    server_kill(t.master);

    int newp = wait_new_master(old, 30000);
    struct server *promoted = NULL, *other = NULL;
    pick_promoted(&t, newp, &promoted, &other);
    wait_role_master(promoted->port, 5000);
    wait_follows(other->port, promoted->port, 15000);
    wait_failover_end(15000);
    expect_promoted_never_down(promoted->port);

    expect_keys(promoted->port, "acked");
    expect_keys(other->port, "acked");
    expect_write_propagates(promoted->port, other->port, "new-after-kill");
    expect_promoted_never_down(promoted->port);
    stop_all();
    test_passed = true;
}

static void test_manual_failover(void **state)
{
    struct trio t;
    start_trio_and_sentinels(&t);
    write_acked(t.master->port, "manual");

    tconn *s = tconnect(sentinels[0].port);
    expect_ok(tcmd(s, "SENTINEL failover " MASTER_NAME));
    tclose(s);

    int old = t.master->port;
    int newp = wait_new_master(old, 30000);
    struct server *promoted = NULL, *other = NULL;
    pick_promoted(&t, newp, &promoted, &other);
    wait_role_master(promoted->port, 5000);
    wait_follows(other->port, promoted->port, 15000);
    /* the old master, alive, is turned into a replica of the new one */
    wait_follows(old, promoted->port, 20000);
    wait_failover_end(15000);
    expect_promoted_never_down(promoted->port);

    expect_keys(promoted->port, "manual");
    expect_keys(other->port, "manual");
    expect_keys(old, "manual");
    expect_write_propagates(promoted->port, other->port, "new-after-manual");
    expect_write_propagates(promoted->port, old, "new-after-manual-2");
    expect_promoted_never_down(promoted->port);
    stop_all();
    test_passed = true;
}

int main(void)
{
    if (run_cmd("command -v redis-sentinel >/dev/null 2>&1", NULL) != 0 ||
        run_cmd("command -v redis-cli >/dev/null 2>&1", NULL) != 0) {
        fprintf(stderr, "redis-sentinel or redis-cli not installed: skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failover_after_master_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manual_failover, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
