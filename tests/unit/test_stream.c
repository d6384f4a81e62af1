/* The stream object on its own (shards/store/stream.h): appends split into
 * nodes by the limits, walks both ways from any ID, XDEL of entries all
 * over (nodes emptied in the middle, then dropped in one pass), trims,
 * copies and the flat form; consumer groups' PELs of 100k entries acked in
 * random order. Every step is checked against a plain model, and the
 * store's memory count must be back to where it was once the stream is
 * freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shards/store/store.h"
#include "shards/store/stream.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define N 20000

/* The model: which IDs (k-0 for k = 1..N) are live. */
static bool live[N + 1];

static void add_entries(struct store *s, struct stream *st, const struct stream_limits *lim)
{
    char v[32];
    for (int k = 1; k <= N; k++) {
        int n = snprintf(v, sizeof v, "v%d", k);
        struct slice fv[4] = { SLICE_LIT("f"), { v, (size_t)n }, SLICE_LIT("g"), SLICE_LIT("x") };
        stream_append(s, st, (struct stream_id){ (uint64_t)k, 0 }, fv, k % 3 ? 2 : 1, lim);
        live[k] = true;
    }
}

/* A walk over [from, to] each way sees exactly the model's live IDs. */
static void check_walks(const struct stream *st, int from, int to)
{
    struct stream_iter it;
    struct stream_entry e;
    int k = from;
    stream_iter_init(&it, st, (struct stream_id){ (uint64_t)from, 0 }, (struct stream_id){ (uint64_t)to, 0 }, false);
    while (stream_iter_next(&it, &e)) {
        while (k <= to && !live[k])
            k++;
        assert_int_equal(e.id.ms, k);
        size_t at = 0;
        struct slice f, v;
        stream_entry_pair(&e, &at, &f, &v);
        char want[32];
        snprintf(want, sizeof want, "v%d", k);
        assert_int_equal(v.len, strlen(want));
        assert_memory_equal(v.ptr, want, v.len);
        k++;
    }
    while (k <= to && !live[k])
        k++;
    assert_true(k > to);
    k = to;
    stream_iter_init(&it, st, (struct stream_id){ (uint64_t)from, 0 }, (struct stream_id){ (uint64_t)to, 0 }, true);
    while (stream_iter_next(&it, &e)) {
        while (k >= from && !live[k])
            k--;
        assert_int_equal(e.id.ms, k);
        k--;
    }
    while (k >= from && !live[k])
        k--;
    assert_true(k < from);
}

static size_t live_count(void)
{
    size_t n = 0;
    for (int k = 1; k <= N; k++)
        n += live[k];
    return n;
}

static void test_append_walk_delete(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    size_t empty = store_used_memory(s);
    struct stream *st = stream_create(s);
    struct stream_limits lim = { 4096, 10 };
    add_entries(s, st, &lim);
    assert_int_equal(stream_len(st), N);
    assert_int_equal(stream_nodes(st), N / 10);
    check_walks(st, 1, N);
    check_walks(st, 37, 12345);
    /* deletes all over: most nodes emptied, in the middle too */
    for (int i = 0; i < 3 * N; i++) {
        int k = 1 + (int)(next_rand() % N);
        bool was = live[k];
        assert_int_equal(stream_delete(s, st, (struct stream_id){ (uint64_t)k, 0 }), was);
        live[k] = false;
    }
    assert_int_equal(stream_len(st), live_count());
    check_walks(st, 1, N);
    check_walks(st, 500, 501);
    /* a copy, and the flat form, hold the same */
    struct stream *c = stream_dup(s, st);
    check_walks(c, 1, N);
    struct buf b;
    buf_init(&b);
    stream_encode(st, &b);
    struct stream *d = stream_decode(s, b.data, b.len);
    assert_non_null(d);
    check_walks(d, 1, N);
    /* a flat form cut short, or with a byte changed in a length, is refused */
    assert_null(stream_decode(s, b.data, b.len - 1));
    buf_free(&b);
    stream_destroy(s, c);
    stream_destroy(s, d);
    /* exact trims by MINID, then MAXLEN */
    size_t removed = stream_trim(s, st, STREAM_TRIM_MINID, 0, (struct stream_id){ 5000, 0 }, false, 0);
    size_t was = 0;
    for (int k = 1; k < 5000; k++) {
        was += live[k];
        live[k] = false;
    }
    assert_int_equal(removed, was);
    check_walks(st, 1, N);
    size_t keep = live_count() / 2;
    stream_trim(s, st, STREAM_TRIM_MAXLEN, keep, (struct stream_id){ 0, 0 }, false, 0);
    assert_int_equal(stream_len(st), keep);
    for (int k = 1, drop = (int)(live_count() - keep); drop > 0; k++)
        if (live[k]) {
            live[k] = false;
            drop--;
        }
    check_walks(st, 1, N);
    stream_destroy(s, st);
    assert_int_equal(store_used_memory(s), empty);
    store_destroy(s);
}

