/* persist: see persist.h. */
#include "shards/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <mimalloc.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/command.h"
#include "core/config.h"
#include "core/log.h"
#include "core/reply.h"
#include "shards/aof.h"
#include "shards/dispatch.h"
#include "shards/hold.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/rdb.h"
#include "shards/store/serialize.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"
#include "shards/tracking.h"
#include "shards/watch.h"

/* Redis waits this long after a failed background save before the save
 * points may start another (CONFIG_BGSAVE_RETRY_DELAY). */
#define BGSAVE_RETRY_S 5
/* Clients waiting for one snapshot (SAVE callers, a BGSAVE's). */
#define WAITERS_MAX 64

/* SNAP_AOFRW: an AOF rewrite (BGREWRITEAOF, the automatic one): a forked
 * child as BGSAVE's, writing the AOF's new base (shards/aof.h). */
/* SNAP_RELOAD: DEBUG RELOAD, a SAVE (unless NOSAVE) after which every
 * shard, still at the park, empties its store (unless NOFLUSH) and loads
 * the file back. */
enum snap_kind { SNAP_NONE, SNAP_SAVE, SNAP_BGSAVE, SNAP_SHUTDOWN, SNAP_FLUSHALL, SNAP_AOFRW, SNAP_RELOAD };
enum shutdown_req { SHUT_NONE, SHUT_PLAIN, SHUT_SAVE };

/* The node's persistence state. The barrier's two words are shared by
 * every shard; the rest is shard 0's (SAVE, BGSAVE, LASTSAVE, INFO and the
 * ticks that start and reap saves all run there), but for the counts
 * other shards add at start. */
struct persist {
    /* the barrier: shards parked now, and the word they sleep on until
     * shard 0 moves it on (a futex) */
    _Alignas(64) atomic_int parked;
    _Alignas(64) atomic_uint release;
    atomic_bool    abandoned;       /* the node stops: no park will complete (park_message) */
    struct node   *node;
    atomic_bool    parked_by[1024]; /* which shards are parked now */
    int            kind;            /* enum snap_kind being parked for, SNAP_NONE if none */
    uint64_t       park_start_ns;
    struct shard_msg *waiters[WAITERS_MAX];
    int            nwaiters;
    /* the next background save's end is awaited by these (persist_bgsave_notify) */
    struct { persist_saved_fn *done; uint64_t arg; } notify[WAITERS_MAX];
    int            nnotify;
    /* the background save's child (or the AOF rewrite's: child_kind) */
    pid_t          child;
    int            child_kind;      /* SNAP_BGSAVE or SNAP_AOFRW */
    int64_t        child_start_ms;
    uint64_t       changes_at_fork;
    bool           scheduled;       /* BGSAVE SCHEDULE: start one once the child is done */
    /* a replica's full sync wants the next background save to cut the
     * stream (persist_bgsave_cut_notify): each shard, as it parks, marks
     * the point of its stream the fork holds (sync_cut) */
    bool           cut_wanted;
    bool           cut;             /* the save parking now cuts */
    bool           child_cut;       /* the running child's save cut; then the last one's */
    /* results, as INFO shows them */
    int64_t        lastsave_s;      /* the last successful save (the start until then) */
    int64_t        last_try_s;      /* the last background save started */
    bool           last_bgsave_ok;  /* written on shard 0, read by the write gate on any shard (atomic) */
    int64_t        last_bgsave_time_s; /* -1: none yet */
    uint64_t       saves;
    uint64_t       forks;
    uint64_t       latest_fork_usec;
    uint64_t       latest_park_usec;
    uint64_t       changes_base;    /* the node's changes as of the last save */
    atomic_int     shutdown_req;    /* enum shutdown_req, or + 4 for "save even without points" */
    atomic_uint_fast64_t keys_loaded, keys_expired;
    atomic_int     loading;
    atomic_int     shards_loaded;   /* shards done reading dump.rdb at start */
    cpu_set_t      cpus;            /* the CPUs the process may use (before shards pinned theirs) */
    /* FLUSHALL: each shard's flag, set when it flushed, cleared by shard 0
     * once all are set (persist_flushed) */
    atomic_bool    flushed[1024];
    bool           have_cpus;
    /* DEBUG RELOAD's options, set by shard 0 before the park; reload_go
     * is set once the file is written and the shards are released to load
     * it (each parked shard reads it as it wakes), cleared by shard 0 once
     * every other shard has counted itself in reloaded */
    bool           reload_save, reload_flush, reload_merge;
    atomic_bool    reload_go;
    atomic_int     reloaded, reload_failed;
};

static write_gate_fn *next_gate; /* the gate this module's wraps (replication's) */

static struct persist *state(const struct node *n)
{
    return n->persist;
}

static uint64_t node_changes(const struct node *n)
{
    uint64_t c = 0;
    for (int i = 0; i < n->nshards; i++)
        c += stat_load(&n->shards[i]->stats.changes);
    return c;
}

static uint64_t dirty(const struct node *n)
{
    uint64_t c = node_changes(n), base = state(n)->changes_base;
    return c > base ? c - base : 0; /* CONFIG RESETSTAT may have cleared the counts */
}

/* ---- the `save` points ------------------------------------------------- */

/* "3600 1 300 100": calls fn for each pair; false if the text is not pairs
 * of numbers (Redis: "Invalid save parameters"). */
