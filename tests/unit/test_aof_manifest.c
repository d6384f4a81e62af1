/* aof_manifest: Redis 7's manifest lines read and written back (the text
 * redis-server 7.0 writes), names quoted, and the files it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "shards/aof_manifest.h"

static int parse(const char *text, struct aof_manifest *m, char *err, size_t errlen)
{
    return aof_manifest_parse(text, strlen(text), m, err, errlen);
}

static void test_redis_text_round_trip(void **state)
{
    (void)state;
    /* as redis-server 7.0.15 writes it after a rewrite or two */
    const char *text = "file appendonly.aof.3.base.rdb seq 3 type b\n"
                       "file appendonly.aof.2.incr.aof seq 2 type h\n"
                       "file appendonly.aof.3.incr.aof seq 3 type i\n"
                       "file appendonly.aof.4.incr.aof seq 4 type i\n";
    struct aof_manifest m;
    char err[128];
    assert_int_equal(parse(text, &m, err, sizeof err), 0);
    assert_string_equal(m.base.name, "appendonly.aof.3.base.rdb");
    assert_int_equal(m.base.seq, 3);
    assert_int_equal(m.nincr, 2); /* the history line is not loaded */
    assert_string_equal(m.incr[0].name, "appendonly.aof.3.incr.aof");
    assert_int_equal(m.incr[1].seq, 4);
    struct buf out;
    buf_init(&out);
    aof_manifest_format(&m, &out);
    buf_append(&out, "", 1);
    assert_string_equal(out.data, "file appendonly.aof.3.base.rdb seq 3 type b\n"
                                  "file appendonly.aof.3.incr.aof seq 3 type i\n"
                                  "file appendonly.aof.4.incr.aof seq 4 type i\n");
    buf_free(&out);
}

static void test_quoted_names_and_order(void **state)
{
    (void)state;
    struct aof_manifest m;
    char err[128];
    /* keys in any order, CRLF, comments, a name with a space quoted */
    assert_int_equal(parse("# comment\r\ntype b seq 1 file \"my aof.1.base.rdb\"\r\nfile x.1.incr.aof type i seq 1\n",
                           &m, err, sizeof err), 0);
    assert_string_equal(m.base.name, "my aof.1.base.rdb");
    assert_int_equal(m.nincr, 1);
    struct buf out;
    buf_init(&out);
    aof_manifest_format(&m, &out);
    buf_append(&out, "", 1);
    assert_string_equal(out.data, "file \"my aof.1.base.rdb\" seq 1 type b\nfile x.1.incr.aof seq 1 type i\n");
    struct aof_manifest back;
    assert_int_equal(parse(out.data, &back, err, sizeof err), 0);
    assert_string_equal(back.base.name, "my aof.1.base.rdb");
    buf_free(&out);
}

static void test_refused(void **state)
{
    (void)state;
    struct aof_manifest m;
    char err[128];
    const char *bad[] = {
        "file a seq 1\n",                                     /* no type */
        "file a seq x type i\n",                              /* seq not a number */
        "file a seq 1 type z\n",                              /* unknown type */
        "file \"a seq 1 type i\n",                            /* unbalanced quote */
        "file ../a seq 1 type i\n",                           /* a path */
        "file a seq 1 type b\nfile b seq 2 type b\n",         /* two bases */
        "file a seq 2 type i\nfile b seq 1 type i\n",         /* incr files out of order */
        "",                                                   /* empty */
        "file a seq 1 type h\n",                              /* history only */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (parse(bad[i], &m, err, sizeof err) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_text_round_trip),
        cmocka_unit_test(test_quoted_names_and_order),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
