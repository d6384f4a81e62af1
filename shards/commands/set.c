/* cmd_set: the set commands, with Redis 7's replies, errors and order of
 * checks.
 *
 * A set lives in its key's entry as an object (shards/store/set.h); its
 * encoding limits are the node's set-max-intset-entries and
 * set-max-listpack-entries/-value, read at each write. As for hashes, a new
 * set is built before the store gets it, an existing one changes in place
 * and the store is told (store_changed), and a key whose last member goes is
 * deleted.
 *
 * Multi-key commands (SMOVE, SINTER, SUNION, SDIFF, their STORE forms,
 * SINTERCARD) run where their keys are, or on a scratch store holding copies
 * of them when the keys are on several shards (shards/route.c).
 *
 * Replication (the journal column of each row): SADD and SREM as
 * themselves; SPOP as the SREM of the members it chose (DEL when it took
 * them all), as Redis propagates it; SMOVE as SREM src m then SADD dst m,
 * each applied where its key lives (a replica may spread keys over its
 * shards differently); the STORE forms by their effects (the new set, as
 * DEL and SADDs of at most a thousand members, or a DEL). */
#include "shards/commands/commands.h"
#include "shards/commands/collection.h"
#include "shards/commands/sample.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/set.h"
#include "shards/store/store.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/glob.h"
#include "core/numbers.h"

/* Most elements SRANDMEMBER with a negative count answers (Redis has no
 * bound: a count of -2^62 would build the reply until memory runs out). */
#define RANDOM_REPLY_MAX (1u << 24)

static struct set_limits limits_of(const struct exec_ctx *ctx)
{
    if (!ctx->shard || !ctx->shard->node)
        return set_default_limits;
    const struct config *c = &ctx->shard->node->config;
    long long i = config_load(c, set_max_intset_entries);
    long long n = config_load(c, set_max_listpack_entries);
    long long v = config_load(c, set_max_listpack_value);
    return (struct set_limits){ i < 0 ? 0 : (size_t)i, n < 0 ? 0 : (size_t)n, v < 0 ? 0 : (size_t)v };
}

/* The set at key (found: lazily expired), NULL when missing; replies
 * WRONGTYPE and returns false for another type. */
static bool find_set(struct exec_ctx *ctx, struct slice key, struct entry **e, struct set **set)
{
    void *obj;
    bool ok = collection_find(ctx, key, TYPE_SET, e, &obj);
    *set = obj;
    return ok;
}

/* After a write to set (new when e is NULL). */
static void set_written(struct exec_ctx *ctx, struct slice key, struct entry *e, struct set *set)
{
    collection_written(ctx, key, TYPE_SET, e, set);
}

/* Copies of members (set visits may hand out texts valid only for the
 * visit, and removals move the rest): each a u32 length then its bytes. */
struct members {
    struct buf    bytes;
    size_t        n;
    struct slice *at;    /* filled by members_index */
};

static void members_add(void *arg, struct slice m)
{
    struct members *l = arg;
    uint32_t len = (uint32_t)m.len;
    buf_append(&l->bytes, &len, 4);
    buf_append(&l->bytes, m.ptr, m.len);
    l->n++;
}

static void members_index(struct members *l)
{
    l->at = mi_malloc((l->n ? l->n : 1) * sizeof *l->at);
    if (!l->at)
        abort();
    const char *p = l->bytes.data;
    for (size_t i = 0; i < l->n; i++) {
        uint32_t len;
        memcpy(&len, p, 4);
        l->at[i] = (struct slice){ p + 4, len };
        p += 4 + len;
    }
}

static void members_free(struct members *l)
{
    buf_free(&l->bytes);
    mi_free(l->at);
}

static void reply_member(void *arg, struct slice m)
{
    struct reply *r = arg;
    reply_bulk(r, m.ptr, m.len);
}

/* ---- SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS -------------------- */

void cmd_sadd(struct exec_ctx *ctx)
{
    struct entry *e;
    struct set *set;
    if (!find_set(ctx, ctx->argv[1], &e, &set))
        return;
    struct set_limits lim = limits_of(ctx);
    if (!set)
        set = set_create(ctx->store, ctx->argv[2], (size_t)(ctx->argc - 2), &lim);
    long long added = 0;
    for (int i = 2; i < ctx->argc; i++)
        added += set_add(ctx->store, &set, ctx->argv[i], &lim);
    if (e && added == 0) {
        reply_int(ctx->reply, 0);
        return;
    }
    set_written(ctx, ctx->argv[1], e, set);
    reply_int(ctx->reply, added);
}

