/* placement: the target slot table as the cheapest transport of blocks to
 * groups (see placement.h for the contract).
 *
 * 1. The groups are sorted by id (their *rank*), so nothing below depends on
 *    the order they were given in.
 * 2. Quotas: SLOT_COUNT * w / W each, the slots left by rounding down going
 *    one each to the largest remainders (ties to the lower rank).
 * 3. Costs: block b costs group g log(-ln(u) / w), u = XXH64(g, b) / 2^64:
 *    the log of g's arrival time at b in weighted rendezvous hashing, so with
 *    no quotas every block would go to its cheapest group, which is plain
 *    weighted HRW.
 * 4. The table is the assignment of slots to groups of least total cost in
 *    which every group gets exactly its quota and a block's slots go to the
 *    groups in whole pieces (min-cost transport: blocks supply
 *    block_slots each, the last one what is left, groups take their
 *    quota). Its dual is one price per
 *    group: each block goes to the group whose cost plus price is least,
 *    and a block is split only where two groups tie, which at the optimum of
 *    a transport problem happens at most n - 1 times (its support is a
 *    forest over the blocks and groups): at most blocks + n - 1 ranges.
 *
 * Why a transport and not a cap: a group that joins takes the blocks where
 * it is cheapest; the others' prices then move only as much as needed to
 * bring each back to its smaller quota. Greedy capping (offers dealt in
 * order of score, each to the best group with room) moves more slots
 * between the old groups in most cases up to 24 groups (up to 1.9 times as
 * many), about as many beyond: every group that fills earlier pushes its
 * overflow down a chain of others (bench/RESULTS.md "Cluster slot
 * placement").
 *
 * Why blocks of 18: what moves between the old groups when one joins comes
 * from the whole blocks the joiner takes (from a few groups, while every
 * group's quota shrinks a little, so the others pass slots along) and
 * shrinks with the block; 18 is the smallest block with blocks + n - 1
 * ≤ 1024 for 64 groups (17 gives 1027). Blocks of 32 moved about 1.4
 * times as much between the old groups (bench/RESULTS.md).
 *
 * Solved by successive shortest paths, one block at a time, in block order:
 * its slots go along the cheapest path from the block to a group with quota
 * left, where a step from group i to group j moves part of a block i holds
 * over to j, at cost(j) - cost(i). Each step keeps the assignment so far the
 * cheapest for the slots placed so far (there is never a negative cycle), so
 * the last one is the optimum. Paths are found by Bellman-Ford over the
 * groups; costs are integers (log2 in 32.32 fixed point, computed without
 * libm), so every machine takes the same steps. The cheapest move between
 * two groups is kept up to date as blocks change hands, so a path costs a
 * Bellman-Ford over n groups plus a row of moves per group that lost a
 * block: a few tens of ms for 64 groups. */
#include "shards/cluster/placement.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "shards/store/slot.h"

/* Fixed for all time: changing it changes every node's table. */
#define PLACEMENT_SEED 0x72696e676b762d70ull /* "ringkv-p" */
/* Shaped costs only (bench): a second hash of the member's key for slopes. */
#define PLACEMENT_SLOPE_SALT 0x736c6f7065000000ull /* "slope" */

struct member {
    const struct placement_group *group;
    uint16_t index;  /* in the caller's array */
    uint64_t key;    /* XXH64 of the id */
    uint64_t log2_weight; /* log2_q32 of its weight */
    uint64_t excess; /* SLOT_COUNT * weight mod total weight */
    uint32_t room;   /* slots of its quota not placed yet */
};

/* The working state of one computation: per block and group (in rank
 * order) the cost and the slots placed; per pair of groups the cheapest
 * move between them and the block it moves. */
struct transport {
    int n;
    unsigned blocks;
    int64_t *cost;   /* [blocks][n] */
    uint16_t *flow;  /* [blocks][n] */
    int64_t *move;   /* [n][n] */
    uint32_t *via;   /* [n][n] */
    int64_t *dist;   /* [n] */
    int *prev;       /* [n] */
    int *fell;       /* [n]: the Bellman-Ford round after the one its distance fell in */
    unsigned char *dirty; /* [n]: the group's row of moves must be found again */
    struct gain {
        int group;
        unsigned block;
    } *gained;       /* [n]: blocks a path just gave a group that had none of them */
    unsigned gains;
};

