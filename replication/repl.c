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
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/reply.h"
#include "shards/aof.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/notify.h"
#include "shards/scratch.h"
#include "shards/shard.h"
#include "shards/store/serialize.h"
#include "shards/store/slot.h"
#include "shards/tracking.h"
#include "shards/watch.h"
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

struct shard_msg *repl_msg_create(struct shard *sh, int kind, int to, const struct slice *args, int argc)
{
    struct shard_msg *m = msg_create(kind, sh->id, to, NULL, -1, args, argc);
    m->handler = repl_message;
    return m;
}

struct shard_msg *repl_post(struct shard *sh, int to, int kind, uint64_t value, void *arg,
                            struct buf *payload)
{
    struct shard_msg *m = repl_msg_create(sh, kind, to, NULL, 0);
    m->value = value;
    m->arg = arg;
    if (payload) {
        m->payload = *payload;
        buf_init(payload);
    }
    msg_post(sh, m, to);
    return m;
}

static struct stream_gate *gate_create(int nshards);
static void gate_destroy(struct stream_gate *g);
static void gate_reset(struct stream_gate *g);

static void answer(struct shard *sh, struct shard_msg *m)
{
    m->answered = true;
    msg_post(sh, m, m->home);
}

/* As Redis's changeReplicationId and clearReplicationId2: a replica
 * linked now goes on; one asking to continue the old id later gets a full
 * sync. */
void repl_change_replid(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    repl_new_replid(r->replid);
    memset(r->replid2, '0', REPLID_LEN);
    r->second_offset = -1;
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
        sh->repl->gate = gate_create(sh->node->nshards);
    }
}

static void snap_free(struct shard *sh, struct snap *s);
static void staging_free(struct repl_shard *rs, int ndbs);
static void live_unlink(struct shard *sh, struct snap_pending **pp);

void repl_shard_teardown(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    if (!rs)
        return;
    buf_free(&rs->journal_out);
    buf_free(&rs->journal_spare);
    buf_free(&rs->journal_form);
    buf_free(&rs->deferred_apply);
    for (struct snap *s = rs->snaps, *next; s; s = next) {
        next = s->next;
        snap_free(sh, s);
    }
    while (rs->live)
        live_unlink(sh, &rs->live);
    for (size_t i = 0; i + sizeof(struct shard_msg *) <= rs->flush_held.len; i += sizeof(struct shard_msg *)) {
        struct shard_msg *m;
        memcpy(&m, rs->flush_held.data + i, sizeof(m));
        msg_free(m); /* the node is stopping: nobody waits for it */
    }
    buf_free(&rs->flush_held);
    staging_free(rs, sh->ndbs);
    gate_destroy(rs->gate);
    mi_free(rs);
    sh->repl = NULL;
    /* shard 0's struct repl is released by node_wait after every thread */
}

/* ---- what the stream carries: the journal column --------------------------
 *
 * A command's row (core/command.h, enum journal_kind) says how its writes
 * reach the stream; the handlers do not decide. The dispatcher brackets
 * every command a shard runs on its own store with repl_command_begin/end:
 *  - JOURNAL_EFFECTS: nothing to do, the store's records are journaled as
 *    they come (repl_journal_hook);
 *  - JOURNAL_COMMAND: the store's records are held back (counted, not
 *    encoded) and, if there were any, the command as sent (or the form its
 *    handler stated through exec_ctx.journal_as) is journaled once at the
 *    end; JOURNAL_VALUE_COPY the same between keys of one slot while no
 *    snapshot runs on the shard (live parts of its keys went whole first,
 *    key_before_write), by its effects otherwise. A DEL the store decides
 *    on its own (a key found past its time) still goes out at once, before
 *    the command, as Redis propagates a lazy expiry before the command
 *    that met it;
 *  - JOURNAL_NODE: every shard runs its part; each sends shard 0 a barrier
 *    (after the stream bytes it made before its part) carrying the command,
 *    and shard 0's gate below puts one record in the stream once every
 *    shard has passed that barrier. */

static bool live_part_start(struct shard *sh, const struct journal_record *rec);
static void live_parts(struct shard *sh, size_t budget);

/* The stream's next command acts on database db: SELECT it first if the
 * bytes of this turn are in another. */
static void journal_select(struct repl_shard *rs, int db)
{
    if (__builtin_expect(rs->journal_db == db, 1))
        return;
    char num[16];
    int n = snprintf(num, sizeof(num), "%d", db);
    struct slice sel[] = { SLICE_LIT("SELECT"), { num, (size_t)n } };
    resp_encode_command(&rs->journal_out, 2, sel);
    rs->journal_db = db;
}

void repl_journal_hook(void *arg, const struct journal_record *rec)
{
    struct shard *sh = arg;
    struct repl_shard *rs = sh->repl;
    if (rs->journaling && !rec->by_store) {
        rs->held_records++;
        return;
    }
    if (!atomic_load_explicit(&sh->node->repl_feeding, memory_order_relaxed))
        return;
    if (rec->op != JOURNAL_FLUSH)
        journal_select(rs, rec->db);
    if (live_part_start(sh, rec))
        return; /* a big collection: DEL now, its elements in parts over the next turns */
    journal_encode(rec, &rs->journal_out);
}

/* Ship this turn's stream bytes to shard 0. */
static void ship_journal(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    if (rs->journal_out.len == 0)
        return;
    journal_select(rs, 0);
    struct shard_msg *m = repl_msg_create(sh, MSG_JOURNAL, 0, NULL, 0);
    buf_hand_over(&rs->journal_out, &m->payload, &rs->journal_spare);
    msg_post(sh, m, 0);
    rs->journal_msgs++;
}

uint64_t repl_journal_mark(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    if (!rs)
        return 0;
    return rs->journal_msgs + (rs->journal_out.len > 0);
}

/* This shard passed a node-wide command's point: the bytes before it go
 * first, then the barrier with the command (none if this shard's part
 * changed nothing or was refused). Only a master's shards send barriers. */
static void send_barrier(struct shard *sh, int argc, const struct slice *argv, bool in_db)
{
    if (repl_is_replica(sh->node))
        return;
    ship_journal(sh);
    struct shard_msg *m = repl_msg_create(sh, MSG_JOURNAL, 0, NULL, 0);
    m->value = JOURNAL_MSG_BARRIER;
    if (argv && in_db && sh->db != 0) { /* FLUSHDB of another database (not FLUSHALL, SWAPDB: CMD_NO_DB) */
        char num[16];
        int n = snprintf(num, sizeof(num), "%d", sh->db);
        struct slice sel[] = { SLICE_LIT("SELECT"), { num, (size_t)n } }, sel0[] = { SLICE_LIT("SELECT"), SLICE_LIT("0") };
        resp_encode_command(&m->payload, 2, sel);
        resp_encode_command(&m->payload, argc, argv);
        resp_encode_command(&m->payload, 2, sel0);
    } else if (argv) {
        resp_encode_command(&m->payload, argc, argv);
    }
    msg_post(sh, m, 0);
    sh->repl->journal_msgs++;
}

