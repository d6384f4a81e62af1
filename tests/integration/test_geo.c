/* Geo: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH, GEOSEARCHSTORE,
 * GEORADIUS[BYMEMBER][_RO] against a running server, with Redis 7's
 * replies and error texts. Every expected reply here is redis-server
 * 7.0's to the same commands (the test runs unchanged against it:
 * RINGKV_TEST_TARGET=redis), compared as the whole reply's text: the
 * same members in the same order, the same digits. Scores written by
 * STOREDIST are compared as numbers (ringkv writes a score in its
 * shortest exact form, as Redis 7.2; 7.0 with 17 digits: README). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

static struct server srv;
static tconn *c;

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

/* The reply to cmdline is text (rval_text's form). */
#define expect_reply(cmdline, text) expect_reply_at(__LINE__, cmdline, text)
static void expect_reply_at(int line, const char *cmdline, const char *text)
{
    struct rval *v = tcmd(c, "%s", cmdline);
    char *got = rval_text(v);
    if (strcmp(got, text) != 0)
        fail_msg("line %d: %s:\n  got:  %s\n  want: %s", line, cmdline, got, text);
    free(got);
    rval_free(v);
}

/* The score of member in key is the number text reads as. */
static void expect_score(const char *key, const char *member, const char *text)
{
    struct rval *v = tcmd(c, "ZSCORE %s %s", key, member);
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    if (strtod(v->str, NULL) != strtod(text, NULL))
        fail_msg("ZSCORE %s %s: %s, want %s", key, member, v->str, text);
    rval_free(v);
}

/* Palermo and Catania (Redis's documentation), two places in the sea off
 * Sicily, and a twin of each: members at the same place tie on distance. */
static void add_sicily(const char *key)
{
    expect_int(tcmd(c, "GEOADD %s 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", key), 2);
    expect_int(tcmd(c, "GEOADD %s 12.758489 38.788135 edge1 17.241510 38.788135 edge2", key), 2);
    expect_int(tcmd(c, "GEOADD %s 15.087269 37.502669 CataniaTwin 13.361389 38.115556 PalermoTwin", key), 2);
}

static void test_geoadd_replies(void **state)
{
    expect_int(tcmd(c, "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"), 2);
    expect_int(tcmd(c, "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"), 0);
    expect_status(tcmd(c, "TYPE Sicily"), "zset");
    expect_reply("ZRANGE Sicily 0 -1 WITHSCORES", "[\"Palermo\", \"3479099956230698\", \"Catania\", \"3479447370796909\"]");
    /* CH counts the moved member */
    expect_int(tcmd(c, "GEOADD Sicily CH 13.361389 38.2 Palermo 15.087269 37.502669 Catania"), 1);
    expect_reply("ZSCORE Sicily Palermo", "\"3479101030759983\"");
    /* NX adds only new members, XX changes only old ones */
    expect_int(tcmd(c, "GEOADD Sicily NX 13 38 Palermo 13.583333 37.316667 Agrigento"), 1);
    expect_reply("ZSCORE Sicily Palermo", "\"3479101030759983\"");
    expect_int(tcmd(c, "GEOADD Sicily XX 1 1 Nowhere"), 0);
    expect_nil(tcmd(c, "ZSCORE Sicily Nowhere"));
    expect_int(tcmd(c, "GEOADD Sicily XX 13.361389 38.115556 Palermo"), 0);
    expect_int(tcmd(c, "GEOADD Sicily XX CH 13.4 38.1 Palermo"), 1);
    expect_int(tcmd(c, "GEOADD Sicily ch nx 13.4 38.1 Palermo 1 2 New"), 1);
    expect_int(tcmd(c, "ZCARD Sicily"), 4);
    /* options repeated, and many members at once */
    expect_int(tcmd(c, "GEOADD opts CH CH CH NX CH CH 1 1 a 2 2 b"), 2);
    expect_int(tcmd(c, "GEOADD opts 1 1 c 2 2 d 3 3 e 4 4 f 5 5 g 6 6 h 7 7 i 8 8 j 9 9 k 10 10 l 11 11 m"), 11);
    expect_reply("GEOHASH opts a m", "[\"s00twy01mt0\", \"s1zyd63zws0\"]");
    /* XX on a missing key makes none */
    expect_int(tcmd(c, "GEOADD missing XX 1 1 a"), 0);
    expect_int(tcmd(c, "EXISTS missing"), 0);
    /* a score whose shortest digits end before its units: written out */
    expect_int(tcmd(c, "GEOADD round 13.51 38.19 here"), 1);
    expect_reply("ZRANGE round 0 -1 WITHSCORES", "[\"here\", \"3479101695761900\"]");
    /* the corners of the map: a score past 2^52 at the top, as Redis's */
    expect_int(tcmd(c, "GEOADD corners 180 85.05112878 top -180 -85.05112878 bottom 0 0 middle"), 3);
    expect_reply("ZRANGE corners 0 -1 WITHSCORES",
                 "[\"bottom\", \"0\", \"middle\", \"3377699720527872\", \"top\", \"13510798882111488\"]");
    expect_reply("GEOPOS corners top bottom middle",
                 "[[\"180\", \"85.0511287799999991\"], [\"-179.99999731779098511\", \"-85.05112751263942528\"], "
                 "[\"0.00000268220901489\", \"0.00000126736058093\"]]");
}

