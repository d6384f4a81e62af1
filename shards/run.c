/* run: running one command on this shard (its reply, stats, slow log, the
 * journal around it), and the messages between shards that carry commands
 * and their answers: requests run here, answers completing a session's
 * pending reply, the export/apply steps of scratch commands, grace periods
 * for memory other shards may still read. */
#include "shards/dispatch.h"
#include "shards/dispatch_internal.h"

#include <math.h>
#include <mimalloc.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/blocking.h"
#include "shards/blocking_move.h"
#include "shards/key_locks.h"
#include "shards/message.h"
#include "shards/monitor.h"
#include "shards/node.h"
#include "shards/notify.h"
#include "shards/scratch.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"
#include "shards/tracking.h"

/* What maxmemory bounds, as in Redis: used_memory minus what is not
 * counted for eviction (mem_not_counted_for_evict). The stores are the
 * only part eviction can shrink, so each shard keeps its store under an
 * even share of (maxmemory - the rest of used_memory that counts), that
 * rest sampled every tick (node->mem_counted_overhead). Never under a
 * quarter of maxmemory / shards: a burst of connection buffers (a client
 * reading slowly, a big MULTI) must not evict the whole dataset, and an
 * idle node's own megabyte must not leave a small maxmemory no room. */
#define SHARE_FLOOR_DIV 4

size_t shard_memory_limit(const struct shard *sh)
{
    long long max = config_load(&sh->node->config, maxmemory);
    if (max <= 0)
        return 0;
    size_t nshards = (size_t)sh->node->nshards;
    uint64_t rest = atomic_load_explicit(&sh->node->mem_counted_overhead, memory_order_relaxed);
    size_t room = (uint64_t)max > rest ? (size_t)((uint64_t)max - rest) / nshards : 0;
    size_t floor = (size_t)max / nshards / SHARE_FLOOR_DIV;
    if (room < floor)
        room = floor;
    return room ? room : 1;
}

/* Time one call may evict for, from maxmemory-eviction-tenacity as Redis
 * computes it (evictionTimeLimitUs): 0..10 linearly up to 500 us (10, the
 * default), then 15% more a unit (about 2 minutes at 99), 100 without a
 * bound (0 here). Tenacity 0 gets 1 ns: store_evict then evicts the few
 * keys it takes between two looks at the clock (16, as Redis). What is
 * left over goes on in the next loop turns (shard_evict_step), the shard
 * answering meanwhile. */
static uint64_t evict_budget_ns(long long tenacity)
{
    if (tenacity <= 0)
        return 1;
    if (tenacity <= 10)
        return (uint64_t)tenacity * 50u * 1000u;
    if (tenacity < 100)
        return (uint64_t)(500.0 * pow(1.15, (double)tenacity - 10.0)) * 1000u;
    return 0;
}

/* INFO stats' eviction_exceeded_time figures, as Redis keeps them: a call
 * that leaves the store over its share starts the time it is exceeded (if
 * not started), one that gets under it adds that time to the total. */
static void count_eviction(struct shard *sh, enum evict_result r)
{
    struct shard_stats *st = &sh->stats;
    uint64_t since = stat_load(&st->eviction_exceeded_since_us);
    if (r != EVICT_DONE) {
        if (since == 0)
            __atomic_store_n(&st->eviction_exceeded_since_us, clock_mono_ns() / 1000 + 1, __ATOMIC_RELAXED);
    } else if (since != 0) {
        stat_add(&st->eviction_exceeded_us, clock_mono_ns() / 1000 + 1 - since);
        __atomic_store_n(&st->eviction_exceeded_since_us, 0, __ATOMIC_RELAXED);
    }
}

/* With keys in several databases, eviction takes from the one holding the
 * most, held to the limit less what the others hold (Redis samples all
 * its databases into one pool; this evicts by the same ranking within the
 * biggest, the next call taking the next biggest when the others alone
 * are over). */
static struct store *evict_target(struct shard *sh, size_t limit, size_t *store_limit)
{
    *store_limit = limit;
    if (sh->ndb_made == 1)
        return sh->dbs[0];
    size_t total = 0, most = 0;
    struct store *big = sh->dbs[0];
    for (SHARD_EACH_DB(sh, d)) {
        size_t used = store_used_memory(sh->dbs[d]);
        total += used;
        if (used > most || (used == most && big != sh->dbs[d] && store_count(sh->dbs[d]) > store_count(big))) {
            most = used;
            big = sh->dbs[d];
        }
    }
    size_t others = total - most;
    *store_limit = limit > others ? limit - others : 1;
    return big;
}