/* A background save for a Redis replica parks every shard (shards/persist.c,
 * persist_bgsave_cut_notify): this shard's bytes made before it parked go to
 * shard 0 now, then the mark; the gate puts every shard's bytes before its
 * mark ahead of every shard's after, and the offset between is what the
 * saved file holds (master_sync_cut). A big collection going out in parts
 * goes whole first: the file holds it whole. */
void repl_sync_cut(struct shard *sh)
{
    if (!sh->repl || repl_is_replica(sh->node))
        return;
    if (sh->id == 0)
        rdb_feed_arm(sh); /* the others are parked: this save is theirs */
    live_parts(sh, SIZE_MAX);
    ship_journal(sh);
    struct shard_msg *m = repl_msg_create(sh, MSG_JOURNAL, 0, NULL, 0);
    m->value = JOURNAL_MSG_SYNC_CUT;
    msg_post(sh, m, 0);
    sh->repl->journal_msgs++;
}

/* An AOF rewrite parks every shard (shards/persist.c): this shard's bytes
 * made before it parked go to shard 0 now, then the mark that ends its part
 * of the old incr file (shards/aof.h, the cut). A replica's shards make no
 * stream of their own: its cut is where shard 0 was at the park. */
void repl_stream_cut(struct shard *sh)
{
    if (!sh->repl || repl_is_replica(sh->node))
        return;
    /* a big collection still going out in parts goes whole now: the new
     * base holds it, so no part of it may follow the mark (a list would get
     * those elements twice at load) */
    live_parts(sh, SIZE_MAX);
    ship_journal(sh);
    struct shard_msg *m = repl_msg_create(sh, MSG_JOURNAL, 0, NULL, 0);
    m->value = JOURNAL_MSG_CUT;
    msg_post(sh, m, 0);
}

/* exec_ctx.journal_as: the handler's deterministic form of itself; called
 * more than once, the forms follow each other (SMOVE: SREM src m, SADD dst
 * m, each applied where its key lives). repl_command_begin empties it. */
static void journal_form(struct exec_ctx *ctx, int argc, const struct slice *argv)
{
    struct repl_shard *rs = ctx->shard->repl;
    resp_encode_command(&rs->journal_form, argc, argv);
}

/* Does a RENAME, RENAMENX or COPY go out as itself (JOURNAL_VALUE_COPY)?
 * Not while a snapshot walks this store (it may not have sent the source
 * yet, and have passed the destination's place), and not between keys of
 * two slots: those may be on two shards of a replica, or of this node
 * started again with another thread count, whose AOF load runs each
 * shard's keys on their own (shards/aof.c) and could not take the value
 * from one to the other. Otherwise the value itself goes, as effects. */
static bool value_copy_as_command(const struct repl_shard *rs, const struct exec_ctx *ctx)
{
    return !rs->snaps && ctx->argc >= 3 &&
           key_slot(ctx->argv[1].ptr, ctx->argv[1].len) == key_slot(ctx->argv[2].ptr, ctx->argv[2].len);
}

void repl_command_begin(struct shard *sh, const struct command *cmd, struct exec_ctx *ctx)
{
    struct repl_shard *rs = sh->repl;
    if (!rs || cmd->journal == JOURNAL_EFFECTS)
        return;
    if (cmd->journal == JOURNAL_VALUE_COPY && !value_copy_as_command(rs, ctx))
        return;
    rs->journaling = cmd;
    rs->held_records = 0;
    buf_clear(&rs->journal_form);
    if (cmd->journal == JOURNAL_COMMAND)
        ctx->journal_as = journal_form;
}

void repl_command_end(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv)
{
    struct repl_shard *rs = sh->repl;
    if (!rs || !rs->journaling)
        return;
    rs->journaling = NULL;
    bool changed = rs->held_records > 0 || (cmd->flags & CMD_NO_DB);
    rs->held_records = 0;
    if (cmd->journal == JOURNAL_NODE) {
        send_barrier(sh, argc, changed ? argv : NULL, !(cmd->flags & CMD_NO_DB));
        return;
    }
    if (cmd->journal == JOURNAL_ALWAYS) {
        /* a command every shard runs (PUBLISH) goes out once, with shard 0's
         * part; a replica's own clients' (a PUBLISH there) stay out of the
         * stream it passes on */
        if (atomic_load_explicit(&sh->node->repl_feeding, memory_order_relaxed) && !repl_is_replica(sh->node) &&
            (!(cmd->flags & CMD_ALL_SHARDS) || sh->id == 0))
            resp_encode_command(&rs->journal_out, argc, argv);
        return;
    }
    if (!changed || !atomic_load_explicit(&sh->node->repl_feeding, memory_order_relaxed))
        return;
    journal_select(rs, sh->db);
    if (rs->journal_form.len)
        buf_append(&rs->journal_out, rs->journal_form.data, rs->journal_form.len);
    else
        resp_encode_command(&rs->journal_out, argc, argv);
}

void repl_command_refused(struct shard *sh, const struct command *cmd)
{
    if (sh->repl && cmd->journal == JOURNAL_NODE)
        send_barrier(sh, 0, NULL, false);
}

/* ---- the gate: node-wide records at one point of the stream (shard 0) ----
 *
 * Shard i's stream bytes reach shard 0 in the order shard i made them, and
 * so do its barriers. Once shard i has passed a barrier, what it sends next
 * is held here until every shard has passed that barrier; then the record
 * goes into the stream, followed by what was held. So the record comes after
 * every write any shard made before its part and before every write after
 * it, whatever the interleaving of the shards' batches. Barriers are matched
 * by their rank (the k-th of every shard): a shard runs the parts of
 * node-wide commands in the order they reach it, and all of them are
 * flushes, so two crossing FLUSHALLs give the same stream either way.
 * Snapshot frames (a full sync) are not held: those a shard sends after its
 * barrier reach the replica before the record, which empties the replica's
 * copy again, and what the shard holds after a flush is exactly what the
 * writes held here (after the record) rebuild. Both rest on node-wide
 * records being flushes; anything else node-wide would need its frames held
 * too. */

struct stream_gate {
    int         nshards;
    int        *waiting;  /* per shard: barriers passed and not yet released */
    uint64_t   *passed;   /* per shard: barriers passed in all */
    uint64_t    released; /* barriers released */
    struct buf *held;     /* per shard: [u8 'J' | 'B'][u32 length][bytes] after its first waiting barrier */
    struct buf *records;  /* the record of barrier released + k, k < nrecords */
    int        *cutters;  /* per record: the shards whose barrier there is a sync cut */
    size_t      nrecords, caprecords;
};

static struct stream_gate *gate_create(int nshards)
{
    struct stream_gate *g = mi_zalloc(sizeof(*g));
    g->nshards = nshards;
    g->waiting = mi_calloc((size_t)nshards, sizeof(int));
    g->passed = mi_calloc((size_t)nshards, sizeof(uint64_t));
    g->held = mi_calloc((size_t)nshards, sizeof(struct buf));
    return g;
}

/* Forget everything held (a role change: a replica's stream is its master's). */
static void gate_reset(struct stream_gate *g)
{
    for (int i = 0; i < g->nshards; i++) {
        buf_free(&g->held[i]);
        g->waiting[i] = 0;
        g->passed[i] = 0;
    }
    for (size_t k = 0; k < g->nrecords; k++)
        buf_free(&g->records[k]);
    g->nrecords = 0;
    if (g->cutters)
        memset(g->cutters, 0, g->caprecords * sizeof(int));
    g->released = 0;
}

