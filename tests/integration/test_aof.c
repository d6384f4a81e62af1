/* The append-only file (README "Persistence", shards/aof.h): appendonly yes
 * writes Redis 7's multi-part AOF (a base, incr files, the manifest) and a
 * restart after kill -9 has every write that reached it; a truncated last
 * command is cut or refuses the start by aof-load-truncated; redis-server 7
 * starts from an AOF ringkv wrote and the other way round. Runs against
 * redis-server too (RINGKV_TEST_TARGET=redis), but for what only ringkv
 * does (a base made from dump.rdb, its log lines). Every server gets a
 * directory of its own (/tmp/rkv-aof-<pid>-<n>), removed at teardown. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "keyspace_state.h"
/* wait_synced and replicaof; not every helper is used here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

#define MAX_DIRS 16
static char dirs[MAX_DIRS][64];
static int ndirs;
#define MAX_SERVERS 8
static struct server servers[MAX_SERVERS];
static int nservers;

static const char *new_dir(void)
{
    assert_true(ndirs < MAX_DIRS);
    char *d = dirs[ndirs];
    snprintf(d, sizeof dirs[0], "/tmp/rkv-aof-%d-%d", (int)getpid(), ndirs);
    ndirs++;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", d, d);
    assert_int_equal(system(cmd), 0);
    return d;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < nservers; i++)
        if (servers[i].pid > 0)
            server_kill(&servers[i]);
    nservers = 0;
    for (int i = 0; i < ndirs; i++) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dirs[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dirs[i]);
    }
    ndirs = 0;
    return 0;
}

/* The server under test in dir with appendonly yes and more arguments
 * (a1..a4 may be NULL). */
static struct server *start_aof(const char *dir, const char *a1, const char *a2, const char *a3, const char *a4)
{
    assert_true(nservers < MAX_SERVERS);
    struct server *s = &servers[nservers++];
    if (target_is_redis() && a1 && strcmp(a1, "--threads") == 0) {
        a1 = a3; /* ringkv's option */
        a2 = a4;
        a3 = a4 = NULL;
    }
    const char *args[] = { "--dir", dir, "--dbfilename", "dump.rdb", "--appendonly", "yes", a1, a2, a3, a4, NULL };
    assert_int_equal(server_start(s, args), 0);
    return s;
}

static bool have_redis(void)
{
    return run_cmd("command -v redis-server >/dev/null 2>&1", NULL) == 0;
}

/* A real redis-server in dir with appendonly yes, whatever the target. */
static struct server *start_redis_aof(const char *dir)
{
    const char *was = getenv("RINGKV_TEST_TARGET");
    char saved[32] = "";
    if (was)
        snprintf(saved, sizeof saved, "%s", was);
    setenv("RINGKV_TEST_TARGET", "redis", 1);
    struct server *s = start_aof(dir, NULL, NULL, NULL, NULL);
    if (was)
        setenv("RINGKV_TEST_TARGET", saved, 1);
    else
        unsetenv("RINGKV_TEST_TARGET");
    return s;
}

/* The server under test in dir, as ringkv whatever the target. */
static struct server *start_ringkv_aof(const char *dir)
{
    const char *was = getenv("RINGKV_TEST_TARGET");
    char saved[32] = "";
    if (was)
        snprintf(saved, sizeof saved, "%s", was);
    unsetenv("RINGKV_TEST_TARGET");
    struct server *s = start_aof(dir, NULL, NULL, NULL, NULL);
    if (was)
        setenv("RINGKV_TEST_TARGET", saved, 1);
    return s;
}

static long long unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The whole of dir/appendonlydir/name, NUL-terminated (NULL if missing). */
static char *read_aof_file(const char *dir, const char *name, size_t *len)
{
    char path[200];
    snprintf(path, sizeof path, "%s/appendonlydir/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    assert_int_equal(fstat(fileno(f), &st), 0);
    char *data = malloc((size_t)st.st_size + 1);
    assert_non_null(data);
    size_t n = fread(data, 1, (size_t)st.st_size, f);
    fclose(f);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

static bool contains(const char *data, size_t len, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= len; i++)
        if (memcmp(data + i, needle, k) == 0)
            return true;
    return false;
}

/* The last incr file the manifest names. */
static void last_incr(const char *dir, char *out, size_t outlen)
{
    char *m = read_aof_file(dir, "appendonly.aof.manifest", NULL);
    assert_non_null(m);
    out[0] = '\0';
    for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128], type[8];
        unsigned long long seq;
        if (sscanf(line, "file %127s seq %llu type %7s", name, &seq, type) == 3 && strcmp(type, "i") == 0)
            snprintf(out, outlen, "%s", name);
    }
    free(m);
    assert_true(out[0] != '\0');
}

/* Wait until the last incr file holds each of the marker keys given (a
 * write to each of them was acknowledged last: on ringkv the AOF's thread
 * writes a turn's bytes just after it, and shards' bytes reach it in
 * their own order, so a marker on each shard). Bounded, generous. */
static void wait_in_aof(const char *dir, const char *const *markers, int n)
{
    char name[128];
    last_incr(dir, name, sizeof name);
    long long until = now_ms() + 20000;
    for (;;) {
        size_t len = 0;
        char *data = read_aof_file(dir, name, &len);
        int found = 0;
        for (int i = 0; data && i < n; i++)
            found += contains(data, len, markers[i]);
        free(data);
        if (found == n)
            return;
        if (now_ms() > until)
            fail_msg("the AOF %s did not get the last writes in 20 s", name);
        usleep(10000);
    }
}

/* Two keys on different shards of a two-shard node ({a}: slot 15495, odd;
 * {b}: slot 3300, even): written last, then waited for in the file. */
static void write_markers_and_wait(tconn *c, const char *dir)
{
    expect_ok(tcmd(c, "SET {a}marker-end 1"));
    expect_ok(tcmd(c, "SET {b}marker-end 1"));
    const char *m[] = { "{a}marker-end", "{b}marker-end" };
    wait_in_aof(dir, m, 2);
}

