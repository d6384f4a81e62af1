/* The real redis-cli against the server: plain commands, --no-raw, RESP3
 * (-3), --scan --pattern, info keyspace, --pipe mass insertion, and --rdb
 * and --functions-rdb backups (REPLCONF rdb-only). Skipped
 * (exit 77) when redis-cli is not installed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    tclose(c);
    return 0;
}

/* Run `redis-cli -p PORT <args>`; returns its output (malloc'd) and asserts
 * exit status 0. */
static char *cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cli(const char *fmt, ...)
{
    char args[4096], cmd[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "timeout 20 redis-cli -p %d %s 2>&1 </dev/null", srv.port, args);
    char *out = NULL;
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("`%s` exited %d: %s", cmd, st, out);
    return out;
}

static void expect_cli(const char *want, char *out)
{
    if (strcmp(out, want) != 0)
        fail_msg("redis-cli printed '%s', expected '%s'", out, want);
    free(out);
}

static void test_set_get(void **state)
{
    expect_cli("OK\n", cli("set k v"));
    expect_cli("v\n", cli("get k"));
    expect_cli("\"v\"\n", cli("--no-raw get k"));
    expect_cli("(nil)\n", cli("--no-raw get nokey"));
    expect_cli("(integer) 1\n", cli("--no-raw incr n"));
    expect_cli("(integer) 1\n", cli("--no-raw exists k"));
    expect_cli("(error) ERR wrong number of arguments for 'get' command\n", cli("--no-raw get"));
    expect_cli("PONG\n", cli("ping"));
}

static void test_resp3(void **state)
{
    expect_cli("OK\n", cli("-3 set k v"));
    expect_cli("\"v\"\n", cli("-3 --no-raw get k"));
    expect_cli("(nil)\n", cli("-3 --no-raw get nokey"));
    char *out = cli("-3 --no-raw hello 3");
    assert_non_null(strstr(out, "\"proto\""));
    assert_non_null(strstr(out, "(integer) 3"));
    free(out);
}

static void test_scan_pattern(void **state)
{
    tconn *c = tconnect(srv.port);
    for (int i = 0; i < 300; i++)
        expect_ok(tcmd(c, "SET user:%d x", i));
    for (int i = 0; i < 50; i++)
        expect_ok(tcmd(c, "SET session:%d x", i));
    tclose(c);
    char *out = cli("--scan --pattern 'user:*'");
    char *seen = calloc(300, 1);
    int lines = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lines++;
        assert_true(strncmp(l, "user:", 5) == 0);
        int i = atoi(l + 5);
        assert_true(i >= 0 && i < 300);
        assert_int_equal(seen[i], 0);  /* this small keyspace: no duplicates expected */
        seen[i] = 1;
    }
    assert_int_equal(lines, 300);
    free(seen);
    free(out);
}

static void test_info_keyspace(void **state)
{
    expect_cli("OK\n", cli("mset a 1 b 2 c 3"));
    char *out = cli("info keyspace");
    assert_non_null(strstr(out, "# Keyspace"));
    assert_non_null(strstr(out, "db0:keys=3,expires=0"));
    free(out);
    out = cli("info");
    assert_non_null(strstr(out, "redis_version:"));
    free(out);
}

static void test_pipe(void **state)
{
    enum { N = 5000 };
    char path[256];
    snprintf(path, sizeof path, "/tmp/ringkv-test-pipe-%d.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < N; i++) {
        char k[32], v[32];
        int kl = snprintf(k, sizeof k, "pipe:%d", i);
        int vl = snprintf(v, sizeof v, "val%d", i);
        fprintf(f, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl, k, vl, v);
    }
    fclose(f);
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof cmd, "timeout 30 redis-cli -p %d --pipe < %s 2>&1", srv.port, path);
    int st = run_cmd(cmd, &out);
    if (st != 0)
        fail_msg("redis-cli --pipe exited %d: %s", st, out);
    char want[64];
    snprintf(want, sizeof want, "errors: 0, replies: %d", N);
    if (!strstr(out, want))
        fail_msg("redis-cli --pipe said: %s", out);
    free(out);
    unlink(path);
    expect_cli("5000\n", cli("dbsize"));
    expect_cli("val4999\n", cli("get pipe:4999"));

    /* a file with a failing command: errors are counted */
    f = fopen(path, "w");
    fprintf(f, "*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$3\r\nGET\r\n*1\r\n$4\r\nPING\r\n");
    fclose(f);
    run_cmd(cmd, &out);
    assert_non_null(strstr(out, "errors: 1, replies: 3"));
    free(out);
    unlink(path);
}

