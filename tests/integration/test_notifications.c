/* Keyspace notifications (notify-keyspace-events): the class letters and
 * their CONFIG GET form, and the events each command publishes, as
 * redis-server 7.0 publishes them. Every expectation here was taken from
 * redis-server 7.0.15 after the same commands, and the test runs unchanged
 * against it (RINGKV_TEST_TARGET=redis).
 *
 * A subscriber PSUBSCRIBEs to __key*__:*; after the command under test, the
 * notifications are turned fully on and a marker key of the same hash tag
 * is SET: its "set" event, from the same shard as the command's events,
 * closes the command's events (a shard's messages to a subscriber keep
 * their order; no timing is involved). The server runs two shards, and
 * the tags {t} and {u} are on different ones; two subscribers, which the
 * server places on its shards in turn, must hear the same events. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

static struct server srv;
static tconn *c;
/* expect_events: milliseconds to let pass between the setup and the
 * command (for keys to be past their time; no assertion depends on it) */
static int pause_before_cmd_ms;
static tconn *subs[2];

static int group_setup(void **state)
{
    return server_start(&srv, (const char *const[]){ "--enable-debug-command", "local", NULL });
}
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }

/* CONFIG SET notify-keyspace-events flags (empty too: one argument each) */
static struct rval *config_events(tconn *to, const char *flags)
{
    const char *argv[] = { "CONFIG", "SET", "notify-keyspace-events", flags };
    tsendv(to, 4, argv);
    return tread(to, 5000);
}

static void psubscribe(tconn *s, const char *pattern)
{
    struct rval *v = tcmd(s, "PSUBSCRIBE %s", pattern);
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    rval_free(v);
}

static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(config_events(c, ""));
    expect_ok(tcmd(c, "FLUSHALL"));
    for (int i = 0; i < 2; i++) {
        subs[i] = tconnect(srv.port);
        psubscribe(subs[i], "__key*__:*");
    }
    return 0;
}

static int teardown(void **state)
{
    expect_ok(config_events(c, ""));
    tclose(c);
    for (int i = 0; i < 2; i++)
        tclose(subs[i]);
    c = NULL;
    return 0;
}

static void set_flags(const char *flags)
{
    if (*flags)
        expect_ok(tcmd(c, "CONFIG SET notify-keyspace-events %s", flags));
    else
        expect_ok(config_events(c, ""));
}

/* Append one pmessage to out as "K:<key>=<event>" or "E:<event>=<key>"; true
 * when it is the marker's closing event. Messages about the marker are
 * left out. */
static bool note_message(struct rval *m, const char *marker, char *out, size_t outlen)
{
    assert_true(m->type == R_ARRAY || m->type == R_PUSH);
    assert_int_equal(m->n, 4);
    assert_string_equal(m->elem[0]->str, "pmessage");
    assert_string_equal(m->elem[1]->str, "__key*__:*");
    const char *ch = m->elem[2]->str, *msg = m->elem[3]->str;
    bool space = strncmp(ch, "__keyspace@0__:", 15) == 0;
    assert_true(space || strncmp(ch, "__keyevent@0__:", 15) == 0);
    const char *name = ch + 15;
    if (!space && strcmp(name, "set") == 0 && strcmp(msg, marker) == 0)
        return true;
    if (strcmp(space ? name : msg, marker) == 0)
        return false;
    size_t at = strlen(out);
    snprintf(out + at, outlen - at, "%s%s:%s=%s", at ? " " : "", space ? "K" : "E", name, msg);
    return false;
}

/* The events a subscriber heard up to the marker's SET. */
static void heard(tconn *s, const char *marker, char *out, size_t outlen)
{
    out[0] = '\0';
    for (;;) {
        struct rval *m = tread(s, 5000);
        if (!m)
            fail_msg("no marker event after: '%s'", out);
        bool end = note_message(m, marker, out, outlen);
        rval_free(m);
        if (end)
            return;
    }
}

/* Send one command given as words separated by spaces. */
static struct rval *words(const char *line)
{
    char copy[512];
    const char *argv[32];
    int argc = 0;
    snprintf(copy, sizeof copy, "%s", line);
    for (char *w = strtok(copy, " "); w && argc < 32; w = strtok(NULL, " "))
        argv[argc++] = w;
    tsendv(c, argc, argv);
    return tread(c, 5000);
}

/* Run setup (";"-separated commands, notifications off), then cmd with
 * flags on, and check what both subscribers heard. {T} in any of them is
 * replaced by the tag. */
