#include "shards/store/serialize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crc64.h"
#include "core/lzf.h"
#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/set.h"
#include "shards/store/zset.h"

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

/* An RDB string written as it is (a blob: never taken for an integer). */
static void put_raw_string(struct buf *out, const char *s, size_t len)
{
    put_len(out, len);
    buf_append(out, s, len);
}

static void put_le(unsigned char *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* Is s the canonical decimal text of a 64-bit integer (Redis's string2ll:
 * no sign but '-', no leading zero, not "-0")? Listpacks keep exactly these
 * as integers. */
static bool int64_text(struct slice s, int64_t *v)
{
    if (s.len == 0 || s.len > 20)
        return false;
    size_t i = s.ptr[0] == '-' ? 1 : 0;
    if (i == s.len || (s.ptr[i] == '0' && (s.len - i > 1 || i == 1)))
        return false;
    uint64_t x = 0;
    for (; i < s.len; i++) {
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (s.ptr[0] == '-') {
        if (x > (uint64_t)INT64_MAX + 1)
            return false;
        *v = (int64_t)(0 - x);
    } else {
        if (x > (uint64_t)INT64_MAX)
            return false;
        *v = (int64_t)x;
    }
    return true;
}

/* ---- listpacks, as Redis lays them out (the reader's walk_listpack says
 * how): what Redis writes for lists and small sorted sets ---- */

/* An element's encoding (header) in h (at most 9 bytes); *data_len: the
 * bytes that follow it (0 for an integer). Returns the header's size. */
static size_t lp_header(struct slice e, unsigned char *h, size_t *data_len)
{
    int64_t v;
    *data_len = 0;
    if (int64_text(e, &v)) {
        if (v >= 0 && v <= 127) {
            h[0] = (unsigned char)v;
            return 1;
        }
        if (v >= -4096 && v <= 4095) {
            uint64_t u = (uint64_t)v & 0x1fff;
            h[0] = (unsigned char)(0xc0 | (u >> 8));
            h[1] = (unsigned char)(u & 0xff);
            return 2;
        }
        static const struct {
            int64_t lo, hi;
            unsigned char tag;
            int width;
        } ints[] = { { INT16_MIN, INT16_MAX, 0xf1, 2 },
                     { -8388608, 8388607, 0xf2, 3 },
                     { INT32_MIN, INT32_MAX, 0xf3, 4 },
                     { INT64_MIN, INT64_MAX, 0xf4, 8 } };
        for (size_t i = 0;; i++)
            if (v >= ints[i].lo && v <= ints[i].hi) {
                h[0] = ints[i].tag;
                put_le(h + 1, (uint64_t)v, ints[i].width);
                return 1 + (size_t)ints[i].width;
            }
    }
    *data_len = e.len;
    if (e.len < 64) {
        h[0] = (unsigned char)(0x80 | e.len);
        return 1;
    }
    if (e.len < 4096) {
        h[0] = (unsigned char)(0xe0 | (e.len >> 8));
        h[1] = (unsigned char)(e.len & 0xff);
        return 2;
    }
    h[0] = 0xf0;
    put_le(h + 1, e.len, 4);
    return 5;
}

static size_t lp_backlen_size(uint64_t len);

/* The bytes e takes in a listpack: header, data, back-length. */
static size_t lp_entry_size(struct slice e)
{
    unsigned char h[9];
    size_t data, hl = lp_header(e, h, &data);
    return hl + data + lp_backlen_size(hl + data);
}

static void lp_append(struct buf *lp, struct slice e)
{
    unsigned char h[9], back[5];
    size_t data, hl = lp_header(e, h, &data);
    buf_append(lp, h, hl);
    buf_append(lp, e.ptr, data);
    /* the entry's length again, 7 bits a byte, most significant first,
     * every byte but the first with its top bit set (read backwards) */
    uint64_t l = hl + data;
    size_t n = lp_backlen_size(l);
    for (size_t i = 0; i < n; i++) {
        back[i] = (unsigned char)((l >> (7 * (n - 1 - i))) & 127);
        if (i > 0)
            back[i] |= 128;
    }
    buf_append(lp, back, n);
}

static void lp_begin(struct buf *lp)
{
    buf_clear(lp);
    buf_append(lp, "\0\0\0\0\0\0", 6);
}

/* Close lp, holding count elements: terminator, total bytes, count. */
static void lp_end(struct buf *lp, size_t count)
{
    unsigned char end = 0xff;
    buf_append(lp, &end, 1);
    put_le((unsigned char *)lp->data, lp->len, 4);
    put_le((unsigned char *)lp->data + 4, count < 65535 ? count : 65535, 2);
}

/* A list as Redis 7.0 writes it (RDB_TYPE_LIST_QUICKLIST_2): the number of
 * nodes, then per node its container (PACKED: a listpack) and the listpack
 * as an RDB string. A node closes before it would pass 8 KB (what Redis's
 * default list-max-listpack-size, -2, gives its nodes); a longer element
 * gets a node of its own, as in Redis (which writes PLAIN nodes only for
 * elements past its 1 GB packed threshold, longer than any ringkv takes). */
#define QUICKLIST_NODE_PLAIN  1
#define QUICKLIST_NODE_PACKED 2
#define LIST_NODE_BYTES       8192

struct list_writer {
    struct buf  lp;     /* the node being filled */
    size_t      count;  /* its elements */
    struct buf  nodes;  /* the nodes closed so far */
    uint64_t    n_nodes;
};

static void list_node_close(struct list_writer *w)
{
    lp_end(&w->lp, w->count);
    put_len(&w->nodes, QUICKLIST_NODE_PACKED);
    put_raw_string(&w->nodes, w->lp.data, w->lp.len);
    w->n_nodes++;
    w->count = 0;
    lp_begin(&w->lp);
}

static void list_node_elem(void *arg, struct slice e)
{
    struct list_writer *w = arg;
    if (w->count > 0 && w->lp.len + lp_entry_size(e) + 1 > LIST_NODE_BYTES)
        list_node_close(w);
    lp_append(&w->lp, e);
    w->count++;
}

static void put_list(struct buf *out, const struct list *l)
{
    struct list_writer w = { .count = 0, .n_nodes = 0 };
    buf_init(&w.lp);
    buf_init(&w.nodes);
    lp_begin(&w.lp);
    list_visit(l, 0, SIZE_MAX, list_node_elem, &w);
    if (w.count > 0)
        list_node_close(&w);
    put_len(out, w.n_nodes);
    buf_append(out, w.nodes.data, w.nodes.len);
    buf_free(&w.lp);
    buf_free(&w.nodes);
}

/* A score as a listpack holds it (Redis's text of it, which the listpack
 * keeps as an integer when it is one): "inf", "-inf", "-0", whole numbers
 * in digits, others the shortest text that reads back exactly. */
static struct slice score_text(char *buf, double d)
{
    if (d == 0 && signbit(d)) {
        memcpy(buf, "-0", 2);
        return (struct slice){ buf, 2 };
    }
    return (struct slice){ buf, zset_format_score(buf, d) };
}

/* A sorted set as Redis writes it: a small one (our listpack encoding,
 * within the same limits as Redis's) as RDB_TYPE_ZSET_LISTPACK, member then
 * score in ascending order in one listpack; a big one as RDB_TYPE_ZSET_2,
 * a count then member and score (8 bytes, a little-endian double), from the
 * highest down as Redis writes it (its load then always inserts at the
 * head). */
static void put_zset(struct buf *out, const struct zset *z)
{
    struct zset_iter it;
    struct slice m;
    double d;
    unsigned char t;
    if (strcmp(zset_encoding(z), "listpack") == 0) {
        t = RDB_TYPE_ZSET_LISTPACK;
        buf_append(out, &t, 1);
        struct buf lp;
        buf_init(&lp);
        lp_begin(&lp);
        char text[ZSET_SCORE_TEXT];
        zset_iter_at(z, 0, false, &it);
        while (zset_iter_next(&it, &m, &d)) {
            lp_append(&lp, m);
            lp_append(&lp, score_text(text, d));
        }
        lp_end(&lp, 2 * zset_len(z));
        put_raw_string(out, lp.data, lp.len);
        buf_free(&lp);
        return;
    }
    t = RDB_TYPE_ZSET_2;
    buf_append(out, &t, 1);
    put_len(out, zset_len(z));
    zset_iter_at(z, 0, true, &it);
    while (zset_iter_next(&it, &m, &d)) {
        put_string(out, m.ptr, m.len);
        uint64_t bits;
        unsigned char b[8];
        memcpy(&bits, &d, 8);
        put_le(b, bits, 8);
        buf_append(out, b, 8);
    }
}

/* ---- streams, as Redis 7.0 writes them (RDB_TYPE_STREAM_LISTPACKS_2) ---- */

static void lp_append_int(struct buf *lp, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)v);
    lp_append(lp, (struct slice){ text, (size_t)n });
}

