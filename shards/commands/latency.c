/* latency: the LATENCY command, Redis 7's replies from the node's spikes
 * (core/latency.h) and its per-command histograms (core/stats.h).
 *
 * LATEST, HISTORY, GRAPH, DOCTOR and RESET run on every shard: each answers
 * with its own series as one bulk string (struct latency_part: the
 * subcommand's argument and the settings the report needs, then the
 * shard's struct latency_events as bytes: a reply between shards of one
 * process), and the merge combines the shards' series (the worse spike of
 * a second both saw) before answering as Redis does. HISTOGRAM reads the
 * shards' histograms as INFO latencystats does. */
#include <math.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/latency.h"
#include "core/reply.h"
#include "core/stats.h"
#include "shards/commands/commands.h"
#include "shards/commands/server.h"
#include "shards/node.h"
#include "shards/shard.h"

#define ERR_BAD_PART "ERR internal error: malformed reply from a shard"

/* What a shard answers LATENCY with. */
struct latency_part {
    char                  arg[LATENCY_NAME_MAX * 2]; /* HISTORY/GRAPH's event, "" otherwise */
    long long             threshold;   /* latency-monitor-threshold */
    long long             slower_than; /* slowlog-log-slower-than */
    int32_t               now_s;
    int                   reset;       /* RESET: how many of the shard's series it dropped */
    struct latency_events events;      /* RESET: the series before it */
};

static void send_part(struct exec_ctx *ctx, struct latency_part *p)
{
    const struct config *cfg = &ctx->shard->node->config;
    p->threshold = config_load(cfg, latency_monitor_threshold);
    p->slower_than = config_load(cfg, slowlog_slower_than);
    p->now_s = (int32_t)(ctx->now_ms / 1000);
    reply_bulk(ctx->reply, p, sizeof(*p));
}

/* LATEST, HISTORY, GRAPH, DOCTOR on one shard. */
void cmd_latency_part(struct exec_ctx *ctx)
{
    struct latency_part *p = mi_zalloc(sizeof(*p));
    if (ctx->argc > 2)
        slice_to_cstr(ctx->argv[2], p->arg, sizeof(p->arg));
    p->events = ctx->shard->latency;
    send_part(ctx, p);
    mi_free(p);
}

/* RESET [event ...] on one shard: drops them; the part lists what was. */
void cmd_latency_reset(struct exec_ctx *ctx)
{
    struct latency_part *p = mi_zalloc(sizeof(*p));
    p->events = ctx->shard->latency;
    struct latency_events *le = &ctx->shard->latency;
    if (ctx->argc == 2) {
        latency_reset(le, NULL);
    } else {
        /* keep in the part only the series named (the ones dropped) */
        struct latency_events named = { 0 };
        for (int i = 2; i < ctx->argc; i++) {
            char name[LATENCY_NAME_MAX];
            if (!slice_to_cstr(ctx->argv[i], name, sizeof(name)))
                continue;
            struct latency_series *s = latency_find(le, name);
            if (s && !latency_find(&named, name)) {
                named.series[named.n++] = *s;
                latency_reset(le, name);
            }
        }
        p->events = named;
    }
    send_part(ctx, p);
    mi_free(p);
}

/* The shards' parts combined into one part (events merged by name), or
 * false with an error answered. */
static bool merge_parts(struct reply *out, const struct merge_input *in, struct latency_part *all)
{
    if (merge_copy_first_error(out, in))
        return false;
    memset(all, 0, sizeof(*all));
    for (int i = 0; i < in->nparts; i++) {
        const struct buf *b = &in->parts[i];
        const char *crlf = b->len > 1 && b->data[0] == '$' ? memchr(b->data, '\n', b->len) : NULL;
        if (!crlf || (size_t)(b->len - (size_t)(crlf + 1 - b->data)) < sizeof(struct latency_part)) {
            reply_error(out, ERR_BAD_PART);
            return false;
        }
        struct latency_part *p = mi_malloc(sizeof(*p));
        memcpy(p, crlf + 1, sizeof(*p));
        if (i == 0) {
            memcpy(all->arg, p->arg, sizeof(all->arg));
            all->threshold = p->threshold;
            all->slower_than = p->slower_than;
            all->now_s = p->now_s;
        }
        for (int e = 0; e < p->events.n; e++) {
            const struct latency_series *s = &p->events.series[e];
            struct latency_series *into = latency_find(&all->events, s->name);
            if (!into) {
                if (all->events.n == LATENCY_EVENTS_MAX)
                    continue;
                into = &all->events.series[all->events.n++];
                memset(into, 0, sizeof(*into));
                memcpy(into->name, s->name, sizeof(into->name));
            }
            latency_series_merge(into, s);
        }
        mi_free(p);
    }
    return true;
}

