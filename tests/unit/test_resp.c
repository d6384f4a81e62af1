/* Unit tests of the RESP request parser and resp_value_len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <mimalloc.h>

#include "core/buf.h"
#include "core/resp.h"

/* ---- a small connection simulator ---------------------------------------
 * Bytes of `data` arrive in deliveries; after each delivery the pending bytes
 * (starting at the current command) are copied to a fresh allocation, so the
 * buffer moves between every call (ASan catches a parser that keeps
 * pointers). Every outcome is written to `log` in a canonical text form:
 * a command as "argc:[len]bytes[len]bytes|", an empty command as "E|", an
 * error as "X:text|" (after which the stream stops). */

struct sim {
    struct resp_parser p;
    struct resp_limits lim;
    struct buf pending;
    struct buf log;
    size_t calls;
    bool failed;
};

static void sim_init(struct sim *s, const struct resp_limits *lim)
{
    resp_parser_init(&s->p);
    s->lim = lim ? *lim : RESP_LIMITS_DEFAULT;
    buf_init(&s->pending);
    buf_init(&s->log);
    s->calls = 0;
    s->failed = false;
}

static void sim_deinit(struct sim *s)
{
    resp_parser_deinit(&s->p);
    buf_free(&s->pending);
    buf_free(&s->log);
}

static void log_command(struct buf *log, const struct resp_parser *p)
{
    buf_printf(log, "%zu:", p->argc);
    for (size_t i = 0; i < p->argc; i++) {
        buf_printf(log, "[%zu]", p->argv[i].len);
        buf_append(log, p->argv[i].ptr, p->argv[i].len);
    }
    buf_append(log, "|", 1);
}

static void sim_deliver(struct sim *s, const char *bytes, size_t n)
{
    if (s->failed)
        return;
    buf_append(&s->pending, bytes, n);
    for (;;) {
        size_t len = s->pending.len;
        char *moved = mi_malloc(len ? len : 1);
        if (len)
            memcpy(moved, s->pending.data, len);
        size_t consumed = 12345;
        const char *err = NULL;
        enum resp_status st = resp_parse(&s->p, moved, len, &s->lim, &consumed, &err);
        s->calls++;
        assert_true(consumed <= len);
        switch (st) {
        case RESP_DONE:
            assert_true(consumed > 0);
            for (size_t i = 0; i < s->p.argc; i++) {
                /* arguments point into this call's buffer or the scratch */
                const char *a = s->p.argv[i].ptr;
                bool in_buf = a >= moved && a + s->p.argv[i].len <= moved + consumed;
                bool in_scratch = s->p.scratch.data && a >= s->p.scratch.data &&
                                  a + s->p.argv[i].len <= s->p.scratch.data + s->p.scratch.len;
                assert_true(in_buf || in_scratch);
            }
            log_command(&s->log, &s->p);
            break;
        case RESP_EMPTY:
            assert_true(consumed > 0);
            buf_append_str(&s->log, "E|");
            break;
        case RESP_MORE:
            assert_int_equal(consumed, 0);
            mi_free(moved);
            return;
        case RESP_ERROR:
            assert_non_null(err);
            buf_printf(&s->log, "X:%s|", err);
            s->failed = true;
            mi_free(moved);
            return;
        }
        mi_free(moved);
        buf_consume(&s->pending, consumed);
    }
}

/* Log of feeding data[0..n) with the given delivery points (increasing). */
static char *run_cuts(const char *data, size_t n, const size_t *cuts, size_t ncuts,
                      const struct resp_limits *lim, size_t *calls)
{
    struct sim s;
    sim_init(&s, lim);
    size_t at = 0;
    for (size_t i = 0; i < ncuts; i++) {
        sim_deliver(&s, data + at, cuts[i] - at);
        at = cuts[i];
    }
    sim_deliver(&s, data + at, n - at);
    buf_append(&s.log, "", 0);
    char *out = malloc(s.log.len + 1);
    memcpy(out, s.log.data ? s.log.data : "", s.log.len);
    out[s.log.len] = 0;
    if (calls)
        *calls = s.calls;
    sim_deinit(&s);
    return out;
}

static char *run_whole(const char *data, size_t n, const struct resp_limits *lim)
{
    return run_cuts(data, n, NULL, 0, lim, NULL);
}