bool shard_make_room(struct shard *sh, size_t limit, int policy, int64_t now_ms)
{
    if (limit == 0) { /* nothing to evict for: the common case stays a call */
        sh->evicting = false;
        if (__builtin_expect(stat_load(&sh->stats.eviction_exceeded_since_us) != 0, 0))
            count_eviction(sh, EVICT_DONE); /* maxmemory was lifted */
        return store_make_room(sh->store, limit, (enum evict_policy)policy, now_ms);
    }
    long long spike_ms = config_load(&sh->node->config, latency_monitor_threshold);
    uint64_t t0 = spike_ms > 0 ? clock_mono_ns() : 0;
    uint64_t budget = evict_budget_ns(config_load(&sh->node->config, maxmemory_eviction_tenacity));
    size_t store_limit;
    struct store *target = evict_target(sh, limit, &store_limit);
    enum evict_result r = store_evict(target, store_limit, (enum evict_policy)policy, now_ms, budget);
    if (r == EVICT_FAILED && sh->ndb_made > 1 && shard_used_memory(sh) <= limit)
        r = EVICT_DONE;
    count_eviction(sh, r);
    sh->evicting = r == EVICT_RUNNING;
    if (spike_ms > 0) {
        uint64_t ms = (clock_mono_ns() - t0) / 1000000;
        if (ms >= (uint64_t)spike_ms)
            latency_add(&sh->latency, "eviction-cycle", (uint32_t)ms, (int32_t)(now_ms / 1000));
    }
    return r != EVICT_FAILED;
}

bool shard_evict_step(struct shard *sh)
{
    if (!sh->evicting)
        return false;
    long long policy = config_load(&sh->node->config, maxmemory_policy);
    size_t limit = shard_memory_limit(sh);
    if (limit == 0 || policy == EVICT_NOEVICTION || node_is_replica(sh->node)) {
        sh->evicting = false;
        return false;
    }
    shard_make_room(sh, limit, (int)policy, shard_now_ms(sh));
    return sh->evicting;
}

