/* stats: per-shard counters and per-command latency histograms.
 *
 * The owning shard is the only writer; it writes with relaxed atomic stores
 * (stat_add) so that INFO on another shard may read with stat_load without a
 * data race. stats_command_done counts commands_processed and the
 * command's own row (cmd[index]), stats_command_rejected the row only (a
 * command refused before it ran is not processed, as in Redis); the
 * dispatcher counts total_error_replies itself. */
#include "core/stats.h"

#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

void shard_stats_init(struct shard_stats *s, size_t ncommands)
{
    memset(s, 0, sizeof(*s));
    if (ncommands > 0) {
        s->cmd = mi_calloc(ncommands, sizeof(struct command_stat));
        if (s->cmd == NULL)
            abort();
    }
    /* remembered so that reset/deinit know the array's length */
    s->ncommands = ncommands;
}

void shard_stats_deinit(struct shard_stats *s)
{
    if (s->cmd != NULL) {
        for (size_t i = 0; i < s->ncommands; i++)
            mi_free(s->cmd[i].latency);
        mi_free(s->cmd);
    }
    memset(s, 0, sizeof(*s));
}

static void zero_u64(uint64_t *p)
{
    __atomic_store_n(p, 0, __ATOMIC_RELAXED);
}

/* CONFIG RESETSTAT: the event counters go back to zero; what describes the
 * present (connected clients, keys, expires, used memory) stays. */
void shard_stats_reset(struct shard_stats *s, size_t ncommands)
{
    zero_u64(&s->commands_processed);
    zero_u64(&s->connections_received);
    zero_u64(&s->rejected_connections);
    zero_u64(&s->net_input_bytes);
    zero_u64(&s->net_output_bytes);
    zero_u64(&s->net_repl_input_bytes);
    zero_u64(&s->net_repl_output_bytes);
    zero_u64(&s->total_error_replies);
    zero_u64(&s->reads_processed);
    zero_u64(&s->writes_processed);
    zero_u64(&s->reply_buffer_expands);
    zero_u64(&s->reply_buffer_shrinks);
    for (int i = 0; i < __atomic_load_n(&s->nerrors, __ATOMIC_ACQUIRE); i++)
        zero_u64(&s->errors[i].count);
    zero_u64(&s->cross_shard_requests);
    zero_u64(&s->held_writes);
    zero_u64(&s->held_writes_tryagain);
    zero_u64(&s->expired_keys);
    zero_u64(&s->evicted_keys);
    zero_u64(&s->eviction_exceeded_us);
    zero_u64(&s->keyspace_hits);
    zero_u64(&s->keyspace_misses);
    if (s->cmd == NULL)
        return;
    if (ncommands > s->ncommands)
        ncommands = s->ncommands;
    for (size_t i = 0; i < ncommands; i++) {
        struct command_stat *c = &s->cmd[i];
        zero_u64(&c->calls);
        zero_u64(&c->usec);
        zero_u64(&c->rejected_calls);
        zero_u64(&c->failed_calls);
        if (c->latency != NULL) {
            zero_u64(&c->latency->count);
            for (size_t b = 0; b < LATENCY_BUCKETS; b++)
                zero_u64(&c->latency->bucket[b]);
        }
    }
}

void stats_command_done(struct shard_stats *s, int index, uint64_t usec, int failed)
{
    stat_add(&s->commands_processed, 1);
    if (s->cmd == NULL || index < 0 || (size_t)index >= s->ncommands)
        return;
    struct command_stat *c = &s->cmd[index];
    stat_add(&c->calls, 1);
    stat_add(&c->usec, usec);
    if (failed)
        stat_add(&c->failed_calls, 1);
    if (c->latency == NULL) {
        struct latency_hist *h = mi_calloc(1, sizeof(*h));
        if (h == NULL)
            abort();
        /* published whole: readers see NULL or a zeroed histogram */
        __atomic_store_n(&c->latency, h, __ATOMIC_RELEASE);
    }
    latency_hist_add(c->latency, usec);
}

void stats_command_rejected(struct shard_stats *s, int index)
{
    if (s->cmd == NULL || index < 0 || (size_t)index >= s->ncommands)
        return;
    stat_add(&s->cmd[index].rejected_calls, 1);
}

/* Bucket layout: values 0..15 have a bucket each; above, each power of two
 * [2^e, 2^(e+1)) is split into 16 equal buckets. Bucket b >= 16 covers
 * e = b/16 + 3 and sub-bucket b%16. */
static size_t bucket_of(uint64_t v)
{
    if (v < 16)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v);           /* 4..63 */
    size_t sub = (size_t)(v >> (e - 4)) & 15;
    return (size_t)(e - 3) * 16 + sub;
}

static void bucket_range(size_t b, double *low, double *width)
{
    if (b < 16) {
        *low = (double)b;
        *width = 1;
        return;
    }
    int e = (int)(b / 16) + 3;
    double unit = (double)(1ULL << (e - 4));
    *low = (double)(16 + b % 16) * unit;
    *width = unit;
}

void latency_hist_add(struct latency_hist *h, uint64_t usec)
{
    size_t b = bucket_of(usec);
    if (b >= LATENCY_BUCKETS)
        b = LATENCY_BUCKETS - 1;
    stat_add(&h->bucket[b], 1);
    stat_add(&h->count, 1);
}

double latency_hist_percentile(const struct latency_hist *const *h, int n, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        if (h[i] != NULL)
            total += stat_load(&h[i]->count);
    if (total == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 100)
        q = 100;
    /* the rank of the value at q, 1-based: at least the first one */
    uint64_t rank = (uint64_t)((q / 100.0) * (double)total + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    size_t last = 0;
    for (size_t b = 0; b < LATENCY_BUCKETS; b++) {
        uint64_t c = 0;
        for (int i = 0; i < n; i++)
            if (h[i] != NULL)
                c += stat_load(&h[i]->bucket[b]);
        if (c == 0)
            continue;
        last = b;
        seen += c;
        if (seen >= rank)
            break;
    }
    /* the middle of the bucket: within half a bucket (~3%) of the truth */
    double low, width;
    bucket_range(last, &low, &width);
    return width > 1 ? low + width / 2 : low;
}

void stats_error_reply(struct shard_stats *s, const char *text, size_t len)
{
    stat_add(&s->total_error_replies, 1);
    if (len > 0 && text[0] == '-')
        text++, len--;
    size_t n = 0;
    while (n < len && n < sizeof(s->errors[0].name) - 1 && text[n] != ' ' && text[n] != '\r' &&
           text[n] != '\n')
        n++;
    if (n == 0)
        return;
    int k = s->nerrors; /* the shard is the only writer */
    for (int i = 0; i < k; i++) {
        if (strncmp(s->errors[i].name, text, n) == 0 && s->errors[i].name[n] == '\0') {
            stat_add(&s->errors[i].count, 1);
            return;
        }
    }
    if (k == ERROR_KINDS_MAX)
        return;
    memcpy(s->errors[k].name, text, n);
    s->errors[k].name[n] = '\0';
    __atomic_store_n(&s->errors[k].count, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->nerrors, k + 1, __ATOMIC_RELEASE);
}
