/* geo: GEOADD, GEOPOS, GEODIST, GEOHASH and the searches (GEOSEARCH,
 * GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and their _RO forms), with
 * Redis 7.0's replies, error texts and order of checks.
 *
 * A geo set is a sorted set whose scores are 52-bit geohashes of the
 * members' positions (geohash.h has the arithmetic): TYPE says zset and
 * every sorted set command works on it. GEOADD is ZADD of those scores,
 * and runs as one (cmd_zadd: the same options, replies and WRONGTYPE);
 * it is journaled as itself, which a replica runs through the same
 * handler to the same scores.
 *
 * A search looks at the cell of its centre and its 8 neighbours (fewer
 * when the shape does not reach them), walking each cell's span of scores
 * in order and keeping the members within the exact shape; what it finds
 * is then ordered by distance as redis-server orders it (below), so that
 * the replies are the same, ties included. The STORE forms write the
 * found members as a new sorted set (scores: the geohashes, or with
 * STOREDIST the distances in the unit asked), or delete the destination
 * when none is found; they are journaled by those effects. */
#include "shards/commands/commands.h"
#include "shards/commands/collection.h"
#include "shards/commands/geohash.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "core/config.h"
#include "core/numbers.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/store.h"
#include "shards/store/zset.h"

#define ERR_UNIT       "ERR unsupported unit provided. please use M, KM, FT, MI"
#define ERR_NO_MEMBER  "ERR could not decode requested zset member"
#define ERR_COUNT      "ERR COUNT must be > 0"
#define ERR_ANY        "ERR the ANY argument requires COUNT argument"

/* ---- arguments ------------------------------------------------------------ */

/* Redis's string2d: strtod over the whole argument, no leading space, not
 * NaN, no overflow ("inf" is taken). */
static bool parse_float(struct slice s, double *out)
{
    char small[128];
    if (s.len == 0 || s.ptr[0] == ' ' || (s.ptr[0] >= '\t' && s.ptr[0] <= '\r'))
        return false;
    char *text = s.len < sizeof small ? small : mi_malloc(s.len + 1);
    if (!text)
        abort();
    memcpy(text, s.ptr, s.len);
    text[s.len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(text, &end);
    bool ok = (size_t)(end - text) == s.len && !isnan(d) &&
              !(errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || d == 0));
    if (text != small)
        mi_free(text);
    if (ok)
        *out = d;
    return ok;
}

/* A longitude and a latitude at argv[0..1], within the geohash's ranges;
 * false with the error replied. */
static bool parse_position(struct exec_ctx *ctx, const struct slice *argv, double *lon, double *lat)
{
    if (!parse_float(argv[0], lon) || !parse_float(argv[1], lat)) {
        reply_error(ctx->reply, ERR_NOT_FLOAT);
        return false;
    }
    if (*lon < GEO_LON_MIN || *lon > GEO_LON_MAX || *lat < GEO_LAT_MIN || *lat > GEO_LAT_MAX) {
        reply_errorf(ctx->reply, "ERR invalid longitude,latitude pair %f,%f", *lon, *lat);
        return false;
    }
    return true;
}

/* Metres per unit, or -1 with the error replied. */
static double parse_unit(struct exec_ctx *ctx, struct slice u)
{
    if (slice_eq_nocase(u, "m"))
        return 1;
    if (slice_eq_nocase(u, "km"))
        return 1000;
    if (slice_eq_nocase(u, "ft"))
        return 0.3048;
    if (slice_eq_nocase(u, "mi"))
        return 1609.34;
    reply_error(ctx->reply, ERR_UNIT);
    return -1;
}

/* BYRADIUS's (and GEORADIUS's) radius and unit at argv[0..1]. */
static bool parse_radius(struct exec_ctx *ctx, const struct slice *argv, struct geo_shape *shape)
{
    double r;
    if (!parse_float(argv[0], &r)) {
        reply_error(ctx->reply, "ERR need numeric radius");
        return false;
    }
    if (r < 0) {
        reply_error(ctx->reply, "ERR radius cannot be negative");
        return false;
    }
    shape->radius = r;
    double conv = parse_unit(ctx, argv[1]);
    if (conv < 0)
        return false;
    shape->conversion = conv;
    return true;
}