static void test_invalid_input(void **state)
{
    expect_error(tcmd(c, "GEOADD x 200 10 a"), "ERR invalid longitude,latitude pair 200.000000,10.000000");
    expect_error(tcmd(c, "GEOADD x 10 85.06 a"), "ERR invalid longitude,latitude pair 10.000000,85.060000");
    expect_error(tcmd(c, "GEOADD x -180.5 -85.06 a"), "ERR invalid longitude,latitude pair -180.500000,-85.060000");
    expect_error(tcmd(c, "GEOADD x inf 0 a"), "ERR invalid longitude,latitude pair inf,0.000000");
    expect_error(tcmd(c, "GEOADD x abc 0 a"), "ERR value is not a valid float");
    expect_error(tcmd(c, "GEOADD x 1 nan a"), "ERR value is not a valid float");
    /* one bad pair adds nothing */
    expect_error(tcmd(c, "GEOADD x 1 1 a 200 0 b"), "ERR invalid longitude,latitude pair 200.000000,0.000000");
    expect_int(tcmd(c, "EXISTS x"), 0);
    expect_error(tcmd(c, "GEOADD x NX XX 1 1 a"), "ERR syntax error");
    expect_error(tcmd(c, "GEOADD x 1 1 a 2"), "ERR syntax error");
    expect_error(tcmd(c, "GEOADD x GT 1 1 a"), "ERR syntax error");
    expect_error(tcmd(c, "GEOADD x 1 1"), "ERR wrong number of arguments for 'geoadd' command");

    /* WRONGTYPE, after GEOADD's arguments are checked */
    expect_ok(tcmd(c, "SET s text"));
    const char *wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    expect_error(tcmd(c, "GEOADD s 1 1 a"), wrong);
    expect_error(tcmd(c, "GEOADD s 200 1 a"), "ERR invalid longitude,latitude pair 200.000000,1.000000");
    expect_error(tcmd(c, "GEOPOS s a"), wrong);
    expect_error(tcmd(c, "GEOHASH s a"), wrong);
    expect_error(tcmd(c, "GEODIST s a b"), wrong);
    expect_error(tcmd(c, "GEOSEARCH s FROMLONLAT 1 1 BYRADIUS 1 km"), wrong);
    expect_error(tcmd(c, "GEOSEARCHSTORE d s FROMLONLAT 1 1 BYRADIUS 1 km"), wrong);
    expect_error(tcmd(c, "GEORADIUS s 1 1 1 km"), wrong);
    expect_error(tcmd(c, "GEORADIUS_RO s 1 1 1 km"), wrong);
    expect_error(tcmd(c, "GEORADIUSBYMEMBER s a 1 km"), wrong);
    expect_error(tcmd(c, "GEORADIUSBYMEMBER_RO s a 1 km"), wrong);

    add_sicily("Sicily");
    expect_error(tcmd(c, "GEODIST Sicily Palermo Catania yd"), "ERR unsupported unit provided. please use M, KM, FT, MI");
    expect_error(tcmd(c, "GEODIST Sicily Palermo Catania km x"), "ERR syntax error");
    expect_error(tcmd(c, "geosearch Sicily BYRADIUS 1 km WITHDIST ASC"),
                 "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo WITHDIST ASC WITHHASH"),
                 "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH");
    expect_error(tcmd(c, "GEOSEARCHSTORE d Sicily FROMMEMBER Palermo ASC COUNT 1"),
                 "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCHSTORE");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 1 1 BYRADIUS 1 km"), "ERR syntax error");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km BYBOX 1 1 km"), "ERR syntax error");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km ANY"),
                 "ERR the ANY argument requires COUNT argument");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km COUNT 0"), "ERR COUNT must be > 0");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km COUNT x"),
                 "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS -1 km"), "ERR radius cannot be negative");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS x km"), "ERR need numeric radius");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX x 1 km"), "ERR need numeric width");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 x km"), "ERR need numeric height");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX -1 1 km"), "ERR height or width cannot be negative");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 1 yd"),
                 "ERR unsupported unit provided. please use M, KM, FT, MI");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER nosuch BYRADIUS 1 km"), "ERR could not decode requested zset member");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMLONLAT 200 1 BYRADIUS 1 km"),
                 "ERR invalid longitude,latitude pair 200.000000,1.000000");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km STORE d"), "ERR syntax error");
    expect_error(tcmd(c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km STOREDIST"), "ERR syntax error");
    expect_error(tcmd(c, "GEORADIUS_RO Sicily 15 37 1 km STORE d"), "ERR syntax error");
    expect_error(tcmd(c, "GEORADIUSBYMEMBER_RO Sicily Palermo 1 km STOREDIST d"), "ERR syntax error");
    expect_error(tcmd(c, "GEORADIUS Sicily 15 37 1 km FROMMEMBER Palermo"), "ERR syntax error");
    expect_error(tcmd(c, "GEORADIUS Sicily 15 37 1 km STORE d WITHDIST"),
                 "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options");
    expect_error(tcmd(c, "GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 1 km WITHCOORD"),
                 "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options");
    expect_error(tcmd(c, "GEORADIUS Sicily 15 37 1 furlong"), "ERR unsupported unit provided. please use M, KM, FT, MI");
    expect_error(tcmd(c, "GEORADIUSBYMEMBER Sicily nosuch 1 km"), "ERR could not decode requested zset member");
    /* a missing key answers once the options are read: GEORADIUSBYMEMBER's
     * radius and unit are not */
    expect_reply("GEORADIUSBYMEMBER missing m 10 furlong", "[]");
    expect_int(tcmd(c, "GEORADIUSBYMEMBER missing m 10 furlong STORE d"), 0);
    expect_error(tcmd(c, "GEORADIUSBYMEMBER missing m 10 furlong COUNT 0"), "ERR COUNT must be > 0");
    expect_reply("GEOSEARCH missing FROMMEMBER m BYRADIUS 10 km", "[]");
    expect_error(tcmd(c, "GEOSEARCH missing FROMMEMBER m BYRADIUS 10 furlong"),
                 "ERR unsupported unit provided. please use M, KM, FT, MI");
}

static void test_positions(void **state)
{
    add_sicily("Sicily");
    expect_reply("GEOPOS Sicily Palermo Catania nosuch",
                 "[[\"13.36138933897018433\", \"38.11555639549629859\"], [\"15.08726745843887329\", "
                 "\"37.50266842333162032\"], (nil)]");
    expect_reply("GEOPOS missing a b",
                 "[(nil), (nil)]");
    expect_reply("GEOPOS Sicily", "[]");
    expect_reply("GEOHASH Sicily Palermo Catania edge2 nosuch",
                 "[\"sqc8b49rny0\", \"sqdtr74hyu0\", \"squk8m4vk20\", (nil)]");
    expect_reply("GEOHASH missing a",
                 "[(nil)]");
    expect_bulk(tcmd(c, "GEODIST Sicily Palermo Catania"), "166274.1516");
    expect_bulk(tcmd(c, "GEODIST Sicily Palermo Catania m"), "166274.1516");
    expect_bulk(tcmd(c, "GEODIST Sicily Palermo Catania km"), "166.2742");
    expect_bulk(tcmd(c, "GEODIST Sicily Palermo Catania KM"), "166.2742");
    expect_bulk(tcmd(c, "GEODIST Sicily Palermo Catania mi"), "103.3182");
    expect_bulk(tcmd(c, "GEODIST Sicily Palermo Catania ft"), "545518.8700");
    expect_bulk(tcmd(c, "GEODIST Sicily Palermo PalermoTwin"), "0.0000");
    expect_bulk(tcmd(c, "GEODIST Sicily edge1 edge2 km"), "388.6271");
    expect_nil(tcmd(c, "GEODIST Sicily Palermo nosuch"));
    expect_nil(tcmd(c, "GEODIST missing a b"));

    /* RESP3: coordinates are doubles, distances still strings */
    tconn *saved = c;
    c = tconnect(srv.port);
    rval_free(tcmd(c, "HELLO 3"));
    struct rval *v = tcmd(c, "GEOPOS Sicily Palermo nosuch");
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->elem[0]->type, R_DOUBLE);
    assert_string_equal(v->elem[0]->elem[0]->str, "13.36138933897018433");
    assert_string_equal(v->elem[0]->elem[1]->str, "38.11555639549629859");
    assert_int_equal(v->elem[1]->type, R_NIL);
    rval_free(v);
    expect_bulk(tcmd(c, "GEODIST Sicily Palermo Catania km"), "166.2742");
    expect_reply("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km WITHCOORD WITHHASH",
                 "[[\"Palermo\", (integer) 3479099956230698, [,13.36138933897018433, ,38.11555639549629859]], "
                 "[\"PalermoTwin\", (integer) 3479099956230698, [,13.36138933897018433, ,38.11555639549629859]]]");
    tclose(c);
    c = saved;
}

