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
};

#define CONF_RUNTIME 1 /* may be changed by CONFIG SET */

/* X(name, field, type, default-as-text, flags, enum-words, help) */
#define CONFIG_OPTIONS(X) \
    X("port",            port,            CONF_INT,    "6379",      0, NULL, "TCP port to listen on (0: pick an ephemeral port and log it)") \
    X("bind",            bind,            CONF_STRING, "127.0.0.1", 0, NULL, "addresses to listen on, space separated; one prefixed with '-' is skipped if this host does not have it") \
    X("threads",         threads,         CONF_INT,    "0",         0, NULL, "shard threads (0: one per CPU the process may use; 1 if it may use only 1 or 2)") \
    X("pin",             pin,             CONF_BOOL,   "yes",       0, NULL, "pin shard thread i to the i-th allowed CPU") \
    X("recv-buffers",    recv_buffers,    CONF_INT,    "128",       0, NULL, "16 KB buffers in each shard's io_uring receive ring (rounded up to a power of two): what one loop turn can read") \
    X("maxmemory",       maxmemory,       CONF_MEMORY, "0",         CONF_RUNTIME, NULL, "memory limit for data (0: none), split evenly over the shards") \
    X("maxmemory-policy", maxmemory_policy, CONF_ENUM, "noeviction", CONF_RUNTIME, "noeviction allkeys-lru volatile-lru allkeys-random volatile-ttl", "what to do when maxmemory is reached") \
    X("maxmemory-samples", maxmemory_samples, CONF_INT, "5",        CONF_RUNTIME, NULL, "keys sampled per eviction (accepted for compatibility)") \
    X("requirepass",     requirepass,     CONF_STRING, "",          CONF_RUNTIME, NULL, "password clients must give with AUTH (empty: none)") \
    X("protected-mode",  protected_mode,  CONF_BOOL,   "yes",       CONF_RUNTIME, NULL, "without a password, accept only loopback clients") \
    X("timeout",         timeout,         CONF_INT,    "0",         CONF_RUNTIME, NULL, "close a client idle this many seconds (0: never)") \
    X("tcp-keepalive",   tcp_keepalive,   CONF_INT,    "300",       CONF_RUNTIME, NULL, "TCP keepalive interval in seconds (0: off)") \
    X("tcp-backlog",     tcp_backlog,     CONF_INT,    "511",       0, NULL, "listen() backlog") \
    X("maxclients",      maxclients,      CONF_INT,    "10000",     CONF_RUNTIME, NULL, "most clients connected at once") \
    X("loglevel",        loglevel,        CONF_ENUM,   "notice",    CONF_RUNTIME, "debug verbose notice warning nothing", "how much to log") \
    X("logfile",         logfile,         CONF_STRING, "",          0, NULL, "log file path (empty: standard output)") \
    X("pidfile",         pidfile,         CONF_STRING, "",          0, NULL, "write the process id here (empty: no file)") \
    X("daemonize",       daemonize,       CONF_BOOL,   "no",        0, NULL, "accepted for compatibility; only 'no' is supported") \
    X("databases",       databases,       CONF_INT,    "1",         0, NULL, "ringkv has one database (SELECT 0 only)") \
    X("proto-max-bulk-len", proto_max_bulk_len, CONF_MEMORY, "512mb", CONF_RUNTIME, NULL, "largest bulk string a client may send") \
    X("client-query-buffer-limit", client_query_buffer_limit, CONF_MEMORY, "1gb", CONF_RUNTIME, NULL, "largest unparsed input kept per client; past it the client is closed") \
    X("client-output-buffer-limit", client_output_buffer_limit, CONF_STRING, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", CONF_RUNTIME, NULL, "per class: hard limit, soft limit, soft seconds (core/output_limits.h); ringkv applies the pubsub class") \
    X("client-output-buffer-limit-bytes", client_output_limit, CONF_MEMORY, "64mb", CONF_RUNTIME, NULL, "unsent output per client past which its input is not read until it drains") \
    X("slowlog-log-slower-than", slowlog_slower_than, CONF_INT, "10000", CONF_RUNTIME, NULL, "log commands slower than this many microseconds (negative: never)") \
    X("slowlog-max-len", slowlog_max_len, CONF_INT,    "128",       CONF_RUNTIME, NULL, "slow log entries kept per shard") \
    X("hz",              hz,              CONF_INT,    "10",        CONF_RUNTIME, NULL, "background tasks (active expiry, timeouts) run this many times a second") \
    X("save",            save,            CONF_STRING, "",          CONF_RUNTIME, NULL, "accepted for compatibility; ringkv does not persist to disk") \
    X("appendonly",      appendonly,      CONF_BOOL,   "no",        CONF_RUNTIME, NULL, "accepted for compatibility; only 'no' is supported") \
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
    X("cluster-node-timeout", cluster_node_timeout, CONF_INT, "15000", CONF_RUNTIME, NULL, "milliseconds after which an unreachable node counts as failing")

struct config {
#define CONFIG_FIELD_INT(name, field, type, def, flags, words, help) long long field;
    /* every option is stored as long long (ints, memory, bools, enum index)
     * except strings, which are char * (see config_str) */
    CONFIG_OPTIONS(CONFIG_FIELD_INT)
#undef CONFIG_FIELD_INT
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

/* --help: every option with its default and description. */
void config_print_help(FILE *f);

/* Parse "100", "1k", "1kb", "5mb", "2gb" (case-insensitive); -1 if malformed. */
long long config_parse_memory(const char *s);

#endif