static void gate_destroy(struct stream_gate *g)
{
    if (!g)
        return;
    gate_reset(g);
    mi_free(g->records);
    mi_free(g->cutters);
    mi_free(g->held);
    mi_free(g->passed);
    mi_free(g->waiting);
    mi_free(g);
}

static void held_put(struct buf *b, char kind, const char *p, uint32_t n)
{
    buf_append(b, &kind, 1);
    buf_append(b, &n, 4);
    if (n)
        buf_append(b, p, n);
}

/* Every shard has passed the oldest waiting barrier: its record, then what
 * each shard sent after it, up to that shard's next barrier. */
static void gate_release(struct shard *sh, struct stream_gate *g)
{
    for (;;) {
        for (int i = 0; i < g->nshards; i++)
            if (g->waiting[i] == 0)
                return;
        struct buf rec = g->records[0];
        int cutters = g->cutters[0];
        memmove(g->records, g->records + 1, (g->nrecords - 1) * sizeof(struct buf));
        memmove(g->cutters, g->cutters + 1, (g->nrecords - 1) * sizeof(int));
        g->cutters[g->nrecords - 1] = 0;
        g->nrecords--;
        g->released++;
        if (rec.len && atomic_load_explicit(&sh->node->repl_feeding, memory_order_relaxed))
            master_stream_bytes_from(sh, AOF_FROM_RECORD, rec.data, rec.len);
        buf_free(&rec);
        /* every shard's bytes before this barrier are in, none after: a
         * sync cut's offset if every shard's mark is this barrier (a
         * node-wide command's barrier crossing the marks leaves none) */
        if (cutters)
            master_sync_cut(sh, cutters == g->nshards);
        for (int i = 0; i < g->nshards; i++) {
            struct buf *h = &g->held[i];
            g->waiting[i]--;
            aof_journal_msg_passed(sh->node, i); /* its barrier */
            size_t at = 0;
            while (at < h->len) {
                char kind = h->data[at];
                uint32_t n;
                memcpy(&n, h->data + at + 1, 4);
                at += 5;
                if (kind == 'B')
                    break; /* the next barrier of this shard: wait again */
                if (kind == 'C')
                    aof_stream_cut(sh->node, i);
                else
                    master_stream_bytes_from(sh, i, h->data + at, n);
                at += n;
            }
            buf_consume(h, at);
        }
    }
}

static bool gate_holding(const struct stream_gate *g)
{
    for (int i = 0; i < g->nshards; i++)
        if (g->waiting[i] > 0)
            return true;
    return false;
}

bool repl_gate_holds(struct shard *sh)
{
    return sh->repl && sh->repl->gate && gate_holding(sh->repl->gate);
}

/* A MSG_JOURNAL from shard `from` at shard 0. */
static void gate_arrive(struct shard *sh, int from, uint64_t kind, const struct buf *p)
{
    struct stream_gate *g = sh->repl->gate;
    if (kind == JOURNAL_MSG_CUT) {
        if (g->waiting[from] == 0)
            aof_stream_cut(sh->node, from);
        else
            held_put(&g->held[from], 'C', NULL, 0);
        return;
    }
    if (kind != JOURNAL_MSG_BARRIER && kind != JOURNAL_MSG_SYNC_CUT) {
        if (g->waiting[from] == 0)
            master_stream_bytes_from(sh, from, p->data, p->len);
        else
            held_put(&g->held[from], 'J', p->data, (uint32_t)p->len);
        return;
    }
    if (repl_is_replica(sh->node))
        return; /* sent before a role change: the gate was reset */
    size_t k = (size_t)(g->passed[from]++ - g->released);
    while (g->nrecords <= k) {
        if (g->nrecords == g->caprecords) {
            size_t was = g->caprecords;
            g->caprecords = g->caprecords ? g->caprecords * 2 : 4;
            g->records = mi_realloc(g->records, g->caprecords * sizeof(struct buf));
            g->cutters = mi_realloc(g->cutters, g->caprecords * sizeof(int));
            memset(g->cutters + was, 0, (g->caprecords - was) * sizeof(int));
        }
        buf_init(&g->records[g->nrecords++]);
    }
    if (kind == JOURNAL_MSG_SYNC_CUT)
        g->cutters[k]++;
    if (g->records[k].len == 0 && p->len)
        buf_append(&g->records[k], p->data, p->len);
    if (g->waiting[from]++ > 0)
        held_put(&g->held[from], 'B', NULL, 0);
    gate_release(sh, g);
    if (!gate_holding(g))
        master_gate_released(sh);
}

/* ---- applying the master's stream (replica) ------------------------------ */

static void apply_segment_start(struct buf *b, char kind, uint32_t n)
{
    buf_append(b, &kind, 1);
    buf_append(b, &n, 4);
}

void apply_put_record(struct buf *b, size_t *open, const struct journal_record *rec)
{
    if (*open == SIZE_MAX || *open >= b->len) {
        *open = b->len;
        apply_segment_start(b, 'R', 0);
    }
    write_record_encode(b, rec);
    uint32_t n = (uint32_t)(b->len - *open - 5);
    memcpy(b->data + *open + 1, &n, 4);
}

void apply_put_command(struct buf *b, size_t *open, int argc, const struct slice *argv)
{
    *open = SIZE_MAX;
    uint32_t n = 4;
    for (int i = 0; i < argc; i++)
        n += 4 + (uint32_t)argv[i].len;
    apply_segment_start(b, 'C', n);
    uint32_t c = (uint32_t)argc;
    buf_append(b, &c, 4);
    for (int i = 0; i < argc; i++) {
        uint32_t l = (uint32_t)argv[i].len;
        buf_append(b, &l, 4);
        buf_append(b, argv[i].ptr, argv[i].len);
    }
}

void apply_put_records(struct buf *b, size_t *open, const char *p, size_t n)
{
    *open = SIZE_MAX;
    apply_segment_start(b, 'R', (uint32_t)n);
    buf_append(b, p, n);
}

void apply_put_object(struct buf *b, size_t *open, struct slice key, int64_t expire_at_ms, unsigned type,
                      const char *body, size_t len)
{
    *open = SIZE_MAX;
    apply_segment_start(b, 'O', (uint32_t)(4 + key.len + 8 + 1 + len));
    uint32_t kl = (uint32_t)key.len;
    buf_append(b, &kl, 4);
    buf_append(b, key.ptr, key.len);
    buf_append(b, &expire_at_ms, 8);
    unsigned char t = (unsigned char)type;
    buf_append(b, &t, 1);
    buf_append(b, body, len);
}

void apply_put_db(struct buf *b, size_t *open, int db)
{
    *open = SIZE_MAX;
    apply_segment_start(b, 'D', 4);
    int32_t d = db;
    buf_append(b, &d, 4);
}

void apply_put_swapdb(struct buf *b, size_t *open, int a, int b2)
{
    *open = SIZE_MAX;
    apply_segment_start(b, 'S', 8);
    int32_t x = a, y = b2;
    buf_append(b, &x, 4);
    buf_append(b, &y, 4);
}

