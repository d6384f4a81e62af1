/* INFO as a dashboard reads it (the way redis_exporter does: every
 * `field:value` line whose value Redis gives as a number parsed as one,
 * db0's keys=,expires=,avg_ttl=), and that the memory fields mean what
 * Redis's mean: used_memory is what the allocator holds for the process
 * (grows with data, shrinks after FLUSHALL), dataset + overhead = used,
 * the peak is at least used, mem_fragmentation_ratio is rss/used and sane,
 * avg_ttl estimates the TTL of keys with an expiry; MEMORY STATS, DOCTOR,
 * USAGE, PURGE, MALLOC-STATS, HELP in Redis's shapes. Runs against
 * redis-server too (RINGKV_TEST_TARGET=redis). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "core/buf.h"

static struct server srv;

static int group_setup(void **state)
{
    (void)state;
    if (target_is_redis()) {
        const char *args[] = { "--save", "", NULL };
        return server_start(&srv, args);
    }
    const char *args[] = { "--threads", "2", "--pin", "no", NULL };
    return server_start(&srv, args);
}
static int group_teardown(void **state) { (void)state; return server_stop(&srv) == 0 ? 0 : -1; }

static char *info(tconn *c, const char *section)
{
    struct rval *v = tcmd(c, "INFO %s", section);
    assert_non_null(v);
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    char *text = strdup(v->str);
    rval_free(v);
    return text;
}

/* The value of field in INFO text, as a string (static buffer), or NULL. */
static const char *field(const char *text, const char *name)
{
    static char value[256];
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            size_t len = strcspn(v, "\r\n");
            if (len >= sizeof value)
                len = sizeof value - 1;
            memcpy(value, v, len);
            value[len] = '\0';
            return value;
        }
    }
    return NULL;
}

static double num(const char *text, const char *name)
{
    const char *v = field(text, name);
    if (!v)
        fail_msg("INFO has no %s", name);
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0')
        fail_msg("INFO %s:%s is not a number", name, v);
    return d;
}

/* Fields whose value is text in Redis's INFO too (a dashboard skips them). */
static bool textual(const char *name, const char *value)
{
    static const char *const names[] = {
        "redis_version", "redis_git_sha1", "redis_build_id", "redis_mode", "os", "multiplexing_api",
        "atomicvar_api", "gcc_version", "run_id", "executable", "config_file", "monotonic_clock",
        "maxmemory_policy", "mem_allocator", "role", "master_replid", "master_replid2",
        "master_host", "master_link_status", "rdb_last_bgsave_status", "aof_last_bgrewrite_status",
        "aof_last_write_status", "used_memory_peak_perc", "used_memory_dataset_perc",
        "ringkv_version", "process_supervised", "master_failover_state", "listener0", NULL,
    };
    for (int i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    size_t n = strlen(name);
    if (n > 6 && strcmp(name + n - 6, "_human") == 0)
        return true;
    /* key=value lists: parsed field by field below */
    return strchr(value, '=') != NULL;
}

/* Every line parses as a dashboard parses it. */
static void test_every_field_numeric(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "SET with-ttl v EX 1000"));
    char *text = info(c, "everything");
    int lines = 0;
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            fail_msg("INFO line without a colon: %s", line);
        *colon = '\0';
        const char *name = line, *value = colon + 1;
        lines++;
        if (textual(name, value)) {
            if (strncmp(name, "db", 2) == 0) {
                long long keys, expires, avg_ttl;
                if (sscanf(value, "keys=%lld,expires=%lld,avg_ttl=%lld", &keys, &expires, &avg_ttl) != 3)
                    fail_msg("keyspace line %s:%s", name, value);
            }
            continue;
        }
        char *end;
        strtod(value, &end);
        if (end == value || *end != '\0')
            fail_msg("INFO %s:%s is not a number (Redis's is)", name, value);
    }
    assert_true(lines > 100);
    free(text);
    tclose(c);
}

