/* store: one shard's keyspace. A hash table (keyed by XXH3 of the whole key,
 * seeded with a secret drawn once per process against hash flooding)
 * that grows without a stop-the-world rehash, an approximate LRU, expiry
 * (lazy on access plus a bounded active sweep) and a count of the memory it
 * holds. It knows nothing of sockets or of the protocol.
 *
 * Ownership: a store belongs to one thread (its shard) and is never touched
 * by another. Entries returned by lookups stay valid until the next call that
 * may change the table (set, delete, resize, expire cycle, evict).
 *
 * Journal: every change the store applies is handed, in a deterministic form
 * (absolute expiry times, whole new values), to the journal hook given at
 * creation, in the order the changes happen. Lazy and active expiry and
 * eviction journal a DEL marked by_store. Replication ships these records,
 * except while a command whose table row journals it as itself runs (then
 * the command goes instead, and only the by_store DELs pass: ARCHITECTURE.md "Replication",
 * replication/repl.c). */
#ifndef RINGKV_STORE_H
#define RINGKV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

/* A key's type, as Redis names them (value_type_name). A string's value is
 * the entry's bytes; a collection's is an object of its own (hash.h for
 * TYPE_HASH) that the entry points to and the store frees with the key. */
enum value_type { TYPE_STRING = 0, TYPE_LIST = 1, TYPE_SET = 2, TYPE_ZSET = 3, TYPE_HASH = 4, TYPE_STREAM = 5 };

/* "string", "list", "set", "zset", "hash", "stream". */
const char *value_type_name(enum value_type t);

/* One key and its value: a single allocation, or for a big string whose
 * one block would waste part of a size class, the entry and its value's
 * block. Layout is private to store.c; use the accessors. */
struct entry;

const char *entry_key(const struct entry *e);
size_t      entry_key_len(const struct entry *e);
char       *entry_value(struct entry *e);           /* writable in place; call store_changed after */
size_t      entry_value_len(const struct entry *e);
enum value_type entry_type(const struct entry *e);
int64_t     entry_expire_at(const struct entry *e); /* unix ms, 0 = no expiry */
/* A collection's value object (type not TYPE_STRING), or NULL. */
void       *entry_object(const struct entry *e);

enum journal_op {
    JOURNAL_SET,     /* key now holds value, expiring at expire_at_ms (0 = never) */
    JOURNAL_DEL,     /* key removed (by a command, by expiry or by eviction) */
    JOURNAL_EXPIRE,  /* key's expiry set to expire_at_ms (absolute) */
    JOURNAL_PERSIST, /* key's expiry removed */
    JOURNAL_FLUSH,   /* every key of this store removed */
};

/* How Redis would encode a string, where its text alone does not say:
 * one changed in place (APPEND, SETRANGE, SETBIT, a BITOP result) is
 * "raw" whatever its length or text, and INCRBYFLOAT's result is never
 * "int", until a command gives the key a new value (SET, INCR...; a new
 * value is STRING_AS_SET: "int" for an integer's text, "embstr" up to 44
 * bytes, "raw" beyond). OBJECT ENCODING says so. Set before the
 * change is journaled, so that a command's writes across shards carry it;
 * a replica, a DUMP and a moved slot see a new value, as Redis's RESTORE
 * does. */
enum string_form { STRING_AS_SET, STRING_RAW, STRING_TEXT };

struct journal_record {
    enum journal_op op;
    struct slice    key;          /* not for JOURNAL_FLUSH */
    struct slice    value;        /* JOURNAL_SET of a string only */
    enum value_type type;         /* JOURNAL_SET: the value's type */
    enum string_form form;        /* JOURNAL_SET of a string: how Redis encodes it */
    const void     *object;       /* JOURNAL_SET of a collection: its object (the
                                     whole value, to be written out in full) */
    int64_t         expire_at_ms; /* JOURNAL_SET (0 = none) and JOURNAL_EXPIRE */
    bool            by_store;     /* JOURNAL_DEL the store decided on its own (the key's
                                     time passed, eviction), not the command running */
    bool            evicted;      /* JOURNAL_DEL by_store: eviction's, not expiry's
                                     (keyspace notifications tell them apart) */
    int             db;           /* the database of the store that changed (store_set_db) */
};

/* Called synchronously for every change; the record's slices are valid only
 * during the call. */
typedef void journal_hook(void *arg, const struct journal_record *rec);

