/* A ringkv replica of a fake Redis master, which says exactly what a
 * master may send.
 *
 * The stream's offsets: a tiny RDB, then commands; REPLCONF GETACK is
 * answered with the master's offset of what was applied; a link cut inside
 * a MULTI continues (PSYNC) from before the MULTI, and none of the cut
 * transaction is applied; +CONTINUE goes on from there.
 *
 * Damaged RDB files: the master's full sync is read as it arrives
 * (replication/rdb_load.c) and nothing in it is trusted. A real RDB of every type (redis-cli --rdb from
 * a redis-server) is mutated (bytes flipped, cut short, bytes inserted,
 * its checksum zeroed so that the records are decoded and built), sent in
 * both forms ($<len> and $EOF:<mark>), sometimes with the connection cut
 * in the middle; after each the replica must still answer, and it must
 * never have swapped a damaged file in. The unharmed file then loads.
 *
 * Skipped (exit 77) without redis-server and redis-cli, and on the redis
 * target. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/crc64.h"
#include "shards/store/slot.h"
#include "harness.h"

static int listen_on(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (;;) {
        *port = free_port();
        a.sin_port = htons((uint16_t)*port);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0)
            break;
    }
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

/* Accept the replica's link and answer its handshake up to PSYNC (a
 * connection of an earlier try that closes first is passed over). */
static int accept_replica_got(int lfd, char *got, size_t gotlen)
{
    long long until = now_ms() + 10000;
    while (now_ms() < until) {
        struct pollfd p = { lfd, POLLIN, 0 };
        if (poll(&p, 1, 100) != 1)
            continue;
        int fd = accept(lfd, NULL, NULL);
        assert_true(fd >= 0);
        const char *hello = "+PONG\r\n+OK\r\n+OK\r\n";
        if (write(fd, hello, strlen(hello)) != (ssize_t)strlen(hello)) {
            close(fd);
            continue;
        }
        char buf[4096];
        size_t len = 0;
        while (now_ms() < until) {
            struct pollfd q = { fd, POLLIN, 0 };
            if (poll(&q, 1, 100) != 1)
                continue;
            ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            buf[len] = '\0';
            /* PSYNC replid offset: its name's line and four more */
            const char *ps = strstr(buf, "PSYNC");
            int lines = 0;
            for (const char *e = ps; e && (e = strstr(e, "\r\n")) != NULL; e += 2)
                lines++;
            if (lines >= 5) {
                if (got)
                    snprintf(got, gotlen, "%s", ps);
                return fd;
            }
        }
        close(fd);
    }
    fail_msg("no PSYNC from the replica");
    return -1;
}

static int accept_replica(int lfd)
{
    return accept_replica_got(lfd, NULL, 0);
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the replica closed: fine */
        c += w;
        n -= (size_t)w;
    }
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* One full sync with file p[0..n): diskless or not, cut after `cut`
 * bytes of it (n: not cut). */
static void full_sync(tconn *sc, int lfd, int mport, const char *p, size_t n, bool diskless, size_t cut)
{
    expect_ok(tcmd(sc, "REPLICAOF 127.0.0.1 %d", mport));
    int fd = accept_replica(lfd);
    const char *fr = "+FULLRESYNC 0123456789012345678901234567890123456789 100\r\n";
    send_all(fd, fr, strlen(fr));
    static const char mark[] = "abcdefghijabcdefghijabcdefghijabcdefghij";
    char head[64];
    if (diskless)
        snprintf(head, sizeof head, "$EOF:%s\r\n", mark);
    else
        snprintf(head, sizeof head, "$%zu\r\n", n);
    send_all(fd, head, strlen(head));
    send_all(fd, p, cut < n ? cut : n);
    if (cut >= n && diskless)
        send_all(fd, mark, 40);
    usleep(30000);
    close(fd);
}

