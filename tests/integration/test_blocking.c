/* Blocking list pops against a running server (two shards; the same test
 * runs against redis-server with RINGKV_TEST_TARGET=redis): BLPOP BRPOP
 * BLMOVE BRPOPLPUSH BLMPOP answered at once when a key has elements,
 * blocked until a push otherwise (keys on both shards; several keys of one
 * slot, the first to get elements serving), clients served in the order
 * they blocked, timeouts and their argument errors, CLIENT UNBLOCK
 * [TIMEOUT|ERROR], no blocking inside MULTI, a blocked connection's later
 * commands waiting for it, and a client that disconnects while blocked
 * never taking an element with it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;
static tconn *c;

static int group_setup(void **state)
{
    (void)state;
    return server_start(&srv, NULL);
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

/* Send a command without reading its reply. */
static void send_words(tconn *t, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    const char *argv[32];
    int argc = 0;
    for (char *w = strtok(buf, " "); w && argc < 32; w = strtok(NULL, " "))
        argv[argc++] = w;
    tsendv(t, argc, argv);
}

/* t sent a blocking command: it is still waiting after a while. */
static void expect_blocked(tconn *t)
{
    struct rval *v = tread(t, 150);
    if (v) {
        char *text = rval_text(v);
        fail_msg("expected to be blocked, got %s", text);
    }
}

/* v is [key, element]. */
static void expect_pair(struct rval *v, const char *key, const char *elem)
{
    char *text = rval_text(v);
    if (!v || v->type != R_ARRAY || v->n != 2 || strcmp(v->elem[0]->str, key) != 0 ||
        strcmp(v->elem[1]->str, elem) != 0)
        fail_msg("expected [%s, %s], got %s", key, elem, text);
    free(text);
    rval_free(v);
}

static void test_immediate(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH {t}b a b"), 2);
    expect_pair(tcmd(c, "BLPOP {t}a {t}b 0"), "{t}b", "a");
    expect_pair(tcmd(c, "BRPOP {t}a {t}b 1"), "{t}b", "b");
    expect_int(tcmd(c, "EXISTS {t}b"), 0);
    expect_int(tcmd(c, "RPUSH {t}s x y"), 2);
    expect_bulk(tcmd(c, "BLMOVE {t}s {t}d LEFT RIGHT 0"), "x");
    expect_bulk(tcmd(c, "BRPOPLPUSH {t}s {t}d 0"), "y");
    struct rval *v = tcmd(c, "LRANGE {t}d 0 -1");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, "y");
    assert_string_equal(v->elem[1]->str, "x");
    rval_free(v);
    v = tcmd(c, "BLMPOP 0 2 {t}a {t}d RIGHT COUNT 5");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, "{t}d");
    assert_int_equal(v->elem[1]->n, 2);
    assert_string_equal(v->elem[1]->elem[0]->str, "x");
    rval_free(v);
    expect_ok(tcmd(c, "SET str v"));
    expect_error_prefix(tcmd(c, "BLPOP str 0"), "WRONGTYPE");
    expect_error_prefix(tcmd(c, "BLMOVE str x LEFT LEFT 0"), "WRONGTYPE");
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(tcmd(c, "BLPOP q -1"), "ERR timeout is negative");
    expect_error(tcmd(c, "BLPOP q abc"), "ERR timeout is not a float or out of range");
    expect_error(tcmd(c, "BRPOP q -0.5"), "ERR timeout is negative");
    expect_error(tcmd(c, "BLMOVE a b LEFT UP 0"), "ERR syntax error");
    expect_error(tcmd(c, "BLMOVE a b LEFT LEFT x"), "ERR timeout is not a float or out of range");
    expect_error(tcmd(c, "BRPOPLPUSH a b -1"), "ERR timeout is negative");
    expect_error(tcmd(c, "BLMPOP 0 0 a LEFT"), "ERR numkeys should be greater than 0");
    expect_error(tcmd(c, "BLMPOP -1 1 a LEFT"), "ERR timeout is negative");
    expect_error(tcmd(c, "BLMPOP 0 1 a UP"), "ERR syntax error");
    expect_error(tcmd(c, "BLMPOP 0 1 a LEFT COUNT 0"), "ERR count should be greater than 0");
}

static void test_timeout(void **state)
{
    (void)state;
    long long t0 = now_ms();
    expect_nil(tcmd(c, "BLPOP q 0.2"));
    long long took = now_ms() - t0;
    assert_true(took >= 150);
    expect_nil(tcmd(c, "BLMOVE q d LEFT LEFT 0.1"));
    expect_nil(tcmd(c, "BLMPOP 0.1 1 q LEFT"));
    expect_int(tcmd(c, "EXISTS d"), 0);
}

