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
 * policy, FREQ under an LFU one, as Redis).
 *
 * RINGKV-RESTOREMANY key ttl payload [key ttl payload ...]: ringkv's own
 * multi-key RESTORE, what a slot push sends a ringkv target (issue 11;
 * migrate.h, struct migrate_target's many), so a batch of keys is parsed,
 * routed, gated and run as one command instead of one RESTORE a key. It is
 * RESTORE-ASKING ... REPLACE for each triple in order (a TTL relative, 0
 * none; a key given twice ends as the last one), with these differences:
 * all or nothing: every TTL and payload is checked and every value decoded
 * (and a collection built) aside before any key is touched, so a bad one
 * (the first, in order, answers RESTORE's error for it) leaves no key
 * written; +OK once for the batch. Its keys are one slot's (the key gate
 * answers -CROSSSLOT otherwise: one slot lives on one shard), and the row
 * passes the gate as RESTORE-ASKING does. Journaled by its effects, as
 * RESTORE: a replica gets SET k v [PXAT t] (or a collection's rebuild) per
 * key in the batch's order, nothing it must decode. Bounded by what the
 * RESP parser takes (the argument count, proto-max-bulk-len a payload);
 * the decoded values held aside are at most the command's own bytes (a
 * collection built from them).
 *
 * RINGKV-RESERVEKEYS count: a slot push's source says, before its first
 * batch, how many keys it is about to send (RINGKV-MIGRATESLOTS counts
 * its slots' keys), and every shard makes room for its part of them
 * (store_reserve: its table grown once, not doubled again and again
 * while they come, each growth moving every key there: a fifth of the
 * target's CPU in a move). A hint: +OK whether or not room was made (a
 * growth under way ends first), nothing journaled (a replica's table
 * grows as the keys come). count is bounded by RESERVE_KEYS_MAX (its
 * table: 8 to 16 bytes a key).
 *
 * RINGKV-RESTOREPART key ttl payload [FIRST] [LAST]: a part of a big
 * collection that a slot move's source sends in parts (issue 12;
 * shards/commands/migrate_slots.c), gated as RINGKV-RESTOREMANY
 * (CMD_ASKING: an importing slot's key). payload is a DUMP payload of a
 * collection holding some of the elements (serialize_dump_part), or
 * empty (a part that found none). FIRST starts the key's staged
 * collection (shards/commands/staging.h: aside, outside the keyspace),
 * dropping one staged before; a part without FIRST adds its elements to
 * the one staged (refused if none is: "ERR no part of this key is
 * staged", the source then keeps the key; the parts of a key come one
 * after the other, each once the one before is acknowledged, over
 * whichever of the source's migrate links is free: only one push has the
 * key in flight at a time, its listings skip keys in flight); LAST moves the staged collection under the key with REPLACE
 * semantics, in O(1), expiring by this part's ttl (relative, 0 none).
 * Each part is checked as RESTORE checks a payload (its errors); a bad
 * one drops what was staged. Until LAST nothing is in the keyspace and
 * nothing is journaled; LAST is journaled by its effect, as RESTORE (the
 * store's SET of the collection). */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <mimalloc.h>

#include "shards/commands/commands.h"
#include "shards/commands/staging.h"
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
                                  zset_default_limits, stream_default_limits };
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
    l.list = (struct list_limits){ config_load(c, list_max_listpack_size), config_load(c, list_compress_depth) };
    l.stream = (struct stream_limits){ config_load(c, stream_node_max_bytes), config_load(c, stream_node_max_entries) };
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

/* A RESTORE's ttl and payload arguments (RESTORE, RINGKV-RESTOREMANY):
 * the TTL in *ttl and the value decoded in *v, a collection built aside
 * before anything else is decided (a payload is refused for an element
 * twice whatever its TTL); NULL, or RESTORE's error for them, with nothing
 * held. */
static const char *restore_decode(struct exec_ctx *ctx, struct slice ttl_arg, struct slice payload, long long *ttl,
                                  struct decoded_value *v)
{
    if (!parse_ll(ttl_arg, ttl))
        return ERR_NOT_INT;
    if (*ttl < 0)
        return "ERR Invalid TTL value, must be >= 0";
    if (!serialize_payload_valid(payload.ptr, payload.len))
        return ERR_BAD_PAYLOAD;
    struct serialize_limits lim = limits_of(ctx);
    if (!serialize_decode(payload.ptr, payload.len, v) || !decoded_value_build(ctx->store, v, &lim))
        return ERR_BAD_FORMAT; /* a failed build released v */
    return NULL;
}

/* A relative TTL's unix time (0: none). Redis's sum would wrap past
 * LLONG_MAX; no clock reaches that, so it is kept there. */
static int64_t restore_expire_at(const struct exec_ctx *ctx, long long ttl)
{
    if (ttl <= 0)
        return 0;
    return ttl > LLONG_MAX - ctx->now_ms ? LLONG_MAX : ttl + ctx->now_ms;
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
    struct decoded_value v;
    const char *err = restore_decode(ctx, ctx->argv[2], ctx->argv[3], &ttl, &v);
    if (err) {
        reply_error(ctx->reply, err);
        return;
    }
    int64_t expire_at = absttl ? ttl : restore_expire_at(ctx, ttl);
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

/* The keys' buckets are prefetched this many ahead of their stores: a
 * batch's keys are cold in a big table, each in a bucket of its own. */
#define RESTORE_AHEAD 16

/* RINGKV-RESTOREMANY key ttl payload [key ttl payload ...] (the header) */
void cmd_ringkv_restoremany(struct exec_ctx *ctx)
{
    if (ctx->argc < 4 || (ctx->argc - 1) % 3 != 0) {
        /* the router checks the triples (key_groups_whole), but not for a
         * command queued in MULTI */
        reply_error(ctx->reply, "ERR wrong number of arguments for 'ringkv-restoremany' command");
        return;
    }
    int n = (ctx->argc - 1) / 3;
    struct decoded_value small[16];
    int64_t small_at[16];
    struct decoded_value *v = n <= 16 ? small : mi_malloc(sizeof(*v) * (size_t)n);
    int64_t *at = n <= 16 ? small_at : mi_malloc(sizeof(*at) * (size_t)n);
    const char *err = NULL;
    int decoded = 0;
    /* 1. every triple checked and decoded aside, in order */
    for (int i = 0; i < n && !err; i++) {
        const struct slice *t = ctx->argv + 1 + 3 * i;
        long long ttl;
        err = restore_decode(ctx, t[1], t[2], &ttl, &v[i]);
        if (err)
            break;
        decoded++;
        at[i] = restore_expire_at(ctx, ttl);
    }
    if (err) {
        for (int i = 0; i < decoded; i++)
            decoded_value_free(&v[i]);
        reply_error(ctx->reply, err);
    } else {
        /* 2. stored in order (a relative TTL > 0 is never past) */
        for (int i = 0; i < n; i++) {
            if (i % RESTORE_AHEAD == 0)
                for (int j = i; j < n && j < i + RESTORE_AHEAD; j++)
                    store_prefetch_bucket(ctx->store, store_key_hash(ctx->argv[1 + 3 * j]));
            decoded_value_store(ctx->store, ctx->argv[1 + 3 * i], &v[i], at[i]);
        }
        reply_ok(ctx->reply);
    }
    if (v != small)
        mi_free(v);
    if (at != small_at)
        mi_free(at);
}

/* The most keys RINGKV-RESERVEKEYS makes room for: a table of 128 to 256
 * MB at most, for a hint from the network. */
#define RESERVE_KEYS_MAX (16LL * 1024 * 1024)

/* RINGKV-RESERVEKEYS count (the header), on every shard */
void cmd_ringkv_reservekeys(struct exec_ctx *ctx)
{
    long long n;
    if (!parse_ll(ctx->argv[1], &n)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (n < 0 || n > RESERVE_KEYS_MAX) {
        reply_error(ctx->reply, "ERR value is out of range");
        return;
    }
    int shards = ctx->shard && ctx->shard->node ? ctx->shard->node->nshards : 1;
    if (n > 0) /* this shard's part: slots spread over the shards evenly */
        store_reserve(ctx->store, (size_t)(n / shards + 1));
    reply_ok(ctx->reply);
}

/* RINGKV-RESTOREPART key ttl payload [FIRST] [LAST] (the header) */
void cmd_ringkv_restorepart(struct exec_ctx *ctx)
{
    bool first = false, last = false;
    for (int j = 4; j < ctx->argc; j++) {
        if (slice_eq_nocase(ctx->argv[j], "first")) {
            first = true;
        } else if (slice_eq_nocase(ctx->argv[j], "last")) {
            last = true;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    struct shard *sh = ctx->shard;
    if (!sh || ctx->store != sh->store) { /* a transaction's scratch store: the staging is the shard's */
        reply_error(ctx->reply, "ERR RINGKV-RESTOREPART could not be run here");
        return;
    }
    struct slice key = ctx->argv[1], payload = ctx->argv[3];
    long long ttl;
    if (!parse_ll(ctx->argv[2], &ttl)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (ttl < 0) {
        reply_error(ctx->reply, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    struct staged *st = staging_find(sh, key);
    if (first && st) {
        staging_drop(sh, st); /* the move of this key started over */
        st = NULL;
    }
    if (!first && !st) {
        reply_error(ctx->reply, "ERR no part of this key is staged");
        return;
    }
    if (payload.len > 0 || !st) {
        const char *err = NULL;
        struct decoded_value v;
        struct serialize_limits lim = limits_of(ctx);
        if (!serialize_payload_valid(payload.ptr, payload.len))
            err = ERR_BAD_PAYLOAD;
        else if (!serialize_decode(payload.ptr, payload.len, &v))
            err = ERR_BAD_FORMAT;
        else if (v.type == TYPE_STRING) {
            decoded_value_free(&v);
            err = ERR_BAD_FORMAT;
        } else if (!st) {
            if (!decoded_value_build(ctx->store, &v, &lim)) {
                err = ERR_BAD_FORMAT; /* the failed build released v */
            } else {
                st = staging_start(sh, key, ctx->caller_id, v.type, v.object, ctx->now_ms);
                v.object = NULL; /* the staging's now */
                decoded_value_free(&v);
            }
        } else if (!decoded_value_add_to(ctx->store, &v, st->type, &st->object, &lim)) {
            err = ERR_BAD_FORMAT;
        }
        if (err) {
            if (st)
                staging_drop(sh, st);
            reply_error(ctx->reply, err);
            return;
        }
    }
    st->last_ms = ctx->now_ms;
    if (last) {
        int64_t at = restore_expire_at(ctx, ttl);
        enum value_type t = st->type;
        void *obj = staging_take(sh, st);
        store_set_object(ctx->store, key, t, obj, at);
    }
    reply_ok(ctx->reply);
}
