/* proxy: a fault-injecting TCP proxy for the replication tests.
 *
 * proxy_start listens on a free loopback port and runs one thread that
 * forwards every accepted connection to a target loopback port. The test
 * points a replica at the proxy's port; "down" is the direction target ->
 * client (master -> replica), "up" the other one. While it forwards, the
 * test may at any moment:
 *   - drop every current connection (both sides closed at once);
 *   - delay every byte, in both directions, by N ms (order is kept);
 *   - stall: stop reading and writing (bytes wait, connections stay open);
 *   - garble the next N chunks read in the down direction: each such chunk is
 *     replaced, byte for byte, by a pattern that is a RESP protocol error at
 *     a command boundary and inside a bulk alike (no key, no valid frame);
 *   - truncate the next N connections: each is closed once it has forwarded
 *     K bytes down (the tail of the K-th byte's chunk is thrown away).
 * Counters say how many connections were accepted, cut or garbled, and how
 * many bytes went down, so a test can wait for a fault to have happened.
 * The calls are thread-safe; none blocks for long. */
#ifndef RINGKV_TEST_PROXY_H
#define RINGKV_TEST_PROXY_H

#include <stdbool.h>

struct proxy;

/* Listen on a free loopback port, forward to 127.0.0.1:target_port. */
struct proxy *proxy_start(int target_port);
/* Stop the thread, close every socket, free. */
void proxy_stop(struct proxy *p);
int  proxy_port(const struct proxy *p);

/* Close all current connections (the next ones are forwarded again). */
void proxy_drop_all(struct proxy *p);
/* Delay every byte by ms (0: forward at once). */
void proxy_set_delay(struct proxy *p, int ms);
/* true: stop forwarding (nothing read, nothing written); false: resume. */
void proxy_set_stall(struct proxy *p, bool stall);
/* Garble the next `chunks` chunks read in the down direction (0: stop). */
void proxy_garble_chunks(struct proxy *p, int chunks);
/* Cut each of the next `connections` connections (the current ones count,
 * from their current byte count on) after it has forwarded `bytes` more
 * bytes down (connections 0: stop cutting). */
void proxy_truncate(struct proxy *p, long long bytes, int connections);

/* Connections accepted so far; currently open; cut by truncation; chunks
 * garbled; bytes forwarded down in all. */
int  proxy_accepted(struct proxy *p);
int  proxy_open(struct proxy *p);
int  proxy_cuts(struct proxy *p);
int  proxy_garbled(struct proxy *p);
long long proxy_bytes_down(struct proxy *p);

#endif
