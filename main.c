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
#include "shards/blocking.h"
#include "shards/monitor.h"
#include "shards/tracking.h"
#include "shards/aof.h"
#include "shards/persist.h"
#include "shards/node.h"
#include "shards/commands/acl.h"
#include "shards/store/store.h"

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

/* daemonize yes: fork before any thread exists (the shard threads and their
 * io_uring instances are created later, in the child only), the parent waits
 * until the child says it is ready (a byte on *ready_fd, written by
 * daemon_ready) or fails (the pipe closes without one), and exits 0 or 1 as
 * the child's start went: init scripts learn whether the server came up. The
 * child leaves the terminal's session and its standard streams point at
 * /dev/null (with no logfile, the log goes there, as in Redis). Returns 0 in
 * the child, -1 if fork failed. */
static int daemonize(int *ready_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid > 0) {
        close(p[1]);
        char c;
        ssize_t n;
        do
            n = read(p[0], &c, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    *ready_fd = p[1];
    return 0;
}

/* Tell the waiting parent (daemonize) that the server is up. */
static void daemon_ready(int *ready_fd)
{
    if (*ready_fd < 0)
        return;
    ssize_t n;
    do
        n = write(*ready_fd, "1", 1);
    while (n < 0 && errno == EINTR);
    close(*ready_fd);
    *ready_fd = -1;
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

    /* dir: entered before any other path is used (logfile, pidfile, the
     * cluster config file are relative to it, as in Redis); CONFIG GET dir
     * then shows where the server runs, absolute */
    const char *dir = config_str(&n->config, dir);
    if (dir[0] != '\0' && chdir(dir) != 0) {
        fprintf(stderr, "Can't chdir to '%s': %s\n", dir, strerror(errno));
        return 1;
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) != NULL)
        config_set(&n->config, "dir", cwd, false, err, sizeof(err));

    const char *logfile = config_str(&n->config, logfile);
    if (log_setup(logfile, (int)config_load(&n->config, loglevel)) != 0) {
        fprintf(stderr, "Can't open the log file '%s': %s\n", logfile, strerror(errno));
        return 1;
    }
    int ready_fd = -1;
    bool daemonized = config_load(&n->config, daemonize) != 0;
    if (daemonized && daemonize(&ready_fd) != 0) {
        fprintf(stderr, "Can't fork to the background: %s\n", strerror(errno));
        return 1;
    }
    char nthreads[24] = "auto";
    if (config_load(&n->config, threads) > 0)
        snprintf(nthreads, sizeof(nthreads), "%lld", config_load(&n->config, threads));
    log_notice("ringkv %s starting, pid=%d, threads=%s", RINGKV_VERSION, (int)getpid(), nthreads);
    if (n->config_file[0] != '\0')
        log_notice("Configuration loaded from %s", n->config_file);

    char ignored[4096];
    size_t nignored = config_ignored_names(&n->config, ignored, sizeof(ignored));
    if (nignored > 0) {
        /* one message, cut at commas into lines that fit a log line */
        log_warning("Ignored %zu Redis directive(s) that have no meaning in ringkv (README: Configuration):",
                    nignored);
        const char *p = ignored;
        while (*p) {
            size_t len = strlen(p);
            if (len > 800) {
                len = 800;
                while (len > 0 && p[len] != ',')
                    len--;
            }
            log_warning("  ignored: %.*s", (int)len, p);
            p += len;
            while (*p == ',' || *p == ' ')
                p++;
        }
    }
    /* as in Redis: a daemon writes a pid file even when none is named */
    const char *pidfile = config_str(&n->config, pidfile);
    if (pidfile[0] == '\0' && daemonized)
        pidfile = "/var/run/ringkv.pid";
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
    monitor_attach(n); /* MONITOR's per-shard part and end-of-turn delivery */
    tracking_attach(n); /* client-side caching: BCAST's prefixes and batches, REDIRECT's clients */
    memory_attach(n);  /* every shard's heaps and the RSS, sampled each tick */
    node_attach_module(n, &migrate_module); /* MIGRATE's timeouts */
    node_attach_module(n, &blocking_module); /* clients blocked on keys: serving, timeouts */
    scripting_attach(n); /* the script registry; each shard's Lua state */
    repl_attach(n);   /* its shard module, its commands, the journal sink, the write gate */
    persist_attach(n); /* dump.rdb loaded at start, SAVE/BGSAVE, the save points; wraps the write gate */
    if (aof_attach(n) != 0) { /* appendonly: the AOF found or made, its writer thread */
        if (have_pidfile)
            unlink(pidfile);
        log_teardown();
        return 1;
    }
    cluster_commands_register(); /* CLUSTER, in every mode */
    acl_commands_register(); /* ACL */
    if (config_load(&n->config, cluster_enabled) && cluster_attach(n, repl_set_master) != 0) {
        /* its state (from the cluster config file) and the key gate */
        if (have_pidfile)
            unlink(pidfile);
        log_teardown();
        return 1;
    }
    command_setup();
    if (acl_node_start(n, err, sizeof(err)) != 0) {
        /* as Redis: the users given cannot be loaded, the server does not start */
        log_warning("%s", err);
        fprintf(stderr, "%s\n", err);
        if (have_pidfile)
            unlink(pidfile);
        log_teardown();
        return 1;
    }
    if (node_start(n) != 0) {
        if (have_pidfile)
            unlink(pidfile);
        log_teardown();
        return 1;
    }
    log_notice("Ready to accept connections tcp (port %d)", n->port);
    daemon_ready(&ready_fd);

    struct timespec tick = { 0, 100 * 1000 * 1000 };
    bool asked = false;
    while (!atomic_load(&n->shutdown)) {
        int sig = sigtimedwait(&waitset, NULL, &tick);
        if (sig < 0)
            continue; /* EAGAIN (the 100 ms passed) or EINTR */
        if ((sig == SIGINT || sig == SIGTERM) && !asked) {
            log_warning("Received %s scheduling shutdown...", sig == SIGINT ? "SIGINT" : "SIGTERM");
            asked = true;
            persist_request_shutdown(n, false, false); /* saves first when save points are set */
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
