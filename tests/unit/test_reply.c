/* Unit tests of the reply encoders (byte-exact, RESP2 and RESP3) and of the
 * merges of per-shard replies. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/command.h"
#include "core/reply.h"
#include "core/resp.h"

struct out {
    struct buf  b;
    struct reply r;
};

static void out_init(struct out *o, int proto)
{
    buf_init(&o->b);
    o->r.out = &o->b;
    o->r.proto = proto;
}

static void expect_bytes(struct out *o, const char *want, size_t n)
{
    assert_int_equal(o->b.len, n);
    if (n)
        assert_memory_equal(o->b.data, want, n);
    /* everything written is one well-formed value */
    if (n)
        assert_int_equal(resp_value_len(o->b.data, o->b.len), n);
    buf_clear(&o->b);
}

#define EXPECT(o, lit) expect_bytes((o), (lit), sizeof(lit) - 1)

/* Run `stmt` (using r) in RESP2 and RESP3 and compare. */
#define BOTH(stmt, want2, want3)                 \
    do {                                         \
        struct out o2, o3;                       \
        out_init(&o2, 2);                        \
        out_init(&o3, 3);                        \
        { struct reply *r = &o2.r; stmt; }       \
        { struct reply *r = &o3.r; stmt; }       \
        EXPECT(&o2, want2);                      \
        EXPECT(&o3, want3);                      \
        buf_free(&o2.b);                         \
        buf_free(&o3.b);                         \
    } while (0)

static void test_simple_and_errors(void **state)
{
    BOTH(reply_ok(r), "+OK\r\n", "+OK\r\n");
    BOTH(reply_simple(r, "PONG"), "+PONG\r\n", "+PONG\r\n");
    BOTH(reply_simple(r, ""), "+\r\n", "+\r\n");
    BOTH(reply_error(r, ERR_SYNTAX), "-ERR syntax error\r\n", "-ERR syntax error\r\n");
    BOTH(reply_error(r, "ERR a\r\nb"), "-ERR a  b\r\n", "-ERR a  b\r\n");
    BOTH(reply_errorf(r, ERR_ARITY, "get"), "-ERR wrong number of arguments for 'get' command\r\n",
         "-ERR wrong number of arguments for 'get' command\r\n");
    BOTH(reply_errorf(r, "ERR unknown command '%s'", "x\ny"), "-ERR unknown command 'x y'\r\n",
         "-ERR unknown command 'x y'\r\n");

    /* a formatted error longer than any stack buffer */
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    struct out o;
    out_init(&o, 2);
    reply_errorf(&o.r, "ERR %s!", big);
    assert_int_equal(o.b.len, 1 + 4 + 999 + 1 + 2);
    assert_memory_equal(o.b.data, "-ERR zzz", 8);
    assert_memory_equal(o.b.data + o.b.len - 4, "z!\r\n", 4);
    buf_free(&o.b);
}

static void test_integers(void **state)
{
    BOTH(reply_int(r, 0), ":0\r\n", ":0\r\n");
    BOTH(reply_int(r, 7), ":7\r\n", ":7\r\n");
    BOTH(reply_int(r, 10), ":10\r\n", ":10\r\n");
    BOTH(reply_int(r, -1), ":-1\r\n", ":-1\r\n");
    BOTH(reply_int(r, 1234567890123LL), ":1234567890123\r\n", ":1234567890123\r\n");
    BOTH(reply_int(r, LLONG_MAX), ":9223372036854775807\r\n", ":9223372036854775807\r\n");
    BOTH(reply_int(r, LLONG_MIN), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n");
    BOTH(reply_bulk_ll(r, -42), "$3\r\n-42\r\n", "$3\r\n-42\r\n");
    BOTH(reply_bulk_ll(r, LLONG_MIN), "$20\r\n-9223372036854775808\r\n", "$20\r\n-9223372036854775808\r\n");
    BOTH(reply_bool(r, true), ":1\r\n", "#t\r\n");
    BOTH(reply_bool(r, false), ":0\r\n", "#f\r\n");

    /* every value round-trips through the hand-written digits */
    struct out o;
    out_init(&o, 2);
    char want[40];
    long long vals[] = { 9, 99, 100, 101, 999, 1000, 65535, 1LL << 40, -(1LL << 53) - 1 };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int n = snprintf(want, sizeof(want), ":%lld\r\n", vals[i]);
        reply_int(&o.r, vals[i]);
        expect_bytes(&o, want, (size_t)n);
    }
    buf_free(&o.b);
}

