/* Connection commands: PING ECHO HELLO (2|3, AUTH, SETNAME) AUTH SELECT
 * CLIENT ID|GETNAME|SETNAME|LIST|INFO|KILL, RESET, QUIT. */
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
    const char *args[] = { "--databases", "1", NULL };
    return server_start(&srv, args);
}
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state) { c = tconnect(srv.port); return 0; }
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

/* The value for key in a HELLO reply (a RESP2 array of pairs or a RESP3 map). */
static struct rval *field(struct rval *v, const char *key)
{
    assert_non_null(v);
    assert_true(v->type == R_ARRAY || v->type == R_MAP);
    assert_true(v->n % 2 == 0);
    for (size_t i = 0; i + 1 < v->n; i += 2)
        if (v->elem[i]->str && strcmp(v->elem[i]->str, key) == 0)
            return v->elem[i + 1];
    fail_msg("no field '%s' in the HELLO reply", key);
    return NULL;
}

static long long client_id(tconn *t)
{
    struct rval *v = tcmd(t, "CLIENT ID");
    assert_non_null(v);
    assert_int_equal(v->type, R_INT);
    long long id = v->integer;
    rval_free(v);
    assert_true(id > 0);
    return id;
}

static void test_ping_echo(void **state)
{
    expect_status(tcmd(c, "PING"), "PONG");
    expect_bulk(tcmd(c, "PING hello"), "hello");
    expect_error(tcmd(c, "PING a b"), "ERR wrong number of arguments for 'ping' command");
    expect_bulk(tcmd(c, "ECHO hi"), "hi");
    expect_error(tcmd(c, "ECHO"), "ERR wrong number of arguments for 'echo' command");
    expect_status(tcmd(c, "ping"), "PONG");  /* command names are case-insensitive */
    expect_status(tcmd(c, "PiNg"), "PONG");
}

static void test_hello(void **state)
{
    long long id = client_id(c);
    struct rval *v = tcmd(c, "HELLO");
    assert_int_equal(v->type, R_ARRAY);            /* RESP2 still */
    assert_int_equal(field(v, "proto")->integer, 2);
    assert_int_equal(field(v, "id")->integer, id);
    assert_non_null(field(v, "server")->str);
    assert_non_null(field(v, "version")->str);
    assert_string_equal(field(v, "role")->str, "master");
    (void)field(v, "mode");
    rval_free(v);

    v = tcmd(c, "HELLO 3");
    assert_int_equal(v->type, R_MAP);
    assert_int_equal(field(v, "proto")->integer, 3);
    assert_int_equal(field(v, "id")->integer, id);
    rval_free(v);
    /* RESP3 replies now: nil is '_', and the types keep working */
    v = tcmd(c, "GET nokey-hello");
    assert_int_equal(v->type, R_NIL);
    rval_free(v);
    expect_status(tcmd(c, "PING"), "PONG");

    v = tcmd(c, "HELLO 2 SETNAME helloname");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(field(v, "proto")->integer, 2);
    rval_free(v);
    expect_bulk(tcmd(c, "CLIENT GETNAME"), "helloname");

    expect_error(tcmd(c, "HELLO 4"), "NOPROTO unsupported protocol version");
    expect_error(tcmd(c, "HELLO 1"), "NOPROTO unsupported protocol version");
    expect_error_prefix(tcmd(c, "HELLO x"), "ERR");
    expect_error(tcmd(c, "HELLO 3 SETNAME"), "ERR Syntax error in HELLO option 'SETNAME'");
}

static void test_client_names(void **state)
{
    expect_nil(tcmd(c, "CLIENT GETNAME"));
    expect_ok(tcmd(c, "CLIENT SETNAME worker-1"));
    expect_bulk(tcmd(c, "CLIENT GETNAME"), "worker-1");
    const char *bad[] = { "CLIENT", "SETNAME", "a b" };
    tsendv(c, 3, bad);
    expect_error(tread(c, 5000), "ERR Client names cannot contain spaces, newlines or special characters.");
    const char *clear[] = { "CLIENT", "SETNAME", "" };
    tsendv(c, 3, clear);
    expect_ok(tread(c, 5000));
    expect_nil(tcmd(c, "CLIENT GETNAME"));
    expect_error(tcmd(c, "CLIENT FOO"), "ERR unknown subcommand 'FOO'. Try CLIENT HELP.");
}

static void test_client_list_info(void **state)
{
    long long id = client_id(c);
    expect_ok(tcmd(c, "CLIENT SETNAME lister"));
    tconn *other = tconnect(srv.port);
    long long oid = client_id(other);
    assert_true(oid != id);

    char want[64];
    struct rval *v = tcmd(c, "CLIENT LIST");
    assert_non_null(v);
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    snprintf(want, sizeof want, "id=%lld ", id);
    assert_non_null(strstr(v->str, want));
    snprintf(want, sizeof want, "id=%lld ", oid);
    assert_non_null(strstr(v->str, want));
    assert_non_null(strstr(v->str, "name=lister "));
    assert_non_null(strstr(v->str, "addr=127.0.0.1:"));
    assert_non_null(strstr(v->str, "cmd="));
    rval_free(v);

    v = tcmd(c, "CLIENT LIST ID %lld", oid);
    assert_non_null(v);
    snprintf(want, sizeof want, "id=%lld ", oid);
    assert_non_null(strstr(v->str, want));
    assert_null(strstr(v->str, "name=lister"));
    rval_free(v);

    v = tcmd(c, "CLIENT INFO");
    assert_non_null(v);
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    snprintf(want, sizeof want, "id=%lld ", id);
    assert_true(strncmp(v->str, want, strlen(want)) == 0);
    assert_non_null(strstr(v->str, "name=lister "));
    assert_non_null(strstr(v->str, "resp=2"));
    assert_null(strchr(v->str, '\r'));   /* one line, ending in \n only */
    rval_free(v);
    tclose(other);
}

