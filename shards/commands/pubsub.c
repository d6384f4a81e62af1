/* pubsub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB,
 * and sharded pub/sub: SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH.
 *
 * A subscription belongs to its connection's session, and each shard keeps
 * the list of its sessions that have any. PUBLISH runs on every shard
 * (CMD_ALL_SHARDS): each delivers to its own subscribers, straight into their
 * output, and answers how many it reached; merge_sum_int adds them up. So a
 * publisher never waits on subscribers, and no shard touches another's
 * connections. Messages reach subscribers on one shard in the order they
 * were published from one connection.
 *
 * Shard channels (Redis 7's sharded pub/sub) are a third set beside channels
 * and patterns: delivered by SPUBLISH only, as "smessage", counted apart in
 * confirmations. Standalone they behave as channels do; in cluster mode a
 * shard channel is a key to the key gate, so SSUBSCRIBE and SPUBLISH reach
 * the master serving the channel's slot (-MOVED elsewhere, -CROSSSLOT for
 * channels of several slots), and a subscriber whose slot leaves the node
 * is unsubscribed with a push (pubsub_drop_shard_channels). PUBLISH and
 * SPUBLISH reach replicas through the replication stream (their rows'
 * JOURNAL_ALWAYS), so a READONLY connection may subscribe on a replica of
 * the slot's group; SPUBLISH itself goes to the master.
 *
 * The subscriptions themselves, the pushing of messages and subscribers'
 * output limits are the runtime's (shards/subscriptions.h), which closing
 * connections, CLIENT LIST and the tick also use. */
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "core/resp.h"
#include "core/glob.h"
#include "shards/commands/commands.h"
#include "shards/commands/server.h"
#include "shards/node.h"
#include "shards/session.h"
#include "shards/subscriptions.h"
#include "shards/shard.h"

static struct session *caller(struct exec_ctx *ctx)
{
    return ctx->client ? session_of_client(ctx->client) : NULL;
}

/* Each kind of subscription: its set in the session, the words of its
 * confirmations, and the count they carry (a shard channel's is apart). */
static struct buf **set_in(struct pubsub *ps, enum pubsub_set which, size_t **n)
{
    switch (which) {
    case PUBSUB_PATTERNS: *n = &ps->npatterns; return &ps->patterns;
    case PUBSUB_SHARD_CHANNELS: *n = &ps->nshard_channels; return &ps->shard_channels;
    default: *n = &ps->nchannels; return &ps->channels;
    }
}

static const char *const subscribe_word[] = { "subscribe", "psubscribe", "ssubscribe" };
static const char *const unsubscribe_word[] = { "unsubscribe", "punsubscribe", "sunsubscribe" };

static size_t confirmed_count(const struct pubsub *ps, enum pubsub_set which)
{
    return which == PUBSUB_SHARD_CHANNELS ? pubsub_shard_count(ps) : pubsub_count(ps);
}

static void subscribe(struct exec_ctx *ctx, enum pubsub_set which)
{
    struct session *s = caller(ctx);
    if (!s) {
        reply_error(ctx->reply, "ERR SUBSCRIBE needs a client connection");
        return;
    }
    struct pubsub *ps = pubsub_of(ctx->shard, s);
    size_t *n;
    struct buf **set = set_in(ps, which, &n);
    for (int i = 1; i < ctx->argc; i++) {
        struct slice name = ctx->argv[i];
        if (pubsub_find(*set, *n, name) < 0 && *n < MAX_SUBSCRIPTIONS) {
            *set = mi_realloc(*set, sizeof(struct buf) * (*n + 1));
            buf_init(&(*set)[*n]);
            buf_append(&(*set)[*n], name.ptr, name.len);
            (*n)++;
        }
        pubsub_confirm(ctx->reply, subscribe_word[which], name.ptr, name.len, confirmed_count(ps, which));
    }
}

static void unsubscribe(struct exec_ctx *ctx, enum pubsub_set which)
{
    struct session *s = caller(ctx);
    const char *kind = unsubscribe_word[which];
    struct pubsub *ps = s ? s->pubsub : NULL;
    size_t *n = NULL;
    struct buf *set = NULL;
    if (ps)
        set = *set_in(ps, which, &n);
    if (ctx->argc == 1) {
        /* every one, or a single confirmation with no name when there is none */
        if (!n || *n == 0) {
            pubsub_confirm(ctx->reply, kind, NULL, 0, confirmed_count(ps, which));
        } else {
            while (*n > 0) {
                struct buf b = set[*n - 1];
                (*n)--;
                pubsub_confirm(ctx->reply, kind, b.data, b.len, confirmed_count(ps, which));
                buf_free(&b);
            }
        }
    } else {
        for (int i = 1; i < ctx->argc; i++) {
            long at = n ? pubsub_find(set, *n, ctx->argv[i]) : -1;
            if (at >= 0) {
                buf_free(&set[at]);
                set[at] = set[*n - 1];
                (*n)--;
            }
            pubsub_confirm(ctx->reply, kind, ctx->argv[i].ptr, ctx->argv[i].len, confirmed_count(ps, which));
        }
    }
    if (s && ps && !pubsub_subscribed(s))
        pubsub_session_end(ctx->shard, s);
}