void shard_publish_stats(struct shard *sh)
{
    struct shard_stats *st = &sh->stats;
    if (sh->ndb_made == 1) { /* database 0 alone: its figures are the shard's */
        const struct store_stats *ss = store_get_stats(sh->store);
        __atomic_store_n(&st->keys, store_count(sh->store), __ATOMIC_RELAXED);
        __atomic_store_n(&st->expires, ss->expires, __ATOMIC_RELAXED);
        __atomic_store_n(&st->used_memory, store_used_memory(sh->store), __ATOMIC_RELAXED);
        __atomic_store_n(&st->expired_keys, ss->expired_keys, __ATOMIC_RELAXED);
        __atomic_store_n(&st->evicted_keys, ss->evicted_keys, __ATOMIC_RELAXED);
        __atomic_store_n(&st->keyspace_hits, ss->keyspace_hits, __ATOMIC_RELAXED);
        __atomic_store_n(&st->keyspace_misses, ss->keyspace_misses, __ATOMIC_RELAXED);
        __atomic_store_n(&st->avg_ttl_ms, (uint64_t)ss->avg_ttl_ms, __ATOMIC_RELAXED);
        __atomic_store_n(&st->expired_stale_ppm, (uint64_t)(ss->expired_stale_perc * 10000.0), __ATOMIC_RELAXED);
        __atomic_store_n(&st->expired_time_cap, ss->expired_time_cap_reached_count, __ATOMIC_RELAXED);
        __atomic_store_n(&st->eviction_time_cap, ss->evict_time_cap_reached_count, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->db_counts[0].keys, store_count(sh->store), __ATOMIC_RELAXED);
        __atomic_store_n(&sh->db_counts[0].expires, ss->expires, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->db_counts[0].avg_ttl_ms, (uint64_t)ss->avg_ttl_ms, __ATOMIC_RELAXED);
        return;
    }
    /* several databases: the shard's figures are their sums (the average
     * TTL weighted by the keys with one), INFO keyspace's per database */
    uint64_t keys = 0, expires = 0, used = 0, expired = 0, evicted = 0, hits = 0, misses = 0, ttl_sum = 0,
             time_cap = 0, evict_cap = 0;
    double stale = 0;
    for (SHARD_EACH_DB(sh, d)) {
        const struct store *db = sh->dbs[d];
        const struct store_stats *ss = store_get_stats(db);
        uint64_t n = store_count(db);
        keys += n;
        expires += ss->expires;
        used += store_used_memory(db);
        expired += ss->expired_keys;
        evicted += ss->evicted_keys;
        hits += ss->keyspace_hits;
        misses += ss->keyspace_misses;
        ttl_sum += (uint64_t)ss->avg_ttl_ms * ss->expires;
        time_cap += ss->expired_time_cap_reached_count;
        evict_cap += ss->evict_time_cap_reached_count;
        if (ss->expired_stale_perc > stale)
            stale = ss->expired_stale_perc;
        __atomic_store_n(&sh->db_counts[d].keys, n, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->db_counts[d].expires, ss->expires, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->db_counts[d].avg_ttl_ms, (uint64_t)ss->avg_ttl_ms, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&st->keys, keys, __ATOMIC_RELAXED);
    __atomic_store_n(&st->expires, expires, __ATOMIC_RELAXED);
    __atomic_store_n(&st->used_memory, used, __ATOMIC_RELAXED);
    __atomic_store_n(&st->expired_keys, expired, __ATOMIC_RELAXED);
    __atomic_store_n(&st->evicted_keys, evicted, __ATOMIC_RELAXED);
    __atomic_store_n(&st->keyspace_hits, hits, __ATOMIC_RELAXED);
    __atomic_store_n(&st->keyspace_misses, misses, __ATOMIC_RELAXED);
    __atomic_store_n(&st->avg_ttl_ms, expires ? ttl_sum / expires : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&st->expired_stale_ppm, (uint64_t)(stale * 10000.0), __ATOMIC_RELAXED);
    __atomic_store_n(&st->expired_time_cap, time_cap, __ATOMIC_RELAXED);
    __atomic_store_n(&st->eviction_time_cap, evict_cap, __ATOMIC_RELAXED);
}

/* The slow log: a command of `client` that ran for usec goes into this
 * shard's log if it is slow, with the next id of the node's one sequence.
 * Called on the connection's shard, wherever the command ran (the time
 * comes back in the answer), so the client's addr and name are at hand. */
void dispatch_slow_record(struct shard *sh, uint64_t usec, int argc, const struct slice *argv,
                          const struct client *client)
{
    const struct config *cfg = &sh->node->config;
    long long slower = config_load(cfg, slowlog_slower_than);
    if (slower < 0 || usec < (uint64_t)slower)
        return;
    uint64_t id = atomic_fetch_add_explicit(&sh->node->next_slowlog_id, 1, memory_order_relaxed);
    slowlog_add(&sh->slowlog, id, (size_t)config_load(cfg, slowlog_max_len), shard_now_ms(sh) / 1000,
                usec, argc, argv, client->addr, client->name);
}

/* A full sync sends some of this shard's keys in parts over loop turns,
 * and a write must not meet one of them half sent (node.h,
 * journal_sink.key_before_write): every key this write names goes whole
 * first, if it is one of them. Asked only while sh->snap_keys_pending > 0. */
#define KEYS_FEW 16
static void snapshot_keys_first(struct shard *sh, const struct command *cmd, int argc,
                                const struct slice *argv)
{
    int few[KEYS_FEW];
    int *idx = few;
    int n = command_keys(cmd, argc, argv, few, KEYS_FEW);
    if (n > KEYS_FEW) {
        idx = mi_malloc(sizeof(int) * (size_t)n);
        command_keys(cmd, argc, argv, idx, n);
    }
    for (int i = 0; i < n && sh->snap_keys_pending > 0; i++)
        sh->node->journal->key_before_write(sh, &argv[idx[i]]);
    if (idx != few)
        mi_free(idx);
}

static void snapshot_key_first(void *arg, const struct slice *key)
{
    struct shard *sh = arg;
    if (sh->snap_keys_pending > 0)
        sh->node->journal->key_before_write(sh, key);
}

/* A cross-shard command's writes to this shard's keys (scratch.h), with
 * the same care as a command's for keys a full sync sends in parts. */
void dispatch_apply_writes(struct shard *sh, const struct buf *records, int64_t now)
{
    if (sh->snap_keys_pending > 0)
        writes_each_key(records, snapshot_key_first, sh);
    notify_quiet(sh, true); /* the command's shard named them */
    writes_apply(sh->store, records, now);
    notify_quiet(sh, false);
}

/* Why a write request another shard accepted may not run here now: a
 * role change since (-READONLY, or in a cluster whose table names another
 * master, the key gate's -MOVED to it), or KEY_GATE_WAIT while a
 * FAILOVER's pause holds writes (pause.c: so would it hold this one,
 * arriving now). NULL: it runs. */
static const char *write_refusal_here(struct shard *sh, const struct command *cmd, int argc,
                                      const struct slice *argv, char *text, size_t cap)
{
    const struct node *n = sh->node;
    if (atomic_load_explicit(&n->repl_writes_paused, memory_order_relaxed) &&
        (!node_is_replica(n) || (n->role_recorded && !n->role_recorded(n))))
        return KEY_GATE_WAIT;
    const char *refused = node_write_refusal(n);
    int first;
    if (refused && node_is_replica(n) && n->key_gate && command_keys(cmd, argc, argv, &first, 1) > 0) {
        const char *moved = n->key_gate(n, (int)key_slot(argv[first].ptr, argv[first].len), false, 0, text, cap);
        if (moved)
            return moved;
    }
    return refused;
}

/* What became of a command run_command_msg was given. */
enum run_result {
    RUN_DONE,  /* answered in out */
    RUN_KEPT,  /* the handler kept msg to answer it later */
    RUN_WAITS, /* nothing done: its keys are in flight here (KEY_GATE_WAIT), the caller holds it */
    RUN_WAITS_HOLD, /* nothing done: a script waits for the other shards (hold.h), the caller holds it */
};

/* Run cmd on this shard against store, appending its one reply to out; *usec
 * is set to how long it ran. wait_since: when the command began waiting for
 * keys in flight (dispatch.h, KEY_WAIT_MAX_MS; now if it has not yet), or
 * -1 if the caller cannot hold it (it is answered -TRYAGAIN then). */
static enum run_result run_in_db(struct shard *sh, struct store *store, const struct command *cmd,
                                 int argc, const struct slice *argv, struct buf *out, int proto,
                                 struct client *client, uint64_t caller_id, struct shard_msg *msg,
                                 int64_t wait_since, bool counted, uint64_t *usec_out);

/* The database is the client's (here), the message's (sent here), or, for
 * a command run inside another (a script's call), the one selected: it is
 * selected for the command, the one before it selected again after. */
static enum run_result run_command_msg(struct shard *sh, struct store *store, const struct command *cmd,
                                       int argc, const struct slice *argv, struct buf *out, int proto,
                                       struct client *client, uint64_t caller_id, struct shard_msg *msg,
                                       int64_t wait_since, bool counted, uint64_t *usec_out)
{
    int db = client ? client->db : msg ? msg->db : sh->db;
    if (__builtin_expect(db == sh->db, 1))
        return run_in_db(sh, store, cmd, argc, argv, out, proto, client, caller_id, msg, wait_since, counted,
                         usec_out);
    int before = sh->db;
    bool selected = store == sh->store;
    shard_select(sh, db);
    enum run_result r = run_in_db(sh, selected ? sh->store : store, cmd, argc, argv, out, proto, client, caller_id,
                                  msg, wait_since, counted, usec_out);
    shard_select(sh, before);
    return r;
}

static enum run_result run_in_db(struct shard *sh, struct store *store, const struct command *cmd,
                                 int argc, const struct slice *argv, struct buf *out, int proto,
                                 struct client *client, uint64_t caller_id, struct shard_msg *msg,
                                 int64_t wait_since, bool counted, uint64_t *usec_out)
{
    *usec_out = 0;
    struct reply r = { out, proto };
    int64_t now = shard_now_ms(sh);
    size_t start = out->len;
    if ((cmd->flags & CMD_DENYOOM) && store == sh->store) {
        long long policy = config_load(&sh->node->config, maxmemory_policy);
        size_t limit = shard_memory_limit(sh);
        /* with no limit, straight to the store (no timing to do) */
        if (!(limit ? shard_make_room(sh, limit, (int)policy, now)
                    : store_make_room(store, 0, (enum evict_policy)policy, now))) {
            reply_error(&r, ERR_OOM);
            stats_command_rejected(&sh->stats, cmd->index);
            stats_error_reply(&sh->stats, ERR_OOM, strlen(ERR_OOM));
            return RUN_DONE;
        }
    }
    if ((cmd->flags & CMD_WRITE) && msg && store == sh->store) {
        /* accepted by the connection's shard, but a role change or a
         * FAILOVER's pause may have begun since: the offset the target must
         * reach is fixed, so this write may not happen now. It waits, as
         * the pause holds a write that comes after it (pause.c), within
         * the bound of a wait here; then it runs as a held write does. */
        char text[160];
        const char *refused = write_refusal_here(sh, cmd, argc, argv, text, sizeof(text));
        if (refused == KEY_GATE_WAIT && wait_since >= 0 && now - wait_since < KEY_WAIT_MAX_MS)
            return RUN_WAITS;
        if (refused == KEY_GATE_WAIT)
            refused = "READONLY You can't write while a FAILOVER hands this master over to a replica.";
        if (refused) {
            reply_error(&r, refused);
            stats_command_rejected(&sh->stats, cmd->index);
            stats_error_reply(&sh->stats, refused, strlen(refused));
            if (sh->node->journal)
                sh->node->journal->command_refused(sh, cmd);
            return RUN_DONE;
        }
    }
    if (atomic_load_explicit(&sh->node->key_gate_moving, memory_order_relaxed) > 0 && cmd->first_key > 0 &&
        store == sh->store && sh->node->key_gate_here) {
        /* cluster mode, a slot moving: whether its keys are here decides
         * (node.h). The count first: zero but while a slot moves, one load
         * and a compare in either mode. */
        char text[160];
        const char *refused = sh->node->key_gate_here(sh, cmd, argc, argv, text, sizeof(text));
        if (refused == KEY_GATE_WAIT && wait_since >= 0 && now - wait_since < KEY_WAIT_MAX_MS)
            return RUN_WAITS;
        if (refused == KEY_GATE_WAIT && msg && msg->held) /* held, and past the bound */
            stat_add(&sh->stats.held_writes_tryagain, 1);
        if (refused) {
            reply_error(&r, refused);
            stats_command_rejected(&sh->stats, cmd->index);
            stats_error_reply(&sh->stats, refused, strlen(refused));
            if (msg && sh->node->journal && (cmd->flags & CMD_WRITE))
                sh->node->journal->command_refused(sh, cmd);
            return RUN_DONE;
        }
    }
    if (sh->key_locks_held > 0 && cmd->first_key > 0 && (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) &&
        store == sh->store && (client || msg) && key_locks_bar(sh, cmd, argc, argv, caller_id)) {
        /* a key a watched transaction over several shards holds between
         * its check and its run (key_locks.h): the write waits for it */
        if (wait_since >= 0 && now - wait_since < KEY_WAIT_MAX_MS)
            return RUN_WAITS;
        static const char held[] = "TRYAGAIN A transaction over several shards holds a key of this command";
        reply_error(&r, held);
        stats_command_rejected(&sh->stats, cmd->index);
        stats_error_reply(&sh->stats, held, sizeof(held) - 1);
        if (msg && sh->node->journal && (cmd->flags & CMD_WRITE))
            sh->node->journal->command_refused(sh, cmd);
        return RUN_DONE;
    }
    if (sh->snap_keys_pending > 0 && (cmd->flags & CMD_WRITE) && store == sh->store)
        snapshot_keys_first(sh, cmd, argc, argv);
    if (cmd->flags & CMD_CONN)
        shard_publish_stats(sh);
    struct exec_ctx ctx = {
        .shard = sh, .store = store, .reply = &r, .argc = argc, .argv = argv,
        .client = client, .now_ms = now, .caller_id = caller_id, .msg = msg,
        .acl_user_id = client ? client->acl_user_id : msg ? msg->acl_user_id : 0,
        /* a script waits for the other shards as long as others hold
         * them, as a client of a busy Redis waits (no bound: under load
         * a wait of a second ended BullMQ jobs in -TRYAGAIN) */
        .may_wait = wait_since >= 0,
    };
    /* the row's journal column decides what the replication stream gets */
    const struct journal_sink *journal = cmd->journal != JOURNAL_EFFECTS && store == sh->store
                                         ? sh->node->journal : NULL;
    if (journal)
        journal->command_begin(sh, cmd, &ctx);
    /* NO-TOUCH and TRACKING: rare, one test for both on the usual path */
    bool no_touch = false;
    uint8_t tracking = 0;
    if (client ? (client->no_touch | client->tracking) : msg && (msg->no_touch | msg->tracking)) {
        no_touch = client ? client->no_touch : msg->no_touch;
        tracking = client ? client_tracks(client) : msg->tracking;
    }
    if (tracking) /* its writes' invalidations name it (NOLOOP) */
        tracking_writer(sh, caller_id);
    if (no_touch)
        store_set_no_touch(store, true);
    notify_command_begin(sh, store, cmd, argc, argv, now);
    bool counted_before = store_lookups_counted(store, command_counts_lookups(cmd));
    cmd->fn(&ctx);
    store_lookups_counted(store, counted_before);
    notify_command_end(sh);
    if (no_touch)
        store_set_no_touch(store, false);
    if (journal)
        journal->command_end(sh, cmd, argc, argv);
    if (tracking) {
        tracking_writer(sh, 0);
        if ((tracking & TRACKS_READS) && (cmd->flags & CMD_READONLY) && store == sh->store)
            tracking_read(sh, cmd, argc, argv, caller_id, msg ? msg->home : sh->id);
    }
    if (ctx.waits) /* nothing done: asked again later */
        return RUN_WAITS_HOLD;
    /* one clock read per command: it ends this one and starts the next */
    uint64_t t1 = clock_mono_ns();
    uint64_t usec = (t1 - sh->clock_ns) / 1000;
    sh->clock_ns = t1;
    if (usec >= 1000) { /* a spike is at least 1 ms: the option is read only then */
        long long spike_ms = config_load(&sh->node->config, latency_monitor_threshold);
        if (spike_ms > 0 && usec / 1000 >= (uint64_t)spike_ms) /* Redis's latencyAddSampleIfNeeded */
            latency_add(&sh->latency, (cmd->flags & CMD_FAST) ? "fast-command" : "command",
                        (uint32_t)(usec / 1000), (int32_t)(now / 1000));
    }
    bool failed = out->len > start && out->data[start] == '-';
    if (counted)
        stats_command_done(&sh->stats, cmd->index, usec, failed);
    if (failed)
        stats_error_reply(&sh->stats, out->data + start, out->len - start);
    if (!ctx.deferred) /* else msg may be on its way back already */
        *usec_out = usec;
    return ctx.deferred ? RUN_KEPT : RUN_DONE;
}

/* Run cmd here for the session's client; returns how long it ran. */
uint64_t dispatch_run_command(struct shard *sh, struct store *store, const struct command *cmd,
                              int argc, const struct slice *argv, struct buf *out, int proto,
                              struct client *client, uint64_t caller_id)
{
    uint64_t usec;
    run_command_msg(sh, store, cmd, argc, argv, out, proto, client, caller_id, NULL, -1, true, &usec);
    return usec;
}

uint64_t dispatch_run_uncounted(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv,
                                struct buf *out, int proto, struct client *client, uint64_t caller_id)
{
    uint64_t usec;
    run_command_msg(sh, sh->store, cmd, argc, argv, out, proto, client, caller_id, NULL, -1, false, &usec);
    return usec;
}

void dispatch_run_nested(const struct exec_ctx *outer, const struct command *cmd, int argc,
                         const struct slice *argv, struct buf *out)
{
    struct shard *sh = outer->shard;
    uint64_t outer_start = sh->clock_ns, usec;
    sh->clock_ns = clock_mono_ns();
    if (monitor_watching(sh->node))
        monitor_command_from(sh, "lua", argc, argv);
    /* no msg and no waiting: a key in flight is answered -TRYAGAIN, since
     * the script cannot be held half run */
    run_command_msg(sh, outer->store, cmd, argc, argv, out, 2, NULL, outer->caller_id, NULL, -1, true, &usec);
    sh->clock_ns = outer_start;
}

uint64_t dispatch_run_shipped(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv,
                              struct buf *out, struct shard_msg *msg)
{
    uint64_t usec;
    run_command_msg(sh, sh->store, cmd, argc, argv, out, msg->proto, NULL, msg->caller_id, msg, -1, true, &usec);
    return usec;
}

void dispatch_run_here(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                       const struct slice *argv)
{
    uint64_t usec;
    /* a transaction's command is not held: -TRYAGAIN in its place keeps
     * the EXEC isolated (Redis's answer for a key of a slot mid-move) */
    int64_t wait_since = s->in_exec ? -1 : shard_now_ms(sh);
    if (run_command_msg(sh, sh->store, cmd, argc, argv, session_reply_target(s), s->client.proto, &s->client,
                        s->client.id, NULL, wait_since, true, &usec) >= RUN_WAITS) {
        struct pending *p = session_pending_add(s, STAGE_EXEC);
        p->cmd = cmd;
        p->holds = true;
        s->blocked = true;
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, sh->id, p, -1, argv, argc);
        m->cmd = cmd;
        p->waiting = 1;
        dispatch_send_request(sh, s, m);
        return;
    }
    if (!(cmd->flags & CMD_SKIP_SLOWLOG))
        dispatch_slow_record(sh, usec, argc, argv, &s->client);
}

