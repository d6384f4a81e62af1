/* A redis-server replica of a ringkv master must be refused cleanly:
 * ringkv refuses its PSYNC (and the SYNC it retries with) before making
 * any snapshot, closes the link, logs it once a minute at most; the Redis
 * replica logs ringkv's text. It used to make ringkv build ~30 snapshots a
 * second. (The other direction, a ringkv replica of a redis-server master,
 * works: tests/interop/test_redis_replica.c.)
 *
 * Skipped (exit 77) when redis-server is not installed. */
#include <errno.h>
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

static void test_redis_replica_of_ringkv(void **state)
{
    (void)state;
    struct server m;
    static const char *const args[] = { "--threads", "2", NULL };
    assert_int_equal(server_start(&m, args), 0);
    tconn *mc = tconnect(m.port);
    expect_ok(tcmd(mc, "SET k v"));

    struct redis r;
    char mport[16];
    snprintf(mport, sizeof mport, "%d", m.port);
    const char *const extra[] = { "--replicaof", "127.0.0.1", mport, NULL };
    redis_start(&r, extra);
    usleep(3500 * 1000); /* the replica retries every second */

    assert_int_equal(info_num(mc, "stats", "sync_full"), 0);     /* no snapshot made */
    assert_int_equal(info_num(mc, "replication", "connected_slaves"), 0);
    assert_int_equal(count_in_file(m.logfile, "it is not a ringkv replica"), 1);
    /* the Redis replica was told why */
    assert_true(count_in_file(r.log, "ringkv cannot feed this replica") >= 1);
    tconn *rc = tconnect(r.port);
    assert_true(info_has(rc, "replication", "master_link_status:down"));
    tclose(rc);
    expect_bulk(tcmd(mc, "GET k"), "v");

    redis_stop(&r);
    tclose(mc);
    assert_int_equal(server_stop(&m), 0);
}

int main(void)
{
    if (target_is_redis())
        return 77; /* ringkv against redis-server by construction */
    if (system("redis-server --version >/dev/null 2>&1") != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_replica_of_ringkv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
