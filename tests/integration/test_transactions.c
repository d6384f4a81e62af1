/* MULTI / EXEC / DISCARD: queuing, the EXEC array in order whichever shards
 * the keys are on (commands after a cross-shard RENAME/COPY/MSETNX/BITOP see
 * its effects), EXECABORT after a refused command (arity, READONLY,
 * NOREPLICAS, OOM, commands not allowed in MULTI), QUIT/RESET at once, the
 * errors of misuse, a queued bulk past 512 MB; and MSET's shape checked
 * before it is split over shards.
 * Runs against ringkv with 1 and 3 shards (and against redis-server with
 * RINGKV_TEST_TARGET=redis, except the WATCH refusal over shards, which is
 * ringkv's). WATCH: untouched keys, another client's write, the client's
 * own, the same value, a DEL of nothing, expiry, creation, FLUSHALL,
 * what forgets the watches, RESP3's null, and a check-and-set counter
 * shared by two clients. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;
static tconn *c;
static int server_shards; /* 1 on redis-server */

static int start_with(const char *threads)
{
    server_shards = target_is_redis() ? 1 : atoi(threads);
    if (target_is_redis())
        return server_start(&srv, NULL);
    /* DEBUG SLEEP holds a shard (test_watch_across_holds_writes) */
    const char *args[] = { "--threads", threads, "--pin", "no", "--enable-debug-command", "local", NULL };
    return server_start(&srv, args);
}
static int group_setup1(void **state) { return start_with("1"); }
static int group_setup3(void **state) { return start_with("3"); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

static void test_exec_replies_in_order(void **state)
{
    expect_ok(tcmd(c, "MULTI"));
    /* keys chosen to land on different shards of a 3-shard server */
    for (int i = 0; i < 20; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "SET key:%d %d", i, i);
        expect_status(tcmd(c, "%s", cmd), "QUEUED");
    }
    expect_status(tcmd(c, "INCR key:3"), "QUEUED");
    expect_status(tcmd(c, "MGET key:1 key:2 nokey key:19"), "QUEUED");
    expect_status(tcmd(c, "DEL key:5 key:6 key:7"), "QUEUED");
    expect_status(tcmd(c, "INCR key:19"), "QUEUED");
    expect_status(tcmd(c, "INCRBY key:0 notanumber"), "QUEUED"); /* fails when run, inside the array */
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 25);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(v->elem[i]->type, R_STATUS);
        assert_string_equal(v->elem[i]->str, "OK");
    }
    assert_int_equal(v->elem[20]->type, R_INT);
    assert_int_equal(v->elem[20]->integer, 4);
    struct rval *m = v->elem[21];
    assert_int_equal(m->type, R_ARRAY);
    assert_int_equal(m->n, 4);
    assert_string_equal(m->elem[0]->str, "1");
    assert_string_equal(m->elem[1]->str, "2");
    assert_int_equal(m->elem[2]->type, R_NIL);
    assert_string_equal(m->elem[3]->str, "19");
    assert_int_equal(v->elem[22]->integer, 3);
    assert_int_equal(v->elem[23]->integer, 20);
    assert_int_equal(v->elem[24]->type, R_ERROR);
    rval_free(v);
    /* the writes happened */
    expect_bulk(tcmd(c, "GET key:19"), "20");
    expect_int(tcmd(c, "EXISTS key:5 key:6 key:7 key:8"), 1);
}

static void test_queued_error_aborts(void **state)
{
    expect_ok(tcmd(c, "SET k before"));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET k during"), "QUEUED");
    expect_error(tcmd(c, "SET k"), "ERR wrong number of arguments for 'set' command");
    expect_error_prefix(tcmd(c, "NOSUCHCOMMAND x"), "ERR unknown command 'NOSUCHCOMMAND'");
    expect_error(tcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_bulk(tcmd(c, "GET k"), "before"); /* nothing of it ran */
}

static void test_discard_and_misuse(void **state)
{
    expect_error(tcmd(c, "EXEC"), "ERR EXEC without MULTI");
    expect_error(tcmd(c, "DISCARD"), "ERR DISCARD without MULTI");
    expect_ok(tcmd(c, "MULTI"));
    expect_error(tcmd(c, "MULTI"), "ERR MULTI calls can not be nested");
    expect_status(tcmd(c, "SET d 1"), "QUEUED");
    expect_error(tcmd(c, "WATCH d"), "ERR WATCH inside MULTI is not allowed");
    expect_ok(tcmd(c, "DISCARD"));
    expect_nil(tcmd(c, "GET d"));
    /* an empty transaction */
    expect_ok(tcmd(c, "MULTI"));
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 0);
    rval_free(v);
}

/* ---- WATCH ----------------------------------------------------------------
 * Each test runs on a key of every shard (a hash tag per shard): the
 * connection's own shard and the others. Against redis-server the tags
 * are any three. */

#define NTAGS 3
static char tags[NTAGS][16];

/* The shard (of 3) a key lives on: its hash slot modulo the shard count. */
static int shard_of(const char *key);

/* A hash tag for each shard of a 3-shard server ({w0}.. otherwise). */
static void find_tags(void)
{
    for (int t = 0; t < NTAGS; t++)
        snprintf(tags[t], sizeof tags[t], "{w%d}", t);
    if (target_is_redis())
        return;
    bool found[NTAGS] = { false };
    for (int i = 0, left = NTAGS; i < 1000 && left > 0; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "{w%d}", i);
        int sh = shard_of(tag);
        if (!found[sh]) {
            found[sh] = true;
            snprintf(tags[sh], sizeof tags[sh], "%s", tag);
            left--;
        }
    }
}

/* EXEC's reply is a transaction that ran (an array of n) or was aborted
 * by a watched key (a null array). */