enum evict_policy {
    EVICT_NOEVICTION = 0,
    EVICT_ALLKEYS_LRU,
    EVICT_VOLATILE_LRU,
    EVICT_ALLKEYS_RANDOM,
    EVICT_VOLATILE_TTL,
    EVICT_VOLATILE_RANDOM,
    /* evicted as their LRU counterparts, by the entries' LFU counters while
     * the store keeps them (store_set_lfu) */
    EVICT_ALLKEYS_LFU,
    EVICT_VOLATILE_LFU,
};

struct store_stats {
    uint64_t expired_keys;  /* removed because their time passed */
    uint64_t evicted_keys;  /* removed to stay under maxmemory */
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t expires;       /* keys that currently have an expiry (approximate) */
    /* the expiry cycle's estimates, as Redis makes them from its samples:
     * the average TTL left of keys with an expiry (ms; a running average
     * giving each cycle's samples a weight of 2%), the share of sampled
     * keys found expired (%, each cycle weighing 5%), and how many cycles
     * stopped at their time budget rather than for want of expired keys */
    int64_t  avg_ttl_ms;
    double   expired_stale_perc;
    uint64_t expired_time_cap_reached_count;
    /* store_evict calls that stopped at their time budget still over the
     * limit (maxmemory-eviction-tenacity's bound on a step) */
    uint64_t evict_time_cap_reached_count;
};

struct store;

/* heap: the mimalloc heap of the owning thread (mi_heap_t *), or NULL for the
 * default heap. hook may be NULL. */
struct store *store_create(void *heap, journal_hook *hook, void *hook_arg);
void store_destroy(struct store *s);
/* The database number a store holds (SELECT's index; 0 by default): its
 * journal records carry it. SWAPDB renumbers the two stores it swaps. */
void store_set_db(struct store *s, int db);
int  store_db(const struct store *s);

/* Lookup for a command: returns NULL if the key is missing, or if its time
 * has passed (then it is deleted and a DEL journaled). Counts a hit or a miss
 * and marks the entry recently used. */
struct entry *store_find(struct store *s, struct slice key, int64_t now_ms);

/* The same leaving the entry's LRU clock (EXISTS, TYPE: Redis's
 * LOOKUP_NOTOUCH); a key past its time is deleted all the same. */
struct entry *store_find_untouched(struct store *s, struct slice key, int64_t now_ms);

/* CLIENT NO-TOUCH: while on, store_find leaves the LRU clock of the
 * entries it finds (set around one command); store_touch marks e recently
 * used whatever the mode (TOUCH always touches, as in Redis). */
void store_set_no_touch(struct store *s, bool on);
void store_touch(struct store *s, struct entry *e);

/* keyspace_hits / keyspace_misses: whether store_find counts its lookups
 * (on by default; set around one command: Redis counts the lookups of a
 * read, not those a write makes of the keys it changes). Returns the
 * setting it replaces. store_count_lookups adds counts of lookups made
 * elsewhere (a peek that Redis counts, a command's scratch store). */
bool store_lookups_counted(struct store *s, bool on);
void store_count_lookups(struct store *s, uint64_t hits, uint64_t misses);

/* Warming the cache for lookups that are about to come (a pipeline's keys):
 * the hash of a key; then prefetch its bucket; later, once the bucket has had
 * time to arrive, the first entry of its chain. Only hints: nothing changes,
 * and a key that is not here costs a wasted prefetch. */
uint64_t store_key_hash(struct slice key); /* seeded: differs between processes */
void store_prefetch_bucket(const struct store *s, uint64_t h);
void store_prefetch_entry(const struct store *s, uint64_t h);
/* The same without counting, touching the LRU or deleting: for SCAN/KEYS,
 * TYPE-like checks and exports. Returns NULL for missing or expired keys. */
struct entry *store_peek(struct store *s, struct slice key, int64_t now_ms);
/* Is key here but past its time (a write may replace it without the DEL
 * a lookup journals)? Nothing changes. */
bool store_peek_expired(struct store *s, struct slice key, int64_t now_ms);

/* Create or replace key with a value of vlen bytes (copied from val if val is
 * not NULL, else left uninitialised for the caller to fill before its next
 * store call) and the given expiry (unix ms, 0 = none). Journals a SET unless
 * val is NULL (then the caller fills the value and calls store_changed).
 * Returns the new entry. */
struct entry *store_set(struct store *s, struct slice key, const void *val,
                        size_t vlen, int64_t expire_at_ms);

/* Change the value length of e to vlen, keeping the first min(old, vlen)
 * bytes (new bytes are zero). e may move: use the returned entry. Does not
 * journal: fill the value, then call store_changed. */
