/* shard: one pinned thread and everything it owns: its io_uring loop and
 * connections (net/), its store, its journal, its stats and slow log, and
 * the mailboxes through which other shards send it work (DESIGN §1, §3).
 *
 * Other threads may read a shard's stats (relaxed atomics) and post to its
 * mailboxes; nothing else of it is touched from outside. */
#ifndef RINGKV_SHARD_H
#define RINGKV_SHARD_H

#include <stdbool.h>
#include <stdint.h>
#include "core/client.h"
#include "core/stats.h"
#include "core/slowlog.h"

#include <pthread.h>

struct node;
struct store;
struct loop;
struct mailbox;
struct shard_msg;
struct repl_shard;
struct session;
struct conn;

struct shard {
    int              id;
    int              cpu;      /* pinned to this CPU, -1 if not pinned */
    struct node     *node;
    struct store    *store;
    struct shard_stats stats;
    struct slowlog   slowlog;
    void            *heap;     /* mi_heap_t * of this thread */
    struct loop     *loop;     /* net/: ring, listeners, connections */
    pthread_t        thread;
    int64_t          last_tick_ms;
    size_t           query_limit; /* client-query-buffer-limit the open connections have */
    /* The shard's clock: one CLOCK_MONOTONIC read per command. clock_ns is
     * when the current command started (the end of the one before it, or
     * the start of the batch); unix_offset_ns turns it into unix time and is
     * refreshed every tick so wall-clock steps are followed. */
    uint64_t         clock_ns;
    int64_t          unix_offset_ns;
    /* messages to other shards that did not fit their mailbox this turn:
     * one FIFO per target shard, retried every turn */
    struct shard_msg **overflow_head, **overflow_tail;
    bool            *posted;   /* per target: pushed this turn, publish + wake */
    struct repl_shard *repl;   /* replication/: this shard's part */
    struct session **subscribers;  /* sessions with pub/sub subscriptions (pubsub.c) */
    int              nsubscribers;
    struct conn    **replica_conns; /* connections of replicas (after PSYNC) */
    int              nreplica_conns;
    struct session **held;     /* sessions holding a command while paused, oldest first (pause.c) */
    int              nheld;
};

/* What CLIENT LIST prints about a connection besides its client state. */
struct client_io {
    size_t  qbuf;       /* unparsed input bytes */
    size_t  obuf;       /* unsent output bytes */
    size_t  pending;    /* replies waiting on other shards */
};

typedef void shard_client_fn(void *arg, struct client *c, const struct client_io *io);
/* Visit every connection of this shard (on the shard's thread). */
void shard_each_client(struct shard *s, shard_client_fn *fn, void *arg);
/* Close client c of this shard once its pending replies are sent. */
void shard_kill_client(struct shard *s, struct client *c);

/* Connections that became replicas' links (PSYNC) on this shard. */
void shard_replica_register(struct shard *s, struct client *c);
void shard_replica_unregister(struct shard *s, struct client *c);
struct conn *shard_replica_conn(struct shard *s, uint64_t client_id);
struct client *shard_replica_client(struct shard *s, uint64_t client_id);

/* Life of a shard thread: setup (on the thread: pin, heap, store, ring),
 * run (until the node's shutdown flag), teardown. */
int  shard_setup(struct shard *s);
void shard_run(struct shard *s);
void shard_teardown(struct shard *s);

/* Keyspace of this shard owning the given slot (slot -> shard, DESIGN §2). */
int shard_of_slot(const struct node *n, unsigned slot);

#endif
