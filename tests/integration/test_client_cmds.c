/* CLIENT subcommands a Redis user reaches for: REPLY ON|OFF|SKIP (replies
 * dropped whichever shard answers, redis-cli's own handling of it),
 * NO-EVICT, NO-TOUCH, GETREDIR, TRACKING's arguments (on a RESP2
 * connection too; the modes are test_tracking.c's), TRACKINGINFO,
 * CACHING, UNBLOCK, and CLIENT INFO's fields
 * as Redis 7 lists them. Written against redis-server first
 * (RINGKV_TEST_TARGET=redis); the ringkv-only refusals skip there. */
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
    static const char *const args[] = { "--threads", "2", NULL };
    return server_start(&srv, target_is_redis() ? NULL : args);
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

static void send_words(tconn *t, const char *line)
{
    char *copy = strdup(line);
    const char *argv[64];
    int argc = 0;
    for (char *w = strtok(copy, " "); w && argc < 64; w = strtok(NULL, " "))
        argv[argc++] = w;
    tsendv(t, argc, argv);
    free(copy);
}

/* Nothing more to read within ms. */
static void expect_silence(tconn *t, int ms)
{
    struct rval *v = tread(t, ms);
    if (v) {
        char *txt = rval_text(v);
        fail_msg("expected no reply, got %s", txt);
    }
}

/* OFF: nothing comes back, not even errors, until ON, which answers +OK;
 * the writes made meanwhile happened. Keys of both shards, a split command
 * (MSET/MGET over shards) and an all-shards one (DBSIZE) included. */
static void test_reply_off_on(void **state)
{
    (void)state;
    send_words(c, "CLIENT REPLY OFF");
    send_words(c, "SET a 1");
    send_words(c, "MSET k1 v1 k2 v2 k3 v3 k4 v4 k5 v5 k6 v6");
    send_words(c, "MGET k1 k2 k3 k4 k5 k6");
    send_words(c, "DBSIZE");
    send_words(c, "NOSUCHCOMMAND x");
    send_words(c, "GET a b");
    send_words(c, "CLIENT INFO");
    expect_silence(c, 300);
    expect_ok(tcmd(c, "CLIENT REPLY ON"));
    expect_bulk(tcmd(c, "GET a"), "1");
    expect_bulk(tcmd(c, "GET k6"), "v6");
    expect_int(tcmd(c, "DBSIZE"), 7);
    /* ON when already on */
    expect_ok(tcmd(c, "CLIENT REPLY ON"));
}

/* SKIP: its own reply and the next command's are dropped, then replies
 * come back; SKIP while OFF changes nothing. */
static void test_reply_skip(void **state)
{
    (void)state;
    send_words(c, "CLIENT REPLY SKIP");
    send_words(c, "MSET k1 v1 k2 v2 k3 v3 k4 v4");
    send_words(c, "GET k3");
    expect_bulk(tread(c, 2000), "v3");
    expect_silence(c, 200);

    send_words(c, "CLIENT REPLY SKIP");
    send_words(c, "NOSUCHCOMMAND");
    send_words(c, "PING");
    expect_status(tread(c, 2000), "PONG");

    send_words(c, "CLIENT REPLY OFF");
    send_words(c, "CLIENT REPLY SKIP");
    send_words(c, "PING");
    send_words(c, "CLIENT REPLY ON");
    expect_ok(tread(c, 2000));
    expect_silence(c, 200);
}

/* A pipeline mixing muted and answered commands keeps its order. */
static void test_reply_pipeline_order(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++) {
        char line[128];
        snprintf(line, sizeof line, "SET key:%d %d", i, i);
        send_words(c, "CLIENT REPLY SKIP");
        send_words(c, line);
        snprintf(line, sizeof line, "MGET key:%d nokey:%d", i, i);
        send_words(c, line);
    }
    for (int i = 0; i < 50; i++) {
        struct rval *v = tread(c, 2000);
        assert_non_null(v);
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 2);
        assert_int_equal(atoi(v->elem[0]->str), i);
        assert_int_equal(v->elem[1]->type, R_NIL);
        rval_free(v);
    }
    expect_silence(c, 200);
}

/* Errors of the argument, and RESET turning replies back on. */
static void test_reply_errors_and_reset(void **state)
{
    (void)state;
    expect_error(tcmd(c, "CLIENT REPLY MAYBE"), "ERR syntax error");
    expect_error(tcmd(c, "CLIENT REPLY"), "ERR wrong number of arguments for 'client|reply' command");
    send_words(c, "CLIENT REPLY OFF");
    send_words(c, "PING");
    send_words(c, "RESET");
    expect_status(tread(c, 2000), "RESET");
    expect_status(tcmd(c, "PING"), "PONG");
}

/* redis-cli's mass insertion (--pipe, as users load data) with replies
 * off: it counts the replies it gets and ends with the last one. */