int dispatch_dest_db(const struct shard *sh, const struct command *cmd, int argc, const struct slice *argv, int db)
{
    if (!(cmd->flags & CMD_DEST_DB))
        return db;
    for (int j = 3; j + 1 < argc; j++)
        if (argv[j].len == 2 && strncasecmp(argv[j].ptr, "db", 2) == 0) {
            long long n;
            if (parse_ll(argv[j + 1], &n) && n >= 0 && n < sh->ndbs)
                db = (int)n;
            j++;
        }
    return db;
}

void dispatch_send_request(struct shard *sh, struct session *s, struct shard_msg *m)
{
    dispatch_send_request_in(sh, s, m, m->pending ? m->pending->db : s->client.db);
}

void dispatch_send_request_in(struct shard *sh, struct session *s, struct shard_msg *m, int db)
{
    m->proto = s->client.proto;
    m->db = db;
    m->tracking = client_tracks(&s->client);
    m->no_touch = s->client.no_touch;
    m->in_transaction = s->in_exec;
    m->caller_id = s->client.id;
    m->acl_user_id = s->client.acl_user_id;
    m->counted_home = m->pending && m->pending->count_once;
    s->inflight++;
    stat_add(&sh->stats.cross_shard_requests, 1);
    msg_post(sh, m, m->target);
}

