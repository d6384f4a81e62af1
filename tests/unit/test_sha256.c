/* SHA-256 (core/sha256.c) against the test vectors of FIPS 180's examples
 * ("abc", the 448-bit and 896-bit messages, a million 'a's) and the empty
 * string, plus the lengths around the padding's block boundaries (55/56
 * and 63/64/65: where the padding takes one block or two), checked against
 * the digests another implementation (coreutils' sha256sum) gives; and the
 * digest Redis shows for the password "pw" (ACL GETUSER). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/sha256.h"

static void expect_hex(const void *data, size_t len, const char *want)
{
    char hex[SHA256_HEX_LEN + 1];
    sha256_hex(data, len, hex);
    assert_string_equal(hex, want);
}

static void test_fips_vectors(void **state)
{
    (void)state;
    expect_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_hex(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                       "klmnopqrlmnopqrsmnopqrstnopqrstu";
    expect_hex(four, strlen(four), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    expect_hex(a, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_empty_and_passwords(void **state)
{
    (void)state;
    expect_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* what redis-server 7.0 shows for ACL SETUSER alice >pw */
    expect_hex("pw", 2, "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4");
}

/* Lengths 55, 56, 63, 64 and 65 of 'a': the padding in one block or two. */
static void test_block_boundaries(void **state)
{
    (void)state;
    char a[65];
    memset(a, 'a', sizeof a);
    expect_hex(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    expect_hex(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    expect_hex(a, 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
    expect_hex(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    expect_hex(a, 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_empty_and_passwords),
        cmocka_unit_test(test_block_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
