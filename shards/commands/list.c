/* cmd_list: the list commands, with Redis 7's replies, errors and the order
 * in which it checks arguments and the key's type.
 *
 * A list lives in its key's entry as an object (shards/store/list.h); its
 * node size is the node's list-max-listpack-size, read at each write. As
 * for hashes and sets, a new list is built before the store gets it, an
 * existing one changes (and may move: a small list is one allocation that
 * grows by reallocation) and the store is told its new address, and a key
 * whose last element goes is deleted.
 *
 * LMOVE and RPOPLPUSH run where their keys are, or on a scratch store
 * holding copies of both when they live on different shards
 * (shards/route.c: copy, compute, apply): the pop and the push are each
 * atomic on their own shard, and between them another client may see the
 * element in neither list (or, for a concurrent write on the destination,
 * the usual copy–compute–apply rules: the whole destination is replaced).
 * LMPOP's keys are counted by numkeys: its row names every argument from
 * the first key on (as SINTERCARD's).
 *
 * Replication: the pushes, pops and edits are journaled as themselves
 * (deterministic given the keyspace); LMOVE and RPOPLPUSH as the pop of the
 * source then the push to the destination (each applied where its key
 * lives on the replica), LMPOP as the LPOP/RPOP of the key it popped from,
 * as Redis propagates them.
 *
 * Clients blocked on a key are served when the store reports a write of
 * it (shards/blocking.h). */
#include "shards/commands/commands.h"
#include "shards/commands/collection.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <mimalloc.h>

#include "shards/blocking.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/list.h"
#include "shards/store/store.h"
#include "core/config.h"
#include "core/numbers.h"

#define ERR_POSITIVE "ERR value is out of range, must be positive"

struct list_limits list_limits_of(const struct exec_ctx *ctx)
{
    if (!ctx->shard || !ctx->shard->node)
        return list_default_limits;
    const struct config *c = &ctx->shard->node->config;
    return (struct list_limits){ config_load(c, list_max_listpack_size), config_load(c, list_compress_depth) };
}

/* The list at key (found: lazily expired), NULL when missing; replies
 * WRONGTYPE and returns false for another type. */
static bool find_list(struct exec_ctx *ctx, struct slice key, struct entry **e, struct list **l)
{
    void *obj;
    bool ok = collection_find(ctx, key, TYPE_LIST, e, &obj);
    *l = obj;
    return ok;
}

/* After a write to l (new when e is NULL): hand a new list to the store,
 * journal a change to an existing one, or delete the key once empty. */
static void list_written(struct exec_ctx *ctx, struct slice key, struct entry *e, struct list *l)
{
    collection_written(ctx, key, TYPE_LIST, e, l);
}

bool list_parse_end(struct slice s, bool *head)
{
    if (s.len == 4 && strncasecmp(s.ptr, "left", 4) == 0)
        *head = true;
    else if (s.len == 5 && strncasecmp(s.ptr, "right", 5) == 0)
        *head = false;
    else
        return false;
    return true;
}

/* An integer argument, or ERR_NOT_INT replied. */
static bool int_arg(struct exec_ctx *ctx, struct slice s, long long *v)
{
    if (!parse_ll(s, v)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return false;
    }
    return true;
}

/* ---- LPUSH RPUSH LPUSHX RPUSHX ---------------------------------------- */

static void push_generic(struct exec_ctx *ctx, bool head, bool only_existing)
{
    struct slice key = ctx->argv[1];
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, key, &e, &l))
        return;
    if (!l && only_existing) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (!l)
        l = list_create(ctx->store);
    struct list_limits lim = list_limits_of(ctx);
    for (int i = 2; i < ctx->argc; i++)
        list_push(ctx->store, &l, head, ctx->argv[i], &lim);
    long long len = (long long)list_len(l);
    list_written(ctx, key, e, l);
    reply_int(ctx->reply, len);
}

void cmd_lpush(struct exec_ctx *ctx) { push_generic(ctx, true, false); }
void cmd_rpush(struct exec_ctx *ctx) { push_generic(ctx, false, false); }
void cmd_lpushx(struct exec_ctx *ctx) { push_generic(ctx, true, true); }
void cmd_rpushx(struct exec_ctx *ctx) { push_generic(ctx, false, true); }

