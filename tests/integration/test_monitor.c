/* MONITOR: Redis 7's line format and quoting, what is left out (admin
 * commands, refused commands) and redacted (AUTH, HELLO passwords), MULTI's
 * commands shown at EXEC, commands of every shard's clients reaching
 * monitors on every shard, the monitor's own connection (keyspace commands
 * refused as Redis refuses them, RESET ends it), a monitor that does not
 * read being closed at the normal class's output limit while the server
 * goes on, a replica's monitor showing its master's stream, and redis-cli's
 * monitor mode.
 * Runs against redis-server too (RINGKV_TEST_TARGET=redis). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;

static int group_setup(void **state)
{
    (void)state;
    if (target_is_redis())
        return server_start(&srv, NULL);
    const char *args[] = { "--threads", "3", "--pin", "no", NULL };
    return server_start(&srv, args);
}
static int group_teardown(void **state) { (void)state; return server_stop(&srv) == 0 ? 0 : -1; }

static tconn *monitor_open(void)
{
    tconn *m = tconnect(srv.port);
    expect_ok(tcmd(m, "MONITOR"));
    return m;
}

/* The next line of m: "+<sec>.<usec 6 digits> [0 <addr>] <args>"; checks
 * the prefix's shape and returns the args part (malloc'd); addr copied to
 * addr_out if not NULL. */
static char *next_line(tconn *m, char *addr_out)
{
    struct rval *v = tread(m, 5000);
    assert_non_null(v);
    if (v->type != R_STATUS)
        fail_msg("not a monitor line: %s", rval_text(v));
    const char *p = v->str;
    const char *dot = strchr(p, '.');
    assert_non_null(dot);
    assert_true(dot - p >= 10); /* unix seconds */
    for (const char *q = p; q < dot; q++)
        assert_true(*q >= '0' && *q <= '9');
    for (int i = 1; i <= 6; i++)
        assert_true(dot[i] >= '0' && dot[i] <= '9');
    assert_memory_equal(dot + 7, " [0 ", 4);
    const char *close = strstr(dot + 11, "] ");
    assert_non_null(close);
    if (addr_out) {
        memcpy(addr_out, dot + 11, (size_t)(close - (dot + 11)));
        addr_out[close - (dot + 11)] = '\0';
    }
    char *args = strdup(close + 2);
    rval_free(v);
    return args;
}

static void expect_line(tconn *m, const char *args)
{
    char *got = next_line(m, NULL);
    if (strcmp(got, args) != 0)
        fail_msg("monitor line: got [%s], want [%s]", got, args);
    free(got);
}

static void test_format_and_quoting(void **state)
{
    (void)state;
    tconn *m = monitor_open();
    tconn *c = tconnect(srv.port);
    const char *argv[] = { "set", "k\0\"\\\n\r\t\a\b\xff~ ", "12345" };
    size_t lens[] = { 3, 12, 5 };
    tsendb(c, 3, argv, lens);
    expect_ok(tread(c, 5000));
    char addr[80];
    char *got = next_line(m, addr);
    assert_string_equal(got, "\"set\" \"k\\x00\\\"\\\\\\n\\r\\t\\a\\b\\xff~ \" \"12345\"");
    free(got);
    assert_memory_equal(addr, "127.0.0.1:", 10);
    /* the address is the client's own (CLIENT INFO's addr=) */
    struct rval *info = tcmd(c, "CLIENT INFO");
    char want[100];
    snprintf(want, sizeof want, "addr=%s ", addr);
    assert_non_null(strstr(info->str, want));
    rval_free(info);
    expect_line(m, "\"CLIENT\" \"INFO\"");
    tclose(c);
    tclose(m);
}

/* The line's [db addr] is the command's database; a SELECT's line shows
 * the one it selects (Redis feeds the line after the command). */
