/* store: one shard's keyspace (see store.h for the contract).
 *
 * Table: chained hashing over power-of-two bucket arrays, keyed by XXH3 of
 * the whole key, seeded per process (key_hash). Growth and shrinking rehash incrementally, as Redis's dict
 * does: while a rehash runs there are two tables, new entries go to the new
 * one, and every operation (plus store_rehash_step from idle time) moves a
 * few buckets. No entry stores its full hash; a rehash recomputes it.
 *
 * Entry: one allocation, laid out as
 *
 *   link  (8)  next entry in the bucket chain (low 48 bits) and the top 16
 *              bits of this entry's own hash (the tag compared before the key)
 *   meta  (4)  LRU clock (24 bits) | flags (8 bits)
 *   lens  (4)  short form: key length (8 bits) | value length (24 bits);
 *              long form (F_LONG): the key length
 *   [expiry field, F_EXPF]  int64 expire_at (0 = none) + uint32 index of the
 *              entry in the volatile array
 *   [uint32 value length, F_LONG]
 *   key bytes, value bytes
 *
 * A 16-byte key with a 64-byte value is 96 bytes: exactly one mimalloc size
 * class, which is what keeps memory per key near 105 bytes with the table.
 * The expiry field is only there for keys that have (or had) an expiry; adding
 * it to a key without one moves the entry (store_set_expire).
 *
 * Split strings (F_SPLIT): where mimalloc's size classes would waste a good
 * part of one block (above 1 KB they go in quarter-power-of-two steps, so a
 * 1000-byte value with its key and header, 1032 B, takes a 1280-byte block
 * while Redis's sds of the value alone fits 1024), the value goes in a block
 * of its own and the entry's value bytes hold its address instead
 * (split_pays decides at each SET: whichever layout mimalloc makes smaller
 * by a sixteenth, for values of SPLIT_MIN bytes and up, so small strings
 * keep their one allocation and one cache miss). The value length stays in
 * lens; entry_value returns the block; the block counts in mem_entries and
 * goes with the key. store_set chooses the layout, and so does
 * store_resize (APPEND, SETRANGE, INCR) when the value no longer fits its
 * block and the entry moves; a split value that grows stays split (its
 * block grows), and one that shrinks keeps its block.
 *
 * Types: 3 bits of the flags say the value's type. A string's value is the
 * entry's value bytes; a collection's value bytes are a pointer to its object
 * (hash.h), allocated through store_alloc so that mem_objects counts it.
 * Deleting a key (a command, expiry, eviction, FLUSH) frees its object at
 * once when small; a big one goes on the lazy list and is freed a slice at a
 * time (lazy_step: on later writes and in store_rehash_step), so no single
 * call stalls the shard; its memory counts until it is gone.
 *
 * LRU: a per-store logical clock that ticks once every (1 + count/4096)
 * accesses, so ages are comparable whatever the request rate; eviction
 * samples keys into a pool of the best candidates (largest idle time or
 * soonest expiry) kept across calls, as Redis does.
 *
 * Volatile keys (expiry set) are also kept in a dense array, so active expiry
 * and the volatile-* policies sample them uniformly in O(1). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shards/store/store.h"
#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/set.h"
#include "shards/store/stream.h"
#include "shards/store/zset.h"
#include "core/clock.h"
#include "shards/store/slot.h"
#include "shards/store/slot_index.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <mimalloc.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

/* ---- entry layout ---- */

struct entry {
    uint64_t link;
    uint32_t meta;
    uint32_t lens;
    char     data[];
};

#define LINK_PTR_MASK  ((UINT64_C(1) << 48) - 1)
#define TAG_SHIFT      48

#define F_LONG         0x01u  /* lengths in long form */
#define F_EXPF         0x02u  /* expiry field present */
#define F_TYPE_SHIFT   2      /* 3 bits of value type */
#define F_TYPE_MASK    0x1cu
#define F_SPLIT        0x20u  /* a string's value in a block of its own (see the top) */
#define F_RAW          0x40u  /* a string changed in place: OBJECT ENCODING "raw" */
#define F_TEXT         0x80u  /* a string never "int" (INCRBYFLOAT's result) */
#define META_FLAGS     0xffu
#define LRU_BITS       24
#define LRU_MASK       ((1u << LRU_BITS) - 1)

#define SHORT_KLEN_MAX 255u
#define SHORT_VLEN_MAX ((1u << 24) - 1)

#define EXPF_SIZE      12  /* int64 expire_at + uint32 volatile index */
#define SPLIT_MIN      512 /* smaller strings stay in the entry's block */

static inline unsigned entry_flags(const struct entry *e) { return e->meta & META_FLAGS; }
static inline uint32_t entry_lru(const struct entry *e) { return e->meta >> 8; }
static inline void entry_set_lru(struct entry *e, uint32_t clock)
{
    e->meta = (clock << 8) | (e->meta & META_FLAGS);
}
static inline struct entry *entry_next(const struct entry *e)
{
    return (struct entry *)(uintptr_t)(e->link & LINK_PTR_MASK);
}
static inline void entry_set_next(struct entry *e, struct entry *next)
{
    e->link = (e->link & ~LINK_PTR_MASK) | (uint64_t)(uintptr_t)next;
}
static inline uint16_t hash_tag(uint64_t h) { return (uint16_t)(h >> TAG_SHIFT); }
static inline uint16_t entry_tag(const struct entry *e) { return (uint16_t)(e->link >> TAG_SHIFT); }

static inline size_t prefix_size(unsigned flags)
{
    return (size_t)(((flags & F_EXPF) ? EXPF_SIZE : 0) + ((flags & F_LONG) ? 4 : 0));
}

static inline bool needs_long(size_t klen, size_t vlen)
{
    return klen > SHORT_KLEN_MAX || vlen > SHORT_VLEN_MAX;
}

static inline size_t entry_alloc_size(size_t klen, size_t vlen, unsigned flags)
{
    return sizeof(struct entry) + prefix_size(flags) + klen + vlen;
}

size_t entry_key_len(const struct entry *e)
{
    if (entry_flags(e) & F_LONG)
        return e->lens;
    return e->lens >> 24;
}

size_t entry_value_len(const struct entry *e)
{
    if (entry_flags(e) & F_LONG) {
        uint32_t v;
        memcpy(&v, e->data + ((entry_flags(e) & F_EXPF) ? EXPF_SIZE : 0), 4);
        return v;
    }
    return e->lens & SHORT_VLEN_MAX;
}

static void entry_set_lens(struct entry *e, size_t klen, size_t vlen)
{
    if (entry_flags(e) & F_LONG) {
        uint32_t v = (uint32_t)vlen;
        e->lens = (uint32_t)klen;
        memcpy(e->data + ((entry_flags(e) & F_EXPF) ? EXPF_SIZE : 0), &v, 4);
    } else {
        e->lens = ((uint32_t)klen << 24) | (uint32_t)vlen;
    }
}

const char *entry_key(const struct entry *e)
{
    return e->data + prefix_size(entry_flags(e));
}

/* The value bytes inside e's own block: the value itself, or (F_SPLIT)
 * the address of the block holding it. */
static inline char *entry_held(const struct entry *e)
{
    return (char *)e->data + prefix_size(entry_flags(e)) + entry_key_len(e);
}

/* How many of the value bytes e's own block holds. */
static inline size_t entry_held_len(const struct entry *e)
{
    return (entry_flags(e) & F_SPLIT) ? sizeof(char *) : entry_value_len(e);
}

static inline char *split_block(const struct entry *e)
{
    char *v;
    memcpy(&v, entry_held(e), sizeof v);
    return v;
}

static inline void split_set_block(struct entry *e, char *v)
{
    memcpy(entry_held(e), &v, sizeof v);
}

char *entry_value(struct entry *e)
{
    return (entry_flags(e) & F_SPLIT) ? split_block(e) : entry_held(e);
}

enum value_type entry_type(const struct entry *e)
{
    return (enum value_type)((entry_flags(e) & F_TYPE_MASK) >> F_TYPE_SHIFT);
}

int64_t entry_expire_at(const struct entry *e)
{
    if (!(entry_flags(e) & F_EXPF))
        return 0;
    int64_t at;
    memcpy(&at, e->data, 8);
    return at;
}

void *entry_object(const struct entry *e)
{
    if (entry_type(e) == TYPE_STRING)
        return NULL;
    void *obj;
    memcpy(&obj, entry_value((struct entry *)e), sizeof obj);
    return obj;
}

const char *value_type_name(enum value_type t)
{
    switch (t) {
    case TYPE_STRING: return "string";
    case TYPE_LIST:   return "list";
    case TYPE_SET:    return "set";
    case TYPE_ZSET:   return "zset";
    case TYPE_HASH:   return "hash";
    case TYPE_STREAM: return "stream";
    }
    return "none";
}

static inline void entry_store_expire(struct entry *e, int64_t at)
{
    assert(entry_flags(e) & F_EXPF);
    memcpy(e->data, &at, 8);
}

static inline uint32_t entry_vol_index(const struct entry *e)
{
    uint32_t i;
    memcpy(&i, e->data + 8, 4);
    return i;
}

static inline void entry_set_vol_index(struct entry *e, uint32_t i)
{
    memcpy(e->data + 8, &i, 4);
}

static inline bool entry_volatile(const struct entry *e)
{
    return entry_expire_at(e) != 0;
}

/* ---- the store ---- */

#define TABLE_MIN      16
#define POOL_SIZE      16
#define EVICT_SAMPLES  16
#define LRU_TICK_SHIFT 12  /* clock ticks every 1 + count/4096 accesses */

/* The LRU clock's value at a time (unix seconds): a ring of them, one a
 * second (or minute) in which the clock moved, maps an entry's tick to
 * about when it was used (OBJECT IDLETIME). */
