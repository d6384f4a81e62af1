/* module: how replication attaches to a node (repl_attach): its part of
 * every shard (a shard module: setup, start, turn, tick, teardown), the
 * store's journal sink, and the write gate. The runtime calls these hooks
 * and never names replication itself. */
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "replication/repl.h"
#include "replication/repl_state.h"
#include "shards/node.h"
#include "shards/shard.h"

/* Shard 0 starts replicating at start-up when the configuration says so
 * (replicaof in the file or --replicaof). */
static int repl_shard_start(struct shard *sh)
{
    const char *master = config_str(&sh->node->config, replicaof);
    if (sh->id != 0 || !master || !*master)
        return 0;
    char host[256], err[160];
    int port = 0;
    if (sscanf(master, "%255s %d", host, &port) != 2 ||
        repl_set_master(sh, host, port, err, sizeof(err)) < 0) {
        log_warning("Bad replicaof setting '%s': expected \"host port\" with a numeric address", master);
        return -1;
    }
    return 0;
}

/* Shard 0's struct repl outlives the shard threads (other shards read parts
 * of it until they stop); it goes once they have all stopped. */
static void repl_node_teardown(struct node *n)
{
    struct repl *r = n->repl;
    if (!r)
        return;
    while (r->replicas) {
        struct replica *x = r->replicas;
        r->replicas = x->next;
        buf_free(&x->feed);
        mi_free(x);
    }
    while (r->waiters) {
        struct waiter *w = r->waiters;
        r->waiters = w->next;
        mi_free(w);
    }
    journal_destroy(r->backlog);
    mi_free(r);
    n->repl = NULL;
}

static uint64_t repl_memory_not_counted(struct shard *sh);

static void repl_module_info(struct shard *sh, const char *section, struct buf *out)
{
    if (strcmp(section, "stats") == 0)
        repl_info_stats(sh, out);
    else if (strcmp(section, "replication") == 0)
        repl_info(sh, out);
    else if (strcmp(section, "memory") == 0) {
        /* Redis's field: the bytes the backlog holds (in used_memory) */
        struct repl *r = repl_of(sh);
        uint64_t held = r->backlog_active ? journal_offset(r->backlog) - journal_first_offset(r->backlog) : 0;
        buf_printf(out, "mem_replication_backlog:%llu\r\n", (unsigned long long)held);
        /* Redis 7's one buffer shared by the backlog and the replicas: here
         * the backlog and the replicas' own buffers */
        buf_printf(out, "mem_total_replication_buffers:%llu\r\n",
                   (unsigned long long)(held + repl_memory_not_counted(sh)));
    }
}

/* Redis's mem_not_counted_for_evict, on shard 0 (which holds them): the
 * replicas' buffers waiting here. The backlog counts, as in Redis 7 (its
 * size is fixed: it is here to stay and makes no eviction spiral). */
static uint64_t repl_memory_not_counted(struct shard *sh)
{
    if (sh->id != 0 || !sh->node->repl)
        return 0;
    struct repl *r = repl_of(sh);
    uint64_t held = 0;
    for (const struct replica *x = r->replicas; x; x = x->next)
        held += x->feed.cap + x->feed_spare.cap + x->stream_held.cap;
    return held;
}

/* The master REPLICAOF set at run time, for CONFIG REWRITE. */
static bool repl_option_now(struct shard *sh, const char *option, char *value, size_t len)
{
    char host[256];
    int port = 0;
    if (strcmp(option, "replicaof") != 0 || !repl_current_master(sh, host, sizeof(host), &port))
        return false;
    /* REPLICAOF accepts only numeric addresses and localhost: no quoting needed */
    snprintf(value, len, "%s %d", host, port);
    return true;
}

/* The commands of replication (handlers in cmd_replication.c). */
#define F_ADMIN (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
/* the flags Redis 7 gives these (COMMAND INFO): no "loading" on the ones
 * that change or start replication, no "stale" on PSYNC/SYNC */
#define F_REPL_ADMIN (CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE)
#define F_SYNC (CMD_ADMIN | CMD_NOSCRIPT)
static const struct command repl_commands[] = {
    ROW("replicaof",   3,  CMD_SHARD0 | F_REPL_ADMIN, 0, 0, 0, cmd_replicaof, NULL, "server", "5.0.0",
        "Make the server a replica of another instance, or promote it as master"),
    ROW("slaveof",     3,  CMD_SHARD0 | F_REPL_ADMIN, 0, 0, 0, cmd_replicaof, NULL, "server", "1.0.0",
        "Make the server a replica of another instance, or promote it as master"),
    ROW("role",        1,  CMD_SHARD0 | CMD_FAST | CMD_LOADING | CMD_STALE | CMD_NOSCRIPT, 0, 0, 0, cmd_role, NULL,
        "server", "2.8.12", "Return the role of the instance in the context of replication"),
    ROW("replconf",    -1, CMD_CONN | F_ADMIN | CMD_NO_REPLY | CMD_ALLOW_BUSY, 0, 0, 0, cmd_replconf, NULL, "server", "3.0.0",
        "An internal command for configuring the replication stream"),
    ROW("psync",       -3, CMD_CONN | F_SYNC | CMD_NO_MULTI, 0, 0, 0, cmd_psync, NULL, "server", "2.8.0",
        "Internal command used for replication"),
    ROW("sync",        1,  CMD_CONN | F_SYNC | CMD_NO_MULTI, 0, 0, 0, cmd_psync, NULL, "server", "1.0.0",
        "Internal command used for replication"),
    ROW("failover",    -1, CMD_SHARD0 | F_REPL_ADMIN, 0, 0, 0, cmd_failover, NULL, "server", "6.2.0",
        "Starts a coordinated failover from a server to one of its replicas"),
    ROW("wait",        3,  CMD_SHARD0 | CMD_NOSCRIPT, 0, 0, 0, cmd_wait, NULL, "generic", "3.0.0",
        "Wait for the synchronous replication of all the write commands sent in the context of the current connection"),
};

static const struct shard_module repl_module = {
    .name = "replication",
    .setup = repl_shard_setup,
    .start = repl_shard_start,
    .teardown = repl_shard_teardown,
    .turn = repl_shard_turn,
    .pending = repl_turn_pending,
    .tick = repl_shard_tick,
    .node_teardown = repl_node_teardown,
    .info = repl_module_info,
    .option_now = repl_option_now,
    .memory_not_counted = repl_memory_not_counted,
    .journal_mark = repl_journal_mark,
    .stream_cut = repl_stream_cut,
    .sync_cut = repl_sync_cut,
    .change_repl_id = repl_change_replid,
};

void repl_attach(struct node *n)
{
    command_register(repl_commands, sizeof(repl_commands) / sizeof(repl_commands[0]));
    node_attach_module(n, &repl_module);
    static const struct journal_sink sink = {
        .record = repl_journal_hook,
        .command_begin = repl_command_begin,
        .command_end = repl_command_end,
        .command_refused = repl_command_refused,
        .key_before_write = repl_key_before_write,
        .stream_db = repl_stream_db,
    };
    n->journal = &sink;
    n->write_gate = repl_write_refusal;
}
