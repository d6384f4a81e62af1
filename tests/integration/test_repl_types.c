/* Replication of collections: a replica that full-syncs from a master
 * holding hashes (small, big, with expiry) gets them whole, and master and
 * replica stay identical through a random mix of hash writes, including
 * HSETs of more fields than fit 64 arguments, HINCRBYFLOAT, RENAME and COPY
 * of hashes across shards, SET over a hash, DEL and expiry. Compared by a
 * digest of each node: every key's type, its TTL's presence and its whole
 * value (a hash's field/value pairs sorted). Master and replica have
 * different thread counts, so keys land on different shards. */
#include <signal.h>
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
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

/* ---- a node's digest ---- */

struct text {
    char  *p;
    size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
}

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Key by key in sorted order: "key type ttl? value" lines. */
static char *digest(int port, size_t *nkeys)
{
    tconn *c = tconnect(port);
    size_t n;
    char **keys = scan_all(c, &n);
    struct text t = { 0 };
    for (size_t i = 0; i < n; i++) {
        struct rval *ty = tcmd(c, "TYPE %s", keys[i]);
        assert_int_equal(ty->type, R_STATUS);
        long long pttl = get_int(tcmd(c, "PTTL %s", keys[i]));
        char head[512];
        int hl = snprintf(head, sizeof head, "%s %s %s ", keys[i], ty->str, pttl > 0 ? "ttl" : "-");
        text_add(&t, head, (size_t)hl);
        if (strcmp(ty->str, "hash") == 0) {
            struct rval *v = tcmd(c, "HGETALL %s", keys[i]);
            assert_int_equal(v->type, R_ARRAY);
            char **pairs = malloc((v->n / 2 + 1) * sizeof *pairs);
            for (size_t k = 0; k < v->n; k += 2) {
                size_t l = v->elem[k]->len + v->elem[k + 1]->len + 2;
                pairs[k / 2] = malloc(l);
                snprintf(pairs[k / 2], l, "%s=%s", v->elem[k]->str, v->elem[k + 1]->str);
            }
            qsort(pairs, v->n / 2, sizeof *pairs, cmp_pair);
            for (size_t k = 0; k < v->n / 2; k++) {
                text_add(&t, pairs[k], strlen(pairs[k]));
                text_add(&t, ",", 1);
                free(pairs[k]);
            }
            free(pairs);
            rval_free(v);
        } else if (strcmp(ty->str, "set") == 0) {
            struct rval *v = tcmd(c, "SMEMBERS %s", keys[i]);
            assert_int_equal(v->type, R_ARRAY);
            char **ms = malloc((v->n + 1) * sizeof *ms);
            for (size_t k = 0; k < v->n; k++)
                ms[k] = v->elem[k]->str;
            qsort(ms, v->n, sizeof *ms, cmp_pair);
            for (size_t k = 0; k < v->n; k++) {
                text_add(&t, ms[k], strlen(ms[k]));
                text_add(&t, ",", 1);
            }
            free(ms);
            rval_free(v);
        } else if (strcmp(ty->str, "list") == 0) {
            struct rval *v = tcmd(c, "LRANGE %s 0 -1", keys[i]);
            assert_int_equal(v->type, R_ARRAY);
            for (size_t k = 0; k < v->n; k++) {
                text_add(&t, v->elem[k]->str, v->elem[k]->len);
                text_add(&t, ",", 1);
            }
            rval_free(v);
        } else {
            struct rval *v = tcmd(c, "GET %s", keys[i]);
            assert_int_equal(v->type, R_BULK);
            text_add(&t, v->str, v->len);
            rval_free(v);
        }
        text_add(&t, "\n", 1);
        rval_free(ty);
    }
    free_keys(keys, n);
    tclose(c);
    *nkeys = n;
    if (!t.p)
        text_add(&t, "", 0);
    return t.p;
}

