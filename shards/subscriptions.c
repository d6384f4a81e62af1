/* subscriptions: a session's pub/sub channels and patterns, the shard's list
 * of the sessions that have any, and the pushing of messages to them under
 * the pubsub class's output limit (see subscriptions.h). */
#include "shards/subscriptions.h"

#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/config.h"
#include "core/glob.h"
#include "core/log.h"
#include "core/output_limits.h"
#include "core/reply.h"
#include "shards/dispatch.h"
#include "shards/node.h"
#include "shards/session.h"
#include "shards/shard.h"
#include "shards/store/slot.h"

long pubsub_find(const struct buf *set, size_t n, struct slice s)
{
    for (size_t i = 0; i < n; i++)
        if (set[i].len == s.len && memcmp(set[i].data, s.ptr, s.len) == 0)
            return (long)i;
    return -1;
}

struct pubsub *pubsub_of(struct shard *sh, struct session *s)
{
    if (!s->pubsub) {
        s->pubsub = mi_zalloc(sizeof(struct pubsub));
        sh->subscribers = mi_realloc(sh->subscribers, sizeof(*sh->subscribers) * (size_t)(sh->nsubscribers + 1));
        sh->subscribers[sh->nsubscribers++] = s;
    }
    return s->pubsub;
}

static void shard_remove_subscriber(struct shard *sh, struct session *s)
{
    for (int i = 0; i < sh->nsubscribers; i++) {
        if (sh->subscribers[i] == s) {
            sh->subscribers[i] = sh->subscribers[--sh->nsubscribers];
            return;
        }
    }
}

/* Free a session's subscriptions and forget it (connection closed, RESET). */
void pubsub_session_end(struct shard *sh, struct session *s)
{
    struct pubsub *ps = s->pubsub;
    if (!ps)
        return;
    for (size_t i = 0; i < ps->nchannels; i++)
        buf_free(&ps->channels[i]);
    for (size_t i = 0; i < ps->npatterns; i++)
        buf_free(&ps->patterns[i]);
    for (size_t i = 0; i < ps->nshard_channels; i++)
        buf_free(&ps->shard_channels[i]);
    mi_free(ps->channels);
    mi_free(ps->patterns);
    mi_free(ps->shard_channels);
    mi_free(ps);
    s->pubsub = NULL;
    shard_remove_subscriber(sh, s);
}

bool pubsub_subscribed(const struct session *s)
{
    return pubsub_count(s->pubsub) + pubsub_shard_count(s->pubsub) > 0;
}

void pubsub_counts(const struct session *s, size_t *channels, size_t *patterns, size_t *shard_channels)
{
    *channels = s->pubsub ? s->pubsub->nchannels : 0;
    *patterns = s->pubsub ? s->pubsub->npatterns : 0;
    *shard_channels = pubsub_shard_count(s->pubsub);
}

/* The pubsub class's limits, parsed again only when CONFIG SET replaced the
 * option's text (per shard thread). */
static const struct output_limit *pubsub_limit(const struct config *cfg)
{
    static _Thread_local const char *parsed;
    static _Thread_local struct output_limit limits[OUTPUT_CLASSES];
    const char *text = config_str(cfg, client_output_buffer_limit);
    if (text != parsed) {
        output_limits_parse(OUTPUT_LIMITS_DEFAULT, limits);
        output_limits_parse(text, limits); /* checked when it was set */
        parsed = text;
    }
    return &limits[OUTPUT_PUBSUB];
}

/* Is s over its output limits now (Redis's checkClientOutputBufferLimits)?
 * The soft limit's clock starts at the first message that finds it over,
 * and stops at one that finds it under. */
static bool over_output_limit(struct session *s, const struct output_limit *lim, int64_t now_ms)
{
    size_t used = session_output_bytes(s);
    if (lim->hard && used >= (size_t)lim->hard)
        return true;
    if (!lim->soft || used < (size_t)lim->soft) {
        s->obuf_soft_since_ms = 0;
        return false;
    }
    if (!s->obuf_soft_since_ms) {
        s->obuf_soft_since_ms = now_ms;
        return false;
    }
    return now_ms - s->obuf_soft_since_ms > lim->soft_seconds * 1000;
}

