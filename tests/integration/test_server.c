/* Server commands and the process itself: INFO fields monitoring tools read,
 * CONFIG GET/SET (hz taking effect, replaced strings freed), COMMAND, TIME,
 * SLOWLOG (node-wide ids, across shards), CLUSTER KEYSLOT, SHUTDOWN and
 * signals, --help/--version, bind with the '-' prefix, a redis.conf-style
 * config file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;
static tconn *c;

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

/* The text of a bulk reply (INFO, CLIENT LIST); the caller frees the reply. */
static const char *text_of(struct rval *v)
{
    if (!v || (v->type != R_BULK && v->type != R_VERBATIM)) {
        char *t = rval_text(v);
        fail_msg("expected a bulk string, got %s", t);
    }
    return v->str;
}

/* The value of "name:" in INFO text as a number; fails if absent. */
static long long info_num(const char *info, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strstr(info, pat);
    if (!p)
        fail_msg("INFO has no field %s", name);
    return atoll(p + strlen(pat));
}

static void config_get_expect(tconn *t, const char *name, const char *value)
{
    struct rval *v = tcmd(t, "CONFIG GET %s", name);
    assert_non_null(v);
    assert_true(v->type == R_ARRAY || v->type == R_MAP);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->elem[0]->str, name);
    assert_string_equal(v->elem[1]->str, value);
    rval_free(v);
}

static void test_info(void **state)
{
    expect_ok(tcmd(c, "MSET a 1 b 2 c 3"));
    tconn *d = tconnect(srv.port);
    expect_status(tcmd(d, "PING"), "PONG");
    struct rval *v = tcmd(c, "INFO");
    const char *info = text_of(v);
    assert_true(strncmp(info, "# Server\r\n", 10) == 0);
    assert_non_null(strstr(info, "\r\nredis_version:"));
    char port[32];
    snprintf(port, sizeof port, "\r\ntcp_port:%d\r\n", srv.port);
    assert_non_null(strstr(info, port));
    assert_true(info_num(info, "connected_clients") >= 2);
    assert_true(info_num(info, "used_memory") > 0);
    assert_true(info_num(info, "uptime_in_seconds") >= 0);
    (void)info_num(info, "total_commands_processed");
    (void)info_num(info, "keyspace_hits");
    (void)info_num(info, "keyspace_misses");
    (void)info_num(info, "evicted_keys");
    (void)info_num(info, "expired_keys");
    (void)info_num(info, "maxmemory");
    assert_non_null(strstr(info, "\r\nrole:master\r\n"));
    assert_non_null(strstr(info, "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl="));
    rval_free(v);

    v = tcmd(c, "INFO keyspace");
    info = text_of(v);
    assert_true(strncmp(info, "# Keyspace\r\ndb0:keys=3,", 23) == 0);
    assert_null(strstr(info, "redis_version"));
    rval_free(v);

    v = tcmd(c, "INFO clients memory");
    info = text_of(v);
    assert_non_null(strstr(info, "# Clients\r\n"));
    assert_non_null(strstr(info, "# Memory\r\n"));
    assert_null(strstr(info, "# Server"));
    rval_free(v);
    tclose(d);
}

static void test_config_get_set(void **state)
{
    expect_ok(tcmd(c, "CONFIG SET maxmemory 5mb"));
    config_get_expect(c, "maxmemory", "5242880");
    expect_ok(tcmd(c, "CONFIG SET maxmemory 5m"));
    config_get_expect(c, "maxmemory", "5000000");
    expect_ok(tcmd(c, "CONFIG SET maxmemory 1gb"));
    config_get_expect(c, "maxmemory", "1073741824");
    expect_ok(tcmd(c, "CONFIG SET maxmemory 0"));
    config_get_expect(c, "maxmemory", "0");
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy allkeys-lru"));
    config_get_expect(c, "maxmemory-policy", "allkeys-lru");
    expect_ok(tcmd(c, "CONFIG SET maxmemory-policy noeviction"));
    config_get_expect(c, "maxmemory-policy", "noeviction");
    char port[16];
    snprintf(port, sizeof port, "%d", srv.port);
    config_get_expect(c, "port", port);

    struct rval *v = tcmd(c, "CONFIG GET maxmemory*");
    assert_non_null(v);
    assert_true(v->n >= 6 && v->n % 2 == 0);  /* maxmemory, -policy, -samples at least */
    rval_free(v);
    v = tcmd(c, "CONFIG GET nosuchoption");
    assert_non_null(v);
    assert_int_equal(v->n, 0);
    rval_free(v);

    expect_error(tcmd(c, "CONFIG SET nosuchoption 1"),
                 "ERR Unknown option or number of arguments for CONFIG SET - 'nosuchoption'");
    expect_error(tcmd(c, "CONFIG SET maxmemory abc"),
                 "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value");
    expect_error(tcmd(c, "CONFIG SET databases 4"),
                 "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config");
    expect_error(tcmd(c, "CONFIG SET daemonize yes"),
                 "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config");
    expect_error_prefix(tcmd(c, "CONFIG SET maxmemory-policy bogus"),
                        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: ");
    expect_error(tcmd(c, "CONFIG GET"), "ERR wrong number of arguments for 'config|get' command");
}

static void test_command(void **state)
{
    struct rval *v = tcmd(c, "COMMAND COUNT");
    assert_non_null(v);
    assert_int_equal(v->type, R_INT);
    assert_true(v->integer >= 40);
    rval_free(v);

    v = tcmd(c, "COMMAND INFO get set nosuchcommand");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 3);
    struct rval *g = v->elem[0];
    assert_int_equal(g->type, R_ARRAY);
    assert_true(g->n >= 6);
    assert_string_equal(g->elem[0]->str, "get");
    assert_int_equal(g->elem[1]->integer, 2);   /* arity */
    bool readonly = false;
    for (size_t i = 0; i < g->elem[2]->n; i++)
        readonly |= strcmp(g->elem[2]->elem[i]->str, "readonly") == 0;
    assert_true(readonly);
    assert_int_equal(g->elem[3]->integer, 1);   /* first key */
    assert_int_equal(g->elem[4]->integer, 1);   /* last key */
    assert_int_equal(g->elem[5]->integer, 1);   /* step */
    assert_string_equal(v->elem[1]->elem[0]->str, "set");
    assert_int_equal(v->elem[1]->elem[1]->integer, -3);
    assert_int_equal(v->elem[2]->type, R_NIL);
    rval_free(v);

    v = tcmd(c, "COMMAND INFO mset");
    assert_int_equal(v->elem[0]->elem[1]->integer, -3);
    assert_int_equal(v->elem[0]->elem[3]->integer, 1);
    assert_int_equal(v->elem[0]->elem[4]->integer, -1);
    assert_int_equal(v->elem[0]->elem[5]->integer, 2);
    rval_free(v);
}