static void expect_same_digest(int port_a, int port_b, size_t min_keys)
{
    size_t na, nb;
    char *a = digest(port_a, &na), *b = digest(port_b, &nb);
    if (strcmp(a, b) != 0) {
        size_t i = 0;
        while (a[i] && a[i] == b[i])
            i++;
        size_t from = i > 200 ? i - 200 : 0;
        fail_msg("digests differ (%zu vs %zu keys) near: master '%.300s' replica '%.300s'", na, nb,
                 a + from, b + from);
    }
    assert_true(na >= min_keys);
    free(a);
    free(b);
}

/* ---- writing ---- */

/* HSET key f<from..to) in commands of 200 fields; strict: each must succeed
 * (else a WRONGTYPE, for a key a random write SET, is fine). */
static void hset_fields(tconn *c, const char *key, int from, int to, const char *tag, bool strict)
{
    for (int i = from; i < to; i += 200) {
        static char cmd[65536];
        int len = snprintf(cmd, sizeof cmd, "HSET %s", key);
        for (int j = i; j < i + 200 && j < to; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " f%d %s%d", j, tag, j);
        struct rval *v = tcmd(c, "%s", cmd);
        if (strict && v->type != R_INT) {
            char *tx = rval_text(v);
            fail_msg("HSET: %s", tx);
        }
        rval_free(v);
    }
}

static void load_hashes(tconn *c, const char *prefix, int n)
{
    char key[64];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s:%d", prefix, i);
        hset_fields(c, key, 0, 1 + i % 40, "v", true);
        if (i % 5 == 0)
            expect_int(tcmd(c, "EXPIRE %s 10000", key), 1);
    }
    hset_fields(c, "big", 0, 5000, "b", true);          /* a hashtable of 5000 fields */
    for (int i = 0; i < 30; i++) { /* sets: intsets, listpacks, hashtables */
        char cmd[16384];
        int len = snprintf(cmd, sizeof cmd, "SADD %s:set:%d", prefix, i);
        for (int j = 0; j < 1 + i * 40; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, i % 3 ? " %d" : " m%d", j * 3);
        struct rval *v = tcmd(c, "%s", cmd);
        assert_int_equal(v->type, R_INT);
        rval_free(v);
    }
    for (int b = 0; b < 5000; b += 500) {
        char cmd[16384];
        int len = snprintf(cmd, sizeof cmd, "SADD bigset");
        for (int j = b; j < b + 500; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " member-%d", j);
        rval_free(tcmd(c, "%s", cmd));
    }
    expect_int(tcmd(c, "EXPIRE bigset 100000"), 1);
    for (int i = 0; i < 20; i++) { /* lists: one node, several, and a big one */
        char cmd[16384];
        int len = snprintf(cmd, sizeof cmd, "RPUSH l:%d", i);
        for (int j = 0; j < 1 + i * 30; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " e%d", j);
        rval_free(tcmd(c, "%s", cmd));
    }
    for (int b = 0; b < 5000; b += 500) {
        char cmd[16384];
        int len = snprintf(cmd, sizeof cmd, "RPUSH biglist");
        for (int j = b; j < b + 500; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " item-%d", j);
        rval_free(tcmd(c, "%s", cmd));
    }
    expect_int(tcmd(c, "PEXPIRE big 100000000"), 1);
    expect_ok(tcmd(c, "SET plain hello"));
}

