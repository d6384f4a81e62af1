/* harness: real server processes on loopback, and a small RESP2/RESP3 client
 * for the integration and interop tests. See harness.h for the contract.
 *
 * Every process started here is remembered and killed when the test process
 * exits (atexit, SIGTERM/SIGINT from meson's timeout), and each child also
 * asks the kernel to SIGKILL it if the test process dies (PR_SET_PDEATHSIG),
 * so a crashed or timed-out test never leaves a server holding a port. */
#include "harness.h"
/* this file defines the functions the expect_* macros wrap */
#undef expect_ok
#undef expect_status
#undef expect_int
#undef expect_bulk
#undef expect_nil
#undef expect_error_prefix
#undef expect_error

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* cmocka writes a test's name to stdout and its failure to stderr: with
 * stdout a pipe (meson), its block buffer put every failure message far
 * from its test in the log, out of the last 100 lines meson prints. */
__attribute__((constructor)) static void stdout_by_line(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* ---- child process bookkeeping ---- */

#define MAX_CHILDREN 64
static pid_t children[MAX_CHILDREN];
static bool  harness_ready;

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            children[i] = 0;
        }
}

static void on_fatal_signal(int sig)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0)
            kill(children[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void harness_init(void)
{
    if (harness_ready)
        return;
    harness_ready = true;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGINT, on_fatal_signal);
    atexit(kill_children);
}

static void remember_child(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == 0) {
            children[i] = pid;
            return;
        }
}

static void forget_child(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}

long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool target_is_redis(void)
{
    const char *t = getenv("RINGKV_TEST_TARGET");
    return t && strcmp(t, "redis") == 0;
}

const char *server_binary(void)
{
    if (target_is_redis())
        return "redis-server";
    const char *b = getenv("RINGKV_BIN");
    return b && *b ? b : NULL;
}

/* ---- ports ----
 *
 * The integration and interop tests run several at a time (tests/meson.build),
 * so two test processes must never be handed the same port. Asking the
 * kernel for a free one (bind to port 0) cannot promise that: the port is
 * free only until the socket closes, and the next test process, or an
 * outgoing connection's source port, may get it before the server binds it.
 * So each test process claims a block of ports of its own, held by an
 * flock(2) on a file in /tmp for as long as the process lives (the kernel
 * drops it when the process dies, however it dies), and hands them out in
 * turn. The blocks lie below the kernel's ephemeral range (32768 and up on
 * Linux), where no source port is ever chosen, and below 20000, so Redis's
 * cluster bus (port + 10000, the redis target) never lands in a block. A
 * process that cannot claim a block (all taken) falls back to the kernel. */
#define PORT_BASE   10000
#define PORT_BLOCK  200
#define PORT_BLOCKS 50     /* 10000..19999 */
#define PORT_DIR    "/tmp/ringkv-test-ports"

static pid_t port_owner;   /* the process that holds port_block */
static int   port_block = -1;
static int   port_next;

/* Claim a block for this process; false if every block is held. */
static bool port_block_claim(void)
{
    mkdir(PORT_DIR, 0777);
    chmod(PORT_DIR, 0777);  /* whatever the umask: tests run as other users too */
    int first = (int)(getpid() % PORT_BLOCKS);
    for (int i = 0; i < PORT_BLOCKS; i++) {
        int b = (first + i) % PORT_BLOCKS;
        char path[64];
        snprintf(path, sizeof path, PORT_DIR "/block-%d", b);
        /* close-on-exec: the servers started here must not hold the block
         * past this process */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            /* kept open (and locked) until this process exits */
            port_owner = getpid();
            port_block = b;
            port_next = 0;
            return true;
        }
        close(fd);
    }
    return false;
}

/* Whether a server could listen on 127.0.0.1:port now (SO_REUSEADDR, as
 * servers bind: connections of an earlier server in TIME_WAIT do not count). */
static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The kernel's choice: free a moment ago. Ports up to 55535 only: Redis in
 * cluster mode also listens on port+10000. */
