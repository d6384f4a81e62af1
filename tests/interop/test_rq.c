/* RQ, Python's job queue, against ringkv of 1 and 3 shards:
 * tests/interop/rq_queue.py is the client (jobs enqueued, one failing, one
 * dependent, one scheduled; a worker runs them all). RQ's enqueue and
 * finish are WATCH transactions over a job's keys and its queue's, which
 * on 3 shards are on several (the transactions over several shards of
 * shards/watched.c). Also passes against redis-server
 * (RINGKV_TEST_TARGET=redis). Skipped when python3-rq is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"

#define JOBS 200

static void run_with(const char *threads)
{
    const char *script = getenv("RINGKV_RQ_PY");
    if (!script || run_cmd("/usr/bin/python3 -c 'import rq' >/dev/null 2>&1", NULL) != 0)
        skip();
    struct server srv;
    const char *args[] = { "--threads", threads, "--pin", "no", NULL };
    assert_int_equal(server_start(&srv, target_is_redis() ? NULL : args), 0);
    char cmd[600], *out = NULL;
    /* the worker's log lines go to stderr; the verdict is the last line */
    snprintf(cmd, sizeof cmd, "cd /tmp && timeout 240 /usr/bin/python3 %s %d %d 2>/dev/null </dev/null | tail -1",
             script, srv.port, JOBS);
    int st = run_cmd(cmd, &out);
    server_stop(&srv);
    if (st != 0 || strncmp(out, "ok ", 3) != 0)
        fail_msg("rq_queue.py exited %d:\n%s", st, out);
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
