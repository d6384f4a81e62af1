/* Protected mode with a real non-loopback client: a network namespace with
 * a veth pair, ringkv bound to the host side, redis-cli run inside the
 * namespace. Needs root and iproute2; skipped without them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define NS "rkvpm"
#define HOST_IF "rkvpm0"
#define HOST_ADDR "10.251.9.1"
#define NS_ADDR "10.251.9.2"

static void teardown_ns(void)
{
    run_cmd("ip netns del " NS " 2>/dev/null; ip link del " HOST_IF " 2>/dev/null", NULL);
}

static int setup_ns(void)
{
    teardown_ns();
    return run_cmd("ip netns add " NS " && "
                   "ip link add " HOST_IF " type veth peer name rkvpm1 netns " NS " && "
                   "ip addr add " HOST_ADDR "/30 dev " HOST_IF " && ip link set " HOST_IF " up && "
                   "ip netns exec " NS " ip addr add " NS_ADDR "/30 dev rkvpm1 && "
                   "ip netns exec " NS " ip link set rkvpm1 up", NULL);
}

/* redis-cli from inside the namespace; returns its output */
static char *remote_cli(int port, const char *args)
{
    char cmd[512];
    char *out = NULL;
    snprintf(cmd, sizeof(cmd), "ip netns exec " NS " redis-cli -h " HOST_ADDR " -p %d %s 2>&1", port, args);
    run_cmd(cmd, &out);
    return out;
}

static void test_protected_mode(void **state)
{
    (void)state;
    if (geteuid() != 0 || run_cmd("command -v ip >/dev/null && command -v redis-cli >/dev/null", NULL) != 0)
        skip();
    if (setup_ns() != 0) {
        teardown_ns();
        skip();
    }
    struct server s;
    const char *args[] = { "--bind", HOST_ADDR " 127.0.0.1", NULL };
    assert_int_equal(server_start(&s, args), 0);

    /* no password, protected mode on: a remote client is refused ... */
    char *out = remote_cli(s.port, "ping");
    assert_non_null(strstr(out, "DENIED Redis is running in protected mode"));
    free(out);
    /* ... while loopback clients are served */
    tconn *c = tconnect(s.port);
    expect_status(tcmd(c, "PING"), "PONG");
    expect_ok(tcmd(c, "SET k v"));

    /* with a password the remote client may come in and must AUTH */
    expect_ok(tcmd(c, "CONFIG SET requirepass s3cret"));
    out = remote_cli(s.port, "get k");
    assert_non_null(strstr(out, "NOAUTH"));
    free(out);
    out = remote_cli(s.port, "-a s3cret --no-auth-warning get k");
    assert_string_equal(out, "v\n");
    free(out);

    /* protected mode off, no password: remote clients are served */
    expect_ok(tcmd(c, "AUTH s3cret"));
    const char *clear[] = { "CONFIG", "SET", "requirepass", "" };
    tsendv(c, 4, clear);
    expect_ok(tread(c, 2000));
    expect_ok(tcmd(c, "CONFIG SET protected-mode no"));
    out = remote_cli(s.port, "ping");
    assert_string_equal(out, "PONG\n");
    free(out);
    tclose(c);
    assert_int_equal(server_stop(&s), 0);
    teardown_ns();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protected_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
