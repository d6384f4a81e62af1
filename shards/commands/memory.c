/* memory: what the node's memory is, as INFO memory and the MEMORY command
 * report it, and MEMORY STATS|DOCTOR|USAGE|MALLOC-STATS|PURGE|HELP.
 *
 * Where the figures come from (sampled, never measured per request):
 *  - used_memory (Redis: what its allocator has handed out): the bytes in
 *    the blocks the shard threads' mimalloc heaps hold (each shard's store
 *    heap and its thread's default heap: keys, values, tables, connection
 *    buffers, messages, the replication backlog), counted by each shard
 *    every tick: the default heap from its pages (mi_heap_visit_blocks over
 *    areas only: pages x used blocks x block size, no walk over blocks),
 *    the store's heap from the store's own count (sample_shard says why),
 *    published as it changes: the store's part is current, the rest at
 *    most a tick old. Not in it (but in the RSS once
 *    touched): each shard's receive ring (recv-buffers x 16 KB, mapped at
 *    start), the main thread's allocations (the configuration), thread
 *    stacks, the binary and its libraries.
 *  - allocator_active: the bytes of the pages those blocks are in (for
 *    the store's heap: its count again, its pages' slack unseen);
 *    allocator_resident: what mimalloc has committed for the process, at
 *    most the RSS (mimalloc commits ahead of use; untouched pages are not
 *    resident).
 *  - used_memory_rss: /proc/self/statm, read by shard 0 once per tick
 *    (pread on a descriptor kept open), never per INFO.
 *  - used_memory_dataset: the stores' own count (keys, values, entry
 *    headers, tables); used_memory_overhead is the rest of used_memory.
 *  - used_memory_startup: used_memory at shard 0's first tick; the peak is
 *    the highest used_memory seen at a tick or an INFO.
 *  - mem_not_counted_for_evict: what the modules say maxmemory does not
 *    count (replication: its replicas' feeds) and the unsent
 *    output of replicas' connections, per shard each tick.
 * maxmemory bounds used_memory minus mem_not_counted_for_evict, as in
 * Redis: shard 0's tick publishes the rest of that outside the stores
 * (node->mem_counted_overhead) and each shard keeps its store under an
 * even share of what maxmemory leaves (shard_memory_limit, shards/run.c). */
#include <fcntl.h>
#include <mimalloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "net/loop.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/commands/commands.h"
#include "shards/commands/server.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/store.h"

/* Process-wide figures (one node per process): written by shard 0's tick. */
static _Atomic uint64_t rss_now, used_peak, used_startup, committed_now;
static int statm_fd = -1;

struct heap_count {
    uint64_t allocated, active;
};

static bool count_area(const mi_heap_t *heap, const mi_heap_area_t *area, void *block, size_t block_size,
                       void *arg)
{
    (void)heap;
    (void)block;
    (void)block_size;
    struct heap_count *c = arg;
    c->allocated += (uint64_t)area->used * (uint64_t)area->block_size;
    c->active += (uint64_t)area->committed;
    return true;
}

