/* cmd_migrate: MIGRATE host port key|"" destination-db timeout [COPY]
 * [REPLACE] [AUTH password] [AUTH2 username password] [KEYS key ...], as
 * Redis 7 does it, without blocking a shard.
 *
 * Redis runs MIGRATE with blocking socket calls while the whole server
 * waits. Here it is a conversation of messages and one outgoing
 * connection, all driven by shard 0's loop (the row is CMD_SHARD0: it runs
 * there as a message, after the connection's earlier commands, and the
 * handler keeps the message and answers it at the end, as WAIT does):
 *
 *   1. dump: each shard owning some of the keys serializes them (the DUMP
 *      payload, shards/store/serialize.h) with their TTL left, in one
 *      message per shard, DUMP_TURN_BYTES a loop turn at most (the
 *      message goes round again for the rest); a key missing or expired
 *      is left out. None there: +NOKEY, as Redis.
 *   2. send: a connection to the target (net/loop.h: non-blocking, a
 *      connection owner of its own, "migrate link" in CLIENT LIST), then in
 *      one write: AUTH if asked, and per key RESTORE (RESTORE-ASKING in
 *      cluster mode, as Redis chooses) key ttl payload [REPLACE]. The
 *      replies are read as they come.
 *   2b. in cluster mode, unless COPY: the target's replicas have them. ROLE
 *      is sent after the RESTOREs; when it names connected replicas, WAIT
 *      <that many> <timeout / 2> follows, and the keys count as
 *      acknowledged only if every one of them acknowledged (otherwise they
 *      stay here, and the answer is the target's "NOREPLICAS ..." as its
 *      error). A slot's keys are moved so: deleted here only once the
 *      target's group would keep them through a failover of its master
 *      (README "Growing and shrinking": the target's master killed right
 *      after taking a key lost it when the source deleted it at the first
 *      acknowledgement). Redis's MIGRATE does not wait; outside cluster
 *      mode neither does this one.
 *   3. delete: unless COPY, the keys the target acknowledged are deleted on
 *      their shards, each only if it is still what was sent (same payload,
 *      same expiry): a key written while MIGRATE was in flight is kept
 *      here (see "Atomicity"). The deletions are journaled as DELs, as
 *      Redis propagates MIGRATE. In cluster mode every dumped key is also
 *      settled there (in flight from the dump on: shard.h,
 *      keys_in_flight, which the cluster's gate reads: a write to such a
 *      key waits on its shard until it is settled, dispatch.h
 *      dispatch_key_waits_wake).
 *   4. the answer: +OK; or the target's first error as "ERR Target
 *      instance replied with error: <its text>" (BUSYKEY when the target
 *      has the key and REPLACE was not given); or -IOERR when the
 *      connection failed, closed, or was silent for `timeout` ms (checked
 *      every tick), in Redis 7.0's words: "connecting to the client" for
 *      an address it cannot even try, "writing to target instance" for a
 *      connect refused or timed out (Redis finds out when it writes),
 *      "reading to target instance" once the commands are sent. Keys the
 *      target did not acknowledge stay here.
 *
 * Atomicity. Redis's MIGRATE is atomic because the server waits for it.
 * Here other clients go on while it is in flight; what holds: a key is
 * either acknowledged by the target and then deleted here, or kept here;
 * a write made here to a key while MIGRATE is in flight is never lost (the
 * key is then kept here, the target having the value as it was dumped). The
 * keys of one MIGRATE on several shards are dumped by each shard on its
 * own, in slices of a loop turn: the dump only reads, and a key is
 * deleted only once the target has it and if it is still what was sent,
 * so no other client can tell the slices apart. The
 * connection's own later commands wait for MIGRATE's reply (the row's
 * CMD_HOLD_LATER, as after a scratch command), so a GET pipelined after it,
 * or after it in a transaction, finds the key gone, as in Redis.
 *
 * The connection to a destination is kept for the next MIGRATE there (see
 * struct migrate_link), as Redis keeps its migration sockets.
 *
 * The same machinery moves the batches of a slot push (RINGKV-MIGRATESLOTS,
 * migrate_slots.c) through migrate.h: a batch is a migration answered to
 * a callback instead of a client, its keys dumped already by the push's
 * listing (migrate_dump_entry, the dump's own code), so it starts at the
 * connect (migrate_batch_dumped); REPLACE, never COPY. A big collection
 * of a push goes as a sequence of one-key batches, each a part
 * (migrate.h's part: RINGKV-RESTOREPART; only the last waits for the
 * target's replicas, then deletes the key by identity and settles it).
 *
 * Not done: host must be a numeric address or "localhost" (a name would
 * need a blocking lookup).
 * Databases: the keys are read (and deleted) in the connection's database
 * (the shards' messages carry it); destination-db is SELECTed on the link
 * before the RESTOREs when the link's database is another (as Redis keeps
 * its socket's last database), a refused SELECT acknowledging no key. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mimalloc.h>

#include "core/buf.h"
#include "core/command.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "core/resp.h"
#include "net/loop.h"
#include "shards/commands/commands.h"
#include "shards/commands/migrate.h"
#include "shards/commands/staging.h"
#include "shards/conn_owner.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/serialize.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

/* The kinds of this file's messages (they carry their handler). */
enum migrate_msg_kind {
    MIGRATE_MSG_DUMP = 1, /* 0 -> owner: serialize the keys in argv */
    MIGRATE_MSG_DEL,      /* 0 -> owner: delete the keys in argv if unchanged */
};

/* The serialized bytes one shard writes for one MIGRATE in one loop turn:
 * past it the rest of its keys wait for the next turn, so that a MIGRATE
 * of big values (or many) holds the shard's other clients for a slice,
 * not for the whole (throttling: bench/RESULTS.md, "Growing a cluster"). */
#define DUMP_TURN_BYTES (256 * 1024)

/* Replies from the target bigger than this without being complete: not a
 * Redis answering RESTORE. */
#define REPLY_MAX_BYTES (64 * 1024)

enum migrate_phase {
    PHASE_DUMP,    /* waiting for the owners' payloads */
    PHASE_CONNECT, /* the connection is being made */
    PHASE_REPLIES, /* sent; reading the target's replies */
    PHASE_DELETE,  /* waiting for the owners' deletions */
    PHASE_DONE,    /* answered; freed once the connection is gone */
};

