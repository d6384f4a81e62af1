/* cmd_hash: the hash commands, with Redis 7's replies, errors and the order
 * in which it checks arguments, the key's type and the values.
 *
 * A hash lives in its key's entry as an object (shards/store/hash.h); its
 * encoding limits are the node's hash-max-listpack-entries/-value, read at
 * each write. A write builds a new hash before giving it to the store (so a
 * key never holds an empty hash), changes an existing one in place and then
 * tells the store (store_changed), and deletes the key when its last field
 * goes, as Redis does.
 *
 * Replication: every write row is journaled as the command itself
 * (JOURNAL_COMMAND: deterministic given the keyspace), except the
 * increments: HINCRBYFLOAT states HSET key field result, as Redis
 * propagates it, so a replica does not redo the float arithmetic, and
 * HINCRBY does the same, so that every form in the stream sets or removes
 * whole fields and may meet a field a full sync sent before or after it
 * (a big hash goes in parts over turns: replication/repl.c). */
#include "shards/commands/commands.h"
#include "shards/commands/collection.h"
#include "shards/commands/sample.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/hash.h"
#include "shards/store/store.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/glob.h"
#include "core/numbers.h"

#define LD_TEXT_MAX (5 * 1024)
/* Most elements HRANDFIELD with a negative count answers (Redis has no
 * bound: a count of -2^62 would build the reply until memory runs out). */
#define RANDOM_REPLY_MAX (1u << 24)

static struct hash_limits limits_of(const struct exec_ctx *ctx)
{
    if (!ctx->shard || !ctx->shard->node)
        return hash_default_limits;
    const struct config *c = &ctx->shard->node->config;
    long long n = config_load(c, hash_max_listpack_entries);
    long long v = config_load(c, hash_max_listpack_value);
    return (struct hash_limits){ n < 0 ? 0 : (size_t)n, v < 0 ? 0 : (size_t)v };
}

/* The hash at key (found, so lazily expired), or NULL with *e NULL when the
 * key is missing. Replies WRONGTYPE and returns false for another type. */
static bool find_hash(struct exec_ctx *ctx, struct slice key, struct entry **e, struct hash **h)
{
    void *obj;
    bool ok = collection_find(ctx, key, TYPE_HASH, e, &obj);
    *h = obj;
    return ok;
}

/* After a write to h (new when e is NULL): hand a new hash to the store,
 * journal a change to an existing one, or delete the key if h is empty. */
static void hash_written(struct exec_ctx *ctx, struct slice key, struct entry *e, struct hash *h)
{
    collection_written(ctx, key, TYPE_HASH, e, h);
}

/* ---- HSET HMSET HSETNX ------------------------------------------------ */