void cmd_subscribe(struct exec_ctx *ctx) { subscribe(ctx, PUBSUB_CHANNELS); }
void cmd_psubscribe(struct exec_ctx *ctx) { subscribe(ctx, PUBSUB_PATTERNS); }
void cmd_ssubscribe(struct exec_ctx *ctx) { subscribe(ctx, PUBSUB_SHARD_CHANNELS); }
void cmd_unsubscribe(struct exec_ctx *ctx) { unsubscribe(ctx, PUBSUB_CHANNELS); }
void cmd_punsubscribe(struct exec_ctx *ctx) { unsubscribe(ctx, PUBSUB_PATTERNS); }
void cmd_sunsubscribe(struct exec_ctx *ctx) { unsubscribe(ctx, PUBSUB_SHARD_CHANNELS); }

/* PUBLISH channel message, on this shard's subscribers; in a cluster, a
 * client's (not a replication stream's or an AOF's) goes on to the other
 * groups from shard 0's part. */
void cmd_publish(struct exec_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    reply_int(ctx->reply, sh ? pubsub_publish(sh, ctx->argv[1], ctx->argv[2], ctx->now_ms) : 0);
    if (sh && sh->id == 0 && sh->node->publish_elsewhere && (ctx->client || ctx->msg))
        sh->node->publish_elsewhere(sh, ctx->argv[1], ctx->argv[2]);
}

/* SPUBLISH shardchannel message, on this shard's subscribers of the shard
 * channel (the cluster's key gate sent it to the node serving its slot). */
void cmd_spublish(struct exec_ctx *ctx)
{
    reply_int(ctx->reply,
              ctx->shard ? pubsub_publish_shard(ctx->shard, ctx->argv[1], ctx->argv[2], ctx->now_ms) : 0);
}

/* ---- PUBSUB CHANNELS / NUMSUB / NUMPAT ---------------------------------- */

/* The distinct names in one of the shard's sets, filtered by pattern. */
static void collect(struct shard *sh, enum pubsub_set which, const struct slice *filter, struct buf **names,
                    size_t *n)
{
    for (int i = 0; sh && i < sh->nsubscribers; i++) {
        struct pubsub *ps = sh->subscribers[i]->pubsub;
        if (!ps)
            continue;
        size_t *countp;
        struct buf *set = *set_in(ps, which, &countp);
        size_t count = *countp;
        for (size_t k = 0; k < count; k++) {
            struct slice name = { set[k].data, set[k].len };
            if (filter && !glob_match(filter->ptr, filter->len, name.ptr, name.len, false))
                continue;
            if (pubsub_find(*names, *n, name) >= 0)
                continue;
            *names = mi_realloc(*names, sizeof(struct buf) * (*n + 1));
            buf_init(&(*names)[*n]);
            buf_append(&(*names)[*n], name.ptr, name.len);
            (*n)++;
        }
    }
}

static void free_names(struct buf *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_free(&names[i]);
    mi_free(names);
}

static void reply_channels(struct exec_ctx *ctx, enum pubsub_set which)
{
    struct buf *names = NULL;
    size_t n = 0;
    collect(ctx->shard, which, ctx->argc > 2 ? &ctx->argv[2] : NULL, &names, &n);
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_bulk(ctx->reply, names[i].data, names[i].len);
    free_names(names, n);
}

void cmd_pubsub_channels(struct exec_ctx *ctx) { reply_channels(ctx, PUBSUB_CHANNELS); }
void cmd_pubsub_shardchannels(struct exec_ctx *ctx) { reply_channels(ctx, PUBSUB_SHARD_CHANNELS); }

/* Each shard: one bulk per distinct pattern (merged and counted by the merge). */
void cmd_pubsub_numpat(struct exec_ctx *ctx)
{
    struct buf *names = NULL;
    size_t n = 0;
    collect(ctx->shard, PUBSUB_PATTERNS, NULL, &names, &n);
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_bulk(ctx->reply, names[i].data, names[i].len);
    free_names(names, n);
}

