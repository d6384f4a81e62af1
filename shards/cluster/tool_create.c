/* tool_create: `ringkv-cluster create` (tool.h).
 *
 * In four phases, so that a refusal changes nothing:
 *   1. check every node (and Sentinel) before anything is pushed: reachable,
 *      in cluster mode, in no cluster yet (table version 0, knows only
 *      itself), empty; Sentinels reachable and not monitoring our names;
 *   2. plan: groups of one master and N replicas, the slot table by
 *      placement_compute over the groups alone, the state text, checked by
 *      the nodes' own parser; printed, and confirmed when stdin is a terminal;
 *   3. push the state to every node (CLUSTER RINGKV-SETSTATE 0 <state>;
 *      with --sentinels it lists them), make each replica follow its
 *      master (REPLICAOF);
 *   4. wait until every node reports cluster_state:ok with the new table
 *      version and every replica's link is up; then register the groups
 *      with the Sentinels and wait until each Sentinel knows every group's
 *      replicas and the other Sentinels (ready to vote and promote).
 *
 * Grouping follows redis-cli --cluster create: the nodes are interleaved by
 * host, the first ones become masters, and each master takes replicas from
 * other hosts first; on one host the replica list is rotated by one so a
 * master's replica is not simply the node given after it.
 *
 * Group ids are 1..n in the order of the masters; placement_compute gets
 * each group's id as its decimal text and weight 1, so any node can compute
 * the same target table from the groups alone. Epochs start at 0: nothing
 * has been decided by a failover yet, so any Sentinel epoch wins. */
#include <inttypes.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/resp.h"
#include "shards/cluster/placement.h"
#include "shards/cluster/state.h"
#include "shards/cluster/tool.h"
#include "shards/cluster/tool_client.h"
#include "shards/store/slot.h"

#define STATE_VERSION 1 /* the table version of a new cluster */
#define MIN_MASTERS   3 /* as redis-cli --cluster create */

struct cnode {
    char host[256];
    int  port;
    char ip[64];
    char id[CLUSTER_ID_LEN + 1];
    long long node_timeout; /* cluster-node-timeout, ms (15000 when not set) */
    int  group;             /* index into groups, -1 before grouping */
    struct tool_client c;
};

