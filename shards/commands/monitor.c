/* monitor: the MONITOR command. The stream itself is the runtime's
 * (shards/monitor.h); this turns the connection into a monitor, as Redis
 * does: +OK, then a line per command the node runs. */
#include "core/reply.h"
#include "shards/commands/commands.h"
#include "shards/monitor.h"
#include "shards/session.h"

void cmd_monitor(struct exec_ctx *ctx)
{
    if (!ctx->client) {
        reply_error(ctx->reply, "ERR MONITOR needs a client connection");
        return;
    }
    struct session *s = session_of_client(ctx->client);
    if (s->in_exec) {
        /* Redis: EXEC expects one reply per command, a monitor gets many */
        reply_error(ctx->reply, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (monitor_is(s))
        return; /* already one: Redis ignores it, without a reply */
    reply_ok(ctx->reply);
    monitor_start(ctx->shard, s);
}
