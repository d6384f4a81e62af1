/* cluster_map: which master serves each of the 16384 slots, as the load
 * generator sees a Redis Cluster (ringkv's or redis-server's).
 *
 * Keys map to slots exactly as Redis Cluster does: CRC16 (XMODEM) of the
 * key, or of the part between the first '{' and the next '}' when that part
 * is not empty (a hash tag), modulo 16384. The CRC is the bench's own: the
 * bench links none of the server (bench/meson.build).
 *
 * A map is loaded with one blocking CLUSTER SLOTS on a seed node: the
 * masters (the first address of each range; replicas are not used) become
 * nodes 0..n-1 in the order first seen, and each slot names its node, or
 * CLUSTER_MAP_NONE when no range covers it. A reload keeps the node list of
 * the first load so that connections opened per node stay valid: a reload
 * naming a master not in that list leaves its slots as they were (the load
 * generator does not open connections during a run). */
#ifndef RINGKV_BENCH_CLUSTER_MAP_H
#define RINGKV_BENCH_CLUSTER_MAP_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_SLOTS     16384
#define CLUSTER_MAP_NODES 64
#define CLUSTER_MAP_NONE  0xFF

struct cluster_node_addr {
    char host[64];
    int  port;
};

struct cluster_map {
    unsigned nnodes;
    struct cluster_node_addr nodes[CLUSTER_MAP_NODES];
    uint8_t  slot_node[CLUSTER_SLOTS];
};

/* CRC16-XMODEM (polynomial 0x1021, initial 0), as Redis Cluster's keyslot. */
uint16_t cluster_crc16(const char *p, size_t n);
/* The slot of a key, hash tags honoured. */
unsigned cluster_key_slot(const char *key, size_t n);

/* Ask host:port for CLUSTER SLOTS and fill map. With keep_nodes, map's node
 * list stays as it is and only slots served by a node in it are updated;
 * without, the map is rebuilt. A node given with an empty address is taken
 * to be on host. 0, or -1 with the reason in err. Blocking (a few round
 * trips, 5 s timeout): for the start and rare refreshes only. */
int cluster_map_load(struct cluster_map *map, const char *host, int port, int keep_nodes,
                     char *err, size_t errlen);

/* The node of "host:port" (as a MOVED reply names it), or -1. */
int cluster_map_find(const struct cluster_map *map, const char *addr, size_t len);

/* A MOVED reply's text ("MOVED <slot> <host>:<port>", without '-'): its slot
 * and where the address starts. 0, or -1 if the text is not a MOVED. */
int cluster_parse_moved(const char *text, size_t len, unsigned *slot, const char **addr,
                        size_t *addr_len);

#endif
