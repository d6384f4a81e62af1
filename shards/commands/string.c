/* cmd_string: the string commands, with Redis 7's semantics, option rules and
 * error texts.
 *
 * Every handler reads ctx->argv (arity already checked by the dispatcher),
 * acts on ctx->store at ctx->now_ms and writes exactly one reply. Values are
 * binary safe. Where Redis checks the arguments before or after looking the
 * key up, the same order is kept here, since it decides which error (or
 * which "nothing there" reply) a client sees.
 *
 * Pointers to entries are never held across a store call that may change the
 * table: multi-key readers (BITOP, LCS) look every key up once with
 * store_find (lazy expiry, stats, type checks) and then take stable pointers
 * with store_peek, which never changes the table. */
#include "shards/commands/commands.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/store.h"
#include "core/config.h"
#include "core/numbers.h"

/* LCS needs (alen+1)*(blen+1) 32-bit cells; past this it answers with Redis's
 * out-of-memory error instead of letting one command take the machine. */
#define LCS_MAX_TABLE_BYTES (1ULL << 30)
/* Text of any long double as format_ld writes it fits here. */
#define LD_TEXT_MAX (5 * 1024)

#define ERR_STRING_TOO_LONG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_BIT_OFFSET      "ERR bit offset is not an integer or out of range"
#define ERR_BIT_VALUE       "ERR bit is not an integer or out of range"

/* ---- small shared steps ---- */

static inline struct slice entry_slice(struct entry *e)
{
    return (struct slice){ entry_value(e), entry_value_len(e) };
}

/* Replies WRONGTYPE and returns true if e exists and is not a string. */
static inline bool wrong_type(struct exec_ctx *ctx, struct entry *e)
{
    if (e != NULL && entry_type(e) != TYPE_STRING) {
        reply_error(ctx->reply, ERR_WRONGTYPE);
        return true;
    }
    return false;
}

/* The command's name as Redis writes it in errors: its lower-case table
 * name, whatever case the client sent. */
static void command_name_lower(const struct exec_ctx *ctx, char *name, size_t cap)
{
    size_t n = ctx->argv[0].len < cap - 1 ? ctx->argv[0].len : cap - 1;

    for (size_t i = 0; i < n; i++) {
        char ch = ctx->argv[0].ptr[i];
        name[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    name[n] = '\0';
}

/* "ERR invalid expire time in 'set' command" */
static void reply_invalid_expire(struct exec_ctx *ctx)
{
    char name[32];

    command_name_lower(ctx, name, sizeof(name));
    reply_errorf(ctx->reply, ERR_EXPIRE_TIME, name);
}

/* "ERR wrong number of arguments for 'mset' command" */
static void reply_wrong_arity(struct exec_ctx *ctx)
{
    char name[32];

    command_name_lower(ctx, name, sizeof(name));
    reply_errorf(ctx->reply, ERR_ARITY, name);
}

/* Redis's checkStringLength: may a string of size bytes grow by append bytes? */
static bool string_fits(struct exec_ctx *ctx, long long size, long long append)
{
    if (size > STRING_MAX_BYTES || append > STRING_MAX_BYTES - size) {
        reply_error(ctx->reply, ERR_STRING_TOO_LONG);
        return false;
    }
    return true;
}

/* ---- SET and its option grammar (shared with GETEX) ---- */

enum set_option {
    OPT_NX      = 1u << 0,
    OPT_XX      = 1u << 1,
    OPT_GET     = 1u << 2,
    OPT_KEEPTTL = 1u << 3,
    OPT_PERSIST = 1u << 4,
    OPT_EX      = 1u << 5,
    OPT_PX      = 1u << 6,
    OPT_EXAT    = 1u << 7,
    OPT_PXAT    = 1u << 8,
};
#define OPT_EXPIRES (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

enum option_grammar { GRAMMAR_SET, GRAMMAR_GETEX };

/* Parses argv[first..argc) as Redis's parseExtendedStringArgumentsOrReply
 * does: each expiry option excludes the other kinds and KEEPTTL/PERSIST (but
 * repeating the same one is allowed, the last value wins), NX excludes XX.
 * On a syntax error replies and returns false. */
static bool parse_string_options(struct exec_ctx *ctx, int first, enum option_grammar g,
                                 unsigned *flags, const struct slice **expire)
{
    bool is_set = g == GRAMMAR_SET;

    *flags = 0;
    *expire = NULL;
    for (int j = first; j < ctx->argc; j++) {
        struct slice opt = ctx->argv[j];
        bool has_next = j + 1 < ctx->argc;
        unsigned f = *flags;

        if (is_set && slice_eq_nocase(opt, "nx") && !(f & OPT_XX)) {
            *flags |= OPT_NX;
        } else if (is_set && slice_eq_nocase(opt, "xx") && !(f & OPT_NX)) {
            *flags |= OPT_XX;
        } else if (is_set && slice_eq_nocase(opt, "get")) {
            *flags |= OPT_GET;
        } else if (is_set && slice_eq_nocase(opt, "keepttl") && !(f & (OPT_PERSIST | OPT_EXPIRES))) {
            *flags |= OPT_KEEPTTL;
        } else if (!is_set && slice_eq_nocase(opt, "persist") &&
                   !(f & (OPT_KEEPTTL | OPT_EXPIRES))) {
            *flags |= OPT_PERSIST;
        } else if (has_next && slice_eq_nocase(opt, "ex") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRES & ~OPT_EX)))) {
            *flags |= OPT_EX;
            *expire = &ctx->argv[++j];
        } else if (has_next && slice_eq_nocase(opt, "px") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRES & ~OPT_PX)))) {
            *flags |= OPT_PX;
            *expire = &ctx->argv[++j];
        } else if (has_next && slice_eq_nocase(opt, "exat") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRES & ~OPT_EXAT)))) {
            *flags |= OPT_EXAT;
            *expire = &ctx->argv[++j];
        } else if (has_next && slice_eq_nocase(opt, "pxat") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRES & ~OPT_PXAT)))) {
            *flags |= OPT_PXAT;
            *expire = &ctx->argv[++j];
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* The absolute unix-ms time an expiry argument names, validated as Redis 7
 * does: not positive, or overflowing when scaled to ms or when added to the
 * current time, is an invalid expire time. Replies and returns false on error. */
static bool expire_arg_to_ms(struct exec_ctx *ctx, struct slice arg, unsigned flags, int64_t *at_ms)
{
    long long v;
    bool seconds = flags & (OPT_EX | OPT_EXAT);
    bool relative = flags & (OPT_EX | OPT_PX);

    if (!parse_ll(arg, &v)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return false;
    }
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_invalid_expire(ctx);
        return false;
    }
    if (seconds)
        v *= 1000;
    if (relative) {
        if (ctx->now_ms > 0 && v > LLONG_MAX - ctx->now_ms) {
            reply_invalid_expire(ctx);
            return false;
        }
        v += ctx->now_ms;
    }
    *at_ms = v;
    return true;
}