/* A stream ID as Redis keys its radix tree and its PELs: 16 bytes,
 * ms then seq, big-endian. */
static void put_stream_key(unsigned char *b, struct stream_id id)
{
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(id.ms >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(id.seq >> (56 - 8 * i));
    }
}

/* One node as Redis's listpack: the master entry (live count, deleted
 * count, the master fields: its first entry's, and a 0), then each entry:
 * flags (deleted, same fields as the master), the ID's distance from the
 * master ID, the fields unless the same, the values, and the count of the
 * entry's elements (for walking it backwards). */
static void put_stream_node(struct buf *out, struct buf *lp, const struct stream_node_view *v)
{
    size_t off = 0, elems = 0;
    struct stream_entry first, e;
    bool deleted;
    lp_begin(lp);
    stream_node_entry(v, &off, &first, &deleted);
    lp_append_int(lp, v->live);
    lp_append_int(lp, v->deleted);
    lp_append_int(lp, (int64_t)first.nfields);
    size_t at = 0;
    for (size_t i = 0; i < first.nfields; i++) {
        struct slice f, val;
        stream_entry_pair(&first, &at, &f, &val);
        lp_append(lp, f);
    }
    lp_append_int(lp, 0);
    elems = 4 + first.nfields;
    for (off = 0; stream_node_entry(v, &off, &e, &deleted);) {
        bool same = e.nfields == first.nfields;
        size_t a = 0, b = 0;
        for (size_t i = 0; same && i < e.nfields; i++) {
            struct slice f1, v1, f2, v2;
            stream_entry_pair(&e, &a, &f1, &v1);
            stream_entry_pair(&first, &b, &f2, &v2);
            same = f1.len == f2.len && memcmp(f1.ptr, f2.ptr, f1.len) == 0;
        }
        lp_append_int(lp, (deleted ? 1 : 0) | (same ? 2 : 0));
        lp_append_int(lp, (int64_t)(e.id.ms - v->master.ms));
        lp_append_int(lp, (int64_t)(e.id.seq - v->master.seq));
        if (!same)
            lp_append_int(lp, (int64_t)e.nfields);
        a = 0;
        for (size_t i = 0; i < e.nfields; i++) {
            struct slice f, val;
            stream_entry_pair(&e, &a, &f, &val);
            if (!same)
                lp_append(lp, f);
            lp_append(lp, val);
        }
        size_t count = same ? e.nfields + 3 : 2 * e.nfields + 4;
        lp_append_int(lp, (int64_t)count);
        elems += 3 + (same ? 0 : 1) + (same ? 1 : 2) * e.nfields + 1;
    }
    lp_end(lp, elems);
    unsigned char key[16];
    put_stream_key(key, v->master);
    put_raw_string(out, (const char *)key, 16);
    put_raw_string(out, lp->data, lp->len);
}

