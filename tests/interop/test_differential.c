/* A differential run against the real redis-server 7: tests/interop/
 * differential.py sends the same random commands of every type (hashes,
 * lists, sets, sorted sets, strings, the keyspace commands, WRONGTYPE paths
 * and bad arguments included) to a redis-server and to ringkv, compares
 * every reply and, every 200 commands, both keyspaces whole. The script
 * lists what it leaves out and why (random picks, encoding names ringkv
 * takes from Redis 7.2, lex ranges Redis leaves unspecified).
 *
 * Two pairs of servers: the default thresholds (most collections stay in
 * their compact form), and thresholds of 2 with list-compress-depth 1 on
 * both sides (every collection converts, list nodes are compressed). ringkv
 * runs two shards (the harness's default), so multi-key commands over keys of different shards go
 * through its copies (the hash-tagged keys stay on one). A third pair runs
 * both as one-node clusters (-CROSSSLOT paths).
 *
 * tests/interop/differential_more.py, the same way, over the families the
 * first touches lightly: strings in depth, the keyspace's expiry and
 * renames, streams and consumer groups, HyperLogLogs, MULTI/EXEC blocks and
 * EVAL scripts calling those commands; against ringkv on two shards (its
 * plain keys fall on both) and on one.
 * Skipped (exit 77) when redis-server or python3-redis is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "harness.h"

/* Rounds of a pair: seeds and commands each (a few seconds in release). */
#define SEEDS    3
#define COMMANDS 4000

static struct server redis_srv, ringkv_srv;

/* A redis-server (as the harness starts it on the redis target) or ringkv. */
static void start(struct server *s, bool redis, const char *const *args)
{
    if (redis)
        setenv("RINGKV_TEST_TARGET", "redis", 1);
    else
        unsetenv("RINGKV_TEST_TARGET");
    int rc = server_start(s, args);
    unsetenv("RINGKV_TEST_TARGET");
    assert_int_equal(rc, 0);
}

static int stop_both(void **state)
{
    (void)state;
    if (redis_srv.pid > 0)
        server_kill(&redis_srv);
    if (ringkv_srv.pid > 0)
        server_kill(&ringkv_srv);
    memset(&redis_srv, 0, sizeof redis_srv);
    memset(&ringkv_srv, 0, sizeof ringkv_srv);
    return 0;
}

/* Cluster mode: the node given every slot, and serving them. */
static void own_every_slot(struct server *s)
{
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "CLUSTER ADDSLOTSRANGE 0 16383"));
    long long deadline = now_ms() + 10000;
    for (;;) {
        struct rval *v = tcmd(c, "CLUSTER INFO");
        bool ok = v && v->str && strstr(v->str, "cluster_state:ok");
        rval_free(v);
        if (ok)
            break;
        if (now_ms() > deadline)
            fail_msg("port %d: cluster_state not ok after 10 s", s->port);
        usleep(50000);
    }
    tclose(c);
}

/* The generator script named by the environment variable env, run for
 * SEEDS seeds against a redis-server and a ringkv started with these
 * arguments. */
static void run_script_pair(const char *env, const char *const *redis_args, const char *const *ringkv_args,
                            bool cluster)
{
    const char *script = getenv(env);
    if (!script || run_cmd("/usr/bin/python3 -c 'import redis' >/dev/null 2>&1", NULL) != 0)
        skip();
    start(&redis_srv, true, redis_args);
    start(&ringkv_srv, false, ringkv_args);
    struct server *r = &redis_srv, *k = &ringkv_srv;
    if (cluster) {
        own_every_slot(r);
        own_every_slot(k);
    }
    for (int seed = 1; seed <= SEEDS; seed++) {
        char cmd[600], *out = NULL;
        snprintf(cmd, sizeof cmd, "timeout 240 /usr/bin/python3 %s %d %d %d %d 2>&1 </dev/null", script, r->port,
                 k->port, seed, COMMANDS);
        int st = run_cmd(cmd, &out);
        if (st != 0 || strncmp(out, "ok ", 3) != 0)
            fail_msg("seed %d: %s exited %d:\n%s", seed, script, st, out);
        print_message("seed %d: %s", seed, out);
        free(out);
    }
}

static void run_pair_as(const char *const *redis_args, const char *const *ringkv_args, bool cluster)
{
    run_script_pair("RINGKV_DIFFERENTIAL_PY", redis_args, ringkv_args, cluster);
}

static void run_pair(const char *const *redis_args, const char *const *ringkv_args)
{
    run_pair_as(redis_args, ringkv_args, false);
}

static void test_default_thresholds(void **state)
{
    (void)state;
    const char *redis_args[] = { NULL };
    const char *ringkv_args[] = { NULL };
    run_pair(redis_args, ringkv_args);
}

static void test_every_collection_converts(void **state)
{
    (void)state;
    const char *redis_args[] = { "--hash-max-listpack-entries", "2", "--zset-max-listpack-entries", "2",
                                 "--list-max-listpack-size", "2", "--set-max-intset-entries", "2",
                                 "--list-compress-depth", "1", NULL };
    const char *ringkv_args[] = { "--hash-max-listpack-entries", "2",
                                  "--zset-max-listpack-entries", "2", "--list-max-listpack-size", "2",
                                  "--set-max-intset-entries", "2", "--set-max-listpack-entries", "2",
                                  "--list-compress-depth", "1", NULL };
    run_pair(redis_args, ringkv_args);
}

/* Both as one-node clusters: a command over keys of two slots is
 * -CROSSSLOT on both (and one of a count and its options, ZUNIONSTORE d 2
 * a b WEIGHTS 1 2, is checked on its keys only), the hash-tagged keys pass;
 * ringkv's keys of one slot are on one shard. */
static void test_cluster_mode(void **state)
{
    (void)state;
    char conf_r[128], conf_k[128];
    snprintf(conf_r, sizeof conf_r, "/tmp/ringkv-differential-%d-r.conf", (int)getpid());
    snprintf(conf_k, sizeof conf_k, "/tmp/ringkv-differential-%d-k.conf", (int)getpid());
    unlink(conf_r);
    unlink(conf_k);
    const char *redis_args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_r, NULL };
    const char *ringkv_args[] = { "--cluster-enabled", "yes", "--cluster-config-file", conf_k, NULL };
    run_pair_as(redis_args, ringkv_args, true);
    unlink(conf_r);
    unlink(conf_k);
}

/* differential_more.py: ringkv on two shards (the harness's default) */
static void test_more_two_shards(void **state)
{
    (void)state;
    const char *redis_args[] = { NULL };
    const char *ringkv_args[] = { NULL };
    run_script_pair("RINGKV_DIFFERENTIAL_MORE_PY", redis_args, ringkv_args, false);
}

/* differential_more.py: ringkv on one shard */
static void test_more_one_shard(void **state)
{
    (void)state;
    const char *redis_args[] = { NULL };
    const char *ringkv_args[] = { "--threads", "1", NULL };
    run_script_pair("RINGKV_DIFFERENTIAL_MORE_PY", redis_args, ringkv_args, false);
}

int main(void)
{
    if (run_cmd("command -v redis-server >/dev/null 2>&1", NULL) != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_default_thresholds, stop_both),
        cmocka_unit_test_teardown(test_every_collection_converts, stop_both),
        cmocka_unit_test_teardown(test_cluster_mode, stop_both),
        cmocka_unit_test_teardown(test_more_two_shards, stop_both),
        cmocka_unit_test_teardown(test_more_one_shard, stop_both),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
