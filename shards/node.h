/* node: one ringkv process. It holds the configuration, starts one shard
 * thread per CPU (shards/shard.h), and waits for them to stop. Everything in
 * it is either set before the shards start and read-only afterwards, or an
 * atomic. */
#ifndef RINGKV_NODE_H
#define RINGKV_NODE_H

#include <stdatomic.h>
#include <stdint.h>
#include "../core/config.h"

struct shard;

struct node {
    struct config  config;
    int            nshards;
    struct shard **shards;        /* nshards, index = shard id */
    int            port;          /* the port actually listened on */
    int64_t        start_ms;      /* unix ms at start */
    char           run_id[41];    /* 40 hex chars, new each start */
    char           executable[256];
    char           config_file[256]; /* absolute path, "" if none */

    atomic_int      shutdown;          /* set once: shards leave their loops */
    atomic_int      exit_code;
    atomic_uint_fast64_t next_client_id;
    atomic_long     clients;           /* connected now, across shards (maxclients) */
    atomic_uint_fast64_t next_slowlog_id;
};

/* Ask every shard to stop at the end of its loop turn (SIGINT, SIGTERM,
 * SHUTDOWN); each closes its sockets and its thread exits. */
void node_request_shutdown(struct node *n, int exit_code);

/* Start the shards, wait for them to stop, release everything. Returns the
 * process exit status. */
int node_run(struct node *n);

#endif
