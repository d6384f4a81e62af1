#include "core/lzf.h"

#include <stdint.h>
#include <string.h>

bool lzf_decompress_exact(const void *in, size_t in_len, void *out, size_t out_len)
{
    const unsigned char *ip = in, *in_end = ip + in_len;
    unsigned char *op = out, *out_start = out, *out_end = op + out_len;
    while (ip < in_end) {
        unsigned ctrl = *ip++;
        if (ctrl < 32) {
            size_t run = (size_t)ctrl + 1;
            if ((size_t)(in_end - ip) < run || (size_t)(out_end - op) < run)
                return false;
            memcpy(op, ip, run);
            ip += run;
            op += run;
            continue;
        }
        size_t len = ctrl >> 5;
        if (len == 7) {
            if (ip >= in_end)
                return false;
            len += *ip++;
        }
        len += 2;
        if (ip >= in_end)
            return false;
        size_t dist = ((size_t)(ctrl & 31) << 8) + *ip++ + 1;
        if ((size_t)(op - out_start) < dist || (size_t)(out_end - op) < len)
            return false;
        const unsigned char *ref = op - dist;
        /* byte by byte: the reference may overlap what it writes */
        for (size_t i = 0; i < len; i++)
            op[i] = ref[i];
        op += len;
    }
    return op == out_end;
}

#define HASH_BITS 13
#define MAX_REF   8192            /* distances 1..8192: 13 bits of (dist - 1) */
#define MAX_MATCH (7 + 255 + 2)   /* length code 7, one more byte, plus 2 */
#define MAX_RUN   32              /* a literal run's control byte holds run - 1 < 32 */

static inline uint32_t hash3(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* The literal bytes [from, to) as runs of at most MAX_RUN; false if out
 * has no room. */
static bool put_literals(unsigned char **opp, unsigned char *out_end, const unsigned char *from,
                         const unsigned char *to)
{
    unsigned char *op = *opp;
    while (from < to) {
        size_t run = (size_t)(to - from) < MAX_RUN ? (size_t)(to - from) : MAX_RUN;
        if ((size_t)(out_end - op) < run + 1)
            return false;
        *op++ = (unsigned char)(run - 1);
        memcpy(op, from, run);
        op += run;
        from += run;
    }
    *opp = op;
    return true;
}

size_t lzf_compress(const void *in, size_t in_len, void *out, size_t out_cap)
{
    /* positions + 1 (0: none seen) */
    uint32_t table[1u << HASH_BITS];
    memset(table, 0, sizeof table);
    const unsigned char *base = in, *ip = base, *end = base + in_len, *lit = base;
    unsigned char *op = out, *out_end = op + out_cap;
    while (end - ip >= 3) {
        uint32_t h = hash3(ip);
        uint32_t seen = table[h];
        table[h] = (uint32_t)(ip - base) + 1;
        if (seen) {
            const unsigned char *ref = base + seen - 1;
            size_t dist = (size_t)(ip - ref);
            if (dist <= MAX_REF && ref[0] == ip[0] && ref[1] == ip[1] && ref[2] == ip[2]) {
                size_t max = (size_t)(end - ip) < MAX_MATCH ? (size_t)(end - ip) : MAX_MATCH;
                size_t len = 3;
                while (len < max && ref[len] == ip[len])
                    len++;
                if (!put_literals(&op, out_end, lit, ip))
                    return 0;
                size_t code = len - 2, back = dist - 1;
                if ((size_t)(out_end - op) < (code >= 7 ? 3u : 2u))
                    return 0;
                if (code < 7) {
                    *op++ = (unsigned char)(code << 5 | back >> 8);
                } else {
                    *op++ = (unsigned char)(7 << 5 | back >> 8);
                    *op++ = (unsigned char)(code - 7);
                }
                *op++ = (unsigned char)(back & 255);
                ip += len;
                lit = ip;
                /* the match's last position seeds the table too: runs of a
                 * repeated pattern then chain from one match to the next */
                if (end - ip >= 1 && ip - base >= 2)
                    table[hash3(ip - 2)] = (uint32_t)(ip - 2 - base) + 1;
                continue;
            }
        }
        ip++;
    }
    if (!put_literals(&op, out_end, lit, end))
        return 0;
    return (size_t)(op - (unsigned char *)out);
}
