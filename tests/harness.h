/* harness: what integration and interop tests use to run real ringkv
 * processes on loopback and talk RESP to them.
 *
 * server_start picks a free loopback port, starts $RINGKV_BIN (or the
 * binary named by RINGKV_BIN; when RINGKV_TEST_TARGET=redis, redis-server
 * instead, to check that a test asserts Redis's own behaviour) with the given
 * extra arguments, and waits until it answers PING. server_stop sends SIGTERM
 * and returns the exit status; server_kill sends SIGKILL. */
#ifndef RINGKV_HARNESS_H
#define RINGKV_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* HARNESS_SANITIZED: this build runs under AddressSanitizer, where the same
 * paths take several times longer and the RSS holds shadow memory. A test
 * whose point is a path, not a volume, may scale its data down there (the
 * release run keeps the full volume). */
#if defined(__SANITIZE_ADDRESS__)
#define HARNESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARNESS_SANITIZED 1
#endif
#endif
#ifndef HARNESS_SANITIZED
#define HARNESS_SANITIZED 0
#endif

struct server {
    pid_t pid;
    int   port;
    char  logfile[256];
    char  dbfilename[64]; /* in the directory it runs in; nobody else's dump.rdb */
};

/* args: NULL-terminated list of extra arguments ("--threads", "2", NULL).
 * Returns 0 once the server answers PING; on failure prints the server's log,
 * fails the current cmocka test and returns -1. */
int  server_start(struct server *s, const char *const *args);
/* Like server_start, but writes a redis.conf-style file holding "port P" and
 * conf_text and starts `BIN <file> --bind 127.0.0.1 --logfile L args...`
 * without --port, so the port comes from the file. */
int  server_start_conf(struct server *s, const char *conf_text, const char *const *args);
/* SIGTERM, wait up to 10 s. Returns the exit status (0..255), 128+signal if a
 * signal ended it, or -1 if it had to be SIGKILLed after the 10 s. */
int  server_stop(struct server *s);
/* Send sig and wait like server_stop (for SIGINT etc). */
int  server_signal_wait(struct server *s, int sig, int timeout_ms);
/* Wait up to timeout_ms for the process to exit by itself (after SHUTDOWN);
 * same return values as server_stop, -1 on timeout (the process is left). */
int  server_wait_exit(struct server *s, int timeout_ms);
void server_kill(struct server *s);

/* true when RINGKV_TEST_TARGET=redis: tests of ringkv-only behaviour skip. */
bool target_is_redis(void);
/* The binary under test: $RINGKV_BIN (or "redis-server" on the redis target). */
const char *server_binary(void);
/* A loopback TCP port free for this test process: from a block of ports
 * the process holds (an flock in /tmp/ringkv-test-ports), so tests running
 * at the same time never share one; each port comes back only after the
 * rest of the block, so one a test keeps unused stays unused. */
int  free_port(void);
/* Milliseconds of a monotonic clock. */
long long now_ms(void);

/* A parsed reply. */
enum rtype { R_STATUS, R_ERROR, R_INT, R_BULK, R_NIL, R_ARRAY, R_MAP, R_SET,
             R_DOUBLE, R_BOOL, R_VERBATIM, R_BIGNUM, R_PUSH, R_ATTR };
struct rval {
    enum rtype   type;
    long long    integer;  /* R_INT, R_BOOL */
    char        *str;      /* R_STATUS, R_ERROR, R_BULK, R_DOUBLE, R_VERBATIM: NUL-terminated copy */
    size_t       len;
    size_t       n;        /* R_ARRAY/R_SET/R_PUSH: elements; R_MAP: 2*pairs */
    struct rval **elem;
};
void rval_free(struct rval *v);

struct conn_t;
typedef struct conn_t tconn;

tconn *tconnect(int port);          /* asserts on failure */
void   tclose(tconn *c);
int    tfd(tconn *c);
/* Send raw bytes. */
void   tsend_raw(tconn *c, const void *p, size_t n);
/* Send one command given as argc NUL-terminated strings. */
void   tsendv(tconn *c, int argc, const char *const *argv);
/* Send one command given as argc binary-safe args. */
void   tsendb(tconn *c, int argc, const char *const *argv, const size_t *lens);
/* Read one reply (NULL on EOF or a timeout of timeout_ms). RESP3 attributes
 * are read and dropped; a verbatim string's "txt:" prefix is stripped. */