static void test_bulks(void **state)
{
    BOTH(reply_bulk(r, "hello", 5), "$5\r\nhello\r\n", "$5\r\nhello\r\n");
    BOTH(reply_bulk(r, "", 0), "$0\r\n\r\n", "$0\r\n\r\n");
    BOTH(reply_bulk(r, NULL, 0), "$0\r\n\r\n", "$0\r\n\r\n");
    BOTH(reply_bulk(r, "a\0\r\nb", 5), "$5\r\na\0\r\nb\r\n", "$5\r\na\0\r\nb\r\n");
    BOTH(reply_bulk_str(r, "0123456789"), "$10\r\n0123456789\r\n", "$10\r\n0123456789\r\n");
    BOTH(reply_null(r), "$-1\r\n", "_\r\n");
    BOTH(reply_null_array(r), "*-1\r\n", "_\r\n");
    BOTH(reply_verbatim(r, "ab\r\n", 4), "$4\r\nab\r\n\r\n", "=8\r\ntxt:ab\r\n\r\n");

    /* a large bulk grows the buffer */
    size_t n = 100000;
    char *big = malloc(n);
    memset(big, 'q', n);
    struct out o;
    out_init(&o, 2);
    reply_bulk(&o.r, big, n);
    assert_int_equal(o.b.len, 1 + 6 + 2 + n + 2);
    assert_memory_equal(o.b.data, "$100000\r\nqq", 11);
    assert_int_equal(resp_value_len(o.b.data, o.b.len), o.b.len);
    buf_free(&o.b);
    free(big);
}