static void expect_exec_ran(struct rval *v, size_t n)
{
    if (!v || v->type != R_ARRAY || v->n != n) {
        char *t = v ? rval_text(v) : NULL;
        fail_msg("EXEC: expected an array of %zu, got %s", n, t ? t : "nothing");
    }
    rval_free(v);
}

static void test_watch_untouched_runs(void **state)
{
    find_tags();
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        expect_ok(tcmd(c, "SET %sk 1", g));
        expect_ok(tcmd(c, "WATCH %sk %sother", g, g));
        expect_bulk(tcmd(c, "GET %sk", g), "1");
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_status(tcmd(c, "GET %sk", g), "QUEUED");
        struct rval *v = tcmd(c, "EXEC");
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 2);
        assert_int_equal(v->elem[0]->integer, 2);
        assert_string_equal(v->elem[1]->str, "2");
        rval_free(v);
        /* an empty transaction under a watch */
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_exec_ran(tcmd(c, "EXEC"), 0);
    }
}

/* Another client's write of a watched key between WATCH and EXEC aborts
 * the transaction: nothing of it runs. */
static void test_watch_other_client_write(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        expect_ok(tcmd(c, "SET %sk 1", g));
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(b, "SET %sk 10", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_status(tcmd(c, "SET %sside x", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_bulk(tcmd(c, "GET %sk", g), "10");
        expect_nil(tcmd(c, "GET %sside", g));
        /* the queued commands on the other side of the write: still aborted */
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_int(tcmd(b, "INCR %sk", g), 11);
        expect_nil(tcmd(c, "EXEC"));
        expect_bulk(tcmd(c, "GET %sk", g), "11");
        /* writes of commands over keys of several shards count too: a
         * RENAME from keys of every shard, an MSET split over shards */
        for (int from = 0; from < NTAGS; from++) {
            expect_ok(tcmd(b, "SET %ssrc renamed%d", tags[from], from));
            expect_ok(tcmd(c, "WATCH %sk", g));
            expect_ok(tcmd(b, "RENAME %ssrc %sk", tags[from], g));
            expect_ok(tcmd(c, "MULTI"));
            expect_status(tcmd(c, "SET %sk mine", g), "QUEUED");
            expect_nil(tcmd(c, "EXEC"));
        }
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(b, "MSET %sx 1 %sx 1 %sk 12 %sx 1", tags[0], tags[1], g, tags[2]));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %sk mine", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_bulk(tcmd(c, "GET %sk", g), "12");
    }
    tclose(b);
}

/* The client's own write before MULTI counts too (Redis), as does a SET
 * of the same value; a DEL of a key that does not exist changes nothing. */
static void test_watch_own_write_same_value_and_noop(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        expect_ok(tcmd(c, "SET %sk v", g));
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(c, "SET %sk v2", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %sk v3", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_bulk(tcmd(c, "GET %sk", g), "v2");

        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(b, "SET %sk v2", g)); /* the value it had */
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %sk v3", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_bulk(tcmd(c, "GET %sk", g), "v2");

        expect_ok(tcmd(c, "WATCH %sk %smissing", g, g));
        expect_int(tcmd(b, "DEL %smissing", g), 0);
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %sk v3", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);
        expect_bulk(tcmd(c, "GET %sk", g), "v3");
    }
    tclose(b);
}

/* A watched key that expires before EXEC changed; so did one that did not
 * exist and was created meanwhile. */
static void test_watch_expiry_and_creation(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        /* live when watched (the PTTL after WATCH says so: on a slow run
         * the next, longer expiry is tried), gone before EXEC, nothing
         * reading it in between */
        bool checked = false;
        for (int ms = 100; ms <= 10000 && !checked; ms *= 10) {
            expect_ok(tcmd(c, "SET %sttl v PX %d", g, ms));
            expect_ok(tcmd(c, "WATCH %sttl", g));
            struct rval *pttl = tcmd(c, "PTTL %sttl", g);
            long long left = pttl->integer;
            rval_free(pttl);
            if (left <= 0) {
                expect_ok(tcmd(c, "UNWATCH"));
                continue;
            }
            struct timespec ts = { (ms + 100) / 1000, (long)((ms + 100) % 1000) * 1000000L };
            nanosleep(&ts, NULL);
            expect_ok(tcmd(c, "MULTI"));
            expect_status(tcmd(c, "SET %sttl again", g), "QUEUED");
            expect_nil(tcmd(c, "EXEC"));
            expect_nil(tcmd(c, "GET %sttl", g));
            checked = true;
        }
        assert_true(checked);
        /* expired, and the expiry seen by a read of another client first */
        expect_ok(tcmd(c, "SET %sttl v PX 100000", g));
        expect_ok(tcmd(c, "WATCH %sttl", g));
        expect_int(tcmd(b, "PEXPIRE %sttl 1", g), 1);
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "GET %sttl", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));

        expect_int(tcmd(c, "DEL %snew", g), 0);
        expect_ok(tcmd(c, "WATCH %snew", g));
        expect_ok(tcmd(b, "SET %snew 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %snew 2", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_bulk(tcmd(c, "GET %snew", g), "1");
    }
    tclose(b);
}

/* FLUSHALL changes every watched key that existed; one that did not exist
 * and still does not is unchanged (Redis's rule). */
static void test_watch_flushall(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        expect_ok(tcmd(c, "SET %sk 1", g));
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(b, "FLUSHALL"));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %sk 2", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_nil(tcmd(c, "GET %sk", g));

        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(b, "FLUSHALL"));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %sk 2", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);
        expect_bulk(tcmd(c, "GET %sk", g), "2");
    }
    tclose(b);
}

/* UNWATCH, DISCARD and EXEC (run or aborted) forget the watched keys: a
 * later write does not abort the next transaction. */
