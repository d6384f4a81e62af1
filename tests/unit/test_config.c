/* Unit tests of core/config.c: defaults, the redis.conf parser, flags,
 * CONFIG SET rules, memory units and glob matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <mimalloc.h>

#include "core/config.h"
#include "core/glob.h"

static void free_retired(char *p) { mi_free(p); }

/* A config file under /tmp holding text; the path is written to path. */
static void write_file(char *path, size_t n, const char *text)
{
    snprintf(path, n, "/tmp/ringkv_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_defaults(void **state)
{
    struct config c;
    config_init(&c);
    assert_int_equal(config_load(&c, port), 6379);
    assert_string_equal(config_str(&c, bind), "127.0.0.1");
    assert_int_equal(config_load(&c, threads), 0);
    assert_int_equal(config_load(&c, pin), 1);
    assert_int_equal(config_load(&c, maxmemory), 0);
    assert_int_equal(config_load(&c, maxmemory_policy), 0); /* noeviction */
    assert_int_equal(config_load(&c, loglevel), 2);         /* notice */
    assert_int_equal(config_load(&c, proto_max_bulk_len), 512LL * 1024 * 1024);
    assert_int_equal(config_load(&c, client_query_buffer_limit), 1024LL * 1024 * 1024);
    assert_int_equal(config_load(&c, slowlog_slower_than), 10000);
    assert_int_equal(config_load(&c, hz), 10);
    assert_string_equal(config_str(&c, requirepass), "");

    char out[64];
    assert_string_equal(config_value_text(&c, "maxmemory-policy", out, sizeof(out)), "noeviction");
    assert_string_equal(config_value_text(&c, "PIN", out, sizeof(out)), "yes");
    assert_string_equal(config_value_text(&c, "client-output-buffer-limit-bytes", out, sizeof(out)),
                        "67108864");
    assert_null(config_value_text(&c, "nosuch", out, sizeof(out)));
}

static void test_memory_units(void **state)
{
    assert_int_equal(config_parse_memory("0"), 0);
    assert_int_equal(config_parse_memory("100"), 100);
    assert_int_equal(config_parse_memory("100b"), 100);
    assert_int_equal(config_parse_memory("1k"), 1000);
    assert_int_equal(config_parse_memory("1kb"), 1024);
    assert_int_equal(config_parse_memory("1K"), 1000);
    assert_int_equal(config_parse_memory("1KB"), 1024);
    assert_int_equal(config_parse_memory("5m"), 5000000);
    assert_int_equal(config_parse_memory("5mb"), 5LL * 1024 * 1024);
    assert_int_equal(config_parse_memory("2g"), 2000000000LL);
    assert_int_equal(config_parse_memory("2Gb"), 2LL * 1024 * 1024 * 1024);
    assert_int_equal(config_parse_memory("kb"), -1);
    assert_int_equal(config_parse_memory(""), -1);
    assert_int_equal(config_parse_memory("-1"), -1);
    assert_int_equal(config_parse_memory("1tb"), -1);
    assert_int_equal(config_parse_memory("1 kb"), -1);
    assert_int_equal(config_parse_memory("1.5mb"), -1);
    assert_int_equal(config_parse_memory("99999999999999999999"), -1);
    assert_int_equal(config_parse_memory("9999999999gb"), -1); /* overflows */
    assert_int_equal(config_parse_memory("9223372036854775807"), 9223372036854775807LL);
}

static void test_config_set_rules(void **state)
{
    struct config c;
    char err[512];
    config_init(&c);

    assert_int_equal(config_set(&c, "maxmemory", "100mb", true, err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, maxmemory), 100LL * 1024 * 1024);
    assert_int_equal(config_set(&c, "MAXMEMORY-POLICY", "ALLKEYS-LRU", true, err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, maxmemory_policy), 1);
    assert_int_equal(config_set(&c, "requirepass", "s3cret", true, err, sizeof(err)), 0);
    assert_string_equal(config_str(&c, requirepass), "s3cret");
    assert_int_equal(config_set(&c, "protected-mode", "no", true, err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, protected_mode), 0);

    assert_int_equal(config_set(&c, "foo", "bar", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    assert_int_equal(config_set(&c, "port", "7000", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config");
    assert_int_equal(config_load(&c, port), 6379);
    /* the same option is fine at start-up */
    assert_int_equal(config_set(&c, "port", "7000", false, err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, port), 7000);

    assert_int_equal(config_set(&c, "maxmemory", "lots", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value");
    assert_int_equal(config_load(&c, maxmemory), 100LL * 1024 * 1024);
    assert_int_equal(config_set(&c, "hz", "abc", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer");
    assert_int_equal(config_set(&c, "hz", "501", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'hz') - argument must be between 1 and 500 inclusive");
    assert_int_equal(config_set(&c, "hz", "0", true, err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "hz", "500", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "timeout", "-1", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive");
    assert_int_equal(config_set(&c, "maxclients", "0", true, err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "protected-mode", "maybe", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'");
    assert_int_equal(config_set(&c, "loglevel", "loud", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning, nothing");
    assert_int_equal(config_set(&c, "slowlog-log-slower-than", "-1", true, err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, slowlog_slower_than), -1);
    /* strict integers, as Redis's string2ll */
    assert_int_equal(config_set(&c, "timeout", "007", true, err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "timeout", "+7", true, err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "timeout", " 7", true, err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "timeout", "99999999999999999999", true, err, sizeof(err)), -1);
    /* compatibility switches refuse what ringkv cannot do */
    assert_int_equal(config_set(&c, "appendfsync", "no", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "appendfsync", "always", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "appendfsync", "sometimes", true, err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "appendfilename", "a/b", true, err, sizeof(err)), -1);
}

static void test_file_parsing(void **state)
{
    char inc[64], path[64], text[512], err[1024];
    write_file(inc, sizeof(inc), "maxmemory-samples 7\n");
    snprintf(text, sizeof(text),
             "# a comment\n"
             "\n"
             "   port 7001   \n"
             "BIND 127.0.0.1 ::1\n"
             "maxmemory 2mb\n"
             "maxmemory-policy \"allkeys-lru\"\n"
             "requirepass 'it\\'s \"quoted\"'\n"
             "logfile \"/tmp/a\\x41\\tb.log\"\n"
             "save \"\"\n"
             "pin no\n"
             "include %s\n"
             "\t# indented comment\n",
             inc);
    write_file(path, sizeof(path), text);

    struct config c;
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, port), 7001);
    assert_string_equal(config_str(&c, bind), "127.0.0.1 ::1");
    assert_int_equal(config_load(&c, maxmemory), 2 * 1024 * 1024);
    assert_int_equal(config_load(&c, maxmemory_policy), 1);
    assert_string_equal(config_str(&c, requirepass), "it's \"quoted\"");
    assert_string_equal(config_str(&c, logfile), "/tmp/aA\tb.log");
    assert_string_equal(config_str(&c, save), "");
    assert_int_equal(config_load(&c, pin), 0);
    assert_int_equal(config_load(&c, maxmemory_samples), 7);
    unlink(path);
    unlink(inc);
}

static void test_file_errors(void **state)
{
    char path[64], err[1024];
    struct config c;

    write_file(path, sizeof(path), "port 7002\n# c\n\nfoo bar\n");
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "*** FATAL CONFIG FILE ERROR"));
    assert_non_null(strstr(err, "at line 4\n>>> 'foo bar'\nBad directive or wrong number of arguments"));
    unlink(path);

    write_file(path, sizeof(path), "port abc\n");
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at line 1\n>>> 'port abc'\nargument couldn't be parsed into an integer"));
    unlink(path);

    write_file(path, sizeof(path), "\nport \"7003\n");
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at line 2\n>>> 'port \"7003'\nUnbalanced quotes in configuration line"));
    unlink(path);

    /* a closing quote must be followed by a blank */
    write_file(path, sizeof(path), "requirepass \"a\"b\n");
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Unbalanced quotes"));
    unlink(path);

    write_file(path, sizeof(path), "port\n");
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "wrong number of arguments"));
    unlink(path);

    write_file(path, sizeof(path), "port 1 2\n");
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    unlink(path);

    config_init(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/ringkv.conf", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "can't open config file '/nonexistent/ringkv.conf'"));

    /* a file including itself stops at the depth limit instead of looping */
    char self[64], text[128];
    write_file(self, sizeof(self), "");
    snprintf(text, sizeof(text), "include %s\n", self);
    FILE *f = fopen(self, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    config_init(&c);
    assert_int_equal(config_load_file(&c, self, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "include nested too deep"));
    unlink(self);
}

static void test_flags_override_file(void **state)
{
    char path[64], err[1024];
    write_file(path, sizeof(path), "port 7004\nmaxmemory 1mb\nhz 20\n");
    struct config c;
    config_init(&c);
    char *argv[] = { "ringkv", path, "--port", "7005", "--bind", "127.0.0.1", "::1",
                     "--save", "", "--maxmemory", "3kb", "--requirepass", NULL };
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
    assert_int_equal(config_from_args(&c, argc, argv, err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, port), 7005);
    assert_string_equal(config_str(&c, bind), "127.0.0.1 ::1");
    assert_string_equal(config_str(&c, save), "");
    assert_string_equal(config_str(&c, requirepass), "");
    assert_int_equal(config_load(&c, maxmemory), 3072);
    assert_int_equal(config_load(&c, hz), 20); /* from the file, not overridden */
    unlink(path);

    char *bad[] = { "ringkv", "--port", "7006", "--foo", "bar", "baz", NULL };
    config_init(&c);
    assert_int_equal(config_from_args(&c, 6, bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ">>> 'foo \"bar\" \"baz\"'\nBad directive or wrong number of arguments"));

    char *range[] = { "ringkv", "--port", "99999", NULL };
    config_init(&c);
    assert_int_equal(config_from_args(&c, 3, range, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "argument must be between 0 and 65535 inclusive"));

    char *noval[] = { "ringkv", "--port", NULL };
    config_init(&c);
    assert_int_equal(config_from_args(&c, 2, noval, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "wrong number of arguments"));

    char *stray[] = { "ringkv", "--port", "1", "x.conf", NULL };
    config_init(&c);
    /* "x.conf" after a flag is that flag's second word */
    assert_int_equal(config_from_args(&c, 4, stray, err, sizeof(err)), -1);

    char *threads[] = { "ringkv", "--threads", "1025", NULL };
    config_init(&c);
    assert_int_equal(config_from_args(&c, 3, threads, err, sizeof(err)), -1);
}

struct collected {
    char names[64][64];
    char values[64][64];
    int  n;
};

static void collect(void *arg, const char *name, const char *value)
{
    struct collected *c = arg;
    if (c->n < 64) {
        snprintf(c->names[c->n], 64, "%s", name);
        snprintf(c->values[c->n], 64, "%s", value);
        c->n++;
    }
}

static void measure(void *arg, const char *name, const char *value)
{
    *(size_t *)arg = strlen(value);
}

/* Debian's stock /etc/redis/redis.conf (Redis 7.0's, installed with the
 * redis-server package the test suite needs) loads whole: every directive is
 * accepted, those that map onto ringkv take their value, the others are kept
 * as given and reported by config_ignored_names. */
static void test_debian_redis_conf_loads(void **state)
{
    const char *path = "/etc/redis/redis.conf";
    if (access(path, R_OK) != 0) {
        skip(); /* redis-server is not installed */
        return;
    }
    char err[2048];
    struct config c;
    config_init(&c);
    if (config_load_file(&c, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(config_load(&c, daemonize), 1);
    assert_string_equal(config_str(&c, dir), "/var/lib/redis");
    assert_string_equal(config_str(&c, pidfile), "/run/redis/redis-server.pid");
    assert_string_equal(config_str(&c, logfile), "/var/log/redis/redis-server.log");
    assert_string_equal(config_str(&c, bind), "127.0.0.1 -::1");
    assert_int_equal(config_load(&c, databases), 16);
    char v[512];
    /* the three classes of client-output-buffer-limit, "replica" included */
    assert_string_equal(config_value_text(&c, "client-output-buffer-limit", v, sizeof(v)),
                        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    assert_string_equal(config_value_text(&c, "dbfilename", v, sizeof(v)), "dump.rdb");
    assert_string_equal(config_value_text(&c, "notify-keyspace-events", v, sizeof(v)), "");
    assert_string_equal(config_value_text(&c, "appendfsync", v, sizeof(v)), "everysec");
    char names[4096];
    size_t n = config_ignored_names(&c, names, sizeof(names));
    assert_true(n >= 25); /* fewer since the ACL's, the streams', RDB's and the scripts' busy options are applied */
    assert_non_null(strstr(names, "repl-diskless-sync"));
    assert_non_null(strstr(names, "jemalloc-bg-thread"));
    assert_null(strstr(names, "maxmemory")); /* an option ringkv applies is not listed */
    assert_null(strstr(names, "rdbcompression")); /* RDB snapshots' options apply (shards/persist.h) */
}

/* `save`: Redis's default points; a file's save lines add up (the first
 * replaces the default), `save ""` clears them; a malformed one is refused. */
static void test_save_lines(void **state)
{
    (void)state;
    char path[64], err[1024];
    struct config c;
    config_init(&c);
    assert_string_equal(config_str(&c, save), "3600 1 300 100 60 10000");
    write_file(path, sizeof(path), "save 900 1\nsave 300 10\nsave 60 10000\n");
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
    unlink(path);
    assert_string_equal(config_str(&c, save), "900 1 300 10 60 10000");
    write_file(path, sizeof(path), "save 900 1\nsave \"\"\n");
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
    unlink(path);
    assert_string_equal(config_str(&c, save), "");
    write_file(path, sizeof(path), "save 900\n");
    assert_int_not_equal(config_load_file(&c, path, err, sizeof(err)), 0);
    unlink(path);
}

/* Directives of Redis 7 with no meaning in ringkv: accepted from a file, kept
 * for CONFIG GET (what was set, or Redis's default), listed as ignored only
 * when given; old names reach the new ones; an unknown directive is still
 * fatal with Redis's words. */
static void test_redis_directives_accepted(void **state)
{
    char path[64], err[1024], v[512];
    struct config c;
    config_init(&c);
    assert_string_equal(config_value_text(&c, "appendfsync", v, sizeof(v)), "everysec");
    char names[1024];
    assert_int_equal(config_ignored_names(&c, names, sizeof(names)), 0);
    assert_string_equal(names, "");

    write_file(path, sizeof(path),
               "save 900 1 300 10\n"
               "appendfsync no\n"
               "no-appendfsync-on-rewrite yes\n"
               "notify-keyspace-events \"\"\n"
               "latency-tracking-info-percentiles 50 99 99.9\n"
               "rename-command CONFIG \"\"\n"
               "slave-read-only no\n"
               "slave-serve-stale-data no\n"
               "hash-max-ziplist-entries 64\n"
               "min-slaves-to-write 2\n"
               "maxmemory-policy allkeys-lfu\n"
               "daemonize yes\n"
               "dir /tmp\n");
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
    unlink(path);
    assert_string_equal(config_str(&c, save), "900 1 300 10");
    assert_string_equal(config_value_text(&c, "appendfsync", v, sizeof(v)), "no");
    assert_string_equal(config_value_text(&c, "latency-tracking-info-percentiles", v, sizeof(v)), "50 99 99.9");
    assert_string_equal(config_value_text(&c, "replica-serve-stale-data", v, sizeof(v)), "no");
    assert_string_equal(config_value_text(&c, "hash-max-listpack-entries", v, sizeof(v)), "64");
    assert_int_equal(config_load(&c, replica_read_only), 0);
    assert_int_equal(config_load(&c, min_replicas_to_write), 2);
    assert_string_equal(config_value_text(&c, "maxmemory-policy", v, sizeof(v)), "allkeys-lfu");
    assert_int_equal(config_load(&c, daemonize), 1);
    assert_string_equal(config_str(&c, dir), "/tmp");
    /* hash-max-listpack-entries is a real option now (hashes' encoding), as
     * is latency-tracking-info-percentiles (LATENCY) */
    assert_int_equal(config_load(&c, hash_max_listpack_entries), 64);
    /* notify-keyspace-events is applied now (keyspace notifications) */
    assert_int_equal(config_ignored_names(&c, names, sizeof(names)), 3);
    assert_string_equal(names, "rename-command, no-appendfsync-on-rewrite, replica-serve-stale-data");
    /* cut short, still terminated */
    assert_int_equal(config_ignored_names(&c, names, 10), 3);
    assert_int_equal(strlen(names), 9);

    /* notify-keyspace-events: Redis's letters, written back in its order */
    assert_int_equal(config_set(&c, "notify-keyspace-events", "KEA", true, err, sizeof(err)), 0);
    assert_string_equal(config_value_text(&c, "notify-keyspace-events", v, sizeof(v)), "AKE");
    assert_int_equal(config_set(&c, "notify-keyspace-events", "Kg$x", true, err, sizeof(err)), 0);
    assert_string_equal(config_value_text(&c, "notify-keyspace-events", v, sizeof(v)), "g$xK");
    assert_int_equal(config_set(&c, "notify-keyspace-events", "KEQ", true, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
                             "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    assert_string_equal(config_value_text(&c, "notify-keyspace-events", v, sizeof(v)), "g$xK");
    assert_int_equal(config_set(&c, "notify-keyspace-events", "", true, err, sizeof(err)), 0);

    /* CONFIG SET takes them too, and every policy name Redis 7 has */
    assert_int_equal(config_set(&c, "lazyfree-lazy-eviction", "yes", true, err, sizeof(err)), 0);
    assert_string_equal(config_value_text(&c, "lazyfree-lazy-eviction", v, sizeof(v)), "yes");
    const char *policies[] = { "noeviction", "allkeys-lru", "volatile-lru", "allkeys-random", "volatile-ttl",
                               "volatile-random", "allkeys-lfu", "volatile-lfu" };
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        assert_int_equal(config_set(&c, "maxmemory-policy", policies[i], true, err, sizeof(err)), 0);
        assert_string_equal(config_value_text(&c, "maxmemory-policy", v, sizeof(v)), policies[i]);
    }

    /* not Redis's: still fatal, with Redis's text */
    write_file(path, sizeof(path), "appendfsync everysec\nno-such-directive yes\n");
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at line 2\n>>> 'no-such-directive yes'\nBad directive or wrong number of arguments"));
    unlink(path);
    /* appendfsync always: replies wait for the fsync (shards/aof_fence.h) */
    write_file(path, sizeof(path), "appendonly yes\nappendfsync always\n");
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, appendfsync), 0);
    unlink(path);
}

static void test_config_get(void **state)
{
    struct config c;
    config_init(&c);
    struct collected got = { .n = 0 };
    config_get(&c, "MAXMEMORY*", collect, &got);
    assert_int_equal(got.n, 5); /* as Redis 7: maxmemory-clients is accepted and ignored */
    assert_string_equal(got.names[0], "maxmemory");
    assert_string_equal(got.values[0], "0");
    assert_string_equal(got.names[1], "maxmemory-policy");
    assert_string_equal(got.values[1], "noeviction");
    assert_string_equal(got.names[2], "maxmemory-samples");
    assert_string_equal(got.names[3], "maxmemory-eviction-tenacity");
    assert_string_equal(got.values[3], "10");
    assert_string_equal(got.names[4], "maxmemory-clients");

    got.n = 0;
    config_get(&c, "*", collect, &got);
    assert_true(got.n >= 26);
    got.n = 0;
    config_get(&c, "nomatch*", collect, &got);
    assert_int_equal(got.n, 0);

    /* a long string comes back whole */
    char longpass[5001], err[256];
    memset(longpass, 'p', 5000);
    longpass[5000] = '\0';
    assert_int_equal(config_set(&c, "requirepass", longpass, true, err, sizeof(err)), 0);
    size_t len = 0;
    config_get(&c, "requirepass", measure, &len);
    assert_int_equal(len, 5000);
}

#define GM(p, s) glob_match((p), strlen(p), (s), strlen(s), false)
#define GMI(p, s) glob_match((p), strlen(p), (s), strlen(s), true)

static void test_glob(void **state)
{
    assert_true(GM("*", ""));
    assert_true(GM("*", "anything"));
    assert_true(GM("", ""));
    assert_false(GM("", "a"));
    assert_true(GM("h?llo", "hello"));
    assert_false(GM("h?llo", "hllo"));
    assert_true(GM("h*llo", "hllo"));
    assert_true(GM("h*llo", "heeeello"));
    assert_true(GM("h[ae]llo", "hallo"));
    assert_false(GM("h[ae]llo", "hillo"));
    assert_true(GM("h[^e]llo", "hallo"));
    assert_false(GM("h[^e]llo", "hello"));
    assert_true(GM("h[a-b]llo", "hbllo"));
    assert_true(GM("h[b-a]llo", "hbllo"));  /* reversed range */
    assert_false(GM("h[a-b]llo", "hcllo"));
    assert_true(GM("a\\*b", "a*b"));
    assert_false(GM("a\\*b", "axb"));
    assert_true(GM("a\\?", "a?"));
    assert_false(GM("a\\?", "ab"));
    assert_true(GM("[\\]]", "]"));          /* escaped ] inside a class */
    assert_true(GM("[\\^a]", "^"));
    assert_true(GM("a\\", "a\\"));          /* trailing backslash is literal */
    assert_false(GM("[]", "a"));
    assert_true(GM("[a", "a"));             /* unterminated class ends the pattern */
    assert_false(GM("[a", "ab"));
    assert_true(GM("[^", "x"));
    assert_true(GM("foo*bar*", "fooXbarYbar"));
    assert_false(GM("foo*bar", "fooXbarY"));
    assert_true(GM("*.conf", "a.b.conf"));
    assert_true(GM("**a", "a"));
    assert_false(GM("**", ""));             /* as Redis: only "" and a lone "*" match "" */
    assert_false(GM("?", ""));
    assert_false(GM("a*", ""));
    assert_true(GM("a**", "a"));

    assert_false(GM("HELLO", "hello"));
    assert_true(GMI("HELLO", "hello"));
    assert_true(GMI("h[A-Z]llo", "hello"));
    assert_true(GMI("h[E]llo", "hello"));
    assert_true(GMI("max*", "MAXMEMORY"));

    /* binary safety: lengths, not NULs */
    assert_true(glob_match("a?c", 3, "a\0c", 3, false));
}

static void test_glob_pathological(void **state)
{
    char s[20001];
    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    const char *pat = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(GM(pat, s));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 1.0);
    s[sizeof(s) - 2] = 'b';
    assert_true(GM(pat, s));
}

/* ---- CONFIG REWRITE ---- */

/* The whole file as a string (the caller frees it). */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A fresh directory holding only a file "ringkv.conf" with text (NULL: no
 * file); the file's path goes to path. */
static void make_conf_dir(char *dir, size_t dirlen, char *path, size_t pathlen, const char *text)
{
    snprintf(dir, dirlen, "/tmp/ringkv_test_rewrite_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, pathlen, "%s/ringkv.conf", dir);
    if (text != NULL) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
    }
}

static int entries_in(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void remove_conf_dir(const char *dir, const char *path)
{
    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* fails if a temporary file was left */
}

/* Every option of the re-read config has the value of the original. */
static void same_value(void *arg, const char *name, const char *value)
{
    const struct config *reread = arg;
    char out[1024];
    assert_non_null(config_value_text(reread, name, out, sizeof(out)));
    if (strcmp(out, value) != 0)
        fail_msg("option %s: wrote '%s', read back '%s'", name, value, out);
}

static void test_rewrite_in_place(void **state)
{
    char dir[64], path[128], err[256];
    make_conf_dir(dir, sizeof(dir), path, sizeof(path),
                  "# top comment\n"
                  "\n"
                  "port 7001\n"
                  "maxmemory 1mb\n"
                  "  # middle, indented\n"
                  "MAXMEMORY 2mb\n"
                  "hz 10\n"
                  "some-future-option 1\n"
                  "\n"
                  "# tail\n");
    struct config c;
    config_init(&c);
    assert_int_equal(config_set(&c, "port", "7001", false, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "maxmemory", "3mb", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "timeout", "30", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "bind", "127.0.0.1 ::1", false, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "requirepass", "a b\"c\\\n\x01", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "maxmemory-policy", "allkeys-lru", true, err, sizeof(err)), 0);

    assert_int_equal(config_rewrite(&c, path, NULL, err, sizeof(err)), 0);
    char *got = read_file(path);
    assert_string_equal(got,
                        "# top comment\n"
                        "\n"
                        "port 7001\n"
                        "maxmemory 3145728\n"          /* in place of the first line */
                        "  # middle, indented\n"       /* the duplicate is gone */
                        "hz 10\n"                      /* in the file: kept though default */
                        "some-future-option 1\n"       /* unknown: left alone */
                        "\n"
                        "# tail\n"
                        "\n"
                        "# Generated by CONFIG REWRITE\n"
                        "bind 127.0.0.1 ::1\n"
                        "maxmemory-policy allkeys-lru\n"
                        "requirepass \"a b\\\"c\\\\\\n\\x01\"\n"
                        "timeout 30\n");
    free(got);
    assert_int_equal(entries_in(dir), 1); /* no temporary file left */

    /* a second rewrite changes nothing: one signature, nothing appended twice */
    got = read_file(path);
    assert_int_equal(config_rewrite(&c, path, NULL, err, sizeof(err)), 0);
    char *again = read_file(path);
    assert_string_equal(again, got);
    free(got);
    free(again);
    remove_conf_dir(dir, path);
}

static void test_rewrite_reads_back(void **state)
{
    char dir[64], path[128], err[1024];
    make_conf_dir(dir, sizeof(dir), path, sizeof(path), "# only a comment\n");
    struct config c;
    config_init(&c);
    assert_int_equal(config_set(&c, "bind", "10.0.0.1 10.0.0.2", false, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "requirepass", "p'w \"x\" \\y\t#z\xc3\xa9", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "logfile", "/tmp/with space.log", false, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "masterauth", "  lead and trail  ", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "save", "900 1 300 10", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "pidfile", "a  b", false, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "proto-max-bulk-len", "1gb", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "protected-mode", "no", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "loglevel", "warning", true, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "slowlog-log-slower-than", "-1", true, err, sizeof(err)), 0);
    assert_int_equal(config_rewrite(&c, path, NULL, err, sizeof(err)), 0);

    struct config back;
    config_init(&back);
    if (config_load_file(&back, path, err, sizeof(err)) != 0)
        fail_msg("re-reading the rewritten file: %s", err);
    config_get(&c, "*", same_value, &back);
    char *got = read_file(path);
    assert_true(strncmp(got, "# only a comment\n", 17) == 0);
    assert_non_null(strstr(got, "\nsave 900 1 300 10\n"));
    assert_non_null(strstr(got, "\nproto-max-bulk-len 1073741824\n"));
    free(got);
    remove_conf_dir(dir, path);
}

static void test_rewrite_replicaof(void **state)
{
    char dir[64], path[128], err[256];
    make_conf_dir(dir, sizeof(dir), path, sizeof(path),
                  "port 7001\n"
                  "replicaof 10.0.0.1 6379\n"
                  "# between\n"
                  "SLAVEOF 10.0.0.2 6380\n");
    struct config c;
    config_init(&c);
    assert_int_equal(config_set(&c, "port", "7001", false, err, sizeof(err)), 0);
    /* the option itself is ignored: the caller says what the role is now */
    assert_int_equal(config_set(&c, "replicaof", "10.0.0.1 6379", false, err, sizeof(err)), 0);

    /* a replica: the first line names the current master, the others go */
    assert_int_equal(config_rewrite(&c, path, "replicaof 10.0.0.9 7000", err, sizeof(err)), 0);
    char *got = read_file(path);
    assert_string_equal(got, "port 7001\nreplicaof 10.0.0.9 7000\n# between\n");
    free(got);

    /* a master: no replicaof line at all */
    assert_int_equal(config_rewrite(&c, path, NULL, err, sizeof(err)), 0);
    got = read_file(path);
    assert_string_equal(got, "port 7001\n# between\n");
    free(got);

    /* a replica again: the line is appended */
    assert_int_equal(config_rewrite(&c, path, "replicaof 127.0.0.1 6390", err, sizeof(err)), 0);
    got = read_file(path);
    assert_string_equal(got, "port 7001\n# between\n\n# Generated by CONFIG REWRITE\n"
                             "replicaof 127.0.0.1 6390\n");
    free(got);
    struct config back;
    config_init(&back);
    assert_int_equal(config_load_file(&back, path, err, sizeof(err)), 0);
    assert_string_equal(config_str(&back, replicaof), "127.0.0.1 6390");
    remove_conf_dir(dir, path);
}

static void test_rewrite_errors(void **state)
{
    char dir[64], path[128], err[256];
    struct config c;
    config_init(&c);
    assert_int_equal(config_set(&c, "hz", "20", true, err, sizeof(err)), 0);

    /* a directory that does not exist */
    assert_int_equal(config_rewrite(&c, "/tmp/ringkv-no-such-dir/x/ringkv.conf", NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR Rewriting config file: No such file or directory");

    /* the path is a directory: it cannot be read as a file */
    make_conf_dir(dir, sizeof(dir), path, sizeof(path), NULL);
    assert_int_equal(config_rewrite(&c, dir, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR Rewriting config file: Is a directory");

    /* a file removed since the start is written anew */
    assert_int_equal(config_rewrite(&c, path, NULL, err, sizeof(err)), 0);
    char *got = read_file(path);
    assert_string_equal(got, "# Generated by CONFIG REWRITE\nhz 20\n");
    free(got);
    remove_conf_dir(dir, path);
}

static void test_rewrite_keeps_mode_and_link(void **state)
{
    char dir[64], path[128], link[160], err[256];
    make_conf_dir(dir, sizeof(dir), path, sizeof(path), "hz 10\n");
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(link, sizeof(link), "%s/link.conf", dir);
    assert_int_equal(symlink(path, link), 0);
    struct config c;
    config_init(&c);
    assert_int_equal(config_set(&c, "hz", "30", true, err, sizeof(err)), 0);
    assert_int_equal(config_rewrite(&c, link, NULL, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));         /* the link is still a link */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600); /* the password stays private */
    char *got = read_file(path);
    assert_string_equal(got, "hz 30\n");
    free(got);
    unlink(link);
    remove_conf_dir(dir, path);
}

/* config_check stores nothing; config_set_shared hands back the string it
 * replaced (none for the default, the table's literal) for the caller to
 * free later, and the value in place stays valid. */
static void test_set_shared_retires_strings(void **state)
{
    struct config c;
    config_init(&c);
    char err[512];
    assert_int_equal(config_check("masterauth", "one", err, sizeof(err)), 0);
    assert_string_equal(config_str(&c, masterauth), "");
    assert_int_equal(config_check("hz", "0", err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'hz') - argument must be between 1 and 500 inclusive");
    assert_int_equal(config_check("port", "1", err, sizeof(err)), -1);
    char *old = (char *)1;
    assert_int_equal(config_set_shared(&c, "masterauth", "one", &old, err, sizeof(err)), 0);
    assert_null(old);
    const char *one = config_str(&c, masterauth);
    assert_string_equal(one, "one");
    assert_int_equal(config_set_shared(&c, "masterauth", "two", &old, err, sizeof(err)), 0);
    assert_ptr_equal(old, one);
    assert_string_equal(old, "one"); /* not freed: the caller's to free */
    free_retired(old);
    assert_string_equal(config_str(&c, masterauth), "two");
    assert_int_equal(config_set_shared(&c, "hz", "20", &old, err, sizeof(err)), 0);
    assert_null(old);
    assert_int_equal(config_load(&c, hz), 20);
    config_set(&c, "masterauth", "", true, err, sizeof(err)); /* frees "two" */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_memory_units),
        cmocka_unit_test(test_config_set_rules),
        cmocka_unit_test(test_set_shared_retires_strings),
        cmocka_unit_test(test_file_parsing),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_flags_override_file),
        cmocka_unit_test(test_config_get),
        cmocka_unit_test(test_debian_redis_conf_loads),
        cmocka_unit_test(test_redis_directives_accepted),
        cmocka_unit_test(test_save_lines),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_glob_pathological),
        cmocka_unit_test(test_rewrite_in_place),
        cmocka_unit_test(test_rewrite_reads_back),
        cmocka_unit_test(test_rewrite_replicaof),
        cmocka_unit_test(test_rewrite_errors),
        cmocka_unit_test(test_rewrite_keeps_mode_and_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
