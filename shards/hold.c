/* hold: see hold.h. */
#include "shards/hold.h"

#include <linux/futex.h>
#include <mimalloc.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/clock.h"
#include "net/loop.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"

#define HOLD_FREE    (-1)
#define HOLD_KIND    0x401d /* a module's kind: the handler runs it */
#define SPINS        2000     /* polls before sleeping: a call is a few microseconds */

/* What the holder and one held shard share. */
struct hold_seat {
    _Alignas(64) atomic_uint word; /* bumped for a call or a release: the held shard sleeps on it */
    atomic_int  word_sleeper;      /* the held shard sleeps on word (futex): wake it */
    atomic_uint held_gen;          /* the hold this shard serves now (0: none yet) */
    atomic_uint calls;             /* calls given (the holder) */
    _Alignas(64) atomic_uint done; /* calls done (the held shard): the holder sleeps on it */
    atomic_int  done_sleeper;      /* the holder sleeps on done */
    void (*fn)(struct shard *sh, void *arg);
    void *arg;
};

struct hold {
    _Atomic uint64_t marks[HOLD_MARKS]; /* marked names (mark_hash), 0 free (open addressing) */
    atomic_int  nmarks;
    atomic_bool full;       /* three quarters taken: names not there are not learned */
    atomic_int  token;      /* HOLD_FREE, a shard's id, or HOLD_BY_PERSIST */
    atomic_uint generation; /* bumped at each release; a hold serves the one it was posted in */
    struct hold_seat *seats;
};

void hold_node_init(struct node *n)
{
    struct hold *h = mi_zalloc_aligned(sizeof *h, 64);
    atomic_store(&h->token, HOLD_FREE);
    atomic_store(&h->generation, 1);
    h->seats = mi_zalloc_aligned(sizeof(struct hold_seat) * (size_t)n->nshards, 64);
    n->hold = h;
}

void hold_node_free(struct node *n)
{
    if (!n->hold)
        return;
    mi_free(n->hold->seats);
    mi_free(n->hold);
    n->hold = NULL;
}

bool hold_take(struct node *n, int who)
{
    if (!n->hold) /* a node that never started (the fuzz target's) */
        return true;
    int expected = HOLD_FREE;
    return atomic_compare_exchange_strong(&n->hold->token, &expected, who);
}

void hold_give(struct node *n)
{
    if (n->hold)
        atomic_store(&n->hold->token, HOLD_FREE);
}

/* bounded, so a sleeper also looks at the node stopping */
static void futex_wait(atomic_uint *w, unsigned v)
{
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0);
}

