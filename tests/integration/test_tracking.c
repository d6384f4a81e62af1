/* Client-side caching as Redis 7 has it (CLIENT TRACKING). The default
 * mode on RESP3: a key a tracking client read is invalidated (`>2
 * invalidate [key]`) once when anyone changes it (a write from any
 * connection and shard, its own write after its reply, expiry, a flush:
 * `invalidate` null), not after tracking is off, with keys over both
 * shards, under tracking-table-max-keys. The other modes: REDIRECT to a
 * connection on another shard thread (RESP2 in pub/sub mode: `message` on
 * `__redis__:invalidate`; RESP3: the push; gone: `tracking-redir-broken`),
 * BCAST with prefixes (keys of any shard, several in one push, overlaps
 * refused), OPTIN/OPTOUT with CLIENT CACHING (in MULTI too), NOLOOP;
 * GETREDIR/TRACKINGINFO/INFO tracking_total_prefixes as Redis answers
 * them, and no stale state after OFF, RESET or a close.
 * Written against redis-server first (RINGKV_TEST_TARGET=redis). */
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

static struct server srv;
static tconn *a, *b;

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = { "--threads", "2", NULL };
    return server_start(&srv, target_is_redis() ? NULL : args);
}
static int group_teardown(void **state) { (void)state; return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    (void)state;
    b = tconnect(srv.port);
    expect_ok(tcmd(b, "FLUSHALL"));
    a = tconnect(srv.port);
    rval_free(tcmd(a, "HELLO 3"));
    expect_ok(tcmd(a, "CLIENT TRACKING ON"));
    return 0;
}
static int teardown(void **state)
{
    (void)state;
    tclose(a);
    tclose(b);
    tconn *t = tconnect(srv.port); /* the server is still well */
    expect_status(tcmd(t, "PING"), "PONG");
    tclose(t);
    return 0;
}

/* The invalidated key of a push (NULL for a flush's null); fails if v is
 * not an invalidation. */
static const char *invalidated(const struct rval *v, char *buf, size_t n)
{
    if (!v || v->type != R_PUSH || v->n != 2 || strcmp(v->elem[0]->str, "invalidate") != 0) {
        char *t = rval_text(v);
        fail_msg("expected an invalidation push, got %s", t);
    }
    if (v->elem[1]->type == R_NIL)
        return NULL;
    assert_int_equal(v->elem[1]->type, R_ARRAY);
    assert_int_equal(v->elem[1]->n, 1);
    snprintf(buf, n, "%s", v->elem[1]->elem[0]->str);
    return buf;
}

static void expect_silence(tconn *t, int ms)
{
    struct rval *v = tread(t, ms);
    if (v) {
        char *txt = rval_text(v);
        fail_msg("expected nothing more, got %s", txt);
    }
}

static void test_info_and_redir(void **state)
{
    (void)state;
    expect_int(tcmd(a, "CLIENT GETREDIR"), 0);
    struct rval *info = tcmd(a, "CLIENT INFO");
    if (!strstr(info->str, " flags=t ") || !strstr(info->str, " redir=0 "))
        fail_msg("CLIENT INFO of a tracking client: %s", info->str);
    rval_free(info);
    struct rval *v = tcmd(a, "CLIENT TRACKINGINFO");
    assert_int_equal(v->n, 6);
    assert_string_equal(v->elem[1]->elem[0]->str, "on");
    assert_int_equal(v->elem[3]->integer, 0);
    rval_free(v);
    expect_ok(tcmd(a, "CLIENT TRACKING OFF"));
    expect_int(tcmd(a, "CLIENT GETREDIR"), -1);
    v = tcmd(a, "CLIENT TRACKINGINFO");
    assert_string_equal(v->elem[1]->elem[0]->str, "off");
    rval_free(v);
}

/* Keys on both shards, read with GET and with MGET over shards; each
 * invalidated once by another connection's writes. */
