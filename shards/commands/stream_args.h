/* stream_args: what the stream commands (stream.c) and the consumer group
 * commands (stream_group.c) share: finding a key's stream, reading IDs as
 * Redis reads them, and replying IDs, entries and ranges. */
#ifndef RINGKV_COMMANDS_STREAM_ARGS_H
#define RINGKV_COMMANDS_STREAM_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/command.h"
#include "shards/store/store.h"
#include "shards/store/stream.h"

#define ERR_INVALID_STREAM_ID "ERR Invalid stream ID specified as stream command argument"

/* The stream at key (found, so lazily expired), or NULL with *e NULL when
 * the key is missing; WRONGTYPE replied (false) for another type. */
bool stream_key_find(struct exec_ctx *ctx, struct slice key, struct entry **e, struct stream **st);
/* The same without counting a hit or touching the key (a serve function's). */
struct stream *stream_key_peek(struct store *s, struct slice key, int64_t now_ms);

/* An ID as XADD, XDEL, XSETID... read it: "ms-seq" or "ms" (seq 0), and
 * with seq_given, "ms-*" (*seq_given false); false with the error replied. */
bool stream_arg_strict_id(struct exec_ctx *ctx, struct slice a, struct stream_id *id, bool *seq_given);
/* An ID as XGROUP SETID and XAUTOCLAIM read it: "ms-seq", "ms" (seq 0),
 * "-" or "+" (no "(": Redis's streamParseIDOrReply). */
bool stream_arg_id(struct exec_ctx *ctx, struct slice a, struct stream_id *id);
/* A range bound: an ID ("ms" alone: seq missing_seq), "-", "+", or "(" and
 * an ID (exclusive). */
bool stream_arg_interval_id(struct exec_ctx *ctx, struct slice a, struct stream_id *id, bool *exclusive,
                            uint64_t missing_seq);

void stream_reply_id(struct exec_ctx *ctx, struct stream_id id);
/* [id, [field, value, ...]] */
void stream_reply_entry(struct exec_ctx *ctx, const struct stream_entry *e);
/* The live entries of [start, end] (rev: from end down), count at most (0:
 * all), as an array. */
void stream_reply_range(struct exec_ctx *ctx, const struct stream *st, struct stream_id start, struct stream_id end,
                        bool rev, size_t count);
/* XREAD's and XREADGROUP's arguments. */
struct stream_read_args {
    long long    count;            /* 0: no limit */
    long long    block_ms;         /* -1: no BLOCK */
    int          streams, nstreams; /* argv index of the first key, and how many */
    struct slice group, consumer;  /* XREADGROUP's GROUP */
    bool         noack;
};
/* Read them (group: XREADGROUP's, which has GROUP and NOACK), false with
 * Redis's error replied. */
bool stream_arg_read(struct exec_ctx *ctx, bool group, struct stream_read_args *a);
/* Does st have a live entry past gt? */
bool stream_has_entries_after(const struct stream *st, struct stream_id gt);

#endif
