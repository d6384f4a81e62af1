/* Streams against a running server (two shards; the same test runs
 * unchanged against redis-server with RINGKV_TEST_TARGET=redis): XADD's IDs
 * and errors, XRANGE/XREVRANGE, XDEL, XTRIM (exact and approximate, whose
 * results follow the node limits as Redis's do), XSETID, the generic key
 * commands on a stream, DUMP/RESTORE (a payload of redis-server 7.0's, and
 * ours restored in a redis-server when one is installed), XREAD and XREAD
 * BLOCK (keys on both shards, timeouts, CLIENT UNBLOCK, MULTI), and a
 * replica's streams after a full sync and a mix of writes. Every expected
 * reply is redis-server 7.0.15's to the same commands. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/crc64.h"
#include "harness.h"
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

static struct server srv;
static tconn *c;

static int group_setup(void **state)
{
    (void)state;
    return server_start(&srv, NULL);
}
static int group_teardown(void **state) { (void)state; return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    (void)state;
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_ok(tcmd(c, "CONFIG SET stream-node-max-entries 100"));
    expect_ok(tcmd(c, "CONFIG SET stream-node-max-bytes 4096"));
    return 0;
}
static int teardown(void **state) { (void)state; tclose(c); c = NULL; return 0; }

/* The reply to cmdline on t is text (rval_text's form). */
#define expect_reply(cmdline, text) expect_reply_on(__LINE__, c, cmdline, text)
static void expect_reply_on(int line, tconn *t, const char *cmdline, const char *text)
{
    struct rval *v = tcmd(t, "%s", cmdline);
    char *got = rval_text(v);
    if (strcmp(got, text) != 0)
        fail_msg("line %d: %s:\n  got:  %s\n  want: %s", line, cmdline, got, text);
    free(got);
    rval_free(v);
}

/* v (freed) is text. */
static void expect_text(struct rval *v, const char *text)
{
    char *got = rval_text(v);
    if (strcmp(got, text) != 0)
        fail_msg("got:  %s\nwant: %s", got, text);
    free(got);
    rval_free(v);
}

/* Send a command without reading its reply. */
static void send_words(tconn *t, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    const char *argv[32];
    int argc = 0;
    for (char *w = strtok(buf, " "); w && argc < 32; w = strtok(NULL, " "))
        argv[argc++] = w;
    tsendv(t, argc, argv);
}

/* t sent a blocking command: it is still waiting a while later. */
/* t sent a command that blocks: no reply yet, and the server counts n
 * clients blocked (INFO blocked_clients), so what the test sends next comes
 * after the block however slow the machine. */
static void expect_blocked_n(tconn *t, long long n)
{
    struct rval *v = tread(t, 150);
    if (v) {
        char *text = rval_text(v);
        fail_msg("expected to be blocked, got %s", text);
    }
    for (long long until = now_ms() + 10000; info_field(c, "clients", "blocked_clients") < n; usleep(5000))
        if (now_ms() > until)
            fail_msg("fewer than %lld clients blocked", n);
}
#define expect_blocked(t) expect_blocked_n(t, 1)

#define ERR_ID "-ERR Invalid stream ID specified as stream command argument"

