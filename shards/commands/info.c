/* info: INFO, every section Redis 7 prints that ringkv has something for.
 *
 * Runs on shard 0 (CMD_SHARD0: the replication section is read there) and
 * reads every shard's struct shard_stats with relaxed loads (stats.h). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <mimalloc.h>

#include "shards/commands/commands.h"
#include "core/clock.h"
#include "shards/commands/server.h"
#include "core/config.h"
#include "core/log.h"
#include "core/stats.h"
#include "shards/node.h"
#include "shards/aof.h"
#include "shards/persist.h"
#include "shards/shard.h"
#include "shards/store/store.h"
#include "shards/tracking_node.h"

#include "ringkv_version.h" /* REDIS_COMPAT_VERSION: the Redis version reported, so clients
                               enable their Redis 7 paths */

/* ------------------------------------------------------------------ INFO */

enum info_section {
    INFO_SERVER       = 1u << 0,
    INFO_CLIENTS      = 1u << 1,
    INFO_MEMORY       = 1u << 2,
    INFO_PERSISTENCE  = 1u << 3,
    INFO_STATS        = 1u << 4,
    INFO_REPLICATION  = 1u << 5,
    INFO_CPU          = 1u << 6,
    INFO_MODULES      = 1u << 7,
    INFO_COMMANDSTATS = 1u << 8,
    INFO_ERRORSTATS   = 1u << 9,
    INFO_LATENCYSTATS = 1u << 10,
    INFO_CLUSTER      = 1u << 11,
    INFO_KEYSPACE     = 1u << 12,
};

#define INFO_ALL     (~0u)
#define INFO_DEFAULT (INFO_ALL & ~(INFO_COMMANDSTATS | INFO_LATENCYSTATS))

static const struct {
    const char *name;
    unsigned    bits;
} info_names[] = {
    { "server", INFO_SERVER }, { "clients", INFO_CLIENTS }, { "memory", INFO_MEMORY },
    { "persistence", INFO_PERSISTENCE }, { "stats", INFO_STATS },
    { "replication", INFO_REPLICATION }, { "cpu", INFO_CPU }, { "modules", INFO_MODULES },
    { "commandstats", INFO_COMMANDSTATS }, { "errorstats", INFO_ERRORSTATS },
    { "latencystats", INFO_LATENCYSTATS }, { "cluster", INFO_CLUSTER },
    { "keyspace", INFO_KEYSPACE }, { "default", INFO_DEFAULT }, { "all", INFO_ALL },
    { "everything", INFO_ALL },
};

/* Every shard's counters added up. */
struct info_totals {
    uint64_t commands, connections, rejected_conns, net_in, net_out, repl_in, repl_out, errors, cross_shard;
    uint64_t reads, writes, reply_expands, reply_shrinks;
    uint64_t held_writes, held_writes_tryagain, staged_keys, migrate_links;
    uint64_t keys, expires, used_memory, expired, evicted, hits, misses;
    uint64_t client_max_output, client_max_input; /* the biggest of the shards' */
    /* gauges: each shard's may wrap, their sum does not (stats.h) */
    uint64_t blocked, blocked_timeout, tracking_clients, tracking_keys, tracking_items;
    /* eviction: steps cut at their time bound; ms over maxmemory in all
     * (ended spells and current ones) and in the current spell (the
     * longest of the shards') */
    uint64_t eviction_time_cap, eviction_exceeded_ms, eviction_current_ms;
    uint64_t pubsub_channels, pubsub_patterns, pubsubshard_channels, clients_normal_memory;
    /* the expiry cycles' estimates: avg_ttl weighted by each shard's keys
     * with an expiry (shards with an estimate only), the stale share
     * averaged over the shards */
    uint64_t avg_ttl_ms, expired_time_cap;
    double   expired_stale_perc;
};

