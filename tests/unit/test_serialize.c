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
#include <math.h>

#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/serialize.h"
#include "shards/store/set.h"
#include "shards/store/store.h"
#include "shards/store/zset.h"

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


/* ---- collections ---- */

#define SL(lit) ((struct slice){ lit, sizeof(lit) - 1 })

/* key's payload decoded and stored under "copy" (by lim, NULL: the
 * defaults); returns the copy's entry. */
static struct entry *dump_restore(struct store *s, const char *key, const struct serialize_limits *lim)
{
    struct entry *e = store_peek(s, (struct slice){ key, strlen(key) }, NOW);
    assert_non_null(e);
    struct buf b;
    buf_init(&b);
    assert_true(serialize_dump(e, &b));
    assert_true(serialize_payload_valid(b.data, b.len));
    assert_int_equal((unsigned char)b.data[0], entry_type(e) == TYPE_HASH ? RDB_TYPE_HASH : RDB_TYPE_SET);
    struct decoded_value v;
    assert_true(serialize_decode(b.data, b.len, &v));
    assert_int_equal(v.type, entry_type(e));
    assert_true(decoded_value_build(s, &v, lim));
    assert_true(decoded_value_store(s, SL("copy"), &v, NOW + 5000));
    buf_free(&b);
    struct entry *c = store_peek(s, SL("copy"), NOW);
    assert_non_null(c);
    assert_int_equal(entry_expire_at(c), NOW + 5000);
    return c;
}

static void in_hash(void *arg, struct slice f, struct slice v)
{
    struct slice w;
    assert_true(hash_get(arg, f, &w));
    assert_int_equal(v.len, w.len);
    assert_memory_equal(v.ptr, w.ptr, v.len);
}

static void same_hash(const struct hash *a, const struct hash *b)
{
    assert_int_equal(hash_len(a), hash_len(b));
    hash_foreach(a, in_hash, (void *)b);
}

static void in_set(void *arg, struct slice m)
{
    assert_true(set_contains(arg, m));
}

static void test_hash_round_trip(void **state)
{
    (void)state;
    struct store *s = new_store();
    const struct hash_limits lim = hash_default_limits;
    size_t sizes[] = { 1, 5, 128, 129, 1000 };
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct hash *h = hash_create(s);
        for (size_t i = 0; i < sizes[k]; i++) {
            char f[32], v[32];
            int fl = snprintf(f, sizeof f, i % 3 ? "field:%zu" : "%zu", i);
            int vl = snprintf(v, sizeof v, i % 2 ? "%d" : "value-%d", (int)(i * 7919) - 3000);
            hash_set(s, &h, (struct slice){ f, (size_t)fl }, (struct slice){ v, (size_t)vl }, &lim);
        }
        if (k == 0) /* a value past the listpack's size: a hashtable of one */
            hash_set(s, &h, SL("long"), SL("0123456789012345678901234567890123456789012345678901234567890123456789"),
                     &lim);
        store_set_object(s, SL("h"), TYPE_HASH, h, 0);
        struct entry *c = dump_restore(s, "h", NULL);
        assert_int_equal(entry_type(c), TYPE_HASH);
        same_hash(entry_object(store_peek(s, SL("h"), NOW)), entry_object(c));
        assert_int_equal(hash_is_listpack(entry_object(c)), sizes[k] <= 128 && k != 0);
    }
    /* the thresholds given are the ones applied */
    struct serialize_limits tight = { { 2, 64 }, set_default_limits, list_default_limits, zset_default_limits,
                                      stream_default_limits };
    struct entry *c = dump_restore(s, "h", &tight);
    assert_false(hash_is_listpack(entry_object(c)));
    struct hash *h = hash_create(s);
    hash_set(s, &h, SL("a"), SL("1"), &lim);
    hash_set(s, &h, SL("b"), SL("2"), &lim);
    hash_set(s, &h, SL("c"), SL("3"), &lim);
    store_set_object(s, SL("h"), TYPE_HASH, h, 0);
    c = dump_restore(s, "h", &tight);
    assert_false(hash_is_listpack(entry_object(c)));
    tight.hash.max_listpack_entries = 3;
    c = dump_restore(s, "h", &tight);
    assert_true(hash_is_listpack(entry_object(c)));
    store_destroy(s);
}

static void test_set_round_trip(void **state)
{
    (void)state;
    struct store *s = new_store();
    const struct set_limits lim = set_default_limits;
    struct {
        size_t n;
        bool ints;
        const char *enc;
    } cases[] = { { 1, true, "intset" },   { 3, true, "intset" },      { 512, true, "intset" },
                  { 513, true, "hashtable" }, { 2, false, "listpack" }, { 128, false, "listpack" },
                  { 129, false, "hashtable" }, { 2000, false, "hashtable" } };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char m[40];
        int ml = snprintf(m, sizeof m, cases[k].ints ? "%d" : "m%d", -40000);
        struct set *set = set_create(s, (struct slice){ m, (size_t)ml }, cases[k].n, &lim);
        for (size_t i = 0; i < cases[k].n; i++) {
            /* integers of every width, among them 64-bit ones */
            long long x = (long long)i * (i % 2 ? 1 : -1) * (i % 5 == 0 ? 3000000000LL : 77);
            ml = snprintf(m, sizeof m, cases[k].ints ? "%lld" : "m%lld", x);
            set_add(s, &set, (struct slice){ m, (size_t)ml }, &lim);
        }
        assert_string_equal(set_encoding(set), cases[k].enc);
        store_set_object(s, SL("s"), TYPE_SET, set, 0);
        struct entry *c = dump_restore(s, "s", NULL);
        assert_int_equal(entry_type(c), TYPE_SET);
        const struct set *a = entry_object(store_peek(s, SL("s"), NOW)), *b = entry_object(c);
        assert_int_equal(set_len(a), set_len(b));
        assert_string_equal(set_encoding(b), cases[k].enc);
        set_foreach(a, in_set, (void *)b);
    }
    store_destroy(s);
}

