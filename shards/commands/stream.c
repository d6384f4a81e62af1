/* cmd_stream: the stream commands (XADD, XLEN, XRANGE, XREVRANGE, XDEL,
 * XTRIM, XSETID, XREAD), with Redis 7.0's replies, errors and the order
 * in which it checks arguments, the key's type and the IDs.
 *
 * A stream lives in its key's entry as an object (shards/store/stream.h);
 * its node limits are the node's stream-node-max-bytes/-entries, read at
 * each XADD. Unlike the other collections, a stream stays when its last
 * entry goes (XDEL, XTRIM): it keeps its last ID, as Redis's does.
 *
 * Replication: the rows are journaled as themselves (JOURNAL_COMMAND),
 * each in a form that is deterministic whatever the replica's clock and
 * node layout: XADD states the ID it chose (for `*` and `ms-*`) and drops
 * its trimming, which follows as XTRIM key MAXLEN = <length left>, as
 * Redis rewrites its approximate trims; XTRIM states the same exact form. */
#include "shards/commands/commands.h"
#include "shards/commands/collection.h"
#include "shards/commands/stream_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/numbers.h"
#include "shards/blocking.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/store.h"
#include "shards/store/stream.h"

#define ERR_INVALID_ID ERR_INVALID_STREAM_ID
/* Redis's bound on the parsed text of an ID (it copies it to 128 bytes). */
#define ID_TEXT_MAX 127

static struct stream_limits limits_of(const struct exec_ctx *ctx)
{
    if (!ctx->shard || !ctx->shard->node)
        return stream_default_limits;
    const struct config *c = &ctx->shard->node->config;
    return (struct stream_limits){ config_load(c, stream_node_max_bytes), config_load(c, stream_node_max_entries) };
}

bool stream_key_find(struct exec_ctx *ctx, struct slice key, struct entry **e, struct stream **st)
{
    void *obj;
    bool ok = collection_find(ctx, key, TYPE_STREAM, e, &obj);
    *st = obj;
    return ok;
}

/* ---- IDs ---- */

