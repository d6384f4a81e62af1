/* COMMAND against a real redis-server 7, command by command: for every
 * name in the server's COMMAND LIST that redis-server also has,
 *  - COMMAND INFO: arity, flags, first/last/step, ACL categories, tips and
 *    the key specs (notes, flags, begin_search, find_keys: all of them);
 *  - COMMAND DOCS: group, since and the arguments, compared through the
 *    hint they make (tokens, names, types, optional/multiple, nesting: what
 *    redis-cli builds its hints from), for every command the server
 *    documents (a row without a complexity is listed, not failed: rows
 *    other branches add get their docs with them);
 * and COMMAND COUNT/LIST (FILTERBY), GETKEYS, GETKEYSANDFLAGS on chosen
 * commands, with Redis's errors. The reference redis-server is started
 * here; skipped (exit 77) when it is not installed. */
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

#include "harness.h"

static struct server srv;
static pid_t ref_pid;
static int ref_port;
static tconn *c, *ref;

/* Rows whose keys are not compared: SORT's and SORT_RO's, where Redis
 * adds a spec of unknown place for BY/GET's keys (and so movablekeys on
 * SORT_RO), which ringkv refuses (README, Limitations). Their flags and
 * docs are compared. */
static const char *const keys_differ[] = { "sort", "sort_ro", NULL };
/* Rows that follow Redis 7.2 where the 7.0 this test compares with differs:
 * Z[REV]RANK take WITHSCORE (arity -3, 7.0 has 3). */
static const char *const newer[] = { "zrank", "zrevrank", NULL };
/* Flags ringkv does not show: no_async_loading (Redis refuses these
 * commands while a replica loads a full sync in the background; ringkv's
 * replica loads into staging stores and refuses none of them). */
static const char *const flags_not_shown[] = { "no_async_loading", NULL };

static bool keys_compared(const char *name)
{
    for (int i = 0; keys_differ[i]; i++)
        if (strcmp(keys_differ[i], name) == 0)
            return false;
    return true;
}

static int group_setup(void **state)
{
    (void)state;
    if (system("redis-server --version >/dev/null 2>&1") != 0)
        return -1;
    static const char *const args[] = { "--threads", "2", NULL };
    if (server_start(&srv, target_is_redis() ? NULL : args) != 0)
        return -1;
    ref_port = free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", ref_port);
    ref_pid = fork();
    if (ref_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--logfile", "/dev/null", (char *)NULL);
        _exit(127);
    }
    long long until = now_ms() + 10000;
    while (now_ms() < until) {
        char cmd[96], *out = NULL;
        snprintf(cmd, sizeof cmd, "redis-cli -p %d PING 2>/dev/null", ref_port);
        bool up = run_cmd(cmd, &out) == 0 && out && strstr(out, "PONG");
        free(out);
        if (up)
            break;
        usleep(50000);
    }
    c = tconnect(srv.port);
    ref = tconnect(ref_port);
    rval_free(tcmd(c, "HELLO 3"));
    rval_free(tcmd(ref, "HELLO 3"));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tclose(c);
    tclose(ref);
    kill(ref_pid, SIGKILL);
    waitpid(ref_pid, NULL, 0);
    return server_stop(&srv) == 0 ? 0 : -1;
}

/* The value of key in a RESP3 map, NULL if absent. */
static struct rval *map_get(const struct rval *m, const char *key)
{
    if (!m || (m->type != R_MAP && m->type != R_ARRAY))
        return NULL;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (m->elem[i]->str && strcmp(m->elem[i]->str, key) == 0)
            return m->elem[i + 1];
    return NULL;
}

static bool has_flag(const struct rval *set, const char *f)
{
    for (size_t i = 0; set && i < set->n; i++)
        if (set->elem[i]->str && strcmp(set->elem[i]->str, f) == 0)
            return true;
    return false;
}

/* Append to a growing string. */
struct text {
    char  *s;
    size_t len, cap;
};
static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, buf, (size_t)n + 1);
    t->len += (size_t)n;
}

