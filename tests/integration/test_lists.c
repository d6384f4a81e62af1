/* Lists against a running server, with Redis 7's replies and errors (the
 * same test runs against redis-server with RINGKV_TEST_TARGET=redis):
 * LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP (with count) LLEN LRANGE LINDEX
 * LINSERT LSET LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, -WRONGTYPE, the
 * argument errors, LMOVE between keys on both shards, a random mix of
 * edits checked against a model with small nodes (list-max-listpack-size
 * 4, so positions cross nodes), OBJECT ENCODING (listpack / quicklist as
 * Redis 7.2 names them: ringkv only, the installed redis-server is 7.0),
 * RENAME, COPY and expiry of lists. */
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
    (void)state;
    return server_start(&srv, NULL);
}
static int group_teardown(void **state) { (void)state; return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    (void)state;
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_ok(tcmd(c, "CONFIG SET list-max-listpack-size -2"));
    return 0;
}
static int teardown(void **state) { (void)state; tclose(c); c = NULL; return 0; }

/* v is an array of exactly the words of want, in that order ("" = empty). */
static void expect_list(struct rval *v, const char *want)
{
    char *text = rval_text(v);
    if (v->type != R_ARRAY)
        fail_msg("reply %s is not an array for '%s'", text, want);
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", want);
    size_t n = 0;
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
        if (n >= v->n || v->elem[n]->type != R_BULK || strcmp(v->elem[n]->str, t) != 0)
            fail_msg("reply %s is not '%s'", text, want);
        n++;
    }
    if (n != v->n)
        fail_msg("reply %s is not '%s'", text, want);
    free(text);
    rval_free(v);
}

static void expect_ints(struct rval *v, const char *want)
{
    char *text = rval_text(v);
    if (v->type != R_ARRAY)
        fail_msg("reply %s is not an array for '%s'", text, want);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", want);
    size_t n = 0;
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
        if (n >= v->n || v->elem[n]->type != R_INT || v->elem[n]->integer != atoll(t))
            fail_msg("reply %s is not '%s'", text, want);
        n++;
    }
    if (n != v->n)
        fail_msg("reply %s is not '%s'", text, want);
    free(text);
    rval_free(v);
}

static void expect_null_array(struct rval *v)
{
    /* RESP2 *-1, parsed as nil */
    expect_nil(v);
}

static void test_push_pop(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH l a b c"), 3);
    expect_int(tcmd(c, "LPUSH l z y"), 5);
    expect_list(tcmd(c, "LRANGE l 0 -1"), "y z a b c");
    expect_int(tcmd(c, "LLEN l"), 5);
    expect_int(tcmd(c, "LLEN nokey"), 0);
    expect_int(tcmd(c, "LPUSHX nokey a"), 0);
    expect_int(tcmd(c, "RPUSHX nokey a"), 0);
    expect_int(tcmd(c, "EXISTS nokey"), 0);
    expect_int(tcmd(c, "LPUSHX l x"), 6);
    expect_int(tcmd(c, "RPUSHX l d e"), 8);
    expect_list(tcmd(c, "LRANGE l 0 -1"), "x y z a b c d e");
    expect_bulk(tcmd(c, "LPOP l"), "x");
    expect_bulk(tcmd(c, "RPOP l"), "e");
    expect_list(tcmd(c, "LPOP l 2"), "y z");
    expect_list(tcmd(c, "RPOP l 2"), "d c");
    expect_list(tcmd(c, "LPOP l 0"), "");
    expect_list(tcmd(c, "RPOP l 10"), "b a");
    expect_int(tcmd(c, "EXISTS l"), 0);
    expect_nil(tcmd(c, "LPOP l"));
    expect_null_array(tcmd(c, "LPOP l 2"));
    expect_null_array(tcmd(c, "RPOP l 0"));
    expect_error(tcmd(c, "LPOP l -1"), "ERR value is out of range, must be positive");
    expect_error(tcmd(c, "LPOP l x"), "ERR value is out of range, must be positive");
    expect_error(tcmd(c, "LPOP l 1 2"), "ERR wrong number of arguments for 'lpop' command");
    expect_error(tcmd(c, "RPUSH l"), "ERR wrong number of arguments for 'rpush' command");
    /* binary and empty elements */
    const char *argv[] = { "RPUSH", "b", "", "a\r\nb" };
    const size_t lens[] = { 5, 1, 0, 4 };
    tsendb(c, 4, argv, lens);
    expect_int(tread(c, 2000), 2);
    expect_bulk(tcmd(c, "LPOP b"), "");
    struct rval *v = tcmd(c, "LPOP b");
    assert_int_equal(v->type, R_BULK);
    assert_int_equal(v->len, 4);
    assert_memory_equal(v->str, "a\r\nb", 4);
    rval_free(v);
}

