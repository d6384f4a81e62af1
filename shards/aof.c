/* aof: see aof.h. */
#include "shards/aof.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/command.h"
#include "core/config.h"
#include "core/file_replace.h"
#include "core/log.h"
#include "core/reply.h"
#include "core/resp.h"
#include "net/loop.h"
#include "shards/aof_manifest.h"
#include "shards/dispatch.h"
#include "shards/node.h"
#include "shards/persist.h"
#include "shards/shard.h"
#include "shards/store/rdb.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

/* Buffers in flight from shard 0 to the writer thread (one a loop turn);
 * a full ring leaves the turn's bytes with shard 0 until the next turn. */
#define RING 1024
#define PATH_MAX_AOF 600
#define AOF_SHARDS_CAP 1024

/* What the writer gets: bytes to append, then, with fd >= 0, the incr file
 * to append to from then on (a rewrite's new one). */
struct slot {
    struct buf b;
    int        fd;
    uint64_t  *taken; /* per shard, its stream messages taken up to these bytes (NULL: none new) */
};

/* Per shard, for its reply fences (shards/aof_fence.h): how many of its
 * stream messages are in the file (written by the writer thread), and its
 * loop while it waits for that to grow (set by the shard). */
struct shard_marks {
    _Alignas(64) atomic_uint_fast64_t written;
    _Atomic(struct loop *) waiter;
};

enum rewrite_step { RW_NONE, RW_CHILD, RW_DONE_OK, RW_DONE_ERR };
#define SLOT_CLOSE (-2) /* a slot's fd: close the file, none after it */

struct aof {
    struct node        *node;
    bool                on;        /* appendonly yes at start */
    bool                load;      /* an AOF to load at start (made if missing) */
    char                dir[AOF_NAME_MAX];
    char                manifest_name[AOF_NAME_MAX + 16];
    struct aof_manifest man;
    /* shard 0's: this turn's stream bytes for the file being appended to */
    struct buf          pending;
    /* shard 0's: entries for the writer that did not fit in the ring yet */
    struct slot        *outq;
    size_t              nout, capout;
    /* shard 0 -> writer: entries [tail, head) */
    struct slot         ring[RING];
    _Alignas(64) atomic_uint_fast64_t head;
    _Alignas(64) atomic_uint_fast64_t tail;
    _Alignas(64) atomic_uint wake;     /* futex word: moved on every hand-over */
    atomic_int          sleeping;      /* the writer waits on wake */
    atomic_int          stop;
    pthread_t           thread;
    bool                thread_started;
    int                 fd;            /* the last incr file, appended to */
    /* INFO (written by the writer, read on shard 0) */
    atomic_uint_fast64_t queued;       /* bytes handed over, not yet written */
    atomic_uint_fast64_t incr_size;    /* bytes of the incr files */
    uint64_t            base_size;
    atomic_int          write_ok;
    char                write_err[160]; /* the refusal while !write_ok (set before it) */
    atomic_uint_fast64_t fsyncing;     /* 1 while the writer fsyncs */
    /* a rewrite (shard 0's): the cut between the old incr file and the new
     * one is under way until every shard's mark has come (aof_stream_cut);
     * meanwhile what a shard sends after its mark waits in post */
    bool                cut_pending;
    bool               *cut_seen;      /* per shard */
    int                 cut_count;
    struct buf          post;
    int                 new_fd;        /* the new incr file, until the writer takes it */
    int                 step;          /* enum rewrite_step */
    int64_t             rw_start_ms;
    int64_t             last_rw_time_s; /* -1: none yet */
    bool                last_rw_ok;
    uint64_t            rewrites;
    bool                scheduled;
    uint64_t            size_at_rewrite; /* the AOF's size after the last rewrite (or at start) */
    char                tmp_name[64];  /* the child's base file, in dir */
    int64_t             fail_ms;       /* the last rewrite failed then (0: it did not) */
    bool                suspended;     /* a replica's full sync replaced the data, or
                                          CONFIG SET appendonly yes: nothing appended
                                          until the rewrite it asked for */
    bool                drop_pre_cut;  /* the writer has no file before this cut */
    bool                need_base;     /* CONFIG SET appendonly yes: no manifest of this
                                          AOF until its first rewrite succeeds */
    /* reply fences: shard 0 counts each shard's stream messages the AOF
     * has taken (taken; those waiting behind a rewrite's cut in post_taken),
     * each entry for the writer carries the counts, and the writer
     * publishes them in marks[] once its bytes are written (and fsynced
     * with appendfsync always) */
    uint64_t           *taken;
    uint64_t           *post_taken;
    bool                taken_moved;
    struct shard_marks *marks;
    atomic_int          fencing;       /* replies wait for the file (appendonly on) */
    atomic_int          waking;        /* the writer is waking loops */
};

static struct aof *aof_of(const struct node *n)
{
    return n->aof;
}

static const char *fname_of(const struct node *n)
{
    const char *f = config_str(&n->config, appendfilename);
    return f && *f ? f : "appendonly.aof";
}

static void path_in_dir(const struct aof *a, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", a->dir, name);
}

/* ---- the writer thread ----------------------------------------------- */

static void futex_wait_ms(atomic_uint *w, unsigned v, long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0);
}