static void sum_shards(const struct node *n, struct info_totals *t)
{
    memset(t, 0, sizeof(*t));
    double ttl_weighted = 0;
    uint64_t ttl_keys = 0;
    for (int i = 0; i < n->nshards; i++) {
        const struct shard_stats *s = &n->shards[i]->stats;
        t->commands       += stat_load(&s->commands_processed);
        t->connections    += stat_load(&s->connections_received);
        t->rejected_conns += stat_load(&s->rejected_connections);
        t->net_in         += stat_load(&s->net_input_bytes);
        t->net_out        += stat_load(&s->net_output_bytes);
        t->repl_in        += stat_load(&s->net_repl_input_bytes);
        t->repl_out       += stat_load(&s->net_repl_output_bytes);
        t->errors         += stat_load(&s->total_error_replies);
        t->reads          += stat_load(&s->reads_processed);
        t->writes         += stat_load(&s->writes_processed);
        t->reply_expands  += stat_load(&s->reply_buffer_expands);
        t->reply_shrinks  += stat_load(&s->reply_buffer_shrinks);
        t->cross_shard    += stat_load(&s->cross_shard_requests);
        t->held_writes    += stat_load(&s->held_writes);
        t->held_writes_tryagain += stat_load(&s->held_writes_tryagain);
        t->staged_keys    += stat_load(&s->staged_keys);
        t->migrate_links  += stat_load(&s->migrate_links);
        t->keys           += stat_load(&s->keys);
        t->expires        += stat_load(&s->expires);
        t->used_memory    += stat_load(&s->used_memory);
        t->expired        += stat_load(&s->expired_keys);
        t->evicted        += stat_load(&s->evicted_keys);
        t->hits           += stat_load(&s->keyspace_hits);
        t->misses         += stat_load(&s->keyspace_misses);
        t->expired_time_cap += stat_load(&s->expired_time_cap);
        t->expired_stale_perc += (double)stat_load(&s->expired_stale_ppm) / 10000.0 / n->nshards;
        uint64_t avg_ttl = stat_load(&s->avg_ttl_ms);
        if (avg_ttl > 0) { /* a shard whose cycle has not sampled yet has no estimate */
            ttl_weighted += (double)avg_ttl * (double)stat_load(&s->expires);
            ttl_keys += stat_load(&s->expires);
        }
        t->blocked          += stat_load(&s->blocked_clients);
        t->blocked_timeout  += stat_load(&s->blocked_with_timeout);
        t->tracking_clients += stat_load(&s->tracking_clients);
        t->tracking_keys    += stat_load(&s->tracking_keys);
        t->tracking_items   += stat_load(&s->tracking_items);
        t->eviction_time_cap += stat_load(&s->eviction_time_cap);
        t->pubsub_channels   += stat_load(&s->pubsub_channels);
        t->pubsub_patterns   += stat_load(&s->pubsub_patterns);
        t->pubsubshard_channels += stat_load(&s->pubsubshard_channels);
        t->clients_normal_memory += stat_load(&s->clients_normal_memory);
        uint64_t since = stat_load(&s->eviction_exceeded_since_us), now_us = clock_mono_ns() / 1000 + 1;
        uint64_t current = since && now_us > since ? (now_us - since) / 1000 : 0;
        t->eviction_exceeded_ms += stat_load(&s->eviction_exceeded_us) / 1000 + current;
        t->eviction_current_ms = current > t->eviction_current_ms ? current : t->eviction_current_ms;
        uint64_t out = stat_load(&s->client_max_output);
        t->client_max_output = out > t->client_max_output ? out : t->client_max_output;
        uint64_t in = stat_load(&s->client_max_input);
        t->client_max_input = in > t->client_max_input ? in : t->client_max_input;
    }
    t->avg_ttl_ms = ttl_keys ? (uint64_t)(ttl_weighted / (double)ttl_keys) : 0;
}

