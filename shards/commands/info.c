/* cmd_server: the server commands: INFO, CONFIG, COMMAND, TIME, SLOWLOG,
 * SHUTDOWN and the one CLUSTER subcommand a standalone node answers.
 *
 * Where they run (the rows in core/command.c say so by their flags):
 *  - INFO, CONFIG GET/SET/HELP, COMMAND, TIME, SHUTDOWN, CLUSTER: CMD_CONN,
 *    on the connection's thread. INFO reads every shard's struct shard_stats
 *    with relaxed loads (stats.h); CONFIG SET writes the node's config with
 *    relaxed stores (config.h).
 *  - CONFIG RESETSTAT, SLOWLOG GET/LEN/RESET: CMD_ALL_SHARDS, each shard on
 *    its own stats / slow log; SLOWLOG GET's parts are merged by
 *    merge_slowlog_get below (LEN: merge_sum_int, RESET/RESETSTAT:
 *    merge_first_ok). A shard's slow log holds the slow commands of its
 *    own clients, wherever they ran (shards/dispatch.c, slow_record).
 *
 * Subcommand handlers see the whole command: argv[0] is the container
 * ("CONFIG"), argv[1] the subcommand. */
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
#include "replication/repl.h"
#include "core/config.h"
#include "core/log.h"
#include "core/resp.h"
#include "core/slowlog.h"
#include "core/stats.h"
#include "shards/dispatch.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

#include "ringkv_version.h"

/* The Redis version ringkv reports, so clients enable their Redis 7 paths. */
#define REDIS_COMPAT_VERSION "7.0.0"

/* Copy a slice into a NUL-terminated buffer of n bytes; false if it does not fit. */
static bool slice_to_cstr(struct slice s, char *out, size_t n)
{
    if (s.len >= n)
        return false;
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return true;
}

static long long unix_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Reply a fixed help text as an array of status lines, as Redis does. */
static void reply_help(struct reply *r, const char *const *lines)
{
    size_t n = 0;
    while (lines[n])
        n++;
    reply_array(r, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(r, lines[i]);
}

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
    uint64_t commands, connections, rejected_conns, net_in, net_out, errors, cross_shard;
    uint64_t keys, expires, used_memory, expired, evicted, hits, misses;
};

