/* geohash: positions as interleaved bits, distances and search cells (see
 * geohash.h). Every formula is the one Redis 7.0 uses, in the same order
 * of floating-point operations: a search must find the same members and a
 * distance print the same digits as redis-server's. */
#include "shards/commands/geohash.h"

#include <math.h>

#define EARTH_RADIUS_M 6372797.560856
/* The Mercator projection's half-width in metres: the radius at which the
 * coarsest step covers the whole map. */
#define MERCATOR_MAX 20037726.37
#define DEG_TO_RAD   (M_PI / 180.0)

struct geo_range {
    double min, max;
};

struct geo_area {
    struct geo_range lon, lat;
};

static const struct geo_range lon_range = { GEO_LON_MIN, GEO_LON_MAX };
static const struct geo_range lat_range = { GEO_LAT_MIN, GEO_LAT_MAX };

/* ---- bits ----------------------------------------------------------------- */

/* The 32 bits of v moved to the even positions of a 64-bit word. */
static uint64_t spread_bits(uint32_t v)
{
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* The even bits of x gathered into 32 (spread_bits undone). */
static uint32_t gather_bits(uint64_t x)
{
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

/* The cell of (lon, lat) at step over the given ranges: latitude in the
 * even bits, longitude in the odd ones. A coordinate at its range's maximum
 * gives 2^step cells, one past the last, as in Redis (its score is then
 * past 2^52; such a member is still found where Redis finds it). False
 * outside the Mercator limits. */
static bool encode(struct geo_range lon_r, struct geo_range lat_r, double lon, double lat, int step,
                   struct geohash *h)
{
    if (lon > GEO_LON_MAX || lon < GEO_LON_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
        return false;
    h->bits = 0;
    h->step = (uint8_t)step;
    if (lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max)
        return false;
    double lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min);
    double lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min);
    lat_offset *= (double)(1ULL << step);
    lon_offset *= (double)(1ULL << step);
    h->bits = spread_bits((uint32_t)lat_offset) | (spread_bits((uint32_t)lon_offset) << 1);
    return true;
}

static void decode(struct geo_range lon_r, struct geo_range lat_r, struct geohash h, struct geo_area *a)
{
    uint32_t lat_cell = gather_bits(h.bits), lon_cell = gather_bits(h.bits >> 1);
    double lat_scale = lat_r.max - lat_r.min, lon_scale = lon_r.max - lon_r.min;
    double cells = (double)(1ULL << h.step);
    a->lat.min = lat_r.min + (lat_cell * 1.0 / cells) * lat_scale;
    a->lat.max = lat_r.min + ((lat_cell + 1) * 1.0 / cells) * lat_scale;
    a->lon.min = lon_r.min + (lon_cell * 1.0 / cells) * lon_scale;
    a->lon.max = lon_r.min + ((lon_cell + 1) * 1.0 / cells) * lon_scale;
}

uint64_t geohash_score(double lon, double lat)
{
    struct geohash h = { 0, 0 };
    encode(lon_range, lat_range, lon, lat, GEO_STEP_MAX, &h);
    return h.bits;
}

/* The bits of a score. Redis casts it to uint64_t; for a score that is no
 * geohash (a ZADD's: negative, huge, infinite) that cast is undefined in
 * C, and what the x86-64 build of redis-server does is spelled out here:
 * below 2^63 a conversion to int64 (2^63 when out of its range, NaN too),
 * from 2^63 on one of the score less 2^63 with the top bit flipped (0 for
 * 2^64 and past). */
static uint64_t score_bits(double score)
{
    const double two63 = 9223372036854775808.0;
    const uint64_t top = 1ULL << 63;
    if (!(score >= two63))
        return score >= -two63 ? (uint64_t)(int64_t)score : top;
    double rest = score - two63;
    return rest < two63 ? (uint64_t)(int64_t)rest ^ top : 0;
}

void geohash_score_position(double score, double *lon, double *lat)
{
    struct geohash h = { score_bits(score), GEO_STEP_MAX };
    struct geo_area a;
    decode(lon_range, lat_range, h, &a);
    double x = (a.lon.min + a.lon.max) / 2, y = (a.lat.min + a.lat.max) / 2;
    *lon = x > GEO_LON_MAX ? GEO_LON_MAX : x < GEO_LON_MIN ? GEO_LON_MIN : x;
    *lat = y > GEO_LAT_MAX ? GEO_LAT_MAX : y < GEO_LAT_MIN ? GEO_LAT_MIN : y;
}

void geohash_score_text(double score, char out[11])
{
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    static const struct geo_range standard_lat = { -90, 90 };
    double lon, lat;
    geohash_score_position(score, &lon, &lat);
    struct geohash h = { 0, 0 };
    encode(lon_range, standard_lat, lon, lat, GEO_STEP_MAX, &h);
    for (int i = 0; i < 10; i++)
        out[i] = alphabet[(h.bits >> (52 - (i + 1) * 5)) & 0x1f];
    out[10] = '0';
}

/* ---- distances ----------------------------------------------------------- */

static double lat_distance(double lat1, double lat2)
{
    return EARTH_RADIUS_M * fabs(lat2 * DEG_TO_RAD - lat1 * DEG_TO_RAD);
}

double geo_distance(double lon1, double lat1, double lon2, double lat2)
{
    double lon1r = lon1 * DEG_TO_RAD, lon2r = lon2 * DEG_TO_RAD;
    double v = sin((lon2r - lon1r) / 2);
    /* the same meridian: the latitudes' difference is the distance */
    if (v == 0.0)
        return lat_distance(lat1, lat2);
    double lat1r = lat1 * DEG_TO_RAD, lat2r = lat2 * DEG_TO_RAD;
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * EARTH_RADIUS_M * asin(sqrt(a));
}

bool geo_shape_holds(const struct geo_shape *shape, double score, double *lon, double *lat, double *dist)
{
    geohash_score_position(score, lon, lat);
    if (!shape->box) {
        *dist = geo_distance(shape->lon, shape->lat, *lon, *lat);
        return *dist <= shape->radius * shape->conversion;
    }
    /* The box: half its height north and south of the centre, half its
     * width east and west along the member's own parallel; the latitude is
     * the cheaper test, so it comes first. */
    double width = shape->width * shape->conversion, height = shape->height * shape->conversion;
    if (lat_distance(*lat, shape->lat) > height / 2)
        return false;
    if (geo_distance(*lon, *lat, shape->lon, *lat) > width / 2)
        return false;
    *dist = geo_distance(shape->lon, shape->lat, *lon, *lat);
    return true;
}

/* ---- search cells --------------------------------------------------------- */

/* The interleaved bits of each axis: longitude in the odd positions,
 * latitude in the even ones. */
#define LON_BITS 0xaaaaaaaaaaaaaaaaULL
#define LAT_BITS 0x5555555555555555ULL

/* A cell d steps along one axis (axis: LON_BITS, east; LAT_BITS, north;
 * d < 0 the other way), wrapping round the map: the axis's bits count up
 * or down with the other axis's positions filled so the carry crosses
 * them, which are then put back. */
static void move_along(struct geohash *h, int d, uint64_t axis)
{
    if (d == 0)
        return;
    uint64_t moved = h->bits & axis, kept = h->bits & ~axis;
    uint64_t fill = ~axis >> (64 - h->step * 2);
    if (d > 0) {
        moved = moved + (fill + 1);
    } else {
        moved = moved | fill;
        moved = moved - (fill + 1);
    }
    moved &= axis >> (64 - h->step * 2);
    h->bits = moved | kept;
}

enum { CELL_CENTRE, CELL_N, CELL_S, CELL_E, CELL_W, CELL_NE, CELL_NW, CELL_SE, CELL_SW };

static void neighbours(struct geohash centre, struct geohash cells[9])
{
    static const int east[9] = { 0, 0, 0, 1, -1, 1, -1, 1, -1 };
    static const int north[9] = { 0, 1, -1, 0, 0, 1, 1, -1, -1 };
    for (int i = 0; i < 9; i++) {
        cells[i] = centre;
        move_along(&cells[i], east[i], LON_BITS);
        move_along(&cells[i], north[i], LAT_BITS);
    }
}

/* The precision whose cells are about as wide as the radius: coarser near
 * the poles, where a cell's width in metres shrinks. */
static int steps_for_radius(double metres, double lat)
{
    if (metres == 0)
        return GEO_STEP_MAX;
    int step = 1;
    while (metres < MERCATOR_MAX) {
        metres *= 2;
        step++;
    }
    step -= 2; /* so that the radius fits in most cases */
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80)
            step--;
    }
    if (step < 1)
        step = 1;
    if (step > GEO_STEP_MAX)
        step = GEO_STEP_MAX;
    return step;
}