static void drop_subscriber(struct session *s)
{
    size_t sub, psub, ssub;
    pubsub_counts(s, &sub, &psub, &ssub);
    log_warning("Client id=%llu addr=%s laddr=%s fd=%d name=%s flags=P sub=%zu psub=%zu ssub=%zu omem=%zu "
                "scheduled to be closed ASAP for overcoming of output buffer limits.",
                (unsigned long long)s->client.id, s->client.addr, s->client.laddr, s->client.fd,
                s->client.name, sub, psub, ssub, session_output_bytes(s));
    conn_close(s->conn, false);
}

/* One message pushed: [kind, pattern?, channel, message]. */
static void push_message(struct session *s, const char *kind, const struct buf *pattern, struct slice channel,
                         struct slice message)
{
    struct reply r = { session_push_target(s), s->client.proto };
    int n = pattern ? 4 : 3;
    if (r.proto == 3)
        buf_printf(r.out, ">%d\r\n", n);
    else
        reply_array(&r, (size_t)n);
    reply_bulk_str(&r, kind);
    if (pattern)
        reply_bulk(&r, pattern->data, pattern->len);
    reply_bulk(&r, channel.ptr, channel.len);
    reply_bulk(&r, message.ptr, message.len);
    if (!s->head)
        conn_flush(s->conn); /* else it leaves when the replies before it do */
}