static void expect_events(const char *tag, const char *flags, const char *setup_cmds, const char *cmd,
                          const char *want)
{
    char marker[64], line[512], expanded[512], got[2][2048];
    snprintf(marker, sizeof marker, "{%s}end", tag);
    set_flags("");
    expect_ok(tcmd(c, "FLUSHALL"));
    const char *parts[2] = { setup_cmds, cmd };
    for (int p = 0; p < 2; p++) {
        const char *src = parts[p];
        while (src && *src) {
            const char *semi = strchr(src, ';');
            size_t len = semi ? (size_t)(semi - src) : strlen(src);
            size_t o = 0;
            for (size_t i = 0; i < len && o + 8 < sizeof expanded; i++) {
                if (src[i] == '{' && src[i + 1] == 'T' && src[i + 2] == '}') {
                    o += (size_t)snprintf(expanded + o, sizeof expanded - o, "{%s}", tag);
                    i += 2;
                } else {
                    expanded[o++] = src[i];
                }
            }
            expanded[o] = '\0';
            if (p == 1 && src == cmd && pause_before_cmd_ms)
                usleep((useconds_t)pause_before_cmd_ms * 1000);
            if (p == 1)
                set_flags(flags);
            struct rval *v = words(expanded);
            assert_non_null(v);
            rval_free(v);
            src = semi ? semi + 1 : NULL;
        }
    }
    set_flags("KEA");
    snprintf(line, sizeof line, "SET %s 1", marker);
    rval_free(words(line));
    /* the expectation with the tag in place */
    char want_t[2048];
    size_t o = 0;
    for (size_t i = 0; want[i] && o + 8 < sizeof want_t; i++) {
        if (want[i] == '{' && want[i + 1] == 'T' && want[i + 2] == '}') {
            o += (size_t)snprintf(want_t + o, sizeof want_t - o, "{%s}", tag);
            i += 2;
        } else {
            want_t[o++] = want[i];
        }
    }
    want_t[o] = '\0';
    for (int i = 0; i < 2; i++) {
        heard(subs[i], marker, got[i], sizeof got[i]);
        if (strcmp(got[i], want_t) != 0)
            fail_msg("flags %s, %s; %s (subscriber %d):\n  want '%s'\n  got  '%s'", flags,
                     setup_cmds ? setup_cmds : "-", cmd, i, want_t, got[i]);
    }
}

/* ---- CONFIG ------------------------------------------------------------ */

static void test_config_flags(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "KEA", "AKE" },   { "Ex", "xE" },  { "AKE", "AKE" }, { "Kg$", "g$K" },
        { "KEAnm", "AKEm" }, { "n", "n" },   { "m", "m" },     { "A", "A" },
        { "g$lshzxetd", "A" }, { "KE", "KE" }, { "K", "K" },    { "El", "lE" },
        { "Kxen", "xenK" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_ok(config_events(c, cases[i][0]));
        struct rval *v = tcmd(c, "CONFIG GET notify-keyspace-events");
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 2);
        if (strcmp(v->elem[1]->str, cases[i][1]) != 0)
            fail_msg("CONFIG SET notify-keyspace-events %s: CONFIG GET '%s', want '%s'", cases[i][0],
                     v->elem[1]->str, cases[i][1]);
        rval_free(v);
    }
    expect_error(config_events(c, "KEQ"),
                 "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
                 "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    /* the value before the error stands */
    struct rval *v = tcmd(c, "CONFIG GET notify-keyspace-events");
    assert_string_equal(v->elem[1]->str, "xenK");
    rval_free(v);
    expect_ok(config_events(c, ""));
    v = tcmd(c, "CONFIG GET notify-keyspace-events");
    assert_string_equal(v->elem[1]->str, "");
    rval_free(v);
}

/* ---- every command family's events ------------------------------------ */

