/* repl_state: the replication state shared by the files of replication/
 * (repl.c: per-shard stream and snapshots; master.c: replicas; replica.c:
 * the link to a master). Not for use outside replication/. */
#ifndef RINGKV_REPL_STATE_H
#define RINGKV_REPL_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/client.h"
#include "core/resp.h"
#include "replication/journal.h"
#include "replication/repl.h"
#include "shards/conn_owner.h"

#define REPLID_LEN 40

/* Replication's messages between shards (they carry repl_message as their
 * handler; shard 0 is the replication shard). */
enum repl_msg_kind {
    MSG_JOURNAL,     /* shard -> 0: new stream bytes in payload */
    MSG_REPL_ATTACH, /* H -> 0: a replica's PSYNC (argv: replid, offset, addr, port) */
    MSG_REPL_DETACH, /* H -> 0: that replica's connection is gone */
    MSG_REPL_ACK,    /* H -> 0: REPLCONF ACK value from replica caller_id */
    MSG_REPL_FEED,   /* 0 -> H: bytes in payload for replica client caller_id */
    MSG_SNAP_START,  /* 0 -> shard: start a snapshot for replica `arg` */
    MSG_SNAP_DATA,   /* shard -> 0: snapshot frames in payload */
    MSG_SNAP_DONE,   /* shard -> 0: that shard's snapshot is complete */
    MSG_REPL_APPLY,  /* 0 -> shard (replica): write records in payload */
    MSG_LOAD_BEGIN,  /* 0 -> shard (replica): new staging store for a full sync */
    MSG_LOAD_END,    /* 0 -> shard (replica): staging store becomes the store */
    MSG_LOAD_ABORT,  /* 0 -> shard (replica): drop the staging store */
    MSG_ROLE,        /* 0 -> shard: role changed (arg: 1 = replica) */
    MSG_FLUSH_JOURNAL, /* 0 -> shard: post your journal bytes now (WAIT) */
    MSG_APPLY_FENCE, /* 0 -> shard (replica): answered once the applies posted
                        before it are done (value: the fence's id) */
    MSG_REPL_EXPORT, /* 0 -> shard (replica): copies of the keys in argv, as the
                        store stands after the applies posted before it, in
                        payload (value: the cross-shard command's id, cross.c) */
};

/* MSG_REPL_ATTACH's value: on the way to shard 0, whether the replica said
 * REPLCONF capa ringkv (it loads our snapshot; anything else, a Redis
 * replica, is refused); on the way back, whether its shard closes the
 * connection once the refusal is sent. */
enum attach_value { ATTACH_FOREIGN = 0, ATTACH_RINGKV = 1, ATTACH_REFUSED_CLOSE = 2,
                   ATTACH_RDB_ONLY = 3, /* a foreign replica that asked for the RDB file only */
                   ATTACH_RDB_FUNCTIONS = 4 /* the same, with the function libraries only */ };
/* Or'ed into MSG_REPL_ATTACH's value: the replica sent SYNC, not PSYNC (no
 * +FULLRESYNC line before the file) */
#define ATTACH_OLD_SYNC 16

/* A replication message from this shard to shard `to` (kind: enum
 * repl_msg_kind), with repl_message as its handler. */
struct shard_msg *repl_msg_create(struct shard *sh, int kind, int to, const struct slice *args, int argc);

/* Frames of a full sync, not part of the offset. A key goes as
 * RKV.RESTORE key expire-at payload: its absolute expiry (unix ms, 0: none)
 * and its DUMP payload (shards/store/serialize.h), the one serialization of
 * an entry that DUMP, RESTORE and MIGRATE use too. RKV.LOAD key value
 * expire-at, the frame of earlier builds (strings only), is still read. */
#define FRAME_RESTORE "RKV.RESTORE"
#define FRAME_LOAD "RKV.LOAD"
#define FRAME_LOADDONE "RKV.LOADDONE"
/* A snapshot frame holding one command of a collection's rebuild
 * (journal_encode_collection): RKV.LOADCMD HSET key f v ... */
