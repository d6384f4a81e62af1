/* table: the rows of the commands this layer handles (the command table's
 * machinery is core/command.c; replication registers its own rows).
 *
 * The table is data: one row per command, arities, flags and key positions as
 * Redis 7 reports them in COMMAND INFO, docs fields as COMMAND DOCS gives
 * them. Where a command runs follows from its flags (the comment at the top
 * of core/command.h); ringkv-only choices:
 *  - connection and server commands are CMD_CONN;
 *  - whole-keyspace commands (DBSIZE, KEYS, FLUSH*, RANDOMKEY) and commands
 *    over per-shard state (CLIENT LIST/KILL, SLOWLOG, CONFIG RESETSTAT) are
 *    CMD_ALL_SHARDS with a merge;
 *  - MGET, MSET, DEL, UNLINK, EXISTS, TOUCH are CMD_SPLIT: what each part
 *    answers combines into the same reply Redis gives;
 *  - SCAN is CMD_CURSOR; the other key commands run where their keys live;
 *  - the journal column (enum journal_kind, set with ROW_JOURNAL): in-place
 *    edits of a value (APPEND, SETRANGE, SETBIT, INCR, DECR, INCRBY, DECRBY,
 *    and INCRBYFLOAT in the form its handler states: SET key result KEEPTTL)
 *    are journaled as themselves, FLUSHALL/FLUSHDB as one node-wide record;
 *    every other write by its effects. */
#include "core/command.h"
#include "shards/commands/commands.h"

/* Flag sets that many rows share. */
#define F_CONNECTION (CMD_CONN | CMD_LOADING | CMD_STALE | CMD_FAST)
#define F_HANDSHAKE  (CMD_CONN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NOAUTH)
#define F_SERVER     (CMD_CONN | CMD_LOADING | CMD_STALE)
#define F_CLIENT     (CMD_CONN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define F_ADMIN      (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

/* Subcommand rows: named without the container ("list"), arity counted from
 * the container's name as Redis does (CLIENT SETNAME x has arity 3). */

static struct command client_subcommands[] = {
    ROW("id",      2,  F_CLIENT, 0, 0, 0, cmd_client_id, NULL, "connection", "5.0.0",
        "Returns the client ID for the current connection"),
    ROW("getname", 2,  F_CLIENT, 0, 0, 0, cmd_client_getname, NULL, "connection", "2.6.9",
        "Get the current connection name"),
    ROW("setname", 3,  F_CLIENT, 0, 0, 0, cmd_client_setname, NULL, "connection", "2.6.9",
        "Set the current connection name"),
    ROW("list",    -2, (F_CLIENT & ~CMD_CONN) | CMD_ADMIN | CMD_ALL_SHARDS, 0, 0, 0,
        cmd_client_list, merge_client_list, "connection", "2.4.0",
        "Get the list of client connections"),
    ROW("info",    2,  F_CLIENT, 0, 0, 0, cmd_client_info, NULL, "connection", "6.2.0",
        "Returns information about the current client connection."),
    ROW("kill",    -3, (F_CLIENT & ~CMD_CONN) | CMD_ADMIN | CMD_ALL_SHARDS, 0, 0, 0,
        cmd_client_kill, merge_client_kill, "connection", "2.4.0",
        "Kill the connection of a client"),
    ROW("pause",   -3, F_CLIENT | CMD_ADMIN, 0, 0, 0, cmd_client_pause, NULL, "connection", "3.0.0",
        "Stop processing commands from clients for some time"),
    ROW("unpause", 2,  F_CLIENT | CMD_ADMIN, 0, 0, 0, cmd_client_unpause, NULL, "connection", "6.2.0",
        "Resume processing of clients that were paused"),
    ROW("help",    2,  CMD_CONN | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_client_help, NULL,
        "connection", "5.0.0", "Show helpful text about the different subcommands"),
    END_OF_SUBCOMMANDS,
};

