/* slot_index through the store (store_index_slots, store_slot_count,
 * store_slot_keys): after random sets (new keys and replacements of every
 * size, so entries move), deletes, expiries given and removed (entries
 * move), keys past their time removed by the active cycle, the table
 * growing and shrinking, and a flush, every slot's count and key list are
 * exactly those of a plain model; an index made on a store that already
 * holds keys takes them in; a slot's keys are found without visiting the
 * others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shards/store/slot.h"
#include "shards/store/store.h"

#define NOW 1700000000000LL
#define NKEYS 6000

static bool live[NKEYS];

static struct slice key_of(char *buf, int i)
{
    /* hash tags put many keys in a few slots, as a client using them does */
    int n = i % 5 == 0 ? snprintf(buf, 32, "{tag%d}:%d", i % 7, i) : snprintf(buf, 32, "key:%d", i);
    return (struct slice){ buf, (size_t)n };
}

struct listed {
    int    n;
    bool   seen[NKEYS];
    int    bad;
};

static void note_key(void *arg, struct entry *e)
{
    struct listed *l = arg;
    char text[40];
    snprintf(text, sizeof text, "%.*s", (int)entry_key_len(e), entry_key(e));
    const char *colon = strrchr(text, ':');
    assert_non_null(colon);
    int i = atoi(colon + 1);
    if (i < 0 || i >= NKEYS || l->seen[i] || !live[i]) {
        print_message("bad key %s\n", text);
        l->bad++;
    }
    else
        l->seen[i] = true;
    l->n++;
}

/* Every slot's count and keys against the model. */
static void check_all(struct store *s)
{
    static int want[SLOT_COUNT];
    memset(want, 0, sizeof want);
    char buf[32];
    for (int i = 0; i < NKEYS; i++)
        if (live[i]) {
            struct slice k = key_of(buf, i);
            want[key_slot(k.ptr, k.len)]++;
        }
    size_t total = 0;
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
        size_t n = store_slot_count(s, slot);
        if ((int)n != want[slot])
            fail_msg("slot %u: count %zu, model %d", slot, n, want[slot]);
        total += n;
        if (!want[slot])
            continue;
        struct listed *l = calloc(1, sizeof *l);
        size_t got = store_slot_keys(s, slot, SIZE_MAX, NOW, note_key, l);
        assert_int_equal(got, (size_t)want[slot]);
        assert_int_equal(l->n, want[slot]);
        assert_int_equal(l->bad, 0);
        for (int i = 0; i < NKEYS; i++)
            if (l->seen[i]) {
                struct slice k = key_of(buf, i);
                assert_int_equal(key_slot(k.ptr, k.len), slot);
            }
        /* at most max */
        if (want[slot] > 1) {
            struct listed *two = calloc(1, sizeof *two);
            assert_int_equal(store_slot_keys(s, slot, 2, NOW, note_key, two), 2);
            free(two);
        }
        free(l);
    }
    assert_int_equal(total, store_count(s));
}