/* Payloads of DUMP on redis-server 7.0.15 of hashes and sets. */
#define RP(b) b, sizeof(b) - 1
static const struct {
    const char *bytes;
    size_t      len;
    const char *elems[16]; /* a hash: field, value, ...; NULL ends */
    const char *enc;
} redis_collections[] = {
    /* HSET rh a 1 b hello c 300000 d -5 e 70000 f 5000000000 g -4000: a
     * listpack (RDB_TYPE_HASH_LISTPACK) with integers of every width */
    { RP("\x10\x3f\x3f\x00\x00\x00\x0e\x00\x81\x61\x02\x01\x01\x81\x62\x02\x85\x68\x65\x6c\x6c\x6f\x06\x81\x63"
         "\x02\xf2\xe0\x93\x04\x04\x81\x64\x02\xdf\xfb\x02\x81\x65\x02\xf2\x70\x11\x01\x04\x81\x66\x02\xf4\x00"
         "\xf2\x05\x2a\x01\x00\x00\x00\x09\x81\x67\x02\xd0\x60\x02\xff\x0a\x00\x2d\x9e\xb0\xf9\x1b\x79\xe9\x58"),
      { "a", "1", "b", "hello", "c", "300000", "d", "-5", "e", "70000", "f", "5000000000", "g", "-4000" },
      "listpack" },
    /* HSET rz <30 x a> <36 x a>: a listpack, LZF-compressed */
    { RP("\x10\xc3\x17\x40\x4d\x07\x4d\x00\x00\x00\x02\x00\x9e\x61\xe0\x14\x00\x01\x1f\xa4\xe0\x14\x1e\xa0\x00"
         "\x01\x25\xff\x0a\x00\x12\xa1\xb6\xe0\x0d\x5d\xff\xd4"),
      { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }, "listpack" },
    /* HSET bigv f1 <70 x q>: a hashtable (RDB_TYPE_HASH), the value LZF */
    { RP("\x04\x01\x02\x66\x31\xc3\x09\x40\x46\x01\x71\x71\xe0\x39\x00\x01\x71\x71\x0a\x00\xb9\xa4\xf3\x5d\x12"
         "\x1a\x54\xdc"),
      { "f1", "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq" }, "hashtable" },
    /* SADD rs 1 2 3 -70000 5000000000: an intset of 8-byte integers, LZF */
    { RP("\x0b\xc3\x29\x30\x04\x08\x00\x00\x00\x05\x20\x03\x03\x90\xee\xfe\xff\x40\x00\x00\x01\x20\x0b\x40\x00"
         "\x00\x02\x40\x04\x20\x00\x00\x03\x20\x03\x60\x00\x02\xf2\x05\x2a\x20\x1b\x00\x00\x0a\x00\x04\xdf\x17"
         "\x72\x0f\xf7\x57\xdf"),
      { "1", "2", "3", "-70000", "5000000000" }, "intset" },
    /* SADD si2 1 300: an intset, plain */
    { RP("\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x2c\x01\x0a\x00\x29\x08\xaf\x51\x41\x78\xa5\x13"),
      { "1", "300" }, "intset" },
    /* SADD rss x y z: 7.0 has no set listpack: RDB_TYPE_SET */
    { RP("\x02\x03\x01\x7a\x01\x79\x01\x78\x0a\x00\xa2\x11\x7a\x19\x6f\x6e\xa3\xe5"), { "x", "y", "z" },
      "listpack" },
    /* SADD ss2 "hello world" 7: an integer member int-encoded */
    { RP("\x02\x02\xc0\x07\x0b\x68\x65\x6c\x6c\x6f\x20\x77\x6f\x72\x6c\x64\x0a\x00\x62\x09\xd7\xd7\x81\xd4\x49"
         "\x3b"),
      { "7", "hello world" }, "listpack" },
};

static void test_redis_collections_decode(void **state)
{
    (void)state;
    struct store *s = new_store();
    for (size_t i = 0; i < sizeof(redis_collections) / sizeof(redis_collections[0]); i++) {
        const char *p = redis_collections[i].bytes;
        size_t len = redis_collections[i].len;
        const char *const *el = redis_collections[i].elems;
        assert_true(serialize_payload_valid(p, len));
        struct decoded_value v;
        assert_true(serialize_decode(p, len, &v));
        assert_true(decoded_value_store(s, SL("k"), &v, 0));
        struct entry *e = store_peek(s, SL("k"), NOW);
        assert_non_null(e);
        size_t n = 0;
        while (n < 16 && el[n])
            n++;
        if (p[0] == RDB_TYPE_HASH || p[0] == RDB_TYPE_HASH_LISTPACK) {
            assert_int_equal(entry_type(e), TYPE_HASH);
            const struct hash *h = entry_object(e);
            assert_int_equal(hash_len(h), n / 2);
            for (size_t j = 0; j < n; j += 2) {
                struct slice got;
                assert_true(hash_get(h, (struct slice){ el[j], strlen(el[j]) }, &got));
                assert_int_equal(got.len, strlen(el[j + 1]));
                assert_memory_equal(got.ptr, el[j + 1], got.len);
            }
            assert_int_equal(hash_is_listpack(h), strcmp(redis_collections[i].enc, "listpack") == 0);
        } else {
            assert_int_equal(entry_type(e), TYPE_SET);
            const struct set *set = entry_object(e);
            assert_int_equal(set_len(set), n);
            for (size_t j = 0; j < n; j++)
                assert_true(set_contains(set, (struct slice){ el[j], strlen(el[j]) }));
            assert_string_equal(set_encoding(set), redis_collections[i].enc);
        }
    }
    store_destroy(s);
}

