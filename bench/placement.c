/* placement: the choices for the cluster's target slot table, side by side
 * (issue 10; the figures are in bench/RESULTS.md "Cluster slot placement").
 *
 * Schemes, each over blocks of B aligned slots:
 * - transport B: what shards/cluster/placement.c does (exact quotas, the
 *   cheapest assignment by weighted rendezvous cost);
 * - shared B/C slope S: the same transport over blocks of B slots whose
 *   costs are shared by a cost block of C slots plus a random slope
 *   (placement_compute_shaped): small blocks' movement with fewer ranges;
 * - greedy-cap B: rendezvous hashing with a cap, dealt greedily: offers in
 *   one global order of weighted score, each taken while the group has room
 *   (exact quotas, or with cap=+x% a loose cap of fair share + x %);
 * - hrw B: plain weighted rendezvous hashing, no cap: each block to the
 *   group with the least -ln(u) / w (u the block's XXH64 score in (0,1));
 * - ring V: a ring with V virtual nodes per unit of weight, XXH64 points;
 *   a slot belongs to the first point at or after it.
 * For every n it draws TRIALS sets of n groups (40-hex ids, weights 1..4,
 * or all 1 with --equal) from a fixed seed, and prints the worst over them:
 * - dev%: the largest |slots - fair share| / fair share of any group;
 * - add: when one more group (random id and weight) joins, the slots that
 *   moved (add%, of the table), how far that is over the target
 *   w_new/W' + 2 % (over%, in points; 1/(n+1) + 2 % with equal weights),
 *   the least share of the moved slots that went to the new group (new%),
 *   and the most that moved between the old groups (other%, of the table);
 * - rm: the same when one group leaves (own%: the share of the moved slots
 *   that were its own);
 * - ranges: the most maximal runs of one owner (CLUSTER SLOTS entries);
 * - us: the mean time to compute one table, in microseconds.
 *
 * Usage: placement [--equal] [--trials N] [--quick] [--only TEXT]
 * (--only: just the schemes whose name, as printed, contains TEXT) */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "shards/cluster/placement.h"
#include "shards/store/slot.h"
#include "bench/micro.h"

#define MAX_N 65
#define SEED 0x72696e676b762d70ull

enum scheme { PLACEMENT, GREEDY, HRW, RING, SHAPED };

struct choice {
    enum scheme scheme;
    unsigned param; /* block size, or virtual nodes per unit of weight */
    unsigned slack;
    unsigned cost_slots, slope; /* SHAPED: placement_shape's */
};

struct groups {
    int n;
    char ids[MAX_N][41];
    struct placement_group g[MAX_N];
};

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void add_group(struct groups *gs, int equal)
{
    int i = gs->n++;
    for (int c = 0; c < 40; c++)
        gs->ids[i][c] = "0123456789abcdef"[rng_next() & 15];
    gs->ids[i][40] = 0;
    gs->g[i] = (struct placement_group){ gs->ids[i], 40, equal ? 1 : (uint32_t)(1 + rng_next() % 4) };
}

/* Re-point the groups at this copy's ids (a struct copy keeps the old ones). */
static void fix_ids(struct groups *gs)
{
    for (int i = 0; i < gs->n; i++)
        gs->g[i].id = gs->ids[i];
}

static uint64_t key_of(const struct placement_group *g)
{
    return XXH64(g->id, g->id_len, SEED);
}

static uint64_t block_score(uint64_t key, unsigned block)
{
    unsigned char buf[16];
    for (int i = 0; i < 8; i++) {
        buf[i] = (unsigned char)(key >> (8 * i));
        buf[8 + i] = (unsigned char)((uint64_t)block >> (8 * i));
    }
    return XXH64(buf, sizeof buf, SEED);
}

static uint64_t weight_of(const struct groups *gs)
{
    uint64_t w = 0;
    for (int i = 0; i < gs->n; i++)
        w += gs->g[i].weight;
    return w;
}

/* Weighted rendezvous score: the arrival time -ln(u) / w (lower wins). */
static double arrival(uint64_t key, unsigned block, uint32_t weight)
{
    double u = ((double)(block_score(key, block) >> 11) + 0.5) / 9007199254740992.0;
    return -log(u) / weight;
}

