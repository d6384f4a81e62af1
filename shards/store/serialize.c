#include "shards/store/serialize.h"

#include <stdio.h>
#include <string.h>

#include "core/crc64.h"
#include "core/lzf.h"
#include "shards/store/hash.h"
#include "shards/store/set.h"

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

static void put_member(void *arg, struct slice m)
{
    put_string(arg, m.ptr, m.len);
}

static void put_pair(void *arg, struct slice field, struct slice value)
{
    put_string(arg, field.ptr, field.len);
    put_string(arg, value.ptr, value.len);
}

bool serialize_object(const struct entry *e, struct buf *out)
{
    unsigned char t;
    const void *obj = entry_object(e);
    switch (entry_type(e)) {
    case TYPE_STRING:
        t = RDB_TYPE_STRING;
        buf_append(out, &t, 1);
        /* entry_value is writable access; this only reads */
        put_string(out, entry_value((struct entry *)e), entry_value_len(e));
        return true;
    case TYPE_HASH:
        /* the plain form whatever our encoding: Redis converts it on load
         * by its own thresholds, and our listpack is not Redis's */
        t = RDB_TYPE_HASH;
        buf_append(out, &t, 1);
        put_len(out, hash_len(obj));
        hash_foreach(obj, put_pair, out);
        return true;
    case TYPE_SET:
        t = RDB_TYPE_SET;
        buf_append(out, &t, 1);
        put_len(out, set_len(obj));
        set_foreach(obj, put_member, out);
        return true;
    case TYPE_LIST: /* RDB_TYPE_LIST_QUICKLIST_2 goes here when lists land */
    case TYPE_ZSET: /* RDB_TYPE_ZSET_2 goes here when sorted sets land */
        break;
    }
    return false;
}

bool serialize_dump(const struct entry *e, struct buf *out)
{
    size_t start = out->len;
    if (!serialize_object(e, out))
        return false;
    unsigned char footer[SERIALIZE_FOOTER_LEN];
    footer[0] = SERIALIZE_RDB_VERSION & 0xff;
    footer[1] = (SERIALIZE_RDB_VERSION >> 8) & 0xff;
    buf_append(out, footer, 2);
    uint64_t crc = crc64(0, out->data + start, out->len - start);
    for (int i = 0; i < 8; i++)
        footer[2 + i] = (unsigned char)(crc >> (8 * i));
    buf_append(out, footer + 2, 8);
    return true;
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

/* ---- collections ----
 * A collection's body is checked whole by serialize_decode (every length,
 * every element, without a store) and walked again by decoded_value_build
 * to make the object: both walks are walk_elements, so what was checked is
 * what is built. */

/* Where a walk puts elements it has to make (integers as text, LZF): two
 * of each, used in turn, so a hash's field is still there with its value. */
struct made {
    struct buf bytes[2];
    char       text[2][24];
};

typedef bool element_fn(void *arg, struct slice elem);

static int64_t get_le(const unsigned char *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    if (n < 8 && (v >> (8 * n - 1)) & 1) /* sign extension */
        v |= ~(uint64_t)0 << (8 * n);
    return (int64_t)v;
}

static struct slice int_text(char *text, int64_t v)
{
    int n = snprintf(text, 24, "%lld", (long long)v);
    return (struct slice){ text, (size_t)n };
}

/* The elements of an RDB_TYPE_SET / RDB_TYPE_HASH body: n RDB strings. */
static bool walk_strings(struct slice body, uint64_t n, struct made *m, element_fn *fn, void *arg)
{
    struct reader r = { (const unsigned char *)body.ptr, (const unsigned char *)body.ptr + body.len };
    for (uint64_t i = 0; i < n; i++) {
        struct buf *b = &m->bytes[i & 1];
        buf_clear(b);
        struct slice e;
        if (!get_string(&r, &e, b))
            return false;
        if (fn && !fn(arg, e))
            return false;
    }
    return true;
}

/* An intset (Redis's intset.h): u32 width (2, 4 or 8), u32 count, then
 * count integers of that width, little-endian, sorted and distinct. */
static bool walk_intset(struct slice blob, uint64_t *count, struct made *m, element_fn *fn, void *arg)
{
    const unsigned char *b = (const unsigned char *)blob.ptr;
    if (blob.len < 8)
        return false;
    uint64_t width = (uint64_t)get_le(b, 4) & 0xffffffffu, n = (uint64_t)get_le(b + 4, 4) & 0xffffffffu;
    if ((width != 2 && width != 4 && width != 8) || n == 0 || (blob.len - 8) / width != n ||
        (blob.len - 8) % width != 0)
        return false;
    int64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t v = get_le(b + 8 + i * width, (int)width);
        if (i > 0 && v <= prev)
            return false;
        prev = v;
        if (fn && !fn(arg, int_text(m->text[i & 1], v)))
            return false;
    }
    *count = n;
    return true;
}

