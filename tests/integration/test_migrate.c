/* MIGRATE: keys moved between ringkv nodes, from ringkv to redis-server
 * and from redis-server to ringkv, with COPY, REPLACE, AUTH, AUTH2 and
 * KEYS; a dead destination and a silent one (IOERR, nothing lost); a
 * destination that holds the key (BUSYKEY passed through); a write made
 * while MIGRATE is in flight (kept); the deletions replicated. Runs
 * against redis-server too (RINGKV_TEST_TARGET=redis): "the node" is then
 * a redis-server, and the other side is always a real redis-server this
 * test starts. */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
/* the node and replication helpers; not every one is used here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#include "redis_nodes.h"
#pragma GCC diagnostic pop

/* MIGRATE 127.0.0.1 port key db timeout [words...] (space-separated) */
static struct rval *migrate(tconn *c, int port, const char *key, int timeout_ms, const char *rest)
{
    return tcmd(c, "MIGRATE 127.0.0.1 %d %s 0 %d%s%s", port, key, timeout_ms, rest ? " " : "", rest ? rest : "");
}

/* MIGRATE with KEYS: key argument "" (tcmd cannot send an empty word). */
static struct rval *migrate_keys(tconn *c, int port, int timeout_ms, const char *opts, int nkeys,
                                 const char *const *keys)
{
    const char *argv[32];
    char p[16], t[16];
    snprintf(p, sizeof p, "%d", port);
    snprintf(t, sizeof t, "%d", timeout_ms);
    int n = 0;
    argv[n++] = "MIGRATE";
    argv[n++] = "127.0.0.1";
    argv[n++] = p;
    argv[n++] = "";
    argv[n++] = "0";
    argv[n++] = t;
    char optbuf[128] = "";
    if (opts) {
        snprintf(optbuf, sizeof optbuf, "%s", opts);
        for (char *w = strtok(optbuf, " "); w; w = strtok(NULL, " "))
            argv[n++] = w;
    }
    argv[n++] = "KEYS";
    for (int i = 0; i < nkeys; i++)
        argv[n++] = keys[i];
    tsendv(c, n, argv);
    struct rval *v = tread(c, 10000);
    assert_non_null(v);
    return v;
}

/* from's keys k1..k3 (one with a TTL), moved to `to` by MIGRATE run on
 * from: one key, then KEYS over several (and so over both of ringkv's
 * shards), missing ones skipped. */
static void basic_moves(tconn *from, tconn *to, int to_port)
{
    expect_ok(tcmd(from, "SET k1 v1"));
    expect_ok(tcmd(from, "SET k2 12345"));
    expect_ok(tcmd(from, "SET k3 v3 PX 600000"));
    expect_ok(tcmd(from, "SET k4 v4"));
    expect_ok(migrate(from, to_port, "k1", 5000, NULL));
    expect_int(tcmd(from, "EXISTS k1"), 0);
    expect_bulk(tcmd(to, "GET k1"), "v1");

    const char *keys[] = { "k2", "nosuch", "k3", "k4" };
    expect_ok(migrate_keys(from, to_port, 5000, NULL, 4, keys));
    expect_int(tcmd(from, "EXISTS k2 k3 k4"), 0);
    expect_bulk(tcmd(to, "GET k2"), "12345");
    expect_bulk(tcmd(to, "GET k3"), "v3");
    expect_bulk(tcmd(to, "GET k4"), "v4");
    long long pttl = get_int(tcmd(to, "PTTL k3"));
    assert_true(pttl > 500000 && pttl <= 600000);
    expect_int(tcmd(to, "PTTL k4"), -1);
    /* the first key missing: the reply to the first RESTORE is the next
     * key's (it was taken for the missing one's, and k6 stayed here) */
    expect_ok(tcmd(from, "SET k6 v6"));
    const char *first_missing[] = { "nosuch", "k6" };
    expect_ok(migrate_keys(from, to_port, 5000, NULL, 2, first_missing));
    expect_int(tcmd(from, "EXISTS k6"), 0);
    expect_bulk(tcmd(to, "GET k6"), "v6");

    /* nothing there to move */
    expect_status(migrate(from, to_port, "k1", 5000, NULL), "NOKEY");
    const char *none[] = { "x1", "x2" };
    expect_status(migrate_keys(from, to_port, 5000, NULL, 2, none), "NOKEY");

    /* the destination has it: BUSYKEY passed through, the key kept here */
    expect_ok(tcmd(from, "SET k1 again"));
    expect_error(migrate(from, to_port, "k1", 5000, NULL),
                 "ERR Target instance replied with error: BUSYKEY Target key name already exists.");
    expect_bulk(tcmd(from, "GET k1"), "again");
    expect_bulk(tcmd(to, "GET k1"), "v1");
    /* COPY REPLACE: replaced there, kept here */
    expect_ok(migrate(from, to_port, "k1", 5000, "COPY REPLACE"));
    expect_bulk(tcmd(from, "GET k1"), "again");
    expect_bulk(tcmd(to, "GET k1"), "again");
    /* REPLACE: replaced there, gone here */
    expect_ok(tcmd(from, "SET k1 third"));
    expect_ok(migrate(from, to_port, "k1", 5000, "REPLACE"));
    expect_int(tcmd(from, "EXISTS k1"), 0);
    expect_bulk(tcmd(to, "GET k1"), "third");

    /* some keys busy there: the others move, the first error is answered,
     * the busy one stays here */
    expect_ok(tcmd(from, "SET k1 fourth"));
    expect_ok(tcmd(from, "SET k5 five"));
    const char *mixed[] = { "k5", "k1" };
    expect_error(migrate_keys(from, to_port, 5000, NULL, 2, mixed),
                 "ERR Target instance replied with error: BUSYKEY Target key name already exists.");
    expect_int(tcmd(from, "EXISTS k5"), 0);
    expect_bulk(tcmd(to, "GET k5"), "five");
    expect_bulk(tcmd(from, "GET k1"), "fourth");
}

