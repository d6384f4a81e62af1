/* HyperLogLog: PFADD, PFCOUNT, PFMERGE against a running server, with Redis
 * 7's replies and error texts, and Redis's own representation: the numbers
 * and bytes asserted here are those redis-server 7.0 gives after the same
 * commands (the test runs unchanged against it: RINGKV_TEST_TARGET=redis),
 * so ringkv passing means the same counts and the same strings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

#define HLL_DENSE_SIZE 12304

static struct server srv;
static tconn *c;

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_ok(tcmd(c, "CONFIG SET hll-sparse-max-bytes 3000"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

/* PFADD key with the elements prefix0 .. prefix(n-1), in commands of up to
 * 1000 elements; the number of them that answered 1. */
static long long pfadd_range(const char *key, const char *prefix, int from, int n)
{
    enum { BATCH = 1000 };
    static char names[BATCH][32];
    const char *argv[BATCH + 2];
    long long changed = 0;

    for (int done = 0; done < n;) {
        int k = n - done < BATCH ? n - done : BATCH;

        argv[0] = "PFADD";
        argv[1] = key;
        for (int i = 0; i < k; i++) {
            snprintf(names[i], sizeof names[i], "%s%d", prefix, from + done + i);
            argv[i + 2] = names[i];
        }
        tsendv(c, k + 2, argv);
        changed += get_int(tread(c, 10000));
        done += k;
    }
    return changed;
}

/* GET key's bytes (a copy the caller frees); *len set. */
static char *get_bytes(const char *key, size_t *len)
{
    struct rval *v = tcmd(c, "GET %s", key);
    char *out;

    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    out = malloc(v->len + 1);
    memcpy(out, v->str, v->len);
    *len = v->len;
    rval_free(v);
    return out;
}

/* FNV-1a of key's value: the dense strings are compared with redis-server's
 * through it. */
static uint64_t value_digest(const char *key)
{
    size_t len;
    char *p = get_bytes(key, &len);
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    free(p);
    return h;
}

/* The encoding byte of key's HLL: 0 dense, 1 sparse. */
static int encoding_of(const char *key)
{
    size_t len;
    char *p = get_bytes(key, &len);
    int enc;

    assert_true(len >= 16);
    enc = p[4];
    free(p);
    return enc;
}

/* SET key to the bytes p[0..len). */
static void set_bytes(const char *key, const char *p, size_t len)
{
    const char *argv[] = { "SET", key, p };
    size_t lens[] = { 3, strlen(key), len };

    tsendb(c, 3, argv, lens);
    expect_ok(tread(c, 5000));
}

static void expect_bytes(const char *key, const char *want, size_t want_len)
{
    size_t len;
    char *p = get_bytes(key, &len);

    assert_int_equal(len, want_len);
    assert_memory_equal(p, want, want_len);
    free(p);
}

static void test_pfadd_replies(void **state)
{
    expect_int(tcmd(c, "PFADD h a b c"), 1);
    expect_int(tcmd(c, "PFADD h a"), 0);
    expect_int(tcmd(c, "PFADD h c b a"), 0);
    expect_int(tcmd(c, "PFADD h a d"), 1);
    /* no element: an existing key is unchanged, a missing one is created */
    expect_int(tcmd(c, "PFADD h"), 0);
    expect_int(tcmd(c, "PFADD e"), 1);
    expect_int(tcmd(c, "EXISTS e"), 1);
    expect_int(tcmd(c, "PFCOUNT e"), 0);
    expect_int(tcmd(c, "PFCOUNT h"), 4);
    expect_int(tcmd(c, "PFCOUNT nokey"), 0);
    expect_status(tcmd(c, "TYPE h"), "string");
    expect_error(tcmd(c, "PFADD"), "ERR wrong number of arguments for 'pfadd' command");
    expect_error(tcmd(c, "PFCOUNT"), "ERR wrong number of arguments for 'pfcount' command");
    expect_error(tcmd(c, "PFMERGE"), "ERR wrong number of arguments for 'pfmerge' command");
}

/* The exact strings: the empty HLL PFADD creates (sparse, one XZERO over the
 * 16384 registers, the cache marked invalid), after three adds, and after
 * PFCOUNT wrote its count into the cache. */
static void test_sparse_bytes(void **state)
{
    static const char empty[] = "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff";
    static const char abc[] = "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80"
                              "\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";
    static const char abc_counted[] = "HYLL\x01\0\0\0\x03\0\0\0\0\0\0\0"
                                      "\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";

    expect_int(tcmd(c, "PFADD e"), 1);
    expect_bytes("e", empty, sizeof empty - 1);
    expect_int(tcmd(c, "PFADD h a b c"), 1);
    expect_bytes("h", abc, sizeof abc - 1);
    expect_int(tcmd(c, "PFCOUNT h"), 3);
    expect_bytes("h", abc_counted, sizeof abc_counted - 1);
    /* nothing new: the cache stays valid */
    expect_int(tcmd(c, "PFADD h b"), 0);
    expect_bytes("h", abc_counted, sizeof abc_counted - 1);
    expect_bulk(tcmd(c, "OBJECT ENCODING h"), "raw");
}

