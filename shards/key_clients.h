/* key_clients: a shard's table from keys to the clients attached to each
 * of them — client-side caching's readers of a key (tracking.c), WATCH's
 * watchers (watch.c).
 *
 * A chained hash table of key names (XXH3, a power of two of buckets,
 * doubled when it holds as many keys), each entry with a growable array of
 * items whose layout its user defines and whose first member is the
 * client's id (uint64_t): one item per client and key. Only the shard's
 * own thread uses its tables, so there is no lock. */
#ifndef RINGKV_KEY_CLIENTS_H
#define RINGKV_KEY_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct key_clients_entry {
    struct key_clients_entry *next;
    uint64_t                  hash;
    void                     *items; /* n items of the table's item_size */
    uint32_t                  n, cap;
    size_t                    klen;
    char                      key[];
};

struct key_clients {
    struct key_clients_entry **buckets;
    size_t                     nbuckets; /* power of two */
    size_t                     count;    /* keys */
    size_t                     item_size;
};

/* An empty table of nbuckets (a power of two) for items of item_size
 * bytes (at least a uint64_t, the client id, first). */
void key_clients_init(struct key_clients *t, size_t item_size, size_t nbuckets);
/* Drop every entry and free the table's memory. */
void key_clients_free(struct key_clients *t);
/* Drop every entry; the table stays usable. */
void key_clients_clear(struct key_clients *t);

/* The entry of key, or NULL. */
struct key_clients_entry *key_clients_find(const struct key_clients *t, const char *key, size_t klen);
/* The entry of key, made (with no items) if it has none. */
struct key_clients_entry *key_clients_add(struct key_clients *t, const char *key, size_t klen);
/* The entry of key unlinked from the table (free it with
 * key_clients_entry_free), or NULL. */
struct key_clients_entry *key_clients_take(struct key_clients *t, const char *key, size_t klen);
/* Some entry unlinked from the table, looking from bucket *cursor on
 * (moved past the buckets found empty): eviction's walk. NULL if empty. */
struct key_clients_entry *key_clients_take_any(struct key_clients *t, size_t *cursor);
void key_clients_entry_free(struct key_clients_entry *e);

/* Item i of e. */
static inline void *key_clients_at(const struct key_clients *t, const struct key_clients_entry *e, uint32_t i)
{
    return (char *)e->items + (size_t)i * t->item_size;
}
/* The item of client id in e, or NULL. */
void *key_clients_item(const struct key_clients *t, const struct key_clients_entry *e, uint64_t id);
/* The item of client id in e: the one it has, or a new one (zeroed but for
 * the id; *added says which). */
void *key_clients_attach(struct key_clients *t, struct key_clients_entry *e, uint64_t id, bool *added);
/* Remove an item of e (the last one takes its place). */
void key_clients_detach(const struct key_clients *t, struct key_clients_entry *e, void *item);

/* Every entry of t (not to be unlinked while walking). */
#define KEY_CLIENTS_EACH(t, e)                                                   \
    for (size_t kc_b_ = 0; kc_b_ < (t)->nbuckets; kc_b_++)                       \
        for (struct key_clients_entry *e = (t)->buckets[kc_b_]; e; e = e->next)

#endif
