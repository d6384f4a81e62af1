/* MULTI / EXEC / DISCARD: queuing, the EXEC array in order whichever shards
 * the keys are on (commands after a cross-shard RENAME/COPY/MSETNX/BITOP see
 * its effects), EXECABORT after a refused command (arity, READONLY,
 * NOREPLICAS, OOM, commands not allowed in MULTI), QUIT/RESET at once, the
 * errors of misuse, a queued bulk past 512 MB; and MSET's shape checked
 * before it is split over shards.
 * Runs against ringkv with 1 and 3 shards (and against redis-server with
 * RINGKV_TEST_TARGET=redis, except the WATCH refusal, which is ringkv's). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;
static tconn *c;

static int start_with(const char *threads)
{
    if (target_is_redis())
        return server_start(&srv, NULL);
    const char *args[] = { "--threads", threads, "--pin", "no", NULL };
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

static void test_watch_refused(void **state)
{
    if (target_is_redis())
        skip();
    /* refused loudly rather than ignored: an ignored WATCH would break the
     * optimistic locking a client builds on it */
    expect_error(tcmd(c, "WATCH a"), "ERR WATCH is not supported by ringkv yet");
    expect_ok(tcmd(c, "UNWATCH"));
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

/* The shard (of 3) a key lives on: its hash slot modulo the shard count. */
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
        cmocka_unit_test_setup_teardown(test_watch_refused, setup, teardown),
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