struct migrate_key {
    struct slice name;     /* in the command's message */
    int          shard;
    bool         present;
    bool         restored; /* the target's master answered +OK (2b: acked waits for its replicas) */
    long long    ttl_ms;   /* sent to the target (0: none) */
    int64_t      expire_at; /* here, when dumped */
    struct buf   payload;  /* MIGRATE's: the dump's bytes, copied from its message */
    struct slice sent;     /* the payload: in payload, or (a batch) in the listing's dumps */
    bool         acked;    /* the target answered +OK */
    int          run_end;  /* many: on a run's first key, one past its last (its one reply covers them) */
};

/* A connection to a destination. It serves one MIGRATE at a time and is
 * kept afterwards, idle, for the next MIGRATE to the same address (as
 * Redis keeps its migration sockets), for LINK_IDLE_MS at most. */
struct migrate_link {
    struct conn_owner    owner;    /* first: the link's ops */
    struct migrate_link *next;     /* this shard's links */
    struct conn         *conn;     /* NULL once gone */
    struct sockaddr_storage addr;
    struct client        client;   /* what CLIENT LIST shows of it */
    struct migration    *user;     /* the MIGRATE using it; NULL: idle */
    bool                 connected;
    int64_t              idle_since_ms;
    long long            db;       /* the database selected there (0 until a SELECT) */
};

#define LINK_IDLE_MS 10000 /* Redis's MIGRATE_SOCKET_CACHE_TTL */
#define LINKS_IDLE_MAX 64  /* Redis's MIGRATE_SOCKET_CACHE_ITEMS */

struct migration {
    struct migration   *next;     /* this shard's migrations in flight */
    struct shard       *sh;
    struct shard_msg   *msg;      /* the MIGRATE, answered at the end; NULL: a batch (done) */
    migrate_done_fn    *done;     /* a batch of another command (migrate.h): told at the end */
    void               *done_arg;
    struct migrate_link *link;    /* while connecting and reading; else NULL */
    bool                reused;   /* the link was a cached one */
    bool                retried;  /* a new link was made after a cached one failed */
    enum migrate_phase  phase;
    struct sockaddr_storage addr;
    struct slice        user, pass; /* pass.ptr NULL: no AUTH */
    bool                copy, replace;
    bool                many;     /* RINGKV-RESTOREMANY per run of one slot's keys (migrate.h) */
    long long           reserve;  /* many: RINGKV-RESERVEKEYS first (migrate.h) */
    bool                part, part_first, part_last; /* RINGKV-RESTOREPART of one key's part (migrate.h) */
    const void         *object;   /* part_last: deleted here only if the key still holds it */
    long long           timeout_ms;
    int64_t             deadline_ms;
    int                 nkeys;
    struct migrate_key *keys;
    int                 waiting;  /* messages out */
    int                 replies_due; /* replies still expected from the target */
    int                 replies_seen;
    int                 next_reply;  /* -1: the AUTH reply; -3: SELECT's; -2: RINGKV-RESERVEKEYS's; else the key it
                                        answers; nkeys: ROLE, then WAIT */
    bool                ask_role;    /* 2b: ROLE follows the RESTOREs */
    int                 wait_for;    /* 2b: the replicas WAIT was sent for (0: none) */
    bool                auth_failed;
    int                 src_db;   /* the keys' database here (the connection's) */
    long long           dst_db;   /* destination-db: SELECTed there first unless the link has it */
    bool                select;   /* this run sends SELECT dst_db (next_reply -3: its reply) */
    bool                link_dirty; /* the destination sent more than the replies */
    struct buf          refused;  /* why an owner deleted nothing (it no longer takes writes) */
    struct buf          error;    /* the target's first error, without '-' and CRLF */
    const char         *io_error; /* "connecting", "writing", "reading": the connection failed */
};

/* The shard's migrations in flight and its links (shard 0's in practice),
 * for the tick. Thread-local: each shard thread has its own lists and
 * nobody else's. */
static __thread struct migration *in_flight;
static __thread struct migrate_link *links;

static const struct conn_owner_ops migrate_link_ops;

static void put_i64(struct buf *b, int64_t v) { buf_append(b, &v, 8); }
static void put_u32(struct buf *b, uint32_t v) { buf_append(b, &v, 4); }
static int64_t get_i64(const char **p) { int64_t v; memcpy(&v, *p, 8); *p += 8; return v; }
static uint32_t get_u32(const char **p) { uint32_t v; memcpy(&v, *p, 4); *p += 4; return v; }

/* ---------------------------------------------------------------- life */

