/* cmd_ringkv_migrateslots: RINGKV-MIGRATESLOTS host port timeout [AUTH
 * password | AUTH2 username password] [BATCH keys] [PIPELINE batches]
 * [RESTORES MANY|ONE] SLOTS slot [slot ...]: the source of a slot move pushes every key of
 * the slots to the target itself (issue 11; ringkv-cluster's way of
 * moving keys, shards/cluster/tool_reshard.c), instead of the admin tool
 * asking CLUSTER GETKEYSINSLOT and sending a MIGRATE per batch: no round
 * trip to the tool per batch, no listing sent to it.
 *
 * How: the push runs on shard 0 (the row is CMD_SHARD0, its answer held
 * as MIGRATE's is). It asks the shard owning the slots for one batch at a
 * time (a listing: a message with up to LIST_SLOTS_MAX of the slots not
 * found empty yet, in their order), and that shard lists and dumps up to
 * BATCH keys (default 100) in one walk of its keys-by-slot index (one
 * lookup a key, the next keys' buckets prefetched), leaving out the keys
 * already in flight (skipped by their hash before any lookup), and marks
 * them in flight (their writes held from then on). Up to PIPELINE
 * (default 8) listings and batches are out at once; each batch is one
 * MIGRATE ... REPLACE KEYS of MIGRATE's machinery from the connect on
 * (migrate.h, migrate_batch_dumped: sent on a migrate link to the target
 * as one RINGKV-RESTOREMANY per slot's keys in the batch, the target being
 * ringkv (RESTORES MANY, the default; RESTORES ONE: a RESTORE-ASKING a
 * key, as MIGRATE sends them), one link a batch in flight, kept for the next; the
 * target's replicas waited for, ROLE + WAIT; the keys acknowledged
 * deleted here only if unchanged, journaled as DELs; every key settled).
 * A slot is done once a listing finds no key of it, none in flight
 * either; a listing that finds nothing while batches are out waits for
 * one of them (what a batch kept, a key that changed, is listed again).
 * With the slots marked MIGRATING (as the tool does before), a key
 * missing here is created on the target (-ASK), so a slot found empty
 * stays so.
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
 * Big collections go in bounded parts (issue 12; "big collections"
 * below). What holds:
 *  1. A hash, set, sorted set or list of more than PART_WHOLE_MAX
 *     elements (its whole dump about a millisecond of the owner's turn,
 *     its restore more of the target's: bench/RESULTS.md, "Big
 *     collections in a slot move"), or of more than PART_BYTES bytes
 *     (a few huge elements: a hash of 300 fields of 64 KB is 19 MB to
 *     copy, bench/RESULTS.md, "Big collections of big elements in a slot
 *     move"; store_object_over) is not dumped by the listing: it is
 *     marked in flight and sent as a sequence of parts, each at most
 *     PART_ELEMENTS elements and about PART_BYTES bytes, an element
 *     bigger than that a part of its own (serialize_dump_part), one part
 *     a message to its owner (one part's
 *     work in a turn there), sent as one batch of MIGRATE's machinery
 *     (RINGKV-RESTOREPART, migrate.h's part), the next asked once it is
 *     acknowledged; one big key at a time a push, so one part on the
 *     target's turn too (where RINGKV-RESTOREPART builds it).
 *  2. While its parts go, the key stays here, in flight: its writes
 *     held (a write waiting past KEY_WAIT_MAX_MS answers -TRYAGAIN, the
 *     client retries), its reads served here. Its last part's batch
 *     waits for the target's replicas (ROLE + WAIT), then deletes it here
 *     if it still holds the object the listing met (identity: its writes
 *     were held, so no dump compares it), journaled as DEL, freed in
 *     slices by the store (its lazy free of big collections).
 *  3. The target never shows a partial collection under the key: the
 *     parts build a staged object outside its keyspace
 *     (shards/commands/staging.h; choice (a) of issue 12: no scan,
 *     DUMP, MIGRATE or snapshot sees it, so neither a client, nor the
 *     --abort rollback's MIGRATE REPLACE back to the owner, nor a
 *     resumed move can take it for the whole value), installed by the
 *     last part in O(1) with REPLACE semantics, and journaled to the
 *     target's replicas in parts over turns (replication/repl.c, the
 *     live stream's big collections). A staged object with no part for
 *     STAGING_IDLE_MS is dropped, and at the target's next tick once its
 *     slot is no longer imported there (the move given up); a FIRST part
 *     drops an earlier one.
 *  4. A death of the source, of the target or of the tool mid-key, and
 *     --abort, leave the key whole in one writable place: the source
 *     keeps it until the last part is acknowledged (a failed part
 *     settles it here, kept); the target's staged parts are never a key.
 *  5. Plain MIGRATE and RESTORE are unchanged (their target may be a
 *     redis-server): only this push sends parts.
 *
 * Cluster mode only (keys by slot: shards/store/slot_index.h). A listing
 * dumps at most LIST_DUMP_BYTES past its first key, a slice of the
 * owner's loop turn. */
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
#include "shards/store/serialize.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