static void test_time(void **state)
{
    struct rval *v = tcmd(c, "TIME");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    long long s = atoll(v->elem[0]->str);
    long long us = atoll(v->elem[1]->str);
    assert_true(llabs(s - (long long)time(NULL)) <= 2);
    assert_true(us >= 0 && us < 1000000);
    rval_free(v);
}

/* LOLWUT: art, then the version line clients look for ("Redis ver."),
 * a bulk string (RESP2); a bad VERSION is an integer error; the art's size
 * follows the numbers after VERSION and stays bounded however large they are. */
static void test_lolwut(void **state)
{
    struct rval *v = tcmd(c, "LOLWUT");
    assert_int_equal(v->type, R_BULK);
    assert_non_null(strstr(v->str, "Redis ver. "));
    rval_free(v);
    expect_error(tcmd(c, "LOLWUT VERSION x"), "ERR value is not an integer or out of range");
    v = tcmd(c, "LOLWUT VERSION 1");
    assert_int_equal(v->type, R_BULK);
    assert_non_null(strstr(v->str, "Redis ver. "));
    rval_free(v);
    if (target_is_redis())
        return; /* Redis's art is its own */
    v = tcmd(c, "LOLWUT VERSION 6 30 10");
    int lines = 0;
    for (char *p = v->str; *p;) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (lines < 10)
            assert_true(nl - p <= 30);
        lines++;
        p = nl + 1;
    }
    assert_int_equal(lines, 11); /* ten rows of art and the version line */
    assert_non_null(strchr(v->str, '#'));
    rval_free(v);
    v = tcmd(c, "LOLWUT VERSION 5 999999999 999999999");
    assert_int_equal(v->type, R_BULK);
    assert_true(v->len <= 1001u * 1000u + 100u);
    rval_free(v);
    v = tcmd(c, "LOLWUT VERSION 2"); /* no art for it: the line alone */
    assert_non_null(strstr(v->str, "Redis ver. "));
    assert_null(strchr(v->str, '#'));
    rval_free(v);
}

static void test_slowlog(void **state)
{
    expect_ok(tcmd(c, "CONFIG SET slowlog-log-slower-than 0"));
    expect_ok(tcmd(c, "SLOWLOG RESET"));
    expect_ok(tcmd(c, "SET slowkey slowvalue"));
    struct rval *v = tcmd(c, "SLOWLOG LEN");
    assert_non_null(v);
    assert_int_equal(v->type, R_INT);
    assert_true(v->integer >= 1);
    rval_free(v);
    v = tcmd(c, "SLOWLOG GET 100");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    bool found = false;
    for (size_t i = 0; i < v->n; i++) {
        struct rval *e = v->elem[i];
        assert_true(e->n >= 4);
        assert_int_equal(e->elem[0]->type, R_INT);   /* id */
        assert_int_equal(e->elem[1]->type, R_INT);   /* unix time */
        assert_int_equal(e->elem[2]->type, R_INT);   /* microseconds */
        assert_true(e->elem[2]->integer >= 0);
        struct rval *args = e->elem[3];
        if (args->n == 3 && strcasecmp(args->elem[0]->str, "set") == 0 &&
            strcmp(args->elem[1]->str, "slowkey") == 0 && strcmp(args->elem[2]->str, "slowvalue") == 0)
            found = true;
    }
    assert_true(found);
    rval_free(v);
    expect_ok(tcmd(c, "CONFIG SET slowlog-log-slower-than 10000"));
    expect_ok(tcmd(c, "SLOWLOG RESET"));
    v = tcmd(c, "SLOWLOG LEN");
    assert_true(v->integer <= 1);
    rval_free(v);
}

static void test_cluster_keyslot(void **state)
{
    struct server cs;
    tconn *t = c;
    char nodes[300];
    if (target_is_redis()) {
        /* Redis answers CLUSTER KEYSLOT only in cluster mode */
        char arg[300];
        snprintf(nodes, sizeof nodes, "/tmp/ringkv-test-nodes-%d.conf", (int)getpid());
        unlink(nodes);
        snprintf(arg, sizeof arg, "%s", nodes);
        const char *args[] = { "--cluster-enabled", "yes", "--cluster-config-file", arg, NULL };
        server_start(&cs, args);
        t = tconnect(cs.port);
    }
    expect_int(tcmd(t, "CLUSTER KEYSLOT foo"), 12182);
    expect_int(tcmd(t, "CLUSTER KEYSLOT bar"), 5061);
    expect_int(tcmd(t, "CLUSTER KEYSLOT somekey"), 11058);
    struct rval *a = tcmd(t, "CLUSTER KEYSLOT {user1000}.following");
    struct rval *b = tcmd(t, "CLUSTER KEYSLOT {user1000}.followers");
    assert_int_equal(a->type, R_INT);
    assert_int_equal(a->integer, b->integer);
    rval_free(a);
    rval_free(b);
    expect_int(tcmd(t, "CLUSTER KEYSLOT {}foo"), 9500);  /* empty tag: the whole key */
    if (target_is_redis()) {
        tclose(t);
        server_stop(&cs);
        unlink(nodes);
    }
}

static void test_shutdown_command(void **state)
{
    struct server s;
    server_start(&s, NULL);
    tconn *t = tconnect(s.port);
    expect_ok(tcmd(t, "SET k v"));
    tsend_raw(t, "*1\r\n$8\r\nSHUTDOWN\r\n", 18);
    assert_true(tclosed(t, 10000));
    tclose(t);
    assert_int_equal(server_wait_exit(&s, 10000), 0);
}

static void test_signals_exit_zero(void **state)
{
    struct server s;
    server_start(&s, NULL);
    assert_int_equal(server_signal_wait(&s, SIGTERM, 10000), 0);
    server_start(&s, NULL);
    tconn *t = tconnect(s.port);   /* with a client connected */
    expect_status(tcmd(t, "PING"), "PONG");
    assert_int_equal(server_signal_wait(&s, SIGINT, 10000), 0);
    tclose(t);
}

