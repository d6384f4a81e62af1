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
struct shard_msg;
struct pending;

/* The runtime's own kinds of work. A module's messages carry their handler
 * and use kinds of their own (replication/repl_state.h). */
enum msg_kind {
    MSG_EXEC,        /* run cmd/argv here, reply into reply */
    MSG_EXPORT,      /* copies of the keys in argv into reply */
    MSG_APPLY,       /* apply the write records in payload */
    MSG_UNPAUSE,     /* any -> shard: a pause ended, run the held commands */
    MSG_GRACE,       /* any -> shard: answered between two commands (dispatch_free_later) */
};

/* Runs a module's message, at its target and again when it comes back home
 * (m->answered). */
typedef void msg_handler_fn(struct shard *sh, struct shard_msg *m);

struct shard_msg {
    struct shard_msg     *next;   /* overflow FIFO */
    int                   kind;   /* enum msg_kind, or the handler's own */
    msg_handler_fn       *handler; /* a module's message: runs it; NULL for the runtime's kinds */
    int                   home;   /* sender, who frees it */
    int                   target;
    int                   proto;
    int                   db;     /* EXEC, EXPORT, APPLY: the database they act on (SELECT's index) */
    uint64_t              caller_id;
    uint64_t              acl_user_id; /* the caller's ACL user (core/acl.h): scripts check their calls */
    uint8_t               tracking; /* EXEC: client_tracks() of the caller (core/client.h) */
    bool                  no_touch; /* EXEC: the caller said CLIENT NO-TOUCH */
    bool                  in_transaction; /* EXEC: sent by a transaction's EXEC: never held for
                                           * keys in flight (-TRYAGAIN), so no other client's
                                           * command runs between the transaction's */
    bool                  held;     /* EXEC: held for keys in flight at least once (counted) */
    bool                  counted_home; /* EXEC: a part or step of one command, counted once in
                                         * INFO commandstats by its home (pending.count_once) */
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
struct shard_msg *msg_create(int kind, int home, int target, struct pending *p,
                             int part, const struct slice *args, int argc);
void msg_free(struct shard_msg *m);
/* Queue m for shard `to` (its target for requests, its home for answers). */
void msg_post(struct shard *sh, struct shard_msg *m, int to);

/* Make what this shard posted visible to its targets and wake them (the
 * wakes go with the loop's next submit: loop_submit to send them before
 * it). Returns true if some messages did not fit and wait in the overflow. */
bool mail_publish(struct shard *sh);
/* Take every message posted to this shard and pass each to
 * dispatch_message, then publish what this shard posted this turn and wake
 * its targets. Returns true if more mail is already waiting. */
bool mail_exchange(struct shard *sh);
/* Is a message from another shard waiting (seq_cst: the sleep check)? */
bool mail_waiting(struct shard *sh);

#endif