static void test_index_range(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH l a b c d e"), 5);
    expect_bulk(tcmd(c, "LINDEX l 0"), "a");
    expect_bulk(tcmd(c, "LINDEX l -1"), "e");
    expect_bulk(tcmd(c, "LINDEX l 3"), "d");
    expect_nil(tcmd(c, "LINDEX l 5"));
    expect_nil(tcmd(c, "LINDEX l -6"));
    expect_nil(tcmd(c, "LINDEX nokey x")); /* the key first */
    expect_error(tcmd(c, "LINDEX l x"), "ERR value is not an integer or out of range");
    expect_list(tcmd(c, "LRANGE l 1 2"), "b c");
    expect_list(tcmd(c, "LRANGE l -2 100"), "d e");
    expect_list(tcmd(c, "LRANGE l -100 0"), "a");
    expect_list(tcmd(c, "LRANGE l 3 1"), "");
    expect_list(tcmd(c, "LRANGE l 5 10"), "");
    expect_list(tcmd(c, "LRANGE nokey 0 -1"), "");
    expect_error(tcmd(c, "LRANGE l a 1"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "LRANGE nokey a 1"), "ERR value is not an integer or out of range");
}

static void test_edits(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH l a b c b a"), 5);
    expect_int(tcmd(c, "LINSERT l BEFORE b x"), 6);
    expect_int(tcmd(c, "LINSERT l after c y"), 7);
    expect_list(tcmd(c, "LRANGE l 0 -1"), "a x b c y b a");
    expect_int(tcmd(c, "LINSERT l BEFORE nothere q"), -1);
    expect_int(tcmd(c, "LINSERT nokey BEFORE a q"), 0);
    expect_error(tcmd(c, "LINSERT l MIDDLE a q"), "ERR syntax error");
    expect_ok(tcmd(c, "LSET l 0 A"));
    expect_ok(tcmd(c, "LSET l -1 Z"));
    expect_list(tcmd(c, "LRANGE l 0 -1"), "A x b c y b Z");
    expect_error(tcmd(c, "LSET l 7 q"), "ERR index out of range");
    expect_error(tcmd(c, "LSET nokey 0 q"), "ERR no such key");
    expect_error(tcmd(c, "LSET l q q"), "ERR value is not an integer or out of range");
    expect_int(tcmd(c, "RPUSH r a b a c a d a"), 7);
    expect_int(tcmd(c, "LREM r 2 a"), 2);
    expect_list(tcmd(c, "LRANGE r 0 -1"), "b c a d a");
    expect_int(tcmd(c, "LREM r -1 a"), 1);
    expect_list(tcmd(c, "LRANGE r 0 -1"), "b c a d");
    expect_int(tcmd(c, "LREM r 0 a"), 1);
    expect_int(tcmd(c, "LREM r 0 zz"), 0);
    expect_int(tcmd(c, "LREM nokey 0 zz"), 0);
    expect_error(tcmd(c, "LREM r x a"), "ERR value is not an integer or out of range");
    expect_int(tcmd(c, "LREM r 0 b"), 1);
    expect_int(tcmd(c, "LREM r 0 c"), 1);
    expect_int(tcmd(c, "LREM r 0 d"), 1);
    expect_int(tcmd(c, "EXISTS r"), 0);
    expect_int(tcmd(c, "RPUSH t 0 1 2 3 4 5 6"), 7);
    expect_ok(tcmd(c, "LTRIM t 1 -2"));
    expect_list(tcmd(c, "LRANGE t 0 -1"), "1 2 3 4 5");
    expect_ok(tcmd(c, "LTRIM t -3 100"));
    expect_list(tcmd(c, "LRANGE t 0 -1"), "3 4 5");
    expect_ok(tcmd(c, "LTRIM t 0 -1"));
    expect_ok(tcmd(c, "LTRIM t 2 1"));
    expect_int(tcmd(c, "EXISTS t"), 0);
    expect_ok(tcmd(c, "LTRIM nokey 0 1"));
    expect_error(tcmd(c, "LTRIM t 0 x"), "ERR value is not an integer or out of range");
}