/* What SET-like commands answer when they did (or did not) write. */
enum set_replies {
    SET_REPLY_OK_NULL, /* +OK / null (SET, SETEX, PSETEX) */
    SET_REPLY_ONE_ZERO, /* :1 / :0 (SETNX) */
};

static void set_generic(struct exec_ctx *ctx, unsigned flags, struct slice key, struct slice val,
                        const struct slice *expire, enum set_replies replies)
{
    int64_t at_ms = 0;
    struct entry *old = NULL;

    if (expire != NULL && !expire_arg_to_ms(ctx, *expire, flags, &at_ms))
        return;
    if (flags & (OPT_GET | OPT_NX | OPT_XX | OPT_KEEPTTL)) {
        /* a hit or a miss in INFO only with GET: Redis reads the key then */
        bool counted = store_lookups_counted(ctx->store, (flags & OPT_GET) != 0);
        old = store_find(ctx->store, key, ctx->now_ms);
        store_lookups_counted(ctx->store, counted);
        if ((flags & OPT_GET) && wrong_type(ctx, old))
            return;
    }
    /* With GET the reply is the old value, whether or not the write happens. */
    if (flags & OPT_GET) {
        if (old != NULL)
            reply_bulk(ctx->reply, entry_value(old), entry_value_len(old));
        else
            reply_null(ctx->reply);
    }
    if (((flags & OPT_NX) && old != NULL) || ((flags & OPT_XX) && old == NULL)) {
        if (!(flags & OPT_GET)) {
            if (replies == SET_REPLY_ONE_ZERO)
                reply_int(ctx->reply, 0);
            else
                reply_null(ctx->reply);
        }
        return;
    }
    if ((flags & OPT_KEEPTTL) && old != NULL)
        at_ms = entry_expire_at(old);
    /* An absolute time already past: the key ends up gone (Redis 7 answers OK). */
    if (expire != NULL && at_ms <= ctx->now_ms)
        store_delete(ctx->store, key);
    else
        store_set(ctx->store, key, val.ptr, val.len, at_ms);
    if (!(flags & OPT_GET)) {
        if (replies == SET_REPLY_ONE_ZERO)
            reply_int(ctx->reply, 1);
        else
            reply_ok(ctx->reply);
    }
}

/* ---- GET / SET family ---- */

