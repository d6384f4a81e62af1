/* ringkv-bench in smoke mode: it starts, talks to a real server for about a
 * second, and prints one well-formed JSON report with work done and no
 * errors. Against ringkv (RESP) and, when installed, memcached (its text
 * protocol). No speed is asserted: this checks the tool, not the machine.
 * In --cluster mode, against three ringkv nodes in cluster mode given one
 * slot table: every key goes to the node that owns it (no MOVED, the keys
 * spread over all three), and when the table changes under the load the
 * bench follows the MOVED replies without a failed request. The binary
 * comes from $RINGKV_BENCH. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* ---- a strict JSON checker: is the text exactly one JSON value? ---- */

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *json_value(const char *p, int depth);

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (!strchr("\"\\/bfnrtu", *p) || !*p)
                return NULL;
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p)
{
    const char *s = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p > s ? p : NULL;
}

static const char *json_value(const char *p, int depth)
{
    if (depth > 16)
        return NULL;
    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool object = *p == '{';
        p = json_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (object) {
                p = json_string(json_ws(p));
                if (!p)
                    return NULL;
                p = json_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            p = json_value(p, depth + 1);
            if (!p)
                return NULL;
            p = json_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return json_string(p);
    if (!strncmp(p, "true", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (!strncmp(p, "null", 4)) return p + 4;
    return json_number(p);
}

static bool json_well_formed(const char *text)
{
    const char *end = json_value(text, 0);
    return end && *json_ws(end) == 0;
}

/* The number after "key": at the top level of a flat report (first match). */
static double json_number_of(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p)
        fail_msg("no \"%s\" in %s", key, text);
    return strtod(p + strlen(pat), NULL);
}

/* ---- running the bench ---- */

static const char *bench_binary(void)
{
    const char *b = getenv("RINGKV_BENCH");
    if (!b || !*b)
        fail_msg("RINGKV_BENCH is not set");
    return b;
}

/* Run ringkv-bench with args against port, return its stdout (malloc'd). */
static char *run_bench(int port, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -p %d -d 1 -c 8 --keys 1000 --json --quiet %s",
             bench_binary(), port, args);
    char *out = NULL;
    int rc = run_cmd(cmd, &out);
    if (rc != 0)
        fail_msg("`%s` exited with %d: %s", cmd, rc, out ? out : "");
    return out;
}

static void check_report(const char *out, const char *protocol, const char *workload)
{
    if (!json_well_formed(out))
        fail_msg("not one JSON object: %s", out);
    char want[64];
    snprintf(want, sizeof want, "\"protocol\":\"%s\"", protocol);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "\"workload\":\"%s\"", workload);
    assert_non_null(strstr(out, want));
    const char *keys[] = { "threads", "connections", "pipeline", "duration_s", "requests",
                           "errors", "ops_per_sec", "hits", "misses", "hit_ratio",
                           "lru_sim_hit_ratio", "latency_us", "p50", "p90", "p99",
                           "p99.9", "p99.99", "max" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(want, sizeof want, "\"%s\":", keys[i]);
        if (!strstr(out, want))
            fail_msg("no %s in %s", want, out);
    }
    if (!(json_number_of(out, "ops_per_sec") > 0))
        fail_msg("no work done: %s", out);
    if (json_number_of(out, "errors") != 0)
        fail_msg("errors reported: %s", out);
    if (!(json_number_of(out, "requests") > 0))
        fail_msg("no requests: %s", out);
}

/* ---- tests ---- */

static void test_resp_get_set(void **state)
{
    struct server srv;
    if (server_start(&srv, NULL) != 0)
        return;
    char *out = run_bench(srv.port, "--prefill --lru-capacity 500");
    check_report(out, "resp", "get-set");
    /* prefilled: every GET finds its key */
    assert_true(json_number_of(out, "hits") > 0);
    assert_true(json_number_of(out, "misses") == 0);
    assert_true(json_number_of(out, "lru_sim_hit_ratio") > 0);
    free(out);

    out = run_bench(srv.port, "--workload mget --mkeys 4 -P 4 --key-dist zipf:0.99");
    check_report(out, "resp", "mget");
    free(out);
    out = run_bench(srv.port, "--workload incr --prefill --rate 2000");
    check_report(out, "resp", "incr");
    free(out);
    assert_int_equal(server_stop(&srv), 0);
}

