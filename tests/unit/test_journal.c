/* journal: RESP encoding of each record and the circular backlog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/resp.h"
#include "replication/journal.h"

static void check_encoding(const struct journal_record *rec, const char *want, size_t want_len)
{
    struct buf b;
    buf_init(&b);
    journal_encode(rec, &b);
    assert_int_equal(b.len, want_len);
    assert_memory_equal(b.data, want, want_len);
    buf_free(&b);
}
#define CHECK(rec, lit) check_encoding((rec), (lit), sizeof(lit) - 1)

static void test_encode_each_record(void **state)
{
    (void)state;
    struct journal_record r = { .op = JOURNAL_SET, .key = SLICE_LIT("k"), .value = SLICE_LIT("hello") };
    CHECK(&r, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n");

    r.expire_at_ms = 1700000000123;
    CHECK(&r, "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n$4\r\nPXAT\r\n$13\r\n1700000000123\r\n");

    r = (struct journal_record){ .op = JOURNAL_SET, .key = SLICE_LIT("e"), .value = { "", 0 } };
    CHECK(&r, "*3\r\n$3\r\nSET\r\n$1\r\ne\r\n$0\r\n\r\n");

    r = (struct journal_record){ .op = JOURNAL_DEL, .key = SLICE_LIT("key:1") };
    CHECK(&r, "*2\r\n$3\r\nDEL\r\n$5\r\nkey:1\r\n");

    r = (struct journal_record){ .op = JOURNAL_EXPIRE, .key = SLICE_LIT("k"), .expire_at_ms = 42 };
    CHECK(&r, "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$2\r\n42\r\n");

    r = (struct journal_record){ .op = JOURNAL_PERSIST, .key = SLICE_LIT("k") };
    CHECK(&r, "*2\r\n$7\r\nPERSIST\r\n$1\r\nk\r\n");

    r = (struct journal_record){ .op = JOURNAL_FLUSH };
    CHECK(&r, "*1\r\n$8\r\nFLUSHALL\r\n");
}

static void test_encode_binary_key(void **state)
{
    (void)state;
    struct journal_record r = { .op = JOURNAL_SET, .key = { "a\0\r\n", 4 }, .value = { "\r\n\0", 3 } };
    CHECK(&r, "*3\r\n$3\r\nSET\r\n$4\r\na\0\r\n\r\n$3\r\n\r\n\0\r\n");
}

/* A command the table journals as itself goes as sent, binary-safe. */
static void test_encode_command(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    struct slice argv[] = { SLICE_LIT("SETBIT"), SLICE_LIT("bm"), SLICE_LIT("7"), SLICE_LIT("1") };
    resp_encode_command(&b, 4, argv);
    const char want[] = "*4\r\n$6\r\nSETBIT\r\n$2\r\nbm\r\n$1\r\n7\r\n$1\r\n1\r\n";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    buf_clear(&b);
    struct slice bin[] = { SLICE_LIT("APPEND"), { "k\r\n", 3 }, { "", 0 } };
    resp_encode_command(&b, 3, bin);
    const char want2[] = "*3\r\n$6\r\nAPPEND\r\n$3\r\nk\r\n\r\n$0\r\n\r\n";
    assert_int_equal(b.len, sizeof(want2) - 1);
    assert_memory_equal(b.data, want2, b.len);
    buf_clear(&b);
    struct slice one[] = { SLICE_LIT("FLUSHALL") };
    resp_encode_command(&b, 1, one);
    assert_int_equal(b.len, 18); /* what one FLUSHALL adds to the offset */
    buf_free(&b);
}

