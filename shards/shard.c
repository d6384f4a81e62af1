/* shard: the body of one shard thread: set up what it owns on its own
 * thread (heap, store, journal, ring), run the loop, tear down in reverse. */
#include "shards/blocking.h"
#include "shards/shard.h"

#include <mimalloc.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "core/command.h"
#include "core/config.h"
#include "core/log.h"
#include "shards/aof_fence.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/notify.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"
#include "shards/tracking.h"
#include "shards/key_locks.h"
#include "shards/watch.h"

int shard_of_slot(const struct node *n, unsigned slot)
{
    return (int)(slot % (unsigned)n->nshards);
}

struct store *shard_db(struct shard *sh, int db)
{
    if (!sh->dbs[db]) {
        struct store *st = store_create(sh->heap, sh->journal_off ? NULL : shard_store_changed, sh);
        store_set_db(st, db);
        store_set_hold(st, pause_keeps_keys, sh);
        store_set_passive(st, sh->stores_passive);
        if (sh->dbs[0]) /* the access bits as database 0's, set every tick */
            store_set_lfu(st, store_lfu(sh->dbs[0]));
        sh->dbs[db] = st;
        sh->db_made[sh->ndb_made++] = db;
    }
    return sh->dbs[db];
}

size_t shard_used_memory(const struct shard *sh)
{
    size_t used = 0;
    for (SHARD_EACH_DB(sh, d))
        used += store_used_memory(sh->dbs[d]);
    return used;
}

void shard_dbs_replace(struct shard *sh, struct store *const *with, int n)
{
    for (SHARD_EACH_DB(sh, d)) {
        store_destroy(sh->dbs[d]);
        sh->dbs[d] = NULL;
        __atomic_store_n(&sh->db_counts[d].keys, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->db_counts[d].expires, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->db_counts[d].avg_ttl_ms, 0, __ATOMIC_RELAXED);
    }
    sh->ndb_made = 0;
    for (int d = 0; d < n && d < sh->ndbs; d++)
        if (with[d]) {
            store_set_db(with[d], d);
            sh->dbs[d] = with[d];
            sh->db_made[sh->ndb_made++] = d;
        }
    sh->db = -1;
    shard_select(sh, 0);
}

void shard_swap_dbs(struct shard *sh, int a, int b)
{
    int before = sh->db;
    struct store *sa = shard_db(sh, a), *sb = shard_db(sh, b);
    sh->dbs[a] = sb;
    sh->dbs[b] = sa;
    store_set_db(sb, a);
    store_set_db(sa, b);
    sh->db = -1;
    shard_select(sh, before);
}

void shard_swap_databases(struct shard *sh, int a, int b)
{
    shard_swap_dbs(sh, a, b);
    watch_dbs_swapped(sh, a, b, shard_now_ms(sh));
    blocking_dbs_swapped(sh, a, b);
}

void shard_set_passive(struct shard *sh, bool on)
{
    sh->stores_passive = on;
    for (SHARD_EACH_DB(sh, d))
        store_set_passive(sh->dbs[d], on);
}

void shard_journal(struct shard *sh, bool on)
{
    sh->journal_off = !on;
    for (SHARD_EACH_DB(sh, d))
        store_set_journal(sh->dbs[d], on ? shard_store_changed : NULL, on ? sh : NULL);
}