#define CLOCK_SAMPLES 1024
struct clock_ring {
    struct clock_sample {
        uint32_t clock;
        uint32_t sec;
    } at[CLOCK_SAMPLES];
    uint32_t next, len;
};

struct clock_history {
    struct clock_ring by_second, by_minute;
};

/* LFU (while the store is told an LFU policy is on: store_set_lfu), the
 * entry's 24 access bits are Redis's: the minute of the last decrement
 * (16 bits) and a logarithmic access counter (8 bits), new keys at 5,
 * with Redis's default lfu-log-factor (10) and lfu-decay-time (1 minute). */
#define LFU_INIT_VAL   5
#define LFU_LOG_FACTOR 10
#define LFU_DECAY_MIN  1

struct pool_slot {
    struct entry *e;
    uint64_t      hash;   /* to find e's bucket when checking it is still live */
    uint64_t      score;  /* larger = better to evict */
};

struct store {
    void         *heap;        /* mi_heap_t *, or NULL for the default heap */
    journal_hook *hook;
    void         *hook_arg;
    int           db;          /* store_set_db: carried by the journal records */
    bool          evicting;    /* a DEL journaled now is an eviction's (journal_record.evicted) */

    struct entry **table[2];   /* table[1] is non-NULL only while rehashing */
    size_t         size[2];    /* buckets, a power of two (0 = no table) */
    size_t         used[2];    /* entries in each table */
    size_t         rehash_idx; /* next bucket of table[0] to move */

    size_t         mem_entries; /* usable size of every entry (and split strings' value blocks) */
    size_t         mem_objects; /* usable size of every collection object's allocations */

    struct lazy_object *lazy;  /* collections deleted, being freed in slices */
    size_t         lazy_len, lazy_cap;

    struct entry **vol;        /* entries with an expiry, in no order */
    size_t         vol_len, vol_cap;

    uint32_t       lru_clock;  /* 24-bit logical clock */
    uint32_t       lru_ops;    /* accesses since the last tick */
    uint64_t       rng;

    struct pool_slot pool[POOL_SIZE]; /* ascending score */
    int              pool_len;
    enum evict_policy pool_policy;

    int64_t        last_now_ms; /* latest now_ms any call was given: lets
                                   store_delete, which has no clock, tell an
                                   expired key from a live one */
    struct entry  *graveyard;  /* the old copy of an entry moved by set_expire,
                                  freed at the next store call */
    bool           no_touch;   /* store_find leaves the LRU clock of what it finds
                                  (the command's caller said CLIENT NO-TOUCH) */
    bool           lookups_quiet; /* store_find counts no hit or miss (a write
                                     command's lookups: store_lookups_counted) */
    bool           lfu;        /* access bits are LFU counters (store_set_lfu) */
    struct clock_history *history; /* the LRU clock's past, for idle times: kept
                                      from the first store_set_lfu on (a shard's
                                      store; not a command's scratch store) */
    bool           passive;    /* a replica's store: keys past their time
                                  read as missing but stay until the
                                  master's DEL arrives */
    store_hold_fn *hold;       /* store_set_hold: no deletions of our own while it says so */
    void          *hold_arg;
    struct store_stats stats;
    struct slot_index *slots;  /* cluster mode: the keys by slot (store_index_slots), else NULL */
    size_t         reserved;   /* store_reserve: no shrink until this many keys are here (0: none) */
    int64_t        reserved_at_ms; /* last_now_ms when it was made */
};

struct lazy_object {
    enum value_type type;
    void           *obj;
};

static inline bool rehashing(const struct store *s) { return s->table[1] != NULL; }

/* Cheap structural invariants, checked where the table changes shape. */
static inline void check_invariants(const struct store *s)
{
    assert(s->size[0] == 0 || (s->size[0] & (s->size[0] - 1)) == 0);
    assert(s->size[1] == 0 || (s->size[1] & (s->size[1] - 1)) == 0);
    assert(rehashing(s) == (s->size[1] != 0));
    assert(!rehashing(s) ? s->rehash_idx == 0 : s->rehash_idx <= s->size[0]);
    assert(s->vol_len <= s->used[0] + s->used[1]);
    assert(s->vol_len <= s->vol_cap);
    assert(s->pool_len >= 0 && s->pool_len <= POOL_SIZE);
    (void)s;
}

static inline size_t store_count_(const struct store *s) { return s->used[0] + s->used[1]; }

static uint64_t rng_next(struct store *s)
{
    /* xorshift64* */
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * UINT64_C(2685821657736338717);
}

/* The table's hash is seeded with a secret drawn once per process
 * (hash_seed_init, at the first store_create), so that keys cannot be
 * crafted offline to fall into one chain (hash flooding). Every store of a
 * process shares it; nothing outside the process sees a bucket order. */
static uint64_t hash_seed;
static pthread_once_t hash_seed_once = PTHREAD_ONCE_INIT;

static void hash_seed_init(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        /* no entropy source: still not guessable from outside */
        seed = clock_mono_ns() * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)clock_unix_us() ^
               (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&seed;
    }
    hash_seed = seed;
}

static inline uint64_t key_hash(const char *k, size_t len)
{
    return XXH3_64bits_withSeed(k, len, hash_seed);
}

static inline uint64_t entry_hash(const struct entry *e)
{
    return key_hash(entry_key(e), entry_key_len(e));
}

static void *mem_alloc(struct store *s, size_t n)
{
    void *p = s->heap ? mi_heap_malloc((mi_heap_t *)s->heap, n) : mi_malloc(n);
    if (!p)
        abort();
    return p;
}

static void *mem_calloc(struct store *s, size_t n, size_t sz)
{
    void *p = s->heap ? mi_heap_calloc((mi_heap_t *)s->heap, n, sz) : mi_calloc(n, sz);
    if (!p)
        abort();
    return p;
}

static void *mem_realloc(struct store *s, void *old, size_t n)
{
    void *p = s->heap ? mi_heap_realloc((mi_heap_t *)s->heap, old, n) : mi_realloc(old, n);
    if (!p)
        abort();
    return p;
}

static struct entry *entry_alloc(struct store *s, size_t n)
{
    struct entry *e = mem_alloc(s, n);
    /* The chain link keeps 48 bits of pointer; user-space addresses on
     * x86-64 and aarch64 (4-level paging) fit. */
    if (((uint64_t)(uintptr_t)e & ~LINK_PTR_MASK) != 0)
        abort();
    s->mem_entries += mi_usable_size(e);
    return e;
}

static void entry_free(struct store *s, struct entry *e)
{
    s->mem_entries -= mi_usable_size(e);
    mi_free(e);
}

/* A split string's value block (F_SPLIT): counted with the entries. */
static char *split_alloc(struct store *s, size_t n)
{
    char *v = mem_alloc(s, n ? n : 1);
    s->mem_entries += mi_usable_size(v);
    return v;
}

/* Free e's value block; e is left a plain entry whose value bytes are
 * undefined (the caller gives it new ones or frees it). */
static void split_free(struct store *s, struct entry *e)
{
    char *v = split_block(e);
    s->mem_entries -= mi_usable_size(v);
    mi_free(v);
    e->meta &= ~F_SPLIT;
}

/* Whether a string of vlen bytes under a klen-byte key takes less memory
 * split (an entry holding an address, and the value alone) than in one
 * block, by at least a sixteenth: mimalloc's size classes decide. Returns
 * the size of the value's block if so, else 0. */
static size_t split_pays(size_t klen, size_t vlen, unsigned flags)
{
    if (vlen < SPLIT_MIN)
        return 0;
    size_t one = entry_alloc_size(klen, vlen, flags), whole = mi_good_size(one);
    /* a split takes more than one block's bytes (the address, a second
     * header): one block wasting less than a sixteenth cannot lose */
    if ((whole - one) * 16 < whole)
        return 0;
    size_t value = mi_good_size(vlen);
    size_t split = mi_good_size(entry_alloc_size(klen, sizeof(char *), flags)) + value;
    return split + whole / 16 <= whole ? value : 0;
}

static void bury_graveyard(struct store *s)
{
    if (s->graveyard) {
        mi_free(s->graveyard);
        s->graveyard = NULL;
    }
}

/* ---- collection objects ---- */

void *store_alloc(struct store *s, size_t n)
{
    void *p = mem_alloc(s, n ? n : 1);
    s->mem_objects += mi_usable_size(p);
    return p;
}

#define ZEROED_MMAP_MIN (1u << 20)

void *store_alloc_zeroed(struct store *s, size_t n)
{
    if (n < ZEROED_MMAP_MIN) {
        void *p = mem_calloc(s, n ? n : 1, 1);
        s->mem_objects += mi_usable_size(p);
        return p;
    }
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        abort();
    s->mem_objects += n;
    return p;
}

void store_free_zeroed(struct store *s, void *p, size_t n)
{
    if (!p)
        return;
    if (n < ZEROED_MMAP_MIN) {
        store_free(s, p);
        return;
    }
    munmap(p, n);
    s->mem_objects -= n;
}

void *store_realloc(struct store *s, void *p, size_t n)
{
    size_t was = p ? mi_usable_size(p) : 0;
    p = mem_realloc(s, p, n ? n : 1);
    s->mem_objects += mi_usable_size(p) - was;
    return p;
}

size_t store_alloc_size(const void *p)
{
    return p ? mi_usable_size(p) : 0;
}

void store_free(struct store *s, void *p)
{
    if (!p)
        return;
    s->mem_objects -= mi_usable_size(p);
    mi_free(p);
}

/* A collection past this many elements is freed in slices. */
#define LAZY_FREE_MIN   1024
/* Allocations freed per slice: on a write, and in idle time. */
#define LAZY_STEP_WRITE 1024
#define LAZY_STEP_IDLE  16384

size_t store_object_len(enum value_type t, const void *obj)
{
    switch (t) {
    case TYPE_HASH: return hash_len(obj);
    case TYPE_SET:  return set_len(obj);
    case TYPE_ZSET: return zset_len(obj);
    case TYPE_LIST: return list_len(obj);
    case TYPE_STREAM: return stream_len(obj);
    default:        return 0;
    }
}

