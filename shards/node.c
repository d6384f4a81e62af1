/* node: the process. Opens one SO_REUSEPORT listener per shard and bind
 * address (the kernel spreads connections over them), starts one thread per
 * shard, and on shutdown joins them and closes everything. */
#include "shards/node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mimalloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "shards/hold.h"
#include "shards/shard.h"

const char KEY_GATE_WAIT[] = "TRYAGAIN Multiple keys request during rehashing of slot";

#define MAILBOX_CAPACITY 4096
#define MAX_BIND_ADDRS 16

void node_attach_module(struct node *n, const struct shard_module *m)
{
    if (n->nmodules >= NODE_MODULES_MAX) {
        log_warning("module %s not attached: at most %d modules", m->name, NODE_MODULES_MAX);
        return;
    }
    n->modules[n->nmodules++] = m;
}

void node_request_shutdown(struct node *n, int exit_code)
{
    atomic_store(&n->exit_code, exit_code);
    atomic_store(&n->shutdown, 1);
}

/* One listening socket on addr:port; port 0 asks the kernel for one. */
static int open_listener(const char *addr, int port, int backlog, int *bound_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    int family;
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        const char *a = strcmp(addr, "::*") == 0 ? "::" : addr;
        if (inet_pton(AF_INET6, a, &in6->sin6_addr) != 1)
            return -EINVAL;
        len = sizeof(*in6);
        family = AF_INET6;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        const char *a = strcmp(addr, "*") == 0 ? "0.0.0.0" : addr;
        if (inet_pton(AF_INET, a, &in->sin_addr) != 1)
            return -EINVAL;
        len = sizeof(*in);
        family = AF_INET;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (bound_port) {
        len = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &len);
        *bound_port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

static int allowed_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

struct start_gate {
    pthread_mutex_t lock; /* start-up only: never on the data path */
    pthread_cond_t  cond;
    int             ready, failed;
    pthread_barrier_t stopped; /* every shard has left its loop */
};
static struct start_gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, { { 0 } } };

static void *shard_thread(void *arg)
{
    struct shard *sh = arg;
    char name[16];
    snprintf(name, sizeof(name), "shard-%d", sh->id);
    pthread_setname_np(pthread_self(), name);
    int ok = shard_setup(sh) == 0;
    /* Start serving only when every shard is set up: a shard posts to and
     * wakes the others from its first connection on. */
    pthread_mutex_lock(&gate.lock);
    if (ok) gate.ready++; else gate.failed++;
    pthread_cond_broadcast(&gate.cond);
    while (gate.ready + gate.failed < sh->node->nshards)
        pthread_cond_wait(&gate.cond, &gate.lock);
    if (gate.failed)
        ok = 0;
    pthread_mutex_unlock(&gate.lock);
    if (ok)
        shard_run(sh);
    else
        node_request_shutdown(sh->node, 1);
    /* Tear down on this thread (the heap and ring are its own), but only
     * once no other shard can still post to us or wake us. */
    pthread_barrier_wait(&gate.stopped);
    shard_teardown(sh);
    return NULL;
}

