/* Unit tests of the keyspace command handlers (shards/cmd_keyspace.c) and of
 * the command table (core/command.c), without a server: each handler runs on
 * a store of its own with a fixed clock, and its reply is compared byte for
 * byte with what Redis 7 sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/command.h"
#include "shards/commands/commands.h"
#include "shards/session.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/store.h"

#define NOW 1700000000000LL /* a fixed unix ms clock */

struct fixture {
    struct store *store;
    struct buf    out;
    struct reply  reply;
    int64_t       now;
    struct client *client; /* for connection commands; NULL otherwise */
    struct shard  *shard;  /* NULL: a lone shard */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->store = store_create(NULL, NULL, NULL);
    buf_init(&f->out);
    f->reply = (struct reply){ &f->out, 2 };
    f->now = NOW;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_destroy(f->store);
    buf_free(&f->out);
    free(f);
    return 0;
}

/* Run fn on the space-separated words of line; returns the reply, NUL
 * terminated (valid until the next run). */
static const char *run(struct fixture *f, command_fn *fn, const char *line)
{
    static char words[4096];
    struct slice argv[64];
    int argc = 0;
    snprintf(words, sizeof(words), "%s", line);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        assert_true(argc < 64);
        argv[argc++] = (struct slice){ w, strlen(w) };
    }
    buf_clear(&f->out);
    struct exec_ctx ctx = {
        .shard = f->shard, .store = f->store, .reply = &f->reply, .argc = argc, .argv = argv,
        .client = f->client, .now_ms = f->now, .caller_id = 1,
    };
    fn(&ctx);
    buf_append(&f->out, "", 1);
    f->out.len--;
    return f->out.data;
}

#define EXPECT(f, fn, line, want) assert_string_equal(run((f), (fn), (line)), (want))

static void put(struct fixture *f, const char *key, const char *val, int64_t expire_at)
{
    store_set(f->store, (struct slice){ key, strlen(key) }, val, strlen(val), expire_at);
}

/* ---- DEL EXISTS TOUCH UNLINK TYPE -------------------------------------- */

static void test_del_exists_touch(void **state)
{
    struct fixture *f = *state;
    put(f, "a", "1", 0);
    put(f, "b", "2", 0);
    put(f, "c", "3", 0);
    EXPECT(f, cmd_exists, "exists a b nope a", ":3\r\n");
    EXPECT(f, cmd_touch, "touch a nope c", ":2\r\n");
    EXPECT(f, cmd_del, "del a nope a", ":1\r\n");
    EXPECT(f, cmd_exists, "exists a", ":0\r\n");
    EXPECT(f, cmd_unlink, "unlink b c", ":2\r\n");
    EXPECT(f, cmd_dbsize, "dbsize", ":0\r\n");
}

static void test_type(void **state)
{
    struct fixture *f = *state;
    put(f, "s", "v", 0);
    EXPECT(f, cmd_type, "type s", "+string\r\n");
    EXPECT(f, cmd_type, "type nope", "+none\r\n");
}

/* A key whose time has passed is missing for every command. */
static void test_expired_is_missing(void **state)
{
    struct fixture *f = *state;
    put(f, "old", "v", NOW - 1);
    put(f, "soon", "v", NOW + 10);
    EXPECT(f, cmd_exists, "exists old soon", ":1\r\n");
    EXPECT(f, cmd_type, "type old", "+none\r\n");
    EXPECT(f, cmd_ttl, "ttl old", ":-2\r\n");
    EXPECT(f, cmd_del, "del old", ":0\r\n");
    f->now = NOW + 10;
    EXPECT(f, cmd_exists, "exists soon", ":0\r\n");
}

/* ---- EXPIRE family ---------------------------------------------------- */

static void test_expire_options(void **state)
{
    struct fixture *f = *state;
    put(f, "k", "v", 0);
    EXPECT(f, cmd_expire, "expire nope 10", ":0\r\n");
    EXPECT(f, cmd_expire, "expire k 100 XX", ":0\r\n");  /* no expiry yet */
    EXPECT(f, cmd_expire, "expire k 100 GT", ":0\r\n");  /* none counts as infinite */
    EXPECT(f, cmd_expire, "expire k 100 nx", ":1\r\n");
    EXPECT(f, cmd_expire, "expire k 200 NX", ":0\r\n");  /* has one now */
    EXPECT(f, cmd_expire, "expire k 50 gt", ":0\r\n");
    EXPECT(f, cmd_expire, "expire k 150 GT", ":1\r\n");
    EXPECT(f, cmd_ttl, "ttl k", ":150\r\n");
    EXPECT(f, cmd_expire, "expire k 200 LT", ":0\r\n");
    EXPECT(f, cmd_expire, "expire k 120 LT", ":1\r\n");
    EXPECT(f, cmd_expire, "expire k 130 xx", ":1\r\n");
    EXPECT(f, cmd_ttl, "ttl k", ":130\r\n");
    EXPECT(f, cmd_persist, "persist k", ":1\r\n");
    EXPECT(f, cmd_persist, "persist k", ":0\r\n");
    EXPECT(f, cmd_persist, "persist nope", ":0\r\n");
    EXPECT(f, cmd_expire, "expire k 100 LT", ":1\r\n"); /* LT on no expiry sets it */
    EXPECT(f, cmd_pttl, "pttl k", ":100000\r\n");
}