static void test_database(void **state)
{
    (void)state;
    tconn *m = monitor_open();
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "SELECT 3"));
    expect_ok(tcmd(c, "SET dbkey v"));
    expect_ok(tcmd(c, "SELECT 0"));
    expect_nil(tcmd(c, "GET dbkey"));
    const char *want[][2] = {
        { " [3 ", "\"SELECT\" \"3\"" },
        { " [3 ", "\"SET\" \"dbkey\" \"v\"" },
        { " [0 ", "\"SELECT\" \"0\"" },
        { " [0 ", "\"GET\" \"dbkey\"" },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct rval *v = tread(m, 5000);
        assert_non_null(v);
        assert_int_equal(v->type, R_STATUS);
        const char *open = strchr(v->str, ' ');
        const char *close = open ? strstr(open, "] ") : NULL;
        if (!open || !close || strncmp(open, want[i][0], 4) != 0 || strcmp(close + 2, want[i][1]) != 0)
            fail_msg("monitor line %zu: got [%s], want %s...] %s", i, v->str, want[i][0], want[i][1]);
        rval_free(v);
    }
    /* a script's SELECT: its line and the script's later ones in the
     * database it selects, the EVAL line in the caller's (which may come
     * first or last: test_script_commands) */
    const char *eval[] = { "EVAL", "redis.call('SELECT','5') return redis.call('SET',KEYS[1],'w')", "1", "dbkey" };
    tsendv(c, 4, eval);
    expect_ok(tread(c, 5000));
    const char *lua[][2] = { { " [5 lua] ", "\"SELECT\" \"5\"" }, { " [5 lua] ", "\"SET\" \"dbkey\" \"w\"" } };
    int evals = 0, next_lua = 0;
    for (int i = 0; i < 3; i++) {
        struct rval *v = tread(m, 5000);
        assert_non_null(v);
        assert_int_equal(v->type, R_STATUS);
        const char *open = strchr(v->str, ' ');
        const char *close = open ? strstr(open, "] ") : NULL;
        if (open && close && strncmp(open, " [0 ", 4) == 0 && strncmp(close + 2, "\"EVAL\"", 6) == 0)
            evals++;
        else if (next_lua < 2 && open && strncmp(open, lua[next_lua][0], 9) == 0 &&
                 strcmp(open + 9, lua[next_lua][1]) == 0)
            next_lua++;
        else
            fail_msg("monitor line %d: got [%s]", i, v->str);
        rval_free(v);
    }
    assert_int_equal(evals, 1);
    assert_int_equal(next_lua, 2);
    expect_nil(tcmd(c, "GET dbkey"));
    tclose(c);
    tclose(m);
}

static void test_left_out_and_redacted(void **state)
{
    (void)state;
    tconn *m = monitor_open();
    tconn *c = tconnect(srv.port);
    struct rval *v;
    v = tcmd(c, "AUTH secret"); rval_free(v);       /* refused (no password): shown, redacted */
    v = tcmd(c, "AUTH someone secret"); rval_free(v);
    v = tcmd(c, "HELLO 2 AUTH someone secret SETNAME me"); rval_free(v);
    v = tcmd(c, "CONFIG GET maxmemory"); rval_free(v);   /* admin: left out */
    v = tcmd(c, "NOSUCHCOMMAND x"); rval_free(v);        /* refused before running: left out */
    v = tcmd(c, "GET"); rval_free(v);                    /* wrong arity: left out */
    v = tcmd(c, "CLIENT LIST"); rval_free(v);            /* admin subcommand */
    expect_status(tcmd(c, "PING"), "PONG");
    expect_line(m, "\"AUTH\" \"(redacted)\"");
    expect_line(m, "\"AUTH\" \"(redacted)\" \"(redacted)\"");
    expect_line(m, "\"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"me\"");
    expect_line(m, "\"PING\"");
    tclose(c);
    tclose(m);
}

static void test_multi_exec(void **state)
{
    (void)state;
    tconn *m = monitor_open();
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET {t}a 1"), "QUEUED");
    expect_status(tcmd(c, "INCR {t}a"), "QUEUED");
    expect_status(tcmd(c, "SET other 5"), "QUEUED");
    expect_status(tcmd(c, "CLIENT LIST"), "QUEUED"); /* admin: not shown */
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 4);
    rval_free(v);
    expect_line(m, "\"MULTI\"");
    expect_line(m, "\"SET\" \"{t}a\" \"1\"");
    expect_line(m, "\"INCR\" \"{t}a\"");
    expect_line(m, "\"SET\" \"other\" \"5\"");
    expect_line(m, "\"EXEC\"");
    tclose(c);
    tclose(m);
}