/* BYBOX's width, height and unit at argv[0..2]. */
static bool parse_box(struct exec_ctx *ctx, const struct slice *argv, struct geo_shape *shape)
{
    double w, h;
    if (!parse_float(argv[0], &w)) {
        reply_error(ctx->reply, "ERR need numeric width");
        return false;
    }
    if (!parse_float(argv[1], &h)) {
        reply_error(ctx->reply, "ERR need numeric height");
        return false;
    }
    if (h < 0 || w < 0) {
        reply_error(ctx->reply, "ERR height or width cannot be negative");
        return false;
    }
    shape->width = w;
    shape->height = h;
    double conv = parse_unit(ctx, argv[2]);
    if (conv < 0)
        return false;
    shape->conversion = conv;
    return true;
}

/* The geo set at key (NULL when missing); false with WRONGTYPE replied. */
static bool find_geo(struct exec_ctx *ctx, struct slice key, struct zset **z)
{
    struct entry *e;
    void *obj;
    bool ok = collection_find(ctx, key, TYPE_ZSET, &e, &obj);
    *z = obj;
    return ok;
}

/* ---- GEOADD GEOPOS GEODIST GEOHASH ---------------------------------------- */

/* GEOADD key [NX|XX] [CH] lon lat member ...: checked as Redis checks it,
 * then run as ZADD key [options] score member ... */
void cmd_geoadd(struct exec_ctx *ctx)
{
    int first = 2;
    bool nx = false, xx = false;
    for (; first < ctx->argc; first++) {
        struct slice a = ctx->argv[first];
        if (slice_eq_nocase(a, "nx"))
            nx = true;
        else if (slice_eq_nocase(a, "xx"))
            xx = true;
        else if (!slice_eq_nocase(a, "ch"))
            break;
    }
    if ((ctx->argc - first) % 3 != 0 || (nx && xx)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    int members = (ctx->argc - first) / 3;
    int argc = first + members * 2;
    /* a few members (the usual GEOADD) on the stack, not allocated */
    enum { FEW = 8 };
    struct slice few_argv[5 + FEW * 2];
    char few_scores[FEW][24];
    bool few = members <= FEW && (size_t)argc <= sizeof few_argv / sizeof few_argv[0];
    struct slice *argv = few ? few_argv : mi_malloc((size_t)argc * sizeof *argv);
    char (*scores)[24] = few ? few_scores : mi_malloc((size_t)members * sizeof *scores);
    if (!argv || !scores)
        abort();
    argv[0] = SLICE_LIT("ZADD");
    for (int i = 1; i < first; i++)
        argv[i] = ctx->argv[i];
    bool ok = true;
    for (int m = 0; m < members && ok; m++) {
        const struct slice *at = &ctx->argv[first + m * 3];
        double lon, lat;
        ok = parse_position(ctx, at, &lon, &lat);
        if (!ok)
            break;
        int n = snprintf(scores[m], sizeof scores[m], "%llu", (unsigned long long)geohash_score(lon, lat));
        argv[first + m * 2] = (struct slice){ scores[m], (size_t)n };
        argv[first + m * 2 + 1] = at[2];
    }
    if (ok) {
        struct exec_ctx zadd = *ctx;
        zadd.argc = argc;
        zadd.argv = argv;
        cmd_zadd(&zadd);
    }
    if (!few) {
        mi_free(argv);
        mi_free(scores);
    }
}

/* A coordinate as Redis replies it: 17 decimals, trailing zeros dropped. */
static void reply_coordinate(struct reply *r, double v)
{
    char text[64];
    int n = format_ld(text, sizeof text, (long double)v);
    reply_double_text(r, text, (size_t)n);
}

/* A distance as Redis 7.0 replies it: a bulk with 4 decimals, rounded as
 * its fixed-point formatting rounds (d * 10^4 to the nearest integer,
 * halves to even: 60979335.38555 ft is "60979335.3856", where printf's
 * exact "%.4f" says .3855). Distances are never negative. */
static void reply_distance(struct reply *r, double d)
{
    char text[32];
    long long units = llrint(d * 10000.0);
    int n = snprintf(text, sizeof text, "%lld.%04lld", units / 10000, units % 10000);
    reply_bulk(r, text, (size_t)n);
}

void cmd_geopos(struct exec_ctx *ctx)
{
    struct zset *z;
    if (!find_geo(ctx, ctx->argv[1], &z))
        return;
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    for (int j = 2; j < ctx->argc; j++) {
        double score, lon, lat;
        if (!z || !zset_score(z, ctx->argv[j], &score)) {
            reply_null_array(ctx->reply);
            continue;
        }
        geohash_score_position(score, &lon, &lat);
        reply_array(ctx->reply, 2);
        reply_coordinate(ctx->reply, lon);
        reply_coordinate(ctx->reply, lat);
    }
}

void cmd_geodist(struct exec_ctx *ctx)
{
    double conv = 1;
    if (ctx->argc == 5) {
        conv = parse_unit(ctx, ctx->argv[4]);
        if (conv < 0)
            return;
    } else if (ctx->argc > 5) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    struct zset *z;
    if (!find_geo(ctx, ctx->argv[1], &z))
        return;
    double s1, s2;
    if (!z || !zset_score(z, ctx->argv[2], &s1) || !zset_score(z, ctx->argv[3], &s2)) {
        reply_null(ctx->reply);
        return;
    }
    double lon1, lat1, lon2, lat2;
    geohash_score_position(s1, &lon1, &lat1);
    geohash_score_position(s2, &lon2, &lat2);
    reply_distance(ctx->reply, geo_distance(lon1, lat1, lon2, lat2) / conv);
}

void cmd_geohash(struct exec_ctx *ctx)
{
    struct zset *z;
    if (!find_geo(ctx, ctx->argv[1], &z))
        return;
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    for (int j = 2; j < ctx->argc; j++) {
        double score;
        if (!z || !zset_score(z, ctx->argv[j], &score)) {
            reply_null(ctx->reply);
            continue;
        }
        char text[11];
        geohash_score_text(score, text);
        reply_bulk(ctx->reply, text, sizeof text);
    }
}

/* ---- searching -------------------------------------------------------------- */

struct geo_point {
    double       lon, lat;
    double       dist;  /* metres while found, then in the unit asked */
    double       score;
    struct slice member; /* in the searched set, which the search does not change */
};

struct geo_points {
    struct geo_point *at;
    size_t            n, cap;
};

static void points_add(struct geo_points *p, const struct geo_point *pt)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->at = mi_realloc(p->at, p->cap * sizeof *p->at);
        if (!p->at)
            abort();
    }
    p->at[p->n++] = *pt;
}