/* setup (notifications off), command, what a KEA subscriber hears */
static const char *const kea[][3] = {
    { NULL, "SET {T}a 1", "K:{T}a=set E:set={T}a" },
    { NULL, "SET {T}a 1 EX 100", "K:{T}a=set E:set={T}a K:{T}a=expire E:expire={T}a" },
    { "SET {T}a 1 EX 100", "SET {T}a 2 KEEPTTL", "K:{T}a=set E:set={T}a" },
    { NULL, "SETEX {T}a 100 v", "K:{T}a=set E:set={T}a K:{T}a=expire E:expire={T}a" },
    { NULL, "PSETEX {T}a 100000 v", "K:{T}a=set E:set={T}a K:{T}a=expire E:expire={T}a" },
    { NULL, "SETNX {T}a v", "K:{T}a=set E:set={T}a" },
    { "SET {T}a 1", "SETNX {T}a v", "" },
    { NULL, "MSET {T}a 1 {T}b 2", "K:{T}a=set E:set={T}a K:{T}b=set E:set={T}b" },
    { NULL, "MSETNX {T}a 1 {T}b 2", "K:{T}a=set E:set={T}a K:{T}b=set E:set={T}b" },
    { NULL, "GETSET {T}a 1", "K:{T}a=set E:set={T}a" },
    { "SET {T}a 1", "GETDEL {T}a", "K:{T}a=del E:del={T}a" },
    { "SET {T}a 1", "GETEX {T}a EX 100", "K:{T}a=expire E:expire={T}a" },
    { "SET {T}a 1 EX 100", "GETEX {T}a PERSIST", "K:{T}a=persist E:persist={T}a" },
    { "SET {T}a 1", "GETEX {T}a", "" },
    { NULL, "SETRANGE {T}a 2 xx", "K:{T}a=setrange E:setrange={T}a" },
    { NULL, "APPEND {T}a xx", "K:{T}a=append E:append={T}a" },
    { NULL, "INCR {T}a", "K:{T}a=incrby E:incrby={T}a" },
    { NULL, "DECR {T}a", "K:{T}a=incrby E:incrby={T}a" },
    { NULL, "INCRBY {T}a 5", "K:{T}a=incrby E:incrby={T}a" },
    { NULL, "DECRBY {T}a 5", "K:{T}a=incrby E:incrby={T}a" },
    { NULL, "INCRBYFLOAT {T}a 1.5", "K:{T}a=incrbyfloat E:incrbyfloat={T}a" },
    { NULL, "SETBIT {T}a 3 1", "K:{T}a=setbit E:setbit={T}a" },
    { NULL, "BITFIELD {T}a SET u8 0 5", "K:{T}a=setbit E:setbit={T}a" },
    { NULL, "BITFIELD {T}a GET u8 0", "" },
    { "SET {T}a 1;SET {T}b 2", "BITOP AND {T}c {T}a {T}b", "K:{T}c=set E:set={T}c" },
    { "SET {T}a 1", "DEL {T}a", "K:{T}a=del E:del={T}a" },
    { "SET {T}a 1", "UNLINK {T}a", "K:{T}a=del E:del={T}a" },
    { NULL, "DEL {T}a", "" },
    { "SET {T}a 1", "EXPIRE {T}a 100", "K:{T}a=expire E:expire={T}a" },
    { "SET {T}a 1", "PEXPIRE {T}a 100000", "K:{T}a=expire E:expire={T}a" },
    { "SET {T}a 1", "EXPIREAT {T}a 1", "K:{T}a=del E:del={T}a" },
    { "SET {T}a 1", "EXPIRE {T}a -1", "K:{T}a=del E:del={T}a" },
    { "SET {T}a 1;EXPIRE {T}a 100", "PERSIST {T}a", "K:{T}a=persist E:persist={T}a" },
    { "SET {T}a 1", "RENAME {T}a {T}b",
      "K:{T}a=rename_from E:rename_from={T}a K:{T}b=rename_to E:rename_to={T}b" },
    { "SET {T}a 1;SET {T}b 1", "RENAMENX {T}a {T}b", "" },
    { "SET {T}a 1", "RENAMENX {T}a {T}b",
      "K:{T}a=rename_from E:rename_from={T}a K:{T}b=rename_to E:rename_to={T}b" },
    { "SET {T}a 1", "COPY {T}a {T}b", "K:{T}b=copy_to E:copy_to={T}b" },
    { NULL, "LPUSH {T}l a b", "K:{T}l=lpush E:lpush={T}l" },
    { NULL, "RPUSH {T}l a b", "K:{T}l=rpush E:rpush={T}l" },
    { NULL, "LPUSHX {T}l a", "" },
    { "RPUSH {T}l a", "LPUSHX {T}l b", "K:{T}l=lpush E:lpush={T}l" },
    { "RPUSH {T}l a", "RPUSHX {T}l b", "K:{T}l=rpush E:rpush={T}l" },
    { "RPUSH {T}l a b", "LINSERT {T}l BEFORE a x", "K:{T}l=linsert E:linsert={T}l" },
    { "RPUSH {T}l a b", "LSET {T}l 0 x", "K:{T}l=lset E:lset={T}l" },
    { "RPUSH {T}l a b a", "LREM {T}l 0 a", "K:{T}l=lrem E:lrem={T}l" },
    { "RPUSH {T}l a", "LREM {T}l 0 a", "K:{T}l=lrem E:lrem={T}l K:{T}l=del E:del={T}l" },
    { "RPUSH {T}l a b c", "LTRIM {T}l 0 1", "K:{T}l=ltrim E:ltrim={T}l" },
    { "RPUSH {T}l a b c", "LTRIM {T}l 5 6", "K:{T}l=ltrim E:ltrim={T}l K:{T}l=del E:del={T}l" },
    { "RPUSH {T}l a b", "LPOP {T}l", "K:{T}l=lpop E:lpop={T}l" },
    { "RPUSH {T}l a", "LPOP {T}l", "K:{T}l=lpop E:lpop={T}l K:{T}l=del E:del={T}l" },
    { "RPUSH {T}l a b", "RPOP {T}l 2", "K:{T}l=rpop E:rpop={T}l K:{T}l=del E:del={T}l" },
    { "RPUSH {T}l a b", "LMOVE {T}l {T}m LEFT RIGHT", "K:{T}m=rpush E:rpush={T}m K:{T}l=lpop E:lpop={T}l" },
    { "RPUSH {T}l a", "LMOVE {T}l {T}m RIGHT LEFT",
      "K:{T}m=lpush E:lpush={T}m K:{T}l=rpop E:rpop={T}l K:{T}l=del E:del={T}l" },
    { "RPUSH {T}l a b", "RPOPLPUSH {T}l {T}m", "K:{T}m=lpush E:lpush={T}m K:{T}l=rpop E:rpop={T}l" },
    { "RPUSH {T}l a b", "RPOPLPUSH {T}l {T}l", "K:{T}l=lpush E:lpush={T}l K:{T}l=rpop E:rpop={T}l" },
    { "RPUSH {T}l a b", "BLPOP {T}l 0", "K:{T}l=lpop E:lpop={T}l" },
    { "RPUSH {T}l a", "BRPOP {T}l 0", "K:{T}l=rpop E:rpop={T}l K:{T}l=del E:del={T}l" },
    { "RPUSH {T}l a b", "BLMOVE {T}l {T}m LEFT LEFT 0", "K:{T}m=lpush E:lpush={T}m K:{T}l=lpop E:lpop={T}l" },
    { "RPUSH {T}l a b", "LMPOP 1 {T}l LEFT COUNT 2", "K:{T}l=lpop E:lpop={T}l K:{T}l=del E:del={T}l" },
    { NULL, "SADD {T}s a b", "K:{T}s=sadd E:sadd={T}s" },
    { "SADD {T}s a", "SADD {T}s a", "" },
    { "SADD {T}s a b", "SREM {T}s a", "K:{T}s=srem E:srem={T}s" },
    { "SADD {T}s a", "SREM {T}s a", "K:{T}s=srem E:srem={T}s K:{T}s=del E:del={T}s" },
    { "SADD {T}s a b", "SPOP {T}s", "K:{T}s=spop E:spop={T}s" },
    { "SADD {T}s a", "SPOP {T}s", "K:{T}s=spop E:spop={T}s K:{T}s=del E:del={T}s" },
    { "SADD {T}s a b", "SPOP {T}s 5", "K:{T}s=spop E:spop={T}s K:{T}s=del E:del={T}s" },
    { "SADD {T}s a b", "SMOVE {T}s {T}d a", "K:{T}s=srem E:srem={T}s K:{T}d=sadd E:sadd={T}d" },
    { "SADD {T}s a", "SMOVE {T}s {T}d a",
      "K:{T}s=srem E:srem={T}s K:{T}s=del E:del={T}s K:{T}d=sadd E:sadd={T}d" },
    { "SADD {T}s a b;SADD {T}r b", "SINTERSTORE {T}d {T}s {T}r", "K:{T}d=sinterstore E:sinterstore={T}d" },
    { "SADD {T}s a b", "SUNIONSTORE {T}d {T}s {T}r", "K:{T}d=sunionstore E:sunionstore={T}d" },
    { "SADD {T}s a b;SADD {T}r a b", "SDIFFSTORE {T}d {T}s {T}r", "" },
    { "SADD {T}s a b;SADD {T}d x;SADD {T}r c", "SINTERSTORE {T}d {T}s {T}r", "K:{T}d=del E:del={T}d" },
    { NULL, "HSET {T}h a 1 b 2", "K:{T}h=hset E:hset={T}h" },
    { NULL, "HSETNX {T}h a 1", "K:{T}h=hset E:hset={T}h" },
    { NULL, "HMSET {T}h a 1", "K:{T}h=hset E:hset={T}h" },
    { "HSET {T}h a 1 b 2", "HDEL {T}h a", "K:{T}h=hdel E:hdel={T}h" },
    { "HSET {T}h a 1", "HDEL {T}h a", "K:{T}h=hdel E:hdel={T}h K:{T}h=del E:del={T}h" },
    { NULL, "HINCRBY {T}h a 1", "K:{T}h=hincrby E:hincrby={T}h" },
    { NULL, "HINCRBYFLOAT {T}h a 1.5", "K:{T}h=hincrbyfloat E:hincrbyfloat={T}h" },
    { NULL, "ZADD {T}z 1 a 2 b", "K:{T}z=zadd E:zadd={T}z" },
    { NULL, "ZADD {T}z INCR 1 a", "K:{T}z=zincr E:zincr={T}z" },
    { NULL, "ZINCRBY {T}z 1 a", "K:{T}z=zincr E:zincr={T}z" },
    { "ZADD {T}z 1 a 2 b", "ZREM {T}z a", "K:{T}z=zrem E:zrem={T}z" },
    { "ZADD {T}z 1 a", "ZREM {T}z a", "K:{T}z=zrem E:zrem={T}z K:{T}z=del E:del={T}z" },
    { "ZADD {T}z 1 a 2 b", "ZREMRANGEBYSCORE {T}z 0 1", "K:{T}z=zremrangebyscore E:zremrangebyscore={T}z" },
    { "ZADD {T}z 1 a 2 b", "ZREMRANGEBYRANK {T}z 0 0", "K:{T}z=zremrangebyrank E:zremrangebyrank={T}z" },
    { "ZADD {T}z 1 a 2 b", "ZREMRANGEBYLEX {T}z - [a", "K:{T}z=zremrangebylex E:zremrangebylex={T}z" },
    { "ZADD {T}z 1 a 2 b", "ZPOPMIN {T}z", "K:{T}z=zpopmin E:zpopmin={T}z" },
    { "ZADD {T}z 1 a 2 b", "ZPOPMAX {T}z 5", "K:{T}z=zpopmax E:zpopmax={T}z K:{T}z=del E:del={T}z" },
    { "ZADD {T}z 1 a 2 b", "BZPOPMIN {T}z 0", "K:{T}z=zpopmin E:zpopmin={T}z" },
    { "ZADD {T}z 1 a 2 b", "ZMPOP 1 {T}z MIN", "K:{T}z=zpopmin E:zpopmin={T}z" },
    { "ZADD {T}z 1 a 2 b", "ZUNIONSTORE {T}d 1 {T}z", "K:{T}d=zunionstore E:zunionstore={T}d" },
    { "ZADD {T}z 1 a 2 b", "ZINTERSTORE {T}d 1 {T}z", "K:{T}d=zinterstore E:zinterstore={T}d" },
    { "ZADD {T}z 1 a 2 b", "ZDIFFSTORE {T}d 1 {T}z", "K:{T}d=zdiffstore E:zdiffstore={T}d" },
    { "ZADD {T}z 1 a 2 b", "ZRANGESTORE {T}d {T}z 0 -1", "K:{T}d=zrangestore E:zrangestore={T}d" },
    { "ZADD {T}z 1 a 2 b", "ZRANGESTORE {T}d {T}z 5 6", "" },
    { NULL, "PFADD {T}p a b", "K:{T}p=pfadd E:pfadd={T}p" },
    { "PFADD {T}p a", "PFADD {T}p a", "" },
    { "PFADD {T}p a;PFADD {T}q b", "PFMERGE {T}d {T}p {T}q", "K:{T}d=pfadd E:pfadd={T}d" },
    { "RPUSH {T}l 3 1 2", "SORT {T}l STORE {T}d", "K:{T}d=sortstore E:sortstore={T}d" },
    { "RPUSH {T}l 3 1 2", "SORT {T}l", "" },
    { NULL, "GEOADD {T}g 13.361389 38.115556 a", "K:{T}g=zadd E:zadd={T}g" },
    { "GEOADD {T}g 13.361389 38.115556 a", "GEOSEARCHSTORE {T}d {T}g FROMLONLAT 15 37 BYRADIUS 200 km",
      "K:{T}d=geosearchstore E:geosearchstore={T}d" },
    { "SET {T}a 1", "GET {T}a", "" },
    { "SET {T}a 1", "FLUSHALL", "" },
    /* a script's commands publish their own events */
    { "RPUSH {T}l a", "EVAL redis.call('SET',KEYS[1],'1')return(redis.call('LPOP',KEYS[2])) 2 {T}a {T}l",
      "K:{T}a=set E:set={T}a K:{T}l=lpop E:lpop={T}l K:{T}l=del E:del={T}l" },
};