static struct command config_subcommands[] = {
    ROW("get",       -3, CMD_CONN | F_ADMIN, 0, 0, 0, cmd_config_get, NULL, "server", "2.0.0",
        "Get the values of configuration parameters"),
    ROW("set",       -4, CMD_CONN | F_ADMIN, 0, 0, 0, cmd_config_set, NULL, "server", "2.0.0",
        "Set configuration parameters to the given values"),
    ROW("resetstat", 2,  CMD_ALL_SHARDS | F_ADMIN, 0, 0, 0, cmd_config_resetstat, merge_first_ok,
        "server", "2.0.0", "Reset the stats returned by INFO"),
    ROW("rewrite",   2,  CMD_SHARD0 | F_ADMIN, 0, 0, 0, cmd_config_rewrite, NULL, "server", "2.8.0",
        "Rewrite the configuration file with the in memory configuration"),
    ROW("help",      2,  F_SERVER, 0, 0, 0, cmd_config_help, NULL, "server", "5.0.0",
        "Show helpful text about the different subcommands"),
    END_OF_SUBCOMMANDS,
};

#define F_LATENCY (CMD_ALL_SHARDS | F_ADMIN)
static struct command latency_subcommands[] = {
    ROW("doctor",    2,  F_LATENCY, 0, 0, 0, cmd_latency_part, merge_latency_doctor, "server", "2.8.13",
        "Return a human readable latency analysis report."),
    ROW("graph",     3,  F_LATENCY, 0, 0, 0, cmd_latency_part, merge_latency_graph, "server", "2.8.13",
        "Return a latency graph for the event."),
    ROW("history",   3,  F_LATENCY, 0, 0, 0, cmd_latency_part, merge_latency_history, "server", "2.8.13",
        "Return timestamp-latency samples for the event."),
    ROW("latest",    2,  F_LATENCY, 0, 0, 0, cmd_latency_part, merge_latency_latest, "server", "2.8.13",
        "Return the latest latency samples for all events."),
    ROW("reset",     -2, F_LATENCY, 0, 0, 0, cmd_latency_reset, merge_latency_reset, "server", "2.8.13",
        "Reset latency data for one or more events."),
    ROW("histogram", -2, CMD_CONN | F_ADMIN, 0, 0, 0, cmd_latency_histogram, NULL, "server", "7.0.0",
        "Return the cumulative distribution of latencies of a subset of commands or all commands."),
    ROW("help",      2,  F_SERVER, 0, 0, 0, cmd_latency_help, NULL, "server", "2.8.13",
        "Show helpful text about the different subcommands."),
    END_OF_SUBCOMMANDS,
};

static struct command memory_subcommands[] = {
    ROW("doctor",       2,  F_SERVER, 0, 0, 0, cmd_memory_doctor, NULL, "server", "4.0.0",
        "Outputs memory problems report"),
    ROW("malloc-stats", 2,  F_SERVER, 0, 0, 0, cmd_memory_malloc_stats, NULL, "server", "4.0.0",
        "Show allocator internal stats"),
    ROW("purge",        2,  CMD_ALL_SHARDS | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_memory_purge, merge_first_ok,
        "server", "4.0.0", "Ask the allocator to release memory"),
    ROW("stats",        2,  F_SERVER, 0, 0, 0, cmd_memory_stats, NULL, "server", "4.0.0",
        "Show memory usage details"),
    ROW("usage",        -3, CMD_READONLY, 2, 2, 1, cmd_memory_usage, NULL, "server", "4.0.0",
        "Estimate the memory usage of a key"),
    ROW("help",         2,  F_SERVER, 0, 0, 0, cmd_memory_help, NULL, "server", "4.0.0",
        "Show helpful text about the different subcommands"),
    END_OF_SUBCOMMANDS,
};

static struct command command_subcommands[] = {
    ROW("count", 2,  F_SERVER, 0, 0, 0, cmd_command_count, NULL, "server", "2.8.13",
        "Get total number of Redis commands"),
    ROW("info",  -2, F_SERVER, 0, 0, 0, cmd_command_info, NULL, "server", "2.8.13",
        "Get array of specific Redis command details, or all when no argument is given."),
    ROW("docs",  -2, F_SERVER, 0, 0, 0, cmd_command_docs, NULL, "server", "7.0.0",
        "Get array of specific Redis command documentation"),
    ROW("list",  -2, F_SERVER, 0, 0, 0, cmd_command_list, NULL, "server", "7.0.0",
        "Get an array of Redis command names"),
    ROW("help",  2,  F_SERVER, 0, 0, 0, cmd_command_help, NULL, "server", "5.0.0",
        "Show helpful text about the different subcommands"),
    END_OF_SUBCOMMANDS,
};