/* The size of a listpack entry's back-length, for an entry of len bytes. */
static size_t lp_backlen_size(uint64_t len)
{
    return len < 128 ? 1 : len < 16383 ? 2 : len < 2097151 ? 3 : len < 268435455 ? 4 : 5;
}

/* A listpack (Redis's listpack.h): u32 total bytes, u16 count (65535:
 * unknown), the entries, then 0xff. An entry is its encoding (the first
 * byte says: a 7-bit unsigned, a 13, 16, 24, 32 or 64-bit signed integer,
 * or a string with a 6, 12 or 32-bit length), its data, then its length
 * again (backwards, 1 to 5 bytes: skipped). */
static bool walk_listpack(struct slice blob, uint64_t *count, struct made *m, element_fn *fn, void *arg)
{
    const unsigned char *p = (const unsigned char *)blob.ptr, *end = p + blob.len;
    if (blob.len < 7 || (uint64_t)get_le(p, 4) != blob.len || end[-1] != 0xff)
        return false;
    uint64_t said = (uint64_t)get_le(p + 4, 2) & 0xffff, n = 0;
    p += 6;
    end--; /* the terminator */
    while (p < end) {
        size_t left = (size_t)(end - p), hdr;
        uint64_t slen = 0;
        int64_t v = 0;
        bool is_int = true;
        unsigned char c = p[0];
        if ((c & 0x80) == 0) {
            v = c & 0x7f;
            hdr = 1;
        } else if ((c & 0xc0) == 0x80) {
            is_int = false;
            slen = c & 0x3f;
            hdr = 1;
        } else if ((c & 0xe0) == 0xc0) {
            hdr = 2;
            if (left < hdr)
                return false;
            v = ((int64_t)(c & 0x1f) << 8) | p[1];
            if (v >= 4096)
                v -= 8192;
        } else if ((c & 0xf0) == 0xe0) {
            is_int = false;
            hdr = 2;
            if (left < hdr)
                return false;
            slen = ((uint64_t)(c & 0x0f) << 8) | p[1];
        } else if (c == 0xf0) {
            is_int = false;
            hdr = 5;
            if (left < hdr)
                return false;
            slen = (uint64_t)get_le(p + 1, 4) & 0xffffffffu;
        } else if (c >= 0xf1 && c <= 0xf4) {
            static const size_t width[] = { 2, 3, 4, 8 };
            size_t w = width[c - 0xf1];
            hdr = 1 + w;
            if (left < hdr)
                return false;
            v = get_le(p + 1, (int)w);
        } else {
            return false; /* 0xf5..0xfe are no encoding; 0xff ends it early */
        }
        if (slen > left - hdr)
            return false;
        uint64_t len = hdr + slen;
        size_t back = lp_backlen_size(len);
        if (back > left - len)
            return false;
        struct slice e = is_int ? int_text(m->text[n & 1], v)
                                : (struct slice){ (const char *)p + hdr, (size_t)slen };
        if (fn && !fn(arg, e))
            return false;
        p += len + back;
        n++;
    }
    if (n == 0 || (said != 65535 && said != n))
        return false;
    *count = n;
    return true;
}

/* A ziplist (Redis 6 and older: RDB_TYPE_HASH_ZIPLIST): u32 total bytes,
 * u32 offset of the last entry (not needed going forward), u16 count
 * (65535: unknown), the entries, then 0xff. An entry is the previous
 * entry's length (1 byte, or 0xfe and 4 bytes), its encoding (a string
 * with a 6-bit, 14-bit big-endian or 32-bit big-endian length; an integer
 * of 8, 16, 24, 32 or 64 bits little-endian; or 0..12 in the byte
 * itself), then its data. */
