/* tool: ringkv-cluster, the cluster's admin tool (issue 10). A program of
 * its own beside the cluster layer, in the manner of `redis-cli --cluster`:
 *
 *     ringkv-cluster create <ip:port>... [--replicas N] [--sentinels a,b,c] [--yes]
 *     ringkv-cluster status <ip:port>
 *     ringkv-cluster add <ip:port> <new-master> [<replica>...] [--weight W] [--batch N] [--yes] [--abort]
 *     ringkv-cluster remove <ip:port> <master-of-group> [--batch N] [--yes] [--abort]
 *     ringkv-cluster rebalance <ip:port> [--weight GROUP=W ...] [--batch N] [--yes] [--abort]
 *         (add, remove and rebalance also take --pipeline N, --parallel N and
 *         --max-keys-per-sec N: tool_reshard.c)
 *
 * tool.c parses the command line and dispatches; tool_create.c forms the
 * groups, computes and pushes the slot table; tool_status.c prints the
 * table of groups and nodes; tool_reshard.c adds or removes a group, its
 * slots moving live; tool_rebalance.c sets the groups' weights and moves
 * the slots to the table they make, and rolls back an interrupted move
 * (--abort); tool_sentinel.c registers groups with the cluster's
 * Sentinels; tool_client.c is the blocking RESP client they share. Exit codes: 0 done, 1 refused or failed (a message on stderr says
 * why), 2 usage. */
#ifndef RINGKV_TOOL_H
#define RINGKV_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tool_client;
struct cluster_state;

#define TOOL_EXIT_FAIL  1
#define TOOL_EXIT_USAGE 2

/* Milliseconds a node may take to answer one command (accepting the
 * connection: TOOL_CONNECT_TIMEOUT_MS, tool_client.h). Long: a command
 * that changes the cluster's table (CLUSTER SETSLOT, ADDSLOTS...) answers
 * once the node's cluster file is on its disk, an fsync, seconds on a
 * busy disk; a bound of 5 s failed `remove` ("no reply from ...") in
 * loaded test runs. */
#define TOOL_TIMEOUT_MS 30000

struct tool_create_opts {
    int          naddrs;
    char       **addrs;      /* "host:port" each */
    int          replicas;   /* per master */
    const char  *sentinels;  /* "host:port,host:port,..." or NULL */
    int          yes;        /* do not ask */
    int          wait_ms;    /* how long to wait for cluster_state:ok */
};

int tool_create(const struct tool_create_opts *o);

/* add <any-node> <new-master> [<replica>...], remove <any-node>
 * <master-of-group> (tool_reshard.c) and rebalance <any-node>
 * (tool_rebalance.c): addrs[0] is any node of the cluster. */
struct tool_weight {
    uint32_t     group;      /* a group id, as `status` prints it */
    uint32_t     weight;     /* 1..CLUSTER_WEIGHT_MAX */
};

struct tool_reshard_opts {
    int          naddrs;
    char       **addrs;      /* "host:port" each */
    int          batch;      /* keys per batch of a push (or per MIGRATE with --by-migrate) */
    int          pipeline;   /* batches a push keeps in flight (--by-migrate: MIGRATEs unanswered; 0: 8) */
    int          parallel;   /* steps moved at once (0: 4) */
    long long    max_keys_per_sec; /* the move's rate limit (0: none) */
    int          by_migrate; /* --by-migrate: keys listed by the tool and sent by MIGRATE */
    int          yes;        /* do not ask */
    int          abort;      /* --abort: roll back an interrupted move */
    uint32_t     weight;     /* add: the new group's weight (0: 1) */
    int          nweights;   /* rebalance: --weight GROUP=W each */
    struct tool_weight *weights;
};

int tool_add(const struct tool_reshard_opts *o);
int tool_remove(const struct tool_reshard_opts *o);
int tool_rebalance(const struct tool_reshard_opts *o);
int tool_status(const char *addr);