struct entry *store_resize(struct store *s, struct entry *e, size_t vlen);

void store_string_set_form(struct entry *e, enum string_form f);
enum string_form store_string_form(const struct entry *e);

/* The caller changed e's value in place: journal it (a SET of the whole new
 * value with its expiry) and update the memory count. For a collection, the
 * record carries the object (a row journaled as itself, the usual case for
 * collection commands, holds it back and ships the command instead). */
void store_changed(struct store *s, struct entry *e);

/* How long since e was last used, in ticks of the store's LRU clock (which
 * counts accesses, not time: see store.c), as eviction ranks it. */
uint32_t store_entry_lru_age(const struct store *s, const struct entry *e);
/* The tick of the store's LRU clock e was last used at. */
uint32_t store_entry_lru(const struct entry *e);

/* Access tracking, as Redis's: each entry has 24 bits that are either its
 * LRU clock tick (the default) or, while an LFU policy is on
 * (store_set_lfu, which the shard calls every tick from the config), a
 * logarithmic access counter with the minute it last decayed (Redis's
 * LFU, its default lfu-log-factor 10 and lfu-decay-time 1). Switching
 * does not convert: as in Redis, the values take some time to adjust.
 * Under LFU the LFU policies evict the least used keys first. From the
 * first call on, the store also keeps its LRU clock's history (16 KB) for
 * store_entry_idle_ms; a store never told (a command's scratch store) has
 * none, and answers 0. */
void store_set_lfu(struct store *s, bool on);
bool store_lfu(const struct store *s);
/* OBJECT IDLETIME: how long since e was used, in ms of the store's latest
 * time, from its tick: the store notes its clock once a second it moves
 * (1024 seconds back) and once a minute (1024 minutes back), so the
 * figure is good to about a second (or a minute past 17 minutes of
 * activity, and a bound past that). Meaningful under LRU only. */
int64_t store_entry_idle_ms(const struct store *s, const struct entry *e);
/* OBJECT FREQ: e's access counter, decayed to now. Under LFU only. */
unsigned store_entry_freq(const struct store *s, const struct entry *e);
/* RESTORE's IDLETIME (ms; under LRU) and FREQ (under LFU): e's access
 * bits as if it had been used that long ago / that often; each does
 * nothing under the other kind, as in Redis. */
void store_entry_set_idle(struct store *s, struct entry *e, int64_t idle_ms);
void store_entry_set_freq(struct store *s, struct entry *e, unsigned freq);
/* ---- collections ----
 * Create or replace key with a collection of type t whose object is obj
 * (allocated from this store: store_alloc), expiring at expire_at_ms (0 =
 * never); the store owns obj from now on. Journals a SET carrying the
 * object. */
struct entry *store_set_object(struct store *s, struct slice key, enum value_type t, void *obj,
                               int64_t expire_at_ms);
/* The caller changed e's collection, which may have moved to obj (a
 * compact encoding is reallocated as it grows): e holds obj from now on;
 * journaled as store_changed. */
void store_object_changed(struct store *s, struct entry *e, void *obj);
/* e's collection holds the same elements in another encoding, obj: no
 * key changed, so nothing is journaled (SORT turning a listpack sorted
 * set into a skiplist, as Redis's does). */
void store_object_reencoded(struct store *s, struct entry *e, void *obj);
/* Take e's object away from it (RENAME moves it to another key): e keeps
 * no value, and must be deleted by the caller before the next lookup. */
void *store_take_object(struct store *s, struct entry *e);

/* Elements of a collection object (fields of a hash, members of a set). */
size_t store_object_len(enum value_type t, const void *obj);
/* Free a collection object of type t that no entry holds (one built and
 * left empty), at once. */
void store_object_destroy(struct store *s, enum value_type t, void *obj);
/* The same for a big one (a collection staged aside and dropped): freed as
 * a deleted key's value is, a big one in slices over later turns
 * (store_lazy_free_step), so dropping it stalls nothing. */
void store_object_release(struct store *s, enum value_type t, void *obj);

/* The allocator of collection objects: counted in store_used_memory. */
void *store_alloc(struct store *s, size_t n);
/* n zeroed bytes for a big array (a collection's bucket array): past a
 * megabyte straight from the kernel, whose pages cost nothing until touched,
 * where an allocator's calloc would zero them all at once (tens of ms for
 * a few tens of MB, in the one command that makes the table grow). Free
 * with store_free_zeroed and the same n. */