static void test_watch_forgotten(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(c, "UNWATCH"));
        expect_ok(tcmd(b, "SET %sk 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);

        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_ok(tcmd(c, "DISCARD"));
        expect_ok(tcmd(b, "SET %sk 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);

        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);
        expect_ok(tcmd(b, "SET %sk 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);

        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(b, "SET %sk 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_ok(tcmd(b, "SET %sk 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);

        /* an EXEC that aborts on a queued error forgets them too */
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_error(tcmd(c, "SET %sk", g), "ERR wrong number of arguments for 'set' command");
        expect_error(tcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
        expect_ok(tcmd(b, "SET %sk 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);

        /* RESET too */
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_status(tcmd(c, "RESET"), "RESET");
        expect_ok(tcmd(b, "SET %sk 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_exec_ran(tcmd(c, "EXEC"), 1);
    }
    tclose(b);
}

/* WATCH inside MULTI is refused and the transaction goes on; of several
 * watched keys, one written is enough to abort. */
static void test_watch_inside_multi_and_several_keys(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %sk 1", g), "QUEUED");
        expect_error(tcmd(c, "WATCH %sk", g), "ERR WATCH inside MULTI is not allowed");
        expect_exec_ran(tcmd(c, "EXEC"), 1);

        expect_ok(tcmd(c, "MSET %sa 1 %sb 1 %sc 1", g, g, g));
        expect_ok(tcmd(c, "WATCH %sa %sb", g, g));
        expect_ok(tcmd(c, "WATCH %sc %sa", g, g)); /* a again: still one watch */
        expect_int(tcmd(b, "INCR %sb", g), 2);
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "INCR %sa", g), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_bulk(tcmd(c, "GET %sa", g), "1");
    }
    tclose(b);
}

/* A WATCH of many keys, sent twice (each key watched once), then one of
 * them written: the EXEC is aborted; untouched, it runs. */
static void test_watch_many_keys(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    enum { NKEYS = 5000 };
    const char **argv = malloc(sizeof(char *) * (NKEYS + 1));
    char (*names)[64] = malloc(sizeof(*names) * NKEYS);
    assert_non_null(argv);
    assert_non_null(names);
    for (int t = 0; t < NTAGS; t++) {
        argv[0] = "WATCH";
        for (int i = 0; i < NKEYS; i++) {
            snprintf(names[i], sizeof names[i], "%sm:%d", tags[t], i);
            argv[i + 1] = names[i];
        }
        for (int round = 0; round < 2; round++) {
            for (int twice = 0; twice < 2; twice++) {
                tsendv(c, NKEYS + 1, argv);
                expect_ok(tread(c, 10000));
            }
            if (round == 1)
                expect_ok(tcmd(b, "SET %s x", names[NKEYS / 2]));
            expect_ok(tcmd(c, "MULTI"));
            expect_status(tcmd(c, "SET %s y", names[0]), "QUEUED");
            if (round == 0)
                expect_exec_ran(tcmd(c, "EXEC"), 1);
            else
                expect_nil(tcmd(c, "EXEC"));
        }
    }
    free(names);
    free(argv);
    tclose(b);
}

/* A watched transaction keeps EXEC's semantics wherever its shard is:
 * errors in their places, a blocking command that does not block, the
 * writes made. */
static void test_watch_exec_semantics(void **state)
{
    find_tags();
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        expect_ok(tcmd(c, "WATCH %sk %sempty", g, g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %sk 1", g), "QUEUED");
        expect_status(tcmd(c, "INCR %sk", g), "QUEUED");
        expect_status(tcmd(c, "LPUSH %sk x", g), "QUEUED");
        expect_status(tcmd(c, "BLPOP %sempty 0", g), "QUEUED");
        expect_status(tcmd(c, "MSET %sa 1 %sb", g, g), "QUEUED");
        expect_status(tcmd(c, "RPUSH %slist a b", g), "QUEUED");
        expect_status(tcmd(c, "GET %sk", g), "QUEUED");
        struct rval *v = tcmd(c, "EXEC");
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 7);
        assert_string_equal(v->elem[0]->str, "OK");
        assert_int_equal(v->elem[1]->integer, 2);
        assert_int_equal(v->elem[2]->type, R_ERROR);
        assert_string_equal(v->elem[2]->str, "WRONGTYPE Operation against a key holding the wrong kind of value");
        assert_int_equal(v->elem[3]->type, R_NIL);
        assert_int_equal(v->elem[4]->type, R_ERROR);
        assert_string_equal(v->elem[4]->str, "ERR wrong number of arguments for 'mset' command");
        assert_int_equal(v->elem[5]->integer, 2);
        assert_string_equal(v->elem[6]->str, "2");
        rval_free(v);
        expect_int(tcmd(c, "LLEN %slist", g), 2);
    }
}

/* RESP3: an aborted EXEC answers the null (_). */
static void test_watch_resp3_null(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    rval_free(tcmd(c, "HELLO 3"));
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        expect_ok(tcmd(c, "WATCH %sk", g));
        expect_ok(tcmd(b, "SET %sk 1", g));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "GET %sk", g), "QUEUED");
        tsend_raw(c, "EXEC\r\n", 6);
        char got[8] = { 0 };
        size_t have = 0;
        while (have < 3) {
            struct pollfd pfd = { tfd(c), POLLIN, 0 };
            assert_true(poll(&pfd, 1, 5000) == 1);
            ssize_t r = read(tfd(c), got + have, 3 - have);
            assert_true(r > 0);
            have += (size_t)r;
        }
        assert_memory_equal(got, "_\r\n", 3);
    }
    tclose(b);
}

/* Watched keys and a transaction over several shards: checked on each
 * shard, then run (ringkv: in two steps, key_locks.h); a changed watched
 * key on one shard aborts it whole, nothing run on any; a command that
 * spans shards itself or needs the connection is refused there (the
 * transaction dropped, the watches forgotten). On redis-server the same
 * transactions simply run (one keyspace), and the refusals do not apply. */
static void test_watch_across_shards(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    /* watched on one shard, written on another */
    expect_ok(tcmd(c, "WATCH %sk", tags[0]));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %sk 1", tags[1]), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    expect_exec_ran(v, 1);
    expect_bulk(tcmd(c, "GET %sk", tags[1]), "1");
    /* every shard watched and written; the replies in the queue's order */
    expect_ok(tcmd(c, "SET %sn 10", tags[2]));
    expect_ok(tcmd(c, "WATCH %sa %sb %sn", tags[0], tags[1], tags[2]));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "INCR %sn", tags[2]), "QUEUED");
    expect_status(tcmd(c, "RPUSH %sl x y", tags[0]), "QUEUED");
    expect_status(tcmd(c, "PING"), "QUEUED");
    expect_status(tcmd(c, "GET %sk", tags[1]), "QUEUED");
    expect_status(tcmd(c, "INCR %sn", tags[2]), "QUEUED");
    v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 5);
    assert_int_equal(v->elem[0]->integer, 11);
    assert_int_equal(v->elem[1]->integer, 2);
    assert_string_equal(v->elem[2]->str, "PONG");
    assert_string_equal(v->elem[3]->str, "1");
    assert_int_equal(v->elem[4]->integer, 12);
    rval_free(v);
    /* a watched key changed on one shard: nothing runs, on any shard */
    expect_ok(tcmd(c, "WATCH %sa %sb", tags[0], tags[2]));
    expect_ok(tcmd(b, "SET %sb changed", tags[2]));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %sa 1", tags[0]), "QUEUED");
    expect_status(tcmd(c, "SET %sc 1", tags[1]), "QUEUED");
    expect_nil(tcmd(c, "EXEC"));
    expect_nil(tcmd(c, "GET %sa", tags[0]));
    expect_nil(tcmd(c, "GET %sc", tags[1]));
    /* forgotten: the next WATCH starts afresh */
    expect_ok(tcmd(c, "WATCH %sa %sb", tags[0], tags[2]));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %sa 1", tags[0]), "QUEUED");
    expect_exec_ran(tcmd(c, "EXEC"), 1);
    tclose(b);
    if (target_is_redis() || server_shards == 1)
        return;
    /* ringkv: a command over several shards itself, or one that needs the
     * connection, cannot run in a part: refused, nothing run */
    const char want[] = "ERR WATCH with a command that spans shards or needs the connection, in a "
                        "transaction over several shards of this node (ringkv has 3 shards): give the keys a "
                        "common hash tag, as {user:1}:a {user:1}:b";
    expect_ok(tcmd(c, "WATCH %sk", tags[0]));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %sz 1", tags[0]), "QUEUED");
    expect_status(tcmd(c, "MSET %sx 1 %sy 2", tags[1], tags[2]), "QUEUED");
    expect_error(tcmd(c, "EXEC"), want);
    expect_nil(tcmd(c, "GET %sz", tags[0]));
    expect_ok(tcmd(c, "WATCH %sa %sb", tags[0], tags[2]));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "CLIENT SETNAME x"), "QUEUED");
    expect_error(tcmd(c, "EXEC"), want);
    /* forgotten: the next transaction runs as usual, over shards too */
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %sk 2", tags[1]), "QUEUED");
    expect_status(tcmd(c, "SET %sk 2", tags[2]), "QUEUED");
    expect_exec_ran(tcmd(c, "EXEC"), 2);
}