struct rval *tread(tconn *c, int timeout_ms);
/* Send a command (space-separated words, no quoting) and read its reply. */
struct rval *tcmd(tconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, waiting up to timeout_ms for the reply (tcmd waits 10 s): for
 * a command a sanitizer build under load may take longer over (a whole
 * big value encoded for a replica). */
struct rval *tcmd_within(tconn *c, int timeout_ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* true if the server closed the connection within timeout_ms */
bool   tclosed(tconn *c, int timeout_ms);

/* Assertions on replies (free the reply). */
void expect_ok(struct rval *v);
void expect_status(struct rval *v, const char *s);
void expect_int(struct rval *v, long long n);
void expect_bulk(struct rval *v, const char *s);
void expect_nil(struct rval *v);
void expect_error_prefix(struct rval *v, const char *prefix);
void expect_error(struct rval *v, const char *full_text);  /* without the '-' */
/* The expect_* calls name the test's own file and line when they fail. */
void harness_where(const char *file, int line);
#define expect_ok(v)              (harness_where(__FILE__, __LINE__), expect_ok(v))
#define expect_status(v, s)       (harness_where(__FILE__, __LINE__), expect_status(v, s))
#define expect_int(v, n)          (harness_where(__FILE__, __LINE__), expect_int(v, n))
#define expect_bulk(v, s)         (harness_where(__FILE__, __LINE__), expect_bulk(v, s))
#define expect_nil(v)             (harness_where(__FILE__, __LINE__), expect_nil(v))
#define expect_error_prefix(v, p) (harness_where(__FILE__, __LINE__), expect_error_prefix(v, p))
#define expect_error(v, t)        (harness_where(__FILE__, __LINE__), expect_error(v, t))
/* The integer of an integer reply (the reply is freed); fails the test
 * with the reply's text otherwise. */
long long get_int(struct rval *v);
/* Reply as text, for messages: malloc'd. */
char *rval_text(const struct rval *v);
/* DEBUG DIGEST's 40 hex digits, malloc'd (fails the test otherwise). */
char *debug_digest(tconn *c);
/* The number of INFO section's field name (fails the test if missing). */
long long info_field(tconn *c, const char *section, const char *name);
/* The calls of a command INFO commandstats counts (cmdstat_<name>; 0:
 * none yet). */
long long command_calls(tconn *c, const char *name);
/* Two key names whose slots are on different shards of the server c is
 * connected to (a shard is a key's slot modulo INFO server's shards, at
 * least 2): prefix:src and prefix:dstN. Against redis-server any two. */
void keys_on_two_shards(tconn *c, const char *prefix, char *src, char *dst, size_t len);
/* Poll info_field until it equals want or timeout_ms pass; returns the
 * last value read (the caller asserts). */
long long info_field_becomes(tconn *c, const char *section, const char *name, long long want, int timeout_ms);

/* SIGSTOP pid and wait until every thread of it is stopped (kill()
 * returns before a thread running on another CPU has stopped); fails the
 * test after 5 s. SIGCONT resumes it. */
void process_stop(pid_t pid);

/* How many lines of the file hold needle (0 if it cannot be read): a
 * server's log lines. */
int count_in_file(const char *path, const char *needle);

/* Run a shell command line; returns its exit status, its output in out (if
 * not NULL; malloc'd, NUL-terminated). */
int run_cmd(const char *cmdline, char **out);
/* Fail the current test with a message and a command's whole output (what
 * run_cmd gave): written to stderr as it is, since cmocka's fail_msg cuts a
 * message at about a kilobyte (a redis-cli --cluster report whose error is
 * at the end came out as "exited 1" and the first node's slots). */
void fail_with_output(const char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Start a real redis-sentinel (number idx) on a free loopback port, its
 * config file and log in dir (extra: more config lines, or NULL); waits
 * until it answers PING (fails the test after 10 s). It dies with the
 * test process. Returns its pid, its port in *port. */
pid_t sentinel_spawn(const char *dir, int idx, const char *extra, int *port);

#endif