static void run_table(const char *tag, const char *flags, const char *const (*table)[3], size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_events(tag, flags, table[i][0], table[i][1], table[i][2]);
}

/* Keys of either shard ({t} and {u} are on different ones of the two). */
static void test_commands_shard_a(void **state)
{
    (void)state;
    run_table("t", "KEA", kea, sizeof kea / sizeof kea[0]);
}

static void test_commands_shard_b(void **state)
{
    (void)state;
    run_table("u", "KEA", kea, sizeof kea / sizeof kea[0]);
}

/* n: "new" when a command creates a key, before its first event; m:
 * "keymiss" when a read finds no key. */
static const char *const with_new[][3] = {
    { NULL, "SET {T}a 1", "K:{T}a=new E:new={T}a K:{T}a=set E:set={T}a" },
    { "SET {T}a 1", "SET {T}a 2", "K:{T}a=set E:set={T}a" },
    { NULL, "MSET {T}a 1 {T}b 2", "K:{T}a=new E:new={T}a K:{T}a=set E:set={T}a K:{T}b=new E:new={T}b K:{T}b=set E:set={T}b" },
    { NULL, "RPUSH {T}l a", "K:{T}l=new E:new={T}l K:{T}l=rpush E:rpush={T}l" },
    { "RPUSH {T}l a b", "LMOVE {T}l {T}m LEFT RIGHT",
      "K:{T}m=new E:new={T}m K:{T}m=rpush E:rpush={T}m K:{T}l=lpop E:lpop={T}l" },
    { "SET {T}a 1", "RENAME {T}a {T}b",
      "K:{T}b=new E:new={T}b K:{T}a=rename_from E:rename_from={T}a K:{T}b=rename_to E:rename_to={T}b" },
    { "SADD {T}s a b", "SUNIONSTORE {T}d {T}s {T}r", "K:{T}d=new E:new={T}d K:{T}d=sunionstore E:sunionstore={T}d" },
    { NULL, "GET {T}a", "" },
};

