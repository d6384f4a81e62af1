/* cluster: the node's cluster state, its file and the key gate (see
 * cluster.h). */
#include "shards/cluster/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/command.h"
#include "core/config.h"
#include "core/log.h"
#include "shards/cluster/fence.h"
#include "shards/cluster/peers.h"
#include "shards/cluster/sentinels.h"
#include "shards/cluster/state_file.h"
#include "core/reply.h"
#include "net/loop.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/subscriptions.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

struct cluster *cluster_of(const struct node *n)
{
    return n->cluster;
}

/* ------------------------------------------------------------- the gate */

#define ERR_CROSSSLOT  "CROSSSLOT Keys in request don't hash to the same slot"
#define ERR_UNSERVED   "CLUSTERDOWN Hash slot not served"
#define ERR_DOWN       "CLUSTERDOWN The cluster is down"

/* The key gate (node.h): Redis's getNodeByQuery in its order: the first
 * key's slot unserved, then keys over several slots, then a cluster that
 * cannot serve every slot, then another node's slot, where two kinds of
 * connection are served anyway: one that sent ASKING, for a slot this node
 * imports; a READONLY one reading on a replica of the slot's group. One
 * pointer load. */
static const char *cluster_key_gate(const struct node *n, int slot, bool cross, unsigned how, char *err,
                                    size_t errlen)
{
    const struct cluster_state *st = cluster_now(n->cluster);
    unsigned g = st->slot_group[slot];
    if (g == CLUSTER_NO_GROUP)
        return ERR_UNSERVED;
    if (cross)
        return ERR_CROSSSLOT;
    if (st->slots_assigned != SLOT_COUNT)
        return ERR_DOWN;
    int master = st->groups[g].master;
    if (master == st->myself)
        return NULL;
    if (how) {
        /* a replica holds the marks for when it is promoted (RINGKV-SETSLOT) */
        if ((how & KEY_GATE_ASKING) && cluster_importing(n->cluster, slot) && st->myself >= 0 &&
            cluster_node_is_master(st, st->myself))
            return NULL;
        if ((how & KEY_GATE_READ_HERE) && st->myself >= 0 && (unsigned)st->nodes[st->myself].group == g)
            return NULL; /* a replica of the slot's group, read from by a READONLY client */
    }
    const struct cluster_node *m = &st->nodes[master];
    snprintf(err, errlen, "MOVED %d %s:%d", slot, m->ip, m->port);
    return err;
}

/* node.h's role_recorded: a replica is not still named its group's master
 * by the table in force. */
static bool cluster_role_recorded(const struct node *n)
{
    const struct cluster_state *st = cluster_now(n->cluster);
    if (st->myself < 0 || !node_is_replica(n))
        return true;
    return st->groups[st->nodes[st->myself].group].master != st->myself;
}

/* The gate's short cut (node.h, key_gate_served): the slots the gate
 * passes for any connection: those of this node's group while it is the
 * group's master and every slot is served (none for st NULL). A new bitmap each time (the
 * runtime reads the old one without a lock until its command ends); the
 * old one goes with dispatch_free_later on a shard, at once before start. */
static void publish_served(struct shard *sh, struct node *n, const struct cluster_state *st)
{
    uint64_t *bits = NULL;
    if (st && st->slots_assigned == SLOT_COUNT && st->myself >= 0 && cluster_node_is_master(st, st->myself)) {
        bits = mi_zalloc(SLOT_COUNT / 8);
        unsigned g = (unsigned)st->nodes[st->myself].group;
        for (int s = 0; s < SLOT_COUNT; s++)
            if (st->slot_group[s] == g)
                bits[s >> 6] |= (uint64_t)1 << (s & 63);
    }
    const uint64_t *old = atomic_exchange_explicit(&n->key_gate_served, bits, memory_order_acq_rel);
    if (!old)
        return;
    if (!sh) {
        mi_free((void *)old);
        return;
    }
    char **ptrs = mi_malloc(sizeof(char *));
    ptrs[0] = (char *)old;
    dispatch_free_later(sh, ptrs, 1);
}

/* node->key_gate_moving counts the slots marked either way (shard 0 is
 * the one writer; the shards read it before each keyed command). */