/* Send a pending command that waited for the ones before it. */
void pending_launch(struct shard *sh, struct pending *p)
{
    struct shard_msg *m = p->launch;
    p->launch = NULL;
    p->stage = STAGE_EXEC;
    dispatch_send_request(sh, p->session, m);
}

/* All copies are in: run the command on a scratch store, then send the
 * writes it made to their owners. */
static void scratch_run(struct shard *sh, struct pending *p)
{
    struct session *s = p->session;
    int n = sh->node->nshards;
    struct write_capture_dest capd = { { false, sh->node, mi_calloc((size_t)n, sizeof(struct buf)), NULL },
                                       { NULL, 0 }, 0 };
    struct store *scratch = store_create(NULL, write_capture_dest_hook, &capd);
    store_set_db(scratch, p->db);
    int64_t now = shard_now_ms(sh);
    /* import: the keys of part i are in key order among those with
     * part_of_key == i */
    const struct command *cmd = p->cmd;
    int nk = p->nkeys;
    int *idx = mi_malloc(sizeof(int) * (size_t)nk);
    command_keys(cmd, p->argc, p->argv, idx, nk);
    const char **cursor = mi_calloc((size_t)p->nparts, sizeof(char *));
    for (int i = 0; i < p->nparts; i++)
        cursor[i] = p->parts[i].data;
    for (int k = 0; k < nk; k++) {
        int part = p->part_of_key[k];
        if (!cursor[part] || cursor[part] >= p->parts[part].data + p->parts[part].len)
            continue;
        key_import(scratch, p->argv[idx[k]], &cursor[part], now);
    }
    mi_free(cursor);
    int dest_db = dispatch_dest_db(sh, cmd, p->argc, p->argv, p->db);
    if (dest_db != p->db && nk > DISPATCH_DEST_KEY) {
        capd.dest_key = p->argv[idx[DISPATCH_DEST_KEY]];
        capd.dest_db = dest_db;
    }
    mi_free(idx);
    capd.cap.on = true;
    capd.cap.notify = sh;
    int before = sh->db;
    shard_select(sh, p->db); /* the command's database: its notifications, COPY's default DB */
    uint64_t usec = dispatch_run_command(sh, scratch, cmd, p->argc, p->argv, &p->out, s->client.proto, NULL,
                                         s->client.id);
    shard_select(sh, before);
    dispatch_slow_record(sh, usec, p->argc, p->argv, &s->client);
    capd.cap.on = false;
    /* its lookups (the copies') are the command's hits and misses */
    const struct store_stats *looked = store_get_stats(scratch);
    store_count_lookups(shard_db(sh, p->db), looked->keyspace_hits, looked->keyspace_misses);
    store_destroy(scratch);
    p->stage = STAGE_APPLY;
    p->waiting = 0;
    int dest_shard = dest_db != p->db && nk > DISPATCH_DEST_KEY ? p->part_shard[p->part_of_key[DISPATCH_DEST_KEY]] : -1;
    for (int t = 0; t < n; t++) {
        if (capd.cap.per_shard[t].len == 0)
            continue;
        /* COPY ... DB n: the destination's shard (not the source's: one
         * shard would not need copies) applies in database n */
        int db = t == dest_shard ? dest_db : p->db;
        if (t == sh->id) {
            shard_select(sh, db);
            dispatch_apply_writes(sh, &capd.cap.per_shard[t], now);
            shard_select(sh, before);
            buf_free(&capd.cap.per_shard[t]);
            continue;
        }
        struct shard_msg *m = msg_create(MSG_APPLY, sh->id, t, p, -1, NULL, 0);
        m->payload = capd.cap.per_shard[t];
        p->waiting++;
        dispatch_send_request_in(sh, s, m, db);
    }
    mi_free(capd.cap.per_shard);
    if (p->waiting == 0)
        p->stage = STAGE_READY;
}

