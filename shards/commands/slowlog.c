/* slowlog: SLOWLOG GET, LEN, RESET, HELP.
 *
 * GET, LEN and RESET are CMD_ALL_SHARDS, each shard on its own slow log;
 * GET's parts are merged by merge_slowlog_get below (LEN: merge_sum_int,
 * RESET: merge_first_ok). A shard's slow log holds the slow commands of its
 * own clients, wherever they ran (shards/run.c, dispatch_slow_record). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "shards/commands/commands.h"
#include "shards/commands/server.h"
#include "core/resp.h"
#include "core/slowlog.h"
#include "shards/shard.h"

/* --------------------------------------------------------------- SLOWLOG */

/* Default number of entries SLOWLOG GET returns, as in Redis. */
#define SLOWLOG_GET_DEFAULT 10

/* Each shard answers SLOWLOG GET with an array: the requested count (an
 * integer, -1 = all), then for each of up to count of its own entries,
 * newest first, the entry's id (an integer) and the entry itself.
 * merge_slowlog_get reads the count back, orders the entries of every shard
 * by id (one node-wide sequence), newest first, and keeps at most count. The
 * count and ids travel in the parts because a merge does not see the
 * arguments and does not parse the entries. */
void cmd_slowlog_get(struct exec_ctx *ctx)
{
    long long count = SLOWLOG_GET_DEFAULT;
    if (ctx->argc > 3) {
        reply_errorf(ctx->reply, ERR_ARITY, "slowlog|get");
        return;
    }
    if (ctx->argc == 3) {
        char num[32];
        char *end = NULL;
        bool ok = slice_to_cstr(ctx->argv[2], num, sizeof(num)) && num[0] != '\0' &&
                  !isspace((unsigned char)num[0]);
        if (ok) {
            errno = 0;
            count = strtoll(num, &end, 10);
            ok = *end == '\0' && errno == 0 && count >= -1;
        }
        if (!ok) {
            reply_error(ctx->reply, "ERR count should be greater than or equal to -1");
            return;
        }
    }
    struct slowlog *l = &ctx->shard->slowlog;
    size_t n = l->count;
    if (count >= 0 && (unsigned long long)count < n)
        n = (size_t)count;
    reply_array(ctx->reply, 1 + 2 * n);
    reply_int(ctx->reply, count);
    for (size_t i = 0; i < n; i++) {
        const struct slowlog_entry *e = &l->ring[(l->head + l->capacity - 1 - i) % l->capacity];
        reply_int(ctx->reply, (long long)e->id);
        reply_array(ctx->reply, 6);
        reply_int(ctx->reply, (long long)e->id);
        reply_int(ctx->reply, (long long)e->time_s);
        reply_int(ctx->reply, (long long)e->usec);
        reply_array(ctx->reply, (size_t)e->argc);
        for (int k = 0; k < e->argc; k++)
            reply_bulk(ctx->reply, e->argv[k].data ? e->argv[k].data : "", e->argv[k].len);
        reply_bulk_str(ctx->reply, e->addr);
        reply_bulk_str(ctx->reply, e->name);
    }
}

struct slowlog_ref {
    const char *p;     /* the entry's bytes (one complete RESP array) */
    size_t      len;
    long long   id;
    int         part;
    long long   rank;  /* position in its part: newest first */
};

static int slowlog_ref_newest_first(const void *a, const void *b)
{
    const struct slowlog_ref *x = a, *y = b;
    if (x->id != y->id)
        return x->id > y->id ? -1 : 1;
    if (x->part != y->part)
        return x->part - y->part;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

void merge_slowlog_get(struct reply *out, const struct merge_input *in)
{
    long long count = SLOWLOG_GET_DEFAULT;
    size_t total = 0, cap = 0;
    struct slowlog_ref *refs = NULL;
    for (int i = 0; i < in->nparts; i++) {
        const char *p = in->parts[i].data;
        size_t n = in->parts[i].len;
        if (n > 0 && p[0] == '-') {
            /* every shard refuses the same bad arguments: pass the first on */
            buf_append(out->out, p, n);
            mi_free(refs);
            return;
        }
        struct resp_reader rd;
        long long nelem = 0, c = 0;
        resp_reader_init(&rd, p, n);
        if (resp_peek(&rd) != '*' || !resp_read_aggregate(&rd, &nelem) || nelem < 1 ||
            !resp_read_int(&rd, &c))
            continue;
        count = c;
        for (long long k = 1; k + 1 < nelem; k += 2) {
            struct slowlog_ref ref = { NULL, 0, 0, i, k };
            struct slice entry;
            if (!resp_read_int(&rd, &ref.id) || !resp_read_value(&rd, &entry))
                break;
            ref.p = entry.ptr;
            ref.len = entry.len;
            if (total == cap) {
                cap = cap ? cap * 2 : 32;
                refs = mi_realloc(refs, cap * sizeof(*refs));
                if (refs == NULL)
                    abort();
            }
            refs[total++] = ref;
        }
    }
    if (total > 1)
        qsort(refs, total, sizeof(*refs), slowlog_ref_newest_first);
    size_t keep = total;
    if (count >= 0 && (unsigned long long)count < keep)
        keep = (size_t)count;
    reply_array(out, keep);
    for (size_t i = 0; i < keep; i++)
        buf_append(out->out, refs[i].p, refs[i].len);
    mi_free(refs);
}

void cmd_slowlog_len(struct exec_ctx *ctx)
{
    reply_int(ctx->reply, (long long)ctx->shard->slowlog.count);
}

void cmd_slowlog_reset(struct exec_ctx *ctx)
{
    slowlog_reset(&ctx->shard->slowlog);
    reply_ok(ctx->reply);
}

void cmd_slowlog_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}
