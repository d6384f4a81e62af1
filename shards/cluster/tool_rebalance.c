/* tool_rebalance: `ringkv-cluster rebalance` and `--abort` (tool.h; issue
 * 11; README "Growing and shrinking").
 *
 *   rebalance <any-node> [--weight GROUP=W ...]
 *     1. read the state (tool_reshard.c's reshard_open: every node at one
 *        table version); GROUP is a group id as `status` prints it, W an
 *        integer 1..CLUSTER_WEIGHT_MAX; an unknown group or a bad W is
 *        refused before anything changes;
 *     2. weights that differ from the state's are set in one new table
 *        version (the same slots), pushed to every node by compare-and-set:
 *        the weights are the cluster's, stored in its state (state.h) and
 *        its file, so the next add, remove or rebalance computes from them;
 *     3. the target table: placement over every group and its weight; the
 *        slots to move are exactly those whose owner differs from it;
 *     4. the plan, the moves and the summary of add/remove (reshard_move).
 *     Interrupted, `rebalance` again (without --weight: they are set)
 *     resumes: the slots still to move are those not yet at their target.
 *
 *   add|remove|rebalance ... --abort
 *     rolls back what an interrupted move left unfinished: the slots marked
 *     MIGRATING (on their owner) or IMPORTING (on the node they were going
 *     to) with their keys partly moved. Every node first settles on one
 *     table version (a flip pushed to the target but not the source is
 *     then everyone's: that slot has moved, its keys were all sent before
 *     the flip). Then for each marked slot, with O its owner in that table:
 *       1. SETSLOT STABLE on every other node that marks it or that O's
 *          mark names: it stops taking the slot's writes through -ASK (a
 *          client sent there is sent back to O, and round again: an error
 *          it can retry, never a stale or lost value) while
 *       2. its keys of the slot go back to O (MIGRATE REPLACE from it,
 *          reshard_drain), until it has none;
 *       3. SETSLOT STABLE on O: the slot is simply O's again.
 *     Then it checks that no master shows a mark any more (CLUSTER NODES,
 *     a while: a node told STABLE by a moment-late flip may still show
 *     one), and clears the marks the move gave the groups' replicas
 *     (RINGKV-SETSLOT STABLE), until none shows one. For add, a new group that serves no slot yet
 *     is then taken out again as remove does (its Sentinel names too).
 *     Not rolled back: slots whose move finished (their flip), and weights
 *     set by rebalance; run remove or rebalance for those. */
#include <inttypes.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/resp.h"
#include "shards/cluster/state.h"
#include "shards/cluster/tool.h"
#include "shards/cluster/tool_client.h"
#include "shards/store/slot.h"

/* Slots rolled back together (one GETKEYSINSLOT pipeline). */
#define ABORT_SLOTS_PER_STEP 64
/* How long the marks may take to go after the rollback (a table version
 * still reaching a node hands its marked slot over). */
#define MARKS_GONE_MS 20000

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The group ids of st, "1, 2, 4", for messages. */
static void group_list(const struct cluster_state *st, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = 0;
    for (int g = 0; g < st->ngroups && n < outlen; g++)
        n += (size_t)snprintf(out + n, outlen - n, "%s%" PRIu32, g ? ", " : "", st->groups[g].id);
}

static bool ask(const char *question)
{
    if (!isatty(STDIN_FILENO))
        return true;
    printf("%s (type 'yes' to accept): ", question);
    fflush(stdout);
    char line[64];
    return fgets(line, sizeof line, stdin) && strncmp(line, "yes", 3) == 0;
}

/* --------------------------------------------------------- rebalance */