static const char *const with_miss[][3] = {
    { NULL, "GET {T}a", "K:{T}a=keymiss E:keymiss={T}a" },
    { "SET {T}a 1", "GET {T}a", "" },
    { NULL, "HGET {T}h f", "K:{T}h=keymiss E:keymiss={T}h" },
    { NULL, "LRANGE {T}l 0 -1", "K:{T}l=keymiss E:keymiss={T}l" },
    { "SET {T}a 1", "MGET {T}a {T}b", "K:{T}b=keymiss E:keymiss={T}b" },
    { NULL, "SET {T}a 1", "K:{T}a=set E:set={T}a" },
    /* more keys than a command usually names */
    { NULL, "MGET {T}k0 {T}k1 {T}k2 {T}k3 {T}k4 {T}k5 {T}k6 {T}k7 {T}k8 {T}k9 {T}k10 {T}k11 {T}k12 {T}k13 {T}k14 {T}k15 {T}k16 {T}k17 {T}k18 {T}k19",
      "K:{T}k0=keymiss E:keymiss={T}k0 K:{T}k1=keymiss E:keymiss={T}k1 K:{T}k2=keymiss E:keymiss={T}k2 K:{T}k3=keymiss E:keymiss={T}k3 K:{T}k4=keymiss E:keymiss={T}k4 K:{T}k5=keymiss E:keymiss={T}k5 K:{T}k6=keymiss E:keymiss={T}k6 K:{T}k7=keymiss E:keymiss={T}k7 K:{T}k8=keymiss E:keymiss={T}k8 K:{T}k9=keymiss E:keymiss={T}k9 K:{T}k10=keymiss E:keymiss={T}k10 K:{T}k11=keymiss E:keymiss={T}k11 K:{T}k12=keymiss E:keymiss={T}k12 K:{T}k13=keymiss E:keymiss={T}k13 K:{T}k14=keymiss E:keymiss={T}k14 K:{T}k15=keymiss E:keymiss={T}k15 K:{T}k16=keymiss E:keymiss={T}k16 K:{T}k17=keymiss E:keymiss={T}k17 K:{T}k18=keymiss E:keymiss={T}k18 K:{T}k19=keymiss E:keymiss={T}k19" },
};