static void on_tick(void *arg)
{
    struct shard *sh = arg;
    shard_clock_start(sh, true);
    int64_t now = shard_now_ms(sh);
    /* active expiry: a small bounded slice of each tick (of each database
     * holding keys with a time) */
    if (!atomic_load_explicit(&sh->node->active_expire_off, memory_order_relaxed)) {
        long long spike_ms = config_load(&sh->node->config, latency_monitor_threshold);
        uint64_t t0 = spike_ms > 0 ? clock_mono_ns() : 0;
        for (SHARD_EACH_DB(sh, d))
            if (d == 0 || store_get_stats(sh->dbs[d])->expires > 0) {
                shard_select(sh, d);
                store_expire_cycle(sh->store, now, 1000);
            }
        shard_select(sh, 0);
        if (spike_ms > 0) { /* LATENCY's expire-cycle event */
            uint64_t ms = (clock_mono_ns() - t0) / 1000000;
            if (ms >= (uint64_t)spike_ms)
                latency_add(&sh->latency, "expire-cycle", (uint32_t)ms, (int32_t)(now / 1000));
        }
    }
    /* keep memory under the limit even without writes (CONFIG SET maxmemory) */
    long long max = config_load(&sh->node->config, maxmemory);
    long long policy = config_load(&sh->node->config, maxmemory_policy);
    for (SHARD_EACH_DB(sh, d)) {
        store_rehash_step(sh->dbs[d]);
        /* the keys' access bits follow the policy: LFU counters under an LFU one */
        store_set_lfu(sh->dbs[d], policy == EVICT_ALLKEYS_LFU || policy == EVICT_VOLATILE_LFU);
    }
    if (max > 0 && policy != EVICT_NOEVICTION && !node_is_replica(sh->node))
        shard_make_room(sh, shard_memory_limit(sh), (int)policy, now);
    dispatch_timeouts(sh, now);
    if (sh->nheld)
        pause_release(sh); /* a CLIENT PAUSE's timeout may have run out */
    if (sh->nkey_waits)
        dispatch_key_waits_tick(sh, now); /* a wait for keys in flight may have run out */
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->tick)
            sh->node->modules[i]->tick(sh, now);
    sh->last_tick_ms = now;
    dispatch_tick(sh);
}

static bool before_sleep(void *arg)
{
    struct shard *sh = arg;
    const struct node *n = sh->node;
    aof_fence_turn(sh);
    for (int i = 0; i < n->nmodules; i++)
        if (n->modules[i]->turn)
            n->modules[i]->turn(sh);
    bool more = mail_exchange(sh);
    /* a big collection deleted: free a slice of it each turn until gone */
    for (SHARD_EACH_DB(sh, d))
        if (store_lazy_pending(sh->dbs[d]) && store_lazy_free_step(sh->dbs[d]))
            more = true;
    /* over its memory share when an eviction's time ran out: on with it */
    if (sh->evicting && shard_evict_step(sh))
        more = true;
    for (int i = 0; i < n->nmodules && !more; i++)
        more = n->modules[i]->pending && n->modules[i]->pending(sh);
    shard_publish_stats(sh);
    return more;
}

static bool has_work(void *arg)
{
    return mail_waiting(arg) || aof_fence_ready(arg);
}

static uint64_t output_fence(void *arg)
{
    return aof_fence_output(arg);
}

