/* collection: the steps shared by the collection commands (collection.h). */
#include "shards/commands/collection.h"

#include <stdio.h>

#include "core/numbers.h"
#include "core/reply.h"

bool collection_find(struct exec_ctx *ctx, struct slice key, enum value_type t, struct entry **e, void **obj)
{
    *e = store_find(ctx->store, key, ctx->now_ms);
    *obj = NULL;
    if (!*e)
        return true;
    if (entry_type(*e) != t) {
        reply_error(ctx->reply, ERR_WRONGTYPE);
        return false;
    }
    *obj = entry_object(*e);
    return true;
}

void collection_written(struct exec_ctx *ctx, struct slice key, enum value_type t, struct entry *e, void *obj)
{
    if (!e) {
        if (store_object_len(t, obj) == 0)
            store_object_destroy(ctx->store, t, obj);
        else
            store_set_object(ctx->store, key, t, obj, 0);
    } else if (store_object_len(t, obj) == 0) {
        store_object_changed(ctx->store, e, obj); /* the entry must not keep a freed pointer */
        store_delete(ctx->store, key);
    } else {
        store_object_changed(ctx->store, e, obj);
    }
}

bool collection_timeout(struct exec_ctx *ctx, struct slice arg, int64_t *deadline)
{
    long double t;
    if (!parse_ld(arg, &t)) {
        reply_error(ctx->reply, "ERR timeout is not a float or out of range");
        return false;
    }
    if (t < 0) {
        reply_error(ctx->reply, "ERR timeout is negative");
        return false;
    }
    long double ms = t * 1000.0L;
    if (ms > (long double)(INT64_MAX / 2)) {
        reply_error(ctx->reply, "ERR timeout is out of range");
        return false;
    }
    *deadline = ms > 0 ? ctx->now_ms + (int64_t)(ms + 0.5L) : 0;
    if (ms > 0 && *deadline == ctx->now_ms)
        *deadline = ctx->now_ms + 1;
    return true;
}

bool collection_scan_cursor(struct exec_ctx *ctx, struct slice arg, uint64_t *cursor)
{
    unsigned long long u;
    long long v;
    if (parse_ull(arg, &u)) {
        *cursor = u;
        return true;
    }
    if (parse_ll(arg, &v) && v < 0) {
        *cursor = (uint64_t)v;
        return true;
    }
    reply_error(ctx->reply, "ERR invalid cursor");
    return false;
}

bool collection_scan_options(struct exec_ctx *ctx, long long *count, struct slice *pattern)
{
    *count = 10;
    *pattern = (struct slice){ NULL, 0 };
    for (int i = 3; i < ctx->argc; i += 2) {
        struct slice opt = ctx->argv[i];
        if (i + 1 < ctx->argc && slice_eq_nocase(opt, "count")) {
            if (!parse_ll(ctx->argv[i + 1], count)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return false;
            }
            if (*count < 1) {
                reply_error(ctx->reply, ERR_SYNTAX);
                return false;
            }
        } else if (i + 1 < ctx->argc && slice_eq_nocase(opt, "match")) {
            struct slice p = ctx->argv[i + 1];
            *pattern = p.len == 1 && p.ptr[0] == '*' ? (struct slice){ NULL, 0 } : p;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

void collection_scan_reply_none(struct exec_ctx *ctx)
{
    reply_array(ctx->reply, 2);
    reply_bulk(ctx->reply, "0", 1);
    reply_array(ctx->reply, 0);
}

void collection_scan_reply_cursor(struct exec_ctx *ctx, uint64_t next)
{
    char num[24];
    int nlen = snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    reply_array(ctx->reply, 2);
    reply_bulk(ctx->reply, num, (size_t)nlen);
}