static void test_reply_redis_cli(void **state)
{
    (void)state;
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "printf 'CLIENT REPLY OFF\\r\\nSET clikey 7\\r\\nMSET a 1 b 2 c 3\\r\\nCLIENT REPLY ON\\r\\n"
             "GET clikey\\r\\n' | timeout 20 redis-cli -p %d --pipe 2>&1", srv.port);
    int rc = run_cmd(cmd, &out);
    if (rc == 127) {
        free(out);
        skip();
    }
    if (rc != 0 || !strstr(out, "errors: 0, replies: 2"))
        fail_msg("redis-cli --pipe exited %d and printed '%s'", rc, out);
    free(out);
    expect_bulk(tcmd(c, "GET clikey"), "7");
    expect_bulk(tcmd(c, "GET c"), "3");
}

static void test_no_evict_no_touch(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "CLIENT NO-EVICT on"));
    struct rval *v = tcmd(c, "CLIENT INFO");
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    assert_non_null(strstr(v->str, " flags=e "));
    rval_free(v);
    expect_ok(tcmd(c, "CLIENT NO-EVICT OFF"));
    expect_error(tcmd(c, "CLIENT NO-EVICT maybe"), "ERR syntax error");
    expect_error(tcmd(c, "CLIENT NO-EVICT"), "ERR wrong number of arguments for 'client|no-evict' command");
    if (target_is_redis())
        return; /* NO-TOUCH is Redis 7.2's; the installed server is 7.0 */
    expect_ok(tcmd(c, "CLIENT NO-TOUCH ON"));
    expect_ok(tcmd(c, "CLIENT NO-TOUCH off"));
    expect_error(tcmd(c, "CLIENT NO-TOUCH x"), "ERR syntax error");
}

static void test_tracking(void **state)
{
    (void)state;
    expect_int(tcmd(c, "CLIENT GETREDIR"), -1);
    expect_ok(tcmd(c, "CLIENT TRACKING off"));
    expect_error(tcmd(c, "CLIENT TRACKING maybe"), "ERR syntax error");
    expect_error(tcmd(c, "CLIENT CACHING yes"),
                 "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
                 "OPTIN or OPTOUT mode enabled");
    struct rval *v = tcmd(c, "CLIENT TRACKINGINFO");
    assert_true(v->type == R_ARRAY || v->type == R_MAP);
    assert_int_equal(v->n, 6);
    assert_string_equal(v->elem[0]->str, "flags");
    assert_int_equal(v->elem[1]->n, 1);
    assert_string_equal(v->elem[1]->elem[0]->str, "off");
    assert_string_equal(v->elem[2]->str, "redirect");
    assert_int_equal(v->elem[3]->integer, -1);
    assert_string_equal(v->elem[4]->str, "prefixes");
    assert_int_equal(v->elem[5]->n, 0);
    rval_free(v);
    expect_int(tcmd(c, "CLIENT UNBLOCK 12345"), 0);
    expect_error(tcmd(c, "CLIENT UNBLOCK abc"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "CLIENT UNBLOCK 1 maybe"), "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    /* tracking on a RESP2 connection is taken, as Redis takes it (its
     * invalidations need REDIRECT: test_tracking.c has the rest) */
    expect_ok(tcmd(c, "CLIENT TRACKING on"));
    expect_int(tcmd(c, "CLIENT GETREDIR"), 0);
    expect_ok(tcmd(c, "CLIENT TRACKING off"));
    expect_int(tcmd(c, "CLIENT GETREDIR"), -1);
}

/* CLIENT INFO lists Redis 7.0's fields, in its order. */
static void test_client_info_fields(void **state)
{
    (void)state;
    static const char *const fields[] = {
        "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
        "ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl",
        "oll", "omem", "tot-mem", "events", "cmd", "user", "redir", "resp",
    };
    struct rval *v = tcmd(c, "CLIENT INFO");
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    const char *p = v->str;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        size_t n = strlen(fields[i]);
        if (strncmp(p, fields[i], n) != 0 || p[n] != '=')
            fail_msg("field %zu: expected %s= at '%s'", i, fields[i], p);
        p = strchr(p, ' ');
        if (!p) {
            assert_int_equal(i, sizeof fields / sizeof fields[0] - 1);
            break;
        }
        p++;
    }
    assert_non_null(strstr(v->str, " cmd=client|info "));
    rval_free(v);
}

/* A client inside MULTI is shown with flags=x and its queue's length. */
static void test_client_list_multi(void **state)
{
    (void)state;
    tconn *m = tconnect(srv.port);
    expect_ok(tcmd(m, "CLIENT SETNAME inmulti"));
    expect_ok(tcmd(m, "MULTI"));
    expect_status(tcmd(m, "SET a 1"), "QUEUED");
    expect_status(tcmd(m, "GET a"), "QUEUED");
    struct rval *v = tcmd(c, "CLIENT LIST");
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    const char *line = strstr(v->str, " name=inmulti ");
    assert_non_null(line);
    const char *end = strchr(line, '\n');
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)(end ? end - line : (long)strlen(line)), line);
    if (!strstr(buf, " flags=x ") || !strstr(buf, " multi=2 "))
        fail_msg("CLIENT LIST line: %s", buf);
    rval_free(v);
    v = tcmd(c, "CLIENT INFO");
    assert_non_null(strstr(v->str, " flags=N "));
    assert_non_null(strstr(v->str, " multi=-1 "));
    rval_free(v);
    expect_ok(tcmd(m, "DISCARD"));
    tclose(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_off_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_pipeline_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_errors_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_redis_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_evict_no_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tracking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_info_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_list_multi, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