static void test_help_and_version(void **state)
{
    if (target_is_redis())
        skip();
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' --help 2>&1", server_binary());
    assert_int_equal(run_cmd(cmd, &out), 0);
    assert_non_null(strstr(out, "port"));
    assert_non_null(strstr(out, "6379"));
    assert_non_null(strstr(out, "bind"));
    assert_non_null(strstr(out, "127.0.0.1"));
    assert_non_null(strstr(out, "threads"));
    assert_non_null(strstr(out, "maxmemory"));
    assert_non_null(strstr(out, "maxmemory-policy"));
    assert_non_null(strstr(out, "noeviction"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' --version 2>&1", server_binary());
    assert_int_equal(run_cmd(cmd, &out), 0);
    assert_non_null(strstr(out, "ringkv"));
    int major, minor;
    const char *p = out;
    bool found = false;
    for (; *p && !found; p++)
        found = sscanf(p, "%d.%d", &major, &minor) == 2 && p[-1] != '.';
    assert_true(found);
    free(out);
    /* a bad option: non-zero exit, and the process does not start serving */
    snprintf(cmd, sizeof cmd, "timeout 5 '%s' --no-such-option 1 2>&1", server_binary());
    int st = run_cmd(cmd, &out);
    assert_true(st != 0 && st != 124);
    free(out);
}

/* CLIENT PAUSE WRITE holds a client's write and what it sent after it, but
 * not other clients' reads; CLIENT UNPAUSE runs them in order. Inside MULTI
 * the queued write is held too (Redis checks before queueing). CLIENT PAUSE
 * ALL holds reads as well, until its timeout. Bad arguments get Redis's
 * errors. */
static void test_client_pause(void **state)
{
    tconn *w = tconnect(srv.port), *r = tconnect(srv.port);
    expect_ok(tcmd(c, "SET k 1"));
    expect_ok(tcmd(c, "CLIENT PAUSE 100000 WRITE"));
    tsendv(w, 3, (const char *[]){ "SET", "k", "2" });
    tsendv(w, 2, (const char *[]){ "GET", "k" });
    expect_bulk(tcmd(r, "GET k"), "1");
    assert_null(tread(w, 300));
    expect_bulk(tcmd(r, "GET k"), "1");
    expect_ok(tcmd(c, "CLIENT UNPAUSE"));
    expect_ok(tread(w, 5000));
    expect_bulk(tread(w, 5000), "2");

    expect_ok(tcmd(w, "MULTI"));
    expect_ok(tcmd(c, "CLIENT PAUSE 100000 WRITE"));
    tsendv(w, 2, (const char *[]){ "INCR", "k" });
    assert_null(tread(w, 300));
    expect_ok(tcmd(c, "CLIENT UNPAUSE"));
    expect_status(tread(w, 5000), "QUEUED");
    struct rval *v = tcmd(w, "EXEC");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 1);
    assert_int_equal(v->elem[0]->integer, 3);
    rval_free(v);

    expect_ok(tcmd(c, "CLIENT PAUSE 2000 ALL"));
    tsendv(r, 2, (const char *[]){ "GET", "k" });
    assert_null(tread(r, 300));
    expect_bulk(tread(r, 10000), "3");

    expect_error(tcmd(c, "CLIENT PAUSE x"), "ERR timeout is not an integer or out of range");
    expect_error(tcmd(c, "CLIENT PAUSE -1"), "ERR timeout is negative");
    expect_error(tcmd(c, "CLIENT PAUSE 10 sometimes"), "ERR CLIENT PAUSE mode must be WRITE or ALL");
    expect_ok(tcmd(c, "CLIENT UNPAUSE"));
    tclose(w);
    tclose(r);
}

/* A paused client that keeps sending is not read without bound: the server
 * stops reading it once a few MB of its input wait (TCP pushes back on the
 * client) and reads the rest once the pause ends, every command intact. */
static void test_paused_client_input_pushback(void **state)
{
    enum { N = 16000, VLEN = 4000 };
    tconn *w = tconnect(srv.port);
    char *value = malloc(VLEN + 1);
    memset(value, 'v', VLEN);
    value[VLEN] = '\0';
    size_t cap = (size_t)N * (VLEN + 64), total = 0;
    char *cmds = malloc(cap);
    for (int i = 0; i < N; i++)
        total += (size_t)snprintf(cmds + total, cap - total, "*3\r\n$3\r\nSET\r\n$%d\r\npk:%05d\r\n$%d\r\n%s\r\n",
                                  8, i, VLEN, value);
    expect_ok(tcmd(c, "CLIENT PAUSE 100000 WRITE"));
    int fd = tfd(w);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    size_t sent = 0;
    long long idle_since = now_ms();
    while (sent < total && now_ms() - idle_since < 1500) {
        ssize_t k = send(fd, cmds + sent, total - sent, MSG_NOSIGNAL);
        if (k > 0) {
            sent += (size_t)k;
            idle_since = now_ms();
        } else {
            usleep(20000);
        }
    }
    /* the server stopped reading: the client could not hand over all 64 MB */
    assert_true(sent < total);
    struct rval *v = tcmd(c, "CLIENT LIST");
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    char *list = strdup(v->str);
    rval_free(v);
    /* w is the connection with a big query buffer */
    long long qbuf_max = 0;
    for (char *q = strstr(list, "qbuf="); q; q = strstr(q + 5, "qbuf="))
        if (atoll(q + 5) > qbuf_max)
            qbuf_max = atoll(q + 5);
    free(list);
    assert_true(qbuf_max > 0);
    assert_true(qbuf_max <= 13 * 1024 * 1024); /* 4 MB, plus what was in flight */
    expect_ok(tcmd(c, "CLIENT UNPAUSE"));
    fcntl(fd, F_SETFL, fl);
    tsend_raw(w, cmds + sent, total - sent);
    for (int i = 0; i < N; i++)
        expect_ok(tread(w, 10000));
    expect_bulk(tcmd(c, "GET pk:%05d", N - 1), value);
    expect_int(tcmd(c, "DBSIZE"), N);
    free(cmds);
    free(value);
    tclose(w);
}

static void test_config_file(void **state)
{
    struct server s;
    server_start_conf(&s, "# a comment\nmaxmemory 5m\nmaxmemory-policy \"allkeys-lru\"\n", NULL);
    tconn *t = tconnect(s.port);  /* the port from the file */
    config_get_expect(t, "maxmemory", "5000000");
    config_get_expect(t, "maxmemory-policy", "allkeys-lru");
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
}

/* The whole file as a string (the caller frees it). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* CONFIG REWRITE, as Sentinel uses it: the file keeps its comments, takes
 * the changed values and the current master, and survives a restart's read. */
static void test_config_rewrite(void **state)
{
    /* started without a file: Redis's refusal */
    expect_error(tcmd(c, "CONFIG REWRITE"), "ERR The server is running without a config file");

    struct server s;
    server_start_conf(&s, "# keep this comment\nmaxmemory 1mb\n", NULL);
    char conf[300];
    snprintf(conf, sizeof conf, "%s.conf", s.logfile); /* where the harness wrote it */
    tconn *t = tconnect(s.port);
    expect_ok(tcmd(t, "CONFIG SET maxmemory 3mb"));
    expect_ok(tcmd(t, "CONFIG REWRITE"));
    char *text = slurp(conf);
    assert_non_null(strstr(text, "# keep this comment\n"));
    assert_true(strstr(text, "\nmaxmemory 3145728\n") != NULL || strstr(text, "\nmaxmemory 3mb\n") != NULL);
    assert_null(strstr(text, "maxmemory 1mb"));
    assert_null(strstr(text, "replicaof"));
    free(text);

    /* Sentinel's failover: REPLICAOF and CONFIG REWRITE in one transaction */
    int other = free_port();
    char want[64];
    snprintf(want, sizeof want, "\nreplicaof 127.0.0.1 %d\n", other);
    expect_ok(tcmd(t, "MULTI"));
    expect_status(tcmd(t, "REPLICAOF 127.0.0.1 %d", other), "QUEUED");
    expect_status(tcmd(t, "CONFIG REWRITE"), "QUEUED");
    struct rval *v = tcmd(t, "EXEC");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elem[0]->type, R_STATUS);
    assert_string_equal(v->elem[1]->str, "OK");
    rval_free(v);
    text = slurp(conf);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "# keep this comment\n"));
    free(text);

    /* promoted again: the line goes */
    expect_ok(tcmd(t, "REPLICAOF NO ONE"));
    expect_ok(tcmd(t, "CONFIG REWRITE"));
    text = slurp(conf);
    assert_null(strstr(text, "replicaof"));
    assert_non_null(strstr(text, "# keep this comment\n"));
    free(text);
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
    unlink(conf);
}