static char *run_pieces(const char *data, size_t n, size_t piece, const struct resp_limits *lim,
                        size_t *calls)
{
    size_t ncuts = n / piece + 1;
    size_t *cuts = malloc(ncuts * sizeof(*cuts));
    size_t k = 0;
    for (size_t at = piece; at < n; at += piece)
        cuts[k++] = at;
    char *out = run_cuts(data, n, cuts, k, lim, calls);
    free(cuts);
    return out;
}

#define S(lit) (lit), (sizeof(lit) - 1)

static void expect_log(const char *data, size_t n, const char *want)
{
    char *got = run_whole(data, n, NULL);
    assert_string_equal(got, want);
    free(got);
}

/* ---- pipelines at every split point --------------------------------------- */

static const char pipeline[] =
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$7\r\na\0b\r\nc\n\r\n"  /* binary value */
    "PING\r\n"                                               /* inline */
    "\r\n"                                                   /* empty inline */
    "set \"k y\" 'v\\'x' \"\\x41\\n\\\"q\"\n"                /* quoting, LF only */
    "*0\r\n"                                                 /* empty multibulk */
    "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"                         /* empty bulk */
    "*-1\r\n"                                                /* null multibulk */
    "  get   plain\t word  \r\n"                             /* blanks */
    "*1\r\n$4\r\n\r\n\r\n\r\n";                              /* CRLF inside a bulk */

static const char pipeline_log[] =
    "3:[3]SET[3]key[7]a\0b\r\nc\n|"
    "1:[4]PING|"
    "E|"
    "4:[3]set[3]k y[3]v'x[4]A\n\"q|"
    "E|"
    "2:[4]ECHO[0]|"
    "E|"
    "3:[3]get[5]plain[4]word|"
    "1:[4]\r\n\r\n|";

static void check_log(const char *got, size_t got_len)
{
    assert_int_equal(got_len, sizeof(pipeline_log) - 1);
    assert_memory_equal(got, pipeline_log, sizeof(pipeline_log) - 1);
}

/* the logs hold NULs: compare by length through the simulator's buffer */
static size_t log_len_of(const char *data, size_t n, const size_t *cuts, size_t ncuts, char **out)
{
    struct sim s;
    sim_init(&s, NULL);
    size_t at = 0;
    for (size_t i = 0; i < ncuts; i++) {
        sim_deliver(&s, data + at, cuts[i] - at);
        at = cuts[i];
    }
    sim_deliver(&s, data + at, n - at);
    *out = malloc(s.log.len + 1);
    memcpy(*out, s.log.data, s.log.len);
    size_t len = s.log.len;
    sim_deinit(&s);
    return len;
}

static void test_pipeline_whole(void **state)
{
    char *got;
    size_t n = log_len_of(pipeline, sizeof(pipeline) - 1, NULL, 0, &got);
    check_log(got, n);
    free(got);
}

static void test_pipeline_every_split(void **state)
{
    size_t total = sizeof(pipeline) - 1;
    for (size_t k = 0; k <= total; k++) {
        char *got;
        size_t n = log_len_of(pipeline, total, &k, 1, &got);
        check_log(got, n);
        free(got);
    }
}

static void test_pipeline_every_two_splits(void **state)
{
    size_t total = sizeof(pipeline) - 1;
    for (size_t a = 0; a <= total; a += 3) {
        for (size_t b = a; b <= total; b++) {
            size_t cuts[2] = { a, b };
            char *got;
            size_t n = log_len_of(pipeline, total, cuts, 2, &got);
            check_log(got, n);
            free(got);
        }
    }
}

static void test_pipeline_byte_by_byte(void **state)
{
    size_t total = sizeof(pipeline) - 1;
    size_t *cuts = malloc(total * sizeof(*cuts));
    for (size_t i = 0; i < total; i++)
        cuts[i] = i + 1;
    char *got;
    size_t n = log_len_of(pipeline, total, cuts, total, &got);
    check_log(got, n);
    free(got);
    free(cuts);
}

/* ---- direct API behaviour ------------------------------------------------- */