/* Keys of every type written by the commands that change them in place
 * (the stream carries some as themselves: INCR, APPEND, SETBIT...), with
 * expiries, deletes and a function library. */
static void fill_every_type(tconn *c)
{
    expect_ok(tcmd(c, "SET str hello"));
    expect_int(tcmd(c, "INCR counter"), 1);
    expect_int(tcmd(c, "INCRBY counter 41"), 42);
    rval_free(tcmd(c, "INCRBYFLOAT fl 1.5"));
    expect_int(tcmd(c, "APPEND str _world"), 11);
    expect_int(tcmd(c, "SETBIT bits 7 1"), 0);
    expect_ok(tcmd(c, "MSET {a}m1 x {b}m2 y k3 z"));
    expect_int(tcmd(c, "DEL k3"), 1);
    const char *bin[] = { "SET", "bin", "a\0b\r\nc" };
    size_t binl[] = { 3, 3, 6 };
    tsendb(c, 3, bin, binl);
    expect_ok(tread(c, 5000));
    /* a slot's keys: RENAME and COPY go to the file as themselves */
    expect_int(tcmd(c, "RPUSH {r}src a b c"), 3);
    expect_ok(tcmd(c, "RENAME {r}src {r}dst"));
    expect_int(tcmd(c, "COPY {r}dst {r}copy"), 1);
    expect_int(tcmd(c, "RENAMENX {r}copy {r}moved"), 1);
    expect_int(tcmd(c, "HSET hsmall f1 v1 f2 2"), 2);
    expect_int(tcmd(c, "HINCRBY hsmall f2 5"), 7);
    for (int i = 0; i < 600; i++)
        get_int(tcmd(c, "HSET hbig field:%d value:%d", i, i * 7));
    expect_int(tcmd(c, "HDEL hbig field:3"), 1);
    expect_int(tcmd(c, "SADD sint 1 2 3 -40000 70000"), 5);
    for (int i = 0; i < 300; i++)
        get_int(tcmd(c, "SADD sbig member:%d", i));
    expect_int(tcmd(c, "SREM sbig member:5"), 1);
    expect_int(tcmd(c, "RPUSH lsmall a b 3"), 3);
    expect_int(tcmd(c, "LPUSH lsmall z"), 4);
    expect_bulk(tcmd(c, "RPOP lsmall"), "3");
    for (int i = 0; i < 500; i++)
        get_int(tcmd(c, "RPUSH lbig element-%d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i));
    expect_ok(tcmd(c, "LSET lbig 10 changed"));
    expect_int(tcmd(c, "ZADD zsmall 1 a 2.5 b -inf c"), 3);
    rval_free(tcmd(c, "ZINCRBY zsmall 2 a"));
    for (int i = 0; i < 300; i++)
        get_int(tcmd(c, "ZADD zbig %d.5 m%d", i - 150, i));
    get_int(tcmd(c, "PFADD hll a b c d e"));
    for (int i = 1; i <= 50; i++) {
        struct rval *id = tcmd(c, "XADD stream %d-1 field %d", i, i);
        assert_int_equal(id->type, R_BULK);
        rval_free(id);
    }
    expect_ok(tcmd(c, "XGROUP CREATE stream grp 0"));
    rval_free(tcmd(c, "XREADGROUP GROUP grp alice COUNT 2 STREAMS stream >"));
    expect_int(tcmd(c, "XDEL stream 5-1"), 1);
    expect_ok(tcmd(c, "SET ttlstr v EX 100000"));
    expect_int(tcmd(c, "HSET ttlhash a 1"), 1);
    expect_int(tcmd(c, "PEXPIREAT ttlhash %lld", unix_ms() + 200000000LL), 1);
    expect_int(tcmd(c, "RPUSH ttllist x y"), 2);
    expect_int(tcmd(c, "EXPIRE ttllist 50000"), 1);
    expect_ok(tcmd(c, "SET gone v PX 1"));
    long long until = now_ms() + 10000; /* gone for good before the state is read */
    while (get_int(tcmd(c, "EXISTS gone")) != 0 && now_ms() < until)
        usleep(2000);
    const char *load[] = { "FUNCTION", "LOAD", "REPLACE",
                           "#!lua name=kept\nredis.register_function('kept_fn', function() return 'kept' end)" };
    tsendv(c, 4, load);
    expect_bulk(tread(c, 5000), "kept");
}

/* ---- tests ---- */

/* appendonly yes on an empty dir: Redis 7's files; every type written,
 * kill -9, a restart: the same keyspace, the library too. */
static void test_kill9_every_type(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, "--threads", "2", NULL, NULL);
    tconn *c = tconnect(s->port);
    expect_int(tcmd(c, "DBSIZE"), 0);
    assert_int_equal(info_field(c, "persistence", "aof_enabled"), 1);
    fill_every_type(c);
    write_markers_and_wait(c, dir);
    char *before = keyspace_state(c);
    assert_non_null(strstr(before, "counter"));
    tclose(c);
    /* the files as Redis 7 names them */
    char *m = read_aof_file(dir, "appendonly.aof.manifest", NULL);
    assert_non_null(m);
    assert_non_null(strstr(m, "file appendonly.aof.1.base.rdb seq 1 type b\n"));
    assert_non_null(strstr(m, "file appendonly.aof.1.incr.aof seq 1 type i\n"));
    free(m);
    server_kill(s);

    s = start_aof(dir, "--threads", "2", NULL, NULL);
    c = tconnect(s->port);
    char *after = keyspace_state(c);
    expect_same_keyspace(before, after);
    expect_bulk(tcmd(c, "FCALL kept_fn 0"), "kept");
    expect_bulk(tcmd(c, "GET counter"), "42");
    expect_nil(tcmd(c, "GET k3"));
    /* and on from there: the file goes on growing, a second restart too */
    expect_int(tcmd(c, "INCR counter"), 43);
    write_markers_and_wait(c, dir);
    tclose(c);
    server_kill(s);
    s = start_aof(dir, "--threads", "3", NULL, NULL); /* another shard count: keys go where they belong */
    c = tconnect(s->port);
    expect_bulk(tcmd(c, "GET counter"), "43");
    expect_int(tcmd(c, "HLEN hbig"), 599);
    expect_int(tcmd(c, "LLEN {r}moved"), 3);
    expect_int(tcmd(c, "EXISTS {r}src {r}dst {r}copy"), 1);
    tclose(c);
    free(before);
    free(after);
}

/* FLUSHALL in the stream: a restart does not bring the flushed keys back,
 * and what came after it is there. */
static void test_flushall_in_aof(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    for (int i = 0; i < 50; i++)
        expect_ok(tcmd(c, "SET k%d v", i));
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_ok(tcmd(c, "SET after 1"));
    write_markers_and_wait(c, dir);
    tclose(c);
    server_kill(s);
    s = start_aof(dir, NULL, NULL, NULL, NULL);
    c = tconnect(s->port);
    expect_int(tcmd(c, "DBSIZE"), 3);
    expect_bulk(tcmd(c, "GET after"), "1");
    tclose(c);
}

/* With an AOF present it is loaded, not dump.rdb (Redis's rule); the
 * first start with appendonly yes makes the base from dump.rdb (ringkv:
 * redis-server 7.0 would start empty). */
static void test_base_from_rdb_then_aof_wins(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    const char *dir = new_dir();
    struct server *s = &servers[nservers++];
    const char *args[] = { "--dir", dir, "--dbfilename", "dump.rdb", NULL };
    assert_int_equal(server_start(s, args), 0);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET fromrdb 1"));
    expect_ok(tcmd(c, "SET a 1"));
    expect_ok(tcmd(c, "SAVE"));
    tclose(c);
    assert_int_equal(server_stop(s), 0);

    s = start_aof(dir, NULL, NULL, NULL, NULL);
    c = tconnect(s->port);
    expect_bulk(tcmd(c, "GET fromrdb"), "1");
    expect_ok(tcmd(c, "SET a 2"));
    expect_ok(tcmd(c, "SAVE")); /* dump.rdb: a is 2 */
    expect_ok(tcmd(c, "SET a 3"));
    write_markers_and_wait(c, dir);
    tclose(c);
    server_kill(s);
    s = start_aof(dir, NULL, NULL, NULL, NULL);
    c = tconnect(s->port);
    expect_bulk(tcmd(c, "GET a"), "3");
    expect_bulk(tcmd(c, "GET fromrdb"), "1");
    tclose(c);
}

/* Append raw bytes to the last incr file. */
static void append_to_incr(const char *dir, const char *bytes)
{
    char name[128], path[300];
    last_incr(dir, name, sizeof name);
    snprintf(path, sizeof path, "%s/appendonlydir/%s", dir, name);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, strlen(bytes), f), strlen(bytes));
    fclose(f);
}

