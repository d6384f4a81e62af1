/* rdb_feed: an RDB file for a replica that wants only that (REPLCONF
 * rdb-only 1, then SYNC or PSYNC): `redis-cli --rdb`, backup tools.
 *
 * ringkv's own full sync is not an RDB file (master.c: each shard streams
 * its slice as commands, no fork), so a Redis replica cannot load it and is
 * refused. One that asks for the file alone gets it as Redis serves a
 * disk-based sync: a background save (shards/persist.c: the shards parked,
 * a fork, dbfilename written; one under way is joined), then the file sent
 * as one bulk, `$<length>\r\n<bytes>`, after `+FULLRESYNC <replid>
 * <offset>` for PSYNC (nothing for SYNC, which predates it). While the save
 * runs the replica gets a newline a second, which replicas and redis-cli
 * skip (Redis's keep-alive). With `REPLCONF rdb-filter-only functions`
 * the file holds the function libraries alone, written at once. The file is read a slice at a time at the end
 * of shard 0's turns, paced by what the replica reads as a snapshot is
 * (flow.c): at most SNAP_WINDOW_BYTES wait unsent. Once it is all sent the
 * connection is closed; no stream follows. */
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

/* The background save ended: open what it wrote, or give up. */
static void saved(struct shard *sh, bool ok, uint64_t id)
{
    struct replica *x = find(repl_of(sh), id);
    if (!x || !x->rdb)
        return; /* gone meanwhile */
    struct rdb_feed *f = x->rdb;
    f->saving = false;
    const char *name = config_str(&sh->node->config, dbfilename);
    int fd = ok ? open(name && *name ? name : "dump.rdb", O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) != 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        log_warning("Replica %s:%d (rdb-only): %s", x->ip, x->port,
                    ok ? strerror(errno) : "the background save failed; closing its connection");
        f->done = true; /* closed with nothing more sent: it reads an end of file */
        return;
    }
    f->fd = fd;
    f->left = (uint64_t)st.st_size;
    buf_printf(&x->feed, "$%llu\r\n", (unsigned long long)f->left);
    log_notice("Replica %s:%d (rdb-only): sending the RDB file, %llu bytes", x->ip, x->port,
               (unsigned long long)f->left);
    if (f->left == 0)
        f->done = true;
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
            log_warning("Replica %s:%d (rdb-only): reading the RDB file: %s; closing its connection",
                        x->ip, x->port, got < 0 ? strerror(errno) : "it got shorter");
            close(f->fd);
            f->fd = -1;
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
        log_notice("Replica %s:%d (rdb-only): the RDB file is sent; closing its connection", x->ip, x->port);
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
