/* The real redis-cli against the server: plain commands, --no-raw, RESP3
 * (-3), --scan --pattern, info keyspace, and --pipe mass insertion. Skipped
 * (exit 77) when redis-cli is not installed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
    return 0;
}

/* Run `redis-cli -p PORT <args>`; returns its output (malloc'd) and asserts
 * exit status 0. */
static char *cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cli(const char *fmt, ...)
{
    char args[4096], cmd[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "timeout 20 redis-cli -p %d %s 2>&1 </dev/null", srv.port, args);
    char *out = NULL;
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("`%s` exited %d: %s", cmd, st, out);
    return out;
}

static void expect_cli(const char *want, char *out)
{
    if (strcmp(out, want) != 0)
        fail_msg("redis-cli printed '%s', expected '%s'", out, want);
    free(out);
}

static void test_set_get(void **state)
{
    expect_cli("OK\n", cli("set k v"));
    expect_cli("v\n", cli("get k"));
    expect_cli("\"v\"\n", cli("--no-raw get k"));
    expect_cli("(nil)\n", cli("--no-raw get nokey"));
    expect_cli("(integer) 1\n", cli("--no-raw incr n"));
    expect_cli("(integer) 1\n", cli("--no-raw exists k"));
    expect_cli("(error) ERR wrong number of arguments for 'get' command\n", cli("--no-raw get"));
    expect_cli("PONG\n", cli("ping"));
}

static void test_resp3(void **state)
{
    expect_cli("OK\n", cli("-3 set k v"));
    expect_cli("\"v\"\n", cli("-3 --no-raw get k"));
    expect_cli("(nil)\n", cli("-3 --no-raw get nokey"));
    char *out = cli("-3 --no-raw hello 3");
    assert_non_null(strstr(out, "\"proto\""));
    assert_non_null(strstr(out, "(integer) 3"));
    free(out);
}

static void test_scan_pattern(void **state)
{
    tconn *c = tconnect(srv.port);
    for (int i = 0; i < 300; i++)
        expect_ok(tcmd(c, "SET user:%d x", i));
    for (int i = 0; i < 50; i++)
        expect_ok(tcmd(c, "SET session:%d x", i));
    tclose(c);
    char *out = cli("--scan --pattern 'user:*'");
    char *seen = calloc(300, 1);
    int lines = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lines++;
        assert_true(strncmp(l, "user:", 5) == 0);
        int i = atoi(l + 5);
        assert_true(i >= 0 && i < 300);
        assert_int_equal(seen[i], 0);  /* this small keyspace: no duplicates expected */
        seen[i] = 1;
    }
    assert_int_equal(lines, 300);
    free(seen);
    free(out);
}

static void test_info_keyspace(void **state)
{
    expect_cli("OK\n", cli("mset a 1 b 2 c 3"));
    char *out = cli("info keyspace");
    assert_non_null(strstr(out, "# Keyspace"));
    assert_non_null(strstr(out, "db0:keys=3,expires=0"));
    free(out);
    out = cli("info");
    assert_non_null(strstr(out, "redis_version:"));
    free(out);
}

static void test_pipe(void **state)
{
    enum { N = 5000 };
    char path[256];
    snprintf(path, sizeof path, "/tmp/ringkv-test-pipe-%d.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < N; i++) {
        char k[32], v[32];
        int kl = snprintf(k, sizeof k, "pipe:%d", i);
        int vl = snprintf(v, sizeof v, "val%d", i);
        fprintf(f, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl, k, vl, v);
    }
    fclose(f);
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof cmd, "timeout 30 redis-cli -p %d --pipe < %s 2>&1", srv.port, path);
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("redis-cli --pipe exited %d: %s", st, out);
    char want[64];
    snprintf(want, sizeof want, "errors: 0, replies: %d", N);
    if (!strstr(out, want))
        fail_msg("redis-cli --pipe said: %s", out);
    free(out);
    unlink(path);
    expect_cli("5000\n", cli("dbsize"));
    expect_cli("val4999\n", cli("get pipe:4999"));

    /* a file with a failing command: errors are counted */
    f = fopen(path, "w");
    fprintf(f, "*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$3\r\nGET\r\n*1\r\n$4\r\nPING\r\n");
    fclose(f);
    run_cmd(cmd, &out);
    assert_non_null(strstr(out, "errors: 1, replies: 3"));
    free(out);
    unlink(path);
}

int main(void)
{
    if (run_cmd("command -v redis-cli >/dev/null 2>&1", NULL) != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_set_get, setup),
        cmocka_unit_test_setup(test_resp3, setup),
        cmocka_unit_test_setup(test_scan_pattern, setup),
        cmocka_unit_test_setup(test_info_keyspace, setup),
        cmocka_unit_test_setup(test_pipe, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