/* The memory fields a dashboard plots, present and related as in Redis. */
static void check_memory_relations(const char *m)
{
    double used = num(m, "used_memory"), rss = num(m, "used_memory_rss");
    double peak = num(m, "used_memory_peak"), dataset = num(m, "used_memory_dataset");
    double overhead = num(m, "used_memory_overhead");
    assert_true(used > 64 * 1024);
    assert_true(rss > 0);
    assert_true(peak >= used);
    assert_true(num(m, "used_memory_startup") > 0);
    assert_true(dataset + overhead == used);
    double ratio = num(m, "mem_fragmentation_ratio");
    double want = rss / used;
    assert_true(ratio > want - 0.02 && ratio < want + 0.02);
    num(m, "allocator_allocated");
    num(m, "allocator_active");
    num(m, "allocator_resident");
    num(m, "allocator_frag_ratio");
    num(m, "rss_overhead_ratio");
    num(m, "mem_fragmentation_bytes");
    num(m, "mem_replication_backlog");
    num(m, "maxmemory");
    num(m, "total_system_memory");
}

/* The highest mem_fragmentation_ratio with 10 MB of data: about 1.7 in a
 * release build (the binary, stacks and rings are ~8 MB of RSS). Under
 * AddressSanitizer the RSS also holds the shadow memory and the quarantine
 * of freed blocks (the pipeline's grown buffers): 2.5-2.8 on a loaded
 * machine, so the ratio means little there and only a gross error fails. */
#define LOADED_RATIO_MAX (HARNESS_SANITIZED ? 8.0 : 3.0)

static double used_now(tconn *c)
{
    char *m = info(c, "memory");
    double used = num(m, "used_memory");
    free(m);
    return used;
}

static void test_memory_follows_data(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    usleep(300000); /* a tick or two */
    char *m = info(c, "memory");
    check_memory_relations(m);
    double idle_used = num(m, "used_memory");
    double idle_dataset = num(m, "used_memory_dataset");
    if (!target_is_redis()) {
        /* ringkv's idle figures: rss over used a few units, not thousands
         * (the binary and libraries are resident, ~1 MB is allocated: ~4;
         * Redis's idle ratio is about 11 for the same reason; a sanitizer
         * build's shadow memory adds to the RSS: 20.15 seen in a CI run,
         * so there the bound is twice as loose) */
        double ratio = num(m, "mem_fragmentation_ratio");
        if (ratio < 0.3 || ratio > (HARNESS_SANITIZED ? 40.0 : 20.0))
            fail_msg("idle mem_fragmentation_ratio %.2f", ratio);
    }
    free(m);

    /* 20000 keys of 512 bytes: 10 MB of values */
    static char value[513];
    memset(value, 'x', 512);
    enum { KEYS = 20000 };
    for (int i = 0; i < KEYS; i++) {
        char key[32];
        snprintf(key, sizeof key, "mem:%d", i);
        const char *argv[] = { "SET", key, value };
        tsendv(c, 3, argv);
    }
    for (int i = 0; i < KEYS; i++)
        expect_ok(tread(c, 10000));
    usleep(300000);
    m = info(c, "memory");
    check_memory_relations(m);
    double used = num(m, "used_memory");
    if (used - idle_used < 10e6)
        fail_msg("used_memory grew by %.0f for 10 MB of values", used - idle_used);
    if (num(m, "used_memory_dataset") - idle_dataset < 10e6)
        fail_msg("used_memory_dataset grew by %.0f", num(m, "used_memory_dataset") - idle_dataset);
    double ratio = num(m, "mem_fragmentation_ratio");
    print_message("with 10 MB of values: used_memory %.0f, used_memory_rss %.0f, ratio %.2f\n", used,
                  num(m, "used_memory_rss"), ratio);
    if (ratio < 0.5 || ratio > LOADED_RATIO_MAX)
        fail_msg("mem_fragmentation_ratio %.2f with 10 MB of data", ratio);
    free(m);

    expect_ok(tcmd(c, "FLUSHALL"));
    long long deadline = now_ms() + 3000;
    double after;
    while ((after = used_now(c)) > used - 8e6) {
        if (now_ms() > deadline)
            fail_msg("used_memory %.0f after FLUSHALL (was %.0f)", after, used);
        usleep(100000);
    }
    tclose(c);
}