void apply_put_move(struct buf *b, size_t *open, struct slice key, int to)
{
    *open = SIZE_MAX;
    apply_segment_start(b, 'M', (uint32_t)(4 + key.len));
    int32_t t = to;
    buf_append(b, &t, 4);
    buf_append(b, key.ptr, key.len);
}

void apply_put_export(struct buf *b, size_t *open, struct shard_msg *m)
{
    *open = SIZE_MAX;
    apply_segment_start(b, 'X', (uint32_t)sizeof m);
    buf_append(b, &m, sizeof m);
}

/* A key of a Redis master's RDB (rdb_load.c): decoded and built here, on
 * its owner, by the thresholds every load uses. shard 0 checked that it
 * decodes. */
static void apply_object(struct store *st, const char *p, uint32_t n)
{
    uint32_t kl;
    memcpy(&kl, p, 4);
    struct slice key = { p + 4, kl };
    int64_t at;
    memcpy(&at, p + 4 + kl, 8);
    unsigned type = (unsigned char)p[4 + kl + 8];
    const char *body = p + 4 + kl + 9;
    size_t len = n - (4 + kl + 9), used;
    struct decoded_value v;
    if (!serialize_decode_body(type, body, len, &v, &used) || !decoded_value_store(st, key, &v, at))
        log_warning("A key of the master's RDB could not be stored here: '%.*s'", (int)(kl > 64 ? 64 : kl),
                    key.ptr);
}

/* A full sync's staging store for database db, made at its first write. */
static struct store *staging_db(struct shard *sh, int db)
{
    struct repl_shard *rs = sh->repl;
    if (!rs->staging[db]) {
        /* the shard's hook, as for its live stores (the journal, then the
         * invalidations of client-side caching) */
        struct store *st = store_create(sh->heap, shard_store_changed, sh);
        store_set_db(st, db);
        store_set_hold(st, pause_keeps_keys, sh);
        store_set_passive(st, true);
        rs->staging[db] = st;
    }
    return rs->staging[db];
}

/* The store of database db the master's writes go to: the staging one
 * while a full sync loads (load), else the live one (not selected). */
static struct store *apply_db_store(struct shard *sh, bool load, int db)
{
    return load ? staging_db(sh, db) : shard_db(sh, db);
}

static void staging_free(struct repl_shard *rs, int ndbs)
{
    if (!rs->staging)
        return;
    for (int d = 0; d < ndbs; d++)
        if (rs->staging[d])
            store_destroy(rs->staging[d]);
    mi_free(rs->staging);
    rs->staging = NULL;
}

/* A cross-shard command of the master's stream (cross.c) wants copies of
 * its keys here, in its database, as the store stands after the writes
 * before it. */
static void export_keys(struct shard *sh, bool load, struct shard_msg *m)
{
    int db = m->db >= 0 && m->db < sh->ndbs ? m->db : 0;
    keys_export(apply_db_store(sh, load, db), m->argc, m->argv, &m->payload, 0);
}

/* The master's writes applied to our store while a snapshot of it runs
 * here (on a replica, only once promoted: deferred applies) meet its keys
 * sent in parts as a client's write would (repl_key_before_write). */
static void keys_before_write(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv)
{
    int n = command_keys(cmd, argc, argv, NULL, 0);
    int *idx = mi_malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!idx)
        abort();
    command_keys(cmd, argc, argv, idx, n);
    for (int i = 0; i < n && sh->snap_keys_pending > 0; i++)
        repl_key_before_write(sh, &argv[idx[i]]);
    mi_free(idx);
}

static void key_before_write(void *arg, const struct slice *key)
{
    struct shard *sh = arg;
    if (sh->snap_keys_pending > 0)
        repl_key_before_write(sh, key);
}

/* One command of the master's stream, through its table row and handler:
 * the replica ends as its master did. Its clock is the master's: now_ms 0,
 * so no key is past its time to the handler (a key the master still has
 * may be past its TTL by our clock; the master's DEL removes it). */
#define APPLY_ARGS_MAX 64
static void apply_command(struct shard *sh, struct store *st, const char *p, uint32_t n)
{
    struct slice few[APPLY_ARGS_MAX];
    struct slice *args = few;
    uint32_t argc;
    memcpy(&argc, p, 4);
    const char *q = p + 4;
    if (argc == 0)
        return; /* replica.c checked the arity against the row */
    if (argc > APPLY_ARGS_MAX) { /* HSET of many fields, a collection's rebuild */
        args = mi_malloc(argc * sizeof *args);
        if (!args)
            abort();
    }
    for (uint32_t i = 0; i < argc; i++) {
        uint32_t l;
        memcpy(&l, q, 4);
        args[i] = (struct slice){ q + 4, l };
        q += 4 + l;
    }
    (void)n;
    const struct command *cmd = command_lookup(args[0]);
    if (cmd && cmd->subcommands && argc >= 2) /* FUNCTION LOAD, XGROUP CREATE...: the subcommand's row */
        cmd = command_lookup_sub(cmd, args[1]);
    if (!cmd || !cmd->fn)
        return;
    if (st == sh->store && sh->snap_keys_pending > 0 && (cmd->flags & CMD_WRITE))
        keys_before_write(sh, cmd, (int)argc, args);
    struct buf out;
    buf_init(&out);
    struct reply r = { &out, 2 };
    struct exec_ctx ctx = {
        .shard = sh, .store = st, .reply = &r, .argc = (int)argc, .argv = args,
        .client = NULL, .now_ms = 0, .caller_id = 0, .msg = NULL,
    };
    notify_command_begin(sh, st, cmd, (int)argc, args, 0);
    bool counted = store_lookups_counted(st, command_counts_lookups(cmd));
    cmd->fn(&ctx);
    store_lookups_counted(st, counted);
    notify_command_end(sh);
    if (out.len && out.data[0] == '-')
        log_warning("A command of the master's stream failed here: '%.*s': %.*s", (int)args[0].len,
                    args[0].ptr, (int)(out.len > 2 ? out.len - 2 : out.len), out.data);
    buf_free(&out);
    if (args != few)
        mi_free(args);
}

/* FLUSHALL of the master's stream: run on the stream's database (st), the
 * others here flushed with it. */
static void flush_other_dbs(struct shard *sh, bool load, struct store *st)
{
    if (load) {
        for (int d = 0; d < sh->ndbs; d++)
            if (sh->repl->staging[d] && sh->repl->staging[d] != st)
                store_flush(sh->repl->staging[d]);
        return;
    }
    for (SHARD_EACH_DB(sh, d))
        if (sh->dbs[d] != st)
            store_flush(sh->dbs[d]);
}

/* SWAPDB a b of the master's stream, this shard's part. */
static void apply_swapdb(struct shard *sh, bool load, int a, int b)
{
    if (a == b)
        return;
    if (!load) {
        shard_swap_databases(sh, a, b); /* its watchers and blocked clients, as a client's SWAPDB */
        return;
    }
    struct repl_shard *rs = sh->repl;
    struct store *sa = rs->staging[a];
    rs->staging[a] = rs->staging[b];
    rs->staging[b] = sa;
    if (rs->staging[a])
        store_set_db(rs->staging[a], a);
    if (rs->staging[b])
        store_set_db(rs->staging[b], b);
}