/* Decoded, and built in a store: what RESTORE needs of a payload. */
#define RESTORES(lit) restores(lit, sizeof(lit) - 1)
static bool restores(const void *object, size_t n)
{
    unsigned char p[256];
    size_t len = forge(p, object, n, 10);
    struct decoded_value v;
    if (!serialize_decode((const char *)p, len, &v))
        return false;
    struct store *s = new_store();
    bool ok = decoded_value_store(s, SL("k"), &v, 0);
    assert_int_equal(store_count(s), ok ? 1 : 0);
    store_destroy(s);
    return ok;
}

static void test_collections_refused(void **state)
{
    (void)state;
    assert_true(restores("\x02\x01\x01x", 4));
    assert_true(restores("\x04\x01\x01x\x01y", 6));
    /* forged counts: more elements than bytes, 2^32, 2^64-1 */
    assert_false(restores("\x02\x05\x01x", 4));
    assert_false(restores("\x02\x80\xff\xff\xff\xff\x01x", 8));
    assert_false(restores("\x04\x81\xff\xff\xff\xff\xff\xff\xff\xff\x01x\x01y", 14));
    assert_false(restores("\x04\x02\x01x\x01y", 6));            /* a pair short */
    assert_false(restores("\x04\x01\x01x", 4));                 /* a field without value */
    assert_false(restores("\x02\x00", 2));                      /* empty */
    assert_false(restores("\x04\x00", 2));
    assert_false(restores("\x02\x02\x01x\x01x", 6));            /* a member twice */
    assert_false(restores("\x02\x02\xc0\x05\x01\x35", 6));      /* 5 encoded, then "5" */
    assert_false(restores("\x04\x02\x01x\x01y\x01x\x01z", 10)); /* a field twice */
    assert_false(restores("\x02\x01\xc4", 3));                  /* a bad string */
    /* intsets: width, count against the bytes, order */
    assert_true(restores("\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x2c\x01", 14));
    assert_false(restores("\x0b\x0c\x03\x00\x00\x00\x02\x00\x00\x00\x01\x00\x2c\x01", 14)); /* width 3 */
    assert_false(restores("\x0b\x0c\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x2c\x01", 14)); /* count 3 */
    assert_false(restores("\x0b\x0c\x02\x00\x00\x00\xff\xff\xff\xff\x01\x00\x2c\x01", 14)); /* 2^32-1 */
    assert_false(restores("\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x2c\x01\x01\x00", 14)); /* unsorted */
    assert_false(restores("\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00", 14)); /* twice */
    assert_false(restores("\x0b\x08\x02\x00\x00\x00\x00\x00\x00\x00", 10));                 /* empty */
    assert_false(restores("\x0b\x0d\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x2c\x01", 14)); /* cut */
    /* listpacks: "a" 1 as a hash, then damaged */
    assert_true(restores("\x10\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\x01\x01\xff", 14));
    assert_true(restores("\x14\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\x01\x01\xff", 14)); /* a set */
    assert_false(restores("\x10\x0c\x0d\x00\x00\x00\x02\x00\x81\x61\x02\x01\x01\xff", 14)); /* total */
    assert_false(restores("\x10\x0c\x0c\x00\x00\x00\x03\x00\x81\x61\x02\x01\x01\xff", 14)); /* count */
    assert_true(restores("\x10\x0c\x0c\x00\x00\x00\xff\xff\x81\x61\x02\x01\x01\xff", 14));  /* unknown */
    assert_false(restores("\x10\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\x01\x01\xfe", 14)); /* no end */
    assert_false(restores("\x10\x0c\x0c\x00\x00\x00\x02\x00\x85\x61\x02\x01\x01\xff", 14)); /* string long */
    assert_false(restores("\x10\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\xf5\x01\xff", 14)); /* no encoding */
    assert_false(restores("\x10\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\xf4\x01\xff", 14)); /* int64 cut */
    assert_false(restores("\x10\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\xf0\x01\xff", 14)); /* len32 cut */
    assert_false(restores("\x10\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\xe0\x05\xff", 14)); /* len12 long */
    assert_false(restores("\x10\x0c\x0c\x00\x00\x00\x01\x00\x81\x61\x02\xff\x01\xff", 14)); /* odd, early end */
    assert_false(restores("\x10\x0a\x0a\x00\x00\x00\x01\x00\x81\x61\x02\xff", 12));         /* odd */
    assert_false(restores("\x10\x07\x07\x00\x00\x00\x00\x00\xff", 9));                      /* empty */
    assert_false(restores("\x10\x10\x10\x00\x00\x00\x04\x00\x81\x61\x02\x01\x01\x81\x61\x02\x01\x01\xff", 19)); /* dup */
    /* lists and sorted sets (test_list_zset_refused has more) */
    assert_false(restores("\x12\x01\x01x", 4)); /* a quicklist whose node runs past the end */
    assert_true(restores("\x05\x01\x01x\x00\x00\x00\x00\x00\x00\x00\x00", 12)); /* zset: x 0 */
    assert_true(restores("\x11\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\x01\x01\xff", 14)); /* zset listpack */
}

/* A Redis 6 hash (RDB_TYPE_HASH_ZIPLIST), written here by hand from the
 * ziplist layout: every integer encoding and a 14-bit string length. */
