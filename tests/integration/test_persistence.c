/* RDB persistence: SAVE and BGSAVE, dump.rdb loaded at start, Redis's
 * files both ways, SHUTDOWN SAVE/NOSAVE and SIGTERM, kill -9, damaged
 * files, `save ""`. Runs against redis-server too (RINGKV_TEST_TARGET=
 * redis), but for what only ringkv says (its log naming the file). A real
 * redis-server beside the server under test writes and reads the files of
 * the other side. Every server gets a directory of its own
 * (/tmp/rkv-persist-<pid>-<n>), removed at teardown. */
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
    snprintf(d, sizeof dirs[0], "/tmp/rkv-persist-%d-%d", (int)getpid(), ndirs);
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

/* The server under test in dir, on dir's dump.rdb, with more arguments
 * (later ones win over the harness's `--save ""` and its own file). */
static struct server *start_in(const char *dir, const char *a1, const char *a2)
{
    assert_true(nservers < MAX_SERVERS);
    struct server *s = &servers[nservers++];
    if (target_is_redis() && a1 && strcmp(a1, "--threads") == 0)
        a1 = a2 = NULL; /* ringkv's option */
    const char *args[] = { "--dir", dir, "--dbfilename", "dump.rdb", a1, a2, NULL };
    assert_int_equal(server_start(s, args), 0);
    return s;
}

static bool have_redis(void)
{
    return run_cmd("command -v redis-server >/dev/null 2>&1", NULL) == 0;
}

/* A real redis-server in dir, whatever the target. */
static struct server *start_redis_in(const char *dir)
{
    const char *was = getenv("RINGKV_TEST_TARGET");
    char saved[32] = "";
    if (was)
        snprintf(saved, sizeof saved, "%s", was);
    setenv("RINGKV_TEST_TARGET", "redis", 1);
    struct server *s = start_in(dir, NULL, NULL);
    if (was)
        setenv("RINGKV_TEST_TARGET", saved, 1);
    else
        unsetenv("RINGKV_TEST_TARGET");
    return s;
}

static long long unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static bool file_exists(const char *dir, const char *name)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

/* redis-check-rdb accepts dir/dump.rdb (when it is installed). */
static void check_rdb(const char *dir)
{
    if (run_cmd("command -v redis-check-rdb >/dev/null 2>&1", NULL) != 0)
        return;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "redis-check-rdb '%s/dump.rdb' 2>&1", dir);
    char *out = NULL;
    int rc = run_cmd(cmd, &out);
    if (rc != 0 || !strstr(out, "RDB looks OK"))
        fail_msg("redis-check-rdb refused %s/dump.rdb:\n%s", dir, out);
    free(out);
}

/* Keys of every type, in their compact and their big encodings, some
 * with an expiry. */
