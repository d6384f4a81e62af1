/* command: the command table and the context a command runs in.
 *
 * The table is data (core/command.c): one row per command with its name,
 * arity, flags, key positions and handler. Dispatch, arity checks, auth
 * checks, "which keys does this touch" and COMMAND INFO all read that row.
 *
 * Where a command runs (decided by the dispatcher from the row's flags):
 *  - CMD_CONN: on the connection's thread, with ctx->client set (connection
 *    and server commands).
 *  - key commands: on the shard that owns the keys (ARCHITECTURE.md "Where a key lives"), ctx->client
 *    NULL when that is not the connection's thread. A command whose keys span
 *    shards is split per shard when it has a merge (CMD_SPLIT), otherwise it
 *    runs on a scratch store holding copies of its keys, and the writes it
 *    made are applied to their owners afterwards (see shards/route.c).
 *  - CMD_ALL_SHARDS: on every shard, each on its own part; the per-shard
 *    replies are merged on the connection's thread by the row's merge.
 */
#ifndef RINGKV_COMMAND_H
#define RINGKV_COMMAND_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/reply.h"
#include "core/client.h"

struct shard;
struct store;
struct shard_msg;

struct exec_ctx {
    struct shard        *shard;  /* the shard running the command */
    struct store        *store;  /* the keyspace to act on (the shard's, or a scratch store) */
    struct reply        *reply;  /* write exactly one reply here */
    int                  argc;
    const struct slice  *argv;   /* argv[0] is the command name as sent */
    struct client       *client; /* NULL when run away from the connection's thread */
    int64_t              now_ms; /* unix ms, one value for the whole command */
    uint64_t             caller_id; /* id of the client that sent the command (CLIENT KILL SKIPME) */
    struct shard_msg    *msg;    /* the message that brought the command here, or NULL */
    bool                 deferred; /* set by a handler that keeps msg and answers later (WAIT) */
    /* Set by replication for a row journaled as itself (JOURNAL_COMMAND)
     * while something journals it, else NULL: a handler whose command is
     * not deterministic as sent states here the form to journal instead
     * (INCRBYFLOAT: SET key result KEEPTTL, as Redis propagates it). Called
     * several times, the forms are journaled one after the other (SMOVE:
     * SREM src m then SADD dst m, each applied on its key's shard). */
    void (*journal_as)(struct exec_ctx *ctx, int argc, const struct slice *argv);
    /* The ACL user of the client that sent the command (core/acl.h; 0: the
     * default user): a script's calls are checked against it. */
    uint64_t             acl_user_id;
    /* A handler that cannot run now may set waits (writing no reply) when
     * may_wait: nothing done, it is asked again later (a script waiting for
     * the other shards, shards/hold.h, for as long as others hold them;
     * not inside a transaction). */
    bool                 may_wait;
    bool                 waits;
};

typedef void command_fn(struct exec_ctx *ctx);

/* Merge per-shard replies (each a complete RESP value, in shard order) into
 * one reply. parts[i] holds shard i's reply for split commands: for a split
 * by key, key_shard[k] says which shard answered for key k (position in the
 * original argument list, key order). */
struct merge_input {
    const struct buf *parts;   /* nparts replies */
    int               nparts;
    const int        *part_of_key; /* split commands: index into parts for each key, in key order */
    int               nkeys;
};
typedef void merge_fn(struct reply *out, const struct merge_input *in);