void cmd_get(struct exec_ctx *ctx)
{
    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);

    if (e == NULL) {
        reply_null(ctx->reply);
        return;
    }
    if (entry_type(e) != TYPE_STRING) {
        reply_error(ctx->reply, ERR_WRONGTYPE);
        return;
    }
    reply_bulk(ctx->reply, entry_value(e), entry_value_len(e));
}

void cmd_set(struct exec_ctx *ctx)
{
    unsigned flags;
    const struct slice *expire;

    /* The common case: SET key value, no lookup needed. */
    if (ctx->argc == 3) {
        store_set(ctx->store, ctx->argv[1], ctx->argv[2].ptr, ctx->argv[2].len, 0);
        reply_ok(ctx->reply);
        return;
    }
    if (!parse_string_options(ctx, 3, GRAMMAR_SET, &flags, &expire))
        return;
    set_generic(ctx, flags, ctx->argv[1], ctx->argv[2], expire, SET_REPLY_OK_NULL);
}

void cmd_setnx(struct exec_ctx *ctx)
{
    set_generic(ctx, OPT_NX, ctx->argv[1], ctx->argv[2], NULL, SET_REPLY_ONE_ZERO);
}

void cmd_setex(struct exec_ctx *ctx)
{
    set_generic(ctx, OPT_EX, ctx->argv[1], ctx->argv[3], &ctx->argv[2], SET_REPLY_OK_NULL);
}

void cmd_psetex(struct exec_ctx *ctx)
{
    set_generic(ctx, OPT_PX, ctx->argv[1], ctx->argv[3], &ctx->argv[2], SET_REPLY_OK_NULL);
}

void cmd_getset(struct exec_ctx *ctx)
{
    set_generic(ctx, OPT_GET, ctx->argv[1], ctx->argv[2], NULL, SET_REPLY_OK_NULL);
}

void cmd_getdel(struct exec_ctx *ctx)
{
    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);

    if (e == NULL) {
        reply_null(ctx->reply);
        return;
    }
    if (wrong_type(ctx, e))
        return;
    reply_bulk(ctx->reply, entry_value(e), entry_value_len(e));
    store_delete(ctx->store, ctx->argv[1]);
}

void cmd_getex(struct exec_ctx *ctx)
{
    unsigned flags;
    const struct slice *expire;
    int64_t at_ms = 0;
    struct entry *e;

    if (!parse_string_options(ctx, 2, GRAMMAR_GETEX, &flags, &expire))
        return;
    e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    if (e == NULL) {
        reply_null(ctx->reply);
        return;
    }
    if (wrong_type(ctx, e))
        return;
    /* The expiry is validated only once the key is known to exist. */
    if (expire != NULL && !expire_arg_to_ms(ctx, *expire, flags, &at_ms))
        return;
    reply_bulk(ctx->reply, entry_value(e), entry_value_len(e));
    if (expire != NULL)
        store_set_expire(ctx->store, e, at_ms, ctx->now_ms); /* a past time deletes */
    else if ((flags & OPT_PERSIST) && entry_expire_at(e) != 0)
        store_set_expire(ctx->store, e, 0, ctx->now_ms);
}

void cmd_mget(struct exec_ctx *ctx)
{
    reply_array(ctx->reply, (size_t)(ctx->argc - 1));
    for (int j = 1; j < ctx->argc; j++) {
        struct entry *e = store_find(ctx->store, ctx->argv[j], ctx->now_ms);

        if (e != NULL && entry_type(e) == TYPE_STRING)
            reply_bulk(ctx->reply, entry_value(e), entry_value_len(e));
        else
            reply_null(ctx->reply);
    }
}

/* MSET/MSETNX take key/value pairs: an unpaired key is an arity error. */
static bool pairs_ok(struct exec_ctx *ctx)
{
    if (ctx->argc % 2 == 0) {
        reply_wrong_arity(ctx);
        return false;
    }
    return true;
}

void cmd_mset(struct exec_ctx *ctx)
{
    if (!pairs_ok(ctx))
        return;
    for (int j = 1; j + 1 < ctx->argc; j += 2)
        store_set(ctx->store, ctx->argv[j], ctx->argv[j + 1].ptr, ctx->argv[j + 1].len, 0);
    reply_ok(ctx->reply);
}

void cmd_msetnx(struct exec_ctx *ctx)
{
    if (!pairs_ok(ctx))
        return;
    for (int j = 1; j + 1 < ctx->argc; j += 2) {
        if (store_find(ctx->store, ctx->argv[j], ctx->now_ms) != NULL) {
            reply_int(ctx->reply, 0);
            return;
        }
    }
    for (int j = 1; j + 1 < ctx->argc; j += 2)
        store_set(ctx->store, ctx->argv[j], ctx->argv[j + 1].ptr, ctx->argv[j + 1].len, 0);
    reply_int(ctx->reply, 1);
}

