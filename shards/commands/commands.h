/* commands: the handlers of every command of this layer, grouped by file:
 *   string.c          string commands
 *   bitfield.c        BITFIELD and BITFIELD_RO
 *   hyperloglog.c     PFADD, PFCOUNT, PFMERGE (HLLs are strings)
 *   hash.c            hash commands
 *   set.c             set commands
 *   zset.c            sorted set commands
 *   list.c            list commands (blocking forms with shards/blocking.c)
 *   keyspace.c        generic key commands
 *   connection.c      connection commands
 *   info.c, config.c, introspection.c (COMMAND, TIME, SHUTDOWN),
 *   slowlog.c         server commands (sharing server.h)
 *   transaction.c     MULTI/EXEC; pubsub.c  pub/sub
 * The rows that name them are table.c (commands_register). */
#ifndef RINGKV_COMMANDS_H
#define RINGKV_COMMANDS_H

#include "core/command.h"

/* Register this layer's rows in the command table (before command_setup). */
void commands_register(void);

/* strings */
command_fn cmd_get, cmd_set, cmd_setnx, cmd_setex, cmd_psetex, cmd_getset,
    cmd_getdel, cmd_getex, cmd_mget, cmd_mset, cmd_msetnx, cmd_append,
    cmd_strlen, cmd_incr, cmd_decr, cmd_incrby, cmd_decrby, cmd_incrbyfloat,
    cmd_getrange, cmd_setrange, cmd_lcs, cmd_setbit, cmd_getbit,
    cmd_bitcount, cmd_bitpos, cmd_bitop, cmd_bitfield, cmd_bitfield_ro;
/* proto-max-bulk-len: the largest string APPEND, SETRANGE, SETBIT and
 * BITFIELD may build (BITFIELD's last field may end a few bytes past it, as
 * in Redis: only where a field starts is bounded). */
#define STRING_MAX_BYTES (512LL * 1024 * 1024)

/* HyperLogLog (hyperloglog.c) */
command_fn cmd_pfadd, cmd_pfcount, cmd_pfmerge;
command_fn cmd_pfdebug, cmd_pfselftest;

/* geo (geo.c): sorted sets scored by geohash */
command_fn cmd_geoadd, cmd_geopos, cmd_geodist, cmd_geohash, cmd_georadius, cmd_georadius_ro,
    cmd_georadiusbymember, cmd_georadiusbymember_ro, cmd_geosearch, cmd_geosearchstore;

/* hashes */
command_fn cmd_hset, cmd_hmset, cmd_hsetnx, cmd_hget, cmd_hmget, cmd_hexists,
    cmd_hlen, cmd_hstrlen, cmd_hdel, cmd_hkeys, cmd_hvals, cmd_hgetall,
    cmd_hincrby, cmd_hincrbyfloat, cmd_hrandfield, cmd_hscan;

/* sets */
command_fn cmd_sort, cmd_sort_ro;
command_fn cmd_sadd, cmd_srem, cmd_smembers, cmd_sismember, cmd_smismember,
    cmd_scard, cmd_spop, cmd_srandmember, cmd_smove, cmd_sinter, cmd_sintercard,
    cmd_sunion, cmd_sdiff, cmd_sinterstore, cmd_sunionstore, cmd_sdiffstore,
    cmd_sscan;
/* sorted sets */
command_fn cmd_zadd, cmd_zincrby, cmd_zrem, cmd_zscore, cmd_zmscore, cmd_zcard,
    cmd_zcount, cmd_zlexcount, cmd_zrank, cmd_zrevrank, cmd_zrange, cmd_zrangestore,
    cmd_zrevrange, cmd_zrangebyscore, cmd_zrevrangebyscore, cmd_zrangebylex,
    cmd_zrevrangebylex, cmd_zremrangebyrank, cmd_zremrangebyscore, cmd_zremrangebylex,
    cmd_zpopmin, cmd_zpopmax, cmd_zmpop, cmd_zunion, cmd_zinter, cmd_zdiff,
    cmd_zunionstore, cmd_zinterstore, cmd_zdiffstore, cmd_zintercard,
    cmd_zrandmember, cmd_zscan, cmd_bzpopmin, cmd_bzpopmax, cmd_bzmpop;

