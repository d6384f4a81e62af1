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

struct server {
    pid_t pid;
    int   port;
    char  logfile[256];
};

/* args: NULL-terminated list of extra arguments ("--threads", "2", NULL). */
int  server_start(struct server *s, const char *const *args);
int  server_stop(struct server *s);   /* exit status, or -1 */
void server_kill(struct server *s);

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
/* Read one reply (NULL on EOF or a timeout of timeout_ms). */
struct rval *tread(tconn *c, int timeout_ms);
/* Send a command (space-separated words, no quoting) and read its reply. */
struct rval *tcmd(tconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* true if the server closed the connection within timeout_ms */
bool   tclosed(tconn *c, int timeout_ms);

/* Assertions on replies (free the reply). */
void expect_ok(struct rval *v);
void expect_status(struct rval *v, const char *s);
void expect_int(struct rval *v, long long n);
void expect_bulk(struct rval *v, const char *s);
void expect_nil(struct rval *v);
void expect_error_prefix(struct rval *v, const char *prefix);

/* Run a shell command line; returns its exit status, its output in out (if
 * not NULL; malloc'd, NUL-terminated). */
int run_cmd(const char *cmdline, char **out);

#endif