static void migration_free(struct migration *g)
{
    for (struct migration **pp = &in_flight; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    for (int i = 0; i < g->nkeys; i++)
        buf_free(&g->keys[i].payload);
    mi_free(g->keys);
    buf_free(&g->error);
    buf_free(&g->refused);
    mi_free(g);
}

/* Freed once answered, with no connection and no message out. Called
 * once at the end of each way into this file (a message back, a link
 * event, the tick), never in the middle of one. */
static void migration_maybe_free(struct migration *g)
{
    if (g->phase == PHASE_DONE && !g->link && g->waiting == 0)
        migration_free(g);
}

/* ------------------------------------------------------------- links */

static void link_free(struct shard *sh, struct migrate_link *l)
{
    for (struct migrate_link **pp = &links; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            stat_add(&sh->stats.migrate_links, (uint64_t)-1);
            break;
        }
    mi_free(l);
}

/* The MIGRATE lets go of its link: kept for the next one when it is clean
 * (every reply read) and there is room, else closed. */
static void link_release(struct migration *g, bool clean)
{
    struct migrate_link *l = g->link;
    if (!l)
        return;
    g->link = NULL;
    l->user = NULL;
    l->idle_since_ms = shard_now_ms(g->sh);
    int idle = 0;
    for (struct migrate_link *x = links; x; x = x->next)
        if (!x->user && x != l)
            idle++;
    if (!clean || !l->conn || !l->connected || idle >= LINKS_IDLE_MAX) {
        if (l->conn)
            conn_close(l->conn, false); /* link_closed (or link_connected) frees it */
        else
            link_free(g->sh, l);
    }
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* The MIGRATE's answer goes home (a batch's to its done); the link (if
 * any) is closed. */
static void answer(struct migration *g, const char *err, const char *status)
{
    if (g->done) {
        g->phase = PHASE_DONE;
        link_release(g, false);
        int acked = 0;
        for (int i = 0; i < g->nkeys; i++)
            acked += g->keys[i].acked;
        g->done(g->done_arg, err, acked);
        return;
    }
    struct shard_msg *m = g->msg;
    struct reply r = { &m->reply, m->proto };
    if (err)
        reply_error(&r, err);
    else
        reply_simple(&r, status);
    m->answered = true;
    msg_post(g->sh, m, m->home);
    g->msg = NULL;
    g->phase = PHASE_DONE;
    link_release(g, false);
}

/* The final answer, once the deletions (if any) are done. */
static void answer_final(struct migration *g)
{
    char text[600];
    if (g->refused.len > 0) {
        snprintf(text, sizeof(text), "%.*s", (int)(g->refused.len > 500 ? 500 : g->refused.len),
                 g->refused.data);
        answer(g, text, NULL);
    } else if (g->error.len > 0) {
        snprintf(text, sizeof(text), "ERR Target instance replied with error: %.*s",
                 (int)(g->error.len > 500 ? 500 : g->error.len), g->error.data);
        answer(g, text, NULL);
    } else if (g->io_error) {
        /* Redis's texts, "connecting to the client" included */
        if (strcmp(g->io_error, "connecting") == 0)
            answer(g, "IOERR error or timeout connecting to the client", NULL);
        else {
            snprintf(text, sizeof(text), "IOERR error or timeout %s to target instance", g->io_error);
            answer(g, text, NULL);
        }
    } else {
        answer(g, NULL, "OK");
    }
}

/* ------------------------------------------------------- 1. the dump */

/* At an owner: each key of argv as u8 present, then i64 ttl, i64 expire_at,
 * u32 length and the payload. A key whose time has passed is missing (the
 * lookup deletes it, as Redis's). In slices: once DUMP_TURN_BYTES are
 * written in this loop turn and keys remain, returns false with the next
 * key's index in m->value (the caller posts m to this shard again: the
 * rest comes next turn, the shard's clients served in between). Only
 * reads: a key written between two slices is dumped as it is then, as if
 * the write had come before the MIGRATE. */
static bool dump_keys(struct shard *sh, struct shard_msg *m)
{
    int64_t now = shard_now_ms(sh);
    size_t turn_start = m->reply.len;
    for (int i = (int)m->value; i < m->argc; i++) {
        if (m->reply.len - turn_start >= DUMP_TURN_BYTES) {
            m->value = (uint64_t)i;
            return false;
        }
        struct entry *e = store_find(sh->store, m->argv[i], now);
        char present = e != NULL;
        buf_append(&m->reply, &present, 1);
        if (e)
            migrate_dump_entry(sh, m->argv[i], e, &m->reply);
    }
    return true;
}

void migrate_mark_in_flight(struct shard *sh, struct slice key)
{
    if (!sh->node->cluster)
        return;
    /* in flight until settled (shard.h, keys_in_flight) */
    struct keys_in_flight *f = sh->keys_in_flight;
    if (!f)
        f = sh->keys_in_flight = mi_zalloc(sizeof(*f));
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 512;
        f->hashes = mi_realloc(f->hashes, sizeof(uint64_t) * (size_t)f->cap);
    }
    f->hashes[f->n++] = store_key_hash(key);
    f->by_slot[key_slot(key.ptr, key.len)]++;
}

void migrate_dump_entry(struct shard *sh, struct slice key, struct entry *e, struct buf *out)
{
    int64_t now = shard_now_ms(sh);
    migrate_mark_in_flight(sh, key);
    int64_t at = entry_expire_at(e);
    long long ttl = 0;
    if (at != 0) {
        ttl = at - now;
        if (ttl < 1)
            ttl = 1; /* Redis: a key about to expire is sent with 1 ms */
    }
    put_i64(out, ttl);
    put_i64(out, at);
    size_t at_len = out->len;
    put_u32(out, 0);
    size_t start = out->len;
    serialize_dump(e, out);
    uint32_t plen = (uint32_t)(out->len - start);
    memcpy(out->data + at_len, &plen, 4);
}

/* The keys of argv are no longer in flight: one occurrence of each key's
 * hash leaves f (a key two MIGRATEs have in flight is there twice). In one
 * pass over f, the keys counted in a small table first: f holds the keys
 * of every MIGRATE in flight on this shard (hundreds while the tool moves
 * slots: a batch per mover; more with bigger batches), and a pass per
 * key settled cost that many compares a key. */
static void settle_in_flight(struct keys_in_flight *f, const struct slice *keys, int n)
{
    if (!f || f->n == 0 || n == 0)
        return;
    struct settling {
        uint64_t hash;
        uint32_t slot;
        int      count; /* occurrences still to take out of f */
        bool     used;
    };
    size_t cap = 16;
    while (cap < (size_t)n * 2)
        cap <<= 1;
    struct settling *t = mi_calloc(cap, sizeof(*t));
    for (int i = 0; i < n; i++) {
        uint64_t h = store_key_hash(keys[i]);
        size_t b = (size_t)h & (cap - 1);
        while (t[b].used && t[b].hash != h)
            b = (b + 1) & (cap - 1);
        t[b].used = true;
        t[b].hash = h;
        t[b].slot = key_slot(keys[i].ptr, keys[i].len);
        t[b].count++;
    }
    int kept = 0;
    for (int j = 0; j < f->n; j++) {
        uint64_t h = f->hashes[j];
        size_t b = (size_t)h & (cap - 1);
        while (t[b].used && t[b].hash != h)
            b = (b + 1) & (cap - 1);
        if (t[b].used && t[b].count > 0) {
            t[b].count--;
            if (f->by_slot[t[b].slot])
                f->by_slot[t[b].slot]--;
            continue;
        }
        f->hashes[kept++] = h;
    }
    f->n = kept;
    mi_free(t);
}

void migrate_settle_keys(struct shard *sh, const struct slice *keys, int n)
{
    settle_in_flight(sh->keys_in_flight, keys, n);
    dispatch_key_waits_wake(sh);
}