static void test_other_writer(void **state)
{
    (void)state;
    char cmd[512] = "MGET";
    for (int i = 0; i < 8; i++) {
        expect_nil(tcmd(a, "GET k%d", i));
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " m%d", i);
    }
    struct rval *v = tcmd(a, "%s", cmd);
    assert_int_equal(v->n, 8);
    rval_free(v);
    for (int i = 0; i < 8; i++) {
        expect_ok(tcmd(b, "SET k%d x", i));
        expect_ok(tcmd(b, "SET m%d x", i));
    }
    bool seen_k[8] = { false }, seen_m[8] = { false };
    for (int n = 0; n < 16; n++) {
        char key[64];
        v = tread(a, 3000);
        const char *k = invalidated(v, key, sizeof key);
        assert_non_null(k);
        int i = atoi(k + 1);
        bool *seen = k[0] == 'k' ? seen_k : seen_m;
        assert_false(seen[i]);
        seen[i] = true;
        rval_free(v);
    }
    /* not read again: no second invalidation */
    expect_ok(tcmd(b, "SET k1 y"));
    expect_silence(a, 300);
}

/* Its own write: the reply first, then the invalidation. */
static void test_own_write(void **state)
{
    (void)state;
    expect_nil(tcmd(a, "GET own"));
    expect_ok(tcmd(a, "SET own 1"));
    char key[64];
    struct rval *v = tread(a, 3000);
    assert_string_equal(invalidated(v, key, sizeof key), "own");
    rval_free(v);
}

static void test_expiry(void **state)
{
    (void)state;
    expect_ok(tcmd(b, "SET e v PX 100"));
    expect_bulk(tcmd(a, "GET e"), "v");
    char key[64];
    struct rval *v = tread(a, 5000);
    assert_string_equal(invalidated(v, key, sizeof key), "e");
    rval_free(v);
}

/* FLUSHALL: one null invalidation (before or after FLUSHALL's own reply
 * when the client flushes itself). */
static void test_flush(void **state)
{
    (void)state;
    expect_nil(tcmd(a, "GET f1"));
    expect_nil(tcmd(a, "GET f2"));
    expect_ok(tcmd(b, "FLUSHALL"));
    char key[64];
    struct rval *v = tread(a, 3000);
    assert_null(invalidated(v, key, sizeof key));
    rval_free(v);
    expect_silence(a, 300);
}

static void test_off_stops(void **state)
{
    (void)state;
    expect_nil(tcmd(a, "GET o"));
    expect_ok(tcmd(a, "CLIENT TRACKING OFF"));
    expect_ok(tcmd(b, "SET o 1"));
    expect_silence(a, 300);
}

/* A tracking client that left: its keys change without harm. */
static void test_gone_reader(void **state)
{
    (void)state;
    tconn *g = tconnect(srv.port);
    rval_free(tcmd(g, "HELLO 3"));
    expect_ok(tcmd(g, "CLIENT TRACKING ON"));
    for (int i = 0; i < 20; i++)
        expect_nil(tcmd(g, "GET g%d", i));
    tclose(g);
    for (int i = 0; i < 20; i++)
        expect_ok(tcmd(b, "SET g%d 1", i));
    expect_status(tcmd(b, "PING"), "PONG");
}

/* Over tracking-table-max-keys, keys are evicted and invalidated. */
static void test_table_limit(void **state)
{
    (void)state;
    expect_ok(tcmd(b, "CONFIG SET tracking-table-max-keys 4"));
    for (int i = 0; i < 12; i++) {
        char key[16];
        snprintf(key, sizeof key, "t%d", i);
        const char *argv[] = { "GET", key };
        tsendv(a, 2, argv);
    }
    /* the replies, and the pushes of the keys evicted (Redis pushes some
     * between the replies) */
    int got = 0, replies = 0;
    long long until = now_ms() + 3000;
    while ((got < 8 || replies < 12) && now_ms() < until) {
        struct rval *v = tread(a, 500);
        if (!v)
            continue;
        if (v->type == R_NIL) {
            replies++;
        } else {
            char key[64];
            assert_non_null(invalidated(v, key, sizeof key));
            got++;
        }
        rval_free(v);
    }
    assert_int_equal(replies, 12);
    expect_ok(tcmd(b, "CONFIG SET tracking-table-max-keys 1000000"));
    assert_true(got >= 8);
}

/* ---- the other modes ------------------------------------------------------ */

static long long client_id(tconn *t)
{
    return get_int(tcmd(t, "CLIENT ID"));
}

/* The shard thread serving t (ringkv's CLIENT INFO io-thread); -1 for
 * redis-server. */
static int io_thread(tconn *t)
{
    if (target_is_redis())
        return -1;
    struct rval *v = tcmd(t, "CLIENT INFO");
    const char *p = v && v->str ? strstr(v->str, " io-thread=") : NULL;
    assert_non_null(p);
    int th = atoi(p + strlen(" io-thread="));
    rval_free(v);
    return th;
}