void merge_latency_latest(struct reply *out, const struct merge_input *in)
{
    struct latency_part *all = mi_malloc(sizeof(*all));
    if (merge_parts(out, in, all)) {
        struct latency_sample samples[LATENCY_TS_LEN];
        reply_array(out, (size_t)all->events.n);
        for (int e = 0; e < all->events.n; e++) {
            const struct latency_series *s = &all->events.series[e];
            int n = latency_series_samples(s, samples);
            reply_array(out, 4);
            reply_bulk_str(out, s->name);
            reply_int(out, n ? samples[n - 1].time : 0);
            reply_int(out, n ? samples[n - 1].latency : 0);
            reply_int(out, s->max);
        }
    }
    mi_free(all);
}

void merge_latency_history(struct reply *out, const struct merge_input *in)
{
    struct latency_part *all = mi_malloc(sizeof(*all));
    if (merge_parts(out, in, all)) {
        struct latency_sample samples[LATENCY_TS_LEN];
        const struct latency_series *s = latency_find(&all->events, all->arg);
        int n = s ? latency_series_samples(s, samples) : 0;
        reply_array(out, (size_t)n);
        for (int i = 0; i < n; i++) {
            reply_array(out, 2);
            reply_int(out, samples[i].time);
            reply_int(out, samples[i].latency);
        }
    }
    mi_free(all);
}

void merge_latency_reset(struct reply *out, const struct merge_input *in)
{
    struct latency_part *all = mi_malloc(sizeof(*all));
    if (merge_parts(out, in, all))
        reply_int(out, all->events.n); /* the series dropped on some shard */
    mi_free(all);
}

/* Redis's sparkline of the series (LATENCY GRAPH): four rows of '_', '#'
 * and '|' scaled between the lowest and highest sample, then each sample's
 * age written downwards, 80 columns a block. */
static void graph(struct buf *g, const struct latency_series *s, int32_t now_s)
{
    struct latency_sample samples[LATENCY_TS_LEN];
    int n = latency_series_samples(s, samples);
    uint32_t min = 0, max = 0;
    char labels[LATENCY_TS_LEN][16];
    for (int i = 0; i < n; i++) {
        if (i == 0 || samples[i].latency > max)
            max = samples[i].latency;
        if (i == 0 || samples[i].latency < min)
            min = samples[i].latency;
        int elapsed = now_s - samples[i].time;
        if (elapsed < 60)
            snprintf(labels[i], sizeof(labels[i]), "%ds", elapsed);
        else if (elapsed < 3600)
            snprintf(labels[i], sizeof(labels[i]), "%dm", elapsed / 60);
        else if (elapsed < 3600 * 24)
            snprintf(labels[i], sizeof(labels[i]), "%dh", elapsed / 3600);
        else
            snprintf(labels[i], sizeof(labels[i]), "%dd", elapsed / (3600 * 24));
    }
    buf_printf(g, "%s - high %lu ms, low %lu ms (all time high %lu ms)\n", s->name, (unsigned long)max,
               (unsigned long)min, (unsigned long)s->max);
    for (int j = 0; j < 80; j++)
        buf_append(g, "-", 1);
    buf_append(g, "\n", 1);
    enum { ROWS = 4, COLS = 80 };
    double relmax = max - min ? (double)(max - min) : 1.0;
    for (int off = 0; off < n; off += COLS) {
        int len = n - off < COLS ? n - off : COLS;
        for (int row = 0;; row++) {
            char line[COLS];
            bool any = false;
            memset(line, ' ', sizeof(line));
            for (int j = 0; j < len; j++) {
                const struct latency_sample *x = &samples[off + j];
                if (row < ROWS) {
                    int step = (int)((double)(x->latency - min) * ROWS * 2 / relmax);
                    if (step >= ROWS * 2)
                        step = ROWS * 2 - 1;
                    int charidx = step - (ROWS - row - 1) * 2;
                    any = true;
                    if (charidx >= 0 && charidx < 2)
                        line[j] = charidx ? '#' : '_';
                    else if (charidx >= 2)
                        line[j] = '|';
                } else if (row == ROWS) {
                    any = true; /* a blank row before the labels, as Redis draws it */
                } else if ((size_t)(row - ROWS - 1) < strlen(labels[off + j])) {
                    line[j] = labels[off + j][row - ROWS - 1];
                    any = true;
                }
            }
            if (!any)
                break;
            buf_append(g, line, (size_t)len);
            buf_append(g, "\n", 1);
        }
    }
}