/* One random hash write on c. */
static void random_write(tconn *c, unsigned *seed)
{
    char k1[32], k2[32];
    snprintf(k1, sizeof k1, "h:%u", rand_r(seed) % 60);
    snprintf(k2, sizeof k2, "h:%u", rand_r(seed) % 60);
    int f = (int)(rand_r(seed) % 80);
    struct rval *v;
    char s1[32], s2[32], s3[32];
    snprintf(s1, sizeof s1, "h:set:%u", rand_r(seed) % 30);
    snprintf(s2, sizeof s2, "h:set:%u", rand_r(seed) % 30);
    snprintf(s3, sizeof s3, "h:set:%u", rand_r(seed) % 30);
    unsigned m = rand_r(seed) % 200;
    char l1[32], l2[32];
    snprintf(l1, sizeof l1, "l:%u", rand_r(seed) % 20);
    snprintf(l2, sizeof l2, "l:%u", rand_r(seed) % 20);
    switch (rand_r(seed) % 38) {
    case 24: case 25:
        v = tcmd(c, "%s %s a%u b%u", m % 2 ? "LPUSH" : "RPUSH", l1, m, m);
        break;
    case 26:
        v = tcmd(c, "%s %s %u", m % 2 ? "LPOP" : "RPOP", l1, m % 4);
        break;
    case 27:
        v = tcmd(c, "LINSERT %s %s e%u i%u", l1, m % 2 ? "BEFORE" : "AFTER", m % 30, m);
        break;
    case 28:
        v = tcmd(c, "LSET %s %d s%u", l1, (int)(m % 20) - 10, m);
        break;
    case 29:
        v = tcmd(c, "LREM %s %d a%u", l1, (int)(m % 5) - 2, m % 10);
        break;
    case 30:
        v = tcmd(c, "LTRIM %s %u -%u", l1, m % 3, 1 + m % 3);
        break;
    case 31:
        v = tcmd(c, "LMOVE %s %s %s %s", l1, l2, m % 2 ? "LEFT" : "RIGHT", m % 3 ? "LEFT" : "RIGHT");
        break;
    case 32:
        v = tcmd(c, "RPOPLPUSH %s %s", l1, l2);
        break;
    case 33:
        v = tcmd(c, "LMPOP 2 %s %s %s COUNT %u", l1, l2, m % 2 ? "LEFT" : "RIGHT", 1 + m % 3);
        break;
    case 34:
        v = tcmd(c, "%s %s 0.01", m % 2 ? "BLPOP" : "BRPOP", l1);
        break;
    case 35:
        v = tcmd(c, "BLMPOP 0.01 1 %s LEFT COUNT 2", l1);
        break;
    case 36:
        v = tcmd(c, "LPUSHX %s x%u", l1, m);
        break;
    case 37:
        v = tcmd(c, "RPUSH biglist n%u", m);
        break;
    case 12: case 13:
        v = m % 2 ? tcmd(c, "SADD %s %u %u", s1, m * 3, m + 1) : tcmd(c, "SADD %s m%u x%u", s1, m, m);
        break;
    case 14:
        v = tcmd(c, "SREM %s %u m%u x%u", s1, m * 3, m, m);
        break;
    case 15:
        v = rand_r(seed) % 2 ? tcmd(c, "SPOP %s", s1) : tcmd(c, "SPOP %s %u", s1, m % 7);
        break;
    case 16:
        v = tcmd(c, "SMOVE %s %s %u", s1, s2, m * 3);
        break;
    case 17:
        v = tcmd(c, "SINTERSTORE %s %s %s", s1, s2, s3);
        break;
    case 18:
        v = tcmd(c, "SUNIONSTORE %s %s %s", s1, s2, s3);
        break;
    case 19:
        v = tcmd(c, "SDIFFSTORE %s %s %s", s1, s2, s3);
        break;
    case 20:
        v = tcmd(c, "RENAME %s %s", s1, s2);
        break;
    case 21:
        v = tcmd(c, "COPY %s %s REPLACE", s1, s2);
        break;
    case 22:
        v = tcmd(c, "SMOVE bigset %s member-%u", s1, m);
        break;
    case 23:
        v = tcmd(c, "SPOP bigset %u", m % 5);
        break;
    case 0: case 1: case 2:
        v = tcmd(c, "HSET %s f%d x%u f%d y", k1, f, rand_r(seed) % 1000, f + 1);
        break;
    case 3:
        hset_fields(c, k1, f, f + 50, "m", false); /* 100 arguments and more */
        return;
    case 4:
        v = tcmd(c, "HDEL %s f%d f%d f%d", k1, f, f + 1, f + 2);
        break;
    case 5:
        v = tcmd(c, "HINCRBY %s n%d %d", k1, f % 5, (int)(rand_r(seed) % 100) - 50);
        break;
    case 6:
        v = tcmd(c, "HINCRBYFLOAT %s fl%d 0.%u", k1, f % 3, rand_r(seed) % 1000);
        break;
    case 7:
        v = tcmd(c, "RENAME %s %s", k1, k2);
        break;
    case 8:
        v = tcmd(c, "COPY %s %s REPLACE", k1, k2);
        break;
    case 9:
        v = rand_r(seed) % 4 == 0 ? tcmd(c, "SET %s s%d", k1, f) : tcmd(c, "DEL %s", k1);
        break;
    case 10:
        v = tcmd(c, "HSETNX %s f%d nx", k1, f);
        break;
    default:
        v = rand_r(seed) % 3 == 0 ? tcmd(c, "PEXPIRE %s 30", k1) : tcmd(c, "EXPIRE %s 5000", k1);
        break;
    }
    /* WRONGTYPE (a key SET to a string) and "no such key" are fine */
    rval_free(v);
}