/* A new connection on another shard thread than t's (the kernel spreads
 * them: a few tries). */
static tconn *connect_elsewhere(tconn *t)
{
    int th = io_thread(t);
    for (int i = 0; i < 200; i++) {
        tconn *n = tconnect(srv.port);
        if (th < 0 || io_thread(n) != th)
            return n;
        tclose(n);
    }
    fail_msg("no connection landed on another shard thread");
    return NULL;
}

/* A new connection on the same shard thread as t's. */
static tconn *connect_beside(tconn *t)
{
    int th = io_thread(t);
    for (int i = 0; i < 200; i++) {
        tconn *n = tconnect(srv.port);
        if (io_thread(n) == th)
            return n;
        tclose(n);
    }
    fail_msg("no connection landed on the same shard thread");
    return NULL;
}

/* The invalidations read from a connection: keys by name, how often each,
 * the largest number of keys one invalidation carried, the nulls. */
struct seen {
    int  n;
    char keys[64][32];
    int  count[64];
    int  max_batch;
    int  nulls;
};

static int seen_count(const struct seen *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->keys[i], key) == 0)
            return s->count[i];
    return 0;
}

static void seen_add(struct seen *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->keys[i], key) == 0) {
            s->count[i]++;
            return;
        }
    assert_true(s->n < 64);
    snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
    s->count[s->n++] = 1;
}

/* The keys of one invalidation: a push `invalidate` or, on RESP2, a
 * `message` on __redis__:invalidate; fails on anything else. */
static void seen_take(struct seen *s, const struct rval *v)
{
    const struct rval *keys = NULL;
    if (v->type == R_PUSH && v->n == 2 && strcmp(v->elem[0]->str, "invalidate") == 0) {
        keys = v->elem[1];
    } else if (v->type == R_ARRAY && v->n == 3 && strcmp(v->elem[0]->str, "message") == 0 &&
               strcmp(v->elem[1]->str, "__redis__:invalidate") == 0) {
        keys = v->elem[2];
    } else {
        char *t = rval_text(v);
        fail_msg("expected an invalidation, got %s", t);
    }
    if (keys->type == R_NIL) {
        s->nulls++;
        return;
    }
    assert_int_equal(keys->type, R_ARRAY);
    if ((int)keys->n > s->max_batch)
        s->max_batch = (int)keys->n;
    for (size_t i = 0; i < keys->n; i++)
        seen_add(s, keys->elem[i]->str);
}

/* Read invalidations from t until `want` different keys (or nulls, with
 * want_nulls) are seen; 5 s at most. */
static void collect(tconn *t, struct seen *s, int want, int want_nulls)
{
    long long until = now_ms() + 5000;
    while ((s->n < want || s->nulls < want_nulls) && now_ms() < until) {
        struct rval *v = tread(t, 500);
        if (!v)
            continue;
        seen_take(s, v);
        rval_free(v);
    }
    if (s->n < want || s->nulls < want_nulls)
        fail_msg("saw %d keys and %d nulls, expected %d and %d", s->n, s->nulls, want, want_nulls);
}

static struct rval *map_get(const struct rval *m, const char *field)
{
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (strcmp(m->elem[i]->str, field) == 0)
            return m->elem[i + 1];
    fail_msg("no field %s", field);
    return NULL;
}

/* CLIENT TRACKINGINFO's flags joined by spaces, in Redis's order. */
static void info_flags(tconn *t, char *out, size_t n)
{
    struct rval *v = tcmd(t, "CLIENT TRACKINGINFO");
    const struct rval *f = map_get(v, "flags");
    out[0] = '\0';
    for (size_t i = 0; i < f->n; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? " " : "", f->elem[i]->str);
    rval_free(v);
}

/* REDIRECT to a RESP2 connection subscribed to __redis__:invalidate on
 * another shard thread: a `message` for each key (keys over both shards),
 * and the flush's null; the tracking client is RESP2 too. */