#define BATCH_DEFAULT    100
#define PIPELINE_DEFAULT 8
#define BATCH_MAX        100000
#define PIPELINE_MAX     256

/* The bytes one listing dumps at most (past the first key): a slice of
 * the owner's loop turn, as MIGRATE's dumps (migrate.c DUMP_TURN_BYTES). */
#define LIST_DUMP_BYTES (256 * 1024)

/* The slots a listing is given at most (from the first not found empty):
 * enough to hold the batches in flight and the next (the keys in flight
 * are skipped there), few enough that building and walking the list is
 * no cost a key (one listing a batch). */
#define LIST_SLOTS_MAX 512

/* A collection of more elements than this, or of more bytes than
 * PART_BYTES, goes in parts (issue 12): a whole dump of a big hash costs
 * 0.1-0.4 us an element here (DUMP of 10k fields 0.9 ms, of 1M 425 ms:
 * cache misses), its RESTORE 0.2-0.3 us, a list's a quarter of that; so
 * a part of 1,024 elements is well under a millisecond on either side
 * (bench/RESULTS.md, "Big collections in a slot move"). A few huge
 * elements cost their bytes instead: copied and checksummed on both
 * sides, tens of MB are tens of ms. */
#define PART_WHOLE_MAX 1024

/* A part's bounds: elements, and bytes of payload (serialize_dump_part:
 * passed by one element at most). */
#define PART_ELEMENTS 1024
#define PART_BYTES    (256 * 1024)

enum { PUSH_MSG_LIST = 1, PUSH_MSG_COUNT, PUSH_MSG_PART };

struct slot_push {
    struct shard         *sh;
    struct shard_msg     *msg;       /* the command, answered at the end */
    struct migrate_target target;
    int                   batch, pipeline;
    int                   nslots;
    uint16_t             *slots;
    bool                 *empty;     /* by index into slots: found with no key */
    int                   first;     /* slots before it are all empty */
    int                   in_flight; /* batches out */
    int                   listings;  /* listings out */
    bool                  dry;       /* the last listing found no key: list again once a batch is back */
    int                   counting;  /* RESTORES MANY: owners still counting the slots' keys */
    long long             reserve;   /* what they counted: RINGKV-RESERVEKEYS with the first batch */
    long long             acked, longest_ms;
    struct buf            error;     /* the first batch's error */
    struct big_key       *big_waiting; /* big collections listed, waiting for the one under way */
    struct big_key      **big_tail;
    bool                  big_moving;  /* one big collection's parts under way */
};

/* A batch: the keys of one listing, their names in the listing's
 * message (kept until the batch is done). */