static void sum_shards(const struct node *n, struct info_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < n->nshards; i++) {
        const struct shard_stats *s = &n->shards[i]->stats;
        t->commands       += stat_load(&s->commands_processed);
        t->connections    += stat_load(&s->connections_received);
        t->rejected_conns += stat_load(&s->rejected_connections);
        t->net_in         += stat_load(&s->net_input_bytes);
        t->net_out        += stat_load(&s->net_output_bytes);
        t->errors         += stat_load(&s->total_error_replies);
        t->cross_shard    += stat_load(&s->cross_shard_requests);
        t->keys           += stat_load(&s->keys);
        t->expires        += stat_load(&s->expires);
        t->used_memory    += stat_load(&s->used_memory);
        t->expired        += stat_load(&s->expired_keys);
        t->evicted        += stat_load(&s->evicted_keys);
        t->hits           += stat_load(&s->keyspace_hits);
        t->misses         += stat_load(&s->keyspace_misses);
    }
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

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long long size = 0, resident = 0;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (got != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Peak of used_memory as seen by INFO (sampled when INFO runs). */
static uint64_t used_memory_peak;

static uint64_t note_peak(uint64_t used)
{
    uint64_t old = __atomic_load_n(&used_memory_peak, __ATOMIC_RELAXED);
    while (used > old &&
           !__atomic_compare_exchange_n(&used_memory_peak, &old, used, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return used > old ? used : old;
}

/* instantaneous_ops_per_sec: commands per second between two INFO calls at
 * least a second apart (the last rate is kept in between). INFO is rare and
 * runs on any shard, so a mutex is fine here. */
static pthread_mutex_t ops_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t  ops_last_ms;
static uint64_t ops_last_count;
static uint64_t ops_rate;

static uint64_t ops_per_sec(int64_t now_ms, uint64_t commands)
{
    pthread_mutex_lock(&ops_lock);
    if (ops_last_ms == 0) {
        ops_last_ms = now_ms;
        ops_last_count = commands;
    } else if (now_ms - ops_last_ms >= 1000) {
        uint64_t delta = commands >= ops_last_count ? commands - ops_last_count : 0;
        ops_rate = delta * 1000 / (uint64_t)(now_ms - ops_last_ms);
        ops_last_ms = now_ms;
        ops_last_count = commands;
    }
    uint64_t r = ops_rate;
    pthread_mutex_unlock(&ops_lock);
    return r;
}

/* Visit every row of the command table, subcommands after their container,
 * with the name INFO and COMMAND use ("get", "config|get"). */
typedef void command_visit_fn(void *arg, const struct command *cmd, const char *fullname);

static void each_command(command_visit_fn *fn, void *arg)
{
    size_t n = 0;
    const struct command *table = command_table(&n);
    char full[128];
    for (size_t i = 0; i < n; i++) {
        fn(arg, &table[i], table[i].name);
        for (const struct command *sub = table[i].subcommands; sub && sub->name; sub++) {
            snprintf(full, sizeof(full), "%s|%s", table[i].name, sub->name);
            fn(arg, sub, full);
        }
    }
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
        if (nh > 0)
            buf_printf(a->out, "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n", fullname,
                       latency_hist_percentile(hs, nh, 50), latency_hist_percentile(hs, nh, 99),
                       latency_hist_percentile(hs, nh, 99.9));
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
                   (int)getpid(), n->run_id, n->port, unix_us(),
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
                   "client_recent_max_input_buffer:0\r\n"
                   "client_recent_max_output_buffer:0\r\n"
                   "blocked_clients:0\r\n"
                   "tracking_clients:0\r\n"
                   "clients_in_timeout_table:0\r\n",
                   (long)atomic_load(&n->clients), config_load(cfg, maxclients));
    }
    if (want & INFO_MEMORY) {
        uint64_t used = t.used_memory;
        uint64_t peak = note_peak(used);
        uint64_t rss = rss_bytes();
        uint64_t maxmem = (uint64_t)config_load(cfg, maxmemory);
        uint64_t sysmem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
        char policy[32], h3[32], h4[32], h5[32];
        config_value_text(cfg, "maxmemory-policy", policy, sizeof(policy));
        bytes_human(h1, sizeof(h1), used);
        bytes_human(h2, sizeof(h2), rss);
        bytes_human(h3, sizeof(h3), peak);
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
                   "used_memory_dataset:%llu\r\n"
                   "total_system_memory:%llu\r\n"
                   "total_system_memory_human:%s\r\n"
                   "maxmemory:%llu\r\n"
                   "maxmemory_human:%s\r\n"
                   "maxmemory_policy:%s\r\n"
                   "mem_fragmentation_ratio:%.2f\r\n"
                   "mem_allocator:mimalloc-%d.%d.%d\r\n",
                   (unsigned long long)used, h1, (unsigned long long)rss, h2,
                   (unsigned long long)peak, h3, peak ? 100.0 * (double)used / (double)peak : 100.0,
                   (unsigned long long)used, (unsigned long long)sysmem, h5,
                   (unsigned long long)maxmem, h4, policy,
                   used ? (double)rss / (double)used : 0.0,
                   mv / 100, (mv / 10) % 10, mv % 10);
    }
    if (want & INFO_PERSISTENCE) {
        info_section_header(out, &sections, "Persistence");
        buf_printf(out,
                   "loading:0\r\n"
                   "async_loading:0\r\n"
                   "current_cow_peak:0\r\n"
                   "current_cow_size:0\r\n"
                   "current_cow_size_age:0\r\n"
                   "current_fork_perc:0.00\r\n"
                   "current_save_keys_processed:0\r\n"
                   "current_save_keys_total:0\r\n"
                   "rdb_changes_since_last_save:0\r\n"
                   "rdb_bgsave_in_progress:0\r\n"
                   "rdb_last_save_time:%lld\r\n"
                   "rdb_last_bgsave_status:ok\r\n"
                   "rdb_last_bgsave_time_sec:-1\r\n"
                   "rdb_current_bgsave_time_sec:-1\r\n"
                   "rdb_saves:0\r\n"
                   "rdb_last_cow_size:0\r\n"
                   "aof_enabled:0\r\n"
                   "aof_rewrite_in_progress:0\r\n"
                   "aof_rewrite_scheduled:0\r\n"
                   "aof_last_rewrite_time_sec:-1\r\n"
                   "aof_current_rewrite_time_sec:-1\r\n"
                   "aof_last_bgrewrite_status:ok\r\n"
                   "aof_rewrites:0\r\n"
                   "aof_last_write_status:ok\r\n"
                   "aof_last_cow_size:0\r\n"
                   "module_fork_in_progress:0\r\n"
                   "module_fork_last_cow_size:0\r\n",
                   (long long)(n->start_ms / 1000));
    }
    if (want & INFO_STATS) {
        info_section_header(out, &sections, "Stats");
        buf_printf(out,
                   "total_connections_received:%llu\r\n"
                   "total_commands_processed:%llu\r\n"
                   "instantaneous_ops_per_sec:%llu\r\n"
                   "total_net_input_bytes:%llu\r\n"
                   "total_net_output_bytes:%llu\r\n"
                   "instantaneous_input_kbps:0.00\r\n"
                   "instantaneous_output_kbps:0.00\r\n"
                   "rejected_connections:%llu\r\n"
                   "expired_keys:%llu\r\n"
                   "expired_stale_perc:0.00\r\n"
                   "expired_time_cap_reached_count:0\r\n"
                   "expire_cycle_cpu_milliseconds:0\r\n"
                   "evicted_keys:%llu\r\n"
                   "evicted_clients:0\r\n"
                   "total_eviction_exceeded_time:0\r\n"
                   "current_eviction_exceeded_time:0\r\n"
                   "keyspace_hits:%llu\r\n"
                   "keyspace_misses:%llu\r\n"
                   "pubsub_channels:0\r\n"
                   "pubsub_patterns:0\r\n"
                   "latest_fork_usec:0\r\n"
                   "total_forks:0\r\n"
                   "migrate_cached_sockets:0\r\n"
                   "slave_expires_tracked_keys:0\r\n"
                   "active_defrag_hits:0\r\n"
                   "active_defrag_misses:0\r\n"
                   "active_defrag_key_hits:0\r\n"
                   "active_defrag_key_misses:0\r\n"
                   "tracking_total_keys:0\r\n"
                   "tracking_total_items:0\r\n"
                   "tracking_total_prefixes:0\r\n"
                   "unexpected_error_replies:0\r\n"
                   "total_error_replies:%llu\r\n"
                   "dump_payload_sanitizations:0\r\n"
                   "total_reads_processed:%llu\r\n"
                   "total_writes_processed:0\r\n"
                   "io_threaded_reads_processed:0\r\n"
                   "io_threaded_writes_processed:0\r\n"
                   "cross_shard_requests:%llu\r\n",
                   (unsigned long long)t.connections, (unsigned long long)t.commands,
                   (unsigned long long)ops_per_sec(now_ms, t.commands),
                   (unsigned long long)t.net_in, (unsigned long long)t.net_out,
                   (unsigned long long)t.rejected_conns, (unsigned long long)t.expired,
                   (unsigned long long)t.evicted, (unsigned long long)t.hits,
                   (unsigned long long)t.misses, (unsigned long long)t.errors,
                   (unsigned long long)t.commands, (unsigned long long)t.cross_shard);
        if (sh->id == 0)
            repl_info_stats(sh, out);
    }
    if (want & INFO_REPLICATION) {
        info_section_header(out, &sections, "Replication");
        if (sh->id == 0)
            repl_info(sh, out);
    }
    if (want & INFO_CPU) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) != 0)
            memset(&ru, 0, sizeof(ru));
        info_section_header(out, &sections, "CPU");
        buf_printf(out,
                   "used_cpu_sys:%ld.%06ld\r\n"
                   "used_cpu_user:%ld.%06ld\r\n"
                   "used_cpu_sys_children:0.000000\r\n"
                   "used_cpu_user_children:0.000000\r\n",
                   (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
                   (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    }
    if (want & INFO_MODULES)
        info_section_header(out, &sections, "Modules");
    if (want & INFO_COMMANDSTATS) {
        info_section_header(out, &sections, "Commandstats");
        struct info_cmd_arg a = { n, out, false };
        each_command(info_command_line, &a);
    }
    if (want & INFO_ERRORSTATS)
        info_section_header(out, &sections, "Errorstats");
    if (want & INFO_LATENCYSTATS) {
        info_section_header(out, &sections, "Latencystats");
        struct info_cmd_arg a = { n, out, true };
        each_command(info_command_line, &a);
    }
    if (want & INFO_CLUSTER) {
        info_section_header(out, &sections, "Cluster");
        buf_append_str(out, "cluster_enabled:0\r\n");
    }
    if (want & INFO_KEYSPACE) {
        info_section_header(out, &sections, "Keyspace");
        if (t.keys > 0)
            buf_printf(out, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n",
                       (unsigned long long)t.keys, (unsigned long long)t.expires);
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

/* ---------------------------------------------------------------- CONFIG */

struct config_pairs {
    const char **names; /* the table's names (static strings) */
    char       **values;
    size_t       n, cap;
};

static void config_pairs_add(void *arg, const char *name, const char *value)
{
    struct config_pairs *p = arg;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return; /* matched by an earlier pattern */
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->names = mi_realloc(p->names, p->cap * sizeof(*p->names));
        p->values = mi_realloc(p->values, p->cap * sizeof(*p->values));
        if (p->names == NULL || p->values == NULL)
            abort();
    }
    p->names[p->n] = name;
    p->values[p->n] = mi_strdup(value);
    if (p->values[p->n] == NULL)
        abort();
    p->n++;
}

void cmd_config_get(struct exec_ctx *ctx)
{
    struct config *cfg = &ctx->shard->node->config;
    struct config_pairs pairs = { 0 };
    for (int i = 2; i < ctx->argc; i++) {
        char *pattern = mi_malloc(ctx->argv[i].len + 1);
        if (pattern == NULL)
            abort();
        memcpy(pattern, ctx->argv[i].ptr, ctx->argv[i].len);
        pattern[ctx->argv[i].len] = '\0';
        config_get(cfg, pattern, config_pairs_add, &pairs);
        mi_free(pattern);
    }
    reply_map(ctx->reply, pairs.n);
    for (size_t i = 0; i < pairs.n; i++) {
        reply_bulk_str(ctx->reply, pairs.names[i]);
        reply_bulk_str(ctx->reply, pairs.values[i]);
        mi_free(pairs.values[i]);
    }
    mi_free(pairs.names);
    mi_free(pairs.values);
}

/* Option names are short; anything longer is simply unknown. */
#define CONFIG_NAME_MAX 128

void cmd_config_set(struct exec_ctx *ctx)
{
    struct config *cfg = &ctx->shard->node->config;
    if (ctx->argc < 4 || (ctx->argc - 2) % 2 != 0) {
        reply_errorf(ctx->reply, ERR_ARITY, "config|set");
        return;
    }
    int npairs = (ctx->argc - 2) / 2;
    char err[512];
    /* Redis 7 applies all or nothing: check every pair first, then apply
     * them. A concurrent CONFIG SET on another shard may interleave; each
     * option still ends up with a valid value. */
    char  (*names)[CONFIG_NAME_MAX] = mi_malloc((size_t)npairs * CONFIG_NAME_MAX);
    char  **values = mi_calloc((size_t)npairs, sizeof(char *));
    if (names == NULL || values == NULL)
        abort();
    bool ok = true;
    for (int i = 0; i < npairs && ok; i++) {
        struct slice name = ctx->argv[2 + 2 * i], value = ctx->argv[3 + 2 * i];
        if (!slice_to_cstr(name, names[i], CONFIG_NAME_MAX)) {
            reply_errorf(ctx->reply, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                         (int)(name.len > 256 ? 256 : name.len), name.ptr);
            ok = false;
            break;
        }
        for (int k = 0; k < i; k++) {
            if (strcasecmp(names[k], names[i]) == 0) {
                char canon[CONFIG_NAME_MAX];
                snprintf(canon, sizeof(canon), "%s", names[i]);
                for (char *p = canon; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                reply_errorf(ctx->reply, "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter", canon);
                ok = false;
                break;
            }
        }
        if (!ok)
            break;
        values[i] = mi_malloc(value.len + 1);
        if (values[i] == NULL)
            abort();
        memcpy(values[i], value.ptr, value.len);
        values[i][value.len] = '\0';
        if (config_check(names[i], values[i], err, sizeof(err)) != 0) {
            reply_error(ctx->reply, err);
            ok = false;
        }
    }
    if (ok) {
        /* the strings replaced: another shard may be reading one right now */
        char **retired = mi_calloc((size_t)npairs, sizeof(char *));
        if (retired == NULL)
            abort();
        int nretired = 0;
        for (int i = 0; i < npairs; i++) {
            config_set_shared(cfg, names[i], values[i], &retired[nretired], err, sizeof(err));
            if (retired[nretired] != NULL)
                nretired++;
            if (strcasecmp(names[i], "loglevel") == 0)
                log_set_level((int)config_load(cfg, loglevel));
        }
        dispatch_free_later(ctx->shard, retired, nretired);
        /* maxmemory, policy, timeouts, limits: the shards read the config
         * each loop turn or tick (hz, client-query-buffer-limit:
         * dispatch_tick), so nothing else needs telling */
        reply_ok(ctx->reply);
    }
    for (int i = 0; i < npairs; i++)
        mi_free(values[i]);
    mi_free(values);
    mi_free(names);
}

void cmd_config_resetstat(struct exec_ctx *ctx)
{
    /* the stats only: the slow log is SLOWLOG RESET's business, as in Redis */
    shard_stats_reset(&ctx->shard->stats, command_count_all());
    if (ctx->shard->store != NULL)
        store_reset_stats(ctx->shard->store);
    reply_ok(ctx->reply);
}

/* Runs on shard 0 (CMD_SHARD0): the replication role is read there. Sentinel
 * sends it inside MULTI after REPLICAOF during a failover, so the file
 * already holds the new master. */
void cmd_config_rewrite(struct exec_ctx *ctx)
{
    struct node *n = ctx->shard->node;
    if (n->config_file[0] == '\0') {
        reply_error(ctx->reply, "ERR The server is running without a config file");
        return;
    }
    char host[256], line[300], err[512];
    int port = 0;
    const char *replicaof = NULL;
    if (repl_current_master(ctx->shard, host, sizeof(host), &port)) {
        /* REPLICAOF accepts only numeric addresses and localhost: no quoting needed */
        snprintf(line, sizeof(line), "replicaof %s %d", host, port);
        replicaof = line;
    }
    if (config_rewrite(&n->config, n->config_file, replicaof, err, sizeof(err)) != 0) {
        log_warning("CONFIG REWRITE failed: %s", err);
        reply_error(ctx->reply, err);
        return;
    }
    log_notice("CONFIG REWRITE executed with success.");
    reply_ok(ctx->reply);
}

void cmd_config_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}

/* --------------------------------------------------------------- COMMAND */

static const struct {
    uint32_t    flag;
    const char *name;
} command_flag_names[] = {
    { CMD_WRITE, "write" }, { CMD_READONLY, "readonly" }, { CMD_DENYOOM, "denyoom" },
    { CMD_ADMIN, "admin" }, { CMD_PUBSUB, "pubsub" }, { CMD_NOSCRIPT, "noscript" },
    { CMD_LOADING, "loading" }, { CMD_STALE, "stale" }, { CMD_FAST, "fast" },
    { CMD_NOAUTH, "no_auth" }, { CMD_NO_MULTI, "no_multi" },
};

/* ACL categories as Redis derives them from a command's flags and group. */
static size_t command_categories(const struct command *cmd, const char **out)
{
    size_t n = 0;
    if (cmd->flags & CMD_WRITE) out[n++] = "@write";
    if (cmd->flags & CMD_READONLY) out[n++] = "@read";
    if (cmd->group) {
        if (strcmp(cmd->group, "string") == 0) out[n++] = "@string";
        else if (strcmp(cmd->group, "generic") == 0) out[n++] = "@keyspace";
        else if (strcmp(cmd->group, "connection") == 0) out[n++] = "@connection";
    }
    if (cmd->flags & CMD_ADMIN) {
        out[n++] = "@admin";
        out[n++] = "@dangerous";
    }
    if (cmd->flags & CMD_PUBSUB) out[n++] = "@pubsub";
    out[n++] = (cmd->flags & CMD_FAST) ? "@fast" : "@slow";
    return n;
}

static void reply_command_info(struct reply *r, const struct command *cmd, const char *fullname)
{
    reply_array(r, 10);
    reply_bulk_str(r, fullname);
    reply_int(r, cmd->arity);

    size_t nflags = 0;
    for (size_t i = 0; i < sizeof(command_flag_names) / sizeof(command_flag_names[0]); i++)
        if (cmd->flags & command_flag_names[i].flag)
            nflags++;
    reply_set(r, nflags);
    for (size_t i = 0; i < sizeof(command_flag_names) / sizeof(command_flag_names[0]); i++)
        if (cmd->flags & command_flag_names[i].flag)
            reply_simple(r, command_flag_names[i].name);

    reply_int(r, cmd->first_key);
    reply_int(r, cmd->first_key ? cmd->last_key : 0);
    reply_int(r, cmd->first_key ? cmd->key_step : 0);

    const char *cats[8];
    size_t ncats = command_categories(cmd, cats);
    reply_set(r, ncats);
    for (size_t i = 0; i < ncats; i++)
        reply_simple(r, cats[i]);

    /* tips */
    if (cmd->flags & CMD_RANDOM) {
        reply_set(r, 1);
        reply_bulk_str(r, "nondeterministic_output");
    } else {
        reply_set(r, 0);
    }

    /* key specs: one, describing the first/last/step range */
    if (cmd->first_key > 0) {
        reply_set(r, 1);
        reply_map(r, 3);
        reply_bulk_str(r, "flags");
        reply_set(r, 2);
        if (cmd->flags & CMD_WRITE) {
            reply_simple(r, "RW");
            reply_simple(r, "update");
        } else {
            reply_simple(r, "RO");
            reply_simple(r, "access");
        }
        reply_bulk_str(r, "begin_search");
        reply_map(r, 2);
        reply_bulk_str(r, "type");
        reply_bulk_str(r, "index");
        reply_bulk_str(r, "spec");
        reply_map(r, 1);
        reply_bulk_str(r, "index");
        reply_int(r, cmd->first_key);
        reply_bulk_str(r, "find_keys");
        reply_map(r, 2);
        reply_bulk_str(r, "type");
        reply_bulk_str(r, "range");
        reply_bulk_str(r, "spec");
        reply_map(r, 3);
        reply_bulk_str(r, "lastkey");
        reply_int(r, cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key);
        reply_bulk_str(r, "keystep");
        reply_int(r, cmd->key_step > 0 ? cmd->key_step : 1);
        reply_bulk_str(r, "limit");
        reply_int(r, 0);
    } else {
        reply_set(r, 0);
    }

    /* subcommands */
    size_t nsub = 0;
    for (const struct command *s = cmd->subcommands; s && s->name; s++)
        nsub++;
    if (nsub == 0) {
        reply_set(r, 0);
        return;
    }
    reply_array(r, nsub);
    char full[128];
    for (const struct command *s = cmd->subcommands; s && s->name; s++) {
        snprintf(full, sizeof(full), "%s|%s", cmd->name, s->name);
        reply_command_info(r, s, full);
    }
}

/* Find "name" or "container|sub"; NULL if unknown. fullname gets the
 * lower-case name Redis reports. */
static const struct command *lookup_fullname(struct slice name, char *fullname, size_t n)
{
    const char *bar = memchr(name.ptr, '|', name.len);
    const struct command *cmd;
    if (bar == NULL) {
        cmd = command_lookup(name);
        if (cmd)
            snprintf(fullname, n, "%s", cmd->name);
        return cmd;
    }
    struct slice top = { name.ptr, (size_t)(bar - name.ptr) };
    struct slice sub = { bar + 1, name.len - top.len - 1 };
    const struct command *parent = command_lookup(top);
    if (parent == NULL || parent->subcommands == NULL)
        return NULL;
    cmd = command_lookup_sub(parent, sub);
    if (cmd)
        snprintf(fullname, n, "%s|%s", parent->name, cmd->name);
    return cmd;
}

void cmd_command(struct exec_ctx *ctx)
{
    size_t n = 0;
    const struct command *table = command_table(&n);
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_command_info(ctx->reply, &table[i], table[i].name);
}

void cmd_command_count(struct exec_ctx *ctx)
{
    size_t n = 0;
    command_table(&n);
    reply_int(ctx->reply, (long long)n);
}

void cmd_command_info(struct exec_ctx *ctx)
{
    if (ctx->argc <= 2) {
        cmd_command(ctx);
        return;
    }
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    char full[128];
    for (int i = 2; i < ctx->argc; i++) {
        const struct command *cmd = lookup_fullname(ctx->argv[i], full, sizeof(full));
        if (cmd == NULL)
            reply_null(ctx->reply);
        else
            reply_command_info(ctx->reply, cmd, full);
    }
}

static size_t docs_pairs(const struct command *cmd)
{
    return 3 + (cmd->subcommands && cmd->subcommands->name ? 1 : 0);
}

static void reply_command_docs(struct reply *r, const struct command *cmd)
{
    reply_map(r, docs_pairs(cmd));
    reply_bulk_str(r, "summary");
    reply_bulk_str(r, cmd->summary ? cmd->summary : "");
    reply_bulk_str(r, "since");
    reply_bulk_str(r, cmd->since ? cmd->since : "1.0.0");
    reply_bulk_str(r, "group");
    reply_bulk_str(r, cmd->group ? cmd->group : "server");
    if (docs_pairs(cmd) == 4) {
        size_t nsub = 0;
        for (const struct command *s = cmd->subcommands; s->name; s++)
            nsub++;
        reply_bulk_str(r, "subcommands");
        reply_map(r, nsub);
        char full[128];
        for (const struct command *s = cmd->subcommands; s->name; s++) {
            snprintf(full, sizeof(full), "%s|%s", cmd->name, s->name);
            reply_bulk_str(r, full);
            reply_command_docs(r, s);
        }
    }
}

void cmd_command_docs(struct exec_ctx *ctx)
{
    char full[128];
    if (ctx->argc <= 2) {
        size_t n = 0;
        const struct command *table = command_table(&n);
        reply_map(ctx->reply, n);
        for (size_t i = 0; i < n; i++) {
            reply_bulk_str(ctx->reply, table[i].name);
            reply_command_docs(ctx->reply, &table[i]);
        }
        return;
    }
    size_t found = 0;
    for (int i = 2; i < ctx->argc; i++)
        if (lookup_fullname(ctx->argv[i], full, sizeof(full)))
            found++;
    reply_map(ctx->reply, found);
    for (int i = 2; i < ctx->argc; i++) {
        const struct command *cmd = lookup_fullname(ctx->argv[i], full, sizeof(full));
        if (cmd == NULL)
            continue;
        reply_bulk_str(ctx->reply, full);
        reply_command_docs(ctx->reply, cmd);
    }
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT cat | PATTERN pattern] */
struct list_filter {
    int          kind; /* 0 none, 1 module, 2 aclcat, 3 pattern */
    struct slice arg;
    struct buf   names;  /* the matching names, each as a RESP bulk */
    size_t       count;
    int          proto;
};

static void list_visit(void *arg, const struct command *cmd, const char *fullname)
{
    struct list_filter *f = arg;
    if (f->kind == 1)
        return; /* ringkv has no modules */
    if (f->kind == 2) {
        const char *cats[8];
        size_t nc = command_categories(cmd, cats);
        bool hit = false;
        for (size_t i = 0; i < nc; i++) {
            const char *c = cats[i] + 1; /* without '@' */
            struct slice want = f->arg;
            if (want.len > 0 && want.ptr[0] == '@') {
                want.ptr++;
                want.len--;
            }
            if (slice_eq_nocase(want, c))
                hit = true;
        }
        if (!hit)
            return;
    }
    if (f->kind == 3 && !glob_match(f->arg.ptr, f->arg.len, fullname, strlen(fullname), true))
        return;
    struct reply r = { &f->names, f->proto };
    reply_bulk_str(&r, fullname);
    f->count++;
}

void cmd_command_list(struct exec_ctx *ctx)
{
    struct list_filter f = { .kind = 0, .proto = ctx->reply->proto };
    buf_init(&f.names);
    if (ctx->argc == 5 && slice_eq_nocase(ctx->argv[2], "filterby")) {
        if (slice_eq_nocase(ctx->argv[3], "module")) f.kind = 1;
        else if (slice_eq_nocase(ctx->argv[3], "aclcat")) f.kind = 2;
        else if (slice_eq_nocase(ctx->argv[3], "pattern")) f.kind = 3;
        f.arg = ctx->argv[4];
    }
    if (ctx->argc != 2 && f.kind == 0) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    each_command(list_visit, &f);
    reply_array(ctx->reply, f.count);
    if (f.names.len)
        buf_append(ctx->reply->out, f.names.data, f.names.len);
    buf_free(&f.names);
}

void cmd_command_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}

/* ------------------------------------------------------------------ TIME */

void cmd_time(struct exec_ctx *ctx)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    reply_array(ctx->reply, 2);
    reply_bulk_ll(ctx->reply, (long long)tv.tv_sec);
    reply_bulk_ll(ctx->reply, (long long)tv.tv_usec);
}

