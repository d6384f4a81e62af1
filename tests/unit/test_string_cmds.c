/* Unit tests of the string command handlers (shards/cmd_string.c) against a
 * real store, without a server: each command runs on an exec_ctx whose reply
 * goes to a buf, and the exact RESP bytes are compared with what Redis 7
 * answers (checked against redis-server 7.0). */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shards/commands/commands.h"
#include "shards/store/store.h"
#include "core/numbers.h"

#define NOW 1700000000000LL /* a fixed "now", unix ms */
#define MAX_ARGS 16

struct fixture {
    struct store *store;
    struct buf    out;
    int           journaled; /* records seen by the journal hook */
    enum journal_op last_op;
};

static void count_journal(void *arg, const struct journal_record *rec)
{
    struct fixture *f = arg;
    f->journaled++;
    f->last_op = rec->op;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->store = store_create(NULL, count_journal, f);
    buf_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_destroy(f->store);
    buf_free(&f->out);
    free(f);
    return 0;
}

/* Run one command given as argc binary-safe arguments; returns its reply
 * as a NUL-terminated string (valid until the next run). */
static const char *runb(struct fixture *f, int proto, int64_t now, command_fn *fn,
                        int argc, const struct slice *argv)
{
    struct reply r = { &f->out, proto };
    struct exec_ctx ctx = {
        .store = f->store, .reply = &r, .argc = argc, .argv = argv, .now_ms = now,
    };
    buf_clear(&f->out);
    fn(&ctx);
    buf_append(&f->out, "", 1);
    return f->out.data;
}

/* Run a command written as space-separated words (no word contains a space). */
static const char *runp(struct fixture *f, int proto, int64_t now, command_fn *fn, const char *line)
{
    static char copy[4096];
    struct slice argv[MAX_ARGS];
    int argc = 0;

    snprintf(copy, sizeof(copy), "%s", line);
    for (char *save = NULL, *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        assert_true(argc < MAX_ARGS);
        argv[argc++] = (struct slice){ w, strlen(w) };
    }
    return runb(f, proto, now, fn, argc, argv);
}

#define run(fn, line) runp(f, 2, NOW, fn, line)
#define run3(fn, line) runp(f, 3, NOW, fn, line)
#define run_at(now, fn, line) runp(f, 2, now, fn, line)

static int64_t ttl_of(struct fixture *f, const char *key)
{
    struct entry *e = store_peek(f->store, (struct slice){ key, strlen(key) }, NOW);
    assert_non_null(e);
    return entry_expire_at(e);
}

static bool exists(struct fixture *f, const char *key, int64_t now)
{
    return store_peek(f->store, (struct slice){ key, strlen(key) }, now) != NULL;
}

/* ---- numbers ---- */

static struct slice S(const char *s) { return (struct slice){ s, strlen(s) }; }

static void test_parse_ll(void **state)
{
    long long v;
    (void)state;
    assert_true(parse_ll(S("0"), &v) && v == 0);
    assert_true(parse_ll(S("-1"), &v) && v == -1);
    assert_true(parse_ll(S("9223372036854775807"), &v) && v == LLONG_MAX);
    assert_true(parse_ll(S("-9223372036854775808"), &v) && v == LLONG_MIN);
    assert_false(parse_ll(S("9223372036854775808"), &v));
    assert_false(parse_ll(S("-9223372036854775809"), &v));
    assert_false(parse_ll(S("-0"), &v));
    assert_false(parse_ll(S("007"), &v));
    assert_false(parse_ll(S("+1"), &v));
    assert_false(parse_ll(S(" 1"), &v));
    assert_false(parse_ll(S("1 "), &v));
    assert_false(parse_ll(S(""), &v));
    assert_false(parse_ll(S("-"), &v));
    assert_false(parse_ll(S("99999999999999999999999"), &v));
    assert_false(parse_ll((struct slice){ "1\0", 2 }, &v));
}

