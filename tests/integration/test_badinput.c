/* Bad input: protocol garbage, absurd lengths, oversized query buffers,
 * stalled half commands, binary keys, client limits, authentication errors,
 * unknown commands and wrong arity. The server must answer as Redis does,
 * close only the offending client, and keep its data. */
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
    const char *args[] = { "--client-query-buffer-limit", "1mb", NULL };
    return server_start(&srv, args);
}
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "SET survivor alive"));
    return 0;
}
static int teardown(void **state)
{
    /* whatever the test did, the server still serves others and kept its data */
    tconn *d = tconnect(srv.port);
    expect_bulk(tcmd(d, "GET survivor"), "alive");
    tclose(d);
    tclose(c);
    c = NULL;
    return 0;
}

#define SEND(conn, lit) tsend_raw(conn, lit, sizeof(lit) - 1)

/* Send raw bytes on a fresh connection; expect exactly this error, then a close. */
static void expect_protocol_error(const char *raw, size_t n, const char *error)
{
    tconn *t = tconnect(srv.port);
    tsend_raw(t, raw, n);
    expect_error(tread(t, 5000), error);
    assert_true(tclosed(t, 3000));
    tclose(t);
}
#define PROTO_ERR(lit, err) expect_protocol_error(lit, sizeof(lit) - 1, err)

static void test_garbage_closes_only_that_client(void **state)
{
    tconn *other = tconnect(srv.port);
    PROTO_ERR("*1\r\nfoo\r\n", "ERR Protocol error: expected '$', got 'f'");
    PROTO_ERR("*2\r\n$3\r\nGET\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'");
    PROTO_ERR("*abc\r\n", "ERR Protocol error: invalid multibulk length");
    PROTO_ERR("GET \"a\r\n", "ERR Protocol error: unbalanced quotes in request");
    expect_status(tcmd(other, "PING"), "PONG");
    expect_bulk(tcmd(other, "GET survivor"), "alive");
    tclose(other);
}

static void test_bad_lengths(void **state)
{
    PROTO_ERR("*99999999999\r\n", "ERR Protocol error: invalid multibulk length");
    PROTO_ERR("*1\r\n$9999999999999\r\n", "ERR Protocol error: invalid bulk length");
    PROTO_ERR("*1\r\n$-3\r\n", "ERR Protocol error: invalid bulk length");
    PROTO_ERR("*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length");
    /* a negative multibulk count is an empty request: no reply, keep going */
    SEND(c, "*-5\r\n*1\r\n$4\r\nPING\r\n");
    expect_status(tread(c, 5000), "PONG");
    /* "$-3" as the first byte is an inline command named "$-3" */
    SEND(c, "$-3\r\n");
    expect_error(tread(c, 5000), "ERR unknown command '$-3', with args beginning with: ");
    expect_status(tcmd(c, "PING"), "PONG");
}

static void test_too_many_args(void **state)
{
    if (target_is_redis())
        skip();  /* Redis accepts up to INT_MAX arguments once authenticated; ringkv bounds them */
    PROTO_ERR("*1048577\r\n", "ERR Protocol error: invalid multibulk length");
}

static void test_query_buffer_limit(void **state)
{
    /* a 3 MB bulk while the limit is 1 MB: the client is closed */
    tconn *t = tconnect(srv.port);
    SEND(t, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$3000000\r\n");
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 40; i++)
        tsend_raw(t, chunk, sizeof chunk);
    assert_true(tclosed(t, 5000));
    tclose(t);
    expect_int(tcmd(c, "EXISTS big"), 0);
}

/* CONFIG SET client-query-buffer-limit applies to connections already
 * open: one opened under the 1 MB limit may send a 3 MB bulk once the
 * limit is 4 MB, and is closed again past 1 MB once it is back. */
