/* Sorted sets against a running server, with Redis 7's replies and errors
 * (the same test runs against redis-server with RINGKV_TEST_TARGET=redis):
 * ZADD and its flags, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT,
 * ZLEXCOUNT, Z[REV]RANK, ZRANGE in every form and the legacy range
 * commands, ZRANGESTORE, ZREMRANGEBY*, ZPOPMIN/MAX, ZMPOP, ZUNION/ZINTER/
 * ZDIFF and their STORE forms (keys on both shards, sets as inputs),
 * ZINTERCARD, ZRANDMEMBER, ZSCAN; score parsing (inf, exclusive bounds,
 * NaN refused) and formatting; -WRONGTYPE; OBJECT ENCODING listpack /
 * skiplist past both limits; RENAME and COPY; RESP3 shapes.
 * Scores are exact binary fractions: Redis 7.0 prints others with %.17g
 * and 7.2 (as ringkv) in their shortest form. */
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
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

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

/* A reply as words: bulks, integers and doubles by their text, nil as
 * "nil", a nested array in parentheses. */
static void words_into(const struct rval *v, char *out, size_t cap, bool top)
{
    char tmp[64];
    switch (v->type) {
    case R_BULK: case R_STATUS: case R_DOUBLE:
        snprintf(tmp, sizeof tmp, "%.*s", (int)(v->len < 60 ? v->len : 60), v->str);
        break;
    case R_INT:
        snprintf(tmp, sizeof tmp, "%lld", v->integer);
        break;
    case R_NIL:
        snprintf(tmp, sizeof tmp, "nil");
        break;
    case R_ARRAY: case R_SET:
        if (!top)
            strncat(out, "(", cap - strlen(out) - 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                strncat(out, " ", cap - strlen(out) - 1);
            words_into(v->elem[i], out, cap, false);
        }
        if (!top)
            strncat(out, ")", cap - strlen(out) - 1);
        return;
    default:
        snprintf(tmp, sizeof tmp, "?%d", (int)v->type);
        break;
    }
    strncat(out, tmp, cap - strlen(out) - 1);
}

#define expect_words(v, want) expect_words_at((v), (want), __LINE__)
static void expect_words_at(struct rval *v, const char *want, int line)
{
    char got[8192] = "";
    if (v->type == R_ERROR)
        fail_msg("line %d: error %s, wanted '%s'", line, v->str, want);
    words_into(v, got, sizeof got, true);
    if (strcmp(got, want) != 0)
        fail_msg("line %d: got '%s', wanted '%s'", line, got, want);
    rval_free(v);
}