static void test_xadd_ids(void **state)
{
    (void)state;
    expect_reply("XADD s 1-1 a 1", "\"1-1\"");
    expect_reply("XADD s 1-1 a 1", "-ERR The ID specified in XADD is equal or smaller than the target stream top item");
    expect_reply("XADD s 0-0 a 1", "-ERR The ID specified in XADD must be greater than 0-0");
    expect_reply("XADD s 1-* b 2", "\"1-2\"");
    expect_reply("XADD s 2 c 3 d 4", "\"2-0\"");
    expect_reply("XADD s 2-* c 3", "\"2-1\"");
    expect_reply("XADD s 1-* c 3", "-ERR The ID specified in XADD is equal or smaller than the target stream top item");
    expect_reply("XADD s abc a 1", ERR_ID);
    expect_reply("XADD s 1-x a 1", ERR_ID);
    expect_reply("XADD s - a 1", ERR_ID);
    expect_reply("XADD s 5-1 a", "-ERR wrong number of arguments for 'xadd' command");
    expect_reply("XADD s 5-1", "-ERR wrong number of arguments for 'xadd' command");
    expect_reply("XADD s MAXLEN 5 MINID 5 11-0 a 1",
                 "-ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
    expect_reply("XADD s MAXLEN -1 11-0 a 1", "-ERR The MAXLEN argument must be >= 0.");
    expect_reply("XADD s MAXLEN x 11-0 a 1", "-ERR value is not an integer or out of range");
    expect_reply("XADD s LIMIT 5 11-0 a 1",
                 "-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
    expect_reply("XADD s MAXLEN 5 LIMIT 5 11-0 a 1",
                 "-ERR syntax error, LIMIT cannot be used without the special ~ option");
    expect_reply("XADD s MAXLEN 5 LIMIT -1 11-0 a 1", "-ERR The LIMIT argument must be >= 0.");
    expect_reply("XADD nos NOMKSTREAM 12-0 a 1", "(nil)");
    expect_int(tcmd(c, "EXISTS nos"), 0);
    expect_reply("XADD s NOMKSTREAM 12-0 a 1", "\"12-0\"");
    /* `*`: a time-based ID past the last one */
    struct rval *v = tcmd(c, "XADD s * a 1");
    assert_int_equal(v->type, R_BULK);
    assert_true(strtoull(v->str, NULL, 10) > 12);
    rval_free(v);
    /* the last possible ID */
    expect_reply("XADD top 18446744073709551615-18446744073709551615 a 1", "\"18446744073709551615-18446744073709551615\"");
    expect_reply("XADD top * a 1", "-ERR The stream has exhausted the last possible ID, unable to add more items");
    expect_reply("XADD top2 18446744073709551615-* a 1", "\"18446744073709551615-0\"");
    expect_reply("XADD top2 18446744073709551615-* a 1", "\"18446744073709551615-1\"");
    expect_reply("XLEN s", "(integer) 6");
    expect_reply("XLEN nokey", "(integer) 0");
}

static void test_ranges(void **state)
{
    (void)state;
    expect_reply("XADD s 1-1 a 1", "\"1-1\"");
    expect_reply("XADD s 1-2 b 2", "\"1-2\"");
    expect_reply("XADD s 2-0 c 3 d 4", "\"2-0\"");
    expect_reply("XADD s 12-0 e 5", "\"12-0\"");
    expect_reply("XRANGE s - +", "[[\"1-1\", [\"a\", \"1\"]], [\"1-2\", [\"b\", \"2\"]], [\"2-0\", [\"c\", \"3\", \"d\", "
                                 "\"4\"]], [\"12-0\", [\"e\", \"5\"]]]");
    expect_reply("XREVRANGE s + - COUNT 2", "[[\"12-0\", [\"e\", \"5\"]], [\"2-0\", [\"c\", \"3\", \"d\", \"4\"]]]");
    expect_reply("XRANGE s - + COUNT 1", "[[\"1-1\", [\"a\", \"1\"]]]");
    expect_reply("XRANGE s - + COUNT 0", "(nil)");
    expect_reply("XRANGE s (1-1 (12-0", "[[\"1-2\", [\"b\", \"2\"]], [\"2-0\", [\"c\", \"3\", \"d\", \"4\"]]]");
    expect_reply("XRANGE s 1 1", "[[\"1-1\", [\"a\", \"1\"]], [\"1-2\", [\"b\", \"2\"]]]");
    /* an incomplete end ID means its whole ms: excluding 2 leaves 2-0 in */
    expect_reply("XREVRANGE s (2 -", "[[\"2-0\", [\"c\", \"3\", \"d\", \"4\"]], [\"1-2\", [\"b\", \"2\"]], [\"1-1\", "
                                    "[\"a\", \"1\"]]]");
    expect_reply("XREVRANGE s (2-0 -", "[[\"1-2\", [\"b\", \"2\"]], [\"1-1\", [\"a\", \"1\"]]]");
    expect_reply("XREVRANGE s 1 1", "[[\"1-2\", [\"b\", \"2\"]], [\"1-1\", [\"a\", \"1\"]]]");
    expect_reply("XRANGE s 3 11", "[]");
    expect_reply("XRANGE s 12 2", "[]");
    expect_reply("XRANGE nokey - +", "[]");
    expect_reply("XRANGE s (- +", ERR_ID);
    expect_reply("XRANGE s x +", ERR_ID);
    expect_reply("XRANGE s - + foo", "-ERR syntax error");
    expect_reply("XRANGE s - + COUNT x", "-ERR value is not an integer or out of range");
    expect_reply("XRANGE s (18446744073709551615-18446744073709551615 +", "-ERR invalid start ID for the interval");
    expect_reply("XRANGE s - (0-0", "-ERR invalid end ID for the interval");
}

/* 1000 entries in nodes of 100: approximate trims remove whole nodes only
 * (as many as fit), exact ones down to the entry; LIMIT bounds the work. */
static void test_trim(void **state)
{
    (void)state;
    for (int i = 1; i <= 1000; i++) {
        struct rval *v = tcmd(c, "XADD s %d-1 f%d v%d g x", i, i % 3, i);
        rval_free(v);
    }
    expect_reply("XADD s MAXLEN ~ 555 2000-0 a 1", "\"2000-0\"");
    expect_reply("XLEN s", "(integer) 601");
    expect_reply("XRANGE s - + COUNT 1", "[[\"401-1\", [\"f2\", \"v401\", \"g\", \"x\"]]]");
    expect_reply("XTRIM s MAXLEN ~ 300", "(integer) 300");
    /* the first node (701-1..800-1, after the trims above) ends at 800-1:
     * not below 800, so nothing goes */
    expect_reply("XTRIM s MINID ~ 800", "(integer) 0");
    expect_reply("XTRIM s MINID ~ 801", "(integer) 100");
    expect_reply("XTRIM s MINID 850", "(integer) 49");
    expect_reply("XRANGE s - + COUNT 1", "[[\"850-1\", [\"f1\", \"v850\", \"g\", \"x\"]]]");
    expect_reply("XTRIM s MAXLEN ~ 10 LIMIT 50", "(integer) 0");
    expect_reply("XTRIM s MAXLEN = 10", "(integer) 142");
    expect_reply("XLEN s", "(integer) 10");
    expect_reply("XTRIM s MAXLEN 0", "(integer) 10");
    expect_reply("XLEN s", "(integer) 0");
    expect_int(tcmd(c, "EXISTS s"), 1); /* an empty stream stays */
    expect_reply("XTRIM s", "-ERR wrong number of arguments for 'xtrim' command");
    expect_reply("XTRIM s LIMIT 5", "-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
    expect_reply("XTRIM s LIMIT 0", "-ERR syntax error, XTRIM must be called with a trimming strategy");
    expect_reply("XTRIM s FOO 5", "-ERR syntax error");
    expect_reply("XTRIM nokey MAXLEN 1", "(integer) 0");
    /* nodes of 7 entries; big values fill a node by bytes first */
    expect_ok(tcmd(c, "CONFIG SET stream-node-max-entries 7"));
    for (int i = 1; i < 50; i++)
        rval_free(tcmd(c, "XADD d %d-1 a %d", i, i));
    expect_reply("XTRIM d MAXLEN ~ 20", "(integer) 28");
    expect_reply("XDEL d 30-1 31-1 32-1 33-1 34-1 35-1", "(integer) 6");
    expect_reply("XTRIM d MAXLEN ~ 5", "(integer) 8");
    expect_reply("XRANGE d - + COUNT 2", "[[\"43-1\", [\"a\", \"43\"]], [\"44-1\", [\"a\", \"44\"]]]");
    /* the largest node size: ~'s default bound on the work (100 nodes)
     * was 100 times it, an overflow; a negative one is refused */
    expect_ok(tcmd(c, "CONFIG SET stream-node-max-entries 9223372036854775807"));
    expect_reply("XTRIM d MAXLEN ~ 1000", "(integer) 0");
    expect_reply("XADD d MAXLEN ~ 1000 50-1 a 50", "\"50-1\"");
    expect_reply("CONFIG SET stream-node-max-entries -1",
                 "-ERR CONFIG SET failed (possibly related to argument 'stream-node-max-entries') - argument must be "
                 "between 0 and 9223372036854775807 inclusive");
    expect_ok(tcmd(c, "CONFIG SET stream-node-max-entries 100"));
    char big[301];
    memset(big, 'x', 300);
    big[300] = 0;
    for (int i = 1; i < 200; i++)
        rval_free(tcmd(c, "XADD b %d-1 field %s%d", i, big, i));
    expect_reply("XTRIM b MAXLEN ~ 100", "(integer) 97");
    expect_reply("XLEN b", "(integer) 102");
}

/* Which check answers first when several would fail: Redis 7.0's order
 * (the differential run, tests/interop/differential_more.py, found these).
 * XTRIM and XGROUP SETID read their options before the key; XDEL looks at
 * the key before its IDs. */
static void test_check_order(void **state)
{
    (void)state;
    const char *wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    expect_ok(tcmd(c, "SET str x"));
    expect_reply("XDEL missing bad-id", "(integer) 0");
    expect_reply("XDEL str bad-id", wrongtype);
    expect_reply("XTRIM missing MAXLEN x", "-ERR value is not an integer or out of range");
    expect_reply("XTRIM str MAXLEN x", "-ERR value is not an integer or out of range");
    expect_reply("XTRIM str MINID ~ x", ERR_ID);
    expect_reply("XTRIM missing MAXLEN 2 LIMIT 0",
                 "-ERR syntax error, LIMIT cannot be used without the special ~ option");
    expect_reply("XTRIM str MINID 0 LIMIT -1", "-ERR The LIMIT argument must be >= 0.");
    expect_reply("XGROUP SETID missing g 0 ENTRIESREAD x", "-ERR value is not an integer or out of range");
    expect_reply("XGROUP SETID str g 0 ENTRIESREAD x", "-ERR value is not an integer or out of range");
    /* SETID's ID is no range bound: "(" is refused, "-" and "+" are IDs */
    expect_reply("XADD s 5-0 f v", "\"5-0\"");
    expect_reply("XGROUP CREATE s g 0", "+OK");
    expect_reply("XGROUP SETID s g (3", ERR_ID);
    expect_reply("XGROUP SETID s g -", "+OK");
    expect_reply("XGROUP SETID s g +", "+OK");
    expect_reply("XINFO GROUPS s", "[[\"name\", \"g\", \"consumers\", (integer) 0, \"pending\", (integer) 0, "
                                   "\"last-delivered-id\", \"18446744073709551615-18446744073709551615\", "
                                   "\"entries-read\", (nil), \"lag\", (nil)]]");
}

/* XREADGROUP naming one key twice: each > read sees the group as the
 * reads before it in the command left it, and the reply counts the
 * streams answered (ringkv answered an array of two with one element,
 * and the client waited for the second). */
static void test_xreadgroup_key_twice(void **state)
{
    (void)state;
    expect_reply("XADD s 1-0 f a", "\"1-0\"");
    expect_reply("XADD s 2-0 f b", "\"2-0\"");
    expect_reply("XGROUP CREATE s g 0", "+OK");
    expect_reply("XREADGROUP GROUP g c STREAMS s s > >", "[[\"s\", [[\"1-0\", [\"f\", \"a\"]], "
                                                       "[\"2-0\", [\"f\", \"b\"]]]]]");
    expect_reply("XADD s 3-0 f c", "\"3-0\"");
    expect_reply("XADD s 4-0 f d", "\"4-0\"");
    expect_reply("XREADGROUP GROUP g c COUNT 1 STREAMS s s > >", "[[\"s\", [[\"3-0\", [\"f\", \"c\"]]]], "
                                                               "[\"s\", [[\"4-0\", [\"f\", \"d\"]]]]]");
    expect_reply("XADD s 5-0 f e", "\"5-0\"");
    expect_reply("XREADGROUP GROUP g c COUNT 1 STREAMS s s 4 >", "[[\"s\", []], [\"s\", [[\"5-0\", [\"f\", "
                                                               "\"e\"]]]]]");
    expect_reply("XREADGROUP GROUP g c STREAMS s s > >", "(nil)");
    expect_reply("PING", "+PONG");
}

static void test_xdel_xsetid(void **state)
{
    (void)state;
    expect_reply("XADD s 1-1 a 1", "\"1-1\"");
    expect_reply("XADD s 2-1 a 2", "\"2-1\"");
    expect_reply("XADD s 3-1 a 3", "\"3-1\"");
    expect_reply("XDEL s 2-1 2-1 9-9", "(integer) 1");
    expect_reply("XDEL s bad 1-1", ERR_ID);
    expect_reply("XLEN s", "(integer) 2");
    expect_reply("XDEL nokey 1-1", "(integer) 0");
    expect_reply("XDEL s 3-1", "(integer) 1");
    /* the last ID stays when its entry goes */
    expect_reply("XADD s 3-* a 4", "\"3-2\"");
    expect_reply("XSETID s 1-0", "-ERR The ID specified in XSETID is smaller than the target stream top item");
    expect_reply("XSETID s 3-1", "-ERR The ID specified in XSETID is smaller than the target stream top item");
    /* empty, with a deleted ID: that bounds the new last ID */
    expect_reply("XADD t 5-5 a 1", "\"5-5\"");
    expect_reply("XDEL t 5-5", "(integer) 1");
    expect_reply("XSETID t 5-4", "+OK"); /* Redis 7.0 does not hold it to the max deleted ID */
    expect_reply("XSETID s 100-0 ENTRIESADDED 1", "-ERR The entries_added specified in XSETID is smaller than the "
                                                   "target stream length");
    expect_reply("XSETID s 100-0 ENTRIESADDED -1", "-ERR entries_added must be positive");
    expect_reply("XSETID s 100-0 MAXDELETEDID 200-0",
                 "-ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
    expect_reply("XSETID s 100-0 FOO 1", "-ERR syntax error");
    expect_reply("XSETID nokey 1-1", "-ERR no such key");
    expect_reply("XSETID s 300-0 MAXDELETEDID 200-0 ENTRIESADDED 50", "+OK");
    expect_reply("XADD s 299-0 a 1", "-ERR The ID specified in XADD is equal or smaller than the target stream top item");
    expect_reply("XADD s 300-* a 1", "\"300-1\"");
    expect_reply("XSETID s 250-0", "-ERR The ID specified in XSETID is smaller than the target stream top item");
}

static void test_key_commands(void **state)
{
    (void)state;
    expect_reply("XADD {k}s 1-1 a 1", "\"1-1\"");
    expect_status(tcmd(c, "TYPE {k}s"), "stream");
    expect_bulk(tcmd(c, "OBJECT ENCODING {k}s"), "stream");
    expect_ok(tcmd(c, "SET {k}str v"));
    expect_int(tcmd(c, "LPUSH {k}l x"), 1);
    expect_reply("XADD {k}str * a 1", "-WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_reply("XRANGE {k}l - +", "-WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_reply("XLEN {k}str", "-WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_reply("LPUSH {k}s x", "-WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_reply("GET {k}s", "-WRONGTYPE Operation against a key holding the wrong kind of value");
    /* SCAN TYPE finds streams on either shard */
    expect_reply("XADD other 1-1 a 1", "\"1-1\"");
    int found = 0;
    char cursor[32] = "0";
    do {
        struct rval *v = tcmd(c, "SCAN %s TYPE stream COUNT 100", cursor);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        found += (int)v->elem[1]->n;
        rval_free(v);
    } while (strcmp(cursor, "0") != 0);
    assert_int_equal(found, 2);
    expect_int(tcmd(c, "COPY {k}s {k}c"), 1);
    expect_reply("XADD {k}c 2-1 b 2", "\"2-1\"");
    expect_reply("XLEN {k}s", "(integer) 1");
    expect_reply("XRANGE {k}c - +", "[[\"1-1\", [\"a\", \"1\"]], [\"2-1\", [\"b\", \"2\"]]]");
    expect_ok(tcmd(c, "RENAME {k}c {k}r"));
    expect_reply("XLEN {k}r", "(integer) 2");
    expect_int(tcmd(c, "EXPIRE {k}r 100"), 1);
    assert_true(get_int(tcmd(c, "TTL {k}r")) > 0);
    expect_int(tcmd(c, "DEL {k}r"), 1);
    expect_int(tcmd(c, "UNLINK {k}s"), 1);
    expect_int(tcmd(c, "EXISTS {k}s"), 0);
    /* an emptied stream is still a stream */
    expect_reply("XADD e 1-1 a 1", "\"1-1\"");
    expect_reply("XDEL e 1-1", "(integer) 1");
    expect_status(tcmd(c, "TYPE e"), "stream");
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_int(tcmd(c, "EXISTS e"), 0);
    /* MEMORY USAGE grows with the entries */
    expect_reply("XADD m 1-1 a 1", "\"1-1\"");
    long long small = get_int(tcmd(c, "MEMORY USAGE m"));
    for (int i = 2; i < 500; i++)
        rval_free(tcmd(c, "XADD m %d-1 field-%d value-%d", i, i, i));
    assert_true(get_int(tcmd(c, "MEMORY USAGE m")) > small + 500 * 20);
}

/* redis-server 7.0.15's DUMP of a stream of 8 entries (2-0 deleted), the
 * second node's fields not the master's, its listpack LZF-compressed. */
static const char redis_payload[] =
    "\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\xc3\x40\x85\x40\x96\x19\x96"
    "\x00\x00\x00\x37\x00\x07\x01\x01\x01\x02\x01\x84\x6e\x61\x6d\x65\x05\x85\x63\x6f\x75\x6e\x74\x06\x00\x20"
    "\x10\x00\x00\x20\x01\x08\x82\x6e\x31\x03\x0a\x01\x05\x01\x03\x20\x22\x40\x0d\x02\x32\x03\x14\x20\x0d\x00"
    "\x02\x20\x01\x40\x0d\x02\x33\x03\x1e\x60\x0d\x00\x03\x60\x0d\x02\x34\x03\x28\x60\x0d\x00\x04\x60\x0d\x02"
    "\x35\x03\x32\x60\x0d\x00\x05\x60\x0d\x02\x36\x03\x3c\x20\x09\x02\x02\x01\x06\x60\x0d\x02\x37\x03\x46\x20"
    "\x0d\x02\x00\x01\x07\x20\x03\x12\x01\x01\x85\x6f\x74\x68\x65\x72\x06\x85\x76\x61\x6c\x75\x65\x06\x06\x01"
    "\xff\x07\x08\x00\x01\x00\x02\x00\x08\x00\x0a\x00\x7d\x2a\x66\x23\x6f\xef\xcb\xc3";

#define FIXTURE_RANGE                                                                                         \
    "[[\"1-0\", [\"name\", \"n1\", \"count\", \"10\"]], [\"3-0\", [\"name\", \"n3\", \"count\", \"30\"]], "   \
    "[\"4-0\", [\"name\", \"n4\", \"count\", \"40\"]], [\"5-0\", [\"name\", \"n5\", \"count\", \"50\"]], "    \
    "[\"6-0\", [\"name\", \"n6\", \"count\", \"60\"]], [\"7-0\", [\"name\", \"n7\", \"count\", \"70\"]], "    \
    "[\"8-0\", [\"other\", \"value\"]]]"

static void restore_payload(tconn *t, const char *key, const char *p, size_t n)
{
    const char *argv[] = { "RESTORE", key, "0", p };
    size_t lens[] = { 7, strlen(key), 1, n };
    tsendb(t, 4, argv, lens);
    expect_ok(tread(t, 5000));
}

static struct rval *dump_of(tconn *t, const char *key)
{
    struct rval *v = tcmd(t, "DUMP %s", key);
    assert_int_equal(v->type, R_BULK);
    return v;
}

/* A redis-server of its own (the reference), or 0 when none is installed. */
static pid_t reference_start(int *port)
{
    if (system("redis-server --version >/dev/null 2>&1") != 0)
        return 0;
    *port = free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", *port);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", "--logfile", "/dev/null", (char *)NULL);
        _exit(127);
    }
    for (long long until = now_ms() + 10000; now_ms() < until; usleep(20000)) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "redis-cli -p %d ping >/dev/null 2>&1", *port);
        if (system(cmd) == 0)
            return pid;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}

static void test_dump_restore(void **state)
{
    (void)state;
    restore_payload(c, "fx", redis_payload, sizeof redis_payload - 1);
    expect_reply("XRANGE fx - +", FIXTURE_RANGE);
    expect_reply("XLEN fx", "(integer) 7");
    /* the last ID, entries added and max deleted ID came along */
    expect_reply("XSETID fx 8-0 MAXDELETEDID 1-0", "+OK");
    expect_reply("XSETID fx 1-5", "-ERR The ID specified in XSETID is smaller than the target stream top item");
    expect_reply("XADD fx 8-* a 1", "\"8-1\"");
    /* a changed byte: the checksum says so */
    char bad[sizeof redis_payload];
    memcpy(bad, redis_payload, sizeof bad);
    bad[40] ^= 1;
    const char *argv[] = { "RESTORE", "bad", "0", bad };
    size_t lens[] = { 7, 3, 1, sizeof bad - 1 };
    tsendb(c, 4, argv, lens);
    expect_error(tread(c, 5000), "ERR DUMP payload version or checksum are wrong");
    /* our DUMP back: the same stream, IDs and all; an empty one too */
    for (int i = 1; i < 300; i++)
        rval_free(tcmd(c, "XADD big %d-%d f %d other x", i, i, i));
    expect_reply("XDEL big 5-5 150-150 299-299", "(integer) 3");
    expect_reply("XADD e 5-5 a 1", "\"5-5\"");
    expect_reply("XDEL e 5-5", "(integer) 1");
    const char *keys[] = { "fx", "big", "e" };
    int ref_port = 0;
    pid_t ref = target_is_redis() ? 0 : reference_start(&ref_port);
    tconn *r = ref ? tconnect(ref_port) : NULL;
    for (int k = 0; k < 3; k++) {
        struct rval *d = dump_of(c, keys[k]);
        char copy[16];
        snprintf(copy, sizeof copy, "%s2", keys[k]);
        restore_payload(c, copy, d->str, d->len);
        if (r)
            restore_payload(r, copy, d->str, d->len); /* ours in Redis */
        rval_free(d);
        struct rval *a = tcmd(c, "XRANGE %s - +", keys[k]), *b = tcmd(c, "XRANGE %s - +", copy);
        char *ta = rval_text(a), *tb = rval_text(b);
        assert_string_equal(ta, tb);
        if (r) {
            struct rval *rr = tcmd(r, "XRANGE %s - +", copy);
            char *tr = rval_text(rr);
            assert_string_equal(ta, tr);
            free(tr);
            rval_free(rr);
            /* Redis kept the last ID: the next ms-* ID is the same in both */
            struct rval *x = tcmd(c, "XADD %s 18446744073709551615-* z 1", copy);
            struct rval *y = tcmd(r, "XADD %s 18446744073709551615-* z 1", copy);
            assert_string_equal(x->str, y->str);
            rval_free(x);
            rval_free(y);
        }
        free(ta);
        free(tb);
        rval_free(a);
        rval_free(b);
    }
    expect_reply("XADD e2 5-5 a 1", "-ERR The ID specified in XADD is equal or smaller than the target stream top item");
    if (r) {
        tclose(r);
        kill(ref, SIGTERM);
        waitpid(ref, NULL, 0);
    }
}

static void test_xread(void **state)
{
    (void)state;
    /* a and b hash to different slots: with two shards, on both (or one) */
    expect_reply("XADD a 1-1 f 1", "\"1-1\"");
    expect_reply("XADD a 2-1 f 2", "\"2-1\"");
    expect_reply("XADD b 3-1 g 3", "\"3-1\"");
    expect_reply("XREAD STREAMS a b 0 0", "[[\"a\", [[\"1-1\", [\"f\", \"1\"]], [\"2-1\", [\"f\", \"2\"]]]], "
                                          "[\"b\", [[\"3-1\", [\"g\", \"3\"]]]]]");
    expect_reply("XREAD COUNT 1 STREAMS a b 0 0", "[[\"a\", [[\"1-1\", [\"f\", \"1\"]]]], [\"b\", [[\"3-1\", [\"g\", "
                                                  "\"3\"]]]]]");
    expect_reply("XREAD STREAMS a b 1-1 3-1", "[[\"a\", [[\"2-1\", [\"f\", \"2\"]]]]]");
    expect_reply("XREAD STREAMS a b $ $", "(nil)");
    expect_reply("XREAD STREAMS a nokey 0 0", "[[\"a\", [[\"1-1\", [\"f\", \"1\"]], [\"2-1\", [\"f\", \"2\"]]]]]");
    expect_reply("XREAD STREAMS a b 0", "-ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must "
                                        "be specified.");
    expect_reply("XREAD BLOCK x STREAMS a 0", "-ERR timeout is not an integer or out of range");
    expect_reply("XREAD BLOCK -1 STREAMS a 0", "-ERR timeout is negative");
    expect_reply("XREAD STREAMS a >", "-ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                                      "<group> <consumer> option.");
    expect_reply("XREAD STREAMS a xx", ERR_ID);
    expect_reply("XREAD GROUP g c STREAMS a 0", "-ERR The GROUP option is only supported by XREADGROUP. You called "
                                                "XREAD instead.");
    expect_reply("XREAD COUNT 1", "-ERR wrong number of arguments for 'xread' command");
    expect_reply("XREAD COUNT 1 BLOCK 0", "-ERR syntax error");
    expect_ok(tcmd(c, "SET str x"));
    expect_reply("XREAD STREAMS str 0", "-WRONGTYPE Operation against a key holding the wrong kind of value");
    /* BLOCK with entries there: at once */
    expect_reply("XREAD BLOCK 0 STREAMS b 0", "[[\"b\", [[\"3-1\", [\"g\", \"3\"]]]]]");
    expect_reply("COMMAND GETKEYS XREAD COUNT 1 BLOCK 0 STREAMS a b 0 0", "[\"a\", \"b\"]");
}

static void test_xread_block(void **state)
{
    (void)state;
    expect_reply("XADD s 1-1 f 1", "\"1-1\"");
    /* $: only what comes after the client blocked */
    tconn *w = tconnect(srv.port);
    send_words(w, "XREAD BLOCK 0 STREAMS s $");
    expect_blocked(w);
    expect_reply("XADD s 2-1 f 2", "\"2-1\"");
    expect_text(tread(w, 2000), "[[\"s\", [[\"2-1\", [\"f\", \"2\"]]]]]");
    /* a timeout answers nil */
    expect_text(tcmd(w, "XREAD BLOCK 100 STREAMS s $"), "(nil)");
    /* two clients, two IDs: an entry past one of them serves that one only */
    tconn *w2 = tconnect(srv.port);
    send_words(w, "XREAD BLOCK 0 STREAMS s 5-0");
    expect_blocked(w);
    send_words(w2, "XREAD BLOCK 0 STREAMS s $");
    expect_blocked_n(w2, 2);
    expect_reply("XADD s 3-1 f 3", "\"3-1\"");
    expect_text(tread(w2, 2000), "[[\"s\", [[\"3-1\", [\"f\", \"3\"]]]]]");
    expect_blocked(w);
    expect_reply("XADD s 6-1 f 6", "\"6-1\"");
    expect_text(tread(w, 2000), "[[\"s\", [[\"6-1\", [\"f\", \"6\"]]]]]");
    /* keys on both shards (a, b): an XADD to either serves */
    for (int round = 0; round < 2; round++) {
        send_words(w, "XREAD BLOCK 0 STREAMS a b $ $");
        expect_blocked(w);
        expect_reply(round ? "XADD b 1-1 g 1" : "XADD a 1-1 f 1", "\"1-1\"");
        expect_text(tread(w, 2000), round ? "[[\"b\", [[\"1-1\", [\"g\", \"1\"]]]]]"
                                          : "[[\"a\", [[\"1-1\", [\"f\", \"1\"]]]]]");
    }
    /* CLIENT UNBLOCK: as a timeout, or the error */
    long long id = get_int(tcmd(w, "CLIENT ID"));
    send_words(w, "XREAD BLOCK 0 STREAMS a b $ $");
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld", id), 1);
    expect_nil(tread(w, 2000));
    send_words(w, "XREAD BLOCK 0 STREAMS s $");
    expect_blocked(w);
    expect_int(tcmd(c, "CLIENT UNBLOCK %lld ERROR", id), 1);
    expect_error(tread(w, 2000), "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    /* inside MULTI it never blocks */
    expect_ok(tcmd(w, "MULTI"));
    expect_status(tcmd(w, "XREAD BLOCK 0 STREAMS s $"), "QUEUED");
    expect_text(tcmd(w, "EXEC"), "[(nil)]");
    /* the connection's later commands wait for the blocked one */
    send_words(w, "XREAD BLOCK 0 STREAMS s $");
    send_words(w, "PING");
    expect_blocked(w);
    expect_reply("XADD s 7-1 f 7", "\"7-1\"");
    expect_text(tread(w, 2000), "[[\"s\", [[\"7-1\", [\"f\", \"7\"]]]]]");
    expect_status(tread(w, 2000), "PONG");
    tclose(w);
    tclose(w2);
}


/* XPENDING's extended form without the idle times: "id consumer count;" */
static char *pending_text(tconn *t, const char *key, const char *group)
{
    struct rval *v = tcmd(t, "XPENDING %s %s - + 1000", key, group);
    char *out = calloc(1, 16384);
    assert_non_null(out);
    if (v->type != R_ARRAY) {
        char *e = rval_text(v);
        snprintf(out, 16384, "%s", e);
        free(e);
    }
    for (size_t i = 0; v->type == R_ARRAY && i < v->n; i++) {
        struct rval *p = v->elem[i];
        size_t len = strlen(out);
        snprintf(out + len, 16384 - len, "%s %s %lld;", p->elem[0]->str, p->elem[1]->str, p->elem[3]->integer);
    }
    rval_free(v);
    return out;
}

#define expect_pending(key, group, text) expect_pending_at(__LINE__, c, key, group, text)
static void expect_pending_at(int line, tconn *t, const char *key, const char *group, const char *text)
{
    char *got = pending_text(t, key, group);
    if (strcmp(got, text) != 0)
        fail_msg("line %d: XPENDING %s %s:\n  got:  %s\n  want: %s", line, key, group, got, text);
    free(got);
}

static void test_groups(void **state)
{
    (void)state;
    expect_reply("XGROUP CREATE s g 0", "-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE "
                                         "you may want to use the MKSTREAM option to create an empty stream "
                                         "automatically.");
    expect_reply("XGROUP CREATE s g 0 MKSTREAM", "+OK");
    expect_reply("XGROUP CREATE s g 0 MKSTREAM", "-BUSYGROUP Consumer Group name already exists");
    expect_reply("XGROUP CREATE s g3 $ ENTRIESREAD -2", "-ERR value for ENTRIESREAD must be positive or -1");
    expect_reply("XGROUP CREATE s g3 bad", ERR_ID);
    expect_reply("XGROUP SETID s nog 0", "-NOGROUP No such consumer group 'nog' for key name 's'");
    expect_reply("XGROUP SETID s g 0 ENTRIESREAD x", "-ERR value is not an integer or out of range");
    expect_reply("XGROUP CREATECONSUMER s g c1", "(integer) 1");
    expect_reply("XGROUP CREATECONSUMER s g c1", "(integer) 0");
    expect_reply("XGROUP DELCONSUMER s g nobody", "(integer) 0");
    expect_reply("XGROUP DESTROY s nog", "(integer) 0");
    expect_reply("XADD s 1-1 a 1", "\"1-1\"");
    expect_reply("XADD s 2-1 a 2", "\"2-1\"");
    expect_reply("XADD s 3-1 a 3", "\"3-1\"");
    expect_reply("XREADGROUP GROUP g c1 COUNT 1 STREAMS s >", "[[\"s\", [[\"1-1\", [\"a\", \"1\"]]]]]");
    expect_reply("XREADGROUP GROUP g c2 STREAMS s >", "[[\"s\", [[\"2-1\", [\"a\", \"2\"]], [\"3-1\", [\"a\", "
                                                      "\"3\"]]]]]");
    expect_reply("XREADGROUP GROUP g c2 STREAMS s >", "(nil)");
    /* history: the consumer's own pending entries, delivered once more */
    expect_reply("XREADGROUP GROUP g c2 STREAMS s 0", "[[\"s\", [[\"2-1\", [\"a\", \"2\"]], [\"3-1\", [\"a\", "
                                                      "\"3\"]]]]]");
    expect_reply("XREADGROUP GROUP g c2 STREAMS s 3-1", "[[\"s\", []]]");
    expect_reply("XREADGROUP GROUP nog c1 STREAMS s >",
                 "-NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option");
    expect_reply("XREADGROUP COUNT 1 NOACK STREAMS s >", "-ERR Missing GROUP option for XREADGROUP");
    expect_reply("XREADGROUP GROUP g c1 STREAMS s t >", "-ERR Unbalanced XREAD list of streams: for each "
                                                        "stream key an ID or '$' must be specified.");
    expect_reply("XREAD NOACK STREAMS s 0", "-ERR The NOACK option is only supported by XREADGROUP. You called "
                                            "XREAD instead.");
    expect_reply("XREADGROUP GROUP g c1 FOO STREAMS s >", "-ERR syntax error");
    expect_pending("s", "g", "1-1 c1 1;2-1 c2 2;3-1 c2 2;");
    expect_reply("XPENDING s g", "[(integer) 3, \"1-1\", \"3-1\", [[\"c1\", \"1\"], [\"c2\", \"2\"]]]");
    expect_reply("XPENDING s nog", "-NOGROUP No such key 's' or consumer group 'nog'");
    expect_reply("XPENDING s g - + 10 nobody", "[]");
    expect_reply("XPENDING s g - +", "-ERR syntax error");
    expect_reply("XINFO GROUPS s", "[[\"name\", \"g\", \"consumers\", (integer) 2, \"pending\", (integer) 3, "
                                   "\"last-delivered-id\", \"3-1\", \"entries-read\", (integer) 3, \"lag\", (integer) 0]]");
    expect_reply("XACK s g 1-1 9-9", "(integer) 1");
    expect_reply("XACK s g bad", ERR_ID);
    expect_reply("XACK s nog 1-1", "(integer) 0");
    /* XCLAIM: ownership moves; RETRYCOUNT sets the count, JUSTID leaves it */
    expect_reply("XCLAIM s g c3 0 2-1 JUSTID", "[\"2-1\"]");
    expect_reply("XCLAIM s g c3 0 2-1 3-1 RETRYCOUNT 7", "[[\"2-1\", [\"a\", \"2\"]], [\"3-1\", [\"a\", \"3\"]]]");
    expect_pending("s", "g", "2-1 c3 7;3-1 c3 7;");
    expect_reply("XCLAIM s g c3 3600000 2-1", "[]"); /* not idle long enough */
    expect_reply("XCLAIM s nog c3 0 2-1", "-NOGROUP No such key 's' or consumer group 'nog'");
    expect_reply("XCLAIM s g c3 x 2-1", "-ERR Invalid min-idle-time argument for XCLAIM");
    expect_reply("XCLAIM s g c3 0 2-1 FOO", "-ERR Unrecognized XCLAIM option 'FOO'");
    expect_reply("XCLAIM s g c4 0 1-1 FORCE JUSTID", "[\"1-1\"]");
    expect_pending("s", "g", "1-1 c4 1;2-1 c3 7;3-1 c3 7;");
    /* a deleted entry: XAUTOCLAIM drops it and says so */
    expect_reply("XDEL s 2-1", "(integer) 1");
    expect_reply("XAUTOCLAIM s g c5 0 0 COUNT 1 JUSTID", "[\"2-1\", [\"1-1\"], []]");
    expect_reply("XAUTOCLAIM s g c5 0 0", "[\"0-0\", [[\"1-1\", [\"a\", \"1\"]], [\"3-1\", [\"a\", \"3\"]]], "
                                          "[\"2-1\"]]");
    expect_reply("XAUTOCLAIM s g c5 0 0 COUNT 0", "-ERR COUNT must be > 0");
    /* the arguments are checked before the key and the group, as Redis 7.0
     * does: an unknown group with a bad COUNT is a COUNT error */
    expect_reply("XAUTOCLAIM s nog c5 0 0 COUNT 922337203685477581", "-ERR COUNT must be > 0");
    expect_reply("XAUTOCLAIM nokey g c5 x 0", "-ERR Invalid min-idle-time argument for XAUTOCLAIM");
    expect_reply("XAUTOCLAIM nokey g c5 0 0 FOO", "-ERR syntax error");
    expect_reply("XAUTOCLAIM s nog c5 0 0 COUNT 576460752303423487",
                 "-NOGROUP No such key 's' or consumer group 'nog'");
    expect_pending("s", "g", "1-1 c5 2;3-1 c5 8;");
    expect_reply("XGROUP DELCONSUMER s g c5", "(integer) 2");
    expect_reply("XPENDING s g", "[(integer) 0, (nil), (nil), (nil)]");
    /* NOACK: delivered, nothing pending; the group's counters */
    expect_reply("XGROUP SETID s g 0", "+OK");
    expect_reply("XREADGROUP GROUP g c9 NOACK STREAMS s >", "[[\"s\", [[\"1-1\", [\"a\", \"1\"]], [\"3-1\", [\"a\", "
                                                            "\"3\"]]]]]");
    expect_reply("XPENDING s g", "[(integer) 0, (nil), (nil), (nil)]");
    expect_reply("XINFO GROUPS s", "[[\"name\", \"g\", \"consumers\", (integer) 5, \"pending\", (integer) 0, "
                                   "\"last-delivered-id\", \"3-1\", \"entries-read\", (integer) 3, \"lag\", (integer) 0]]");
    expect_reply("XADD s 4-1 b 1", "\"4-1\"");
    expect_reply("XGROUP CREATE s g5 0", "+OK");
    expect_reply("XREADGROUP GROUP g5 c COUNT 1 STREAMS s >", "[[\"s\", [[\"1-1\", [\"a\", \"1\"]]]]]");
    expect_reply("XINFO GROUPS s", "[[\"name\", \"g\", \"consumers\", (integer) 5, \"pending\", (integer) 0, "
                                   "\"last-delivered-id\", \"3-1\", \"entries-read\", (integer) 3, \"lag\", (integer) 1], "
                                   "[\"name\", \"g5\", \"consumers\", (integer) 1, \"pending\", (integer) 1, "
                                   "\"last-delivered-id\", \"1-1\", \"entries-read\", (nil), \"lag\", (nil)]]");
    expect_reply("XINFO STREAM nokey", "-ERR no such key");
    expect_reply("XINFO CONSUMERS s nog", "-NOGROUP No such consumer group 'nog' for key name 's'");
    struct rval *v = tcmd(c, "XINFO CONSUMERS s g");
    assert_int_equal(v->n, 5);
    assert_string_equal(v->elem[0]->elem[1]->str, "c1");
    rval_free(v);
    expect_reply("XGROUP DESTROY s g", "(integer) 1");
    v = tcmd(c, "XINFO STREAM s");
    char *t = rval_text(v);
    assert_non_null(strstr(t, "\"length\", (integer) 3, "));
    assert_non_null(strstr(t, "\"last-generated-id\", \"4-1\", \"max-deleted-entry-id\", \"2-1\", \"entries-added\", "
                              "(integer) 4, \"recorded-first-entry-id\", \"1-1\", \"groups\", (integer) 1, "
                              "\"first-entry\", [\"1-1\", [\"a\", \"1\"]], \"last-entry\", [\"4-1\", [\"b\", \"1\"]]"));
    free(t);
    rval_free(v);
    /* XACK of one of many pending entries */
    expect_reply("XGROUP CREATE big g 0 MKSTREAM", "+OK");
    for (int i = 1; i <= 2000; i++)
        rval_free(tcmd(c, "XADD big %d-1 f %d", i, i));
    v = tcmd(c, "XREADGROUP GROUP g c STREAMS big >");
    assert_int_equal(v->elem[0]->elem[1]->n, 2000);
    rval_free(v);
    expect_reply("XACK big g 1000-1 1000-1 2000-1", "(integer) 2");
    expect_reply("XPENDING big g", "[(integer) 1998, \"1-1\", \"1999-1\", [[\"c\", \"1998\"]]]");
    v = tcmd(c, "XPENDING big g 999-1 (1002-1 10");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->elem[0]->str, "999-1");
    assert_string_equal(v->elem[1]->elem[0]->str, "1001-1");
    rval_free(v);
}

/* The idle time XPENDING reports for the one pending entry of s's group g. */
static long long pending_idle(void)
{
    struct rval *v = tcmd(c, "XPENDING s g - + 1");
    assert_int_equal(v->n, 1);
    long long idle = v->elem[0]->elem[2]->integer;
    rval_free(v);
    return idle;
}

/* XCLAIM's IDLE and TIME at int64's ends: a delivery time to come or
 * before 1970 is taken as now (IDLE -2^63 made now - idle overflow). */
static void test_xclaim_time_edges(void **state)
{
    (void)state;
    expect_reply("XADD s 1-1 a 1", "\"1-1\"");
    expect_reply("XGROUP CREATE s g 0", "+OK");
    expect_reply("XREADGROUP GROUP g c1 STREAMS s >", "[[\"s\", [[\"1-1\", [\"a\", \"1\"]]]]]");
    static const char *const opts[] = { "IDLE -9223372036854775808", "IDLE 9223372036854775807",
                                        "TIME -9223372036854775808", "TIME 9223372036854775807", "IDLE -1" };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        /* an hour idle first, so that "now" is told apart from it */
        expect_reply("XCLAIM s g c1 0 1-1 IDLE 3600000 JUSTID", "[\"1-1\"]");
        assert_true(pending_idle() >= 3600000);
        char line[128];
        snprintf(line, sizeof line, "XCLAIM s g c2 0 1-1 %s JUSTID", opts[i]);
        expect_reply(line, "[\"1-1\"]");
        long long idle = pending_idle();
        if (idle < 0 || idle >= 600000)
            fail_msg("%s: idle %lld, not about 0", opts[i], idle);
    }
    expect_reply("XCLAIM s g c2 0 1-1 IDLE 9223372036854775808", "-ERR Invalid IDLE option argument for XCLAIM");
}

/* A group's entries read at int64's top, one more read: the counter wraps
 * as Redis's does, and so does the lag (both overflowed). */
static void test_entries_read_edges(void **state)
{
    (void)state;
    expect_reply("XADD s 1-1 a 1", "\"1-1\"");
    expect_reply("XGROUP CREATE s g 0 ENTRIESREAD 9223372036854775807", "+OK");
    expect_reply("XREADGROUP GROUP g c STREAMS s >", "[[\"s\", [[\"1-1\", [\"a\", \"1\"]]]]]");
    expect_reply("XINFO GROUPS s", "[[\"name\", \"g\", \"consumers\", (integer) 1, \"pending\", (integer) 1, "
                                   "\"last-delivered-id\", \"1-1\", \"entries-read\", (integer) -9223372036854775808, "
                                   "\"lag\", (integer) -9223372036854775807]]");
}

/* payload (n bytes, its footer included): the 8 bytes after the first
 * occurrence of what[0..wn) set to v (little-endian), the CRC made right */
static void patch_payload(char *payload, size_t n, const char *what, size_t wn, uint64_t v)
{
    char *at = memmem(payload, n - 10, what, wn);
    assert_non_null(at);
    assert_true(at + wn + 8 <= payload + n - 8);
    for (int i = 0; i < 8; i++)
        at[wn + i] = (char)(v >> (8 * i));
    uint64_t crc = crc64(0, payload, n - 8);
    for (int i = 0; i < 8; i++)
        payload[n - 8 + i] = (char)(crc >> (8 * i));
}

/* A stream restored with delivery and seen times at int64's ends (a
 * payload may hold any): the idle times are Redis's wrapped differences,
 * never below 0, and the commands comparing them (XPENDING IDLE, XCLAIM's
 * and XAUTOCLAIM's min-idle-time) agree with redis-server's. */
static void test_restored_times(void **state)
{
    (void)state;
    /* -2^63, whose difference with now overflows (it wraps below 0), and
     * 2^63 - 1, a time to come */
    static const uint64_t times[] = { UINT64_C(0x8000000000000000), UINT64_C(0x7fffffffffffffff) };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        expect_reply("DEL s t", "(integer) 0");
        expect_reply("XADD s 1-1 a 1", "\"1-1\"");
        expect_reply("XADD s 2-1 b 2", "\"2-1\"");
        expect_reply("XGROUP CREATE s g 1-1", "+OK");
        expect_reply("XREADGROUP GROUP g consumer7 STREAMS s >", "[[\"s\", [[\"2-1\", [\"b\", \"2\"]]]]]");
        struct rval *d = dump_of(c, "s");
        /* the group's PEL holds 2-1 (16 bytes, big-endian) and its delivery
         * time; the consumer, its name and its seen time */
        static const char id21[16] = { 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1 };
        patch_payload(d->str, d->len, id21, sizeof id21, times[i]);
        patch_payload(d->str, d->len, "\tconsumer7", 10, times[i]);
        restore_payload(c, "t", d->str, d->len);
        rval_free(d);
        expect_reply("XPENDING t g - + 10", "[[\"2-1\", \"consumer7\", (integer) 0, (integer) 1]]");
        expect_reply("XPENDING t g IDLE 1 - + 10", "[]");
        expect_reply("XCLAIM t g c2 1 2-1 JUSTID", "[]");
        expect_reply("XAUTOCLAIM t g c2 1 0 JUSTID", "[\"0-0\", [], []]");
        expect_reply("XINFO CONSUMERS t g", "[[\"name\", \"consumer7\", \"pending\", (integer) 1, \"idle\", "
                                            "(integer) 0]]");
        expect_reply("DEL s t", "(integer) 2");
    }
}

static void test_xreadgroup_block(void **state)
{
    (void)state;
    expect_reply("XGROUP CREATE s g $ MKSTREAM", "+OK");
    expect_reply("XGROUP CREATE t g $ MKSTREAM", "+OK");
    tconn *w = tconnect(srv.port), *w2 = tconnect(srv.port);
    send_words(w, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >");
    expect_blocked(w); /* blocked before bob: the first served */
    send_words(w2, "XREADGROUP GROUP g bob BLOCK 0 STREAMS s >");
    expect_blocked_n(w2, 2);
    /* one entry: the first client to block gets it, pending for it */
    expect_reply("XADD s 1-1 f 1", "\"1-1\"");
    expect_text(tread(w, 2000), "[[\"s\", [[\"1-1\", [\"f\", \"1\"]]]]]");
    expect_blocked(w2);
    expect_reply("XADD s 2-1 f 2", "\"2-1\"");
    expect_text(tread(w2, 2000), "[[\"s\", [[\"2-1\", [\"f\", \"2\"]]]]]");
    expect_pending("s", "g", "1-1 alice 1;2-1 bob 1;");
    /* keys on both shards */
    send_words(w, "XREADGROUP GROUP g alice COUNT 5 BLOCK 0 STREAMS s t > >");
    expect_blocked(w);
    expect_reply("XADD t 1-1 g 1", "\"1-1\"");
    expect_text(tread(w, 2000), "[[\"t\", [[\"1-1\", [\"g\", \"1\"]]]]]");
    expect_pending("t", "g", "1-1 alice 1;");
    /* a timeout; a history read never blocks */
    expect_text(tcmd(w, "XREADGROUP GROUP g alice BLOCK 100 STREAMS s >"), "(nil)");
    expect_text(tcmd(w, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s 0"), "[[\"s\", [[\"1-1\", [\"f\", \"1\"]]]]]");
    /* the group or the stream gone while it waits: said so (an XREAD
     * waits on) */
    send_words(w, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >");
    expect_blocked(w);
    expect_int(tcmd(c, "XGROUP DESTROY s g"), 1);
    expect_error(tread(w, 2000), "NOGROUP the consumer group this client was blocked on no longer exists");
    expect_reply("XGROUP CREATE s g $", "+OK");
    send_words(w, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >");
    send_words(w2, "XREAD BLOCK 0 STREAMS s $");
    expect_blocked(w);
    expect_blocked_n(w2, 2);
    expect_int(tcmd(c, "DEL s"), 1);
    expect_error(tread(w, 2000), "UNBLOCKED the stream key no longer exists");
    expect_blocked(w2);
    expect_reply("XADD s 9-1 f 9", "\"9-1\"");
    expect_text(tread(w2, 2000), "[[\"s\", [[\"9-1\", [\"f\", \"9\"]]]]]");
    expect_reply("XGROUP CREATE s g $", "+OK");
    send_words(w, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >");
    expect_blocked(w);
    expect_ok(tcmd(c, "SET s string"));
    expect_error(tread(w, 2000), "UNBLOCKED the stream key no longer exists");
    expect_int(tcmd(c, "DEL s"), 1);
    expect_reply("XGROUP CREATE s g $ MKSTREAM", "+OK");
    /* inside MULTI it never blocks */
    expect_ok(tcmd(w, "MULTI"));
    expect_status(tcmd(w, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"), "QUEUED");
    expect_text(tcmd(w, "EXEC"), "[(nil)]");
    tclose(w);
    tclose(w2);
}

/* redis-server 7.0.15's DUMP of a stream with two groups: grp (alice,
 * bob, carol; three pending entries with set times and counts) and other
 * (entries read unknown). */
static const char redis_group_payload[] =
    "\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\xc3\x3b\x40\x44\x11\x44\x00"
    "\x00\x00\x1e\x00\x05\x01\x00\x01\x01\x01\x81\x66\x02\x00\x01\x02\x20\x0a\x40\x0c\x00\x04\x20\x09\x00\x01"
    "\x20\x09\x00\x02\x60\x09\x40\x15\x00\x03\x60\x09\x00\x03\x20\x13\x00\x04\x20\x01\x40\x17\x02\x00\x01\x05"
    "\x20\x09\x00\xff\x05\x05\x00\x01\x00\x00\x00\x05\x02\x03\x67\x72\x70\x03\x00\x03\x03\x00\x00\x00\x00\x00"
    "\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x68\xe5\xcf\x8b\x01\x00\x00\x05\x00\x00\x00\x00\x00\x00"
    "\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\xe8\x6b\xe5\xcf\x8b\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00"
    "\x03\x00\x00\x00\x00\x00\x00\x00\x00\xd0\x6f\xe5\xcf\x8b\x01\x00\x00\x01\x03\x05\x61\x6c\x69\x63\x65\x6c"
    "\x3c\xd9\x36\xa2\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x03\x62"
    "\x6f\x62\x6c\x3c\xd9\x36\xa2\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x05\x63\x61\x72\x6f\x6c\x6c\x3c\xd9"
    "\x36\xa2\x01\x00\x00\x00\x05\x6f\x74\x68\x65\x72\x05\x00\x81\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x0a"
    "\x00\xf3\x58\xa5\xb3\x2d\x9f\xde\x11";

static void test_groups_dump(void **state)
{
    (void)state;
    restore_payload(c, "gx", redis_group_payload, sizeof redis_group_payload - 1);
    expect_pending("gx", "grp", "1-0 bob 5;2-0 alice 2;3-0 bob 1;");
    struct rval *v = tcmd(c, "XPENDING gx grp - + 10");
    assert_int_equal(v->n, 3);
    rval_free(v);
    expect_reply("XINFO GROUPS gx", "[[\"name\", \"grp\", \"consumers\", (integer) 3, \"pending\", (integer) 3, "
                                    "\"last-delivered-id\", \"3-0\", \"entries-read\", (integer) 3, \"lag\", (integer) 2], "
                                    "[\"name\", \"other\", \"consumers\", (integer) 0, \"pending\", (integer) 0, "
                                    "\"last-delivered-id\", \"5-0\", \"entries-read\", (nil), \"lag\", (integer) 0]]");
    /* the delivery times came along: XINFO STREAM FULL shows them */
    v = tcmd(c, "XINFO STREAM gx FULL");
    char *t = rval_text(v);
    assert_non_null(strstr(t, "[\"1-0\", \"bob\", (integer) 1700000000000, (integer) 5]"));
    free(t);
    rval_free(v);
    /* and back: ours restores with the same groups */
    struct rval *d = dump_of(c, "gx");
    restore_payload(c, "gx2", d->str, d->len);
    rval_free(d);
    expect_pending("gx2", "grp", "1-0 bob 5;2-0 alice 2;3-0 bob 1;");
    expect_reply("XREADGROUP GROUP grp dave STREAMS gx2 >", "[[\"gx2\", [[\"4-0\", [\"f\", \"4\"]], [\"5-0\", [\"f\", "
                                                            "\"5\"]]]]]");
}


/* Keyspace events as Redis names them: an XADD that trimmed is "xadd"
 * then "xtrim"; the groups' XGROUP events. */
static void test_events(void **state)
{
    (void)state;
    expect_ok(tcmd(c, "CONFIG SET notify-keyspace-events Et"));
    tconn *sub = tconnect(srv.port);
    const char *argv[] = { "PSUBSCRIBE", "__keyevent@0__:x*" };
    tsendv(sub, 2, argv);
    rval_free(tread(sub, 2000));
    expect_reply("XADD n 1-1 a 1", "\"1-1\"");
    expect_reply("XADD n MAXLEN 1 2-1 a 1", "\"2-1\"");
    expect_reply("XDEL n 2-1", "(integer) 1");
    expect_reply("XSETID n 5-5", "+OK");
    expect_reply("XGROUP CREATE n g 0", "+OK");
    expect_reply("XGROUP CREATECONSUMER n g c", "(integer) 1");
    expect_reply("XGROUP DELCONSUMER n g c", "(integer) 0");
    expect_reply("XGROUP SETID n g 0", "+OK");
    expect_reply("XGROUP DESTROY n g", "(integer) 1");
    expect_reply("XTRIM n MAXLEN 0", "(integer) 0");
    static const char *const events[] = { "xadd", "xadd", "xtrim", "xdel", "xsetid", "xgroup-create",
                                          "xgroup-createconsumer", "xgroup-delconsumer", "xgroup-setid",
                                          "xgroup-destroy" };
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        struct rval *m = tread(sub, 2000);
        assert_non_null(m);
        char want[64];
        snprintf(want, sizeof want, "__keyevent@0__:%s", events[i]);
        if (strcmp(m->elem[2]->str, want) != 0)
            fail_msg("event %zu: %s, want %s", i, m->elem[2]->str, want);
        assert_string_equal(m->elem[3]->str, "n");
        rval_free(m);
    }
    const char *off[] = { "CONFIG", "SET", "notify-keyspace-events", "" };
    tsendv(c, 4, off);
    expect_ok(tread(c, 2000));
    tclose(sub);
}

/* A replica full-syncs streams (empty ones too) and follows XADD with `*`
 * and approximate trims, XDEL, XSETID, RENAME and COPY: the same entries
 * and the same last IDs as its master. */
static void test_replication(void **state)
{
    (void)state;
    struct server *m = node_start(NULL);
    tconn *mc = tconnect(m->port);
    expect_reply_on(__LINE__, mc, "XADD pre 1-1 a 1", "\"1-1\"");
    rval_free(tcmd(mc, "XADD pre * a 2"));
    expect_reply_on(__LINE__, mc, "XADD empty 5-5 a 1", "\"5-5\"");
    expect_reply_on(__LINE__, mc, "XDEL empty 5-5", "(integer) 1");
    static const char *const args[] = { "--threads", "1", NULL };
    /* redis-server's replica loads the sync from the socket: no dump.rdb
     * left in the directory the test runs in */
    static const char *const redis_args[] = { "--repl-diskless-load", "swapdb", NULL };
    struct server *r = node_start(target_is_redis() ? redis_args : args);
    tconn *rc = tconnect(r->port);
    replicaof(rc, m->port);
    wait_link(rc, "up", 10000);
    for (int i = 0; i < 300; i++)
        rval_free(tcmd(mc, "XADD live MAXLEN ~ 120 * f %d", i));
    rval_free(tcmd(mc, "XADD live2 * a 1"));
    expect_reply_on(__LINE__, mc, "XADD live2 5000000000000-* b 2", "\"5000000000000-0\"");
    expect_reply_on(__LINE__, mc, "XADD live2 5000000000000-* b 3", "\"5000000000000-1\"");
    expect_reply_on(__LINE__, mc, "XDEL live2 5000000000000-0", "(integer) 1");
    expect_reply_on(__LINE__, mc, "XSETID live2 6000000000000-0 ENTRIESADDED 10 MAXDELETEDID 5500000000000-0", "+OK");
    expect_int(tcmd(mc, "COPY live2 live3"), 1);
    expect_ok(tcmd(mc, "RENAME pre pre2"));
    /* consumer groups: reads, acks, claims, a history read */
    expect_reply_on(__LINE__, mc, "XGROUP CREATE live g 0", "+OK");
    expect_reply_on(__LINE__, mc, "XGROUP CREATE live2 g2 $", "+OK");
    rval_free(tcmd(mc, "XREADGROUP GROUP g alice COUNT 10 STREAMS live >"));
    rval_free(tcmd(mc, "XREADGROUP GROUP g bob COUNT 5 STREAMS live >"));
    rval_free(tcmd(mc, "XREADGROUP GROUP g carol COUNT 3 NOACK STREAMS live >"));
    /* a history read counts deliveries again: ringkv's replicas follow
     * (Redis 7.0 does not propagate it, and its replicas' counts differ) */
    if (!target_is_redis())
        rval_free(tcmd(mc, "XREADGROUP GROUP g alice STREAMS live 0"));
    struct rval *first = tcmd(mc, "XRANGE live - + COUNT 2");
    expect_int(tcmd(mc, "XACK live g %s", first->elem[0]->elem[0]->str), 1);
    rval_free(tcmd(mc, "XCLAIM live g dave 0 %s", first->elem[1]->elem[0]->str));
    rval_free(first);
    rval_free(tcmd(mc, "XAUTOCLAIM live g erin 0 0 COUNT 3"));
    expect_reply_on(__LINE__, mc, "XGROUP CREATECONSUMER live g frank", "(integer) 1");
    wait_synced(mc, rc, 10000);
    char *pm = pending_text(mc, "live", "g"), *pr = pending_text(rc, "live", "g");
    assert_string_equal(pm, pr);
    free(pm);
    free(pr);
    struct rval *gm = tcmd(mc, "XINFO GROUPS live"), *gr = tcmd(rc, "XINFO GROUPS live");
    char *tgm = rval_text(gm), *tgr = rval_text(gr);
    assert_string_equal(tgm, tgr);
    free(tgm);
    free(tgr);
    rval_free(gm);
    rval_free(gr);
    assert_int_equal(get_int(tcmd(rc, "XLEN live2")), 2);
    /* a second replica, synced after the groups were made: the same */
    struct server *r2 = node_start(target_is_redis() ? redis_args : args);
    tconn *rc2 = tconnect(r2->port);
    replicaof(rc2, m->port);
    wait_link(rc2, "up", 10000);
    wait_synced(mc, rc2, 10000);
    pm = pending_text(mc, "live", "g");
    pr = pending_text(rc2, "live", "g");
    assert_string_equal(pm, pr);
    free(pm);
    free(pr);
    gm = tcmd(mc, "XINFO GROUPS live");
    gr = tcmd(rc2, "XINFO GROUPS live");
    tgm = rval_text(gm);
    tgr = rval_text(gr);
    assert_string_equal(tgm, tgr);
    free(tgm);
    free(tgr);
    rval_free(gm);
    rval_free(gr);
    tclose(rc2);
    node_stop(r2);
    static const char *const keys[] = { "pre2", "empty", "live", "live2", "live3" };
    for (int k = 0; k < 5; k++) {
        struct rval *a = tcmd(mc, "XRANGE %s - +", keys[k]), *b = tcmd(rc, "XRANGE %s - +", keys[k]);
        char *ta = rval_text(a), *tb = rval_text(b);
        assert_string_equal(ta, tb);
        free(ta);
        free(tb);
        rval_free(a);
        rval_free(b);
        assert_int_equal(get_int(tcmd(mc, "XLEN %s", keys[k])), get_int(tcmd(rc, "XLEN %s", keys[k])));
        /* the same last ID: a DUMP of each, restored on the master, takes
         * the same next ID */
        struct rval *dm = dump_of(mc, keys[k]), *dr = dump_of(rc, keys[k]);
        char km[32], kr[32];
        snprintf(km, sizeof km, "%s-m", keys[k]);
        snprintf(kr, sizeof kr, "%s-r", keys[k]);
        restore_payload(mc, km, dm->str, dm->len);
        restore_payload(mc, kr, dr->str, dr->len);
        rval_free(dm);
        rval_free(dr);
        struct rval *x = tcmd(mc, "XADD %s 18446744073709551615-* z 1", km);
        struct rval *y = tcmd(mc, "XADD %s 18446744073709551615-* z 1", kr);
        assert_string_equal(x->str, y->str);
        rval_free(x);
        rval_free(y);
    }
    assert_true(get_int(tcmd(rc, "XLEN live")) <= 220);
    tclose(mc);
    tclose(rc);
    node_stop(r);
    node_stop(m);
}

static int teardown_nodes(void **state)
{
    teardown(state);
    return nodes_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_xadd_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xdel_xsetid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xreadgroup_key_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xread_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xreadgroup_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xclaim_time_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restored_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entries_read_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_dump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replication, setup, teardown_nodes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