/* Exact quotas by largest remainder (ties to the lower index). */
static void quotas(const struct groups *gs, unsigned *room)
{
    uint64_t total = weight_of(gs), excess[MAX_N];
    unsigned dealt = 0;
    for (int i = 0; i < gs->n; i++) {
        room[i] = (unsigned)((uint64_t)SLOT_COUNT * gs->g[i].weight / total);
        excess[i] = (uint64_t)SLOT_COUNT * gs->g[i].weight % total;
        dealt += room[i];
    }
    for (; dealt < SLOT_COUNT; dealt++) {
        int best = 0;
        for (int i = 1; i < gs->n; i++)
            if (excess[i] > excess[best])
                best = i;
        room[best]++;
        excess[best] = 0;
    }
}

static void hrw(const struct groups *gs, unsigned block, uint16_t *table)
{
    uint64_t keys[MAX_N];
    for (int i = 0; i < gs->n; i++)
        keys[i] = key_of(&gs->g[i]);
    for (unsigned b = 0; b < SLOT_COUNT / block; b++) {
        double best = -1;
        int owner = 0;
        for (int i = 0; i < gs->n; i++) {
            double s = arrival(keys[i], b, gs->g[i].weight);
            if (best < 0 || s < best)
                best = s, owner = i;
        }
        for (unsigned s = b * block; s < (b + 1) * block; s++)
            table[s] = (uint16_t)owner;
    }
}

struct point {
    uint16_t pos;
    uint16_t owner;
    uint64_t tie;
};

static int point_order(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return (x->tie > y->tie) - (x->tie < y->tie);
}

static void ring(const struct groups *gs, unsigned vnodes, uint16_t *table)
{
    size_t total = 0;
    for (int i = 0; i < gs->n; i++)
        total += gs->g[i].weight * vnodes;
    struct point *p = malloc(sizeof *p * total);
    size_t k = 0;
    for (int i = 0; i < gs->n; i++) {
        uint64_t key = key_of(&gs->g[i]);
        for (unsigned v = 0; v < gs->g[i].weight * vnodes; v++) {
            uint64_t h = block_score(key, v);
            p[k++] = (struct point){ (uint16_t)(h % SLOT_COUNT), (uint16_t)i, h };
        }
    }
    qsort(p, total, sizeof *p, point_order);
    size_t j = 0;
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        while (j < total && p[j].pos < s)
            j++;
        table[s] = p[j < total ? j : 0].owner; /* past the last point: wrap */
    }
    free(p);
}


/* Rendezvous hashing with a cap, dealt greedily: (block, group) offers in one
 * global order of weighted score, each taken if the group has quota left
 * (a group's last block may be partial). slack > 0: quotas are a loose cap,
 * fair share + slack per mille, instead of exact. */
struct offer {
    double score;
    int group;
    unsigned block;
};

static int offer_order(const void *a, const void *b)
{
    const struct offer *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    if (x->group != y->group)
        return x->group - y->group;
    return (int)x->block - (int)y->block;
}

static void greedy(const struct groups *gs, unsigned block, unsigned slack, uint16_t *table)
{
    int n = gs->n;
    unsigned nb = SLOT_COUNT / block;
    unsigned room[MAX_N], free_from[SLOT_COUNT] = { 0 };
    uint64_t total = weight_of(gs);
    quotas(gs, room);
    if (slack)
        for (int i = 0; i < n; i++)
            room[i] = (unsigned)((uint64_t)SLOT_COUNT * gs->g[i].weight * (1000 + slack) / (1000 * total));
    struct offer *offers = malloc(sizeof *offers * nb * (size_t)n);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        uint64_t key = key_of(&gs->g[i]);
        for (unsigned b = 0; b < nb; b++)
            offers[k++] = (struct offer){ arrival(key, b, gs->g[i].weight), i, b };
    }
    qsort(offers, k, sizeof *offers, offer_order);
    for (size_t o = 0; o < k; o++) {
        struct offer *f = &offers[o];
        unsigned left = block - free_from[f->block];
        unsigned take = room[f->group] < left ? room[f->group] : left;
        for (unsigned s = 0; s < take; s++)
            table[f->block * block + free_from[f->block] + s] = (uint16_t)f->group;
        free_from[f->block] += take;
        room[f->group] -= take;
    }
    free(offers);
}