int tool_rebalance(const struct tool_reshard_opts *o)
{
    if (o->abort)
        return tool_abort(o, "rebalance");
    char host[256];
    int port, rc = TOOL_EXIT_FAIL;
    tool_split_addr(o->addrs[0], host, sizeof host, &port);
    struct reshard *x = reshard_open(host, port, o);
    if (!x)
        return TOOL_EXIT_FAIL;
    uint16_t *table = calloc(SLOT_COUNT, sizeof *table);
    int *moves = calloc(SLOT_COUNT, sizeof *moves);
    struct buf text;
    buf_init(&text);
    if (!table || !moves)
        abort();
    const struct cluster_state *st = reshard_state(x);
    struct cluster_state *want = cluster_state_copy(st);
    bool changed = false;
    for (int i = 0; i < o->nweights; i++) {
        int g = cluster_state_group_by_id(want, o->weights[i].group);
        if (g < 0) {
            char groups[512];
            group_list(st, groups, sizeof groups);
            fprintf(stderr, "[ERR] No group %" PRIu32 " in the cluster: its groups are %s (the GROUP column of "
                            "ringkv-cluster status). Nothing changed.\n", o->weights[i].group, groups);
            goto out;
        }
        changed = changed || want->groups[g].weight != o->weights[i].weight;
        want->groups[g].weight = o->weights[i].weight;
    }
    uint32_t total = 0;
    for (int g = 0; g < want->ngroups; g++)
        total += want->groups[g].weight;
    printf(">>> Weights (target share of the slots):");
    for (int g = 0; g < want->ngroups; g++)
        printf("%s group %" PRIu32 ": %" PRIu32 " (%.1f%%)", g ? "," : "", want->groups[g].id,
               want->groups[g].weight, 100.0 * want->groups[g].weight / total);
    printf("\n");
    bool yes = o->yes;
    if (changed) {
        if (!yes && !ask("Set these weights and move the slots?")) {
            fprintf(stderr, "Nothing changed.\n");
            goto out;
        }
        yes = true;
        want->version = st->version + 1;
        cluster_state_format(want, NULL, &text);
        buf_append(&text, "", 1);
        printf(">>> Setting the weights (table version %" PRIu64 ")\n", want->version);
        if (reshard_push_all(x, text.data, host, port) < 0)
            goto out;
        st = reshard_state(x);
    }
    if (reshard_target(st, -1, table) < 0) {
        fprintf(stderr, "[ERR] the target table could not be computed\n");
        goto out;
    }
    for (int s = 0; s < SLOT_COUNT; s++)
        moves[s] = table[s] != st->slot_group[s] ? table[s] : -1;
    if (reshard_move(x, moves, yes) < 0)
        goto out;
    st = reshard_state(x);
    printf("[OK] Slots per group:");
    for (int g = 0; g < st->ngroups; g++)
        printf("%s group %" PRIu32 ": %d (%.1f%%)", g ? "," : "", st->groups[g].id, st->groups[g].nslots,
               100.0 * st->groups[g].nslots / SLOT_COUNT);
    printf("\n");
    rc = 0;
out:
    mi_free(want);
    buf_free(&text);
    free(table);
    free(moves);
    reshard_close(x);
    return rc;
}

/* ------------------------------------------------------------- abort */

/* A slot mark as CLUSTER NODES shows it on a node's own line: "[s->-id]"
 * (MIGRATING to id) or "[s-<-id]" (IMPORTING). */
struct mark {
    int slot;
    int node;   /* the node showing it */
    int other;  /* the node it names, or -1 */
};

/* Append node i's marks to *marks: how many, or -1. */
static int read_marks(struct reshard *x, int i, struct mark **marks, int *nmarks, int *cap)
{
    const struct cluster_state *st = reshard_state(x);
    struct tool_client *c = reshard_node(x, i);
    if (!c)
        return -1;
    const char *cmd[] = { "CLUSTER", "NODES" };
    char *text = tool_call_text(c, 2, cmd);
    if (!text) {
        fprintf(stderr, "[ERR] %s\n", c->err);
        return -1;
    }
    int found = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char flags[128] = "";
        if (sscanf(line, "%*s %*s %127s", flags) != 1 || !strstr(flags, "myself"))
            continue;
        for (char *w = strchr(line, '['); w; w = strchr(w + 1, '[')) {
            int slot, used = 0;
            char id[CLUSTER_ID_LEN + 1];
            if (sscanf(w, "[%d->-%40[0-9a-f]]%n", &slot, id, &used) != 2 &&
                sscanf(w, "[%d-<-%40[0-9a-f]]%n", &slot, id, &used) != 2)
                continue;
            if (slot < 0 || slot >= SLOT_COUNT)
                continue;
            int other = -1;
            for (int n = 0; n < st->nnodes; n++)
                if (strcmp(st->nodes[n].id, id) == 0)
                    other = n;
            if (*nmarks == *cap) {
                *cap = *cap ? *cap * 2 : 256;
                *marks = realloc(*marks, sizeof **marks * (size_t)*cap);
                if (!*marks)
                    abort();
            }
            (*marks)[(*nmarks)++] = (struct mark){ .slot = slot, .node = i, .other = other };
            found++;
        }
    }
    free(text);
    return found;
}

