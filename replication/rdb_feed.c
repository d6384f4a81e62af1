/* rdb_feed: an RDB file for a replica: one that wants only that
 * (REPLCONF rdb-only 1, then SYNC or PSYNC: `redis-cli --rdb`, backup
 * tools), or a Redis replica's full sync, the file then the stream.
 *
 * ringkv's own full sync is not an RDB file (master.c: each shard streams
 * its slice as commands, no fork), which a Redis replica cannot load. Both
 * get the file as Redis serves a disk-based sync: a background save
 * (shards/persist.c: the shards parked, a fork, dbfilename written), then
 * the file sent as one bulk, `$<length>\r\n<bytes>`, after `+FULLRESYNC
 * <replid> <offset>` for PSYNC (nothing for SYNC, which predates it).
 * While the save runs the replica gets a newline a second, which replicas
 * and redis-cli skip (Redis's keep-alive). With `REPLCONF rdb-filter-only
 * functions` the file holds the function libraries alone, written at once.
 * The file is read a slice at a time at the end of shard 0's turns, paced
 * by what the replica reads as a snapshot is (flow.c): at most
 * SNAP_WINDOW_BYTES wait unsent. An rdb-only replica's connection is
 * closed once it is all sent; a save under way serves it.
 *
 * A Redis replica needs the file to hold the stream up to one offset
 * exactly, where its stream begins. Writes go on meanwhile on every shard,
 * and reach shard 0's stream in whatever interleaving the shards' batches
 * make; so its save is one of its own (not one under way) whose park cuts
 * the stream: each shard, parking, hands shard 0 its bytes and a mark
 * (repl_sync_cut); the gate (repl.c) puts every shard's bytes before its
 * mark into the stream before any shard's after, and the offset between
 * is the file's (master_sync_cut). The replica gets `+FULLRESYNC` with it
 * then (newlines until then, which a Redis replica waiting for its PSYNC
 * reply skips), the stream after it is held, and once the file is sent
 * the held stream follows and the replica is online. */
#include "replication/repl_state.h"

#include <errno.h>
#include <fcntl.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/persist.h"
#include "shards/shard.h"

#define SLICE_BYTES (256u << 10)     /* read from the file at a time */
#define TURN_BYTES  (2u << 20)       /* read in one turn at most */
#define KEEPALIVE_MS 1000

struct rdb_feed {
    bool     saving;     /* the background save has not ended yet */
    /* a Redis replica's full sync: the stream follows the file */
    bool     stream;
    bool     old_sync;   /* SYNC: no +FULLRESYNC line */
    bool     armed;      /* the save parking now is ours (rdb_feed_arm) */
    bool     cut;        /* its cut reached: +FULLRESYNC sent, the stream held since */
    bool     save_ended, save_ok; /* the save ended before its cut was reached */
    bool     done;       /* every byte is in the feed: close once sent */
    int      fd;         /* the saved file, -1 until the save ends */
    uint64_t left;       /* bytes of it not read yet */
    int64_t  newline_ms; /* the last keep-alive newline */
};

static struct replica *find(struct repl *r, uint64_t id)
{
    for (struct replica *x = r->replicas; x; x = x->next)
        if (x->id == id)
            return x;
    return NULL;
}

/* The file the background save wrote, to send: opened, or given up. */
static void open_saved(struct shard *sh, struct replica *x, bool ok)
{
    struct rdb_feed *f = x->rdb;
    const char *name = config_str(&sh->node->config, dbfilename);
    int fd = ok ? open(name && *name ? name : "dump.rdb", O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) != 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        log_warning("Replica %s:%d (%s): %s", x->ip, x->port, f->stream ? "full sync" : "rdb-only",
                    ok ? strerror(errno) : "the background save failed; closing its connection");
        f->stream = false; /* closed with nothing more sent: it reads an end of file */
        f->done = true;
        return;
    }
    f->fd = fd;
    f->left = (uint64_t)st.st_size;
    buf_printf(&x->feed, "$%llu\r\n", (unsigned long long)f->left);
    log_notice("Replica %s:%d (%s): sending the RDB file, %llu bytes", x->ip, x->port,
               f->stream ? "full sync" : "rdb-only", (unsigned long long)f->left);
    if (f->left == 0)
        f->done = true;
}

