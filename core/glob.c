/* glob: Redis's glob matching (stringmatchlen), for KEYS, SCAN MATCH,
 * PSUBSCRIBE and CONFIG GET. */
#include "core/glob.h"

#include <ctype.h>

static inline int fold(int c, bool nocase)
{
    return nocase ? tolower(c) : c;
}

/* Does the one-character token at pattern[*pi] (?, [class], \x or a literal)
 * match c? Advances *pi past the token. Mirrors Redis's stringmatchlen,
 * including its treatment of an unterminated class (closed at the end of
 * the pattern) and of a trailing backslash (a literal '\'). */
static bool token_match(const unsigned char *p, size_t plen, size_t *pi, unsigned char c, bool nocase)
{
    size_t i = *pi;
    switch (p[i]) {
    case '?':
        *pi = i + 1;
        return true;
    case '[': {
        i++;
        bool negate = i < plen && p[i] == '^';
        if (negate)
            i++;
        bool match = false;
        for (;;) {
            if (i >= plen)
                break;                      /* unterminated: the class ends here */
            if (p[i] == '\\' && plen - i >= 2) {
                i++;
                if (p[i] == c)
                    match = true;
            } else if (p[i] == ']') {
                break;
            } else if (plen - i >= 3 && p[i + 1] == '-') {
                int start = p[i], end = p[i + 2], ch = c;
                if (start > end) {
                    int t = start;
                    start = end;
                    end = t;
                }
                if (nocase) {
                    start = tolower(start);
                    end = tolower(end);
                    ch = tolower(ch);
                }
                i += 2;
                if (ch >= start && ch <= end)
                    match = true;
            } else if (fold(p[i], nocase) == fold(c, nocase)) {
                match = true;
            }
            i++;
        }
        *pi = i < plen ? i + 1 : plen;      /* past the ']' */
        return negate ? !match : match;
    }
    case '\\':
        if (plen - i >= 2) {
            *pi = i + 2;
            return fold(p[i + 1], nocase) == fold(c, nocase);
        }
        /* a trailing backslash is a literal one */
        /* fallthrough */
    default:
        *pi = i + 1;
        return fold(p[i], nocase) == fold(c, nocase);
    }
}

/* Iterative: on a mismatch, retry from the most recent '*' one character
 * further along the string. Only the latest star needs revisiting because
 * every other token matches exactly one character, so the work is bounded by
 * plen * slen whatever the pattern (no exponential blowup on "*a*a*a*b"). */
bool glob_match(const char *pattern, size_t plen, const char *s, size_t slen, bool nocase)
{
    const unsigned char *p = (const unsigned char *)pattern;
    const unsigned char *str = (const unsigned char *)s;
    size_t pi = 0, si = 0;
    size_t star_p = 0, star_s = 0;
    bool have_star = false;
    /* Redis's matcher never enters its loop for an empty string, so only an
     * empty pattern matches it; KEYS and SCAN treat a lone "*" as "every
     * key" before matching, so "*" matches the empty string here too. */
    if (slen == 0)
        return plen == 0 || (plen == 1 && p[0] == '*');
    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            while (pi < plen && p[pi] == '*')
                pi++;
            if (pi == plen)
                return true;
            have_star = true;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            size_t next = pi;
            if (token_match(p, plen, &next, str[si], nocase)) {
                pi = next;
                si++;
                continue;
            }
        }
        if (!have_star)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}
