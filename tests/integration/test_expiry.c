/* Expiry: lazy (a GET after the deadline sees nothing) and active (keys
 * nobody touches still go away), TTL/PTTL as time passes. */
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
static tconn *c;

static int group_setup(void **state)
{
    const char *const args[] = { "--enable-debug-command", "yes", NULL };
    return server_start(&srv, args);
}
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

static void test_lazy_expiry(void **state)
{
    /* 1 s, not 100 ms: the 22 round trips before the first GET took more
     * than 100 ms under ASan with other tests beside it (the key was gone) */
    for (int i = 0; i < 20; i++)
        expect_ok(tcmd(c, "SET px:%d v PX 1000", i));
    expect_ok(tcmd(c, "SET keep v"));
    expect_bulk(tcmd(c, "GET px:0"), "v");
    usleep(1100 * 1000);
    for (int i = 0; i < 20; i++)
        expect_nil(tcmd(c, "GET px:%d", i));
    expect_int(tcmd(c, "EXISTS px:1"), 0);
    expect_int(tcmd(c, "TTL px:2"), -2);
    expect_bulk(tcmd(c, "GET keep"), "v");
    /* an expired key does not block NX */
    expect_ok(tcmd(c, "SET nx v PX 50"));
    usleep(100 * 1000);
    expect_ok(tcmd(c, "SET nx w NX"));
    expect_bulk(tcmd(c, "GET nx"), "w");
}

static void test_active_expiry(void **state)
{
    enum { N = 2000 };
    char k[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "act:%d", i);
        const char *a[] = { "SET", k, "v", "PX", "150" };
        tsendv(c, 5, a);
    }
    for (int i = 0; i < N; i++)
        expect_ok(tread(c, 10000));
    expect_ok(tcmd(c, "SET forever v"));
    /* nobody reads them: the background sweep must remove them */
    long long deadline = now_ms() + 8000;
    long long size = -1;
    while (now_ms() < deadline) {
        size = get_int(tcmd(c, "DBSIZE"));
        if (size == 1)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(size, 1);
    expect_bulk(tcmd(c, "GET forever"), "v");
}

/* A lookup that finds a key past its time deletes it, as Redis's does:
 * EXISTS and TYPE as GET (a master's replicas get the DEL then, not when
 * the sweep comes by). The sweep is off: only the lookups delete. */
static void test_lookups_delete_expired_keys(void **state)
{
    expect_ok(tcmd(c, "DEBUG SET-ACTIVE-EXPIRE 0"));
    expect_ok(tcmd(c, "SET gone:1 v PX 50"));
    expect_ok(tcmd(c, "SET gone:2 v PX 50"));
    expect_ok(tcmd(c, "SET gone:3 v PX 50"));
    usleep(150 * 1000);
    expect_int(tcmd(c, "DBSIZE"), 3); /* still held */
    long long expired = info_field(c, "stats", "expired_keys");
    expect_int(tcmd(c, "EXISTS gone:1"), 0);
    assert_int_equal(info_field(c, "stats", "expired_keys"), expired + 1);
    expect_int(tcmd(c, "DBSIZE"), 2);
    expect_status(tcmd(c, "TYPE gone:2"), "none");
    assert_int_equal(info_field(c, "stats", "expired_keys"), expired + 2);
    expect_nil(tcmd(c, "GET gone:3"));
    assert_int_equal(info_field(c, "stats", "expired_keys"), expired + 3);
    expect_int(tcmd(c, "DBSIZE"), 0);
    expect_ok(tcmd(c, "DEBUG SET-ACTIVE-EXPIRE 1"));
}

static void test_ttl_counts_down(void **state)
{
    /* Redis rounds TTL to the nearest second: 1800 ms left reads as 2 while
     * more than 1500 ms remain, and as 1 once between 500 and 1500 remain */
    expect_ok(tcmd(c, "SET t v PX 1800"));
    long long p1 = get_int(tcmd(c, "PTTL t"));
    assert_true(p1 > 1500 && p1 <= 1800);
    expect_int(tcmd(c, "TTL t"), 2);
    usleep(600 * 1000);
    long long p2 = get_int(tcmd(c, "PTTL t"));
    assert_true(p2 < p1 - 550 && p2 > 500);
    expect_int(tcmd(c, "TTL t"), 1);
    expect_int(tcmd(c, "PERSIST t"), 1);
    expect_int(tcmd(c, "PTTL t"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lazy_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_counts_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookups_delete_expired_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