/* One key per shard at least: a client blocked on each, served by a push
 * from another connection. */
static void test_served_by_push(void **state)
{
    (void)state;
    tconn *w[6];
    for (int i = 0; i < 6; i++) {
        w[i] = tconnect(srv.port);
        char line[64];
        snprintf(line, sizeof line, "%s key%d 0", i % 2 ? "BRPOP" : "BLPOP", i);
        send_words(w[i], line);
    }
    for (int i = 0; i < 6; i++)
        expect_blocked(w[i]);
    for (int i = 0; i < 6; i++)
        expect_int(tcmd(c, "RPUSH key%d a%d b%d", i, i, i), 2);
    for (int i = 0; i < 6; i++) {
        char key[16], elem[16];
        snprintf(key, sizeof key, "key%d", i);
        snprintf(elem, sizeof elem, "%s%d", i % 2 ? "b" : "a", i);
        expect_pair(tread(w[i], 2000), key, elem);
        expect_int(tcmd(c, "LLEN key%d", i), 1);
        tclose(w[i]);
    }
}

/* Blocked on several keys (one slot): the first to get elements serves. */
static void test_several_keys(void **state)
{
    (void)state;
    tconn *w = tconnect(srv.port);
    send_words(w, "BLPOP {k}1 {k}2 {k}3 0");
    expect_blocked(w);
    expect_int(tcmd(c, "RPUSH {k}3 x"), 1);
    expect_pair(tread(w, 2000), "{k}3", "x");
    send_words(w, "BLMPOP 0 2 {k}1 {k}2 RIGHT COUNT 2");
    expect_blocked(w);
    expect_int(tcmd(c, "RPUSH {k}2 1 2 3"), 3);
    struct rval *v = tread(w, 2000);
    assert_non_null(v);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, "{k}2");
    assert_int_equal(v->elem[1]->n, 2);
    assert_string_equal(v->elem[1]->elem[0]->str, "3");
    assert_string_equal(v->elem[1]->elem[1]->str, "2");
    rval_free(v);
    send_words(w, "BLMOVE {k}src {k}dst RIGHT LEFT 0");
    expect_blocked(w);
    expect_int(tcmd(c, "LPUSH {k}src m"), 1);
    expect_bulk(tread(w, 2000), "m");
    expect_bulk(tcmd(c, "LINDEX {k}dst 0"), "m");
    expect_int(tcmd(c, "EXISTS {k}src"), 0);
    tclose(w);
}

/* Blocked on keys that are on both shards (keys a..h spread over them):
 * served once, by the first key pushed, whichever shard holds it; the
 * other keys keep what is pushed to them later. */
