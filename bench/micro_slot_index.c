/* micro_slot_index: what the keys-by-slot index (shards/store/slot_index.h,
 * cluster mode) costs a store: the same 1M keys (16-byte "key:" + 12 hex
 * digits, 64-byte values) inserted, overwritten and deleted in a store
 * without the index (standalone) and in one with it (cluster mode), and the
 * index's bytes per key. The index costs an insert and a delete one CRC16
 * of the key and one table update; an overwrite costs nothing.
 * For callgrind: the inclusive Ir of run_inserts / run_overwrites /
 * run_deletes divided by the operations printed (--quick: 100k keys). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "shards/store/slot.h"
#include "shards/store/store.h"
#include "bench/micro.h"

#define KEY_SIZE 16
#define VALUE_SIZE 64

static const char hex_digits[] = "0123456789abcdef";

static inline void make_key(char out[KEY_SIZE], uint64_t i)
{
    memcpy(out, "key:", 4);
    for (int d = 0; d < 12; d++)
        out[4 + d] = hex_digits[(i >> (4 * (11 - d))) & 15];
}

__attribute__((noinline)) static void run_inserts(struct store *s, uint64_t n, const char *value)
{
    char key[KEY_SIZE];
    for (uint64_t i = 0; i < n; i++) {
        make_key(key, i);
        store_set(s, (struct slice){ key, KEY_SIZE }, value, VALUE_SIZE, 0);
    }
}

__attribute__((noinline)) static void run_overwrites(struct store *s, uint64_t n, const char *value)
{
    char key[KEY_SIZE];
    for (uint64_t i = 0; i < n; i++) {
        make_key(key, (i * 7919) % n);
        store_set(s, (struct slice){ key, KEY_SIZE }, value, VALUE_SIZE, 0);
    }
}

__attribute__((noinline)) static void run_deletes(struct store *s, uint64_t n)
{
    char key[KEY_SIZE];
    for (uint64_t i = 0; i < n; i++) {
        make_key(key, (i * 7919) % n);
        micro_sink += store_delete(s, (struct slice){ key, KEY_SIZE });
    }
}

static void bench(uint64_t n, bool indexed)
{
    char value[VALUE_SIZE], what[80];
    memset(value, 'v', sizeof value);
    struct store *s = store_create(NULL, NULL, NULL);
    if (indexed)
        store_index_slots(s);
    const char *mode = indexed ? "cluster (index)" : "standalone";
    uint64_t t0 = micro_now_ns();
    run_inserts(s, n, value);
    snprintf(what, sizeof what, "insert, %s", mode);
    micro_report(what, n, micro_now_ns() - t0);
    if (indexed) {
        printf("  index: %.1f bytes per key (store_used_memory, which counts its tables: %.1f)\n", (double)store_slot_index_memory(s) / (double)n,
               (double)store_used_memory(s) / (double)n);
        size_t total = 0;
        for (unsigned slot = 0; slot < SLOT_COUNT; slot++)
            total += store_slot_count(s, slot);
        if (total != n) {
            fprintf(stderr, "micro_slot_index: the index counts %zu keys, not %" PRIu64 "\n", total, n);
            exit(1);
        }
    }
    t0 = micro_now_ns();
    run_overwrites(s, n, value);
    snprintf(what, sizeof what, "overwrite, %s", mode);
    micro_report(what, n, micro_now_ns() - t0);
    t0 = micro_now_ns();
    run_deletes(s, n);
    snprintf(what, sizeof what, "delete, %s", mode);
    micro_report(what, n, micro_now_ns() - t0);
    store_destroy(s);
}

int main(int argc, char **argv)
{
    int quick = micro_quick(argc, argv, "the keys-by-slot index's cost per insert/overwrite/delete and per key\n");
    if (quick < 0)
        return 2;
    uint64_t n = quick ? 100000 : 1000000;
    printf("micro_slot_index: %" PRIu64 " keys, %d-byte keys, %d-byte values\n", n, KEY_SIZE, VALUE_SIZE);
    for (int rep = 0; rep < (quick ? 1 : 3); rep++) {
        bench(n, false);
        bench(n, true);
    }
    return 0;
}
