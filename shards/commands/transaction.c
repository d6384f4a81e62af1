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
 * other clients between its shards (README, Guarantees). WATCH is not
 * supported yet and says so. */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/reply.h"
#include "shards/commands/commands.h"
#include "shards/node.h"
#include "shards/session.h"
#include "shards/shard.h"

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
    multi_session_end(s);
    reply_array(ctx->reply, (size_t)count);
    dispatch_replay(ctx->shard, s, &cmds);
}

void cmd_watch(struct exec_ctx *ctx)
{
    struct session *s = tx_session(ctx);
    if (s && s->in_multi) {
        reply_error(ctx->reply, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    reply_error(ctx->reply, "ERR WATCH is not supported by ringkv yet");
}

void cmd_unwatch(struct exec_ctx *ctx)
{
    reply_ok(ctx->reply); /* nothing is ever watched */
}