void store_object_destroy(struct store *s, enum value_type t, void *obj)
{
    switch (t) {
    case TYPE_HASH: hash_destroy(s, obj); break;
    case TYPE_SET:  set_destroy(s, obj); break;
    case TYPE_ZSET: zset_destroy(s, obj); break;
    case TYPE_LIST: list_destroy(s, obj); break;
    case TYPE_STREAM: stream_destroy(s, obj); break;
    default:        break;
    }
}

static void object_release(struct store *s, enum value_type t, void *obj, bool may_defer);

void store_object_release(struct store *s, enum value_type t, void *obj)
{
    object_release(s, t, obj, true);
}

/* Free up to *budget allocations of obj; true when it is all gone. */
static bool object_free_step(struct store *s, enum value_type t, void *obj, size_t *budget)
{
    switch (t) {
    case TYPE_HASH:
        return hash_free_step(s, obj, budget);
    case TYPE_SET:
        return set_free_step(s, obj, budget);
    case TYPE_ZSET:
        return zset_free_step(s, obj, budget);
    case TYPE_LIST:
        return list_free_step(s, obj, budget);
    case TYPE_STREAM:
        return stream_free_step(s, obj, budget);
    default:
        return true;
    }
}

static void object_release(struct store *s, enum value_type t, void *obj, bool may_defer)
{
    if (!obj)
        return;
    if (may_defer && store_object_len(t, obj) > LAZY_FREE_MIN) {
        if (s->lazy_len == s->lazy_cap) {
            s->lazy_cap = s->lazy_cap ? s->lazy_cap * 2 : 8;
            s->lazy = mem_realloc(s, s->lazy, s->lazy_cap * sizeof *s->lazy);
        }
        s->lazy[s->lazy_len++] = (struct lazy_object){ t, obj };
        return;
    }
    size_t all = SIZE_MAX;
    object_free_step(s, t, obj, &all);
}

/* Free about budget allocations of the collections waiting on the lazy list. */
static void lazy_step(struct store *s, size_t budget)
{
    while (s->lazy_len > 0 && budget > 0) {
        struct lazy_object *o = &s->lazy[s->lazy_len - 1];
        if (!object_free_step(s, o->type, o->obj, &budget))
            return;
        s->lazy_len--;
    }
    if (s->lazy_len == 0 && s->lazy) {
        mi_free(s->lazy);
        s->lazy = NULL;
        s->lazy_cap = 0;
    }
}

size_t store_lazy_pending(const struct store *s) { return s->lazy_len; }

bool store_lazy_free_step(struct store *s)
{
    if (s->lazy_len)
        lazy_step(s, LAZY_STEP_IDLE);
    return s->lazy_len > 0;
}

/* e's value goes away (the key is deleted or gets a new value). */
static inline void entry_release_value(struct store *s, struct entry *e)
{
    if (entry_type(e) != TYPE_STRING)
        object_release(s, entry_type(e), entry_object(e), true);
    else if (entry_flags(e) & F_SPLIT)
        split_free(s, e);
}

/* The clock took a new value: note it once a second (and a minute). */
static void clock_ring_note(struct clock_ring *r, uint32_t clock, uint32_t sec, uint32_t step)
{
    if (r->len && r->at[(r->next + CLOCK_SAMPLES - 1) % CLOCK_SAMPLES].sec / step == sec / step)
        return;
    r->at[r->next] = (struct clock_sample){ clock, sec };
    r->next = (r->next + 1) % CLOCK_SAMPLES;
    if (r->len < CLOCK_SAMPLES)
        r->len++;
}

/* The newest time at which the clock was at most tick (age: how far back
 * tick is from the clock now); false if the ring does not reach it (then
 * *sec is its oldest time, a bound). */
static bool clock_ring_find(const struct clock_ring *r, uint32_t clock, uint32_t age, uint32_t *sec)
{
    for (uint32_t i = 1; i <= r->len; i++) {
        const struct clock_sample *c = &r->at[(r->next + CLOCK_SAMPLES - i) % CLOCK_SAMPLES];
        *sec = c->sec;
        if (((clock - c->clock) & LRU_MASK) >= age)
            return true;
    }
    return false;
}

static inline uint32_t lfu_minutes(const struct store *s) { return (uint32_t)(s->last_now_ms / 60000) & 0xffff; }

/* e's counter as decayed by the minutes since its last decrement. */
static uint32_t lfu_decayed(const struct store *s, const struct entry *e)
{
    uint32_t bits = entry_lru(e), counter = bits & 0xff, last = bits >> 8, now = lfu_minutes(s);
    uint32_t elapsed = now >= last ? now - last : 65535 - last + now;
    uint32_t periods = elapsed / LFU_DECAY_MIN;
    return periods > counter ? 0 : counter - periods;
}

static void lfu_touch(struct store *s, struct entry *e)
{
    uint32_t counter;
    if (entry_lru(e) == 0) { /* new (or never touched in LFU) */
        counter = LFU_INIT_VAL;
    } else {
        /* Redis's LFULogIncr: the likelier the fewer accesses it has */
        counter = lfu_decayed(s, e);
        double r = (double)(rng_next(s) >> 11) * 0x1.0p-53;
        uint32_t base = counter > LFU_INIT_VAL ? counter - LFU_INIT_VAL : 0;
        if (counter < 255 && r < 1.0 / (base * LFU_LOG_FACTOR + 1))
            counter++;
    }
    entry_set_lru(e, (lfu_minutes(s) << 8) | counter);
}

static inline void lru_touch(struct store *s, struct entry *e)
{
    if (s->lfu) {
        lfu_touch(s, e);
        return;
    }
    if (++s->lru_ops > (store_count_(s) >> LRU_TICK_SHIFT)) {
        s->lru_ops = 0;
        s->lru_clock = (s->lru_clock + 1) & LRU_MASK;
        if (s->history) {
            uint32_t sec = (uint32_t)(s->last_now_ms / 1000);
            clock_ring_note(&s->history->by_second, s->lru_clock, sec, 1);
            clock_ring_note(&s->history->by_minute, s->lru_clock, sec, 60);
        }
    }
    entry_set_lru(e, s->lru_clock);
}

static inline void journal(struct store *s, enum journal_op op, const struct entry *e,
                           bool with_value, int64_t at)
{
    if (!s->hook)
        return;
    struct journal_record rec = { .op = op, .db = s->db };
    if (e) {
        rec.key = (struct slice){ entry_key(e), entry_key_len(e) };
        rec.type = entry_type(e);
        if (with_value && rec.type != TYPE_STRING)
            rec.object = entry_object(e);
        else if (with_value)
            rec.value = (struct slice){ entry_value((struct entry *)e), entry_value_len(e) };
        if (rec.type == TYPE_STRING)
            rec.form = store_string_form(e);
    }
    rec.expire_at_ms = at;
    s->hook(s->hook_arg, &rec);
}

static inline void journal_del(struct store *s, const struct entry *e, bool by_store)
{
    if (!s->hook)
        return;
    struct journal_record rec = { .op = JOURNAL_DEL, .by_store = by_store, .evicted = s->evicting, .db = s->db };
    rec.key = (struct slice){ entry_key(e), entry_key_len(e) };
    s->hook(s->hook_arg, &rec);
}

/* ---- volatile array ---- */

static void vol_add(struct store *s, struct entry *e)
{
    if (s->vol_len == s->vol_cap) {
        s->vol_cap = s->vol_cap ? s->vol_cap * 2 : 16;
        s->vol = mem_realloc(s, s->vol, s->vol_cap * sizeof *s->vol);
    }
    entry_set_vol_index(e, (uint32_t)s->vol_len);
    s->vol[s->vol_len++] = e;
}

static void vol_remove(struct store *s, struct entry *e)
{
    uint32_t i = entry_vol_index(e);
    assert(i < s->vol_len && s->vol[i] == e);
    struct entry *last = s->vol[--s->vol_len];
    if (last != e) {
        s->vol[i] = last;
        entry_set_vol_index(last, i);
    }
    if (s->vol_len == 0) {
        mi_free(s->vol);
        s->vol = NULL;
        s->vol_cap = 0;
    } else if (s->vol_cap > 64 && s->vol_len * 8 < s->vol_cap) {
        s->vol_cap /= 2;
        s->vol = mem_realloc(s, s->vol, s->vol_cap * sizeof *s->vol);
    }
}

/* ---- table and incremental rehash ---- */

static void grow_to_reserved(struct store *s);

static void rehash_buckets(struct store *s, size_t n)
{
    size_t empty_visits = n * 10;
    while (n-- && s->used[0] != 0) {
        assert(s->rehash_idx < s->size[0]);
        while (s->table[0][s->rehash_idx] == NULL) {
            s->rehash_idx++;
            if (--empty_visits == 0)
                return;
        }
        struct entry *e = s->table[0][s->rehash_idx];
        size_t mask1 = s->size[1] - 1;
        while (e) {
            struct entry *next = entry_next(e);
            size_t b = (size_t)entry_hash(e) & mask1;
            entry_set_next(e, s->table[1][b]);
            s->table[1][b] = e;
            s->used[0]--;
            s->used[1]++;
            e = next;
        }
        s->table[0][s->rehash_idx++] = NULL;
    }
    if (s->used[0] == 0) {
        mi_free(s->table[0]);
        s->table[0] = s->table[1];
        s->size[0] = s->size[1];
        s->used[0] = s->used[1];
        s->table[1] = NULL;
        s->size[1] = 0;
        s->used[1] = 0;
        s->rehash_idx = 0;
        grow_to_reserved(s); /* a store_reserve that came during this rehash */
    }
    check_invariants(s);
}