/* ---- tests ---- */

static void test_full_sync_and_stream(void **state)
{
    (void)state;
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_hashes(mc, "h", 60);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 20000);
    expect_same_digest(m->port, r->port, 114);
    expect_int(tcmd(rc, "LLEN biglist"), 5000);
    expect_bulk(tcmd(rc, "LINDEX biglist 4999"), "item-4999");
    expect_bulk(tcmd(rc, "OBJECT ENCODING bigset"), "hashtable");
    expect_int(tcmd(rc, "SCARD bigset"), 5000);
    expect_bulk(tcmd(rc, "OBJECT ENCODING big"), "hashtable");
    expect_int(tcmd(rc, "HLEN big"), 5000);

    unsigned seed = 12345;
    for (int i = 0; i < 6000; i++)
        random_write(mc, &seed);
    usleep(100 * 1000); /* the PEXPIRE 30 keys are gone on the master by now */
    for (int i = 0; i < 60; i++)
        rval_free(tcmd(mc, "EXISTS h:%d", i)); /* lazily expired: their DELs go out */
    wait_synced(mc, rc, 20000);
    expect_same_digest(m->port, r->port, 10);

    /* clients blocked on lists, served by pushes: the replica gets the pops */
    tconn *w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = tconnect(m->port);
        char key[16];
        snprintf(key, sizeof key, "wait%d", i);
        const char *argv[] = { i % 2 ? "BRPOP" : "BLPOP", key, "0" };
        tsendv(w[i], 3, argv);
    }
    usleep(100 * 1000);
    for (int i = 0; i < 4; i++)
        expect_int(tcmd(mc, "RPUSH wait%d x y", i), 2);
    for (int i = 0; i < 4; i++) {
        struct rval *v = tread(w[i], 2000);
        assert_non_null(v);
        assert_int_equal(v->n, 2);
        rval_free(v);
        tclose(w[i]);
    }
    wait_synced(mc, rc, 20000);
    expect_same_digest(m->port, r->port, 10);
    expect_int(tcmd(rc, "LLEN wait0"), 1);
    expect_int(tcmd(rc, "EXISTS biglist"), 1);

    /* and a second replica syncing from this state */
    struct server *r2 = node_start((const char *[]){ "--threads", "2", NULL });
    tconn *r2c = tconnect(r2->port);
    replicaof(r2c, m->port);
    wait_synced(mc, r2c, 20000);
    expect_same_digest(m->port, r2->port, 10);
    tclose(r2c);
    tclose(mc);
    tclose(rc);
    node_stop(r2);
    node_stop(r);
    node_stop(m);
}

/* The replica is syncing from m: stop it (SIGSTOP) once the master sends
 * its snapshot, so the snapshot stalls at its window, half way through the
 * first big collection it met. */
static void hold_sync(tconn *mc, struct server *r)
{
    long long deadline = now_ms() + 30000;
    for (;;) {
        char *mi = info_text(mc, "replication");
        bool syncing = strstr(mi, "state=wait_bgsave") != NULL;
        free(mi);
        if (syncing)
            break;
        assert_true(now_ms() < deadline);
        usleep(1000);
    }
    process_stop(r->pid);
    usleep(300 * 1000); /* the master fills the window meanwhile */
}