static void test_lpos(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH l a b c 1 2 3 c c"), 8);
    expect_int(tcmd(c, "LPOS l c"), 2);
    expect_int(tcmd(c, "LPOS l c RANK 2"), 6);
    expect_int(tcmd(c, "LPOS l c RANK -1"), 7);
    expect_int(tcmd(c, "LPOS l c RANK -3"), 2);
    expect_nil(tcmd(c, "LPOS l c RANK 4"));
    expect_nil(tcmd(c, "LPOS l zz"));
    expect_ints(tcmd(c, "LPOS l c COUNT 2"), "2 6");
    expect_ints(tcmd(c, "LPOS l c COUNT 0"), "2 6 7");
    expect_ints(tcmd(c, "LPOS l c COUNT 0 RANK -1"), "7 6 2");
    expect_ints(tcmd(c, "LPOS l c COUNT 0 MAXLEN 3"), "2");
    expect_ints(tcmd(c, "LPOS l c COUNT 0 RANK -1 MAXLEN 2"), "7 6");
    expect_nil(tcmd(c, "LPOS l c MAXLEN 2"));
    expect_ints(tcmd(c, "LPOS l zz COUNT 1"), "");
    expect_ints(tcmd(c, "LPOS nokey zz COUNT 1"), "");
    expect_nil(tcmd(c, "LPOS nokey zz"));
    expect_error(tcmd(c, "LPOS l c RANK 0"),
                 "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                 "or use negative to start from the end of the list");
    expect_error(tcmd(c, "LPOS l c COUNT -1"), "ERR COUNT can't be negative");
    expect_error(tcmd(c, "LPOS l c MAXLEN -1"), "ERR MAXLEN can't be negative");
    expect_error(tcmd(c, "LPOS l c RANK"), "ERR syntax error");
    expect_error(tcmd(c, "LPOS l c FOO 1"), "ERR syntax error");
    expect_error(tcmd(c, "LPOS l c RANK x"), "ERR value is not an integer or out of range");
}

/* LMOVE between many pairs of keys, so that some pairs are on one shard
 * and others on two. */
static void test_lmove(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++) {
        expect_int(tcmd(c, "RPUSH src%d a b c", i), 3);
        expect_int(tcmd(c, "RPUSH dst%d x", i), 1);
        expect_bulk(tcmd(c, "LMOVE src%d dst%d LEFT RIGHT", i, i), "a");
        expect_bulk(tcmd(c, "LMOVE src%d dst%d right left", i, i), "c");
        expect_bulk(tcmd(c, "RPOPLPUSH src%d dst%d", i, i), "b");
        expect_int(tcmd(c, "EXISTS src%d", i), 0);
        expect_list(tcmd(c, "LRANGE dst%d 0 -1", i), "b c x a");
        expect_nil(tcmd(c, "LMOVE src%d dst%d LEFT LEFT", i, i));
        expect_bulk(tcmd(c, "LMOVE dst%d new%d RIGHT LEFT", i, i), "a");
        expect_list(tcmd(c, "LRANGE new%d 0 -1", i), "a");
    }
    /* one key: a rotation */
    expect_int(tcmd(c, "RPUSH r 1 2 3"), 3);
    expect_bulk(tcmd(c, "LMOVE r r LEFT RIGHT"), "1");
    expect_bulk(tcmd(c, "RPOPLPUSH r r"), "1");
    expect_list(tcmd(c, "LRANGE r 0 -1"), "1 2 3");
    expect_int(tcmd(c, "RPUSH one x"), 1);
    expect_bulk(tcmd(c, "RPOPLPUSH one one"), "x");
    expect_list(tcmd(c, "LRANGE one 0 -1"), "x");
    expect_error(tcmd(c, "LMOVE r r UP RIGHT"), "ERR syntax error");
    expect_ok(tcmd(c, "SET str v"));
    expect_error_prefix(tcmd(c, "LMOVE r str LEFT RIGHT"), "WRONGTYPE");
    expect_error_prefix(tcmd(c, "LMOVE str r LEFT RIGHT"), "WRONGTYPE");
    expect_nil(tcmd(c, "LMOVE nokey str LEFT RIGHT")); /* the source first */
    expect_list(tcmd(c, "LRANGE r 0 -1"), "1 2 3");
    /* a rotation whose pop moves the list: nodes of 4, [d] [e] after the
     * LPOP, and the pop of e leaves one small node, which becomes a
     * listpack (a new allocation) before the push of e */
    expect_ok(tcmd(c, "CONFIG SET list-max-listpack-size 4"));
    expect_int(tcmd(c, "RPUSH q a b c d e"), 5);
    rval_free(tcmd(c, "LPOP q 3"));
    expect_bulk(tcmd(c, "LMOVE q q RIGHT LEFT"), "e");
    expect_list(tcmd(c, "LRANGE q 0 -1"), "e d");
    expect_bulk(tcmd(c, "RPOPLPUSH q q"), "d");
    expect_list(tcmd(c, "LRANGE q 0 -1"), "d e");
    expect_ok(tcmd(c, "CONFIG SET list-max-listpack-size -2"));
}