static void test_parse_ull_ld(void **state)
{
    unsigned long long u;
    long double d;
    (void)state;
    assert_true(parse_ull(S("18446744073709551615"), &u) && u == ULLONG_MAX);
    assert_false(parse_ull(S("18446744073709551616"), &u));
    assert_true(parse_ull(S("00"), &u) && u == 0);
    assert_true(parse_ull(S("+5"), &u) && u == 5);
    assert_true(parse_ull(S("-1"), &u) && u == ULLONG_MAX);
    assert_false(parse_ull(S(" 1"), &u));
    assert_false(parse_ull(S(""), &u));
    assert_false(parse_ull(S("1x"), &u));

    assert_true(parse_ld(S("1.5"), &d) && d == 1.5L);
    assert_true(parse_ld(S("1.5e3"), &d) && d == 1500.0L);
    assert_true(parse_ld(S("inf"), &d) && d > 0 && isinf(d));
    assert_false(parse_ld(S("nan"), &d));
    assert_false(parse_ld(S(" 1.5"), &d));
    assert_false(parse_ld(S("1.5 "), &d));
    assert_false(parse_ld(S(""), &d));
    assert_false(parse_ld(S("abc"), &d));
    assert_false(parse_ld(S("1e999999"), &d));
    assert_false(parse_ld((struct slice){ "1\0", 2 }, &d));
}

static void test_format(void **state)
{
    char buf[5 * 1024];
    (void)state;
    assert_int_equal(format_ll(buf, sizeof(buf), LLONG_MIN), 20);
    assert_string_equal(buf, "-9223372036854775808");
    assert_int_equal(format_ll(buf, sizeof(buf), 0), 1);
    assert_string_equal(buf, "0");
    format_ld(buf, sizeof(buf), 3.0L);
    assert_string_equal(buf, "3");
    format_ld(buf, sizeof(buf), 10.5L);
    assert_string_equal(buf, "10.5");
    format_ld(buf, sizeof(buf), 0.1L + 0.2L);
    assert_string_equal(buf, "0.3");
    format_ld(buf, sizeof(buf), -0.0L);
    assert_string_equal(buf, "0");
    format_ld(buf, sizeof(buf), 5000.0L);
    assert_string_equal(buf, "5000");
    assert_int_equal(format_ld(buf, 4, 12345.0L), 0);
}

/* ---- GET / SET ---- */

static void test_get_set(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_get, "GET k"), "$-1\r\n");
    assert_string_equal(run3(cmd_get, "GET k"), "_\r\n");
    assert_string_equal(run(cmd_set, "SET k v"), "+OK\r\n");
    assert_string_equal(run(cmd_get, "GET k"), "$1\r\nv\r\n");

    /* binary safe */
    struct slice argv[3] = { S("SET"), { "b\0k", 3 }, { "x\0\r\ny", 5 } };
    assert_string_equal(runb(f, 2, NOW, cmd_set, 3, argv), "+OK\r\n");
    struct slice gargv[2] = { S("GET"), { "b\0k", 3 } };
    runb(f, 2, NOW, cmd_get, 2, gargv);
    assert_int_equal(f->out.len, 4 + 5 + 2 + 1); /* reply plus the NUL runb adds */
    assert_memory_equal(f->out.data, "$5\r\nx\0\r\ny\r\n", 12);
}