struct push_batch {
    struct slot_push *p;
    struct shard_msg *m;
    struct slice     *keys;
    int64_t           started_ms; /* when it was listed (and dumped) */
};

static void push_go_on(struct slot_push *p);
static void batch_done(void *arg, const char *err, int acked);
static void push_message(struct shard *sh, struct shard_msg *m);

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
    buf_free(&p->error);
    mi_free(p->slots);
    mi_free(p->empty);
    mi_free(p);
}

/* --------------------------------------------------- the listing */

/* At the owner: the next batch, listed and dumped in one walk of the
 * slots' keys (one lookup a key: the slot index's hash to the entry),
 * leaving out the keys in flight (earlier batches', whose hashes are
 * skipped before any lookup): up to m->value keys, LIST_DUMP_BYTES of
 * dumps past the first. The payload (the slots asked, u16 each, in
 * order, all this shard's) is replaced by the dumps (migrate.h's form,
 * u8 1 first); the reply: u32 slots visited, then per slot u16 slot and
 * u8 1 if it has no key left, not even in flight; u32 keys, then per key
 * u32 length and the name. */
struct listing {
    struct shard *sh;
    struct buf   *names, *dumps;
    struct buf    big;       /* the big collections met: u32 length, name, object pointer */
    uint32_t      nbig;
    uint64_t     *flying;    /* the hashes in flight: open addressing, 0 free */
    size_t        mask;
    uint32_t      count, room;
    bool          full;
};

static bool flying(void *arg, uint64_t h)
{
    struct listing *l = arg;
    if (l->full)
        return true; /* the walk goes on, but looks nothing up */
    if (!l->flying)
        return false;
    for (size_t b = (size_t)h & l->mask; l->flying[b]; b = (b + 1) & l->mask)
        if (l->flying[b] == h)
            return true;
    return false;
}

static void list_one(void *arg, struct entry *e)
{
    struct listing *l = arg;
    struct slice key = { entry_key(e), entry_key_len(e) };
    uint32_t len = (uint32_t)key.len;
    if (store_object_over(entry_type(e), entry_object(e), PART_WHOLE_MAX, PART_BYTES)) {
        /* a big collection (many elements, or a few huge ones): not
         * dumped here, sent in parts (big_next), in flight from now on;
         * its object is its identity */
        const void *obj = entry_object(e);
        buf_append(&l->big, &len, 4);
        buf_append(&l->big, key.ptr, len);
        buf_append(&l->big, &obj, sizeof(obj));
        l->nbig++;
        migrate_mark_in_flight(l->sh, key);
        l->count++;
        l->full = l->count >= l->room;
        return;
    }
    buf_append(l->names, &len, 4);
    buf_append(l->names, key.ptr, len);
    char present = 1;
    buf_append(l->dumps, &present, 1);
    migrate_dump_entry(l->sh, key, e, l->dumps);
    l->count++;
    l->full = l->count >= l->room || l->dumps->len >= LIST_DUMP_BYTES;
}

static void flying_table(struct listing *l, const struct keys_in_flight *f);