/* A background save ended. */
static void saved(struct shard *sh, bool ok, uint64_t id)
{
    struct replica *x = find(repl_of(sh), id);
    if (!x || !x->rdb)
        return; /* gone meanwhile */
    struct rdb_feed *f = x->rdb;
    if (f->stream && !f->armed) {
        /* one that was under way when the replica came: the next one */
        if (!persist_bgsave_cut_notify(sh, saved, id)) {
            log_warning("Replica %s:%d (full sync): too many background saves awaited; closing its connection",
                        x->ip, x->port);
            f->stream = false;
            f->done = true;
        }
        return;
    }
    f->saving = false;
    if (f->stream && !f->cut) {
        f->save_ended = true; /* the file goes once the cut's offset is known */
        f->save_ok = ok;
        return;
    }
    open_saved(sh, x, ok);
}

/* The function libraries alone (REPLCONF rdb-filter-only functions:
 * redis-cli --functions-rdb): a small file, written here into an
 * anonymous one (no save, no fork: the libraries are shard 0's). */
static bool functions_file(struct shard *sh, struct replica *x)
{
    struct rdb_feed *f = x->rdb;
    int fd = memfd_create("ringkv-functions-rdb", MFD_CLOEXEC);
    struct stat st;
    if (fd < 0 || persist_write_rdb(sh->node, fd, shard_now_ms(sh), false) != 0 || fstat(fd, &st) != 0 ||
        lseek(fd, 0, SEEK_SET) != 0) {
        log_warning("Replica %s:%d (rdb-only, functions): %s", x->ip, x->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    f->saving = false;
    f->fd = fd;
    f->left = (uint64_t)st.st_size;
    buf_printf(&x->feed, "$%llu\r\n", (unsigned long long)f->left);
    return true;
}

void rdb_feed_attach(struct shard *sh, struct shard_msg *m, bool old_sync, bool functions_only)
{
    struct repl *r = repl_of(sh);
    struct replica *x = replica_new(sh, m);
    x->flow = snap_flow_create(1); /* ours; each feed message takes one more */
    struct rdb_feed *f = mi_zalloc(sizeof(*f));
    f->fd = -1;
    f->saving = true;
    f->newline_ms = x->ack_ms;
    x->rdb = f;
    if (functions_only ? !functions_file(sh, x) : !persist_bgsave_notify(sh, saved, x->id)) {
        buf_append_str(&m->reply, functions_only
                                      ? "-ERR could not write the RDB file of the function libraries\r\n"
                                      : "-ERR too many background saves awaited; try again later\r\n");
        m->value = ATTACH_REFUSED_CLOSE;
        rdb_feed_free(f);
        snap_flow_unref(x->flow);
        buf_free(&x->feed);
        mi_free(x);
        msg_post(sh, m, m->home);
        return;
    }
    r->sync_full++;
    if (!old_sync)
        buf_printf(&m->reply, "+FULLRESYNC %s %llu\r\n", r->replid,
                   (unsigned long long)journal_offset(r->backlog));
    m->value = ATTACH_FOREIGN;
    x->next = r->replicas;
    r->replicas = x;
    r->nreplicas++;
    log_notice("Replica %s:%d asks for an RDB file only: %s", x->ip, x->port,
               functions_only ? "of the function libraries, sent now" : "sent after a background save");
    msg_post(sh, m, m->home);
}

bool rdb_feed_stream_start(struct shard *sh, struct replica *x, bool old_sync)
{
    struct rdb_feed *f = mi_zalloc(sizeof(*f));
    f->fd = -1;
    f->saving = true;
    f->stream = true;
    f->old_sync = old_sync;
    f->newline_ms = x->ack_ms;
    x->rdb = f;
    x->flow = snap_flow_create(1);
    if (!persist_bgsave_cut_notify(sh, saved, x->id)) {
        x->rdb = NULL;
        rdb_feed_free(f);
        snap_flow_unref(x->flow);
        x->flow = NULL;
        return false;
    }
    log_notice("Replica %s:%d asks for synchronization: a Redis replica, full resync from an RDB file "
               "(a background save that cuts the stream)", x->ip, x->port);
    return true;
}

void rdb_feed_arm(struct shard *sh)
{
    for (struct replica *x = repl_of(sh)->replicas; x; x = x->next)
        if (x->rdb && x->rdb->stream && x->rdb->saving)
            x->rdb->armed = true;
}

void master_sync_cut(struct shard *sh, bool ok)
{
    struct repl *r = repl_of(sh);
    uint64_t offset = journal_offset(r->backlog);
    for (struct replica *x = r->replicas; x; x = x->next) {
        struct rdb_feed *f = x->rdb;
        if (!f || !f->stream || !f->armed || f->cut)
            continue;
        if (!ok) {
            log_warning("Replica %s:%d (full sync): a node-wide command crossed the save's cut of the "
                        "stream; closing its connection (it tries again)", x->ip, x->port);
            f->stream = false;
            f->done = true;
            continue;
        }
        f->cut = true;
        if (!f->old_sync)
            buf_printf(&x->feed, "+FULLRESYNC %s %llu\r\n", r->replid, (unsigned long long)offset);
        x->stream_later = true; /* the stream from here is held until the file is sent */
        log_notice("Replica %s:%d (full sync): the RDB file holds the stream up to offset %llu", x->ip, x->port,
                   (unsigned long long)offset);
        if (f->save_ended)
            open_saved(sh, x, f->save_ok);
    }
}

bool rdb_feed_streams(const struct replica *x)
{
    return x->rdb && x->rdb->stream;
}

void rdb_feed_stream_on(struct shard *sh, struct replica *x)
{
    (void)sh;
    buf_append(&x->feed, x->stream_held.data, x->stream_held.len);
    buf_free(&x->stream_held);
    x->stream_later = false;
    x->feed_paced += x->feed.len; /* limited while held, as a ringkv replica's */
    x->online = true;
    rdb_feed_free(x->rdb);
    x->rdb = NULL;
    snap_flow_unref(x->flow);
    x->flow = NULL;
    log_notice("Synchronization with replica %s:%d succeeded", x->ip, x->port);
}

bool rdb_feed_wants_turn(const struct replica *x)
{
    const struct rdb_feed *f = x->rdb;
    return f->fd >= 0 && f->left > 0 && !snap_flow_full(x->flow);
}

bool rdb_feed_produce(struct shard *sh, struct replica *x)
{
    struct rdb_feed *f = x->rdb;
    int64_t now = shard_now_ms(sh);
    if (f->saving && now - f->newline_ms >= KEEPALIVE_MS) {
        buf_append(&x->feed, "\n", 1);
        f->newline_ms = now;
    }
    size_t turn = 0;
    while (f->fd >= 0 && f->left > 0 && turn < TURN_BYTES && !snap_flow_full(x->flow)) {
        size_t want = f->left < SLICE_BYTES ? (size_t)f->left : SLICE_BYTES;
        buf_reserve(&x->feed, want);
        ssize_t got = read(f->fd, x->feed.data + x->feed.len, want);
        if (got <= 0) {
            log_warning("Replica %s:%d: reading the RDB file: %s; closing its connection",
                        x->ip, x->port, got < 0 ? strerror(errno) : "it got shorter");
            close(f->fd);
            f->fd = -1;
            f->stream = false;
            return false;
        }
        x->feed.len += (size_t)got;
        x->feed_paced += (size_t)got;
        atomic_fetch_add(&x->flow->inflight, (long long)got);
        f->left -= (uint64_t)got;
        turn += (size_t)got;
    }
    if (f->fd >= 0 && f->left == 0) {
        close(f->fd);
        f->fd = -1;
        f->done = true;
        log_notice("Replica %s:%d: the RDB file is sent%s", x->ip, x->port,
                   f->stream ? "; the stream follows" : "; closing its connection");
    }
    return !f->done;
}

void rdb_feed_free(struct rdb_feed *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    mi_free(f);
}