static void pin(struct shard *sh)
{
    if (sh->cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sh->cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        log_warning("shard %d: could not pin to CPU %d", sh->id, sh->cpu);
}

/* Set up everything the shard owns; returns 0 or -1. Runs on the shard's
 * own thread so the ring and the heap belong to it. */
void shard_store_changed(void *shard, const struct journal_record *rec)
{
    struct shard *sh = shard;
    stat_add(&sh->stats.changes, 1);
    tracking_changed(sh, rec);
    watch_changed(sh, rec);
    blocking_store_changed(sh, rec);
    notify_store_changed(sh, rec);
    if (sh->node->journal)
        sh->node->journal->record(sh, rec);
}

int shard_setup(struct shard *sh)
{
    pin(sh);
    shard_clock_start(sh, true);
    int n = sh->node->nshards;
    sh->heap = mi_heap_new();
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->setup)
            sh->node->modules[i]->setup(sh);
    sh->ndbs = (int)config_load(&sh->node->config, databases);
    sh->dbs = mi_calloc((size_t)sh->ndbs, sizeof(*sh->dbs));
    sh->db_made = mi_calloc((size_t)sh->ndbs, sizeof(*sh->db_made));
    sh->db_counts = mi_calloc((size_t)sh->ndbs, sizeof(*sh->db_counts));
    sh->db = -1;
    shard_select(sh, 0);
    shard_stats_init(&sh->stats, command_count_all());
    slowlog_init(&sh->slowlog);
    sh->overflow_head = mi_calloc((size_t)n, sizeof(*sh->overflow_head));
    sh->overflow_tail = mi_calloc((size_t)n, sizeof(*sh->overflow_tail));
    sh->posted = mi_calloc((size_t)n, sizeof(bool));
    unsigned recv_buffers = 1;
    while (recv_buffers < (unsigned)config_load(&sh->node->config, recv_buffers))
        recv_buffers <<= 1;
    struct loop_options o = {
        .listen_fds = sh->node->listen_fds + (size_t)sh->id * (size_t)sh->node->nlisten,
        .nlisten = sh->node->nlisten,
        .hz = (int)config_load(&sh->node->config, hz),
        /* recv-buffers (128: 2 MB) bounds what a loop turn can take in.
         * With 8 MB (512) an overloaded node took up to 8 MB of commands
         * per turn and served half the rate (bench/RESULTS.md, "What
         * changed the figures") */
        .recv_buffers = recv_buffers,
        .recv_buffer_size = 16384,
    };
    struct loop_handlers h = {
        .on_open = dispatch_open,
        .on_data = dispatch_data,
        .on_close = dispatch_close,
        .on_connect = dispatch_connected,
        .on_sent = dispatch_sent,
        .on_tick = on_tick,
        .before_sleep = before_sleep,
        .output_fence = output_fence,
        .has_work = has_work,
    };
    sh->loop = loop_create(&o, &h, sh);
    if (!sh->loop)
        return -1;
    log_verbose("shard %d: cpu %d, io_uring %s", sh->id, sh->cpu, loop_ring_mode(sh->loop));
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->start && sh->node->modules[i]->start(sh) != 0)
            return -1;
    return 0;
}

void shard_modules_info(struct shard *sh, const char *section, struct buf *out)
{
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->info)
            sh->node->modules[i]->info(sh, section, out);
}

bool shard_modules_option(struct shard *sh, const char *option, char *value, size_t len)
{
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->option_now && sh->node->modules[i]->option_now(sh, option, value, len))
            return true;
    return false;
}

void shard_run(struct shard *sh)
{
    loop_run(sh->loop, &sh->node->shutdown);
}

void shard_teardown(struct shard *sh)
{
    aof_fence_stop(sh); /* the AOF's writer wakes this loop no more */
    if (sh->loop)
        loop_destroy(sh->loop);
    sh->loop = NULL;
    aof_fence_free(sh);
    for (int i = sh->node->nmodules - 1; i >= 0; i--)
        if (sh->node->modules[i]->teardown)
            sh->node->modules[i]->teardown(sh);
    for (SHARD_EACH_DB(sh, d))
        store_destroy(sh->dbs[d]);
    mi_free(sh->dbs);
    mi_free(sh->db_made);
    mi_free(sh->db_counts);
    sh->dbs = NULL;
    sh->ndb_made = 0;
    sh->store = NULL;
    tracking_free(sh);
    watch_free(sh);
    key_locks_free(sh);
    notify_free(sh);
    mi_free(sh->replica_conns);
    mi_free(sh->subscribers);
    slowlog_deinit(&sh->slowlog);
    shard_stats_deinit(&sh->stats);
    mi_free(sh->overflow_head);
    mi_free(sh->overflow_tail);
    mi_free(sh->posted);
    mi_free(sh->key_waits); /* the requests in it are abandoned with the heap, as below */
    /* messages still in flight at shutdown are abandoned with the heap */
    if (sh->heap)
        mi_heap_destroy(sh->heap);
}
