/* The replication commands: REPLICAOF/SLAVEOF and ROLE (run on shard 0),
 * REPLCONF and PSYNC/SYNC (run on the connection's shard: they turn it into
 * a replica's link). WAIT is in master.c. */
#include "replication/repl_state.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"

void cmd_replicaof(struct exec_ctx *ctx)
{
    char err[160];
    if (slice_eq_nocase(ctx->argv[1], "no") && slice_eq_nocase(ctx->argv[2], "one")) {
        repl_set_master(ctx->shard, NULL, 0, err, sizeof(err));
        reply_ok(ctx->reply);
        return;
    }
    long long port;
    if (!parse_ll(ctx->argv[2], &port)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    char host[256];
    snprintf(host, sizeof(host), "%.*s", (int)ctx->argv[1].len, ctx->argv[1].ptr);
    int rc = repl_set_master(ctx->shard, host, (int)port, err, sizeof(err));
    if (rc < 0)
        reply_error(ctx->reply, err);
    else if (rc == 1)
        reply_simple(ctx->reply, "OK Already connected to specified master");
    else
        reply_ok(ctx->reply);
}

void cmd_role(struct exec_ctx *ctx)
{
    struct repl *r = repl_of(ctx->shard);
    uint64_t offset = journal_offset(r->backlog);
    if (!repl_is_replica(ctx->shard->node)) {
        reply_array(ctx->reply, 3);
        reply_bulk_str(ctx->reply, "master");
        reply_int(ctx->reply, (long long)offset);
        reply_array(ctx->reply, (size_t)r->nreplicas);
        for (struct replica *x = r->replicas; x; x = x->next) {
            char port[16], off[24];
            snprintf(port, sizeof(port), "%d", x->port);
            snprintf(off, sizeof(off), "%llu", (unsigned long long)x->ack_offset);
            reply_array(ctx->reply, 3);
            reply_bulk_str(ctx->reply, x->ip);
            reply_bulk_str(ctx->reply, port);
            reply_bulk_str(ctx->reply, off);
        }
        return;
    }
    static const char *const state[] = {
        [LINK_NONE] = "none", [LINK_CONNECT] = "connect", [LINK_CONNECTING] = "connecting",
        [LINK_HANDSHAKE] = "handshake", [LINK_TRANSFER] = "sync", [LINK_CONNECTED] = "connected",
    };
    reply_array(ctx->reply, 5);
    reply_bulk_str(ctx->reply, "slave");
    reply_bulk_str(ctx->reply, r->master_host);
    reply_int(ctx->reply, r->master_port);
    reply_bulk_str(ctx->reply, state[r->step]);
    reply_int(ctx->reply, r->step == LINK_CONNECTED ? (long long)replica_applied_offset(ctx->shard) : -1);
}

/* REPLCONF listening-port <port> | ip-address <ip> | capa <...> | ACK <offset>
 * | GETACK <*>, from a replica to us. */
void cmd_replconf(struct exec_ctx *ctx)
{
    struct client *c = ctx->client;
    if ((ctx->argc - 1) % 2 != 0) {
        reply_error(ctx->reply, "ERR syntax error");
        return;
    }
    for (int i = 1; i < ctx->argc; i += 2) {
        struct slice opt = ctx->argv[i], val = ctx->argv[i + 1];
        long long v;
        if (slice_eq_nocase(opt, "ack")) {
            if (c && c->is_replica && parse_ll(val, &v) && v >= 0) {
                struct shard_msg *m = repl_post(ctx->shard, 0, MSG_REPL_ACK, (uint64_t)v, NULL, NULL);
                m->caller_id = c->id;
            }
            return; /* no reply to an ACK */
        } else if (slice_eq_nocase(opt, "listening-port")) {
            if (!parse_ll(val, &v) || v < 0 || v > 65535) {
                reply_error(ctx->reply, "ERR value is out of range");
                return;
            }
            if (c)
                c->repl_port = (int)v;
        } else if (slice_eq_nocase(opt, "capa") && slice_eq_nocase(val, "ringkv")) {
            if (c)
                c->repl_ringkv = true; /* it loads our snapshot (master_attach) */
        } else if (slice_eq_nocase(opt, "rdb-only")) {
            if (!parse_ll(val, &v) || (v != 0 && v != 1)) {
                reply_error(ctx->reply, "ERR value is out of range, value must between 0 and 1");
                return;
            }
            if (c)
                c->repl_rdb_only = v == 1; /* SYNC then sends the RDB file alone (rdb_feed.c) */
        } else if (slice_eq_nocase(opt, "rdb-filter-only")) {
            /* "" or "functions" (redis-cli --functions-rdb: the function
             * libraries alone), as Redis 7.0 has them */
            bool functions = false;
            for (size_t at = 0; at < val.len;) {
                size_t end = at;
                while (end < val.len && val.ptr[end] != ' ')
                    end++;
                struct slice word = { val.ptr + at, end - at };
                if (slice_eq_nocase(word, "functions")) {
                    functions = true;
                } else if (word.len > 0) {
                    reply_errorf(ctx->reply, "ERR Unsupported rdb-filter-only option: %.*s", (int)word.len,
                                 word.ptr);
                    return;
                }
                at = end + 1;
            }
            if (c)
                c->repl_rdb_functions_only = functions;
        } else if (slice_eq_nocase(opt, "ip-address") || slice_eq_nocase(opt, "capa") ||
                   slice_eq_nocase(opt, "getack")) {
            /* accepted */
        } else {
            reply_errorf(ctx->reply, "ERR Unrecognized REPLCONF option: %.*s", (int)opt.len, opt.ptr);
            return;
        }
    }
    reply_ok(ctx->reply);
}

/* PSYNC replid offset (SYNC: a full sync): this connection becomes a
 * replica's. Shard 0 answers with +FULLRESYNC or +CONTINUE and the stream
 * follows; nothing is replied here. */
void cmd_psync(struct exec_ctx *ctx)
{
    struct client *c = ctx->client;
    if (!c) {
        reply_error(ctx->reply, "ERR PSYNC must come from a client connection");
        return;
    }
    if (c->is_replica) {
        reply_error(ctx->reply, "ERR Replica already synchronizing");
        return;
    }
    struct slice argv[5];
    bool sync = ctx->argc == 1;
    bool failover = ctx->argc > 3 && slice_eq_nocase(ctx->argv[3], "failover");
    argv[0] = sync ? SLICE_LIT("?") : ctx->argv[1];
    argv[1] = sync ? SLICE_LIT("-1") : ctx->argv[2];
    char ip[64], port[16];
    snprintf(ip, sizeof(ip), "%s", c->addr);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = '\0';
    snprintf(port, sizeof(port), "%d", c->repl_port);
    argv[2] = (struct slice){ ip, strlen(ip) };
    argv[3] = (struct slice){ port, strlen(port) };
    c->is_replica = true;
    static const struct replica_feed_ops feed_ops = {
        .sent = repl_replica_sent,
        .closed = repl_replica_client_closed,
    };
    shard_replica_register(ctx->shard, c, &feed_ops);
    argv[4] = SLICE_LIT("FAILOVER");
    struct shard_msg *m = repl_msg_create(ctx->shard, MSG_REPL_ATTACH, 0, argv, failover ? 5 : 4);
    m->caller_id = c->id;
    m->value = c->repl_ringkv                                          ? ATTACH_RINGKV
               : c->repl_rdb_only && c->repl_rdb_functions_only         ? ATTACH_RDB_FUNCTIONS
               : c->repl_rdb_only                                      ? ATTACH_RDB_ONLY
                                                                       : ATTACH_FOREIGN;
    if (sync)
        m->value |= ATTACH_OLD_SYNC;
    msg_post(ctx->shard, m, 0);
}

void repl_replica_client_closed(struct shard *sh, struct client *c)
{
    shard_replica_unregister(sh, c);
    snap_flow_unref(c->repl_flow);
    c->repl_flow = NULL;
    repl_post(sh, 0, MSG_REPL_DETACH, c->id, NULL, NULL);
}
