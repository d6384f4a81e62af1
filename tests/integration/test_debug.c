/* DEBUG: who may run it (enable-debug-command, Redis's refusal text), SLEEP,
 * OBJECT's line, SET-ACTIVE-EXPIRE, POPULATE, ERROR, HELP, unknown and
 * refused subcommands. Written against redis-server first
 * (RINGKV_TEST_TARGET=redis); ringkv's refusals of Redis-only subcommands
 * skip there. */
#include <regex.h>
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

static struct server srv;      /* enable-debug-command local */
static tconn *c;

#define NOT_ALLOWED "ERR DEBUG command not allowed. If the enable-debug-command option is set to " \
                    "\"local\", you can run it from a local connection, otherwise you need to set " \
                    "this option in the configuration file, and then restart the server."

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = { "--threads", "2", "--enable-debug-command", "local", NULL };
    static const char *const redis_args[] = { "--enable-debug-command", "local", NULL };
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

static void expect_match(struct rval *v, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    if (!v || v->type != R_STATUS || regexec(&re, v->str, 0, NULL, 0) != 0) {
        char *t = rval_text(v);
        fail_msg("'%s' does not match '%s'", t, pattern);
    }
    regfree(&re);
    rval_free(v);
}

/* The default is no: every DEBUG is refused with Redis's text. */
static void test_not_allowed_by_default(void **state)
{
    (void)state;
    struct server other;
    static const char *const args[] = { "--threads", "2", NULL };
    assert_int_equal(server_start(&other, target_is_redis() ? NULL : args), 0);
    tconn *d = tconnect(other.port);
    expect_error(tcmd(d, "DEBUG SLEEP 0"), NOT_ALLOWED);
    expect_error(tcmd(d, "DEBUG OBJECT foo"), NOT_ALLOWED);
    struct rval *v = tcmd(d, "CONFIG GET enable-debug-command");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[1]->str, "no");
    rval_free(v);
    tclose(d);
    assert_int_equal(server_stop(&other), 0);
}

static void test_sleep(void **state)
{
    (void)state;
    long long t0 = now_ms();
    expect_ok(tcmd(c, "DEBUG SLEEP 0.3"));
    assert_true(now_ms() - t0 >= 290);
    expect_ok(tcmd(c, "DEBUG SLEEP 0"));
    expect_ok(tcmd(c, "DEBUG SLEEP abc")); /* Redis reads it with strtod */
    expect_error(tcmd(c, "DEBUG SLEEP"),
                 "ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.");
    struct rval *v = tcmd(c, "CONFIG GET enable-debug-command");
    assert_string_equal(v->elem[1]->str, "local");
    rval_free(v);
}

static void test_object(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "SET foo bar"));
    expect_match(tcmd(c, "DEBUG OBJECT foo"),
                 "^Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:4 lru:[0-9]+ "
                 "lru_seconds_idle:[0-9]+$");
    expect_ok(tcmd(c, "SET n 12"));
    expect_match(tcmd(c, "DEBUG OBJECT n"),
                 "^Value at:0x[0-9a-f]+ refcount:2147483647 encoding:int serializedlength:2 lru:");
    expect_ok(tcmd(c, "SET big 1234567"));
    expect_match(tcmd(c, "DEBUG OBJECT big"), " refcount:1 encoding:int serializedlength:5 ");
    expect_ok(tcmd(c, "SET s abcdefghijklmnopqrstuvwxyz0123"));
    expect_match(tcmd(c, "DEBUG OBJECT s"), " encoding:embstr serializedlength:31 ");
    expect_ok(tcmd(c, "SET r abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"));
    expect_match(tcmd(c, "DEBUG OBJECT r"), " encoding:raw ");
    /* keys on every shard */
    for (int i = 0; i < 20; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "SET k%d v%d", i, i);
        expect_ok(tcmd(c, "%s", cmd));
        expect_match(tcmd(c, "DEBUG OBJECT k%d", i), " encoding:embstr serializedlength:");
    }
    expect_error(tcmd(c, "DEBUG OBJECT nokey"), "ERR no such key");
}

static long long dbsize(void)
{
    return get_int(tcmd(c, "DBSIZE"));
}

/* Off: a key past its time stays counted until read; on again: the sweep
 * removes it. */
