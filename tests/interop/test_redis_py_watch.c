/* redis-py's optimistic transactions (Redis.transaction, pipeline.watch)
 * against ringkv of 1 and 3 shards: tests/interop/watch_transaction.py is
 * the client (counters under several hash tags incremented by two
 * processes, WatchError after another client's write). Also passes against
 * redis-server (RINGKV_TEST_TARGET=redis). Skipped when python3-redis is
 * missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"

#define ROUNDS 300

static void run_with(const char *threads)
{
    const char *script = getenv("RINGKV_WATCH_PY");
    if (!script || run_cmd("/usr/bin/python3 -c 'import redis' >/dev/null 2>&1", NULL) != 0)
        skip();
    struct server srv;
    const char *args[] = { "--threads", threads, "--pin", "no", NULL };
    assert_int_equal(server_start(&srv, target_is_redis() ? NULL : args), 0);
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof cmd, "timeout 240 /usr/bin/python3 %s %d %d 2>&1 </dev/null", script, srv.port, ROUNDS);
    int st = run_cmd(cmd, &out);
    server_stop(&srv);
    if (st != 0 || strncmp(out, "ok ", 3) != 0)
        fail_msg("watch_transaction.py exited %d:\n%s", st, out);
    print_message("%s", out);
    free(out);
}

static void test_one_shard(void **state)
{
    (void)state;
    run_with("1");
}

static void test_three_shards(void **state)
{
    (void)state;
    if (target_is_redis())
        skip(); /* the same run as above there */
    run_with("3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_shard),
        cmocka_unit_test(test_three_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
