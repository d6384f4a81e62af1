/* tool_reshard: `ringkv-cluster add` and `remove` (tool.h; issue 11):
 * grow or shrink a running cluster by one group, slots moving live in
 * Redis's way (README "Growing and shrinking", design notes).
 *
 *   add <any-node> <new-master> [<replica>...]
 *     1. read the state from <any-node> (CLUSTER RINGKV-GETSTATE) and wait
 *        until every node holds that table version;
 *     2. check the new nodes (cluster mode, in no cluster, empty), then push
 *        the state with the new group (id: the highest + 1, no slots yet)
 *        to every node (RINGKV-SETSTATE, compare-and-set on the version),
 *        make the replicas follow their master, wait until all agree;
 *     3. the target table: placement_compute over all the groups (ids as
 *        decimal text, as create does, and each group's weight from the
 *        state: 1 unless set by --weight); the slots to move are
 *        those it gives the new group (only those: the other groups'
 *        slots stay where they are, so nothing moves twice);
 *     4. with Sentinels in the state: once the replicas' links are up, the
 *        group is registered with them as create --sentinels does
 *        (tool_sentinel.c), and waited for until they know its replicas;
 *     5. the plan (slots, keys and bytes per source group), confirmed when
 *        stdin is a terminal; then move_slot for each, with a progress line.
 *   remove <any-node> <master-of-group>
 *     the same, the slots being the group's, each to its owner in the
 *     target table of the other groups; then the state without the group
 *     is pushed to the other nodes, its name taken off the Sentinels
 *     (SENTINEL REMOVE), and the group's nodes are told CLUSTER RESET HARD
 *     (empty, in no cluster: they can be shut down or added again).
 *
 * Moving slots (move_all, move_slots), as redis-cli does it but
 * SLOTS_PER_FLIP slots of one source and target at a time (a step), each
 * step pipelined: SETSLOT IMPORTING on the target, MIGRATING on the
 * source; then the source pushes their keys itself: one RINGKV-MIGRATESLOTS
 * <target> ... BATCH --batch PIPELINE --pipeline SLOTS <the step's slots>
 * (shards/commands/migrate_slots.c: batches of MIGRATE ... REPLACE run by
 * the source, --pipeline of them in flight, until the slots hold no key
 * there; REPLACE: a key written on the source between two batches stays
 * there, and is sent again over the target's older copy), answered once
 * they are empty (push_step; in pieces under --max-keys-per-sec).
 * --by-migrate does this part as before the push: GETKEYSINSLOT <slot>
 * <batch> for each and MIGRATE ... REPLACE KEYS k1..kN from the tool, up
 * to --pipeline unanswered, the next listing behind the last, until the
 * source has none. Then the flip: one new table version giving them to the
 * target, made by the tool and pushed to the target then the source
 * (flip_push says why not by SETSLOT NODE), and SETSLOT NODE on both,
 * which drops the marks. From MIGRATING on, a key missing on the source
 * is created on the target (-ASK), so "none left" stays true once seen.
 * Once every step is done, the last flip's table goes to every node that
 * holds an older one (push_last_flip), rather than waiting for them to
 * pull it from their peers.
 *
 * --parallel movers (threads, each with connections of its own) take the
 * steps from one queue, the pairs of source and target in turn, so that
 * several sources (or several steps of one) move at once: the move is
 * bound by round trips, not by the nodes' CPU (bench/RESULTS.md, "Growing
 * a cluster"). Their flips are one after another (x->lock). The rate
 * (--max-keys-per-sec) is one account for all of them: a MIGRATE is sent
 * only when the keys sent so far stay within the limit times the time
 * gone.
 *
 * Interrupted, running the same command again resumes: the group added is
 * found in the state (step 2 is skipped), the slots still to move are the
 * ones whose owner is not yet their target, and moving a slot again from
 * wherever it was left is the same steps (each is idempotent; a slot the
 * target already owns only needs the source told).
 *
 * Nodes dying (issue 11, faults; tests/interop/test_reshard_faults.c): the
 * marks go to the replicas of both groups before their masters (CLUSTER
 * RINGKV-SETSLOT), so a replica Sentinel promotes mid-move goes on with
 * it; a step is marked again, on the masters the state names now, when it
 * is done again. A node that does not answer and is no group's master by
 * the state (a dead replica, a master replaced) is gone without, with a
 * warning (may_go_without), and a resumed add finds its group from any
 * node given that the state lists, dead ones by address. add registers
 * the new group with the cluster's Sentinels, remove unregisters it. */
#include <inttypes.h>
#include <mimalloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "core/buf.h"
#include "core/resp.h"
#include "shards/cluster/placement.h"
#include "shards/cluster/state.h"
#include "shards/cluster/tool.h"
#include "shards/cluster/tool_client.h"
#include "shards/store/slot.h"

#define MIGRATE_TIMEOUT "10000" /* ms, MIGRATE's own timeout */
#define MIGRATE_TRIES   5
/* Slots moved together: marked, drained and flipped in one table version.
 * A version costs each side a file write with fsync and the state parsed,
 * one after another for all movers: on a loaded machine 10-40 ms a flip
 * (bench/RESULTS.md, "Growing a cluster"), which at 64 slots a step was
 * most of the move's time; at 256 (a pair's first steps smaller:
 * step_size), 24 flips move a quarter of the slots from three groups. */
#define SLOTS_PER_FLIP  256