/* The marks of every master: how many, or -1. */
static int all_marks(struct reshard *x, struct mark **marks, int *nmarks, int *cap)
{
    const struct cluster_state *st = reshard_state(x);
    *nmarks = 0;
    for (int g = 0; g < st->ngroups; g++)
        if (read_marks(x, st->groups[g].master, marks, nmarks, cap) < 0)
            return -1;
    return *nmarks;
}

static bool is_replica(const struct cluster_state *st, int i)
{
    int g = st->nodes[i].group;
    return g >= 0 && g < st->ngroups && st->groups[g].master != i;
}

/* The marks of every replica (a move marks a group's replicas before its
 * master: RINGKV-SETSLOT, so that one promoted mid-move goes on with
 * them): how many. A replica that does not answer is left out with a
 * warning (its marks stay until it is reached: run the abort again). */
static int replica_marks(struct reshard *x, struct mark **marks, int *nmarks, int *cap)
{
    const struct cluster_state *st = reshard_state(x);
    *nmarks = 0;
    for (int i = 0; i < st->nnodes; i++)
        if (is_replica(st, i) && read_marks(x, i, marks, nmarks, cap) < 0)
            fprintf(stderr, "[WARN] %s:%d (a replica) did not answer: its slot marks, if any, stay\n",
                    st->nodes[i].ip, st->nodes[i].port);
    return *nmarks;
}

static int stable_each_sub(struct reshard *x, int i, const int *slots, int n, const char *sub);

/* CLUSTER SETSLOT <slot> STABLE on node i for each slot, pipelined. */
static int stable_each(struct reshard *x, int i, const int *slots, int n)
{
    return stable_each_sub(x, i, slots, n, "SETSLOT");
}

/* The replicas' marks cleared (RINGKV-SETSLOT <slot> STABLE: a replica
 * takes marks from the tool only), node by node; then none may be left.
 * After the masters': a replica's marks matter once it is promoted, and
 * promoted with them it would answer -ASK for slots no master imports
 * (a client sent back and forth). Returns the slots cleared, or -1. */
static int clear_replica_marks(struct reshard *x, struct mark **marks, int *nmarks, int *cap)
{
    const struct cluster_state *st = reshard_state(x);
    long long deadline = mono_ms() + MARKS_GONE_MS;
    int cleared = 0;
    int *slots = malloc(sizeof(int) * SLOT_COUNT);
    if (!slots)
        abort();
    for (int left; (left = replica_marks(x, marks, nmarks, cap)) > 0;) {
        if (mono_ms() > deadline) {
            fprintf(stderr, "[ERR] %d slot mark(s) left on replicas, e.g. slot %d on %s:%d\n", left, (*marks)[0].slot,
                    st->nodes[(*marks)[0].node].ip, st->nodes[(*marks)[0].node].port);
            free(slots);
            return -1;
        }
        for (int i = 0; i < st->nnodes; i++) {
            int n = 0;
            for (int k = 0; k < *nmarks; k++)
                if ((*marks)[k].node == i)
                    slots[n++] = (*marks)[k].slot;
            if (n && stable_each_sub(x, i, slots, n, "RINGKV-SETSLOT") < 0) {
                free(slots);
                return -1;
            }
            cleared += n;
        }
        usleep(200 * 1000);
    }
    free(slots);
    return cleared;
}

