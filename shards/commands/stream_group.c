/* cmd_stream_group: the consumer group commands (XGROUP, XREADGROUP, XACK,
 * XPENDING, XCLAIM, XAUTOCLAIM) and XINFO, with Redis 7.0's replies, errors
 * and argument order.
 *
 * Replication: XGROUP, XACK and XCLAIM are deterministic given the
 * keyspace (XCLAIM's times are stated as TIME by the forms below) and are
 * journaled as themselves. XREADGROUP, XCLAIM and XAUTOCLAIM state what
 * they did as Redis propagates it: a consumer they made as XGROUP
 * CREATECONSUMER, each pending entry they gave or took as XCLAIM key group
 * consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last (which a
 * replica applies exactly), and XREADGROUP's progress as XGROUP SETID key
 * group last ENTRIESREAD n. A history read (an ID, not `>`) changes the
 * delivery counts: ringkv states those as XCLAIM too (Redis 7.0 does not,
 * and its replicas' counts drift). */
#include "shards/commands/commands.h"
#include "shards/commands/collection.h"
#include "shards/commands/stream_args.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/numbers.h"
#include "shards/blocking.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/shard.h"
#include "shards/node.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"
#include "shards/store/stream.h"

/* now - t as Redis's x86-64 arithmetic has it, wrapping: a delivery or
 * seen time from a RESTORE payload may be anywhere in int64's range, where
 * the plain difference would overflow (undefined) */
static int64_t ms_since(int64_t now, int64_t t) { return (int64_t)((uint64_t)now - (uint64_t)t); }

/* a - b the same way: a group's entries_read (ENTRIESREAD, a payload) and
 * the stream's entries_added (XSETID, a payload) may be anywhere in range */
static long long wrapping_sub(long long a, long long b) { return (long long)((uint64_t)a - (uint64_t)b); }

static struct slice name_of_group(const struct stream_group *g) { return (struct slice){ g->name, g->name_len }; }
static struct slice name_of_consumer(const struct stream_consumer *c)
{
    return (struct slice){ c->name, c->name_len };
}

/* -NOGROUP No such consumer group 'g' for key name 'k' */
static void reply_nogroup_for_key(struct exec_ctx *ctx, struct slice key, struct slice group)
{
    reply_errorf(ctx->reply, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", (int)group.len, group.ptr,
                 (int)key.len, key.ptr);
}

/* -NOGROUP No such key 'k' or consumer group 'g' */
static void reply_nogroup_key_or_group(struct exec_ctx *ctx, struct slice key, struct slice group, const char *tail)
{
    reply_errorf(ctx->reply, "NOGROUP No such key '%.*s' or consumer group '%.*s'%s", (int)key.len, key.ptr,
                 (int)group.len, group.ptr, tail);
}

static void written(struct exec_ctx *ctx, struct entry *e, struct stream *st)
{
    store_object_changed(ctx->store, e, st);
}

/* ---- the forms journaled ---- */

static void journal_create_consumer(struct exec_ctx *ctx, struct slice key, struct slice group, struct slice consumer)
{
    if (!ctx->journal_as)
        return;
    struct slice form[] = { SLICE_LIT("XGROUP"), SLICE_LIT("CREATECONSUMER"), key, group, consumer };
    ctx->journal_as(ctx, 5, form);
}

/* XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID
 * last: the pending entry as it is now (or, n NULL, gone: the replica's
 * XCLAIM drops it too, its entry being gone there as well). */
static void journal_claim(struct exec_ctx *ctx, struct slice key, const struct stream_group *g, struct stream_id id,
                          const struct stream_nack *n, struct slice consumer)
{
    if (!ctx->journal_as)
        return;
    char idt[STREAM_ID_TEXT], lastt[STREAM_ID_TEXT], timet[24], countt[24];
    int tl = snprintf(timet, sizeof timet, "%lld", (long long)(n ? n->delivery_time : 0));
    int cl = snprintf(countt, sizeof countt, "%llu", (unsigned long long)(n ? n->delivery_count : 0));
    struct slice form[] = { SLICE_LIT("XCLAIM"), key, name_of_group(g),
                            n ? name_of_consumer(n->consumer) : consumer, SLICE_LIT("0"),
                            { idt, stream_id_format(idt, id) }, SLICE_LIT("TIME"), { timet, (size_t)tl },
                            SLICE_LIT("RETRYCOUNT"), { countt, (size_t)cl }, SLICE_LIT("FORCE"), SLICE_LIT("JUSTID"),
                            SLICE_LIT("LASTID"), { lastt, stream_id_format(lastt, g->last_id) } };
    ctx->journal_as(ctx, 14, form);
}

static void journal_setid(struct exec_ctx *ctx, struct slice key, const struct stream_group *g)
{
    if (!ctx->journal_as)
        return;
    char idt[STREAM_ID_TEXT], readt[24];
    int rl = snprintf(readt, sizeof readt, "%lld", (long long)g->entries_read);
    struct slice form[] = { SLICE_LIT("XGROUP"), SLICE_LIT("SETID"), key, name_of_group(g),
                            { idt, stream_id_format(idt, g->last_id) }, SLICE_LIT("ENTRIESREAD"),
                            { readt, (size_t)rl } };
    ctx->journal_as(ctx, 7, form);
}

/* Now, for the times a group keeps: the command's time, or a replica
 * applying its master's stream (which runs without one) its shard's. */
static int64_t now_of(const struct exec_ctx *ctx)
{
    return ctx->now_ms ? ctx->now_ms : ctx->shard ? shard_now_ms(ctx->shard) : 0;
}