static void test_redirect_resp2(void **state)
{
    (void)state;
    tconn *t = tconnect(srv.port); /* RESP2 */
    tconn *r = connect_elsewhere(t);
    long long rid = client_id(r);
    struct rval *v = tcmd(r, "SUBSCRIBE __redis__:invalidate");
    assert_int_equal(v->type, R_ARRAY);
    rval_free(v);
    expect_ok(tcmd(t, "CLIENT TRACKING on REDIRECT %lld", rid));
    expect_int(tcmd(t, "CLIENT GETREDIR"), rid);
    v = tcmd(t, "CLIENT TRACKINGINFO");
    assert_int_equal(map_get(v, "redirect")->integer, rid);
    rval_free(v);
    for (int i = 0; i < 8; i++)
        expect_nil(tcmd(t, "GET rd%d", i));
    for (int i = 0; i < 8; i++)
        expect_ok(tcmd(b, "SET rd%d x", i));
    struct seen s = { 0 };
    collect(r, &s, 8, 0);
    for (int i = 0; i < 8; i++) {
        char key[16];
        snprintf(key, sizeof key, "rd%d", i);
        assert_int_equal(seen_count(&s, key), 1);
    }
    /* a flush: one message with a null */
    expect_nil(tcmd(t, "GET rdf"));
    expect_ok(tcmd(b, "FLUSHALL"));
    struct seen f = { 0 };
    collect(r, &f, 0, 1);
    assert_int_equal(f.n, 0);
    expect_silence(r, 200);
    /* nothing reaches the tracking connection itself */
    expect_silence(t, 200);
    tclose(t);
    tclose(r);
}

/* REDIRECT to a RESP3 connection: the push goes there, not to the tracking
 * client; the target closes: the tracking client hears
 * `tracking-redir-broken` with the target's id at the next invalidation,
 * TRACKINGINFO says broken_redirect. */
static void test_redirect_resp3_and_broken(void **state)
{
    (void)state;
    tconn *t = tconnect(srv.port);
    rval_free(tcmd(t, "HELLO 3"));
    tconn *r = connect_elsewhere(t);
    rval_free(tcmd(r, "HELLO 3"));
    long long rid = client_id(r);
    expect_ok(tcmd(t, "CLIENT TRACKING on REDIRECT %lld", rid));
    char flags[128];
    info_flags(t, flags, sizeof flags);
    assert_string_equal(flags, "on");
    expect_nil(tcmd(t, "GET x1"));
    expect_nil(tcmd(t, "GET x2"));
    expect_ok(tcmd(b, "MSET x1 1 x2 2"));
    struct seen s = { 0 };
    collect(r, &s, 2, 0);
    expect_silence(t, 200);
    /* the target leaves */
    tclose(r);
    tconn *w = tconnect(srv.port);
    /* wait until the server saw it go (CLIENT KILL ID answers 0 then) */
    long long until = now_ms() + 5000;
    while (get_int(tcmd(w, "CLIENT KILL ID %lld SKIPME no", rid)) != 0 && now_ms() < until)
        usleep(10000);
    expect_nil(tcmd(t, "GET x3"));
    expect_ok(tcmd(b, "SET x3 v"));
    struct rval *v = tread(t, 5000);
    if (!v || v->type != R_PUSH || v->n != 2 || strcmp(v->elem[0]->str, "tracking-redir-broken") != 0) {
        char *txt = rval_text(v);
        fail_msg("expected tracking-redir-broken, got %s", txt);
    }
    assert_int_equal(v->elem[1]->integer, rid);
    rval_free(v);
    info_flags(t, flags, sizeof flags);
    assert_string_equal(flags, "on broken_redirect");
    expect_int(tcmd(t, "CLIENT GETREDIR"), rid);
    /* CLIENT INFO: t tracking, R its redirection broken; redir the id */
    char want[64];
    snprintf(want, sizeof want, " redir=%lld ", rid);
    struct rval *ci = tcmd(t, "CLIENT INFO");
    if (!strstr(ci->str, " flags=tR ") || !strstr(ci->str, want))
        fail_msg("CLIENT INFO of a broken redirection: %s", ci->str);
    rval_free(ci);
    /* OFF and ON again: the flag is gone */
    expect_ok(tcmd(t, "CLIENT TRACKING off"));
    expect_ok(tcmd(t, "CLIENT TRACKING on"));
    info_flags(t, flags, sizeof flags);
    assert_string_equal(flags, "on");
    expect_int(tcmd(t, "CLIENT GETREDIR"), 0);
    tclose(w);
    tclose(t);
}

/* REDIRECT to a connection of the same shard thread: the same as to
 * another's (the push there; once it is gone, tracking-redir-broken). */