/* The elements of a set (flags, ACL categories, tips), in the reply's
 * order, as one string; those in skip (NULL-terminated, or NULL) left
 * out. */
static void put_set(struct text *t, const struct rval *set, const char *const *skip)
{
    for (size_t i = 0; set && i < set->n; i++) {
        const char *e = set->elem[i]->str ? set->elem[i]->str : "?";
        bool skipped = false;
        for (int k = 0; skip && skip[k]; k++)
            skipped |= strcmp(skip[k], e) == 0;
        if (!skipped)
            put(t, "%s ", e);
    }
}

/* A key spec's map (begin_search's, find_keys') as "key=value ...". */
static void put_map(struct text *t, const struct rval *m)
{
    for (size_t i = 0; m && i + 1 < m->n; i += 2) {
        const struct rval *v = m->elem[i + 1];
        if (v->type == R_INT)
            put(t, "%s=%lld ", m->elem[i]->str, v->integer);
        else if (v->type == R_MAP || v->type == R_ARRAY)
            put(t, "%s=(", m->elem[i]->str), put_map(t, v), put(t, ") ");
        else
            put(t, "%s=%s ", m->elem[i]->str, v->str ? v->str : "?");
    }
}

/* COMMAND INFO of one command (its subcommands are compared by their
 * own names) as a comparable line; keys: with first/last/step, the key
 * specs and movablekeys. */
static char *info_line(const struct rval *e, bool keys)
{
    static const char *const movable[] = { "movablekeys", "no_async_loading", NULL };
    struct text t = { 0 };
    put(&t, "%s arity %lld flags ", e->elem[0]->str, e->elem[1]->integer);
    put_set(&t, e->elem[2], keys ? flags_not_shown : movable);
    put(&t, "acl ");
    put_set(&t, e->elem[6], NULL);
    put(&t, "tips ");
    put_set(&t, e->elem[7], NULL);
    if (keys) {
        put(&t, "keys %lld %lld %lld specs", e->elem[3]->integer, e->elem[4]->integer, e->elem[5]->integer);
        const struct rval *specs = e->elem[8];
        for (size_t i = 0; specs && i < specs->n; i++) {
            const struct rval *s = specs->elem[i];
            const struct rval *notes = map_get(s, "notes");
            put(&t, " {%s%s", notes ? "notes: " : "", notes ? notes->str : "");
            put_set(&t, map_get(s, "flags"), NULL);
            put(&t, "begin ");
            put_map(&t, map_get(s, "begin_search"));
            put(&t, "find ");
            put_map(&t, map_get(s, "find_keys"));
            put(&t, "}");
        }
    }
    return t.s;
}

/* An argument of COMMAND DOCS as the hint it makes. */
static void render_arg(const struct rval *a, struct text *t)
{
    const struct rval *type = map_get(a, "type"), *tok = map_get(a, "token"), *name = map_get(a, "name");
    const struct rval *flags = map_get(a, "flags"), *kids = map_get(a, "arguments");
    bool opt = has_flag(flags, "optional"), mult = has_flag(flags, "multiple");
    const char *ty = type && type->str ? type->str : "?";
    if (opt)
        put(t, "[");
    if (tok && tok->str)
        put(t, "%s%s", tok->str, strcmp(ty, "pure-token") ? " " : "");
    if (strcmp(ty, "block") == 0 || strcmp(ty, "oneof") == 0) {
        bool oneof = ty[0] == 'o';
        put(t, "%s", oneof ? "(" : mult ? "{" : "");
        for (size_t i = 0; kids && i < kids->n; i++) {
            if (i)
                put(t, "%s", oneof ? " | " : " ");
            render_arg(kids->elem[i], t);
        }
        put(t, "%s", oneof ? ")" : mult ? "}" : "");
    } else if (strcmp(ty, "pure-token") != 0) {
        put(t, "%s#%s", name && name->str ? name->str : "?", ty);
    }
    if (mult)
        put(t, "...");
    if (opt)
        put(t, "]");
}

