/* commands: the CLUSTER command. Its rows are registered in every mode;
 * without cluster mode every subcommand but KEYSLOT answers Redis's
 * "ERR This instance has cluster support disabled".
 *
 * In cluster mode, read from the node's state (cluster.h), in Redis Cluster
 * 7's shapes where clients parse them: MYID, NODES (Redis's line format),
 * SLOTS, SHARDS, INFO, COUNTKEYSINSLOT, GETKEYSINSLOT, KEYSLOT.
 *
 * For the admin tool (ringkv-cluster), one internal subcommand:
 *
 *     CLUSTER RINGKV-SETSTATE <expected-version> <state>
 *
 * <state> is the state's text form (shards/cluster/state.h, without a
 * "myid" line) with a new table-version. It replaces the node's nodes,
 * groups and slot table when the node's table version is <expected-version>
 * (compare-and-set) and the pushed version is higher; a group record the
 * node holds with a higher epoch than the pushed one is kept. A push of
 * exactly the state the node holds answers +OK whatever the expected
 * version (its peers brought it first: shards/cluster/peers.h). The node must
 * be one of the pushed nodes. +OK once the state is in the cluster config
 * file and in force; otherwise an error saying why:
 *     -ERR table version is <v>, not the expected <e>
 *     -ERR table version <n> is not newer than this node's <v>
 *     -ERR bad cluster state: line <l>: <what>
 *     -ERR this node (<id>) is not in the pushed state
 * It runs on shard 0 (CMD_SHARD0): one writer of the state.
 *
 * For the peers (shards/cluster/peers.h), two internal subcommands:
 *
 *     CLUSTER RINGKV-VERSIONS   the versions of the state, a bulk string:
 *                               "table-version <v>\n" then one
 *                               "group <id> <epoch> <master-id>\n"
 *                               per group
 *     CLUSTER RINGKV-GETSTATE   the state's text form (no "myid" line)
 *
 * CLUSTER FAILOVER [FORCE|TAKEOVER], on a replica (Redis's errors on a
 * master or with a bad option): TAKEOVER and FORCE promote this node at
 * once, without the master (writes the master acknowledged and had not
 * sent yet are lost, as with Redis's TAKEOVER), and record it as its
 * group's master with the highest known epoch + 1; the peers pull that and
 * the old master follows it as a replica. Without an option the master is
 * asked, on the peer link, for replication's lossless FAILOVER TO this
 * node: it pauses writes, waits until this node has its whole stream and
 * hands over; the promotion is then recorded as any promotion outside the
 * cluster layer is (roles.c). +OK once asked, as Redis answers.
 *
 * The other subcommands of Redis Cluster are known (their arity and COMMAND
 * INFO are Redis's) and refused in cluster mode until they are built. */
#include <inttypes.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/command.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/cluster/cluster.h"
#include "shards/cluster/peers.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

#define ERR_DISABLED "ERR This instance has cluster support disabled"

/* The node's cluster, or NULL after answering that there is none. */
static struct cluster *cluster_or_refuse(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_of(ctx->shard->node);
    if (!c)
        reply_error(ctx->reply, ERR_DISABLED);
    return c;
}

static void cmd_cluster_keyslot(struct exec_ctx *ctx)
{
    reply_int(ctx->reply, (long long)key_slot(ctx->argv[2].ptr, ctx->argv[2].len));
}

/* Subcommands not built yet. */
static void cmd_cluster_other(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    reply_errorf(ctx->reply, "ERR CLUSTER %.*s is not supported by ringkv yet",
                 (int)(ctx->argv[1].len > 32 ? 32 : ctx->argv[1].len), ctx->argv[1].ptr);
}

static void cmd_cluster_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by this node in <slot>, at most <count>.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot of <key>.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return the cluster's nodes, one per line, in Redis Cluster's format.",
        "SHARDS",
        "    Return the groups of nodes (shards) and their slots.",
        "SLOTS",
        "    Return the slot ranges and the nodes serving each.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Promote this replica: by the master's hand-over (default), or at once (FORCE, TAKEOVER).",
        "RINGKV-SETSTATE <expected-version> <state>",
        "    Replace the cluster state (ringkv's admin tool).",
        "RINGKV-VERSIONS",
        "    Return the versions of the cluster state (the peers' exchange).",
        "RINGKV-GETSTATE",
        "    Return the cluster state's text form (the peers' pull).",
        "HELP",
        "    Print this help.",
        NULL,
    };
    if (!cluster_or_refuse(ctx))
        return;
    size_t n = 0;
    while (lines[n])
        n++;
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(ctx->reply, lines[i]);
}