static bool save_points(const char *text, int64_t *secs, int64_t *changes, int max, int *n)
{
    *n = 0;
    const char *p = text ? text : "";
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *end;
        long long s = strtoll(p, &end, 10);
        if (end == p || (*end != ' ' && *end))
            return false;
        p = end;
        while (*p == ' ')
            p++;
        long long c = strtoll(p, &end, 10);
        if (end == p || (*end != ' ' && *end) || s < 0 || c < 0)
            return false;
        p = end;
        if (*n < max) {
            secs[*n] = s;
            changes[*n] = c;
            (*n)++;
        }
    }
    return true;
}

static bool save_points_set(const struct node *n)
{
    int64_t s[16], c[16];
    int k;
    return save_points(config_str(&n->config, save), s, c, 16, &k) && k > 0;
}

/* ---- writing the file -------------------------------------------------- */

static void temp_name(char *out, size_t len, pid_t pid)
{
    snprintf(out, len, "temp-%d.rdb", (int)pid);
}

int persist_write_rdb(struct node *n, int fd, int64_t now_ms, bool keys)
{
    uint64_t mem = 0;
    for (int i = 0; keys && i < n->nshards; i++)
        mem += shard_used_memory(n->shards[i]);
    struct rdb_writer w;
    rdb_write_begin(&w, fd, config_load(&n->config, rdbcompression) != 0,
                    config_load(&n->config, rdbchecksum) != 0, now_ms, mem);
    struct buf records; /* node-wide state: the function libraries */
    buf_init(&records);
    for (int i = 0; i < n->nmodules; i++)
        if (n->modules[i]->rdb_save)
            n->modules[i]->rdb_save(n, &records);
    rdb_write_raw(&w, records.data, records.len);
    buf_free(&records);
    /* each database in ascending order, its keys on every shard under one
     * SELECTDB, as Redis writes them; one no shard holds a key of is not
     * written (nor one no shard has made) */
    int ndbs = keys && n->nshards > 0 ? n->shards[0]->ndbs : 0;
    for (int d = 0; d < ndbs && !w.failed; d++) {
        uint64_t count = 0, expires = 0;
        for (int i = 0; i < n->nshards; i++) {
            struct store *s = d < n->shards[i]->ndbs ? n->shards[i]->dbs[d] : NULL;
            if (s) {
                count += store_count(s);
                expires += store_get_stats(s)->expires;
            }
        }
        if (count == 0)
            continue;
        rdb_write_db(&w, d, count, expires);
        for (int i = 0; i < n->nshards; i++) {
            struct store *s = d < n->shards[i]->ndbs ? n->shards[i]->dbs[d] : NULL;
            if (s)
                rdb_write_store(&w, s, now_ms);
        }
    }
    return rdb_write_end(&w);
}

/* Write every shard's store to dbfilename in the working directory (the
 * `dir`): a temporary file, fsynced, renamed over the old one, then the
 * directory fsynced, so a crash leaves the old file or the new one. The
 * stores must not change meanwhile (parked shards, or a forked child).
 * 0, or -1 with errno set. */
static int write_snapshot_to(struct node *n, int64_t now_ms, const char *tmp, const char *final);

static int write_snapshot(struct node *n, int64_t now_ms)
{
    char tmp[64];
    temp_name(tmp, sizeof tmp, getpid());
    const char *name = config_str(&n->config, dbfilename);
    return write_snapshot_to(n, now_ms, tmp, name && *name ? name : "dump.rdb");
}

/* The same to tmp, renamed over final unless final is NULL (an AOF base:
 * the parent renames it once the rewrite's cut is done). */
static int write_snapshot_to(struct node *n, int64_t now_ms, const char *tmp, const char *final)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = persist_write_rdb(n, fd, now_ms, true);
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && final && rename(tmp, final) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (!final)
        return 0;
    int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* the rename itself survives a crash (best effort) */
        close(dfd);
    }
    return 0;
}

/* The child of a background save: shard 0's thread alone, every other
 * shard parked at the fork. It writes the file and leaves without running
 * the parent's exit handlers. */
static void child_main(struct node *n, int64_t now_ms, const char *aof_base)
{
    prctl(PR_SET_NAME, aof_base ? "ringkv-aof-rewrite" : "ringkv-rdb-bgsave");
    /* not on shard 0's CPU, whose pinning the child inherits: there it
     * would take that shard's time and wait for it */
    struct persist *p = state(n);
    if (p->have_cpus)
        (void)sched_setaffinity(0, sizeof p->cpus, &p->cpus);
    /* the listeners are the parent's: a server started on the port while
     * the child still runs must not have connections queued here */
    for (int i = 0; i < n->nlisten * n->nshards; i++)
        close(n->listen_fds[i]);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    int rc = aof_base ? write_snapshot_to(n, now_ms, aof_base, NULL) : write_snapshot(n, now_ms);
    _exit(rc == 0 ? 0 : 1);
}

/* ---- the barrier ------------------------------------------------------- */

/* DEBUG RELOAD's steps (below, with the loading) */
static void reload_snapshot(struct shard *sh, int64_t now_ms, uint64_t changes);
static int reload_shard(struct shard *sh);
static int load_rdb(struct shard *sh, const char *name, bool refuse_dup);

static void futex_wait(atomic_uint *w, unsigned v)
{
    /* bounded, so a parked shard also sees a park abandoned */
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0);
}