/* The slow log is per shard: every shard answers for its own and the merge
 * combines the parts (SLOWLOG GET: newest first, at most count). */
static struct command slowlog_subcommands[] = {
    ROW("get",   -2, CMD_ALL_SHARDS | CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_slowlog_get, merge_slowlog_get, "server", "2.2.12", "Get the slow log's entries"),
    ROW("len",   2,  CMD_ALL_SHARDS | CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_slowlog_len, merge_sum_int, "server", "2.2.12", "Get the slow log's length"),
    ROW("reset", 2,  CMD_ALL_SHARDS | CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_slowlog_reset, merge_first_ok, "server", "2.2.12", "Clear all entries from the slow log"),
    ROW("help",  2,  CMD_CONN | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_slowlog_help, NULL,
        "server", "6.2.0", "Show helpful text about the different subcommands"),
    END_OF_SUBCOMMANDS,
};

/* PUBSUB: each shard answers for its own subscribers; the merges combine. */
static struct command pubsub_subcommands[] = {
    ROW("channels", -2, CMD_ALL_SHARDS | CMD_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_pubsub_channels, merge_pubsub_channels, "pubsub", "2.8.0", "List active channels"),
    ROW("numsub",   -2, CMD_ALL_SHARDS | CMD_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_pubsub_numsub, merge_pubsub_numsub, "pubsub", "2.8.0", "Get the count of subscribers for channels"),
    ROW("numpat",   2,  CMD_ALL_SHARDS | CMD_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_pubsub_numpat, merge_pubsub_numpat, "pubsub", "2.8.0", "Get the count of unique patterns pattern subscriptions"),
    ROW("help",     2,  CMD_CONN | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_pubsub_help, NULL,
        "pubsub", "6.2.0", "Show helpful text about the different subcommands"),
    END_OF_SUBCOMMANDS,
};

static struct command table[] = {
    /* strings */
    ROW("get",         2,  CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_get, NULL, "string", "1.0.0",
        "Get the value of a key"),
    ROW("set",         -3, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_set, NULL, "string", "1.0.0",
        "Set the string value of a key"),
    ROW("setnx",       3,  CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, cmd_setnx, NULL, "string", "1.0.0",
        "Set the value of a key, only if the key does not exist"),
    ROW("setex",       4,  CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_setex, NULL, "string", "2.0.0",
        "Set the value and expiration of a key"),
    ROW("psetex",      4,  CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_psetex, NULL, "string", "2.6.0",
        "Set the value and expiration in milliseconds of a key"),
    ROW("getset",      3,  CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, cmd_getset, NULL, "string", "1.0.0",
        "Set the string value of a key and return its old value"),
    ROW("getdel",      2,  CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_getdel, NULL, "string", "6.2.0",
        "Get the value of a key and delete the key"),
    ROW("getex",       -2, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_getex, NULL, "string", "6.2.0",
        "Get the value of a key and optionally set its expiration"),
    ROW("mget",        -2, CMD_READONLY | CMD_FAST | CMD_SPLIT, 1, -1, 1, cmd_mget, merge_by_key,
        "string", "1.0.0", "Get the values of all the given keys"),
    ROW("mset",        -3, CMD_WRITE | CMD_DENYOOM | CMD_SPLIT, 1, -1, 2, cmd_mset, merge_first_ok,
        "string", "1.0.1", "Set multiple keys to multiple values"),
    ROW("msetnx",      -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 2, cmd_msetnx, NULL, "string", "1.0.1",
        "Set multiple keys to multiple values, only if none of the keys exist"),
    ROW_JOURNAL(JOURNAL_COMMAND, "append", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1,
        cmd_append, NULL, "string", "2.0.0",
        "Append a value to a key"),
    ROW("strlen",      2,  CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_strlen, NULL, "string", "2.2.0",
        "Get the length of the value stored in a key"),
    ROW_JOURNAL(JOURNAL_COMMAND, "incr", 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1,
        cmd_incr, NULL, "string", "1.0.0",
        "Increment the integer value of a key by one"),
    ROW_JOURNAL(JOURNAL_COMMAND, "decr", 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1,
        cmd_decr, NULL, "string", "1.0.0",
        "Decrement the integer value of a key by one"),
    ROW_JOURNAL(JOURNAL_COMMAND, "incrby", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1,
        cmd_incrby, NULL, "string", "1.0.0",
        "Increment the integer value of a key by the given amount"),
    ROW_JOURNAL(JOURNAL_COMMAND, "decrby", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1,
        cmd_decrby, NULL, "string", "1.0.0",
        "Decrement the integer value of a key by the given number"),
    ROW_JOURNAL(JOURNAL_COMMAND, "incrbyfloat", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1,
        cmd_incrbyfloat, NULL, "string", "2.6.0",
        "Increment the float value of a key by the given amount"),
    ROW("getrange",    4,  CMD_READONLY, 1, 1, 1, cmd_getrange, NULL, "string", "2.4.0",
        "Get a substring of the string stored at a key"),
    ROW("substr",      4,  CMD_READONLY, 1, 1, 1, cmd_getrange, NULL, "string", "1.0.0",
        "Get a substring of the string stored at a key"),
    ROW_JOURNAL(JOURNAL_COMMAND, "setrange", 4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1,
        cmd_setrange, NULL, "string", "2.2.0",
        "Overwrite part of a string at key starting at the specified offset"),
    ROW("lcs",         -3, CMD_READONLY, 1, 2, 1, cmd_lcs, NULL, "string", "7.0.0",
        "Find longest common substring"),
    ROW_JOURNAL(JOURNAL_COMMAND, "setbit", 4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1,
        cmd_setbit, NULL, "bitmap", "2.2.0",
        "Sets or clears the bit at offset in the string value stored at key"),
    ROW("getbit",      3,  CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_getbit, NULL, "bitmap", "2.2.0",
        "Returns the bit value at offset in the string value stored at key"),
    ROW("bitcount",    -2, CMD_READONLY, 1, 1, 1, cmd_bitcount, NULL, "bitmap", "2.6.0",
        "Count set bits in a string"),
    ROW("bitpos",      -3, CMD_READONLY, 1, 1, 1, cmd_bitpos, NULL, "bitmap", "2.8.7",
        "Find first bit set or clear in a string"),
    ROW("bitop",       -4, CMD_WRITE | CMD_DENYOOM, 2, -1, 1, cmd_bitop, NULL, "bitmap", "2.6.0",
        "Perform bitwise operations between strings"),