/* The keys deleted, DELETE_AHEAD at a time, have their buckets and first
 * entries prefetched first: a batch's keys are each in a bucket of its own,
 * cold on a big table, and their lookups' cache misses were most of the
 * delete's time (bench/RESULTS.md, wt-slotpush). */
#define DELETE_AHEAD 16

static void prefetch_keys(struct store *st, const struct slice *keys, int n)
{
    uint64_t h[DELETE_AHEAD];
    for (int i = 0; i < n; i++) {
        h[i] = store_key_hash(keys[i]);
        store_prefetch_bucket(st, h[i]);
    }
    for (int i = 0; i < n; i++)
        store_prefetch_entry(st, h[i]);
}

/* A DEL message's flag for a key: keep it (only settle), delete it if
 * still the same bytes as sent, or if still the same object (a big
 * collection sent in parts: the payload is the object's pointer). */
enum { DEL_KEEP = 0, DEL_IF_SAME_BYTES = 1, DEL_IF_SAME_OBJECT = 2 };

/* At an owner: settle each key of argv that was dumped (no longer in
 * flight), and delete those flagged (acknowledged by the target, no COPY)
 * that are still what was sent (payload holds u8 flag, i64 expire_at, u32
 * length and the payload per key). */
static void delete_unchanged(struct shard *sh, struct shard_msg *m)
{
    settle_in_flight(sh->keys_in_flight, m->argv, m->argc);
    bool any = false;
    for (const char *q = m->payload.data; q && q < m->payload.data + m->payload.len;) {
        any = any || *q;
        uint32_t len;
        memcpy(&len, q + 1 + 8, 4);
        q += 1 + 8 + 4 + len;
    }
    if (!any) /* only settling: nothing to delete */
        return;
    /* the node may have stopped taking writes since MIGRATE was accepted
     * (it became a replica, a FAILOVER hands it over): then nothing is
     * deleted, and MIGRATE answers why (the answer's reply holds it) */
    const char *refused = node_write_refusal(sh->node);
    if (!refused && atomic_load_explicit(&sh->node->repl_writes_paused, memory_order_relaxed))
        refused = "READONLY You can't write while a FAILOVER hands this master over to a replica.";
    if (refused) {
        buf_append(&m->reply, refused, strlen(refused));
        return;
    }
    int64_t now = shard_now_ms(sh);
    const char *p = m->payload.data;
    struct buf now_payload;
    buf_init(&now_payload);
    for (int i = 0; i < m->argc; i++) {
        if (i % DELETE_AHEAD == 0) /* the next keys' buckets and entries, their misses overlapping */
            prefetch_keys(sh->store, m->argv + i, m->argc - i < DELETE_AHEAD ? m->argc - i : DELETE_AHEAD);
        char del = *p++;
        int64_t at = get_i64(&p);
        uint32_t len = get_u32(&p);
        const char *sent = p;
        p += len;
        if (!del)
            continue;
        struct entry *e = store_peek(sh->store, m->argv[i], now);
        if (!e || entry_expire_at(e) != at)
            continue;
        if (del == DEL_IF_SAME_OBJECT) {
            /* a big collection sent in parts: still the object sent (its
             * writes were held all along), compared by identity, not by
             * serializing it again; freed in slices (the store's lazy
             * free of big collections) */
            const void *sent_obj;
            memcpy(&sent_obj, sent, sizeof(sent_obj));
            if (len == sizeof(sent_obj) && entry_object(e) == sent_obj)
                store_delete_entry(sh->store, e);
            continue;
        }
        /* the object's bytes against what was sent less its footer (the
         * version and the CRC-64 of what precedes: the same object makes
         * the same footer), so no checksum is computed again */
        buf_clear(&now_payload);
        serialize_object(e, &now_payload);
        if (len >= SERIALIZE_FOOTER_LEN && now_payload.len == len - SERIALIZE_FOOTER_LEN &&
            memcmp(now_payload.data, sent, now_payload.len) == 0)
            store_delete_entry(sh->store, e); /* found just above: one lookup a key, not two */
    }
    buf_free(&now_payload);
}

static void connect_target(struct migration *g);
static void settle(struct migration *g);

/* An owner's dump (dump_keys' form) into the keys of g on that shard, in
 * the order they were asked: the payloads copied (MIGRATE's dump message
 * is freed), or (in_place: a batch's dumps, which live until its done)
 * pointed to. */
static void take_dump(struct migration *g, int shard, const char *p, bool in_place)
{
    for (int i = 0; i < g->nkeys; i++) {
        struct migrate_key *k = &g->keys[i];
        if (k->shard != shard)
            continue;
        char present = *p++;
        if (!present)
            continue;
        k->present = true;
        k->ttl_ms = get_i64(&p);
        k->expire_at = get_i64(&p);
        uint32_t len = get_u32(&p);
        if (in_place) {
            k->sent = (struct slice){ p, len };
        } else {
            buf_append(&k->payload, p, len);
            k->sent = (struct slice){ k->payload.data, k->payload.len };
        }
        p += len;
    }
}

static void migrate_message(struct shard *sh, struct shard_msg *m)
{
    if (!m->answered) {
        int before = sh->db;
        shard_select(sh, m->db); /* the keys' database */
        bool dumped = m->kind != MIGRATE_MSG_DUMP || dump_keys(sh, m);
        shard_select(sh, before);
        if (!dumped) {
            msg_post(sh, m, sh->id); /* the rest next turn */
            return;
        }
        if (m->kind == MIGRATE_MSG_DEL) {
            shard_select(sh, m->db);
            delete_unchanged(sh, m);
            shard_select(sh, before);
            /* the writes held for these keys are asked again: -ASK now
             * for a key deleted, run for one kept */
            dispatch_key_waits_wake(sh);
        }
        m->answered = true;
        msg_post(sh, m, m->home);
        return;
    }
    struct migration *g = m->arg;
    if (m->kind == MIGRATE_MSG_DEL && m->reply.len > 0 && g->refused.len == 0)
        buf_append(&g->refused, m->reply.data, m->reply.len);
    if (m->kind == MIGRATE_MSG_DUMP)
        take_dump(g, m->target, m->reply.data, false);
    msg_free(m);
    g->waiting--;
    if (g->waiting > 0)
        return;
    if (g->phase == PHASE_DUMP) {
        bool any = false;
        for (int i = 0; i < g->nkeys; i++)
            any = any || g->keys[i].present;
        if (!any)
            answer(g, NULL, "NOKEY");
        else if (g->io_error) /* an address we cannot connect to */
            settle(g);
        else
            connect_target(g);
    } else if (g->phase == PHASE_DELETE) {
        answer_final(g);
    }
    migration_maybe_free(g);
}