static void fill_every_type(tconn *c)
{
    expect_ok(tcmd(c, "SET str hello"));
    expect_ok(tcmd(c, "SET int 12345"));
    expect_ok(tcmd(c, "SET neg -7"));
    expect_ok(tcmd(c, "SET wide 12345678901234"));
    char big[400];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + (i / 37) % 3); /* compressible: LZF with rdbcompression */
    big[sizeof big - 1] = '\0';
    const char *sv[] = { "SET", "long", big };
    tsendv(c, 3, sv);
    expect_ok(tread(c, 5000));
    const char *bin[] = { "SET", "bin", "a\0b\r\nc" };
    size_t binl[] = { 3, 3, 6 };
    tsendb(c, 3, bin, binl);
    expect_ok(tread(c, 5000));
    expect_int(tcmd(c, "HSET hsmall f1 v1 f2 2"), 2);
    for (int i = 0; i < 600; i++)
        get_int(tcmd(c, "HSET hbig field:%d value:%d", i, i * 7));
    expect_int(tcmd(c, "SADD sint 1 2 3 -40000 70000"), 5);
    expect_int(tcmd(c, "SADD ssmall a b c"), 3);
    for (int i = 0; i < 600; i++)
        get_int(tcmd(c, "SADD sbig member:%d", i));
    expect_int(tcmd(c, "RPUSH lsmall a b 3"), 3);
    for (int i = 0; i < 1000; i++)
        get_int(tcmd(c, "RPUSH lbig element-%d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i));
    expect_int(tcmd(c, "ZADD zsmall 1 a 2.5 b -inf c"), 3);
    for (int i = 0; i < 300; i++)
        get_int(tcmd(c, "ZADD zbig %d.5 m%d", i - 150, i));
    get_int(tcmd(c, "PFADD hll a b c d e"));
    expect_int(tcmd(c, "GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"), 2);
    for (int i = 1; i <= 300; i++) { /* a stream of several nodes, with a consumer group */
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
    /* a function library: saved and loaded as Redis's (FUNCTION2 records) */
    const char *load[] = { "FUNCTION", "LOAD", "REPLACE",
                           "#!lua name=kept\nredis.register_function('kept_fn', function() return 'kept' end)" };
    tsendv(c, 4, load);
    expect_bulk(tread(c, 5000), "kept");
}

/* The library fill_every_type loaded is there. */
static void expect_library(tconn *c)
{
    expect_bulk(tcmd(c, "FCALL kept_fn 0"), "kept");
}

/* ---- tests ---- */

/* SAVE, then a restart: every key back with its expiry; a key whose time
 * passed while the server was down is not loaded. */
static void test_save_restart_every_type(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, "--threads", "3");
    tconn *c = tconnect(s->port);
    fill_every_type(c);
    long long gone_at = unix_ms() + 1500;
    expect_ok(tcmd(c, "SET gone soon"));
    expect_int(tcmd(c, "PEXPIREAT gone %lld", gone_at), 1);
    char *before = keyspace_state(c);
    expect_ok(tcmd(c, "SAVE"));
    /* it was there when the file was written */
    long long pttl = get_int(tcmd(c, "PTTL gone"));
    if (pttl <= 0)
        skip(); /* the machine was too slow for the 1.5 s: nothing to learn */
    assert_int_equal(info_field(c, "persistence", "rdb_changes_since_last_save"), 0);
    assert_true(info_field(c, "persistence", "rdb_saves") >= 1);
    long long lastsave = get_int(tcmd(c, "LASTSAVE"));
    assert_true(lastsave >= unix_ms() / 1000 - 60);
    tclose(c);
    assert_int_equal(server_stop(s), 0);
    check_rdb(dir);
    while (unix_ms() <= gone_at + 10)
        usleep(20000);

    s = start_in(dir, "--threads", "2"); /* another shard count: keys go where their slot is */
    c = tconnect(s->port);
    expect_int(tcmd(c, "EXISTS gone"), 0);
    char *after = keyspace_state(c);
    /* the text before had `gone` in it: drop its line to compare */
    char *g = strstr(before, "4:gone ");
    if (!g)
        fail_msg("no gone in:\n%s", before);
    char *e = strchr(g, '\n');
    memmove(g, e + 1, strlen(e + 1) + 1);
    expect_same_keyspace(before, after);
    assert_true(info_field(c, "persistence", "rdb_last_load_keys_loaded") >= 20);
    assert_int_equal(info_field(c, "persistence", "rdb_last_load_keys_expired"), 1);
    assert_int_equal(info_field(c, "persistence", "loading"), 0);
    assert_int_equal(info_field(c, "persistence", "aof_enabled"), 0);
    expect_library(c);
    free(before);
    free(after);
    tclose(c);
}

/* BGSAVE while a writer runs transactions that increment two counters of
 * one slot: each file holds them equal (a MULTI all in or all out). */
static void test_bgsave_consistent_with_multi(void **state)
{
    (void)state;
    const char *dir = new_dir(), *copy = new_dir();
    struct server *s = start_in(dir, "--threads", "2");
    tconn *w = tconnect(s->port), *c = tconnect(s->port);
    expect_ok(tcmd(c, "MSET {t}a 0 {t}b 0"));
    static const char tx[] = "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$4\r\n{t}a\r\n"
                             "*2\r\n$4\r\nINCR\r\n$4\r\n{t}b\r\n*1\r\n$4\r\nEXEC\r\n";
    enum { TX = 3000 };
    char *burst = malloc(TX * (sizeof tx - 1));
    assert_non_null(burst);
    for (int i = 0; i < TX; i++)
        memcpy(burst + (size_t)i * (sizeof tx - 1), tx, sizeof tx - 1);
    long long saves = info_field(c, "persistence", "rdb_saves");
    for (int round = 0; round < 6; round++) {
        tsend_raw(w, burst, TX * (sizeof tx - 1));
        expect_status(tcmd(c, "BGSAVE"), "Background saving started");
        for (int i = 0; i < TX * 4; i++) {
            struct rval *v = tread(w, 20000);
            assert_non_null(v);
            assert_true(v->type != R_ERROR);
            rval_free(v);
        }
        assert_int_equal(info_field_becomes(c, "persistence", "rdb_bgsave_in_progress", 0, 60000), 0);
        assert_int_equal(info_field_becomes(c, "persistence", "rdb_saves", saves + round + 1, 60000),
                         saves + round + 1);
        struct rval *st = tcmd(c, "INFO persistence");
        assert_non_null(strstr(st->str, "rdb_last_bgsave_status:ok"));
        rval_free(st);
        assert_true(info_field(c, "stats", "latest_fork_usec") > 0);
        check_rdb(dir);
        char cmd[200];
        snprintf(cmd, sizeof cmd, "cp '%s/dump.rdb' '%s/dump.rdb'", dir, copy);
        assert_int_equal(system(cmd), 0);
        struct server *r = start_in(copy, "--threads", "3");
        tconn *rc = tconnect(r->port);
        struct rval *a = tcmd(rc, "GET {t}a"), *b = tcmd(rc, "GET {t}b");
        assert_int_equal(a->type, R_BULK);
        assert_int_equal(b->type, R_BULK);
        if (strcmp(a->str, b->str) != 0)
            fail_msg("round %d: the file holds {t}a=%s {t}b=%s", round, a->str, b->str);
        long long v = atoll(a->str);
        assert_true(v >= (long long)round * TX && v <= (long long)(round + 1) * TX);
        rval_free(a);
        rval_free(b);
        tclose(rc);
        assert_int_equal(server_stop(r), 0);
    }
    free(burst);
    tclose(w);
    tclose(c);
}

/* A dump.rdb that redis-server 7.0 wrote loads here with the same keys,
 * values and expiries. */
static void test_redis_file_loads(void **state)
{
    (void)state;
    if (!have_redis())
        skip();
    const char *dir = new_dir();
    struct server *r = start_redis_in(dir);
    tconn *c = tconnect(r->port);
    fill_every_type(c);
    char *before = keyspace_state(c);
    expect_ok(tcmd(c, "SAVE"));
    tclose(c);
    assert_int_equal(server_stop(r), 0);

    struct server *s = start_in(dir, NULL, NULL);
    c = tconnect(s->port);
    char *after = keyspace_state(c);
    expect_same_keyspace(before, after);
    expect_int(tcmd(c, "PFCOUNT hll"), 5);
    expect_library(c);
    free(before);
    free(after);
    tclose(c);
}

/* Our dump.rdb loads into redis-server 7.0, and redis-check-rdb passes it;
 * with rdbcompression off too. */
static void test_file_loads_in_redis(void **state)
{
    (void)state;
    if (!have_redis())
        skip();
    for (int compress = 1; compress >= 0; compress--) {
        const char *dir = new_dir();
        struct server *s = start_in(dir, "--rdbcompression", compress ? "yes" : "no");
        tconn *c = tconnect(s->port);
        fill_every_type(c);
        char *before = keyspace_state(c);
        expect_ok(tcmd(c, "SAVE"));
        tclose(c);
        assert_int_equal(server_stop(s), 0);
        check_rdb(dir);

        struct server *r = start_redis_in(dir);
        c = tconnect(r->port);
        char *after = keyspace_state(c);
        expect_same_keyspace(before, after);
        expect_library(c);
        free(before);
        free(after);
        tclose(c);
        assert_int_equal(server_stop(r), 0);
    }
}

static void shutdown_with(struct server *s, const char *how)
{
    tconn *c = tconnect(s->port);
    const char *argv[] = { "SHUTDOWN", how };
    tsendv(c, how ? 2 : 1, argv);
    assert_true(tclosed(c, 20000));
    tclose(c);
    assert_int_equal(server_wait_exit(s, 20000), 0);
}

/* SHUTDOWN SAVE saves without save points, SHUTDOWN NOSAVE does not save
 * with them; SIGTERM saves when save points are set, not with `save ""`. */
static void test_shutdown_save_nosave_sigterm(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, NULL, NULL); /* save "" */
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET k1 one"));
    tclose(c);
    shutdown_with(s, "SAVE");
    assert_true(file_exists(dir, "dump.rdb"));

    s = start_in(dir, "--save", "3600 1");
    c = tconnect(s->port);
    expect_bulk(tcmd(c, "GET k1"), "one");
    expect_ok(tcmd(c, "SET k2 two"));
    tclose(c);
    shutdown_with(s, "NOSAVE");

    s = start_in(dir, "--save", "3600 1");
    c = tconnect(s->port);
    expect_nil(tcmd(c, "GET k2"));
    expect_ok(tcmd(c, "SET k3 three"));
    tclose(c);
    assert_int_equal(server_stop(s), 0); /* SIGTERM with save points: saved */

    s = start_in(dir, NULL, NULL);
    c = tconnect(s->port);
    expect_bulk(tcmd(c, "GET k3"), "three");
    expect_ok(tcmd(c, "SET k4 four"));
    tclose(c);
    assert_int_equal(server_stop(s), 0); /* SIGTERM with save "": not saved */

    s = start_in(dir, NULL, NULL);
    c = tconnect(s->port);
    expect_nil(tcmd(c, "GET k4"));
    expect_bulk(tcmd(c, "GET k3"), "three");
    tclose(c);
}

