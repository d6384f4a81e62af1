/* node: one ringkv process. It holds the configuration, starts one shard
 * thread per CPU (shards/shard.h), and waits for them to stop. Everything in
 * it is either set before the shards start and read-only afterwards, or an
 * atomic. */
#ifndef RINGKV_NODE_H
#define RINGKV_NODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/acl.h"
#include "core/config.h"
#include "shards/mailbox.h"
#include "shards/store/store.h"

struct node;
struct shard;
struct shard_module;
struct command;
struct exec_ctx;
struct slice;
struct cluster;

#define NODE_MODULES_MAX 16 /* the shard modules a node may have (ten with the cluster, tracking and the AOF) */

/* Where what the shards write goes: the replication layer's journal. */
struct journal_sink {
    /* Every change a store applies (arg: the shard), in a deterministic form. */
    journal_hook *record;
    /* Around a command whose row's journal column is not JOURNAL_EFFECTS,
     * run by a shard on its own store: the command goes out itself, or as a
     * node-wide record (core/command.h). */
    void (*command_begin)(struct shard *sh, const struct command *cmd, struct exec_ctx *ctx);
    void (*command_end)(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv);
    /* A write the shard refused to run after its connection's shard had
     * accepted it (a role change, a FAILOVER's pause): still its part of a
     * node-wide command. */
    void (*command_refused)(struct shard *sh, const struct command *cmd);
    /* A write is about to reach key on the shard's own store, while a full
     * sync still sends some of its keys in parts over loop turns
     * (sh->snap_keys_pending > 0; only then is this called). If key is one
     * of them, the rest of its parts goes now, ahead of this write's own
     * stream bytes, so the write meets it whole on the replica (a list's
     * parts go by index, which pushes and pops shift). The runtime calls
     * it for every key a write names (a command's keys, a cross-shard
     * command's records applied here), before the write runs. */
    void (*key_before_write)(struct shard *sh, const struct slice *key);
    /* A replica: the database its master's stream is in now (SELECT), which
     * a new AOF incr file, starting in database 0, must select first. */
    int (*stream_db)(struct shard *sh);
};

/* Why a client's write must be refused now (a read-only replica, too few
 * good replicas), or NULL. Called on any shard. */
typedef const char *write_gate_fn(const struct node *n);

/* Does what a layer above records of this node's role agree with its
 * replication role? False while a replica is still named its group's
 * master there (cluster mode: a FAILOVER's old master until the group's new
 * record reaches it): its writes wait for that rather than answer -READONLY
 * (replication/failover.c, pause.c). Called on any shard. */
typedef bool role_recorded_fn(const struct node *n);

/* Cluster mode: may this node serve a command whose first key is in `slot`
 * (cross: some other key is in another slot)? `how` says what the
 * connection asked for (KEY_GATE_*). NULL, or the error to answer (-MOVED,
 * -CROSSSLOT, -CLUSTERDOWN), possibly written into err. Asked for every
 * command with keys, before it is routed or queued; called on any shard, so
 * it reads only what it may read without locks. */
enum key_gate_how {
    KEY_GATE_ASKING    = 1u << 0, /* the connection sent ASKING just before: an importing slot is served */
    KEY_GATE_READ_HERE = 1u << 1, /* READONLY connection, a command that does not write: a
                                   * replica serves its group's slots */
};
typedef const char *key_gate_fn(const struct node *n, int slot, bool cross, unsigned how, char *err,
                                size_t errlen);

/* Cluster mode, while some slot moves between groups: may this command run
 * here, given which of its keys this shard holds? Asked on the shard that
 * owns the keys, right before the command runs on its store (so the answer
 * and the run are one step: no key can come or go in between), only while
 * node->key_gate_moving > 0. NULL, or the error to answer (-ASK for a slot
 * this node gives away and that lacks the keys, -TRYAGAIN for a multi-key
 * command some of whose keys have moved), possibly written into err; or
 * KEY_GATE_WAIT (below). */
typedef const char *key_gate_here_fn(struct shard *sh, const struct command *cmd, int argc,
                                     const struct slice *argv, char *err, size_t errlen);

/* key_gate_here's answer for a write to keys a MIGRATE has in flight on
 * this shard (shard.h, keys_in_flight): not yet. The runtime holds the
 * command and asks again once the shard's keys in flight settle
 * (dispatch_key_waits_wake), for KEY_WAIT_MAX_MS at most; where it cannot
 * hold it, or past that time, this is the error answered (its text is
 * Redis's -TRYAGAIN). Compared by address. */
extern const char KEY_GATE_WAIT[];

struct node {
    struct config  config;
    int            nshards;
    struct shard **shards;        /* nshards, index = shard id */
    struct mailbox *mail;         /* nshards * nshards: [from * nshards + to] */
    int           *listen_fds;    /* nlisten sockets for each shard (SO_REUSEPORT) */
    int            nlisten;       /* bind addresses */
    int            port;          /* the port actually listened on */
    int64_t        start_ms;      /* unix ms at start */
    char           run_id[41];    /* 40 hex chars, new each start */
    char           executable[256];
    char           config_file[256]; /* absolute path, "" if none */

