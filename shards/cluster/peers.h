/* peers: a node shares its cluster state with the other nodes of it
 * (issue 10; ARCHITECTURE.md "Cluster").
 *
 * Shard 0 keeps one link to every other node of its state, over the nodes'
 * normal port (non-blocking connects on shard 0's loop; the link is a
 * connection owner of its own, "cluster peer link": CLIENT LIST shows it as
 * a normal client named cluster-peer, and the idle timeout leaves it alone).
 * With `masterauth` set, a link first authenticates with it (the nodes of a
 * cluster with requirepass share the password their replicas use). On
 * each link it asks
 *
 *     CLUSTER RINGKV-VERSIONS   -> "table-version <v>\ngroup <id> <epoch> <master-id>\n..."
 *
 * every PEER_FAST_MS while it has not yet had an answer from that peer
 * (since start, or since the link broke), or while the master of the
 * peer's group does not answer (a failover is likely under way there: its
 * new record is pulled within PEER_FAST_MS), and every PEER_SLOW_MS after. When
 * the peer's table version is higher than ours, or one of its group records
 * is newer (a higher epoch; at equal epochs the greater master id), it
 * pulls the whole state
 *
 *     CLUSTER RINGKV-GETSTATE   -> the state's text form (state.h)
 *
 * and publishes what is newer; when the peer's table is older (or it has
 * none: the admin tool pushed to some nodes only), it pushes its own
 *
 *     CLUSTER RINGKV-SETSTATE <peer's version> <state>
 *
 * with the same checks as the tool's push. A newer table replaces ours with the same
 * checks as a push (a valid state that lists this node), keeping any group
 * record of ours with a higher epoch; group records merge by epoch, the
 * higher one winning per group. A node never goes back, and never needs a
 * peer to keep serving what it owns: the links only bring news.
 *
 * A request unanswered for PEER_TIMEOUT_MS (or a connect that long) drops
 * the link; it is made again at the fast period. The work per peer is one
 * small request per period, so a cluster of n nodes makes n*(n-1) of them
 * per PEER_SLOW_MS: fine for tens of nodes, to be revisited (gossip over a
 * few peers) for hundreds. */
#ifndef RINGKV_CLUSTER_PEERS_H
#define RINGKV_CLUSTER_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct cluster;

#define PEER_FAST_MS    100
#define PEER_SLOW_MS    500
#define PEER_TIMEOUT_MS 2000

/* Every tick on shard 0: follow the state's list of nodes (links to new
 * nodes, none to nodes gone), connect, ask, time out. */
void cluster_peers_tick(struct shard *sh, struct cluster *c, int64_t now_ms);

/* node->publish_elsewhere on shard 0: a client's PUBLISH on this node
 * goes to every other group's master (a replica's: to every master, its
 * own too, naming itself as the origin), as CLUSTER RINGKV-PUBLISH
 * channel message [origin] on its link (its reply, a count, dropped),
 * which delivers it there and to that master's replicas through its
 * stream (the origin skips it). A link down or holding 8 MB unsent misses
 * it (pub/sub delivers at most once). */
struct slice;
void cluster_publish_elsewhere(struct shard *sh, struct slice channel, struct slice message);

/* Shard 0's teardown, after its loop closed every link: forget the peers. */
void cluster_peers_free(struct cluster *c);

/* How many masters of other groups (by the state) answered on their links
 * within the last window_ms; a peer listed by a push or pull since less
 * than window_ms counts as answered, one listed by the file at start does
 * not until it answers (the fence without Sentinels: fence.h). */
int cluster_peers_masters_reached(const struct cluster *c, int64_t now_ms, int64_t window_ms);
/* What CLUSTER NODES shows of a peer, read on shard 0: whether its link is
 * up, when the request it has not answered yet was sent (0: none), when it
 * last answered (0: never), and for how long it has not been reached (0:
 * it answers). Redis's ping-sent, pong-recv and link-state; CLUSTER LINKS
 * shows the link's age and unsent bytes. */
struct cluster_peer_view {
    bool    connected;
    int64_t ping_sent_ms;
    int64_t pong_recv_ms;
    int64_t silent_ms;
    int64_t link_created_ms;   /* the link's, when connected */
    size_t  send_buffer_used;  /* bytes the link has not sent yet */
};
/* false if id is not one of the peers (yet). */
bool cluster_peers_view(const struct cluster *c, const char *id, int64_t now_ms, struct cluster_peer_view *out);

/* Ask the master of this node's group to hand over to this node (the
 * replication's FAILOVER TO <ip> <port>, lossless), on the link to it.
 * Returns 0, or -1 with err set (no link to the master now). */
int cluster_peers_ask_failover(struct shard *sh, struct cluster *c, char *err, size_t errlen);

#endif