static void test_migrate_to_redis_and_back(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *r = start_redis(NULL);
    tconn *c = tconnect(s->port), *rc = tconnect(r->port);
    basic_moves(c, rc, r->port);   /* the node -> redis-server */
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_ok(tcmd(rc, "FLUSHALL"));
    basic_moves(rc, c, s->port);   /* redis-server -> the node (its RESTOREs) */
    tclose(c);
    tclose(rc);
    node_stop(s);
    node_stop(r);
}

static void test_migrate_between_nodes(void **state)
{
    (void)state;
    struct server *a = start_node(NULL);
    struct server *b = start_node(NULL);
    tconn *ac = tconnect(a->port), *bc = tconnect(b->port);
    basic_moves(ac, bc, b->port);
    /* many keys in one MIGRATE, values of several sizes */
    const char *keys[20];
    char names[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "many:%d", i);
        keys[i] = names[i];
        expect_ok(tcmd(ac, "SET %s %0*d", names[i], 1 + i * 500, i));
    }
    expect_ok(migrate_keys(ac, b->port, 5000, NULL, 20, keys));
    for (int i = 0; i < 20; i++) {
        expect_int(tcmd(ac, "EXISTS %s", names[i]), 0);
        expect_int(tcmd(bc, "STRLEN %s", names[i]), 1 + i * 500);
    }
    tclose(ac);
    tclose(bc);
    node_stop(a);
    node_stop(b);
}

/* destination-db: SELECTed there before the RESTOREs (and again for
 * another database on the kept connection); the keys read in the
 * connection's database here; a database the target lacks: its error,
 * the key kept. */
static void test_migrate_databases(void **state)
{
    (void)state;
    struct server *a = start_node(NULL);
    struct server *b = start_node(NULL);
    tconn *ac = tconnect(a->port), *bc = tconnect(b->port);
    expect_ok(tcmd(ac, "SELECT 2"));
    expect_ok(tcmd(ac, "SET k v2"));
    expect_ok(tcmd(ac, "SET k0 v0"));
    expect_ok(tcmd(ac, "SET k99 v99"));
    expect_ok(tcmd(ac, "SELECT 0"));
    expect_status(tcmd(ac, "MIGRATE 127.0.0.1 %d k 3 1000", b->port), "NOKEY"); /* not in database 0 */
    expect_ok(tcmd(ac, "SELECT 2"));
    expect_ok(tcmd(ac, "MIGRATE 127.0.0.1 %d k 3 5000", b->port));
    expect_int(tcmd(ac, "EXISTS k"), 0);
    expect_ok(tcmd(ac, "MIGRATE 127.0.0.1 %d k0 0 5000", b->port));
    expect_int(tcmd(ac, "EXISTS k0"), 0);
    expect_error(tcmd(ac, "MIGRATE 127.0.0.1 %d k99 99 5000", b->port),
                 "ERR Target instance replied with error: ERR DB index is out of range");
    expect_bulk(tcmd(ac, "GET k99"), "v99");
    expect_int(tcmd(bc, "EXISTS k k0"), 1);
    expect_bulk(tcmd(bc, "GET k0"), "v0");
    expect_ok(tcmd(bc, "SELECT 3"));
    expect_bulk(tcmd(bc, "GET k"), "v2");
    expect_int(tcmd(bc, "DBSIZE"), 1);
    tclose(ac);
    tclose(bc);
    node_stop(a);
    node_stop(b);
}