static void put_stream(struct buf *out, const struct stream *st)
{
    unsigned char t = RDB_TYPE_STREAM_LISTPACKS_2;
    buf_append(out, &t, 1);
    put_len(out, stream_nodes(st));
    struct buf lp;
    buf_init(&lp);
    struct stream_node_view v;
    for (size_t i = 0; stream_node_at(st, i, &v); i++)
        if (v.live > 0)
            put_stream_node(out, &lp, &v);
    buf_free(&lp);
    struct stream_id last = stream_last_id(st), first = { 0, 0 }, maxdel = stream_max_deleted_id(st);
    stream_first_entry_id(st, &first);
    put_len(out, stream_len(st));
    put_len(out, last.ms);
    put_len(out, last.seq);
    put_len(out, first.ms);
    put_len(out, first.seq);
    put_len(out, maxdel.ms);
    put_len(out, maxdel.seq);
    put_len(out, stream_entries_added(st));
    /* the consumer groups: name, last delivered ID, entries read (-1 as
     * Redis writes it: 2^64 - 1), the PEL (each ID raw, 16 bytes, its last
     * delivery's time, 8 bytes little-endian, and its count), then the
     * consumers (name, seen time, their PEL's IDs) */
    put_len(out, stream_groups(st));
    for (size_t i = 0; i < stream_groups(st); i++) {
        const struct stream_group *g = stream_group_at(st, i);
        put_raw_string(out, g->name, g->name_len);
        put_len(out, g->last_id.ms);
        put_len(out, g->last_id.seq);
        put_len(out, (uint64_t)g->entries_read);
        put_len(out, g->pel_count);
        unsigned char raw[16];
        struct stream_id at = { 0, 0 };
        for (struct stream_nack *n = stream_pel_from(g, at); n; n = stream_pel_from(g, at)) {
            put_stream_key(raw, n->id);
            buf_append(out, raw, 16);
            put_le(raw, (uint64_t)n->delivery_time, 8);
            buf_append(out, raw, 8);
            put_len(out, n->delivery_count);
            at = n->id;
            if (!stream_id_incr(&at))
                break;
        }
        put_len(out, g->nconsumers);
        for (size_t k = 0; k < g->nconsumers; k++) {
            const struct stream_consumer *c = g->consumers[k];
            put_raw_string(out, c->name, c->name_len);
            put_le(raw, (uint64_t)c->seen_time, 8);
            buf_append(out, raw, 8);
            put_len(out, c->pel_count);
            struct stream_id cat = { 0, 0 };
            for (struct stream_nack *n = stream_consumer_pel_from(c, cat); n; n = stream_consumer_pel_from(c, cat)) {
                put_stream_key(raw, n->id);
                buf_append(out, raw, 16);
                cat = n->id;
                if (!stream_id_incr(&cat))
                    break;
            }
        }
    }
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
    case TYPE_LIST:
        t = RDB_TYPE_LIST_QUICKLIST_2;
        buf_append(out, &t, 1);
        put_list(out, obj);
        return true;
    case TYPE_ZSET:
        put_zset(out, obj);
        return true;
    case TYPE_STREAM:
        put_stream(out, obj);
        return true;
    }
    return false;
}

/* The footer of the object written at out->data + start: version, CRC-64. */
static void put_footer(struct buf *out, size_t start)
{
    unsigned char footer[SERIALIZE_FOOTER_LEN];
    footer[0] = SERIALIZE_RDB_VERSION & 0xff;
    footer[1] = (SERIALIZE_RDB_VERSION >> 8) & 0xff;
    buf_append(out, footer, 2);
    uint64_t crc = crc64(0, out->data + start, out->len - start);
    for (int i = 0; i < 8; i++)
        footer[2 + i] = (unsigned char)(crc >> (8 * i));
    buf_append(out, footer + 2, 8);
}

bool serialize_dump(const struct entry *e, struct buf *out)
{
    size_t start = out->len;
    if (!serialize_object(e, out))
        return false;
    put_footer(out, start);
    return true;
}

/* ------------------------------------------------------------ parts */

/* A part's elements, written as the plain form's body, counted. */
struct part_writer {
    struct buf body;
    uint64_t   n;
};

static void part_member(void *arg, struct slice m)
{
    struct part_writer *w = arg;
    put_string(&w->body, m.ptr, m.len);
    w->n++;
}

static void part_pair(void *arg, struct slice field, struct slice value)
{
    struct part_writer *w = arg;
    put_string(&w->body, field.ptr, field.len);
    put_string(&w->body, value.ptr, value.len);
    w->n++;
}

static void part_scored(void *arg, struct slice m, double d)
{
    struct part_writer *w = arg;
    put_string(&w->body, m.ptr, m.len);
    uint64_t bits;
    unsigned char b[8];
    memcpy(&bits, &d, 8);
    put_le(b, bits, 8);
    buf_append(&w->body, b, 8);
    w->n++;
}

/* The scan steps a part is gathered in: the byte bound is checked between
 * them. A step takes at most the elements that fit in the bytes left, by
 * the average size of those gathered (the first step one element), so a
 * part passes the bound by about one element (a hash's, set's or zset's
 * bucket) however big its elements are: 64 elements of 1 MB in a step
 * would pass it 256 times, and an element bigger than the bound is a part
 * of its own. */
#define PART_STEP 64