/* Start the binary under test in dir and expect it to refuse: its output. */
static char *start_refused(const char *dir, const char *more)
{
    char cmd[600];
    int port = free_port();
    snprintf(cmd, sizeof cmd,
             "cd '%s' && timeout 30 '%s' --port %d --bind 127.0.0.1 --dir '%s' --save '' --appendonly yes %s 2>&1",
             dir, server_binary(), port, dir, more);
    char *out = NULL;
    int rc = run_cmd(cmd, &out);
    if (rc == 0 || rc == 124)
        fail_msg("the server started (exit %d):\n%s", rc, out);
    return out;
}

/* A crash mid-write leaves the last command cut: aof-load-truncated yes
 * cuts it and starts, no refuses to start. */
static void test_truncated_tail(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET kept 1"));
    expect_int(tcmd(c, "RPUSH list a b"), 2);
    tclose(c);
    assert_int_equal(server_stop(s), 0);

    append_to_incr(dir, "*3\r\n$3\r\nSET\r\n$4\r\ncut"); /* the crash */
    char *out = start_refused(dir, "--aof-load-truncated no");
    if (!target_is_redis() && !strstr(out, "appendonly.aof.1.incr.aof"))
        fail_msg("the error does not name the file:\n%s", out);
    free(out);

    s = start_aof(dir, "--aof-load-truncated", "yes", NULL, NULL);
    c = tconnect(s->port);
    expect_bulk(tcmd(c, "GET kept"), "1");
    expect_int(tcmd(c, "LLEN list"), 2);
    expect_int(tcmd(c, "EXISTS cut"), 0);
    expect_ok(tcmd(c, "SET later 1")); /* appended after the cut: loads whole */
    write_markers_and_wait(c, dir);
    tclose(c);
    server_kill(s);
    s = start_aof(dir, "--aof-load-truncated", "no", NULL, NULL);
    c = tconnect(s->port);
    expect_bulk(tcmd(c, "GET later"), "1");
    expect_bulk(tcmd(c, "GET kept"), "1");
    tclose(c);
}

/* A command ringkv does not have, or a damaged file: the start is refused
 * with a line naming it. */
