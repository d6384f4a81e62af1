/* tool_status: `ringkv-cluster status <ip:port>` (tool.h).
 *
 * Reads the cluster as the given node knows it (CLUSTER NODES: ids,
 * addresses, roles, masters' slot ranges), then asks every node for its own
 * view: table version and state (CLUSTER INFO), keys (DBSIZE), memory (INFO
 * memory), replication offsets (INFO replication). Prints one table, a
 * group's master first then its replicas; lag is the master's offset minus
 * the replica's, 0 when the replica is past it: the masters are asked
 * first, so under writes a replica asked later can be ahead of the
 * offset its master had (the master's own record of its replicas'
 * offsets comes with their acknowledgements, once a second, and would
 * show a second's writes as lag). A node whose table version is lower than the highest seen
 * is flagged "behind"; an unreachable node is shown as such and makes the
 * exit status 1. A group is shown by its id in the cluster state (CLUSTER
 * RINGKV-GETSTATE), the number add, remove and rebalance --weight take,
 * with its weight after a slash when it is not 1 ("4/2"). */
#include <inttypes.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "shards/cluster/state.h"
#include "shards/cluster/tool.h"
#include "shards/cluster/tool_client.h"

#define MAX_NODES 1024

struct snode {
    char id[48];
    char ip[64];
    int  port;
    int  master;            /* index of its master, -1 for a master */
    int  myself;
    int  nslots, nranges;   /* of a master, from its CLUSTER NODES line */
    /* from the node itself */
    int  reachable;
    long long version, keys, offset;
    char state[16], memory[32], role[16];
};

/* Count the slots and ranges in the "a-b c ..." words of ranges. */
static void count_slots(struct snode *s, const char *ranges)
{
    for (const char *w = ranges; *w;) {
        w += strspn(w, " \r");
        if (!*w)
            break;
        size_t n = strcspn(w, " \r");
        if (w[0] != '[') { /* "[slot->-id]": a slot being moved */
            int a, b;
            if (sscanf(w, "%d-%d", &a, &b) == 2)
                s->nslots += b - a + 1;
            else
                s->nslots += 1;
            s->nranges++;
        }
        w += n;
    }
}

static int parse_nodes(char *text, struct snode *nodes)
{
    int n = 0;
    char mids[MAX_NODES][48];
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < MAX_NODES;
         line = strtok_r(NULL, "\n", &save)) {
        struct snode *s = &nodes[n];
        memset(s, 0, sizeof *s);
        char addr[64], flags[128], master[48];
        int used = 0;
        if (sscanf(line, "%47s %63s %127s %47s %*s %*s %*s %*s%n", s->id, addr, flags, master, &used) < 4)
            continue;
        char *at = strchr(addr, '@');
        if (at)
            *at = 0;
        char *colon = strrchr(addr, ':');
        if (!colon)
            continue;
        *colon = 0;
        snprintf(s->ip, sizeof s->ip, "%s", addr);
        s->port = atoi(colon + 1);
        s->myself = strstr(flags, "myself") != NULL;
        snprintf(mids[n], sizeof mids[n], "%s", master);
        count_slots(s, line + used);
        n++;
    }
    for (int i = 0; i < n; i++) {
        nodes[i].master = -1;
        if (strcmp(mids[i], "-") != 0)
            for (int j = 0; j < n; j++)
                if (strcmp(nodes[j].id, mids[i]) == 0)
                    nodes[i].master = j;
    }
    return n;
}

static void ask_node(struct snode *s)
{
    struct tool_client c;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    if (tool_connect(&c, s->ip, s->port, TOOL_TIMEOUT_MS, NULL) < 0) {
        tool_close(&c);
        return;
    }
    const char *cinfo[] = { "CLUSTER", "INFO" };
    const char *mem[] = { "INFO", "memory" };
    const char *repl[] = { "INFO", "replication" };
    const char *dbsize[] = { "DBSIZE" };
    char v[64];
    char *t = tool_call_text(&c, 2, cinfo);
    if (!t)
        goto out;
    s->version = tool_info_field(t, "cluster_table_version", v, sizeof v) ? atoll(v) : -1;
    tool_info_field(t, "cluster_state", s->state, sizeof s->state);
    free(t);
    if (tool_call_int(&c, 1, dbsize, &s->keys) < 0)
        goto out;
    if (!(t = tool_call_text(&c, 2, mem)))
        goto out;
    tool_info_field(t, "used_memory_human", s->memory, sizeof s->memory);
    free(t);
    if (!(t = tool_call_text(&c, 2, repl)))
        goto out;
    tool_info_field(t, "role", s->role, sizeof s->role);
    if (tool_info_field(t, strcmp(s->role, "slave") == 0 ? "slave_repl_offset" : "master_repl_offset", v, sizeof v))
        s->offset = atoll(v);
    free(t);
    s->reachable = 1;
out:
    tool_close(&c);
}

