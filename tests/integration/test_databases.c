/* Several databases (SELECT 0..databases-1, 16 by default) as a Redis 7
 * user relies on them: SELECT's range and errors, --databases, the same key
 * name independent per database (DBSIZE KEYS SCAN RANDOMKEY EXISTS, expiry),
 * FLUSHDB / FLUSHALL, MOVE, SWAPDB (every connection, a blocked client
 * served), COPY ... DB, INFO keyspace, CLIENT LIST/INFO db=, RESET, HELLO,
 * SELECT inside MULTI and inside a script, WATCH and BLPOP per database,
 * keyspace notifications' @db, MONITOR's [db addr], RDB and AOF restarts and
 * a replica (full sync and stream) keeping every key in its database, and
 * bad input to SELECT.
 *
 * ringkv runs with two shards (--threads 2) and the tests use several keys
 * (keys_on_two_shards) so that both shards hold keys of each database.
 * Runs against redis-server 7 too (RINGKV_TEST_TARGET=redis): every
 * assertion is Redis's own behaviour. Files go to /tmp/rkv-dbt-<pid>-<n>,
 * removed at teardown. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "harness.h"

/* ---- servers and directories ---- */

#define MAX_SERVERS 6
static struct server servers[MAX_SERVERS];
static int nservers;
#define MAX_DIRS 4
static char dirs[MAX_DIRS][64];
static int ndirs;

/* A server with two shards on ringkv (its own flag, left out on the redis
 * target) and up to four more arguments. */
static struct server *start(const char *a1, const char *a2, const char *a3, const char *a4,
                            const char *a5, const char *a6)
{
    assert_true(nservers < MAX_SERVERS);
    struct server *s = &servers[nservers++];
    const char *args[10];
    int n = 0;
    if (!target_is_redis()) {
        args[n++] = "--threads";
        args[n++] = "2";
    }
    const char *more[] = { a1, a2, a3, a4, a5, a6 };
    for (int i = 0; i < 6 && more[i]; i++)
        args[n++] = more[i];
    args[n] = NULL;
    assert_int_equal(server_start(s, args), 0);
    return s;
}

static void stop(struct server *s)
{
    assert_int_equal(server_stop(s), 0);
}

static const char *new_dir(void)
{
    assert_true(ndirs < MAX_DIRS);
    char *d = dirs[ndirs];
    snprintf(d, sizeof dirs[0], "/tmp/rkv-dbt-%d-%d", (int)getpid(), ndirs);
    ndirs++;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", d, d);
    assert_int_equal(run_cmd(cmd, NULL), 0);
    return d;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < nservers; i++)
        if (servers[i].pid > 0)
            server_kill(&servers[i]);
    nservers = 0;
    for (int i = 0; i < ndirs; i++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dirs[i]);
        run_cmd(cmd, NULL);
    }
    ndirs = 0;
    return 0;
}

/* ---- commands and replies ---- */

/* One command given as separate arguments (spaces and quotes in them). */
static struct rval *cmdv(tconn *c, int argc, const char *const *argv)
{
    tsendv(c, argc, argv);
    struct rval *v = tread(c, 10000);
    if (!v)
        fail_msg("no reply to %s", argv[0]);
    return v;
}
#define CMD(c, ...) \
    cmdv(c, (int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *)), (const char *[]){ __VA_ARGS__ })

static void select_db(tconn *c, int db)
{
    expect_ok(tcmd(c, "SELECT %d", db));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The bulk strings of an array reply, sorted, joined by ','. malloc'd. */
static char *sorted_elems(const struct rval *v)
{
    assert_true(v->type == R_ARRAY || v->type == R_SET);
    char **s = calloc(v->n + 1, sizeof *s);
    for (size_t i = 0; i < v->n; i++)
        s[i] = v->elem[i]->str ? v->elem[i]->str : "(nil)";
    qsort(s, v->n, sizeof *s, cmp_str);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < v->n; i++)
        fprintf(f, "%s%s", i ? "," : "", s[i]);
    fclose(f);
    free(s);
    return out;
}

/* KEYS * of the connection's database, sorted and joined by ','. */
static char *keys_of(tconn *c)
{
    struct rval *v = tcmd(c, "KEYS *");
    char *s = sorted_elems(v);
    rval_free(v);
    return s;
}

static void expect_keys(tconn *c, const char *want)
{
    char *got = keys_of(c);
    if (strcmp(got, want) != 0)
        fail_msg("KEYS *: got [%s], want [%s]", got, want);
    free(got);
}

/* A full SCAN of the connection's database, sorted, joined by ','. */
static char *scan_all(tconn *c)
{
    char cursor[32] = "0";
    char *names[256];
    size_t n = 0;
    do {
        struct rval *v = tcmd(c, "SCAN %s COUNT 7", cursor);
        assert_int_equal(v->type, R_ARRAY);
        assert_int_equal(v->n, 2);
        snprintf(cursor, sizeof cursor, "%s", v->elem[0]->str);
        for (size_t i = 0; i < v->elem[1]->n; i++) {
            bool seen = false;
            for (size_t j = 0; j < n; j++)
                seen = seen || strcmp(names[j], v->elem[1]->elem[i]->str) == 0;
            if (!seen && n < 256)
                names[n++] = strdup(v->elem[1]->elem[i]->str);
        }
        rval_free(v);
    } while (strcmp(cursor, "0") != 0);
    qsort(names, n, sizeof *names, cmp_str);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s%s", i ? "," : "", names[i]);
        free(names[i]);
    }
    fclose(f);
    return out;
}

/* Every key of databases 0..ndb-1 as text: "db key type value [E]" lines,
 * keys and unordered elements sorted, E for a key with a TTL. Leaves the
 * connection in database 0. malloc'd. */
static char *snapshot(tconn *c, int ndb)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (int db = 0; db < ndb; db++) {
        select_db(c, db);
        struct rval *keys = tcmd(c, "KEYS *");
        assert_int_equal(keys->type, R_ARRAY);
        char **names = calloc(keys->n + 1, sizeof *names);
        for (size_t i = 0; i < keys->n; i++)
            names[i] = keys->elem[i]->str;
        qsort(names, keys->n, sizeof *names, cmp_str);
        for (size_t i = 0; i < keys->n; i++) {
            const char *k = names[i];
            struct rval *t = CMD(c, "TYPE", k);
            assert_int_equal(t->type, R_STATUS);
            struct rval *v = NULL;
            char *val = NULL;
            if (strcmp(t->str, "string") == 0)
                v = CMD(c, "GET", k);
            else if (strcmp(t->str, "hash") == 0)
                v = CMD(c, "HGETALL", k); /* pairs: sorted as "f=v" below */
            else if (strcmp(t->str, "list") == 0)
                v = CMD(c, "LRANGE", k, "0", "-1");
            else if (strcmp(t->str, "set") == 0)
                v = CMD(c, "SMEMBERS", k);
            else if (strcmp(t->str, "zset") == 0)
                v = CMD(c, "ZRANGE", k, "0", "-1", "WITHSCORES");
            assert_non_null(v);
            if (strcmp(t->str, "hash") == 0) {
                assert_int_equal(v->type, R_ARRAY);
                char **p = calloc(v->n / 2 + 1, sizeof *p);
                for (size_t j = 0; j + 1 < v->n; j += 2) {
                    size_t l = strlen(v->elem[j]->str) + strlen(v->elem[j + 1]->str) + 2;
                    p[j / 2] = malloc(l);
                    snprintf(p[j / 2], l, "%s=%s", v->elem[j]->str, v->elem[j + 1]->str);
                }
                qsort(p, v->n / 2, sizeof *p, cmp_str);
                size_t vl = 0;
                FILE *g = open_memstream(&val, &vl);
                for (size_t j = 0; j < v->n / 2; j++) {
                    fprintf(g, "%s%s", j ? "," : "", p[j]);
                    free(p[j]);
                }
                fclose(g);
                free(p);
            } else if (strcmp(t->str, "set") == 0) {
                val = sorted_elems(v);
            } else {
                val = rval_text(v);
            }
            long long pttl = get_int(CMD(c, "PTTL", k));
            fprintf(f, "%d %s %s %s%s\n", db, k, t->str, val, pttl >= 0 ? " E" : "");
            free(val);
            rval_free(v);
            rval_free(t);
        }
        free(names);
        rval_free(keys);
    }
    fclose(f);
    select_db(c, 0);
    return out;
}