static bool slot_moving(const struct cluster *c, int slot)
{
    return cluster_importing(c, slot) || atomic_load_explicit(&c->migrating_to[slot], memory_order_relaxed);
}

static void count_moving(struct node *n, bool before, bool after)
{
    if (before != after)
        atomic_fetch_add_explicit(&n->key_gate_moving, after ? 1 : -1, memory_order_release);
}

void cluster_set_importing(struct cluster *c, int slot, bool on)
{
    if (on && cluster_migrating(c, slot)) {
        /* a slot this node gave away a moment ago comes back: its mark,
         * kept for the grace (given_away_until), would answer -MOVED to the
         * very connections the import is for */
        if (c->given_away_until[slot]) {
            c->given_away_until[slot] = 0;
            c->given_away--;
        }
        cluster_set_migrating(c, slot, -1);
    }
    bool before = slot_moving(c, slot);
    uint64_t bit = (uint64_t)1 << (slot & 63);
    if (on)
        atomic_fetch_or_explicit(&c->importing[slot >> 6], bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&c->importing[slot >> 6], ~bit, memory_order_relaxed);
    count_moving(c->node, before, slot_moving(c, slot));
}

int cluster_set_migrating(struct cluster *c, int slot, int to)
{
    bool before = slot_moving(c, slot);
    unsigned mark = 0;
    if (to >= 0) {
        const struct cluster_node *nd = &cluster_now(c)->nodes[to];
        int n = atomic_load_explicit(&c->ntargets, memory_order_relaxed), t = 0;
        while (t < n && !(strcmp(c->targets[t].id, nd->id) == 0 && strcmp(c->targets[t].ip, nd->ip) == 0 &&
                          c->targets[t].port == nd->port))
            t++;
        if (t == n) {
            if (n == CLUSTER_NODES_MAX)
                return -1;
            struct cluster_target *tg = &c->targets[n];
            memcpy(tg->id, nd->id, sizeof(tg->id));
            memcpy(tg->ip, nd->ip, sizeof(tg->ip));
            tg->port = nd->port;
            atomic_store_explicit(&c->ntargets, n + 1, memory_order_release);
        }
        mark = (unsigned)t + 1;
    }
    atomic_store_explicit(&c->migrating_to[slot], (uint16_t)mark, memory_order_release);
    count_moving(c->node, before, slot_moving(c, slot));
    return 0;
}

void cluster_slot_given_away(struct cluster *c, int slot, int64_t now_ms)
{
    if (!cluster_migrating(c, slot))
        return;
    if (!c->given_away_until[slot])
        c->given_away++;
    c->given_away_until[slot] = now_ms + CLUSTER_GIVEN_AWAY_MS;
}

/* Shard 0's tick: the marks of slots given away long enough ago go. */
static void given_away_tick(struct cluster *c, int64_t now_ms)
{
    for (int sl = 0; c->given_away > 0 && sl < SLOT_COUNT; sl++) {
        if (!c->given_away_until[sl] || c->given_away_until[sl] > now_ms)
            continue;
        c->given_away_until[sl] = 0;
        c->given_away--;
        const struct cluster_state *st = cluster_now(c);
        unsigned g = st->slot_group[sl];
        if (g == CLUSTER_NO_GROUP || st->myself < 0 || (unsigned)st->nodes[st->myself].group != g)
            cluster_set_migrating(c, sl, -1); /* not if the slot came back meanwhile and moves again */
    }
}

#define ERR_TRYAGAIN "TRYAGAIN Multiple keys request during rehashing of slot"

/* The gate at the keys (node.h, key_gate_here), Redis's getNodeByQuery for
 * a slot being moved: on the node giving it away, a write to a key a
 * MIGRATE has in flight on this shard waits (KEY_GATE_WAIT: the runtime
 * holds it and asks again once that MIGRATE settles, as Redis's MIGRATE
 * makes the whole server wait for its keys' time; here only the commands
 * of those keys wait); a command whose keys are
 * all here runs; none here: -ASK to the target (a new key is created there,
 * so a key never gets back here once moved); some here: -TRYAGAIN. On the
 * node importing it (reached only by ASKING, the first gate saw to that), a
 * command of several keys not all there: -TRYAGAIN. Missing means absent or
 * past its time. (MIGRATE, whose row names no keys, is not asked: it moves
 * the slot's keys either way, as in Redis.) One exception to -ASK on the
 * node giving a slot away, where Redis has none: RESTORE-ASKING (a
 * MIGRATE's) of keys not here runs, creating them. The slot is this
 * node's, so its keys belong here: they are coming back from the node it
 * was going to (ringkv-cluster --abort, which first makes that node stop
 * importing, so no client writes them there any more). */
