/* master: the master side of replication, on shard 0: the backlog, the
 * attached replicas (PSYNC: partial or full), what each is sent, their
 * acknowledgements, and WAIT. */
#include "replication/repl_state.h"

#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "core/resp.h"
#include "net/loop.h"
#include "shards/aof.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"

#define PING_PERIOD_MS 1000 /* a PING in the stream keeps replicas' link timers fed */

static struct replica *find_replica(struct repl *r, uint64_t id)
{
    for (struct replica *x = r->replicas; x; x = x->next)
        if (x->id == id)
            return x;
    return NULL;
}

static struct replica *unlink_replica(struct repl *r, uint64_t id);
static void close_replica(struct shard *sh, struct replica *x, enum feed_kind how);

/* A module's command for a full sync's start, as a RKV.LOADCMD frame. */
static void emit_loadcmd(void *arg, int argc, const struct slice *argv)
{
    struct slice *framed = mi_malloc(sizeof *framed * (size_t)(argc + 1));
    framed[0] = SLICE_LIT(FRAME_LOADCMD);
    memcpy(framed + 1, argv, sizeof *framed * (size_t)argc);
    resp_encode_command(arg, argc + 1, framed);
    mi_free(framed);
}

/* The stream held for a replica's full sync served by a replica of ours is
 * an output buffer like any other (Redis applies the replica class's limits
 * during a sync too): past replica-output-hard-limit, or over the soft one
 * for REPLICA_SOFT_SECONDS, the replica is dropped (it reconnects and syncs
 * again) instead of holding an unbounded copy of the stream here. */
#define REPLICA_SOFT_SECONDS 60
static bool held_over_limits(struct shard *sh, struct replica *x, int64_t now_ms)
{
    size_t soft = (size_t)config_load(&sh->node->config, replica_output_soft_limit);
    size_t hard = (size_t)config_load(&sh->node->config, replica_output_hard_limit);
    size_t held = x->stream_held.len;
    if (!soft || held <= soft)
        x->held_over_soft_ms = 0;
    else if (!x->held_over_soft_ms)
        x->held_over_soft_ms = now_ms;
    bool over = (hard && held > hard) ||
                (x->held_over_soft_ms && now_ms - x->held_over_soft_ms > REPLICA_SOFT_SECONDS * 1000);
    if (over)
        log_warning("Replica %s:%d scheduled to be closed for overcoming of output buffer limits "
                    "(%zu bytes of stream held during its full sync)", x->ip, x->port, held);
    return over;
}

static void drop_held_over_limits(struct shard *sh, int64_t now_ms)
{
    struct repl *r = repl_of(sh);
    for (struct replica *x = r->replicas, *next; x; x = next) {
        next = x->next;
        if (x->stream_later && held_over_limits(sh, x, now_ms)) {
            unlink_replica(r, x->id);
            close_replica(sh, x, FEED_CUT); /* what it has queued is not waited for */
        }
    }
}

/* Bytes that become part of the stream: the backlog and every replica. On a
 * replica these are the bytes read from its master (chained replicas get the
 * same stream at the same offsets). */
void master_stream_bytes(struct shard *sh, const char *p, size_t n)
{
    master_stream_bytes_from(sh, AOF_FROM_LINK, p, n);
}

void master_stream_bytes_from(struct shard *sh, int from, const char *p, size_t n)
{
    aof_feed(sh->node, from, p, n); /* the AOF is this stream (shards/aof.h) */
    master_stream_bytes_unpersisted(sh, p, n);
}

/* The stream's own signals (PING, REPLCONF GETACK): for replicas, not
 * data for the AOF. */
void master_stream_bytes_unpersisted(struct shard *sh, const char *p, size_t n)
{
    struct repl *r = repl_of(sh);
    if (n == 0)
        return;
    journal_append_raw(r->backlog, p, n);
    bool held = false;
    for (struct replica *x = r->replicas; x; x = x->next) {
        if (x->rdb && !x->stream_later)
            continue; /* the file only, no stream; or the file's cut not reached yet */
        buf_append(x->stream_later ? &x->stream_held : &x->feed, p, n);
        held |= x->stream_later;
    }
    if (held)
        drop_held_over_limits(sh, shard_now_ms(sh));
}

