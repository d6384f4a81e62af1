/* shard: one pinned thread and everything it owns: its io_uring loop and
 * connections (net/), its store, its journal, its stats and slow log, and
 * the mailboxes through which other shards send it work (ARCHITECTURE.md "Process model", "A request's way").
 *
 * Other threads may read a shard's stats (relaxed atomics) and post to its
 * mailboxes; nothing else of it is touched from outside. */
#ifndef RINGKV_SHARD_H
#define RINGKV_SHARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/client.h"
#include "core/stats.h"
#include "core/slowlog.h"
#include "core/latency.h"
#include "net/loop.h"

#include <pthread.h>

struct node;
struct store;
struct loop;
struct mailbox;
struct shard_msg;
struct repl_shard;
struct session;
struct conn;
struct buf;

struct shard {
    int              id;
    int              cpu;      /* pinned to this CPU, -1 if not pinned */
    struct node     *node;
    /* The databases (SELECT's indexes, `databases` of them): dbs[i] is
     * created the first time something selects it (shard_db). store is the
     * selected one, dbs[db]: the database of the command running (its
     * connection's), database 0 between commands. Work over the whole
     * keyspace (expiry, eviction, saves, full syncs) walks every dbs[i]. */
    struct store    *store;
    struct store   **dbs;
    int              ndbs;
    int              db;
    int             *db_made;  /* the indexes of the dbs[i] made, in the order made */
    int              ndb_made;
    /* per database: keys, keys with an expiry and their average time to
     * live (ms), published every turn for INFO keyspace (relaxed atomics,
     * read by the other shards) */
    struct db_counts *db_counts;
    bool             stores_passive; /* a replica's: keys past their time stay until the master's DEL */
    bool             journal_off;    /* loading (shard_journal): the stores have no journal hook */
    struct shard_stats stats;
    uint64_t         net_out_seen; /* loop_bytes_sent already in stats.net_output_bytes */
    /* the loop's counts already in stats (reads, writes, reply buffer
     * resizes: published every tick) */
    struct loop_counts loop_seen;
    struct slowlog   slowlog;
    struct latency_events latency; /* LATENCY's spikes seen on this shard (core/latency.h) */
    void            *heap;     /* mi_heap_t * of this thread */
    struct loop     *loop;     /* net/: ring, listeners, connections */
    pthread_t        thread;
    int64_t          last_tick_ms;
    size_t           query_limit; /* client-query-buffer-limit the open connections have */
    /* The shard's clock: one CLOCK_MONOTONIC read per command. clock_ns is
     * when the current command started (the end of the one before it, or
     * the start of the batch); unix_offset_ns turns it into unix time and is
     * refreshed every tick so wall-clock steps are followed. */
    uint64_t         clock_ns;
    int64_t          unix_offset_ns;
    /* messages to other shards that did not fit their mailbox this turn:
     * one FIFO per target shard, retried every turn */
    struct shard_msg **overflow_head, **overflow_tail;
    bool            *posted;   /* per target: pushed this turn, publish + wake */
    struct repl_shard *repl;   /* replication/: this shard's part */
    /* Keys of this shard that a full sync is sending in parts and that a
     * write must not meet half sent (node.h, journal_sink.key_before_write):
     * while this is 0, a write costs one load and a branch for it. Kept by
     * the replication layer. */
    int              snap_keys_pending;
    struct session **subscribers;  /* sessions with pub/sub subscriptions (pubsub.c) */
    int              nsubscribers;
    struct conn    **replica_conns; /* connections of replicas (after PSYNC) */
    int              nreplica_conns;
    struct monitor_shard *monitor; /* MONITOR: this shard's monitors and outgoing lines (monitor.c) */
    struct session **held;     /* sessions holding a command while paused, oldest first (pause.c) */
    int              nheld;
    struct tracking *tracking; /* keys tracking clients read here (tracking.c), NULL if none yet */
    struct watch_table *watch; /* keys clients WATCH here (watch.c), NULL if none yet */
    bool             evicting; /* over its memory share, evicting a budget per turn (run.c) */
    struct blocking_shard *blocking; /* clients blocked on keys here (blocking.c), NULL if none yet */
    /* Cluster mode: this shard's keys a MIGRATE has dumped and not yet
     * settled (deleted or kept: shards/commands/migrate.c), or NULL before
     * the first. The key gate at the keys (node->key_gate_here) holds
     * writes to them while their slot is being given away (KEY_GATE_WAIT):
     * a key deleted here meanwhile would live on at the target. */
    struct keys_in_flight *keys_in_flight;
    /* The requests waiting for such keys to settle, oldest first (run.c,
     * dispatch_key_waits_wake), each with when it began to wait. */
    struct key_wait *key_waits;
    int              nkey_waits, key_waits_cap;
    /* Keys held for watched transactions over several shards between
     * their check and their run (key_locks.h), NULL before the first;
     * key_locks_held counts them (a write tests it: one load) */
    struct key_locks *key_locks;
    int              key_locks_held;
    /* EVAL's Lua state and this shard's compiled scripts
     * (shards/commands/scripting.c), NULL before the shard's first script */
    struct script_shard *scripting;
    struct notify_shard *notify; /* keyspace notifications' state (notify.c), NULL if never on */
    /* appendonly: the fences this shard's replies wait for (aof_fence.c),
     * NULL before the first; and the count of its stream messages it
     * published with its mail (read by the other shards) */
    struct aof_fence *aof_fence;
    atomic_uint_fast64_t journal_mark;
};