void pending_answered(struct shard *sh, struct pending *p)
{
    struct session *s = p->session;
    if (--p->waiting == 0)
        pending_complete(sh, p);
    if (!s->conn) {
        if (s->inflight == 0)
            session_free(s);
        return;
    }
    session_drain(s);
}

/* A pending entry got its last answer. */
void pending_complete(struct shard *sh, struct pending *p)
{
    struct session *s = p->session;
    switch (p->stage) {
    case STAGE_MERGE: {
        struct reply r = { &p->out, s->client.proto };
        struct merge_input in = { p->parts, p->nparts, p->part_of_key, p->nkeys };
        p->cmd->merge(&r, &in);
        p->stage = STAGE_READY;
        break;
    }
    case STAGE_EXPORT:
        scratch_run(sh, p);
        break;
    case STAGE_EXEC:
    case STAGE_APPLY:
        p->stage = STAGE_READY;
        break;
    case STAGE_MOVE_POP:
    case STAGE_MOVE_PUSH:
    case STAGE_MOVE_BACK:
        blocking_move_step(sh, p);
        break;
    case STAGE_READY:
    case STAGE_LAUNCH:
        break;
    }
    if (p->stage == STAGE_READY && p->count_once) {
        p->count_once = false;
        stats_command_done(&sh->stats, p->cmd->index, p->usec, p->out.len && p->out.data[0] == '-');
    }
    if (p->stage == STAGE_READY && p->holds && s->blocked) {
        /* a scratch command (or one that holds what follows) finished: the
         * EXEC it is part of, then the connection, may go on */
        s->blocked = false;
        if (s->in_exec)
            dispatch_replay_continue(sh, s);
        if (s->conn && !s->blocked && !s->in_exec)
            conn_resume(s->conn);
    }
}