static void test_redirect_same_thread(void **state)
{
    (void)state;
    tconn *r = connect_beside(a);
    rval_free(tcmd(r, "HELLO 3"));
    long long rid = client_id(r);
    expect_ok(tcmd(a, "CLIENT TRACKING on REDIRECT %lld", rid));
    for (int i = 0; i < 4; i++)
        expect_nil(tcmd(a, "GET st%d", i));
    expect_ok(tcmd(b, "MSET st0 1 st1 1 st2 1 st3 1"));
    struct seen s = { 0 };
    collect(r, &s, 4, 0);
    expect_silence(a, 200);
    tclose(r);
    long long until = now_ms() + 5000;
    while (get_int(tcmd(b, "CLIENT KILL ID %lld SKIPME no", rid)) != 0 && now_ms() < until)
        usleep(10000);
    expect_bulk(tcmd(a, "GET st0"), "1");
    expect_ok(tcmd(b, "SET st0 2"));
    struct rval *v = tread(a, 5000);
    if (!v || v->type != R_PUSH || v->n != 2 || strcmp(v->elem[0]->str, "tracking-redir-broken") != 0) {
        char *txt = rval_text(v);
        fail_msg("expected tracking-redir-broken, got %s", txt);
    }
    assert_int_equal(v->elem[1]->integer, rid);
    rval_free(v);
}

/* REDIRECT's errors, in Redis's words. */
static void test_redirect_errors(void **state)
{
    (void)state;
    long long bid = client_id(b);
    long long aid = client_id(a);
    expect_error(tcmd(a, "CLIENT TRACKING on REDIRECT 987654321"),
                 "ERR The client ID you want redirect to does not exist");
    expect_error(tcmd(a, "CLIENT TRACKING on REDIRECT 0"), "ERR The client ID you want redirect to does not exist");
    expect_error(tcmd(a, "CLIENT TRACKING on REDIRECT -3"), "ERR The client ID you want redirect to does not exist");
    expect_error(tcmd(a, "CLIENT TRACKING on REDIRECT abc"), "ERR value is not an integer or out of range");
    expect_error(tcmd(a, "CLIENT TRACKING on REDIRECT %lld REDIRECT %lld", bid, aid),
                 "ERR A client can only redirect to a single other client");
    expect_error(tcmd(a, "CLIENT TRACKING on REDIRECT"), "ERR syntax error");
    expect_error(tcmd(a, "CLIENT TRACKING on FOO"), "ERR syntax error");
    /* still tracking as before, on itself */
    expect_int(tcmd(a, "CLIENT GETREDIR"), 0);
}

/* BCAST with prefixes: every key of the prefixes changed on either shard,
 * by anyone, without reading it; several keys in one push; others not. */
static void test_bcast(void **state)
{
    (void)state;
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    expect_ok(tcmd(a, "CLIENT TRACKING on BCAST PREFIX user: PREFIX cart:"));
    char cmd[1024] = "MSET";
    for (int i = 0; i < 8; i++)
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " user:%d v cart:%d v other:%d v", i, i, i);
    expect_ok(tcmd(b, "%s", cmd));
    struct seen s = { 0 };
    collect(a, &s, 16, 0);
    for (int i = 0; i < 8; i++) {
        char key[32];
        snprintf(key, sizeof key, "user:%d", i);
        assert_int_equal(seen_count(&s, key), 1);
        snprintf(key, sizeof key, "cart:%d", i);
        assert_int_equal(seen_count(&s, key), 1);
    }
    assert_true(s.max_batch > 1); /* batched, not one push a key */
    expect_silence(a, 300);       /* no other:* */
    /* one key at a time, from the client itself too (no NOLOOP) */
    expect_ok(tcmd(a, "SET user:x 1"));
    struct seen o = { 0 };
    collect(a, &o, 1, 0);
    assert_int_equal(seen_count(&o, "user:x"), 1);
    /* INFO counts the node's prefixes; TRACKINGINFO lists the client's,
     * sorted */
    assert_int_equal(info_field_becomes(b, "stats", "tracking_total_prefixes", 2, 5000), 2);
    struct rval *v = tcmd(a, "CLIENT TRACKINGINFO");
    const struct rval *p = map_get(v, "prefixes");
    assert_int_equal(p->n, 2);
    assert_string_equal(p->elem[0]->str, "cart:");
    assert_string_equal(p->elem[1]->str, "user:");
    rval_free(v);
    char flags[128];
    info_flags(a, flags, sizeof flags);
    assert_string_equal(flags, "on bcast");
    struct rval *ci = tcmd(a, "CLIENT INFO");
    if (!strstr(ci->str, " flags=tB ") || !strstr(ci->str, " redir=0 "))
        fail_msg("CLIENT INFO of a BCAST client: %s", ci->str);
    rval_free(ci);
    /* another BCAST client with one of the same prefixes: still 2 */
    tconn *c2 = tconnect(srv.port);
    rval_free(tcmd(c2, "HELLO 3"));
    expect_ok(tcmd(c2, "CLIENT TRACKING on BCAST PREFIX user: PREFIX zz"));
    assert_int_equal(info_field_becomes(b, "stats", "tracking_total_prefixes", 3, 5000), 3);
    expect_ok(tcmd(b, "SET zz:1 x")); /* its invalidation may meet it gone */
    tclose(c2); /* its prefixes go with it */
    expect_ok(tcmd(b, "SET zz:2 x"));
    assert_int_equal(info_field_becomes(b, "stats", "tracking_total_prefixes", 2, 5000), 2);
    /* OFF: no prefixes, no more pushes */
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    assert_int_equal(info_field_becomes(b, "stats", "tracking_total_prefixes", 0, 5000), 0);
    expect_ok(tcmd(b, "SET user:1 again"));
    expect_silence(a, 300);
}