static void test_damaged_rdb(void **state)
{
    (void)state;
    /* a real file, every type */
    setenv("RINGKV_TEST_TARGET", "redis", 1);
    struct server r;
    int rc = server_start(&r, NULL);
    unsetenv("RINGKV_TEST_TARGET");
    assert_int_equal(rc, 0);
    tconn *m = tconnect(r.port);
    for (int i = 0; i < 30; i++) {
        expect_ok(tcmd(m, "SET s%d value%d", i, i));
        expect_ok(tcmd(m, "SET n%d %d", i, i * 1000));
    }
    expect_int(tcmd(m, "RPUSH l a b c d e"), 5);
    expect_int(tcmd(m, "HSET h a 1 b 2"), 2);
    expect_int(tcmd(m, "SADD s a b c"), 3);
    expect_int(tcmd(m, "SADD is 1 2 3"), 3);
    expect_int(tcmd(m, "ZADD z 1 a 2 b"), 2);
    struct rval *x = tcmd(m, "XADD st 1-1 f v");
    rval_free(x);
    expect_ok(tcmd(m, "XGROUP CREATE st g 0"));
    expect_ok(tcmd(m, "SET ttl v PX 100000000"));
    char path[128], cmd[256];
    (void)cmd;
    snprintf(path, sizeof path, "/tmp/ringkv-rdbfuzz-%d.rdb", (int)getpid());
    snprintf(cmd, sizeof cmd, "redis-cli -p %d --rdb %s >/dev/null 2>&1", r.port, path);
    assert_int_equal(system(cmd), 0);
    tclose(m);
    server_stop(&r);
    size_t len;
    char *rdb = read_file(path, &len);
    unlink(path);

    int mport;
    int lfd = listen_on(&mport);
    struct server s;
    const char *const args[] = { "--threads", "3", NULL };
    assert_int_equal(server_start(&s, args), 0);
    tconn *sc = tconnect(s.port);
    expect_ok(tcmd(sc, "SET mine kept"));
    srand(20261203);
    char *buf = malloc(len + 64);
    for (int it = 0; it < (HARNESS_SANITIZED ? 60 : 200); it++) {
        size_t n = len;
        memcpy(buf, rdb, len);
        int how = rand() % 4;
        if (how == 0) { /* bytes flipped */
            for (int k = 0; k < 1 + rand() % 6; k++)
                buf[9 + (size_t)rand() % (len - 9)] ^= (char)(1 + rand() % 255);
        } else if (how == 1) { /* bytes inserted */
            size_t at = 9 + (size_t)rand() % (len - 9);
            int add = 1 + rand() % 40;
            memmove(buf + at + add, buf + at, len - at);
            for (int k = 0; k < add; k++)
                buf[at + (size_t)k] = (char)rand();
            n = len + (size_t)add;
        } else if (how == 2) { /* a length made huge */
            size_t at = 9 + (size_t)rand() % (len - 9);
            buf[at] = (char)0x80; /* a 32-bit length follows */
            buf[at + 1] = (char)0x7f;
        }
        /* how 3: cut short below */
        if (rand() % 2) /* no checksum: every record is decoded and built */
            memset(buf + n - 8, 0, 8);
        bool diskless = rand() % 2;
        size_t cut = how == 3 ? (size_t)rand() % n : n;
        full_sync(sc, lfd, mport, buf, n, diskless, cut);
        expect_status(tcmd(sc, "PING"), "PONG");
        expect_ok(tcmd(sc, "REPLICAOF NO ONE"));
        /* a damaged file never replaced the data: the keys are the file's
         * whole (it may decode: a flip inside a value) or ours */
        struct rval *v = tcmd(sc, "GET mine");
        assert_non_null(v);
        if (v->type != R_NIL) {
            assert_int_equal(v->type, R_BULK);
            assert_string_equal(v->str, "kept");
        }
        rval_free(v);
    }
    int refused = count_in_file(s.logfile, "full sync failed");
    int loaded = count_in_file(s.logfile, "Finished with success");
    printf("damaged files: %d refused, %d loaded (a change inside a value), the rest cut short\n", refused, loaded);
    assert_true(refused > 0);
    /* the unharmed file loads, whatever came before */
    full_sync(sc, lfd, mport, rdb, len, false, len);
    long long until = now_ms() + 5000;
    struct rval *v = NULL;
    while (now_ms() < until) {
        v = tcmd(sc, "GET s7");
        if (v && v->type == R_BULK)
            break;
        rval_free(v);
        v = NULL;
        usleep(20000);
    }
    expect_bulk(v, "value7");
    expect_int(tcmd(sc, "LLEN l"), 5);
    expect_int(tcmd(sc, "XLEN st"), 1);
    expect_nil(tcmd(sc, "GET mine"));
    expect_ok(tcmd(sc, "REPLICAOF NO ONE"));
    tclose(sc);
    assert_int_equal(server_stop(&s), 0);
    close(lfd);
    free(buf);
    free(rdb);
}

