/* repl_helpers: what test_replication.c and test_replication_faults.c share:
 * starting nodes (killed by the per-test teardown if a test fails half way),
 * reading INFO fields, waiting with deadlines until a replica has caught up,
 * loading keys by pipeline, a background writer thread, and comparing two
 * nodes' whole data sets key by key. Included by those two files only (every
 * function is static). */
#ifndef RINGKV_TEST_REPL_HELPERS_H
#define RINGKV_TEST_REPL_HELPERS_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* ---- nodes ---- */

#define MAX_NODES 8
static struct server *nodes[MAX_NODES];

static struct server *node_start(const char *const *args)
{
    struct server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    for (int i = 0; i < MAX_NODES; i++)
        if (!nodes[i]) {
            nodes[i] = s;
            break;
        }
    assert_int_equal(server_start(s, args), 0);
    return s;
}

/* Teardown of every test: whatever is still running is killed. */
static int nodes_teardown(void **state)
{
    for (int i = 0; i < MAX_NODES; i++)
        if (nodes[i]) {
            if (nodes[i]->pid > 0)
                server_kill(nodes[i]);
            free(nodes[i]);
            nodes[i] = NULL;
        }
    return 0;
}

/* A node that should be healthy at the end of a test exits 0 on SIGTERM. */
static void node_stop(struct server *s)
{
    if (s->pid > 0)
        assert_int_equal(server_stop(s), 0);
}

/* ---- INFO ---- */

static char *info_text(tconn *c, const char *section)
{
    /* up to a minute, not tcmd's 10 s: a replica applying a 512 MB value
     * from its stream (test_stream_bulk_over_512mb) answered after that
     * on a loaded machine (a fresh-clone CI run, four tests at a time) */
    const char *argv[] = { "INFO", section };
    tsendv(c, 2, argv);
    struct rval *v = tread(c, 60000);
    if (!v || (v->type != R_BULK && v->type != R_VERBATIM)) {
        char *t = rval_text(v);
        fail_msg("INFO %s: %s", section, t);
    }
    char *s = strdup(v->str);
    rval_free(v);
    return s;
}

/* "name:" value copied into out; false if absent. */
static bool info_str(const char *info, const char *name, char *out, size_t outlen)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strstr(info, pat);
    if (!p && strncmp(info, pat + 2, strlen(pat + 2)) == 0)
        p = info - 2;
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = strcspn(p, "\r\n");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

/* A numeric field; LLONG_MIN if absent. */
static long long info_num(const char *info, const char *name)
{
    char v[64];
    return info_str(info, name, v, sizeof v) ? atoll(v) : LLONG_MIN;
}

static long long dbsize(tconn *c)
{
    struct rval *v = tcmd(c, "DBSIZE");
    if (!v || v->type != R_INT) {
        char *t = rval_text(v);
        fail_msg("DBSIZE: %s", t);
    }
    long long n = v->integer;
    rval_free(v);
    return n;
}

/* Until the replica's link is up, no sync is running and its
 * slave_repl_offset equals the master's master_repl_offset on two looks
 * 30 ms apart (a write's stream bytes reach the offset a loop turn after
 * its reply). Fails with both offsets after timeout_ms. */
static void wait_synced(tconn *m, tconn *r, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    int equal_looks = 0;
    long long mo = 0, ro = 0;
    char link[32] = "?";
    for (;;) {
        char *ri = info_text(r, "replication");
        char *mi = info_text(m, "replication");
        mo = info_num(mi, "master_repl_offset");
        ro = info_num(ri, "slave_repl_offset");
        if (!info_str(ri, "master_link_status", link, sizeof link))
            strcpy(link, "(none)");
        bool ok = strcmp(link, "up") == 0 && info_num(ri, "master_sync_in_progress") == 0 &&
                  mo == ro && mo != LLONG_MIN;
        free(ri);
        free(mi);
        equal_looks = ok ? equal_looks + 1 : 0;
        if (equal_looks >= 2)
            return;
        if (now_ms() > deadline)
            fail_msg("replica not caught up after %d ms: link %s, master_repl_offset %lld, "
                     "slave_repl_offset %lld", timeout_ms, link, mo, ro);
        usleep(30000);
    }
}