static int kernel_free_port(void)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        socklen_t len = sizeof a;
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        close(fd);
        if (ntohs(a.sin_port) <= 55535)
            return ntohs(a.sin_port);
    }
    fail_msg("no free port below 55536");
    return -1;
}

int free_port(void)
{
    /* a forked child has the parent's counter: it claims its own block */
    if (port_block < 0 || port_owner != getpid())
        if (!port_block_claim())
            return kernel_free_port();
    /* in turn through the block, so a port handed out (a server's, or one a
     * test keeps as "nobody listens there") comes back only after the other
     * 199; one something else listens on is passed over */
    for (int i = 0; i < PORT_BLOCK; i++) {
        int port = PORT_BASE + port_block * PORT_BLOCK + port_next;
        port_next = (port_next + 1) % PORT_BLOCK;
        if (port_bindable(port))
            return port;
    }
    return kernel_free_port();
}

static void print_log(const struct server *s)
{
    FILE *f = fopen(s->logfile, "r");
    fprintf(stderr, "---- server log %s ----\n", s->logfile);
    if (f) {
        char line[1024];
        int n = 0;
        while (fgets(line, sizeof line, f) && n++ < 200)
            fputs(line, stderr);
        fclose(f);
    }
    fprintf(stderr, "---- end of log ----\n");
}

/* Wait for status change of pid up to timeout_ms. */
static int wait_pid(pid_t pid, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            forget_child(pid);
            if (WIFEXITED(st))
                return WEXITSTATUS(st);
            if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
            return -1;
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_ms() >= deadline)
            return -2;
        usleep(5000);
    }
}

/* One PING on a fresh connection: true if the server answered +PONG or
 * -NOAUTH (a password is set: it is up all the same). */
static bool answers_ping(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        const char ping[] = "*1\r\n$4\r\nPING\r\n";
        if (write(fd, ping, sizeof ping - 1) == (ssize_t)(sizeof ping - 1)) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            char buf[128];
            if (poll(&p, 1, 500) == 1) {
                ssize_t n = read(fd, buf, sizeof buf - 1);
                if (n > 0) {
                    buf[n] = 0;
                    ok = strncmp(buf, "+PONG", 5) == 0 || strncmp(buf, "-NOAUTH", 7) == 0;
                }
            }
        }
    }
    close(fd);
    return ok;
}

static int spawn_and_wait(struct server *s, const char *const *argv)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        /* stdout/stderr go to the log too, for crashes before logging starts */
        int log = open(s->logfile, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
            close(log);
        }
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    s->pid = pid;
    remember_child(pid);
    long long deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        if (answers_ping(s->port))
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            forget_child(pid);
            s->pid = 0;
            print_log(s);
            fail_msg("server exited during start-up (status 0x%x)", st);
            return -1;
        }
        usleep(10000);
    }
    print_log(s);
    server_kill(s);
    fail_msg("server did not answer PING within 10 s on port %d", s->port);
    return -1;
}

static void remove_logs(const struct server *s)
{
    char conf[300];
    snprintf(conf, sizeof conf, "%s.conf", s->logfile);
    /* RINGKV_TEST_KEEP_LOGS=1: kept anyway (a loop chasing an intermittent
     * failure wants the nodes' logs of the failing run) */
    const char *keep = getenv("RINGKV_TEST_KEEP_LOGS");
    if (!keep || strcmp(keep, "1") != 0)
        unlink(s->logfile);
    unlink(conf);
    /* what a SAVE or BGSAVE (redis-cli --rdb's too) wrote under the
     * harness's name, in the directory the test runs in: the next server
     * has a name of its own, so nothing reads it again */
    unlink(s->dbfilename);
}

static void make_logfile(struct server *s)
{
    snprintf(s->logfile, sizeof s->logfile, "/tmp/ringkv-test-%d-%d.log", (int)getpid(), s->port);
    snprintf(s->dbfilename, sizeof s->dbfilename, "ringkv-test-%d-%d.rdb", (int)getpid(), s->port);
    unlink(s->logfile);
}

#define MAX_ARGV 96

