/* cmd_zset: the sorted set commands, with Redis 7's replies, errors and
 * order of checks.
 *
 * A sorted set lives in its key's entry as an object (shards/store/zset.h);
 * its encoding limits are the node's zset-max-listpack-entries/-value, read
 * at each write. As for sets, a new zset is built before the store gets it,
 * an existing one changes in place and the store is told
 * (store_object_changed), and a key whose last member goes is deleted.
 *
 * Scores: parsed as Redis parses them (strtod, the whole argument, no
 * leading space, never NaN: "ERR value is not a valid float"); replied as
 * doubles (RESP3) or their shortest exact text (RESP2, as Redis 7.2).
 * Ranges: by rank, by score ("(" exclusive, "-inf"/"+inf") and by member
 * ("[" inclusive, "(" exclusive, "-"/"+"), each turned into a span of
 * ranks [start, end) by the store's counts below a bound.
 *
 * Multi-key commands (ZUNION/ZINTER/ZDIFF and their STORE forms,
 * ZINTERCARD, ZMPOP, ZRANGESTORE) run where their keys are, or on a
 * scratch store holding copies of them when the keys are on several shards
 * (shards/route.c). As Redis, ZUNION/ZINTER/ZDIFF accept plain sets (every
 * member scored 1).
 *
 * Replication (the journal column of each row): ZADD, ZREM and the
 * ZREMRANGEBY* forms as themselves (deterministic given the keyspace);
 * ZADD INCR and ZINCRBY as ZADD key <resulting score> member; ZPOPMIN,
 * ZPOPMAX and ZMPOP as the ZREM of the members they took; the STORE forms
 * by their effects (the new zset, as DEL and ZADDs of at most a thousand
 * members, or a DEL). */
#include "shards/commands/commands.h"
#include "shards/commands/collection.h"
#include "shards/commands/sample.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "shards/blocking.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/set.h"
#include "shards/store/store.h"
#include "shards/store/zset.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/glob.h"
#include "core/numbers.h"

#define ERR_RANGE_FLOAT "ERR min or max is not a float"
#define ERR_RANGE_LEX   "ERR min or max not valid string range item"
#define ERR_NAN_SCORE   "ERR resulting score is not a number (NaN)"

/* Most elements ZRANDMEMBER with a negative count answers (as for
 * SRANDMEMBER: Redis has no bound and would build the reply until memory
 * runs out). */
#define RANDOM_REPLY_MAX (1u << 24)

static struct zset_limits limits_of(const struct exec_ctx *ctx)
{
    if (!ctx->shard || !ctx->shard->node)
        return zset_default_limits;
    const struct config *c = &ctx->shard->node->config;
    long long n = config_load(c, zset_max_listpack_entries);
    long long v = config_load(c, zset_max_listpack_value);
    return (struct zset_limits){ n < 0 ? 0 : (size_t)n, v < 0 ? 0 : (size_t)v };
}

/* The zset at key (found: lazily expired), NULL when missing; replies
 * WRONGTYPE and returns false for another type. */
static bool find_zset(struct exec_ctx *ctx, struct slice key, struct entry **e, struct zset **z)
{
    void *obj;
    bool ok = collection_find(ctx, key, TYPE_ZSET, e, &obj);
    *z = obj;
    return ok;
}

/* After a write to z (new when e is NULL). */
static void zset_written(struct exec_ctx *ctx, struct slice key, struct entry *e, struct zset *z)
{
    collection_written(ctx, key, TYPE_ZSET, e, z);
}

/* Redis's string2d: strtod over the whole argument, no leading space, no
 * NaN, no overflow past the doubles. */
static bool parse_score(struct slice s, double *out)
{
    /* A whole score of at most 15 digits (the usual one: ranks, times,
     * counts) is exact as a double: read it without strtod, which cost
     * ZADD a tenth of its instructions. Anything else goes to strtod. */
    if (s.len > 0 && s.len <= 16) {
        size_t i = s.ptr[0] == '-';
        if (s.len > i && s.len - i <= 15) {
            long long v = 0;
            for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
                v = v * 10 + (s.ptr[i] - '0');
            if (i == s.len) {
                *out = s.ptr[0] == '-' ? -(double)v : (double)v;
                return true;
            }
        }
    }
    char tmp[128];
    if (s.len == 0 || s.len >= sizeof tmp || s.ptr[0] == ' ' || (s.ptr[0] >= '\t' && s.ptr[0] <= '\r'))
        return false;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(tmp, &end);
    if ((size_t)(end - tmp) != s.len || isnan(d) ||
        (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || d == 0)))
        return false;
    *out = d;
    return true;
}

/* ---- ranges ------------------------------------------------------------ */

/* A span of ranks [start, end). */
struct span {
    size_t start, end;
};

/* zslParseRange: "(" makes it exclusive; the rest strtod'ed whole (an
 * empty rest reads as 0, as in Redis). */
static bool parse_score_bound(struct slice s, double *v, bool *excl)
{
    char tmp[128];
    *excl = s.len > 0 && s.ptr[0] == '(';
    if (*excl) {
        s.ptr++;
        s.len--;
    }
    if (s.len >= sizeof tmp)
        return false;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    char *end;
    *v = strtod(tmp, &end);
    return *end == '\0' && !isnan(*v);
}

static bool score_span(const struct zset *z, struct slice min, struct slice max, struct span *sp)
{
    double lo, hi;
    bool lox, hix;
    if (!parse_score_bound(min, &lo, &lox) || !parse_score_bound(max, &hi, &hix))
        return false;
    if (!z) {
        *sp = (struct span){ 0, 0 };
        return true;
    }
    sp->start = zset_count_below(z, lo, lox);
    sp->end = zset_count_below(z, hi, !hix);
    if (sp->end < sp->start || lo > hi || (lo == hi && (lox || hix)))
        sp->end = sp->start;
    return true;
}

/* A lex bound: kind '-' (before all), '+' (after all), '[' or '('. */
struct lex_bound {
    char         kind;
    struct slice v;
};

static bool parse_lex_bound(struct slice s, struct lex_bound *b)
{
    if (s.len == 0)
        return false;
    b->kind = s.ptr[0];
    b->v = (struct slice){ s.ptr + 1, s.len - 1 };
    if (b->kind == '-' || b->kind == '+')
        return s.len == 1;
    return b->kind == '[' || b->kind == '(';
}

/* Elements before bound b, as the lower (min) or upper (max) end. */
static size_t lex_count(const struct zset *z, const struct lex_bound *b, bool as_min)
{
    switch (b->kind) {
    case '-': return 0;
    case '+': return zset_len(z);
    case '[': return zset_count_below_lex(z, b->v, !as_min);
    default:  return zset_count_below_lex(z, b->v, as_min);
    }
}

