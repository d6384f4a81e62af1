/* key_clients: a shard's table from keys to the clients attached to them
 * (key_clients.h). */
#include "shards/key_clients.h"

#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static void *must(void *p)
{
    if (!p)
        abort();
    return p;
}

void key_clients_init(struct key_clients *t, size_t item_size, size_t nbuckets)
{
    t->buckets = must(mi_calloc(nbuckets, sizeof(*t->buckets)));
    t->nbuckets = nbuckets;
    t->count = 0;
    t->item_size = item_size;
}

void key_clients_entry_free(struct key_clients_entry *e)
{
    mi_free(e->items);
    mi_free(e);
}

void key_clients_clear(struct key_clients *t)
{
    for (size_t b = 0; b < t->nbuckets; b++) {
        for (struct key_clients_entry *e = t->buckets[b], *next; e; e = next) {
            next = e->next;
            key_clients_entry_free(e);
        }
        t->buckets[b] = NULL;
    }
    t->count = 0;
}

void key_clients_free(struct key_clients *t)
{
    key_clients_clear(t);
    mi_free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = 0;
}

static void grow(struct key_clients *t)
{
    size_t n = t->nbuckets * 2;
    struct key_clients_entry **b = must(mi_calloc(n, sizeof(*b)));
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct key_clients_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    mi_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* The link that points to key's entry (*link NULL if it has none). */
static struct key_clients_entry **link_of(const struct key_clients *t, const char *key, size_t klen, uint64_t h)
{
    struct key_clients_entry **pp = &t->buckets[h & (t->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0))
        pp = &(*pp)->next;
    return pp;
}

struct key_clients_entry *key_clients_find(const struct key_clients *t, const char *key, size_t klen)
{
    return *link_of(t, key, klen, XXH3_64bits(key, klen));
}

struct key_clients_entry *key_clients_add(struct key_clients *t, const char *key, size_t klen)
{
    uint64_t h = XXH3_64bits(key, klen);
    struct key_clients_entry *e = *link_of(t, key, klen, h);
    if (e)
        return e;
    if (t->count >= t->nbuckets)
        grow(t);
    e = must(mi_zalloc(sizeof(*e) + klen));
    e->hash = h;
    e->klen = klen;
    memcpy(e->key, key, klen);
    size_t b = h & (t->nbuckets - 1);
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->count++;
    return e;
}

struct key_clients_entry *key_clients_take(struct key_clients *t, const char *key, size_t klen)
{
    struct key_clients_entry **pp = link_of(t, key, klen, XXH3_64bits(key, klen));
    struct key_clients_entry *e = *pp;
    if (e) {
        *pp = e->next;
        t->count--;
    }
    return e;
}

struct key_clients_entry *key_clients_take_any(struct key_clients *t, size_t *cursor)
{
    if (t->count == 0)
        return NULL;
    size_t b = *cursor & (t->nbuckets - 1);
    while (!t->buckets[b])
        b = (b + 1) & (t->nbuckets - 1);
    *cursor = b;
    struct key_clients_entry *e = t->buckets[b];
    t->buckets[b] = e->next;
    t->count--;
    return e;
}

void *key_clients_item(const struct key_clients *t, const struct key_clients_entry *e, uint64_t id)
{
    for (uint32_t i = 0; i < e->n; i++) {
        void *item = key_clients_at(t, e, i);
        if (*(const uint64_t *)item == id)
            return item;
    }
    return NULL;
}

void *key_clients_attach(struct key_clients *t, struct key_clients_entry *e, uint64_t id, bool *added)
{
    void *item = key_clients_item(t, e, id);
    *added = item == NULL;
    if (item)
        return item;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 2;
        e->items = must(mi_realloc(e->items, e->cap * t->item_size));
    }
    item = key_clients_at(t, e, e->n++);
    memset(item, 0, t->item_size);
    *(uint64_t *)item = id;
    return item;
}

void key_clients_detach(const struct key_clients *t, struct key_clients_entry *e, void *item)
{
    void *last = key_clients_at(t, e, e->n - 1);
    if (item != last)
        memcpy(item, last, t->item_size);
    e->n--;
}