static void list_keys(struct shard *sh, struct shard_msg *m)
{
    int64_t now = shard_now_ms(sh);
    size_t n = m->payload.len / sizeof(uint16_t);
    uint16_t *slots = mi_malloc(sizeof(uint16_t) * (n ? n : 1));
    memcpy(slots, m->payload.data, n * sizeof(uint16_t));
    buf_clear(&m->payload);
    struct listing l = { .sh = sh, .dumps = &m->payload, .room = (uint32_t)m->value };
    struct buf names;
    buf_init(&names);
    buf_init(&l.big);
    l.names = &names;
    const struct keys_in_flight *f = sh->keys_in_flight;
    uint32_t visited = 0;
    buf_append(&m->reply, &visited, 4);
    for (size_t i = 0; i < n && !l.full; i++) {
        uint32_t before = l.count;
        f = sh->keys_in_flight;
        unsigned flying_here = f ? f->by_slot[slots[i]] : 0;
        if (flying_here == 0 || flying_here < store_slot_count(sh->store, slots[i])) {
            /* some keys of the slot not in flight: walked (the hashes in
             * flight skipped); a slot whose keys are all in flight (the
             * batches out, a listing ahead of their settles) is not: a
             * listing passed over each of them, a table of their hashes
             * made for every listing, was most of its cost */
            if (flying_here && !l.flying)
                flying_table(&l, f);
            store_slot_keys_except(sh->store, slots[i], l.room - l.count, now, flying, list_one, &l);
        }
        f = sh->keys_in_flight;
        uint8_t none = l.count == before && (!f || f->by_slot[slots[i]] == 0);
        buf_append(&m->reply, &slots[i], sizeof(uint16_t));
        buf_append(&m->reply, &none, 1);
        visited++;
    }
    memcpy(m->reply.data, &visited, 4);
    uint32_t small = l.count - l.nbig;
    buf_append(&m->reply, &small, 4);
    buf_append(&m->reply, names.data, names.len);
    buf_append(&m->reply, &l.nbig, 4);
    buf_append(&m->reply, l.big.data, l.big.len);
    buf_free(&names);
    buf_free(&l.big);
    mi_free(l.flying);
    mi_free(slots);
}

/* The hashes in flight (f, which has some) as the listing's open-addressed
 * table, made once a listing, when a slot it walks has some. */
static void flying_table(struct listing *l, const struct keys_in_flight *f)
{
    size_t cap = 16;
    while (cap < (size_t)f->n * 2)
        cap <<= 1;
    l->flying = mi_calloc(cap, sizeof(uint64_t));
    l->mask = cap - 1;
    for (int j = 0; j < f->n; j++) {
        uint64_t h = f->hashes[j] ? f->hashes[j] : 1; /* as the index keeps it */
        size_t b = (size_t)h & l->mask;
        while (l->flying[b] && l->flying[b] != h)
            b = (b + 1) & l->mask;
        l->flying[b] = h;
    }
}

/* ------------------------------------------------- big collections */

/* A big collection on its way in parts (the header, issue 12): one part
 * at a time, dumped on the owner (PUSH_MSG_PART, one part a message: one
 * a turn there) and sent as a batch of MIGRATE's machinery
 * (RINGKV-RESTOREPART, migrate.h's part), the next asked when it is
 * acknowledged. In flight (its writes held) from its listing to its last
 * part's settle. */
struct big_key {
    struct big_key   *next;     /* waiting */
    struct slot_push *p;
    struct slice      name;     /* in keybuf */
    char             *keybuf;
    int               owner;
    const void       *object;   /* its identity at the owner */
    uint64_t          cursor;   /* the next part's (0 with first: the first) */
    bool              first;    /* no part sent yet */
    struct shard_msg *m;        /* the part being sent (its dump in reply) */
    int64_t           started_ms;
};

static void big_next(struct big_key *b);

static void big_start(struct slot_push *p, struct slice key, int owner, const void *obj)
{
    struct big_key *b = mi_zalloc(sizeof(*b));
    b->p = p;
    b->keybuf = mi_malloc(key.len ? key.len : 1);
    memcpy(b->keybuf, key.ptr, key.len);
    b->name = (struct slice){ b->keybuf, key.len };
    b->owner = owner;
    b->object = obj;
    b->first = true;
    b->started_ms = shard_now_ms(p->sh);
    p->in_flight++; /* a batch's place in the pipeline until its last part */
    /* one big collection at a time: one part on the owner's turn and on
     * the target's, whatever the pipeline */
    if (p->big_moving) {
        if (!p->big_waiting)
            p->big_tail = &p->big_waiting;
        *p->big_tail = b;
        p->big_tail = &b->next;
        return;
    }
    p->big_moving = true;
    big_next(b);
}