static void stream_command(struct shard *sh, const char *resp)
{
    master_stream_bytes_unpersisted(sh, resp, strlen(resp));
}

struct replica *replica_new(struct shard *sh, const struct shard_msg *m)
{
    struct replica *x = mi_zalloc(sizeof(*x));
    x->id = m->caller_id;
    x->shard = m->home;
    snprintf(x->ip, sizeof(x->ip), "%.*s", (int)m->argv[2].len, m->argv[2].ptr);
    long long port = 0;
    parse_ll(m->argv[3], &port);
    x->port = (int)port;
    x->ack_ms = shard_now_ms(sh);
    buf_init(&x->feed);
    buf_init(&x->feed_spare);
    return x;
}

/* PSYNC replid offset from replica m->caller_id on shard m->home.
 * argv: replid, offset, ip, listening port. */
void master_attach(struct shard *sh, struct shard_msg *m)
{
    struct repl *r = repl_of(sh);
    struct node *n = sh->node;
    m->answered = true;
    bool failover = m->argc > 4 && slice_eq_nocase(m->argv[4], "failover");
    if (failover && !repl_is_replica(n)) {
        buf_append_str(&m->reply, "-ERR PSYNC FAILOVER can't be sent to a master.\r\n");
        msg_post(sh, m, m->home);
        return;
    }
    if (failover && !failover_accept(sh, m->argv[0])) {
        buf_append_str(&m->reply, "-ERR PSYNC FAILOVER replid must match my replid.\r\n");
        msg_post(sh, m, m->home);
        return;
    }
    if (repl_is_replica(n) && (r->step != LINK_CONNECTED || !r->backlog_active)) {
        /* Neither a full nor a partial sync while our own link is down: our
         * data is not a whole copy until our sync is done, and a replica we
         * let continue would look up to date while nothing reaches it (Redis
         * refuses both). */
        buf_append_str(&m->reply, "-NOMASTERLINK Can't SYNC while not connected with my master\r\n");
        msg_post(sh, m, m->home);
        return;
    }
    if (repl_is_replica(n) && replica_hold_sync(sh, m))
        return;
    bool old_sync = (m->value & ATTACH_OLD_SYNC) != 0;
    m->value &= ~(uint64_t)ATTACH_OLD_SYNC;
    if ((m->value == ATTACH_RDB_ONLY || m->value == ATTACH_RDB_FUNCTIONS) && !failover) {
        rdb_feed_attach(sh, m, old_sync, m->value == ATTACH_RDB_FUNCTIONS);
        return;
    }
    bool foreign = m->value == ATTACH_FOREIGN;
    if (foreign && !repl_is_replica(n) && !failover)
        foreign = false; /* a Redis replica of ours: an RDB file, then the stream (below) */
    if (foreign) {
        /* Not a ringkv replica (no REPLCONF capa ringkv): a Redis replica,
         * which expects an RDB file and cannot parse our snapshot; it would
         * retry at once, and each try cost us a snapshot of every shard.
         * Refused before anything is made, and the connection closed (the
         * Redis replica logs the text); logged here once a minute. */
        r->sync_foreign_refused++;
        int64_t now = shard_now_ms(sh);
        if (r->foreign_logged_ms == 0 || now - r->foreign_logged_ms >= 60000) {
            r->foreign_logged_ms = now;
            log_warning("Refused the sync of replica %.*s:%.*s: it is not a ringkv replica (a Redis "
                        "server?), and a ringkv replica feeds none (its master can) (refused %llu "
                        "time(s) so far; logged at most once a minute)",
                        (int)m->argv[2].len, m->argv[2].ptr, (int)m->argv[3].len, m->argv[3].ptr,
                        (unsigned long long)r->sync_foreign_refused);
        }
        buf_append_str(&m->reply, "-ERR a ringkv replica cannot feed a Redis replica: replicate its "
                                  "master\r\n");
        m->value = ATTACH_REFUSED_CLOSE;
        msg_post(sh, m, m->home);
        return;
    }
    struct replica *x = replica_new(sh, m);

    long long want = -1;
    bool has_offset = parse_ll(m->argv[1], &want);
    uint64_t from = has_offset && want > 0 ? (uint64_t)(want - 1) : 0;
    struct slice id = m->argv[0];
    bool same_history = id.len == REPLID_LEN &&
        (memcmp(id.ptr, r->replid, REPLID_LEN) == 0 ||
         (memcmp(id.ptr, r->replid2, REPLID_LEN) == 0 && want <= r->second_offset));
    uint64_t offset = journal_offset(r->backlog);
    if (same_history && has_offset && want > 0 && r->backlog_active &&
        from >= journal_first_offset(r->backlog) && from <= offset) {
        buf_printf(&m->reply, "+CONTINUE %s\r\n", r->replid);
        journal_read(r->backlog, from, &x->feed);
        x->online = true;
        r->sync_partial_ok++;
        log_notice("Replica %s:%d asks for synchronization from offset %llu: partial resynchronization accepted, "
                   "sending %llu bytes of backlog",
                   x->ip, x->port, (unsigned long long)from, (unsigned long long)(offset - from));
    } else {
        if (!(id.len == 1 && id.ptr[0] == '?'))
            r->sync_partial_err++;
        r->sync_full++;
        if (!r->backlog_active) {
            /* the stream starts now: every shard begins to journal */
            r->backlog_active = true;
            atomic_store(&n->repl_feeding, 1);
        }
        if (m->value == ATTACH_FOREIGN) {
            /* a Redis replica: an RDB file, its +FULLRESYNC once the save's
             * cut of the stream is known (rdb_feed.c) */
            if (!rdb_feed_stream_start(sh, x, old_sync)) {
                buf_append_str(&m->reply, "-ERR too many background saves awaited; try again later\r\n");
                m->value = ATTACH_REFUSED_CLOSE;
                buf_free(&x->feed);
                mi_free(x);
                msg_post(sh, m, m->home);
                return;
            }
            x->next = r->replicas;
            r->replicas = x;
            r->nreplicas++;
            msg_post(sh, m, m->home);
            return;
        }
        buf_printf(&m->reply, "+FULLRESYNC %s %llu\r\n", r->replid, (unsigned long long)offset);
        /* On a replica every write up to offset has been posted to its
         * shard (repl_link_data posts at the end of each read), so each
         * shard starts its snapshot after applying them: mailboxes keep
         * the order of one sender. */
        x->stream_later = repl_is_replica(n);
        int stream_db = x->stream_later ? replica_stream_db(sh) : 0;
        if (stream_db != 0) {
            /* the stream from offset is in another database than 0, where
             * the snapshot's frames leave the replica: a frame says which */
            char num[16];
            int nl = snprintf(num, sizeof num, "%d", stream_db);
            buf_printf(&x->stream_held, "*2\r\n$10\r\n" FRAME_SELECT "\r\n$%d\r\n%s\r\n", nl, num);
        }
        /* node-wide state outside the stores first (the function libraries) */
        for (int i = 0; i < n->nmodules; i++)
            if (n->modules[i]->full_sync)
                n->modules[i]->full_sync(sh, emit_loadcmd, &x->feed);
        x->snap_pending = n->nshards;
        x->flow = snap_flow_create(1 + n->nshards); /* ours, and one per producing shard */
        for (int i = 0; i < n->nshards; i++)
            repl_post(sh, i, MSG_SNAP_START, x->id, x->flow, NULL);
        log_notice("Replica %s:%d asks for synchronization: full resync from offset %llu, "
                   "snapshot of %d shard(s) without fork",
                   x->ip, x->port, (unsigned long long)offset, n->nshards);
    }
    x->next = r->replicas;
    r->replicas = x;
    r->nreplicas++;
    msg_post(sh, m, m->home);
}