static void test_memcache(void **state)
{
    if (access("/usr/bin/memcached", X_OK) != 0)
        skip();
    int port = free_port();
    /* not created here: memcached writes it after dropping to "nobody" */
    char pidfile[128];
    snprintf(pidfile, sizeof pidfile, "/tmp/ringkv-bench-smoke-memcached.%d.pid", (int)getpid());
    unlink(pidfile);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/memcached -p %d -U 0 -l 127.0.0.1 -t 1 -d -P %s %s",
             port, pidfile, geteuid() == 0 ? "-u nobody" : "");
    assert_int_equal(run_cmd(cmd, NULL), 0);

    pid_t pid = 0;
    for (int i = 0; i < 250 && pid <= 0; i++) {
        FILE *f = fopen(pidfile, "r");
        long v = 0;
        if (f) {
            if (fscanf(f, "%ld", &v) != 1)
                v = 0;
            fclose(f);
        }
        pid = (pid_t)v;
        if (pid <= 0)
            usleep(20000);
    }
    assert_true(pid > 0);

    /* wait until it accepts connections */
    snprintf(cmd, sizeof cmd, "%s -p %d -n 1 -c 1 --protocol memcache --json --quiet",
             bench_binary(), port);
    for (int i = 0; i < 50 && run_cmd(cmd, NULL) != 0; i++)
        usleep(50000);

    snprintf(cmd, sizeof cmd, "%s -p %d -d 1 -c 8 --keys 1000 --json --quiet "
             "--protocol memcache --prefill", bench_binary(), port);
    char *out = NULL;
    int rc = run_cmd(cmd, &out);
    /* stop it before any assertion can end the test */
    kill(pid, SIGTERM);
    for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
        usleep(50000);
    if (kill(pid, 0) == 0)
        kill(pid, SIGKILL);
    unlink(pidfile);
    if (rc != 0)
        fail_msg("`%s` exited with %d: %s", cmd, rc, out ? out : "");
    check_report(out, "memcache", "get-set");
    assert_true(json_number_of(out, "hits") > 0);
    free(out);
}

/* ---- --cluster ---- */

static struct server cnode[3];
static char cids[3][41];
static char cconf[3][300];

/* The table: group g owns [bounds[g], bounds[g + 1]) */
static char *cluster_state_text(int version, const int bounds[4])
{
    static char text[4096];
    int len = snprintf(text, sizeof text, "ringkv-cluster-state 1\ntable-version %d\n", version);
    for (int g = 0; g < 3; g++)
        len += snprintf(text + len, sizeof text - (size_t)len,
                        "group %d %s 1\nnode %s 127.0.0.1 %d %d\nslots %d %d-%d\n",
                        g, cids[g], cids[g], cnode[g].port, g, g, bounds[g], bounds[g + 1] - 1);
    return text;
}

static void cluster_push(int i, const char *expected, const char *text)
{
    tconn *c = tconnect(cnode[i].port);
    const char *argv[] = { "CLUSTER", "RINGKV-SETSTATE", expected, text };
    tsendv(c, 4, argv);
    expect_ok(tread(c, 5000));
    tclose(c);
}

static long long dbsize(int port)
{
    tconn *c = tconnect(port);
    long long n = get_int(tcmd(c, "DBSIZE"));
    tclose(c);
    return n;
}