/* lists */
/* LEFT or RIGHT (any case), the end of a list a word names: *head set */
bool list_parse_end(struct slice s, bool *head);
command_fn cmd_lpush, cmd_rpush, cmd_lpushx, cmd_rpushx, cmd_lpop, cmd_rpop, cmd_llen,
    cmd_lindex, cmd_lrange, cmd_lpos, cmd_linsert, cmd_lset, cmd_lrem, cmd_ltrim, cmd_lmove,
    cmd_rpoplpush, cmd_lmpop, cmd_blpop, cmd_brpop, cmd_blmove, cmd_brpoplpush, cmd_blmpop;

/* streams (stream.c) */
command_fn cmd_xadd, cmd_xlen, cmd_xrange, cmd_xrevrange, cmd_xdel, cmd_xtrim, cmd_xsetid, cmd_xread;
/* consumer groups and XINFO (stream_group.c) */
command_fn cmd_xgroup_create, cmd_xgroup_setid, cmd_xgroup_destroy, cmd_xgroup_createconsumer, cmd_xgroup_delconsumer,
    cmd_xgroup_help, cmd_xack, cmd_xpending, cmd_xclaim, cmd_xautoclaim, cmd_xreadgroup, cmd_xinfo_stream,
    cmd_xinfo_groups, cmd_xinfo_consumers, cmd_xinfo_help;

/* keyspace */
command_fn cmd_object_encoding, cmd_object_freq, cmd_object_idletime, cmd_object_refcount,
    cmd_object_help;
command_fn cmd_del, cmd_unlink, cmd_exists, cmd_touch, cmd_type, cmd_rename,
    cmd_renamenx, cmd_copy, cmd_expire, cmd_pexpire, cmd_expireat,
    cmd_pexpireat, cmd_ttl, cmd_pttl, cmd_expiretime, cmd_pexpiretime,
    cmd_persist, cmd_keys, cmd_scan, cmd_randomkey, cmd_dbsize, cmd_flushdb,
    cmd_flushall;

/* DUMP / RESTORE (dump.c), MIGRATE (migrate.c), RINGKV-MIGRATESLOTS
 * (migrate_slots.c) */
command_fn cmd_dump, cmd_restore, cmd_ringkv_restoremany, cmd_ringkv_restorepart, cmd_ringkv_reservekeys, cmd_migrate,
    cmd_ringkv_migrateslots;
/* MIGRATE's shard module (its timeouts, on every tick): attached to the
 * node with the rows (main.c). */
struct shard_module;
extern const struct shard_module migrate_module;

/* connection */
command_fn cmd_ping, cmd_echo, cmd_hello, cmd_auth, cmd_quit, cmd_reset,
    cmd_select, cmd_client_id, cmd_client_getname, cmd_client_setname,
    cmd_client_list, cmd_client_info, cmd_client_kill, cmd_client_help,
    cmd_client_pause, cmd_client_unpause, cmd_client_reply, cmd_client_no_evict,
    cmd_client_no_touch, cmd_client_getredir, cmd_client_tracking, cmd_client_trackinginfo,
    cmd_client_caching, cmd_client_unblock;

/* MOVE, SWAPDB: keyspace.c */
command_fn cmd_move, cmd_swapdb;
/* A database index argument as Redis reads it (SELECT, MOVE, COPY ... DB):
 * an integer in int range, else false with Redis's error replied. */
bool db_index_arg(struct exec_ctx *ctx, struct slice s, long long *db);
command_fn cmd_fcall, cmd_fcall_ro, cmd_function_load, cmd_function_delete, cmd_function_flush, cmd_function_kill,
    cmd_function_list, cmd_function_stats, cmd_function_dump, cmd_function_restore, cmd_function_help;

/* DEBUG (debug.c) */
command_fn cmd_debug_help, cmd_debug_sleep, cmd_debug_object, cmd_debug_set_active_expire, cmd_debug_set_staging_idle,
    cmd_debug_error, cmd_debug_log, cmd_debug_populate, cmd_debug_refused, cmd_debug_protocol,
    cmd_debug_digest, cmd_debug_digest_value, cmd_debug_change_repl_id;