void merge_latency_graph(struct reply *out, const struct merge_input *in)
{
    struct latency_part *all = mi_malloc(sizeof(*all));
    if (merge_parts(out, in, all)) {
        const struct latency_series *s = latency_find(&all->events, all->arg);
        struct latency_sample samples[LATENCY_TS_LEN];
        if (!s || latency_series_samples(s, samples) == 0) {
            reply_errorf(out, "ERR No samples available for event '%s'", all->arg);
        } else {
            struct buf g;
            buf_init(&g);
            graph(&g, s, all->now_s);
            reply_verbatim(out, g.data, g.len);
            buf_free(&g);
        }
    }
    mi_free(all);
}

/* LATENCY DOCTOR: Redis's report, from the merged series. */
void merge_latency_doctor(struct reply *out, const struct merge_input *in)
{
    struct latency_part *all = mi_malloc(sizeof(*all));
    if (!merge_parts(out, in, all)) {
        mi_free(all);
        return;
    }
    struct buf r;
    buf_init(&r);
    if (all->threshold == 0) {
        buf_append_str(&r, "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
                           "instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in "
                           "order to enable it. If we weren't in a deep space mission I'd suggest to take a look "
                           "at https://redis.io/topics/latency-monitor.\n");
    } else if (all->events.n == 0) {
        buf_append_str(&r, "Dave, no latency spike was observed during the lifetime of this Redis instance, "
                           "not in the slightest bit. I honestly think you ought to sit down calmly, take a "
                           "stress pill, and think things over.\n");
    } else {
        buf_append_str(&r, "Dave, I have observed latency spikes in this Redis instance. You don't mind "
                           "talking about it, do you Dave?\n\n");
        bool commands = false, fast = false, expiry = false;
        struct latency_sample samples[LATENCY_TS_LEN];
        for (int e = 0; e < all->events.n; e++) {
            const struct latency_series *s = &all->events.series[e];
            int n = latency_series_samples(s, samples);
            if (n == 0)
                continue;
            uint64_t sum = 0;
            for (int i = 0; i < n; i++)
                sum += samples[i].latency;
            uint64_t avg = sum / (uint64_t)n;
            double dev = 0;
            for (int i = 0; i < n; i++)
                dev += fabs((double)samples[i].latency - (double)sum / n);
            double period = (double)(samples[n - 1].time - samples[0].time) / n;
            buf_printf(&r, "%d. %s: %d latency spikes (average %llums, mean deviation %llums, period %.2f sec). "
                           "Worst all time event %lums.\n",
                       e + 1, s->name, n, (unsigned long long)avg, (unsigned long long)(dev / n), period,
                       (unsigned long)s->max);
            commands |= strcmp(s->name, "command") == 0;
            fast |= strcmp(s->name, "fast-command") == 0;
            expiry |= strcmp(s->name, "expire-cycle") == 0 || strcmp(s->name, "eviction-cycle") == 0;
        }
        buf_append_str(&r, "\nI have a few advices for you:\n\n");
        if ((commands || fast) && all->slower_than / 1000 > all->threshold)
            buf_printf(&r, "- Your current Slow Log configuration only logs events that are slower than your "
                           "configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than "
                           "%lld'.\n", all->threshold * 1000);
        if (commands || fast)
            buf_append_str(&r, "- Check your Slow Log to understand what are the commands you are running which "
                               "are too slow to execute. Please check https://redis.io/commands/slowlog for more "
                               "information.\n");
        if (fast)
            buf_append_str(&r, "- The system is slow to execute Redis code paths not containing system calls. "
                               "This usually means the system does not provide Redis CPU time to run for long "
                               "periods. You should try to check that the ringkv threads have CPUs of their own "
                               "(--threads, --pin) and that the machine is not overcommitted.\n");
        if (commands || expiry)
            buf_append_str(&r, "- Deleting, expiring or evicting (because of maxmemory policy) large objects is "
                               "a blocking operation. If you have very large objects that are often deleted, "
                               "expired, or evicted, try to fragment those objects into multiple smaller "
                               "objects.\n");
    }
    reply_verbatim(out, r.data, r.len);
    buf_free(&r);
    mi_free(all);
}

