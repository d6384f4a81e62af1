/* failover: FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], Redis 6.2's
 * coordinated hand-over, on shard 0.
 *
 * 1. The master pauses writes as CLIENT PAUSE WRITE does (pause.c: a
 *    client's write waits, reads go on) and makes every shard post the
 *    stream bytes of the writes it already did; that fixes the offset the
 *    target must reach.
 * 2. When the target (or, without TO, the first replica) has acknowledged
 *    that offset, the master becomes a replica of the target and asks it
 *    PSYNC <replid> <offset+1> FAILOVER.
 * 3. The target, seeing FAILOVER from its own master with its own replid,
 *    promotes itself (new replid, the old one kept as replid2) and accepts the
 *    PSYNC as a partial resync. Nothing acknowledged is lost.
 * A TIMEOUT without FORCE gives up and the held writes run on this master;
 * with FORCE and TO the hand-over goes on anyway. After a hand-over the held
 * writes get -READONLY, as in Redis; in a cluster (node->role_recorded)
 * they stay held until the table names the new master (at most
 * FAILOVER_RECORD_MS) and then get -MOVED to it, as Redis Cluster's old
 * master answers after CLUSTER FAILOVER. */
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

/* How long a cluster node's writes wait after its hand-over for the table
 * to name the new master (it is pulled within PEER_FAST_MS of the new
 * master's recording itself; a peer is given up after 2 s). */
#define FAILOVER_RECORD_MS 2000

static void failover_end(struct shard *sh, const char *why)
{
    struct repl *r = repl_of(sh);
    r->failover = FAILOVER_NONE;
    atomic_store(&sh->node->repl_writes_paused, 0);
    pause_wake_all(sh); /* held writes run, on the master still */
    if (why)
        log_notice("FAILOVER aborted: %s", why);
}

static struct replica *target_replica(struct repl *r)
{
    for (struct replica *x = r->replicas; x; x = x->next) {
        if (!x->online)
            continue;
        if (!r->failover_host[0]) {
            if (x->ack_offset >= r->failover_offset)
                return x;
            continue;
        }
        if (x->port == r->failover_port && strcmp(x->ip, r->failover_host) == 0)
            return x;
    }
    return NULL;
}

/* We are a replica now: held writes and new ones get -READONLY (or, in a
 * cluster whose table names the new master, -MOVED to it). */
static void hand_over_done(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    atomic_store(&sh->node->repl_writes_paused, 0);
    pause_wake_all(sh);
    r->failover = FAILOVER_NONE;
}

static void hand_over(struct shard *sh, const char *host, int port)
{
    struct repl *r = repl_of(sh);
    char err[160];
    r->failover = FAILOVER_IN_PROGRESS;
    log_notice("FAILOVER: handing over to %s:%d", host, port);
    if (repl_set_master(sh, host, port, err, sizeof(err)) < 0) {
        failover_end(sh, err);
        return;
    }
    r->psync_failover = true;
    const struct node *n = sh->node;
    if (n->role_recorded && !n->role_recorded(n)) {
        /* a cluster names this node its group's master until the new
         * master's record arrives: writes stay held until then (they get
         * -MOVED to it), for a bounded time (failover_tick) */
        r->failover = FAILOVER_RECORDING;
        r->failover_deadline_ms = shard_now_ms(sh) + FAILOVER_RECORD_MS;
        return;
    }
    hand_over_done(sh);
}

static void stream_complete(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    /* The target must have everything, the GETACK included: the old
     * master asks to continue from its own end of the stream, and a byte
     * the target never got (dropped with the link at the hand-over) would
     * make that a full resync. The GETACK makes the target answer at once. */
    master_stream_bytes_unpersisted(sh, "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n",
                        strlen("*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"));
    r->failover_offset = journal_offset(r->backlog);
    failover_tick(sh, shard_now_ms(sh));
}

/* Every shard has sent its stream bytes; if the gate holds some back (a
 * FLUSHALL's barrier not passed by every shard), the end of the stream is
 * known only once it lets them go (master_flushed says why). */
void failover_flushed(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    if (r->failover != FAILOVER_WAIT_SYNC || --r->failover_flushes > 0)
        return;
    if (repl_gate_holds(sh)) {
        r->failover_held = true;
        return;
    }
    stream_complete(sh);
}

void failover_gate_released(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    if (!r->failover_held)
        return;
    r->failover_held = false;
    if (r->failover == FAILOVER_WAIT_SYNC)
        stream_complete(sh);
}