/* BCAST without prefixes: every key; its checks and errors. */
static void test_bcast_checks(void **state)
{
    (void)state;
    expect_error(tcmd(a, "CLIENT TRACKING on BCAST"),
                 "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then "
                 "re-enabling it with a different mode.");
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    expect_error(tcmd(a, "CLIENT TRACKING on PREFIX p"), "ERR PREFIX option requires BCAST mode to be enabled");
    expect_error(tcmd(a, "CLIENT TRACKING on BCAST PREFIX ab PREFIX a"),
                 "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must "
                 "not overlap.");
    expect_error(tcmd(a, "CLIENT TRACKING on BCAST OPTIN"), "ERR OPTIN and OPTOUT are not compatible with BCAST");
    expect_ok(tcmd(a, "CLIENT TRACKING on BCAST PREFIX ab PREFIX c"));
    expect_error(tcmd(a, "CLIENT TRACKING on BCAST PREFIX abc"),
                 "ERR Prefix 'abc' overlaps with an existing prefix 'ab'. Prefixes for a single client must not "
                 "overlap.");
    expect_ok(tcmd(a, "CLIENT TRACKING on BCAST PREFIX d")); /* adds to the others */
    struct rval *v = tcmd(a, "CLIENT TRACKINGINFO");
    assert_int_equal(map_get(v, "prefixes")->n, 3);
    rval_free(v);
    expect_error(tcmd(a, "CLIENT TRACKING on"),
                 "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then "
                 "re-enabling it with a different mode.");
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    v = tcmd(a, "CLIENT TRACKINGINFO");
    assert_int_equal(map_get(v, "prefixes")->n, 0);
    rval_free(v);
    /* no prefix: every key, on both shards */
    expect_ok(tcmd(a, "CLIENT TRACKING on BCAST"));
    v = tcmd(a, "CLIENT TRACKINGINFO");
    const struct rval *p = map_get(v, "prefixes");
    assert_int_equal(p->n, 1);
    assert_string_equal(p->elem[0]->str, "");
    rval_free(v);
    for (int i = 0; i < 6; i++)
        expect_ok(tcmd(b, "SET any%d 1", i));
    struct seen s = { 0 };
    collect(a, &s, 6, 0);
    /* a key changed twice in one transaction: named once */
    expect_ok(tcmd(b, "MULTI"));
    expect_status(tcmd(b, "SET twice 1"), "QUEUED");
    expect_status(tcmd(b, "SET twice 2"), "QUEUED");
    rval_free(tcmd(b, "EXEC"));
    struct seen t2 = { 0 };
    collect(a, &t2, 1, 0);
    expect_silence(a, 300);
    assert_int_equal(seen_count(&t2, "twice"), 1);
    /* RESET ends it: no prefixes left */
    expect_status(tcmd(a, "RESET"), "RESET");
    assert_int_equal(info_field_becomes(b, "stats", "tracking_total_prefixes", 0, 5000), 0);
}

