/* fence: a master cut off from the deciders stops taking writes (issue 10;
 * ARCHITECTURE.md "Cluster", README "Cluster").
 *
 * Who may promote a replica in this master's place decides whether it may
 * go on acknowledging writes: the Sentinels when the state lists some,
 * else the cluster's masters (a CLUSTER FAILOVER FORCE|TAKEOVER is run by a
 * person who sees the cluster from outside; the masters are the best
 * stand-in). A master that has not heard, within cluster-node-timeout,
 * from a majority of them
 *
 *   - with Sentinels:    n/2 + 1 of the state's n Sentinels (whole answers
 *                        on the ask links, sentinels.h);
 *   - without:           ngroups/2 + 1 of the groups' masters, itself
 *                        included (answers on the peer links, peers.h)
 *
 * is fenced: the node's write gate answers every client write with
 * -CLUSTERDOWN The cluster is down (Redis Cluster's text for a node that
 * lost the majority), until it hears from a majority again and the record
 * still names it master (when it does not, roles.c has made it a replica
 * and it answers -READONLY / -MOVED anyway). Reads are still served. A
 * replica is never fenced. A Sentinel or master listed by a push or a pull
 * since less than the timeout counts as heard (a node just given a table
 * is not cut off yet); a node started with a table from its file is fenced
 * from the start until it hears from a majority (it may have been replaced
 * while it was down, and the record saying so is what it will hear). The window is never shorter than a few ask periods
 * (400 ms with Sentinels, 1500 ms without), whatever the timeout.
 *
 * So an old master partitioned from the Sentinels stops acknowledging
 * writes at most cluster-node-timeout (+ one tick) after it lost them,
 * while the Sentinels need down-after-milliseconds (= cluster-node-timeout,
 * as the admin tool registers them) plus their election to promote a
 * replica: the window in which both could take writes is closed before it
 * opens, up to clock rates and the poll period.
 *
 * The decision is made on shard 0 each tick and published as one atomic
 * flag; the write gate reads only that flag before the gate below it
 * (replication's read-only / min-replicas): one load on the write path. */
#ifndef RINGKV_CLUSTER_FENCE_H
#define RINGKV_CLUSTER_FENCE_H

#include <stdint.h>

struct shard;
struct node;
struct cluster;

/* Put the fence's write gate in front of the node's (before node_start,
 * after replication set its own). */
void cluster_fence_attach(struct node *n, struct cluster *c);

/* Every tick on shard 0: decide whether this node is fenced. */
void cluster_fence_tick(struct shard *sh, struct cluster *c, int64_t now_ms);

#endif
