/* repl: what every shard does for replication (its part of the stream, its
 * snapshot slices, its staging store on a replica) and the routing of the
 * replication messages. The master's and the replica's own logic, on shard
 * 0, are in master.c and replica.c. */
#include "replication/repl_state.h"

#include <fcntl.h>
#include <stdlib.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/scratch.h"
#include "shards/shard.h"
#include "shards/store/store.h"

#define SNAPSHOT_SLICE_BYTES (256 * 1024) /* per shard per loop turn */

struct repl *repl_of(struct shard *sh) { return sh->node->repl; }
struct repl_shard *repl_shard_of(struct shard *sh) { return sh->repl; }

bool repl_is_replica(const struct node *n)
{
    return atomic_load_explicit(&n->repl_role, memory_order_relaxed) != 0;
}

const char *repl_write_refusal(const struct node *n)
{
    if (repl_is_replica(n)) {
        if (config_load(&n->config, replica_read_only))
            return "READONLY You can't write against a read only replica.";
        return NULL;
    }
    long long min = config_load(&n->config, min_replicas_to_write);
    if (min > 0 && atomic_load_explicit(&n->repl_good_replicas, memory_order_relaxed) < min)
        return "NOREPLICAS Not enough good replicas to write.";
    return NULL;
}

void repl_new_replid(char out[REPLID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[REPLID_LEN / 2];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        for (size_t i = 0; i < sizeof(raw); i++)
            raw[i] = (unsigned char)rand();
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[REPLID_LEN] = '\0';
}

struct shard_msg *repl_post(struct shard *sh, int to, int kind, uint64_t value, void *arg,
                            struct buf *payload)
{
    struct shard_msg *m = msg_create((enum msg_kind)kind, sh->id, to, NULL, -1, NULL, 0);
    m->value = value;
    m->arg = arg;
    if (payload) {
        m->payload = *payload;
        buf_init(payload);
    }
    msg_post(sh, m, to);
    return m;
}

static void answer(struct shard *sh, struct shard_msg *m)
{
    m->answered = true;
    msg_post(sh, m, m->home);
}

void repl_shard_setup(struct shard *sh)
{
    sh->repl = mi_zalloc(sizeof(struct repl_shard));
    buf_init(&sh->repl->journal_out);
    if (sh->id == 0) {
        struct repl *r = mi_zalloc(sizeof(*r));
        repl_new_replid(r->replid);
        memset(r->replid2, '0', REPLID_LEN);
        r->second_offset = -1;
        long long size = config_load(&sh->node->config, repl_backlog_size);
        r->backlog = journal_create((size_t)(size > 16384 ? size : 16384));
        sh->node->repl = r;
    }
}

void repl_shard_teardown(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    if (!rs)
        return;
    buf_free(&rs->journal_out);
    buf_free(&rs->journal_spare);
    for (struct snap *s = rs->snaps, *next; s; s = next) {
        next = s->next;
        snap_flow_unref(s->flow);
        mi_free(s);
    }
    if (rs->staging)
        store_destroy(rs->staging);
    mi_free(rs);
    sh->repl = NULL;
    /* shard 0's struct repl is released by node_wait after every thread */
}

void repl_journal_hook(void *arg, const struct journal_record *rec)
{
    struct shard *sh = arg;
    if (!atomic_load_explicit(&sh->node->repl_feeding, memory_order_relaxed))
        return;
    journal_encode(rec, &sh->repl->journal_out);
}

/* Ship this turn's stream bytes to shard 0. */
static void ship_journal(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    if (rs->journal_out.len == 0)
        return;
    struct shard_msg *m = msg_create(MSG_JOURNAL, sh->id, 0, NULL, -1, NULL, 0);
    buf_hand_over(&rs->journal_out, &m->payload, &rs->journal_spare);
    msg_post(sh, m, 0);
}

struct frame_sink {
    struct buf *out;
    size_t      keys;
};

static void put_bulk(struct buf *b, const char *p, size_t n)
{
    buf_printf(b, "$%zu\r\n", n);
    buf_append(b, p, n);
    buf_append(b, "\r\n", 2);
}

static void add_frame(void *arg, struct entry *e)
{
    struct frame_sink *f = arg;
    char t[24];
    int tl = snprintf(t, sizeof(t), "%lld", (long long)entry_expire_at(e));
    buf_append_str(f->out, "*4\r\n$8\r\n" FRAME_LOAD "\r\n");
    put_bulk(f->out, entry_key(e), entry_key_len(e));
    put_bulk(f->out, entry_value(e), entry_value_len(e));
    put_bulk(f->out, t, (size_t)tl);
    f->keys++;
}

/* One slice of each snapshot in progress: a few hundred KB of keys, sent
 * after this turn's journal bytes so the replica sees both in the order
 * they happened here. */
static void snapshot_slices(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    struct snap **pp = &rs->snaps;
    int64_t now = shard_now_ms(sh);
    while (*pp) {
        struct snap *s = *pp;
        if (s->flow && atomic_load(&s->flow->cancelled)) {
            *pp = s->next; /* its replica was dropped or went away */
            snap_flow_unref(s->flow);
            mi_free(s);
            continue;
        }
        if (s->flow && snap_flow_full(s->flow)) {
            pp = &s->next; /* the replica has enough to read; woken when it drains */
            continue;
        }
        struct buf frames;
        buf_init(&frames);
        struct frame_sink sink = { &frames, 0 };
        do {
            s->cursor = store_scan(sh->store, s->cursor, 128, now, add_frame, &sink);
        } while (s->cursor != 0 && frames.len < SNAPSHOT_SLICE_BYTES);
        if (frames.len) {
            if (s->flow)
                atomic_fetch_add(&s->flow->inflight, (long long)frames.len);
            repl_post(sh, 0, MSG_SNAP_DATA, s->replica_id, NULL, &frames);
        }
        buf_free(&frames);
        if (s->cursor == 0) {
            repl_post(sh, 0, MSG_SNAP_DONE, s->replica_id, NULL, NULL);
            *pp = s->next;
            snap_flow_unref(s->flow);
            mi_free(s);
        } else {
            pp = &s->next;
        }
    }
}

void repl_shard_turn(struct shard *sh)
{
    if (!sh->repl)
        return;
    ship_journal(sh);
    if (sh->repl->snaps)
        snapshot_slices(sh);
    if (sh->id == 0)
        master_flush_feeds(sh);
}

static bool snapshot_ready(struct shard *sh)
{
    for (struct snap *s = sh->repl ? sh->repl->snaps : NULL; s; s = s->next)
        if (!s->flow || !snap_flow_full(s->flow))
            return true;
    return false;
}

bool repl_turn_pending(struct shard *sh)
{
    return master_feeds_held(sh) || snapshot_ready(sh);
}

void repl_replica_sent(struct shard *sh, struct conn *c, struct client *cl)
{
    snap_flow_unsent(sh, cl->repl_flow, conn_output_bytes(c));
}

void repl_shard_tick(struct shard *sh, int64_t now_ms)
{
    if (sh->id != 0 || !sh->repl)
        return;
    master_tick(sh, now_ms);
    replica_tick(sh, now_ms);
}

void repl_broadcast_role(struct shard *sh, bool replica)
{
    for (int i = 0; i < sh->node->nshards; i++)
        repl_post(sh, i, MSG_ROLE, replica ? 1 : 0, NULL, NULL);
}

/* Redis's replica output limits (client-output-buffer-limit replica 256mb
 * 64mb 60): a replica whose unsent stream passes the hard limit, or stays
 * over the soft one for the soft time, is dropped, during its full sync as
 * well as online. It reconnects and resynchronizes (partially if the
 * backlog still covers it); meanwhile the master stops buffering a stream
 * nobody reads.
 *
 * The limits are on the stream, as Redis's are on the output buffer while
 * the RDB goes its own way: here the snapshot's frames share the output,
 * paced by the replica (flow.c), and are not counted. The output is FIFO,
 * so what was put in after the last frame is stream; of the unsent bytes,
 * that much (at most) counts. Stream bytes interleaved with the frames are
 * not counted until the frames before them are sent: while the replica
 * does not read, the snapshot stops at its window and the stream after it
 * counts in full. */
#define REPLICA_SOFT_SECONDS 60
static void replica_output_check(struct shard *sh, struct conn *c, uint64_t id, bool syncing)
{
    struct client *cl = shard_replica_client(sh, id);
    if (!cl)
        return;
    size_t pending = conn_output_bytes(c);
    uint64_t stream_after_frames = cl->repl_out_total - cl->repl_snap_end;
    if (pending > stream_after_frames)
        pending = (size_t)stream_after_frames;
    size_t soft = (size_t)config_load(&sh->node->config, replica_output_soft_limit);
    size_t hard = (size_t)config_load(&sh->node->config, replica_output_hard_limit);
    int64_t now = shard_now_ms(sh);
    bool over_hard = hard && pending > hard;
    bool over_soft = soft && pending > soft;
    if (!over_soft)
        cl->repl_over_soft_ms = 0;
    else if (cl->repl_over_soft_ms == 0)
        cl->repl_over_soft_ms = now;
    bool soft_expired = over_soft && now - cl->repl_over_soft_ms > REPLICA_SOFT_SECONDS * 1000;
    if (over_hard || soft_expired) {
        log_warning("Replica client id=%llu scheduled to be closed for overcoming of output buffer limits "
                    "(%zu bytes of stream unsent%s)", (unsigned long long)id, pending,
                    syncing ? ", during its full sync" : "");
        conn_close(c, false);
    }
}

/* A request arriving at its target. */
static void handle_request(struct shard *sh, struct shard_msg *m)
{
    struct repl_shard *rs = sh->repl;
    int64_t now = shard_now_ms(sh);
    switch ((int)m->kind) {
    case MSG_JOURNAL:
        master_stream_bytes(sh, m->payload.data, m->payload.len);
        break;
    case MSG_REPL_ATTACH:
        master_attach(sh, m);
        return; /* answered by master_attach */
    case MSG_REPL_DETACH:
        master_detach(sh, m->value);
        break;
    case MSG_REPL_ACK:
        master_ack(sh, m->caller_id, m->value);
        break;
    case MSG_REPL_FEED: {
        struct conn *c = shard_replica_conn(sh, m->caller_id);
        struct client *cl = c ? shard_replica_client(sh, m->caller_id) : NULL;
        struct snap_flow *flow = m->arg;
        if (cl && flow && !cl->repl_flow) {
            snap_flow_ref(flow); /* the connection's, until it is online or closed */
            cl->repl_flow = flow;
        }
        if (cl && cl->repl_flow && m->value == FEED_ONLINE) {
            snap_flow_unref(cl->repl_flow);
            cl->repl_flow = NULL;
        }
        if (c) {
            if (m->value == FEED_DROP || m->value == FEED_CUT) {
                conn_close(c, m->value == FEED_DROP);
            } else {
                if (cl) {
                    cl->repl_out_total += m->payload.len;
                    if (m->paced)
                        cl->repl_snap_end = cl->repl_out_total;
                }
                buf_move(&c->out, &m->payload);
                conn_flush(c);
                /* the snapshot is paced (flow.c), the stream is limited */
                replica_output_check(sh, c, m->caller_id, m->value == FEED_SYNCING);
            }
        }
        if (flow) {
            /* in the connection's output now (or gone with it) */
            atomic_fetch_sub(&flow->inflight, (long long)m->paced);
            if (cl && cl->repl_flow && c)
                snap_flow_unsent(sh, cl->repl_flow, conn_output_bytes(c));
        }
        snap_flow_unref(flow); /* the message's */
        break;
    }
    case MSG_SNAP_START: {
        struct snap *s = mi_zalloc(sizeof(*s));
        s->replica_id = m->value;
        s->flow = m->arg; /* the reference shard 0 counted for us */
        s->next = rs->snaps;
        rs->snaps = s;
        /* journal bytes from before this point go out first */
        ship_journal(sh);
        break;
    }
    case MSG_SNAP_DATA:
        master_snapshot_data(sh, m->value, &m->payload);
        break;
    case MSG_SNAP_DONE:
        master_snapshot_done(sh, m->value);
        break;
    case MSG_REPL_APPLY:
        writes_apply(rs->staging ? rs->staging : sh->store, &m->payload, now);
        break;
    case MSG_LOAD_BEGIN:
        if (rs->staging)
            store_destroy(rs->staging);
        rs->staging = store_create(sh->heap, repl_journal_hook, sh);
        store_set_hold(rs->staging, pause_keeps_keys, sh);
        store_set_passive(rs->staging, true);
        break;
    case MSG_LOAD_END:
        if (rs->staging) {
            store_destroy(sh->store);
            sh->store = rs->staging;
            rs->staging = NULL;
        }
        break;
    case MSG_LOAD_ABORT:
        if (rs->staging) {
            store_destroy(rs->staging);
            rs->staging = NULL;
        }
        break;
    case MSG_ROLE:
        store_set_passive(sh->store, m->value != 0);
        if (rs->staging)
            store_set_passive(rs->staging, m->value != 0);
        break;
    case MSG_FLUSH_JOURNAL:
        ship_journal(sh);
        break;
    }
    answer(sh, m);
}

static void handle_answer(struct shard *sh, struct shard_msg *m)
{
    if ((int)m->kind == MSG_REPL_ATTACH) {
        /* at the replica's shard: the +FULLRESYNC / +CONTINUE line */
        struct conn *c = shard_replica_conn(sh, m->caller_id);
        if (c) {
            buf_append(&c->out, m->reply.data, m->reply.len);
            conn_flush(c);
        }
    } else if ((int)m->kind == MSG_FLUSH_JOURNAL) {
        if (m->arg)
            master_flushed(sh, m->arg);
        else
            failover_flushed(sh);
    } else if ((int)m->kind == MSG_JOURNAL) {
        buf_keep_spare(&sh->repl->journal_spare, &m->payload, SPARE_BUF_MAX);
    } else if ((int)m->kind == MSG_REPL_FEED) {
        master_feed_returned(sh, m->caller_id, &m->payload);
    }
    msg_free(m);
}

void repl_message(struct shard *sh, struct shard_msg *m)
{
    if (m->answered)
        handle_answer(sh, m);
    else
        handle_request(sh, m);
}
