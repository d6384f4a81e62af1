/* cluster: cluster mode on a node (ARCHITECTURE.md "Cluster"; issue 10).
 *
 * With `cluster-enabled yes`, main attaches this layer (cluster_attach): the
 * node gets its cluster state (shards/cluster/state.h), loaded from the
 * cluster config file or made new (a random id, no table), and the key gate
 * of the runtime (node->key_gate, shards/node.h) that every command with
 * keys passes before it is routed:
 *   - keys of different slots:      -CROSSSLOT Keys in request don't hash to the same slot
 *   - a slot no group serves:       -CLUSTERDOWN Hash slot not served
 *   - some slot served by nobody:   -CLUSTERDOWN The cluster is down
 *   - a slot of another group, or of this group while this node is its
 *     replica:                      -MOVED <slot> <ip>:<port of that group's master>
 * in Redis's order and texts. Commands without keys are not gated.
 *
 * The state is read by every shard on every key command and changes rarely:
 * one immutable struct behind an atomic pointer. A change builds a new
 * struct, has it written to the file, swaps the pointer once the file
 * holds it, and frees the old one once every shard has passed a command
 * boundary (dispatch_free_later). Changes are made only on shard 0 (the
 * commands that make them are CMD_SHARD0 rows, the peer links, the
 * Sentinel links and the roles are shard 0's), so there is one writer.
 *
 * The cluster config file holds the state's text form with this node's id
 * (state.h). It is written whole, atomically (a temp file in the same
 * directory, fsync, rename, fsync of the directory), for every state the
 * node accepts, and at start when it did not exist, by a writer thread
 * (state_file.h), never on a shard's loop: shard 0 goes on serving its
 * clients while an fsync runs.
 *
 * Durability: the state in force (cluster_now: what the gates, CLUSTER
 * INFO/NODES/SLOTS, RINGKV-VERSIONS and RINGKV-GETSTATE show, what the
 * peers pull) is always one the file holds, or an older one: a state
 * accepted (cluster_publish) is handed to the writer at once and put in
 * force by shard 0's loop when the writer reports it (or a newer one) in
 * the file. Until then it is the newest (cluster_newest), the base every
 * further change is built on, so changes pipelined meanwhile stack up in
 * order and the writer writes only the last. So a node that restarts comes
 * back with at least every version it showed anyone, and never owns again
 * a slot it was seen giving away. What is acknowledged when:
 *   - CLUSTER RINGKV-SETSTATE (the admin tool's push, compare-and-set on
 *     the newest version), SETSLOT ... NODE, RESET, SAVECONFIG,
 *     FAILOVER FORCE|TAKEOVER: their +OK is held (the command's message
 *     kept, the connection's later commands waiting behind it) until
 *     every state accepted up to the command is in the file and in force
 *     (cluster_reply_ok_when_saved); a write that fails answers
 *     -ERR ... can't write the cluster config file ... instead, and that
 *     state never goes in force (its changes do only if a newer state,
 *     accepted on top of it meanwhile, is written: then that one is).
 *   - A state pulled from a peer, learnt from a Sentinel or recorded by
 *     the roles is acknowledged to nobody: it is written, and goes in
 *     force, the same way (a failed write is logged; the peers offer it
 *     again).
 *   - At shutdown the writer writes the newest state accepted before the
 *     process exits; a kill -9 leaves the old file or the new one. */
#ifndef RINGKV_CLUSTER_H
#define RINGKV_CLUSTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "shards/cluster/state.h"

struct node;
struct shard;
struct exec_ctx;
struct state_file;
struct cluster_unsaved;
struct cluster_saved_ack;
struct cluster_peers;
struct cluster_sentinels;

/* How the cluster changes the node's replication role: replication's
 * repl_set_master (host NULL: become a master), which main hands over, as
 * the cluster layer does not include replication/. On shard 0. Returns 0
 * (or 1: already so), or -1 with err set. */
typedef int cluster_set_master_fn(struct shard *sh, const char *host, int port, char *err, size_t errlen);

