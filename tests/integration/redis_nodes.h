/* redis_nodes: starting nodes for tests that talk to a real redis-server
 * beside the server under test (DUMP/RESTORE and MIGRATE both ways). Uses
 * repl_helpers.h's node list (include it first).
 *
 * Every redis-server gets a directory of its own, removed at teardown: a
 * redis-server replica writes the dump.rdb of its full sync where it runs,
 * and the next redis-server started there would load it. */
#ifndef RINGKV_TEST_REDIS_NODES_H
#define RINGKV_TEST_REDIS_NODES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char redis_dirs[MAX_NODES][32];
static int nredis_dirs;

/* args plus, for a redis-server, --dir of its own and no delay before a
 * full sync. */
static struct server *start_with_dir(bool redis, const char *const *extra)
{
    const char *args[24];
    int k = 0;
    if (redis) {
        assert_true(nredis_dirs < MAX_NODES);
        char *dir = redis_dirs[nredis_dirs++];
        snprintf(dir, sizeof redis_dirs[0], "/tmp/rkv-dump.XXXXXX");
        assert_non_null(mkdtemp(dir));
        args[k++] = "--dir";
        args[k++] = dir;
        args[k++] = "--repl-diskless-sync-delay"; /* a full sync at once */
        args[k++] = "0";
    }
    for (; extra && *extra && k < 23; extra++)
        args[k++] = *extra;
    args[k] = NULL;
    return node_start(args);
}

/* The server under test (ringkv, or redis-server on the redis target). */
static struct server *start_node(const char *const *extra)
{
    return start_with_dir(target_is_redis(), extra);
}

/* A redis-server, whatever the target. */
static struct server *start_redis(const char *const *extra)
{
    const char *was = getenv("RINGKV_TEST_TARGET");
    char saved[32] = "";
    if (was)
        snprintf(saved, sizeof saved, "%s", was);
    setenv("RINGKV_TEST_TARGET", "redis", 1);
    struct server *s = start_with_dir(true, extra);
    if (was)
        setenv("RINGKV_TEST_TARGET", saved, 1);
    else
        unsetenv("RINGKV_TEST_TARGET");
    return s;
}

/* Teardown: the nodes killed, the redis-servers' directories removed. */
static int redis_nodes_teardown(void **state)
{
    int rc = nodes_teardown(state);
    for (int i = 0; i < nredis_dirs; i++) {
        char cmd[320];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", redis_dirs[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", redis_dirs[i]);
    }
    nredis_dirs = 0;
    return rc;
}

#endif