/* The consumer named, made if missing (and journaled so); its seen time now. */
static struct stream_consumer *consumer_get(struct exec_ctx *ctx, struct slice key, struct stream *st,
                                            struct stream_group *g, struct slice name, bool *created)
{
    struct stream_consumer *c = stream_consumer_find(g, name);
    if (!c) {
        c = stream_consumer_create(ctx->store, st, g, name, now_of(ctx));
        journal_create_consumer(ctx, key, name_of_group(g), name);
        if (created)
            *created = true;
    }
    c->seen_time = now_of(ctx);
    return c;
}

/* ---- XGROUP ---- */

static bool parse_entries_read(struct exec_ctx *ctx, struct slice a, int64_t *out)
{
    long long v;
    if (!parse_ll(a, &v)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return false;
    }
    if (v < 0 && v != STREAM_ENTRIES_READ_UNKNOWN) {
        reply_error(ctx->reply, "ERR value for ENTRIESREAD must be positive or -1");
        return false;
    }
    *out = v;
    return true;
}

/* The key's stream and the group for XGROUP's subcommands: Redis's checks
 * in its order. false with the error replied. */
static bool xgroup_target(struct exec_ctx *ctx, bool may_create, bool group_needed, struct entry **e,
                          struct stream **st, struct stream_group **g)
{
    if (!stream_key_find(ctx, ctx->argv[2], e, st))
        return false;
    *g = NULL;
    if (!*st && !may_create) {
        reply_error(ctx->reply, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may "
                                "want to use the MKSTREAM option to create an empty stream automatically.");
        return false;
    }
    if (*st)
        *g = stream_group_find(*st, ctx->argv[3]);
    if (group_needed && !*g) {
        reply_nogroup_for_key(ctx, ctx->argv[2], ctx->argv[3]);
        return false;
    }
    return true;
}

/* Redis's answer to an XGROUP subcommand with the wrong arguments. */
static void xgroup_usage(struct exec_ctx *ctx)
{
    reply_errorf(ctx->reply, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try XGROUP HELP.",
                 (int)ctx->argv[1].len, ctx->argv[1].ptr);
}

void cmd_xgroup_create(struct exec_ctx *ctx)
{
    bool mkstream = false;
    int64_t entries_read = STREAM_ENTRIES_READ_UNKNOWN;
    for (int i = 5; i < ctx->argc;) {
        if (slice_eq_nocase(ctx->argv[i], "mkstream")) {
            mkstream = true;
            i++;
        } else if (slice_eq_nocase(ctx->argv[i], "entriesread") && i + 1 < ctx->argc) {
            if (!parse_entries_read(ctx, ctx->argv[i + 1], &entries_read))
                return;
            i += 2;
        } else {
            xgroup_usage(ctx);
            return;
        }
    }
    struct entry *e;
    struct stream *st;
    struct stream_group *g;
    if (!xgroup_target(ctx, mkstream, false, &e, &st, &g))
        return;
    struct stream_id id;
    struct slice a = ctx->argv[4];
    if (a.len == 1 && a.ptr[0] == '$')
        id = st ? stream_last_id(st) : (struct stream_id){ 0, 0 };
    else if (!stream_arg_strict_id(ctx, a, &id, NULL))
        return;
    if (g) {
        reply_error(ctx->reply, "BUSYGROUP Consumer Group name already exists");
        return;
    }
    bool created = !st;
    if (created)
        st = stream_create(ctx->store);
    stream_group_create(ctx->store, st, ctx->argv[3], id, entries_read);
    if (created)
        store_set_object(ctx->store, ctx->argv[2], TYPE_STREAM, st, 0);
    else
        written(ctx, e, st);
    reply_ok(ctx->reply);
}

void cmd_xgroup_setid(struct exec_ctx *ctx)
{
    if (ctx->argc != 5 && ctx->argc != 7) {
        xgroup_usage(ctx);
        return;
    }
    /* ENTRIESREAD before the key, as Redis parses the options first */
    int64_t entries_read = STREAM_ENTRIES_READ_UNKNOWN;
    if (ctx->argc == 7) {
        if (!slice_eq_nocase(ctx->argv[5], "entriesread")) {
            xgroup_usage(ctx);
            return;
        }
        if (!parse_entries_read(ctx, ctx->argv[6], &entries_read))
            return;
    }
    struct entry *e;
    struct stream *st;
    struct stream_group *g;
    if (!xgroup_target(ctx, false, true, &e, &st, &g))
        return;
    struct stream_id id;
    struct slice a = ctx->argv[4];
    if (a.len == 1 && a.ptr[0] == '$')
        id = stream_last_id(st);
    else if (!stream_arg_id(ctx, a, &id))
        return;
    g->last_id = id;
    g->entries_read = entries_read;
    written(ctx, e, st);
    reply_ok(ctx->reply);
}

void cmd_xgroup_destroy(struct exec_ctx *ctx)
{
    struct entry *e;
    struct stream *st;
    struct stream_group *g;
    if (!xgroup_target(ctx, false, false, &e, &st, &g))
        return;
    if (!g) {
        reply_int(ctx->reply, 0);
        return;
    }
    stream_group_destroy(ctx->store, st, ctx->argv[3]);
    written(ctx, e, st);
    reply_int(ctx->reply, 1);
}

void cmd_xgroup_createconsumer(struct exec_ctx *ctx)
{
    struct entry *e;
    struct stream *st;
    struct stream_group *g;
    if (!xgroup_target(ctx, false, true, &e, &st, &g))
        return;
    if (stream_consumer_find(g, ctx->argv[4])) {
        reply_int(ctx->reply, 0);
        return;
    }
    stream_consumer_create(ctx->store, st, g, ctx->argv[4], now_of(ctx));
    written(ctx, e, st);
    reply_int(ctx->reply, 1);
}

void cmd_xgroup_delconsumer(struct exec_ctx *ctx)
{
    struct entry *e;
    struct stream *st;
    struct stream_group *g;
    if (!xgroup_target(ctx, false, true, &e, &st, &g))
        return;
    struct stream_consumer *c = stream_consumer_find(g, ctx->argv[4]);
    if (!c) {
        reply_int(ctx->reply, 0);
        return;
    }
    size_t pending = stream_consumer_delete(ctx->store, st, g, c);
    written(ctx, e, st);
    reply_int(ctx->reply, (long long)pending);
}