/* A SHUTDOWN NOSAVE racing the save a FLUSHALL starts (save points set):
 * the node stops every time. It used to spin for ever now and then: a
 * shard left its loop before it read the save's park message, and shard 0
 * waited for it to park. */
static void test_shutdown_racing_flushall_save(void **state)
{
    (void)state;
    if (target_is_redis())
        skip(); /* the shards' park is ringkv's */
    for (int i = 0; i < 15; i++) {
        const char *dir = new_dir();
        assert_true(nservers < MAX_SERVERS);
        struct server *s = &servers[nservers++];
        const char *args[] = { "--dir", dir, "--save", "3600 1", "--threads", "3", "--pin", "no", NULL };
        assert_int_equal(server_start(s, args), 0);
        tconn *a = tconnect(s->port), *b = tconnect(s->port);
        expect_ok(tcmd(a, "SET k v"));
        const char *flush[] = { "FLUSHALL" };
        const char *shut[] = { "SHUTDOWN", "NOSAVE" };
        tsendv(a, 1, flush);
        tsendv(b, 2, shut);
        if (server_wait_exit(s, 10000) != 0)
            fail_msg("round %d: the node did not stop after SHUTDOWN NOSAVE racing FLUSHALL's save", i);
        tclose(a);
        tclose(b);
        nservers--;
    }
}