    /* keyspace */
    ROW("del",         -2, CMD_WRITE | CMD_SPLIT, 1, -1, 1, cmd_del, merge_sum_int, "generic", "1.0.0",
        "Delete a key"),
    ROW("unlink",      -2, CMD_WRITE | CMD_FAST | CMD_SPLIT, 1, -1, 1, cmd_unlink, merge_sum_int,
        "generic", "4.0.0",
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking."),
    ROW("exists",      -2, CMD_READONLY | CMD_FAST | CMD_SPLIT, 1, -1, 1, cmd_exists, merge_sum_int,
        "generic", "1.0.0", "Determine if a key exists"),
    ROW("touch",       -2, CMD_READONLY | CMD_FAST | CMD_SPLIT, 1, -1, 1, cmd_touch, merge_sum_int,
        "generic", "3.2.1",
        "Alters the last access time of a key(s). Returns the number of existing keys specified."),
    ROW("type",        2,  CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_type, NULL, "generic", "1.0.0",
        "Determine the type stored at key"),
    ROW("rename",      3,  CMD_WRITE, 1, 2, 1, cmd_rename, NULL, "generic", "1.0.0",
        "Rename a key"),
    ROW("renamenx",    3,  CMD_WRITE | CMD_FAST, 1, 2, 1, cmd_renamenx, NULL, "generic", "1.0.0",
        "Rename a key, only if the new key does not exist"),
    ROW("copy",        -3, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, cmd_copy, NULL, "generic", "6.2.0",
        "Copy a key"),
    ROW("expire",      -3, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_expire, NULL, "generic", "1.0.0",
        "Set a key's time to live in seconds"),
    ROW("pexpire",     -3, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_pexpire, NULL, "generic", "2.6.0",
        "Set a key's time to live in milliseconds"),
    ROW("expireat",    -3, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_expireat, NULL, "generic", "1.2.0",
        "Set the expiration for a key as a UNIX timestamp"),
    ROW("pexpireat",   -3, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_pexpireat, NULL, "generic", "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds"),
    ROW("ttl",         2,  CMD_READONLY | CMD_FAST | CMD_RANDOM, 1, 1, 1, cmd_ttl, NULL, "generic", "1.0.0",
        "Get the time to live for a key in seconds"),
    ROW("pttl",        2,  CMD_READONLY | CMD_FAST | CMD_RANDOM, 1, 1, 1, cmd_pttl, NULL, "generic", "2.6.0",
        "Get the time to live for a key in milliseconds"),
    ROW("expiretime",  2,  CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_expiretime, NULL, "generic", "7.0.0",
        "Get the expiration Unix timestamp for a key"),
    ROW("pexpiretime", 2,  CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_pexpiretime, NULL, "generic", "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds"),
    ROW("persist",     2,  CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_persist, NULL, "generic", "2.2.0",
        "Remove the expiration from a key"),
    ROW("dump",        2,  CMD_READONLY, 1, 1, 1, cmd_dump, NULL, "generic", "2.6.0",
        "Return a serialized version of the value stored at the specified key."),
    ROW("restore",     -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, cmd_restore, NULL, "generic", "2.6.0",
        "Create a key using the provided serialized value, previously obtained using DUMP."),
    ROW("restore-asking", -4, CMD_WRITE | CMD_DENYOOM | CMD_ASKING, 1, 1, 1, cmd_restore, NULL, "server", "3.0.0",
        "An internal command for migrating keys in a cluster"),
    ROW("migrate",     -6, CMD_WRITE | CMD_SHARD0 | CMD_HOLD_LATER, 0, 0, 0, cmd_migrate, NULL, "generic", "2.6.0",
        "Atomically transfer a key from a Redis instance to another one."),
    ROW("keys",        2,  CMD_READONLY | CMD_ALL_SHARDS, 0, 0, 0, cmd_keys, merge_concat_arrays,
        "generic", "1.0.0", "Find all keys matching the given pattern"),
    ROW("scan",        -2, CMD_READONLY | CMD_RANDOM | CMD_CURSOR, 0, 0, 0, cmd_scan, NULL,
        "generic", "2.8.0", "Incrementally iterate the keys space"),
    ROW("randomkey",   1,  CMD_READONLY | CMD_RANDOM | CMD_ALL_SHARDS, 0, 0, 0, cmd_randomkey,
        merge_first_non_null, "generic", "1.0.0", "Return a random key from the keyspace"),
    ROW("dbsize",      1,  CMD_READONLY | CMD_FAST | CMD_ALL_SHARDS, 0, 0, 0, cmd_dbsize, merge_sum_int,
        "server", "1.0.0", "Return the number of keys in the selected database"),
    ROW_JOURNAL(JOURNAL_NODE, "flushdb", -1, CMD_WRITE | CMD_ALL_SHARDS, 0, 0, 0, cmd_flushdb, merge_first_ok,
        "server", "1.0.0", "Remove all keys from the current database"),
    ROW_JOURNAL(JOURNAL_NODE, "flushall", -1, CMD_WRITE | CMD_ALL_SHARDS, 0, 0, 0,
        cmd_flushall, merge_first_ok,
        "server", "1.0.0", "Remove all keys from all databases"),

    /* connection */
    ROW("ping",        -1, CMD_CONN | CMD_FAST | CMD_SUBSCRIBED, 0, 0, 0, cmd_ping, NULL, "connection", "1.0.0",
        "Ping the server"),
    ROW("echo",        2,  F_CONNECTION, 0, 0, 0, cmd_echo, NULL, "connection", "1.0.0",
        "Echo the given string"),
    ROW("hello",       -1, F_HANDSHAKE, 0, 0, 0, cmd_hello, NULL, "connection", "6.0.0",
        "Handshake with Redis"),
    ROW("auth",        -2, F_HANDSHAKE, 0, 0, 0, cmd_auth, NULL, "connection", "1.0.0",
        "Authenticate to the server"),
    ROW("quit",        -1, (F_HANDSHAKE) | CMD_SUBSCRIBED | CMD_NOT_QUEUED, 0, 0, 0, cmd_quit, NULL, "connection", "1.0.0",
        "Close the connection"),
    ROW("reset",       1,  (F_HANDSHAKE) | CMD_SUBSCRIBED | CMD_NOT_QUEUED, 0, 0, 0, cmd_reset, NULL, "connection", "6.2.0",
        "Reset the connection"),
    ROW("select",      2,  F_CONNECTION, 0, 0, 0, cmd_select, NULL, "connection", "1.0.0",
        "Change the selected database for the current connection"),
    CONTAINER("client", -2, CMD_CONN, NULL, client_subcommands, "connection", "2.4.0",
        "A container for client connection commands"),

    /* server */
    ROW("info",        -1, CMD_SHARD0 | CMD_LOADING | CMD_STALE | CMD_RANDOM, 0, 0, 0, cmd_info, NULL, "server", "1.0.0",
        "Get information and statistics about the server"),
    CONTAINER("config", -2, CMD_CONN, NULL, config_subcommands, "server", "2.0.0",
        "A container for server configuration commands"),
    CONTAINER("command", -1, F_SERVER, cmd_command, command_subcommands, "server", "2.8.13",
        "Get array of Redis command details"),
    ROW("time",        1,  F_SERVER | CMD_FAST | CMD_RANDOM, 0, 0, 0, cmd_time, NULL, "server", "2.6.0",
        "Return the current server time"),
    CONTAINER("slowlog", -2, CMD_CONN, NULL, slowlog_subcommands, "server", "2.2.12",
        "A container for slow log commands"),
    CONTAINER("latency", -2, CMD_CONN, NULL, latency_subcommands, "server", "2.8.13",
        "A container for latency diagnostics commands"),
    CONTAINER("memory", -2, CMD_CONN, NULL, memory_subcommands, "server", "4.0.0",
        "A container for memory diagnostics commands"),
    ROW("monitor",     1,  CMD_CONN | F_ADMIN, 0, 0, 0, cmd_monitor, NULL, "server", "1.0.0",
        "Listen for all requests received by the server in real time"),
    ROW("shutdown",    -1, CMD_CONN | F_ADMIN | CMD_NO_MULTI | CMD_NO_REPLY, 0, 0, 0, cmd_shutdown, NULL, "server", "1.0.0",
        "Synchronously save the dataset to disk and then shut down the server"),

    /* pub/sub (shards/pubsub.c) */
    ROW("subscribe",   -2, CMD_CONN | CMD_PUBSUB | CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_subscribe, NULL, "pubsub", "2.0.0", "Listen for messages published to the given channels"),
    ROW("unsubscribe", -1, CMD_CONN | CMD_PUBSUB | CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_unsubscribe, NULL, "pubsub", "2.0.0", "Stop listening for messages posted to the given channels"),
    ROW("psubscribe",  -2, CMD_CONN | CMD_PUBSUB | CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_psubscribe, NULL, "pubsub", "2.0.0", "Listen for messages published to channels matching the given patterns"),
    ROW("punsubscribe", -1, CMD_CONN | CMD_PUBSUB | CMD_SUBSCRIBED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
        cmd_punsubscribe, NULL, "pubsub", "2.0.0", "Stop listening for messages posted to channels matching the given patterns"),
    ROW("publish",     3,  CMD_ALL_SHARDS | CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0,
        cmd_publish, merge_sum_int, "pubsub", "2.0.0", "Post a message to a channel"),
    CONTAINER("pubsub", -2, CMD_CONN, NULL, pubsub_subcommands, "pubsub", "2.8.0",
        "A container for Pub/Sub commands"),

    /* transactions (shards/transaction.c) */
    ROW("multi",       1,  CMD_CONN | CMD_NOT_QUEUED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0,
        cmd_multi, NULL, "transactions", "1.2.0", "Start a transaction block"),
    ROW("exec",        1,  CMD_CONN | CMD_NOT_QUEUED | CMD_EXEC | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SKIP_SLOWLOG, 0, 0, 0,
        cmd_exec, NULL, "transactions", "1.2.0", "Execute all commands issued after MULTI"),
    ROW("discard",     1,  CMD_CONN | CMD_NOT_QUEUED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0,
        cmd_discard, NULL, "transactions", "2.0.0", "Discard all commands issued after MULTI"),
    ROW("watch",       -2, CMD_CONN | CMD_NOT_QUEUED | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST, 1, -1, 1,
        cmd_watch, NULL, "transactions", "2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block"),
    ROW("unwatch",     1,  CMD_CONN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0,
        cmd_unwatch, NULL, "transactions", "2.0.0", "Forget about all watched keys"),

    /* CLUSTER: the cluster layer's rows (shards/cluster/commands.c) */
};

void commands_register(void)
{
    command_register(table, sizeof(table) / sizeof(table[0]));
}