uint64_t serialize_dump_part(const struct entry *e, uint64_t cursor, size_t count, size_t bytes, struct buf *out,
                             size_t *elems)
{
    const void *obj = entry_object(e);
    enum value_type t = entry_type(e);
    struct part_writer w = { .n = 0 };
    buf_init(&w.body);
    struct list_writer lw = { .count = 0, .n_nodes = 0 };
    buf_init(&lw.lp);
    buf_init(&lw.nodes);
    lp_begin(&lw.lp);
    uint64_t next = cursor;
    bool first = true;
    *elems = 0;
    /* at least one element, unless the scan ends first (a hash's, set's
     * or zset's last buckets may be empty) */
    while ((first || next != 0) && (w.n == 0 || (w.n < count && w.body.len + lw.nodes.len + lw.lp.len < bytes))) {
        size_t step = w.n < count ? count - (size_t)w.n : 1;
        if (step > PART_STEP)
            step = PART_STEP;
        size_t have = w.body.len + lw.nodes.len + lw.lp.len;
        size_t fit = w.n == 0 ? 1 : (bytes - have) / (have / (size_t)w.n + 1);
        if (fit == 0)
            fit = 1;
        if (step > fit)
            step = fit;
        first = false;
        switch (t) {
        case TYPE_HASH:
            next = hash_scan(obj, next, step, part_pair, &w);
            break;
        case TYPE_SET:
            next = set_scan(obj, next, step, part_member, &w);
            break;
        case TYPE_ZSET:
            next = zset_scan(obj, next, step, part_scored, &w);
            break;
        case TYPE_LIST: {
            size_t end = list_visit(obj, (size_t)next, step, list_node_elem, &lw);
            w.n += end - (size_t)next;
            next = end >= list_len(obj) ? 0 : end;
            break;
        }
        default:
            next = 0;
            break;
        }
    }
    if (w.n > 0) {
        size_t start = out->len;
        unsigned char type = t == TYPE_HASH ? RDB_TYPE_HASH
                             : t == TYPE_SET ? RDB_TYPE_SET
                             : t == TYPE_ZSET ? RDB_TYPE_ZSET_2
                                              : RDB_TYPE_LIST_QUICKLIST_2;
        buf_append(out, &type, 1);
        if (t == TYPE_LIST) {
            if (lw.count > 0)
                list_node_close(&lw);
            put_len(out, lw.n_nodes);
            buf_append(out, lw.nodes.data, lw.nodes.len);
        } else {
            put_len(out, w.n);
            buf_append(out, w.body.data, w.body.len);
        }
        put_footer(out, start);
        *elems = (size_t)w.n;
    }
    buf_free(&w.body);
    buf_free(&lw.lp);
    buf_free(&lw.nodes);
    return next;
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
    struct buf node;        /* a quicklist's node, when it had to be made (LZF) */
    const unsigned char *end; /* a counted body: where its last element ended (a file's next object) */
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
    m->end = r.p;
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

/* A score's text (a listpack's or ziplist's, RDB_TYPE_ZSET's, or ours
 * made of a binary double) as a double: the whole text, not NaN. */
static bool score_parse(struct slice t, double *d)
{
    char text[128];
    if (t.len == 0 || t.len >= sizeof text)
        return false;
    memcpy(text, t.ptr, t.len);
    text[t.len] = 0;
    char *end;
    *d = strtod(text, &end);
    return end == text + t.len && !isnan(*d);
}

/* RDB_TYPE_ZSET_2's body: n of a member (an RDB string) and its score, 8
 * bytes of a little-endian double, handed on as member then the score's
 * exact text. */
static bool walk_zset_binary(struct slice body, uint64_t n, struct made *m, element_fn *fn, void *arg)
{
    struct reader r = { (const unsigned char *)body.ptr, (const unsigned char *)body.ptr + body.len };
    for (uint64_t i = 0; i < n; i++) {
        struct slice e;
        const unsigned char *b;
        buf_clear(&m->bytes[0]);
        if (!get_string(&r, &e, &m->bytes[0]) || !get_bytes(&r, 8, &b))
            return false;
        uint64_t bits = (uint64_t)get_le(b, 8);
        double d;
        memcpy(&d, &bits, 8);
        if (isnan(d))
            return false; /* Redis: "Zset with NAN score detected" */
        char text[32]; /* "-1.7976931348623157e+308" and its NUL: 25 */
        int len = snprintf(text, sizeof text, "%.17g", d);
        if (fn && (!fn(arg, e) || !fn(arg, (struct slice){ text, (size_t)len })))
            return false;
    }
    m->end = r.p;
    return true;
}

/* RDB_TYPE_ZSET's body (RDB 7 and older): n of a member and its score as
 * text: a length byte then the text, or 253, 254, 255 for NaN (refused),
 * inf and -inf. */
static bool walk_zset_text(struct slice body, uint64_t n, struct made *m, element_fn *fn, void *arg)
{
    struct reader r = { (const unsigned char *)body.ptr, (const unsigned char *)body.ptr + body.len };
    for (uint64_t i = 0; i < n; i++) {
        struct slice e, score;
        const unsigned char *b, *t;
        buf_clear(&m->bytes[0]);
        if (!get_string(&r, &e, &m->bytes[0]) || !get_bytes(&r, 1, &b))
            return false;
        if (b[0] == 254 || b[0] == 255)
            score = b[0] == 254 ? (struct slice){ "inf", 3 } : (struct slice){ "-inf", 4 };
        else if (b[0] == 253 || !get_bytes(&r, b[0], &t))
            return false;
        else
            score = (struct slice){ (const char *)t, b[0] };
        if (fn && (!fn(arg, e) || !fn(arg, score)))
            return false;
    }
    m->end = r.p;
    return true;
}

/* Is blob an empty listpack (zl: ziplist)? Redis skips such quicklist
 * nodes on load. */
static bool blob_empty(struct slice blob, bool zl)
{
    const unsigned char *p = (const unsigned char *)blob.ptr;
    size_t n = zl ? 11 : 7;
    return blob.len == n && (uint64_t)get_le(p, 4) == n && p[n - 1] == 0xff;
}

/* A quicklist's body: nodes of (v2: a container, PLAIN for one element
 * as an RDB string, PACKED for a listpack) a listpack, or (RDB_TYPE_LIST_
 * QUICKLIST, Redis 6 and older) a ziplist; each node an RDB string, maybe
 * LZF. Empty nodes are skipped, as Redis does; no element at all is no
 * list. */
static bool walk_quicklist(struct slice body, uint64_t nodes, bool v2, uint64_t *count, struct made *m,
                           element_fn *fn, void *arg)
{
    struct reader r = { (const unsigned char *)body.ptr, (const unsigned char *)body.ptr + body.len };
    uint64_t total = 0;
    for (uint64_t i = 0; i < nodes; i++) {
        uint64_t container = QUICKLIST_NODE_PACKED, n;
        if (v2 && (!get_plain_len(&r, &container) ||
                   (container != QUICKLIST_NODE_PLAIN && container != QUICKLIST_NODE_PACKED)))
            return false;
        struct slice blob;
        buf_clear(&m->node);
        if (!get_string(&r, &blob, &m->node))
            return false;
        if (container == QUICKLIST_NODE_PLAIN) {
            if (fn && !fn(arg, blob))
                return false;
            total++;
            continue;
        }
        if (blob_empty(blob, !v2))
            continue;
        if (!(v2 ? walk_listpack : walk_ziplist)(blob, &n, m, fn, arg))
            return false;
        total += n;
    }
    if (total == 0)
        return false;
    *count = total;
    m->end = r.p;
    return true;
}

/* A sorted set's elements come as member then score: a score that is no
 * number refuses the body, whoever walks it. */
struct scored {
    element_fn *fn;
    void       *arg;
    bool        member_seen;
};

static bool scored_element(void *arg, struct slice e)
{
    struct scored *z = arg;
    z->member_seen = !z->member_seen;
    double d;
    if (!z->member_seen && !score_parse(e, &d))
        return false;
    return !z->fn || z->fn(z->arg, e);
}

static bool is_zset_type(unsigned t)
{
    return t == RDB_TYPE_ZSET || t == RDB_TYPE_ZSET_2 || t == RDB_TYPE_ZSET_ZIPLIST || t == RDB_TYPE_ZSET_LISTPACK;
}

/* Every element of v's body in order (a hash's field then its value, a
 * sorted set's member then its score's text); false if the body is not what
 * its type says or fn refused one. On success v->count holds the elements
 * (a hash: its fields; a sorted set: its members). */
static bool walk_elements(struct decoded_value *v, element_fn *fn, void *arg)
{
    struct made m;
    buf_init(&m.bytes[0]);
    buf_init(&m.bytes[1]);
    buf_init(&m.node);
    m.end = NULL;
    struct scored z = { fn, arg, false };
    if (is_zset_type(v->rdb_type)) {
        fn = scored_element;
        arg = &z;
    }
    uint64_t n = v->count;
    bool ok = false;
    switch (v->rdb_type) {
    case RDB_TYPE_SET:
    case RDB_TYPE_LIST:
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
    case RDB_TYPE_ZSET_LISTPACK:
        ok = walk_listpack(v->body, &n, &m, fn, arg) && n % 2 == 0;
        n /= 2;
        break;
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_ZSET_ZIPLIST:
        ok = walk_ziplist(v->body, &n, &m, fn, arg) && n % 2 == 0;
        n /= 2;
        break;
    case RDB_TYPE_LIST_ZIPLIST:
        ok = walk_ziplist(v->body, &n, &m, fn, arg);
        break;
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        ok = walk_quicklist(v->body, v->nodes, v->rdb_type == RDB_TYPE_LIST_QUICKLIST_2, &n, &m, fn, arg);
        break;
    case RDB_TYPE_ZSET:
        ok = walk_zset_text(v->body, n, &m, fn, arg);
        break;
    case RDB_TYPE_ZSET_2:
        ok = walk_zset_binary(v->body, n, &m, fn, arg);
        break;
    }
    buf_free(&m.bytes[0]);
    buf_free(&m.bytes[1]);
    buf_free(&m.node);
    if (ok && m.end) /* a counted body ends where its last element did */
        v->body.len = (size_t)((const char *)m.end - v->body.ptr);
    if (ok)
        v->count = n;
    return ok;
}

/* What value an RDB type byte holds (a collection's). */
static enum value_type collection_type(unsigned t)
{
    switch (t) {
    case RDB_TYPE_HASH:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_HASH_ZIPLIST:
        return TYPE_HASH;
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        return TYPE_LIST;
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
        return TYPE_ZSET;
    default:
        return TYPE_SET;
    }
}

/* The least bytes one element (a hash: a pair; a quicklist: a node) of a
 * counted body takes, for checking a count against the bytes there are. */
static size_t element_min_bytes(unsigned t)
{
    switch (t) {
    case RDB_TYPE_HASH:
    case RDB_TYPE_ZSET:
    case RDB_TYPE_LIST_QUICKLIST_2:
        return 2;
    case RDB_TYPE_ZSET_2:
        return 9;
    default:
        return 1;
    }
}

/* The body of a collection of RDB type t at r: checked whole, kept in v. */
static bool get_collection(struct reader *r, unsigned t, struct decoded_value *v)
{
    v->rdb_type = (uint8_t)t;
    v->type = collection_type(t);
    if (t == RDB_TYPE_SET || t == RDB_TYPE_HASH || t == RDB_TYPE_LIST || t == RDB_TYPE_ZSET ||
        t == RDB_TYPE_ZSET_2 || t == RDB_TYPE_LIST_QUICKLIST || t == RDB_TYPE_LIST_QUICKLIST_2) {
        uint64_t n;
        if (!get_plain_len(r, &n))
            return false;
        /* each element takes some bytes at least: a count past the bytes
         * there are is forged, and never sizes anything */
        size_t left = (size_t)(r->end - r->p);
        if (n == 0 || n > left / element_min_bytes(t))
            return false; /* an empty collection is no value (Redis refuses it too) */
        v->count = v->nodes = n;
        v->body = (struct slice){ (const char *)r->p, left };
    } else if (!get_string(r, &v->body, &v->own)) { /* the blob, LZF or not */
        return false;
    } else {
        return walk_elements(v, NULL, NULL);
    }
    if (!walk_elements(v, NULL, NULL))
        return false;
    r->p = (const unsigned char *)v->body.ptr + v->body.len; /* the walk found where it ends */
    return true;
}

/* ---- streams ----
 * A stream's body (RDB_TYPE_STREAM_LISTPACKS and _2, _3) is walked twice,
 * as a collection's: checked whole by serialize_decode (no store), then
 * built by decoded_value_build; both are walk_stream. */

/* A node's listpack elements, copied out (integers as their text): offsets
 * and lengths into bytes. */
struct lp_elems {
    struct buf bytes;
    struct buf at; /* size_t offset, size_t length, per element */
};

static bool collect_elem(void *arg, struct slice e)
{
    struct lp_elems *l = arg;
    size_t pos[2] = { l->bytes.len, e.len };
    buf_append(&l->bytes, e.ptr, e.len);
    buf_append(&l->at, pos, sizeof pos);
    return true;
}

static struct slice elem_at(const struct lp_elems *l, size_t i)
{
    size_t pos[2];
    memcpy(pos, l->at.data + i * sizeof pos, sizeof pos);
    return (struct slice){ l->bytes.data + pos[0], pos[1] };
}

static bool elem_int(struct slice e, int64_t *v)
{
    return int64_text(e, v);
}

static bool get_stream_id(struct reader *r, struct stream_id *id)
{
    return get_plain_len(r, &id->ms) && get_plain_len(r, &id->seq);
}

/* One node's entries: fn(arg, id, pairs, nfields, deleted) for each, in
 * order. Its listpack is checked element by element against the layout
 * put_stream_node writes (Redis's). */
typedef bool stream_entry_fn(void *arg, struct stream_id id, const struct slice *fv, size_t nfields, bool deleted);

static bool walk_stream_node(struct stream_id master, struct slice lp, struct lp_elems *l, stream_entry_fn *fn,
                             void *arg, uint64_t *live)
{
    struct made m;
    buf_init(&m.bytes[0]);
    buf_init(&m.bytes[1]);
    buf_init(&m.node);
    buf_clear(&l->bytes);
    buf_clear(&l->at);
    uint64_t n;
    bool ok = walk_listpack(lp, &n, &m, collect_elem, l);
    buf_free(&m.bytes[0]);
    buf_free(&m.bytes[1]);
    buf_free(&m.node);
    if (!ok)
        return false;
    int64_t count, deleted, mfields, v;
    size_t i = 0;
    if (n < 4 || !elem_int(elem_at(l, 0), &count) || !elem_int(elem_at(l, 1), &deleted) ||
        !elem_int(elem_at(l, 2), &mfields) || count < 0 || deleted < 0 || mfields <= 0 ||
        (uint64_t)mfields > n - 4)
        return false;
    size_t mf = 3; /* the master fields start here */
    i = 3 + (size_t)mfields;
    if (!elem_int(elem_at(l, i), &v) || v != 0)
        return false;
    i++;
    struct slice *fv = NULL;
    size_t fv_cap = 0;
    int64_t seen_live = 0, seen_deleted = 0;
    ok = false;
    while (i < n) {
        int64_t flags, dms, dseq, nf;
        if (n - i < 4 || !elem_int(elem_at(l, i), &flags) || !elem_int(elem_at(l, i + 1), &dms) ||
            !elem_int(elem_at(l, i + 2), &dseq) || (flags & ~3))
            goto out;
        i += 3;
        bool same = (flags & 2) != 0;
        if (same) {
            nf = mfields;
        } else if (!elem_int(elem_at(l, i++), &nf) || nf <= 0) {
            goto out;
        }
        if ((uint64_t)nf > (n - i) / (same ? 1 : 2))
            goto out;
        if ((size_t)nf * 2 > fv_cap) {
            fv_cap = (size_t)nf * 2;
            free(fv);
            fv = malloc(fv_cap * sizeof *fv);
            if (!fv)
                abort();
        }
        for (int64_t k = 0; k < nf; k++) {
            fv[2 * k] = same ? elem_at(l, mf + (size_t)k) : elem_at(l, i++);
            fv[2 * k + 1] = elem_at(l, i++);
        }
        int64_t lpcount;
        if (i >= n || !elem_int(elem_at(l, i++), &lpcount) || lpcount != (same ? nf + 3 : 2 * nf + 4))
            goto out;
        struct stream_id id = { master.ms + (uint64_t)dms, master.seq + (uint64_t)dseq };
        if (flags & 1)
            seen_deleted++;
        else
            seen_live++;
        if (!fn(arg, id, fv, (size_t)nf, (flags & 1) != 0))
            goto out;
    }
    ok = seen_live == count && seen_deleted == deleted;
    *live += (uint64_t)seen_live;
out:
    free(fv);
    return ok;
}

struct stream_walk {
    struct store     *s;      /* NULL: check only */
    struct stream    *st;
    struct stream_limits lim;
    struct stream_id  prev;
    bool              any;
};

static bool stream_walk_entry(void *arg, struct stream_id id, const struct slice *fv, size_t nfields, bool deleted)
{
    struct stream_walk *w = arg;
    if (w->any && stream_id_cmp(id, w->prev) <= 0)
        return false; /* entries ascend, across nodes too */
    w->prev = id;
    w->any = true;
    if (!deleted && w->st)
        stream_append(w->s, w->st, id, fv, nfields, &w->lim);
    return true;
}

static struct stream_id raw_stream_id(const unsigned char *b)
{
    struct stream_id id = { 0, 0 };
    for (int k = 0; k < 8; k++) {
        id.ms = id.ms << 8 | b[k];
        id.seq = id.seq << 8 | b[8 + k];
    }
    return id;
}

/* One consumer group of a stream body: read (and checked); built into st
 * when there is one. Every pending entry belongs to one consumer, as
 * Redis requires. */
static bool get_stream_group(struct reader *r, unsigned rdb_type, struct store *s, struct stream *st)
{
    struct buf own;
    buf_init(&own);
    struct slice name;
    struct stream_id last;
    uint64_t entries_read = (uint64_t)STREAM_ENTRIES_READ_UNKNOWN, npel, nconsumers;
    const unsigned char *b;
    bool ok = false;
    struct stream_group *g = NULL;
    struct stream_consumer *nobody = NULL;
    if (!get_string(r, &name, &own) || !get_stream_id(r, &last))
        goto out;
    if (rdb_type != RDB_TYPE_STREAM_LISTPACKS && !get_plain_len(r, &entries_read))
        goto out;
    if (st) {
        g = stream_group_create(s, st, name, last, (int64_t)entries_read);
        if (!g)
            goto out; /* a group twice */
        /* the pending entries wait, owned by a placeholder, for the
         * consumer that lists them */
        nobody = stream_consumer_create(s, st, g, (struct slice){ "", 0 }, 0);
    }
    if (!get_plain_len(r, &npel) || npel > (size_t)(r->end - r->p) / 25)
        goto out;
    for (uint64_t k = 0; k < npel; k++) {
        uint64_t count;
        if (!get_bytes(r, 24, &b) || !get_plain_len(r, &count))
            goto out;
        struct stream_id id = raw_stream_id(b);
        if (g) {
            if (stream_pel_find(g, id))
                goto out;
            stream_pel_add(s, st, g, nobody, id, (int64_t)get_le(b + 16, 8), count);
        }
    }
    if (!get_plain_len(r, &nconsumers) || nconsumers > (size_t)(r->end - r->p) / 10)
        goto out;
    for (uint64_t k = 0; k < nconsumers; k++) {
        struct slice cname;
        uint64_t cpel;
        buf_clear(&own);
        if (!get_string(r, &cname, &own) || !get_bytes(r, 8, &b))
            goto out;
        int64_t seen = get_le(b, 8);
        if (rdb_type == RDB_TYPE_STREAM_LISTPACKS_3 && !get_bytes(r, 8, &b)) /* its active time */
            goto out;
        struct stream_consumer *c = NULL;
        if (g) {
            c = cname.len ? stream_consumer_create(s, st, g, cname, seen) : NULL;
            if (!c)
                goto out; /* a consumer twice (or nameless) */
        }
        if (!get_plain_len(r, &cpel) || cpel > (size_t)(r->end - r->p) / 16)
            goto out;
        for (uint64_t q = 0; q < cpel; q++) {
            if (!get_bytes(r, 16, &b))
                goto out;
            if (g) {
                struct stream_nack *n = stream_pel_find(g, raw_stream_id(b));
                if (!n || n->consumer != nobody)
                    goto out;
                stream_nack_move(n, c);
            }
        }
    }
    ok = !g || nobody->pel_count == 0;
out:
    if (g && nobody && ok)
        stream_consumer_delete(s, st, g, nobody);
    buf_free(&own);
    return ok;
}

/* v's stream body: checked (s NULL), or built into a stream of s. */
/* used NULL: the stream is the whole of v->body; else (an RDB file, where
 * the next key follows) *used gets the bytes it takes. */
static bool walk_stream(struct decoded_value *v, struct store *s, const struct stream_limits *lim, size_t *used)
{
    struct reader r = { (const unsigned char *)v->body.ptr, (const unsigned char *)v->body.ptr + v->body.len };
    struct stream_walk w = { s, NULL, *lim, { 0, 0 }, false };
    if (s)
        w.st = stream_create(s);
    struct lp_elems l;
    buf_init(&l.bytes);
    buf_init(&l.at);
    struct buf own;
    buf_init(&own);
    bool ok = false;
    uint64_t nodes, live = 0, length, groups;
    if (!get_plain_len(&r, &nodes) || nodes > (size_t)(r.end - r.p) / 2)
        goto out;
    for (uint64_t i = 0; i < nodes; i++) {
        struct slice key, lp;
        buf_clear(&own);
        if (!get_string(&r, &key, &own) || key.len != 16)
            goto out;
        struct stream_id master = { 0, 0 };
        for (int k = 0; k < 8; k++) {
            master.ms = master.ms << 8 | (unsigned char)key.ptr[k];
            master.seq = master.seq << 8 | (unsigned char)key.ptr[8 + k];
        }
        buf_clear(&own);
        if (!get_string(&r, &lp, &own) || !walk_stream_node(master, lp, &l, stream_walk_entry, &w, &live))
            goto out;
    }
    struct stream_id last, first = { 0, 0 }, maxdel = { 0, 0 };
    uint64_t added;
    if (!get_plain_len(&r, &length) || !get_stream_id(&r, &last) || length != live)
        goto out;
    if (v->rdb_type != RDB_TYPE_STREAM_LISTPACKS) {
        if (!get_stream_id(&r, &first) || !get_stream_id(&r, &maxdel) || !get_plain_len(&r, &added))
            goto out;
    } else {
        added = length; /* as Redis does for a stream written before 7.0 */
    }
    if (w.any && stream_id_cmp(w.prev, last) > 0)
        goto out; /* an entry past the last ID: XADD would break the order */
    if (w.st)
        stream_set_meta(w.st, last, added, maxdel);
    if (!get_plain_len(&r, &groups) || groups > (size_t)(r.end - r.p) / 4)
        goto out;
    for (uint64_t i = 0; i < groups; i++)
        if (!get_stream_group(&r, v->rdb_type, s, w.st))
            goto out;
    if (!used && r.p != r.end)
        goto out;
    if (used)
        *used = (size_t)(r.p - (const unsigned char *)v->body.ptr);
    v->count = length;
    ok = true;
out:
    buf_free(&l.bytes);
    buf_free(&l.at);
    buf_free(&own);
    if (w.st) {
        if (ok)
            v->object = w.st;
        else
            stream_destroy(s, w.st);
    }
    return ok;
}

bool serialize_decode(const char *p, size_t n, struct decoded_value *v)
{
    if (n < SERIALIZE_FOOTER_LEN) {
        serialize_decode_body(0, p, 0, v, NULL); /* leaves v empty, for decoded_value_free */
        return false;
    }
    return serialize_decode_object(p, n - SERIALIZE_FOOTER_LEN, v, NULL);
}

bool serialize_decode_object(const char *p, size_t n, struct decoded_value *v, size_t *used)
{
    if (n == 0) {
        serialize_decode_body(0, p, 0, v, NULL);
        return false;
    }
    bool ok = serialize_decode_body((unsigned char)p[0], p + 1, n - 1, v, used);
    if (ok && used)
        *used += 1;
    return ok;
}

bool serialize_decode_body(unsigned type, const char *p, size_t n, struct decoded_value *v, size_t *used)
{
    memset(v, 0, sizeof *v);
    v->type = TYPE_STRING;
    v->string = (struct slice){ "", 0 };
    buf_init(&v->own);
    struct reader r = { (const unsigned char *)p, (const unsigned char *)p + n };
    const unsigned char t[1] = { (unsigned char)type };
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
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
        ok = get_collection(&r, t[0], v);
        break;
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
    case RDB_TYPE_STREAM_LISTPACKS_3:
        v->type = TYPE_STREAM;
        v->rdb_type = t[0];
        v->body = (struct slice){ (const char *)r.p, (size_t)(r.end - r.p) };
        if (used) { /* in a file: the stream ends where its walk does */
            size_t body_used = 0;
            ok = walk_stream(v, NULL, &stream_default_limits, &body_used);
            v->body.len = body_used;
            r.p += body_used;
        } else {
            ok = walk_stream(v, NULL, &stream_default_limits, NULL);
            r.p = r.end;
        }
        break;
    default:
        break;
    }
    if (!ok)
        decoded_value_free(v);
    else if (used)
        *used = (size_t)(r.p - (const unsigned char *)p);
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
    bool                      merge; /* adding to a collection built earlier: an element met again is no error */
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
    return fresh || b->merge; /* a field twice: Redis refuses the payload */
}