    /* Higher layers attach here before node_start (node_attach_module);
     * read-only once the shards run. */
    const struct shard_module *modules[NODE_MODULES_MAX]; /* shard.h */
    int             nmodules;
    const struct journal_sink *journal; /* where the shards' writes go, or NULL (no replication) */
    write_gate_fn  *write_gate;    /* asked before a client's write runs, or NULL */
    role_recorded_fn *role_recorded; /* NULL: nothing above records roles */
    key_gate_fn    *key_gate;      /* asked before a command with keys runs (cluster mode), or NULL */
    /* Cluster mode: the slots for which key_gate would pass any command whose
     * keys are all in that one slot, whatever the connection asked (one bit a
     * slot), or NULL. Tested before the gate is called: a command of such a
     * slot costs one load. Set by the layer that sets key_gate; never changed
     * in place: a new bitmap is published (and the old one freed once every
     * shard has passed a command boundary) whenever the gate's answers may
     * change, and any new reason for the gate to refuse must clear the
     * slots it concerns here first. */
    _Atomic(const uint64_t *) key_gate_served;
    key_gate_here_fn *key_gate_here; /* see key_gate_here_fn, or NULL */
    atomic_int      key_gate_moving;  /* slots moving now (set by the layer that sets key_gate_here):
                                       * key_gate_here is asked only while this is > 0 */
    struct cluster *cluster;       /* the cluster layer's state (cluster mode), or NULL */
    /* Cluster mode: a client's PUBLISH on this node, called by shard 0's
     * part, after its own subscribers have the message: the other groups'
     * masters get it too (Redis Cluster broadcasts PUBLISH), or NULL. */
    void (*publish_elsewhere)(struct shard *sh, struct slice channel, struct slice message);

    atomic_int      shutdown;          /* set once: shards leave their loops */
    atomic_int      exit_code;
    atomic_uint_fast64_t next_client_id;
    atomic_long     clients;           /* connected now, across shards (maxclients) */
    atomic_uint_fast64_t next_slowlog_id;
    /* Bytes of used_memory outside the stores that maxmemory counts (the
     * shards' heaps minus mem_not_counted_for_evict), a tick old: written
     * by shard 0's memory module, read by shard_memory_limit. */
    atomic_uint_fast64_t mem_counted_overhead;
    struct repl    *repl;             /* replication state, owned by shard 0 */
    atomic_int      repl_role;        /* 1: this node is a replica */
    atomic_int      repl_feeding;     /* 1: shards send their stream bytes to shard 0 */
    atomic_int      repl_good_replicas; /* online replicas within min-replicas-max-lag */
    atomic_int      repl_writes_paused; /* 1 while a FAILOVER hands over */
    atomic_int      client_pause_mode;  /* CLIENT PAUSE: enum pause_mode */
    atomic_int      active_expire_off;  /* DEBUG SET-ACTIVE-EXPIRE 0: ticks sweep no expired keys */
    _Atomic int64_t staging_idle_ms;    /* DEBUG SET-STAGING-IDLE: 0 for STAGING_IDLE_MS (staging.h) */
    _Atomic int64_t client_pause_end_ms; /* unix ms the CLIENT PAUSE ends at */
    atomic_int      monitors;          /* MONITOR connections, across shards (monitor.h) */
    atomic_int      busy_scripts;      /* shards running a script past busy-reply-threshold:
                                          other commands get -BUSY (scripting.c) */
    /* The bodies of the scripts EVAL and SCRIPT LOAD were given, for every
     * shard (shards/commands/scripting.c), or NULL without scripting. */
    struct script_registry *scripts;
    /* The function libraries FUNCTION LOAD was given, for every shard
     * (shards/commands/functions.c). */
    struct function_registry *functions;
    /* The ACL users (core/acl.h): set up before the shards start
     * (acl_node_start), changed by ACL SETUSER/DELUSER/LOAD and CONFIG SET
     * requirepass on any shard. */
    struct acl      acl;
    /* Client-side caching's node-wide part (shards/tracking_node.h: BCAST's
     * prefixes, the clients by id for REDIRECT), or NULL */
    struct tracking_node *tracking;
    /* RDB snapshots and loading (shards/persist.h), or NULL */
    struct persist *persist;
    /* the append-only file (shards/aof.h), or NULL */
    struct aof     *aof;
    /* one shard holding the others (shards/hold.h) */
    struct hold    *hold;
};

enum pause_mode { PAUSE_NONE, PAUSE_WRITE, PAUSE_ALL };

/* The mailbox that shard `from` posts to shard `to` through. */
static inline struct mailbox *node_mailbox(const struct node *n, int from, int to)
{
    return n->mail + (size_t)from * (size_t)n->nshards + (size_t)to;
}

/* Attach a module to every shard of the node (before node_start). */
void node_attach_module(struct node *n, const struct shard_module *m);

/* Why a client's write must be refused now, or NULL (the write gate). */
static inline const char *node_write_refusal(const struct node *n)
{
    return n->write_gate ? n->write_gate(n) : NULL;
}

/* Is this node a replica of another (writes come only from its master)? */
static inline bool node_is_replica(const struct node *n)
{
    return atomic_load_explicit(&n->repl_role, memory_order_relaxed) != 0;
}

/* Ask every shard to stop at the end of its loop turn (SIGINT, SIGTERM,
 * SHUTDOWN); each closes its sockets and its thread exits. */
void node_request_shutdown(struct node *n, int exit_code);

/* Open the listeners (port 0: the kernel picks one; n->port tells which),
 * create and start the shard threads. n->config must be final. Returns 0, or
 * -1 after logging why (port in use, bad bind address, ...). */
int node_start(struct node *n);
/* Wait for every shard thread to stop (after node_request_shutdown), close
 * everything and return the exit status to give the process. */
int node_wait(struct node *n);

#endif