/* Until `field` in INFO `section` satisfies value >= want. */
__attribute__((unused)) static long long wait_field_at_least(tconn *c, const char *section, const char *field,
                                     long long want, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms, v;
    while ((v = info_field(c, section, field)) < want) {
        if (now_ms() > deadline)
            fail_msg("INFO %s: %s is %lld, wanted >= %lld after %d ms", section, field, v, want,
                     timeout_ms);
        usleep(20000);
    }
    return v;
}

static void wait_link(tconn *r, const char *status, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    char link[32] = "";
    for (;;) {
        char *ri = info_text(r, "replication");
        if (!info_str(ri, "master_link_status", link, sizeof link))
            strcpy(link, "(none)");
        free(ri);
        if (strcmp(link, status) == 0)
            return;
        if (now_ms() > deadline)
            fail_msg("master_link_status is %s, wanted %s after %d ms", link, status, timeout_ms);
        usleep(10000);
    }
}

static void replicaof(tconn *r, int port)
{
    expect_ok(tcmd(r, "REPLICAOF 127.0.0.1 %d", port));
}

/* ---- writing ---- */

/* RESP for SET key value appended to out (cap grows). */
static void resp_set(char **out, size_t *len, size_t *cap, const char *key, const char *val)
{
    size_t kl = strlen(key), vl = strlen(val);
    size_t need = *len + kl + vl + 64;
    if (need > *cap) {
        *cap = need * 2;
        *out = realloc(*out, *cap);
        assert_non_null(*out);
    }
    *len += (size_t)sprintf(*out + *len, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", kl, key,
                            vl, val);
}

/* The value the tests store under key i of prefix: recognisable and sized. */
static void value_of(char *out, size_t outlen, const char *prefix, long i, int size)
{
    int n = snprintf(out, outlen, "%s-%ld-", prefix, i);
    while (n < size && (size_t)n + 1 < outlen) {
        out[n] = (char)('a' + (i + n) % 26);
        n++;
    }
    out[n] = 0;
}

/* SET prefix:i for i in [from, to) by pipelines of 1000; every reply +OK. */
static void load_keys(tconn *c, const char *prefix, long from, long to, int valsize)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char key[128], val[4096];
    for (long i = from; i < to;) {
        len = 0;
        long batch = 0;
        for (; i < to && batch < 1000; i++, batch++) {
            snprintf(key, sizeof key, "%s:%ld", prefix, i);
            value_of(val, sizeof val, prefix, i, valsize);
            resp_set(&buf, &len, &cap, key, val);
        }
        tsend_raw(c, buf, len);
        for (long k = 0; k < batch; k++)
            expect_ok(tread(c, 10000));
    }
    free(buf);
}

/* A thread that writes to a node until told to stop: pipelines of 100 SETs,
 * half new keys "<prefix>:<n>" (n counts up from 0), half overwrites of
 * "key:<rand % overwrite_range>" (none when overwrite_range is 0). For each
 * new key it notes whether the reply was +OK (acked), so a test can check
 * that every acknowledged write survived. Errors (a failover's -READONLY)
 * are counted; a closed connection ends the thread. */