static void test_bad_aof_refused(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    const char *dir = new_dir();
    struct server *s = start_aof(dir, NULL, NULL, NULL, NULL);
    assert_int_equal(server_stop(s), 0);
    append_to_incr(dir, "*2\r\n$10\r\nNOSUCHCMD1\r\n$1\r\nx\r\n");
    char *out = start_refused(dir, "");
    if (!strstr(out, "Unknown command 'NOSUCHCMD1' reading the append only file"))
        fail_msg("no clear line for the unknown command:\n%s", out);
    free(out);

    const char *dir2 = new_dir();
    s = start_aof(dir2, NULL, NULL, NULL, NULL);
    assert_int_equal(server_stop(s), 0);
    append_to_incr(dir2, "*2\r\n$3\r\nDEL\r\n$1\r\nx\r\nGARBAGE\r\n*1\r\n$4\r\nPING\r\n");
    out = start_refused(dir2, "");
    if (!strstr(out, "Bad file format reading the append only file"))
        fail_msg("no clear line for the damaged file:\n%s", out);
    free(out);

    /* SELECT of a database past `databases` */
    const char *dir3 = new_dir();
    s = start_aof(dir3, NULL, NULL, NULL, NULL);
    assert_int_equal(server_stop(s), 0);
    append_to_incr(dir3, "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    out = start_refused(dir3, "--databases 3");
    if (!strstr(out, "the AOF selects database 3, and ringkv has 3 here (databases)"))
        fail_msg("no clear line for SELECT 3:\n%s", out);
    free(out);
}

/* A few types both ways: redis-server 7 writes an appendonlydir, ringkv
 * starts from it; ringkv writes on, redis-server starts from that. */
static void test_interop_with_redis(void **state)
{
    (void)state;
    if (target_is_redis() || !have_redis())
        skip();
    const char *dir = new_dir();
    struct server *r = start_redis_aof(dir);
    tconn *c = tconnect(r->port);
    expect_ok(tcmd(c, "SET s v"));
    expect_int(tcmd(c, "INCR n"), 1);
    expect_int(tcmd(c, "RPUSH l a b c"), 3);
    expect_int(tcmd(c, "HSET h f v g w"), 2);
    expect_int(tcmd(c, "SADD set x y"), 2);
    expect_int(tcmd(c, "ZADD z 1 a 2 b"), 2);
    expect_ok(tcmd(c, "MSET {a}x 1 {b}y 2"));
    expect_int(tcmd(c, "DEL {a}x {b}y"), 2);
    expect_ok(tcmd(c, "SET e v EX 100000"));
    rval_free(tcmd(c, "XADD st 1-1 f v"));
    expect_int(tcmd(c, "EXPIRE l 100000"), 1);
    char *before = keyspace_state(c);
    tclose(c);
    assert_int_equal(server_stop(r), 0);

    struct server *s = start_ringkv_aof(dir);
    c = tconnect(s->port);
    char *mid = keyspace_state(c);
    expect_same_keyspace(before, mid);
    expect_int(tcmd(c, "INCR n"), 2);
    expect_int(tcmd(c, "LPUSH l z"), 4);
    expect_ok(tcmd(c, "SET fromringkv 1"));
    write_markers_and_wait(c, dir);
    char *after = keyspace_state(c);
    tclose(c);
    assert_int_equal(server_stop(s), 0);

    r = start_redis_aof(dir);
    c = tconnect(r->port);
    char *back = keyspace_state(c);
    expect_same_keyspace(after, back);
    expect_bulk(tcmd(c, "GET n"), "2");
    tclose(c);
    free(before);
    free(mid);
    free(after);
    free(back);
}

/* The options: CONFIG GET shows them, appendfsync takes everysec and no
 * at run time, always is refused (ringkv cannot hold a reply for it). */
static void test_options(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    struct rval *v = tcmd(c, "CONFIG GET appendfsync");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[1]->str, "everysec");
    rval_free(v);
    expect_ok(tcmd(c, "CONFIG SET appendfsync no"));
    v = tcmd(c, "CONFIG GET appenddirname");
    assert_string_equal(v->elem[1]->str, "appendonlydir");
    rval_free(v);
    expect_ok(tcmd(c, "CONFIG SET appendfsync always"));
    v = tcmd(c, "CONFIG GET appendfsync");
    assert_string_equal(v->elem[1]->str, "always");
    rval_free(v);
    expect_error_prefix(tcmd(c, "CONFIG SET appendfsync sometimes"), "ERR");
    expect_ok(tcmd(c, "CONFIG SET appendfsync no"));
    expect_ok(tcmd(c, "SET x 1"));
    write_markers_and_wait(c, dir);
    assert_true(info_field(c, "persistence", "aof_current_size") > 0);
    if (!target_is_redis()) /* the base file's size (Redis: the AOF's at its last start or rewrite) */
        assert_true(info_field(c, "persistence", "aof_base_size") > 0);
    tclose(c);
}

/* The incr file read as it grows: each look reads what was appended since
 * the last one and says whether a needle is in what was read so far. */
struct file_tail {
    int    fd;
    char  *data;
    size_t len, cap;
};

static void tail_open(struct file_tail *t, const char *dir)
{
    char name[128], path[256];
    last_incr(dir, name, sizeof name);
    snprintf(path, sizeof path, "%s/appendonlydir/%s", dir, name);
    t->fd = open(path, O_RDONLY);
    assert_true(t->fd >= 0);
    t->len = 0;
    t->cap = 1 << 20;
    t->data = malloc(t->cap);
    assert_non_null(t->data);
}

static void tail_read(struct file_tail *t)
{
    for (;;) {
        if (t->cap - t->len < 65536) {
            t->cap *= 2;
            t->data = realloc(t->data, t->cap);
            assert_non_null(t->data);
        }
        ssize_t r = read(t->fd, t->data + t->len, t->cap - t->len);
        assert_true(r >= 0);
        if (r == 0)
            return;
        t->len += (size_t)r;
    }
}

static void tail_close(struct file_tail *t)
{
    close(t->fd);
    free(t->data);
}

/* A reply means the write is in the file: as Redis writes the AOF before
 * it replies (with appendfsync always; with everysec it may write later
 * while a background fsync runs, ringkv never does), a process killed
 * after any reply came keeps that write (the page cache has it; with
 * appendfsync always, the disk). Writes one at a
 * time and pipelined, of keys on every shard from one connection (most of
 * them run on another shard than the connection's), each looked for in the
 * file the moment its reply is in. */
