/* tool_sentinel: the admin tool and the cluster's Sentinels (tool.h):
 * registering a group's master with them, waiting until they can fail it
 * over, and taking a group's name off them. Shared by `create --sentinels`
 * (every group at once), `add` (the new group) and `remove` (the group
 * taken out).
 *
 * A group is watched as master name ringkv-<group id>, at quorum N/2 + 1
 * of the N Sentinels, with down-after-milliseconds the nodes'
 * cluster-node-timeout (the cluster's own failure time). The Sentinels
 * learn a master's replicas from its INFO (at once when they start
 * monitoring, every 10 s afterwards) and each other through the master's
 * hello channel, so a group is registered after its replicas' links are
 * up, then waited for until every Sentinel lists them (num-slaves) and
 * the others (num-other-sentinels): only then could it vote and promote. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/resp.h"
#include "shards/cluster/state.h"
#include "shards/cluster/tool.h"
#include "shards/cluster/tool_client.h"

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long tool_node_timeout(struct tool_client *c)
{
    long long ms = 15000;
    const char *cfg_cmd[] = { "CONFIG", "GET", "cluster-node-timeout" };
    if (tool_call(c, 3, cfg_cmd) == 0) {
        struct resp_reader rd;
        long long n;
        struct slice name, val;
        resp_reader_init(&rd, c->reply.data, c->reply.len);
        if (resp_read_aggregate(&rd, &n) && n == 2 && resp_read_string(&rd, &name) && resp_read_string(&rd, &val))
            ms = atoll(val.ptr);
    }
    return ms > 0 ? ms : 15000;
}

int tool_sentinel_register(struct tool_client *s, const char *ip, int port, uint32_t gid, int quorum,
                           long long down_ms)
{
    char name[32], p[16], q[16], down[32], fo[32];
    snprintf(name, sizeof name, "ringkv-%" PRIu32, gid);
    snprintf(p, sizeof p, "%d", port);
    snprintf(q, sizeof q, "%d", quorum);
    snprintf(down, sizeof down, "%lld", down_ms);
    /* time for one failover attempt (and before the next): three times the
     * down detection, at least 10 s; Redis's default of 3 min is for WANs */
    snprintf(fo, sizeof fo, "%lld", down_ms * 3 > 10000 ? down_ms * 3 : 10000);
    const char *mon[] = { "SENTINEL", "MONITOR", name, ip, p, q };
    const char *set[] = { "SENTINEL", "SET", name, "down-after-milliseconds", down, "failover-timeout", fo };
    char *ok = tool_call_text(s, 6, mon);
    if (ok) {
        free(ok);
        ok = tool_call_text(s, 7, set);
    }
    if (!ok) {
        fprintf(stderr, "[ERR] registering %s with Sentinel %s: %s\n", name, s->addr, s->err);
        return -1;
    }
    free(ok);
    return 0;
}

bool tool_sentinel_ready(struct tool_client *s, uint32_t gid, int replicas, int others, char *why, size_t whylen)
{
    char name[32];
    snprintf(name, sizeof name, "ringkv-%" PRIu32, gid);
    const char *cmd[] = { "SENTINEL", "MASTER", name };
    if (tool_call(s, 3, cmd) < 0) {
        snprintf(why, whylen, "%s", s->err);
        return false;
    }
    struct resp_reader rd;
    long long count;
    long long slaves = -1, sentinels = -1;
    resp_reader_init(&rd, s->reply.data, s->reply.len);
    if (!resp_read_aggregate(&rd, &count) || count < 0) {
        snprintf(why, whylen, "Sentinel %s: SENTINEL MASTER %s: %.*s", s->addr, name,
                 (int)(s->reply.len > 100 ? 100 : s->reply.len), s->reply.data);
        return false;
    }
    for (long long i = 0; i + 1 < count; i += 2) {
        struct slice k, v;
        if (!resp_read_string(&rd, &k) || !resp_read_string(&rd, &v) || !k.ptr || !v.ptr)
            break;
        if (k.len == 10 && memcmp(k.ptr, "num-slaves", 10) == 0)
            slaves = atoll(v.ptr);
        else if (k.len == 19 && memcmp(k.ptr, "num-other-sentinels", 19) == 0)
            sentinels = atoll(v.ptr);
    }
    if (slaves >= replicas && sentinels >= others)
        return true;
    snprintf(why, whylen, "Sentinel %s knows %lld replica(s) of %s and %lld other Sentinel(s)", s->addr, slaves,
             name, sentinels);
    return false;
}

/* Does Sentinel s monitor the name ringkv-<gid>? 1 yes, 0 no, -1 no answer
 * (s->err says why) or not a Sentinel. */