static void start_rehash(struct store *s, size_t new_size)
{
    assert(!rehashing(s));
    assert((new_size & (new_size - 1)) == 0);
    if (new_size == s->size[0])
        return;
    s->table[1] = mem_calloc(s, new_size, sizeof(struct entry *));
    s->size[1] = new_size;
    s->used[1] = 0;
    s->rehash_idx = 0;
    if (s->used[0] == 0)
        rehash_buckets(s, 0); /* nothing to move: swap at once */
    check_invariants(s);
}

static size_t pow2_at_least(size_t n)
{
    size_t p = TABLE_MIN;
    while (p < n)
        p <<= 1;
    return p;
}

/* Grow when entries reach this many per bucket. 1 keeps chains short (a
 * hit looks at 1.5 entries on average); the table then costs 8 to 16 bytes
 * per key, which with a 96-byte entry keeps a 16/64-byte key/value pair at
 * about 105 bytes. */
#define MAX_LOAD 1

/* Once no rehash is under way: the room a store_reserve asked for while
 * one was, if the keys it is for are still to come. */
static void grow_to_reserved(struct store *s)
{
    if (s->reserved > store_count_(s) && pow2_at_least(s->reserved / MAX_LOAD) > s->size[0])
        start_rehash(s, pow2_at_least(s->reserved / MAX_LOAD));
}

/* Called before an insert: make sure there is a table, grow at MAX_LOAD. */
static void maybe_grow(struct store *s)
{
    if (s->size[0] == 0) {
        s->table[0] = mem_calloc(s, TABLE_MIN, sizeof(struct entry *));
        s->size[0] = TABLE_MIN;
        return;
    }
    if (!rehashing(s) && s->used[0] >= s->size[0] * MAX_LOAD)
        start_rehash(s, s->size[0] * 2);
    if (s->reserved && store_count_(s) + 1 >= s->reserved)
        s->reserved = 0; /* store_reserve's keys came (this one the last) */
}

/* How long a store_reserve's room is kept from shrinking at most, its
 * keys not all come (a move given up): then the usual shrink. */
#define RESERVE_HOLD_MS (60 * 1000)

/* Called after a delete: shrink when fewer than 1 key per 8 buckets. */
static void maybe_shrink(struct store *s)
{
    if (rehashing(s) || s->size[0] <= TABLE_MIN)
        return;
    if (s->reserved) { /* store_reserve's room holds until its keys came, or for RESERVE_HOLD_MS */
        if (store_count_(s) < s->reserved && s->last_now_ms - s->reserved_at_ms < RESERVE_HOLD_MS)
            return;
        s->reserved = 0;
    }
    if (s->used[0] * 8 < s->size[0])
        start_rehash(s, pow2_at_least(s->used[0] * 2));
}

static inline void rehash_tick(struct store *s)
{
    if (rehashing(s))
        rehash_buckets(s, 1);
}

/* The live-or-expired entry of key, or NULL. */
static struct entry *lookup(const struct store *s, const char *k, size_t klen, uint64_t h)
{
    uint16_t tag = hash_tag(h);
    for (int t = 0; t < 2; t++) {
        if (s->size[t] == 0)
            break;
        size_t b = (size_t)h & (s->size[t] - 1);
        if (t == 0 && rehashing(s) && b < s->rehash_idx)
            continue; /* already moved */
        for (struct entry *e = s->table[t][b]; e; e = entry_next(e)) {
            if (entry_tag(e) == tag && entry_key_len(e) == klen &&
                memcmp(entry_key(e), k, klen) == 0) {
                return e;
            }
        }
        if (!rehashing(s))
            break;
    }
    return NULL;
}

/* The chain link is a tagged word, so chains are walked by value; unlink and
 * relink go through this helper that knows the tag layout. */
static bool chain_replace(struct store *s, int t, size_t b, struct entry *e, struct entry *ne,
                          bool remove)
{
    struct entry *prev = NULL;
    for (struct entry *cur = s->table[t][b]; cur; prev = cur, cur = entry_next(cur)) {
        if (cur != e)
            continue;
        struct entry *repl = remove ? entry_next(e) : ne;
        if (!remove)
            entry_set_next(ne, entry_next(e));
        if (prev)
            entry_set_next(prev, repl);
        else
            s->table[t][b] = repl;
        return true;
    }
    return false;
}

/* Locate e in the table: returns the table index or -1. */
static int chain_find(const struct store *s, const struct entry *e, uint64_t h)
{
    for (int t = 0; t < 2; t++) {
        if (s->size[t] == 0)
            break;
        for (struct entry *cur = s->table[t][(size_t)h & (s->size[t] - 1)]; cur;
             cur = entry_next(cur))
            if (cur == e)
                return t;
    }
    return -1;
}

static void replace_entry(struct store *s, struct entry *e, struct entry *ne, uint64_t h)
{
    int t = chain_find(s, e, h);
    assert(t >= 0);
    bool ok = chain_replace(s, t, (size_t)h & (s->size[t] - 1), e, ne, false);
    (void)ok;
    assert(ok);
    if (entry_volatile(e)) {
        uint32_t i = entry_vol_index(e);
        assert(s->vol[i] == e);
        s->vol[i] = ne;
        entry_set_vol_index(ne, i);
    }
}

/* Unlink and free e (known live). Journals a DEL first; by_store: the
 * store's own decision (expiry, eviction), not the command's. */
static void remove_entry(struct store *s, struct entry *e, uint64_t h, bool by_store)
{
    int t = chain_find(s, e, h);
    assert(t >= 0);
    journal_del(s, e, by_store);
    chain_replace(s, t, (size_t)h & (s->size[t] - 1), e, NULL, true);
    s->used[t]--;
    if (s->slots)
        slot_index_remove(s->slots, key_slot(entry_key(e), entry_key_len(e)), h);
    if (entry_volatile(e))
        vol_remove(s, e);
    entry_release_value(s, e);
    entry_free(s, e);
    maybe_shrink(s);
    check_invariants(s);
}

static inline void note_now(struct store *s, int64_t now_ms)
{
    if (now_ms > s->last_now_ms)
        s->last_now_ms = now_ms;
}

/* Keys past their time stay (a replica's store, or a write pause). */
static bool keeps_expired(const struct store *s, int64_t now_ms)
{
    return s->passive || (s->hold && s->hold(s->hold_arg, now_ms));
}

static inline bool expired(const struct entry *e, int64_t now_ms)
{
    int64_t at = entry_expire_at(e);
    return at != 0 && at <= now_ms;
}

/* ---- public API ---- */

struct store *store_create(void *heap, journal_hook *hook, void *hook_arg)
{
    pthread_once(&hash_seed_once, hash_seed_init);
    struct store *s = heap ? mi_heap_zalloc((mi_heap_t *)heap, sizeof *s) : mi_zalloc(sizeof *s);
    if (!s)
        abort();
    s->heap = heap;
    s->hook = hook;
    s->hook_arg = hook_arg;
    s->rng = ((uint64_t)(uintptr_t)s ^ (uint64_t)clock_unix_ms()) | 1;
    return s;
}

/* lazy: big collections go on the lazy list (FLUSH) rather than being
 * freed at once (destroy). */
static void free_all_entries(struct store *s, bool lazy)
{
    for (int t = 0; t < 2; t++) {
        for (size_t b = 0; b < s->size[t]; b++) {
            struct entry *e = s->table[t][b];
            while (e) {
                struct entry *next = entry_next(e);
                if (entry_type(e) != TYPE_STRING)
                    object_release(s, entry_type(e), entry_object(e), lazy);
                else if (entry_flags(e) & F_SPLIT)
                    split_free(s, e);
                entry_free(s, e);
                e = next;
            }
        }
        mi_free(s->table[t]);
        s->table[t] = NULL;
        s->size[t] = 0;
        s->used[t] = 0;
    }
    s->rehash_idx = 0;
    s->reserved = 0;
    mi_free(s->vol);
    s->vol = NULL;
    s->vol_len = s->vol_cap = 0;
    s->pool_len = 0;
    if (s->slots)
        slot_index_clear(s->slots);
    assert(s->mem_entries == 0);
}

void store_destroy(struct store *s)
{
    if (!s)
        return;
    bury_graveyard(s);
    free_all_entries(s, false);
    lazy_step(s, SIZE_MAX);
    slot_index_destroy(s->slots);
    mi_free(s->history);
    mi_free(s);
}

uint64_t store_key_hash(struct slice key)
{
    return key_hash(key.ptr, key.len);
}

void store_prefetch_bucket(const struct store *s, uint64_t h)
{
    if (s->size[0])
        __builtin_prefetch(&s->table[0][(size_t)h & (s->size[0] - 1)]);
}

void store_prefetch_entry(const struct store *s, uint64_t h)
{
    if (!s->size[0])
        return;
    const struct entry *e = s->table[0][(size_t)h & (s->size[0] - 1)];
    if (e) {
        __builtin_prefetch(e, 1);
        __builtin_prefetch((const char *)e + 64, 1);
    }
}

static struct entry *find(struct store *s, struct slice key, int64_t now_ms, bool touch)
{
    note_now(s, now_ms);
    bury_graveyard(s);
    rehash_tick(s);
    uint64_t h = key_hash(key.ptr, key.len);
    struct entry *e = lookup(s, key.ptr, key.len, h);
    if (e && expired(e, now_ms)) {
        if (!keeps_expired(s, now_ms)) {
            remove_entry(s, e, h, true);
            s->stats.expired_keys++;
        }
        e = NULL;
    }
    if (!e) {
        s->stats.keyspace_misses += !s->lookups_quiet;
        return NULL;
    }
    s->stats.keyspace_hits += !s->lookups_quiet;
    if (touch && !s->no_touch)
        lru_touch(s, e);
    return e;
}

struct entry *store_find(struct store *s, struct slice key, int64_t now_ms)
{
    return find(s, key, now_ms, true);
}

