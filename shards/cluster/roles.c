/* roles: a node's replication role follows its group's record (see
 * cluster.h, cluster_roles_tick). On shard 0.
 *
 * The record is followed once each time it changes (a new epoch or
 * master): the node named is made a master, the others replicas of it.
 * Between changes the node does not fight its role: a master made a replica
 * by hand (a Sentinel demoting an old master) stays one until the record
 * moves, and a replica promoted outside the cluster layer is taken as a
 * failover: it records itself as its group's master with a higher epoch
 * than any it knows, the peers pull that record and follow it (the old
 * master becomes its replica). */
#include <inttypes.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "shards/cluster/cluster.h"
#include "shards/node.h"
#include "shards/shard.h"

static void remember(struct cluster_role *r, const struct cluster_group *gr, const char *master_id)
{
    r->followed = true;
    r->epoch = gr->epoch;
    snprintf(r->master, sizeof(r->master), "%s", master_id);
    r->warned = false;
}

int cluster_record_myself_master(struct shard *sh, struct cluster *c, char *err, size_t errlen)
{
    const struct cluster_state *cur = cluster_newest(c); /* a change's base (cluster.h) */
    if (cur->myself < 0) {
        snprintf(err, errlen, "this node is in no table");
        return -1;
    }
    /* recorded already, and still being written: the tick that looks at
     * the state in force must not record it again with another epoch */
    if (cur != cluster_now(c) && cur->groups[cur->nodes[cur->myself].group].master == cur->myself)
        return 0;
    struct cluster_state *next = cluster_state_copy(cur);
    struct cluster_group *gr = &next->groups[next->nodes[next->myself].group];
    gr->master = next->myself;
    gr->epoch = cluster_state_max_epoch(cur) + 1;
    uint32_t gid = gr->id;
    uint64_t epoch = gr->epoch;
    if (cluster_publish(sh, c, next, err, errlen) != 0) /* follows it: this node is a master */
        return -1;
    log_notice("Cluster: I am the master of group %" PRIu32 " now, epoch %" PRIu64, gid, epoch);
    return 0;
}

void cluster_roles_tick(struct shard *sh, struct cluster *c)
{
    const struct cluster_state *st = cluster_now(c);
    if (st->myself < 0 || !c->set_master)
        return;
    /* a newer table accepted and still being written waits: the one in
     * force may be one this node has just left (CLUSTER RESET forgets its
     * role at once, while the old table stays in force until the empty one
     * is in the file), and following its record then made a removed
     * group's replica follow its old master again, in no cluster */
    if (cluster_newest(c) != st)
        return;
    const struct cluster_group *gr = &st->groups[st->nodes[st->myself].group];
    const struct cluster_node *m = &st->nodes[gr->master];
    struct cluster_role *r = &c->role;
    bool named = gr->master == st->myself;
    bool replica = node_is_replica(sh->node);
    char err[300];
    if (r->followed && r->epoch == gr->epoch && strcmp(r->master, m->id) == 0) {
        if (!named && !replica) {
            log_notice("Cluster: promoted outside the cluster layer while group %" PRIu32
                       "'s record names %.8s: recording myself as its master", gr->id, m->id);
            if (cluster_record_myself_master(sh, c, err, sizeof(err)) != 0 && !r->warned) {
                log_warning("Cluster: can't record myself as master: %s", err);
                r->warned = true;
            }
        }
        return;
    }
    int rc = named ? c->set_master(sh, NULL, 0, err, sizeof(err))
                   : c->set_master(sh, m->ip, m->port, err, sizeof(err));
    if (rc < 0) {
        if (!r->warned)
            log_warning("Cluster: can't follow group %" PRIu32 "'s record (master %.8s at %s:%d): %s", gr->id,
                        m->id, m->ip, m->port, err);
        r->warned = true;
        return;
    }
    if (replica != node_is_replica(sh->node) || (!named && rc == 0))
        log_notice("Cluster: group %" PRIu32 "'s record (epoch %" PRIu64 ") makes me %s", gr->id, gr->epoch,
                   named ? "its master" : "a replica of its master");
    remember(r, gr, m->id);
}