/* ---- LPOP RPOP -------------------------------------------------------- */

/* Reply up to count elements popped from l's end (an array when as_array),
 * then write the key back. */
static void pop_into_reply(struct exec_ctx *ctx, struct slice key, struct entry *e, struct list *l,
                           bool head, long long count, bool as_array)
{
    size_t n = (size_t)count < list_len(l) ? (size_t)count : list_len(l);
    if (as_array)
        reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++) {
        struct slice v = list_peek(l, head);
        reply_bulk(ctx->reply, v.ptr, v.len);
        list_pop(ctx->store, &l, head);
    }
    list_written(ctx, key, e, l);
}

static void pop_generic(struct exec_ctx *ctx, bool head)
{
    long long count = 1;
    bool has_count = ctx->argc == 3;
    if (ctx->argc > 3) {
        reply_errorf(ctx->reply, ERR_ARITY, head ? "lpop" : "rpop");
        return;
    }
    if (has_count && (!parse_ll(ctx->argv[2], &count) || count < 0)) {
        reply_error(ctx->reply, ERR_POSITIVE);
        return;
    }
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    if (!l) {
        if (has_count)
            reply_null_array(ctx->reply);
        else
            reply_null(ctx->reply);
        return;
    }
    if (has_count && count == 0) {
        reply_array(ctx->reply, 0);
        return;
    }
    pop_into_reply(ctx, ctx->argv[1], e, l, head, count, has_count);
}

void cmd_lpop(struct exec_ctx *ctx) { pop_generic(ctx, true); }
void cmd_rpop(struct exec_ctx *ctx) { pop_generic(ctx, false); }

/* ---- LLEN LINDEX LRANGE ----------------------------------------------- */

void cmd_llen(struct exec_ctx *ctx)
{
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    reply_int(ctx->reply, l ? (long long)list_len(l) : 0);
}

void cmd_lindex(struct exec_ctx *ctx)
{
    struct entry *e;
    struct list *l;
    long long index;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    if (!l) {
        reply_null(ctx->reply);
        return;
    }
    if (!int_arg(ctx, ctx->argv[2], &index))
        return;
    struct slice v;
    if (list_index(l, index, &v))
        reply_bulk(ctx->reply, v.ptr, v.len);
    else
        reply_null(ctx->reply);
}

/* Clamp [start, stop] (negative from the tail) to a list of len elements:
 * false when the range is empty. */
static bool clamp_range(long long start, long long stop, size_t len, size_t *from, size_t *n)
{
    long long ln = (long long)len;
    if (start < 0)
        start += ln;
    if (stop < 0)
        stop += ln;
    if (start < 0)
        start = 0;
    if (start > stop || start >= ln)
        return false;
    if (stop >= ln)
        stop = ln - 1;
    *from = (size_t)start;
    *n = (size_t)(stop - start + 1);
    return true;
}

static void reply_elem(void *arg, struct slice v)
{
    struct exec_ctx *ctx = arg;
    reply_bulk(ctx->reply, v.ptr, v.len);
}

void cmd_lrange(struct exec_ctx *ctx)
{
    long long start, stop;
    if (!int_arg(ctx, ctx->argv[2], &start) || !int_arg(ctx, ctx->argv[3], &stop))
        return;
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    size_t from, n;
    if (!l || !clamp_range(start, stop, list_len(l), &from, &n)) {
        reply_array(ctx->reply, 0);
        return;
    }
    reply_array(ctx->reply, n);
    list_visit(l, from, n, reply_elem, ctx);
}

/* ---- LINSERT LSET LREM LTRIM ------------------------------------------ */

