/* state: the cluster state's text form and its checks (see state.h). */
#include "shards/cluster/state.h"

#include <errno.h>
#include <inttypes.h>
#include <mimalloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_LINE "ringkv-cluster-state 1"
#define WORDS_MAX   64

static struct cluster_state *state_alloc(int nnodes, int ngroups)
{
    _Static_assert(sizeof(struct cluster_state) % _Alignof(struct cluster_group) == 0, "groups follow the state");
    _Static_assert(sizeof(struct cluster_group) % _Alignof(struct cluster_node) == 0, "nodes follow the groups");
    size_t size = sizeof(struct cluster_state) + (size_t)ngroups * sizeof(struct cluster_group) +
                  (size_t)nnodes * sizeof(struct cluster_node);
    struct cluster_state *st = mi_zalloc(size);
    if (!st)
        abort();
    /* groups first: they hold 64-bit epochs, the nodes only bytes and ints */
    st->groups = (struct cluster_group *)(st + 1);
    st->nodes = (struct cluster_node *)(st->groups + ngroups);
    st->myself = -1;
    for (int s = 0; s < SLOT_COUNT; s++)
        st->slot_group[s] = CLUSTER_NO_GROUP;
    return st;
}

struct cluster_state *cluster_state_empty(void)
{
    return state_alloc(0, 0);
}

