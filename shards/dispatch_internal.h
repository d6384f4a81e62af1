/* dispatch_internal: what the dispatcher's files (dispatch.c, route.c,
 * run.c, reply_queue.c, prefetch.c, watched.c) share. Private to them. */
#ifndef RINGKV_DISPATCH_INTERNAL_H
#define RINGKV_DISPATCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/command.h"
#include "shards/session.h"

struct shard;
struct store;
struct shard_msg;

/* ---- reply_queue.c ---- */

/* A new entry at the tail of the session's reply queue. */
struct pending *session_pending_add(struct session *s, enum pending_stage stage);

/* p keeps a copy of the command (p->argc, p->argv; freed with p): the
 * connection's input moves on while p's steps still name its arguments. */
void pending_keep_command(struct shard *sh, struct pending *p, int argc, const struct slice *argv);

/* Where the reply of a command run now goes: straight to the output when
 * nothing waits ahead of it, else to a ready entry at the queue's tail. */
struct buf *session_reply_target(struct session *s);

/* An error reply, in its place (the output or the queue's tail). */
void session_reply_error(struct session *s, const char *err);

/* Redis's unknown-command error for argv, in its place. */
void session_unknown_command(struct session *s, int argc, const struct slice *argv);

/* ---- run.c ---- */

/* The slow log: a command of `client` that ran for usec goes into this
 * shard's log if it is slow, with the next id of the node's one sequence.
 * Called on the connection's shard, wherever the command ran (the time
 * comes back in the answer), so the client's addr and name are at hand. */
void dispatch_slow_record(struct shard *sh, uint64_t usec, int argc, const struct slice *argv,
                          const struct client *client);

/* Run cmd here for the session's client; returns how long it ran. */
uint64_t dispatch_run_command(struct shard *sh, struct store *store, const struct command *cmd,
                              int argc, const struct slice *argv, struct buf *out, int proto,
                              struct client *client, uint64_t caller_id);

/* Run cmd here as one part of a command that is counted once, on its
 * connection's shard, when all of it is done (INFO commandstats and
 * latencystats: pending.count_once), or as a step a blocked command takes
 * when served (its row counted when it came). Returns how long it ran. */
uint64_t dispatch_run_uncounted(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv,
                                struct buf *out, int proto, struct client *client, uint64_t caller_id);

/* Run cmd here as part of a transaction another shard sent whole (msg:
 * its message, for the caller's id, protocol and tracking; never kept, so
 * cmd must not be a row that keeps its message: no CMD_SHARD0 row, and
 * msg->value is not blocking.c's "may block"). A command of keys a
 * MIGRATE has in flight answers -TRYAGAIN in its place, as in a replayed
 * EXEC. Returns how long it ran. */
uint64_t dispatch_run_shipped(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv,
                              struct buf *out, struct shard_msg *msg);

/* Run cmd here for the session's client, its reply to the connection, and
 * log it if it was slow. A write of keys a MIGRATE has in flight here
 * waits (dispatch.h, dispatch_key_waits_wake): it goes to this shard's own
 * mailbox as a request, to wait there like one from another shard, and
 * the connection's later commands wait for it (the pending entry holds
 * them, as after MIGRATE itself). */
void dispatch_run_here(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                       const struct slice *argv);

/* A message of a connection (one with its own handler: caller_id and
 * home set) that must not overtake the connection's request held here for
 * keys in flight (dispatch.h, KEY_WAIT_MAX_MS): true if one is, and m now
 * waits behind it, its handler called again when its turn comes. */
bool dispatch_request_waits(struct shard *sh, struct shard_msg *m);

/* Post a request for the session to its target and count it in flight. */
void dispatch_send_request(struct shard *sh, struct session *s, struct shard_msg *m);
/* The same, the message acting on database db (not the command's). */
void dispatch_send_request_in(struct shard *sh, struct session *s, struct shard_msg *m, int db);

/* Send a pending command that waited for the ones before it. */
void pending_launch(struct shard *sh, struct pending *p);

/* A pending entry got its last answer. */
void pending_complete(struct shard *sh, struct pending *p);

/* One of p's answers is in (its message freed): complete p if it was the
 * last, then send what is ready, or free the session if its connection
 * has closed and nothing else is out. */
void pending_answered(struct shard *sh, struct pending *p);

/* ---- route.c ---- */

/* Run EXEC's queue from where it stopped until it ends or a scratch
 * command blocks the session (pending_complete calls this again when that
 * command is done). A call made while an outer one is looping (a scratch
 * command complete at once) leaves the rest to the outer one. */
void dispatch_replay_continue(struct shard *sh, struct session *s);

/* The command path: look argv up, check it, and run or route it. */
void dispatch_execute(struct shard *sh, struct session *s, int argc, const struct slice *argv);

/* Cluster mode: the key gate's refusal of cmd's keys for this session now
 * (-MOVED, -ASK, -CROSSSLOT... written in text), or NULL if it passes (or
 * the node has no gate, or cmd no keys). Answers nothing. */
const char *dispatch_key_gate_refusal(struct shard *sh, const struct session *s, const struct command *cmd,
                                      int argc, const struct slice *argv, char *text, size_t cap);

/* ---- prefetch.c ---- */

/* Prefetch the store entries the next commands of p[0..n) will touch. */
void dispatch_prefetch_pipeline(struct shard *sh, const char *p, size_t n);

#endif