struct entry *store_find_untouched(struct store *s, struct slice key, int64_t now_ms)
{
    return find(s, key, now_ms, false);
}

void store_set_no_touch(struct store *s, bool on)
{
    s->no_touch = on;
}

bool store_lookups_counted(struct store *s, bool on)
{
    bool was = !s->lookups_quiet;
    s->lookups_quiet = !on;
    return was;
}

void store_count_lookups(struct store *s, uint64_t hits, uint64_t misses)
{
    s->stats.keyspace_hits += hits;
    s->stats.keyspace_misses += misses;
}

void store_touch(struct store *s, struct entry *e)
{
    lru_touch(s, e);
}

struct entry *store_peek(struct store *s, struct slice key, int64_t now_ms)
{
    note_now(s, now_ms);
    uint64_t h = key_hash(key.ptr, key.len);
    struct entry *e = lookup(s, key.ptr, key.len, h);
    if (e && expired(e, now_ms))
        return NULL;
    return e;
}

bool store_peek_expired(struct store *s, struct slice key, int64_t now_ms)
{
    note_now(s, now_ms);
    uint64_t h = key_hash(key.ptr, key.len);
    struct entry *e = lookup(s, key.ptr, key.len, h);
    return e && expired(e, now_ms);
}

/* Fill a fresh entry's header for key/vlen with flags. */
static void entry_init(struct entry *e, uint64_t h, unsigned flags, struct slice key, size_t vlen)
{
    e->link = (uint64_t)hash_tag(h) << TAG_SHIFT;
    e->meta = flags | ((unsigned)TYPE_STRING << F_TYPE_SHIFT);
    if (flags & F_EXPF) {
        entry_store_expire(e, 0);
        entry_set_vol_index(e, 0);
    }
    entry_set_lens(e, key.len, vlen);
    memcpy((char *)entry_key(e), key.ptr, key.len);
}

/* Set e's expiry field (present) to at, keeping the volatile array right. */
static void entry_put_expire(struct store *s, struct entry *e, int64_t at)
{
    bool was = entry_volatile(e);
    entry_store_expire(e, at);
    if (was && at == 0)
        vol_remove(s, e); /* reads the index, still stored */
    else if (!was && at != 0)
        vol_add(s, e);
}

struct entry *store_set(struct store *s, struct slice key, const void *val,
                        size_t vlen, int64_t expire_at_ms)
{
    assert(vlen <= UINT32_MAX && key.len <= UINT32_MAX);
    bury_graveyard(s);
    rehash_tick(s);
    uint64_t h = key_hash(key.ptr, key.len);
    struct entry *old = lookup(s, key.ptr, key.len, h);
    unsigned flags = (needs_long(key.len, vlen) ? F_LONG : 0) | (expire_at_ms ? F_EXPF : 0);
    size_t value_class = split_pays(key.len, vlen, flags); /* 0: one block */
    if (value_class)
        flags |= F_SPLIT;
    size_t held = (flags & F_SPLIT) ? sizeof(char *) : vlen;
    struct entry *e;
    char *block = NULL; /* a split string's value block kept for the new value */

    if (s->lazy_len)
        lazy_step(s, LAZY_STEP_WRITE);
    if (old) {
        /* A split string given a new value of its block's size class keeps
         * the block, as a one-block entry is rewritten in place: freeing it
         * and allocating the same size again took mimalloc's slow path at
         * every SET (a freed block goes to a list the next allocation must
         * first collect), 2316 -> 2928 instructions a 1000-byte SET. */
        if ((flags & F_SPLIT) && entry_type(old) == TYPE_STRING && (entry_flags(old) & F_SPLIT) &&
            mi_usable_size(split_block(old)) == value_class) {
            block = split_block(old);
            old->meta &= ~F_SPLIT;
        }
        /* the old value goes: a collection's object, a split string's block */
        entry_release_value(s, old);
        old->meta &= ~(F_TYPE_MASK | F_RAW | F_TEXT);
        /* Reuse the allocation when the new layout fits without wasting
         * more than half of it; keep an existing expiry field. */
        unsigned keep = flags | (entry_flags(old) & F_EXPF);
        size_t need = entry_alloc_size(key.len, held, keep);
        size_t have = mi_usable_size(old);
        if (need <= have && need * 2 >= have &&
            (keep & (F_LONG | F_EXPF)) == (entry_flags(old) & (F_LONG | F_EXPF))) {
            e = old;
            e->meta |= flags & F_SPLIT;
            entry_set_lens(e, key.len, vlen);
            if (entry_flags(e) & F_EXPF)
                entry_put_expire(s, e, expire_at_ms);
        } else {
            if (entry_volatile(old))
                vol_remove(s, old);
            e = entry_alloc(s, entry_alloc_size(key.len, held, flags));
            entry_init(e, h, flags, key, vlen);
            int t = chain_find(s, old, h);
            chain_replace(s, t, (size_t)h & (s->size[t] - 1), old, e, false);
            entry_free(s, old);
            if (expire_at_ms)
                entry_put_expire(s, e, expire_at_ms);
        }
    } else {
        maybe_grow(s);
        e = entry_alloc(s, entry_alloc_size(key.len, held, flags));
        entry_init(e, h, flags, key, vlen);
        int t = rehashing(s) ? 1 : 0;
        size_t b = (size_t)h & (s->size[t] - 1);
        entry_set_next(e, s->table[t][b]);
        s->table[t][b] = e;
        s->used[t]++;
        if (s->slots)
            slot_index_add(s->slots, key_slot(key.ptr, key.len), h);
        if (expire_at_ms)
            entry_put_expire(s, e, expire_at_ms);
    }
    if (flags & F_SPLIT)
        split_set_block(e, block ? block : split_alloc(s, vlen));
    lru_touch(s, e);
    check_invariants(s);
    if (val) {
        if (vlen)
            memcpy(entry_value(e), val, vlen);
        journal(s, JOURNAL_SET, e, true, expire_at_ms);
    }
    return e;
}

/* e in a new block laid out by nflags (its key, expiry field and the
 * address of its value block: F_SPLIT), in e's place in the table; e is
 * freed, its value block kept. */
static struct entry *split_move(struct store *s, struct entry *e, size_t vlen, unsigned nflags)
{
    size_t klen = entry_key_len(e);
    char *v = split_block(e);
    uint64_t h = entry_hash(e);
    struct entry *ne = entry_alloc(s, entry_alloc_size(klen, sizeof v, nflags));
    ne->link = e->link & ~LINK_PTR_MASK;
    ne->meta = (e->meta & ~META_FLAGS) | nflags;
    if (nflags & F_EXPF) {
        entry_store_expire(ne, entry_expire_at(e));
        entry_set_vol_index(ne, entry_vol_index(e));
    }
    entry_set_lens(ne, klen, vlen);
    memcpy((char *)entry_key(ne), entry_key(e), klen);
    split_set_block(ne, v);
    replace_entry(s, e, ne, h);
    entry_free(s, e);
    return ne;
}

/* store_resize of a split string: its value block grows (with the same
 * slack as a one-block entry's) or stays; the entry moves only if its
 * lengths change form. */
static struct entry *split_resize(struct store *s, struct entry *e, size_t vlen, unsigned nflags)
{
    size_t oldv = entry_value_len(e);
    char *v = split_block(e);
    size_t have = mi_usable_size(v);
    if (vlen > have) {
        size_t slack = vlen < (1u << 20) ? vlen : (1u << 20);
        v = mem_realloc(s, v, vlen + slack);
        s->mem_entries += mi_usable_size(v) - have;
        split_set_block(e, v);
    }
    if (vlen > oldv)
        memset(v + oldv, 0, vlen - oldv);
    if (nflags != entry_flags(e))
        return split_move(s, e, vlen, nflags);
    entry_set_lens(e, entry_key_len(e), vlen);
    return e;
}

struct entry *store_resize(struct store *s, struct entry *e, size_t vlen)
{
    assert(vlen <= UINT32_MAX);
    bury_graveyard(s);
    size_t klen = entry_key_len(e), oldv = entry_value_len(e);
    unsigned flags = entry_flags(e);
    unsigned nflags = (flags & ~F_LONG) | (needs_long(klen, vlen) ? F_LONG : 0);
    if (flags & F_SPLIT)
        return split_resize(s, e, vlen, nflags);
    size_t need = entry_alloc_size(klen, vlen, nflags);
    if (nflags == flags && need <= mi_usable_size(e)) {
        if (vlen > oldv)
            memset(entry_value(e) + oldv, 0, vlen - oldv);
        entry_set_lens(e, klen, vlen);
        return e;
    }
    /* Move. Growth gets slack (as sds does) so that repeated APPENDs are
     * amortised; a shrink allocates exactly. A move is a write like SET's:
     * the layout is chosen again, so a value grown past a size class's
     * edge (a 2 KB value with its slack: 4 KB, one block 5 KB) goes in a
     * block of its own as SET would put it. */
    size_t room = vlen;
    if (vlen > oldv)
        room += vlen < (1u << 20) ? vlen : (1u << 20);
    if (entry_type(e) == TYPE_STRING && split_pays(klen, room, nflags))
        nflags |= F_SPLIT;
    size_t alloc = entry_alloc_size(klen, (nflags & F_SPLIT) ? sizeof(char *) : room, nflags);
    uint64_t h = entry_hash(e);
    struct entry *ne = entry_alloc(s, alloc);
    ne->link = e->link & ~LINK_PTR_MASK;
    ne->meta = (e->meta & ~META_FLAGS) | nflags;
    if (nflags & F_EXPF) {
        entry_store_expire(ne, entry_expire_at(e));
        entry_set_vol_index(ne, entry_vol_index(e));
    }
    entry_set_lens(ne, klen, vlen);
    memcpy((char *)entry_key(ne), entry_key(e), klen);
    if (nflags & F_SPLIT)
        split_set_block(ne, split_alloc(s, room));
    size_t keep = oldv < vlen ? oldv : vlen;
    memcpy(entry_value(ne), entry_value(e), keep);
    if (vlen > keep)
        memset(entry_value(ne) + keep, 0, vlen - keep);
    replace_entry(s, e, ne, h);
    entry_free(s, e);
    return ne;
}