void cmd_xgroup_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(ctx->reply, lines[i]);
}

/* ---- XACK ---- */

void cmd_xack(struct exec_ctx *ctx)
{
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[1], &e, &st))
        return;
    struct stream_group *g = st ? stream_group_find(st, ctx->argv[2]) : NULL;
    if (!g) {
        reply_int(ctx->reply, 0);
        return;
    }
    int nids = ctx->argc - 3;
    struct stream_id one, *ids = nids > 1 ? malloc((size_t)nids * sizeof *ids) : &one;
    if (!ids)
        abort();
    for (int j = 0; j < nids; j++)
        if (!stream_arg_strict_id(ctx, ctx->argv[3 + j], &ids[j], NULL))
            goto done;
    long long acked = 0;
    for (int j = 0; j < nids; j++) {
        struct stream_nack *n = stream_pel_find(g, ids[j]);
        if (n) {
            stream_pel_remove(ctx->store, st, g, n);
            acked++;
        }
    }
    if (acked)
        written(ctx, e, st);
    reply_int(ctx->reply, acked);
done:
    if (ids != &one)
        free(ids);
}

/* ---- XPENDING ---- */

void cmd_xpending(struct exec_ctx *ctx)
{
    bool summary = ctx->argc == 3;
    struct stream_id start = { 0, 0 }, end = { UINT64_MAX, UINT64_MAX };
    long long count = 0, minidle = 0;
    struct slice consumer_name = { NULL, 0 };
    if (ctx->argc != 3 && (ctx->argc < 6 || ctx->argc > 9)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (ctx->argc >= 6) {
        int at = 3;
        if (slice_eq_nocase(ctx->argv[3], "idle")) {
            if (!parse_ll(ctx->argv[4], &minidle)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (ctx->argc < 8) {
                reply_error(ctx->reply, ERR_SYNTAX);
                return;
            }
            at += 2;
        }
        if (!parse_ll(ctx->argv[at + 2], &count)) {
            reply_error(ctx->reply, ERR_NOT_INT);
            return;
        }
        if (count < 0)
            count = 0;
        bool ex;
        if (!stream_arg_interval_id(ctx, ctx->argv[at], &start, &ex, 0))
            return;
        if (ex && !stream_id_incr(&start)) {
            reply_error(ctx->reply, "ERR invalid start ID for the interval");
            return;
        }
        if (!stream_arg_interval_id(ctx, ctx->argv[at + 1], &end, &ex, UINT64_MAX))
            return;
        if (ex && !stream_id_decr(&end)) {
            reply_error(ctx->reply, "ERR invalid end ID for the interval");
            return;
        }
        if (at + 3 < ctx->argc)
            consumer_name = ctx->argv[at + 3];
    }
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[1], &e, &st))
        return;
    struct stream_group *g = st ? stream_group_find(st, ctx->argv[2]) : NULL;
    if (!g) {
        reply_nogroup_key_or_group(ctx, ctx->argv[1], ctx->argv[2], "");
        return;
    }
    if (summary) {
        reply_array(ctx->reply, 4);
        reply_int(ctx->reply, (long long)g->pel_count);
        if (g->pel_count == 0) {
            reply_null(ctx->reply);
            reply_null(ctx->reply);
            reply_null_array(ctx->reply);
            return;
        }
        stream_reply_id(ctx, stream_pel_from(g, start)->id);
        stream_reply_id(ctx, stream_pel_upto(g, end)->id);
        size_t with = 0;
        for (size_t i = 0; i < g->nconsumers; i++)
            with += g->consumers[i]->pel_count > 0;
        reply_array(ctx->reply, with);
        for (size_t i = 0; i < g->nconsumers; i++) {
            const struct stream_consumer *c = g->consumers[i];
            if (c->pel_count == 0)
                continue;
            reply_array(ctx->reply, 2);
            reply_bulk(ctx->reply, c->name, c->name_len);
            reply_bulk_ll(ctx->reply, (long long)c->pel_count);
        }
        return;
    }
    const struct stream_consumer *only = NULL;
    if (consumer_name.ptr) {
        only = stream_consumer_find(g, consumer_name);
        if (!only) {
            reply_array(ctx->reply, 0);
            return;
        }
    }
    /* two walks: the count first (the reply's length), then the entries */
    for (int pass = 0; pass < 2; pass++) {
        long long left = count, n = 0;
        struct stream_id at = start;
        for (;;) {
            struct stream_nack *p = only ? stream_consumer_pel_from(only, at) : stream_pel_from(g, at);
            if (!left || !p || stream_id_cmp(p->id, end) > 0)
                break;
            at = p->id;
            bool more = stream_id_incr(&at);
            if (!minidle || ms_since(ctx->now_ms, p->delivery_time) >= minidle) {
                n++;
                left--;
                if (pass == 1) {
                    int64_t idle = ms_since(ctx->now_ms, p->delivery_time);
                    reply_array(ctx->reply, 4);
                    stream_reply_id(ctx, p->id);
                    reply_bulk(ctx->reply, p->consumer->name, p->consumer->name_len);
                    reply_int(ctx->reply, idle < 0 ? 0 : idle);
                    reply_int(ctx->reply, (long long)p->delivery_count);
                }
            }
            if (!more)
                break;
        }
        if (pass == 0)
            reply_array(ctx->reply, (size_t)n);
    }
}

/* ---- XCLAIM XAUTOCLAIM ---- */

/* Does st hold a live entry with id? */
static bool entry_exists(const struct stream *st, struct stream_id id, struct stream_entry *out)
{
    struct stream_iter it;
    stream_iter_init(&it, st, id, id, false);
    return stream_iter_next(&it, out);
}