static void big_free(struct big_key *b)
{
    if (b->m)
        msg_free(b->m);
    mi_free(b->keybuf);
    mi_free(b);
}

/* The key's end (its last part settled, or the key kept here). */
static void big_done(struct big_key *b, const char *err, int acked)
{
    struct slot_push *p = b->p;
    long long took = shard_now_ms(p->sh) - b->started_ms;
    big_free(b);
    p->big_moving = false;
    struct big_key *w = p->big_waiting;
    if (w) { /* the next one's parts */
        p->big_waiting = w->next;
        p->big_moving = true;
        big_next(w);
    }
    p->in_flight--;
    p->acked += acked;
    p->dry = false;
    if (took > p->longest_ms)
        p->longest_ms = took;
    if (err && p->error.len == 0)
        buf_append(&p->error, err, strlen(err));
    push_go_on(p);
}

/* At the owner: the next part of the key in m->argv[0] from the cursor
 * in m->value, if it still holds the object in the payload (u64): reply
 * u8 1, u64 the next cursor (0: this part is the last), then the part in
 * migrate.h's dumped form (u8 1, ttl, expire_at, length, payload); or
 * u8 0: gone (expired meanwhile: its writes were held), settled here. */
static void part_dump(struct shard *sh, struct shard_msg *m)
{
    int64_t now = shard_now_ms(sh);
    const void *obj;
    memcpy(&obj, m->payload.data, sizeof(obj));
    struct entry *e = store_peek(sh->store, m->argv[0], now);
    if (!e || entry_object(e) != obj) {
        char gone = 0;
        buf_append(&m->reply, &gone, 1);
        migrate_settle_keys(sh, m->argv, 1);
        return;
    }
    char present = 1;
    buf_append(&m->reply, &present, 1);
    size_t at_next = m->reply.len;
    uint64_t next = 0;
    buf_append(&m->reply, &next, 8);
    buf_append(&m->reply, &present, 1);
    int64_t at = entry_expire_at(e);
    int64_t ttl = 0;
    if (at != 0) {
        ttl = at - now;
        if (ttl < 1)
            ttl = 1; /* as migrate_dump_entry */
    }
    buf_append(&m->reply, &ttl, 8);
    buf_append(&m->reply, &at, 8);
    size_t at_len = m->reply.len;
    uint32_t plen = 0;
    buf_append(&m->reply, &plen, 4);
    size_t start = m->reply.len, elems;
    next = serialize_dump_part(e, m->value, PART_ELEMENTS, PART_BYTES, &m->reply, &elems);
    plen = (uint32_t)(m->reply.len - start);
    memcpy(m->reply.data + at_len, &plen, 4);
    memcpy(m->reply.data + at_next, &next, 8);
}

static void part_sent(void *arg, const char *err, int acked);

/* Back home: the part dumped goes to the target. */
static void part_dumped(struct big_key *b, struct shard_msg *m)
{
    b->m = m;
    const char *q = m->reply.data;
    if (q[0] == 0) { /* gone at the owner: nothing to move */
        big_done(b, NULL, 0);
        return;
    }
    uint64_t next;
    memcpy(&next, q + 1, 8);
    struct migrate_target t = b->p->target;
    t.many = false;
    t.reserve = 0;
    t.part = true;
    t.part_first = b->first;
    t.part_last = next == 0;
    t.object = b->object;
    b->first = false;
    b->cursor = next;
    migrate_batch_dumped(b->p->sh, &t, &b->name, 1, b->owner, q + 9, part_sent, b);
}

static void part_sent(void *arg, const char *err, int acked)
{
    struct big_key *b = arg;
    msg_free(b->m);
    b->m = NULL;
    if (err || acked == 0 || b->cursor == 0) {
        /* the last part settled it (deleted here if acknowledged and
         * unchanged), or a part failed: kept here, settled */
        big_done(b, err, acked);
        return;
    }
    big_next(b);
}