/* avg_ttl: the expiry cycle's estimate, as Redis makes it. */
static void test_avg_ttl(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    for (int i = 0; i < 1000; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "SET ttl:%d v EX 1000", i);
        tsend_raw(c, "", 0);
        expect_ok(tcmd(c, "%s", cmd));
    }
    expect_ok(tcmd(c, "SET no-ttl v"));
    long long deadline = now_ms() + 5000;
    long long keys = 0, expires = 0, avg = 0;
    for (;;) {
        char *k = info(c, "keyspace");
        const char *db0 = field(k, "db0");
        assert_non_null(db0);
        assert_int_equal(sscanf(db0, "keys=%lld,expires=%lld,avg_ttl=%lld", &keys, &expires, &avg), 3);
        free(k);
        if (avg > 0 || now_ms() > deadline)
            break;
        usleep(100000);
    }
    assert_int_equal(keys, 1001);
    assert_int_equal(expires, 1000);
    if (avg < 900000 || avg > 1000000)
        fail_msg("avg_ttl %lld for keys with 1000 s left", avg);
    char *s = info(c, "stats");
    num(s, "expired_stale_perc");
    num(s, "expired_time_cap_reached_count");
    free(s);
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
}

/* MEMORY STATS: a map of Redis's field names. */
static void test_memory_stats(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "SET a 1"));
    struct rval *v = tcmd(c, "MEMORY STATS");
    assert_true(v->type == R_ARRAY || v->type == R_MAP);
    static const char *const want[] = {
        "peak.allocated", "total.allocated", "startup.allocated", "replication.backlog",
        "clients.normal", "keys.count", "keys.bytes-per-key", "dataset.bytes", "dataset.percentage",
        "peak.percentage", "allocator.allocated", "fragmentation", "fragmentation.bytes", NULL,
    };
    for (int w = 0; want[w]; w++) {
        bool found = false;
        for (size_t i = 0; i + 1 < v->n; i += 2)
            if (strcmp(v->elem[i]->str, want[w]) == 0) {
                found = true;
                struct rval *x = v->elem[i + 1];
                if (x->type == R_BULK || x->type == R_DOUBLE) { /* a double: a bulk string in RESP2 */
                    char *end;
                    strtod(x->str, &end);
                    assert_true(*end == '\0');
                } else {
                    assert_int_equal(x->type, R_INT);
                }
                if (strcmp(want[w], "keys.count") == 0)
                    assert_int_equal(x->integer, 1);
            }
        if (!found)
            fail_msg("MEMORY STATS has no %s", want[w]);
    }
    rval_free(v);
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
}

