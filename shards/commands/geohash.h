/* geohash: the arithmetic behind the geo commands (geo.c), as Redis 7.0
 * does it, so that scores, positions, distances and the cells a search
 * looks at are the same bit for bit.
 *
 * A position is a 52-bit interleaved geohash: 26 bits of longitude over
 * [-180, 180] and 26 of latitude over [-85.05112878, 85.05112878] (the
 * Web Mercator limits), the longitude's bit first in each pair. A geo set
 * stores it as a sorted set member's score. A search covers the cell of
 * its centre and the 8 around it, at a precision (step) chosen from the
 * radius, then keeps the members within the exact shape. */
#ifndef RINGKV_GEOHASH_H
#define RINGKV_GEOHASH_H

#include <stdbool.h>
#include <stdint.h>

#define GEO_STEP_MAX 26
#define GEO_LAT_MIN  -85.05112878
#define GEO_LAT_MAX  85.05112878
#define GEO_LON_MIN  -180.0
#define GEO_LON_MAX  180.0

/* A cell: the interleaved bits of its position at a precision of step
 * bits per coordinate. All zero means "no cell" (a neighbour dropped). */
struct geohash {
    uint64_t bits;
    uint8_t  step;
};

/* The 52-bit score of (lon, lat), which the caller checked are in range. */
uint64_t geohash_score(double lon, double lat);

/* The position a score stands for: the centre of its cell, clamped to the
 * ranges above (GEOPOS, and every distance). */
void geohash_score_position(double score, double *lon, double *lat);

/* The 11-character geohash of a score, over the standard latitude range
 * [-90, 90] (Redis decodes and encodes again; the last character is
 * always '0', the 52 bits giving ten). */
void geohash_score_text(double score, char out[11]);

/* Great-circle distance in metres (haversine, Earth radius 6372797.560856). */
double geo_distance(double lon1, double lat1, double lon2, double lat2);

/* The shape of a search, in the unit's metres (conversion: metres per unit). */
struct geo_shape {
    bool   box;           /* BYBOX, else BYRADIUS */
    double lon, lat;      /* centre */
    double radius;        /* in units */
    double width, height; /* in units */
    double conversion;
};

/* The cells a search looks at, in the order Redis looks at them: the
 * centre's, north, south, east, west, north-east, north-west, south-east,
 * south-west; a dropped one is all zero. */
void geo_search_cells(const struct geo_shape *shape, struct geohash cells[9]);

/* The scores a cell covers: [min, max). */
void geohash_cell_scores(struct geohash cell, double *min, double *max);

/* Whether the member at score lies within the shape: true with its
 * position and its distance from the centre in metres. */
bool geo_shape_holds(const struct geo_shape *shape, double score, double *lon, double *lat, double *dist);

#endif