/* The slow log across shards: one node-wide id sequence (newest first, each
 * one less than the one before), the client's addr and name on every entry
 * whichever shard ran the command, and a command run on every shard
 * (DBSIZE) or in parts on several (MGET) logged once, as it was sent. */
static void test_slowlog_node_wide(void **state)
{
    struct server ms;
    const char *args[] = { "--threads", "3", "--pin", "no", NULL };
    struct server *use = &srv;
    if (!target_is_redis()) {
        server_start(&ms, args);
        use = &ms;
    }
    tconn *t = tconnect(use->port);
    expect_ok(tcmd(t, "CLIENT SETNAME slowpoke"));
    expect_ok(tcmd(t, "CONFIG SET slowlog-log-slower-than 0"));
    expect_ok(tcmd(t, "SLOWLOG RESET"));
    for (int i = 0; i < 12; i++)
        expect_ok(tcmd(t, "SET slow:%d x", i));
    struct rval *d = tcmd(t, "DBSIZE");
    assert_int_equal(d->type, R_INT);
    rval_free(d);
    /* keys of 12 slots, on every shard: one entry, the command as sent */
    d = tcmd(t, "MGET slow:0 slow:1 slow:2 slow:3 slow:4 slow:5 slow:6 slow:7 slow:8 slow:9 slow:10 slow:11");
    assert_int_equal(d->n, 12);
    rval_free(d);
    /* EXEC is not logged (Redis's skip_slowlog), the commands it ran are */
    expect_ok(tcmd(t, "MULTI"));
    expect_status(tcmd(t, "SET slow:tx x"), "QUEUED");
    d = tcmd(t, "EXEC");
    assert_int_equal(d->type, R_ARRAY);
    rval_free(d);
    expect_ok(tcmd(t, "CONFIG SET slowlog-log-slower-than -1"));
    struct rval *v = tcmd(t, "SLOWLOG GET -1");
    assert_int_equal(v->type, R_ARRAY);
    int sets = 0, dbsizes = 0, mgets = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct rval *e = v->elem[i];
        assert_int_equal(e->n, 6);
        if (i + 1 < v->n)
            assert_int_equal(e->elem[0]->integer, v->elem[i + 1]->elem[0]->integer + 1);
        struct rval *argv = e->elem[3];
        const char *name = argv->elem[0]->str;
        assert_true(strcasecmp(name, "exec") != 0);
        if (strcasecmp(name, "mget") == 0) {
            mgets++;
            assert_int_equal(argv->n, 13);
            for (int k = 0; k < 12; k++) {
                char key[16];
                snprintf(key, sizeof key, "slow:%d", k);
                assert_string_equal(argv->elem[1 + k]->str, key);
            }
        }
        if (strcasecmp(name, "set") == 0 || strcasecmp(name, "dbsize") == 0) {
            if (strcasecmp(name, "set") == 0)
                sets++;
            else
                dbsizes++;
            assert_non_null(strstr(e->elem[4]->str, "127.0.0.1:"));
            assert_string_equal(e->elem[5]->str, "slowpoke");
        }
    }
    assert_int_equal(sets, 13);
    assert_int_equal(dbsizes, 1);
    assert_int_equal(mgets, 1);
    rval_free(v);
    expect_ok(tcmd(t, "CONFIG SET slowlog-log-slower-than 10000"));
    expect_ok(tcmd(t, "SLOWLOG RESET"));
    tclose(t);
    if (!target_is_redis())
        server_stop(&ms);
}

/* bind: an address with Redis's "-" prefix that this host does not have is
 * skipped with a log line (a stock redis.conf's "bind 127.0.0.1 -::1" on a
 * host without IPv6); without the prefix the server does not start. */
static void test_bind_optional_address(void **state)
{
    struct server bs;
    const char *args[] = { "--bind", "127.0.0.1 -10.255.255.1", NULL };
    assert_int_equal(server_start(&bs, args), 0);
    tconn *t = tconnect(bs.port);
    expect_status(tcmd(t, "PING"), "PONG");
    tclose(t);
    char cmd[700], *out = NULL;
    snprintf(cmd, sizeof cmd, "grep -c '10.255.255.1' '%s'", bs.logfile);
    assert_int_equal(run_cmd(cmd, &out), 0); /* the skip is logged */
    free(out);
    assert_int_equal(server_stop(&bs), 0);

    int port = free_port();
    snprintf(cmd, sizeof cmd, "timeout 5 '%s' --port %d --bind '127.0.0.1 10.255.255.1' %s 2>&1",
             server_binary(), port, target_is_redis() ? "--save ''" : "");
    int st = run_cmd(cmd, &out);
    assert_true(st != 0 && st != 124);
    free(out);
}

