/* rdb: see rdb.h. */
#include "shards/store/rdb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/crc64.h"
#include "shards/store/serialize.h"
#include "ringkv_version.h"

/* Redis's opcodes (rdb.h there). */
enum {
    RDB_OP_FUNCTION_PRE_GA = 246,
    RDB_OP_MODULE_AUX      = 247,
    RDB_OP_IDLE            = 248,
    RDB_OP_FREQ            = 249,
    RDB_OP_AUX             = 250,
    RDB_OP_RESIZEDB        = 251,
    RDB_OP_EXPIRETIME_MS   = 252,
    RDB_OP_EXPIRETIME      = 253,
    RDB_OP_SELECTDB        = 254,
    RDB_OP_EOF             = 255,
    RDB_OP_FUNCTION2       = 245,
};

/* What one flush hands the kernel: big enough that the syscalls cost
 * nothing beside the serialization, small enough to stay in cache. */
#define FLUSH_BYTES (1u << 20)

/* ------------------------------------------------------------ writing */

static void flush_out(struct rdb_writer *w)
{
    const char *p = w->out.data;
    size_t n = w->out.len;
    if (w->checksum)
        w->crc = crc64(w->crc, p, n);
    while (n > 0 && !w->failed) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            w->failed = true;
            w->err = errno;
            break;
        }
        p += k;
        n -= (size_t)k;
    }
    w->bytes += w->out.len;
    buf_clear(&w->out);
}

static void put_byte(struct rdb_writer *w, unsigned char b)
{
    buf_append(&w->out, &b, 1);
}

static void put_aux(struct rdb_writer *w, const char *key, const char *value)
{
    put_byte(w, RDB_OP_AUX);
    serialize_put_file_string(&w->out, key, strlen(key), false);
    serialize_put_file_string(&w->out, value, strlen(value), false);
}

void rdb_write_begin(struct rdb_writer *w, int fd, bool compress, bool checksum, int64_t now_ms,
                     uint64_t used_memory)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->compress = compress;
    w->checksum = checksum;
    buf_init(&w->out);
    buf_init(&w->obj);
    char magic[16];
    snprintf(magic, sizeof magic, "REDIS%04d", SERIALIZE_RDB_VERSION);
    buf_append(&w->out, magic, 9);
    char text[32];
    /* the version ringkv answers as (INFO redis_version): tools read it */
    put_aux(w, "redis-ver", REDIS_COMPAT_VERSION);
    put_aux(w, "redis-bits", sizeof(void *) == 8 ? "64" : "32");
    snprintf(text, sizeof text, "%lld", (long long)(now_ms / 1000));
    put_aux(w, "ctime", text);
    snprintf(text, sizeof text, "%llu", (unsigned long long)used_memory);
    put_aux(w, "used-mem", text);
    put_aux(w, "aof-base", "0");
}

void rdb_write_db(struct rdb_writer *w, int db, uint64_t keys, uint64_t expires)
{
    put_byte(w, RDB_OP_SELECTDB);
    serialize_put_len(&w->out, (uint64_t)db);
    put_byte(w, RDB_OP_RESIZEDB);
    serialize_put_len(&w->out, keys);
    serialize_put_len(&w->out, expires);
}

void rdb_write_raw(struct rdb_writer *w, const void *p, size_t n)
{
    buf_append(&w->out, p, n);
}

static void put_entry(void *arg, struct entry *e)
{
    struct rdb_writer *w = arg;
    int64_t at = entry_expire_at(e);
    if (at > 0) {
        unsigned char b[9];
        b[0] = RDB_OP_EXPIRETIME_MS;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (unsigned char)((uint64_t)at >> (8 * i));
        buf_append(&w->out, b, 9);
    }
    if (entry_type(e) == TYPE_STRING) {
        /* written here only so that it may be compressed (rdbcompression) */
        put_byte(w, 0 /* RDB_TYPE_STRING */);
        serialize_put_file_string(&w->out, entry_key(e), entry_key_len(e), w->compress);
        serialize_put_file_string(&w->out, entry_value(e), entry_value_len(e), w->compress);
    } else {
        buf_clear(&w->obj);
        if (!serialize_object(e, &w->obj))
            return; /* a type with no serialization: not in the file, as not in a DUMP */
        put_byte(w, (unsigned char)w->obj.data[0]);
        serialize_put_file_string(&w->out, entry_key(e), entry_key_len(e), w->compress);
        buf_append(&w->out, w->obj.data + 1, w->obj.len - 1);
    }
    w->keys++;
    if (w->out.len >= FLUSH_BYTES)
        flush_out(w);
}