static void test_expire_errors(void **state)
{
    struct fixture *f = *state;
    put(f, "k", "v", 0);
    EXPECT(f, cmd_expire, "expire k 10 nx xx",
           "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    EXPECT(f, cmd_expire, "expire k 10 NX GT",
           "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    EXPECT(f, cmd_expire, "expire k 10 gt lt",
           "-ERR GT and LT options at the same time are not compatible\r\n");
    EXPECT(f, cmd_expire, "expire k 10 foo", "-ERR Unsupported option foo\r\n");
    EXPECT(f, cmd_expire, "expire k abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(f, cmd_expire, "expire k 99999999999999999",
           "-ERR invalid expire time in 'expire' command\r\n");
    EXPECT(f, cmd_pexpire, "PEXPIRE k 9223372036854775807",
           "-ERR invalid expire time in 'pexpire' command\r\n");
    EXPECT(f, cmd_expireat, "expireat k 9223372036854776",
           "-ERR invalid expire time in 'expireat' command\r\n");
    EXPECT(f, cmd_expire, "expire k -9223372036854776",
           "-ERR invalid expire time in 'expire' command\r\n");
    /* the options are checked before the number */
    EXPECT(f, cmd_expire, "expire k abc bad", "-ERR Unsupported option bad\r\n");
    EXPECT(f, cmd_ttl, "ttl k", ":-1\r\n");
}

static void test_expire_in_past_deletes(void **state)
{
    struct fixture *f = *state;
    put(f, "a", "v", 0);
    put(f, "b", "v", 0);
    put(f, "c", "v", 0);
    put(f, "d", "v", 0);
    EXPECT(f, cmd_expire, "expire a -1", ":1\r\n");
    EXPECT(f, cmd_pexpire, "pexpire b 0", ":1\r\n");
    EXPECT(f, cmd_expireat, "expireat c 1", ":1\r\n");
    char line[64];
    snprintf(line, sizeof(line), "pexpireat d %lld", NOW);
    EXPECT(f, cmd_pexpireat, line, ":1\r\n");
    EXPECT(f, cmd_exists, "exists a b c d", ":0\r\n");
    EXPECT(f, cmd_dbsize, "dbsize", ":0\r\n");
}

static void test_ttl_values(void **state)
{
    struct fixture *f = *state;
    put(f, "p", "v", 0);
    put(f, "t", "v", NOW + 1500);
    put(f, "u", "v", NOW + 1499);
    EXPECT(f, cmd_ttl, "ttl nope", ":-2\r\n");
    EXPECT(f, cmd_pttl, "pttl nope", ":-2\r\n");
    EXPECT(f, cmd_expiretime, "expiretime nope", ":-2\r\n");
    EXPECT(f, cmd_pexpiretime, "pexpiretime nope", ":-2\r\n");
    EXPECT(f, cmd_ttl, "ttl p", ":-1\r\n");
    EXPECT(f, cmd_pttl, "pttl p", ":-1\r\n");
    EXPECT(f, cmd_expiretime, "expiretime p", ":-1\r\n");
    EXPECT(f, cmd_pexpiretime, "pexpiretime p", ":-1\r\n");
    EXPECT(f, cmd_pttl, "pttl t", ":1500\r\n");
    EXPECT(f, cmd_ttl, "ttl t", ":2\r\n");   /* rounded to nearest */
    EXPECT(f, cmd_ttl, "ttl u", ":1\r\n");
    EXPECT(f, cmd_pexpiretime, "pexpiretime t", ":1700000001500\r\n");
    EXPECT(f, cmd_expiretime, "expiretime t", ":1700000002\r\n");
    EXPECT(f, cmd_expiretime, "expiretime u", ":1700000001\r\n");
    /* EXPIREAT / PEXPIREAT store absolute times */
    EXPECT(f, cmd_expireat, "expireat p 1800000000", ":1\r\n");
    EXPECT(f, cmd_pexpiretime, "pexpiretime p", ":1800000000000\r\n");
    EXPECT(f, cmd_pexpireat, "pexpireat p 1800000000123", ":1\r\n");
    EXPECT(f, cmd_pttl, "pttl p", ":100000000123\r\n");
}

/* ---- RENAME RENAMENX COPY --------------------------------------------- */