/* ---- in-place edits ---- */

void cmd_append(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1], add = ctx->argv[2];
    struct entry *e = store_find(ctx->store, key, ctx->now_ms);
    size_t old_len;

    if (e == NULL) {
        store_set(ctx->store, key, add.ptr, add.len, 0);
        reply_int(ctx->reply, (long long)add.len);
        return;
    }
    if (wrong_type(ctx, e))
        return;
    old_len = entry_value_len(e);
    if (!string_fits(ctx, (long long)old_len, (long long)add.len))
        return;
    if (add.len > 0) {
        e = store_resize(ctx->store, e, old_len + add.len);
        memcpy(entry_value(e) + old_len, add.ptr, add.len);
    }
    store_string_set_form(e, STRING_RAW); /* as Redis's, even for an empty APPEND */
    store_changed(ctx->store, e);
    reply_int(ctx->reply, (long long)(old_len + add.len));
}

void cmd_strlen(struct exec_ctx *ctx)
{
    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);

    if (wrong_type(ctx, e))
        return;
    reply_int(ctx->reply, e != NULL ? (long long)entry_value_len(e) : 0);
}

/* Replace e's value (or create key when e is NULL) with text, keeping e's
 * expiry: INCR and friends do not touch the TTL. */
static void rewrite_value(struct exec_ctx *ctx, struct slice key, struct entry *e,
                          const char *text, size_t len, enum string_form form)
{
    e = e ? store_resize(ctx->store, e, len) : store_set(ctx->store, key, NULL, len, 0);
    memcpy(entry_value(e), text, len);
    store_string_set_form(e, form); /* a new value */
    store_changed(ctx->store, e);
}

static void incr_by(struct exec_ctx *ctx, long long incr)
{
    struct slice key = ctx->argv[1];
    struct entry *e = store_find(ctx->store, key, ctx->now_ms);
    long long value = 0;
    char text[24];
    int len;

    if (wrong_type(ctx, e))
        return;
    if (e != NULL && !parse_ll(entry_slice(e), &value)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        reply_error(ctx->reply, ERR_OVERFLOW);
        return;
    }
    value += incr;
    len = format_ll(text, sizeof(text), value);
    rewrite_value(ctx, key, e, text, (size_t)len, STRING_AS_SET);
    reply_int(ctx->reply, value);
}

void cmd_incr(struct exec_ctx *ctx) { incr_by(ctx, 1); }
void cmd_decr(struct exec_ctx *ctx) { incr_by(ctx, -1); }

