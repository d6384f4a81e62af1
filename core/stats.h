/* stats: the counters one shard keeps about the commands it runs and the
 * bytes it moves, for INFO stats / commandstats / latencystats.
 *
 * Each shard owns one struct shard_stats and is its only writer; INFO, run on
 * any shard, reads every shard's counters with relaxed atomic loads and adds
 * them up (no locks: a counter read mid-update is at most one event stale). */
#ifndef RINGKV_STATS_H
#define RINGKV_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Latency histogram of one command: log-linear buckets over microseconds
 * (each power of two split in 16), enough for p50/p99/p99.9 within ~6%. */
#define LATENCY_BUCKETS (64 * 16)
struct latency_hist {
    uint64_t count;
    uint64_t bucket[LATENCY_BUCKETS];
};

struct command_stat {
    uint64_t calls;
    uint64_t usec;           /* total time spent running it */
    uint64_t rejected_calls; /* refused before running (arity, auth, OOM) */
    uint64_t failed_calls;   /* ran and replied with an error */
    struct latency_hist *latency; /* allocated on first call */
};

/* Error replies by kind, as INFO errorstats shows them: the kind is the
 * first word of the error ("ERR", "WRONGTYPE", "NOAUTH"). A shard adds a
 * kind once (its name, then nerrors with a release store) and only counts
 * afterwards; readers load nerrors with acquire. Kinds past the limit are
 * counted in total_error_replies only (Redis caps its table too). */
#define ERROR_KINDS_MAX 64
struct error_stat {
    char     name[32];
    uint64_t count;
};

struct shard_stats {
    uint64_t commands_processed;
    uint64_t connections_received;
    uint64_t rejected_connections;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    /* of the two above, replication's traffic (as redis-server 7.0
     * counts it): the master's stream and full syncs sent to replicas, and
     * read from the master */
    uint64_t net_repl_input_bytes;
    uint64_t net_repl_output_bytes;
    uint64_t total_error_replies;
    /* published every tick (shards/clients.c) from the loop's counts
     * (net/loop.h struct loop_counts): receives that brought bytes, sends
     * done, a connection's reply buffer found grown and given back */
    uint64_t reads_processed;
    uint64_t writes_processed;
    uint64_t reply_buffer_expands;
    uint64_t reply_buffer_shrinks;
    uint64_t cross_shard_requests; /* commands or parts sent to another shard */
    /* cluster mode: writes of keys a MIGRATE had in flight, held on their
     * shard until it settled (shards/dispatch.h, dispatch_key_waits_wake),
     * each counted once; and those of them answered -TRYAGAIN at last,
     * still in flight past the hold's bound (KEY_WAIT_MAX_MS) */
    uint64_t held_writes;
    uint64_t held_writes_tryagain;
    uint64_t connected_clients;    /* current */
    uint64_t client_max_output;    /* the biggest unsent output of a connection, at the last tick */
    uint64_t client_max_input;     /* the biggest unconsumed input of a connection, then */
    /* published by the shard from its store once per loop turn */
    uint64_t keys;
    uint64_t expires;
    uint64_t used_memory;
    uint64_t expired_keys;
    uint64_t evicted_keys;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t avg_ttl_ms;           /* the expiry cycle's estimate (store_stats) */
    uint64_t expired_stale_ppm;    /* its stale share, in millionths */
    uint64_t expired_time_cap;     /* its cycles that stopped at their time budget */
    /* eviction: its steps that stopped at their time bound
     * (maxmemory-eviction-tenacity) still over the limit (published with
     * the store's), the time the store was over its share (us; finished
     * spells), and since when it is now (monotonic us + 1, 0: not over;
     * shards/run.c) */
    uint64_t eviction_time_cap;
    uint64_t eviction_exceeded_us;
    uint64_t eviction_exceeded_since_us;
    /* published by the shard every tick (shards/commands/memory.c): bytes
     * in the blocks its thread's default heap holds (the store's heap is
     * used_memory above, published as it changes, so used_memory follows a
     * write at once) */
    uint64_t allocated;
    uint64_t active;               /* bytes of the pages those blocks are in */
    uint64_t not_counted;          /* of those, what maxmemory does not count (replication) */
    /* gauges, kept by the shard as they change (INFO clients and stats;
     * CONFIG RESETSTAT leaves them): a sum over the shards is the node's
     * figure, though one shard's may wrap below zero (a client blocked on
     * several shards is counted where its first part blocked and uncounted
     * where its last part left: shards/blocking.c) */
    uint64_t blocked_clients;      /* clients blocked in a blocking pop */
    uint64_t blocked_with_timeout; /* of those, with a timeout (clients_in_timeout_table) */
    uint64_t tracking_clients;     /* connections here with CLIENT TRACKING on */
    uint64_t tracking_keys;        /* keys of this shard's tracking table */
    uint64_t tracking_items;       /* (key, reader) pairs in it */
    uint64_t staged_keys;          /* big collections staged from a slot move's parts (staging.h) */
    uint64_t migrate_links;        /* MIGRATE's connections to destinations, in use or kept
                                      idle for the next (INFO migrate_cached_sockets) */
    /* published every tick (shards/clients.c): the channels and patterns
     * this shard's connections subscribe to, each counted once here (one
     * subscribed from connections of two shards counts on both), and the
     * buffers of its normal clients (INFO mem_clients_normal) */
    uint64_t pubsub_channels;
    uint64_t pubsub_patterns;
    uint64_t pubsubshard_channels;
    uint64_t clients_normal_memory;
    /* changes the store made (its change hook: one a key written, deleted,
     * expired or evicted, one a flush): INFO rdb_changes_since_last_save */
    uint64_t changes;
    struct error_stat errors[ERROR_KINDS_MAX];
    int      nerrors;
    struct command_stat *cmd;      /* command_count_all() entries, by command->index */
    size_t   ncommands;            /* entries of cmd[] (set by shard_stats_init) */
};

/* Relaxed atomic read/write of a counter owned by another shard. */
#define stat_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define stat_add(p, v) __atomic_store_n((p), __atomic_load_n((p), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)

void shard_stats_init(struct shard_stats *s, size_t ncommands);
void shard_stats_deinit(struct shard_stats *s);
void shard_stats_reset(struct shard_stats *s, size_t ncommands); /* CONFIG RESETSTAT */

/* Record one finished command: index into cmd[], its duration and whether
 * it replied with an error: commands_processed and cmd[index] (calls, usec,
 * failed_calls, latency). stats_command_rejected: a command refused before
 * it ran, cmd[index].rejected_calls only (Redis's total_commands_processed
 * counts what ran). total_error_replies is the caller's to count. */
void stats_command_done(struct shard_stats *s, int index, uint64_t usec, int failed);
void stats_command_rejected(struct shard_stats *s, int index);
/* One error reply went to a client: counts total_error_replies and its kind.
 * text: the error, with or without its leading '-' (a reply's bytes do). */
void stats_error_reply(struct shard_stats *s, const char *text, size_t len);

void latency_hist_add(struct latency_hist *h, uint64_t usec);
/* Value (usec) at percentile q in [0,100] of the sum of n histograms. */
double latency_hist_percentile(const struct latency_hist *const *h, int n, double q);

#endif