static void futex_wake_all(atomic_uint *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static void release_shards(struct persist *p)
{
    hold_give(p->node);
    for (size_t i = 0; i < sizeof p->parked_by / sizeof p->parked_by[0]; i++)
        atomic_store_explicit(&p->parked_by[i], false, memory_order_relaxed);
    atomic_store(&p->parked, 0);
    atomic_fetch_add(&p->release, 1);
    futex_wake_all(&p->release);
}

static void answer(struct shard *sh, struct shard_msg *m, const char *status, const char *error)
{
    struct reply rep = { &m->reply, m->proto };
    if (error)
        reply_error(&rep, error);
    else
        reply_simple(&rep, status);
    m->answered = true;
    msg_post(sh, m, m->home);
}

static void answer_waiters(struct shard *sh, const char *status, const char *error)
{
    struct persist *p = state(sh->node);
    for (int i = 0; i < p->nwaiters; i++)
        answer(sh, p->waiters[i], status, error);
    p->nwaiters = 0;
}

/* A background save ended (or could not start): tell who waits for one. */
static void notify_saved(struct shard *sh, bool ok)
{
    struct persist *p = state(sh->node);
    int n = p->nnotify;
    p->nnotify = 0;
    struct { persist_saved_fn *done; uint64_t arg; } called[WAITERS_MAX];
    memcpy(called, p->notify, sizeof(called[0]) * (size_t)n); /* one may wait for the next save */
    for (int i = 0; i < n; i++)
        called[i].done(sh, ok, called[i].arg);
}

static void run_sync_cut(struct shard *sh)
{
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->sync_cut)
            sh->node->modules[i]->sync_cut(sh);
}

static void run_stream_cut(struct shard *sh)
{
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->stream_cut)
            sh->node->modules[i]->stream_cut(sh);
}

/* An AOF rewrite, every shard parked: the cut begins (shard 0's mark
 * after the others'), the new incr file is named, and a child writes the
 * new base. */
static void aof_rewrite_snapshot(struct shard *sh, int64_t now_ms, uint64_t t0)
{
    struct node *n = sh->node;
    struct persist *p = state(n);
    char tmp[700];
    if (aof_rewrite_parked(sh, tmp, sizeof tmp) != 0) {
        release_shards(p);
        answer_waiters(sh, NULL, "ERR Can't rewrite append only file in background: see the log");
        return;
    }
    run_stream_cut(sh);
    pid_t pid = fork();
    if (pid == 0)
        child_main(n, now_ms, tmp);
    int fork_errno = errno;
    p->latest_fork_usec = (clock_mono_ns() - t0) / 1000;
    release_shards(p);
    if (pid < 0) {
        aof_rewrite_forked(sh, false);
        char err[128];
        snprintf(err, sizeof err, "ERR Can't rewrite append only file in background: fork: %s", strerror(fork_errno));
        log_warning("Can't rewrite append only file in background: fork: %s", strerror(fork_errno));
        answer_waiters(sh, NULL, err);
        return;
    }
    aof_rewrite_forked(sh, true);
    p->forks++;
    p->child = pid;
    p->child_kind = SNAP_AOFRW;
    p->child_start_ms = now_ms;
    log_notice("Background append only file rewriting started by pid %d (shards parked %llu us, fork %llu us)",
               (int)pid, (unsigned long long)p->latest_park_usec, (unsigned long long)p->latest_fork_usec);
    answer_waiters(sh, "Background append only file rewriting started", NULL);
}

/* Every shard is parked (shard 0 is running this): take the snapshot. */
static void snapshot(struct shard *sh)
{
    struct node *n = sh->node;
    struct persist *p = state(n);
    int kind = p->kind;
    p->kind = SNAP_NONE;
    uint64_t t0 = clock_mono_ns();
    p->latest_park_usec = (t0 - p->park_start_ns) / 1000;
    int64_t now_ms = shard_now_ms(sh);
    uint64_t changes = node_changes(n);
    if (kind == SNAP_AOFRW) {
        aof_rewrite_snapshot(sh, now_ms, t0);
        return;
    }
    if (kind == SNAP_RELOAD) {
        reload_snapshot(sh, now_ms, changes);
        return;
    }
    if (kind == SNAP_BGSAVE) {
        p->child_cut = p->cut;
        if (p->cut) /* this shard's mark, after the others' (each before it parked) */
            run_sync_cut(sh);
        p->cut = false;
        pid_t pid = fork();
        if (pid == 0)
            child_main(n, now_ms, NULL);
        int fork_errno = errno;
        p->latest_fork_usec = (clock_mono_ns() - t0) / 1000;
        release_shards(p);
        p->last_try_s = now_ms / 1000;
        if (pid < 0) {
            __atomic_store_n(&p->last_bgsave_ok, false, __ATOMIC_RELAXED);
            char err[128];
            snprintf(err, sizeof err, "ERR Can't save in background: fork: %s", strerror(fork_errno));
            log_warning("Can't save in background: fork: %s", strerror(fork_errno));
            answer_waiters(sh, NULL, err);
            notify_saved(sh, false);
            return;
        }
        p->forks++;
        p->saves++; /* as Redis's rdb_saves: saves started, whatever their end */
        p->child = pid;
        p->child_kind = SNAP_BGSAVE;
        p->child_start_ms = now_ms;
        p->changes_at_fork = changes;
        log_notice("Background saving started by pid %d (shards parked %llu us, fork %llu us)", (int)pid,
                   (unsigned long long)p->latest_park_usec, (unsigned long long)p->latest_fork_usec);
        answer_waiters(sh, "Background saving started", NULL);
        return;
    }
    /* SAVE and a shutdown's save: written here, the shards kept parked */
    int rc = write_snapshot(n, now_ms);
    int saved = errno;
    release_shards(p);
    if (kind != SNAP_FLUSHALL)
        p->saves++; /* Redis's save after FLUSHALL is not counted */
    if (rc == 0) {
        p->lastsave_s = clock_unix_ms() / 1000;
        p->changes_base = changes; /* after FLUSHALL's too: 0 since, as redis-server 7.0 shows */
        __atomic_store_n(&p->last_bgsave_ok, true, __ATOMIC_RELAXED);
        log_notice("DB saved on disk");
        answer_waiters(sh, "OK", NULL);
    } else {
        log_warning("Failed opening or writing the .rdb for saving: %s", strerror(saved));
        answer_waiters(sh, NULL, "ERR");
    }
    if (kind == SNAP_SHUTDOWN) {
        if (rc == 0) {
            node_request_shutdown(n, 0); /* (main says goodbye, once) */
        } else {
            log_warning("Error trying to save the DB, can't exit.");
        }
    }
}