static void handle_answer(struct shard *sh, struct shard_msg *m)
{
    struct pending *p = m->pending;
    struct session *s = p->session;
    s->inflight--;
    if (m->kind == MSG_EXEC) {
        bool step = p->stage == STAGE_MOVE_POP || p->stage == STAGE_MOVE_PUSH || p->stage == STAGE_MOVE_BACK;
        if (p->log_once || p->count_once)
            p->usec += m->usec;
        if (step)
            dispatch_slow_record(sh, m->usec, p->argc, p->argv, &s->client); /* as the BLMOVE it is a step of */
        else if (!p->log_once)
            dispatch_slow_record(sh, m->usec, m->argc, m->argv, &s->client);
        else if (p->waiting == 1 && p->argv) /* the last part: the command as sent */
            dispatch_slow_record(sh, p->usec, p->argc, p->argv, &s->client);
        else if (p->waiting == 1) /* the last part of one on every shard: argv is the command's own */
            dispatch_slow_record(sh, p->usec, m->argc, m->argv, &s->client);
    }
    if (m->kind == MSG_EXEC || m->kind == MSG_EXPORT) {
        struct buf *dst = m->part >= 0 ? &p->parts[m->part] : &p->out;
        struct buf t = *dst;
        *dst = m->reply;
        m->reply = t;
    }
    if (m->kind == MSG_EXEC && m->cmd && (m->cmd->flags & CMD_BLOCKING)) {
        if (!s->conn)
            blocking_answer_orphaned(sh, m); /* a served element goes back */
        if (m->arg && p->waiting == 1)
            blocking_claim_free(m->arg); /* the last part of one over several shards */
    }
    msg_free(m);
    pending_answered(sh, p);
}

/* ---- requests waiting for keys in flight (dispatch.h) ---- */

struct key_wait {
    struct shard_msg *msg;
    int64_t           since_ms; /* when it began to wait (the bound counts from there) */
};

static void key_wait_add(struct shard *sh, struct shard_msg *m, int64_t since_ms)
{
    if (sh->nkey_waits == sh->key_waits_cap) {
        sh->key_waits_cap = sh->key_waits_cap ? sh->key_waits_cap * 2 : 16;
        sh->key_waits = mi_realloc(sh->key_waits, sizeof(*sh->key_waits) * (size_t)sh->key_waits_cap);
    }
    sh->key_waits[sh->nkey_waits++] = (struct key_wait){ m, since_ms };
}

/* Does an earlier request of m's connection wait here? Then m waits
 * behind it: a connection's commands run in the order it sent them. */