static void test_add_and_read(void **state)
{
    (void)state;
    expect_int(tcmd(c, "ZADD z 1 a 2 b 3 c 1.5 d"), 4);
    expect_words(tcmd(c, "ZRANGE z 0 -1 WITHSCORES"), "a 1 d 1.5 b 2 c 3");
    expect_int(tcmd(c, "ZADD z 1 a 5 e"), 1);
    expect_int(tcmd(c, "ZCARD z"), 5);
    expect_int(tcmd(c, "ZCARD nokey"), 0);
    expect_bulk(tcmd(c, "ZSCORE z d"), "1.5");
    expect_nil(tcmd(c, "ZSCORE z nope"));
    expect_nil(tcmd(c, "ZSCORE nokey a"));
    expect_words(tcmd(c, "ZMSCORE z a nope e"), "1 nil 5");
    expect_words(tcmd(c, "ZMSCORE nokey a"), "nil");
    /* flags */
    expect_int(tcmd(c, "ZADD z NX 10 a 10 f"), 1);
    expect_bulk(tcmd(c, "ZSCORE z a"), "1");
    expect_int(tcmd(c, "ZADD z XX 10 a 10 g"), 0);
    expect_bulk(tcmd(c, "ZSCORE z a"), "10");
    expect_nil(tcmd(c, "ZSCORE z g"));
    expect_int(tcmd(c, "ZADD z XX CH 11 a 11 g"), 1);
    expect_int(tcmd(c, "ZADD z GT CH 5 a 12 b"), 1);
    expect_words(tcmd(c, "ZMSCORE z a b"), "11 12");
    expect_int(tcmd(c, "ZADD z LT CH 5 a 20 b 7 h"), 2);
    expect_words(tcmd(c, "ZMSCORE z a b h"), "5 12 7");
    expect_bulk(tcmd(c, "ZADD z INCR 2.5 a"), "7.5");
    expect_nil(tcmd(c, "ZADD z NX INCR 1 a"));
    expect_nil(tcmd(c, "ZADD z XX INCR 1 nope"));
    expect_nil(tcmd(c, "ZADD z GT INCR -1 a"));
    expect_int(tcmd(c, "ZADD nokey XX 1 a"), 0);
    expect_int(tcmd(c, "EXISTS nokey"), 0);
    expect_bulk(tcmd(c, "ZINCRBY z -0.5 a"), "7");
    expect_bulk(tcmd(c, "ZINCRBY znew 3 m"), "3");
    /* errors, in Redis's order */
    expect_error(tcmd(c, "ZADD z 1"), "ERR wrong number of arguments for 'zadd' command");
    expect_error(tcmd(c, "ZADD z 1 a 2"), "ERR syntax error");
    expect_error(tcmd(c, "ZADD z INCR 1 a 2 b"), "ERR INCR option supports a single increment-element pair");
    expect_error(tcmd(c, "ZADD z NX XX 1 a"), "ERR XX and NX options at the same time are not compatible");
    expect_error(tcmd(c, "ZADD z GT LT 1 a"), "ERR GT, LT, and/or NX options at the same time are not compatible");
    expect_error(tcmd(c, "ZADD z NX GT 1 a"), "ERR GT, LT, and/or NX options at the same time are not compatible");
    expect_error(tcmd(c, "ZADD z nan a"), "ERR value is not a valid float");
    expect_error(tcmd(c, "ZADD z abc a"), "ERR value is not a valid float");
    expect_error(tcmd(c, "ZADD z 1 a x b"), "ERR value is not a valid float");
    expect_error(tcmd(c, "ZINCRBY z x a"), "ERR value is not a valid float");
    expect_error(tcmd(c, "ZADD z"), "ERR wrong number of arguments for 'zadd' command");
    /* score texts: whole numbers (read without strtod up to 15 digits)
     * and their edges, against what strtod makes of them */
    expect_int(tcmd(c, "ZADD sc 007 a -0 b -12 c 123456789012345 d 1234567890123456789 e 1e3 f +5 g"), 7);
    expect_words(tcmd(c, "ZRANGE sc 0 -1 WITHSCORES"),
                 "c -12 b 0 g 5 a 7 f 1000 d 123456789012345 e 1.2345678901234568e+18");
    expect_error(tcmd(c, "ZADD sc - a"), "ERR value is not a valid float");
    expect_error(tcmd(c, "ZADD sc 12x a"), "ERR value is not a valid float");
    expect_error(tcmd(c, "ZADD sc -1-2 a"), "ERR value is not a valid float");
    expect_int(tcmd(c, "DEL sc"), 1);
    /* counts of a ZADD without conditions (one lookup a member), listpack
     * and skiplist alike: a member twice, a score unchanged, CH */
    expect_int(tcmd(c, "ZADD cnt 1 a 2 a 3 b"), 2);
    expect_words(tcmd(c, "ZRANGE cnt 0 -1 WITHSCORES"), "a 2 b 3");
    expect_int(tcmd(c, "ZADD cnt CH 1 x 2 x"), 2);
    expect_int(tcmd(c, "ZADD cnt CH 2 a 3 b 2 x"), 0);
    expect_int(tcmd(c, "ZADD cnt 5 a 3 b"), 0);
    expect_int(tcmd(c, "ZADD cnt CH 6 a 3 b 7 c"), 2);
    expect_words(tcmd(c, "ZRANGE cnt 0 -1 WITHSCORES"), "x 2 b 3 a 6 c 7");
    expect_ok(tcmd(c, "CONFIG SET zset-max-listpack-entries 2"));
    expect_int(tcmd(c, "ZADD big CH 1 a 2 b 3 c 4 a 4 d"), 5);
    expect_int(tcmd(c, "ZADD big CH 4 a 9 b 3 c"), 1);
    expect_int(tcmd(c, "ZADD big 0 a 0 e"), 1);
    expect_words(tcmd(c, "ZRANGE big 0 -1 WITHSCORES"), "a 0 e 0 c 3 d 4 b 9");
    expect_bulk(tcmd(c, "OBJECT ENCODING big"), "skiplist");
    expect_ok(tcmd(c, "CONFIG SET zset-max-listpack-entries 128"));
    expect_int(tcmd(c, "DEL cnt big"), 2);
    /* infinities, and NaN results refused */
    expect_int(tcmd(c, "ZADD inf +inf a -inf b"), 2);
    expect_words(tcmd(c, "ZRANGE inf 0 -1 WITHSCORES"), "b -inf a inf");
    expect_error(tcmd(c, "ZINCRBY inf -inf a"), "ERR resulting score is not a number (NaN)");
    expect_error(tcmd(c, "ZADD inf INCR +inf b"), "ERR resulting score is not a number (NaN)");
    expect_bulk(tcmd(c, "ZSCORE inf a"), "inf");
    /* removal */
    expect_int(tcmd(c, "ZREM z a nope b"), 2);
    expect_int(tcmd(c, "ZREM nokey a"), 0);
    expect_int(tcmd(c, "ZREM inf a b"), 2);
    expect_int(tcmd(c, "EXISTS inf"), 0); /* the last member takes the key */
}