static void test_search(void **state)
{
    add_sicily("Sicily");
    /* by radius: every order, every option */
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km",
                 "[\"Palermo\", \"PalermoTwin\", \"Catania\", \"CataniaTwin\"]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC",
                 "[\"Catania\", \"CataniaTwin\", \"Palermo\", \"PalermoTwin\"]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km DESC",
                 "[\"Palermo\", \"PalermoTwin\", \"Catania\", \"CataniaTwin\"]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHDIST WITHCOORD WITHHASH",
                 "[[\"Catania\", \"56.4413\", (integer) 3479447370796909, [\"15.08726745843887329\", "
                 "\"37.50266842333162032\"]], [\"CataniaTwin\", \"56.4413\", (integer) 3479447370796909, "
                 "[\"15.08726745843887329\", \"37.50266842333162032\"]], [\"Palermo\", \"190.4424\", "
                 "(integer) 3479099956230698, [\"13.36138933897018433\", \"38.11555639549629859\"]], "
                 "[\"PalermoTwin\", \"190.4424\", (integer) 3479099956230698, [\"13.36138933897018433\", "
                 "\"38.11555639549629859\"]]]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 3 WITHDIST",
                 "[[\"Catania\", \"56.4413\"], [\"CataniaTwin\", \"56.4413\"], [\"Palermo\", \"190.4424\"]]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 1 DESC", "[\"Palermo\"]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 1 ANY", "[\"Palermo\"]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 3 ANY DESC",
                 "[\"Palermo\", \"PalermoTwin\", \"Catania\"]");
    expect_reply("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km ASC WITHDIST",
                 "[[\"Palermo\", \"0.0000\"], [\"PalermoTwin\", \"0.0000\"], [\"edge1\", \"91.4007\"], "
                 "[\"Catania\", \"166.2742\"], [\"CataniaTwin\", \"166.2742\"]]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 0 m", "[]");
    expect_reply("GEOSEARCH missing FROMLONLAT 15 37 BYRADIUS 200 km", "[]");

    /* by box */
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST",
                 "[[\"Catania\", \"56.4413\", [\"15.08726745843887329\", \"37.50266842333162032\"]], "
                 "[\"CataniaTwin\", \"56.4413\", [\"15.08726745843887329\", \"37.50266842333162032\"]], "
                 "[\"Palermo\", \"190.4424\", [\"13.36138933897018433\", \"38.11555639549629859\"]], "
                 "[\"PalermoTwin\", \"190.4424\", [\"13.36138933897018433\", \"38.11555639549629859\"]], "
                 "[\"edge2\", \"279.7403\", [\"17.24151045083999634\", \"38.78813451624225195\"]], [\"edge1\", "
                 "\"279.7405\", [\"12.7584877610206604\", \"38.78813451624225195\"]]]");
    expect_reply("GEOSEARCH Sicily FROMMEMBER Catania BYBOX 150 150 mi DESC WITHDIST",
                 "[[\"Catania\", \"0.0000\"], [\"CataniaTwin\", \"0.0000\"]]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 38 BYBOX 200 500 km", "[\"Catania\", \"CataniaTwin\"]");
    expect_reply("GEOSEARCH Sicily FROMLONLAT 15 38 BYBOX 2000000 500 ft ASC",
                 "[]");

    /* a distance on a half of its last decimal: rounded to even, as
     * Redis's fixed-point formatting does (printf's %.4f says .3855) */
    expect_int(tcmd(c, "GEOADD far 73.49873095750808716 -76.94046084423649745 south"), 1);
    expect_reply("GEOSEARCH far FROMLONLAT 180 83.09000657678986 BYRADIUS 30000 km WITHDIST",
                 "[[\"south\", \"18586.5014\"]]");
    expect_reply("GEORADIUS far 180 83.09000657678986 99000000 ft WITHDIST", "[[\"south\", \"60979335.3856\"]]");

    /* the older forms */
    expect_reply("GEORADIUS Sicily 15 37 200 km WITHDIST ASC",
                 "[[\"Catania\", \"56.4413\"], [\"CataniaTwin\", \"56.4413\"], [\"Palermo\", \"190.4424\"], "
                 "[\"PalermoTwin\", \"190.4424\"]]");
    expect_reply("GEORADIUS_RO Sicily 15 37 200 km WITHDIST COUNT 2",
                 "[[\"Catania\", \"56.4413\"], [\"CataniaTwin\", \"56.4413\"]]");
    expect_reply("GEORADIUSBYMEMBER Sicily edge1 100 mi WITHHASH DESC",
                 "[[\"Palermo\", (integer) 3479099956230698], [\"PalermoTwin\", (integer) 3479099956230698], "
                 "[\"edge1\", (integer) 3479273021651468]]");
    expect_reply("GEORADIUSBYMEMBER_RO Sicily Palermo 100 km", "[\"Palermo\", \"PalermoTwin\", \"edge1\"]");
}

