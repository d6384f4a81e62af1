/* cluster: cluster mode on a node (DESIGN.md §6; issue 10, first part).
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
 * struct, writes it to the file, swaps the pointer, and frees the old one
 * once every shard has passed a command boundary (dispatch_free_later).
 * Changes are made only on shard 0 (the commands that make them are
 * CMD_SHARD0 rows), so there is one writer.
 *
 * The cluster config file holds the state's text form with this node's id
 * (state.h). It is written whole, atomically (a temp file in the same
 * directory, fsync, rename, fsync of the directory), whenever the state
 * changes, and at start when it did not exist. Blocking file I/O, on
 * shard 0, only on an admin command. */
#ifndef RINGKV_CLUSTER_H
#define RINGKV_CLUSTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "shards/cluster/state.h"

struct node;
struct shard;

struct cluster {
    char myid[CLUSTER_ID_LEN + 1];   /* this node's id, for its whole life (kept in the file) */
    char path[1024];                 /* the cluster config file */
    _Atomic(struct cluster_state *) state; /* never NULL; read with cluster_now */
};

/* Load (or create) the cluster config file named by the node's
 * cluster-config-file, and set the node's key gate and shard module.
 * Before node_start. Returns 0, or -1 after logging why (a file that cannot
 * be read, parsed or written: the node must not start with another id). */
int cluster_attach(struct node *n);

/* The node's cluster, or NULL in standalone mode. */
struct cluster *cluster_of(const struct node *n);

/* The state now: valid until the reading shard's command ends. */
static inline const struct cluster_state *cluster_now(const struct cluster *c)
{
    return atomic_load_explicit(&c->state, memory_order_acquire);
}

/* Replace the state with st (taken over), after writing it to the file.
 * On shard 0 only. Returns 0, or -1 with err set (the file could not be
 * written: st is freed, the state is unchanged). */
int cluster_publish(struct shard *sh, struct cluster *c, struct cluster_state *st, char *err, size_t errlen);

/* The CLUSTER command's rows (shards/cluster/commands.c), registered in
 * every mode: in standalone mode they answer as Redis does without cluster
 * support. Before command_setup. */
void cluster_commands_register(void);

#endif
