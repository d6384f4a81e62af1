/* Unit tests of DEBUG DIGEST and DIGEST-VALUE (shards/commands/digest.c)
 * against a real store, without a server: the digests of values of every
 * type are the ones redis-server 7.0.15 gave for the same commands
 * (recorded here), the dataset's part of a store merges into Redis's, and
 * a dataset spread over two stores merges into the same digest as one
 * store holding it all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shards/commands/commands.h"
#include "shards/store/store.h"

#define NOW 1700000000000LL
#define MAX_ARGS 16
#define ZEROS "0000000000000000000000000000000000000000"

struct fixture {
    struct store *store, *other;
    struct buf    out;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->store = store_create(NULL, NULL, NULL);
    f->other = store_create(NULL, NULL, NULL);
    buf_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_destroy(f->store);
    store_destroy(f->other);
    buf_free(&f->out);
    free(f);
    return 0;
}

/* Run a command of space-separated words on s; its reply, NUL-terminated
 * (valid until the next run). */
static const char *run_on(struct fixture *f, struct store *s, command_fn *fn, const char *line)
{
    static char copy[4096];
    struct slice argv[MAX_ARGS];
    int argc = 0;
    snprintf(copy, sizeof(copy), "%s", line);
    for (char *save = NULL, *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        assert_true(argc < MAX_ARGS);
        argv[argc++] = (struct slice){ w, strlen(w) };
    }
    struct reply r = { &f->out, 2 };
    struct exec_ctx ctx = { .store = s, .reply = &r, .argc = argc, .argv = argv, .now_ms = NOW };
    buf_clear(&f->out);
    fn(&ctx);
    buf_append(&f->out, "", 1);
    return f->out.data;
}

#define run(fn, line) run_on(f, f->store, fn, line)

static void expect_value_digest(struct fixture *f, const char *key, const char *hex)
{
    char line[128], want[128];
    snprintf(line, sizeof line, "DEBUG DIGEST-VALUE %s", key);
    snprintf(want, sizeof want, "*1\r\n+%s\r\n", hex);
    assert_string_equal(run(cmd_debug_digest_value, line), want);
}

/* The dataset's digest from the parts of the given stores, as the
 * all-shards merge gives it. */
static void dataset_digest(struct fixture *f, struct store **stores, int n, char *hex)
{
    struct buf parts[4];
    for (int i = 0; i < n; i++) {
        buf_init(&parts[i]);
        const char *part = run_on(f, stores[i], cmd_debug_digest, "DEBUG DIGEST");
        buf_append(&parts[i], part, strlen(part));
    }
    struct buf out;
    buf_init(&out);
    struct reply r = { &out, 2 };
    struct merge_input in = { .parts = parts, .nparts = n };
    merge_debug_digest(&r, &in);
    buf_append(&out, "", 1);
    assert_int_equal(out.len, 1 + 40 + 2 + 1);
    assert_int_equal(out.data[0], '+');
    memcpy(hex, out.data + 1, 40);
    hex[40] = 0;
    buf_free(&out);
    for (int i = 0; i < n; i++)
        buf_free(&parts[i]);
}

static void test_values_as_redis(void **state)
{
    struct fixture *f = *state;
    run(cmd_set, "SET s hello");
    expect_value_digest(f, "s", "36b23a1456b2dce2c3ed252c456761301dba8060");
    run(cmd_rpush, "RPUSH l a b 1");
    expect_value_digest(f, "l", "981fd62c1655c074205cff40b800bd5a5bfdcd41");
    run(cmd_sadd, "SADD st x 2");
    expect_value_digest(f, "st", "7904f640014061fb37c6855115964bd3eaaed924");
    run(cmd_zadd, "ZADD z 0.1 a 3 b 1e20 c");
    expect_value_digest(f, "z", "505ecca04b68c54c7745e9e8388a30d9b1bda911");
    run(cmd_hset, "HSET h f v g w");
    expect_value_digest(f, "h", "d127864ed50239662bf61bafc9bda63c17da5b37");
    run(cmd_xadd, "XADD x 5-1 f v");
    expect_value_digest(f, "x", "9772ff973b35659052ee64022446d89c034a1d67");
    run(cmd_set, "SET e v EX 100");
    expect_value_digest(f, "e", "311b17018163335616e089f6b951c82c477335ac");
    expect_value_digest(f, "missing", ZEROS);
    /* several keys, in order; none */
    assert_string_equal(run(cmd_debug_digest_value, "DEBUG DIGEST-VALUE missing s"),
                        "*2\r\n+" ZEROS "\r\n+36b23a1456b2dce2c3ed252c456761301dba8060\r\n");
    assert_string_equal(run(cmd_debug_digest_value, "DEBUG DIGEST-VALUE"), "*0\r\n");
}

static void test_dataset_as_redis(void **state)
{
    struct fixture *f = *state;
    char hex[41];
    struct store *one[] = { f->store };
    dataset_digest(f, one, 1, hex);
    assert_string_equal(hex, ZEROS);
    assert_string_equal(run(cmd_debug_digest, "DEBUG DIGEST"), "+\r\n"); /* a part with no key */
    run(cmd_set, "SET a 1");
    run(cmd_set, "SET b 2");
    dataset_digest(f, one, 1, hex);
    assert_string_equal(hex, "7dff4aa4711992a6870417c26949f355d23a7cac");
    /* the same keys over two stores, either way round, an empty one too */
    run(cmd_del, "DEL b");
    run_on(f, f->other, cmd_set, "SET b 2");
    struct store *two[] = { f->store, f->other }, *back[] = { f->other, f->store };
    dataset_digest(f, two, 2, hex);
    assert_string_equal(hex, "7dff4aa4711992a6870417c26949f355d23a7cac");
    dataset_digest(f, back, 2, hex);
    assert_string_equal(hex, "7dff4aa4711992a6870417c26949f355d23a7cac");
    run_on(f, f->other, cmd_del, "DEL b");
    run(cmd_set, "SET b 2");
    dataset_digest(f, two, 2, hex);
    assert_string_equal(hex, "7dff4aa4711992a6870417c26949f355d23a7cac");
    /* the other store as database 2: Redis's digest of a=1 in db 0 and b=2
     * in db 2 (redis-server 7.0.15), whichever part comes first */
    run(cmd_del, "DEL b");
    store_set_db(f->other, 2);
    run_on(f, f->other, cmd_set, "SET b 2");
    const char *part = run_on(f, f->other, cmd_debug_digest, "DEBUG DIGEST"); /* +<db>:<hex> */
    assert_int_equal(strlen(part), 3 + 40 + 2);
    assert_memory_equal(part, "+2:", 3);
    dataset_digest(f, two, 2, hex);
    assert_string_equal(hex, "4e5e5f22f87650b8540930bc5585f7f658b6d5aa");
    dataset_digest(f, back, 2, hex);
    assert_string_equal(hex, "4e5e5f22f87650b8540930bc5585f7f658b6d5aa");
    assert_string_equal(run(cmd_debug_digest, "DEBUG DIGEST now"),
                        "-ERR unknown subcommand or wrong number of arguments for 'DIGEST'. Try DEBUG HELP.\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_values_as_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_as_redis, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
