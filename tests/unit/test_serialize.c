/* serialize: the DUMP payload (shards/store/serialize.h), its CRC-64
 * (core/crc64.h) and LZF (core/lzf.h): payloads taken from a real
 * redis-server 7.0 decode to their values and ours are the same bytes where
 * Redis's are not compressed; every value round-trips; damaged and forged
 * payloads are refused, never read past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/crc64.h"
#include "core/lzf.h"
#include "shards/store/serialize.h"
#include "shards/store/store.h"

#define NOW 1700000000000LL

/* The bitwise definition the table-driven crc64 must agree with. */
static uint64_t crc64_bitwise(uint64_t crc, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
    }
    return crc;
}

static void test_crc64(void **state)
{
    (void)state;
    assert_true(crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    assert_true(crc64(0, "", 0) == 0);
    unsigned char data[300];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 131 + 7);
    for (size_t off = 0; off < 3; off++)
        for (size_t n = 0; n + off <= sizeof(data); n++) {
            uint64_t want = crc64_bitwise(0, data + off, n);
            assert_true(crc64(0, data + off, n) == want);
            /* in two pieces */
            assert_true(crc64(crc64(0, data + off, n / 3), data + off + n / 3, n - n / 3) == want);
        }
    /* long inputs (the folding path on CPUs that have it): every length
     * around its block sizes, from a crc to continue, and 1 MB */
    size_t big_len = 1 << 20;
    unsigned char *big = malloc(big_len);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < big_len; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        big[i] = (unsigned char)x;
    }
    for (size_t n = 100; n < 700; n++)
        for (size_t off = 0; off < 2; off++) {
            uint64_t init = n * 0x9e3779b97f4a7c15ULL;
            assert_true(crc64(init, big + off, n) == crc64_bitwise(init, big + off, n));
        }
    assert_true(crc64(0, big, big_len) == crc64_bitwise(0, big, big_len));
    free(big);
    print_message("crc64: %s\n", crc64_uses_clmul() ? "carry-less multiplication" : "tables");
}