static int sentinel_knows(struct tool_client *s, uint32_t gid)
{
    char name[32];
    snprintf(name, sizeof name, "ringkv-%" PRIu32, gid);
    const char *cmd[] = { "SENTINEL", "MASTER", name };
    if (tool_call(s, 3, cmd) < 0)
        return -1;
    if (s->reply.len > 0 && s->reply.data[0] != '-')
        return 1;
    if (memmem(s->reply.data, s->reply.len, "No such master", 14))
        return 0;
    snprintf(s->err, sizeof s->err, "%s is not a Sentinel: %.*s", s->addr,
             (int)(s->reply.len > 200 ? 200 : s->reply.len - 2), s->reply.data);
    return -1;
}

static struct tool_client *connect_sentinels(const struct cluster_state *st)
{
    struct tool_client *c = calloc((size_t)st->nsentinels, sizeof *c);
    if (!c)
        abort();
    for (int i = 0; i < st->nsentinels; i++) {
        if (tool_connect(&c[i], st->sentinels[i].ip, st->sentinels[i].port, TOOL_TIMEOUT_MS, NULL) < 0) {
            fprintf(stderr, "[ERR] Sentinel: %s\n", c[i].err);
            for (int j = 0; j <= i; j++)
                tool_close(&c[j]);
            free(c);
            return NULL;
        }
    }
    return c;
}

static void close_sentinels(struct tool_client *c, int n)
{
    for (int i = 0; i < n; i++)
        tool_close(&c[i]);
    free(c);
}

int tool_sentinels_watch_group(const struct cluster_state *st, int g, long long down_ms, int wait_ms)
{
    int nsent = st->nsentinels;
    if (nsent == 0)
        return 0;
    struct tool_client *s = connect_sentinels(st);
    if (!s)
        return -1;
    const struct cluster_group *gr = &st->groups[g];
    const struct cluster_node *m = &st->nodes[gr->master];
    int replicas = 0;
    for (int i = 0; i < st->nnodes; i++)
        replicas += st->nodes[i].group == g && i != gr->master;
    int rc = -1;
    printf(">>> Registering group %" PRIu32 " with %d Sentinels as ringkv-%" PRIu32
           " (quorum %d, down-after-milliseconds %lld)\n", gr->id, nsent, gr->id, nsent / 2 + 1, down_ms);
    for (int i = 0; i < nsent; i++) {
        int known = sentinel_knows(&s[i], gr->id);
        if (known < 0) {
            fprintf(stderr, "[ERR] Sentinel: %s\n", s[i].err);
            goto out;
        }
        /* a resumed add: the name is there already (the master's address
         * is the Sentinel's to follow from then on) */
        if (!known && tool_sentinel_register(&s[i], m->ip, m->port, gr->id, nsent / 2 + 1, down_ms) < 0)
            goto out;
    }
    printf(">>> Waiting for every Sentinel to know the group's %d replica(s) and the other Sentinels\n", replicas);
    fflush(stdout);
    long long deadline = mono_ms() + wait_ms;
    char why[800] = "";
    for (int i = 0; i < nsent;) {
        if (tool_sentinel_ready(&s[i], gr->id, replicas, nsent - 1, why, sizeof why)) {
            i++;
            continue;
        }
        if (s[i].fd < 0 || mono_ms() > deadline) {
            fprintf(stderr, "[ERR] the Sentinels are not ready to fail group %" PRIu32 " over: %s\n", gr->id, why);
            goto out;
        }
        usleep(100 * 1000);
    }
    printf("[OK] Group %" PRIu32 " is watched by %d Sentinels that know its replicas.\n", gr->id, nsent);
    rc = 0;
out:
    close_sentinels(s, nsent);
    return rc;
}

int tool_sentinels_forget_group(const struct cluster_state *st, uint32_t gid)
{
    int nsent = st->nsentinels, rc = 0;
    if (nsent == 0)
        return 0;
    char name[32];
    snprintf(name, sizeof name, "ringkv-%" PRIu32, gid);
    printf(">>> Removing %s from %d Sentinels\n", name, nsent);
    for (int i = 0; i < nsent; i++) {
        struct tool_client c;
        if (tool_connect(&c, st->sentinels[i].ip, st->sentinels[i].port, TOOL_TIMEOUT_MS, NULL) < 0) {
            fprintf(stderr, "[WARN] Sentinel: %s: remove %s there by hand (SENTINEL REMOVE %s)\n", c.err, name, name);
            tool_close(&c);
            rc = -1;
            continue;
        }
        int known = sentinel_knows(&c, gid);
        const char *cmd[] = { "SENTINEL", "REMOVE", name };
        char *ok = known == 1 ? tool_call_text(&c, 3, cmd) : NULL;
        if (known < 0 || (known == 1 && !ok)) {
            fprintf(stderr, "[WARN] Sentinel %s: %s: remove %s there by hand (SENTINEL REMOVE %s)\n", c.addr, c.err,
                    name, name);
            rc = -1;
        }
        free(ok);
        tool_close(&c);
    }
    return rc;
}