#define FRAME_LOADCMD "RKV.LOADCMD"
/* A snapshot frame choosing the database the next frames load into
 * (RKV.SELECT db): not part of the stream, as the other frames. Each
 * MSG_SNAP_DATA payload starts and ends in database 0, as the stream's
 * bytes of each shard do; a replica serving a full sync puts one ahead of
 * the stream it held if that stream is in another database. */
#define FRAME_SELECT "RKV.SELECT"

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

/* A big collection the snapshot has met and sends a slice at a time
 * (repl.c, snapshot_slices): its key, its type and where its own scan is
 * (a list's: the index of the next element). A list is one of the shard's
 * snap_keys_pending: a write to it sends its rest first
 * (repl_key_before_write). */
struct snap_pending {
    struct snap_pending *next;
    uint64_t             cursor;
    enum value_type      type;
    bool                 held;   /* one of sh->snap_keys_pending (a write to it sends its rest first) */
    int                  db;     /* the database the key is in */
    const void          *object; /* the live stream's (struct repl_shard's live): the collection journaled */
    size_t               part_elems; /* the elements of a part (repl.c part_elements, taken at its start) */
    size_t               klen;
    char                 key[];
};

/* A snapshot this shard is producing for one replica. */

struct snap {
    struct snap      *next;
    uint64_t          replica_id;
    uint64_t          cursor;
    bool              started;  /* the walk of db has begun: cursor 0 now means it is over */
    int               db;       /* the database walked (every one made here, by index) */
    int               frames_db; /* the database the frames being made are in */
    struct snap_pending *pending; /* big collections still being sent, oldest first */
    struct snap_pending **pending_tail;
    struct snap_flow *flow;
    /* on a replica, a snapshot that waits for the one running here: it
     * starts once the applies deferred before its start (the first `mark`
     * bytes of deferred_apply) are applied (repl.c, deferred applies) */
    bool              waiting;
    size_t            mark;
};

/* Stream buffers travel in messages and come back empty with the answer;
 * keeping one (up to this size) for the next turn saves growing a new one
 * every turn, which under load meant fresh pages and copies each time. */
#define SPARE_BUF_MAX (16u << 20)

/* MSG_JOURNAL's value: what the payload is. */
/* JOURNAL_MSG_CUT: an AOF rewrite's mark (repl_stream_cut): what the shard
 * sent before it goes to the old incr file, what it sends after to the new. */
/* JOURNAL_MSG_SYNC_CUT: a background save's mark for a Redis replica's
 * full sync (repl_sync_cut): a barrier without a record, where the saved
 * file's stream ends. */
enum journal_msg { JOURNAL_MSG_BYTES = 0, JOURNAL_MSG_BARRIER = 1, JOURNAL_MSG_CUT = 2, JOURNAL_MSG_SYNC_CUT = 3 };

struct stream_gate;

/* Per shard (struct shard's repl). */
struct repl_shard {
    struct buf    journal_out;  /* stream bytes of this turn, for shard 0 */
    /* the database journal_out's last command acts on: a SELECT goes
     * before a command of another, and journal_out is shipped back in
     * database 0 (a SELECT 0 at its end if need be), so that every shard's
     * bytes start in 0 wherever shard 0 puts them in the stream */
    int           journal_db;
    struct buf    journal_spare; /* an empty buffer come back from shard 0, for the next turn */
    uint64_t      journal_msgs;  /* MSG_JOURNALs of bytes or barriers sent shard 0, ever
                                    (the AOF's reply fences count them: repl_journal_mark) */
    struct snap  *snaps;
    /* big collections the live stream sends in parts (repl.c, live_parts:
     * a key given a big collection whole, a slot move's last part), oldest
     * first: DEL went first, then a part a turn; each is one of
     * snap_keys_pending (a write to it sends its rest first) */
    struct snap_pending *live;
    struct snap_pending **live_tail;
    /* MSG_FLUSH_JOURNAL requests (a WAIT's, a FAILOVER's) held while live
     * parts remain: answered once the last is shipped, so the offset they
     * fix covers every collection given whole before them (a slot move's
     * WAIT for its last part) */
    struct buf    flush_held;
    /* replica, full sync: the stores being loaded, one per database
     * (ndbs of them, made as something is written there), while loading */
    struct store **staging;
    bool          loading;
    /* the command running whose row journals it as itself (not its
     * effects), and the store records it made meanwhile (held back) */
    const struct command *journaling;
    int           held_records;
    struct buf    journal_form; /* the form its handler stated (exec_ctx.journal_as), encoded */
    struct buf    deferred_apply; /* replica making a snapshot: its master's writes, applied after it */
    _Atomic uint64_t applied_seq; /* replica: the last MSG_REPL_APPLY taken (its number; applied.c) */
    struct stream_gate *gate;   /* shard 0: node-wide records' barrier (repl.c) */
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
    struct rdb_feed *rdb;    /* an rdb-only replica's file (rdb_feed.c), else NULL */
};