static void test_set_active_expire(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "DEBUG SET-ACTIVE-EXPIRE 0"));
    expect_ok(tcmd(c, "SET tmp 1 PX 50"));
    usleep(600 * 1000);
    assert_int_equal(dbsize(), 1);
    expect_ok(tcmd(c, "DEBUG SET-ACTIVE-EXPIRE 1"));
    long long t0 = now_ms();
    while (dbsize() != 0 && now_ms() - t0 < 3000)
        usleep(50 * 1000);
    assert_int_equal(dbsize(), 0);
}

static void test_populate(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "SET key:3 mine"));
    expect_ok(tcmd(c, "DEBUG POPULATE 100"));
    assert_int_equal(dbsize(), 100);
    expect_bulk(tcmd(c, "GET key:7"), "value:7");
    expect_bulk(tcmd(c, "GET key:99"), "value:99");
    expect_bulk(tcmd(c, "GET key:3"), "mine"); /* existing keys are left alone */
    expect_ok(tcmd(c, "DEBUG POPULATE 10 p 3"));
    expect_bulk(tcmd(c, "GET p:5"), "val");
    assert_int_equal(dbsize(), 110);
}

static void test_error_help_unknown(void **state)
{
    (void)state;
    expect_error(tcmd(c, "DEBUG ERROR boom"), "boom");
    struct rval *v = tcmd(c, "DEBUG HELP");
    assert_int_equal(v->type, R_ARRAY);
    assert_true(v->n > 4);
    assert_string_equal(v->elem[0]->str, "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    rval_free(v);
    expect_error_prefix(tcmd(c, "DEBUG NOSUCHTHING"), "ERR unknown subcommand");
    if (target_is_redis()) {
        expect_error_prefix(tcmd(c, "DEBUG JMAP"), "ERR unknown subcommand");
        return;
    }
    expect_error_prefix(tcmd(c, "DEBUG JMAP"), "ERR DEBUG JMAP is not supported by ringkv");
    expect_error_prefix(tcmd(c, "DEBUG QUICKLIST-PACKED-THRESHOLD 100"),
                        "ERR DEBUG QUICKLIST-PACKED-THRESHOLD is not supported by ringkv");
    expect_error(tcmd(c, "DEBUG loadaof"),
                 "ERR DEBUG LOADAOF is not supported by ringkv (it has the subcommands DEBUG HELP lists)");
}

/* The LRU age DEBUG OBJECT shows (lru_seconds_idle: ticks of the store's
 * clock in ringkv). */
static long long lru_age(const char *key)
{
    struct rval *v = tcmd(c, "DEBUG OBJECT %s", key);
    assert_int_equal(v->type, R_STATUS);
    const char *p = strstr(v->str, "lru_seconds_idle:");
    assert_non_null(p);
    long long age = atoll(p + strlen("lru_seconds_idle:"));
    rval_free(v);
    return age;
}

/* CLIENT NO-TOUCH (Redis 7.2; ringkv only here, the reference is 7.0):
 * reads leave the key's LRU clock, TOUCH still touches. The keys share a
 * hash tag, so one shard's clock ticks with the reads of the other key. */
static void test_no_touch(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    expect_ok(tcmd(c, "SET {t}a 1"));
    expect_ok(tcmd(c, "SET {t}b 1"));
    for (int i = 0; i < 30; i++)
        expect_bulk(tcmd(c, "GET {t}b"), "1");
    long long aged = lru_age("{t}a");
    assert_true(aged >= 20);
    expect_ok(tcmd(c, "CLIENT NO-TOUCH ON"));
    expect_bulk(tcmd(c, "GET {t}a"), "1");
    struct rval *v = tcmd(c, "MGET {t}a {t}b");
    rval_free(v);
    assert_true(lru_age("{t}a") >= aged);
    expect_int(tcmd(c, "TOUCH {t}a"), 1);
    assert_true(lru_age("{t}a") <= 1);
    /* off again: reads touch */
    expect_ok(tcmd(c, "CLIENT NO-TOUCH OFF"));
    for (int i = 0; i < 30; i++)
        expect_bulk(tcmd(c, "GET {t}b"), "1");
    assert_true(lru_age("{t}a") >= 20);
    expect_bulk(tcmd(c, "GET {t}a"), "1");
    assert_true(lru_age("{t}a") <= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_allowed_by_default),
        cmocka_unit_test_setup_teardown(test_sleep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_active_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_populate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_help_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_touch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