static void test_new_and_keymiss(void **state)
{
    (void)state;
    run_table("t", "KEAn", with_new, sizeof with_new / sizeof with_new[0]);
    run_table("u", "KEAn", with_new, sizeof with_new / sizeof with_new[0]);
    run_table("t", "KEAm", with_miss, sizeof with_miss / sizeof with_miss[0]);
    run_table("u", "KEAm", with_miss, sizeof with_miss / sizeof with_miss[0]);
}

/* Which channels and classes: K or E alone, one class, none. */
static void test_class_filters(void **state)
{
    (void)state;
    const char *set_ex = "SET {T}a 1 EX 100";
    expect_events("t", "K", NULL, set_ex, "");
    expect_events("t", "E", NULL, set_ex, "");
    expect_events("t", "A", NULL, set_ex, "");
    expect_events("t", "K$", NULL, set_ex, "K:{T}a=set");
    expect_events("t", "E$", NULL, set_ex, "E:set={T}a");
    expect_events("u", "Eg", NULL, set_ex, "E:expire={T}a");
    expect_events("u", "Kg", "RPUSH {T}l a", "LPOP {T}l", "K:{T}l=del");
    expect_events("u", "Kl", "RPUSH {T}l a", "LPOP {T}l", "K:{T}l=lpop");
    expect_events("t", "Ex", NULL, set_ex, "");
    expect_events("t", "KEsh", "SADD {T}s a;HSET {T}h a 1", "DEL {T}s {T}h", "");
    expect_events("t", "KEsh", NULL, "HSET {T}h a 1", "K:{T}h=hset E:hset={T}h");
}

/* ---- expiry and eviction ----------------------------------------------- */

/* Read until a message on channel arrives (a trailing '*': any channel
 * it begins; 5 s at most); its text, its channel in last_channel. */
static char last_channel[256];
static char *wait_message(tconn *s, const char *channel)
{
    for (;;) {
        struct rval *m = tread(s, 5000);
        if (!m)
            fail_msg("no message on %s", channel);
        size_t n = strlen(channel);
        bool prefix = n > 0 && channel[n - 1] == '*';
        if (prefix ? strncmp(m->elem[2]->str, channel, n - 1) == 0 : strcmp(m->elem[2]->str, channel) == 0) {
            snprintf(last_channel, sizeof last_channel, "%s", m->elem[2]->str);
            char *text = strdup(m->elem[3]->str);
            rval_free(m);
            return text;
        }
        rval_free(m);
    }
}

static void test_expired(void **state)
{
    (void)state;
    /* lazily: a read finds the key past its time (the sweep is off) */
    expect_ok(tcmd(c, "DEBUG SET-ACTIVE-EXPIRE 0"));
    pause_before_cmd_ms = 100;
    expect_events("t", "KEA", "SET {T}lazy 1 PX 20", "GET {T}lazy", "K:{T}lazy=expired E:expired={T}lazy");
    expect_events("u", "KEA", "SET {T}lazy 1 PX 20", "GET {T}lazy", "K:{T}lazy=expired E:expired={T}lazy");
    expect_events("t", "KEAm", "SET {T}lazy 1 PX 20", "GET {T}lazy",
                  "K:{T}lazy=expired E:expired={T}lazy K:{T}lazy=keymiss E:keymiss={T}lazy");
    expect_events("u", "Ex", "SET {T}lazy 1 PX 20", "GET {T}lazy", "E:expired={T}lazy");
    expect_events("u", "KEA", "SET {T}lazy 1 PX 20", "SET {T}lazy 2",
                  "K:{T}lazy=expired E:expired={T}lazy K:{T}lazy=set E:set={T}lazy");
    pause_before_cmd_ms = 0;
    /* actively: the sweep takes it with no command naming it */
    expect_ok(tcmd(c, "DEBUG SET-ACTIVE-EXPIRE 1"));
    set_flags("Kx");
    expect_ok(tcmd(c, "SET {u}active 1 PX 20"));
    expect_ok(tcmd(c, "SET {t}active 1 PX 20"));
    for (int i = 0; i < 2; i++) {
        /* the two shards' sweeps, in either order */
        int seen = 0;
        while (seen != 3) {
            char *m = wait_message(subs[i], "__keyspace@0__:*");
            assert_string_equal(m, "expired");
            free(m);
            seen |= strcmp(last_channel, "__keyspace@0__:{t}active") == 0 ? 1
                  : strcmp(last_channel, "__keyspace@0__:{u}active") == 0 ? 2 : 0;
        }
    }
}