/* The value of big:<i> in test_migrate_bigger_than_a_turn: 100 KB of
 * letters and digits in no pattern (a DUMP payload compresses runs). */
static char *big_value(int i)
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *v = malloc(100001);
    assert_non_null(v);
    uint32_t x = 2463534242u + (uint32_t)i * 7919u;
    for (int k = 0; k < 100000; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v[k] = abc[x % 62];
    }
    v[100000] = 0;
    return v;
}

/* One MIGRATE of more than a shard dumps in one loop turn (40 values of
 * 100 KB: ringkv dumps 256 KB a turn and goes on the next, its other
 * clients served between): every key arrives whole, its TTL kept, none
 * left here; a key written meanwhile by another client is never lost. */
static void test_migrate_bigger_than_a_turn(void **state)
{
    (void)state;
    struct server *a = start_node(NULL);
    struct server *b = start_node(NULL);
    tconn *ac = tconnect(a->port), *bc = tconnect(b->port), *other = tconnect(a->port);
    const char *argv[48];
    char names[40][16], p[16];
    snprintf(p, sizeof p, "%d", b->port);
    int n = 0;
    argv[n++] = "MIGRATE";
    argv[n++] = "127.0.0.1";
    argv[n++] = p;
    argv[n++] = "";
    argv[n++] = "0";
    argv[n++] = "10000";
    argv[n++] = "KEYS";
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "big:%d", i);
        argv[n++] = names[i];
        char *val = big_value(i);
        expect_ok(tcmd(ac, "SET %s %s", names[i], val));
        free(val);
    }
    expect_int(tcmd(ac, "PEXPIRE big:39 600000"), 1);
    tsendv(ac, n, argv);
    /* another client writes a key of the batch while the MIGRATE runs: it
     * ends either here (written after its dump: kept) or there */
    expect_ok(tcmd(other, "SET big:38 written"));
    struct rval *v = tread(ac, 20000);
    assert_non_null(v);
    expect_ok(v);
    for (int i = 0; i < 40; i++) {
        if (i == 38)
            continue;
        expect_int(tcmd(ac, "EXISTS %s", names[i]), 0);
        char *want = big_value(i);
        struct rval *got = tcmd(bc, "GET %s", names[i]);
        assert_int_equal(got->type, R_BULK);
        assert_int_equal(got->len, 100000);
        assert_memory_equal(got->str, want, 100000);
        rval_free(got);
        free(want);
    }
    /* big:38: the write is in one place, with its value */
    if (get_int(tcmd(ac, "EXISTS big:38")))
        expect_bulk(tcmd(ac, "GET big:38"), "written");
    else
        expect_bulk(tcmd(bc, "GET big:38"), "written");
    long long pttl = get_int(tcmd(bc, "PTTL big:39"));
    assert_true(pttl > 500000 && pttl <= 600000);
    tclose(ac);
    tclose(bc);
    tclose(other);
    node_stop(a);
    node_stop(b);
}