static void test_more_then_done_same_parser(void **state)
{
    struct resp_parser p;
    struct resp_limits lim = RESP_LIMITS_DEFAULT;
    resp_parser_init(&p);
    const char *cmd = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
    size_t consumed = 99;
    const char *err = NULL;
    assert_int_equal(resp_parse(&p, cmd, 0, &lim, &consumed, &err), RESP_MORE);
    assert_int_equal(consumed, 0);
    assert_int_equal(resp_parse(&p, cmd, 10, &lim, &consumed, &err), RESP_MORE);
    assert_int_equal(consumed, 0);
    assert_int_equal(resp_parse(&p, cmd, strlen(cmd), &lim, &consumed, &err), RESP_DONE);
    assert_int_equal(consumed, 20);
    assert_int_equal(p.argc, 2);
    assert_memory_equal(p.argv[0].ptr, "GET", 3);
    assert_ptr_equal(p.argv[1].ptr, cmd + 17);
    assert_int_equal(resp_parse(&p, cmd + 20, strlen(cmd) - 20, &lim, &consumed, &err), RESP_DONE);
    assert_int_equal(p.argc, 1);
    assert_int_equal(consumed, 14);
    assert_true(slice_eq_nocase(p.argv[0], "ping"));
    resp_parser_deinit(&p);
}

static void test_redis_quirks(void **state)
{
    /* Redis skips the two bytes after a bulk without looking at them */
    expect_log(S("*1\r\n$3\r\nPINGXX"), "1:[3]PIN|");
    /* "*-5" is an empty command like "*-1"; "$-1" is not a bulk */
    expect_log(S("*-5\r\nPING\r\n"), "E|1:[4]PING|");
    /* \v is skipped between words but is part of an unquoted word */
    expect_log(S("\va\vb c\r\n"), "2:[3]a\vb[1]c|");
    /* a NUL ends an inline line (Redis splits a C string) */
    expect_log(S("echo a\0b c\r\necho d\r\n"), "2:[4]echo[1]a|2:[4]echo[1]d|");
    /* a quote inside a word starts a quoted part of the same word */
    expect_log(S("echo foo\"bar baz\"\r\n"), "2:[4]echo[10]foobar baz|");
    expect_log(S("echo \"\\x41\\x4g\\q\\n\"\r\n"), "2:[4]echo[6]Ax4gq\n|");
    expect_log(S("echo 'a\\'b\\n'\r\n"), "2:[4]echo[5]a'b\\n|");
    expect_log(S("echo \"\" ''\r\n"), "3:[4]echo[0][0]|");
    expect_log(S("echo \"a\"\tb\r\n"), "3:[4]echo[1]a[1]b|");
    expect_log(S("echo \"\\t\\r\\b\\a\\\\\\\"\"\n"), "2:[4]echo[6]\t\r\b\a\\\"|");
    /* a lone CR in the middle of an inline line separates words */
    expect_log(S("echo a\rb\n"), "3:[4]echo[1]a[1]b|");
    /* blank lines of spaces are empty commands */
    expect_log(S("   \r\n\nping\n"), "E|E|1:[4]ping|");
}

/* ---- errors --------------------------------------------------------------- */

static void test_error_texts(void **state)
{
    expect_log(S("*x\r\n"), "X:ERR Protocol error: invalid multibulk length|");
    expect_log(S("*01\r\n"), "X:ERR Protocol error: invalid multibulk length|");
    expect_log(S("*+1\r\n"), "X:ERR Protocol error: invalid multibulk length|");
    expect_log(S("*-0\r\n"), "X:ERR Protocol error: invalid multibulk length|");
    expect_log(S("*\r\n"), "X:ERR Protocol error: invalid multibulk length|");
    expect_log(S("*99999999999999999999999\r\n"), "X:ERR Protocol error: invalid multibulk length|");
    expect_log(S("*2147483648\r\n"), "X:ERR Protocol error: invalid multibulk length|");
    expect_log(S("*1\r\n$-1\r\n"), "X:ERR Protocol error: invalid bulk length|");
    expect_log(S("*1\r\n$+3\r\nfoo\r\n"), "X:ERR Protocol error: invalid bulk length|");
    expect_log(S("*1\r\n$\r\n"), "X:ERR Protocol error: invalid bulk length|");
    expect_log(S("*1\r\n$3x\r\nfoo\r\n"), "X:ERR Protocol error: invalid bulk length|");
    expect_log(S("*1\r\n:3\r\n"), "X:ERR Protocol error: expected '$', got ':'|");
    /* the offending byte is shown, CR/LF as a space (one-line error) */
    expect_log(S("*1\r\n\n3\r\nfoo\r\n"), "X:ERR Protocol error: expected '$', got ' '|");
    expect_log(S("*2\r\n$1\r\na\r\nX"), "X:ERR Protocol error: expected '$', got 'X'|");
    expect_log(S("set a \"b\"c\r\n"), "X:ERR Protocol error: unbalanced quotes in request|");
    expect_log(S("set a 'b'c\r\n"), "X:ERR Protocol error: unbalanced quotes in request|");
    expect_log(S("set a \"b\r\n"), "X:ERR Protocol error: unbalanced quotes in request|");
    expect_log(S("set a 'b\r\n"), "X:ERR Protocol error: unbalanced quotes in request|");
    expect_log(S("set a \"b\\\"\r\n"), "X:ERR Protocol error: unbalanced quotes in request|");
    expect_log(S("set a \"b\0\"\r\n"), "X:ERR Protocol error: unbalanced quotes in request|");
    /* commands before the error still come out */
    expect_log(S("PING\r\n*1\r\n$x\r\n"), "1:[4]PING|X:ERR Protocol error: invalid bulk length|");
}