static void test_memory_subcommands(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    struct rval *v = tcmd(c, "MEMORY DOCTOR");
    assert_non_null(strstr(v->str, "Hi Sam, "));
    rval_free(v);
    expect_ok(tcmd(c, "SET usage-key 0123456789012345678901234567890123456789"));
    long long bytes = get_int(tcmd(c, "MEMORY USAGE usage-key"));
    assert_true(bytes >= 49 && bytes < 200);
    bytes = get_int(tcmd(c, "MEMORY USAGE usage-key SAMPLES 0"));
    assert_true(bytes >= 49);
    expect_nil(tcmd(c, "MEMORY USAGE no-such-key"));
    expect_error(tcmd(c, "MEMORY USAGE usage-key SAMPLES x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "MEMORY USAGE usage-key BAD"), "ERR syntax error");
    expect_error(tcmd(c, "MEMORY USAGE"), "ERR wrong number of arguments for 'memory|usage' command");
    expect_ok(tcmd(c, "MEMORY PURGE"));
    v = tcmd(c, "MEMORY MALLOC-STATS");
    assert_true(v->type == R_BULK && v->len > 100);
    rval_free(v);
    v = tcmd(c, "MEMORY HELP");
    assert_int_equal(v->type, R_ARRAY);
    assert_string_equal(v->elem[0]->str, "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    rval_free(v);
    expect_error(tcmd(c, "MEMORY NOPE"), "ERR unknown subcommand 'NOPE'. Try MEMORY HELP.");
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
}

/* n elements into a collection of type t ("hash", "set", "list", "zset")
 * at key, each about 20 bytes, 500 per command. */
static void fill_collection(tconn *c, const char *t, const char *key, int n)
{
    for (int at = 0; at < n;) {
        int k = n - at < 500 ? n - at : 500, argc = 0;
        const char **argv = calloc((size_t)(3 * k + 2), sizeof *argv);
        char **made = calloc((size_t)(2 * k), sizeof *made);
        argv[argc++] = strcmp(t, "hash") == 0 ? "HSET" : strcmp(t, "set") == 0 ? "SADD"
                       : strcmp(t, "list") == 0 ? "RPUSH" : "ZADD";
        argv[argc++] = key;
        for (int i = 0; i < k; i++) {
            made[2 * i] = malloc(32);
            made[2 * i + 1] = malloc(32);
            snprintf(made[2 * i], 32, "element:%012d", at + i);
            snprintf(made[2 * i + 1], 32, "%d", (at + i) * 3);
            if (strcmp(t, "zset") == 0)
                argv[argc++] = made[2 * i + 1];
            argv[argc++] = made[2 * i];
            if (strcmp(t, "hash") == 0)
                argv[argc++] = made[2 * i + 1];
        }
        tsendv(c, argc, argv);
        struct rval *v = tread(c, 10000);
        assert_non_null(v);
        assert_int_equal(v->type, R_INT);
        rval_free(v);
        for (int i = 0; i < 2 * k; i++)
            free(made[i]);
        free(made);
        free(argv);
        at += k;
    }
}

/* MEMORY USAGE of a collection counts its elements in its encoding: more
 * with more elements (compact and big encodings), about what used_memory
 * grew by for them, sampled by SAMPLES (0: every element). */
static void test_memory_usage_collections(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    static const char *types[] = { "hash", "set", "list", "zset" };
    for (int t = 0; t < 4; t++) {
        long long usage[3];
        static const int sizes[3] = { 1, 100, 3000 };
        for (int i = 0; i < 3; i++) {
            char key[32];
            snprintf(key, sizeof key, "%s:%d", types[t], sizes[i]);
            fill_collection(c, types[t], key, sizes[i]);
            usage[i] = get_int(tcmd(c, "MEMORY USAGE %s SAMPLES 0", key));
            long long sampled = get_int(tcmd(c, "MEMORY USAGE %s", key));
            /* sampling estimates the same thing */
            if (sampled < usage[i] / 2 || sampled > usage[i] * 2)
                fail_msg("%s: MEMORY USAGE %lld, %lld with SAMPLES 0", key, sampled, usage[i]);
        }
        print_message("MEMORY USAGE %s of 1, 100, 3000 elements: %lld %lld %lld\n", types[t], usage[0], usage[1],
                      usage[2]);
        assert_true(usage[0] > 0);
        assert_true(usage[1] > usage[0] + 100 * 10);
        assert_true(usage[2] > usage[1] + 2900 * 16); /* each element's 18 bytes at least */
    }
    /* about what the server holds for them: 20 of each, 3000 elements */
    expect_ok(tcmd(c, "FLUSHALL"));
    char *m = info(c, "memory");
    double before = num(m, "used_memory");
    free(m);
    long long counted = 0;
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 20; i++) {
            char key[32];
            snprintf(key, sizeof key, "%s-many:%d", types[t], i);
            fill_collection(c, types[t], key, 3000);
            counted += get_int(tcmd(c, "MEMORY USAGE %s SAMPLES 0", key));
        }
    m = info(c, "memory");
    double grew = num(m, "used_memory") - before;
    free(m);
    print_message("MEMORY USAGE total %lld, used_memory grew by %.0f\n", counted, grew);
    if (counted < grew * 0.6 || counted > grew * 1.5)
        fail_msg("MEMORY USAGE total %lld, used_memory grew by %.0f", counted, grew);
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
}

/* A string whose key, header and value would land just past one of the
 * allocator's size classes takes its value's class and a small head, not
 * the next class up (issue 12: at 1000-byte values ringkv held 0.86x
 * redis-server's keys under maxmemory for that). With a 16-byte key, one
 * block would be 1280, 5120 and 20480 bytes for 1000, 4096 and 16384
 * bytes of value; and a value grown by APPEND or SETRANGE past its block
 * (100 bytes to 2048, 4096 with the growth's slack) 5120 too. Each reads
 * back whole, and used_memory grows by about what MEMORY USAGE says.
 * ringkv's layout: redis-server's classes are jemalloc's. */
static char *repeat_char(char ch, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, ch, n);
    p[n] = '\0';
    return p;
}

static void test_memory_usage_big_strings(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    static const size_t sizes[] = { 1000, 4096, 16384 };
    for (size_t i = 0; i < 3; i++) {
        size_t n = sizes[i];
        char *v = repeat_char((char)('a' + i), n);
        expect_ok(tcmd(c, "SET key:%012zu %s", n, v));
        long long usage = get_int(tcmd(c, "MEMORY USAGE key:%012zu", n));
        print_message("MEMORY USAGE of a %zu-byte string: %lld\n", n, usage);
        if (usage > (long long)n + 128)
            fail_msg("MEMORY USAGE of a %zu-byte string %lld, over %zu", n, usage, n + 128);
        expect_bulk(tcmd(c, "GET key:%012zu", n), v);
        free(v);
    }
    /* growth across the layout's edge: APPEND, SETRANGE */
    char *head = repeat_char('h', 100), *tail = repeat_char('t', 1948), *whole = malloc(2049);
    memcpy(whole, head, 100);
    memcpy(whole + 100, tail, 1949);
    expect_ok(tcmd(c, "SET grow:append0001 %s", head));
    expect_int(tcmd(c, "APPEND grow:append0001 %s", tail), 2048);
    expect_ok(tcmd(c, "SET grow:setrange01 %s", head));
    expect_int(tcmd(c, "SETRANGE grow:setrange01 100 %s", tail), 2048);
    static const char *grown[] = { "grow:append0001", "grow:setrange01" };
    for (int i = 0; i < 2; i++) {
        long long usage = get_int(tcmd(c, "MEMORY USAGE %s", grown[i]));
        print_message("MEMORY USAGE of %s grown to 2048 bytes: %lld\n", grown[i], usage);
        if (usage > 4096 + 128)
            fail_msg("MEMORY USAGE of %s %lld, over %d", grown[i], usage, 4096 + 128);
        expect_bulk(tcmd(c, "GET %s", grown[i]), whole);
    }
    free(head);
    free(tail);
    free(whole);
    /* used_memory counts them as MEMORY USAGE does */
    expect_ok(tcmd(c, "FLUSHALL"));
    /* the flushed keys are freed over the next loop turns and used_memory
     * is sampled once a tick (100 ms): the baseline is where it settles
     * (two samples 150 ms apart within 16 KB; 10 s at most), or a loaded
     * machine reads one that still holds them */
    char *m = info(c, "memory");
    double before = num(m, "used_memory");
    free(m);
    for (int tries = 0; tries < 66; tries++) {
        usleep(150 * 1000);
        m = info(c, "memory");
        double now = num(m, "used_memory");
        free(m);
        bool settled = now > before - 16384 && now < before + 16384;
        before = now;
        if (settled)
            break;
    }
    char *v = repeat_char('m', 1000);
    long long counted = 0;
    for (int i = 0; i < 2000; i++) {
        expect_ok(tcmd(c, "SET many:%011d %s", i, v));
        counted += get_int(tcmd(c, "MEMORY USAGE many:%011d", i));
    }
    free(v);
    /* used_memory is up to a tick old (100 ms): read it until it shows
     * them (10 s at most, for a slow sanitizer build) */
    double grew = 0;
    for (int tries = 0; tries < 200; tries++) {
        m = info(c, "memory");
        grew = num(m, "used_memory") - before;
        free(m);
        if (counted >= grew * 0.9 && counted <= grew * 1.1)
            break;
        usleep(50 * 1000);
    }
    print_message("2000 strings of 1000 bytes: MEMORY USAGE total %lld, used_memory grew by %.0f\n", counted, grew);
    if (counted < grew * 0.9 || counted > grew * 1.1)
        fail_msg("MEMORY USAGE total %lld, used_memory grew by %.0f", counted, grew);
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
}

/* The value of an INFO field once it equals want (polled: a blocked
 * client is counted when its command reaches its keys' shard), or the
 * last value seen after 5 s. */
/* blocked_clients counts clients blocked in a blocking pop, once each
 * (even when their keys are on several shards); clients_in_timeout_table
 * those of them with a timeout; both fall as clients are served, time
 * out or leave. */
static void test_blocked_clients(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 0, 5000), 0);
    tconn *forever = tconnect(srv.port), *timed = tconnect(srv.port), *zset = tconnect(srv.port);
    /* eight keys: over both shards of ringkv */
    const char *many[] = { "BLPOP", "b:1", "b:2", "b:3", "b:4", "b:5", "b:6", "b:7", "b:8", "0" };
    tsendv(forever, 10, many);
    const char *one[] = { "BRPOP", "b:timed", "100" };
    tsendv(timed, 3, one);
    const char *z[] = { "BZPOPMIN", "b:z", "100" };
    tsendv(zset, 3, z);
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 3, 5000), 3);
    assert_int_equal(info_field_becomes(c, "clients", "clients_in_timeout_table", 2, 5000), 2);

    expect_int(tcmd(c, "LPUSH b:5 x"), 1); /* serves the one blocked on eight keys */
    struct rval *v = tread(forever, 5000);
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    rval_free(v);
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 2, 5000), 2);
    assert_int_equal(info_field_becomes(c, "clients", "clients_in_timeout_table", 2, 5000), 2);

    expect_int(tcmd(c, "ZADD b:z 1 m"), 1);
    v = tread(zset, 5000);
    assert_non_null(v);
    rval_free(v);
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 1, 5000), 1);
    assert_int_equal(info_field_becomes(c, "clients", "clients_in_timeout_table", 1, 5000), 1);

    tclose(timed); /* a blocked client that leaves is no longer counted */
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 0, 5000), 0);
    assert_int_equal(info_field_becomes(c, "clients", "clients_in_timeout_table", 0, 5000), 0);

    /* a timeout, and blocking again on the same connection */
    const char *shortwait[] = { "BLPOP", "b:1", "b:2", "b:3", "b:4", "0.3" };
    tsendv(forever, 6, shortwait);
    v = tread(forever, 5000);
    assert_non_null(v);
    assert_true(v->type == R_NIL || (v->type == R_ARRAY && v->n == 0) || v->type == R_ARRAY);
    rval_free(v);
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 0, 5000), 0);
    assert_int_equal(info_field_becomes(c, "clients", "clients_in_timeout_table", 0, 5000), 0);
    /* CONFIG RESETSTAT leaves what describes the present */
    tsendv(forever, 10, many);
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 1, 5000), 1);
    expect_ok(tcmd(c, "CONFIG RESETSTAT"));
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 1, 5000), 1);
    expect_int(tcmd(c, "RPUSH b:8 y"), 1);
    v = tread(forever, 5000);
    assert_non_null(v);
    rval_free(v);
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 0, 5000), 0);
    tclose(forever);
    tclose(zset);
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
}

