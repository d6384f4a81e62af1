/* cluster state (shards/cluster/state.c): the text form read and written
 * back, its checks, and group records that never go back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <mimalloc.h>

#include "shards/cluster/state.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "cccccccccccccccccccccccccccccccccccccccc"

static const char *two_groups =
    "ringkv-cluster-state 1\n"
    "# a comment\n"
    "\n"
    "slots 7 8192-16383\n"            /* records in any order in a push */
    "node " C " 10.0.0.3 7002 7\n"
    "table-version 3\n"
    "group 1 " A " 4\n"
    "group 7 " C " 2\n"
    "node " A " 10.0.0.1 7000 1\n"
    "node " B " 10.0.0.2 7001 1\n"
    "slots 1 0-8190 8191\n";

static struct cluster_state *parse(const char *text, const char *myid, char *err, size_t errlen)
{
    return cluster_state_parse(text, strlen(text), myid, NULL, err, errlen);
}

static void test_parse(void **state)
{
    (void)state;
    char err[300] = "";
    struct cluster_state *st = parse(two_groups, B, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(st->version, 3);
    assert_int_equal(st->nnodes, 3);
    assert_int_equal(st->ngroups, 2);
    /* one allocation: its arrays aligned for their types (an odd node
     * count used to leave the groups' 64-bit epochs misaligned) */
    assert_int_equal((uintptr_t)st->groups % _Alignof(struct cluster_group), 0);
    assert_int_equal((uintptr_t)st->nodes % _Alignof(struct cluster_node), 0);
    assert_int_equal(st->slots_assigned, SLOT_COUNT);
    assert_true(cluster_state_ok(st));
    assert_string_equal(st->nodes[st->myself].id, B);
    assert_false(cluster_node_is_master(st, st->myself));
    int g1 = st->slot_group[0], g7 = st->slot_group[16383];
    assert_int_equal(st->groups[g1].id, 1);
    assert_int_equal(st->groups[g7].id, 7);
    assert_int_equal(st->slot_group[8191], g1);
    assert_int_equal(st->slot_group[8192], g7);
    assert_string_equal(st->nodes[st->groups[g1].master].id, A);
    assert_int_equal(st->groups[g1].epoch, 4);
    assert_int_equal(st->groups[g1].nslots, 8192);
    assert_string_equal(st->nodes[st->groups[g7].master].ip, "10.0.0.3");
    assert_int_equal(st->nodes[st->groups[g7].master].port, 7002);
    mi_free(st);
}

/* What the node writes, it reads back the same (with its id, as the file). */
static void test_round_trip(void **state)
{
    (void)state;
    char err[300] = "";
    struct cluster_state *st = parse(two_groups, A, err, sizeof err);
    assert_non_null(st);
    struct buf text;
    buf_init(&text);
    cluster_state_format(st, A, &text);
    char myid[CLUSTER_ID_LEN + 1] = "";
    struct cluster_state *again = cluster_state_parse(text.data, text.len, NULL, myid, err, sizeof err);
    assert_non_null(again);
    assert_string_equal(myid, A);
    assert_int_equal(again->myself, st->myself);
    struct buf text2;
    buf_init(&text2);
    cluster_state_format(again, A, &text2);
    assert_int_equal(text.len, text2.len);
    assert_memory_equal(text.data, text2.data, text.len);
    assert_memory_equal(again->slot_group, st->slot_group, sizeof st->slot_group);
    buf_free(&text);
    buf_free(&text2);
    mi_free(st);
    mi_free(again);
}

/* A table of many ranges (every other slot) spreads its slots over lines
 * short enough to read back. */
static void test_many_ranges(void **state)
{
    (void)state;
    struct buf in;
    buf_init(&in);
    buf_append_str(&in, "ringkv-cluster-state 1\ntable-version 1\ngroup 0 " A " 1\ngroup 1 " B " 1\n"
                        "node " A " 127.0.0.1 1 0\nnode " B " 127.0.0.1 2 1\n");
    for (int s = 0; s < SLOT_COUNT; s += 32) {
        buf_printf(&in, "slots 0");
        for (int k = s; k < s + 32; k += 2)
            buf_printf(&in, " %d", k);
        buf_printf(&in, "\nslots 1");
        for (int k = s + 1; k < s + 32; k += 2)
            buf_printf(&in, " %d", k);
        buf_printf(&in, "\n");
    }
    char err[300] = "";
    struct cluster_state *st = cluster_state_parse(in.data, in.len, A, NULL, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(st->slots_assigned, SLOT_COUNT);
    struct buf out;
    buf_init(&out);
    cluster_state_format(st, NULL, &out);
    struct cluster_state *again = cluster_state_parse(out.data, out.len, A, NULL, err, sizeof err);
    assert_non_null(again);
    assert_memory_equal(again->slot_group, st->slot_group, sizeof st->slot_group);
    buf_free(&in);
    buf_free(&out);
    mi_free(st);
    mi_free(again);
}

static void expect_refused(const char *text, const char *why)
{
    char err[300] = "";
    struct cluster_state *st = parse(text, A, err, sizeof err);
    if (st) {
        mi_free(st);
        fail_msg("accepted: %s", text);
    }
    if (!strstr(err, why))
        fail_msg("error '%s' does not say '%s'", err, why);
}

#define HEAD "ringkv-cluster-state 1\ntable-version 2\n"

static void test_refused(void **state)
{
    (void)state;
    expect_refused("", "line 1: expected 'ringkv-cluster-state 1' first");
    expect_refused("table-version 2\n", "expected 'ringkv-cluster-state 1' first");
    expect_refused("ringkv-cluster-state 2\n", "first");
    expect_refused(HEAD "myid " A "\n", "line 3: 'myid' is not for a push");
    expect_refused(HEAD "table-version 3\n", "line 3: expected one 'table-version");
    expect_refused("ringkv-cluster-state 1\ntable-version 0\n", "n >= 1");
    expect_refused(HEAD "group 1 " A " 1\nnode " A " 1.2.3.4 7000 2\n", "in group 2, which has no 'group' line");
    expect_refused(HEAD "group 1 " A " 1\nnode " A " 1.2.3.4 0 1\n", "port 1..65535");
    expect_refused(HEAD "group 1 " A " 1\nnode " A " 1.2.3.4 65536 1\n", "port 1..65535");
    expect_refused(HEAD "group 1 AAAA 1\n", "expected 'group <group-id> <master id> <epoch>'");
    expect_refused(HEAD "group 1 " A " 1\ngroup 1 " A " 1\nnode " A " h 1 1\n", "group 1 given twice");
    expect_refused(HEAD "group 1 " A " 1\nnode " A " h 1 1\nnode " A " h 2 1\n", "given twice");
    expect_refused(HEAD "group 1 " B " 1\nnode " A " h 1 1\n", "is not a node of that group");
    expect_refused(HEAD "group 1 " A " 1\ngroup 2 " B " 1\nnode " A " h 1 1\nnode " B " h 2 2\n"
                   "slots 1 0-100\nslots 2 100\n", "line 8: slot 100 given twice");
    expect_refused(HEAD "group 1 " A " 1\nnode " A " h 1 1\nslots 1 0-16384\n", "bad slot range");
    expect_refused(HEAD "group 1 " A " 1\nnode " A " h 1 1\nslots 1 5-4\n", "bad slot range 5-4");
    expect_refused(HEAD "group 1 " A " 1\nnode " A " h 1 1\nslots 1 x\n", "bad slot range");
    expect_refused(HEAD "group 1 " A " 1\nnode " A " h 1 1\nslots 3 1\n", "slots of group 3");
    expect_refused(HEAD "frobnicate 1\n", "unknown record 'frobnicate'");
    expect_refused("ringkv-cluster-state 1\ngroup 1 " A " 1\nnode " A " h 1 1\n", "needs a 'table-version'");
    char nul[] = HEAD "x";
    char err[100];
    assert_null(cluster_state_parse(nul, sizeof nul, A, NULL, err, sizeof err)); /* the NUL at the end */
}

/* A group record held with a higher epoch survives a push of an older
 * one; a newer pushed record wins. */
static void test_groups_never_go_back(void **state)
{
    (void)state;
    char err[300] = "";
    struct cluster_state *old = parse(HEAD "group 1 " B " 5\nnode " A " h 1 1\nnode " B " h 2 1\n"
                                      "slots 1 0-16383\n", A, err, sizeof err);
    assert_non_null(old);
    struct cluster_state *pushed = parse("ringkv-cluster-state 1\ntable-version 3\ngroup 1 " A " 1\n"
                                         "node " A " h 1 1\nnode " B " h 2 1\nslots 1 0-16383\n", A, err, sizeof err);
    assert_non_null(pushed);
    cluster_state_keep_newer_groups(pushed, old);
    assert_string_equal(pushed->nodes[pushed->groups[0].master].id, B);
    assert_int_equal(pushed->groups[0].epoch, 5);
    struct cluster_state *newer = parse("ringkv-cluster-state 1\ntable-version 4\ngroup 1 " A " 6\n"
                                        "node " A " h 1 1\nnode " B " h 2 1\nslots 1 0-16383\n", A, err, sizeof err);
    assert_non_null(newer);
    cluster_state_keep_newer_groups(newer, old);
    assert_string_equal(newer->nodes[newer->groups[0].master].id, A);
    assert_int_equal(newer->groups[0].epoch, 6);
    mi_free(old);
    mi_free(pushed);
    mi_free(newer);
}

/* A pull merges a peer's newer group records into a copy of the node's
 * own state: the copy is the same state (its text is), changing it leaves
 * the original alone, and the merge says how many records it took. */
static void test_copy_and_merge(void **state)
{
    (void)state;
    char err[300] = "";
    const char *text = "ringkv-cluster-state 1\ntable-version 7\ngroup 1 " A " 3\ngroup 2 " B " 9\n"
                       "node " A " h 1 1\nnode " B " h 2 2\nnode " C " h 3 1\nslots 1 0-99\nslots 2 100-16383\n";
    struct cluster_state *ours = parse(text, A, err, sizeof err);
    assert_non_null(ours);
    assert_int_equal(cluster_state_max_epoch(ours), 9);
    struct cluster_state *copy = cluster_state_copy(ours);
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    cluster_state_format(ours, NULL, &a);
    cluster_state_format(copy, NULL, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_int_equal(copy->myself, ours->myself);
    assert_int_equal(copy->slot_group[100], ours->slot_group[100]);
    copy->groups[0].epoch = 10;
    assert_int_equal(ours->groups[0].epoch, 3);
    assert_ptr_not_equal(copy->nodes, ours->nodes);
    /* a peer with an older table but group 1 at epoch 10 with C as master */
    struct cluster_state *theirs = parse("ringkv-cluster-state 1\ntable-version 5\ngroup 1 " C " 10\n"
                                         "node " A " h 1 1\nnode " C " h 3 1\nslots 1 0-16383\n", A, err, sizeof err);
    assert_non_null(theirs);
    struct cluster_state *merged = cluster_state_copy(ours);
    assert_int_equal(cluster_state_keep_newer_groups(merged, theirs), 1);
    assert_string_equal(merged->nodes[merged->groups[0].master].id, C);
    assert_int_equal(merged->groups[0].epoch, 10);
    assert_int_equal(merged->version, 7); /* the table stays ours */
    assert_int_equal(merged->slot_group[50], ours->slot_group[50]);
    assert_int_equal(cluster_state_keep_newer_groups(merged, theirs), 0); /* nothing newer left */
    assert_int_equal(cluster_state_group_by_id(merged, 2), 1);
    assert_int_equal(cluster_state_group_by_id(merged, 3), -1);
    buf_free(&a);
    buf_free(&b);
    mi_free(ours);
    mi_free(copy);
    mi_free(theirs);
    mi_free(merged);
}

/* Group weights (the admin tool's --weight): 1 when not given, so a file
 * written before weights existed reads as before; written only when not 1,
 * read back the same, kept by a copy; a merge of a newer group record
 * takes its master and epoch but not its weight (the weight goes with the
 * table). */
static void test_weights(void **state)
{
    (void)state;
    char err[300] = "";
    struct cluster_state *old = parse(two_groups, A, err, sizeof err);
    assert_non_null(old);
    assert_int_equal(old->groups[0].weight, 1);
    assert_int_equal(old->groups[1].weight, 1);
    const char *text = "ringkv-cluster-state 1\ntable-version 7\ngroup 1 " A " 3 2\ngroup 2 " B " 9\n"
                       "node " A " h 1 1\nnode " B " h 2 2\nnode " C " h 3 1\nslots 1 0-99\nslots 2 100-16383\n";
    struct cluster_state *st = parse(text, A, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(st->groups[0].weight, 2);
    assert_int_equal(st->groups[1].weight, 1);
    struct buf out;
    buf_init(&out);
    cluster_state_format(st, NULL, &out);
    buf_append(&out, "", 1);
    assert_non_null(strstr(out.data, "group 1 " A " 3 2\n"));
    assert_non_null(strstr(out.data, "group 2 " B " 9\n"));
    struct cluster_state *again = parse(out.data, A, err, sizeof err);
    assert_non_null(again);
    assert_int_equal(again->groups[0].weight, 2);
    struct cluster_state *copy = cluster_state_copy(st);
    assert_int_equal(copy->groups[0].weight, 2);
    struct cluster_state *theirs = parse("ringkv-cluster-state 1\ntable-version 5\ngroup 1 " C " 10 5\n"
                                         "node " A " h 1 1\nnode " C " h 3 1\nslots 1 0-16383\n", A, err, sizeof err);
    assert_non_null(theirs);
    assert_int_equal(cluster_state_keep_newer_groups(copy, theirs), 1);
    assert_int_equal(copy->groups[0].epoch, 10);
    assert_int_equal(copy->groups[0].weight, 2);
    expect_refused(HEAD "group 1 " A " 1 0\nnode " A " h 1 1\n", "maybe a weight 1..1000000");
    expect_refused(HEAD "group 1 " A " 1 x\nnode " A " h 1 1\n", "maybe a weight");
    expect_refused(HEAD "group 1 " A " 1 1000001\nnode " A " h 1 1\n", "maybe a weight");
    expect_refused(HEAD "group 1 " A " 1 2 3\nnode " A " h 1 1\n", "expected 'group <group-id>");
    buf_free(&out);
    mi_free(old);
    mi_free(st);
    mi_free(again);
    mi_free(copy);
    mi_free(theirs);
}

/* Two replicas of a group promoted at the same moment take the same epoch:
 * every node settles on the record with the greater master id, whichever
 * it held. */
static void test_equal_epochs_settle(void **state)
{
    (void)state;
    char err[300] = "";
    const char *with_b = "ringkv-cluster-state 1\ntable-version 2\ngroup 1 " B " 4\n"
                         "node " A " h 1 1\nnode " B " h 2 1\nnode " C " h 3 1\nslots 1 0-16383\n";
    const char *with_c = "ringkv-cluster-state 1\ntable-version 2\ngroup 1 " C " 4\n"
                         "node " A " h 1 1\nnode " B " h 2 1\nnode " C " h 3 1\nslots 1 0-16383\n";
    struct cluster_state *b = parse(with_b, A, err, sizeof err);
    struct cluster_state *c = parse(with_c, A, err, sizeof err);
    assert_true(cluster_record_newer(4, C, 4, B));
    assert_false(cluster_record_newer(4, B, 4, C));
    assert_false(cluster_record_newer(4, C, 4, C));
    assert_true(cluster_record_newer(5, A, 4, C));
    assert_int_equal(cluster_state_keep_newer_groups(b, c), 1); /* B's holder takes C */
    assert_string_equal(b->nodes[b->groups[0].master].id, C);
    assert_int_equal(cluster_state_keep_newer_groups(c, b), 0); /* C's holder keeps C */
    assert_string_equal(c->nodes[c->groups[0].master].id, C);
    mi_free(b);
    mi_free(c);
}

/* The Sentinels listed in the state: read, written back, checked. */
static void test_sentinels(void **state)
{
    (void)state;
    char err[300] = "", text[2000];
    snprintf(text, sizeof text, "%ssentinel 10.0.0.9 26379\nsentinel ::1 26380\n", two_groups);
    struct cluster_state *st = parse(text, A, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(st->nsentinels, 2);
    assert_string_equal(st->sentinels[0].ip, "10.0.0.9");
    assert_int_equal(st->sentinels[0].port, 26379);
    assert_string_equal(st->sentinels[1].ip, "::1");
    struct buf out;
    buf_init(&out);
    cluster_state_format(st, NULL, &out);
    assert_non_null(strstr(out.data, "sentinel 10.0.0.9 26379\n"));
    struct cluster_state *back = cluster_state_parse(out.data, out.len, A, NULL, err, sizeof err);
    assert_non_null(back);
    assert_int_equal(back->nsentinels, 2);
    assert_int_equal(back->sentinels[1].port, 26380);
    struct cluster_state *copy = cluster_state_copy(st);
    assert_int_equal(copy->nsentinels, 2);
    /* the node of a group at an address (what a Sentinel names) */
    int g1 = st->slot_group[0];
    assert_string_equal(st->nodes[cluster_state_node_at(st, g1, "10.0.0.2", 7001)].id, B);
    assert_int_equal(cluster_state_node_at(st, g1, "10.0.0.3", 7002), -1); /* another group's */
    buf_free(&out);
    mi_free(back);
    mi_free(copy);
    mi_free(st);
    const char *bad[] = { "sentinel 10.0.0.9\n", "sentinel 10.0.0.9 0\n", "sentinel 10.0.0.9 70000\n",
                          "sentinel 10.0.0.9 1 2\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s", two_groups, bad[i]);
        err[0] = 0;
        assert_null(parse(text, A, err, sizeof err));
        assert_non_null(strstr(err, "sentinel"));
    }
    text[0] = 0;
    size_t len = (size_t)snprintf(text, sizeof text, "%s", two_groups);
    for (int i = 0; i <= CLUSTER_SENTINELS_MAX; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "sentinel 10.0.0.%d 26379\n", i);
    assert_null(parse(text, A, err, sizeof err));
}

/* Sentinel epochs and the cluster's own (state.h): a Sentinel decision
 * beats every record made before it; a record the cluster makes after it
 * (highest + 1) beats it; the next Sentinel decision beats that. */
static void test_sentinel_epochs_order(void **state)
{
    (void)state;
    uint64_t tool = 0;                                  /* the admin tool's first records */
    uint64_t promoted = tool + 1;                       /* a node promoted records itself */
    uint64_t s1 = cluster_epoch_of_sentinel(1);         /* Sentinel's first failover */
    uint64_t manual = s1 + 1;                           /* a CLUSTER FAILOVER after it */
    uint64_t s2 = cluster_epoch_of_sentinel(2);
    assert_true(cluster_record_newer(s1, A, promoted, B));
    assert_true(cluster_record_newer(s1, A, promoted + 1000, B));
    assert_true(cluster_record_newer(manual, B, s1, A));
    assert_true(cluster_record_newer(s2, A, manual, B));
    assert_false(cluster_record_newer(cluster_epoch_of_sentinel(0), A, tool, B)); /* Sentinel before any failover */
    assert_false(cluster_record_newer(s1, A, s1, A));   /* the same decision learnt twice: no change */
}

static void test_empty(void **state)
{
    (void)state;
    struct cluster_state *st = cluster_state_empty();
    assert_int_equal(st->version, 0);
    assert_int_equal(st->myself, -1);
    assert_false(cluster_state_ok(st));
    assert_int_equal(st->slot_group[123], CLUSTER_NO_GROUP);
    mi_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_many_ranges),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_groups_never_go_back),
        cmocka_unit_test(test_copy_and_merge),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_equal_epochs_settle),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_sentinels),
        cmocka_unit_test(test_sentinel_epochs_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