int server_start(struct server *s, const char *const *args)
{
    harness_init();
    memset(s, 0, sizeof *s);
    const char *bin = server_binary();
    if (!bin)
        fail_msg("RINGKV_BIN is not set (and RINGKV_TEST_TARGET is not redis)");
    s->port = free_port();
    make_logfile(s);
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);

    const char *argv[MAX_ARGV];
    int n = 0;
    argv[n++] = bin;
    /* a config file (a first extra argument that is not an option) goes first */
    if (args && args[0] && args[0][0] != '-')
        argv[n++] = *args++;
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--logfile";
    argv[n++] = s->logfile;
    /* a file of its own (a later --dbfilename wins): a dump.rdb left in the
     * directory by someone else is not loaded at start */
    argv[n++] = "--dbfilename";
    argv[n++] = s->dbfilename;
    if (target_is_redis()) {
        argv[n++] = "--save";
        argv[n++] = "";
        argv[n++] = "--appendonly";
        argv[n++] = "no";
    } else {
        /* two shards unless the test asks otherwise (a later --threads
         * wins): the cross-shard paths are tested on every machine, whatever
         * the default thread count there */
        argv[n++] = "--threads";
        argv[n++] = "2";
        /* no snapshots unless the test asks (a later --save wins): a test's
         * shutdown must not leave a dump.rdb that the next server started
         * in the same directory would load */
        argv[n++] = "--save";
        argv[n++] = "";
    }
    for (; args && *args && n < MAX_ARGV - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return spawn_and_wait(s, argv);
}

int server_start_conf(struct server *s, const char *conf_text, const char *const *args)
{
    harness_init();
    memset(s, 0, sizeof *s);
    const char *bin = server_binary();
    if (!bin)
        fail_msg("RINGKV_BIN is not set (and RINGKV_TEST_TARGET is not redis)");
    s->port = free_port();
    make_logfile(s);
    char conf[300];
    snprintf(conf, sizeof conf, "%s.conf", s->logfile);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    /* no snapshots unless conf_text asks (its own save line comes later
     * and wins); redis-server's AOF off too */
    fprintf(f, "# written by the test harness\nport %d\nsave \"\"\ndbfilename %s\n%s\n", s->port, s->dbfilename,
            conf_text);
    if (target_is_redis())
        fprintf(f, "appendonly no\n");
    fclose(f);

    const char *argv[MAX_ARGV];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = conf;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--logfile";
    argv[n++] = s->logfile;
    for (; args && *args && n < MAX_ARGV - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return spawn_and_wait(s, argv);
}

int server_signal_wait(struct server *s, int sig, int timeout_ms)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig);
    int r = wait_pid(s->pid, timeout_ms);
    if (r == -2) {
        fprintf(stderr, "server pid %d did not exit within %d ms after signal %d\n",
                (int)s->pid, timeout_ms, sig);
        print_log(s);
        server_kill(s);
        return -1;
    }
    s->pid = 0;
    if (r == 0)
        remove_logs(s);  /* kept only when something went wrong */
    return r;
}

int server_stop(struct server *s)
{
    return server_signal_wait(s, SIGTERM, 10000);
}

int server_wait_exit(struct server *s, int timeout_ms)
{
    if (s->pid <= 0)
        return -1;
    int r = wait_pid(s->pid, timeout_ms);
    if (r == -2)
        return -1;
    s->pid = 0;
    if (r == 0)
        remove_logs(s);
    return r;
}

void server_kill(struct server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    wait_pid(s->pid, 5000);
    forget_child(s->pid);
    s->pid = 0;
}

/* ---- replies ---- */

void rval_free(struct rval *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        rval_free(v->elem[i]);
    free(v->elem);
    free(v->str);
    free(v);
}

static void text_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
}