static bool reply_has(struct rval *v, const char *needle)
{
    assert_non_null(v);
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    bool r = strstr(v->str, needle) != NULL;
    rval_free(v);
    return r;
}

static void expect_client_db(tconn *c, int db)
{
    char want[32];
    snprintf(want, sizeof want, " db=%d ", db);
    struct rval *v = tcmd(c, "CLIENT INFO");
    char *t = rval_text(v);
    if (!reply_has(v, want))
        fail_msg("CLIENT INFO without '%s': %s", want, t);
    free(t);
}

/* A two-element array [key, element] (BLPOP's). */
static void expect_pop(struct rval *v, const char *key, const char *elem)
{
    if (!v)
        fail_msg("no BLPOP reply");
    if (v->type != R_ARRAY || v->n != 2)
        fail_msg("BLPOP: %s", rval_text(v));
    assert_string_equal(v->elem[0]->str, key);
    assert_string_equal(v->elem[1]->str, elem);
    rval_free(v);
}

static void wait_blocked(tconn *c, long long n)
{
    assert_int_equal(info_field_becomes(c, "clients", "blocked_clients", n, 5000), n);
}

/* ---- 1. SELECT and the databases' independence ---- */

static void test_select_range(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    expect_ok(tcmd(c, "SELECT 15"));
    expect_client_db(c, 15);
    expect_error(tcmd(c, "SELECT 16"), "ERR DB index is out of range");
    expect_error(tcmd(c, "SELECT -1"), "ERR DB index is out of range");
    expect_error(tcmd(c, "SELECT abc"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "SELECT 1.5"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "SELECT"), "ERR wrong number of arguments for 'select' command");
    expect_error(tcmd(c, "SELECT 1 2"), "ERR wrong number of arguments for 'select' command");
    expect_client_db(c, 15); /* a refused SELECT leaves the database as it was */
    tclose(c);
    stop(s);
}

/* --databases 4: databases 0..3 */
static void test_databases_option(void **state)
{
    (void)state;
    struct server *s = start("--databases", "4", NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    struct rval *v = tcmd(c, "CONFIG GET databases");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[1]->str, "4");
    rval_free(v);
    expect_ok(tcmd(c, "SELECT 3"));
    expect_error(tcmd(c, "SELECT 4"), "ERR DB index is out of range");
    expect_ok(tcmd(c, "SET k v"));
    expect_error(tcmd(c, "MOVE k 4"), "ERR DB index is out of range");
    expect_error(tcmd(c, "SWAPDB 0 4"), "ERR DB index is out of range");
    expect_error(tcmd(c, "COPY k k2 DB 4"), "ERR DB index is out of range");
    expect_int(tcmd(c, "MOVE k 2"), 1);
    tclose(c);
    stop(s);
}

/* The same names in databases 0 and 1, of other types and values: each
 * database's commands see only its own keys. */
static void test_same_name_independent(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    char a[64], b[64], want[200];
    keys_on_two_shards(c, "ind", a, b, sizeof a);
    expect_ok(tcmd(c, "SET %s zero", a));
    expect_ok(tcmd(c, "SET %s zero-b", b));
    expect_ok(tcmd(c, "SET only0 x"));
    select_db(c, 1);
    expect_int(tcmd(c, "HSET %s f one", a), 1);
    expect_int(tcmd(c, "RPUSH %s l1 l2", b), 2);

    expect_status(tcmd(c, "TYPE %s", a), "hash");
    expect_bulk(tcmd(c, "HGET %s f", a), "one");
    expect_error_prefix(tcmd(c, "GET %s", a), "WRONGTYPE");
    expect_int(tcmd(c, "LLEN %s", b), 2);
    expect_int(tcmd(c, "DBSIZE"), 2);
    expect_int(tcmd(c, "EXISTS %s %s only0", a, b), 2);
    snprintf(want, sizeof want, "%s,%s", strcmp(a, b) < 0 ? a : b, strcmp(a, b) < 0 ? b : a);
    expect_keys(c, want);
    char *sc = scan_all(c);
    assert_string_equal(sc, want);
    free(sc);
    for (int i = 0; i < 10; i++) {
        struct rval *r = tcmd(c, "RANDOMKEY");
        assert_int_equal(r->type, R_BULK);
        assert_true(strcmp(r->str, a) == 0 || strcmp(r->str, b) == 0);
        rval_free(r);
    }

    select_db(c, 0);
    expect_status(tcmd(c, "TYPE %s", a), "string");
    expect_bulk(tcmd(c, "GET %s", a), "zero");
    expect_bulk(tcmd(c, "GET %s", b), "zero-b");
    expect_int(tcmd(c, "DBSIZE"), 3);
    expect_int(tcmd(c, "EXISTS %s %s only0", a, b), 3);
    {
        char *ks[] = { a, b, "only0" };
        qsort(ks, 3, sizeof *ks, cmp_str);
        snprintf(want, sizeof want, "%s,%s,%s", ks[0], ks[1], ks[2]);
    }
    expect_keys(c, want);
    sc = scan_all(c);
    assert_string_equal(sc, want);
    free(sc);

    /* an empty database: nothing of the others */
    select_db(c, 2);
    expect_int(tcmd(c, "DBSIZE"), 0);
    expect_nil(tcmd(c, "RANDOMKEY"));
    expect_keys(c, "");
    sc = scan_all(c);
    assert_string_equal(sc, "");
    free(sc);
    expect_int(tcmd(c, "EXISTS %s %s only0", a, b), 0);
    /* DEL in one database leaves the other's key */
    select_db(c, 1);
    expect_int(tcmd(c, "DEL %s", a), 1);
    select_db(c, 0);
    expect_bulk(tcmd(c, "GET %s", a), "zero");
    tclose(c);
    stop(s);
}

/* A key with a TTL in database 3 expires (active expiry: DBSIZE goes to 0
 * without the key being touched); the same names in database 0 stay. */