/* ---- HISTOGRAM ------------------------------------------------------- */

struct histogram_walk {
    const struct node *node;
    struct reply      *out;
    int                argc;
    const struct slice *argv; /* the names asked for (argc 0: every command) */
    bool               count_only;
    size_t             count;
};

/* Redis 7's histogram of one command: calls, and for every power of two of
 * microseconds where the cumulative count grows, that count. */
static void histogram_of(void *arg, const struct command *cmd, const char *fullname)
{
    struct histogram_walk *w = arg;
    const struct node *n = w->node;
    if (cmd->index < 0)
        return;
    if (w->argc > 0) {
        bool asked = false;
        for (int i = 0; i < w->argc && !asked; i++)
            asked = w->argv[i].len == strlen(fullname) && strncasecmp(w->argv[i].ptr, fullname, w->argv[i].len) == 0;
        if (!asked)
            return;
    }
    uint64_t buckets[LATENCY_BUCKETS] = { 0 };
    uint64_t calls = 0;
    for (int i = 0; i < n->nshards; i++) {
        const struct shard_stats *s = &n->shards[i]->stats;
        if (s->cmd == NULL || (size_t)cmd->index >= s->ncommands)
            continue;
        const struct latency_hist *h = __atomic_load_n(&s->cmd[cmd->index].latency, __ATOMIC_ACQUIRE);
        if (!h)
            continue;
        calls += stat_load(&h->count);
        for (size_t b = 0; b < LATENCY_BUCKETS; b++)
            buckets[b] += stat_load(&h->bucket[b]);
    }
    if (calls == 0)
        return;
    if (w->count_only) {
        w->count++;
        return;
    }
    /* cumulative counts at each power of two: values below 2^k us */
    uint64_t cum[64];
    int nb = 0;
    uint64_t below = 0, last = 0;
    size_t b = 0;
    long long edges[64];
    for (int k = 0; k < 40; k++) {
        uint64_t edge = 1ULL << k; /* the count of calls that took at most edge us */
        while (b < LATENCY_BUCKETS) {
            /* bucket b's values (core/stats.c's layout): [low, low + unit) */
            uint64_t unit = b < 16 ? 1 : 1ULL << (b / 16 + 3 - 4);
            uint64_t low = b < 16 ? b : (uint64_t)(16 + b % 16) * unit;
            if (low + unit - 1 > edge)
                break;
            below += buckets[b++];
        }
        if (below > last) {
            edges[nb] = (long long)edge;
            cum[nb++] = below;
            last = below;
        }
        if (below == calls)
            break;
    }
    reply_bulk_str(w->out, fullname);
    reply_map(w->out, 2);
    reply_bulk_str(w->out, "calls");
    reply_int(w->out, (long long)calls);
    reply_bulk_str(w->out, "histogram_usec");
    reply_map(w->out, (size_t)nb);
    for (int i = 0; i < nb; i++) {
        reply_int(w->out, edges[i]);
        reply_int(w->out, (long long)cum[i]);
    }
}

void cmd_latency_histogram(struct exec_ctx *ctx)
{
    struct histogram_walk w = { ctx->shard->node, ctx->reply, ctx->argc - 2, ctx->argv + 2, true, 0 };
    if (!config_load(&ctx->shard->node->config, latency_tracking)) {
        reply_map(ctx->reply, 0);
        return;
    }
    each_command(histogram_of, &w);
    reply_map(ctx->reply, w.count);
    w.count_only = false;
    each_command(histogram_of, &w);
}

void cmd_latency_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}
