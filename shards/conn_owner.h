/* conn_owner: who a connection belongs to, and what that means for it.
 *
 * Every connection of a shard's loop has a typed owner: a client's session
 * (clients.c, dispatch.c, reply_queue.c), the same session once PSYNC made it the feed of a
 * replica, a replica's link to its master (replication/replica.c), and next
 * the cluster's peer links. An owner's struct starts with a struct
 * conn_owner, whose ops table is the owner's type: it says what the owner
 * does with the connection's events and what it is to the walkers over a
 * shard's connections (CLIENT LIST / INFO / KILL, the idle timeout). The
 * shard's loop handlers dispatch every event through the table, and a walker
 * asks the table instead of reading the owner's struct, so no walker can take
 * one kind of owner for another, and the runtime knows nothing of the
 * structs of the layers that register owners (replication's link).
 *
 * An owner may change its table while it owns the connection (a client
 * becoming a replica's feed); the struct stays the same. */
#ifndef RINGKV_CONN_OWNER_H
#define RINGKV_CONN_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;
struct client;

/* Redis's client types (CLIENT LIST / KILL TYPE, output buffer classes), in
 * Redis's order. */
enum client_type {
    CLIENT_TYPE_NORMAL,
    CLIENT_TYPE_REPLICA,  /* a replica's feed, on its master */
    CLIENT_TYPE_PUBSUB,   /* a client with a subscription */
    CLIENT_TYPE_MASTER,   /* the link to our master, on a replica */
};

/* What CLIENT LIST / INFO / KILL see of a connection. */
struct conn_view {
    const struct client *client;  /* id, addresses, name, times, last command, proto */
    enum client_type     type;
    const char          *flags;   /* Redis's flags letters: "N", "S", "M", "P" */
    const char          *user;    /* "default", or "(superuser)" for the master link */
    size_t               sub, psub, ssub; /* subscriptions: channels, patterns, shard channels */
    size_t               qbuf;    /* unparsed input bytes */
    size_t               obuf;    /* unsent output bytes (pub/sub pushes waiting included) */
    size_t               pending; /* replies waiting on other shards */
    bool                 in_multi; /* inside MULTI (flags x) ... */
    int                  multi_count; /* ... with this many commands queued (multi=) */
    size_t               multi_mem; /* bytes the queue holds (multi-mem=) */
    int                  shard;   /* the shard thread serving it (io-thread=, as Redis 8) */
};

struct conn_owner_ops {
    const char *name;  /* for logs */
    /* A replica's feed: the bytes it sends count in INFO's
     * total_net_repl_output_bytes too (a part of total_net_output_bytes,
     * as redis-server 7.0 counts them). */
    bool        replication;
    /* Bytes arrived: returns how many leading bytes were consumed. */
    size_t (*data)(struct shard *sh, struct conn *c, const char *p, size_t n);
    /* Output drained (a send finished). NULL: nothing to do. */
    void   (*sent)(struct shard *sh, struct conn *c);
    /* An outgoing connection is up (err 0) or failed (c is freed after). */
    void   (*connected)(struct shard *sh, struct conn *c, int err);
    /* The connection is closed: forget it (c is freed after). */
    void   (*closed)(struct shard *sh, struct conn *c);
    /* Fill v for CLIENT LIST / INFO / KILL. */
    void   (*describe)(struct shard *sh, const struct conn *c, struct conn_view *v);
    /* The idle timeout: may c be closed for having been idle more than
     * limit_ms at now_ms? NULL: exempt (replica feeds, the master link). */
    bool   (*idle)(const struct conn *c, int64_t now_ms, int64_t limit_ms);
    /* CLIENT KILL chose c: close it the owner's way. */
    void   (*kill)(struct shard *sh, struct conn *c);
};

/* The first member of every owner's struct. */
struct conn_owner {
    const struct conn_owner_ops *ops;
};

/* Visit every connection of the shard that has an owner, with its view. */
typedef void conn_view_fn(void *arg, struct conn *c, const struct conn_view *v);
void shard_each_conn_view(struct shard *sh, conn_view_fn *fn, void *arg);

/* For the outgoing links a node makes to other servers (a cluster peer, a
 * Sentinel, a MIGRATE target): their describe fills cl's addresses from c
 * and shows them as Redis shows its own such links, a normal client (flags
 * N, user default) with c's buffered bytes. */
void conn_view_outgoing(const struct conn *c, struct client *cl, struct conn_view *v);

/* A kill op for owners whose CLIENT KILL is a close (their closed op does
 * the rest: a link reconnects, a MIGRATE fails as on a lost connection). */
void conn_owner_kill_close(struct shard *sh, struct conn *c);

#endif
