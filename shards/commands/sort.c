/* cmd_sort: SORT and SORT_RO over a list, a set or a sorted set, with
 * Redis 7's options, order of checks, replies and errors:
 *
 *   SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
 *        [ALPHA] [STORE destination]
 *
 * Elements sort as numbers (strtod of the whole element, as Redis: "One or
 * more scores can't be converted into double" otherwise; equal numbers by
 * their bytes) or, with ALPHA, by their bytes. BY a pattern without '*'
 * (BY nosort) keeps the collection's own order: a list's, a sorted set's
 * (DESC walking it backwards), a set's iteration order, except that a set
 * sorted into STORE is sorted by its bytes so that the stored list is the
 * same everywhere (Redis does the same for replication). LIMIT offset
 * count as Redis clamps it. GET # answers the element itself.
 *
 * BY and GET with patterns name other keys, built from each element: in a
 * cluster Redis refuses them ("BY option of SORT denied in Cluster mode."),
 * and ringkv does too; on a standalone node ringkv refuses them as well,
 * since those keys may live on any shard and the command runs on the
 * shard(s) of the keys it names (README, Limitations). GET # is taken on a
 * standalone node.
 *
 * STORE destination writes the result as a list (deleting destination when
 * the result is empty) and answers its length; the destination is a key of
 * the command (command_keys, CMD_STORE_KEY), so it is routed, gated
 * (CROSSSLOT) and replicated as any written key: journaled by its effects,
 * the new list or the DEL. The elements are copied out of the sorted key
 * first, so SORT k STORE k is safe. */
#include "shards/commands/commands.h"
#include "shards/commands/collection.h"

#include <errno.h>
#include <math.h>
#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/numbers.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/list.h"
#include "shards/store/set.h"
#include "shards/store/store.h"
#include "shards/store/zset.h"

struct sort_item {
    size_t off;   /* in the copy's bytes (each element followed by a NUL, for strtod) */
    size_t len;
    double score; /* numeric sort */
};

struct sort_vec {
    struct buf        bytes;
    struct sort_item *at;
    size_t            n, cap;
};

static void vec_add(void *arg, struct slice v)
{
    struct sort_vec *sv = arg;
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 16;
        sv->at = mi_realloc(sv->at, sv->cap * sizeof *sv->at);
        if (!sv->at)
            abort();
    }
    sv->at[sv->n++] = (struct sort_item){ .off = sv->bytes.len, .len = v.len };
    buf_append(&sv->bytes, v.ptr, v.len);
    buf_append(&sv->bytes, "", 1);
}

static void vec_free(struct sort_vec *sv)
{
    buf_free(&sv->bytes);
    mi_free(sv->at);
}

struct sort_order {
    const char *bytes;
    bool        alpha, desc;
};

/* Redis's compareStringObjects: the bytes, a prefix first. */
static int compare_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int sort_compare(const void *x, const void *y, void *arg)
{
    const struct sort_item *a = x, *b = y;
    const struct sort_order *o = arg;
    int c;
    if (!o->alpha && a->score != b->score)
        c = a->score > b->score ? 1 : -1;
    else
        c = compare_bytes(o->bytes + a->off, a->len, o->bytes + b->off, b->len);
    return o->desc ? -c : c;
}

struct sort_args {
    bool   desc, alpha, dontsort, limited;
    long long offset, count;
    int    gets;       /* GET # given this many times */
    int    store;      /* argv index of the destination, 0: none */
};

/* The options after the key, as Redis reads them (the last of each wins;
 * LIMIT's numbers checked as read). False with the error replied. */