/* One row of `redis-cli --stat`: keys, mem, clients, blocked, requests
 * (+delta), connections. */
struct stat_row {
    long long keys, clients, blocked, requests, delta, connections;
    char mem[32];
};

static bool parse_stat_row(const char *line, struct stat_row *r)
{
    return sscanf(line, "%lld %31s %lld %lld %lld (+%lld) %lld", &r->keys, r->mem, &r->clients, &r->blocked,
                  &r->requests, &r->delta, &r->connections) == 7;
}

/* redis-cli --stat, as a user watches a server: rows every 0.2 s while
 * two clients block and another writes ten keys at a time (each round once
 * a row shows the last); the columns parse and mean what they should
 * (keys counts every key, blocked the clients in a blocking pop, requests
 * grows with the commands sent, its (+n) the difference with the row
 * before). No row is expected at any particular time. */
static void test_stat(void **state)
{
    tconn *c = tconnect(srv.port);
    for (int i = 0; i < 100; i++)
        expect_ok(tcmd(c, "SET stat:%d x", i));
    /* two clients blocked, one on keys over several shards */
    tconn *b1 = tconnect(srv.port), *b2 = tconnect(srv.port);
    const char *many[] = { "BLPOP", "q:1", "q:2", "q:3", "q:4", "q:5", "q:6", "0" };
    tsendv(b1, 8, many);
    const char *one[] = { "BZPOPMAX", "q:z", "0" };
    tsendv(b2, 3, one);
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 2, 10000), 2);

    char cmd[256];
    /* its first line: the pid of the shell that becomes `timeout`, which
     * passes our SIGTERM on to redis-cli when we are done */
    snprintf(cmd, sizeof cmd, "echo $$; exec timeout 30 stdbuf -oL redis-cli -p %d --stat -i 0.2 2>&1 </dev/null",
             srv.port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    assert_non_null(fgets(line, sizeof line, p));
    pid_t cli_pid = (pid_t)atoi(line);
    assert_true(cli_pid > 0);
    enum { ROUNDS = 5 };
    int rows = 0, headers = 0, written = 100, rounds = 0;
    struct stat_row first = { 0 }, prev = { 0 }, r;
    while (rounds <= ROUNDS && fgets(line, sizeof line, p)) {
        if (strstr(line, "------- data ------")) {
            headers++;
            continue;
        }
        if (strncmp(line, "keys", 4) == 0)
            continue;
        if (!parse_stat_row(line, &r))
            fail_msg("redis-cli --stat printed a row that does not parse: %s", line);
        if (r.keys > written || (rows > 0 && r.keys < prev.keys))
            fail_msg("keys column %lld with %d keys written (row before: %lld): %s", r.keys, written,
                     prev.keys, line);
        assert_int_equal(r.blocked, 2);
        assert_true(r.clients >= 4); /* c, b1, b2, redis-cli */
        assert_true(r.mem[0] >= '0' && r.mem[0] <= '9');
        if (rows > 0) {
            /* at least the INFO of the row before since then */
            if (r.requests <= prev.requests || r.delta != r.requests - prev.requests)
                fail_msg("requests %lld (+%lld) after %lld: %s", r.requests, r.delta, prev.requests, line);
            assert_true(r.connections >= prev.connections);
        } else {
            first = r;
        }
        prev = r;
        rows++;
        if (r.keys == written) { /* this round's keys are counted: the next ten */
            rounds++;
            for (int i = 0; rounds <= ROUNDS && i < 10; i++)
                expect_ok(tcmd(c, "SET stat:%d x", written++));
        }
    }
    kill(cli_pid, SIGTERM);
    pclose(p);
    assert_true(headers >= 1);
    if (rounds <= ROUNDS)
        fail_msg("redis-cli --stat never showed %d keys (%d rows, last %lld)", written, rows, prev.keys);
    /* the 50 SETs, and one INFO a row */
    assert_true(prev.requests - first.requests >= 50 + rows - 1);

    /* the blocked clients are served: blocked falls to 0 */
    expect_int(tcmd(c, "RPUSH q:4 v"), 1);
    expect_int(tcmd(c, "ZADD q:z 1 m"), 1);
    struct rval *v = tread(b1, 5000);
    assert_non_null(v);
    rval_free(v);
    v = tread(b2, 5000);
    assert_non_null(v);
    rval_free(v);
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", 0, 10000), 0);
    tclose(b1);
    tclose(b2);
    tclose(c);
}