struct writer {
    int          port;
    const char  *prefix;
    long         overwrite_range;
    int          valsize;
    atomic_bool  stop;
    atomic_long  ok, errors;
    long         next_new;        /* new keys sent: [0, next_new) */
    unsigned char *acked;         /* acked[n] for n < next_new */
    size_t       acked_cap;
    char         first_error[200];
    bool         lost_connection;
    pthread_t    thread;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    tconn *c = tconnect(w->port);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char key[128], val[4096];
    unsigned seed = (unsigned)w->port;
    long idx[100];
    while (!atomic_load(&w->stop)) {
        len = 0;
        int n = 0;
        for (; n < 100; n++) {
            if (n % 2 == 0 || w->overwrite_range == 0) {
                long i = w->next_new++;
                if ((size_t)i >= w->acked_cap) {
                    w->acked_cap = w->acked_cap ? w->acked_cap * 2 : 65536;
                    w->acked = realloc(w->acked, w->acked_cap);
                    if (!w->acked)
                        abort();
                }
                w->acked[i] = 0;
                idx[n] = i;
                snprintf(key, sizeof key, "%s:%ld", w->prefix, i);
                value_of(val, sizeof val, w->prefix, i, w->valsize);
            } else {
                long i = (long)(rand_r(&seed) % (unsigned)w->overwrite_range);
                idx[n] = -1;
                snprintf(key, sizeof key, "key:%ld", i);
                value_of(val, sizeof val, "over", (long)rand_r(&seed), w->valsize);
            }
            resp_set(&buf, &len, &cap, key, val);
        }
        tsend_raw(c, buf, len);
        for (int k = 0; k < n; k++) {
            struct rval *v = tread(c, 10000);
            if (!v) {
                w->lost_connection = true;
                goto out;
            }
            if (v->type == R_STATUS && strcmp(v->str, "OK") == 0) {
                atomic_fetch_add(&w->ok, 1);
                if (idx[k] >= 0)
                    w->acked[idx[k]] = 1;
            } else {
                if (atomic_fetch_add(&w->errors, 1) == 0) {
                    char *t = rval_text(v);
                    snprintf(w->first_error, sizeof w->first_error, "%s", t);
                    free(t);
                }
            }
            rval_free(v);
        }
    }
out:
    free(buf);
    tclose(c);
    return NULL;
}

__attribute__((unused)) static void writer_start(struct writer *w, int port, const char *prefix,
                                                 long overwrite_range, int valsize)
{
    memset(w, 0, sizeof *w);
    w->port = port;
    w->prefix = prefix;
    w->overwrite_range = overwrite_range;
    w->valsize = valsize;
    assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

__attribute__((unused)) static void writer_stop(struct writer *w)
{
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
}

__attribute__((unused)) static void writer_free(struct writer *w)
{
    free(w->acked);
    w->acked = NULL;
}

/* Until the writer has had at least n replies. */
__attribute__((unused)) static void writer_wait_ok(struct writer *w, long n, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (atomic_load(&w->ok) < n) {
        if (now_ms() > deadline)
            fail_msg("writer: %ld OK replies after %d ms, wanted %ld (first error %s)",
                     atomic_load(&w->ok), timeout_ms, n, w->first_error);
        usleep(5000);
    }
}

/* ---- comparing ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every key of the node by SCAN, sorted, duplicates removed. */
static char **scan_all(tconn *c, size_t *count)
{
    size_t n = 0, cap = 1024;
    char **keys = malloc(cap * sizeof *keys);
    assert_non_null(keys);
    char cursor[64] = "0";
    do {
        struct rval *v = tcmd(c, "SCAN %s COUNT 1000", cursor);
        if (!v || v->type != R_ARRAY || v->n != 2) {
            char *t = rval_text(v);
            fail_msg("SCAN: %s", t);
        }
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        struct rval *ks = v->elem[1];
        for (size_t i = 0; i < ks->n; i++) {
            if (n == cap) {
                cap *= 2;
                keys = realloc(keys, cap * sizeof *keys);
                assert_non_null(keys);
            }
            keys[n++] = strdup(ks->elem[i]->str);
        }
        rval_free(v);
    } while (strcmp(cursor, "0") != 0);
    qsort(keys, n, sizeof *keys, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u > 0 && strcmp(keys[u - 1], keys[i]) == 0) {
            free(keys[i]);
            continue;
        }
        keys[u++] = keys[i];
    }
    *count = u;
    return keys;
}

static void free_keys(char **k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(k[i]);
    free(k);
}