static bool build_set(void *arg, struct slice e)
{
    struct builder *b = arg;
    if (!b->v->object)
        b->v->object = set_create(b->s, e, b->v->count, &b->lim->set);
    struct set *set = b->v->object;
    bool fresh = set_add(b->s, &set, e, &b->lim->set);
    b->v->object = set;
    return fresh || b->merge;
}

static bool build_list(void *arg, struct slice e)
{
    struct builder *b = arg;
    struct list *l = b->v->object;
    list_push(b->s, &l, false, e, &b->lim->list);
    b->v->object = l;
    return true;
}

static bool build_zset(void *arg, struct slice e)
{
    struct builder *b = arg;
    if (!b->have_field) {
        b->field = e;
        b->have_field = true;
        return true;
    }
    b->have_field = false;
    double score;
    if (!score_parse(e, &score))
        return false;
    struct zset *z = b->v->object;
    bool fresh = zset_set(b->s, &z, b->field, score, &b->lim->zset);
    b->v->object = z;
    return fresh || b->merge; /* a member twice: refused, as Redis refuses it */
}

bool decoded_value_build(struct store *s, struct decoded_value *v, const struct serialize_limits *lim)
{
    if (v->type == TYPE_STRING || v->object)
        return true;
    struct serialize_limits defaults = { hash_default_limits, set_default_limits, list_default_limits,
                                         zset_default_limits, stream_default_limits };
    struct builder b = { s, lim ? lim : &defaults, v, { "", 0 }, false, false };
    v->store = s;
    if (v->type == TYPE_STREAM) {
        /* limits that say nothing (a caller of before streams): Redis's */
        struct stream_limits sl = lim && (lim->stream.node_max_bytes || lim->stream.node_max_entries)
                                      ? lim->stream
                                      : stream_default_limits;
        if (!walk_stream(v, s, &sl, NULL)) {
            decoded_value_free(v);
            return false;
        }
        return true;
    }
    element_fn *fn = build_set;
    if (v->type == TYPE_HASH) {
        v->object = hash_create(s);
        fn = build_hash;
    } else if (v->type == TYPE_LIST) {
        v->object = list_create(s);
        fn = build_list;
    } else if (v->type == TYPE_ZSET) {
        /* by its count (checked); a member too long converts it on the way */
        v->object = zset_create(s, (size_t)v->count, 0, &b.lim->zset);
        fn = build_zset;
    }
    if (!walk_elements(v, fn, &b)) {
        decoded_value_free(v);
        return false;
    }
    return true;
}