static void acked_in_file(const char *fsync_policy)
{
    const char *dir = new_dir();
    struct server *s = start_aof(dir, "--threads", "4", "--appendfsync", fsync_policy);
    tconn *c = tconnect(s->port);
    struct file_tail t;
    tail_open(&t, dir);
    char key[64], val[64], needle[80];
    int missing = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "acked:%d", i);
        snprintf(val, sizeof val, "v%d-%s", i, fsync_policy);
        const char *argv[] = { "SET", key, val };
        tsendv(c, 3, argv);
        expect_ok(tread(c, 5000));
        tail_read(&t);
        snprintf(needle, sizeof needle, "\r\n%s\r\n", val);
        missing += !contains(t.data, t.len, needle);
    }
    /* (redis-server with everysec writes later than it replies while a
     * background fsync runs: only always holds there) */
    bool strict = !target_is_redis() || strcmp(fsync_policy, "always") == 0;
    if (strict)
        assert_int_equal(missing, 0);
    /* pipelined: 32 INCRs of counters on every shard, then their replies */
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 32; k++) {
            snprintf(key, sizeof key, "acked-counter:%d:%d", round, k);
            const char *argv[] = { "INCR", key };
            tsendv(c, 2, argv);
        }
        for (int k = 0; k < 32; k++)
            expect_int(tread(c, 5000), 1);
        tail_read(&t);
        for (int k = 0; k < 32; k++) {
            snprintf(needle, sizeof needle, "\r\nacked-counter:%d:%d\r\n", round, k);
            missing += !contains(t.data, t.len, needle);
        }
    }
    if (strict)
        assert_int_equal(missing, 0);
    tail_close(&t);
    tclose(c);
    /* killed now, every acknowledged write comes back */
    server_kill(s);
    s = start_aof(dir, "--threads", "4", "--appendfsync", fsync_policy);
    c = tconnect(s->port);
    expect_int(tcmd(c, "DBSIZE"), 3000 + 200 * 32);
    expect_bulk(tcmd(c, "GET acked:2999"), val);
    tclose(c);
}

static void test_acked_in_file_everysec(void **state)
{
    (void)state;
    acked_in_file("everysec");
}

static void test_acked_in_file_always(void **state)
{
    (void)state;
    acked_in_file("always");
}

/* A disk that refuses the AOF's writes (a full file system: a tmpfs of
 * 1 MB, filled): as Redis, writes are refused with -MISCONF Errors writing
 * to the AOF file, reads go on being answered, and once there is room
 * again the writer's retry gets through and writes are taken. Needs root
 * (mount); skipped otherwise. */
static void test_full_disk(void **state)
{
    (void)state;
    char mnt[64];
    snprintf(mnt, sizeof mnt, "/tmp/rkv-aof-full-%d", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && mount -t tmpfs -o size=1m tmpfs %s 2>/dev/null", mnt, mnt);
    if (run_cmd(cmd, NULL) != 0) {
        rmdir(mnt);
        skip();
    }
    struct server *s = start_aof(mnt, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET before-full 1"));
    /* the rest of the file system taken by a file of ours */
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero of=%s/filler bs=4k count=1024 2>/dev/null; true", mnt);
    run_cmd(cmd, NULL);
    char big[8192];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct rval *v = NULL;
    int i = 0;
    for (; i < 400; i++) {
        const char *argv[] = { "SET", "big", big };
        tsendv(c, 3, argv);
        v = tread(c, 5000);
        assert_non_null(v);
        if (v->type == R_ERROR)
            break;
        rval_free(v);
        v = NULL;
        usleep(2000);
    }
    assert_non_null(v); /* refused before 400 writes of 8 KB */
    assert_true(strncmp(v->str, "MISCONF Errors writing to the AOF file", 38) == 0);
    rval_free(v);
    expect_bulk(tcmd(c, "GET before-full"), "1");
    expect_error_prefix(tcmd(c, "SET during-full 1"), "MISCONF");
    /* room again: the retry (once a second) gets through */
    snprintf(cmd, sizeof cmd, "rm -f %s/filler", mnt);
    run_cmd(cmd, NULL);
    long long until = now_ms() + 10000;
    for (;;) {
        v = tcmd(c, "SET after-full 1");
        bool ok = v->type == R_STATUS;
        rval_free(v);
        if (ok)
            break;
        assert_true(now_ms() < until);
        usleep(100000);
    }
    tclose(c);
    server_stop(s);
    snprintf(cmd, sizeof cmd, "umount %s && rmdir %s", mnt, mnt);
    run_cmd(cmd, NULL);
}


/* Wait until no rewrite runs (bounded). */
static void wait_rewrite_done(tconn *c)
{
    /* scheduled first: once it is 0, a rewrite asked for has started, and
     * in progress 0 read after it means it ended */
    long long until = now_ms() + 30000;
    for (;;) {
        if (info_field(c, "persistence", "aof_rewrite_scheduled") == 0 &&
            info_field(c, "persistence", "aof_rewrite_in_progress") == 0)
            return;
        if (now_ms() > until)
            fail_msg("an AOF rewrite still runs after 30 s");
        usleep(5000);
    }
}

#define NCOUNTERS 16

/* Pipelined INCRs over counters on every shard while BGREWRITEAOF runs
 * again and again: the new incr file must start exactly at each
 * snapshot, or a restart would count an INCR twice (in the base and the
 * new file) or lose it. kill -9, restart: every counter exact. */
static void test_rewrites_under_writes(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, "--threads", "2", NULL, NULL);
    tconn *c = tconnect(s->port);
    tconn *admin = tconnect(s->port);
    long long want[NCOUNTERS] = { 0 };
    int rewrites_asked = 0;
    for (int round = 0; round < 12; round++) {
        /* a batch in flight... */
        char batch[64 * 400];
        size_t len = 0;
        int sent[400];
        for (int i = 0; i < 400; i++) {
            int k = (round * 7 + i * 5) % NCOUNTERS;
            char key[16];
            int kl = snprintf(key, sizeof key, "ctr:%d", k);
            len += (size_t)snprintf(batch + len, sizeof batch - len, "*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n", kl, key);
            sent[i] = k;
        }
        tsend_raw(c, batch, len);
        /* ...while a rewrite starts */
        struct rval *r = tcmd(admin, "BGREWRITEAOF");
        if (r->type == R_STATUS)
            rewrites_asked++;
        else
            assert_non_null(strstr(r->str, "already in progress"));
        rval_free(r);
        for (int i = 0; i < 400; i++) {
            struct rval *v = tread(c, 10000);
            assert_non_null(v);
            assert_int_equal(v->type, R_INT);
            want[sent[i]]++;
            assert_int_equal(v->integer, want[sent[i]]);
            rval_free(v);
        }
        if (round == 5) { /* a FLUSHALL among them: the counters start again */
            expect_ok(tcmd(c, "FLUSHALL"));
            memset(want, 0, sizeof want);
        }
        if (round % 3 == 2)
            wait_rewrite_done(admin);
    }
    wait_rewrite_done(admin);
    assert_true(rewrites_asked >= 4);
    assert_true(info_field(admin, "persistence", "aof_rewrites") >= 4);
    if (!target_is_redis())
        assert_true(info_field(admin, "persistence", "aof_rewrites") == rewrites_asked);
    write_markers_and_wait(c, dir);
    tclose(c);
    tclose(admin);
    server_kill(s);

    s = start_aof(dir, "--threads", "2", NULL, NULL);
    c = tconnect(s->port);
    for (int k = 0; k < NCOUNTERS; k++) {
        struct rval *v = tcmd(c, "GET ctr:%d", k);
        long long got = v->type == R_BULK ? atoll(v->str) : 0;
        if (got != want[k])
            fail_msg("ctr:%d is %lld after the restart, %lld were acknowledged", k, got, want[k]);
        rval_free(v);
    }
    /* only the last base and incr file are left */
    char *m = read_aof_file(dir, "appendonly.aof.manifest", NULL);
    assert_non_null(m);
    int lines = 0;
    for (char *q = m; *q; q++)
        lines += *q == '\n';
    assert_int_equal(lines, 2);
    assert_null(strstr(m, "appendonly.aof.1."));
    free(m);
    tclose(c);
}

/* A big list copied whole (COPY: the stream carries it in parts over
 * several turns) just as a rewrite starts: its parts must not follow the
 * rewrite's cut (the new base already holds the list), or the restart
 * would push those elements twice. Several rounds, kill -9, restart: every
 * copy has the source's length. */
static void test_big_collection_across_rewrite(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, "--threads", "2", NULL, NULL);
    tconn *c = tconnect(s->port);
    tconn *admin = tconnect(s->port);
    enum { ELEMS = 200000, BATCH = 1000, ROUNDS = 3 };
    char *cmd = malloc(BATCH * 80 + 64);
    for (int done = 0; done < ELEMS; done += BATCH) {
        size_t len = (size_t)sprintf(cmd, "RPUSH biglist");
        for (int i = done; i < done + BATCH; i++)
            len += (size_t)sprintf(cmd + len, " element-%06d-of-a-list-copied-while-the-aof-is-rewritten", i);
        struct rval *v = tcmd(c, "%s", cmd);
        assert_int_equal(v->type, R_INT);
        rval_free(v);
    }
    free(cmd);
    for (int round = 0; round < ROUNDS; round++) {
        char copy[64];
        int n = snprintf(copy, sizeof copy, "*3\r\n$4\r\nCOPY\r\n$7\r\nbiglist\r\n$6\r\ncopy:%d\r\n", round);
        tsend_raw(c, copy, (size_t)n);
        struct rval *r = tcmd(admin, "BGREWRITEAOF");
        assert_true(r->type == R_STATUS || (r->type == R_ERROR && strstr(r->str, "already in progress")));
        rval_free(r);
        expect_int(tread(c, 10000), 1);
        wait_rewrite_done(admin);
    }
    write_markers_and_wait(c, dir);
    tclose(c);
    tclose(admin);
    server_kill(s);

    s = start_aof(dir, "--threads", "2", NULL, NULL);
    c = tconnect(s->port);
    expect_int(tcmd(c, "LLEN biglist"), ELEMS);
    for (int round = 0; round < ROUNDS; round++) {
        struct rval *v = tcmd(c, "LLEN copy:%d", round);
        if (v->type != R_INT || v->integer != ELEMS)
            fail_msg("copy:%d has %lld elements after the restart, not %d", round, v->integer, ELEMS);
        rval_free(v);
    }
    expect_bulk(tcmd(c, "LINDEX copy:2 -1"), "element-199999-of-a-list-copied-while-the-aof-is-rewritten");
    tclose(c);
}