/* Many members at a few places: the order of those tying on distance is
 * redis-server's (its sort of the whole result, and its partial sort when
 * COUNT keeps fewer than found). */
static void test_order_of_ties(void **state)
{
    static const char *const places[] = { "13.361389 38.115556", "15.087269 37.502669", "14.2 37.9",
                                          "13.4 38.0", "15.0 37.0" };
    for (int i = 0; i < 60; i++)
        expect_int(tcmd(c, "GEOADD many %s m%d", places[(i * 7) % 5], i), 1);
    struct rval *all = tcmd(c, "GEOSEARCH many FROMLONLAT 14.5 37.6 BYRADIUS 300 km ASC");
    char *text = rval_text(all);
    expect_reply("GEOSEARCH many FROMLONLAT 14.5 37.6 BYRADIUS 300 km COUNT 60 ASC", text);
    free(text);
    rval_free(all);
    expect_reply("GEOSEARCH many FROMLONLAT 14.5 37.6 BYRADIUS 300 km ASC",
                 "[\"m1\", \"m11\", \"m16\", \"m21\", \"m26\", \"m31\", \"m36\", \"m41\", \"m46\", \"m51\", "
                 "\"m56\", \"m6\", \"m13\", \"m18\", \"m23\", \"m28\", \"m3\", \"m33\", \"m38\", \"m43\", "
                 "\"m48\", \"m53\", \"m58\", \"m8\", \"m12\", \"m17\", \"m2\", \"m22\", \"m27\", \"m32\", "
                 "\"m37\", \"m42\", \"m47\", \"m52\", \"m57\", \"m7\", \"m14\", \"m19\", \"m24\", \"m29\", "
                 "\"m34\", \"m39\", \"m4\", \"m44\", \"m49\", \"m54\", \"m59\", \"m9\", \"m0\", \"m10\", "
                 "\"m15\", \"m20\", \"m25\", \"m30\", \"m35\", \"m40\", \"m45\", \"m5\", \"m50\", \"m55\"]");
    expect_reply("GEOSEARCH many FROMLONLAT 14.5 37.6 BYRADIUS 300 km COUNT 15 ASC",
                 "[\"m11\", \"m6\", \"m56\", \"m51\", \"m46\", \"m41\", \"m36\", \"m31\", \"m26\", \"m21\", "
                 "\"m16\", \"m1\", \"m18\", \"m8\", \"m58\"]");
    expect_reply("GEOSEARCH many FROMLONLAT 14.5 37.6 BYRADIUS 300 km COUNT 15 DESC",
                 "[\"m55\", \"m0\", \"m10\", \"m15\", \"m20\", \"m25\", \"m30\", \"m35\", \"m40\", \"m45\", "
                 "\"m5\", \"m50\", \"m9\", \"m19\", \"m24\"]");
    expect_reply("GEOSEARCH many FROMLONLAT 14.5 37.6 BYRADIUS 300 km COUNT 5 DESC",
                 "[\"m55\", \"m0\", \"m10\", \"m15\", \"m20\"]");
    expect_reply("GEOSEARCH many FROMLONLAT 14.5 37.6 BYRADIUS 300 km COUNT 4 ANY",
                 "[\"m14\", \"m19\", \"m24\", \"m29\"]");
}