/* The record of this node's group that its role last followed (roles.c). */
struct cluster_role {
    bool     followed;                 /* a record has been followed since start */
    uint64_t epoch;                    /* its epoch */
    char     master[CLUSTER_ID_LEN + 1]; /* the master it names */
    bool     warned;                   /* following it failed and was logged */
};

struct cluster {
    char myid[CLUSTER_ID_LEN + 1];   /* this node's id (kept in the file); CLUSTER RESET HARD
                                      * draws a new one on shard 0: read it there only */
    char path[1024];                 /* the cluster config file */
    struct node *node;               /* the node it belongs to */
    _Atomic(struct cluster_state *) state; /* never NULL; read with cluster_now */
    cluster_set_master_fn *set_master;     /* see above */
    uint64_t generation;             /* states published since start (shard 0) */
    atomic_bool fenced;              /* writes refused: cut off from the deciders (fence.h) */
    const char *(*write_gate_below)(const struct node *n); /* the gate the fence is put in front of */
    /* Slots this node is importing (one bit each): a command of a
     * connection that sent ASKING just before is served here for them
     * although the table names another group. Written on shard 0 only
     * (cluster_set_importing; the slot migration of the next issue, CLUSTER
     * SETSLOT IMPORTING/STABLE/NODE), read by the gate on any shard. */
    _Atomic uint64_t importing[SLOT_COUNT / 64];
    /* Slots this node gives away (CLUSTER SETSLOT MIGRATING): 0, or 1 + the
     * index in targets of the node they go to. A command of such a slot
     * whose keys are not all here is answered -ASK (none here) or -TRYAGAIN
     * (some here) on the shard that owns the keys (node->key_gate_here).
     * Written on shard 0 only (cluster_set_migrating), read on any shard. */
    _Atomic uint16_t migrating_to[SLOT_COUNT];
    /* The addresses -ASK names: appended on shard 0, never changed once
     * counted in ntargets (release), so any shard reads them without locks. */
    struct cluster_target {
        char id[CLUSTER_ID_LEN + 1];
        char ip[64];
        int  port;
    } targets[CLUSTER_NODES_MAX];
    atomic_int ntargets;
    /* shard 0 only: slots given away by SETSLOT NODE whose migrating mark
     * is kept a while (unix ms it may go, 0: none): a command the first gate
     * let through under the old table may still be on its way to the shard
     * owning its keys, which must then answer -MOVED, not create the key
     * here (cluster_key_gate_here); cluster_tick clears them. */
    int64_t  given_away_until[SLOT_COUNT];
    int      given_away;             /* how many of them are set */
    /* shard 0 only: */
    struct cluster_peers *peers;     /* the links to the other nodes (peers.h) */
    struct cluster_sentinels *sentinels; /* the links to the Sentinels (sentinels.h) */
    struct cluster_role role;        /* the group record the role follows */
    /* shard 0 only: the file's writer (state_file.h), the states accepted
     * and not in force yet (oldest first; the last is cluster_newest) and
     * the commands whose +OK waits for the file */
    struct state_file *file;
    struct cluster_unsaved *unsaved, *unsaved_last;
    struct cluster_saved_ack *acks, *acks_last;
    uint64_t seen_durable, seen_failed; /* the writer's reports dealt with */
};

/* Load (or create) the cluster config file named by the node's
 * cluster-config-file, and set the node's key gate and shard module.
 * Before node_start. Returns 0, or -1 after logging why (a file that cannot
 * be read, parsed or written: the node must not start with another id). */
int cluster_attach(struct node *n, cluster_set_master_fn *set_master);

/* Mark slot as importing or not (see importing above); importing drops
 * a migrating mark the slot still has (given away, and coming back). Shard 0. */
void cluster_set_importing(struct cluster *c, int slot, bool on);

/* Mark slot as given away to node `to` of the current state (to < 0:
 * not any more; see migrating_to above). Shard 0. Returns 0, or -1 when
 * CLUSTER_NODES_MAX different targets were named since start. */
int cluster_set_migrating(struct cluster *c, int slot, int to);

/* The slot now belongs to another group by the table: its migrating mark
 * stays CLUSTER_GIVEN_AWAY_MS longer (see given_away_until). Shard 0. */