static void test_hash_ziplist(void **state)
{
    (void)state;
    static const unsigned char entries[] = {
        0x00, 0x01, 'a',  0x03, 0xf2,                                     /* "a" 1 (immediate) */
        0x02, 0x01, 'n',  0x03, 0xfe, 0xfb,                               /* "n" -5 (int8) */
        0x03, 0x03, 'b',  'i',  'g',                                      /* "big" */
        0x05, 0xe0, 0x00, 0xf2, 0x05, 0x2a, 0x01, 0x00, 0x00, 0x00,       /* 5000000000 (int64) */
        0x0a, 0x01, 's',  0x03, 0xc0, 0x2c, 0x01,                         /* "s" 300 (int16) */
        0x04, 0x01, 't',  0x03, 0xf0, 0xa0, 0x86, 0x01,                   /* "t" 100000 (int24) */
        0x05, 0x01, 'u',  0x03, 0xd0, 0x00, 0xe1, 0xf5, 0x05,             /* "u" 100000000 (int32) */
        0x06, 0x01, 'w',  0x03, 0x40, 0x46,                               /* "w" then 70 x 'q' */
    };
    unsigned char obj[200];
    size_t n = 0;
    obj[n++] = RDB_TYPE_HASH_ZIPLIST;
    size_t zl_len = 10 + sizeof entries + 70 + 1;
    obj[n++] = (unsigned char)(0x40 | (zl_len >> 8)); /* the blob's RDB length, 14 bits */
    obj[n++] = (unsigned char)zl_len;
    size_t zl = n;
    uint32_t tail = (uint32_t)(10 + sizeof entries - 3);
    obj[n++] = (unsigned char)zl_len;
    obj[n++] = 0;
    obj[n++] = 0;
    obj[n++] = 0;
    memcpy(obj + n, &tail, 4); /* little-endian hosts only, as the rest of the tests */
    n += 4;
    obj[n++] = 14;
    obj[n++] = 0;
    memcpy(obj + n, entries, sizeof entries);
    n += sizeof entries;
    memset(obj + n, 'q', 70);
    n += 70;
    obj[n++] = 0xff;
    assert_int_equal(n - zl, zl_len);

    unsigned char p[256];
    size_t len = forge(p, obj, n, 9);
    struct decoded_value v;
    assert_true(serialize_decode((const char *)p, len, &v));
    assert_int_equal(v.type, TYPE_HASH);
    struct store *s = new_store();
    assert_true(decoded_value_store(s, SL("k"), &v, 0));
    const struct hash *h = entry_object(store_peek(s, SL("k"), NOW));
    assert_int_equal(hash_len(h), 7);
    static const char *want[] = { "a", "1", "n", "-5", "big", "5000000000", "s", "300", "t", "100000",
                                  "u", "100000000" };
    for (size_t i = 0; i < 12; i += 2) {
        struct slice got;
        assert_true(hash_get(h, (struct slice){ want[i], strlen(want[i]) }, &got));
        assert_int_equal(got.len, strlen(want[i + 1]));
        assert_memory_equal(got.ptr, want[i + 1], got.len);
    }
    struct slice w;
    assert_true(hash_get(h, SL("w"), &w));
    assert_int_equal(w.len, 70);
    assert_false(hash_is_listpack(h)); /* a value past 64 bytes */
    store_destroy(s);

    /* damaged: count, total, a cut string, a bad encoding, odd */
    assert_true(restores(obj, n));
    obj[zl + 8] = 13;
    assert_false(restores(obj, n));
    obj[zl + 8] = 0xff; /* unknown: counted */
    obj[zl + 9] = 0xff;
    assert_true(restores(obj, n));
    obj[zl]++;
    assert_false(restores(obj, n));
    obj[zl]--;
    obj[zl + 10 + sizeof entries - 1] = 0x47; /* 71 bytes: runs into the end */
    assert_false(restores(obj, n));
    obj[zl + 10 + sizeof entries - 1] = 0x46;
    obj[zl + 10 + 4] = 0xc1; /* no such encoding */
    assert_false(restores(obj, n));
    obj[zl + 10 + 4] = 0xf2;
    assert_true(restores(obj, n));
    assert_false(restores("\x0d\x0d\x0d\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\xf2\xff", 15));      /* odd */
    assert_true(restores("\x0d\x0f\x0f\x00\x00\x00\x0a\x00\x00\x00\x02\x00\x00\xf2\x02\xf3\xff", 17)); /* 1 -> 2 */
}


/* ---- lists and sorted sets ---- */

/* Payloads of DUMP on redis-server 7.0.15. RPUSH ls a -5 300 70000
 * 5000000000 -9223372036854775808 "": one PACKED node, integers of every
 * listpack width, the same bytes as ours. */
static const char redis_list[] =
    "\x12\x01\x02\x2b\x2b\x00\x00\x00\x07\x00\x81\x61\x02\xdf\xfb\x02\xc1\x2c\x02\xf2\x70\x11\x01\x04\xf4\x00"
    "\xf2\x05\x2a\x01\x00\x00\x00\x09\xf4\x00\x00\x00\x00\x00\x00\x00\x80\x09\x80\x01\xff\x0a\x00\xf4\xb5\xac"
    "\x4a\x2a\x0b\x86\xde";

/* ZADD zs 1.5 a -0 b inf c -inf d 5e-324 e 1e308 f 3 g -2 h: a listpack
 * (RDB_TYPE_ZSET_LISTPACK), scores as integers and as text (Redis's %.17g). */
static const char redis_zset[] =
    "\x11\x40\x57\x57\x00\x00\x00\x10\x00\x81\x64\x02\x84\x2d\x69\x6e\x66\x05\x81\x68\x02\xdf\xfe\x02\x81\x62"
    "\x02\x00\x01\x81\x65\x02\x97\x34\x2e\x39\x34\x30\x36\x35\x36\x34\x35\x38\x34\x31\x32\x34\x36\x35\x34\x65"
    "\x2d\x33\x32\x34\x18\x81\x61\x02\x83\x31\x2e\x35\x04\x81\x67\x02\x03\x01\x81\x66\x02\x86\x31\x65\x2b\x33"
    "\x30\x38\x07\x81\x63\x02\x83\x69\x6e\x66\x04\xff\x0a\x00\xbb\x97\xe7\xcf\x28\x19\x78\xf2";

/* The list's elements, head to tail, as one text "a|b|...". */
static void join_elem(void *arg, struct slice v)
{
    struct buf *b = arg;
    buf_append(b, v.ptr, v.len);
    buf_append(b, "|", 1);
}