static void test_store(void **state)
{
    add_sicily("Sicily");
    expect_int(tcmd(c, "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 3"), 3);
    expect_reply("ZRANGE dst 0 -1 WITHSCORES",
                 "[\"Palermo\", \"3479099956230698\", \"Catania\", \"3479447370796909\", "
                 "\"CataniaTwin\", \"3479447370796909\"]");
    expect_int(tcmd(c, "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST"), 6);
    expect_reply("ZRANGE dst 0 -1", "[\"Catania\", \"CataniaTwin\", \"Palermo\", \"PalermoTwin\", \"edge2\", \"edge1\"]");
    expect_score("dst", "Catania", "56.441257870158204");
    expect_score("dst", "Palermo", "190.44242984775784");
    expect_score("dst", "edge1", "279.74045213563431");
    /* the stored set is a geo set: GEOPOS reads it */
    expect_int(tcmd(c, "GEORADIUS Sicily 15 37 200 km STORE geo"), 4);
    expect_reply("GEOPOS geo Palermo", "[[\"13.36138933897018433\", \"38.11555639549629859\"]]");
    expect_int(tcmd(c, "GEORADIUS Sicily 15 37 200 mi STOREDIST d COUNT 1 DESC"), 1);
    expect_reply("ZRANGE d 0 -1",
                 "[\"edge1\"]");
    expect_score("d", "edge1", "173.82309029517339");
    /* the last STORE or STOREDIST wins */
    expect_int(tcmd(c, "GEORADIUSBYMEMBER Sicily Palermo 100 km STORE d STOREDIST d"), 3);
    expect_score("d", "edge1", "91.400658605814272");
    expect_int(tcmd(c, "GEORADIUSBYMEMBER Sicily Palermo 100 km STOREDIST d STORE d"), 3);
    expect_reply("ZRANGE d 0 -1 WITHSCORES",
                 "[\"Palermo\", \"3479099956230698\", \"PalermoTwin\", \"3479099956230698\", \"edge1\", "
                 "\"3479273021651468\"]");
    /* nothing found, or no source: the destination is deleted */
    expect_int(tcmd(c, "GEOSEARCHSTORE dst Sicily FROMLONLAT 0 0 BYRADIUS 1 km"), 0);
    expect_int(tcmd(c, "EXISTS dst"), 0);
    expect_int(tcmd(c, "GEORADIUS missing 15 37 200 km STORE d"), 0);
    expect_int(tcmd(c, "EXISTS d"), 0);
    /* into the source itself */
    expect_int(tcmd(c, "GEORADIUS Sicily 15 37 100 km STORE Sicily"), 2);
    expect_reply("ZRANGE Sicily 0 -1", "[\"Catania\", \"CataniaTwin\"]");
    /* the destination is replaced whatever its type */
    expect_ok(tcmd(c, "SET text x"));
    expect_int(tcmd(c, "GEOSEARCHSTORE text Sicily FROMMEMBER Catania BYRADIUS 1 km"), 2);
    expect_status(tcmd(c, "TYPE text"), "zset");
}

