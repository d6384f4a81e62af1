/* micro_store: one shard's table (shards/store.h) at 1M and 10M keys.
 *
 * Keys are 16 bytes ("key:" and 12 hex digits of the key's index), values 64
 * bytes, no expiry, no journal hook, the default mimalloc heap. For each size:
 *   insert  - store_set of every key once, into an empty store (so the time
 *             includes the table's incremental growth);
 *   find    - store_find of existing keys in random order (hits);
 *   miss    - store_find of absent keys in random order;
 *   set     - store_set overwriting existing keys in random order.
 * The random indices are drawn before timing and read sequentially, so the
 * only cache misses timed are the table's. Reported: ns per operation and
 * the store's own count of bytes per key (store_used_memory / keys).
 * For callgrind: the inclusive Ir of store_set / store_find divided by the
 * operations printed. */
#include <inttypes.h>
#include <stdlib.h>

#include <mimalloc.h>

#include "shards/store/store.h"
#include "bench/micro.h"

#define KEY_SIZE 16
#define VALUE_SIZE 64
#define NOW_MS 1700000000000LL

static const char hex_digits[] = "0123456789abcdef";

/* Key i: "key:" then 12 hex digits (48 bits of i). Misses use the "kez:" prefix. */
static inline void make_key(char out[KEY_SIZE], uint64_t i, char tag)
{
    memcpy(out, "key:", 4);
    out[2] = tag;
    for (int d = 0; d < 12; d++)
        out[4 + d] = hex_digits[(i >> (4 * (11 - d))) & 15];
}

__attribute__((noinline)) static void run_inserts(struct store *s, uint64_t n, const char *value)
{
    char key[KEY_SIZE];
    for (uint64_t i = 0; i < n; i++) {
        make_key(key, i, 'y');
        store_set(s, (struct slice){ key, KEY_SIZE }, value, VALUE_SIZE, 0);
    }
}

__attribute__((noinline)) static uint64_t run_finds(struct store *s, const uint32_t *order, uint64_t ops, char tag)
{
    char key[KEY_SIZE];
    uint64_t found = 0;
    for (uint64_t i = 0; i < ops; i++) {
        make_key(key, order[i], tag);
        struct entry *e = store_find(s, (struct slice){ key, KEY_SIZE }, NOW_MS);
        if (e)
            found += entry_value_len(e);
    }
    micro_sink += found;
    return found;
}

__attribute__((noinline)) static void run_overwrites(struct store *s, const uint32_t *order, uint64_t ops,
                                                     const char *value)
{
    char key[KEY_SIZE];
    for (uint64_t i = 0; i < ops; i++) {
        make_key(key, order[i], 'y');
        store_set(s, (struct slice){ key, KEY_SIZE }, value, VALUE_SIZE, 0);
    }
}

static void bench_size(uint64_t keys, uint64_t ops, uint64_t seed)
{
    char value[VALUE_SIZE];
    memset(value, 'v', sizeof value);
    uint32_t *order = malloc(ops * sizeof *order);
    if (!order) {
        fprintf(stderr, "micro_store: out of memory\n");
        exit(1);
    }
    for (uint64_t i = 0; i < ops; i++)
        order[i] = (uint32_t)(micro_rand(&seed) % keys);

    struct store *s = store_create(NULL, NULL, NULL);
    char what[64];
    printf("\n%" PRIu64 " keys (%d-byte keys, %d-byte values), %" PRIu64 " random lookups/overwrites:\n",
           keys, KEY_SIZE, VALUE_SIZE, ops);

    uint64_t t0 = micro_now_ns();
    run_inserts(s, keys, value);
    uint64_t dt = micro_now_ns() - t0;
    snprintf(what, sizeof what, "store_set insert (%" PRIu64 " keys)", keys);
    micro_report(what, keys, dt);
    if (store_count(s) != keys) {
        fprintf(stderr, "micro_store: store holds %zu keys, expected %" PRIu64 "\n", store_count(s), keys);
        exit(1);
    }
    printf("  store_used_memory: %.1f bytes per key\n", (double)store_used_memory(s) / (double)keys);

    t0 = micro_now_ns();
    uint64_t found = run_finds(s, order, ops, 'y');
    dt = micro_now_ns() - t0;
    snprintf(what, sizeof what, "store_find hit (%" PRIu64 " keys)", keys);
    micro_report(what, ops, dt);
    if (found != ops * VALUE_SIZE) {
        fprintf(stderr, "micro_store: %" PRIu64 " value bytes found, expected %" PRIu64 "\n", found, ops * VALUE_SIZE);
        exit(1);
    }

    t0 = micro_now_ns();
    run_finds(s, order, ops, 'z');
    dt = micro_now_ns() - t0;
    snprintf(what, sizeof what, "store_find miss (%" PRIu64 " keys)", keys);
    micro_report(what, ops, dt);

    t0 = micro_now_ns();
    run_overwrites(s, order, ops, value);
    dt = micro_now_ns() - t0;
    snprintf(what, sizeof what, "store_set overwrite (%" PRIu64 " keys)", keys);
    micro_report(what, ops, dt);

    store_destroy(s);
    free(order);
}

int main(int argc, char **argv)
{
    int quick = micro_quick(argc, argv, "store_set/store_find at 1M and 10M keys\n");
    if (quick < 0)
        return 2;
    printf("micro_store: shards/store.h, store_create(NULL, NULL, NULL), default mimalloc heap%s\n",
           quick ? " (--quick: 10k and 100k keys)" : "");
    if (quick) {
        bench_size(10000, 10000, 1);
        bench_size(100000, 100000, 2);
    } else {
        bench_size(1000000, 2000000, 1);
        bench_size(10000000, 10000000, 2);
    }
    return 0;
}