static void test_migrate_errors(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET k v"));
    expect_error(tcmd(c, "MIGRATE 127.0.0.1 1 k 0 1000 BOGUS"), "ERR syntax error");
    expect_error(tcmd(c, "MIGRATE 127.0.0.1 1 k 0 1000 AUTH"), "ERR syntax error");
    expect_error(tcmd(c, "MIGRATE 127.0.0.1 1 k 0 1000 AUTH2 u"), "ERR syntax error");
    expect_error(tcmd(c, "MIGRATE 127.0.0.1 1 k 0 1000 KEYS k"),
                 "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
    expect_error(tcmd(c, "MIGRATE 127.0.0.1 1 k 0 x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "MIGRATE 127.0.0.1 1 k x 1000"), "ERR value is not an integer or out of range");
    expect_error_prefix(tcmd(c, "MIGRATE 127.0.0.1 1 k 0"), "ERR wrong number of arguments");
    /* a dead destination: IOERR, the key kept */
    int dead = free_port();
    expect_error(tcmd(c, "MIGRATE 127.0.0.1 %d k 0 1000", dead), "IOERR error or timeout writing to target instance");
    expect_bulk(tcmd(c, "GET k"), "v");
    expect_status(tcmd(c, "MIGRATE 127.0.0.1 %d nosuch 0 1000", dead), "NOKEY");
    tclose(c);
    node_stop(s);
}

/* A destination that accepts and never answers (stopped): IOERR after the
 * timeout, nothing lost here; the node serves its other clients meanwhile. */
static void test_migrate_silent_destination(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *d = start_redis(NULL);
    tconn *c = tconnect(s->port), *other = NULL;
    expect_ok(tcmd(c, "SET k v"));
    expect_ok(tcmd(c, "SET k2 v2"));
    process_stop(d->pid);
    long long t0 = now_ms();
    const char *argv[] = { "MIGRATE", "127.0.0.1", "0", "k", "0", "300" };
    char port[16];
    snprintf(port, sizeof port, "%d", d->port);
    argv[2] = port;
    tsendv(c, 6, argv);
    if (!target_is_redis()) {
        /* ringkv does not stop for it (Redis does: it blocks) */
        other = tconnect(s->port);
        expect_bulk(tcmd(other, "GET k2"), "v2");
    }
    struct rval *v = tread(c, 10000);
    expect_error(v, "IOERR error or timeout reading to target instance");
    assert_true(now_ms() - t0 >= 250);
    expect_bulk(tcmd(c, "GET k"), "v");
    assert_int_equal(kill(d->pid, SIGCONT), 0);
    if (other)
        tclose(other);
    tclose(c);
    node_stop(s);
}

/* A destination killed (kill -9) while MIGRATE waits on it: IOERR, kept. */
static void test_migrate_destination_killed(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *d = start_node(NULL);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SET k v"));
    process_stop(d->pid);
    char port[16];
    snprintf(port, sizeof port, "%d", d->port);
    const char *argv[] = { "MIGRATE", "127.0.0.1", port, "k", "0", "5000" };
    tsendv(c, 6, argv);
    usleep(200000);
    server_kill(d);
    struct rval *v = tread(c, 10000);
    expect_error_prefix(v, "IOERR error or timeout");
    expect_bulk(tcmd(c, "GET k"), "v");
    tclose(c);
    node_stop(s);
}

/* AUTH and AUTH2 to a destination with a password (and a user); a wrong
 * one answers the destination's error and keeps the keys. */
static void test_migrate_auth(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    const char *args[] = { "--requirepass", "sesame", NULL };
    struct server *d = start_redis(args);
    tconn *c = tconnect(s->port), *dc = tconnect(d->port);
    expect_ok(tcmd(dc, "AUTH sesame"));
    expect_ok(tcmd(c, "SET a 1"));
    expect_ok(tcmd(c, "SET b 2"));
    expect_ok(tcmd(c, "SET e 3"));
    expect_error_prefix(migrate(c, d->port, "a", 5000, NULL),
                        "ERR Target instance replied with error: NOAUTH");
    expect_error_prefix(migrate(c, d->port, "a", 5000, "AUTH wrong"),
                        "ERR Target instance replied with error: WRONGPASS");
    expect_bulk(tcmd(c, "GET a"), "1");
    expect_ok(migrate(c, d->port, "a", 5000, "AUTH sesame"));
    expect_int(tcmd(c, "EXISTS a"), 0);
    expect_bulk(tcmd(dc, "GET a"), "1");
    expect_ok(migrate(c, d->port, "b", 5000, "AUTH2 default sesame"));
    expect_bulk(tcmd(dc, "GET b"), "2");
    const char *keys[] = { "e" };
    expect_ok(migrate_keys(c, d->port, 5000, "COPY AUTH sesame", 1, keys));
    expect_bulk(tcmd(c, "GET e"), "3");
    expect_bulk(tcmd(dc, "GET e"), "3");
    /* ringkv as the destination with a password */
    if (!target_is_redis()) {
        const char *pargs[] = { "--requirepass", "sesame", NULL };
        struct server *p = start_node(pargs);
        tconn *pc = tconnect(p->port);
        expect_ok(tcmd(pc, "AUTH sesame"));
        expect_ok(migrate(c, p->port, "e", 5000, "AUTH sesame"));
        expect_bulk(tcmd(pc, "GET e"), "3");
        tclose(pc);
        node_stop(p);
    }
    tclose(c);
    tclose(dc);
    node_stop(s);
    node_stop(d);
}

/* A key written while MIGRATE waits on its destination is kept here with
 * the new value (in Redis the write waits for MIGRATE and then makes the
 * key anew: the same end), and the destination has the old one. */
static void test_write_during_migrate_kept(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *d = start_redis(NULL);
    tconn *c = tconnect(s->port), *w = tconnect(s->port), *dc = tconnect(d->port);
    expect_ok(tcmd(c, "SET k old"));
    expect_ok(tcmd(c, "SET untouched same"));
    process_stop(d->pid);
    char port[16];
    snprintf(port, sizeof port, "%d", d->port);
    const char *argv[] = { "MIGRATE", "127.0.0.1", port, "", "0", "10000", "KEYS", "k", "untouched" };
    tsendv(c, 9, argv);
    /* the SET only once the MIGRATE runs (its connection's last command),
     * however slow the machine; redis-server, which serves nothing while
     * its MIGRATE waits, holds the SET until then anyway */
    if (target_is_redis())
        usleep(100000);
    for (long long until = now_ms() + 10000; !target_is_redis(); usleep(10000)) {
        struct rval *v = tcmd(w, "CLIENT LIST");
        bool running = v->str && strstr(v->str, "cmd=migrate");
        rval_free(v);
        if (running)
            break;
        if (now_ms() > until)
            fail_msg("the MIGRATE never ran");
    }
    const char *set[] = { "SET", "k", "new" };
    tsendv(w, 3, set);
    usleep(100000);
    assert_int_equal(kill(d->pid, SIGCONT), 0);
    expect_ok(tread(c, 10000));
    expect_ok(tread(w, 10000));
    expect_bulk(tcmd(c, "GET k"), "new");
    expect_int(tcmd(c, "EXISTS untouched"), 0);
    expect_bulk(tcmd(dc, "GET k"), "old");
    expect_bulk(tcmd(dc, "GET untouched"), "same");
    tclose(c);
    tclose(w);
    tclose(dc);
    node_stop(s);
    node_stop(d);
}

/* The keys MIGRATE deletes are deleted on the node's replica too. */
static void test_migrate_replicated(void **state)
{
    (void)state;
    struct server *m = start_node(NULL);
    struct server *r = start_node(NULL);
    struct server *d = start_redis(NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port), *dc = tconnect(d->port);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 10000);
    const char *keys[8];
    char names[8][8];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        keys[i] = names[i];
        expect_ok(tcmd(mc, "SET %s %d", names[i], i));
    }
    expect_ok(migrate_keys(mc, d->port, 5000, NULL, 6, keys));
    wait_synced(mc, rc, 10000);
    for (int i = 0; i < 8; i++) {
        expect_int(tcmd(rc, "EXISTS %s", names[i]), i < 6 ? 0 : 1);
        expect_int(tcmd(dc, "EXISTS %s", names[i]), i < 6 ? 1 : 0);
    }
    /* a replica refuses MIGRATE as the write it is */
    expect_error_prefix(migrate(rc, d->port, "m7", 5000, NULL), "READONLY");
    tclose(mc);
    tclose(rc);
    tclose(dc);
    node_stop(r);
    node_stop(m);
    node_stop(d);
}

/* The connection to a destination is kept for the next MIGRATE (Redis
 * keeps it 10 s): five MIGRATEs, one connection (INFO's
 * migrate_cached_sockets: 1); and when the destination closed it
 * meanwhile, the next MIGRATE makes a new one and succeeds. */
static void test_migrate_connection_kept(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *d = start_redis(NULL);
    tconn *c = tconnect(s->port), *dc = tconnect(d->port);
    long long before = info_field(dc, "stats", "total_connections_received");
    assert_int_equal(info_field(c, "stats", "migrate_cached_sockets"), 0);
    for (int i = 0; i < 5; i++) {
        expect_ok(tcmd(c, "SET kept%d v", i));
        char key[16];
        snprintf(key, sizeof key, "kept%d", i);
        expect_ok(migrate(c, d->port, key, 5000, NULL));
    }
    expect_int(tcmd(dc, "DBSIZE"), 5);
    assert_int_equal(info_field(dc, "stats", "total_connections_received"), before + 1);
    assert_int_equal(info_field(c, "stats", "migrate_cached_sockets"), 1);
    /* the destination drops it: the next MIGRATE still goes through */
    expect_int(tcmd(dc, "CLIENT KILL TYPE normal SKIPME yes"), 1);
    expect_ok(tcmd(c, "SET again v"));
    expect_ok(migrate(c, d->port, "again", 5000, NULL));
    expect_bulk(tcmd(dc, "GET again"), "v");
    expect_int(tcmd(c, "EXISTS again"), 0);
    assert_int_equal(info_field(c, "stats", "migrate_cached_sockets"), 1);
    tclose(c);
    tclose(dc);
    node_stop(s);
    node_stop(d);
}

/* What the connection sends after MIGRATE sees the keys gone, as in Redis
 * (which blocks for MIGRATE): a pipelined GET, and a GET after MIGRATE in
 * the same transaction. */
static void test_later_commands_see_keys_gone(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *d = start_redis(NULL);
    tconn *c = tconnect(s->port);
    char port[16];
    snprintf(port, sizeof port, "%d", d->port);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "p%d", i);
        expect_ok(tcmd(c, "SET %s v", key));
        const char *mig[] = { "MIGRATE", "127.0.0.1", port, key, "0", "5000" };
        const char *get[] = { "GET", key };
        tsendv(c, 6, mig);
        tsendv(c, 2, get);
        expect_ok(tread(c, 10000));
        expect_nil(tread(c, 10000));
    }
    expect_ok(tcmd(c, "SET t v"));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "MIGRATE 127.0.0.1 %d t 0 5000", d->port), "QUEUED");
    expect_status(tcmd(c, "GET t"), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->type, R_STATUS);
    assert_string_equal(v->elem[0]->str, "OK");
    assert_int_equal(v->elem[1]->type, R_NIL);
    rval_free(v);
    tclose(c);
    node_stop(s);
    node_stop(d);
}