/* Counts of small and large sets, as redis-server estimates them. */
static void test_pfcount_values(void **state)
{
    static const struct { int n; long long count; } sizes[] = {
        { 10, 10 }, { 100, 100 }, { 1000, 995 }, { 10000, 10077 }, { 100000, 100342 },
    };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char key[32];

        snprintf(key, sizeof key, "set%d", sizes[i].n);
        assert_int_equal(pfadd_range(key, "e:", 0, sizes[i].n) > 0, 1);
        expect_int(tcmd(c, "PFCOUNT %s", key), sizes[i].count);
        /* the second time from the cache */
        expect_int(tcmd(c, "PFCOUNT %s", key), sizes[i].count);
    }
    assert_int_equal(value_digest("set100000"), 0xabec102fe1c0251ULL);
}

/* Sparse while small, dense (12304 bytes, encoding 0) once a register needs
 * more than 32 or the string would pass hll-sparse-max-bytes, which CONFIG
 * SET changes. */
static void test_sparse_to_dense(void **state)
{
    struct rval *v = tcmd(c, "CONFIG GET hll-sparse-max-bytes");
    long long len;

    assert_int_equal(v->type == R_ARRAY || v->type == R_MAP, 1);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[1]->str, "3000");
    rval_free(v);

    pfadd_range("grow", "g:", 0, 300);
    assert_int_equal(encoding_of("grow"), 1);
    len = get_int(tcmd(c, "STRLEN grow"));
    assert_true(len < 3000);
    expect_int(tcmd(c, "PFCOUNT grow"), 301);
    pfadd_range("grow", "g:", 300, 2000);
    assert_int_equal(encoding_of("grow"), 0);
    expect_int(tcmd(c, "STRLEN grow"), HLL_DENSE_SIZE);
    expect_int(tcmd(c, "PFCOUNT grow"), 2308);
    assert_int_equal(value_digest("grow"), 0x2942e22dffd9cec7ULL);

    /* a lower limit turns the next HLL dense sooner */
    expect_ok(tcmd(c, "CONFIG SET hll-sparse-max-bytes 100"));
    pfadd_range("small", "s:", 0, 20);
    assert_int_equal(encoding_of("small"), 1);
    pfadd_range("small", "s:", 20, 80);
    assert_int_equal(encoding_of("small"), 0);
    expect_int(tcmd(c, "PFCOUNT small"), 100);
    expect_ok(tcmd(c, "CONFIG SET hll-sparse-max-bytes 3000"));
}

/* PFMERGE: the destination is created if missing and is a source too; all
 * sources sparse keep it sparse, one dense source makes it dense. */
static void test_pfmerge(void **state)
{
    pfadd_range("s1", "x:", 0, 50);
    pfadd_range("s2", "x:", 25, 50);
    pfadd_range("d1", "x:", 0, 5000);
    assert_int_equal(encoding_of("s1"), 1);
    assert_int_equal(encoding_of("d1"), 0);

    expect_ok(tcmd(c, "PFMERGE m s1 s2 nokey"));
    assert_int_equal(encoding_of("m"), 1);
    expect_int(tcmd(c, "PFCOUNT m"), 75);
    expect_int(tcmd(c, "PFCOUNT s1 s2"), 75);
    assert_int_equal(value_digest("m"), 0xf6c1c1ae967efcd6ULL);

    /* into an existing destination, with a dense source */
    expect_ok(tcmd(c, "PFMERGE m d1"));
    assert_int_equal(encoding_of("m"), 0);
    expect_int(tcmd(c, "PFCOUNT m"), 5004);
    assert_int_equal(value_digest("m"), 0x84d75e44b32ba2a5ULL);

    /* no source: an empty HLL */
    expect_ok(tcmd(c, "PFMERGE empty"));
    expect_int(tcmd(c, "PFCOUNT empty"), 0);
    assert_int_equal(encoding_of("empty"), 1);
    expect_ok(tcmd(c, "PFMERGE d1"));
    expect_int(tcmd(c, "PFCOUNT d1"), 5004);
}

/* Keys on different shards of ringkv (the slots of {a} and {b} differ in
 * parity, and the tests run two shards): the union's count, nothing written. */