static void test_rename(void **state)
{
    struct fixture *f = *state;
    EXPECT(f, cmd_rename, "rename nope x", "-ERR no such key\r\n");
    EXPECT(f, cmd_renamenx, "renamenx nope x", "-ERR no such key\r\n");
    EXPECT(f, cmd_rename, "rename nope nope", "-ERR no such key\r\n");
    put(f, "a", "hello", NOW + 5000);
    EXPECT(f, cmd_rename, "rename a a", "+OK\r\n");
    EXPECT(f, cmd_renamenx, "renamenx a a", ":0\r\n");
    EXPECT(f, cmd_rename, "rename a b", "+OK\r\n");
    EXPECT(f, cmd_exists, "exists a", ":0\r\n");
    EXPECT(f, cmd_pttl, "pttl b", ":5000\r\n"); /* the expiry moves with the key */
    put(f, "c", "other", 0);
    EXPECT(f, cmd_renamenx, "renamenx b c", ":0\r\n");
    EXPECT(f, cmd_renamenx, "renamenx b d", ":1\r\n");
    EXPECT(f, cmd_rename, "rename d c", "+OK\r\n"); /* replaces */
    struct entry *e = store_peek(f->store, SLICE_LIT("c"), f->now);
    assert_non_null(e);
    assert_int_equal(entry_value_len(e), 5);
    assert_memory_equal(entry_value(e), "hello", 5);
    assert_int_equal(entry_expire_at(e), NOW + 5000);
    EXPECT(f, cmd_dbsize, "dbsize", ":1\r\n");
}

static void test_copy(void **state)
{
    struct fixture *f = *state;
    put(f, "k", "value", NOW + 7000);
    put(f, "other", "x", 0);
    EXPECT(f, cmd_copy, "copy k k", "-ERR source and destination objects are the same\r\n");
    EXPECT(f, cmd_copy, "copy k d db 1", "-ERR DB index is out of range\r\n");
    EXPECT(f, cmd_copy, "copy k d db x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(f, cmd_copy, "copy k d db", "-ERR syntax error\r\n");
    EXPECT(f, cmd_copy, "copy k d foo", "-ERR syntax error\r\n");
    EXPECT(f, cmd_copy, "copy nope d", ":0\r\n");
    EXPECT(f, cmd_copy, "copy k other", ":0\r\n");
    EXPECT(f, cmd_copy, "copy k other REPLACE", ":1\r\n");
    EXPECT(f, cmd_copy, "copy k d DB 0 replace replace", ":1\r\n");
    EXPECT(f, cmd_pttl, "pttl d", ":7000\r\n");
    EXPECT(f, cmd_pttl, "pttl k", ":7000\r\n");
    struct entry *e = store_peek(f->store, SLICE_LIT("other"), f->now);
    assert_non_null(e);
    assert_int_equal(entry_value_len(e), 5);
    assert_memory_equal(entry_value(e), "value", 5);
}

/* ---- KEYS SCAN -------------------------------------------------------- */

/* Reads a RESP2 array of bulk strings at *p; returns the count and advances.
 * Calls fn for each element. */
static long read_bulk_array(const char **p, void (*fn)(void *, const char *, size_t), void *arg)
{
    assert_int_equal(**p, '*');
    char *end;
    long n = strtol(*p + 1, &end, 10);
    assert_memory_equal(end, "\r\n", 2);
    *p = end + 2;
    for (long i = 0; i < n; i++) {
        assert_int_equal(**p, '$');
        long len = strtol(*p + 1, &end, 10);
        assert_memory_equal(end, "\r\n", 2);
        const char *data = end + 2;
        assert_memory_equal(data + len, "\r\n", 2);
        fn(arg, data, (size_t)len);
        *p = data + len + 2;
    }
    return n;
}

#define NKEYS 600

struct seen {
    int  times[NKEYS];
    long other; /* keys not of the form key:N */
};

static void count_key(void *arg, const char *k, size_t n)
{
    struct seen *s = arg;
    char tmp[32];
    if (n < 4 || n >= sizeof(tmp) || memcmp(k, "key:", 4) != 0) {
        s->other++;
        return;
    }
    memcpy(tmp, k, n);
    tmp[n] = '\0';
    long i = strtol(tmp + 4, NULL, 10);
    assert_true(i >= 0 && i < NKEYS);
    s->times[i]++;
}

static void fill_keys(struct fixture *f)
{
    for (int i = 0; i < NKEYS; i++) {
        char k[32];
        snprintf(k, sizeof(k), "key:%d", i);
        put(f, k, "v", 0);
    }
}

/* Runs a full SCAN with the given options; fills *s; returns the calls made. */
static int scan_all(struct fixture *f, const char *opts, struct seen *s)
{
    memset(s, 0, sizeof(*s));
    unsigned long long cursor = 0;
    int calls = 0;
    do {
        char line[256];
        snprintf(line, sizeof(line), "scan %llu %s", cursor, opts);
        const char *p = run(f, cmd_scan, line);
        assert_memory_equal(p, "*2\r\n$", 5);
        char *end;
        long clen = strtol(p + 5, &end, 10);
        assert_memory_equal(end, "\r\n", 2);
        cursor = strtoull(end + 2, NULL, 10);
        p = end + 2 + clen + 2;
        read_bulk_array(&p, count_key, s);
        assert_int_equal(*p, '\0');
        calls++;
        assert_true(calls < 10000);
    } while (cursor != 0);
    return calls;
}

static void test_scan_returns_every_key(void **state)
{
    struct fixture *f = *state;
    fill_keys(f);
    struct seen s;
    int calls = scan_all(f, "COUNT 7", &s);
    assert_true(calls > 1);
    for (int i = 0; i < NKEYS; i++)
        assert_true(s.times[i] >= 1);
    assert_int_equal(s.other, 0);

    /* MATCH filters; keys 5, 50..59, 500..599 */
    scan_all(f, "match key:5* count 20", &s);
    for (int i = 0; i < NKEYS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "%d", i);
        if (k[0] == '5')
            assert_true(s.times[i] >= 1);
        else
            assert_int_equal(s.times[i], 0);
    }

    /* TYPE filters */
    scan_all(f, "TYPE string", &s);
    for (int i = 0; i < NKEYS; i++)
        assert_true(s.times[i] >= 1);
    scan_all(f, "TYPE hash", &s);
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(s.times[i], 0);
}

