#include "shards/store/serialize.h"

#include <stdio.h>
#include <string.h>

#include "core/crc64.h"
#include "core/lzf.h"

/* The first byte of a length: its top two bits say how it goes on. */
#define LEN_6BIT  0u   /* 00xxxxxx */
#define LEN_14BIT 1u   /* 01xxxxxx xxxxxxxx */
#define LEN_ENC   3u   /* 11xxxxxx: an encoded string, xxxxxx says which */
#define LEN_32BIT 0x80 /* then 4 bytes big-endian */
#define LEN_64BIT 0x81 /* then 8 bytes big-endian */

enum string_enc { ENC_INT8 = 0, ENC_INT16 = 1, ENC_INT32 = 2, ENC_LZF = 3 };

/* ------------------------------------------------------------ writing */

static void put_len(struct buf *out, uint64_t len)
{
    unsigned char b[9];
    size_t n;
    if (len < 64) {
        b[0] = (unsigned char)len;
        n = 1;
    } else if (len < 16384) {
        b[0] = (unsigned char)(0x40 | (len >> 8));
        b[1] = (unsigned char)(len & 0xff);
        n = 2;
    } else if (len <= UINT32_MAX) {
        b[0] = LEN_32BIT;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        n = 5;
    } else {
        b[0] = LEN_64BIT;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 9;
    }
    buf_append(out, b, n);
}

/* Is s the canonical decimal text of an integer within 32 bits (no sign
 * but '-', no leading zero, not "-0")? Then *v is its value. Redis encodes
 * exactly these strings as integers (rdbTryIntegerEncoding). */
static bool int32_text(const char *s, size_t len, int32_t *v)
{
    if (len == 0 || len > 11)
        return false;
    size_t i = 0;
    bool neg = s[0] == '-';
    if (neg)
        i = 1;
    if (i == len)
        return false;
    if (s[i] == '0' && (len - i > 1 || neg))
        return false;
    int64_t x = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    if (neg)
        x = -x;
    if (x < INT32_MIN || x > INT32_MAX)
        return false;
    *v = (int32_t)x;
    return true;
}

static void put_string(struct buf *out, const char *s, size_t len)
{
    int32_t v;
    if (int32_text(s, len, &v)) {
        unsigned char b[5];
        size_t n;
        if (v >= INT8_MIN && v <= INT8_MAX) {
            b[0] = 0xc0 | ENC_INT8;
            b[1] = (unsigned char)(int8_t)v;
            n = 2;
        } else if (v >= INT16_MIN && v <= INT16_MAX) {
            b[0] = 0xc0 | ENC_INT16;
            b[1] = (unsigned char)(v & 0xff);
            b[2] = (unsigned char)((v >> 8) & 0xff);
            n = 3;
        } else {
            uint32_t u = (uint32_t)v;
            b[0] = 0xc0 | ENC_INT32;
            for (int i = 0; i < 4; i++)
                b[1 + i] = (unsigned char)(u >> (8 * i));
            n = 5;
        }
        buf_append(out, b, n);
        return;
    }
    put_len(out, len);
    buf_append(out, s, len);
}

void serialize_object(const struct entry *e, struct buf *out)
{
    switch (entry_type(e)) {
    case TYPE_STRING: {
        unsigned char t = RDB_TYPE_STRING;
        buf_append(out, &t, 1);
        /* entry_value is writable access; this only reads */
        put_string(out, entry_value((struct entry *)e), entry_value_len(e));
        return;
    }
    }
}

void serialize_dump(const struct entry *e, struct buf *out)
{
    size_t start = out->len;
    serialize_object(e, out);
    unsigned char footer[SERIALIZE_FOOTER_LEN];
    footer[0] = SERIALIZE_RDB_VERSION & 0xff;
    footer[1] = (SERIALIZE_RDB_VERSION >> 8) & 0xff;
    buf_append(out, footer, 2);
    uint64_t crc = crc64(0, out->data + start, out->len - start);
    for (int i = 0; i < 8; i++)
        footer[2 + i] = (unsigned char)(crc >> (8 * i));
    buf_append(out, footer + 2, 8);
}

/* ------------------------------------------------------------ reading */

bool serialize_payload_version_ok(const char *p, size_t n)
{
    if (n < SERIALIZE_FOOTER_LEN)
        return false;
    const unsigned char *f = (const unsigned char *)p + n - SERIALIZE_FOOTER_LEN;
    return (f[0] | (unsigned)f[1] << 8) <= SERIALIZE_RDB_VERSION_MAX;
}

bool serialize_payload_valid(const char *p, size_t n)
{
    if (n < SERIALIZE_FOOTER_LEN)
        return false;
    const unsigned char *f = (const unsigned char *)p + n - SERIALIZE_FOOTER_LEN;
    unsigned version = f[0] | (unsigned)f[1] << 8;
    if (version > SERIALIZE_RDB_VERSION_MAX)
        return false;
    uint64_t want = 0;
    for (int i = 7; i >= 0; i--)
        want = (want << 8) | f[2 + i];
    return crc64(0, p, n - 8) == want;
}