static void futex_wake(atomic_uint *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int64_t mono_ms(void)
{
    return (int64_t)(clock_mono_ns() / 1000000);
}

/* All of p[0..len) to fd; false (errno set) if the disk refused. */
static bool write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* The writer: every shard's messages counted in taken[] are in the file:
 * their replies may go (shards/aof_fence.c); the loops waiting for it are
 * woken. */
static void publish_written(struct aof *a, struct loop_waker *w, const uint64_t *taken)
{
    int n = a->node->nshards;
    bool moved = false;
    for (int i = 0; i < n; i++) {
        if (taken[i] <= atomic_load_explicit(&a->marks[i].written, memory_order_relaxed))
            continue;
        atomic_store(&a->marks[i].written, taken[i]);
        moved = true;
    }
    if (!moved)
        return;
    /* any shard may wait on any other's writes (a reply it got from it) */
    atomic_fetch_add(&a->waking, 1);
    for (int i = 0; i < n; i++) {
        struct loop *l = atomic_load(&a->marks[i].waiter);
        if (l)
            loop_waker_wake(w, l);
    }
    atomic_fetch_sub(&a->waking, 1);
}

static void *writer_main(void *arg)
{
    struct aof *a = arg;
    prctl(PR_SET_NAME, "ringkv-aof");
    int64_t last_fsync = mono_ms();
    bool unsynced = false;
    uint64_t logged_err_ms = 0;
    struct loop_waker *waker = loop_waker_create();
    uint64_t *publish_due = NULL; /* written, not published yet */
    for (;;) {
        bool did = false;
        uint64_t tail = atomic_load_explicit(&a->tail, memory_order_relaxed);
        while (tail < atomic_load_explicit(&a->head, memory_order_acquire)) {
            struct slot *sl = &a->ring[tail % RING];
            struct buf *b = &sl->b;
            size_t len = b->len;
            /* a failed write (a full disk) is retried from where it
             * stopped a second later, as Redis retries its buffer: the
             * bytes stay in order, none twice */
            size_t done = 0;
            while (done < len) {
                ssize_t w = write(a->fd, b->data + done, len - done);
                if (w >= 0) {
                    done += (size_t)w;
                    continue;
                }
                if (errno == EINTR)
                    continue;
                int err = errno;
                if ((int)config_load(&a->node->config, appendfsync) == 0) {
                    /* Redis's way: the replies of writes it could not
                     * write would promise what the file does not have */
                    log_warning("Can't recover from AOF write error when the AOF fsync policy is 'always' (%s). "
                                "Exiting...", strerror(err));
                    _exit(1);
                }
                if (atomic_load(&a->write_ok)) {
                    snprintf(a->write_err, sizeof a->write_err,
                             "MISCONF Errors writing to the AOF file: %s", strerror(err));
                    atomic_store(&a->write_ok, 0); /* writes refused (aof_write_gate) */
                }
                /* as Redis, the writes taken before go on being retried
                 * and their replies go (what it does with everysec) */
                if (publish_due)
                    publish_written(a, waker, publish_due);
                if (sl->taken)
                    publish_written(a, waker, sl->taken);
                uint64_t now = (uint64_t)mono_ms();
                if (now - logged_err_ms > 30000) {
                    log_warning("Error writing to the AOF file: %s", strerror(err));
                    logged_err_ms = now;
                }
                if (atomic_load(&a->stop))
                    break;
                usleep(1000 * 1000);
            }
            if (done == len)
                atomic_store(&a->write_ok, 1);
            atomic_fetch_add(&a->incr_size, len);
            atomic_fetch_sub(&a->queued, len);
            buf_free(b);
            if (sl->taken) {
                mi_free(publish_due);
                publish_due = sl->taken; /* cumulative: the last one says all */
                sl->taken = NULL;
            }
            if (sl->fd != -1) {
                /* a rewrite's cut: the old file is whole, on to the new
                 * one (SLOT_CLOSE: appendonly no, no file from now on) */
                if (a->fd >= 0) {
                    if ((int)config_load(&a->node->config, appendfsync) != 2)
                        (void)fdatasync(a->fd);
                    close(a->fd);
                }
                a->fd = sl->fd == SLOT_CLOSE ? -1 : sl->fd;
                atomic_store(&a->incr_size, 0);
                unsynced = false;
            }
            tail++;
            atomic_store_explicit(&a->tail, tail, memory_order_release);
            did = true;
            unsynced = true;
        }
        int policy = (int)config_load(&a->node->config, appendfsync); /* 0 always, 1 everysec, 2 no */
        int64_t now = mono_ms();
        /* appendfsync always: on the disk before the replies go, one
         * fdatasync for all the entries written since the last */
        if (policy == 0 && unsynced && a->fd >= 0) {
            atomic_store(&a->fsyncing, 1);
            (void)fdatasync(a->fd);
            atomic_store(&a->fsyncing, 0);
            last_fsync = now;
            unsynced = false;
        }
        if (publish_due) {
            publish_written(a, waker, publish_due);
            mi_free(publish_due);
            publish_due = NULL;
        }
        if (unsynced && policy == 1 && now - last_fsync >= 1000 && a->fd >= 0) {
            atomic_store(&a->fsyncing, 1);
            (void)fdatasync(a->fd);
            atomic_store(&a->fsyncing, 0);
            last_fsync = now;
            unsynced = false;
        }
        if (atomic_load(&a->stop) && atomic_load(&a->tail) == atomic_load(&a->head)) {
            if (policy != 2 && a->fd >= 0)
                (void)fdatasync(a->fd);
            break;
        }
        if (did)
            continue;
        unsigned seen = atomic_load(&a->wake);
        atomic_store(&a->sleeping, 1);
        if (atomic_load(&a->tail) == atomic_load(&a->head) && !atomic_load(&a->stop))
            futex_wait_ms(&a->wake, seen, unsynced && policy == 1 ? 1000 - (now - last_fsync) + 1 : 1000);
        atomic_store(&a->sleeping, 0);
    }
    loop_waker_destroy(waker);
    return NULL;
}

/* Shard 0: close the entry of this turn's bytes (followed by a switch to
 * fd when fd >= 0) into the queue for the writer. */
static void queue_entry(struct aof *a, int fd)
{
    if (a->pending.len == 0 && fd == -1 && !a->taken_moved)
        return;
    if (a->nout == a->capout) {
        a->capout = a->capout ? a->capout * 2 : 8;
        a->outq = mi_realloc(a->outq, a->capout * sizeof *a->outq);
    }
    atomic_fetch_add(&a->queued, a->pending.len);
    struct slot *sl = &a->outq[a->nout++];
    sl->b = a->pending;
    sl->fd = fd;
    sl->taken = NULL;
    if (a->taken_moved) {
        size_t bytes = sizeof(uint64_t) * (size_t)a->node->nshards;
        sl->taken = mi_malloc(bytes);
        memcpy(sl->taken, a->taken, bytes);
        a->taken_moved = false;
    }
    buf_init(&a->pending);
}

/* Shard 0: one more of shard from's stream messages is taken: in the next
 * entry for the writer (or, behind a rewrite's cut, once the cut is
 * complete). */
static void take(struct aof *a, int from)
{
    if (from < 0 || from >= a->node->nshards)
        return;
    if (a->cut_pending && a->cut_seen[from]) {
        a->post_taken[from]++;
        return;
    }
    a->taken[from]++;
    if (atomic_load_explicit(&a->fencing, memory_order_relaxed))
        a->taken_moved = true;
}

bool aof_fencing(const struct node *n)
{
    const struct aof *a = aof_of(n);
    return a && atomic_load_explicit(&a->fencing, memory_order_relaxed);
}

uint64_t aof_written_mark(const struct node *n, int shard)
{
    return atomic_load(&aof_of(n)->marks[shard].written);
}

void aof_fence_waiter(struct node *n, int shard, struct loop *l)
{
    struct aof *a = aof_of(n);
    if (!a)
        return;
    atomic_store(&a->marks[shard].waiter, l);
    if (!l) /* the loop may go once the writer is not waking it */
        while (atomic_load(&a->waking))
            sched_yield();
}

void aof_journal_msg_passed(struct node *n, int from)
{
    struct aof *a = aof_of(n);
    if (a)
        take(a, from);
}

/* Shard 0: hand what is queued to the writer, as much as the ring takes. */
static void hand_over(struct aof *a)
{
    if (!a->thread_started)
        return;
    queue_entry(a, -1);
    if (a->nout == 0)
        return;
    uint64_t head = atomic_load_explicit(&a->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&a->tail, memory_order_acquire);
    size_t k = 0;
    while (k < a->nout && head - tail < RING) {
        a->ring[head % RING] = a->outq[k++];
        head++;
    }
    if (k == 0)
        return; /* the writer is behind: next turn */
    memmove(a->outq, a->outq + k, (a->nout - k) * sizeof *a->outq);
    a->nout -= k;
    atomic_store_explicit(&a->head, head, memory_order_release);
    atomic_fetch_add(&a->wake, 1);
    if (atomic_load(&a->sleeping))
        futex_wake(&a->wake);
}

/* The cut is complete: what came before goes to the old file, then the
 * writer moves to the new one, and what waited (post) follows there. */
static void cut_complete(struct aof *a)
{
    queue_entry(a, a->new_fd);
    for (int i = 0; i < a->node->nshards; i++) {
        a->taken[i] += a->post_taken[i];
        a->post_taken[i] = 0;
    }
    a->taken_moved = true;
    a->new_fd = -1;
    buf_free(&a->pending);
    a->pending = a->post;
    buf_init(&a->post);
    a->cut_pending = false;
    a->drop_pre_cut = false;
}

void aof_feed(struct node *n, int from, const void *p, size_t len)
{
    struct aof *a = aof_of(n);
    if (!a)
        return;
    if (!a->on || !len || a->suspended) {
        take(a, from); /* nothing to wait for */
        return;
    }
    if (a->cut_pending) {
        if (from == AOF_FROM_RECORD) {
            /* a node-wide record (FLUSHALL) that every shard passed, some
             * maybe after their mark: in the new file, and all that
             * follows; the base holds what it flushes, and what a shard
             * wrote after the flush and before its mark is replayed on
             * it again, in the same order */
            cut_complete(a);
        } else if (from >= 0 && from < n->nshards && a->cut_seen[from]) {
            buf_append(&a->post, p, len);
            take(a, from);
            return;
        } else if (a->drop_pre_cut) {
            take(a, from);
            return; /* in the snapshot, and there is no old file */
        }
    }
    buf_append(&a->pending, p, len);
    take(a, from);
}

void aof_stream_cut(struct node *n, int from)
{
    struct aof *a = aof_of(n);
    if (!a || !a->cut_pending || from < 0 || from >= n->nshards || a->cut_seen[from])
        return;
    a->cut_seen[from] = true;
    if (++a->cut_count == n->nshards)
        cut_complete(a);
}

static void aof_turn(struct shard *sh)
{
    if (sh->id == 0)
        hand_over(aof_of(sh->node));
}

/* Shard 0 took stream bytes in its mail exchange, after this turn's hand
 * over: the next turn hands them to the writer (replies wait for them),
 * the loop must not sleep first. */
static bool aof_pending(struct shard *sh)
{
    struct aof *a = aof_of(sh->node);
    return sh->id == 0 && a && a->thread_started && (a->pending.len > 0 || a->nout > 0 || a->taken_moved);
}

static int prepare_dir(struct node *n, struct aof *a);
static void *writer_main(void *arg);

/* CONFIG SET appendonly yes: as Redis, a rewrite makes the AOF; until it
 * has, nothing is appended (the snapshot holds it) and no manifest names
 * the new files; an AOF left from before is replaced by it. */
static void turn_on(struct shard *sh, struct aof *a)
{
    struct node *n = sh->node;
    if (prepare_dir(n, a) != 0) {
        config_store(&n->config, appendonly, 0);
        return;
    }
    char path[PATH_MAX_AOF];
    path_in_dir(a, a->manifest_name, path, sizeof path);
    memset(&a->man, 0, sizeof a->man);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) { /* the old files, deleted once the new AOF is made */
        char text[65536];
        ssize_t r = read(fd, text, sizeof text);
        close(fd);
        char err[160];
        if (r <= 0 || aof_manifest_parse(text, (size_t)r, &a->man, err, sizeof err) != 0)
            memset(&a->man, 0, sizeof a->man);
    }
    if (!a->thread_started) {
        if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
            log_warning("Can't start the AOF writer thread");
            config_store(&n->config, appendonly, 0);
            return;
        }
        a->thread_started = true;
    }
    a->base_size = 0;
    a->size_at_rewrite = 0;
    atomic_store(&a->incr_size, 0);
    a->suspended = true;
    a->drop_pre_cut = true;
    a->need_base = true;
    a->fail_ms = 0;
    a->on = true;
    a->taken_moved = true;
    atomic_store(&a->fencing, 1);
    atomic_store(&n->repl_feeding, 1);
    log_notice("AOF enabled by CONFIG SET: a background rewrite makes it");
}