void master_feed_returned(struct shard *sh, uint64_t id, struct buf *b)
{
    struct replica *x = find_replica(repl_of(sh), id);
    if (x)
        buf_keep_spare(&x->feed_spare, b, SPARE_BUF_MAX);
}

static void replica_free(struct replica *x)
{
    if (x->flow) /* its snapshot is still being made: no one will read it */
        atomic_store(&x->flow->cancelled, 1);
    buf_free(&x->stream_held);
    buf_free(&x->feed_spare);
    snap_flow_unref(x->flow);
    buf_free(&x->feed);
    rdb_feed_free(x->rdb);
    mi_free(x);
}

static struct replica *unlink_replica(struct repl *r, uint64_t id)
{
    for (struct replica **pp = &r->replicas; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct replica *x = *pp;
            *pp = x->next;
            r->nreplicas--;
            return x;
        }
    }
    return NULL;
}

void master_detach(struct shard *sh, uint64_t id)
{
    struct replica *x = unlink_replica(repl_of(sh), id);
    if (x) {
        log_notice("Connection with replica %s:%d lost.", x->ip, x->port);
        replica_free(x);
    }
}

/* Tell x's shard to close its connection (how: FEED_DROP or FEED_CUT); x is
 * freed (unlinked already). */
static void close_replica(struct shard *sh, struct replica *x, enum feed_kind how)
{
    struct shard_msg *m = repl_msg_create(sh, MSG_REPL_FEED, x->shard, NULL, 0);
    m->caller_id = x->id;
    m->value = how;
    msg_post(sh, m, x->shard);
    replica_free(x);
}