/* CONFIG SET hz changes how often the background work runs. Observed
 * through active expiry, which stops a cycle early when few of the keys it
 * samples have expired: 100 expired keys among 1000 with a TTL go at a few
 * per cycle, so at hz 1 (the start value) a few seconds remove a handful,
 * at hz 500 all of them. */
static void test_config_set_hz_takes_effect(void **state)
{
    struct server hs;
    const char *args[] = { "--hz", "1", "--threads", "1", NULL };
    const char *rargs[] = { "--hz", "1", NULL };
    assert_int_equal(server_start(&hs, target_is_redis() ? rargs : args), 0);
    tconn *t = tconnect(hs.port);
    expect_ok(tcmd(t, "CONFIG SET hz 500"));
    config_get_expect(t, "hz", "500");
    usleep(1200 * 1000); /* the tick armed at hz 1 runs out */
    for (int i = 0; i < 900; i++)
        expect_ok(tcmd(t, "SET live:%d x EX 100000", i));
    for (int i = 0; i < 100; i++)
        expect_ok(tcmd(t, "SET gone:%d x PX 1", i));
    long long expired = 0;
    for (long long end = now_ms() + 4000; now_ms() < end && expired < 100;) {
        usleep(50 * 1000);
        struct rval *v = tcmd(t, "INFO stats");
        expired = info_num(text_of(v), "expired_keys");
        rval_free(v);
    }
    assert_int_equal(expired, 100);
    tclose(t);
    assert_int_equal(server_stop(&hs), 0);
}

/* Resident memory of a process in KB, from /proc. */
static long long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* CONFIG SET of a string option frees the string it replaces (once no
 * shard can still be reading it): 200 sets of a 1 MB masterauth leave the
 * process about as big as one. */
static void test_config_set_string_does_not_leak(void **state)
{
    struct server ls;
    const char *args[] = { "--threads", "2", "--pin", "no", NULL };
    assert_int_equal(server_start(&ls, target_is_redis() ? NULL : args), 0);
    tconn *t = tconnect(ls.port);
    size_t len = 1 << 20;
    char *value = malloc(len + 1);
    assert_non_null(value);
    long long before = 0;
    for (int i = 0; i < 200; i++) {
        memset(value, 'a' + i % 26, len);
        value[len] = '\0';
        const char *argv[] = { "CONFIG", "SET", "masterauth", value };
        tsendv(t, 4, argv);
        expect_ok(tread(t, 5000));
        if (i == 9)
            before = rss_kb(ls.pid);
    }
    expect_status(tcmd(t, "PING"), "PONG"); /* the other shard has answered meanwhile */
    long long after = rss_kb(ls.pid);
    free(value);
    /* leaking, the 190 sets after the first ten would add 190 MB (380 with a
     * copy leaked per check) */
    assert_true(after - before < 64 * 1024);
    expect_ok(tcmd(t, "CONFIG SET masterauth x"));
    tclose(t);
    assert_int_equal(server_stop(&ls), 0);
}

/* ---- a Redis user's redis.conf, daemonize, ./run (issue 13) ---- */

/* A fresh directory under /tmp (absolute, no links: CONFIG GET dir shows it). */
static void make_tmpdir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/ringkv_dropin_XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* Remove dir and the few plain files a test left in it. */
static void remove_tmpdir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(run_cmd(cmd, NULL), 0);
}

/* Whether something accepts TCP connections on 127.0.0.1:port. */
static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The pid in a pid file, or -1 while it does not hold one. */
static pid_t read_pidfile(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int pid = -1;
    if (fscanf(f, "%d", &pid) != 1)
        pid = -1;
    fclose(f);
    return pid;
}

/* A daemon a test started (not our child, so the harness does not know it):
 * the teardown kills it if the test failed before it ended. */
static pid_t daemon_pid = -1;

static int kill_daemon(void **state)
{
    if (daemon_pid > 0 && kill(daemon_pid, 0) == 0)
        kill(daemon_pid, SIGKILL);
    daemon_pid = -1;
    return 0;
}

/* Wait up to timeout_ms for a daemon (not our child) to exit; kill -9 it
 * past that. Returns whether it exited by itself. */
static bool daemon_gone(pid_t pid, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        if (kill(pid, 0) != 0)
            return true;
        usleep(20 * 1000);
    }
    kill(pid, SIGKILL);
    return false;
}

/* Debian's stock /etc/redis/redis.conf (Redis 7.0's, from the redis-server
 * package the suite installs) starts the server and it serves. Changed for
 * the harness only: the port (a free one), daemonize no (the harness waits
 * for the process it started, which a daemon's parent leaves at once),
 * dir and pidfile in a fresh directory (/var/lib/redis and /run/redis belong
 * to the system's Redis); the harness also passes --bind and --logfile. */
static void test_debian_redis_conf_starts(void **state)
{
    FILE *f = fopen("/etc/redis/redis.conf", "r");
    if (f == NULL) {
        skip();
        return;
    }
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    size_t cap = 1 << 20, len = 0;
    char *text = calloc(1, cap);
    assert_non_null(text);
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "port ", 5) == 0)
            continue; /* the harness's port, written first, must stay */
        if (strncmp(line, "daemonize ", 10) == 0)
            snprintf(line, sizeof line, "daemonize no\n");
        else if (strncmp(line, "dir ", 4) == 0)
            snprintf(line, sizeof line, "dir %s\n", dir);
        else if (strncmp(line, "pidfile ", 8) == 0)
            snprintf(line, sizeof line, "pidfile %s/server.pid\n", dir);
        size_t l = strlen(line);
        assert_true(len + l < cap);
        memcpy(text + len, line, l);
        len += l;
    }
    fclose(f);

    struct server s;
    assert_int_equal(server_start_conf(&s, text, NULL), 0);
    free(text);
    tconn *t = tconnect(s.port);
    expect_ok(tcmd(t, "SET dropin yes"));
    expect_bulk(tcmd(t, "GET dropin"), "yes");
    config_get_expect(t, "dir", dir);                 /* entered at start */
    config_get_expect(t, "databases", "16");
    config_get_expect(t, "appendonly", "no");
    config_get_expect(t, "appendfsync", "everysec");  /* accepted, read back */
    config_get_expect(t, "dbfilename", "dump.rdb");
    config_get_expect(t, "repl-diskless-sync", "yes");
    char pidfile[128];
    snprintf(pidfile, sizeof pidfile, "%s/server.pid", dir);
    assert_int_equal(read_pidfile(pidfile), s.pid);
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
    remove_tmpdir(dir);
}