/* The next part asked of the owner. */
static void big_next(struct big_key *b)
{
    struct shard *sh = b->p->sh;
    struct shard_msg *m = msg_create(PUSH_MSG_PART, sh->id, b->owner, NULL, -1, &b->name, 1);
    m->handler = push_message;
    m->arg = b;
    m->value = b->cursor;
    buf_append(&m->payload, &b->object, sizeof(b->object));
    msg_post(sh, m, b->owner);
}

/* Back home: the slots found with no key are done; the keys listed go as
 * a batch. */
static void listed(struct slot_push *p, struct shard_msg *m)
{
    const char *q = m->reply.data;
    uint32_t visited, count;
    memcpy(&visited, q, 4);
    q += 4;
    /* the slots visited are in p->slots' order (list_next): one pass */
    int i = p->first;
    for (uint32_t v = 0; v < visited; v++) {
        uint16_t slot;
        memcpy(&slot, q, 2);
        while (i < p->nslots && (p->empty[i] || p->slots[i] != slot))
            i++;
        if (i < p->nslots && q[2])
            p->empty[i] = true;
        q += 3;
    }
    while (p->first < p->nslots && p->empty[p->first])
        p->first++;
    memcpy(&count, q, 4);
    q += 4;
    const char *names = q;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t len;
        memcpy(&len, q, 4);
        q += 4 + len;
    }
    uint32_t nbig;
    memcpy(&nbig, q, 4);
    q += 4;
    for (uint32_t k = 0; k < nbig; k++) {
        uint32_t len;
        const void *obj;
        memcpy(&len, q, 4);
        memcpy(&obj, q + 4 + len, sizeof(obj));
        big_start(p, (struct slice){ q + 4, len }, m->target, obj);
        q += 4 + len + sizeof(obj);
    }
    p->dry = count == 0 && nbig == 0;
    if (count == 0) {
        msg_free(m);
        return;
    }
    struct push_batch *b = mi_malloc(sizeof(*b));
    b->p = p;
    b->m = m;
    b->started_ms = (int64_t)m->usec; /* when it was sent: the keys' flight began after */
    b->keys = mi_malloc(sizeof(struct slice) * count);
    q = names;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t len;
        memcpy(&len, q, 4);
        b->keys[k] = (struct slice){ q + 4, len };
        q += 4 + len;
    }
    p->in_flight++;
    struct migrate_target t = p->target;
    t.reserve = p->reserve; /* the first batch says how many keys are coming */
    p->reserve = 0;
    migrate_batch_dumped(p->sh, &t, b->keys, (int)count, m->target, m->payload.data, batch_done, b);
}

/* At an owner: the keys of the slots in the payload (u16 each), in
 * m->value. */
static void count_keys(struct shard *sh, struct shard_msg *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i + sizeof(uint16_t) <= m->payload.len; i += sizeof(uint16_t)) {
        uint16_t slot;
        memcpy(&slot, m->payload.data + i, sizeof(slot));
        n += store_slot_count(sh->store, slot);
    }
    m->value = n;
}

static void push_message(struct shard *sh, struct shard_msg *m)
{
    if (!m->answered) {
        if (m->kind == PUSH_MSG_COUNT)
            count_keys(sh, m);
        else if (m->kind == PUSH_MSG_PART)
            part_dump(sh, m);
        else
            list_keys(sh, m);
        m->answered = true;
        msg_post(sh, m, m->home);
        return;
    }
    if (m->kind == PUSH_MSG_PART) {
        part_dumped(m->arg, m);
        return;
    }
    struct slot_push *p = m->arg;
    if (m->kind == PUSH_MSG_COUNT) {
        p->counting--;
        p->reserve += (long long)m->value;
        msg_free(m);
    } else {
        p->listings--;
        listed(p, m);
    }
    push_go_on(p);
}

