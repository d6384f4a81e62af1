#include "shards/scratch.h"

#include <string.h>

#include "shards/node.h"
#include "shards/notify.h"
#include "shards/shard.h"
#include "shards/store/slot.h"

static void put_u32(struct buf *b, uint32_t v) { buf_append(b, &v, 4); }
static void put_i64(struct buf *b, int64_t v) { buf_append(b, &v, 8); }
static uint32_t get_u32(const char **p) { uint32_t v; memcpy(&v, *p, 4); *p += 4; return v; }
static int64_t get_i64(const char **p) { int64_t v; memcpy(&v, *p, 8); *p += 8; return v; }

/* A value's bytes: u32 length, then a string's bytes or a collection's
 * encoding (store_object_encode). */
static void put_value(struct buf *b, enum value_type t, const void *obj, struct slice bytes)
{
    if (t == TYPE_STRING) {
        put_u32(b, (uint32_t)bytes.len);
        buf_append(b, bytes.ptr, bytes.len);
        return;
    }
    size_t at = b->len;
    put_u32(b, 0);
    store_object_encode(t, obj, b);
    uint32_t n = (uint32_t)(b->len - at - 4);
    memcpy(b->data + at, &n, 4);
}

/* A value's type and, for a string, its form (store_string_form) in one
 * byte. */
static char type_byte(enum value_type t, enum string_form form)
{
    return (char)((unsigned)t | (t == TYPE_STRING ? (unsigned)form << 4 : 0));
}
static enum value_type byte_type(char b) { return (enum value_type)((unsigned char)b & 0x0f); }
static enum string_form byte_form(char b) { return (enum string_form)((unsigned char)b >> 4); }

/* key now holds a value of type t (a string of that form) from
 * put_value's bytes. */
static void set_value(struct store *st, struct slice key, enum value_type t, enum string_form form, const char *p,
                      uint32_t n, int64_t at)
{
    if (t == TYPE_STRING) {
        struct entry *e = store_set(st, key, NULL, n, at);
        if (n)
            memcpy(entry_value(e), p, n);
        store_string_set_form(e, form);
        store_changed(st, e);
        return;
    }
    void *obj = store_object_decode(st, t, p, n);
    if (obj)
        store_set_object(st, key, t, obj, at);
}

/* For each key: u8 0 (absent) or 1 + its type byte (type_byte), then i64
 * expiry, u32 length, value bytes. */
void keys_export(struct store *st, int nkeys, const struct slice *keys, struct buf *out, int64_t now)
{
    for (int i = 0; i < nkeys; i++) {
        struct entry *e = store_peek(st, keys[i], now);
        char present = e ? (char)(1 + type_byte(entry_type(e), entry_type(e) == TYPE_STRING ? store_string_form(e)
                                                                                            : STRING_AS_SET))
                         : 0;
        buf_append(out, &present, 1);
        if (!e)
            continue;
        put_i64(out, entry_expire_at(e));
        put_value(out, entry_type(e), entry_object(e),
                  (struct slice){ entry_value(e), entry_value_len(e) });
    }
}

/* Records: u8 op, u32 key length, key (empty for FLUSH), then per op: SET
 * u8 type byte (type_byte), u32 len + value (put_value) + i64 expiry;
 * EXPIRE i64. */
void write_record_encode(struct buf *b, const struct journal_record *r)
{
    char op = (char)r->op;
    buf_append(b, &op, 1);
    put_u32(b, (uint32_t)r->key.len);
    buf_append(b, r->key.ptr, r->key.len);
    if (r->op == JOURNAL_SET) {
        char type = type_byte(r->type, r->form);
        buf_append(b, &type, 1);
        put_value(b, r->type, r->object, r->value);
        put_i64(b, r->expire_at_ms);
    } else if (r->op == JOURNAL_EXPIRE) {
        put_i64(b, r->expire_at_ms);
    }
}

/* The record at p (as write_record_encode wrote it) into *r; returns where
 * the next one starts. */