/* A keyspace with every type: hashes, lists, sets, sorted sets, strings
 * (small ones and one big of each). */
static void fill_every_type(void)
{
    tconn *c = tconnect(srv.port);
    for (int i = 0; i < 20; i++) {
        expect_ok(tcmd(c, "SET str:%d v%d", i, i));
        expect_int(tcmd(c, "HSET hash:%d f v", i), 1);
        expect_int(tcmd(c, "RPUSH list:%d a", i), 1);
        expect_int(tcmd(c, "SADD set:%d m", i), 1);
        expect_int(tcmd(c, "ZADD zset:%d 1 m", i), 1);
    }
    static char big[10001];
    memset(big, 'x', 10000);
    const char *set[] = { "SET", "big:str", big };
    tsendv(c, 3, set);
    expect_ok(tread(c, 5000));
    for (int i = 0; i < 1000; i++) {
        expect_int(tcmd(c, "HSET big:hash field:%d value-%d", i, i), 1);
        expect_int(tcmd(c, "RPUSH big:list element-%d", i), i + 1);
        expect_int(tcmd(c, "SADD big:set member-%d", i), 1);
        expect_int(tcmd(c, "ZADD big:zset %d member-%d", i, i), 1);
    }
    tclose(c);
}

/* The line of the summary that names the biggest key of a type. */
static const char *biggest_line(const char *out, const char *type)
{
    char want[64];
    snprintf(want, sizeof want, "%s found '\"big:%s\"' has ", type, strcmp(type, "string") ? type : "str");
    const char *p = strstr(out, want);
    if (!p)
        fail_msg("redis-cli names no biggest %s big:%s:\n%s", type, type, out);
    return p + strlen(want);
}

static void test_bigkeys_memkeys_scan_latency(void **state)
{
    fill_every_type();
    char *out = cli("--bigkeys");
    assert_non_null(strstr(out, "Sampled 105 keys in the keyspace!"));
    assert_int_equal(atoll(biggest_line(out, "string")), 10000);
    assert_int_equal(atoll(biggest_line(out, "list")), 1000);
    assert_int_equal(atoll(biggest_line(out, "hash")), 1000);
    assert_int_equal(atoll(biggest_line(out, "set")), 1000);
    assert_int_equal(atoll(biggest_line(out, "zset")), 1000);
    assert_non_null(strstr(out, "21 strings with 10"));
    assert_non_null(strstr(out, "21 lists with 1020 items"));
    assert_non_null(strstr(out, "21 hashs with 1020 fields"));
    assert_non_null(strstr(out, "21 sets with 1020 members"));
    assert_non_null(strstr(out, "21 zsets with 1020 members"));
    free(out);

    /* --memkeys: MEMORY USAGE of each; a collection of 1000 elements
     * takes more than 10 KB, the 10000-byte string more than 10000 bytes,
     * a one-element key less than 1 KB */
    out = cli("--memkeys");
    assert_non_null(strstr(out, "Sampled 105 keys in the keyspace!"));
    static const char *const types[] = { "string", "list", "hash", "set", "zset" };
    for (int t = 0; t < 5; t++) {
        long long bytes = atoll(biggest_line(out, types[t]));
        if (bytes < 10000 || bytes > 1000000)
            fail_msg("--memkeys: big:%s has %lld bytes", types[t], bytes);
    }
    free(out);
    for (int t = 0; t < 5; t++) {
        char *one = cli("memory usage %s:3", t == 0 ? "str" : types[t]);
        long long bytes = atoll(one);
        if (bytes <= 0 || bytes > 1024)
            fail_msg("MEMORY USAGE %s:3 = %s", types[t], one);
        free(one);
    }

    out = cli("--scan");
    int lines = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        lines++;
    assert_int_equal(lines, 105);
    free(out);

    /* --latency prints "min: a, max: b, avg: c (n samples)"; without a tty
     * one line at the end: min max avg samples */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "timeout 2 redis-cli -p %d --latency 2>&1 </dev/null", srv.port);
    out = NULL;
    run_cmd(cmd, &out); /* ended by timeout: it runs until interrupted */
    long long min = -1, max = -1, samples = 0;
    double avg = -1;
    if (sscanf(out, "%lld %lld %lf %lld", &min, &max, &avg, &samples) != 4 || samples < 1 || min < 0 ||
        max < min || avg < (double)min || avg > (double)max)
        fail_msg("redis-cli --latency printed '%s'", out);
    free(out);
}