/* Reply the entry id (or JUSTID its ID alone; a gone entry as nil). */
static void reply_claimed(struct exec_ctx *ctx, const struct stream *st, struct stream_id id, bool justid)
{
    struct stream_entry en;
    if (justid)
        stream_reply_id(ctx, id);
    else if (entry_exists(st, id, &en))
        stream_reply_entry(ctx, &en);
    else
        reply_null(ctx->reply);
}

/* XCLAIM's and XAUTOCLAIM's stream (argv[1]) and group (argv[2]), or NULL
 * after the error reply (WRONGTYPE, NOGROUP). */
static struct stream_group *claim_group(struct exec_ctx *ctx, struct entry **e, struct stream **st)
{
    if (!stream_key_find(ctx, ctx->argv[1], e, st))
        return NULL;
    struct stream_group *g = *st ? stream_group_find(*st, ctx->argv[2]) : NULL;
    if (!g)
        reply_nogroup_key_or_group(ctx, ctx->argv[1], ctx->argv[2], "");
    return g;
}

void cmd_xclaim(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1];
    struct entry *e;
    struct stream *st;
    struct stream_group *g = claim_group(ctx, &e, &st);
    if (!g)
        return;
    long long minidle, retrycount = -1, deliverytime = -1;
    if (!parse_ll(ctx->argv[4], &minidle)) {
        reply_error(ctx->reply, "ERR Invalid min-idle-time argument for XCLAIM");
        return;
    }
    if (minidle < 0)
        minidle = 0;
    int j = 5;
    struct stream_id id;
    for (; j < ctx->argc; j++) {
        struct exec_ctx quiet = *ctx;
        struct buf sink;
        buf_init(&sink);
        struct reply r = { &sink, ctx->reply->proto };
        quiet.reply = &r;
        bool ok = stream_arg_strict_id(&quiet, ctx->argv[j], &id, NULL);
        buf_free(&sink);
        if (!ok)
            break;
    }
    int last_id_arg = j - 1;
    bool force = false, justid = false;
    struct stream_id lastid = { 0, 0 };
    for (; j < ctx->argc; j++) {
        bool more = j + 1 < ctx->argc;
        struct slice o = ctx->argv[j];
        if (slice_eq_nocase(o, "force")) {
            force = true;
        } else if (slice_eq_nocase(o, "justid")) {
            justid = true;
        } else if (slice_eq_nocase(o, "idle") && more) {
            if (!parse_ll(ctx->argv[++j], &deliverytime)) {
                reply_error(ctx->reply, "ERR Invalid IDLE option argument for XCLAIM");
                return;
            }
            /* an idle time so far below zero that now minus it overflows
             * is a time to come: now, as below */
            if (__builtin_sub_overflow(ctx->now_ms, deliverytime, &deliverytime))
                deliverytime = ctx->now_ms;
        } else if (slice_eq_nocase(o, "time") && more) {
            if (!parse_ll(ctx->argv[++j], &deliverytime)) {
                reply_error(ctx->reply, "ERR Invalid TIME option argument for XCLAIM");
                return;
            }
        } else if (slice_eq_nocase(o, "retrycount") && more) {
            if (!parse_ll(ctx->argv[++j], &retrycount)) {
                reply_error(ctx->reply, "ERR Invalid RETRYCOUNT option argument for XCLAIM");
                return;
            }
        } else if (slice_eq_nocase(o, "lastid") && more) {
            if (!stream_arg_strict_id(ctx, ctx->argv[++j], &lastid, NULL))
                return;
        } else {
            reply_errorf(ctx->reply, "ERR Unrecognized XCLAIM option '%.*s'", (int)o.len, o.ptr);
            return;
        }
    }
    bool changed = false, propagate_last_id = false;
    if (stream_id_cmp(lastid, g->last_id) > 0) {
        g->last_id = lastid;
        changed = propagate_last_id = true;
    }
    /* a time to come (or before 1970) is taken as now, as Redis does; a
     * replica (no command time) takes its master's as stated */
    int64_t now = now_of(ctx);
    if (deliverytime != -1) {
        if (ctx->now_ms && (deliverytime < 0 || deliverytime > ctx->now_ms))
            deliverytime = ctx->now_ms;
    } else {
        deliverytime = now;
    }
    struct stream_consumer *c = NULL;
    /* replies are counted first: claimed entries (an array) */
    struct buf body;
    buf_init(&body);
    struct reply br = { &body, ctx->reply->proto };
    struct reply *outer = ctx->reply;
    ctx->reply = &br;
    size_t n = 0;
    for (int k = 5; k <= last_id_arg; k++) {
        stream_arg_strict_id(ctx, ctx->argv[k], &id, NULL);
        struct stream_nack *p = stream_pel_find(g, id);
        struct stream_entry en;
        if (!entry_exists(st, id, &en)) {
            if (p) { /* pending for an entry no longer there: dropped */
                journal_claim(ctx, key, g, id, NULL, p->consumer ? name_of_consumer(p->consumer) : ctx->argv[3]);
                stream_pel_remove(ctx->store, st, g, p);
                propagate_last_id = false;
                changed = true;
            }
            continue;
        }
        bool fresh = false;
        if (force && !p) {
            if (!c)
                c = consumer_get(ctx, key, st, g, ctx->argv[3], NULL);
            p = stream_pel_add(ctx->store, st, g, c, id, deliverytime, 1); /* Redis's new NACK: 1 */
            fresh = true;
        }
        if (!p)
            continue;
        if (!fresh && minidle && ms_since(ctx->now_ms, p->delivery_time) < minidle)
            continue;
        if (!c)
            c = consumer_get(ctx, key, st, g, ctx->argv[3], NULL);
        stream_nack_move(p, c);
        p->delivery_time = deliverytime;
        if (retrycount >= 0)
            p->delivery_count = (uint64_t)retrycount;
        else if (!justid)
            p->delivery_count++;
        reply_claimed(ctx, st, id, justid);
        n++;
        journal_claim(ctx, key, g, id, p, ctx->argv[3]);
        propagate_last_id = false;
        changed = true;
    }
    ctx->reply = outer;
    if (propagate_last_id)
        journal_setid(ctx, key, g);
    if (changed || c)
        written(ctx, e, st);
    reply_array(ctx->reply, n);
    buf_append(ctx->reply->out, body.data, body.len);
    buf_free(&body);
}