#define CLUSTER_GIVEN_AWAY_MS 5000
void cluster_slot_given_away(struct cluster *c, int slot, int64_t now_ms);

/* The node slot is given away to, or NULL. Any shard. */
static inline const struct cluster_target *cluster_migrating(const struct cluster *c, int slot)
{
    unsigned t = atomic_load_explicit(&c->migrating_to[slot], memory_order_acquire);
    return t ? &c->targets[t - 1] : NULL;
}

/* Is slot being imported by this node? Any shard. */
static inline bool cluster_importing(const struct cluster *c, int slot)
{
    uint64_t word = atomic_load_explicit(&c->importing[slot >> 6], memory_order_relaxed);
    return (word >> (slot & 63)) & 1;
}

/* The node's cluster, or NULL in standalone mode. */
struct cluster *cluster_of(const struct node *n);

/* The state now: valid until the reading shard's command ends. */
static inline const struct cluster_state *cluster_now(const struct cluster *c)
{
    return atomic_load_explicit(&c->state, memory_order_acquire);
}

/* Accept st (taken over) as the node's newest state: it is handed to the
 * file's writer now and replaces the state in force once the file holds
 * it (see "Durability" above), on shard 0's loop. On shard 0 only: an
 * admin command's push, a pull from a peer, a change of this node's group
 * record. Build st on cluster_newest, not on cluster_now. Returns 0 (a
 * failed write is reported later: cluster_reply_ok_when_saved, the log);
 * err and errlen are kept for the callers' sake. */
int cluster_publish(struct shard *sh, struct cluster *c, struct cluster_state *st, char *err, size_t errlen);

/* The newest state accepted: the one in force, or one still being written
 * (cluster_publish). What a change is built on and compared with. Shard 0. */
const struct cluster_state *cluster_newest(const struct cluster *c);

/* Write the newest state to the file again (CLUSTER SAVECONFIG); answered
 * by cluster_reply_ok_when_saved. Shard 0. */
void cluster_save(struct shard *sh, struct cluster *c);

/* Answer the command being run +OK once every state accepted so far is in
 * the file and in force: at once when it is, else later (the command's
 * message is kept: ctx->deferred). If the write of the newest fails (and
 * no newer one is written), -ERR <prefix><why>. Shard 0, a CMD_SHARD0
 * command. */
void cluster_reply_ok_when_saved(struct exec_ctx *ctx, struct cluster *c, const char *err_prefix);

/* CLUSTER RESET: forget the table, the nodes and the groups (an empty
 * state, in force and in the file) and be a master again. SOFT keeps the
 * node's id and the forgotten table's version, so that its old peers do
 * not give it the same table back (a newer table of a cluster that still
 * lists the node would, as to any of its nodes); HARD also draws a new id
 * and starts from version 0: a new node, which ringkv-cluster create
 * accepts again. Shard 0. Returns 0, or -1 with err set. */
int cluster_reset(struct shard *sh, struct cluster *c, bool hard, char *err, size_t errlen);

/* The CLUSTER command's rows (shards/cluster/commands.c), registered in
 * every mode: in standalone mode they answer as Redis does without cluster
 * support. Before command_setup. */
void cluster_commands_register(void);

/* Group roles follow the records (roles.c), every tick on shard 0 and
 * at once when a state is published: this
 * node replicates the master its group's record names, or is a master when
 * it is named; promoted outside the cluster layer (REPLICAOF NO ONE,
 * FAILOVER, a Sentinel) while the record names another, it records itself
 * as its group's master with the highest known epoch + 1, which the peers
 * pull. */
void cluster_roles_tick(struct shard *sh, struct cluster *c);

/* Record this node as its group's master with the highest known epoch + 1
 * and publish it (CLUSTER FAILOVER, a promotion seen by the tick). Returns
 * 0, or -1 with err set. How these epochs and the Sentinels' config epochs
 * are ordered (a Sentinel decision with config epoch E is epoch E << 32):
 * state.h, cluster_epoch_of_sentinel; the records learnt from the
 * Sentinels: sentinels.h; the fence of a cut-off master: fence.h. */
int cluster_record_myself_master(struct shard *sh, struct cluster *c, char *err, size_t errlen);

#endif