/* One message per shard owning some of the keys (the keys in argv, for
 * DEL the expected payloads too), each posted home again when done. */
static void post_per_shard(struct migration *g, int kind, bool (*wanted)(const struct migrate_key *))
{
    struct shard *sh = g->sh;
    int n = sh->node->nshards;
    struct slice *names = mi_malloc(sizeof(struct slice) * (size_t)(g->nkeys > 0 ? g->nkeys : 1));
    for (int t = 0; t < n; t++) {
        int kc = 0;
        struct buf payload;
        buf_init(&payload);
        for (int i = 0; i < g->nkeys; i++) {
            struct migrate_key *k = &g->keys[i];
            if (k->shard != t || !wanted(k))
                continue;
            names[kc++] = k->name;
            if (kind == MIGRATE_MSG_DEL && g->part) {
                /* a part's key: deleted by identity, after its last part */
                char del = k->acked && g->part_last ? DEL_IF_SAME_OBJECT : DEL_KEEP;
                buf_append(&payload, &del, 1);
                put_i64(&payload, k->expire_at);
                put_u32(&payload, (uint32_t)sizeof(g->object));
                buf_append(&payload, &g->object, sizeof(g->object));
            } else if (kind == MIGRATE_MSG_DEL) {
                char del = k->acked && !g->copy ? DEL_IF_SAME_BYTES : DEL_KEEP;
                buf_append(&payload, &del, 1);
                put_i64(&payload, k->expire_at);
                put_u32(&payload, (uint32_t)k->sent.len);
                buf_append(&payload, k->sent.ptr, k->sent.len);
            }
        }
        if (kc == 0) {
            buf_free(&payload);
            continue;
        }
        struct shard_msg *m = msg_create(kind, sh->id, t, NULL, -1, names, kc);
        m->handler = migrate_message;
        m->arg = g;
        m->db = g->src_db; /* the keys' database there */
        m->payload = payload;
        g->waiting++;
        msg_post(sh, m, t);
    }
    mi_free(names);
}

static bool every_key(const struct migrate_key *k) { (void)k; return true; }
static bool dumped_key(const struct migrate_key *k) { return k->present; }

/* -------------------------------------------------- 2. the target */

static void io_failed(struct migration *g, const char *what);

static void send_restores(struct migration *g);

/* A link to the destination: an idle one to the same address if there is
 * one, else a new connection. */
static void connect_target(struct migration *g)
{
    struct shard *sh = g->sh;
    int64_t now = shard_now_ms(sh);
    g->phase = PHASE_CONNECT;
    g->deadline_ms = now + g->timeout_ms;
    if (!g->retried)
        for (struct migrate_link *l = links; l; l = l->next)
            if (!l->user && l->conn && l->connected && same_addr(&l->addr, &g->addr)) {
                l->user = g;
                g->link = l;
                g->reused = true;
                send_restores(g);
                return;
            }
    struct migrate_link *l = mi_zalloc(sizeof(*l));
    l->owner.ops = &migrate_link_ops;
    l->addr = g->addr;
    l->conn = loop_connect(sh->loop, &l->addr, &l->owner);
    if (!l->conn) {
        mi_free(l);
        io_failed(g, "connecting");
        return;
    }
    l->user = g;
    l->next = links;
    links = l;
    stat_add(&sh->stats.migrate_links, 1);
    g->link = l;
    g->reused = false;
    l->client.id = atomic_fetch_add(&sh->node->next_client_id, 1);
    l->client.proto = 2;
    l->client.authenticated = true;
    l->client.fd = l->conn->fd;
    l->client.created_ms = now;
    l->client.last_active_ms = now;
    snprintf(l->client.name, sizeof(l->client.name), "migrate");
    snprintf(l->client.last_cmd, sizeof(l->client.last_cmd), "restore");
}

/* Write AUTH and the RESTOREs, all at once (the target answers in order). */
/* The next present key at or after i. */
static int next_present(const struct migration *g, int i)
{
    while (i < g->nkeys && !g->keys[i].present)
        i++;
    return i;
}

/* The most keys one RINGKV-RESTOREMANY carries: a listing's batch is
 * bounded already (its count, LIST_DUMP_BYTES of dumps), this keeps one
 * command of a big --batch a slice of the target's loop turn too. */
#define RUN_KEYS_MAX 1024

/* many: the present keys as RINGKV-RESTOREMANY key ttl payload ..., one
 * command per run of consecutive keys of one slot (a listing's keys come
 * slot by slot; the target's gate wants one slot a command), each run's
 * first key told where it ends. */
static void send_restore_runs(struct migration *g, struct buf *out)
{
    char (*ttl)[24] = mi_malloc(sizeof(*ttl) * (size_t)g->nkeys);
    int most = g->nkeys < RUN_KEYS_MAX ? g->nkeys : RUN_KEYS_MAX;
    struct slice *argv = mi_malloc(sizeof(struct slice) * (size_t)(1 + 3 * most));
    argv[0] = SLICE_LIT("RINGKV-RESTOREMANY");
    for (int i = next_present(g, 0); i < g->nkeys;) {
        struct migrate_key *first = &g->keys[i];
        unsigned slot = key_slot(first->name.ptr, first->name.len);
        int argc = 1, j = i, n = 0;
        for (; j < g->nkeys && n < RUN_KEYS_MAX; j++) {
            struct migrate_key *k = &g->keys[j];
            if (!k->present)
                continue;
            if (j > i && key_slot(k->name.ptr, k->name.len) != slot)
                break;
            argv[argc++] = k->name;
            if (k->ttl_ms == 0) { /* most keys: no printf */
                argv[argc++] = SLICE_LIT("0");
            } else {
                int tl = snprintf(ttl[j], sizeof(ttl[j]), "%lld", k->ttl_ms);
                argv[argc++] = (struct slice){ ttl[j], (size_t)tl };
            }
            argv[argc++] = k->sent;
            n++;
        }
        resp_encode_command(out, argc, argv);
        first->run_end = j;
        g->replies_due++;
        i = next_present(g, j);
    }
    mi_free(argv);
    mi_free(ttl);
}