/* tracking_clients: connections with CLIENT TRACKING on; INFO stats
 * tracking_total_keys: keys in the tracking table, tracking_total_items:
 * (key, client) pairs in it; tracking_total_prefixes: BCAST prefixes. */
static void test_tracking_fields(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL")); /* empties the table */
    assert_int_equal(info_field_becomes(c, "clients", "tracking_clients", 0, 5000), 0);
    assert_int_equal(info_field_becomes(c, "stats", "tracking_total_keys", 0, 5000), 0);
    tconn *t1 = tconnect(srv.port), *t2 = tconnect(srv.port);
    rval_free(tcmd(t1, "HELLO 3"));
    rval_free(tcmd(t2, "HELLO 3"));
    expect_ok(tcmd(t1, "CLIENT TRACKING ON"));
    expect_ok(tcmd(t1, "CLIENT TRACKING ON")); /* twice: still one client */
    expect_ok(tcmd(t2, "CLIENT TRACKING ON"));
    assert_int_equal(info_field_becomes(c, "clients", "tracking_clients", 2, 5000), 2);
    for (int i = 0; i < 6; i++) {
        char key[16];
        snprintf(key, sizeof key, "tr:%d", i);
        expect_nil(tcmd(t1, "GET %s", key));
        if (i < 2)
            expect_nil(tcmd(t2, "GET %s", key));
    }
    assert_int_equal(info_field_becomes(c, "stats", "tracking_total_keys", 6, 5000), 6);
    assert_int_equal(info_field_becomes(c, "stats", "tracking_total_items", 8, 5000), 8);
    assert_int_equal(info_field_becomes(c, "stats", "tracking_total_prefixes", 0, 5000), 0);
    expect_ok(tcmd(c, "SET tr:0 v")); /* forgets tr:0 and its two readers */
    for (int i = 0; i < 2; i++) { /* who hear it */
        struct rval *push = tread(i ? t2 : t1, 5000);
        assert_non_null(push);
        assert_int_equal(push->type, R_PUSH);
        rval_free(push);
    }
    assert_int_equal(info_field_becomes(c, "stats", "tracking_total_keys", 5, 5000), 5);
    assert_int_equal(info_field_becomes(c, "stats", "tracking_total_items", 6, 5000), 6);
    expect_ok(tcmd(t2, "CLIENT TRACKING OFF"));
    assert_int_equal(info_field_becomes(c, "clients", "tracking_clients", 1, 5000), 1);
    tclose(t1); /* a tracking client that leaves */
    assert_int_equal(info_field_becomes(c, "clients", "tracking_clients", 0, 5000), 0);
    expect_ok(tcmd(c, "FLUSHALL"));
    assert_int_equal(info_field_becomes(c, "stats", "tracking_total_keys", 0, 5000), 0);
    assert_int_equal(info_field_becomes(c, "stats", "tracking_total_items", 0, 5000), 0);
    /* RESET turns tracking off */
    expect_ok(tcmd(t2, "CLIENT TRACKING ON"));
    assert_int_equal(info_field_becomes(c, "clients", "tracking_clients", 1, 5000), 1);
    rval_free(tcmd(t2, "RESET"));
    assert_int_equal(info_field_becomes(c, "clients", "tracking_clients", 0, 5000), 0);
    tclose(t2);
    tclose(c);
}