void pubsub_push(struct session *s, const struct buf *pattern, struct slice channel,
                 struct slice message)
{
    push_message(s, pattern ? "pmessage" : "message", pattern, channel, message);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One of a session's three sets. */
static const struct buf *set_of(const struct pubsub *ps, enum pubsub_set which, size_t *n)
{
    switch (which) {
    case PUBSUB_PATTERNS: *n = ps->npatterns; return ps->patterns;
    case PUBSUB_SHARD_CHANNELS: *n = ps->nshard_channels; return ps->shard_channels;
    default: *n = ps->nchannels; return ps->channels;
    }
}

/* Distinct names in one of the sets of every subscriber, by their hashes
 * sorted (a collision of two 64-bit hashes would count one name less). */
static uint64_t count_distinct(struct shard *sh, enum pubsub_set which)
{
    size_t total = 0;
    for (int i = 0; i < sh->nsubscribers; i++) {
        const struct pubsub *ps = sh->subscribers[i]->pubsub;
        size_t k = 0;
        if (ps)
            set_of(ps, which, &k);
        total += k;
    }
    if (total == 0)
        return 0;
    uint64_t *h = mi_malloc(total * sizeof *h);
    if (!h)
        abort();
    size_t n = 0;
    for (int i = 0; i < sh->nsubscribers; i++) {
        const struct pubsub *ps = sh->subscribers[i]->pubsub;
        if (!ps)
            continue;
        size_t k;
        const struct buf *set = set_of(ps, which, &k);
        for (size_t j = 0; j < k; j++)
            h[n++] = XXH3_64bits(set[j].data, set[j].len);
    }
    qsort(h, n, sizeof *h, cmp_u64);
    uint64_t distinct = 0;
    for (size_t j = 0; j < n; j++)
        distinct += j == 0 || h[j] != h[j - 1];
    mi_free(h);
    return distinct;
}

void pubsub_check_output(struct shard *sh, int64_t now_ms)
{
    const struct output_limit *lim = pubsub_limit(&sh->node->config);
    for (int i = 0; i < sh->nsubscribers; i++) {
        struct session *s = sh->subscribers[i];
        if (s->conn && !s->conn->closing && over_output_limit(s, lim, now_ms))
            drop_subscriber(s); /* leaves the list when its connection is freed */
    }
    __atomic_store_n(&sh->stats.pubsub_channels, count_distinct(sh, PUBSUB_CHANNELS), __ATOMIC_RELAXED);
    __atomic_store_n(&sh->stats.pubsub_patterns, count_distinct(sh, PUBSUB_PATTERNS), __ATOMIC_RELAXED);
    __atomic_store_n(&sh->stats.pubsubshard_channels, count_distinct(sh, PUBSUB_SHARD_CHANNELS), __ATOMIC_RELAXED);
}

long long pubsub_publish(struct shard *sh, struct slice channel, struct slice message, int64_t now_ms)
{
    long long reached = 0;
    for (int i = 0; i < sh->nsubscribers; i++) {
        struct session *s = sh->subscribers[i];
        struct pubsub *ps = s->pubsub;
        if (!s->conn || s->conn->closing || !ps)
            continue;
        bool sent = false;
        if (pubsub_find(ps->channels, ps->nchannels, channel) >= 0) {
            pubsub_push(s, NULL, channel, message);
            reached++;
            sent = true;
        }
        for (size_t p = 0; p < ps->npatterns; p++) {
            if (glob_match(ps->patterns[p].data, ps->patterns[p].len, channel.ptr, channel.len, false)) {
                pubsub_push(s, &ps->patterns[p], channel, message);
                reached++;
                sent = true;
            }
        }
        /* counted as delivered, as Redis counts a message to a client it
         * then drops */
        if (sent)
            pubsub_drop_if_over(sh, s, now_ms);
    }
    return reached;
}

long long pubsub_publish_shard(struct shard *sh, struct slice channel, struct slice message, int64_t now_ms)
{
    long long reached = 0;
    for (int i = 0; i < sh->nsubscribers; i++) {
        struct session *s = sh->subscribers[i];
        struct pubsub *ps = s->pubsub;
        if (!s->conn || s->conn->closing || !ps ||
            pubsub_find(ps->shard_channels, ps->nshard_channels, channel) < 0)
            continue;
        push_message(s, "smessage", NULL, channel, message);
        reached++;
        pubsub_drop_if_over(sh, s, now_ms);
    }
    return reached;
}

void pubsub_drop_shard_channels(struct shard *sh, bool (*keep_slot)(void *arg, unsigned slot), void *arg)
{
    for (int i = 0; i < sh->nsubscribers; i++) {
        struct session *s = sh->subscribers[i];
        struct pubsub *ps = s->pubsub;
        if (!ps || !s->conn || s->conn->closing)
            continue;
        for (size_t k = 0; k < ps->nshard_channels;) {
            struct buf *name = &ps->shard_channels[k];
            if (keep_slot(arg, key_slot(name->data, name->len))) {
                k++;
                continue;
            }
            struct buf gone = *name;
            ps->shard_channels[k] = ps->shard_channels[--ps->nshard_channels];
            struct reply r = { session_push_target(s), s->client.proto };
            pubsub_confirm(&r, "sunsubscribe", gone.data, gone.len, ps->nshard_channels);
            buf_free(&gone);
            if (!s->head)
                conn_flush(s->conn);
        }
    }
    /* sessions left with no subscription at all leave the list */
    for (int i = 0; i < sh->nsubscribers;) {
        struct session *s = sh->subscribers[i];
        if (s->pubsub && !pubsub_subscribed(s))
            pubsub_session_end(sh, s); /* moves the last one here */
        else
            i++;
    }
}

/* The reply to one (un)subscription: [kind, name, count], a push in RESP3. */
void pubsub_confirm(struct reply *r, const char *kind, const char *name, size_t len, size_t count)
{
    if (r->proto == 3)
        buf_printf(r->out, ">3\r\n");
    else
        reply_array(r, 3);
    reply_bulk_str(r, kind);
    if (name)
        reply_bulk(r, name, len);
    else
        reply_null(r);
    reply_int(r, (long long)count);
}

bool pubsub_drop_if_over(struct shard *sh, struct session *s, int64_t now_ms)
{
    if (!over_output_limit(s, pubsub_limit(&sh->node->config), now_ms))
        return false;
    drop_subscriber(s);
    return true;
}