/* kill -9 loses only what came after the last save. */
static void test_kill9_keeps_last_save(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, "--save", "3600 1");
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET saved 1"));
    expect_int(tcmd(c, "RPUSH savedlist a b"), 2);
    expect_ok(tcmd(c, "SAVE"));
    expect_ok(tcmd(c, "SET unsaved 1"));
    expect_int(tcmd(c, "DEL savedlist"), 1);
    assert_true(info_field(c, "persistence", "rdb_changes_since_last_save") >= 2);
    tclose(c);
    server_kill(s);

    s = start_in(dir, NULL, NULL);
    c = tconnect(s->port);
    expect_bulk(tcmd(c, "GET saved"), "1");
    expect_nil(tcmd(c, "GET unsaved"));
    expect_int(tcmd(c, "LLEN savedlist"), 2);
    tclose(c);
}

/* FLUSHALL with save points set saves the empty keyspace: a restart does
 * not bring the flushed keys back. */
static void test_flushall_saves(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, "--save", "3600 1");
    tconn *c = tconnect(s->port);
    for (int i = 0; i < 100; i++)
        expect_ok(tcmd(c, "SET k%d v", i));
    expect_ok(tcmd(c, "SAVE"));
    expect_ok(tcmd(c, "FLUSHALL"));
    /* saved: no change since (the flush was one, or one a shard) */
    assert_int_equal(info_field_becomes(c, "persistence", "rdb_changes_since_last_save", 0, 30000), 0);
    tclose(c);
    server_kill(s);
    s = start_in(dir, NULL, NULL);
    c = tconnect(s->port);
    expect_int(tcmd(c, "DBSIZE"), 0);
    tclose(c);
}