static char *docs_line(const struct rval *d)
{
    struct text t = { 0 };
    const struct rval *group = map_get(d, "group"), *since = map_get(d, "since"), *args = map_get(d, "arguments");
    put(&t, "group %s since %s args", group && group->str ? group->str : "-", since && since->str ? since->str : "-");
    for (size_t i = 0; args && i < args->n; i++) {
        put(&t, " ");
        render_arg(args->elem[i], &t);
    }
    return t.s;
}

/* The server's COMMAND LIST. */
static struct rval *command_list(tconn *t)
{
    struct rval *v = tcmd(t, "COMMAND LIST");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    return v;
}

static void test_info_matches_redis(void **state)
{
    (void)state;
    struct rval *names = command_list(c);
    int compared = 0, differ = 0;
    for (size_t i = 0; i < names->n; i++) {
        const char *name = names->elem[i]->str;
        struct rval *a = tcmd(c, "COMMAND INFO %s", name);
        struct rval *b = tcmd(ref, "COMMAND INFO %s", name);
        assert_int_equal(a->n, 1);
        bool is_newer = false;
        for (int k = 0; newer[k]; k++)
            is_newer |= strcmp(newer[k], name) == 0;
        if (b->n == 1 && b->elem[0]->type == R_ARRAY && !is_newer) {
            assert_int_equal(a->elem[0]->type, R_ARRAY);
            bool keys = keys_compared(name);
            char *x = info_line(a->elem[0], keys), *y = info_line(b->elem[0], keys);
            if (strcmp(x, y) != 0) {
                print_message("COMMAND INFO %s:\n  server: %s\n  redis:  %s\n", name, x, y);
                differ++;
            }
            compared++;
            free(x);
            free(y);
        }
        rval_free(a);
        rval_free(b);
    }
    rval_free(names);
    print_message("COMMAND INFO compared for %d commands\n", compared);
    assert_true(compared > 100);
    assert_int_equal(differ, 0);
}

static void test_docs_match_redis(void **state)
{
    (void)state;
    struct rval *names = command_list(c);
    int compared = 0, differ = 0;
    struct text undocumented = { 0 };
    for (size_t i = 0; i < names->n; i++) {
        const char *name = names->elem[i]->str;
        struct rval *a = tcmd(c, "COMMAND DOCS %s", name);
        struct rval *b = tcmd(ref, "COMMAND DOCS %s", name);
        assert_int_equal(a->n, 2);
        const struct rval *da = a->elem[1];
        /* every row: summary, since, group */
        const struct rval *summary = map_get(da, "summary");
        assert_non_null(summary);
        assert_true(summary->len > 0);
        assert_non_null(map_get(da, "since"));
        assert_non_null(map_get(da, "group"));
        if (!map_get(da, "complexity")) {
            put(&undocumented, "%s ", name);
        } else if (b->n == 2) {
            char *x = docs_line(da), *y = docs_line(b->elem[1]);
            if (strcmp(x, y) != 0) {
                print_message("COMMAND DOCS %s:\n  server: %s\n  redis:  %s\n", name, x, y);
                differ++;
            }
            compared++;
            free(x);
            free(y);
        }
        rval_free(a);
        rval_free(b);
    }
    rval_free(names);
    print_message("COMMAND DOCS compared for %d commands; without docs: %s\n", compared,
                  undocumented.s ? undocumented.s : "none");
    free(undocumented.s);
    assert_true(compared > 100);
    assert_int_equal(differ, 0);
}

