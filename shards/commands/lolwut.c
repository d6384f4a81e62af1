/* lolwut: LOLWUT [VERSION v] [columns [rows]]: "computer art and the
 * Redis version", as Redis has it since 5.0. The art is each server's own
 * (Redis draws a different piece for each version it ships); ringkv draws
 * a ring, the shape its keys are placed on, columns wide and rows high
 * (default 66 x 22, each at most 1000), and ends with the version line
 * Redis ends with, naming both versions. VERSION 5 or 6 (Redis's versions
 * with art) or none draws it; any other version gets the line alone, as
 * Redis answers the versions it has no art for. The reply is a verbatim
 * string (RESP3), a bulk string (RESP2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/commands/commands.h"
#include "ringkv_version.h"

#define ART_MAX 1000 /* columns and rows at most (Redis bounds its canvas by 1000 too) */

/* The ring: the cells between two ellipses around the canvas's middle.
 * A cell is about twice as tall as it is wide, hence rx = 2 * ry. */
static void draw_ring(struct buf *out, long cols, long rows)
{
    double cx = (double)(cols - 1) / 2, cy = (double)(rows - 1) / 2;
    double ry = (double)rows / 2, rx = (double)cols / 2;
    for (long y = 0; y < rows; y++) {
        size_t start = out->len;
        for (long x = 0; x < cols; x++) {
            double dx = ((double)x - cx) / rx, dy = ((double)y - cy) / ry;
            double r = sqrt(dx * dx + dy * dy);
            buf_append(out, r >= 0.62 && r <= 0.98 ? "#" : " ", 1);
        }
        while (out->len > start && out->data[out->len - 1] == ' ')
            out->len--; /* no trailing blanks */
        buf_append(out, "\n", 1);
    }
}

void cmd_lolwut(struct exec_ctx *ctx)
{
    long long version = 6, dims[2] = { 66, 22 };
    int at = 1;
    if (ctx->argc >= 3 && slice_eq_nocase(ctx->argv[1], "version")) {
        if (!parse_ll(ctx->argv[2], &version)) {
            reply_error(ctx->reply, ERR_NOT_INT);
            return;
        }
        at = 3;
    }
    /* Redis reads its art's numbers after VERSION only, and ignores words
     * it does not use: so does this */
    for (int i = 0; i < 2 && at == 3 && at + i < ctx->argc; i++) {
        if (!parse_ll(ctx->argv[at + i], &dims[i])) {
            reply_error(ctx->reply, ERR_NOT_INT);
            return;
        }
        if (dims[i] < 1)
            dims[i] = 1;
        if (dims[i] > ART_MAX)
            dims[i] = ART_MAX;
    }
    struct buf out;
    buf_init(&out);
    if (version == 5 || version == 6)
        draw_ring(&out, (long)dims[0], (long)dims[1]);
    buf_printf(&out, "ringkv ver. %s, Redis ver. %s\n", RINGKV_VERSION, REDIS_COMPAT_VERSION);
    reply_verbatim(ctx->reply, out.data, out.len);
    buf_free(&out);
}
