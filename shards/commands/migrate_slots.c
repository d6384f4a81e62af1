/* cmd_ringkv_migrateslots: RINGKV-MIGRATESLOTS host port timeout [AUTH
 * password | AUTH2 username password] [BATCH keys] [PIPELINE batches]
 * SLOTS slot [slot ...]: the source of a slot move pushes every key of
 * the slots to the target itself (issue 11; ringkv-cluster's way of
 * moving keys, shards/cluster/tool_reshard.c), instead of the admin tool
 * asking CLUSTER GETKEYSINSLOT and sending a MIGRATE per batch: no round
 * trip to the tool per batch, no listing sent to it.
 *
 * How: the push runs on shard 0 (the row is CMD_SHARD0, its answer held
 * as MIGRATE's is). It asks the shard owning the slots for their keys
 * (one message: the keys of as many of the slots, in their order, as fit
 * in LIST_KEYS_MAX(batch, pipeline) names; a slot with none is done),
 * cuts them into batches of BATCH keys (default 100) and keeps up to
 * PIPELINE batches (default 8) in flight, each one MIGRATE ... REPLACE
 * KEYS of MIGRATE's machinery (migrate.h: dumped on the keys' shard, sent
 * as RESTORE-ASKING on a migrate link to the target, one link a batch in
 * flight, kept for the next; the target's replicas waited for, ROLE +
 * WAIT; the keys acknowledged deleted here only if unchanged, journaled
 * as DELs; each key in flight from its dump to its settle, its writes held
 * meanwhile). Once a listing's batches are all back, the slots are listed
 * again from the first one not yet found empty: what a batch kept (a key
 * written between two batches) goes again. With the slots marked
 * MIGRATING (as the tool does before), a key missing here is created on
 * the target (-ASK), so a slot found empty stays so.
 *
 * The answer, once every slot was found empty: an array of two integers,
 * the keys the target acknowledged and the longest a batch was in flight
 * in ms (from its start to its settle: the longest a write of one of its
 * keys waited here). Or the first batch's error (MIGRATE's text: "IOERR
 * error or timeout ...", "ERR Target instance replied with error: ...",
 * a READONLY refusal), given once the batches in flight are back: the
 * keys not acknowledged stay here, those of batches that were acknowledged
 * are at the target (slots half moved, as after a MIGRATE that failed:
 * the tool runs it again).
 *
 * Cluster mode only (keys by slot: shards/store/slot_index.h). Big
 * collections go as MIGRATE sends them: one RESTORE a key, dumped in
 * DUMP_TURN_BYTES slices of a loop turn. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <mimalloc.h>

#include "core/buf.h"
#include "core/command.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/commands/commands.h"
#include "shards/commands/migrate.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

#define BATCH_DEFAULT    100
#define PIPELINE_DEFAULT 8
#define BATCH_MAX        100000
#define PIPELINE_MAX     256

/* Names listed at once: enough for the pipeline to stay full several
 * times over (a listing is one message to the owner and back, a loop turn
 * of each), few enough that the owner's walk is a short slice of a loop
 * turn (about 0.1 us a key) and the names a few hundred KB at most. */
static size_t list_keys_max(int batch, int pipeline)
{
    size_t n = (size_t)batch * (size_t)pipeline * 4;
    return n < 1024 ? 1024 : n > 65536 ? 65536 : n;
}

enum { PUSH_MSG_LIST = 1 };

struct slot_push {
    struct shard         *sh;
    struct shard_msg     *msg;       /* the command, answered at the end */
    struct migrate_target target;
    int                   batch, pipeline;
    int                   nslots;
    uint16_t             *slots;
    bool                 *empty;     /* by index into slots: found with no key */
    int                   first;     /* slots before it are all empty */
    /* the current listing: names (their bytes in `names`), sent from `next` on */
    struct buf            names;
    struct slice         *keys;
    int                   nkeys, next;
    int                   in_flight; /* batches out */
    bool                  listing;   /* a listing out */
    long long             acked, longest_ms;
    struct buf            error;     /* the first batch's error */
};

struct push_batch {
    struct slot_push *p;
    int64_t           started_ms;
};

static void push_go_on(struct slot_push *p);

static void push_free(struct slot_push *p)
{
    buf_free(&p->names);
    buf_free(&p->error);
    mi_free(p->keys);
    mi_free(p->slots);
    mi_free(p->empty);
    mi_free(p);
}