static void test_expiry_per_db(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "ex", a, b, sizeof a);
    expect_ok(tcmd(c, "MSET %s keep0 %s keep0b", a, b));
    select_db(c, 3);
    expect_ok(tcmd(c, "SET %s gone PX 200", a));
    expect_ok(tcmd(c, "SET %s gone PX 200", b));
    expect_int(tcmd(c, "DBSIZE"), 2);
    long long deadline = now_ms() + 5000, n;
    while ((n = get_int(tcmd(c, "DBSIZE"))) != 0 && now_ms() < deadline)
        usleep(50000);
    assert_int_equal(n, 0);
    expect_int(tcmd(c, "EXISTS %s %s", a, b), 0);
    select_db(c, 0);
    expect_int(tcmd(c, "DBSIZE"), 2);
    expect_bulk(tcmd(c, "GET %s", a), "keep0");
    expect_bulk(tcmd(c, "GET %s", b), "keep0b");
    expect_int(tcmd(c, "TTL %s", a), -1);
    /* and the other way round: a TTL in database 0 leaves database 3's */
    expect_int(tcmd(c, "PEXPIRE %s 100", a), 1);
    select_db(c, 3);
    expect_ok(tcmd(c, "SET %s stays", a));
    usleep(300000);
    expect_bulk(tcmd(c, "GET %s", a), "stays");
    select_db(c, 0);
    expect_nil(tcmd(c, "GET %s", a));
    tclose(c);
    stop(s);
}

/* ---- 2. FLUSHDB and FLUSHALL ---- */

static void test_flushdb_flushall(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "fl", a, b, sizeof a);
    for (int db = 0; db < 4; db++) {
        select_db(c, db);
        expect_ok(tcmd(c, "MSET %s 1 %s 2 k%d 3", a, b, db));
    }
    select_db(c, 1);
    expect_ok(tcmd(c, "FLUSHDB"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    select_db(c, 2);
    expect_ok(tcmd(c, "FLUSHDB ASYNC"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    expect_int(tcmd(c, "EXISTS %s %s k2", a, b), 0);
    select_db(c, 3);
    expect_ok(tcmd(c, "FLUSHDB SYNC"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    expect_error(tcmd(c, "FLUSHDB foo"), "ERR syntax error");
    select_db(c, 0);
    expect_int(tcmd(c, "DBSIZE"), 3);
    expect_bulk(tcmd(c, "GET %s", b), "2");
    /* another connection's FLUSHDB in its database leaves this one's */
    tconn *o = tconnect(s->port);
    select_db(o, 5);
    expect_ok(tcmd(o, "SET x y"));
    expect_ok(tcmd(o, "FLUSHDB"));
    expect_int(tcmd(c, "DBSIZE"), 3);
    /* FLUSHALL: every database, whichever the connection is in */
    select_db(c, 6);
    expect_ok(tcmd(c, "SET %s six", a));
    select_db(o, 7);
    expect_ok(tcmd(o, "FLUSHALL"));
    for (int db = 0; db < 16; db++) {
        select_db(c, db);
        expect_int(tcmd(c, "DBSIZE"), 0);
    }
    select_db(c, 0);
    expect_ok(tcmd(c, "SET %s 1", a));
    select_db(c, 9);
    expect_ok(tcmd(c, "SET %s 1", b));
    expect_ok(tcmd(o, "FLUSHALL ASYNC"));
    expect_int(tcmd(c, "DBSIZE"), 0);
    select_db(c, 0);
    expect_int(tcmd(c, "DBSIZE"), 0);
    tclose(o);
    tclose(c);
    stop(s);
}

/* ---- 3. MOVE ---- */

static void test_move(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "mv", a, b, sizeof a);
    expect_ok(tcmd(c, "SET %s v EX 1000", a));
    expect_ok(tcmd(c, "SET %s w", b));
    expect_int(tcmd(c, "MOVE %s 3", a), 1);
    expect_int(tcmd(c, "MOVE %s 3", b), 1);
    expect_int(tcmd(c, "EXISTS %s %s", a, b), 0);
    expect_int(tcmd(c, "MOVE %s 3", a), 0);            /* the source lacks it */
    select_db(c, 3);
    expect_bulk(tcmd(c, "GET %s", a), "v");
    long long ttl = get_int(tcmd(c, "TTL %s", a));     /* the TTL kept */
    assert_true(ttl > 990 && ttl <= 1000);
    expect_int(tcmd(c, "TTL %s", b), -1);
    select_db(c, 0);
    expect_ok(tcmd(c, "SET %s other", a));
    expect_int(tcmd(c, "MOVE %s 3", a), 0);            /* the target has it */
    expect_bulk(tcmd(c, "GET %s", a), "other");        /* both left as they were */
    select_db(c, 3);
    expect_bulk(tcmd(c, "GET %s", a), "v");
    select_db(c, 0);
    expect_error(tcmd(c, "MOVE %s 0", a), "ERR source and destination objects are the same");
    expect_error(tcmd(c, "MOVE nokey 0"), "ERR source and destination objects are the same");
    expect_error(tcmd(c, "MOVE %s 16", a), "ERR DB index is out of range");
    expect_error(tcmd(c, "MOVE %s -1", a), "ERR DB index is out of range");
    expect_error(tcmd(c, "MOVE %s x", a), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "MOVE %s", a), "ERR wrong number of arguments for 'move' command");

    /* collections move whole */
    expect_int(tcmd(c, "HSET h f1 v1 f2 v2 f3 v3"), 3);
    expect_int(tcmd(c, "RPUSH l a b c d"), 4);
    expect_int(tcmd(c, "ZADD z 1 one 2 two 3 three"), 3);
    expect_int(tcmd(c, "SADD st m1 m2"), 2);
    expect_int(tcmd(c, "PEXPIRE z 500000"), 1);
    const char *colls[] = { "h", "l", "z", "st" };
    for (int i = 0; i < 4; i++)
        expect_int(tcmd(c, "MOVE %s 7", colls[i]), 1);
    expect_int(tcmd(c, "EXISTS h l z st"), 0);
    select_db(c, 7);
    expect_int(tcmd(c, "HLEN h"), 3);
    expect_bulk(tcmd(c, "HGET h f2"), "v2");
    expect_int(tcmd(c, "LLEN l"), 4);
    expect_bulk(tcmd(c, "LINDEX l 3"), "d");
    expect_int(tcmd(c, "ZCARD z"), 3);
    expect_bulk(tcmd(c, "ZSCORE z three"), "3");
    assert_true(get_int(tcmd(c, "PTTL z")) > 400000);
    expect_int(tcmd(c, "SISMEMBER st m2"), 1);
    expect_int(tcmd(c, "DBSIZE"), 4);
    tclose(c);
    stop(s);
}

/* ---- 4. SWAPDB ---- */

/* SWAPDB 0 1 by a third connection: the connections in 0 and 1 see each
 * other's data at once (every connection's view, the keys of both shards). */
static void test_swapdb(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c0 = tconnect(s->port), *c1 = tconnect(s->port), *o = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c0, "sw", a, b, sizeof a);
    expect_ok(tcmd(c0, "MSET %s zero %s zero-b z0 1", a, b));
    expect_ok(tcmd(c0, "SET e0 v EX 1000"));
    select_db(c1, 1);
    expect_ok(tcmd(c1, "MSET %s one %s one-b", a, b));
    expect_int(tcmd(c1, "HSET h1 f v"), 1);
    select_db(o, 9);
    expect_ok(tcmd(o, "SWAPDB 0 1"));
    expect_bulk(tcmd(c0, "GET %s", a), "one");
    expect_bulk(tcmd(c0, "GET %s", b), "one-b");
    expect_bulk(tcmd(c0, "HGET h1 f"), "v");
    expect_int(tcmd(c0, "DBSIZE"), 3);
    expect_bulk(tcmd(c1, "GET %s", a), "zero");
    expect_bulk(tcmd(c1, "GET %s", b), "zero-b");
    expect_int(tcmd(c1, "DBSIZE"), 4);
    long long ttl = get_int(tcmd(c1, "TTL e0")); /* TTLs go with their database */
    assert_true(ttl > 990 && ttl <= 1000);
    expect_client_db(c0, 0);                     /* connections keep their numbers */
    expect_client_db(c1, 1);
    /* with an empty database */
    expect_ok(tcmd(o, "SWAPDB 1 12"));
    expect_int(tcmd(c1, "DBSIZE"), 0);
    select_db(c1, 12);
    expect_bulk(tcmd(c1, "GET %s", a), "zero");
    /* with itself: nothing changes */
    expect_ok(tcmd(o, "SWAPDB 0 0"));
    expect_bulk(tcmd(c0, "GET %s", a), "one");

    expect_error(tcmd(o, "SWAPDB x 1"), "ERR invalid first DB index");
    expect_error(tcmd(o, "SWAPDB 1 x"), "ERR invalid second DB index");
    expect_error(tcmd(o, "SWAPDB 1 16"), "ERR DB index is out of range");
    expect_error(tcmd(o, "SWAPDB -1 1"), "ERR DB index is out of range");
    expect_error(tcmd(o, "SWAPDB 1 99999999999999999999"), "ERR invalid second DB index");
    expect_error(tcmd(o, "SWAPDB 1"), "ERR wrong number of arguments for 'swapdb' command");
    tclose(o);
    tclose(c1);
    tclose(c0);
    stop(s);
}

/* A client blocked in BLPOP q in database 1 is served when SWAPDB brings a
 * list q into database 1 (Redis 7 serves it). */
static void test_swapdb_serves_blocked(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port), *w = tconnect(s->port);
    select_db(w, 1);
    expect_ok(tcmd(w, "SET other 1"));
    tsendv(w, 3, (const char *[]){ "BLPOP", "q", "10" });
    wait_blocked(c, 1);
    expect_int(tcmd(c, "RPUSH q x y"), 2);       /* database 0: no wake */
    assert_null(tread(w, 200));
    expect_ok(tcmd(c, "SWAPDB 0 1"));
    expect_pop(tread(w, 5000), "q", "x");
    /* the list is now database 1's, one element popped */
    expect_bulk(tcmd(w, "LPOP q"), "y");
    expect_int(tcmd(c, "DBSIZE"), 1);            /* database 0 now holds 'other' */
    expect_int(tcmd(c, "EXISTS other"), 1);
    tclose(w);
    tclose(c);
    stop(s);
}

/* ---- 5. COPY ... DB ---- */

static void test_copy_db(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "cp", a, b, sizeof a);
    expect_ok(tcmd(c, "SET %s v1 EX 1000", a));
    expect_int(tcmd(c, "COPY %s %s DB 4", a, b), 1);     /* another name, another shard */
    expect_int(tcmd(c, "COPY %s %s DB 4", a, a), 1);     /* the same name */
    expect_bulk(tcmd(c, "GET %s", a), "v1");             /* the source stays */
    expect_int(tcmd(c, "EXISTS %s", b), 0);
    expect_int(tcmd(c, "COPY %s %s DB 4", a, b), 0);     /* there already */
    expect_ok(tcmd(c, "SET %s v2", a));
    expect_int(tcmd(c, "COPY %s %s DB 4", a, b), 0);
    expect_int(tcmd(c, "COPY %s %s DB 4 REPLACE", a, b), 1);
    expect_int(tcmd(c, "COPY nokey %s DB 4", b), 0);
    expect_int(tcmd(c, "COPY nokey %s DB 4 REPLACE", b), 0);
    expect_error(tcmd(c, "COPY %s %s DB 0", a, a), "ERR source and destination objects are the same");
    expect_error(tcmd(c, "COPY %s %s DB 16", a, b), "ERR DB index is out of range");
    expect_error(tcmd(c, "COPY %s %s DB x", a, b), "ERR value is not an integer or out of range");
    expect_int(tcmd(c, "ZADD z 1 a 2 b"), 2);
    expect_int(tcmd(c, "COPY z z DB 4"), 1);
    expect_int(tcmd(c, "ZADD z 3 c"), 1);                /* the copy is its own */
    select_db(c, 4);
    expect_bulk(tcmd(c, "GET %s", b), "v2");
    expect_int(tcmd(c, "TTL %s", b), -1);                /* REPLACE by v2, which has none */
    expect_bulk(tcmd(c, "GET %s", a), "v1");
    long long ttl = get_int(tcmd(c, "TTL %s", a));       /* COPY keeps the TTL */
    assert_true(ttl > 990 && ttl <= 1000);
    expect_int(tcmd(c, "ZCARD z"), 2);
    expect_int(tcmd(c, "DBSIZE"), 3);
    /* from database 4 into 0 */
    expect_int(tcmd(c, "COPY z z2 DB 0"), 1);
    select_db(c, 0);
    expect_int(tcmd(c, "ZCARD z2"), 2);
    tclose(c);
    stop(s);
}