static void test_set_options(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_set, "SET k v NX"), "+OK\r\n");
    assert_string_equal(run(cmd_set, "SET k w NX"), "$-1\r\n");
    assert_string_equal(run3(cmd_set, "SET k w nx"), "_\r\n");
    assert_string_equal(run(cmd_set, "SET k w XX"), "+OK\r\n");
    assert_string_equal(run(cmd_set, "SET missing w XX"), "$-1\r\n");
    assert_false(exists(f, "missing", NOW));
    assert_string_equal(run(cmd_get, "GET k"), "$1\r\nw\r\n");

    /* GET returns the old value, also when NX/XX stop the write */
    assert_string_equal(run(cmd_set, "SET k x GET"), "$1\r\nw\r\n");
    assert_string_equal(run(cmd_set, "SET k y NX GET"), "$1\r\nx\r\n");
    assert_string_equal(run(cmd_get, "GET k"), "$1\r\nx\r\n");
    assert_string_equal(run(cmd_set, "SET new y GET"), "$-1\r\n");
    assert_string_equal(run(cmd_get, "GET new"), "$1\r\ny\r\n");
    assert_string_equal(run(cmd_set, "SET new2 y XX GET"), "$-1\r\n");
    assert_false(exists(f, "new2", NOW));

    /* expiries become absolute times */
    assert_string_equal(run(cmd_set, "SET k v EX 10"), "+OK\r\n");
    assert_int_equal(ttl_of(f, "k"), NOW + 10000);
    assert_string_equal(run(cmd_set, "SET k v PX 1500"), "+OK\r\n");
    assert_int_equal(ttl_of(f, "k"), NOW + 1500);
    assert_string_equal(run(cmd_set, "SET k v EXAT 1800000000"), "+OK\r\n");
    assert_int_equal(ttl_of(f, "k"), 1800000000000LL);
    assert_string_equal(run(cmd_set, "SET k v PXAT 1800000000123"), "+OK\r\n");
    assert_int_equal(ttl_of(f, "k"), 1800000000123LL);
    assert_string_equal(run(cmd_set, "SET k v ex 10 EX 20"), "+OK\r\n"); /* last wins */
    assert_int_equal(ttl_of(f, "k"), NOW + 20000);
    assert_string_equal(run(cmd_set, "SET k v2 KEEPTTL"), "+OK\r\n");
    assert_int_equal(ttl_of(f, "k"), NOW + 20000);
    assert_string_equal(run(cmd_get, "GET k"), "$2\r\nv2\r\n");
    assert_string_equal(run(cmd_set, "SET k v3"), "+OK\r\n"); /* SET clears the TTL */
    assert_int_equal(ttl_of(f, "k"), 0);
    assert_string_equal(run(cmd_set, "SET k v PXAT 9223372036854775807"), "+OK\r\n");
    assert_string_equal(run(cmd_set, "SET k v EXAT 9223372036854775"), "+OK\r\n");

    /* the key expires as it should */
    assert_string_equal(run(cmd_set, "SET t v PX 100"), "+OK\r\n");
    assert_string_equal(run_at(NOW + 99, cmd_get, "GET t"), "$1\r\nv\r\n");
    assert_string_equal(run_at(NOW + 100, cmd_get, "GET t"), "$-1\r\n");

    /* a past absolute time: OK, and the key is gone */
    assert_string_equal(run(cmd_set, "SET k v EXAT 1"), "+OK\r\n");
    assert_false(exists(f, "k", NOW));
    assert_string_equal(run(cmd_set, "SET k v"), "+OK\r\n");
    assert_string_equal(run(cmd_set, "SET k w PXAT 1 GET"), "$1\r\nv\r\n");
    assert_false(exists(f, "k", NOW));
}

static void test_set_errors(void **state)
{
    struct fixture *f = *state;
    const char *syntax = "-ERR syntax error\r\n";
    const char *badexp = "-ERR invalid expire time in 'set' command\r\n";

    assert_string_equal(run(cmd_set, "SET k v NX XX"), syntax);
    assert_string_equal(run(cmd_set, "SET k v XX NX"), syntax);
    assert_string_equal(run(cmd_set, "SET k v EX 1 PX 1"), syntax);
    assert_string_equal(run(cmd_set, "SET k v EX 1 EXAT 1"), syntax);
    assert_string_equal(run(cmd_set, "SET k v PXAT 1 PX 1"), syntax);
    assert_string_equal(run(cmd_set, "SET k v KEEPTTL EX 1"), syntax);
    assert_string_equal(run(cmd_set, "SET k v EX 1 KEEPTTL"), syntax);
    assert_string_equal(run(cmd_set, "SET k v EX"), syntax);
    assert_string_equal(run(cmd_set, "SET k v PERSIST"), syntax);
    assert_string_equal(run(cmd_set, "SET k v FOO"), syntax);
    /* syntax is checked before the expiry value */
    assert_string_equal(run(cmd_set, "SET k v EX abc FOO"), syntax);

    assert_string_equal(run(cmd_set, "SET k v EX abc"), "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run(cmd_set, "SET k v EX 0"), badexp);
    assert_string_equal(run(cmd_set, "SET k v EX -1"), badexp);
    assert_string_equal(run(cmd_set, "SET k v PX 0"), badexp);
    assert_string_equal(run(cmd_set, "SET k v EXAT 0"), badexp);
    assert_string_equal(run(cmd_set, "SET k v EX 9223372036854775807"), badexp);
    assert_string_equal(run(cmd_set, "SET k v EX 9223372036854775"), badexp); /* now + ms overflows */
    assert_string_equal(run(cmd_set, "SET k v PX 9223372036854775000"), badexp);
    assert_string_equal(run(cmd_set, "SET k v PX 9223372036854775807"), badexp);
    assert_string_equal(run(cmd_set, "SET k v EXAT 9223372036854776"), badexp);
    assert_false(exists(f, "k", NOW));
    /* command name in lower case, whatever was sent */
    assert_string_equal(run(cmd_setex, "SETEX k 0 v"), "-ERR invalid expire time in 'setex' command\r\n");
    assert_string_equal(run(cmd_psetex, "PSETEX k -5 v"), "-ERR invalid expire time in 'psetex' command\r\n");
}

static void test_setnx_setex_getset(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_setnx, "SETNX k v"), ":1\r\n");
    assert_string_equal(run(cmd_setnx, "SETNX k w"), ":0\r\n");
    assert_string_equal(run(cmd_get, "GET k"), "$1\r\nv\r\n");
    assert_string_equal(run(cmd_setex, "SETEX k 5 x"), "+OK\r\n");
    assert_int_equal(ttl_of(f, "k"), NOW + 5000);
    assert_string_equal(run(cmd_psetex, "PSETEX k 5 y"), "+OK\r\n");
    assert_int_equal(ttl_of(f, "k"), NOW + 5);
    assert_string_equal(run(cmd_setex, "SETEX k x y"), "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run(cmd_getset, "GETSET k z"), "$1\r\ny\r\n");
    assert_int_equal(ttl_of(f, "k"), 0); /* GETSET clears the TTL */
    assert_string_equal(run(cmd_getset, "GETSET other z"), "$-1\r\n");
    assert_string_equal(run(cmd_get, "GET other"), "$1\r\nz\r\n");
    assert_string_equal(run(cmd_getdel, "GETDEL other"), "$1\r\nz\r\n");
    assert_string_equal(run(cmd_getdel, "GETDEL other"), "$-1\r\n");
    assert_false(exists(f, "other", NOW));
}

