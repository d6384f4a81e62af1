/* A redis-server replica of a ringkv master: its full sync is an RDB file
 * from a background save whose park cuts the stream (the file holds the
 * stream up to one offset exactly, whatever the shards wrote meanwhile),
 * then the stream from there; a cut link continues with a partial resync.
 * Checked by DEBUG DIGEST of both (the same algorithm), with INCRs on
 * every shard running through the sync (one applied twice, or missed,
 * would show). A ringkv replica feeds no Redis replica: refused cleanly,
 * once a minute in its log.
 *
 * Skipped (exit 77) when redis-server is not installed. */
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

#include "harness.h"

/* A redis-server started here (not through the harness, which starts the
 * binary under test). */
struct redis {
    pid_t pid;
    int   port;
    char  log[128];
};

static void redis_start(struct redis *r, const char *const *extra)
{
    r->port = free_port();
    snprintf(r->log, sizeof r->log, "/tmp/ringkv-redis-%d.log", r->port);
    unlink(r->log);
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    const char *argv[32] = { "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--logfile", r->log, "--dir", "/tmp" };
    int argc = 13;
    for (int i = 0; extra && extra[i] && argc < 31; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    r->pid = fork();
    assert_true(r->pid >= 0);
    if (r->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    long long until = now_ms() + 10000;
    while (now_ms() < until) {
        char cmd[128], *out = NULL;
        snprintf(cmd, sizeof cmd, "redis-cli -p %d PING 2>/dev/null", r->port);
        if (run_cmd(cmd, &out) == 0 && out && strstr(out, "PONG")) {
            free(out);
            return;
        }
        free(out);
        usleep(50000);
    }
    fail_msg("redis-server did not start on port %d", r->port);
}

static void redis_stop(struct redis *r)
{
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    unlink(r->log);
}

/* The value of "name:" in INFO text, as a number (-1 if absent). */
static long long info_num(tconn *t, const char *section, const char *name)
{
    struct rval *v = tcmd(t, "INFO %s", section);
    assert_non_null(v);
    char pat[128];
    snprintf(pat, sizeof pat, "%s:", name);
    const char *p = strstr(v->str, pat);
    long long n = p ? atoll(p + strlen(pat)) : -1;
    rval_free(v);
    return n;
}

static bool info_has(tconn *t, const char *section, const char *text)
{
    struct rval *v = tcmd(t, "INFO %s", section);
    bool has = v && v->str && strstr(v->str, text);
    rval_free(v);
    return has;
}

/* Keys of every type on both shards, some with an expiry, a list past
 * its compact form. */
static void load(tconn *c)
{
    for (int i = 0; i < 300; i++) {
        expect_ok(tcmd(c, "SET str:%d value-%d", i, i));
        expect_int(tcmd(c, "HSET hash:%d f1 a%d f2 b%d", i % 40, i, i), i < 40 ? 2 : 0);
        rval_free(tcmd(c, "SADD set:%d m%d", i % 30, i));
        rval_free(tcmd(c, "ZADD zset:%d %d m%d", i % 20, i, i));
        rval_free(tcmd(c, "RPUSH list:%d e%d", i % 10, i));
        rval_free(tcmd(c, "XADD stream:%d * f %d", i % 5, i));
    }
    for (int i = 0; i < 2000; i++)
        rval_free(tcmd(c, "RPUSH biglist element-%d", i));
    expect_int(tcmd(c, "EXPIRE str:1 100000"), 1);
    expect_int(tcmd(c, "PEXPIRE hash:2 100000000"), 1);
}

static void expect_same_digest(tconn *m, tconn *r)
{
    char *a = debug_digest(m), *b = debug_digest(r);
    assert_string_equal(a, b);
    assert_string_not_equal(a, "0000000000000000000000000000000000000000");
    free(a);
    free(b);
}

static void wait_online(tconn *rc)
{
    long long until = now_ms() + 30000;
    while (!info_has(rc, "replication", "master_link_status:up") && now_ms() < until)
        usleep(20000);
    assert_true(info_has(rc, "replication", "master_link_status:up"));
}

/* redis-benchmark's INCRs on 1000 counters (over both shards), in the
 * background: its pid. */
static pid_t incr_load(int port, int n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char p[16], count[16];
        snprintf(p, sizeof p, "%d", port);
        snprintf(count, sizeof count, "%d", n);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-benchmark", "redis-benchmark", "-p", p, "-n", count, "-r", "1000", "-P", "8", "-c", "4",
               "INCR", "counter:__rand_int__", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void test_full_sync_then_stream(void **state)
{
    (void)state;
    struct server m;
    static const char *const args[] = { "--threads", "2", "--enable-debug-command", "yes", NULL };
    assert_int_equal(server_start(&m, args), 0);
    tconn *mc = tconnect(m.port);
    load(mc);

    /* the replica syncs while INCRs run on both shards */
    pid_t writer = incr_load(m.port, HARNESS_SANITIZED ? 100000 : 300000);
    usleep(100 * 1000);
    struct redis r;
    char mport[16];
    snprintf(mport, sizeof mport, "%d", m.port);
    const char *const extra[] = { "--replicaof", "127.0.0.1", mport, "--enable-debug-command", "yes", NULL };
    redis_start(&r, extra);
    tconn *rc = tconnect(r.port);
    wait_online(rc);
    int status = 0;
    assert_int_equal(waitpid(writer, &status, 0), writer);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_int(tcmd(mc, "WAIT 1 10000"), 1);
    expect_same_digest(mc, rc);
    assert_int_equal(info_num(mc, "stats", "sync_full"), 1);
    assert_true(info_has(mc, "replication", "state=online"));
    assert_int_equal(count_in_file(m.logfile, "the RDB file holds the stream up to offset"), 1);

    /* the stream goes on: writes of every kind, one over both shards */
    rval_free(tcmd(mc, "INCR counter:000000000001"));
    expect_ok(tcmd(mc, "RENAME str:3 moved:3"));
    expect_int(tcmd(mc, "DEL str:4 str:5 str:6"), 3);
    rval_free(tcmd(mc, "LPOP biglist 10"));
    rval_free(tcmd(mc, "SPOP set:1"));
    rval_free(tcmd(mc, "ZINCRBY zset:1 5 m1"));
    expect_int(tcmd(mc, "EXPIRE str:7 100000"), 1);
    expect_int(tcmd(mc, "WAIT 1 10000"), 1);
    expect_same_digest(mc, rc);
    expect_bulk(tcmd(rc, "GET moved:3"), "value-3");

    /* a cut link: the Redis replica continues from its offset */
    long long partial = info_num(mc, "stats", "sync_partial_ok");
    rval_free(tcmd(mc, "CLIENT KILL TYPE replica"));
    expect_ok(tcmd(mc, "SET after-cut yes"));
    long long until = now_ms() + 20000;
    while (info_num(mc, "stats", "sync_partial_ok") == partial && now_ms() < until)
        usleep(50000);
    assert_int_equal(info_num(mc, "stats", "sync_partial_ok"), partial + 1);
    assert_int_equal(info_num(mc, "stats", "sync_full"), 1);
    expect_int(tcmd(mc, "WAIT 1 10000"), 1);
    expect_bulk(tcmd(rc, "GET after-cut"), "yes");
    expect_same_digest(mc, rc);

    tclose(rc);
    redis_stop(&r);
    tclose(mc);
    assert_int_equal(server_stop(&m), 0);
}

/* A ringkv replica's data is a copy being fed; a Redis replica of it is
 * refused (before any save), told why, logged once a minute at most. */
static void test_refused_by_a_ringkv_replica(void **state)
{
    (void)state;
    struct server m, s;
    static const char *const args[] = { "--threads", "2", NULL };
    assert_int_equal(server_start(&m, args), 0);
    assert_int_equal(server_start(&s, args), 0);
    tconn *mc = tconnect(m.port), *sc = tconnect(s.port);
    expect_ok(tcmd(mc, "SET k v"));
    expect_ok(tcmd(sc, "REPLICAOF 127.0.0.1 %d", m.port));
    wait_online(sc);

    struct redis r;
    char sport[16];
    snprintf(sport, sizeof sport, "%d", s.port);
    const char *const extra[] = { "--replicaof", "127.0.0.1", sport, NULL };
    redis_start(&r, extra);
    usleep(3500 * 1000); /* the replica retries every second */

    assert_int_equal(info_num(sc, "stats", "sync_full"), 0); /* no save made */
    assert_int_equal(info_num(sc, "replication", "connected_slaves"), 0);
    assert_int_equal(count_in_file(s.logfile, "it is not a ringkv replica"), 1);
    assert_true(count_in_file(r.log, "a ringkv replica cannot feed a Redis replica") >= 1);
    tconn *rc = tconnect(r.port);
    assert_true(info_has(rc, "replication", "master_link_status:down"));
    tclose(rc);
    expect_bulk(tcmd(sc, "GET k"), "v");

    redis_stop(&r);
    tclose(sc);
    tclose(mc);
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(server_stop(&m), 0);
}

int main(void)
{
    if (target_is_redis())
        return 77; /* ringkv against redis-server by construction */
    if (system("redis-server --version >/dev/null 2>&1") != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_sync_then_stream),
        cmocka_unit_test(test_refused_by_a_ringkv_replica),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