static void test_client_kill(void **state)
{
    tconn *victim = tconnect(srv.port);
    long long vid = client_id(victim);
    expect_int(tcmd(c, "CLIENT KILL ID %lld", vid), 1);
    assert_true(tclosed(victim, 3000));
    tclose(victim);
    expect_int(tcmd(c, "CLIENT KILL ID %lld", vid), 0);

    /* the old form: by address */
    victim = tconnect(srv.port);
    struct rval *v = tcmd(victim, "CLIENT INFO");
    assert_non_null(v);
    const char *a = strstr(v->str, "addr=");
    assert_non_null(a);
    char addr[64];
    sscanf(a + 5, "%63s", addr);
    rval_free(v);
    expect_ok(tcmd(c, "CLIENT KILL %s", addr));
    assert_true(tclosed(victim, 3000));
    tclose(victim);
    expect_error(tcmd(c, "CLIENT KILL 1.2.3.4:5"), "ERR No such client");
    /* the killer itself still works */
    expect_status(tcmd(c, "PING"), "PONG");
}

static void test_select(void **state)
{
    expect_ok(tcmd(c, "SELECT 0"));
    expect_error(tcmd(c, "SELECT 1"), "ERR DB index is out of range");
    expect_error(tcmd(c, "SELECT x"), "ERR value is not an integer or out of range");
}

static void test_reset(void **state)
{
    struct rval *v = tcmd(c, "HELLO 3");
    rval_free(v);
    expect_ok(tcmd(c, "CLIENT SETNAME before-reset"));
    expect_status(tcmd(c, "RESET"), "RESET");
    expect_nil(tcmd(c, "CLIENT GETNAME"));
    /* back to RESP2: a missing key is $-1, which the reader maps to R_NIL
     * too, so check the protocol through HELLO without arguments */
    v = tcmd(c, "HELLO");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(field(v, "proto")->integer, 2);
    rval_free(v);
}

static void test_quit_closes(void **state)
{
    expect_ok(tcmd(c, "SET quitkey 1"));
    /* QUIT answers +OK and closes; a command pipelined after it is not run */
    static const char quit_then_set[] =
        "*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$7\r\nquitkey\r\n$1\r\n2\r\n";
    tsend_raw(c, quit_then_set, sizeof quit_then_set - 1);
    expect_ok(tread(c, 5000));
    assert_true(tclosed(c, 3000));
    tconn *d = tconnect(srv.port);
    expect_bulk(tcmd(d, "GET quitkey"), "1");
    tclose(d);
}

static void test_auth(void **state)
{
    struct server ps;
    const char *args[] = { "--requirepass", "secret", NULL };
    server_start(&ps, args);
    tconn *t = tconnect(ps.port);
    expect_error(tcmd(t, "PING"), "NOAUTH Authentication required.");
    expect_error(tcmd(t, "GET k"), "NOAUTH Authentication required.");
    expect_error(tcmd(t, "HELLO 3"),
                 "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                 "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
                 "select the RESP protocol version at the same time");
    expect_error(tcmd(t, "AUTH wrong"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_error(tcmd(t, "AUTH default wrong"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_error(tcmd(t, "HELLO 3 AUTH default wrong"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_error(tcmd(t, "GET k"), "NOAUTH Authentication required.");
    expect_ok(tcmd(t, "AUTH secret"));
    expect_status(tcmd(t, "PING"), "PONG");
    tclose(t);

    t = tconnect(ps.port);
    expect_ok(tcmd(t, "AUTH default secret"));
    expect_ok(tcmd(t, "SET k v"));
    tclose(t);

    t = tconnect(ps.port);
    struct rval *v = tcmd(t, "HELLO 3 AUTH default secret SETNAME authed");
    assert_int_equal(v->type, R_MAP);
    assert_int_equal(field(v, "proto")->integer, 3);
    rval_free(v);
    expect_bulk(tcmd(t, "GET k"), "v");
    expect_bulk(tcmd(t, "CLIENT GETNAME"), "authed");
    /* RESET drops the authentication */
    expect_status(tcmd(t, "RESET"), "RESET");
    expect_error(tcmd(t, "GET k"), "NOAUTH Authentication required.");
    tclose(t);
    assert_int_equal(server_stop(&ps), 0);
}

static void test_auth_without_password(void **state)
{
    expect_error(tcmd(c, "AUTH x"),
                 "ERR AUTH <password> called without any password configured for the default user. "
                 "Are you sure your configuration is correct?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ping_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_list_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_closes, setup, teardown),
        cmocka_unit_test(test_auth),
        cmocka_unit_test_setup_teardown(test_auth_without_password, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
