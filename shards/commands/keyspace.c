/* cmd_keyspace: the generic key commands (DEL, EXPIRE, RENAME, SCAN, ...).
 *
 * Every handler acts on ctx->store at ctx->now_ms and writes exactly one
 * reply. Commands over the whole keyspace (DBSIZE, KEYS, FLUSH*, RANDOMKEY)
 * answer for this store only: the dispatcher runs them on every shard and
 * the table's merge combines the answers. SCAN's cursor also names the shard
 * it continues on (see cmd_scan).
 *
 * Lookups follow Redis's: commands that only look (EXISTS, TYPE, TTL...)
 * peek without touching the LRU; commands that write find the key, which
 * also deletes it lazily when its time has passed. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimalloc.h>

#include "shards/persist.h"
#include "shards/commands/commands.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/set.h"
#include "shards/store/stream.h"
#include "shards/store/zset.h"
#include "shards/store/store.h"
#include "core/config.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "core/glob.h"

static inline bool slice_same(struct slice a, struct slice b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static inline const char *type_name(enum value_type t)
{
    return value_type_name(t);
}

/* ---- DEL UNLINK EXISTS TOUCH ------------------------------------------ */

/* DEL and UNLINK are the same here: values are freed where they live, and a
 * value is one allocation, so there is nothing to hand to another thread. */
static void delete_keys(struct exec_ctx *ctx)
{
    long long removed = 0;
    for (int i = 1; i < ctx->argc; i++) {
        /* a key whose time has passed does not count as deleted */
        if (store_peek(ctx->store, ctx->argv[i], ctx->now_ms) && store_delete(ctx->store, ctx->argv[i]))
            removed++;
    }
    reply_int(ctx->reply, removed);
}

void cmd_del(struct exec_ctx *ctx) { delete_keys(ctx); }
void cmd_unlink(struct exec_ctx *ctx) { delete_keys(ctx); }

/* EXISTS counts a key as often as it is named (EXISTS k k -> 2). A key
 * past its time is deleted (its DEL journaled), as Redis's lookup does,
 * without touching the LRU clock. */
void cmd_exists(struct exec_ctx *ctx)
{
    long long n = 0;
    for (int i = 1; i < ctx->argc; i++)
        if (store_find_untouched(ctx->store, ctx->argv[i], ctx->now_ms))
            n++;
    reply_int(ctx->reply, n);
}

/* TOUCH marks each existing key recently used. */
void cmd_touch(struct exec_ctx *ctx)
{
    long long n = 0;
    for (int i = 1; i < ctx->argc; i++) {
        struct entry *e = store_find(ctx->store, ctx->argv[i], ctx->now_ms);
        if (e) {
            store_touch(ctx->store, e); /* even under CLIENT NO-TOUCH */
            n++;
        }
    }
    reply_int(ctx->reply, n);
}

void cmd_type(struct exec_ctx *ctx)
{
    struct entry *e = store_find_untouched(ctx->store, ctx->argv[1], ctx->now_ms);
    reply_simple(ctx->reply, e ? type_name(entry_type(e)) : "none");
}

/* ---- RENAME RENAMENX COPY --------------------------------------------- */

/* Put a copy of src's value (from store `from`) and expiry under dst in
 * store `to` (replacing dst). The value is copied out first: src's entry
 * is not guaranteed to survive store_set. A collection is duplicated,
 * allocated in `to` (each store counts its own memory); move (one store
 * only): src is deleted next (RENAME), so its object is moved rather than
 * copied. */