/* A RESP command from words (no quoting), appended to out. */
static void resp(char *out, size_t cap, const char *words)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", words);
    const char *w[16];
    int n = 0;
    for (char *t = strtok(copy, " "); t && n < 16; t = strtok(NULL, " "))
        w[n++] = t;
    size_t at = strlen(out);
    at += (size_t)snprintf(out + at, cap - at, "*%d\r\n", n);
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(out + at, cap - at, "$%zu\r\n%s\r\n", strlen(w[i]), w[i]);
}

/* Wait for the replica's REPLCONF ACK <want> (periodic ones of lower
 * offsets passed over). */
static void expect_ack(int fd, long long want)
{
    char buf[8192];
    size_t len = 0;
    long long until = now_ms() + 5000;
    char pat[64];
    snprintf(pat, sizeof pat, "ACK\r\n$%d\r\n%lld\r\n", (int)snprintf(NULL, 0, "%lld", want), want);
    while (now_ms() < until) {
        struct pollfd q = { fd, POLLIN, 0 };
        if (poll(&q, 1, 100) != 1)
            continue;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        assert_true(n > 0);
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, pat))
            return;
        if (len > sizeof buf / 2) { /* keep the tail */
            memmove(buf, buf + len - 256, 256);
            len = 256;
        }
    }
    fail_msg("no REPLCONF ACK %lld from the replica", want);
}