static const char *cluster_key_gate_here(struct shard *sh, const struct command *cmd, int argc,
                                         const struct slice *argv, char *err, size_t errlen)
{
    const struct cluster *c = sh->node->cluster;
    int small[64];
    int *idx = small;
    int nk = command_keys(cmd, argc, argv, idx, 64);
    if (nk <= 0)
        return NULL;
    int slot = (int)key_slot(argv[idx[0]].ptr, argv[idx[0]].len);
    const struct cluster_target *to = cluster_migrating(c, slot);
    if (!to && !cluster_importing(c, slot))
        return NULL;
    const struct cluster_state *st = cluster_now(c);
    /* a replica keeps its master's marks for when it is promoted and does
     * not act on them: what it runs is its master's stream (and READONLY
     * reads of what it has) */
    if (st->myself < 0 || !cluster_node_is_master(st, st->myself))
        return NULL;
    if (to) {
        /* given away by a table published since the first gate passed it */
        unsigned g = st->slot_group[slot];
        if (g == CLUSTER_NO_GROUP)
            return ERR_UNSERVED;
        if (st->groups[g].master != st->myself) {
            const struct cluster_node *m = &st->nodes[st->groups[g].master];
            snprintf(err, errlen, "MOVED %d %s:%d", slot, m->ip, m->port);
            return err;
        }
    }
    /* importing, one key: it passes whether it is here or not (what
     * follows could only answer -TRYAGAIN for several keys), so no lookup:
     * every key a slot move brings (RESTORE-ASKING) comes through here;
     * so do a move's batches (RINGKV-RESTOREMANY, CMD_ASKING), which
     * create their keys whether some are here or not */
    if (!to && (nk == 1 || (cmd->flags & CMD_ASKING)))
        return NULL;
    if (nk > 64) {
        idx = mi_malloc(sizeof(int) * (size_t)nk);
        command_keys(cmd, argc, argv, idx, nk);
    }
    int64_t now = shard_now_ms(sh);
    int missing = 0, here = 0;
    bool several = false, in_flight = false;
    /* a write of a key a MIGRATE has in flight waits: deleted here now, it
     * would live on at the target (Redis's MIGRATE blocks the server); once
     * settled the key is gone (-ASK: the write goes to the target) or, the
     * MIGRATE failed, still here (it runs) */
    const struct keys_in_flight *f = sh->keys_in_flight;
    bool check_flight = to && (cmd->flags & CMD_WRITE) && f && f->by_slot[slot];
    for (int k = 0; k < nk; k++) {
        struct slice key = argv[idx[k]];
        if (check_flight) {
            uint64_t h = store_key_hash(key);
            for (int j = 0; j < f->n && !in_flight; j++)
                in_flight = f->hashes[j] == h;
        }
        if (k > 0 && (key.len != argv[idx[0]].len || memcmp(key.ptr, argv[idx[0]].ptr, key.len) != 0))
            several = true;
        if (store_peek(sh->store, key, now))
            here++;
        else
            missing++;
    }
    if (idx != small)
        mi_free(idx);
    if (in_flight)
        return KEY_GATE_WAIT;
    if (!missing)
        return NULL;
    if (to) {
        if (cmd->flags & CMD_ASKING)
            return NULL;
        if (here)
            return ERR_TRYAGAIN;
        /* to the target's group's master now: the node marked may have
         * died and its replica (marked too) been promoted meanwhile */
        const char *ip = to->ip;
        int port = to->port;
        for (int i = 0; i < st->nnodes; i++)
            if (strcmp(st->nodes[i].id, to->id) == 0) {
                int m = st->groups[st->nodes[i].group].master;
                if (m >= 0) {
                    ip = st->nodes[m].ip;
                    port = st->nodes[m].port;
                }
                break;
            }
        snprintf(err, errlen, "ASK %d %s:%d", slot, ip, port);
        return err;
    }
    return several ? ERR_TRYAGAIN : NULL;
}