static void test_counts_and_ranks(void **state)
{
    (void)state;
    expect_int(tcmd(c, "ZADD z 1 a 2 b 3 c 4 d 5 e"), 5);
    expect_int(tcmd(c, "ZCOUNT z -inf +inf"), 5);
    expect_int(tcmd(c, "ZCOUNT z (1 3"), 2);
    expect_int(tcmd(c, "ZCOUNT z (1 (3"), 1);
    expect_int(tcmd(c, "ZCOUNT z 3 1"), 0);
    expect_int(tcmd(c, "ZCOUNT nokey 0 1"), 0);
    expect_error(tcmd(c, "ZCOUNT z x 1"), "ERR min or max is not a float");
    expect_error(tcmd(c, "ZCOUNT z 1 nan"), "ERR min or max is not a float");
    expect_int(tcmd(c, "ZADD l 0 a 0 b 0 c 0 d 0 e"), 5);
    expect_int(tcmd(c, "ZLEXCOUNT l - +"), 5);
    expect_int(tcmd(c, "ZLEXCOUNT l [b (d"), 2);
    expect_int(tcmd(c, "ZLEXCOUNT l (b [d"), 2);
    expect_int(tcmd(c, "ZLEXCOUNT l + -"), 0);
    expect_error(tcmd(c, "ZLEXCOUNT l b d"), "ERR min or max not valid string range item");
    expect_error(tcmd(c, "ZLEXCOUNT l -a +"), "ERR min or max not valid string range item");
    expect_int(tcmd(c, "ZRANK z a"), 0);
    expect_int(tcmd(c, "ZRANK z e"), 4);
    expect_int(tcmd(c, "ZREVRANK z e"), 0);
    expect_nil(tcmd(c, "ZRANK z nope"));
    expect_nil(tcmd(c, "ZREVRANK nokey a"));
}