void rdb_write_store(struct rdb_writer *w, struct store *s, int64_t now_ms)
{
    uint64_t cursor = 0;
    do {
        cursor = store_scan(s, cursor, 1024, now_ms, put_entry, w);
    } while (cursor != 0 && !w->failed);
}

int rdb_write_end(struct rdb_writer *w)
{
    put_byte(w, RDB_OP_EOF);
    flush_out(w);
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(w->checksum ? w->crc >> (8 * i) : 0);
    buf_append(&w->out, b, 8);
    bool keep = w->checksum;
    w->checksum = false; /* the trailer is not part of what it sums */
    flush_out(w);
    w->checksum = keep;
    buf_free(&w->out);
    buf_free(&w->obj);
    if (w->failed) {
        errno = w->err;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ reading */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* An RDB string at p[*at..end): *at moved past it. */
static bool get_str(const char *p, size_t end, size_t *at, struct slice *s, struct buf *own)
{
    const char *q = p + *at;
    if (!serialize_get_string(&q, p + end, s, own))
        return false;
    *at = (size_t)(q - p);
    return true;
}

static uint64_t le_bytes(const unsigned char *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

int rdb_read(const char *p, size_t n, rdb_key_fn *fn, void *arg, struct rdb_read_info *info, char *err,
             size_t errlen)
{
    if (n < 9 || memcmp(p, "REDIS", 5) != 0)
        return fail(err, errlen, "Wrong signature trying to load DB from file");
    unsigned version = 0;
    for (int i = 5; i < 9; i++) {
        if (p[i] < '0' || p[i] > '9')
            return fail(err, errlen, "Wrong signature trying to load DB from file");
        version = version * 10 + (unsigned)(p[i] - '0');
    }
    if (version < 1 || version > SERIALIZE_RDB_VERSION_MAX)
        return fail(err, errlen, "Can't handle RDB format version %u", version);
    if (info) {
        info->version = version;
        info->keys = 0;
    }
    /* The checksum first (version 5 on has one): a damaged file is refused
     * before anything of it is believed. */
    const unsigned char *u = (const unsigned char *)p;
    size_t end = n;
    if (version >= 5) {
        if (n < 9 + 1 + 8)
            return fail(err, errlen, "Short read or OOM loading DB. Unrecoverable error, aborting now.");
        uint64_t want = le_bytes(u + n - 8, 8);
        if (want != 0 && crc64(0, p, n - 8) != want)
            return fail(err, errlen, "Wrong RDB checksum. Aborting now.");
        end = n - 8;
    }
    size_t at = 9;
    int64_t expire_at = 0;
    int db = 0; /* the database of the keys that follow (SELECTDB) */
    uint64_t databases = info && info->databases > 0 ? (uint64_t)info->databases : UINT64_C(1) << 31;
    struct buf own;
    buf_init(&own);
    int rc = -1;
    for (;;) {
        if (at >= end) {
            fail(err, errlen, "Short read or OOM loading DB. Unrecoverable error, aborting now.");
            break;
        }
        unsigned op = u[at++];
        size_t used;
        uint64_t len;
        struct slice a, b;
        if (op == RDB_OP_EOF) {
            if (at != end)
                fail(err, errlen, "Unexpected data after the end of the DB (%zu bytes)", end - at);
            else
                rc = 0;
            break;
        }
        if (op == RDB_OP_AUX) {
            /* two strings (a string may be an integer's or LZF's: made in own) */
            buf_clear(&own);
            struct buf own2;
            buf_init(&own2);
            bool ok = get_str(p, end, &at, &a, &own) && get_str(p, end, &at, &b, &own2);
            buf_free(&own2);
            if (!ok) {
                fail(err, errlen, "Bad AUX field at byte %zu", at);
                break;
            }
            continue;
        }
        if (op == RDB_OP_SELECTDB) {
            if (!serialize_get_len(p + at, end - at, &len, &used)) {
                fail(err, errlen, "Bad SELECTDB at byte %zu", at);
                break;
            }
            at += used;
            if (len >= databases) {
                /* Redis's words for a database it is not configured for */
                fail(err, errlen,
                     "FATAL: Data file was created with a Redis server configured to handle more than %llu "
                     "databases", (unsigned long long)databases);
                if (info) {
                    info->bad_db = true;
                    info->bad_db_number = len;
                }
                break;
            }
            db = (int)len;
            continue;
        }
        if (op == RDB_OP_RESIZEDB) {
            uint64_t l2;
            size_t u2;
            if (!serialize_get_len(p + at, end - at, &len, &used) ||
                !serialize_get_len(p + at + used, end - at - used, &l2, &u2)) {
                fail(err, errlen, "Bad RESIZEDB at byte %zu", at);
                break;
            }
            at += used + u2;
            continue;
        }
        if (op == RDB_OP_EXPIRETIME_MS || op == RDB_OP_EXPIRETIME) {
            int w = op == RDB_OP_EXPIRETIME_MS ? 8 : 4;
            if (end - at < (size_t)w) {
                fail(err, errlen, "Short read loading an expiry at byte %zu", at);
                break;
            }
            int64_t t = (int64_t)le_bytes(u + at, w);
            expire_at = op == RDB_OP_EXPIRETIME_MS ? t : t * 1000;
            at += (size_t)w;
            continue;
        }
        if (op == RDB_OP_FREQ) {
            if (end - at < 1) {
                fail(err, errlen, "Short read at byte %zu", at);
                break;
            }
            at += 1;
            continue;
        }
        if (op == RDB_OP_IDLE) {
            if (!serialize_get_len(p + at, end - at, &len, &used)) {
                fail(err, errlen, "Bad IDLE at byte %zu", at);
                break;
            }
            at += used;
            continue;
        }
        if (op == RDB_OP_FUNCTION2 && info && info->record) {
            struct slice code;
            buf_clear(&own);
            if (!get_str(p, end, &at, &code, &own)) {
                fail(err, errlen, "Bad function library at byte %zu", at);
                break;
            }
            if (!info->record(info->record_arg, op, code, err, errlen))
                break;
            continue;
        }
        if (op == RDB_OP_FUNCTION2 || op == RDB_OP_FUNCTION_PRE_GA) {
            fail(err, errlen, "The file holds a function library in a form ringkv does not read (FUNCTION DUMP "
                              "there and FUNCTION RESTORE here bring it over)");
            break;
        }
        if (op == RDB_OP_MODULE_AUX) {
            fail(err, errlen, "The file holds module data: ringkv has no modules");
            break;
        }
        /* a key: its type byte (op), the key, the body */
        buf_clear(&own);
        struct slice key;
        unsigned type = u[at - 1];
        size_t type_at = at - 1;
        if (!get_str(p, end, &at, &key, &own)) {
            fail(err, errlen, "Bad key at byte %zu", at);
            break;
        }
        struct decoded_value v;
        if (!serialize_decode_body(type, p + at, end - at, &v, &used)) {
            fail(err, errlen, "Bad value of type %u for key '%.*s' at byte %zu", type,
                 (int)(key.len > 64 ? 64 : key.len), key.ptr, type_at);
            break;
        }
        at += used;
        if (info)
            info->keys++;
        int64_t at_ms = expire_at;
        expire_at = 0;
        if (fn && !fn(arg, db, key, &v, at_ms)) {
            fail(err, errlen, "Could not load key '%.*s'", (int)(key.len > 64 ? 64 : key.len), key.ptr);
            break;
        }
        if (!fn)
            decoded_value_free(&v);
    }
    buf_free(&own);
    return rc;
}
