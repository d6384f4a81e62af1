/* Client-side caching, Redis 7's default mode on RESP3 connections (CLIENT
 * TRACKING ON): a key a tracking client read is invalidated (`>2 invalidate
 * [key]`) once when anyone changes it (a write from any connection and
 * shard, its own write after its reply, expiry, a flush: `invalidate` null),
 * not after tracking is off, with keys over both shards, under
 * tracking-table-max-keys; GETREDIR/TRACKINGINFO as Redis answers them.
 * Written against redis-server first (RINGKV_TEST_TARGET=redis); the
 * refusals of the modes ringkv does not have skip there. */
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
static tconn *a, *b;

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
    b = tconnect(srv.port);
    expect_ok(tcmd(b, "FLUSHALL"));
    a = tconnect(srv.port);
    rval_free(tcmd(a, "HELLO 3"));
    expect_ok(tcmd(a, "CLIENT TRACKING ON"));
    return 0;
}
static int teardown(void **state)
{
    (void)state;
    tclose(a);
    tclose(b);
    tconn *t = tconnect(srv.port); /* the server is still well */
    expect_status(tcmd(t, "PING"), "PONG");
    tclose(t);
    return 0;
}

/* The invalidated key of a push (NULL for a flush's null); fails if v is
 * not an invalidation. */
static const char *invalidated(const struct rval *v, char *buf, size_t n)
{
    if (!v || v->type != R_PUSH || v->n != 2 || strcmp(v->elem[0]->str, "invalidate") != 0) {
        char *t = rval_text(v);
        fail_msg("expected an invalidation push, got %s", t);
    }
    if (v->elem[1]->type == R_NIL)
        return NULL;
    assert_int_equal(v->elem[1]->type, R_ARRAY);
    assert_int_equal(v->elem[1]->n, 1);
    snprintf(buf, n, "%s", v->elem[1]->elem[0]->str);
    return buf;
}

static void expect_silence(tconn *t, int ms)
{
    struct rval *v = tread(t, ms);
    if (v) {
        char *txt = rval_text(v);
        fail_msg("expected nothing more, got %s", txt);
    }
}

static void test_info_and_redir(void **state)
{
    (void)state;
    expect_int(tcmd(a, "CLIENT GETREDIR"), 0);
    struct rval *info = tcmd(a, "CLIENT INFO");
    if (!strstr(info->str, " flags=t ") || !strstr(info->str, " redir=0 "))
        fail_msg("CLIENT INFO of a tracking client: %s", info->str);
    rval_free(info);
    struct rval *v = tcmd(a, "CLIENT TRACKINGINFO");
    assert_int_equal(v->n, 6);
    assert_string_equal(v->elem[1]->elem[0]->str, "on");
    assert_int_equal(v->elem[3]->integer, 0);
    rval_free(v);
    expect_ok(tcmd(a, "CLIENT TRACKING OFF"));
    expect_int(tcmd(a, "CLIENT GETREDIR"), -1);
    v = tcmd(a, "CLIENT TRACKINGINFO");
    assert_string_equal(v->elem[1]->elem[0]->str, "off");
    rval_free(v);
}

/* Keys on both shards, read with GET and with MGET over shards; each
 * invalidated once by another connection's writes. */
static void test_other_writer(void **state)
{
    (void)state;
    char cmd[512] = "MGET";
    for (int i = 0; i < 8; i++) {
        expect_nil(tcmd(a, "GET k%d", i));
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " m%d", i);
    }
    struct rval *v = tcmd(a, "%s", cmd);
    assert_int_equal(v->n, 8);
    rval_free(v);
    for (int i = 0; i < 8; i++) {
        expect_ok(tcmd(b, "SET k%d x", i));
        expect_ok(tcmd(b, "SET m%d x", i));
    }
    bool seen_k[8] = { false }, seen_m[8] = { false };
    for (int n = 0; n < 16; n++) {
        char key[64];
        v = tread(a, 3000);
        const char *k = invalidated(v, key, sizeof key);
        assert_non_null(k);
        int i = atoi(k + 1);
        bool *seen = k[0] == 'k' ? seen_k : seen_m;
        assert_false(seen[i]);
        seen[i] = true;
        rval_free(v);
    }
    /* not read again: no second invalidation */
    expect_ok(tcmd(b, "SET k1 y"));
    expect_silence(a, 300);
}

/* Its own write: the reply first, then the invalidation. */
static void test_own_write(void **state)
{
    (void)state;
    expect_nil(tcmd(a, "GET own"));
    expect_ok(tcmd(a, "SET own 1"));
    char key[64];
    struct rval *v = tread(a, 3000);
    assert_string_equal(invalidated(v, key, sizeof key), "own");
    rval_free(v);
}

static void test_expiry(void **state)
{
    (void)state;
    expect_ok(tcmd(b, "SET e v PX 100"));
    expect_bulk(tcmd(a, "GET e"), "v");
    char key[64];
    struct rval *v = tread(a, 5000);
    assert_string_equal(invalidated(v, key, sizeof key), "e");
    rval_free(v);
}