/* Poll GET key on x until it answers want (a bound, not a pass/fail). */
static void wait_value(tconn *x, const char *key, const char *want)
{
    long long deadline = now_ms() + 10000;
    for (;;) {
        struct rval *v = tcmd(x, "GET %s", key);
        bool same = v && v->type == R_BULK && strcmp(v->str, want) == 0;
        rval_free(v);
        if (same)
            return;
        if (now_ms() > deadline)
            fail_msg("the replica did not get %s = %s", key, want);
        usleep(10000);
    }
}

/* A replica's client may WATCH: a write replicated from the master
 * changes the key, and so does a full sync; a watched key the master did
 * not write does not. */
static void test_watch_on_replica(void **state)
{
    find_tags();
    struct server rep;
    char threads[8];
    snprintf(threads, sizeof threads, "%d", server_shards);
    const char *args[] = { "--threads", threads, "--pin", "no", NULL };
    assert_int_equal(server_start(&rep, target_is_redis() ? NULL : args), 0);
    tconn *rc = tconnect(rep.port), *rb = tconnect(rep.port);
    expect_ok(tcmd(rc, "REPLICAOF 127.0.0.1 %d", srv.port));
    for (int t = 0; t < NTAGS; t++) {
        const char *g = tags[t];
        char key[64];
        snprintf(key, sizeof key, "%sk", g);
        expect_ok(tcmd(c, "SET %s 1", key));
        wait_value(rb, key, "1");
        expect_ok(tcmd(rc, "WATCH %s", key));
        expect_ok(tcmd(rc, "MULTI"));
        expect_status(tcmd(rc, "GET %s", key), "QUEUED");
        expect_exec_ran(tcmd(rc, "EXEC"), 1);

        expect_ok(tcmd(rc, "WATCH %s", key));
        expect_ok(tcmd(c, "SET %s 2", key));
        wait_value(rb, key, "2");
        expect_ok(tcmd(rc, "MULTI"));
        expect_status(tcmd(rc, "GET %s", key), "QUEUED");
        expect_nil(tcmd(rc, "EXEC"));
    }
    /* a full sync replaces the replica's data set: a watched key of it
     * changed, in the master's data set or not (promoted and attached
     * again, the replica's history is its own: the master sends
     * everything) */
    char key[64], own[64];
    snprintf(key, sizeof key, "%sk", tags[0]);
    snprintf(own, sizeof own, "%sown", tags[1]);
    tconn *rd = tconnect(rep.port);
    expect_ok(tcmd(rb, "REPLICAOF NO ONE"));
    expect_ok(tcmd(rb, "SET %s 1", own)); /* not in the master's data set */
    expect_ok(tcmd(rc, "WATCH %s", key));
    expect_ok(tcmd(rd, "WATCH %s", own));
    expect_ok(tcmd(rb, "REPLICAOF 127.0.0.1 %d", srv.port));
    long long deadline = now_ms() + 10000;
    for (;;) {
        struct rval *v = tcmd(rb, "INFO replication");
        bool up = v && v->str && strstr(v->str, "master_link_status:up") &&
                  strstr(v->str, "master_sync_in_progress:0");
        rval_free(v);
        if (up)
            break;
        if (now_ms() > deadline)
            fail_msg("the replica did not sync again");
        usleep(10000);
    }
    expect_ok(tcmd(rc, "MULTI"));
    expect_status(tcmd(rc, "GET %s", key), "QUEUED");
    expect_nil(tcmd(rc, "EXEC"));
    expect_nil(tcmd(rd, "GET %s", own));
    expect_ok(tcmd(rd, "MULTI"));
    expect_status(tcmd(rd, "GET %s", own), "QUEUED");
    expect_nil(tcmd(rd, "EXEC"));
    tclose(rd);
    tclose(rb);
    tclose(rc);
    assert_int_equal(server_stop(&rep), 0);
}