static void test_lmpop(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH k2 a b c d"), 4);
    expect_int(tcmd(c, "RPUSH k3 x"), 1);
    struct rval *v = tcmd(c, "LMPOP 3 k1 k2 k3 LEFT");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, "k2");
    expect_list(v->elem[1], "a");
    v->elem[1] = NULL;
    v->n = 1;
    rval_free(v);
    v = tcmd(c, "LMPOP 2 k2 k3 RIGHT COUNT 10");
    assert_string_equal(v->elem[0]->str, "k2");
    expect_list(v->elem[1], "d c b");
    v->elem[1] = NULL;
    v->n = 1;
    rval_free(v);
    v = tcmd(c, "LMPOP 2 k2 k3 right count 1");
    assert_string_equal(v->elem[0]->str, "k3");
    rval_free(v);
    expect_null_array(tcmd(c, "LMPOP 2 k2 k3 LEFT"));
    expect_error(tcmd(c, "LMPOP 0 k LEFT"), "ERR numkeys should be greater than 0");
    expect_error(tcmd(c, "LMPOP x k LEFT"), "ERR numkeys should be greater than 0");
    expect_error(tcmd(c, "LMPOP 2 k LEFT"), "ERR syntax error");
    expect_error(tcmd(c, "LMPOP 1 k UP"), "ERR syntax error");
    expect_error(tcmd(c, "LMPOP 1 k LEFT COUNT 0"), "ERR count should be greater than 0");
    expect_error(tcmd(c, "LMPOP 1 k LEFT COUNT 1 COUNT 1"), "ERR syntax error");
    expect_error(tcmd(c, "LMPOP 1 k LEFT FOO"), "ERR syntax error");
    expect_ok(tcmd(c, "SET s v"));
    expect_error_prefix(tcmd(c, "LMPOP 2 nokey s LEFT"), "WRONGTYPE");
}

static void test_wrongtype(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "SET s v"));
    const char *cmds[] = { "LPUSH s a", "RPUSH s a", "LPUSHX s a", "RPUSHX s a", "LPOP s", "RPOP s 2",
                           "LLEN s", "LINDEX s 0", "LRANGE s 0 1", "LINSERT s BEFORE a b",
                           "LSET s 0 a", "LREM s 0 a", "LTRIM s 0 1", "LPOS s a", "RPOPLPUSH s x" };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        expect_error(tcmd(c, "%s", cmds[i]), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_int(tcmd(c, "RPUSH l a"), 1);
    expect_status(tcmd(c, "TYPE l"), "list");
    expect_error_prefix(tcmd(c, "GET l"), "WRONGTYPE");
    expect_error_prefix(tcmd(c, "SADD l x"), "WRONGTYPE");
}