/* CONFIG SET appendonly no: the file is closed after what was taken
 * (once a rewrite under way has ended); shards go on journaling (the
 * replication backlog takes it). */
static void turn_off(struct aof *a)
{
    if (a->step != RW_NONE || a->cut_pending)
        return; /* after the rewrite */
    queue_entry(a, SLOT_CLOSE);
    hand_over(a);
    atomic_store(&a->fencing, 0); /* replies held go at once */
    a->on = false;
    a->suspended = false;
    a->scheduled = false;
    log_notice("AOF disabled by CONFIG SET");
}

static void aof_tick(struct shard *sh, int64_t now_ms)
{
    (void)now_ms;
    if (sh->id != 0)
        return;
    struct aof *a = aof_of(sh->node);
    bool want = config_load(&sh->node->config, appendonly) != 0;
    if (want && !a->on)
        turn_on(sh, a);
    else if (!want && a->on)
        turn_off(a);
    hand_over(a);
}

/* ---- the files at start ----------------------------------------------- */

/* Copy the file src to dst (created), fsynced: 0, 1 if src does not exist,
 * -1 with errno set. */
static int copy_file(const char *src, const char *dst, uint64_t *size)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? 1 : -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    char buf[65536];
    int rc = 0;
    *size = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (r > 0 && !write_all(out, buf, (size_t)r))) {
            rc = -1;
            break;
        }
        if (r == 0)
            break;
        *size += (uint64_t)r;
    }
    if (rc == 0 && fsync(out) != 0)
        rc = -1;
    int e = errno;
    close(in);
    close(out);
    errno = e;
    return rc;
}