/* A big hash and a big set go to a replica a part per loop turn while
 * they keep changing: the replica is stopped (SIGSTOP) as soon as its sync
 * starts, so the snapshot stalls half way while HINCRBY, HDEL, HSET, SREM,
 * SADD, SPOP and HINCRBYFLOAT change both collections, then continues; the
 * replica must end identical (an increment applied both in a part sent
 * after it and from the stream would show). */
#define BIGF "field-with-a-long-name-to-fill-the-window-"
static void test_big_collections_during_sync(void **state)
{
    (void)state;
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    /* 400k fields of 50 bytes: a snapshot well past the master's 8 MB window
     * of unsent snapshot bytes, so it stalls while the replica is stopped;
     * values are numbers, for HINCRBY */
    for (int i = 0; i < 400000; i += 200) {
        static char cmd[65536];
        int len = snprintf(cmd, sizeof cmd, "HSET bh");
        for (int j = i; j < i + 200; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " " BIGF "%d %d", j, j);
        rval_free(tcmd(mc, "%s", cmd));
    }
    for (int b = 0; b < 100000; b += 500) {
        char cmd[16384];
        int len = snprintf(cmd, sizeof cmd, "SADD bs");
        for (int j = b; j < b + 500; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " m%d", j);
        rval_free(tcmd(mc, "%s", cmd));
    }
    replicaof(rc, m->port);
    hold_sync(mc, r);
    unsigned seed = 777;
    int writes = 0;
    for (;;) {
        int f = (int)(rand_r(&seed) % 400000);
        switch (writes % 8) {
        case 0: case 1: rval_free(tcmd(mc, "HINCRBY bh " BIGF "%d 3", f)); break;
        case 2: rval_free(tcmd(mc, "HDEL bh " BIGF "%d", (int)(rand_r(&seed) % 400000))); break;
        case 3: rval_free(tcmd(mc, "HSET bh new%d x", writes)); break;
        case 4: rval_free(tcmd(mc, "SREM bs m%d", (int)(rand_r(&seed) % 100000))); break;
        case 5: rval_free(tcmd(mc, "SADD bs n%d", writes)); break;
        case 6: rval_free(tcmd(mc, "SPOP bs 2")); break;
        default: rval_free(tcmd(mc, "HINCRBYFLOAT bh " BIGF "%d 0.5", f)); break;
        }
        if (++writes == 3000)
            kill(r->pid, SIGCONT);
        if (writes > 3000 && writes % 200 == 0) {
            char *ri = info_text(rc, "replication");
            bool done = info_num(ri, "master_sync_in_progress") == 0 && strstr(ri, "master_link_status:up");
            free(ri);
            if (done)
                break;
            assert_true(writes < 1000000);
        }
    }
    expect_int(tcmd(mc, "EXPIRE bh 100000"), 1);
    wait_synced(mc, rc, 30000);
    expect_same_digest(m->port, r->port, 2);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* HSET key BIGF<i> <i> for i in [0, n), 200 fields a command. */
static void big_hash(tconn *c, const char *key, int n)
{
    for (int i = 0; i < n; i += 200) {
        static char cmd[65536];
        int len = snprintf(cmd, sizeof cmd, "HSET %s", key);
        for (int j = i; j < i + 200 && j < n; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " " BIGF "%d %d", j, j);
        rval_free(tcmd(c, "%s", cmd));
    }
}

/* Until the replica's full sync is over (its link up, no sync running). */
static void wait_sync_over(tconn *rc)
{
    long long deadline = now_ms() + 180000;
    for (;;) {
        char *ri = info_text(rc, "replication");
        bool done = info_num(ri, "master_sync_in_progress") == 0 && strstr(ri, "master_link_status:up");
        free(ri);
        if (done)
            return;
        assert_true(now_ms() < deadline);
        usleep(10 * 1000);
    }
}

/* A big hash whose parts are still being sent is renamed, renamed over,
 * copied, deleted and made anew, restored over, and last made a list:
 * the keys a write names while their parts are pending must end on the
 * replica as they are on the master (a pending part is found again by
 * the key's name; the stream carries whole values for RENAME, COPY and
 * RESTORE while a snapshot runs, and the parts that go on re-send current
 * elements, except into a value of another type). One shard on each
 * side, so the snapshot's order is that of the one store. The keys share
 * a slot ({p}): outside a snapshot RENAME and COPY between them go as
 * themselves (JOURNAL_VALUE_COPY), which here, with the source half sent,
 * would leave the replica the half. The whole values take their time to
 * encode in a sanitizer build under load: a minute for those replies. */
#define SLOW_MS 60000
static void test_keys_replaced_during_parts(void **state)
{
    (void)state;
    struct server *m = node_start((const char *[]){ "--threads", "1", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    big_hash(mc, "{p}bh", 300000); /* about 20 MB: past the 8 MB window */
    big_hash(mc, "{p}other", 5000);
    big_hash(mc, "{p}small", 50);
    expect_int(tcmd(mc, "EXPIRE {p}bh 100000"), 1);
    replicaof(rc, m->port);
    hold_sync(mc, r);
    expect_ok(tcmd_within(mc, SLOW_MS, "RENAME {p}bh {p}bh2"));
    expect_int(tcmd(mc, "HSET {p}bh2 after-rename 1"), 1);
    expect_int(tcmd(mc, "HDEL {p}bh2 " BIGF "299999"), 1);
    expect_int(tcmd_within(mc, SLOW_MS, "COPY {p}bh2 {p}bhcopy"), 1);
    expect_int(tcmd(mc, "HSET {p}bh made-anew 1"), 1);
    expect_int(tcmd(mc, "DEL {p}bh"), 1);
    expect_ok(tcmd_within(mc, SLOW_MS, "RENAME {p}other {p}bh"));
    struct rval *d = tcmd(mc, "DUMP {p}small");
    assert_int_equal(d->type, R_BULK);
    const char *argv[] = { "RESTORE", "{p}bhcopy", "0", d->str, "REPLACE" };
    size_t lens[] = { 7, 9, 1, d->len, 7 };
    tsendb(mc, 5, argv, lens);
    expect_ok(tread(mc, SLOW_MS));
    rval_free(d);
    expect_ok(tcmd_within(mc, SLOW_MS, "RENAME {p}bh2 {p}bh3"));
    /* bh, whose parts are pending as a hash's (a cursor in its table),
     * becomes a list longer than that cursor: the cursor means nothing
     * there (taken as an index, the list's tail would go twice) */
    expect_ok(tcmd_within(mc, SLOW_MS, "RENAME {p}bh {p}bhx"));
    for (int i = 0; i < 600000; i += 1000) {
        static char cmd[16384];
        int len = snprintf(cmd, sizeof cmd, "RPUSH {p}bh");
        for (int j = i; j < i + 1000; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " e%d", j);
        rval_free(tcmd(mc, "%s", cmd));
    }
    kill(r->pid, SIGCONT);
    wait_sync_over(rc);
    wait_synced(mc, rc, 60000);
    expect_int(tcmd(rc, "HLEN {p}bh3"), 300000);
    expect_int(tcmd(rc, "HLEN {p}bhx"), 5000);
    expect_int(tcmd(rc, "LLEN {p}bh"), 600000);
    expect_int(tcmd(rc, "HLEN {p}bhcopy"), 50);
    expect_same_digest(m->port, r->port, 4);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* RENAME, RENAMENX and COPY between keys of one slot go to the replica as
 * themselves, not as the value (which for a big collection meant encoding
 * it whole in the command's turn: ~100 ms of the shard for 300k fields,
 * 20 MB of stream and AOF): a few hundred stream bytes for collections of
 * 50k elements, as Redis sends. The replica (another thread count) ends
 * identical, TTLs too; a RENAME across slots still arrives right. */
static void test_value_copies_as_commands(void **state)
{
    (void)state;
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "3", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    big_hash(mc, "{v}h", 50000);
    expect_int(tcmd(mc, "EXPIRE {v}h 100000"), 1);
    for (int i = 0; i < 50000; i += 1000) {
        static char cmd[65536];
        int len = snprintf(cmd, sizeof cmd, "RPUSH {v}l");
        for (int j = i; j < i + 1000; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " " BIGF "%d", j);
        rval_free(tcmd(mc, "%s", cmd));
        len = snprintf(cmd, sizeof cmd, "ZADD {v}z");
        for (int j = i; j < i + 1000; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %d " BIGF "%d", j, j);
        rval_free(tcmd(mc, "%s", cmd));
    }
    replicaof(rc, m->port);
    wait_sync_over(rc);
    wait_synced(mc, rc, 60000);
    long long before = info_field(mc, "replication", "master_repl_offset");
    expect_ok(tcmd(mc, "RENAME {v}h {v}h2"));
    expect_int(tcmd(mc, "RENAMENX {v}l {v}l2"), 1);
    expect_int(tcmd(mc, "RENAMENX {v}l2 {v}z"), 0);
    expect_int(tcmd(mc, "COPY {v}z {v}z2"), 1);
    expect_int(tcmd(mc, "COPY {v}l2 {v}z2"), 0);
    expect_int(tcmd(mc, "COPY {v}l2 {v}z2 REPLACE"), 1);
    expect_ok(tcmd(mc, "RENAME {v}h2 {v}z"));
    long long sent = info_field(mc, "replication", "master_repl_offset") - before;
    assert_true(sent > 0);
    if (sent > 2000)
        fail_msg("six renames and copies of 50k-element collections took %lld stream bytes", sent);
    expect_ok(tcmd(mc, "RENAME {v}z2 across-slots"));
    /* in a transaction and from a script, the same */
    expect_ok(tcmd(mc, "MULTI"));
    expect_status(tcmd(mc, "RENAME {v}l2 {v}m"), "QUEUED");
    expect_status(tcmd(mc, "COPY {v}m {v}l2"), "QUEUED");
    rval_free(tcmd(mc, "EXEC"));
    const char *script[] = { "EVAL", "redis.call('RENAME', KEYS[1], KEYS[2]) return redis.call('COPY', KEYS[2], KEYS[3])",
                             "3", "{v}m", "{v}n", "{v}o" };
    tsendv(mc, 6, script);
    expect_int(tread(mc, 10000), 1);
    wait_synced(mc, rc, 60000);
    expect_int(tcmd(rc, "HLEN {v}z"), 50000);
    expect_int(tcmd(rc, "LLEN {v}l2"), 50000);
    expect_int(tcmd(rc, "LLEN {v}n"), 50000);
    expect_int(tcmd(rc, "LLEN {v}o"), 50000);
    expect_int(tcmd(rc, "LLEN across-slots"), 50000);
    expect_int(tcmd(rc, "EXISTS {v}h {v}h2 {v}l {v}z2 {v}m"), 0);
    assert_true(get_int(tcmd(rc, "TTL {v}z")) > 99000);
    expect_same_digest(m->port, r->port, 5);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

/* A big list goes a part per loop turn too (head to tail, RPUSH after
 * RPUSH): while its sync is held half way, pushes, pops, LSET, LTRIM,
 * LINSERT, LREM and moves between it and other lists of its shard
 * (RPOPLPUSH, LMOVE) change it; each must find the list whole on the
 * replica, or the indexes the remaining parts start from would have
 * shifted. One move with a list that may be on the other shard goes
 * through the cross-shard path (the list's whole value as a record, 30 MB
 * of stream: only one, under the replica's output limits). Then the sync goes on while the writes do,
 * and small lists are pushed, most before the snapshot meets them (a
 * list's frames replace what the stream made of it before them). */
#define BIGL "list-element-with-a-long-name-to-fill-the-window-"
#define SMALL_LISTS 20000
static void list_write(tconn *mc, unsigned *seed, int n)
{
    unsigned x = rand_r(seed);
    int side = (int)(x / 16 % 4);
    struct rval *v;
    switch (n % 14) {
    case 0: v = tcmd(mc, "LPUSH {bl} head%d", n); break;
    case 1: v = tcmd(mc, "RPUSH {bl} tail%d", n); break;
    case 2: v = tcmd(mc, "LPOP {bl}"); break;
    case 3: v = tcmd(mc, "RPOP {bl} 2"); break;
    case 4: v = tcmd(mc, "LSET {bl} %d set%d", (int)(x % 1000), n); break;
    case 5: v = tcmd(mc, "LSET {bl} -%d set%d", 1 + (int)(x % 1000), n); break;
    case 6: v = tcmd(mc, "LTRIM {bl} 1 -2"); break;
    case 7: v = tcmd(mc, "LINSERT {bl} BEFORE " BIGL "%d ins%d", (int)(x % 500000), n); break;
    case 8: v = tcmd(mc, "RPOPLPUSH {bl} {bl}side%d", side); break;
    case 9: v = tcmd(mc, "RPOPLPUSH {bl}side%d {bl}", side); break;
    case 10: v = tcmd(mc, "LMOVE {bl} {bl}side LEFT RIGHT"); break;
    case 11: v = tcmd(mc, "LMOVE {bl}side {bl} LEFT LEFT"); break;
    case 12: v = tcmd(mc, "LREM {bl} 1 " BIGL "%d", (int)(x % 500000)); break;
    default: v = tcmd(mc, "LMOVE {bl}side%d {bl} RIGHT RIGHT", side); break;
    }
    if (n == 100)
        rval_free(tcmd(mc, "RPOPLPUSH {bl} side"));
    if (n % 10 == 0) /* most likely a list the snapshot has not met yet */
        expect_int(tcmd(mc, "RPUSH small%d x%d", n / 10 * 7919 % SMALL_LISTS, n), 4);
    assert_non_null(v);
    if (v->type == R_ERROR)
        fail_msg("list write %d: %s", n, v->str);
    rval_free(v);
}

static void test_big_list_during_sync(void **state)
{
    (void)state;
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    for (int i = 0; i < 500000; i += 500) { /* about 30 MB of frames */
        static char cmd[65536];
        int len = snprintf(cmd, sizeof cmd, "RPUSH {bl}");
        for (int j = i; j < i + 500; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " " BIGL "%d", j);
        rval_free(tcmd(mc, "%s", cmd));
    }
    expect_int(tcmd(mc, "RPUSH {bl}side a b c"), 3);
    expect_int(tcmd(mc, "RPUSH side a b c"), 3);
    for (int i = 0; i < 4; i++)
        expect_int(tcmd(mc, "RPUSH {bl}side%d a b c", i), 3);
    /* small lists, many: the snapshot walks 128 keys a turn while the big
     * list's parts go, so most are still ahead of it when it is held */
    for (int i = 0; i < SMALL_LISTS; i += 1000) {
        static char pipe[65536];
        size_t len = 0;
        for (int j = i; j < i + 1000; j++) {
            char key[32];
            int kl = snprintf(key, sizeof key, "small%d", j);
            len += (size_t)snprintf(pipe + len, sizeof pipe - len,
                                    "*5\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", kl, key);
        }
        tsend_raw(mc, pipe, len);
        for (int j = i; j < i + 1000; j++)
            expect_int(tread(mc, 10000), 3);
    }
    replicaof(rc, m->port);
    hold_sync(mc, r);
    unsigned seed = 4242;
    int n = 0;
    for (; n < 300; n++)
        list_write(mc, &seed, n);
    kill(r->pid, SIGCONT);
    for (long long deadline = now_ms() + 180000;; n++) {
        list_write(mc, &seed, n);
        if (n % 50 == 0) {
            char *ri = info_text(rc, "replication");
            bool done = info_num(ri, "master_sync_in_progress") == 0 && strstr(ri, "master_link_status:up");
            free(ri);
            if (done)
                break;
            assert_true(now_ms() < deadline);
        }
    }
    wait_synced(mc, rc, 60000);
    expect_same_digest(m->port, r->port, SMALL_LISTS);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_full_sync_and_stream, nodes_teardown),
        cmocka_unit_test_teardown(test_big_collections_during_sync, nodes_teardown),
        cmocka_unit_test_teardown(test_keys_replaced_during_parts, nodes_teardown),
        cmocka_unit_test_teardown(test_big_list_during_sync, nodes_teardown),
        cmocka_unit_test_teardown(test_value_copies_as_commands, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
