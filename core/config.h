/* config: every option of ringkv, declared once (the CONFIG_OPTIONS table
 * below) and expanded into the struct, the --help text, the redis.conf-style
 * file parser, --flags, and CONFIG GET/SET.
 *
 * Thread model: the node owns one struct config. Options marked RUNTIME may be
 * changed by CONFIG SET on any shard thread while the others read them: every
 * field is read with config_load()/written with config_store() (relaxed
 * atomics), strings are swapped whole: config_set_shared hands the old copy
 * to the caller, to be freed once no thread can still be reading it. */
#ifndef RINGKV_CONFIG_H
#define RINGKV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_type {
    CONF_INT,    /* integer */
    CONF_MEMORY, /* integer bytes, accepts 100, 1k, 1kb, 5m, 2gb (Redis units: k=1000, kb=1024) */
    CONF_BOOL,   /* yes|no */
    CONF_STRING, /* any string */
    CONF_ENUM,   /* one of a fixed list of words, stored as its index */
    CONF_EVENTS, /* keyspace-event class letters, stored as their bits (core/keyspace_events.h) */
};

#define CONF_RUNTIME 1 /* may be changed by CONFIG SET */
#define CONF_IGNORED 2 /* a Redis directive ringkv accepts and ignores (CONFIG_IGNORED) */