/* The members of one cell within the shape, in the set's order; stops at
 * limit found (0: none), as Redis's COUNT ... ANY does. */
static void search_cell(const struct zset *z, struct geohash cell, const struct geo_shape *shape,
                        struct geo_points *found, size_t limit)
{
    double min, max;
    geohash_cell_scores(cell, &min, &max);
    size_t rank = zset_count_below(z, min, false);
    if (rank >= zset_len(z))
        return;
    struct zset_iter it;
    struct geo_point pt;
    zset_iter_at(z, rank, false, &it);
    while (zset_iter_next(&it, &pt.member, &pt.score)) {
        if (pt.score >= max)
            break;
        if (geo_shape_holds(shape, pt.score, &pt.lon, &pt.lat, &pt.dist))
            points_add(found, &pt);
        if (found->n && limit && found->n >= limit)
            break;
    }
}

/* The 9 cells in Redis's order; a dropped cell is skipped, and so is one
 * equal to the last searched (huge radii make neighbours repeat). As in
 * Redis, the first cell is never that last one compared with. */
static void search_cells(const struct zset *z, const struct geo_shape *shape, struct geo_points *found,
                         size_t limit)
{
    struct geohash cells[9];
    geo_search_cells(shape, cells);
    int last = 0;
    for (int i = 0; i < 9; i++) {
        if (cells[i].bits == 0 && cells[i].step == 0)
            continue;
        if (last && cells[i].bits == cells[last].bits && cells[i].step == cells[last].step)
            continue;
        if (found->n && limit && found->n >= limit)
            break;
        search_cell(z, cells[i], shape, found, limit);
        last = i;
    }
}

/* ---- ordering ------------------------------------------------------------------
 * By distance only, so members at the same distance keep an order that
 * depends on the sorting algorithm: redis-server sorts the whole result
 * with the C library's qsort, which glibc (as on this platform) makes a
 * stable merge sort, and a COUNT that keeps fewer with its own partial
 * quicksort (pqsort, after BSD's qsort), whose order of equal elements
 * follows its partitioning. Both are reproduced step for step. */

static int by_distance(const struct geo_point *a, const struct geo_point *b, bool desc)
{
    if (a->dist == b->dist)
        return 0;
    int c = a->dist > b->dist ? 1 : -1;
    return desc ? -c : c;
}

/* Stable merge sort of p[0..n) through tmp. */
static void merge_sort(struct geo_point *p, struct geo_point *tmp, size_t n, bool desc)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(p, tmp, h, desc);
    merge_sort(p + h, tmp, n - h, desc);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = by_distance(&p[i], &p[j], desc) <= 0 ? p[i++] : p[j++];
    while (i < h)
        tmp[k++] = p[i++];
    memcpy(p, tmp, k * sizeof *p);
}