static void test_count_and_list(void **state)
{
    (void)state;
    struct rval *names = command_list(c);
    long long top = 0;
    for (size_t i = 0; i < names->n; i++)
        if (!strchr(names->elem[i]->str, '|'))
            top++;
    expect_int(tcmd(c, "COMMAND COUNT"), top);
    struct rval *all = tcmd(c, "COMMAND");
    assert_int_equal((long long)all->n, top);
    rval_free(all);
    rval_free(names);

    struct rval *v = tcmd(c, "COMMAND LIST FILTERBY PATTERN client|re*");
    assert_int_equal(v->n, 1);
    assert_string_equal(v->elem[0]->str, "client|reply");
    rval_free(v);
    v = tcmd(c, "COMMAND LIST FILTERBY ACLCAT keyspace");
    bool del = false;
    for (size_t i = 0; i < v->n; i++)
        del = del || strcmp(v->elem[i]->str, "del") == 0;
    assert_true(del);
    rval_free(v);
    v = tcmd(c, "COMMAND LIST FILTERBY MODULE nosuch");
    assert_int_equal(v->n, 0);
    rval_free(v);
    expect_error(tcmd(c, "COMMAND LIST FILTERBY NOSUCH x"), "ERR syntax error");
    expect_error(tcmd(c, "COMMAND LIST x"), "ERR syntax error");
}

/* The same command asked of both servers gives the same reply. */
static void expect_same(const char *cmdline)
{
    struct rval *a = tcmd(c, "%s", cmdline), *b = tcmd(ref, "%s", cmdline);
    char *x = rval_text(a), *y = rval_text(b);
    if (strcmp(x, y) != 0)
        fail_msg("%s:\n  server: %s\n  redis:  %s", cmdline, x, y);
    free(x);
    free(y);
    rval_free(a);
    rval_free(b);
}

static void test_getkeys(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "COMMAND GETKEYS set a b", "COMMAND GETKEYS mset a 1 b 2 c 3", "COMMAND GETKEYS rename a b",
        "COMMAND GETKEYS copy a b", "COMMAND GETKEYS bitop and d s1 s2", "COMMAND GETKEYS del a b c",
        "COMMAND GETKEYS get a", "COMMAND GETKEYS lcs a b", "COMMAND GETKEYS getex a PERSIST",
        "COMMAND GETKEYSANDFLAGS set a b", "COMMAND GETKEYSANDFLAGS set a b GET",
        "COMMAND GETKEYSANDFLAGS mset a 1 b 2", "COMMAND GETKEYSANDFLAGS rename a b",
        "COMMAND GETKEYSANDFLAGS renamenx a b", "COMMAND GETKEYSANDFLAGS copy a b",
        "COMMAND GETKEYSANDFLAGS del a b", "COMMAND GETKEYSANDFLAGS get a",
        "COMMAND GETKEYSANDFLAGS incr a", "COMMAND GETKEYSANDFLAGS bitop or d s1 s2",
        "COMMAND GETKEYSANDFLAGS setnx a b", "COMMAND GETKEYSANDFLAGS append a b",
        "COMMAND GETKEYSANDFLAGS bitfield k GET u8 0", "COMMAND GETKEYSANDFLAGS bitfield k GET u8 0 SET u8 0 1",
        "COMMAND GETKEYSANDFLAGS bitfield k OVERFLOW SAT GET i4 #1", "COMMAND GETKEYSANDFLAGS bitfield k INCRBY u8 0 1",
        "COMMAND GETKEYSANDFLAGS bitfield k GET u8", "COMMAND GETKEYSANDFLAGS bitfield k",
        "COMMAND GETKEYSANDFLAGS bitfield_ro k GET u8 0", "COMMAND GETKEYS bitfield k SET u8 0 1",
        "COMMAND GETKEYS nosuch a", "COMMAND GETKEYS get a b", "COMMAND GETKEYS ping x",
        "COMMAND GETKEYS client nosuch", "COMMAND GETKEYS get",
        "COMMAND GETKEYS georadius k 1 2 3 km STORE d", "COMMAND GETKEYS georadius k 1 2 3 km STOREDIST d STORE e",
        "COMMAND GETKEYS georadius k 1 2 3 km STORE", "COMMAND GETKEYS georadiusbymember k m 3 km STOREDIST d",
        "COMMAND GETKEYS georadius k 1 2 3 km", "COMMAND GETKEYS georadius k 1 2 3 km STORE d STOREDIST",
        "COMMAND GETKEYSANDFLAGS georadius k 1 2 3 km STORE d", "COMMAND GETKEYS geosearchstore d s FROMMEMBER m BYRADIUS 1 km",
        "COMMAND GETKEYS geoadd k 1 2 m", "COMMAND GETKEYSANDFLAGS geosearchstore d s FROMMEMBER m BYRADIUS 1 km",
        /* the scripts' keys may be none (no_mandatory_keys) */
        "COMMAND GETKEYS eval x 0", "COMMAND GETKEYS eval x 2 a b c", "COMMAND GETKEYS eval x 3 a",
        "COMMAND GETKEYS eval x -1 a", "COMMAND GETKEYSANDFLAGS evalsha x 1 a", "COMMAND GETKEYSANDFLAGS eval_ro x 1 a",
        "COMMAND GETKEYS fcall f 0", "COMMAND GETKEYSANDFLAGS fcall_ro f 1 a",
        /* keys a count names: a count past the arguments finds none */
        "COMMAND GETKEYS zunionstore d 2 a b WEIGHTS 1 2", "COMMAND GETKEYS zunionstore d 5 a",
        "COMMAND GETKEYS zunionstore d 0 a", "COMMAND GETKEYS zunion 5 a", "COMMAND GETKEYS lmpop 0 a LEFT",
        "COMMAND GETKEYSANDFLAGS blmpop 0 2 a b LEFT", "COMMAND GETKEYS sintercard 3 a b",
        /* keys after a word */
        "COMMAND GETKEYSANDFLAGS xread COUNT 2 STREAMS a b 0 0", "COMMAND GETKEYS xread STREAMS a b 0",
        "COMMAND GETKEYSANDFLAGS xreadgroup GROUP g c STREAMS a 0", "COMMAND GETKEYSANDFLAGS sort k STORE d",
        /* no keys: DEBUG OBJECT's routing is ringkv's own; channels */
        "COMMAND GETKEYS debug object k", "COMMAND GETKEYS ssubscribe a b", "COMMAND GETKEYS spublish a m",
        "COMMAND GETKEYS time x",
        NULL,
    };
    for (int i = 0; lines[i]; i++)
        expect_same(lines[i]);
}