static void test_keys_on_both_shards(void **state)
{
    (void)state;
    const char *keys = "xa xb xc xd xe xf xg xh";
    for (int round = 0; round < 8; round++) {
        tconn *w = tconnect(srv.port);
        char line[128];
        snprintf(line, sizeof line, "%s %s 0", round % 2 ? "BRPOP" : "BLPOP", keys);
        send_words(w, line);
        expect_blocked(w);
        char key[8];
        snprintf(key, sizeof key, "x%c", 'a' + round);
        expect_int(tcmd(c, "RPUSH %s v%d", key, round), 1);
        char elem[8];
        snprintf(elem, sizeof elem, "v%d", round);
        expect_pair(tread(w, 2000), key, elem);
        /* served once: later pushes stay */
        for (int k = 0; k < 8; k++)
            rval_free(tcmd(c, "RPUSH x%c later", 'a' + k));
        usleep(50 * 1000);
        for (int k = 0; k < 8; k++) {
            expect_int(tcmd(c, "LLEN x%c", 'a' + k), 1);
            expect_bulk(tcmd(c, "LPOP x%c", 'a' + k), "later");
        }
        expect_status(tcmd(w, "PING"), "PONG");
        tclose(w);
    }
    /* BLMPOP over keys of both shards */
    for (int round = 0; round < 4; round++) {
        tconn *w = tconnect(srv.port);
        send_words(w, "BLMPOP 0 8 xa xb xc xd xe xf xg xh RIGHT COUNT 2");
        expect_blocked(w);
        expect_int(tcmd(c, "RPUSH x%c p q r", 'a' + round * 2 + 1), 3);
        struct rval *v = tread(w, 2000);
        assert_non_null(v);
        assert_int_equal(v->n, 2);
        char key[8];
        snprintf(key, sizeof key, "x%c", 'a' + round * 2 + 1);
        assert_string_equal(v->elem[0]->str, key);
        assert_int_equal(v->elem[1]->n, 2);
        assert_string_equal(v->elem[1]->elem[0]->str, "r");
        rval_free(v);
        expect_bulk(tcmd(c, "LPOP %s", key), "p");
        expect_status(tcmd(w, "PING"), "PONG");
        tclose(w);
    }
    /* at once: the first key with elements in argument order, on either shard */
    expect_int(tcmd(c, "RPUSH xh last"), 1);
    expect_pair(tcmd(c, "BLPOP %s 0", keys), "xh", "last");
    /* timeout and CLIENT UNBLOCK across shards */
    expect_nil(tcmd(c, "BLPOP %s 0.1", keys));
    tconn *w = tconnect(srv.port);
    long long id = get_int(tcmd(w, "CLIENT ID"));
    char line[128];
    snprintf(line, sizeof line, "BLPOP %s 0", keys);
    send_words(w, line);
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld ERROR", id), 1);
    expect_error(tread(w, 2000), "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    /* many clients on keys of both shards, pushes to all: every element served once */
    tconn *m[6];
    for (int i = 0; i < 6; i++) {
        m[i] = tconnect(srv.port);
        send_words(m[i], "BLPOP xa xb xc xd 0");
    }
    for (int i = 0; i < 6; i++)
        expect_blocked(m[i]);
    expect_int(tcmd(c, "RPUSH xa 1 2"), 2);
    expect_int(tcmd(c, "RPUSH xb 3 4"), 2);
    expect_int(tcmd(c, "RPUSH xc 5"), 1);
    expect_int(tcmd(c, "RPUSH xd 6"), 1);
    int seen = 0;
    for (int i = 0; i < 6; i++) {
        struct rval *v = tread(m[i], 2000);
        assert_non_null(v);
        assert_int_equal(v->n, 2);
        seen |= 1 << atoi(v->elem[1]->str);
        rval_free(v);
        tclose(m[i]);
    }
    assert_int_equal(seen, 0x7e); /* 1..6, each once */
    for (int k = 0; k < 4; k++)
        expect_int(tcmd(c, "LLEN x%c", 'a' + k), 0);
    tclose(w);
}

/* Elements arriving other than by a push wake a blocked client too:
 * RENAME onto the key, and LMOVE from keys of either shard. */
static void test_woken_by_any_write(void **state)
{
    (void)state;
    tconn *w = tconnect(srv.port);
    send_words(w, "BLPOP {r}dst 0");
    expect_blocked(w);
    expect_int(tcmd(c, "RPUSH {r}src a"), 1);
    expect_ok(tcmd(c, "RENAME {r}src {r}dst"));
    expect_pair(tread(w, 2000), "{r}dst", "a");
    for (int i = 0; i < 8; i++) {
        expect_int(tcmd(c, "RPUSH ws%d m%d", i, i), 1);
        send_words(w, "BLPOP wk 0");
        expect_blocked(w);
        char elem[8];
        snprintf(elem, sizeof elem, "m%d", i);
        expect_bulk(tcmd(c, "LMOVE ws%d wk LEFT RIGHT", i), elem);
        expect_pair(tread(w, 2000), "wk", elem);
        expect_int(tcmd(c, "EXISTS wk"), 0);
    }
    tclose(w);
}

/* Per key, clients are served in the order they blocked. Each BLPOP is
 * seen blocked at the key (INFO blocked_clients counts it where it waits)
 * before the next is sent: 150 ms of silence alone did not show that on a
 * loaded machine (CI's ASan run served e0, e2 for the first two). */
/* BLMOVE and BRPOPLPUSH with their keys on two shards block as on one:
 * served by a push to the source (the element then in the destination),
 * in the order the clients blocked, timeout, CLIENT UNBLOCK, the
 * destination's type checked when the element comes (-WRONGTYPE, the
 * element back in the source, as Redis), the source's at once, and a
 * client gone while blocked takes nothing. */
static void test_move_across_shards(void **state)
{
    (void)state;
    char src[32], dst[32];
    keys_on_two_shards(c, "mv", src, dst, sizeof src);
    /* at once */
    expect_int(tcmd(c, "RPUSH %s a b", src), 2);
    expect_bulk(tcmd(c, "BLMOVE %s %s RIGHT LEFT 0", src, dst), "b");
    expect_bulk(tcmd(c, "BRPOPLPUSH %s %s 0", src, dst), "a");
    expect_int(tcmd(c, "EXISTS %s", src), 0);
    expect_bulk(tcmd(c, "LINDEX %s 0", dst), "a");
    expect_bulk(tcmd(c, "LINDEX %s 1", dst), "b");
    /* the slow log shows the command, not its steps on the two shards */
    expect_ok(tcmd(c, "CONFIG SET slowlog-log-slower-than 0"));
    expect_ok(tcmd(c, "SLOWLOG RESET"));
    expect_int(tcmd(c, "RPUSH %s s", src), 1);
    expect_bulk(tcmd(c, "BLMOVE %s %s LEFT LEFT 0", src, dst), "s");
    expect_ok(tcmd(c, "CONFIG SET slowlog-log-slower-than 10000"));
    struct rval *log = tcmd(c, "SLOWLOG GET 10");
    bool blmove = false;
    for (size_t i = 0; i < log->n; i++) {
        const char *name = log->elem[i]->elem[3]->elem[0]->str;
        blmove |= strcasecmp(name, "blmove") == 0;
        assert_true(strcasecmp(name, "blpop") != 0 && strcasecmp(name, "lpush") != 0);
    }
    rval_free(log);
    assert_true(blmove);
    expect_bulk(tcmd(c, "LPOP %s", dst), "s");
    /* blocked until a push */
    tconn *w = tconnect(srv.port);
    char line[128];
    snprintf(line, sizeof line, "BLMOVE %s %s LEFT RIGHT 0", src, dst);
    send_words(w, line);
    expect_blocked(w);
    expect_int(tcmd(c, "RPUSH %s x", src), 1);
    expect_bulk(tread(w, 2000), "x");
    expect_int(tcmd(c, "EXISTS %s", src), 0);
    expect_bulk(tcmd(c, "RPOP %s", dst), "x");
    snprintf(line, sizeof line, "BRPOPLPUSH %s %s 0", src, dst);
    send_words(w, line);
    expect_blocked(w);
    expect_int(tcmd(c, "LPUSH %s y", src), 1);
    expect_bulk(tread(w, 2000), "y");
    expect_bulk(tcmd(c, "LPOP %s", dst), "y");
    /* several clients, served in the order they blocked */
    tconn *q[3];
    for (int i = 0; i < 3; i++) {
        q[i] = tconnect(srv.port);
        snprintf(line, sizeof line, "BLMOVE %s %s RIGHT LEFT 0", src, dst);
        send_words(q[i], line);
        expect_blocked(q[i]);
        assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", i + 1, 10000), i + 1);
    }
    expect_int(tcmd(c, "RPUSH %s e1 e2 e3", src), 3);
    expect_bulk(tread(q[0], 2000), "e3");
    expect_bulk(tread(q[1], 2000), "e2");
    expect_bulk(tread(q[2], 2000), "e1");
    for (int i = 0; i < 3; i++)
        tclose(q[i]);
    expect_int(tcmd(c, "LLEN %s", dst), 5); /* a b e1 e2 e3, the last three in any order */
    expect_int(tcmd(c, "DEL %s", dst), 1);
    /* timeout, CLIENT UNBLOCK */
    expect_nil(tcmd(c, "BLMOVE %s %s LEFT LEFT 0.1", src, dst));
    long long id = get_int(tcmd(w, "CLIENT ID"));
    snprintf(line, sizeof line, "BLMOVE %s %s LEFT LEFT 0", src, dst);
    send_words(w, line);
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld", id), 1);
    expect_nil(tread(w, 2000));
    send_words(w, line);
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld ERROR", id), 1);
    expect_error(tread(w, 2000), "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    /* the destination of another type: found when the element comes */
    expect_ok(tcmd(c, "SET %s text", dst));
    send_words(w, line);
    expect_blocked(w);
    expect_int(tcmd(c, "RPUSH %s z", src), 1);
    expect_error(tread(w, 2000), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_int(tcmd(c, "LLEN %s", src), 1);
    expect_bulk(tcmd(c, "LPOP %s", src), "z");
    expect_bulk(tcmd(c, "GET %s", dst), "text");
    expect_int(tcmd(c, "DEL %s", dst), 1);
    /* the source of another type: at once */
    expect_ok(tcmd(c, "SET %s text", src));
    expect_error(tcmd(c, "BLMOVE %s %s LEFT LEFT 0", src, dst),
                 "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_int(tcmd(c, "DEL %s", src), 1);
    expect_error(tcmd(c, "BLMOVE %s %s UP LEFT 0", src, dst), "ERR syntax error");
    /* gone while blocked: the element stays in the source */
    send_words(w, line);
    expect_blocked(w);
    tclose(w);
    usleep(100 * 1000);
    expect_int(tcmd(c, "RPUSH %s kept", src), 1);
    usleep(50 * 1000);
    expect_int(tcmd(c, "LLEN %s", src), 1);
    expect_int(tcmd(c, "EXISTS %s", dst), 0);
}

static void test_fifo(void **state)
{
    (void)state;
    tconn *w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = tconnect(srv.port);
        send_words(w[i], "BLPOP fifo 0");
        expect_blocked(w[i]);
        assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", i + 1, 10000), i + 1);
    }
    expect_int(tcmd(c, "RPUSH fifo e0 e1"), 2);
    expect_pair(tread(w[0], 2000), "fifo", "e0");
    expect_pair(tread(w[1], 2000), "fifo", "e1");
    expect_blocked(w[2]);
    expect_int(tcmd(c, "RPUSH fifo e2"), 1);
    expect_pair(tread(w[2], 2000), "fifo", "e2");
    for (int i = 0; i < 3; i++)
        tclose(w[i]);
}

static void test_multi(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "BLPOP q 0"), "QUEUED");
    expect_status(tcmd(c, "BLMOVE q d LEFT LEFT 0"), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->type, R_NIL);
    assert_int_equal(v->elem[1]->type, R_NIL);
    rval_free(v);
}

static void test_later_commands_wait(void **state)
{
    (void)state;
    tconn *w = tconnect(srv.port);
    send_words(w, "BLPOP later 0");
    send_words(w, "PING");
    expect_blocked(w);
    expect_int(tcmd(c, "RPUSH later x"), 1);
    expect_pair(tread(w, 2000), "later", "x");
    expect_status(tread(w, 2000), "PONG");
    tclose(w);
}

static void test_client_unblock(void **state)
{
    (void)state;
    tconn *w = tconnect(srv.port);
    long long id = get_int(tcmd(w, "CLIENT ID"));
    send_words(w, "BLPOP ub 0");
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld", id), 1);
    expect_nil(tread(w, 2000));
    send_words(w, "BLMOVE ub{u} x{u} LEFT LEFT 0");
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld TIMEOUT", id), 1);
    expect_nil(tread(w, 2000));
    send_words(w, "BRPOP ub 0");
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld ERROR", id), 1);
    expect_error(tread(w, 2000), "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld", id), 0); /* not blocked now */
    expect_int(tcmd(c, "CLIENT UNBLOCK 999999"), 0);
    expect_error(tcmd(c, "CLIENT UNBLOCK %lld FOO", id), "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    expect_status(tcmd(w, "PING"), "PONG");
    tclose(w);
}

/* A client gone while blocked takes nothing: the pushed elements stay,
 * whether the push comes well after the close or right behind it (as soon
 * as the server has seen the close: then the push and the news of the
 * close race to the key's shard, and an element served to the closed
 * connection goes back). */
static void test_disconnect(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        tconn *w = tconnect(srv.port);
        long long id = get_int(tcmd(w, "CLIENT ID"));
        send_words(w, round % 2 ? "BLPOP {g}gone 0" : "BLMOVE {g}gone {g}gone2 LEFT LEFT 0");
        expect_blocked(w);
        tclose(w);
        if (round < 2) {
            usleep(100 * 1000);
        } else {
            /* push as soon as the server has seen the close (before that,
             * a reply to a closed socket loses its element, in Redis too) */
            char idtext[32];
            snprintf(idtext, sizeof idtext, "id=%lld ", id);
            for (int tries = 0; tries < 200; tries++) {
                struct rval *l = tcmd(c, "CLIENT LIST");
                bool there = l->str && strstr(l->str, idtext);
                rval_free(l);
                if (!there)
                    break;
            }
        }
        expect_int(tcmd(c, "RPUSH {g}gone e%d", round), 1);
        /* what a served-then-gone client took comes back */
        long long n = 0;
        for (int tries = 0; tries < 100; tries++) {
            n = get_int(tcmd(c, "LLEN {g}gone"));
            if (n == 1)
                break;
            usleep(10 * 1000);
        }
        assert_int_equal(n, 1);
        char elem[16];
        snprintf(elem, sizeof elem, "e%d", round);
        expect_bulk(tcmd(c, "LPOP {g}gone"), elem);
        expect_int(tcmd(c, "EXISTS {g}gone2"), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_immediate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_served_by_push, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_on_both_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_woken_by_any_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_across_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_commands_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_unblock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
