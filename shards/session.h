/* session: the protocol side of one client connection, and its ordered
 * reply queue. Private to the dispatcher's files (dispatch.c, route.c, run.c,
 * reply_queue.c, prefetch.c, clients.c, watched.c).
 *
 * A reply that cannot be written at once (it waits on other shards) takes a
 * place in the queue; replies behind it wait there too, so a pipeline's
 * replies go out in request order. The ready prefix of the queue moves to
 * the connection's output as soon as it is complete. */
#ifndef RINGKV_SESSION_H
#define RINGKV_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include "core/buf.h"
#include "core/client.h"
#include "core/command.h"
#include "core/resp.h"
#include "net/loop.h"
#include "shards/subscriptions.h"
#include "shards/conn_owner.h"

struct shard;
struct shard_msg;
struct node;

/* The most replies a connection may have waiting on other shards, and the
 * most unsent output, before its input stops being read. */
#define MAX_PENDING 4096

enum pending_stage {
    STAGE_READY,   /* out holds the reply */
    STAGE_EXEC,    /* waiting for one shard's reply (lands in out) */
    STAGE_MERGE,   /* waiting for parts, then cmd->merge */
    STAGE_EXPORT,  /* scratch: waiting for copies of the keys */
    STAGE_APPLY,   /* scratch: waiting for owners to apply the writes */
    STAGE_LAUNCH,  /* waiting for the replies before it, then sent (CMD_SHARD0) */
    /* BLMOVE over two shards (blocking_move.c): the source's blocking pop,
     * the push to the destination, the element given back to the source */
    STAGE_MOVE_POP,
    STAGE_MOVE_PUSH,
    STAGE_MOVE_BACK,
};

struct session;

/* One reply in a connection's reply queue. */
struct pending {
    struct pending        *next;
    struct session        *session;
    enum pending_stage     stage;
    int                    waiting;     /* messages not back yet */
    struct buf             out;
    const struct command  *cmd;
    int                    nparts;
    struct buf            *parts;
    int                   *part_of_key;
    int                    nkeys;
    /* scratch commands: a copy of the command, run once the keys are here */
    int                    argc;
    struct slice          *argv;
    void                  *argv_mem;    /* the allocation argv lives in */
    int                   *part_shard;  /* shard of each part */
    struct shard_msg      *launch;      /* STAGE_LAUNCH: the message to send */
    /* CMD_HOLD_LATER (and scratch commands, blocking steps): the session
     * reads and runs nothing more until this is in */
    bool                   holds;
    /* CMD_ALL_SHARDS, and a split command while the slow log is on (its
     * argv kept then): logged once in the slow log, with the time of all
     * parts */
    bool                   log_once;
    /* parts on several shards (or steps) of one command: the shards that
     * run them do not count them; the connection's shard counts the command
     * once (calls, the parts' time, failed if its reply is an error) when
     * it is done (dispatch_count_once) */
    bool                   count_once;
    /* the reply of a command run under CLIENT REPLY OFF/SKIP: dropped when
     * it reaches the head of the queue instead of being sent */
    bool                   muted;
    uint64_t               usec;
    int                    db;          /* the connection's database when the command came */
};

struct session {
    struct conn_owner   owner;    /* first: a client's ops, or a replica feed's (clients.c) */
    struct conn        *conn;
    const struct replica_feed_ops *feed; /* a replica's feed (after PSYNC), else NULL */     /* NULL once the connection is closed */
    struct shard       *shard;
    struct client       client;
    struct resp_parser  parser;
    size_t              input_counted; /* bytes session_data left unconsumed, counted in
                                          net_input_bytes already (given again next time) */
    struct pending     *head, *tail;
    int                 npending;
    int                 inflight; /* messages out for this session */
    bool                blocked;  /* a scratch command runs: read nothing more */
    const struct command *last_cmd; /* the row client.last_cmd names */
    struct pubsub      *pubsub;   /* channels and patterns, NULL if none (subscriptions.h) */
    bool                monitor;  /* sent MONITOR: receives the node's commands (monitor.h) */
    int64_t             obuf_soft_since_ms; /* a subscriber over the soft output limit since (0: not) */
    /* MULTI: the queued commands, as the RESP bytes they arrived in */
    bool                in_multi;
    bool                multi_dirty; /* a command was refused while queuing: EXEC aborts */
    int                 multi_count;
    struct buf          multi_cmds;
    bool                backpressured;
    /* CLIENT REPLY: the command being run now has its reply dropped (set
     * around each command by dispatch_execute); an EXEC keeps its own
     * verdict for the commands it replays */
    bool                muting;
    bool                exec_muted;
    bool                multi_writes; /* a queued command is a write (EXEC is one) */
    bool                multi_denyoom; /* a queued command may add memory (EXEC may) */
    /* cluster mode: the slot of the first queued command with keys (-1:
     * none yet), and whether a later one had keys of another slot (EXEC
     * answers -CROSSSLOT, as Redis checks the whole queue) */
    int                 multi_slot;
    bool                multi_crossslot;
    bool                in_exec;      /* EXEC replays the queue */
    /* EXEC's queue being replayed and how far it got: the replay stops while
     * a scratch command runs (blocked) and goes on when that is done */
    struct buf          exec_cmds;
    size_t              exec_used;
    bool                replaying;    /* replay_continue is on the stack */
    /* a command held by a pause (pause.c): a copy, run when the pause ends;
     * nothing after it is read until then */
    struct shard_msg   *held;
    const struct command *held_cmd;
    /* WATCH: copies of the keys the client watches, each a uint64_t length
     * then its bytes, once each; their shards hold the watches (watch.h).
     * watched_index finds a key among them (open addressing: its offset in
     * watched + 1, 0 for a free slot; watched_slots a power of two). */
    struct buf          watched;
    int                 nwatched;
    size_t             *watched_index;
    uint32_t            watched_slots;
};