static void test_append_and_read(void **state)
{
    (void)state;
    struct journal *j = journal_create(1024);
    assert_int_equal(journal_offset(j), 0);
    assert_int_equal(journal_first_offset(j), 0);

    struct journal_record del = { .op = JOURNAL_DEL, .key = SLICE_LIT("key:1") };
    const char enc[] = "*2\r\n$3\r\nDEL\r\n$5\r\nkey:1\r\n";
    size_t n = sizeof enc - 1;
    journal_append(j, &del);
    journal_append(j, &del);
    assert_int_equal(journal_offset(j), 2 * n);

    struct buf b;
    buf_init(&b);
    assert_int_equal(journal_read(j, 0, &b), 0);
    assert_int_equal(b.len, 2 * n);
    assert_memory_equal(b.data, enc, n);
    assert_memory_equal(b.data + n, enc, n);

    buf_clear(&b);
    assert_int_equal(journal_read(j, n, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, enc, n);

    /* at the end: nothing to read, but valid */
    buf_clear(&b);
    assert_int_equal(journal_read(j, 2 * n, &b), 0);
    assert_int_equal(b.len, 0);

    /* not yet written */
    assert_int_equal(journal_read(j, 2 * n + 1, &b), -1);

    buf_free(&b);
    journal_destroy(j);
}

static void test_wrap_around(void **state)
{
    (void)state;
    const size_t size = 100;
    struct journal *j = journal_create(size);
    /* Records of distinct contents so a wrong wrap shows. */
    struct buf all;
    buf_init(&all);
    char key[32];
    for (int i = 0; i < 40; i++) {
        int kl = snprintf(key, sizeof key, "k%d", i);
        struct journal_record r = { .op = JOURNAL_DEL, .key = { key, (size_t)kl } };
        journal_append(j, &r);
        journal_encode(&r, &all);
        assert_int_equal(journal_offset(j), all.len);
        uint64_t first = journal_first_offset(j);
        assert_int_equal(first, all.len > size ? all.len - size : 0);

        /* every offset still held reads back the stream's bytes */
        for (uint64_t from = first; from <= all.len; from += 7) {
            struct buf b;
            buf_init(&b);
            assert_int_equal(journal_read(j, from, &b), 0);
            assert_int_equal(b.len, all.len - from);
            if (b.len)
                assert_memory_equal(b.data, all.data + from, b.len);
            buf_free(&b);
        }
        if (first > 0) {
            struct buf b;
            buf_init(&b);
            assert_int_equal(journal_read(j, first - 1, &b), -1);
            assert_int_equal(journal_read(j, 0, &b), -1);
            buf_free(&b);
        }
    }
    assert_true(journal_first_offset(j) > 0);
    buf_free(&all);
    journal_destroy(j);
}

static void test_record_larger_than_backlog(void **state)
{
    (void)state;
    struct journal *j = journal_create(16);
    char val[100];
    memset(val, 'v', sizeof val);
    struct journal_record r = { .op = JOURNAL_SET, .key = SLICE_LIT("k"), .value = { val, sizeof val } };
    struct buf enc;
    buf_init(&enc);
    journal_encode(&r, &enc);
    journal_append(j, &r);
    assert_int_equal(journal_offset(j), enc.len);
    assert_int_equal(journal_first_offset(j), enc.len - 16);
    struct buf b;
    buf_init(&b);
    assert_int_equal(journal_read(j, enc.len - 16, &b), 0);
    assert_int_equal(b.len, 16);
    assert_memory_equal(b.data, enc.data + enc.len - 16, 16);
    buf_free(&b);
    buf_free(&enc);
    journal_destroy(j);
}

static void test_store_feeds_journal(void **state)
{
    (void)state;
    struct journal *j = journal_create(4096);
    struct store *s = store_create(NULL, journal_append, j);
    store_set(s, SLICE_LIT("k"), "v", 1, 0);
    struct entry *e = store_find(s, SLICE_LIT("k"), 1000);
    store_set_expire(s, e, 5000, 1000);
    assert_null(store_find(s, SLICE_LIT("k"), 5000));
    store_flush(s);
    const char want[] =
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$4\r\n5000\r\n"
        "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
        "*1\r\n$8\r\nFLUSHALL\r\n";
    struct buf b;
    buf_init(&b);
    assert_int_equal(journal_read(j, 0, &b), 0);
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, sizeof want - 1);
    buf_free(&b);
    store_destroy(s);
    journal_destroy(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_each_record),
        cmocka_unit_test(test_encode_binary_key),
        cmocka_unit_test(test_encode_command),
        cmocka_unit_test(test_append_and_read),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_record_larger_than_backlog),
        cmocka_unit_test(test_store_feeds_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
