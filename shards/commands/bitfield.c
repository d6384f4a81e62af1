/* cmd_bitfield: BITFIELD and BITFIELD_RO, integers of 1 to 64 bits packed at
 * any bit offset of a string, with Redis 7's semantics, replies and errors:
 *
 *   BITFIELD key [GET type offset] [SET type offset value]
 *                [INCRBY type offset increment] [OVERFLOW WRAP|SAT|FAIL] ...
 *   BITFIELD_RO key [GET type offset] ...
 *
 * A type is i1..i64 or u1..u63 (a u64 could not be replied as a signed
 * 64-bit integer); an offset is a bit number, or #N for N times the type's
 * width. Bits are numbered as SETBIT numbers them: bit 0 is the most
 * significant bit of the first byte, and a field's most significant bit
 * comes first. OVERFLOW sets how the SET and INCRBY after it treat a result
 * the type cannot hold: WRAP (the default) keeps its low bits, SAT clamps
 * it to the type's range, FAIL writes nothing and answers nil for that
 * operation. The reply has one element per GET, SET (the old value) and
 * INCRBY (the new value).
 *
 * As Redis does, every argument is checked before the key is looked up, so
 * a bad argument anywhere means no operation runs; then, if there is any
 * SET or INCRBY, the string is created or grown (zero-filled) to hold the
 * furthest field written, even when a FAIL leaves that field unwritten.
 * GETs alone never create a key, and read past the end of a string as
 * zeros.
 *
 * Replication: the row is journaled as itself (JOURNAL_COMMAND, as SETBIT):
 * the command is deterministic given the string, so a replica running it
 * ends with the same bytes. It is journaled only when the store hears of a
 * change (store_changed), which happens once, at the end, if some bits
 * changed or the string grew. */
#include "shards/commands/commands.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "core/numbers.h"
#include "shards/store/store.h"

#define ERR_BITFIELD_TYPE \
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
#define ERR_BIT_OFFSET      "ERR bit offset is not an integer or out of range"
#define ERR_OVERFLOW_MODE   "ERR Invalid OVERFLOW type specified"
#define ERR_READONLY_FORM   "ERR BITFIELD_RO only supports the GET subcommand"

enum field_op { FIELD_GET, FIELD_SET, FIELD_INCRBY };

enum overflow_mode { OVERFLOW_WRAP, OVERFLOW_SAT, OVERFLOW_FAIL };

/* One GET, SET or INCRBY, with the OVERFLOW mode in force where it stands. */
struct field_step {
    enum field_op      op;
    bool               is_signed;
    int                bits;     /* 1..64 (unsigned: 1..63) */
    uint64_t           offset;   /* of the field's first (most significant) bit */
    long long          operand;  /* SET's value, INCRBY's increment */
    enum overflow_mode overflow;
};

/* ---- the arguments ---- */

/* "i8", "u63": Redis's letters are lower case only, the width a plain
 * decimal number. */
static bool parse_field_type(struct exec_ctx *ctx, struct slice arg, struct field_step *step)
{
    long long bits;

    if (arg.len < 2 || (arg.ptr[0] != 'i' && arg.ptr[0] != 'u') ||
        !parse_ll((struct slice){ arg.ptr + 1, arg.len - 1 }, &bits) ||
        bits < 1 || bits > (arg.ptr[0] == 'i' ? 64 : 63)) {
        reply_error(ctx->reply, ERR_BITFIELD_TYPE);
        return false;
    }
    step->is_signed = arg.ptr[0] == 'i';
    step->bits = (int)bits;
    return true;
}

/* A bit offset, or #N: the N-th field of this width. Bounded as SETBIT's
 * offsets are: the field must start inside a string of the largest size.
 * An #N whose product does not fit 64 bits is out of range too (Redis lets
 * the multiplication wrap). */
static bool parse_field_offset(struct exec_ctx *ctx, struct slice arg, struct field_step *step)
{
    bool in_fields = arg.len > 0 && arg.ptr[0] == '#';
    long long v;

    if (in_fields) {
        arg.ptr++;
        arg.len--;
    }
    if (!parse_ll(arg, &v) || v < 0 || (in_fields && v > LLONG_MAX / step->bits))
        goto out_of_range;
    if (in_fields)
        v *= step->bits;
    if ((v >> 3) >= STRING_MAX_BYTES)
        goto out_of_range;
    step->offset = (uint64_t)v;
    return true;

out_of_range:
    reply_error(ctx->reply, ERR_BIT_OFFSET);
    return false;
}

/* Reads the subcommand at argv[*at] and moves *at past it. An OVERFLOW
 * changes *mode and returns false with *failed clear; a GET, SET or INCRBY
 * fills step and returns true. On a bad argument replies Redis's error and
 * returns false with *failed set. A subcommand without all its arguments
 * is a syntax error, as in Redis, even when its name is known. */