static void push_answer(struct slot_push *p)
{
    struct shard_msg *m = p->msg;
    struct reply r = { &m->reply, m->proto };
    if (p->error.len > 0) {
        buf_append(&p->error, "", 1);
        reply_error(&r, p->error.data);
    } else {
        reply_array(&r, 2);
        reply_int(&r, p->acked);
        reply_int(&r, p->longest_ms);
    }
    m->answered = true;
    msg_post(p->sh, m, m->home);
    push_free(p);
}

/* --------------------------------------------------- the listing */

/* At the owner: each slot of the payload (u16 each, all this shard's) in
 * order, its keys while they fit in m->value names: per slot visited u32
 * count, then count times u32 length and the name. A slot not reached is
 * not in the reply. */
struct listing {
    struct buf *out;
    uint32_t    count;
};

static void list_one(void *arg, struct entry *e)
{
    struct listing *l = arg;
    uint32_t len = (uint32_t)entry_key_len(e);
    buf_append(l->out, &len, 4);
    buf_append(l->out, entry_key(e), len);
    l->count++;
}

static void list_keys(struct shard *sh, struct shard_msg *m)
{
    size_t room = (size_t)m->value;
    int64_t now = shard_now_ms(sh);
    const uint16_t *slots = (const uint16_t *)m->payload.data;
    size_t n = m->payload.len / sizeof(uint16_t);
    for (size_t i = 0; i < n && room > 0; i++) {
        size_t at = m->reply.len;
        struct listing l = { &m->reply, 0 };
        buf_append(&m->reply, &l.count, 4);
        store_slot_keys(sh->store, slots[i], room, now, list_one, &l);
        memcpy(m->reply.data + at, &l.count, 4);
        room -= l.count;
    }
}

/* Back home: the names become the current listing; the slots found with
 * none are done. */
static void listed(struct slot_push *p, struct shard_msg *m)
{
    buf_clear(&p->names);
    buf_append(&p->names, m->reply.data, m->reply.len);
    int cap = 0;
    for (const char *q = p->names.data, *end = q + p->names.len; q < end;) {
        uint32_t c;
        memcpy(&c, q, 4);
        q += 4;
        for (uint32_t k = 0; k < c; k++) {
            uint32_t len;
            memcpy(&len, q, 4);
            q += 4 + len;
        }
        cap += (int)c;
    }
    mi_free(p->keys);
    p->keys = mi_malloc(sizeof(struct slice) * (size_t)(cap > 0 ? cap : 1));
    p->nkeys = 0;
    p->next = 0;
    const uint16_t *asked = (const uint16_t *)m->payload.data;
    size_t nasked = m->payload.len / sizeof(uint16_t), visited = 0;
    for (const char *q = p->names.data, *end = q + p->names.len; q < end; visited++) {
        uint32_t c;
        memcpy(&c, q, 4);
        q += 4;
        if (c == 0) /* the slot's index in p->slots: the first not empty with this number */
            for (int i = p->first; i < p->nslots; i++)
                if (!p->empty[i] && p->slots[i] == asked[visited]) {
                    p->empty[i] = true;
                    break;
                }
        for (uint32_t k = 0; k < c; k++) {
            uint32_t len;
            memcpy(&len, q, 4);
            q += 4;
            p->keys[p->nkeys++] = (struct slice){ q, len };
            q += len;
        }
    }
    (void)nasked;
    while (p->first < p->nslots && p->empty[p->first])
        p->first++;
}

static void push_message(struct shard *sh, struct shard_msg *m)
{
    if (!m->answered) {
        list_keys(sh, m);
        m->answered = true;
        msg_post(sh, m, m->home);
        return;
    }
    struct slot_push *p = m->arg;
    p->listing = false;
    if (p->error.len == 0)
        listed(p, m);
    msg_free(m);
    push_go_on(p);
}

/* The slots not found empty yet that the owner of the first of them owns,
 * listed there. */
static void list_next(struct slot_push *p)
{
    struct shard *sh = p->sh;
    int owner = shard_of_slot(sh->node, p->slots[p->first]);
    struct buf slots;
    buf_init(&slots);
    for (int i = p->first; i < p->nslots; i++)
        if (!p->empty[i] && shard_of_slot(sh->node, p->slots[i]) == owner)
            buf_append(&slots, &p->slots[i], sizeof(uint16_t));
    struct shard_msg *m = msg_create(PUSH_MSG_LIST, sh->id, owner, NULL, -1, NULL, 0);
    m->handler = push_message;
    m->arg = p;
    m->payload = slots;
    m->value = list_keys_max(p->batch, p->pipeline);
    p->listing = true;
    msg_post(sh, m, owner);
}

/* ------------------------------------------------------ the batches */