static bool key_wait_caller_waits(const struct shard *sh, const struct shard_msg *m)
{
    for (int i = 0; i < sh->nkey_waits; i++) {
        const struct shard_msg *w = sh->key_waits[i].msg;
        if (w->caller_id == m->caller_id && w->home == m->home)
            return true;
    }
    return false;
}

/* A command request: run it, or hold it (its keys in flight, or an
 * earlier request of its connection held), or leave it to the handler
 * that kept it; answered, it goes home. */
static void exec_request(struct shard *sh, struct shard_msg *m, int64_t since_ms)
{
    if (sh->nkey_waits > 0 && key_wait_caller_waits(sh, m)) {
        key_wait_add(sh, m, since_ms);
        return;
    }
    if (m->handler) { /* a connection's own message that waited behind its request */
        m->handler(sh, m);
        return;
    }
    switch (run_command_msg(sh, sh->store, m->cmd, m->argc, m->argv, &m->reply, m->proto, NULL, m->caller_id, m,
                            m->in_transaction ? -1 : since_ms, !m->counted_home, &m->usec)) {
    case RUN_KEPT:
        return; /* the handler keeps the message and answers it later */
    case RUN_WAITS_HOLD:
        key_wait_add(sh, m, since_ms);
        return;
    case RUN_WAITS:
        if (!m->held && !atomic_load_explicit(&sh->node->repl_writes_paused, memory_order_relaxed)) {
            /* a key in flight (not a FAILOVER's pause): counted once,
             * however often it is asked again */
            m->held = true;
            stat_add(&sh->stats.held_writes, 1);
        }
        key_wait_add(sh, m, since_ms);
        return;
    case RUN_DONE:
        break;
    }
    m->answered = true;
    msg_post(sh, m, m->home);
}

bool dispatch_request_waits(struct shard *sh, struct shard_msg *m)
{
    if (sh->nkey_waits == 0 || !key_wait_caller_waits(sh, m))
        return false;
    key_wait_add(sh, m, shard_now_ms(sh));
    return true;
}

/* Every waiting request is asked again, oldest first: it runs, is
 * answered (-ASK, -TRYAGAIN past the bound), or waits again, keeping its
 * place before the later ones and its first time. */
void dispatch_key_waits_wake(struct shard *sh)
{
    int n = sh->nkey_waits;
    if (n == 0)
        return;
    struct key_wait *list = sh->key_waits;
    sh->key_waits = NULL;
    sh->nkey_waits = 0;
    sh->key_waits_cap = 0;
    for (int i = 0; i < n; i++)
        exec_request(sh, list[i].msg, list[i].since_ms);
    mi_free(list);
}

void dispatch_key_waits_tick(struct shard *sh, int64_t now_ms)
{
    for (int i = 0; i < sh->nkey_waits; i++)
        if (now_ms - sh->key_waits[i].since_ms >= KEY_WAIT_MAX_MS) {
            dispatch_key_waits_wake(sh);
            return;
        }
}

static void handle_request(struct shard *sh, struct shard_msg *m)
{
    int64_t now = shard_now_ms(sh);
    switch (m->kind) {
    case MSG_EXEC:
        exec_request(sh, m, now);
        return;
    case MSG_EXPORT:
        keys_export(shard_db(sh, m->db), m->argc, m->argv, &m->reply, now);
        break;
    case MSG_APPLY: {
        int before = sh->db;
        shard_select(sh, m->db);
        dispatch_apply_writes(sh, &m->payload, now);
        shard_select(sh, before);
        break;
    }
    default:
        break;
    }
    m->answered = true;
    msg_post(sh, m, m->home);
}

/* What dispatch_free_later waits on: the answers not back yet. */
struct grace {
    int    waiting;
    int    n;
    char **ptrs;
};

static void grace_end(struct grace *g)
{
    for (int i = 0; i < g->n; i++)
        mi_free(g->ptrs[i]);
    mi_free(g->ptrs);
    mi_free(g);
}

void dispatch_free_later(struct shard *sh, char **ptrs, int n)
{
    struct grace *g = mi_zalloc(sizeof(*g));
    g->n = n;
    g->ptrs = ptrs;
    if (n > 0)
        for (int t = 0; t < sh->node->nshards; t++) {
            if (t == sh->id)
                continue;
            struct shard_msg *m = msg_create(MSG_GRACE, sh->id, t, NULL, -1, NULL, 0);
            m->arg = g;
            g->waiting++;
            msg_post(sh, m, t);
        }
    if (g->waiting == 0)
        grace_end(g);
}

void dispatch_message(struct shard *sh, struct shard_msg *m)
{
    if (m->handler) {
        m->handler(sh, m);
        return;
    }
    if (m->kind == MSG_GRACE) {
        if (!m->answered) {
            m->answered = true;
            msg_post(sh, m, m->home);
            return;
        }
        struct grace *g = m->arg;
        msg_free(m);
        if (--g->waiting == 0)
            grace_end(g);
        return;
    }
    if (m->kind == MSG_UNPAUSE) {
        if (m->answered) {
            msg_free(m);
            return;
        }
        pause_release(sh);
        dispatch_key_waits_wake(sh); /* writes from other shards the pause held */
        m->answered = true;
        msg_post(sh, m, m->home);
        return;
    }
    if (m->answered)
        handle_answer(sh, m);
    else
        handle_request(sh, m);
}