static bool parse_step(struct exec_ctx *ctx, int *at, enum overflow_mode *mode,
                       struct field_step *step, bool *failed)
{
    struct slice name = ctx->argv[*at];
    int following = ctx->argc - *at - 1;

    *failed = false;
    if (slice_eq_nocase(name, "get") && following >= 2) {
        step->op = FIELD_GET;
    } else if (slice_eq_nocase(name, "set") && following >= 3) {
        step->op = FIELD_SET;
    } else if (slice_eq_nocase(name, "incrby") && following >= 3) {
        step->op = FIELD_INCRBY;
    } else if (slice_eq_nocase(name, "overflow") && following >= 1) {
        struct slice how = ctx->argv[*at + 1];

        if (slice_eq_nocase(how, "wrap"))
            *mode = OVERFLOW_WRAP;
        else if (slice_eq_nocase(how, "sat"))
            *mode = OVERFLOW_SAT;
        else if (slice_eq_nocase(how, "fail"))
            *mode = OVERFLOW_FAIL;
        else {
            reply_error(ctx->reply, ERR_OVERFLOW_MODE);
            *failed = true;
            return false;
        }
        *at += 2;
        return false;
    } else {
        reply_error(ctx->reply, ERR_SYNTAX);
        *failed = true;
        return false;
    }
    step->overflow = *mode;
    step->operand = 0;
    if (!parse_field_type(ctx, ctx->argv[*at + 1], step) ||
        !parse_field_offset(ctx, ctx->argv[*at + 2], step)) {
        *failed = true;
        return false;
    }
    if (step->op != FIELD_GET && !parse_ll(ctx->argv[*at + 3], &step->operand)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        *failed = true;
        return false;
    }
    *at += step->op == FIELD_GET ? 3 : 4;
    return true;
}

/* ---- bits in a string ---- */