void *store_alloc_zeroed(struct store *s, size_t n);
void  store_free_zeroed(struct store *s, void *p, size_t n);
void *store_realloc(struct store *s, void *p, size_t n);
void  store_free(struct store *s, void *p);
/* The bytes an allocation of store_alloc/store_realloc takes (what the
 * allocator sized it to, as store_used_memory counts it). */
size_t store_alloc_size(const void *p);

/* A flat copy of a collection object for moving it to another store of this
 * process (cross-shard commands): its type's encoding (hash_encode). */
void store_object_encode(enum value_type t, const void *obj, struct buf *out);
/* Build an object of type t from store_value_encode's bytes, allocated in s,
 * or NULL if they are not such a form. */
void *store_object_decode(struct store *s, enum value_type t, const char *p, size_t n);

/* Remove key; returns true if it existed (journals a DEL then). A key whose
 * expiry has passed (by the latest now_ms the store was given) is removed
 * too, but counts as not existing, as in Redis's DEL. */
bool store_delete(struct store *s, struct slice key);
/* store_delete of the key of e, an entry store_peek or store_find gave
 * with no other store call since: the same, without looking it up again. */
bool store_delete_entry(struct store *s, struct entry *e);

/* Set (at_ms > 0) or remove (at_ms == 0) e's expiry; journals EXPIRE/PERSIST.
 * An at_ms in the past deletes the key (journals DEL) and returns false.
 * Giving an expiry to a key that never had one moves its entry: look the key
 * up again (store_peek) to use it afterwards; until the next store call the
 * old e still reads the same key and value. */
bool store_set_expire(struct store *s, struct entry *e, int64_t at_ms, int64_t now_ms);

/* Replace the journal hook given at creation (NULL: nothing journaled),
 * for filling a store that no one has seen yet (loading dump.rdb at
 * start: nothing to replicate, to invalidate or to notify). */
void store_set_journal(struct store *s, journal_hook *hook, void *hook_arg);

/* Remove every key; journals one FLUSH. */
void store_flush(struct store *s);

size_t store_count(const struct store *s);

/* Room for n more keys without the table growing while they come (a slot
 * move's target: the growths of a table filled from nothing, each moving
 * every key there, were 5-8% of the move's CPU). Grows the table now, to
 * the size those keys would have grown it to, the keys already there
 * moving bucket by bucket as in any growth (incremental: no stall), and
 * keeps it from shrinking until the store holds that many keys (or
 * store_flush, or a minute after the last reservation by the clock the
 * store's calls give it: a move given up); of two reservations not filled, the bigger one stands
 * (the admin tool's for a whole move, a push's for its part: they are the
 * same keys). While a growth or shrink
 * is under way: false, and the table grows to the room reserved the
 * moment that one ends (the keys there, few if the store was filling
 * from nothing, moving once more). The caller bounds n: 8 to 16 bytes a
 * key reserved. */
bool store_reserve(struct store *s, size_t n);
/* The buckets of the table keys go to (the new one while rehashing). */
size_t store_buckets(const struct store *s);
const struct store_stats *store_get_stats(const struct store *s);
void store_reset_stats(struct store *s);

/* Memory held by keys, values, entry headers and the table itself, and in
 * cluster mode the keys' part of the index by slot, in bytes. */
size_t store_used_memory(const struct store *s);

/* Memory one entry takes (MEMORY USAGE): its allocation (header, key and
 * value, as the allocator sized it), its bucket pointer, and with an
 * expiry its slot in the index of keys with one; a collection adds its
 * object's (store_object_memory, samples as there). */
size_t store_entry_memory(const struct entry *e, size_t samples);
/* The bytes a collection object takes in its encoding: a compact one its
 * allocation exactly; a table or a chain its fixed parts (header, bucket
 * arrays) exactly and its per-element allocations as the average of the
 * first `samples` of them (0: all, O(n)) times their number, as Redis's
 * MEMORY USAGE samples. */
size_t store_object_memory(enum value_type t, const void *obj, size_t samples);

/* Whether a collection object is too big to be handled in one piece (in
 * one turn of a shard's loop; a stream never is: it has no parts form and
 * moves whole): more than max_elements elements, or more
 * than max_bytes bytes by store_object_memory sampling a few elements (a
 * few huge elements weigh as much as millions of small ones). The
 * sampling walks at most the buckets of max_elements elements: no more
 * than a small collection's own cost. */
bool store_object_over(enum value_type t, const void *obj, size_t max_elements, size_t max_bytes);