static void test_query_buffer_limit_set_applies_to_open_connections(void **state)
{
    tconn *t = tconnect(srv.port);
    expect_status(tcmd(t, "PING"), "PONG");
    expect_ok(tcmd(c, "CONFIG SET client-query-buffer-limit 4mb"));
    usleep(500 * 1000); /* every shard's tick has passed */
    SEND(t, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$3000000\r\n");
    static char chunk[100000];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 30; i++)
        tsend_raw(t, chunk, sizeof chunk);
    SEND(t, "\r\n");
    expect_ok(tread(t, 5000));
    expect_int(tcmd(t, "STRLEN big"), 3000000);
    expect_int(tcmd(t, "DEL big"), 1);

    expect_ok(tcmd(c, "CONFIG SET client-query-buffer-limit 1mb"));
    usleep(500 * 1000);
    SEND(t, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$3000000\r\n");
    for (int i = 0; i < 30; i++)
        tsend_raw(t, chunk, sizeof chunk);
    assert_true(tclosed(t, 5000));
    tclose(t);
    expect_int(tcmd(c, "EXISTS big"), 0);
}

static void test_stalled_half_command(void **state)
{
    tconn *slow = tconnect(srv.port);
    SEND(slow, "*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nva");
    /* others are served meanwhile */
    for (int i = 0; i < 20; i++) {
        expect_ok(tcmd(c, "SET fast %d", i));
        expect_bulk(tcmd(c, "GET survivor"), "alive");
    }
    expect_int(tcmd(c, "EXISTS half"), 0);
    SEND(slow, "lue\r\n");
    expect_ok(tread(slow, 5000));
    expect_bulk(tcmd(c, "GET half"), "value");
    tclose(slow);
}

static void test_binary_keys_and_values(void **state)
{
    const char key[] = "k\0e\r\ny\n";
    const char val[] = "\r\n\0\r\n$3\r\n*1\r\n";
    const char *set[] = { "SET", key, val };
    size_t sl[] = { 3, sizeof key - 1, sizeof val - 1 };
    tsendb(c, 3, set, sl);
    expect_ok(tread(c, 5000));
    const char *get[] = { "GET", key };
    size_t gl[] = { 3, sizeof key - 1 };
    tsendb(c, 2, get, gl);
    struct rval *v = tread(c, 5000);
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    assert_int_equal(v->len, sizeof val - 1);
    assert_memory_equal(v->str, val, sizeof val - 1);
    rval_free(v);
    /* a key that is a prefix of it is another key */
    const char *get2[] = { "EXISTS", key };
    size_t gl2[] = { 6, 1 };
    tsendb(c, 2, get2, gl2);
    expect_int(tread(c, 5000), 0);
}

static void test_unknown_and_arity(void **state)
{
    expect_error(tcmd(c, "foo a"), "ERR unknown command 'foo', with args beginning with: 'a' ");
    expect_error(tcmd(c, "foo"), "ERR unknown command 'foo', with args beginning with: ");
    expect_error(tcmd(c, "GET"), "ERR wrong number of arguments for 'get' command");
    expect_error(tcmd(c, "GET a b"), "ERR wrong number of arguments for 'get' command");
    expect_error(tcmd(c, "set"), "ERR wrong number of arguments for 'set' command");
    expect_status(tcmd(c, "PING"), "PONG");
}

static void test_inline_commands(void **state)
{
    SEND(c, "PING\r\n");
    expect_status(tread(c, 5000), "PONG");
    SEND(c, "SET inl \"a b\"\r\nGET inl\r\n");
    expect_ok(tread(c, 5000));
    expect_bulk(tread(c, 5000), "a b");
    SEND(c, "\r\n\r\nPING\n");  /* blank lines are skipped, a bare LF ends a line */
    expect_status(tread(c, 5000), "PONG");
}

static void test_maxclients(void **state)
{
    struct server ms;
    const char *args[] = { "--maxclients", "3", NULL };
    server_start(&ms, args);
    tconn *k[3];
    for (int i = 0; i < 3; i++) {
        k[i] = tconnect(ms.port);
        expect_status(tcmd(k[i], "PING"), "PONG");
    }
    tconn *extra = tconnect(ms.port);
    expect_error(tread(extra, 5000), "ERR max number of clients reached");
    assert_true(tclosed(extra, 3000));
    tclose(extra);
    /* one leaves: a new client gets in */
    tclose(k[0]);
    long long deadline = now_ms() + 3000;
    bool in = false;
    while (!in && now_ms() < deadline) {
        tconn *again = tconnect(ms.port);
        struct rval *v = tcmd(again, "PING");
        in = v && v->type == R_STATUS;
        rval_free(v);
        tclose(again);
    }
    assert_true(in);
    tclose(k[1]);
    tclose(k[2]);
    assert_int_equal(server_stop(&ms), 0);
}

static void test_auth_errors(void **state)
{
    struct server ps;
    const char *args[] = { "--requirepass", "pw", NULL };
    server_start(&ps, args);
    tconn *t = tconnect(ps.port);
    expect_error(tcmd(t, "SET a 1"), "NOAUTH Authentication required.");
    expect_error(tcmd(t, "AUTH nope"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_error(tcmd(t, "GET a"), "NOAUTH Authentication required.");
    expect_ok(tcmd(t, "AUTH pw"));
    expect_nil(tcmd(t, "GET a"));
    tclose(t);
    assert_int_equal(server_stop(&ps), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_garbage_closes_only_that_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_buffer_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_buffer_limit_set_applies_to_open_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_half_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_keys_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_arity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_commands, setup, teardown),
        cmocka_unit_test(test_maxclients),
        cmocka_unit_test(test_auth_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