/* The park message: at a shard other than 0, park until released; at
 * shard 0 (its own, a turn after it posted the others), wait for every
 * other shard to be parked and take the snapshot. */
static void park_message(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    struct persist *p = state(sh->node);
    if (sh->id != 0) {
        if (p->kind == SNAP_AOFRW)
            run_stream_cut(sh); /* before parking: this shard's bytes, then its mark */
        else if (p->kind == SNAP_BGSAVE && p->cut)
            run_sync_cut(sh);
        unsigned gen = atomic_load(&p->release); /* before counting ourselves: shard 0 moves it after */
        if (sh->id < 1024)
            atomic_store(&p->parked_by[sh->id], true);
        atomic_fetch_add(&p->parked, 1);
        while (atomic_load(&p->release) == gen && !atomic_load(&p->abandoned))
            futex_wait(&p->release, gen);
        dispatch_key_waits_wake(sh); /* scripts that waited for the token */
        if (atomic_load(&p->reload_go)) {
            if (reload_shard(sh) != 0)
                atomic_fetch_add(&p->reload_failed, 1);
            atomic_fetch_add(&p->reloaded, 1);
        }
        m->answered = true;
        msg_post(sh, m, m->home);
        return;
    }
    int others = sh->node->nshards - 1;
    /* A shard not parked yet whose messages from here wait in this
     * shard's overflow (its mailbox was full) may not have its park
     * message: come back a turn later rather than wait forever. (It is
     * not parked, so it reads its mailbox and the overflow drains; a
     * parked shard's overflow does not matter: it has its message.) */
    for (int i = 1; i <= others; i++)
        if (sh->overflow_head[i] && !(i < 1024 && atomic_load(&p->parked_by[i]))) {
            msg_post(sh, m, 0);
            return;
        }
    while (atomic_load(&p->parked) < others) {
        if (atomic_load(&sh->node->shutdown)) {
            /* the node stops: a shard may have left its loop before it
             * read its park message, and would never park (a FLUSHALL's
             * save racing a SHUTDOWN NOSAVE spun here for ever). No
             * snapshot: the parked ones go, and every shard stops. */
            p->kind = SNAP_NONE;
            atomic_store(&p->abandoned, true);
            release_shards(p);
            msg_free(m);
            return;
        }
        sched_yield();
    }
    snapshot(sh);
    msg_free(m);
    dispatch_key_waits_wake(sh); /* scripts that waited for the token */
}

static void post_park(struct shard *sh, int to)
{
    struct shard_msg *m = msg_create(0, sh->id, to, NULL, -1, NULL, 0);
    m->kind = 0x5a7e; /* a module's kind: the handler runs it */
    m->handler = park_message;
    msg_post(sh, m, to);
}

static void post_parks(struct shard *sh)
{
    for (int i = 1; i < sh->node->nshards; i++)
        post_park(sh, i);
    post_park(sh, 0);
}

/* The park waits for the token a script holding the other shards has
 * (shards/hold.h): tried again each turn, a turn in which this shard
 * serves that script's hold until it ends. */
static void park_when_free(struct shard *sh, struct shard_msg *m)
{
    if (!hold_take(sh->node, HOLD_BY_PERSIST)) {
        msg_post(sh, m, 0);
        return;
    }
    msg_free(m);
    state(sh->node)->park_start_ns = clock_mono_ns();
    post_parks(sh);
}

/* Start parking every shard for a snapshot of this kind (shard 0). */
static void park_start(struct shard *sh, int kind)
{
    struct persist *p = state(sh->node);
    p->kind = kind;
    if (kind == SNAP_BGSAVE) {
        p->cut = p->cut_wanted;
        p->cut_wanted = false;
        p->scheduled = false; /* a save starting now is the one scheduled */
    }
    p->park_start_ns = clock_mono_ns();
    if (!hold_take(sh->node, HOLD_BY_PERSIST)) {
        struct shard_msg *m = msg_create(0, sh->id, 0, NULL, -1, NULL, 0);
        m->kind = 0x5a7e;
        m->handler = park_when_free;
        msg_post(sh, m, 0);
        return;
    }
    post_parks(sh);
}

static bool busy(const struct persist *p)
{
    return p->child > 0 || p->kind != SNAP_NONE;
}

/* ---- commands ---------------------------------------------------------- */

static bool defer(struct exec_ctx *ctx)
{
    struct persist *p = state(ctx->shard->node);
    if (!ctx->msg || p->nwaiters >= WAITERS_MAX)
        return false;
    p->waiters[p->nwaiters++] = ctx->msg;
    ctx->deferred = true;
    return true;
}