static void test_ranges(void **state)
{
    (void)state;
    expect_int(tcmd(c, "ZADD z 1 a 2 b 3 c 4 d 5 e"), 5);
    expect_words(tcmd(c, "ZRANGE z 0 1"), "a b");
    expect_words(tcmd(c, "ZRANGE z -2 -1 WITHSCORES"), "d 4 e 5");
    expect_words(tcmd(c, "ZRANGE z 3 100"), "d e");
    expect_words(tcmd(c, "ZRANGE z 4 1"), "");
    expect_words(tcmd(c, "ZRANGE z 0 1 REV"), "e d");
    expect_words(tcmd(c, "ZRANGE z (1 4 BYSCORE"), "b c d");
    expect_words(tcmd(c, "ZRANGE z (1 4 BYSCORE LIMIT 1 2 WITHSCORES"), "c 3 d 4");
    expect_words(tcmd(c, "ZRANGE z 4 (1 BYSCORE REV"), "d c b");
    expect_words(tcmd(c, "ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2"), "d c");
    expect_words(tcmd(c, "ZRANGE z -inf +inf BYSCORE LIMIT 2 -1"), "c d e");
    expect_words(tcmd(c, "ZRANGE z -inf +inf BYSCORE LIMIT -1 2"), "");
    expect_words(tcmd(c, "ZRANGE z -inf +inf BYSCORE LIMIT 1 0"), "");
    expect_words(tcmd(c, "ZRANGEBYSCORE z 2 4 WITHSCORES LIMIT 0 2"), "b 2 c 3");
    expect_words(tcmd(c, "ZREVRANGEBYSCORE z 4 2"), "d c b");
    expect_words(tcmd(c, "ZREVRANGE z 0 1 WITHSCORES"), "e 5 d 4");
    expect_words(tcmd(c, "ZRANGE nokey 0 -1"), "");
    expect_int(tcmd(c, "ZADD l 0 a 0 b 0 c 0 d 0 e"), 5);
    expect_words(tcmd(c, "ZRANGEBYLEX l [b (d"), "b c");
    expect_words(tcmd(c, "ZREVRANGEBYLEX l (d [b"), "c b");
    expect_words(tcmd(c, "ZRANGEBYLEX l - + LIMIT 1 2"), "b c");
    expect_words(tcmd(c, "ZRANGE l [c + BYLEX"), "c d e");
    expect_words(tcmd(c, "ZRANGE l + [c BYLEX REV LIMIT 0 2"), "e d");
    expect_error(tcmd(c, "ZRANGE z 0 1 LIMIT 0 1"),
                 "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    expect_error(tcmd(c, "ZRANGE l - + BYLEX WITHSCORES"),
                 "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    expect_error(tcmd(c, "ZRANGEBYLEX l - + WITHSCORES"),
                 "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    expect_error(tcmd(c, "ZRANGEBYSCORE z 1 2 REV"), "ERR syntax error");
    expect_error(tcmd(c, "ZRANGE z 0 1 BYSCORE BYLEX"), "ERR syntax error");
    expect_error(tcmd(c, "ZRANGE z a 1"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "ZRANGE z a 1 BYSCORE"), "ERR min or max is not a float");
    expect_error(tcmd(c, "ZRANGEBYLEX l b d"), "ERR min or max not valid string range item");
    expect_error(tcmd(c, "ZRANGE z 0 1 BYSCORE LIMIT x 1"), "ERR value is not an integer or out of range");
    /* ZRANGESTORE */
    expect_int(tcmd(c, "ZRANGESTORE dst z 1 3"), 3);
    expect_words(tcmd(c, "ZRANGE dst 0 -1 WITHSCORES"), "b 2 c 3 d 4");
    expect_int(tcmd(c, "ZRANGESTORE dst z 5 (2 BYSCORE REV LIMIT 0 2"), 2);
    expect_words(tcmd(c, "ZRANGE dst 0 -1 WITHSCORES"), "d 4 e 5");
    expect_int(tcmd(c, "ZRANGESTORE dst nokey 0 -1"), 0);
    expect_int(tcmd(c, "EXISTS dst"), 0);
    expect_error(tcmd(c, "ZRANGESTORE dst z 0 1 WITHSCORES"), "ERR syntax error");
}

static void test_remove_ranges_and_pops(void **state)
{
    (void)state;
    expect_int(tcmd(c, "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f"), 6);
    expect_int(tcmd(c, "ZREMRANGEBYRANK z 0 1"), 2);
    expect_int(tcmd(c, "ZREMRANGEBYSCORE z (5 +inf"), 1);
    expect_words(tcmd(c, "ZRANGE z 0 -1"), "c d e");
    expect_int(tcmd(c, "ZREMRANGEBYRANK z 5 10"), 0);
    expect_error(tcmd(c, "ZREMRANGEBYSCORE z x 1"), "ERR min or max is not a float");
    expect_error(tcmd(c, "ZREMRANGEBYRANK z x 1"), "ERR value is not an integer or out of range");
    expect_int(tcmd(c, "ZADD l 0 a 0 b 0 c 0 d"), 4);
    expect_int(tcmd(c, "ZREMRANGEBYLEX l [b (d"), 2);
    expect_words(tcmd(c, "ZRANGE l 0 -1"), "a d");
    expect_int(tcmd(c, "ZREMRANGEBYLEX l - +"), 2);
    expect_int(tcmd(c, "EXISTS l"), 0);
    expect_words(tcmd(c, "ZPOPMIN z"), "c 3");
    expect_words(tcmd(c, "ZPOPMAX z 5"), "e 5 d 4");
    expect_int(tcmd(c, "EXISTS z"), 0);
    expect_words(tcmd(c, "ZPOPMIN z"), "");
    expect_words(tcmd(c, "ZPOPMIN z 0"), "");
    expect_error(tcmd(c, "ZPOPMIN z -1"), "ERR value is out of range, must be positive");
    expect_error(tcmd(c, "ZPOPMIN z 1 2"), "ERR syntax error");
    /* ZMPOP: the first key that has elements */
    expect_int(tcmd(c, "ZADD a 1 x 2 y 3 z"), 3);
    expect_words(tcmd(c, "ZMPOP 2 nokey a MIN COUNT 2"), "a ((x 1) (y 2))");
    expect_words(tcmd(c, "ZMPOP 1 a MAX"), "a ((z 3))");
    expect_words(tcmd(c, "ZMPOP 1 a MIN"), "nil");
    expect_error(tcmd(c, "ZMPOP 0 a MIN"), "ERR numkeys should be greater than 0");
    expect_error(tcmd(c, "ZMPOP 1 a LEFT"), "ERR syntax error");
    expect_error(tcmd(c, "ZMPOP 1 a MIN COUNT 0"), "ERR count should be greater than 0");
    expect_error(tcmd(c, "ZMPOP 5 a MIN"), "ERR syntax error");
}

static void test_algebra(void **state)
{
    (void)state;
    /* a and b: on different shards of a two-thread server (by hash) */
    expect_int(tcmd(c, "ZADD a 1 x 2 y 3 z"), 3);
    expect_int(tcmd(c, "ZADD b 10 y 20 z 30 w"), 3);
    expect_int(tcmd(c, "SADD s y w q"), 3);
    expect_words(tcmd(c, "ZUNION 2 a b WITHSCORES"), "x 1 y 12 z 23 w 30");
    expect_words(tcmd(c, "ZUNION 3 a b s WEIGHTS 1 2 4 AGGREGATE MAX WITHSCORES"), "x 1 q 4 y 20 z 40 w 60");
    expect_words(tcmd(c, "ZINTER 2 a b WITHSCORES"), "y 12 z 23");
    expect_words(tcmd(c, "ZINTER 2 a b AGGREGATE MIN"), "y z");
    expect_words(tcmd(c, "ZINTER 2 a nokey"), "");
    expect_words(tcmd(c, "ZDIFF 2 a b WITHSCORES"), "x 1");
    expect_words(tcmd(c, "ZDIFF 2 a nokey"), "x y z");
    expect_int(tcmd(c, "ZUNIONSTORE out 2 a b WEIGHTS 2 0.5"), 4);
    expect_words(tcmd(c, "ZRANGE out 0 -1 WITHSCORES"), "x 2 y 9 w 15 z 16");
    expect_int(tcmd(c, "ZINTERSTORE out 2 a b"), 2);
    expect_words(tcmd(c, "ZRANGE out 0 -1 WITHSCORES"), "y 12 z 23");
    expect_int(tcmd(c, "ZDIFFSTORE out 2 a a"), 0);
    expect_int(tcmd(c, "EXISTS out"), 0);
    expect_int(tcmd(c, "ZINTERCARD 2 a b"), 2);
    expect_int(tcmd(c, "ZINTERCARD 2 a b LIMIT 1"), 1);
    expect_error(tcmd(c, "ZDIFF 2 a b WEIGHTS 1 1"), "ERR syntax error");
    expect_error(tcmd(c, "ZUNIONSTORE out 2 a b WEIGHTS 2 x"), "ERR weight value is not a float");
    expect_error(tcmd(c, "ZUNIONSTORE out 0 a"), "ERR at least 1 input key is needed for 'zunionstore' command");
    expect_error(tcmd(c, "ZUNIONSTORE out 3 a b"), "ERR syntax error");
    expect_error(tcmd(c, "ZUNION 2 a b AGGREGATE avg"), "ERR syntax error");
    expect_error(tcmd(c, "ZINTERCARD 0 a"), "ERR at least 1 input key is needed for 'zintercard' command");
    expect_error(tcmd(c, "ZINTERCARD 2 a b LIMIT -1"), "ERR LIMIT can't be negative");
    /* sixteen triples of keys: most spread over both shards */
    for (int i = 0; i < 16; i++) {
        expect_int(tcmd(c, "ZADD p%d 1 x 2 y", i), 2);
        expect_int(tcmd(c, "ZADD q%d 4 y 8 z", i), 2);
        expect_int(tcmd(c, "ZUNIONSTORE d%d 2 p%d q%d", i, i, i), 3);
        expect_words(tcmd(c, "ZRANGE d%d 0 -1 WITHSCORES", i), "x 1 y 6 z 8");
        expect_int(tcmd(c, "ZINTERSTORE d%d 2 p%d q%d WEIGHTS 1 2", i, i, i), 1);
        expect_words(tcmd(c, "ZRANGE d%d 0 -1 WITHSCORES", i), "y 10");
        expect_int(tcmd(c, "ZRANGESTORE r%d q%d 0 0", i, i), 1);
        expect_words(tcmd(c, "ZRANGE r%d 0 -1 WITHSCORES", i), "y 4");
        char want[32];
        snprintf(want, sizeof want, "q%d ((z 8))", i);
        expect_words(tcmd(c, "ZMPOP 2 none%d q%d MAX", i, i), want);
        expect_words(tcmd(c, "ZRANGE q%d 0 -1", i), "y");
    }
}

static void test_wrongtype(void **state)
{
    (void)state;
    const char *wt = "WRONGTYPE Operation against a key holding the wrong kind of value";
    expect_ok(tcmd(c, "SET str x"));
    expect_int(tcmd(c, "ZADD z 1 a"), 1);
    expect_error(tcmd(c, "ZADD str 1 a"), wt);
    expect_error(tcmd(c, "ZRANGE str 0 -1"), wt);
    expect_error(tcmd(c, "ZSCORE str a"), wt);
    expect_error(tcmd(c, "ZUNION 2 z str"), wt);
    expect_error(tcmd(c, "ZPOPMIN str"), wt);
    expect_error(tcmd(c, "ZPOPMAX str 0"), wt); /* the count of 0 answered after the type check */
    expect_error(tcmd(c, "GET z"), wt);
    expect_error(tcmd(c, "SADD z a"), wt);
    expect_status(tcmd(c, "TYPE z"), "zset");
}

static void test_random_and_scan(void **state)
{
    (void)state;
    expect_int(tcmd(c, "ZADD z 1 a 2 b 3 c"), 3);
    expect_nil(tcmd(c, "ZRANDMEMBER nokey"));
    expect_words(tcmd(c, "ZRANDMEMBER nokey 3"), "");
    expect_words(tcmd(c, "ZRANDMEMBER z 0"), "");
    struct rval *v = tcmd(c, "ZRANDMEMBER z 5 WITHSCORES");
    assert_int_equal(v->n, 6);
    rval_free(v);
    v = tcmd(c, "ZRANDMEMBER z -7");
    assert_int_equal(v->n, 7);
    rval_free(v);
    v = tcmd(c, "ZRANDMEMBER z 2");
    assert_int_equal(v->n, 2);
    assert_string_not_equal(v->elem[0]->str, v->elem[1]->str);
    rval_free(v);
    expect_error(tcmd(c, "ZRANDMEMBER z 1 WITHSCORE"), "ERR syntax error");
    expect_words(tcmd(c, "ZSCAN z 0 MATCH b*"), "0 (b 2)");
    expect_words(tcmd(c, "ZSCAN nokey 0"), "0 ()");
    /* a skiplist scanned whole by cursor */
    for (int i = 0; i < 300; i++)
        rval_free(tcmd(c, "ZADD big %d m%d", i, i));
    long long cursor = 0, seen = 0;
    do {
        v = tcmd(c, "ZSCAN big %lld COUNT 50", cursor);
        cursor = atoll(v->elem[0]->str);
        seen += (long long)v->elem[1]->n / 2;
        rval_free(v);
    } while (cursor != 0);
    assert_true(seen >= 300);
}

static void test_encoding(void **state)
{
    (void)state;
    expect_int(tcmd(c, "ZADD z 1 a 2 b"), 2);
    expect_bulk(tcmd(c, "OBJECT ENCODING z"), "listpack");
    for (int i = 0; i < 128; i++)
        rval_free(tcmd(c, "ZADD z %d m%d", i, i));
    expect_bulk(tcmd(c, "OBJECT ENCODING z"), "skiplist");
    expect_int(tcmd(c, "ZCARD z"), 130);
    expect_int(tcmd(c, "ZRANK z m100"), 102); /* m0..m99, a and b score below 100 */
    expect_int(tcmd(c, "ZADD long 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 1);
    expect_bulk(tcmd(c, "OBJECT ENCODING long"), "skiplist");
    expect_ok(tcmd(c, "CONFIG SET zset-max-ziplist-entries 2"));
    expect_int(tcmd(c, "ZADD small 1 a 2 b 3 c"), 3);
    expect_bulk(tcmd(c, "OBJECT ENCODING small"), "skiplist");
    expect_ok(tcmd(c, "CONFIG SET zset-max-listpack-entries 128"));
    /* RENAME and COPY keep the value */
    expect_ok(tcmd(c, "RENAME z z2"));
    expect_int(tcmd(c, "COPY z2 z3"), 1);
    expect_int(tcmd(c, "ZREM z2 a"), 1);
    expect_bulk(tcmd(c, "ZSCORE z3 a"), "1");
    expect_int(tcmd(c, "ZCARD z3"), 130);
}

static void test_resp3(void **state)
{
    (void)state;
    rval_free(tcmd(c, "HELLO 3"));
    expect_int(tcmd(c, "ZADD z 1 a 2.5 b"), 2);
    struct rval *v = tcmd(c, "ZSCORE z b");
    assert_int_equal(v->type, R_DOUBLE);
    rval_free(v);
    expect_words(tcmd(c, "ZRANGE z 0 -1 WITHSCORES"), "(a 1) (b 2.5)");
    expect_words(tcmd(c, "ZPOPMIN z"), "a 1");
    expect_int(tcmd(c, "ZADD z 1 a"), 1);
    expect_words(tcmd(c, "ZPOPMIN z 1"), "(a 1)");
    expect_words(tcmd(c, "ZUNION 1 z WITHSCORES"), "(b 2.5)");
}

/* ---- BZPOPMIN BZPOPMAX BZMPOP ---------------------------------------- */

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
    if (v)
        fail_msg("expected to be blocked, got %s", rval_text(v));
}

static void test_blocking_pops(void **state)
{
    (void)state;
    /* at once: the first key with members, in argument order */
    expect_int(tcmd(c, "ZADD {b}2 1 a 2 b 3 c"), 3);
    expect_words(tcmd(c, "BZPOPMIN {b}1 {b}2 0"), "{b}2 a 1");
    expect_words(tcmd(c, "BZPOPMAX {b}1 {b}2 0.5"), "{b}2 c 3");
    expect_words(tcmd(c, "BZMPOP 0 2 {b}1 {b}2 MIN COUNT 5"), "{b}2 ((b 2))");
    expect_int(tcmd(c, "EXISTS {b}2"), 0);
    /* timeouts: nil */
    expect_nil(tcmd(c, "BZPOPMIN {b}1 {b}2 0.05"));
    expect_nil(tcmd(c, "BZMPOP 0.05 1 {b}1 MAX"));
    /* errors, in Redis's order */
    expect_error(tcmd(c, "BZPOPMIN k x"), "ERR timeout is not a float or out of range");
    expect_error(tcmd(c, "BZPOPMAX k -1"), "ERR timeout is negative");
    expect_error(tcmd(c, "BZMPOP x 1 k MIN"), "ERR timeout is not a float or out of range");
    expect_error(tcmd(c, "BZMPOP -1 1 k MIN"), "ERR timeout is negative");
    expect_error(tcmd(c, "BZMPOP 0 0 k MIN"), "ERR numkeys should be greater than 0");
    expect_error(tcmd(c, "BZMPOP 0 1 k LEFT"), "ERR syntax error");
    expect_error(tcmd(c, "BZMPOP 0 1 k MIN COUNT 0"), "ERR count should be greater than 0");
    expect_error(tcmd(c, "BZMPOP -1 0 k MIN"), "ERR numkeys should be greater than 0");
    expect_ok(tcmd(c, "SET {b}s v"));
    expect_error(tcmd(c, "BZPOPMIN {b}1 {b}s 0"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    /* inside MULTI: no blocking, the timeout reply */
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "BZPOPMIN {b}1 0"), "QUEUED");
    expect_status(tcmd(c, "BZMPOP 0 1 {b}1 MIN"), "QUEUED");
    expect_words(tcmd(c, "EXEC"), "nil nil");

    /* blocked, served by a later ZADD, in the order they blocked */
    tconn *w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = tconnect(srv.port);
        send_words(w[i], i == 2 ? "BZPOPMAX {b}q 0" : "BZPOPMIN {b}q 0");
        expect_blocked(w[i]);
    }
    expect_int(tcmd(c, "ZADD {b}q 5 e 1.5 d"), 2);
    expect_words(tread(w[0], 2000), "{b}q d 1.5");
    expect_words(tread(w[1], 2000), "{b}q e 5");
    expect_blocked(w[2]);
    expect_int(tcmd(c, "ZADD {b}q 7 f 8 g"), 2);
    expect_words(tread(w[2], 2000), "{b}q g 8");
    expect_words(tcmd(c, "ZRANGE {b}q 0 -1 WITHSCORES"), "f 7");
    send_words(w[0], "BZMPOP 0 2 {b}m {b}n MAX COUNT 2");
    expect_blocked(w[0]);
    expect_int(tcmd(c, "ZADD {b}n 1 x 2 y 3 z"), 3);
    expect_words(tread(w[0], 2000), "{b}n ((z 3) (y 2))");
    expect_words(tcmd(c, "ZRANGE {b}n 0 -1"), "x");
    for (int i = 0; i < 3; i++)
        tclose(w[i]);

    /* keys on both shards: the first to get members serves, once */
    const char *keys = "za zb zc zd ze zf zg zh";
    for (int round = 0; round < 8; round++) {
        tconn *t = tconnect(srv.port);
        char line[160];
        if (round < 4)
            snprintf(line, sizeof line, "%s %s 0", round % 2 ? "BZPOPMAX" : "BZPOPMIN", keys);
        else
            snprintf(line, sizeof line, "BZMPOP 0 8 %s MIN COUNT 2", keys);
        send_words(t, line);
        expect_blocked(t);
        expect_int(tcmd(c, "ZADD z%c 1 p 2 q 3 r", 'a' + round), 3);
        char want[64];
        if (round < 4)
            snprintf(want, sizeof want, "z%c %s", 'a' + round, round % 2 ? "r 3" : "p 1");
        else
            snprintf(want, sizeof want, "z%c ((p 1) (q 2))", 'a' + round);
        expect_words(tread(t, 2000), want);
        /* the other shard's part took nothing later */
        for (int k = 0; k < 8; k++)
            rval_free(tcmd(c, "ZADD z%c 9 later", 'a' + k));
        usleep(50 * 1000);
        for (int k = 0; k < 8; k++)
            expect_words(tcmd(c, "ZRANGE z%c 0 -1", 'a' + k), k != round ? "later"
                                                          : round >= 4   ? "r later"
                                                          : round % 2    ? "p q later"
                                                                         : "q r later");
        for (int k = 0; k < 8; k++)
            rval_free(tcmd(c, "DEL z%c", 'a' + k));
        expect_status(tcmd(t, "PING"), "PONG");
        tclose(t);
    }
    expect_nil(tcmd(c, "BZPOPMIN %s 0.1", keys));
}

/* RESP3: the score as a double, [key, member, score] flat. */
static void test_blocking_pops_resp3(void **state)
{
    (void)state;
    rval_free(tcmd(c, "HELLO 3"));
    expect_int(tcmd(c, "ZADD k3 1.5 a 2 b"), 2);
    struct rval *v = tcmd(c, "BZPOPMIN k3 0");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 3);
    assert_int_equal(v->elem[2]->type, R_DOUBLE);
    expect_words(v, "k3 a 1.5");
    v = tcmd(c, "BZMPOP 0 1 k3 MAX");
    assert_int_equal(v->elem[1]->elem[0]->elem[1]->type, R_DOUBLE);
    expect_words(v, "k3 ((b 2))");
}

