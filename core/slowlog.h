/* slowlog: the slow commands of one shard's clients, newest first, at most
 * slowlog-max-len of them. Owned and written by its shard; SLOWLOG
 * GET/LEN/RESET run on every shard (CMD_ALL_SHARDS) and merge. Whether a
 * command is slow, and its id (one node-wide sequence, so ids order the
 * entries of every shard), is the caller's (shards/run.c). */
#ifndef RINGKV_SLOWLOG_H
#define RINGKV_SLOWLOG_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

#define SLOWLOG_MAX_ARGS 32      /* Redis keeps at most 32 arguments ... */
#define SLOWLOG_MAX_ARG_LEN 128  /* ... of at most 128 bytes each */

struct slowlog_entry {
    uint64_t id;
    int64_t  time_s;     /* unix seconds */
    uint64_t usec;
    int      argc;       /* arguments kept (the last says "... (N more arguments)" when cut) */
    struct buf *argv;
    char     addr[64];
    char     name[128];
};

struct slowlog {
    struct slowlog_entry *ring; /* capacity entries, newest at head-1 */
    size_t   capacity, count, head;
};

void slowlog_init(struct slowlog *l);
void slowlog_deinit(struct slowlog *l);
/* Add one slow command as entry `id`, keeping at most max_len entries (0:
 * none; the id is spent anyway, as in Redis). */
void slowlog_add(struct slowlog *l, uint64_t id, size_t max_len, int64_t now_s,
                 uint64_t usec, int argc, const struct slice *argv,
                 const char *addr, const char *name);
void slowlog_reset(struct slowlog *l);

#endif