static void print_row(const char *group, const struct snode *s, const struct snode *all, long long maxver)
{
    char addr[96], slots[64], lag[32], ver[48], keys[32];
    snprintf(addr, sizeof addr, "%s:%d", s->ip, s->port);
    if (s->master < 0)
        snprintf(slots, sizeof slots, "%d in %d ranges", s->nslots, s->nranges);
    else
        snprintf(slots, sizeof slots, "-");
    if (!s->reachable) {
        printf("%-6s %-8.8s %-21s %-8s %-18s %s\n", group, s->id, addr, s->master < 0 ? "master" : "replica", slots,
               "UNREACHABLE");
        return;
    }
    if (s->master >= 0 && all[s->master].reachable)
        snprintf(lag, sizeof lag, "%lld", all[s->master].offset > s->offset ? all[s->master].offset - s->offset : 0);
    else
        snprintf(lag, sizeof lag, "-");
    snprintf(ver, sizeof ver, "%lld%s%s", s->version, s->version < maxver ? " BEHIND" : "",
             strcmp(s->state, "ok") != 0 ? " (state fail)" : "");
    snprintf(keys, sizeof keys, "%lld", s->keys);
    printf("%-6s %-8.8s %-21s %-8s %-18s %10s %9s %10s  %s\n", group, s->id, addr,
           s->master < 0 ? "master" : "replica", slots, keys, s->memory, lag, ver);
}

int tool_status(const char *addr)
{
    char host[256];
    int port;
    tool_split_addr(addr, host, sizeof host, &port);
    struct tool_client c;
    if (tool_connect(&c, host, port, TOOL_TIMEOUT_MS, NULL) < 0) {
        fprintf(stderr, "[ERR] %s\n", c.err);
        tool_close(&c);
        return TOOL_EXIT_FAIL;
    }
    const char *nodes_cmd[] = { "CLUSTER", "NODES" };
    char *text = tool_call_text(&c, 2, nodes_cmd);
    if (!text) {
        fprintf(stderr, "[ERR] %s\n", c.err);
        tool_close(&c);
        return TOOL_EXIT_FAIL;
    }
    /* the group ids and weights */
    const char *state_cmd[] = { "CLUSTER", "RINGKV-GETSTATE" };
    char *state_text = tool_call_text(&c, 2, state_cmd);
    struct cluster_state *st = NULL;
    if (state_text) {
        char err[300];
        st = cluster_state_parse(state_text, strlen(state_text), NULL, NULL, err, sizeof err);
        free(state_text);
    }
    tool_close(&c);
    struct snode *nodes = calloc(MAX_NODES, sizeof *nodes);
    if (!nodes)
        abort();
    int n = parse_nodes(text, nodes);
    free(text);
    for (int i = 0; i < n; i++)
        if (nodes[i].myself && !nodes[i].ip[0]) { /* a node in no cluster yet does not know its address */
            snprintf(nodes[i].ip, sizeof nodes[i].ip, "%.63s", host);
            nodes[i].port = port;
        }
    long long maxver = 0;
    int unreachable = 0, groups = 0;
    for (int k = 0; k < 2 * n; k++) { /* the masters first (the lag's comparison) */
        int i = k % n;
        if ((k < n) != (nodes[i].master < 0))
            continue;
        ask_node(&nodes[i]);
        if (nodes[i].reachable && nodes[i].version > maxver)
            maxver = nodes[i].version;
        unreachable += !nodes[i].reachable;
        groups += nodes[i].master < 0;
    }
    printf("Cluster as %s knows it: %d groups, %d nodes, table version %lld\n", addr, groups, n, maxver);
    printf("%-6s %-8s %-21s %-8s %-18s %10s %9s %10s  %s\n", "GROUP", "NODE", "ADDRESS", "ROLE", "SLOTS", "KEYS",
           "MEMORY", "LAG", "VERSION");
    int g = 0;
    for (int i = 0; i < n; i++) {
        if (nodes[i].master >= 0)
            continue;
        char gname[32];
        snprintf(gname, sizeof gname, "%d", ++g);
        for (int k = 0; st && k < st->nnodes; k++)
            if (strcmp(st->nodes[k].id, nodes[i].id) == 0) {
                const struct cluster_group *gr = &st->groups[st->nodes[k].group];
                if (gr->weight != 1)
                    snprintf(gname, sizeof gname, "%" PRIu32 "/%" PRIu32, gr->id, gr->weight);
                else
                    snprintf(gname, sizeof gname, "%" PRIu32, gr->id);
            }
        print_row(gname, &nodes[i], nodes, maxver);
        for (int j = 0; j < n; j++)
            if (nodes[j].master == i)
                print_row("", &nodes[j], nodes, maxver);
    }
    int behind = 0;
    for (int i = 0; i < n; i++)
        behind += nodes[i].reachable && nodes[i].version < maxver;
    if (behind)
        printf("%d node(s) behind table version %lld\n", behind, maxver);
    if (unreachable)
        printf("%d node(s) unreachable\n", unreachable);
    free(nodes);
    mi_free(st);
    return unreachable ? TOOL_EXIT_FAIL : 0;
}