/* --------------------------------------------------------------- SLOWLOG */

/* Default number of entries SLOWLOG GET returns, as in Redis. */
#define SLOWLOG_GET_DEFAULT 10

/* Each shard answers SLOWLOG GET with an array: the requested count (an
 * integer, -1 = all), then for each of up to count of its own entries,
 * newest first, the entry's id (an integer) and the entry itself.
 * merge_slowlog_get reads the count back, orders the entries of every shard
 * by id (one node-wide sequence), newest first, and keeps at most count. The
 * count and ids travel in the parts because a merge does not see the
 * arguments and does not parse the entries. */
void cmd_slowlog_get(struct exec_ctx *ctx)
{
    long long count = SLOWLOG_GET_DEFAULT;
    if (ctx->argc > 3) {
        reply_errorf(ctx->reply, ERR_ARITY, "slowlog|get");
        return;
    }
    if (ctx->argc == 3) {
        char num[32];
        char *end = NULL;
        bool ok = slice_to_cstr(ctx->argv[2], num, sizeof(num)) && num[0] != '\0' &&
                  !isspace((unsigned char)num[0]);
        if (ok) {
            errno = 0;
            count = strtoll(num, &end, 10);
            ok = *end == '\0' && errno == 0 && count >= -1;
        }
        if (!ok) {
            reply_error(ctx->reply, "ERR count should be greater than or equal to -1");
            return;
        }
    }
    struct slowlog *l = &ctx->shard->slowlog;
    size_t n = l->count;
    if (count >= 0 && (unsigned long long)count < n)
        n = (size_t)count;
    reply_array(ctx->reply, 1 + 2 * n);
    reply_int(ctx->reply, count);
    for (size_t i = 0; i < n; i++) {
        const struct slowlog_entry *e = &l->ring[(l->head + l->capacity - 1 - i) % l->capacity];
        reply_int(ctx->reply, (long long)e->id);
        reply_array(ctx->reply, 6);
        reply_int(ctx->reply, (long long)e->id);
        reply_int(ctx->reply, (long long)e->time_s);
        reply_int(ctx->reply, (long long)e->usec);
        reply_array(ctx->reply, (size_t)e->argc);
        for (int k = 0; k < e->argc; k++)
            reply_bulk(ctx->reply, e->argv[k].data ? e->argv[k].data : "", e->argv[k].len);
        reply_bulk_str(ctx->reply, e->addr);
        reply_bulk_str(ctx->reply, e->name);
    }
}