/* Redis's string2ull: a decimal integer, "-" refused, leading blanks and
 * a '+' taken (strtoull's). */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    char buf[ID_TEXT_MAX + 1];
    if (n == 0 || n > ID_TEXT_MAX)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (memchr(buf, '\0', n))
        return false;
    long long ll;
    if (parse_ll((struct slice){ s, n }, &ll)) {
        if (ll < 0)
            return false;
        *out = (uint64_t)ll;
        return true;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno == EINVAL || errno == ERANGE || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* Redis's streamGenericParseIDOrReply: "ms-seq", "ms" (seq missing_seq),
 * "-" and "+" unless strict; with seq_given, "ms-*" too (*seq_given false).
 * false with the error replied. */
static bool parse_id(struct exec_ctx *ctx, struct slice a, struct stream_id *id, uint64_t missing_seq, bool strict,
                     bool *seq_given)
{
    if (a.len > ID_TEXT_MAX)
        goto invalid;
    if (strict && a.len == 1 && (a.ptr[0] == '-' || a.ptr[0] == '+'))
        goto invalid;
    if (seq_given)
        *seq_given = true;
    if (a.len == 1 && a.ptr[0] == '-') {
        *id = (struct stream_id){ 0, 0 };
        return true;
    }
    if (a.len == 1 && a.ptr[0] == '+') {
        *id = (struct stream_id){ UINT64_MAX, UINT64_MAX };
        return true;
    }
    const char *dash = memchr(a.ptr, '-', a.len);
    size_t mslen = dash ? (size_t)(dash - a.ptr) : a.len;
    if (!parse_u64(a.ptr, mslen, &id->ms))
        goto invalid;
    if (dash) {
        const char *sp = dash + 1;
        size_t sl = a.len - mslen - 1;
        if (seq_given && sl == 1 && sp[0] == '*') {
            id->seq = 0;
            *seq_given = false;
        } else if (!parse_u64(sp, sl, &id->seq)) {
            goto invalid;
        }
    } else {
        id->seq = missing_seq;
    }
    return true;
invalid:
    reply_error(ctx->reply, ERR_INVALID_ID);
    return false;
}

bool stream_arg_strict_id(struct exec_ctx *ctx, struct slice a, struct stream_id *id, bool *seq_given)
{
    return parse_id(ctx, a, id, 0, true, seq_given);
}

bool stream_arg_id(struct exec_ctx *ctx, struct slice a, struct stream_id *id)
{
    return parse_id(ctx, a, id, 0, false, NULL);
}

/* An XRANGE bound: an ID, "-"/"+", or "(" and an ID (exclusive). */
bool stream_arg_interval_id(struct exec_ctx *ctx, struct slice a, struct stream_id *id, bool *exclusive,
                              uint64_t missing_seq)
{
    *exclusive = false;
    if (a.len > 1 && a.ptr[0] == '(') {
        *exclusive = true;
        return parse_id(ctx, (struct slice){ a.ptr + 1, a.len - 1 }, id, missing_seq, true, NULL);
    }
    return parse_id(ctx, a, id, missing_seq, false, NULL);
}

void stream_reply_id(struct exec_ctx *ctx, struct stream_id id)
{
    char text[STREAM_ID_TEXT];
    size_t n = stream_id_format(text, id);
    reply_bulk(ctx->reply, text, n);
}

void stream_reply_entry(struct exec_ctx *ctx, const struct stream_entry *e)
{
    reply_array(ctx->reply, 2);
    stream_reply_id(ctx, e->id);
    reply_array(ctx->reply, 2 * e->nfields);
    size_t at = 0;
    for (size_t i = 0; i < e->nfields; i++) {
        struct slice f, v;
        stream_entry_pair(e, &at, &f, &v);
        reply_bulk(ctx->reply, f.ptr, f.len);
        reply_bulk(ctx->reply, v.ptr, v.len);
    }
}

void stream_reply_range(struct exec_ctx *ctx, const struct stream *st, struct stream_id start, struct stream_id end,
                        bool rev, size_t count)
{
    struct stream_iter it;
    struct stream_entry e;
    size_t n = 0;
    stream_iter_init(&it, st, start, end, rev);
    while ((count == 0 || n < count) && stream_iter_next(&it, &e))
        n++;
    reply_array(ctx->reply, n);
    stream_iter_init(&it, st, start, end, rev);
    for (size_t i = 0; i < n && stream_iter_next(&it, &e); i++)
        stream_reply_entry(ctx, &e);
}

/* ---- trimming arguments (XADD, XTRIM) ---- */

struct trim_args {
    bool                        given;      /* MAXLEN or MINID */
    enum stream_trim_strategy   strategy;
    bool                        approx;
    long long                   maxlen;
    struct stream_id            minid;
    long long                   limit;
    bool                        nomkstream; /* XADD */
    bool                        id_given, seq_given;
    struct stream_id            id;
};

/* Redis's streamParseAddOrTrimArgs from argv[2] on: returns the index of
 * XADD's ID argument (XTRIM: argc), or -1 with the error replied. */
static int parse_trim_args(struct exec_ctx *ctx, struct trim_args *a, bool xadd)
{
    memset(a, 0, sizeof *a);
    a->limit = -1;
    bool limit_given = false;
    int i = 2;
    for (; i < ctx->argc; i++) {
        int more = ctx->argc - 1 - i;
        struct slice opt = ctx->argv[i];
        if (xadd && opt.len == 1 && opt.ptr[0] == '*') {
            break;
        } else if ((slice_eq_nocase(opt, "maxlen") || slice_eq_nocase(opt, "minid")) && more) {
            bool maxlen = slice_eq_nocase(opt, "maxlen");
            if (a->given) {
                reply_error(ctx->reply, "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return -1;
            }
            a->approx = false;
            struct slice next = ctx->argv[i + 1];
            if (more >= 2 && next.len == 1 && next.ptr[0] == '~') {
                a->approx = true;
                i++;
            } else if (more >= 2 && next.len == 1 && next.ptr[0] == '=') {
                i++;
            }
            if (maxlen) {
                if (!parse_ll(ctx->argv[i + 1], &a->maxlen)) {
                    reply_error(ctx->reply, ERR_NOT_INT);
                    return -1;
                }
                if (a->maxlen < 0) {
                    reply_error(ctx->reply, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->strategy = STREAM_TRIM_MAXLEN;
            } else {
                if (!stream_arg_strict_id(ctx, ctx->argv[i + 1], &a->minid, NULL))
                    return -1;
                a->strategy = STREAM_TRIM_MINID;
            }
            i++;
            a->given = true;
        } else if (slice_eq_nocase(opt, "limit") && more) {
            if (!parse_ll(ctx->argv[i + 1], &a->limit)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return -1;
            }
            if (a->limit < 0) {
                reply_error(ctx->reply, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = true;
            i++;
        } else if (xadd && slice_eq_nocase(opt, "nomkstream")) {
            a->nomkstream = true;
        } else if (xadd) {
            if (!stream_arg_strict_id(ctx, opt, &a->id, &a->seq_given))
                return -1;
            a->id_given = true;
            break;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return -1;
        }
    }
    if (limit_given && a->limit > 0 && !a->given) {
        reply_error(ctx->reply, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && !a->given) {
        reply_error(ctx->reply, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given) {
        if (!a->approx) {
            reply_error(ctx->reply, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return -1;
        }
    } else if (a->approx) {
        /* Redis's default work bound for ~: a hundred nodes */
        long long per_node = limits_of(ctx).node_max_entries;
        /* at most 10000, checked before multiplying (a huge
         * stream-node-max-entries overflowed 100 * it) */
        a->limit = per_node > 0 && per_node <= 10000 / 100 ? 100 * per_node : 10000;
    } else {
        a->limit = 0;
    }
    return i;
}

/* Trim st as a says; the entries removed. */
static size_t apply_trim(struct exec_ctx *ctx, struct stream *st, const struct trim_args *a)
{
    return stream_trim(ctx->store, st, a->strategy, (uint64_t)a->maxlen, a->minid, a->approx,
                       a->approx ? a->limit : 0);
}

/* The exact form of a trim that left st as it is: XTRIM key MAXLEN = len. */
static void journal_trim(struct exec_ctx *ctx, struct slice key, const struct stream *st)
{
    if (!ctx->journal_as)
        return;
    char len[24];
    int n = snprintf(len, sizeof len, "%zu", stream_len(st));
    struct slice form[] = { SLICE_LIT("XTRIM"), key, SLICE_LIT("MAXLEN"), SLICE_LIT("="), { len, (size_t)n } };
    ctx->journal_as(ctx, 5, form);
}

/* ---- XADD ---- */

void cmd_xadd(struct exec_ctx *ctx)
{
    struct trim_args a;
    int idpos = parse_trim_args(ctx, &a, true);
    if (idpos < 0)
        return;
    int field_pos = idpos + 1;
    if (ctx->argc - field_pos < 2 || (ctx->argc - field_pos) % 2 == 1) {
        reply_errorf(ctx->reply, ERR_ARITY, "xadd");
        return;
    }
    if (a.id_given && a.seq_given && stream_id_is_zero(a.id)) {
        reply_error(ctx->reply, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    struct slice key = ctx->argv[1];
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, key, &e, &st))
        return;
    if (!st && a.nomkstream) {
        reply_null(ctx->reply);
        return;
    }
    bool created = !st;
    if (created)
        st = stream_create(ctx->store);
    struct stream_id last = stream_last_id(st), id;
    if (last.ms == UINT64_MAX && last.seq == UINT64_MAX) {
        reply_error(ctx->reply, "ERR The stream has exhausted the last possible ID, unable to add more items");
        goto drop;
    }
    if (a.id_given && a.seq_given) {
        id = a.id;
    } else if (a.id_given) {
        /* ms-*: the next sequence of that ms, or 0 for a new ms */
        if (last.ms == a.id.ms) {
            if (last.seq == UINT64_MAX)
                goto smaller;
            id = last;
            id.seq++;
        } else {
            id = a.id;
        }
    } else {
        uint64_t now = ctx->now_ms > 0 ? (uint64_t)ctx->now_ms : 0;
        if (now > last.ms) {
            id = (struct stream_id){ now, 0 };
        } else {
            id = last;
            stream_id_incr(&id);
        }
    }
    if (stream_id_cmp(id, last) <= 0)
        goto smaller;
    struct stream_limits lim = limits_of(ctx);
    int nfields = (ctx->argc - field_pos) / 2;
    stream_append(ctx->store, st, id, ctx->argv + field_pos, (size_t)nfields, &lim);
    if (created)
        e = store_set_object(ctx->store, key, TYPE_STREAM, st, 0);
    else
        store_object_changed(ctx->store, e, st);
    /* a trim that removed entries is a change of its own (its keyspace
     * event, "xtrim", follows "xadd") */
    size_t trimmed = a.given ? apply_trim(ctx, st, &a) : 0;
    if (trimmed)
        store_object_changed(ctx->store, e, st);
    if (ctx->journal_as) {
        /* the ID chosen, no trimming (stated exactly next, if it removed
         * anything) */
        struct slice *form = malloc((size_t)(3 + 2 * nfields) * sizeof *form);
        if (!form)
            abort();
        char text[STREAM_ID_TEXT];
        form[0] = SLICE_LIT("XADD");
        form[1] = key;
        form[2] = (struct slice){ text, stream_id_format(text, id) };
        memcpy(form + 3, ctx->argv + field_pos, (size_t)(2 * nfields) * sizeof *form);
        ctx->journal_as(ctx, 3 + 2 * nfields, form);
        free(form);
        if (trimmed)
            journal_trim(ctx, key, st);
    }
    stream_reply_id(ctx, id);
    return;
smaller:
    reply_error(ctx->reply, "ERR The ID specified in XADD is equal or smaller than the target stream top item");
drop:
    if (created)
        stream_destroy(ctx->store, st);
}

/* ---- XLEN XRANGE XREVRANGE ---- */

void cmd_xlen(struct exec_ctx *ctx)
{
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[1], &e, &st))
        return;
    reply_int(ctx->reply, st ? (long long)stream_len(st) : 0);
}

static void xrange_generic(struct exec_ctx *ctx, bool rev)
{
    struct slice start_arg = rev ? ctx->argv[3] : ctx->argv[2];
    struct slice end_arg = rev ? ctx->argv[2] : ctx->argv[3];
    struct stream_id start, end;
    bool startex, endex;
    if (!stream_arg_interval_id(ctx, start_arg, &start, &startex, 0))
        return;
    if (startex && !stream_id_incr(&start)) {
        reply_error(ctx->reply, "ERR invalid start ID for the interval");
        return;
    }
    if (!stream_arg_interval_id(ctx, end_arg, &end, &endex, UINT64_MAX))
        return;
    if (endex && !stream_id_decr(&end)) {
        reply_error(ctx->reply, "ERR invalid end ID for the interval");
        return;
    }
    long long count = -1;
    for (int j = 4; j < ctx->argc; j++) {
        if (slice_eq_nocase(ctx->argv[j], "count") && j + 1 < ctx->argc) {
            if (!parse_ll(ctx->argv[j + 1], &count)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (count < 0)
                count = 0;
            j++;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[1], &e, &st))
        return;
    if (!st) {
        reply_array(ctx->reply, 0);
        return;
    }
    if (count == 0) {
        reply_null_array(ctx->reply);
        return;
    }
    stream_reply_range(ctx, st, start, end, rev, count < 0 ? 0 : (size_t)count);
}

void cmd_xrange(struct exec_ctx *ctx) { xrange_generic(ctx, false); }
void cmd_xrevrange(struct exec_ctx *ctx) { xrange_generic(ctx, true); }

/* ---- XDEL XTRIM XSETID ---- */

void cmd_xdel(struct exec_ctx *ctx)
{
    /* the key first: a missing key answers 0 and a key of another type
     * -WRONGTYPE whatever the IDs, as Redis 7.0 does */
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[1], &e, &st))
        return;
    if (!st) {
        reply_int(ctx->reply, 0);
        return;
    }
    int nids = ctx->argc - 2;
    struct stream_id one, *ids = nids > 1 ? malloc((size_t)nids * sizeof *ids) : &one;
    if (!ids)
        abort();
    /* every ID is checked before any is deleted, as Redis does */
    for (int j = 0; j < nids; j++)
        if (!stream_arg_strict_id(ctx, ctx->argv[2 + j], &ids[j], NULL))
            goto done;
    long long deleted = 0;
    for (int j = 0; j < nids; j++) {
        if (stream_delete(ctx->store, st, ids[j])) {
            stream_note_deleted(st, ids[j]);
            deleted++;
        }
    }
    if (deleted)
        store_object_changed(ctx->store, e, st);
    reply_int(ctx->reply, deleted);
done:
    if (ids != &one)
        free(ids);
}

void cmd_xtrim(struct exec_ctx *ctx)
{
    /* the arguments first, then the key (a bad one is refused whatever the
     * key holds, as in Redis) */
    struct trim_args a;
    if (parse_trim_args(ctx, &a, false) < 0)
        return;
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[1], &e, &st))
        return;
    if (!st) {
        reply_int(ctx->reply, 0);
        return;
    }
    size_t trimmed = apply_trim(ctx, st, &a);
    if (trimmed) {
        store_object_changed(ctx->store, e, st);
        journal_trim(ctx, ctx->argv[1], st);
    }
    reply_int(ctx->reply, (long long)trimmed);
}

void cmd_xsetid(struct exec_ctx *ctx)
{
    struct stream_id id, max_deleted = { 0, 0 };
    long long entries_added = -1;
    if (!stream_arg_strict_id(ctx, ctx->argv[2], &id, NULL))
        return;
    for (int i = 3; i < ctx->argc;) {
        bool more = i + 1 < ctx->argc;
        if (slice_eq_nocase(ctx->argv[i], "entriesadded") && more) {
            if (!parse_ll(ctx->argv[i + 1], &entries_added)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (entries_added < 0) {
                reply_error(ctx->reply, "ERR entries_added must be positive");
                return;
            }
            i += 2;
        } else if (slice_eq_nocase(ctx->argv[i], "maxdeletedid") && more) {
            if (!stream_arg_strict_id(ctx, ctx->argv[i + 1], &max_deleted, NULL))
                return;
            if (stream_id_cmp(id, max_deleted) < 0) {
                reply_error(ctx->reply, "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                return;
            }
            i += 2;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    struct entry *e;
    struct stream *st;
    if (!stream_key_find(ctx, ctx->argv[1], &e, &st))
        return;
    if (!st) {
        reply_error(ctx->reply, ERR_NO_KEY);
        return;
    }
    struct stream_id top;
    if (stream_last_entry_id(st, &top)) {
        if (stream_id_cmp(id, top) < 0) {
            reply_error(ctx->reply, "ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if (entries_added != -1 && stream_len(st) > (unsigned long long)entries_added) {
            reply_error(ctx->reply, "ERR The entries_added specified in XSETID is smaller than the target stream length");
            return;
        }
    }
    stream_set_meta(st, id, entries_added != -1 ? (uint64_t)entries_added : stream_entries_added(st),
                    stream_id_is_zero(max_deleted) ? stream_max_deleted_id(st) : max_deleted);
    store_object_changed(ctx->store, e, st);
    reply_ok(ctx->reply);
}

/* ---- XREAD ----
 * XREAD [COUNT n] [BLOCK ms] STREAMS key... id...: the entries past each
 * ID, for the streams that have some; with BLOCK and none, the client
 * waits (shards/blocking.h) on its keys, each with the ID it reads past
 * (`$` taken as the stream's last ID when it blocked: the blocked
 * client's state), and is served by the first XADD past one of them. */

/* BLOCK ms or COUNT n at argv[*i] (a value after it): 1 read (*i on the
 * value), 0 another word, -1 with Redis's error replied. A negative COUNT
 * is 0 (no limit), as Redis takes it. */
static int read_option(struct exec_ctx *ctx, int *i, long long *count, long long *block_ms)
{
    struct slice o = ctx->argv[*i], v = ctx->argv[*i + 1];
    if (slice_eq_nocase(o, "block")) {
        (*i)++;
        const char *bad = NULL;
        if (!parse_ll(v, block_ms))
            bad = "ERR timeout is not an integer or out of range";
        else if (*block_ms < 0)
            bad = "ERR timeout is negative";
        else if (*block_ms > INT64_MAX / 2 - ctx->now_ms)
            bad = "ERR timeout is out of range";
        if (bad)
            reply_error(ctx->reply, bad);
        return bad ? -1 : 1;
    }
    if (slice_eq_nocase(o, "count")) {
        (*i)++;
        if (!parse_ll(v, count)) {
            reply_error(ctx->reply, ERR_NOT_INT);
            return -1;
        }
        if (*count < 0)
            *count = 0;
        return 1;
    }
    return 0;
}

bool stream_arg_read(struct exec_ctx *ctx, bool group, struct stream_read_args *a)
{
    memset(a, 0, sizeof *a);
    a->block_ms = -1;
    for (int i = 1; i < ctx->argc; i++) {
        bool more = i + 1 < ctx->argc;
        struct slice o = ctx->argv[i];
        int got = more ? read_option(ctx, &i, &a->count, &a->block_ms) : 0;
        if (got < 0)
            return false;
        if (got > 0) {
            continue;
        } else if (slice_eq_nocase(o, "streams") && more) {
            a->streams = i + 1;
            int left = ctx->argc - a->streams;
            if (left % 2 != 0) {
                /* XREADGROUP's text too, as Redis 7.0 words it */
                reply_error(ctx->reply, "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' "
                                        "must be specified.");
                return false;
            }
            a->nstreams = left / 2;
            break;
        } else if (slice_eq_nocase(o, "group") && i + 2 < ctx->argc) {
            if (!group) {
                reply_error(ctx->reply, "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return false;
            }
            a->group = ctx->argv[i + 1];
            a->consumer = ctx->argv[i + 2];
            i += 2;
        } else if (slice_eq_nocase(o, "noack")) {
            if (!group) {
                reply_error(ctx->reply, "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return false;
            }
            a->noack = true;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return false;
        }
    }
    if (a->streams == 0) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return false;
    }
    if (group && !a->group.ptr) {
        reply_error(ctx->reply, "ERR Missing GROUP option for XREADGROUP");
        return false;
    }
    return true;
}

bool stream_has_entries_after(const struct stream *st, struct stream_id gt)
{
    struct stream_id top;
    return stream_len(st) > 0 && stream_last_entry_id(st, &top) && stream_id_cmp(top, gt) > 0;
}

/* One stream's part of XREAD's reply: [key, entries past gt]. */
static void reply_read_stream(struct reply *r, struct exec_ctx *ctx, struct slice key, const struct stream *st,
                              struct stream_id gt, long long count)
{
    if (r->proto == 2)
        reply_array(r, 2);
    reply_bulk(r, key.ptr, key.len);
    stream_id_incr(&gt);
    stream_reply_range(ctx, st, gt, (struct stream_id){ UINT64_MAX, UINT64_MAX }, false, (size_t)count);
}

struct stream *stream_key_peek(struct store *s, struct slice key, int64_t now_ms)
{
    struct entry *e = store_peek(s, key, now_ms);
    return e && entry_type(e) == TYPE_STREAM ? entry_object(e) : NULL;
}

static bool serve_xread(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out);

void cmd_xread(struct exec_ctx *ctx)
{
    struct stream_read_args a;
    if (!stream_arg_read(ctx, false, &a))
        return;
    struct stream_id one, *ids = a.nstreams > 1 ? malloc((size_t)a.nstreams * sizeof *ids) : &one;
    if (!ids)
        abort();
    for (int i = 0; i < a.nstreams; i++) {
        struct slice key = ctx->argv[a.streams + i], arg = ctx->argv[a.streams + a.nstreams + i];
        struct entry *e;
        struct stream *st;
        if (!stream_key_find(ctx, key, &e, &st)) {
            blocking_take(ctx->shard, ctx->msg); /* the error ends the other parts' wait */
            goto done;
        }
        if (arg.len == 1 && arg.ptr[0] == '$') {
            ids[i] = st ? stream_last_id(st) : (struct stream_id){ 0, 0 };
        } else if (arg.len == 1 && arg.ptr[0] == '>') {
            reply_error(ctx->reply, "ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                                    "<group> <consumer> option.");
            blocking_take(ctx->shard, ctx->msg);
            goto done;
        } else if (!stream_arg_strict_id(ctx, arg, &ids[i], NULL)) {
            blocking_take(ctx->shard, ctx->msg);
            goto done;
        }
    }
    int ready = 0;
    for (int i = 0; i < a.nstreams; i++) {
        struct stream *st = stream_key_peek(ctx->store, ctx->argv[a.streams + i], ctx->now_ms);
        ready += st && stream_has_entries_after(st, ids[i]);
    }
    if (ready) {
        if (!blocking_take(ctx->shard, ctx->msg)) {
            reply_null_array(ctx->reply); /* another part (shard) answered */
            goto done;
        }
        if (ctx->reply->proto == 2)
            reply_array(ctx->reply, (size_t)ready);
        else
            reply_map(ctx->reply, (size_t)ready);
        for (int i = 0; i < a.nstreams; i++) {
            struct slice key = ctx->argv[a.streams + i];
            struct stream *st = stream_key_peek(ctx->store, key, ctx->now_ms);
            if (st && stream_has_entries_after(st, ids[i]))
                reply_read_stream(ctx->reply, ctx, key, st, ids[i], a.count);
        }
        goto done;
    }
    if (a.block_ms < 0) {
        reply_null_array(ctx->reply);
        goto done;
    }
    int64_t deadline = a.block_ms > 0 ? ctx->now_ms + a.block_ms : 0;
    if (!blocking_wait(ctx, ctx->argv + a.streams, a.nstreams, deadline, serve_xread, BLOCKING_NULL_ARRAY)) {
        reply_null_array(ctx->reply); /* inside MULTI, a script: as a timeout */
        goto done;
    }
    blocking_set_state(ctx, ids, (size_t)a.nstreams * sizeof *ids);
done:
    if (ids != &one)
        free(ids);
}

/* A blocked XREAD offered key, which got an entry: its entries past the ID
 * it waited with, as [[key, entries]], if there are any. */
static bool serve_xread(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out)
{
    struct slice state = blocking_state(sh);
    int streams = 0;
    for (int i = 1; i < m->argc; i++)
        if (slice_eq_nocase(m->argv[i], "streams")) {
            streams = i + 1;
            break;
        }
    int n = (m->argc - streams) / 2;
    if (streams == 0 || state.len != (size_t)n * sizeof(struct stream_id))
        return false;
    int64_t now = shard_now_ms(sh);
    struct stream *st = stream_key_peek(sh->store, key, now);
    for (int i = 0; i < n; i++) {
        struct slice k = m->argv[streams + i];
        if (k.len != key.len || memcmp(k.ptr, key.ptr, key.len) != 0)
            continue;
        struct stream_id gt;
        memcpy(&gt, state.ptr + (size_t)i * sizeof gt, sizeof gt);
        if (!st || !stream_has_entries_after(st, gt)) {
            blocking_pass(sh);
            return false;
        }
        if (!blocking_take(sh, m)) { /* another part (shard) answered */
            struct reply r = { out, m->proto };
            reply_null_array(&r);
            return true;
        }
        long long count = 0;
        for (int j = 1; j + 1 < streams - 1; j++)
            if (slice_eq_nocase(m->argv[j], "count")) {
                parse_ll(m->argv[j + 1], &count);
                j++;
            } else if (slice_eq_nocase(m->argv[j], "block")) {
                j++;
            }
        if (count < 0)
            count = 0;
        struct reply r = { out, m->proto };
        struct exec_ctx ctx = { .shard = sh, .store = sh->store, .reply = &r, .now_ms = now };
        if (m->proto == 2)
            reply_array(&r, 1);
        else
            reply_map(&r, 1);
        reply_read_stream(&r, &ctx, key, st, gt, count);
        return true;
    }
    blocking_pass(sh);
    return false;
}