/* A random mix of edits on one list with nodes of 4 elements, checked
 * after each against a model. */
#define MODEL_MAX 400
static char model[MODEL_MAX * 2][40];
static int model_len;

static void model_insert(int at, const char *v)
{
    memmove(model[at + 1], model[at], (size_t)(model_len - at) * sizeof model[0]);
    snprintf(model[at], sizeof model[0], "%s", v);
    model_len++;
}

static void model_delete(int at, int n)
{
    memmove(model[at], model[at + n], (size_t)(model_len - at - n) * sizeof model[0]);
    model_len -= n;
}

static void check_model(void)
{
    struct rval *v = tcmd(c, "LRANGE m 0 -1");
    if (model_len == 0) {
        assert_int_equal(v->n, 0);
        rval_free(v);
        expect_int(tcmd(c, "EXISTS m"), 0);
        return;
    }
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal((int)v->n, model_len);
    for (int i = 0; i < model_len; i++)
        assert_string_equal(v->elem[i]->str, model[i]);
    rval_free(v);
    /* indexing from both ends finds the same */
    int i = rand() % model_len;
    expect_bulk(tcmd(c, "LINDEX m %d", i), model[i]);
    expect_bulk(tcmd(c, "LINDEX m %d", i - model_len), model[i]);
}

/* A random mix of edits under list-max-listpack-size fill and
 * list-compress-depth depth, elements named prefix + a number. */
static void model_mix(int fill, int depth, const char *prefix)
{
    srand(7);
    expect_ok(tcmd(c, "CONFIG SET list-max-listpack-size %d", fill));
    expect_ok(tcmd(c, "CONFIG SET list-compress-depth %d", depth));
    model_len = 0;
    for (int round = 0; round < 1500; round++) {
        char v[40];
        snprintf(v, sizeof v, "%s%d", prefix, rand() % 50);
        int op = rand() % 8;
        if (model_len > MODEL_MAX - 10)
            op = 3;
        switch (op) {
        case 0:
            expect_int(tcmd(c, "LPUSH m %s", v), model_len + 1);
            model_insert(0, v);
            break;
        case 1:
            expect_int(tcmd(c, "RPUSH m %s", v), model_len + 1);
            model_insert(model_len, v);
            break;
        case 2: {
            if (!model_len)
                break;
            int at = rand() % model_len;
            bool after = rand() % 2;
            char pivot[40];
            snprintf(pivot, sizeof pivot, "%s", model[at]);
            int first = 0;
            while (strcmp(model[first], pivot) != 0)
                first++;
            expect_int(tcmd(c, "LINSERT m %s %s %s", after ? "AFTER" : "BEFORE", pivot, v), model_len + 1);
            model_insert(after ? first + 1 : first, v);
            break;
        }
        case 3: {
            if (!model_len)
                break;
            int n = 1 + rand() % 5;
            if (n > model_len)
                n = model_len;
            bool left = rand() % 2;
            struct rval *r = tcmd(c, "%s m %d", left ? "LPOP" : "RPOP", n);
            assert_int_equal((int)r->n, n);
            for (int k = 0; k < n; k++)
                assert_string_equal(r->elem[k]->str, left ? model[k] : model[model_len - 1 - k]);
            rval_free(r);
            model_delete(left ? 0 : model_len - n, n);
            break;
        }
        case 4: {
            if (!model_len)
                break;
            int at = rand() % model_len;
            expect_ok(tcmd(c, "LSET m %d %s", at, v));
            snprintf(model[at], sizeof model[0], "%s", v);
            break;
        }
        case 5: {
            int count = rand() % 5 - 2, removed = 0;
            if (count >= 0) {
                for (int k = 0; k < model_len && (count == 0 || removed < count);)
                    if (strcmp(model[k], v) == 0)
                        model_delete(k, 1), removed++;
                    else
                        k++;
            } else {
                for (int k = model_len - 1; k >= 0 && removed < -count; k--)
                    if (strcmp(model[k], v) == 0)
                        model_delete(k, 1), removed++;
            }
            expect_int(tcmd(c, "LREM m %d %s", count, v), removed);
            break;
        }
        case 6: {
            if (model_len < 4 || rand() % 4)
                break;
            int start = rand() % 3, stop = model_len - 1 - rand() % 3;
            expect_ok(tcmd(c, "LTRIM m %d %d", start, stop));
            model_delete(stop + 1, model_len - stop - 1);
            model_delete(0, start);
            break;
        }
        case 7: {
            for (int k = 0; k < 6; k++) {
                snprintf(v, sizeof v, "w%s%d", prefix, rand() % 50);
                model_insert(model_len, v);
                expect_int(tcmd(c, "RPUSH m %s", v), model_len);
            }
            break;
        }
        }
        check_model();
    }
    expect_ok(tcmd(c, "CONFIG SET list-compress-depth 0"));
}