/* A WAIT in progress (on shard 0). */
struct waiter {
    struct waiter    *next;
    struct shard_msg *msg;   /* the deferred MSG_EXEC, answered at the end */
    long long         numreplicas;
    int64_t           deadline_ms; /* 0: none */
    int               flushes;     /* FLUSH_JOURNAL answers still to come */
    bool              held;        /* flushed, but the stream gate holds some of
                                      those bytes: no target until it lets them go */
    uint64_t          target;      /* offset to reach once flushes == 0 and !held */
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
    struct conn_owner  owner;    /* first: the conn's owner (replica.c's link_ops) */
    struct client      client;   /* what CLIENT LIST shows of the link (flags=M) */
    struct conn       *conn;
    struct resp_parser parser;
    int                replies;  /* handshake replies still expected */
    bool               auth;
    struct buf        *apply;    /* per shard: what to apply there, sent each turn (apply_put_*) */
    size_t            *apply_open; /* per shard: offset of the open record segment's
                                      header in apply[i], or SIZE_MAX */
    int               *apply_db;   /* per shard: the database apply[i]'s next segment acts
                                      on ('D' segments; each batch starts and ends in 0) */
    struct ack_fence  *fences;   /* acknowledgements waiting for the shards, oldest first */
    /* per shard, the batches posted and not seen taken yet (applied.c) */
    struct applied_track *applied;
    uint64_t           post_from; /* the lowest offset whose writes the applies being queued carry */
    size_t             input_counted; /* bytes link_data left, counted already */
    unsigned long long turn;     /* the loop turn turn_bytes counts */
    size_t             turn_bytes; /* stream bytes taken in that turn */
    struct rdb_in     *rdb;      /* a Redis master's RDB file being read (rdb_load.c) */
    /* a MULTI of the stream: its stream bytes and applies are held until
     * its EXEC, so each shard applies its part at once and a cut link
     * leaves none of it (the offset stays before the MULTI, as Redis's) */
    bool               in_multi;
    int                multi_db;  /* the stream's database at its MULTI */
    struct buf         multi_raw;
    struct buf         multi_aof; /* its AOF form (replica_aof_form) */
    struct cross      *cross;    /* cross-shard commands under way, oldest first (cross.c) */
    int                ncross;
    uint64_t           cmd_before; /* our offset before the command being read */
    /* full syncs asked of us while crosses were under way (replica_hold_sync) */
    struct shard_msg **held_syncs;
    int                nheld_syncs;
};