/* A replica saves its own data (what its master sent it), and a server
 * started from that file has it. */
static void test_replica_saves(void **state)
{
    (void)state;
    const char *mdir = new_dir(), *rdir = new_dir();
    struct server *m = start_in(mdir, "--threads", "2");
    struct server *r = start_in(rdir, "--threads", "3");
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    for (int i = 0; i < 300; i++)
        expect_ok(tcmd(mc, "SET key:%d value:%d", i, i));
    expect_int(tcmd(mc, "HSET h a 1 b 2"), 2);
    replicaof(rc, m->port);
    expect_ok(tcmd(mc, "SET after-sync yes"));
    wait_synced(mc, rc, 30000);
    expect_ok(tcmd(rc, "SAVE"));
    tclose(rc);
    assert_int_equal(server_stop(r), 0);
    check_rdb(rdir);
    struct server *again = start_in(rdir, NULL, NULL); /* a master now: no replicaof given */
    rc = tconnect(again->port);
    expect_int(tcmd(rc, "DBSIZE"), 302);
    expect_bulk(tcmd(rc, "GET key:299"), "value:299");
    expect_bulk(tcmd(rc, "GET after-sync"), "yes");
    expect_bulk(tcmd(rc, "HGET h b"), "2");
    tclose(rc);
    tclose(mc);
}

/* A damaged or cut file: the server refuses to start (and ringkv's log
 * names the file), never serving part of it. */