/* ---- 6. INFO keyspace ---- */

static void test_info_keyspace(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    struct rval *v = tcmd(c, "INFO keyspace");
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    assert_null(strstr(v->str, "db"));                    /* nothing when all are empty */
    rval_free(v);
    char a[64], b[64];
    keys_on_two_shards(c, "ik", a, b, sizeof a);
    expect_ok(tcmd(c, "SET %s 1 EX 1000", a));
    expect_ok(tcmd(c, "SET %s 2", b));
    select_db(c, 3);
    expect_ok(tcmd(c, "SET %s 3", a));
    select_db(c, 15);
    expect_int(tcmd(c, "RPUSH %s x", b), 1);
    expect_int(tcmd(c, "SADD %s x", a), 1);
    expect_int(tcmd(c, "EXPIRE %s 1000", a), 1);
    v = tcmd(c, "INFO keyspace");
    const char *t = v->str;
    assert_non_null(strstr(t, "# Keyspace\r\n"));
    assert_non_null(strstr(t, "\r\ndb0:keys=2,expires=1,avg_ttl="));
    assert_non_null(strstr(t, "\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"));
    assert_non_null(strstr(t, "\r\ndb15:keys=2,expires=1,avg_ttl="));
    int lines = 0;
    for (const char *p = t; (p = strstr(p, "\r\ndb")) != NULL; p += 4)
        lines++;
    assert_int_equal(lines, 3);                            /* none for the empty ones */
    /* in order of database number */
    assert_true(strstr(t, "db0:") < strstr(t, "db3:") && strstr(t, "db3:") < strstr(t, "db15:"));
    rval_free(v);
    /* INFO's whole text has the same lines */
    v = tcmd(c, "INFO");
    assert_non_null(strstr(v->str, "\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"));
    rval_free(v);
    select_db(c, 3);
    expect_ok(tcmd(c, "FLUSHDB"));
    v = tcmd(c, "INFO keyspace");
    assert_null(strstr(v->str, "db3:"));
    assert_non_null(strstr(v->str, "db0:keys=2"));
    assert_non_null(strstr(v->str, "db15:keys=2"));
    rval_free(v);
    tclose(c);
    stop(s);
}