void cmd_srem(struct exec_ctx *ctx)
{
    struct entry *e;
    struct set *set;
    if (!find_set(ctx, ctx->argv[1], &e, &set))
        return;
    long long removed = 0;
    if (set) {
        for (int i = 2; i < ctx->argc && set_len(set) > 0; i++)
            removed += set_remove(ctx->store, &set, ctx->argv[i]);
        if (removed)
            set_written(ctx, ctx->argv[1], e, set);
    }
    reply_int(ctx->reply, removed);
}

void cmd_scard(struct exec_ctx *ctx)
{
    struct entry *e;
    struct set *set;
    if (find_set(ctx, ctx->argv[1], &e, &set))
        reply_int(ctx->reply, set ? (long long)set_len(set) : 0);
}

void cmd_sismember(struct exec_ctx *ctx)
{
    struct entry *e;
    struct set *set;
    if (find_set(ctx, ctx->argv[1], &e, &set))
        reply_int(ctx->reply, set && set_contains(set, ctx->argv[2]) ? 1 : 0);
}

void cmd_smismember(struct exec_ctx *ctx)
{
    struct entry *e;
    struct set *set;
    if (!find_set(ctx, ctx->argv[1], &e, &set))
        return;
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    for (int i = 2; i < ctx->argc; i++)
        reply_int(ctx->reply, set && set_contains(set, ctx->argv[i]) ? 1 : 0);
}

void cmd_smembers(struct exec_ctx *ctx)
{
    struct entry *e;
    struct set *set;
    if (!find_set(ctx, ctx->argv[1], &e, &set))
        return;
    reply_set(ctx->reply, set ? set_len(set) : 0);
    if (set)
        set_foreach(set, reply_member, ctx->reply);
}

/* ---- SPOP SRANDMEMBER ------------------------------------------------- */

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

static uint64_t *rng(void)
{
    static __thread uint64_t state;
    if (state == 0)
        state = ((uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)&state) | 1;
    return &state;
}

void cmd_spop(struct exec_ctx *ctx)
{
    struct entry *e;
    struct set *set;
    char text[SET_INT_TEXT];
    struct slice key = ctx->argv[1];
    if (ctx->argc > 3) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    long long count = 1;
    if (ctx->argc == 3) {
        /* as Redis's getPositiveLong: one error for both */
        if (!parse_ll(ctx->argv[2], &count) || count < 0) {
            reply_error(ctx->reply, "ERR value is out of range, must be positive");
            return;
        }
    }
    if (!find_set(ctx, key, &e, &set))
        return;
    if (!set) {
        if (ctx->argc == 3)
            reply_set(ctx->reply, 0);
        else
            reply_null(ctx->reply);
        return;
    }
    if (ctx->argc == 2) {
        struct slice m = set_random(set, rng_next, rng(), text);
        reply_bulk(ctx->reply, m.ptr, m.len);
        struct members one = { .n = 0 };
        buf_init(&one.bytes);
        members_add(&one, m);
        members_index(&one);
        set_remove(ctx->store, &set, one.at[0]);
        set_written(ctx, key, e, set);
        if (ctx->journal_as) {
            struct slice form[] = { SLICE_LIT("SREM"), key, one.at[0] };
            ctx->journal_as(ctx, 3, form);
        }
        members_free(&one);
        return;
    }
    if (count == 0) {
        reply_set(ctx->reply, 0);
        return;
    }
    struct members got = { .n = 0 };
    buf_init(&got.bytes);
    bool all = (unsigned long long)count >= set_len(set);
    if (all) {
        set_foreach(set, members_add, &got);
    } else {
        for (long long i = 0; i < count; i++) {
            struct slice m = set_random(set, rng_next, rng(), text);
            struct members one = { .n = 0 };
            buf_init(&one.bytes);
            members_add(&one, m);
            members_index(&one);
            set_remove(ctx->store, &set, one.at[0]);
            members_add(&got, one.at[0]);
            members_free(&one);
        }
    }
    members_index(&got);
    reply_set(ctx->reply, got.n);
    for (size_t i = 0; i < got.n; i++)
        reply_bulk(ctx->reply, got.at[i].ptr, got.at[i].len);
    if (all)
        store_delete(ctx->store, key);
    else
        set_written(ctx, key, e, set);
    if (ctx->journal_as) {
        if (all) {
            struct slice form[] = { SLICE_LIT("DEL"), key };
            ctx->journal_as(ctx, 2, form);
        } else {
            struct slice *form = mi_malloc((got.n + 2) * sizeof *form);
            if (!form)
                abort();
            form[0] = SLICE_LIT("SREM");
            form[1] = key;
            memcpy(form + 2, got.at, got.n * sizeof *form);
            ctx->journal_as(ctx, (int)got.n + 2, form);
            mi_free(form);
        }
    }
    members_free(&got);
}