/* FLUSHALL: one null invalidation (before or after FLUSHALL's own reply
 * when the client flushes itself). */
static void test_flush(void **state)
{
    (void)state;
    expect_nil(tcmd(a, "GET f1"));
    expect_nil(tcmd(a, "GET f2"));
    expect_ok(tcmd(b, "FLUSHALL"));
    char key[64];
    struct rval *v = tread(a, 3000);
    assert_null(invalidated(v, key, sizeof key));
    rval_free(v);
    expect_silence(a, 300);
}

static void test_off_stops(void **state)
{
    (void)state;
    expect_nil(tcmd(a, "GET o"));
    expect_ok(tcmd(a, "CLIENT TRACKING OFF"));
    expect_ok(tcmd(b, "SET o 1"));
    expect_silence(a, 300);
}

/* A tracking client that left: its keys change without harm. */
static void test_gone_reader(void **state)
{
    (void)state;
    tconn *g = tconnect(srv.port);
    rval_free(tcmd(g, "HELLO 3"));
    expect_ok(tcmd(g, "CLIENT TRACKING ON"));
    for (int i = 0; i < 20; i++)
        expect_nil(tcmd(g, "GET g%d", i));
    tclose(g);
    for (int i = 0; i < 20; i++)
        expect_ok(tcmd(b, "SET g%d 1", i));
    expect_status(tcmd(b, "PING"), "PONG");
}

/* Over tracking-table-max-keys, keys are evicted and invalidated. */
static void test_table_limit(void **state)
{
    (void)state;
    expect_ok(tcmd(b, "CONFIG SET tracking-table-max-keys 4"));
    for (int i = 0; i < 12; i++) {
        char key[16];
        snprintf(key, sizeof key, "t%d", i);
        const char *argv[] = { "GET", key };
        tsendv(a, 2, argv);
    }
    /* the replies, and the pushes of the keys evicted (Redis pushes some
     * between the replies) */
    int got = 0, replies = 0;
    long long until = now_ms() + 3000;
    while ((got < 8 || replies < 12) && now_ms() < until) {
        struct rval *v = tread(a, 500);
        if (!v)
            continue;
        if (v->type == R_NIL) {
            replies++;
        } else {
            char key[64];
            assert_non_null(invalidated(v, key, sizeof key));
            got++;
        }
        rval_free(v);
    }
    assert_int_equal(replies, 12);
    expect_ok(tcmd(b, "CONFIG SET tracking-table-max-keys 1000000"));
    assert_true(got >= 8);
}

/* On a replica, the master's writes invalidate what its clients read. */
static void test_replica(void **state)
{
    (void)state;
    char port[16];
    snprintf(port, sizeof port, "%d", srv.port);
    struct server r;
    const char *const args[] = { "--threads", "2", "--replicaof", "127.0.0.1", port, NULL };
    const char *const redis_args[] = { "--replicaof", "127.0.0.1", port, NULL };
    assert_int_equal(server_start(&r, target_is_redis() ? redis_args : args), 0);
    tconn *rc = tconnect(r.port);
    long long until = now_ms() + 10000;
    for (;;) {
        struct rval *v = tcmd(rc, "INFO replication");
        bool up = v && v->str && strstr(v->str, "master_link_status:up");
        rval_free(v);
        if (up)
            break;
        if (now_ms() > until)
            fail_msg("the replica's link did not come up");
        usleep(50000);
    }
    rval_free(tcmd(rc, "HELLO 3"));
    expect_ok(tcmd(rc, "CLIENT TRACKING ON"));
    for (int i = 0; i < 6; i++)
        expect_nil(tcmd(rc, "GET r%d", i));
    for (int i = 0; i < 6; i++)
        expect_ok(tcmd(b, "SET r%d 1", i));
    bool seen[6] = { false };
    for (int n = 0; n < 6; n++) {
        char key[64];
        struct rval *v = tread(rc, 5000);
        const char *k = invalidated(v, key, sizeof key);
        assert_non_null(k);
        assert_false(seen[atoi(k + 1)]);
        seen[atoi(k + 1)] = true;
        rval_free(v);
    }
    tclose(rc);
    assert_int_equal(server_stop(&r), 0);
}

static void test_refused_modes(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    expect_error_prefix(tcmd(a, "CLIENT TRACKING ON BCAST"), "ERR CLIENT TRACKING BCAST is not supported by ringkv");
    expect_error_prefix(tcmd(a, "CLIENT TRACKING ON REDIRECT 5"),
                        "ERR CLIENT TRACKING REDIRECT is not supported by ringkv");
    tconn *r2 = tconnect(srv.port);
    expect_error_prefix(tcmd(r2, "CLIENT TRACKING ON"), "ERR ringkv's CLIENT TRACKING needs a RESP3 connection");
    tclose(r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info_and_redir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gone_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_modes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