void cmd_save(struct exec_ctx *ctx)
{
    struct persist *p = state(ctx->shard->node);
    if ((p->child > 0 && p->child_kind == SNAP_BGSAVE) || p->kind == SNAP_BGSAVE || p->kind == SNAP_SHUTDOWN ||
        p->kind == SNAP_AOFRW || p->kind == SNAP_RELOAD) {
        reply_error(ctx->reply, "ERR Background save already in progress");
        return;
    }
    if (p->kind == SNAP_SAVE) { /* a SAVE parking already: answered with it */
        if (!defer(ctx))
            reply_error(ctx->reply, "ERR Background save already in progress");
        return;
    }
    if (!defer(ctx)) {
        reply_error(ctx->reply, "ERR");
        return;
    }
    park_start(ctx->shard, SNAP_SAVE);
}

void cmd_bgsave(struct exec_ctx *ctx)
{
    struct persist *p = state(ctx->shard->node);
    bool schedule = false;
    if (ctx->argc == 2 && slice_eq_nocase(ctx->argv[1], "schedule")) {
        schedule = true;
    } else if (ctx->argc > 1) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (busy(p)) {
        if (schedule) {
            p->scheduled = true;
            reply_simple(ctx->reply, "Background saving scheduled");
        } else if ((p->child > 0 && p->child_kind == SNAP_AOFRW) || p->kind == SNAP_AOFRW) {
            reply_error(ctx->reply, "ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE "
                                    "SCHEDULE in order to schedule a BGSAVE whenever possible.");
        } else {
            reply_error(ctx->reply, "ERR Background save already in progress");
        }
        return;
    }
    if (!defer(ctx)) {
        reply_error(ctx->reply, "ERR");
        return;
    }
    park_start(ctx->shard, SNAP_BGSAVE);
}

/* done awaits the next background save's end; cut: one that cuts the
 * stream, so not one under way. */
static bool await_bgsave(struct shard *sh, persist_saved_fn *done, uint64_t arg, bool cut)
{
    struct persist *p = state(sh->node);
    if (!p || p->nnotify >= WAITERS_MAX)
        return false;
    p->notify[p->nnotify].done = done;
    p->notify[p->nnotify].arg = arg;
    p->nnotify++;
    if (cut)
        p->cut_wanted = true;
    else if ((p->child > 0 && p->child_kind == SNAP_BGSAVE) || p->kind == SNAP_BGSAVE)
        return true; /* its end is the one awaited */
    if (busy(p))
        p->scheduled = true; /* after the save, AOF rewrite or shutdown's save under way */
    else
        park_start(sh, SNAP_BGSAVE);
    return true;
}

bool persist_bgsave_notify(struct shard *sh, persist_saved_fn *done, uint64_t arg)
{
    return await_bgsave(sh, done, arg, false);
}

bool persist_bgsave_cut_notify(struct shard *sh, persist_saved_fn *done, uint64_t arg)
{
    return await_bgsave(sh, done, arg, true);
}

bool persist_last_save_cut(const struct node *n)
{
    const struct persist *p = state(n);
    return p && p->child_cut;
}

void cmd_bgrewriteaof(struct exec_ctx *ctx)
{
    struct node *n = ctx->shard->node;
    struct persist *p = state(n);
    if (aof_rewrite_busy(n) || p->kind == SNAP_AOFRW || (p->child > 0 && p->child_kind == SNAP_AOFRW)) {
        reply_error(ctx->reply, "ERR Background append only file rewriting already in progress");
        return;
    }
    if (!aof_on(n)) {
        /* Redis writes a one-off AOF then; ringkv's AOF is its stream */
        reply_error(ctx->reply, "ERR ringkv rewrites the append only file only with appendonly yes");
        return;
    }
    if (busy(p)) {
        aof_rewrite_schedule(n);
        reply_simple(ctx->reply, "Background append only file rewriting scheduled");
        return;
    }
    if (!defer(ctx)) {
        reply_error(ctx->reply, "ERR");
        return;
    }
    park_start(ctx->shard, SNAP_AOFRW);
}

void cmd_lastsave(struct exec_ctx *ctx)
{
    reply_int(ctx->reply, state(ctx->shard->node)->lastsave_s);
}

void persist_request_shutdown(struct node *n, bool save, bool nosave)
{
    struct persist *p = state(n);
    if (nosave || !p) {
        node_request_shutdown(n, 0);
        return;
    }
    atomic_store(&p->shutdown_req, save ? SHUT_SAVE + 4 : SHUT_SAVE);
}

/* ---- shard 0's ticks: the child, the save points, shutdown ------------- */

static void reap_child(struct shard *sh, int64_t now_ms)
{
    struct persist *p = state(sh->node);
    int st;
    pid_t r = waitpid(p->child, &st, WNOHANG);
    if (r != p->child)
        return;
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (p->child_kind == SNAP_AOFRW) {
        p->child = 0;
        if (!ok)
            log_warning("Background AOF rewrite %s", WIFSIGNALED(st) ? "terminated by signal" : "error");
        aof_rewrite_done(sh, ok);
        return;
    }
    p->last_bgsave_time_s = (now_ms - p->child_start_ms + 500) / 1000;
    if (ok) {
        p->lastsave_s = now_ms / 1000;
        p->changes_base = p->changes_at_fork;
        __atomic_store_n(&p->last_bgsave_ok, true, __ATOMIC_RELAXED);
        log_notice("Background saving terminated with success");
    } else {
        char tmp[64];
        temp_name(tmp, sizeof tmp, p->child);
        unlink(tmp);
        __atomic_store_n(&p->last_bgsave_ok, false, __ATOMIC_RELAXED);
        log_warning("Background saving %s", WIFSIGNALED(st) ? "terminated by signal" : "error");
    }
    p->child = 0;
    notify_saved(sh, ok);
}