void cmd_xautoclaim(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1];
    long long minidle, count = 100;
    if (!parse_ll(ctx->argv[4], &minidle)) {
        reply_error(ctx->reply, "ERR Invalid min-idle-time argument for XAUTOCLAIM");
        return;
    }
    if (minidle < 0)
        minidle = 0;
    struct stream_id start;
    bool ex, justid = false;
    if (!stream_arg_interval_id(ctx, ctx->argv[5], &start, &ex, 0))
        return;
    if (ex && !stream_id_incr(&start)) {
        reply_error(ctx->reply, "ERR invalid start ID for the interval");
        return;
    }
    for (int j = 6; j < ctx->argc; j++) {
        if (slice_eq_nocase(ctx->argv[j], "count") && j + 1 < ctx->argc) {
            if (!parse_ll(ctx->argv[j + 1], &count) || count < 1 || count > LLONG_MAX / 16) {
                reply_error(ctx->reply, "ERR COUNT must be > 0");
                return;
            }
            j++;
        } else if (slice_eq_nocase(ctx->argv[j], "justid")) {
            justid = true;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    /* the arguments first, then the key and group, as Redis 7.0 checks them */
    struct entry *e;
    struct stream *st;
    struct stream_group *g = claim_group(ctx, &e, &st);
    if (!g)
        return;
    long long attempts = count * 10;
    struct stream_consumer *c = NULL;
    struct buf body, gone;
    buf_init(&body);
    buf_init(&gone);
    struct reply br = { &body, ctx->reply->proto }, gr = { &gone, ctx->reply->proto };
    struct reply *outer = ctx->reply;
    size_t n = 0, ngone = 0;
    bool changed = false;
    struct stream_id at = start;
    bool visited = false, more = true;
    while (more && attempts-- && count) {
        struct stream_nack *p = stream_pel_from(g, at);
        if (!p)
            break;
        struct stream_id id = p->id;
        visited = true;
        at = id;
        more = stream_id_incr(&at);
        struct stream_entry en;
        if (!entry_exists(st, id, &en)) {
            ctx->reply = &br;
            journal_claim(ctx, key, g, id, NULL, name_of_consumer(p->consumer));
            stream_pel_remove(ctx->store, st, g, p);
            ctx->reply = &gr;
            stream_reply_id(ctx, id);
            ngone++;
            count--;
            changed = true;
            continue;
        }
        if (minidle && ms_since(ctx->now_ms, p->delivery_time) < minidle)
            continue;
        ctx->reply = &br;
        if (!c)
            c = consumer_get(ctx, key, st, g, ctx->argv[3], NULL);
        stream_nack_move(p, c);
        p->delivery_time = ctx->now_ms;
        if (!justid)
            p->delivery_count++;
        reply_claimed(ctx, st, id, justid);
        n++;
        count--;
        journal_claim(ctx, key, g, id, p, ctx->argv[3]);
        changed = true;
    }
    ctx->reply = outer;
    /* the cursor: the next pending entry after the last one looked at */
    struct stream_nack *next = more ? stream_pel_from(g, visited ? at : start) : NULL;
    if (changed || c)
        written(ctx, e, st);
    reply_array(ctx->reply, 3);
    stream_reply_id(ctx, next ? next->id : (struct stream_id){ 0, 0 });
    reply_array(ctx->reply, n);
    buf_append(ctx->reply->out, body.data, body.len);
    reply_array(ctx->reply, ngone);
    buf_append(ctx->reply->out, gone.data, gone.len);
    buf_free(&body);
    buf_free(&gone);
}

/* ---- XREADGROUP ----
 * XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...:
 * with `>`, the entries past the group's last delivered ID, which become
 * pending for c (unless NOACK) and move the group on; with an ID, c's own
 * pending entries past it (history), delivered once more. Blocks (BLOCK)
 * only when every key was `>` and had nothing new. */

static bool is_new_only(struct slice a) { return a.len == 1 && a.ptr[0] == '>'; }

/* A part of a command over several shards (blocking.h) reads only the
 * keys of its own shard: the others' parts read theirs. */
static bool key_here(const struct exec_ctx *ctx, struct slice key)
{
    const struct shard_msg *m = ctx->msg;
    if (!m || !m->arg || m->kind != MSG_EXEC || !m->cmd || !(m->cmd->flags & CMD_BLOCKING) || !ctx->shard ||
        ctx->store != ctx->shard->store)
        return true;
    return shard_of_slot(ctx->shard->node, key_slot(key.ptr, key.len)) == ctx->shard->id;
}

/* One stream's part: [key, entries], delivering them to c. */
static void deliver(struct exec_ctx *ctx, const struct stream_read_args *a, struct slice key, struct entry *e,
                    struct stream *st, struct stream_group *g, struct stream_id from, bool history)
{
    if (ctx->reply->proto == 2)
        reply_array(ctx->reply, 2);
    reply_bulk(ctx->reply, key.ptr, key.len);
    bool created = false;
    struct stream_consumer *c = consumer_get(ctx, key, st, g, a->consumer, &created);
    size_t max = a->count > 0 ? (size_t)a->count : SIZE_MAX;
    if (history) {
        /* c's pending entries past from: each delivered once more (an
         * entry deleted since answers [id, nil]) */
        size_t n = 0;
        if (!stream_id_incr(&from)) {
            reply_array(ctx->reply, 0);
            return;
        }
        struct stream_id at = from;
        for (struct stream_nack *p; n < max && (p = stream_consumer_pel_from(c, at)); n++) {
            at = p->id;
            if (!stream_id_incr(&at)) {
                n++;
                break;
            }
        }
        reply_array(ctx->reply, n);
        at = from;
        bool changed = created;
        for (size_t i = 0; i < n; i++) {
            struct stream_nack *p = stream_consumer_pel_from(c, at);
            struct stream_entry en;
            if (entry_exists(st, p->id, &en)) {
                stream_reply_entry(ctx, &en);
                p->delivery_time = ctx->now_ms;
                p->delivery_count++;
                journal_claim(ctx, key, g, p->id, p, a->consumer);
                changed = true;
            } else {
                reply_array(ctx->reply, 2);
                stream_reply_id(ctx, p->id);
                reply_null_array(ctx->reply);
            }
            at = p->id;
            stream_id_incr(&at);
        }
        /* nothing delivered again: nothing for a replica (the row would
         * otherwise journal the read itself) */
        if (changed)
            written(ctx, e, st);
        return;
    }
    struct stream_id start = g->last_id;
    stream_id_incr(&start);
    struct stream_iter it;
    struct stream_entry en;
    size_t n = 0;
    stream_iter_init(&it, st, start, (struct stream_id){ UINT64_MAX, UINT64_MAX }, false);
    while (n < max && stream_iter_next(&it, &en))
        n++;
    reply_array(ctx->reply, n);
    stream_iter_init(&it, st, start, (struct stream_id){ UINT64_MAX, UINT64_MAX }, false);
    for (size_t i = 0; i < n && stream_iter_next(&it, &en); i++) {
        stream_reply_entry(ctx, &en);
        /* the group moves on, its count of entries read with it */
        if (stream_id_cmp(en.id, g->last_id) > 0) {
            struct stream_id past = en.id;
            if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN &&
                !stream_range_has_tombstones(st, past, (struct stream_id){ UINT64_MAX, UINT64_MAX }))
                g->entries_read = (int64_t)((uint64_t)g->entries_read + 1); /* wrapping, as Redis's */
            else if (stream_entries_added(st))
                g->entries_read = stream_entries_before(st, en.id);
            g->last_id = en.id;
        }
        if (a->noack)
            continue;
        struct stream_nack *p = stream_pel_find(g, en.id);
        if (p) { /* pending already (the group was set back): now c's, delivered once */
            stream_nack_move(p, c);
            p->delivery_time = ctx->now_ms;
            p->delivery_count = 1;
        } else {
            p = stream_pel_add(ctx->store, st, g, c, en.id, ctx->now_ms, 1);
        }
        journal_claim(ctx, key, g, en.id, p, a->consumer);
    }
    if (n)
        journal_setid(ctx, key, g);
    written(ctx, e, st);
}