/* Read a RESP integer line ":<n>\r\n" at p; returns bytes used or 0. */
static size_t read_resp_int(const char *p, size_t n, long long *out)
{
    if (n < 4 || p[0] != ':')
        return 0;
    const char *crlf = memchr(p, '\r', n);
    if (crlf == NULL || (size_t)(crlf - p) + 2 > n)
        return 0;
    char num[32];
    size_t len = (size_t)(crlf - p) - 1;
    if (len == 0 || len >= sizeof(num))
        return 0;
    memcpy(num, p + 1, len);
    num[len] = '\0';
    *out = strtoll(num, NULL, 10);
    return (size_t)(crlf - p) + 2;
}

/* Read an aggregate header "*<n>\r\n"; returns bytes used or 0. */
static size_t read_resp_array(const char *p, size_t n, long long *out)
{
    if (n < 4 || p[0] != '*')
        return 0;
    char tmp[32];
    const char *crlf = memchr(p, '\r', n);
    if (crlf == NULL || (size_t)(crlf - p) + 2 > n)
        return 0;
    size_t len = (size_t)(crlf - p) - 1;
    if (len == 0 || len >= sizeof(tmp))
        return 0;
    memcpy(tmp, p + 1, len);
    tmp[len] = '\0';
    *out = strtoll(tmp, NULL, 10);
    return (size_t)(crlf - p) + 2;
}