static void kill_child(struct shard *sh, struct persist *p)
{
    if (p->child <= 0)
        return;
    kill(p->child, SIGUSR1);
    int st;
    waitpid(p->child, &st, 0);
    if (p->child_kind == SNAP_AOFRW) {
        p->child = 0;
        aof_rewrite_done(sh, false);
        return;
    }
    char tmp[64];
    temp_name(tmp, sizeof tmp, p->child);
    unlink(tmp);
    p->child = 0;
}

void persist_flushed(struct shard *sh)
{
    struct persist *p = state(sh->node);
    if (p && sh->id < (int)(sizeof p->flushed / sizeof p->flushed[0]))
        atomic_store(&p->flushed[sh->id], true);
}

/* Has every shard flushed since the last time this answered true? */
static bool all_flushed(struct node *n)
{
    struct persist *p = state(n);
    int k = n->nshards < 1024 ? n->nshards : 1024;
    for (int i = 0; i < k; i++)
        if (!atomic_load(&p->flushed[i]))
            return false;
    for (int i = 0; i < k; i++)
        atomic_store(&p->flushed[i], false);
    return true;
}

static void persist_tick(struct shard *sh, int64_t now_ms)
{
    if (sh->id != 0)
        return;
    struct node *n = sh->node;
    struct persist *p = state(n);
    if (p->child > 0)
        reap_child(sh, now_ms);
    if (p->kind == SNAP_NONE && all_flushed(n)) {
        /* FLUSHALL: a background save of the keys before it must not land
         * after it; the empty keyspace is saved at once when points are set.
         * An AOF rewrite goes on: the FLUSHALL is in the new incr file. */
        if (p->child > 0 && p->child_kind == SNAP_BGSAVE) {
            if (p->nnotify > 0)
                p->scheduled = true; /* those waiting for it get a later one */
            kill_child(sh, p);
        }
        if (save_points_set(n)) {
            park_start(sh, SNAP_FLUSHALL);
            return;
        }
    }
    int req = atomic_exchange(&p->shutdown_req, SHUT_NONE);
    if (req != SHUT_NONE) {
        /* Redis kills a background save at shutdown and saves in the
         * foreground: the file then holds the very last state */
        kill_child(sh, p);
        if ((req & 4) || save_points_set(n)) {
            if (p->kind == SNAP_NONE)
                park_start(sh, SNAP_SHUTDOWN);
            else
                atomic_store(&p->shutdown_req, req); /* after the snapshot under way */
            return;
        }
        node_request_shutdown(n, 0);
        return;
    }
    if (busy(p))
        return;
    if (aof_rewrite_due(sh, now_ms)) {
        park_start(sh, SNAP_AOFRW);
        return;
    }
    if (p->scheduled) {
        p->scheduled = false;
        park_start(sh, SNAP_BGSAVE);
        return;
    }
    int64_t secs[16], changes[16];
    int k;
    if (!save_points(config_str(&n->config, save), secs, changes, 16, &k) || k == 0)
        return;
    uint64_t d = dirty(n);
    int64_t now_s = now_ms / 1000;
    for (int i = 0; i < k; i++) {
        if (d >= (uint64_t)changes[i] && now_s - p->lastsave_s > secs[i] &&
            (p->last_bgsave_ok || now_s - p->last_try_s > BGSAVE_RETRY_S)) {
            log_notice("%llu changes in %lld seconds. Saving...", (unsigned long long)changes[i],
                       (long long)secs[i]);
            park_start(sh, SNAP_BGSAVE);
            return;
        }
    }
}

/* ---- loading at start -------------------------------------------------- */

/* What a failed load leads to, for its log line. */
static const char *exiting(struct persist *p)
{
    return atomic_load(&p->reload_go) ? "" : " Exiting.";
}

struct loader {
    struct shard *sh;
    int64_t       now_ms;
    uint64_t      loaded, expired;
    bool          refuse_dup; /* a key already here fails the load (DEBUG RELOAD NOFLUSH without MERGE) */
};

static bool load_key(void *arg, int db, struct slice key, struct decoded_value *v, int64_t expire_at_ms)
{
    struct loader *l = arg;
    struct shard *sh = l->sh;
    if (shard_of_slot(sh->node, key_slot(key.ptr, key.len)) != sh->id) {
        decoded_value_free(v); /* another shard's */
        return true;
    }
    if (expire_at_ms > 0 && expire_at_ms <= l->now_ms) {
        /* as a Redis master: a key whose time passed is not loaded */
        decoded_value_free(v);
        l->expired++;
        return true;
    }
    struct store *st = shard_db(sh, db); /* (rdb_read checked db < databases) */
    if (l->refuse_dup && store_peek(st, key, l->now_ms)) {
        /* Redis stops there too (it panics) */
        log_warning("RDB has duplicated key '%.*s' in DB %d", (int)(key.len > 128 ? 128 : key.len), key.ptr, db);
        decoded_value_free(v);
        return false;
    }
    if (!decoded_value_store(st, key, v, expire_at_ms))
        return false;
    l->loaded++;
    return true;
}

/* A record of node-wide state (a function library) read back: shard 0
 * hands it to the module that wrote it; the other shards pass over it. */
static bool load_record(void *arg, unsigned op, struct slice body, char *err, size_t errlen)
{
    struct shard *sh = arg;
    if (sh->id != 0)
        return true;
    if (atomic_load(&state(sh->node)->reload_go))
        return true; /* DEBUG RELOAD reloads the keys; the libraries stay as they are */
    for (int i = 0; i < sh->node->nmodules; i++)
        if (sh->node->modules[i]->rdb_load)
            return sh->node->modules[i]->rdb_load(sh, op, body, err, errlen);
    snprintf(err, errlen, "The file holds a function library, and nothing here loads one");
    return false;
}