/* MOVE key to of a Redis master's stream, from database db: its value and
 * time go to `to` if that lacks the key (the master propagated a MOVE that
 * succeeded there). */
static void apply_move(struct shard *sh, bool load, int db, const char *p, uint32_t n)
{
    int32_t to;
    memcpy(&to, p, 4);
    struct slice key = { p + 4, n - 4 };
    if (to < 0 || to >= sh->ndbs || to == db)
        return;
    struct store *src = apply_db_store(sh, load, db), *dst = apply_db_store(sh, load, to);
    if (!store_peek(src, key, 0) || store_peek(dst, key, 0)) {
        log_warning("A MOVE of the master's stream could not be applied here: '%.*s' to database %d",
                    (int)(key.len > 64 ? 64 : key.len), key.ptr, to);
        return;
    }
    if (!load && sh->snap_keys_pending > 0) {
        shard_select(sh, db);
        repl_key_before_write(sh, &key);
    }
    struct buf copy;
    buf_init(&copy);
    keys_export(src, 1, &key, &copy, 0);
    const char *cursor = copy.data;
    key_import(dst, key, &cursor, 0);
    buf_free(&copy);
    store_delete(src, key);
}

/* A MSG_REPL_APPLY's payload, in order, on the live stores or (load) the
 * staging ones. It starts in database 0; 'D' segments choose another.
 * Records apply with now 0 too. */
static void stream_apply(struct shard *sh, bool load, const struct buf *b)
{
    const char *p = b->data, *end = b->data + b->len;
    int was = sh->db, db = 0;
    /* a full sync's store (the snapshot, then the stream until it is done):
     * no keyspace notifications, as Redis publishes none loading an RDB */
    bool loading = load;
    if (loading)
        notify_quiet(sh, true);
    while (p < end) {
        char kind = *p;
        uint32_t n;
        memcpy(&n, p + 1, 4);
        p += 5;
        if (kind == 'D') {
            int32_t d;
            memcpy(&d, p, 4);
            db = d >= 0 && d < sh->ndbs ? d : 0;
            p += n;
            continue;
        }
        if (kind == 'S') {
            int32_t a, bb;
            memcpy(&a, p, 4);
            memcpy(&bb, p + 4, 4);
            if (a >= 0 && a < sh->ndbs && bb >= 0 && bb < sh->ndbs)
                apply_swapdb(sh, load, a, bb);
            p += n;
            continue;
        }
        if (kind == 'M') {
            apply_move(sh, load, db, p, n);
            p += n;
            continue;
        }
        /* a live database is selected while its writes apply: the hooks
         * and repl_key_before_write take sh->db as the write's */
        struct store *st = apply_db_store(sh, load, db);
        if (!load)
            shard_select(sh, db);
        if (kind == 'R') {
            struct buf view = { (char *)p, n, n };
            if (st == sh->store && sh->snap_keys_pending > 0)
                writes_each_key(&view, key_before_write, sh);
            writes_apply(st, &view, 0);
        } else if (kind == 'O') {
            apply_object(st, p, n);
        } else if (kind == 'X') {
            struct shard_msg *m;
            memcpy(&m, p, sizeof m);
            export_keys(sh, load, m);
            answer(sh, m);
        } else {
            apply_command(sh, st, p, n);
            uint32_t argc, l0;
            memcpy(&argc, p, 4);
            if (argc >= 1 && (memcpy(&l0, p + 4, 4), l0 == 8) && strncasecmp(p + 8, "flushall", 8) == 0)
                flush_other_dbs(sh, load, st);
        }
        p += n;
    }
    if (!load)
        shard_select(sh, was);
    if (loading)
        notify_quiet(sh, false);
}

/* ---- deferred applies: a replica's snapshot for a replica of its own ----
 *
 * A replica serving a full sync (chained) sends its snapshot and then the
 * stream from the sync's offset (master.c, stream_later): the snapshot must
 * hold the state at that offset exactly, because the stream is replayed on
 * top of it, and a command such as INCR or APPEND applied twice does not
 * give the same value (a SET would). So while a snapshot runs on a
 * replica's shard, the master's writes that arrive are kept and applied
 * once it is done (reads on this replica lag meanwhile). A second snapshot
 * starting meanwhile waits, and begins after the writes deferred before its
 * start are applied. */

static bool defers_applies(struct shard *sh)
{
    return sh->repl->snaps != NULL && repl_is_replica(sh->node);
}

static void apply_deferred(struct shard *sh, size_t upto)
{
    struct repl_shard *rs = sh->repl;
    if (upto == 0)
        return;
    struct buf view = { rs->deferred_apply.data, upto, upto };
    stream_apply(sh, false, &view);
    buf_consume(&rs->deferred_apply, upto);
    for (struct snap *s = rs->snaps; s; s = s->next)
        if (s->waiting)
            s->mark = s->mark > upto ? s->mark - upto : 0;
    if (rs->deferred_apply.len == 0 && rs->deferred_apply.cap > SPARE_BUF_MAX)
        buf_free(&rs->deferred_apply);
}

/* No snapshot running here any more: apply what waits, up to the start of
 * the next waiting snapshot (which then runs), or all of it. */
static void snapshots_settle(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    struct snap *next = NULL;
    for (struct snap *s = rs->snaps; s; s = s->next) {
        if (!s->waiting)
            return;
        if (!next || s->mark < next->mark)
            next = s;
    }
    if (!next) {
        apply_deferred(sh, rs->deferred_apply.len);
        return;
    }
    apply_deferred(sh, next->mark);
    for (struct snap *s = rs->snaps; s; s = s->next)
        if (s->waiting && s->mark == 0)
            s->waiting = false;
}

struct frame_sink {
    struct buf   *out;
    size_t        keys;
    struct buf    payload; /* one key's, reused */
    struct snap  *snap;
    struct shard *shard;
};

/* A collection bigger than this goes a part at a time, over turns: a
 * shard's turn stays bounded (SNAPSHOT_SLICE_BYTES) whatever its keys. */
#define SNAP_COLLECTION_WHOLE (2 * COLLECTION_CHUNK)

/* Whether a collection goes in parts: more than SNAP_COLLECTION_WHOLE
 * elements, or more than SNAPSHOT_SLICE_BYTES bytes (a few huge elements:
 * 300 fields of 64 KB are 19 MB to encode in one turn), the rule a slot
 * move's parts follow (store_object_over). */
static bool collection_in_parts(enum value_type t, const void *obj)
{
    return store_object_over(t, obj, SNAP_COLLECTION_WHOLE, SNAPSHOT_SLICE_BYTES);
}

/* The elements a part of a collection takes: COLLECTION_CHUNK, fewer when
 * its elements are big, so that a part is about SNAPSHOT_SLICE_BYTES (by
 * the average of a few of them, store_object_memory's sample); one at
 * least, so an element bigger than that is a part of its own. Taken once
 * a collection, when its parts start: the sample walks a table's buckets
 * from the first until it meets a few elements, which a table being
 * resized (its old half emptied from the start) can make long. */