void cmd_incrby(struct exec_ctx *ctx)
{
    long long incr;

    if (!parse_ll(ctx->argv[2], &incr)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    incr_by(ctx, incr);
}

void cmd_decrby(struct exec_ctx *ctx)
{
    long long decr;

    if (!parse_ll(ctx->argv[2], &decr)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (decr == LLONG_MIN) { /* -LLONG_MIN does not exist */
        reply_error(ctx->reply, "ERR decrement would overflow");
        return;
    }
    incr_by(ctx, -decr);
}

void cmd_incrbyfloat(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1];
    struct entry *e = store_find(ctx->store, key, ctx->now_ms);
    long double value = 0, incr;
    char text[LD_TEXT_MAX];
    int len;

    if (wrong_type(ctx, e))
        return;
    if ((e != NULL && !parse_ld(entry_slice(e), &value)) || !parse_ld(ctx->argv[2], &incr)) {
        reply_error(ctx->reply, ERR_NOT_FLOAT);
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(ctx->reply, "ERR increment would produce NaN or Infinity");
        return;
    }
    len = format_ld(text, sizeof(text), value);
    rewrite_value(ctx, key, e, text, (size_t)len, STRING_TEXT); /* Redis's: embstr even for "3" */
    if (ctx->journal_as) {
        /* the result, not the increment: a replica must not redo the float
         * arithmetic and formatting (as Redis propagates it) */
        struct slice form[] = { SLICE_LIT("SET"), key, { text, (size_t)len }, SLICE_LIT("KEEPTTL") };
        ctx->journal_as(ctx, 4, form);
    }
    reply_bulk(ctx->reply, text, (size_t)len);
}

/* Clamp [start, end] (negative counts from the end) to a string of len
 * units, as GETRANGE and BITCOUNT/BITPOS do. Returns false when the range is
 * empty. */
static bool clamp_range(long long *start, long long *end, long long len)
{
    if (*start < 0)
        *start = *start < -len ? 0 : len + *start;
    if (*end < 0)
        *end = *end < -len ? 0 : len + *end;
    if (*end >= len)
        *end = len - 1;
    return *start <= *end && len > 0;
}

void cmd_getrange(struct exec_ctx *ctx)
{
    long long start, end;
    struct entry *e;

    if (!parse_ll(ctx->argv[2], &start) || !parse_ll(ctx->argv[3], &end)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    if (e == NULL) {
        reply_bulk(ctx->reply, "", 0);
        return;
    }
    if (wrong_type(ctx, e))
        return;
    if ((start < 0 && end < 0 && start > end) ||
        !clamp_range(&start, &end, (long long)entry_value_len(e))) {
        reply_bulk(ctx->reply, "", 0);
        return;
    }
    reply_bulk(ctx->reply, entry_value(e) + start, (size_t)(end - start + 1));
}

void cmd_setrange(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1], patch = ctx->argv[3];
    long long offset;
    struct entry *e;
    size_t len;

    if (!parse_ll(ctx->argv[2], &offset)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (offset < 0) {
        reply_error(ctx->reply, "ERR offset is out of range");
        return;
    }
    e = store_find(ctx->store, key, ctx->now_ms);
    if (e == NULL) {
        if (patch.len == 0) { /* nothing to write: no key is created */
            reply_int(ctx->reply, 0);
            return;
        }
        if (!string_fits(ctx, offset, (long long)patch.len))
            return;
        len = (size_t)offset + patch.len;
        e = store_set(ctx->store, key, NULL, len, 0);
        memset(entry_value(e), 0, (size_t)offset);
        memcpy(entry_value(e) + offset, patch.ptr, patch.len);
        store_string_set_form(e, STRING_RAW);
        store_changed(ctx->store, e);
        reply_int(ctx->reply, (long long)len);
        return;
    }
    if (wrong_type(ctx, e))
        return;
    len = entry_value_len(e);
    if (patch.len == 0) {
        reply_int(ctx->reply, (long long)len);
        return;
    }
    if (!string_fits(ctx, offset, (long long)patch.len))
        return;
    if ((size_t)offset + patch.len > len) {
        len = (size_t)offset + patch.len;
        e = store_resize(ctx->store, e, len); /* new bytes are zero */
    }
    memcpy(entry_value(e) + offset, patch.ptr, patch.len);
    store_string_set_form(e, STRING_RAW);
    store_changed(ctx->store, e);
    reply_int(ctx->reply, (long long)len);
}

/* ---- bits ---- */

/* A bit offset argument: 0 .. 8*512MB-1. */
static bool parse_bit_offset(struct exec_ctx *ctx, struct slice arg, uint64_t *offset)
{
    long long v;

    if (!parse_ll(arg, &v) || v < 0 || (v >> 3) >= STRING_MAX_BYTES) {
        reply_error(ctx->reply, ERR_BIT_OFFSET);
        return false;
    }
    *offset = (uint64_t)v;
    return true;
}

void cmd_setbit(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1];
    uint64_t offset;
    long long on;
    struct entry *e;
    size_t byte;
    bool dirty = false;
    unsigned char *p, mask;
    int old;

    if (!parse_bit_offset(ctx, ctx->argv[2], &offset))
        return;
    if (!parse_ll(ctx->argv[3], &on) || (on & ~1LL) != 0) {
        reply_error(ctx->reply, ERR_BIT_VALUE);
        return;
    }
    byte = (size_t)(offset >> 3);
    e = store_find(ctx->store, key, ctx->now_ms);
    if (e == NULL) {
        e = store_set(ctx->store, key, NULL, byte + 1, 0);
        memset(entry_value(e), 0, byte + 1);
        dirty = true;
    } else {
        if (wrong_type(ctx, e))
            return;
        if (entry_value_len(e) < byte + 1) {
            e = store_resize(ctx->store, e, byte + 1);
            dirty = true;
        }
    }
    p = (unsigned char *)entry_value(e) + byte;
    mask = (unsigned char)(1u << (7 - (offset & 7)));
    old = (*p & mask) != 0;
    if (on)
        *p |= mask;
    else
        *p &= (unsigned char)~mask;
    store_string_set_form(e, STRING_RAW);
    if (dirty || old != (int)on)
        store_changed(ctx->store, e);
    reply_int(ctx->reply, old);
}

void cmd_getbit(struct exec_ctx *ctx)
{
    uint64_t offset;
    struct entry *e;
    size_t byte;
    int bit = 0;

    if (!parse_bit_offset(ctx, ctx->argv[2], &offset))
        return;
    e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    if (wrong_type(ctx, e))
        return;
    byte = (size_t)(offset >> 3);
    if (e != NULL && byte < entry_value_len(e))
        bit = (((unsigned char *)entry_value(e))[byte] >> (7 - (offset & 7))) & 1;
    reply_int(ctx->reply, bit);
}

static long long popcount_bytes(const unsigned char *p, size_t n)
{
    long long count = 0;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        count += __builtin_popcountll(w);
    }
    for (; i < n; i++)
        count += __builtin_popcount(p[i]);
    return count;
}