/* The node stops taking writes while MIGRATE waits (min-replicas-to-write
 * set meanwhile): nothing is deleted here and MIGRATE answers the node's
 * refusal. (Redis cannot get there: it blocks for MIGRATE.) */
static void test_migrate_deletes_nothing_once_writes_refused(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    struct server *s = start_node(NULL);
    struct server *d = start_redis(NULL);
    tconn *c = tconnect(s->port), *admin = tconnect(s->port), *dc = tconnect(d->port);
    expect_ok(tcmd(c, "SET k v"));
    process_stop(d->pid);
    char port[16];
    snprintf(port, sizeof port, "%d", d->port);
    const char *mig[] = { "MIGRATE", "127.0.0.1", port, "k", "0", "10000" };
    tsendv(c, 6, mig);
    usleep(100000);
    expect_ok(tcmd(admin, "CONFIG SET min-replicas-to-write 1"));
    assert_int_equal(kill(d->pid, SIGCONT), 0);
    expect_error_prefix(tread(c, 10000), "NOREPLICAS");
    expect_ok(tcmd(admin, "CONFIG SET min-replicas-to-write 0"));
    expect_bulk(tcmd(admin, "GET k"), "v");
    expect_bulk(tcmd(dc, "GET k"), "v"); /* the destination has it too: a copy */
    tclose(c);
    tclose(admin);
    tclose(dc);
    node_stop(s);
    node_stop(d);
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

/* Thousands of MIGRATEs that delete nothing (COPY) leave the node's memory
 * where it was: each one's state is freed once answered. */
static void test_migrate_frees_what_it_used(void **state)
{
    (void)state;
    if (target_is_redis())
        skip(); /* ringkv's own bookkeeping */
    struct server *s = start_node(NULL);
    struct server *d = start_node(NULL);
    tconn *c = tconnect(s->port);
    char *big = malloc(1001);
    memset(big, 'x', 1000);
    big[1000] = '\0';
    const char *set[] = { "SET", "k", big };
    tsendv(c, 3, set);
    expect_ok(tread(c, 5000));
    char port[16];
    snprintf(port, sizeof port, "%d", d->port);
    const char *mig[] = { "MIGRATE", "127.0.0.1", port, "k", "0", "5000", "COPY", "REPLACE" };
    long before = 0;
    for (int i = 0; i < 6000; i++) {
        if (i == 1000)
            before = rss_kb(s->pid);
        tsendv(c, 8, mig);
        expect_ok(tread(c, 5000));
    }
    long grown = rss_kb(s->pid) - before;
    if (grown > 3000)
        fail_msg("5000 COPY MIGRATEs grew the node by %ld KB", grown);
    free(big);
    tclose(c);
    node_stop(s);
    node_stop(d);
}


/* ---- collections ---- */

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A collection's contents as one text ("type:n" then lines): a hash's
 * "field=value" lines or a set's members, sorted (whatever the order of
 * the answer); a list's elements and a sorted set's "member=score" lines
 * in order (the score as the double it reads as: each side prints it its
 * own way); "none" for a missing key. */