int persist_load_rdb(struct shard *sh, const char *name)
{
    return load_rdb(sh, name, false);
}

/* at start (the failure stops the start), or for DEBUG RELOAD
 * (reload_go: the node goes on, the failure is the command's) */
static int load_rdb(struct shard *sh, const char *name, bool refuse_dup)
{
    struct node *n = sh->node;
    struct persist *p = state(n);
    char cwd[512];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, ".");
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        log_warning("Fatal error loading the DB %s/%s: %s.%s", cwd, name, strerror(errno), exiting(p));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        log_warning("Fatal error loading the DB %s/%s: %s.%s", cwd, name, strerror(errno), exiting(p));
        return -1;
    }
    atomic_store(&p->loading, 1);
    uint64_t t0 = clock_mono_ns();
    size_t len = (size_t)st.st_size;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (len && map == MAP_FAILED) {
        log_warning("Fatal error loading the DB %s/%s: %s.%s", cwd, name, strerror(errno), exiting(p));
        return -1;
    }
    struct loader l = { sh, clock_unix_ms(), 0, 0, refuse_dup };
    char err[256];
    struct rdb_read_info info = { .record = load_record, .record_arg = sh, .databases = sh->ndbs };
    /* stores no one has seen yet: nothing to replicate, notify or count */
    shard_journal(sh, false);
    int rc = rdb_read(map, len, load_key, &l, &info, err, sizeof err);
    shard_journal(sh, true);
    if (len)
        munmap(map, len);
    if (rc != 0) {
        if (info.bad_db) /* Redis's line, and the file it is about */
            log_warning("%s.%s (%s/%s holds keys of database %llu, and databases is %d here)", err, exiting(p),
                        cwd, name, (unsigned long long)info.bad_db_number, sh->ndbs);
        else
            log_warning("Fatal error loading the DB %s/%s: %s.%s", cwd, name, err, exiting(p));
        return -1;
    }
    atomic_fetch_add(&p->keys_loaded, l.loaded);
    atomic_fetch_add(&p->keys_expired, l.expired);
    /* the last shard to finish speaks for the node, as Redis's lines */
    if (atomic_fetch_add(&p->shards_loaded, 1) == n->nshards - 1) {
        atomic_store(&p->loading, 0);
        log_notice("Done loading RDB, keys loaded: %llu, keys expired: %llu.",
                   (unsigned long long)atomic_load(&p->keys_loaded), (unsigned long long)atomic_load(&p->keys_expired));
        log_notice("DB loaded from disk: %.3f seconds", (double)(clock_mono_ns() - t0) / 1e9);
    }
    return 0;
}

/* At start: the AOF (shards/aof.h) when appendonly is on and it has one,
 * else dbfilename. */
static int persist_start(struct shard *sh)
{
    int rc = aof_load(sh);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    const char *name = config_str(&sh->node->config, dbfilename);
    return persist_load_rdb(sh, name && *name ? name : "dump.rdb") < 0 ? -1 : 0;
}

/* ---- DEBUG RELOAD ------------------------------------------------------ */

static const char *db_file(const struct node *n)
{
    const char *name = config_str(&n->config, dbfilename);
    return name && *name ? name : "dump.rdb";
}

/* One shard, parked, on its own thread (its store's heap is its own):
 * empty the store unless NOFLUSH, then load its slots' keys from the
 * file. Nothing goes to the replication stream or the AOF, as in Redis
 * (with the file just saved the data set is the same); WATCH and client
 * tracking see a flush. 0, or -1 after logging why. */
static int reload_shard(struct shard *sh)
{
    struct node *n = sh->node;
    struct persist *p = state(n);
    if (p->reload_flush) { /* every database, as Redis's emptyData(-1) */
        shard_journal(sh, false);
        for (SHARD_EACH_DB(sh, d))
            store_flush(sh->dbs[d]);
        shard_journal(sh, true);
    }
    tracking_flushed(sh);
    watch_flushed(sh);
    int rc = load_rdb(sh, db_file(n), p->reload_flush ? false : !p->reload_merge);
    if (rc == 1)
        log_warning("DEBUG RELOAD: there is no %s to load", db_file(n));
    return rc == 0 ? 0 : -1;
}

/* Every shard parked (shard 0 runs this): save unless NOSAVE, then every
 * shard reloads, the others as they wake from the park, shard 0 here;
 * the caller is answered once all are done. */
static void reload_snapshot(struct shard *sh, int64_t now_ms, uint64_t changes)
{
    struct node *n = sh->node;
    struct persist *p = state(n);
    if (p->reload_save) {
        if (write_snapshot(n, now_ms) != 0) {
            int saved = errno;
            release_shards(p);
            log_warning("Failed opening or writing the .rdb for saving: %s", strerror(saved));
            answer_waiters(sh, NULL, "ERR");
            return;
        }
        p->saves++;
        p->lastsave_s = clock_unix_ms() / 1000;
        p->changes_base = changes;
        log_notice("DB saved on disk");
    }
    atomic_store(&p->reloaded, 0);
    atomic_store(&p->reload_failed, 0);
    atomic_store(&p->shards_loaded, 0);
    atomic_store(&p->keys_loaded, 0);
    atomic_store(&p->keys_expired, 0);
    atomic_store(&p->reload_go, true); /* published by the release */
    release_shards(p);
    int failed = reload_shard(sh) != 0;
    int others = n->nshards - 1;
    while (atomic_load(&p->reloaded) < others)
        sched_yield();
    failed += atomic_load(&p->reload_failed);
    atomic_store(&p->reload_go, false);
    atomic_store(&p->loading, 0);
    if (failed) {
        answer_waiters(sh, NULL, "ERR Error trying to load the RDB dump, check server logs.");
        return;
    }
    log_warning("DB reloaded by DEBUG RELOAD");
    answer_waiters(sh, "OK", NULL);
}