/* The fields a dashboard (redis_exporter) reads beyond the ones above:
 * pubsub_channels/pubsub_patterns count the channels and patterns with
 * subscribers, instantaneous_input_kbps/_output_kbps follow the traffic,
 * rdb_changes_since_last_save counts the changes (nothing is ever saved
 * here, as with Redis's `save ""`), mem_clients_normal the clients'
 * memory, the main thread's CPU. */
static void test_dashboard_fields(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    tconn *s1 = tconnect(srv.port), *s2 = tconnect(srv.port), *s3 = tconnect(srv.port);
    const char *sub1[] = { "SUBSCRIBE", "dash:a", "dash:b" };
    tsendv(s1, 3, sub1);
    for (int i = 0; i < 2; i++)
        rval_free(tread(s1, 5000));
    const char *sub2[] = { "SUBSCRIBE", "dash:c" };
    tsendv(s2, 2, sub2);
    rval_free(tread(s2, 5000));
    const char *psub[] = { "PSUBSCRIBE", "dash:p*", "dash:q*" };
    tsendv(s3, 3, psub);
    for (int i = 0; i < 2; i++)
        rval_free(tread(s3, 5000));
    assert_int_equal(info_field_becomes(c, "stats", "pubsub_channels", 3, 5000), 3);
    assert_int_equal(info_field_becomes(c, "stats", "pubsub_patterns", 2, 5000), 2);
    tclose(s1);
    assert_int_equal(info_field_becomes(c, "stats", "pubsub_channels", 1, 5000), 1);
    tclose(s2);
    tclose(s3);
    assert_int_equal(info_field_becomes(c, "stats", "pubsub_channels", 0, 5000), 0);
    assert_int_equal(info_field_becomes(c, "stats", "pubsub_patterns", 0, 5000), 0);

    /* changes: 3 SETs and a DEL of 2 keys are 5 */
    char *p = info(c, "persistence");
    long long before = (long long)num(p, "rdb_changes_since_last_save");
    free(p);
    for (int i = 0; i < 3; i++)
        expect_ok(tcmd(c, "SET dash:%d v", i));
    expect_int(tcmd(c, "DEL dash:0 dash:1 dash:none"), 2);
    assert_int_equal(info_field_becomes(c, "persistence", "rdb_changes_since_last_save", before + 5, 5000), before + 5);

    /* traffic: the rates over the last second or so are not 0 */
    expect_ok(tcmd(c, "CONFIG RESETSTAT")); /* the rates' window may begin before it */
    static char value[2049];
    memset(value, 'v', 2048);
    for (int round = 0; round < 12; round++) {
        for (int i = 0; i < 50; i++) {
            const char *set[] = { "SET", "dash:big", value };
            tsendv(c, 3, set);
        }
        for (int i = 0; i < 50; i++)
            expect_ok(tread(c, 5000));
        usleep(100000);
    }
    char *st = info(c, "stats");
    if (num(st, "instantaneous_input_kbps") <= 0 || num(st, "instantaneous_output_kbps") <= 0 ||
        num(st, "instantaneous_ops_per_sec") <= 0)
        fail_msg("rates after traffic: in %.2f out %.2f ops %.0f", num(st, "instantaneous_input_kbps"),
                 num(st, "instantaneous_output_kbps"), num(st, "instantaneous_ops_per_sec"));
    free(st);
    char *m = info(c, "memory");
    assert_true(num(m, "mem_clients_normal") > 0);
    free(m);
    char *cpu = info(c, "cpu");
    num(cpu, "used_cpu_sys_main_thread");
    num(cpu, "used_cpu_user_main_thread");
    free(cpu);
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
}

