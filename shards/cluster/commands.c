/* commands: the CLUSTER command, and ASKING, READONLY, READWRITE. Their
 * rows are registered in every mode; without cluster mode every one but
 * CLUSTER KEYSLOT answers Redis's "ERR This instance has cluster support
 * disabled". Wrong arguments get Redis 7's exact errors (checked against
 * redis-server by tests/integration/test_cluster_api.c).
 *
 * In cluster mode, read from the node's state (cluster.h), in Redis Cluster
 * 7's shapes where clients parse them: MYID, MYSHARDID (7.2), NODES and
 * REPLICAS/SLAVES (Redis's line format; ping/pong and link state from the
 * peer links, peers.h), SLOTS, SHARDS, INFO, LINKS, COUNT-FAILURE-REPORTS
 * (0: no failure reports in ringkv), COUNTKEYSINSLOT and GETKEYSINSLOT (the
 * stores' keys by slot, store.h), KEYSLOT. RESET [SOFT|HARD] forgets the
 * table (cluster.h, cluster_reset), SAVECONFIG writes the file again,
 * SETSLOT IMPORTING/MIGRATING/STABLE/NODE move a slot in Redis's way (see
 * cmd_cluster_setslot).
 * ASKING sets a flag for the next command (route.c wears it off),
 * READONLY/READWRITE one for the connection (struct client).
 *
 * ADDSLOTS[RANGE] and DELSLOTS[RANGE] give slots to this node's group (a
 * node without a table makes a group of its own) or take them from their
 * group, in a new table version (cmd_cluster_slots_by_hand). MEET, FORGET,
 * REPLICATE, FLUSHSLOTS, BUMPEPOCH and SET-CONFIG-EPOCH check their
 * arguments as Redis does, then answer "ERR CLUSTER <name> is not used by
 * ringkv: <why>": nodes and groups are the table ringkv-cluster pushes.
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
 * exactly the state the node holds (those records aside) answers +OK
 * whatever the expected version (its peers brought it first:
 * shards/cluster/peers.h). The node must be one of the pushed nodes. +OK
 * once the state is in the cluster config file and in force; otherwise an
 * error saying why:
 *     -ERR table version is <v>, not the expected <e>
 *     -ERR table version <n> is not newer than this node's <v>
 *     -ERR bad cluster state: line <l>: <what>
 *     -ERR this node (<id>) is not in the pushed state
 * It runs on shard 0 (CMD_SHARD0): one writer of the state.
 *
 * Also for the admin tool: CLUSTER RINGKV-SETSLOT <slot> IMPORTING|MIGRATING
 * <id> | STABLE, SETSLOT's marks on a replica too (cmd_cluster_ringkv_setslot).
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
 * cluster layer is (roles.c). +OK once asked, as Redis answers. */
#include <inttypes.h>
#include <sys/socket.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/command.h"
#include "core/config.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "net/loop.h"
#include "shards/cluster/cluster.h"
#include "shards/cluster/peers.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"
#include "shards/subscriptions.h"

#define ERR_DISABLED "ERR This instance has cluster support disabled"

/* The node's cluster, or NULL after answering that there is none. */
static struct cluster *cluster_or_refuse(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_of(ctx->shard->node);
    if (!c)
        reply_error(ctx->reply, ERR_DISABLED);
    return c;
}

/* An argument for an error text: at most 128 bytes of it. */
#define ARG_FMT "%.*s"
#define ARG(sl) (int)((sl).len > 128 ? 128 : (sl).len), (sl).ptr

/* Redis's answer to a subcommand with one argument too many. */
static void reply_syntax_error_of(struct exec_ctx *ctx)
{
    reply_errorf(ctx->reply, "ERR unknown subcommand or wrong number of arguments for '" ARG_FMT
                 "'. Try CLUSTER HELP.", ARG(ctx->argv[1]));
}