/* CLIENT UNBLOCK, and a client gone while blocked takes nothing: the
 * members stay, with their scores, whether the ZADD comes well after the
 * close or right behind it (then a member served to the closed connection
 * is given back). Keys of both shards. */
static void test_blocking_pops_unblock_and_disconnect(void **state)
{
    (void)state;
    tconn *w = tconnect(srv.port);
    long long id = get_int(tcmd(w, "CLIENT ID"));
    send_words(w, "BZPOPMIN za zb 0");
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld", id), 1);
    expect_nil(tread(w, 2000));
    send_words(w, "BZMPOP 0 2 za zb MAX");
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld ERROR", id), 1);
    expect_error(tread(w, 2000), "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    expect_status(tcmd(w, "PING"), "PONG");
    tclose(w);
    for (int round = 0; round < 20; round++) {
        const char *key = round % 4 < 2 ? "za" : "zb";
        w = tconnect(srv.port);
        id = get_int(tcmd(w, "CLIENT ID"));
        send_words(w, round % 2 ? "BZPOPMIN za zb 0" : "BZMPOP 0 2 za zb MIN COUNT 3");
        expect_blocked(w);
        tclose(w);
        if (round < 2) {
            usleep(100 * 1000);
        } else {
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
        expect_int(tcmd(c, "ZADD %s %d.25 m%d 0 n", key, round, round), 2);
        long long n = 0;
        for (int tries = 0; tries < 100; tries++) {
            n = get_int(tcmd(c, "ZCARD %s", key));
            if (n == 2)
                break;
            usleep(10 * 1000);
        }
        assert_int_equal(n, 2);
        char want[64];
        snprintf(want, sizeof want, "n 0 m%d %d.25", round, round);
        expect_words(tcmd(c, "ZRANGE %s 0 -1 WITHSCORES", key), want);
        expect_int(tcmd(c, "DEL %s", key), 1);
    }
}

/* A master's replica gets what blocked BZPOPMIN/BZPOPMAX/BZMPOP clients
 * took (as ZREM) after the ZADD that served them: both end the same. */
static void test_blocking_pops_replicated(void **state)
{
    (void)state;
    /* ringkv: master and replica with different shard counts */
    bool redis = target_is_redis();
    struct server *m = node_start(redis ? NULL : (const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start(redis ? NULL : (const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 20000);
    static const char *const forms[] = { "BZPOPMIN rza rzb 0", "BZPOPMAX rza rzb 0",
                                         "BZMPOP 0 2 rza rzb MAX COUNT 2", "BZMPOP 0 2 rzb rza MIN" };
    tconn *w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = tconnect(m->port);
        send_words(w[i], forms[i]);
        expect_blocked(w[i]);
    }
    expect_int(tcmd(mc, "ZADD rza 1 a 2 b 3 c 4 d 5 e 6 f"), 6);
    expect_int(tcmd(mc, "ZADD rzb 1 x 2 y"), 2);
    expect_words(tread(w[0], 2000), "rza a 1");
    expect_words(tread(w[1], 2000), "rza f 6");
    expect_words(tread(w[2], 2000), "rza ((e 5) (d 4))");
    expect_words(tread(w[3], 2000), "rza ((b 2))");
    wait_synced(mc, rc, 20000);
    expect_words(tcmd(mc, "ZRANGE rza 0 -1 WITHSCORES"), "c 3");
    expect_words(tcmd(rc, "ZRANGE rza 0 -1 WITHSCORES"), "c 3");
    expect_words(tcmd(rc, "ZRANGE rzb 0 -1 WITHSCORES"), "x 1 y 2");
    for (int i = 0; i < 4; i++)
        tclose(w[i]);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_and_ranks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_ranges_and_pops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_algebra, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_and_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_pops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_pops_resp3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_pops_unblock_and_disconnect, setup, teardown),
        cmocka_unit_test_teardown(test_blocking_pops_replicated, nodes_teardown),
        cmocka_unit_test_setup_teardown(test_resp3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