static void test_evicted(void **state)
{
    (void)state;
    char value[10001];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    for (int i = 0; i < 300; i++) {
        char key[32];
        snprintf(key, sizeof key, "big:%d", i);
        const char *argv[] = { "SET", key, value };
        tsendv(c, 3, argv);
        expect_ok(tread(c, 5000));
    }
    set_flags("Ee");
    long long used = info_field(c, "memory", "used_memory");
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy allkeys-lru"));
    expect_ok(tcmd(c, "CONFIG SET maxmemory %lld", used - 1000000));
    expect_ok(tcmd(c, "SET trigger 1"));
    for (int i = 0; i < 2; i++) {
        char *m = wait_message(subs[i], "__keyevent@0__:evicted");
        assert_true(strncmp(m, "big:", 4) == 0 || strcmp(m, "trigger") == 0);
        free(m);
    }
    expect_ok(tcmd(c, "CONFIG SET maxmemory 0"));
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy noeviction"));
}

/* ---- subscriptions ------------------------------------------------------ */

/* A SUBSCRIBE to one event's channel gets "message", and only its event. */
static void test_channel_subscription(void **state)
{
    (void)state;
    tconn *s = tconnect(srv.port);
    struct rval *v = tcmd(s, "SUBSCRIBE __keyevent@0__:del");
    rval_free(v);
    set_flags("KEA");
    expect_ok(tcmd(c, "SET {t}k 1"));
    expect_ok(tcmd(c, "SET {u}k 1"));
    expect_int(tcmd(c, "DEL {t}k {u}k"), 2);
    const char *want[] = { "{t}k", "{u}k" };
    bool seen[2] = { false, false };
    for (int i = 0; i < 2; i++) {
        v = tread(s, 5000);
        assert_non_null(v);
        assert_int_equal(v->n, 3);
        assert_string_equal(v->elem[0]->str, "message");
        assert_string_equal(v->elem[1]->str, "__keyevent@0__:del");
        for (int k = 0; k < 2; k++)
            seen[k] |= strcmp(v->elem[2]->str, want[k]) == 0;
        rval_free(v);
    }
    assert_true(seen[0] && seen[1]);
    tclose(s);
}

/* Another database's events name it: __keyspace@<db>__, __keyevent@<db>__;
 * MOVE's "move_from" in the source database, "move_to" in the target's;
 * COPY ... DB n's "copy_to" in n. */
static void test_database_channels(void **state)
{
    (void)state;
    tconn *s = tconnect(srv.port);
    psubscribe(s, "__key*@3__:*");
    psubscribe(s, "__keyevent@0__:move_from");
    psubscribe(s, "__keyevent@[56]__:copy_to");
    set_flags("KEg$");
    expect_ok(tcmd(c, "SELECT 3"));
    expect_ok(tcmd(c, "SET {t}k 1"));
    expect_ok(tcmd(c, "SELECT 0"));
    expect_ok(tcmd(c, "SET {t}m 1"));
    expect_int(tcmd(c, "MOVE {t}m 3"), 1);
    /* COPY ... DB n: "copy_to" in n, its keys on one shard or two (ringkv),
     * from a client or a script */
    expect_ok(tcmd(c, "SELECT 3"));
    expect_int(tcmd(c, "COPY {t}k {t}c DB 5"), 1);
    expect_int(tcmd(c, "COPY {t}k {u}c DB 5"), 1);
    const char *copy[] = { "EVAL", "return redis.call('COPY',KEYS[1],KEYS[2],'DB','6')", "2", "{t}m", "{u}c" };
    tsendv(c, 5, copy);
    expect_int(tread(c, 5000), 1);
    expect_ok(tcmd(c, "SELECT 0"));
    const char *want[][2] = {
        { "__keyspace@3__:{t}k", "set" },
        { "__keyevent@3__:set", "{t}k" },
        { "__keyevent@0__:move_from", "{t}m" },
        { "__keyspace@3__:{t}m", "move_to" },
        { "__keyevent@3__:move_to", "{t}m" },
        { "__keyevent@5__:copy_to", "{t}c" },
        { "__keyevent@5__:copy_to", "{u}c" },
        { "__keyevent@6__:copy_to", "{u}c" },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct rval *v = tread(s, 5000);
        assert_non_null(v);
        assert_int_equal(v->n, 4);
        assert_string_equal(v->elem[0]->str, "pmessage");
        if (strcmp(v->elem[2]->str, want[i][0]) != 0 || strcmp(v->elem[3]->str, want[i][1]) != 0)
            fail_msg("event %zu: got %s %s, want %s %s", i, v->elem[2]->str, v->elem[3]->str, want[i][0],
                     want[i][1]);
        rval_free(v);
    }
    tclose(s);
}