static void cmd_cluster_myid(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (c)
        reply_bulk_str(ctx->reply, c->myid);
}

/* ------------------------------------------------------------- NODES */

/* The ranges of slots group g serves, " a-b" or " a" each. */
static void slot_ranges_text(const struct cluster_state *st, int g, struct buf *out)
{
    for (int s = 0; s < SLOT_COUNT;) {
        if (st->slot_group[s] != g) {
            s++;
            continue;
        }
        int e = s;
        while (e + 1 < SLOT_COUNT && st->slot_group[e + 1] == g)
            e++;
        if (e == s)
            buf_printf(out, " %d", s);
        else
            buf_printf(out, " %d-%d", s, e);
        s = e + 1;
    }
}

/* Redis's line: <id> <ip>:<port>@<cport> <flags> <master-id|-> <ping-sent>
 * <pong-recv> <config-epoch> <link-state> <slot ranges...>. The bus port
 * is port + 10000 as Redis's default (ringkv has no bus: peers talk over the
 * normal port); no ping/pong times yet (0). */
static void nodes_text(const struct cluster *c, const struct cluster_state *st, int port, struct buf *out)
{
    if (st->myself < 0) {
        /* not in a table yet: only itself, as a new Redis node prints */
        buf_printf(out, "%s :%d@%d myself,master - 0 0 0 connected\n", c->myid, port, port + 10000);
        return;
    }
    for (int i = 0; i < st->nnodes; i++) {
        const struct cluster_node *nd = &st->nodes[i];
        const struct cluster_group *gr = &st->groups[nd->group];
        bool master = gr->master == i;
        buf_printf(out, "%s %s:%d@%d %s%s %s 0 0 %" PRIu64 " connected", nd->id, nd->ip, nd->port,
                   nd->port + 10000, i == st->myself ? "myself," : "", master ? "master" : "slave",
                   master ? "-" : st->nodes[gr->master].id, gr->epoch);
        if (master)
            slot_ranges_text(st, nd->group, out);
        buf_append_str(out, "\n");
    }
}

static void cmd_cluster_nodes(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    struct buf text;
    buf_init(&text);
    nodes_text(c, cluster_now(c), ctx->shard->node->port, &text);
    reply_verbatim(ctx->reply, text.data, text.len);
    buf_free(&text);
}

/* ------------------------------------------------------------- SLOTS */

/* A node as CLUSTER SLOTS lists it: ip, port, id, and the map of other
 * endpoints (none). */
static void slots_node(struct reply *r, const struct cluster_node *nd)
{
    reply_array(r, 4);
    reply_bulk_str(r, nd->ip);
    reply_int(r, nd->port);
    reply_bulk_str(r, nd->id);
    reply_map(r, 0);
}

static int group_size(const struct cluster_state *st, int g)
{
    int n = 0;
    for (int i = 0; i < st->nnodes; i++)
        n += st->nodes[i].group == g;
    return n;
}

static void cmd_cluster_slots(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    size_t ranges = 0;
    for (int s = 0; s < SLOT_COUNT; s++)
        if (st->slot_group[s] != CLUSTER_NO_GROUP && (s == 0 || st->slot_group[s - 1] != st->slot_group[s]))
            ranges++;
    reply_array(ctx->reply, ranges);
    for (int s = 0; s < SLOT_COUNT;) {
        int g = st->slot_group[s];
        if (g == CLUSTER_NO_GROUP) {
            s++;
            continue;
        }
        int e = s;
        while (e + 1 < SLOT_COUNT && st->slot_group[e + 1] == g)
            e++;
        int master = st->groups[g].master;
        reply_array(ctx->reply, (size_t)(2 + group_size(st, g)));
        reply_int(ctx->reply, s);
        reply_int(ctx->reply, e);
        slots_node(ctx->reply, &st->nodes[master]);
        for (int i = 0; i < st->nnodes; i++)
            if (st->nodes[i].group == g && i != master)
                slots_node(ctx->reply, &st->nodes[i]);
        s = e + 1;
    }
}