/* BYTE or BIT unit keyword; replies a syntax error otherwise. */
static bool parse_bit_unit(struct exec_ctx *ctx, struct slice arg, bool *is_bit)
{
    if (slice_eq_nocase(arg, "bit"))
        *is_bit = true;
    else if (slice_eq_nocase(arg, "byte"))
        *is_bit = false;
    else {
        reply_error(ctx->reply, ERR_SYNTAX);
        return false;
    }
    return true;
}

void cmd_bitcount(struct exec_ctx *ctx)
{
    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    const unsigned char *p;
    long long len, start, end, count;
    bool is_bit = false;

    /* A missing key counts 0 before the range is even looked at (Redis 7.0). */
    if (e == NULL) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (wrong_type(ctx, e))
        return;
    p = (const unsigned char *)entry_value(e);
    len = (long long)entry_value_len(e);
    if (ctx->argc == 2) {
        reply_int(ctx->reply, popcount_bytes(p, (size_t)len));
        return;
    }
    if (ctx->argc != 4 && ctx->argc != 5) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (!parse_ll(ctx->argv[2], &start) || !parse_ll(ctx->argv[3], &end)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (start < 0 && end < 0 && start > end) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (ctx->argc == 5 && !parse_bit_unit(ctx, ctx->argv[4], &is_bit))
        return;
    if (!clamp_range(&start, &end, is_bit ? len * 8 : len)) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (!is_bit) {
        count = popcount_bytes(p + start, (size_t)(end - start + 1));
    } else {
        long long first = start >> 3, last = end >> 3;
        /* Count whole bytes, then take away the bits before start and after end. */
        unsigned char before = (unsigned char)(0xFF00u >> (start & 7));
        unsigned char after = (unsigned char)((1u << (7 - (end & 7))) - 1);
        count = popcount_bytes(p + first, (size_t)(last - first + 1));
        count -= __builtin_popcount(p[first] & before);
        count -= __builtin_popcount(p[last] & after);
    }
    reply_int(ctx->reply, count);
}

/* First bit equal to `bit` in bits [from, to] of p, or -1. */
static long long find_bit(const unsigned char *p, long long from, long long to, int bit)
{
    long long i = from;
    unsigned char skip = bit ? 0x00 : 0xFF; /* a byte with nothing to find */

    while (i <= to && (i & 7) != 0) {
        if (((p[i >> 3] >> (7 - (i & 7))) & 1) == bit)
            return i;
        i++;
    }
    /* Whole bytes: skip 8 at a time, then words where possible. */
    while (i + 7 <= to) {
        if (i + 63 <= to) {
            uint64_t w;
            memcpy(&w, p + (i >> 3), 8);
            if (w == (bit ? 0 : UINT64_MAX)) {
                i += 64;
                continue;
            }
        }
        if (p[i >> 3] != skip)
            break;
        i += 8;
    }
    for (; i <= to; i++) {
        if (((p[i >> 3] >> (7 - (i & 7))) & 1) == bit)
            return i;
    }
    return -1;
}

void cmd_bitpos(struct exec_ctx *ctx)
{
    long long bit, start, end, len, found;
    bool is_bit = false, end_given = false;
    const unsigned char *p;
    struct entry *e;

    if (!parse_ll(ctx->argv[2], &bit)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (bit != 0 && bit != 1) {
        reply_error(ctx->reply, "ERR The bit argument must be 1 or 0.");
        return;
    }
    /* A missing key is an endless run of zero bits. */
    e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    if (e == NULL) {
        reply_int(ctx->reply, bit ? -1 : 0);
        return;
    }
    if (wrong_type(ctx, e))
        return;
    p = (const unsigned char *)entry_value(e);
    len = (long long)entry_value_len(e);
    if (ctx->argc == 3) {
        start = 0;
        end = len - 1;
    } else if (ctx->argc <= 6) {
        if (!parse_ll(ctx->argv[3], &start)) {
            reply_error(ctx->reply, ERR_NOT_INT);
            return;
        }
        if (ctx->argc == 6 && !parse_bit_unit(ctx, ctx->argv[5], &is_bit))
            return;
        if (ctx->argc >= 5) {
            if (!parse_ll(ctx->argv[4], &end)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            end_given = true;
        } else {
            end = is_bit ? len * 8 - 1 : len - 1;
        }
        if (is_bit)
            len *= 8;
        if (!clamp_range(&start, &end, len))
            start = end + 1; /* empty */
    } else {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    /* An empty range holds neither a 0 nor a 1. */
    if (start > end) {
        reply_int(ctx->reply, -1);
        return;
    }
    if (!is_bit) {
        start *= 8;
        end = end * 8 + 7;
    }
    found = find_bit(p, start, end, (int)bit);
    /* Looking for a 0 past the end of the string finds the zero padding,
     * unless the caller bounded the range explicitly. */
    if (found < 0 && bit == 0 && !end_given)
        found = end + 1;
    reply_int(ctx->reply, found);
}

enum bitop_kind { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

void cmd_bitop(struct exec_ctx *ctx)
{
    struct slice op = ctx->argv[1], dest = ctx->argv[2];
    enum bitop_kind kind;
    int nsrc = ctx->argc - 3;
    size_t maxlen = 0;
    unsigned char *res;

    if (slice_eq_nocase(op, "and"))
        kind = BITOP_AND;
    else if (slice_eq_nocase(op, "or"))
        kind = BITOP_OR;
    else if (slice_eq_nocase(op, "xor"))
        kind = BITOP_XOR;
    else if (slice_eq_nocase(op, "not"))
        kind = BITOP_NOT;
    else {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (kind == BITOP_NOT && nsrc != 1) {
        reply_error(ctx->reply, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    for (int j = 0; j < nsrc; j++) {
        struct entry *e = store_find(ctx->store, ctx->argv[3 + j], ctx->now_ms);
        if (wrong_type(ctx, e))
            return;
        if (e != NULL && entry_value_len(e) > maxlen)
            maxlen = entry_value_len(e);
    }
    if (maxlen == 0) {
        store_delete(ctx->store, dest);
        reply_int(ctx->reply, 0);
        return;
    }
    /* Missing keys and the tails of shorter strings read as zero bytes. */
    res = mi_malloc(maxlen);
    if (res == NULL)
        abort();
    for (int j = 0; j < nsrc; j++) {
        struct entry *e = store_peek(ctx->store, ctx->argv[3 + j], ctx->now_ms);
        const unsigned char *src = e != NULL ? (const unsigned char *)entry_value(e) : NULL;
        size_t n = e != NULL ? entry_value_len(e) : 0;

        if (j == 0) {
            memcpy(res, src != NULL ? src : res, n);
            memset(res + n, 0, maxlen - n);
            if (kind == BITOP_NOT)
                for (size_t i = 0; i < maxlen; i++)
                    res[i] = (unsigned char)~res[i];
            continue;
        }
        switch (kind) {
        case BITOP_AND:
            for (size_t i = 0; i < n; i++)
                res[i] &= src[i];
            memset(res + n, 0, maxlen - n);
            break;
        case BITOP_OR:
            for (size_t i = 0; i < n; i++)
                res[i] |= src[i];
            break;
        case BITOP_XOR:
            for (size_t i = 0; i < n; i++)
                res[i] ^= src[i];
            break;
        case BITOP_NOT:
            break;
        }
    }
    struct entry *d = store_set(ctx->store, dest, NULL, maxlen, 0);
    memcpy(entry_value(d), res, maxlen);
    store_string_set_form(d, STRING_RAW); /* Redis's BITOP result is raw */
    store_changed(ctx->store, d);
    mi_free(res);
    reply_int(ctx->reply, (long long)maxlen);
}

/* ---- LCS ---- */

/* proto-max-bulk-len, the largest table LCS may build (as Redis's). */
static unsigned long long lcs_max_bytes(const struct exec_ctx *ctx)
{
    if (!ctx->shard || !ctx->shard->node)
        return STRING_MAX_BYTES;
    return (unsigned long long)config_load(&ctx->shard->node->config, proto_max_bulk_len);
}

struct lcs_match {
    uint32_t a_start, a_end, b_start, b_end;
};

void cmd_lcs(struct exec_ctx *ctx)
{
    struct entry *ea, *eb;
    bool want_len = false, want_idx = false, with_matchlen = false;
    long long min_match_len = 0;
    const unsigned char *a, *b;
    uint32_t alen, blen, lcs_len;
    uint32_t *dp;
    unsigned long long cells;

    ea = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    eb = store_find(ctx->store, ctx->argv[2], ctx->now_ms);
    if ((ea != NULL && entry_type(ea) != TYPE_STRING) ||
        (eb != NULL && entry_type(eb) != TYPE_STRING)) {
        reply_error(ctx->reply, "ERR The specified keys must contain string values");
        return;
    }
    for (int j = 3; j < ctx->argc; j++) {
        struct slice opt = ctx->argv[j];
        if (slice_eq_nocase(opt, "idx")) {
            want_idx = true;
        } else if (slice_eq_nocase(opt, "len")) {
            want_len = true;
        } else if (slice_eq_nocase(opt, "withmatchlen")) {
            with_matchlen = true;
        } else if (slice_eq_nocase(opt, "minmatchlen") && j + 1 < ctx->argc) {
            if (!parse_ll(ctx->argv[++j], &min_match_len)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (min_match_len < 0)
                min_match_len = 0;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    if (want_idx && want_len) {
        reply_error(ctx->reply, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }

    /* Stable pointers: the lookups above already expired what had to go. */
    ea = store_peek(ctx->store, ctx->argv[1], ctx->now_ms);
    eb = store_peek(ctx->store, ctx->argv[2], ctx->now_ms);
    a = ea != NULL ? (const unsigned char *)entry_value(ea) : (const unsigned char *)"";
    b = eb != NULL ? (const unsigned char *)entry_value(eb) : (const unsigned char *)"";
    alen = ea != NULL ? (uint32_t)entry_value_len(ea) : 0;
    blen = eb != NULL ? (uint32_t)entry_value_len(eb) : 0;

    /* dp[i][j] = length of the LCS of a[0..i) and b[0..j). Redis 7 refuses
     * a table larger than proto-max-bulk-len before trying to allocate it. */
    cells = (unsigned long long)(alen + 1ULL) * (blen + 1ULL);
    if (cells * sizeof(uint32_t) > lcs_max_bytes(ctx)) {
        reply_error(ctx->reply, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    dp = NULL;
    if (cells * sizeof(uint32_t) <= LCS_MAX_TABLE_BYTES)
        dp = mi_malloc(cells * sizeof(uint32_t));
    if (dp == NULL) {
        reply_error(ctx->reply, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
#define LCS_AT(i, j) dp[(size_t)(i) * (blen + 1) + (j)]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS_AT(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                LCS_AT(i, j) = LCS_AT(i - 1, j - 1) + 1;
            else {
                uint32_t up = LCS_AT(i - 1, j), left = LCS_AT(i, j - 1);
                LCS_AT(i, j) = up > left ? up : left;
            }
        }
    }
    lcs_len = LCS_AT(alen, blen);

    if (want_len) {
        mi_free(dp);
        reply_int(ctx->reply, lcs_len);
        return;
    }

    /* Walk back from the end, collecting the LCS text and, for IDX, the
     * ranges of contiguous matches (last range first, as Redis emits them). */
    unsigned char *text = mi_malloc(lcs_len + 1);
    struct lcs_match *matches = want_idx ? mi_malloc(sizeof(*matches) * (lcs_len + 1)) : NULL;
    size_t nmatches = 0;
    bool in_range = false;
    struct lcs_match cur = { 0, 0, 0, 0 };
    uint32_t i = alen, j = blen, k = lcs_len;

    if (text == NULL || (want_idx && matches == NULL))
        abort();
    while (i > 0 && j > 0) {
        bool emit = false;

        if (a[i - 1] == b[j - 1]) {
            text[--k] = a[i - 1];
            if (!in_range) {
                cur.a_start = cur.a_end = i - 1;
                cur.b_start = cur.b_end = j - 1;
                in_range = true;
            } else {
                /* The previous match was at (i, j): this one extends it. */
                cur.a_start--;
                cur.b_start--;
            }
            if (cur.a_start == 0 || cur.b_start == 0)
                emit = true;
            i--;
            j--;
        } else {
            if (LCS_AT(i - 1, j) > LCS_AT(i, j - 1))
                i--;
            else
                j--;
            if (in_range)
                emit = true;
        }
        if (emit) {
            uint32_t mlen = cur.a_end - cur.a_start + 1;
            if (want_idx && (min_match_len == 0 || (long long)mlen >= min_match_len))
                matches[nmatches++] = cur;
            in_range = false;
        }
    }
#undef LCS_AT
    mi_free(dp);

    if (!want_idx) {
        reply_bulk(ctx->reply, text, lcs_len);
    } else {
        reply_map(ctx->reply, 2);
        reply_bulk_str(ctx->reply, "matches");
        reply_array(ctx->reply, nmatches);
        for (size_t m = 0; m < nmatches; m++) {
            reply_array(ctx->reply, with_matchlen ? 3 : 2);
            reply_array(ctx->reply, 2);
            reply_int(ctx->reply, matches[m].a_start);
            reply_int(ctx->reply, matches[m].a_end);
            reply_array(ctx->reply, 2);
            reply_int(ctx->reply, matches[m].b_start);
            reply_int(ctx->reply, matches[m].b_end);
            if (with_matchlen)
                reply_int(ctx->reply, matches[m].a_end - matches[m].a_start + 1);
        }
        reply_bulk_str(ctx->reply, "len");
        reply_int(ctx->reply, lcs_len);
    }
    mi_free(text);
    mi_free(matches);
}