struct reshard {
    struct cluster_state *st;   /* as last read */
    struct tool_client *conn;   /* by node index of st; fd -1 until used */
    int nconn;
    int batch;                  /* keys per batch (a push's or a MIGRATE's) */
    int pipeline;               /* batches a push keeps in flight (--by-migrate: MIGRATEs a mover has unanswered) */
    int parallel;               /* movers at once */
    long long max_keys_per_sec; /* 0: no limit */
    bool by_migrate;            /* --by-migrate: the tool lists the keys and sends MIGRATEs (the way before
                                 * RINGKV-MIGRATESLOTS) */
    /* While movers run (move_all), `lock` guards st's table (the flips),
     * the progress and the rate's account; each mover has connections of
     * its own. */
    pthread_mutex_t lock;
    long long keys_sent;        /* sent in MIGRATEs, for the rate */
    /* the longest a MIGRATE took at the source (from its turn, the one
     * before it answered, to its answer): its keys' writes wait that
     * long at most (held at the source while in flight, shards/dispatch.h) */
    long long migrate_max_ms, migrates;
    /* progress */
    long long t0_ms, last_print_ms;
    int slots_done, slots_total;
    long long keys_done, keys_total;
    double bytes_per_key;       /* estimated from the sources' memory */
    bool tty;
    bool *warned_down;          /* by node index: may_go_without said so */
    /* fault injection for the tests: the tool kills itself (SIGKILL) in
     * the middle of the step after this many flips (-1: never); from
     * RINGKV_CLUSTER_DIE_AFTER_FLIPS */
    int die_after_flips, flips;
    /* and stops itself (SIGSTOP) once, in the middle of the first step
     * after a flip whose source or target master listens on this port (0:
     * never), so a test can kill that node mid-move and let the tool go on;
     * from RINGKV_CLUSTER_STOP_AT */
    int stop_at_port;
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_all(struct reshard *x)
{
    for (int i = 0; i < x->nconn; i++)
        tool_close(&x->conn[i]);
    free(x->conn);
    free(x->warned_down);
    x->conn = NULL;
    x->warned_down = NULL;
    x->nconn = 0;
}

/* The connection to node i of the state out of conns (x->conn, or a
 * mover's own), made on first use (NULL, with the reason in
 * conns[i].err, when it cannot be made). */
static struct tool_client *conn_to_quiet(struct reshard *x, struct tool_client *conns, int i)
{
    struct tool_client *c = &conns[i];
    if (c->fd < 0 && tool_connect(c, x->st->nodes[i].ip, x->st->nodes[i].port, TOOL_TIMEOUT_MS, NULL) < 0)
        return NULL;
    return c;
}

static struct tool_client *conn_to(struct reshard *x, struct tool_client *conns, int i)
{
    struct tool_client *c = conn_to_quiet(x, conns, i);
    if (!c)
        fprintf(stderr, "[ERR] %s\n", conns[i].err);
    return c;
}

static struct tool_client *node_conn_quiet(struct reshard *x, int i)
{
    return conn_to_quiet(x, x->conn, i);
}

static struct tool_client *node_conn(struct reshard *x, int i)
{
    return conn_to(x, x->conn, i);
}

/* A node the tool goes on without when it does not answer: not its
 * group's master by the state (a replica, or a master a failover has
 * replaced: it is no owner of any slot). Says so once. */
static bool may_go_without(struct reshard *x, int i)
{
    if (cluster_node_is_master(x->st, i))
        return false;
    pthread_mutex_lock(&x->lock);
    if (!x->warned_down[i])
        fprintf(stderr, "[WARN] %s:%d (not its group's master) does not answer: going on without it\n",
                x->st->nodes[i].ip, x->st->nodes[i].port);
    x->warned_down[i] = true;
    pthread_mutex_unlock(&x->lock);
    return true;
}

/* Read the state from the node at host:port (kept in x->st, with one
 * connection slot a node). */
static int read_state(struct reshard *x, const char *host, int port)
{
    struct tool_client c = { .fd = -1 };
    if (tool_connect(&c, host, port, TOOL_TIMEOUT_MS, NULL) < 0) {
        fprintf(stderr, "[ERR] %s\n", c.err);
        return -1;
    }
    const char *cmd[] = { "CLUSTER", "RINGKV-GETSTATE" };
    char *text = tool_call_text(&c, 2, cmd);
    if (!text) {
        fprintf(stderr, "[ERR] reading the cluster state: %s\n", c.err);
        tool_close(&c);
        return -1;
    }
    tool_close(&c);
    char err[300];
    struct cluster_state *st = cluster_state_parse(text, strlen(text), NULL, NULL, err, sizeof err);
    free(text);
    if (!st) {
        fprintf(stderr, "[ERR] the node's cluster state does not parse: %s\n", err);
        return -1;
    }
    if (st->version == 0 || st->ngroups == 0) {
        fprintf(stderr, "[ERR] %s:%d is in no cluster (no slot table): create one first.\n", host, port);
        mi_free(st);
        return -1;
    }
    close_all(x);
    mi_free(x->st);
    x->st = st;
    x->nconn = st->nnodes;
    x->conn = calloc((size_t)st->nnodes, sizeof *x->conn);
    x->warned_down = calloc((size_t)st->nnodes, sizeof *x->warned_down);
    if (!x->conn || !x->warned_down)
        abort();
    for (int i = 0; i < st->nnodes; i++)
        x->conn[i].fd = -1;
    return 0;
}

/* The table version node i reports (-1: unreachable). */
static long long node_version(struct reshard *x, int i, bool *ok)
{
    struct tool_client *c = node_conn_quiet(x, i);
    if (!c)
        return -1;
    const char *cmd[] = { "CLUSTER", "INFO" };
    char *info = tool_call_text(c, 2, cmd);
    if (!info)
        return -1;
    char v[32] = "", state[16] = "";
    tool_info_field(info, "cluster_table_version", v, sizeof v);
    tool_info_field(info, "cluster_state", state, sizeof state);
    free(info);
    if (ok)
        *ok = strcmp(state, "ok") == 0;
    return atoll(v);
}

/* Wait until every node of the state holds table version >= v and is ok. */
static int wait_version(struct reshard *x, uint64_t v, int wait_ms)
{
    long long deadline = mono_ms() + wait_ms;
    for (int i = 0; i < x->st->nnodes;) {
        bool ok = false;
        long long have = node_version(x, i, &ok);
        if (have < 0 && may_go_without(x, i)) {
            i++;
            continue;
        }
        if (have < 0) {
            fprintf(stderr, "[ERR] %s\n", x->conn[i].err);
            return -1;
        }
        if ((uint64_t)have >= v && ok) {
            i++;
            continue;
        }
        if (mono_ms() > deadline) {
            fprintf(stderr, "[ERR] %s:%d stays at table version %lld (want %" PRIu64 ")%s\n", x->st->nodes[i].ip,
                    x->st->nodes[i].port, have, v, ok ? "" : ", cluster_state not ok");
            return -1;
        }
        usleep(50 * 1000);
    }
    return 0;
}

/* After the flips: every node at one table version, the highest any holds
 * (each flip made a version on its target and source; the others pull). */
static int wait_settled(struct reshard *x, int wait_ms)
{
    long long deadline = mono_ms() + wait_ms;
    for (;;) {
        long long lo = -1, hi = -1;
        for (int i = 0; i < x->st->nnodes; i++) {
            long long v = node_version(x, i, NULL);
            if (v < 0 && may_go_without(x, i))
                continue;
            if (v < 0) {
                fprintf(stderr, "[ERR] %s\n", x->conn[i].err);
                return -1;
            }
            lo = lo < 0 || v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if (lo == hi)
            return 0;
        if (mono_ms() > deadline) {
            fprintf(stderr, "[ERR] the nodes do not agree on a table version (%lld to %lld)\n", lo, hi);
            return -1;
        }
        usleep(50 * 1000);
    }
}

/* The state's text with table-version v. */
static void state_text_version(const struct cluster_state *st, uint64_t v, struct buf *out)
{
    struct buf t;
    buf_init(&t);
    cluster_state_format(st, NULL, &t);
    buf_append(&t, "", 1);
    for (char *line = t.data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (strncmp(line, "table-version ", 14) == 0)
            buf_printf(out, "table-version %" PRIu64 "\n", v);
        else
            buf_printf(out, "%s\n", line);
    }
    buf_free(&t);
}

/* Push text (a state of version > st's) to node i, expecting its version
 * to be `expected`. A node that has it already from its peers answers +OK. */
static int push_to(struct reshard *x, int i, struct tool_client *c, uint64_t expected, const char *text)
{
    char exp[32];
    snprintf(exp, sizeof exp, "%" PRIu64, expected);
    const char *cmd[] = { "CLUSTER", "RINGKV-SETSTATE", exp, text };
    char *ok = tool_call_text(c, 4, cmd);
    if (!ok) {
        fprintf(stderr, "[ERR] pushing the new table to %s: %s\n", i >= 0 ? x->conn[i].addr : c->addr, c->err);
        return -1;
    }
    free(ok);
    return 0;
}

/* Checked before anything is changed: every node of the state answers and
 * holds the same table version. */
static int check_cluster(struct reshard *x)
{
    for (int round = 0; round < 20; round++) {
        printf(">>> Checking the cluster (%d nodes, %d groups, table version %" PRIu64 ")\n", x->st->nnodes,
               x->st->ngroups, x->st->version);
        if (wait_version(x, x->st->version, 10000) < 0)
            return -1;
        /* plan on the newest table any node holds: the node read first may
         * not have pulled the last flip of a move interrupted and resumed
         * yet (a node's state is in force only once its file is written),
         * and a plan on an older table asks a node for a slot it owns
         * already ("I'm already the owner of hash slot N") */
        long long hi = -1;
        int at = -1;
        for (int i = 0; i < x->st->nnodes; i++) {
            long long v = node_version(x, i, NULL);
            if (v > hi) {
                hi = v;
                at = i;
            }
        }
        if (hi <= (long long)x->st->version)
            return 0;
        char ip[sizeof x->st->nodes[at].ip];
        snprintf(ip, sizeof ip, "%s", x->st->nodes[at].ip);
        int port = x->st->nodes[at].port;
        if (read_state(x, ip, port) < 0)
            return -1;
    }
    fprintf(stderr, "[ERR] the cluster's table keeps changing: is another ringkv-cluster running?\n");
    return -1;
}

/* ---------------------------------------------------------- the target */

/* The target owner (group index of x->st) of every slot: placement over
 * the groups except `without` (-1: all of them). */
static int target_table(const struct cluster_state *st, int without, uint16_t *table)
{
    struct placement_group *pg = calloc((size_t)st->ngroups, sizeof *pg);
    char (*pid)[16] = calloc((size_t)st->ngroups, sizeof *pid);
    int *index = calloc((size_t)st->ngroups, sizeof *index);
    if (!pg || !pid || !index)
        abort();
    int n = 0;
    for (int g = 0; g < st->ngroups; g++) {
        if (g == without)
            continue;
        snprintf(pid[n], sizeof pid[n], "%" PRIu32, st->groups[g].id);
        pg[n] = (struct placement_group){ .id = pid[n], .id_len = strlen(pid[n]), .weight = st->groups[g].weight };
        index[n++] = g;
    }
    int rc = n > 0 ? placement_compute(pg, n, table) : -1;
    if (rc == 0)
        for (int s = 0; s < SLOT_COUNT; s++)
            table[s] = (uint16_t)index[table[s]];
    free(pg);
    free(pid);
    free(index);
    return rc;
}

/* ------------------------------------------------------ moving a slot */

static bool reply_is_error(const struct tool_client *c, const char *prefix)
{
    size_t n = strlen(prefix);
    return c->reply.len > n && c->reply.data[0] == '-' && strncmp(c->reply.data + 1, prefix, n) == 0;
}

static void progress(struct reshard *x, bool last)
{
    long long now = mono_ms();
    if (!last && now - x->last_print_ms < (x->tty ? 200 : 1000))
        return;
    x->last_print_ms = now;
    double secs = (double)(now - x->t0_ms) / 1000.0;
    double rate = secs > 0 ? (double)x->keys_done / secs : 0;
    double mb = rate * x->bytes_per_key / 1e6;
    double slot_rate = secs > 0 ? x->slots_done / secs : 0;
    double eta = slot_rate > 0 ? (x->slots_total - x->slots_done) / slot_rate : 0;
    printf("%sslots %d/%d, keys %lld/%lld, %.0f keys/s, %.1f MB/s, ETA %.0f s%s", x->tty ? "\r" : "",
           x->slots_done, x->slots_total, x->keys_done, x->keys_total, rate, mb, eta, x->tty && !last ? "" : "\n");
    fflush(stdout);
}

/* Call and require +OK (or one of the allowed error prefixes: returns 1). */
static int call_ok(struct tool_client *c, int argc, const char *const *argv, const char *allowed)
{
    if (tool_call(c, argc, argv) < 0) {
        fprintf(stderr, "\n[ERR] %s\n", c->err);
        return -1;
    }
    if (c->reply.len >= 3 && memcmp(c->reply.data, "+OK", 3) == 0)
        return 0;
    if (allowed) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", allowed);
        for (char *save = NULL, *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save))
            if (reply_is_error(c, t))
                return 1;
    }
    fprintf(stderr, "\n[ERR] %s %s %s: %s answered %.*s\n", argv[0], argv[1], argc > 2 ? argv[2] : "", c->addr,
            (int)(c->reply.len > 200 ? 200 : c->reply.len - 2), c->reply.data);
    return -1;
}

/* MIGRATE keys[0..n) to dst, REPLACE, sent without waiting for its answer
 * (migrate_answer reads it): 0, or -1 (the link failed). */