static bool serve_xreadgroup(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out);

void cmd_xreadgroup(struct exec_ctx *ctx)
{
    struct stream_read_args a;
    if (!stream_arg_read(ctx, true, &a))
        return;
    int ready = 0;
    for (int i = 0; i < a.nstreams; i++) {
        struct slice key = ctx->argv[a.streams + i], arg = ctx->argv[a.streams + a.nstreams + i];
        struct entry *e;
        struct stream *st;
        if (!key_here(ctx, key))
            continue;
        if (!stream_key_find(ctx, key, &e, &st)) {
            blocking_take(ctx->shard, ctx->msg);
            return;
        }
        struct stream_group *g = st ? stream_group_find(st, a.group) : NULL;
        if (!g) {
            reply_nogroup_key_or_group(ctx, key, a.group, " in XREADGROUP with GROUP option");
            blocking_take(ctx->shard, ctx->msg);
            return;
        }
        struct stream_id id;
        if (arg.len == 1 && arg.ptr[0] == '$') {
            reply_error(ctx->reply, "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the "
                                    "history of this consumer by specifying a proper ID, or use the > ID to get new "
                                    "messages. The $ ID would just return an empty result set.");
            blocking_take(ctx->shard, ctx->msg);
            return;
        }
        if (!is_new_only(arg) && !stream_arg_strict_id(ctx, arg, &id, NULL)) {
            blocking_take(ctx->shard, ctx->msg);
            return;
        }
        ready += !is_new_only(arg) || stream_has_entries_after(st, g->last_id);
    }
    if (ready) {
        if (!blocking_take(ctx->shard, ctx->msg)) {
            reply_null_array(ctx->reply);
            return;
        }
        /* the streams answered, counted as they are read: a key given
         * twice with > is answered the second time only if the first
         * read left it new entries (COUNT), as in Redis */
        struct buf body;
        buf_init(&body);
        struct reply br = { &body, ctx->reply->proto };
        struct reply *outer = ctx->reply;
        ctx->reply = &br;
        size_t served = 0;
        for (int i = 0; i < a.nstreams; i++) {
            struct slice key = ctx->argv[a.streams + i], arg = ctx->argv[a.streams + a.nstreams + i];
            struct entry *e;
            struct stream *st;
            if (!key_here(ctx, key))
                continue;
            stream_key_find(ctx, key, &e, &st);
            struct stream_group *g = stream_group_find(st, a.group);
            struct stream_id id = { 0, 0 };
            bool history = !is_new_only(arg);
            if (history)
                stream_arg_strict_id(ctx, arg, &id, NULL);
            else if (!stream_has_entries_after(st, g->last_id))
                continue;
            deliver(ctx, &a, key, e, st, g, id, history);
            served++;
        }
        ctx->reply = outer;
        if (ctx->reply->proto == 2)
            reply_array(ctx->reply, served);
        else
            reply_map(ctx->reply, served);
        buf_append(ctx->reply->out, body.data, body.len);
        buf_free(&body);
        return;
    }
    if (a.block_ms < 0 ||
        !blocking_wait(ctx, ctx->argv + a.streams, a.nstreams, a.block_ms > 0 ? ctx->now_ms + a.block_ms : 0,
                       serve_xreadgroup, BLOCKING_NULL_ARRAY))
        reply_null_array(ctx->reply);
}

