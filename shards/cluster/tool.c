/* tool: ringkv-cluster's command line (tool.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shards/cluster/state.h"
#include "shards/cluster/tool.h"

static const char usage_text[] =
    "Usage: ringkv-cluster <command> [arguments]\n"
    "\n"
    "  create <ip:port> <ip:port> ... [--replicas <n>] [--sentinels <ip:port,...>] [--yes]\n"
    "      Form a new cluster of these nodes (each started with --cluster-enabled yes,\n"
    "      empty and in no cluster): groups of one master and <n> replicas (default 0),\n"
    "      at least 3 masters; the slot table computed by consistent hashing over the\n"
    "      groups, pushed to every node; each replica made to follow its master; then\n"
    "      waits until every node reports cluster_state:ok. With --sentinels, each group\n"
    "      is registered with those Redis Sentinels as master name ringkv-<group id>.\n"
    "      Asks for confirmation when stdin is a terminal, unless --yes (-y).\n"
    "      --wait <seconds>: how long to wait for the cluster to settle (default 30).\n"
    "  add <ip:port> <new-master> [<replica> ...] [--weight <w>] [--batch <n>] [--yes] [--abort]\n"
    "      Grow the cluster of <ip:port> by one group (the new nodes empty and in no\n"
    "      cluster): its share of the slots (by its weight, default 1) moves to it live;\n"
    "      with Sentinels in the cluster, the group is registered with them first.\n"
    "  remove <ip:port> <master-of-group> [--batch <n>] [--yes] [--abort]\n"
    "      Move that group's slots to the other groups, take it out of the cluster and\n"
    "      off the Sentinels; its nodes are left empty and in no cluster.\n"
    "  rebalance <ip:port> [--weight <group>=<w> ...] [--batch <n>] [--yes] [--abort]\n"
    "      Set groups' weights (group ids as status prints them; w from 1 to 1000000)\n"
    "      and move the slots whose owner differs from the table they give.\n"
    "      Interrupted, the same command resumes; --abort instead rolls back the\n"
    "      slots left half-moved (their keys back to their owner, no slot left\n"
    "      MIGRATING or IMPORTING) and, for add, takes out a new group that serves\n"
    "      no slot yet. The source of a slot pushes its keys itself\n"
    "      (RINGKV-MIGRATESLOTS): --batch: keys per batch (default 100); --pipeline:\n"
    "      batches in flight per step (default 8); --parallel: steps moved at once\n"
    "      (default 4; 1 under a --max-keys-per-sec of 150000 or less);\n"
    "      --max-keys-per-sec: a rate limit for the whole move (default none);\n"
    "      --by-migrate: the tool lists the keys and sends MIGRATEs instead\n"
    "      (the earlier, slower way).\n"
    "  status <ip:port>\n"
    "      Print the cluster's groups and nodes as the node at <ip:port> knows them:\n"
    "      roles, slots, keys, memory, replication lag, table version per node.\n"
    "  help, --help, -h\n"
    "      Print this help.\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed (nothing changed when refused), 2 usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ringkv-cluster: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'ringkv-cluster --help'.\n", stderr);
    return TOOL_EXIT_USAGE;
}

int tool_split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - addr);
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == 0 || *end != 0 || p < 1 || p > 65535)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (int)p;
    return 0;
}

static int check_addr(const char *a)
{
    char host[256];
    int port;
    return tool_split_addr(a, host, sizeof host, &port);
}

static int cmd_create(int argc, char **argv)
{
    struct tool_create_opts o = { .wait_ms = 30000 };
    o.addrs = calloc((size_t)argc + 1, sizeof(char *));
    if (!o.addrs)
        abort();
    int rc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--replicas") == 0 || strcmp(a, "--sentinels") == 0 || strcmp(a, "--wait") == 0) {
            if (i + 1 >= argc) {
                rc = usage_error("%s needs a value", a);
                goto out;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--sentinels") == 0) {
                char copy[4096];
                snprintf(copy, sizeof copy, "%s", v);
                for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                    if (check_addr(t) < 0) {
                        rc = usage_error("bad Sentinel address '%s' (expected ip:port)", t);
                        goto out;
                    }
                if (strspn(v, ",") == strlen(v)) {
                    rc = usage_error("--sentinels needs at least one address");
                    goto out;
                }
                o.sentinels = v;
                continue;
            }
            char *end;
            long n = strtol(v, &end, 10);
            if (*v == 0 || *end != 0 || n < 0 || n > 100000) {
                rc = usage_error("bad number '%s'", v);
                goto out;
            }
            if (strcmp(a, "--replicas") == 0)
                o.replicas = (int)n;
            else
                o.wait_ms = (int)n * 1000;
        } else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0) {
            o.yes = 1;
        } else if (a[0] == '-') {
            rc = usage_error("unknown option '%s'", a);
            goto out;
        } else if (check_addr(a) < 0) {
            rc = usage_error("bad node address '%s' (expected ip:port)", a);
            goto out;
        } else {
            o.addrs[o.naddrs++] = argv[i];
        }
    }
    if (o.naddrs == 0) {
        rc = usage_error("create needs the nodes' addresses");
        goto out;
    }
    rc = tool_create(&o);
out:
    free(o.addrs);
    return rc;
}

/* "W" (add) or "GROUP=W" (rebalance): 0, or -1. */
static int parse_weight(const char *v, bool with_group, struct tool_weight *w)
{
    char *end;
    w->group = 0;
    if (with_group) {
        const char *eq = strchr(v, '=');
        long long g = eq && eq != v ? strtoll(v, &end, 10) : -1;
        if (!eq || eq == v || end != eq || g < 0 || g > INT32_MAX || v[0] == '-' || v[0] == '+' || v[0] == ' ')
            return -1;
        w->group = (uint32_t)g;
        v = eq + 1;
    }
    long long n = strtoll(v, &end, 10);
    if (*v == 0 || *end != 0 || v[0] == '-' || v[0] == '+' || v[0] == ' ' || n < 1 || n > CLUSTER_WEIGHT_MAX)
        return -1;
    w->weight = (uint32_t)n;
    return 0;
}