/* The node's replication state, owned by shard 0. */
struct resolve;
struct repl {
    char            replid[REPLID_LEN + 1];
    char            replid2[REPLID_LEN + 1];
    int64_t         second_offset; /* -1 if none */
    struct journal *backlog;
    struct resolve *resolving;      /* the lookup of our master's name under way (net/resolve.h) */
    bool            backlog_active;
    struct replica *replicas;
    int             nreplicas;
    struct waiter  *waiters;
    uint64_t        sync_full, sync_partial_ok, sync_partial_err;
    uint64_t        fence_seq;      /* the last ack fence's id (replica.c) */
    uint64_t        apply_seq;      /* the last MSG_REPL_APPLY's number (applied.c) */
    int64_t         last_ping_ms;
    uint64_t        feed_since_ns;  /* the replicas' feeds are held since (0: not held) */
    /* FAILOVER (master side) */
    /* RECORDING: handed over, writes held until the cluster's table names
     * the new master (failover.c) */
    enum { FAILOVER_NONE, FAILOVER_WAIT_SYNC, FAILOVER_IN_PROGRESS, FAILOVER_RECORDING } failover;
    char            failover_host[256]; /* target, or "" for the first replica in sync */
    int             failover_port;
    bool            failover_force;
    int64_t         failover_deadline_ms; /* 0: none */
    int             failover_flushes;     /* FLUSH_JOURNAL answers still to come */
    bool            failover_held;        /* flushed; the stream gate holds bytes of it */
    uint64_t        failover_offset;      /* the offset the target must reach */
    bool            psync_failover;       /* our next PSYNC carries FAILOVER */
    /* part of the stream is not applied whole: a MULTI had part of it
     * applied before its EXEC (a cross-shard command in it, cross.c), or
     * the link ended while a cross-shard command it counted was under
     * way; continuing from our offset would apply a part twice or miss
     * one, so the next sync is a full one */
    bool            multi_partly_applied;
    /* replica side */
    /* the database the stream is in at journal_offset(backlog) (its last
     * SELECT): kept across links, as a Redis replica keeps its cached
     * master's; 0 at a full sync's start; a master's (not a replica's)
     * stream is in 0 between its shards' batches */
    int             stream_db;
    char            master_host[256];
    int             master_port;
    enum link_step  step;
    struct repl_link *link;
    int64_t         retry_at_ms;
    int             backoff_ms;
    int64_t         last_io_ms;
    int64_t         last_ack_ms;
    int64_t         link_down_since_ms;
    /* replicas that cannot load our snapshot (a Redis replica: no REPLCONF
     * capa ringkv), refused at PSYNC: how many, and when it was last logged
     * (at most once a minute) */
    uint64_t        sync_foreign_refused;
    int64_t         foreign_logged_ms;
};

struct repl *repl_of(struct shard *sh);          /* shard 0's state */
struct repl_shard *repl_shard_of(struct shard *sh);
void repl_new_replid(char out[REPLID_LEN + 1]);
/* DEBUG CHANGE-REPL-ID (the module's change_repl_id, shard 0). */
void repl_change_replid(struct shard *sh);
/* Tell every shard its role (passive stores on a replica). */
void repl_broadcast_role(struct shard *sh, bool replica);
/* Post a replication message of `kind` from sh to shard `to`. */
struct shard_msg *repl_post(struct shard *sh, int to, int kind, uint64_t value, void *arg,
                            struct buf *payload);

/* master.c */
void master_stream_bytes(struct shard *sh, const char *p, size_t n);
void master_stream_bytes_unpersisted(struct shard *sh, const char *p, size_t n);
/* The same for bytes of one shard's part (from: its id) or a node-wide
 * record (AOF_FROM_RECORD): the AOF tells them apart while a rewrite's cut
 * is under way (shards/aof.h). */
void master_stream_bytes_from(struct shard *sh, int from, const char *p, size_t n);
void master_attach(struct shard *sh, struct shard_msg *m);
/* A replica for the PSYNC message m (argv: replid, offset, ip, port), not
 * linked yet. */
struct replica *replica_new(struct shard *sh, const struct shard_msg *m);
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
/* Does the stream gate hold bytes back behind a node-wide record (repl.c)?
 * Those bytes are not in the backlog yet, so an offset read now is short of
 * the writes made before them. */
bool repl_gate_holds(struct shard *sh);
/* The gate let go of everything it held: the WAITs and the FAILOVER that
 * flushed meanwhile get their target offset now. */
void master_gate_released(struct shard *sh);
void master_tick(struct shard *sh, int64_t now_ms);
void master_drop_replicas(struct shard *sh);