struct slowlog_ref {
    const char *p;     /* the entry's bytes (one complete RESP array) */
    size_t      len;
    long long   id;
    int         part;
    long long   rank;  /* position in its part: newest first */
};

static int slowlog_ref_newest_first(const void *a, const void *b)
{
    const struct slowlog_ref *x = a, *y = b;
    if (x->id != y->id)
        return x->id > y->id ? -1 : 1;
    if (x->part != y->part)
        return x->part - y->part;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

void merge_slowlog_get(struct reply *out, const struct merge_input *in)
{
    long long count = SLOWLOG_GET_DEFAULT;
    size_t total = 0, cap = 0;
    struct slowlog_ref *refs = NULL;
    for (int i = 0; i < in->nparts; i++) {
        const char *p = in->parts[i].data;
        size_t n = in->parts[i].len;
        if (n > 0 && p[0] == '-') {
            /* every shard refuses the same bad arguments: pass the first on */
            buf_append(out->out, p, n);
            mi_free(refs);
            return;
        }
        long long nelem = 0, c = 0;
        size_t used = read_resp_array(p, n, &nelem);
        if (used == 0 || nelem < 1)
            continue;
        size_t u2 = read_resp_int(p + used, n - used, &c);
        if (u2 == 0)
            continue;
        count = c;
        used += u2;
        for (long long k = 1; k + 1 < nelem; k += 2) {
            struct slowlog_ref ref = { NULL, 0, 0, i, k };
            size_t tlen = read_resp_int(p + used, n - used, &ref.id);
            if (tlen == 0)
                break;
            used += tlen;
            size_t vlen = resp_value_len(p + used, n - used);
            if (vlen == 0)
                break;
            ref.p = p + used;
            ref.len = vlen;
            if (total == cap) {
                cap = cap ? cap * 2 : 32;
                refs = mi_realloc(refs, cap * sizeof(*refs));
                if (refs == NULL)
                    abort();
            }
            refs[total++] = ref;
            used += vlen;
        }
    }
    if (total > 1)
        qsort(refs, total, sizeof(*refs), slowlog_ref_newest_first);
    size_t keep = total;
    if (count >= 0 && (unsigned long long)count < keep)
        keep = (size_t)count;
    reply_array(out, keep);
    for (size_t i = 0; i < keep; i++)
        buf_append(out->out, refs[i].p, refs[i].len);
    mi_free(refs);
}

void cmd_slowlog_len(struct exec_ctx *ctx)
{
    reply_int(ctx->reply, (long long)ctx->shard->slowlog.count);
}

void cmd_slowlog_reset(struct exec_ctx *ctx)
{
    slowlog_reset(&ctx->shard->slowlog);
    reply_ok(ctx->reply);
}

void cmd_slowlog_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}