/* *w changed (seq_cst): wake its waiter if it sleeps (no syscall else) */
static void wake(atomic_uint *w, atomic_int *sleeper)
{
    if (atomic_load(sleeper))
        syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Wait until *w is no longer v: polls first, then yields the CPU between
 * polls (a held shard has nothing else to do, and the holder's next call
 * comes within microseconds; a thread asleep would take tens of them to
 * wake), and sleeps only once the other side has been quiet for
 * YIELD_NS (a script that runs long between its calls). */
#define YIELD_NS 5000000
static void wait_change(atomic_uint *w, atomic_int *sleeper, unsigned v)
{
    for (int i = 0; i < SPINS; i++) {
        if (atomic_load_explicit(w, memory_order_acquire) != v)
            return;
        cpu_relax();
    }
    uint64_t since = clock_mono_ns();
    for (unsigned i = 1; atomic_load_explicit(w, memory_order_acquire) == v; i++) {
        if ((i & 63) == 0 && clock_mono_ns() - since > YIELD_NS) {
            /* announce the sleep, then look again (pairs with wake) */
            atomic_store(sleeper, 1);
            while (atomic_load(w) == v)
                futex_wait(w, v);
            atomic_store(sleeper, 0);
            return;
        }
        sched_yield();
    }
}

/* The hold message, at a held shard: serve the holder until it releases
 * this hold; back home, freed. */
static void hold_message(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    struct hold *h = sh->node->hold;
    struct hold_seat *s = &h->seats[sh->id];
    unsigned gen = (unsigned)m->value;
    if (atomic_load(&h->generation) == gen) {
        atomic_store(&s->held_gen, gen);
        for (;;) {
            unsigned w = atomic_load(&s->word);
            if (atomic_load(&h->generation) != gen)
                break;
            unsigned c = atomic_load_explicit(&s->calls, memory_order_acquire);
            if (c != atomic_load_explicit(&s->done, memory_order_relaxed)) {
                s->fn(sh, s->arg);
                atomic_store(&s->done, c);
                wake(&s->done, &s->done_sleeper);
                continue;
            }
            wait_change(&s->word, &s->word_sleeper, w);
        }
    }
    /* commands here that waited for the token may take it now */
    dispatch_key_waits_wake(sh);
    m->answered = true;
    msg_post(sh, m, m->home);
}

static void post_hold(struct shard *sh, int to, unsigned gen)
{
    struct shard_msg *m = msg_create(0, sh->id, to, NULL, -1, NULL, 0);
    m->kind = HOLD_KIND;
    m->handler = hold_message;
    m->value = gen;
    msg_post(sh, m, to);
}

static void release_seats(struct shard *sh)
{
    struct hold *h = sh->node->hold;
    atomic_fetch_add(&h->generation, 1);
    for (int i = 0; i < sh->node->nshards; i++) {
        if (i == sh->id)
            continue;
        atomic_fetch_add(&h->seats[i].word, 1);
        wake(&h->seats[i].word, &h->seats[i].word_sleeper);
    }
}

int hold_all(struct shard *sh)
{
    struct node *n = sh->node;
    struct hold *h = n->hold;
    if (!h || !hold_take(n, sh->id))
        return -1;
    unsigned gen = atomic_load(&h->generation);
    for (int i = 0; i < n->nshards; i++)
        if (i != sh->id)
            post_hold(sh, i, gen);
    /* this shard is inside a command: its posts go now, not at its turn's end */
    mail_publish(sh);
    loop_submit(sh->loop);
    for (int i = 0; i < n->nshards; i++) {
        if (i == sh->id)
            continue;
        while (atomic_load(&h->seats[i].held_gen) != gen) {
            if (atomic_load(&n->shutdown)) {
                release_seats(sh);
                hold_give(n);
                return -2;
            }
            if (mail_publish(sh)) /* a full mailbox: what waited goes as it drains */
                loop_submit(sh->loop);
            sched_yield();
        }
    }
    return 0;
}

void hold_run(struct shard *holder, int target, void (*fn)(struct shard *sh, void *arg), void *arg)
{
    if (target == holder->id) {
        fn(holder, arg);
        return;
    }
    struct hold_seat *s = &holder->node->hold->seats[target];
    s->fn = fn;
    s->arg = arg;
    unsigned c = atomic_load_explicit(&s->calls, memory_order_relaxed) + 1;
    atomic_store_explicit(&s->calls, c, memory_order_release);
    atomic_fetch_add(&s->word, 1);
    wake(&s->word, &s->word_sleeper);
    unsigned d;
    while ((d = atomic_load_explicit(&s->done, memory_order_acquire)) != c)
        wait_change(&s->done, &s->done_sleeper, d);
}

/* After a release: the holder's own commands that waited for the token */
static void hold_over(struct shard *sh, struct shard_msg *m)
{
    msg_free(m);
    dispatch_key_waits_wake(sh);
}

void hold_release(struct shard *sh)
{
    release_seats(sh);
    hold_give(sh->node);
    struct shard_msg *m = msg_create(0, sh->id, sh->id, NULL, -1, NULL, 0);
    m->kind = HOLD_KIND;
    m->handler = hold_over;
    msg_post(sh, m, sh->id);
}

/* A mark: the name's hash with its low bit the enum hold_known (0: free) */
static uint64_t mark_hash(const char *name, size_t len)
{
    uint64_t h = XXH3_64bits(name, len) & ~UINT64_C(1);
    return h ? h : 2;
}

void hold_mark(struct node *n, const char *name, size_t len, enum hold_known known)
{
    if (!n->hold || known == HOLD_UNKNOWN)
        return;
    uint64_t h = mark_hash(name, len), mark = h | (uint64_t)known;
    for (size_t i = 0, at = (h >> 1) % HOLD_MARKS; i < HOLD_MARKS; i++, at = (at + 1) % HOLD_MARKS) {
        uint64_t seen = atomic_load_explicit(&n->hold->marks[at], memory_order_relaxed);
        while (seen == 0 || (seen & ~UINT64_C(1)) == h) {
            if (seen != 0 && (seen == mark || known == HOLD_LOCAL)) /* a script seen to hold keeps holding */
                return;
            if (atomic_compare_exchange_weak(&n->hold->marks[at], &seen, mark)) {
                if (seen == 0 && atomic_fetch_add(&n->hold->nmarks, 1) + 1 >= HOLD_MARKS * 3 / 4)
                    atomic_store(&n->hold->full, true);
                return;
            }
        }
    }
}

enum hold_known hold_known(const struct node *n, const char *name, size_t len)
{
    if (!n->hold)
        return HOLD_LOCAL;
    uint64_t h = mark_hash(name, len);
    for (size_t i = 0, at = (h >> 1) % HOLD_MARKS; i < HOLD_MARKS; i++, at = (at + 1) % HOLD_MARKS) {
        uint64_t seen = atomic_load_explicit(&n->hold->marks[at], memory_order_relaxed);
        if ((seen & ~UINT64_C(1)) == h)
            return (enum hold_known)(seen & 1);
        if (seen == 0)
            break;
    }
    return atomic_load_explicit(&n->hold->full, memory_order_relaxed) ? HOLD_LOCAL : HOLD_UNKNOWN;
}
