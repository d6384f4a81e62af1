/* digest: DEBUG DIGEST and DEBUG DIGEST-VALUE, Redis's SHA1 digest of the
 * dataset and of values, computed as Redis 7 computes it, so that ringkv
 * and redis-server holding the same data give the same 40 hex digits (a
 * test can compare a master with its replica, a node before and after a
 * reload, ringkv with Redis).
 *
 * Two ways of adding a piece of data d to a 20-byte digest D:
 *  - xor:  D ^= SHA1(d), where the order of the pieces does not matter
 *          (a set's members, the fields of a hash, the keys of the dataset);
 *  - mix:  D = SHA1(D ^ SHA1(d)), where it does (a list's elements, the
 *          parts of one key's digest).
 * A value's digest starts at zero and mixes its type as Redis numbers them
 * (a 32-bit big-endian integer: string 0, list 1, set 2, zset 3, hash 4,
 * stream 6), then:
 *  - string: mixes the bytes;
 *  - list: mixes each element, head to tail;
 *  - set: xors each member;
 *  - zset: xors, per member, a digest of its own (zero, mix the member,
 *    mix the score printed with "%.17g");
 *  - hash: xors, per field, a digest of its own (zero, mix the field, mix
 *    its value);
 *  - stream: mixes each entry's ID as "<ms>.<seq>" and then each field and
 *    value in order (the consumer groups are not part of it, as in Redis);
 * and a key with an expiry has "!!expire!!" xored in last (the time itself
 * is not part of it). DIGEST-VALUE answers that per key (zeros for a key
 * that is not there).
 * A key's digest is zero, mix the key name, then its value's as above; the
 * dataset's starts at zero and, for each database holding keys in
 * ascending order, mixes the database's number (a 32-bit big-endian
 * integer) in, then xors in the digests of its keys (an empty dataset is
 * 40 zeros): the same data in other databases has another digest. Each
 * shard sends, per database, the xor of its own keys' digests and the
 * merge puts them together: xor does not care which shard held what.
 * A key past its time that is not removed yet counts, as in Redis (its
 * digest walks the keys as they are held): both read the store with no
 * clock (now 0), which leaves it as it is. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/command.h"
#include "core/reply.h"
#include "core/resp.h"
#include "core/sha1.h"
#include "shards/commands/commands.h"
#include "shards/shard.h"
#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/set.h"
#include "shards/store/store.h"
#include "shards/store/stream.h"
#include "shards/store/zset.h"

#define DIGEST_LEN SHA1_DIGEST_LEN

/* digest ^= SHA1(p[0..n)) */
static void digest_xor(uint8_t digest[DIGEST_LEN], const void *p, size_t n)
{
    uint8_t h[DIGEST_LEN];
    sha1(p, n, h);
    for (int i = 0; i < DIGEST_LEN; i++)
        digest[i] ^= h[i];
}

/* digest = SHA1(digest ^ SHA1(p[0..n))) */
static void digest_mix(uint8_t digest[DIGEST_LEN], const void *p, size_t n)
{
    digest_xor(digest, p, n);
    uint8_t h[DIGEST_LEN];
    sha1(digest, DIGEST_LEN, h);
    memcpy(digest, h, DIGEST_LEN);
}

static void digest_mix_slice(uint8_t digest[DIGEST_LEN], struct slice s)
{
    digest_mix(digest, s.ptr, s.len);
}

/* Redis's numbers of the types (OBJ_STRING...), which its digest mixes. */
static uint32_t redis_type_number(enum value_type t)
{
    switch (t) {
    case TYPE_STRING: return 0;
    case TYPE_LIST: return 1;
    case TYPE_SET: return 2;
    case TYPE_ZSET: return 3;
    case TYPE_HASH: return 4;
    case TYPE_STREAM: return 6;
    }
    return 0;
}

static void set_member_visit(void *arg, struct slice member)
{
    digest_xor(arg, member.ptr, member.len);
}

static void hash_field_visit(void *arg, struct slice field, struct slice value)
{
    uint8_t own[DIGEST_LEN] = { 0 };
    digest_mix_slice(own, field);
    digest_mix_slice(own, value);
    digest_xor(arg, own, DIGEST_LEN);
}