static char *contents(tconn *c, const char *key)
{
    struct rval *t = tcmd(c, "TYPE %s", key);
    assert_int_equal(t->type, R_STATUS);
    if (strcmp(t->str, "none") == 0) {
        rval_free(t);
        return strdup("none");
    }
    bool hash = strcmp(t->str, "hash") == 0, list = strcmp(t->str, "list") == 0,
         zset = strcmp(t->str, "zset") == 0;
    assert_true(hash || list || zset || strcmp(t->str, "set") == 0);
    char kind[8];
    snprintf(kind, sizeof kind, "%s", t->str);
    rval_free(t);
    struct rval *v = tcmd(c, hash ? "HGETALL %s" : list ? "LRANGE %s 0 -1" : zset ? "ZRANGE %s 0 -1 WITHSCORES" : "SMEMBERS %s",
                          key);
    bool pairs = hash || zset;
    size_t n = pairs ? v->n / 2 : v->n, total = 16;
    char **lines = calloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        const struct rval *a = v->elem[pairs ? 2 * i : i], *b = pairs ? v->elem[2 * i + 1] : NULL;
        char score[40];
        const char *second = b ? b->str : "";
        if (zset) {
            snprintf(score, sizeof score, "%.17g", strtod(b->str, NULL));
            second = score;
        }
        size_t len = a->len + strlen(second) + 3;
        lines[i] = malloc(len);
        snprintf(lines[i], len, b ? "%s=%s\n" : "%s\n", a->str, second);
        total += len;
    }
    if (!list && !zset)
        qsort(lines, n, sizeof *lines, by_text);
    char *out = malloc(total);
    size_t at = (size_t)snprintf(out, 16, "%s:%zu\n", kind, n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(lines[i]);
        memcpy(out + at, lines[i], l);
        at += l;
        free(lines[i]);
    }
    out[at] = 0;
    free(lines);
    rval_free(v);
    return out;
}