static void test_model(void **state)
{
    (void)state;
    model_mix(4, 0, "v");
}

/* The same with list-compress-depth 1 and 2: nodes of 8 elements of about
 * 20 bytes (past the 48 bytes under which a node is not compressed), so
 * that edits, pops and ranges go through compressed inner nodes. */
static void test_model_compressed(void **state)
{
    (void)state;
    model_mix(8, 1, "compressed-value-");
    expect_int(tcmd(c, "DEL m"), 1);
    model_mix(8, 2, "compressed-value-");
}

/* list-compress-depth as Redis: a big list made under depth 1 takes far
 * less memory than the same list made under depth 0 (its inner nodes
 * LZF-compressed; MEMORY USAGE of the whole list), reads back the same,
 * and a list keeps the depth it was made with (CONFIG SET reaches the
 * lists made after it). */
static void test_compress_depth(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "CONFIG SET list-compress-depth 0"));
    struct rval *v = tcmd(c, "CONFIG GET list-compress-depth");
    assert_int_equal((int)v->n, 2);
    assert_string_equal(v->elem[1]->str, "0");
    rval_free(v);
    expect_error_prefix(tcmd(c, "CONFIG SET list-compress-depth -1"), "ERR ");
    expect_error_prefix(tcmd(c, "CONFIG SET list-compress-depth x"), "ERR ");
    for (int depth = 0; depth <= 1; depth++) {
        expect_ok(tcmd(c, "CONFIG SET list-compress-depth %d", depth));
        for (int b = 0; b < 20000; b += 100) {
            char cmd[4000];
            int n = snprintf(cmd, sizeof cmd, "RPUSH big%d", depth);
            for (int i = b; i < b + 100; i++)
                n += snprintf(cmd + n, sizeof cmd - (size_t)n, " value%05d", i);
            expect_int(tcmd(c, "%s", cmd), b + 100);
        }
    }
    expect_ok(tcmd(c, "CONFIG SET list-compress-depth 0"));
    struct rval *m0 = tcmd(c, "MEMORY USAGE big0 SAMPLES 0"), *m1 = tcmd(c, "MEMORY USAGE big1 SAMPLES 0");
    assert_int_equal(m0->type, R_INT);
    assert_int_equal(m1->type, R_INT);
    print_message("# 20000 elements: %lld bytes plain, %lld with list-compress-depth 1\n", m0->integer,
                  m1->integer);
    assert_true(m1->integer * 2 < m0->integer);
    rval_free(m0);
    rval_free(m1);
    struct rval *a = tcmd(c, "LRANGE big0 0 -1"), *b = tcmd(c, "LRANGE big1 0 -1");
    assert_int_equal((int)a->n, 20000);
    assert_int_equal((int)b->n, 20000);
    for (int i = 0; i < 20000; i++)
        assert_string_equal(a->elem[i]->str, b->elem[i]->str);
    rval_free(a);
    rval_free(b);
    expect_bulk(tcmd(c, "LINDEX big1 12345"), "value12345");
    expect_ok(tcmd(c, "LSET big1 10000 changed"));
    expect_int(tcmd(c, "LINSERT big1 BEFORE value15000 inserted"), 20001);
    expect_int(tcmd(c, "LREM big1 0 value05000"), 1);
    expect_int(tcmd(c, "LPOS big1 inserted"), 14999);
    expect_bulk(tcmd(c, "LINDEX big1 9999"), "changed");
    /* made under depth 1, it stays compressed after depth 0 is set */
    expect_int(tcmd(c, "RPUSH big1 more"), 20001);
    struct rval *m2 = tcmd(c, "MEMORY USAGE big1 SAMPLES 0"), *m3 = tcmd(c, "MEMORY USAGE big0 SAMPLES 0");
    assert_true(m2->integer * 2 < m3->integer);
    rval_free(m2);
    rval_free(m3);
    /* popped to nothing from both ends through the compressed nodes */
    for (int i = 0; i < 20; i++) {
        struct rval *r = tcmd(c, "LPOP big1 600");
        assert_int_equal(r->type, R_ARRAY);
        rval_free(r);
        r = tcmd(c, "RPOP big1 400");
        rval_free(r);
    }
    expect_int(tcmd(c, "LLEN big1"), 1);
    expect_int(tcmd(c, "DEL big0 big1"), 2);
}