void store_string_set_form(struct entry *e, enum string_form f)
{
    e->meta = (e->meta & ~(F_RAW | F_TEXT)) | (f == STRING_RAW ? F_RAW : f == STRING_TEXT ? F_TEXT : 0);
}

enum string_form store_string_form(const struct entry *e)
{
    unsigned f = entry_flags(e);
    return (f & F_RAW) ? STRING_RAW : (f & F_TEXT) ? STRING_TEXT : STRING_AS_SET;
}

void store_changed(struct store *s, struct entry *e)
{
    journal(s, JOURNAL_SET, e, true, entry_expire_at(e));
}

struct entry *store_set_object(struct store *s, struct slice key, enum value_type t, void *obj,
                               int64_t expire_at_ms)
{
    assert(t != TYPE_STRING && obj);
    struct entry *e = store_set(s, key, NULL, sizeof obj, expire_at_ms);
    e->meta = (e->meta & ~F_TYPE_MASK) | ((unsigned)t << F_TYPE_SHIFT);
    memcpy(entry_value(e), &obj, sizeof obj);
    journal(s, JOURNAL_SET, e, true, expire_at_ms);
    return e;
}

void store_object_changed(struct store *s, struct entry *e, void *obj)
{
    assert(entry_type(e) != TYPE_STRING && obj);
    memcpy(entry_value(e), &obj, sizeof obj);
    journal(s, JOURNAL_SET, e, true, entry_expire_at(e));
}

void store_object_reencoded(struct store *s, struct entry *e, void *obj)
{
    (void)s;
    assert(entry_type(e) != TYPE_STRING && obj);
    memcpy(entry_value(e), &obj, sizeof obj);
}

void *store_take_object(struct store *s, struct entry *e)
{
    (void)s;
    void *obj = entry_object(e), *none = NULL;
    if (obj)
        memcpy(entry_value(e), &none, sizeof none);
    return obj;
}

void store_object_encode(enum value_type t, const void *obj, struct buf *out)
{
    switch (t) {
    case TYPE_HASH:
        hash_encode(obj, out);
        break;
    case TYPE_SET:
        set_encode(obj, out);
        break;
    case TYPE_ZSET:
        zset_encode(obj, out);
        break;
    case TYPE_LIST:
        list_encode(obj, out);
        break;
    case TYPE_STREAM:
        stream_encode(obj, out);
        break;
    default:
        abort();
    }
}

void *store_object_decode(struct store *s, enum value_type t, const char *p, size_t n)
{
    switch (t) {
    case TYPE_HASH:
        return hash_decode(s, p, n);
    case TYPE_SET:
        return set_decode(s, p, n);
    case TYPE_ZSET:
        return zset_decode(s, p, n);
    case TYPE_LIST:
        return list_decode(s, p, n);
    case TYPE_STREAM:
        return stream_decode(s, p, n);
    default:
        return NULL;
    }
}

bool store_delete(struct store *s, struct slice key)
{
    bury_graveyard(s);
    rehash_tick(s);
    uint64_t h = key_hash(key.ptr, key.len);
    struct entry *e = lookup(s, key.ptr, key.len, h);
    if (!e)
        return false;
    bool was_expired = expired(e, s->last_now_ms);
    if (s->lazy_len)
        lazy_step(s, LAZY_STEP_WRITE);
    remove_entry(s, e, h, false);
    if (was_expired)
        s->stats.expired_keys++;
    return !was_expired;
}

bool store_delete_entry(struct store *s, struct entry *e)
{
    bury_graveyard(s);
    bool was_expired = expired(e, s->last_now_ms);
    if (s->lazy_len)
        lazy_step(s, LAZY_STEP_WRITE);
    remove_entry(s, e, entry_hash(e), false);
    if (was_expired)
        s->stats.expired_keys++;
    return !was_expired;
}

bool store_set_expire(struct store *s, struct entry *e, int64_t at_ms, int64_t now_ms)
{
    note_now(s, now_ms);
    bury_graveyard(s);
    uint64_t h = entry_hash(e);
    if (at_ms < 0 || (at_ms > 0 && at_ms <= now_ms)) {
        remove_entry(s, e, h, false);
        return false;
    }
    if (at_ms == 0) {
        if (entry_volatile(e)) {
            entry_put_expire(s, e, 0);
            journal(s, JOURNAL_PERSIST, e, false, 0);
        }
        return true;
    }
    if (!(entry_flags(e) & F_EXPF)) {
        /* Move to an entry with an expiry field. The old copy stays readable
         * (same key and value) until the next store call, so a caller that
         * still reads e right after this call reads valid bytes. */
        size_t klen = entry_key_len(e), vlen = entry_value_len(e), held = entry_held_len(e);
        unsigned nflags = entry_flags(e) | F_EXPF;
        struct entry *ne = entry_alloc(s, entry_alloc_size(klen, held, nflags));
        ne->link = e->link & ~LINK_PTR_MASK;
        ne->meta = (e->meta & ~META_FLAGS) | nflags;
        entry_store_expire(ne, 0);
        entry_set_lens(ne, klen, vlen);
        memcpy((char *)entry_key(ne), entry_key(e), klen);
        /* a split string's block is shared with the old copy, which the
         * graveyard frees alone */
        memcpy(entry_held(ne), entry_held(e), held);
        replace_entry(s, e, ne, h);
        s->mem_entries -= mi_usable_size(e);
        s->graveyard = e;
        e = ne;
    }
    entry_put_expire(s, e, at_ms);
    journal(s, JOURNAL_EXPIRE, e, false, at_ms);
    return true;
}

void store_flush(struct store *s)
{
    bury_graveyard(s);
    free_all_entries(s, true);
    journal(s, JOURNAL_FLUSH, NULL, false, 0);
}

size_t store_count(const struct store *s) { return store_count_(s); }

bool store_reserve(struct store *s, size_t n)
{
    /* one not filled yet that is bigger (the admin tool's for the whole
     * move, then each push's for its part) stands */
    if (store_count_(s) + n > s->reserved)
        s->reserved = store_count_(s) + n;
    s->reserved_at_ms = s->last_now_ms;
    if (rehashing(s))
        return false; /* the rehash under way ends first, then grows to it (rehash_buckets) */
    size_t want = pow2_at_least(s->reserved / MAX_LOAD);
    if (want <= s->size[0])
        return true;
    if (s->size[0] == 0) {
        s->table[0] = mem_calloc(s, want, sizeof(struct entry *));
        s->size[0] = want;
    } else {
        start_rehash(s, want); /* the keys there move bucket by bucket, as in any growth */
    }
    check_invariants(s);
    return true;
}

size_t store_buckets(const struct store *s) { return s->size[rehashing(s) ? 1 : 0]; }

/* ---- keys by slot (cluster mode: slot_index.h) ---- */

void store_index_slots(struct store *s)
{
    if (s->slots)
        return;
    s->slots = slot_index_create(s->heap);
    for (int t = 0; t < 2; t++)
        for (size_t b = 0; b < s->size[t]; b++)
            for (struct entry *e = s->table[t][b]; e; e = entry_next(e))
                slot_index_add(s->slots, key_slot(entry_key(e), entry_key_len(e)), entry_hash(e));
}

bool store_slots_indexed(const struct store *s)
{
    return s->slots != NULL;
}

size_t store_slot_count(const struct store *s, unsigned slot)
{
    return s->slots ? slot_index_count(s->slots, slot) : 0;
}

size_t store_slot_keys(struct store *s, unsigned slot, size_t max, int64_t now_ms, store_scan_fn *fn, void *arg)
{
    return store_slot_keys_except(s, slot, max, now_ms, NULL, fn, arg);
}

/* The index's hashes are taken SLOT_KEYS_AHEAD at a time and their
 * buckets and first entries prefetched before any is looked up, so the
 * cache misses of a slot's keys (each in a bucket of its own, cold on a big
 * table) overlap instead of following each other. */
#define SLOT_KEYS_AHEAD 16

size_t store_slot_keys_except(struct store *s, unsigned slot, size_t max, int64_t now_ms, store_skip_fn *skip,
                              store_scan_fn *fn, void *arg)
{
    if (!s->slots)
        return 0;
    size_t found = 0, pos = 0, span = slot_index_span(s->slots, slot);
    uint64_t ahead[SLOT_KEYS_AHEAD];
    while (pos < span && found < max) {
        int k = 0;
        for (; pos < span && k < SLOT_KEYS_AHEAD && found + (size_t)k < max; pos++) {
            uint64_t h;
            if (slot_index_at(s->slots, slot, pos, &h) && !(skip && skip(arg, h)))
                ahead[k++] = h;
        }
        for (int i = 0; i < k; i++)
            store_prefetch_bucket(s, ahead[i]);
        for (int i = 0; i < k; i++)
            store_prefetch_entry(s, ahead[i]);
        for (int i = 0; i < k && found < max; i++) {
            uint64_t h = ahead[i];
            if (i > 0 && skip && skip(arg, h))
                continue; /* asked again: fn may have changed its mind (a listing now full) */
            /* the entries of h's bucket whose whole hash is h (the index
             * keeps a hash of 0 as 1) */
            uint16_t tag = hash_tag(h);
            for (int t = 0; t < 2 && found < max; t++) {
                if (s->size[t] == 0)
                    break;
                size_t b = (size_t)h & (s->size[t] - 1);
                if (t == 0 && rehashing(s) && b < s->rehash_idx)
                    continue;
                for (struct entry *e = s->table[t][b]; e && found < max; e = entry_next(e)) {
                    if (entry_tag(e) != tag)
                        continue;
                    uint64_t eh = entry_hash(e);
                    if ((eh ? eh : 1) != h || key_slot(entry_key(e), entry_key_len(e)) != slot ||
                        expired(e, now_ms))
                        continue;
                    fn(arg, e);
                    found++;
                }
            }
        }
    }
    return found;
}