/* ---- 7. CLIENT LIST / INFO, RESET, HELLO ---- */

static void test_client_db_reset_hello(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port), *o = tconnect(s->port);
    expect_client_db(c, 0);
    select_db(c, 5);
    expect_ok(tcmd(c, "SET k five"));
    expect_client_db(c, 5);
    long long id = get_int(tcmd(c, "CLIENT ID"));
    struct rval *v = tcmd(o, "CLIENT LIST");
    assert_true(v->type == R_BULK || v->type == R_VERBATIM);
    char want[64];
    snprintf(want, sizeof want, "id=%lld ", id);
    const char *line = strstr(v->str, want);
    assert_non_null(line);
    size_t n = strcspn(line, "\n");
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)n, line);
    if (!strstr(buf, " db=5 "))
        fail_msg("CLIENT LIST line without db=5: %s", buf);
    rval_free(v);
    v = tcmd(o, "CLIENT LIST ID %lld", id);
    assert_non_null(strstr(v->str, " db=5 "));
    rval_free(v);
    expect_client_db(o, 0);

    /* HELLO keeps the database, in either protocol */
    v = tcmd(c, "HELLO 3");
    assert_true(v->type == R_MAP);
    rval_free(v);
    expect_client_db(c, 5);
    expect_bulk(tcmd(c, "GET k"), "five");
    v = tcmd(c, "HELLO 2");
    assert_true(v->type == R_ARRAY);
    rval_free(v);
    expect_client_db(c, 5);
    expect_bulk(tcmd(c, "GET k"), "five");

    /* RESET selects database 0 */
    expect_status(tcmd(c, "RESET"), "RESET");
    expect_client_db(c, 0);
    expect_nil(tcmd(c, "GET k"));
    tclose(o);
    tclose(c);
    stop(s);
}

/* ---- 8. SELECT inside MULTI ---- */

/* The commands queued after SELECT run in the database it selects, and
 * the connection stays there after EXEC (Redis 7). */
static void test_multi_select(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "mu", a, b, sizeof a);
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %s in0", a), "QUEUED");
    expect_status(tcmd(c, "SELECT 1"), "QUEUED");
    expect_status(tcmd(c, "SET %s in1", a), "QUEUED");
    expect_status(tcmd(c, "SET %s in1b", b), "QUEUED");
    expect_status(tcmd(c, "DBSIZE"), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 5);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(v->elem[i]->type, R_STATUS);
        assert_string_equal(v->elem[i]->str, "OK");
    }
    assert_int_equal(v->elem[4]->type, R_INT);
    assert_int_equal(v->elem[4]->integer, 2);
    rval_free(v);
    expect_client_db(c, 1);                    /* still in database 1 */
    expect_bulk(tcmd(c, "GET %s", a), "in1");
    expect_bulk(tcmd(c, "GET %s", b), "in1b");
    tconn *o = tconnect(s->port);
    expect_bulk(tcmd(o, "GET %s", a), "in0");
    expect_int(tcmd(o, "EXISTS %s", b), 0);
    /* a SELECT refused inside MULTI (out of range) does not change it */
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SELECT 16"), "QUEUED");
    expect_status(tcmd(c, "GET %s", a), "QUEUED");
    v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->type, R_ERROR);
    assert_string_equal(v->elem[0]->str, "ERR DB index is out of range");
    assert_string_equal(v->elem[1]->str, "in1");
    rval_free(v);
    expect_client_db(c, 1);
    /* DISCARD of a transaction with a SELECT: never ran, database kept */
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SELECT 2"), "QUEUED");
    expect_ok(tcmd(c, "DISCARD"));
    expect_client_db(c, 1);
    tclose(o);
    tclose(c);
    stop(s);
}

/* ---- 9. SELECT inside a script ---- */

static void test_script_select(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "sc", a, b, sizeof a);
    select_db(c, 2);
    expect_ok(tcmd(c, "MSET %s caller %s caller-b", a, b));
    /* the script's calls after its SELECT run in database 1 */
    const char *body = "redis.call('select', 1) "
                       "redis.call('set', KEYS[1], 'script') redis.call('set', KEYS[2], 'script-b') "
                       "return {redis.call('get', KEYS[1]), redis.call('get', KEYS[2])}";
    struct rval *v = CMD(c, "EVAL", body, "2", a, b);
    if (v->type != R_ARRAY || v->n != 2)
        fail_msg("EVAL: %s", rval_text(v));
    assert_string_equal(v->elem[0]->str, "script");
    assert_string_equal(v->elem[1]->str, "script-b");
    rval_free(v);
    /* the caller is still in database 2, whose keys are untouched */
    expect_client_db(c, 2);
    expect_bulk(tcmd(c, "GET %s", a), "caller");
    expect_bulk(tcmd(c, "GET %s", b), "caller-b");
    select_db(c, 1);
    expect_bulk(tcmd(c, "GET %s", a), "script");
    expect_bulk(tcmd(c, "GET %s", b), "script-b");
    /* a script without SELECT runs in the caller's database (1 now) */
    v = CMD(c, "EVAL", "redis.call('set', KEYS[1], 'plain') return redis.call('get', KEYS[2])", "2", "plainkey", a);
    expect_bulk(v, "script");
    expect_bulk(tcmd(c, "GET plainkey"), "plain");
    select_db(c, 2);
    expect_int(tcmd(c, "EXISTS plainkey"), 0);
    /* the same through EVALSHA, the next run in the caller's database again */
    v = CMD(c, "SCRIPT", "LOAD", "redis.call('select', 7) return redis.call('incr', KEYS[1])");
    assert_int_equal(v->type, R_BULK);
    char sha[48];
    snprintf(sha, sizeof sha, "%s", v->str);
    rval_free(v);
    expect_int(CMD(c, "EVALSHA", sha, "1", "ctr"), 1);
    expect_int(CMD(c, "EVALSHA", sha, "1", "ctr"), 2);
    expect_client_db(c, 2);
    expect_int(tcmd(c, "EXISTS ctr"), 0);
    /* a SELECT out of range inside a script: an error, the caller's db kept */
    v = CMD(c, "EVAL", "return redis.call('select', 16)", "0");
    assert_int_equal(v->type, R_ERROR);
    assert_true(strncmp(v->str, "ERR DB index is out of range", 28) == 0);
    rval_free(v);
    v = CMD(c, "EVAL", "return redis.pcall('select', 16)", "0");
    expect_error(v, "ERR DB index is out of range");
    expect_client_db(c, 2);
    select_db(c, 7);
    expect_bulk(tcmd(c, "GET ctr"), "2");
    tclose(c);
    stop(s);
}

/* ---- 10. WATCH per database ---- */