#define PART_SAMPLES 16
static size_t part_elements(enum value_type t, const void *obj)
{
    size_t n = store_object_len(t, obj);
    if (n == 0)
        return COLLECTION_CHUNK;
    size_t each = store_object_memory(t, obj, PART_SAMPLES) / n + 1;
    size_t fit = SNAPSHOT_SLICE_BYTES / each;
    return fit == 0 ? 1 : fit > COLLECTION_CHUNK ? COLLECTION_CHUNK : fit;
}

static void put_bulk(struct buf *b, const char *p, size_t n)
{
    buf_printf(b, "$%zu\r\n", n);
    buf_append(b, p, n);
    buf_append(b, "\r\n", 2);
}

/* The frames after this go to database db (the frames of a payload start
 * in database 0, *at the one they are in now). */
static void frame_select(struct buf *out, int *at, int db)
{
    if (*at == db)
        return;
    char num[16];
    int n = snprintf(num, sizeof(num), "%d", db);
    buf_append_str(out, "*2\r\n$10\r\n" FRAME_SELECT "\r\n");
    put_bulk(out, num, (size_t)n);
    *at = db;
}

/* The entry of s for key of database db among its big collections under
 * way, or NULL. */
static struct snap_pending *pending_find(struct snap *s, int db, struct slice key)
{
    for (struct snap_pending *p = s->pending; p; p = p->next)
        if (p->db == db && p->klen == key.len && memcmp(p->key, key.ptr, key.len) == 0)
            return p;
    return NULL;
}

static void add_frame(void *arg, struct entry *e)
{
    struct frame_sink *f = arg;
    if (entry_type(e) != TYPE_STRING) {
        /* a collection goes as the commands that rebuild it, in chunks; a
         * big one over the next turns (snapshot_slices, pending_parts) */
        struct slice key = { entry_key(e), entry_key_len(e) };
        f->keys++;
        bool big = collection_in_parts(entry_type(e), entry_object(e));
        if (big && pending_find(f->snap, f->snap->db, key))
            return; /* met again (the walk may visit a key twice): its parts are under way */
        frame_select(f->out, &f->snap->frames_db, f->snap->db);
        /* what the stream made of the key on the replica before this frame
         * is in the value sent now (this shard's stream bytes go ahead of
         * its frames): the copy starts empty, as a string's RESTORE
         * replaces. Else a push the replica applied before the list's
         * frames (the key not yet met, or writes racing the snapshot's
         * start) would be in it twice. */
        buf_append_str(f->out, "*3\r\n$11\r\n" FRAME_LOADCMD "\r\n$3\r\nDEL\r\n");
        put_bulk(f->out, key.ptr, key.len);
        if (!big) {
            journal_encode_collection(f->out, FRAME_LOADCMD, key, entry_type(e), entry_object(e),
                                      entry_expire_at(e));
            return;
        }
        struct snap_pending *p = mi_malloc(sizeof *p + key.len);
        if (!p)
            abort();
        p->next = NULL;
        p->cursor = 0;
        p->db = f->snap->db;
        p->type = entry_type(e);
        p->part_elems = part_elements(p->type, entry_object(e));
        /* a list's parts go by index, head to tail, which the stream's
         * pushes and pops would shift: a write to it sends the rest first
         * (repl_key_before_write). A hash's, a set's or a zset's parts
         * carry current elements and meet its writes harmlessly. */
        p->held = p->type == TYPE_LIST;
        p->object = NULL;
        if (p->held)
            f->shard->snap_keys_pending++;
        p->klen = key.len;
        memcpy(p->key, key.ptr, key.len);
        if (!f->snap->pending)
            f->snap->pending_tail = &f->snap->pending;
        *f->snap->pending_tail = p;
        f->snap->pending_tail = &p->next;
        return;
    }
    char t[24];
    int tl = snprintf(t, sizeof(t), "%lld", (long long)entry_expire_at(e));
    frame_select(f->out, &f->snap->frames_db, f->snap->db);
    buf_append_str(f->out, "*4\r\n$11\r\n" FRAME_RESTORE "\r\n");
    put_bulk(f->out, entry_key(e), entry_key_len(e));
    put_bulk(f->out, t, (size_t)tl);
    buf_clear(&f->payload);
    serialize_dump(e, &f->payload);
    put_bulk(f->out, f->payload.data, f->payload.len);
    f->keys++;
}

static void pending_free(struct shard *sh, struct snap_pending *p)
{
    if (p->held)
        sh->snap_keys_pending--;
    mi_free(p);
}

/* ---- the live stream's big collections, in parts --------------------------
 *
 * A record giving a key a big collection whole (a SET carrying an object:
 * a slot move's last part installing a staged collection, RESTORE of a
 * big payload, SUNIONSTORE...) would be encoded whole in the turn that
 * made it: hundreds of ms for a million elements, every client of the
 * shard waiting. Instead, as the snapshot does with its big collections
 * (the same snap_pending, the same journal_encode_collection_part), the
 * stream carries DEL key at once and the elements over the next turns,
 * SNAPSHOT_SLICE_BYTES a turn (live_parts), each part read from the
 * collection as it is then:
 *  - a write to the key sends the rest first (repl_key_before_write: the
 *    key is one of snap_keys_pending), so every write meets it whole on
 *    the replica;
 *  - the key gone or holding another object (expired, evicted: the stream
 *    carries what became of it) ends its parts;
 *  - a WAIT (or a FAILOVER) asking this shard to flush its stream is
 *    answered once the parts are all shipped (struct repl_shard's
 *    flush_held), so the offset it waits for covers the collections: a
 *    slot move's WAIT after its last part means the target's replicas
 *    have the key whole before the source deletes it;
 *  - a full sync's snapshot starting here sends every rest first
 *    (MSG_SNAP_START: the stream before its start is complete), and while
 *    a snapshot runs here a big collection is journaled whole (its walk
 *    could meet the key and send it too: a list would get its elements
 *    twice).
 * A replica reads the collection growing over those turns (its master's
 * stream is a sequence of writes; the snapshot's parts do the same). */

static struct snap_pending *live_find(struct repl_shard *rs, int db, struct slice key, struct snap_pending ***where)
{
    struct snap_pending **pp = &rs->live;
    while (*pp && ((*pp)->db != db || (*pp)->klen != key.len || memcmp((*pp)->key, key.ptr, key.len) != 0))
        pp = &(*pp)->next;
    *where = pp;
    return *pp;
}

static void live_unlink(struct shard *sh, struct snap_pending **pp)
{
    struct repl_shard *rs = sh->repl;
    struct snap_pending *p = *pp;
    *pp = p->next;
    if (rs->live_tail == &p->next)
        rs->live_tail = pp;
    pending_free(sh, p);
}

static bool live_part_start(struct shard *sh, const struct journal_record *rec)
{
    struct repl_shard *rs = sh->repl;
    if (rec->op != JOURNAL_SET || rec->type == TYPE_STRING || !rec->object || rs->snaps ||
        !collection_in_parts(rec->type, rec->object))
        return false;
    struct snap_pending **pp;
    if (live_find(rs, rec->db, rec->key, &pp))
        live_unlink(sh, pp); /* (its rest went before the write: this replaces it) */
    struct slice del[] = { SLICE_LIT("DEL"), rec->key };
    resp_encode_command(&rs->journal_out, 2, del);
    struct snap_pending *p = mi_malloc(sizeof *p + rec->key.len);
    if (!p)
        abort();
    p->next = NULL;
    p->cursor = 0;
    p->db = rec->db;
    p->type = rec->type;
    p->part_elems = part_elements(rec->type, rec->object);
    p->held = true;
    p->object = rec->object;
    p->klen = rec->key.len;
    memcpy(p->key, rec->key.ptr, rec->key.len);
    if (!rs->live)
        rs->live_tail = &rs->live;
    *rs->live_tail = p;
    rs->live_tail = &p->next;
    sh->snap_keys_pending++;
    return true;
}