/* Check-and-set on one counter by two clients: each WATCH, GET, MULTI,
 * SET n+1, EXEC, retried on a null, N times; the counter ends at exactly
 * 2N whatever the interleaving (a lost update would leave it short).
 * First in lockstep (the second client's EXEC always follows the first's
 * write), then two processes at full speed. */
#define CAS_ROUNDS 300

static long long get_counter(tconn *x, const char *key)
{
    struct rval *v = tcmd(x, "GET %s", key);
    long long n = v && v->type == R_BULK ? atoll(v->str) : 0;
    rval_free(v);
    return n;
}

/* One check-and-set attempt: 1 if its EXEC ran, 0 if a watched key
 * changed, -1 on no or a wrong reply. */
static int cas_attempt(tconn *x, const char *key)
{
    rval_free(tcmd(x, "WATCH %s", key));
    long long n = get_counter(x, key);
    rval_free(tcmd(x, "MULTI"));
    rval_free(tcmd(x, "SET %s %lld", key, n + 1));
    struct rval *v = tcmd(x, "EXEC");
    int ran = !v ? -1 : v->type == R_ARRAY && v->n == 1 ? 1 : v->type == R_NIL ? 0 : -1;
    rval_free(v);
    return ran;
}

/* Attempts until one runs: false if one failed. */
static bool cas_increment(tconn *x, const char *key)
{
    int r;
    while ((r = cas_attempt(x, key)) == 0)
        ;
    return r == 1;
}

/* The shard thread serving connection x (CLIENT INFO's io-thread). */
static int serving_shard(tconn *x)
{
    struct rval *v = tcmd(x, "CLIENT INFO");
    const char *f = v && (v->type == R_BULK || v->type == R_VERBATIM) ? strstr(v->str, " io-thread=") : NULL;
    assert_non_null(f);
    int shard = atoi(f + strlen(" io-thread="));
    rval_free(v);
    return shard;
}

/* A new connection served by shard `shard` (the kernel spreads them). */
static tconn *conn_on_shard(int shard)
{
    for (int i = 0; i < 256; i++) {
        tconn *x = tconnect(srv.port);
        if (serving_shard(x) == shard)
            return x;
        tclose(x);
    }
    fail_msg("no connection served by shard %d", shard);
    return NULL;
}

/* ringkv: between a transaction's check and its run over several shards,
 * a plain write of one of its keys waits, and lands after it. Made
 * visible by holding one shard in DEBUG SLEEP: the transaction has taken
 * its key on the other shard and waits for the sleeping one; an INCR of
 * that key meanwhile is answered only after the transaction ran, with the
 * transaction's value + 1 (had it gone first, the transaction's SET would
 * have overwritten it). */
static void test_watch_across_holds_writes(void **state)
{
    if (target_is_redis() || server_shards < 3)
        skip(); /* one keyspace: nothing between a check and a run */
    find_tags();
    char a[64], b[64];
    snprintf(a, sizeof a, "%sheld", tags[1]);
    snprintf(b, sizeof b, "%sheld", tags[2]);
    /* a connection served by b's shard, to put it to sleep; the
     * transaction's and the writer's served by the other two */
    tconn *sleeper = conn_on_shard(2), *tx = conn_on_shard(0), *w = conn_on_shard(1);
    tclose(c);
    c = tx;
    expect_ok(tcmd(c, "WATCH %s %s", a, b));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %s 100", a), "QUEUED");
    expect_status(tcmd(c, "SET %s 100", b), "QUEUED");
    const char *sleep_argv[] = { "DEBUG", "SLEEP", "0.6" };
    tsendv(sleeper, 3, sleep_argv);
    usleep(100 * 1000); /* b's shard asleep */
    const char *exec_argv[] = { "EXEC" };
    tsendv(c, 1, exec_argv);
    usleep(100 * 1000); /* a taken, b's check waiting */
    long long t0 = now_ms();
    struct rval *v = tcmd(w, "INCR %s", a);
    long long waited = now_ms() - t0;
    assert_non_null(v);
    assert_int_equal(v->type, R_INT);
    assert_int_equal(v->integer, 101);
    rval_free(v);
    print_message("the INCR waited %lld ms for the transaction\n", waited);
    assert_true(waited >= 200);
    expect_exec_ran(tread(c, 5000), 2);
    expect_ok(tread(sleeper, 5000));
    expect_bulk(tcmd(c, "GET %s", a), "101");
    tclose(w);
    tclose(sleeper);
}