static void test_stream_offsets(void **state)
{
    (void)state;
    int mport;
    int lfd = listen_on(&mport);
    struct server s;
    const char *const args[] = { "--threads", "3", NULL };
    assert_int_equal(server_start(&s, args), 0);
    tconn *sc = tconnect(s.port);
    expect_ok(tcmd(sc, "REPLICAOF 127.0.0.1 %d", mport));
    int fd = accept_replica(lfd);
    static const char id[] = "0123456789abcdef0123456789abcdef01234567";
    char line[128];
    snprintf(line, sizeof line, "+FULLRESYNC %s 1000\r\n", id);
    send_all(fd, line, strlen(line));
    /* the smallest file: header, SELECTDB 0, one string key, EOF, checksum */
    unsigned char rdb[64];
    size_t n = 0;
    memcpy(rdb, "REDIS0010", 9);
    n = 9;
    const unsigned char body[] = { 0xfe, 0x00, 0x00, 0x01, 'k', 0x01, 'v', 0xff };
    memcpy(rdb + n, body, sizeof body);
    n += sizeof body;
    uint64_t crc = crc64(0, rdb, n);
    for (int i = 0; i < 8; i++)
        rdb[n++] = (unsigned char)(crc >> (8 * i));
    snprintf(line, sizeof line, "$%zu\r\n", n);
    send_all(fd, line, strlen(line));
    send_all(fd, rdb, n);
    long long off = 1000;
    char st[1024] = "";
    resp(st, sizeof st, "SELECT 0");
    resp(st, sizeof st, "SET a 1");
    resp(st, sizeof st, "MSET x1 1 x2 2 x3 3 x4 4");
    resp(st, sizeof st, "RENAME x1 y1");
    resp(st, sizeof st, "REPLCONF GETACK *");
    send_all(fd, st, strlen(st));
    off += (long long)strlen(st);
    expect_ack(fd, off);
    /* a transaction cut short: none of it, and our offset before it */
    st[0] = '\0';
    resp(st, sizeof st, "MULTI");
    resp(st, sizeof st, "SET b 1");
    resp(st, sizeof st, "SET a 2");
    send_all(fd, st, strlen(st));
    usleep(100 * 1000);
    close(fd);
    char got[512];
    fd = accept_replica_got(lfd, got, sizeof got);
    char want[128];
    snprintf(want, sizeof want, "%s\r\n$%d\r\n%lld\r\n", id, (int)snprintf(NULL, 0, "%lld", off + 1), off + 1);
    if (!strstr(got, want))
        fail_msg("the replica's PSYNC is not from before the MULTI: %s", got);
    expect_bulk(tcmd(sc, "GET a"), "1");
    expect_nil(tcmd(sc, "GET b"));
    /* +CONTINUE: the transaction again, whole */
    snprintf(line, sizeof line, "+CONTINUE %s\r\n", id);
    send_all(fd, line, strlen(line));
    st[0] = '\0';
    resp(st, sizeof st, "MULTI");
    resp(st, sizeof st, "SET b 1");
    resp(st, sizeof st, "SET a 2");
    resp(st, sizeof st, "EXEC");
    resp(st, sizeof st, "REPLCONF GETACK *");
    send_all(fd, st, strlen(st));
    off += (long long)strlen(st);
    expect_ack(fd, off);
    expect_bulk(tcmd(sc, "GET k"), "v");
    expect_bulk(tcmd(sc, "GET a"), "2");
    expect_bulk(tcmd(sc, "GET b"), "1");
    expect_bulk(tcmd(sc, "GET y1"), "1");
    expect_nil(tcmd(sc, "GET x1"));
    expect_bulk(tcmd(sc, "GET x4"), "4");
    /* a transaction whose cross-shard command applied its first part
     * before the cut: continuing from before it would apply that twice,
     * so the next sync is a full one */
    char dst[16];
    for (int i = 0;; i++) {
        snprintf(dst, sizeof dst, "z%d", i);
        if (key_slot(dst, strlen(dst)) % 3 != key_slot("x2", 2) % 3)
            break;
    }
    char cmdline[64];
    st[0] = '\0';
    resp(st, sizeof st, "MULTI");
    resp(st, sizeof st, "INCR counter");
    snprintf(cmdline, sizeof cmdline, "RENAME x2 %s", dst);
    resp(st, sizeof st, cmdline);
    send_all(fd, st, strlen(st));
    long long until = now_ms() + 5000;
    struct rval *v = NULL;
    while (now_ms() < until) { /* its parts applied (not a transaction here) */
        v = tcmd(sc, "GET %s", dst);
        if (v && v->type == R_BULK)
            break;
        rval_free(v);
        v = NULL;
        usleep(20000);
    }
    expect_bulk(v, "2");
    close(fd);
    fd = accept_replica_got(lfd, got, sizeof got);
    if (!strstr(got, "$1\r\n?\r\n$2\r\n-1\r\n"))
        fail_msg("the replica asked a partial resync after a transaction cut half applied: %s", got);
    expect_ok(tcmd(sc, "REPLICAOF NO ONE"));
    close(fd);
    tclose(sc);
    assert_int_equal(server_stop(&s), 0);
    close(lfd);
}

int main(void)
{
    if (target_is_redis())
        return 77;
    if (system("redis-server --version >/dev/null 2>&1") != 0 || system("redis-cli --version >/dev/null 2>&1") != 0)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_offsets),
        cmocka_unit_test(test_damaged_rdb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
