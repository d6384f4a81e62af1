/* tracking_node: the node-wide part of client-side caching (tracking.h):
 * BCAST's prefix table, and the node's clients by id (REDIRECT's target).
 *
 * The prefix table is read on every shard, by the store's change hook of
 * every write while it is not empty: one immutable table behind an atomic
 * pointer (NULL while no client is in BCAST mode: one load and a test on
 * the write path), replaced whole when a client adds or drops prefixes;
 * the old one is freed once every shard has passed a point between two
 * commands (dispatch_free_later). Its changes, and the directory of
 * clients, are serialised by one mutex that only CLIENT TRACKING, a
 * connection's start and its end take, never a command of the data path.
 *
 * Each BCAST client also keeps its own prefixes (client.tracking_prefixes)
 * for CLIENT TRACKINGINFO and Redis's overlap checks. */
#ifndef RINGKV_TRACKING_NODE_H
#define RINGKV_TRACKING_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/client.h"
#include "core/reply.h"

struct node;
struct shard;

/* One (prefix, client) pair of the table. */
struct bcast_entry {
    uint64_t    id;     /* the BCAST client */
    int         home;   /* the shard its connection is on */
    uint32_t    len;
    const char *prefix; /* "" (len 0): every key */
};

struct bcast_table {
    size_t             n;
    size_t             distinct; /* different prefixes (INFO tracking_total_prefixes) */
    struct bcast_entry e[];      /* sorted by prefix; the prefixes' bytes follow */
};

struct client_slot;

struct tracking_node {
    _Atomic(struct bcast_table *) table; /* NULL: no BCAST client */
    pthread_mutex_t     lock; /* the table's writers and the directory: never the data path */
    struct client_slot *slots; /* the directory (tracking_node.c) */
    size_t              cap, count;
};

/* Set up the node-wide part (main, before the shards start). */
struct tracking_node *tracking_node_create(void);
void tracking_node_free(struct tracking_node *tn);

/* The current prefix table, or NULL (no BCAST client): what every write
 * checks, so one load. */
static inline const struct bcast_table *tracking_node_table(struct tracking_node *tn)
{
    return atomic_load_explicit(&tn->table, memory_order_acquire);
}

/* Clients by id: a connection opened on, or left, shard `shard`; the shard
 * of client id's connection, or -1 if there is none. */
void tracking_node_client_opened(struct tracking_node *tn, uint64_t id, int shard);
void tracking_node_client_closed(struct tracking_node *tn, uint64_t id);
int tracking_node_client_shard(struct tracking_node *tn, uint64_t id);

/* Do the prefixes p[0..n) overlap each other or the client's own (one a
 * prefix of the other)? Redis's error text in err (false), or true. */
bool tracking_prefixes_check(const struct client *c, const struct slice *p, int n, char *err, size_t errlen);

/* BCAST for c, a client of shard sh: its prefixes p[0..n) (none: "", every
 * key) join its own and the node's table. */
void tracking_bcast_add(struct shard *sh, struct client *c, const struct slice *p, int n);
/* c leaves BCAST mode: its prefixes leave the table. */
void tracking_bcast_remove(struct shard *sh, struct client *c);

/* CLIENT TRACKINGINFO's prefixes: c's, in byte order, as an array. */
void tracking_prefixes_reply(const struct client *c, struct reply *r);

/* INFO tracking_total_prefixes. */
size_t tracking_total_prefixes(const struct node *n);

#endif