static int id_cmp(const struct placement_group *a, const struct placement_group *b)
{
    size_t len = a->id_len < b->id_len ? a->id_len : b->id_len;
    int c = len ? memcmp(a->id, b->id, len) : 0;
    if (c)
        return c;
    return (a->id_len > b->id_len) - (a->id_len < b->id_len);
}

static int member_by_id(const void *a, const void *b)
{
    return id_cmp(((const struct member *)a)->group, ((const struct member *)b)->group);
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t block_hash(uint64_t key, unsigned block)
{
    unsigned char buf[16];
    put_le64(buf, key);
    put_le64(buf + 8, block);
    return XXH64(buf, sizeof buf, PLACEMENT_SEED);
}

/* log2(h) in 32.32 fixed point, integers only (the same bits on every
 * machine, which a libm log does not promise): the integer part from the
 * top bit, the fraction a bit at a time by squaring the mantissa. */
static uint64_t log2_q32(uint64_t h)
{
    if (h == 0)
        h = 1;
    int top = 63 - __builtin_clzll(h);
    uint64_t result = (uint64_t)top << 32;
    uint64_t m = h << (63 - top); /* the mantissa, [1, 2) as 1.63 fixed point */
    for (uint64_t bit = 1ull << 31; bit; bit >>= 1) {
        unsigned __int128 sq = (unsigned __int128)m * m; /* [1, 4) as 2.126 */
        if (sq >> 127) {
            result |= bit;
            m = (uint64_t)(sq >> 64);
        } else {
            m = (uint64_t)(sq >> 63);
        }
    }
    return result;
}

/* log2(-log2(u) / w) in 32.32 fixed point, u = hash / 2^64: the order of
 * log(-ln(u) / w), shifted by a constant that is the same for all.
 * log2_weight is log2_q32(w), the same for all of a group's blocks. */
static int64_t block_cost(uint64_t key, unsigned block, uint64_t log2_weight)
{
    uint64_t minus_log2_u = (64ull << 32) - log2_q32(block_hash(key, block)); /* 32.32, > 0 */
    return (int64_t)log2_q32(minus_log2_u) - (32ll << 32) - (int64_t)log2_weight;
}

/* Largest remainders: members[] is in rank order, so among equal excesses the
 * first found (the lower rank) wins. n is small; a pass per leftover slot. */
static void share_quotas(struct member *m, int n)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += m[i].group->weight;
    uint32_t dealt = 0;
    for (int i = 0; i < n; i++) {
        uint64_t share = (uint64_t)SLOT_COUNT * m[i].group->weight;
        m[i].room = (uint32_t)(share / total);
        m[i].excess = share % total;
        dealt += m[i].room;
    }
    for (; dealt < SLOT_COUNT; dealt++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (m[i].excess && (best < 0 || m[i].excess > m[best].excess))
                best = i;
        m[best].room++;
        m[best].excess = 0;
    }
}

/* The cheapest move from group i to group j: over the blocks placed so far
 * that i holds part of, the least cost(j) - cost(i); among equal ones the
 * first block. It depends only on which blocks i holds, so it is kept up to
 * date as holdings change: a block gained is one more candidate for each j
 * (offer_moves), a block lost makes the row be computed again (find_row). */
static void offer_moves(struct transport *t, int i, unsigned c)
{
    int n = t->n;
    const int64_t *cost = &t->cost[(size_t)c * n];
    for (int j = 0; j < n; j++) {
        int64_t step = cost[j] - cost[i];
        int64_t *best = &t->move[i * n + j];
        if (j != i && (step < *best || (step == *best && c < t->via[i * n + j]))) {
            *best = step;
            t->via[i * n + j] = c;
        }
    }
}

static void find_row(struct transport *t, int i, unsigned placed)
{
    int n = t->n;
    for (int j = 0; j < n; j++)
        t->move[i * n + j] = INT64_MAX;
    for (unsigned c = 0; c < placed; c++)
        if (t->flow[(size_t)c * n + i])
            offer_moves(t, i, c);
}

/* Cheapest paths from block b to every group (Bellman-Ford: the moves can
 * cost less than nothing), relaxing in each round only the moves out of
 * groups whose distance fell in the round before. Strict improvement only,
 * in rank order, so ties keep the first path found. */