static int migrate_send(struct tool_client *src, const struct cluster_node *dst, const struct slice *keys, int n)
{
    struct slice *argv = malloc(sizeof(struct slice) * (size_t)(n + 8));
    if (!argv)
        abort();
    char port[16];
    snprintf(port, sizeof port, "%d", dst->port);
    int a = 0;
    argv[a++] = (struct slice){ "MIGRATE", 7 };
    argv[a++] = (struct slice){ dst->ip, strlen(dst->ip) };
    argv[a++] = (struct slice){ port, strlen(port) };
    argv[a++] = (struct slice){ "", 0 };
    argv[a++] = (struct slice){ "0", 1 };
    argv[a++] = (struct slice){ MIGRATE_TIMEOUT, strlen(MIGRATE_TIMEOUT) };
    argv[a++] = (struct slice){ "REPLACE", 7 };
    argv[a++] = (struct slice){ "KEYS", 4 };
    memcpy(argv + a, keys, sizeof(struct slice) * (size_t)n);
    struct buf out;
    buf_init(&out);
    resp_encode_command(&out, a + n, argv);
    free(argv);
    int rc = tool_send(src, &out);
    buf_free(&out);
    if (rc < 0)
        fprintf(stderr, "\n[ERR] %s\n", src->err);
    return rc < 0 ? -1 : 0;
}

/* The answer of the oldest MIGRATE sent: 0, -1 (the link failed), or -2
 * (an error answer: worth another try). */
static int migrate_answer(struct tool_client *src)
{
    if (tool_read(src) < 0) {
        fprintf(stderr, "\n[ERR] %s\n", src->err);
        return -1;
    }
    if ((src->reply.len >= 3 && memcmp(src->reply.data, "+OK", 3) == 0) ||
        (src->reply.len >= 6 && memcmp(src->reply.data, "+NOKEY", 6) == 0))
        return 0;
    fprintf(stderr, "\n[WARN] MIGRATE from %s: %.*s\n", src->addr, (int)(src->reply.len > 200 ? 200 : src->reply.len - 2),
            src->reply.data);
    return -2;
}

/* CLUSTER <sub> <slot> <what> <id> for each slot, encoded into out (sub:
 * SETSLOT, or RINGKV-SETSLOT for a replica). */
static void setslot_encode(struct buf *out, const char *sub, const int *slots, int n, const char *what,
                           const char *id)
{
    for (int i = 0; i < n; i++) {
        char sl[16];
        snprintf(sl, sizeof sl, "%d", slots[i]);
        const char *argv[] = { "CLUSTER", sub, sl, what, id };
        resp_encode_strings(out, 5, argv);
    }
}

/* Their answers: every one must be +OK. */
static int setslot_answers(struct tool_client *c, const int *slots, int n, const char *what)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (tool_read(c) < 0) {
            fprintf(stderr, "\n[ERR] %s\n", c->err);
            return -1;
        }
        if (c->reply.len < 3 || memcmp(c->reply.data, "+OK", 3) != 0) {
            fprintf(stderr, "\n[ERR] CLUSTER SETSLOT %d %s: %s answered %.*s\n", slots[i], what, c->addr,
                    (int)(c->reply.len > 200 ? 200 : c->reply.len - 2), c->reply.data);
            rc = -1; /* the other answers are still read */
        }
    }
    return rc;
}

/* CLUSTER <sub> <slot> <what> <id> for each slot, pipelined; every
 * answer must be +OK. */
static int setslot_each_sub(struct tool_client *c, const char *sub, const int *slots, int n, const char *what,
                            const char *id)
{
    struct buf out;
    buf_init(&out);
    setslot_encode(&out, sub, slots, n, what, id);
    int rc = tool_send(c, &out);
    buf_free(&out);
    if (rc < 0) {
        fprintf(stderr, "\n[ERR] %s\n", c->err);
        return -1;
    }
    return setslot_answers(c, slots, n, what);
}

static int setslot_each(struct tool_client *c, const int *slots, int n, const char *what, const char *id)
{
    return setslot_each_sub(c, "SETSLOT", slots, n, what, id);
}

/* The same marks on the other nodes of group g (its replicas), before its
 * master is marked: a replica promoted in the middle of the move then
 * holds them (commands.c, RINGKV-SETSLOT), so the source's replica
 * answers -ASK for the keys that have gone instead of serving them as
 * missing, and the target's serves ASKING connections. A replica that
 * does not answer is left out with a warning (a dead node is promoted by
 * nobody); one that comes back later lacks the marks until the step is
 * done again. On conns, as the step's other commands. */
static void mark_replicas(struct reshard *x, struct tool_client *conns, int g, const int *slots, int n, const char *what, const char *id)
{
    for (int i = 0; i < x->st->nnodes; i++) {
        if (x->st->nodes[i].group != g || i == x->st->groups[g].master)
            continue;
        struct tool_client *c = conn_to_quiet(x, conns, i);
        if (!c && may_go_without(x, i))
            continue;
        if (!c || setslot_each_sub(c, "RINGKV-SETSLOT", slots, n, what, id) < 0)
            fprintf(stderr, "\n[WARN] %s:%d (a replica) did not take the %s marks: promoted during this step, "
                            "it would not know the slots are moving\n", x->st->nodes[i].ip, x->st->nodes[i].port, what);
    }
}

/* Ask the source for the keys it still has in these slots, at most `max`
 * a slot (GETKEYSINSLOT each, pipelined; keys_listed reads the answers). */
static int keys_ask(struct tool_client *src, const int *slots, int n, int max)
{
    struct buf out;
    buf_init(&out);
    char m[16];
    snprintf(m, sizeof m, "%d", max);
    for (int i = 0; i < n; i++) {
        char sl[16];
        snprintf(sl, sizeof sl, "%d", slots[i]);
        const char *argv[] = { "CLUSTER", "GETKEYSINSLOT", sl, m };
        resp_encode_strings(&out, 4, argv);
    }
    int rc = tool_send(src, &out);
    buf_free(&out);
    if (rc < 0)
        fprintf(stderr, "\n[ERR] %s\n", src->err);
    return rc < 0 ? -1 : 0;
}

/* The answers to keys_ask for n slots: the keys copied into names, their
 * slices in *keys. Returns how many, or -1. */
static int keys_listed(struct tool_client *src, int n, struct buf *names, struct slice **keys, int *cap)
{
    buf_clear(names);
    size_t *offs = NULL, *lens = NULL;
    int count = 0, ocap = 0;
    for (int i = 0; i < n; i++) {
        if (tool_read(src) < 0) {
            fprintf(stderr, "\n[ERR] %s\n", src->err);
            free(offs);
            free(lens);
            return -1;
        }
        struct resp_reader rd;
        long long nk;
        resp_reader_init(&rd, src->reply.data, src->reply.len);
        if (!resp_read_aggregate(&rd, &nk) || nk < 0) {
            fprintf(stderr, "\n[ERR] %s: unexpected reply to CLUSTER GETKEYSINSLOT\n", src->addr);
            free(offs);
            free(lens);
            return -1;
        }
        for (long long k = 0; k < nk; k++) {
            struct slice key;
            if (!resp_read_string(&rd, &key) || !key.ptr) {
                fprintf(stderr, "\n[ERR] %s: unexpected reply to CLUSTER GETKEYSINSLOT\n", src->addr);
                free(offs);
                free(lens);
                return -1;
            }
            if (count == ocap) {
                ocap = ocap ? ocap * 2 : 1024;
                offs = realloc(offs, sizeof(size_t) * (size_t)ocap);
                lens = realloc(lens, sizeof(size_t) * (size_t)ocap);
                if (!offs || !lens)
                    abort();
            }
            offs[count] = names->len;
            lens[count++] = key.len;
            buf_append(names, key.ptr, key.len);
        }
    }
    if (count > *cap) {
        *cap = count;
        *keys = realloc(*keys, sizeof(struct slice) * (size_t)count);
        if (!*keys)
            abort();
    }
    for (int k = 0; k < count; k++)
        (*keys)[k] = (struct slice){ names->data + offs[k], lens[k] };
    free(offs);
    free(lens);
    return count;
}

/* Push the state text to node i (on conns) with compare-and-set:
 * expecting the version the tool last gave it, or (a node that was not
 * told every version: a source in add, a target in remove) the one it
 * answers it has: every version it can hold is of the same chain, older.
 * Such a node may be pulling the versions it missed from its peers while
 * the tool pushes (one at a time: with flips a few ms apart, several in a
 * row): the push is tried again as long as the node's version moves
 * forward between tries (seen in CI: 6, 7, 8 in three tries). */
#define PUSH_CAS_TRIES 200

static int push_cas(struct reshard *x, struct tool_client *conns, int i, uint64_t expected, const char *text)
{
    struct tool_client *c = conn_to(x, conns, i);
    if (!c)
        return -1;
    for (int tries = 0; tries < PUSH_CAS_TRIES; tries++) {
        char exp[32];
        snprintf(exp, sizeof exp, "%" PRIu64, expected);
        const char *cmd[] = { "CLUSTER", "RINGKV-SETSTATE", exp, text };
        if (tool_call(c, 4, cmd) < 0) {
            fprintf(stderr, "\n[ERR] %s\n", c->err);
            return -1;
        }
        if (c->reply.len >= 3 && memcmp(c->reply.data, "+OK", 3) == 0)
            return 0;
        unsigned long long have;
        if (sscanf(c->reply.data, "-ERR table version is %llu,", &have) != 1)
            break;
        if (tries > 0 && have <= expected)
            break; /* not catching up: a version of another chain */
        expected = have;
    }
    fprintf(stderr, "\n[ERR] pushing the table to %s: %.*s\n", c->addr,
            (int)(c->reply.len > 200 ? 200 : c->reply.len - 2), c->reply.data);
    return -1;
}

/* The flip of some slots: the tool's state (x->st) with the slots given
 * to group `to` and the version + 1, pushed to the target then the
 * source. Why the tool and not SETSLOT NODE makes the version: every node
 * told a flip would make "its version + 1" from whatever it holds, and a
 * node behind (a source of add is not told the other sources' flips; it
 * pulls them) would make a version number another node already has with
 * other contents; a node pulling the higher of two such tables could lose
 * a flip for a moment (-MOVED back and forth: seen under redis-py). Made
 * here, the versions are one chain: a node holds a prefix of it, and
 * pulling only goes forward. Called with x->lock held, pushes included:
 * the movers' flips are one after another, so a node is never pushed a
 * version older than one it was pushed already. */
