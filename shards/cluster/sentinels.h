/* sentinels: a node learns its groups' masters from the real Redis
 * Sentinels that watch them (issue 10; ARCHITECTURE.md "Cluster").
 *
 * The state lists the Sentinels (`sentinel <ip> <port>` lines, written by
 * `ringkv-cluster create --sentinels`, kept in the cluster config file, so
 * a node restarted knows them). Shard 0 of every node keeps two links to
 * each, non-blocking on its loop like the peer links (connection owners
 * "cluster sentinel link"; CLIENT LIST shows them as clients named
 * cluster-sentinel):
 *
 *   - the watch link:  SUBSCRIBE +switch-master. A switch of one of our
 *     names (ringkv-<group id>) makes the node ask that Sentinel at once;
 *   - the ask link:    every SENTINEL_POLL_MS (a quarter of
 *     cluster-node-timeout, 100..1000 ms), and at once after a connect or
 *     a switch, one pipelined `SENTINEL MASTER ringkv-<gid>` per group. The
 *     reply carries the master's ip, port, flags and config-epoch (what
 *     get-master-addr-by-name gives, with the epoch).
 *
 * An answer is taken as a group record when the Sentinel is not in the
 * middle of a failover of that master (flags without failover_in_progress:
 * between the promotion and the +switch-master it already holds the new
 * config epoch but still the old address), the address is a node of that
 * group, and the record (epoch = cluster_epoch_of_sentinel(config-epoch),
 * state.h) is newer than the node's own: then it is published like a
 * record pulled from a peer, and the roles follow it. So a node learns a
 * switch from any one Sentinel that made or saw it, even if the promoted
 * replica's own record never reaches it; every node that learns it writes
 * the same record (the same epoch and master), and a stale Sentinel (a
 * lower config epoch) never takes a node back.
 *
 * The cost: each node asks each Sentinel about every group once a poll
 * period, so a Sentinel answers nodes x groups small commands per period
 * (54 a second for 6 nodes and 3 groups at the tests' 2000 ms timeout):
 * fine for tens of nodes; for hundreds, a node would ask about its own
 * group only and learn the others from the watch link and its peers.
 *
 * Every whole answer on an ask link marks that Sentinel reached (the
 * fence counts them: fence.h). An ask unanswered for cluster-node-timeout,
 * or a connect that long, drops the link; it is made again after
 * SENTINEL_RETRY_MS. */
#ifndef RINGKV_CLUSTER_SENTINELS_H
#define RINGKV_CLUSTER_SENTINELS_H

#include <stdint.h>

struct shard;
struct cluster;

#define SENTINEL_POLL_MAX_MS 1000
#define SENTINEL_POLL_MIN_MS 100
#define SENTINEL_RETRY_MS    200

/* Every tick on shard 0: follow the state's list of Sentinels, connect,
 * ask, time out. */
void cluster_sentinels_tick(struct shard *sh, struct cluster *c, int64_t now_ms);

/* How many of the state's Sentinels answered within the last window_ms
 * (a Sentinel listed by a push or pull since less than window_ms counts as
 * answered: a node just given the list is not cut off yet; one listed by
 * the file at start does not, until it answers). */
int cluster_sentinels_reached(const struct cluster *c, int64_t now_ms, int64_t window_ms);

/* Shard 0's teardown, after its loop closed every link. */
void cluster_sentinels_free(struct cluster *c);

#endif