/* A connection's buffers come back after a big pipeline (as Redis's
 * clientsCron resizes query buffers): mem_clients_normal falls back once
 * the pipeline is served, instead of holding its peak for ever. */
static void test_client_buffers_given_back(void **state)
{
    (void)state;
    tconn *c = tconnect(srv.port), *p = tconnect(srv.port);
    /* 20000 HSETs in one write: about 900 KB of input */
    struct buf cmds;
    buf_init(&cmds);
    for (int i = 0; i < 20000; i++) {
        char one[96];
        int n = snprintf(one, sizeof one, "*4\r\n$4\r\nHSET\r\n$7\r\nbufbig1\r\n$6\r\nf%05d\r\n$6\r\nv%05d\r\n", i, i);
        buf_append(&cmds, one, (size_t)n);
    }
    tsend_raw(p, cmds.data, cmds.len);
    buf_free(&cmds);
    for (int i = 0; i < 20000; i++) {
        struct rval *v = tread(p, 10000);
        assert_non_null(v);
        assert_int_equal(v->type, R_INT);
        rval_free(v);
    }
    expect_int(tcmd(p, "DEL bufbig1"), 1);
    /* a deadline, not a speed: the buffers go at a tick (hz) */
    long long after = 0;
    for (long long until = now_ms() + 5000; now_ms() < until; usleep(50 * 1000)) {
        char *t = info(c, "memory");
        after = (long long)num(t, "mem_clients_normal");
        free(t);
        if (after < 128 * 1024)
            break;
    }
    print_message("mem_clients_normal after the pipeline: %lld\n", after);
    assert_true(after < 128 * 1024);
    tclose(p);
    tclose(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_subcommands),
        cmocka_unit_test(test_every_field_numeric),
        cmocka_unit_test(test_memory_follows_data),
        cmocka_unit_test(test_avg_ttl),
        cmocka_unit_test(test_memory_stats),
        cmocka_unit_test(test_blocked_clients),
        cmocka_unit_test(test_tracking_fields),
        cmocka_unit_test(test_dashboard_fields),
        cmocka_unit_test(test_client_buffers_given_back),
        cmocka_unit_test(test_memory_usage_big_strings),
        /* last: its 20 MB of collections would move the ratios the others check */
        cmocka_unit_test(test_memory_usage_collections),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
