/* scratch: what a command whose keys live on several shards (RENAME, COPY,
 * MSETNX, BITOP, LCS) needs moved between them: copies of its keys (export,
 * import into a scratch store) and the writes it made there (captured from
 * the scratch store's journal, applied on each key's owner). The protocol
 * and the messages that carry these bytes are the dispatcher's. */
#ifndef RINGKV_SCRATCH_H
#define RINGKV_SCRATCH_H

#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "shards/store/store.h"

struct node;

/* Append a copy of each key (present or not, its value and expiry) to out. */
void keys_export(struct store *st, int nkeys, const struct slice *keys, struct buf *out, int64_t now);
/* Read the next exported key at *cursor (advancing it) and, if it was
 * present, store it under `key` in st. */
void key_import(struct store *st, struct slice key, const char **cursor, int64_t now);

/* A journal hook that sorts the writes a command made by the shard owning
 * each key: per_shard[i] receives the records for shard i while `on`. */
struct write_capture {
    bool               on;
    const struct node *node;
    struct buf        *per_shard;
    /* The shard running the command, whose keyspace notifications name its
     * writes here (its owners apply them quietly: notify_quiet), or NULL. */
    struct shard      *notify;
};
void write_capture_hook(void *arg, const struct journal_record *r);

/* The same for COPY ... DB n: the store running the command has one
 * database, and the destination key's notifications are named in n
 * (dest_key.ptr NULL: as write_capture_hook). arg: this struct. */
struct write_capture_dest {
    struct write_capture cap;
    struct slice         dest_key;
    int                  dest_db;
};
void write_capture_dest_hook(void *arg, const struct journal_record *r);

/* Append one record in the form writes_apply reads. */
void write_record_encode(struct buf *b, const struct journal_record *r);

/* Apply captured records (as produced by write_capture_hook) to st. */
void writes_apply(struct store *st, const struct buf *records, int64_t now);
/* fn(arg, key) for the key of each record, in order (FLUSH has none). */
void writes_each_key(const struct buf *records, void (*fn)(void *arg, const struct slice *key), void *arg);

#endif
