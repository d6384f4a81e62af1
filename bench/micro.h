/* micro: the little a micro-benchmark needs: a monotonic clock in
 * nanoseconds, the --quick flag, a result line in one format, and a sink
 * the optimiser cannot see through (so measured work is not removed).
 *
 * A micro-benchmark prints what it measured and how: the operation, the
 * iterations, the key and value sizes, and ns per operation. `--quick` runs
 * few iterations: a smoke test that the code path works, not a measurement.
 * For instructions per operation, run the quick mode under
 * `valgrind --tool=callgrind` and divide the inclusive Ir of the function
 * named in the output by the operations it printed. */
#ifndef RINGKV_BENCH_MICRO_H
#define RINGKV_BENCH_MICRO_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline uint64_t micro_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* True if argv holds --quick; any other argument is an error (exit 2). */
static inline int micro_quick(int argc, char **argv, const char *usage)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else {
            fprintf(stderr, "usage: %s [--quick]\n%s", argv[0], usage);
            return -1;
        }
    }
    return quick;
}

/* Values fed here count as used, so the loops that produce them stay. */
static volatile uint64_t micro_sink;

/* One result line: what, how many operations, total time, ns per op. */
static inline void micro_report(const char *what, uint64_t ops, uint64_t ns)
{
    printf("%-40s %12llu ops %10.3f ms %9.2f ns/op\n", what,
           (unsigned long long)ops, (double)ns / 1e6, ops ? (double)ns / (double)ops : 0.0);
}

/* xorshift64*: a cheap, well-spread sequence for random key indices. */
static inline uint64_t micro_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