static void compute(const struct choice *c, const struct groups *gs, uint16_t *table)
{
    switch (c->scheme) {
    case PLACEMENT:
        if (placement_compute_blocks(gs->g, gs->n, c->param, table) != 0) {
            fprintf(stderr, "placement_compute_blocks failed\n");
            exit(1);
        }
        break;
    case SHAPED:
        if (placement_compute_shaped(gs->g, gs->n,
                                     &(struct placement_shape){ c->param, c->cost_slots, c->slope },
                                     table) != 0) {
            fprintf(stderr, "placement_compute_shaped failed\n");
            exit(1);
        }
        break;
    case HRW: hrw(gs, c->param, table); break;
    case RING: ring(gs, c->param, table); break;
    case GREEDY: greedy(gs, c->param, c->slack, table); break;
    }
}

static double max_deviation(const struct groups *gs, const uint16_t *table)
{
    unsigned count[MAX_N] = { 0 };
    uint64_t total = 0;
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        count[table[s]]++;
    for (int i = 0; i < gs->n; i++)
        total += gs->g[i].weight;
    double worst = 0;
    for (int i = 0; i < gs->n; i++) {
        double fair = (double)SLOT_COUNT * gs->g[i].weight / (double)total;
        double dev = fabs(count[i] - fair) / fair;
        if (dev > worst)
            worst = dev;
    }
    return worst;
}

struct row {
    double dev, add, add_over, add_new, add_other, rm, rm_over, rm_own, rm_other, us;
    int ranges;
};

static void measure(const struct choice *c, int n, int trials, int equal, struct row *r)
{
    static uint16_t before[SLOT_COUNT], after[SLOT_COUNT];
    memset(r, 0, sizeof *r);
    r->add_new = r->rm_own = 1;
    r->add_over = r->rm_over = -1;
    uint64_t ns = 0, computed = 0;
    rng_state = SEED ^ (uint64_t)n;
    for (int t = 0; t < trials; t++) {
        struct groups gs = { 0 }, more, less;
        for (int i = 0; i < n; i++)
            add_group(&gs, equal);
        uint64_t t0 = micro_now_ns();
        compute(c, &gs, before);
        ns += micro_now_ns() - t0;
        computed++;
        double dev = max_deviation(&gs, before);
        if (dev > r->dev)
            r->dev = dev;
        int ranges = placement_ranges(before);
        if (ranges > r->ranges)
            r->ranges = ranges;

        /* one more group, last, so the old groups keep their indexes */
        more = gs;
        fix_ids(&more);
        add_group(&more, equal);
        compute(c, &more, after);
        unsigned moved = 0, to_new = 0;
        for (unsigned s = 0; s < SLOT_COUNT; s++)
            if (before[s] != after[s]) {
                moved++;
                to_new += after[s] == n;
            }
        double share = (double)more.g[n].weight / (double)weight_of(&more);
        double add = (double)moved / SLOT_COUNT;
        if (add > r->add)
            r->add = add;
        if (add - (share + 0.02) > r->add_over)
            r->add_over = add - (share + 0.02);
        if ((double)(moved - to_new) / SLOT_COUNT > r->add_other)
            r->add_other = (double)(moved - to_new) / SLOT_COUNT;
        if (moved && (double)to_new / moved < r->add_new)
            r->add_new = (double)to_new / moved;

        /* one group leaves */
        if (n < 2)
            continue;
        int gone = (int)(rng_next() % (uint64_t)n);
        less = gs;
        less.n = 0;
        for (int i = 0; i < n; i++)
            if (i != gone) {
                memcpy(less.ids[less.n], gs.ids[i], sizeof gs.ids[i]);
                less.g[less.n] = gs.g[i];
                less.n++;
            }
        fix_ids(&less);
        compute(c, &less, after);
        moved = 0;
        unsigned own = 0;
        for (unsigned s = 0; s < SLOT_COUNT; s++) {
            int old = before[s] == gone ? -1 : before[s] - (before[s] > gone);
            if (old != after[s]) {
                moved++;
                own += old == -1;
            }
        }
        share = (double)gs.g[gone].weight / (double)weight_of(&gs);
        double rm = (double)moved / SLOT_COUNT;
        if (rm > r->rm)
            r->rm = rm;
        if (rm - (share + 0.02) > r->rm_over)
            r->rm_over = rm - (share + 0.02);
        if ((double)(moved - own) / SLOT_COUNT > r->rm_other)
            r->rm_other = (double)(moved - own) / SLOT_COUNT;
        if (moved && (double)own / moved < r->rm_own)
            r->rm_own = (double)own / moved;
    }
    r->us = (double)ns / 1000.0 / (double)computed;
}