static void swap_points(struct geo_point *a, struct geo_point *b)
{
    struct geo_point t = *a;
    *a = *b;
    *b = t;
}

/* n points from a swapped with n from b, pairwise. */
static void swap_runs(struct geo_point *a, struct geo_point *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        swap_points(&a[i], &b[i]);
}

static struct geo_point *median_of_3(struct geo_point *a, struct geo_point *b, struct geo_point *c, bool desc)
{
    if (by_distance(a, b, desc) < 0)
        return by_distance(b, c, desc) < 0 ? b : by_distance(a, c, desc) < 0 ? c : a;
    return by_distance(b, c, desc) > 0 ? b : by_distance(a, c, desc) < 0 ? a : c;
}

/* Quicksort of base[0..n) that only recurses into the parts holding some
 * of the positions [lo, hi] of the whole array (whole starts it): after
 * it, those positions hold what a full sort would put there. */
static void partial_sort(struct geo_point *whole, struct geo_point *base, size_t n, size_t lo, size_t hi,
                         bool desc)
{
    for (;;) {
        if (n < 7) { /* insertion sort */
            for (size_t m = 1; m < n; m++)
                for (size_t l = m; l > 0 && by_distance(&base[l - 1], &base[l], desc) > 0; l--)
                    swap_points(&base[l], &base[l - 1]);
            return;
        }
        struct geo_point *pm = base + n / 2;
        if (n > 7) {
            struct geo_point *pl = base, *pn = base + n - 1;
            if (n > 40) {
                size_t d = n / 8;
                pl = median_of_3(pl, pl + d, pl + 2 * d, desc);
                pm = median_of_3(pm - d, pm, pm + d, desc);
                pn = median_of_3(pn - 2 * d, pn - d, pn, desc);
            }
            pm = median_of_3(pl, pm, pn, desc);
        }
        swap_points(base, pm);
        /* [base+1, pa) and (pd, end) hold elements equal to the pivot,
         * moved to the middle afterwards */
        struct geo_point *pa = base + 1, *pb = base + 1, *pc = base + n - 1, *pd = base + n - 1;
        for (;;) {
            int c;
            while (pb <= pc && (c = by_distance(pb, base, desc)) <= 0) {
                if (c == 0) {
                    swap_points(pa, pb);
                    pa++;
                }
                pb++;
            }
            while (pb <= pc && (c = by_distance(pc, base, desc)) >= 0) {
                if (c == 0) {
                    swap_points(pc, pd);
                    pd--;
                }
                pc--;
            }
            if (pb > pc)
                break;
            swap_points(pb, pc);
            pb++;
            pc--;
        }
        struct geo_point *pn = base + n;
        size_t r = (size_t)(pa - base) < (size_t)(pb - pa) ? (size_t)(pa - base) : (size_t)(pb - pa);
        swap_runs(base, pb - r, r);
        r = (size_t)(pd - pc) < (size_t)(pn - pd - 1) ? (size_t)(pd - pc) : (size_t)(pn - pd - 1);
        swap_runs(pb, pn - r, r);
        /* the smaller part, if it holds wanted positions */
        if ((r = (size_t)(pb - pa)) > 1) {
            size_t s = (size_t)(base - whole);
            if (!((lo < s && hi < s) || (lo >= s + r && hi >= s + r)))
                partial_sort(whole, base, r, lo, hi, desc);
        }
        if ((r = (size_t)(pd - pc)) <= 1)
            return;
        base = pn - r;
        n = r;
        size_t s = (size_t)(base - whole);
        if ((lo < s && hi < s) || (lo >= s + r && hi >= s + r))
            return;
    }
}

/* ---- the search commands --------------------------------------------------------- */

enum {
    GEO_FROM_COORDS = 1,  /* GEORADIUS: key lon lat radius unit */
    GEO_FROM_MEMBER = 2,  /* GEORADIUSBYMEMBER: key member radius unit */
    GEO_NO_STORE    = 4,  /* the _RO forms */
    GEO_SEARCH      = 8,  /* GEOSEARCH: FROM... and BY... options */
    GEO_SEARCH_STORE = 16, /* GEOSEARCHSTORE: destination first */
};

enum geo_order { ORDER_NONE, ORDER_ASC, ORDER_DESC };

