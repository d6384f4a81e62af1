/* replica: the replica side, on shard 0: REPLICAOF, the link to the master
 * (connect with back-off, handshake, PSYNC), and the stream: parsed here,
 * each write sent to the shard owning its key, the counted bytes kept in our
 * own backlog, our offset acknowledged every second. */
#include "replication/repl_state.h"

#include <mimalloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/numbers.h"
#include "net/loop.h"
#include "net/resolve.h"
#include "shards/aof.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/monitor.h"
#include "shards/node.h"
#include "shards/scratch.h"
#include "shards/shard.h"
#include "shards/store/serialize.h"
#include "shards/store/slot.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 2000
/* A master whose stream or RDB ringkv cannot follow (another database,
 * module data, a damaged file): the next try comes after this long, so the
 * log gets one line a minute and the master one snapshot a minute at most. */
#define FOREIGN_RETRY_MS 60000
#define ACK_PERIOD_MS 1000
/* Stream bytes the link takes in per loop turn. A replica catching up on a
 * flood would otherwise parse and apply megabytes in one turn while its own
 * clients wait for the next; the rest waits in the connection's input (and,
 * past a few MB, in TCP: the master's output buffer). */
#define LINK_TURN_BYTES (64u << 10)

static const struct conn_owner_ops link_ops;

static struct repl_link *link_of(const struct conn *c)
{
    return (struct repl_link *)c->owner;
}

/* An acknowledgement waiting for the shards (see send_ack). */
struct ack_fence {
    struct ack_fence *next;
    uint64_t          id;      /* struct repl's fence_seq when posted: unique */
    uint64_t          offset;  /* what the ACK says */
    int               pending; /* shards that have not answered yet */
};

/* The syncs held for a link going away: refused as while our link is down
 * (the crosses they waited for are dropped with it); their replicas retry. */
static void refuse_held_syncs(struct shard *sh, struct repl_link *l)
{
    for (int i = 0; i < l->nheld_syncs; i++) {
        struct shard_msg *m = l->held_syncs[i];
        buf_append_str(&m->reply, "-NOMASTERLINK Can't SYNC while not connected with my master\r\n");
        msg_post(sh, m, m->home);
    }
    mi_free(l->held_syncs);
    l->held_syncs = NULL;
    l->nheld_syncs = 0;
}

static void link_free(struct shard *sh, struct repl_link *l)
{
    int nshards = sh->node->nshards;
    if (l->in_multi) /* its bytes are not counted: the stream is where its MULTI was */
        repl_of(sh)->stream_db = l->multi_db;
    refuse_held_syncs(sh, l);
    while (l->fences) {
        struct ack_fence *f = l->fences;
        l->fences = f->next;
        mi_free(f);
    }
    resp_parser_deinit(&l->parser);
    applied_free(l, nshards);
    rdb_in_free(l->rdb);
    cross_free(l->cross);
    buf_free(&l->multi_raw);
    buf_free(&l->multi_aof);
    for (int i = 0; i < nshards; i++)
        buf_free(&l->apply[i]);
    mi_free(l->apply);
    mi_free(l->apply_open);
    mi_free(l->apply_db);
    mi_free(l);
}

/* A sync asked of us begins from our offset: a snapshot of each shard
 * behind the writes posted to it, then the stream after. A cross-shard
 * command under way is in the offset, its writes not posted yet: the
 * snapshot would lack them and the stream would not bring them again. So
 * the sync waits for the crosses under way, and the link reads nothing
 * new meanwhile (waits_for_cross), which bounds the wait to theirs. */
bool replica_hold_sync(struct shard *sh, struct shard_msg *m)
{
    struct repl_link *l = repl_of(sh)->link;
    if (!l || !l->cross)
        return false;
    l->held_syncs = mi_realloc(l->held_syncs, sizeof(*l->held_syncs) * (size_t)(l->nheld_syncs + 1));
    l->held_syncs[l->nheld_syncs++] = m;
    return true;
}

void replica_crosses_done(struct shard *sh, struct repl_link *l)
{
    struct shard_msg **held = l->held_syncs;
    int n = l->nheld_syncs;
    l->held_syncs = NULL;
    l->nheld_syncs = 0;
    for (int i = 0; i < n; i++)
        master_attach(sh, held[i]);
    mi_free(held);
}

static void schedule_retry(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : RETRY_MIN_MS;
    if (r->backoff_ms > RETRY_MAX_MS)
        r->backoff_ms = RETRY_MAX_MS;
    r->retry_at_ms = shard_now_ms(sh) + r->backoff_ms;
    r->step = LINK_CONNECT;
}

/* Close the link (if any) and forget a half-loaded snapshot. */
void replica_stop(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    if (r->step == LINK_TRANSFER)
        for (int i = 0; i < sh->node->nshards; i++)
            repl_post(sh, i, MSG_LOAD_ABORT, 0, NULL, NULL);
    if (r->link) {
        struct repl_link *l = r->link;
        if (l->cross)
            r->multi_partly_applied = true; /* counted, not applied: no PSYNC from here */
        r->link = NULL;
        if (l->conn)
            conn_close(l->conn, false); /* link_closed frees l */
        else
            link_free(sh, l);
    }
    if (r->step != LINK_NONE)
        r->link_down_since_ms = shard_now_ms(sh);
}