static void zset_digest(uint8_t digest[DIGEST_LEN], const struct zset *z)
{
    struct zset_iter it;
    struct slice member;
    double score;
    if (zset_len(z) == 0)
        return;
    zset_iter_at(z, 0, false, &it);
    while (zset_iter_next(&it, &member, &score)) {
        char text[64];
        /* a zero score is "0": Redis keeps no negative zero in a zset */
        int n = snprintf(text, sizeof text, "%.17g", score == 0 ? 0.0 : score);
        uint8_t own[DIGEST_LEN] = { 0 };
        digest_mix_slice(own, member);
        digest_mix(own, text, (size_t)n);
        digest_xor(digest, own, DIGEST_LEN);
    }
}

static void stream_digest(uint8_t digest[DIGEST_LEN], const struct stream *st)
{
    struct stream_iter it;
    struct stream_entry e;
    stream_iter_init(&it, st, (struct stream_id){ 0, 0 }, (struct stream_id){ UINT64_MAX, UINT64_MAX }, false);
    while (stream_iter_next(&it, &e)) {
        char id[48];
        int n = snprintf(id, sizeof id, "%llu.%llu", (unsigned long long)e.id.ms, (unsigned long long)e.id.seq);
        digest_mix(digest, id, (size_t)n);
        size_t at = 0;
        for (size_t i = 0; i < e.nfields; i++) {
            struct slice f, v;
            stream_entry_pair(&e, &at, &f, &v);
            digest_mix_slice(digest, f);
            digest_mix_slice(digest, v);
        }
    }
}

/* Mix e's value (type, contents, whether it expires) into digest. */
static void value_digest(uint8_t digest[DIGEST_LEN], struct entry *e)
{
    uint32_t type = htonl(redis_type_number(entry_type(e)));
    digest_mix(digest, &type, sizeof type);
    const void *obj = entry_object(e);
    switch (entry_type(e)) {
    case TYPE_STRING:
        digest_mix(digest, entry_value(e), entry_value_len(e));
        break;
    case TYPE_LIST: {
        const struct list *l = obj;
        struct list_iter it;
        struct slice el;
        if (list_len(l) == 0)
            break;
        list_iter_at(l, 0, &it);
        while (list_iter_next(&it, &el))
            digest_mix_slice(digest, el);
        break;
    }
    case TYPE_SET:
        set_foreach(obj, set_member_visit, digest);
        break;
    case TYPE_ZSET:
        zset_digest(digest, obj);
        break;
    case TYPE_HASH:
        hash_foreach(obj, hash_field_visit, digest);
        break;
    case TYPE_STREAM:
        stream_digest(digest, obj);
        break;
    }
    if (entry_expire_at(e) != 0)
        digest_xor(digest, "!!expire!!", 10);
}

