/* placement: the target slot table by rendezvous hashing with a cap (see
 * placement.h for the contract).
 *
 * 1. The groups are sorted by id (their *rank*), so nothing below depends on
 *    the order they were given in.
 * 2. Quotas: SLOT_COUNT * w / W each, the slots left by rounding down going
 *    one each to the largest remainders (ties to the lower rank).
 * 3. Offers: one per (block, group), scored XXH64 of the group's key and the
 *    block number; sorted by score, best first (ties: rank, then block).
 * 4. Deal: walking the offers in that order, a group with quota left takes
 *    what is still free of the block, from its low end, up to its quota.
 *    Every slot is dealt: a free slot at the end would mean a group with
 *    quota left whose offer for that block found neither empty.
 *
 * Why a global order of scores rather than blocks in turn: the result is
 * the one where no group and block would both rather have each other (the
 * stable matching), which does not depend on the order blocks are visited;
 * a new group takes the blocks it scores highest where it outranks the
 * owner, and the old groups give up what their smaller quotas no longer
 * hold. Only the difference between the two (which is random, a few blocks
 * per group) makes slots move between old groups. */
#include "shards/cluster/placement.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "shards/store/slot.h"

/* Fixed for all time: changing it changes every node's table. */
#define PLACEMENT_SEED 0x72696e676b762d70ull /* "ringkv-p" */

struct member {
    const struct placement_group *group;
    uint16_t index;   /* in the caller's array */
    uint64_t key;     /* XXH64 of the id */
    uint64_t excess;  /* SLOT_COUNT * weight mod total weight */
    uint32_t quota;
};

struct offer {
    uint64_t score;
    uint16_t rank;
    uint16_t block;
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
    /* mantissa in [1, 2) as 1.63 fixed point */
    uint64_t m = h << (63 - top);
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

/* The block's score for a group: the arrival time of an exponential race
 * with rate w, -ln(u) / w for u = hash / 2^64 (in log2 units, scaled): lower
 * is better. A group's best blocks then come in proportion to its weight,
 * as its quota does, so the cap bites less (rendezvous hashing's weighted
 * form: Schindelhauer and Schomaker). */
static uint64_t block_score(uint64_t key, unsigned block, uint32_t weight)
{
    uint64_t minus_log2 = (64ull << 32) - log2_q32(block_hash(key, block)); /* < 2^39 */
    return (minus_log2 << 16) / weight;
}

static int offer_order(const void *a, const void *b)
{
    const struct offer *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x->block > y->block) - (x->block < y->block);
}

/* Largest remainders: members[] is in rank order, so among equal excesses the
 * first found (the lower rank) wins. n is small; a pass per leftover slot. */
static void share_quotas(struct member *m, int n, unsigned slack)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += m[i].group->weight;
    uint32_t dealt = 0;
    for (int i = 0; i < n; i++) {
        uint64_t share = (uint64_t)SLOT_COUNT * m[i].group->weight;
        m[i].quota = (uint32_t)(share / total);
        m[i].excess = share % total;
        dealt += m[i].quota;
    }
    if (slack) {
        for (int i = 0; i < n; i++)
            m[i].quota = (uint32_t)((uint64_t)SLOT_COUNT * m[i].group->weight * (1000 + slack) / (1000 * total));
        return;
    }
    for (; dealt < SLOT_COUNT; dealt++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (m[i].excess && (best < 0 || m[i].excess > m[best].excess))
                best = i;
        m[best].quota++;
        m[best].excess = 0;
    }
}

int placement_compute_blocks(const struct placement_group *groups, int n, unsigned block_slots,
                             unsigned slack, uint16_t *table)
{
    if (n < 1 || n > PLACEMENT_MAX_GROUPS || block_slots < 16 || block_slots > SLOT_COUNT ||
        (block_slots & (block_slots - 1)))
        return -1;
    for (int i = 0; i < n; i++)
        if (groups[i].weight == 0)
            return -1;
    unsigned blocks = SLOT_COUNT / block_slots;
    struct member *m = malloc(sizeof *m * (size_t)n);
    struct offer *offers = malloc(sizeof *offers * (size_t)n * blocks);
    uint16_t *free_from = malloc(sizeof *free_from * blocks);
    if (!m || !offers || !free_from) {
        free(m);
        free(offers);
        free(free_from);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        m[i].group = &groups[i];
        m[i].index = (uint16_t)i;
        m[i].key = XXH64(groups[i].id, groups[i].id_len, PLACEMENT_SEED);
    }
    qsort(m, (size_t)n, sizeof *m, member_by_id);
    int rc = 0;
    for (int i = 1; i < n; i++)
        if (id_cmp(m[i - 1].group, m[i].group) == 0)
            rc = -1;
    if (rc == 0) {
        share_quotas(m, n, slack);
        size_t k = 0;
        for (int r = 0; r < n; r++)
            for (unsigned b = 0; b < blocks; b++)
                offers[k++] = (struct offer){ block_score(m[r].key, b, m[r].group->weight), (uint16_t)r,
                                               (uint16_t)b };
        qsort(offers, k, sizeof *offers, offer_order);
        /* free_from[b]: the first slot of block b not dealt yet, as an offset
         * into the block (block_slots when it is full). */
        memset(free_from, 0, sizeof *free_from * blocks);
        uint32_t dealt = 0;
        for (size_t i = 0; i < k && dealt < SLOT_COUNT; i++) {
            struct member *g = &m[offers[i].rank];
            unsigned b = offers[i].block;
            unsigned room = block_slots - free_from[b];
            if (g->quota == 0 || room == 0)
                continue;
            unsigned take = g->quota < room ? g->quota : room;
            unsigned first = b * block_slots + free_from[b];
            for (unsigned s = first; s < first + take; s++)
                table[s] = g->index;
            free_from[b] = (uint16_t)(free_from[b] + take);
            g->quota -= take;
            dealt += take;
        }
    }
    free(m);
    free(offers);
    free(free_from);
    return rc;
}

int placement_compute(const struct placement_group *groups, int n, uint16_t *table)
{
    return placement_compute_blocks(groups, n, PLACEMENT_BLOCK_SLOTS, PLACEMENT_SLACK, table);
}

int placement_ranges(const uint16_t *table)
{
    int ranges = 1;
    for (unsigned s = 1; s < SLOT_COUNT; s++)
        ranges += table[s] != table[s - 1];
    return ranges;
}