static void find_paths(struct transport *t, unsigned b)
{
    int n = t->n;
    for (int j = 0; j < n; j++) {
        t->dist[j] = t->cost[(size_t)b * n + j];
        t->prev[j] = -1;
        t->fell[j] = 1;
    }
    for (int round = 0; round < n; round++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            if (t->fell[i] != round + 1)
                continue;
            for (int j = 0; j < n; j++) {
                int64_t step = t->move[i * n + j];
                if (step != INT64_MAX && t->dist[i] + step < t->dist[j]) {
                    t->dist[j] = t->dist[i] + step;
                    t->prev[j] = i;
                    t->fell[j] = round + 2;
                    changed = 1;
                }
            }
        }
        if (!changed)
            break;
    }
}

/* Place block b's slots: each round sends as many as the cheapest path to a
 * group with room carries (its room, the slots left, and what each move's
 * block holds). The moves consider the blocks before b; b's own pieces join
 * them once it is placed (a path through b's own piece would be a cycle). */
static void place_block(struct transport *t, struct member *m, unsigned b, unsigned block_slots)
{
    int n = t->n;
    unsigned supply = block_slots;
    while (supply) {
        find_paths(t, b);
        int end = -1;
        for (int j = 0; j < n; j++)
            if (m[j].room && (end < 0 || t->dist[j] < t->dist[end]))
                end = j;
        unsigned amount = supply < m[end].room ? supply : m[end].room;
        int first = end;
        for (int j = end; t->prev[j] >= 0; j = t->prev[j]) {
            unsigned held = t->flow[(size_t)t->via[t->prev[j] * n + j] * n + t->prev[j]];
            if (held < amount)
                amount = held;
            first = t->prev[j];
        }
        /* Walk the path again, moving the slots; rows whose group lost a
         * block are found again after, since later steps read via[]. */
        for (int j = end; t->prev[j] >= 0; j = t->prev[j]) {
            int i = t->prev[j];
            unsigned c = t->via[i * n + j];
            uint16_t *flow = &t->flow[(size_t)c * n];
            flow[i] = (uint16_t)(flow[i] - amount);
            if (flow[i] == 0)
                t->dirty[i] = 1;
            if (flow[j] == 0)
                t->gained[t->gains++] = (struct gain){ j, c };
            flow[j] = (uint16_t)(flow[j] + amount);
        }
        for (unsigned k = 0; k < t->gains; k++)
            offer_moves(t, t->gained[k].group, t->gained[k].block);
        t->gains = 0;
        for (int i = 0; i < n; i++)
            if (t->dirty[i]) {
                find_row(t, i, b);
                t->dirty[i] = 0;
            }
        t->flow[(size_t)b * n + first] = (uint16_t)(t->flow[(size_t)b * n + first] + amount);
        m[end].room -= amount;
        supply -= amount;
    }
    for (int i = 0; i < n; i++)
        if (t->flow[(size_t)b * n + i])
            offer_moves(t, i, b);
}

/* Block b's slots: block_slots, but the last block holds what is left when
 * block_slots does not divide SLOT_COUNT. */
static unsigned block_size(unsigned b, unsigned block_slots)
{
    unsigned first = b * block_slots;
    return SLOT_COUNT - first < block_slots ? SLOT_COUNT - first : block_slots;
}

static void transport_free(struct transport *t)
{
    free(t->cost);
    free(t->flow);
    free(t->move);
    free(t->via);
    free(t->dist);
    free(t->prev);
    free(t->fell);
    free(t->dirty);
    free(t->gained);
}

/* The cost of block b to member mr. Plain: block_cost of the block. Shaped
 * (bench only): blocks inherit their cost block's cost plus a slope, the
 * same for all of a member's blocks in one cost block and random in sign and
 * size (up to slope times 2^31 over the cost block, 2^32 being a factor of 2
 * in arrival time), so a cost block's blocks mostly stay together and where
 * two groups meet inside one, the split point moves a block at a time as
 * prices change. */