static void cmd_cluster_keyslot(struct exec_ctx *ctx)
{
    reply_int(ctx->reply, (long long)key_slot(ctx->argv[2].ptr, ctx->argv[2].len));
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
        "REPLICAS <node-id>",
        "    Return the replicas of a master, in NODES's format (SLAVES: the same).",
        "RESET [HARD|SOFT]",
        "    Forget the cluster (HARD: with a new node id). Not on a master holding keys.",
        "LINKS",
        "    Return the links to the other nodes.",
        "MYSHARDID",
        "    Return the id of this node's group.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return 0: ringkv's nodes send no failure reports (Sentinels decide failovers).",
        "SAVECONFIG",
        "    Write the cluster config file again.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "    Move a slot in Redis's way: IMPORTING/MIGRATING marks, STABLE drops them, NODE flips it.",
        "ADDSLOTS <slot> [<slot> ...] | ADDSLOTSRANGE <start> <end> [<start> <end> ...]",
        "    Give unassigned slots to this node's group (a node without a table: a group of its own).",
        "DELSLOTS <slot> [<slot> ...] | DELSLOTSRANGE <start> <end> [<start> <end> ...]",
        "    Take slots from their group: nobody serves them (a new table version, the cluster's).",
        "MEET, FORGET, REPLICATE, FLUSHSLOTS, BUMPEPOCH, SET-CONFIG-EPOCH",
        "    Not used by ringkv: the nodes and groups are pushed by ringkv-cluster.",
        "RINGKV-SETSTATE <expected-version> <state>",
        "    Replace the cluster state (ringkv's admin tool).",
        "RINGKV-SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE)",
        "    SETSLOT's marks on any node of a group, replicas too (ringkv's admin tool).",
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

/* One node's line in Redis 7's format, without the newline:
 *   <id> <ip>:<port>@<cport> <flags> <master-id|-> <ping-sent> <pong-recv>
 *   <config-epoch> <link-state> <slot ranges...>
 * then, on the myself line as Redis does, the slots this node is moving:
 * "[<slot>->-<target id>]" for one of its own it gives away (MIGRATING;
 * not during the grace after the flip, when the slot is another's and the
 * mark only answers -MOVED: Redis has dropped it by then, and redis-cli
 * --cluster would take it for an open slot) and "[<slot>-<-<id>]" for one
 * it imports, the id being the slot's owner in the table (ringkv keeps
 * the mark, not where it was told the keys come from: the owner is where
 * they come from).
 * The bus port is port + 10000 as Redis's default (ringkv has no bus: the
 * peers talk over the normal port). flags: myself, master or slave, fail?
 * once the node has not answered its peer link for cluster-node-timeout,
 * fail after twice that (ringkv's own judgement: nodes do not vote, the
 * Sentinels decide failovers), noaddr without an address. ping-sent,
 * pong-recv (unix ms, 0: none) and the link state are the peer link's
 * (peers.h). The config epoch is the group record's. On shard 0. */
static void node_line(const struct cluster *c, const struct cluster_state *st, int i, int64_t now_ms,
                      long long timeout_ms, struct buf *out)
{
    const struct cluster_node *nd = &st->nodes[i];
    const struct cluster_group *gr = &st->groups[nd->group];
    bool master = gr->master == i, myself = i == st->myself;
    struct cluster_peer_view v = { .connected = true };
    if (!myself && !cluster_peers_view(c, nd->id, now_ms, &v))
        v.connected = false;
    const char *fail = "";
    if (!myself && timeout_ms > 0 && v.silent_ms > 2 * timeout_ms)
        fail = ",fail";
    else if (!myself && timeout_ms > 0 && v.silent_ms > timeout_ms)
        fail = ",fail?";
    buf_printf(out, "%s %s:%d@%d %s%s%s%s %s %" PRId64 " %" PRId64 " %" PRIu64 " %s", nd->id, nd->ip, nd->port,
               nd->port + 10000, myself ? "myself," : "", master ? "master" : "slave", fail,
               nd->ip[0] ? "" : ",noaddr", master ? "-" : st->nodes[gr->master].id, myself ? 0 : v.ping_sent_ms,
               myself ? 0 : v.pong_recv_ms, gr->epoch, v.connected ? "connected" : "disconnected");
    if (master)
        slot_ranges_text(st, nd->group, out);
    if (myself)
        for (int sl = 0; sl < SLOT_COUNT; sl++) {
            unsigned g = st->slot_group[sl];
            const struct cluster_target *to = g == (unsigned)nd->group ? cluster_migrating(c, sl) : NULL;
            if (to)
                buf_printf(out, " [%d->-%s]", sl, to->id);
            else if (cluster_importing(c, sl) && g != CLUSTER_NO_GROUP)
                buf_printf(out, " [%d-<-%s]", sl, st->nodes[st->groups[g].master].id);
        }
}

static void nodes_text(const struct cluster *c, const struct cluster_state *st, struct shard *sh, int64_t now_ms,
                       struct buf *out)
{
    if (st->myself < 0) {
        /* not in a table yet: only itself, as a new Redis node prints */
        int port = sh->node->port;
        buf_printf(out, "%s :%d@%d myself,master - 0 0 0 connected\n", c->myid, port, port + 10000);
        return;
    }
    long long timeout = config_load(&sh->node->config, cluster_node_timeout);
    for (int i = 0; i < st->nnodes; i++) {
        node_line(c, st, i, now_ms, timeout, out);
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
    nodes_text(c, cluster_now(c), ctx->shard, ctx->now_ms, &text);
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
    /* fenced (fence.h: a master cut off from a majority of its deciders)
     * is Redis's minority partition, where a node says fail */
    bool state_ok = cluster_state_ok(st) && !atomic_load_explicit(&c->fenced, memory_order_relaxed);
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
               state_ok ? "ok" : "fail", st->slots_assigned, st->slots_assigned,
               st->nnodes > 0 ? st->nnodes : 1, size, current_epoch, my_epoch, st->version);
    reply_verbatim(ctx->reply, text.data, text.len);
    buf_free(&text);
}

/* ------------------------------------------- COUNTKEYSINSLOT, GETKEYSINSLOT */

/* Both run on every shard (CMD_ALL_SHARDS); only the shard owning the slot
 * has its keys, and it has them by slot (store.h, slot_index.h): the count
 * is O(1), the keys O(keys of the slot). The cluster module indexes each
 * shard's store at its first tick (and again after a replica's full sync
 * replaced the store); a command before that indexes it at once. */
struct slot_keys {
    long long max;
    long long count;
    struct slice *keys;
};

static void collect_slot_key(void *arg, struct entry *e)
{
    struct slot_keys *a = arg;
    a->keys[a->count++] = (struct slice){ entry_key(e), entry_key_len(e) };
}

/* The shard's store when it holds the slot's keys, indexed; NULL when the
 * slot is another shard's. */
static struct store *slot_store(struct exec_ctx *ctx, unsigned slot)
{
    if (shard_of_slot(ctx->shard->node, slot) != ctx->shard->id)
        return NULL;
    if (!store_slots_indexed(ctx->store))
        store_index_slots(ctx->store);
    return ctx->store;
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
    struct store *st = slot_store(ctx, (unsigned)slot);
    reply_int(ctx->reply, st ? (long long)store_slot_count(st, (unsigned)slot) : 0);
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
    struct slot_keys a = { .max = max };
    struct store *st = slot_store(ctx, (unsigned)slot);
    if (st && max > 0) {
        size_t n = store_slot_count(st, (unsigned)slot);
        if ((long long)n > max)
            n = (size_t)max;
        a.keys = mi_malloc((n ? n : 1) * sizeof(struct slice));
        store_slot_keys(st, (unsigned)slot, n, ctx->now_ms, collect_slot_key, &a);
    }
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
        /* as the push would be taken: a group record this node holds with
         * a higher epoch stays (a failover during a move: the tool's text
         * carries the record it read, the node the Sentinels' newer one) */
        cluster_state_keep_newer_groups(st, cur);
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
    /* the newest state accepted, maybe not in the file yet: pushes from
     * other connections, or pulls, while one is being written stack up
     * in order (cluster.h, Durability) */
    const struct cluster_state *cur = cluster_newest(c);
    if (expected != cur->version) {
        if (holds_already(c, cur, ctx->argv[3]))
            cluster_reply_ok_when_saved(ctx, c, "");
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
    cluster_reply_ok_when_saved(ctx, c, "");
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
        reply_syntax_error_of(ctx);
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
    cluster_reply_ok_when_saved(ctx, c, "");
}

/* ------------------------------------------------- REPLICAS, SLAVES */

/* The index of the node named by an id argument in st, or -1. */
static int node_by_id_arg(const struct cluster_state *st, struct slice id)
{
    if (id.len != CLUSTER_ID_LEN)
        return -1;
    for (int i = 0; i < st->nnodes; i++)
        if (memcmp(st->nodes[i].id, id.ptr, CLUSTER_ID_LEN) == 0)
            return i;
    return -1;
}

/* Is id this node (also before any table)? */
static bool is_myself(const struct cluster *c, struct slice id)
{
    return id.len == CLUSTER_ID_LEN && memcmp(c->myid, id.ptr, CLUSTER_ID_LEN) == 0;
}

/* CLUSTER REPLICAS|SLAVES <id>: the replicas of a master, one NODES line
 * each. On shard 0 (the lines show the peer links). */
static void cmd_cluster_replicas(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    int i = node_by_id_arg(st, ctx->argv[2]);
    if (i < 0) {
        if (is_myself(c, ctx->argv[2])) { /* no table: a master without replicas */
            reply_array(ctx->reply, 0);
            return;
        }
        reply_errorf(ctx->reply, "ERR Unknown node " ARG_FMT, ARG(ctx->argv[2]));
        return;
    }
    if (!cluster_node_is_master(st, i)) {
        reply_error(ctx->reply, "ERR The specified node is not a master");
        return;
    }
    long long timeout = config_load(&ctx->shard->node->config, cluster_node_timeout);
    reply_array(ctx->reply, (size_t)(group_size(st, st->nodes[i].group) - 1));
    for (int k = 0; k < st->nnodes; k++) {
        if (k == i || st->nodes[k].group != st->nodes[i].group)
            continue;
        struct buf line;
        buf_init(&line);
        node_line(c, st, k, ctx->now_ms, timeout, &line);
        reply_bulk(ctx->reply, line.data, line.len);
        buf_free(&line);
    }
}

/* ------------------------------------------------------------- RESET */

/* The keys of the whole node, as the shards last published them (each
 * shard's count is refreshed every turn of its loop). */
static long long node_keys(const struct node *n)
{
    long long keys = 0;
    for (int i = 0; i < n->nshards; i++)
        keys += (long long)__atomic_load_n(&n->shards[i]->stats.keys, __ATOMIC_RELAXED);
    return keys;
}

/* Is this node a master (a replica of nobody)? */
static bool node_is_master(const struct exec_ctx *ctx)
{
    return !node_is_replica(ctx->shard->node);
}

/* CLUSTER RESET [HARD|SOFT] (cluster.h, cluster_reset): refused on a
 * master holding keys, as Redis does. */
static void cmd_cluster_reset(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    bool hard = false;
    if (ctx->argc == 3) {
        if (ctx->argv[2].len == 4 && strncasecmp(ctx->argv[2].ptr, "hard", 4) == 0)
            hard = true;
        else if (!(ctx->argv[2].len == 4 && strncasecmp(ctx->argv[2].ptr, "soft", 4) == 0)) {
            reply_error(ctx->reply, "ERR syntax error");
            return;
        }
    } else if (ctx->argc > 3) {
        reply_syntax_error_of(ctx);
        return;
    }
    if (node_is_master(ctx) && node_keys(ctx->shard->node) != 0) {
        reply_error(ctx->reply, "ERR CLUSTER RESET can't be called with master nodes containing keys");
        return;
    }
    char err[300];
    if (cluster_reset(ctx->shard, c, hard, err, sizeof(err)) != 0) {
        reply_errorf(ctx->reply, "ERR %s", err);
        return;
    }
    cluster_reply_ok_when_saved(ctx, c, "");
}

/* ------------------------------- COUNT-FAILURE-REPORTS, LINKS, MYSHARDID */

/* ringkv's nodes send no failure reports (the Sentinels decide failovers):
 * 0 for any known node. */
static void cmd_cluster_count_failure_reports(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    if (node_by_id_arg(cluster_now(c), ctx->argv[2]) < 0 && !is_myself(c, ctx->argv[2])) {
        reply_errorf(ctx->reply, "ERR Unknown node " ARG_FMT, ARG(ctx->argv[2]));
        return;
    }
    reply_int(ctx->reply, 0);
}

/* CLUSTER LINKS: the peer links, in Redis 7's shape. ringkv's links are
 * made one way (each node links to every other: "to"); the other nodes'
 * links to this one are its clients named cluster-peer. On shard 0. */
static void cmd_cluster_links(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    struct cluster_peer_view v[64];
    int who[64], n = 0;
    for (int i = 0; i < st->nnodes && n < 64; i++)
        if (i != st->myself && cluster_peers_view(c, st->nodes[i].id, ctx->now_ms, &v[n]) && v[n].connected)
            who[n++] = i;
    reply_array(ctx->reply, (size_t)n);
    for (int k = 0; k < n; k++) {
        reply_map(ctx->reply, 6);
        reply_bulk_str(ctx->reply, "direction");
        reply_bulk_str(ctx->reply, "to");
        reply_bulk_str(ctx->reply, "node");
        reply_bulk_str(ctx->reply, st->nodes[who[k]].id);
        reply_bulk_str(ctx->reply, "create-time");
        reply_int(ctx->reply, v[k].link_created_ms);
        reply_bulk_str(ctx->reply, "events");
        reply_bulk_str(ctx->reply, v[k].send_buffer_used ? "rw" : "r");
        reply_bulk_str(ctx->reply, "send-buffer-allocated");
        reply_int(ctx->reply, (long long)v[k].send_buffer_used);
        reply_bulk_str(ctx->reply, "send-buffer-used");
        reply_int(ctx->reply, (long long)v[k].send_buffer_used);
    }
}

/* CLUSTER MYSHARDID (Redis 7.2): the id of this node's group, the same on
 * every node of it: the group's number in 40 hex digits; a node in no
 * table is a group of its own (its node id). */
static void cmd_cluster_myshardid(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    if (st->myself < 0) {
        reply_bulk_str(ctx->reply, c->myid);
        return;
    }
    char id[CLUSTER_ID_LEN + 1];
    snprintf(id, sizeof(id), "%040" PRIx32, st->groups[st->nodes[st->myself].group].id);
    reply_bulk_str(ctx->reply, id);
}

/* ------------------------------------- SAVECONFIG, and what ringkv-cluster does */

static void cmd_cluster_saveconfig(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    cluster_save(ctx->shard, c);
    cluster_reply_ok_when_saved(ctx, c, "error saving the cluster node config: ");
}

/* The subcommands with which Redis's nodes build a cluster by hand answer,
 * once their arguments are good by Redis's rules, why ringkv does not take
 * them: the nodes, groups and slots are the table ringkv-cluster pushes,
 * and a group's epoch moves only with its master. */
#define WHY_TABLE "the nodes, groups and slots of a ringkv cluster are the slot table that ringkv-cluster pushes"
static void refuse_by_design(struct exec_ctx *ctx, const char *why)
{
    char name[32];
    size_t n = ctx->argv[1].len < sizeof(name) - 1 ? ctx->argv[1].len : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = ctx->argv[1].ptr[i];
        name[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    name[n] = '\0';
    reply_errorf(ctx->reply, "ERR CLUSTER %s is not used by ringkv: %s", name, why);
}

static void cmd_cluster_bumpepoch(struct exec_ctx *ctx)
{
    if (cluster_or_refuse(ctx))
        refuse_by_design(ctx, "a group's epoch moves only when its master changes (a failover)");
}

static void cmd_cluster_set_config_epoch(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    long long epoch;
    if (!parse_ll(ctx->argv[2], &epoch)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (epoch < 0) {
        reply_errorf(ctx->reply, "ERR Invalid config epoch specified: %lld", epoch);
        return;
    }
    refuse_by_design(ctx, "a group's epoch moves only when its master changes (a failover)");
}

static void cmd_cluster_meet(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    if (ctx->argc > 5) {
        reply_syntax_error_of(ctx);
        return;
    }
    long long port, cport;
    if (!parse_ll(ctx->argv[3], &port)) {
        reply_errorf(ctx->reply, "ERR Invalid TCP base port specified: " ARG_FMT, ARG(ctx->argv[3]));
        return;
    }
    if (ctx->argc == 5 && !parse_ll(ctx->argv[4], &cport)) {
        reply_errorf(ctx->reply, "ERR Invalid TCP bus port specified: " ARG_FMT, ARG(ctx->argv[4]));
        return;
    }
    char ip[64];
    struct sockaddr_storage ss;
    snprintf(ip, sizeof(ip), "%.*s", (int)(ctx->argv[2].len < sizeof(ip) ? ctx->argv[2].len : 0), ctx->argv[2].ptr);
    if (port < 0 || port > 65535 || (ctx->argc == 5 && (cport < 0 || cport > 65535)) || !ip[0] ||
        memchr(ctx->argv[2].ptr, '\0', ctx->argv[2].len) || loop_parse_addr(ip, (int)port, &ss) != 0) {
        reply_errorf(ctx->reply, "ERR Invalid node address specified: " ARG_FMT ":" ARG_FMT, ARG(ctx->argv[2]),
                     ARG(ctx->argv[3]));
        return;
    }
    refuse_by_design(ctx, WHY_TABLE " (ringkv-cluster create)");
}

static void cmd_cluster_forget(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    int i = node_by_id_arg(st, ctx->argv[2]);
    if (i < 0 && !is_myself(c, ctx->argv[2])) {
        reply_errorf(ctx->reply, "ERR Unknown node " ARG_FMT, ARG(ctx->argv[2]));
        return;
    }
    if (is_myself(c, ctx->argv[2])) {
        reply_error(ctx->reply, "ERR I tried hard but I can't forget myself...");
        return;
    }
    if (st->myself >= 0 && !cluster_node_is_master(st, st->myself) &&
        st->groups[st->nodes[st->myself].group].master == i) {
        reply_error(ctx->reply, "ERR Can't forget my master!");
        return;
    }
    refuse_by_design(ctx, WHY_TABLE);
}

static void cmd_cluster_replicate(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    const struct cluster_state *st = cluster_now(c);
    int i = node_by_id_arg(st, ctx->argv[2]);
    if (i < 0 && !is_myself(c, ctx->argv[2])) {
        reply_errorf(ctx->reply, "ERR Unknown node " ARG_FMT, ARG(ctx->argv[2]));
        return;
    }
    if (is_myself(c, ctx->argv[2])) {
        reply_error(ctx->reply, "ERR Can't replicate myself");
        return;
    }
    if (!cluster_node_is_master(st, i)) {
        reply_error(ctx->reply, "ERR I can only replicate a master, not a replica.");
        return;
    }
    refuse_by_design(ctx, "a node replicates its group's master as the slot table says (ringkv-cluster create "
                          "--replicas)");
}

static void cmd_cluster_flushslots(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    if (node_keys(ctx->shard->node) != 0) {
        reply_error(ctx->reply, "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
        return;
    }
    refuse_by_design(ctx, WHY_TABLE);
}

/* A slot argument by Redis's rule, or -1 after answering. */
static int slot_arg(struct exec_ctx *ctx, struct slice a)
{
    long long slot;
    if (!parse_ll(a, &slot) || slot < 0 || slot >= SLOT_COUNT) {
        reply_error(ctx->reply, "ERR Invalid or out of range slot");
        return -1;
    }
    return (int)slot;
}

/* The address a group this node makes for itself (ADDSLOTS on a node
 * without a table) names it by: the first address it listens on that is
 * one address (not a wildcard, not a '-' optional one), else 127.0.0.1.
 * Redis leaves it empty until a peer tells it; the state's text form needs
 * one, and ringkv-cluster replaces it with the address it reaches the node
 * at when it takes the node into a cluster. */
static void own_address(const struct node *n, char *ip, size_t cap)
{
    const char *bind = config_str(&n->config, bind);
    snprintf(ip, cap, "127.0.0.1");
    for (const char *p = bind ? bind : ""; *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len > 0 && len < cap && *p != '-' && *p != '*' && !(len == 7 && memcmp(p, "0.0.0.0", 7) == 0) &&
            !(len == 2 && memcmp(p, "::", 2) == 0)) {
            memcpy(ip, p, len);
            ip[len] = '\0';
            return;
        }
        p += len;
    }
}

/* A copy of the newest state in which this node is in a group: the newest
 * itself, or, on a node without a table, a state of one group (id 0, epoch
 * 1) whose master and only node is this node. NULL after answering. */
static struct cluster_state *state_with_myself(struct exec_ctx *ctx, struct cluster *c)
{
    const struct cluster_state *cur = cluster_newest(c);
    if (cur->myself >= 0)
        return cluster_state_copy(cur);
    char ip[64], err[300];
    own_address(ctx->shard->node, ip, sizeof(ip));
    struct buf text;
    buf_init(&text);
    buf_printf(&text, "ringkv-cluster-state 1\ntable-version %" PRIu64 "\ngroup 0 %s 1\nnode %s %s %d 0\n",
               cur->version + 1, c->myid, c->myid, ip, ctx->shard->node->port);
    struct cluster_state *st = cluster_state_parse(text.data, text.len, c->myid, NULL, err, sizeof(err));
    buf_free(&text);
    if (!st)
        reply_errorf(ctx->reply, "ERR can't make a group of this node: %s", err);
    return st;
}

/* ADDSLOTS/DELSLOTS <slot>..., ADDSLOTSRANGE/DELSLOTSRANGE <start> <end>...:
 * Redis's checks of the arguments (each slot in turn: assigned or not,
 * then named twice), then one new table version in which the slots are
 * this node's group's (ADD; a node without a table becomes the master of
 * a group of its own, as a Redis node that assigns itself slots serves
 * them) or nobody's (DEL). Unlike Redis's, whose DELSLOTS changes only the
 * node's own view until gossip says otherwise, the change is the cluster's:
 * the peers pull the new version as any other (README, Cluster). */
static void cmd_cluster_slots_by_hand(struct exec_ctx *ctx)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    bool range = ctx->argv[1].len > 5 && strncasecmp(ctx->argv[1].ptr + ctx->argv[1].len - 5, "range", 5) == 0;
    bool add = ctx->argv[1].len >= 3 && strncasecmp(ctx->argv[1].ptr, "add", 3) == 0;
    if (range && ctx->argc % 2 == 1) {
        reply_errorf(ctx->reply, "ERR wrong number of arguments for 'cluster|%s' command",
                     add ? "addslotsrange" : "delslotsrange");
        return;
    }
    const struct cluster_state *cur = cluster_newest(c);
    uint8_t *named = mi_zalloc(SLOT_COUNT);
    for (int a = 2; a < ctx->argc; a += range ? 2 : 1) {
        int start = slot_arg(ctx, ctx->argv[a]), end = start;
        if (start < 0)
            goto done;
        if (range) {
            end = slot_arg(ctx, ctx->argv[a + 1]);
            if (end < 0)
                goto done;
            if (start > end) {
                reply_errorf(ctx->reply, "ERR start slot number %d is greater than end slot number %d", start, end);
                goto done;
            }
        }
        for (int sl = start; sl <= end; sl++) {
            bool assigned = cur->slot_group[sl] != CLUSTER_NO_GROUP;
            if (add && assigned) {
                reply_errorf(ctx->reply, "ERR Slot %d is already busy", sl);
                goto done;
            }
            if (!add && !assigned) {
                reply_errorf(ctx->reply, "ERR Slot %d is already unassigned", sl);
                goto done;
            }
            if (named[sl]++) {
                reply_errorf(ctx->reply, "ERR Slot %d specified multiple times", sl);
                goto done;
            }
        }
    }
    struct cluster_state *st = add ? state_with_myself(ctx, c) : cluster_state_copy(cur);
    if (!st)
        goto done;
    st->version = cur->version + 1;
    int mine = add ? st->nodes[st->myself].group : -1;
    for (int sl = 0; sl < SLOT_COUNT; sl++) {
        if (!named[sl])
            continue;
        if (add) {
            st->slot_group[sl] = (uint16_t)mine;
            st->groups[mine].nslots++;
            st->slots_assigned++;
        } else {
            st->groups[st->slot_group[sl]].nslots--;
            st->slot_group[sl] = CLUSTER_NO_GROUP;
            st->slots_assigned--;
        }
    }
    char err[300];
    if (cluster_publish(ctx->shard, c, st, err, sizeof(err)) != 0) {
        reply_errorf(ctx->reply, "ERR %s", err);
        goto done;
    }
    cluster_reply_ok_when_saved(ctx, c, "");
done:
    mi_free(named);
}

/* The slot's keys on this node: exact when the slot's keys are on this
 * shard (shard 0, where SETSLOT runs); -1 when they are another shard's
 * (not readable from here without a message; the admin tool checks
 * COUNTKEYSINSLOT before the flip). */
static long long slot_keys_here(struct exec_ctx *ctx, int slot)
{
    struct store *st = slot_store(ctx, (unsigned)slot);
    return st ? (long long)store_slot_count(st, (unsigned)slot) : -1;
}

/* SETSLOT NODE: the slot to node n (of the newest state)'s group in a new
 * table version, unless the table says so already. The new state is the
 * newest one with that one change and the version + 1, so that every node
 * told the same flip from the same table (redis-cli tells the target, the
 * source and the other masters in turn) makes the same state, whichever
 * of them the peers pull. Returns 1 (a new version accepted), 0 (none
 * needed), or -1 after answering. */
static int flip_slot(struct exec_ctx *ctx, struct cluster *c, int slot, int n)
{
    const struct cluster_state *cur = cluster_newest(c);
    unsigned to = (unsigned)cur->nodes[n].group, from = cur->slot_group[slot];
    if (from == to)
        return 0;
    struct cluster_state *st = cluster_state_copy(cur);
    st->version = cur->version + 1;
    if (from == CLUSTER_NO_GROUP)
        st->slots_assigned++;
    else
        st->groups[from].nslots--;
    st->groups[to].nslots++;
    st->slot_group[slot] = (uint16_t)to;
    char err[300];
    if (cluster_publish(ctx->shard, c, st, err, sizeof(err)) != 0) {
        reply_errorf(ctx->reply, "ERR %s", err);
        return -1;
    }
    return 1;
}

/* CLUSTER SETSLOT <slot> IMPORTING <id> | MIGRATING <id> | STABLE | NODE
 * <id>, Redis's way of moving a slot (README "Growing and shrinking"):
 * IMPORTING on the target (ASKING connections are served the slot there),
 * MIGRATING on the source (its keys still here are served, a command
 * lacking them is sent on with -ASK: cluster.h, migrating_to), then
 * MIGRATE of the keys, then NODE: the flip, a new table version where the
 * slot is the target group's, published like any table change (the peers
 * pull it). STABLE drops the marks. Redis's errors. On shard 0. */
static void setslot(struct exec_ctx *ctx, bool any_role)
{
    struct cluster *c = cluster_or_refuse(ctx);
    if (!c)
        return;
    if (!any_role && !node_is_master(ctx)) {
        reply_error(ctx->reply, "ERR Please use SETSLOT only with masters.");
        return;
    }
    int slot = slot_arg(ctx, ctx->argv[2]);
    if (slot < 0)
        return;
    const struct cluster_state *st = cluster_now(c);
    struct slice action = ctx->argv[3];
#define ACTION_IS(w) (action.len == sizeof(w) - 1 && strncasecmp(action.ptr, w, sizeof(w) - 1) == 0)
    unsigned g = st->slot_group[slot];
    /* the slot is this node's group's (on a master: this node's) */
    bool mine = g != CLUSTER_NO_GROUP && st->myself >= 0 && (unsigned)st->nodes[st->myself].group == g;
    if (any_role && ACTION_IS("node")) {
        reply_error(ctx->reply, "ERR RINGKV-SETSLOT sets marks only: IMPORTING, MIGRATING or STABLE");
        return;
    }
    if (ACTION_IS("importing") && ctx->argc == 5) {
        if (mine) {
            reply_errorf(ctx->reply, "ERR I'm already the owner of hash slot %d", slot);
            return;
        }
        int n = node_by_id_arg(st, ctx->argv[4]);
        if (n < 0) {
            reply_errorf(ctx->reply, "ERR I don't know about node " ARG_FMT, ARG(ctx->argv[4]));
            return;
        }
        if (!cluster_node_is_master(st, n)) {
            reply_error(ctx->reply, "ERR Target node is not a master");
            return;
        }
        cluster_set_importing(c, slot, true);
        reply_ok(ctx->reply);
    } else if (ACTION_IS("stable") && ctx->argc == 4) {
        cluster_set_importing(c, slot, false);
        if (mine) /* a slot given away keeps its mark a while (cluster.h) */
            cluster_set_migrating(c, slot, -1);
        reply_ok(ctx->reply);
    } else if (ACTION_IS("migrating") && ctx->argc == 5) {
        if (!mine) {
            reply_errorf(ctx->reply, "ERR I'm not the owner of hash slot %d", slot);
            return;
        }
        int n = node_by_id_arg(st, ctx->argv[4]);
        if (n < 0) {
            reply_errorf(ctx->reply, "ERR I don't know about node " ARG_FMT, ARG(ctx->argv[4]));
            return;
        }
        if (!cluster_node_is_master(st, n)) {
            reply_error(ctx->reply, "ERR Target node is not a master");
            return;
        }
        if (cluster_set_migrating(c, slot, n) < 0) {
            reply_error(ctx->reply, "ERR too many migration targets since start");
            return;
        }
        reply_ok(ctx->reply);
    } else if (ACTION_IS("node") && ctx->argc == 5) {
        /* the flip is a change of the table: checked against, and built
         * on, the newest state (cluster.h, Durability); the marks above are
         * the gates', of the state in force */
        st = cluster_newest(c);
        g = st->slot_group[slot];
        mine = g != CLUSTER_NO_GROUP && st->myself >= 0 && (unsigned)st->nodes[st->myself].group == g;
        int n = node_by_id_arg(st, ctx->argv[4]);
        if (n < 0) {
            reply_errorf(ctx->reply, "ERR Unknown node " ARG_FMT, ARG(ctx->argv[4]));
            return;
        }
        if (!cluster_node_is_master(st, n)) {
            reply_error(ctx->reply, "ERR Target node is not a master");
            return;
        }
        bool to_me = (unsigned)st->nodes[n].group == (unsigned)st->nodes[st->myself].group;
        if (mine && !to_me && slot_keys_here(ctx, slot) > 0) {
            reply_errorf(ctx->reply, "ERR Can't assign hashslot %d to a different node while I still hold keys "
                                     "for this hash slot.", slot);
            return;
        }
        int flipped = flip_slot(ctx, c, slot, n);
        if (flipped < 0)
            return;
        /* a new version drops the marks when it goes in force (cluster.c,
         * state_in_force); with none, and none on its way, now */
        if (flipped == 0 && cluster_newest(c) == cluster_now(c)) {
            if (to_me)
                cluster_set_importing(c, slot, false);
            else /* after the flip: until then a command lacking its keys is sent on with -ASK */
                cluster_slot_given_away(c, slot, ctx->now_ms);
        }
        cluster_reply_ok_when_saved(ctx, c, "");
    } else {
        reply_error(ctx->reply, "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
    }
#undef ACTION_IS
}

static void cmd_cluster_setslot(struct exec_ctx *ctx)
{
    setslot(ctx, false);
}

/* CLUSTER RINGKV-SETSLOT <slot> IMPORTING <id> | MIGRATING <id> | STABLE:
 * SETSLOT's marks on any node of a group, its replicas included (Redis
 * refuses SETSLOT on a replica, and SETSLOT keeps that). The admin tool
 * marks the replicas of both groups before their masters, so that a
 * replica promoted in the middle of a move holds the marks its master
 * had: the source's replica answers -ASK for the keys that have gone (it
 * got their DELs in its stream) instead of serving them as missing, and
 * the target's replica serves ASKING connections. A replica does not act
 * on its marks while it is one (cluster.c, the gates); they drop as on a
 * master when a table hands the slot over. */
static void cmd_cluster_ringkv_setslot(struct exec_ctx *ctx)
{
    setslot(ctx, true);
}

/* ------------------------------------------- ASKING, READONLY, READWRITE */

/* ASKING: the connection's next command (or the transaction it opens) may
 * use a slot this node is importing (cluster.h, the gate); route.c makes
 * the flag wear off. */
static void cmd_asking(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    if (ctx->client)
        ctx->client->asking = 2;
    reply_ok(ctx->reply);
}

/* READONLY / READWRITE: whether this connection's reads of the slots of
 * this node's group are served here when the node is a replica (writes are
 * redirected to the master either way). */
static void cmd_readonly(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    if (ctx->client)
        ctx->client->read_replica = true;
    reply_ok(ctx->reply);
}

static void cmd_readwrite(struct exec_ctx *ctx)
{
    if (!cluster_or_refuse(ctx))
        return;
    if (ctx->client)
        ctx->client->read_replica = false;
    reply_ok(ctx->reply);
}

/* ------------------------------------------------------------- rows */

/* CLUSTER RINGKV-PUBLISH channel message [origin]: another node's PUBLISH
 * (peers.h, cluster_publish_elsewhere), to this shard's subscribers; the
 * stream takes it to the replicas (JOURNAL_ALWAYS). Not sent on: its node
 * sent it to every group. origin, a replica's id, is the node that had it
 * first: there (its master's stream brings it back) it is not delivered
 * again. */
static void cmd_cluster_ringkv_publish(struct exec_ctx *ctx)
{
    if (ctx->argc == 5) {
        const struct cluster_state *st = cluster_now(cluster_of(ctx->shard->node));
        const char *me = st->myself >= 0 ? st->nodes[st->myself].id : "";
        if (ctx->argv[4].len == strlen(me) && memcmp(ctx->argv[4].ptr, me, ctx->argv[4].len) == 0) {
            reply_int(ctx->reply, 0);
            return;
        }
    }
    reply_int(ctx->reply, pubsub_publish(ctx->shard, ctx->argv[2], ctx->argv[3], ctx->now_ms));
}

#define F_CLUSTER (CMD_CONN | CMD_STALE)
/* on shard 0, the one writer of the state and keeper of the peer links */
#define F_SHARD0 (CMD_SHARD0 | CMD_STALE)
static struct command cluster_subcommands[] = {
    ROW("keyslot", 3, F_CLUSTER, 0, 0, 0, cmd_cluster_keyslot, NULL, "cluster", "3.0.0",
        "Returns the hash slot of the specified key"),
    ROW("slots", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_slots, NULL, "cluster", "3.0.0",
        "Get array of Cluster slot to node mappings"),
    ROW("shards", 2, F_SHARD0, 0, 0, 0, cmd_cluster_shards, NULL, "cluster", "7.0.0",
        "Get array of cluster slots to node mappings"),
    ROW("nodes", 2, F_SHARD0, 0, 0, 0, cmd_cluster_nodes, NULL, "cluster", "3.0.0",
        "Get Cluster config for the node"),
    ROW("info", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_info, NULL, "cluster", "3.0.0",
        "Provides info about Redis Cluster node state"),
    ROW("myid", 2, F_SHARD0, 0, 0, 0, cmd_cluster_myid, NULL, "cluster", "3.0.0",
        "Return the node id"),
    ROW("myshardid", 2, F_SHARD0, 0, 0, 0, cmd_cluster_myshardid, NULL, "cluster", "7.2.0",
        "Return the node shard id"),
    ROW("links", 2, F_SHARD0, 0, 0, 0, cmd_cluster_links, NULL, "cluster", "7.0.0",
        "Returns a list of all TCP links to and from peer nodes in cluster"),
    ROW("countkeysinslot", 3, CMD_ALL_SHARDS | CMD_STALE, 0, 0, 0, cmd_cluster_countkeysinslot,
        merge_sum_int, "cluster", "3.0.0", "Return the number of local keys in the specified hash slot"),
    ROW("getkeysinslot", 4, CMD_ALL_SHARDS | CMD_STALE, 0, 0, 0, cmd_cluster_getkeysinslot,
        merge_concat_arrays, "cluster", "3.0.0", "Return local key names in the specified hash slot"),
    ROW("help", 2, F_CLUSTER | CMD_LOADING, 0, 0, 0, cmd_cluster_help, NULL, "cluster", "5.0.0",
        "Show helpful text about the different subcommands"),
    ROW("addslots", -3, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_slots_by_hand, NULL, "cluster", "3.0.0",
        "Assign new hash slots to receiving node"),
    ROW("addslotsrange", -4, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_slots_by_hand, NULL, "cluster", "7.0.0",
        "Assign new hash slots to receiving node"),
    ROW("bumpepoch", 2, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_bumpepoch, NULL, "cluster", "3.0.0",
        "Advance the cluster config epoch"),
    ROW("count-failure-reports", 3, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_count_failure_reports, NULL,
        "cluster", "3.0.0", "Return the number of failure reports active for a given node"),
    ROW("delslots", -3, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_slots_by_hand, NULL, "cluster", "3.0.0",
        "Set hash slots as unbound in receiving node"),
    ROW("delslotsrange", -4, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_slots_by_hand, NULL, "cluster", "7.0.0",
        "Set hash slots as unbound in receiving node"),
    ROW("failover", -2, CMD_SHARD0 | CMD_ADMIN | CMD_STALE, 0, 0, 0, cmd_cluster_failover, NULL, "cluster",
        "3.0.0", "Forces a replica to perform a manual failover of its master."),
    ROW("flushslots", 2, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_flushslots, NULL, "cluster", "3.0.0",
        "Delete a node's own slots information"),
    ROW("forget", 3, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_forget, NULL, "cluster", "3.0.0",
        "Remove a node from the nodes table"),
    ROW("meet", -4, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_meet, NULL, "cluster", "3.0.0",
        "Force a node cluster to handshake with another node"),
    ROW("replicas", 3, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_replicas, NULL, "cluster", "5.0.0",
        "List replica nodes of the specified master node"),
    ROW("replicate", 3, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_replicate, NULL, "cluster", "3.0.0",
        "Reconfigure a node as a replica of the specified master node"),
    ROW("reset", -2, F_SHARD0 | CMD_ADMIN | CMD_NOSCRIPT, 0, 0, 0, cmd_cluster_reset, NULL, "cluster", "3.0.0",
        "Reset a Redis Cluster node"),
    ROW("saveconfig", 2, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_saveconfig, NULL, "cluster", "3.0.0",
        "Forces the node to save cluster state on disk"),
    ROW("set-config-epoch", 3, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_set_config_epoch, NULL, "cluster", "3.0.0",
        "Set the configuration epoch in a new node"),
    ROW("setslot", -4, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_setslot, NULL, "cluster", "3.0.0",
        "Bind a hash slot to a specific node"),
    ROW("slaves", 3, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_replicas, NULL, "cluster", "3.0.0",
        "List replica nodes of the specified master node"),
    ROW("ringkv-setslot", -4, F_SHARD0 | CMD_ADMIN, 0, 0, 0, cmd_cluster_ringkv_setslot, NULL, "cluster", "0.1.0",
        "Mark a slot importing or migrating on any node of a group, replicas included (ringkv's admin tool)"),
    ROW("ringkv-setstate", 4, CMD_SHARD0 | CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE, 0, 0, 0,
        cmd_cluster_setstate, NULL, "cluster", "0.1.0",
        "Set the node's cluster state (ringkv's admin tool; compare-and-set on the table version)"),
    ROW("ringkv-versions", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_versions, NULL, "cluster", "0.1.0",
        "Return the versions of the node's cluster state (table version, group epochs) for its peers"),
    ROW("ringkv-getstate", 2, F_CLUSTER, 0, 0, 0, cmd_cluster_getstate, NULL, "cluster", "0.1.0",
        "Return the node's cluster state in its text form for its peers"),
    ROW_JOURNAL(JOURNAL_ALWAYS, "ringkv-publish", -4, CMD_ALL_SHARDS | CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST,
                0, 0, 0, cmd_cluster_ringkv_publish, merge_sum_int, "cluster", "0.1.0",
                "Deliver a message PUBLISHed on another node (its peer link), here and to this master's "
                "replicas"),
    END_OF_SUBCOMMANDS,
};

static const struct command cluster_rows[] = {
    CONTAINER("cluster", -2, CMD_CONN, NULL, cluster_subcommands, "cluster", "3.0.0",
              "A container for cluster commands"),
    ROW("asking", 1, CMD_CONN | CMD_FAST, 0, 0, 0, cmd_asking, NULL, "cluster", "3.0.0",
        "Sent by cluster clients after an -ASK redirect"),
    ROW("readonly", 1, CMD_CONN | CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_readonly, NULL, "cluster",
        "3.0.0", "Enables read queries for a connection to a Redis Cluster replica node"),
    ROW("readwrite", 1, CMD_CONN | CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_readwrite, NULL, "cluster",
        "3.0.0", "Disables read queries for a connection to a Redis Cluster replica node"),
};

void cluster_commands_register(void)
{
    command_register(cluster_rows, sizeof(cluster_rows) / sizeof(cluster_rows[0]));
}