static void test_limits(void **state)
{
    struct resp_limits lim = { .max_bulk_len = 5, .max_args = 3, .max_inline_len = 16 };
    char *got;

    got = run_whole(S("*3\r\n$5\r\nhello\r\n$0\r\n\r\n$1\r\nx\r\n"), &lim);
    assert_string_equal(got, "3:[5]hello[0][1]x|");
    free(got);
    got = run_whole(S("*4\r\n"), &lim);
    assert_string_equal(got, "X:ERR Protocol error: invalid multibulk length|");
    free(got);
    got = run_whole(S("*1\r\n$6\r\n"), &lim);
    assert_string_equal(got, "X:ERR Protocol error: invalid bulk length|");
    free(got);

    /* inline: without a newline, more than max_inline_len bytes is an error */
    got = run_whole(S("aaaaaaaaaaaaaaaa"), &lim); /* 16: still waiting */
    assert_string_equal(got, "");
    free(got);
    got = run_whole(S("aaaaaaaaaaaaaaaaa"), &lim); /* 17 */
    assert_string_equal(got, "X:ERR Protocol error: too big inline request|");
    free(got);
    /* ... also when it arrives in pieces */
    got = run_pieces(S("aaaaaaaaaaaaaaaaaaaaaaaaa"), 3, &lim, NULL);
    assert_string_equal(got, "X:ERR Protocol error: too big inline request|");
    free(got);
    /* a longer line with its newline present is accepted, as in Redis */
    got = run_whole(S("aaaaaaaaaa bbbbbbbbbbbbbbbbbbbb\r\n"), &lim);
    assert_string_equal(got, "2:[10]aaaaaaaaaa[20]bbbbbbbbbbbbbbbbbbbb|");
    free(got);

    got = run_whole(S("*00000000000000001"), &lim);
    assert_string_equal(got, "X:ERR Protocol error: too big mbulk count string|");
    free(got);
    got = run_pieces(S("*1\r\n$0000000000000000001"), 2, &lim, NULL);
    assert_string_equal(got, "X:ERR Protocol error: too big bulk count string|");
    free(got);

    struct resp_limits def = RESP_LIMITS_DEFAULT;
    got = run_whole(S("*1048577\r\n"), &def);
    assert_string_equal(got, "X:ERR Protocol error: invalid multibulk length|");
    free(got);
    got = run_whole(S("*1\r\n$536870913\r\n"), &def);
    assert_string_equal(got, "X:ERR Protocol error: invalid bulk length|");
    free(got);
    /* a large count waits for its arguments without allocating them all */
    got = run_whole(S("*1048576\r\n$1\r\na\r\n"), &def);
    assert_string_equal(got, "");
    free(got);
}

/* ---- big commands --------------------------------------------------------- */