/* A check-and-set over two keys on two shards: WATCH both, read both,
 * write both + 1. */
static int cas2_attempt(tconn *x, const char *a, const char *b)
{
    rval_free(tcmd(x, "WATCH %s %s", a, b));
    long long na = get_counter(x, a), nb = get_counter(x, b);
    rval_free(tcmd(x, "MULTI"));
    rval_free(tcmd(x, "SET %s %lld", a, na + 1));
    rval_free(tcmd(x, "SET %s %lld", b, nb + 1));
    struct rval *v = tcmd(x, "EXEC");
    int ran = !v ? -1 : v->type == R_ARRAY && v->n == 2 ? 1 : v->type == R_NIL ? 0 : -1;
    rval_free(v);
    return ran;
}

/* Two processes increment two counters on two shards with check-and-set
 * transactions, two others with plain INCRs: no increment is lost (each
 * EXEC's check and writes came with no other write of the keys between
 * them: the keys are held between the two steps, a plain write waits). */
static void test_watch_across_check_and_set(void **state)
{
    find_tags();
    char a[64], b[64];
    snprintf(a, sizeof a, "%sca", tags[1]);
    snprintf(b, sizeof b, "%scb", tags[2]);
    enum { PROCS = 4, ROUNDS = 150 };
    pid_t kids[PROCS];
    fflush(NULL);
    for (int k = 0; k < PROCS; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            tconn *x = tconnect(srv.port);
            for (int i = 0; i < ROUNDS; i++) {
                if (k >= PROCS / 2) { /* plain writers */
                    struct rval *va = tcmd(x, "INCR %s", a), *vb = tcmd(x, "INCR %s", b);
                    bool ok = va && va->type == R_INT && vb && vb->type == R_INT;
                    rval_free(va);
                    rval_free(vb);
                    if (!ok)
                        _exit(1);
                    continue;
                }
                int r;
                while ((r = cas2_attempt(x, a, b)) == 0)
                    ;
                if (r < 0)
                    _exit(1);
            }
            tclose(x);
            _exit(0);
        }
    }
    for (int k = 0; k < PROCS; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(get_counter(c, a), PROCS * ROUNDS);
    assert_int_equal(get_counter(c, b), PROCS * ROUNDS);
}

static void test_watch_check_and_set(void **state)
{
    find_tags();
    tconn *b = tconnect(srv.port);
    for (int t = 0; t < NTAGS; t++) {
        char key[64];
        snprintf(key, sizeof key, "%scounter", tags[t]);
        /* lockstep: both read, both try; the second must fail and retry */
        for (int i = 0; i < 20; i++) {
            expect_ok(tcmd(c, "WATCH %s", key));
            expect_ok(tcmd(b, "WATCH %s", key));
            long long nc = get_counter(c, key), nb = get_counter(b, key);
            assert_int_equal(nc, nb);
            expect_ok(tcmd(c, "MULTI"));
            expect_status(tcmd(c, "SET %s %lld", key, nc + 1), "QUEUED");
            expect_ok(tcmd(b, "MULTI"));
            expect_status(tcmd(b, "SET %s %lld", key, nb + 1), "QUEUED");
            expect_exec_ran(tcmd(c, "EXEC"), 1);
            expect_nil(tcmd(b, "EXEC"));
            assert_true(cas_increment(b, key));
        }
        assert_int_equal(get_counter(c, key), 40);
        expect_int(tcmd(c, "DEL %s", key), 1);

        /* two processes */
        fflush(NULL);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            tconn *x = tconnect(srv.port);
            for (int i = 0; i < CAS_ROUNDS; i++)
                if (!cas_increment(x, key))
                    _exit(1);
            tclose(x);
            _exit(0);
        }
        for (int i = 0; i < CAS_ROUNDS; i++)
            assert_true(cas_increment(c, key));
        int status = 0;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(get_counter(c, key), 2 * CAS_ROUNDS);
    }
    tclose(b);
}

static void test_resp3_exec(void **state)
{
    rval_free(tcmd(c, "HELLO 3"));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "GET missing"), "QUEUED");
    expect_status(tcmd(c, "SET x 1"), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->type, R_NIL);
    assert_string_equal(v->elem[1]->str, "OK");
    rval_free(v);
}

/* An MSET / MSETNX whose last key has no value is refused whole, before any
 * part of it reaches another shard: none of its keys is written. */
static void test_mset_shape_checked_before_split(void **state)
{
    expect_error(tcmd(c, "MSET k1 1 k2 2 k3 3 k4 4 k5 5 k6"),
                 "ERR wrong number of arguments for 'mset' command");
    expect_int(tcmd(c, "EXISTS k1 k2 k3 k4 k5 k6"), 0);
    expect_error(tcmd(c, "MSETNX k1 1 k2 2 k3 3 k4 4 k5 5 k6"),
                 "ERR wrong number of arguments for 'msetnx' command");
    expect_int(tcmd(c, "EXISTS k1 k2 k3 k4 k5 k6"), 0);
    /* inside MULTI it is queued (the check is the command's own, as in
     * Redis) and fails whole when EXEC runs it */
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "MSET k1 1 k2 2 k3 3 k4 4 k5 5 k6"), "QUEUED");
    expect_status(tcmd(c, "EXISTS k1 k2 k3 k4 k5 k6"), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->type, R_ERROR);
    assert_string_equal(v->elem[0]->str, "ERR wrong number of arguments for 'mset' command");
    assert_int_equal(v->elem[1]->integer, 0);
    rval_free(v);
    expect_int(tcmd(c, "EXISTS k1 k2 k3 k4 k5 k6"), 0);
    expect_ok(tcmd(c, "MSET k1 1 k2 2 k3 3 k4 4 k5 5 k6 6"));
    expect_int(tcmd(c, "EXISTS k1 k2 k3 k4 k5 k6"), 6);
}