static void test_aggregates(void **state)
{
    BOTH(reply_array(r, 0), "*0\r\n", "*0\r\n");
    BOTH({ reply_array(r, 2); reply_int(r, 1); reply_null(r); },
         "*2\r\n:1\r\n$-1\r\n", "*2\r\n:1\r\n_\r\n");
    BOTH({ reply_map(r, 1); reply_bulk_str(r, "k"); reply_int(r, 3); },
         "*2\r\n$1\r\nk\r\n:3\r\n", "%1\r\n$1\r\nk\r\n:3\r\n");
    BOTH({ reply_set(r, 2); reply_bulk_str(r, "a"); reply_bulk_str(r, "b"); },
         "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "~2\r\n$1\r\na\r\n$1\r\nb\r\n");
    /* a header alone is not a complete value: compare the bytes only */
    struct out o;
    out_init(&o, 3);
    reply_array(&o.r, 12345);
    reply_map(&o.r, 12345);
    o.r.proto = 2;
    reply_map(&o.r, 12345);
    assert_int_equal(o.b.len, 24);
    assert_memory_equal(o.b.data, "*12345\r\n%12345\r\n*24690\r\n", 24);
    buf_free(&o.b);
}

static void test_doubles(void **state)
{
    BOTH(reply_double(r, 1.5), "$3\r\n1.5\r\n", ",1.5\r\n");
    BOTH(reply_double(r, 0.1), "$3\r\n0.1\r\n", ",0.1\r\n");
    BOTH(reply_double(r, 3.0), "$1\r\n3\r\n", ",3\r\n");
    BOTH(reply_double(r, -2.25), "$5\r\n-2.25\r\n", ",-2.25\r\n");
    BOTH(reply_double(r, 1e300), "$6\r\n1e+300\r\n", ",1e+300\r\n");
    BOTH(reply_double(r, 1.0 / 3.0), "$18\r\n0.3333333333333333\r\n", ",0.3333333333333333\r\n");
    BOTH(reply_double(r, 0.1 + 0.2), "$19\r\n0.30000000000000004\r\n", ",0.30000000000000004\r\n");
    BOTH(reply_double(r, INFINITY), "$3\r\ninf\r\n", ",inf\r\n");
    BOTH(reply_double(r, -INFINITY), "$4\r\n-inf\r\n", ",-inf\r\n");
    BOTH(reply_double(r, NAN), "$3\r\nnan\r\n", ",nan\r\n");
}

/* ---- merges ---------------------------------------------------------------- */

struct parts {
    struct buf b[8];
    int        n;
};

static void parts_set(struct parts *p, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    p->n = n;
    for (int i = 0; i < n; i++) {
        buf_init(&p->b[i]);
        const char *s = va_arg(ap, const char *);
        buf_append_str(&p->b[i], s);
    }
    va_end(ap);
}

static void parts_free(struct parts *p)
{
    for (int i = 0; i < p->n; i++)
        buf_free(&p->b[i]);
}

static void run_merge(merge_fn *fn, int proto, struct parts *p, const int *keys, int nkeys,
                      const char *want)
{
    struct out o;
    out_init(&o, proto);
    struct merge_input in = { .parts = p->b, .nparts = p->n, .part_of_key = keys, .nkeys = nkeys };
    fn(&o.r, &in);
    buf_append(&o.b, "", 0);
    assert_int_equal(o.b.len, strlen(want));
    assert_memory_equal(o.b.data, want, o.b.len);
    buf_free(&o.b);
}

/* buf_move: into an empty buffer the blocks swap (no copy, dst keeps src's
 * block); into a non-empty one the bytes are appended; src ends empty. The
 * spare helpers keep the bigger returned block, within the limit. */
static void test_buf_move_and_spare(void **state)
{
    struct buf dst, src;
    buf_init(&dst);
    buf_init(&src);
    buf_append(&src, "hello", 5);
    char *block = src.data;
    buf_move(&dst, &src);
    assert_ptr_equal(dst.data, block);
    assert_int_equal(dst.len, 5);
    assert_int_equal(src.len, 0);
    buf_append(&src, " world", 6);
    buf_move(&dst, &src);
    assert_int_equal(dst.len, 11);
    assert_memory_equal(dst.data, "hello world", 11);
    assert_int_equal(src.len, 0);

    struct buf spare, out;
    buf_init(&spare);
    buf_keep_spare(&spare, &dst, 1 << 20);
    assert_ptr_not_equal(spare.data, NULL);
    assert_int_equal(spare.len, 0);
    assert_ptr_equal(dst.data, NULL);       /* got the (empty) old spare */
    size_t cap = spare.cap;
    buf_append(&src, "x", 1);
    buf_hand_over(&src, &out, &spare);
    assert_int_equal(out.len, 1);
    assert_int_equal(src.cap, cap);          /* the next fill starts in the spare */
    assert_ptr_equal(spare.data, NULL);
    buf_init(&dst);
    buf_reserve(&dst, 4096);
    buf_keep_spare(&spare, &dst, 1024);      /* over the limit: not kept */
    assert_ptr_equal(spare.data, NULL);
    buf_free(&dst);
    buf_free(&src);
    buf_free(&out);
}

static void test_merge_sum_int(void **state)
{
    struct parts p;
    parts_set(&p, 3, ":1\r\n", ":0\r\n", ":41\r\n");
    run_merge(merge_sum_int, 2, &p, NULL, 0, ":42\r\n");
    parts_free(&p);
    parts_set(&p, 3, ":1\r\n", "-ERR first\r\n", "-ERR second\r\n");
    run_merge(merge_sum_int, 2, &p, NULL, 0, "-ERR first\r\n");
    parts_free(&p);
    parts_set(&p, 2, ":1\r\n", "+OK\r\n");
    run_merge(merge_sum_int, 2, &p, NULL, 0, "-ERR internal error: malformed reply from a shard\r\n");
    parts_free(&p);
    parts_set(&p, 2, ":9223372036854775807\r\n", ":1\r\n");
    run_merge(merge_sum_int, 3, &p, NULL, 0, "-ERR internal error: malformed reply from a shard\r\n");
    parts_free(&p);
    parts_set(&p, 0);
    run_merge(merge_sum_int, 2, &p, NULL, 0, ":0\r\n");
}

static void test_merge_first_ok(void **state)
{
    struct parts p;
    parts_set(&p, 3, "+OK\r\n", "+OK\r\n", "+OK\r\n");
    run_merge(merge_first_ok, 2, &p, NULL, 0, "+OK\r\n");
    parts_free(&p);
    parts_set(&p, 3, "+OK\r\n", "-OOM command not allowed\r\n", "-ERR later\r\n");
    run_merge(merge_first_ok, 3, &p, NULL, 0, "-OOM command not allowed\r\n");
    parts_free(&p);
    parts_set(&p, 2, "+OK\r\n", "!7\r\nERR bad\r\n");
    run_merge(merge_first_ok, 3, &p, NULL, 0, "!7\r\nERR bad\r\n");
    parts_free(&p);
}

static void test_merge_by_key(void **state)
{
    struct parts p;
    /* MGET a b c d: a,c on shard 0; b on shard 2; d on shard 1 */
    parts_set(&p, 3, "*2\r\n$2\r\nva\r\n$-1\r\n", "*1\r\n$2\r\nvd\r\n", "*1\r\n$2\r\nvb\r\n");
    int keys[] = { 0, 2, 0, 1 };
    run_merge(merge_by_key, 2, &p, keys, 4, "*4\r\n$2\r\nva\r\n$2\r\nvb\r\n$-1\r\n$2\r\nvd\r\n");
    parts_free(&p);

    parts_set(&p, 2, "*1\r\n_\r\n", "*1\r\n$1\r\nx\r\n");
    int keys3[] = { 1, 0 };
    run_merge(merge_by_key, 3, &p, keys3, 2, "*2\r\n$1\r\nx\r\n_\r\n");
    parts_free(&p);

    parts_set(&p, 2, "*1\r\n$1\r\nx\r\n", "-WRONGTYPE no\r\n");
    run_merge(merge_by_key, 2, &p, keys3, 2, "-WRONGTYPE no\r\n");
    parts_free(&p);

    /* a part with fewer values than keys mapped to it */
    parts_set(&p, 2, "*0\r\n", "*1\r\n$1\r\nx\r\n");
    run_merge(merge_by_key, 2, &p, keys3, 2, "-ERR internal error: malformed reply from a shard\r\n");
    parts_free(&p);
    /* a key mapped to a part that does not exist */
    parts_set(&p, 1, "*1\r\n$1\r\nx\r\n");
    int bad[] = { 1 };
    run_merge(merge_by_key, 2, &p, bad, 1, "-ERR internal error: malformed reply from a shard\r\n");
    parts_free(&p);
}

static void test_merge_concat_arrays(void **state)
{
    struct parts p;
    parts_set(&p, 3, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "*0\r\n", "*1\r\n$1\r\nc\r\n");
    run_merge(merge_concat_arrays, 2, &p, NULL, 0, "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    parts_free(&p);
    parts_set(&p, 2, "~1\r\n$1\r\na\r\n", "~2\r\n$1\r\nb\r\n*1\r\n:1\r\n");
    run_merge(merge_concat_arrays, 3, &p, NULL, 0, "~3\r\n$1\r\na\r\n$1\r\nb\r\n*1\r\n:1\r\n");
    parts_free(&p);
    parts_set(&p, 2, "*1\r\n$1\r\na\r\n", "-ERR busy\r\n");
    run_merge(merge_concat_arrays, 2, &p, NULL, 0, "-ERR busy\r\n");
    parts_free(&p);
    parts_set(&p, 2, "*2\r\n$1\r\na\r\n", "*0\r\n");
    run_merge(merge_concat_arrays, 2, &p, NULL, 0, "-ERR internal error: malformed reply from a shard\r\n");
    parts_free(&p);
    parts_set(&p, 0);
    run_merge(merge_concat_arrays, 2, &p, NULL, 0, "*0\r\n");
}

static void test_merge_first_non_null(void **state)
{
    struct parts p;
    parts_set(&p, 4, "$-1\r\n", "*-1\r\n", "$1\r\nk\r\n", "_\r\n");
    for (int i = 0; i < 20; i++)
        run_merge(merge_first_non_null, 2, &p, NULL, 0, "$1\r\nk\r\n");
    parts_free(&p);

    parts_set(&p, 3, "$-1\r\n", "$-1\r\n", "$-1\r\n");
    run_merge(merge_first_non_null, 2, &p, NULL, 0, "$-1\r\n");
    parts_free(&p);
    parts_set(&p, 2, "_\r\n", "_\r\n");
    run_merge(merge_first_non_null, 3, &p, NULL, 0, "_\r\n");
    parts_free(&p);
    parts_set(&p, 2, "$1\r\na\r\n", "-ERR x\r\n");
    run_merge(merge_first_non_null, 2, &p, NULL, 0, "-ERR x\r\n");
    parts_free(&p);

    /* the start is random: over many runs, every non-null part is chosen */
    parts_set(&p, 3, "$1\r\na\r\n", "$-1\r\n", "$1\r\nc\r\n");
    int seen_a = 0, seen_c = 0;
    srand(1);
    for (int i = 0; i < 200; i++) {
        struct out o;
        out_init(&o, 2);
        struct merge_input in = { .parts = p.b, .nparts = p.n };
        merge_first_non_null(&o.r, &in);
        assert_int_equal(o.b.len, 7);
        if (o.b.data[4] == 'a')
            seen_a++;
        else if (o.b.data[4] == 'c')
            seen_c++;
        buf_free(&o.b);
    }
    assert_int_equal(seen_a + seen_c, 200);
    assert_true(seen_a > 0 && seen_c > 0);
    parts_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_move_and_spare),
        cmocka_unit_test(test_simple_and_errors),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_bulks),
        cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_merge_sum_int),
        cmocka_unit_test(test_merge_first_ok),
        cmocka_unit_test(test_merge_by_key),
        cmocka_unit_test(test_merge_concat_arrays),
        cmocka_unit_test(test_merge_first_non_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
