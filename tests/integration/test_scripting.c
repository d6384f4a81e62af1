/* Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT against a
 * running server with two shards. The expectations are redis-server
 * 7.0's answers (the test runs unchanged against it:
 * RINGKV_TEST_TARGET=redis), error texts included; the checks of what only
 * ringkv does (commands of every shard refused inside a script) are made
 * against ringkv only. A script touches keys it did not declare on any
 * shard (ringkv holds the other shards for it) and no other command sees
 * its writes half done. Keys are chosen by their slot so that each shard
 * gets its own (ringkv puts slot s on shard s % 2). Also: a replica gets
 * a script's writes, and redis-py's Redis.lock() (EVALSHA of its own
 * scripts) acquires and releases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "core/sha1.h"
#include "shards/store/slot.h"
/* the helpers this test has no use for are fine unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "repl_helpers.h"
#pragma GCC diagnostic pop

static struct server srv;
static tconn *c;

/* Until no background save runs (so that the next test's FLUSHALL does
 * not meet one) */
static void wait_bgsave_done(tconn *conn)
{
    for (int i = 0; i < 200; i++) {
        struct rval *v = tcmd(conn, "INFO persistence");
        bool running = v && v->str && strstr(v->str, "rdb_bgsave_in_progress:1");
        rval_free(v);
        if (!running)
            return;
        usleep(50 * 1000);
    }
    fail_msg("a background save still runs after 10 s");
}

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    expect_ok(tcmd(c, "SCRIPT FLUSH"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

/* A key named prefix<n> whose slot is of the given parity: on shard
 * `parity` of a two-shard ringkv. */
static void key_on_shard(char *out, size_t cap, const char *prefix, int parity)
{
    for (int n = 0;; n++) {
        snprintf(out, cap, "%s%d", prefix, n);
        if ((int)(key_slot(out, strlen(out)) % 2) == parity)
            return;
    }
}

/* cmd (EVAL, EVALSHA, ...) script-or-sha numkeys, then the NULL-ended
 * words (keys, then args) */
static struct rval *run_script(tconn *conn, const char *cmd, const char *script, int numkeys, ...)
{
    const char *argv[32];
    char nk[16];
    snprintf(nk, sizeof nk, "%d", numkeys);
    int argc = 0;
    argv[argc++] = cmd;
    argv[argc++] = script;
    argv[argc++] = nk;
    va_list ap;
    va_start(ap, numkeys);
    for (const char *w; (w = va_arg(ap, const char *)) != NULL && argc < 32;)
        argv[argc++] = w;
    va_end(ap);
    tsendv(conn, argc, argv);
    return tread(conn, 10000);
}
#define EVAL(script, ...) run_script(c, "EVAL", script, __VA_ARGS__, NULL)
#define EVALSHA(sha, ...) run_script(c, "EVALSHA", sha, __VA_ARGS__, NULL)

/* The sha1 of a script, as SCRIPT LOAD answers it. */
static char *script_load(const char *script)
{
    const char *argv[] = { "SCRIPT", "LOAD", script };
    tsendv(c, 3, argv);
    struct rval *v = tread(c, 10000);
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    assert_int_equal(v->len, 40);
    char *sha = strdup(v->str);
    rval_free(v);
    return sha;
}

/* Redis's text for an error raised in a script: "<text> script: <sha of
 * the body>, on @user_script:<line>." */
static const char *raised(const char *text, const char *script, int line)
{
    static char out[1024];
    char sha[SHA1_HEX_LEN + 1];
    sha1_hex(script, strlen(script), sha);
    snprintf(out, sizeof out, "%s script: %s, on @user_script:%d.", text, sha, line);
    return out;
}

static void expect_array_len(struct rval *v, size_t n)
{
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, n);
}

/* ---- the script's value as the client sees it ---- */

static void test_return_values(void **state)
{
    expect_int(EVAL("return 3.99", 0), 3);
    expect_int(EVAL("return -3.99", 0), -3);
    expect_bulk(EVAL("return 'hello'", 0), "hello");
    expect_int(EVAL("return true", 0), 1);
    expect_nil(EVAL("return false", 0));
    expect_nil(EVAL("return nil", 0));
    expect_nil(EVAL("return", 0));
    expect_status(EVAL("return {ok='FINE'}", 0), "FINE");
    expect_status(EVAL("return redis.status_reply('FINE')", 0), "FINE");
    expect_error(EVAL("return {err='MY failure'}", 0), "MY failure");
    expect_error(EVAL("return {err='x'}", 0), "x");
    expect_error(EVAL("return redis.error_reply('x')", 0), "ERR x");
    expect_error(EVAL("return redis.error_reply('MY x')", 0), "MY x");
    expect_error(EVAL("return redis.error_reply('-MY x')", 0), "MY x");
    /* an array stops at the first nil; false inside is a nil bulk */
    struct rval *v = EVAL("return {1, 'two', false, {3, {4}}, nil, 6}", 0);
    expect_array_len(v, 4);
    assert_int_equal(v->elem[0]->type, R_INT);
    assert_int_equal(v->elem[0]->integer, 1);
    assert_string_equal(v->elem[1]->str, "two");
    assert_int_equal(v->elem[2]->type, R_NIL);
    assert_int_equal(v->elem[3]->type, R_ARRAY);
    assert_int_equal(v->elem[3]->n, 2);
    assert_int_equal(v->elem[3]->elem[1]->type, R_ARRAY);
    assert_int_equal(v->elem[3]->elem[1]->elem[0]->integer, 4);
    rval_free(v);
    /* a table with ok or err inside an array */
    v = EVAL("return {{ok='a'}, {err='b c'}}", 0);
    expect_array_len(v, 2);
    assert_int_equal(v->elem[0]->type, R_STATUS);
    assert_string_equal(v->elem[0]->str, "a");
    assert_int_equal(v->elem[1]->type, R_ERROR);
    assert_string_equal(v->elem[1]->str, "b c");
    rval_free(v);
    v = EVAL("return {a=1}", 0);
    expect_array_len(v, 0);
    rval_free(v);
    expect_bulk(EVAL("return redis.sha1hex('')", 0), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

/* ---- a command's reply as the script sees it ---- */

static void test_replies_in_lua(void **state)
{
    expect_ok(tcmd(c, "SET str hello"));
    expect_int(tcmd(c, "RPUSH list a b"), 2);
    expect_bulk(EVAL("return type(redis.call('incr', KEYS[1]))", 1, "n"), "number");
    expect_bulk(EVAL("return type(redis.call('get', KEYS[1]))", 1, "str"), "string");
    expect_bulk(EVAL("return tostring(redis.call('get', KEYS[1]))", 1, "missing"), "false");
    expect_bulk(EVAL("return type(redis.call('lrange', KEYS[1], 0, -1))", 1, "list"), "table");
    expect_bulk(EVAL("return redis.call('lrange', KEYS[1], 0, -1)[2]", 1, "list"), "b");
    expect_bulk(EVAL("return redis.call('set', KEYS[1], 'v')['ok']", 1, "k"), "OK");
    expect_bulk(EVAL("return redis.pcall('incr', KEYS[1])['err']", 1, "str"),
                "ERR value is not an integer or out of range");
    expect_bulk(EVAL("return redis.pcall('lpush', KEYS[1], 'x')['err']", 1, "str"),
                "WRONGTYPE Operation against a key holding the wrong kind of value");
    /* numbers as arguments: %.17g, as Redis 7.0 writes them */
    expect_ok(EVAL("return redis.call('set', KEYS[1], 0.1)", 1, "f"));
    expect_bulk(tcmd(c, "GET f"), "0.10000000000000001");
    expect_ok(EVAL("return redis.call('set', KEYS[1], 12)", 1, "f"));
    expect_bulk(tcmd(c, "GET f"), "12");
    /* a reply passed straight back */
    struct rval *v = EVAL("return redis.call('lrange', KEYS[1], 0, -1)", 1, "list");
    expect_array_len(v, 2);
    assert_string_equal(v->elem[0]->str, "a");
    rval_free(v);
    expect_nil(EVAL("return redis.call('get', KEYS[1])", 1, "missing"));
}

static void test_keys_and_argv(void **state)
{
    struct rval *v = EVAL("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", 2, "{t}k1", "{t}k2",
                          "a1", "a2");
    expect_array_len(v, 6);
    assert_string_equal(v->elem[0]->str, "{t}k1");
    assert_string_equal(v->elem[1]->str, "{t}k2");
    assert_string_equal(v->elem[2]->str, "a1");
    assert_string_equal(v->elem[3]->str, "a2");
    assert_int_equal(v->elem[4]->integer, 2);
    assert_int_equal(v->elem[5]->integer, 2);
    rval_free(v);
    v = EVAL("return {#KEYS, #ARGV, ARGV[1]}", 0, "only-arg");
    expect_array_len(v, 3);
    assert_int_equal(v->elem[0]->integer, 0);
    assert_int_equal(v->elem[1]->integer, 1);
    assert_string_equal(v->elem[2]->str, "only-arg");
    rval_free(v);
}

/* ---- errors ---- */

static void test_call_and_pcall_errors(void **state)
{
    expect_ok(tcmd(c, "SET s abc"));
    /* redis.call raises the command's error, with where it was raised */
    const char *script = "return redis.call('incr', KEYS[1])";
    expect_error(EVAL(script, 1, "s"), raised("ERR value is not an integer or out of range", script, 1));
    /* redis.pcall returns it: returned as is, it is the reply */
    expect_error(EVAL("return redis.pcall('incr', KEYS[1])", 1, "s"), "ERR value is not an integer or out of range");
    script = "return redis.call('nosuchcommand')";
    expect_error(EVAL(script, 0), raised("ERR Unknown Redis command called from script", script, 1));
    expect_error(EVAL("return redis.pcall('incr')", 0), "ERR Wrong number of args calling Redis command from script");
    expect_error(EVAL("return redis.pcall()", 0), "ERR Please specify at least one argument for this redis lib call");
    expect_error(EVAL("return redis.pcall('get', {})", 0),
                 "ERR Lua redis lib command arguments must be strings or integers");
    expect_error(EVAL("return redis.pcall('eval', 'return 1', 0)", 0),
                 "ERR This Redis command is not allowed from script");
    expect_error(EVAL("return redis.pcall('blpop', KEYS[1], 0)", 1, "l"),
                 "ERR This Redis command is not allowed from script");
    /* XREAD and XREADGROUP with BLOCK: refused where the option is met,
     * the name as the script wrote it; an option before it that is wrong
     * answers its own error */
    script = "return redis.call('XREAD', 'COUNT', '2', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')";
    expect_error(EVAL(script, 1, "st"),
                 raised("ERR XREAD command is not allowed with BLOCK option from scripts", script, 1));
    expect_error(EVAL("return redis.pcall('xreadgroup', 'GROUP', 'g', 'c', 'NOACK', 'BLOCK', '10', 'STREAMS', "
                      "KEYS[1], '>')", 1, "st"),
                 "ERR xreadgroup command is not allowed with BLOCK option from scripts");
    expect_error(EVAL("return redis.pcall('xread', 'COUNT', 'x', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')", 1, "st"),
                 "ERR value is not an integer or out of range");
    expect_nil(EVAL("return redis.pcall('xread', 'COUNT', '1', 'STREAMS', KEYS[1], '$')", 1, "st"));
    /* a Lua error; error() with a table; the line is the one raising */
    script = "local a = 1\nerror('boom')";
    expect_error(EVAL(script, 0), raised("ERR user_script:2: boom", script, 2));
    script = "error({err='MY boom'})";
    expect_error(EVAL(script, 0), raised("MY boom", script, 1));
    script = "local a = nil\n\nreturn a.field";
    expect_error(EVAL(script, 0), raised("ERR user_script:3: attempt to index local 'a' (a nil value)", script, 3));
    /* compile errors */
    expect_error(EVAL("return (", 0), "ERR Error compiling script (new function): user_script:1: unexpected symbol "
                                      "near '<eof>'");
    expect_status(tcmd(c, "PING"), "PONG");
}

static void test_numkeys_errors(void **state)
{
    expect_error(EVAL("return 1", 2, "a"), "ERR Number of keys can't be greater than number of args");
    expect_error(EVAL("return 1", -1), "ERR Number of keys can't be negative");
    expect_error(tcmd(c, "EVAL x y"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "EVAL x"), "ERR wrong number of arguments for 'eval' command");
    expect_error(EVALSHA("0000000000000000000000000000000000000000", 0), "NOSCRIPT No matching script. Please use EVAL.");
    expect_error(EVALSHA("abc", 0), "NOSCRIPT No matching script. Please use EVAL.");
    expect_error(EVALSHA("0000000000000000000000000000000000000000", 3, "a"),
                 "ERR Number of keys can't be greater than number of args");
}

/* Redis 7's shebang line: flags, and its errors */
static void test_shebang(void **state)
{
    expect_ok(tcmd(c, "SET sb v"));
    expect_int(EVAL("#!lua\nreturn 1", 0), 1);
    expect_bulk(EVAL("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "sb"), "v");
    const char *script = "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'w')";
    expect_error(EVAL(script, 1, "sb"), raised("ERR Write commands are not allowed from read-only scripts.", script, 2));
    /* line numbers count the shebang line */
    script = "#!lua\n\nreturn x";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:3: Script attempted to access nonexistent global variable 'x'", script, 3));
    expect_int(EVAL("#!lua  flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys  \nreturn 2", 0), 2);
    expect_int(EVAL("#!lua flags=\nreturn 5", 0), 5);
    expect_error(EVAL("#!lua flags=bogus\nreturn 1", 0), "ERR Unexpected flag in script shebang: bogus");
    expect_error(EVAL("#!python\nreturn 1", 0), "ERR Unexpected engine in script shebang: #!python");
    expect_error(EVAL("#!lua foo=bar\nreturn 1", 0), "ERR Unknown lua shebang option: foo=bar");
    expect_error(EVAL("#!lua", 0), "ERR Invalid script shebang");
    /* EVAL_RO runs only a script that declares no writes */
    expect_error(run_script(c, "EVAL_RO", "#!lua\nreturn 4", 0, NULL),
                 "ERR Can not execute a script with write flag using *_ro command.");
    expect_int(run_script(c, "EVAL_RO", "#!lua flags=no-writes\nreturn 4", 0, NULL), 4);
    /* SCRIPT LOAD checks the line too; EVALSHA keeps the flags */
    const char *argv[] = { "SCRIPT", "LOAD", "#!lua flags=nope\nreturn 1" };
    tsendv(c, 3, argv);
    expect_error(tread(c, 10000), "ERR Unexpected flag in script shebang: nope");
    char *sha = script_load("#!lua flags=no-writes\nreturn redis.call('del', KEYS[1])");
    expect_error_prefix(EVALSHA(sha, 1, "sb"), "ERR Write commands are not allowed from read-only scripts.");
    free(sha);
    expect_bulk(tcmd(c, "GET sb"), "v");
}

/* ---- the cache: EVALSHA wherever the keys are ---- */

static void test_evalsha_on_each_shard(void **state)
{
    char k0[32], k1[32];
    key_on_shard(k0, sizeof k0, "sha-a", 0);
    key_on_shard(k1, sizeof k1, "sha-b", 1);
    const char *incr = "return redis.call('incrby', KEYS[1], ARGV[1])";
    /* EVAL on one shard's key, EVALSHA of it on both */
    expect_int(EVAL(incr, 1, k0, "5"), 5);
    char *sha = script_load(incr); /* the same body: the same name */
    expect_int(EVALSHA(sha, 1, k1, "7"), 7);
    expect_int(EVALSHA(sha, 1, k0, "1"), 6);
    /* upper case names the same script */
    for (char *p = sha; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    expect_int(EVALSHA(sha, 1, k1, "1"), 8);
    free(sha);
    /* SCRIPT LOAD, then EVALSHA on each shard, from another connection */
    sha = script_load("return {KEYS[1], redis.call('get', KEYS[1])}");
    tconn *other = tconnect(srv.port);
    struct rval *v = run_script(other, "EVALSHA", sha, 1, k0, NULL);
    expect_array_len(v, 2);
    assert_string_equal(v->elem[1]->str, "6");
    rval_free(v);
    v = run_script(other, "EVALSHA", sha, 1, k1, NULL);
    expect_array_len(v, 2);
    assert_string_equal(v->elem[1]->str, "8");
    rval_free(v);
    tclose(other);
    free(sha);
}

static void test_script_exists_and_flush(void **state)
{
    char k0[32], k1[32];
    key_on_shard(k0, sizeof k0, "fl-a", 0);
    key_on_shard(k1, sizeof k1, "fl-b", 1);
    char *loaded = script_load("return 'loaded'");
    expect_bulk(EVAL("return 'evaluated'", 1, k0), "evaluated");
    /* EVAL keeps the script under the sha1 of its body */
    char ev_sha[SHA1_HEX_LEN + 1];
    sha1_hex("return 'evaluated'", strlen("return 'evaluated'"), ev_sha);
    const char *none = "a1b0bb8d2b7b8d3e8c5a8e7f6d5c4b3a29181716"; /* no script's */
    struct rval *v = tcmd(c, "SCRIPT EXISTS %s %s %s", loaded, ev_sha, none);
    expect_array_len(v, 3);
    assert_int_equal(v->elem[0]->integer, 1);
    assert_int_equal(v->elem[1]->integer, 1);
    assert_int_equal(v->elem[2]->integer, 0);
    rval_free(v);
    expect_bulk(EVALSHA(ev_sha, 1, k1), "evaluated");
    /* both shards ran it: after FLUSH, neither finds it */
    expect_bulk(EVALSHA(loaded, 1, k0), "loaded");
    expect_bulk(EVALSHA(loaded, 1, k1), "loaded");
    /* INFO counts the scripts kept, and the bytes of their bodies */
    assert_int_equal(info_field(c, "memory", "number_of_cached_scripts"), 2);
    assert_true(info_field(c, "memory", "used_memory_scripts_eval") > 0);
    expect_ok(tcmd(c, "SCRIPT FLUSH"));
    assert_int_equal(info_field(c, "memory", "number_of_cached_scripts"), 0);
    v = tcmd(c, "SCRIPT EXISTS %s %s", loaded, ev_sha);
    expect_array_len(v, 2);
    assert_int_equal(v->elem[0]->integer, 0);
    assert_int_equal(v->elem[1]->integer, 0);
    rval_free(v);
    expect_error(EVALSHA(loaded, 1, k0), "NOSCRIPT No matching script. Please use EVAL.");
    expect_error(EVALSHA(loaded, 1, k1), "NOSCRIPT No matching script. Please use EVAL.");
    free(loaded);
    expect_ok(tcmd(c, "SCRIPT FLUSH ASYNC"));
    expect_ok(tcmd(c, "SCRIPT FLUSH SYNC"));
    expect_error(tcmd(c, "SCRIPT FLUSH NOW"), "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    expect_error(tcmd(c, "SCRIPT KILL"), "NOTBUSY No scripts in execution right now.");
    expect_error(tcmd(c, "SCRIPT NOPE"), "ERR unknown subcommand 'NOPE'. Try SCRIPT HELP.");
    expect_error(tcmd(c, "SCRIPT"), "ERR wrong number of arguments for 'script' command");
    v = tcmd(c, "SCRIPT HELP");
    assert_int_equal(v->type, R_ARRAY);
    assert_true(v->n > 5);
    rval_free(v);
    /* a body that does not compile is not kept */
    expect_error(tcmd(c, "SCRIPT LOAD (("), "ERR Error compiling script (new function): user_script:1: "
                                           "unexpected symbol near '<eof>'");
}

/* ---- what a script may do ---- */

static void test_read_only_scripts(void **state)
{
    expect_ok(tcmd(c, "SET ro v"));
    expect_bulk(run_script(c, "EVAL_RO", "return redis.call('get', KEYS[1])", 1, "ro", NULL), "v");
    const char *script = "return redis.call('set', KEYS[1], 'w')";
    expect_error(run_script(c, "EVAL_RO", script, 1, "ro", NULL),
                 raised("ERR Write commands are not allowed from read-only scripts.", script, 1));
    char *sha = script_load("return redis.call('del', KEYS[1])");
    expect_error_prefix(run_script(c, "EVALSHA_RO", sha, 1, "ro", NULL),
                        "ERR Write commands are not allowed from read-only scripts.");
    expect_bulk(tcmd(c, "GET ro"), "v");
    expect_int(EVALSHA(sha, 1, "ro"), 1);
    free(sha);
}

static void test_globals_protected(void **state)
{
    expect_error_prefix(EVAL("x = 1", 0), "ERR user_script:1: Attempt to modify a readonly table script: ");
    expect_error_prefix(EVAL("return undefined_thing", 0),
                        "ERR user_script:1: Script attempted to access nonexistent global variable "
                        "'undefined_thing' script: ");
    expect_error_prefix(EVAL("return os.time()", 0),
                        "ERR user_script:1: Script attempted to access nonexistent global variable 'os'");
    expect_error_prefix(EVAL("return loadfile('/etc/passwd')", 0),
                        "ERR user_script:1: Script attempted to access nonexistent global variable 'loadfile'");
    expect_error_prefix(EVAL("return dofile('/etc/passwd')", 0),
                        "ERR user_script:1: Script attempted to access nonexistent global variable 'dofile'");
    expect_error_prefix(EVAL("print('x')", 0),
                        "ERR user_script:1: Script attempted to access nonexistent global variable 'print'");
    expect_error_prefix(EVAL("rawset(_G, 'KEYS', {'stolen'})", 0), "ERR Attempt to modify a readonly table script: ");
    expect_bulk(EVAL("return KEYS[1]", 1, "mine"), "mine");
    /* the libraries too: no script changes what the later ones call */
    expect_error_prefix(EVAL("redis.call = nil", 0), "ERR user_script:1: Attempt to modify a readonly table script: ");
    expect_error_prefix(EVAL("string.upper = string.lower", 0),
                        "ERR user_script:1: Attempt to modify a readonly table script: ");
    expect_error_prefix(EVAL("rawset(math, 'floor', nil)", 0), "ERR Attempt to modify a readonly table script: ");
    expect_bulk(EVAL("return string.upper('a') .. ('b'):upper()", 0), "AB");
    /* locals are the script's own; the libraries are there */
    expect_int(EVAL("local x = 2 return x * 3", 0), 6);
    expect_bulk(EVAL("return string.upper(table.concat({'a', 'b'}, '-'))", 0), "A-B");
    expect_int(EVAL("return math.floor(7.5)", 0), 7);
    expect_int(EVAL("local r = math.random(10) return (r >= 1 and r <= 10) and 1 or 0", 0), 1);
    /* precompiled chunks are not loaded (Redis's Lua refuses them too):
     * neither as the script nor by loadstring or load */
    expect_error(EVAL("\033Lua", 0), "ERR Error compiling script (new function): user_script:1: unexpected symbol "
                                       "near 'char(27)'");
    expect_int(EVAL("return loadstring(string.dump(function() return 1 end)) == nil and 1 or 0", 0), 1);
    expect_int(EVAL("local s = string.dump(function() return 7 end) local done = false\n"
                    "return load(function() if done then return nil end done = true return s end) == nil and 1 or 0",
                    0), 1);
    expect_int(EVAL("return loadstring('return 6')()", 0), 6);
    /* cjson and bit, as Redis gives them */
    expect_bulk(EVAL("return cjson.encode({1, 'x', {a = true}})", 0), "[1,\"x\",{\"a\":true}]");
    expect_bulk(EVAL("return cjson.decode(ARGV[1]).k[2]", 0, "{\"k\":[1,\"two\"]}"), "two");
    expect_int(EVAL("return bit.band(12, 10) + bit.lshift(1, 4)", 0), 24);
    expect_bulk(EVAL("return bit.tohex(255)", 0), "000000ff");
}

/* A bulk reply of exactly these bytes. */
static void expect_bytes(struct rval *v, const void *bytes, size_t n)
{
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    assert_int_equal(v->len, n);
    assert_memory_equal(v->str, bytes, n);
    rval_free(v);
}
#define EXPECT_BYTES(reply, ...) do { \
        static const unsigned char want_[] = { __VA_ARGS__ }; \
        expect_bytes(reply, want_, sizeof want_); \
    } while (0)


/* struct (lua_struct, as Redis gives scripts): pack's bytes for every
 * option, both byte orders and alignment, Redis's at the edges too (an
 * integer past 8 bytes, a number out of 64-bit range, no "=" option);
 * unpack's values and next position, c0 taking its length from the value
 * before it; size; round trips; the error texts with their argument
 * numbers. */
static void test_struct(void **state)
{
    (void)state;
    EXPECT_BYTES(EVAL("return struct.pack('>i2<i2', 258, 258)", 0), 0x01, 0x02, 0x02, 0x01);
    EXPECT_BYTES(EVAL("return struct.pack('<bBhHlLT', -1, 255, -2, 65535, -3, 2^32, 7)", 0),
                 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
    EXPECT_BYTES(EVAL("return struct.pack('>I3 i1 I', 65539, -128, 1.9)", 0),
                 0x01, 0x00, 0x03, 0x80, 0x00, 0x00, 0x00, 0x01);
    EXPECT_BYTES(EVAL("return struct.pack('>fd', 1.5, -2)", 0),
                 0x3f, 0xc0, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
    /* s adds a zero byte, c3 cuts, c0 is the whole string, x a zero byte */
    EXPECT_BYTES(EVAL("return struct.pack('sc3c0x', 'ab', 'xyzw', 'q')", 0), 'a', 'b', 0, 'x', 'y', 'z', 'q', 0);
    /* alignment: to the smaller of the item's size and n; ! alone is 8 */
    EXPECT_BYTES(EVAL("return struct.pack('!4<bibh', 1, 2, 3, 4)", 0),
                 0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x03, 0, 0x04, 0);
    EXPECT_BYTES(EVAL("return struct.pack('!<bd', 1, 0)", 0), 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    /* Redis's at the edges: 64-bit integers (the bytes past 8 zero), a
     * number out of range as x86-64 converts it */
    EXPECT_BYTES(EVAL("return struct.pack('<i10', -1)", 0),
                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00);
    EXPECT_BYTES(EVAL("return struct.pack('>LLL', 2^64, 2^63, 0/0)", 0),
                 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0);

    expect_int(EVAL("return struct.size('<bBhHlLTfd')", 0), 42);
    expect_int(EVAL("return struct.size('!4bi')", 0), 8);
    expect_int(EVAL("return struct.size('i3 c5 x')", 0), 9);
    expect_int(EVAL("return struct.size('')", 0), 0);

    /* unpack: the values, then the next position */
    struct rval *v = EVAL("return {struct.unpack('>i2<I2b', '\\1\\2\\2\\1\\255')}", 0);
    expect_array_len(v, 4);
    assert_int_equal(v->elem[0]->integer, 258);
    assert_int_equal(v->elem[1]->integer, 258);
    assert_int_equal(v->elem[2]->integer, -1);
    assert_int_equal(v->elem[3]->integer, 6);
    rval_free(v);
    v = EVAL("return {struct.unpack('sc2bc0', 'ab\\0xy\\3pqrs')}", 0);
    expect_array_len(v, 4);
    assert_string_equal(v->elem[0]->str, "ab");
    assert_string_equal(v->elem[1]->str, "xy");
    assert_string_equal(v->elem[2]->str, "pqr");
    assert_int_equal(v->elem[3]->integer, 10);
    rval_free(v);
    v = EVAL("return {struct.unpack('B', 'abc', 2)}", 0);
    expect_array_len(v, 2);
    assert_int_equal(v->elem[0]->integer, 'b');
    assert_int_equal(v->elem[1]->integer, 3);
    rval_free(v);
    expect_bulk(EVAL("return tostring(struct.unpack('>f', '\\63\\192\\0\\0'))", 0), "1.5");
    /* a signed integer past 8 bytes sign-extends from Redis's bit */
    expect_int(EVAL("return struct.unpack('<i9', '\\128' .. string.rep('\\0', 8))", 0), -128);
    expect_int(EVAL("return struct.unpack('<i16', '\\128' .. string.rep('\\0', 15))", 0), 128);
    /* round trips */
    expect_bulk(EVAL("local s = struct.pack('!>bidsc0', -3, -70000, 2.5, 'str', 'abc') "
                     "return #s .. ' ' .. table.concat({struct.unpack('!>bidsc3', s)}, ' ')", 0),
                "23 -3 -70000 2.5 str abc 24");
    expect_bulk(EVAL("return table.concat({struct.unpack('<lLhd', struct.pack('<lLhd', -2^53, 2^53, -32768, 0.1))}, ' ')", 0),
                "-9.007199254741e+15 9.007199254741e+15 -32768 0.1 27");
    expect_bulk(EVAL("return string.format('%.17g', struct.unpack('d', struct.pack('d', 0.1)))", 0),
                "0.10000000000000001");

    /* errors */
    const char *script = "return struct.pack('z', 1)";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'z')", script, 1));
    script = "return struct.pack('=i', 1)"; /* Redis's struct has no '=' */
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #1 to 'pack' (invalid format option '=')", script, 1));
    script = "return struct.pack('i33', 1)";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: integral size 33 is larger than limit of 32", script, 1));
    script = "return struct.size('c99999999999')";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: integral size overflow", script, 1));
    script = "return struct.pack('!3i', 1)";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: alignment 3 is not a power of 2", script, 1));
    script = "return struct.pack('c5', 'ab')"; /* the argument after the short one, as Redis */
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #3 to 'pack' (string too short)", script, 1));
    script = "return struct.pack('bi', 1)";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #3 to 'pack' (number expected, got nil)", script, 1));
    script = "return struct.unpack('i', 'abc')";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #2 to 'unpack' (data string too short)", script, 1));
    script = "return struct.unpack('bc0', '\\5abc')";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #2 to 'unpack' (data string too short)", script, 1));
    script = "return struct.unpack('b', 'abc', 0)";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)", script, 1));
    script = "return struct.unpack('s', 'abc')";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: unfinished string in data", script, 1));
    script = "return struct.unpack('c0', 'abc')";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: format 'c0' needs a previous size", script, 1));
    script = "return struct.size('bs')";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)", script, 1));
    script = "return struct.size('c0')";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)", script, 1));
    script = "return struct.unpack(string.rep('b', 9000), string.rep('a', 9000))";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: stack overflow (too many results)", script, 1));
    /* read-only, as the other libraries */
    expect_error_prefix(EVAL("struct.pack = nil", 0), "ERR user_script:1: Attempt to modify a readonly table");
    expect_status(tcmd(c, "PING"), "PONG");
}

/* cmsgpack, as Redis gives scripts (queue libraries such as BullMQ pass
 * their arguments packed): pack's bytes are Redis's, byte for byte (the
 * shortest integer, float32 where it is exact, str8 from 32 bytes, an array
 * for keys 1..n, nil past 16 levels of nesting); unpack, unpack_one and
 * unpack_limit with their offsets; cut or bad input raises Redis's errors,
 * and no length in the input makes room before its bytes are there. */
static void test_cmsgpack(void **state)
{
    (void)state;
    EXPECT_BYTES(EVAL("return cmsgpack.pack(1, -1, 127, 128, 256, 65536, 4294967296, -33, -129, -32769, "
                      "-2147483649)", 0),
                 0x01, 0xff, 0x7f, 0xcc, 0x80, 0xcd, 0x01, 0x00, 0xce, 0x00, 0x01, 0x00, 0x00,
                 0xcf, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xd0, 0xdf, 0xd1, 0xff, 0x7f,
                 0xd2, 0xff, 0xff, 0x7f, 0xff, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff);
    EXPECT_BYTES(EVAL("return cmsgpack.pack(1.5, 0.1, true, false, nil)", 0),
                 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0xc3, 0xc2,
                 0xc0);
    EXPECT_BYTES(EVAL("return cmsgpack.pack('ab', {}, {7, 'x'}, {k = 1})", 0),
                 0xa2, 'a', 'b', 0x90, 0x92, 0x07, 0xa1, 'x', 0x81, 0xa1, 'k', 0x01);
    /* a hole makes a map; a function is nil */
    EXPECT_BYTES(EVAL("return cmsgpack.pack({[1] = 1, [3] = 3}, redis.call)", 0),
                 0x82, 0x01, 0x01, 0x03, 0x03, 0xc0);
    EXPECT_BYTES(EVAL("return string.sub(cmsgpack.pack(string.rep('y', 32)), 1, 3)", 0), 0xd9, 0x20, 'y');
    EXPECT_BYTES(EVAL("return string.sub(cmsgpack.pack(string.rep('y', 256)), 1, 4)", 0), 0xda, 0x01, 0x00, 'y');
    /* nested past 16 levels (a table holding itself): nil there */
    expect_int(EVAL("local t = {} t[1] = t return #cmsgpack.pack(t)", 0), 17);
    expect_int(EVAL("local t = {} t[1] = t return string.byte(cmsgpack.pack(t), 17)", 0), 0xc0);

    /* round trips */
    struct rval *v = EVAL("return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, {4}}, {x = 'y'}))}", 0);
    expect_array_len(v, 4);
    assert_int_equal(v->elem[0]->integer, 1);
    assert_string_equal(v->elem[1]->str, "two");
    assert_int_equal(v->elem[2]->n, 2);
    assert_int_equal(v->elem[2]->elem[1]->elem[0]->integer, 4);
    assert_int_equal(v->elem[3]->n, 0); /* a map's a Lua table with no array part: an empty reply */
    rval_free(v);
    expect_bulk(EVAL("return cmsgpack.unpack(cmsgpack.pack({x = 'y'})).x", 0), "y");
    expect_bulk(EVAL("local a, b = cmsgpack.unpack(cmsgpack.pack(-2^40, 2.5)) return a .. ' ' .. b", 0),
                "-1099511627776 2.5");
    expect_int(EVAL("return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')", 0), -1);
    /* unpack_one: the next offset (-1 at the end), then the value */
    v = EVAL("return {cmsgpack.unpack_one(cmsgpack.pack(5, 6, 7), 1)}", 0);
    expect_array_len(v, 2);
    assert_int_equal(v->elem[0]->integer, 2);
    assert_int_equal(v->elem[1]->integer, 6);
    rval_free(v);
    v = EVAL("return {cmsgpack.unpack_limit(cmsgpack.pack(5, 6, 7), 2, 1)}", 0);
    expect_array_len(v, 3);
    assert_int_equal(v->elem[0]->integer, -1);
    assert_int_equal(v->elem[1]->integer, 6);
    assert_int_equal(v->elem[2]->integer, 7);
    rval_free(v);
    expect_int(EVAL("return select('#', cmsgpack.unpack(''))", 0), 0);

    /* errors */
    const char *script = "return cmsgpack.unpack('\\205\\1')";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: Missing bytes in input.", script, 1));
    script = "return cmsgpack.unpack('\\199\\1\\1\\1')"; /* an extension */
    expect_error(EVAL(script, 0), raised("ERR user_script:1: Bad data format in input.", script, 1));
    script = "return cmsgpack.unpack('\\196\\1a')"; /* bin: not taken by Redis's scripts either */
    expect_error(EVAL(script, 0), raised("ERR user_script:1: Bad data format in input.", script, 1));
    script = "return cmsgpack.unpack_one('\\1', 5)";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: Start offset 5 greater than input length 1.", script, 1));
    script = "return cmsgpack.pack()";
    expect_error(EVAL(script, 0),
                 raised("ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)", script, 1));
    script = "return cmsgpack.unpack('\\129\\192\\1')"; /* a nil key */
    expect_error(EVAL(script, 0), raised("ERR table index is nil", script, 1));
    /* a 4-billion-element array announced in 6 bytes: no room made for it */
    script = "return cmsgpack.unpack('\\221\\255\\255\\255\\255\\1')";
    expect_error(EVAL(script, 0), raised("ERR user_script:1: Missing bytes in input.", script, 1));
    /* nesting as deep as the input allows, and values past the stack: an
     * error, the server well */
    expect_error_prefix(EVAL("return cmsgpack.unpack(string.rep('\\145', 100000) .. '\\1')", 0),
                        "ERR user_script:1: stack overflow");
    expect_error_prefix(EVAL("return cmsgpack.unpack(string.rep('\\1', 9000))", 0),
                        "ERR user_script:1: stack overflow (too many return values at once; use unpack_one or "
                        "unpack_limit instead.)");
    /* the library is read-only, as cjson */
    expect_error_prefix(EVAL("cmsgpack.pack = nil", 0), "ERR user_script:1: Attempt to modify a readonly table");
    expect_status(tcmd(c, "PING"), "PONG");
}

static void test_hash_tag_keys_one_shard(void **state)
{
    /* a transfer between two keys of one shard: all or nothing */
    expect_ok(tcmd(c, "MSET {acct}:a 100 {acct}:b 5"));
    const char *transfer = "local a = tonumber(redis.call('get', KEYS[1]))\n"
                           "local n = tonumber(ARGV[1])\n"
                           "if a < n then return redis.error_reply('INSUFFICIENT funds') end\n"
                           "redis.call('decrby', KEYS[1], n)\n"
                           "return redis.call('incrby', KEYS[2], n)";
    expect_int(EVAL(transfer, 2, "{acct}:a", "{acct}:b", "30"), 35);
    expect_error(EVAL(transfer, 2, "{acct}:a", "{acct}:b", "500"), "INSUFFICIENT funds");
    expect_bulk(tcmd(c, "GET {acct}:a"), "70");
    expect_bulk(tcmd(c, "GET {acct}:b"), "35");
}

static void test_keys_across_shards(void **state)
{
    char k0[32], k1[32];
    key_on_shard(k0, sizeof k0, "x-a", 0);
    key_on_shard(k1, sizeof k1, "x-b", 1);
    expect_ok(tcmd(c, "SET %s 10", k0));
    expect_ok(tcmd(c, "SET %s 20", k1));
    const char *swap = "local a = redis.call('get', KEYS[1])\n"
                       "local b = redis.call('get', KEYS[2])\n"
                       "redis.call('set', KEYS[1], b)\n"
                       "redis.call('set', KEYS[2], a)\n"
                       "redis.call('rpush', KEYS[3], a, b)\n"
                       "return {a, b}";
    char k2[32];
    key_on_shard(k2, sizeof k2, "x-list", 1);
    struct rval *v = EVAL(swap, 3, k0, k1, k2);
    expect_array_len(v, 2);
    assert_string_equal(v->elem[0]->str, "10");
    assert_string_equal(v->elem[1]->str, "20");
    rval_free(v);
    expect_bulk(tcmd(c, "GET %s", k0), "20");
    expect_bulk(tcmd(c, "GET %s", k1), "10");
    expect_int(tcmd(c, "LLEN %s", k2), 2);
    /* deleting across shards */
    expect_int(EVAL("return redis.call('del', KEYS[1], KEYS[2])", 2, k0, k1), 2);
    expect_int(tcmd(c, "EXISTS %s %s", k0, k1), 0);
}

/* A script touches keys it did not declare wherever they are, as Redis
 * lets it (ringkv: it holds every other shard for it) */
static void test_undeclared_keys_of_other_shards(void **state)
{
    char k0[32], k1[32], k2[32], k3[32];
    key_on_shard(k0, sizeof k0, "nl-a", 0);
    key_on_shard(k1, sizeof k1, "nl-b", 1);
    key_on_shard(k2, sizeof k2, "nl-c", 0);
    key_on_shard(k3, sizeof k3, "nl-d", 1);
    char script[256];
    snprintf(script, sizeof script, "return redis.call('set', '%s', 'v')", k1);
    expect_ok(EVAL(script, 1, k0));
    expect_bulk(tcmd(c, "GET %s", k1), "v");
    /* a read first, the same script a second time (it holds from its start) */
    snprintf(script, sizeof script, "return {redis.call('get', '%s'), redis.call('incr', '%s')}", k1, k3);
    for (int i = 1; i <= 2; i++) {
        struct rval *v = EVAL(script, 1, k0);
        expect_array_len(v, 2);
        assert_string_equal(v->elem[0]->str, "v");
        assert_int_equal(v->elem[1]->integer, i);
        rval_free(v);
    }
    /* pcall gets another shard's error as a table, and the script goes on */
    expect_ok(tcmd(c, "SET %s text", k3));
    snprintf(script, sizeof script, "return redis.pcall('incr', '%s')['err']", k3);
    expect_bulk(EVAL(script, 1, k0), "ERR value is not an integer or out of range");
    /* over declared keys of several shards, and undeclared ones */
    snprintf(script, sizeof script,
             "redis.call('set', '%s', KEYS[1] .. KEYS[2]) return redis.call('get', '%s')", k2, k2);
    struct rval *v = EVAL(script, 2, k0, k1);
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    assert_true(strlen(v->str) == strlen(k0) + strlen(k1));
    rval_free(v);
    /* commands over undeclared keys of several shards */
    snprintf(script, sizeof script,
             "redis.call('mset', '%s', 'x', '%s', 'y') redis.call('rename', '%s', '%s') "
             "redis.call('rpush', '%s', 'e') redis.call('lmove', '%s', '%s', 'left', 'right') "
             "return redis.call('mget', '%s', '%s', '%s')",
             k0, k1, k1, k3, k0 /* a string: WRONGTYPE below */, k2, k3, k0, k1, k3);
    expect_error_prefix(EVAL(script, 0), "WRONGTYPE");
    expect_bulk(tcmd(c, "GET %s", k3), "y"); /* what ran before the error stays, as in Redis */
    expect_int(tcmd(c, "EXISTS %s", k1), 0);
    expect_int(tcmd(c, "DEL %s %s", k0, k2), 2);
    snprintf(script, sizeof script,
             "redis.call('rpush', '%s', 'e1', 'e2') redis.call('lmove', '%s', '%s', 'left', 'right') "
             "return {redis.call('lrange', '%s', 0, -1), redis.call('lrange', '%s', 0, -1)}",
             k0, k0, k1, k0, k1);
    v = EVAL(script, 0);
    expect_array_len(v, 2);
    expect_array_len(v->elem[0], 1);
    assert_string_equal(v->elem[0]->elem[0]->str, "e2");
    expect_array_len(v->elem[1], 1);
    assert_string_equal(v->elem[1]->elem[0]->str, "e1");
    rval_free(v);
    expect_int(tcmd(c, "LLEN %s", k1), 1);
    /* LMOVE's checks in Redis's order: a missing source, then the types */
    snprintf(script, sizeof script, "return redis.call('lmove', KEYS[1], KEYS[2], 'right', 'left')");
    expect_nil(EVAL(script, 2, k2, k1));
    expect_ok(tcmd(c, "SET %s s", k3));
    expect_error_prefix(EVAL(script, 2, k0, k3), "WRONGTYPE");
    expect_error_prefix(EVAL(script, 2, k3, k2), "WRONGTYPE");
    expect_int(tcmd(c, "LLEN %s", k0), 1);
    expect_error_prefix(EVAL("return redis.call('lmove', KEYS[1], KEYS[2], 'up', 'left')", 2, k0, k1),
                        "ERR syntax error");
    snprintf(script, sizeof script, "return redis.call('rpoplpush', KEYS[1], KEYS[2])");
    expect_bulk(EVAL(script, 2, k0, k1), "e2");
    expect_int(tcmd(c, "EXISTS %s", k0), 0);
    v = tcmd(c, "LRANGE %s 0 -1", k1);
    expect_array_len(v, 2);
    assert_string_equal(v->elem[0]->str, "e2");
    assert_string_equal(v->elem[1]->str, "e1");
    rval_free(v);
    /* inside a transaction */
    expect_ok(tcmd(c, "MULTI"));
    snprintf(script, sizeof script, "return redis.call('incrby', '%s', 5)", k2);
    const char *eval_in_tx[] = { "EVAL", script, "1", k1 };
    tsendv(c, 4, eval_in_tx);
    expect_status(tread(c, 5000), "QUEUED");
    v = tcmd(c, "EXEC");
    expect_array_len(v, 1);
    assert_int_equal(v->elem[0]->type, R_INT);
    assert_int_equal(v->elem[0]->integer, 5);
    rval_free(v);
    /* commands that run on every shard are refused (ringkv only) */
    if (!target_is_redis())
        expect_error_prefix(EVAL("return redis.call('keys', '*')", 0), "ERR This command runs on the connection");
}

/* Scripts moving amounts between two undeclared keys of different shards,
 * a script reading both, plain writers and saves, all at once: no reader
 * sees a move half done, nothing is lost, nothing waits for ever. */
/* procs child processes, each with a connection of its own, run
 * round(x, k, i) for i in 0..rounds-1 until one answers false (the child
 * prints why and exits 1); the test fails unless every child got through. */
static void run_procs(int procs, int rounds, bool (*round)(tconn *x, int k, int i))
{
    pid_t kids[16];
    assert_true(procs <= 16);
    fflush(NULL);
    for (int k = 0; k < procs; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] != 0)
            continue;
        tconn *x = tconnect(srv.port);
        for (int i = 0; i < rounds; i++)
            if (!round(x, k, i))
                _exit(1);
        tclose(x);
        _exit(0);
    }
    for (int k = 0; k < procs; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

/* A reply a round of run_procs checked: false, after saying why. */
static bool round_ok(struct rval *v, bool ok, int k, int i)
{
    if (!ok)
        fprintf(stderr, "process %d round %d: %s\n", k, i, v ? (v->str ? v->str : "(int)") : "no reply");
    rval_free(v);
    return ok;
}

/* Scripts that hold every shard, one after another for longer than any
 * bound on a wait for keys (1 s): each waits for the shards as long as the
 * ones before it hold them, as a client of a busy Redis waits, and runs.
 * (A wait for the hold that ended in -TRYAGAIN after 1 s failed BullMQ's
 * jobs under load.) */
static char wait_a[32], wait_b[32];

static bool slow_round(tconn *x, int k, int i)
{
    /* touches a key of each shard, then runs for ARGV[3] microseconds */
    static const char slow[] = "local t0 = redis.call('time') "
                               "redis.call('incr', ARGV[1]) redis.call('incr', ARGV[2]) "
                               "local t repeat t = redis.call('time') "
                               "until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) >= tonumber(ARGV[3]) "
                               "return 1";
    struct rval *v = run_script(x, "EVAL", slow, 0, wait_a, wait_b, "40000", NULL);
    return round_ok(v, v && v->type == R_INT && v->integer == 1, k, i);
}

static void test_hold_waits_unbounded(void **state)
{
    char *a = wait_a, *b = wait_b;
    key_on_shard(a, sizeof wait_a, "wait-a", 0);
    key_on_shard(b, sizeof wait_b, "wait-b", 1);
    run_procs(8, 10, slow_round);
    struct rval *v = tcmd(c, "MGET %s %s", a, b);
    assert_non_null(v);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, "80");
    assert_string_equal(v->elem[1]->str, "80");
    rval_free(v);
}

enum { ISO_MOVERS = 2, ISO_ROUNDS = 200 };
static char iso_a[32], iso_b[32], iso_p0[32], iso_p1[32];

static bool isolated_round(tconn *x, int k, int i)
{
    static const char move[] = "local n = tonumber(ARGV[3]) "
                               "local before = tonumber(redis.call('get', ARGV[1]) or 0) "
                               "redis.call('set', ARGV[1], before - n) "
                               "redis.call('incrby', ARGV[2], n) "
                               "return redis.call('incr', KEYS[1])";
    static const char sum[] = "return tonumber(redis.call('get', ARGV[1]) or 0) + "
                              "tonumber(redis.call('get', ARGV[2]) or 0)";
    struct rval *v;
    if (k < ISO_MOVERS) { /* each counts its moves in a key of its own: declared */
        char own[32], n[16];
        snprintf(own, sizeof own, "iso-moves-%d", k);
        snprintf(n, sizeof n, "%d", 1 + i % 7);
        v = run_script(x, "EVAL", move, 1, own, iso_a, iso_b, n, NULL);
        return round_ok(v, v && v->type == R_INT && v->integer == i + 1, k, i);
    }
    if (k == ISO_MOVERS) {
        v = run_script(x, "EVAL", sum, 0, iso_a, iso_b, NULL);
        return round_ok(v, v && v->type == R_INT && v->integer == 0, k, i);
    }
    if (k == ISO_MOVERS + 1) {
        v = tcmd(x, "INCR %s", (i % 2) ? iso_p0 : iso_p1);
        return round_ok(v, v && v->type == R_INT, k, i);
    }
    /* saves while the scripts hold the shards */
    v = tcmd(x, i % 20 == 0 ? "BGSAVE" : "DBSIZE");
    return round_ok(v, v && (v->type == R_INT || v->type == R_STATUS ||
                             (v->type == R_ERROR && strstr(v->str, "in progress"))), k, i);
}

static void test_undeclared_keys_isolated(void **state)
{
    char *a = iso_a, *b = iso_b, *p0 = iso_p0, *p1 = iso_p1;
    key_on_shard(a, sizeof iso_a, "iso-a", 0);
    key_on_shard(b, sizeof iso_b, "iso-b", 1);
    key_on_shard(p0, sizeof iso_p0, "iso-p", 0);
    key_on_shard(p1, sizeof iso_p1, "iso-q", 1);
    run_procs(5, ISO_ROUNDS, isolated_round);
    long long moved = 0;
    for (int i = 0; i < ISO_ROUNDS; i++)
        moved += 1 + i % 7;
    moved *= ISO_MOVERS;
    char want[32];
    snprintf(want, sizeof want, "%lld", moved);
    expect_bulk(tcmd(c, "GET %s", b), want);
    snprintf(want, sizeof want, "%lld", -moved);
    expect_bulk(tcmd(c, "GET %s", a), want);
    expect_bulk(tcmd(c, "GET %s", p0), "100");
    expect_bulk(tcmd(c, "GET %s", p1), "100");
    wait_bgsave_done(c);
}

static void test_time_and_ping_from_script(void **state)
{
    /* a rate limiter's use: the seconds and microseconds of TIME */
    struct rval *v = EVAL("local t = redis.call('time') return {t[1], t[2], type(t[1])}", 0);
    expect_array_len(v, 3);
    assert_true(atoll(v->elem[0]->str) > 1600000000LL);
    assert_true(atoll(v->elem[1]->str) >= 0 && atoll(v->elem[1]->str) < 1000000);
    assert_string_equal(v->elem[2]->str, "string");
    rval_free(v);
    /* connection commands that need nothing of the connection */
    expect_status(EVAL("return redis.call('ping')", 0), "PONG");
    expect_bulk(EVAL("return redis.call('echo', 'hi')", 0), "hi");
    expect_status(EVAL("return redis.call('select', 0)", 0), "OK");
}

static void test_script_in_transaction(void **state)
{
    expect_ok(tcmd(c, "MULTI"));
    expect_status(EVAL("return redis.call('incr', KEYS[1])", 1, "tx"), "QUEUED");
    expect_status(EVAL("return redis.call('incr', KEYS[1])", 1, "tx"), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    expect_array_len(v, 2);
    assert_int_equal(v->elem[1]->integer, 2);
    rval_free(v);
}

/* CLIENT PAUSE WRITE holds EVAL and EVALSHA (their scripts may write:
 * Redis's may_replicate) but not EVAL_RO, until UNPAUSE. */
static void test_pause_write_holds_eval(void **state)
{
    expect_ok(tcmd(c, "SET p 1"));
    expect_ok(tcmd(c, "CLIENT PAUSE 100000 WRITE"));
    tconn *other = tconnect(srv.port);
    expect_bulk(run_script(other, "EVAL_RO", "return redis.call('get', KEYS[1])", 1, "p", NULL), "1");
    const char *argv[] = { "EVAL", "return redis.call('incr', KEYS[1])", "1", "p" };
    tsendv(other, 4, argv);
    struct rval *held = tread(other, 300);
    assert_null(held); /* held: no answer while the pause lasts */
    expect_ok(tcmd(c, "CLIENT UNPAUSE"));
    expect_int(tread(other, 10000), 2);
    tclose(other);
}

/* A reply nested deeper than can be converted: an error in place, the
 * server goes on. (Read as bytes: the harness reads 64 levels at most.) */
/* The shard thread that serves conn (CLIENT INFO's io-thread; 0 on
 * redis-server, which has one). */
static int served_by(tconn *conn)
{
    struct rval *v = tcmd(conn, "CLIENT INFO");
    const char *at = v->str ? strstr(v->str, "io-thread=") : NULL;
    int t = at ? atoi(at + strlen("io-thread=")) : 0;
    rval_free(v);
    return t;
}

/* Ask with GET of a key of conn's own shard until the answer is -BUSY (a
 * command for the busy script's shard would wait for it in ringkv). */
static void wait_busy(tconn *conn, const char *own_key)
{
    for (long long until = now_ms() + 10000;; usleep(20 * 1000)) {
        struct rval *v = tcmd(conn, "GET %s", own_key);
        bool busy = v->type == R_ERROR && strncmp(v->str, "BUSY ", 5) == 0;
        if (!busy && v->type != R_NIL)
            fail_msg("GET while a script runs: %s", rval_text(v));
        rval_free(v);
        if (busy)
            return;
        if (now_ms() > until)
            fail_msg("the script was never reported busy");
    }
}

/* A script past busy-reply-threshold: other clients get -BUSY, SCRIPT KILL
 * ends it (even one that catches errors with pcall) and its caller gets
 * Redis's error; one that wrote cannot be killed, and SHUTDOWN NOSAVE still
 * stops the server. ringkv serves SCRIPT KILL on another shard's thread
 * than the script's, so the killer's connection is chosen there. */
static void test_busy_script_kill(void **state)
{
    (void)state;
    struct server s;
    assert_int_equal(server_start(&s, NULL), 0);
    tconn *killer = tconnect(s.port), *runner = tconnect(s.port);
    int other = 1 - served_by(killer);
    char key[32], own[32];
    key_on_shard(key, sizeof key, "busy", other);     /* the script runs on the other shard */
    key_on_shard(own, sizeof own, "free", 1 - other); /* the killer's shard */
    expect_ok(tcmd(killer, "CONFIG SET busy-reply-threshold 100"));
    expect_error(tcmd(killer, "SCRIPT KILL"), "NOTBUSY No scripts in execution right now.");

    const char *loops[] = { "local i = 0 while true do i = i + 1 end",
                            "while true do pcall(function() while true do end end) end" };
    for (size_t i = 0; i < 2; i++) {
        const char *argv[] = { "EVAL", loops[i], "1", key };
        tsendv(runner, 4, argv);
        wait_busy(killer, own);
        expect_error(tcmd(killer, "PING"),
                     "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
        expect_ok(tcmd(killer, "SCRIPT KILL"));
        struct rval *v = tread(runner, 10000);
        assert_non_null(v);
        assert_int_equal(v->type, R_ERROR);
        static const char killed[] = "ERR Script killed by user with SCRIPT KILL... script: ";
        if (strncmp(v->str, killed, sizeof killed - 1) != 0)
            fail_msg("the killed script's reply: %s", v->str);
        rval_free(v);
        expect_error(tcmd(killer, "SCRIPT KILL"), "NOTBUSY No scripts in execution right now.");
        expect_nil(tcmd(killer, "GET %s", own));
        expect_nil(tcmd(runner, "GET %s", key));
    }

    const char *writer[] = { "EVAL", "redis.call('set', KEYS[1], 'w') while true do end", "1", key };
    tsendv(runner, 4, writer);
    wait_busy(killer, own);
    expect_error(tcmd(killer, "SCRIPT KILL"),
                 "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either "
                 "wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
    const char *shutdown[] = { "SHUTDOWN", "NOSAVE" };
    tsendv(killer, 2, shutdown);
    assert_true(tclosed(killer, 10000));
    assert_true(tclosed(runner, 10000));
    assert_int_equal(server_wait_exit(&s, 10000), 0);
    tclose(killer);
    tclose(runner);
}

static void test_deep_reply(void **state)
{
    const char *argv[] = { "EVAL", "local t = {} local x = t for i = 1, 5000 do x[1] = {} x = x[1] end return t", "0" };
    tsendv(c, 3, argv);
    const char *ping[] = { "PING" };
    tsendv(c, 1, ping);
    /* everything up to PING's reply, which comes last */
    size_t len = 0, cap = 1 << 16;
    char *got = malloc(cap);
    long long deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        if (len + 4096 > cap)
            got = realloc(got, cap *= 2);
        ssize_t n = read(tfd(c), got + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
        got[len] = '\0';
        if (len >= 7 && memcmp(got + len - 7, "+PONG\r\n", 7) == 0)
            break;
    }
    assert_true(len >= 7 && memcmp(got + len - 7, "+PONG\r\n", 7) == 0);
    assert_true(memcmp(got, "*1\r\n*1\r\n", 8) == 0);
    free(got);
}

/* ---- replication: the replica gets the script's writes ---- */

static void test_replica_gets_script_writes(void **state)
{
    struct server *r = node_start(NULL);
    tconn *rc = tconnect(r->port);
    replicaof(rc, srv.port);
    wait_synced(c, rc, 10000);
    char k0[32], k1[32];
    key_on_shard(k0, sizeof k0, "rp-a", 0);
    key_on_shard(k1, sizeof k1, "rp-b", 1);
    expect_int(EVAL("redis.call('set', KEYS[1], 'one') redis.call('hset', KEYS[2], 'f', 'v') "
                    "return redis.call('incrby', KEYS[3], 5)", 3, k0, "{rp-a}h", "{rp-a}n"), 5);
    expect_ok(EVAL("return redis.call('set', KEYS[1], 'two')", 1, k1));
    expect_int(EVAL("redis.call('set', KEYS[1], 'x') return redis.call('append', KEYS[2], 'y')", 2, k0, k1), 4);
    expect_ok(EVAL("return redis.call('set', KEYS[1], ARGV[1], 'PX', 100000)", 1, "{rp-a}ttl", "t"));
    wait_synced(c, rc, 10000);
    expect_bulk(tcmd(rc, "GET %s", k0), "x");
    expect_bulk(tcmd(rc, "GET %s", k1), "twoy");
    expect_bulk(tcmd(rc, "HGET {rp-a}h f"), "v");
    expect_bulk(tcmd(rc, "GET {rp-a}n"), "5");
    assert_true(get_int(tcmd(rc, "PTTL {rp-a}ttl")) > 0);
    tclose(rc);
    nodes_teardown(state);
}

/* ---- redis-py's lock: EVALSHA of its own scripts ---- */

static void test_redis_py_lock(void **state)
{
    if (run_cmd("/usr/bin/python3 -c 'import redis' >/dev/null 2>&1", NULL) != 0)
        skip();
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "timeout 60 /usr/bin/python3 -c \"\n"
             "import redis\n"
             "r = redis.Redis(port=%d)\n"
             "a = r.lock('resource', timeout=10)\n"
             "b = r.lock('resource', timeout=10)\n"
             "assert a.acquire(blocking=False)\n"
             "assert not b.acquire(blocking=False)\n"
             "assert a.owned() and not b.owned()\n"
             "a.extend(5)\n"
             "a.release()\n"
             "assert b.acquire(blocking=False)\n"
             "b.release()\n"
             "print('lock ok')\n"
             "\" 2>&1 </dev/null",
             srv.port);
    int st = run_cmd(cmd, &out);
    if (st != 0 || !out || !strstr(out, "lock ok"))
        fail_msg("redis-py lock: status %d, output: %s", st, out ? out : "");
    free(out);
}

/* A script runs in its caller's database, its calls on another shard's
 * keys too (ringkv with two shards). SELECT in it (Redis 7) selects
 * another database for the rest of the script, its calls on either shard
 * included, and not for its caller; an invalid one is SELECT's error. */
static void test_script_database(void **state)
{
    (void)state;
    struct server s2;
    static const char *const args[] = { "--threads", "2", NULL };
    assert_int_equal(server_start(&s2, target_is_redis() ? NULL : args), 0);
    tconn *d = tconnect(s2.port);
    char a[64], b[64];
    keys_on_two_shards(d, "sc", a, b, sizeof a);
    expect_ok(tcmd(d, "SELECT 3"));
    const char *set[] = { "EVAL",
                          "redis.call('SET',KEYS[1],'1') redis.call('SET',ARGV[1],'2') "
                          "return redis.call('SELECT','3')",
                          "1", a, b };
    tsendv(d, 5, set);
    expect_ok(tread(d, 5000));
    expect_int(tcmd(d, "DBSIZE"), 2);
    expect_bulk(tcmd(d, "GET %s", b), "2");
    const char *get[] = { "EVAL", "return redis.call('GET',ARGV[1])", "0", b };
    tsendv(d, 4, get);
    expect_bulk(tread(d, 5000), "2");
    /* SELECT 4 for the rest of the script: writes on both shards land in
     * 4, a read sees 4's keys; SELECT 3 again, then a write in 3 */
    const char *sel[] = { "EVAL",
                          "assert(redis.call('SELECT','4').ok == 'OK') "
                          "redis.call('SET',KEYS[1],'four') redis.call('SET',ARGV[1],'four') "
                          "local g = redis.call('GET',ARGV[1]) redis.call('SELECT','3') "
                          "redis.call('INCR',ARGV[1]) return g",
                          "1", a, b };
    tsendv(d, 5, sel);
    expect_bulk(tread(d, 5000), "four");
    expect_int(tcmd(d, "DBSIZE"), 2); /* the caller is still in 3 */
    expect_bulk(tcmd(d, "GET %s", a), "1");
    expect_bulk(tcmd(d, "GET %s", b), "3");
    /* a script that SELECTs and fails leaves the caller in its database too */
    const char *fail[] = { "EVAL", "redis.call('SELECT','5') redis.call('SET',ARGV[1],'x') error('boom')", "0", b };
    tsendv(d, 4, fail);
    struct rval *v = tread(d, 5000);
    assert_non_null(v);
    assert_int_equal(v->type, R_ERROR);
    rval_free(v);
    expect_bulk(tcmd(d, "GET %s", b), "3");
    /* invalid ones: SELECT's own errors; the database stays the script's */
    const char *bad[] = { "EVAL",
                          "local r = redis.pcall('SELECT','99') local r2 = redis.pcall('SELECT','x') "
                          "return {r.err, r2.err, redis.call('GET',ARGV[1])}",
                          "0", b };
    tsendv(d, 4, bad);
    v = tread(d, 5000);
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 3);
    assert_string_equal(v->elem[0]->str, "ERR DB index is out of range");
    assert_string_equal(v->elem[1]->str, "ERR value is not an integer or out of range");
    assert_string_equal(v->elem[2]->str, "3");
    rval_free(v);
    expect_ok(tcmd(d, "SELECT 4"));
    expect_int(tcmd(d, "DBSIZE"), 2);
    expect_bulk(tcmd(d, "GET %s", a), "four");
    expect_ok(tcmd(d, "SELECT 5"));
    expect_bulk(tcmd(d, "GET %s", b), "x");
    expect_ok(tcmd(d, "SELECT 0"));
    expect_int(tcmd(d, "DBSIZE"), 0);
    tclose(d);
    assert_int_equal(server_stop(&s2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_return_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replies_in_lua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_and_argv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_and_pcall_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numkeys_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shebang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evalsha_on_each_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_exists_and_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_scripts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_globals_protected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmsgpack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_struct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_tag_keys_one_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_across_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undeclared_keys_of_other_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undeclared_keys_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_waits_unbounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_and_ping_from_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_in_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_write_holds_eval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_reply, setup, teardown),
        cmocka_unit_test(test_busy_script_kill),
        cmocka_unit_test_setup_teardown(test_replica_gets_script_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_py_lock, setup, teardown),
        cmocka_unit_test(test_script_database),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