static bool walk_ziplist(struct slice blob, uint64_t *count, struct made *m, element_fn *fn, void *arg)
{
    const unsigned char *p = (const unsigned char *)blob.ptr, *end = p + blob.len;
    if (blob.len < 11 || (uint64_t)get_le(p, 4) != blob.len || end[-1] != 0xff)
        return false;
    uint64_t said = (uint64_t)get_le(p + 8, 2) & 0xffff, n = 0;
    p += 10;
    end--;
    while (p < end) {
        size_t prev = p[0] == 0xfe ? 5 : 1;
        if ((size_t)(end - p) < prev + 1)
            return false;
        p += prev;
        size_t left = (size_t)(end - p), hdr = 1, w = 0;
        uint64_t slen = 0;
        bool is_int = true;
        int64_t v = 0;
        unsigned char c = p[0];
        switch (c >> 6) {
        case 0:
            is_int = false;
            slen = c & 0x3f;
            break;
        case 1:
            is_int = false;
            hdr = 2;
            if (left < hdr)
                return false;
            slen = ((uint64_t)(c & 0x3f) << 8) | p[1];
            break;
        case 2:
            is_int = false;
            hdr = 5;
            if (c != 0x80 || left < hdr)
                return false;
            slen = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4];
            break;
        default:
            if (c == 0xc0)
                w = 2;
            else if (c == 0xd0)
                w = 4;
            else if (c == 0xe0)
                w = 8;
            else if (c == 0xf0)
                w = 3;
            else if (c == 0xfe)
                w = 1;
            else if (c >= 0xf1 && c <= 0xfd)
                v = (c & 0x0f) - 1;
            else
                return false;
            hdr = 1 + w;
            if (left < hdr)
                return false;
            if (w)
                v = get_le(p + 1, (int)w);
            break;
        }
        if (slen > left - hdr)
            return false;
        struct slice e = is_int ? int_text(m->text[n & 1], v)
                                : (struct slice){ (const char *)p + hdr, (size_t)slen };
        if (fn && !fn(arg, e))
            return false;
        p += hdr + slen;
        n++;
    }
    if (n == 0 || (said != 65535 && said != n))
        return false;
    *count = n;
    return true;
}

/* Every element of v's body in order (a hash's field then its value);
 * false if the body is not what its type says or fn refused one. On
 * success v->count holds the elements (a hash: its fields). */
static bool walk_elements(struct decoded_value *v, element_fn *fn, void *arg)
{
    struct made m;
    buf_init(&m.bytes[0]);
    buf_init(&m.bytes[1]);
    uint64_t n = v->count;
    bool ok = false;
    switch (v->rdb_type) {
    case RDB_TYPE_SET:
        ok = walk_strings(v->body, n, &m, fn, arg);
        break;
    case RDB_TYPE_HASH:
        ok = walk_strings(v->body, n * 2, &m, fn, arg);
        break;
    case RDB_TYPE_SET_INTSET:
        ok = walk_intset(v->body, &n, &m, fn, arg);
        break;
    case RDB_TYPE_SET_LISTPACK:
        ok = walk_listpack(v->body, &n, &m, fn, arg);
        break;
    case RDB_TYPE_HASH_LISTPACK:
        ok = walk_listpack(v->body, &n, &m, fn, arg) && n % 2 == 0;
        n /= 2;
        break;
    case RDB_TYPE_HASH_ZIPLIST:
        ok = walk_ziplist(v->body, &n, &m, fn, arg) && n % 2 == 0;
        n /= 2;
        break;
    }
    buf_free(&m.bytes[0]);
    buf_free(&m.bytes[1]);
    if (ok)
        v->count = n;
    return ok;
}