static int flip_push(struct reshard *x, struct tool_client *conns, const int *slots, int n, int to, int si, int di)
{
    struct cluster_state *st = x->st;
    uint64_t before = st->version;
    for (int i = 0; i < n; i++) {
        unsigned from = st->slot_group[slots[i]];
        st->slot_group[slots[i]] = (uint16_t)to;
        st->groups[from].nslots--;
        st->groups[to].nslots++;
    }
    st->version++;
    struct buf text;
    buf_init(&text);
    cluster_state_format(st, NULL, &text);
    buf_append(&text, "", 1);
    int rc = push_cas(x, conns, di, before, text.data) == 0 && push_cas(x, conns, si, before, text.data) == 0 ? 0 : -1;
    buf_free(&text);
    return rc;
}

/* The rate's account (--max-keys-per-sec): m more keys are about to be
 * sent; waits until sending them keeps the keys sent since the move
 * began at or under the limit times the time gone, so that the move's
 * keys/s never exceeds it, whatever the batch. */
static void rate_wait(struct reshard *x, int m)
{
    if (x->max_keys_per_sec <= 0)
        return;
    pthread_mutex_lock(&x->lock);
    x->keys_sent += m;
    long long due = x->t0_ms + (x->keys_sent * 1000 + x->max_keys_per_sec - 1) / x->max_keys_per_sec;
    pthread_mutex_unlock(&x->lock);
    for (long long now = mono_ms(); now < due; now = mono_ms())
        usleep((useconds_t)(due - now) * 1000);
}

/* The test's fault (RINGKV_CLUSTER_DIE_AFTER_FLIPS), in the middle of a
 * step: after a MIGRATE, once that many flips are done. */
static void maybe_die(struct reshard *x)
{
    pthread_mutex_lock(&x->lock);
    bool die = x->die_after_flips >= 0 && x->flips >= x->die_after_flips;
    pthread_mutex_unlock(&x->lock);
    if (die) {
        printf("\n[TEST] killing myself in the middle of a step (RINGKV_CLUSTER_DIE_AFTER_FLIPS)\n");
        fflush(stdout);
        raise(SIGKILL);
    }
}

/* The test's pause (RINGKV_CLUSTER_STOP_AT=<port>): once a flip is done,
 * in the middle of a step whose source or target is that node, the tool
 * stops itself (SIGSTOP) so the test can kill the node there. Once. */
static void maybe_stop(struct reshard *x, const struct cluster_node *src_node, const struct cluster_node *dst_node,
                       const int *slots, int n)
{
    pthread_mutex_lock(&x->lock);
    bool stop = x->stop_at_port && x->flips > 0 &&
                (src_node->port == x->stop_at_port || dst_node->port == x->stop_at_port);
    if (stop)
        x->stop_at_port = 0;
    pthread_mutex_unlock(&x->lock);
    if (stop) {
        printf("\n[TEST] stopping in the middle of moving slots %d-%d from %s:%d to %s:%d "
               "(RINGKV_CLUSTER_STOP_AT)\n", slots[0], slots[n - 1], src_node->ip, src_node->port,
               dst_node->ip, dst_node->port);
        fflush(stdout);
        raise(SIGSTOP);
    }
}

/* How long the tool waits for one push's answer: the source answers once
 * every key of the slots has gone (each batch bounded by MIGRATE_TIMEOUT
 * per read there), which for a step of big slots on a loaded machine may
 * take longer than a call's TOOL_TIMEOUT_MS. A source that dies answers
 * at once (the connection resets). */
#define PUSH_READ_TIMEOUT_MS 120000

/* Slots pushed at a time under --max-keys-per-sec: pieces of about a
 * batch's keys (by the step's average), the rate accounted after each. */
static int piece_slots(const struct reshard *x, int n)
{
    if (x->max_keys_per_sec <= 0 || x->slots_total <= 0)
        return n;
    long long per_slot = x->keys_total / x->slots_total;
    long long k = per_slot > 0 ? x->batch / per_slot : n;
    return k < 1 ? 1 : k > n ? n : (int)k;
}