static void hset_generic(struct exec_ctx *ctx, bool reply_count)
{
    if (ctx->argc % 2 != 0) {
        char name[16];
        size_t n = ctx->argv[0].len < sizeof(name) - 1 ? ctx->argv[0].len : sizeof(name) - 1;
        for (size_t i = 0; i < n; i++) {
            char c = ctx->argv[0].ptr[i];
            name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        name[n] = '\0';
        reply_errorf(ctx->reply, ERR_ARITY, name);
        return;
    }
    struct entry *e;
    struct hash *h;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    if (!h)
        h = hash_create(ctx->store);
    struct hash_limits lim = limits_of(ctx);
    long long created = 0;
    for (int i = 2; i < ctx->argc; i += 2)
        created += hash_set(ctx->store, &h, ctx->argv[i], ctx->argv[i + 1], &lim);
    hash_written(ctx, ctx->argv[1], e, h);
    if (reply_count)
        reply_int(ctx->reply, created);
    else
        reply_ok(ctx->reply);
}

void cmd_hset(struct exec_ctx *ctx) { hset_generic(ctx, true); }
void cmd_hmset(struct exec_ctx *ctx) { hset_generic(ctx, false); }

void cmd_hsetnx(struct exec_ctx *ctx)
{
    struct entry *e;
    struct hash *h;
    struct slice v;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    if (h && hash_get(h, ctx->argv[2], &v)) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (!h)
        h = hash_create(ctx->store);
    struct hash_limits lim = limits_of(ctx);
    hash_set(ctx->store, &h, ctx->argv[2], ctx->argv[3], &lim);
    hash_written(ctx, ctx->argv[1], e, h);
    reply_int(ctx->reply, 1);
}

/* ---- HGET HMGET HEXISTS HLEN HSTRLEN ---------------------------------- */

void cmd_hget(struct exec_ctx *ctx)
{
    struct entry *e;
    struct hash *h;
    struct slice v;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    if (h && hash_get(h, ctx->argv[2], &v))
        reply_bulk(ctx->reply, v.ptr, v.len);
    else
        reply_null(ctx->reply);
}

void cmd_hmget(struct exec_ctx *ctx)
{
    struct entry *e;
    struct hash *h;
    struct slice v;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    for (int i = 2; i < ctx->argc; i++) {
        if (h && hash_get(h, ctx->argv[i], &v))
            reply_bulk(ctx->reply, v.ptr, v.len);
        else
            reply_null(ctx->reply);
    }
}

void cmd_hexists(struct exec_ctx *ctx)
{
    struct entry *e;
    struct hash *h;
    struct slice v;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    reply_int(ctx->reply, h && hash_get(h, ctx->argv[2], &v) ? 1 : 0);
}

void cmd_hlen(struct exec_ctx *ctx)
{
    struct entry *e;
    struct hash *h;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    reply_int(ctx->reply, h ? (long long)hash_len(h) : 0);
}

void cmd_hstrlen(struct exec_ctx *ctx)
{
    struct entry *e;
    struct hash *h;
    struct slice v;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    reply_int(ctx->reply, h && hash_get(h, ctx->argv[2], &v) ? (long long)v.len : 0);
}

/* ---- HDEL ------------------------------------------------------------- */

void cmd_hdel(struct exec_ctx *ctx)
{
    struct entry *e;
    struct hash *h;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    long long removed = 0;
    if (h) {
        for (int i = 2; i < ctx->argc && hash_len(h) > 0; i++)
            removed += hash_delete(ctx->store, &h, ctx->argv[i]);
        if (removed)
            hash_written(ctx, ctx->argv[1], e, h);
    }
    reply_int(ctx->reply, removed);
}

/* ---- HKEYS HVALS HGETALL ---------------------------------------------- */

enum emit { EMIT_FIELDS = 1, EMIT_VALUES = 2 };

struct emitter {
    struct reply *r;
    int           what;
};

static void emit_pair(void *arg, struct slice f, struct slice v)
{
    struct emitter *em = arg;
    if (em->what & EMIT_FIELDS)
        reply_bulk(em->r, f.ptr, f.len);
    if (em->what & EMIT_VALUES)
        reply_bulk(em->r, v.ptr, v.len);
}

static void hget_all(struct exec_ctx *ctx, int what)
{
    struct entry *e;
    struct hash *h;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    size_t n = h ? hash_len(h) : 0;
    if (what == (EMIT_FIELDS | EMIT_VALUES))
        reply_map(ctx->reply, n);
    else
        reply_array(ctx->reply, n);
    if (h) {
        struct emitter em = { ctx->reply, what };
        hash_foreach(h, emit_pair, &em);
    }
}

void cmd_hkeys(struct exec_ctx *ctx) { hget_all(ctx, EMIT_FIELDS); }
void cmd_hvals(struct exec_ctx *ctx) { hget_all(ctx, EMIT_VALUES); }
void cmd_hgetall(struct exec_ctx *ctx) { hget_all(ctx, EMIT_FIELDS | EMIT_VALUES); }

/* ---- HINCRBY HINCRBYFLOAT --------------------------------------------- */

void cmd_hincrby(struct exec_ctx *ctx)
{
    long long incr, value = 0;
    struct entry *e;
    struct hash *h;
    struct slice v;
    if (!parse_ll(ctx->argv[3], &incr)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    if (h && hash_get(h, ctx->argv[2], &v) && !parse_ll(v, &value)) {
        reply_error(ctx->reply, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        reply_error(ctx->reply, ERR_OVERFLOW);
        return;
    }
    value += incr;
    char text[24];
    int len = format_ll(text, sizeof(text), value);
    if (!h)
        h = hash_create(ctx->store);
    struct hash_limits lim = limits_of(ctx);
    struct slice result = { text, (size_t)len };
    hash_set(ctx->store, &h, ctx->argv[2], result, &lim);
    hash_written(ctx, ctx->argv[1], e, h);
    if (ctx->journal_as) {
        /* the result: applied twice it is still right, which a full sync
         * that sends a big hash in parts while it changes relies on */
        struct slice form[] = { SLICE_LIT("HSET"), ctx->argv[1], ctx->argv[2], result };
        ctx->journal_as(ctx, 4, form);
    }
    reply_int(ctx->reply, value);
}

void cmd_hincrbyfloat(struct exec_ctx *ctx)
{
    long double incr, value = 0;
    struct entry *e;
    struct hash *h;
    struct slice v;
    if (!parse_ld(ctx->argv[3], &incr)) {
        reply_error(ctx->reply, ERR_NOT_FLOAT);
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(ctx->reply, "ERR value is NaN or Infinity");
        return;
    }
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    if (h && hash_get(h, ctx->argv[2], &v) && !parse_ld(v, &value)) {
        reply_error(ctx->reply, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(ctx->reply, "ERR increment would produce NaN or Infinity");
        return;
    }
    char text[LD_TEXT_MAX];
    int len = format_ld(text, sizeof(text), value);
    struct slice result = { text, (size_t)len };
    if (!h)
        h = hash_create(ctx->store);
    struct hash_limits lim = limits_of(ctx);
    hash_set(ctx->store, &h, ctx->argv[2], result, &lim);
    hash_written(ctx, ctx->argv[1], e, h);
    if (ctx->journal_as) {
        struct slice form[] = { SLICE_LIT("HSET"), ctx->argv[1], ctx->argv[2], result };
        ctx->journal_as(ctx, 4, form);
    }
    reply_bulk(ctx->reply, text, (size_t)len);
}

/* ---- HRANDFIELD ------------------------------------------------------- */

static uint64_t rng_next(void *arg)
{
    uint64_t *s = arg;
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

static uint64_t rng_state(void)
{
    static __thread uint64_t state;
    if (state == 0)
        state = ((uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)&state) | 1;
    return state;
}

struct pair_list {
    struct slice *f, *v;
    size_t        n;
};

static void collect_pair(void *arg, struct slice f, struct slice v)
{
    struct pair_list *l = arg;
    l->f[l->n] = f;
    l->v[l->n] = v;
    l->n++;
}

static void emit_random(struct reply *r, struct slice f, struct slice v, bool withvalues)
{
    if (withvalues && r->proto >= 3)
        reply_array(r, 2);
    reply_bulk(r, f.ptr, f.len);
    if (withvalues)
        reply_bulk(r, v.ptr, v.len);
}

void cmd_hrandfield(struct exec_ctx *ctx)
{
    struct entry *e;
    struct hash *h;
    struct slice f, v;
    uint64_t seed = rng_state();
    if (ctx->argc == 2) {
        if (!find_hash(ctx, ctx->argv[1], &e, &h))
            return;
        if (!h) {
            reply_null(ctx->reply);
            return;
        }
        hash_random(h, rng_next, &seed, &f, &v);
        reply_bulk(ctx->reply, f.ptr, f.len);
        return;
    }
    long long count;
    bool withvalues = false;
    if (!parse_ll(ctx->argv[2], &count)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (count < -LONG_MAX) {
        reply_errorf(ctx->reply, "ERR value is out of range, must be positive");
        return;
    }
    if (ctx->argc > 4 || (ctx->argc == 4 && !slice_eq_nocase(ctx->argv[3], "withvalues"))) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (ctx->argc == 4) {
        withvalues = true;
        if (count < -LONG_MAX / 2 || count > LONG_MAX / 2) {
            reply_error(ctx->reply, "ERR value is out of range");
            return;
        }
    }
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    if (!h || count == 0) {
        reply_array(ctx->reply, 0);
        return;
    }
    size_t size = hash_len(h);
    bool resp2_pairs = withvalues && ctx->reply->proto < 3;
    if (count < 0 || count == 1) {
        /* repetitions allowed: each pick on its own */
        unsigned long long n = count < 0 ? (unsigned long long)-count : 1;
        if (n > RANDOM_REPLY_MAX) { /* a reply that would take the shard's memory and time */
            reply_error(ctx->reply, "ERR value is out of range");
            return;
        }
        reply_array(ctx->reply, (size_t)(resp2_pairs ? n * 2 : n));
        for (unsigned long long i = 0; i < n; i++) {
            hash_random(h, rng_next, &seed, &f, &v);
            emit_random(ctx->reply, f, v, withvalues);
        }
        return;
    }
    size_t n = (unsigned long long)count >= size ? size : (size_t)count;
    if (!hash_is_listpack(h) && sample_sparse(n, size)) {
        /* a few of many: random picks, without copying them all */
        struct sample_seen seen;
        sample_init(&seen, n);
        reply_array(ctx->reply, resp2_pairs ? n * 2 : n);
        for (size_t got = 0; got < n;) {
            hash_random(h, rng_next, &seed, &f, &v);
            if (sample_first(&seen, f.ptr)) {
                emit_random(ctx->reply, f, v, withvalues);
                got++;
            }
        }
        sample_free(&seen);
        return;
    }
    struct pair_list l = { mi_malloc(size * sizeof(struct slice)), mi_malloc(size * sizeof(struct slice)), 0 };
    if (!l.f || !l.v)
        abort();
    hash_foreach(h, collect_pair, &l);
    /* distinct fields: the first n of a partial shuffle */
    if (n < size) {
        for (size_t i = 0; i < n; i++) {
            size_t j = i + (size_t)(rng_next(&seed) % (size - i));
            struct slice t = l.f[i]; l.f[i] = l.f[j]; l.f[j] = t;
            t = l.v[i]; l.v[i] = l.v[j]; l.v[j] = t;
        }
    }
    reply_array(ctx->reply, resp2_pairs ? n * 2 : n);
    for (size_t i = 0; i < n; i++)
        emit_random(ctx->reply, l.f[i], l.v[i], withvalues);
    mi_free(l.f);
    mi_free(l.v);
}

/* ---- HSCAN ------------------------------------------------------------ */

struct scan_out {
    struct buf  pairs;  /* u32 length + bytes, field then value */
    size_t      n;
    struct slice pattern; /* ptr NULL: every field */
};

static void scan_visit(void *arg, struct slice f, struct slice v)
{
    struct scan_out *o = arg;
    if (o->pattern.ptr && !glob_match(o->pattern.ptr, o->pattern.len, f.ptr, f.len, false))
        return;
    uint32_t l = (uint32_t)f.len;
    buf_append(&o->pairs, &l, 4);
    buf_append(&o->pairs, f.ptr, f.len);
    l = (uint32_t)v.len;
    buf_append(&o->pairs, &l, 4);
    buf_append(&o->pairs, v.ptr, v.len);
    o->n++;
}

void cmd_hscan(struct exec_ctx *ctx)
{
    uint64_t cursor;
    if (!collection_scan_cursor(ctx, ctx->argv[2], &cursor))
        return;
    struct entry *e;
    struct hash *h;
    if (!find_hash(ctx, ctx->argv[1], &e, &h))
        return;
    if (!h) {
        collection_scan_reply_none(ctx);
        return;
    }
    long long count;
    struct scan_out o = { .n = 0 };
    if (!collection_scan_options(ctx, &count, &o.pattern))
        return;
    buf_init(&o.pairs);
    uint64_t next = hash_scan(h, cursor, (size_t)count, scan_visit, &o);
    collection_scan_reply_cursor(ctx, next);
    reply_array(ctx->reply, o.n * 2);
    const char *p = o.pairs.data;
    for (size_t i = 0; i < o.n * 2; i++) {
        uint32_t l;
        memcpy(&l, p, 4);
        reply_bulk(ctx->reply, p + 4, l);
        p += 4 + l;
    }
    buf_free(&o.pairs);
}