enum command_flag {
    CMD_WRITE      = 1u << 0,  /* may change the keyspace */
    CMD_READONLY   = 1u << 1,
    CMD_DENYOOM    = 1u << 2,  /* refused with -OOM when over maxmemory */
    CMD_ADMIN      = 1u << 3,
    CMD_FAST       = 1u << 4,
    CMD_NOAUTH     = 1u << 5,  /* allowed before AUTH (AUTH, HELLO, QUIT, RESET) */
    CMD_CONN       = 1u << 6,  /* runs on the connection's thread with ctx->client */
    CMD_ALL_SHARDS = 1u << 7,  /* runs on every shard; merge combines the replies */
    CMD_SPLIT      = 1u << 8,  /* keys may be split per shard; merge combines */
    CMD_LOADING    = 1u << 9,
    CMD_STALE      = 1u << 10,
    CMD_PUBSUB     = 1u << 11,
    CMD_NOSCRIPT   = 1u << 12,
    CMD_CURSOR     = 1u << 14, /* SCAN: argv[1] is a cursor that names the shard (see cmd_scan) */
    CMD_SHARD0     = 1u << 15, /* runs on shard 0, the replication shard, after the
                                  connection's earlier commands are done (INFO, ROLE, WAIT) */
    CMD_NOT_QUEUED = 1u << 16, /* runs at once inside MULTI instead of being queued
                                  (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET) */
    CMD_SUBSCRIBED = 1u << 17, /* allowed on a RESP2 connection in subscribe mode */
    CMD_NO_MULTI   = 1u << 18, /* refused inside MULTI (Redis's no_multi: SHUTDOWN, PSYNC, SYNC) */
    CMD_NO_REPLY   = 1u << 19, /* may write no reply (SHUTDOWN, REPLCONF ACK): refused inside
                                  MULTI too, since EXEC's array counts one reply per command */
    CMD_SKIP_SLOWLOG = 1u << 20, /* not logged in the slow log (EXEC: the commands it runs are) */
    CMD_EXEC       = 1u << 21, /* runs the connection's MULTI queue: a write if the queue holds one */
    CMD_HOLD_LATER = 1u << 22, /* with CMD_SHARD0: the connection's later commands wait for
                                  its reply, as after a scratch command (MIGRATE: Redis
                                  blocks for it, so what follows sees the keys gone) */
    CMD_PROTECTED  = 1u << 23, /* Redis's protected commands (DEBUG): refused unless
                                  enable-debug-command allows the connection (route.c) */
    CMD_HIDDEN_SUBS = 1u << 24, /* a container whose subcommands only route (DEBUG OBJECT to
                                   its key's shard): COMMAND shows it as one command, as Redis */
    CMD_ASKING     = 1u << 25, /* cluster mode: passes the key gate as if the connection had
                                  sent ASKING (RESTORE-ASKING, as Redis's CMD_ASKING) */
    CMD_BLOCKING   = 1u << 26, /* may block (BLPOP...): sent as a message to its keys' shard,
                                  which may keep it (shards/blocking.h); the connection reads
                                  nothing more until it is answered */
    CMD_NUMKEYS    = 1u << 27, /* the keys are counted by the integer argument just before
                                  first_key (LMPOP, BLMPOP): the row names every argument
                                  from first_key on; a blocking row's shard is that of the
                                  counted keys */
    CMD_STORE_KEY  = 1u << 28, /* the argument after a STORE word is a key too (SORT's
                                  destination; command_keys finds it as Redis's
                                  sortGetKeys does); COMMAND shows "movablekeys" (from
                                  the key specs of shards/commands/docs.c, as all of
                                  COMMAND's key positions) */
    CMD_STORE_GEO  = 1u << 29, /* with CMD_STORE_KEY: GEORADIUS's destinations, found as
                                  Redis's key specs find them (after the first STORE and
                                  the first STOREDIST) and the one it writes (after the
                                  last of them), not as SORT's */
    CMD_MAY_REPLICATE = 1u << 30, /* not a write row, but may write (EVAL, EVALSHA: their
                                     scripts' commands): CLIENT PAUSE WRITE and a FAILOVER's
                                     pause hold it as a write (Redis's may_replicate) */
    CMD_WATCH      = 1u << 31, /* WATCH: refused inside MULTI; the connection remembers its
                                  keys, which EXEC checks (shards/watched.c), and the row
                                  runs on the keys' shards (shards/watch.h) */
};
/* Flags past the enum's 32 bits (the flags word is 64 bits wide since). */
/* XREAD, XREADGROUP: the keys are the first half of the arguments after the
 * word STREAMS, searched from first_key on (Redis's keyword key spec);
 * COMMAND shows "movablekeys" and no first/last/step, as Redis (from its key
 * spec: shards/commands/docs.c). */
#define CMD_STREAMS_KEYS (UINT64_C(1) << 32)
/* A write row whose key lookups count in INFO's keyspace_hits/misses: Redis
 * counts the lookups of reads only (lookupKeyRead), and these writes read
 * keys so (GETDEL, GETEX, GETSET, COPY's source, the sources of SORT ...
 * STORE, SINTERSTORE, ZUNIONSTORE, BITOP, PFMERGE, MIGRATE...); other write
 * rows' lookups are not counted. */
#define CMD_READ_STATS (UINT64_C(1) << 33)
/* ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: the key at first_key is the
 * destination, the argument after it counts the keys that follow it (then
 * options: WEIGHTS, AGGREGATE); those and the destination are the keys
 * (Redis's zunionInterDiffStoreGetKeys). COMMAND shows "movablekeys". */
#define CMD_DEST_NUMKEYS (UINT64_C(1) << 34)
/* Served while a script runs past busy-reply-threshold, when every other
 * command answers -BUSY (route.c; Redis's allow_busy: SCRIPT KILL,
 * FUNCTION KILL|STATS, SHUTDOWN, REPLCONF, the handshake and the
 * transaction commands). */