/* Payloads of DUMP on redis-server 7.0.15 (SET then DUMP). */
struct redis_payload {
    const char *value;
    const char *bytes;
    size_t      len;
    bool        same_as_ours; /* not LZF-compressed by Redis */
};
#define P(v, b, same) { v, b, sizeof(b) - 1, same }
static const struct redis_payload redis_payloads[] = {
    P("hello", "\x00\x05\x68\x65\x6c\x6c\x6f\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a", true),
    P("123", "\x00\xc0\x7b\x0a\x00\x48\xe2\x53\xe1\x00\x7a\x67\xb9", true),
    P("-5", "\x00\xc0\xfb\x0a\x00\x49\xc4\xc6\xf4\xd7\x26\x3f\x68", true),
    P("1234567", "\x00\xc2\x87\xd6\x12\x00\x0a\x00\xe9\x3e\x1e\x36\x2b\x3b\x7c\x5e", true),
    P("12345678901", "\x00\x0b\x31\x32\x33\x34\x35\x36\x37\x38\x39\x30\x31\x0a\x00\x30\x4e\x52\xd7\x27\x17\x65\x10",
      true),
    P("", "\x00\x00\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda", true),
    /* 100 x 'a': LZF */
    P("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "\x00\xc3\x09\x40\x64\x01\x61\x61\xe0\x57\x00\x01\x61\x61\x0a\x00\xe8\xa3\xb5\x07\xb0\x6d\xf2\x71", false),
    /* "hello world " x 10: LZF */
    P("hello world hello world hello world hello world hello world hello world hello world hello world "
      "hello world hello world ",
      "\x00\xc3\x14\x40\x78\x0c\x68\x65\x6c\x6c\x6f\x20\x77\x6f\x72\x6c\x64\x20\x68\xe0\x60\x0b\x01\x64\x20\x0a"
      "\x00\xd4\x03\x5f\x43\x6c\x9a\x1b\xd7", false),
};

static struct store *new_store(void) { return store_create(NULL, NULL, NULL); }

static struct entry *put(struct store *s, const char *k, const void *v, size_t vlen)
{
    return store_set(s, (struct slice){ k, strlen(k) }, v, vlen, 0);
}

static void test_redis_payloads_decode(void **state)
{
    (void)state;
    struct store *s = new_store();
    for (size_t i = 0; i < sizeof(redis_payloads) / sizeof(redis_payloads[0]); i++) {
        const struct redis_payload *rp = &redis_payloads[i];
        assert_true(serialize_payload_valid(rp->bytes, rp->len));
        struct decoded_value v;
        assert_true(serialize_decode(rp->bytes, rp->len, &v));
        assert_int_equal(v.type, TYPE_STRING);
        assert_int_equal(v.string.len, strlen(rp->value));
        assert_memory_equal(v.string.ptr, rp->value, v.string.len);
        decoded_value_free(&v);

        struct entry *e = put(s, "k", rp->value, strlen(rp->value));
        struct buf ours;
        buf_init(&ours);
        serialize_dump(e, &ours);
        if (rp->same_as_ours) {
            assert_int_equal(ours.len, rp->len);
            assert_memory_equal(ours.data, rp->bytes, rp->len);
        }
        buf_free(&ours);
    }
    store_destroy(s);
}

/* Dump e's value, decode it, and compare. */
static void round_trip(struct store *s, const void *val, size_t len)
{
    struct entry *e = put(s, "k", val, len);
    struct buf b;
    buf_init(&b);
    serialize_dump(e, &b);
    assert_true(serialize_payload_valid(b.data, b.len));
    struct decoded_value v;
    assert_true(serialize_decode(b.data, b.len, &v));
    assert_int_equal(v.string.len, len);
    if (len)
        assert_memory_equal(v.string.ptr, val, len);
    decoded_value_store(s, (struct slice){ "k2", 2 }, &v, NOW + 1000);
    struct entry *e2 = store_peek(s, (struct slice){ "k2", 2 }, NOW);
    assert_non_null(e2);
    assert_int_equal(entry_value_len(e2), len);
    assert_int_equal(entry_expire_at(e2), NOW + 1000);
    buf_free(&b);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct store *s = new_store();
    const char *texts[] = { "0", "-0", "007", "1", "-1", "127", "128", "-128", "-129", "32767", "32768",
                            "-32768", "-32769", "2147483647", "2147483648", "-2147483648", "-2147483649",
                            "+5", " 5", "5 ", "1e3", "99999999999", "-", "" };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        round_trip(s, texts[i], strlen(texts[i]));
    /* lengths at the edges of the 6-, 14- and 32-bit encodings */
    size_t lens[] = { 63, 64, 16383, 16384, 100000 };
    char *big = malloc(100000);
    for (size_t i = 0; i < 100000; i++)
        big[i] = (char)(i * 7);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        round_trip(s, big, lens[i]);
    free(big);
    store_destroy(s);
}

/* A payload with its footer redone over object[0..n): a valid checksum, so
 * the decoder itself has to refuse what is wrong. */
static size_t forge(unsigned char *out, const void *object, size_t n, unsigned version)
{
    memcpy(out, object, n);
    out[n] = (unsigned char)(version & 0xff);
    out[n + 1] = (unsigned char)(version >> 8);
    uint64_t crc = crc64(0, out, n + 2);
    for (int i = 0; i < 8; i++)
        out[n + 2 + i] = (unsigned char)(crc >> (8 * i));
    return n + 10;
}

static bool decodes(const void *object, size_t n)
{
    unsigned char p[256];
    size_t len = forge(p, object, n, 10);
    assert_true(serialize_payload_valid((const char *)p, len));
    struct decoded_value v;
    bool ok = serialize_decode((const char *)p, len, &v);
    if (ok)
        decoded_value_free(&v);
    return ok;
}

static void test_refused(void **state)
{
    (void)state;
    const struct redis_payload *rp = &redis_payloads[0];
    unsigned char p[64];
    /* every single-bit flip breaks the checksum (or the version) */
    for (size_t i = 0; i < rp->len; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(p, rp->bytes, rp->len);
            p[i] ^= (unsigned char)(1 << b);
            assert_false(serialize_payload_valid((const char *)p, rp->len));
        }
    for (size_t n = 0; n < rp->len; n++)
        assert_false(serialize_payload_valid(rp->bytes, n) && serialize_payload_valid(rp->bytes + rp->len - n, n));
    assert_false(serialize_payload_valid("", 0));
    /* versions: up to 12 read, 13 not */
    size_t len = forge(p, "\x00\x01x", 3, 12);
    assert_true(serialize_payload_valid((const char *)p, len));
    len = forge(p, "\x00\x01x", 3, 13);
    assert_false(serialize_payload_valid((const char *)p, len));
    assert_false(serialize_payload_version_ok((const char *)p, len));
    len = forge(p, "\x00\x01x", 3, 12);
    p[len - 1] ^= 1; /* the version alone does not look at the checksum */
    assert_true(serialize_payload_version_ok((const char *)p, len));
    assert_false(serialize_payload_valid((const char *)p, len));
    assert_false(serialize_payload_version_ok("", 0));
    len = forge(p, "\x00\x01x", 3, 1);
    assert_true(serialize_payload_valid((const char *)p, len));

    assert_true(decodes("\x00\x01x", 3));
    assert_false(decodes("", 0));                     /* no type */
    assert_false(decodes("\x0e\x01x", 3));            /* a type we do not have (a list) */
    assert_false(decodes("\x10\x01x", 3));            /* a hash listpack */
    assert_false(decodes("\x00", 1));                 /* no length */
    assert_false(decodes("\x00\x05" "abc", 5));          /* length past the end */
    assert_false(decodes("\x00\x41", 2));             /* 14-bit length cut */
    assert_false(decodes("\x00\x80\x00\x00", 4));     /* 32-bit length cut */
    assert_false(decodes("\x00\x81\xff\xff\xff\xff\xff\xff\xff\xff", 10)); /* 2^64-1 */
    assert_false(decodes("\x00\x82", 2));             /* no such length form */
    assert_false(decodes("\x00\xc0", 2));             /* int8 cut */
    assert_false(decodes("\x00\xc1\x01", 3));         /* int16 cut */
    assert_false(decodes("\x00\xc2\x01\x02\x03", 5)); /* int32 cut */
    assert_false(decodes("\x00\xc4", 2));             /* no such string encoding */
    assert_true(decodes("\x00\xc1\x00\x80", 4));      /* -32768 */
    /* LZF: lengths that lie, references before the start, short output */
    assert_true(decodes("\x00\xc3\x03\x02\x01\x61\x61", 7));         /* literal "aa" */
    assert_true(decodes("\x00\xc3\x04\x05\x00\x61\x40\x00", 8));     /* 'a', then 4 from 1 back */
    assert_false(decodes("\x00\xc3\x03\x03\x01\x61\x61", 7));        /* produces 2, claims 3 */
    assert_false(decodes("\x00\xc3\x05\x02\x01\x61\x61", 7));        /* clen past the end */
    assert_false(decodes("\x00\xc3\x02\x05\x20\x00", 6));             /* a reference with nothing before it */
    assert_false(decodes("\x00\xc3\x01\x00\x00", 5));                  /* original length 0 */
    assert_false(decodes("\x00\xc3\x01\x80\x40\x00\x00\x00\x00", 9)); /* 1 GiB from 1 byte */
    assert_false(decodes("\x00\xc3\xc1\x01\x01", 5));                 /* an encoded length as clen */
}

static void test_lzf(void **state)
{
    (void)state;
    char out[16];
    /* literal "ab", then a reference: 3 bytes from 2 back (overlapping) */
    assert_true(lzf_decompress_exact("\x01" "ab" "\x20\x01", 5, out, 5));
    assert_memory_equal(out, "ababa", 5);
    assert_false(lzf_decompress_exact("\x01" "ab" "\x20\x01", 5, out, 4)); /* no room */
    assert_false(lzf_decompress_exact("\x01" "ab" "\x20\x01", 5, out, 6)); /* short */
    assert_false(lzf_decompress_exact("\x01" "ab" "\x20\x02", 5, out, 5)); /* 3 back of 2 */
    assert_false(lzf_decompress_exact("\x01" "a", 2, out, 2));             /* literal cut */
    assert_false(lzf_decompress_exact("\xe0", 1, out, 10));                /* long ref cut */
    assert_false(lzf_decompress_exact("\x20", 1, out, 10));                /* ref cut */
    assert_true(lzf_decompress_exact("", 0, out, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64),
        cmocka_unit_test(test_lzf),
        cmocka_unit_test(test_redis_payloads_decode),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