static void test_getex(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_getex, "GETEX k"), "$-1\r\n");
    assert_string_equal(run(cmd_getex, "GETEX k EX -1"), "$-1\r\n"); /* lookup before expiry check */
    run(cmd_set, "SET k v");
    assert_string_equal(run(cmd_getex, "GETEX k"), "$1\r\nv\r\n");
    assert_string_equal(run(cmd_getex, "GETEX k EX 10"), "$1\r\nv\r\n");
    assert_int_equal(ttl_of(f, "k"), NOW + 10000);
    assert_string_equal(run(cmd_getex, "GETEX k PX 10"), "$1\r\nv\r\n");
    assert_int_equal(ttl_of(f, "k"), NOW + 10);
    assert_string_equal(run(cmd_getex, "GETEX k EXAT 1800000000"), "$1\r\nv\r\n");
    assert_int_equal(ttl_of(f, "k"), 1800000000000LL);
    assert_string_equal(run(cmd_getex, "GETEX k PXAT 1800000000001"), "$1\r\nv\r\n");
    assert_int_equal(ttl_of(f, "k"), 1800000000001LL);
    assert_string_equal(run(cmd_getex, "GETEX k PERSIST"), "$1\r\nv\r\n");
    assert_int_equal(ttl_of(f, "k"), 0);
    assert_string_equal(run(cmd_getex, "GETEX k EX 0"), "-ERR invalid expire time in 'getex' command\r\n");
    assert_string_equal(run(cmd_getex, "GETEX k EX 5 PERSIST"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_getex, "GETEX k PERSIST EX 5"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_getex, "GETEX k NX"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_getex, "GETEX k KEEPTTL"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_getex, "GETEX k EX"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_getex, "GETEX k EXAT 1"), "$1\r\nv\r\n"); /* past: deleted */
    assert_false(exists(f, "k", NOW));
}

static void test_mget_mset(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_mset, "MSET a 1 b 2"), "+OK\r\n");
    assert_string_equal(run(cmd_mget, "MGET a x b"), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
    assert_string_equal(run3(cmd_mget, "MGET x"), "*1\r\n_\r\n");
    assert_string_equal(run(cmd_mset, "MSET a 1 b"), "-ERR wrong number of arguments for 'mset' command\r\n");
    assert_string_equal(run(cmd_msetnx, "MSETNX a 1 b"), "-ERR wrong number of arguments for 'msetnx' command\r\n");
    assert_string_equal(run(cmd_msetnx, "MSETNX c 3 a 9"), ":0\r\n");
    assert_false(exists(f, "c", NOW));
    assert_string_equal(run(cmd_msetnx, "MSETNX c 3 d 4"), ":1\r\n");
    assert_string_equal(run(cmd_mget, "MGET c d"), "*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    /* MSET clears TTLs */
    run(cmd_setex, "SETEX a 100 x");
    run(cmd_mset, "MSET a 5");
    assert_int_equal(ttl_of(f, "a"), 0);
}

static void test_append_strlen(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_strlen, "STRLEN k"), ":0\r\n");
    assert_string_equal(run(cmd_append, "APPEND k Hello"), ":5\r\n");
    run(cmd_setex, "SETEX k 100 Hello");
    assert_string_equal(run(cmd_append, "APPEND k _World"), ":11\r\n");
    assert_string_equal(run(cmd_get, "GET k"), "$11\r\nHello_World\r\n");
    assert_int_equal(ttl_of(f, "k"), NOW + 100000); /* APPEND keeps the TTL */
    assert_string_equal(run(cmd_strlen, "STRLEN k"), ":11\r\n");
}