size_t store_slot_index_memory(const struct store *s)
{
    return s->slots ? slot_index_memory(s->slots) : 0;
}

const struct store_stats *store_get_stats(const struct store *s)
{
    ((struct store *)s)->stats.expires = s->vol_len;
    return &s->stats;
}

void store_reset_stats(struct store *s)
{
    s->stats.expired_keys = 0;
    s->stats.evicted_keys = 0;
    s->stats.keyspace_hits = 0;
    s->stats.keyspace_misses = 0;
    s->stats.expired_time_cap_reached_count = 0;
    s->stats.evict_time_cap_reached_count = 0;
}

size_t store_entry_memory(const struct entry *e, size_t samples)
{
    size_t m = mi_usable_size(e) + sizeof(struct entry *);
    if (entry_flags(e) & F_SPLIT)
        m += mi_usable_size(split_block(e));
    if (entry_flags(e) & F_EXPF)
        m += sizeof(struct entry *);
    if (entry_type(e) != TYPE_STRING)
        m += store_object_memory(entry_type(e), entry_object(e), samples);
    return m;
}

size_t store_object_memory(enum value_type t, const void *obj, size_t samples)
{
    switch (t) {
    case TYPE_HASH: return hash_memory(obj, samples);
    case TYPE_SET:  return set_memory(obj, samples);
    case TYPE_ZSET: return zset_memory(obj, samples);
    case TYPE_LIST: return list_memory(obj, samples);
    case TYPE_STREAM: return stream_memory(obj);
    default:        return 0;
    }
}

/* The elements store_object_over samples: enough that a collection of
 * few huge elements is seen as such, few enough to be no cost. */
#define OVER_SAMPLES 16

bool store_object_over(enum value_type t, const void *obj, size_t max_elements, size_t max_bytes)
{
    if (t == TYPE_STRING || t == TYPE_STREAM)
        return false;
    return store_object_len(t, obj) > max_elements || store_object_memory(t, obj, OVER_SAMPLES) > max_bytes;
}

size_t store_used_memory(const struct store *s)
{
    size_t m = s->mem_entries + s->mem_objects;
    if (s->table[0])
        m += mi_usable_size(s->table[0]);
    if (s->table[1])
        m += mi_usable_size(s->table[1]);
    if (s->vol)
        m += mi_usable_size(s->vol);
    if (s->slots)
        m += slot_index_table_bytes(s->slots); /* the keys' part of the index */
    return m;
}

/* ---- SCAN ---- */

static inline uint64_t reverse_bits(uint64_t v)
{
    v = ((v >> 1) & UINT64_C(0x5555555555555555)) | ((v & UINT64_C(0x5555555555555555)) << 1);
    v = ((v >> 2) & UINT64_C(0x3333333333333333)) | ((v & UINT64_C(0x3333333333333333)) << 2);
    v = ((v >> 4) & UINT64_C(0x0f0f0f0f0f0f0f0f)) | ((v & UINT64_C(0x0f0f0f0f0f0f0f0f)) << 4);
    return __builtin_bswap64(v);
}

static size_t scan_bucket(struct entry *e, int64_t now_ms, store_scan_fn *fn, void *arg)
{
    size_t n = 0;
    while (e) {
        struct entry *next = entry_next(e);
        if (!expired(e, now_ms)) {
            fn(arg, e);
            n++;
        }
        e = next;
    }
    return n;
}

uint64_t store_scan(struct store *s, uint64_t cursor, size_t count, int64_t now_ms,
                    store_scan_fn *fn, void *arg)
{
    note_now(s, now_ms);
    if (store_count_(s) == 0 || s->size[0] == 0)
        return 0;
    if (count == 0)
        count = 1;
    size_t emitted = 0, visits = 0;
    size_t max_visits = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    uint64_t v = cursor;
    do {
        if (!rehashing(s)) {
            uint64_t m0 = s->size[0] - 1;
            emitted += scan_bucket(s->table[0][v & m0], now_ms, fn, arg);
            v |= ~m0;
            v = reverse_bits(v);
            v++;
            v = reverse_bits(v);
            visits++;
        } else {
            int small = s->size[0] <= s->size[1] ? 0 : 1, big = 1 - small;
            uint64_t m0 = s->size[small] - 1, m1 = s->size[big] - 1;
            /* Buckets of table[0] below rehash_idx are empty (moved). */
            emitted += scan_bucket(s->table[small][v & m0], now_ms, fn, arg);
            do {
                emitted += scan_bucket(s->table[big][v & m1], now_ms, fn, arg);
                v |= ~m1;
                v = reverse_bits(v);
                v++;
                v = reverse_bits(v);
                visits++;
            } while (v & (m0 ^ m1));
        }
    } while (v != 0 && emitted < count && visits < max_visits);
    return v;
}

/* ---- random and sampling ---- */

/* A random entry (live or expired), or NULL when empty. */
static struct entry *random_entry(struct store *s)
{
    if (store_count_(s) == 0)
        return NULL;
    struct entry *head = NULL;
    while (!head) {
        if (rehashing(s)) {
            size_t span = s->size[0] + s->size[1] - s->rehash_idx;
            size_t i = s->rehash_idx + (size_t)(rng_next(s) % span);
            head = i >= s->size[0] ? s->table[1][i - s->size[0]] : s->table[0][i];
        } else {
            head = s->table[0][rng_next(s) & (s->size[0] - 1)];
        }
    }
    size_t len = 0;
    for (struct entry *e = head; e; e = entry_next(e))
        len++;
    size_t pick = (size_t)(rng_next(s) % len);
    while (pick--)
        head = entry_next(head);
    return head;
}

struct entry *store_random(struct store *s, int64_t now_ms)
{
    note_now(s, now_ms);
    bury_graveyard(s);
    for (;;) {
        struct entry *e = random_entry(s);
        if (!e || !expired(e, now_ms))
            return e;
        if (keeps_expired(s, now_ms))
            return NULL;
        remove_entry(s, e, entry_hash(e), true);
        s->stats.expired_keys++;
    }
}

/* Up to max entries from consecutive buckets starting at a random one, in
 * both tables while rehashing (each table indexed with its own mask, so a
 * small table is sampled as densely as a large one). */
static size_t sample_entries(struct store *s, struct entry **out, size_t max)
{
    size_t n = 0;
    if (store_count_(s) == 0)
        return 0;
    size_t i = (size_t)rng_next(s);
    for (size_t steps = 0; n < max && steps < max * 16; steps++, i++) {
        for (int t = 0; t < 2 && n < max; t++) {
            if (s->size[t] == 0)
                continue;
            size_t b = i & (s->size[t] - 1);
            if (t == 0 && rehashing(s) && b < s->rehash_idx)
                continue;
            for (struct entry *e = s->table[t][b]; e && n < max; e = entry_next(e))
                out[n++] = e;
        }
    }
    return n;
}

/* ---- eviction ---- */

static uint64_t evict_score(const struct store *s, const struct entry *e, enum evict_policy p)
{
    if (p == EVICT_VOLATILE_TTL)
        return UINT64_MAX - (uint64_t)entry_expire_at(e);
    if (s->lfu) /* the least used first (and those decayed most) */
        return 255 - lfu_decayed(s, e);
    return (s->lru_clock - entry_lru(e)) & LRU_MASK;
}

void store_set_lfu(struct store *s, bool on)
{
    s->lfu = on;
    if (s->history)
        return;
    if (!(s->history = mi_zalloc(sizeof *s->history)))
        abort();
    /* the keys used so far were used at the latest this clock */
    if (s->last_now_ms > 0) {
        uint32_t sec = (uint32_t)(s->last_now_ms / 1000);
        clock_ring_note(&s->history->by_second, s->lru_clock, sec, 1);
        clock_ring_note(&s->history->by_minute, s->lru_clock, sec, 60);
    }
}

int64_t store_entry_idle_ms(const struct store *s, const struct entry *e)
{
    uint32_t age = (s->lru_clock - entry_lru(e)) & LRU_MASK, sec = 0;
    if (!s->history || s->history->by_second.len == 0) /* no history (yet) */
        return 0;
    if (!clock_ring_find(&s->history->by_second, s->lru_clock, age, &sec))
        clock_ring_find(&s->history->by_minute, s->lru_clock, age, &sec);
    int64_t idle = s->last_now_ms - (int64_t)sec * 1000;
    return idle > 0 ? idle : 0;
}

void store_entry_set_idle(struct store *s, struct entry *e, int64_t idle_ms)
{
    if (s->lfu)
        return;
    int64_t then = s->last_now_ms - idle_ms; /* idle_ms is at most LLONG_MAX / 2 */
    uint32_t target = then > 0 ? (uint32_t)(then / 1000) : 0, tick = s->lru_clock;
    bool found = false;
    if (!s->history)
        return;
    const struct clock_ring *rings[2] = { &s->history->by_second, &s->history->by_minute };
    for (int k = 0; k < 2 && !found && idle_ms > 0; k++) {
        const struct clock_ring *r = rings[k];
        for (uint32_t i = 1; i <= r->len; i++) {
            const struct clock_sample *c = &r->at[(r->next + CLOCK_SAMPLES - i) % CLOCK_SAMPLES];
            tick = (c->clock - 1) & LRU_MASK; /* before anything the ring knows */
            if (c->sec <= target) {
                tick = c->clock;
                found = true;
                break;
            }
        }
    }
    entry_set_lru(e, tick);
}

void store_entry_set_freq(struct store *s, struct entry *e, unsigned freq)
{
    if (s->lfu)
        entry_set_lru(e, (lfu_minutes(s) << 8) | (freq > 255 ? 255 : freq));
}

