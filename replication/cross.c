/* cross: a write of the master's stream over keys that live on several
 * shards here and that does not split by key (RENAME, SMOVE, LMOVE, COPY,
 * the *STORE commands, BITOP, PFMERGE...). A redis-server master sends
 * such commands as they were run (a ringkv master sends their effects, one
 * key each). They run as a client's do across shards (ARCHITECTURE.md, "A
 * request's way"): copies of the keys come to shard 0, the command runs on
 * a scratch store, and the writes it made go to their owners as records.
 *
 * Order: the applies queued before the command are posted first, then an
 * export request to each owner behind them (one mailbox per pair of shards,
 * in order), so the copies are the state after every earlier write. The
 * link reads on meanwhile: a later command of other keys is applied at
 * once (its order against this one's writes changes nothing of the end
 * state), while one that touches its keys, or whose keys are not known
 * (node-wide, keyless), a GETACK, a MULTI or EXEC, waits with the link
 * paused until it is done (replica.c), so a write to those keys lands after
 * its writes on their shard. Several may run at once (CROSS_MAX), each its
 * own round trip: a stream of RENAMEs of unrelated keys is not held to one
 * round trip each. A shard whose applies are deferred (it
 * serves a snapshot to a replica of ours) answers after the writes deferred
 * before the request (repl.c). Readers here may see one shard's part before
 * another's, as with a client's command over several shards. */
#include "replication/repl_state.h"

#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/reply.h"
#include "net/loop.h"
#include "replication/journal.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/scratch.h"
#include "shards/shard.h"
#include "shards/store/slot.h"

struct cross {
    struct cross          *next;    /* the next started, in stream order */
    uint64_t               id;
    uint64_t               before;  /* our offset before it: what an ACK may say while it runs */
    int                    db;      /* the stream's database when it was read */
    const struct command  *cmd;
    struct shard_msg      *copy;    /* holds the command's arguments */
    int                    nkeys;
    int                   *idx;     /* argv index of each key */
    int                   *owner;   /* each key's shard */
    struct buf            *parts;   /* per shard: its keys' copies (keys_export) */
    int                    nparts;  /* parts' length: the node's shards */
    bool                   aof;     /* our AOF gets its effects */
    int                    waiting;
};

static void cross_free_one(struct cross *x)
{
    for (int i = 0; x->parts && i < x->nparts; i++)
        buf_free(&x->parts[i]);
    mi_free(x->parts);
    mi_free(x->idx);
    mi_free(x->owner);
    if (x->copy)
        msg_free(x->copy);
    mi_free(x);
}

void cross_free(struct cross *x)
{
    while (x) {
        struct cross *next = x->next;
        cross_free_one(x);
        x = next;
    }
}

bool cross_touches(const struct cross *x, const struct slice *keys, int nkeys)
{
    for (; x; x = x->next)
        for (int k = 0; k < x->nkeys; k++) {
            struct slice a = x->copy->argv[x->idx[k]];
            for (int i = 0; i < nkeys; i++)
                if (keys[i].len == a.len && memcmp(keys[i].ptr, a.ptr, a.len) == 0)
                    return true;
        }
    return false;
}

uint64_t cross_ack_offset(const struct cross *x) { return x->before; }

void cross_start(struct shard *sh, struct repl_link *l, const struct command *cmd, int argc,
                 const struct slice *argv, const int *idx, const int *owner, int nkeys, bool aof, uint64_t before)
{
    struct repl *r = repl_of(sh);
    int n = sh->node->nshards;
    struct cross *x = mi_zalloc(sizeof *x);
    x->id = ++r->fence_seq;
    x->cmd = cmd;
    x->aof = aof;
    x->before = before;
    x->db = r->stream_db;
    x->copy = msg_create(0, sh->id, sh->id, NULL, -1, argv, argc);
    x->nkeys = nkeys;
    x->idx = mi_malloc(sizeof(int) * (size_t)nkeys);
    x->owner = mi_malloc(sizeof(int) * (size_t)nkeys);
    memcpy(x->idx, idx, sizeof(int) * (size_t)nkeys);
    memcpy(x->owner, owner, sizeof(int) * (size_t)nkeys);
    x->nparts = n;
    x->parts = mi_calloc((size_t)n, sizeof(struct buf));
    struct cross **tail = &l->cross;
    while (*tail)
        tail = &(*tail)->next;
    *tail = x;
    l->ncross++;
    if (l->in_multi)
        r->multi_partly_applied = true; /* its transaction's first part goes now */
    /* everything before it, behind which the export requests go */
    replica_post_applies(sh, l, true);
    struct slice *keys = mi_malloc(sizeof(struct slice) * (size_t)nkeys);
    for (int t = 0; t < n; t++) {
        int kc = 0;
        for (int k = 0; k < nkeys; k++)
            if (owner[k] == t)
                keys[kc++] = x->copy->argv[idx[k]];
        if (kc == 0)
            continue;
        struct shard_msg *m = repl_msg_create(sh, MSG_REPL_EXPORT, t, keys, kc);
        m->value = x->id;
        m->db = x->db;
        x->waiting++;
        msg_post(sh, m, t);
    }
    mi_free(keys);
}

