/* set (shards/store/set.c): the intset's widths and its conversions, the
 * listpack, the hashtable's growth and shrinking, HSCAN-like scans across a
 * resize, the flat encoding and copies, and memory back to zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shards/store/set.h"
#include "shards/store/store.h"

static struct slice S(const char *s) { return (struct slice){ s, strlen(s) }; }

static struct slice num(char *buf, const char *prefix, long long i)
{
    int n = snprintf(buf, 40, "%s%lld", prefix, i);
    return (struct slice){ buf, (size_t)n };
}

struct text_list {
    char   all[65536];
    size_t len;
    int    n;
};

static void gather(void *arg, struct slice m)
{
    struct text_list *l = arg;
    memcpy(l->all + l->len, m.ptr, m.len);
    l->len += m.len;
    l->all[l->len++] = ' ';
    l->all[l->len] = 0;
    l->n++;
}

static void test_intset(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    struct set *set = set_create(s, S("5"), 1, &set_default_limits);
    assert_string_equal(set_encoding(set), "intset");
    const char *in[] = { "5", "-3", "100", "70000", "-70000", "5000000000", "-9223372036854775808",
                         "9223372036854775807", "0" };
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        assert_true(set_add(s, &set, S(in[i]), &set_default_limits));
    assert_false(set_add(s, &set, S("70000"), &set_default_limits));
    assert_string_equal(set_encoding(set), "intset");
    struct text_list l = { .len = 0 };
    set_foreach(set, gather, &l);               /* ascending, widened without loss */
    assert_string_equal(l.all, "-9223372036854775808 -70000 -3 0 5 100 70000 5000000000 9223372036854775807 ");
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        assert_true(set_contains(set, S(in[i])));
    assert_false(set_contains(set, S("05")));
    assert_false(set_contains(set, S("+5")));
    assert_false(set_contains(set, S("6")));
    assert_false(set_contains(set, S("99999999999999999999")));
    assert_true(set_remove(s, &set, S("-3")));
    assert_false(set_remove(s, &set, S("-3")));
    assert_false(set_remove(s, &set, S("x")));
    assert_int_equal(set_len(set), 8);
    assert_true(set_add(s, &set, S("05"), &set_default_limits)); /* not canonical: a listpack */
    assert_string_equal(set_encoding(set), "listpack");
    assert_true(set_contains(set, S("05")));
    assert_true(set_contains(set, S("5000000000")));
    set_destroy(s, set);

    const struct set_limits small = { 4, 3, 8 };
    set = set_create(s, S("1"), 1, &small);
    char b[40];
    for (int i = 0; i < 4; i++)
        set_add(s, &set, num(b, "", i), &small);
    assert_string_equal(set_encoding(set), "intset");
    set_add(s, &set, S("4"), &small);             /* past max_intset_entries */
    assert_string_equal(set_encoding(set), "hashtable");
    set_destroy(s, set);
    set = set_create(s, S("1"), 1, &small);
    for (int i = 0; i < 3; i++)
        set_add(s, &set, num(b, "", i), &small);
    set_add(s, &set, S("a"), &small);             /* 3 members already: no listpack */
    assert_string_equal(set_encoding(set), "hashtable");
    set_destroy(s, set);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

static void test_listpack_table(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    const struct set_limits lim = { 512, 4, 5 };
    struct set *set = set_create(s, S("a"), 1, &lim);
    assert_string_equal(set_encoding(set), "listpack");
    assert_true(set_add(s, &set, S("a"), &lim));
    assert_true(set_add(s, &set, S("bb"), &lim));
    assert_false(set_add(s, &set, S("a"), &lim));
    assert_true(set_add(s, &set, S(""), &lim));
    assert_true(set_remove(s, &set, S("bb")));
    assert_true(set_contains(set, S("")));
    assert_true(set_add(s, &set, S("12345"), &lim));
    assert_string_equal(set_encoding(set), "listpack");
    assert_true(set_add(s, &set, S("123456"), &lim)); /* too long */
    assert_string_equal(set_encoding(set), "hashtable");
    assert_int_equal(set_len(set), 4);
    char b[40];
    for (int i = 0; i < 20000; i++)
        assert_true(set_add(s, &set, num(b, "m", i), &lim));
    for (int i = 0; i < 20000; i++)
        assert_true(set_remove(s, &set, num(b, "m", i)));
    assert_int_equal(set_len(set), 4);
    assert_true(set_contains(set, S("123456")));
    set_destroy(s, set);
    assert_int_equal(store_used_memory(s), 0);
    store_destroy(s);
}

static void mark(void *arg, struct slice m)
{
    char *seen = arg, b[40];
    memcpy(b, m.ptr, m.len); /* members are not NUL-terminated */
    b[m.len] = 0;
    seen[atoi(b + 1)] = 1;
}

static void test_scan_encode_dup(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL), *t = store_create(NULL, NULL, NULL);
    struct set *set = set_create(s, S("m0"), 1, &set_default_limits);
    char b[40];
    for (int i = 0; i < 1000; i++)
        set_add(s, &set, num(b, "m", i), &set_default_limits);
    char *seen = calloc(50000, 1);
    uint64_t cursor = 0;
    int calls = 0, added = 1000;
    do {
        cursor = set_scan(set, cursor, 10, mark, seen);
        if (++calls < 40)
            for (int k = 0; k < 500; k++)
                set_add(s, &set, num(b, "m", added++), &set_default_limits);
    } while (cursor != 0);
    for (int i = 0; i < 1000; i++)
        assert_true(seen[i]);
    free(seen);

    struct set *ints = set_create(s, S("1"), 1, &set_default_limits);
    for (int i = -300; i < 300; i += 3)
        set_add(s, &ints, num(b, "", i * 1000), &set_default_limits);
    struct set *all[] = { set, ints };
    for (int k = 0; k < 2; k++) {
        struct buf e;
        buf_init(&e);
        set_encode(all[k], &e);
        struct set *d = set_decode(t, e.data, e.len);
        assert_non_null(d);
        assert_string_equal(set_encoding(d), set_encoding(all[k]));
        assert_int_equal(set_len(d), set_len(all[k]));
        struct set *c = set_dup(s, all[k]);
        assert_int_equal(set_len(c), set_len(all[k]));
        struct text_list *la = calloc(1, sizeof *la), *lc = calloc(1, sizeof *lc);
        if (k == 1) {
            set_foreach(all[k], gather, la);
            set_foreach(d, gather, lc);
            assert_string_equal(la->all, lc->all);
        }
        assert_null(set_decode(t, e.data, e.len - 1));
        free(la);
        free(lc);
        buf_free(&e);
        set_destroy(t, d);
        set_destroy(s, c);
    }
    set_destroy(s, set);
    set_destroy(s, ints);
    assert_int_equal(store_used_memory(s), 0);
    assert_int_equal(store_used_memory(t), 0);
    store_destroy(s);
    store_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intset),
        cmocka_unit_test(test_listpack_table),
        cmocka_unit_test(test_scan_encode_dup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