static void test_watch_per_db(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port), *o = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "wa", a, b, sizeof a);
    expect_ok(tcmd(c, "MSET %s 0 %s 0", a, b));
    /* the same names written in database 1: the watch in 0 holds */
    expect_ok(tcmd(c, "WATCH %s %s", a, b));
    select_db(o, 1);
    expect_ok(tcmd(o, "SET %s other", a));
    expect_ok(tcmd(o, "SET %s other", b));
    expect_ok(tcmd(c, "MULTI"));
    expect_status(tcmd(c, "SET %s mine", a), "QUEUED");
    struct rval *v = tcmd(c, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    rval_free(v);
    expect_bulk(tcmd(c, "GET %s", a), "mine");
    /* in database 0: the transaction aborts (each of the two keys) */
    for (int i = 0; i < 2; i++) {
        const char *k = i ? b : a;
        expect_ok(tcmd(c, "WATCH %s %s", a, b));
        select_db(o, 0);
        expect_ok(tcmd(o, "SET %s theirs", k));
        expect_ok(tcmd(c, "MULTI"));
        expect_status(tcmd(c, "SET %s mine2", a), "QUEUED");
        expect_nil(tcmd(c, "EXEC"));
        expect_bulk(tcmd(c, "GET %s", k), "theirs");
    }
    tclose(o);
    tclose(c);
    stop(s);
}

/* ---- 11. BLPOP per database ---- */

static void test_blpop_per_db(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port), *w = tconnect(s->port);
    select_db(w, 1);
    tsendv(w, 3, (const char *[]){ "BLPOP", "q", "10" });
    wait_blocked(c, 1);
    expect_int(tcmd(c, "LPUSH q zero"), 1);      /* database 0: not woken */
    select_db(c, 2);
    expect_int(tcmd(c, "LPUSH q two"), 1);       /* database 2: not woken */
    assert_null(tread(w, 300));
    select_db(c, 1);
    expect_int(tcmd(c, "LPUSH q one"), 1);
    expect_pop(tread(w, 5000), "q", "one");
    select_db(c, 0);
    expect_int(tcmd(c, "LLEN q"), 1);            /* the others' lists untouched */
    select_db(c, 2);
    expect_int(tcmd(c, "LLEN q"), 1);
    /* two waiters on q in databases 3 and 4: each served by its own */
    tconn *w2 = tconnect(s->port);
    select_db(w, 3);
    select_db(w2, 4);
    tsendv(w, 3, (const char *[]){ "BLPOP", "q", "10" });
    tsendv(w2, 3, (const char *[]){ "BLPOP", "q", "10" });
    wait_blocked(c, 2);
    select_db(c, 4);
    expect_int(tcmd(c, "RPUSH q four"), 1);
    expect_pop(tread(w2, 5000), "q", "four");
    assert_null(tread(w, 200));
    select_db(c, 3);
    expect_int(tcmd(c, "RPUSH q three"), 1);
    expect_pop(tread(w, 5000), "q", "three");
    tclose(w2);
    tclose(w);
    tclose(c);
    stop(s);
}

/* ---- 12. keyspace notifications ---- */

static void expect_pmessage(tconn *sub, const char *channel, const char *payload)
{
    struct rval *m = tread(sub, 5000);
    if (!m)
        fail_msg("no message on %s", channel);
    if ((m->type != R_ARRAY && m->type != R_PUSH) || m->n != 4)
        fail_msg("not a pmessage: %s", rval_text(m));
    assert_string_equal(m->elem[0]->str, "pmessage");
    if (strcmp(m->elem[2]->str, channel) != 0 || strcmp(m->elem[3]->str, payload) != 0)
        fail_msg("got %s %s, want %s %s", m->elem[2]->str, m->elem[3]->str, channel, payload);
    rval_free(m);
}

static void test_keyspace_events(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port), *sub = tconnect(s->port), *sub5 = tconnect(s->port);
    expect_ok(tcmd(c, "CONFIG SET notify-keyspace-events KEA"));
    struct rval *v = tcmd(sub, "PSUBSCRIBE __key*__:*");
    rval_free(v);
    v = tcmd(sub5, "PSUBSCRIBE __key*@5__:*");
    rval_free(v);
    char a[64], b[64];
    keys_on_two_shards(c, "ev", a, b, sizeof a);
    expect_ok(tcmd(c, "SET %s v", a));           /* database 0 */
    select_db(c, 5);
    expect_ok(tcmd(c, "SET %s v", a));
    expect_int(tcmd(c, "DEL %s", a), 1);
    expect_ok(tcmd(c, "SET %s v", b));
    char ks[128], ev[64];
    snprintf(ks, sizeof ks, "__keyspace@0__:%s", a);
    expect_pmessage(sub, ks, "set");
    expect_pmessage(sub, "__keyevent@0__:set", a);
    snprintf(ks, sizeof ks, "__keyspace@5__:%s", a);
    expect_pmessage(sub, ks, "set");
    expect_pmessage(sub, "__keyevent@5__:set", a);
    expect_pmessage(sub, ks, "del");
    expect_pmessage(sub, "__keyevent@5__:del", a);
    snprintf(ks, sizeof ks, "__keyspace@5__:%s", b);
    expect_pmessage(sub, ks, "set");
    expect_pmessage(sub, "__keyevent@5__:set", b);
    /* the @5 subscriber heard database 5's only: its first is the SET in 5 */
    snprintf(ks, sizeof ks, "__keyspace@5__:%s", a);
    expect_pmessage(sub5, ks, "set");
    snprintf(ev, sizeof ev, "__keyevent@5__:set");
    expect_pmessage(sub5, ev, a);
    /* MOVE: move_from in the source's database, move_to in the target's */
    expect_int(tcmd(c, "MOVE %s 6", b), 1);
    snprintf(ks, sizeof ks, "__keyspace@5__:%s", b);
    expect_pmessage(sub, ks, "move_from");
    expect_pmessage(sub, "__keyevent@5__:move_from", b);
    snprintf(ks, sizeof ks, "__keyspace@6__:%s", b);
    expect_pmessage(sub, ks, "move_to");
    expect_pmessage(sub, "__keyevent@6__:move_to", b);
    expect_ok(CMD(c, "CONFIG", "SET", "notify-keyspace-events", ""));
    tclose(sub5);
    tclose(sub);
    tclose(c);
    stop(s);
}

/* ---- 13. MONITOR ---- */

static void test_monitor_db(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *m = tconnect(s->port), *c = tconnect(s->port);
    expect_ok(tcmd(m, "MONITOR"));
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(tfd(c), (struct sockaddr *)&sa, &sl), 0);
    int port = ntohs(sa.sin_port);
    char a[64], b[64];
    keys_on_two_shards(c, "mo", a, b, sizeof a);
    select_db(c, 3);
    expect_ok(tcmd(c, "SET %s v", a));
    expect_ok(tcmd(c, "SET %s w", b));
    select_db(c, 0);
    expect_nil(tcmd(c, "GET %s", a));
    char want[4][200];
    snprintf(want[0], sizeof want[0], " [3 127.0.0.1:%d] \"SET\" \"%s\" \"v\"", port, a);
    snprintf(want[1], sizeof want[1], " [3 127.0.0.1:%d] \"SET\" \"%s\" \"w\"", port, b);
    snprintf(want[2], sizeof want[2], " [0 127.0.0.1:%d] \"SELECT\" \"0\"", port);
    snprintf(want[3], sizeof want[3], " [0 127.0.0.1:%d] \"GET\" \"%s\"", port, a);
    int next = 0;
    /* lines before the first SET (keys_on_two_shards', SELECT 3) skipped */
    while (next < 4) {
        struct rval *v = tread(m, 5000);
        if (!v)
            fail_msg("no monitor line for [%s]", want[next]);
        assert_int_equal(v->type, R_STATUS);
        const char *sp = strchr(v->str, ' ');
        assert_non_null(sp);
        if (next > 0 || strcmp(sp, want[0]) == 0) {
            if (strcmp(sp, want[next]) != 0)
                fail_msg("monitor line %d: got [%s], want [...%s]", next, v->str, want[next]);
            next++;
        }
        rval_free(v);
    }
    tclose(c);
    tclose(m);
    stop(s);
}

