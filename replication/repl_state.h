/* repl_state: the replication state shared by the files of replication/
 * (repl.c: per-shard stream and snapshots; master.c: replicas; replica.c:
 * the link to a master). Not for use outside replication/. */
#ifndef RINGKV_REPL_STATE_H
#define RINGKV_REPL_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/resp.h"
#include "replication/journal.h"
#include "replication/repl.h"

#define REPLID_LEN 40

/* Frames of a full sync, not part of the offset. */
#define FRAME_LOAD "RKV.LOAD"
#define FRAME_LOADDONE "RKV.LOADDONE"

/* MSG_REPL_FEED's value: what the replica's shard does with the bytes.
 * FEED_DROP closes the connection once what it holds is sent, FEED_CUT at
 * once (a replica over its output limits). */
enum feed_kind { FEED_ONLINE = 0, FEED_DROP = 1, FEED_SYNCING = 2, FEED_CUT = 3 };

/* Pacing of one full sync's snapshot by the replica (flow.c): the shards
 * that produce it stop while more than SNAP_WINDOW_BYTES of it wait unsent,
 * and the replica's shard wakes them when that falls below half. Shared by
 * shard 0, the producing shards, the feed messages and the replica's shard;
 * the last of them to let go frees it. */
#define SNAP_WINDOW_BYTES (8u << 20)
struct snap_flow {
    atomic_llong inflight;  /* produced, not yet in the replica connection's output */
    atomic_llong unsent;    /* the replica connection's unsent output, as its shard last saw it */
    atomic_int   throttled; /* a producer stopped: wake the shards when it drains */
    atomic_int   cancelled; /* the replica is gone: producers drop their snapshot */
    atomic_int   refs;
};

struct snap_flow *snap_flow_create(int refs);
void snap_flow_ref(struct snap_flow *f);
void snap_flow_unref(struct snap_flow *f);
/* Producer side: true if the window is full (and marks a producer waiting). */
bool snap_flow_full(struct snap_flow *f);
/* Replica's shard: its connection's unsent output is now `unsent` bytes. */
void snap_flow_unsent(struct shard *sh, struct snap_flow *f, size_t unsent);

/* A snapshot this shard is producing for one replica. */
struct snap {
    struct snap      *next;
    uint64_t          replica_id;
    uint64_t          cursor;
    struct snap_flow *flow;
};

/* Stream buffers travel in messages and come back empty with the answer;
 * keeping one (up to this size) for the next turn saves growing a new one
 * every turn, which under load meant fresh pages and copies each time. */
#define SPARE_BUF_MAX (16u << 20)

/* Per shard (struct shard's repl). */
struct repl_shard {
    struct buf    journal_out;  /* stream bytes of this turn, for shard 0 */
    struct buf    journal_spare; /* an empty buffer come back from shard 0, for the next turn */
    struct snap  *snaps;
    struct store *staging;      /* replica, full sync: the store being loaded */
};

/* Master side: one attached replica (on shard 0). */
struct replica {
    struct replica *next;
    uint64_t   id;           /* client id of its connection */
    int        shard;        /* the shard its connection lives on */
    char       ip[64];
    int        port;         /* REPLCONF listening-port */
    bool       online;       /* false while its full sync runs */
    int        snap_pending; /* shards whose snapshot is not done */
    struct snap_flow *flow;  /* while the snapshot runs */
    size_t     feed_paced;   /* snapshot bytes in feed, still counted in flight */
    /* A full sync served by a replica (chained): the stream is held here
     * and sent once the snapshot is complete, not alongside it (our shards
     * apply what shard 0 reads after it is read, so a snapshot slice can
     * carry a value newer than the stream bytes already sent). */
    bool       stream_later;
    struct buf stream_held;  /* limited as an output buffer (master.c) */
    int64_t    held_over_soft_ms; /* since when stream_held is over the soft limit (0: not) */
    struct buf feed;         /* bytes to send at the end of this turn */
    struct buf feed_spare;   /* an empty buffer come back from the replica's shard */
    uint64_t   ack_offset;
    int64_t    ack_ms;
};

/* A WAIT in progress (on shard 0). */
struct waiter {
    struct waiter    *next;
    struct shard_msg *msg;   /* the deferred MSG_EXEC, answered at the end */
    long long         numreplicas;
    int64_t           deadline_ms; /* 0: none */
    int               flushes;     /* FLUSH_JOURNAL answers still to come */
    uint64_t          target;      /* offset to reach once flushes == 0 */
};