/* Inside EXEC, the commands after a multi-key command whose keys span shards
 * (RENAME, COPY, MSETNX, BITOP: run on copies of their keys) see its
 * effects, as they would one after another in Redis. */
static void test_exec_waits_for_cross_shard_commands(void **state)
{
    for (int i = 0; i < 8; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "src:%d", i);
        snprintf(b, sizeof b, "dst:%d", i);
        expect_ok(tcmd(c, "SET %s hello%d", a, i));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "RENAME %s %s", a, b), "QUEUED");
        expect_status(tcmd(c, "GET %s", b), "QUEUED");
        expect_status(tcmd(c, "EXISTS %s", a), "QUEUED");
        expect_status(tcmd(c, "COPY %s %s", b, a), "QUEUED");
        expect_status(tcmd(c, "APPEND %s !", a), "QUEUED");
        expect_status(tcmd(c, "MSETNX m1:%d x m2:%d y", i, i), "QUEUED");
        expect_status(tcmd(c, "MGET m1:%d m2:%d", i, i), "QUEUED");
        expect_status(tcmd(c, "BITOP OR bits:%d %s %s", i, a, b), "QUEUED");
        expect_status(tcmd(c, "STRLEN bits:%d", i), "QUEUED");
        struct rval *v = tcmd(c, "EXEC");
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 9);
        char want[32];
        snprintf(want, sizeof want, "hello%d", i);
        assert_int_equal(v->elem[0]->type, R_STATUS);
        assert_int_equal(v->elem[1]->type, R_BULK);
        assert_string_equal(v->elem[1]->str, want);
        assert_int_equal(v->elem[2]->integer, 0);
        assert_int_equal(v->elem[3]->integer, 1);
        assert_int_equal(v->elem[4]->integer, (long long)strlen(want) + 1);
        assert_int_equal(v->elem[5]->integer, 1);
        assert_int_equal(v->elem[6]->type, R_ARRAY);
        assert_int_equal(v->elem[6]->elem[0]->type, R_BULK);
        assert_string_equal(v->elem[6]->elem[0]->str, "x");
        assert_string_equal(v->elem[6]->elem[1]->str, "y");
        assert_int_equal(v->elem[7]->integer, (long long)strlen(want) + 1);
        assert_int_equal(v->elem[8]->integer, (long long)strlen(want) + 1);
        rval_free(v);
    }
    /* pipelined in one write: what follows EXEC waits for the whole of it */
    expect_ok(tcmd(c, "SET p:a moved"));
    const char pipe[] = "MULTI\r\nRENAME p:a p:b\r\nEXEC\r\nGET p:b\r\nEXISTS p:a\r\n";
    tsend_raw(c, pipe, sizeof(pipe) - 1);
    expect_ok(tread(c, 5000));
    expect_status(tread(c, 5000), "QUEUED");
    struct rval *v = tread(c, 5000);
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    rval_free(v);
    expect_bulk(tread(c, 5000), "moved");
    expect_int(tread(c, 5000), 0);
}

/* RESET and QUIT run at once inside MULTI (RESET leaves the transaction). */
static void test_reset_and_quit_not_queued(void **state)
{
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET r 1"), "QUEUED");
    expect_status(tcmd(c, "RESET"), "RESET");
    expect_error(tcmd(c, "EXEC"), "ERR EXEC without MULTI");
    expect_nil(tcmd(c, "GET r"));
    tconn *q = tconnect(srv.port);
    expect_ok(tcmd(q, "MULTI"));
    expect_status(tcmd(q, "SET r 1"), "QUEUED");
    expect_ok(tcmd(q, "QUIT"));
    assert_true(tclosed(q, 3000));
    tclose(q);
    expect_nil(tcmd(c, "GET r"));
    /* UNWATCH, unlike WATCH, is queued */
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "UNWATCH"), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    assert_string_equal(v->elem[0]->str, "OK");
    rval_free(v);
}

/* Commands Redis refuses inside MULTI, and those that may write no reply
 * (which would leave EXEC's array short), are refused at queue time. */