static void rval_text_into(const struct rval *v, char **buf, size_t *len, size_t *cap)
{
    char tmp[64];
    if (!v) {
        text_append(buf, len, cap, "(no reply)", 10);
        return;
    }
    switch (v->type) {
    case R_STATUS: text_append(buf, len, cap, "+", 1); break;
    case R_ERROR: text_append(buf, len, cap, "-", 1); break;
    case R_DOUBLE: text_append(buf, len, cap, ",", 1); break;
    case R_BIGNUM: text_append(buf, len, cap, "(", 1); break;
    case R_BULK: case R_VERBATIM: text_append(buf, len, cap, "\"", 1); break;
    case R_INT:
        snprintf(tmp, sizeof tmp, "(integer) %lld", v->integer);
        text_append(buf, len, cap, tmp, strlen(tmp));
        return;
    case R_BOOL:
        text_append(buf, len, cap, v->integer ? "#t" : "#f", 2);
        return;
    case R_NIL:
        text_append(buf, len, cap, "(nil)", 5);
        return;
    default: {
        const char *open = v->type == R_MAP ? "{" : v->type == R_SET ? "~[" : v->type == R_PUSH ? ">[" : "[";
        text_append(buf, len, cap, open, strlen(open));
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                text_append(buf, len, cap, ", ", 2);
            rval_text_into(v->elem[i], buf, len, cap);
        }
        text_append(buf, len, cap, v->type == R_MAP ? "}" : "]", 1);
        return;
    }
    }
    size_t show = v->len > 300 ? 300 : v->len;
    text_append(buf, len, cap, v->str, show);
    if (show < v->len)
        text_append(buf, len, cap, "...", 3);
    if (v->type == R_BULK || v->type == R_VERBATIM)
        text_append(buf, len, cap, "\"", 1);
}

char *rval_text(const struct rval *v)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    text_append(&buf, &len, &cap, "", 0);
    rval_text_into(v, &buf, &len, &cap);
    return buf;
}

/* ---- connections ---- */

struct conn_t {
    int    fd;
    char  *buf;
    size_t pos, len, cap;
};

