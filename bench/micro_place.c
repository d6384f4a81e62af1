/* micro_place: placement of a key (ARCHITECTURE.md "Where a key lives"): key_slot (CRC16 of the key or
 * its hash tag, mod 16384) and then shard_of_slot (slot -> shard thread of a
 * node with 4 shards), per key.
 *
 * Keys are 16 bytes ("key:" and 12 hex digits), 64 distinct keys cycled so
 * they stay in L1 and only the computation is timed; a second run uses keys
 * with a hash tag ("{user1000}:12345", 16 bytes) so the tag scan is included.
 * place_keys is the function to read in callgrind (Ir / keys). */
#include <inttypes.h>
#include <stdlib.h>

#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/slot.h"
#include "bench/micro.h"

#define KEY_SIZE 16
#define KEY_SET 64
#define NODE_SHARDS 4

__attribute__((noinline)) static uint64_t place_keys(const struct node *n, char keys[KEY_SET][KEY_SIZE],
                                                     uint64_t count)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < count; i++) {
        const char *k = keys[i % KEY_SET];
        unsigned slot = key_slot(k, KEY_SIZE);
        sum += (uint64_t)shard_of_slot(n, slot) + slot;
    }
    micro_sink += sum;
    return sum;
}

static void bench_keys(const struct node *n, const char *what, char keys[KEY_SET][KEY_SIZE], uint64_t count)
{
    place_keys(n, keys, 10000); /* warm */
    uint64_t t0 = micro_now_ns();
    place_keys(n, keys, count);
    uint64_t dt = micro_now_ns() - t0;
    micro_report(what, count, dt);
}

int main(int argc, char **argv)
{
    int quick = micro_quick(argc, argv, "key_slot + shard_of_slot per key\n");
    if (quick < 0)
        return 2;
    uint64_t count = quick ? 100000 : 100000000;

    /* shard_of_slot reads only the shard count of the node */
    struct node node;
    memset(&node, 0, sizeof node);
    node.nshards = NODE_SHARDS;

    static char plain[KEY_SET][KEY_SIZE], tagged[KEY_SET][KEY_SIZE];
    char tmp[KEY_SIZE + 1];
    for (int i = 0; i < KEY_SET; i++) {
        snprintf(tmp, sizeof tmp, "key:%012x", (unsigned)(i * 2654435761u));
        memcpy(plain[i], tmp, KEY_SIZE);
        snprintf(tmp, sizeof tmp, "{user%04d}:%05d", 1000 + i, i * 37);
        memcpy(tagged[i], tmp, KEY_SIZE);
    }

    printf("micro_place: key_slot + shard_of_slot (%d shards) per key, %d-byte keys, "
           "%d distinct keys cycled, %" PRIu64 " keys per run%s\n",
           NODE_SHARDS, KEY_SIZE, KEY_SET, count, quick ? " (--quick)" : "");
    bench_keys(&node, "placement, plain 16-byte key", plain, count);
    bench_keys(&node, "placement, 16-byte key with {hash tag}", tagged, count);
    return 0;
}