static bool lex_span(const struct zset *z, struct slice min, struct slice max, struct span *sp)
{
    struct lex_bound lo, hi;
    if (!parse_lex_bound(min, &lo) || !parse_lex_bound(max, &hi))
        return false;
    if (!z) {
        *sp = (struct span){ 0, 0 };
        return true;
    }
    sp->start = lex_count(z, &lo, true);
    sp->end = lex_count(z, &hi, false);
    if (sp->end < sp->start)
        sp->end = sp->start;
    return true;
}

/* Z[REV]RANGE's start/stop, Redis's clamping; empty when out of range. */
static struct span rank_span(size_t len, long long start, long long stop)
{
    long long n = (long long)len;
    if (start < 0)
        start += n;
    if (stop < 0)
        stop += n;
    if (start < 0)
        start = 0;
    if (start > stop || start >= n)
        return (struct span){ 0, 0 };
    if (stop >= n)
        stop = n - 1;
    return (struct span){ (size_t)start, (size_t)stop + 1 };
}

/* ---- copies of elements ------------------------------------------------- */

/* Elements copied out (a removal moves the rest): scores, and each member
 * a u32 length then its bytes. */
struct elems {
    struct buf    bytes;
    size_t        n, cap;
    double       *score;
    struct slice *at;    /* filled by elems_index */
};

static void elems_init(struct elems *l)
{
    *l = (struct elems){ .n = 0 };
    buf_init(&l->bytes);
}

static void elems_add(void *arg, struct slice m, double score)
{
    struct elems *l = arg;
    uint32_t len = (uint32_t)m.len;
    buf_append(&l->bytes, &len, 4);
    buf_append(&l->bytes, m.ptr, m.len);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->score = mi_realloc(l->score, l->cap * sizeof *l->score);
        if (!l->score)
            abort();
    }
    l->score[l->n++] = score;
}

static void elems_index(struct elems *l)
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

static void elems_free(struct elems *l)
{
    buf_free(&l->bytes);
    mi_free(l->score);
    mi_free(l->at);
}

/* Copy count elements from rank (ascending, or rev descending). */
static void elems_from(struct elems *l, const struct zset *z, size_t rank, size_t count, bool rev)
{
    struct zset_iter it;
    struct slice m;
    double score;
    zset_iter_at(z, rank, rev, &it);
    while (count-- > 0 && zset_iter_next(&it, &m, &score))
        elems_add(l, m, score);
}

/* Journal "ZREM key members..." (ZPOP*, ZMPOP). */
static void journal_zrem(struct exec_ctx *ctx, struct slice key, const struct elems *l)
{
    if (!ctx->journal_as || l->n == 0)
        return;
    struct slice *form = mi_malloc((l->n + 2) * sizeof *form);
    if (!form)
        abort();
    form[0] = SLICE_LIT("ZREM");
    form[1] = key;
    memcpy(form + 2, l->at, l->n * sizeof *form);
    ctx->journal_as(ctx, (int)l->n + 2, form);
    mi_free(form);
}

static void journal_zadd(struct exec_ctx *ctx, struct slice key, struct slice m, double score)
{
    if (!ctx->journal_as)
        return;
    char text[ZSET_SCORE_TEXT];
    size_t n = zset_format_score(text, score);
    struct slice form[] = { SLICE_LIT("ZADD"), key, { text, n }, m };
    ctx->journal_as(ctx, 4, form);
}

/* ---- replies ------------------------------------------------------------ */

static void reply_score(struct reply *r, double d)
{
    if (r->proto < 3) { /* a bulk of its text; a whole number's without the float formatting */
        char text[ZSET_SCORE_TEXT];
        reply_bulk(r, text, zset_format_score(text, d));
        return;
    }
    reply_double(r, d == 0 ? 0.0 : d); /* -0 as 0, as Redis shows it */
}

/* n elements from an iterator, with scores or not: RESP2 flat, RESP3 with
 * scores as [member, score] pairs. */
static void reply_elems_iter(struct reply *r, struct zset_iter *it, size_t n, bool withscores)
{
    bool pairs = withscores && r->proto >= 3;
    reply_array(r, withscores && !pairs ? n * 2 : n);
    struct slice m;
    double score;
    for (size_t i = 0; i < n && zset_iter_next(it, &m, &score); i++) {
        if (pairs)
            reply_array(r, 2);
        reply_bulk(r, m.ptr, m.len);
        if (withscores)
            reply_score(r, score);
    }
}

/* Copied elements; nested: as [member, score] pairs (ZMPOP, and ZPOP*
 * with a count on RESP3), else flat. */
static void reply_elems(struct reply *r, const struct elems *l, bool withscores, bool nested)
{
    bool pairs = withscores && nested;
    reply_array(r, withscores && !pairs ? l->n * 2 : l->n);
    for (size_t i = 0; i < l->n; i++) {
        if (pairs)
            reply_array(r, 2);
        reply_bulk(r, l->at[i].ptr, l->at[i].len);
        if (withscores)
            reply_score(r, l->score[i]);
    }
}

/* ---- ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ----------------------------- */

enum { ZADD_NX = 1, ZADD_XX = 2, ZADD_GT = 4, ZADD_LT = 8, ZADD_CH = 16, ZADD_INCR = 32 };