bool cluster_id_valid(const char *s, size_t len)
{
    if (len != CLUSTER_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static int find_group(const struct cluster_state *st, uint32_t id)
{
    for (int g = 0; g < st->ngroups; g++)
        if (st->groups[g].id == id)
            return g;
    return -1;
}

static int find_node(const struct cluster_state *st, const char *id)
{
    for (int i = 0; i < st->nnodes; i++)
        if (strcmp(st->nodes[i].id, id) == 0)
            return i;
    return -1;
}

/* Split a line into words in place; returns how many, or WORDS_MAX + 1
 * when there are more. */
static int split_words(char *line, char **w)
{
    int n = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p)
            break;
        if (n == WORDS_MAX)
            return n + 1;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

/* One record of the text: its words and its line number. */
struct record {
    int   line;
    int   n;
    char *w[WORDS_MAX];
};

struct parse {
    char  *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static void fail(struct parse *p, const struct record *r, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "line %d: %s", r ? r->line : 1, why);
}

static bool is(const struct record *r, const char *kind)
{
    return strcmp(r->w[0], kind) == 0;
}

/* The records in order, taken by kind: the format line, then the version
 * and id, groups, nodes (naming groups), masters (naming nodes), slots. A
 * push may order its lines any way. */
static bool build(struct parse *p, struct cluster_state *st, struct record *rec, int nrec,
                  char *myid_out)
{
    if (nrec == 0 || rec[0].n != 2 || !is(&rec[0], "ringkv-cluster-state") || strcmp(rec[0].w[1], "1") != 0) {
        fail(p, nrec ? &rec[0] : NULL, "expected '" FORMAT_LINE "' first");
        return false;
    }
    bool seen_version = false;
    uint64_t v;
    for (int i = 1; i < nrec; i++) {
        struct record *r = &rec[i];
        if (is(r, "myid")) {
            if (!myid_out) {
                fail(p, r, "'myid' is not for a push: a node keeps its own id");
                return false;
            }
            if (r->n != 2 || !cluster_id_valid(r->w[1], strlen(r->w[1]))) {
                fail(p, r, "expected 'myid <40 hex characters>'");
                return false;
            }
            memcpy(myid_out, r->w[1], CLUSTER_ID_LEN + 1);
        } else if (is(r, "table-version")) {
            if (r->n != 2 || !parse_u64(r->w[1], INT64_MAX, &v) || v == 0 || seen_version) {
                fail(p, r, "expected one 'table-version <n>' with n >= 1");
                return false;
            }
            seen_version = true;
            st->version = v;
        } else if (is(r, "group")) {
            uint64_t gid, epoch, weight = 1;
            if ((r->n != 4 && r->n != 5) || !parse_u64(r->w[1], INT32_MAX, &gid) ||
                !cluster_id_valid(r->w[2], strlen(r->w[2])) || !parse_u64(r->w[3], INT64_MAX, &epoch) ||
                (r->n == 5 && (!parse_u64(r->w[4], CLUSTER_WEIGHT_MAX, &weight) || weight == 0))) {
                fail(p, r, "expected 'group <group-id> <master id> <epoch>' and maybe a weight 1..%d", CLUSTER_WEIGHT_MAX);
                return false;
            }
            if (find_group(st, (uint32_t)gid) >= 0) {
                fail(p, r, "group %s given twice", r->w[1]);
                return false;
            }
            struct cluster_group *gr = &st->groups[st->ngroups++];
            gr->id = (uint32_t)gid;
            gr->epoch = epoch;
            gr->weight = (uint32_t)weight;
            gr->master = -1;
        } else if (is(r, "sentinel")) {
            uint64_t port;
            if (r->n != 3 || strlen(r->w[1]) >= sizeof(st->sentinels[0].ip) || !parse_u64(r->w[2], 65535, &port) ||
                port == 0) {
                fail(p, r, "expected 'sentinel <ip> <port 1..65535>'");
                return false;
            }
            if (st->nsentinels == CLUSTER_SENTINELS_MAX) {
                fail(p, r, "more than %d Sentinels", CLUSTER_SENTINELS_MAX);
                return false;
            }
            struct cluster_sentinel_addr *a = &st->sentinels[st->nsentinels++];
            snprintf(a->ip, sizeof(a->ip), "%s", r->w[1]);
            a->port = (int)port;
        } else if (!is(r, "node") && !is(r, "slots")) {
            fail(p, r, "unknown record '%.40s'", r->w[0]);
            return false;
        }
    }
    for (int i = 1; i < nrec; i++) {
        struct record *r = &rec[i];
        uint64_t port, gid;
        if (!is(r, "node"))
            continue;
        if (r->n != 5 || !cluster_id_valid(r->w[1], strlen(r->w[1])) ||
            strlen(r->w[2]) >= sizeof(st->nodes[0].ip) || !parse_u64(r->w[3], 65535, &port) || port == 0 ||
            !parse_u64(r->w[4], INT32_MAX, &gid)) {
            fail(p, r, "expected 'node <40 hex id> <ip> <port 1..65535> <group-id>'");
            return false;
        }
        if (find_node(st, r->w[1]) >= 0) {
            fail(p, r, "node %s given twice", r->w[1]);
            return false;
        }
        int g = find_group(st, (uint32_t)gid);
        if (g < 0) {
            fail(p, r, "node %s is in group %s, which has no 'group' line", r->w[1], r->w[4]);
            return false;
        }
        struct cluster_node *nd = &st->nodes[st->nnodes++];
        memcpy(nd->id, r->w[1], CLUSTER_ID_LEN + 1);
        snprintf(nd->ip, sizeof(nd->ip), "%s", r->w[2]);
        nd->port = (int)port;
        nd->group = g;
    }
    for (int i = 1; i < nrec; i++) {
        struct record *r = &rec[i];
        if (!is(r, "group"))
            continue;
        int g = find_group(st, (uint32_t)strtoul(r->w[1], NULL, 10));
        int m = find_node(st, r->w[2]);
        if (m < 0 || st->nodes[m].group != g) {
            fail(p, r, "the master of group %s, %s, is not a node of that group", r->w[1], r->w[2]);
            return false;
        }
        st->groups[g].master = m;
    }
    for (int i = 1; i < nrec; i++) {
        struct record *r = &rec[i];
        uint64_t gid;
        if (!is(r, "slots"))
            continue;
        if (r->n < 2 || !parse_u64(r->w[1], INT32_MAX, &gid)) {
            fail(p, r, "expected 'slots <group-id> <a>-<b>|<a> ...'");
            return false;
        }
        int g = find_group(st, (uint32_t)gid);
        if (g < 0) {
            fail(p, r, "slots of group %s, which has no 'group' line", r->w[1]);
            return false;
        }
        for (int k = 2; k < r->n; k++) {
            uint64_t a, b;
            char *dash = strchr(r->w[k], '-');
            if (dash)
                *dash = '\0';
            if (!parse_u64(r->w[k], SLOT_COUNT - 1, &a) || (dash && !parse_u64(dash + 1, SLOT_COUNT - 1, &b))) {
                fail(p, r, "bad slot range: slots are 0..16383, a range is <a>-<b>");
                return false;
            }
            if (!dash)
                b = a;
            if (b < a) {
                fail(p, r, "bad slot range %" PRIu64 "-%" PRIu64, a, b);
                return false;
            }
            for (uint64_t s = a; s <= b; s++) {
                if (st->slot_group[s] != CLUSTER_NO_GROUP) {
                    fail(p, r, "slot %" PRIu64 " given twice", s);
                    return false;
                }
                st->slot_group[s] = (uint16_t)g;
                st->groups[g].nslots++;
                st->slots_assigned++;
            }
        }
    }
    if (st->nnodes > 0 && !seen_version) {
        fail(p, NULL, "a state with nodes needs a 'table-version'");
        return false;
    }
    return true;
}

struct cluster_state *cluster_state_parse(const char *text, size_t len, const char *myid,
                                          char myid_out[CLUSTER_ID_LEN + 1], char *err, size_t errlen)
{
    struct parse p = { err, errlen };
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "the state holds a NUL byte");
        return NULL;
    }
    char *copy = mi_malloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    int lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += copy[i] == '\n';
    struct record *rec = mi_malloc(sizeof(struct record) * (size_t)lines);
    int nrec = 0, nnodes = 0, ngroups = 0, line = 0;
    bool ok = true;
    for (char *l = copy, *next; l && ok; l = next) {
        next = strchr(l, '\n');
        if (next)
            *next++ = '\0';
        line++;
        struct record *r = &rec[nrec];
        char *w[WORDS_MAX + 1];
        int n = split_words(l, w);
        if (n == 0 || w[0][0] == '#')
            continue;
        r->line = line;
        if (n > WORDS_MAX) {
            fail(&p, r, "more than %d words (split a group's slots over several 'slots' lines)", WORDS_MAX);
            ok = false;
            break;
        }
        r->n = n;
        memcpy(r->w, w, sizeof(char *) * (size_t)n);
        nnodes += is(r, "node");
        ngroups += is(r, "group");
        nrec++;
    }
    if (ok && (nnodes > CLUSTER_NODES_MAX || ngroups > CLUSTER_GROUPS_MAX)) {
        snprintf(err, errlen, "more than %d nodes or %d groups", CLUSTER_NODES_MAX, CLUSTER_GROUPS_MAX);
        ok = false;
    }
    struct cluster_state *st = NULL;
    if (ok) {
        st = state_alloc(nnodes, ngroups);
        ok = build(&p, st, rec, nrec, myid_out);
    }
    mi_free(rec);
    mi_free(copy);
    if (!ok) {
        mi_free(st);
        return NULL;
    }
    const char *me = myid_out ? myid_out : myid;
    if (me && *me)
        st->myself = find_node(st, me);
    return st;
}