/* Keys on both shards: the source on one, the destination on the other. */
static void test_cross_shard(void **state)
{
    add_sicily("{a}src");
    expect_int(tcmd(c, "GEOSEARCHSTORE {b}dst {a}src FROMLONLAT 15 37 BYRADIUS 200 km ASC"), 4);
    expect_reply("ZRANGE {b}dst 0 -1", "[\"Palermo\", \"PalermoTwin\", \"Catania\", \"CataniaTwin\"]");
    expect_int(tcmd(c, "GEORADIUS {a}src 15 37 200 km STOREDIST {b}dist"), 4);
    expect_score("{b}dist", "Catania", "56.441257870158204");
    expect_int(tcmd(c, "GEORADIUSBYMEMBER {a}src Palermo 100 km STORE {b}near"), 3);
    expect_reply("GEOPOS {b}near edge1", "[[\"12.7584877610206604\", \"38.78813451624225195\"]]");
    expect_int(tcmd(c, "GEOSEARCHSTORE {b}dst {a}src FROMLONLAT 0 0 BYRADIUS 1 km"), 0);
    expect_int(tcmd(c, "EXISTS {b}dst"), 0);
    /* the last STORE is written, wherever the first is */
    expect_int(tcmd(c, "GEORADIUS {a}src 15 37 200 km STORE {a}first STORE {b}last"), 4);
    expect_int(tcmd(c, "EXISTS {a}first"), 0);
    expect_int(tcmd(c, "ZCARD {b}last"), 4);
    expect_int(tcmd(c, "GEORADIUS {a}src 15 37 200 km STOREDIST {b}first STORE {a}mid STOREDIST {b}last2"), 4);
    expect_int(tcmd(c, "EXISTS {b}first {a}mid"), 0);
    expect_score("{b}last2", "Catania", "56.441257870158204");
    expect_ok(tcmd(c, "SET {b}s text"));
    expect_error(tcmd(c, "GEOSEARCHSTORE {a}x {b}s FROMLONLAT 1 1 BYRADIUS 1 km"),
                 "WRONGTYPE Operation against a key holding the wrong kind of value");
}