static void reply_hex(struct reply *r, const uint8_t digest[DIGEST_LEN])
{
    char hex[2 * DIGEST_LEN + 1];
    for (int i = 0; i < DIGEST_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    reply_simple(r, hex);
}

struct dataset_part {
    uint8_t digest[DIGEST_LEN];
    size_t  keys;
};

static void key_visit(void *arg, struct entry *e)
{
    struct dataset_part *p = arg;
    uint8_t d[DIGEST_LEN] = { 0 };
    digest_mix(d, entry_key(e), entry_key_len(e));
    value_digest(d, e);
    digest_xor(p->digest, d, DIGEST_LEN);
    p->keys++;
}

static void hex_of(char out[2 * DIGEST_LEN + 1], const uint8_t digest[DIGEST_LEN])
{
    for (int i = 0; i < DIGEST_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* " <db>:<hex>" of one database's keys here, when it has any. */
static void db_part(struct buf *out, struct store *s, int db)
{
    struct dataset_part p = { { 0 }, 0 };
    uint64_t cursor = 0;
    do
        cursor = store_scan(s, cursor, 1024, 0, key_visit, &p);
    while (cursor != 0);
    if (p.keys == 0)
        return;
    char hex[2 * DIGEST_LEN + 1];
    hex_of(hex, p.digest);
    buf_printf(out, " %d:%s", db, hex);
}

/* DEBUG DIGEST, on every shard: +<db>:<hex>, space-separated, for each
 * database holding keys here (the xor of its keys' digests), or + alone
 * when the shard has no key (merge_debug_digest adds the parts). A lone
 * store (no shard: the unit tests') is its own database. */
void cmd_debug_digest(struct exec_ctx *ctx)
{
    if (ctx->argc != 2) {
        reply_errorf(ctx->reply, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                     (int)(ctx->argv[1].len > 128 ? 128 : ctx->argv[1].len), ctx->argv[1].ptr);
        return;
    }
    struct buf parts;
    buf_init(&parts);
    if (ctx->shard) {
        for (SHARD_EACH_DB(ctx->shard, d))
            db_part(&parts, ctx->shard->dbs[d], d);
    } else {
        db_part(&parts, ctx->store, store_db(ctx->store));
    }
    buf_append(&parts, "", 1);
    reply_simple(ctx->reply, parts.len > 1 ? parts.data + 1 : "");
    buf_free(&parts);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

struct db_digest {
    long    db;
    uint8_t digest[DIGEST_LEN];
};

static int by_db(const void *a, const void *b)
{
    long x = ((const struct db_digest *)a)->db, y = ((const struct db_digest *)b)->db;
    return x < y ? -1 : x > y;
}

/* Redis's computeDatasetDigest: from zero, for each database holding keys
 * in ascending order, mix its number (32-bit big-endian) in, then xor its
 * keys' digests. The shards' parts of one database are xored first (xor
 * does not care which shard held what). */
void merge_debug_digest(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    struct db_digest *dbs = NULL;
    size_t n = 0, cap = 0;
    const char *bad = NULL;
    for (int i = 0; i < in->nparts && !bad; i++) {
        const struct buf *b = &in->parts[i];
        /* "+\r\n" (no key) or "+<db>:<40 hex>[ <db>:<40 hex>...]\r\n" */
        if (b->len < 3 || b->data[0] != '+' || b->data[b->len - 2] != '\r') {
            bad = "ERR internal error: malformed reply from a shard";
            break;
        }
        const char *p = b->data + 1, *end = b->data + b->len - 2;
        while (p < end) {
            char *colon;
            long db = strtol(p, &colon, 10);
            if (colon == p || colon >= end || *colon != ':' || db < 0 || end - (colon + 1) < 2 * DIGEST_LEN) {
                bad = "ERR internal error: malformed reply from a shard";
                break;
            }
            size_t k = 0;
            while (k < n && dbs[k].db != db)
                k++;
            if (k == n) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    dbs = realloc(dbs, cap * sizeof *dbs);
                }
                dbs[n].db = db;
                memset(dbs[n].digest, 0, DIGEST_LEN);
                n++;
            }
            const char *h = colon + 1;
            for (int j = 0; j < DIGEST_LEN && !bad; j++) {
                int hi = hex_value(h[2 * j]), lo = hex_value(h[2 * j + 1]);
                if (hi < 0 || lo < 0)
                    bad = "ERR internal error: malformed reply from a shard";
                else
                    dbs[k].digest[j] ^= (uint8_t)(hi << 4 | lo);
            }
            p = h + 2 * DIGEST_LEN;
            if (p < end && *p++ != ' ')
                bad = "ERR internal error: malformed reply from a shard";
        }
    }
    if (bad) {
        free(dbs);
        reply_error(out, bad);
        return;
    }
    qsort(dbs, n, sizeof *dbs, by_db);
    uint8_t final[DIGEST_LEN] = { 0 };
    for (size_t k = 0; k < n; k++) {
        uint32_t id = htonl((uint32_t)dbs[k].db);
        digest_mix(final, &id, sizeof id);
        for (int j = 0; j < DIGEST_LEN; j++)
            final[j] ^= dbs[k].digest[j];
    }
    free(dbs);
    reply_hex(out, final);
}

/* DEBUG DIGEST-VALUE [key ...]: the keys' value digests, in order (the row
 * splits them by shard, merged by key). */
void cmd_debug_digest_value(struct exec_ctx *ctx)
{
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    for (int i = 2; i < ctx->argc; i++) {
        uint8_t d[DIGEST_LEN] = { 0 };
        struct entry *e = store_peek(ctx->store, ctx->argv[i], 0);
        if (e)
            value_digest(d, e);
        reply_hex(ctx->reply, d);
    }
}