/* The keys of a shard in flight (above): a count per slot (the gate's
 * first test) and the keys' hashes (store_key_hash), a multiset in no
 * order: few at a time (a MIGRATE's batch), searched only for a write to
 * a slot that has some. */
struct keys_in_flight {
    uint32_t  by_slot[16384];
    int       n, cap;
    uint64_t *hashes;
};

struct journal_record;
/* The change hook of the shard's stores (arg: the shard): client-side
 * caching's invalidations (tracking.h), WATCH's touched keys (watch.h),
 * then the node's journal sink. */
void shard_store_changed(void *shard, const struct journal_record *rec);

/* ---- shard modules -------------------------------------------------------
 * A higher layer (replication; next, the cluster) lives on every shard as a
 * module: the shard calls it at these points of its life and of every loop
 * turn, and the runtime never names the layer itself. Modules run in the
 * order they were attached (node_attach_module); every hook may be NULL. */
struct shard_module {
    const char *name;
    /* On the shard's thread, before its store exists. */
    void (*setup)(struct shard *sh);
    /* On the shard's thread, once its loop exists (it may open connections).
     * Returns 0, or -1 after logging why the node cannot start. */
    int  (*start)(struct shard *sh);
    /* On the shard's thread, after its loop stopped, before its store goes. */
    void (*teardown)(struct shard *sh);
    /* End of every loop turn, before the mail is exchanged. */
    void (*turn)(struct shard *sh);
    /* Work waiting for the next turn: the loop must not sleep. */
    bool (*pending)(struct shard *sh);
    /* Every tick (1000/hz ms). */
    void (*tick)(struct shard *sh, int64_t now_ms);
    /* Once every shard thread has stopped: release node-wide state. */
    void (*node_teardown)(struct node *n);
    /* On shard 0 of a master, as a full sync starts: commands that rebuild
     * node-wide state kept outside the stores (the function libraries),
     * each given to emit; the replica runs them before the snapshot's keys. */
    void (*full_sync)(struct shard *sh, void (*emit)(void *arg, int argc, const struct slice *argv), void *arg);
    /* RDB snapshots (shards/persist.c): the records of node-wide state kept
     * outside the stores (FUNCTION2: the function libraries), appended to
     * out, written before the keys; and, at start on shard 0, one such
     * record read back (op: its opcode, body: the string after it): false
     * with the error in err. */
    void (*rdb_save)(struct node *n, struct buf *out);
    bool (*rdb_load)(struct shard *sh, unsigned op, struct slice body, char *err, size_t errlen);
    /* INFO, on shard 0: append this module's fields of a section ("stats",
     * "replication") to out. */
    void (*info)(struct shard *sh, const char *section, struct buf *out);
    /* CONFIG REWRITE, on shard 0: the value of an option that the module
     * changes at run time (REPLICAOF changes "replicaof"): true and value
     * filled if it has one now, false if the option is not to be written. */
    bool (*option_now)(struct shard *sh, const char *option, char *value, size_t len);
    /* Every tick, on the shard's thread: bytes of this shard's used_memory
     * that maxmemory does not count (Redis's mem_not_counted_for_evict:
     * replicas' output). */
    uint64_t (*memory_not_counted)(struct shard *sh);
    /* The count of stream messages this shard has sent shard 0, with the
     * one its unsent bytes will make: the AOF's reply fences wait for it
     * (shards/aof_fence.h; replication's repl_journal_mark). */
    uint64_t (*journal_mark)(struct shard *sh);
    /* An AOF rewrite's park (shards/persist.c), on every shard as it parks
     * (shard 0: once the others are parked): the stream bytes it made
     * before go to shard 0, followed by a mark (aof_stream_cut), so the new
     * incr file starts exactly at the snapshot (shards/aof.h). */
    void (*stream_cut)(struct shard *sh);
    /* A background save's park that cuts the stream for a replica's full
     * sync (persist_bgsave_cut_notify), on every shard as it parks (shard
     * 0: once the others are parked): its stream bytes made before go to
     * shard 0, followed by a mark; where every shard's mark meets is the
     * offset the saved file holds. */
    void (*sync_cut)(struct shard *sh);
    /* DEBUG CHANGE-REPL-ID, on shard 0: a new replication id, the second
     * one (the history before the last promotion) forgotten. */
    void (*change_repl_id)(struct shard *sh);
};

