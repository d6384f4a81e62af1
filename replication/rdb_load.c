/* rdb_load: a Redis master's full sync, on the replica's shard 0. After
 * +FULLRESYNC a redis-server sends its RDB file ($<len> then the bytes, or
 * diskless: $EOF:<40-byte mark>, the bytes, the mark again); it is read
 * here as it arrives, a record at a time from the link's input (never the
 * whole file in one buffer), and each key goes to the staging store of the
 * shard owning it here as an 'O' apply segment (repl.c: decoded and built
 * there, so the shards build the collections in parallel while shard 0
 * only finds where each record ends). The checksum is kept as the bytes go
 * and checked at the end: a damaged file aborts the staging stores, as
 * any cut sync does. The format is shards/store/rdb.h's (the opcodes Redis
 * 7 writes); a record that is not whole yet is tried again once the input
 * has doubled, so a big value is parsed a few times, not once a read. */
#include "replication/repl_state.h"

#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/crc64.h"
#include "core/log.h"
#include "core/numbers.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/serialize.h"
#include "shards/store/slot.h"

/* Redis's RDB opcodes (shards/store/rdb.c reads the same) */
enum {
    OP_FUNCTION2 = 245,
    OP_FUNCTION_PRE_GA = 246,
    OP_MODULE_AUX = 247,
    OP_IDLE = 248,
    OP_FREQ = 249,
    OP_AUX = 250,
    OP_RESIZEDB = 251,
    OP_EXPIRETIME_MS = 252,
    OP_EXPIRETIME = 253,
    OP_SELECTDB = 254,
    OP_EOF = 255,
};

#define MARK_LEN 40
/* the smallest step a record not yet whole waits for before its next try */
#define RETRY_STEP (64u << 10)

enum rdb_phase { PH_HEADER, PH_RECORDS, PH_CHECKSUM, PH_MARK, PH_DONE };

struct rdb_in {
    bool           eof_form;       /* diskless: ends with the mark */
    char           mark[MARK_LEN];
    uint64_t       left;           /* $<len>: the file's bytes still to come */
    uint64_t       total;          /* $<len>: the file's length */
    enum rdb_phase phase;
    unsigned       version;
    uint64_t       crc;            /* of every byte taken so far (but the checksum) */
    int64_t        expire_at;      /* the next key's (0: none) */
    int            db;             /* the database of the keys that follow (SELECTDB) */
    int            stream_db;      /* AUX repl-stream-db: the stream's database after the file */
    size_t         retry_at;       /* an unfinished record: try again when this much waits */
    size_t         record_max;     /* one record's bytes at most */
    uint64_t       keys;
    uint64_t       bytes;
    struct buf     libs;           /* FUNCTION2 libraries: u32 length, code */
    struct buf     scratch;        /* a key or AUX string that had to be made (LZF, integer) */
};

struct rdb_in *rdb_in_start(struct shard *sh, const char *line, size_t len, char *err, size_t errlen)
{
    /* line: "$<len>" or "$EOF:<mark>", without its CRLF */
    struct rdb_in *x = mi_zalloc(sizeof *x);
    buf_init(&x->libs);
    buf_init(&x->scratch);
    if (len == 5 + MARK_LEN && memcmp(line, "$EOF:", 5) == 0) {
        x->eof_form = true;
        memcpy(x->mark, line + 5, MARK_LEN);
    } else {
        long long n;
        if (len < 2 || !parse_ll((struct slice){ line + 1, len - 1 }, &n) || n < 9 + 1) {
            snprintf(err, errlen, "Bad protocol from MASTER, the first byte is not '$' (we received '%.*s')",
                     (int)(len > 60 ? 60 : len), line);
            mi_free(x);
            return NULL;
        }
        x->left = (uint64_t)n;
        x->total = (uint64_t)n;
    }
    /* one key's record at most proto-max-bulk-len bytes (512 MB by
     * default): a record is held whole in the link's input while it is
     * checked */
    x->record_max = (size_t)config_load(&sh->node->config, proto_max_bulk_len);
    if (x->record_max < (1u << 20))
        x->record_max = 1u << 20;
    return x;
}