/* part: the one key's part as RINGKV-RESTOREPART key ttl payload [FIRST]
 * [LAST] (migrate.h). */
static void send_part(struct migration *g, struct buf *out)
{
    struct migrate_key *k = &g->keys[0];
    char ttl[24];
    int tl = snprintf(ttl, sizeof(ttl), "%lld", k->ttl_ms);
    struct slice argv[6] = { SLICE_LIT("RINGKV-RESTOREPART"), k->name, { ttl, (size_t)tl }, k->sent };
    int argc = 4;
    if (g->part_first)
        argv[argc++] = SLICE_LIT("FIRST");
    if (g->part_last)
        argv[argc++] = SLICE_LIT("LAST");
    resp_encode_command(out, argc, argv);
    g->replies_due++;
}

static void send_restores(struct migration *g)
{
    struct conn *c = g->link->conn;
    g->replies_due = 0;
    g->replies_seen = 0;
    g->next_reply = next_present(g, 0); /* the first RESTORE's key (some may be missing) */
    if (g->pass.ptr) {
        struct slice auth[3] = { SLICE_LIT("AUTH"), g->user, g->pass };
        if (g->user.ptr)
            resp_encode_command(&c->out, 3, auth);
        else {
            auth[1] = g->pass;
            resp_encode_command(&c->out, 2, auth);
        }
        g->replies_due++;
        g->next_reply = -1;
    }
    g->select = g->link->db != g->dst_db; /* as Redis: only when the link's database is another */
    if (g->select) {
        char n[24];
        int nl = snprintf(n, sizeof(n), "%lld", g->dst_db);
        struct slice sel[2] = { SLICE_LIT("SELECT"), { n, (size_t)nl } };
        resp_encode_command(&c->out, 2, sel);
        g->replies_due++;
        if (!g->pass.ptr)
            g->next_reply = -3;
    }
    if (g->reserve > 0) {
        char n[24];
        int nl = snprintf(n, sizeof(n), "%lld", g->reserve);
        struct slice reserve[2] = { SLICE_LIT("RINGKV-RESERVEKEYS"), { n, (size_t)nl } };
        resp_encode_command(&c->out, 2, reserve);
        g->replies_due++;
        if (!g->pass.ptr && !g->select)
            g->next_reply = -2; /* its reply first (else after AUTH's, SELECT's) */
    }
    bool cluster = g->sh->node->cluster != NULL;
    if (g->many)
        send_restore_runs(g, &c->out);
    if (g->part)
        send_part(g, &c->out);
    for (int i = 0; i < g->nkeys && !g->many && !g->part; i++) {
        struct migrate_key *k = &g->keys[i];
        if (!k->present)
            continue;
        char ttl[24];
        int tl = snprintf(ttl, sizeof(ttl), "%lld", k->ttl_ms);
        struct slice argv[5] = {
            cluster ? SLICE_LIT("RESTORE-ASKING") : SLICE_LIT("RESTORE"),
            k->name,
            { ttl, (size_t)tl },
            k->sent,
            SLICE_LIT("REPLACE"),
        };
        resp_encode_command(&c->out, g->replace ? 5 : 4, argv);
        g->replies_due++;
    }
    g->ask_role = cluster && !g->copy && (!g->part || g->part_last); /* a key's parts: once, after the last */
    g->wait_for = 0;
    if (g->ask_role) {
        struct slice role[1] = { SLICE_LIT("ROLE") };
        resp_encode_command(&c->out, 1, role);
        g->replies_due++;
    }
    conn_flush(c);
    g->phase = PHASE_REPLIES;
    g->deadline_ms = shard_now_ms(g->sh) + g->timeout_ms;
}


/* All replies in, or the connection failed: delete what the target has
 * (unless COPY), then answer. */
static void replies_done(struct migration *g)
{
    link_release(g, g->io_error == NULL && !g->link_dirty);
    settle(g);
}

/* The deletions (of the keys the target acknowledged, unless COPY) and,
 * in cluster mode, the end of every dumped key's flight; then the answer. */
static void settle(struct migration *g)
{
    g->phase = PHASE_DELETE;
    if (g->part && !g->part_last && g->keys[0].acked && !g->io_error && g->error.len == 0) {
        answer_final(g); /* the key stays in flight for its next part */
        return;
    }
    bool any = false;
    for (int i = 0; i < g->nkeys; i++)
        any = any || (g->keys[i].acked && !g->copy) || (g->keys[i].present && g->sh->node->cluster);
    if (any) {
        post_per_shard(g, MIGRATE_MSG_DEL, dumped_key);
        return;
    }
    answer_final(g);
}

static void io_failed(struct migration *g, const char *what)
{
    if (g->phase != PHASE_CONNECT && g->phase != PHASE_REPLIES)
        return;
    g->io_error = what;
    replies_done(g);
}

/* The link failed under g (not a timeout). A cached link may have been
 * closed by the destination while it was idle: as Redis, try once more on
 * a new connection if nothing was answered yet. */
static void link_failed(struct migration *g, const char *what)
{
    if (g->phase != PHASE_CONNECT && g->phase != PHASE_REPLIES)
        return;
    if (g->reused && !g->retried && g->replies_seen == 0 &&
        !atomic_load_explicit(&g->sh->node->shutdown, memory_order_relaxed)) {
        g->retried = true;
        link_release(g, false);
        g->auth_failed = false;
        connect_target(g);
        return;
    }
    io_failed(g, what);
}

/* 2b: the target's ROLE. A master with connected replicas is asked to
 * WAIT for all of them; until they answer, no key counts as acknowledged. */