bool decoded_value_add_to(struct store *s, struct decoded_value *v, enum value_type t, void **obj,
                          const struct serialize_limits *lim)
{
    if (v->type != t || v->type == TYPE_STRING || v->type == TYPE_STREAM || v->object || !*obj) {
        decoded_value_free(v);
        return false;
    }
    struct serialize_limits defaults = { hash_default_limits, set_default_limits, list_default_limits,
                                         zset_default_limits, stream_default_limits };
    struct builder b = { s, lim ? lim : &defaults, v, { "", 0 }, false, true };
    element_fn *fn = t == TYPE_HASH ? build_hash : t == TYPE_LIST ? build_list : t == TYPE_ZSET ? build_zset : build_set;
    v->store = s;
    v->object = *obj;
    bool ok = walk_elements(v, fn, &b);
    *obj = v->object; /* a compact encoding may have moved as it grew */
    v->object = NULL;  /* the caller's, whatever happened */
    decoded_value_free(v);
    return ok;
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
    case TYPE_LIST:
    case TYPE_ZSET:
    case TYPE_STREAM:
        store_set_object(s, key, v->type, v->object, expire_at_ms);
        v->object = NULL; /* the store's now */
        break;
    }
    decoded_value_free(v);
    return true;
}

void decoded_value_free(struct decoded_value *v)
{
    if (v->object) {
        store_object_destroy(v->store, v->type, v->object);
        v->object = NULL;
    }
    buf_free(&v->own);
    v->string = (struct slice){ "", 0 };
}

