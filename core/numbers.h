/* numbers: strict conversions between text and numbers, with Redis's rules
 * (no leading spaces or '+', no leading zeros in integers, whole string used),
 * so "value is not an integer" means the same here as in Redis. */
#ifndef RINGKV_NUMBERS_H
#define RINGKV_NUMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include "core/buf.h"

/* Whole-slice signed 64-bit integer ("-0" and "007" are rejected, as in Redis). */
bool parse_ll(struct slice s, long long *out);
/* Whole-slice unsigned 64-bit integer (SCAN cursors). Parsed as Redis 7
 * parses cursors (strtoul): an optional '+'/'-' and leading zeros are
 * accepted ("-1" wraps to 2^64-1); spaces, junk and values past 2^64-1 are not. */
bool parse_ull(struct slice s, unsigned long long *out);
/* Whole-slice long double: no spaces, not NaN; "inf" accepted. */
bool parse_ld(struct slice s, long double *out);
/* Decimal text of v into buf (at least 21 bytes); returns the length. */
int format_ll(char *buf, size_t n, long long v);
/* Text of v as Redis prints INCRBYFLOAT results (%.17Lf, trailing zeros and
 * dot removed; "inf"/"-inf"); returns the length. */
int format_ld(char *buf, size_t n, long double v);

#endif
