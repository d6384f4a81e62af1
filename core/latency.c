/* latency: the latency monitor's time series (see latency.h). */
#include "core/latency.h"

#include <stdlib.h>
#include <string.h>

struct latency_series *latency_find(struct latency_events *le, const char *event)
{
    for (int i = 0; i < le->n; i++)
        if (strcmp(le->series[i].name, event) == 0)
            return &le->series[i];
    return NULL;
}

static void series_put(struct latency_series *s, uint32_t ms, int32_t now_s)
{
    if (ms > s->max)
        s->max = ms;
    int prev = (s->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    if (s->samples[prev].time == now_s) { /* one sample per second: the worst */
        if (ms > s->samples[prev].latency)
            s->samples[prev].latency = ms;
        return;
    }
    s->samples[s->idx].time = now_s;
    s->samples[s->idx].latency = ms;
    s->idx = (s->idx + 1) % LATENCY_TS_LEN;
}

void latency_add(struct latency_events *le, const char *event, uint32_t ms, int32_t now_s)
{
    struct latency_series *s = latency_find(le, event);
    if (!s) {
        if (le->n == LATENCY_EVENTS_MAX)
            return;
        s = &le->series[le->n++];
        memset(s, 0, sizeof(*s));
        strncpy(s->name, event, LATENCY_NAME_MAX - 1);
    }
    series_put(s, ms, now_s);
}

int latency_reset(struct latency_events *le, const char *event)
{
    if (!event) {
        int n = le->n;
        le->n = 0;
        return n;
    }
    struct latency_series *s = latency_find(le, event);
    if (!s)
        return 0;
    *s = le->series[--le->n];
    return 1;
}

int latency_series_samples(const struct latency_series *s, struct latency_sample *out)
{
    int n = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++) {
        const struct latency_sample *x = &s->samples[(s->idx + j) % LATENCY_TS_LEN];
        if (x->time != 0)
            out[n++] = *x;
    }
    return n;
}

static int by_time(const void *a, const void *b)
{
    const struct latency_sample *x = a, *y = b;
    return (x->time > y->time) - (x->time < y->time);
}

void latency_series_merge(struct latency_series *into, const struct latency_series *from)
{
    struct latency_sample all[2 * LATENCY_TS_LEN];
    int n = latency_series_samples(into, all);
    n += latency_series_samples(from, all + n);
    qsort(all, (size_t)n, sizeof(all[0]), by_time);
    uint32_t max = into->max > from->max ? into->max : from->max;
    memset(into->samples, 0, sizeof(into->samples));
    into->idx = 0;
    into->max = 0;
    for (int i = 0; i < n; i++)
        series_put(into, all[i].latency, all[i].time); /* keeps the newest 160 seconds */
    into->max = max;
}