/* ------------------------------------------------------------- SHARDS */

static void shards_node(struct reply *r, const struct cluster_node *nd, bool master)
{
    reply_map(r, 7);
    reply_bulk_str(r, "id");
    reply_bulk_str(r, nd->id);
    reply_bulk_str(r, "port");
    reply_int(r, nd->port);
    reply_bulk_str(r, "ip");
    reply_bulk_str(r, nd->ip);
    reply_bulk_str(r, "endpoint");
    reply_bulk_str(r, nd->ip);
    reply_bulk_str(r, "role");
    reply_bulk_str(r, master ? "master" : "replica");
    reply_bulk_str(r, "replication-offset");
    reply_int(r, 0); /* not tracked per peer yet */
    reply_bulk_str(r, "health");
    reply_bulk_str(r, "online");
}

static void cmd_cluster_shards(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    struct reply *r = ctx->reply;
    if (st->myself < 0) {
        /* no table: this node alone, as a new Redis node answers */
        reply_array(r, 1);
        reply_map(r, 2);
        reply_bulk_str(r, "slots");
        reply_array(r, 0);
        reply_bulk_str(r, "nodes");
        reply_array(r, 1);
        struct cluster_node me = { .port = ctx->shard->node->port };
        memcpy(me.id, c->myid, sizeof(me.id));
        shards_node(r, &me, true);
        return;
    }
    reply_array(r, (size_t)st->ngroups);
    for (int g = 0; g < st->ngroups; g++) {
        reply_map(r, 2);
        reply_bulk_str(r, "slots");
        size_t ranges = 0;
        for (int s = 0; s < SLOT_COUNT; s++)
            if (st->slot_group[s] == g && (s == 0 || st->slot_group[s - 1] != g))
                ranges++;
        reply_array(r, 2 * ranges);
        for (int s = 0; s < SLOT_COUNT;) {
            if (st->slot_group[s] != g) {
                s++;
                continue;
            }
            int e = s;
            while (e + 1 < SLOT_COUNT && st->slot_group[e + 1] == g)
                e++;
            reply_int(r, s);
            reply_int(r, e);
            s = e + 1;
        }
        reply_bulk_str(r, "nodes");
        reply_array(r, (size_t)group_size(st, g));
        int master = st->groups[g].master;
        shards_node(r, &st->nodes[master], true);
        for (int i = 0; i < st->nnodes; i++)
            if (st->nodes[i].group == g && i != master)
                shards_node(r, &st->nodes[i], false);
    }
}

/* ------------------------------------------------------------- INFO */

static void cmd_cluster_info(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    uint64_t current_epoch = 0, my_epoch = 0;
    int size = 0;
    for (int g = 0; g < st->ngroups; g++) {
        if (st->groups[g].epoch > current_epoch)
            current_epoch = st->groups[g].epoch;
        size += st->groups[g].nslots > 0;
    }
    if (st->myself >= 0)
        my_epoch = st->groups[st->nodes[st->myself].group].epoch;
    struct buf text;
    buf_init(&text);
    buf_printf(&text,
               "cluster_state:%s\r\n"
               "cluster_slots_assigned:%d\r\n"
               "cluster_slots_ok:%d\r\n"
               "cluster_slots_pfail:0\r\n"
               "cluster_slots_fail:0\r\n"
               "cluster_known_nodes:%d\r\n"
               "cluster_size:%d\r\n"
               "cluster_current_epoch:%" PRIu64 "\r\n"
               "cluster_my_epoch:%" PRIu64 "\r\n"
               "cluster_stats_messages_sent:0\r\n"
               "cluster_stats_messages_received:0\r\n"
               "total_cluster_links_buffer_limit_exceeded:0\r\n"
               "cluster_table_version:%" PRIu64 "\r\n",
               cluster_state_ok(st) ? "ok" : "fail", st->slots_assigned, st->slots_assigned,
               st->nnodes > 0 ? st->nnodes : 1, size, current_epoch, my_epoch, st->version);
    reply_verbatim(ctx->reply, text.data, text.len);
    buf_free(&text);
}

