/* ringkv-bench: the load generator. Command line, run order, progress line
 * and reports; the load itself is in client.c. See `ringkv-bench --help`. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "histogram.h"
#include "keygen.h"
#include "lru_sim.h"
#include "protocol.h"

#define MAX_CPUS 256

static const char usage_text[] =
"usage: ringkv-bench [options]\n"
"  -h, --host ADDR            server address (127.0.0.1)\n"
"  -p, --port N               server port (6379)\n"
"      --protocol resp|memcache   wire protocol (resp)\n"
"      --cluster              the server is a node of a Redis Cluster (ringkv's or\n"
"                             redis-server's): ask it CLUSTER SLOTS, connect to every\n"
"                             master and send each request to its key's master;\n"
"                             -MOVED is followed (counted as \"moved\"); -c is then\n"
"                             clients per thread, each with a connection to every master\n"
"  -t, --threads N            load threads (1); each has its own io_uring and connections\n"
"  -c, --connections N        connections per thread (50)\n"
"  -P, --pipeline N           requests in flight per connection (1)\n"
"  -d, --duration SECONDS     run time (10), or\n"
"  -n, --requests N           total requests (overrides duration)\n"
"      --workload get-set|incr|mget|mset     (get-set)\n"
"      --ratio S:G            SET:GET ratio for get-set (1:10)\n"
"      --keys N               key space size (100000)\n"
"      --mkeys N              keys per MGET/MSET (10)\n"
"      --key-dist uniform|zipf:E|sequential   (uniform)\n"
"      --key-prefix STR       (\"key:\"); keys are prefix + zero-padded number\n"
"      --key-size N           pad key names to N bytes total (0: prefix + 8 digits)\n"
"      --value-size N | MIN-MAX   value bytes (64)\n"
"      --prefill              SET every key once (pipelined) before measuring; not counted\n"
"      --rate R               open loop at R requests/s in total; latency from each\n"
"                             request's intended send time (default: closed loop)\n"
"      --cpus LIST            pin load thread i to the i-th CPU in LIST (e.g. 1 or 1,2)\n"
"      --lru-capacity N       also simulate an exact LRU cache of N keys over the same\n"
"                             key sequence and report its hit ratio\n"
"      --json                 final report as one JSON object on stdout\n"
"      --spectrum FILE        write the percentile spectrum (percentile latency_us) to FILE\n"
"      --quiet                no progress line\n"
"      --help\n";

enum {
    OPT_PROTOCOL = 256, OPT_WORKLOAD, OPT_RATIO, OPT_KEYS, OPT_MKEYS, OPT_KEY_DIST,
    OPT_KEY_PREFIX, OPT_KEY_SIZE, OPT_VALUE_SIZE, OPT_PREFILL, OPT_RATE, OPT_CPUS,
    OPT_LRU, OPT_JSON, OPT_SPECTRUM, OPT_QUIET, OPT_HELP, OPT_CLUSTER,
};

static const struct option long_options[] = {
    { "host",         required_argument, NULL, 'h' },
    { "port",         required_argument, NULL, 'p' },
    { "protocol",     required_argument, NULL, OPT_PROTOCOL },
    { "cluster",      no_argument,       NULL, OPT_CLUSTER },
    { "threads",      required_argument, NULL, 't' },
    { "connections",  required_argument, NULL, 'c' },
    { "pipeline",     required_argument, NULL, 'P' },
    { "duration",     required_argument, NULL, 'd' },
    { "requests",     required_argument, NULL, 'n' },
    { "workload",     required_argument, NULL, OPT_WORKLOAD },
    { "ratio",        required_argument, NULL, OPT_RATIO },
    { "keys",         required_argument, NULL, OPT_KEYS },
    { "mkeys",        required_argument, NULL, OPT_MKEYS },
    { "key-dist",     required_argument, NULL, OPT_KEY_DIST },
    { "key-prefix",   required_argument, NULL, OPT_KEY_PREFIX },
    { "key-size",     required_argument, NULL, OPT_KEY_SIZE },
    { "value-size",   required_argument, NULL, OPT_VALUE_SIZE },
    { "prefill",      no_argument,       NULL, OPT_PREFILL },
    { "rate",         required_argument, NULL, OPT_RATE },
    { "cpus",         required_argument, NULL, OPT_CPUS },
    { "lru-capacity", required_argument, NULL, OPT_LRU },
    { "json",         no_argument,       NULL, OPT_JSON },
    { "spectrum",     required_argument, NULL, OPT_SPECTRUM },
    { "quiet",        no_argument,       NULL, OPT_QUIET },
    { "help",         no_argument,       NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

static const char *const workload_names[] = { "get-set", "incr", "mget", "mset" };

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ringkv-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* A whole decimal in [min, max], or die naming the option. */
static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "ringkv-bench: %s: bad value '%s' (%llu..%llu)\n", opt, s,
                (unsigned long long)min, (unsigned long long)max);
        exit(2);
    }
    return v;
}