/* The session owning c (a client's connection or a replica's feed: never
 * called on other owners' connections, whose events do not reach
 * the session's ops). */
static inline struct session *session_of_conn(const struct conn *c)
{
    return (struct session *)c->owner;
}

/* The session a client belongs to (commands get the client). */
static inline struct session *session_of_client(struct client *c)
{
    return (struct session *)((char *)c - offsetof(struct session, client));
}

/* Pub/sub subscriptions: shards/subscriptions.h. */

/* Pauses (pause.c): is anything paused on the node; would cmd be held now;
 * hold it (a copy) and stop reading the connection; run the held commands
 * whose pause is over; forget a closing session's held command. */
bool pause_any(const struct node *n);
bool pause_holds(struct shard *sh, const struct session *s, const struct command *cmd);
void pause_hold(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                const struct slice *argv);
void pause_session_end(struct shard *sh, struct session *s);
/* Run a command a pause held, then read the connection again. */
void dispatch_run_held(struct shard *sh, struct session *s, int argc, const struct slice *argv);

/* Transactions (transaction.c): leave MULTI, forgetting the queued
 * commands and the watched keys (DISCARD, EXEC, RESET). */
void multi_session_end(struct session *s);

/* WATCH (watched.c). The session remembers the keys of a WATCH as it is
 * routed to their shards, where they are watched; it forgets them all
 * (UNWATCH, EXEC, DISCARD, RESET, the connection closing): at once here,
 * by a message on another shard, in order with its later requests there. */
void session_watch(struct session *s, int argc, const struct slice *argv);
void session_unwatch(struct session *s);
/* EXEC of a session that watches keys (cmds: its queue of count commands,
 * taken over; the session has passed EXEC's other checks, and leaves
 * MULTI here). The watched keys and the commands all on this shard: the
 * check, then the commands, back to back here. All on one other shard:
 * the whole transaction goes there as one message, checked and run there
 * back to back. Over several shards: checked and held on each, then run
 * (key_locks.h); refused if a command spans shards itself or needs the
 * connection (README, Transactions). The answer: EXEC's array, or a null
 * array if a watched key changed (or another such transaction held one). */
struct reply;
void dispatch_exec_watched(struct shard *sh, struct session *s, struct buf *cmds, int count, struct reply *r,
                           struct slice exec);
/* Why EXEC may not run the session's queue now (route.c): the node
 * refuses writes (READONLY, NOREPLICAS) and the queue has one, or this
 * shard is over maxmemory and the queue may add memory; NULL if it may. */
const char *dispatch_exec_refusal(struct shard *sh, const struct session *s);

/* Run the commands of an EXEC (cmds: queued RESP, taken over and left
 * empty), in order, as if they had just arrived. A command after a scratch
 * command (keys over several shards, not splittable) runs once that one is
 * complete, as it would after it in a pipeline; the connection reads
 * nothing more until the whole queue has run. */
void dispatch_replay(struct shard *sh, struct session *s, struct buf *cmds);

/* The session's connection events (its owner ops, clients.c): input,
 * output drained. */
size_t session_data(struct shard *sh, struct conn *c, const char *p, size_t n);
void session_sent(struct shard *sh, struct conn *c);
/* Where a push (a pub/sub message) goes so that it leaves after the replies
 * still queued before it: the connection's output when nothing is queued,
 * else a ready entry at the queue's tail. */
struct buf *session_push_target(struct session *s);
/* CLIENT REPLY ON: the command running now is answered after all; returns
 * where its reply goes. */
struct buf *session_reply_unmute(struct client *c);
/* Bytes waiting to go to the client: unsent output and replies queued (a
 * subscriber's pushes held behind a reply included). */
size_t session_output_bytes(const struct session *s);

/* Release a session whose connection is gone and whose messages are all back. */
void session_free(struct session *s);
/* Read input again if the limits that paused it (pending replies, unsent
 * output) are no longer exceeded. */
void session_maybe_unpause(struct session *s);
/* Move the ready prefix of the reply queue to the connection's output. */
void session_drain(struct session *s);

#endif