/* A directive that is not Redis's still stops the start, with Redis's text. */
static void test_unknown_directive_is_fatal(void **state)
{
    char dir[64], conf[128], cmd[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/bad.conf", dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "port %d\nappendfsync everysec\nno-such-directive yes\n", free_port());
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", server_binary(), conf);
    char *out = NULL;
    assert_int_equal(run_cmd(cmd, &out), 1);
    assert_non_null(strstr(out, ">>> 'no-such-directive yes'\nBad directive or wrong number of arguments"));
    free(out);
    remove_tmpdir(dir);
}

/* daemonize yes: the command returns once the server is up (exit 0), the
 * server runs on in the background with its pid in the pid file, and
 * SHUTDOWN ends it and removes the file. */
static void test_daemonize(void **state)
{
    char dir[64], conf[128], pidfile[128], cmd[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/d.conf", dir);
    snprintf(pidfile, sizeof pidfile, "%s/d.pid", dir);
    int port = free_port();
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "port %d\nbind 127.0.0.1\ndaemonize yes\npidfile %s\ndir %s\nlogfile d.log\nsave \"\"\n",
            port, pidfile, dir);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s", server_binary(), conf);
    assert_int_equal(run_cmd(cmd, NULL), 0);
    /* Redis's parent returns at once; ringkv's once the server listens */
    long long deadline = now_ms() + 10000;
    pid_t pid;
    while (((pid = read_pidfile(pidfile)) <= 0 || !port_open(port)) && now_ms() < deadline)
        usleep(20 * 1000);
    assert_true(pid > 0);
    daemon_pid = pid;
    assert_int_not_equal(pid, getpid());
    tconn *t = tconnect(port);
    expect_status(tcmd(t, "PING"), "PONG");
    config_get_expect(t, "daemonize", "yes");
    tsendv(t, 1, (const char *[]){ "SHUTDOWN" });
    tclose(t);
    assert_true(daemon_gone(pid, 10000));
    assert_int_equal(access(pidfile, F_OK), -1); /* removed on the way out */
    char log[128];
    snprintf(log, sizeof log, "%s/d.log", dir); /* relative to dir */
    assert_int_equal(access(log, F_OK), 0);
    remove_tmpdir(dir);
}

/* `./run my.conf` (from any directory) takes the file as the config file and
 * adds nothing that overrides it: the server listens on the file's port,
 * with the file's bind. Runs the script of the source tree whose build/ holds
 * the binary under test (ninja there is then a no-op); daemonize yes in the
 * file lets the script return once the server is up. */
static void test_run_script_takes_config_file(void **state)
{
    if (target_is_redis()) {
        skip();
        return;
    }
    char root[512], probe[600];
    snprintf(root, sizeof root, "%s", server_binary());
    for (int up = 0; up < 2; up++) { /* <root>/build/ringkv -> <root> */
        char *slash = strrchr(root, '/');
        assert_non_null(slash);
        *slash = '\0';
    }
    snprintf(probe, sizeof probe, "%s/build/build.ninja", root);
    char bin[600];
    snprintf(bin, sizeof bin, "%s/build/ringkv", root);
    if (access(probe, F_OK) != 0 || strcmp(bin, server_binary()) != 0) {
        skip(); /* another build directory: ./run would build build/ first */
        return;
    }
    char dir[64], conf[128], pidfile[128], cmd[1400];
    make_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/my.conf", dir);
    snprintf(pidfile, sizeof pidfile, "%s/run.pid", dir);
    int port = free_port();
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "port %d\nbind 127.0.0.1 -::1\ndaemonize yes\npidfile %s\nlogfile run.log\n", port, pidfile);
    fclose(f);
    /* the file named relative to the caller's directory, as a user types it */
    snprintf(cmd, sizeof cmd, "cd %s && %s/run my.conf --maxmemory 1mb 2>&1", dir, root);
    char *out = NULL;
    int rc = run_cmd(cmd, &out);
    if (rc != 0)
        fail_msg("./run my.conf exited %d: %s", rc, out);
    free(out);
    pid_t pid = read_pidfile(pidfile);
    assert_true(pid > 0);
    daemon_pid = pid;
    tconn *t = tconnect(port); /* the file's port, not 6379 */
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    config_get_expect(t, "port", portstr);
    config_get_expect(t, "bind", "127.0.0.1 -::1");
    config_get_expect(t, "maxmemory", "1048576"); /* flags after the file still apply */
    config_get_expect(t, "dir", dir);             /* run leaves the caller's directory */
    tsendv(t, 1, (const char *[]){ "SHUTDOWN" });
    tclose(t);
    assert_true(daemon_gone(pid, 10000));
    remove_tmpdir(dir);
}

/* maxmemory-policy takes every name Redis 7 has. volatile-random evicts
 * only keys with a time to live, chosen at random: keys without one all
 * survive while the volatile ones make room. allkeys-lfu (evicting as
 * allkeys-lru in ringkv) makes room among all keys. */
static void test_maxmemory_policy_redis_names(void **state)
{
    struct server s;
    const char *args[] = { "--threads", "1", "--maxmemory", "4mb", "--maxmemory-policy", "volatile-random", NULL };
    const char *rargs[] = { "--maxmemory", "4mb", "--maxmemory-policy", "volatile-random", "--save", "", NULL };
    assert_int_equal(server_start(&s, target_is_redis() ? rargs : args), 0);
    tconn *t = tconnect(s.port);
    config_get_expect(t, "maxmemory-policy", "volatile-random");
    char value[1025];
    memset(value, 'v', 1024);
    value[1024] = '\0';
    for (int i = 0; i < 200; i++)
        expect_ok(tcmd(t, "SET keep:%d %s", i, value));
    for (int i = 0; i < 8000; i++) /* 8 MB of volatile keys through a 4 MB limit */
        expect_ok(tcmd(t, "SET vol:%d %s EX 1000", i, value));
    for (int i = 0; i < 200; i++)
        expect_bulk(tcmd(t, "GET keep:%d", i), value);
    struct rval *info = tcmd(t, "INFO stats");
    assert_true(info_num(text_of(info), "evicted_keys") > 0);
    rval_free(info);

    expect_ok(tcmd(t, "CONFIG SET maxmemory-policy allkeys-lfu"));
    config_get_expect(t, "maxmemory-policy", "allkeys-lfu");
    expect_ok(tcmd(t, "FLUSHALL"));
    for (int i = 0; i < 8000; i++) /* no key has a TTL: room is made among all */
        expect_ok(tcmd(t, "SET all:%d %s", i, value));
    expect_ok(tcmd(t, "CONFIG SET maxmemory-policy volatile-lfu"));
    config_get_expect(t, "maxmemory-policy", "volatile-lfu");
    tclose(t);
    assert_int_equal(server_stop(&s), 0);
}