/* X(name, field, type, default-as-text, flags, enum-words, help) */
#define CONFIG_OPTIONS(X) \
    X("port",            port,            CONF_INT,    "6379",      0, NULL, "TCP port to listen on (0: pick an ephemeral port and log it)") \
    X("bind",            bind,            CONF_STRING, "127.0.0.1", 0, NULL, "addresses to listen on, space separated; one prefixed with '-' is skipped if this host does not have it") \
    X("threads",         threads,         CONF_INT,    "0",         0, NULL, "shard threads (0: one per CPU the process may use; 1 if it may use only 1 or 2)") \
    X("pin",             pin,             CONF_BOOL,   "yes",       0, NULL, "pin shard thread i to the i-th allowed CPU") \
    X("recv-buffers",    recv_buffers,    CONF_INT,    "128",       0, NULL, "16 KB buffers in each shard's io_uring receive ring (rounded up to a power of two): what one loop turn can read") \
    X("maxmemory",       maxmemory,       CONF_MEMORY, "0",         CONF_RUNTIME, NULL, "memory limit for data (0: none), split evenly over the shards") \
    X("maxmemory-policy", maxmemory_policy, CONF_ENUM, "noeviction", CONF_RUNTIME, "noeviction allkeys-lru volatile-lru allkeys-random volatile-ttl volatile-random allkeys-lfu volatile-lfu", "what to do when maxmemory is reached") \
    X("maxmemory-samples", maxmemory_samples, CONF_INT, "5",        CONF_RUNTIME, NULL, "keys sampled per eviction (accepted for compatibility)") \
    X("maxmemory-eviction-tenacity", maxmemory_eviction_tenacity, CONF_INT, "10", CONF_RUNTIME, NULL, "how long one eviction step may run, as Redis's: 0..10 up to 500 us linearly, then 15% more a unit, 100 without a bound") \
    X("requirepass",     requirepass,     CONF_STRING, "",          CONF_RUNTIME, NULL, "password clients must give with AUTH (empty: none)") \
    X("protected-mode",  protected_mode,  CONF_BOOL,   "yes",       CONF_RUNTIME, NULL, "without a password, accept only loopback clients") \
    X("timeout",         timeout,         CONF_INT,    "0",         CONF_RUNTIME, NULL, "close a client idle this many seconds (0: never)") \
    X("tcp-keepalive",   tcp_keepalive,   CONF_INT,    "300",       CONF_RUNTIME, NULL, "TCP keepalive interval in seconds (0: off)") \
    X("tcp-backlog",     tcp_backlog,     CONF_INT,    "511",       0, NULL, "listen() backlog") \
    X("maxclients",      maxclients,      CONF_INT,    "10000",     CONF_RUNTIME, NULL, "most clients connected at once") \
    X("loglevel",        loglevel,        CONF_ENUM,   "notice",    CONF_RUNTIME, "debug verbose notice warning nothing", "how much to log") \
    X("logfile",         logfile,         CONF_STRING, "",          0, NULL, "log file path (empty: standard output)") \
    X("pidfile",         pidfile,         CONF_STRING, "",          0, NULL, "write the process id here (empty: no file)") \
    X("daemonize",       daemonize,       CONF_BOOL,   "no",        0, NULL, "fork to the background once started (then a pidfile is always written: default /var/run/ringkv.pid)") \
    X("databases",       databases,       CONF_INT,    "16",        0, NULL, "number of databases, SELECT 0 .. N-1 (cluster mode: database 0 only)") \
    X("proto-max-bulk-len", proto_max_bulk_len, CONF_MEMORY, "512mb", CONF_RUNTIME, NULL, "largest bulk string a client may send") \
    X("client-query-buffer-limit", client_query_buffer_limit, CONF_MEMORY, "1gb", CONF_RUNTIME, NULL, "largest unparsed input kept per client; past it the client is closed") \
    X("client-output-buffer-limit", client_output_buffer_limit, CONF_STRING, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", CONF_RUNTIME, NULL, "per class: hard limit, soft limit, soft seconds (core/output_limits.h); ringkv applies the pubsub class") \
    X("client-output-buffer-limit-bytes", client_output_limit, CONF_MEMORY, "64mb", CONF_RUNTIME, NULL, "unsent output per client past which its input is not read until it drains") \
    X("slowlog-log-slower-than", slowlog_slower_than, CONF_INT, "10000", CONF_RUNTIME, NULL, "log commands slower than this many microseconds (negative: never)") \
    X("slowlog-max-len", slowlog_max_len, CONF_INT,    "128",       CONF_RUNTIME, NULL, "slow log entries kept per shard") \
    X("hz",              hz,              CONF_INT,    "10",        CONF_RUNTIME, NULL, "background tasks (active expiry, timeouts) run this many times a second") \
    X("save",            save,            CONF_STRING, "3600 1 300 100 60 10000", CONF_RUNTIME, NULL, "RDB snapshot points, \"seconds changes\" pairs: a background save when that many changes are that old (\"\": none); Redis's default, with or without a config file") \
    X("appendonly",      appendonly,      CONF_BOOL,   "no",        CONF_RUNTIME, NULL, "append every write to the AOF (appenddirname in dir, Redis 7's multi-part files) and load it at start instead of the RDB file; CONFIG SET yes makes it by a rewrite") \
    X("appendfsync",     appendfsync,     CONF_ENUM,   "everysec",  CONF_RUNTIME, "always everysec no", "fsync the AOF before replying to its writes (always), at most once a second (everysec) or never (no: the kernel decides)") \
    X("appendfilename",  appendfilename,  CONF_STRING, "appendonly.aof", 0, NULL, "the AOF's name: its files are <name>.<seq>.base.rdb, <name>.<seq>.incr.aof and <name>.manifest") \
    X("appenddirname",   appenddirname,   CONF_STRING, "appendonlydir", 0, NULL, "the directory in dir that holds the AOF's files") \
    X("aof-load-truncated", aof_load_truncated, CONF_BOOL, "yes",   CONF_RUNTIME, NULL, "an AOF whose last command was cut short (a crash mid-write): cut it and start (yes), or refuse to start (no)") \
    X("auto-aof-rewrite-percentage", auto_aof_rewrite_percentage, CONF_INT, "100", CONF_RUNTIME, NULL, "rewrite the AOF once it grew this many percent over its size after the last rewrite (0: never by itself)") \
    X("auto-aof-rewrite-min-size", auto_aof_rewrite_min_size, CONF_MEMORY, "64mb", CONF_RUNTIME, NULL, "no automatic AOF rewrite while the AOF is smaller than this") \
    X("replicaof",       replicaof,       CONF_STRING, "",          0, NULL, "\"host port\": start as a replica of that master") \
    X("masterauth",      masterauth,      CONF_STRING, "",          CONF_RUNTIME, NULL, "password to give the master (AUTH) when replicating") \
    X("repl-backlog-size", repl_backlog_size, CONF_MEMORY, "1mb",   0, NULL, "bytes of the replication stream kept for partial resyncs") \
    X("repl-timeout",    repl_timeout,    CONF_INT,    "60",        CONF_RUNTIME, NULL, "seconds without data from the master before a replica drops the link") \
    X("replica-read-only", replica_read_only, CONF_BOOL, "yes",     CONF_RUNTIME, NULL, "a replica refuses writes from clients (-READONLY)") \
    X("replica-priority", replica_priority, CONF_INT,  "100",       CONF_RUNTIME, NULL, "for Sentinel: lower is preferred when promoting (0: never)") \
    X("replica-output-hard-limit", replica_output_hard_limit, CONF_MEMORY, "256mb", CONF_RUNTIME, NULL, "drop a replica whose unsent stream passes this (0: no limit)") \
    X("replica-output-soft-limit", replica_output_soft_limit, CONF_MEMORY, "64mb", CONF_RUNTIME, NULL, "drop a replica whose unsent stream stays over this for 60 s (0: no limit)") \
    X("min-replicas-to-write", min_replicas_to_write, CONF_INT, "0", CONF_RUNTIME, NULL, "refuse writes (-NOREPLICAS) unless this many replicas are online and not lagging (0: off)") \
    X("min-replicas-max-lag", min_replicas_max_lag, CONF_INT, "10",  CONF_RUNTIME, NULL, "seconds since a replica's last acknowledgement for it to count as not lagging") \
    X("cluster-enabled", cluster_enabled, CONF_BOOL,   "no",        0, NULL, "cluster mode: keys of slots this node's group does not serve are answered -MOVED (shards/cluster/cluster.h)") \
    X("cluster-config-file", cluster_config_file, CONF_STRING, "nodes.conf", 0, NULL, "where a cluster node keeps its id and cluster state (written by the node)") \
    X("cluster-node-timeout", cluster_node_timeout, CONF_INT, "15000", CONF_RUNTIME, NULL, "milliseconds after which an unreachable node counts as failing") \
    X("hash-max-listpack-entries", hash_max_listpack_entries, CONF_INT, "512", CONF_RUNTIME, NULL, "a hash with more fields than this is a hashtable, not a listpack (alias hash-max-ziplist-entries)") \
    X("hash-max-listpack-value", hash_max_listpack_value, CONF_INT, "64", CONF_RUNTIME, NULL, "a hash with a field or value longer than this many bytes is a hashtable (alias hash-max-ziplist-value)") \
    X("set-max-intset-entries", set_max_intset_entries, CONF_INT, "512", CONF_RUNTIME, NULL, "a set of integers with more members than this is a hashtable, not an intset") \
    X("set-max-listpack-entries", set_max_listpack_entries, CONF_INT, "128", CONF_RUNTIME, NULL, "a set with more members than this (not all integers) is a hashtable, not a listpack") \
    X("set-max-listpack-value", set_max_listpack_value, CONF_INT, "64", CONF_RUNTIME, NULL, "a set with a member longer than this many bytes is a hashtable") \
    X("zset-max-listpack-entries", zset_max_listpack_entries, CONF_INT, "128", CONF_RUNTIME, NULL, "a sorted set with more members than this is a skiplist, not a listpack (alias zset-max-ziplist-entries)") \
    X("zset-max-listpack-value", zset_max_listpack_value, CONF_INT, "64", CONF_RUNTIME, NULL, "a sorted set with a member longer than this many bytes is a skiplist (alias zset-max-ziplist-value)") \
    X("list-max-listpack-size", list_max_listpack_size, CONF_INT, "-2", CONF_RUNTIME, NULL, "a list node holds at most this many elements (positive) or 4/8/16/32/64 KB (-1..-5) (alias list-max-ziplist-size)") \
    X("notify-keyspace-events", notify_keyspace_events, CONF_EVENTS, "", CONF_RUNTIME, NULL, "keyspace notifications to publish, as Redis's class letters (KEA: every class on both channels; empty: none)") \
    X("list-compress-depth", list_compress_depth, CONF_INT, "0", CONF_RUNTIME, NULL, "a list's nodes past this many at each end are kept LZF-compressed (0: none); lists take it when they outgrow one node") \
    X("hll-sparse-max-bytes", hll_sparse_max_bytes, CONF_MEMORY, "3000", CONF_RUNTIME, NULL, "a sparse HyperLogLog whose string would pass this many bytes turns dense") \
    X("stream-node-max-bytes", stream_node_max_bytes, CONF_MEMORY, "4096", CONF_RUNTIME, NULL, "a stream's node takes no more entries once Redis's layout of it would reach this many bytes (0: no limit)") \
    X("stream-node-max-entries", stream_node_max_entries, CONF_INT, "100", CONF_RUNTIME, NULL, "a stream's node holds at most this many entries, deleted ones included (0: no limit)") \
    X("dir",             dir,             CONF_STRING, "",          0, NULL, "working directory, entered at start (empty: stay where started); CONFIG GET shows it absolute") \
    X("latency-monitor-threshold", latency_monitor_threshold, CONF_INT, "0", CONF_RUNTIME, NULL, "record latency spikes (commands, expiry and eviction cycles) of at least this many ms for LATENCY (0: off)") \
    X("latency-tracking", latency_tracking, CONF_BOOL, "yes", CONF_RUNTIME, NULL, "show the per-command latency histograms (INFO latencystats, LATENCY HISTOGRAM)") \
    X("latency-tracking-info-percentiles", latency_tracking_info_percentiles, CONF_STRING, "50 99 99.9", CONF_RUNTIME, NULL, "the percentiles INFO latencystats shows, space separated (0.0 to 100.0)") \
    X("enable-debug-command", enable_debug_command, CONF_ENUM, "no", 0, "no yes local", "who may run DEBUG: nobody, everyone, or clients on a loopback address (set at start only, as in Redis)") \
    X("busy-reply-threshold", busy_reply_threshold, CONF_INT, "5000", CONF_RUNTIME, NULL, "ms a Lua script runs before it is reported busy: clients get -BUSY and SCRIPT KILL may end it (alias lua-time-limit)") \
    X("tracking-table-max-keys", tracking_table_max_keys, CONF_INT, "1000000", CONF_RUNTIME, NULL, "most keys client-side caching tracks over the node (0: no limit); past it keys are evicted and invalidated") \
    X("user",            user,            CONF_STRING, "",          0, NULL, "an ACL user and its rules, \"name rule...\" (core/acl.h); each line adds one (kept one a line)") \
    X("aclfile",         aclfile,         CONF_STRING, "",          0, NULL, "file of ACL users (user lines), loaded at start and by ACL LOAD, written by ACL SAVE") \
    X("acllog-max-len",  acllog_max_len,  CONF_INT,    "128",       CONF_RUNTIME, NULL, "entries kept by ACL LOG") \
    X("acl-pubsub-default", acl_pubsub_default, CONF_ENUM, "resetchannels", CONF_RUNTIME, "resetchannels allchannels", "the channels of a new ACL user") \
    X("masteruser",      masteruser,      CONF_STRING, "",          CONF_RUNTIME, NULL, "ACL user to give the master (AUTH user masterauth) when replicating") \
    X("dbfilename",      dbfilename,      CONF_STRING, "dump.rdb",  CONF_RUNTIME, NULL, "the RDB file in dir: written by SAVE, BGSAVE, the save points and shutdown; loaded at start") \
    X("rdbcompression",  rdbcompression,  CONF_BOOL,   "yes",       CONF_RUNTIME, NULL, "LZF-compress the RDB file's keys and string values longer than 20 bytes") \
    X("rdbchecksum",     rdbchecksum,     CONF_BOOL,   "yes",       CONF_RUNTIME, NULL, "end the RDB file with its CRC-64 (no: 0, which readers do not check)") \
    X("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error, CONF_BOOL, "yes", CONF_RUNTIME, NULL, "refuse writes (-MISCONF) while the last background save failed and save points are set")

/* Redis 7's redis.conf directives that mean nothing in ringkv (no
 * append-only file, no TLS, no modules, one encoding per type...):
 * each is accepted from a file, a flag or CONFIG SET, kept as the text given
 * (CONFIG GET returns it: tools read some back), listed once in the start-up
 * log as ignored (config_ignored_names) and in the README; none changes what
 * ringkv does. They are options of type CONF_STRING with the flags
 * CONF_RUNTIME | CONF_IGNORED; old names (slave-*, *-ziplist-*) are aliases
 * (config.c option_find). X(name, field, Redis's default as CONFIG GET shows it) */
#define CONFIG_IGNORED(X) \
    X("always-show-logo", always_show_logo, "no") \
    X("set-proc-title", set_proc_title, "yes") \
    X("proc-title-template", proc_title_template, "{title} {listen-addr} {server-mode}") \
    X("supervised", supervised, "no") \
    X("syslog-enabled", syslog_enabled, "no") \
    X("syslog-ident", syslog_ident, "redis") \
    X("syslog-facility", syslog_facility, "local0") \
    X("crash-log-enabled", crash_log_enabled, "yes") \
    X("crash-memcheck-enabled", crash_memcheck_enabled, "yes") \
    X("unixsocket", unixsocket, "") \
    X("unixsocketperm", unixsocketperm, "0") \
    X("socket-mark-id", socket_mark_id, "0") \
    X("bind-source-addr", bind_source_addr, "") \
    X("io-threads", io_threads, "1") \
    X("io-threads-do-reads", io_threads_do_reads, "no") \
    X("oom-score-adj", oom_score_adj, "no") \
    X("oom-score-adj-values", oom_score_adj_values, "0 200 800") \
    X("disable-thp", disable_thp, "yes") \
    X("ignore-warnings", ignore_warnings, "") \
    X("shutdown-timeout", shutdown_timeout, "10") \
    X("shutdown-on-sigint", shutdown_on_sigint, "default") \
    X("shutdown-on-sigterm", shutdown_on_sigterm, "default") \
    X("enable-protected-configs", enable_protected_configs, "no") \
    X("enable-module-command", enable_module_command, "no") \
    X("loadmodule", loadmodule, "") \
    X("rename-command", rename_command, "") \
    X("rdb-del-sync-files", rdb_del_sync_files, "no") \
    X("rdb-save-incremental-fsync", rdb_save_incremental_fsync, "yes") \
    X("sanitize-dump-payload", sanitize_dump_payload, "no") \
    X("no-appendfsync-on-rewrite", no_appendfsync_on_rewrite, "no") \
    X("aof-use-rdb-preamble", aof_use_rdb_preamble, "yes") \
    X("aof-timestamp-enabled", aof_timestamp_enabled, "no") \
    X("aof-rewrite-incremental-fsync", aof_rewrite_incremental_fsync, "yes") \
    X("replica-serve-stale-data", replica_serve_stale_data, "yes") \
    X("repl-diskless-sync", repl_diskless_sync, "yes") \
    X("repl-diskless-sync-delay", repl_diskless_sync_delay, "5") \
    X("repl-diskless-sync-max-replicas", repl_diskless_sync_max_replicas, "0") \
    X("repl-diskless-load", repl_diskless_load, "disabled") \
    X("repl-disable-tcp-nodelay", repl_disable_tcp_nodelay, "no") \
    X("repl-ping-replica-period", repl_ping_replica_period, "10") \
    X("repl-backlog-ttl", repl_backlog_ttl, "3600") \
    X("replica-announced", replica_announced, "yes") \
    X("replica-announce-ip", replica_announce_ip, "") \
    X("replica-announce-port", replica_announce_port, "0") \
    X("replica-ignore-maxmemory", replica_ignore_maxmemory, "yes") \
    X("replica-ignore-disk-write-errors", replica_ignore_disk_write_errors, "no") \
    X("replica-lazy-flush", replica_lazy_flush, "no") \
    X("propagation-error-behavior", propagation_error_behavior, "ignore") \
    X("lazyfree-lazy-eviction", lazyfree_lazy_eviction, "no") \
    X("lazyfree-lazy-expire", lazyfree_lazy_expire, "no") \
    X("lazyfree-lazy-server-del", lazyfree_lazy_server_del, "no") \
    X("lazyfree-lazy-user-del", lazyfree_lazy_user_del, "no") \
    X("lazyfree-lazy-user-flush", lazyfree_lazy_user_flush, "no") \
    X("maxmemory-clients", maxmemory_clients, "0") \
    X("lfu-log-factor", lfu_log_factor, "10") \
    X("lfu-decay-time", lfu_decay_time, "1") \
    X("active-expire-effort", active_expire_effort, "1") \
    X("activerehashing", activerehashing, "yes") \
    X("dynamic-hz", dynamic_hz, "yes") \
    X("jemalloc-bg-thread", jemalloc_bg_thread, "yes") \
    X("activedefrag", activedefrag, "no") \
    X("active-defrag-ignore-bytes", active_defrag_ignore_bytes, "104857600") \
    X("active-defrag-threshold-lower", active_defrag_threshold_lower, "10") \
    X("active-defrag-threshold-upper", active_defrag_threshold_upper, "100") \
    X("active-defrag-cycle-min", active_defrag_cycle_min, "1") \
    X("active-defrag-cycle-max", active_defrag_cycle_max, "25") \
    X("active-defrag-max-scan-fields", active_defrag_max_scan_fields, "1000") \
    X("cluster-port", cluster_port, "0") \
    X("cluster-announce-ip", cluster_announce_ip, "") \
    X("cluster-announce-port", cluster_announce_port, "0") \
    X("cluster-announce-bus-port", cluster_announce_bus_port, "0") \
    X("cluster-announce-tls-port", cluster_announce_tls_port, "0") \
    X("cluster-announce-hostname", cluster_announce_hostname, "") \
    X("cluster-announce-human-nodename", cluster_announce_human_nodename, "") \
    X("cluster-preferred-endpoint-type", cluster_preferred_endpoint_type, "ip") \
    X("cluster-replica-validity-factor", cluster_replica_validity_factor, "10") \
    X("cluster-migration-barrier", cluster_migration_barrier, "1") \
    X("cluster-allow-replica-migration", cluster_allow_replica_migration, "yes") \
    X("cluster-require-full-coverage", cluster_require_full_coverage, "yes") \
    X("cluster-replica-no-failover", cluster_replica_no_failover, "no") \
    X("cluster-allow-reads-when-down", cluster_allow_reads_when_down, "no") \
    X("cluster-allow-pubsubshard-when-down", cluster_allow_pubsubshard_when_down, "yes") \
    X("cluster-link-sendbuf-limit", cluster_link_sendbuf_limit, "0") \
    X("tls-port", tls_port, "0") \
    X("tls-cert-file", tls_cert_file, "") \
    X("tls-key-file", tls_key_file, "") \
    X("tls-key-file-pass", tls_key_file_pass, "") \
    X("tls-client-cert-file", tls_client_cert_file, "") \
    X("tls-client-key-file", tls_client_key_file, "") \
    X("tls-client-key-file-pass", tls_client_key_file_pass, "") \
    X("tls-dh-params-file", tls_dh_params_file, "") \
    X("tls-ca-cert-file", tls_ca_cert_file, "") \
    X("tls-ca-cert-dir", tls_ca_cert_dir, "") \
    X("tls-auth-clients", tls_auth_clients, "yes") \
    X("tls-replication", tls_replication, "no") \
    X("tls-cluster", tls_cluster, "no") \
    X("tls-protocols", tls_protocols, "") \
    X("tls-ciphers", tls_ciphers, "") \
    X("tls-ciphersuites", tls_ciphersuites, "") \
    X("tls-prefer-server-ciphers", tls_prefer_server_ciphers, "no") \
    X("tls-session-caching", tls_session_caching, "yes") \
    X("tls-session-cache-size", tls_session_cache_size, "20480") \
    X("tls-session-cache-timeout", tls_session_cache_timeout, "300") \
    X("server_cpulist", server_cpulist, "") \
    X("bio_cpulist", bio_cpulist, "") \
    X("aof_rewrite_cpulist", aof_rewrite_cpulist, "") \
    X("bgsave_cpulist", bgsave_cpulist, "") \
    X("aof-disable-auto-gc", aof_disable_auto_gc, "no") \
    X("locale-collate", locale_collate, "") \
    X("max-new-connections-per-cycle", max_new_connections_per_cycle, "10") \
    X("max-new-tls-connections-per-cycle", max_new_tls_connections_per_cycle, "1")

struct config {
#define CONFIG_FIELD_INT(name, field, type, def, flags, words, help) long long field;
    /* every option is stored as long long (ints, memory, bools, enum index)
     * except strings, which are char * (see config_str) */
    CONFIG_OPTIONS(CONFIG_FIELD_INT)
#undef CONFIG_FIELD_INT
#define CONFIG_FIELD_IGNORED(name, field, def) long long ignored_##field;
    CONFIG_IGNORED(CONFIG_FIELD_IGNORED)
#undef CONFIG_FIELD_IGNORED
    /* strings: the long long field above holds a (char *) cast to intptr */
};

#define config_load(cfg, field) __atomic_load_n(&(cfg)->field, __ATOMIC_RELAXED)
#define config_store(cfg, field, v) __atomic_store_n(&(cfg)->field, (v), __ATOMIC_RELAXED)
#define config_str(cfg, field) ((const char *)(intptr_t)config_load(cfg, field))

/* Fill cfg with every default. */
void config_init(struct config *cfg);

/* Apply one option by name (case-insensitive) from its text value(s).
 * runtime: true for CONFIG SET (refuses options without CONF_RUNTIME).
 * Returns 0, or -1 with err set to the Redis-style error text, e.g.
 * "ERR Unknown option or number of arguments for CONFIG SET - 'foo'" or
 * "ERR CONFIG SET failed (possibly related to argument 'port') - ...". */
int config_set(struct config *cfg, const char *name, const char *value, bool runtime,
               char *err, size_t errlen);
/* config_set's checks (runtime) without storing anything. */
int config_check(const char *name, const char *value, char *err, size_t errlen);
/* CONFIG SET on a config other threads read: a string replaced is not freed
 * but put in *retired (NULL if none) for the caller to free once no reader
 * can hold it; config_set frees it at once (start-up, a private config). */
int config_set_shared(struct config *cfg, const char *name, const char *value, char **retired,
                      char *err, size_t errlen);

/* Load a redis.conf-style file (one "name value..." per line, # comments,
 * quoted values). Returns 0 or -1 with err naming the file, line and problem. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);

/* Parse argv as `ringkv [config-file] [--name value ...]` (also --help and
 * --version handled by the caller before). Returns 0 or -1 with err. */
int config_from_args(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* CONFIG REWRITE: rewrite the file at path (normally the one the server was
 * started with) so that it holds cfg's current values, as Redis 7 does.
 * Comments, blank lines, include lines and unknown lines stay where they
 * are. Each option whose value differs from its default, or which the file
 * already names, is written as "name value" in place of its first line; later
 * lines naming it again are dropped. Options not yet in the file are appended
 * after the line "# Generated by CONFIG REWRITE" (added once). Values are
 * written so that config_load_file reads them back identically (strings
 * quoted when needed, memory as plain bytes).
 *
 * The `replicaof` option of cfg is not used: the role changes at run time.
 * replicaof_line is the whole line to write for it ("replicaof 10.0.0.1
 * 6380") when the node is a replica, or NULL for a master, in which case
 * every replicaof/slaveof line is removed.
 *
 * The new text goes to a temporary file in the same directory, which then
 * replaces the old one with rename() (atomic: a crash leaves one or the
 * other). A missing file is created. Returns 0, or -1 with err set to
 * "ERR Rewriting config file: <strerror>". Blocking file I/O. */
int config_rewrite(const struct config *cfg, const char *path, const char *replicaof_line,
                   char *err, size_t errlen);

/* For CONFIG GET: call fn(name, value-text) for every option whose name
 * matches the glob pattern (case-insensitive). */
typedef void config_visit_fn(void *arg, const char *name, const char *value);
void config_get(const struct config *cfg, const char *pattern, config_visit_fn *fn, void *arg);

/* Text of one option's current value (memory as plain bytes, bools yes/no,
 * enums as their word) into out; returns out, or NULL for an unknown name. */
const char *config_value_text(const struct config *cfg, const char *name, char *out, size_t outlen);

/* The CONFIG_IGNORED directives cfg has been given (a file, flags, CONFIG
 * SET), as "name, name, ..." into out (cut at outlen); returns how many. */
size_t config_ignored_names(const struct config *cfg, char *out, size_t outlen);

/* --help: every option with its default and description. */
void config_print_help(FILE *f);

/* Parse "100", "1k", "1kb", "5mb", "2gb" (case-insensitive); -1 if malformed. */
long long config_parse_memory(const char *s);

#endif
