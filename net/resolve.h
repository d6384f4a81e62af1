/* resolve: a host name's address, looked up off the loop.
 *
 * getaddrinfo() blocks (the hosts file, then DNS: seconds when a server
 * does not answer), and a loop must not. So a name is looked up by a
 * thread of its own, started for it, and its owner polls for the answer
 * (on its tick). Names are looked up where a connection to them begins
 * (a replica's link to its master: rare), so a thread each costs nothing
 * that matters. A numeric address or "localhost" needs none:
 * loop_parse_addr. */
#ifndef RINGKV_NET_RESOLVE_H
#define RINGKV_NET_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct resolve;

enum resolve_state {
    RESOLVE_PENDING,
    RESOLVE_DONE,   /* *ss has the address (an IPv4 one if the name has any) */
    RESOLVE_FAILED, /* err says why */
};

/* Could host be a name (letters, digits, '-', '_', '.'; 1-253 bytes)? */
bool resolve_name_ok(const char *host);
/* Look host up for port. NULL if no thread could be started. */
struct resolve *resolve_start(const char *host, int port);
enum resolve_state resolve_poll(struct resolve *r, struct sockaddr_storage *ss, char *err, size_t errlen);
/* The owner is done with it, answered or not: freed now, or by its thread
 * when the lookup ends. */
void resolve_drop(struct resolve *r);

#endif
