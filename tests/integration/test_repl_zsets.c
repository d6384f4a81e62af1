/* Replication of sorted sets: a replica that full-syncs from a master
 * holding zsets (small listpacks, a big skiplist, one with an expiry) gets
 * them whole, and master and replica stay identical through a random mix
 * of zset writes: ZADD with its flags and INCR, ZINCRBY, ZREM, the
 * ZREMRANGEBY* forms, ZPOPMIN/ZPOPMAX/ZMPOP, ZRANGESTORE, the STORE forms
 * of ZUNION/ZINTER/ZDIFF over keys of both shards, RENAME, COPY, DEL and
 * expiry. Compared by a digest of each node: every key's type, its TTL's
 * presence and its whole value (ZRANGE 0 -1 WITHSCORES: order and exact
 * scores). Master and replica have different thread counts, so keys land
 * on different shards. */
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
        struct rval *v = strcmp(ty->str, "zset") == 0 ? tcmd(c, "ZRANGE %s 0 -1 WITHSCORES", keys[i])
                                                       : tcmd(c, "GET %s", keys[i]);
        char *s = rval_text(v);
        text_add(&t, s, strlen(s));
        free(s);
        rval_free(v);
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

static void load_zsets(tconn *c)
{
    for (int k = 0; k < 40; k++)
        for (int i = 0; i < 10; i++)
            rval_free(tcmd(c, "ZADD z:%d %d.%d m%d", k, i * 7 % 11, i, i));
    for (int b = 0; b < 5000; b += 250) {
        char cmd[16384];
        int len = snprintf(cmd, sizeof cmd, "ZADD bigz");
        for (int j = b; j < b + 250; j++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %d.25 member-%d", j % 977, j);
        rval_free(tcmd(c, "%s", cmd));
    }
    expect_int(tcmd(c, "EXPIRE z:3 100000"), 1);
}

/* One random zset write on c. */
static void random_write(tconn *c, unsigned *seed)
{
    char k1[32], k2[32], k3[32];
    snprintf(k1, sizeof k1, "z:%u", rand_r(seed) % 40);
    snprintf(k2, sizeof k2, "z:%u", rand_r(seed) % 40);
    snprintf(k3, sizeof k3, "z:%u", rand_r(seed) % 40);
    unsigned m = rand_r(seed) % 60, s = rand_r(seed) % 1000;
    struct rval *v;
    switch (rand_r(seed) % 26) {
    case 0: case 1: case 2:
        v = tcmd(c, "ZADD %s %u m%u %u.5 m%u", k1, s, m, s / 3, m + 1);
        break;
    case 3:
        v = tcmd(c, "ZADD %s %s %u m%u", k1, (const char *[]){ "NX", "XX CH", "GT", "LT CH" }[s % 4], s, m);
        break;
    case 4:
        v = tcmd(c, "ZADD %s INCR 0.%u m%u", k1, s, m);
        break;
    case 5: case 6:
        v = tcmd(c, "ZINCRBY %s %u.1 m%u", k1, s % 10, m);
        break;
    case 7:
        v = tcmd(c, "ZREM %s m%u m%u", k1, m, m + 2);
        break;
    case 8:
        v = tcmd(c, "ZREMRANGEBYRANK %s %d %d", k1, (int)(s % 5) - 2, (int)(s % 3));
        break;
    case 9:
        v = tcmd(c, "ZREMRANGEBYSCORE %s (%u %u", k1, s % 10, s % 10 + 2);
        break;
    case 10:
        v = tcmd(c, "ZREMRANGEBYLEX %s [m%u (m%u", k1, m, m + 3);
        break;
    case 11:
        v = s % 2 ? tcmd(c, "ZPOPMIN %s", k1) : tcmd(c, "ZPOPMAX %s %u", k1, s % 4);
        break;
    case 12:
        v = tcmd(c, "ZMPOP 2 %s %s %s COUNT %u", k1, k2, s % 2 ? "MIN" : "MAX", s % 3 + 1);
        break;
    case 13:
        v = tcmd(c, "ZRANGESTORE %s %s 1 %u", k1, k2, s % 6);
        break;
    case 14:
        v = tcmd(c, "ZUNIONSTORE %s 2 %s %s WEIGHTS 2 0.5", k1, k2, k3);
        break;
    case 15:
        v = tcmd(c, "ZINTERSTORE %s 2 %s %s AGGREGATE MAX", k1, k2, k3);
        break;
    case 16:
        v = tcmd(c, "ZDIFFSTORE %s 2 %s %s", k1, k2, k3);
        break;
    case 17:
        v = tcmd(c, "RENAME %s %s", k1, k2);
        break;
    case 18:
        v = tcmd(c, "COPY %s %s REPLACE", k1, k2);
        break;
    case 19:
        v = s % 4 == 0 ? tcmd(c, "SET %s s%u", k1, s) : tcmd(c, "DEL %s", k1);
        break;
    case 20:
        v = tcmd(c, "ZADD bigz %u member-%u", s, rand_r(seed) % 6000);
        break;
    case 21:
        v = tcmd(c, "ZPOPMIN bigz %u", s % 3);
        break;
    case 22:
        v = tcmd(c, "ZREMRANGEBYSCORE bigz %u %u.5", s % 977, s % 977);
        break;
    case 23:
        v = tcmd(c, "ZADD %s %u m%u", k1, s, 1000 + s); /* grows some past the listpack */
        break;
    case 24:
        v = tcmd(c, "ZRANGESTORE %s bigz %u (%u BYSCORE", k1, s % 977, s % 977 + 2);
        break;
    default:
        v = s % 3 == 0 ? tcmd(c, "PEXPIRE %s 30", k1) : tcmd(c, "EXPIRE %s 5000", k1);
        break;
    }
    /* WRONGTYPE (a key SET to a string) and "no such key" are fine */
    rval_free(v);
}

static void test_full_sync_and_stream(void **state)
{
    (void)state;
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port);
    load_zsets(mc);
    replicaof(rc, m->port);
    wait_synced(mc, rc, 20000);
    expect_same_digest(m->port, r->port, 41);
    expect_bulk(tcmd(rc, "OBJECT ENCODING bigz"), "skiplist");
    expect_bulk(tcmd(rc, "OBJECT ENCODING z:1"), "listpack");
    expect_int(tcmd(rc, "ZCARD bigz"), 5000);

    unsigned seed = 4242;
    for (int i = 0; i < 6000; i++)
        random_write(mc, &seed);
    usleep(100 * 1000);
    for (int i = 0; i < 40; i++)
        rval_free(tcmd(mc, "EXISTS z:%d", i)); /* lazily expired: their DELs go out */
    wait_synced(mc, rc, 20000);
    expect_same_digest(m->port, r->port, 5);

    /* and a second replica syncing from this state */
    struct server *r2 = node_start((const char *[]){ "--threads", "2", NULL });
    tconn *r2c = tconnect(r2->port);
    replicaof(r2c, m->port);
    wait_synced(mc, r2c, 20000);
    expect_same_digest(m->port, r2->port, 5);
    tclose(r2c);
    tclose(mc);
    tclose(rc);
    node_stop(r2);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_full_sync_and_stream, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