/* The next parts of the live stream's big collections, up to `budget`
 * bytes (SIZE_MAX: all of them), into this turn's stream bytes. */
static void live_parts(struct shard *sh, size_t budget)
{
    struct repl_shard *rs = sh->repl;
    int64_t now = repl_is_replica(sh->node) ? 0 : shard_now_ms(sh);
    size_t start = rs->journal_out.len;
    while (rs->live && rs->journal_out.len - start < budget) {
        struct snap_pending *p = rs->live;
        struct slice key = { p->key, p->klen };
        struct entry *e = store_peek(shard_db(sh, p->db), key, now);
        bool same = e && entry_object(e) == p->object;
        if (same)
            journal_select(rs, p->db);
        if (same)
            p->cursor = journal_encode_collection_part(&rs->journal_out, NULL, key, p->type, entry_object(e),
                                                       entry_expire_at(e), p->cursor,
                                                       budget == SIZE_MAX ? SIZE_MAX : p->part_elems);
        if (!same || p->cursor == 0)
            live_unlink(sh, &rs->live);
    }
}

/* A write is about to reach key: its live parts' rest goes first. */
static void live_before_write(struct shard *sh, const struct slice *key)
{
    struct repl_shard *rs = sh->repl;
    struct snap_pending **pp;
    struct snap_pending *p = live_find(rs, sh->db, *key, &pp);
    if (!p)
        return;
    int64_t now = repl_is_replica(sh->node) ? 0 : shard_now_ms(sh);
    struct entry *e = store_peek(sh->store, *key, now);
    if (e && entry_object(e) == p->object)
        journal_select(rs, p->db);
    if (e && entry_object(e) == p->object)
        journal_encode_collection_part(&rs->journal_out, NULL, *key, p->type, entry_object(e),
                                       entry_expire_at(e), p->cursor, SIZE_MAX);
    live_unlink(sh, pp);
}

static void snap_free(struct shard *sh, struct snap *s)
{
    while (s->pending) {
        struct snap_pending *p = s->pending;
        s->pending = p->next;
        pending_free(sh, p);
    }
    snap_flow_unref(s->flow);
    mi_free(s);
}

/* The next parts of the big collections s has met, until out holds a
 * slice. A hash, set or zset may have changed since the last part (its
 * writes reach the replica as whole-element commands:
 * journal_encode_collection_part); a list has not (a write to it sent its
 * rest first). It may be gone, or hold a value of another type now: then
 * it is dropped, the stream carries what became of it (its cursor means
 * nothing in the new value: a hash's cursor taken as a list's index would
 * send that list's elements again). */
static void pending_parts(struct shard *sh, struct snap *s, int64_t now, struct buf *out)
{
    while (s->pending && out->len < SNAPSHOT_SLICE_BYTES) {
        struct snap_pending *p = s->pending;
        struct slice key = { p->key, p->klen };
        struct entry *e = sh->dbs[p->db] ? store_peek(sh->dbs[p->db], key, now) : NULL;
        bool same = e && entry_type(e) == p->type;
        if (same)
            frame_select(out, &s->frames_db, p->db);
        if (same)
            p->cursor = journal_encode_collection_part(out, FRAME_LOADCMD, key, p->type, entry_object(e),
                                                       entry_expire_at(e), p->cursor, p->part_elems);
        if (!same || p->cursor == 0) {
            s->pending = p->next;
            pending_free(sh, p);
        }
    }
}

/* A write is about to reach key (shards/node.h, journal_sink.key_before_write;
 * the runtime asks only while sh->snap_keys_pending > 0). If a snapshot
 * still has parts of key to send, a list's (those go by index), the rest
 * goes now and the key is done for that snapshot: the stream bytes of the
 * writes before go first (shipped now), then the frames, then, at the end
 * of the turn, this write's own bytes; one mailbox carries them to shard 0
 * in that order. The window (flow.c) is not asked: the write cannot wait. */
void repl_key_before_write(struct shard *sh, const struct slice *key)
{
    struct repl_shard *rs = sh->repl;
    if (rs->live)
        live_before_write(sh, key);
    int64_t now = repl_is_replica(sh->node) ? 0 : shard_now_ms(sh);
    for (struct snap *s = rs->snaps; s && sh->snap_keys_pending > 0; s = s->next) {
        struct snap_pending **pp = &s->pending;
        while (*pp && ((*pp)->type != TYPE_LIST || (*pp)->db != sh->db || (*pp)->klen != key->len ||
                       memcmp((*pp)->key, key->ptr, key->len) != 0))
            pp = &(*pp)->next;
        struct snap_pending *p = *pp;
        if (!p)
            continue;
        *pp = p->next;
        if (s->pending_tail == &p->next)
            s->pending_tail = pp;
        struct entry *e = store_peek(sh->store, *key, now);
        if (e && entry_type(e) == TYPE_LIST && !(s->flow && atomic_load(&s->flow->cancelled))) {
            struct buf frames;
            buf_init(&frames);
            int at = 0;
            frame_select(&frames, &at, p->db);
            journal_encode_collection_part(&frames, FRAME_LOADCMD, *key, TYPE_LIST, entry_object(e),
                                           entry_expire_at(e), p->cursor, SIZE_MAX);
            frame_select(&frames, &at, 0);
            ship_journal(sh);
            if (s->flow)
                atomic_fetch_add(&s->flow->inflight, (long long)frames.len);
            repl_post(sh, 0, MSG_SNAP_DATA, s->replica_id, NULL, &frames);
            buf_free(&frames);
        }
        pending_free(sh, p);
    }
}

/* Has s's walk keys left to visit? Once a database's walk is over it goes
 * on to the next made here, by index (one made since, of a lower index,
 * holds only writes made after the start: the stream brings them). */
static bool snap_walking(struct shard *sh, struct snap *s)
{
    for (;;) {
        if (sh->dbs[s->db] && (!s->started || s->cursor != 0))
            return true;
        int next = s->db + 1;
        while (next < sh->ndbs && !sh->dbs[next])
            next++;
        if (next >= sh->ndbs)
            return false;
        s->db = next;
        s->cursor = 0;
        s->started = false;
    }
}

/* One slice of each snapshot in progress: a few hundred KB of keys, sent
 * after this turn's journal bytes so the replica sees both in the order
 * they happened here. */