/* ---- counters ---- */

static void test_incr(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_incr, "INCR n"), ":1\r\n");
    assert_string_equal(run(cmd_incrby, "INCRBY n 10"), ":11\r\n");
    assert_string_equal(run(cmd_decr, "DECR n"), ":10\r\n");
    assert_string_equal(run(cmd_decrby, "DECRBY n 20"), ":-10\r\n");
    assert_string_equal(run(cmd_get, "GET n"), "$3\r\n-10\r\n");
    run(cmd_setex, "SETEX n 100 41");
    assert_string_equal(run(cmd_incr, "INCR n"), ":42\r\n");
    assert_int_equal(ttl_of(f, "n"), NOW + 100000); /* INCR keeps the TTL */

    const char *notint = "-ERR value is not an integer or out of range\r\n";
    const char *overflow = "-ERR increment or decrement would overflow\r\n";
    assert_string_equal(run(cmd_incrby, "INCRBY n x"), notint);
    assert_string_equal(run(cmd_decrby, "DECRBY n 1.5"), notint);
    assert_string_equal(run(cmd_decrby, "DECRBY n -9223372036854775808"),
                        "-ERR decrement would overflow\r\n");
    run(cmd_set, "SET s abc");
    assert_string_equal(run(cmd_incr, "INCR s"), notint);
    run(cmd_set, "SET s -0");
    assert_string_equal(run(cmd_incr, "INCR s"), notint);
    run(cmd_set, "SET s 007");
    assert_string_equal(run(cmd_incr, "INCR s"), notint);
    run(cmd_set, "SET s 9223372036854775807");
    assert_string_equal(run(cmd_incr, "INCR s"), overflow);
    assert_string_equal(run(cmd_incrby, "INCRBY s -1"), ":9223372036854775806\r\n");
    run(cmd_set, "SET s -9223372036854775808");
    assert_string_equal(run(cmd_decr, "DECR s"), overflow);
    assert_string_equal(run(cmd_incrby, "INCRBY s -1"), overflow);
    assert_string_equal(run(cmd_get, "GET s"), "$20\r\n-9223372036854775808\r\n");
}

static void test_incrbyfloat(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x 10.5"), "$4\r\n10.5\r\n");
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x 0.1"), "$4\r\n10.6\r\n");
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x -10.6"), "$1\r\n0\r\n");
    run(cmd_set, "SET x 5.0e3");
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x 2.0e2"), "$4\r\n5200\r\n");
    run(cmd_set, "SET x 0.1");
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x 0.2"), "$3\r\n0.3\r\n");
    run(cmd_setex, "SETEX x 100 1");
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x 1.5"), "$3\r\n2.5\r\n");
    assert_int_equal(ttl_of(f, "x"), NOW + 100000);

    const char *notfloat = "-ERR value is not a valid float\r\n";
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x nan"), notfloat);
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x abc"), notfloat);
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x inf"),
                        "-ERR increment would produce NaN or Infinity\r\n");
    run(cmd_set, "SET x inf");
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x 1"),
                        "-ERR increment would produce NaN or Infinity\r\n");
    run(cmd_set, "SET x 1.5x");
    assert_string_equal(run(cmd_incrbyfloat, "INCRBYFLOAT x 1"), notfloat);
}

/* ---- ranges ---- */