static void test_thousand_args_in_small_pieces(void **state)
{
    struct buf cmd, want;
    buf_init(&cmd);
    buf_init(&want);
    buf_printf(&cmd, "*1000\r\n");
    buf_printf(&want, "1000:");
    for (int i = 0; i < 1000; i++) {
        char arg[32];
        int n = snprintf(arg, sizeof(arg), "arg\r\n%d", i);
        if (i % 10 == 0)
            arg[0] = 0; /* binary: a NUL byte inside */
        buf_printf(&cmd, "$%d\r\n", n);
        buf_append(&cmd, arg, (size_t)n);
        buf_append(&cmd, "\r\n", 2);
        buf_printf(&want, "[%d]", n);
        buf_append(&want, arg, (size_t)n);
    }
    buf_append(&want, "|", 1);
    buf_append(&cmd, "PING\r\n", 6);
    buf_append(&want, "1:[4]PING|", 10);

    struct sim s;
    sim_init(&s, NULL);
    for (size_t at = 0; at < cmd.len; at += 7)
        sim_deliver(&s, cmd.data + at, cmd.len - at < 7 ? cmd.len - at : 7);
    assert_int_equal(s.log.len, want.len);
    assert_memory_equal(s.log.data, want.data, want.len);
    /* one call per delivery plus one per command found: no hidden rescans */
    assert_true(s.calls <= cmd.len / 7 + 1 + 2);
    sim_deinit(&s);
    buf_free(&cmd);
    buf_free(&want);
}

/* Work stays linear: a command of 200000 arguments and a 4 MB bulk fed in
 * small steps over one growing buffer finish far below the time a parser
 * rescanning from the start would need (tens of billions of byte visits). */
static void test_parse_work_is_linear(void **state)
{
    struct buf cmd;
    buf_init(&cmd);
    size_t nargs = 200000;
    buf_printf(&cmd, "*%zu\r\n", nargs);
    for (size_t i = 0; i < nargs; i++)
        buf_append(&cmd, "$1\r\nx\r\n", 7);
    size_t big_at = cmd.len;
    size_t big = 4 << 20;
    buf_printf(&cmd, "*1\r\n$%zu\r\n", big);
    memset(buf_reserve(&cmd, big + 2), 'v', big);
    cmd.len += big;
    buf_append(&cmd, "\r\n", 2);

    struct resp_parser p;
    struct resp_limits lim = RESP_LIMITS_DEFAULT;
    resp_parser_init(&p);
    /* No clock here: a parser that rescanned the command from its start on
     * every call would do ~10^10 steps on this input and run into the test's
     * timeout, while a linear one takes milliseconds. */
    size_t consumed;
    const char *err;
    enum resp_status st = RESP_MORE;
    size_t n;
    for (n = 5; n <= big_at; n += 5) {
        st = resp_parse(&p, cmd.data, n < big_at ? n : big_at, &lim, &consumed, &err);
        if (st != RESP_MORE)
            break;
    }
    if (st == RESP_MORE)
        st = resp_parse(&p, cmd.data, big_at, &lim, &consumed, &err);
    assert_int_equal(st, RESP_DONE);
    assert_int_equal(p.argc, nargs);
    assert_int_equal(consumed, big_at);
    const char *rest = cmd.data + big_at;
    size_t rest_len = cmd.len - big_at;
    st = RESP_MORE;
    for (n = 1; n <= rest_len && st == RESP_MORE; n += (n < 64 ? 1 : 4096))
        st = resp_parse(&p, rest, n, &lim, &consumed, &err);
    if (st == RESP_MORE)
        st = resp_parse(&p, rest, rest_len, &lim, &consumed, &err);
    assert_int_equal(st, RESP_DONE);
    assert_int_equal(p.argc, 1);
    assert_int_equal(p.argv[0].len, big);
    /* the next command does not keep the 200000-entry arrays */
    assert_int_equal(resp_parse(&p, "PING\r\n", 6, &lim, &consumed, &err), RESP_DONE);
    assert_true(p.cap <= 1024);
    resp_parser_deinit(&p);
    buf_free(&cmd);
}

/* ---- resp_value_len ------------------------------------------------------- */

static void check_value(const char *v, size_t n)
{
    assert_int_equal(resp_value_len(v, n), n);
    /* every strict prefix is incomplete */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(resp_value_len(v, k), 0);
    /* bytes after the value are not counted */
    char *more = malloc(n + 7);
    memcpy(more, v, n);
    memcpy(more + n, "+next\r\n", 7);
    assert_int_equal(resp_value_len(more, n + 7), n);
    free(more);
}

#define CHECK_VALUE(lit) check_value((lit), sizeof(lit) - 1)