/* An RDB file with no keys at path, fsynced. */
static int write_empty_rdb(struct node *n, const char *path, uint64_t *size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    struct rdb_writer w;
    rdb_write_begin(&w, fd, config_load(&n->config, rdbcompression) != 0,
                    config_load(&n->config, rdbchecksum) != 0, clock_unix_ms(), 0);
    int rc = rdb_write_end(&w);
    *size = w.bytes;
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int write_manifest(struct aof *a)
{
    struct buf text;
    buf_init(&text);
    aof_manifest_format(&a->man, &text);
    char path[PATH_MAX_AOF];
    path_in_dir(a, a->manifest_name, path, sizeof path);
    int rc = file_replace(path, text.data ? text.data : "", text.len, 0644);
    buf_free(&text);
    return rc;
}

/* No AOF yet: a base (dbfilename's copy, or empty), an empty incr file and
 * the manifest naming them, in that order (the manifest last: a crash
 * before it leaves no AOF, and the next start makes it again). */
static int create_aof(struct node *n, struct aof *a, const char *fname)
{
    char path[PATH_MAX_AOF];
    memset(&a->man, 0, sizeof a->man);
    snprintf(a->man.base.name, sizeof a->man.base.name, "%s.1.base.rdb", fname);
    a->man.base.seq = 1;
    a->man.base.type = 'b';
    path_in_dir(a, a->man.base.name, path, sizeof path);
    const char *db = config_str(&n->config, dbfilename);
    uint64_t size = 0;
    int rc = copy_file(db && *db ? db : "dump.rdb", path, &size);
    if (rc == 1)
        rc = write_empty_rdb(n, path, &size);
    if (rc != 0) {
        log_warning("Can't create the AOF base file %s: %s", path, strerror(errno));
        return -1;
    }
    a->base_size = size;
    log_notice("Creating AOF base file %s on server start", a->man.base.name);
    struct aof_file *f = &a->man.incr[0];
    snprintf(f->name, sizeof f->name, "%s.1.incr.aof", fname);
    f->seq = 1;
    f->type = 'i';
    a->man.nincr = 1;
    path_in_dir(a, f->name, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || fsync(fd) != 0) {
        log_warning("Can't create the AOF incr file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    log_notice("Creating AOF incr file %s on server start", f->name);
    if (write_manifest(a) != 0) {
        log_warning("Can't write the AOF manifest %s/%s: %s", a->dir, a->manifest_name, strerror(errno));
        return -1;
    }
    fsync_dir(a->dir);
    return 0;
}

/* The commands of p[0..len) are well formed up to *valid; returns false
 * with the reason in err if something before the end is not a command
 * (a protocol error), true if the file is whole or only its last command
 * is cut short (*valid < len). */
static bool scan_commands(const char *p, size_t len, size_t *valid, char *err, size_t errlen)
{
    struct resp_parser ps;
    resp_parser_init(&ps);
    struct resp_limits lim = RESP_LIMITS_DEFAULT;
    lim.strict = true;
    lim.max_args = 1 << 30;
    size_t at = 0;
    bool ok = true;
    while (at < len) {
        size_t used = 0;
        const char *e = NULL;
        enum resp_status st = resp_parse(&ps, p + at, len - at, &lim, &used, &e);
        if (st == RESP_MORE)
            break;
        if (st == RESP_ERROR || st == RESP_EMPTY) {
            snprintf(err, errlen, "%s", e ? e : "not a command");
            ok = false;
            break;
        }
        at += used;
    }
    resp_parser_deinit(&ps);
    *valid = at;
    return ok;
}

/* Check an incr file at start; the last one's cut command is removed when
 * aof-load-truncated allows. 0, or -1 after logging. */
static int check_incr(struct node *n, struct aof *a, const struct aof_file *f, bool last)
{
    char path[PATH_MAX_AOF];
    path_in_dir(a, f->name, path, sizeof path);
    int fd = open(path, last ? O_RDWR | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        log_warning("Can't open the append-only file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size, valid = 0;
    char err[160] = "";
    bool ok = true;
    if (len) {
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            log_warning("Can't read the append-only file %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        ok = scan_commands(map, len, &valid, err, sizeof err);
        munmap(map, len);
    }
    atomic_fetch_add(&a->incr_size, valid);
    if (!ok) {
        log_warning("Bad file format reading the append only file %s (%s at byte %zu): make a backup of your "
                    "AOF file, then use ./redis-check-aof --fix <filename.manifest>", path, err, valid);
        close(fd);
        return -1;
    }
    if (valid < len) {
        if (!last || !config_load(&n->config, aof_load_truncated)) {
            log_warning("Unexpected end of file reading the append only file %s. You can: 1) Make a backup of "
                        "your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively "
                        "you can set the 'aof-load-truncated' configuration option to yes and restart the "
                        "server.", path);
            close(fd);
            return -1;
        }
        log_warning("!!! Warning: short read while loading the AOF file %s!!!", path);
        if (ftruncate(fd, (off_t)valid) != 0) {
            log_warning("Error truncating the AOF file %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        (void)fsync(fd);
        log_warning("AOF %s loaded anyway because aof-load-truncated is enabled", path);
    }
    close(fd);
    return 0;
}

/* An AOF found: its manifest read, its files checked. 0, or -1 after logging. */
static int open_existing(struct node *n, struct aof *a, const char *text, size_t len, const char *fname)
{
    char err[160];
    if (aof_manifest_parse(text, len, &a->man, err, sizeof err) != 0) {
        log_warning("Error reading the AOF manifest %s/%s: %s", a->dir, a->manifest_name, err);
        return -1;
    }
    if (a->man.base.name[0]) {
        char path[PATH_MAX_AOF];
        struct stat st;
        path_in_dir(a, a->man.base.name, path, sizeof path);
        if (stat(path, &st) != 0) {
            log_warning("The AOF file %s doesn't exist", path);
            return -1;
        }
        a->base_size = (uint64_t)st.st_size;
    }
    for (int i = 0; i < a->man.nincr; i++)
        if (check_incr(n, a, &a->man.incr[i], i == a->man.nincr - 1) != 0)
            return -1;
    if (a->man.nincr == 0) {
        /* a manifest with a base alone: an incr file to append to */
        struct aof_file *f = &a->man.incr[0];
        f->seq = a->man.base.seq ? a->man.base.seq : 1;
        f->type = 'i';
        snprintf(f->name, sizeof f->name, "%s.%llu.incr.aof", fname, (unsigned long long)f->seq);
        a->man.nincr = 1;
        char path[PATH_MAX_AOF];
        path_in_dir(a, f->name, path, sizeof path);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_manifest(a) != 0) {
            log_warning("Can't create the AOF incr file %s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
    }
    return 0;
}

/* The directory (made if missing) and the manifest's name. */
static int prepare_dir(struct node *n, struct aof *a)
{
    const char *fname = config_str(&n->config, appendfilename);
    const char *dname = config_str(&n->config, appenddirname);
    snprintf(a->dir, sizeof a->dir, "%s", dname && *dname ? dname : "appendonlydir");
    if (!fname || !*fname)
        fname = "appendonly.aof";
    snprintf(a->manifest_name, sizeof a->manifest_name, "%s.manifest", fname);
    if (mkdir(a->dir, 0755) != 0 && errno != EEXIST) {
        log_warning("Can't create the append-only directory %s: %s", a->dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int prepare(struct node *n, struct aof *a)
{
    if (prepare_dir(n, a) != 0)
        return -1;
    const char *fname = fname_of(n);
    char path[PATH_MAX_AOF];
    path_in_dir(a, a->manifest_name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;
    if (fd < 0 && errno == ENOENT) {
        rc = create_aof(n, a, fname);
    } else if (fd < 0) {
        log_warning("Can't open the AOF manifest %s: %s", path, strerror(errno));
        return -1;
    } else {
        struct buf text;
        buf_init(&text);
        char chunk[4096];
        ssize_t r;
        while ((r = read(fd, chunk, sizeof chunk)) > 0 && text.len < (1u << 20))
            buf_append(&text, chunk, (size_t)r);
        close(fd);
        rc = open_existing(n, a, text.data ? text.data : "", text.len, fname);
        buf_free(&text);
    }
    if (rc != 0)
        return -1;
    path_in_dir(a, a->man.incr[a->man.nincr - 1].name, path, sizeof path);
    a->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (a->fd < 0) {
        log_warning("Can't open the append-only file %s: %s", path, strerror(errno));
        return -1;
    }
    a->load = true;
    a->size_at_rewrite = a->base_size + atomic_load(&a->incr_size);
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

static bool is_word(struct slice s, const char *w)
{
    return slice_eq_nocase(s, w);
}

/* One command of the AOF, on shard sh: run if its keys are here (the part
 * of a split command that is), passed over if they are elsewhere. false
 * with the reason in err if it cannot be loaded. */
static bool load_command(struct shard *sh, int argc, struct slice *argv, char *err, size_t errlen)
{
    struct slice name = argv[0];
    /* the stream's frame and what is not data: MULTI/EXEC (the commands
     * between them are loaded in order: loading is not served),
     * PING, REPLCONF, PUBLISH (a message, not data: Redis does not write
     * it; ringkv's stream carries it for replicas) */
    if (is_word(name, "multi") || is_word(name, "exec") || is_word(name, "ping") || is_word(name, "replconf") ||
        is_word(name, "publish") || is_word(name, "spublish"))
        return true;
    if (is_word(name, "select")) {
        /* the commands after it run in that database (every shard: each
         * keeps the database it is in for the keys of its own that come) */
        long long db = -1;
        if (argc == 2 && argv[1].len > 0 && argv[1].len <= 10) {
            db = 0;
            for (size_t i = 0; i < argv[1].len && db >= 0; i++)
                db = argv[1].ptr[i] >= '0' && argv[1].ptr[i] <= '9' ? db * 10 + (argv[1].ptr[i] - '0') : -1;
        }
        if (db < 0 || db >= sh->ndbs) {
            snprintf(err, errlen, "the AOF selects database %.*s, and ringkv has %d here (databases)",
                     argc > 1 ? (int)(argv[1].len > 20 ? 20 : argv[1].len) : 0, argc > 1 ? argv[1].ptr : "",
                     sh->ndbs);
            return false;
        }
        shard_select(sh, (int)db);
        return true;
    }
    const struct command *cmd = command_lookup(name);
    if (cmd && cmd->subcommands && argc >= 2)
        cmd = command_lookup_sub(cmd, argv[1]);
    if (!cmd || !cmd->fn) {
        snprintf(err, errlen, "Unknown command '%.*s' reading the append only file", (int)(name.len > 64 ? 64 : name.len),
                 name.ptr);
        return false;
    }
    if (!command_arity_ok(cmd, argc)) {
        snprintf(err, errlen, "Wrong number of arguments for '%.*s' reading the append only file",
                 (int)(name.len > 64 ? 64 : name.len), name.ptr);
        return false;
    }
    struct node *n = sh->node;
    int run_argc = argc;
    struct slice *run_argv = argv, *filtered = NULL;
    if (cmd->journal == JOURNAL_NODE) {
        /* FLUSHALL, FLUSHDB: every shard its part */
    } else if (cmd->journal == JOURNAL_ALWAYS || !(cmd->flags & CMD_WRITE)) {
        /* node-wide state (FUNCTION LOAD...): shard 0's */
        if (sh->id != 0 || !(cmd->flags & CMD_WRITE || cmd->journal == JOURNAL_ALWAYS))
            return true;
    } else {
        int nk = command_keys(cmd, argc, argv, NULL, 0);
        if (nk <= 0) {
            if (sh->id != 0)
                return true;
        } else {
            int *idx = mi_malloc(sizeof(int) * (size_t)nk);
            command_keys(cmd, argc, argv, idx, nk);
            int here = 0;
            for (int i = 0; i < nk; i++)
                here += shard_of_slot(n, key_slot(argv[idx[i]].ptr, argv[idx[i]].len)) == sh->id;
            if (here == 0) {
                mi_free(idx);
                return true;
            }
            if (here < nk) {
                int step = cmd->key_step > 0 ? cmd->key_step : 1;
                /* a split command (DEL, MSET...): its keys from first_key
                 * to the end, step apart; this shard keeps its own */
                if (!(cmd->flags & CMD_SPLIT) || cmd->last_key != -1) {
                    mi_free(idx);
                    snprintf(err, errlen,
                             "'%.*s' over keys of several shards here: ringkv cannot load it from the append only file",
                             (int)(name.len > 64 ? 64 : name.len), name.ptr);
                    return false;
                }
                filtered = mi_malloc(sizeof *filtered * (size_t)argc);
                run_argc = 0;
                for (int i = 0; i < cmd->first_key; i++)
                    filtered[run_argc++] = argv[i];
                for (int i = 0; i < nk; i++) {
                    int k = idx[i];
                    if (shard_of_slot(n, key_slot(argv[k].ptr, argv[k].len)) != sh->id)
                        continue;
                    for (int j = 0; j < step && k + j < argc; j++)
                        filtered[run_argc++] = argv[k + j];
                }
                run_argv = filtered;
            }
            mi_free(idx);
        }
    }
    struct buf out;
    buf_init(&out);
    struct reply r = { &out, 2 };
    struct exec_ctx ctx = {
        .shard = sh, .store = sh->store, .reply = &r, .argc = run_argc, .argv = run_argv,
        .client = NULL, .now_ms = 0, .caller_id = 0, .msg = NULL,
    };
    bool counted = store_lookups_counted(sh->store, command_counts_lookups(cmd));
    cmd->fn(&ctx);
    store_lookups_counted(sh->store, counted);
    if (out.len && out.data[0] == '-')
        log_warning("A command of the append only file failed: '%.*s': %.*s", (int)(name.len > 64 ? 64 : name.len),
                    name.ptr, (int)(out.len > 2 ? out.len - 2 : out.len), out.data);
    buf_free(&out);
    mi_free(filtered);
    return true;
}

/* The commands of one file (an incr file, or a base in the AOF form) for
 * this shard's keys. The files were checked at attach: a cut last command
 * was removed then. */
static int load_commands(struct shard *sh, const char *path, uint64_t *count)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        log_warning("Can't open the append-only file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) {
        close(fd);
        return 0;
    }
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        log_warning("Can't read the append-only file %s: %s", path, strerror(errno));
        return -1;
    }
    struct resp_parser ps;
    resp_parser_init(&ps);
    struct resp_limits lim = RESP_LIMITS_DEFAULT;
    lim.strict = true;
    lim.max_args = 1 << 30;
    size_t at = 0;
    int rc = 0;
    shard_select(sh, 0); /* each file starts in database 0, as Redis loads one with a new client */
    while (at < len) {
        size_t used = 0;
        const char *e = NULL;
        enum resp_status s = resp_parse(&ps, map + at, len - at, &lim, &used, &e);
        if (s != RESP_DONE) {
            if (s != RESP_MORE) {
                log_warning("Bad file format reading the append only file %s: %s", path, e ? e : "not a command");
                rc = -1;
            }
            break; /* a cut last command: the attach check allowed it */
        }
        char err[200];
        if (ps.argc > 0 && !load_command(sh, (int)ps.argc, ps.argv, err, sizeof err)) {
            log_warning("Error loading the append only file %s: %s", path, err);
            rc = -1;
            break;
        }
        (*count)++;
        at += used;
    }
    resp_parser_deinit(&ps);
    munmap(map, len);
    shard_select(sh, 0);
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static atomic_int shards_done;

int aof_load(struct shard *sh)
{
    struct aof *a = aof_of(sh->node);
    if (!a || !a->load)
        return 0;
    uint64_t t0 = clock_mono_ns();
    char path[PATH_MAX_AOF];
    if (a->man.base.name[0]) {
        path_in_dir(a, a->man.base.name, path, sizeof path);
        if (ends_with(a->man.base.name, ".rdb")) {
            int rc = persist_load_rdb(sh, path);
            if (rc != 0) {
                if (rc > 0)
                    log_warning("The AOF file %s doesn't exist", path);
                return -1;
            }
        } else {
            uint64_t c = 0;
            shard_journal(sh, false);
            int rc = load_commands(sh, path, &c);
            shard_journal(sh, true);
            if (rc != 0)
                return -1;
        }
    }
    uint64_t count = 0;
    /* stores no one has seen yet: nothing to replicate, notify or count */
    shard_journal(sh, false);
    for (int i = 0; i < a->man.nincr; i++) {
        path_in_dir(a, a->man.incr[i].name, path, sizeof path);
        if (load_commands(sh, path, &count) != 0) {
            shard_journal(sh, true);
            return -1;
        }
    }
    shard_journal(sh, true);
    if (atomic_fetch_add(&shards_done, 1) == sh->node->nshards - 1)
        log_notice("DB loaded from append only file: %.3f seconds (%llu commands read)",
                   (double)(clock_mono_ns() - t0) / 1e9, (unsigned long long)count);
    return 1;
}

/* ---- the rewrite ---------------------------------------------------------- */

bool aof_on(const struct node *n)
{
    const struct aof *a = aof_of(n);
    return a && a->on;
}

bool aof_rewrite_busy(const struct node *n)
{
    const struct aof *a = aof_of(n);
    return a && (a->step != RW_NONE || a->cut_pending);
}

void aof_rewrite_schedule(struct node *n)
{
    struct aof *a = aof_of(n);
    if (a)
        a->scheduled = true;
}

int aof_rewrite_parked(struct shard *sh, char *tmp, size_t len)
{
    struct node *n = sh->node;
    struct aof *a = aof_of(n);
    if (!a || !a->on || a->man.nincr >= AOF_MANIFEST_FILES_MAX) {
        log_warning("Can't rewrite the append only file: %s", a && a->on ? "too many incr files" : "appendonly is no");
        return -1;
    }
    struct aof_file *f = &a->man.incr[a->man.nincr];
    f->seq = a->man.nincr ? a->man.incr[a->man.nincr - 1].seq + 1 : 1;
    f->type = 'i';
    snprintf(f->name, sizeof f->name, "%s.%llu.incr.aof", fname_of(n), (unsigned long long)f->seq);
    char path[PATH_MAX_AOF];
    path_in_dir(a, f->name, path, sizeof path);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_warning("Can't open the append-only file %s: %s", path, strerror(errno));
        return -1;
    }
    a->man.nincr++;
    if (!a->need_base && write_manifest(a) != 0) {
        log_warning("Can't write the AOF manifest %s/%s: %s", a->dir, a->manifest_name, strerror(errno));
        a->man.nincr--;
        close(fd);
        unlink(path);
        return -1;
    }
    log_notice("Creating AOF incr file %s on background rewrite", f->name);
    a->new_fd = fd;
    a->suspended = false; /* the new incr file starts at this snapshot */
    a->cut_pending = true;
    a->cut_count = 0;
    memset(a->cut_seen, 0, sizeof(bool) * (size_t)n->nshards);
    buf_clear(&a->post);
    if (atomic_load_explicit(&n->repl_role, memory_order_relaxed)) {
        cut_complete(a); /* a replica: the stream shard 0 took so far is what the shards applied */
        /* the new file starts in database 0: the master's stream may be in another */
        int db = n->journal && n->journal->stream_db ? n->journal->stream_db(sh) : 0;
        if (db != 0) {
            char num[16], sel[48];
            int nl = snprintf(num, sizeof num, "%d", db);
            int sl = snprintf(sel, sizeof sel, "*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n", nl, num);
            aof_feed(n, AOF_FROM_LINK, sel, (size_t)sl);
        }
    }
    snprintf(a->tmp_name, sizeof a->tmp_name, "temp-rewriteaof-bg-%d.aof", (int)getpid());
    path_in_dir(a, a->tmp_name, tmp, len);
    a->step = RW_CHILD;
    a->rw_start_ms = shard_now_ms(sh);
    return 0;
}

void aof_rewrite_forked(struct shard *sh, bool ok)
{
    if (!ok)
        aof_rewrite_done(sh, false);
}

void aof_rewrite_done(struct shard *sh, bool ok)
{
    struct aof *a = aof_of(sh->node);
    if (a && a->step == RW_CHILD)
        a->step = ok ? RW_DONE_OK : RW_DONE_ERR;
}

/* The child's file becomes the base: once the cut is complete (shard 0's
 * tick). The manifest is replaced whole (file_replace): a crash leaves the
 * old one (old base and every incr file since) or the new one. */
static void rewrite_finish(struct shard *sh)
{
    struct node *n = sh->node;
    struct aof *a = aof_of(n);
    char tmp[PATH_MAX_AOF], path[PATH_MAX_AOF];
    path_in_dir(a, a->tmp_name, tmp, sizeof tmp);
    int64_t now = shard_now_ms(sh);
    a->last_rw_time_s = (now - a->rw_start_ms + 500) / 1000;
    bool ok = a->step == RW_DONE_OK;
    a->step = RW_NONE;
    struct aof_manifest old = a->man;
    if (ok) {
        struct aof_manifest m;
        memset(&m, 0, sizeof m);
        m.base.seq = old.base.seq + 1;
        m.base.type = 'b';
        snprintf(m.base.name, sizeof m.base.name, "%s.%llu.base.rdb", fname_of(n), (unsigned long long)m.base.seq);
        m.incr[0] = old.incr[old.nincr - 1]; /* the one made at the park */
        m.nincr = 1;
        path_in_dir(a, m.base.name, path, sizeof path);
        struct stat st;
        if (rename(tmp, path) != 0 || stat(path, &st) != 0) {
            log_warning("Error trying to rename the temporary AOF base file %s into %s: %s", a->tmp_name,
                        m.base.name, strerror(errno));
            ok = false;
        } else {
            a->man = m;
            if (write_manifest(a) != 0) {
                log_warning("Can't write the AOF manifest %s/%s: %s", a->dir, a->manifest_name, strerror(errno));
                a->man = old;
                unlink(path);
                ok = false;
            } else {
                fsync_dir(a->dir);
                /* the old files: history now, deleted at once */
                if (old.base.name[0] && strcmp(old.base.name, m.base.name) != 0) {
                    path_in_dir(a, old.base.name, path, sizeof path);
                    unlink(path);
                }
                for (int i = 0; i < old.nincr - 1; i++) {
                    path_in_dir(a, old.incr[i].name, path, sizeof path);
                    unlink(path);
                }
                a->base_size = (uint64_t)st.st_size;
                a->size_at_rewrite = a->base_size + atomic_load(&a->incr_size);
                a->rewrites++;
                a->need_base = false;
                log_notice("Background AOF rewrite finished successfully");
            }
        }
    }
    if (!ok) {
        unlink(tmp);
        log_warning("Background AOF rewrite terminated with error");
    }
    a->last_rw_ok = ok;
}

void aof_dataset_replaced(struct node *n)
{
    struct aof *a = aof_of(n);
    if (!a || !a->on)
        return;
    a->suspended = true;
    a->scheduled = true;
    a->fail_ms = 0;
    log_notice("The data was replaced by a full sync: appending to the AOF stops until its rewrite");
}

bool aof_rewrite_due(struct shard *sh, int64_t now_ms)
{
    struct aof *a = aof_of(sh->node);
    if (!a || !a->on)
        return false;
    if (a->step == RW_DONE_OK || a->step == RW_DONE_ERR) {
        if (a->cut_pending)
            return false;
        rewrite_finish(sh);
        a->fail_ms = a->last_rw_ok ? 0 : now_ms;
    }
    if (a->step != RW_NONE || a->cut_pending)
        return false;
    if (a->scheduled) {
        a->scheduled = false;
        return true;
    }
    long long pct = config_load(&sh->node->config, auto_aof_rewrite_percentage);
    long long min = config_load(&sh->node->config, auto_aof_rewrite_min_size);
    if (a->fail_ms && now_ms - a->fail_ms < 5000)
        return false; /* after a failure, as Redis: not again at once */
    if (a->suspended || a->need_base)
        return true;
    if (pct <= 0)
        return false;
    uint64_t cur = a->base_size + atomic_load(&a->incr_size) + atomic_load(&a->queued);
    if (cur <= (uint64_t)min)
        return false;
    uint64_t base = a->size_at_rewrite ? a->size_at_rewrite : 1;
    if (cur <= base || (cur - base) * 100 / base < (uint64_t)pct)
        return false;
    log_notice("Starting automatic rewriting of AOF on %llu%% growth",
               (unsigned long long)((cur - base) * 100 / base));
    return true;
}

/* ---- INFO ----------------------------------------------------------------- */

void aof_info(struct shard *sh, struct buf *out)
{
    struct aof *a = aof_of(sh->node);
    bool on = a && a->on;
    bool running = a && a->step != RW_NONE;
    buf_printf(out,
               "aof_enabled:%d\r\n"
               "aof_rewrite_in_progress:%d\r\n"
               "aof_rewrite_scheduled:%d\r\n"
               "aof_last_rewrite_time_sec:%lld\r\n"
               "aof_current_rewrite_time_sec:%lld\r\n"
               "aof_last_bgrewrite_status:%s\r\n"
               "aof_rewrites:%llu\r\n"
               "aof_rewrites_consecutive_failures:0\r\n"
               "aof_last_write_status:%s\r\n"
               "aof_last_cow_size:0\r\n"
               "module_fork_in_progress:0\r\n"
               "module_fork_last_cow_size:0\r\n",
               on ? 1 : 0, running ? 1 : 0, a && a->scheduled ? 1 : 0, a ? (long long)a->last_rw_time_s : -1LL,
               running ? (long long)((shard_now_ms(sh) - a->rw_start_ms) / 1000) : -1LL,
               !a || a->last_rw_ok ? "ok" : "err", a ? (unsigned long long)a->rewrites : 0ULL,
               !on || atomic_load(&a->write_ok) ? "ok" : "err");
    if (!on)
        return;
    uint64_t incr = atomic_load(&a->incr_size);
    buf_printf(out,
               "aof_current_size:%llu\r\n"
               "aof_base_size:%llu\r\n"
               "aof_pending_rewrite:%d\r\n"
               "aof_buffer_length:%llu\r\n"
               "aof_pending_bio_fsync:%llu\r\n"
               "aof_delayed_fsync:0\r\n",
               (unsigned long long)(a->base_size + incr), (unsigned long long)a->base_size, a->scheduled ? 1 : 0,
               (unsigned long long)(a->pending.len + a->post.len + atomic_load(&a->queued)),
               (unsigned long long)atomic_load(&a->fsyncing));
}

/* ---- the module ------------------------------------------------------------ */

static void aof_node_teardown(struct node *n)
{
    struct aof *a = aof_of(n);
    if (!a)
        return;
    if (a->thread_started) {
        /* what shard 0 took in its last turn goes too */
        if (a->cut_pending)
            cut_complete(a);
        while (a->pending.len || a->nout) {
            hand_over(a);
            if (a->nout)
                usleep(1000);
        }
        atomic_store(&a->stop, 1);
        atomic_fetch_add(&a->wake, 1);
        futex_wake(&a->wake);
        pthread_join(a->thread, NULL);
    }
    if (a->fd > 0)
        close(a->fd);
    if (a->new_fd > 0)
        close(a->new_fd);
    if (a->step != RW_NONE && a->tmp_name[0]) {
        char tmp[PATH_MAX_AOF];
        path_in_dir(a, a->tmp_name, tmp, sizeof tmp);
        unlink(tmp);
    }
    for (size_t i = 0; i < a->nout; i++) {
        buf_free(&a->outq[i].b);
        mi_free(a->outq[i].taken);
    }
    mi_free(a->outq);
    mi_free(a->taken);
    mi_free(a->post_taken);
    mi_free(a->marks);
    mi_free(a->cut_seen);
    buf_free(&a->post);
    buf_free(&a->pending);
    mi_free(a);
    n->aof = NULL;
}

/* A write the AOF could not take (a full disk): later writes are refused,
 * as Redis refuses them, until the writer's retry gets through. */
static write_gate_fn *next_gate;

static const char *aof_write_gate(const struct node *n)
{
    const char *why = next_gate ? next_gate(n) : NULL;
    if (why)
        return why;
    struct aof *a = aof_of(n);
    if (!a || !a->on || atomic_load(&a->write_ok))
        return NULL;
    return a->write_err;
}

static const struct shard_module aof_module = {
    .name = "aof",
    .turn = aof_turn,
    .pending = aof_pending,
    .tick = aof_tick,
    .node_teardown = aof_node_teardown,
};

int aof_attach(struct node *n)
{
    struct aof *a = mi_zalloc(sizeof *a);
    a->fd = -1;
    a->new_fd = -1;
    a->node = n;
    a->last_rw_time_s = -1;
    a->last_rw_ok = true;
    /* per-shard state, made before node_start counts the shards: room
     * for the most there may be (threads is at most 1024; one per CPU
     * with threads 0, of at most 1024 CPUs) */
    size_t nsh = AOF_SHARDS_CAP;
    a->cut_seen = mi_zalloc(sizeof(bool) * nsh);
    a->taken = mi_zalloc(sizeof(uint64_t) * nsh);
    a->post_taken = mi_zalloc(sizeof(uint64_t) * nsh);
    a->marks = mi_zalloc_aligned(sizeof(struct shard_marks) * nsh, 64);
    atomic_store(&a->write_ok, 1);
    n->aof = a;
    next_gate = n->write_gate;
    n->write_gate = aof_write_gate;
    node_attach_module(n, &aof_module);
    if (!config_load(&n->config, appendonly))
        return 0;
    a->on = true;
    if (prepare(n, a) != 0)
        return -1;
    if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
        log_warning("Can't start the AOF writer thread");
        return -1;
    }
    a->thread_started = true;
    atomic_store(&a->fencing, 1);
    /* every shard journals from now on: the stream is the AOF's */
    atomic_store(&n->repl_feeding, 1);
    return 0;
}