static void test_getrange_setrange(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_getrange, "GETRANGE k 0 -1"), "$0\r\n\r\n");
    run(cmd_set, "SET k This_is_a_string");
    assert_string_equal(run(cmd_getrange, "GETRANGE k 0 3"), "$4\r\nThis\r\n");
    assert_string_equal(run(cmd_getrange, "GETRANGE k -3 -1"), "$3\r\ning\r\n");
    assert_string_equal(run(cmd_getrange, "GETRANGE k 0 -1"), "$16\r\nThis_is_a_string\r\n");
    assert_string_equal(run(cmd_getrange, "SUBSTR k 10 100"), "$6\r\nstring\r\n");
    assert_string_equal(run(cmd_getrange, "GETRANGE k -100 1"), "$2\r\nTh\r\n");
    assert_string_equal(run(cmd_getrange, "GETRANGE k -1 -5"), "$0\r\n\r\n");
    assert_string_equal(run(cmd_getrange, "GETRANGE k 5 3"), "$0\r\n\r\n");
    assert_string_equal(run(cmd_getrange, "GETRANGE k 100 200"), "$0\r\n\r\n");
    assert_string_equal(run(cmd_getrange, "GETRANGE k -9223372036854775808 9223372036854775807"),
                        "$16\r\nThis_is_a_string\r\n");
    assert_string_equal(run(cmd_getrange, "GETRANGE k a 1"), "-ERR value is not an integer or out of range\r\n");

    run(cmd_set, "SET k Hello_World");
    assert_string_equal(run(cmd_setrange, "SETRANGE k 6 Redis"), ":11\r\n");
    assert_string_equal(run(cmd_get, "GET k"), "$11\r\nHello_Redis\r\n");
    assert_string_equal(run(cmd_setrange, "SETRANGE z 3 ab"), ":5\r\n");
    runp(f, 2, NOW, cmd_get, "GET z");
    assert_memory_equal(f->out.data, "$5\r\n\0\0\0ab\r\n", 11);
    assert_string_equal(run(cmd_setrange, "SETRANGE k 13 !"), ":14\r\n");
    runp(f, 2, NOW, cmd_get, "GET k");
    assert_memory_equal(f->out.data, "$14\r\nHello_Redis\0\0!\r\n", 21);

    /* empty patch: no key created, length of an existing one */
    struct slice argv[4] = { S("SETRANGE"), S("none"), S("5"), { "", 0 } };
    assert_string_equal(runb(f, 2, NOW, cmd_setrange, 4, argv), ":0\r\n");
    assert_false(exists(f, "none", NOW));
    argv[1] = S("k");
    assert_string_equal(runb(f, 2, NOW, cmd_setrange, 4, argv), ":14\r\n");

    assert_string_equal(run(cmd_setrange, "SETRANGE k -1 x"), "-ERR offset is out of range\r\n");
    assert_string_equal(run(cmd_setrange, "SETRANGE k x x"), "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run(cmd_setrange, "SETRANGE k 536870912 x"),
                        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    assert_string_equal(run(cmd_setrange, "SETRANGE big 536870912 x"),
                        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    assert_false(exists(f, "big", NOW));
}

/* ---- bits ---- */

static void test_setbit_getbit(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_setbit, "SETBIT b 7 1"), ":0\r\n");
    assert_string_equal(run(cmd_setbit, "SETBIT b 7 1"), ":1\r\n");
    assert_string_equal(run(cmd_get, "GET b"), "$1\r\n\x01\r\n");
    assert_string_equal(run(cmd_getbit, "GETBIT b 7"), ":1\r\n");
    assert_string_equal(run(cmd_getbit, "GETBIT b 6"), ":0\r\n");
    assert_string_equal(run(cmd_getbit, "GETBIT b 100"), ":0\r\n");
    assert_string_equal(run(cmd_getbit, "GETBIT nob 100"), ":0\r\n");
    assert_string_equal(run(cmd_setbit, "SETBIT b 17 1"), ":0\r\n");
    runp(f, 2, NOW, cmd_get, "GET b");
    assert_memory_equal(f->out.data, "$3\r\n\x01\x00\x40\r\n", 9);

    /* setting a bit to the value it has changes nothing, journals nothing */
    int before = f->journaled;
    assert_string_equal(run(cmd_setbit, "SETBIT b 17 1"), ":1\r\n");
    assert_int_equal(f->journaled, before);
    assert_string_equal(run(cmd_setbit, "SETBIT b 17 0"), ":1\r\n");
    assert_int_equal(f->journaled, before + 1);

    const char *badoff = "-ERR bit offset is not an integer or out of range\r\n";
    const char *badbit = "-ERR bit is not an integer or out of range\r\n";
    assert_string_equal(run(cmd_setbit, "SETBIT b -1 1"), badoff);
    assert_string_equal(run(cmd_setbit, "SETBIT b x 1"), badoff);
    assert_string_equal(run(cmd_setbit, "SETBIT b 4294967296 1"), badoff);
    assert_string_equal(run(cmd_getbit, "GETBIT b 4294967296"), badoff);
    assert_string_equal(run(cmd_setbit, "SETBIT b 1 2"), badbit);
    assert_string_equal(run(cmd_setbit, "SETBIT b 1 -1"), badbit);
    assert_string_equal(run(cmd_setbit, "SETBIT b 1 x"), badbit);
}

