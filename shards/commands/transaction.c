/* transaction: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
 *
 * MULTI makes the connection queue its commands (each checked for existence
 * and arity, answered +QUEUED) as the RESP bytes they arrived in; EXEC
 * replies an array and runs them, in order, through the ordinary dispatcher,
 * so each reply lands in its place in the array (dispatch_replay: a command
 * after one that runs on copies of keys from several shards waits for it,
 * as in a pipeline). Atomicity: commands whose
 * keys are all on the connection's shard run back to back without anything
 * in between; commands for another shard go there in one batch and run back
 * to back there too; a transaction that spans shards is not isolated from
 * other clients between its shards (README, Guarantees).
 *
 * WATCH is routed to its keys' shards, where cmd_watch enters them in the
 * shard's watch table (shards/watch.h); the session remembers them, and
 * EXEC of a session that watches keys is shards/watched.c's. */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/reply.h"
#include "shards/commands/commands.h"
#include "shards/node.h"
#include "shards/session.h"
#include "shards/shard.h"
#include "shards/store/store.h"
#include "shards/watch.h"

static struct session *tx_session(struct exec_ctx *ctx)
{
    return ctx->client ? session_of_client(ctx->client) : NULL;
}

void cmd_multi(struct exec_ctx *ctx)
{
    struct session *s = tx_session(ctx);
    if (!s) {
        reply_error(ctx->reply, "ERR MULTI needs a client connection");
        return;
    }
    if (s->in_multi) {
        reply_error(ctx->reply, "ERR MULTI calls can not be nested");
        return;
    }
    s->in_multi = true;
    s->multi_dirty = false;
    s->multi_writes = false;
    s->multi_denyoom = false;
    s->multi_count = 0;
    buf_clear(&s->multi_cmds);
    reply_ok(ctx->reply);
}

void multi_session_end(struct session *s)
{
    session_unwatch(s); /* Redis: a transaction's end forgets the watches too */
    s->in_multi = false;
    s->multi_dirty = false;
    s->multi_writes = false;
    s->multi_denyoom = false;
    s->multi_count = 0;
    buf_free(&s->multi_cmds);
}

void cmd_discard(struct exec_ctx *ctx)
{
    struct session *s = tx_session(ctx);
    if (!s || !s->in_multi) {
        reply_error(ctx->reply, "ERR DISCARD without MULTI");
        return;
    }
    multi_session_end(s);
    reply_ok(ctx->reply);
}

void cmd_exec(struct exec_ctx *ctx)
{
    struct session *s = tx_session(ctx);
    if (!s || !s->in_multi) {
        reply_error(ctx->reply, "ERR EXEC without MULTI");
        return;
    }
    if (s->multi_dirty) {
        multi_session_end(s);
        reply_error(ctx->reply, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    /* the node may have changed since the commands were queued (a
     * REPLICAOF, CONFIG SET from another client): Redis refuses EXEC whole */
    const char *refused = dispatch_exec_refusal(ctx->shard, s);
    if (refused) {
        multi_session_end(s);
        reply_errorf(ctx->reply, "EXECABORT Transaction discarded because of: %s", refused);
        return;
    }
    struct buf cmds = s->multi_cmds;
    int count = s->multi_count;
    buf_init(&s->multi_cmds);
    if (s->nwatched > 0) {
        dispatch_exec_watched(ctx->shard, s, &cmds, count, ctx->reply, ctx->argv[0]);
        buf_free(&cmds);
        return;
    }
    multi_session_end(s);
    reply_array(ctx->reply, (size_t)count);
    dispatch_replay(ctx->shard, s, &cmds);
}

/* On the keys' shard (route.c split the command per shard and remembered
 * the keys in the session): each key is watched by the caller from now on,
 * noting whether it is live, so that one that expires before the EXEC
 * counts as changed and one that had expired already does not. */
void cmd_watch(struct exec_ctx *ctx)
{
    if (ctx->store != ctx->shard->store) {
        reply_error(ctx->reply, "ERR WATCH needs the keys' own shard");
        return; /* cannot happen: WATCH is split per shard, never run on copies */
    }
    for (int i = 1; i < ctx->argc; i++)
        watch_add(ctx->shard, ctx->shard->db, ctx->argv[i], ctx->caller_id,
                  store_peek(ctx->store, ctx->argv[i], ctx->now_ms) != NULL);
    reply_ok(ctx->reply);
}

void cmd_unwatch(struct exec_ctx *ctx)
{
    struct session *s = tx_session(ctx);
    if (s)
        session_unwatch(s);
    reply_ok(ctx->reply);
}