/* A client blocked in BLPOP, served by a push: the push's event, then the
 * pop's, then the emptied list's "del" (the pop is the blocked client's,
 * after the push). */
static void test_blocked_pop(void **state)
{
    (void)state;
    const char *tags[] = { "t", "u" };
    for (int t = 0; t < 2; t++) {
        char line[128], marker[32], got[2][1024], want[512];
        tconn *b = tconnect(srv.port);
        set_flags("KEA");
        snprintf(line, sizeof line, "{%s}l", tags[t]);
        const char *argv[] = { "BLPOP", line, "0" };
        tsendv(b, 3, argv);
        long long blocked = info_field_becomes(c, "clients", "blocked_clients", 1, 5000);
        assert_int_equal(blocked, 1);
        snprintf(line, sizeof line, "RPUSH {%s}l a", tags[t]);
        expect_int(words(line), 1);
        struct rval *v = tread(b, 5000);
        assert_non_null(v);
        assert_int_equal(v->n, 2);
        rval_free(v);
        snprintf(marker, sizeof marker, "{%s}end", tags[t]);
        snprintf(line, sizeof line, "SET %s 1", marker);
        rval_free(words(line));
        snprintf(want, sizeof want,
                 "K:{%s}l=rpush E:rpush={%s}l K:{%s}l=lpop E:lpop={%s}l K:{%s}l=del E:del={%s}l",
                 tags[t], tags[t], tags[t], tags[t], tags[t], tags[t]);
        for (int i = 0; i < 2; i++) {
            heard(subs[i], marker, got[i], sizeof got[i]);
            assert_string_equal(got[i], want);
        }
        tclose(b);
    }
}

/* ---- a replica ------------------------------------------------------- */

/* A replica publishes the events of the writes it applies from its
 * master, and a key the master expires is a "del" there. */
static void test_replica(void **state)
{
    (void)state;
    /* a redis-server replica writes the snapshot it receives to its
     * dbfilename, which a later redis-server here would load: a file of
     * this process's own, removed at the end */
    char rdb[64];
    snprintf(rdb, sizeof rdb, "notify-test-%d.rdb", (int)getpid());
    const char *const args[] = { "--dir", "/tmp", "--dbfilename", rdb, NULL };
    struct server *m = node_start(target_is_redis() ? args : NULL);
    struct server *r = node_start(target_is_redis() ? args : NULL);
    tconn *mc = tconnect(m->port), *rc = tconnect(r->port), *rs = tconnect(r->port);
    expect_ok(tcmd(rc, "CONFIG SET notify-keyspace-events KEA"));
    /* the full sync's keys publish nothing there (Redis loads an RDB) */
    expect_ok(tcmd(mc, "SET {t}synced 1"));
    expect_int(tcmd(mc, "RPUSH {u}synced a"), 1);
    psubscribe(rs, "__keyevent@0__:*");
    replicaof(rc, m->port);
    wait_synced(mc, rc, 20000);
    expect_ok(tcmd(mc, "SET {t}a 1"));
    expect_int(tcmd(mc, "INCR {t}n"), 1);
    expect_int(tcmd(mc, "RPUSH {t}l a b"), 2);
    expect_bulk(tcmd(mc, "LPOP {t}l"), "a");
    expect_int(tcmd(mc, "HSET {t}h f v"), 1);
    expect_int(tcmd(mc, "DEL {t}a"), 1);
    expect_ok(tcmd(mc, "SET {t}gone 1 PX 20"));
    usleep(100 * 1000); /* past its time; its "del" is awaited below */
    expect_nil(tcmd(mc, "GET {t}gone"));
    expect_ok(tcmd(mc, "SET {t}end 1"));
    char got[1024] = "";
    for (;;) {
        struct rval *v = tread(rs, 5000);
        if (!v)
            fail_msg("replica's events so far: %s", got);
        size_t at = strlen(got);
        snprintf(got + at, sizeof got - at, "%s%s=%s", at ? " " : "", v->elem[2]->str + 15, v->elem[3]->str);
        bool end = strcmp(v->elem[3]->str, "{t}end") == 0;
        rval_free(v);
        if (end)
            break;
    }
    assert_string_equal(got, "set={t}a incrby={t}n rpush={t}l lpop={t}l hset={t}h del={t}a set={t}gone expire={t}gone del={t}gone set={t}end");
    tclose(mc);
    tclose(rc);
    tclose(rs);
    node_stop(r);
    node_stop(m);
    char path[128];
    snprintf(path, sizeof path, "/tmp/%s", rdb);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_shard_a, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_shard_b, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_and_keymiss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_class_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channel_subscription, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_pop, setup, teardown),
        cmocka_unit_test_teardown(test_replica, nodes_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