/* rdb_feed.c: a replica that wants the RDB file only (REPLCONF rdb-only) */
struct rdb_feed;
void rdb_feed_attach(struct shard *sh, struct shard_msg *m, bool old_sync, bool functions_only);
/* End of shard 0's turn: read more of the file into x->feed as the pacing
 * allows; false once all of it is there (close x once it is sent). */
bool rdb_feed_produce(struct shard *sh, struct replica *x);
/* More of the file could go now (the loop must not sleep). */
bool rdb_feed_wants_turn(const struct replica *x);
void rdb_feed_free(struct rdb_feed *f);
/* A Redis replica's full sync (x not linked yet): an RDB file from a
 * background save that cuts the stream, then the stream from the cut.
 * false if no save could be awaited. */
bool rdb_feed_stream_start(struct shard *sh, struct replica *x, bool old_sync);
/* Is x's file followed by the stream? Once all of it is in x->feed: x
 * goes on with the stream held since the cut. */
bool rdb_feed_streams(const struct replica *x);
void rdb_feed_stream_on(struct shard *sh, struct replica *x);
/* At shard 0's park for a cutting save: the Redis replicas waiting for one
 * are this one's. Its cut reached (the gate, repl.c): at the offset now,
 * or none (ok false: a node-wide command's barrier crossed the marks). */
void rdb_feed_arm(struct shard *sh);
void master_sync_cut(struct shard *sh, bool ok);
void failover_flushed(struct shard *sh);
/* replica.c: shard 0 got back an ack fence (MSG_APPLY_FENCE) from a shard */
void replica_fence_passed(struct shard *sh, uint64_t id);
/* What INFO's slave_repl_offset and ROLE say on a replica: the offset the
 * shards have applied (the offset read while the link is not streaming). */
uint64_t replica_applied_offset(struct shard *sh);
/* applied.c: the number of a batch about to be posted to shard i (noted
 * with l->post_from); the offset applied, given the target (what is read,
 * or before a cross-shard command under way); the load's batches
 * forgotten at the end of a full sync; freed with the link. */
uint64_t applied_posting(struct shard *sh, struct repl_link *l, int i);
uint64_t applied_offset(struct shard *sh, struct repl_link *l, uint64_t target);
void applied_forget(struct repl_link *l, int nshards);
void applied_free(struct repl_link *l, int nshards);
void failover_gate_released(struct shard *sh);
void failover_tick(struct shard *sh, int64_t now_ms);
/* Make the replica whose PSYNC carries FAILOVER our master's successor. */
bool failover_accept(struct shard *sh, struct slice replid);

/* What a replica's shard 0 sends each shard to apply (MSG_REPL_APPLY), in
 * stream order: segments of [u8 kind][u32 length][bytes], kind 'R' for
 * write records (shards/scratch.h's form, applied by writes_apply) and 'C'
 * for one command run through its table row (u32 argc, then u32 length and
 * bytes per argument). *open: the open 'R' segment's header offset in b or
 * SIZE_MAX (consecutive records share a segment). repl.c. */
void apply_put_record(struct buf *b, size_t *open, const struct journal_record *rec);
void apply_put_command(struct buf *b, size_t *open, int argc, const struct slice *argv);

void apply_put_records(struct buf *b, size_t *open, const char *p, size_t n);
/* A 'D' segment: the segments after it act on database db (a batch starts
 * in database 0). */
void apply_put_db(struct buf *b, size_t *open, int db);
/* An 'S' segment: SWAPDB a b, this shard's part (the staging stores while
 * a full sync loads). */
void apply_put_swapdb(struct buf *b, size_t *open, int a, int b2);
/* An 'M' segment: MOVE key from the segment's database to database `to`
 * (a Redis master's MOVE: the value and its time go, if `to` lacks key). */
void apply_put_move(struct buf *b, size_t *open, struct slice key, int to);
/* An 'O' segment: a key of a Redis master's RDB (its RDB type byte and
 * body), decoded and stored by its owner. */
void apply_put_object(struct buf *b, size_t *open, struct slice key, int64_t expire_at_ms, unsigned type,
                      const char *body, size_t len);