static void set_read_timeout(struct tool_client *c, int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* RINGKV-MIGRATESLOTS on the source for slots[0..n): it pushes every key
 * of them to dst, --batch keys a batch, --pipeline batches in flight, and
 * answers once they have none (shards/commands/migrate_slots.c). 0, -1
 * (the link failed), or -2 (an error answer: the keys not moved are still
 * at the source; worth another try). keys_done and the longest batch
 * counted. */
static int push_slots(struct reshard *x, struct tool_client *src, const struct cluster_node *dst_node,
                      const int *slots, int n)
{
    char port[16], timeout[16], batch[16], pipeline[16];
    snprintf(port, sizeof port, "%d", dst_node->port);
    snprintf(timeout, sizeof timeout, "%s", MIGRATE_TIMEOUT);
    snprintf(batch, sizeof batch, "%d", x->batch);
    snprintf(pipeline, sizeof pipeline, "%d", x->pipeline);
    char (*sl)[8] = malloc(sizeof(*sl) * (size_t)n);
    struct slice *argv = malloc(sizeof(struct slice) * (size_t)(n + 9));
    if (!sl || !argv)
        abort();
    int a = 0;
    argv[a++] = (struct slice){ "RINGKV-MIGRATESLOTS", 19 };
    argv[a++] = (struct slice){ dst_node->ip, strlen(dst_node->ip) };
    argv[a++] = (struct slice){ port, strlen(port) };
    argv[a++] = (struct slice){ timeout, strlen(timeout) };
    argv[a++] = (struct slice){ "BATCH", 5 };
    argv[a++] = (struct slice){ batch, strlen(batch) };
    argv[a++] = (struct slice){ "PIPELINE", 8 };
    argv[a++] = (struct slice){ pipeline, strlen(pipeline) };
    argv[a++] = (struct slice){ "SLOTS", 5 };
    for (int i = 0; i < n; i++) {
        snprintf(sl[i], sizeof sl[i], "%d", slots[i]);
        argv[a++] = (struct slice){ sl[i], strlen(sl[i]) };
    }
    struct buf out;
    buf_init(&out);
    resp_encode_command(&out, a, argv);
    free(argv);
    free(sl);
    int rc = tool_send(src, &out);
    buf_free(&out);
    if (rc == 0) {
        set_read_timeout(src, PUSH_READ_TIMEOUT_MS);
        rc = tool_read(src);
        set_read_timeout(src, TOOL_TIMEOUT_MS);
    }
    if (rc < 0) {
        fprintf(stderr, "\n[ERR] %s\n", src->err);
        return -1;
    }
    struct resp_reader rd;
    long long count = 0, moved = 0, longest = 0;
    resp_reader_init(&rd, src->reply.data, src->reply.len);
    if (!resp_read_aggregate(&rd, &count) || count != 2 || !resp_read_int(&rd, &moved) ||
        !resp_read_int(&rd, &longest)) {
        fprintf(stderr, "\n[WARN] RINGKV-MIGRATESLOTS on %s: %.*s\n", src->addr,
                (int)(src->reply.len > 200 ? 200 : src->reply.len > 2 ? src->reply.len - 2 : 0), src->reply.data);
        return -2;
    }
    pthread_mutex_lock(&x->lock);
    x->migrates++;
    x->migrate_max_ms = longest > x->migrate_max_ms ? longest : x->migrate_max_ms;
    x->keys_done += moved;
    progress(x, false);
    pthread_mutex_unlock(&x->lock);
    rate_wait(x, (int)moved);
    return 0;
}

/* The keys of a step's slots go: pushed by the source (push_slots), in
 * pieces under a rate limit; a piece that fails is tried again (what it
 * left is still at the source) up to MIGRATE_TRIES times. 0 or -1. */
static int push_step(struct reshard *x, struct tool_client *src, const struct cluster_node *src_node,
                     const struct cluster_node *dst_node, const int *slots, int n)
{
    int per = piece_slots(x, n);
    for (int at = 0, fails = 0; at < n;) {
        int m = n - at < per ? n - at : per;
        int r = push_slots(x, src, dst_node, slots + at, m);
        if (r == -1)
            return -1;
        if (r == -2) {
            if (++fails >= MIGRATE_TRIES)
                return -1;
            usleep(100 * 1000);
            continue;
        }
        at += m;
        maybe_die(x);
        maybe_stop(x, src_node, dst_node, slots, n);
    }
    return 0;
}

/* Move the slots of one step (at most SLOTS_PER_FLIP, of one source and
 * target: indexes of x->st) together: marked, drained, flipped in one
 * version, on the mover's connections `conns`.
 *
 * Round trips, the move's cost on a busy machine: the marks (the target's
 * before the source's: the source's -ASK must find the target importing),
 * the source's push (one call; with --by-migrate instead: one listing,
 * then rounds of the listed keys' MIGRATEs, at most
 * x->pipeline of them unanswered (the source runs a connection's MIGRATEs
 * one after the other: CMD_HOLD_LATER), with the next listing pipelined
 * behind the last (so it sees what they left)); the flip (two pushes); the
 * two sides' SETSLOT NODE at once. */
static int move_slots(struct reshard *x, struct tool_client *conns, const int *slots, int n, int from, int to)
{
    const struct cluster_state *st = x->st; /* nodes and masters: not changed by the flips */
    int si = st->groups[from].master, di = st->groups[to].master;
    const struct cluster_node *src_node = &st->nodes[si], *dst_node = &st->nodes[di];
    struct tool_client *src = conn_to(x, conns, si), *dst = conn_to(x, conns, di);
    if (!src || !dst)
        return -1;
    /* the marks, replicas first; issued again on a resumed move, to the
     * masters the state names now (a promoted replica has them from here
     * if it did not before; a source still marked for a target that died
     * is marked for its promoted replica) */
    mark_replicas(x, conns, to, slots, n, "IMPORTING", src_node->id);
    mark_replicas(x, conns, from, slots, n, "MIGRATING", dst_node->id);
    if (setslot_each(dst, slots, n, "IMPORTING", src_node->id) < 0 ||
        setslot_each(src, slots, n, "MIGRATING", dst_node->id) < 0)
        return -1;
    struct buf names;
    buf_init(&names);
    struct slice *keys = NULL;
    int cap = 0, rc = -1, *sizes = NULL;
    long long *sent_at = NULL, turn_ms = 0;
    if (!x->by_migrate) {
        if (push_step(x, src, src_node, dst_node, slots, n) < 0)
            goto out;
        goto flip;
    }
    if (keys_ask(src, slots, n, x->batch) < 0)
        goto out;
    for (int fails = 0;;) {
        int nk = keys_listed(src, n, &names, &keys, &cap);
        if (nk < 0)
            goto out;
        if (nk == 0)
            break;
        int nm = (nk + x->batch - 1) / x->batch, sent = 0, answered = 0, bad = 0;
        sizes = realloc(sizes, sizeof(int) * (size_t)nm);
        sent_at = realloc(sent_at, sizeof(long long) * (size_t)nm);
        if (!sizes || !sent_at)
            abort();
        while (answered < nm) {
            int r = 0;
            if (sent < nm && sent - answered < x->pipeline) {
                int m = nk - sent * x->batch < x->batch ? nk - sent * x->batch : x->batch;
                rate_wait(x, m);
                if (migrate_send(src, dst_node, keys + sent * x->batch, m) < 0)
                    goto out;
                sent_at[sent] = mono_ms();
                sizes[sent++] = m;
                if (sent == nm && keys_ask(src, slots, n, x->batch) < 0) /* behind the last: what is left */
                    goto out;
                continue;
            }
            r = migrate_answer(src);
            if (r == -1)
                goto out;
            long long now = mono_ms(), took = now - (sent_at[answered] > turn_ms ? sent_at[answered] : turn_ms);
            turn_ms = now;
            if (r == -2) {
                bad++;
            } else {
                pthread_mutex_lock(&x->lock);
                x->migrates++;
                x->migrate_max_ms = took > x->migrate_max_ms ? took : x->migrate_max_ms;
                x->keys_done += sizes[answered];
                progress(x, false);
                pthread_mutex_unlock(&x->lock);
            }
            answered++;
            maybe_die(x);
            maybe_stop(x, src_node, dst_node, slots, n);
        }
        if (bad) {
            if (++fails >= MIGRATE_TRIES)
                goto out;
            usleep(100 * 1000); /* the listing in flight says what is left */
        }
    }
    /* the flip, then SETSLOT NODE on both sides at once, which find the
     * table so already and only drop the marks (the source's after a
     * while) */
flip:
    pthread_mutex_lock(&x->lock);
    int flipped = flip_push(x, conns, slots, n, to, si, di);
    if (flipped == 0)
        x->flips++;
    pthread_mutex_unlock(&x->lock);
    if (flipped < 0)
        goto out;
    struct buf out;
    buf_init(&out);
    setslot_encode(&out, "SETSLOT", slots, n, "NODE", dst_node->id);
    int sent = tool_send(dst, &out) == 0 && tool_send(src, &out) == 0 ? 0 : -1;
    buf_free(&out);
    if (sent < 0) {
        fprintf(stderr, "\n[ERR] %s%s\n", dst->err, src->err);
        goto out;
    }
    int a = setslot_answers(dst, slots, n, "NODE"), b = setslot_answers(src, slots, n, "NODE");
    if (a < 0 || b < 0)
        goto out;
    rc = 0;
out:
    buf_free(&names);
    free(keys);
    free(sizes);
    free(sent_at);
    return rc;
}

/* A step: some slots of one source and target, moved together. */
struct step {
    int from, to, n;
    const int *slots; /* n of them, in struct movers' order */
};

/* The movers share the steps (a queue under x->lock); each moves one at a
 * time on connections of its own. A mover that fails stops the others
 * after their step: the cluster is consistent after every step. */
struct movers {
    struct reshard *x;
    struct step    *steps;
    int             nsteps, next;
    int            *order;  /* the slots moved, step after step */
    bool            failed;
};

struct mover {
    struct movers      *all;
    struct tool_client *conn; /* by node index of x->st; fd -1 until used */
    pthread_t           thread;
};

static void *mover_run(void *arg)
{
    struct mover *w = arg;
    struct movers *all = w->all;
    struct reshard *x = all->x;
    for (;;) {
        pthread_mutex_lock(&x->lock);
        struct step *sp = all->failed || all->next >= all->nsteps ? NULL : &all->steps[all->next++];
        pthread_mutex_unlock(&x->lock);
        if (!sp)
            break;
        int rc = move_slots(x, w->conn, sp->slots, sp->n, sp->from, sp->to);
        pthread_mutex_lock(&x->lock);
        if (rc < 0) {
            fprintf(stderr, "[ERR] moving slots %d-%d stopped; the cluster is consistent (every slot has one owner "
                            "holding its keys): run the same command again to go on.\n", sp->slots[0],
                    sp->slots[sp->n - 1]);
            all->failed = true;
        } else {
            x->slots_done += sp->n;
            progress(x, false);
        }
        pthread_mutex_unlock(&x->lock);
        if (rc < 0)
            break;
    }
    return NULL;
}

/* The slots of a pair's step in round r: 8, 32, 128, then SLOTS_PER_FLIP. */
static int step_size(int round)
{
    int n = 8 << (2 * (round < 3 ? round : 3));
    return n < SLOTS_PER_FLIP ? n : SLOTS_PER_FLIP;
}

/* Under --max-keys-per-sec, the slots a step takes at most: as many as
 * drain in about STEP_DRAIN_MS at a mover's share of the rate (by the
 * plan's keys a slot), from 8 to SLOTS_PER_FLIP. A step's slots stay
 * marked until its flip: one drained early answers -ASK for all its keys
 * until then, and one not reached yet -ASK for a new key; at 25,000 keys/s
 * a step of 256 slots took ~2.5 s, and 94% of a writer's redirections
 * were those -ASKs (bench/RESULTS.md, "Growing a cluster on a quiet
 * machine"). Unthrottled a step drains in tens of milliseconds, and a
 * flip (a table version: a file written and synced on each side) is what
 * costs: SLOTS_PER_FLIP. */
#define STEP_DRAIN_MS 250
static int step_cap(const struct reshard *x)
{
    if (x->max_keys_per_sec <= 0 || x->slots_total <= 0 || x->keys_total <= 0)
        return SLOTS_PER_FLIP;
    double per_slot = (double)x->keys_total / x->slots_total;
    double share = (double)x->max_keys_per_sec / (x->parallel > 0 ? x->parallel : 1);
    double n = share * STEP_DRAIN_MS / 1000.0 / per_slot;
    return n < 8 ? 8 : n > SLOTS_PER_FLIP ? SLOTS_PER_FLIP : (int)n;
}

/* Move every slot s with moves[s] >= 0 to group moves[s]: in steps of at
 * most SLOTS_PER_FLIP slots of one source and target, the steps of the
 * different pairs taken in turn so that movers at once tend to work on
 * different sources, by x->parallel movers. 0, or -1 (a step failed). */
static int move_all(struct reshard *x, const int *moves)
{
    const struct cluster_state *st = x->st;
    int np = st->ngroups * st->ngroups;
    int *count = calloc((size_t)np, sizeof *count);
    struct movers all = { .x = x };
    all.steps = calloc(SLOT_COUNT, sizeof *all.steps);
    all.order = calloc(SLOT_COUNT, sizeof *all.order);
    if (!count || !all.steps || !all.order)
        abort();
    for (int s = 0; s < SLOT_COUNT; s++)
        if (moves[s] >= 0)
            count[st->slot_group[s] * st->ngroups + moves[s]]++;
    /* round r of a pair: its next step_size(r) slots in slot order. The
     * first steps are small: a slot is marked (-ASK for what has moved)
     * for as long as its step drains, and a client learns a new node
     * only from the first -MOVED naming it, after the first flip (redis-py
     * 4.3.4 cannot even follow an -ASK to a node it does not know: it
     * retries until then) */
    int used = 0;
    for (int round = 0, done = 0;; round++) {
        int before = all.nsteps, per = step_size(round), cap = step_cap(x);
        if (per > cap)
            per = cap;
        for (int p = 0; p < np; p++) {
            if (count[p] <= done)
                continue;
            struct step *sp = &all.steps[all.nsteps++];
            sp->from = p / st->ngroups;
            sp->to = p % st->ngroups;
            sp->slots = all.order + used;
            int seen = 0;
            for (int s = 0; s < SLOT_COUNT && sp->n < per; s++)
                if (moves[s] == sp->to && st->slot_group[s] == sp->from && seen++ >= done)
                    all.order[used + sp->n++] = s;
            used += sp->n;
        }
        done += per;
        if (all.nsteps == before)
            break;
    }
    int n = x->parallel < all.nsteps ? x->parallel : all.nsteps;
    struct mover *w = calloc((size_t)(n > 0 ? n : 1), sizeof *w);
    if (!w)
        abort();
    int started = 0;
    for (int i = 0; i < n; i++) {
        w[i].all = &all;
        w[i].conn = calloc((size_t)st->nnodes, sizeof *w[i].conn);
        if (!w[i].conn)
            abort();
        for (int j = 0; j < st->nnodes; j++)
            w[i].conn[j].fd = -1;
        if (pthread_create(&w[i].thread, NULL, mover_run, &w[i]) != 0) {
            free(w[i].conn);
            break;
        }
        started++;
    }
    if (started == 0 && all.nsteps > 0) {
        fprintf(stderr, "[ERR] no thread could be started to move the slots\n");
        all.failed = true;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        for (int j = 0; j < st->nnodes; j++)
            tool_close(&w[i].conn[j]);
        free(w[i].conn);
    }
    bool failed = all.failed;
    free(w);
    free(all.steps);
    free(all.order);
    free(count);
    return failed ? -1 : 0;
}

/* After the flips: the table they made, to every node that holds an older
 * one (each flip went to its source and target only; the others would
 * pull it from their peers, which wait_settled waited for, 100 ms and
 * more). Only a shortcut: a node that does not take it (gone, or it has
 * pulled a newer one meanwhile) is left to wait_settled. */
static void push_last_flip(struct reshard *x)
{
    struct buf text;
    buf_init(&text);
    cluster_state_format(x->st, NULL, &text);
    buf_append(&text, "", 1);
    for (int i = 0; i < x->st->nnodes; i++) {
        long long have = node_version(x, i, NULL);
        if (have < 0 || (uint64_t)have >= x->st->version)
            continue;
        char exp[32];
        snprintf(exp, sizeof exp, "%lld", have);
        const char *cmd[] = { "CLUSTER", "RINGKV-SETSTATE", exp, text.data };
        free(tool_call_text(node_conn_quiet(x, i), 4, cmd));
    }
    buf_free(&text);
}

/* The plan: for each source group, slots, keys and bytes (estimated from
 * its master's used_memory per key); then the moves. moves[s] is the
 * target group of slot s, or -1. */
static int plan_and_move(struct reshard *x, const int *moves, bool yes)
{
    const struct cluster_state *st = x->st;
    long long *keys = calloc((size_t)st->ngroups, sizeof *keys);
    long long *into = calloc((size_t)st->ngroups, sizeof *into); /* by target group */
    int *asked_slot = calloc(SLOT_COUNT, sizeof *asked_slot);
    int *slots = calloc((size_t)st->ngroups, sizeof *slots);
    double *bpk = calloc((size_t)st->ngroups, sizeof *bpk);
    int rc = -1;
    if (!keys || !into || !asked_slot || !slots || !bpk)
        abort();
    x->slots_total = 0;
    x->keys_total = 0;
    /* the keys of each source's slots: its COUNTKEYSINSLOTs pipelined (one
     * round trip a source, not one a slot: 4096 of them were a tenth of
     * an add's time at 1M keys) */
    for (int g = 0; g < st->ngroups; g++) {
        struct buf out;
        buf_init(&out);
        int asked = 0;
        for (int s = 0; s < SLOT_COUNT; s++) {
            if (moves[s] < 0 || st->slot_group[s] != g)
                continue;
            char sl[16];
            snprintf(sl, sizeof sl, "%d", s);
            const char *cnt[] = { "CLUSTER", "COUNTKEYSINSLOT", sl };
            resp_encode_strings(&out, 3, cnt);
            asked_slot[asked++] = s;
        }
        struct tool_client *c = asked ? node_conn(x, st->groups[g].master) : NULL;
        int sent = c ? tool_send(c, &out) : -1;
        buf_free(&out);
        if (!asked)
            continue;
        if (sent < 0) {
            if (c)
                fprintf(stderr, "[ERR] %s\n", c->err);
            goto out;
        }
        for (int k = 0; k < asked; k++) {
            long long n;
            if (tool_read(c) < 0) {
                fprintf(stderr, "[ERR] %s\n", c->err);
                goto out;
            }
            if (c->reply.len < 4 || c->reply.data[0] != ':' || (n = atoll(c->reply.data + 1)) < 0) {
                fprintf(stderr, "[ERR] %s answered CLUSTER COUNTKEYSINSLOT with %.*s\n", c->addr,
                        (int)(c->reply.len > 200 ? 200 : c->reply.len - 2), c->reply.data);
                goto out;
            }
            keys[g] += n;
            into[moves[asked_slot[k]]] += n;
        }
        slots[g] += asked;
        x->slots_total += asked;
        x->keys_total += keys[g];
    }
    double bytes_total = 0;
    printf(">>> Plan: %d slots, %lld keys to move, %d step%s at once", x->slots_total, x->keys_total, x->parallel,
           x->parallel == 1 ? "" : "s");
    if (x->max_keys_per_sec > 0)
        printf(", at most %lld keys/s", x->max_keys_per_sec);
    printf("\n");
    for (int g = 0; g < st->ngroups; g++) {
        if (!slots[g])
            continue;
        struct tool_client *c = node_conn(x, st->groups[g].master);
        const char *info_cmd[] = { "INFO", "memory" };
        const char *size_cmd[] = { "DBSIZE" };
        char *info = c ? tool_call_text(c, 2, info_cmd) : NULL;
        long long dbsize = 0;
        char used[32] = "0";
        if (info) {
            tool_info_field(info, "used_memory", used, sizeof used);
            free(info);
        }
        if (c && tool_call_int(c, 1, size_cmd, &dbsize) == 0 && dbsize > 0)
            bpk[g] = (double)atoll(used) / (double)dbsize;
        bytes_total += bpk[g] * (double)keys[g];
        const struct cluster_node *m = &st->nodes[st->groups[g].master];
        printf("    from group %" PRIu32 " (%s:%d): %d slots, %lld keys, ~%.1f MB\n", st->groups[g].id, m->ip, m->port,
               slots[g], keys[g], bpk[g] * (double)keys[g] / 1e6);
    }
    x->bytes_per_key = x->keys_total ? bytes_total / (double)x->keys_total : 0;
    if (x->slots_total == 0) {
        printf("[OK] Nothing to move.\n");
        rc = 0;
        goto out;
    }
    if (!yes && isatty(STDIN_FILENO)) {
        printf("Move them now? (type 'yes' to accept): ");
        fflush(stdout);
        char line[64];
        if (!fgets(line, sizeof line, stdin) || strncmp(line, "yes", 3) != 0) {
            fprintf(stderr, "Nothing moved.\n");
            goto out;
        }
    }
    /* each target is told how many keys are coming (RINGKV-RESERVEKEYS:
     * its table grown once for them, not doubled as they come, each
     * doubling moving every key there); a hint, its answer not needed */
    for (int g = 0; g < st->ngroups; g++) {
        struct tool_client *c = into[g] > 0 ? node_conn(x, st->groups[g].master) : NULL;
        if (!c)
            continue;
        char n[24];
        snprintf(n, sizeof n, "%lld", into[g]);
        const char *reserve[] = { "RINGKV-RESERVEKEYS", n };
        tool_call(c, 2, reserve);
    }
    x->tty = isatty(STDOUT_FILENO);
    x->t0_ms = x->last_print_ms = mono_ms();
    x->slots_done = 0;
    x->keys_done = 0;
    if (move_all(x, moves) < 0)
        goto out;
    progress(x, true);
    push_last_flip(x);
    if (wait_settled(x, 30000) < 0)
        goto out;
    double secs = (double)(mono_ms() - x->t0_ms) / 1000.0;
    printf("[OK] Moved %d slots, %lld keys in %.2f s (%.0f keys/s, ~%.1f MB).\n", x->slots_done, x->keys_done, secs,
           secs > 0 ? (double)x->keys_done / secs : 0, x->bytes_per_key * (double)x->keys_done / 1e6);
    if (x->by_migrate)
        printf(">>> %lld MIGRATEs, the longest %lld ms (writes of its keys waited at most that long)\n", x->migrates,
               x->migrate_max_ms);
    else
        printf(">>> %lld pushes (RINGKV-MIGRATESLOTS), the longest batch in flight %lld ms (writes of its keys "
               "waited at most that long)\n", x->migrates, x->migrate_max_ms);
    rc = 0;
out:
    free(keys);
    free(into);
    free(asked_slot);
    free(slots);
    free(bpk);
    return rc;
}

static int die_after_flips(void)
{
    const char *v = getenv("RINGKV_CLUSTER_DIE_AFTER_FLIPS");
    return v && *v ? atoi(v) : -1;
}

static int stop_at_port(void)
{
    const char *v = getenv("RINGKV_CLUSTER_STOP_AT");
    return v && *v ? atoi(v) : 0;
}

/* Movers at once when --parallel is not given: 4 at full speed (the
 * rate: 250-330k keys/s against one mover's 230k on this 2-core machine),
 * one under a rate limit one mover can keep. Concurrent steps cost the
 * source's clients more than their share of the keys: at 12,000 and
 * 25,000 keys/s a writer's p99 during the move was 2.0-3.0x its p99
 * before with 4 movers, 1.9-2.4x with one at 25,000 and 1.88x in the
 * median at 12,000 (bench/RESULTS.md, "One mover under a rate limit"). */
#define ONE_MOVER_MAX_KEYS_PER_SEC 150000
static int default_parallel(long long max_keys_per_sec)
{
    return max_keys_per_sec > 0 && max_keys_per_sec <= ONE_MOVER_MAX_KEYS_PER_SEC ? 1 : 4;
}

/* x's settings from the command line's options (the defaults where 0). */
static void reshard_init(struct reshard *x, const struct tool_reshard_opts *o)
{
    x->batch = o->batch;
    x->pipeline = o->pipeline > 0 ? o->pipeline : 8;
    x->parallel = o->parallel > 0 ? o->parallel : default_parallel(o->max_keys_per_sec);
    x->max_keys_per_sec = o->max_keys_per_sec;
    x->by_migrate = o->by_migrate;
    pthread_mutex_init(&x->lock, NULL);
    x->die_after_flips = die_after_flips();
    x->stop_at_port = stop_at_port();
}

/* ---------------------------------------------------------- Sentinels */

/* Register group g (index of x->st) with every Sentinel the state lists,
 * as create does (tool_sentinel.c), once the links of the group's
 * replicas that answer are up (a dead one, failed over meanwhile, is
 * skipped), and wait until each Sentinel knows them and the other
 * Sentinels: from then on a dying master of the group is failed over,
 * during the move too. fresh: a new group, whose name a Sentinel may still monitor from
 * a group of that id removed earlier (SENTINEL REMOVE first); otherwise
 * (a resumed add) a Sentinel monitoring the name already is left as it
 * is. Nothing to do without Sentinels. */
static int register_with_sentinels(struct reshard *x, int g, bool fresh)
{
    const struct cluster_state *st = x->st;
    if (st->nsentinels == 0)
        return 0;
    long long deadline = mono_ms() + 30000;
    for (int i = 0; i < st->nnodes; i++) {
        if (st->nodes[i].group != g || i == st->groups[g].master)
            continue;
        struct tool_client *c = node_conn_quiet(x, i);
        if (!c && may_go_without(x, i))
            continue;
        for (;;) { /* the link to the master up */
            const char *info_cmd[] = { "INFO", "replication" };
            char *info = c ? tool_call_text(c, 2, info_cmd) : NULL;
            char link[16] = "";
            if (info) {
                tool_info_field(info, "master_link_status", link, sizeof link);
                free(info);
            }
            if (strcmp(link, "up") == 0)
                break;
            if (!c || mono_ms() > deadline) {
                fprintf(stderr, "[ERR] %s:%d: the replica's link to its master is not up\n", st->nodes[i].ip,
                        st->nodes[i].port);
                return -1;
            }
            usleep(50 * 1000);
        }
    }
    struct tool_client *mc = node_conn(x, st->groups[g].master);
    if (!mc)
        return -1;
    long long down = tool_node_timeout(mc);
    /* a name left on a Sentinel by a group of this id removed earlier
     * names another master: gone first */
    if (fresh)
        tool_sentinels_forget_group(st, st->groups[g].id);
    return tool_sentinels_watch_group(st, g, down, 30000);
}

/* --------------------------------------------------------------- add */

/* A node to be added: reachable, in cluster mode, in no cluster, empty. */
static int check_new_node(struct tool_client *c, char id[CLUSTER_ID_LEN + 1], uint64_t *version)
{
    const char *myid_cmd[] = { "CLUSTER", "MYID" };
    char *got = tool_call_text(c, 2, myid_cmd);
    if (!got) {
        if (strstr(c->err, "cluster support disabled"))
            fprintf(stderr, "[ERR] Node %s is not configured as a cluster node (start it with --cluster-enabled "
                            "yes).\n", c->addr);
        else
            fprintf(stderr, "[ERR] %s\n", c->err);
        return -1;
    }
    snprintf(id, CLUSTER_ID_LEN + 1, "%s", got);
    free(got);
    const char *info_cmd[] = { "CLUSTER", "INFO" };
    char *info = tool_call_text(c, 2, info_cmd);
    if (!info) {
        fprintf(stderr, "[ERR] %s\n", c->err);
        return -1;
    }
    char v[32] = "";
    tool_info_field(info, "cluster_table_version", v, sizeof v);
    free(info);
    *version = strtoull(v, NULL, 10);
    return 0;
}

int tool_add(const struct tool_reshard_opts *o)
{
    struct reshard x = { 0 };
    reshard_init(&x, o);
    char host[256];
    int port, rc = TOOL_EXIT_FAIL;
    uint16_t *table = calloc(SLOT_COUNT, sizeof *table);
    int *moves = calloc(SLOT_COUNT, sizeof *moves);
    int nnew = o->naddrs - 1;
    struct tool_client *nc = calloc((size_t)nnew, sizeof *nc);
    char (*nid)[CLUSTER_ID_LEN + 1] = calloc((size_t)nnew, sizeof *nid);
    char (*nip)[64] = calloc((size_t)nnew, sizeof *nip);
    int *nport = calloc((size_t)nnew, sizeof *nport);
    struct buf text;
    buf_init(&text);
    if (!table || !moves || !nc || !nid || !nip || !nport)
        abort();
    for (int i = 0; i < nnew; i++)
        nc[i].fd = -1;
    tool_split_addr(o->addrs[0], host, sizeof host, &port);
    if (read_state(&x, host, port) < 0 || check_cluster(&x) < 0)
        goto out;

    /* the new nodes: already in the state (a resumed add), or checked. On
     * a resumed add a node of the group may be dead (its master killed
     * during the move, its replica promoted): one the state lists at that
     * address is left out */
    int in_state = 0, ingroup = -1;
    for (int i = 0; i < nnew; i++) {
        char h[256];
        tool_split_addr(o->addrs[i + 1], h, sizeof h, &nport[i]);
        if (tool_connect(&nc[i], h, nport[i], TOOL_TIMEOUT_MS, nip[i]) < 0) {
            int n = 0;
            while (n < x.st->nnodes && !(strcmp(x.st->nodes[n].ip, h) == 0 && x.st->nodes[n].port == nport[i]))
                n++;
            if (n == x.st->nnodes) {
                fprintf(stderr, "[ERR] %s\n", nc[i].err);
                goto out;
            }
            fprintf(stderr, "[WARN] %s does not answer; it is in group %" PRIu32 " already: going on without it\n",
                    o->addrs[i + 1], x.st->groups[x.st->nodes[n].group].id);
            in_state++;
            ingroup = x.st->nodes[n].group;
            continue;
        }
        uint64_t v;
        if (check_new_node(&nc[i], nid[i], &v) < 0)
            goto out;
        bool known = false;
        for (int n = 0; n < x.st->nnodes; n++)
            if (strcmp(x.st->nodes[n].id, nid[i]) == 0) {
                known = true;
                ingroup = x.st->nodes[n].group;
            }
        in_state += known;
        if (!known) {
            const char *dbsize[] = { "DBSIZE" };
            long long keys = 0;
            if (v != 0) {
                fprintf(stderr, "[ERR] Node %s is already in a cluster (table version %" PRIu64 ").\n", nc[i].addr, v);
                goto out;
            }
            if (tool_call_int(&nc[i], 1, dbsize, &keys) < 0 || keys != 0) {
                fprintf(stderr, "[ERR] Node %s is not empty (%lld keys).\n", nc[i].addr, keys);
                goto out;
            }
        }
    }
    int newg = -1;
    if (in_state == nnew) {
        /* the group the nodes given are in; its master is the one its
         * record names now (the first node given, unless a failover
         * promoted another) */
        newg = ingroup;
        int m = x.st->groups[newg].master;
        if (m < 0 || x.st->nodes[m].group != newg) {
            fprintf(stderr, "[ERR] group %" PRIu32 " has no master.\n", x.st->groups[newg].id);
            goto out;
        }
        for (int i = 0; i < nnew; i++)
            if (nc[i].fd >= 0) {
                bool same = false;
                for (int n = 0; n < x.st->nnodes; n++)
                    same = same || (strcmp(x.st->nodes[n].id, nid[i]) == 0 && x.st->nodes[n].group == newg);
                if (!same) {
                    fprintf(stderr, "[ERR] %s is in another group of the cluster.\n", o->addrs[i + 1]);
                    goto out;
                }
            }
        if (strcmp(x.st->nodes[m].id, nid[0]) == 0)
            printf(">>> %s is the master of group %" PRIu32 " already: going on with its slots\n", o->addrs[1],
                   x.st->groups[newg].id);
        else
            printf(">>> group %" PRIu32 " is in the cluster already, its master now %s:%d: going on with its slots\n",
                   x.st->groups[newg].id, x.st->nodes[m].ip, x.st->nodes[m].port);
        if (register_with_sentinels(&x, newg, false) < 0)
            goto out;
    } else if (in_state != 0) {
        fprintf(stderr, "[ERR] Some of the nodes given are in the cluster and some are not.\n");
        goto out;
    } else {
        if (x.st->ngroups >= PLACEMENT_MAX_GROUPS || x.st->nnodes + nnew > CLUSTER_NODES_MAX) {
            fprintf(stderr, "[ERR] Too many groups or nodes.\n");
            goto out;
        }
        uint32_t gid = 0;
        for (int g = 0; g < x.st->ngroups; g++)
            if (x.st->groups[g].id >= gid)
                gid = x.st->groups[g].id + 1;
        uint64_t v = x.st->version;
        state_text_version(x.st, v + 1, &text);
        if (o->weight > 1)
            buf_printf(&text, "group %" PRIu32 " %s 0 %" PRIu32 "\n", gid, nid[0], o->weight);
        else
            buf_printf(&text, "group %" PRIu32 " %s 0\n", gid, nid[0]);
        for (int i = 0; i < nnew; i++)
            buf_printf(&text, "node %s %s %d %" PRIu32 "\n", nid[i], nip[i], nport[i], gid);
        buf_append(&text, "", 1);
        char perr[256];
        struct cluster_state *check = cluster_state_parse(text.data, text.len - 1, NULL, NULL, perr, sizeof perr);
        if (!check) {
            fprintf(stderr, "[ERR] the state built is not valid: %s\n", perr);
            goto out;
        }
        mi_free(check);
        printf(">>> Adding group %" PRIu32 ": master %s, %d replica(s), weight %" PRIu32 " (table version %" PRIu64
               ")\n", gid, o->addrs[1], nnew - 1, o->weight > 1 ? o->weight : 1, v + 1);
        for (int n = 0; n < x.st->nnodes; n++) {
            struct tool_client *c = node_conn_quiet(&x, n);
            if (!c && may_go_without(&x, n))
                continue; /* a dead replica: its peers give it the state if it comes back */
            if (!c)
                fprintf(stderr, "[ERR] %s\n", x.conn[n].err);
            if (!c || push_to(&x, n, c, v, text.data) < 0)
                goto out;
        }
        for (int i = 0; i < nnew; i++)
            if (push_to(&x, -1, &nc[i], 0, text.data) < 0)
                goto out;
        for (int i = 1; i < nnew; i++) {
            char p[16];
            snprintf(p, sizeof p, "%d", nport[0]);
            const char *follow[] = { "REPLICAOF", nip[0], p };
            if (call_ok(&nc[i], 3, follow, NULL) < 0)
                goto out;
        }
        if (read_state(&x, host, port) < 0 || wait_version(&x, v + 1, 30000) < 0)
            goto out;
        for (int g = 0; g < x.st->ngroups; g++)
            if (x.st->groups[g].id == gid)
                newg = g;
        if (register_with_sentinels(&x, newg, true) < 0)
            goto out;
    }

    if (target_table(x.st, -1, table) < 0) {
        fprintf(stderr, "[ERR] the target table could not be computed\n");
        goto out;
    }
    for (int s = 0; s < SLOT_COUNT; s++)
        moves[s] = table[s] == newg && x.st->slot_group[s] != newg ? newg : -1;
    if (plan_and_move(&x, moves, o->yes) < 0)
        goto out;
    printf("[OK] Group %" PRIu32 " serves %d slots.\n", x.st->groups[newg].id,
           x.st->groups[newg].nslots);
    rc = 0;
out:
    for (int i = 0; i < nnew; i++)
        tool_close(&nc[i]);
    close_all(&x);
    mi_free(x.st);
    buf_free(&text);
    free(table);
    free(moves);
    free(nc);
    free(nid);
    free(nip);
    free(nport);
    return rc;
}

/* The group numbered gid, which serves no slot now, out: the state
 * without it pushed to the other nodes, its name off the Sentinels, its
 * nodes told to forget the cluster (remove; --abort of an add). */
static int take_out(struct reshard *x, uint32_t gid, const char *host, int port)
{
    int rc = -1;
    struct buf text;
    buf_init(&text);
    /* the state without the group, from the settled table */
    if (read_state(x, host, port) < 0)
        goto out;
    int g = cluster_state_group_by_id(x->st, gid);
    if (g < 0 || x->st->groups[g].nslots != 0) {
        fprintf(stderr, "[ERR] group %" PRIu32 " still serves slots: run the same command again.\n", gid);
        goto out;
    }
    uint64_t v = x->st->version;
    struct buf full;
    buf_init(&full);
    state_text_version(x->st, v + 1, &full);
    buf_append(&full, "", 1);
    char gword[16];
    snprintf(gword, sizeof gword, "%" PRIu32, gid);
    for (char *line = full.data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char copy[512];
        snprintf(copy, sizeof copy, "%s", line);
        char *w[6] = { 0 };
        int nw = 0;
        for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && nw < 6; t = strtok_r(NULL, " ", &save))
            w[nw++] = t;
        bool drop = (nw >= 2 && (strcmp(w[0], "group") == 0 || strcmp(w[0], "slots") == 0) && strcmp(w[1], gword) == 0) ||
                    (nw == 5 && strcmp(w[0], "node") == 0 && strcmp(w[4], gword) == 0);
        if (!drop)
            buf_printf(&text, "%s\n", line);
    }
    buf_free(&full);
    buf_append(&text, "", 1);
    printf(">>> Taking group %" PRIu32 " out of the table (version %" PRIu64 ")\n", gid, v + 1);
    for (int n = 0; n < x->st->nnodes; n++) {
        if (x->st->nodes[n].group == g)
            continue;
        struct tool_client *c = node_conn_quiet(x, n);
        if (!c && may_go_without(x, n))
            continue;
        if (!c)
            fprintf(stderr, "[ERR] %s\n", x->conn[n].err);
        if (!c || push_to(x, n, c, v, text.data) < 0)
            goto out;
    }
    /* off the Sentinels before its nodes forget the cluster (a Sentinel
     * would see the master's replicas go) */
    tool_sentinels_forget_group(x->st, gid);
    /* the group's nodes forget the cluster: replicas first (each becomes an
     * empty master), then the master */
    for (int pass = 0; pass < 2; pass++)
        for (int n = 0; n < x->st->nnodes; n++) {
            if (x->st->nodes[n].group != g || (n == x->st->groups[g].master) != (pass == 1))
                continue;
            struct tool_client *c = node_conn(x, n);
            const char *reset[] = { "CLUSTER", "RESET", "HARD" };
            if (!c || call_ok(c, 3, reset, NULL) < 0)
                fprintf(stderr, "[WARN] %s:%d did not forget the cluster; it serves no slot and can be shut down.\n",
                        x->st->nodes[n].ip, x->st->nodes[n].port);
        }
    rc = 0;
out:
    buf_free(&text);
    return rc;
}