/* A blocked XREADGROUP offered key: its `>` read of that key, run here as
 * a command of its own (journaled as its forms), if the group has new
 * entries; a group gone answers the NOGROUP error. */
static bool serve_xreadgroup(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out)
{
    struct stream *st = stream_key_peek(sh->store, key, shard_now_ms(sh));
    struct slice group = { NULL, 0 }, consumer = { NULL, 0 }, count = { NULL, 0 };
    bool noack = false;
    for (int i = 1; i < m->argc && !slice_eq_nocase(m->argv[i], "streams"); i++) {
        if (slice_eq_nocase(m->argv[i], "group") && i + 2 < m->argc) {
            group = m->argv[i + 1];
            consumer = m->argv[i + 2];
            i += 2;
        } else if (slice_eq_nocase(m->argv[i], "count") && i + 1 < m->argc) {
            count = m->argv[++i];
        } else if (slice_eq_nocase(m->argv[i], "block") && i + 1 < m->argc) {
            i++;
        } else if (slice_eq_nocase(m->argv[i], "noack")) {
            noack = true;
        }
    }
    struct stream_group *g = st && group.ptr ? stream_group_find(st, group) : NULL;
    if (g && !stream_has_entries_after(st, g->last_id)) {
        blocking_pass(sh);
        return false;
    }
    struct reply r = { out, m->proto };
    if (!blocking_take(sh, m)) {
        reply_null_array(&r);
        return true;
    }
    /* the stream or the group gone while it waited: Redis's answers */
    if (!st) {
        reply_error(&r, "UNBLOCKED the stream key no longer exists");
        return true;
    }
    if (!g) {
        reply_error(&r, "NOGROUP the consumer group this client was blocked on no longer exists");
        return true;
    }
    struct slice argv[12];
    int argc = 0;
    argv[argc++] = SLICE_LIT("XREADGROUP");
    argv[argc++] = SLICE_LIT("GROUP");
    argv[argc++] = group;
    argv[argc++] = consumer;
    if (count.ptr) {
        argv[argc++] = SLICE_LIT("COUNT");
        argv[argc++] = count;
    }
    if (noack)
        argv[argc++] = SLICE_LIT("NOACK");
    argv[argc++] = SLICE_LIT("STREAMS");
    argv[argc++] = key;
    argv[argc++] = SLICE_LIT(">");
    blocking_run(sh, argc, argv, out, m->proto);
    return true;
}

/* ---- XINFO ---- */

static void reply_lag(struct exec_ctx *ctx, const struct stream *st, const struct stream_group *g)
{
    if (!stream_entries_added(st)) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN &&
        !stream_range_has_tombstones(st, g->last_id, (struct stream_id){ UINT64_MAX, UINT64_MAX })) {
        reply_int(ctx->reply, wrapping_sub((long long)stream_entries_added(st), g->entries_read));
        return;
    }
    int64_t read = stream_entries_before(st, g->last_id);
    if (read != STREAM_ENTRIES_READ_UNKNOWN)
        reply_int(ctx->reply, wrapping_sub((long long)stream_entries_added(st), read));
    else
        reply_null(ctx->reply);
}

static void reply_group_info(struct exec_ctx *ctx, const struct stream *st, const struct stream_group *g)
{
    reply_map(ctx->reply, 6);
    reply_bulk_str(ctx->reply, "name");
    reply_bulk(ctx->reply, g->name, g->name_len);
    reply_bulk_str(ctx->reply, "consumers");
    reply_int(ctx->reply, (long long)g->nconsumers);
    reply_bulk_str(ctx->reply, "pending");
    reply_int(ctx->reply, (long long)g->pel_count);
    reply_bulk_str(ctx->reply, "last-delivered-id");
    stream_reply_id(ctx, g->last_id);
    reply_bulk_str(ctx->reply, "entries-read");
    if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN)
        reply_int(ctx->reply, g->entries_read);
    else
        reply_null(ctx->reply);
    reply_bulk_str(ctx->reply, "lag");
    reply_lag(ctx, st, g);
}

/* XINFO STREAM's edge entry (first or last), or nil. */
static void reply_edge(struct exec_ctx *ctx, const struct stream *st, bool last)
{
    struct stream_iter it;
    struct stream_entry en;
    stream_iter_init(&it, st, (struct stream_id){ 0, 0 }, (struct stream_id){ UINT64_MAX, UINT64_MAX }, last);
    if (stream_iter_next(&it, &en))
        stream_reply_entry(ctx, &en);
    else
        reply_null(ctx->reply);
}