/* As shard 1 of 3: cursors it hands out name shard 1 (cursor % 3 == 1)
 * until its table is done, then shard 2's start; as the last shard, 0. */
static void test_scan_cursor_names_shard(void **state)
{
    struct fixture *f = *state;
    fill_keys(f);
    struct node node;
    memset(&node, 0, sizeof(node));
    node.nshards = 3;
    struct shard sh;
    memset(&sh, 0, sizeof(sh));
    sh.node = &node;
    sh.id = 1;
    f->shard = &sh;

    struct seen s;
    memset(&s, 0, sizeof(s));
    unsigned long long cursor = 1;
    int calls = 0;
    for (;;) {
        char line[64];
        snprintf(line, sizeof(line), "scan %llu count 25", cursor);
        const char *p = run(f, cmd_scan, line);
        char *end;
        long clen = strtol(p + 5, &end, 10);
        cursor = strtoull(end + 2, NULL, 10);
        p = end + 2 + clen + 2;
        read_bulk_array(&p, count_key, &s);
        calls++;
        assert_true(calls < 1000);
        if (cursor == 2)
            break; /* next shard's start */
        assert_int_equal(cursor % 3, 1);
    }
    assert_true(calls > 1);
    for (int i = 0; i < NKEYS; i++)
        assert_true(s.times[i] >= 1);

    sh.id = 2;
    const char *last = run(f, cmd_scan, "scan 2 count 100000");
    assert_memory_equal(last, "*2\r\n$1\r\n0\r\n*600\r\n", 17);
}