/* A script's commands are shown, from "lua", in the order it ran them,
 * and its EVAL (or FCALL) line too. The EVAL line comes from the shard of
 * the connection, the script's lines from the shard of its keys: when the
 * two differ their batches may arrive in either order (README, MONITOR),
 * so the EVAL line is looked for among the three. */
static void test_script_commands(void **state)
{
    (void)state;
    tconn *m = monitor_open();
    tconn *c = tconnect(srv.port);
    const char *eval[] = { "EVAL", "redis.call('set', KEYS[1], 'x') return redis.call('get', KEYS[1])", "1",
                           "sk" };
    tsendv(c, 4, eval);
    expect_bulk(tread(c, 5000), "x");
    static const char eval_line[] =
        "\"EVAL\" \"redis.call('set', KEYS[1], 'x') return redis.call('get', KEYS[1])\" \"1\" \"sk\"";
    static const char *const lua_lines[] = { "\"set\" \"sk\" \"x\"", "\"get\" \"sk\"" };
    int evals = 0, next_lua = 0;
    for (int i = 0; i < 3; i++) {
        char addr[80];
        char *got = next_line(m, addr);
        if (strcmp(got, eval_line) == 0) {
            evals++;
        } else {
            if (next_lua >= 2 || strcmp(got, lua_lines[next_lua]) != 0 || strcmp(addr, "lua") != 0)
                fail_msg("monitor line %d: got [%s] from %s", i, got, addr);
            next_lua++;
        }
        free(got);
    }
    assert_int_equal(evals, 1);
    assert_int_equal(next_lua, 2);
    expect_int(tcmd(c, "DEL sk"), 1);
    expect_line(m, "\"DEL\" \"sk\"");
    tclose(c);
    tclose(m);
}

/* A watched EXEC shows the commands it ran, then EXEC; one aborted by a
 * changed key ran nothing and shows EXEC alone (keys of every shard). */
static void test_watched_exec(void **state)
{
    (void)state;
    tconn *m = monitor_open();
    tconn *c = tconnect(srv.port);
    const char *keys[] = { "{t}w", "{u}w", "{v}w", "{w}w" };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char set[64], watch[64];
        snprintf(watch, sizeof watch, "\"WATCH\" \"%s\"", keys[k]);
        snprintf(set, sizeof set, "\"SET\" \"%s\" \"1\"", keys[k]);
        expect_ok(tcmd(c, "WATCH %s", keys[k]));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %s 1", keys[k]), "QUEUED");
        struct rval *v = tcmd(c, "EXEC");
        assert_int_equal(v->type, R_ARRAY);
        rval_free(v);
        expect_line(m, watch);
        expect_line(m, "\"MULTI\"");
        expect_line(m, set);
        expect_line(m, "\"EXEC\"");

        expect_ok(tcmd(c, "WATCH %s", keys[k]));
        expect_ok(tcmd(c, "SET %s 1", keys[k])); /* its own write changes it */
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %s", keys[k]), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_line(m, watch);
        expect_line(m, set);
        expect_line(m, "\"MULTI\"");
        expect_line(m, "\"EXEC\"");
    }
    tclose(c);
    tclose(m);
}

/* Monitors spread over the shards see the commands of clients spread over
 * the shards, each client's in its order. */
static void test_every_shard(void **state)
{
    (void)state;
    enum { M = 6, C = 6, K = 20 };
    tconn *mon[M], *cl[C];
    for (int i = 0; i < M; i++)
        mon[i] = monitor_open();
    for (int i = 0; i < C; i++)
        cl[i] = tconnect(srv.port);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < C; i++) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "SET key:%d:%d %d", i, k, k);
            expect_ok(tcmd(cl[i], "%s", cmd));
        }
    for (int j = 0; j < M; j++) {
        int next[C] = { 0 };
        for (int n = 0; n < C * K; n++) {
            char *got = next_line(mon[j], NULL);
            int i, k, val;
            if (sscanf(got, "\"SET\" \"key:%d:%d\" \"%d\"", &i, &k, &val) != 3)
                fail_msg("unexpected line %s", got);
            assert_true(i >= 0 && i < C);
            assert_int_equal(k, next[i]); /* one client's commands in order */
            next[i]++;
            free(got);
        }
    }
    for (int i = 0; i < M; i++)
        tclose(mon[i]);
    for (int i = 0; i < C; i++)
        tclose(cl[i]);
}