static void test_no_multi_commands_refused(void **state)
{
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET n 1"), "QUEUED");
    expect_error(tcmd(c, "SHUTDOWN"), "ERR Command not allowed inside a transaction");
    expect_error(tcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_nil(tcmd(c, "GET n"));
    if (target_is_redis())
        return; /* Redis queues REPLCONF ACK, and its EXEC then writes a short array */
    expect_ok(tcmd(c, "MULTI"));
    expect_error(tcmd(c, "REPLCONF ACK 0"), "ERR Command not allowed inside a transaction");
    expect_error(tcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_status(tcmd(c, "PING"), "PONG");
}

/* Writes a read-only replica or min-replicas-to-write refuses, and any
 * command while over maxmemory, are refused when queued: EXEC aborts. */
static void test_refusals_abort_exec(void **state)
{
    /* a replica of a master that is not there is still a read-only replica */
    expect_ok(tcmd(c, "REPLICAOF 127.0.0.1 1"));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "GET ro"), "QUEUED");
    expect_error(tcmd(c, "SET ro 1"), "READONLY You can't write against a read only replica.");
    expect_error(tcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_ok(tcmd(c, "REPLICAOF NO ONE"));

    expect_ok(tcmd(c, "CONFIG SET min-replicas-to-write 1"));
    expect_ok(tcmd(c, "MULTI"));
    expect_error(tcmd(c, "SET nr 1"), "NOREPLICAS Not enough good replicas to write.");
    expect_error(tcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_ok(tcmd(c, "CONFIG SET min-replicas-to-write 0"));
    expect_nil(tcmd(c, "GET nr"));

    for (int i = 0; i < 300; i++)
        expect_ok(tcmd(c, "SET fill:%d 0123456789012345678901234567890123456789", i));
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy noeviction"));
    expect_ok(tcmd(c, "CONFIG SET maxmemory 10"));
    expect_ok(tcmd(c, "MULTI"));
    expect_error(tcmd(c, "SET oom 1"), "OOM command not allowed when used memory > 'maxmemory'.");
    expect_error(tcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_ok(tcmd(c, "CONFIG SET maxmemory 0"));
    expect_nil(tcmd(c, "GET oom"));
}

/* EXEC runs a queued value larger than Redis's default 512 MB bulk limit
 * when proto-max-bulk-len allowed it in (the replay reads back what the
 * input accepted). */
static void test_exec_bulk_past_512mb(void **state)
{
    size_t big = 513u * 1024 * 1024;
    char *value = malloc(big);
    assert_non_null(value);
    memset(value, 'v', big);
    expect_ok(tcmd(c, "CONFIG SET proto-max-bulk-len 1gb"));
    expect_ok(tcmd(c, "MULTI"));
    const char *argv[] = { "SET", "big", value };
    size_t lens[] = { 3, 3, big };
    tsendb(c, 3, argv, lens);
    free(value);
    expect_status(tread(c, 60000), "QUEUED");
    tsendv(c, 1, (const char *[]){ "EXEC" });
    struct rval *v = tread(c, 60000);
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    assert_string_equal(v->elem[0]->str, "OK");
    rval_free(v);
    expect_int(tcmd(c, "STRLEN big"), (long long)big);
    expect_int(tcmd(c, "DEL big"), 1);
    expect_ok(tcmd(c, "CONFIG SET proto-max-bulk-len 512mb"));
}

/* A transaction with writes whose EXEC finds the node a read-only replica,
 * short of min-replicas-to-write or over maxmemory (changed by another
 * client after the commands were queued) is discarded whole, as in Redis. */
static void test_refusals_at_exec_abort_it(void **state)
{
    tconn *b = tconnect(srv.port);
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET late 1"), "QUEUED");
    expect_ok(tcmd(b, "REPLICAOF 127.0.0.1 1"));
    expect_error(tcmd(c, "EXEC"),
                 "EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica.");
    expect_ok(tcmd(b, "REPLICAOF NO ONE"));
    expect_nil(tcmd(c, "GET late"));

    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET late 1"), "QUEUED");
    expect_ok(tcmd(b, "CONFIG SET min-replicas-to-write 1"));
    expect_error(tcmd(c, "EXEC"), "EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write.");
    expect_ok(tcmd(b, "CONFIG SET min-replicas-to-write 0"));
    expect_nil(tcmd(c, "GET late"));

    for (int i = 0; i < 300; i++)
        expect_ok(tcmd(c, "SET fill:%d 0123456789012345678901234567890123456789", i));
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy noeviction"));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET late 1"), "QUEUED");
    expect_ok(tcmd(b, "CONFIG SET maxmemory 10"));
    expect_error(tcmd(c, "EXEC"),
                 "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.");
    expect_ok(tcmd(b, "CONFIG SET maxmemory 0"));
    expect_nil(tcmd(c, "GET late"));
    /* a transaction of reads still runs */
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "GET late"), "QUEUED");
    expect_ok(tcmd(b, "REPLICAOF 127.0.0.1 1"));
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    rval_free(v);
    expect_ok(tcmd(b, "REPLICAOF NO ONE"));
    tclose(b);
}

static int shard_of(const char *key)
{
    struct rval *v = tcmd(c, "CLUSTER KEYSLOT %s", key);
    int slot = (int)v->integer;
    rval_free(v);
    return slot % 3;
}

/* An MSET over shards while one of them is over its share of maxmemory
 * (noeviction) is refused whole, as Redis's one check refuses it: none of
 * its keys is written, not even those of the shards still under it. */
static void test_mset_oom_refused_whole(void **state)
{
    if (target_is_redis())
        skip(); /* CLUSTER KEYSLOT needs cluster mode there; the rule is Redis's own */
    char full[32] = "", other[32] = "";
    for (int i = 0; i < 1000 && (!full[0] || !other[0]); i++) {
        char k[32];
        snprintf(k, sizeof k, "om:%d", i);
        int sh = shard_of(k);
        if (sh == 0 && !full[0])
            snprintf(full, sizeof full, "%s", k);
        else if (sh == 1 && !other[0])
            snprintf(other, sizeof other, "%s", k);
    }
    /* fill shard 0 only, well past a third of maxmemory */
    int filled = 0;
    for (int i = 0; filled < 400; i++) {
        char k[32];
        snprintf(k, sizeof k, "fill:%d", i);
        if (shard_of(k) != 0)
            continue;
        expect_ok(tcmd(c, "SET %s 0123456789012345678901234567890123456789012345678901234567890123", k));
        filled++;
    }
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy noeviction"));
    expect_ok(tcmd(c, "CONFIG SET maxmemory 30000")); /* 10000 bytes a shard of 3: shard 0 is over, 1 and 2 are not */
    expect_error(tcmd(c, "MSET %s 1 %s 2", full, other), "OOM command not allowed when used memory > 'maxmemory'.");
    expect_int(tcmd(c, "EXISTS %s %s", full, other), 0);
    expect_ok(tcmd(c, "CONFIG SET maxmemory 0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exec_replies_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_error_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard_and_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_untouched_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_other_client_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_own_write_same_value_and_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_expiry_and_creation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_flushall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_inside_multi_and_several_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_many_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_exec_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_resp3_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_across_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_on_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_check_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_across_check_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_across_holds_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp3_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mset_shape_checked_before_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_waits_for_cross_shard_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_and_quit_not_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_multi_commands_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_abort_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_bulk_past_512mb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_at_exec_abort_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mset_oom_refused_whole, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("one shard", tests, group_setup1, group_teardown);
    if (!target_is_redis())
        failed += cmocka_run_group_tests_name("three shards", tests, group_setup3, group_teardown);
    return failed;
}