static const char *name_of(const struct choice *c, char *buf, size_t len)
{
    static const char *names[] = { "transport", "greedy-cap", "hrw", "ring", "shared" };
    if (c->scheme == SHAPED) {
        snprintf(buf, len, "shared block=%u/%u slope=%u", c->param, c->cost_slots, c->slope);
        return buf;
    }
    int n = snprintf(buf, len, "%s %s=%u", names[c->scheme], c->scheme == RING ? "vnodes" : "block",
                     c->param);
    if (c->slack)
        snprintf(buf + n, len - (size_t)n, " cap=+%.1f%%", c->slack / 10.0);
    return buf;
}

int main(int argc, char **argv)
{
    int equal = 0, trials = 20;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--equal"))
            equal = 1;
        else if (!strcmp(argv[i], "--trials") && i + 1 < argc)
            trials = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            trials = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: placement [--equal] [--trials N] [--quick] [--only TEXT]\n");
            return 2;
        }
    }
    static const struct choice choices[] = {
        { PLACEMENT, 32, 0, 0, 0 }, { PLACEMENT, 16, 0, 0, 0 }, { PLACEMENT, 64, 0, 0, 0 }, { PLACEMENT, 128, 0, 0, 0 },
        { PLACEMENT, 18, 0, 0, 0 }, { PLACEMENT, 20, 0, 0, 0 }, { PLACEMENT, 22, 0, 0, 0 }, { PLACEMENT, 24, 0, 0, 0 },
        { SHAPED, 8, 0, 32, 16 }, { SHAPED, 4, 0, 32, 8 }, { SHAPED, 9, 0, 36, 16 },
        { GREEDY, 32, 0, 0, 0 }, { GREEDY, 16, 0, 0, 0 }, { GREEDY, 64, 0, 0, 0 }, { GREEDY, 32, 20, 0, 0 },
        { HRW, 16, 0, 0, 0 }, { HRW, 32, 0, 0, 0 }, { HRW, 64, 0, 0, 0 }, { HRW, 128, 0, 0, 0 },
        { RING, 4, 0, 0, 0 }, { RING, 16, 0, 0, 0 }, { RING, 64, 0, 0, 0 },
    };
    static const int ns[] = { 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64 };
    printf("weights %s, %d trials per n, worst over the trials\n", equal ? "all 1" : "1..4", trials);
    for (size_t c = 0; c < sizeof choices / sizeof choices[0]; c++) {
        char name[48];
        if (only && !strstr(name_of(&choices[c], name, sizeof name), only))
            continue;
        printf("\n%s\n", name_of(&choices[c], name, sizeof name));
        printf("%4s %6s | %6s %6s %6s %6s | %6s %6s %6s %6s | %6s %6s\n", "n", "dev%", "add%",
               "over%", "new%", "other%", "rm%", "over%", "own%", "other%", "ranges", "us");
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            struct row r;
            measure(&choices[c], ns[k], trials, equal, &r);
            printf("%4d %6.2f | %6.2f %6.2f %6.2f %6.2f | %6.2f %6.2f %6.2f %6.2f | %6d %6.0f\n",
                   ns[k], 100 * r.dev, 100 * r.add, 100 * r.add_over, 100 * r.add_new,
                   100 * r.add_other, 100 * r.rm, 100 * r.rm_over, 100 * r.rm_own,
                   100 * r.rm_other, r.ranges, r.us);
        }
    }
    return 0;
}