/* ---- 14. persistence ---- */

static void fill_persisted(tconn *c, const char *a, const char *b)
{
    expect_ok(tcmd(c, "SET %s zero", a));
    expect_int(tcmd(c, "HSET %s f0 v0 g0 w0", b), 2);
    select_db(c, 2);
    expect_int(tcmd(c, "HSET %s f2 v2", a), 1);
    expect_ok(tcmd(c, "SET %s two", b));
    select_db(c, 9);
    expect_ok(tcmd(c, "SET %s nine EX 1000", a));
    expect_int(tcmd(c, "RPUSH %s l1 l2", b), 2);
    select_db(c, 0);
}

static void check_persisted(tconn *c, const char *a, const char *b)
{
    expect_bulk(tcmd(c, "GET %s", a), "zero");
    expect_bulk(tcmd(c, "HGET %s g0", b), "w0");
    expect_int(tcmd(c, "DBSIZE"), 2);
    select_db(c, 2);
    expect_bulk(tcmd(c, "HGET %s f2", a), "v2");
    expect_bulk(tcmd(c, "GET %s", b), "two");
    expect_int(tcmd(c, "DBSIZE"), 2);
    select_db(c, 9);
    expect_bulk(tcmd(c, "GET %s", a), "nine");
    long long ttl = get_int(tcmd(c, "TTL %s", a));
    assert_true(ttl > 900 && ttl <= 1000);
    expect_int(tcmd(c, "TTL %s", b), -1);
    expect_int(tcmd(c, "LLEN %s", b), 2);
    expect_int(tcmd(c, "DBSIZE"), 2);
    for (int db = 0; db < 16; db++) {
        if (db == 0 || db == 2 || db == 9)
            continue;
        select_db(c, db);
        expect_int(tcmd(c, "DBSIZE"), 0);
    }
    select_db(c, 0);
}

static void test_rdb_restart(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start("--dir", dir, "--dbfilename", "dump.rdb", NULL, NULL);
    tconn *c = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "rdb", a, b, sizeof a);
    fill_persisted(c, a, b);
    char *before = snapshot(c, 16);
    expect_ok(tcmd(c, "SAVE"));
    tclose(c);
    stop(s);
    s = start("--dir", dir, "--dbfilename", "dump.rdb", NULL, NULL);
    c = tconnect(s->port);
    check_persisted(c, a, b);
    char *after = snapshot(c, 16);
    assert_string_equal(after, before);
    free(before);
    free(after);
    tclose(c);
    stop(s);
}

static void test_aof_restart(void **state)
{
    (void)state;
    const char *dir = new_dir();
    struct server *s = start("--dir", dir, "--dbfilename", "dump.rdb", "--appendonly", "yes");
    tconn *c = tconnect(s->port), *o = tconnect(s->port);
    char a[64], b[64];
    keys_on_two_shards(c, "aof", a, b, sizeof a);
    /* writes of two connections interleaved over databases: c in 0..4, o
     * in 8 */
    select_db(o, 8);
    for (int i = 0; i < 5; i++) {
        expect_ok(tcmd(c, "SET %s c%d", i % 2 ? a : b, i));
        expect_int(tcmd(o, "RPUSH %s o%d", i % 2 ? a : b, i), (i + 2) / 2);
        select_db(c, i + 1);
    }
    /* c in 5: keys there, moved to 11 */
    expect_int(tcmd(c, "HSET h f v"), 1);
    expect_int(tcmd(c, "MOVE h 11"), 1);
    expect_ok(tcmd(c, "SET t v EX 1000"));
    /* 2 and 3 swapped; 1 flushed */
    expect_ok(tcmd(c, "SWAPDB 2 3"));
    select_db(c, 1);
    expect_ok(tcmd(c, "FLUSHDB"));
    expect_ok(tcmd(c, "SET after-flush 1"));
    expect_int(tcmd(o, "ZADD z 1 m"), 1);
    char *before = snapshot(c, 16);
    /* the expected content, spelled out */
    select_db(c, 2);
    expect_bulk(tcmd(c, "GET %s", a), "c3");   /* was database 3's */
    expect_int(tcmd(c, "EXISTS %s", b), 0);
    select_db(c, 3);
    expect_bulk(tcmd(c, "GET %s", b), "c2");   /* was database 2's */
    select_db(c, 0);
    tclose(o);
    tclose(c);
    stop(s);
    char path[200];
    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    assert_int_not_equal(access(path, F_OK), 0);  /* the AOF is what is loaded */
    s = start("--dir", dir, "--dbfilename", "dump.rdb", "--appendonly", "yes");
    c = tconnect(s->port);
    char *after = snapshot(c, 16);
    assert_string_equal(after, before);
    select_db(c, 1);
    expect_int(tcmd(c, "DBSIZE"), 1);
    expect_bulk(tcmd(c, "GET after-flush"), "1");
    select_db(c, 11);
    expect_bulk(tcmd(c, "HGET h f"), "v");
    select_db(c, 5);
    expect_int(tcmd(c, "EXISTS h"), 0);
    long long ttl = get_int(tcmd(c, "TTL t"));
    assert_true(ttl > 900 && ttl <= 1000);
    select_db(c, 8);
    expect_int(tcmd(c, "LLEN %s", b), 3);
    expect_int(tcmd(c, "LLEN %s", a), 2);
    expect_int(tcmd(c, "ZCARD z"), 1);
    select_db(c, 4);
    expect_bulk(tcmd(c, "GET %s", b), "c4");
    select_db(c, 2);
    expect_bulk(tcmd(c, "GET %s", a), "c3");
    free(before);
    free(after);
    tclose(c);
    stop(s);
}

/* ---- 15. replication ---- */

static bool link_up(tconn *r)
{
    struct rval *v = tcmd(r, "INFO replication");
    bool up = v->str && strstr(v->str, "master_link_status:up") != NULL;
    rval_free(v);
    return up;
}

/* Until the replica's link is up and both hold the same keys in every
 * database; fails with both after timeout_ms. */
static void wait_same(tconn *m, tconn *r, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *ms = snapshot(m, 16);
        char *rs = link_up(r) ? snapshot(r, 16) : strdup("(link not up)");
        bool same = strcmp(ms, rs) == 0;
        if (same) {
            free(ms);
            free(rs);
            return;
        }
        if (now_ms() > deadline)
            fail_msg("replica differs after %d ms:\nmaster:\n%s\nreplica:\n%s", timeout_ms, ms, rs);
        free(ms);
        free(rs);
        usleep(100000);
    }
}

