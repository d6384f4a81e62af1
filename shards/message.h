/* message: work one shard asks of another, carried through the mailboxes
 * (shards/mailbox.h). A message is allocated by the shard that sends it (its
 * home), travels to the target, is answered in place, travels back, and is
 * freed by its home. Everything a shard posts in one loop turn is published
 * in one batch at the end of the turn, and a sleeping target is woken
 * through its ring. */
#ifndef RINGKV_MESSAGE_H
#define RINGKV_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/command.h"

struct shard;
struct pending;

enum msg_kind {
    MSG_EXEC,        /* run cmd/argv here, reply into reply */
    MSG_EXPORT,      /* copies of the keys in argv into reply */
    MSG_APPLY,       /* apply the write records in payload */
    /* replication (replication/repl.h); shard 0 is the replication shard */
    MSG_UNPAUSE,     /* any -> shard: a pause ended, run the held commands */
    MSG_GRACE,       /* any -> shard: answered between two commands (dispatch_free_later) */
    MSG_REPL_FIRST,
    MSG_JOURNAL = MSG_REPL_FIRST, /* shard -> 0: new stream bytes in payload */
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
};

struct shard_msg {
    struct shard_msg     *next;   /* overflow FIFO */
    enum msg_kind         kind;
    int                   home;   /* sender, who frees it */
    int                   target;
    int                   proto;
    uint64_t              caller_id;
    struct pending       *pending;
    int                   part;   /* index into pending->parts, or -1 */
    const struct command *cmd;
    int                   argc;   /* EXEC: the command; EXPORT: the keys */
    struct slice         *argv;
    struct buf            payload; /* APPLY: the records */
    struct buf            reply;   /* written by the target */
    void                 *arg;     /* kind-specific */
    uint64_t              value;   /* kind-specific */
    size_t                paced;   /* REPL_FEED: snapshot bytes in payload (flow.c) */
    uint64_t              usec;    /* EXEC answer: how long the command ran (the
                                      caller's shard keeps the slow log) */
    bool                  answered; /* on its way back home */
};

/* A message carrying a copy of args[0..argc). */
struct shard_msg *msg_create(enum msg_kind kind, int home, int target, struct pending *p,
                             int part, const struct slice *args, int argc);
void msg_free(struct shard_msg *m);
/* Queue m for shard `to` (its target for requests, its home for answers). */
void msg_post(struct shard *sh, struct shard_msg *m, int to);

/* Take every message posted to this shard and pass each to
 * dispatch_message, then publish what this shard posted this turn and wake
 * its targets. Returns true if more mail is already waiting. */
bool mail_exchange(struct shard *sh);
/* Is a message from another shard waiting (seq_cst: the sleep check)? */
bool mail_waiting(struct shard *sh);

#endif
