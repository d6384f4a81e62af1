/* blocking: clients blocked on keys until one of them gets elements (BLPOP,
 * BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP; the sorted sets' BZPOPMIN, BZPOPMAX,
 * BZMPOP use it the same way).
 *
 * Where a blocked client waits: a row flagged CMD_BLOCKING whose keys are
 * all on one shard is always sent to that shard as a message (even from
 * the shard itself, route.c), and the connection reads nothing more until
 * it is answered, as a blocked Redis client. Its handler first tries its
 * non-blocking form; when no key has anything, it calls blocking_wait,
 * which keeps the message on the keys' shard until:
 *  - a key it waits on gets elements: the shard's store reports every
 *    write of a collection (blocking_store_changed, from the store's hook:
 *    a push, but also RENAME, COPY, RESTORE, a cross-shard command's
 *    apply, a replica's stream), whatever the type; at the end of the
 *    shard's loop turn the module serves the clients blocked
 *    on that key in the order they blocked, each through the serve
 *    function its command gave (which runs the non-blocking form, e.g.
 *    LPOP key, as a command here: journaled as that command, after the
 *    push that woke it), until the key is empty again;
 *  - its timeout passes (checked every tick): the timeout reply;
 *  - CLIENT UNBLOCK id [TIMEOUT|ERROR]: the timeout reply or
 *    -UNBLOCKED client unblocked via CLIENT UNBLOCK;
 *  - its connection closes: the connection's shard tells every shard
 *    (blocking_client_gone), and the message is answered with nothing
 *    taken. If it was served in the meantime (the answer and the notice
 *    crossed), the serve function left the commands that give the
 *    elements back (blocking_undo), which the connection's shard sends to
 *    the keys' shard when the answer finds the connection gone: an element
 *    is never lost.
 * Keys on several shards (a row with a merge: BLPOP, BRPOP, BLMPOP): the command
 * goes to each of their shards as a part (route.c), every part with the
 * whole argument list (a shard finds only its own keys) and one shared
 * claim. A part takes elements only after winning the claim
 * (blocking_take: one atomic compare-and-swap), and the winner tells the
 * other shards, whose parts then answer null (the merge keeps the
 * winner's reply). So the first key to get elements, on whichever shard,
 * serves the client, and only once.
 * BLMOVE and BRPOPLPUSH with their keys on two shards wait as a BLPOP or
 * BRPOP of the source on its shard, then push to the destination on its
 * own (shards/blocking_move.c).
 * A blocking command that may not block (inside MULTI/EXEC) answers as its
 * non-blocking form with its timeout passed.
 *
 * Everything here runs on the keys' shard's thread; no locks. */
#ifndef RINGKV_BLOCKING_H
#define RINGKV_BLOCKING_H

#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/command.h"

struct shard;
struct shard_msg;

/* Try to serve the client blocked with message m now that key got
 * elements: write its whole reply to out (m->proto) and return true, or
 * return false with out untouched if there was nothing for it after all.
 * Runs on the keys' shard, between commands. */
typedef bool blocking_serve_fn(struct shard *sh, struct shard_msg *m, struct slice key, struct buf *out);

/* What a timeout (or CLIENT UNBLOCK TIMEOUT) answers. */
enum blocking_timeout_reply {
    BLOCKING_NULL_ARRAY, /* *-1 (BLPOP, BLMPOP, BZPOPMIN...) */
    BLOCKING_NULL_BULK,  /* $-1 (BLMOVE, BRPOPLPUSH) */
};

/* From a blocking command's handler when nothing can be served now: keep
 * ctx->msg and wait on keys[0..nkeys) (slices into the message's argv)
 * until deadline_ms (unix ms; 0 = forever). Returns false (nothing kept,
 * the handler answers its timeout reply now) if this command may not block
 * here. */
bool blocking_wait(struct exec_ctx *ctx, const struct slice *keys, int nkeys, int64_t deadline_ms,
                   blocking_serve_fn *serve, enum blocking_timeout_reply on_timeout);

/* Right after blocking_wait kept ctx->msg: bytes the serve function will
 * need that the arguments do not say (XREAD's `$`: the last ID when it
 * blocked), kept with the blocked client until it is answered. */
void blocking_set_state(struct exec_ctx *ctx, const void *p, size_t n);
/* From a serve function: the bytes its client's command kept (empty if
 * none). */
struct slice blocking_state(struct shard *sh);
/* From a serve function about to return false: the key has something, but
 * not for this client (XREAD waiting past an ID the new entries do not
 * reach); the clients after it are still offered the key. */
void blocking_pass(struct shard *sh);

/* The store's hook (shard.c): a collection written at a key someone
 * waits on makes it ready, and so does the key's deletion or a string
 * written over it (a blocked XREADGROUP is answered that its stream is
 * gone); nothing to do when nobody waits here. */
struct journal_record;
void blocking_store_changed(struct shard *sh, const struct journal_record *rec);
/* SWAPDB swapped databases a and b here: the clients blocked on keys of
 * either are offered their keys again (end of the turn). */
void blocking_dbs_swapped(struct shard *sh, int a, int b);
/* The same for a command that adds elements the store does not report
 * (none today). */
void blocking_key_ready(struct exec_ctx *ctx, struct slice key);

/* Before taking elements (a handler at once, or a serve function): false
 * when the command is a part of one over several shards and another part
 * took elements already; then answer the timeout reply instead. True
 * otherwise (and the other parts are told). */
bool blocking_take(struct shard *sh, struct shard_msg *m);

/* route.c: a claim shared by the parts of one command (msg->arg), and its
 * end once every part is back (handle_answer). */
void *blocking_claim_new(void);
void blocking_claim_free(void *claim);
/* A merge for rows whose parts block (BLPOP, BRPOP, BLMPOP): the part that took
 * elements, else the first error, else the first part (null). */
merge_fn merge_blocking;
/* CLIENT UNBLOCK's merge: :1 if any shard unblocked the client (the parts
 * of one command over several shards all answer 1), else :0; an error
 * part as it is. */
merge_fn merge_client_unblock;

/* From a serve function: run the row named argv[0] here as a command
 * (journaled as itself when its row says so), its reply appended to out
 * in protocol proto. */
void blocking_run(struct shard *sh, int argc, const struct slice *argv, struct buf *out, int proto);

/* From a serve function: the command that gives back what it took (run on
 * this shard if the client turns out to be gone), e.g. LPUSH key element. */
void blocking_undo(struct shard_msg *m, int argc, const struct slice *argv);

/* The connection's shard: a client whose command is out as a message may
 * be blocked somewhere; its connection closed. */
void blocking_client_gone(struct shard *sh, uint64_t client_id);
/* The connection's shard: m came back for a connection that is gone: give
 * back what its serve took, if anything. */
void blocking_answer_orphaned(struct shard *sh, struct shard_msg *m);

/* CLIENT UNBLOCK on this shard: true if client id was blocked here (then
 * answered: with its timeout reply, or the UNBLOCKED error). */
bool blocking_unblock(struct shard *sh, uint64_t id, bool as_error);

/* Clients blocked on this shard (INFO blocked_clients). */
size_t blocking_count(const struct shard *sh);

/* The shard module: serves ready keys at the end of each turn, times out
 * blocked clients every tick. Attached by main. */
struct shard_module;
extern const struct shard_module blocking_module;

#endif