static void test_cluster(void **state)
{
    if (target_is_redis())
        skip();             /* the table is pushed with ringkv's own command */
    static const int v1[4] = { 0, 5461, 10923, 16384 };
    /* v2 moves slots 0..999 from node 0 to node 1 only: pushed to node 1
     * first, then 0, no node ever redirects back to where a request came
     * from, so no request needs more than one MOVED */
    static const int v2[4] = { 0, 1000, 10923, 16384 };
    for (int i = 0; i < 3; i++) {
        snprintf(cconf[i], sizeof cconf[i], "/tmp/ringkv-bench-smoke-%d-%d.conf", (int)getpid(), i);
        unlink(cconf[i]);
        const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", cconf[i], NULL };
        assert_int_equal(server_start(&cnode[i], args), 0);
        tconn *c = tconnect(cnode[i].port);
        struct rval *v = tcmd(c, "CLUSTER MYID");
        assert_int_equal(v->type, R_BULK);
        snprintf(cids[i], sizeof cids[i], "%s", v->str);
        rval_free(v);
        tclose(c);
    }
    for (int i = 0; i < 3; i++)
        cluster_push(i, "0", cluster_state_text(1, v1));

    /* every key on its owner: no MOVED, and all 1000 keys spread over the
     * three nodes */
    char *out = run_bench(cnode[0].port, "--cluster --prefill -P 4");
    check_report(out, "resp", "get-set");
    assert_true(json_number_of(out, "cluster_nodes") == 3);
    assert_true(json_number_of(out, "moved") == 0);
    assert_true(json_number_of(out, "misses") == 0);
    free(out);
    long long total = 0;
    for (int i = 0; i < 3; i++) {
        long long n = dbsize(cnode[i].port);
        assert_true(n > 0);
        total += n;
    }
    assert_int_equal(total, 1000);

    /* a hash tag: every key in the slot of "tag", so on one node only */
    long long before[3];
    for (int i = 0; i < 3; i++)
        before[i] = dbsize(cnode[i].port);
    out = run_bench(cnode[1].port, "--cluster --prefill --key-prefix {tag}:");
    check_report(out, "resp", "get-set");
    assert_true(json_number_of(out, "moved") == 0);
    free(out);
    int grew = 0;
    for (int i = 0; i < 3; i++) {
        long long d = dbsize(cnode[i].port) - before[i];
        assert_true(d == 0 || d == 1000);
        grew += d == 1000;
    }
    assert_int_equal(grew, 1);

    /* open loop, two load threads */
    out = run_bench(cnode[2].port, "--cluster -t 2 --rate 4000");
    check_report(out, "resp", "get-set");
    assert_true(json_number_of(out, "moved") == 0);
    free(out);

    /* the table changes during a run: MOVED followed, nothing fails */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -p %d -d 2 -c 8 -P 4 --keys 1000 --json --quiet --cluster",
             bench_binary(), cnode[2].port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    usleep(700000);
    cluster_push(1, "1", cluster_state_text(2, v2));
    cluster_push(0, "1", cluster_state_text(2, v2));
    cluster_push(2, "1", cluster_state_text(2, v2));
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = 0;
    int rc = pclose(p);
    if (rc != 0)
        fail_msg("`%s` exited with %d: %s", cmd, rc, text);
    check_report(text, "resp", "get-set");
    assert_true(json_number_of(text, "moved") > 0);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(server_stop(&cnode[i]), 0);
        unlink(cconf[i]);
    }
}

static void test_cluster_refusals(void **state)
{
    char cmd[512];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s --cluster --workload mget 2>&1", bench_binary());
    assert_int_equal(run_cmd(cmd, &out), 2);
    assert_non_null(strstr(out, "CROSSSLOT"));
    free(out);
    /* a standalone server: CLUSTER SLOTS is refused, the bench says so */
    struct server srv;
    if (server_start(&srv, NULL) != 0)
        return;
    snprintf(cmd, sizeof cmd, "%s -p %d --cluster -d 1 2>&1", bench_binary(), srv.port);
    out = NULL;
    assert_int_equal(run_cmd(cmd, &out), 1);
    assert_non_null(strstr(out, "CLUSTER SLOTS"));
    free(out);
    assert_int_equal(server_stop(&srv), 0);
}

static void test_memcache_rejects_mset(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s --protocol memcache --workload mset 2>&1", bench_binary());
    char *out = NULL;
    assert_int_equal(run_cmd(cmd, &out), 2);
    assert_non_null(strstr(out, "not supported by memcache protocol"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_get_set),
        cmocka_unit_test(test_memcache),
        cmocka_unit_test(test_memcache_rejects_mset),
        cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_cluster_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