/* NOLOOP: no invalidation for the client's own writes, in BCAST and in the
 * default mode; others' writes still come. */
static void test_noloop(void **state)
{
    (void)state;
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    expect_ok(tcmd(a, "CLIENT TRACKING on BCAST PREFIX nl: NOLOOP"));
    char flags[128];
    info_flags(a, flags, sizeof flags);
    assert_string_equal(flags, "on bcast noloop");
    expect_ok(tcmd(a, "MSET nl:1 a nl:2 a nl:3 a nl:4 a"));
    expect_silence(a, 300);
    expect_ok(tcmd(b, "MSET nl:1 b nl:2 b nl:3 b nl:4 b"));
    struct seen s = { 0 };
    collect(a, &s, 4, 0);
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    expect_ok(tcmd(a, "CLIENT TRACKING on NOLOOP"));
    for (int i = 0; i < 6; i++)
        expect_nil(tcmd(a, "GET dl%d", i));
    for (int i = 0; i < 6; i++)
        expect_ok(tcmd(a, "SET dl%d mine", i));
    expect_silence(a, 300);
    /* read again, changed by someone else: invalidated */
    for (int i = 0; i < 6; i++)
        expect_bulk(tcmd(a, "GET dl%d", i), "mine");
    for (int i = 0; i < 6; i++)
        expect_ok(tcmd(b, "SET dl%d theirs", i));
    struct seen d = { 0 };
    collect(a, &d, 6, 0);
}

/* OPTIN: only the reads after CLIENT CACHING yes (the next command, or a
 * whole transaction, and through other CLIENT commands, as Redis). */
static void test_optin(void **state)
{
    (void)state;
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    expect_ok(tcmd(a, "CLIENT TRACKING on OPTIN"));
    expect_nil(tcmd(a, "GET oi1"));
    expect_ok(tcmd(a, "CLIENT CACHING yes"));
    char flags[128];
    info_flags(a, flags, sizeof flags); /* a CLIENT command: the flag stays */
    assert_string_equal(flags, "on optin caching-yes");
    expect_nil(tcmd(a, "GET oi2"));
    expect_nil(tcmd(a, "GET oi3")); /* the flag lasted one command */
    info_flags(a, flags, sizeof flags);
    assert_string_equal(flags, "on optin");
    /* a transaction: CACHING before MULTI covers all its reads */
    expect_ok(tcmd(a, "CLIENT CACHING yes"));
    expect_ok(tcmd(a, "MULTI"));
    expect_status(tcmd(a, "GET oi4"), "QUEUED");
    expect_status(tcmd(a, "GET oi5"), "QUEUED");
    rval_free(tcmd(a, "EXEC"));
    expect_nil(tcmd(a, "GET oi6"));
    /* inside the transaction: from there on */
    expect_ok(tcmd(a, "MULTI"));
    expect_status(tcmd(a, "GET oi7"), "QUEUED");
    expect_status(tcmd(a, "CLIENT CACHING yes"), "QUEUED");
    expect_status(tcmd(a, "GET oi8"), "QUEUED");
    rval_free(tcmd(a, "EXEC"));
    expect_nil(tcmd(a, "GET oi9"));
    expect_ok(tcmd(b, "MSET oi1 1 oi2 1 oi3 1 oi4 1 oi5 1 oi6 1 oi7 1 oi8 1 oi9 1"));
    struct seen s = { 0 };
    collect(a, &s, 4, 0);
    expect_silence(a, 300);
    assert_int_equal(s.n, 4);
    assert_int_equal(seen_count(&s, "oi2"), 1);
    assert_int_equal(seen_count(&s, "oi4"), 1);
    assert_int_equal(seen_count(&s, "oi5"), 1);
    assert_int_equal(seen_count(&s, "oi8"), 1);
}

/* OPTOUT: every read but the one after CLIENT CACHING no. */
static void test_optout(void **state)
{
    (void)state;
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    expect_ok(tcmd(a, "CLIENT TRACKING on OPTOUT"));
    expect_nil(tcmd(a, "GET oo1"));
    expect_ok(tcmd(a, "CLIENT CACHING no"));
    expect_nil(tcmd(a, "GET oo2"));
    expect_nil(tcmd(a, "GET oo3"));
    expect_ok(tcmd(b, "MSET oo1 1 oo2 1 oo3 1"));
    struct seen s = { 0 };
    collect(a, &s, 2, 0);
    expect_silence(a, 300);
    assert_int_equal(seen_count(&s, "oo1"), 1);
    assert_int_equal(seen_count(&s, "oo3"), 1);
}