static int cmd_reshard(int argc, char **argv, const char *cmd)
{
    bool add = strcmp(cmd, "add") == 0, rebalance = strcmp(cmd, "rebalance") == 0;
    struct tool_reshard_opts o = { .batch = 100 };
    o.addrs = calloc((size_t)argc + 1, sizeof(char *));
    o.weights = calloc((size_t)argc + 1, sizeof *o.weights);
    if (!o.addrs || !o.weights)
        abort();
    int rc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--batch") == 0) {
            char *end;
            long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || *argv[i + 1] == 0 || *end != 0 || n < 1 || n > 100000) {
                rc = usage_error("--batch needs a number of keys from 1 to 100000");
                goto out;
            }
            o.batch = (int)n;
            i++;
        } else if (strcmp(a, "--weight") == 0 && (add || rebalance)) {
            struct tool_weight w;
            if (i + 1 >= argc || parse_weight(argv[i + 1], rebalance, &w) < 0) {
                rc = usage_error(rebalance ? "--weight needs <group>=<w>, a group id and a whole number from 1 to %d"
                                           : "--weight needs a whole number from 1 to %d", CLUSTER_WEIGHT_MAX);
                goto out;
            }
            if (rebalance) {
                for (int k = 0; k < o.nweights; k++)
                    if (o.weights[k].group == w.group) {
                        rc = usage_error("--weight given twice for group %u", (unsigned)w.group);
                        goto out;
                    }
                o.weights[o.nweights++] = w;
            } else {
                o.weight = w.weight;
            }
            i++;
        } else if (strcmp(a, "--abort") == 0) {
            o.abort = 1;
        } else if (strcmp(a, "--by-migrate") == 0) {
            o.by_migrate = 1;
        } else if (strcmp(a, "--pipeline") == 0 || strcmp(a, "--parallel") == 0 ||
                   strcmp(a, "--max-keys-per-sec") == 0) {
            /* the move loop's knobs (tool_reshard.c) */
            char *end;
            long long n = i + 1 < argc ? strtoll(argv[i + 1], &end, 10) : 0;
            long long most = strcmp(a, "--max-keys-per-sec") == 0 ? 1000000000LL : 64;
            if (i + 1 >= argc || *argv[i + 1] == 0 || *end != 0 || n < 1 || n > most) {
                rc = usage_error("%s needs a number from 1 to %lld", a, most);
                goto out;
            }
            if (strcmp(a, "--pipeline") == 0)
                o.pipeline = (int)n;
            else if (strcmp(a, "--parallel") == 0)
                o.parallel = (int)n;
            else
                o.max_keys_per_sec = n;
            i++;
        } else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0) {
            o.yes = 1;
        } else if (a[0] == '-') {
            rc = usage_error("unknown option '%s'", a);
            goto out;
        } else if (check_addr(a) < 0) {
            rc = usage_error("bad node address '%s' (expected ip:port)", a);
            goto out;
        } else {
            o.addrs[o.naddrs++] = argv[i];
        }
    }
    if (add ? o.naddrs < 2 : rebalance ? o.naddrs != 1 : o.naddrs != 2) {
        rc = usage_error(add ? "add needs a node of the cluster and the new master (then its replicas)"
                         : rebalance ? "rebalance needs one node of the cluster"
                                     : "remove needs a node of the cluster and the master of the group to remove");
        goto out;
    }
    if (o.abort && (o.nweights || o.weight)) {
        rc = usage_error("--abort takes no --weight: it rolls back, it sets nothing");
        goto out;
    }
    if (o.abort)
        rc = tool_abort(&o, cmd);
    else
        rc = add ? tool_add(&o) : rebalance ? tool_rebalance(&o) : tool_remove(&o);
out:
    free(o.addrs);
    free(o.weights);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("no command given");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
    if (strcmp(cmd, "create") == 0)
        return cmd_create(argc - 2, argv + 2);
    if (strcmp(cmd, "add") == 0 || strcmp(cmd, "remove") == 0 || strcmp(cmd, "rebalance") == 0)
        return cmd_reshard(argc - 2, argv + 2, cmd);
    if (strcmp(cmd, "status") == 0) {
        if (argc != 3)
            return usage_error("status takes one address");
        if (check_addr(argv[2]) < 0)
            return usage_error("bad node address '%s' (expected ip:port)", argv[2]);
        return tool_status(argv[2]);
    }
    return usage_error("unknown command '%s'", cmd);
}
