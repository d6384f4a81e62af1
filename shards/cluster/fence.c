/* fence: the decision and the write gate (see fence.h). */
#include "shards/cluster/fence.h"

#include <stdatomic.h>

#include "core/config.h"
#include "core/log.h"
#include "shards/cluster/cluster.h"
#include "shards/cluster/peers.h"
#include "shards/cluster/sentinels.h"
#include "shards/node.h"
#include "shards/shard.h"

#define ERR_FENCED "CLUSTERDOWN The cluster is down"

static const char *fence_write_gate(const struct node *n)
{
    const struct cluster *c = n->cluster;
    if (atomic_load_explicit(&c->fenced, memory_order_relaxed))
        return ERR_FENCED;
    return c->write_gate_below ? c->write_gate_below(n) : NULL;
}

void cluster_fence_attach(struct node *n, struct cluster *c)
{
    c->write_gate_below = n->write_gate;
    n->write_gate = fence_write_gate;
}

void cluster_fence_tick(struct shard *sh, struct cluster *c, int64_t now_ms)
{
    const struct cluster_state *st = cluster_now(c);
    bool fence = false;
    int heard = 0, need = 0;
    const char *whom = "";
    if (st->myself >= 0 && st->ngroups > 0 && cluster_node_is_master(st, st->myself) &&
        !node_is_replica(sh->node)) {
        long long timeout = config_load(&sh->node->config, cluster_node_timeout);
        if (timeout <= 0)
            timeout = 15000;
        /* never shorter than a few ask periods: a timeout below them would
         * fence a master whose deciders answer every time */
        if (st->nsentinels > 0) {
            if (timeout < 4 * SENTINEL_POLL_MIN_MS)
                timeout = 4 * SENTINEL_POLL_MIN_MS;
            heard = cluster_sentinels_reached(c, now_ms, timeout);
            need = st->nsentinels / 2 + 1;
            whom = "Sentinels";
        } else {
            if (timeout < 3 * PEER_SLOW_MS)
                timeout = 3 * PEER_SLOW_MS;
            heard = 1 + cluster_peers_masters_reached(c, now_ms, timeout);
            need = st->ngroups / 2 + 1;
            whom = "masters (myself included)";
        }
        fence = heard < need;
    }
    if (fence == atomic_load_explicit(&c->fenced, memory_order_relaxed))
        return;
    atomic_store_explicit(&c->fenced, fence, memory_order_relaxed);
    if (fence)
        log_warning("Cluster: I reach %d of the %d %s I need within cluster-node-timeout: "
                    "refusing writes (-CLUSTERDOWN) until I reach them", heard, need, whom);
    else
        log_notice("Cluster: %s", need ? "a majority reached again: taking writes" : "no longer a master: fence lifted");
}