static void batch_done(void *arg, const char *err, int acked)
{
    struct push_batch *b = arg;
    struct slot_push *p = b->p;
    long long took = shard_now_ms(p->sh) - b->started_ms;
    mi_free(b);
    p->in_flight--;
    p->acked += acked;
    if (took > p->longest_ms)
        p->longest_ms = took;
    if (err && p->error.len == 0)
        buf_append(&p->error, err, strlen(err));
    push_go_on(p);
}

/* The next step: more batches of the listing while the pipeline has room;
 * once they are all back, the next listing; once every slot is found
 * empty (or a batch failed and the others are back), the answer. */
static void push_go_on(struct slot_push *p)
{
    if (p->listing)
        return;
    if (p->error.len > 0) {
        if (p->in_flight == 0)
            push_answer(p);
        return;
    }
    while (p->next < p->nkeys && p->in_flight < p->pipeline) {
        int n = p->nkeys - p->next < p->batch ? p->nkeys - p->next : p->batch;
        struct push_batch *b = mi_malloc(sizeof(*b));
        b->p = p;
        b->started_ms = shard_now_ms(p->sh);
        p->in_flight++;
        struct slice *keys = p->keys + p->next;
        p->next += n;
        migrate_batch(p->sh, &p->target, keys, n, batch_done, b);
    }
    if (p->in_flight > 0 || p->next < p->nkeys)
        return;
    if (p->first >= p->nslots) {
        push_answer(p);
        return;
    }
    list_next(p);
}

/* ------------------------------------------------------ the command */

static bool positive(struct exec_ctx *ctx, struct slice s, long long max, int *out)
{
    long long v;
    if (!parse_ll(s, &v)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return false;
    }
    if (v <= 0 || v > max) {
        reply_error(ctx->reply, "ERR value is out of range, must be positive");
        return false;
    }
    *out = (int)v;
    return true;
}

void cmd_ringkv_migrateslots(struct exec_ctx *ctx)
{
    int argc = ctx->argc;
    const struct slice *argv = ctx->argv;
    if (!ctx->shard->node->cluster) {
        reply_error(ctx->reply, "ERR This instance has cluster support disabled");
        return;
    }
    struct migrate_target t = { .replace = true };
    int batch = BATCH_DEFAULT, pipeline = PIPELINE_DEFAULT, first_slot = -1;
    long long timeout;
    if (!parse_ll(argv[3], &timeout)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    t.timeout_ms = timeout > 0 ? timeout : 1000;
    for (int j = 4; j < argc; j++) {
        int more = argc - 1 - j;
        if (slice_eq_nocase(argv[j], "auth") && more >= 1) {
            t.pass = argv[++j];
        } else if (slice_eq_nocase(argv[j], "auth2") && more >= 2) {
            t.user = argv[++j];
            t.pass = argv[++j];
        } else if (slice_eq_nocase(argv[j], "batch") && more >= 1) {
            if (!positive(ctx, argv[++j], BATCH_MAX, &batch))
                return;
        } else if (slice_eq_nocase(argv[j], "pipeline") && more >= 1) {
            if (!positive(ctx, argv[++j], PIPELINE_MAX, &pipeline))
                return;
        } else if (slice_eq_nocase(argv[j], "slots") && more >= 1) {
            first_slot = j + 1;
            break;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    if (first_slot < 0) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    int nslots = argc - first_slot;
    uint16_t *slots = mi_malloc(sizeof(uint16_t) * (size_t)nslots);
    for (int i = 0; i < nslots; i++) {
        long long s;
        if (!parse_ll(argv[first_slot + i], &s) || s < 0 || s >= SLOT_COUNT) {
            mi_free(slots);
            reply_error(ctx->reply, "ERR Invalid or out of range slot");
            return;
        }
        slots[i] = (uint16_t)s;
    }
    if (!ctx->msg) {
        mi_free(slots);
        reply_error(ctx->reply, "ERR RINGKV-MIGRATESLOTS could not be run here");
        return;
    }
    t.bad_addr = !migrate_parse_addr(argv[1], argv[2], &t.addr);
    struct slot_push *p = mi_zalloc(sizeof(*p));
    p->sh = ctx->shard;
    p->msg = ctx->msg;
    p->target = t;
    p->batch = batch;
    p->pipeline = pipeline;
    p->nslots = nslots;
    p->slots = slots;
    p->empty = mi_calloc((size_t)nslots, sizeof(bool));
    buf_init(&p->names);
    buf_init(&p->error);
    ctx->deferred = true;
    list_next(p);
}
