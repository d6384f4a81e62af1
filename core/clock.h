/* clock: the process's one source of time. Two clocks: unix time (wall
 * clock, for TTLs, TIME, logs and INFO) and monotonic time (for durations:
 * latencies, timeouts, time budgets). A shard reads the monotonic clock once
 * per command and derives unix time from it (shards/dispatch.h,
 * shard_now_ms); these are the raw reads underneath. */
#ifndef RINGKV_CLOCK_H
#define RINGKV_CLOCK_H

#include <stdint.h>

int64_t  clock_unix_ms(void);
int64_t  clock_unix_us(void);
uint64_t clock_mono_ns(void);

static inline int64_t clock_mono_us(void)
{
    return (int64_t)(clock_mono_ns() / 1000u);
}

#endif