/* Every field INFO everything of an idle redis-server 7.0.15 master has
 * (without a replica; the commandstats, errorstats and latencystats lines
 * are per command): monitoring tools read them by name. */
static const char *const redis_info_fields[] = {
    /* Server */
    "redis_version", "redis_git_sha1", "redis_git_dirty", "redis_build_id", "redis_mode", "os",
    "arch_bits", "monotonic_clock", "multiplexing_api", "atomicvar_api", "gcc_version", "process_id",
    "process_supervised", "run_id", "tcp_port", "server_time_usec", "uptime_in_seconds",
    "uptime_in_days", "hz", "configured_hz", "lru_clock", "executable", "config_file",
    "io_threads_active",
    /* Clients */
    "connected_clients", "cluster_connections", "maxclients", "client_recent_max_input_buffer",
    "client_recent_max_output_buffer", "blocked_clients", "tracking_clients",
    "clients_in_timeout_table",
    /* Memory */
    "used_memory", "used_memory_human", "used_memory_rss", "used_memory_rss_human",
    "used_memory_peak", "used_memory_peak_human", "used_memory_peak_perc", "used_memory_overhead",
    "used_memory_startup", "used_memory_dataset", "used_memory_dataset_perc", "allocator_allocated",
    "allocator_active", "allocator_resident", "total_system_memory", "total_system_memory_human",
    "used_memory_lua", "used_memory_vm_eval", "used_memory_lua_human", "used_memory_scripts_eval",
    "number_of_cached_scripts", "number_of_functions", "number_of_libraries",
    "used_memory_vm_functions", "used_memory_vm_total", "used_memory_vm_total_human",
    "used_memory_functions", "used_memory_scripts", "used_memory_scripts_human", "maxmemory",
    "maxmemory_human", "maxmemory_policy", "allocator_frag_ratio", "allocator_frag_bytes",
    "allocator_rss_ratio", "allocator_rss_bytes", "rss_overhead_ratio", "rss_overhead_bytes",
    "mem_fragmentation_ratio", "mem_fragmentation_bytes", "mem_not_counted_for_evict",
    "mem_replication_backlog", "mem_total_replication_buffers", "mem_clients_slaves",
    "mem_clients_normal", "mem_cluster_links", "mem_aof_buffer", "mem_allocator",
    "active_defrag_running", "lazyfree_pending_objects", "lazyfreed_objects",
    /* Persistence */
    "loading", "async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age",
    "current_fork_perc", "current_save_keys_processed", "current_save_keys_total",
    "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
    "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec",
    "rdb_saves", "rdb_last_cow_size", "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded",
    "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_rewrite_time_sec",
    "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status", "aof_rewrites",
    "aof_rewrites_consecutive_failures", "aof_last_write_status", "aof_last_cow_size",
    "module_fork_in_progress", "module_fork_last_cow_size",
    /* Stats */
    "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
    "total_net_input_bytes", "total_net_output_bytes", "total_net_repl_input_bytes",
    "total_net_repl_output_bytes", "instantaneous_input_kbps", "instantaneous_output_kbps",
    "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps", "rejected_connections",
    "sync_full", "sync_partial_ok", "sync_partial_err", "expired_keys", "expired_stale_perc",
    "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds", "evicted_keys",
    "evicted_clients", "total_eviction_exceeded_time", "current_eviction_exceeded_time",
    "keyspace_hits", "keyspace_misses", "pubsub_channels", "pubsub_patterns",
    "pubsubshard_channels", "latest_fork_usec", "total_forks", "migrate_cached_sockets",
    "slave_expires_tracked_keys", "active_defrag_hits", "active_defrag_misses",
    "active_defrag_key_hits", "active_defrag_key_misses", "total_active_defrag_time",
    "current_active_defrag_time", "tracking_total_keys", "tracking_total_items",
    "tracking_total_prefixes", "unexpected_error_replies", "total_error_replies",
    "dump_payload_sanitizations", "total_reads_processed", "total_writes_processed",
    "io_threaded_reads_processed", "io_threaded_writes_processed", "reply_buffer_shrinks",
    "reply_buffer_expands",
    /* Replication */
    "role", "connected_slaves", "master_failover_state", "master_replid", "master_replid2",
    "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
    "repl_backlog_first_byte_offset", "repl_backlog_histlen",
    /* CPU */
    "used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
    "used_cpu_sys_main_thread", "used_cpu_user_main_thread",
    /* Cluster */
    "cluster_enabled",
    NULL,
};

static void test_info_has_redis_fields(void **state)
{
    struct rval *v = tcmd(c, "INFO everything");
    const char *info = text_of(v);
    static const char *const sections[] = { "Server", "Clients", "Memory", "Persistence", "Stats",
                                            "Replication", "CPU", "Modules", "Commandstats",
                                            "Errorstats", "Latencystats", "Cluster", "Keyspace", NULL };
    for (int i = 0; sections[i]; i++) {
        char head[64];
        snprintf(head, sizeof head, "# %s\r\n", sections[i]);
        if (!strstr(info, head))
            fail_msg("INFO everything has no section %s", sections[i]);
    }
    int missing = 0;
    for (int i = 0; redis_info_fields[i]; i++) {
        char pat[96];
        snprintf(pat, sizeof pat, "\r\n%s:", redis_info_fields[i]);
        if (!strstr(info, pat)) {
            print_message("INFO everything has no field %s\n", redis_info_fields[i]);
            missing++;
        }
    }
    rval_free(v);
    assert_int_equal(missing, 0);
}

/* total_reads_processed and total_writes_processed count the reads that
 * brought a client's bytes and the writes of its replies (a tick old on
 * ringkv): 20 commands one after another are at least 20 of each. */