/* An 'X' segment: an export request (MSG_REPL_EXPORT) held among deferred
 * applies, answered when reached. */
void apply_put_export(struct buf *b, size_t *open, struct shard_msg *m);

/* replica.c */
/* The next segment queued to shard i acts on database db: a 'D' segment
 * first if apply[i] is in another. */
void replica_apply_db(struct repl_link *l, int i, int db);
/* The database the stream is in at our offset (what a full sync served now
 * starts in): 0 on a master. */
int replica_stream_db(struct shard *sh);
void replica_tick(struct shard *sh, int64_t now_ms);
void replica_stop(struct shard *sh);
/* Post what is queued for each shard (held inside a MULTI unless force). */
void replica_post_applies(struct shard *sh, struct repl_link *l, bool force);
/* Bytes for our AOF standing for the stream's current command (held with
 * a transaction's until its EXEC). */
void replica_aof_form(struct shard *sh, struct repl_link *l, const char *p, size_t n);

/* rdb_load.c: a Redis master's RDB file, read as it arrives (shard 0) */
struct rdb_in;
enum rdb_in_status { RDB_IN_MORE, RDB_IN_DONE, RDB_IN_ERROR };
/* From the line after +FULLRESYNC ("$<len>" or "$EOF:<mark>", no CRLF);
 * NULL with err set if it is neither. */
struct rdb_in *rdb_in_start(struct shard *sh, const char *line, size_t len, char *err, size_t errlen);
/* Take what of p[0..n) is whole (budget: bytes to take at most this
 * call), each key queued to its owner in l->apply; *used: taken. DONE once
 * the file ended whole (what follows is the stream), ERROR with err. */
enum rdb_in_status rdb_in_data(struct shard *sh, struct repl_link *l, struct rdb_in *x, const char *p, size_t n,
                               size_t budget, size_t *used, char *err, size_t errlen);
uint64_t rdb_in_keys(const struct rdb_in *x);
/* The database the master's stream is in after the file (its AUX
 * repl-stream-db; 0 without). */
int rdb_in_stream_db(const struct rdb_in *x);
/* A record not whole yet: the input it waits for, counted from it (0: none). */
size_t rdb_in_wants(const struct rdb_in *x);
uint64_t rdb_in_bytes(const struct rdb_in *x);
/* The file's length ($<len>), or -1 (diskless: known at its end). */
int64_t rdb_in_total(const struct rdb_in *x);
/* The function libraries of the file: u32 length and code, each. */
const struct buf *rdb_in_libraries(const struct rdb_in *x);
void rdb_in_free(struct rdb_in *x);

/* cross.c: a stream command over keys of several shards here */
struct cross;
/* Start it: idx, owner: each key's argv index and shard; aof: our AOF
 * gets its effects (replica_aof_form); before: our offset before it.
 * What touches its keys must wait until it is done (cross_touches). */
#define CROSS_MAX 64
void cross_start(struct shard *sh, struct repl_link *l, const struct command *cmd, int argc,
                 const struct slice *argv, const int *idx, const int *owner, int nkeys, bool aof, uint64_t before);
/* Does a command of these keys meet one of the crosses under way (x: the
 * oldest)? */
bool cross_touches(const struct cross *x, const struct slice *keys, int nkeys);
/* The offset an ACK may say while x (the oldest under way) runs. */
uint64_t cross_ack_offset(const struct cross *x);
/* A MSG_REPL_EXPORT came back (frees m); the last of its command's: its
 * writes are queued and posted, and a paused link resumed. */
void cross_exported(struct shard *sh, struct shard_msg *m);
void cross_free(struct cross *x);
/* replica.c: a sync asked of us (PSYNC message m) waits while a cross-shard
 * command of our master's stream is under way (true: held, answered later
 * through master_attach); the last one done lets the held syncs begin. */
bool replica_hold_sync(struct shard *sh, struct shard_msg *m);
void replica_crosses_done(struct shard *sh, struct repl_link *l);

#endif
