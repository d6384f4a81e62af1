/* server: what the server command files share (info.c, config.c,
 * introspection.c, slowlog.c): small text helpers and the walk over the
 * command table that INFO and COMMAND both make. Private to shards/commands. */
#ifndef RINGKV_COMMANDS_SERVER_H
#define RINGKV_COMMANDS_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/command.h"
#include "core/reply.h"

/* Copy a slice into a NUL-terminated buffer of n bytes; false if it does not fit. */
static inline bool slice_to_cstr(struct slice s, char *out, size_t n)
{
    if (s.len >= n)
        return false;
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return true;
}

/* Reply a fixed help text as an array of status lines, as Redis does. */
static inline void reply_help(struct reply *r, const char *const *lines)
{
    size_t n = 0;
    while (lines[n])
        n++;
    reply_array(r, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(r, lines[i]);
}

/* The node's memory as INFO memory and MEMORY STATS report it (memory.c
 * says where each figure comes from): bytes. */
struct memory_figures {
    uint64_t used;       /* used_memory: blocks the shard threads' heaps hold */
    uint64_t peak;       /* the highest used seen */
    uint64_t startup;    /* used at the first tick */
    uint64_t rss;        /* resident set size, at the last tick */
    uint64_t active;     /* pages holding those blocks (allocator_active) */
    uint64_t committed;  /* mimalloc's committed memory (allocator_resident) */
    uint64_t dataset;    /* the stores' keys, values, entries and tables */
    uint64_t overhead;   /* used - dataset */
    uint64_t not_counted; /* of used, what maxmemory does not count (mem_not_counted_for_evict) */
    uint64_t keys;
};
struct node;
void memory_figures(const struct node *n, struct memory_figures *f);

/* Visit every row of the command table, subcommands after their container,
 * with the name INFO and COMMAND use ("get", "config|get"). */
typedef void command_visit_fn(void *arg, const struct command *cmd, const char *fullname);

static inline void each_command(command_visit_fn *fn, void *arg)
{
    size_t n = 0;
    const struct command *table = command_table(&n);
    char full[128];
    for (size_t i = 0; i < n; i++) {
        fn(arg, &table[i], table[i].name);
        if (table[i].flags & CMD_HIDDEN_SUBS)
            continue;
        for (const struct command *sub = table[i].subcommands; sub && sub->name; sub++) {
            snprintf(full, sizeof(full), "%s|%s", table[i].name, sub->name);
            fn(arg, sub, full);
        }
    }
}

#endif