static void test_value_len_types(void **state)
{
    CHECK_VALUE("+OK\r\n");
    CHECK_VALUE("+\r\n");
    CHECK_VALUE("-ERR no\r\n");
    CHECK_VALUE(":-42\r\n");
    CHECK_VALUE("$5\r\nhe\r\no\r\n");
    CHECK_VALUE("$0\r\n\r\n");
    CHECK_VALUE("$-1\r\n");
    CHECK_VALUE("*-1\r\n");
    CHECK_VALUE("*0\r\n");
    CHECK_VALUE("*2\r\n$1\r\na\r\n:1\r\n");
    CHECK_VALUE("%2\r\n+a\r\n:1\r\n+b\r\n_\r\n");
    CHECK_VALUE("~2\r\n+a\r\n+b\r\n");
    CHECK_VALUE(",1.5\r\n");
    CHECK_VALUE(",inf\r\n");
    CHECK_VALUE("#t\r\n");
    CHECK_VALUE("#f\r\n");
    CHECK_VALUE("_\r\n");
    CHECK_VALUE("=8\r\ntxt:abcd\r\n");
    CHECK_VALUE("(3492890328409238509324850943850943825024385\r\n");
    CHECK_VALUE("!10\r\nERR a\r\nbcd\r\n");
    CHECK_VALUE(">3\r\n+message\r\n+ch\r\n$1\r\nx\r\n");
    CHECK_VALUE("|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n"); /* attribute + its value */
    CHECK_VALUE("*3\r\n*2\r\n%1\r\n+k\r\n~1\r\n#t\r\n*0\r\n_\r\n$3\r\n\0\r\n\r\n");
}

static void test_value_len_malformed(void **state)
{
    assert_int_equal(resp_value_len(S("?x\r\n")), 0);
    assert_int_equal(resp_value_len(S("+OK\rX")), 0);
    assert_int_equal(resp_value_len(S("$3\r\nabcXX")), 0);   /* bulk not followed by CRLF */
    assert_int_equal(resp_value_len(S("$-2\r\n")), 0);
    assert_int_equal(resp_value_len(S("$x\r\n")), 0);
    assert_int_equal(resp_value_len(S("*-2\r\n")), 0);
    assert_int_equal(resp_value_len(S("%-1\r\n")), 0);
    assert_int_equal(resp_value_len(S("*99999999999999\r\n:1\r\n")), 0);
    assert_int_equal(resp_value_len(S("*1\r\n?\r\n")), 0);
    assert_int_equal(resp_value_len(S("#x\r\n")), 0);
    assert_int_equal(resp_value_len(S("_x\r\n")), 0);
    assert_int_equal(resp_value_len(NULL, 0), 0);

    /* nesting: RESP_MAX_DEPTH levels of arrays are fine, one more is not */
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < RESP_MAX_DEPTH; i++)
        buf_append(&b, "*1\r\n", 4);
    buf_append(&b, ":1\r\n", 4);
    assert_int_equal(resp_value_len(b.data, b.len), b.len);
    buf_clear(&b);
    for (int i = 0; i < RESP_MAX_DEPTH + 1; i++)
        buf_append(&b, "*1\r\n", 4);
    buf_append(&b, ":1\r\n", 4);
    assert_int_equal(resp_value_len(b.data, b.len), 0);
    /* a deep stream does not overflow the stack */
    buf_clear(&b);
    for (int i = 0; i < 100000; i++)
        buf_append(&b, "*1\r\n", 4);
    assert_int_equal(resp_value_len(b.data, b.len), 0);
    buf_free(&b);
}

/* A replication stream is parsed strictly: what Redis skips unchecked
 * (the two bytes after a bulk or a header) must be CRLF, and there are no
 * inline commands. */