void rdb_in_free(struct rdb_in *x)
{
    if (!x)
        return;
    buf_free(&x->libs);
    buf_free(&x->scratch);
    mi_free(x);
}

uint64_t rdb_in_keys(const struct rdb_in *x) { return x->keys; }
int rdb_in_stream_db(const struct rdb_in *x) { return x->stream_db; }
uint64_t rdb_in_bytes(const struct rdb_in *x) { return x->bytes; }
int64_t rdb_in_total(const struct rdb_in *x) { return x->eof_form ? -1 : (int64_t)x->total; }

size_t rdb_in_wants(const struct rdb_in *x) { return x->retry_at; }

const struct buf *rdb_in_libraries(const struct rdb_in *x) { return &x->libs; }

static uint64_t le_bytes(const unsigned char *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

/* Is the rest of the file in p[0..n)? Then a record that does not parse
 * is bad, not cut. */
static bool file_whole(const struct rdb_in *x, const char *p, size_t n)
{
    if (!x->eof_form)
        return n >= x->left;
    return n >= MARK_LEN && memmem(p, n, x->mark, MARK_LEN) != NULL;
}

/* Take p[0..n) of the file: counted, in the checksum unless it is the
 * checksum itself. */
static void take(struct rdb_in *x, const char *p, size_t n, bool sum)
{
    if (sum)
        x->crc = crc64(x->crc, p, n);
    if (!x->eof_form)
        x->left -= n;
    x->bytes += n;
}

/* A part of fixed size not whole, and never to be: the file ended
 * ($<len>: what follows is the stream, not more of it). */
static bool cut_short(const struct rdb_in *x, const char *p, size_t n, char *err, size_t errlen)
{
    if (x->eof_form || !file_whole(x, p, n))
        return false;
    snprintf(err, errlen, "the master's RDB ends short (%llu bytes)", (unsigned long long)x->bytes + n);
    return true;
}

enum rec_result { REC_OK, REC_SHORT, REC_BAD };

/* Where a string value's body ends, without making it (an LZF one is
 * decompressed once, by its owner): a plain length and the bytes, or an
 * encoded integer, or LZF's compressed and original lengths and the
 * compressed bytes. false if p[0..n) does not hold it whole (or it is not
 * one: the owner finds out). */
static bool string_extent(const char *p, size_t n, size_t *used)
{
    const unsigned char *u = (const unsigned char *)p;
    uint64_t len, ulen;
    size_t h, h2;
    if (n < 1)
        return false;
    if (u[0] >> 6 != 3) {
        if (!serialize_get_len(p, n, &len, &h) || len > n - h)
            return false;
        *used = h + (size_t)len;
        return true;
    }
    switch (u[0] & 0x3f) {
    case 0: *used = 2; return n >= 2;
    case 1: *used = 3; return n >= 3;
    case 2: *used = 5; return n >= 5;
    case 3: /* LZF */
        if (!serialize_get_len(p + 1, n - 1, &len, &h) || !serialize_get_len(p + 1 + h, n - 1 - h, &ulen, &h2) ||
            len > n - 1 - h - h2 || ulen == 0 || ulen / 264 > len)
            return false;
        *used = 1 + h + h2 + (size_t)len;
        return true;
    default:
        return false;
    }
}

/* One record at p[0..n) (the file's bytes only): *used its length. A key
 * is queued to its owner. */
static enum rec_result record(struct shard *sh, struct repl_link *l, struct rdb_in *x, const char *p, size_t n,
                              size_t *used, char *err, size_t errlen)
{
    const unsigned char *u = (const unsigned char *)p;
    const char *end = p + n;
    if (n < 1)
        return REC_SHORT;
    unsigned op = u[0];
    const char *q = p + 1;
    uint64_t len, len2;
    size_t lu, lu2;
    struct slice a, b;
    switch (op) {
    case OP_EOF:
        *used = 1;
        x->phase = x->version >= 5 ? PH_CHECKSUM : (x->eof_form ? PH_MARK : PH_DONE);
        return REC_OK;
    case OP_AUX:
        buf_clear(&x->scratch);
        {
            struct buf own2;
            buf_init(&own2);
            bool ok = serialize_get_string(&q, end, &a, &x->scratch) && serialize_get_string(&q, end, &b, &own2);
            long long v;
            /* the database the master's stream is in after the file */
            if (ok && a.len == 14 && memcmp(a.ptr, "repl-stream-db", 14) == 0 && parse_ll(b, &v) && v >= 0 &&
                v < sh->ndbs)
                x->stream_db = (int)v;
            buf_free(&own2);
            if (!ok)
                return REC_SHORT;
        }
        *used = (size_t)(q - p);
        return REC_OK;
    case OP_SELECTDB:
        if (!serialize_get_len(q, (size_t)(end - q), &len, &lu))
            return REC_SHORT;
        if (len >= (uint64_t)sh->ndbs) {
            snprintf(err, errlen, "the master's RDB holds keys of database %llu, and ringkv has %d here (databases)",
                     (unsigned long long)len, sh->ndbs);
            return REC_BAD;
        }
        x->db = (int)len;
        *used = 1 + lu;
        return REC_OK;
    case OP_RESIZEDB:
        if (!serialize_get_len(q, (size_t)(end - q), &len, &lu) ||
            !serialize_get_len(q + lu, (size_t)(end - q) - lu, &len2, &lu2))
            return REC_SHORT;
        *used = 1 + lu + lu2;
        return REC_OK;
    case OP_EXPIRETIME_MS:
    case OP_EXPIRETIME: {
        size_t w = op == OP_EXPIRETIME_MS ? 8 : 4;
        if (n < 1 + w)
            return REC_SHORT;
        int64_t t = (int64_t)le_bytes(u + 1, (int)w);
        x->expire_at = op == OP_EXPIRETIME_MS ? t : t * 1000;
        *used = 1 + w;
        return REC_OK;
    }
    case OP_FREQ:
        if (n < 2)
            return REC_SHORT;
        *used = 2;
        return REC_OK;
    case OP_IDLE:
        if (!serialize_get_len(q, (size_t)(end - q), &len, &lu))
            return REC_SHORT;
        *used = 1 + lu;
        return REC_OK;
    case OP_FUNCTION2:
        buf_clear(&x->scratch);
        if (!serialize_get_string(&q, end, &a, &x->scratch))
            return REC_SHORT;
        {
            uint32_t cl = (uint32_t)a.len;
            buf_append(&x->libs, &cl, 4);
            buf_append(&x->libs, a.ptr, a.len);
        }
        *used = (size_t)(q - p);
        return REC_OK;
    case OP_FUNCTION_PRE_GA:
        snprintf(err, errlen, "the master's RDB holds a function library in the form of Redis 7.0's release "
                              "candidates, which ringkv does not read");
        return REC_BAD;
    case OP_MODULE_AUX:
        snprintf(err, errlen, "the master's RDB holds module data: ringkv has no modules");
        return REC_BAD;
    default:
        break;
    }
    /* a key: its type byte (op), the key, the value's body */
    buf_clear(&x->scratch);
    struct slice key;
    if (!serialize_get_string(&q, end, &key, &x->scratch))
        return REC_SHORT;
    const char *body = q;
    size_t bu = 0;
    if (op == RDB_TYPE_STRING) {
        if (!string_extent(body, (size_t)(end - body), &bu))
            return REC_SHORT; /* or bad: the caller knows once the file is whole */
    } else {
        /* a collection's walk finds where it ends, and checks it whole */
        struct decoded_value v;
        if (!serialize_decode_body(op, body, (size_t)(end - body), &v, &bu))
            return REC_SHORT;
        decoded_value_free(&v);
    }
    int owner = sh->node->nshards == 1 ? 0 : shard_of_slot(sh->node, key_slot(key.ptr, key.len));
    replica_apply_db(l, owner, x->db);
    apply_put_object(&l->apply[owner], &l->apply_open[owner], key, x->expire_at, op, body, bu);
    x->expire_at = 0;
    x->keys++;
    *used = (size_t)(body + bu - p);
    return REC_OK;
}

enum rdb_in_status rdb_in_data(struct shard *sh, struct repl_link *l, struct rdb_in *x, const char *p, size_t n,
                               size_t budget, size_t *used_out, char *err, size_t errlen)
{
    size_t used = 0;
    /* the file's bytes in p: with $<len>, what follows it is the stream */
    size_t avail = x->eof_form || x->phase == PH_DONE ? n : (n < x->left ? n : (size_t)x->left);
    if (x->retry_at && avail < x->retry_at && !file_whole(x, p, avail)) {
        *used_out = 0;
        return RDB_IN_MORE;
    }
    x->retry_at = 0;
    enum rdb_in_status st = RDB_IN_MORE;
    while (used < budget) {
        const char *q = p + used;
        size_t m = avail - used;
        if (x->phase == PH_HEADER) {
            if (m < 9) {
                if (cut_short(x, q, m, err, errlen))
                    st = RDB_IN_ERROR;
                break;
            }
            unsigned v = 0;
            bool ok = memcmp(q, "REDIS", 5) == 0;
            for (int i = 5; ok && i < 9; i++) {
                ok = q[i] >= '0' && q[i] <= '9';
                v = v * 10 + (unsigned)(q[i] - '0');
            }
            if (!ok || v < 1 || v > SERIALIZE_RDB_VERSION_MAX) {
                snprintf(err, errlen, ok ? "the master's RDB is of version %u, which ringkv does not read"
                                         : "the master sent no RDB file after $ (Wrong signature)", v);
                st = RDB_IN_ERROR;
                break;
            }
            x->version = v;
            take(x, q, 9, true);
            used += 9;
            x->phase = PH_RECORDS;
            continue;
        }
        if (x->phase == PH_CHECKSUM) {
            if (m < 8) {
                if (cut_short(x, q, m, err, errlen))
                    st = RDB_IN_ERROR;
                break;
            }
            uint64_t want = le_bytes((const unsigned char *)q, 8);
            if (want != 0 && want != x->crc) {
                snprintf(err, errlen, "the master's RDB has a wrong checksum");
                st = RDB_IN_ERROR;
                break;
            }
            take(x, q, 8, false);
            used += 8;
            x->phase = x->eof_form ? PH_MARK : PH_DONE;
            continue;
        }
        if (x->phase == PH_MARK) {
            if (m < MARK_LEN)
                break;
            if (memcmp(q, x->mark, MARK_LEN) != 0) {
                snprintf(err, errlen, "the master's diskless RDB does not end with its mark");
                st = RDB_IN_ERROR;
                break;
            }
            take(x, q, MARK_LEN, false);
            used += MARK_LEN;
            x->phase = PH_DONE;
            continue;
        }
        if (x->phase == PH_DONE) {
            if (!x->eof_form && x->left != 0) {
                snprintf(err, errlen, "the master's RDB has %llu bytes after its end", (unsigned long long)x->left);
                st = RDB_IN_ERROR;
            } else {
                st = RDB_IN_DONE;
            }
            break;
        }
        size_t ru = 0;
        enum rec_result rr = record(sh, l, x, q, m, &ru, err, errlen);
        if (rr == REC_BAD) {
            st = RDB_IN_ERROR;
            break;
        }
        if (rr == REC_SHORT) {
            if (file_whole(x, q, m)) {
                snprintf(err, errlen, "the master's RDB has a bad record at byte %llu", (unsigned long long)x->bytes);
                st = RDB_IN_ERROR;
            } else if (m > x->record_max) {
                snprintf(err, errlen, "a record of the master's RDB is larger than proto-max-bulk-len (%zu bytes)",
                         x->record_max);
                st = RDB_IN_ERROR;
            } else if (m > 0) {
                /* not whole yet: again when twice as much waits (counted
                 * from the record: the caller hands it first next time) */
                x->retry_at = m + (m > RETRY_STEP ? m : RETRY_STEP);
                if (x->retry_at > x->record_max + 1)
                    x->retry_at = x->record_max + 1;
            }
            break;
        }
        take(x, q, ru, true);
        used += ru;
    }
    if (x->phase == PH_DONE && st == RDB_IN_MORE) {
        if (!x->eof_form && x->left != 0) {
            snprintf(err, errlen, "the master's RDB has %llu bytes after its end", (unsigned long long)x->left);
            st = RDB_IN_ERROR;
        } else {
            st = RDB_IN_DONE;
        }
    }
    *used_out = used;
    return st;
}