int repl_set_master(struct shard *sh, const char *host, int port, char *err, size_t errlen)
{
    struct repl *r = repl_of(sh);
    struct node *n = sh->node;
    if (!host) {
        if (!repl_is_replica(n))
            return 0;
        resolve_drop(r->resolving);
        r->resolving = NULL;
        replica_stop(sh);
        /* PSYNC2: the old history stays reachable under replid2 */
        memcpy(r->replid2, r->replid, sizeof(r->replid));
        r->second_offset = (int64_t)journal_offset(r->backlog) + 1;
        if (r->stream_db != 0) {
            /* our shards' stream bytes start in database 0 (repl.c,
             * ship_journal): the old master's stream may have left another
             * selected, for our replicas and our AOF (as Redis forces a
             * SELECT after a promotion) */
            master_stream_bytes(sh, "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", 23);
            r->stream_db = 0;
        }
        repl_new_replid(r->replid);
        /* Our replicas must learn the new id, or they would take what we
         * write from now on as the old history and, sent to another node
         * of it, continue there from an offset that means something else.
         * They reconnect at once and continue partially under replid2. */
        master_drop_replicas(sh);
        r->step = LINK_NONE;
        r->backlog_active = true;
        atomic_store(&n->repl_role, 0);
        atomic_store(&n->repl_feeding, 1);
        repl_broadcast_role(sh, false);
        log_notice("MASTER MODE enabled (user request from shard %d), new replication id %s, "
                   "previous id %s valid up to offset %lld", sh->id, r->replid, r->replid2,
                   (long long)r->second_offset - 1);
        return 0;
    }
    struct sockaddr_storage ss;
    if (port <= 0 || port > 65535 || (loop_parse_addr(host, port, &ss) != 0 && !resolve_name_ok(host))) {
        snprintf(err, errlen, "ERR Invalid master address: an IPv4/IPv6 address or a host name");
        return -1;
    }
    if (repl_is_replica(n) && strcmp(r->master_host, host) == 0 && r->master_port == port)
        return 1; /* already */
    resolve_drop(r->resolving); /* the old master's name */
    r->resolving = NULL;
    master_drop_replicas(sh);
    replica_stop(sh);
    bool was_master = !repl_is_replica(n);
    atomic_store(&n->repl_role, 1);
    atomic_store(&n->repl_feeding, 0);
    if (was_master)
        repl_broadcast_role(sh, true);
    snprintf(r->master_host, sizeof(r->master_host), "%s", host);
    r->master_port = port;
    r->step = LINK_CONNECT;
    r->retry_at_ms = 0;
    r->backoff_ms = 0;
    r->link_down_since_ms = shard_now_ms(sh);
    log_notice("Connecting to MASTER %s:%d (REPLICAOF)", host, port);
    return 0;
}

bool repl_current_master(struct shard *sh, char *host, size_t hostlen, int *port)
{
    if (!repl_is_replica(sh->node))
        return false;
    struct repl *r = repl_of(sh);
    snprintf(host, hostlen, "%s", r->master_host);
    *port = r->master_port;
    return true;
}

static void link_send(struct repl_link *l, const char *p, size_t n)
{
    buf_append(&l->conn->out, p, n);
    conn_flush(l->conn);
}

static void send_command(struct repl_link *l, int argc, const char **argv)
{
    struct buf b;
    buf_init(&b);
    resp_encode_strings(&b, argc, argv);
    link_send(l, b.data, b.len);
    buf_free(&b);
}


/* Where the writes read so far will all be applied: a cross-shard command
 * under way is counted, its writes not queued yet, so before the oldest. */
static uint64_t applied_target(struct repl *r, const struct repl_link *l)
{
    return l->cross ? cross_ack_offset(l->cross) : journal_offset(r->backlog);
}

uint64_t replica_applied_offset(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    uint64_t read = journal_offset(r->backlog);
    struct repl_link *l = r->link;
    if (!l || r->step != LINK_CONNECTED)
        return read;
    uint64_t applied = applied_offset(sh, l, applied_target(r, l));
    return applied < read ? applied : read;
}

/* REPLCONF ACK <offset>, once every shard has applied the writes up to
 * offset. Shard 0 reads the stream and hands each write to the shard that
 * owns its key (MSG_REPL_APPLY, applied there later); an ACK of what was
 * only read would let WAIT count this replica while a read here still
 * misses the write (a Redis replica's offset counts what it has executed).
 * So the applies queued so far are posted, then a fence to every shard
 * behind them (each mailbox is in order); the ACK goes when all are back,
 * on the link it was asked on. */
static void send_ack(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    struct repl_link *l = r->link;
    if (!l || !l->conn)
        return;
    replica_post_applies(sh, l, false);
    struct ack_fence *f = mi_zalloc(sizeof(*f));
    f->id = ++r->fence_seq;
    f->offset = applied_target(r, l);
    f->pending = sh->node->nshards;
    struct ack_fence **tail = &l->fences;
    while (*tail)
        tail = &(*tail)->next;
    *tail = f;
    for (int i = 0; i < sh->node->nshards; i++)
        repl_post(sh, i, MSG_APPLY_FENCE, f->id, NULL, NULL);
    r->last_ack_ms = shard_now_ms(sh);
}

void replica_fence_passed(struct shard *sh, uint64_t id)
{
    struct repl *r = repl_of(sh);
    struct repl_link *l = r->link;
    if (!l)
        return; /* the link it was for is gone, and its fences with it */
    struct ack_fence **pp = &l->fences;
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    struct ack_fence *f = *pp;
    if (!f || --f->pending > 0)
        return;
    *pp = f->next;
    if (l->conn) {
        char off[24];
        snprintf(off, sizeof(off), "%llu", (unsigned long long)f->offset);
        const char *argv[] = { "REPLCONF", "ACK", off };
        send_command(l, 3, argv);
    }
    mi_free(f);
}

/* The master's address: at once for a numeric one, else once the lookup
 * of its name (started here, a thread's: net/resolve.h) has answered;
 * polled at each tick meanwhile. False until there is one. */
static bool master_address(struct shard *sh, struct sockaddr_storage *ss)
{
    struct repl *r = repl_of(sh);
    if (loop_parse_addr(r->master_host, r->master_port, ss) == 0)
        return true;
    if (!r->resolving) {
        r->resolving = resolve_start(r->master_host, r->master_port);
        if (!r->resolving) {
            log_warning("Unable to connect to MASTER: could not start the lookup of %s", r->master_host);
            schedule_retry(sh);
        }
        return false;
    }
    char err[160];
    enum resolve_state st = resolve_poll(r->resolving, ss, err, sizeof err);
    if (st == RESOLVE_PENDING)
        return false;
    resolve_drop(r->resolving);
    r->resolving = NULL;
    if (st == RESOLVE_FAILED) {
        log_warning("Unable to connect to MASTER: %s: %s", r->master_host, err);
        schedule_retry(sh);
        return false;
    }
    return true;
}

static void connect_master(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    struct sockaddr_storage ss;
    if (!master_address(sh, &ss))
        return;
    struct repl_link *l = mi_zalloc(sizeof(*l));
    l->owner.ops = &link_ops;
    resp_parser_init(&l->parser);
    l->apply = mi_calloc((size_t)sh->node->nshards, sizeof(struct buf));
    l->apply_open = mi_malloc((size_t)sh->node->nshards * sizeof(size_t));
    l->apply_db = mi_calloc((size_t)sh->node->nshards, sizeof(int));
    for (int i = 0; i < sh->node->nshards; i++)
        l->apply_open[i] = SIZE_MAX;
    l->post_from = journal_offset(r->backlog);
    l->conn = loop_connect(sh->loop, &ss, &l->owner);
    if (!l->conn) {
        link_free(sh, l);
        schedule_retry(sh);
        return;
    }
    r->link = l;
    r->step = LINK_CONNECTING;
    r->last_io_ms = shard_now_ms(sh);
    l->client.id = atomic_fetch_add(&sh->node->next_client_id, 1);
    l->client.proto = 2;
    l->client.authenticated = true;
    l->client.fd = l->conn->fd;
    l->client.created_ms = r->last_io_ms;
}