/* GET of keys[from..to) pipelined on c; replies returned in order. */
static struct rval **get_batch(tconn *c, char **keys, size_t from, size_t to)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (size_t i = from; i < to; i++) {
        size_t kl = strlen(keys[i]);
        if (len + kl + 64 > cap) {
            cap = (len + kl + 64) * 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        len += (size_t)sprintf(buf + len, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", kl, keys[i]);
    }
    tsend_raw(c, buf, len);
    free(buf);
    struct rval **out = calloc(to - from + 1, sizeof *out);
    assert_non_null(out);
    for (size_t i = from; i < to; i++) {
        out[i - from] = tread(c, 10000);
        if (!out[i - from])
            fail_msg("no reply to GET %s", keys[i]);
    }
    return out;
}

/* The two nodes hold exactly the same keys with the same values; returns the
 * number of keys. Fails naming the first difference. */
static size_t expect_same_data(int port_a, int port_b)
{
    tconn *a = tconnect(port_a), *b = tconnect(port_b);
    size_t na, nb;
    char **ka = scan_all(a, &na), **kb = scan_all(b, &nb);
    for (size_t i = 0; i < na || i < nb; i++) {
        if (i >= na || i >= nb || strcmp(ka[i], kb[i]) != 0)
            fail_msg("key sets differ (%zu keys on port %d, %zu on port %d): first difference "
                     "at sorted index %zu: '%s' vs '%s'", na, port_a, nb, port_b, i,
                     i < na ? ka[i] : "(end)", i < nb ? kb[i] : "(end)");
    }
    for (size_t from = 0; from < na; from += 1000) {
        size_t to = from + 1000 < na ? from + 1000 : na;
        struct rval **va = get_batch(a, ka, from, to), **vb = get_batch(b, ka, from, to);
        for (size_t i = 0; i < to - from; i++) {
            struct rval *x = va[i], *y = vb[i];
            if (x->type != y->type || x->len != y->len ||
                (x->str && memcmp(x->str, y->str, x->len) != 0)) {
                char *tx = rval_text(x), *ty = rval_text(y);
                fail_msg("values of '%s' differ: %s on port %d, %s on port %d", ka[from + i], tx,
                         port_a, ty, port_b);
            }
            rval_free(x);
            rval_free(y);
        }
        free(va);
        free(vb);
    }
    free_keys(ka, na);
    free_keys(kb, nb);
    tclose(a);
    tclose(b);
    return na;
}

/* Every new key the writer had acknowledged is on the node with its value. */
__attribute__((unused)) static void expect_acked_present(struct writer *w, int port)
{
    tconn *c = tconnect(port);
    char key[128], val[4096];
    long checked = 0;
    char **keys = malloc(1000 * sizeof *keys);
    long ids[1000];
    assert_non_null(keys);
    for (long i = 0; i < w->next_new;) {
        size_t n = 0;
        for (; i < w->next_new && n < 1000; i++)
            if (w->acked[i]) {
                snprintf(key, sizeof key, "%s:%ld", w->prefix, i);
                ids[n] = i;
                keys[n++] = strdup(key);
            }
        if (n == 0)
            continue;
        struct rval **v = get_batch(c, keys, 0, n);
        for (size_t k = 0; k < n; k++) {
            value_of(val, sizeof val, w->prefix, ids[k], w->valsize);
            if (v[k]->type != R_BULK || strcmp(v[k]->str, val) != 0) {
                char *t = rval_text(v[k]);
                fail_msg("acknowledged write %s lost on port %d: GET gives %s", keys[k], port, t);
            }
            rval_free(v[k]);
            free(keys[k]);
            checked++;
        }
        free(v);
    }
    free(keys);
    tclose(c);
    assert_true(checked > 0);
}

/* The node's log holds `needle` (case-sensitive). */
__attribute__((unused)) static bool log_contains(const struct server *s, const char *needle)
{
    FILE *f = fopen(s->logfile, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

#endif
