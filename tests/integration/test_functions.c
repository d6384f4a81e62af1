/* Redis 7 functions: FUNCTION LOAD|LIST|DELETE|FLUSH|DUMP|RESTORE|STATS|
 * KILL, FCALL and FCALL_RO against a server with two shards. The
 * expectations are redis-server 7.0's answers (the test runs unchanged
 * against it: RINGKV_TEST_TARGET=redis), error texts included. Keys are
 * chosen by their slot so that each of ringkv's shards gets its own
 * (slot s is on shard s % 2): a library loaded through one shard's
 * connection is called with keys of both. */
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
#include "shards/store/slot.h"
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

static struct server srv;
static tconn *c;

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_ok(tcmd(c, "FUNCTION FLUSH"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

static void key_on_shard(char *out, size_t cap, const char *prefix, int parity)
{
    for (int n = 0;; n++) {
        snprintf(out, cap, "%s%d", prefix, n);
        if ((int)(key_slot(out, strlen(out)) % 2) == parity)
            return;
    }
}

/* A command of words (NULL-ended), its reply. */
static struct rval *run(tconn *conn, ...)
{
    const char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, conn);
    for (const char *w; (w = va_arg(ap, const char *)) != NULL && argc < 32;)
        argv[argc++] = w;
    va_end(ap);
    tsendv(conn, argc, argv);
    return tread(conn, 10000);
}
#define RUN(...) run(c, __VA_ARGS__, NULL)

static const char lib_counter[] =
    "#!lua name=counter\n"
    "redis.register_function('incr_by', function(keys, args)\n"
    "  return redis.call('INCRBY', keys[1], args[1])\n"
    "end)\n"
    "redis.register_function{function_name='peek', callback=function(keys, args)\n"
    "  return redis.call('GET', keys[1])\n"
    "end, flags={'no-writes'}, description='read a counter'}\n";

static void test_load_and_call(void **state)
{
    expect_bulk(RUN("FUNCTION", "LOAD", lib_counter), "counter");
    char k0[32], k1[32];
    key_on_shard(k0, sizeof k0, "ctr", 0);
    key_on_shard(k1, sizeof k1, "ctr", 1);
    for (int i = 0; i < 3; i++) {
        expect_int(RUN("FCALL", "incr_by", "1", k0, "5"), 5 * (i + 1));
        expect_int(RUN("FCALL", "incr_by", "1", k1, "2"), 2 * (i + 1));
    }
    expect_bulk(RUN("FCALL_RO", "peek", "1", k0), "15");
    expect_bulk(RUN("FCALL", "peek", "1", k1), "6");
    expect_error(RUN("FCALL_RO", "incr_by", "1", k0, "1"),
                 "ERR Can not execute a script with write flag using *_ro command.");
    expect_error(RUN("FCALL", "nope", "0"), "ERR Function not found");
    expect_error(RUN("FCALL", "incr_by", "x", k0), "ERR Bad number of keys provided");
    expect_error(RUN("FCALL", "incr_by", "-1", k0), "ERR Number of keys can't be negative");
    expect_error(RUN("FCALL", "incr_by", "3", k0), "ERR Number of keys can't be greater than number of args");

    /* a function's errors name it; its library keeps upvalues across calls */
    expect_bulk(RUN("FUNCTION", "LOAD",
                    "#!lua name=more\n"
                    "local calls = 0\n"
                    "redis.register_function('boom', function() error('oops') end)\n"
                    "redis.register_function('calls', function() calls = calls + 1 return calls end)\n"
                    "redis.register_function('setg', function() x = 1 end)\n"),
                "more");
    expect_error(RUN("FCALL", "boom", "0"), "ERR user_function:3: oops script: boom, on @user_function:3.");
    expect_int(RUN("FCALL", "calls", "0"), 1);
    expect_int(RUN("FCALL", "calls", "0"), 2);
    expect_error_prefix(RUN("FCALL", "setg", "0"), "ERR user_function:5: Attempt to modify a readonly table");
}

static void test_load_errors(void **state)
{
    expect_error(RUN("FUNCTION", "LOAD", "redis.register_function('x', function() return 1 end)"),
                 "ERR Missing library metadata");
    expect_error(RUN("FUNCTION", "LOAD", "#!lua\nreturn 1"), "ERR Library name was not given");
    expect_error(RUN("FUNCTION", "LOAD", "#!lua name=e foo=bar\nreturn 1"),
                 "ERR Invalid metadata value given: foo=bar");
    expect_error(RUN("FUNCTION", "LOAD", "#!python name=e\nx"), "ERR Engine 'python' not found");
    expect_error(RUN("FUNCTION", "LOAD", "#!lua name=e\nlocal a = 1"), "ERR No functions registered");
    expect_error(RUN("FUNCTION", "LOAD", "#!lua name=e\nredis.call('set', 'a', 'b')"),
                 "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent "
                 "global variable 'call'");
    expect_error(RUN("FUNCTION", "LOAD", "#!lua name=e\nx = = 1"),
                 "ERR Error compiling function: user_function:2: unexpected symbol near '='");
    expect_error(RUN("FUNCTION", "LOAD",
                     "#!lua name=e\nredis.register_function('a', function() end)\n"
                     "redis.register_function('a', function() end)"),
                 "ERR Error registering functions: ERR Function already exists in the library");
    expect_error(RUN("FUNCTION", "LOAD",
                     "#!lua name=e\nredis.register_function{function_name='f', callback=function() end, "
                     "flags={'bogus'}}"),
                 "ERR Error registering functions: ERR unknown flag given");
    expect_error(RUN("FUNCTION", "LOAD", "#!lua name=spin\nwhile true do end"),
                 "ERR Error registering functions: ERR FUNCTION LOAD timeout");
    expect_error(RUN("FUNCTION", "LOAD", "#!lua name=a-b\nredis.register_function('f', function() end)"),
                 "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least "
                 "one character long");
    expect_bulk(RUN("FUNCTION", "LOAD", lib_counter), "counter");
    expect_error(RUN("FUNCTION", "LOAD", lib_counter), "ERR Library 'counter' already exists");
    expect_error(RUN("FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('peek', function() end)"),
                 "ERR Function peek already exists");
    expect_error(RUN("FUNCTION", "LOAD", "BAD", lib_counter), "ERR Unknown option given: BAD");
    /* nothing of a failed library stays */
    expect_error(RUN("FCALL", "a", "0"), "ERR Function not found");
}

/* The libraries' names in FUNCTION LIST's reply, sorted, joined by ','. */
static void listed(struct rval *v, char *out, size_t cap)
{
    assert_int_equal(v->type, R_ARRAY);
    char names[16][64];
    size_t n = 0;
    for (size_t i = 0; i < v->n && n < 16; i++) {
        struct rval *lib = v->elem[i];
        for (size_t k = 0; k + 1 < lib->n; k += 2)
            if (strcmp(lib->elem[k]->str, "library_name") == 0)
                snprintf(names[n++], 64, "%s", lib->elem[k + 1]->str);
    }
    qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "", names[i]);
    rval_free(v);
}