static bool sort_parse(struct exec_ctx *ctx, bool readonly, struct sort_args *a)
{
    bool cluster = ctx->shard && ctx->shard->node->cluster;
    *a = (struct sort_args){ .count = -1 };
    for (int j = 2; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        struct slice w = ctx->argv[j];
        if (slice_eq_nocase(w, "asc")) {
            a->desc = false;
        } else if (slice_eq_nocase(w, "desc")) {
            a->desc = true;
        } else if (slice_eq_nocase(w, "alpha")) {
            a->alpha = true;
        } else if (slice_eq_nocase(w, "limit") && left >= 2) {
            if (!parse_ll(ctx->argv[j + 1], &a->offset) || !parse_ll(ctx->argv[j + 2], &a->count)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return false;
            }
            a->limited = true;
            j += 2;
        } else if (!readonly && slice_eq_nocase(w, "store") && left >= 1) {
            a->store = ++j;
        } else if (slice_eq_nocase(w, "by") && left >= 1) {
            struct slice p = ctx->argv[++j];
            if (!memchr(p.ptr, '*', p.len)) {
                a->dontsort = true; /* BY nosort, or any constant */
            } else {
                reply_error(ctx->reply, cluster ? "ERR BY option of SORT denied in Cluster mode."
                                                : "ERR BY option of SORT with a pattern is not supported by "
                                                  "ringkv (the keys it names may be on any shard)");
                return false;
            }
        } else if (slice_eq_nocase(w, "get") && left >= 1) {
            struct slice p = ctx->argv[++j];
            if (cluster) {
                reply_error(ctx->reply, "ERR GET option of SORT denied in Cluster mode.");
                return false;
            }
            if (p.len != 1 || p.ptr[0] != '#') {
                reply_error(ctx->reply, "ERR GET option of SORT with a pattern other than # is not supported by "
                                        "ringkv (the keys it names may be on any shard)");
                return false;
            }
            a->gets++;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

static void sort_generic(struct exec_ctx *ctx, bool readonly)
{
    struct sort_args a;
    if (!sort_parse(ctx, readonly, &a))
        return;
    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    enum value_type t = e ? entry_type(e) : TYPE_LIST;
    if (t != TYPE_LIST && t != TYPE_SET && t != TYPE_ZSET) {
        reply_error(ctx->reply, ERR_WRONGTYPE);
        return;
    }
    void *obj = e ? entry_object(e) : NULL;
    /* Redis's SORT turns a sorted set it reads into a skiplist for good
     * (OBJECT ENCODING says so after it, even when the SORT fails) */
    if (t == TYPE_ZSET && obj) {
        obj = zset_to_skiplist(ctx->store, obj);
        store_object_reencoded(ctx->store, e, obj);
    }
    /* a set's own order is not the same on a replica: sorted into STORE
     * by its bytes, as Redis */
    if (a.dontsort && t == TYPE_SET && a.store) {
        a.dontsort = false;
        a.alpha = true;
    }
    size_t len = obj ? store_object_len(t, obj) : 0;
    /* Redis's clamping of LIMIT: [start, end], empty when end < start; the
     * offset and the count bounded by the length first, so that their sum
     * cannot overflow (LIMIT 2 9223372036854775807 did) */
    long long llen = (long long)len;
    long long start = a.offset < 0 ? 0 : a.offset < llen ? a.offset : llen;
    long long count = a.count < 0 ? -1 : a.count < llen ? a.count : llen;
    long long end = count < 0 ? llen - 1 : start + count - 1;
    if (start >= (long long)len) {
        start = (long long)len - 1;
        end = (long long)len - 2;
    }
    if (end >= (long long)len)
        end = (long long)len - 1;

    struct sort_vec v = { .at = NULL };
    if (a.dontsort && (t == TYPE_LIST || t == TYPE_ZSET)) {
        /* the collection's own order (DESC: from the other end), only the
         * range LIMIT keeps */
        size_t n = end >= start ? (size_t)(end - start + 1) : 0;
        if (n && t == TYPE_LIST) {
            size_t from = a.desc ? len - (size_t)start - n : (size_t)start;
            list_visit(obj, from, n, vec_add, &v);
            for (size_t i = 0; a.desc && i < n / 2; i++) { /* walked forwards: turned round */
                struct sort_item x = v.at[i];
                v.at[i] = v.at[n - 1 - i];
                v.at[n - 1 - i] = x;
            }
        } else if (n) {
            struct zset_iter it = { .left = 0 };
            zset_iter_at(obj, (size_t)start, a.desc, &it);
            struct slice m;
            double score;
            for (size_t i = 0; i < n && zset_iter_next(&it, &m, &score); i++)
                vec_add(&v, m);
        }
        end -= start;
        start = 0;
    } else if (obj) {
        if (t == TYPE_LIST) {
            list_visit(obj, 0, len, vec_add, &v);
        } else if (t == TYPE_SET) {
            set_foreach(obj, vec_add, &v);
        } else {
            struct zset_iter it = { .left = 0 };
            zset_iter_at(obj, 0, false, &it);
            struct slice m;
            double score;
            while (zset_iter_next(&it, &m, &score))
                vec_add(&v, m);
        }
    }

    bool not_a_number = false;
    if (!a.dontsort) {
        if (!a.alpha)
            for (size_t i = 0; i < v.n; i++) {
                char *end_of;
                errno = 0;
                v.at[i].score = strtod(v.bytes.data + v.at[i].off, &end_of);
                if (*end_of != '\0' || errno == ERANGE || isnan(v.at[i].score))
                    not_a_number = true;
            }
        struct sort_order o = { v.bytes.data, a.alpha, a.desc };
        if (v.n > 1)
            qsort_r(v.at, v.n, sizeof *v.at, sort_compare, &o);
    }

    size_t out = end >= start ? (size_t)(end - start + 1) : 0;
    int per = a.gets ? a.gets : 1; /* GET # n times: the element n times */
    if (not_a_number) {
        reply_error(ctx->reply, "ERR One or more scores can't be converted into double");
    } else if (!a.store) {
        reply_array(ctx->reply, out * (size_t)per);
        for (size_t i = 0; i < out; i++)
            for (int g = 0; g < per; g++)
                reply_bulk(ctx->reply, v.bytes.data + v.at[(size_t)start + i].off, v.at[(size_t)start + i].len);
    } else {
        struct slice dst = ctx->argv[a.store];
        if (out == 0) {
            store_delete(ctx->store, dst);
        } else {
            struct list_limits lim = list_limits_of(ctx);
            struct list *l = list_create(ctx->store);
            for (size_t i = 0; i < out; i++)
                for (int g = 0; g < per; g++) {
                    const struct sort_item *x = &v.at[(size_t)start + i];
                    list_push(ctx->store, &l, false, (struct slice){ v.bytes.data + x->off, x->len }, &lim);
                }
            store_set_object(ctx->store, dst, TYPE_LIST, l, 0);
        }
        reply_int(ctx->reply, (long long)(out * (size_t)per));
    }
    vec_free(&v);
}

void cmd_sort(struct exec_ctx *ctx)    { sort_generic(ctx, false); }
void cmd_sort_ro(struct exec_ctx *ctx) { sort_generic(ctx, true); }
