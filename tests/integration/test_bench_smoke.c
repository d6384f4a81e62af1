/* ringkv-bench in smoke mode: it starts, talks to a real server for about a
 * second, and prints one well-formed JSON report with work done and no
 * errors. Against ringkv (RESP) and, when installed, memcached (its text
 * protocol). No speed is asserted: this checks the tool, not the machine.
 * The binary comes from $RINGKV_BENCH. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