/* The body of a collection of RDB type t at r: checked whole, kept in v. */
static bool get_collection(struct reader *r, unsigned t, struct decoded_value *v)
{
    v->rdb_type = (uint8_t)t;
    v->type = t == RDB_TYPE_HASH || t == RDB_TYPE_HASH_LISTPACK || t == RDB_TYPE_HASH_ZIPLIST ? TYPE_HASH
                                                                                            : TYPE_SET;
    if (t == RDB_TYPE_SET || t == RDB_TYPE_HASH) {
        uint64_t n;
        if (!get_plain_len(r, &n))
            return false;
        /* each element takes a byte at least: a count past the bytes there
         * are is forged, and never sizes anything */
        size_t left = (size_t)(r->end - r->p);
        if (n == 0 || n > left || (t == RDB_TYPE_HASH && n > left / 2))
            return false; /* an empty collection is no value (Redis refuses it too) */
        v->count = n;
        v->body = (struct slice){ (const char *)r->p, left };
    } else if (!get_string(r, &v->body, &v->own)) { /* the blob, LZF or not */
        return false;
    }
    return walk_elements(v, NULL, NULL);
}

bool serialize_decode(const char *p, size_t n, struct decoded_value *v)
{
    memset(v, 0, sizeof *v);
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
    case RDB_TYPE_SET:
    case RDB_TYPE_HASH:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_SET_LISTPACK:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_HASH_ZIPLIST:
        ok = get_collection(&r, t[0], v);
        break;
    case RDB_TYPE_LIST_QUICKLIST_2: /* lists: decode here when the store has them */
    case RDB_TYPE_ZSET_2:           /* sorted sets: here, and RDB_TYPE_ZSET_LISTPACK */
    case RDB_TYPE_ZSET_LISTPACK:
    default:
        break;
    }
    if (!ok)
        decoded_value_free(v);
    return ok;
}

/* Building a collection aside, element by element, by the thresholds its
 * commands use. */
struct builder {
    struct store             *s;
    const struct serialize_limits *lim;
    struct decoded_value     *v;
    struct slice              field; /* a hash's field, until its value comes */
    bool                      have_field;
};

static bool build_hash(void *arg, struct slice e)
{
    struct builder *b = arg;
    if (!b->have_field) {
        b->field = e;
        b->have_field = true;
        return true;
    }
    b->have_field = false;
    struct hash *h = b->v->object;
    bool fresh = hash_set(b->s, &h, b->field, e, &b->lim->hash);
    b->v->object = h;
    return fresh; /* a field twice: Redis refuses the payload */
}

static bool build_set(void *arg, struct slice e)
{
    struct builder *b = arg;
    if (!b->v->object)
        b->v->object = set_create(b->s, e, b->v->count, &b->lim->set);
    struct set *set = b->v->object;
    bool fresh = set_add(b->s, &set, e, &b->lim->set);
    b->v->object = set;
    return fresh;
}

bool decoded_value_build(struct store *s, struct decoded_value *v, const struct serialize_limits *lim)
{
    if (v->type == TYPE_STRING || v->object)
        return true;
    struct serialize_limits defaults = { hash_default_limits, set_default_limits };
    struct builder b = { s, lim ? lim : &defaults, v, { "", 0 }, false };
    v->store = s;
    if (v->type == TYPE_HASH)
        v->object = hash_create(s);
    if (!walk_elements(v, v->type == TYPE_HASH ? build_hash : build_set, &b)) {
        decoded_value_free(v);
        return false;
    }
    return true;
}

bool decoded_value_store(struct store *s, struct slice key, struct decoded_value *v, int64_t expire_at_ms)
{
    if (!decoded_value_build(s, v, NULL))
        return false;
    switch (v->type) {
    case TYPE_STRING:
        store_set(s, key, v->string.ptr, v->string.len, expire_at_ms);
        break;
    case TYPE_HASH:
    case TYPE_SET:
        store_set_object(s, key, v->type, v->object, expire_at_ms);
        v->object = NULL; /* the store's now */
        break;
    case TYPE_LIST:
    case TYPE_ZSET:
        break;
    }
    decoded_value_free(v);
    return true;
}

void decoded_value_free(struct decoded_value *v)
{
    if (v->object) {
        if (v->type == TYPE_HASH)
            hash_destroy(v->store, v->object);
        else if (v->type == TYPE_SET)
            set_destroy(v->store, v->object);
        v->object = NULL;
    }
    buf_free(&v->own);
    v->string = (struct slice){ "", 0 };
}