/* CLIENT CACHING's and the modes' errors, in Redis's words. */
static void test_caching_errors(void **state)
{
    (void)state;
    expect_error(tcmd(a, "CLIENT CACHING yes"),
                 "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
    expect_error(tcmd(a, "CLIENT CACHING no"),
                 "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    expect_error(tcmd(a, "CLIENT CACHING"), "ERR wrong number of arguments for 'client|caching' command");
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    expect_error(tcmd(a, "CLIENT TRACKING on OPTIN OPTOUT"), "ERR You can't specify both OPTIN mode and OPTOUT mode");
    expect_ok(tcmd(a, "CLIENT TRACKING on OPTIN"));
    expect_error(tcmd(a, "CLIENT CACHING maybe"), "ERR syntax error");
    expect_error(tcmd(a, "CLIENT CACHING no"),
                 "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    expect_error(tcmd(a, "CLIENT TRACKING on OPTOUT"),
                 "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then "
                 "re-enabling it with a different mode.");
    expect_ok(tcmd(a, "CLIENT TRACKING off"));
    expect_error(tcmd(a, "CLIENT CACHING yes"),
                 "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
                 "OPTOUT mode enabled");
}

/* RESP2 without REDIRECT: accepted as Redis accepts it (nowhere to push). */
static void test_resp2_no_redirect(void **state)
{
    (void)state;
    tconn *t = tconnect(srv.port);
    expect_ok(tcmd(t, "CLIENT TRACKING on"));
    expect_int(tcmd(t, "CLIENT GETREDIR"), 0);
    expect_nil(tcmd(t, "GET r2k"));
    expect_ok(tcmd(b, "SET r2k 1"));
    expect_bulk(tcmd(t, "GET r2k"), "1"); /* the next reply is its own, no push between */
    tclose(t);
}

/* On a replica, the master's writes invalidate what its clients read. */
static void test_replica(void **state)
{
    (void)state;
    char port[16];
    snprintf(port, sizeof port, "%d", srv.port);
    struct server r;
    const char *const args[] = { "--threads", "2", "--replicaof", "127.0.0.1", port, NULL };
    const char *const redis_args[] = { "--replicaof", "127.0.0.1", port, NULL };
    assert_int_equal(server_start(&r, target_is_redis() ? redis_args : args), 0);
    tconn *rc = tconnect(r.port);
    long long until = now_ms() + 10000;
    for (;;) {
        struct rval *v = tcmd(rc, "INFO replication");
        bool up = v && v->str && strstr(v->str, "master_link_status:up");
        rval_free(v);
        if (up)
            break;
        if (now_ms() > until)
            fail_msg("the replica's link did not come up");
        usleep(50000);
    }
    rval_free(tcmd(rc, "HELLO 3"));
    expect_ok(tcmd(rc, "CLIENT TRACKING ON"));
    for (int i = 0; i < 6; i++)
        expect_nil(tcmd(rc, "GET r%d", i));
    for (int i = 0; i < 6; i++)
        expect_ok(tcmd(b, "SET r%d 1", i));
    bool seen[6] = { false };
    for (int n = 0; n < 6; n++) {
        char key[64];
        struct rval *v = tread(rc, 5000);
        const char *k = invalidated(v, key, sizeof key);
        assert_non_null(k);
        assert_false(seen[atoi(k + 1)]);
        seen[atoi(k + 1)] = true;
        rval_free(v);
    }
    /* BCAST on the replica: the master's writes of its prefix */
    expect_ok(tcmd(rc, "CLIENT TRACKING off"));
    expect_ok(tcmd(rc, "CLIENT TRACKING on BCAST PREFIX rb:"));
    expect_ok(tcmd(b, "MSET rb:1 1 rb:2 2 rb:3 3 rb:4 4 other 1"));
    struct seen s = { 0 };
    collect(rc, &s, 4, 0);
    expect_silence(rc, 300);
    tclose(rc);
    assert_int_equal(server_stop(&r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info_and_redir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gone_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_resp2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_resp3_and_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_same_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bcast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bcast_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noloop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_optin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_optout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caching_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp2_no_redirect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