static void test_scan_empty_and_errors(void **state)
{
    struct fixture *f = *state;
    EXPECT(f, cmd_scan, "scan 0", "*2\r\n$1\r\n0\r\n*0\r\n");
    EXPECT(f, cmd_scan, "scan x", "-ERR invalid cursor\r\n");
    EXPECT(f, cmd_scan, "scan 18446744073709551616", "-ERR invalid cursor\r\n");
    EXPECT(f, cmd_scan, "scan 0 count 0", "-ERR syntax error\r\n");
    EXPECT(f, cmd_scan, "scan 0 count -5", "-ERR syntax error\r\n");
    EXPECT(f, cmd_scan, "scan 0 count x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(f, cmd_scan, "scan 0 foo", "-ERR syntax error\r\n");
    EXPECT(f, cmd_scan, "scan 0 match", "-ERR syntax error\r\n");
    EXPECT(f, cmd_scan, "scan 0 match * count", "-ERR syntax error\r\n");
}

static void test_keys_patterns(void **state)
{
    struct fixture *f = *state;
    fill_keys(f);
    put(f, "other", "v", 0);
    put(f, "gone", "v", NOW - 1); /* expired: never listed */
    struct seen s;
    const char *p;

    memset(&s, 0, sizeof(s));
    p = run(f, cmd_keys, "keys *");
    assert_int_equal(read_bulk_array(&p, count_key, &s), NKEYS + 1);
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(s.times[i], 1);
    assert_int_equal(s.other, 1);

    memset(&s, 0, sizeof(s));
    p = run(f, cmd_keys, "keys key:1?");
    assert_int_equal(read_bulk_array(&p, count_key, &s), 10);
    for (int i = 10; i < 20; i++)
        assert_int_equal(s.times[i], 1);

    memset(&s, 0, sizeof(s));
    p = run(f, cmd_keys, "keys key:[2-3]0");
    assert_int_equal(read_bulk_array(&p, count_key, &s), 2);
    assert_int_equal(s.times[20], 1);
    assert_int_equal(s.times[30], 1);

    EXPECT(f, cmd_keys, "keys oth*", "*1\r\n$5\r\nother\r\n");
    EXPECT(f, cmd_keys, "keys nomatch*", "*0\r\n");
    EXPECT(f, cmd_keys, "keys gone", "*0\r\n");
}

/* ---- RANDOMKEY DBSIZE FLUSH ------------------------------------------- */

static void test_randomkey_dbsize_flush(void **state)
{
    struct fixture *f = *state;
    EXPECT(f, cmd_randomkey, "randomkey", "$-1\r\n");
    EXPECT(f, cmd_dbsize, "dbsize", ":0\r\n");
    put(f, "only", "v", 0);
    EXPECT(f, cmd_randomkey, "randomkey", "$4\r\nonly\r\n");
    put(f, "two", "v", 0);
    EXPECT(f, cmd_dbsize, "dbsize", ":2\r\n");
    EXPECT(f, cmd_flushdb, "flushdb foo", "-ERR syntax error\r\n");
    EXPECT(f, cmd_flushdb, "flushdb async sync", "-ERR syntax error\r\n");
    EXPECT(f, cmd_dbsize, "dbsize", ":2\r\n");
    EXPECT(f, cmd_flushdb, "flushdb ASYNC", "+OK\r\n");
    EXPECT(f, cmd_dbsize, "dbsize", ":0\r\n");
    put(f, "k", "v", 0);
    EXPECT(f, cmd_flushall, "flushall sync", "+OK\r\n");
    EXPECT(f, cmd_dbsize, "dbsize", ":0\r\n");
    put(f, "k", "v", 0);
    EXPECT(f, cmd_flushall, "flushall", "+OK\r\n");
    EXPECT(f, cmd_randomkey, "randomkey", "$-1\r\n");
}

/* ---- the command table ------------------------------------------------ */

static void test_table_lookup(void **state)
{
    (void)state;
    command_setup();
    const struct command *c = command_lookup(SLICE_LIT("GeT"));
    assert_non_null(c);
    assert_string_equal(c->name, "get");
    assert_int_equal(c->arity, 2);
    assert_null(command_lookup(SLICE_LIT("nosuchcommand")));
    assert_null(command_lookup(SLICE_LIT("ge")));
    assert_null(command_lookup((struct slice){ "", 0 }));
    /* names are folded 8 bytes at a time: only A..Z fold, nothing is read
     * past the slice, and every length up to 32 works */
    assert_null(command_lookup(SLICE_LIT("eval\x7fro")));       /* '_' | 0x20 */
    assert_null(command_lookup(SLICE_LIT("eval\x7fRO")));
    assert_non_null(command_lookup(SLICE_LIT("EVAL_RO")));
    assert_null(command_lookup(SLICE_LIT("restore\rasking")));  /* '-' & ~0x20 */
    assert_non_null(command_lookup(SLICE_LIT("RESTORE-ASKING")));
    assert_null(command_lookup(SLICE_LIT("\xc7\xc5\xd4")));       /* "GET" with the high bit */
    assert_null(command_lookup(SLICE_LIT("g\x05t")));            /* 'e' ^ 0x60 */
    assert_null(command_lookup(SLICE_LIT("[et")));                /* 'Z' + 1 */
    assert_ptr_equal(command_lookup((struct slice){ "getrange", 3 }), command_lookup(SLICE_LIT("get")));
    assert_null(command_lookup(SLICE_LIT("zremrangebyscorezremrangebyscore")));   /* 32 bytes */
    assert_null(command_lookup(SLICE_LIT("zremrangebyscorezremrangebyscorex")));  /* 33 */

    size_t n;
    const struct command *t = command_table(&n);
    int seen_index[512] = { 0 };
    size_t all = command_count_all();
    assert_true(all > n && all < 512);
    for (size_t i = 0; i < n; i++) {
        /* every row is found by its own name, upper-cased too */
        char up[64];
        size_t l = strlen(t[i].name);
        for (size_t j = 0; j <= l; j++)
            up[j] = (char)((t[i].name[j] >= 'a' && t[i].name[j] <= 'z') ? t[i].name[j] - 32 : t[i].name[j]);
        assert_ptr_equal(command_lookup((struct slice){ up, l }), &t[i]);
        assert_true(t[i].index >= 0 && (size_t)t[i].index < all);
        seen_index[t[i].index]++;
        assert_true(t[i].fn || t[i].subcommands);
        for (const struct command *s = t[i].subcommands; s && s->name; s++) {
            assert_true(s->index >= 0 && (size_t)s->index < all);
            seen_index[s->index]++;
            assert_non_null(s->fn);
            if (s->flags & (CMD_ALL_SHARDS | CMD_SPLIT))
                assert_non_null(s->merge);
        }
        if (t[i].flags & (CMD_ALL_SHARDS | CMD_SPLIT))
            assert_non_null(t[i].merge);
    }
    for (size_t i = 0; i < all; i++)
        assert_int_equal(seen_index[i], 1); /* each index used exactly once */

    const struct command *client = command_lookup(SLICE_LIT("client"));
    assert_non_null(client);
    assert_null(client->fn);
    const struct command *setname = command_lookup_sub(client, SLICE_LIT("SETNAME"));
    assert_non_null(setname);
    assert_int_equal(setname->arity, 3);
    assert_ptr_equal(setname->fn, cmd_client_setname);
    assert_int_equal(command_lookup_sub(client, SLICE_LIT("kill"))->arity, -3);
    assert_null(command_lookup_sub(client, SLICE_LIT("nope")));
    assert_null(command_lookup_sub(command_lookup(SLICE_LIT("get")), SLICE_LIT("x")));
    assert_ptr_equal(command_lookup(SLICE_LIT("command"))->fn, cmd_command);
    assert_int_equal(command_lookup_sub(command_lookup(SLICE_LIT("config")), SLICE_LIT("set"))->arity, -4);
    assert_true(command_lookup(SLICE_LIT("scan"))->flags & CMD_CURSOR);
    assert_true(command_lookup(SLICE_LIT("auth"))->flags & CMD_NOAUTH);
    assert_false(command_lookup(SLICE_LIT("get"))->flags & CMD_NOAUTH);
}

static void test_table_arity_and_keys(void **state)
{
    (void)state;
    const struct command *get = command_lookup(SLICE_LIT("get"));
    assert_true(command_arity_ok(get, 2));
    assert_false(command_arity_ok(get, 3));
    const struct command *mset = command_lookup(SLICE_LIT("mset"));
    assert_false(command_arity_ok(mset, 2));
    assert_true(command_arity_ok(mset, 7));

    struct slice argv[8] = { SLICE_LIT("mset") };
    int idx[8];
    assert_int_equal(command_keys(mset, 7, argv, idx, 8), 3);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 5);
    /* more keys than room: the count is still the whole count */
    assert_int_equal(command_keys(mset, 7, argv, idx, 2), 3);

    const struct command *bitop = command_lookup(SLICE_LIT("bitop"));
    assert_int_equal(command_keys(bitop, 5, argv, idx, 8), 3);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[2], 4);

    const struct command *rename = command_lookup(SLICE_LIT("rename"));
    assert_int_equal(command_keys(rename, 3, argv, idx, 8), 2);
    assert_int_equal(idx[1], 2);

    const struct command *ping = command_lookup(SLICE_LIT("ping"));
    assert_int_equal(command_keys(ping, 2, argv, idx, 8), 0);
    const struct command *del = command_lookup(SLICE_LIT("del"));
    assert_int_equal(command_keys(del, 4, argv, idx, 8), 3);

    /* counted by numkeys: EVAL's ARGV and LMPOP's direction are no keys;
     * a count that is not one gives none (the handler's error follows) */
    const struct command *eval = command_lookup(SLICE_LIT("eval"));
    struct slice ev[6] = { SLICE_LIT("eval"), SLICE_LIT("return 1"), SLICE_LIT("2"), SLICE_LIT("k1"),
                           SLICE_LIT("k2"), SLICE_LIT("arg") };
    assert_int_equal(command_keys(eval, 6, ev, idx, 8), 2);
    assert_int_equal(idx[0], 3);
    assert_int_equal(idx[1], 4);
    ev[2] = SLICE_LIT("0");
    assert_int_equal(command_keys(eval, 6, ev, idx, 8), 0);
    ev[2] = SLICE_LIT("4");
    assert_int_equal(command_keys(eval, 6, ev, idx, 8), 0);
    ev[2] = SLICE_LIT("-1");
    assert_int_equal(command_keys(eval, 6, ev, idx, 8), 0);
    const struct command *lmpop = command_lookup(SLICE_LIT("lmpop"));
    struct slice lm[4] = { SLICE_LIT("lmpop"), SLICE_LIT("1"), SLICE_LIT("list"), SLICE_LIT("LEFT") };
    assert_int_equal(command_keys(lmpop, 4, lm, idx, 8), 1);
    assert_int_equal(idx[0], 2);
}