static void drop_replica(struct shard *sh, struct replica *x)
{
    close_replica(sh, x, FEED_DROP);
}

/* Close every replica (we became a replica ourselves, or took a new full
 * sync). */
void master_drop_replicas(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    while (r->replicas) {
        struct replica *x = r->replicas;
        r->replicas = x->next;
        drop_replica(sh, x);
    }
    r->nreplicas = 0;
}

static void check_waiters(struct shard *sh, int64_t now_ms, bool timeouts);

void master_ack(struct shard *sh, uint64_t id, uint64_t offset)
{
    struct repl *r = repl_of(sh);
    struct replica *x = find_replica(r, id);
    if (!x)
        return;
    if (offset > x->ack_offset)
        x->ack_offset = offset;
    x->ack_ms = shard_now_ms(sh);
    if (r->waiters)
        check_waiters(sh, x->ack_ms, false);
    if (r->failover == FAILOVER_WAIT_SYNC)
        failover_tick(sh, x->ack_ms);
}

void master_snapshot_data(struct shard *sh, uint64_t id, struct buf *frames)
{
    struct replica *x = find_replica(repl_of(sh), id);
    if (x && !x->online) {
        buf_append(&x->feed, frames->data, frames->len);
        x->feed_paced += frames->len;
    }
}

void master_snapshot_done(struct shard *sh, uint64_t id)
{
    struct repl *r = repl_of(sh);
    struct replica *x = find_replica(r, id);
    if (!x || x->online || --x->snap_pending > 0)
        return;
    /* the stream made meanwhile, then the end marker: the replica switches
     * to its copy once it holds our state as of now */
    buf_move(&x->feed, &x->stream_held);
    buf_free(&x->stream_held);
    x->stream_later = false;
    buf_append_str(&x->feed, "*1\r\n$12\r\n" FRAME_LOADDONE "\r\n");
    /* all of it counts as the snapshot for the output limits (the held
     * stream in it was limited here while held) */
    x->feed_paced = x->feed.len;
    x->online = true;
    snap_flow_unref(x->flow);
    x->flow = NULL;
    log_notice("Synchronization with replica %s:%d succeeded", x->ip, x->port);
}

/* Whether the replicas' feeds wait for a later turn. A busy master (its
 * turns bring socket completions one after another) sends to its replicas
 * when FEED_BATCH_BYTES have gathered or FEED_MAX_DELAY_NS have passed,
 * instead of every turn: at pipeline 1 a turn holds a few writes, and each
 * send to a replica costs a syscall's and a TCP segment's worth of CPU. As
 * soon as a turn is idle, or a WAIT, a FAILOVER or a full sync is in
 * progress, everything goes at once. */