/* The shape's bounding box in degrees: min lon, min lat, max lon, max
 * lat. The east-west extent is taken at the edge nearer the pole (the
 * wider one in degrees). */
static void bounding_box(const struct geo_shape *shape, double b[4])
{
    double height = shape->conversion * (shape->box ? shape->height / 2 : shape->radius);
    double width = shape->conversion * (shape->box ? shape->width / 2 : shape->radius);
    double lat_delta = (height / EARTH_RADIUS_M) / DEG_TO_RAD;
    double lon_delta_top = (width / EARTH_RADIUS_M / cos((shape->lat + lat_delta) * DEG_TO_RAD)) / DEG_TO_RAD;
    double lon_delta_bottom = (width / EARTH_RADIUS_M / cos((shape->lat - lat_delta) * DEG_TO_RAD)) / DEG_TO_RAD;
    bool southern = shape->lat < 0;
    b[0] = southern ? shape->lon - lon_delta_bottom : shape->lon - lon_delta_top;
    b[2] = southern ? shape->lon + lon_delta_bottom : shape->lon + lon_delta_top;
    b[1] = shape->lat - lat_delta;
    b[3] = shape->lat + lat_delta;
}

void geo_search_cells(const struct geo_shape *shape, struct geohash cells[9])
{
    double b[4];
    bounding_box(shape, b);
    double min_lon = b[0], min_lat = b[1], max_lon = b[2], max_lat = b[3];
    /* a box's reach is its half-diagonal */
    double reach = shape->box ? sqrt((shape->width / 2) * (shape->width / 2) + (shape->height / 2) * (shape->height / 2))
                              : shape->radius;
    reach *= shape->conversion;
    int step = steps_for_radius(reach, shape->lat);

    struct geohash centre = { 0, 0 };
    struct geo_area area, n, s, e, w;
    encode(lon_range, lat_range, shape->lon, shape->lat, step, &centre);
    neighbours(centre, cells);
    decode(lon_range, lat_range, centre, &area);

    /* Near the edge of its cell the shape may reach past the neighbours:
     * then one step coarser. */
    decode(lon_range, lat_range, cells[CELL_N], &n);
    decode(lon_range, lat_range, cells[CELL_S], &s);
    decode(lon_range, lat_range, cells[CELL_E], &e);
    decode(lon_range, lat_range, cells[CELL_W], &w);
    bool coarser = n.lat.max < max_lat || s.lat.min > min_lat || e.lon.max < max_lon || w.lon.min > min_lon;
    if (step > 1 && coarser) {
        step--;
        encode(lon_range, lat_range, shape->lon, shape->lat, step, &centre);
        neighbours(centre, cells);
        decode(lon_range, lat_range, centre, &area);
    }

    /* Drop the neighbours on a side the shape does not reach. */
    if (step >= 2) {
        static const struct geohash none = { 0, 0 };
        if (area.lat.min < min_lat)
            cells[CELL_S] = cells[CELL_SW] = cells[CELL_SE] = none;
        if (area.lat.max > max_lat)
            cells[CELL_N] = cells[CELL_NE] = cells[CELL_NW] = none;
        if (area.lon.min < min_lon)
            cells[CELL_W] = cells[CELL_SW] = cells[CELL_NW] = none;
        if (area.lon.max > max_lon)
            cells[CELL_E] = cells[CELL_SE] = cells[CELL_NE] = none;
    }
}

void geohash_cell_scores(struct geohash cell, double *min, double *max)
{
    int shift = 52 - cell.step * 2;
    *min = (double)(cell.bits << shift);
    *max = (double)((cell.bits + 1) << shift);
}