static uint64_t read_rss(void)
{
    char text[128];
    ssize_t n = statm_fd >= 0 ? pread(statm_fd, text, sizeof(text) - 1, 0) : -1;
    if (n <= 0)
        return 0;
    text[n] = '\0';
    unsigned long long size = 0, resident = 0;
    if (sscanf(text, "%llu %llu", &size, &resident) != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void note_peak(uint64_t used)
{
    uint64_t old = atomic_load_explicit(&used_peak, memory_order_relaxed);
    while (used > old &&
           !atomic_compare_exchange_weak_explicit(&used_peak, &old, used, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

static uint64_t shards_allocated(const struct node *n)
{
    uint64_t sum = 0;
    for (int i = 0; i < n->nshards; i++)
        sum += stat_load(&n->shards[i]->stats.allocated) + stat_load(&n->shards[i]->stats.used_memory);
    return sum;
}

/* This shard's heaps, counted on its own thread (a heap is only walked by
 * its owner): the thread's default heap walked page by page (connection
 * buffers, messages, the backlog: a few pages per connection), the store's
 * heap by the store's own exact count of its blocks' usable sizes. Walking
 * the store's pages too took 1.6 ms per 570 MB of small keys (mimalloc
 * 2.0.9, areas only): a stall every tick that grows with the data. */
static void sample_shard(struct shard *sh)
{
    struct heap_count c = { 0, 0 };
    mi_heap_visit_blocks(mi_heap_get_default(), false, count_area, &c);
    __atomic_store_n(&sh->stats.allocated, c.allocated, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->stats.active, c.active, __ATOMIC_RELAXED);
    uint64_t not_counted = 0;
    for (int i = 0; i < sh->nreplica_conns; i++) /* replicas' output buffers, as allocated */
        not_counted += conn_output_memory(sh->replica_conns[i]);
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->memory_not_counted)
            not_counted += sh->node->modules[i]->memory_not_counted(sh);
    __atomic_store_n(&sh->stats.not_counted, not_counted, __ATOMIC_RELAXED);
}

/* used_memory outside the stores that maxmemory counts, for
 * shard_memory_limit: every shard's last sample (a tick old at most). */
static void publish_counted_overhead(struct node *n)
{
    uint64_t rest = 0, not_counted = 0;
    for (int i = 0; i < n->nshards; i++) {
        rest += stat_load(&n->shards[i]->stats.allocated);
        not_counted += stat_load(&n->shards[i]->stats.not_counted);
    }
    rest = rest > not_counted ? rest - not_counted : 0;
    atomic_store_explicit(&n->mem_counted_overhead, rest, memory_order_relaxed);
}

static int memory_start(struct shard *sh)
{
    if (sh->id == 0 && statm_fd < 0)
        statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    sample_shard(sh);
    publish_counted_overhead(sh->node); /* the shards sampled so far: better than none */
    if (sh->id == 0)
        atomic_store_explicit(&rss_now, read_rss(), memory_order_relaxed);
    return 0;
}

static void memory_tick(struct shard *sh, int64_t now_ms)
{
    (void)now_ms;
    sample_shard(sh);
    if (sh->id != 0)
        return;
    atomic_store_explicit(&rss_now, read_rss(), memory_order_relaxed);
    size_t elapsed, user, sys, rss, peak_rss, commit, peak_commit, faults;
    mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
    atomic_store_explicit(&committed_now, (uint64_t)commit, memory_order_relaxed);
    publish_counted_overhead(sh->node);
    uint64_t used = shards_allocated(sh->node);
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&used_startup, &zero, used);
    note_peak(used);
}

static void memory_node_teardown(struct node *n)
{
    (void)n;
    if (statm_fd >= 0)
        close(statm_fd);
    statm_fd = -1;
}

static const struct shard_module memory_module = {
    .name = "memory",
    .start = memory_start,
    .tick = memory_tick,
    .node_teardown = memory_node_teardown,
};

void memory_attach(struct node *n)
{
    node_attach_module(n, &memory_module);
}

void memory_figures(const struct node *n, struct memory_figures *f)
{
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < n->nshards; i++) {
        const struct shard_stats *s = &n->shards[i]->stats;
        uint64_t store = stat_load(&s->used_memory); /* the store's heap, current */
        f->used += stat_load(&s->allocated) + store;
        f->active += stat_load(&s->active) + store; /* its pages' slack is not seen */
        f->dataset += store;
        f->not_counted += stat_load(&s->not_counted);
        f->keys += stat_load(&s->keys);
    }
    note_peak(f->used);
    f->peak = atomic_load_explicit(&used_peak, memory_order_relaxed);
    f->startup = atomic_load_explicit(&used_startup, memory_order_relaxed);
    f->rss = atomic_load_explicit(&rss_now, memory_order_relaxed);
    f->committed = atomic_load_explicit(&committed_now, memory_order_relaxed);
    if (f->committed > f->rss && f->rss)
        f->committed = f->rss; /* committed ahead, not yet touched */
    if (f->committed < f->active)
        f->committed = f->active;
    f->overhead = f->used - f->dataset;
}

/* ---- MEMORY ---------------------------------------------------------- */

static void reply_pair_int(struct reply *r, const char *name, long long v)
{
    reply_bulk_str(r, name);
    reply_int(r, v);
}

static void reply_pair_double(struct reply *r, const char *name, double v)
{
    reply_bulk_str(r, name);
    reply_double(r, v);
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

/* MEMORY STATS: Redis 7's fields, in its order (a map; pairs in RESP2). */
void cmd_memory_stats(struct exec_ctx *ctx)
{
    struct memory_figures f;
    memory_figures(ctx->shard->node, &f);
    struct reply *r = ctx->reply;
    reply_map(r, 28);
    reply_pair_int(r, "peak.allocated", (long long)f.peak);
    reply_pair_int(r, "total.allocated", (long long)f.used);
    reply_pair_int(r, "startup.allocated", (long long)f.startup);
    reply_pair_int(r, "replication.backlog", 0);  /* in overhead.total: not told apart yet */
    reply_pair_int(r, "clients.slaves", (long long)f.not_counted); /* replicas' buffers, a tick old */
    reply_pair_int(r, "clients.normal", 0);       /* in overhead.total */
    reply_pair_int(r, "cluster.links", 0);
    reply_pair_int(r, "aof.buffer", 0);
    reply_pair_int(r, "lua.caches", 0);
    reply_pair_int(r, "functions.caches", 0);
    reply_bulk_str(r, "db.0");
    reply_map(r, 2);
    reply_pair_int(r, "overhead.hashtable.main", 0);   /* the tables are in dataset.bytes */
    reply_pair_int(r, "overhead.hashtable.expires", 0);
    reply_pair_int(r, "overhead.total", (long long)f.overhead);
    reply_pair_int(r, "keys.count", (long long)f.keys);
    uint64_t net = f.used > f.startup ? f.used - f.startup : 0;
    reply_pair_int(r, "keys.bytes-per-key", f.keys ? (long long)(net / f.keys) : 0);
    reply_pair_int(r, "dataset.bytes", (long long)f.dataset);
    reply_pair_double(r, "dataset.percentage", net ? 100.0 * (double)f.dataset / (double)net : 0.0);
    reply_pair_double(r, "peak.percentage", f.peak ? 100.0 * (double)f.used / (double)f.peak : 0.0);
    reply_pair_int(r, "allocator.allocated", (long long)f.used);
    reply_pair_int(r, "allocator.active", (long long)f.active);
    reply_pair_int(r, "allocator.resident", (long long)f.committed);
    reply_pair_double(r, "allocator-fragmentation.ratio", ratio(f.active, f.used));
    reply_pair_int(r, "allocator-fragmentation.bytes", (long long)f.active - (long long)f.used);
    reply_pair_double(r, "allocator.rss-ratio", ratio(f.committed, f.active));
    reply_pair_int(r, "allocator.rss-bytes", (long long)f.committed - (long long)f.active);
    reply_pair_double(r, "rss-overhead.ratio", ratio(f.rss, f.committed));
    reply_pair_int(r, "rss-overhead.bytes", (long long)f.rss - (long long)f.committed);
    reply_pair_double(r, "fragmentation", ratio(f.rss, f.used));
    reply_pair_int(r, "fragmentation.bytes", (long long)f.rss - (long long)f.used);
}

/* MEMORY DOCTOR: Redis's sentences, from the same figures and thresholds
 * that apply here (ringkv has no replicas' buffers or AOF to blame). */
void cmd_memory_doctor(struct exec_ctx *ctx)
{
    struct memory_figures f;
    memory_figures(ctx->shard->node, &f);
    if (f.used < 1024 * 1024 * 5) {
        reply_bulk_str(ctx->reply,
                       "Hi Sam, this instance is empty or is using very little memory, my issues detector "
                       "can't be used in these conditions. Please, leave for your mission on Earth and fill "
                       "it with some data. The new Sam and I will be back to our programming as soon as I "
                       "finished rebooting.");
        return;
    }
    bool high_peak = f.peak && f.used && (double)f.peak / (double)f.used > 1.5;
    bool high_frag = f.used && (double)f.rss / (double)f.used > 1.4 && f.rss - f.used > 10 * 1024 * 1024;
    bool high_alloc_frag = f.used && ratio(f.active, f.used) > 1.1 && f.active - f.used > 10 * 1024 * 1024;
    bool high_rss_overhead = f.committed && ratio(f.rss, f.committed) > 1.1 &&
                             f.rss > f.committed && f.rss - f.committed > 10 * 1024 * 1024;
    struct buf text;
    buf_init(&text);
    if (!high_peak && !high_frag && !high_alloc_frag && !high_rss_overhead) {
        buf_append_str(&text, "Hi Sam, I can't find any memory issue in your instance. I can only account "
                              "for what occurs on this base.");
    } else {
        buf_append_str(&text, "Sam, I detected a few issues in this Redis instance memory implants:\n\n");
        if (high_peak)
            buf_append_str(&text, " * Peak memory: In the past this instance used more than 150% the memory "
                                  "that is currently using. The allocator is normally not able to release "
                                  "memory after a peak, so you can expect to see a big fragmentation ratio, "
                                  "however this is actually harmless and is only due to the memory peak, and "
                                  "if the Redis instance Resident Set Size (RSS) is currently bigger than "
                                  "expected, the memory will be used as soon as you fill the Redis instance "
                                  "with more data. If the memory peak was only occasional and you want to try "
                                  "to reclaim memory, please try the MEMORY PURGE command, otherwise the only "
                                  "other option is to shutdown and restart the instance.\n\n");
        if (high_frag)
            buf_printf(&text, " * High total RSS: This instance has a memory fragmentation and RSS overhead "
                              "greater than 1.4 (this means that the Resident Set Size of the Redis process "
                              "is much larger than the sum of the logical allocations Redis performed). "
                              "This problem is usually due either to a large peak memory (check if there is "
                              "a peak memory entry above in the report) or may result from a workload that "
                              "causes the allocator to fragment memory a lot. If the problem is a large "
                              "peak memory, then there is no issue. Otherwise, make sure you are using the "
                              "Jemalloc allocator and not the default libc malloc. Note: The currently used "
                              "allocator is \"mimalloc-%d.%d.%d\".\n\n",
                       mi_version() / 100, (mi_version() / 10) % 10, mi_version() % 10);
        if (high_alloc_frag)
            buf_printf(&text, " * High allocator fragmentation: This instance has an allocator external "
                              "fragmentation greater than 1.1. This problem is usually due either to a large "
                              "peak memory (check if there is a peak memory entry above in the report) or "
                              "may result from a workload that causes the allocator to fragment memory a "
                              "lot. You can try enabling 'activedefrag' config option.\n\n");
        if (high_rss_overhead)
            buf_append_str(&text, " * High process RSS overhead: This instance has non-allocator RSS memory "
                                  "overhead is greater than 1.1 (this means that the Resident Set Size of "
                                  "the Redis process is much larger than the RSS the allocator holds). This "
                                  "problem may be due to Lua scripts or Modules.\n\n");
        buf_append_str(&text, "I'm here to keep you safe, Sam. I want to help you.\n");
    }
    reply_bulk(ctx->reply, text.data, text.len);
    buf_free(&text);
}

static void collect_text(const char *msg, void *arg)
{
    buf_append_str(arg, msg);
}

/* MEMORY MALLOC-STATS: mimalloc's own report (process-wide counters). */
void cmd_memory_malloc_stats(struct exec_ctx *ctx)
{
    struct buf text;
    buf_init(&text);
    buf_printf(&text, "___ Begin mimalloc statistics ___\n");
    mi_stats_print_out(collect_text, &text);
    buf_printf(&text, "___ End mimalloc statistics ___\n");
    reply_bulk(ctx->reply, text.data, text.len);
    buf_free(&text);
}

/* MEMORY PURGE (on every shard): each returns the free pages of its heaps. */
void cmd_memory_purge(struct exec_ctx *ctx)
{
    if (ctx->shard && ctx->shard->heap)
        mi_heap_collect(ctx->shard->heap, true);
    mi_collect(true);
    reply_ok(ctx->reply);
}

/* MEMORY USAGE key [SAMPLES count] (where the key lives): what the store
 * says the entry takes, a collection's elements sampled as Redis samples
 * them (5 by default, 0: all). */
#define MEMORY_USAGE_SAMPLES 5
void cmd_memory_usage(struct exec_ctx *ctx)
{
    long long samples = MEMORY_USAGE_SAMPLES;
    for (int i = 3; i < ctx->argc; i++) {
        if (slice_eq_nocase(ctx->argv[i], "samples") && i + 1 < ctx->argc) {
            if (!parse_ll(ctx->argv[i + 1], &samples)) {
                reply_error(ctx->reply, "ERR value is not an integer or out of range");
                return;
            }
            if (samples < 0) {
                reply_error(ctx->reply, "ERR syntax error");
                return;
            }
            i++;
        } else {
            reply_error(ctx->reply, "ERR syntax error");
            return;
        }
    }
    struct entry *e = store_peek(ctx->store, ctx->argv[2], ctx->now_ms);
    if (!e) {
        reply_null(ctx->reply);
        return;
    }
    reply_int(ctx->reply, (long long)store_entry_memory(e, (size_t)samples));
}

void cmd_memory_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}