#define FEED_BATCH_BYTES (64 * 1024)
#define FEED_MAX_DELAY_NS 1000000ull
static bool feeds_wait(struct shard *sh, struct repl *r)
{
    size_t pending = 0;
    for (struct replica *x = r->replicas; x; x = x->next) {
        if (!x->online)
            return false;
        pending += x->feed.len;
    }
    if (pending == 0 || pending >= FEED_BATCH_BYTES || r->waiters || r->failover != FAILOVER_NONE ||
        loop_turn_idle(sh->loop))
        return false;
    uint64_t now = clock_mono_ns();
    if (!r->feed_since_ns)
        r->feed_since_ns = now;
    return now - r->feed_since_ns < FEED_MAX_DELAY_NS;
}

/* Also true when stream bytes came in after this turn's flush: shard 0
 * handles its mail (a WAIT's GETACK, an ACK's reply, the journal of its own
 * writes) after master_flush_feeds, and nothing else would wake the loop
 * for them before the next tick, 100 ms later. A WAIT's round trip was that
 * tick. */
bool master_feeds_held(struct shard *sh)
{
    if (sh->id != 0)
        return false;
    struct repl *r = repl_of(sh);
    if (r->feed_since_ns != 0)
        return true;
    for (struct replica *x = r->replicas; x; x = x->next)
        if (x->feed.len || (x->rdb && rdb_feed_wants_turn(x)))
            return true;
    return false;
}

/* One message to x's shard with what x is owed. */
static void post_feed(struct shard *sh, struct replica *x)
{
    struct shard_msg *m = repl_msg_create(sh, MSG_REPL_FEED, x->shard, NULL, 0);
    m->caller_id = x->id;
    m->value = x->online ? FEED_ONLINE : FEED_SYNCING;
    if (x->flow) {
        snap_flow_ref(x->flow); /* the message's, let go by the replica's shard */
        m->arg = x->flow;
    }
    /* snapshot bytes in it (also in the last one, sent once the
     * snapshot is done): the output limits do not count them */
    m->paced = x->feed_paced;
    x->feed_paced = 0;
    buf_hand_over(&x->feed, &m->payload, &x->feed_spare);
    msg_post(sh, m, x->shard);
}

/* End of shard 0's turn: one message per replica with what it is owed (an
 * rdb-only replica's: the next slices of its file). */
void master_flush_feeds(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    if (feeds_wait(sh, r))
        return;
    r->feed_since_ns = 0;
    for (struct replica *x = r->replicas, *next; x; x = next) {
        next = x->next;
        bool sent_all = x->rdb && !rdb_feed_produce(sh, x);
        if (x->feed.len > 0)
            post_feed(sh, x);
        if (sent_all && rdb_feed_streams(x)) {
            rdb_feed_stream_on(sh, x); /* the stream from the file's offset */
            if (x->feed.len > 0)
                post_feed(sh, x);
        } else if (sent_all) {
            /* its connection closes once what it holds is sent */
            unlink_replica(r, x->id);
            close_replica(sh, x, FEED_DROP);
        }
    }
}

/* ---- WAIT ------------------------------------------------------------------ */

static int acked(struct repl *r, uint64_t target)
{
    int n = 0;
    for (struct replica *x = r->replicas; x; x = x->next)
        if (x->online && x->ack_offset >= target)
            n++;
    return n;
}

static void waiter_answer(struct shard *sh, struct waiter *w, int count)
{
    struct shard_msg *m = w->msg;
    struct reply rep = { &m->reply, m->proto };
    reply_int(&rep, count);
    m->answered = true;
    msg_post(sh, m, m->home);
    mi_free(w);
}

static void check_waiters(struct shard *sh, int64_t now_ms, bool timeouts)
{
    struct repl *r = repl_of(sh);
    for (struct waiter **pp = &r->waiters; *pp;) {
        struct waiter *w = *pp;
        if (w->flushes > 0 || w->held) {
            pp = &w->next;
            continue;
        }
        int n = acked(r, w->target);
        bool expired = timeouts && w->deadline_ms && now_ms >= w->deadline_ms;
        if (n >= w->numreplicas || expired) {
            *pp = w->next;
            waiter_answer(sh, w, n);
        } else {
            pp = &w->next;
        }
    }
}