void cmd_debug_reload(struct exec_ctx *ctx)
{
    struct persist *p = state(ctx->shard->node);
    bool save = true, flush = true, merge = false;
    for (int i = 2; i < ctx->argc; i++) {
        if (slice_eq_nocase(ctx->argv[i], "merge")) {
            merge = true;
        } else if (slice_eq_nocase(ctx->argv[i], "noflush")) {
            flush = false;
        } else if (slice_eq_nocase(ctx->argv[i], "nosave")) {
            save = false;
        } else {
            reply_error(ctx->reply, "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
            return;
        }
    }
    if (p->kind != SNAP_NONE) {
        reply_error(ctx->reply, "ERR Background save already in progress");
        return;
    }
    if (!defer(ctx)) {
        reply_error(ctx->reply, "ERR");
        return;
    }
    p->reload_save = save;
    p->reload_flush = flush;
    p->reload_merge = merge;
    park_start(ctx->shard, SNAP_RELOAD);
}

/* ---- INFO and the write gate ------------------------------------------ */

void persist_info(struct shard *sh, struct buf *out)
{
    struct node *n = sh->node;
    struct persist *p = state(n);
    int64_t now_ms = shard_now_ms(sh);
    bool bgsave_child = p->child > 0 && p->child_kind == SNAP_BGSAVE;
    buf_printf(out,
               "loading:%d\r\n"
               "async_loading:0\r\n"
               "current_cow_peak:0\r\n"
               "current_cow_size:0\r\n"
               "current_cow_size_age:0\r\n"
               "current_fork_perc:0.00\r\n"
               "current_save_keys_processed:0\r\n"
               "current_save_keys_total:0\r\n"
               "rdb_changes_since_last_save:%llu\r\n"
               "rdb_bgsave_in_progress:%d\r\n"
               "rdb_last_save_time:%lld\r\n"
               "rdb_last_bgsave_status:%s\r\n"
               "rdb_last_bgsave_time_sec:%lld\r\n"
               "rdb_current_bgsave_time_sec:%lld\r\n"
               "rdb_saves:%llu\r\n"
               "rdb_last_cow_size:0\r\n"
               "rdb_last_load_keys_expired:%llu\r\n"
               "rdb_last_load_keys_loaded:%llu\r\n"
               "rdb_last_park_usec:%llu\r\n",
               atomic_load(&p->loading), (unsigned long long)dirty(n), bgsave_child ? 1 : 0,
               (long long)p->lastsave_s, p->last_bgsave_ok ? "ok" : "err", (long long)p->last_bgsave_time_s,
               bgsave_child ? (long long)((now_ms - p->child_start_ms) / 1000) : -1LL,
               (unsigned long long)p->saves, (unsigned long long)atomic_load(&p->keys_expired),
               (unsigned long long)atomic_load(&p->keys_loaded), (unsigned long long)p->latest_park_usec);
}

static void persist_module_info(struct shard *sh, const char *section, struct buf *out)
{
    if (strcmp(section, "stats") != 0)
        return;
    struct persist *p = state(sh->node);
    buf_printf(out, "latest_fork_usec:%llu\r\ntotal_forks:%llu\r\n", (unsigned long long)p->latest_fork_usec,
               (unsigned long long)p->forks);
}

/* stop-writes-on-bgsave-error, as Redis's: with save points set, the
 * last background save failed, writes are refused until one succeeds. */
static const char *persist_write_gate(const struct node *n)
{
    const char *why = next_gate ? next_gate(n) : NULL;
    if (why)
        return why;
    const struct persist *p = state(n);
    if (__atomic_load_n(&p->last_bgsave_ok, __ATOMIC_RELAXED) || !config_load(&n->config, stop_writes_on_bgsave_error) ||
        !save_points_set(n))
        return NULL;
    return "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
           "Commands that may modify the data set are disabled, because this instance is configured to report "
           "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check "
           "the Redis logs for details about the RDB error.";
}

static void persist_node_teardown(struct node *n)
{
    struct persist *p = state(n);
    if (p->child > 0) {
        kill(p->child, SIGUSR1);
        int st;
        waitpid(p->child, &st, 0);
        if (p->child_kind == SNAP_BGSAVE) {
            char tmp[64];
            temp_name(tmp, sizeof tmp, p->child);
            unlink(tmp);
        }
    }
    mi_free(p);
    n->persist = NULL;
}

static const struct shard_module persist_module = {
    .name = "persistence",
    .start = persist_start,
    .tick = persist_tick,
    .node_teardown = persist_node_teardown,
    .info = persist_module_info, /* latest_fork_usec, total_forks */
};

void persist_attach(struct node *n)
{
    struct persist *p = mi_zalloc(sizeof *p);
    p->node = n;
    p->lastsave_s = clock_unix_ms() / 1000;
    p->last_try_s = p->lastsave_s;
    __atomic_store_n(&p->last_bgsave_ok, true, __ATOMIC_RELAXED);
    p->last_bgsave_time_s = -1;
    p->have_cpus = sched_getaffinity(0, sizeof p->cpus, &p->cpus) == 0;
    n->persist = p;
    next_gate = n->write_gate;
    n->write_gate = persist_write_gate;
    node_attach_module(n, &persist_module);
}
