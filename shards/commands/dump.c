/* cmd_dump: DUMP and RESTORE (and RESTORE-ASKING, the form MIGRATE sends
 * to a cluster node), the values in Redis's DUMP payload format
 * (shards/store/serialize.h), so payloads go both ways between ringkv and
 * redis-server.
 *
 * RESTORE checks in Redis's order and answers Redis's errors: the options,
 * then an existing key (-BUSYKEY, unless REPLACE), then the TTL, then the
 * payload's version and checksum, then its object (-ERR Bad data format
 * for anything we cannot decode, a type we do not have included). A bad
 * payload changes nothing: the value is decoded aside before the key is
 * touched. A collection is built aside too (in the shard's store, not
 * under any key yet), in the encoding HSET/SADD/RPUSH/ZADD would give it
 * under this node's hash-max-listpack-* / set-max-* / list-max-listpack-size
 * / zset-max-listpack-* config; an element given twice refuses the
 * payload. Every type the store has is dumped (serialize.h); were one
 * without a serialization added, DUMP would answer an error, never a
 * broken payload.
 *
 * Replication: the row journals RESTORE by its effects: the store's SET of
 * the value with the absolute expiry (a TTL relative to this node's clock
 * becomes a time), or DEL when a REPLACE meets a TTL already past. So a
 * replica does not decode the payload again and does not read the clock.
 *
 * IDLETIME and FREQ are checked as Redis checks them and set the restored
 * key's access bits (store_entry_set_idle / _freq: IDLETIME under an LRU
 * policy, FREQ under an LFU one, as Redis). */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "shards/commands/commands.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/serialize.h"
#include "shards/store/store.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/numbers.h"
#include "core/reply.h"

#define ERR_BUSYKEY     "BUSYKEY Target key name already exists."
#define ERR_BAD_PAYLOAD "ERR DUMP payload version or checksum are wrong"
#define ERR_BAD_FORMAT  "ERR Bad data format"

/* The thresholds a restored collection is encoded by: HSET's, SADD's,
 * RPUSH's and ZADD's. */
static struct serialize_limits limits_of(const struct exec_ctx *ctx)
{
    struct serialize_limits l = { hash_default_limits, set_default_limits, list_default_limits,
                                  zset_default_limits };
    if (!ctx->shard || !ctx->shard->node)
        return l;
    const struct config *c = &ctx->shard->node->config;
    long long v[7] = { config_load(c, hash_max_listpack_entries), config_load(c, hash_max_listpack_value),
                       config_load(c, set_max_intset_entries),    config_load(c, set_max_listpack_entries),
                       config_load(c, set_max_listpack_value),    config_load(c, zset_max_listpack_entries),
                       config_load(c, zset_max_listpack_value) };
    for (int i = 0; i < 7; i++)
        if (v[i] < 0)
            v[i] = 0;
    l.hash = (struct hash_limits){ (size_t)v[0], (size_t)v[1] };
    l.set = (struct set_limits){ (size_t)v[2], (size_t)v[3], (size_t)v[4] };
    l.zset = (struct zset_limits){ (size_t)v[5], (size_t)v[6] };
    l.list = (struct list_limits){ config_load(c, list_max_listpack_size) };
    return l;
}

/* DUMP key: the payload, or nil for a missing key. */
void cmd_dump(struct exec_ctx *ctx)
{
    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    if (!e) {
        reply_null(ctx->reply);
        return;
    }
    struct buf payload;
    buf_init(&payload);
    if (serialize_dump(e, &payload))
        reply_bulk(ctx->reply, payload.data, payload.len);
    else /* a type without its serialization yet (serialize.h) */
        reply_error(ctx->reply, "ERR DUMP of this type is not supported");
    buf_free(&payload);
}

/* RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency] */
void cmd_restore(struct exec_ctx *ctx)
{
    bool replace = false, absttl = false, idle_given = false, freq_given = false;
    long long idle = 0, freq = 0;
    for (int j = 4; j < ctx->argc; j++) {
        int more = ctx->argc - j - 1;
        struct slice o = ctx->argv[j];
        if (slice_eq_nocase(o, "replace")) {
            replace = true;
        } else if (slice_eq_nocase(o, "absttl")) {
            absttl = true;
        } else if (slice_eq_nocase(o, "idletime") && more >= 1 && !freq_given) {
            if (!parse_ll(ctx->argv[j + 1], &idle)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (idle < 0) {
                reply_error(ctx->reply, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            idle_given = true;
            j++;
        } else if (slice_eq_nocase(o, "freq") && more >= 1 && !idle_given) {
            if (!parse_ll(ctx->argv[j + 1], &freq)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (freq < 0 || freq > 255) {
                reply_error(ctx->reply, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            freq_given = true;
            j++;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    struct slice key = ctx->argv[1];
    if (!replace && store_find(ctx->store, key, ctx->now_ms)) {
        reply_error(ctx->reply, ERR_BUSYKEY);
        return;
    }
    long long ttl;
    if (!parse_ll(ctx->argv[2], &ttl)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (ttl < 0) {
        reply_error(ctx->reply, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    struct slice payload = ctx->argv[3];
    if (!serialize_payload_valid(payload.ptr, payload.len)) {
        reply_error(ctx->reply, ERR_BAD_PAYLOAD);
        return;
    }
    struct decoded_value v;
    struct serialize_limits lim = limits_of(ctx);
    /* a collection is built (aside) before anything else is decided: a
     * payload is refused for an element twice whatever its TTL */
    if (!serialize_decode(payload.ptr, payload.len, &v) || !decoded_value_build(ctx->store, &v, &lim)) {
        reply_error(ctx->reply, ERR_BAD_FORMAT);
        return;
    }
    int64_t expire_at = 0;
    if (ttl > 0) {
        if (!absttl && ttl > LLONG_MAX - ctx->now_ms)
            ttl = LLONG_MAX; /* Redis's sum would wrap; no clock reaches this */
        else if (!absttl)
            ttl += ctx->now_ms;
        expire_at = ttl;
    }
    if (expire_at != 0 && expire_at <= ctx->now_ms) {
        /* already past: the key goes, as it would the moment it came */
        if (replace)
            store_delete(ctx->store, key);
        decoded_value_free(&v);
        reply_ok(ctx->reply);
        return;
    }
    decoded_value_store(ctx->store, key, &v, expire_at);
    if (idle_given || freq_given) {
        struct entry *e = store_peek(ctx->store, key, ctx->now_ms);
        if (e && idle_given)
            store_entry_set_idle(ctx->store, e, idle > LLONG_MAX / 1000 ? LLONG_MAX / 2 : idle * 1000);
        else if (e)
            store_entry_set_freq(ctx->store, e, (unsigned)freq);
    }
    reply_ok(ctx->reply);
}