static double parse_pos_double(const char *opt, const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || !isfinite(v)) {
        fprintf(stderr, "ringkv-bench: %s: bad value '%s'\n", opt, s);
        exit(2);
    }
    return v;
}

static unsigned parse_cpus(const char *s, int *cpus)
{
    unsigned n = 0;
    char *copy = strdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(tok, '-');
        uint64_t lo, hi;
        if (dash) {
            *dash = 0;
            lo = parse_u64("--cpus", tok, 0, CPU_SETSIZE - 1);
            hi = parse_u64("--cpus", dash + 1, lo, CPU_SETSIZE - 1);
        } else {
            lo = hi = parse_u64("--cpus", tok, 0, CPU_SETSIZE - 1);
        }
        for (uint64_t c = lo; c <= hi && n < MAX_CPUS; c++)
            cpus[n++] = (int)c;
    }
    free(copy);
    if (!n)
        die("--cpus: empty list '%s'", s);
    return n;
}

/* p-th percentile in microseconds */
static double pct_us(const struct histogram *h, double p)
{
    return (double)histogram_percentile(h, p) / 1000.0;
}

/* Merge the threads' histograms while they are still recording: a racy
 * read, good enough for a progress line. */
static void merge_live(struct histogram *dst, struct load_thread *th, unsigned n)
{
    histogram_init(dst);
    for (unsigned t = 0; t < n; t++) {
        for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
            uint64_t v = __atomic_load_n(&th[t].hist.buckets[i], __ATOMIC_RELAXED);
            dst->buckets[i] += v;
            dst->count += v;
        }
        uint64_t mx = __atomic_load_n(&th[t].hist.max, __ATOMIC_RELAXED);
        if (mx > dst->max)
            dst->max = mx;
    }
    dst->min = 0;
}

static void print_json_ratio(double r)
{
    if (r < 0)
        printf("null");
    else
        printf("%.6f", r);
}