static void copy_entry_to(struct store *from, struct entry *src, struct store *s, struct slice dst, bool move)
{
    if (entry_type(src) != TYPE_STRING) {
        enum value_type t = entry_type(src);
        int64_t at = entry_expire_at(src);
        void *obj;
        if (move && from == s) {
            obj = store_take_object(s, src);
        } else if (t == TYPE_HASH) {
            obj = hash_dup(s, entry_object(src));
        } else if (t == TYPE_SET) {
            obj = set_dup(s, entry_object(src));
        } else if (t == TYPE_ZSET) {
            obj = zset_dup(s, entry_object(src));
        } else if (t == TYPE_LIST) {
            obj = list_dup(s, entry_object(src));
        } else if (t == TYPE_STREAM) {
            obj = stream_dup(s, entry_object(src));
        } else {
            abort(); /* every collection type has its copy here */
        }
        store_set_object(s, dst, t, obj, at);
        return;
    }
    size_t vlen = entry_value_len(src);
    int64_t expire_at = entry_expire_at(src);
    enum string_form form = store_string_form(src);
    char *tmp = mi_malloc(vlen ? vlen : 1);
    if (!tmp)
        abort();
    memcpy(tmp, entry_value(src), vlen);
    struct entry *e = store_set(s, dst, NULL, vlen, expire_at);
    memcpy(entry_value(e), tmp, vlen);
    store_string_set_form(e, form); /* the same object to Redis */
    store_changed(s, e);
    mi_free(tmp);
}

static void copy_entry(struct store *s, struct entry *src, struct slice dst, bool move)
{
    copy_entry_to(s, src, s, dst, move);
}

/* RENAME key newkey: keeps the expiry; "ERR no such key" when key is missing
 * (even when both names are the same). RENAMENX answers 1 or 0. */
static void rename_generic(struct exec_ctx *ctx, bool nx)
{
    struct slice src = ctx->argv[1], dst = ctx->argv[2];
    struct entry *e = store_find(ctx->store, src, ctx->now_ms);
    if (!e) {
        reply_error(ctx->reply, ERR_NO_KEY);
        return;
    }
    if (slice_same(src, dst)) {
        if (nx)
            reply_int(ctx->reply, 0);
        else
            reply_ok(ctx->reply);
        return;
    }
    if (nx && store_peek(ctx->store, dst, ctx->now_ms)) {
        reply_int(ctx->reply, 0);
        return;
    }
    copy_entry(ctx->store, e, dst, true);
    store_delete(ctx->store, src);
    if (nx)
        reply_int(ctx->reply, 1);
    else
        reply_ok(ctx->reply);
}

void cmd_rename(struct exec_ctx *ctx) { rename_generic(ctx, false); }
void cmd_renamenx(struct exec_ctx *ctx) { rename_generic(ctx, true); }

/* The number of databases: the shard's, 1 for a lone store or a shard
 * without databases (unit tests, the fuzzer's). */
static int db_count(const struct exec_ctx *ctx)
{
    return ctx->shard && ctx->shard->ndbs > 0 ? ctx->shard->ndbs : 1;
}

bool db_index_arg(struct exec_ctx *ctx, struct slice s, long long *db)
{
    if (!parse_ll(s, db)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return false;
    }
    if (*db < INT_MIN || *db > INT_MAX) { /* Redis reads a long long, then an int */
        reply_error(ctx->reply, "ERR value is out of range, value must between -2147483648 and 2147483647");
        return false;
    }
    return true;
}

static bool cluster_mode(const struct exec_ctx *ctx)
{
    return ctx->shard && config_load(&ctx->shard->node->config, cluster_enabled);
}

/* The store of database db for this command: the shard's when the command
 * runs on the shard's own store; a scratch store (keys of several shards:
 * the runtime imported the destination from db, CMD_DEST_DB, and applies
 * its writes there) is the one store of the command. */
static struct store *db_store(struct exec_ctx *ctx, int db)
{
    if (!ctx->shard || ctx->store != ctx->shard->store)
        return ctx->store;
    return shard_db(ctx->shard, db);
}

/* The database the command runs in (the connection's). */
static int db_now(const struct exec_ctx *ctx)
{
    return ctx->shard && ctx->store == ctx->shard->store ? ctx->shard->db : store_db(ctx->store);
}

/* COPY source destination [DB destination-db] [REPLACE], Redis's checks in
 * its order. */