int node_start(struct node *n)
{
    struct config *cfg = &n->config;
    int cpus[1024];
    int ncpu = allowed_cpus(cpus, 1024);
    if (ncpu <= 0) { cpus[0] = -1; ncpu = 1; }
    n->nshards = (int)config_load(cfg, threads);
    if (n->nshards <= 0) {
        /* One per CPU, except where there are only one or two: there the
         * shards share their CPUs with the clients (a load generator, the
         * network stack), and a request for a key on the other shard waits
         * for that shard's thread to be scheduled. On this project's 2-CPU
         * machine, 50 clients at pipeline 16: 1 thread served 1.0-1.9M
         * ops/s, 2 threads 0.4-0.9M with more CPU per op (bench/RESULTS.md,
         * "Default thread count"). */
        n->nshards = ncpu <= 2 ? 1 : ncpu;
    }

    /* bind addresses */
    char addrs[MAX_BIND_ADDRS][64];
    int naddr = 0;
    const char *b = config_str(cfg, bind);
    if (!b || !*b) b = "127.0.0.1";
    while (*b && naddr < MAX_BIND_ADDRS) {
        while (*b == ' ') b++;
        size_t l = strcspn(b, " ");
        if (l == 0) break;
        if (l >= sizeof(addrs[0])) l = sizeof(addrs[0]) - 1;
        memcpy(addrs[naddr], b, l);
        addrs[naddr][l] = '\0';
        naddr++;
        b += strcspn(b, " ");
    }
    /* fds[a * nshards + i]: address a, shard i; an address skipped keeps -1 */
    int *fds = mi_malloc(sizeof(int) * (size_t)(naddr * n->nshards));
    int nbound = 0;
    int port = (int)config_load(cfg, port);
    int backlog = (int)config_load(cfg, tcp_backlog);
    for (int a = 0; a < naddr; a++) {
        /* Redis's "-" prefix: an address this host does not have (or whose
         * protocol it lacks: IPv6) is skipped, with a log line; without the
         * prefix that is fatal */
        bool optional = addrs[a][0] == '-';
        const char *addr = optional ? addrs[a] + 1 : addrs[a];
        for (int i = 0; i < n->nshards; i++) {
            int bound = 0;
            int fd = open_listener(addr, port, backlog, port == 0 ? &bound : NULL);
            if (fd < 0) {
                log_warning("Could not create server TCP listening socket %s:%d: %s", addr, port, strerror(-fd));
                bool unavailable = fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT || fd == -EPROTONOSUPPORT;
                if (!optional || !unavailable || i > 0) {
                    for (int k = 0; k < a * n->nshards + i; k++)
                        if (fds[k] >= 0)
                            close(fds[k]);
                    mi_free(fds);
                    return -1;
                }
                for (; i < n->nshards; i++)
                    fds[a * n->nshards + i] = -1;
                break;
            }
            if (port == 0)
                port = bound;
            fds[a * n->nshards + i] = fd;
            if (i == 0)
                nbound++;
        }
    }
    if (nbound == 0) {
        log_warning("Configured to not listen anywhere, exiting.");
        mi_free(fds);
        return -1;
    }
    n->nlisten = nbound;
    n->listen_fds = mi_malloc(sizeof(int) * (size_t)(nbound * n->nshards));
    for (int a = 0, j = 0; a < naddr; a++) {
        if (fds[a * n->nshards] < 0)
            continue;
        for (int i = 0; i < n->nshards; i++)
            n->listen_fds[i * nbound + j] = fds[a * n->nshards + i];
        j++;
    }
    mi_free(fds);
    n->port = port;

    n->mail = mi_calloc((size_t)n->nshards * (size_t)n->nshards, sizeof(struct mailbox));
    for (int i = 0; i < n->nshards * n->nshards; i++)
        mailbox_init(&n->mail[i], MAILBOX_CAPACITY);
    n->shards = mi_calloc((size_t)n->nshards, sizeof(struct shard *));
    hold_node_init(n);
    bool pin = config_load(cfg, pin) != 0;
    for (int i = 0; i < n->nshards; i++) {
        struct shard *sh = mi_zalloc(sizeof(*sh));
        sh->id = i;
        sh->node = n;
        sh->cpu = pin && cpus[0] >= 0 ? cpus[i % ncpu] : -1;
        n->shards[i] = sh;
    }
    pthread_barrier_init(&gate.stopped, NULL, (unsigned)n->nshards);
    for (int i = 0; i < n->nshards; i++) {
        if (pthread_create(&n->shards[i]->thread, NULL, shard_thread, n->shards[i]) != 0) {
            log_warning("Could not start shard thread %d", i);
            node_request_shutdown(n, 1);
            return -1;
        }
    }
    pthread_mutex_lock(&gate.lock);
    while (gate.ready + gate.failed < n->nshards)
        pthread_cond_wait(&gate.cond, &gate.lock);
    int failed = gate.failed;
    pthread_mutex_unlock(&gate.lock);
    if (failed) {
        log_warning("%d shard(s) failed to start", failed);
        return -1;
    }
    log_notice("%d shard thread(s) running%s", n->nshards, pin ? ", pinned" : "");
    return 0;
}

int node_wait(struct node *n)
{
    for (int i = 0; i < n->nshards; i++)
        if (n->shards && n->shards[i] && n->shards[i]->thread)
            pthread_join(n->shards[i]->thread, NULL);
    for (int i = 0; i < n->nshards; i++)
        if (n->shards && n->shards[i])
            mi_free(n->shards[i]);
    for (int i = 0; i < n->nlisten * n->nshards; i++)
        close(n->listen_fds[i]);
    mi_free(n->listen_fds);
    if (n->mail) {
        for (int i = 0; i < n->nshards * n->nshards; i++)
            mailbox_deinit(&n->mail[i]);
        mi_free(n->mail);
    }
    mi_free(n->shards);
    n->shards = NULL;
    hold_node_free(n);
    for (int i = n->nmodules - 1; i >= 0; i--)
        if (n->modules[i]->node_teardown)
            n->modules[i]->node_teardown(n);
    return atomic_load(&n->exit_code);
}
