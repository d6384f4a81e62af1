/* libFuzzer target for the DUMP payload decoder (shards/store/serialize.h),
 * which RESTORE runs on whatever a client sends.
 *
 * The input is taken twice: as a whole payload (almost always refused by
 * its checksum, which must not crash either), and as an object given a
 * right footer, so that the decoder itself meets every byte the fuzzer
 * makes. Invariants checked: a refused object leaves nothing behind; an
 * accepted string decodes to at most what its bytes can produce (LZF
 * expands at most 88 times), stores, and dumps again to a payload that is
 * valid and decodes to the same bytes; an accepted collection (hash, set,
 * list, sorted set, stream) either builds (then it stores, dumps again and
 * decodes to as many elements; a stream's entries and groups hold together,
 * stream_check.h) or is refused for an element twice, storing nothing. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crc64.h"
#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/serialize.h"
#include "shards/store/set.h"
#include "shards/store/store.h"
#include "shards/store/zset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz_payload: check failed: %s (%s:%d)\n", #cond, \
                    __FILE__, __LINE__);                                        \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* after CHECK, which it uses */
#include "tests/fuzz/stream_check.h"

static size_t object_len(const struct entry *e)
{
    return store_object_len(entry_type(e), entry_object(e));
}

static void check_collection(struct decoded_value *v)
{
    CHECK(v->type == TYPE_HASH || v->type == TYPE_SET || v->type == TYPE_LIST || v->type == TYPE_ZSET ||
          v->type == TYPE_STREAM);
    CHECK(v->count > 0 || v->type == TYPE_STREAM); /* a stream may be empty */
    struct store *s = store_create(NULL, NULL, NULL);
    struct slice key = { "k", 1 };
    enum value_type t = v->type;
    uint64_t count = v->count;
    if (!decoded_value_store(s, key, v, 0)) {
        CHECK(v->object == NULL && v->own.data == NULL);
        CHECK(store_count(s) == 0);
        store_destroy(s);
        return;
    }
    struct entry *e = store_peek(s, key, 0);
    CHECK(e != NULL && entry_type(e) == t);
    CHECK(object_len(e) == count);
    if (t == TYPE_STREAM)
        check_stream(entry_object(e));
    struct buf again;
    buf_init(&again);
    CHECK(serialize_dump(e, &again));
    CHECK(serialize_payload_valid(again.data, again.len));
    struct decoded_value w;
    CHECK(serialize_decode(again.data, again.len, &w));
    CHECK(w.type == t && w.count == count);
    CHECK(decoded_value_store(s, (struct slice){ "k2", 2 }, &w, 0));
    buf_free(&again);
    store_destroy(s);
}

static void decode_and_check(const char *p, size_t n, size_t object_len)
{
    if (!serialize_payload_valid(p, n))
        return;
    struct decoded_value v;
    if (!serialize_decode(p, n, &v)) {
        CHECK(v.own.data == NULL);
        return;
    }
    if (v.type != TYPE_STRING) {
        check_collection(&v);
        return;
    }
    CHECK(v.string.len <= object_len * 88 + 24);
    /* a string not made by the decoder lies inside the payload */
    CHECK(v.own.data || v.string.len == 0 ||
          (v.string.ptr >= p && v.string.ptr + v.string.len <= p + n - SERIALIZE_FOOTER_LEN));
    struct buf copy;
    buf_init(&copy);
    buf_append(&copy, v.string.ptr, v.string.len);

    struct store *s = store_create(NULL, NULL, NULL);
    struct slice key = { "k", 1 };
    decoded_value_store(s, key, &v, 0);
    CHECK(v.own.data == NULL);
    struct entry *e = store_peek(s, key, 0);
    CHECK(e != NULL);
    struct buf again;
    buf_init(&again);
    serialize_dump(e, &again);
    CHECK(serialize_payload_valid(again.data, again.len));
    struct decoded_value w;
    CHECK(serialize_decode(again.data, again.len, &w));
    CHECK(w.string.len == copy.len);
    CHECK(copy.len == 0 || memcmp(w.string.ptr, copy.data, copy.len) == 0);
    decoded_value_free(&w);
    buf_free(&again);
    buf_free(&copy);
    store_destroy(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_and_check((const char *)data, size, size);

    /* the same bytes as an object, with a footer that is right */
    char *p = malloc(size + SERIALIZE_FOOTER_LEN);
    if (!p)
        return 0;
    if (size)
        memcpy(p, data, size);
    p[size] = SERIALIZE_RDB_VERSION;
    p[size + 1] = 0;
    uint64_t crc = crc64(0, p, size + 2);
    for (int i = 0; i < 8; i++)
        p[size + 2 + i] = (char)(crc >> (8 * i));
    decode_and_check(p, size + SERIALIZE_FOOTER_LEN, size);
    free(p);
    return 0;
}