void cluster_state_format(const struct cluster_state *st, const char *myid, struct buf *out)
{
    buf_append_str(out, FORMAT_LINE "\n");
    if (myid)
        buf_printf(out, "myid %s\n", myid);
    if (st->version == 0)
        return;
    buf_printf(out, "table-version %" PRIu64 "\n", st->version);
    for (int g = 0; g < st->ngroups; g++) {
        const struct cluster_group *gr = &st->groups[g];
        buf_printf(out, "group %" PRIu32 " %s %" PRIu64, gr->id, st->nodes[gr->master].id, gr->epoch);
        if (gr->weight != 1) /* the default is not written: a state without weights reads as before */
            buf_printf(out, " %" PRIu32, gr->weight);
        buf_append_str(out, "\n");
    }
    for (int i = 0; i < st->nnodes; i++) {
        const struct cluster_node *nd = &st->nodes[i];
        buf_printf(out, "node %s %s %d %" PRIu32 "\n", nd->id, nd->ip, nd->port, st->groups[nd->group].id);
    }
    for (int i = 0; i < st->nsentinels; i++)
        buf_printf(out, "sentinel %s %d\n", st->sentinels[i].ip, st->sentinels[i].port);
    for (int g = 0; g < st->ngroups; g++) {
        int words = 0;
        for (int s = 0; s < SLOT_COUNT;) {
            if (st->slot_group[s] != g) {
                s++;
                continue;
            }
            int e = s;
            while (e + 1 < SLOT_COUNT && st->slot_group[e + 1] == g)
                e++;
            if (words == 0)
                buf_printf(out, "slots %" PRIu32, st->groups[g].id);
            if (e == s)
                buf_printf(out, " %d", s);
            else
                buf_printf(out, " %d-%d", s, e);
            if (++words == WORDS_MAX - 2) {
                buf_append_str(out, "\n");
                words = 0;
            }
            s = e + 1;
        }
        if (words)
            buf_append_str(out, "\n");
    }
}

int cluster_state_keep_newer_groups(struct cluster_state *st, const struct cluster_state *old)
{
    int taken = 0;
    for (int g = 0; g < st->ngroups; g++) {
        struct cluster_group *gr = &st->groups[g];
        int og = find_group(old, gr->id);
        if (og < 0 || !cluster_record_newer(old->groups[og].epoch, old->nodes[old->groups[og].master].id,
                                            gr->epoch, st->nodes[gr->master].id))
            continue;
        int m = find_node(st, old->nodes[old->groups[og].master].id);
        if (m < 0 || st->nodes[m].group != g)
            continue; /* the old master left the group: the table's word is all there is */
        gr->master = m;
        gr->epoch = old->groups[og].epoch;
        taken++;
    }
    return taken;
}

struct cluster_state *cluster_state_copy(const struct cluster_state *st)
{
    struct cluster_state *copy = state_alloc(st->nnodes, st->ngroups);
    struct cluster_group *groups = copy->groups;
    struct cluster_node *nodes = copy->nodes;
    *copy = *st;
    copy->groups = groups;
    copy->nodes = nodes;
    memcpy(groups, st->groups, sizeof(*groups) * (size_t)st->ngroups);
    memcpy(nodes, st->nodes, sizeof(*nodes) * (size_t)st->nnodes);
    return copy;
}

uint64_t cluster_state_max_epoch(const struct cluster_state *st)
{
    uint64_t max = 0;
    for (int g = 0; g < st->ngroups; g++)
        if (st->groups[g].epoch > max)
            max = st->groups[g].epoch;
    return max;
}

int cluster_state_group_by_id(const struct cluster_state *st, uint32_t id)
{
    return find_group(st, id);
}

int cluster_state_node_at(const struct cluster_state *st, int g, const char *ip, int port)
{
    for (int i = 0; i < st->nnodes; i++)
        if (st->nodes[i].group == g && st->nodes[i].port == port && strcmp(st->nodes[i].ip, ip) == 0)
            return i;
    return -1;
}