static void target_role(struct migration *g, const char *p, size_t len)
{
    struct resp_reader rd;
    long long n, offset, replicas = 0;
    struct slice role;
    resp_reader_init(&rd, p, len);
    if (!resp_read_aggregate(&rd, &n) || n < 3 || !resp_read_string(&rd, &role) || !role.ptr ||
        role.len != 6 || memcmp(role.ptr, "master", 6) != 0 || !resp_read_int(&rd, &offset) ||
        !resp_read_aggregate(&rd, &replicas) || replicas <= 0)
        return; /* no replicas (or not a master: its RESTOREs failed anyway) */
    bool any = false;
    for (int i = 0; i < g->nkeys; i++) {
        g->keys[i].restored = g->keys[i].acked;
        any = any || g->keys[i].acked;
        g->keys[i].acked = false;
    }
    if (!any)
        return;
    char want[24], ms[24];
    int wl = snprintf(want, sizeof(want), "%lld", replicas);
    long long t = g->timeout_ms / 2 > 0 ? g->timeout_ms / 2 : 1;
    int tl = snprintf(ms, sizeof(ms), "%lld", t);
    struct slice wait[3] = { SLICE_LIT("WAIT"), { want, (size_t)wl }, { ms, (size_t)tl } };
    struct conn *c = g->link->conn;
    resp_encode_command(&c->out, 3, wait);
    conn_flush(c);
    g->wait_for = (int)replicas;
    g->replies_due++;
}

/* 2b: WAIT's answer: every replica has the keys, or none counts. */
static void target_waited(struct migration *g, const char *p, size_t len)
{
    struct resp_reader rd;
    long long got = -1;
    resp_reader_init(&rd, p, len);
    if (resp_read_int(&rd, &got) && got >= g->wait_for) {
        for (int i = 0; i < g->nkeys; i++)
            g->keys[i].acked = g->keys[i].restored;
    } else if (g->error.len == 0) {
        buf_printf(&g->error, "NOREPLICAS %lld of its %d replicas acknowledged the keys in time", got < 0 ? 0 : got,
                   g->wait_for);
    }
    g->wait_for = 0;
}

/* One reply of the target (the whole RESP value). */
static void target_reply(struct migration *g, const char *p, size_t len)
{
    bool err = p[0] == '-';
    if (err && g->error.len == 0 && g->next_reply != -2) { /* RINGKV-RESERVEKEYS's is no key's error */
        /* the text without '-' and CRLF (an error is one line) */
        size_t n = len >= 3 ? len - 3 : 0;
        buf_append(&g->error, p + 1, n);
    }
    if (g->next_reply == -2) {
        /* RINGKV-RESERVEKEYS: a hint, whatever it answered */
        g->next_reply = next_present(g, 0);
    } else if (g->next_reply == -3) {
        /* SELECT: refused, the RESTOREs went to another database: none
         * counts as acknowledged (nothing deleted here) */
        g->auth_failed = g->auth_failed || err;
        if (!err)
            g->link->db = g->dst_db;
        g->next_reply = g->reserve > 0 ? -2 : next_present(g, 0);
    } else if (g->next_reply < 0) {
        g->auth_failed = err;
        g->next_reply = g->select ? -3 : g->reserve > 0 ? -2 : next_present(g, 0);
    } else {
        int i = g->next_reply;
        if (i < g->nkeys && g->many) { /* one reply for the run starting at i */
            int end = g->keys[i].run_end;
            for (int j = i; j < end; j++)
                g->keys[j].acked = g->keys[j].present && !err && !g->auth_failed;
            g->next_reply = next_present(g, end);
        } else if (i < g->nkeys) {
            g->keys[i].acked = !err && !g->auth_failed;
            g->next_reply = next_present(g, i + 1);
        } else if (g->ask_role) {
            g->ask_role = false;
            target_role(g, p, len);
        } else if (g->wait_for > 0) {
            target_waited(g, p, len);
        }
    }
    g->replies_due--;
    g->replies_seen++;
}

/* ------------------------------------------- the link as a connection owner */

static struct migrate_link *link_of(const struct conn *c)
{
    return (struct migrate_link *)c->owner;
}

static size_t link_data(struct shard *sh, struct conn *c, const char *p, size_t n)
{
    struct migrate_link *l = link_of(c);
    struct migration *g = l->user;
    if (!g || g->phase != PHASE_REPLIES) {
        conn_close(c, false); /* nothing is expected: not a Redis we know */
        return n;
    }
    int64_t now = shard_now_ms(sh);
    g->deadline_ms = now + g->timeout_ms; /* Redis's timeout is per read */
    l->client.last_active_ms = now;
    size_t used = 0;
    while (used < n && g->replies_due > 0) {
        size_t len = resp_value_len(p + used, n - used);
        if (len == 0) {
            if (n - used > REPLY_MAX_BYTES) {
                io_failed(g, "reading");
                migration_maybe_free(g);
                return n;
            }
            break;
        }
        target_reply(g, p + used, len);
        used += len;
    }
    if (g->replies_due == 0) {
        g->next_reply = g->nkeys;
        if (used < n)
            g->link_dirty = true; /* more than was asked for: not kept for the next one */
        replies_done(g);
        used = n;
    }
    migration_maybe_free(g);
    return used;
}

static void link_connected(struct shard *sh, struct conn *c, int err)
{
    struct migrate_link *l = link_of(c);
    struct migration *g = l->user;
    if (err) {
        /* Redis 7.0 learns of a refused or timed-out connect only when it
         * writes: its text says "writing" */
        l->conn = NULL; /* freed by the loop after this */
        if (g)
            g->link = NULL;
        link_free(sh, l);
        if (g) {
            io_failed(g, "writing");
            migration_maybe_free(g);
        }
        return;
    }
    l->connected = true;
    if (!g || g->phase != PHASE_CONNECT) {
        conn_close(c, false);
        return;
    }
    send_restores(g);
}

static void link_closed(struct shard *sh, struct conn *c)
{
    struct migrate_link *l = link_of(c);
    struct migration *g = l->user;
    c->owner = NULL;
    l->conn = NULL;
    if (g)
        g->link = NULL;
    link_free(sh, l);
    if (g) {
        link_failed(g, "reading");
        migration_maybe_free(g);
    }
}

static void link_describe(struct shard *sh, const struct conn *c, struct conn_view *v)
{
    (void)sh;
    conn_view_outgoing(c, &link_of(c)->client, v);
}

/* No idle op: the MIGRATE's own timeout watches a busy link, the tick an
 * idle one.
 * CLIENT KILL: the MIGRATE fails as on a lost connection. */
static const struct conn_owner_ops migrate_link_ops = {
    .name = "migrate link",
    .data = link_data,
    .connected = link_connected,
    .closed = link_closed,
    .describe = link_describe,
    .kill = conn_owner_kill_close,
};