unsigned store_entry_freq(const struct store *s, const struct entry *e)
{
    return entry_lru(e) == 0 ? LFU_INIT_VAL : lfu_decayed(s, e);
}

uint32_t store_entry_lru_age(const struct store *s, const struct entry *e)
{
    return (s->lru_clock - entry_lru(e)) & LRU_MASK;
}

uint32_t store_entry_lru(const struct entry *e)
{
    return entry_lru(e);
}

static void pool_insert(struct store *s, struct entry *e, uint64_t h, uint64_t score)
{
    for (int i = 0; i < s->pool_len; i++)
        if (s->pool[i].e == e)
            return;
    if (s->pool_len == POOL_SIZE) {
        if (score <= s->pool[0].score)
            return;
        memmove(&s->pool[0], &s->pool[1], (POOL_SIZE - 1) * sizeof s->pool[0]);
        s->pool_len--;
    }
    int i = s->pool_len;
    while (i > 0 && s->pool[i - 1].score > score) {
        s->pool[i] = s->pool[i - 1];
        i--;
    }
    s->pool[i] = (struct pool_slot){ e, h, score };
    s->pool_len++;
}

static void pool_fill(struct store *s, enum evict_policy p)
{
    struct entry *sample[EVICT_SAMPLES];
    size_t n = 0;
    if (p == EVICT_ALLKEYS_LRU) {
        n = sample_entries(s, sample, EVICT_SAMPLES);
    } else if (s->vol_len) {
        for (n = 0; n < EVICT_SAMPLES && n < s->vol_len; n++)
            sample[n] = s->vol[rng_next(s) % s->vol_len];
    }
    for (size_t i = 0; i < n; i++)
        pool_insert(s, sample[i], entry_hash(sample[i]), evict_score(s, sample[i], p));
}

/* Best candidate still live and still eligible, or NULL. */
static struct entry *pool_pop(struct store *s, enum evict_policy p, uint64_t *hash)
{
    while (s->pool_len > 0) {
        struct pool_slot c = s->pool[--s->pool_len];
        if (chain_find(s, c.e, c.hash) < 0 || entry_tag(c.e) != hash_tag(c.hash))
            continue; /* gone since it was sampled */
        if (p != EVICT_ALLKEYS_LRU && !entry_volatile(c.e))
            continue;
        uint64_t now = evict_score(s, c.e, p);
        if (now != c.score) { /* touched since: rank it again */
            pool_insert(s, c.e, c.hash, now);
            continue;
        }
        *hash = c.hash;
        return c.e;
    }
    return NULL;
}

/* Evictions between two looks at the clock (Redis looks every 16 too). */
#define EVICT_CLOCK_EVERY 16
/* Buckets of a rehash in progress moved per round of an eviction. */
#define EVICT_REHASH_STEP 1024

enum evict_result store_evict(struct store *s, size_t limit, enum evict_policy policy, int64_t now_ms,
                              uint64_t budget_ns)
{
    note_now(s, now_ms);
    bury_graveyard(s);
    if (limit == 0 || (s->hold && s->hold(s->hold_arg, now_ms)))
        return EVICT_DONE;
    if (store_used_memory(s) <= limit)
        return EVICT_DONE;
    if (policy == EVICT_ALLKEYS_LFU)
        policy = EVICT_ALLKEYS_LRU;
    else if (policy == EVICT_VOLATILE_LFU)
        policy = EVICT_VOLATILE_LRU;
    if (s->pool_policy != policy) {
        s->pool_len = 0;
        s->pool_policy = policy;
    }
    uint64_t deadline = budget_ns ? clock_mono_ns() + budget_ns : 0;
    unsigned since_clock = 0;
    while (store_used_memory(s) > limit) {
        if (deadline && ++since_clock >= EVICT_CLOCK_EVERY) {
            since_clock = 0;
            if (clock_mono_ns() >= deadline) {
                s->stats.evict_time_cap_reached_count++;
                return EVICT_RUNNING; /* the rest on the next calls */
            }
        }
        if (s->lazy_len) {
            /* a collection evicted or deleted is still being freed: free a
             * big slice of it rather than evict more keys; if that is not
             * enough yet, the rest of it comes back on the next calls */
            lazy_step(s, LAZY_STEP_IDLE * 4);
            if (s->lazy_len)
                return EVICT_RUNNING;
            continue;
        }
        if (policy == EVICT_NOEVICTION || (policy != EVICT_ALLKEYS_LRU && policy != EVICT_ALLKEYS_RANDOM &&
                                           s->vol_len == 0))
            return EVICT_FAILED; /* nothing the policy may take: a rehash frees nothing now, and its
                                  * steps running out of budget must not answer EVICT_RUNNING, which
                                  * lets the write in (a noeviction node took writes over maxmemory
                                  * whenever a rehash was under way on a slow machine) */
        if (rehashing(s)) {
            /* both tables count until the rehash is done, and a table can
             * shrink only after it (maybe_shrink): evicting on meanwhile
             * would take every key, a table bigger than the limit never
             * getting to go. So finish it first (in budgeted steps). */
            rehash_buckets(s, EVICT_REHASH_STEP);
            since_clock = EVICT_CLOCK_EVERY - 1; /* a round this big: look next */
            continue;
        }
        struct entry *victim = NULL;
        uint64_t h = 0;
        switch (policy) {
        case EVICT_NOEVICTION:
            return EVICT_FAILED;
        case EVICT_ALLKEYS_RANDOM:
            victim = random_entry(s);
            if (victim)
                h = entry_hash(victim);
            break;
        case EVICT_VOLATILE_RANDOM:
            if (s->vol_len == 0)
                break;
            victim = s->vol[rng_next(s) % s->vol_len];
            h = entry_hash(victim);
            break;
        case EVICT_ALLKEYS_LRU:
        case EVICT_VOLATILE_LRU:
        case EVICT_VOLATILE_TTL:
        default: /* the LFU policies were mapped above */
            if (policy != EVICT_ALLKEYS_LRU && s->vol_len == 0)
                break;
            for (int tries = 0; !victim && tries < 8; tries++) {
                pool_fill(s, policy);
                victim = pool_pop(s, policy, &h);
            }
            if (!victim && policy == EVICT_ALLKEYS_LRU && (victim = random_entry(s)))
                h = entry_hash(victim); /* sampling found nothing: very sparse table */
            break;
        }
        if (!victim) /* nothing (more) the policy may take */
            return EVICT_FAILED;
        s->evicting = true;
        remove_entry(s, victim, h, true);
        s->evicting = false;
        s->stats.evicted_keys++;
    }
    return EVICT_DONE;
}

bool store_make_room(struct store *s, size_t limit, enum evict_policy policy, int64_t now_ms)
{
    return store_evict(s, limit, policy, now_ms, 0) != EVICT_FAILED;
}

/* ---- active expiry ---- */

#define EXPIRE_SAMPLES 20

void store_set_passive(struct store *s, bool passive) { s->passive = passive; }

void store_set_hold(struct store *s, store_hold_fn *held, void *arg)
{
    s->hold = held;
    s->hold_arg = arg;
}

size_t store_expire_cycle(struct store *s, int64_t now_ms, int64_t budget_us)
{
    if (keeps_expired(s, now_ms))
        return 0;
    note_now(s, now_ms);
    bury_graveyard(s);
    size_t removed = 0, sampled_all = 0;
    int64_t start = clock_mono_us();
    int64_t ttl_sum = 0, ttl_samples = 0;
    while (s->vol_len > 0) {
        size_t sampled = 0, gone = 0;
        for (; sampled < EXPIRE_SAMPLES && s->vol_len > 0; sampled++) {
            struct entry *e = s->vol[rng_next(s) % s->vol_len];
            if (expired(e, now_ms)) {
                remove_entry(s, e, entry_hash(e), true);
                s->stats.expired_keys++;
                gone++;
            } else {
                /* saturating: RESTORE sets times up to INT64_MAX, whose
                 * TTLs overflow a sum of two */
                if (__builtin_add_overflow(ttl_sum, entry_expire_at(e) - now_ms, &ttl_sum))
                    ttl_sum = INT64_MAX;
                ttl_samples++;
            }
        }
        removed += gone;
        sampled_all += sampled;
        /* Fewer than a quarter expired: few are left to find, stop. */
        if (gone * 4 < sampled)
            break;
        if (clock_mono_us() - start >= budget_us) {
            s->stats.expired_time_cap_reached_count++;
            break;
        }
    }
    if (ttl_samples) {
        /* Redis's running average: seeded by the first estimate */
        int64_t avg = ttl_sum / ttl_samples;
        if (s->stats.avg_ttl_ms == 0)
            s->stats.avg_ttl_ms = avg;
        s->stats.avg_ttl_ms = (s->stats.avg_ttl_ms / 50) * 49 + avg / 50;
    }
    if (s->vol_len == 0)
        s->stats.avg_ttl_ms = 0; /* no key with an expiry left */
    if (sampled_all) {
        double perc = (double)removed / (double)sampled_all * 100.0;
        s->stats.expired_stale_perc = perc * 0.05 + s->stats.expired_stale_perc * 0.95;
    }
    return removed;
}

void store_rehash_step(struct store *s)
{
    bury_graveyard(s);
    if (s->lazy_len)
        lazy_step(s, LAZY_STEP_IDLE);
    if (rehashing(s))
        rehash_buckets(s, 128);
    else
        maybe_shrink(s); /* deletes that came during a rehash could not */
}

void store_set_db(struct store *s, int db) { s->db = db; }
bool store_lfu(const struct store *s) { return s->lfu; }
int  store_db(const struct store *s) { return s->db; }

void store_set_journal(struct store *s, journal_hook *hook, void *hook_arg)
{
    s->hook = hook;
    s->hook_arg = hook_arg;
}
