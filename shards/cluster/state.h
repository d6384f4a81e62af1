/* state: what a node knows of its cluster, as one immutable value.
 *
 * A cluster state is the nodes (id, ip, port, group), the groups (id,
 * master node, epoch) and the slot table (version, slot -> group). It is
 * built whole from its text form and never changed afterwards: a new
 * version is a new struct (shards/cluster/cluster.h swaps them), so shards
 * read it without locks.
 *
 * Two kinds of state, each with one writer (ARCHITECTURE.md "Cluster"): the slot table
 * changes only through the admin tool (a push whose version is higher), the
 * group records only through failover (a record whose epoch is higher). A
 * node never goes back on either.
 *
 * Text form (the cluster config file and the admin tool's push), one record
 * a line, words separated by spaces, '#' lines and blank lines ignored:
 *
 *     ringkv-cluster-state 1                 format version, first line
 *     myid <40 hex>                          the file only: this node's id
 *     table-version <n>                      n >= 1; the slot table's version
 *     node <id> <ip> <port> <group-id>       every node, masters and replicas
 *     group <group-id> <master-id> <epoch> [<weight>]
 *                                            every group and its master;
 *                                            the weight (1..CLUSTER_WEIGHT_MAX,
 *                                            1 when not given) is the group's
 *                                            share of the slots for placement.h
 *                                            (the admin tool's --weight): it goes
 *                                            with the table version, not the
 *                                            record's epoch
 *     slots <group-id> <a>-<b> | <a> ...     the slots of a group
 *     sentinel <ip> <port>                   a Sentinel watching the groups
 *                                            (the admin tool's --sentinels;
 *                                            part of the table: it comes and
 *                                            goes with a table version)
 *
 * Why not Redis's nodes.conf lines: they carry gossip state (flags, ping
 * times, link state) that ringkv does not have, and no table version or
 * group; this form holds exactly the two kinds of state above, is the same
 * text the admin tool pushes (one parser, one checker), and reads in a
 * terminal. CLUSTER NODES prints Redis's line format from it for clients.
 *
 * A state is valid when: ids are 40 hex characters and unique; ports are
 * 1..65535; every node's group exists; every group's master is a node of
 * that group; no slot is given twice; group ids are 0..2^31-1. Slots not
 * given are not served (-CLUSTERDOWN). */
#ifndef RINGKV_CLUSTER_STATE_H
#define RINGKV_CLUSTER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "core/buf.h"
#include "shards/store/slot.h"

#define CLUSTER_ID_LEN     40
#define CLUSTER_NODES_MAX  1024
#define CLUSTER_GROUPS_MAX 1024
#define CLUSTER_NO_GROUP   0xFFFFu /* slot_group of a slot no group serves */
#define CLUSTER_SENTINELS_MAX 16
#define CLUSTER_WEIGHT_MAX 1000000

/* Group record epochs (ARCHITECTURE.md "Cluster", "Who decides a group's
 * master"). One 64-bit number, ordered as (Sentinel's config epoch, the
 * cluster's own count): a record decided by Sentinel with config epoch E
 * has epoch E << 32 exactly, so every node that learns the same decision
 * from any Sentinel writes the same record; a record the cluster makes
 * itself (CLUSTER FAILOVER, a node promoted and recording itself) takes the
 * highest epoch known + 1, which stays below the next Sentinel decision:
 * Sentinel's config epochs grow across all the masters it watches, and a
 * later failover gets a higher one. So a Sentinel's decision replaces every
 * record made before it, a record made after it replaces it, and a
 * Sentinel's stale answer (a lower config epoch) never takes a node back. */
#define CLUSTER_SENTINEL_EPOCH_SHIFT 32
static inline unsigned long long cluster_epoch_of_sentinel(unsigned long long config_epoch)
{
    return config_epoch << CLUSTER_SENTINEL_EPOCH_SHIFT;
}

struct cluster_node {
    char     id[CLUSTER_ID_LEN + 1];
    char     ip[64];
    int      port;
    int      group;        /* index into groups */
};

struct cluster_group {
    uint32_t id;           /* as the admin tool numbers groups */
    int      master;       /* index into nodes */
    uint64_t epoch;        /* of its group record: the higher one wins */
    uint32_t weight;       /* its share of the slots in the target table (placement.h); 1 by default */
    int      nslots;
};

struct cluster_state {
    uint64_t version;      /* of the slot table; 0: no table yet */
    int      nnodes;
    int      ngroups;
    struct cluster_node  *nodes;   /* in the same allocation as the struct */
    struct cluster_group *groups;
    int      myself;       /* index of this node in nodes, -1 if not listed */
    int      slots_assigned;
    int      nsentinels;   /* the Sentinels watching the groups (0: none) */
    struct cluster_sentinel_addr { char ip[64]; int port; } sentinels[CLUSTER_SENTINELS_MAX];
    uint16_t slot_group[SLOT_COUNT]; /* group index, or CLUSTER_NO_GROUP */
};

/* A state without table, nodes or groups (a node before its first push).
 * One mi_ allocation: free it with mi_free. */
struct cluster_state *cluster_state_empty(void);

/* Parse the text form. myid: this node's id (sets myself); a "myid" line
 * in the text is refused unless myid_out is given, where it is copied
 * (loading the file). Returns the new state (one mi_ allocation), or NULL
 * with err set to what is wrong and on which line. */
struct cluster_state *cluster_state_parse(const char *text, size_t len, const char *myid,
                                          char myid_out[CLUSTER_ID_LEN + 1],
                                          char *err, size_t errlen);

/* Append the text form of st to out; with myid, the "myid" line too (the
 * file). cluster_state_parse reads it back identically. */
void cluster_state_format(const struct cluster_state *st, const char *myid, struct buf *out);

/* Is the group record (epoch a, master a_id) newer than (b, b_id)? The
 * higher epoch; at equal epochs (two replicas of a group promoted at the
 * same moment, each taking the highest epoch it knew + 1) the greater
 * master id, so that every node settles on the same one. */
static inline bool cluster_record_newer(uint64_t a, const char *a_id, uint64_t b, const char *b_id)
{
    return a > b || (a == b && strcmp(a_id, b_id) > 0);
}

/* Group records of old that a new state must keep: for a group in both
 * whose record in old is newer (cluster_record_newer), new takes old's master (when that
 * node is still in the group there) and epoch. A node never goes back.
 * Returns how many records st took from old (a pull merges a peer's newer
 * records into a copy of its own state this way). */
int cluster_state_keep_newer_groups(struct cluster_state *st, const struct cluster_state *old);

/* A copy of st (one mi_ allocation), to be changed before it is published. */
struct cluster_state *cluster_state_copy(const struct cluster_state *st);

/* The highest epoch of any group record (0 without groups): a node that
 * records itself as its group's master takes this + 1. */
uint64_t cluster_state_max_epoch(const struct cluster_state *st);

/* The index of the group numbered id, or -1. */
int cluster_state_group_by_id(const struct cluster_state *st, uint32_t id);

/* Every slot has a group: the cluster can serve every key. */
static inline bool cluster_state_ok(const struct cluster_state *st)
{
    return st->version > 0 && st->slots_assigned == SLOT_COUNT;
}

/* Is node i the master of its group? */
static inline bool cluster_node_is_master(const struct cluster_state *st, int i)
{
    return st->groups[st->nodes[i].group].master == i;
}

/* The index of the node at ip:port in group g, or -1. */
int cluster_state_node_at(const struct cluster_state *st, int g, const char *ip, int port);

/* Is `s` a valid node id (40 hex characters)? */
bool cluster_id_valid(const char *s, size_t len);

#endif