static void test_strict_stream(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p);
    struct resp_limits lax = RESP_LIMITS_DEFAULT, strict = RESP_LIMITS_DEFAULT;
    strict.strict = true;
    size_t consumed;
    const char *err;
    const char bad_tail[] = "*1\r\n$4\r\nPINGxx";
    assert_int_equal(resp_parse(&p, bad_tail, sizeof(bad_tail) - 1, &lax, &consumed, &err), RESP_DONE);
    assert_int_equal(resp_parse(&p, bad_tail, sizeof(bad_tail) - 1, &strict, &consumed, &err), RESP_ERROR);
    assert_string_equal(err, "ERR Protocol error: expected CRLF");
    const char bad_header[] = "*1\rx$4\r\nPING\r\n";
    assert_int_equal(resp_parse(&p, bad_header, sizeof(bad_header) - 1, &strict, &consumed, &err), RESP_ERROR);
    const char inline_cmd[] = "PING\r\n";
    assert_int_equal(resp_parse(&p, inline_cmd, sizeof(inline_cmd) - 1, &strict, &consumed, &err), RESP_ERROR);
    assert_string_equal(err, "ERR Protocol error: expected '*'");
    const char good[] = "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n";
    assert_int_equal(resp_parse(&p, good, sizeof(good) - 1, &strict, &consumed, &err), RESP_DONE);
    assert_int_equal(consumed, sizeof(good) - 1);
    assert_int_equal(p.argc, 2);
    resp_parser_deinit(&p);
}

/* The value reader: each read checks type and wholeness, moves past the value
 * on success and stays put on failure. */
static void test_reader_walks_values(void **state)
{
    (void)state;
    const char *in = ":42\r\n$5\r\nhello\r\n+OK\r\n$-1\r\n-ERR no\r\n*2\r\n:1\r\n$1\r\nx\r\n_\r\n";
    struct resp_reader r;
    resp_reader_init(&r, in, strlen(in));
    long long v;
    struct slice s;
    assert_false(resp_read_string(&r, &s)); /* an integer is not a string */
    assert_true(resp_read_int(&r, &v));
    assert_int_equal(v, 42);
    assert_false(resp_read_int(&r, &v));
    assert_true(resp_read_string(&r, &s));
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "hello", 5);
    assert_true(resp_read_string(&r, &s));
    assert_int_equal(s.len, 2);
    assert_memory_equal(s.ptr, "OK", 2);
    assert_true(resp_read_string(&r, &s));
    assert_null(s.ptr);
    assert_false(resp_read_string(&r, &s));
    assert_true(resp_read_error(&r, &s));
    assert_int_equal(s.len, 6);
    assert_memory_equal(s.ptr, "ERR no", 6);
    assert_int_equal(resp_peek(&r), '*');
    assert_true(resp_read_aggregate(&r, &v));
    assert_int_equal(v, 2);
    assert_true(resp_read_int(&r, &v));
    assert_int_equal(v, 1);
    assert_true(resp_read_value(&r, &s));
    assert_int_equal(s.len, 7);
    assert_true(resp_read_aggregate(&r, &v)); /* RESP3 null counts as a null array */
    assert_int_equal(v, -1);
    assert_int_equal(resp_peek(&r), 0);
    assert_false(resp_read_value(&r, &s));
}

static void test_reader_refuses_partial(void **state)
{
    (void)state;
    const char *cases[] = { ":12", "$5\r\nhel", "*2\r\n:1\r\n", "$3\r\nabcd\r\n" };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp_reader r;
        resp_reader_init(&r, cases[i], strlen(cases[i]));
        long long v;
        struct slice s;
        const char *start = r.p;
        assert_false(resp_read_int(&r, &v) || resp_read_string(&r, &s) || resp_read_aggregate(&r, &v) ||
                     resp_read_value(&r, &s));
        assert_ptr_equal(r.p, start);
    }
    struct resp_reader r;
    long long v;
    resp_reader_init(&r, ":1x\r\n", 5);
    assert_false(resp_read_int(&r, &v)); /* whole, but not a number */
    assert_int_equal(resp_peek(&r), ':');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_stream),
        cmocka_unit_test(test_pipeline_whole),
        cmocka_unit_test(test_pipeline_every_split),
        cmocka_unit_test(test_pipeline_every_two_splits),
        cmocka_unit_test(test_pipeline_byte_by_byte),
        cmocka_unit_test(test_more_then_done_same_parser),
        cmocka_unit_test(test_redis_quirks),
        cmocka_unit_test(test_error_texts),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_thousand_args_in_small_pieces),
        cmocka_unit_test(test_parse_work_is_linear),
        cmocka_unit_test(test_value_len_types),
        cmocka_unit_test(test_value_len_malformed),
        cmocka_unit_test(test_reader_walks_values),
        cmocka_unit_test(test_reader_refuses_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