void cmd_zadd(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1];
    int flags = 0, i = 2;
    for (; i < ctx->argc; i++) {
        struct slice a = ctx->argv[i];
        if (slice_eq_nocase(a, "nx"))        flags |= ZADD_NX;
        else if (slice_eq_nocase(a, "xx"))   flags |= ZADD_XX;
        else if (slice_eq_nocase(a, "gt"))   flags |= ZADD_GT;
        else if (slice_eq_nocase(a, "lt"))   flags |= ZADD_LT;
        else if (slice_eq_nocase(a, "ch"))   flags |= ZADD_CH;
        else if (slice_eq_nocase(a, "incr")) flags |= ZADD_INCR;
        else break;
    }
    int pairs = ctx->argc - i;
    if (pairs % 2 != 0 || pairs == 0) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    pairs /= 2;
    if ((flags & ZADD_INCR) && pairs > 1) {
        reply_error(ctx->reply, "ERR INCR option supports a single increment-element pair");
        return;
    }
    if ((flags & ZADD_NX) && (flags & ZADD_XX)) {
        reply_error(ctx->reply, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if (((flags & ZADD_GT) && (flags & ZADD_NX)) || ((flags & ZADD_LT) && (flags & ZADD_NX)) ||
        ((flags & ZADD_GT) && (flags & ZADD_LT))) {
        reply_error(ctx->reply, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    /* a few pairs (the usual ZADD) on the stack, not allocated */
    double few[8];
    double *scores = pairs <= 8 ? few : mi_malloc((size_t)pairs * sizeof *scores);
    if (!scores)
        abort();
    size_t longest = 0;
    for (int p = 0; p < pairs; p++) {
        if (!parse_score(ctx->argv[i + 2 * p], &scores[p])) {
            reply_error(ctx->reply, ERR_NOT_FLOAT);
            if (scores != few)
                mi_free(scores);
            return;
        }
        if (ctx->argv[i + 2 * p + 1].len > longest)
            longest = ctx->argv[i + 2 * p + 1].len;
    }
    struct entry *e;
    struct zset *z;
    if (!find_zset(ctx, key, &e, &z)) {
        if (scores != few)
            mi_free(scores);
        return;
    }
    if (!z && (flags & ZADD_XX)) {
        if (flags & ZADD_INCR)
            reply_null(ctx->reply);
        else
            reply_int(ctx->reply, 0);
        if (scores != few)
            mi_free(scores);
        return;
    }
    struct zset_limits lim = limits_of(ctx);
    if (!z)
        z = zset_create(ctx->store, (size_t)pairs, longest, &lim);
    long long added = 0, updated = 0;
    bool skipped = false, nan_err = false;
    double result = 0;
    for (int p = 0; p < pairs; p++) {
        struct slice m = ctx->argv[i + 2 * p + 1];
        double cur, score = scores[p];
        if (!(flags & ~ZADD_CH)) { /* no condition on the current score: one lookup */
            enum zset_put_result r = zset_put(ctx->store, &z, m, score, &lim);
            added += r == ZSET_ADDED;
            updated += r == ZSET_UPDATED;
            continue;
        }
        if (zset_score(z, m, &cur)) {
            if (flags & ZADD_NX) {
                skipped = true;
                continue;
            }
            if (flags & ZADD_INCR) {
                score += cur;
                if (isnan(score)) {
                    nan_err = true;
                    break;
                }
            }
            if (((flags & ZADD_LT) && score >= cur) || ((flags & ZADD_GT) && score <= cur)) {
                skipped = true;
                continue;
            }
            result = score;
            if (score != cur) {
                zset_set(ctx->store, &z, m, score, &lim);
                updated++;
            }
        } else {
            if (flags & ZADD_XX) {
                skipped = true;
                continue;
            }
            result = score;
            zset_set(ctx->store, &z, m, score, &lim);
            added++;
        }
    }
    if (scores != few)
        mi_free(scores);
    if (added || updated || !e)
        zset_written(ctx, key, e, z);
    if (nan_err) {
        reply_error(ctx->reply, ERR_NAN_SCORE);
        return;
    }
    if (flags & ZADD_INCR) {
        if (skipped) {
            reply_null(ctx->reply);
            return;
        }
        reply_score(ctx->reply, result);
        if (added || updated)
            journal_zadd(ctx, key, ctx->argv[i + 1], result);
        return;
    }
    reply_int(ctx->reply, (flags & ZADD_CH) ? added + updated : added);
}

void cmd_zincrby(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1], m = ctx->argv[3];
    double incr;
    if (!parse_score(ctx->argv[2], &incr)) {
        reply_error(ctx->reply, ERR_NOT_FLOAT);
        return;
    }
    struct entry *e;
    struct zset *z;
    if (!find_zset(ctx, key, &e, &z))
        return;
    struct zset_limits lim = limits_of(ctx);
    double cur = 0, score;
    if (z && zset_score(z, m, &cur)) {
        score = cur + incr;
        if (isnan(score)) {
            reply_error(ctx->reply, ERR_NAN_SCORE);
            return;
        }
    } else {
        score = incr;
    }
    if (!z)
        z = zset_create(ctx->store, 1, m.len, &lim);
    zset_set(ctx->store, &z, m, score, &lim);
    zset_written(ctx, key, e, z);
    reply_score(ctx->reply, score);
    journal_zadd(ctx, key, m, score);
}

void cmd_zrem(struct exec_ctx *ctx)
{
    struct entry *e;
    struct zset *z;
    if (!find_zset(ctx, ctx->argv[1], &e, &z))
        return;
    long long removed = 0;
    if (z) {
        for (int i = 2; i < ctx->argc && zset_len(z) > 0; i++)
            removed += zset_remove(ctx->store, &z, ctx->argv[i]);
        if (removed)
            zset_written(ctx, ctx->argv[1], e, z);
    }
    reply_int(ctx->reply, removed);
}

void cmd_zscore(struct exec_ctx *ctx)
{
    struct entry *e;
    struct zset *z;
    double score;
    if (!find_zset(ctx, ctx->argv[1], &e, &z))
        return;
    if (z && zset_score(z, ctx->argv[2], &score))
        reply_score(ctx->reply, score);
    else
        reply_null(ctx->reply);
}

void cmd_zmscore(struct exec_ctx *ctx)
{
    struct entry *e;
    struct zset *z;
    double score;
    if (!find_zset(ctx, ctx->argv[1], &e, &z))
        return;
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    for (int i = 2; i < ctx->argc; i++) {
        if (z && zset_score(z, ctx->argv[i], &score))
            reply_score(ctx->reply, score);
        else
            reply_null(ctx->reply);
    }
}

void cmd_zcard(struct exec_ctx *ctx)
{
    struct entry *e;
    struct zset *z;
    if (find_zset(ctx, ctx->argv[1], &e, &z))
        reply_int(ctx->reply, z ? (long long)zset_len(z) : 0);
}

/* ---- ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ------------------------------------ */

static void count_generic(struct exec_ctx *ctx, bool lex)
{
    struct entry *e;
    struct zset *z;
    struct span sp;
    /* the range is checked first, as Redis does */
    bool ok = lex ? lex_span(NULL, ctx->argv[2], ctx->argv[3], &sp)
                  : score_span(NULL, ctx->argv[2], ctx->argv[3], &sp);
    if (!ok) {
        reply_error(ctx->reply, lex ? ERR_RANGE_LEX : ERR_RANGE_FLOAT);
        return;
    }
    if (!find_zset(ctx, ctx->argv[1], &e, &z))
        return;
    if (!z) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (lex)
        lex_span(z, ctx->argv[2], ctx->argv[3], &sp);
    else
        score_span(z, ctx->argv[2], ctx->argv[3], &sp);
    reply_int(ctx->reply, (long long)(sp.end - sp.start));
}

void cmd_zcount(struct exec_ctx *ctx)    { count_generic(ctx, false); }
void cmd_zlexcount(struct exec_ctx *ctx) { count_generic(ctx, true); }

/* Z[REV]RANK key member [WITHSCORE] (WITHSCORE as Redis 7.2) */
static void rank_generic(struct exec_ctx *ctx, bool rev)
{
    bool withscore = false;
    if (ctx->argc > 4) {
        reply_errorf(ctx->reply, ERR_ARITY, rev ? "zrevrank" : "zrank");
        return;
    }
    if (ctx->argc == 4) {
        if (!slice_eq_nocase(ctx->argv[3], "withscore")) {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
        withscore = true;
    }
    struct entry *e;
    struct zset *z;
    size_t rank;
    double score;
    if (!find_zset(ctx, ctx->argv[1], &e, &z))
        return;
    if (!z || !zset_rank(z, ctx->argv[2], &rank)) {
        if (withscore)
            reply_null_array(ctx->reply);
        else
            reply_null(ctx->reply);
        return;
    }
    if (rev)
        rank = zset_len(z) - 1 - rank;
    if (!withscore) {
        reply_int(ctx->reply, (long long)rank);
        return;
    }
    zset_score(z, ctx->argv[2], &score);
    reply_array(ctx->reply, 2);
    reply_int(ctx->reply, (long long)rank);
    reply_score(ctx->reply, score);
}

void cmd_zrank(struct exec_ctx *ctx)    { rank_generic(ctx, false); }
void cmd_zrevrank(struct exec_ctx *ctx) { rank_generic(ctx, true); }

/* ---- ZRANGE and its forms ------------------------------------------------ */

enum range_kind { RANGE_AUTO, RANGE_RANK, RANGE_SCORE, RANGE_LEX };
enum range_dir { DIR_AUTO, DIR_FORWARD, DIR_REVERSE };

/* Redis's zrangeGenericCommand: the range's arguments start at argv[first]
 * (key, min, max, options); dst set for ZRANGESTORE. */
static void range_generic(struct exec_ctx *ctx, int first, const struct slice *dst, enum range_kind kind,
                          enum range_dir dir)
{
    struct slice key = ctx->argv[first];
    int minidx = first + 1, maxidx = first + 2;
    bool withscores = false, limited = false;
    long long offset = 0, limit = -1;
    for (int j = first + 3; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        struct slice a = ctx->argv[j];
        if (!dst && slice_eq_nocase(a, "withscores")) {
            withscores = true;
        } else if (slice_eq_nocase(a, "limit") && left >= 2) {
            if (!parse_ll(ctx->argv[j + 1], &offset) || !parse_ll(ctx->argv[j + 2], &limit)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            limited = true;
            j += 2;
        } else if (dir == DIR_AUTO && slice_eq_nocase(a, "rev")) {
            dir = DIR_REVERSE;
        } else if (kind == RANGE_AUTO && slice_eq_nocase(a, "bylex")) {
            kind = RANGE_LEX;
        } else if (kind == RANGE_AUTO && slice_eq_nocase(a, "byscore")) {
            kind = RANGE_SCORE;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    if (dir == DIR_AUTO)
        dir = DIR_FORWARD;
    if (kind == RANGE_AUTO)
        kind = RANGE_RANK;
    if (limited && kind == RANGE_RANK) {
        reply_error(ctx->reply, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return;
    }
    if (withscores && kind == RANGE_LEX) {
        reply_error(ctx->reply, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    bool rev = dir == DIR_REVERSE;
    if (rev && kind != RANGE_RANK) { /* given as max, min */
        int t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    long long start = 0, stop = 0;
    struct span sp;
    switch (kind) {
    case RANGE_SCORE:
        if (!score_span(NULL, ctx->argv[minidx], ctx->argv[maxidx], &sp)) {
            reply_error(ctx->reply, ERR_RANGE_FLOAT);
            return;
        }
        break;
    case RANGE_LEX:
        if (!lex_span(NULL, ctx->argv[minidx], ctx->argv[maxidx], &sp)) {
            reply_error(ctx->reply, ERR_RANGE_LEX);
            return;
        }
        break;
    default:
        if (!parse_ll(ctx->argv[minidx], &start) || !parse_ll(ctx->argv[maxidx], &stop)) {
            reply_error(ctx->reply, ERR_NOT_INT);
            return;
        }
        break;
    }
    struct entry *e;
    struct zset *z;
    if (!find_zset(ctx, key, &e, &z))
        return;
    if (z) {
        if (kind == RANGE_SCORE)
            score_span(z, ctx->argv[minidx], ctx->argv[maxidx], &sp);
        else if (kind == RANGE_LEX)
            lex_span(z, ctx->argv[minidx], ctx->argv[maxidx], &sp);
        else
            sp = rank_span(zset_len(z), start, stop);
        if (kind != RANGE_RANK && limited) {
            if (offset < 0 || limit == 0 || (unsigned long long)offset >= sp.end - sp.start) {
                sp.end = sp.start;
            } else {
                size_t n = sp.end - sp.start - (size_t)offset;
                if (limit > 0 && (unsigned long long)limit < n)
                    n = (size_t)limit;
                if (rev)
                    sp.end -= (size_t)offset, sp.start = sp.end - n;
                else
                    sp.start += (size_t)offset, sp.end = sp.start + n;
            }
        }
    } else {
        sp = (struct span){ 0, 0 };
    }
    size_t n = sp.end - sp.start;
    /* where the walk starts, as the walk counts ranks */
    size_t from = rev && z && kind != RANGE_RANK ? zset_len(z) - sp.end : sp.start;
    if (!dst) {
        struct zset_iter it = { .left = 0 };
        if (n)
            zset_iter_at(z, from, rev, &it);
        reply_elems_iter(ctx->reply, &it, n, withscores);
        return;
    }
    if (n == 0) {
        store_delete(ctx->store, *dst);
        reply_int(ctx->reply, 0);
        return;
    }
    struct zset_limits lim = limits_of(ctx);
    struct elems l;
    elems_init(&l);
    elems_from(&l, z, from, n, rev);
    elems_index(&l);
    size_t longest = 0;
    for (size_t i = 0; i < l.n; i++)
        if (l.at[i].len > longest)
            longest = l.at[i].len;
    struct zset *out = zset_create(ctx->store, l.n, longest, &lim);
    for (size_t i = 0; i < l.n; i++)
        zset_set(ctx->store, &out, l.at[i], l.score[i], &lim);
    elems_free(&l);
    store_set_object(ctx->store, *dst, TYPE_ZSET, out, 0);
    reply_int(ctx->reply, (long long)n);
}

void cmd_zrange(struct exec_ctx *ctx)          { range_generic(ctx, 1, NULL, RANGE_AUTO, DIR_AUTO); }
void cmd_zrangestore(struct exec_ctx *ctx)     { range_generic(ctx, 2, &ctx->argv[1], RANGE_AUTO, DIR_AUTO); }
void cmd_zrevrange(struct exec_ctx *ctx)       { range_generic(ctx, 1, NULL, RANGE_RANK, DIR_REVERSE); }
void cmd_zrangebyscore(struct exec_ctx *ctx)   { range_generic(ctx, 1, NULL, RANGE_SCORE, DIR_FORWARD); }
void cmd_zrevrangebyscore(struct exec_ctx *ctx){ range_generic(ctx, 1, NULL, RANGE_SCORE, DIR_REVERSE); }
void cmd_zrangebylex(struct exec_ctx *ctx)     { range_generic(ctx, 1, NULL, RANGE_LEX, DIR_FORWARD); }
void cmd_zrevrangebylex(struct exec_ctx *ctx)  { range_generic(ctx, 1, NULL, RANGE_LEX, DIR_REVERSE); }

/* ---- ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX --------------------- */

static void remrange_generic(struct exec_ctx *ctx, enum range_kind kind)
{
    struct slice key = ctx->argv[1];
    long long start = 0, stop = 0;
    struct span sp;
    if (kind == RANGE_RANK) {
        if (!parse_ll(ctx->argv[2], &start) || !parse_ll(ctx->argv[3], &stop)) {
            reply_error(ctx->reply, ERR_NOT_INT);
            return;
        }
    } else if (kind == RANGE_SCORE ? !score_span(NULL, ctx->argv[2], ctx->argv[3], &sp)
                                   : !lex_span(NULL, ctx->argv[2], ctx->argv[3], &sp)) {
        reply_error(ctx->reply, kind == RANGE_SCORE ? ERR_RANGE_FLOAT : ERR_RANGE_LEX);
        return;
    }
    struct entry *e;
    struct zset *z;
    if (!find_zset(ctx, key, &e, &z))
        return;
    if (!z) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (kind == RANGE_RANK)
        sp = rank_span(zset_len(z), start, stop);
    else if (kind == RANGE_SCORE)
        score_span(z, ctx->argv[2], ctx->argv[3], &sp);
    else
        lex_span(z, ctx->argv[2], ctx->argv[3], &sp);
    size_t n = sp.end - sp.start;
    if (n == 0) {
        reply_int(ctx->reply, 0);
        return;
    }
    struct elems l;
    elems_init(&l);
    elems_from(&l, z, sp.start, n, false);
    elems_index(&l);
    for (size_t i = 0; i < l.n; i++)
        zset_remove(ctx->store, &z, l.at[i]);
    elems_free(&l);
    zset_written(ctx, key, e, z);
    reply_int(ctx->reply, (long long)n);
}

void cmd_zremrangebyrank(struct exec_ctx *ctx)  { remrange_generic(ctx, RANGE_RANK); }
void cmd_zremrangebyscore(struct exec_ctx *ctx) { remrange_generic(ctx, RANGE_SCORE); }
void cmd_zremrangebylex(struct exec_ctx *ctx)   { remrange_generic(ctx, RANGE_LEX); }

/* ---- ZPOPMIN ZPOPMAX ZMPOP ---------------------------------------------- */

/* Take up to count elements from z at key's lowest (or max: highest) end,
 * copied into l; journaled as ZREM of them. */
static void pop_from(struct exec_ctx *ctx, struct slice key, struct entry *e, struct zset *z, size_t count,
                     bool max, struct elems *l)
{
    elems_init(l);
    elems_from(l, z, 0, count, max);
    elems_index(l);
    for (size_t i = 0; i < l->n; i++)
        zset_remove(ctx->store, &z, l->at[i]);
    zset_written(ctx, key, e, z);
    journal_zrem(ctx, key, l);
}

static void zpop_generic(struct exec_ctx *ctx, bool max)
{
    if (ctx->argc > 3) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    long long count = 1;
    if (ctx->argc == 3) {
        if (!parse_ll(ctx->argv[2], &count) || count < 0) {
            reply_error(ctx->reply, "ERR value is out of range, must be positive");
            return;
        }
    }
    struct entry *e;
    struct zset *z;
    if (!find_zset(ctx, ctx->argv[1], &e, &z)) /* a count of 0 too: WRONGTYPE first, as Redis */
        return;
    if (!z || count == 0) {
        reply_array(ctx->reply, 0);
        return;
    }
    struct elems l;
    pop_from(ctx, ctx->argv[1], e, z, (size_t)count, max, &l);
    /* with a count, RESP3 nests [member, score] pairs; without, flat */
    reply_elems(ctx->reply, &l, true, ctx->argc == 3 && ctx->reply->proto >= 3);
    elems_free(&l);
}

void cmd_zpopmin(struct exec_ctx *ctx) { zpop_generic(ctx, false); }
void cmd_zpopmax(struct exec_ctx *ctx) { zpop_generic(ctx, true); }

/* ZMPOP's (and BZMPOP's) arguments from numkeys at argv[numkeys_at]:
 * false with the error replied, in Redis's order of checks. */
static bool zmpop_parse(struct exec_ctx *ctx, int numkeys_at, long long *numkeys, bool *max, long long *count)
{
    long long nk;
    *count = -1;
    if (!parse_ll(ctx->argv[numkeys_at], &nk) || nk < 1) {
        reply_error(ctx->reply, "ERR numkeys should be greater than 0");
        return false;
    }
    if (nk >= ctx->argc - numkeys_at - 1) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return false;
    }
    int where = numkeys_at + 1 + (int)nk;
    if (slice_eq_nocase(ctx->argv[where], "min")) {
        *max = false;
    } else if (slice_eq_nocase(ctx->argv[where], "max")) {
        *max = true;
    } else {
        reply_error(ctx->reply, ERR_SYNTAX);
        return false;
    }
    for (int j = where + 1; j < ctx->argc; j++) {
        if (*count == -1 && slice_eq_nocase(ctx->argv[j], "count") && j + 1 < ctx->argc) {
            j++;
            if (!parse_ll(ctx->argv[j], count) || *count < 1) {
                reply_error(ctx->reply, "ERR count should be greater than 0");
                return false;
            }
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return false;
        }
    }
    if (*count == -1)
        *count = 1;
    *numkeys = nk;
    return true;
}

/* Pop from the first of keys that has members: [key, [[member, score]...]]
 * replied, 1. 0 with nothing replied when none has; -1 when replied
 * otherwise (WRONGTYPE, or a null because another part of the blocking
 * form, on another shard, took elements first: shards/blocking.h). */
static int zmpop_keys(struct exec_ctx *ctx, const struct slice *keys, int nkeys, bool max, long long count)
{
    for (int k = 0; k < nkeys; k++) {
        struct entry *e;
        struct zset *z;
        if (!find_zset(ctx, keys[k], &e, &z)) {
            blocking_take(ctx->shard, ctx->msg); /* the error ends the other parts' wait */
            return -1;
        }
        if (!z)
            continue;
        if (!blocking_take(ctx->shard, ctx->msg)) {
            reply_null_array(ctx->reply);
            return -1;
        }
        struct elems l;
        reply_array(ctx->reply, 2);
        reply_bulk(ctx->reply, keys[k].ptr, keys[k].len);
        pop_from(ctx, keys[k], e, z, (size_t)count, max, &l);
        reply_elems(ctx->reply, &l, true, true);
        elems_free(&l);
        return 1;
    }
    return 0;
}

/* ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] */
void cmd_zmpop(struct exec_ctx *ctx)
{
    long long numkeys, count;
    bool max;
    if (!zmpop_parse(ctx, 1, &numkeys, &max, &count))
        return;
    if (zmpop_keys(ctx, ctx->argv + 2, (int)numkeys, max, count) == 0)
        reply_null_array(ctx->reply);
}

/* ---- BZPOPMIN BZPOPMAX BZMPOP --------------------------------------------
 * Each first acts as its non-blocking form; when no key it names has
 * members it waits (shards/blocking.h), and a write that gives one of its
 * keys members serves it through a serve function here, which runs the
 * removal as a command of its own (ZREM for BZPOP*, ZMPOP for BZMPOP:
 * journaled as the ZREM of what it took, after the write that woke it) and
 * leaves the ZADD that gives the members back to a client that turned out
 * to be gone. Inside MULTI they do not block: the timeout reply. */

/* The zset at key on the shard's store, if it has members. */
static struct zset *ready_zset(struct shard *sh, struct slice key)
{
    struct entry *e = store_peek(sh->store, key, shard_now_ms(sh));
    if (!e || entry_type(e) != TYPE_ZSET || zset_len(entry_object(e)) == 0)
        return NULL;
    return entry_object(e);
}

/* The undo of taking l's members from key: ZADD key score member... */
static void undo_zadd(struct shard_msg *m, struct slice key, const struct elems *l)
{
    struct slice *form = mi_malloc((2 * l->n + 2) * sizeof *form);
    char *text = mi_malloc((l->n ? l->n : 1) * ZSET_SCORE_TEXT);
    if (!form || !text)
        abort();
    form[0] = SLICE_LIT("ZADD");
    form[1] = key;
    for (size_t i = 0; i < l->n; i++) {
        char *t = text + i * ZSET_SCORE_TEXT;
        form[2 + 2 * i] = (struct slice){ t, zset_format_score(t, l->score[i]) };
        form[3 + 2 * i] = l->at[i];
    }
    blocking_undo(m, (int)(2 * l->n + 2), form);
    mi_free(text);
    mi_free(form);
}

/* BZPOPMIN / BZPOPMAX served from key: [key, member, score]. */
static bool serve_zpop(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out)
{
    struct zset *z = ready_zset(sh, key);
    if (!z)
        return false;
    struct reply r = { out, m->proto };
    if (!blocking_take(sh, m)) { /* another part (shard) was served */
        reply_null_array(&r);
        return true;
    }
    bool max = slice_eq_nocase(m->argv[0], "bzpopmax");
    struct elems l;
    elems_init(&l);
    elems_from(&l, z, 0, 1, max);
    elems_index(&l);
    reply_array(&r, 3);
    reply_bulk(&r, key.ptr, key.len);
    reply_bulk(&r, l.at[0].ptr, l.at[0].len);
    reply_score(&r, l.score[0]);
    /* the removal as a command: journaled as ZREM; its own reply dropped */
    struct buf ignored;
    buf_init(&ignored);
    struct slice zrem[] = { SLICE_LIT("ZREM"), key, l.at[0] };
    blocking_run(sh, 3, zrem, &ignored, m->proto);
    buf_free(&ignored);
    undo_zadd(m, key, &l);
    elems_free(&l);
    return true;
}

static void bzpop_generic(struct exec_ctx *ctx, bool max)
{
    int64_t deadline;
    if (!collection_timeout(ctx, ctx->argv[ctx->argc - 1], &deadline))
        return;
    for (int i = 1; i < ctx->argc - 1; i++) {
        struct entry *e;
        struct zset *z;
        struct slice key = ctx->argv[i];
        if (!find_zset(ctx, key, &e, &z)) {
            blocking_take(ctx->shard, ctx->msg); /* the error ends the other parts' wait */
            return;
        }
        if (!z)
            continue;
        if (!blocking_take(ctx->shard, ctx->msg)) {
            reply_null_array(ctx->reply); /* another part (shard) was served */
            return;
        }
        struct elems l;
        pop_from(ctx, key, e, z, 1, max, &l);
        reply_array(ctx->reply, 3);
        reply_bulk(ctx->reply, key.ptr, key.len);
        reply_bulk(ctx->reply, l.at[0].ptr, l.at[0].len);
        reply_score(ctx->reply, l.score[0]);
        elems_free(&l);
        return;
    }
    if (!blocking_wait(ctx, ctx->argv + 1, ctx->argc - 2, deadline, serve_zpop, BLOCKING_NULL_ARRAY))
        reply_null_array(ctx->reply);
}

void cmd_bzpopmin(struct exec_ctx *ctx) { bzpop_generic(ctx, false); }
void cmd_bzpopmax(struct exec_ctx *ctx) { bzpop_generic(ctx, true); }

/* BZMPOP timeout numkeys key... MIN|MAX [COUNT n], served from key. */
static bool serve_zmpop(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out)
{
    struct zset *z = ready_zset(sh, key);
    if (!z)
        return false;
    if (!blocking_take(sh, m)) { /* another part (shard) was served */
        struct reply r = { out, m->proto };
        reply_null_array(&r);
        return true;
    }
    long long nk = 1, count = 1;
    parse_ll(m->argv[2], &nk);
    bool max = slice_eq_nocase(m->argv[3 + nk], "max");
    if (m->argc > 5 + nk)
        parse_ll(m->argv[5 + nk], &count);
    /* what it takes, copied for the undo before the removal frees it */
    struct elems l;
    elems_init(&l);
    elems_from(&l, z, 0, (size_t)count, max);
    elems_index(&l);
    char num[24];
    int nl = snprintf(num, sizeof num, "%lld", count);
    struct slice mp[] = { SLICE_LIT("ZMPOP"), SLICE_LIT("1"), key, max ? SLICE_LIT("MAX") : SLICE_LIT("MIN"),
                          SLICE_LIT("COUNT"), { num, (size_t)nl } };
    blocking_run(sh, 6, mp, out, m->proto);
    undo_zadd(m, key, &l);
    elems_free(&l);
    return true;
}

/* As Redis: the arguments are checked before the timeout. */
void cmd_bzmpop(struct exec_ctx *ctx)
{
    long long numkeys, count;
    bool max;
    if (!zmpop_parse(ctx, 2, &numkeys, &max, &count))
        return;
    int64_t deadline;
    if (!collection_timeout(ctx, ctx->argv[1], &deadline))
        return;
    if (zmpop_keys(ctx, ctx->argv + 3, (int)numkeys, max, count) != 0)
        return;
    if (!blocking_wait(ctx, ctx->argv + 3, (int)numkeys, deadline, serve_zmpop, BLOCKING_NULL_ARRAY))
        reply_null_array(ctx->reply);
}

/* ---- ZUNION ZINTER ZDIFF, their STORE forms, ZINTERCARD ----------------- */

enum zset_op { OP_UNION, OP_INTER, OP_DIFF };
enum aggregate { AGG_SUM, AGG_MIN, AGG_MAX };

/* An input: a zset, or a set whose members score 1; weight applied. */
struct source {
    const struct zset *z;
    const struct set  *set;
    double             weight;
};

static size_t source_len(const struct source *s)
{
    return s->z ? zset_len(s->z) : s->set ? set_len(s->set) : 0;
}

static bool source_score(const struct source *s, struct slice m, double *score)
{
    if (s->z)
        return zset_score(s->z, m, score);
    if (s->set && set_contains(s->set, m)) {
        *score = 1.0;
        return true;
    }
    return false;
}

static void aggregate(double *target, double v, enum aggregate agg)
{
    if (agg == AGG_SUM) {
        *target += v;
        if (isnan(*target)) /* inf + -inf, as Redis */
            *target = 0;
    } else if (agg == AGG_MIN) {
        if (v < *target)
            *target = v;
    } else if (v > *target) {
        *target = v;
    }
}

static double weighted(double score, double w)
{
    double v = score * w;
    return isnan(v) ? 0 : v;
}

static void set_member_elem(void *arg, struct slice m)
{
    elems_add(arg, m, 1.0);
}

/* Every element of source s, copied. */
static void source_copy(const struct source *s, struct elems *l)
{
    if (s->z)
        elems_from(l, s->z, 0, zset_len(s->z), false);
    else if (s->set)
        set_foreach(s->set, set_member_elem, l);
}

static int by_len(const void *a, const void *b)
{
    size_t x = source_len(a), y = source_len(b);
    return x < y ? -1 : x > y;
}

/* The result of op over src[0..n) as a new zset (never NULL; empty when
 * nothing), or with counting only its size up to limit (0: none). */
static struct zset *combine(struct exec_ctx *ctx, struct source *src, int n, enum zset_op op, enum aggregate agg,
                            bool counting, size_t limit, size_t *count)
{
    struct zset_limits lim = limits_of(ctx);
    struct zset *out = counting ? NULL : zset_create(ctx->store, 0, 0, &lim);
    *count = 0;
    if (op == OP_INTER) {
        for (int i = 0; i < n; i++)
            if (!src[i].z && !src[i].set)
                return out;
        qsort(src, (size_t)n, sizeof *src, by_len);
    }
    int first_last = op == OP_UNION ? n : 1;
    for (int i = 0; i < first_last; i++) {
        struct elems l;
        elems_init(&l);
        source_copy(&src[i], &l);
        elems_index(&l);
        for (size_t k = 0; k < l.n; k++) {
            struct slice m = l.at[k];
            double v = op == OP_DIFF ? l.score[k] : weighted(l.score[k], src[i].weight);
            bool keep = true;
            if (op == OP_INTER) {
                for (int j = 1; j < n && keep; j++) {
                    double o;
                    if (source_score(&src[j], m, &o))
                        aggregate(&v, weighted(o, src[j].weight), agg);
                    else
                        keep = false;
                }
            } else if (op == OP_DIFF) {
                double o;
                for (int j = 1; j < n && keep; j++)
                    if (source_score(&src[j], m, &o))
                        keep = false;
            }
            if (!keep)
                continue;
            if (counting) {
                if (!limit || *count < limit)
                    (*count)++;
                continue;
            }
            double cur;
            if (op == OP_UNION && zset_score(out, m, &cur)) {
                aggregate(&cur, v, agg);
                v = cur;
            }
            zset_set(ctx->store, &out, m, v, &lim);
        }
        elems_free(&l);
    }
    if (out)
        *count = zset_len(out);
    return out;
}

/* Parse numkeys, the inputs and the options (Redis's
 * zunionInterDiffGenericCommand); replies and returns NULL on error. */
static struct source *parse_sources(struct exec_ctx *ctx, int numkeys_at, enum zset_op op, bool store,
                                    bool card, int *n, enum aggregate *agg, bool *withscores, size_t *limit)
{
    long long setnum;
    const char *name = op == OP_UNION ? (store ? "zunionstore" : "zunion")
                     : op == OP_INTER ? (card ? "zintercard" : store ? "zinterstore" : "zinter")
                     : (store ? "zdiffstore" : "zdiff");
    if (!parse_ll(ctx->argv[numkeys_at], &setnum)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return NULL;
    }
    if (setnum < 1) {
        reply_errorf(ctx->reply, "ERR at least 1 input key is needed for '%s' command", name);
        return NULL;
    }
    if (setnum > ctx->argc - (numkeys_at + 1)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return NULL;
    }
    struct source *src = mi_calloc((size_t)setnum, sizeof *src);
    if (!src)
        abort();
    int j = numkeys_at + 1;
    for (int i = 0; i < setnum; i++, j++) {
        struct entry *e = store_find(ctx->store, ctx->argv[j], ctx->now_ms);
        src[i].weight = 1.0;
        if (!e)
            continue;
        if (entry_type(e) == TYPE_ZSET) {
            src[i].z = entry_object(e);
        } else if (entry_type(e) == TYPE_SET) {
            src[i].set = entry_object(e);
        } else {
            reply_error(ctx->reply, ERR_WRONGTYPE);
            mi_free(src);
            return NULL;
        }
    }
    *agg = AGG_SUM;
    *withscores = false;
    *limit = 0;
    int remaining = ctx->argc - j;
    while (remaining > 0) {
        struct slice a = ctx->argv[j];
        if (op != OP_DIFF && !card && remaining >= setnum + 1 && slice_eq_nocase(a, "weights")) {
            j++, remaining--;
            for (int i = 0; i < setnum; i++, j++, remaining--) {
                if (!parse_score(ctx->argv[j], &src[i].weight)) {
                    reply_error(ctx->reply, "ERR weight value is not a float");
                    mi_free(src);
                    return NULL;
                }
            }
        } else if (op != OP_DIFF && !card && remaining >= 2 && slice_eq_nocase(a, "aggregate")) {
            struct slice v = ctx->argv[j + 1];
            if (slice_eq_nocase(v, "sum"))
                *agg = AGG_SUM;
            else if (slice_eq_nocase(v, "min"))
                *agg = AGG_MIN;
            else if (slice_eq_nocase(v, "max"))
                *agg = AGG_MAX;
            else {
                reply_error(ctx->reply, ERR_SYNTAX);
                mi_free(src);
                return NULL;
            }
            j += 2, remaining -= 2;
        } else if (!store && !card && slice_eq_nocase(a, "withscores")) {
            *withscores = true;
            j++, remaining--;
        } else if (card && remaining >= 2 && slice_eq_nocase(a, "limit")) {
            long long l;
            if (!parse_ll(ctx->argv[j + 1], &l) || l < 0) {
                reply_error(ctx->reply, "ERR LIMIT can't be negative");
                mi_free(src);
                return NULL;
            }
            *limit = (size_t)l;
            j += 2, remaining -= 2;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            mi_free(src);
            return NULL;
        }
    }
    *n = (int)setnum;
    return src;
}

static void combine_reply(struct exec_ctx *ctx, enum zset_op op)
{
    int n;
    enum aggregate agg;
    bool withscores;
    size_t limit, count;
    struct source *src = parse_sources(ctx, 1, op, false, false, &n, &agg, &withscores, &limit);
    if (!src)
        return;
    struct zset *out = combine(ctx, src, n, op, agg, false, 0, &count);
    mi_free(src);
    struct zset_iter it;
    zset_iter_at(out, 0, false, &it);
    reply_elems_iter(ctx->reply, &it, zset_len(out), withscores);
    zset_destroy(ctx->store, out);
}

static void combine_store(struct exec_ctx *ctx, enum zset_op op)
{
    int n;
    enum aggregate agg;
    bool withscores;
    size_t limit, count;
    struct source *src = parse_sources(ctx, 2, op, true, false, &n, &agg, &withscores, &limit);
    if (!src)
        return;
    struct zset *out = combine(ctx, src, n, op, agg, false, 0, &count);
    mi_free(src);
    if (zset_len(out) == 0) {
        zset_destroy(ctx->store, out);
        store_delete(ctx->store, ctx->argv[1]);
        reply_int(ctx->reply, 0);
        return;
    }
    store_set_object(ctx->store, ctx->argv[1], TYPE_ZSET, out, 0);
    reply_int(ctx->reply, (long long)count);
}

void cmd_zunion(struct exec_ctx *ctx)      { combine_reply(ctx, OP_UNION); }
void cmd_zinter(struct exec_ctx *ctx)      { combine_reply(ctx, OP_INTER); }
void cmd_zdiff(struct exec_ctx *ctx)       { combine_reply(ctx, OP_DIFF); }
void cmd_zunionstore(struct exec_ctx *ctx) { combine_store(ctx, OP_UNION); }
void cmd_zinterstore(struct exec_ctx *ctx) { combine_store(ctx, OP_INTER); }
void cmd_zdiffstore(struct exec_ctx *ctx)  { combine_store(ctx, OP_DIFF); }

void cmd_zintercard(struct exec_ctx *ctx)
{
    int n;
    enum aggregate agg;
    bool withscores;
    size_t limit, count;
    struct source *src = parse_sources(ctx, 1, OP_INTER, false, true, &n, &agg, &withscores, &limit);
    if (!src)
        return;
    combine(ctx, src, n, OP_INTER, agg, true, limit, &count);
    mi_free(src);
    reply_int(ctx->reply, (long long)count);
}

/* ---- ZRANDMEMBER ---------------------------------------------------------- */

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

static void random_elem(const struct zset *z, struct slice *m, double *score)
{
    struct zset_iter it;
    zset_iter_at(z, (size_t)(rng_next(rng()) % zset_len(z)), false, &it);
    zset_iter_next(&it, m, score);
}

static void reply_one(struct reply *r, struct slice m, double score, bool withscores)
{
    if (withscores && r->proto >= 3)
        reply_array(r, 2);
    reply_bulk(r, m.ptr, m.len);
    if (withscores)
        reply_score(r, score);
}

void cmd_zrandmember(struct exec_ctx *ctx)
{
    struct entry *e;
    struct zset *z;
    struct slice m;
    double score;
    if (ctx->argc == 2) {
        if (!find_zset(ctx, ctx->argv[1], &e, &z))
            return;
        if (!z) {
            reply_null(ctx->reply);
            return;
        }
        random_elem(z, &m, &score);
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
    bool withscores = false;
    if (ctx->argc > 4 || (ctx->argc == 4 && !slice_eq_nocase(ctx->argv[3], "withscores"))) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (ctx->argc == 4) {
        withscores = true;
        if (count < -LONG_MAX / 2 || count > LONG_MAX / 2) {
            reply_error(ctx->reply, "ERR value is out of range");
            return;
        }
    }
    if (!find_zset(ctx, ctx->argv[1], &e, &z))
        return;
    if (!z || count == 0) {
        reply_array(ctx->reply, 0);
        return;
    }
    bool pairs = withscores && ctx->reply->proto >= 3;
    if (count < 0) { /* repetitions allowed */
        unsigned long long n = (unsigned long long)-count;
        if (n > RANDOM_REPLY_MAX) {
            reply_error(ctx->reply, "ERR value is out of range");
            return;
        }
        reply_array(ctx->reply, withscores && !pairs ? (size_t)n * 2 : (size_t)n);
        for (unsigned long long i = 0; i < n; i++) {
            random_elem(z, &m, &score);
            reply_one(ctx->reply, m, score, withscores);
        }
        return;
    }
    size_t size = zset_len(z);
    if ((unsigned long long)count >= size) { /* the whole zset, in order */
        struct zset_iter it;
        zset_iter_at(z, 0, false, &it);
        reply_elems_iter(ctx->reply, &it, size, withscores);
        return;
    }
    size_t n = (size_t)count;
    reply_array(ctx->reply, withscores && !pairs ? n * 2 : n);
    if (sample_sparse(n, size)) { /* a few of many: random picks */
        struct sample_seen seen;
        sample_init(&seen, n);
        for (size_t got = 0; got < n;) {
            random_elem(z, &m, &score);
            if (sample_first(&seen, m.ptr)) {
                reply_one(ctx->reply, m, score, withscores);
                got++;
            }
        }
        sample_free(&seen);
        return;
    }
    size_t *idx = mi_malloc(size * sizeof *idx);
    if (!idx)
        abort();
    for (size_t i = 0; i < size; i++)
        idx[i] = i;
    for (size_t i = 0; i < n; i++) { /* distinct: a partial shuffle */
        size_t j = i + (size_t)(rng_next(rng()) % (size - i));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        struct zset_iter it;
        zset_iter_at(z, idx[i], false, &it);
        zset_iter_next(&it, &m, &score);
        reply_one(ctx->reply, m, score, withscores);
    }
    mi_free(idx);
}

/* ---- ZSCAN ---------------------------------------------------------------- */

struct scan_out {
    struct elems  list;
    struct slice  pattern; /* ptr NULL: every member */
};

static void scan_visit(void *arg, struct slice m, double score)
{
    struct scan_out *o = arg;
    if (o->pattern.ptr && !glob_match(o->pattern.ptr, o->pattern.len, m.ptr, m.len, false))
        return;
    elems_add(&o->list, m, score);
}

void cmd_zscan(struct exec_ctx *ctx)
{
    uint64_t cursor;
    if (!collection_scan_cursor(ctx, ctx->argv[2], &cursor))
        return;
    struct entry *e;
    struct zset *z;
    if (!find_zset(ctx, ctx->argv[1], &e, &z))
        return;
    if (!z) {
        collection_scan_reply_none(ctx);
        return;
    }
    long long count;
    struct scan_out o;
    if (!collection_scan_options(ctx, &count, &o.pattern))
        return;
    elems_init(&o.list);
    uint64_t next = zset_scan(z, cursor, (size_t)count, scan_visit, &o);
    elems_index(&o.list);
    collection_scan_reply_cursor(ctx, next);
    reply_array(ctx->reply, o.list.n * 2);
    for (size_t i = 0; i < o.list.n; i++) {
        char text[ZSET_SCORE_TEXT];
        size_t tn = zset_format_score(text, o.list.score[i]);
        reply_bulk(ctx->reply, o.list.at[i].ptr, o.list.at[i].len);
        reply_bulk(ctx->reply, text, tn);
    }
    elems_free(&o.list);
}