/* 100k pending entries added in random order, acked in another: the PEL
 * walks in ID order all along, each consumer's too. */
static void test_pel(void **state)
{
    (void)state;
    enum { P = 100000 };
    struct store *s = store_create(NULL, NULL, NULL);
    size_t empty = store_used_memory(s);
    struct stream *st = stream_create(s);
    struct stream_group *g = stream_group_create(s, st, SLICE_LIT("g"), (struct stream_id){ 0, 0 }, 0);
    assert_non_null(g);
    assert_null(stream_group_create(s, st, SLICE_LIT("g"), (struct stream_id){ 0, 0 }, 0));
    struct stream_consumer *c[3] = {
        stream_consumer_create(s, st, g, SLICE_LIT("c"), 0),
        stream_consumer_create(s, st, g, SLICE_LIT("a"), 0),
        stream_consumer_create(s, st, g, SLICE_LIT("b"), 0),
    };
    assert_ptr_equal(g->consumers[0], c[1]); /* by name */
    static int order[P];
    static bool pending[P];
    for (int i = 0; i < P; i++)
        order[i] = i;
    for (int i = P - 1; i > 0; i--) {
        int j = (int)(next_rand() % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < P; i++) {
        stream_pel_add(s, st, g, c[order[i] % 3], (struct stream_id){ (uint64_t)order[i], 1 }, i, 1);
        pending[order[i]] = true;
    }
    assert_int_equal(g->pel_count, P);
    for (int i = 0; i < P; i += 2) { /* ack every other one, in random order */
        struct stream_nack *n = stream_pel_find(g, (struct stream_id){ (uint64_t)order[i], 1 });
        assert_non_null(n);
        stream_pel_remove(s, st, g, n);
        pending[order[i]] = false;
    }
    assert_int_equal(g->pel_count, P / 2);
    /* move a third of them to "a" */
    for (int k = 0; k < P; k += 3)
        if (pending[k])
            stream_nack_move(stream_pel_find(g, (struct stream_id){ (uint64_t)k, 1 }), c[1]);
    /* every pending ID once, in order: pel_from(at) finds each next one */
    size_t seen = 0, per[3] = { 0, 0, 0 };
    struct stream_id at = { 0, 0 };
    for (struct stream_nack *n = stream_pel_from(g, at); n; n = stream_pel_from(g, at)) {
        assert_true(pending[n->id.ms]);
        seen++;
        per[n->consumer == c[0] ? 0 : n->consumer == c[1] ? 1 : 2]++;
        at = n->id;
        stream_id_incr(&at);
    }
    assert_int_equal(seen, P / 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(per[i], c[i]->pel_count);
        size_t walked = 0;
        struct stream_id cat = { 0, 0 };
        uint64_t last = 0;
        for (struct stream_nack *n = stream_consumer_pel_from(c[i], cat); n; n = stream_consumer_pel_from(c[i], cat)) {
            assert_ptr_equal(n->consumer, c[i]);
            assert_true(walked == 0 || n->id.ms > last);
            last = n->id.ms;
            walked++;
            cat = n->id;
            stream_id_incr(&cat);
        }
        assert_int_equal(walked, c[i]->pel_count);
    }
    /* a copy keeps the groups */
    struct stream *d = stream_dup(s, st);
    struct stream_group *dg = stream_group_find(d, SLICE_LIT("g"));
    assert_non_null(dg);
    assert_int_equal(dg->pel_count, P / 2);
    assert_int_equal(dg->nconsumers, 3);
    stream_destroy(s, d);
    assert_int_equal(stream_consumer_delete(s, st, g, c[1]), per[1]);
    assert_int_equal(g->pel_count, P / 2 - per[1]);
    assert_true(stream_group_destroy(s, st, SLICE_LIT("g")));
    assert_false(stream_group_destroy(s, st, SLICE_LIT("g")));
    stream_destroy(s, st);
    assert_int_equal(store_used_memory(s), empty);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_walk_delete),
        cmocka_unit_test(test_pel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
