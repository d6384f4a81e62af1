/* journal: a shard's replication stream as a circular backlog (journal.h). */
#include "replication/journal.h"
#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/set.h"
#include "shards/store/stream.h"
#include "shards/store/zset.h"
#include "core/resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimalloc.h>

struct journal {
    char      *ring;     /* backlog_size bytes; byte at offset o is ring[o % size] */
    size_t     size;
    uint64_t   offset;   /* one past the last byte written */
    uint64_t   start;    /* offset of the first byte since the last reset */
    struct buf scratch;  /* encoding of the record being appended */
};

struct journal *journal_create(size_t backlog_size)
{
    if (backlog_size == 0)
        backlog_size = 1;
    struct journal *j = mi_zalloc(sizeof *j);
    if (!j)
        abort();
    j->ring = mi_malloc(backlog_size);
    if (!j->ring)
        abort();
    j->size = backlog_size;
    buf_init(&j->scratch);
    return j;
}

void journal_destroy(struct journal *j)
{
    if (!j)
        return;
    buf_free(&j->scratch);
    mi_free(j->ring);
    mi_free(j);
}

/* Decimal digits of v into the end of tmp[24]; returns the first digit. */
static char *fmt_i64(char tmp[24], int64_t v)
{
    char *p = tmp + 24;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

/* One RESP bulk string, $<len>\r\n<bytes>\r\n, written at w (which has
 * room); returns the end. Called for every journaled write, so no printf. */
#define BULK_OVERHEAD 25 /* '$', up to 20 digits, two CRLFs */
static char *write_bulk(char *w, const char *p, size_t n)
{
    char tmp[24];
    char *d = fmt_i64(tmp, (int64_t)n);
    size_t dl = (size_t)(tmp + 24 - d);
    *w++ = '$';
    memcpy(w, d, dl);
    w += dl;
    *w++ = '\r';
    *w++ = '\n';
    if (n)
        memcpy(w, p, n);
    w += n;
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

static char *write_int_bulk(char *w, int64_t v)
{
    char tmp[24];
    char *d = fmt_i64(tmp, v);
    return write_bulk(w, d, (size_t)(tmp + 24 - d));
}

/* A constant's bytes at w; the end. */
#define WRITE_LIT(w, s) (memcpy((w), (s), sizeof(s) - 1), (w) + sizeof(s) - 1)

/* A collection's rebuild, chunk by chunk: argv holds [prefix] CMD key, then
 * the elements gathered so far. */
struct rebuild {
    struct buf   *out;
    struct slice *argv;
    int           head;  /* arguments before the elements */
    int           argc;
};

static void rebuild_flush(struct rebuild *r)
{
    if (r->argc > r->head)
        resp_encode_command(r->out, r->argc, r->argv);
    r->argc = r->head;
}

/* An intset's members are texts written for the visit only: kept in the
 * rebuild's own storage until the chunk is written. */
struct rebuild_texts {
    struct rebuild *r;
    struct buf      texts;
};

static void rebuild_member(void *arg, struct slice m)
{
    struct rebuild_texts *rt = arg;
    struct rebuild *r = rt->r;
    if (rt->texts.cap == 0)
        buf_reserve(&rt->texts, (size_t)COLLECTION_CHUNK * SET_INT_TEXT);
    /* copied: the buffer was reserved for a whole chunk and never moves */
    char *p = rt->texts.data + rt->texts.len;
    memcpy(p, m.ptr, m.len);
    rt->texts.len += m.len;
    r->argv[r->argc++] = (struct slice){ p, m.len };
    if (r->argc - r->head >= COLLECTION_CHUNK) {
        rebuild_flush(r);
        rt->texts.len = 0;
    }
}

/* A listpack's or hashtable's members stay put during the visit. */
static void rebuild_member_ref(void *arg, struct slice m)
{
    struct rebuild *r = ((struct rebuild_texts *)arg)->r;
    r->argv[r->argc++] = m;
    if (r->argc - r->head >= COLLECTION_CHUNK)
        rebuild_flush(r);
}

static void rebuild_pair(void *arg, struct slice f, struct slice v)
{
    struct rebuild *r = arg;
    r->argv[r->argc++] = f;
    r->argv[r->argc++] = v;
    if (r->argc - r->head >= 2 * COLLECTION_CHUNK)
        rebuild_flush(r);
}

static void rebuild_member_ref(void *arg, struct slice m);

/* A zset's element: its score as text (kept in the rebuild's own storage,
 * reserved for a whole chunk) then its member, which stays put. */
static void rebuild_scored(void *arg, struct slice m, double score)
{
    struct rebuild_texts *rt = arg;
    struct rebuild *r = rt->r;
    if (rt->texts.cap == 0)
        buf_reserve(&rt->texts, (size_t)COLLECTION_CHUNK * ZSET_SCORE_TEXT);
    char *p = rt->texts.data + rt->texts.len;
    size_t n = zset_format_score(p, score);
    rt->texts.len += n;
    r->argv[r->argc++] = (struct slice){ p, n };
    r->argv[r->argc++] = m;
    if (r->argc - r->head >= 2 * COLLECTION_CHUNK) {
        rebuild_flush(r);
        rt->texts.len = 0;
    }
}

static void rebuild_list_elem(void *arg, struct slice v)
{
    struct rebuild *r = arg;
    r->argv[r->argc++] = v;
    if (r->argc - r->head >= COLLECTION_CHUNK)
        rebuild_flush(r);
}

/* A stream as the commands that rebuild it, as Redis's AOF rewrite writes
 * it: an XADD of each entry with its ID (an empty stream: an XADD trimmed
 * away at once, MAXLEN 0), then XSETID with the last ID, the entries added
 * and the greatest deleted ID, which no XADD restores. Always whole: a
 * stream has no parts form (store_object_over). */
static void rebuild_stream(struct buf *out, const char *prefix, struct slice key, const struct stream *st)
{
    int head = prefix ? 1 : 0;
    size_t cap = 16;
    struct slice *argv = mi_malloc(cap * sizeof *argv);
    if (!argv)
        abort();
    if (prefix)
        argv[0] = (struct slice){ prefix, strlen(prefix) };
    argv[head] = SLICE_LIT("XADD");
    argv[head + 1] = key;
    char id_text[STREAM_ID_TEXT], added[24], maxdel[STREAM_ID_TEXT];
    struct stream_iter it;
    struct stream_entry e;
    stream_iter_init(&it, st, (struct stream_id){ 0, 0 }, (struct stream_id){ UINT64_MAX, UINT64_MAX }, false);
    while (stream_iter_next(&it, &e)) {
        size_t argc = (size_t)head + 3 + 2 * e.nfields;
        if (argc > cap) {
            cap = argc;
            argv = mi_realloc(argv, cap * sizeof *argv);
            if (!argv)
                abort();
        }
        argv[head + 2] = (struct slice){ id_text, stream_id_format(id_text, e.id) };
        size_t at = 0;
        for (size_t i = 0; i < e.nfields; i++)
            stream_entry_pair(&e, &at, &argv[head + 3 + 2 * i], &argv[head + 4 + 2 * i]);
        resp_encode_command(out, (int)argc, argv);
    }
    if (stream_len(st) == 0) {
        argv[head + 2] = SLICE_LIT("MAXLEN");
        argv[head + 3] = SLICE_LIT("0");
        argv[head + 4] = SLICE_LIT("0-1");
        argv[head + 5] = SLICE_LIT("x");
        argv[head + 6] = SLICE_LIT("y");
        resp_encode_command(out, head + 7, argv);
    }
    int n = snprintf(added, sizeof added, "%llu", (unsigned long long)stream_entries_added(st));
    argv[head] = SLICE_LIT("XSETID");
    argv[head + 2] = (struct slice){ id_text, stream_id_format(id_text, stream_last_id(st)) };
    argv[head + 3] = SLICE_LIT("ENTRIESADDED");
    argv[head + 4] = (struct slice){ added, (size_t)n };
    argv[head + 5] = SLICE_LIT("MAXDELETEDID");
    argv[head + 6] = (struct slice){ maxdel, stream_id_format(maxdel, stream_max_deleted_id(st)) };
    resp_encode_command(out, head + 7, argv);
    /* the groups, as Redis's AOF rewrite writes them: XGROUP CREATE with
     * the last ID and entries read, each pending entry as the XCLAIM that
     * makes it exactly (FORCE: the entry may be gone), and each consumer
     * without pending entries as XGROUP CREATECONSUMER */
    for (size_t i = 0; i < stream_groups(st); i++) {
        const struct stream_group *g = stream_group_at(st, i);
        struct slice gname = { g->name, g->name_len };
        char read[24], timet[24], countt[24];
        int rl = snprintf(read, sizeof read, "%lld", (long long)g->entries_read);
        struct slice *a = argv + head;
        a[0] = SLICE_LIT("XGROUP");
        a[1] = SLICE_LIT("CREATE");
        a[2] = key;
        a[3] = gname;
        a[4] = (struct slice){ id_text, stream_id_format(id_text, g->last_id) };
        a[5] = SLICE_LIT("ENTRIESREAD");
        a[6] = (struct slice){ read, (size_t)rl };
        resp_encode_command(out, head + 7, argv);
        struct stream_id at = { 0, 0 };
        for (struct stream_nack *p = stream_pel_from(g, at); p; p = stream_pel_from(g, at)) {
            int tl = snprintf(timet, sizeof timet, "%lld", (long long)p->delivery_time);
            int cl = snprintf(countt, sizeof countt, "%llu", (unsigned long long)p->delivery_count);
            a[0] = SLICE_LIT("XCLAIM");
            a[1] = key;
            a[2] = gname;
            a[3] = (struct slice){ p->consumer->name, p->consumer->name_len };
            a[4] = SLICE_LIT("0");
            a[5] = (struct slice){ id_text, stream_id_format(id_text, p->id) };
            a[6] = SLICE_LIT("TIME");
            a[7] = (struct slice){ timet, (size_t)tl };
            a[8] = SLICE_LIT("RETRYCOUNT");
            a[9] = (struct slice){ countt, (size_t)cl };
            a[10] = SLICE_LIT("FORCE");
            a[11] = SLICE_LIT("JUSTID");
            resp_encode_command(out, head + 12, argv);
            at = p->id;
            if (!stream_id_incr(&at))
                break;
        }
        for (size_t k = 0; k < g->nconsumers; k++) {
            const struct stream_consumer *c = g->consumers[k];
            if (c->pel_count)
                continue;
            a[0] = SLICE_LIT("XGROUP");
            a[1] = SLICE_LIT("CREATECONSUMER");
            a[2] = key;
            a[3] = gname;
            a[4] = (struct slice){ c->name, c->name_len };
            resp_encode_command(out, head + 5, argv);
        }
    }
    mi_free(argv);
}

uint64_t journal_encode_collection_part(struct buf *out, const char *prefix, struct slice key,
                                        enum value_type t, const void *obj, int64_t at,
                                        uint64_t cursor, size_t count)
{
    struct slice *argv = mi_malloc((3 + 2 * COLLECTION_CHUNK) * sizeof *argv);
    if (!argv)
        abort();
    int head = 0;
    if (prefix)
        argv[head++] = (struct slice){ prefix, strlen(prefix) };
    struct rebuild r = { out, argv, head + 2, head + 2 };
    argv[head + 1] = key;
    uint64_t next = 0;
    switch (t) {
    case TYPE_HASH:
        argv[head] = SLICE_LIT("HSET");
        next = hash_scan(obj, cursor, count, rebuild_pair, &r);
        break;
    case TYPE_SET: {
        argv[head] = SLICE_LIT("SADD");
        struct rebuild_texts rt = { &r, { 0 } };
        bool texts = strcmp(set_encoding(obj), "intset") == 0;
        buf_init(&rt.texts);
        next = set_scan(obj, cursor, count, texts ? rebuild_member : rebuild_member_ref, &rt);
        rebuild_flush(&r);
        buf_free(&rt.texts);
        break;
    }
    case TYPE_ZSET: {
        argv[head] = SLICE_LIT("ZADD");
        struct rebuild_texts rt = { &r, { 0 } };
        buf_init(&rt.texts);
        next = zset_scan(obj, cursor, count, rebuild_scored, &rt);
        rebuild_flush(&r);
        buf_free(&rt.texts);
        break;
    }
    case TYPE_LIST: {
        /* elements in order, RPUSH after RPUSH; the cursor is an index */
        argv[head] = SLICE_LIT("RPUSH");
        size_t end = list_visit(obj, (size_t)cursor, count, rebuild_list_elem, &r);
        next = end >= list_len(obj) ? 0 : end;
        break;
    }
    case TYPE_STREAM:
        rebuild_stream(out, prefix, key, obj);
        break;
    default:
        break;
    }
    rebuild_flush(&r);
    if (at && next == 0) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%lld", (long long)at);
        argv[head] = SLICE_LIT("PEXPIREAT");
        argv[head + 2] = (struct slice){ num, (size_t)n };
        resp_encode_command(out, head + 3, argv);
    }
    mi_free(argv);
    return next;
}

void journal_encode_collection(struct buf *out, const char *prefix, struct slice key, enum value_type t,
                               const void *obj, int64_t at)
{
    /* a scan that never stops short: every element once */
    journal_encode_collection_part(out, prefix, key, t, obj, at, 0, SIZE_MAX);
}

void journal_encode(const struct journal_record *rec, struct buf *out)
{
    if (rec->op == JOURNAL_SET && rec->type != TYPE_STRING) {
        struct slice del[] = { SLICE_LIT("DEL"), rec->key };
        resp_encode_command(out, 2, del);
        if (rec->object)
            journal_encode_collection(out, NULL, rec->key, rec->type, rec->object, rec->expire_at_ms);
        return;
    }
    /* one reservation per record: an array header, up to five bulks, the
     * longest command name, the key, the value and one integer */
    char *w = buf_reserve(out, 8 + 5 * BULK_OVERHEAD + 9 + rec->key.len + rec->value.len + 20);
    switch (rec->op) {
    case JOURNAL_SET:
        if (rec->expire_at_ms)
            w = WRITE_LIT(w, "*5\r\n$3\r\nSET\r\n");
        else
            w = WRITE_LIT(w, "*3\r\n$3\r\nSET\r\n");
        w = write_bulk(w, rec->key.ptr, rec->key.len);
        w = write_bulk(w, rec->value.ptr, rec->value.len);
        if (rec->expire_at_ms) {
            w = WRITE_LIT(w, "$4\r\nPXAT\r\n");
            w = write_int_bulk(w, rec->expire_at_ms);
        }
        break;
    case JOURNAL_DEL:
        w = WRITE_LIT(w, "*2\r\n$3\r\nDEL\r\n");
        w = write_bulk(w, rec->key.ptr, rec->key.len);
        break;
    case JOURNAL_EXPIRE:
        w = WRITE_LIT(w, "*3\r\n$9\r\nPEXPIREAT\r\n");
        w = write_bulk(w, rec->key.ptr, rec->key.len);
        w = write_int_bulk(w, rec->expire_at_ms);
        break;
    case JOURNAL_PERSIST:
        w = WRITE_LIT(w, "*2\r\n$7\r\nPERSIST\r\n");
        w = write_bulk(w, rec->key.ptr, rec->key.len);
        break;
    case JOURNAL_FLUSH:
        w = WRITE_LIT(w, "*1\r\n$8\r\nFLUSHALL\r\n");
        break;
    }
    out->len = (size_t)(w - out->data);
}

/* Copy n bytes into the ring at the current offset, wrapping; only the last
 * `size` bytes of an oversized write are kept (the rest would be overwritten
 * anyway). */
static void ring_write(struct journal *j, const char *p, size_t n)
{
    if (n > j->size) {
        j->offset += n - j->size;
        p += n - j->size;
        n = j->size;
    }
    size_t at = (size_t)(j->offset % j->size);
    size_t first = j->size - at < n ? j->size - at : n;
    memcpy(j->ring + at, p, first);
    memcpy(j->ring, p + first, n - first);
    j->offset += n;
}

void journal_append(void *arg, const struct journal_record *rec)
{
    struct journal *j = arg;
    buf_clear(&j->scratch);
    journal_encode(rec, &j->scratch);
    ring_write(j, j->scratch.data, j->scratch.len);
    /* A huge value must not pin a huge scratch buffer. */
    if (j->scratch.cap > (1u << 20))
        buf_free(&j->scratch);
}

uint64_t journal_offset(const struct journal *j) { return j->offset; }

uint64_t journal_first_offset(const struct journal *j)
{
    uint64_t first = j->offset > j->size ? j->offset - j->size : 0;
    return first > j->start ? first : j->start;
}

void journal_append_raw(struct journal *j, const void *p, size_t n)
{
    if (n)
        ring_write(j, p, n);
}

void journal_reset(struct journal *j, uint64_t offset)
{
    j->offset = offset;
    j->start = offset;
}

int journal_read(const struct journal *j, uint64_t from, struct buf *out)
{
    if (from < journal_first_offset(j) || from > j->offset)
        return -1;
    size_t n = (size_t)(j->offset - from);
    size_t at = (size_t)(from % j->size);
    size_t first = j->size - at < n ? j->size - at : n;
    buf_append(out, j->ring + at, first);
    buf_append(out, j->ring, n - first);
    return 0;
}