static void test_bitcount(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_bitcount, "BITCOUNT none"), ":0\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT none a b"), ":0\r\n");
    run(cmd_set, "SET k foobar");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k"), ":26\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 0 0"), ":4\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 1 1"), ":6\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 1 1 BYTE"), ":6\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 5 30 BIT"), ":17\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 0 -1 bit"), ":26\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k -8 -1 BIT"), ":4\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 1 1 BIT"), ":1\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k -1 -2"), ":0\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k -1 -2 foo"), ":0\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 3 2"), ":0\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 1"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k 1 1 bitt"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k a b"), "-ERR value is not an integer or out of range\r\n");
}

static void test_bitpos(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(run(cmd_bitpos, "BITPOS none 1"), ":-1\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS none 0"), ":0\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS none 1 a"), ":-1\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS none 2"), "-ERR The bit argument must be 1 or 0.\r\n");

    struct slice argv[3] = { S("SET"), S("k"), { "\xff\xf0\x00", 3 } };
    runb(f, 2, NOW, cmd_set, 3, argv);
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0"), ":12\r\n");
    argv[2] = (struct slice){ "\x00\xff\xf0", 3 };
    runb(f, 2, NOW, cmd_set, 3, argv);
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 0"), ":8\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 2"), ":16\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 2 -1 BYTE"), ":16\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 7 15 BIT"), ":8\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 7 -3 BIT"), ":8\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 0 7 BIT"), ":-1\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0 8 11 BIT"), ":-1\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0 9 -1 BIT"), ":20\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0 1 1"), ":-1\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0 9 BIT"), "-ERR value is not an integer or out of range\r\n");

    argv[2] = (struct slice){ "\xff\xff\xff", 3 };
    runb(f, 2, NOW, cmd_set, 3, argv);
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0"), ":24\r\n");       /* padding */
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0 1"), ":24\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0 0 -1"), ":-1\r\n");  /* explicit end */
    assert_string_equal(run(cmd_bitpos, "BITPOS k 0 3 20 BIT"), ":-1\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 5 3"), ":-1\r\n");

    /* a long run exercises the word-at-a-time path */
    char big[200];
    memset(big, 0, sizeof(big));
    big[150] = 0x10;
    argv[2] = (struct slice){ big, sizeof(big) };
    runb(f, 2, NOW, cmd_set, 3, argv);
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1"), ":1203\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 3 1202 BIT"), ":-1\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 3 1203 BIT"), ":1203\r\n");
    assert_string_equal(run(cmd_bitcount, "BITCOUNT k"), ":1\r\n");

    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 0 1 2 3"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 0 1 bite"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k 1 a"), "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run(cmd_bitpos, "BITPOS k x"), "-ERR value is not an integer or out of range\r\n");
}

static void test_bitop(void **state)
{
    struct fixture *f = *state;
    run(cmd_set, "SET a foobar");
    run(cmd_set, "SET b abcdef");
    assert_string_equal(run(cmd_bitop, "BITOP AND d a b"), ":6\r\n");
    assert_string_equal(run(cmd_get, "GET d"), "$6\r\n`bc`ab\r\n");
    assert_string_equal(run(cmd_bitop, "BITOP OR d a b"), ":6\r\n");
    assert_string_equal(run(cmd_get, "GET d"), "$6\r\ngoofev\r\n");
    assert_string_equal(run(cmd_bitop, "BITOP XOR d a a"), ":6\r\n");
    runp(f, 2, NOW, cmd_get, "GET d");
    assert_memory_equal(f->out.data, "$6\r\n\0\0\0\0\0\0\r\n", 12);
    run(cmd_set, "SET s \x0f");
    assert_string_equal(run(cmd_bitop, "BITOP not d s"), ":1\r\n");
    assert_string_equal(run(cmd_get, "GET d"), "$1\r\n\xf0\r\n");
    /* shorter and missing sources read as zeros; the destination may be a source */
    assert_string_equal(run(cmd_bitop, "BITOP OR a a s none"), ":6\r\n");
    assert_string_equal(run(cmd_get, "GET a"), "$6\r\nooobar\r\n");
    run(cmd_set, "SET a foobar");
    assert_string_equal(run(cmd_bitop, "BITOP AND d a s"), ":6\r\n");
    runp(f, 2, NOW, cmd_get, "GET d");
    assert_memory_equal(f->out.data, "$6\r\n\x06\0\0\0\0\0\r\n", 12);
    /* all sources empty: the destination is deleted */
    assert_string_equal(run(cmd_bitop, "BITOP OR d none none2"), ":0\r\n");
    assert_false(exists(f, "d", NOW));

    assert_string_equal(run(cmd_bitop, "BITOP foo d a"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_bitop, "BITOP NOT d a b"),
                        "-ERR BITOP NOT must be called with a single source key.\r\n");
}