static void test_replication(void **state)
{
    (void)state;
    struct server *m = start(NULL, NULL, NULL, NULL, NULL, NULL);
    struct server *r = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *mc = tconnect(m->port), *mo = tconnect(m->port), *rc = tconnect(r->port);
    char a[64], b[64];
    keys_on_two_shards(mc, "rp", a, b, sizeof a);
    /* before the replica attaches: the full sync carries them */
    expect_ok(tcmd(mc, "MSET %s zero %s zero-b", a, b));
    select_db(mc, 1);
    expect_int(tcmd(mc, "HSET %s f one", a), 1);
    expect_ok(tcmd(mc, "SET %s one-b", b));
    select_db(mc, 7);
    expect_int(tcmd(mc, "RPUSH %s s1 s2", a), 2);
    expect_ok(tcmd(mc, "SET %s seven EX 1000", b));
    expect_ok(tcmd(rc, "REPLICAOF 127.0.0.1 %d", m->port));
    wait_same(mc, rc, 15000);
    select_db(rc, 7);
    expect_int(tcmd(rc, "LLEN %s", a), 2);
    select_db(rc, 1);
    expect_bulk(tcmd(rc, "HGET %s f", a), "one");

    /* after: the stream carries each write in its database */
    select_db(mo, 7);
    expect_ok(tcmd(mo, "SET s7 stream"));
    select_db(mc, 1);
    expect_int(tcmd(mc, "MOVE %s 2", a), 1);           /* the hash to 2 */
    expect_ok(tcmd(mc, "SET s1 stream"));
    expect_ok(tcmd(mo, "SET s7b stream"));
    expect_ok(tcmd(mc, "SWAPDB 0 7"));
    expect_ok(tcmd(mo, "SET s0 after-swap"));          /* mo is in 7: what was 0 */
    select_db(mc, 1);
    expect_ok(tcmd(mc, "FLUSHDB"));
    select_db(mc, 0);
    expect_int(tcmd(mc, "COPY %s c4 DB 4", a), 1);    /* the list (was 7's) to 4 */
    expect_ok(tcmd(mc, "MULTI"));
    expect_status(tcmd(mc, "SET %s m0", b), "QUEUED");
    expect_status(tcmd(mc, "SELECT 5"), "QUEUED");
    expect_status(tcmd(mc, "SET %s m5", a), "QUEUED");
    expect_status(tcmd(mc, "HSET %s f m5", b), "QUEUED");
    struct rval *v = tcmd(mc, "EXEC");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 4);
    rval_free(v);
    expect_ok(tcmd(mc, "SET after-exec 5"));          /* still in 5 */
    select_db(mo, 6);
    expect_ok(tcmd(mo, "SET six 6"));
    wait_same(mc, rc, 15000);

    /* what the replica holds, spelled out */
    select_db(rc, 0);
    expect_int(tcmd(rc, "LLEN %s", a), 2);            /* 7's list, swapped in */
    expect_bulk(tcmd(rc, "GET %s", b), "m0");
    expect_bulk(tcmd(rc, "GET s7"), "stream");
    expect_int(tcmd(rc, "DBSIZE"), 4);
    select_db(rc, 1);
    expect_int(tcmd(rc, "DBSIZE"), 0);
    select_db(rc, 2);
    expect_bulk(tcmd(rc, "HGET %s f", a), "one");
    select_db(rc, 4);
    expect_int(tcmd(rc, "LLEN c4"), 2);
    select_db(rc, 5);
    expect_bulk(tcmd(rc, "GET %s", a), "m5");
    expect_bulk(tcmd(rc, "HGET %s f", b), "m5");
    expect_bulk(tcmd(rc, "GET after-exec"), "5");
    select_db(rc, 6);
    expect_bulk(tcmd(rc, "GET six"), "6");
    select_db(rc, 7);
    expect_bulk(tcmd(rc, "GET %s", a), "zero");
    expect_bulk(tcmd(rc, "GET s0"), "after-swap");
    tclose(rc);
    tclose(mo);
    tclose(mc);
    stop(r);
    stop(m);
}

/* ---- 16. bad input ---- */

static void test_select_bad_input(void **state)
{
    (void)state;
    struct server *s = start(NULL, NULL, NULL, NULL, NULL, NULL);
    tconn *c = tconnect(s->port);
    select_db(c, 4);
    /* Redis 7.0 reads the index as a long long, then as an int: past a
     * long long it is "not an integer", past an int "out of range, value
     * must between" (sic); leading zeros, spaces, '+' and hex refused */
    static const char *const not_int = "ERR value is not an integer or out of range";
    static const char *const not_int32 = "ERR value is out of range, value must between -2147483648 and 2147483647";
    static const char *const range = "ERR DB index is out of range";
    const char *bad[][2] = {
        { "99999999999999999999", not_int }, { "-99999999999999999999", not_int },
        { "9223372036854775807", not_int32 }, { "-9223372036854775808", not_int32 },
        { "2147483648", not_int32 }, { "-2147483649", not_int32 }, { "4294967296", not_int32 },
        { "2147483647", range }, { "-2147483648", range }, { "16", range },
        { "0x1", not_int }, { " 1", not_int }, { "1 ", not_int }, { "", not_int }, { "+1", not_int },
        { "01", not_int }, { "1.0", not_int }, { "1e1", not_int },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rval *v = CMD(c, "SELECT", bad[i][0]);
        if (v->type != R_ERROR || strcmp(v->str, bad[i][1]) != 0)
            fail_msg("SELECT '%s': %s, want -%s", bad[i][0], rval_text(v), bad[i][1]);
        rval_free(v);
    }
    expect_ok(tcmd(c, "SET k v"));
    expect_error(tcmd(c, "MOVE k 2147483648"), not_int32);
    expect_error(tcmd(c, "MOVE k 99999999999999999999"), not_int);
    expect_error(tcmd(c, "COPY k k2 DB 2147483648"), not_int32);
    expect_error(tcmd(c, "SWAPDB 2147483648 1"), "ERR invalid first DB index");
    expect_client_db(c, 4);
    /* the server and this connection are fine after */
    expect_status(tcmd(c, "PING"), "PONG");
    select_db(c, 0);
    expect_nil(tcmd(c, "GET k"));
    tconn *o = tconnect(s->port);
    select_db(o, 4);
    expect_bulk(tcmd(o, "GET k"), "v");
    tclose(o);
    tclose(c);
    stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_select_range, teardown),
        cmocka_unit_test_teardown(test_databases_option, teardown),
        cmocka_unit_test_teardown(test_same_name_independent, teardown),
        cmocka_unit_test_teardown(test_expiry_per_db, teardown),
        cmocka_unit_test_teardown(test_flushdb_flushall, teardown),
        cmocka_unit_test_teardown(test_move, teardown),
        cmocka_unit_test_teardown(test_swapdb, teardown),
        cmocka_unit_test_teardown(test_swapdb_serves_blocked, teardown),
        cmocka_unit_test_teardown(test_copy_db, teardown),
        cmocka_unit_test_teardown(test_info_keyspace, teardown),
        cmocka_unit_test_teardown(test_client_db_reset_hello, teardown),
        cmocka_unit_test_teardown(test_multi_select, teardown),
        cmocka_unit_test_teardown(test_script_select, teardown),
        cmocka_unit_test_teardown(test_watch_per_db, teardown),
        cmocka_unit_test_teardown(test_blpop_per_db, teardown),
        cmocka_unit_test_teardown(test_keyspace_events, teardown),
        cmocka_unit_test_teardown(test_monitor_db, teardown),
        cmocka_unit_test_teardown(test_rdb_restart, teardown),
        cmocka_unit_test_teardown(test_aof_restart, teardown),
        cmocka_unit_test_teardown(test_replication, teardown),
        cmocka_unit_test_teardown(test_select_bad_input, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