/* The monitor's own connection: Redis counts it a replica, which may not
 * touch the keyspace; other commands run (and are shown); RESET ends it. */
static void test_monitor_connection(void **state)
{
    (void)state;
    tconn *m = tconnect(srv.port);
    long long id = get_int(tcmd(m, "CLIENT ID"));
    expect_ok(tcmd(m, "MONITOR"));
    {
        /* CLIENT LIST shows it with flags=O */
        tconn *other = tconnect(srv.port);
        struct rval *list = tcmd(other, "CLIENT LIST");
        char want[48];
        snprintf(want, sizeof want, "id=%lld ", id);
        const char *line = strstr(list->str, want);
        assert_non_null(line);
        const char *end = strchr(line, '\n');
        const char *o = strstr(line, " flags=O ");
        assert_true(o && (!end || o < end));
        rval_free(list);
        tclose(other);
    }
    expect_error(tcmd(m, "GET x"), "ERR Replica can't interact with the keyspace");
    expect_error(tcmd(m, "SET x 1"), "ERR Replica can't interact with the keyspace");
    expect_status(tcmd(m, "PING"), "PONG");
    expect_line(m, "\"PING\"");
    expect_bulk(tcmd(m, "ECHO hi"), "hi");
    expect_line(m, "\"ECHO\" \"hi\"");
    expect_status(tcmd(m, "RESET"), "RESET");
    assert_int_equal(get_int(tcmd(m, "CLIENT ID")), id);
    expect_nil(tcmd(m, "GET x"));        /* an ordinary client again */
    tconn *c = tconnect(srv.port);
    expect_status(tcmd(c, "PING"), "PONG");
    expect_status(tcmd(m, "PING"), "PONG"); /* no line in between */
    tclose(c);
    tclose(m);
}

/* A monitor that reads nothing is closed once its output passes the normal
 * class's hard limit; the clients and the other monitors go on. */