/* from's hashes, sets, lists and sorted sets (small and big, one with a
 * TTL) moved to `to` by MIGRATE on from: whole there, gone here; then COPY
 * and REPLACE. (Lists and sorted sets were not dumped before: MIGRATE
 * sent an empty payload for them, which the target refused.) */
static void collection_moves(tconn *from, tconn *to, int to_port)
{
    expect_int(tcmd(from, "HSET h1 a 1 b hello c 5000000000"), 3);
    for (int i = 0; i < 600; i++)
        expect_int(tcmd(from, "HSET h2 field:%d %d", i, i * 7), 1);
    expect_int(tcmd(from, "SADD s1 1 2 -70000 5000000000"), 4);
    expect_int(tcmd(from, "SADD s2 x y z"), 3);
    for (int i = 0; i < 300; i++)
        expect_int(tcmd(from, "SADD s3 member:%d", i), 1);
    expect_int(tcmd(from, "PEXPIRE s2 600000"), 1);
    expect_int(tcmd(from, "RPUSH l1 a 1 -70000 5000000000 hello"), 5);
    for (int i = 0; i < 500; i++)
        expect_int(tcmd(from, "RPUSH l2 element:%d:%0100d", i, i), i + 1);
    expect_int(tcmd(from, "ZADD z1 inf a -inf b 1.5 c 0.1 d -3 e"), 5);
    for (int i = 0; i < 300; i++)
        expect_int(tcmd(from, "ZADD z2 %d.125 member:%d", i * 3 - 400, i), 1);
    expect_int(tcmd(from, "PEXPIRE z2 600000"), 1);
    const char *keys[] = { "h1", "h2", "s1", "s2", "s3", "l1", "l2", "z1", "z2" };
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    char *want[NKEYS];
    for (int i = 0; i < NKEYS; i++)
        want[i] = contents(from, keys[i]);
    expect_ok(migrate(from, to_port, "h1", 5000, NULL));
    expect_ok(migrate_keys(from, to_port, 5000, NULL, NKEYS - 1, keys + 1));
    for (int i = 0; i < NKEYS; i++) {
        expect_int(tcmd(from, "EXISTS %s", keys[i]), 0);
        char *got = contents(to, keys[i]);
        assert_string_equal(got, want[i]);
        free(got);
    }
    long long pttl = get_int(tcmd(to, "PTTL s2"));
    assert_true(pttl > 500000 && pttl <= 600000);
    pttl = get_int(tcmd(to, "PTTL z2"));
    assert_true(pttl > 500000 && pttl <= 600000);
    expect_int(tcmd(to, "PTTL h2"), -1);
    expect_int(tcmd(to, "PTTL l2"), -1);
    /* COPY REPLACE over what is there: replaced there, kept here */
    expect_int(tcmd(from, "SADD h1 other"), 1);
    expect_ok(migrate(from, to_port, "h1", 5000, "COPY REPLACE"));
    char *here = contents(from, "h1"), *there = contents(to, "h1");
    assert_string_equal(here, "set:1\nother\n");
    assert_string_equal(there, here);
    free(here);
    free(there);
    for (int i = 0; i < NKEYS; i++)
        free(want[i]);
}