/* The stored result: the found points as a new sorted set at dst, or dst
 * deleted when there are none; replies their count. */
static void store_points(struct exec_ctx *ctx, struct slice dst, const struct geo_points *found, size_t n,
                         bool storedist, double conversion)
{
    if (n == 0) {
        store_delete(ctx->store, dst);
        reply_int(ctx->reply, 0);
        return;
    }
    struct zset_limits lim = zset_default_limits;
    if (ctx->shard && ctx->shard->node) {
        const struct config *c = &ctx->shard->node->config;
        long long entries = config_load(c, zset_max_listpack_entries);
        long long value = config_load(c, zset_max_listpack_value);
        lim = (struct zset_limits){ entries < 0 ? 0 : (size_t)entries, value < 0 ? 0 : (size_t)value };
    }
    size_t longest = 0;
    for (size_t i = 0; i < n; i++)
        if (found->at[i].member.len > longest)
            longest = found->at[i].member.len;
    struct zset *out = zset_create(ctx->store, n, longest, &lim);
    for (size_t i = 0; i < n; i++) {
        const struct geo_point *p = &found->at[i];
        zset_set(ctx->store, &out, p->member, storedist ? p->dist / conversion : p->score, &lim);
    }
    store_set_object(ctx->store, dst, TYPE_ZSET, out, 0);
    reply_int(ctx->reply, (long long)n);
}

