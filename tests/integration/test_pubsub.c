/* Pub/sub: SUBSCRIBE / PSUBSCRIBE / PUBLISH / UNSUBSCRIBE / PUBSUB across
 * connections spread over 3 shards, RESP2 subscribe mode and RESP3 pushes.
 * Also runs against redis-server (RINGKV_TEST_TARGET=redis). */
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

static int group_setup(void **state)
{
    if (target_is_redis())
        return server_start(&srv, NULL);
    const char *args[] = { "--threads", "3", "--pin", "no", NULL };
    return server_start(&srv, args);
}
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }

/* Expect [kind, name, count] (an array in RESP2, a push in RESP3). */
static void expect_confirm(struct rval *v, const char *kind, const char *name, long long count)
{
    assert_non_null(v);
    assert_true(v->type == R_ARRAY || v->type == R_PUSH);
    assert_int_equal(v->n, 3);
    assert_string_equal(v->elem[0]->str, kind);
    if (name)
        assert_string_equal(v->elem[1]->str, name);
    else
        assert_int_equal(v->elem[1]->type, R_NIL);
    assert_int_equal(v->elem[2]->integer, count);
    rval_free(v);
}

static void expect_message(tconn *c, const char *pattern, const char *channel, const char *msg)
{
    struct rval *v = tread(c, 5000);
    assert_non_null(v);
    assert_true(v->type == R_ARRAY || v->type == R_PUSH);
    size_t at = 0;
    if (pattern) {
        assert_int_equal(v->n, 4);
        assert_string_equal(v->elem[0]->str, "pmessage");
        assert_string_equal(v->elem[1]->str, pattern);
        at = 2;
    } else {
        assert_int_equal(v->n, 3);
        assert_string_equal(v->elem[0]->str, "message");
        at = 1;
    }
    assert_string_equal(v->elem[at]->str, channel);
    assert_string_equal(v->elem[at + 1]->str, msg);
    rval_free(v);
}

static void test_publish_reaches_every_shard(void **state)
{
    enum { N = 8 }; /* several connections: SO_REUSEPORT spreads them over the shards */
    tconn *sub[N];
    for (int i = 0; i < N; i++) {
        sub[i] = tconnect(srv.port);
        const char *a[] = { "SUBSCRIBE", "news", "sports" };
        tsendv(sub[i], 3, a);
        expect_confirm(tread(sub[i], 5000), "subscribe", "news", 1);
        expect_confirm(tread(sub[i], 5000), "subscribe", "sports", 2);
    }
    tconn *psub = tconnect(srv.port);
    const char *pa[] = { "PSUBSCRIBE", "n*" };
    tsendv(psub, 2, pa);
    expect_confirm(tread(psub, 5000), "psubscribe", "n*", 1);

    tconn *pub = tconnect(srv.port);
    expect_int(tcmd(pub, "PUBLISH news hello"), N + 1);
    expect_int(tcmd(pub, "PUBLISH sports goal"), N);
    expect_int(tcmd(pub, "PUBLISH nothing x"), 1);     /* the pattern only */
    expect_int(tcmd(pub, "PUBLISH other x"), 0);
    for (int i = 0; i < N; i++) {
        expect_message(sub[i], NULL, "news", "hello");
        expect_message(sub[i], NULL, "sports", "goal");
    }
    expect_message(psub, "n*", "news", "hello");
    expect_message(psub, "n*", "nothing", "x");

    struct rval *v = tcmd(pub, "PUBSUB NUMSUB news sports none");
    assert_int_equal(v->n, 6);
    assert_string_equal(v->elem[0]->str, "news");
    assert_int_equal(v->elem[1]->integer, N);
    assert_int_equal(v->elem[3]->integer, N);
    assert_int_equal(v->elem[5]->integer, 0);
    rval_free(v);
    v = tcmd(pub, "PUBSUB CHANNELS");
    assert_int_equal(v->n, 2); /* distinct channels, however many shards have them */
    rval_free(v);
    v = tcmd(pub, "PUBSUB CHANNELS s*");
    assert_int_equal(v->n, 1);
    assert_string_equal(v->elem[0]->str, "sports");
    rval_free(v);
    expect_int(tcmd(pub, "PUBSUB NUMPAT"), 1);

    /* closing subscribers lowers the counts */
    for (int i = 0; i < N; i++)
        tclose(sub[i]);
    tclose(psub);
    long long deadline = now_ms() + 5000, n = -1;
    while (now_ms() < deadline && (n = get_int(tcmd(pub, "PUBLISH news again"))) != 0)
        usleep(10000);
    assert_int_equal(n, 0);
    tclose(pub);
}

static void test_subscribe_mode_and_unsubscribe(void **state)
{
    tconn *c = tconnect(srv.port);
    const char *a[] = { "SUBSCRIBE", "a", "b" };
    tsendv(c, 3, a);
    expect_confirm(tread(c, 5000), "subscribe", "a", 1);
    expect_confirm(tread(c, 5000), "subscribe", "b", 2);
    expect_error(tcmd(c, "GET x"),
                 "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
    struct rval *v = tcmd(c, "PING");
    assert_int_equal(v->type, R_ARRAY);
    assert_string_equal(v->elem[0]->str, "pong");
    assert_string_equal(v->elem[1]->str, "");
    rval_free(v);
    const char *u[] = { "UNSUBSCRIBE", "a" };
    tsendv(c, 2, u);
    expect_confirm(tread(c, 5000), "unsubscribe", "a", 1);
    const char *all[] = { "UNSUBSCRIBE" };
    tsendv(c, 1, all);
    expect_confirm(tread(c, 5000), "unsubscribe", "b", 0);
    tsendv(c, 1, all);
    expect_confirm(tread(c, 5000), "unsubscribe", NULL, 0);
    expect_nil(tcmd(c, "GET x")); /* out of subscribe mode */
    tclose(c);
}

static void test_resp3_push(void **state)
{
    tconn *c = tconnect(srv.port);
    rval_free(tcmd(c, "HELLO 3"));
    const char *a[] = { "SUBSCRIBE", "r3" };
    tsendv(c, 2, a);
    struct rval *v = tread(c, 5000);
    assert_int_equal(v->type, R_PUSH);
    expect_confirm(v, "subscribe", "r3", 1);
    expect_nil(tcmd(c, "GET x")); /* RESP3: normal commands still work */
    tconn *pub = tconnect(srv.port);
    expect_int(tcmd(pub, "PUBLISH r3 hi"), 1);
    v = tread(c, 5000);
    assert_int_equal(v->type, R_PUSH);
    assert_string_equal(v->elem[0]->str, "message");
    assert_string_equal(v->elem[2]->str, "hi");
    rval_free(v);
    expect_status(tcmd(c, "RESET"), "RESET");
    expect_int(tcmd(pub, "PUBLISH r3 gone"), 0);
    tclose(pub);
    tclose(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_reaches_every_shard),
        cmocka_unit_test(test_subscribe_mode_and_unsubscribe),
        cmocka_unit_test(test_resp3_push),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
