/* latency: Redis's latency monitor (LATENCY LATEST|HISTORY|RESET|DOCTOR|
 * GRAPH): per event class ("command", "fast-command", "expire-cycle",
 * "eviction-cycle"), the spikes that took at least latency-monitor-threshold
 * milliseconds, as a time series of the last 160 seconds that had one (one
 * sample per second: the worst of that second) and the worst ever.
 *
 * Each shard keeps its own (struct latency_events, written only by its
 * thread); LATENCY merges the shards' series (latency_series_merge): the
 * same second on two shards keeps the worse spike, as Redis would have
 * recorded it. */
#ifndef RINGKV_LATENCY_H
#define RINGKV_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LATENCY_TS_LEN     160 /* samples kept per event, as in Redis */
#define LATENCY_EVENTS_MAX 8
#define LATENCY_NAME_MAX   32

struct latency_sample {
    int32_t  time;    /* unix seconds; 0 = empty slot */
    uint32_t latency; /* ms */
};

struct latency_series {
    char                  name[LATENCY_NAME_MAX];
    int                   idx;     /* next slot to write */
    uint32_t              max;     /* worst ever */
    struct latency_sample samples[LATENCY_TS_LEN];
};

struct latency_events {
    int                   n;
    struct latency_series series[LATENCY_EVENTS_MAX];
};

/* A spike of ms milliseconds of event at unix second now_s (the caller
 * checked the threshold: Redis's latencyAddSampleIfNeeded). */
void latency_add(struct latency_events *le, const char *event, uint32_t ms, int32_t now_s);

/* The series of event, or NULL. */
struct latency_series *latency_find(struct latency_events *le, const char *event);

/* Forget event's series (NULL: all); returns how many were dropped. */
int latency_reset(struct latency_events *le, const char *event);

/* Add from's samples to into (same event): a second both have keeps the
 * worse; the newest LATENCY_TS_LEN seconds are kept. */
void latency_series_merge(struct latency_series *into, const struct latency_series *from);

/* The series' samples oldest first into out (LATENCY_TS_LEN slots);
 * returns how many. The latest is out[n-1]. */
int latency_series_samples(const struct latency_series *s, struct latency_sample *out);

#endif