/* -------------------------------------------------------------- SHUTDOWN */

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. ringkv keeps nothing on disk,
 * so the modifiers only need to be well formed. On success the handler
 * writes NO reply (Redis closes the connection without answering): the
 * dispatcher must accept a command that produced no reply here, and the
 * connection is closed once what precedes it is sent. */
void cmd_shutdown(struct exec_ctx *ctx)
{
    bool nosave = false, save = false, abort_ = false;
    for (int i = 1; i < ctx->argc; i++) {
        struct slice a = ctx->argv[i];
        if (slice_eq_nocase(a, "nosave")) nosave = true;
        else if (slice_eq_nocase(a, "save")) save = true;
        else if (slice_eq_nocase(a, "now") || slice_eq_nocase(a, "force")) continue;
        else if (slice_eq_nocase(a, "abort")) abort_ = true;
        else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    if ((nosave && save) || (abort_ && ctx->argc != 2)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (abort_) {
        reply_error(ctx->reply, "ERR No shutdown in progress.");
        return;
    }
    log_warning("User requested shutdown...");
    node_request_shutdown(ctx->shard->node, 0);
    if (ctx->client != NULL)
        ctx->client->close_after_reply = true;
}

/* --------------------------------------------------------------- CLUSTER */

void cmd_cluster_keyslot(struct exec_ctx *ctx)
{
    if (ctx->argc != 3) {
        reply_errorf(ctx->reply, ERR_ARITY, "cluster|keyslot");
        return;
    }
    reply_int(ctx->reply, (long long)key_slot(ctx->argv[2].ptr, ctx->argv[2].len));
}

/* Every other CLUSTER subcommand (and CLUSTER alone) on a standalone node. */
void cmd_cluster(struct exec_ctx *ctx)
{
    reply_error(ctx->reply, "ERR This instance has cluster support disabled");
}