/* ------------------------------------------------------------ remove */

int tool_remove(const struct tool_reshard_opts *o)
{
    struct reshard x = { 0 };
    reshard_init(&x, o);
    char host[256];
    int port, rc = TOOL_EXIT_FAIL;
    uint16_t *table = calloc(SLOT_COUNT, sizeof *table);
    int *moves = calloc(SLOT_COUNT, sizeof *moves);
    struct buf text;
    buf_init(&text);
    struct tool_client m = { .fd = -1 };
    if (!table || !moves)
        abort();
    tool_split_addr(o->addrs[0], host, sizeof host, &port);
    if (read_state(&x, host, port) < 0 || check_cluster(&x) < 0)
        goto out;
    char mh[256], mid[CLUSTER_ID_LEN + 1];
    int mport;
    uint64_t mv;
    tool_split_addr(o->addrs[1], mh, sizeof mh, &mport);
    if (tool_connect(&m, mh, mport, TOOL_TIMEOUT_MS, NULL) < 0) {
        fprintf(stderr, "[ERR] %s\n", m.err);
        goto out;
    }
    if (check_new_node(&m, mid, &mv) < 0)
        goto out;
    int g = -1;
    for (int n = 0; n < x.st->nnodes; n++)
        if (strcmp(x.st->nodes[n].id, mid) == 0)
            g = x.st->nodes[n].group;
    if (g < 0) {
        printf("[OK] %s is in no group of the cluster: nothing to remove.\n", o->addrs[1]);
        rc = 0;
        goto out;
    }
    if (strcmp(x.st->nodes[x.st->groups[g].master].id, mid) != 0) {
        fprintf(stderr, "[ERR] %s is a replica: name the master of the group to remove.\n", o->addrs[1]);
        goto out;
    }
    if (x.st->ngroups < 2) {
        fprintf(stderr, "[ERR] Group %" PRIu32 " is the cluster's only group.\n", x.st->groups[g].id);
        goto out;
    }
    uint32_t gid = x.st->groups[g].id;
    printf(">>> Removing group %" PRIu32 " (master %s, %d slots)\n", gid, o->addrs[1], x.st->groups[g].nslots);
    if (target_table(x.st, g, table) < 0) {
        fprintf(stderr, "[ERR] the target table could not be computed\n");
        goto out;
    }
    for (int s = 0; s < SLOT_COUNT; s++)
        moves[s] = x.st->slot_group[s] == g ? table[s] : -1;
    if (plan_and_move(&x, moves, o->yes) < 0)
        goto out;

    if (take_out(&x, gid, host, port) < 0)
        goto out;
    printf("[OK] Group %" PRIu32 " removed; its nodes are in no cluster and can be shut down.\n", gid);
    rc = 0;
out:
    tool_close(&m);
    close_all(&x);
    mi_free(x.st);
    buf_free(&text);
    free(table);
    free(moves);
    return rc;
}