static int64_t unit_cost(const struct member *mr, unsigned b, const struct placement_shape *shape)
{
    unsigned first = b * shape->block_slots;
    if (shape->cost_slots <= shape->block_slots)
        return block_cost(mr->key, b, mr->log2_weight);
    unsigned cb = first / shape->cost_slots;
    int64_t per = (int64_t)(shape->cost_slots / shape->block_slots);
    int64_t step = (int64_t)(first % shape->cost_slots / shape->block_slots);
    uint64_t h = block_hash(mr->key ^ PLACEMENT_SLOPE_SALT, cb);
    int64_t slope = (int64_t)(int32_t)(uint32_t)(h >> 32) * (int64_t)shape->slope / per;
    return block_cost(mr->key, cb, mr->log2_weight) + step * slope;
}

int placement_compute_shaped(const struct placement_group *groups, int n,
                             const struct placement_shape *shape, uint16_t *table)
{
    unsigned block_slots = shape->block_slots;
    if (n < 1 || n > PLACEMENT_MAX_GROUPS || block_slots < 1 || block_slots > SLOT_COUNT ||
        shape->slope > 1024 ||
        (shape->cost_slots > block_slots && shape->cost_slots % block_slots))
        return -1;
    for (int i = 0; i < n; i++)
        if (groups[i].weight == 0)
            return -1;
    struct transport t = { .n = n, .blocks = (SLOT_COUNT + block_slots - 1) / block_slots };
    struct member *m = malloc(sizeof *m * (size_t)n);
    t.cost = malloc(sizeof *t.cost * t.blocks * (size_t)n);
    t.flow = calloc((size_t)t.blocks * (size_t)n, sizeof *t.flow);
    t.move = malloc(sizeof *t.move * (size_t)n * (size_t)n);
    t.via = malloc(sizeof *t.via * (size_t)n * (size_t)n);
    t.dist = malloc(sizeof *t.dist * (size_t)n);
    t.prev = malloc(sizeof *t.prev * (size_t)n);
    t.fell = malloc(sizeof *t.fell * (size_t)n);
    t.dirty = calloc((size_t)n, 1);
    t.gained = malloc(sizeof *t.gained * (size_t)n);
    int rc = m && t.cost && t.flow && t.move && t.via && t.dist && t.prev && t.fell &&
             t.dirty && t.gained ? 0 : -1;
    if (rc == 0) {
        for (int i = 0; i < n; i++) {
            m[i].group = &groups[i];
            m[i].index = (uint16_t)i;
            m[i].key = XXH64(groups[i].id, groups[i].id_len, PLACEMENT_SEED);
            m[i].log2_weight = log2_q32(groups[i].weight);
        }
        qsort(m, (size_t)n, sizeof *m, member_by_id);
        for (int i = 1; i < n; i++)
            if (id_cmp(m[i - 1].group, m[i].group) == 0)
                rc = -1;
    }
    if (rc == 0) {
        share_quotas(m, n);
        for (unsigned b = 0; b < t.blocks; b++)
            for (int r = 0; r < n; r++)
                t.cost[(size_t)b * n + r] = unit_cost(&m[r], b, shape);
        for (int i = 0; i < n * n; i++)
            t.move[i] = INT64_MAX;
        for (unsigned b = 0; b < t.blocks; b++)
            place_block(&t, m, b, block_size(b, block_slots));
        /* A shared block's pieces lie in rank order. */
        for (unsigned b = 0; b < t.blocks; b++) {
            unsigned s = b * block_slots;
            for (int r = 0; r < n; r++)
                for (unsigned k = 0; k < t.flow[(size_t)b * n + r]; k++)
                    table[s++] = m[r].index;
        }
    }
    free(m);
    transport_free(&t);
    return rc;
}

int placement_compute_blocks(const struct placement_group *groups, int n, unsigned block_slots,
                             uint16_t *table)
{
    if (block_slots < 16)
        return -1;
    struct placement_shape shape = { .block_slots = block_slots };
    return placement_compute_shaped(groups, n, &shape, table);
}

int placement_compute(const struct placement_group *groups, int n, uint16_t *table)
{
    return placement_compute_blocks(groups, n, PLACEMENT_BLOCK_SLOTS, table);
}

int placement_ranges(const uint16_t *table)
{
    int ranges = 1;
    for (unsigned s = 1; s < SLOT_COUNT; s++)
        ranges += table[s] != table[s - 1];
    return ranges;
}