/* ------------------------------------------------------------- the file */

/* The file's text for st: a comment, then the state with this node's id. */
static void file_text(const struct cluster *c, const struct cluster_state *st, struct buf *text)
{
    buf_append_str(text, "# ringkv cluster state: written by the node, not to be edited (shards/cluster/state.h)\n");
    cluster_state_format(st, c->myid, text);
}

/* A state accepted and not in force yet: ticket is its text's at the
 * writer (state_file.h). */
struct cluster_unsaved {
    struct cluster_unsaved *next;
    uint64_t ticket;
    struct cluster_state *st;
};

/* A command whose +OK waits until the file holds ticket. */
struct cluster_saved_ack {
    struct cluster_saved_ack *next;
    uint64_t ticket;
    struct shard_msg *msg;
    char err_prefix[64];
};

const struct cluster_state *cluster_newest(const struct cluster *c)
{
    return c->unsaved_last ? c->unsaved_last->st : cluster_now(c);
}

/* 40 random hex characters: the node's id, for its whole life. */
static int make_node_id(char out[CLUSTER_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[CLUSTER_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[CLUSTER_ID_LEN] = '\0';
    return 0;
}

/* Read the whole file into a buffer; 1 if it does not exist, -1 on error. */
static int read_file(const char *path, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    char chunk[8192];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        buf_append(out, chunk, (size_t)r);
    }
    close(fd);
    return 0;
}

/* ----------------------------------------------------------- the module */

/* Every shard keeps its keys by slot (store.h: for COUNTKEYSINSLOT,
 * GETKEYSINSLOT and moving slots), indexing a store that has no index yet:
 * at the first tick, and after a replica's full sync replaced the store.
 * Shard 0 shares the state with the peers, learns masters from the
 * Sentinels, follows its group's record and fences itself when cut off. */
/* Is the slot this node's to serve as its master now (arg: the state)? */
static bool serves_as_master(void *arg, unsigned slot)
{
    const struct cluster_state *st = arg;
    unsigned g = st->slot_group[slot];
    return g != CLUSTER_NO_GROUP && st->myself >= 0 && st->groups[g].master == st->myself;
}

/* A new state (a table version, a failover): subscribers to shard channels
 * whose slot this node no longer serves as master are told to subscribe
 * where it went (subscriptions.h). */
static void shard_channels_follow(struct shard *sh, struct cluster *c)
{
    static _Thread_local const struct cluster_state *seen;
    const struct cluster_state *st = cluster_now(c);
    if (st == seen)
        return;
    seen = st;
    if (sh->nsubscribers > 0 && st)
        pubsub_drop_shard_channels(sh, serves_as_master, (void *)st);
}

static void cluster_tick(struct shard *sh, int64_t now_ms)
{
    struct cluster *c = cluster_of(sh->node);
    if (!c)
        return;
    if (!store_slots_indexed(sh->store))
        store_index_slots(sh->store);
    shard_channels_follow(sh, c);
    if (sh->id != 0)
        return;
    cluster_peers_tick(sh, c, now_ms);
    cluster_sentinels_tick(sh, c, now_ms);
    cluster_roles_tick(sh, c);
    cluster_fence_tick(sh, c, now_ms);
    given_away_tick(c, now_ms);
}

/* Shard 0's loop listens to the file's writer (state_file.h): the bell it
 * rings after each write makes the loop run a turn, whose hook
 * (cluster_turn) puts what was written in force. */
static int cluster_shard_start(struct shard *sh)
{
    struct cluster *c = cluster_of(sh->node);
    if (sh->id == 0 && c && c->file)
        loop_bell(sh->loop, state_file_bell(c->file));
    return 0;
}

static void saved_check(struct shard *sh, struct cluster *c);

static void cluster_turn(struct shard *sh)
{
    struct cluster *c = cluster_of(sh->node);
    if (sh->id == 0 && c && c->file)
        saved_check(sh, c);
}

/* The writer's states and the commands waiting for them, at shutdown:
 * what the writer wrote last is in the file; the waiting commands'
 * messages are abandoned with the heaps, as every message in flight is. */
static void drop_unsaved(struct cluster *c)
{
    while (c->unsaved) {
        struct cluster_unsaved *u = c->unsaved;
        c->unsaved = u->next;
        mi_free(u->st);
        mi_free(u);
    }
    c->unsaved_last = NULL;
    while (c->acks) {
        struct cluster_saved_ack *a = c->acks;
        c->acks = a->next;
        mi_free(a);
    }
    c->acks_last = NULL;
}

/* Shard 0's loop closed the peer links already, and is gone (with it the
 * bell's read): the writer finishes the newest state and stops. */
static void cluster_shard_teardown(struct shard *sh)
{
    struct cluster *c = cluster_of(sh->node);
    if (sh->id == 0 && c) {
        cluster_peers_free(c);
        cluster_sentinels_free(c);
        state_file_stop(c->file);
        c->file = NULL;
        drop_unsaved(c);
    }
}

/* The last state goes once no shard runs. */
static void cluster_node_teardown(struct node *n)
{
    struct cluster *c = n->cluster;
    if (!c)
        return;
    state_file_stop(c->file); /* shard 0 never ran */
    c->file = NULL;
    drop_unsaved(c);
    mi_free(atomic_load(&c->state));
    mi_free((void *)atomic_exchange(&n->key_gate_served, NULL));
    mi_free(c);
    n->cluster = NULL;
}

static const struct shard_module cluster_module = {
    .name = "cluster",
    .start = cluster_shard_start,
    .turn = cluster_turn,
    .tick = cluster_tick,
    .teardown = cluster_shard_teardown,
    .node_teardown = cluster_node_teardown,
};

int cluster_attach(struct node *n, cluster_set_master_fn *set_master)
{
    struct cluster *c = mi_zalloc(sizeof(*c));
    c->set_master = set_master;
    const char *file = config_str(&n->config, cluster_config_file);
    if (!file || !*file || strlen(file) >= sizeof(c->path)) {
        log_warning("Bad cluster-config-file '%s'", file ? file : "");
        mi_free(c);
        return -1;
    }
    snprintf(c->path, sizeof(c->path), "%s", file);
    struct buf text;
    buf_init(&text);
    int rc = read_file(c->path, &text);
    struct cluster_state *st = NULL;
    char err[300];
    if (rc < 0) {
        log_warning("Can't read the cluster config file '%s': %s", c->path, strerror(errno));
    } else if (rc == 0) {
        st = cluster_state_parse(text.data ? text.data : "", text.len, NULL, c->myid, err, sizeof(err));
        if (!st)
            log_warning("Unrecoverable error: corrupted cluster config file \"%s\": %s", c->path, err);
        else if (!c->myid[0]) {
            log_warning("The cluster config file \"%s\" has no 'myid' line", c->path);
            mi_free(st);
            st = NULL;
        }
    } else {
        /* a new node: a new id, no table, and the file holding them at once
         * (a restart must find the same id) */
        st = cluster_state_empty();
        struct buf first;
        buf_init(&first);
        bool made = make_node_id(c->myid) == 0, written = false;
        if (made) {
            /* before the shards run: the one write not left to the writer */
            file_text(c, st, &first);
            written = state_file_write(c->path, first.data, first.len) == 0;
        }
        int why = errno;
        buf_free(&first);
        if (!written) {
            if (made)
                log_warning("can't write the cluster config file '%s': %s", c->path, strerror(why));
            else
                log_warning("can't draw a node id: getrandom failed");
            mi_free(st);
            st = NULL;
        } else {
            log_notice("No cluster configuration found, I'm %s", c->myid);
        }
    }
    buf_free(&text);
    if (st) {
        c->file = state_file_start(c->path);
        if (!c->file) {
            log_warning("Can't start the cluster config file's writer: %s", strerror(errno));
            mi_free(st);
            st = NULL;
        }
    }
    if (!st) {
        mi_free(c);
        return -1;
    }
    if (rc == 0)
        log_notice("Node configuration loaded, I'm %s (slot table version %llu)", c->myid,
                   (unsigned long long)st->version);
    atomic_init(&c->state, st);
    /* a master by its file is fenced until it hears from its deciders: it
     * may have been replaced while it was down (fence.h) */
    atomic_init(&c->fenced, st->myself >= 0 && cluster_node_is_master(st, st->myself));
    n->cluster = c;
    n->key_gate = cluster_key_gate;
    n->key_gate_here = cluster_key_gate_here;
    n->publish_elsewhere = cluster_publish_elsewhere;
    n->role_recorded = cluster_role_recorded;
    c->node = n;
    cluster_fence_attach(n, c);
    publish_served(NULL, n, st);
    node_attach_module(n, &cluster_module);
    return 0;
}

void cluster_save(struct shard *sh, struct cluster *c)
{
    (void)sh;
    struct buf text;
    buf_init(&text);
    file_text(c, cluster_newest(c), &text);
    uint64_t ticket = state_file_hand(c->file, text.data, text.len);
    buf_free(&text);
    /* nothing new goes in force: the newest accepted state is what was
     * written, so no state waits on this ticket, only the command */
    (void)ticket;
}

int cluster_reset(struct shard *sh, struct cluster *c, bool hard, char *err, size_t errlen)
{
    const struct cluster_state *cur = cluster_newest(c);
    struct cluster_state *st = cluster_state_empty();
    char old_id[CLUSTER_ID_LEN + 1];
    memcpy(old_id, c->myid, sizeof(old_id));
    if (hard) {
        if (make_node_id(c->myid) != 0) {
            snprintf(err, errlen, "can't draw a node id: getrandom failed");
            mi_free(st);
            return -1;
        }
    } else {
        st->version = cur->version; /* the forgotten table is not taken back from its old peers */
    }
    if (c->set_master && node_is_replica(sh->node) && c->set_master(sh, NULL, 0, err, errlen) < 0) {
        memcpy(c->myid, old_id, sizeof(old_id));
        mi_free(st);
        return -1;
    }
    if (cluster_publish(sh, c, st, err, errlen) != 0) {
        memcpy(c->myid, old_id, sizeof(old_id));
        return -1;
    }
    for (int sl = 0; sl < SLOT_COUNT; sl++) {
        cluster_set_importing(c, sl, false);
        cluster_set_migrating(c, sl, -1);
        c->given_away_until[sl] = 0;
    }
    c->given_away = 0;
    memset(&c->role, 0, sizeof(c->role));
    if (hard)
        log_notice("CLUSTER RESET HARD: I forgot the cluster, I'm %s now (was %s)", c->myid, old_id);
    else
        log_notice("CLUSTER RESET: I forgot the cluster (table version %llu)", (unsigned long long)st->version);
    return 0;
}

/* Put st (accepted earlier, now in the file) in force. */
static void state_in_force(struct shard *sh, struct cluster *c, struct cluster_state *st)
{
    /* no short cut while the state changes: a command between the two
     * swaps asks the gate, which reads the old state or the new one */
    publish_served(sh, sh->node, NULL);
    struct cluster_state *old = atomic_exchange_explicit(&c->state, st, memory_order_acq_rel);
    publish_served(sh, sh->node, st);
    c->generation++;
    /* the marks of slots the new table (pushed by the admin tool, or
     * pulled) hands over, as SETSLOT NODE drops them: a slot this node
     * was giving away and is another group's now keeps its mark for the
     * grace; a slot it was importing and owns now is simply its own */
    if (atomic_load_explicit(&sh->node->key_gate_moving, memory_order_relaxed) > 0)
        for (int sl = 0; sl < SLOT_COUNT; sl++) {
            unsigned g = st->slot_group[sl];
            /* this node's group's: a replica keeps its marks as its master does */
            bool mine = g != CLUSTER_NO_GROUP && st->myself >= 0 && (unsigned)st->nodes[st->myself].group == g;
            if (mine && cluster_importing(c, sl))
                cluster_set_importing(c, sl, false);
            else if (!mine && cluster_migrating(c, sl) && !c->given_away_until[sl])
                cluster_slot_given_away(c, sl, shard_now_ms(sh));
        }
    char **ptrs = mi_malloc(sizeof(char *));
    ptrs[0] = (char *)old;
    dispatch_free_later(sh, ptrs, 1);
    if (atomic_load_explicit(&sh->node->repl_writes_paused, memory_order_relaxed))
        /* writes a FAILOVER's old master holds until its table names the
         * new master (node.h, role_recorded) run now: -MOVED to it */
        pause_wake_all(sh);
    /* follow a changed group record now, not at the next tick: a promotion
     * by hand in between would be taken for a return to the old record */
    cluster_roles_tick(sh, c);
}

int cluster_publish(struct shard *sh, struct cluster *c, struct cluster_state *st, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct buf text;
    buf_init(&text);
    file_text(c, st, &text);
    struct cluster_unsaved *u = mi_zalloc(sizeof(*u));
    u->ticket = state_file_hand(c->file, text.data, text.len);
    u->st = st;
    buf_free(&text);
    if (c->unsaved_last)
        c->unsaved_last->next = u;
    else
        c->unsaved = u;
    c->unsaved_last = u;
    (void)sh;
    return 0;
}

/* Answer a waiting command's message and send it home. */
static void ack_answer(struct shard *sh, struct cluster_saved_ack *a, const char *error)
{
    struct shard_msg *m = a->msg;
    struct reply rep = { &m->reply, m->proto };
    if (error)
        reply_errorf(&rep, "ERR %s%s", a->err_prefix, error);
    else
        reply_ok(&rep);
    m->answered = true;
    msg_post(sh, m, m->home);
    mi_free(a);
}

/* What the writer reported since the last look (two atomic loads when
 * nothing): the newest state the file holds goes in force (the older ones
 * it superseded never do), the states whose write failed are dropped
 * (unless a newer one built on them made it), and the commands waiting for
 * them are answered. Each turn of shard 0, after the bell. */
static void saved_check(struct shard *sh, struct cluster *c)
{
    int failed_errno = 0;
    uint64_t durable = state_file_durable(c->file);
    uint64_t failed = state_file_failed(c->file, &failed_errno);
    if (durable == c->seen_durable && failed == c->seen_failed)
        return;
    c->seen_durable = durable;
    c->seen_failed = failed;
    char why[1200];
    snprintf(why, sizeof(why), "can't write the cluster config file '%s': %s", c->path, strerror(failed_errno));
    struct cluster_state *take = NULL;
    while (c->unsaved && (c->unsaved->ticket <= durable || c->unsaved->ticket <= failed)) {
        struct cluster_unsaved *u = c->unsaved;
        c->unsaved = u->next;
        if (!c->unsaved)
            c->unsaved_last = NULL;
        if (u->ticket <= durable) {
            mi_free(take); /* never in force: superseded in the file by u's */
            take = u->st;
        } else {
            log_warning("Cluster state (table version %" PRIu64 ") not taken: %s", u->st->version, why);
            mi_free(u->st);
        }
        mi_free(u);
    }
    if (take)
        state_in_force(sh, c, take);
    while (c->acks && (c->acks->ticket <= durable || c->acks->ticket <= failed)) {
        struct cluster_saved_ack *a = c->acks;
        c->acks = a->next;
        if (!c->acks)
            c->acks_last = NULL;
        ack_answer(sh, a, a->ticket <= durable ? NULL : why);
    }
}

void cluster_reply_ok_when_saved(struct exec_ctx *ctx, struct cluster *c, const char *err_prefix)
{
    saved_check(ctx->shard, c); /* what the writer did since this turn began */
    uint64_t ticket = state_file_handed(c->file);
    int failed_errno = 0;
    if (ticket <= c->seen_durable) {
        reply_ok(ctx->reply);
        return;
    }
    if (ticket <= c->seen_failed) {
        state_file_failed(c->file, &failed_errno);
        reply_errorf(ctx->reply, "ERR %scan't write the cluster config file '%s': %s", err_prefix, c->path,
                     strerror(failed_errno));
        return;
    }
    if (!ctx->msg) {
        /* not run through a message (a CMD_SHARD0 row always is): nothing
         * to keep, and +OK would come before the file holds the state */
        reply_errorf(ctx->reply, "ERR %sthe cluster config file is being written: try again", err_prefix);
        return;
    }
    struct cluster_saved_ack *a = mi_zalloc(sizeof(*a));
    a->ticket = ticket;
    a->msg = ctx->msg;
    snprintf(a->err_prefix, sizeof(a->err_prefix), "%s", err_prefix);
    if (c->acks_last)
        c->acks_last->next = a;
    else
        c->acks = a;
    c->acks_last = a;
    ctx->deferred = true;
}
