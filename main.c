/* main: the ringkv process, where the layers are put together. Reads the
 * configuration (file, then flags), attaches the higher layers to the node
 * (replication; the cluster in cluster mode), starts the node's shard threads and then only waits for signals: every
 * request is served by the shards (ARCHITECTURE.md "Process model").
 *
 * Signals: SIGINT, SIGTERM, SIGHUP and SIGPIPE are blocked in the main thread
 * before any shard starts, so every shard thread inherits the mask and the
 * signals are taken here, synchronously, with sigtimedwait. SIGPIPE is also
 * ignored (a peer closing mid-send must not end the process). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/command.h"
#include "core/config.h"
#include "core/log.h"
#include "replication/repl.h"
#include "shards/cluster/cluster.h"
#include "shards/commands/commands.h"
#include "shards/node.h"

#include "ringkv_version.h"

/* 40 random hex characters (Redis's run_id shape). */
static void make_run_id(char out[41])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[20];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    if (got < sizeof(raw)) {
        /* no getrandom: a weaker but still unique-enough mix */
        uint64_t x = (uint64_t)clock_unix_ms() ^ ((uint64_t)getpid() << 32);
        for (size_t i = got; i < sizeof(raw); i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            raw[i] = (unsigned char)x;
        }
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[40] = '\0';
}

static void copy_path(char *dst, size_t dstlen, const char *src)
{
    char resolved[PATH_MAX];
    const char *p = realpath(src, resolved) ? resolved : src;
    size_t len = strlen(p);
    if (len >= dstlen)
        len = dstlen - 1; /* the node's fields are fixed-size; a cut path is only shown */
    memcpy(dst, p, len);
    dst[len] = '\0';
}

static int pidfile_write(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f);
}

int main(int argc, char **argv)
{
    /* only as the first argument, as Redis: "--requirepass -h" sets a password */
    if (argc >= 2) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            config_print_help(stdout);
            return 0;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0) {
            printf("ringkv v=%s\n", RINGKV_VERSION);
            return 0;
        }
    }

    /* the node lives for the whole process; shard threads point into it */
    static struct node node;
    struct node *n = &node;
    config_init(&n->config);
    char err[2048];
    if (config_from_args(&n->config, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    n->start_ms = clock_unix_ms();
    make_run_id(n->run_id);
    copy_path(n->executable, sizeof(n->executable), argv[0]);
    if (argc > 1 && strncmp(argv[1], "--", 2) != 0)
        copy_path(n->config_file, sizeof(n->config_file), argv[1]);
    atomic_store(&n->next_client_id, 1);

    const char *logfile = config_str(&n->config, logfile);
    if (log_setup(logfile, (int)config_load(&n->config, loglevel)) != 0) {
        fprintf(stderr, "Can't open the log file '%s': %s\n", logfile, strerror(errno));
        return 1;
    }
    char nthreads[24] = "auto";
    if (config_load(&n->config, threads) > 0)
        snprintf(nthreads, sizeof(nthreads), "%lld", config_load(&n->config, threads));
    log_notice("ringkv %s starting, pid=%d, threads=%s", RINGKV_VERSION, (int)getpid(), nthreads);
    if (n->config_file[0] != '\0')
        log_notice("Configuration loaded from %s", n->config_file);

    const char *pidfile = config_str(&n->config, pidfile);
    bool have_pidfile = false;
    if (pidfile[0] != '\0') {
        if (pidfile_write(pidfile) != 0)
            log_warning("Failed to write PID file '%s': %s", pidfile, strerror(errno));
        else
            have_pidfile = true;
    }

    /* block before any thread exists: every shard thread inherits the mask */
    sigset_t waitset;
    sigemptyset(&waitset);
    sigaddset(&waitset, SIGINT);
    sigaddset(&waitset, SIGTERM);
    sigaddset(&waitset, SIGHUP);
    sigaddset(&waitset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &waitset, NULL);
    signal(SIGPIPE, SIG_IGN);

    commands_register();
    repl_attach(n);   /* its shard module, its commands, the journal sink, the write gate */
    cluster_commands_register(); /* CLUSTER, in every mode */
    if (config_load(&n->config, cluster_enabled) && cluster_attach(n, repl_set_master) != 0) {
        /* its state (from the cluster config file) and the key gate */
        if (have_pidfile)
            unlink(pidfile);
        log_teardown();
        return 1;
    }
    command_setup();
    if (node_start(n) != 0) {
        if (have_pidfile)
            unlink(pidfile);
        log_teardown();
        return 1;
    }
    log_notice("Ready to accept connections tcp (port %d)", n->port);

    struct timespec tick = { 0, 100 * 1000 * 1000 };
    bool asked = false;
    while (!atomic_load(&n->shutdown)) {
        int sig = sigtimedwait(&waitset, NULL, &tick);
        if (sig < 0)
            continue; /* EAGAIN (the 100 ms passed) or EINTR */
        if ((sig == SIGINT || sig == SIGTERM) && !asked) {
            log_warning("Received %s scheduling shutdown...", sig == SIGINT ? "SIGINT" : "SIGTERM");
            asked = true;
            node_request_shutdown(n, 0);
        } else if (sig == SIGHUP) {
            log_notice("Received SIGHUP: ignored (ringkv reloads nothing)");
        }
    }

    int status = node_wait(n);
    if (have_pidfile)
        unlink(pidfile);
    log_warning("ringkv is now ready to exit, bye bye...");
    log_teardown();
    return status;
}
