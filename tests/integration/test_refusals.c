/* SELECT, MOVE, SWAPDB with `databases 1` (one database, 0), both
 * servers: Redis's refusals and texts. (Several databases: test_keyspace.c.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;
static tconn *c;

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = { "--threads", "2", "--databases", "1", NULL };
    static const char *const redis_args[] = { "--databases", "1", NULL };
    return server_start(&srv, target_is_redis() ? redis_args : args);
}
static int group_teardown(void **state) { (void)state; return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    (void)state;
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { (void)state; tclose(c); c = NULL; return 0; }

static void test_select(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "SELECT 0"));
    expect_error(tcmd(c, "SELECT 1"), "ERR DB index is out of range");
    expect_error(tcmd(c, "SELECT 15"), "ERR DB index is out of range");
    expect_error(tcmd(c, "SELECT x"), "ERR value is not an integer or out of range");
}

static void test_move(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "SET k v"));
    expect_error_prefix(tcmd(c, "MOVE k 1"), "ERR DB index is out of range");
    expect_error_prefix(tcmd(c, "MOVE nokey 1"), "ERR DB index is out of range");
    expect_error(tcmd(c, "MOVE k 0"), "ERR source and destination objects are the same");
    expect_error(tcmd(c, "MOVE k x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "MOVE k"), "ERR wrong number of arguments for 'move' command");
    expect_bulk(tcmd(c, "GET k"), "v");
}

static void test_swapdb(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "SET k v"));
    expect_ok(tcmd(c, "SWAPDB 0 0"));
    expect_bulk(tcmd(c, "GET k"), "v");
    expect_error_prefix(tcmd(c, "SWAPDB 0 1"), "ERR DB index is out of range");
    expect_error(tcmd(c, "SWAPDB x 0"), "ERR invalid first DB index");
    expect_error(tcmd(c, "SWAPDB 0 x"), "ERR invalid second DB index");
    expect_error(tcmd(c, "SWAPDB 0"), "ERR wrong number of arguments for 'swapdb' command");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapdb, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