tconn *tconnect(int port)
{
    harness_init();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("connect to port %d: %s", port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    tconn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fd = fd;
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    assert_non_null(c->buf);
    return c;
}

void tclose(tconn *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

int tfd(tconn *c) { return c->fd; }

void tsend_raw(tconn *c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(c->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the peer closed: the test notices when it reads */
        s += w;
        n -= (size_t)w;
    }
}

void tsendb(tconn *c, int argc, const char *const *argv, const size_t *lens)
{
    size_t total = 32;
    for (int i = 0; i < argc; i++)
        total += lens[i] + 32;
    char *out = malloc(total);
    assert_non_null(out);
    size_t o = (size_t)sprintf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        o += (size_t)sprintf(out + o, "$%zu\r\n", lens[i]);
        memcpy(out + o, argv[i], lens[i]);
        o += lens[i];
        out[o++] = '\r';
        out[o++] = '\n';
    }
    tsend_raw(c, out, o);
    free(out);
}

void tsendv(tconn *c, int argc, const char *const *argv)
{
    size_t *lens = malloc(sizeof *lens * (size_t)(argc ? argc : 1));
    assert_non_null(lens);
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    tsendb(c, argc, argv, lens);
    free(lens);
}

/* Make at least want bytes available from pos; false on EOF/timeout. */
static bool fill(tconn *c, size_t want, long long deadline)
{
    while (c->len - c->pos < want) {
        if (c->pos > 0 && c->pos == c->len)
            c->pos = c->len = 0;
        if (c->cap - c->len < 65536 || c->cap - c->pos < want) {
            if (c->pos > 0) {
                memmove(c->buf, c->buf + c->pos, c->len - c->pos);
                c->len -= c->pos;
                c->pos = 0;
            }
            if (c->cap - c->len < 65536 || c->cap < want) {
                c->cap = (c->cap + want) * 2;
                c->buf = realloc(c->buf, c->cap);
                assert_non_null(c->buf);
            }
        }
        long long left = deadline - now_ms();
        if (left < 0)
            return false;
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        c->len += (size_t)n;
    }
    return true;
}

/* One line without its CRLF, NUL-terminated in a malloc'd copy. */
static char *read_line(tconn *c, long long deadline, size_t *out_len)
{
    size_t scanned = 0;
    for (;;) {
        char *start = c->buf + c->pos;
        size_t avail = c->len - c->pos;
        for (size_t i = scanned; i + 1 < avail; i++)
            if (start[i] == '\r' && start[i + 1] == '\n') {
                char *l = malloc(i + 1);
                assert_non_null(l);
                memcpy(l, start, i);
                l[i] = 0;
                c->pos += i + 2;
                *out_len = i;
                return l;
            }
        scanned = avail ? avail - 1 : 0;
        if (avail > (64u << 20))
            fail_msg("reply line longer than 64 MiB");
        if (!fill(c, avail + 1, deadline))
            return NULL;
    }
}

static long long parse_ll(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        fail_msg("bad number in reply: '%s'", s);
    return v;
}

#define MAX_ELEMS (1LL << 24)
#define MAX_BULK  (1LL << 30)

static struct rval *read_reply(tconn *c, long long deadline, int depth)
{
    if (depth > 64)
        fail_msg("reply nested deeper than 64");
    size_t llen;
    char *line = read_line(c, deadline, &llen);
    if (!line)
        return NULL;
    if (llen == 0)
        fail_msg("empty reply line");
    struct rval *v = calloc(1, sizeof *v);
    assert_non_null(v);
    char t = line[0];
    const char *rest = line + 1;
    switch (t) {
    case '+': case '-': case ',': case '(':
        v->type = t == '+' ? R_STATUS : t == '-' ? R_ERROR : t == ',' ? R_DOUBLE : R_BIGNUM;
        v->len = llen - 1;
        v->str = strdup(rest);
        break;
    case ':':
        v->type = R_INT;
        v->integer = parse_ll(rest);
        break;
    case '#':
        v->type = R_BOOL;
        v->integer = rest[0] == 't';
        break;
    case '_':
        v->type = R_NIL;
        break;
    case '$': case '!': case '=': {
        long long n = parse_ll(rest);
        if (n < 0) {
            v->type = R_NIL;
            break;
        }
        if (n > MAX_BULK)
            fail_msg("bulk of %lld bytes", n);
        if (!fill(c, (size_t)n + 2, deadline)) {
            free(line);
            free(v);
            return NULL;
        }
        const char *p = c->buf + c->pos;
        size_t skip = 0;
        v->type = t == '$' ? R_BULK : t == '!' ? R_ERROR : R_VERBATIM;
        if (t == '=' && n >= 4 && p[3] == ':')
            skip = 4;
        v->len = (size_t)n - skip;
        v->str = malloc(v->len + 1);
        assert_non_null(v->str);
        memcpy(v->str, p + skip, v->len);
        v->str[v->len] = 0;
        if (p[n] != '\r' || p[n + 1] != '\n')
            fail_msg("bulk not followed by CRLF");
        c->pos += (size_t)n + 2;
        break;
    }
    case '*': case '~': case '>': case '%': case '|': {
        long long n = parse_ll(rest);
        if (n < 0) {
            v->type = R_NIL;
            break;
        }
        if (n > MAX_ELEMS)
            fail_msg("aggregate of %lld elements", n);
        if (t == '%' || t == '|')
            n *= 2;
        v->type = t == '*' ? R_ARRAY : t == '~' ? R_SET : t == '>' ? R_PUSH : t == '%' ? R_MAP : R_ATTR;
        v->n = (size_t)n;
        v->elem = calloc(v->n ? v->n : 1, sizeof *v->elem);
        assert_non_null(v->elem);
        for (size_t i = 0; i < v->n; i++) {
            v->elem[i] = read_reply(c, deadline, depth + 1);
            if (!v->elem[i]) {
                v->n = i;
                rval_free(v);
                free(line);
                return NULL;
            }
        }
        if (t == '|') {
            /* an attribute precedes the reply it annotates: drop it */
            rval_free(v);
            free(line);
            return read_reply(c, deadline, depth);
        }
        break;
    }
    default:
        fail_msg("unknown reply type byte 0x%02x in line '%s'", (unsigned char)t, line);
    }
    free(line);
    return v;
}

struct rval *tread(tconn *c, int timeout_ms)
{
    return read_reply(c, now_ms() + timeout_ms, 0);
}

static struct rval *vtcmd(tconn *c, int timeout_ms, const char *fmt, va_list ap)
{
    char *line = NULL;
    int n = vasprintf(&line, fmt, ap);
    assert_true(n >= 0);
    const char **argv = malloc(sizeof *argv * (size_t)(n / 2 + 2));
    assert_non_null(argv);
    int argc = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    tsendv(c, argc, argv);
    free(argv);
    free(line);
    return tread(c, timeout_ms);
}

struct rval *tcmd(tconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct rval *v = vtcmd(c, 10000, fmt, ap);
    va_end(ap);
    return v;
}

struct rval *tcmd_within(tconn *c, int timeout_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct rval *v = vtcmd(c, timeout_ms, fmt, ap);
    va_end(ap);
    return v;
}

bool tclosed(tconn *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    char buf[4096];
    for (;;) {
        long long left = deadline - now_ms();
        if (left < 0)
            return false;
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return false;
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n == 0)
            return true;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return true; /* ECONNRESET */
        /* bytes still in flight (an error reply): keep reading */
    }
}