/* The scratch store's journal: the writes sorted by owner, and (for the
 * AOF, which loads no command over several shards) as the commands that
 * make them. */
struct capture {
    struct write_capture cap;
    struct buf          *aof;
};

static void capture_hook(void *arg, const struct journal_record *rec)
{
    struct capture *c = arg;
    write_capture_hook(&c->cap, rec);
    if (c->cap.on && c->aof)
        journal_encode(rec, c->aof);
}

/* Every copy is in: run the command on a scratch store with the master's
 * clock (now 0: no key is past its time), queue its writes to their
 * owners, and read the stream on. */
static void cross_run(struct shard *sh, struct repl_link *l, struct cross *x)
{
    int n = sh->node->nshards;
    struct buf aof;
    buf_init(&aof);
    struct capture c = { { false, sh->node, mi_calloc((size_t)n, sizeof(struct buf)), NULL }, x->aof ? &aof : NULL };
    struct write_capture *cap = &c.cap;
    struct store *scratch = store_create(NULL, capture_hook, &c);
    store_set_db(scratch, x->db);
    const char **cursor = mi_calloc((size_t)n, sizeof(char *));
    for (int t = 0; t < n; t++)
        cursor[t] = x->parts[t].data;
    for (int k = 0; k < x->nkeys; k++) {
        int t = x->owner[k];
        if (!cursor[t] || cursor[t] >= x->parts[t].data + x->parts[t].len)
            continue;
        key_import(scratch, x->copy->argv[x->idx[k]], &cursor[t], 0);
    }
    mi_free(cursor);
    cap->on = true;
    struct buf out;
    buf_init(&out);
    struct reply rep = { &out, 2 };
    struct exec_ctx ctx = {
        .shard = sh, .store = scratch, .reply = &rep, .argc = x->copy->argc, .argv = x->copy->argv,
        .client = NULL, .now_ms = 0, .caller_id = 0, .msg = NULL,
    };
    x->cmd->fn(&ctx);
    cap->on = false;
    store_destroy(scratch);
    if (out.len && out.data[0] == '-')
        log_warning("A command of the master's stream over keys of several shards failed here: '%.*s': %.*s",
                    (int)x->copy->argv[0].len, x->copy->argv[0].ptr, (int)(out.len > 2 ? out.len - 2 : out.len),
                    out.data);
    buf_free(&out);
    for (int t = 0; t < n; t++) {
        if (cap->per_shard[t].len) {
            replica_apply_db(l, t, x->db);
            apply_put_records(&l->apply[t], &l->apply_open[t], cap->per_shard[t].data, cap->per_shard[t].len);
        }
        buf_free(&cap->per_shard[t]);
    }
    mi_free(cap->per_shard);
    if (aof.len)
        replica_aof_form(sh, l, aof.data, aof.len);
    buf_free(&aof);
    if (x->before < l->post_from)
        l->post_from = x->before; /* its writes are of bytes read long ago */
    replica_post_applies(sh, l, true);
}

void cross_exported(struct shard *sh, struct shard_msg *m)
{
    struct repl *r = repl_of(sh);
    struct repl_link *l = r->link;
    struct cross **pp = l ? &l->cross : NULL;
    while (pp && *pp && (*pp)->id != m->value)
        pp = &(*pp)->next;
    struct cross *x = pp ? *pp : NULL;
    if (!x) { /* its link is gone */
        msg_free(m);
        return;
    }
    buf_move(&x->parts[m->target], &m->payload);
    msg_free(m);
    if (--x->waiting > 0)
        return;
    cross_run(sh, l, x);
    *pp = x->next;
    l->ncross--;
    cross_free_one(x);
    if (!l->cross)
        replica_crosses_done(sh, l);
    if (l->conn && !l->conn->closing && l->conn->paused)
        conn_resume(l->conn); /* a command that waited for it may go */
}
