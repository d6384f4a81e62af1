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

/* The CRC bit by bit, as its definition says: the reference for every
 * length, odd and even (the table-driven one takes two bytes a step). */
static uint16_t crc16_bitwise(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static void check_every_length(void)
{
    unsigned char buf[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t n = 0; n <= sizeof(buf); n++)
        for (size_t off = 0; off < 3 && off + n <= sizeof(buf); off++)
            assert_int_equal(crc16_xmodem(buf + off, n), crc16_bitwise(buf + off, n));
}

/* key_slot by the rule, written plainly (a byte at a time, the bitwise
 * CRC): the reference for keys with and without braces at every place. */
static unsigned key_slot_plain(const unsigned char *k, size_t n)
{
    size_t open = 0;
    while (open < n && k[open] != '{')
        open++;
    if (open < n) {
        size_t close = open + 1;
        while (close < n && k[close] != '}')
            close++;
        if (close < n && close > open + 1)
            return crc16_bitwise(k + open + 1, close - open - 1) % 16384;
    }
    return crc16_bitwise(k, n) % 16384;
}

static void check_braces_everywhere(void)
{
    unsigned char k[48];
    uint32_t x = 99;
    for (size_t n = 0; n <= 40; n++)
        for (size_t a = 0; a <= n; a++)     /* '{' at a (a == n: none) */
            for (size_t b = 0; b <= n; b++) { /* '}' at b (b == n: none) */
                for (size_t i = 0; i < n; i++) {
                    x = x * 1103515245u + 12345u;
                    k[i] = (unsigned char)('a' + (x >> 16) % 26);
                }
                if (a < n)
                    k[a] = '{';
                if (b < n && b != a)
                    k[b] = '}';
                assert_int_equal(key_slot((const char *)k, n), key_slot_plain(k, n));
                /* high bytes: the brace test must not see '{' in them */
                for (size_t i = 0; i < n; i++)
                    if (k[i] != '{' && k[i] != '}')
                        k[i] = (unsigned char)(k[i] | 0x80);
                assert_int_equal(key_slot((const char *)k, n), key_slot_plain(k, n));
            }
}

/* Both ways of computing the CRC (slot.h): carry-less multiplication where
 * the CPU has it, which is what runs, and the tables, which run elsewhere. */
static void check_known(void)
{
    assert_int_equal(crc16_xmodem("123456789", 9), 0x31C3);
    assert_int_equal(key_slot("foo", 3), 12182);
    assert_int_equal(key_slot("key:00001234", 12), crc16_bitwise((const unsigned char *)"key:00001234", 12) % 16384);
}

static void test_crc16_every_length(void **state)
{
    (void)state;
    check_every_length();
    bool was = slot_clmul_use(false);
    check_every_length();
    slot_clmul_use(was);
}

static void test_braces_everywhere(void **state)
{
    (void)state;
    check_braces_everywhere();
    bool was = slot_clmul_use(false);
    check_braces_everywhere();
    check_known();
    slot_clmul_use(true);
    check_known();
    slot_clmul_use(was);
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
        cmocka_unit_test(test_crc16_every_length),
        cmocka_unit_test(test_braces_everywhere),
        cmocka_unit_test(test_known_slots),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
