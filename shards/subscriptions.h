/* subscriptions: a session's pub/sub channels and patterns, the shard's list
 * of the sessions that have any, and the pushing of messages to them.
 *
 * The runtime reads it (a RESP2 connection in subscribe mode, CLIENT LIST's
 * counts, a closing connection, the tick's check of output limits); the
 * pub/sub commands (shards/commands/pubsub.c) change it and deliver through
 * it. A message is a push: it goes behind the replies its subscriber still
 * waits for (session_push_target), never ahead of them. A subscriber that
 * does not read is dropped, as in Redis, once its pending output passes the
 * pubsub class's hard limit or stays over its soft limit longer than the
 * soft seconds (client-output-buffer-limit pubsub 32mb 8mb 60). */
#ifndef RINGKV_SUBSCRIPTIONS_H
#define RINGKV_SUBSCRIPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

struct shard;
struct session;

/* A session's channels, patterns and shard channels (SSUBSCRIBE): small
 * sets, a linear search is fine. */
struct pubsub {
    struct buf *channels;
    size_t      nchannels;
    struct buf *patterns;
    size_t      npatterns;
    struct buf *shard_channels;
    size_t      nshard_channels;
};

#define MAX_SUBSCRIPTIONS 65536 /* per connection, of each kind */

enum pubsub_set { PUBSUB_CHANNELS, PUBSUB_PATTERNS, PUBSUB_SHARD_CHANNELS };

struct reply;
/* The reply to one (un)subscription: [kind, name (NULL: a null), count],
 * a push in RESP3. */
void pubsub_confirm(struct reply *r, const char *kind, const char *name, size_t len, size_t count);

/* The count a (P)SUBSCRIBE confirmation carries: channels and patterns
 * (shard channels are counted apart, as Redis counts them). */
static inline size_t pubsub_count(const struct pubsub *ps)
{
    return ps ? ps->nchannels + ps->npatterns : 0;
}

/* The count an SSUBSCRIBE confirmation carries. */
static inline size_t pubsub_shard_count(const struct pubsub *ps)
{
    return ps ? ps->nshard_channels : 0;
}

/* Index of s in set[0..n), or -1. */
long pubsub_find(const struct buf *set, size_t n, struct slice s);
/* The session's subscriptions, made (and the session listed as a
 * subscriber of the shard) on first use. */
struct pubsub *pubsub_of(struct shard *sh, struct session *s);
/* Does the session have a subscription of any kind; how many channels,
 * patterns and shard channels. */
bool pubsub_subscribed(const struct session *s);
void pubsub_counts(const struct session *s, size_t *channels, size_t *patterns, size_t *shard_channels);
/* Forget the session's subscriptions (connection closed, RESET, none left). */
void pubsub_session_end(struct shard *sh, struct session *s);

/* Push a message (pattern NULL: matched by name) to s. */
void pubsub_push(struct session *s, const struct buf *pattern, struct slice channel,
                 struct slice message);
/* Deliver a message published on channel to this shard's subscribers of
 * it, by name and by pattern; how many got it (PUBLISH, keyspace
 * notifications). */
long long pubsub_publish(struct shard *sh, struct slice channel, struct slice message, int64_t now_ms);
/* Deliver a message published on a shard channel (SPUBLISH) to this
 * shard's subscribers of it, as "smessage"; how many got it. */
long long pubsub_publish_shard(struct shard *sh, struct slice channel, struct slice message, int64_t now_ms);
/* Cluster mode: end this shard's subscriptions to shard channels whose slot
 * keep_slot says is no longer this node's to serve, each with the
 * "sunsubscribe" push Redis sends so that a client subscribes again where
 * the slot went. */
void pubsub_drop_shard_channels(struct shard *sh, bool (*keep_slot)(void *arg, unsigned slot), void *arg);
/* Drop s (close its connection, with Redis's log line) if it is over its
 * output limits now; true if it was. */
bool pubsub_drop_if_over(struct shard *sh, struct session *s, int64_t now_ms);
/* Every tick: drop the subscribers over their output limits, and publish
 * how many distinct channels, patterns and shard channels this shard's
 * sessions have (stats.h: INFO pubsub_channels, pubsub_patterns,
 * pubsubshard_channels). */
void pubsub_check_output(struct shard *sh, int64_t now_ms);

#endif