static void test_cross_shard(void **state)
{
    size_t before_len, after_len;
    char *before, *after;

    pfadd_range("{a}h", "u:", 0, 300);
    pfadd_range("{b}h", "u:", 200, 300);
    before = get_bytes("{a}h", &before_len);
    expect_int(tcmd(c, "PFCOUNT {a}h {b}h"), 502);
    after = get_bytes("{a}h", &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);

    expect_ok(tcmd(c, "PFMERGE {a}m {a}h {b}h"));
    expect_ok(tcmd(c, "PFMERGE {b}m {a}h {b}h"));
    assert_int_equal(value_digest("{a}m"), value_digest("{b}m"));
    expect_int(tcmd(c, "PFCOUNT {a}m"), 502);
    expect_ok(tcmd(c, "SET {b}s text"));
    expect_error(tcmd(c, "PFCOUNT {a}h {b}s"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_error(tcmd(c, "PFMERGE {a}m {b}s"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
}

/* An HLL's bytes set into another key are an HLL: the same count, and the
 * same bytes after the same adds. DUMP/RESTORE too. */
static void test_copy_and_restore(void **state)
{
    size_t len;
    char *bytes;
    struct rval *dump;

    pfadd_range("h", "c:", 0, 120);
    bytes = get_bytes("h", &len);
    set_bytes("copy", bytes, len);
    free(bytes);
    expect_int(tcmd(c, "PFCOUNT copy"), get_int(tcmd(c, "PFCOUNT h")));
    expect_int(tcmd(c, "PFADD copy one more"), 1);
    expect_int(tcmd(c, "PFADD h one more"), 1);
    assert_int_equal(value_digest("copy"), value_digest("h"));

    dump = tcmd(c, "DUMP h");
    assert_int_equal(dump->type, R_BULK);
    {
        const char *argv[] = { "RESTORE", "restored", "0", dump->str };
        size_t lens[] = { 7, 8, 1, dump->len };
        tsendb(c, 4, argv, lens);
        expect_ok(tread(c, 5000));
    }
    rval_free(dump);
    assert_int_equal(value_digest("restored"), value_digest("h"));
    expect_int(tcmd(c, "PFCOUNT restored"), 122);
}

static void test_errors(void **state)
{
    /* a hand-made sparse HLL whose opcodes cover 16383 registers, not 16384 */
    static const char short_sparse[] = "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xfe";
    /* dense encoding, but not the dense size */
    static const char bad_dense[] = "HYLL\x00\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff";
    static const char bad_encoding[] = "HYLL\x02\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff";

    expect_ok(tcmd(c, "SET s hello"));
    expect_error(tcmd(c, "PFADD s a"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_error(tcmd(c, "PFCOUNT s"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_error(tcmd(c, "PFMERGE s"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_ok(tcmd(c, "SET n 12345"));
    expect_error(tcmd(c, "PFADD n a"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_int(tcmd(c, "RPUSH l a"), 1);
    expect_error(tcmd(c, "PFADD l a"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_error(tcmd(c, "PFCOUNT l"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_error(tcmd(c, "PFMERGE m l"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_int(tcmd(c, "EXISTS m"), 0);

    set_bytes("bd", bad_dense, sizeof bad_dense - 1);
    expect_error(tcmd(c, "PFCOUNT bd"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    set_bytes("be", bad_encoding, sizeof bad_encoding - 1);
    expect_error(tcmd(c, "PFADD be x"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    set_bytes("short", short_sparse, sizeof short_sparse - 1);
    expect_error(tcmd(c, "PFCOUNT short"), "INVALIDOBJ Corrupted HLL object detected");
    expect_error(tcmd(c, "PFCOUNT short bd"), "INVALIDOBJ Corrupted HLL object detected");
    expect_error(tcmd(c, "PFMERGE m short"), "INVALIDOBJ Corrupted HLL object detected");
    expect_int(tcmd(c, "EXISTS m"), 0);
    /* PFADD to it: the elements before the one that meets the corruption
     * (here, when the string would turn dense) stay added, as in Redis */
    {
        const char *argv[3002];
        static char names[3000][8];

        argv[0] = "PFADD";
        argv[1] = "short";
        for (int i = 0; i < 3000; i++) {
            snprintf(names[i], sizeof names[i], "%d", i + 1);
            argv[i + 2] = names[i];
        }
        tsendv(c, 3002, argv);
        expect_error(tread(c, 5000), "INVALIDOBJ Corrupted HLL object detected");
    }
    expect_int(tcmd(c, "STRLEN short"), 3000);
    assert_int_equal(value_digest("short"), 0xc83b473c3b989e9bULL);
}

/* A sparse HLL of 131072 XZERO opcodes (2^31 registers: counting them
 * overflowed an int in PFMERGE) is corrupt to every command. */
static void test_sparse_past_int(void **state)
{
    (void)state;
    size_t n = 16 + 2 * 131072;
    char *p = malloc(n);
    assert_non_null(p);
    memcpy(p, "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80", 16);
    for (size_t i = 16; i < n; i += 2) {
        p[i] = 0x7f;
        p[i + 1] = (char)0xff;
    }
    set_bytes("huge", p, n);
    free(p);
    expect_error(tcmd(c, "PFMERGE m huge"), "INVALIDOBJ Corrupted HLL object detected");
    expect_error(tcmd(c, "PFCOUNT huge"), "INVALIDOBJ Corrupted HLL object detected");
    expect_error(tcmd(c, "PFADD huge x"), "INVALIDOBJ Corrupted HLL object detected");
    expect_error(tcmd(c, "PFDEBUG TODENSE huge"), "INVALIDOBJ Corrupted HLL object detected");
    expect_int(tcmd(c, "EXISTS m"), 0);
    expect_int(tcmd(c, "STRLEN huge"), (long long)n);
}

/* A replica holds the master's bytes: from the full sync, then from the
 * stream (PFADD as itself, PFCOUNT's cache write as itself, PFMERGE across
 * shards by its effect), with master and replica on different shard counts.
 * ringkv only (it starts its own nodes). */
/* PFDEBUG's views of an HLL (its encoding, its sparse opcodes, its
 * registers, made dense) and PFSELFTEST, with Redis's replies and errors. */
static void test_pfdebug_and_selftest(void **state)
{
    expect_int(tcmd(c, "PFADD h a"), 1);
    expect_status(tcmd(c, "PFDEBUG ENCODING h"), "sparse");
    struct rval *v = tcmd(c, "PFDEBUG DECODE h");
    assert_int_equal(v->type, R_BULK);
    /* one register set: XZERO runs around one VAL of length 1 */
    int before, value, after;
    if (sscanf(v->str, "Z:%d v:%d,1 Z:%d", &before, &value, &after) != 3 || before + 1 + after != 16384)
        fail_msg("PFDEBUG DECODE: %s", v->str);
    rval_free(v);
    v = tcmd(c, "PFDEBUG GETREG h");
    assert_int_equal(v->n, 16384);
    int set = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->elem[i]->integer != 0) {
            assert_int_equal(v->elem[i]->integer, value);
            assert_int_equal((int)i, before);
            set++;
        }
    }
    assert_int_equal(set, 1);
    rval_free(v);
    expect_status(tcmd(c, "PFDEBUG ENCODING h"), "dense"); /* GETREG made it dense, as Redis's */
    expect_int(tcmd(c, "PFCOUNT h"), 1);
    expect_int(tcmd(c, "PFADD h2 x y"), 1);
    expect_int(tcmd(c, "PFDEBUG TODENSE h2"), 1);
    expect_int(tcmd(c, "PFDEBUG TODENSE h2"), 0);
    expect_int(tcmd(c, "PFCOUNT h2"), 2);
    expect_error(tcmd(c, "PFDEBUG DECODE h2"), "ERR HLL encoding is not sparse");
    expect_error(tcmd(c, "PFDEBUG FOO h2"), "ERR Unknown PFDEBUG subcommand 'FOO'");
    expect_error(tcmd(c, "PFDEBUG ENCODING nokey"), "ERR The specified key does not exist");
    expect_ok(tcmd(c, "SET s x"));
    expect_error(tcmd(c, "PFDEBUG ENCODING s"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_error(tcmd(c, "PFDEBUG ENCODING"), "ERR wrong number of arguments for 'pfdebug' command");
    expect_ok(tcmd(c, "PFSELFTEST"));
}

static void test_replica_same_bytes(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *rc = tconnect(r->port);
    tconn *saved = c;

    c = tconnect(m->port);
    pfadd_range("{a}synced", "r:", 0, 3000);
    pfadd_range("{b}synced", "r:", 0, 30);
    replicaof(rc, m->port);
    wait_synced(c, rc, 20000);

    pfadd_range("{a}sparse", "r:", 0, 40);
    pfadd_range("{b}dense", "r:", 0, 4000);
    assert_true(get_int(tcmd(c, "PFCOUNT {a}sparse")) > 0); /* the caches written */
    assert_true(get_int(tcmd(c, "PFCOUNT {b}dense")) > 0);
    expect_int(tcmd(c, "PFCOUNT {b}synced"), 30);
    expect_ok(tcmd(c, "PFMERGE {a}merged {a}sparse {b}synced"));
    expect_ok(tcmd(c, "PFMERGE {b}merged {a}sparse {b}dense"));
    pfadd_range("{b}dense", "r:", 4000, 100);
    expect_int(tcmd(c, "PFADD {a}empty"), 1);
    wait_synced(c, rc, 20000);
    assert_int_equal(expect_same_data(m->port, r->port), 7);

    tclose(c);
    c = saved;
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pfadd_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pfcount_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_to_dense, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pfmerge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cross_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_and_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_past_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pfdebug_and_selftest, setup, teardown),
        cmocka_unit_test_teardown(test_replica_same_bytes, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