static const char *record_decode(const char *p, struct journal_record *r)
{
    r->op = (enum journal_op)*p++;
    uint32_t klen = get_u32(&p);
    r->key = (struct slice){ p, klen };
    p += klen;
    r->value = (struct slice){ NULL, 0 };
    r->type = TYPE_STRING;
    r->form = STRING_AS_SET;
    r->object = NULL;
    r->expire_at_ms = 0;
    if (r->op == JOURNAL_SET) {
        r->type = byte_type(*p);
        r->form = byte_form(*p++);
        uint32_t vlen = get_u32(&p);
        r->value = (struct slice){ p, vlen };
        p += vlen;
        r->expire_at_ms = get_i64(&p);
    } else if (r->op == JOURNAL_EXPIRE) {
        r->expire_at_ms = get_i64(&p);
    }
    return p;
}

/* Before applying the records from p on, prefetch what the keys of the next
 * few touch, so their cache misses overlap (as for a client's pipeline). */
#define APPLY_PREFETCH 16
static void prefetch_records(struct store *st, const char *p, const char *end)
{
    uint64_t h[APPLY_PREFETCH];
    int k = 0;
    struct journal_record r;
    while (k < APPLY_PREFETCH && p < end) {
        p = record_decode(p, &r);
        h[k++] = store_key_hash(r.key);
    }
    for (int i = 0; i < k; i++)
        store_prefetch_bucket(st, h[i]);
    for (int i = 0; i < k; i++)
        store_prefetch_entry(st, h[i]);
}

void writes_apply(struct store *st, const struct buf *b, int64_t now)
{
    const char *p = b->data, *end = b->data + b->len;
    int until_prefetch = 0;
    struct journal_record r;
    while (p < end) {
        if (until_prefetch-- == 0) {
            prefetch_records(st, p, end);
            until_prefetch = APPLY_PREFETCH - 1;
        }
        p = record_decode(p, &r);
        switch (r.op) {
        case JOURNAL_SET:
            set_value(st, r.key, r.type, r.form, r.value.ptr, (uint32_t)r.value.len, r.expire_at_ms);
            break;
        case JOURNAL_DEL:
            store_delete(st, r.key);
            break;
        case JOURNAL_EXPIRE:
        case JOURNAL_PERSIST: {
            struct entry *e = store_peek(st, r.key, now);
            if (e)
                store_set_expire(st, e, r.expire_at_ms, now);
            break;
        }
        case JOURNAL_FLUSH:
            store_flush(st);
            break;
        }
    }
}

void writes_each_key(const struct buf *b, void (*fn)(void *arg, const struct slice *key), void *arg)
{
    const char *p = b->data, *end = b->data + b->len;
    struct journal_record r;
    while (p < end) {
        p = record_decode(p, &r);
        if (r.op != JOURNAL_FLUSH)
            fn(arg, &r.key);
    }
}

void write_capture_hook(void *arg, const struct journal_record *r)
{
    struct write_capture *c = arg;
    if (!c->on || r->op == JOURNAL_FLUSH)
        return;
    int owner = shard_of_slot(c->node, key_slot(r->key.ptr, r->key.len));
    write_record_encode(&c->per_shard[owner], r);
    if (c->notify)
        notify_store_changed(c->notify, r);
}

void write_capture_dest_hook(void *arg, const struct journal_record *r)
{
    struct write_capture_dest *c = arg;
    if (c->dest_key.ptr && r->db != c->dest_db && r->key.len == c->dest_key.len &&
        memcmp(r->key.ptr, c->dest_key.ptr, r->key.len) == 0) {
        struct journal_record there = *r; /* (the records carry no database) */
        there.db = c->dest_db;
        write_capture_hook(&c->cap, &there);
        return;
    }
    write_capture_hook(&c->cap, r);
}

void key_import(struct store *st, struct slice key, const char **cursor, int64_t now)
{
    const char *q = *cursor;
    char present = *q++;
    if (present) {
        int64_t at = get_i64(&q);
        uint32_t vlen = get_u32(&q);
        if (!store_peek(st, key, now))
            set_value(st, key, byte_type((char)(present - 1)), byte_form((char)(present - 1)), q, vlen, at);
        q += vlen;
    }
    *cursor = q;
}
