/* resolve: a host name's address, looked up by a thread of its own (see
 * resolve.h). The lookup and its owner share the request: two references,
 * the last one out frees it; the answer is published by `state` (release),
 * read by the owner with acquire. */
#include "net/resolve.h"

#include <arpa/inet.h>
#include <mimalloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct resolve {
    char                    host[254];
    int                     port;
    atomic_int              state; /* enum resolve_state */
    atomic_int              refs;  /* the owner's and the thread's */
    struct sockaddr_storage ss;
    char                    err[160];
};

bool resolve_name_ok(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void unref(struct resolve *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1)
        mi_free(r);
}

/* The first IPv4 address of the answer, else the first IPv6 one. */
static bool pick(struct resolve *r, const struct addrinfo *ai)
{
    const struct addrinfo *v6 = NULL;
    for (const struct addrinfo *p = ai; p; p = p->ai_next) {
        if (p->ai_family == AF_INET && p->ai_addrlen <= sizeof r->ss) {
            memcpy(&r->ss, p->ai_addr, p->ai_addrlen);
            ((struct sockaddr_in *)&r->ss)->sin_port = htons((uint16_t)r->port);
            return true;
        }
        if (p->ai_family == AF_INET6 && !v6)
            v6 = p;
    }
    if (!v6 || v6->ai_addrlen > sizeof r->ss)
        return false;
    memcpy(&r->ss, v6->ai_addr, v6->ai_addrlen);
    ((struct sockaddr_in6 *)&r->ss)->sin6_port = htons((uint16_t)r->port);
    return true;
}

static void *lookup_main(void *arg)
{
    struct resolve *r = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the server's threads' */
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(r->host, NULL, &hints, &ai);
    int state = RESOLVE_FAILED;
    if (rc != 0)
        snprintf(r->err, sizeof r->err, "%s", gai_strerror(rc));
    else if (!pick(r, ai))
        snprintf(r->err, sizeof r->err, "no IPv4 or IPv6 address");
    else
        state = RESOLVE_DONE;
    if (ai)
        freeaddrinfo(ai);
    atomic_store_explicit(&r->state, state, memory_order_release);
    unref(r);
    return NULL;
}

struct resolve *resolve_start(const char *host, int port)
{
    struct resolve *r = mi_zalloc(sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->host, sizeof r->host, "%s", host);
    r->port = port;
    atomic_init(&r->state, RESOLVE_PENDING);
    atomic_init(&r->refs, 2);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, lookup_main, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        mi_free(r);
        return NULL;
    }
    return r;
}

enum resolve_state resolve_poll(struct resolve *r, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    int state = atomic_load_explicit(&r->state, memory_order_acquire);
    if (state == RESOLVE_DONE)
        memcpy(ss, &r->ss, sizeof *ss);
    else if (state == RESOLVE_FAILED && err && errlen)
        snprintf(err, errlen, "%s", r->err);
    return (enum resolve_state)state;
}

void resolve_drop(struct resolve *r)
{
    if (r)
        unref(r);
}