/* Every shard has posted the stream bytes of the writes done before the
 * WAIT: the target offset is known. */
static void waiter_target(struct shard *sh, struct waiter *w)
{
    struct repl *r = repl_of(sh);
    w->target = journal_offset(r->backlog);
    if (acked(r, w->target) < w->numreplicas && r->nreplicas > 0)
        stream_command(sh, "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
}

/* A shard's bytes may have reached shard 0 yet wait at the stream gate
 * (a FLUSHALL's barrier that another shard has not passed yet): then the
 * backlog's end is short of them, and a WAIT would count a replica that
 * never got them. Such a WAIT takes its target when the gate lets go. */
void master_flushed(struct shard *sh, struct waiter *w)
{
    if (--w->flushes > 0)
        return;
    if (repl_gate_holds(sh)) {
        w->held = true;
        return;
    }
    waiter_target(sh, w);
    check_waiters(sh, shard_now_ms(sh), false);
}

void master_gate_released(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    bool any = false;
    for (struct waiter *w = r->waiters; w; w = w->next)
        if (w->held) {
            w->held = false;
            waiter_target(sh, w);
            any = true;
        }
    if (any)
        check_waiters(sh, shard_now_ms(sh), false);
    failover_gate_released(sh);
}

/* WAIT numreplicas timeout: runs on shard 0 as a deferred message. */
void cmd_wait(struct exec_ctx *ctx)
{
    long long num, timeout;
    if (!parse_ll(ctx->argv[1], &num) || !parse_ll(ctx->argv[2], &timeout)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (timeout < 0) {
        reply_error(ctx->reply, "ERR timeout is negative");
        return;
    }
    struct shard *sh = ctx->shard;
    if (repl_is_replica(sh->node)) {
        reply_error(ctx->reply, "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
        return;
    }
    if (!ctx->msg) {
        /* not run through a message (should not happen: WAIT is routed to
         * shard 0 as one): answer with what is acknowledged now */
        reply_int(ctx->reply, acked(repl_of(sh), journal_offset(repl_of(sh)->backlog)));
        return;
    }
    struct repl *r = repl_of(sh);
    struct waiter *w = mi_zalloc(sizeof(*w));
    w->msg = ctx->msg;
    w->numreplicas = num;
    w->deadline_ms = timeout ? ctx->now_ms + timeout : 0;
    w->flushes = sh->node->nshards;
    w->next = r->waiters;
    r->waiters = w;
    ctx->deferred = true;
    for (int i = 0; i < sh->node->nshards; i++)
        repl_post(sh, i, MSG_FLUSH_JOURNAL, 0, w, NULL);
}

void master_tick(struct shard *sh, int64_t now_ms)
{
    struct repl *r = repl_of(sh);
    long long max_lag = config_load(&sh->node->config, min_replicas_max_lag) * 1000;
    int good = 0;
    for (struct replica *x = r->replicas; x; x = x->next)
        if (x->online && now_ms - x->ack_ms <= max_lag)
            good++;
    atomic_store(&sh->node->repl_good_replicas, good);
    /* no PING while a FAILOVER waits: the target must acknowledge the
     * whole stream, and a PING after the GETACK would move the end */
    if (r->nreplicas > 0 && !repl_is_replica(sh->node) && r->failover == FAILOVER_NONE &&
        now_ms - r->last_ping_ms >= PING_PERIOD_MS) {
        stream_command(sh, "*1\r\n$4\r\nPING\r\n");
        r->last_ping_ms = now_ms;
    }
    if (r->waiters)
        check_waiters(sh, now_ms, true);
    if (r->failover != FAILOVER_NONE)
        failover_tick(sh, now_ms);
    drop_held_over_limits(sh, now_ms); /* the soft limit's time */
}

/* ---- INFO -------------------------------------------------------------------- */

void repl_info_stats(struct shard *sh, struct buf *out)
{
    struct repl *r = repl_of(sh);
    buf_printf(out, "sync_full:%llu\r\nsync_partial_ok:%llu\r\nsync_partial_err:%llu\r\n",
               (unsigned long long)r->sync_full, (unsigned long long)r->sync_partial_ok,
               (unsigned long long)r->sync_partial_err);
}

void repl_info(struct shard *sh, struct buf *out)
{
    struct repl *r = repl_of(sh);
    int64_t now = shard_now_ms(sh);
    bool replica = repl_is_replica(sh->node);
    uint64_t offset = journal_offset(r->backlog);
    buf_printf(out, "role:%s\r\n", replica ? "slave" : "master");
    if (replica) {
        bool up = r->step == LINK_CONNECTED;
        buf_printf(out,
                   "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n"
                   "master_last_io_seconds_ago:%lld\r\nmaster_sync_in_progress:%d\r\n"
                   "slave_read_repl_offset:%llu\r\nslave_repl_offset:%llu\r\n",
                   r->master_host, r->master_port, up ? "up" : "down",
                   r->last_io_ms ? (long long)((now - r->last_io_ms) / 1000) : -1LL,
                   r->step == LINK_TRANSFER ? 1 : 0,
                   (unsigned long long)offset, (unsigned long long)replica_applied_offset(sh));
        if (r->step == LINK_TRANSFER && r->link && r->link->rdb) {
            /* a Redis master's RDB coming in, as a Redis replica shows it */
            int64_t total = rdb_in_total(r->link->rdb);
            uint64_t read = rdb_in_bytes(r->link->rdb);
            buf_printf(out,
                       "master_sync_total_bytes:%lld\r\nmaster_sync_read_bytes:%llu\r\n"
                       "master_sync_left_bytes:%lld\r\nmaster_sync_perc:%.2f\r\n"
                       "master_sync_last_io_seconds_ago:%lld\r\n",
                       (long long)total, (unsigned long long)read, total < 0 ? -1LL : (long long)(total - (int64_t)read),
                       total > 0 ? 100.0 * (double)read / (double)total : 0.0,
                       (long long)((now - r->last_io_ms) / 1000));
        }
        if (!up)
            buf_printf(out, "master_link_down_since_seconds:%lld\r\n",
                       r->link_down_since_ms ? (long long)((now - r->link_down_since_ms) / 1000) : -1LL);
        buf_printf(out, "slave_priority:%lld\r\nslave_read_only:%lld\r\nreplica_announced:1\r\n",
                   config_load(&sh->node->config, replica_priority),
                   config_load(&sh->node->config, replica_read_only));
    }
    buf_printf(out, "connected_slaves:%d\r\n", r->nreplicas);
    int i = 0;
    for (struct replica *x = r->replicas; x; x = x->next, i++)
        buf_printf(out, "slave%d:ip=%s,port=%d,state=%s,offset=%llu,lag=%lld\r\n", i, x->ip, x->port,
                   x->online ? "online" : "wait_bgsave", (unsigned long long)x->ack_offset,
                   (long long)((now - x->ack_ms) / 1000));
    uint64_t first = journal_first_offset(r->backlog);
    buf_printf(out,
               "master_failover_state:%s\r\nmaster_replid:%s\r\nmaster_replid2:%s\r\n"
               "master_repl_offset:%llu\r\nsecond_repl_offset:%lld\r\nrepl_backlog_active:%d\r\n"
               "repl_backlog_size:%lld\r\nrepl_backlog_first_byte_offset:%llu\r\n"
               "repl_backlog_histlen:%llu\r\n",
               r->failover == FAILOVER_WAIT_SYNC ? "waiting-for-sync"
               : r->failover != FAILOVER_NONE ? "failover-in-progress" : "no-failover",
               r->replid, r->replid2, (unsigned long long)offset, (long long)r->second_offset,
               r->backlog_active ? 1 : 0, config_load(&sh->node->config, repl_backlog_size),
               (unsigned long long)(r->backlog_active ? first + 1 : 0),
               (unsigned long long)(r->backlog_active ? offset - first : 0));
}