static void assert_list(const struct list *l, const char *want)
{
    struct buf b;
    buf_init(&b);
    list_visit(l, 0, SIZE_MAX, join_elem, &b);
    buf_append(&b, "", 1);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void assert_score(const struct zset *z, const char *member, double want)
{
    double got;
    assert_true(zset_score(z, (struct slice){ member, strlen(member) }, &got));
    /* the same bits: -0 stays -0 */
    assert_memory_equal(&got, &want, sizeof got);
}

static const struct entry *restored(struct store *s, const char *p, size_t len, const char *key)
{
    struct decoded_value v;
    assert_true(serialize_payload_valid(p, len));
    if (!serialize_decode(p, len, &v))
        fail_msg("%s does not decode (type %u)", key, (unsigned char)p[0]);
    assert_true(decoded_value_store(s, (struct slice){ key, strlen(key) }, &v, 0));
    const struct entry *e = store_peek(s, (struct slice){ key, strlen(key) }, NOW);
    assert_non_null(e);
    return e;
}

static void test_redis_list_zset_decode(void **state)
{
    (void)state;
    struct store *s = new_store();
    const struct entry *e = restored(s, redis_list, sizeof redis_list - 1, "l");
    assert_int_equal(entry_type(e), TYPE_LIST);
    assert_list(entry_object(e), "a|-5|300|70000|5000000000|-9223372036854775808||");
    /* ours is byte for byte Redis's (no node compressed) */
    struct buf b;
    buf_init(&b);
    assert_true(serialize_dump(e, &b));
    assert_int_equal(b.len, sizeof redis_list - 1);
    assert_memory_equal(b.data, redis_list, b.len);
    buf_free(&b);

    e = restored(s, redis_zset, sizeof redis_zset - 1, "z");
    assert_int_equal(entry_type(e), TYPE_ZSET);
    const struct zset *z = entry_object(e);
    assert_int_equal(zset_len(z), 8);
    assert_string_equal(zset_encoding(z), "listpack");
    assert_score(z, "a", 1.5);
    assert_score(z, "b", 0.0); /* Redis 7.0 keeps ZADD's -0 as 0 */
    assert_score(z, "c", INFINITY);
    assert_score(z, "d", -INFINITY);
    assert_score(z, "e", 5e-324);
    assert_score(z, "f", 1e308);
    assert_score(z, "g", 3);
    assert_score(z, "h", -2);
    store_destroy(s);
}

/* Our lists round trip: small, many nodes, elements past a node (70 KB),
 * integers, empty strings; in the encoding RPUSH would give them. */
static void test_list_round_trip(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct list *l = list_create(s);
    struct buf want;
    buf_init(&want);
    char *big = malloc(70000);
    memset(big, 'y', 70000);
    for (int i = 0; i < 3000; i++) {
        char text[64];
        struct slice v;
        if (i % 1000 == 7)
            v = (struct slice){ big, 70000 - (size_t)i };
        else if (i % 3 == 0)
            v = (struct slice){ text, (size_t)snprintf(text, sizeof text, "%lld", (long long)i * 1000003 - 700000) };
        else if (i % 5 == 1)
            v = (struct slice){ "", 0 };
        else
            v = (struct slice){ text, (size_t)snprintf(text, sizeof text, "element:%d", i) };
        list_push(s, &l, false, v, &list_default_limits);
        join_elem(&want, v);
    }
    buf_append(&want, "", 1);
    store_set_object(s, SL("l"), TYPE_LIST, l, 0);
    struct buf b;
    buf_init(&b);
    const struct entry *e = store_peek(s, SL("l"), NOW);
    assert_true(serialize_dump(e, &b));
    assert_int_equal((unsigned char)b.data[0], RDB_TYPE_LIST_QUICKLIST_2);
    const struct entry *c = restored(s, b.data, b.len, "copy");
    assert_int_equal(list_len(entry_object(c)), 3000);
    assert_list(entry_object(c), want.data);
    assert_string_equal(list_encoding(entry_object(c)), "quicklist");
    /* a small one is one node, a listpack */
    struct list *one = list_create(s);
    list_push(s, &one, false, SL("x"), &list_default_limits);
    store_set_object(s, SL("one"), TYPE_LIST, one, 0);
    buf_clear(&b);
    assert_true(serialize_dump(store_peek(s, SL("one"), NOW), &b));
    c = restored(s, b.data, b.len, "copy");
    assert_list(entry_object(c), "x|");
    assert_string_equal(list_encoding(entry_object(c)), "listpack");
    buf_free(&b);
    buf_free(&want);
    free(big);
    store_destroy(s);
}

/* Our sorted sets round trip in both forms with every kind of score. */
static void test_zset_round_trip(void **state)
{
    (void)state;
    static const double special[] = { INFINITY, -INFINITY, -0.0, 0.0, 5e-324, -5e-324, 1.7976931348623157e308,
                                      -1e300, 0.1, 1.0 / 3, 1e15, 123456789012345678.0, -2, 4096, -4097 };
    size_t ns = sizeof special / sizeof special[0];
    for (int big = 0; big < 2; big++) {
        struct store *s = new_store();
        size_t n = big ? 500 : ns;
        struct zset *z = zset_create(s, n, 8, &zset_default_limits);
        for (size_t i = 0; i < n; i++) {
            char m[32];
            snprintf(m, sizeof m, i % 4 == 0 ? "%zu" : "m%zu", i);
            double d = i < ns ? special[i] : (double)i * 1.25 - 300;
            assert_true(zset_set(s, &z, (struct slice){ m, strlen(m) }, d, &zset_default_limits));
        }
        assert_string_equal(zset_encoding(z), big ? "skiplist" : "listpack");
        store_set_object(s, SL("z"), TYPE_ZSET, z, 0);
        struct buf b;
        buf_init(&b);
        assert_true(serialize_dump(store_peek(s, SL("z"), NOW), &b));
        assert_int_equal((unsigned char)b.data[0], big ? RDB_TYPE_ZSET_2 : RDB_TYPE_ZSET_LISTPACK);
        const struct zset *c = entry_object(restored(s, b.data, b.len, "copy"));
        z = entry_object(store_peek(s, SL("z"), NOW));
        assert_int_equal(zset_len(c), n);
        assert_string_equal(zset_encoding(c), big ? "skiplist" : "listpack");
        for (size_t i = 0; i < n; i++) {
            char m[32];
            snprintf(m, sizeof m, i % 4 == 0 ? "%zu" : "m%zu", i);
            double want;
            assert_true(zset_score(z, (struct slice){ m, strlen(m) }, &want));
            assert_score(c, m, want);
        }
        buf_free(&b);
        store_destroy(s);
    }
}

/* The forms older Redis wrote, by hand from their layouts. */
static void test_old_list_zset_forms(void **state)
{
    (void)state;
    struct store *s = new_store();
    unsigned char p[512];
    size_t len;
#define OLD(lit) len = forge(p, lit, sizeof(lit) - 1, 9)
    /* RDB_TYPE_LIST: a count, strings */
    OLD("\x01\x03\x01\x61\xc0\x05\x00");
    assert_list(entry_object(restored(s, (const char *)p, len, "l1")), "a|5||");
    /* RDB_TYPE_LIST_ZIPLIST: one ziplist of "a", 7, "bc" */
    OLD("\x0a\x14\x14\x00\x00\x00\x0f\x00\x00\x00\x03\x00\x00\x01\x61\x03\xf8\x02\x02\x62\x63\xff");
    assert_list(entry_object(restored(s, (const char *)p, len, "l2")), "a|7|bc|");
    /* RDB_TYPE_LIST_QUICKLIST: ziplist nodes, one of them empty (skipped) */
    OLD("\x0e\x03\x0e\x0e\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\x01\x61\xff"
        "\x0b\x0b\x00\x00\x00\x0a\x00\x00\x00\x00\x00\xff"
        "\x0e\x0e\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\xfe\x80\xff");
    assert_list(entry_object(restored(s, (const char *)p, len, "l3")), "a|-128|");
    /* RDB_TYPE_LIST_QUICKLIST_2: a PLAIN node (one element), an empty and a
     * PACKED one */
    OLD("\x12\x03\x01\x03" "big\x02\x07\x07\x00\x00\x00\x00\x00\xff\x02\x0a\x0a\x00\x00\x00\x01\x00\x81z\x02\xff");
    assert_list(entry_object(restored(s, (const char *)p, len, "l4")), "big|z|");
    /* RDB_TYPE_ZSET: scores as text, 254 inf, 255 -inf */
    OLD("\x03\x03\x01\x61\x03\x31\x2e\x35\x01\x62\xfe\xc0\x07\xff");
    const struct zset *z = entry_object(restored(s, (const char *)p, len, "z1"));
    assert_int_equal(zset_len(z), 3);
    assert_score(z, "a", 1.5);
    assert_score(z, "b", INFINITY);
    assert_score(z, "7", -INFINITY);
    /* RDB_TYPE_ZSET_ZIPLIST: "a" 2 "b" "-0.5" */
    OLD("\x0c\x19\x19\x00\x00\x00\x12\x00\x00\x00\x04\x00\x00\x01\x61\x03\xf3\x02\x01\x62\x03\x04-0.5\xff");
    z = entry_object(restored(s, (const char *)p, len, "z2"));
    assert_int_equal(zset_len(z), 2);
    assert_score(z, "a", 2);
    assert_score(z, "b", -0.5);
#undef OLD
    store_destroy(s);
}

static void test_list_zset_refused(void **state)
{
    (void)state;
    /* quicklists: a container that is neither, nodes all empty, a forged
     * node count, a node cut short, a bad listpack */
    assert_true(RESTORES("\x12\x01\x02\x0a\x0a\x00\x00\x00\x01\x00\x81z\x02\xff"));
    assert_false(RESTORES("\x12\x01\x03\x0a\x0a\x00\x00\x00\x01\x00\x81z\x02\xff"));
    assert_false(RESTORES("\x12\x01\x02\x07\x07\x00\x00\x00\x00\x00\xff"));
    assert_false(RESTORES("\x12\x00"));
    assert_false(RESTORES("\x12\x80\xff\xff\xff\xff\x02\x07"));
    assert_false(RESTORES("\x12\x02\x02\x0a\x0a\x00\x00\x00\x01\x00\x81z\x02\xff")); /* 2 nodes, 1 there */
    assert_false(RESTORES("\x12\x01\x02\x0a\x0a\x00\x00\x00\x01\x00\x85z\x02\xff")); /* string long */
    assert_false(RESTORES("\x01\x02\x01x"));  /* a list of 2 with 1 */
    assert_false(RESTORES("\x01\x00"));       /* empty */
    /* sorted sets: NaN (text, binary), a score that is no number, a
     * member twice, pairs short, forged counts */
    assert_false(RESTORES("\x03\x01\x01x\xfd"));
    assert_false(RESTORES("\x03\x01\x01x\x03" "abc"));
    assert_false(RESTORES("\x03\x01\x01x\x00"));
    assert_true(RESTORES("\x03\x01\x01x\x01\x37"));
    assert_false(RESTORES("\x05\x01\x01x\x00\x00\x00\x00\x00\x00\xf8\x7f")); /* NaN */
    assert_false(RESTORES("\x05\x02\x01x\x00\x00\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x00\x00\x00\x00\xf0\x3f"));
    assert_false(RESTORES("\x05\x02\x01x\x00\x00\x00\x00\x00\x00\x00\x00"));
    assert_false(RESTORES("\x05\x81\x7f\xff\xff\xff\xff\xff\xff\xff\x01x\x00\x00\x00\x00\x00\x00\x00\x00"));
    assert_false(RESTORES("\x11\x0c\x0c\x00\x00\x00\x02\x00\x81\x61\x02\x81\x78\x02\xff")); /* "x" */
    assert_false(RESTORES("\x11\x0e\x0e\x00\x00\x00\x02\x00\x81\x61\x02\x83nan\x04\xff"));
    assert_false(RESTORES("\x11\x0a\x0a\x00\x00\x00\x01\x00\x81\x61\x02\xff")); /* odd */
    assert_false(RESTORES("\x11\x10\x10\x00\x00\x00\x04\x00\x81\x61\x02\x01\x01\x81\x61\x02\x02\x01\xff")); /* dup */
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

/* lzf_compress: what it writes decompresses to the input (random bytes,
 * runs, repeats near and past the 8 KB reach, lengths 0 to 70,000, the
 * longest match 264), shrinks what repeats, and says 0 when the output
 * would not fit. */
static void test_lzf_compress(void **state)
{
    (void)state;
    static unsigned char in[70000], packed[80000], back[70000];
    srand(12);
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(round < 10 ? round : rand() % (int)sizeof in);
        int kind = round % 4;
        for (size_t i = 0; i < n; i++) {
            if (kind == 0)
                in[i] = (unsigned char)rand(); /* incompressible */
            else if (kind == 1)
                in[i] = (unsigned char)(i % 7 == 0 ? rand() % 4 : 'x'); /* long runs */
            else if (kind == 2)
                in[i] = i >= 9000 && rand() % 5 ? in[i - 8192 - (size_t)(rand() % 3)] : (unsigned char)rand();
            else
                in[i] = (unsigned char)("value0" [i % 6] + (i / 97) % 3);
        }
        size_t z = lzf_compress(in, n, packed, sizeof packed);
        assert_true(z > 0 || n == 0);
        if (kind == 1 && n > 1000)
            assert_true(z < n / 4);
        assert_true(lzf_decompress_exact(packed, z, back, n));
        assert_memory_equal(back, in, n);
        if (n > 0 && kind == 0) /* random bytes do not fit in less than they are */
            assert_int_equal(lzf_compress(in, n, packed, n - 1), 0);
    }
}

/* serialize_dump_part and decoded_value_add_to: a hash, set, zset and list
 * of N elements sent as parts (each a valid payload of at most `count`
 * elements), the first built, the others added to it: the same
 * collection (a list in the same order); a part of another type is
 * refused. */
#define PARTS_N 5000

static void *parts_rebuilt(struct store *s, const struct entry *e, size_t count, size_t bytes)
{
    void *obj = NULL;
    enum value_type t = entry_type(e);
    uint64_t cursor = 0;
    int parts = 0;
    size_t total = 0;
    do {
        struct buf b;
        buf_init(&b);
        size_t elems;
        cursor = serialize_dump_part(e, cursor, count, bytes, &b, &elems);
        if (elems == 0) {
            assert_int_equal(b.len, 0);
            buf_free(&b);
            continue;
        }
        /* bounded: the count exactly for a list, within one scan step's
         * buckets for the others (a few dozen) */
        assert_true(elems <= count + (t == TYPE_LIST ? 0 : 256));
        total += elems;
        assert_true(serialize_payload_valid(b.data, b.len));
        struct decoded_value v;
        assert_true(serialize_decode(b.data, b.len, &v));
        assert_int_equal(v.type, t);
        if (!obj) {
            assert_true(decoded_value_build(s, &v, NULL));
            obj = v.object;
            v.object = NULL;
            decoded_value_free(&v);
        } else {
            assert_true(decoded_value_add_to(s, &v, t, &obj, NULL));
        }
        buf_free(&b);
        parts++;
    } while (cursor != 0);
    assert_true(parts >= (int)(PARTS_N / (count + 256)));
    assert_true(total >= PARTS_N);
    return obj;
}

static void test_parts_round_trip(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct hash *h = hash_create(s);
    struct set *st = NULL;
    struct zset *z = zset_create(s, PARTS_N, 0, &zset_default_limits);
    struct list *l = list_create(s);
    char *big = malloc(20000);
    memset(big, 'q', 20000);
    for (int i = 0; i < PARTS_N; i++) {
        char f[32], v[32];
        struct slice fs = { f, (size_t)snprintf(f, sizeof f, "f%d", i) };
        struct slice vs = { v, (size_t)snprintf(v, sizeof v, "%d", i * 7) };
        hash_set(s, &h, fs, i == 77 ? (struct slice){ big, 20000 } : vs, &hash_default_limits);
        if (!st)
            st = set_create(s, fs, PARTS_N, &set_default_limits);
        set_add(s, &st, fs, &set_default_limits);
        zset_set(s, &z, fs, i / 3.0, &zset_default_limits);
        list_push(s, &l, false, i == 99 ? (struct slice){ big, 19999 } : vs, &list_default_limits);
    }
    store_set_object(s, SL("h"), TYPE_HASH, h, 0);
    store_set_object(s, SL("s"), TYPE_SET, st, 0);
    store_set_object(s, SL("z"), TYPE_ZSET, z, 0);
    store_set_object(s, SL("l"), TYPE_LIST, l, 0);
    for (int round = 0; round < 2; round++) {
        size_t count = round == 0 ? 1000 : 64, bytes = round == 0 ? 64 * 1024 : 4096;
        struct hash *h2 = parts_rebuilt(s, store_peek(s, SL("h"), NOW), count, bytes);
        struct set *s2 = parts_rebuilt(s, store_peek(s, SL("s"), NOW), count, bytes);
        struct zset *z2 = parts_rebuilt(s, store_peek(s, SL("z"), NOW), count, bytes);
        struct list *l2 = parts_rebuilt(s, store_peek(s, SL("l"), NOW), count, bytes);
        assert_int_equal(hash_len(h2), PARTS_N);
        assert_int_equal(set_len(s2), PARTS_N);
        assert_int_equal(zset_len(z2), PARTS_N);
        assert_int_equal(list_len(l2), PARTS_N);
        for (int i = 0; i < PARTS_N; i++) {
            char f[32], v[32];
            struct slice fs = { f, (size_t)snprintf(f, sizeof f, "f%d", i) };
            struct slice vs = { v, (size_t)snprintf(v, sizeof v, "%d", i * 7) };
            struct slice got;
            assert_true(hash_get(h2, fs, &got));
            if (i == 77)
                assert_int_equal(got.len, 20000);
            else
                assert_true(got.len == vs.len && memcmp(got.ptr, vs.ptr, vs.len) == 0);
            assert_true(set_contains(s2, fs));
            double d;
            assert_true(zset_score(z2, fs, &d));
            assert_true(d == i / 3.0);
            assert_true(list_index(l2, i, &got));
            if (i == 99)
                assert_int_equal(got.len, 19999);
            else
                assert_true(got.len == vs.len && memcmp(got.ptr, vs.ptr, vs.len) == 0);
        }
        /* a part of another type is refused; the object stays the caller's */
        struct buf b;
        buf_init(&b);
        size_t elems;
        serialize_dump_part(store_peek(s, SL("s"), NOW), 0, 10, 1024, &b, &elems);
        struct decoded_value v;
        assert_true(serialize_decode(b.data, b.len, &v));
        void *obj = h2;
        assert_false(decoded_value_add_to(s, &v, TYPE_HASH, &obj, NULL));
        assert_ptr_equal(obj, h2);
        buf_free(&b);
        store_object_destroy(s, TYPE_HASH, h2);
        store_object_destroy(s, TYPE_SET, s2);
        store_object_destroy(s, TYPE_ZSET, z2);
        store_object_destroy(s, TYPE_LIST, l2);
    }
    free(big);
    store_destroy(s);
}

/* A collection of few huge elements in parts: each part bounded by the
 * bytes asked, within about one element (a hash's bucket, whose chain
 * may hold a few), an element bigger than the bound a part of its own;
 * rebuilt, the same collection. */
static void test_parts_bounded_by_bytes(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct hash *h = hash_create(s);
    struct list *l = list_create(s);
    enum { HASH_FIELDS = 40, FIELD_BYTES = 10000, LIST_ELEMS = 30, ELEM_BYTES = 20000, BOUND = 16384 };
    char *big = malloc(ELEM_BYTES);
    for (int i = 0; i < HASH_FIELDS; i++) {
        char f[32];
        memset(big, 'a' + i % 26, FIELD_BYTES);
        struct slice fs = { f, (size_t)snprintf(f, sizeof f, "f%d", i) };
        hash_set(s, &h, fs, (struct slice){ big, FIELD_BYTES }, &hash_default_limits);
    }
    for (int i = 0; i < LIST_ELEMS; i++) {
        memset(big, 'a' + i % 26, ELEM_BYTES);
        list_push(s, &l, false, (struct slice){ big, ELEM_BYTES }, &list_default_limits);
    }
    store_set_object(s, SL("h"), TYPE_HASH, h, 0);
    store_set_object(s, SL("l"), TYPE_LIST, l, 0);
    const char *keys[] = { "h", "l" };
    for (int k = 0; k < 2; k++) {
        const struct entry *e = store_peek(s, (struct slice){ keys[k], 1 }, NOW);
        bool is_list = entry_type(e) == TYPE_LIST;
        void *obj = NULL;
        uint64_t cursor = 0;
        size_t total = 0;
        int parts = 0;
        do {
            struct buf b;
            buf_init(&b);
            size_t elems;
            cursor = serialize_dump_part(e, cursor, 1000, BOUND, &b, &elems);
            if (elems == 0) {
                buf_free(&b);
                continue;
            }
            if (is_list)
                assert_int_equal(elems, 1); /* each bigger than the bound */
            else /* up to two buckets (a first step of one bucket, then one
                  * more): a few fields; all 40 when steps took 64 elements */
                assert_true(elems <= HASH_FIELDS / 4);
            total += elems;
            parts++;
            struct decoded_value v;
            assert_true(serialize_decode(b.data, b.len, &v));
            if (!obj) {
                assert_true(decoded_value_build(s, &v, NULL));
                obj = v.object;
                v.object = NULL;
                decoded_value_free(&v);
            } else {
                assert_true(decoded_value_add_to(s, &v, entry_type(e), &obj, NULL));
            }
            buf_free(&b);
        } while (cursor != 0);
        if (is_list) {
            assert_int_equal(parts, LIST_ELEMS);
            assert_int_equal(list_len(obj), LIST_ELEMS);
            for (int i = 0; i < LIST_ELEMS; i++) {
                struct slice got;
                assert_true(list_index(obj, i, &got));
                assert_int_equal(got.len, ELEM_BYTES);
                assert_int_equal(got.ptr[0], 'a' + i % 26);
            }
        } else {
            assert_true(total >= HASH_FIELDS);
            assert_int_equal(hash_len(obj), HASH_FIELDS);
            for (int i = 0; i < HASH_FIELDS; i++) {
                char f[32];
                struct slice got, fs = { f, (size_t)snprintf(f, sizeof f, "f%d", i) };
                assert_true(hash_get(obj, fs, &got));
                assert_int_equal(got.len, FIELD_BYTES);
                assert_int_equal(got.ptr[FIELD_BYTES - 1], 'a' + i % 26);
            }
        }
        store_object_destroy(s, entry_type(e), obj);
    }
    free(big);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64),
        cmocka_unit_test(test_lzf),
        cmocka_unit_test(test_lzf_compress),
        cmocka_unit_test(test_redis_payloads_decode),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_hash_round_trip),
        cmocka_unit_test(test_set_round_trip),
        cmocka_unit_test(test_redis_collections_decode),
        cmocka_unit_test(test_collections_refused),
        cmocka_unit_test(test_hash_ziplist),
        cmocka_unit_test(test_redis_list_zset_decode),
        cmocka_unit_test(test_list_round_trip),
        cmocka_unit_test(test_zset_round_trip),
        cmocka_unit_test(test_old_list_zset_forms),
        cmocka_unit_test(test_list_zset_refused),
        cmocka_unit_test(test_parts_round_trip),
        cmocka_unit_test(test_parts_bounded_by_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