static inline uint64_t width_mask(int bits)
{
    return bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

/* The bytes a field touches (at most 9) as one big-endian number, bytes
 * past len read as zero, and where the field's lowest bit sits in it. */
struct field_window {
    size_t            first;  /* index of the first byte */
    int               nbytes;
    int               shift;  /* of the field's lowest bit */
    unsigned __int128 bytes;
};

static struct field_window window_read(const unsigned char *p, size_t len, uint64_t offset, int bits)
{
    struct field_window w = { .first = (size_t)(offset >> 3) };
    int lead = (int)(offset & 7);

    w.nbytes = (lead + bits + 7) / 8;
    w.shift = w.nbytes * 8 - lead - bits;
    for (int i = 0; i < w.nbytes; i++)
        w.bytes = (w.bytes << 8) | (w.first + (size_t)i < len ? p[w.first + (size_t)i] : 0);
    return w;
}

/* The field's bits, unsigned. */
static uint64_t field_get(const unsigned char *p, size_t len, uint64_t offset, int bits)
{
    struct field_window w = window_read(p, len, offset, bits);

    return (uint64_t)(w.bytes >> w.shift) & width_mask(bits);
}

/* Writes the low bits of value into the field, whose bytes must all be
 * inside the string. Returns whether any bit changed. */
static bool field_put(unsigned char *p, size_t len, uint64_t offset, int bits, uint64_t value)
{
    struct field_window w = window_read(p, len, offset, bits);
    unsigned __int128 mask = (unsigned __int128)width_mask(bits) << w.shift;
    unsigned __int128 next = (w.bytes & ~mask) | ((unsigned __int128)(value & width_mask(bits)) << w.shift);

    if (next == w.bytes)
        return false;
    for (int i = w.nbytes - 1; i >= 0; i--, next >>= 8)
        p[w.first + (size_t)i] = (unsigned char)next;
    return true;
}

/* A field's bits as the integer its type says. */
static long long field_value(const struct field_step *step, uint64_t raw)
{
    if (step->is_signed && step->bits < 64 && (raw >> (step->bits - 1)) & 1)
        raw |= ~width_mask(step->bits); /* sign extension */
    return (long long)raw;
}

/* ---- overflow ---- */

/* Whether SAT takes a signed SET's value below the type's range for one
 * above it, as Redis's range check does: it computes max - value in 64 bits,
 * and when that wraps (value < max - INT64_MAX: the 128 lowest values for
 * i8, every value below the range for i63) it finds the value too large.
 * Kept so that both servers hold the same bits (i8: SET of INT64_MIN
 * saturates to 127). */
static bool set_saturates_up(const struct field_step *step, __int128 want)
{
    __int128 max = ((__int128)1 << (step->bits - 1)) - 1;

    return step->op == FIELD_SET && step->is_signed && want < max - INT64_MAX;
}

/* Brings want (an exact result: a sum of two 64-bit integers always fits
 * 128 bits) into the step's type as its OVERFLOW mode says. Returns false
 * when the mode is FAIL and want is out of range; else *bits_out holds the
 * field's new bits. An unsigned SET of a negative value overflows upwards,
 * as in Redis: the value is read as an unsigned 64-bit number, so SAT makes
 * it the largest value and WRAP keeps its low bits. */
static bool fit_to_type(const struct field_step *step, __int128 want, uint64_t *bits_out)
{
    __int128 max, min;

    if (step->is_signed) {
        max = ((__int128)1 << (step->bits - 1)) - 1;
        min = -max - 1;
    } else {
        max = (__int128)width_mask(step->bits);
        min = 0;
    }
    if (want >= min && want <= max) {
        *bits_out = (uint64_t)want & width_mask(step->bits);
        return true;
    }
    switch (step->overflow) {
    case OVERFLOW_FAIL:
        return false;
    case OVERFLOW_SAT:
        *bits_out = (uint64_t)(want > max || set_saturates_up(step, want) ? max : min) &
                    width_mask(step->bits);
        return true;
    case OVERFLOW_WRAP:
    default:
        /* the low bits of the two's complement form: conversion to an
         * unsigned type is modulo 2^64 */
        *bits_out = (uint64_t)want & width_mask(step->bits);
        return true;
    }
}

/* Runs one SET or INCRBY on the (grown) string and replies its element.
 * Returns whether any bit changed. */
static bool run_write(struct exec_ctx *ctx, struct entry *e, const struct field_step *step)
{
    unsigned char *p = (unsigned char *)entry_value(e);
    size_t len = entry_value_len(e);
    long long old = field_value(step, field_get(p, len, step->offset, step->bits));
    __int128 want;
    uint64_t bits;
    bool changed;

    if (step->op == FIELD_INCRBY)
        want = (__int128)old + step->operand;
    else if (step->is_signed)
        want = step->operand;
    else
        want = (__int128)(uint64_t)step->operand;
    if (!fit_to_type(step, want, &bits)) {
        reply_null(ctx->reply);
        return false;
    }
    changed = field_put(p, len, step->offset, step->bits, bits);
    reply_int(ctx->reply, step->op == FIELD_INCRBY ? field_value(step, bits) : old);
    return changed;
}

/* ---- the commands ---- */

static void bitfield(struct exec_ctx *ctx, bool read_only_form)
{
    struct slice key = ctx->argv[1];
    enum overflow_mode mode = OVERFLOW_WRAP;
    struct field_step step;
    size_t steps = 0, need = 0; /* bytes the writes need */
    bool writes = false, failed, dirty = false;
    struct entry *e;

    /* first pass: every argument checked, the writes' extent found */
    for (int at = 2; at < ctx->argc;) {
        if (!parse_step(ctx, &at, &mode, &step, &failed)) {
            if (failed)
                return;
            continue;
        }
        steps++;
        if (step.op != FIELD_GET) {
            size_t end = (size_t)((step.offset + (uint64_t)step.bits - 1) >> 3) + 1;

            writes = true;
            if (end > need)
                need = end;
        }
    }
    if (writes && read_only_form) {
        reply_error(ctx->reply, ERR_READONLY_FORM);
        return;
    }

    e = store_find(ctx->store, key, ctx->now_ms);
    if (e != NULL && entry_type(e) != TYPE_STRING) {
        reply_error(ctx->reply, ERR_WRONGTYPE);
        return;
    }
    if (writes) {
        if (e == NULL) {
            e = store_set(ctx->store, key, NULL, need, 0);
            memset(entry_value(e), 0, need);
            dirty = true;
        } else if (entry_value_len(e) < need) {
            e = store_resize(ctx->store, e, need); /* new bytes are zero */
            dirty = true;
        }
        /* as Redis's, which unshares the value for any write, even one
         * that FAILs or writes the bits already there */
        store_string_set_form(e, STRING_RAW);
    }

    /* second pass: the same arguments, now known good, run in order */
    reply_array(ctx->reply, steps);
    mode = OVERFLOW_WRAP;
    for (int at = 2; at < ctx->argc;) {
        if (!parse_step(ctx, &at, &mode, &step, &failed))
            continue;
        if (step.op == FIELD_GET) {
            const unsigned char *p = e ? (const unsigned char *)entry_value(e) : NULL;
            size_t len = e ? entry_value_len(e) : 0;

            reply_int(ctx->reply, field_value(&step, field_get(p, len, step.offset, step.bits)));
        } else {
            dirty |= run_write(ctx, e, &step);
        }
    }
    if (dirty)
        store_changed(ctx->store, e);
}

void cmd_bitfield(struct exec_ctx *ctx) { bitfield(ctx, false); }
void cmd_bitfield_ro(struct exec_ctx *ctx) { bitfield(ctx, true); }
