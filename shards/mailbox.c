#include "shards/mailbox.h"

#include <assert.h>
#include <mimalloc.h>

void mailbox_init(struct mailbox *m, size_t capacity)
{
    assert(capacity && (capacity & (capacity - 1)) == 0);
    atomic_init(&m->tail, 0);
    atomic_init(&m->head, 0);
    m->pending_tail = 0;
    m->cached_head = 0;
    m->cached_tail = 0;
    m->mask = capacity - 1;
    m->slots = mi_calloc(capacity, sizeof(void *));
}

void mailbox_deinit(struct mailbox *m)
{
    mi_free(m->slots);
    m->slots = NULL;
}

bool mailbox_push(struct mailbox *m, void *msg)
{
    if (m->pending_tail - m->cached_head > m->mask) {
        m->cached_head = atomic_load_explicit(&m->head, memory_order_acquire);
        if (m->pending_tail - m->cached_head > m->mask)
            return false;
    }
    m->slots[m->pending_tail & m->mask] = msg;
    m->pending_tail++;
    return true;
}

bool mailbox_publish(struct mailbox *m)
{
    size_t t = atomic_load_explicit(&m->tail, memory_order_relaxed);
    if (t == m->pending_tail)
        return false;
    atomic_store_explicit(&m->tail, m->pending_tail, memory_order_release);
    return true;
}

void *mailbox_pop(struct mailbox *m)
{
    size_t h = atomic_load_explicit(&m->head, memory_order_relaxed);
    if (h == m->cached_tail) {
        m->cached_tail = atomic_load_explicit(&m->tail, memory_order_acquire);
        if (h == m->cached_tail)
            return NULL;
    }
    void *msg = m->slots[h & m->mask];
    atomic_store_explicit(&m->head, h + 1, memory_order_release);
    return msg;
}

bool mailbox_has_mail(struct mailbox *m)
{
    size_t h = atomic_load_explicit(&m->head, memory_order_relaxed);
    return atomic_load_explicit(&m->tail, memory_order_seq_cst) != h;
}