/* --abort of add, remove and rebalance (tool_rebalance.c; README "Growing
 * and shrinking"): every slot left marked MIGRATING/IMPORTING by an
 * interrupted move gets its keys back on the slot's owner in the current
 * table and loses its marks; for add, a new group that serves no slot yet
 * is taken out again. `kind` is "add", "remove" or "rebalance". */
int tool_abort(const struct tool_reshard_opts *o, const char *kind);

/* The move machinery of tool_reshard.c, for tool_rebalance.c. A reshard
 * holds the cluster state as last read from a node and a connection to
 * each of its nodes. */
struct reshard;
/* Read the state from host:port, check every node answers at its table
 * version. NULL (a message printed) when it cannot. */
struct reshard *reshard_open(const char *host, int port, const struct tool_reshard_opts *o);
void reshard_close(struct reshard *x);
const struct cluster_state *reshard_state(const struct reshard *x);
/* Read the state again from host:port: 0 or -1. */
int reshard_reread(struct reshard *x, const char *host, int port);
/* The connection to node i of the state (made on first use), or NULL. */
struct tool_client *reshard_node(struct reshard *x, int i);
/* Wait until every node holds one table version, the highest: 0 or -1. */
int reshard_settle(struct reshard *x, int wait_ms);
/* Push text (the state with version + 1) to every node of the current
 * state by compare-and-set on its version, then wait until all hold it
 * and read it back from host:port. 0 or -1. */
int reshard_push_all(struct reshard *x, const char *text, const char *host, int port);
/* The target owner (group index) of every slot by placement.h over the
 * groups and their weights, leaving out group index `without` (-1: none). */
int reshard_target(const struct cluster_state *st, int without, uint16_t *table);
/* Print the plan for moves[s] (the target group of slot s, or -1), ask
 * unless yes, move, print a summary. 0 or -1. */
int reshard_move(struct reshard *x, const int *moves, bool yes);
/* Send every key node `from` holds in these slots to node `to` (MIGRATE
 * REPLACE, --batch keys at a time) until it has none. 0 or -1. */
int reshard_drain(struct reshard *x, int from, const int *slots, int n, int to);
/* Take the group numbered gid, which serves no slot, out of the state
 * (pushed to the other nodes), its name off the Sentinels, and its nodes
 * out of the cluster (CLUSTER RESET HARD). 0 or -1. */
int reshard_take_out(struct reshard *x, uint32_t gid, const char *host, int port);

/* tool_sentinel.c: a node's cluster-node-timeout in ms (15000 unknown). */
long long tool_node_timeout(struct tool_client *c);
/* SENTINEL MONITOR ringkv-<gid> ip port quorum and SET its
 * down-after-milliseconds and failover-timeout: 0, or -1 with a message. */
int tool_sentinel_register(struct tool_client *s, const char *ip, int port, uint32_t gid, int quorum,
                           long long down_ms);
/* Does Sentinel s know ringkv-<gid>'s replicas (at least `replicas`) and
 * `others` other Sentinels? Why not in why. */
bool tool_sentinel_ready(struct tool_client *s, uint32_t gid, int replicas, int others, char *why, size_t whylen);
/* Register group index g of st with every Sentinel of st (those that do
 * not monitor it yet) and wait until each is ready to fail it over. 0 (also
 * without Sentinels) or -1 with a message. */
int tool_sentinels_watch_group(const struct cluster_state *st, int g, long long down_ms, int wait_ms);
/* SENTINEL REMOVE ringkv-<gid> on every Sentinel of st that monitors it:
 * 0, or -1 (a warning printed for each that could not be told). */
int tool_sentinels_forget_group(const struct cluster_state *st, uint32_t gid);

/* Split "host:port" (an IPv6 host in brackets); 0, or -1 if malformed. */
int tool_split_addr(const char *addr, char *host, size_t hostlen, int *port);

#endif