void cmd_srandmember(struct exec_ctx *ctx)
{
    struct entry *e;
    struct set *set;
    char text[SET_INT_TEXT];
    if (ctx->argc > 3) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (ctx->argc == 2) {
        if (!find_set(ctx, ctx->argv[1], &e, &set))
            return;
        if (!set) {
            reply_null(ctx->reply);
            return;
        }
        struct slice m = set_random(set, rng_next, rng(), text);
        reply_bulk(ctx->reply, m.ptr, m.len);
        return;
    }
    long long count;
    if (!parse_ll(ctx->argv[2], &count)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (count < -LONG_MAX) {
        reply_error(ctx->reply, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
        return;
    }
    if (!find_set(ctx, ctx->argv[1], &e, &set))
        return;
    if (!set || count == 0) {
        reply_array(ctx->reply, 0);
        return;
    }
    if (count < 0) { /* repetitions allowed */
        unsigned long long n = (unsigned long long)-count;
        if (n > RANDOM_REPLY_MAX) { /* a reply that would take the shard's memory and time */
            reply_error(ctx->reply, "ERR value is out of range");
            return;
        }
        reply_array(ctx->reply, (size_t)n);
        for (unsigned long long i = 0; i < n; i++) {
            struct slice m = set_random(set, rng_next, rng(), text);
            reply_bulk(ctx->reply, m.ptr, m.len);
        }
        return;
    }
    size_t size = set_len(set);
    if (strcmp(set_encoding(set), "hashtable") == 0 && sample_sparse((size_t)count, size)) {
        /* a few of many: random picks, without copying them all */
        struct sample_seen seen;
        sample_init(&seen, (size_t)count);
        reply_array(ctx->reply, (size_t)count);
        for (long long got = 0; got < count;) {
            struct slice m = set_random(set, rng_next, rng(), text);
            if (sample_first(&seen, m.ptr)) {
                reply_bulk(ctx->reply, m.ptr, m.len);
                got++;
            }
        }
        sample_free(&seen);
        return;
    }
    struct members all = { .n = 0 };
    buf_init(&all.bytes);
    set_foreach(set, members_add, &all);
    members_index(&all);
    size_t n = (unsigned long long)count >= all.n ? all.n : (size_t)count;
    for (size_t i = 0; n < all.n && i < n; i++) { /* distinct: a partial shuffle */
        size_t j = i + (size_t)(rng_next(rng()) % (all.n - i));
        struct slice t = all.at[i];
        all.at[i] = all.at[j];
        all.at[j] = t;
    }
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_bulk(ctx->reply, all.at[i].ptr, all.at[i].len);
    members_free(&all);
}

/* ---- SMOVE ------------------------------------------------------------ */

void cmd_smove(struct exec_ctx *ctx)
{
    struct slice src = ctx->argv[1], dst = ctx->argv[2], m = ctx->argv[3];
    struct entry *es, *ed;
    struct set *ss, *sd;
    es = store_find(ctx->store, src, ctx->now_ms);
    ed = store_find(ctx->store, dst, ctx->now_ms);
    if (!es) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (entry_type(es) != TYPE_SET || (ed && entry_type(ed) != TYPE_SET)) {
        reply_error(ctx->reply, ERR_WRONGTYPE);
        return;
    }
    ss = entry_object(es);
    sd = ed ? entry_object(ed) : NULL;
    if (ss == sd) { /* the same key */
        reply_int(ctx->reply, set_contains(ss, m) ? 1 : 0);
        return;
    }
    if (!set_remove(ctx->store, &ss, m)) {
        reply_int(ctx->reply, 0);
        return;
    }
    struct set_limits lim = limits_of(ctx);
    if (!sd)
        sd = set_create(ctx->store, m, 1, &lim);
    set_add(ctx->store, &sd, m, &lim);
    /* dst first: es stays valid across the store call that creates dst */
    set_written(ctx, dst, ed, sd);
    set_written(ctx, src, es, ss);
    if (ctx->journal_as) {
        struct slice srem[] = { SLICE_LIT("SREM"), src, m };
        struct slice sadd[] = { SLICE_LIT("SADD"), dst, m };
        ctx->journal_as(ctx, 3, srem);
        ctx->journal_as(ctx, 3, sadd);
    }
    reply_int(ctx->reply, 1);
}

/* ---- SINTER SUNION SDIFF and their STORE forms, SINTERCARD ------------ */

enum set_op { OP_INTER, OP_UNION, OP_DIFF };

/* The sets of keys[0..n): NULL for a missing key. Replies WRONGTYPE and
 * returns NULL if any key holds another type. */
static struct set **lookup_sets(struct exec_ctx *ctx, const struct slice *keys, int n)
{
    struct set **sets = mi_calloc((size_t)n, sizeof *sets);
    if (!sets)
        abort();
    for (int i = 0; i < n; i++) {
        struct entry *e;
        if (!find_set(ctx, keys[i], &e, &sets[i])) {
            mi_free(sets);
            return NULL;
        }
    }
    return sets;
}

struct combine {
    struct store       *store;
    struct set         *out;
    struct set        **sets;
    int                 n;
    enum set_op         op;
    struct set_limits   lim;
    size_t              limit;   /* SINTERCARD: stop counting here (0: none) */
    size_t              count;
};

static void combine_visit(void *arg, struct slice m)
{
    struct combine *c = arg;
    if (c->limit && c->count >= c->limit)
        return;
    if (c->op == OP_INTER) {
        for (int i = 0; i < c->n; i++)
            if (!set_contains(c->sets[i], m))
                return;
    } else if (c->op == OP_DIFF) {
        for (int i = 1; i < c->n; i++)
            if (c->sets[i] && set_contains(c->sets[i], m))
                return;
    }
    if (!c->out) { /* counting only */
        c->count++;
        return;
    }
    c->count += set_add(c->store, &c->out, m, &c->lim);
}

static int by_size(const void *a, const void *b)
{
    size_t x = set_len(*(struct set *const *)a), y = set_len(*(struct set *const *)b);
    return x < y ? -1 : x > y;
}

/* The result of op over sets[0..n) as a new set (NULL when empty), or with
 * counting set only its size (up to limit). */
static struct set *combine(struct exec_ctx *ctx, struct set **sets, int n, enum set_op op, bool counting,
                           size_t limit, size_t *count)
{
    struct combine c = { ctx->store, NULL, sets, n, op, limits_of(ctx), limit, 0 };
    *count = 0;
    if (op == OP_INTER) {
        for (int i = 0; i < n; i++)
            if (!sets[i])
                return NULL; /* a missing key is an empty set */
        qsort(sets, (size_t)n, sizeof *sets, by_size); /* walk the smallest */
    }
    if (op == OP_DIFF && !sets[0])
        return NULL;
    if (!counting) /* an intset, as Redis starts it: the members convert it as needed */
        c.out = set_create(ctx->store, SLICE_LIT("0"), 0, &c.lim);
    if (op == OP_UNION) {
        for (int i = 0; i < n; i++)
            if (sets[i])
                set_foreach(sets[i], combine_visit, &c);
    } else {
        c.sets = op == OP_INTER ? sets + 1 : sets;
        c.n = op == OP_INTER ? n - 1 : n;
        set_foreach(sets[0], combine_visit, &c);
    }
    *count = c.count;
    if (c.out && set_len(c.out) == 0) {
        set_destroy(ctx->store, c.out);
        return NULL;
    }
    return c.out;
}

static void set_op_reply(struct exec_ctx *ctx, enum set_op op)
{
    struct set **sets = lookup_sets(ctx, ctx->argv + 1, ctx->argc - 1);
    if (!sets)
        return;
    size_t count;
    struct set *out = combine(ctx, sets, ctx->argc - 1, op, false, 0, &count);
    mi_free(sets);
    reply_set(ctx->reply, out ? set_len(out) : 0);
    if (out) {
        set_foreach(out, reply_member, ctx->reply);
        set_destroy(ctx->store, out);
    }
}

static void set_op_store(struct exec_ctx *ctx, enum set_op op)
{
    struct slice dst = ctx->argv[1];
    struct set **sets = lookup_sets(ctx, ctx->argv + 2, ctx->argc - 2);
    if (!sets)
        return;
    size_t count;
    struct set *out = combine(ctx, sets, ctx->argc - 2, op, false, 0, &count);
    mi_free(sets);
    if (!out) {
        store_delete(ctx->store, dst);
        reply_int(ctx->reply, 0);
        return;
    }
    long long n = (long long)set_len(out);
    store_set_object(ctx->store, dst, TYPE_SET, out, 0);
    reply_int(ctx->reply, n);
}

void cmd_sinter(struct exec_ctx *ctx)       { set_op_reply(ctx, OP_INTER); }
void cmd_sunion(struct exec_ctx *ctx)       { set_op_reply(ctx, OP_UNION); }
void cmd_sdiff(struct exec_ctx *ctx)        { set_op_reply(ctx, OP_DIFF); }
void cmd_sinterstore(struct exec_ctx *ctx)  { set_op_store(ctx, OP_INTER); }
void cmd_sunionstore(struct exec_ctx *ctx)  { set_op_store(ctx, OP_UNION); }
void cmd_sdiffstore(struct exec_ctx *ctx)   { set_op_store(ctx, OP_DIFF); }

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
void cmd_sintercard(struct exec_ctx *ctx)
{
    long long numkeys, limit = 0;
    if (!parse_ll(ctx->argv[1], &numkeys) || numkeys < 1) {
        reply_error(ctx->reply, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > ctx->argc - 2) {
        reply_error(ctx->reply, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int i = 2 + (int)numkeys; i < ctx->argc; i++) {
        if (slice_eq_nocase(ctx->argv[i], "limit") && i + 1 < ctx->argc) {
            i++;
            if (!parse_ll(ctx->argv[i], &limit) || limit < 0) {
                reply_error(ctx->reply, "ERR LIMIT can't be negative");
                return;
            }
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    struct set **sets = lookup_sets(ctx, ctx->argv + 2, (int)numkeys);
    if (!sets)
        return;
    size_t count;
    combine(ctx, sets, (int)numkeys, OP_INTER, true, (size_t)limit, &count);
    mi_free(sets);
    reply_int(ctx->reply, (long long)count);
}

/* ---- SSCAN ------------------------------------------------------------ */

struct scan_out {
    struct members list;
    struct slice   pattern; /* ptr NULL: every member */
};

static void scan_visit(void *arg, struct slice m)
{
    struct scan_out *o = arg;
    if (o->pattern.ptr && !glob_match(o->pattern.ptr, o->pattern.len, m.ptr, m.len, false))
        return;
    members_add(&o->list, m);
}

void cmd_sscan(struct exec_ctx *ctx)
{
    uint64_t cursor;
    if (!collection_scan_cursor(ctx, ctx->argv[2], &cursor))
        return;
    struct entry *e;
    struct set *set;
    if (!find_set(ctx, ctx->argv[1], &e, &set))
        return;
    if (!set) {
        collection_scan_reply_none(ctx);
        return;
    }
    long long count;
    struct scan_out o = { .list = { .n = 0 } };
    if (!collection_scan_options(ctx, &count, &o.pattern))
        return;
    buf_init(&o.list.bytes);
    uint64_t next = set_scan(set, cursor, (size_t)count, scan_visit, &o);
    members_index(&o.list);
    collection_scan_reply_cursor(ctx, next);
    reply_array(ctx->reply, o.list.n);
    for (size_t i = 0; i < o.list.n; i++)
        reply_bulk(ctx->reply, o.list.at[i].ptr, o.list.at[i].len);
    members_free(&o.list);
}