/* RESTORES MANY: each owner of some of the slots counts their keys (one
 * message each, all at once), so that the first batch tells the target
 * how many are coming (RINGKV-RESERVEKEYS: its table grown once for
 * them). The listings start when the counts are back. */
static void count_slots(struct slot_push *p)
{
    struct shard *sh = p->sh;
    int n = sh->node->nshards;
    for (int owner = 0; owner < n; owner++) {
        struct buf slots;
        buf_init(&slots);
        for (int i = 0; i < p->nslots; i++)
            if (shard_of_slot(sh->node, p->slots[i]) == owner)
                buf_append(&slots, &p->slots[i], sizeof(uint16_t));
        if (slots.len == 0) {
            buf_free(&slots);
            continue;
        }
        struct shard_msg *m = msg_create(PUSH_MSG_COUNT, sh->id, owner, NULL, -1, NULL, 0);
        m->handler = push_message;
        m->arg = p;
        m->payload = slots;
        p->counting++;
        msg_post(sh, m, owner);
    }
}

/* The slots not found empty yet that the owner of the first of them owns
 * (the first LIST_SLOTS_MAX of them), asked there for the next batch. */
static void list_next(struct slot_push *p)
{
    struct shard *sh = p->sh;
    int owner = shard_of_slot(sh->node, p->slots[p->first]);
    struct buf slots;
    buf_init(&slots);
    for (int i = p->first, n = 0; i < p->nslots && n < LIST_SLOTS_MAX; i++)
        if (!p->empty[i] && shard_of_slot(sh->node, p->slots[i]) == owner) {
            buf_append(&slots, &p->slots[i], sizeof(uint16_t));
            n++;
        }
    struct shard_msg *m = msg_create(PUSH_MSG_LIST, sh->id, owner, NULL, -1, NULL, 0);
    m->handler = push_message;
    m->arg = p;
    m->payload = slots;
    m->value = (uint64_t)p->batch;
    m->usec = (uint64_t)shard_now_ms(sh);
    p->listings++;
    msg_post(sh, m, owner);
}

/* ------------------------------------------------------ the batches */

static void batch_done(void *arg, const char *err, int acked)
{
    struct push_batch *b = arg;
    struct slot_push *p = b->p;
    long long took = shard_now_ms(p->sh) - b->started_ms;
    mi_free(b->keys);
    msg_free(b->m);
    mi_free(b);
    p->in_flight--;
    p->acked += acked;
    p->dry = false; /* what it kept (changed meanwhile) is listed again */
    if (took > p->longest_ms)
        p->longest_ms = took;
    if (err && p->error.len == 0)
        buf_append(&p->error, err, strlen(err));
    push_go_on(p);
}

/* The next step: listings (each a batch) while the pipeline has room and
 * the last one found keys; once every slot is found empty with nothing
 * out (or a batch failed and the others are back), the answer. */
static void push_go_on(struct slot_push *p)
{
    if (p->counting > 0)
        return; /* the listings start once the keys are counted */
    bool idle = p->in_flight == 0 && p->listings == 0;
    if (p->error.len > 0 || p->first >= p->nslots) {
        if (idle)
            push_answer(p);
        return;
    }
    if (p->dry && !idle)
        return; /* all that is left is in flight: wait for a batch */
    while (p->in_flight + p->listings < p->pipeline) {
        list_next(p);
        if (p->dry)
            break; /* one listing to see whether anything is left */
    }
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
    struct migrate_target t = { .replace = true, .many = true };
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
        } else if (slice_eq_nocase(argv[j], "restores") && more >= 1) {
            j++;
            if (slice_eq_nocase(argv[j], "one")) {
                t.many = false;
            } else if (slice_eq_nocase(argv[j], "many")) {
                t.many = true;
            } else {
                reply_error(ctx->reply, ERR_SYNTAX);
                return;
            }
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
    buf_init(&p->error);
    ctx->deferred = true;
    if (t.many)
        count_slots(p);
    push_go_on(p);
}