static void test_migrate_collections(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *r = start_redis(NULL);
    struct server *t = start_node(NULL);
    tconn *c = tconnect(s->port), *rc = tconnect(r->port), *tc = tconnect(t->port);
    collection_moves(c, rc, r->port); /* the node -> redis-server */
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_ok(tcmd(rc, "FLUSHALL"));
    collection_moves(rc, c, s->port); /* redis-server -> the node */
    expect_ok(tcmd(c, "FLUSHALL"));
    collection_moves(c, tc, t->port); /* node -> node */
    tclose(c);
    tclose(rc);
    tclose(tc);
    node_stop(s);
    node_stop(r);
    node_stop(t);
}

/* A collection changed while MIGRATE waits on its destination is kept
 * here as changed (its payload differs from the one sent), one left as
 * it was is deleted: the "delete only if unchanged" check works for
 * collections, big ones included. */
static void test_collection_written_during_migrate_kept(void **state)
{
    (void)state;
    struct server *s = start_node(NULL);
    struct server *d = start_redis(NULL);
    tconn *c = tconnect(s->port), *w = tconnect(s->port), *dc = tconnect(d->port);
    expect_int(tcmd(c, "HSET h a 1 b 2"), 2);
    expect_int(tcmd(c, "SADD s x y"), 2);
    for (int i = 0; i < 300; i++) {
        expect_int(tcmd(c, "HSET bigh f%d %d", i, i), 1);
        expect_int(tcmd(c, "SADD bigs m%d", i), 1);
    }
    char *bigs = contents(c, "bigs");
    process_stop(d->pid);
    char port[16];
    snprintf(port, sizeof port, "%d", d->port);
    const char *argv[] = { "MIGRATE", "127.0.0.1", port, "", "0", "10000", "KEYS", "h", "s", "bigh", "bigs" };
    tsendv(c, 11, argv);
    usleep(100000);
    /* (redis-server runs these after MIGRATE, on keys made anew: the
     * replies differ, the values asked below are the same) */
    const char *hset[] = { "HSET", "h", "a", "changed" };
    tsendv(w, 4, hset);
    const char *hset2[] = { "HSET", "bigh", "f7", "changed" };
    tsendv(w, 4, hset2);
    usleep(100000);
    assert_int_equal(kill(d->pid, SIGCONT), 0);
    expect_ok(tread(c, 10000));
    for (int i = 0; i < 2; i++) {
        struct rval *v = tread(w, 10000);
        assert_non_null(v);
        assert_int_equal(v->type, R_INT);
        rval_free(v);
    }
    expect_bulk(tcmd(c, "HGET h a"), "changed");
    expect_bulk(tcmd(c, "HGET bigh f7"), "changed");
    expect_int(tcmd(c, "EXISTS s bigs"), 0);
    expect_bulk(tcmd(dc, "HGET h a"), "1");
    expect_bulk(tcmd(dc, "HGET bigh f7"), "7");
    char *got = contents(dc, "bigs");
    assert_string_equal(got, bigs);
    free(got);
    free(bigs);
    expect_int(tcmd(dc, "SCARD s"), 2);
    tclose(c);
    tclose(w);
    tclose(dc);
    node_stop(s);
    node_stop(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_migrate_between_nodes, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_databases, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_bigger_than_a_turn, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_to_redis_and_back, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_errors, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_silent_destination, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_destination_killed, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_auth, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_write_during_migrate_kept, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_replicated, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_connection_kept, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_later_commands_see_keys_gone, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_frees_what_it_used, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_deletes_nothing_once_writes_refused, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_migrate_collections, redis_nodes_teardown),
        cmocka_unit_test_teardown(test_collection_written_during_migrate_kept, redis_nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