/* COMMAND GETKEYS of MIGRATE, whose row has no keys (it finds them on
 * shard 0): the key, or those after KEYS (tcmd cannot send an empty word) */
static void test_getkeys_migrate(void **state)
{
    (void)state;
    static const char *const lines[][16] = {
        { "COMMAND", "GETKEYSANDFLAGS", "migrate", "h", "1", "k", "0", "5", NULL },
        { "COMMAND", "GETKEYSANDFLAGS", "migrate", "h", "1", "", "0", "5", "KEYS", "a", "b", NULL },
        { "COMMAND", "GETKEYS", "migrate", "h", "1", "", "0", "5", "COPY", "AUTH", "pw", "KEYS", "a", NULL },
        { "COMMAND", "GETKEYS", "migrate", "h", "1", "", "0", "5", "AUTH2", "u", "KEYS", "KEYS", "a", NULL },
        { "COMMAND", "GETKEYS", "migrate", "h", "1", "k", "0", "5", "KEYS", "a", "b", NULL },
        { "COMMAND", "GETKEYS", "migrate", "h", "1", "", "0", "5", NULL },
        { "COMMAND", "GETKEYS", "migrate", "h", "1", "", "0", "5", "KEYS", NULL },
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        int argc = 0;
        while (argc < 16 && lines[i][argc])
            argc++;
        tsendv(c, argc, lines[i]);
        tsendv(ref, argc, lines[i]);
        struct rval *a = tread(c, 5000), *b = tread(ref, 5000);
        char *x = rval_text(a), *y = rval_text(b);
        if (strcmp(x, y) != 0)
            fail_msg("line %zu:\n  server: %s\n  redis:  %s", i, x, y);
        free(x);
        free(y);
        rval_free(a);
        rval_free(b);
    }
}

int main(void)
{
    if (system("redis-server --version >/dev/null 2>&1") != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_matches_redis),
        cmocka_unit_test(test_docs_match_redis),
        cmocka_unit_test(test_count_and_list),
        cmocka_unit_test(test_getkeys),
        cmocka_unit_test(test_getkeys_migrate),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
