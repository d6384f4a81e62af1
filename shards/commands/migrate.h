/* migrate.h: MIGRATE's machinery (migrate.c) for the other commands of
 * this layer that move keys (RINGKV-MIGRATESLOTS, migrate_slots.c): one
 * batch of keys dumped on their shards, sent to the target as RESTOREs
 * (RESTORE-ASKING in cluster mode; RINGKV-RESTOREMANY per slot to a ringkv
 * target, struct migrate_target's many) on a migrate link, the target's
 * replicas waited for in cluster mode (ROLE + WAIT), the keys the target
 * acknowledged deleted here if unchanged (journaled as DELs), every dumped
 * key settled (no longer in flight: its held writes woken). Everything
 * MIGRATE guarantees (migrate.c's header) holds for a batch.
 *
 * Runs on the calling shard's loop (shard 0's in practice); keys may be on
 * any shard. */
#ifndef RINGKV_MIGRATE_H
#define RINGKV_MIGRATE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/buf.h"

struct shard;

/* Where and how a batch goes. user/pass: AUTH (pass.ptr NULL: none;
 * user.ptr NULL: AUTH with the password only); their bytes must live until
 * the batch is done. bad_addr: the address could not be parsed (the batch
 * fails with "IOERR error or timeout connecting to the client", once its
 * keys are known). */
struct migrate_target {
    struct sockaddr_storage addr;
    struct slice            user, pass;
    long long               timeout_ms; /* per read, as MIGRATE's */
    bool                    replace, copy, bad_addr;
    /* The target is a ringkv node (a slot push's, cluster mode): a
     * batch's keys go as one RINGKV-RESTOREMANY per run of one slot's
     * keys (REPLACE and ASKING implied; shards/commands/dump.c), its one
     * +OK acknowledging the run, instead of a RESTORE-ASKING a key.
     * Plain MIGRATE never sets it: its target may be a redis-server. */
    bool                    many;
    /* many: > 0, RINGKV-RESERVEKEYS <reserve> goes first (the keys a
     * push is about to send, shards/commands/dump.c), its answer not
     * waited on for anything */
    long long               reserve;
    /* A part of a big collection (a slot push's, migrate_slots.c): the
     * batch's one key's payload is a part (serialize_dump_part, or empty),
     * sent as RINGKV-RESTOREPART key ttl payload [FIRST] [LAST]
     * (shards/commands/dump.c) instead of a RESTORE. A part other than
     * the last: no ROLE + WAIT, and, acknowledged, nothing deleted or
     * settled here (the key stays in flight for its next part); refused
     * or lost, the key is settled (kept here). The last part: ROLE +
     * WAIT, then the key is deleted here only if it still holds `object`
     * (its identity: the same collection, its writes held all along) and
     * the same expiry, and settled. */
    bool                    part, part_first, part_last;
    const void             *object;
};

/* host (a numeric address or "localhost") and port as given to MIGRATE
 * into addr: false if it is not one. */
bool migrate_parse_addr(struct slice host, struct slice port, struct sockaddr_storage *addr);

/* A batch's end: err NULL (done: `acked` keys are at the target, deleted
 * here unless they changed meanwhile; 0 with none of them here any more)
 * or MIGRATE's error text ("IOERR ...", "ERR Target instance replied with
 * error: ...", a READONLY refusal), the keys not acknowledged left here.
 * Called on the shard that started the batch, once, from a message or a
 * link event: in cluster mode (where every dumped key is settled by a
 * message; the slot push is cluster-only) never before
 * migrate_batch_dumped returns. */
typedef void migrate_done_fn(void *arg, const char *err, int acked);

/* Start moving keys[0..n) (n > 0; the slices must live until done is
 * called), already dumped on their shard `owner` (each present: u8 1 and
 * migrate_dump_entry's bytes, in this order, at dumped, which must live
 * until done is called too: the payloads are sent from there, not
 * copied): the batch starts at the connect (no dump round); the keys are
 * in flight from their dump on. */
bool migrate_batch_dumped(struct shard *sh, const struct migrate_target *t, const struct slice *keys, int n,
                          int owner, const char *dumped, migrate_done_fn *done, void *arg);

/* At the key's owner: key in flight from now on (cluster mode), its
 * writes held until a batch settles it (a big collection sent in parts:
 * marked once, settled by its last part's batch, or by
 * migrate_settle_keys). */
void migrate_mark_in_flight(struct shard *sh, struct slice key);

/* At the keys' owner: keys[0..n) no longer in flight (one mark each), the
 * writes held for them woken. */
void migrate_settle_keys(struct shard *sh, const struct slice *keys, int n);

/* At the key's owner: e (key's entry, just found) dumped for a batch
 * into out (u8 1 first is the caller's), the key in flight from now on
 * (cluster mode), to be settled by its batch. */
struct entry;
void migrate_dump_entry(struct shard *sh, struct slice key, struct entry *e, struct buf *out);

#endif