/* Every key and value of the fill, with its type's reading, in one text:
 * two servers hold the same data if their texts are equal (a hash's
 * fields and a set's members sorted: their order is the table's). */
static char *keyspace_text(int port)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "for k in $(timeout 20 redis-cli -p %d --scan | sort); do "
             "t=$(redis-cli -p %d type $k); echo \"$k $t\"; case $t in "
             "string) redis-cli -p %d get $k;; hash) redis-cli -p %d hgetall $k | paste -d= - - | sort | paste -sd, ;; "
             "list) redis-cli -p %d lrange $k 0 -1 | paste -sd, ;; set) redis-cli -p %d smembers $k | sort | paste -sd, ;; "
             "zset) redis-cli -p %d zrange $k 0 -1 withscores | paste -sd, ;; "
             "stream) redis-cli -p %d xrange $k - + | paste -sd, ;; esac; done 2>&1",
             port, port, port, port, port, port, port, port);
    char *out = NULL;
    if (run_cmd(cmd, &out) != 0)
        fail_msg("reading the keyspace of :%d failed: %s", port, out);
    return out;
}

/* redis-cli --rdb: a backup of a running server, as an RDB file (REPLCONF
 * rdb-only 1, then SYNC: the server saves and sends the file). A server
 * started from that file holds the same keyspace. */
static void test_rdb_backup(void **state)
{
    fill_every_type();
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "SET ttl:key v PX 600000"));
    expect_bulk(tcmd(c, "XADD stream:1 1-1 f v"), "1-1");
    expect_bulk(tcmd(c, "XADD stream:1 2-1 g w"), "2-1");
    char dir[] = "/tmp/ringkv-rdb-backup-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *out = cli("--rdb %s/backup.rdb", dir);
    if (!strstr(out, "Transfer finished with success"))
        fail_msg("redis-cli --rdb printed: %s", out);
    free(out);
    char *want = keyspace_text(srv.port);

    struct server copy;
    const char *args[] = { "--dir", dir, "--dbfilename", "backup.rdb", NULL };
    assert_int_equal(server_start(&copy, args), 0);
    tconn *d = tconnect(copy.port);
    long long keys = get_int(tcmd(c, "DBSIZE"));
    expect_int(tcmd(d, "DBSIZE"), keys);
    long long ttl = get_int(tcmd(d, "PTTL ttl:key"));
    if (ttl <= 0 || ttl > 600000)
        fail_msg("the backup's ttl:key has a PTTL of %lld", ttl);
    char *got = keyspace_text(copy.port);
    if (strcmp(want, got) != 0)
        fail_msg("the server started from the backup differs:\n--- original\n%s\n--- copy\n%s", want, got);
    free(want);
    free(got);
    tclose(d);
    assert_int_equal(server_stop(&copy), 0);
    tclose(c);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    run_cmd(rm, NULL);
}

/* The same by PSYNC: +FULLRESYNC, then the file as one bulk, then the
 * connection closes (no stream follows for an rdb-only replica). The
 * server serves its other clients meanwhile and after. */
