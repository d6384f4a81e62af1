/* net/loop on its own: a loop thread with real sockets on loopback.
 *
 * A multishot recv can end on a completion that carries data (no
 * IORING_CQE_F_MORE): the kernel does so when the completion queue is full.
 * That is not the end of the stream: the connection must be read again, not
 * closed. The test makes the queue small (32 entries), holds the loop in its
 * tick while 200 connections each get a byte, so their completions come in
 * one go and overflow it, and checks that every byte arrives and no
 * connection is closed, then that all of them are still read. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/loop.h"
#include "shards/conn_owner.h"

#define NCONNS 200

static struct conn_owner owner; /* any non-NULL owner: on_close is called for it */
static atomic_int opens, closes, holding, hold;
static atomic_long bytes;
static atomic_int stop;
static int listen_fd;

static void on_open(void *arg, struct conn *c)
{
    (void)arg;
    c->owner = &owner;
    atomic_fetch_add(&opens, 1);
}

static size_t on_data(void *arg, struct conn *c, const char *p, size_t n)
{
    (void)arg; (void)c; (void)p;
    atomic_fetch_add(&bytes, (long)n);
    return n;
}

static void on_close(void *arg, struct conn *c)
{
    (void)arg; (void)c;
    atomic_fetch_add(&closes, 1);
}

/* Holds the loop while the test writes, so the completions pile up. */
static void on_tick(void *arg)
{
    (void)arg;
    if (!atomic_load(&hold))
        return;
    atomic_store(&holding, 1);
    while (atomic_load(&hold))
        usleep(1000);
    atomic_store(&holding, 0);
}

static void *loop_thread(void *arg)
{
    (void)arg;
    struct loop_handlers h = { .on_open = on_open, .on_data = on_data, .on_close = on_close,
                               .on_tick = on_tick };
    struct loop_options o = { .listen_fds = &listen_fd, .nlisten = 1, .hz = 100,
                              .recv_buffers = 1024, .recv_buffer_size = 4096, .ring_entries = 4 };
    struct loop *l = loop_create(&o, &h, NULL);
    if (!l)
        return (void *)1;
    loop_run(l, &stop);
    loop_destroy(l);
    return NULL;
}

static void wait_for(atomic_long *v, long want)
{
    for (int i = 0; i < 5000 && atomic_load(v) < want; i++)
        usleep(1000);
}

static void test_recv_without_more_rearms(void **state)
{
    (void)state;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(listen_fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(listen_fd, 512), 0);
    socklen_t len = sizeof a;
    getsockname(listen_fd, (struct sockaddr *)&a, &len);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, loop_thread, NULL), 0);

    int fds[NCONNS];
    for (int i = 0; i < NCONNS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    for (int i = 0; i < 5000 && atomic_load(&opens) < NCONNS; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&opens), NCONNS);

    for (int round = 1; round <= 3; round++) {
        atomic_store(&hold, 1);
        while (!atomic_load(&holding))
            usleep(1000);
        for (int i = 0; i < NCONNS; i++)
            assert_int_equal(write(fds[i], "x", 1), 1);
        usleep(20000);
        atomic_store(&hold, 0);
        wait_for(&bytes, (long)NCONNS * round);
        assert_int_equal(atomic_load(&closes), 0);
        assert_int_equal(atomic_load(&bytes), (long)NCONNS * round);
    }

    atomic_store(&stop, 1);
    void *ret;
    pthread_join(t, &ret);
    assert_null(ret);
    for (int i = 0; i < NCONNS; i++)
        close(fds[i]);
    close(listen_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recv_without_more_rearms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