static void snapshot_slices(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    struct snap **pp = &rs->snaps;
    /* a replica's snapshot holds the keys its clock calls expired too: its
     * master may have extended them, and the stream will say so (its DEL
     * removes them otherwise); they carry their time, so the receiver hides
     * them as we do */
    int64_t now = repl_is_replica(sh->node) ? 0 : shard_now_ms(sh);
    while (*pp) {
        struct snap *s = *pp;
        if (s->flow && atomic_load(&s->flow->cancelled)) {
            *pp = s->next; /* its replica was dropped or went away */
            snap_free(sh, s);
            continue;
        }
        if (s->waiting || (s->flow && snap_flow_full(s->flow))) {
            pp = &s->next; /* the replica has enough to read; woken when it drains */
            continue;
        }
        struct buf frames;
        buf_init(&frames);
        struct frame_sink sink = { &frames, 0, { NULL, 0, 0 }, s, sh };
        s->frames_db = 0; /* a payload starts in database 0 */
        pending_parts(sh, s, now, &frames);
        while (snap_walking(sh, s) && frames.len < SNAPSHOT_SLICE_BYTES) {
            s->cursor = store_scan(sh->dbs[s->db], s->cursor, 128, now, add_frame, &sink);
            s->started = true;
            pending_parts(sh, s, now, &frames);
        }
        frame_select(&frames, &s->frames_db, 0); /* and ends in it */
        if (frames.len) {
            if (s->flow)
                atomic_fetch_add(&s->flow->inflight, (long long)frames.len);
            repl_post(sh, 0, MSG_SNAP_DATA, s->replica_id, NULL, &frames);
        }
        buf_free(&frames);
        buf_free(&sink.payload);
        /* (a write may have sent the last pending key's rest since the
         * last turn: repl_key_before_write) */
        if (!snap_walking(sh, s) && !s->pending) {
            repl_post(sh, 0, MSG_SNAP_DONE, s->replica_id, NULL, NULL);
            *pp = s->next;
            snap_free(sh, s);
        } else {
            pp = &s->next;
        }
    }
    snapshots_settle(sh);
}

/* The flush requests held while live parts remained: their bytes are
 * shipped (ahead of the answers, in the same mailbox). */
static void flush_answer_held(struct shard *sh)
{
    struct repl_shard *rs = sh->repl;
    for (size_t i = 0; i + sizeof(struct shard_msg *) <= rs->flush_held.len; i += sizeof(struct shard_msg *)) {
        struct shard_msg *m;
        memcpy(&m, rs->flush_held.data + i, sizeof(m));
        answer(sh, m);
    }
    buf_clear(&rs->flush_held);
}

void repl_shard_turn(struct shard *sh)
{
    if (!sh->repl)
        return;
    if (sh->repl->live)
        live_parts(sh, SNAPSHOT_SLICE_BYTES);
    ship_journal(sh);
    if (!sh->repl->live && sh->repl->flush_held.len > 0)
        flush_answer_held(sh);
    if (sh->repl->snaps)
        snapshot_slices(sh);
    if (sh->id == 0)
        master_flush_feeds(sh);
}

static bool snapshot_ready(struct shard *sh)
{
    for (struct snap *s = sh->repl ? sh->repl->snaps : NULL; s; s = s->next)
        if (!s->waiting && (!s->flow || !snap_flow_full(s->flow)))
            return true;
    return false;
}

bool repl_turn_pending(struct shard *sh)
{
    /* stream bytes made after this turn's ship (requests from other
     * shards, run in the mail exchange) go next turn, not at the next
     * wake: replies may wait for them (shards/aof_fence.h) */
    return master_feeds_held(sh) || snapshot_ready(sh) ||
           (sh->repl && (sh->repl->live || sh->repl->journal_out.len > 0));
}

void repl_replica_sent(struct shard *sh, struct conn *c, struct client *cl)
{
    if (cl->repl_flow) /* its full sync's snapshot is paced by what it reads */
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
    if (sh->repl->gate) {
        gate_reset(sh->repl->gate);
        master_gate_released(sh); /* nothing is held any more */
    }
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
    switch ((int)m->kind) {
    case MSG_JOURNAL:
        gate_arrive(sh, m->home, m->value, &m->payload);
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
        if (defers_applies(sh)) {
            /* a replica's snapshot holds the state at its start exactly:
             * one already running here delays this one */
            s->waiting = true;
            s->mark = rs->deferred_apply.len;
        }
        s->next = rs->snaps;
        rs->snaps = s;
        /* journal bytes from before this point go out first, the live
         * stream's big collections whole among them */
        live_parts(sh, SIZE_MAX);
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
        if (m->value > atomic_load_explicit(&rs->applied_seq, memory_order_relaxed))
            atomic_store_explicit(&rs->applied_seq, m->value, memory_order_release);
        if (!rs->staging && defers_applies(sh))
            buf_append(&rs->deferred_apply, m->payload.data, m->payload.len);
        else
            stream_apply(sh, rs->staging != NULL, &m->payload);
        break;
    case MSG_LOAD_BEGIN:
        /* our own full sync: what we deferred belongs to the stores it replaces */
        apply_deferred(sh, rs->deferred_apply.len);
        staging_free(rs, sh->ndbs);
        /* a store per database, made as the sync writes there (staging_db) */
        rs->staging = mi_calloc((size_t)sh->ndbs, sizeof(struct store *));
        break;
    case MSG_LOAD_END:
        if (rs->staging) {
            staging_db(sh, 0); /* database 0 is always there */
            shard_dbs_replace(sh, rs->staging, sh->ndbs);
            mi_free(rs->staging);
            rs->staging = NULL;
            tracking_flushed(sh); /* every key may have changed */
            watch_flushed(sh);
        }
        break;
    case MSG_LOAD_ABORT:
        staging_free(rs, sh->ndbs);
        break;
    case MSG_ROLE:
        if (m->value == 0) {
            /* promoted: clients' writes now come here directly, after
             * every write of the old master's stream */
            apply_deferred(sh, rs->deferred_apply.len);
            for (struct snap *s = rs->snaps; s; s = s->next)
                s->waiting = false;
        }
        shard_set_passive(sh, m->value != 0);
        for (int d = 0; rs->staging && d < sh->ndbs; d++)
            if (rs->staging[d])
                store_set_passive(rs->staging[d], m->value != 0);
        break;
    case MSG_FLUSH_JOURNAL:
        ship_journal(sh);
        if (rs->live) { /* answered once the live parts are shipped (repl_shard_turn) */
            buf_append(&rs->flush_held, &m, sizeof(m));
            return;
        }
        break;
    case MSG_APPLY_FENCE:
        /* the applies shard 0 posted before it are done: the answer says so */
        break;
    case MSG_REPL_EXPORT:
        if (!rs->staging && defers_applies(sh)) {
            /* behind the writes deferred before it (a snapshot runs here):
             * answered when they are applied */
            size_t open = SIZE_MAX;
            apply_put_export(&rs->deferred_apply, &open, m);
            return;
        }
        export_keys(sh, rs->staging != NULL, m);
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
            if (m->value == ATTACH_REFUSED_CLOSE)
                conn_close(c, true); /* once the refusal is sent */
            else
                conn_flush(c);
        }
    } else if ((int)m->kind == MSG_FLUSH_JOURNAL) {
        if (m->arg)
            master_flushed(sh, m->arg);
        else
            failover_flushed(sh);
    } else if ((int)m->kind == MSG_APPLY_FENCE) {
        replica_fence_passed(sh, m->value);
    } else if ((int)m->kind == MSG_REPL_EXPORT) {
        cross_exported(sh, m);
        return; /* cross.c frees it */
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