/* ---- connection commands (no shard: no requirepass, no other clients) --- */

/* A client lives in a session, as every connection's does (commands reach
 * the session from the client: subscriptions, the MULTI queue). */
static struct client *new_client(struct fixture *f)
{
    static struct session session;
    memset(&session, 0, sizeof(session));
    struct client *c = &session.client;
    c->id = 42;
    c->proto = 2;
    c->authenticated = true;
    snprintf(c->addr, sizeof(c->addr), "127.0.0.1:50188");
    snprintf(c->laddr, sizeof(c->laddr), "127.0.0.1:6379");
    c->fd = 8;
    c->created_ms = NOW - 5000;
    c->last_active_ms = NOW - 2000;
    snprintf(c->last_cmd, sizeof(c->last_cmd), "client|info");
    f->client = c;
    return c;
}

static void test_ping_echo_select_quit(void **state)
{
    struct fixture *f = *state;
    struct client *c = new_client(f);
    EXPECT(f, cmd_ping, "ping", "+PONG\r\n");
    EXPECT(f, cmd_ping, "PING hi", "$2\r\nhi\r\n");
    EXPECT(f, cmd_ping, "ping a b", "-ERR wrong number of arguments for 'ping' command\r\n");
    EXPECT(f, cmd_echo, "echo hello", "$5\r\nhello\r\n");
    EXPECT(f, cmd_select, "select 0", "+OK\r\n");
    EXPECT(f, cmd_select, "select 1", "-ERR DB index is out of range\r\n");
    EXPECT(f, cmd_select, "select -1", "-ERR DB index is out of range\r\n");
    EXPECT(f, cmd_select, "select x", "-ERR value is not an integer or out of range\r\n");
    assert_false(c->close_after_reply);
    EXPECT(f, cmd_quit, "quit", "+OK\r\n");
    assert_true(c->close_after_reply);
}

