/* slot: Redis Cluster's key → slot mapping, checked against Redis's values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "shards/store/slot.h"

static unsigned slot_of(const char *k) { return key_slot(k, strlen(k)); }

static void test_crc16_check_value(void **state)
{
    (void)state;
    assert_int_equal(crc16_xmodem("123456789", 9), 0x31C3);
    assert_int_equal(crc16_xmodem("", 0), 0);
}

static void test_known_slots(void **state)
{
    (void)state;
    /* CLUSTER KEYSLOT answers of a real Redis. */
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of("somekey"), 11058);
    assert_int_equal(slot_of(""), 0);
}

static void test_hash_tags(void **state)
{
    (void)state;
    assert_int_equal(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
    assert_int_equal(slot_of("{user1000}.following"), slot_of("user1000"));
    /* empty tag: the whole key */
    assert_int_equal(slot_of("foo{}{bar}"), crc16_xmodem("foo{}{bar}", 10) % 16384);
    assert_int_not_equal(slot_of("foo{}{bar}"), slot_of("bar"));
    /* the tag ends at the first '}' after the first '{' */
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("foo{{bar}}zap"), crc16_xmodem("{bar", 4) % 16384);
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    /* no closing brace: the whole key */
    assert_int_equal(slot_of("foo{bar"), crc16_xmodem("foo{bar", 7) % 16384);
    /* binary keys with a NUL inside the tag */
    assert_int_equal(key_slot("a{x\0y}b", 7), crc16_xmodem("x\0y", 3) % 16384);
}

static void test_range(void **state)
{
    (void)state;
    char k[16];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(k, sizeof k, "key:%d", i);
        assert_true(key_slot(k, (size_t)n) < SLOT_COUNT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_check_value),
        cmocka_unit_test(test_known_slots),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