static void test_list_delete_flush(void **state)
{
    char names[256];
    expect_bulk(RUN("FUNCTION", "LOAD", lib_counter), "counter");
    expect_bulk(RUN("FUNCTION", "LOAD", "#!lua name=cache\nredis.register_function('c1', function() return 1 end)"),
                "cache");
    listed(RUN("FUNCTION", "LIST"), names, sizeof names);
    assert_string_equal(names, "cache,counter");
    listed(RUN("FUNCTION", "LIST", "LIBRARYNAME", "coun*"), names, sizeof names);
    assert_string_equal(names, "counter");
    struct rval *v = RUN("FUNCTION", "LIST", "LIBRARYNAME", "counter", "WITHCODE");
    assert_int_equal(v->n, 1);
    struct rval *lib = v->elem[0];
    assert_int_equal(lib->n, 8);
    assert_string_equal(lib->elem[2]->str, "engine");
    assert_string_equal(lib->elem[3]->str, "LUA");
    assert_string_equal(lib->elem[6]->str, "library_code");
    assert_string_equal(lib->elem[7]->str, lib_counter);
    struct rval *fns = lib->elem[5];
    assert_int_equal(fns->n, 2);
    for (size_t i = 0; i < 2; i++) {
        struct rval *f = fns->elem[i];
        if (strcmp(f->elem[1]->str, "peek") == 0) {
            assert_string_equal(f->elem[3]->str, "read a counter");
            assert_int_equal(f->elem[5]->n, 1);
            assert_string_equal(f->elem[5]->elem[0]->str, "no-writes");
        } else {
            assert_string_equal(f->elem[1]->str, "incr_by");
            assert_int_equal(f->elem[3]->type, R_NIL);
            assert_int_equal(f->elem[5]->n, 0);
        }
    }
    rval_free(v);
    expect_error(RUN("FUNCTION", "LIST", "bogus"), "ERR Unknown argument bogus");
    expect_error(RUN("FUNCTION", "LIST", "LIBRARYNAME"), "ERR library name argument was not given");

    v = RUN("FUNCTION", "STATS");
    assert_int_equal(v->n, 4);
    assert_string_equal(v->elem[0]->str, "running_script");
    assert_int_equal(v->elem[1]->type, R_NIL);
    struct rval *lua = v->elem[3]->elem[1];
    assert_int_equal(lua->elem[1]->integer, 2);
    assert_int_equal(lua->elem[3]->integer, 3);
    rval_free(v);

    struct rval *info = tcmd(c, "INFO memory");
    assert_non_null(strstr(info->str, "\r\nnumber_of_functions:3\r\n"));
    assert_non_null(strstr(info->str, "\r\nnumber_of_libraries:2\r\n"));
    rval_free(info);
    expect_ok(RUN("FUNCTION", "DELETE", "cache"));
    expect_error(RUN("FUNCTION", "DELETE", "cache"), "ERR Library not found");
    expect_error(RUN("FCALL", "c1", "0"), "ERR Function not found");
    expect_error(RUN("FUNCTION", "FLUSH", "bogus"), "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    expect_ok(RUN("FUNCTION", "FLUSH", "SYNC"));
    listed(RUN("FUNCTION", "LIST"), names, sizeof names);
    assert_string_equal(names, "");
    expect_error(RUN("FCALL", "peek", "1", "k"), "ERR Function not found");
    /* REPLACE swaps the code, and every shard calls the new one */
    expect_bulk(RUN("FUNCTION", "LOAD", "#!lua name=v\nredis.register_function('ver', function(k) return 1 end)"),
                "v");
    char k0[32], k1[32];
    key_on_shard(k0, sizeof k0, "v", 0);
    key_on_shard(k1, sizeof k1, "v", 1);
    expect_int(RUN("FCALL", "ver", "1", k0), 1);
    expect_int(RUN("FCALL", "ver", "1", k1), 1);
    expect_bulk(RUN("FUNCTION", "LOAD", "REPLACE",
                    "#!lua name=v\nredis.register_function('ver', function(k) return 2 end)"),
                "v");
    expect_int(RUN("FCALL", "ver", "1", k0), 2);
    expect_int(RUN("FCALL", "ver", "1", k1), 2);
}

static void test_dump_restore(void **state)
{
    expect_bulk(RUN("FUNCTION", "LOAD", lib_counter), "counter");
    struct rval *d = RUN("FUNCTION", "DUMP");
    assert_int_equal(d->type, R_BULK);
    const char *argv[] = { "FUNCTION", "RESTORE", d->str, "APPEND" };
    size_t lens[] = { 8, 7, d->len, 6 };
    tsendb(c, 4, argv, lens);
    expect_error(tread(c, 5000), "ERR Library counter already exists");
    argv[3] = "FLUSH";
    lens[3] = 5;
    tsendb(c, 4, argv, lens);
    expect_ok(tread(c, 5000));
    argv[3] = "REPLACE";
    lens[3] = 7;
    tsendb(c, 4, argv, lens);
    expect_ok(tread(c, 5000));
    argv[3] = "BAD";
    lens[3] = 3;
    tsendb(c, 4, argv, lens);
    expect_error(tread(c, 5000), "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
    expect_ok(RUN("FUNCTION", "FLUSH"));
    tsendb(c, 3, argv, lens);
    expect_ok(tread(c, 5000));
    expect_int(RUN("FCALL", "incr_by", "1", "k", "3"), 3);
    /* a payload damaged anywhere is refused */
    char *bad = malloc(d->len);
    memcpy(bad, d->str, d->len);
    bad[d->len / 2] ^= 1;
    argv[2] = bad;
    tsendb(c, 3, argv, lens);
    expect_error(tread(c, 5000), "ERR DUMP payload version or checksum are wrong");
    expect_error(RUN("FUNCTION", "RESTORE", "garbage"), "ERR DUMP payload version or checksum are wrong");
    free(bad);
    rval_free(d);
}

/* A function past busy-reply-threshold: -BUSY for the others, FUNCTION
 * KILL ends it (from a connection of another shard thread in ringkv). */
static void test_busy_function_kill(void **state)
{
    tconn *killer = tconnect(srv.port);
    struct rval *info = tcmd(killer, "CLIENT INFO");
    const char *at = strstr(info->str, "io-thread=");
    int other = 1 - (at ? atoi(at + 10) : 0);
    rval_free(info);
    char key[32], own[32];
    key_on_shard(key, sizeof key, "busy", other);
    key_on_shard(own, sizeof own, "free", 1 - other);
    expect_bulk(RUN("FUNCTION", "LOAD", "#!lua name=spin\n"
                    "redis.register_function{function_name='spin', callback=function() while true do end end, "
                    "flags={'no-writes'}}"),
                "spin");
    expect_ok(tcmd(killer, "CONFIG SET busy-reply-threshold 100"));
    const char *argv[] = { "FCALL", "spin", "1", key };
    tsendv(c, 4, argv);
    for (long long until = now_ms() + 10000;; usleep(20 * 1000)) {
        struct rval *v = tcmd(killer, "GET %s", own);
        bool busy = v->type == R_ERROR && strncmp(v->str, "BUSY ", 5) == 0;
        rval_free(v);
        if (busy)
            break;
        if (now_ms() > until)
            fail_msg("the function was never reported busy");
    }
    expect_ok(tcmd(killer, "FUNCTION KILL"));
    struct rval *v = tread(c, 10000);
    assert_non_null(v);
    assert_int_equal(v->type, R_ERROR);
    static const char killed[] = "ERR Script killed by user with SCRIPT KILL... script: spin";
    if (strncmp(v->str, killed, sizeof killed - 1) != 0)
        fail_msg("the killed function's reply: %s", v->str);
    rval_free(v);
    expect_error(tcmd(killer, "FUNCTION KILL"), "NOTBUSY No scripts in execution right now.");
    expect_ok(tcmd(killer, "CONFIG SET busy-reply-threshold 5000"));
    tclose(killer);
}

/* A replica gets the libraries: those loaded before it attached by its
 * full sync, later changes (LOAD, DELETE) by the stream; it runs the
 * read-only ones and refuses FUNCTION LOAD as a write. */
static void test_replica_gets_functions(void **state)
{
    expect_bulk(RUN("FUNCTION", "LOAD", lib_counter), "counter");
    expect_ok(tcmd(c, "SET n 7"));
    struct server *r = node_start(NULL);
    tconn *rc = tconnect(r->port);
    replicaof(rc, srv.port);
    wait_synced(c, rc, 10000);
    char names[256];
    listed(run(rc, "FUNCTION", "LIST", NULL), names, sizeof names);
    assert_string_equal(names, "counter");
    expect_bulk(run(rc, "FCALL_RO", "peek", "1", "n", NULL), "7");
    expect_bulk(RUN("FUNCTION", "LOAD", "#!lua name=later\nredis.register_function('l', function() return 1 end)"),
                "later");
    expect_ok(RUN("FUNCTION", "DELETE", "counter"));
    expect_int(RUN("FCALL", "l", "0"), 1);
    wait_synced(c, rc, 10000);
    listed(run(rc, "FUNCTION", "LIST", NULL), names, sizeof names);
    assert_string_equal(names, "later");
    expect_error_prefix(run(rc, "FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('x', function() end)",
                            NULL),
                        "READONLY ");
    tclose(rc);
    nodes_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_and_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_delete_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_function_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_gets_functions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