static void test_auth_hello_reset(void **state)
{
    struct fixture *f = *state;
    struct client *c = new_client(f);
    EXPECT(f, cmd_auth, "auth pw",
           "-ERR AUTH <password> called without any password configured for the default user. "
           "Are you sure your configuration is correct?\r\n");
    EXPECT(f, cmd_auth, "auth default anything", "+OK\r\n");
    EXPECT(f, cmd_auth, "auth bob pw", "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    EXPECT(f, cmd_auth, "auth a b c", "-ERR syntax error\r\n");

    EXPECT(f, cmd_hello, "hello 4", "-NOPROTO unsupported protocol version\r\n");
    EXPECT(f, cmd_hello, "hello x", "-ERR Protocol version is not an integer or out of range\r\n");
    EXPECT(f, cmd_hello, "hello 3 foo", "-ERR Syntax error in HELLO option 'foo'\r\n");
    EXPECT(f, cmd_hello, "hello 2 auth default", "-ERR Syntax error in HELLO option 'auth'\r\n");
    EXPECT(f, cmd_hello, "hello 3 auth bob pw",
           "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_int_equal(c->proto, 2);
    EXPECT(f, cmd_hello, "hello 2",
           "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n"
           "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:42\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
           "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
    EXPECT(f, cmd_hello, "HELLO 3 setname app1",
           "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n"
           "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:42\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
           "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
    assert_int_equal(c->proto, 3);
    assert_int_equal(f->reply.proto, 3);
    assert_string_equal(c->name, "app1");

    /* not authenticated: HELLO needs AUTH in it */
    c->authenticated = false;
    assert_true(strncmp(run(f, cmd_hello, "hello 3"), "-NOAUTH HELLO must be called", 28) == 0);
    assert_false(c->authenticated);
    assert_true(run(f, cmd_hello, "hello 3 AUTH default pw")[0] == '%');
    assert_true(c->authenticated);

    c->authenticated = false;
    EXPECT(f, cmd_reset, "reset", "+RESET\r\n");
    assert_int_equal(c->proto, 2);
    assert_int_equal(f->reply.proto, 2);
    assert_string_equal(c->name, "");
    assert_true(c->authenticated); /* no requirepass */
}

static void test_client_name_id_info(void **state)
{
    struct fixture *f = *state;
    new_client(f);
    EXPECT(f, cmd_client_id, "client id", ":42\r\n");
    EXPECT(f, cmd_client_getname, "client getname", "$-1\r\n");
    EXPECT(f, cmd_client_setname, "client setname a\tb",
           "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    EXPECT(f, cmd_client_setname, "client setname worker-1", "+OK\r\n");
    EXPECT(f, cmd_client_getname, "client getname", "$8\r\nworker-1\r\n");

    const char *info = run(f, cmd_client_info, "client info");
    const char *want_head = "id=42 addr=127.0.0.1:50188 laddr=127.0.0.1:6379 fd=8 name=worker-1 age=5 idle=2 "
                            "flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=";
    const char *want_tail = " events=r cmd=client|info user=default redir=-1 resp=2 io-thread=0\n\r\n";
    const char *body = strstr(info, "\r\n");
    assert_non_null(body);
    assert_true(strncmp(body + 2, want_head, strlen(want_head)) == 0);
    assert_string_equal(info + strlen(info) - strlen(want_tail), want_tail);
    assert_non_null(strstr(info, " argv-mem=0 multi-mem=0 rbs="));
    assert_non_null(strstr(info, " obl=0 oll=0 omem=0 tot-mem="));
}

static void test_client_list_kill_args(void **state)
{
    struct fixture *f = *state;
    new_client(f);
    EXPECT(f, cmd_client_list, "client list", "$0\r\n\r\n");
    EXPECT(f, cmd_client_list, "client list type normal", "$0\r\n\r\n");
    EXPECT(f, cmd_client_list, "client list type foo", "-ERR Unknown client type 'foo'\r\n");
    EXPECT(f, cmd_client_list, "client list id 1 x", "-ERR Invalid client ID\r\n");
    EXPECT(f, cmd_client_list, "client list id 1 2", "$0\r\n\r\n");
    EXPECT(f, cmd_client_list, "client list foo", "-ERR syntax error\r\n");
    EXPECT(f, cmd_client_list, "client list type", "-ERR syntax error\r\n");

    EXPECT(f, cmd_client_kill, "client kill 1.2.3.4:5", "-ERR No such client\r\n");
    EXPECT(f, cmd_client_kill, "client kill id 0", "-ERR client-id should be greater than 0\r\n");
    EXPECT(f, cmd_client_kill, "client kill id x", "-ERR client-id should be greater than 0\r\n");
    EXPECT(f, cmd_client_kill, "client kill user bob", "-ERR No such user 'bob'\r\n");
    EXPECT(f, cmd_client_kill, "client kill skipme maybe", "-ERR syntax error\r\n");
    EXPECT(f, cmd_client_kill, "client kill id 99 type", "-ERR syntax error\r\n");
    EXPECT(f, cmd_client_kill, "client kill type foo", "-ERR Unknown client type 'foo'\r\n");
    EXPECT(f, cmd_client_kill, "client kill foo bar", "-ERR syntax error\r\n");
    EXPECT(f, cmd_client_kill, "client kill id 999 user default skipme no", ":0\r\n");
    assert_true(strncmp(run(f, cmd_client_help, "client help"),
                        "*50\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n", 70) == 0);
}

static void merge_parts(struct fixture *f, merge_fn *fn, int n, const char *const *parts)
{
    struct buf b[8];
    for (int i = 0; i < n; i++) {
        buf_init(&b[i]);
        buf_append_str(&b[i], parts[i]);
    }
    struct merge_input in = { .parts = b, .nparts = n };
    buf_clear(&f->out);
    fn(&f->reply, &in);
    buf_append(&f->out, "", 1);
    f->out.len--;
    for (int i = 0; i < n; i++)
        buf_free(&b[i]);
}

static void test_client_merges(void **state)
{
    struct fixture *f = *state;
    merge_parts(f, merge_client_kill, 3, (const char *const[]){ ":1\r\n", ":0\r\n", ":2\r\n" });
    assert_string_equal(f->out.data, ":3\r\n");
    merge_parts(f, merge_client_kill, 2, (const char *const[]){ "-ERR No such client\r\n", "+OK\r\n" });
    assert_string_equal(f->out.data, "+OK\r\n");
    merge_parts(f, merge_client_kill, 2,
                (const char *const[]){ "-ERR No such client\r\n", "-ERR No such client\r\n" });
    assert_string_equal(f->out.data, "-ERR No such client\r\n");

    const char *const lists[] = { "$3\r\na=1\r\n", "=8\r\ntxt:b=2\n\r\n", "$0\r\n\r\n" };
    merge_parts(f, merge_client_list, 3, lists);
    assert_string_equal(f->out.data, "$7\r\na=1b=2\n\r\n");
    f->reply.proto = 3;
    merge_parts(f, merge_client_list, 3, lists);
    assert_string_equal(f->out.data, "=11\r\ntxt:a=1b=2\n\r\n");
    merge_parts(f, merge_client_list, 2, (const char *const[]){ "-ERR syntax error\r\n", "-ERR syntax error\r\n" });
    assert_string_equal(f->out.data, "-ERR syntax error\r\n");
}

int main(void)
{
    commands_register(); /* the rows of this layer; replication's are not needed here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_del_exists_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_is_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_in_past_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_returns_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_cursor_names_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_empty_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randomkey_dbsize_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_echo_select_quit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_hello_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_name_id_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_list_kill_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_merges, setup, teardown),
        cmocka_unit_test(test_table_lookup),
        cmocka_unit_test(test_table_arity_and_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