/* CLUSTER <sub> <slot> STABLE on node i for each slot, pipelined. */
static int stable_each_sub(struct reshard *x, int i, const int *slots, int n, const char *sub)
{
    struct tool_client *c = reshard_node(x, i);
    if (!c)
        return -1;
    struct buf out;
    buf_init(&out);
    for (int k = 0; k < n; k++) {
        char sl[16];
        snprintf(sl, sizeof sl, "%d", slots[k]);
        const char *argv[] = { "CLUSTER", sub, sl, "STABLE" };
        resp_encode_strings(&out, 4, argv);
    }
    int rc = tool_send(c, &out);
    buf_free(&out);
    for (int k = 0; rc == 0 && k < n; k++) {
        if (tool_read(c) < 0) {
            rc = -1;
            break;
        }
        if (c->reply.len < 3 || memcmp(c->reply.data, "+OK", 3) != 0) {
            fprintf(stderr, "[ERR] CLUSTER %s %d STABLE: %s answered %.*s\n", sub, slots[k], c->addr,
                    (int)(c->reply.len > 200 ? 200 : c->reply.len - 2), c->reply.data);
            rc = -2;
        }
    }
    if (rc == -1)
        fprintf(stderr, "[ERR] %s\n", c->err);
    return rc < 0 ? -1 : 0;
}

/* Steps 1-3 of the header for every marked slot. */
static int roll_back(struct reshard *x, const struct mark *marks, int nmarks, int *slots_out)
{
    const struct cluster_state *st = reshard_state(x);
    int nn = st->nnodes;
    /* away[n * SLOT_COUNT + s]: node n, not the owner, holds or may hold
     * keys of slot s; owned[s]: slot s is marked on its owner */
    unsigned char *away = calloc((size_t)nn * SLOT_COUNT, 1);
    unsigned char *owned = calloc(SLOT_COUNT, 1);
    int *step = calloc(ABORT_SLOTS_PER_STEP, sizeof *step);
    int *to_stable = calloc(SLOT_COUNT, sizeof *to_stable);
    int rc = -1;
    if (!away || !owned || !step || !to_stable)
        abort();
    for (int k = 0; k < nmarks; k++) {
        const struct mark *m = &marks[k];
        unsigned g = st->slot_group[m->slot];
        if (g == CLUSTER_NO_GROUP)
            continue;
        int owner = st->groups[g].master;
        if (m->node == owner)
            owned[m->slot] = 1;
        else
            away[(size_t)m->node * SLOT_COUNT + (size_t)m->slot] = 1;
        if (m->other >= 0 && m->other != owner && cluster_node_is_master(st, m->other))
            away[(size_t)m->other * SLOT_COUNT + (size_t)m->slot] = 1;
    }
    int rolled = 0;
    for (int n = 0; n < nn; n++) {
        /* this node's slots, in steps of one owner */
        for (int s = 0; s < SLOT_COUNT;) {
            if (!away[(size_t)n * SLOT_COUNT + (size_t)s]) {
                s++;
                continue;
            }
            int owner = st->groups[st->slot_group[s]].master, k = 0;
            for (; s < SLOT_COUNT && k < ABORT_SLOTS_PER_STEP; s++)
                if (away[(size_t)n * SLOT_COUNT + (size_t)s]) {
                    if (st->groups[st->slot_group[s]].master != owner)
                        break;
                    step[k++] = s;
                }
            printf(">>> Slots %d..%d: keys on %s:%d back to their owner %s:%d\n", step[0], step[k - 1],
                   st->nodes[n].ip, st->nodes[n].port, st->nodes[owner].ip, st->nodes[owner].port);
            fflush(stdout);
            if (stable_each(x, n, step, k) < 0 || reshard_drain(x, n, step, k, owner) < 0)
                goto out;
            rolled += k;
        }
    }
    for (int g = 0; g < st->ngroups; g++) {
        int owner = st->groups[g].master, n = 0;
        for (int s = 0; s < SLOT_COUNT; s++)
            if (st->slot_group[s] == g && owned[s])
                to_stable[n++] = s;
        if (n && stable_each(x, owner, to_stable, n) < 0)
            goto out;
    }
    for (int s = 0; s < SLOT_COUNT; s++) {
        bool any = owned[s];
        for (int n = 0; n < nn && !any; n++)
            any = away[(size_t)n * SLOT_COUNT + (size_t)s];
        *slots_out += any;
    }
    (void)rolled;
    rc = 0;
out:
    free(away);
    free(owned);
    free(step);
    free(to_stable);
    return rc;
}

/* For an add: the group whose master is addrs[1], if it serves no slot,
 * out again. */