/* Redis's georadiusGeneric: the source key at argv[src]. */
static void search_generic(struct exec_ctx *ctx, int src, int flags)
{
    struct zset *z;
    if (!find_geo(ctx, ctx->argv[src], &z))
        return;
    struct geo_shape shape = { .conversion = 1 };
    const struct slice *store = NULL;
    bool storedist = false;
    int base;
    if (flags & GEO_FROM_COORDS) {
        base = 6;
        if (!parse_position(ctx, &ctx->argv[2], &shape.lon, &shape.lat) ||
            !parse_radius(ctx, &ctx->argv[4], &shape))
            return;
    } else if (flags & GEO_FROM_MEMBER) {
        base = 5;
        /* a missing key answers after the options are read, its member
         * and radius unread */
        if (z) {
            double score;
            if (!zset_score(z, ctx->argv[2], &score)) {
                reply_error(ctx->reply, ERR_NO_MEMBER);
                return;
            }
            geohash_score_position(score, &shape.lon, &shape.lat);
            if (!parse_radius(ctx, &ctx->argv[3], &shape))
                return;
        }
    } else {
        base = 2;
        if (flags & GEO_SEARCH_STORE) {
            base = 3;
            store = &ctx->argv[1];
        }
    }

    bool withdist = false, withhash = false, withcoord = false, any = false;
    bool frommember = false, fromlonlat = false, byradius = false, bybox = false;
    enum geo_order order = ORDER_NONE;
    long long count = 0;
    bool search = flags & GEO_SEARCH, can_store = !(flags & GEO_NO_STORE) && !search;
    for (int i = base; i < ctx->argc; i++) {
        struct slice a = ctx->argv[i];
        int left = ctx->argc - i - 1;
        if (slice_eq_nocase(a, "withdist")) {
            withdist = true;
        } else if (slice_eq_nocase(a, "withhash")) {
            withhash = true;
        } else if (slice_eq_nocase(a, "withcoord")) {
            withcoord = true;
        } else if (slice_eq_nocase(a, "any")) {
            any = true;
        } else if (slice_eq_nocase(a, "asc")) {
            order = ORDER_ASC;
        } else if (slice_eq_nocase(a, "desc")) {
            order = ORDER_DESC;
        } else if (slice_eq_nocase(a, "count") && left >= 1) {
            if (!parse_ll(ctx->argv[i + 1], &count)) {
                reply_error(ctx->reply, ERR_NOT_INT);
                return;
            }
            if (count <= 0) {
                reply_error(ctx->reply, ERR_COUNT);
                return;
            }
            i++;
        } else if (slice_eq_nocase(a, "store") && left >= 1 && can_store) {
            store = &ctx->argv[++i];
            storedist = false;
        } else if (slice_eq_nocase(a, "storedist") && left >= 1 && can_store) {
            store = &ctx->argv[++i];
            storedist = true;
        } else if (slice_eq_nocase(a, "storedist") && search && (flags & GEO_SEARCH_STORE)) {
            storedist = true;
        } else if (slice_eq_nocase(a, "frommember") && left >= 1 && search && !fromlonlat) {
            /* a missing key: read on, answer once the options are read */
            if (z) {
                double score;
                if (!zset_score(z, ctx->argv[i + 1], &score)) {
                    reply_error(ctx->reply, ERR_NO_MEMBER);
                    return;
                }
                geohash_score_position(score, &shape.lon, &shape.lat);
            }
            frommember = true;
            i++;
        } else if (slice_eq_nocase(a, "fromlonlat") && left >= 2 && search && !frommember) {
            if (!parse_position(ctx, &ctx->argv[i + 1], &shape.lon, &shape.lat))
                return;
            fromlonlat = true;
            i += 2;
        } else if (slice_eq_nocase(a, "byradius") && left >= 2 && search && !bybox) {
            if (!parse_radius(ctx, &ctx->argv[i + 1], &shape))
                return;
            shape.box = false;
            byradius = true;
            i += 2;
        } else if (slice_eq_nocase(a, "bybox") && left >= 3 && search && !byradius) {
            if (!parse_box(ctx, &ctx->argv[i + 1], &shape))
                return;
            shape.box = true;
            bybox = true;
            i += 3;
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    if (store && (withdist || withhash || withcoord)) {
        reply_errorf(ctx->reply, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                     (flags & GEO_SEARCH_STORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return;
    }
    struct slice name = ctx->argv[0];
    if (search && !frommember && !fromlonlat) {
        reply_errorf(ctx->reply, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                     (int)name.len, name.ptr);
        return;
    }
    if (search && !byradius && !bybox) {
        reply_errorf(ctx->reply, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                     (int)name.len, name.ptr);
        return;
    }
    if (any && !count) {
        reply_error(ctx->reply, ERR_ANY);
        return;
    }
    if (!z) {
        if (store) {
            store_delete(ctx->store, *store);
            reply_int(ctx->reply, 0);
        } else {
            reply_array(ctx->reply, 0);
        }
        return;
    }
    /* COUNT keeps the nearest: sorted ascending unless told otherwise
     * (with ANY, the first found) */
    if (count && order == ORDER_NONE && !any)
        order = ORDER_ASC;

    struct geo_points found = { .n = 0 };
    search_cells(z, &shape, &found, any ? (size_t)count : 0);
    if (found.n == 0 && !store) {
        reply_array(ctx->reply, 0);
        return;
    }
    size_t n = count == 0 || found.n < (unsigned long long)count ? found.n : (size_t)count;
    if (order != ORDER_NONE) {
        bool desc = order == ORDER_DESC;
        if (n == found.n) {
            struct geo_point *tmp = mi_malloc(found.n * sizeof *tmp);
            if (!tmp)
                abort();
            merge_sort(found.at, tmp, found.n, desc);
            mi_free(tmp);
        } else {
            partial_sort(found.at, found.at, found.n, 0, n - 1, desc);
        }
    }
    if (store) {
        store_points(ctx, *store, &found, n, storedist, shape.conversion);
        mi_free(found.at);
        return;
    }
    size_t extras = (size_t)withdist + (size_t)withhash + (size_t)withcoord;
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++) {
        const struct geo_point *p = &found.at[i];
        if (extras)
            reply_array(ctx->reply, extras + 1);
        reply_bulk(ctx->reply, p->member.ptr, p->member.len);
        if (withdist)
            reply_distance(ctx->reply, p->dist / shape.conversion);
        if (withhash)
            reply_int(ctx->reply, (long long)p->score);
        if (withcoord) {
            reply_array(ctx->reply, 2);
            reply_coordinate(ctx->reply, p->lon);
            reply_coordinate(ctx->reply, p->lat);
        }
    }
    mi_free(found.at);
}

void cmd_georadius(struct exec_ctx *ctx)            { search_generic(ctx, 1, GEO_FROM_COORDS); }
void cmd_georadius_ro(struct exec_ctx *ctx)         { search_generic(ctx, 1, GEO_FROM_COORDS | GEO_NO_STORE); }
void cmd_georadiusbymember(struct exec_ctx *ctx)    { search_generic(ctx, 1, GEO_FROM_MEMBER); }
void cmd_georadiusbymember_ro(struct exec_ctx *ctx) { search_generic(ctx, 1, GEO_FROM_MEMBER | GEO_NO_STORE); }
void cmd_geosearch(struct exec_ctx *ctx)            { search_generic(ctx, 1, GEO_SEARCH); }
void cmd_geosearchstore(struct exec_ctx *ctx)       { search_generic(ctx, 2, GEO_SEARCH | GEO_SEARCH_STORE); }