static void test_info_reads_writes_processed(void **state)
{
    struct rval *v = tcmd(c, "INFO stats");
    long long reads = info_num(text_of(v), "total_reads_processed");
    long long writes = info_num(text_of(v), "total_writes_processed");
    rval_free(v);
    for (int i = 0; i < 20; i++)
        expect_status(tcmd(c, "PING"), "PONG");
    long long until = now_ms() + 5000, r = reads, w = writes;
    while (now_ms() < until && (r < reads + 20 || w < writes + 20)) {
        v = tcmd(c, "INFO stats");
        r = info_num(text_of(v), "total_reads_processed");
        w = info_num(text_of(v), "total_writes_processed");
        rval_free(v);
        if (r < reads + 20 || w < writes + 20)
            usleep(50000);
    }
    assert_true(r >= reads + 20);
    assert_true(w >= writes + 20);
}

/* client_recent_max_input_buffer: a connection halfway through a 100 KB
 * argument holds its 50 KB received (ringkv: the biggest unconsumed
 * input at the last tick; Redis: the query buffers' peak of the last
 * seconds, the room made for the whole argument). */
static void test_info_client_max_input_buffer(void **state)
{
    tconn *d = tconnect(srv.port);
    static char half[50000];
    memset(half, 'x', sizeof half);
    const char *head = "*3\r\n$3\r\nSET\r\n$9\r\ninput:big\r\n$100000\r\n";
    tsend_raw(d, head, strlen(head));
    tsend_raw(d, half, sizeof half);
    long long until = now_ms() + 5000, most = 0;
    while (now_ms() < until && most < (long long)sizeof half) {
        usleep(50000);
        struct rval *v = tcmd(c, "INFO clients");
        most = info_num(text_of(v), "client_recent_max_input_buffer");
        rval_free(v);
    }
    assert_true(most >= (long long)sizeof half);
    tsend_raw(d, half, sizeof half);
    tsend_raw(d, "\r\n", 2);
    expect_ok(tread(d, 5000));
    tclose(d);
}

/* reply_buffer_expands / reply_buffer_shrinks (Redis 7.0's INFO stats):
 * on ringkv, a connection's reply buffer grown for a big reply is an
 * expand (its first block is not), and given back by the tick once
 * drained, over 32 KB, a shrink (net/loop.h struct loop_counts).
 * redis-server resizes its clients' buffers by their peak of the last 5
 * s: there, the fields are only read. */
static void test_info_reply_buffer_resizes(void **state)
{
    expect_ok(tcmd(c, "CONFIG RESETSTAT"));
    struct rval *v = tcmd(c, "INFO stats");
    long long expands = info_num(text_of(v), "reply_buffer_expands");
    long long shrinks = info_num(text_of(v), "reply_buffer_shrinks");
    rval_free(v);
    if (target_is_redis())
        return;
    tconn *d = tconnect(srv.port);
    expect_status(tcmd(d, "PING"), "PONG"); /* its first block */
    static char big[200000];
    memset(big, 'x', sizeof big - 1);
    const char *set[] = { "SET", "reply_buffer:big", big };
    tsendv(d, 3, set);
    expect_ok(tread(d, 5000));
    v = tcmd(d, "GET reply_buffer:big"); /* 200 KB: the buffer grows */
    assert_int_equal(v->len, sizeof big - 1);
    rval_free(v);
    /* the tick gives the drained buffer back (and publishes the counts) */
    long long until = now_ms() + 5000;
    long long e = expands, s = shrinks;
    while (now_ms() < until && (e <= expands || s <= shrinks)) {
        usleep(50000);
        v = tcmd(c, "INFO stats");
        e = info_num(text_of(v), "reply_buffer_expands");
        s = info_num(text_of(v), "reply_buffer_shrinks");
        rval_free(v);
    }
    assert_true(e > expands);
    assert_true(s > shrinks);
    /* an idle connection with small replies does neither */
    usleep(300000);
    v = tcmd(c, "INFO stats");
    e = info_num(text_of(v), "reply_buffer_expands");
    s = info_num(text_of(v), "reply_buffer_shrinks");
    rval_free(v);
    for (int i = 0; i < 10; i++)
        expect_status(tcmd(d, "PING"), "PONG");
    usleep(300000);
    v = tcmd(c, "INFO stats");
    assert_int_equal(info_num(text_of(v), "reply_buffer_expands"), e);
    assert_int_equal(info_num(text_of(v), "reply_buffer_shrinks"), s);
    rval_free(v);
    tclose(d);
}

/* INFO errorstats and total_error_replies count every error reply, the
 * refused ones too (unknown command, wrong arity), by kind, as Redis does. */
static void test_errorstats(void **state)
{
    expect_ok(tcmd(c, "CONFIG RESETSTAT"));
    rval_free(tcmd(c, "NOSUCHCOMMAND x"));
    rval_free(tcmd(c, "GET"));
    expect_ok(tcmd(c, "SET errorstats:k notanumber"));
    rval_free(tcmd(c, "INCR errorstats:k"));
    rval_free(tcmd(c, "AUTH nopass-set"));
    struct rval *v = tcmd(c, "INFO errorstats");
    const char *info = text_of(v);
    assert_non_null(strstr(info, "# Errorstats\r\n"));
    const char *err = strstr(info, "errorstat_ERR:count=");
    assert_non_null(err);
    assert_int_equal(atoll(err + strlen("errorstat_ERR:count=")), 4);
    rval_free(v);
    v = tcmd(c, "INFO stats");
    assert_int_equal(info_num(text_of(v), "total_error_replies"), 4);
    rval_free(v);
    expect_ok(tcmd(c, "CONFIG RESETSTAT"));
    v = tcmd(c, "INFO errorstats");
    assert_null(strstr(text_of(v), "errorstat_ERR:"));
    rval_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errorstats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_has_redis_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_reply_buffer_resizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_reads_writes_processed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_client_max_input_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_get_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lolwut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slowlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slowlog_node_wide, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_keyslot, setup, teardown),
        cmocka_unit_test(test_shutdown_command),
        cmocka_unit_test(test_signals_exit_zero),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_bind_optional_address),
        cmocka_unit_test(test_config_set_hz_takes_effect),
        cmocka_unit_test(test_config_set_string_does_not_leak),
        cmocka_unit_test_setup_teardown(test_client_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paused_client_input_pushback, setup, teardown),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test_setup_teardown(test_config_rewrite, setup, teardown),
        cmocka_unit_test(test_debian_redis_conf_starts),
        cmocka_unit_test(test_unknown_directive_is_fatal),
        cmocka_unit_test_teardown(test_daemonize, kill_daemon),
        cmocka_unit_test_teardown(test_run_script_takes_config_file, kill_daemon),
        cmocka_unit_test(test_maxmemory_policy_redis_names),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