/* ------------------------------------- for tool_rebalance.c (tool.h) */

struct reshard *reshard_open(const char *host, int port, const struct tool_reshard_opts *o)
{
    struct reshard *x = calloc(1, sizeof *x);
    if (!x)
        abort();
    reshard_init(x, o);
    if (read_state(x, host, port) < 0 || check_cluster(x) < 0) {
        reshard_close(x);
        return NULL;
    }
    return x;
}

void reshard_close(struct reshard *x)
{
    if (!x)
        return;
    close_all(x);
    mi_free(x->st);
    free(x);
}

const struct cluster_state *reshard_state(const struct reshard *x)
{
    return x->st;
}

int reshard_reread(struct reshard *x, const char *host, int port)
{
    return read_state(x, host, port);
}

struct tool_client *reshard_node(struct reshard *x, int i)
{
    return node_conn(x, i);
}

int reshard_settle(struct reshard *x, int wait_ms)
{
    return wait_settled(x, wait_ms);
}

int reshard_push_all(struct reshard *x, const char *text, const char *host, int port)
{
    uint64_t v = x->st->version;
    for (int n = 0; n < x->st->nnodes; n++) {
        struct tool_client *c = node_conn(x, n);
        if (!c || push_to(x, n, c, v, text) < 0)
            return -1;
    }
    if (read_state(x, host, port) < 0)
        return -1;
    return wait_version(x, v + 1, 30000);
}