merge_fn merge_debug_digest;
/* CLIENT LIST: the shards' lists (bulk or verbatim strings) as one string. */
merge_fn merge_client_list;
/* CLIENT KILL: every shard answers for its own connections: an integer count
 * (new form), or +OK / -ERR No such client (old form `CLIENT KILL addr`).
 * Integers are summed; otherwise +OK if any shard killed, else the error. */
merge_fn merge_client_kill;

/* pub/sub */
command_fn cmd_subscribe, cmd_unsubscribe, cmd_psubscribe, cmd_punsubscribe, cmd_publish,
    cmd_pubsub_channels, cmd_pubsub_numsub, cmd_pubsub_numpat, cmd_pubsub_help;
command_fn cmd_ssubscribe, cmd_sunsubscribe, cmd_spublish, cmd_pubsub_shardchannels, cmd_pubsub_shardnumsub;
merge_fn merge_pubsub_channels, merge_pubsub_numsub, merge_pubsub_numpat;

/* transactions */
command_fn cmd_multi, cmd_exec, cmd_discard, cmd_watch, cmd_unwatch;

/* server */
command_fn cmd_info, cmd_config_get, cmd_config_set, cmd_config_resetstat,
    cmd_config_rewrite, cmd_config_help, cmd_command, cmd_command_count, cmd_command_info,
    cmd_command_docs, cmd_command_list, cmd_time, cmd_slowlog_get,
    cmd_slowlog_len, cmd_slowlog_reset, cmd_shutdown, cmd_lolwut;

/* server, continued:
 *   cmd_command_help, cmd_slowlog_help: COMMAND HELP, SLOWLOG HELP.
 * SHUTDOWN writes no reply on success (Redis closes the connection without
 * answering): its row says so (CMD_NO_REPLY), and the dispatcher accepts a
 * command that produced no reply (refusing it inside MULTI). */
command_fn cmd_command_help, cmd_slowlog_help, cmd_command_getkeys, cmd_command_getkeysandflags;

/* MONITOR (monitor.c): the connection becomes a monitor (shards/monitor.h). */
command_fn cmd_monitor;

/* LATENCY (latency.c): LATEST, HISTORY, GRAPH and DOCTOR run on every
 * shard (cmd_latency_part: the shard's series) and merge by subcommand;
 * RESET likewise; HISTOGRAM and HELP on the connection. */
command_fn cmd_latency_part, cmd_latency_reset, cmd_latency_histogram, cmd_latency_help;
merge_fn merge_latency_latest, merge_latency_history, merge_latency_graph, merge_latency_doctor,
    merge_latency_reset;

/* MEMORY (memory.c). MEMORY PURGE runs on every shard (merge_first_ok). */
command_fn cmd_memory_stats, cmd_memory_doctor, cmd_memory_malloc_stats, cmd_memory_purge,
    cmd_memory_usage, cmd_memory_help;
/* Attach the memory sampling (every shard's heaps, the RSS: memory.c) to the
 * node, before node_start. */
struct node;
void memory_attach(struct node *n);

/* Lua scripting (scripting.c, script_engine.c, script_convert.c) */
command_fn cmd_eval, cmd_evalsha, cmd_eval_ro, cmd_evalsha_ro, cmd_script_load, cmd_script_exists,
    cmd_script_flush, cmd_script_kill, cmd_script_debug, cmd_script_help;
/* The node's script registry and each shard's Lua state (scripting.c), to
 * the node before node_start. */
void scripting_attach(struct node *n);
/* The scripts the node keeps (INFO's number_of_cached_scripts) and the
 * bytes of their bodies (used_memory_scripts_eval). */
void scripting_registry_size(struct node *n, size_t *count, size_t *bytes);
/* The function libraries the node keeps: how many, their functions, the bytes of their code. */
void function_registry_counts(const struct node *n, size_t *libs, size_t *fns, size_t *bytes);

/* SLOWLOG GET (CMD_ALL_SHARDS): each shard replies [count, entry...] (the
 * requested count first, then its own newest entries); this merge sorts all
 * the entries newest first and keeps at most count. It must run even when
 * there is one shard, since the parts are not the client's reply. */
merge_fn merge_slowlog_get;

#endif