/* XINFO STREAM key [FULL [COUNT n]] */
void cmd_xinfo_stream(struct exec_ctx *ctx)
{
    bool full = false;
    long long count = 10;
    if (ctx->argc > 3) {
        if (!slice_eq_nocase(ctx->argv[3], "full") || (ctx->argc != 4 && ctx->argc != 6)) {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
        full = true;
        if (ctx->argc == 6) {
            if (!slice_eq_nocase(ctx->argv[4], "count")) {
                reply_error(ctx->reply, ERR_SYNTAX);
                return;
            }
            if (!parse_ll(ctx->argv[5], &count)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (count < 0)
                count = 10;
        }
    }
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[2], &e, &st))
        return;
    if (!st) {
        reply_error(ctx->reply, ERR_NO_KEY);
        return;
    }
    struct stream_id first = { 0, 0 };
    stream_first_entry_id(st, &first);
    reply_map(ctx->reply, full ? 9 : 10);
    reply_bulk_str(ctx->reply, "length");
    reply_int(ctx->reply, (long long)stream_len(st));
    reply_bulk_str(ctx->reply, "radix-tree-keys");
    reply_int(ctx->reply, (long long)stream_nodes(st));
    reply_bulk_str(ctx->reply, "radix-tree-nodes");
    /* ringkv has no radix tree: its vector of nodes is one allocation */
    reply_int(ctx->reply, (long long)stream_nodes(st) + 1);
    reply_bulk_str(ctx->reply, "last-generated-id");
    stream_reply_id(ctx, stream_last_id(st));
    reply_bulk_str(ctx->reply, "max-deleted-entry-id");
    stream_reply_id(ctx, stream_max_deleted_id(st));
    reply_bulk_str(ctx->reply, "entries-added");
    reply_int(ctx->reply, (long long)stream_entries_added(st));
    reply_bulk_str(ctx->reply, "recorded-first-entry-id");
    stream_reply_id(ctx, first);
    if (!full) {
        reply_bulk_str(ctx->reply, "groups");
        reply_int(ctx->reply, (long long)stream_groups(st));
        reply_bulk_str(ctx->reply, "first-entry");
        reply_edge(ctx, st, false);
        reply_bulk_str(ctx->reply, "last-entry");
        reply_edge(ctx, st, true);
        return;
    }
    reply_bulk_str(ctx->reply, "entries");
    stream_reply_range(ctx, st, (struct stream_id){ 0, 0 }, (struct stream_id){ UINT64_MAX, UINT64_MAX }, false,
                       (size_t)count);
    reply_bulk_str(ctx->reply, "groups");
    reply_array(ctx->reply, stream_groups(st));
    for (size_t i = 0; i < stream_groups(st); i++) {
        const struct stream_group *g = stream_group_at(st, i);
        reply_map(ctx->reply, 7);
        reply_bulk_str(ctx->reply, "name");
        reply_bulk(ctx->reply, g->name, g->name_len);
        reply_bulk_str(ctx->reply, "last-delivered-id");
        stream_reply_id(ctx, g->last_id);
        reply_bulk_str(ctx->reply, "entries-read");
        if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN)
            reply_int(ctx->reply, g->entries_read);
        else
            reply_null(ctx->reply);
        reply_bulk_str(ctx->reply, "lag");
        reply_lag(ctx, st, g);
        reply_bulk_str(ctx->reply, "pel-count");
        reply_int(ctx->reply, (long long)g->pel_count);
        reply_bulk_str(ctx->reply, "pending");
        size_t np = count == 0 || g->pel_count < (size_t)count ? g->pel_count : (size_t)count;
        reply_array(ctx->reply, np);
        struct stream_id at = { 0, 0 };
        for (size_t k = 0; k < np; k++) {
            struct stream_nack *p = stream_pel_from(g, at);
            reply_array(ctx->reply, 4);
            stream_reply_id(ctx, p->id);
            reply_bulk(ctx->reply, p->consumer->name, p->consumer->name_len);
            reply_int(ctx->reply, p->delivery_time);
            reply_int(ctx->reply, (long long)p->delivery_count);
            at = p->id;
            stream_id_incr(&at);
        }
        reply_bulk_str(ctx->reply, "consumers");
        reply_array(ctx->reply, g->nconsumers);
        for (size_t k = 0; k < g->nconsumers; k++) {
            const struct stream_consumer *c = g->consumers[k];
            reply_map(ctx->reply, 4);
            reply_bulk_str(ctx->reply, "name");
            reply_bulk(ctx->reply, c->name, c->name_len);
            reply_bulk_str(ctx->reply, "seen-time");
            reply_int(ctx->reply, c->seen_time);
            reply_bulk_str(ctx->reply, "pel-count");
            reply_int(ctx->reply, (long long)c->pel_count);
            reply_bulk_str(ctx->reply, "pending");
            size_t cp = count == 0 || c->pel_count < (size_t)count ? c->pel_count : (size_t)count;
            reply_array(ctx->reply, cp);
            struct stream_id cat = { 0, 0 };
            for (size_t q = 0; q < cp; q++) {
                struct stream_nack *p = stream_consumer_pel_from(c, cat);
                reply_array(ctx->reply, 3);
                stream_reply_id(ctx, p->id);
                reply_int(ctx->reply, p->delivery_time);
                reply_int(ctx->reply, (long long)p->delivery_count);
                cat = p->id;
                stream_id_incr(&cat);
            }
        }
    }
}

void cmd_xinfo_groups(struct exec_ctx *ctx)
{
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[2], &e, &st))
        return;
    if (!st) {
        reply_error(ctx->reply, ERR_NO_KEY);
        return;
    }
    reply_array(ctx->reply, stream_groups(st));
    for (size_t i = 0; i < stream_groups(st); i++)
        reply_group_info(ctx, st, stream_group_at(st, i));
}

void cmd_xinfo_consumers(struct exec_ctx *ctx)
{
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[2], &e, &st))
        return;
    if (!st) {
        reply_error(ctx->reply, ERR_NO_KEY);
        return;
    }
    struct stream_group *g = stream_group_find(st, ctx->argv[3]);
    if (!g) {
        reply_nogroup_for_key(ctx, ctx->argv[2], ctx->argv[3]);
        return;
    }
    reply_array(ctx->reply, g->nconsumers);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const struct stream_consumer *c = g->consumers[i];
        int64_t idle = ms_since(ctx->now_ms, c->seen_time);
        reply_map(ctx->reply, 3);
        reply_bulk_str(ctx->reply, "name");
        reply_bulk(ctx->reply, c->name, c->name_len);
        reply_bulk_str(ctx->reply, "pending");
        reply_int(ctx->reply, (long long)c->pel_count);
        reply_bulk_str(ctx->reply, "idle");
        reply_int(ctx->reply, idle < 0 ? 0 : idle);
    }
}

void cmd_xinfo_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(ctx->reply, lines[i]);
}