static void test_index_follows_changes(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    char buf[32];
    srand(7);
    /* keys before the index: taken in when it is made */
    for (int i = 0; i < NKEYS / 4; i++) {
        struct slice k = key_of(buf, i);
        store_set(s, k, "v", 1, 0);
        live[i] = true;
    }
    assert_false(store_slots_indexed(s));
    assert_int_equal(store_slot_count(s, 0), 0);
    store_index_slots(s);
    assert_true(store_slots_indexed(s));
    check_all(s);
    static char big[3000];
    memset(big, 'x', sizeof big);
    for (int round = 0; round < 4; round++) {
        for (int step = 0; step < 20000; step++) {
            int i = rand() % NKEYS;
            struct slice k = key_of(buf, i);
            int op = rand() % 10;
            if (op < 5) { /* set: new, or replaced with another size (moves) */
                store_set(s, k, big, (size_t)(rand() % 3 == 0 ? rand() % 3000 : rand() % 20), 0);
                live[i] = true;
            } else if (op < 7) {
                bool was = store_delete(s, k);
                assert_int_equal(was, live[i]);
                live[i] = false;
            } else if (op < 8) { /* an expiry given (moves the entry) or removed */
                struct entry *e = store_peek(s, k, NOW);
                if (e)
                    store_set_expire(s, e, rand() % 2 ? NOW + 1000000 : 0, NOW);
            } else if (op < 9) { /* an expiry in the past: removed at once */
                struct entry *e = store_peek(s, k, NOW);
                if (e) {
                    store_set_expire(s, e, NOW - 5, NOW);
                    live[i] = false;
                }
            } else { /* grows in place or moves */
                struct entry *e = store_peek(s, k, NOW);
                if (e)
                    store_resize(s, e, (size_t)(rand() % 4000));
            }
        }
        check_all(s);
    }
    /* keys past their time, removed by the store itself */
    for (int i = 0; i < NKEYS; i += 3) {
        struct slice k = key_of(buf, i);
        struct entry *e = store_peek(s, k, NOW);
        if (e && store_set_expire(s, e, NOW + 10, NOW))
            live[i] = false;
    }
    while (store_expire_cycle(s, NOW + 100, 100000) > 0)
        ;
    for (int i = 0; i < NKEYS; i += 3) { /* what the sampling left: removed on access */
        struct slice k = key_of(buf, i);
        assert_null(store_find(s, k, NOW + 100));
    }
    check_all(s);
    /* most keys gone: the table shrinks, the index follows */
    for (int i = 0; i < NKEYS; i++)
        if (i % 50 != 0 && live[i]) {
            struct slice k = key_of(buf, i);
            assert_true(store_delete(s, k));
            live[i] = false;
        }
    check_all(s);
    store_flush(s);
    memset(live, 0, sizeof live);
    check_all(s);
    for (int i = 0; i < 100; i++) {
        struct slice k = key_of(buf, i);
        store_set(s, k, "v", 1, 0);
        live[i] = true;
    }
    check_all(s);
    assert_true(store_slot_index_memory(s) > 0);
    store_destroy(s);
}

/* store_slot_keys_except lists a slot's keys but those whose hash the
 * skip says (asked before any lookup: a slot push leaves out its keys in
 * flight); store_delete_entry deletes the entry a peek found, the index
 * following, as store_delete does. */
struct except_ctx {
    uint64_t skip[NKEYS];
    int      nskip;
    int      listed;
    int      asked;
};

static bool in_skip(void *arg, uint64_t h)
{
    struct except_ctx *x = arg;
    x->asked++;
    for (int j = 0; j < x->nskip; j++)
        if ((x->skip[j] ? x->skip[j] : 1) == h)
            return true;
    return false;
}

static void count_listed(void *arg, struct entry *e)
{
    (void)e;
    ((struct except_ctx *)arg)->listed++;
}

static void test_keys_except_and_delete_entry(void **state)
{
    (void)state;
    struct store *s = store_create(NULL, NULL, NULL);
    store_index_slots(s);
    char buf[64];
    /* 300 keys of one slot */
    for (int i = 0; i < 300; i++) {
        int n = snprintf(buf, sizeof buf, "{same}:%d", i);
        store_set(s, (struct slice){ buf, (size_t)n }, "v", 1, 0);
    }
    unsigned slot = key_slot("same", 4);
    assert_int_equal(store_slot_count(s, slot), 300);
    struct except_ctx *x = calloc(1, sizeof *x);
    for (int i = 0; i < 300; i += 3) {
        int n = snprintf(buf, sizeof buf, "{same}:%d", i);
        x->skip[x->nskip++] = store_key_hash((struct slice){ buf, (size_t)n });
    }
    assert_int_equal(store_slot_keys_except(s, slot, SIZE_MAX, NOW, in_skip, count_listed, x), 200);
    assert_int_equal(x->listed, 200);
    assert_true(x->asked >= 300); /* every key asked, before its lookup */
    x->listed = 0;
    assert_int_equal(store_slot_keys_except(s, slot, 50, NOW, in_skip, count_listed, x), 50);
    /* delete by entry: gone, the index follows */
    for (int i = 0; i < 300; i += 2) {
        int n = snprintf(buf, sizeof buf, "{same}:%d", i);
        struct slice k = { buf, (size_t)n };
        struct entry *e = store_peek(s, k, NOW);
        assert_non_null(e);
        assert_true(store_delete_entry(s, e));
        assert_null(store_peek(s, k, NOW));
    }
    assert_int_equal(store_slot_count(s, slot), 150);
    assert_int_equal(store_count(s), 150);
    x->listed = 0;
    x->nskip = 0;
    assert_int_equal(store_slot_keys_except(s, slot, SIZE_MAX, NOW, in_skip, count_listed, x), 150);
    free(x);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_follows_changes),
        cmocka_unit_test(test_keys_except_and_delete_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