static void test_damaged_file_refused(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, NULL, NULL);
    tconn *c = tconnect(s->port);
    fill_every_type(c);
    expect_ok(tcmd(c, "SAVE"));
    tclose(c);
    assert_int_equal(server_stop(s), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *data = malloc((size_t)st.st_size);
    assert_int_equal(fread(data, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    for (int kind = 0; kind < 2; kind++) {
        f = fopen(path, "wb");
        assert_non_null(f);
        size_t n = (size_t)st.st_size;
        if (kind == 0) {
            data[n / 2] ^= 0x5a; /* one byte changed */
        } else {
            data[n / 2] ^= 0x5a; /* back as it was, then cut in half */
            n /= 2;
        }
        assert_int_equal(fwrite(data, 1, n, f), n);
        fclose(f);
        char cmd[400];
        int port = free_port();
        snprintf(cmd, sizeof cmd, "cd '%s' && timeout 30 '%s' --port %d --bind 127.0.0.1 --dir '%s' --save '' 2>&1",
                 dir, server_binary(), port, dir);
        char *out = NULL;
        int rc = run_cmd(cmd, &out);
        if (rc == 0 || rc == 124)
            fail_msg("the server started on a %s file (exit %d):\n%s", kind ? "cut" : "damaged", rc, out);
        if (!target_is_redis() && !strstr(out, "dump.rdb"))
            fail_msg("the error does not name the file:\n%s", out);
        free(out);
    }
    free(data);
}

/* save "" disables the save points and the save at SIGTERM; a save point
 * set at run time (CONFIG SET save) takes a background save. */
static void test_save_points(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, NULL, NULL);
    tconn *c = tconnect(s->port);
    struct rval *v = tcmd(c, "CONFIG GET save");
    assert_int_equal(v->type, R_ARRAY);
    assert_string_equal(v->elem[1]->str, "");
    rval_free(v);
    expect_ok(tcmd(c, "SET a 1"));
    expect_error_prefix(tcmd(c, "CONFIG SET save 1"), "ERR");
    const char *one[] = { "CONFIG", "SET", "save", "1 1" };
    tsendv(c, 4, one);
    expect_ok(tread(c, 5000));
    /* the point is met once a change is over a second old */
    assert_int_equal(info_field_becomes(c, "persistence", "rdb_changes_since_last_save", 0, 30000), 0);
    assert_int_equal(info_field_becomes(c, "persistence", "rdb_bgsave_in_progress", 0, 30000), 0);
    assert_true(file_exists(dir, "dump.rdb"));
    const char *none[] = { "CONFIG", "SET", "save", "" };
    tsendv(c, 4, none);
    expect_ok(tread(c, 5000));
    char path[160];
    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    assert_int_equal(unlink(path), 0);
    expect_ok(tcmd(c, "SET b 2"));
    tclose(c);
    assert_int_equal(server_stop(s), 0);
    assert_false(file_exists(dir, "dump.rdb"));
}

/* A save that fails: SAVE answers an error, a failed BGSAVE sets
 * rdb_last_bgsave_status:err and, with save points set and
 * stop-writes-on-bgsave-error yes, writes get -MISCONF until a save
 * succeeds. (dump.rdb made a directory: the rename over it fails.) */
static void test_failed_save_stops_writes(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, "--save", "3600 1");
    tconn *c = tconnect(s->port);
    expect_error_prefix(tcmd(c, "CONFIG SET dbfilename sub/dump.rdb"), "ERR");
    expect_ok(tcmd(c, "SET a 1"));
    char path[160];
    snprintf(path, sizeof path, "%s/dump.rdb/x", dir);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    assert_int_equal(system(cmd), 0);
    expect_error_prefix(tcmd(c, "SAVE"), "ERR");
    expect_status(tcmd(c, "BGSAVE"), "Background saving started");
    assert_int_equal(info_field_becomes(c, "persistence", "rdb_bgsave_in_progress", 0, 30000), 0);
    struct rval *st = tcmd(c, "INFO persistence");
    assert_non_null(strstr(st->str, "rdb_last_bgsave_status:err"));
    rval_free(st);
    expect_error_prefix(tcmd(c, "SET b 2"), "MISCONF");
    expect_bulk(tcmd(c, "GET a"), "1"); /* reads go on */
    expect_ok(tcmd(c, "CONFIG SET stop-writes-on-bgsave-error no"));
    expect_ok(tcmd(c, "SET b 2"));
    expect_ok(tcmd(c, "CONFIG SET stop-writes-on-bgsave-error yes"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s/dump.rdb'", dir);
    assert_int_equal(system(cmd), 0);
    expect_status(tcmd(c, "BGSAVE"), "Background saving started");
    assert_int_equal(info_field_becomes(c, "persistence", "rdb_bgsave_in_progress", 0, 30000), 0);
    st = tcmd(c, "INFO persistence");
    assert_non_null(strstr(st->str, "rdb_last_bgsave_status:ok"));
    rval_free(st);
    expect_ok(tcmd(c, "SET c 3"));
    tclose(c);
    assert_int_equal(server_stop(s), 0);
}

/* ---- several databases ---- */

/* Keys of several types in databases 0, 2 and 9 (one name in all three,
 * with another value in each), one with a time, enough keys that every
 * shard holds some of each database; the connection ends in database 0. */
static void fill_databases(tconn *c)
{
    expect_ok(tcmd(c, "SET shared zero"));
    expect_int(tcmd(c, "RPUSH list0 a b c"), 3);
    expect_ok(tcmd(c, "SELECT 2"));
    expect_ok(tcmd(c, "SET shared two"));
    expect_int(tcmd(c, "HSET hash2 f v g w"), 2);
    expect_int(tcmd(c, "ZADD zset2 1 a 2.5 b"), 2);
    for (int i = 0; i < 100; i++)
        expect_ok(tcmd(c, "SET two:%d v%d", i, i));
    expect_ok(tcmd(c, "SELECT 9"));
    expect_ok(tcmd(c, "SET shared nine"));
    expect_ok(tcmd(c, "SET ttl9 v EX 100000"));
    expect_int(tcmd(c, "RPUSH list9 x y"), 2);
    expect_int(tcmd(c, "ZADD zset9 3 c"), 1);
    for (int i = 0; i < 100; i++)
        expect_int(tcmd(c, "HSET nine:%d f %d", i, i), 1);
    expect_ok(tcmd(c, "SELECT 0"));
}

/* Each key back in its database: SAVE and a restart (another shard count),
 * BGSAVE and a kill -9; redis-check-rdb passes the file and redis-server
 * 7.0 loads it into the same databases. */
static void test_databases_save_restart(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, "--threads", "3");
    tconn *c = tconnect(s->port);
    fill_databases(c);
    char *before = keyspace_state_dbs(c, 16);
    expect_ok(tcmd(c, "SAVE"));
    tclose(c);
    assert_int_equal(server_stop(s), 0);
    check_rdb(dir);

    s = start_in(dir, "--threads", "2");
    c = tconnect(s->port);
    char *after = keyspace_state_dbs(c, 16);
    expect_same_keyspace(before, after);
    expect_int(tcmd(c, "DBSIZE"), 2);
    expect_bulk(tcmd(c, "GET shared"), "zero");
    expect_ok(tcmd(c, "SELECT 9"));
    expect_bulk(tcmd(c, "GET shared"), "nine");
    assert_true(get_int(tcmd(c, "TTL ttl9")) > 90000);
    expect_int(tcmd(c, "DBSIZE"), 104);
    expect_ok(tcmd(c, "SELECT 2"));
    expect_int(tcmd(c, "DBSIZE"), 103);
    expect_ok(tcmd(c, "SELECT 1"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    /* a background save of a database made since */
    expect_ok(tcmd(c, "SELECT 15"));
    expect_ok(tcmd(c, "SET last db"));
    char *more = keyspace_state_dbs(c, 16);
    long long saves = info_field(c, "persistence", "rdb_saves");
    expect_status(tcmd(c, "BGSAVE"), "Background saving started");
    assert_int_equal(info_field_becomes(c, "persistence", "rdb_saves", saves + 1, 30000), saves + 1);
    assert_int_equal(info_field_becomes(c, "persistence", "rdb_bgsave_in_progress", 0, 30000), 0);
    tclose(c);
    server_kill(s);
    check_rdb(dir);
    s = start_in(dir, "--threads", "3");
    c = tconnect(s->port);
    char *again = keyspace_state_dbs(c, 16);
    expect_same_keyspace(more, again);
    tclose(c);
    assert_int_equal(server_stop(s), 0);

    if (!target_is_redis() && have_redis()) {
        struct server *r = start_redis_in(dir);
        c = tconnect(r->port);
        char *in_redis = keyspace_state_dbs(c, 16);
        expect_same_keyspace(more, in_redis);
        free(in_redis);
        tclose(c);
    }
    free(before);
    free(after);
    free(more);
    free(again);
}

/* A dump.rdb that redis-server 7.0 wrote with keys in several databases
 * loads into the same databases. */
static void test_databases_redis_file_loads(void **state)
{
    (void)state;
    if (!have_redis())
        skip();
    const char *dir = new_dir();
    struct server *r = start_redis_in(dir);
    tconn *c = tconnect(r->port);
    fill_databases(c);
    char *before = keyspace_state_dbs(c, 16);
    expect_ok(tcmd(c, "SAVE"));
    tclose(c);
    assert_int_equal(server_stop(r), 0);

    struct server *s = start_in(dir, "--threads", "3");
    c = tconnect(s->port);
    char *after = keyspace_state_dbs(c, 16);
    expect_same_keyspace(before, after);
    expect_ok(tcmd(c, "SELECT 9"));
    assert_true(get_int(tcmd(c, "TTL ttl9")) > 90000);
    free(before);
    free(after);
    tclose(c);
}

/* A file with keys of database 9 and `databases 4`: the start is refused
 * with Redis's line. */
static void test_databases_fewer_refused(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start_in(dir, NULL, NULL);
    tconn *c = tconnect(s->port);
    fill_databases(c);
    expect_ok(tcmd(c, "SAVE"));
    tclose(c);
    assert_int_equal(server_stop(s), 0);
    char cmd[400];
    int port = free_port();
    snprintf(cmd, sizeof cmd,
             "cd '%s' && timeout 30 '%s' --port %d --bind 127.0.0.1 --dir '%s' --save '' --databases 4 2>&1", dir,
             server_binary(), port, dir);
    char *out = NULL;
    int rc = run_cmd(cmd, &out);
    if (rc == 0 || rc == 124)
        fail_msg("the server started with databases 4 (exit %d):\n%s", rc, out);
    if (!strstr(out, "FATAL: Data file was created with a Redis server configured to handle more than 4 databases"))
        fail_msg("no clear line for the database the file holds:\n%s", out);
    if (!target_is_redis() && !strstr(out, "dump.rdb holds keys of database 9"))
        fail_msg("the line does not name the file and the database:\n%s", out);
    free(out);
    /* with 10 it starts, every key in its database */
    s = start_in(dir, "--databases", "10");
    c = tconnect(s->port);
    expect_ok(tcmd(c, "SELECT 9"));
    expect_bulk(tcmd(c, "GET shared"), "nine");
    expect_error(tcmd(c, "SELECT 10"), "ERR DB index is out of range");
    tclose(c);
}

/* The file `redis-cli --rdb` fetches (a Redis replica's full sync gets the
 * same) holds every database: redis-server started from it has each key in
 * its database. */
static void test_databases_cli_rdb(void **state)
{
    (void)state;
    if (!have_redis() || run_cmd("command -v redis-cli >/dev/null 2>&1", NULL) != 0)
        skip();
    const char *dir = new_dir(), *copy = new_dir();
    struct server *s = start_in(dir, "--threads", "3");
    tconn *c = tconnect(s->port);
    fill_databases(c);
    char *before = keyspace_state_dbs(c, 16);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d --rdb '%s/dump.rdb' 2>&1", s->port, copy);
    char *out = NULL;
    if (run_cmd(cmd, &out) != 0)
        fail_msg("redis-cli --rdb failed:\n%s", out);
    free(out);
    tclose(c);
    check_rdb(copy);
    struct server *r = start_redis_in(copy);
    c = tconnect(r->port);
    char *after = keyspace_state_dbs(c, 16);
    expect_same_keyspace(before, after);
    free(before);
    free(after);
    tclose(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_save_restart_every_type, teardown),
        cmocka_unit_test_teardown(test_bgsave_consistent_with_multi, teardown),
        cmocka_unit_test_teardown(test_redis_file_loads, teardown),
        cmocka_unit_test_teardown(test_file_loads_in_redis, teardown),
        cmocka_unit_test_teardown(test_shutdown_save_nosave_sigterm, teardown),
        cmocka_unit_test_teardown(test_shutdown_racing_flushall_save, teardown),
        cmocka_unit_test_teardown(test_kill9_keeps_last_save, teardown),
        cmocka_unit_test_teardown(test_flushall_saves, teardown),
        cmocka_unit_test_teardown(test_replica_saves, teardown),
        cmocka_unit_test_teardown(test_damaged_file_refused, teardown),
        cmocka_unit_test_teardown(test_save_points, teardown),
        cmocka_unit_test_teardown(test_failed_save_stops_writes, teardown),
        cmocka_unit_test_teardown(test_databases_save_restart, teardown),
        cmocka_unit_test_teardown(test_databases_redis_file_loads, teardown),
        cmocka_unit_test_teardown(test_databases_fewer_refused, teardown),
        cmocka_unit_test_teardown(test_databases_cli_rdb, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