/* The attached modules' INFO fields of a section, in attach order. */
void shard_modules_info(struct shard *sh, const char *section, struct buf *out);
/* A module's run-time value of an option (see option_now); false if none. */
bool shard_modules_option(struct shard *sh, const char *option, char *value, size_t len);

/* Close the connection whose client (conn_view.client) is c, the way its
 * owner closes on CLIENT KILL. (shard_each_conn_view, conn_owner.h, visits
 * the shard's connections.) */
void shard_kill_client(struct shard *s, const struct client *c);

/* What a replica's feed does beyond a client session: the callbacks of the
 * layer that made the feed (replication, at PSYNC). */
struct replica_feed_ops {
    /* Some of the feed's output was sent. */
    void (*sent)(struct shard *sh, struct conn *c, struct client *cl);
    /* The feed's connection is gone. */
    void (*closed)(struct shard *sh, struct client *cl);
};

/* Connections that became replicas' links (PSYNC) on this shard. */
void shard_replica_register(struct shard *s, struct client *c, const struct replica_feed_ops *ops);
void shard_replica_unregister(struct shard *s, struct client *c);
struct conn *shard_replica_conn(struct shard *s, uint64_t client_id);
struct client *shard_replica_client(struct shard *s, uint64_t client_id);

/* Life of a shard thread: setup (on the thread: pin, heap, store, ring),
 * run (until the node's shutdown flag), teardown. */
int  shard_setup(struct shard *s);
void shard_run(struct shard *s);
void shard_teardown(struct shard *s);

/* Keyspace of this shard owning the given slot (slot -> shard, ARCHITECTURE.md "Where a key lives"). */
int shard_of_slot(const struct node *n, unsigned slot);

struct db_counts {
    uint64_t keys, expires, avg_ttl_ms;
};

/* Each database made here, d its index: for (SHARD_EACH_DB(sh, d)) */
#define SHARD_EACH_DB(sh, d) \
    int d##_at = 0, d = 0; d##_at < (sh)->ndb_made && ((d = (sh)->db_made[d##_at]), 1); d##_at++

/* Database db's store here (0 <= db < ndbs), created at the first call. */
struct store *shard_db(struct shard *sh, int db);
/* Make db the selected database (sh->store, sh->db). */
static inline void shard_select(struct shard *sh, int db)
{
    if (db != sh->db) {
        sh->store = sh->dbs[db] ? sh->dbs[db] : shard_db(sh, db);
        sh->db = db;
    }
}
/* The memory every database's store holds here. */
size_t shard_used_memory(const struct shard *sh);
/* Replace every database's store with with[0..n) (NULL: that database
 * empty), as a full sync's end does; the old stores are destroyed. */
void shard_dbs_replace(struct shard *sh, struct store *const *with, int n);
/* SWAPDB's part here: databases a and b trade stores (each made first). */
void shard_swap_dbs(struct shard *sh, int a, int b);
/* SWAPDB here: shard_swap_dbs, then the watchers of keys of either
 * database touched, the clients blocked on keys of either offered them. */
void shard_swap_databases(struct shard *sh, int a, int b);
/* Set a replica's passive expiry on every database (and those made later). */
void shard_set_passive(struct shard *sh, bool on);
/* Loading a file (off): no store here, nor one made meanwhile, calls the
 * journal hook (nothing to replicate, notify or count); on: every one
 * does again. */
void shard_journal(struct shard *sh, bool on);

#endif