int reshard_target(const struct cluster_state *st, int without, uint16_t *table)
{
    return target_table(st, without, table);
}

int reshard_move(struct reshard *x, const int *moves, bool yes)
{
    return plan_and_move(x, moves, yes);
}

int reshard_drain(struct reshard *x, int from, const int *slots, int n, int to)
{
    struct tool_client *src = node_conn(x, from);
    if (!src)
        return -1;
    const struct cluster_node *dst = &x->st->nodes[to];
    struct buf names;
    buf_init(&names);
    struct slice *keys = NULL;
    int cap = 0, rc = -1;
    for (int fails = 0;;) {
        int nk = keys_ask(src, slots, n, x->batch) < 0 ? -1 : keys_listed(src, n, &names, &keys, &cap);
        if (nk < 0)
            goto out;
        if (nk == 0)
            break;
        for (int k = 0; k < nk; k += x->batch) {
            int m = nk - k < x->batch ? nk - k : x->batch;
            int r = migrate_send(src, dst, keys + k, m) < 0 ? -1 : migrate_answer(src);
            if (r == -1)
                goto out;
            if (r == -2) {
                if (++fails >= MIGRATE_TRIES)
                    goto out;
                usleep(100 * 1000);
                break;
            }
            x->keys_done += m;
        }
    }
    rc = 0;
out:
    buf_free(&names);
    free(keys);
    return rc;
}

int reshard_take_out(struct reshard *x, uint32_t gid, const char *host, int port)
{
    return take_out(x, gid, host, port);
}