static void link_connected(struct shard *sh, struct conn *c, int err)
{
    struct repl *r = repl_of(sh);
    struct repl_link *l = link_of(c);
    if (err) {
        if (r->link == l) {
            log_warning("Error condition on socket for SYNC: %s", strerror(-err));
            r->link = NULL;
            schedule_retry(sh);
        }
        link_free(sh, l);
        return;
    }
    if (r->link != l) { /* REPLICAOF changed meanwhile */
        conn_close(c, false);
        return;
    }
    log_notice("MASTER <-> REPLICA sync started");
    r->step = LINK_HANDSHAKE;
    r->last_io_ms = shard_now_ms(sh);
    const char *pass = config_str(&sh->node->config, masterauth);
    const char *ping[] = { "PING" };
    send_command(l, 1, ping);
    l->replies = 4;
    if (pass && *pass) {
        /* with masteruser, as that ACL user (Redis: AUTH masteruser masterauth) */
        const char *user = config_str(&sh->node->config, masteruser);
        if (user && *user) {
            const char *auth[] = { "AUTH", user, pass };
            send_command(l, 3, auth);
        } else {
            const char *auth[] = { "AUTH", pass };
            send_command(l, 2, auth);
        }
        l->auth = true;
        l->replies++;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", sh->node->port);
    const char *lp[] = { "REPLCONF", "listening-port", port };
    send_command(l, 3, lp);
    /* capa ringkv: our master feeds us its own snapshot format only when we
     * say we read it (a Redis master ignores capabilities it does not know) */
    const char *capa[] = { "REPLCONF", "capa", "eof", "capa", "psync2", "capa", "ringkv" };
    send_command(l, 7, capa);
    /* PSYNC follows once these are answered (handshake_reply): a Redis
     * master refuses a PSYNC that arrives while it still owes replies
     * ("SYNC and PSYNC are invalid with pending output") */
}

/* The last step of the handshake: ask for the stream from where we are. */
static void send_psync(struct shard *sh, struct repl_link *l)
{
    struct repl *r = repl_of(sh);
    char off[24];
    if (r->backlog_active && !r->multi_partly_applied) {
        snprintf(off, sizeof(off), "%llu", (unsigned long long)journal_offset(r->backlog) + 1);
        const char *psync[] = { "PSYNC", r->replid, off, "FAILOVER" };
        send_command(l, r->psync_failover ? 4 : 3, psync);
        r->psync_failover = false;
    } else {
        const char *psync[] = { "PSYNC", "?", "-1" };
        send_command(l, 3, psync);
    }
}

/* A handshake reply line (without CRLF). Returns false to drop the link. */
static bool handshake_reply(struct shard *sh, struct repl_link *l, const char *line, size_t len)
{
    struct repl *r = repl_of(sh);
    int total = l->auth ? 5 : 4;
    int i = total - l->replies--; /* 0: PING, 1: AUTH if sent, then REPLCONF x2, PSYNC */
    if (l->replies > 0) {
        bool is_auth = l->auth && i == 1;
        if (i == 0 && line[0] == '-' && !(l->auth && len >= 7 && memcmp(line, "-NOAUTH", 7) == 0)) {
            log_warning("Error reply to PING from master: %.*s", (int)len, line);
            return false;
        }
        if (is_auth && line[0] != '+') {
            log_warning("Unable to AUTH to MASTER: %.*s", (int)len, line);
            return false;
        }
        if (l->replies == 1)
            send_psync(sh, l); /* the last REPLCONF is answered */
        return true; /* REPLCONF errors are not fatal, as in Redis */
    }
    /* the PSYNC reply */
    if (len > 13 && memcmp(line, "+FULLRESYNC ", 12) == 0 && len >= 12 + REPLID_LEN + 2) {
        char id[REPLID_LEN + 1];
        memcpy(id, line + 12, REPLID_LEN);
        id[REPLID_LEN] = '\0';
        long long off = 0;
        struct slice o = { line + 12 + REPLID_LEN + 1, len - 12 - REPLID_LEN - 1 };
        if (!parse_ll(o, &off) || off < 0) {
            log_warning("Bad FULLRESYNC reply from master: %.*s", (int)len, line);
            return false;
        }
        /* a new history: replicas of ours cannot follow it partially */
        master_drop_replicas(sh);
        r->multi_partly_applied = false;
        memcpy(r->replid, id, sizeof(id));
        memset(r->replid2, '0', REPLID_LEN);
        r->second_offset = -1;
        journal_reset(r->backlog, (uint64_t)off);
        r->stream_db = 0; /* the snapshot's frames and the stream say which next */
        /* not a history to continue from until the snapshot is complete:
         * a cut during the transfer means a new full sync */
        r->backlog_active = false;
        for (int s = 0; s < sh->node->nshards; s++)
            repl_post(sh, s, MSG_LOAD_BEGIN, 0, NULL, NULL);
        r->step = LINK_TRANSFER;
        log_notice("Full resync from master: %s:%lld", id, off);
        return true;
    }
    if (len >= 9 && memcmp(line, "+CONTINUE", 9) == 0) {
        if (len >= 10 + REPLID_LEN && memcmp(line + 10, r->replid, REPLID_LEN) != 0) {
            /* the master has a new id (it was promoted): ours becomes the
             * previous one, valid up to where we are */
            memcpy(r->replid2, r->replid, sizeof(r->replid));
            r->second_offset = (int64_t)journal_offset(r->backlog) + 1;
            memcpy(r->replid, line + 10, REPLID_LEN);
            /* our replicas follow the old id: they reconnect and learn
             * the new one (partially, through our replid2) */
            master_drop_replicas(sh);
        }
        r->step = LINK_CONNECTED;
        r->backoff_ms = 0;
        l->post_from = journal_offset(r->backlog);
        log_notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        return true;
    }
    log_warning("Unexpected reply to PSYNC from master: %.*s", (int)len, line);
    return false;
}

static int key_owner(struct shard *sh, struct slice key)
{
    return sh->node->nshards == 1 ? 0 : shard_of_slot(sh->node, key_slot(key.ptr, key.len));
}

void replica_apply_db(struct repl_link *l, int i, int db)
{
    if (l->apply_db[i] == db)
        return;
    apply_put_db(&l->apply[i], &l->apply_open[i], db);
    l->apply_db[i] = db;
}

int repl_stream_db(struct shard *sh)
{
    return repl_is_replica(sh->node) ? replica_stream_db(sh) : 0;
}

int replica_stream_db(struct shard *sh)
{
    struct repl *r = repl_of(sh);
    if (r->link && r->link->in_multi)
        return r->link->multi_db;
    return r->stream_db;
}

/* A segment for shard i in the stream's database. */
static void queue_to(struct shard *sh, struct repl_link *l, int i)
{
    replica_apply_db(l, i, repl_of(sh)->stream_db);
}

static void queue_record(struct shard *sh, struct repl_link *l, const struct journal_record *rec)
{
    int owner = key_owner(sh, rec->key);
    queue_to(sh, l, owner);
    apply_put_record(&l->apply[owner], &l->apply_open[owner], rec);
}

/* Inside a MULTI of the stream the applies wait for its EXEC (unless
 * force: a cross-shard command in it needs what came before it applied),
 * so each shard applies its part of the transaction at once. */
void replica_post_applies(struct shard *sh, struct repl_link *l, bool force)
{
    if (l->in_multi && !force)
        return;
    for (int i = 0; i < sh->node->nshards; i++) {
        replica_apply_db(l, i, 0); /* a batch ends in database 0, as it starts */
        if (l->apply[i].len)
            repl_post(sh, i, MSG_REPL_APPLY, applied_posting(sh, l, i), NULL, &l->apply[i]);
        l->apply_open[i] = SIZE_MAX;
    }
    l->post_from = journal_offset(repl_of(sh)->backlog);
}

/* What became of a command of the stream. */
enum stream_verdict {
    SC_OK,     /* queued to its shards */
    SC_BAD,    /* garbled or unknown: drop the link, retry soon */
    SC_REFUSE, /* what ringkv cannot replicate (another database): logged, retry in a minute */
};

static bool is_msetnx(struct slice name)
{
    return slice_eq_nocase(name, "msetnx");
}

/* A write over keys of several shards that splits by key (MSET, DEL,
 * UNLINK: the row's keys run to the end, key_step apart): each owner gets
 * the command with its own keys, as a client's split command is run.
 * MSETNX comes as MSET: the master propagates it only when it set every
 * key (none existed), which is then what MSET does. */
static void queue_split(struct shard *sh, struct repl_link *l, const struct command *cmd, int argc,
                        const struct slice *argv, const int *idx, const int *owner, int nk, bool aof)
{
    if (aof && is_msetnx(argv[0])) {
        /* the AOF loads MSET over several shards, not MSETNX */
        struct slice *as = mi_malloc(sizeof *as * (size_t)argc);
        memcpy(as, argv, sizeof *as * (size_t)argc);
        as[0] = SLICE_LIT("MSET");
        struct buf b;
        buf_init(&b);
        resp_encode_command(&b, argc, as);
        replica_aof_form(sh, l, b.data, b.len);
        buf_free(&b);
        mi_free(as);
    }
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    struct slice *part = mi_malloc(sizeof *part * (size_t)argc);
    for (int t = 0; t < sh->node->nshards; t++) {
        int pc = 0;
        for (int i = 0; i < cmd->first_key; i++)
            part[pc++] = argv[i];
        if (is_msetnx(argv[0]))
            part[0] = SLICE_LIT("MSET");
        for (int k = 0; k < nk; k++) {
            if (owner[k] != t)
                continue;
            for (int j = 0; j < step && idx[k] + j < argc; j++)
                part[pc++] = argv[idx[k] + j];
        }
        if (pc > cmd->first_key) {
            queue_to(sh, l, t);
            apply_put_command(&l->apply[t], &l->apply_open[t], pc, part);
        }
    }
    mi_free(part);
}

void replica_aof_form(struct shard *sh, struct repl_link *l, const char *p, size_t n)
{
    if (l->in_multi)
        buf_append(&l->multi_aof, p, n);
    else
        aof_feed(sh->node, AOF_FROM_LINK, p, n);
}

/* A command the master journaled as itself (its row's journal column), or a
 * write in another form than the records' (a Redis master's stream is all
 * commands): run through the same row here, on the shard owning its keys,
 * or on every shard for a node-wide one (each applies it at the same point
 * of the stream: it follows, in that shard's apply order, every write the
 * stream had before it). Keys on several shards: split by key when the
 * command splits, else run by cross.c.
 *
 * The AOF (raw: the command as the stream has it, NULL: not for the AOF)
 * gets what its loader can run on the shards owning the keys: the command
 * itself, MSET for a split MSETNX, and a cross-shard command's effects
 * (cross.c), since it loads no command over several shards but a split
 * one. */
static enum stream_verdict queue_command(struct shard *sh, struct repl_link *l, const struct command *cmd,
                                         int argc, const struct slice *argv, const char *raw, size_t rawlen)
{
    bool aof = raw != NULL;
    if (cmd->subcommands && argc > 1) /* XGROUP CREATE, FUNCTION LOAD...: the subcommand's row */
        cmd = command_lookup_sub(cmd, argv[1]);
    if (!cmd || cmd->subcommands || !cmd->fn || !command_arity_ok(cmd, argc))
        return SC_BAD;
    if (cmd->journal == JOURNAL_ALWAYS) {
        /* node-wide state: shard 0 runs it; PUBLISH: every shard, for its
         * own subscribers */
        for (int i = 0; i < ((cmd->flags & CMD_ALL_SHARDS) ? sh->node->nshards : 1); i++) {
            queue_to(sh, l, i);
            apply_put_command(&l->apply[i], &l->apply_open[i], argc, argv);
        }
        if (aof)
            replica_aof_form(sh, l, raw, rawlen);
        return SC_OK;
    }
    if (cmd->journal == JOURNAL_NODE) {
        for (int i = 0; i < sh->node->nshards; i++) {
            queue_to(sh, l, i);
            apply_put_command(&l->apply[i], &l->apply_open[i], argc, argv);
        }
        if (aof)
            replica_aof_form(sh, l, raw, rawlen);
        return SC_OK;
    }
    int nk = command_keys(cmd, argc, argv, NULL, 0);
    if (nk <= 0) { /* a write of no key: shard 0's */
        queue_to(sh, l, 0);
        apply_put_command(&l->apply[0], &l->apply_open[0], argc, argv);
        if (aof)
            replica_aof_form(sh, l, raw, rawlen);
        return SC_OK;
    }
    int small_idx[16], small_own[16];
    int *idx = nk <= 16 ? small_idx : mi_malloc(sizeof(int) * (size_t)nk);
    int *owner = nk <= 16 ? small_own : mi_malloc(sizeof(int) * (size_t)nk);
    command_keys(cmd, argc, argv, idx, nk);
    bool one = true;
    for (int k = 0; k < nk; k++) {
        owner[k] = key_owner(sh, argv[idx[k]]);
        one = one && owner[k] == owner[0];
    }
    enum stream_verdict v = SC_OK;
    if (one) {
        queue_to(sh, l, owner[0]);
        apply_put_command(&l->apply[owner[0]], &l->apply_open[owner[0]], argc, argv);
        if (aof)
            replica_aof_form(sh, l, raw, rawlen);
    } else if (((cmd->flags & CMD_SPLIT) || is_msetnx(argv[0])) && cmd->last_key == -1 && cmd->first_key > 0) {
        int step = cmd->key_step > 0 ? cmd->key_step : 1;
        if ((argc - cmd->first_key) % step != 0) {
            v = SC_BAD;
        } else {
            queue_split(sh, l, cmd, argc, argv, idx, owner, nk, aof);
            if (aof && !is_msetnx(argv[0]))
                replica_aof_form(sh, l, raw, rawlen);
        }
    } else {
        cross_start(sh, l, cmd, argc, argv, idx, owner, nk, aof, l->cmd_before);
    }
    if (idx != small_idx)
        mi_free(idx);
    if (owner != small_own)
        mi_free(owner);
    return v;
}

/* A database index of the stream: one we have (databases). */
static bool db_index(struct shard *sh, struct slice s, int *db)
{
    long long v;
    if (!parse_ll(s, &v) || v < 0 || v >= sh->ndbs)
        return false;
    *db = (int)v;
    return true;
}

static bool parse_expire(struct slice s, int64_t *at)
{
    long long v;
    if (!parse_ll(s, &v) || v < 0)
        return false;
    *at = v;
    return true;
}

/* The master's stream goes where ringkv cannot follow (another database):
 * said loudly, the link dropped before the command is counted, and tried
 * again a minute later (REPLICAOF NO ONE stops it). */
static void refuse_master(struct shard *sh, const char *why)
{
    struct repl *r = repl_of(sh);
    log_warning("MASTER <-> REPLICA: %s; ringkv stops replicating %s:%d here, next try in %d s "
                "(REPLICAOF NO ONE to stop)", why, r->master_host, r->master_port, FOREIGN_RETRY_MS / 1000);
    replica_stop(sh);
    r->backoff_ms = RETRY_MAX_MS;
    r->retry_at_ms = shard_now_ms(sh) + FOREIGN_RETRY_MS;
    r->step = LINK_CONNECT;
}

/* The full sync is loaded: the staging stores become the stores. */
static void sync_finished(struct shard *sh, struct repl_link *l)
{
    struct repl *r = repl_of(sh);
    replica_post_applies(sh, l, true);
    for (int i = 0; i < sh->node->nshards; i++)
        repl_post(sh, i, MSG_LOAD_END, 0, NULL, NULL);
    aof_dataset_replaced(sh->node); /* its base from a snapshot taken after the load ends */
    r->step = LINK_CONNECTED;
    r->backoff_ms = 0;
    r->backlog_active = true;
    applied_forget(l, sh->node->nshards); /* the load's: the swap of the stores is posted behind them */
    log_notice("MASTER <-> REPLICA sync: Finished with success");
}

/* A Redis master's RDB is in: its function libraries replace ours (as a
 * Redis replica's full sync does), on shard 0 before the swap. */
static void rdb_finished(struct shard *sh, struct repl_link *l)
{
    const struct buf *libs = rdb_in_libraries(l->rdb);
    const struct command *fn = command_lookup(SLICE_LIT("FUNCTION"));
    if (fn) {
        struct slice flush[] = { SLICE_LIT("FUNCTION"), SLICE_LIT("FLUSH") };
        queue_command(sh, l, fn, 2, flush, NULL, 0);
        for (size_t at = 0; at + 4 <= libs->len;) {
            uint32_t n;
            memcpy(&n, libs->data + at, 4);
            struct slice load[] = { SLICE_LIT("FUNCTION"), SLICE_LIT("LOAD"), SLICE_LIT("REPLACE"),
                                    { libs->data + at + 4, n } };
            queue_command(sh, l, fn, 4, load, NULL, 0);
            at += 4 + n;
        }
    }
    log_notice("MASTER <-> REPLICA sync: Loading DB in memory: %llu keys from the master's RDB (%llu bytes)",
               (unsigned long long)rdb_in_keys(l->rdb), (unsigned long long)rdb_in_bytes(l->rdb));
    repl_of(sh)->stream_db = rdb_in_stream_db(l->rdb);
    rdb_in_free(l->rdb);
    l->rdb = NULL;
    sync_finished(sh, l);
}

/* Must this command of the stream wait until the cross-shard commands
 * under way are done (cross.c)? Yes if it touches their keys, or its keys
 * are not known (node-wide, keyless, unknown), or it is a transaction's
 * edge or inside one, a GETACK (its ACK covers them), a frame, or too many
 * run already. */
static bool waits_for_cross(struct repl_link *l, int argc, const struct slice *argv)
{
    if (!l->cross)
        return false;
    struct slice name = argv[0];
    if (l->nheld_syncs || l->ncross >= CROSS_MAX || l->in_multi || slice_eq_nocase(name, "multi") || slice_eq_nocase(name, "exec"))
        return true;
    if (slice_eq_nocase(name, "ping"))
        return false;
    if (slice_eq_nocase(name, "replconf"))
        return argc >= 2 && slice_eq_nocase(argv[1], "getack");
    if (slice_eq_nocase(name, "select"))
        return false; /* each cross runs in the database it was read in */
    if (argc < 2)
        return true;
    if ((slice_eq_nocase(name, "del") || slice_eq_nocase(name, "unlink")) && argc >= 2)
        return cross_touches(l->cross, argv + 1, argc - 1);
    if ((slice_eq_nocase(name, "set") || slice_eq_nocase(name, "move") || slice_eq_nocase(name, "pexpireat") ||
         slice_eq_nocase(name, "persist")) && argc <= 5)
        return cross_touches(l->cross, argv + 1, 1);
    const struct command *cmd = command_lookup(name);
    if (cmd && cmd->subcommands)
        cmd = command_lookup_sub(cmd, argv[1]);
    if (!cmd || !cmd->fn || cmd->subcommands || cmd->journal == JOURNAL_NODE || cmd->journal == JOURNAL_ALWAYS ||
        !command_arity_ok(cmd, argc))
        return true;
    int nk = command_keys(cmd, argc, argv, NULL, 0);
    if (nk <= 0)
        return true;
    int small[16];
    int *idx = nk <= 16 ? small : mi_malloc(sizeof(int) * (size_t)nk);
    struct slice smallk[16];
    struct slice *keys = nk <= 16 ? smallk : mi_malloc(sizeof(struct slice) * (size_t)nk);
    command_keys(cmd, argc, argv, idx, nk);
    for (int k = 0; k < nk; k++)
        keys[k] = argv[idx[k]];
    bool touches = cross_touches(l->cross, keys, nk);
    if (idx != small)
        mi_free(idx);
    if (keys != smallk)
        mi_free(keys);
    return touches;
}

/* One command of the stream. */
static enum stream_verdict stream_command(struct shard *sh, struct repl_link *l, int argc, const struct slice *argv,
                                          const char *raw, size_t rawlen)
{
    struct repl *r = repl_of(sh);
    struct journal_record rec = { 0 };
    struct slice name = argv[0];
    l->cmd_before = journal_offset(r->backlog);
    if (slice_eq_nocase(name, FRAME_RESTORE)) {
        /* decoded as RESTORE decodes it; a frame that does not decode drops
         * the link, as any garbled stream does. The checksum is not checked
         * again: the stream's other values have none, the link is the
         * master's, and shard 0 parses the whole sync alone (the CRC would
         * add about a third to its work for 1 KB values) */
        if (r->step != LINK_TRANSFER || argc != 4 || !parse_expire(argv[2], &rec.expire_at_ms) ||
            !serialize_payload_version_ok(argv[3].ptr, argv[3].len))
            return SC_BAD;
        struct decoded_value v;
        if (!serialize_decode(argv[3].ptr, argv[3].len, &v))
            return SC_BAD;
        bool ok = v.type == TYPE_STRING; /* the one value a record carries */
        if (ok) {
            rec.op = JOURNAL_SET;
            rec.key = argv[1];
            rec.value = v.string;
            queue_record(sh, l, &rec);
        }
        decoded_value_free(&v);
        return ok ? SC_OK : SC_BAD;
    }
    if (slice_eq_nocase(name, FRAME_LOAD)) {
        if (r->step != LINK_TRANSFER || argc != 4)
            return SC_BAD;
        rec.op = JOURNAL_SET;
        rec.key = argv[1];
        rec.value = argv[2];
        if (!parse_expire(argv[3], &rec.expire_at_ms))
            return SC_BAD;
        queue_record(sh, l, &rec);
        return SC_OK;
    }
    if (slice_eq_nocase(name, FRAME_LOADCMD)) {
        /* one command of a collection's rebuild, for the staging store:
         * not part of the stream (no offset, not passed on) */
        const struct command *cmd;
        if (r->step != LINK_TRANSFER || argc < 3 || !(cmd = command_lookup(argv[1])) ||
            cmd->journal == JOURNAL_NODE)
            return SC_BAD;
        return queue_command(sh, l, cmd, argc - 1, argv + 1, NULL, 0) == SC_OK ? SC_OK : SC_BAD;
    }
    if (slice_eq_nocase(name, FRAME_LOADDONE)) {
        if (r->step != LINK_TRANSFER)
            return SC_BAD;
        sync_finished(sh, l);
        return SC_OK;
    }
    if (slice_eq_nocase(name, FRAME_SELECT)) {
        /* the snapshot's next frames (or the stream a replica of our
         * master held for us) are of database n: not part of the stream */
        int db;
        if (r->step != LINK_TRANSFER || argc != 2 || !db_index(sh, argv[1], &db))
            return SC_BAD;
        r->stream_db = db;
        return SC_OK;
    }
    /* a database index of the stream (SELECT, SWAPDB, MOVE) is checked
     * before the command is counted: a link dropped here continues (PSYNC)
     * from before it, and never applies a database we lack to another */
    int sel = -1, swap_a = -1, swap_b = -1, move_to = -1;
    bool db_ok = true;
    struct slice bad_db = { "", 0 };
    if (slice_eq_nocase(name, "select")) {
        if (argc != 2)
            return SC_BAD;
        db_ok = db_index(sh, argv[1], &sel);
        bad_db = argv[1];
    } else if (slice_eq_nocase(name, "swapdb") && argc == 3) {
        db_ok = db_index(sh, argv[1], &swap_a) && db_index(sh, argv[2], &swap_b);
        bad_db = db_index(sh, argv[1], &swap_a) ? argv[2] : argv[1];
    } else if (slice_eq_nocase(name, "move") && argc == 3) {
        db_ok = db_index(sh, argv[2], &move_to);
        bad_db = argv[2];
    }
    if (!db_ok) {
        char why[200];
        snprintf(why, sizeof why, "the master's stream uses database %.*s (%.*s), and ringkv has %d here "
                 "(databases)", (int)(bad_db.len > 20 ? 20 : bad_db.len), bad_db.ptr,
                 (int)(name.len > 16 ? 16 : name.len), name.ptr, sh->ndbs);
        if (!l->in_multi) /* what came before it is counted: applied */
            replica_post_applies(sh, l, false);
        refuse_master(sh, why);
        return SC_REFUSE;
    }
    if (sel >= 0)
        r->stream_db = sel;
    bool multi = slice_eq_nocase(name, "multi") && argc == 1;
    bool exec = slice_eq_nocase(name, "exec") && argc == 1;
    /* the effects' forms (most of a ringkv master's stream), applied as
     * records; then the commands run through their rows, which give the
     * AOF its form of them (queue_command) */
    bool as_record = (slice_eq_nocase(name, "set") && (argc == 3 || (argc == 5 && slice_eq_nocase(argv[3], "pxat")))) ||
                     ((slice_eq_nocase(name, "del") || slice_eq_nocase(name, "unlink")) && argc >= 2) ||
                     (slice_eq_nocase(name, "move") && argc == 3) ||
                     (slice_eq_nocase(name, "swapdb") && argc == 3) ||
                     (slice_eq_nocase(name, "pexpireat") && argc == 3) ||
                     (slice_eq_nocase(name, "persist") && argc == 2);
    const struct command *cmd = NULL;
    if (!as_record && !multi && !exec && (cmd = command_lookup(name)) != NULL &&
        !(cmd->journal != JOURNAL_EFFECTS || (cmd->flags & CMD_WRITE) || (cmd->subcommands && argc > 1)))
        cmd = NULL;
    if ((multi && l->in_multi) || (exec && !l->in_multi))
        return SC_BAD;
    if (multi) {
        /* what came before it goes now: the transaction's applies are
         * held, and dropped whole if the link is cut before EXEC */
        replica_post_applies(sh, l, true);
        l->in_multi = true;
        l->multi_db = r->stream_db;
        buf_clear(&l->multi_raw);
        buf_clear(&l->multi_aof);
    }
    /* everything else is part of the stream and of our offset, and goes on
     * to replicas of ours; the master's PING and REPLCONF are not data for
     * our AOF, and a command run through its row gives the AOF its own
     * form. A transaction's bytes count at its EXEC. */
    bool persisted = !cmd && !slice_eq_nocase(name, "ping") && !slice_eq_nocase(name, "replconf");
    if (l->in_multi)
        buf_append(&l->multi_raw, raw, rawlen);
    else
        master_stream_bytes_unpersisted(sh, raw, rawlen);
    if (persisted)
        replica_aof_form(sh, l, raw, rawlen);
    if (monitor_watching(sh->node)) {
        /* Redis shows the master's commands, from the master's address */
        char peer[300];
        snprintf(peer, sizeof(peer), "%s:%d", r->master_host, r->master_port);
        monitor_command_from(sh, peer, argc, argv);
    }
    if (multi)
        return SC_OK;
    if (exec) {
        l->in_multi = false;
        r->multi_partly_applied = false;
        master_stream_bytes_unpersisted(sh, l->multi_raw.data, l->multi_raw.len);
        aof_feed(sh->node, AOF_FROM_LINK, l->multi_aof.data, l->multi_aof.len);
        buf_clear(&l->multi_raw);
        buf_clear(&l->multi_aof);
        return SC_OK;
    }
    if (slice_eq_nocase(name, "set") && as_record) {
        rec.op = JOURNAL_SET;
        rec.key = argv[1];
        rec.value = argv[2];
        if (argc == 5 && !parse_expire(argv[4], &rec.expire_at_ms))
            return SC_BAD;
        queue_record(sh, l, &rec);
    } else if ((slice_eq_nocase(name, "del") || slice_eq_nocase(name, "unlink")) && argc >= 2) {
        rec.op = JOURNAL_DEL;
        for (int i = 1; i < argc; i++) {
            rec.key = argv[i];
            queue_record(sh, l, &rec);
        }
    } else if (slice_eq_nocase(name, "move") && argc == 3) {
        /* the key goes to another database, on its owner here (our AOF
         * has the MOVE as sent) */
        int owner = key_owner(sh, argv[1]);
        queue_to(sh, l, owner);
        apply_put_move(&l->apply[owner], &l->apply_open[owner], argv[1], move_to);
    } else if (slice_eq_nocase(name, "swapdb") && argc == 3) {
        /* every shard swaps its two stores at this point of its applies,
         * as a node-wide command runs (FLUSHALL) */
        for (int i = 0; i < sh->node->nshards; i++)
            apply_put_swapdb(&l->apply[i], &l->apply_open[i], swap_a, swap_b);
    } else if (slice_eq_nocase(name, "pexpireat") && argc == 3) {
        rec.op = JOURNAL_EXPIRE;
        rec.key = argv[1];
        if (!parse_expire(argv[2], &rec.expire_at_ms))
            return SC_BAD;
        queue_record(sh, l, &rec);
    } else if (slice_eq_nocase(name, "persist") && argc == 2) {
        rec.op = JOURNAL_PERSIST;
        rec.key = argv[1];
        queue_record(sh, l, &rec);
    } else if (cmd) {
        /* journaled as itself, or a write in a form of its own (a handler's
         * stated form: SET k v KEEPTTL; a Redis master's commands) */
        enum stream_verdict v = queue_command(sh, l, cmd, argc, argv, raw, rawlen);
        if (v == SC_BAD)
            log_warning("Bad '%.*s' in the replication stream", (int)name.len, name.ptr);
        return v;
    } else if (slice_eq_nocase(name, "replconf") && argc >= 2 && slice_eq_nocase(argv[1], "getack")) {
        send_ack(sh);
    } else if (slice_eq_nocase(name, "ping") || slice_eq_nocase(name, "select") ||
               slice_eq_nocase(name, "replconf")) {
        /* nothing to apply */
    } else {
        log_warning("Unknown command in the replication stream: '%.*s'", (int)name.len, name.ptr);
        return SC_BAD;
    }
    return SC_OK;
}

static size_t link_data(struct shard *sh, struct conn *c, const char *p, size_t n)
{
    struct repl *r = repl_of(sh);
    struct repl_link *l = link_of(c);
    r->last_io_ms = shard_now_ms(sh);
    if (l->turn != loop_turns(c->loop)) {
        l->turn = loop_turns(c->loop);
        l->turn_bytes = 0;
    }
    size_t used = 0;
    while (used < n && r->link == l && !c->closing) {
        if (l->turn_bytes >= LINK_TURN_BYTES) {
            conn_yield(c); /* the rest next turn, after the shard's other work */
            break;
        }
        if (r->step == LINK_HANDSHAKE) {
            if (p[used] != '+' && p[used] != '-' && p[used] != '\r' && p[used] != '\n') {
                /* every handshake reply is a status or an error line: no
                 * use waiting for the end of a line that is not one (the
                 * master would wait for our PSYNC meanwhile) */
                log_warning("Unexpected reply from master during the replication handshake");
                goto broken;
            }
            const char *eol = memchr(p + used, '\n', n - used);
            if (!eol) {
                if (n - used > 4096)
                    goto broken;
                break;
            }
            size_t len = (size_t)(eol - (p + used));
            if (len && p[used + len - 1] == '\r')
                len--;
            if (len == 0) { /* a keepalive newline */
                used = (size_t)(eol - p) + 1;
                continue;
            }
            if (!handshake_reply(sh, l, p + used, len))
                goto broken;
            used = (size_t)(eol - p) + 1;
            continue;
        }
        if (r->step != LINK_TRANSFER && r->step != LINK_CONNECTED)
            break;
        if (l->rdb) {
            /* a Redis master's RDB file (rdb_load.c), a record at a time */
            char err[256];
            size_t took = 0;
            enum rdb_in_status st = rdb_in_data(sh, l, l->rdb, p + used, n - used, LINK_TURN_BYTES - l->turn_bytes,
                                                &took, err, sizeof err);
            used += took;
            l->turn_bytes += took;
            if (st == RDB_IN_ERROR) {
                /* the staging stores are dropped; a minute before the
                 * next try, each one a new RDB on the master */
                char why[320];
                snprintf(why, sizeof why, "full sync failed: %s", err);
                refuse_master(sh, why);
                return n;
            }
            if (st == RDB_IN_DONE) {
                rdb_finished(sh, l);
                continue;
            }
            if (l->turn_bytes < LINK_TURN_BYTES) {
                /* a record not whole yet: its room at once */
                size_t wants = rdb_in_wants(l->rdb);
                if (wants >= (32u << 10))
                    conn_input_expect(c, wants);
                break;
            }
            continue;
        }
        if (r->step == LINK_TRANSFER && p[used] == '$') {
            /* after +FULLRESYNC, a Redis master sends an RDB file ($<len>
             * or $EOF:<mark>, then "REDIS...") where ringkv's snapshot is
             * commands */
            const char *eol = memchr(p + used, '\n', n - used);
            if (!eol) {
                if (n - used > 256)
                    goto broken;
                break;
            }
            size_t len = (size_t)(eol - (p + used));
            if (len && p[used + len - 1] == '\r')
                len--;
            char err[160];
            l->rdb = rdb_in_start(sh, p + used, len, err, sizeof err);
            if (!l->rdb) {
                log_warning("MASTER <-> REPLICA sync: %s", err);
                goto broken;
            }
            log_notice("MASTER <-> REPLICA sync: receiving %s from the master (a Redis server): its RDB file",
                       len > 5 && memcmp(p + used, "$EOF:", 5) == 0 ? "streamed data (diskless)" : "a file");
            used = (size_t)(eol - p) + 1;
            continue;
        }
        if (p[used] == '\n' || p[used] == '\r') { /* keepalive newlines */
            used++;
            continue;
        }
        /* proto-max-bulk-len, as for a client: a master configured with a
         * larger one than the default may hold (and send) larger values */
        struct resp_limits lim = RESP_LIMITS_DEFAULT;
        lim.max_bulk_len = config_load(&sh->node->config, proto_max_bulk_len);
        lim.strict = true;
        size_t consumed = 0;
        const char *err = NULL;
        enum resp_status st = resp_parse(&l->parser, p + used, n - used, &lim, &consumed, &err);
        if (st == RESP_MORE) {
            /* a big value in the stream: its room at once, as a client's
             * (shards/dispatch.c) */
            size_t wants = resp_parse_wants(&l->parser);
            if (wants >= (32u << 10))
                conn_input_expect(c, wants);
            break;
        }
        if (st == RESP_ERROR) {
            log_warning("Protocol error in the replication stream: %s", err);
            goto broken;
        }
        if (st == RESP_DONE && waits_for_cross(l, (int)l->parser.argc, l->parser.argv)) {
            /* read again once they are done (cross_exported resumes) */
            conn_pause(c);
            break;
        }
        if (st == RESP_DONE) {
            enum stream_verdict v = stream_command(sh, l, (int)l->parser.argc, l->parser.argv, p + used, consumed);
            if (v == SC_BAD)
                goto broken;
            if (v == SC_REFUSE)
                return n; /* the link is closed */
            used += consumed;
            l->turn_bytes += consumed;
            continue;
        }
        used += consumed;
        l->turn_bytes += consumed;
    }
    replica_post_applies(sh, l, false);
    return used;
broken:
    /* a corrupt or unexpected stream: the commands before the bad one were
     * whole and are counted in our offset, so they are applied (a
     * transaction cut short is not counted: dropped); then drop the link
     * and retry (a half-loaded snapshot is aborted by replica_stop) */
    if (!l->in_multi)
        replica_post_applies(sh, l, false);
    replica_stop(sh);
    schedule_retry(sh);
    return n;
}

static void link_closed(struct shard *sh, struct conn *c)
{
    struct repl *r = repl_of(sh);
    struct repl_link *l = link_of(c);
    c->owner = NULL;
    if (r->link == l) {
        log_warning("Connection with master lost.");
        if (l->cross)
            r->multi_partly_applied = true; /* counted, not applied: no PSYNC from here */
        r->link = NULL;
        if (r->step == LINK_TRANSFER)
            for (int i = 0; i < sh->node->nshards; i++)
                repl_post(sh, i, MSG_LOAD_ABORT, 0, NULL, NULL);
        r->link_down_since_ms = shard_now_ms(sh);
        if (repl_is_replica(sh->node))
            schedule_retry(sh);
        else
            r->step = LINK_NONE;
    }
    link_free(sh, l);
}

void replica_tick(struct shard *sh, int64_t now_ms)
{
    struct repl *r = repl_of(sh);
    if (!repl_is_replica(sh->node))
        return;
    switch (r->step) {
    case LINK_CONNECT:
        if (now_ms >= r->retry_at_ms)
            connect_master(sh);
        break;
    case LINK_CONNECTING:
    case LINK_HANDSHAKE:
    case LINK_TRANSFER:
    case LINK_CONNECTED: {
        long long timeout = config_load(&sh->node->config, repl_timeout) * 1000;
        if (timeout > 0 && now_ms - r->last_io_ms > timeout) {
            log_warning("MASTER timeout: no data nor PING received for %lld ms", timeout);
            replica_stop(sh);
            schedule_retry(sh);
            break;
        }
        if (r->step == LINK_CONNECTED && now_ms - r->last_ack_ms >= ACK_PERIOD_MS)
            send_ack(sh);
        break;
    }
    case LINK_NONE:
        break;
    }
}

/* ---- the link as a connection owner ---------------------------------- */

/* CLIENT LIST shows the link as Redis does: flags=M, the master's address
 * as addr, the superuser, idle since the master last sent anything. */
static void link_describe(struct shard *sh, const struct conn *c, struct conn_view *v)
{
    struct repl_link *l = link_of(c);
    struct client *cl = &l->client;
    conn_addr_text(&c->peer, cl->addr, sizeof(cl->addr));
    conn_addr_text(&c->local, cl->laddr, sizeof(cl->laddr));
    cl->last_active_ms = repl_of(sh)->last_io_ms;
    v->client = cl;
    v->type = CLIENT_TYPE_MASTER;
    v->flags = "M";
    v->user = "(superuser)";
}

/* No idle op: the master link is exempt from `timeout` (repl-timeout is
 * its own).
 * CLIENT KILL TYPE master: drop the link now; it reconnects (and asks for a
 * partial resync) after the retry delay, as after any cut. */
/* link_data, counting the bytes that are new (the loop gives again what
 * the last call left) in INFO's total_net_input_bytes and, of them,
 * total_net_repl_input_bytes (as redis-server 7.0 counts them) */
static size_t link_data_counted(struct shard *sh, struct conn *c, const char *p, size_t n)
{
    struct repl_link *l = link_of(c);
    size_t fresh = n > l->input_counted ? n - l->input_counted : 0;
    stat_add(&sh->stats.net_input_bytes, fresh);
    stat_add(&sh->stats.net_repl_input_bytes, fresh);
    size_t used = link_data(sh, c, p, n);
    l->input_counted = c->closing ? 0 : n - used;
    return used;
}

static const struct conn_owner_ops link_ops = {
    .name = "master link",
    .data = link_data_counted,
    .connected = link_connected,
    .closed = link_closed,
    .describe = link_describe,
    .kill = conn_owner_kill_close,
};