/* ------------------------------------------------------- the module */

static void migrate_tick(struct shard *sh, int64_t now_ms)
{
    staging_tick(sh, now_ms); /* the receiving end of a big key's parts */
    for (struct migrate_link *l = links, *next; l; l = next) {
        next = l->next;
        if (!l->user && l->conn && now_ms - l->idle_since_ms > LINK_IDLE_MS)
            conn_close(l->conn, false); /* link_closed frees it */
    }
    for (struct migration *g = in_flight, *next; g; g = next) {
        next = g->next;
        if ((g->phase == PHASE_CONNECT || g->phase == PHASE_REPLIES) && now_ms >= g->deadline_ms) {
            io_failed(g, g->phase == PHASE_CONNECT ? "writing" : "reading");
            migration_maybe_free(g);
        }
    }
}

static void migrate_teardown(struct shard *sh)
{
    staging_teardown(sh);
    if (sh->keys_in_flight)
        mi_free(sh->keys_in_flight->hashes);
    mi_free(sh->keys_in_flight);
    sh->keys_in_flight = NULL;
}

const struct shard_module migrate_module = {
    .name = "migrate",
    .tick = migrate_tick,
    .teardown = migrate_teardown,
};

/* ------------------------------------------------------- the command */

bool migrate_parse_addr(struct slice host, struct slice port, struct sockaddr_storage *addr)
{
    memset(addr, 0, sizeof(*addr));
    char text[256];
    long long p;
    if (host.len >= sizeof(text) || !parse_ll(port, &p) || p <= 0 || p >= 65536)
        return false;
    memcpy(text, host.ptr, host.len);
    text[host.len] = '\0';
    return loop_parse_addr(text, (int)p, addr) == 0;
}

/* A migration of keys[0..n) (the slices must live until it is answered),
 * in the dump phase, on this shard's list; the caller sets how it is
 * answered and posts the dumps. */
static struct migration *migration_new(struct shard *sh, const struct migrate_target *t, const struct slice *keys,
                                       int n, int owner)
{
    struct migration *g = mi_zalloc(sizeof(*g));
    g->sh = sh;
    g->addr = t->addr;
    g->user = t->user;
    g->pass = t->pass;
    g->copy = t->copy;
    g->replace = t->replace;
    g->many = t->many && sh->node->cluster != NULL;
    g->reserve = g->many ? t->reserve : 0;
    g->part = t->part && n == 1 && sh->node->cluster != NULL;
    g->part_first = t->part_first;
    g->part_last = t->part_last;
    g->object = t->object;
    if (g->part)
        g->many = false;
    g->timeout_ms = t->timeout_ms;
    g->nkeys = n;
    g->keys = mi_calloc((size_t)n, sizeof(struct migrate_key));
    for (int i = 0; i < n; i++) {
        struct migrate_key *k = &g->keys[i];
        k->name = keys[i];
        k->shard = owner >= 0 ? owner : shard_of_slot(sh->node, key_slot(k->name.ptr, k->name.len));
        buf_init(&k->payload);
    }
    buf_init(&g->error);
    buf_init(&g->refused);
    if (t->bad_addr)
        g->io_error = "connecting"; /* found out once the keys are known: NOKEY first, as Redis */
    g->phase = PHASE_DUMP;
    g->next = in_flight;
    in_flight = g;
    return g;
}

void cmd_migrate(struct exec_ctx *ctx)
{
    int argc = ctx->argc;
    const struct slice *argv = ctx->argv;
    bool copy = false, replace = false;
    struct slice user = { NULL, 0 }, pass = { NULL, 0 };
    int first_key = 3, nkeys = 1;
    for (int j = 6; j < argc; j++) {
        int more = argc - 1 - j;
        if (slice_eq_nocase(argv[j], "copy")) {
            copy = true;
        } else if (slice_eq_nocase(argv[j], "replace")) {
            replace = true;
        } else if (slice_eq_nocase(argv[j], "auth")) {
            if (more < 1) {
                reply_error(ctx->reply, ERR_SYNTAX);
                return;
            }
            pass = argv[++j];
        } else if (slice_eq_nocase(argv[j], "auth2")) {
            if (more < 2) {
                reply_error(ctx->reply, ERR_SYNTAX);
                return;
            }
            user = argv[++j];
            pass = argv[++j];
        } else if (slice_eq_nocase(argv[j], "keys")) {
            if (argv[3].len != 0) {
                reply_error(ctx->reply, "ERR When using MIGRATE KEYS option, the key argument must be set to the "
                                        "empty string");
                return;
            }
            first_key = j + 1;
            nkeys = argc - j - 1;
            break;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    long long timeout, db;
    if (!parse_ll(argv[5], &timeout) || !parse_ll(argv[4], &db)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (timeout <= 0)
        timeout = 1000;
    if (nkeys == 0) {
        reply_simple(ctx->reply, "NOKEY");
        return;
    }
    struct sockaddr_storage addr;
    bool addr_ok = migrate_parse_addr(argv[1], argv[2], &addr);
    if (!ctx->msg) {
        /* not run through a message (the row is CMD_SHARD0, so it is) */
        reply_error(ctx->reply, "ERR MIGRATE could not be run here");
        return;
    }
    struct migrate_target t = { .addr = addr, .user = user, .pass = pass, .timeout_ms = timeout,
                                .replace = replace, .copy = copy, .bad_addr = !addr_ok };
    struct migration *g = migration_new(ctx->shard, &t, argv + first_key, nkeys, -1);
    g->msg = ctx->msg;
    g->src_db = ctx->shard->db; /* the connection's (run_command_msg selected it) */
    g->dst_db = db;
    ctx->deferred = true;
    post_per_shard(g, MIGRATE_MSG_DUMP, every_key);
}

bool migrate_batch_dumped(struct shard *sh, const struct migrate_target *t, const struct slice *keys, int n,
                          int owner, const char *dumped, migrate_done_fn *done, void *arg)
{
    if (n <= 0)
        return false;
    struct migration *g = migration_new(sh, t, keys, n, owner);
    g->done = done;
    g->done_arg = arg;
    take_dump(g, owner, dumped, true);
    if (g->io_error)
        settle(g);
    else
        connect_target(g);
    return true;
}