/* The automatic rewrite: past auto-aof-rewrite-min-size and the growth
 * percentage, a rewrite starts by itself; the data is whole after it. */
static void test_auto_rewrite(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, "--auto-aof-rewrite-min-size", "20kb", "--auto-aof-rewrite-percentage", "100");
    tconn *c = tconnect(s->port);
    long long until = now_ms() + 30000;
    int i = 0;
    while (info_field(c, "persistence", "aof_rewrites") == 0) {
        for (int k = 0; k < 100; k++, i++)
            expect_ok(tcmd(c, "SET key:%d value-%d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i % 500, i));
        if (now_ms() > until)
            fail_msg("no automatic rewrite after %d writes", i);
    }
    wait_rewrite_done(c);
    struct rval *v = tcmd(c, "CONFIG GET auto-aof-rewrite-min-size");
    char *text = rval_text(v);
    assert_string_equal(text, "[\"auto-aof-rewrite-min-size\", \"20480\"]");
    free(text);
    rval_free(v);
    write_markers_and_wait(c, dir);
    char *before = keyspace_state(c);
    tclose(c);
    server_kill(s);
    s = start_aof(dir, NULL, NULL, NULL, NULL);
    c = tconnect(s->port);
    char *after = keyspace_state(c);
    expect_same_keyspace(before, after);
    free(before);
    free(after);
    tclose(c);
}

/* BGREWRITEAOF's answers, as Redis's. */
static void test_bgrewriteaof_replies(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET a 1"));
    expect_status(tcmd(c, "BGSAVE"), "Background saving started");
    /* a background save running: scheduled (or started, if it ended already) */
    struct rval *r = tcmd(c, "BGREWRITEAOF");
    assert_int_equal(r->type, R_STATUS);
    assert_true(strstr(r->str, "Background append only file rewriting") == r->str);
    rval_free(r);
    wait_rewrite_done(c);
    long long done = info_field(c, "persistence", "aof_rewrites");
    assert_true(done >= 1);
    expect_status(tcmd(c, "BGREWRITEAOF"), "Background append only file rewriting started");
    r = tcmd(c, "BGREWRITEAOF");
    if (r->type == R_ERROR)
        expect_error(r, "ERR Background append only file rewriting already in progress");
    else
        rval_free(r); /* it ended already, and this one started */
    wait_rewrite_done(c);
    assert_true(info_field(c, "persistence", "aof_rewrites") > done);
    tclose(c);
}

/* A replica with appendonly yes: its full sync replaces the data, so its
 * AOF starts again from a rewrite, then takes the master's stream; killed
 * and restarted on its own, it has the master's data, not what it held
 * before the sync. */
static void test_replica_aof(void **state)
{
    (void)state;
    if (target_is_redis())
        skip(); /* a ringkv master's replicas are ringkv */
    const char *mdir = new_dir(), *rdir = new_dir();
    struct server *m = &servers[nservers++];
    const char *margs[] = { "--dir", mdir, "--dbfilename", "dump.rdb", NULL };
    assert_int_equal(server_start(m, margs), 0);
    tconn *mc = tconnect(m->port);
    for (int i = 0; i < 200; i++)
        get_int(tcmd(mc, "INCRBY n%d %d", i % 10, i));
    expect_int(tcmd(mc, "RPUSH list a b c"), 3);

    struct server *r = start_aof(rdir, NULL, NULL, NULL, NULL);
    tconn *rc = tconnect(r->port);
    expect_ok(tcmd(rc, "SET stale 1")); /* in its AOF before the sync */
    replicaof(rc, m->port);
    wait_synced(mc, rc, 30000);
    assert_true(wait_field_at_least(rc, "persistence", "aof_rewrites", 1, 30000) >= 1);
    for (int i = 0; i < 200; i++)
        get_int(tcmd(mc, "INCR n%d", i % 10));
    expect_int(tcmd(mc, "LPUSH list z"), 4);
    expect_ok(tcmd(mc, "SET {a}marker-end 1"));
    expect_ok(tcmd(mc, "SET {b}marker-end 1"));
    wait_synced(mc, rc, 30000);
    const char *marks[] = { "{a}marker-end", "{b}marker-end" };
    wait_in_aof(rdir, marks, 2);
    char *want = keyspace_state(mc);
    tclose(rc);
    server_kill(r);

    r = start_aof(rdir, NULL, NULL, NULL, NULL); /* on its own now */
    rc = tconnect(r->port);
    char *got = keyspace_state(rc);
    expect_same_keyspace(want, got);
    expect_int(tcmd(rc, "EXISTS stale"), 0);
    free(want);
    free(got);
    tclose(rc);
    tclose(mc);
}

/* CONFIG SET appendonly yes at run time: a rewrite makes the AOF from the
 * data there, writes after it are appended (counters exact after kill -9);
 * CONFIG SET appendonly no stops appending (what follows is not in it). */
static void test_config_set_appendonly(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = &servers[nservers++];
    const char *args[] = { "--dir", dir, "--dbfilename", "dump.rdb", NULL };
    assert_int_equal(server_start(s, args), 0);
    tconn *c = tconnect(s->port);
    for (int i = 0; i < 300; i++)
        get_int(tcmd(c, "INCR ctr:%d", i % 7));
    expect_int(tcmd(c, "RPUSH list a b"), 2);
    assert_int_equal(info_field(c, "persistence", "aof_enabled"), 0);
    expect_ok(tcmd(c, "CONFIG SET appendonly yes"));
    for (int i = 0; i < 300; i++) /* while the AOF is being made */
        get_int(tcmd(c, "INCR ctr:%d", i % 7));
    assert_int_equal(info_field_becomes(c, "persistence", "aof_enabled", 1, 30000), 1);
    assert_true(wait_field_at_least(c, "persistence", "aof_rewrites", 1, 30000) >= 1);
    wait_rewrite_done(c);
    for (int i = 0; i < 300; i++)
        get_int(tcmd(c, "INCR ctr:%d", i % 7));
    expect_int(tcmd(c, "LPUSH list z"), 3);
    write_markers_and_wait(c, dir);
    char *before = keyspace_state(c);
    tclose(c);
    server_kill(s);

    s = start_aof(dir, NULL, NULL, NULL, NULL);
    c = tconnect(s->port);
    char *after = keyspace_state(c);
    expect_same_keyspace(before, after);
    expect_bulk(tcmd(c, "GET ctr:0"), "129"); /* 900 INCRs over 7 counters: 0 gets 129 */
    /* off: later writes are not in the AOF */
    expect_ok(tcmd(c, "CONFIG SET appendonly no"));
    assert_int_equal(info_field_becomes(c, "persistence", "aof_enabled", 0, 30000), 0);
    expect_ok(tcmd(c, "SET notinaof 1"));
    tclose(c);
    assert_int_equal(server_stop(s), 0); /* no save points: no dump.rdb with it either */
    s = start_aof(dir, NULL, NULL, NULL, NULL);
    c = tconnect(s->port);
    expect_int(tcmd(c, "EXISTS notinaof"), 0);
    expect_bulk(tcmd(c, "GET ctr:0"), "129");
    tclose(c);
    free(before);
    free(after);
}

/* ---- several databases ---- */

/* The keyspace of every database (0..15) as one text. */
static char *all_dbs(tconn *c)
{
    return keyspace_state_dbs(c, 16);
}

/* Writes interleaved over databases 0, 2, 9 and 4 (one flushed), kill -9,
 * a restart: each command replayed in its database; again after a
 * BGREWRITEAOF (the new base holds every database) and writes after it. */
static void test_databases_replayed(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_aof(dir, "--threads", "3", NULL, NULL);
    tconn *c = tconnect(s->port), *d = tconnect(s->port);
    expect_ok(tcmd(d, "SELECT 2"));
    for (int i = 0; i < 40; i++) {
        expect_ok(tcmd(c, "SET k%d zero-%d", i, i));
        expect_ok(tcmd(d, "SET k%d two-%d", i, i));
    }
    expect_int(tcmd(c, "HSET h f 0"), 1);
    expect_int(tcmd(d, "HSET h f 2 g 2"), 2);
    expect_int(tcmd(d, "RPUSH l a b"), 2);
    expect_int(tcmd(c, "RPUSH l 0"), 1);
    expect_ok(tcmd(c, "SELECT 9"));
    expect_int(tcmd(c, "ZADD z 1 a 2 b"), 2);
    expect_ok(tcmd(c, "SET ttl v EX 100000"));
    expect_int(tcmd(c, "INCR n"), 1);
    expect_int(tcmd(d, "INCRBY n 2"), 2);
    expect_ok(tcmd(c, "SELECT 4"));
    for (int i = 0; i < 20; i++)
        expect_ok(tcmd(c, "SET gone%d v", i));
    expect_ok(tcmd(c, "FLUSHDB")); /* database 4 only */
    expect_ok(tcmd(c, "SET after-flush 4"));
    expect_int(tcmd(d, "DEL k3"), 1);
    expect_ok(tcmd(c, "SELECT 0"));
    write_markers_and_wait(c, dir);
    char *before = all_dbs(c);
    tclose(c);
    tclose(d);
    server_kill(s);

    s = start_aof(dir, "--threads", "2", NULL, NULL); /* another shard count */
    c = tconnect(s->port);
    char *after = all_dbs(c);
    expect_same_keyspace(before, after);
    expect_ok(tcmd(c, "SELECT 4"));
    expect_int(tcmd(c, "DBSIZE"), 1);
    expect_ok(tcmd(c, "SELECT 9"));
    expect_bulk(tcmd(c, "GET n"), "1");
    assert_true(get_int(tcmd(c, "TTL ttl")) > 90000);
    expect_ok(tcmd(c, "SELECT 2"));
    expect_bulk(tcmd(c, "GET n"), "2");
    expect_nil(tcmd(c, "GET k3"));
    expect_ok(tcmd(c, "SELECT 0"));

    /* a rewrite, then writes in its new incr file */
    long long rewrites = info_field(c, "persistence", "aof_rewrites");
    expect_status(tcmd(c, "BGREWRITEAOF"), "Background append only file rewriting started");
    wait_rewrite_done(c);
    assert_int_equal(info_field(c, "persistence", "aof_rewrites"), rewrites + 1);
    expect_ok(tcmd(c, "SELECT 7"));
    expect_ok(tcmd(c, "SET seven 7"));
    expect_ok(tcmd(c, "SELECT 2"));
    expect_int(tcmd(c, "DEL k4"), 1);
    expect_ok(tcmd(c, "SELECT 0"));
    write_markers_and_wait(c, dir);
    char *rewritten = all_dbs(c);
    tclose(c);
    server_kill(s);
    s = start_aof(dir, "--threads", "3", NULL, NULL);
    c = tconnect(s->port);
    char *again = all_dbs(c);
    expect_same_keyspace(rewritten, again);
    expect_ok(tcmd(c, "SELECT 7"));
    expect_bulk(tcmd(c, "GET seven"), "7");
    tclose(c);
    free(before);
    free(after);
    free(rewritten);
    free(again);
}

/* An appendonlydir that redis-server 7 wrote with SELECTs (databases 0, 3
 * and 9) loads into the same databases. */
static void test_databases_from_redis(void **state)
{
    (void)state;
    if (target_is_redis() || !have_redis())
        skip();
    const char *dir = new_dir();
    struct server *r = start_redis_aof(dir);
    tconn *c = tconnect(r->port);
    expect_ok(tcmd(c, "SET a 0"));
    expect_ok(tcmd(c, "SELECT 3"));
    expect_ok(tcmd(c, "SET a 3"));
    expect_int(tcmd(c, "RPUSH l x y z"), 3);
    expect_ok(tcmd(c, "SELECT 9"));
    expect_int(tcmd(c, "HSET h f v"), 1);
    expect_ok(tcmd(c, "SET e v EX 100000"));
    expect_ok(tcmd(c, "SELECT 3"));
    expect_int(tcmd(c, "LPUSH l w"), 4);
    expect_ok(tcmd(c, "SELECT 0"));
    char *before = all_dbs(c);
    tclose(c);
    assert_int_equal(server_stop(r), 0);
    char name[128];
    last_incr(dir, name, sizeof name);
    size_t len = 0;
    char *data = read_aof_file(dir, name, &len);
    assert_non_null(data);
    assert_true(contains(data, len, "SELECT\r\n$1\r\n9")); /* what this test is about */
    free(data);

    struct server *s = start_ringkv_aof(dir);
    c = tconnect(s->port);
    char *after = all_dbs(c);
    expect_same_keyspace(before, after);
    free(before);
    free(after);
    tclose(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill9_every_type, teardown),
        cmocka_unit_test_teardown(test_flushall_in_aof, teardown),
        cmocka_unit_test_teardown(test_base_from_rdb_then_aof_wins, teardown),
        cmocka_unit_test_teardown(test_truncated_tail, teardown),
        cmocka_unit_test_teardown(test_bad_aof_refused, teardown),
        cmocka_unit_test_teardown(test_interop_with_redis, teardown),
        cmocka_unit_test_teardown(test_options, teardown),
        cmocka_unit_test_teardown(test_acked_in_file_everysec, teardown),
        cmocka_unit_test_teardown(test_acked_in_file_always, teardown),
        cmocka_unit_test_teardown(test_full_disk, teardown),
        cmocka_unit_test_teardown(test_rewrites_under_writes, teardown),
        cmocka_unit_test_teardown(test_big_collection_across_rewrite, teardown),
        cmocka_unit_test_teardown(test_auto_rewrite, teardown),
        cmocka_unit_test_teardown(test_bgrewriteaof_replies, teardown),
        cmocka_unit_test_teardown(test_replica_aof, teardown),
        cmocka_unit_test_teardown(test_config_set_appendonly, teardown),
        cmocka_unit_test_teardown(test_databases_replayed, teardown),
        cmocka_unit_test_teardown(test_databases_from_redis, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