static void test_slow_monitor_dropped(void **state)
{
    (void)state;
    tconn *admin = tconnect(srv.port);
    const char *set1[] = { "CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0" };
    tsendv(admin, 4, set1);
    expect_ok(tread(admin, 5000));
    tconn *slow = tconnect(srv.port);
    int small = 4096;
    setsockopt(tfd(slow), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    long long slow_id = get_int(tcmd(slow, "CLIENT ID"));
    expect_ok(tcmd(slow, "MONITOR"));
    tconn *c = tconnect(srv.port);
    static char value[64 * 1024];
    memset(value, 'v', sizeof value);
    const char *argv[] = { "SET", "big", value };
    size_t lens[] = { 3, 3, sizeof value };
    for (int i = 0; i < 600; i++) { /* 39 MB of lines: more than the kernel buffers hold */
        tsendb(c, 3, argv, lens);
        expect_ok(tread(c, 10000));
    }
    /* gone from CLIENT LIST (reading its socket to the end would take long:
     * the kernel still holds megabytes for it behind a tiny window) */
    char want[40];
    snprintf(want, sizeof want, "id=%lld ", slow_id);
    struct rval *list = tcmd(admin, "CLIENT LIST");
    assert_null(strstr(list->str, want));
    rval_free(list);
    expect_status(tcmd(c, "PING"), "PONG");
    const char *set0[] = { "CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0" };
    tsendv(admin, 4, set0);
    expect_ok(tread(admin, 5000));
    tclose(slow);
    tclose(c);
    tclose(admin);
}

/* Over the soft limit for longer than the soft seconds: closed, even
 * though no more lines come after. */
static void test_slow_monitor_soft_limit(void **state)
{
    (void)state;
    tconn *admin = tconnect(srv.port);
    const char *set1[] = { "CONFIG", "SET", "client-output-buffer-limit", "normal 0 1mb 1" };
    tsendv(admin, 4, set1);
    expect_ok(tread(admin, 5000));
    tconn *slow = tconnect(srv.port);
    int small = 4096;
    setsockopt(tfd(slow), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    long long slow_id = get_int(tcmd(slow, "CLIENT ID"));
    expect_ok(tcmd(slow, "MONITOR"));
    tconn *c = tconnect(srv.port);
    static char value[64 * 1024];
    memset(value, 'v', sizeof value);
    const char *argv[] = { "SET", "big", value };
    size_t lens[] = { 3, 3, sizeof value };
    for (int i = 0; i < 300; i++) { /* 19 MB of lines, then nothing */
        tsendb(c, 3, argv, lens);
        expect_ok(tread(c, 10000));
    }
    char want[40];
    snprintf(want, sizeof want, "id=%lld ", slow_id);
    long long deadline = now_ms() + 5000;
    for (;;) {
        usleep(200000);
        struct rval *list = tcmd(admin, "CLIENT LIST");
        bool gone = strstr(list->str, want) == NULL;
        rval_free(list);
        if (gone)
            break;
        if (now_ms() > deadline)
            fail_msg("a monitor over the soft limit for 1 s was not closed");
    }
    const char *set0[] = { "CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0" };
    tsendv(admin, 4, set0);
    expect_ok(tread(admin, 5000));
    tclose(slow);
    tclose(c);
    tclose(admin);
}

/* A replica's monitor shows the master's stream from the master's address. */
static void test_replica_shows_master_stream(void **state)
{
    (void)state;
    struct server master;
    const char *margs[] = { "--threads", "2", "--pin", "no", NULL };
    assert_int_equal(server_start(&master, target_is_redis() ? NULL : margs), 0);
    tconn *r = tconnect(srv.port);
    expect_ok(tcmd(r, "REPLICAOF 127.0.0.1 %d", master.port));
    tconn *mc = tconnect(master.port);
    long long deadline = now_ms() + 10000;
    char token[32]; /* a value no earlier run left behind */
    snprintf(token, sizeof token, "%lld", now_ms());
    for (;;) { /* linked: a write reaches the replica */
        expect_ok(tcmd(mc, "SET probe %s", token));
        struct rval *v = tcmd(r, "GET probe");
        bool there = v->type == R_BULK && strcmp(v->str, token) == 0;
        rval_free(v);
        if (there)
            break;
        assert_true(now_ms() < deadline);
        usleep(50000);
    }
    tconn *m = monitor_open();
    expect_ok(tcmd(mc, "SET from-master hello"));
    char addr[80], want[80];
    snprintf(want, sizeof want, "127.0.0.1:%d", master.port);
    for (;;) { /* PING / SELECT of the stream may come first */
        char *got = next_line(m, addr);
        bool found = strcmp(got, "\"set\" \"from-master\" \"hello\"") == 0 ||
                     strcmp(got, "\"SET\" \"from-master\" \"hello\"") == 0;
        free(got);
        if (found)
            break;
    }
    assert_string_equal(addr, want);
    expect_ok(tcmd(r, "REPLICAOF NO ONE"));
    tclose(m);
    tclose(mc);
    tclose(r);
    assert_int_equal(server_stop(&master), 0);
}

/* redis-cli's monitor mode prints the lines as Redis's does. */
static void test_redis_cli_monitor(void **state)
{
    (void)state;
    char line[512];
    snprintf(line, sizeof line,
             "(timeout 3 redis-cli -p %d monitor & sleep 0.5; redis-cli -p %d set cli-key 'a b' >/dev/null; wait)",
             srv.port, srv.port);
    char *out = NULL;
    run_cmd(line, &out);
    assert_non_null(out);
    if (strncmp(out, "OK\n", 3) != 0 || !strstr(out, "] \"set\" \"cli-key\" \"a b\"\n"))
        fail_msg("redis-cli monitor printed:\n%s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_quoting),
        cmocka_unit_test(test_database),
        cmocka_unit_test(test_left_out_and_redacted),
        cmocka_unit_test(test_multi_exec),
        cmocka_unit_test(test_script_commands),
        cmocka_unit_test(test_watched_exec),
        cmocka_unit_test(test_every_shard),
        cmocka_unit_test(test_monitor_connection),
        cmocka_unit_test(test_slow_monitor_dropped),
        cmocka_unit_test(test_slow_monitor_soft_limit),
        cmocka_unit_test(test_replica_shows_master_stream),
        cmocka_unit_test(test_redis_cli_monitor),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
