/* client: the load engine. Each load thread owns one io_uring (no SQPOLL),
 * its connections and its latency histogram; nothing is shared on the hot
 * path but a relaxed counter the progress line reads.
 *
 * Per connection: a send buffer where the requests of one loop turn are
 * batched into one send, a receive buffer scanned incrementally for whole
 * replies, and a FIFO of the in-flight requests' send times (ns,
 * CLOCK_MONOTONIC) and kinds; a reply pops the FIFO's head, so latency is
 * reply time minus send time.
 *
 * Closed loop keeps `pipeline` requests in flight on each connection. Open
 * loop gives each connection its own schedule at rate/(threads*connections)
 * requests per second, sleeps in io_uring until the next intended send time,
 * and measures latency from the intended time, not the actual one, so a
 * server that stalls is charged for every request it delayed (coordinated
 * omission corrected).
 *
 * Cluster mode (cfg->cluster, a map from cluster_map.h): a client is one
 * connection to every master; each request goes to the connection of the
 * master serving its key's slot (the thread's own copy of the map), and
 * `pipeline` is what one client has in flight over all its connections. A
 * -MOVED reply updates that slot in the thread's map and the request is
 * sent again to the node named, keeping its first send time (the redirect
 * is part of its latency); the thread then reloads the whole map with
 * CLUSTER SLOTS (at most every 100 ms). A request redirected more than
 * CLUSTER_MAX_REDIRECTS times, or to a node not in the map, is an error.
 * Without --cluster a client is one connection, as before.
 *
 * Run order: load_thread_connect() for every thread from the main thread
 * (so a wrong address fails before anything starts), then start every thread
 * on load_thread_main(); the threads prefill (if asked), meet the main thread
 * at shared->ready, wait for it to set shared->start_ns and meet it again at
 * shared->go, then load until the duration or their share of requests is
 * done. */
#ifndef RINGKV_BENCH_CLIENT_H
#define RINGKV_BENCH_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster_map.h"
#include "histogram.h"
#include "keygen.h"
#include "lru_sim.h"
#include "protocol.h"

enum workload { WL_GET_SET, WL_INCR, WL_MGET, WL_MSET };

/* What to run: filled by the command line, read-only once threads start. */
struct bench_config {
    const char   *host;
    int           port;
    enum protocol protocol;
    unsigned      threads, connections, pipeline;
    double        duration_s;        /* used when requests == 0 */
    uint64_t      requests;          /* total over all threads; 0: run for duration_s */
    enum workload workload;
    unsigned      set_ratio, get_ratio;
    uint64_t      keys;
    unsigned      mkeys;
    enum key_dist key_dist;
    double        zipf_exponent;
    struct keyname keyname;
    size_t        value_min, value_max;
    bool          prefill;
    double        rate;              /* requests/s over all threads; 0: closed loop */
    const int    *cpus;              /* pin thread i to cpus[i % ncpus] */
    unsigned      ncpus;
    uint64_t      lru_capacity;      /* 0: no LRU simulation */
    const struct cluster_map *cluster; /* --cluster: the map loaded at start; NULL otherwise */
};

#define CLUSTER_MAX_REDIRECTS 16

/* State all threads see. */
struct load_shared {
    const struct bench_config *cfg;
    pthread_barrier_t ready, go;     /* threads + the main thread */
    _Atomic uint64_t  start_ns;      /* set by the main thread between the barriers */
    _Atomic unsigned  finished;      /* threads that are done */
    char             *value;         /* value_max bytes of printable filler */
    struct lru_sim    lru;           /* when cfg->lru_capacity */
    pthread_mutex_t   lru_lock;
};

struct conn;
struct client;

/* One load thread and what it measured. */
struct load_thread {
    unsigned            index;
    struct load_shared *shared;
    pthread_t           tid;
    struct conn        *conns;       /* client i's connection to node n: conns[i * nnodes + n] */
    unsigned            nconns;
    struct client      *clients;
    unsigned            nclients, nnodes;
    struct cluster_map *map;         /* cluster mode: this thread's copy */
    bool                refresh_wanted;
    uint64_t            refreshed_ns;
    struct keygen       keygen;
    uint64_t            rng;

    /* results: read by others only after the thread finished, except
     * completed and the histogram, which the progress line reads racily */
    struct histogram    hist;
    _Atomic uint64_t    completed;   /* replies in the measured phase */
    uint64_t            errors, hits, misses;
    uint64_t            prefill_errors;
    uint64_t            moved;       /* -MOVED replies received (prefill included) */
    uint64_t            end_ns;      /* time of the last reply */
    char                first_error[256];
    int                 failed;      /* setup failed: message in first_error */

    /* LRU simulation feed: key << 1 | write, flushed under shared->lru_lock */
    uint32_t           *lru_batch;
    unsigned            lru_batch_len;
};

/* Resolve cfg->host (cluster mode: every master's address) and open the
 * thread's connections (blocking connect,
 * TCP_NODELAY). 0, or -1 with a message on stderr. */
int  load_thread_connect(struct load_thread *t, struct load_shared *shared, unsigned index);
/* The thread body (pthread start routine; arg is the struct load_thread). */
void *load_thread_main(void *arg);
/* Close connections and free buffers. */
void load_thread_deinit(struct load_thread *t);

/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);

#endif