void failover_tick(struct shard *sh, int64_t now_ms)
{
    struct repl *r = repl_of(sh);
    if (r->failover == FAILOVER_RECORDING) {
        const struct node *n = sh->node;
        if (n->role_recorded(n) || now_ms >= r->failover_deadline_ms) {
            if (!n->role_recorded(n))
                log_warning("FAILOVER: my cluster table still names me master after %d ms: "
                            "held writes get -READONLY", FAILOVER_RECORD_MS);
            hand_over_done(sh);
        }
        return;
    }
    if (r->failover != FAILOVER_WAIT_SYNC || r->failover_flushes > 0 || r->failover_held)
        return;
    struct replica *x = target_replica(r);
    /* the whole stream so far (the write pause holds expiry and eviction
     * too, so nothing should follow the GETACK; the end is checked anyway) */
    if (x && x->ack_offset >= journal_offset(r->backlog)) {
        char host[64];
        snprintf(host, sizeof(host), "%s", x->ip);
        hand_over(sh, host, x->port);
        return;
    }
    if (r->failover_deadline_ms && now_ms >= r->failover_deadline_ms) {
        if (r->failover_force && r->failover_host[0]) {
            char host[256];
            snprintf(host, sizeof(host), "%s", r->failover_host);
            hand_over(sh, host, r->failover_port);
        } else {
            failover_end(sh, "the replica did not catch up before the timeout");
        }
    }
}

bool failover_accept(struct shard *sh, struct slice replid)
{
    struct repl *r = repl_of(sh);
    if (replid.len != REPLID_LEN || memcmp(replid.ptr, r->replid, REPLID_LEN) != 0)
        return false;
    char err[8];
    log_notice("FAILOVER requested by my master: promoting myself");
    repl_set_master(sh, NULL, 0, err, sizeof(err));
    return true;
}

void cmd_failover(struct exec_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    struct repl *r = repl_of(sh);
    const char *host = NULL;
    long long port = 0, timeout = 0;
    bool force = false, abort_ = false, has_timeout = false;
    for (int i = 1; i < ctx->argc; i++) {
        struct slice a = ctx->argv[i];
        if (slice_eq_nocase(a, "to") && i + 2 < ctx->argc && !host) {
            static char hbuf[256];
            snprintf(hbuf, sizeof(hbuf), "%.*s", (int)ctx->argv[i + 1].len, ctx->argv[i + 1].ptr);
            host = hbuf;
            if (!parse_ll(ctx->argv[i + 2], &port) || port <= 0 || port > 65535) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            i += 2;
        } else if (slice_eq_nocase(a, "force")) {
            force = true;
        } else if (slice_eq_nocase(a, "abort")) {
            abort_ = true;
        } else if (slice_eq_nocase(a, "timeout") && i + 1 < ctx->argc && !has_timeout) {
            if (!parse_ll(ctx->argv[++i], &timeout)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (timeout <= 0) {
                reply_error(ctx->reply, "ERR FAILOVER timeout must be greater than 0");
                return;
            }
            has_timeout = true;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    if (abort_) {
        if (host || force || has_timeout) {
            reply_error(ctx->reply, "ERR FAILOVER abort cannot be used with other arguments.");
            return;
        }
        if (r->failover == FAILOVER_NONE) {
            reply_error(ctx->reply, "ERR No failover in progress.");
            return;
        }
        failover_end(sh, "by request (FAILOVER ABORT)");
        reply_ok(ctx->reply);
        return;
    }
    if (force && (!host || !has_timeout)) {
        reply_error(ctx->reply, "ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
        return;
    }
    if (repl_is_replica(sh->node)) {
        reply_error(ctx->reply, "ERR FAILOVER is not valid when server is a replica.");
        return;
    }
    if (r->nreplicas == 0) {
        reply_error(ctx->reply, "ERR FAILOVER requires connected replicas.");
        return;
    }
    if (r->failover != FAILOVER_NONE) {
        reply_error(ctx->reply, "ERR FAILOVER already in progress.");
        return;
    }
    r->failover_host[0] = '\0';
    r->failover_port = 0;
    if (host) {
        const char *h = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
        snprintf(r->failover_host, sizeof(r->failover_host), "%s", h);
        r->failover_port = (int)port;
        bool found = false;
        for (struct replica *x = r->replicas; x; x = x->next)
            if (x->port == r->failover_port && strcmp(x->ip, r->failover_host) == 0)
                found = true;
        if (!found) {
            reply_error(ctx->reply, "ERR FAILOVER target HOST and PORT is not a replica.");
            return;
        }
    }
    r->failover = FAILOVER_WAIT_SYNC;
    r->failover_force = force;
    r->failover_deadline_ms = has_timeout ? ctx->now_ms + timeout : 0;
    r->failover_flushes = sh->node->nshards;
    r->failover_held = false;
    atomic_store(&sh->node->repl_writes_paused, 1);
    log_notice("FAILOVER requested to %s:%d: writes paused, waiting for the replica to catch up",
               host ? r->failover_host : "any replica", r->failover_port);
    for (int i = 0; i < sh->node->nshards; i++)
        repl_post(sh, i, MSG_FLUSH_JOURNAL, 0, NULL, NULL);
    reply_ok(ctx->reply);
}