/* SCAN over this store with Redis's guarantees: a key present for the whole
 * scan is returned at least once, even while the table grows or shrinks.
 * Calls fn for each live entry of the next few buckets (about `count` keys)
 * and returns the next cursor (0 = scan complete). */
typedef void store_scan_fn(void *arg, struct entry *e);
uint64_t store_scan(struct store *s, uint64_t cursor, size_t count, int64_t now_ms,
                    store_scan_fn *fn, void *arg);

/* A random live key, or NULL if the store is empty. */
struct entry *store_random(struct store *s, int64_t now_ms);

/* Keys by cluster slot (cluster mode; shards/store/slot_index.h): from
 * store_index_slots on (which indexes the keys already there, O(keys)),
 * the store keeps the hashes of each slot's keys as keys come and go.
 * store_slot_count: the slot's keys, O(1) (keys past their time that are
 * not removed yet included, as Redis counts them); store_slot_keys: fn for
 * up to max live keys of the slot, O(keys of the slot), returns how many.
 * A store without the index (standalone) counts 0 and lists none. */
void store_index_slots(struct store *s);
bool store_slots_indexed(const struct store *s);
size_t store_slot_count(const struct store *s, unsigned slot);
size_t store_slot_keys(struct store *s, unsigned slot, size_t max, int64_t now_ms, store_scan_fn *fn, void *arg);
/* store_slot_keys leaving out the keys whose hash (store_key_hash; 0 given
 * as 1) skip(arg, hash) is true for, asked before they are looked up
 * (maybe twice for a key: again just before its lookup, after fn has seen
 * the keys before it). fn must not change the store. */
typedef bool store_skip_fn(void *arg, uint64_t hash);
size_t store_slot_keys_except(struct store *s, unsigned slot, size_t max, int64_t now_ms, store_skip_fn *skip,
                              store_scan_fn *fn, void *arg);
/* Bytes the index holds (0 without one). */
size_t store_slot_index_memory(const struct store *s);

/* Evict keys by policy until used memory is at most limit bytes (0: no
 * limit), for at most budget_ns of the monotonic clock (0: no budget).
 * Before evicting more keys it finishes freeing what is already going (big
 * collections freed in slices, the old table of a shrink), so a table
 * bigger than the limit shrinks instead of taking every key with it.
 *  - EVICT_DONE: under the limit;
 *  - EVICT_RUNNING: still over, the budget ran out while freeing (or a
 *    collection is still being freed): call again later (Redis's
 *    "evicting in the background"); a write may go ahead;
 *  - EVICT_FAILED: still over and the policy has nothing (more) to take
 *    (noeviction, volatile-* without volatile keys, an empty store): the
 *    caller answers -OOM. */
enum evict_result { EVICT_DONE, EVICT_RUNNING, EVICT_FAILED };
enum evict_result store_evict(struct store *s, size_t limit, enum evict_policy policy, int64_t now_ms,
                              uint64_t budget_ns);
/* store_evict without a budget; false only for EVICT_FAILED. */
bool store_make_room(struct store *s, size_t limit, enum evict_policy policy, int64_t now_ms);

/* Active expiry: sample keys with an expiry and delete those whose time has
 * passed, for at most budget_us microseconds. Returns keys removed. */
size_t store_expire_cycle(struct store *s, int64_t now_ms, int64_t budget_us);

/* Passive mode, for a replica: keys whose time has passed read as missing
 * (store_find, store_peek, store_random) but are not deleted, and
 * store_expire_cycle does nothing: the master's DEL removes them. */
void store_set_passive(struct store *s, bool passive);

/* A hold on the deletions the store makes by itself, for a write pause
 * (CLIENT PAUSE, FAILOVER: the replication offset must stand still): while
 * held(arg, now_ms) answers true the store acts as passive (keys past their
 * time read as missing and stay; store_expire_cycle does nothing) and
 * store_make_room evicts nothing (and answers true). held may be NULL. */
typedef bool store_hold_fn(void *arg, int64_t now_ms);
void store_set_hold(struct store *s, store_hold_fn *held, void *arg);

/* Do a small step of any incremental rehash in progress, and of the freeing
 * of big collections deleted (called from the shard's idle time so both
 * finish even without traffic). */
void store_rehash_step(struct store *s);

/* Collections deleted and not yet entirely freed (their memory still
 * counts until they are). */
size_t store_lazy_pending(const struct store *s);
/* Free one slice (a few thousand allocations) of those collections; true if
 * some are still left. The shard calls it every loop turn while it answers
 * true, so a big collection is gone within a few ms of turns. */
bool store_lazy_free_step(struct store *s);

#endif