#define CMD_ALLOW_BUSY (UINT64_C(1) << 35)
/* Its keys may be none (Redis's no_mandatory_keys: EVAL ... 0): COMMAND
 * GETKEYS answers an empty list, not an error, when it finds none. */
#define CMD_NO_MANDATORY_KEYS (UINT64_C(1) << 36)
/* MONITOR shows it before it runs, ahead of the commands it runs
 * (Redis's skip_monitor: the scripts, which Redis feeds to MONITOR before
 * running them, not after as other commands). ringkv feeds every command
 * before it runs (shards/monitor.h): only COMMAND reads it. */
#define CMD_SKIP_MONITOR (UINT64_C(1) << 37)
/* EVAL, EVALSHA, FCALL and their _RO forms: argv[1] names what runs (the
 * script's body or sha, the function's name). One that held every shard
 * before (shards/hold.h) runs on the connection's shard holding them again,
 * not on copies of its keys, when those are on several shards. */
#define CMD_RUNS_SCRIPT (UINT64_C(1) << 38)
/* FLUSHALL, SWAPDB: act on the databases as a whole, not on the
 * connection's: their node-wide record (JOURNAL_NODE) goes into the stream
 * without a SELECT around it, and always (Redis forces their propagation:
 * SWAPDB changes no key, a FLUSHALL of empty databases none). */
#define CMD_NO_DB (UINT64_C(1) << 39)
/* COPY: a `DB n` among the arguments after the keys names the destination
 * key's database. Over keys of two shards (a scratch store, shards/run.c)
 * the destination's copy is taken from database n and its writes applied
 * there. */
#define CMD_DEST_DB (UINT64_C(1) << 40)

/* How a command's writes reach the replication stream: the journal column
 * of the table (replication/repl.c acts on it; rows set it through
 * JOURNALED() in core/command.c, the default is JOURNAL_EFFECTS).
 *  - JOURNAL_EFFECTS: the changes the store makes, each in a deterministic
 *    form (SET k v [PXAT t], DEL k, PEXPIREAT k t, PERSIST k): right for
 *    commands whose effect is small or depends on the clock (SET EX, EXPIRE,
 *    GETEX, INCRBYFLOAT, ...).
 *  - JOURNAL_COMMAND: the command itself, as sent, once, if it changed
 *    anything: for in-place edits of a value (SETBIT, SETRANGE, APPEND,
 *    INCR, ...), whose effects would be the whole value. Such a command must
 *    be deterministic given the keyspace (no clock, no randomness), or its
 *    handler states a form that is (exec_ctx.journal_as: INCRBYFLOAT, whose
 *    float formatting is not to be redone elsewhere); a replica runs it
 *    through the same row and handler.
 *  - JOURNAL_VALUE_COPY: commands that give a key another key's whole
 *    value (RENAME, RENAMENX, COPY): the command itself, as JOURNAL_COMMAND,
 *    so a replica moves or copies the value on its own (a RENAME of a
 *    million-element hash is a few dozen stream bytes, not the hash),
 *    between keys of one slot (on one shard anywhere) while no full sync's
 *    snapshot walks the shard's store; by its effects otherwise
 *    (replication/repl.c, value_copy_as_command).
 *  - JOURNAL_NODE: one record for the whole node (FLUSHALL, FLUSHDB): every
 *    shard runs its part, and the record takes one place in the stream,
 *    after every write any shard made before its part and before every
 *    write after it (a barrier, see replication/repl.c).
 *  - JOURNAL_ALWAYS: the command itself, as sent, each time it runs, for
 *    node-wide state outside the stores (FUNCTION LOAD, DELETE, FLUSH,
 *    RESTORE: the function libraries); deterministic given that state, so
 *    one that failed here fails the same way on the replica, which runs it
 *    on its shard 0. A full sync sends the state first (the shard module's
 *    full_sync hook). Also PUBLISH and SPUBLISH, as Redis propagates them
 *    so that a replica's subscribers get the master's messages: a
 *    CMD_ALL_SHARDS row goes out once (shard 0's part) and the replica runs
 *    it on every shard. */
enum journal_kind {
    JOURNAL_EFFECTS = 0,
    JOURNAL_COMMAND,
    JOURNAL_VALUE_COPY,
    JOURNAL_NODE,
    JOURNAL_ALWAYS,
};