int main(int argc, char **argv)
{
    static int cpus[MAX_CPUS];
    struct bench_config cfg = {
        .host = "127.0.0.1", .port = 6379, .protocol = PROTO_RESP,
        .threads = 1, .connections = 50, .pipeline = 1, .duration_s = 10,
        .workload = WL_GET_SET, .set_ratio = 1, .get_ratio = 10, .keys = 100000,
        .mkeys = 10, .key_dist = KEY_UNIFORM, .value_min = 64, .value_max = 64,
    };
    const char *prefix = "key:";
    const char *spectrum = NULL;
    uint64_t key_size = 0;
    bool json = false, quiet = false, cluster = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "h:p:t:c:P:d:n:", long_options, NULL)) != -1) {
        switch (opt) {
        case 'h': cfg.host = optarg; break;
        case 'p': cfg.port = (int)parse_u64("--port", optarg, 1, 65535); break;
        case 't': cfg.threads = (unsigned)parse_u64("--threads", optarg, 1, 1024); break;
        case 'c': cfg.connections = (unsigned)parse_u64("--connections", optarg, 1, 100000); break;
        case 'P': cfg.pipeline = (unsigned)parse_u64("--pipeline", optarg, 1, 65536); break;
        case 'd': cfg.duration_s = parse_pos_double("--duration", optarg); break;
        case 'n': cfg.requests = parse_u64("--requests", optarg, 1, UINT64_MAX / 2); break;
        case OPT_PROTOCOL:
            if (!strcmp(optarg, "resp")) cfg.protocol = PROTO_RESP;
            else if (!strcmp(optarg, "memcache")) cfg.protocol = PROTO_MEMCACHE;
            else die("--protocol: '%s' is not resp or memcache", optarg);
            break;
        case OPT_WORKLOAD: {
            unsigned i;
            for (i = 0; i < 4 && strcmp(optarg, workload_names[i]); i++)
                ;
            if (i == 4)
                die("--workload: '%s' is not get-set, incr, mget or mset", optarg);
            cfg.workload = (enum workload)i;
            break;
        }
        case OPT_RATIO: {
            unsigned s, g;
            char extra;
            if (sscanf(optarg, "%u:%u%c", &s, &g, &extra) != 2 || s + g == 0 ||
                s > 1000000 || g > 1000000)
                die("--ratio: '%s' is not SET:GET (e.g. 1:10)", optarg);
            cfg.set_ratio = s;
            cfg.get_ratio = g;
            break;
        }
        case OPT_KEYS: cfg.keys = parse_u64("--keys", optarg, 1, 1ull << 40); break;
        case OPT_MKEYS: cfg.mkeys = (unsigned)parse_u64("--mkeys", optarg, 1, 255); break;
        case OPT_KEY_DIST:
            if (keygen_parse_dist(optarg, &cfg.key_dist, &cfg.zipf_exponent) < 0)
                die("--key-dist: '%s' is not uniform, zipf:E or sequential", optarg);
            break;
        case OPT_KEY_PREFIX: prefix = optarg; break;
        case OPT_KEY_SIZE: key_size = parse_u64("--key-size", optarg, 0, 100); break;
        case OPT_VALUE_SIZE: {
            const char *dash = strchr(optarg, '-');
            if (dash) {
                char lo[32];
                size_t n = (size_t)(dash - optarg);
                if (n == 0 || n >= sizeof lo)
                    die("--value-size: bad range '%s'", optarg);
                memcpy(lo, optarg, n);
                lo[n] = 0;
                cfg.value_min = parse_u64("--value-size", lo, 0, 64u << 20);
                cfg.value_max = parse_u64("--value-size", dash + 1, cfg.value_min, 64u << 20);
            } else {
                cfg.value_min = cfg.value_max = parse_u64("--value-size", optarg, 0, 64u << 20);
            }
            break;
        }
        case OPT_PREFILL: cfg.prefill = true; break;
        case OPT_CLUSTER: cluster = true; break;
        case OPT_RATE: cfg.rate = parse_pos_double("--rate", optarg); break;
        case OPT_CPUS: cfg.ncpus = parse_cpus(optarg, cpus); cfg.cpus = cpus; break;
        case OPT_LRU: cfg.lru_capacity = parse_u64("--lru-capacity", optarg, 1, 1ull << 40); break;
        case OPT_JSON: json = true; break;
        case OPT_SPECTRUM: spectrum = optarg; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_HELP: fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind < argc)
        die("unexpected argument '%s'", argv[optind]);
    if (cfg.protocol == PROTO_MEMCACHE && cfg.workload == WL_MSET)
        die("--workload mset: not supported by memcache protocol");
    if (keyname_init(&cfg.keyname, prefix, key_size, cfg.keys) < 0)
        die("--key-size/--key-prefix: key names of %s bytes cannot number every key",
            key_size ? "that many" : "default");
    if (cfg.lru_capacity && cfg.keys >= (1ull << 31))
        die("--lru-capacity: the simulation handles at most 2^31 keys");
    if (cfg.workload != WL_MGET && cfg.workload != WL_MSET)
        cfg.mkeys = 1;
    static struct cluster_map map;
    if (cluster) {
        if (cfg.protocol != PROTO_RESP)
            die("--cluster: needs --protocol resp");
        if (cfg.workload == WL_MGET || cfg.workload == WL_MSET)
            die("--cluster: --workload %s names keys of many slots (CROSSSLOT)",
                workload_names[cfg.workload]);
        char err[256];
        if (cluster_map_load(&map, cfg.host, cfg.port, 0, err, sizeof err) < 0) {
            fprintf(stderr, "ringkv-bench: --cluster: %s\n", err);
            return 1;
        }
        cfg.cluster = &map;
    }

    struct load_shared sh = { .cfg = &cfg };
    sh.value = malloc(cfg.value_max + 1);
    if (!sh.value)
        die("out of memory");
    for (size_t i = 0; i < cfg.value_max; i++)
        sh.value[i] = (char)('a' + i % 26);
    pthread_mutex_init(&sh.lru_lock, NULL);
    if (cfg.lru_capacity && lru_sim_init(&sh.lru, cfg.lru_capacity, cfg.keys) < 0)
        die("--lru-capacity: cannot set up the simulation");
    pthread_barrier_init(&sh.ready, NULL, cfg.threads + 1);
    pthread_barrier_init(&sh.go, NULL, cfg.threads + 1);

    struct load_thread *th = calloc(cfg.threads, sizeof *th);
    if (!th)
        die("out of memory");
    for (unsigned i = 0; i < cfg.threads; i++)
        if (load_thread_connect(&th[i], &sh, i) < 0)
            return 1;

    bool progress = !quiet && isatty(STDERR_FILENO);
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < cfg.threads; i++)
        if (pthread_create(&th[i].tid, NULL, load_thread_main, &th[i])) {
            fprintf(stderr, "ringkv-bench: cannot start thread %u\n", i);
            return 1;
        }

    pthread_barrier_wait(&sh.ready);
    if (cfg.prefill) {
        uint64_t perr = 0;
        for (unsigned i = 0; i < cfg.threads; i++)
            perr += th[i].prefill_errors;
        if (!quiet)
            fprintf(stderr, "prefill: %llu keys in %.2f s%s%llu errors\n",
                    (unsigned long long)cfg.keys, (double)(bench_now_ns() - t0) / 1e9,
                    perr ? ", " : ", ", (unsigned long long)perr);
        if (cfg.lru_capacity)
            for (uint64_t k = 0; k < cfg.keys; k++)
                lru_sim_access(&sh.lru, (uint32_t)k, true);
    }
    uint64_t start = bench_now_ns();
    atomic_store(&sh.start_ns, start);
    pthread_barrier_wait(&sh.go);

    /* progress: once a second on a terminal */
    struct histogram *live = malloc(sizeof *live);
    uint64_t last_ns = start, last_ops = 0;
    while (atomic_load(&sh.finished) < cfg.threads) {
        struct timespec nap = { 0, 50 * 1000000 };
        nanosleep(&nap, NULL);
        uint64_t now = bench_now_ns();
        if (!progress || now - last_ns < 1000000000ull)
            continue;
        uint64_t ops = 0;
        for (unsigned i = 0; i < cfg.threads; i++)
            ops += atomic_load_explicit(&th[i].completed, memory_order_relaxed);
        merge_live(live, th, cfg.threads);
        fprintf(stderr, "\r[%6.1f s] %10.0f ops/s  p99 %9.1f us   ",
                (double)(now - start) / 1e9,
                (double)(ops - last_ops) * 1e9 / (double)(now - last_ns), pct_us(live, 99));
        last_ns = now;
        last_ops = ops;
    }
    if (progress && last_ops)
        fputc('\n', stderr);
    free(live);

    struct histogram *all = malloc(sizeof *all);
    histogram_init(all);
    uint64_t requests = 0, errors = 0, hits = 0, misses = 0, moved = 0, end = start;
    const char *first_error = NULL;
    int failed = 0;
    for (unsigned i = 0; i < cfg.threads; i++) {
        pthread_join(th[i].tid, NULL);
        histogram_merge(all, &th[i].hist);
        requests += atomic_load(&th[i].completed);
        errors += th[i].errors;
        hits += th[i].hits;
        misses += th[i].misses;
        moved += th[i].moved;
        if (th[i].end_ns > end)
            end = th[i].end_ns;
        if (!first_error && th[i].first_error[0])
            first_error = th[i].first_error;
        failed |= th[i].failed;
    }
    double elapsed = (double)(end - start) / 1e9;
    double ops_per_sec = elapsed > 0 ? (double)requests / elapsed : 0;
    double hit_ratio = hits + misses ? (double)hits / (double)(hits + misses) : -1;
    double lru_ratio = cfg.lru_capacity ? lru_sim_hit_ratio(&sh.lru) : -1;
    static const double pcts[] = { 50, 90, 99, 99.9, 99.99 };
    static const char *const pct_names[] = { "p50", "p90", "p99", "p99.9", "p99.99" };

    if (first_error)
        fprintf(stderr, "ringkv-bench: first error: %s\n", first_error);
    if (json) {
        printf("{\"protocol\":\"%s\",\"workload\":\"%s\",\"threads\":%u,\"connections\":%u,"
               "\"pipeline\":%u,\"duration_s\":%.3f,\"requests\":%llu,\"errors\":%llu,"
               "\"ops_per_sec\":%.1f,\"hits\":%llu,\"misses\":%llu,\"hit_ratio\":",
               cfg.protocol == PROTO_RESP ? "resp" : "memcache", workload_names[cfg.workload],
               cfg.threads, cfg.connections, cfg.pipeline, elapsed,
               (unsigned long long)requests, (unsigned long long)errors, ops_per_sec,
               (unsigned long long)hits, (unsigned long long)misses);
        print_json_ratio(hit_ratio);
        printf(",\"lru_sim_hit_ratio\":");
        print_json_ratio(lru_ratio);
        printf(",\"cluster_nodes\":%u,\"moved\":%llu", cfg.cluster ? cfg.cluster->nnodes : 0,
               (unsigned long long)moved);
        printf(",\"latency_us\":{");
        for (unsigned i = 0; i < 5; i++)
            printf("\"%s\":%.3f,", pct_names[i], pct_us(all, pcts[i]));
        printf("\"max\":%.3f}}\n", (double)all->max / 1000.0 * (all->count > 0));
    } else {
        printf("ringkv-bench: %s %s on %s:%d, %u thread%s x %u connections, pipeline %u, ",
               cfg.protocol == PROTO_RESP ? "resp" : "memcache", workload_names[cfg.workload],
               cfg.host, cfg.port, cfg.threads, cfg.threads == 1 ? "" : "s",
               cfg.connections, cfg.pipeline);
        if (cfg.rate > 0)
            printf("open loop at %.0f requests/s\n", cfg.rate);
        else
            printf("closed loop\n");
        if (cfg.cluster)
            printf("cluster    %u masters, %llu MOVED replies\n", cfg.cluster->nnodes,
                   (unsigned long long)moved);
        printf("requests   %llu in %.3f s\n", (unsigned long long)requests, elapsed);
        printf("errors     %llu\n", (unsigned long long)errors);
        printf("ops/s      %.1f\n", ops_per_sec);
        printf("hits       %llu\nmisses     %llu\n", (unsigned long long)hits,
               (unsigned long long)misses);
        if (hit_ratio >= 0)
            printf("hit ratio  %.4f\n", hit_ratio);
        if (lru_ratio >= 0)
            printf("exact LRU  %.4f (simulated, %llu keys)\n", lru_ratio,
                   (unsigned long long)cfg.lru_capacity);
        printf("latency us");
        for (unsigned i = 0; i < 5; i++)
            printf("  %s %.1f", pct_names[i], pct_us(all, pcts[i]));
        printf("  max %.1f\n", (double)all->max / 1000.0 * (all->count > 0));
    }
    fflush(stdout);
    if (spectrum) {
        FILE *f = fopen(spectrum, "w");
        if (!f || histogram_write_spectrum(all, f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "ringkv-bench: %s: %s\n", spectrum, strerror(errno));
            failed = 1;
        }
    }
    for (unsigned i = 0; i < cfg.threads; i++)
        load_thread_deinit(&th[i]);
    if (cfg.lru_capacity)
        lru_sim_deinit(&sh.lru);
    free(th);
    free(all);
    free(sh.value);
    return failed ? 1 : 0;
}