void cmd_copy(struct exec_ctx *ctx)
{
    bool replace = false;
    int src_db = db_now(ctx), dst_db = src_db;
    for (int j = 3; j < ctx->argc; j++) {
        int more = ctx->argc - j - 1;
        if (slice_eq_nocase(ctx->argv[j], "replace")) {
            replace = true;
        } else if (slice_eq_nocase(ctx->argv[j], "db") && more > 0) {
            long long db;
            if (!db_index_arg(ctx, ctx->argv[j + 1], &db))
                return;
            if (db < 0 || db >= db_count(ctx)) {
                reply_error(ctx->reply, "ERR DB index is out of range");
                return;
            }
            dst_db = (int)db;
            j++;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    if (cluster_mode(ctx) && (src_db != 0 || dst_db != 0)) {
        reply_error(ctx->reply, "ERR Copying to another database is not allowed in cluster mode");
        return;
    }
    struct slice src = ctx->argv[1], dst = ctx->argv[2];
    if (src_db == dst_db && slice_same(src, dst)) {
        reply_error(ctx->reply, "ERR source and destination objects are the same");
        return;
    }
    struct store *to = dst_db == src_db ? ctx->store : db_store(ctx, dst_db);
    if (to == ctx->store && slice_same(src, dst))
        abort(); /* cannot happen: same names in two databases never go to a scratch store */
    struct entry *e = store_find(ctx->store, src, ctx->now_ms);
    if (!e) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (to != ctx->store) {
        /* another database: its key found (deleted if past its time), then
         * the source again (that delete may not move it, but be sure) */
        struct entry *d = store_find(to, dst, ctx->now_ms);
        if (d && !replace) {
            reply_int(ctx->reply, 0);
            return;
        }
        e = store_peek(ctx->store, src, ctx->now_ms);
        if (!e) {
            reply_int(ctx->reply, 0);
            return;
        }
    } else if (!replace && store_peek(ctx->store, dst, ctx->now_ms)) {
        reply_int(ctx->reply, 0);
        return;
    }
    copy_entry_to(ctx->store, e, to, dst, false);
    reply_int(ctx->reply, 1);
}

/* MOVE key db: the key's entry (value, expiry, type) from the connection's
 * database to db, on this shard (a key's shard does not depend on its
 * database). 1 if moved, 0 if the key is missing or db has it already. A
 * collection is duplicated into db's store (each store counts its own
 * memory), then deleted here. Journaled as itself (the row). */
void cmd_move(struct exec_ctx *ctx)
{
    if (cluster_mode(ctx)) {
        reply_error(ctx->reply, "ERR MOVE is not allowed in cluster mode");
        return;
    }
    long long db;
    if (!db_index_arg(ctx, ctx->argv[2], &db))
        return;
    if (db < 0 || db >= db_count(ctx)) {
        reply_error(ctx->reply, "ERR DB index is out of range");
        return;
    }
    if ((int)db == db_now(ctx)) {
        reply_error(ctx->reply, "ERR source and destination objects are the same");
        return;
    }
    struct slice key = ctx->argv[1];
    struct store *to = db_store(ctx, (int)db);
    struct entry *e = store_find(ctx->store, key, ctx->now_ms);
    if (!e || to == ctx->store) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (store_find(to, key, ctx->now_ms)) {
        reply_int(ctx->reply, 0);
        return;
    }
    e = store_peek(ctx->store, key, ctx->now_ms);
    if (!e) {
        reply_int(ctx->reply, 0);
        return;
    }
    copy_entry_to(ctx->store, e, to, key, true);
    store_delete(ctx->store, key);
    reply_int(ctx->reply, 1);
}

/* A database index as Redis reads it for SWAPDB: an integer in int range. */
static bool db_index(struct slice s, long long *db)
{
    return parse_ll(s, db) && *db >= INT_MIN && *db <= INT_MAX;
}

/* SWAPDB index1 index2: on every shard (the row's CMD_ALL_SHARDS), each
 * checking the same way, so every part answers the same. The clients
 * blocked on keys of either database are offered their keys again, and
 * the watchers of keys of either are touched (shard_swap_dbs' callers'
 * part: blocking_dbs_swapped, watch_dbs_swapped). */
void cmd_swapdb(struct exec_ctx *ctx)
{
    if (cluster_mode(ctx)) {
        reply_error(ctx->reply, "ERR SWAPDB is not allowed in cluster mode");
        return;
    }
    long long a, b;
    if (!db_index(ctx->argv[1], &a)) {
        reply_error(ctx->reply, "ERR invalid first DB index");
        return;
    }
    if (!db_index(ctx->argv[2], &b)) {
        reply_error(ctx->reply, "ERR invalid second DB index");
        return;
    }
    if (a < 0 || a >= db_count(ctx) || b < 0 || b >= db_count(ctx)) {
        reply_error(ctx->reply, "ERR DB index is out of range");
        return;
    }
    if (a != b && ctx->shard && ctx->store == ctx->shard->store)
        shard_swap_databases(ctx->shard, (int)a, (int)b);
    reply_ok(ctx->reply);
}

/* ---- EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST ------------------------ */

enum expire_flag { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* basetime_ms: now for relative forms, 0 for the *AT forms; unit_ms 1000 for
 * seconds. Checks in Redis's order: options, the number, overflow, the key,
 * the NX/XX/GT/LT conditions. A time not in the future deletes the key (and
 * still answers 1). */
static void expire_generic(struct exec_ctx *ctx, int64_t basetime_ms, long long unit_ms)
{
    int flags = 0;
    for (int j = 3; j < ctx->argc; j++) {
        struct slice o = ctx->argv[j];
        if (slice_eq_nocase(o, "nx"))      flags |= EXP_NX;
        else if (slice_eq_nocase(o, "xx")) flags |= EXP_XX;
        else if (slice_eq_nocase(o, "gt")) flags |= EXP_GT;
        else if (slice_eq_nocase(o, "lt")) flags |= EXP_LT;
        else {
            int n = o.len > 128 ? 128 : (int)o.len;
            reply_errorf(ctx->reply, "ERR Unsupported option %.*s", n, o.ptr);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(ctx->reply, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        reply_error(ctx->reply, "ERR GT and LT options at the same time are not compatible");
        return;
    }

    long long when;
    if (!parse_ll(ctx->argv[2], &when)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    /* the command name as sent, lower-cased, for the error text */
    char name[16];
    size_t nl = ctx->argv[0].len < sizeof(name) - 1 ? ctx->argv[0].len : sizeof(name) - 1;
    for (size_t i = 0; i < nl; i++) {
        char c = ctx->argv[0].ptr[i];
        name[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    name[nl] = '\0';
    if (unit_ms != 1) {
        if (when > LLONG_MAX / unit_ms || when < LLONG_MIN / unit_ms) {
            reply_errorf(ctx->reply, ERR_EXPIRE_TIME, name);
            return;
        }
        when *= unit_ms;
    }
    if (when > LLONG_MAX - basetime_ms) {
        reply_errorf(ctx->reply, ERR_EXPIRE_TIME, name);
        return;
    }
    when += basetime_ms;

    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    if (!e) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (flags) {
        int64_t cur = entry_expire_at(e); /* 0: no expiry, i.e. infinite */
        if ((flags & EXP_NX) && cur != 0) { reply_int(ctx->reply, 0); return; }
        if ((flags & EXP_XX) && cur == 0) { reply_int(ctx->reply, 0); return; }
        if ((flags & EXP_GT) && (cur == 0 || when <= cur)) { reply_int(ctx->reply, 0); return; }
        if ((flags & EXP_LT) && cur != 0 && when >= cur) { reply_int(ctx->reply, 0); return; }
    }
    if (when <= ctx->now_ms)
        store_delete(ctx->store, ctx->argv[1]);
    else
        store_set_expire(ctx->store, e, when, ctx->now_ms);
    reply_int(ctx->reply, 1);
}

void cmd_expire(struct exec_ctx *ctx)    { expire_generic(ctx, ctx->now_ms, 1000); }
void cmd_pexpire(struct exec_ctx *ctx)   { expire_generic(ctx, ctx->now_ms, 1); }
void cmd_expireat(struct exec_ctx *ctx)  { expire_generic(ctx, 0, 1000); }
void cmd_pexpireat(struct exec_ctx *ctx) { expire_generic(ctx, 0, 1); }

void cmd_persist(struct exec_ctx *ctx)
{
    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    if (!e || entry_expire_at(e) == 0) {
        reply_int(ctx->reply, 0);
        return;
    }
    store_set_expire(ctx->store, e, 0, ctx->now_ms);
    reply_int(ctx->reply, 1);
}

/* ---- TTL PTTL EXPIRETIME PEXPIRETIME ---------------------------------- */

/* The entry of key, its LRU clock left alone, counted as a hit or a miss
 * (TTL and OBJECT: Redis's lookupKeyReadWithFlags with LOOKUP_NOTOUCH). */
static struct entry *peek_counted(struct exec_ctx *ctx, struct slice key)
{
    struct entry *e = store_peek(ctx->store, key, ctx->now_ms);
    store_count_lookups(ctx->store, e != NULL, e == NULL);
    return e;
}

/* -2: no key; -1: no expiry; else the time left (or the absolute time),
 * never negative, seconds rounded to nearest as Redis does. */
static void ttl_generic(struct exec_ctx *ctx, bool in_ms, bool absolute)
{
    struct entry *e = peek_counted(ctx, ctx->argv[1]);
    if (!e) {
        reply_int(ctx->reply, -2);
        return;
    }
    int64_t at = entry_expire_at(e);
    if (at == 0) {
        reply_int(ctx->reply, -1);
        return;
    }
    long long t = absolute ? at : at - ctx->now_ms;
    if (t < 0)
        t = 0;
    reply_int(ctx->reply, in_ms ? t : (t + 500) / 1000);
}

void cmd_ttl(struct exec_ctx *ctx)         { ttl_generic(ctx, false, false); }
void cmd_pttl(struct exec_ctx *ctx)        { ttl_generic(ctx, true, false); }
void cmd_expiretime(struct exec_ctx *ctx)  { ttl_generic(ctx, false, true); }
void cmd_pexpiretime(struct exec_ctx *ctx) { ttl_generic(ctx, true, true); }

/* ---- KEYS SCAN -------------------------------------------------------- */

/* Keys gathered during a scan, copied out of the store (entries may move
 * between store calls): each one as a size_t length then its bytes. */
struct key_list {
    struct buf  bytes;
    size_t      n;        /* keys kept */
    size_t      visited;  /* keys seen, kept or not (SCAN's COUNT counts these) */
    const char *pattern;  /* NULL: every key */
    size_t      patlen;
    const char *type;     /* NULL: every type */
    size_t      typelen;
};

static void key_list_visit(void *arg, struct entry *e)
{
    struct key_list *l = arg;
    l->visited++;
    const char *k = entry_key(e);
    size_t klen = entry_key_len(e);
    if (l->pattern && !glob_match(l->pattern, l->patlen, k, klen, false))
        return;
    if (l->type) {
        const char *t = type_name(entry_type(e));
        if (strlen(t) != l->typelen || strncasecmp(t, l->type, l->typelen) != 0)
            return;
    }
    buf_append(&l->bytes, &klen, sizeof(klen));
    buf_append(&l->bytes, k, klen);
    l->n++;
}

/* Reply an array of the gathered keys. */
static void key_list_reply(struct reply *r, const struct key_list *l)
{
    reply_array(r, l->n);
    size_t off = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t klen;
        memcpy(&klen, l->bytes.data + off, sizeof(klen));
        off += sizeof(klen);
        reply_bulk(r, l->bytes.data + off, klen);
        off += klen;
    }
}

static bool pattern_is_all(struct slice p)
{
    return p.len == 1 && p.ptr[0] == '*';
}

/* KEYS pattern: this store's matching keys (the merge concatenates). The
 * scan runs to its end inside this one call, with no write in between, so
 * each key is reported once. */
void cmd_keys(struct exec_ctx *ctx)
{
    struct key_list l = { .n = 0 };
    buf_init(&l.bytes);
    if (!pattern_is_all(ctx->argv[1])) {
        l.pattern = ctx->argv[1].ptr;
        l.patlen = ctx->argv[1].len;
    }
    uint64_t cursor = 0;
    do {
        cursor = store_scan(ctx->store, cursor, 1024, ctx->now_ms, key_list_visit, &l);
    } while (cursor != 0);
    key_list_reply(ctx->reply, &l);
    buf_free(&l.bytes);
}

/* Redis 7.0 reads the cursor with strtoull: "-1" is accepted and wraps. */
static bool parse_cursor(struct slice s, uint64_t *out)
{
    unsigned long long u;
    if (parse_ull(s, &u)) {
        *out = u;
        return true;
    }
    long long v;
    if (parse_ll(s, &v) && v < 0) {
        *out = (uint64_t)v;
        return true;
    }
    return false;
}

/* SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]
 *
 * The client's cursor names the shard and the place in that shard's table:
 *   cursor = table_cursor * nshards + shard_id
 * The dispatcher runs SCAN on shard cursor % nshards; this handler scans its
 * own store from cursor / nshards. When its table is done the next cursor is
 * the start of the next shard (table_cursor 0 there, so just its id), or 0
 * after the last shard, which ends the scan. */
void cmd_scan(struct exec_ctx *ctx)
{
    uint64_t cursor;
    if (!parse_cursor(ctx->argv[1], &cursor)) {
        reply_error(ctx->reply, "ERR invalid cursor");
        return;
    }
    long long count = 10;
    struct key_list l = { .n = 0 };
    for (int i = 2; i < ctx->argc;) {
        int left = ctx->argc - i;
        struct slice opt = ctx->argv[i];
        if (slice_eq_nocase(opt, "count") && left >= 2) {
            if (!parse_ll(ctx->argv[i + 1], &count)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (count < 1) {
                reply_error(ctx->reply, ERR_SYNTAX);
                return;
            }
        } else if (slice_eq_nocase(opt, "match") && left >= 2) {
            if (pattern_is_all(ctx->argv[i + 1])) {
                l.pattern = NULL;
            } else {
                l.pattern = ctx->argv[i + 1].ptr;
                l.patlen = ctx->argv[i + 1].len;
            }
        } else if (slice_eq_nocase(opt, "type") && left >= 2) {
            l.type = ctx->argv[i + 1].ptr;
            l.typelen = ctx->argv[i + 1].len;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
        i += 2;
    }

    uint64_t nshards = 1, shard_id = 0;
    if (ctx->shard && ctx->shard->node && ctx->shard->node->nshards > 0) {
        nshards = (uint64_t)ctx->shard->node->nshards;
        shard_id = (uint64_t)ctx->shard->id;
    }
    uint64_t table_cursor = cursor / nshards;

    /* As Redis: keep scanning until about COUNT keys were seen (matching or
     * not), the table is done, or 10*COUNT steps were taken. */
    buf_init(&l.bytes);
    size_t want = (size_t)count;
    long long steps = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do {
        table_cursor = store_scan(ctx->store, table_cursor, want - l.visited, ctx->now_ms,
                                  key_list_visit, &l);
    } while (table_cursor != 0 && l.visited < want && --steps > 0);

    uint64_t next;
    if (table_cursor == 0)
        next = shard_id + 1 < nshards ? shard_id + 1 : 0;
    else if (table_cursor > (UINT64_MAX - shard_id) / nshards)
        next = shard_id + 1 < nshards ? shard_id + 1 : 0; /* cannot be named: treat as done */
    else
        next = table_cursor * nshards + shard_id;

    char num[24];
    int nlen = snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    reply_array(ctx->reply, 2);
    reply_bulk(ctx->reply, num, (size_t)nlen);
    key_list_reply(ctx->reply, &l);
    buf_free(&l.bytes);
}

/* ---- RANDOMKEY DBSIZE FLUSHDB FLUSHALL -------------------------------- */

void cmd_randomkey(struct exec_ctx *ctx)
{
    struct entry *e = store_random(ctx->store, ctx->now_ms);
    if (e)
        reply_bulk(ctx->reply, entry_key(e), entry_key_len(e));
    else
        reply_null(ctx->reply);
}

void cmd_dbsize(struct exec_ctx *ctx)
{
    reply_int(ctx->reply, (long long)store_count(ctx->store));
}

/* FLUSHDB / FLUSHALL [ASYNC|SYNC]: both are accepted and both free at once
 * (a shard's store is freed by its own thread either way). FLUSHDB
 * empties the connection's database, FLUSHALL every database (here: the
 * dispatcher runs them on every shard). */
static bool flush_args_ok(struct exec_ctx *ctx)
{
    if (ctx->argc > 2 ||
        (ctx->argc == 2 && !slice_eq_nocase(ctx->argv[1], "async") && !slice_eq_nocase(ctx->argv[1], "sync"))) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return false;
    }
    return true;
}

void cmd_flushdb(struct exec_ctx *ctx)
{
    if (!flush_args_ok(ctx))
        return;
    store_flush(ctx->store);
    reply_ok(ctx->reply);
}

void cmd_flushall(struct exec_ctx *ctx)
{
    if (!flush_args_ok(ctx))
        return;
    struct shard *sh = ctx->shard;
    if (sh && ctx->store == sh->store && sh->ndb_made > 0) {
        for (SHARD_EACH_DB(sh, d))
            store_flush(sh->dbs[d]);
    } else {
        store_flush(ctx->store); /* a scratch store, or a shard without databases (the fuzzer's) */
    }
    if (sh && ctx->store == sh->store)
        persist_flushed(sh); /* the empty keyspace saved once every shard has flushed */
    reply_ok(ctx->reply);
}

/* ---- OBJECT ----------------------------------------------------------- */

/* A string's encoding as Redis names it: "int" for the text of a 64-bit
 * integer (at most 20 bytes), "embstr" up to 44 bytes, "raw" beyond, and
 * as store_string_form says where the text alone does not. */
static const char *string_encoding(struct entry *e)
{
    enum string_form form = store_string_form(e);
    if (form == STRING_RAW)
        return "raw";
    size_t n = entry_value_len(e);
    long long v;
    if (form == STRING_AS_SET && n <= 20 && parse_ll((struct slice){ entry_value(e), n }, &v))
        return "int";
    return n <= 44 ? "embstr" : "raw";
}

void cmd_object_encoding(struct exec_ctx *ctx)
{
    struct entry *e = peek_counted(ctx, ctx->argv[2]);
    if (!e) {
        reply_null(ctx->reply);
        return;
    }
    switch (entry_type(e)) {
    case TYPE_STRING:
        reply_bulk_str(ctx->reply, string_encoding(e));
        break;
    case TYPE_HASH:
        reply_bulk_str(ctx->reply, hash_is_listpack(entry_object(e)) ? "listpack" : "hashtable");
        break;
    case TYPE_SET:
        reply_bulk_str(ctx->reply, set_encoding(entry_object(e)));
        break;
    case TYPE_ZSET:
        reply_bulk_str(ctx->reply, zset_encoding(entry_object(e)));
        break;
    case TYPE_LIST:
        reply_bulk_str(ctx->reply, list_encoding(entry_object(e)));
        break;
    case TYPE_STREAM:
        reply_bulk_str(ctx->reply, "stream");
        break;
    default:
        reply_bulk_str(ctx->reply, "unknown");
        break;
    }
}

static bool lfu_policy(const struct exec_ctx *ctx)
{
    if (!ctx->shard || !ctx->shard->node)
        return false;
    long long p = config_load(&ctx->shard->node->config, maxmemory_policy);
    return p == EVICT_ALLKEYS_LFU || p == EVICT_VOLATILE_LFU;
}

/* FREQ (under an LFU policy) and IDLETIME (under the others) from the
 * entry's access bits (store.h, "Access tracking"); the errors for the
 * wrong policy are Redis's. Neither touches the key. */
void cmd_object_freq(struct exec_ctx *ctx)
{
    struct entry *e = peek_counted(ctx, ctx->argv[2]);
    if (!e) {
        reply_null(ctx->reply);
        return;
    }
    if (!lfu_policy(ctx)) {
        reply_error(ctx->reply, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                                "Please note that when switching between policies at runtime LRU and LFU data "
                                "will take some time to adjust.");
        return;
    }
    reply_int(ctx->reply, (long long)store_entry_freq(ctx->store, e));
}

void cmd_object_idletime(struct exec_ctx *ctx)
{
    struct entry *e = peek_counted(ctx, ctx->argv[2]);
    if (!e) {
        reply_null(ctx->reply);
        return;
    }
    if (lfu_policy(ctx)) {
        reply_error(ctx->reply, "ERR An LFU maxmemory policy is selected, idle time not tracked. "
                                "Please note that when switching between policies at runtime LRU and LFU data "
                                "will take some time to adjust.");
        return;
    }
    reply_int(ctx->reply, (long long)(store_entry_idle_ms(ctx->store, e) / 1000));
}

void cmd_object_refcount(struct exec_ctx *ctx)
{
    struct entry *e = peek_counted(ctx, ctx->argv[2]);
    if (!e)
        reply_null(ctx->reply);
    else
        reply_int(ctx->reply, 1);
}

void cmd_object_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(ctx->reply, lines[i]);
}