struct cgroup {
    uint32_t id;
    int master;             /* index into nodes */
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------- 1. checks */

static int check_node(struct cnode *nd)
{
    struct tool_client *c = &nd->c;
    if (tool_connect(c, nd->host, nd->port, TOOL_TIMEOUT_MS, nd->ip) < 0) {
        fprintf(stderr, "[ERR] %s\n", c->err);
        return -1;
    }
    const char *info_cmd[] = { "INFO", "cluster" };
    char *info = tool_call_text(c, 2, info_cmd);
    if (!info) {
        fprintf(stderr, "[ERR] %s\n", c->err);
        return -1;
    }
    char v[64];
    bool enabled = tool_info_field(info, "cluster_enabled", v, sizeof v) && strcmp(v, "1") == 0;
    free(info);
    if (!enabled) {
        fprintf(stderr, "[ERR] Node %s is not configured as a cluster node (start it with --cluster-enabled yes).\n",
                c->addr);
        return -1;
    }
    const char *myid_cmd[] = { "CLUSTER", "MYID" };
    char *id = tool_call_text(c, 2, myid_cmd);
    if (!id || !cluster_id_valid(id, strlen(id))) {
        fprintf(stderr, "[ERR] %s\n", id ? "CLUSTER MYID did not answer a node id" : c->err);
        free(id);
        return -1;
    }
    snprintf(nd->id, sizeof nd->id, "%s", id);
    free(id);
    const char *cinfo_cmd[] = { "CLUSTER", "INFO" };
    info = tool_call_text(c, 2, cinfo_cmd);
    if (!info) {
        fprintf(stderr, "[ERR] %s\n", c->err);
        return -1;
    }
    char ver[32] = "", known[32] = "";
    bool have = tool_info_field(info, "cluster_table_version", ver, sizeof ver);
    tool_info_field(info, "cluster_known_nodes", known, sizeof known);
    free(info);
    if (!have) {
        fprintf(stderr, "[ERR] Node %s is not a ringkv cluster node (no cluster_table_version in CLUSTER INFO).\n",
                c->addr);
        return -1;
    }
    if (strcmp(ver, "0") != 0 || (known[0] && strcmp(known, "1") != 0)) {
        fprintf(stderr, "[ERR] Node %s is already in a cluster (table version %s, %s known nodes).\n", c->addr, ver,
                known[0] ? known : "?");
        return -1;
    }
    const char *dbsize_cmd[] = { "DBSIZE" };
    long long keys;
    if (tool_call_int(c, 1, dbsize_cmd, &keys) < 0) {
        fprintf(stderr, "[ERR] %s\n", c->err);
        return -1;
    }
    if (keys != 0) {
        fprintf(stderr, "[ERR] Node %s is not empty (%lld keys). Either the node already knows other nodes "
                        "or contains some key in database 0.\n", c->addr, keys);
        return -1;
    }
    /* cluster-node-timeout: the Sentinels' down-after-milliseconds */
    nd->node_timeout = tool_node_timeout(c);
    return 0;
}

struct sentinel {
    char host[256];
    int  port;
    struct tool_client c;
};

static int check_sentinel(struct sentinel *s, int ngroups)
{
    if (tool_connect(&s->c, s->host, s->port, TOOL_TIMEOUT_MS, NULL) < 0) {
        fprintf(stderr, "[ERR] Sentinel: %s\n", s->c.err);
        return -1;
    }
    for (int g = 1; g <= ngroups; g++) {
        char name[32];
        snprintf(name, sizeof name, "ringkv-%d", g);
        const char *cmd[] = { "SENTINEL", "MASTER", name };
        if (tool_call(&s->c, 3, cmd) < 0) {
            fprintf(stderr, "[ERR] Sentinel: %s\n", s->c.err);
            return -1;
        }
        if (s->c.reply.len == 0 || s->c.reply.data[0] != '-') {
            fprintf(stderr, "[ERR] Sentinel %s already monitors a master named %s.\n", s->c.addr, name);
            return -1;
        }
        if (!memmem(s->c.reply.data, s->c.reply.len, "No such master", 14)) {
            fprintf(stderr, "[ERR] %s is not a Sentinel: %.*s\n", s->c.addr, (int)s->c.reply.len - 2, s->c.reply.data);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- 2. plan */

/* Order the nodes as redis-cli does: interleaved by host (one of each host
 * in turn, hosts in order of first appearance). */
static void interleave(struct cnode *nodes, int n, int *order)
{
    int *taken = calloc((size_t)n, sizeof(int));
    int k = 0;
    while (k < n) {
        /* one pass: the first untaken node of each host */
        char seen[64][64];
        int nseen = 0;
        for (int i = 0; i < n && k < n; i++) {
            if (taken[i])
                continue;
            bool dup = false;
            for (int j = 0; j < nseen; j++)
                dup |= strcmp(seen[j], nodes[i].ip) == 0;
            if (dup)
                continue;
            if (nseen < 64)
                snprintf(seen[nseen++], sizeof seen[0], "%s", nodes[i].ip);
            taken[i] = 1;
            order[k++] = i;
        }
    }
    free(taken);
}

/* Give group g a replica from rest[] (nrest left): one on another host than
 * its master when there is one. */
static void take_replica(struct cnode *nodes, const struct cgroup *g, int gi, int *rest, int *nrest)
{
    int pick = 0;
    for (int i = 0; i < *nrest; i++)
        if (strcmp(nodes[rest[i]].ip, nodes[g->master].ip) != 0) {
            pick = i;
            break;
        }
    nodes[rest[pick]].group = gi;
    memmove(&rest[pick], &rest[pick + 1], (size_t)(*nrest - pick - 1) * sizeof(int));
    (*nrest)--;
}

static void form_groups(struct cnode *nodes, int n, int replicas, struct cgroup *groups, int ngroups)
{
    int *order = calloc((size_t)n, sizeof(int));
    interleave(nodes, n, order);
    for (int g = 0; g < ngroups; g++) {
        groups[g].id = (uint32_t)g + 1;
        groups[g].master = order[g];
        nodes[order[g]].group = g;
    }
    int nrest = n - ngroups;
    int *rest = order + ngroups;
    if (nrest > 1) { /* rotate, as redis-cli does, for anti-affinity on one host */
        int first = rest[0];
        memmove(&rest[0], &rest[1], (size_t)(nrest - 1) * sizeof(int));
        rest[nrest - 1] = first;
    }
    for (int r = 0; r < replicas; r++)
        for (int g = 0; g < ngroups; g++)
            take_replica(nodes, &groups[g], g, rest, &nrest);
    for (int g = 0; nrest > 0; g = (g + 1) % ngroups) /* nodes left over: extra replicas */
        take_replica(nodes, &groups[g], g, rest, &nrest);
    free(order);
}

/* Slots of group g in table. */
static int nslots(const uint16_t *table, int g)
{
    int n = 0;
    for (int s = 0; s < SLOT_COUNT; s++)
        n += table[s] == g;
    return n;
}

static int nranges(const uint16_t *table, int g)
{
    int n = 0;
    for (int s = 0; s < SLOT_COUNT; s++)
        n += table[s] == g && (s == 0 || table[s - 1] != g);
    return n;
}

static void state_text(const struct cnode *nodes, int n, const struct cgroup *groups, int ngroups,
                       const uint16_t *table, const struct sentinel *sents, int nsent, struct buf *out)
{
    buf_printf(out, "ringkv-cluster-state 1\ntable-version %d\n", STATE_VERSION);
    /* the nodes learn their groups' masters from these and fence without
     * a majority of them (ARCHITECTURE.md "Cluster") */
    for (int i = 0; i < nsent; i++)
        buf_printf(out, "sentinel %s %d\n", sents[i].host, sents[i].port);
    for (int i = 0; i < n; i++)
        buf_printf(out, "node %s %s %d %" PRIu32 "\n", nodes[i].id, nodes[i].ip, nodes[i].port,
                   groups[nodes[i].group].id);
    for (int g = 0; g < ngroups; g++)
        buf_printf(out, "group %" PRIu32 " %s 0\n", groups[g].id, nodes[groups[g].master].id);
    /* a line holds at most 64 words (state.h's parser): 60 ranges a line */
    for (int g = 0; g < ngroups; g++) {
        int on_line = 0;
        for (int s = 0; s < SLOT_COUNT;) {
            if (table[s] != g) {
                s++;
                continue;
            }
            int e = s;
            while (e + 1 < SLOT_COUNT && table[e + 1] == g)
                e++;
            if (on_line == 0)
                buf_printf(out, "slots %" PRIu32, groups[g].id);
            if (e == s)
                buf_printf(out, " %d", s);
            else
                buf_printf(out, " %d-%d", s, e);
            if (++on_line == 60) {
                buf_append_str(out, "\n");
                on_line = 0;
            }
            s = e + 1;
        }
        if (on_line)
            buf_append_str(out, "\n");
    }
}

static void print_plan(const struct cnode *nodes, int n, const struct cgroup *groups, int ngroups,
                       const uint16_t *table)
{
    printf(">>> %d groups of one master and %d replica(s) each%s, slots by consistent hashing:\n", ngroups,
           (n - ngroups) / ngroups, (n - ngroups) % ngroups ? " (some one more)" : "");
    for (int g = 0; g < ngroups; g++) {
        const struct cnode *m = &nodes[groups[g].master];
        printf("Group %" PRIu32 ": master %s:%d (%.8s), %d slots in %d ranges", groups[g].id, m->ip, m->port, m->id,
               nslots(table, g), nranges(table, g));
        for (int i = 0; i < n; i++)
            if (nodes[i].group == g && i != groups[g].master)
                printf(", replica %s:%d (%.8s)", nodes[i].ip, nodes[i].port, nodes[i].id);
        printf("\n");
    }
    fflush(stdout);
}

static bool confirm(void)
{
    printf("Can I set the above configuration? (type 'yes' to accept): ");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return false;
    line[strcspn(line, "\r\n")] = 0;
    return strcmp(line, "yes") == 0;
}

/* ------------------------------------------------------- 3. and 4. apply */

static int push_state(struct cnode *nd, const char *text)
{
    const char *cmd[] = { "CLUSTER", "RINGKV-SETSTATE", "0", text };
    char *ok = tool_call_text(&nd->c, 4, cmd);
    if (!ok) {
        fprintf(stderr, "[ERR] pushing the slot table to %s: %s\n", nd->c.addr, nd->c.err);
        return -1;
    }
    free(ok);
    return 0;
}

static int follow(struct cnode *replica, const struct cnode *master)
{
    char port[16];
    snprintf(port, sizeof port, "%d", master->port);
    const char *cmd[] = { "REPLICAOF", master->ip, port };
    char *ok = tool_call_text(&replica->c, 3, cmd);
    if (!ok) {
        fprintf(stderr, "[ERR] making %s a replica of %s:%d: %s\n", replica->c.addr, master->ip, master->port,
                replica->c.err);
        return -1;
    }
    free(ok);
    return 0;
}

/* Is the node settled: cluster_state:ok at our version, and (a replica)
 * its link to the master up? */
static bool settled(struct cnode *nd, bool replica, char *why, size_t whylen)
{
    const char *cinfo_cmd[] = { "CLUSTER", "INFO" };
    char *info = tool_call_text(&nd->c, 2, cinfo_cmd);
    if (!info) {
        snprintf(why, whylen, "%s", nd->c.err);
        return false;
    }
    char state[32] = "", ver[32] = "";
    tool_info_field(info, "cluster_state", state, sizeof state);
    tool_info_field(info, "cluster_table_version", ver, sizeof ver);
    free(info);
    if (strcmp(state, "ok") != 0 || atoll(ver) != STATE_VERSION) {
        snprintf(why, whylen, "%s: cluster_state:%s, table version %s", nd->c.addr, state, ver);
        return false;
    }
    if (!replica)
        return true;
    const char *rinfo_cmd[] = { "INFO", "replication" };
    info = tool_call_text(&nd->c, 2, rinfo_cmd);
    if (!info) {
        snprintf(why, whylen, "%s", nd->c.err);
        return false;
    }
    char link[32] = "";
    tool_info_field(info, "master_link_status", link, sizeof link);
    free(info);
    if (strcmp(link, "up") != 0) {
        snprintf(why, whylen, "%s: replication link %s", nd->c.addr, link[0] ? link : "not started");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------- create */

int tool_create(const struct tool_create_opts *o)
{
    int n = o->naddrs, rc = TOOL_EXIT_FAIL;
    int ngroups = n / (o->replicas + 1);
    if (ngroups < MIN_MASTERS) {
        fprintf(stderr, "[ERR] Invalid configuration for cluster creation: %d nodes with %d replicas per master "
                        "make %d masters; a cluster needs at least %d.\n", n, o->replicas, ngroups, MIN_MASTERS);
        return TOOL_EXIT_FAIL;
    }
    if (ngroups > PLACEMENT_MAX_GROUPS || n > CLUSTER_NODES_MAX) {
        fprintf(stderr, "[ERR] Too many nodes: at most %d groups and %d nodes.\n", PLACEMENT_MAX_GROUPS,
                CLUSTER_NODES_MAX);
        return TOOL_EXIT_FAIL;
    }
    struct cnode *nodes = calloc((size_t)n, sizeof *nodes);
    struct cgroup *groups = calloc((size_t)ngroups, sizeof *groups);
    struct sentinel *sents = NULL;
    int nsent = 0;
    uint16_t *table = calloc(SLOT_COUNT, sizeof(uint16_t));
    struct placement_group *pg = calloc((size_t)ngroups, sizeof *pg);
    char (*pid)[16] = calloc((size_t)ngroups, sizeof *pid);
    struct buf text;
    buf_init(&text);
    if (!nodes || !groups || !table || !pg || !pid)
        abort();
    for (int i = 0; i < n; i++) {
        nodes[i].c.fd = -1;
        nodes[i].group = -1;
        tool_split_addr(o->addrs[i], nodes[i].host, sizeof nodes[i].host, &nodes[i].port);
    }

    /* 1. every node checked before anything is changed */
    printf(">>> Checking %d nodes\n", n);
    for (int i = 0; i < n; i++)
        if (check_node(&nodes[i]) < 0)
            goto out;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) {
            if (strcmp(nodes[i].id, nodes[j].id) == 0) {
                fprintf(stderr, "[ERR] %s and %s are the same node (id %s).\n", nodes[j].c.addr, nodes[i].c.addr,
                        nodes[i].id);
                goto out;
            }
        }
    if (o->sentinels) {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", o->sentinels);
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            sents = realloc(sents, (size_t)(nsent + 1) * sizeof *sents);
            memset(&sents[nsent], 0, sizeof *sents);
            sents[nsent].c.fd = -1;
            tool_split_addr(t, sents[nsent].host, sizeof sents[nsent].host, &sents[nsent].port);
            nsent++;
        }
        if (nsent > CLUSTER_SENTINELS_MAX) {
            fprintf(stderr, "[ERR] Too many Sentinels: at most %d.\n", CLUSTER_SENTINELS_MAX);
            goto out;
        }
        for (int i = 0; i < nsent; i++)
            if (check_sentinel(&sents[i], ngroups) < 0)
                goto out;
    }

    /* 2. the plan */
    form_groups(nodes, n, o->replicas, groups, ngroups);
    for (int g = 0; g < ngroups; g++) {
        snprintf(pid[g], sizeof pid[g], "%" PRIu32, groups[g].id);
        pg[g] = (struct placement_group){ .id = pid[g], .id_len = strlen(pid[g]), .weight = 1 };
    }
    if (placement_compute(pg, ngroups, table) < 0) {
        fprintf(stderr, "[ERR] the slot table could not be computed\n");
        goto out;
    }
    state_text(nodes, n, groups, ngroups, table, sents, nsent, &text);
    /* push_state sends it as a C string: a buf ends in a NUL only by luck
     * (buf_printf leaves one, the last "\n" appended overwrites it) */
    buf_append(&text, "", 1);
    char perr[256];
    struct cluster_state *st = cluster_state_parse(text.data, text.len - 1, NULL, NULL, perr, sizeof perr);
    if (!st) { /* a bug of the tool: say so rather than push it */
        fprintf(stderr, "[ERR] the state built is not valid: %s\n", perr);
        goto out;
    }
    bool ok = cluster_state_ok(st);
    mi_free(st);
    if (!ok) {
        fprintf(stderr, "[ERR] the state built does not cover every slot\n");
        goto out;
    }
    print_plan(nodes, n, groups, ngroups, table);
    if (nsent)
        printf(">>> Sentinels %s will monitor each group as ringkv-<group> (quorum %d)\n", o->sentinels,
               nsent / 2 + 1);
    if (!o->yes && isatty(STDIN_FILENO) && !confirm()) {
        fprintf(stderr, "Nothing changed.\n");
        goto out;
    }

    /* 3. apply */
    printf(">>> Pushing the slot table (version %d) to %d nodes\n", STATE_VERSION, n);
    for (int i = 0; i < n; i++)
        if (push_state(&nodes[i], text.data) < 0)
            goto out;
    if (n > ngroups)
        printf(">>> Making each replica follow its master\n");
    for (int i = 0; i < n; i++)
        if (groups[nodes[i].group].master != i && follow(&nodes[i], &nodes[groups[nodes[i].group].master]) < 0)
            goto out;

    /* 4. wait */
    printf(">>> Waiting for every node to report cluster_state:ok\n");
    fflush(stdout);
    long long deadline = mono_ms() + o->wait_ms;
    char why[800] = "";
    for (int i = 0; i < n;) {
        if (settled(&nodes[i], groups[nodes[i].group].master != i, why, sizeof why)) {
            i++;
            continue;
        }
        if (nodes[i].c.fd < 0 || mono_ms() > deadline) {
            fprintf(stderr, "[ERR] the cluster did not settle: %s\n", why);
            goto out;
        }
        usleep(100 * 1000);
    }
    printf("[OK] All %d nodes agree on table version %d: all 16384 slots covered.\n", n, STATE_VERSION);
    /* after the replicas' links are up: a Sentinel learns a master's
     * replicas from its INFO, asked at once when it starts monitoring and
     * then every 10 s only; registered before, it would not know them for
     * up to 10 s, and a master dying then could not be failed over (no
     * replica to promote, and the dead master cannot be asked) */
    if (nsent) {
        long long down = 0;
        for (int i = 0; i < n; i++)
            if (nodes[i].node_timeout > down)
                down = nodes[i].node_timeout;
        printf(">>> Registering %d groups with %d Sentinels (down-after-milliseconds %lld)\n", ngroups, nsent, down);
        for (int s = 0; s < nsent; s++)
            for (int g = 0; g < ngroups; g++)
                if (tool_sentinel_register(&sents[s].c, nodes[groups[g].master].ip, nodes[groups[g].master].port,
                                           groups[g].id, nsent / 2 + 1, down) < 0)
                    goto out;
        printf(">>> Waiting for every Sentinel to know each group's replicas and the other Sentinels\n");
        fflush(stdout);
        for (int s = 0; s < nsent; s++)
            for (int g = 0; g < ngroups;) {
                if (tool_sentinel_ready(&sents[s].c, groups[g].id, o->replicas, nsent - 1, why, sizeof why)) {
                    g++;
                    continue;
                }
                if (sents[s].c.fd < 0 || mono_ms() > deadline) {
                    fprintf(stderr, "[ERR] the Sentinels are not ready to fail over: %s\n", why);
                    goto out;
                }
                usleep(100 * 1000);
            }
        printf("[OK] Each group is watched by %d Sentinels that know its replicas.\n", nsent);
    }
    rc = 0;
out:
    for (int i = 0; i < n; i++)
        tool_close(&nodes[i].c);
    for (int i = 0; i < nsent; i++)
        tool_close(&sents[i].c);
    buf_free(&text);
    free(sents);
    free(nodes);
    free(groups);
    free(table);
    free(pg);
    free(pid);
    return rc;
}