static void reply_numsub(struct exec_ctx *ctx, enum pubsub_set which)
{
    struct shard *sh = ctx->shard;
    reply_array(ctx->reply, (size_t)(ctx->argc - 2) * 2);
    for (int a = 2; a < ctx->argc; a++) {
        long long count = 0;
        for (int i = 0; sh && i < sh->nsubscribers; i++) {
            struct pubsub *ps = sh->subscribers[i]->pubsub;
            if (!ps)
                continue;
            size_t *k;
            const struct buf *set = *set_in(ps, which, &k); /* before *k is read */
            if (pubsub_find(set, *k, ctx->argv[a]) >= 0)
                count++;
        }
        reply_bulk(ctx->reply, ctx->argv[a].ptr, ctx->argv[a].len);
        reply_int(ctx->reply, count);
    }
}

void cmd_pubsub_numsub(struct exec_ctx *ctx) { reply_numsub(ctx, PUBSUB_CHANNELS); }
void cmd_pubsub_shardnumsub(struct exec_ctx *ctx) { reply_numsub(ctx, PUBSUB_SHARD_CHANNELS); }

/* Walk the elements of an array part: calls fn for each element's bytes. */
typedef void element_fn(void *arg, size_t index, const char *p, size_t len);
static bool each_element(const struct buf *part, element_fn *fn, void *arg)
{
    struct resp_reader rd;
    long long count;
    resp_reader_init(&rd, part->data, part->len);
    if (resp_peek(&rd) != '*' || !resp_read_aggregate(&rd, &count))
        return false;
    for (long long i = 0; i < count; i++) {
        struct slice v;
        if (!resp_read_value(&rd, &v))
            return false;
        fn(arg, (size_t)i, v.ptr, v.len);
    }
    return true;
}

struct distinct { struct buf *names; size_t n; };

static void add_distinct(void *arg, size_t index, const char *p, size_t len)
{
    struct distinct *d = arg;
    struct slice s = { p, len }; /* the encoded bulk: equal names encode equally */
    if (pubsub_find(d->names, d->n, s) >= 0)
        return;
    d->names = mi_realloc(d->names, sizeof(struct buf) * (d->n + 1));
    buf_init(&d->names[d->n]);
    buf_append(&d->names[d->n], p, len);
    d->n++;
}

/* PUBSUB CHANNELS: the distinct names over every shard. */
void merge_pubsub_channels(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    struct distinct d = { NULL, 0 };
    for (int i = 0; i < in->nparts; i++)
        each_element(&in->parts[i], add_distinct, &d);
    reply_array(out, d.n);
    for (size_t i = 0; i < d.n; i++)
        buf_append(out->out, d.names[i].data, d.names[i].len);
    free_names(d.names, d.n);
}

/* PUBSUB NUMPAT: how many distinct patterns over every shard. */
void merge_pubsub_numpat(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    struct distinct d = { NULL, 0 };
    for (int i = 0; i < in->nparts; i++)
        each_element(&in->parts[i], add_distinct, &d);
    reply_int(out, (long long)d.n);
    free_names(d.names, d.n);
}

struct numsub { long long *counts; const char **names; size_t *lens; size_t n; };

static void add_numsub(void *arg, size_t index, const char *p, size_t len)
{
    struct numsub *ns = arg;
    size_t pair = index / 2;
    if (pair >= ns->n)
        return;
    if (index % 2 == 0) {
        ns->names[pair] = p;
        ns->lens[pair] = len;
    } else {
        struct resp_reader rd;
        long long v;
        resp_reader_init(&rd, p, len);
        if (resp_read_int(&rd, &v))
            ns->counts[pair] += v;
    }
}

/* PUBSUB NUMSUB: per channel, the sum over every shard, in argument order. */
void merge_pubsub_numsub(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in) || in->nparts == 0)
        return;
    struct resp_reader first;
    long long count = 0;
    resp_reader_init(&first, in->parts[0].data, in->parts[0].len);
    if (resp_peek(&first) != '*' || !resp_read_aggregate(&first, &count) || count < 0) {
        reply_error(out, "ERR internal error: malformed reply from a shard");
        return;
    }
    struct numsub ns = { mi_calloc((size_t)count / 2 + 1, sizeof(long long)),
                         mi_calloc((size_t)count / 2 + 1, sizeof(char *)),
                         mi_calloc((size_t)count / 2 + 1, sizeof(size_t)), (size_t)count / 2 };
    for (int i = 0; i < in->nparts; i++)
        each_element(&in->parts[i], add_numsub, &ns);
    reply_array(out, ns.n * 2);
    for (size_t i = 0; i < ns.n; i++) {
        buf_append(out->out, ns.names[i], ns.lens[i]);
        reply_int(out, ns.counts[i]);
    }
    mi_free(ns.counts);
    mi_free(ns.names);
    mi_free(ns.lens);
}

void cmd_pubsub_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}