/* Redis's bytesToHuman. */
static void bytes_human(char *out, size_t n, uint64_t b)
{
    double d = (double)b;
    if (b < 1024)
        snprintf(out, n, "%lluB", (unsigned long long)b);
    else if (b < 1024ULL * 1024)
        snprintf(out, n, "%.2fK", d / 1024);
    else if (b < 1024ULL * 1024 * 1024)
        snprintf(out, n, "%.2fM", d / (1024.0 * 1024));
    else if (b < 1024ULL * 1024 * 1024 * 1024)
        snprintf(out, n, "%.2fG", d / (1024.0 * 1024 * 1024));
    else if (b < 1024ULL * 1024 * 1024 * 1024 * 1024)
        snprintf(out, n, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
    else
        snprintf(out, n, "%.2fP", d / (1024.0 * 1024 * 1024 * 1024 * 1024));
}

/* instantaneous_ops_per_sec, instantaneous_input_kbps and _output_kbps:
 * commands and network bytes per second between two INFO calls at least a
 * second apart (the last rates are kept in between). INFO is rare and runs
 * on any shard, so a mutex is fine here. */
enum { RATE_OPS, RATE_NET_IN, RATE_NET_OUT, RATE_REPL_IN, RATE_REPL_OUT, RATES };
static pthread_mutex_t ops_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t  ops_last_ms;
static uint64_t ops_last_count[RATES];
static double   ops_rate[RATES];

/* counts[RATES] now: rates[RATES] per second */
static void rates_per_sec(int64_t now_ms, const uint64_t *counts, double *rates)
{
    pthread_mutex_lock(&ops_lock);
    if (ops_last_ms == 0) {
        ops_last_ms = now_ms;
        memcpy(ops_last_count, counts, sizeof ops_last_count);
    } else if (now_ms - ops_last_ms >= 1000) {
        for (int i = 0; i < RATES; i++) {
            /* a count below the last one was reset (CONFIG RESETSTAT)
             * meanwhile: all of it is from this window */
            uint64_t delta = counts[i] >= ops_last_count[i] ? counts[i] - ops_last_count[i] : counts[i];
            ops_rate[i] = (double)delta * 1000.0 / (double)(now_ms - ops_last_ms);
        }
        ops_last_ms = now_ms;
        memcpy(ops_last_count, counts, sizeof ops_last_count);
    }
    memcpy(rates, ops_rate, sizeof ops_rate);
    pthread_mutex_unlock(&ops_lock);
}

struct info_cmd_arg {
    const struct node *node;
    struct buf        *out;
    bool               latency; /* latencystats instead of commandstats */
};

static void info_command_line(void *arg, const struct command *cmd, const char *fullname)
{
    struct info_cmd_arg *a = arg;
    const struct node *n = a->node;
    int idx = cmd->index;
    if (idx < 0)
        return;
    if (a->latency) {
        const struct latency_hist **hs = mi_malloc(sizeof(*hs) * (size_t)(n->nshards > 0 ? n->nshards : 1));
        if (hs == NULL)
            abort();
        int nh = 0;
        for (int i = 0; i < n->nshards; i++) {
            const struct shard_stats *s = &n->shards[i]->stats;
            if (s->cmd == NULL || (size_t)idx >= s->ncommands)
                continue;
            const struct latency_hist *h = __atomic_load_n(&s->cmd[idx].latency, __ATOMIC_ACQUIRE);
            if (h != NULL && stat_load(&h->count) > 0)
                hs[nh++] = h;
        }
        if (nh > 0) {
            /* the percentiles latency-tracking-info-percentiles names,
             * written as Redis writes them (p50, p99.9: no trailing zeros) */
            buf_printf(a->out, "latency_percentiles_usec_%s:", fullname);
            const char *p = config_str(&n->config, latency_tracking_info_percentiles);
            bool first = true;
            while (p && *p) {
                char *end;
                double q = strtod(p, &end);
                if (end == p)
                    break;
                char name[48];
                int len = snprintf(name, sizeof(name), "%f", q);
                while (len > 1 && name[len - 1] == '0')
                    name[--len] = '\0';
                if (len > 1 && name[len - 1] == '.')
                    name[--len] = '\0';
                buf_printf(a->out, "%sp%s=%.3f", first ? "" : ",", name, latency_hist_percentile(hs, nh, q));
                first = false;
                p = end;
            }
            buf_append_str(a->out, "\r\n");
        }
        mi_free(hs);
        return;
    }
    uint64_t calls = 0, usec = 0, rejected = 0, failed = 0;
    for (int i = 0; i < n->nshards; i++) {
        const struct shard_stats *s = &n->shards[i]->stats;
        if (s->cmd == NULL || (size_t)idx >= s->ncommands)
            continue;
        calls    += stat_load(&s->cmd[idx].calls);
        usec     += stat_load(&s->cmd[idx].usec);
        rejected += stat_load(&s->cmd[idx].rejected_calls);
        failed   += stat_load(&s->cmd[idx].failed_calls);
    }
    if (calls == 0 && rejected == 0 && failed == 0)
        return;
    buf_printf(a->out, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
               fullname, (unsigned long long)calls, (unsigned long long)usec,
               calls ? (double)usec / (double)calls : 0.0,
               (unsigned long long)rejected, (unsigned long long)failed);
}

static void info_section_header(struct buf *out, int *sections, const char *title)
{
    if ((*sections)++ > 0)
        buf_append_str(out, "\r\n");
    buf_printf(out, "# %s\r\n", title);
}

/* Build the INFO text of the selected sections into out. */
/* INFO errorstats: every shard's error kinds added up by name, in the
 * order they were first seen ("errorstat_ERR:count=3"). */
static void info_errorstats(const struct node *n, struct buf *out)
{
    struct { char name[32]; uint64_t count; } kinds[ERROR_KINDS_MAX];
    int nkinds = 0;
    for (int i = 0; i < n->nshards; i++) {
        const struct shard_stats *st = &n->shards[i]->stats;
        int k = __atomic_load_n(&st->nerrors, __ATOMIC_ACQUIRE);
        for (int e = 0; e < k; e++) {
            int j = 0;
            while (j < nkinds && strcmp(kinds[j].name, st->errors[e].name) != 0)
                j++;
            if (j == nkinds) {
                if (nkinds == ERROR_KINDS_MAX)
                    continue;
                memcpy(kinds[j].name, st->errors[e].name, sizeof(kinds[j].name));
                kinds[j].count = 0;
                nkinds++;
            }
            kinds[j].count += stat_load(&st->errors[e].count);
        }
    }
    for (int j = 0; j < nkinds; j++)
        if (kinds[j].count)
            buf_printf(out, "errorstat_%s:count=%llu\r\n", kinds[j].name, (unsigned long long)kinds[j].count);
}

static void info_keyspace(const struct node *n, struct buf *out);

static void info_build(struct shard *sh, unsigned want, int64_t now_ms, struct buf *out)
{
    struct node *n = sh->node;
    struct config *cfg = &n->config;
    struct info_totals t;
    sum_shards(n, &t);
    int sections = 0;
    char h1[32], h2[32];

    if (want & INFO_SERVER) {
        struct utsname u;
        if (uname(&u) != 0)
            memset(&u, 0, sizeof(u));
        int64_t up_s = (now_ms - n->start_ms) / 1000;
        info_section_header(out, &sections, "Server");
        buf_printf(out,
                   "redis_version:" REDIS_COMPAT_VERSION "\r\n"
                   "ringkv_version:" RINGKV_VERSION "\r\n"
                   "redis_git_sha1:00000000\r\n"
                   "redis_git_dirty:0\r\n"
                   "redis_build_id:0\r\n"
                   "redis_mode:standalone\r\n"
                   "os:%s %s %s\r\n"
                   "arch_bits:%d\r\n"
                   "monotonic_clock:POSIX clock_gettime\r\n"
                   "multiplexing_api:io_uring\r\n"
                   "atomicvar_api:c11-builtin\r\n"
#ifdef __VERSION__
                   "gcc_version:%s\r\n"
#endif
                   "process_id:%d\r\n"
                   "process_supervised:no\r\n"
                   "run_id:%s\r\n"
                   "tcp_port:%d\r\n"
                   "server_time_usec:%lld\r\n"
                   "uptime_in_seconds:%lld\r\n"
                   "uptime_in_days:%lld\r\n"
                   "hz:%lld\r\n"
                   "configured_hz:%lld\r\n"
                   "lru_clock:%lld\r\n"
                   "executable:%s\r\n"
                   "config_file:%s\r\n"
                   "io_threads_active:0\r\n"
                   "shards:%d\r\n",
                   u.sysname, u.release, u.machine, (int)(sizeof(void *) * 8),
#ifdef __VERSION__
                   __VERSION__,
#endif
                   (int)getpid(), n->run_id, n->port, (long long)clock_unix_us(),
                   (long long)up_s, (long long)(up_s / 86400),
                   config_load(cfg, hz), config_load(cfg, hz),
                   (long long)((now_ms / 1000) & ((1 << 24) - 1)),
                   n->executable, n->config_file, n->nshards);
    }
    if (want & INFO_CLIENTS) {
        info_section_header(out, &sections, "Clients");
        buf_printf(out,
                   "connected_clients:%ld\r\n"
                   "cluster_connections:0\r\n"
                   "maxclients:%lld\r\n"
                   "client_recent_max_input_buffer:%llu\r\n"
                   "client_recent_max_output_buffer:%llu\r\n"
                   "blocked_clients:%llu\r\n"
                   "tracking_clients:%llu\r\n"
                   "clients_in_timeout_table:%llu\r\n",
                   (long)atomic_load(&n->clients), config_load(cfg, maxclients),
                   (unsigned long long)t.client_max_input, (unsigned long long)t.client_max_output, (unsigned long long)t.blocked,
                   (unsigned long long)t.tracking_clients, (unsigned long long)t.blocked_timeout);
    }
    if (want & INFO_MEMORY) {
        /* Redis 7's fields; what each means here: memory.c */
        struct memory_figures f;
        memory_figures(n, &f);
        uint64_t maxmem = (uint64_t)config_load(cfg, maxmemory);
        uint64_t sysmem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t net = f.used > f.startup ? f.used - f.startup : 0;
        char policy[32], h3[32], h4[32], h5[32], h6[32];
        /* the bodies the node keeps for EVALSHA (scripting.c); the
         * compiled scripts are in the shards' heaps, in used_memory */
        size_t scripts = 0, script_bytes = 0;
        scripting_registry_size(n, &scripts, &script_bytes);
        size_t libraries, functions, function_bytes; /* FUNCTION LOAD's code (functions.c) */
        function_registry_counts(n, &libraries, &functions, &function_bytes);
        bytes_human(h6, sizeof(h6), script_bytes);
        config_value_text(cfg, "maxmemory-policy", policy, sizeof(policy));
        bytes_human(h1, sizeof(h1), f.used);
        bytes_human(h2, sizeof(h2), f.rss);
        bytes_human(h3, sizeof(h3), f.peak);
        bytes_human(h4, sizeof(h4), maxmem);
        bytes_human(h5, sizeof(h5), sysmem);
        int mv = mi_version();
        info_section_header(out, &sections, "Memory");
        buf_printf(out,
                   "used_memory:%llu\r\n"
                   "used_memory_human:%s\r\n"
                   "used_memory_rss:%llu\r\n"
                   "used_memory_rss_human:%s\r\n"
                   "used_memory_peak:%llu\r\n"
                   "used_memory_peak_human:%s\r\n"
                   "used_memory_peak_perc:%.2f%%\r\n"
                   "used_memory_overhead:%llu\r\n"
                   "used_memory_startup:%llu\r\n"
                   "used_memory_dataset:%llu\r\n"
                   "used_memory_dataset_perc:%.2f%%\r\n"
                   "allocator_allocated:%llu\r\n"
                   "allocator_active:%llu\r\n"
                   "allocator_resident:%llu\r\n"
                   "total_system_memory:%llu\r\n"
                   "total_system_memory_human:%s\r\n"
                   "used_memory_lua:0\r\n"
                   "used_memory_vm_eval:0\r\n"
                   "used_memory_lua_human:0B\r\n"
                   "used_memory_scripts_eval:%llu\r\n"
                   "number_of_cached_scripts:%llu\r\n"
                   "number_of_functions:%zu\r\n"
                   "number_of_libraries:%zu\r\n"
                   "used_memory_vm_functions:0\r\n"
                   "used_memory_vm_total:0\r\n"
                   "used_memory_vm_total_human:0B\r\n"
                   "used_memory_functions:%zu\r\n"
                   "used_memory_scripts:%llu\r\n"
                   "used_memory_scripts_human:%s\r\n"
                   "maxmemory:%llu\r\n"
                   "maxmemory_human:%s\r\n"
                   "maxmemory_policy:%s\r\n"
                   "allocator_frag_ratio:%.2f\r\n"
                   "allocator_frag_bytes:%lld\r\n"
                   "allocator_rss_ratio:%.2f\r\n"
                   "allocator_rss_bytes:%lld\r\n"
                   "rss_overhead_ratio:%.2f\r\n"
                   "rss_overhead_bytes:%lld\r\n"
                   "mem_fragmentation_ratio:%.2f\r\n"
                   "mem_fragmentation_bytes:%lld\r\n"
                   "mem_not_counted_for_evict:%llu\r\n"
                   "mem_clients_slaves:%llu\r\n"
                   "mem_clients_normal:%llu\r\n"
                   "mem_cluster_links:0\r\n"
                   "mem_aof_buffer:0\r\n"
                   "mem_allocator:mimalloc-%d.%d.%d\r\n"
                   "active_defrag_running:0\r\n"
                   "lazyfree_pending_objects:0\r\n"
                   "lazyfreed_objects:0\r\n",
                   (unsigned long long)f.used, h1, (unsigned long long)f.rss, h2,
                   (unsigned long long)f.peak, h3, f.peak ? 100.0 * (double)f.used / (double)f.peak : 100.0,
                   (unsigned long long)f.overhead, (unsigned long long)f.startup,
                   (unsigned long long)f.dataset, net ? 100.0 * (double)f.dataset / (double)net : 0.0,
                   (unsigned long long)f.used, (unsigned long long)f.active, (unsigned long long)f.committed,
                   (unsigned long long)sysmem, h5,
                   (unsigned long long)script_bytes, (unsigned long long)scripts, functions, libraries,
                   function_bytes,
                   (unsigned long long)script_bytes, h6,
                   (unsigned long long)maxmem, h4, policy,
                   f.used ? (double)f.active / (double)f.used : 0.0, (long long)f.active - (long long)f.used,
                   f.active ? (double)f.committed / (double)f.active : 0.0,
                   (long long)f.committed - (long long)f.active,
                   f.committed ? (double)f.rss / (double)f.committed : 0.0,
                   (long long)f.rss - (long long)f.committed,
                   f.used ? (double)f.rss / (double)f.used : 0.0, (long long)f.rss - (long long)f.used,
                   (unsigned long long)f.not_counted, (unsigned long long)f.not_counted,
                   (unsigned long long)t.clients_normal_memory, mv / 100, (mv / 10) % 10, mv % 10);
        shard_modules_info(sh, "memory", out); /* replication's backlog, when it tells */
    }
    if (want & INFO_PERSISTENCE) {
        info_section_header(out, &sections, "Persistence");
        persist_info(sh, out); /* loading .. rdb_*: shards/persist.c */
        aof_info(sh, out); /* aof_*: shards/aof.c */
    }
    if (want & INFO_STATS) {
        uint64_t counts[RATES] = { t.commands, t.net_in, t.net_out, t.repl_in, t.repl_out };
        double rates[RATES];
        rates_per_sec(now_ms, counts, rates);
        info_section_header(out, &sections, "Stats");
        buf_printf(out,
                   "total_connections_received:%llu\r\n"
                   "total_commands_processed:%llu\r\n"
                   "instantaneous_ops_per_sec:%llu\r\n"
                   "total_net_input_bytes:%llu\r\n"
                   "total_net_output_bytes:%llu\r\n"
                   "total_net_repl_input_bytes:%llu\r\n"
                   "total_net_repl_output_bytes:%llu\r\n"
                   "instantaneous_input_kbps:%.2f\r\n"
                   "instantaneous_output_kbps:%.2f\r\n"
                   "instantaneous_input_repl_kbps:%.2f\r\n"
                   "instantaneous_output_repl_kbps:%.2f\r\n"
                   "rejected_connections:%llu\r\n"
                   "expired_keys:%llu\r\n"
                   "expired_stale_perc:%.2f\r\n"
                   "expired_time_cap_reached_count:%llu\r\n"
                   "expire_cycle_cpu_milliseconds:0\r\n"
                   "evicted_keys:%llu\r\n"
                   "evicted_clients:0\r\n"
                   "total_eviction_exceeded_time:%llu\r\n"
                   "current_eviction_exceeded_time:%llu\r\n"
                   "current_active_defrag_time:0\r\n"
                   "total_active_defrag_time:0\r\n"
                   "keyspace_hits:%llu\r\n"
                   "keyspace_misses:%llu\r\n"
                   "pubsub_channels:%llu\r\n"
                   "pubsub_patterns:%llu\r\n"
                   "pubsubshard_channels:%llu\r\n"
                   "migrate_cached_sockets:%llu\r\n"
                   /* ringkv's: writes of keys in flight held (dispatch.h) */
                   "migrate_held_writes:%llu\r\n"
                   "migrate_held_writes_tryagain:%llu\r\n"
                   /* ringkv's: big collections whose parts a slot move is
                    * sending here, staged outside the keyspace (staging.h) */
                   "migrate_staged_keys:%llu\r\n"
                   "slave_expires_tracked_keys:0\r\n"
                   "active_defrag_hits:0\r\n"
                   "active_defrag_misses:0\r\n"
                   "active_defrag_key_hits:0\r\n"
                   "active_defrag_key_misses:0\r\n"
                   "tracking_total_keys:%llu\r\n"
                   "tracking_total_items:%llu\r\n"
                   "tracking_total_prefixes:%llu\r\n" /* BCAST's, node-wide */
                   "unexpected_error_replies:0\r\n"
                   "total_error_replies:%llu\r\n"
                   "dump_payload_sanitizations:0\r\n"
                   /* the connections' receives that brought bytes, and
                    * their sends (net/loop.h struct loop_counts; a tick old) */
                   "total_reads_processed:%llu\r\n"
                   "total_writes_processed:%llu\r\n"
                   "io_threaded_reads_processed:0\r\n"
                   "io_threaded_writes_processed:0\r\n"
                   /* a connection's reply buffer grown, given back
                    * (net/loop.h struct loop_counts; a tick old) */
                   "reply_buffer_shrinks:%llu\r\n"
                   "reply_buffer_expands:%llu\r\n"
                   "cross_shard_requests:%llu\r\n"
                   "eviction_time_cap_reached_count:%llu\r\n",
                   (unsigned long long)t.connections, (unsigned long long)t.commands,
                   (unsigned long long)rates[RATE_OPS],
                   (unsigned long long)t.net_in, (unsigned long long)t.net_out,
                   (unsigned long long)t.repl_in, (unsigned long long)t.repl_out,
                   rates[RATE_NET_IN] / 1024.0, rates[RATE_NET_OUT] / 1024.0,
                   rates[RATE_REPL_IN] / 1024.0, rates[RATE_REPL_OUT] / 1024.0,
                   (unsigned long long)t.rejected_conns, (unsigned long long)t.expired,
                   t.expired_stale_perc, (unsigned long long)t.expired_time_cap,
                   (unsigned long long)t.evicted, (unsigned long long)t.eviction_exceeded_ms,
                   (unsigned long long)t.eviction_current_ms, (unsigned long long)t.hits,
                   (unsigned long long)t.misses, (unsigned long long)t.pubsub_channels,
                   (unsigned long long)t.pubsub_patterns, (unsigned long long)t.pubsubshard_channels,
                   (unsigned long long)t.migrate_links, (unsigned long long)t.held_writes,
                   (unsigned long long)t.held_writes_tryagain, (unsigned long long)t.staged_keys,
                   (unsigned long long)t.tracking_keys,
                   (unsigned long long)t.tracking_items,
                   (unsigned long long)tracking_total_prefixes(sh->node), (unsigned long long)t.errors,
                   (unsigned long long)t.reads, (unsigned long long)t.writes,
                   (unsigned long long)t.reply_shrinks,
                   (unsigned long long)t.reply_expands, (unsigned long long)t.cross_shard,
                   (unsigned long long)t.eviction_time_cap);
        if (sh->id == 0)
            shard_modules_info(sh, "stats", out);
    }
    if (want & INFO_REPLICATION) {
        info_section_header(out, &sections, "Replication");
        if (sh->id == 0)
            shard_modules_info(sh, "replication", out);
    }
    if (want & INFO_CPU) {
        struct rusage ru, main_ru; /* the process; this thread: shard 0's, INFO runs there */
        if (getrusage(RUSAGE_SELF, &ru) != 0)
            memset(&ru, 0, sizeof(ru));
        if (getrusage(RUSAGE_THREAD, &main_ru) != 0)
            memset(&main_ru, 0, sizeof(main_ru));
        info_section_header(out, &sections, "CPU");
        buf_printf(out,
                   "used_cpu_sys:%ld.%06ld\r\n"
                   "used_cpu_user:%ld.%06ld\r\n"
                   "used_cpu_sys_children:0.000000\r\n"
                   "used_cpu_user_children:0.000000\r\n"
                   "used_cpu_sys_main_thread:%ld.%06ld\r\n"
                   "used_cpu_user_main_thread:%ld.%06ld\r\n",
                   (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
                   (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
                   (long)main_ru.ru_stime.tv_sec, (long)main_ru.ru_stime.tv_usec,
                   (long)main_ru.ru_utime.tv_sec, (long)main_ru.ru_utime.tv_usec);
    }
    if (want & INFO_MODULES)
        info_section_header(out, &sections, "Modules");
    if (want & INFO_COMMANDSTATS) {
        info_section_header(out, &sections, "Commandstats");
        struct info_cmd_arg a = { n, out, false };
        each_command(info_command_line, &a);
    }
    if (want & INFO_ERRORSTATS) {
        info_section_header(out, &sections, "Errorstats");
        info_errorstats(n, out);
    }
    if (want & INFO_LATENCYSTATS) {
        info_section_header(out, &sections, "Latencystats");
        struct info_cmd_arg a = { n, out, true };
        if (config_load(&n->config, latency_tracking)) /* "no": the section stays empty, as in Redis */
            each_command(info_command_line, &a);
    }
    if (want & INFO_CLUSTER) {
        info_section_header(out, &sections, "Cluster");
        buf_printf(out, "cluster_enabled:%d\r\n", config_load(&n->config, cluster_enabled) ? 1 : 0);
    }
    if (want & INFO_KEYSPACE) {
        info_section_header(out, &sections, "Keyspace");
        info_keyspace(n, out);
    }
}

/* A line for each database holding keys (its figures as each shard last
 * published them; the average TTL weighted by the keys with one). */
static void info_keyspace(const struct node *n, struct buf *out)
{
    int ndbs = n->nshards > 0 ? n->shards[0]->ndbs : 0;
    for (int d = 0; d < ndbs; d++) {
        uint64_t keys = 0, expires = 0;
        double ttl_weighted = 0;
        for (int i = 0; i < n->nshards; i++) {
            const struct db_counts *c = &n->shards[i]->db_counts[d];
            uint64_t e = __atomic_load_n(&c->expires, __ATOMIC_RELAXED);
            keys += __atomic_load_n(&c->keys, __ATOMIC_RELAXED);
            expires += e;
            ttl_weighted += (double)__atomic_load_n(&c->avg_ttl_ms, __ATOMIC_RELAXED) * (double)e;
        }
        if (keys > 0)
            buf_printf(out, "db%d:keys=%llu,expires=%llu,avg_ttl=%llu\r\n", d, (unsigned long long)keys,
                       (unsigned long long)expires,
                       (unsigned long long)(expires ? ttl_weighted / (double)expires : 0));
    }
}

void cmd_info(struct exec_ctx *ctx)
{
    unsigned want = 0;
    if (ctx->argc < 2)
        want = INFO_DEFAULT;
    for (int i = 1; i < ctx->argc; i++) {
        for (size_t k = 0; k < sizeof(info_names) / sizeof(info_names[0]); k++)
            if (slice_eq_nocase(ctx->argv[i], info_names[k].name))
                want |= info_names[k].bits;
        /* an unknown section adds nothing, as in Redis */
    }
    struct buf text;
    buf_init(&text);
    info_build(ctx->shard, want, ctx->now_ms, &text);
    reply_verbatim(ctx->reply, text.data ? text.data : "", text.len);
    buf_free(&text);
}
