/* tool: ringkv-cluster, the cluster's admin tool (issue 10). A program of
 * its own beside the cluster layer, in the manner of `redis-cli --cluster`:
 *
 *     ringkv-cluster create <ip:port>... [--replicas N] [--sentinels a,b,c] [--yes]
 *     ringkv-cluster status <ip:port>
 *     ringkv-cluster add <ip:port> <new-master> [<replica>...] [--batch N] [--yes]
 *     ringkv-cluster remove <ip:port> <master-of-group> [--batch N] [--yes]
 *         (add and remove also take --pipeline N, --parallel N and
 *         --max-keys-per-sec N: tool_reshard.c)
 *
 * tool.c parses the command line and dispatches; tool_create.c forms the
 * groups, computes and pushes the slot table; tool_status.c prints the
 * table of groups and nodes; tool_reshard.c adds or removes a group, its
 * slots moving live; tool_client.c is the blocking RESP client they
 * share. Exit codes: 0 done, 1 refused or failed (a message on stderr says
 * why), 2 usage. */
#ifndef RINGKV_TOOL_H
#define RINGKV_TOOL_H

#define TOOL_EXIT_FAIL  1
#define TOOL_EXIT_USAGE 2

/* Seconds a node may take to answer one command. */
#define TOOL_TIMEOUT_MS 5000

struct tool_create_opts {
    int          naddrs;
    char       **addrs;      /* "host:port" each */
    int          replicas;   /* per master */
    const char  *sentinels;  /* "host:port,host:port,..." or NULL */
    int          yes;        /* do not ask */
    int          wait_ms;    /* how long to wait for cluster_state:ok */
};

int tool_create(const struct tool_create_opts *o);

/* add <any-node> <new-master> [<replica>...] and remove <any-node>
 * <master-of-group> (tool_reshard.c): addrs[0] is any node of the cluster. */
struct tool_reshard_opts {
    int          naddrs;
    char       **addrs;      /* "host:port" each */
    int          batch;      /* keys per MIGRATE */
    int          pipeline;   /* MIGRATEs a mover has unanswered (0: 8) */
    int          parallel;   /* steps moved at once (0: 4) */
    long long    max_keys_per_sec; /* the move's rate limit (0: none) */
    int          yes;        /* do not ask */
};

int tool_add(const struct tool_reshard_opts *o);
int tool_remove(const struct tool_reshard_opts *o);
int tool_status(const char *addr);

/* Split "host:port" (an IPv6 host in brackets); 0, or -1 if malformed. */
int tool_split_addr(const char *addr, char *host, size_t hostlen, int *port);

#endif