void cmd_linsert(struct exec_ctx *ctx)
{
    bool after;
    struct slice w = ctx->argv[2];
    if (w.len == 6 && strncasecmp(w.ptr, "before", 6) == 0)
        after = false;
    else if (w.len == 5 && strncasecmp(w.ptr, "after", 5) == 0)
        after = true;
    else {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    if (!l) {
        reply_int(ctx->reply, 0);
        return;
    }
    struct list_iter it;
    struct slice v, pivot = ctx->argv[3];
    list_iter_at(l, 0, &it);
    size_t at = 0;
    bool found = false;
    while (list_iter_next(&it, &v)) {
        if (v.len == pivot.len && (v.len == 0 || memcmp(v.ptr, pivot.ptr, v.len) == 0)) {
            found = true;
            break;
        }
        at++;
    }
    if (!found) {
        reply_int(ctx->reply, -1);
        return;
    }
    struct list_limits lim = list_limits_of(ctx);
    list_insert(ctx->store, &l, after ? at + 1 : at, ctx->argv[4], &lim);
    long long len = (long long)list_len(l);
    list_written(ctx, ctx->argv[1], e, l);
    reply_int(ctx->reply, len);
}

void cmd_lset(struct exec_ctx *ctx)
{
    long long index;
    if (!int_arg(ctx, ctx->argv[2], &index))
        return;
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    if (!l) {
        reply_error(ctx->reply, ERR_NO_KEY);
        return;
    }
    long long len = (long long)list_len(l);
    if (index < 0)
        index += len;
    if (index < 0 || index >= len) {
        reply_error(ctx->reply, "ERR index out of range");
        return;
    }
    struct list_limits lim = list_limits_of(ctx);
    list_replace(ctx->store, &l, (size_t)index, ctx->argv[3], &lim);
    list_written(ctx, ctx->argv[1], e, l);
    reply_ok(ctx->reply);
}

void cmd_lrem(struct exec_ctx *ctx)
{
    long long count;
    if (!int_arg(ctx, ctx->argv[2], &count))
        return;
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    if (!l) {
        reply_int(ctx->reply, 0);
        return;
    }
    size_t removed = list_remove(ctx->store, &l, ctx->argv[3], count);
    if (removed)
        list_written(ctx, ctx->argv[1], e, l);
    reply_int(ctx->reply, (long long)removed);
}

void cmd_ltrim(struct exec_ctx *ctx)
{
    long long start, stop;
    if (!int_arg(ctx, ctx->argv[2], &start) || !int_arg(ctx, ctx->argv[3], &stop))
        return;
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    if (!l) {
        reply_ok(ctx->reply);
        return;
    }
    size_t len = list_len(l), from, n;
    if (!clamp_range(start, stop, len, &from, &n)) {
        from = 0;
        n = 0;
    }
    if (n == len) {
        reply_ok(ctx->reply); /* nothing to trim */
        return;
    }
    list_delete_range(ctx->store, &l, from + n, len - from - n);
    list_delete_range(ctx->store, &l, 0, from);
    list_written(ctx, ctx->argv[1], e, l);
    reply_ok(ctx->reply);
}

/* ---- LPOS ------------------------------------------------------------- */

void cmd_lpos(struct exec_ctx *ctx)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int i = 3; i < ctx->argc; i++) {
        struct slice o = ctx->argv[i];
        bool more = i + 1 < ctx->argc;
        if (more && o.len == 4 && strncasecmp(o.ptr, "rank", 4) == 0) {
            if (!int_arg(ctx, ctx->argv[++i], &rank))
                return;
            if (rank == 0) {
                reply_error(ctx->reply, "ERR RANK can't be zero: use 1 to start from the first match, "
                                        "2 from the second ... or use negative to start from the end of the list");
                return;
            }
            if (rank == LLONG_MIN) {
                reply_error(ctx->reply, "ERR value is out of range");
                return;
            }
        } else if (more && o.len == 5 && strncasecmp(o.ptr, "count", 5) == 0) {
            if (!int_arg(ctx, ctx->argv[++i], &count))
                return;
            if (count < 0) {
                reply_error(ctx->reply, "ERR COUNT can't be negative");
                return;
            }
        } else if (more && o.len == 6 && strncasecmp(o.ptr, "maxlen", 6) == 0) {
            if (!int_arg(ctx, ctx->argv[++i], &maxlen))
                return;
            if (maxlen < 0) {
                reply_error(ctx->reply, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    if (!l) {
        if (count >= 0)
            reply_array(ctx->reply, 0);
        else
            reply_null(ctx->reply);
        return;
    }
    struct slice want = ctx->argv[2], v;
    bool forward = rank > 0;
    unsigned long long skip = (unsigned long long)(forward ? rank : -rank) - 1;
    size_t len = list_len(l);
    struct list_iter it;
    list_iter_at(l, forward ? 0 : len - 1, &it);
    struct buf found;
    buf_init(&found);
    size_t nfound = 0, seen = 0;
    unsigned long long limit = count == 0 ? ULLONG_MAX : (count < 0 ? 1 : (unsigned long long)count);
    for (;;) {
        if (maxlen && seen >= (size_t)maxlen)
            break;
        size_t at = it.index;
        if (!(forward ? list_iter_next(&it, &v) : list_iter_prev(&it, &v)))
            break;
        seen++;
        if (v.len != want.len || (v.len && memcmp(v.ptr, want.ptr, v.len) != 0))
            continue;
        if (skip) {
            skip--;
            continue;
        }
        long long pos = (long long)at;
        buf_append(&found, &pos, sizeof pos);
        if (++nfound >= limit)
            break;
    }
    if (count < 0) {
        if (nfound) {
            long long pos;
            memcpy(&pos, found.data, sizeof pos);
            reply_int(ctx->reply, pos);
        } else {
            reply_null(ctx->reply);
        }
    } else {
        reply_array(ctx->reply, nfound);
        for (size_t i = 0; i < nfound; i++) {
            long long pos;
            memcpy(&pos, found.data + i * sizeof pos, sizeof pos);
            reply_int(ctx->reply, pos);
        }
    }
    buf_free(&found);
}

/* ---- LMOVE RPOPLPUSH -------------------------------------------------- */

/* Journal "LPOP|RPOP key [count]" (what a pop did, as Redis propagates). */
static void journal_pop(struct exec_ctx *ctx, struct slice key, bool head, size_t count, bool with_count)
{
    if (!ctx->journal_as)
        return;
    char num[24];
    int nl = snprintf(num, sizeof num, "%zu", count);
    struct slice argv[] = { head ? SLICE_LIT("LPOP") : SLICE_LIT("RPOP"), key, { num, (size_t)nl } };
    ctx->journal_as(ctx, with_count ? 3 : 2, argv);
}

/* Move the element at src's from end to dst's to end; the reply is the
 * element, or a null when src is missing. Shared with the blocking forms. */
static bool list_move(struct exec_ctx *ctx, struct slice src, struct slice dst, bool from_head, bool to_head)
{
    struct entry *es, *ed;
    struct list *ls, *ld;
    if (!find_list(ctx, src, &es, &ls))
        return true;
    if (!ls) {
        reply_null(ctx->reply);
        return false;
    }
    if (!find_list(ctx, dst, &ed, &ld))
        return true;
    struct list_limits lim = list_limits_of(ctx);
    struct slice v = list_peek(ls, from_head);
    /* the element is replied (copied) before the pop frees it */
    reply_bulk(ctx->reply, v.ptr, v.len);
    /* copied once more for the push (the pop may free its node) */
    char *copy = mi_malloc(v.len ? v.len : 1);
    if (!copy)
        abort();
    memcpy(copy, v.ptr, v.len);
    struct slice moved = { copy, v.len };
    bool same_key = ls == ld;
    list_pop(ctx->store, &ls, from_head);
    if (same_key)
        ld = ls; /* the pop may have moved it */
    else if (!ld)
        ld = list_create(ctx->store);
    list_push(ctx->store, &ld, to_head, moved, &lim);
    if (same_key) {
        list_written(ctx, src, es, ld);
    } else {
        /* dst first: es stays valid across the store call that creates dst */
        list_written(ctx, dst, ed, ld);
        es = store_peek(ctx->store, src, ctx->now_ms);
        list_written(ctx, src, es, ls);
    }
    if (ctx->journal_as && same_key) {
        /* a rotation, as itself: a pop and a push would empty a list of one
         * element on the way, and the key would lose its expiry there */
        struct slice rot[] = { SLICE_LIT("LMOVE"), src, src, from_head ? SLICE_LIT("LEFT") : SLICE_LIT("RIGHT"),
                               to_head ? SLICE_LIT("LEFT") : SLICE_LIT("RIGHT") };
        ctx->journal_as(ctx, 5, rot);
    } else if (ctx->journal_as) {
        journal_pop(ctx, src, from_head, 1, false);
        struct slice push[] = { to_head ? SLICE_LIT("LPUSH") : SLICE_LIT("RPUSH"), dst, moved };
        ctx->journal_as(ctx, 3, push);
    }
    mi_free(copy);
    return true;
}

void cmd_lmove(struct exec_ctx *ctx)
{
    bool from_head, to_head;
    if (!list_parse_end(ctx->argv[3], &from_head) || !list_parse_end(ctx->argv[4], &to_head)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    list_move(ctx, ctx->argv[1], ctx->argv[2], from_head, to_head);
}

void cmd_rpoplpush(struct exec_ctx *ctx)
{
    list_move(ctx, ctx->argv[1], ctx->argv[2], false, true);
}

/* ---- LMPOP ------------------------------------------------------------ */

static bool list_mpop_parse(struct exec_ctx *ctx, int numkeys_at, long long *numkeys, bool *head, long long *count)
{
    long long nk;
    if (!parse_ll(ctx->argv[numkeys_at], &nk) || nk <= 0) {
        reply_error(ctx->reply, "ERR numkeys should be greater than 0");
        return false;
    }
    long long where_at = numkeys_at + nk + 1;
    if (where_at >= ctx->argc) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return false;
    }
    if (!list_parse_end(ctx->argv[where_at], head)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return false;
    }
    *count = -1;
    for (long long j = where_at + 1; j < ctx->argc; j++) {
        struct slice o = ctx->argv[j];
        if (*count == -1 && o.len == 5 && strncasecmp(o.ptr, "count", 5) == 0 && j + 1 < ctx->argc) {
            j++;
            if (!parse_ll(ctx->argv[j], count) || *count <= 0) {
                reply_error(ctx->reply, "ERR count should be greater than 0");
                return false;
            }
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return false;
        }
    }
    if (*count == -1)
        *count = 1;
    *numkeys = nk;
    return true;
}

static int list_mpop_keys(struct exec_ctx *ctx, const struct slice *keys, int nkeys, bool head, long long count)
{
    for (int i = 0; i < nkeys; i++) {
        struct entry *e;
        struct list *l;
        if (!find_list(ctx, keys[i], &e, &l)) {
            blocking_take(ctx->shard, ctx->msg); /* the error ends the other parts' wait */
            return -1;
        }
        if (!l)
            continue;
        if (!blocking_take(ctx->shard, ctx->msg)) {
            reply_null_array(ctx->reply); /* another part (shard) was served */
            return -1;
        }
        size_t n = (size_t)count < list_len(l) ? (size_t)count : list_len(l);
        reply_array(ctx->reply, 2);
        reply_bulk(ctx->reply, keys[i].ptr, keys[i].len);
        journal_pop(ctx, keys[i], head, n, true);
        pop_into_reply(ctx, keys[i], e, l, head, (long long)n, true);
        return 1;
    }
    return 0;
}

void cmd_lmpop(struct exec_ctx *ctx)
{
    long long numkeys, count;
    bool head;
    if (!list_mpop_parse(ctx, 1, &numkeys, &head, &count))
        return;
    if (list_mpop_keys(ctx, ctx->argv + 2, (int)numkeys, head, count) == 0)
        reply_null_array(ctx->reply);
}

/* ---- BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP ------------------------------
 * Each first acts as its non-blocking form; when no key it names has
 * elements it waits (shards/blocking.h) and is served later by a serve
 * function that runs that form here as a command of its own (journaled as
 * LPOP/RPOP/LMOVE/LMPOP's effects) and leaves the command that would give
 * the elements back to a client that turned out to be gone. */

static bool is_name(struct slice s, const char *name)
{
    size_t n = strlen(name);
    return s.len == n && strncasecmp(s.ptr, name, n) == 0;
}

/* The list at key on the shard's store, if it has elements. */
static struct list *ready_list(struct shard *sh, struct slice key)
{
    struct entry *e = store_peek(sh->store, key, shard_now_ms(sh));
    if (!e || entry_type(e) != TYPE_LIST || list_len(entry_object(e)) == 0)
        return NULL;
    return entry_object(e);
}

static struct slice copy_slice(struct buf *b, struct slice v)
{
    size_t at = b->len;
    buf_append(b, v.ptr, v.len);
    return (struct slice){ b->data + at, v.len };
}

/* BLPOP / BRPOP served from key: [key, element]. */
static bool serve_pop(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out)
{
    struct list *l = ready_list(sh, key);
    if (!l)
        return false;
    bool head = is_name(m->argv[0], "blpop");
    if (!blocking_take(sh, m)) { /* another part (shard) was served */
        struct reply r = { out, m->proto };
        reply_null_array(&r);
        return true;
    }
    struct buf keep;
    buf_init(&keep);
    buf_reserve(&keep, list_peek(l, head).len + 1);
    struct slice v = copy_slice(&keep, list_peek(l, head));
    struct reply r = { out, m->proto };
    reply_array(&r, 2);
    reply_bulk(&r, key.ptr, key.len);
    struct slice pop[] = { head ? SLICE_LIT("LPOP") : SLICE_LIT("RPOP"), key };
    blocking_run(sh, 2, pop, out, m->proto);
    struct slice undo[] = { head ? SLICE_LIT("LPUSH") : SLICE_LIT("RPUSH"), key, v };
    blocking_undo(m, 3, undo);
    buf_free(&keep);
    return true;
}

static void bpop_generic(struct exec_ctx *ctx, bool head)
{
    int64_t deadline;
    if (!collection_timeout(ctx, ctx->argv[ctx->argc - 1], &deadline))
        return;
    for (int i = 1; i < ctx->argc - 1; i++) {
        struct entry *e;
        struct list *l;
        if (!find_list(ctx, ctx->argv[i], &e, &l)) {
            blocking_take(ctx->shard, ctx->msg); /* the error ends the other parts' wait */
            return;
        }
        if (!l)
            continue;
        if (!blocking_take(ctx->shard, ctx->msg)) {
            reply_null_array(ctx->reply); /* another part (shard) was served */
            return;
        }
        reply_array(ctx->reply, 2);
        reply_bulk(ctx->reply, ctx->argv[i].ptr, ctx->argv[i].len);
        journal_pop(ctx, ctx->argv[i], head, 1, false);
        pop_into_reply(ctx, ctx->argv[i], e, l, head, 1, false);
        return;
    }
    if (!blocking_wait(ctx, ctx->argv + 1, ctx->argc - 2, deadline, serve_pop, BLOCKING_NULL_ARRAY))
        reply_null_array(ctx->reply);
}

void cmd_blpop(struct exec_ctx *ctx) { bpop_generic(ctx, true); }
void cmd_brpop(struct exec_ctx *ctx) { bpop_generic(ctx, false); }

/* BLMOVE src dst from to timeout / BRPOPLPUSH src dst timeout. */
static bool serve_move(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out)
{
    struct list *l = ready_list(sh, key);
    if (!l)
        return false;
    bool from_head = false, to_head = true;
    if (m->argc == 6) {
        list_parse_end(m->argv[3], &from_head);
        list_parse_end(m->argv[4], &to_head);
    }
    struct slice src = m->argv[1], dst = m->argv[2];
    size_t start = out->len;
    struct slice mv[] = { SLICE_LIT("LMOVE"), src, dst, from_head ? SLICE_LIT("LEFT") : SLICE_LIT("RIGHT"),
                          to_head ? SLICE_LIT("LEFT") : SLICE_LIT("RIGHT") };
    blocking_run(sh, 5, mv, out, m->proto);
    if (out->len > start && out->data[start] != '-') {
        struct slice back[] = { SLICE_LIT("LMOVE"), dst, src, mv[4], mv[3] };
        blocking_undo(m, 5, back);
    }
    return true;
}

static void bmove_generic(struct exec_ctx *ctx, bool from_head, bool to_head, struct slice timeout)
{
    int64_t deadline;
    if (!collection_timeout(ctx, timeout, &deadline))
        return;
    struct entry *e;
    struct list *l;
    if (!find_list(ctx, ctx->argv[1], &e, &l))
        return;
    if (l) {
        list_move(ctx, ctx->argv[1], ctx->argv[2], from_head, to_head);
        return;
    }
    if (!blocking_wait(ctx, ctx->argv + 1, 1, deadline, serve_move, BLOCKING_NULL_BULK))
        reply_null(ctx->reply);
}

void cmd_blmove(struct exec_ctx *ctx)
{
    bool from_head, to_head;
    if (!list_parse_end(ctx->argv[3], &from_head) || !list_parse_end(ctx->argv[4], &to_head)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    bmove_generic(ctx, from_head, to_head, ctx->argv[5]);
}

void cmd_brpoplpush(struct exec_ctx *ctx) { bmove_generic(ctx, false, true, ctx->argv[3]); }

/* BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n], served from key. */
static bool serve_mpop(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out)
{
    struct list *l = ready_list(sh, key);
    if (!l)
        return false;
    if (!blocking_take(sh, m)) { /* another part (shard) was served */
        struct reply r = { out, m->proto };
        reply_null_array(&r);
        return true;
    }
    long long nk, count = 1;
    parse_ll(m->argv[2], &nk);
    bool head = true;
    list_parse_end(m->argv[3 + nk], &head);
    if (m->argc > 4 + nk + 1)
        parse_ll(m->argv[5 + nk], &count);
    size_t n = (size_t)count < list_len(l) ? (size_t)count : list_len(l);
    /* the elements it takes, for the undo: pushed back in reverse order */
    struct buf keep;
    buf_init(&keep);
    struct slice *undo = mi_malloc((n + 2) * sizeof *undo);
    if (!undo)
        abort();
    undo[0] = head ? SLICE_LIT("LPUSH") : SLICE_LIT("RPUSH");
    undo[1] = key;
    size_t total = 0;
    struct list_iter it;
    struct slice v;
    list_iter_at(l, head ? 0 : list_len(l) - 1, &it);
    for (size_t i = 0; i < n && (head ? list_iter_next(&it, &v) : list_iter_prev(&it, &v)); i++)
        total += v.len;
    buf_reserve(&keep, total + 1); /* no reallocation below: the slices stay */
    list_iter_at(l, head ? 0 : list_len(l) - 1, &it);
    for (size_t i = 0; i < n && (head ? list_iter_next(&it, &v) : list_iter_prev(&it, &v)); i++)
        undo[2 + n - 1 - i] = copy_slice(&keep, v);
    char num[24];
    int nl = snprintf(num, sizeof num, "%zu", n);
    struct slice mp[] = { SLICE_LIT("LMPOP"), SLICE_LIT("1"), key, head ? SLICE_LIT("LEFT") : SLICE_LIT("RIGHT"),
                          SLICE_LIT("COUNT"), { num, (size_t)nl } };
    blocking_run(sh, 6, mp, out, m->proto);
    blocking_undo(m, (int)n + 2, undo);
    mi_free(undo);
    buf_free(&keep);
    return true;
}

void cmd_blmpop(struct exec_ctx *ctx)
{
    int64_t deadline;
    if (!collection_timeout(ctx, ctx->argv[1], &deadline))
        return;
    long long numkeys, count;
    bool head;
    if (!list_mpop_parse(ctx, 2, &numkeys, &head, &count))
        return;
    int r = list_mpop_keys(ctx, ctx->argv + 3, (int)numkeys, head, count);
    if (r != 0)
        return;
    if (!blocking_wait(ctx, ctx->argv + 3, (int)numkeys, deadline, serve_mpop, BLOCKING_NULL_ARRAY))
        reply_null_array(ctx->reply);
}