static void test_encoding(void **state)
{
    (void)state;
    if (target_is_redis())
        skip(); /* 7.0 answers quicklist for every list */
    expect_int(tcmd(c, "RPUSH l a b c"), 3);
    expect_bulk(tcmd(c, "OBJECT ENCODING l"), "listpack");
    expect_ok(tcmd(c, "CONFIG SET list-max-ziplist-size 4")); /* the old name */
    expect_int(tcmd(c, "RPUSH l d e"), 5);
    expect_bulk(tcmd(c, "OBJECT ENCODING l"), "quicklist");
    expect_list(tcmd(c, "RPOP l 4"), "e d c b");
    expect_bulk(tcmd(c, "OBJECT ENCODING l"), "listpack"); /* back at half the limit */
    struct rval *v = tcmd(c, "CONFIG GET list-max-listpack-size");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[1]->str, "4");
    rval_free(v);
    /* the byte limit: 8 KB nodes by default */
    expect_ok(tcmd(c, "CONFIG SET list-max-listpack-size -2"));
    char big[3001];
    memset(big, 'x', 3000);
    big[3000] = '\0';
    expect_int(tcmd(c, "RPUSH b %s %s", big, big), 2);
    expect_bulk(tcmd(c, "OBJECT ENCODING b"), "listpack");
    expect_int(tcmd(c, "RPUSH b %s", big), 3);
    expect_bulk(tcmd(c, "OBJECT ENCODING b"), "quicklist");
}

static void test_rename_copy_expire(void **state)
{
    (void)state;
    expect_int(tcmd(c, "RPUSH l a b c"), 3);
    expect_int(tcmd(c, "COPY l l2"), 1);
    expect_int(tcmd(c, "RPUSH l2 d"), 4);
    expect_list(tcmd(c, "LRANGE l 0 -1"), "a b c");
    expect_ok(tcmd(c, "RENAME l2 l3"));
    expect_list(tcmd(c, "LRANGE l3 0 -1"), "a b c d");
    expect_int(tcmd(c, "PEXPIRE l3 50"), 1);
    usleep(120 * 1000);
    expect_int(tcmd(c, "LLEN l3"), 0);
    /* a big list, deleted */
    for (int i = 0; i < 20; i++) {
        char cmd[64 * 1024];
        int n = snprintf(cmd, sizeof cmd, "RPUSH big");
        for (int k = 0; k < 1000; k++)
            n += snprintf(cmd + n, sizeof cmd - (size_t)n, " e%d", k);
        expect_int(tcmd(c, "%s", cmd), (i + 1) * 1000);
    }
    expect_bulk(tcmd(c, "LINDEX big 12345"), "e345");
    expect_int(tcmd(c, "DEL big"), 1);
    expect_int(tcmd(c, "EXISTS big"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_pop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lpos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmpop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compress_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_copy_expire, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