/* ---- LCS ---- */

static void test_lcs(void **state)
{
    struct fixture *f = *state;
    run(cmd_mset, "MSET key1 ohmytext key2 mynewtext");
    assert_string_equal(run(cmd_lcs, "LCS key1 key2"), "$6\r\nmytext\r\n");
    assert_string_equal(run(cmd_lcs, "LCS key1 key2 LEN"), ":6\r\n");
    assert_string_equal(run(cmd_lcs, "LCS key1 key2 IDX"),
                        "*4\r\n$7\r\nmatches\r\n*2\r\n"
                        "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
                        "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n"
                        "$3\r\nlen\r\n:6\r\n");
    assert_string_equal(run(cmd_lcs, "LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
                        "*4\r\n$7\r\nmatches\r\n*1\r\n"
                        "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
                        "$3\r\nlen\r\n:6\r\n");
    assert_string_equal(run3(cmd_lcs, "LCS key1 key2 IDX WITHMATCHLEN"),
                        "%2\r\n$7\r\nmatches\r\n*2\r\n"
                        "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
                        "*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n"
                        "$3\r\nlen\r\n:6\r\n");
    assert_string_equal(run(cmd_lcs, "LCS key1 none"), "$0\r\n\r\n");
    assert_string_equal(run(cmd_lcs, "LCS none none2 IDX"),
                        "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n");
    assert_string_equal(run(cmd_lcs, "LCS key1 key2 IDX LEN"),
                        "-ERR If you want both the length and indexes, please just use IDX.\r\n");
    assert_string_equal(run(cmd_lcs, "LCS key1 key2 MINMATCHLEN"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_lcs, "LCS key1 key2 FOO"), "-ERR syntax error\r\n");
    assert_string_equal(run(cmd_lcs, "LCS key1 key2 MINMATCHLEN x"),
                        "-ERR value is not an integer or out of range\r\n");
}

/* INCRBYFLOAT states its journal form (replication's journal_as): the
 * result as SET key value KEEPTTL, and nothing when it fails. */
static char stated[128];
static int stated_calls;

static void capture_form(struct exec_ctx *ctx, int argc, const struct slice *argv)
{
    (void)ctx;
    size_t n = 0;
    stated_calls++;
    for (int i = 0; i < argc; i++)
        n += (size_t)snprintf(stated + n, sizeof(stated) - n, "%s%.*s", i ? " " : "", (int)argv[i].len,
                              argv[i].ptr);
}

static void test_incrbyfloat_journal_form(void **state)
{
    struct fixture *f = *state;
    struct slice argv[] = { SLICE_LIT("INCRBYFLOAT"), SLICE_LIT("f"), SLICE_LIT("1.25") };
    struct reply r = { &f->out, 2 };
    struct exec_ctx ctx = {
        .store = f->store, .reply = &r, .argc = 3, .argv = argv, .now_ms = NOW,
        .journal_as = capture_form,
    };
    stated_calls = 0;
    cmd_incrbyfloat(&ctx);
    cmd_incrbyfloat(&ctx);
    assert_int_equal(stated_calls, 2);
    assert_string_equal(stated, "SET f 2.5 KEEPTTL");
    struct slice bad[] = { SLICE_LIT("INCRBYFLOAT"), SLICE_LIT("f"), SLICE_LIT("abc") };
    ctx.argv = bad;
    cmd_incrbyfloat(&ctx);
    assert_int_equal(stated_calls, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ll),
        cmocka_unit_test(test_parse_ull_ld),
        cmocka_unit_test(test_format),
        cmocka_unit_test_setup_teardown(test_get_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setnx_setex_getset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mget_mset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_strlen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrbyfloat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrbyfloat_journal_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getrange_setrange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setbit_getbit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitcount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitpos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lcs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