/* A cursor over an object's bytes: every read is checked against end. */
struct reader {
    const unsigned char *p, *end;
};

static bool get_bytes(struct reader *r, size_t n, const unsigned char **out)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

/* An RDB length; *encoded set when the first byte says "encoded string"
 * (*len is then the encoding). */
static bool get_len(struct reader *r, uint64_t *len, bool *encoded)
{
    const unsigned char *b;
    if (!get_bytes(r, 1, &b))
        return false;
    *encoded = false;
    unsigned kind = b[0] >> 6;
    if (kind == LEN_6BIT) {
        *len = b[0] & 0x3f;
        return true;
    }
    if (kind == LEN_14BIT) {
        const unsigned char *c;
        if (!get_bytes(r, 1, &c))
            return false;
        *len = ((uint64_t)(b[0] & 0x3f) << 8) | c[0];
        return true;
    }
    if (kind == LEN_ENC) {
        *encoded = true;
        *len = b[0] & 0x3f;
        return true;
    }
    size_t width = b[0] == LEN_32BIT ? 4 : b[0] == LEN_64BIT ? 8 : 0;
    const unsigned char *c;
    if (width == 0 || !get_bytes(r, width, &c))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++)
        v = (v << 8) | c[i];
    *len = v;
    return true;
}

/* A plain length (not an encoded string) that fits the bytes left: the
 * one check that keeps a forged length from asking for gigabytes. */
static bool get_plain_len(struct reader *r, uint64_t *len)
{
    bool encoded;
    return get_len(r, len, &encoded) && !encoded;
}

/* An RDB string: *s points into the object when it is stored plain, else
 * into out, where it is made. */
static bool get_string(struct reader *r, struct slice *s, struct buf *out)
{
    uint64_t len;
    bool encoded;
    if (!get_len(r, &len, &encoded))
        return false;
    const unsigned char *b;
    if (!encoded) {
        if (!get_bytes(r, len, &b))
            return false;
        *s = (struct slice){ (const char *)b, (size_t)len };
        return true;
    }
    long long v;
    switch (len) {
    case ENC_INT8:
        if (!get_bytes(r, 1, &b))
            return false;
        v = (int8_t)b[0];
        break;
    case ENC_INT16:
        if (!get_bytes(r, 2, &b))
            return false;
        v = (int16_t)(uint16_t)(b[0] | (unsigned)b[1] << 8);
        break;
    case ENC_INT32:
        if (!get_bytes(r, 4, &b))
            return false;
        v = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        break;
    case ENC_LZF: {
        uint64_t clen, ulen;
        if (!get_plain_len(r, &clen) || !get_plain_len(r, &ulen) || !get_bytes(r, clen, &b))
            return false;
        /* LZF expands at most about 260 times (a 3-byte back reference
         * produces up to 264 bytes): a longer claim is forged, and is not
         * worth allocating for */
        if (ulen == 0 || ulen / 264 > clen)
            return false;
        char *dst = buf_reserve(out, (size_t)ulen);
        if (!lzf_decompress_exact(b, (size_t)clen, dst, (size_t)ulen))
            return false;
        out->len += (size_t)ulen;
        *s = (struct slice){ out->data, out->len };
        return true;
    }
    default:
        return false; /* Redis: "Unknown RDB string encoding type" */
    }
    char text[24];
    int n = snprintf(text, sizeof(text), "%lld", v);
    buf_append(out, text, (size_t)n);
    *s = (struct slice){ out->data, out->len };
    return true;
}

bool serialize_decode(const char *p, size_t n, struct decoded_value *v)
{
    v->type = TYPE_STRING;
    v->string = (struct slice){ "", 0 };
    buf_init(&v->own);
    if (n < SERIALIZE_FOOTER_LEN)
        return false;
    struct reader r = { (const unsigned char *)p, (const unsigned char *)p + n - SERIALIZE_FOOTER_LEN };
    const unsigned char *t;
    if (!get_bytes(&r, 1, &t))
        return false;
    bool ok = false;
    switch (t[0]) {
    case RDB_TYPE_STRING:
        v->type = TYPE_STRING;
        ok = get_string(&r, &v->string, &v->own);
        break;
    default:
        break;
    }
    if (!ok)
        decoded_value_free(v);
    return ok;
}

void decoded_value_store(struct store *s, struct slice key, struct decoded_value *v, int64_t expire_at_ms)
{
    switch (v->type) {
    case TYPE_STRING:
        store_set(s, key, v->string.ptr, v->string.len, expire_at_ms);
        break;
    }
    decoded_value_free(v);
}

void decoded_value_free(struct decoded_value *v)
{
    buf_free(&v->own);
    v->string = (struct slice){ "", 0 };
}