struct command {
    const char *name;      /* lower case */
    int         arity;     /* argc including the name; negative: at least -arity */
    uint64_t    flags;     /* enum command_flag, and the CMD_ flags after it */
    int         first_key; /* argv index of the first key, 0 = none */
    int         last_key;  /* argv index of the last key; negative counts from the end (-1 = last) */
    int         key_step;  /* distance between keys (MSET: 2) */
    command_fn *fn;
    merge_fn   *merge;     /* CMD_SPLIT / CMD_ALL_SHARDS */
    const char *group;     /* COMMAND DOCS group: "string", "generic", "server", "connection", "cluster" */
    const char *summary;   /* COMMAND DOCS summary */
    const char *since;     /* Redis version that introduced it */
    int         index;     /* position in the table (for per-command stats) */
    enum journal_kind journal; /* how its writes reach the replication stream */
    /* subcommands (CLIENT, CONFIG, ...): NULL-terminated by name, or NULL */
    const struct command *subcommands;
};

/* ---- writing the table --------------------------------------------------
 * Each layer that handles commands writes its rows with these macros and
 * registers them (command_register) before the first lookup. */
/* A row; the designated initialisers keep the table readable as a table. */
#define ROW(nm, ar, fl, fk, lk, ks, fnc, mrg, grp, since_, summ)                \
    ROW_JOURNAL(JOURNAL_EFFECTS, nm, ar, fl, fk, lk, ks, fnc, mrg, grp, since_, summ)
/* A row whose writes reach the replication stream other than as their
 * effects (the journal column, enum journal_kind in command.h): the same
 * arguments after the kind. */
#define ROW_JOURNAL(jk, nm, ar, fl, fk, lk, ks, fnc, mrg, grp, since_, summ)    \
    { .name = (nm), .arity = (ar), .flags = (fl), .first_key = (fk),            \
      .last_key = (lk), .key_step = (ks), .fn = (fnc), .merge = (mrg),          \
      .group = (grp), .summary = (summ), .since = (since_), .index = -1,        \
      .subcommands = NULL, .journal = (jk) }
#define CONTAINER(nm, ar, fl, fnc, subs, grp, since_, summ)                     \
    { .name = (nm), .arity = (ar), .flags = (fl), .first_key = 0,               \
      .last_key = 0, .key_step = 0, .fn = (fnc), .merge = NULL,                 \
      .group = (grp), .summary = (summ), .since = (since_), .index = -1,        \
      .subcommands = (subs) }
#define END_OF_SUBCOMMANDS { .name = NULL }

/* Add n rows (copied) to the table. Before command_setup or any lookup. */
void command_register(const struct command *rows, size_t n);
/* Number the rows (command->index) and index their names, once, after
 * every layer registered its rows and before any shard starts. */
void command_setup(void);

/* Look up argv[0] (case-insensitive); NULL if unknown. */
const struct command *command_lookup(struct slice name);

/* A command ringkv runs on the connection's thread (CMD_CONN) whose
 * handler needs nothing of the connection (it reads ctx->client only when
 * set): TIME, PING, ECHO, SELECT. A script runs them where it is, and so
 * does a part of a transaction over several shards. */
bool command_needs_no_connection(const struct command *cmd);
/* Look up a subcommand of a container command (CLIENT LIST): NULL if unknown. */
const struct command *command_lookup_sub(const struct command *cmd, struct slice sub);
/* Every top-level command, in table order; *n set to the count. */
const struct command *command_table(size_t *n);
/* Number of rows including subcommands (for per-command stats arrays). */
size_t command_count_all(void);

/* Positions of the keys of a parsed command: fills idx with up to max argv
 * indexes and returns how many keys the command has. */
int command_keys(const struct command *cmd, int argc, const struct slice *argv, int *idx, int max);

/* Checks the arity; returns 0 if argc fits. */
static inline int command_arity_ok(const struct command *cmd, int argc)
{
    return cmd->arity >= 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* For merges of one's own: if a part is an error reply, copy the first
 * one to out and return true. */
bool merge_copy_first_error(struct reply *out, const struct merge_input *in);

/* Merges commands use. */
merge_fn merge_sum_int;        /* :a + :b + ... (DEL, EXISTS, TOUCH, UNLINK) */
merge_fn merge_first_ok;       /* every part +OK -> +OK, else the first error (MSET, FLUSHALL) */
merge_fn merge_by_key;         /* each part an array of per-key values in key order -> one array in original order (MGET) */
merge_fn merge_concat_arrays;  /* arrays concatenated (KEYS) */
merge_fn merge_first_non_null; /* the first non-null part starting at a random shard (RANDOMKEY) */

/* Whether cmd's key lookups count as hits and misses (store_lookups_counted):
 * a read's do, a write's only with CMD_READ_STATS. */
static inline bool command_counts_lookups(const struct command *cmd)
{
    return !(cmd->flags & CMD_WRITE) || (cmd->flags & CMD_READ_STATS);
}

#endif