/* A replica ends with the same geo sets: GEOADD journaled as itself, the
 * STORE forms by their effects (across shards too). */
static void test_replica_same_sets(void **state)
{
    (void)state;
    if (target_is_redis())
        skip();
    struct server *m = node_start((const char *[]){ "--threads", "2", NULL });
    struct server *r = node_start((const char *[]){ "--threads", "1", NULL });
    tconn *rc = tconnect(r->port);
    tconn *saved = c;

    c = tconnect(m->port);
    add_sicily("{a}before");
    replicaof(rc, m->port);
    wait_synced(c, rc, 20000);
    add_sicily("{a}src");
    expect_int(tcmd(c, "GEOADD {a}src CH 13.4 38.1 Palermo"), 1);
    expect_int(tcmd(c, "GEOADD {a}src NX 1 1 Palermo 2 2 other"), 1);
    expect_int(tcmd(c, "GEOSEARCHSTORE {b}dst {a}src FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST"), 4);
    expect_int(tcmd(c, "GEORADIUS {a}src 15 37 200 km STORE {a}near COUNT 2"), 2);
    expect_int(tcmd(c, "GEOSEARCHSTORE {a}gone {a}src FROMLONLAT 0 0 BYRADIUS 1 km"), 0);
    wait_synced(c, rc, 20000);
    assert_int_equal(expect_same_data(m->port, r->port), 4);

    tclose(c);
    c = saved;
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_geoadd_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_of_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cross_shard, setup, teardown),
        cmocka_unit_test_teardown(test_replica_same_sets, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