/* ---- assertions ---- */

static const char *where_file = "?";
static int where_line;

void harness_where(const char *file, int line)
{
    where_file = file;
    where_line = line;
}

static void expect_fail(struct rval *v, const char *want)
{
    char *got = rval_text(v);
    rval_free(v);
    fail_msg("%s:%d: expected %s, got %s", where_file, where_line, want, got);
}

void expect_ok(struct rval *v) { expect_status(v, "OK"); }

void expect_status(struct rval *v, const char *s)
{
    if (!v || v->type != R_STATUS || strcmp(v->str, s) != 0) {
        char want[512];
        snprintf(want, sizeof want, "+%s", s);
        expect_fail(v, want);
    }
    rval_free(v);
}

void expect_int(struct rval *v, long long n)
{
    if (!v || v->type != R_INT || v->integer != n) {
        char want[64];
        snprintf(want, sizeof want, "(integer) %lld", n);
        expect_fail(v, want);
    }
    rval_free(v);
}

void expect_bulk(struct rval *v, const char *s)
{
    if (!v || (v->type != R_BULK && v->type != R_VERBATIM) || v->len != strlen(s) ||
        memcmp(v->str, s, v->len) != 0) {
        char want[1024];
        snprintf(want, sizeof want, "\"%s\"", s);
        expect_fail(v, want);
    }
    rval_free(v);
}

void expect_nil(struct rval *v)
{
    if (!v || v->type != R_NIL)
        expect_fail(v, "(nil)");
    rval_free(v);
}

void expect_error_prefix(struct rval *v, const char *prefix)
{
    if (!v || v->type != R_ERROR || strncmp(v->str, prefix, strlen(prefix)) != 0) {
        char want[1024];
        snprintf(want, sizeof want, "an error starting with -%s", prefix);
        expect_fail(v, want);
    }
    rval_free(v);
}

void expect_error(struct rval *v, const char *full_text)
{
    if (!v || v->type != R_ERROR || strcmp(v->str, full_text) != 0) {
        char want[1024];
        snprintf(want, sizeof want, "-%s", full_text);
        expect_fail(v, want);
    }
    rval_free(v);
}

/* ---- shell ---- */

/* A thread's state letter from /proc/<pid>/task/<tid>/stat: after the
 * command name in parentheses (which may hold spaces or parentheses). */
