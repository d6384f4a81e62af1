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