static int take_out_added(struct reshard *x, const char *master, const char *host, int port)
{
    char mh[256], id[CLUSTER_ID_LEN + 1] = "";
    int mport;
    tool_split_addr(master, mh, sizeof mh, &mport);
    struct tool_client m;
    if (tool_connect(&m, mh, mport, TOOL_TIMEOUT_MS, NULL) < 0) {
        fprintf(stderr, "[ERR] %s\n", m.err);
        tool_close(&m);
        return -1;
    }
    const char *cmd[] = { "CLUSTER", "MYID" };
    char *got = tool_call_text(&m, 2, cmd);
    if (!got)
        fprintf(stderr, "[ERR] %s\n", m.err);
    tool_close(&m);
    if (!got)
        return -1;
    snprintf(id, sizeof id, "%s", got);
    free(got);
    const struct cluster_state *st = reshard_state(x);
    int g = -1;
    for (int n = 0; n < st->nnodes; n++)
        if (strcmp(st->nodes[n].id, id) == 0)
            g = st->nodes[n].group;
    if (g < 0) {
        printf("[OK] %s is in no group of the cluster: no group to take out.\n", master);
        return 0;
    }
    uint32_t gid = st->groups[g].id;
    if (st->groups[g].nslots > 0) {
        printf("[OK] Group %" PRIu32 " serves %d slots moved before the interruption: it stays (take it out with "
               "ringkv-cluster remove, which moves them back).\n", gid, st->groups[g].nslots);
        return 0;
    }
    printf(">>> Group %" PRIu32 " serves no slot yet: taking it out again\n", gid);
    if (reshard_take_out(x, gid, host, port) < 0)
        return -1;
    printf("[OK] Group %" PRIu32 " taken out; its nodes are in no cluster.\n", gid);
    return 0;
}

int tool_abort(const struct tool_reshard_opts *o, const char *kind)
{
    char host[256];
    int port, rc = TOOL_EXIT_FAIL;
    tool_split_addr(o->addrs[0], host, sizeof host, &port);
    struct reshard *x = reshard_open(host, port, o);
    if (!x)
        return TOOL_EXIT_FAIL;
    struct mark *marks = NULL;
    int nmarks = 0, cap = 0, slots = 0;
    printf(">>> Aborting an interrupted %s: waiting for every node to hold one table version\n", kind);
    fflush(stdout);
    if (reshard_settle(x, 30000) < 0 || reshard_reread(x, host, port) < 0)
        goto out;
    if (all_marks(x, &marks, &nmarks, &cap) < 0)
        goto out;
    bool none = nmarks == 0;
    if (!none) {
        if (!o->yes && !ask("Move the keys of the slots being moved back to their owners?")) {
            fprintf(stderr, "Nothing changed.\n");
            goto out;
        }
        if (roll_back(x, marks, nmarks, &slots) < 0) {
            fprintf(stderr, "[ERR] the rollback stopped; run the same command again to go on.\n");
            goto out;
        }
        /* none left, checked */
        long long deadline = mono_ms() + MARKS_GONE_MS;
        for (int left; (left = all_marks(x, &marks, &nmarks, &cap)) != 0;) {
            if (left < 0 || mono_ms() > deadline) {
                fprintf(stderr, "[ERR] %d slot mark(s) left, e.g. slot %d on %s:%d\n", nmarks,
                        nmarks > 0 ? marks[0].slot : -1, nmarks > 0 ? reshard_state(x)->nodes[marks[0].node].ip : "",
                        nmarks > 0 ? reshard_state(x)->nodes[marks[0].node].port : 0);
                goto out;
            }
            usleep(200 * 1000);
        }
    }
    /* the OK only once the replicas show no mark either */
    int cleared = clear_replica_marks(x, &marks, &nmarks, &cap);
    if (cleared < 0)
        goto out;
    if (cleared > 0)
        printf("[OK] %d slot mark(s) cleared on replicas.\n", cleared);
    if (none)
        printf("[OK] No slot is being moved (none MIGRATING or IMPORTING).\n");
    else
        printf("[OK] %d slot(s) rolled back: each is its owner's, with all its keys; none MIGRATING or "
               "IMPORTING.\n", slots);
    if (strcmp(kind, "add") == 0 && take_out_added(x, o->addrs[1], host, port) < 0)
        goto out;
    rc = 0;
out:
    free(marks);
    reshard_close(x);
    return rc;
}