static void test_rdb_only_psync(void **state)
{
    tconn *c = tconnect(srv.port);
    expect_ok(tcmd(c, "SET a 1"));
    tconn *r = tconnect(srv.port);
    expect_ok(tcmd(r, "REPLCONF rdb-only 1"));
    expect_error(tcmd(r, "REPLCONF rdb-only 2"), "ERR value is out of range, value must between 0 and 1");
    tsend_raw(r, "PSYNC ? -1\r\n", 12);
    /* the +FULLRESYNC line, newlines while the save runs, then $<len> */
    char line[256];
    size_t n = 0;
    int fd = tfd(r);
    bool fullresync = false;
    long long len = -1;
    long long deadline = now_ms() + 20000;
    while (len < 0 && now_ms() < deadline) {
        char ch;
        if (read(fd, &ch, 1) != 1)
            fail_msg("the connection ended before the file's length");
        if (ch != '\n') {
            if (n < sizeof line - 1)
                line[n++] = ch;
            continue;
        }
        line[n] = '\0';
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (strncmp(line, "+FULLRESYNC ", 12) == 0)
            fullresync = true;
        else if (line[0] == '$')
            len = atoll(line + 1);
        else if (n > 0)
            fail_msg("unexpected line before the file: '%s'", line);
        n = 0;
    }
    assert_true(fullresync);
    assert_true(len > 9);
    expect_bulk(tcmd(c, "GET a"), "1"); /* served meanwhile */
    char *file = malloc((size_t)len);
    long long have = 0;
    while (have < len) {
        ssize_t got = read(fd, file + have, (size_t)(len - have));
        if (got <= 0)
            fail_msg("the file ended after %lld of %lld bytes", have, len);
        have += got;
    }
    assert_memory_equal(file, "REDIS", 5);
    free(file);
    if (!target_is_redis())
        assert_true(tclosed(r, 5000)); /* Redis keeps an rdb-only replica's link until it closes it */
    tclose(r);
    expect_bulk(tcmd(c, "GET a"), "1");
    tclose(c);
}

/* redis-cli --functions-rdb: an RDB file of the function libraries alone
 * (REPLCONF rdb-filter-only functions); a server started from it has the
 * library and no key. */
static void test_functions_rdb(void **state)
{
    tconn *c = tconnect(srv.port);
    const char *load[] = { "FUNCTION", "LOAD", "REPLACE",
                           "#!lua name=backuplib\nredis.register_function('echo1', function(keys, args) return args[1] end)" };
    tsendv(c, 4, load);
    expect_bulk(tread(c, 5000), "backuplib");
    expect_ok(tcmd(c, "SET a 1"));
    expect_error(tcmd(c, "REPLCONF rdb-filter-only nope"), "ERR Unsupported rdb-filter-only option: nope");
    char dir[] = "/tmp/ringkv-functions-rdb-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *out = cli("--functions-rdb %s/functions.rdb", dir);
    if (!strstr(out, "Transfer finished with success"))
        fail_msg("redis-cli --functions-rdb printed: %s", out);
    free(out);
    struct server copy;
    const char *args[] = { "--dir", dir, "--dbfilename", "functions.rdb", NULL };
    assert_int_equal(server_start(&copy, args), 0);
    tconn *d = tconnect(copy.port);
    expect_int(tcmd(d, "DBSIZE"), 0);
    expect_bulk(tcmd(d, "FCALL echo1 0 hello"), "hello");
    tclose(d);
    assert_int_equal(server_stop(&copy), 0);
    expect_ok(tcmd(c, "FUNCTION FLUSH"));
    tclose(c);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    run_cmd(rm, NULL);
}

int main(void)
{
    if (run_cmd("command -v redis-cli >/dev/null 2>&1", NULL) != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_set_get, setup),
        cmocka_unit_test_setup(test_resp3, setup),
        cmocka_unit_test_setup(test_scan_pattern, setup),
        cmocka_unit_test_setup(test_info_keyspace, setup),
        cmocka_unit_test_setup(test_pipe, setup),
        cmocka_unit_test_setup(test_stat, setup),
        cmocka_unit_test_setup(test_bigkeys_memkeys_scan_latency, setup),
        cmocka_unit_test_setup(test_rdb_backup, setup),
        cmocka_unit_test_setup(test_rdb_only_psync, setup),
        cmocka_unit_test_setup(test_functions_rdb, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