/* ------------------------------------------------------------ a file's framing */

void serialize_put_len(struct buf *out, uint64_t len)
{
    put_len(out, len);
}

void serialize_put_file_string(struct buf *out, const char *s, size_t len, bool compress)
{
    int32_t v;
    /* as Redis's rdbSaveRawString: an integer's text as an integer, then
     * LZF past 20 bytes when it saves 4 bytes at least, else plain */
    if (compress && len > 20 && !int32_text(s, len, &v)) {
        size_t cap = len - 4;
        struct buf tmp;
        buf_init(&tmp);
        char *dst = buf_reserve(&tmp, cap);
        size_t clen = lzf_compress(s, len, dst, cap);
        if (clen > 0) {
            unsigned char b = 0xc0 | ENC_LZF;
            buf_append(out, &b, 1);
            put_len(out, clen);
            put_len(out, len);
            buf_append(out, dst, clen);
            buf_free(&tmp);
            return;
        }
        buf_free(&tmp);
    }
    put_string(out, s, len);
}

bool serialize_get_len(const char *p, size_t n, uint64_t *len, size_t *used)
{
    struct reader r = { (const unsigned char *)p, (const unsigned char *)p + n };
    if (!get_plain_len(&r, len))
        return false;
    *used = (size_t)(r.p - (const unsigned char *)p);
    return true;
}

/* ------------------------------------------- strings outside an object */

void serialize_put_string(struct buf *out, const char *p, size_t n)
{
    put_len(out, n);
    buf_append(out, p, n);
}

bool serialize_get_string(const char **p, const char *end, struct slice *s, struct buf *scratch)
{
    struct reader r = { (const unsigned char *)*p, (const unsigned char *)end };
    if (!get_string(&r, s, scratch))
        return false;
    *p = (const char *)r.p;
    return true;
}