/* ------------------------------------------- COUNTKEYSINSLOT, GETKEYSINSLOT */

/* Both run on every shard (CMD_ALL_SHARDS); only the shard owning the slot
 * has its keys, and it walks its whole store for them (no index of keys by
 * slot yet: O(keys of the shard), an admin command). */
struct slot_keys {
    unsigned slot;
    long long max;          /* GETKEYSINSLOT's count; -1: only count */
    long long count;
    struct slice *keys;
    size_t cap;
};

static void collect_slot_key(void *arg, struct entry *e)
{
    struct slot_keys *a = arg;
    const char *k = entry_key(e);
    size_t len = entry_key_len(e);
    if (key_slot(k, len) != a->slot || (a->max >= 0 && a->count >= a->max))
        return;
    if (a->max >= 0) {
        if ((size_t)a->count == a->cap) {
            a->cap = a->cap ? 2 * a->cap : 16;
            a->keys = mi_realloc(a->keys, a->cap * sizeof(struct slice));
        }
        a->keys[a->count] = (struct slice){ k, len };
    }
    a->count++;
}

static void walk_slot(struct exec_ctx *ctx, struct slot_keys *a)
{
    if (shard_of_slot(ctx->shard->node, a->slot) != ctx->shard->id)
        return;
    uint64_t cursor = 0;
    do
        cursor = store_scan(ctx->store, cursor, 1024, ctx->now_ms, collect_slot_key, a);
    while (cursor != 0 && (a->max < 0 || a->count < a->max));
}