enum link_step {
    LINK_NONE,        /* not a replica */
    LINK_CONNECT,     /* waiting to (re)connect */
    LINK_CONNECTING,
    LINK_HANDSHAKE,   /* PING / AUTH / REPLCONF / PSYNC replies pending */
    LINK_TRANSFER,    /* full sync: loading */
    LINK_CONNECTED,   /* streaming */
};

/* The link to our master (replica side, shard 0). */
struct repl_link {
    int                kind;     /* SESSION_LINK: first, as in struct session */
    struct conn       *conn;
    struct resp_parser parser;
    int                replies;  /* handshake replies still expected */
    bool               auth;
    struct buf        *apply;    /* per shard: records to send this turn */
    unsigned long long turn;     /* the loop turn turn_bytes counts */
    size_t             turn_bytes; /* stream bytes taken in that turn */
};

/* The node's replication state, owned by shard 0. */
struct repl {
    char            replid[REPLID_LEN + 1];
    char            replid2[REPLID_LEN + 1];
    int64_t         second_offset; /* -1 if none */
    struct journal *backlog;
    bool            backlog_active;
    struct replica *replicas;
    int             nreplicas;
    struct waiter  *waiters;
    uint64_t        sync_full, sync_partial_ok, sync_partial_err;
    int64_t         last_ping_ms;
    uint64_t        feed_since_ns;  /* the replicas' feeds are held since (0: not held) */
    /* FAILOVER (master side) */
    enum { FAILOVER_NONE, FAILOVER_WAIT_SYNC, FAILOVER_IN_PROGRESS } failover;
    char            failover_host[256]; /* target, or "" for the first replica in sync */
    int             failover_port;
    bool            failover_force;
    int64_t         failover_deadline_ms; /* 0: none */
    int             failover_flushes;     /* FLUSH_JOURNAL answers still to come */
    uint64_t        failover_offset;      /* the offset the target must reach */
    bool            psync_failover;       /* our next PSYNC carries FAILOVER */
    /* replica side */
    char            master_host[256];
    int             master_port;
    enum link_step  step;
    struct repl_link *link;
    int64_t         retry_at_ms;
    int             backoff_ms;
    int64_t         last_io_ms;
    int64_t         last_ack_ms;
    int64_t         link_down_since_ms;
};

struct repl *repl_of(struct shard *sh);          /* shard 0's state */
struct repl_shard *repl_shard_of(struct shard *sh);
void repl_new_replid(char out[REPLID_LEN + 1]);
/* Tell every shard its role (passive stores on a replica). */
void repl_broadcast_role(struct shard *sh, bool replica);
/* Post a replication message of `kind` from sh to shard `to`. */
struct shard_msg *repl_post(struct shard *sh, int to, int kind, uint64_t value, void *arg,
                            struct buf *payload);

/* master.c */
void master_stream_bytes(struct shard *sh, const char *p, size_t n);
void master_attach(struct shard *sh, struct shard_msg *m);
void master_detach(struct shard *sh, uint64_t id);
void master_ack(struct shard *sh, uint64_t id, uint64_t offset);
void master_snapshot_data(struct shard *sh, uint64_t id, struct buf *frames);
void master_snapshot_done(struct shard *sh, uint64_t id);
void master_flush_feeds(struct shard *sh);
/* Are the feeds held for a later turn, or filled after this turn's flush
 * (then the loop must not sleep)? */
bool master_feeds_held(struct shard *sh);
/* A feed message's buffer came back (empty, or with bytes already sent). */
void master_feed_returned(struct shard *sh, uint64_t id, struct buf *b);
void master_flushed(struct shard *sh, struct waiter *w);
void master_tick(struct shard *sh, int64_t now_ms);
void master_drop_replicas(struct shard *sh);
void failover_flushed(struct shard *sh);
void failover_tick(struct shard *sh, int64_t now_ms);
/* Make the replica whose PSYNC carries FAILOVER our master's successor. */
bool failover_accept(struct shard *sh, struct slice replid);

/* replica.c */
void replica_tick(struct shard *sh, int64_t now_ms);
void replica_stop(struct shard *sh);

#endif