static char task_state(const char *stat_path)
{
    char line[512];
    FILE *f = fopen(stat_path, "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    const char *close = strrchr(line, ')');
    return close && close[1] == ' ' ? close[2] : 0;
}

void process_stop(pid_t pid)
{
    assert_int_equal(kill(pid, SIGSTOP), 0);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    for (long long until = now_ms() + 5000;; usleep(1000)) {
        DIR *d = opendir(dir);
        assert_non_null(d);
        bool all = true;
        for (struct dirent *e; all && (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            char path[128];
            snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
            char st = task_state(path);
            all = st == 'T' || st == 't' || st == 0; /* 0: the thread is gone */
        }
        closedir(d);
        if (all)
            return;
        if (now_ms() > until)
            fail_msg("process %d did not stop within 5 s of SIGSTOP", (int)pid);
    }
}

int run_cmd(const char *cmdline, char **out)
{
    harness_init();
    fflush(NULL);
    FILE *p = popen(cmdline, "r");
    if (!p)
        return -1;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    text_append(&buf, &len, &cap, "", 0);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        text_append(&buf, &len, &cap, chunk, n);
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st < 0)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void fail_with_output(const char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(":\n", stderr);
    if (out && *out) {
        fputs(out, stderr);
        if (out[strlen(out) - 1] != '\n')
            fputc('\n', stderr);
    }
    fflush(stderr);
    fail();
}

long long get_int(struct rval *v)
{
    if (!v || v->type != R_INT) {
        char *t = rval_text(v);
        fail_msg("expected an integer, got %s", t);
    }
    long long n = v->integer;
    rval_free(v);
    return n;
}

long long info_field(tconn *c, const char *section, const char *name)
{
    struct rval *v = tcmd(c, "INFO %s", section);
    if (!v || (v->type != R_BULK && v->type != R_VERBATIM)) {
        char *t = rval_text(v);
        fail_msg("INFO %s: %s", section, t);
    }
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strstr(v->str, pat);
    if (!p)
        fail_msg("INFO %s has no field %s", section, name);
    long long n = atoll(p + strlen(pat));
    rval_free(v);
    return n;
}

long long command_calls(tconn *c, const char *name)
{
    struct rval *v = tcmd(c, "INFO commandstats");
    assert_true(v && (v->type == R_BULK || v->type == R_VERBATIM));
    char want[80];
    snprintf(want, sizeof want, "cmdstat_%s:calls=", name);
    const char *at = strstr(v->str, want);
    long long n = at ? atoll(at + strlen(want)) : 0;
    rval_free(v);
    return n;
}

void keys_on_two_shards(tconn *c, const char *prefix, char *src, char *dst, size_t len)
{
    snprintf(src, len, "%s:src", prefix);
    snprintf(dst, len, "%s:dst0", prefix);
    if (target_is_redis())
        return;
    long long shards = info_field(c, "server", "shards");
    assert_true(shards >= 2);
    long long s = get_int(tcmd(c, "CLUSTER KEYSLOT %s", src)) % shards;
    for (int i = 0; i < 100; i++) {
        snprintf(dst, len, "%s:dst%d", prefix, i);
        if (get_int(tcmd(c, "CLUSTER KEYSLOT %s", dst)) % shards != s)
            return;
    }
    fail_msg("no key on another shard than %s", src);
}

long long info_field_becomes(tconn *c, const char *section, const char *name, long long want, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long v = info_field(c, section, name);
        if (v == want || now_ms() > deadline)
            return v;
        usleep(10000);
    }
}

pid_t sentinel_spawn(const char *dir, int idx, const char *extra, int *port)
{
    char conf[512];
    *port = free_port();
    snprintf(conf, sizeof conf, "%s/sentinel-%d.conf", dir, idx);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "port %d\nbind 127.0.0.1\ndaemonize no\nlogfile %s/sentinel-%d.log\ndir %s\n%s", *port, dir, idx,
            dir, extra ? extra : "");
    fclose(f);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("redis-sentinel", "redis-sentinel", conf, (char *)NULL);
        _exit(127);
    }
    for (long long until = now_ms() + 10000;; usleep(20000)) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "timeout 2 redis-cli -p %d ping >/dev/null 2>&1", *port);
        if (run_cmd(cmd, NULL) == 0)
            return pid;
        if (now_ms() > until)
            fail_msg("redis-sentinel did not answer PING on port %d", *port);
    }
}

int count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

char *debug_digest(tconn *c)
{
    struct rval *v = tcmd(c, "DEBUG DIGEST");
    if (!v || v->type != R_STATUS || strlen(v->str) != 40) {
        char *t = rval_text(v);
        fail_msg("DEBUG DIGEST: %s", t);
    }
    char *d = strdup(v->str);
    rval_free(v);
    return d;
}
