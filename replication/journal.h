/* journal: a shard's replication stream (ARCHITECTURE.md "Replication"). The store hands every
 * change to journal_append (its journal hook); the journal encodes it as the
 * RESP command a replica applies (SET k v [PXAT t], DEL k, PEXPIREAT k t,
 * PERSIST k, FLUSHALL) into a circular backlog addressed by a growing byte
 * offset. Commands the table journals as themselves (in-place edits, the
 * node-wide FLUSHALL/FLUSHDB) go as sent, by resp_encode_command. Replicas
 * (issue 4) read from an offset still inside the backlog. */
#ifndef RINGKV_JOURNAL_H
#define RINGKV_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "shards/store/store.h"

struct journal;

struct journal *journal_create(size_t backlog_size);
void journal_destroy(struct journal *j);

/* journal_hook for store_create: arg is the struct journal *. */
void journal_append(void *arg, const struct journal_record *rec);

/* Offset one past the last byte written (starts at 0). */
uint64_t journal_offset(const struct journal *j);
/* Oldest offset still held in the backlog. */
uint64_t journal_first_offset(const struct journal *j);
/* Copy the bytes [from, journal_offset) into out; returns -1 if from is no
 * longer (or not yet) in the backlog. */
int journal_read(const struct journal *j, uint64_t from, struct buf *out);

/* Append bytes already encoded (a master's stream, received by a replica). */
void journal_append_raw(struct journal *j, const void *p, size_t n);
/* Empty the backlog and continue at offset (after a full resync). */
void journal_reset(struct journal *j, uint64_t offset);

/* Encode one record as a RESP command (what journal_append stores). A SET
 * of a collection is DEL key, then the commands that rebuild it
 * (journal_encode_collection). */
void journal_encode(const struct journal_record *rec, struct buf *out);

/* Most fields or members one command of a collection's rebuild carries: a
 * big collection goes as several commands, none of them huge. */
#define COLLECTION_CHUNK 1000

/* The commands that rebuild the collection obj of type t under key: HSET key
 * f v ... (at most COLLECTION_CHUNK fields each), then PEXPIREAT key at if
 * at is not 0. With prefix, each command is preceded by that word as a first
 * argument (the snapshot's frame, replication/repl_state.h). */
void journal_encode_collection(struct buf *out, const char *prefix, struct slice key, enum value_type t,
                               const void *obj, int64_t at);
/* The same for a part of it: the elements a scan of obj from cursor visits
 * (about count; a compact encoding is visited whole), then PEXPIREAT if this
 * part ends the scan. Returns the next cursor (0: done). Parts sent while
 * the collection changes rebuild it right as long as every change in
 * between also reaches the replica as a command that sets or removes
 * whole elements (the collection commands' journal forms do). */
uint64_t journal_encode_collection_part(struct buf *out, const char *prefix, struct slice key,
                                        enum value_type t, const void *obj, int64_t at,
                                        uint64_t cursor, size_t count);

#endif
