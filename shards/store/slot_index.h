/* slot_index: a store's keys by cluster slot, for CLUSTER COUNTKEYSINSLOT
 * (O(1)) and GETKEYSINSLOT (O(keys of the slot)), and for moving a slot's
 * keys to another group (the next issue) without walking the whole
 * keyspace. Cluster mode only: a store has one once store_index_slots was
 * called (store.h); standalone stores have none and pay nothing.
 *
 * What it holds: for each of the 16384 slots, the 64-bit hashes of its keys
 * (the store's own XXH3 of the key, which the store computes anyway and
 * which does not change while the key lives, even when its entry moves) in
 * an open-addressing table with linear probing: 8 bytes a key at a load of
 * 3/8 to 3/4, about 14 bytes a key on average, plus 16 bytes a slot (256 KiB
 * a store). A key is found back from its hash by the store (its bucket,
 * then the entries whose hash matches). The store adds a hash when a key is
 * created and removes it when the key goes (deleted, expired, evicted,
 * flushed); a value replaced or an entry moved does not touch the index.
 * Two keys of one slot with one hash (2^-64) are both kept: the table is a
 * multiset.
 *
 * One thread (the store's). */
#ifndef RINGKV_SLOT_INDEX_H
#define RINGKV_SLOT_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct slot_index;

/* heap: the mimalloc heap of the owning thread (mi_heap_t *), or NULL. */
struct slot_index *slot_index_create(void *heap);
void slot_index_destroy(struct slot_index *x);

void slot_index_add(struct slot_index *x, unsigned slot, uint64_t h);
/* Remove one occurrence of h from slot (nothing if it is not there). */
void slot_index_remove(struct slot_index *x, unsigned slot, uint64_t h);
/* Forget every key (the store was flushed). */
void slot_index_clear(struct slot_index *x);

size_t slot_index_count(const struct slot_index *x, unsigned slot);

/* The hashes of slot's keys: walk positions 0 .. slot_index_span(x, slot)
 * - 1 and take those for which slot_index_at gives true. Valid until the
 * next add or remove on that slot. */
size_t slot_index_span(const struct slot_index *x, unsigned slot);
int slot_index_at(const struct slot_index *x, unsigned slot, size_t pos, uint64_t *h);

/* Bytes held: all of it (the per-slot headers, 256 KiB, and the tables),
 * and the tables alone (what grows with the keys). */
size_t slot_index_memory(const struct slot_index *x);
size_t slot_index_table_bytes(const struct slot_index *x);

#endif
