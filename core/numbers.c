/* numbers: strict text <-> number conversions with Redis's rules (see numbers.h).
 *
 * Integers are parsed by hand rather than with strtoll: strtoll accepts
 * leading spaces, a '+', leading zeros and stops at the first non-digit,
 * while Redis accepts exactly "0" or an optional '-' followed by a digit
 * 1-9 and more digits, with the whole argument used. */
#include "core/numbers.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text Redis accepts as a 64-bit integer: "-9223372036854775808"
 * is 20 characters; anything longer cannot be a valid value. */
#define LL_MAX_CHARS 20
/* Longest text Redis accepts as a long double (MAX_LONG_DOUBLE_CHARS). */
#define LD_MAX_CHARS (5 * 1024)

bool parse_ll(struct slice s, long long *out)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t n = s.len;
    bool negative = false;
    unsigned long long v;

    if (n == 0 || n > LL_MAX_CHARS)
        return false;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    if (p[0] == '-') {
        negative = true;
        p++;
        n--;
        if (n == 0)
            return false;
    }
    /* First digit 1-9: rejects "007", "-0" and "-". */
    if (p[0] < '1' || p[0] > '9')
        return false;
    v = (unsigned long long)(p[0] - '0');
    for (size_t i = 1; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = p[i] - '0';
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (negative) {
        /* LLONG_MIN's magnitude is LLONG_MAX + 1. */
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

/* SCAN cursors: Redis 7 parses them with strtoul, so an optional sign and
 * leading zeros are accepted ("+0", "007"; "-1" wraps to 2^64-1), a leading
 * space, an empty argument, trailing junk and values above 2^64-1 are not. */
bool parse_ull(struct slice s, unsigned long long *out)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t n = s.len, i = 0;
    bool negative = false;
    unsigned long long v = 0;

    if (n == 0)
        return false;
    if (p[0] == '+' || p[0] == '-') {
        negative = p[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = p[i] - '0';
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = negative ? (unsigned long long)0 - v : v;
    return true;
}

bool parse_ld(struct slice s, long double *out)
{
    char text[LD_MAX_CHARS];
    char *end;
    long double v;
    bool ok;

    if (s.len == 0 || s.len >= LD_MAX_CHARS)
        return false;
    /* strtold skips leading spaces; Redis does not accept them. */
    if (s.ptr[0] == ' ' || (s.ptr[0] >= '\t' && s.ptr[0] <= '\r'))
        return false;
    /* strtold needs a NUL-terminated string; an embedded NUL must not end
     * the number early, so the end pointer is checked against the length. */
    memcpy(text, s.ptr, s.len);
    text[s.len] = '\0';
    errno = 0;
    v = strtold(text, &end);
    ok = end == text + s.len && !isnan(v) && errno != EINVAL &&
         !(errno == ERANGE && (isinf(v) || v == 0.0L));
    if (ok)
        *out = v;
    return ok;
}

int format_ll(char *buf, size_t n, long long v)
{
    char tmp[24];
    size_t len = 0;
    /* Work on the magnitude as unsigned so LLONG_MIN needs no special case. */
    unsigned long long u = v < 0 ? (unsigned long long)0 - (unsigned long long)v
                                 : (unsigned long long)v;

    do {
        tmp[len++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[len++] = '-';
    if (len + 1 > n)
        return 0;
    for (size_t i = 0; i < len; i++)
        buf[i] = tmp[len - 1 - i];
    buf[len] = '\0';
    return (int)len;
}

/* As Redis's ld2string(LD_STR_HUMAN): 17 digits after the point (enough for
 * most short decimals to come back as typed), then the trailing zeros and a
 * bare trailing point removed, and "-0" written "0". Returns 0 when the text
 * does not fit in n bytes (Redis then stores an empty string). */
int format_ld(char *buf, size_t n, long double v)
{
    int len;

    if (isinf(v)) {
        const char *t = v > 0 ? "inf" : "-inf";
        len = (int)strlen(t);
        if ((size_t)len + 1 > n)
            return 0;
        memcpy(buf, t, (size_t)len + 1);
        return len;
    }
    len = snprintf(buf, n, "%.17Lf", v);
    if (len < 0 || (size_t)len + 1 > n)
        return 0;
    if (memchr(buf, '.', (size_t)len) != NULL) {
        while (buf[len - 1] == '0')
            len--;
        if (buf[len - 1] == '.')
            len--;
    }
    if (len == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        len = 1;
    }
    buf[len] = '\0';
    return len;
}