static void cmd_cluster_countkeysinslot(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    long long slot;
    if (!parse_ll(ctx->argv[2], &slot)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (slot < 0 || slot >= SLOT_COUNT) {
        reply_error(ctx->reply, "ERR Invalid slot");
        return;
    }
    struct slot_keys a = { .slot = (unsigned)slot, .max = -1 };
    walk_slot(ctx, &a);
    reply_int(ctx->reply, a.count);
}

static void cmd_cluster_getkeysinslot(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    long long slot, max;
    if (!parse_ll(ctx->argv[2], &slot) || !parse_ll(ctx->argv[3], &max)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (slot < 0 || slot >= SLOT_COUNT || max < 0) {
        reply_error(ctx->reply, "ERR Invalid slot or number of keys");
        return;
    }
    struct slot_keys a = { .slot = (unsigned)slot, .max = max };
    walk_slot(ctx, &a);
    reply_array(ctx->reply, (size_t)a.count);
    for (long long i = 0; i < a.count; i++)
        reply_bulk(ctx->reply, a.keys[i].ptr, a.keys[i].len);
    mi_free(a.keys);
}

/* ------------------------------------------------------- RINGKV-SETSTATE */

/* Does the node hold exactly the pushed state already? A peer may have
 * brought it between the admin tool's look and its push: that push has
 * done its work. */
static bool holds_already(const struct cluster *c, const struct cluster_state *cur, struct slice text)
{
    char err[300];
    struct cluster_state *st = cluster_state_parse(text.ptr, text.len, c->myid, NULL, err, sizeof(err));
    if (!st)
        return false;
    bool same = st->version == cur->version;
    if (same) {
        struct buf a, b;
        buf_init(&a);
        buf_init(&b);
        cluster_state_format(st, NULL, &a);
        cluster_state_format(cur, NULL, &b);
        same = a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        buf_free(&a);
        buf_free(&b);
    }
    mi_free(st);
    return same;
}

static void cmd_cluster_setstate(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    unsigned long long expected;
    if (!parse_ull(ctx->argv[2], &expected)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    const struct cluster_state *cur = cluster_now(c);
    if (expected != cur->version) {
        if (holds_already(c, cur, ctx->argv[3]))
            reply_ok(ctx->reply);
        else
            reply_errorf(ctx->reply, "ERR table version is %" PRIu64 ", not the expected %llu", cur->version,
                         expected);
        return;
    }
    char err[300];
    struct cluster_state *st = cluster_state_parse(ctx->argv[3].ptr, ctx->argv[3].len, c->myid, NULL,
                                                   err, sizeof(err));
    if (!st) {
        for (char *p = err; *p; p++)
            if (*p == '\r' || *p == '\n')
                *p = ' ';
        reply_errorf(ctx->reply, "ERR bad cluster state: %s", err);
        return;
    }
    if (st->version <= cur->version) {
        reply_errorf(ctx->reply, "ERR table version %" PRIu64 " is not newer than this node's %" PRIu64,
                     st->version, cur->version);
        mi_free(st);
        return;
    }
    if (st->myself < 0) {
        reply_errorf(ctx->reply, "ERR this node (%s) is not in the pushed state", c->myid);
        mi_free(st);
        return;
    }
    cluster_state_keep_newer_groups(st, cur);
    if (cluster_publish(ctx->shard, c, st, err, sizeof(err)) != 0) {
        reply_errorf(ctx->reply, "ERR %s", err);
        return;
    }
    reply_ok(ctx->reply);
}

/* ------------------------------------------- RINGKV-VERSIONS, GETSTATE */

static void cmd_cluster_versions(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    struct buf text;
    buf_init(&text);
    buf_printf(&text, "table-version %" PRIu64 "\n", st->version);
    for (int g = 0; g < st->ngroups; g++)
        buf_printf(&text, "group %" PRIu32 " %" PRIu64 " %s\n", st->groups[g].id, st->groups[g].epoch,
                   st->nodes[st->groups[g].master].id);
    reply_bulk(ctx->reply, text.data, text.len);
    buf_free(&text);
}

static void cmd_cluster_getstate(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    struct buf text;
    buf_init(&text);
    cluster_state_format(cluster_now(c), NULL, &text);
    reply_bulk(ctx->reply, text.data, text.len);
    buf_free(&text);
}

/* ------------------------------------------------------------- FAILOVER */

static void cmd_cluster_failover(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    bool force = false, takeover = false;
    if (ctx->argc == 3) {
        if (ctx->argv[2].len == 5 && strncasecmp(ctx->argv[2].ptr, "force", 5) == 0)
            force = true;
        else if (ctx->argv[2].len == 8 && strncasecmp(ctx->argv[2].ptr, "takeover", 8) == 0)
            takeover = true;
        else {
            reply_error(ctx->reply, "ERR syntax error");
            return;
        }
    } else if (ctx->argc > 3) {
        reply_error(ctx->reply, "ERR syntax error");
        return;
    }
    const struct cluster_state *st = cluster_now(c);
    if (st->myself < 0 || cluster_node_is_master(st, st->myself)) {
        reply_error(ctx->reply, "ERR You should send CLUSTER FAILOVER to a replica");
        return;
    }
    char err[300];
    if (!force && !takeover) {
        if (cluster_peers_ask_failover(ctx->shard, c, err, sizeof(err)) != 0)
            reply_error(ctx->reply, err);
        else
            reply_ok(ctx->reply);
        return;
    }
    if (!c->set_master || c->set_master(ctx->shard, NULL, 0, err, sizeof(err)) < 0 ||
        cluster_record_myself_master(ctx->shard, c, err, sizeof(err)) != 0) {
        reply_errorf(ctx->reply, "ERR %s", c->set_master ? err : "no replication on this node");
        return;
    }
    reply_ok(ctx->reply);
}

/* ------------------------------------------------------------- rows */

#define F_CLUSTER (CMD_CONN | CMD_STALE)
#define OTHER_ROW(nm, ar, fl, since_, summ) \
    ROW(nm, ar, F_CLUSTER | (fl), 0, 0, 0, cmd_cluster_other, NULL, "cluster", since_, summ)
static struct command cluster_subcommands[] = {
    ROW("keyslot", 3, F_CLUSTER, 0, 0, 0, cmd_cluster_keyslot, NULL, "cluster", "3.0.0",
        "Returns the hash slot of the specified key"),
    ROW("slots", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_slots, NULL, "cluster", "3.0.0",
        "Get array of Cluster slot to node mappings"),
    ROW("shards", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_shards, NULL, "cluster", "7.0.0",
        "Get array of cluster slots to node mappings"),
    ROW("nodes", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_nodes, NULL, "cluster", "3.0.0",
        "Get Cluster config for the node"),
    ROW("info", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_info, NULL, "cluster", "3.0.0",
        "Provides info about Redis Cluster node state"),
    ROW("myid", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_myid, NULL, "cluster", "3.0.0",
        "Return the node id"),
    OTHER_ROW("links", 2, 0, "7.0.0", "Returns a list of all TCP links to and from peer nodes in cluster"),
    ROW("countkeysinslot", 3, CMD_ALL_SHARDS | CMD_STALE, 0, 0, 0, cmd_cluster_countkeysinslot,
        merge_sum_int, "cluster", "3.0.0", "Return the number of local keys in the specified hash slot"),
    ROW("getkeysinslot", 4, CMD_ALL_SHARDS | CMD_STALE, 0, 0, 0, cmd_cluster_getkeysinslot,
        merge_concat_arrays, "cluster", "3.0.0", "Return local key names in the specified hash slot"),
    ROW("help", 2, F_CLUSTER | CMD_LOADING, 0, 0, 0, cmd_cluster_help, NULL, "cluster", "5.0.0",
        "Show helpful text about the different subcommands"),
    OTHER_ROW("addslots", -3, CMD_ADMIN, "3.0.0", "Assign new hash slots to receiving node"),
    OTHER_ROW("addslotsrange", -4, CMD_ADMIN, "7.0.0", "Assign new hash slots to receiving node"),
    OTHER_ROW("bumpepoch", 2, CMD_ADMIN, "3.0.0", "Advance the cluster config epoch"),
    OTHER_ROW("count-failure-reports", 3, CMD_ADMIN, "3.0.0",
              "Return the number of failure reports active for a given node"),
    OTHER_ROW("delslots", -3, CMD_ADMIN, "3.0.0", "Set hash slots as unbound in receiving node"),
    OTHER_ROW("delslotsrange", -4, CMD_ADMIN, "7.0.0", "Set hash slots as unbound in receiving node"),
    ROW("failover", -2, CMD_SHARD0 | CMD_ADMIN | CMD_STALE, 0, 0, 0, cmd_cluster_failover, NULL, "cluster",
        "3.0.0", "Forces a replica to perform a manual failover of its master."),
    OTHER_ROW("flushslots", 2, CMD_ADMIN, "3.0.0", "Delete a node's own slots information"),
    OTHER_ROW("forget", 3, CMD_ADMIN, "3.0.0", "Remove a node from the nodes table"),
    OTHER_ROW("meet", -4, CMD_ADMIN, "3.0.0", "Force a node cluster to handshake with another node"),
    OTHER_ROW("replicas", 3, CMD_ADMIN, "5.0.0", "List replica nodes of the specified master node"),
    OTHER_ROW("replicate", 3, CMD_ADMIN, "3.0.0", "Reconfigure a node as a replica of the specified master node"),
    OTHER_ROW("reset", -2, CMD_ADMIN | CMD_NOSCRIPT, "3.0.0", "Reset a Redis Cluster node"),
    OTHER_ROW("saveconfig", 2, CMD_ADMIN, "3.0.0", "Forces the node to save cluster state on disk"),
    OTHER_ROW("set-config-epoch", 3, CMD_ADMIN, "3.0.0", "Set the configuration epoch in a new node"),
    OTHER_ROW("setslot", -4, CMD_ADMIN, "3.0.0", "Bind a hash slot to a specific node"),
    OTHER_ROW("slaves", 3, CMD_ADMIN, "3.0.0", "List replica nodes of the specified master node"),
    ROW("ringkv-setstate", 4, CMD_SHARD0 | CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE, 0, 0, 0,
        cmd_cluster_setstate, NULL, "cluster", "0.1.0",
        "Set the node's cluster state (ringkv's admin tool; compare-and-set on the table version)"),
    ROW("ringkv-versions", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_versions, NULL, "cluster", "0.1.0",
        "Return the versions of the node's cluster state (table version, group epochs) for its peers"),
    ROW("ringkv-getstate", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_getstate, NULL, "cluster", "0.1.0",
        "Return the node's cluster state in its text form for its peers"),
    END_OF_SUBCOMMANDS,
};

static const struct command cluster_rows[] = {
    CONTAINER("cluster", -2, CMD_CONN, NULL, cluster_subcommands, "cluster", "3.0.0",
              "A container for cluster commands"),
};

void cluster_commands_register(void)
{
    command_register(cluster_rows, sizeof(cluster_rows) / sizeof(cluster_rows[0]));
}
