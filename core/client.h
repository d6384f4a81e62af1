/* client: the protocol-level state of one connection: who it is, what it
 * negotiated, what it last did. The socket side lives in net/conn.h; the
 * connection embeds one of these. Commands read and change it through
 * exec_ctx.client (only on the connection's own thread). */
#ifndef RINGKV_CLIENT_H
#define RINGKV_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

struct acl_user;
struct tracking_prefixes;

/* CLIENT TRACKING's options (client.tracking_flags), as Redis names them in
 * CLIENT TRACKINGINFO. */
enum {
    TRACKING_BCAST        = 1u << 0, /* every key of its prefixes, read or not */
    TRACKING_OPTIN        = 1u << 1, /* reads are tracked after CLIENT CACHING yes */
    TRACKING_OPTOUT       = 1u << 2, /* reads are tracked unless CLIENT CACHING no */
    TRACKING_NOLOOP       = 1u << 3, /* no invalidation for its own writes */
    TRACKING_BROKEN_REDIR = 1u << 4, /* the REDIRECT target is gone */
};

/* What tracking asks of a command the client sends (shard_msg.tracking):
 * TRACKS_ON the client tracks (NOLOOP knows the writer), TRACKS_READS the
 * keys it reads are remembered (the default mode, OPTIN after CLIENT
 * CACHING yes, OPTOUT unless CLIENT CACHING no). */
enum { TRACKS_ON = 1u << 0, TRACKS_READS = 1u << 1 };

struct client {
    uint64_t id;              /* unique in the process, from 1 */
    int      proto;           /* 2 or 3 (HELLO) */
    bool     authenticated;   /* true when no password is set, or after AUTH */
    bool     local;           /* connected from a loopback address (enable-debug-command local) */
    bool     close_after_reply; /* QUIT, protocol errors: close once the reply is sent */
    bool     no_evict;        /* CLIENT NO-EVICT (accepted; ringkv never evicts clients) */
    bool     no_touch;        /* CLIENT NO-TOUCH: its commands leave the keys' LRU clocks */
    /* CLIENT REPLY: OFF drops every reply from here on; SKIP drops the next
     * command's. The dispatcher reads them once per command (route.c). */
    bool     reply_off;
    bool     reply_skip_next;
    bool     tracking_caching; /* CLIENT CACHING yes|no given for the next command or transaction
                                * (OPTIN, OPTOUT): shards/route.c, execute_command */
    /* CLIENT TRACKING (client-side caching: shards/tracking.h): on, its
     * options (TRACKING_BCAST...), where its invalidations go (REDIRECT's
     * client id and the shard that connection is on; 0: this connection),
     * and BCAST's prefixes (shards/tracking_node.c) */
    bool     tracking;
    uint8_t  tracking_flags;
    int      tracking_redir_shard;
    uint64_t tracking_redir;
    struct tracking_prefixes *tracking_prefixes;
    int      db;              /* the selected database (SELECT; 0 at first and after RESET) */
    char     name[128];       /* CLIENT SETNAME; "" = none */
    char     addr[64];        /* "ip:port" of the peer */
    char     laddr[64];       /* "ip:port" of our side */
    int      fd;
    int64_t  created_ms;      /* unix ms */
    int64_t  last_active_ms;  /* unix ms of the last command */
    char     last_cmd[24];    /* lower-case name of the last command */
    bool     is_replica;      /* after PSYNC: this connection feeds a replica */
    int      repl_port;       /* REPLCONF listening-port */
    bool     repl_ringkv;     /* REPLCONF capa ringkv: a ringkv replica, which can load our
                                 snapshot (a Redis replica expects RDB and is refused) */
    bool     repl_rdb_only;   /* REPLCONF rdb-only 1: it wants the RDB file alone (redis-cli --rdb) */
    bool     repl_rdb_functions_only; /* REPLCONF rdb-filter-only functions: of the libraries alone */
    int64_t  repl_over_soft_ms; /* since when its unsent stream is over the soft limit (0: not) */
    uint64_t repl_out_total;  /* bytes of feed put in its output so far */
    uint64_t repl_snap_end;   /* repl_out_total after the last feed carrying snapshot frames */
    void    *repl_flow;       /* during its full sync: the snapshot's struct snap_flow */
    /* cluster mode (READONLY/READWRITE, ASKING: shards/cluster/commands.c) */
    bool     read_replica;    /* READONLY: reads of this replica's group's slots are served here */
    uint8_t  asking;          /* ASKING: 2 while ASKING runs, 1 for the next command (or the
                               * whole transaction it opens), then 0 (shards/route.c) */
    /* ACL (core/acl.h): the user it runs as, by id, and where that user was
     * found in the users set of generation acl_gen (re-found when the set
     * changes; NULL: the user is gone and the connection is closed) */
    uint64_t acl_user_id;
    uint64_t acl_gen;
    const struct acl_user *acl_user;
};

static inline uint8_t client_tracks(const struct client *c)
{
    if (!c->tracking)
        return 0;
    unsigned f = c->tracking_flags;
    bool reads = (f & TRACKING_BCAST) ? false
               : (f & TRACKING_OPTIN) ? c->tracking_caching
               : (f & TRACKING_OPTOUT) ? !c->tracking_caching : true;
    return (uint8_t)(TRACKS_ON | (reads ? TRACKS_READS : 0));
}

#endif
