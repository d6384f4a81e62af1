/* SHA-1 (core/sha1.c) against the test vectors of FIPS 180 (the "abc" and
 * the 448-bit message of its examples, a million 'a's) and the empty
 * string, plus the lengths around the padding's block boundaries (55/56
 * and 63/64/65: where the padding takes one block or two), checked against
 * the digests another implementation (Python's hashlib) gives. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/sha1.h"

static void expect_hex(const void *data, size_t len, const char *want)
{
    char hex[SHA1_HEX_LEN + 1];
    sha1_hex(data, len, hex);
    assert_string_equal(hex, want);
}

static void test_fips_vectors(void **state)
{
    (void)state;
    expect_hex("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_hex(two, strlen(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                       "klmnopqrlmnopqrsmnopqrstnopqrstu";
    expect_hex(four, strlen(four), "a49b2446a02c645bf419f995b67091253a04a259");
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    expect_hex(a, n, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(a);
}

static void test_empty_and_scripts(void **state)
{
    (void)state;
    expect_hex("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    /* the name Redis gives the script "return 1" (EVALSHA's argument) */
    expect_hex("return 1", 8, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

/* Lengths 55, 56, 63, 64 and 65 of 'a': the padding in one block or two. */
static void test_block_boundaries(void **state)
{
    (void)state;
    char a[65];
    memset(a, 'a', sizeof a);
    expect_hex(a, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    expect_hex(a, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    expect_hex(a, 63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5");
    expect_hex(a, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    expect_hex(a, 65, "11655326c708d70319be2610e8a57d9a5b959d3b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_empty_and_scripts),
        cmocka_unit_test(test_block_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
