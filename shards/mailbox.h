/* mailbox: a single-producer single-consumer ring of message pointers, one
 * for each ordered pair of shards (ARCHITECTURE.md "Process model", "A request's way").
 *
 * The producer writes slots and makes them visible in one release store per
 * loop turn (mailbox_publish), so everything one shard sends another in a turn
 * travels as one batch. The consumer takes every visible message in order.
 * No locks; one cache line for each side's index. */
#ifndef RINGKV_MAILBOX_H
#define RINGKV_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct mailbox {
    _Alignas(64) atomic_size_t tail; /* next slot the producer publishes (written by producer) */
    size_t pending_tail;             /* producer-private: slots written, not yet published */
    size_t cached_head;              /* producer-private: last head seen */
    _Alignas(64) atomic_size_t head; /* next slot the consumer reads (written by consumer) */
    size_t cached_tail;              /* consumer-private: last tail seen */
    _Alignas(64) size_t mask;
    void **slots;
};

/* capacity: a power of two. */
void mailbox_init(struct mailbox *m, size_t capacity);
void mailbox_deinit(struct mailbox *m);

/* Producer: write msg into the next slot (not yet visible). Returns false if
 * the ring is full (the producer keeps msg and tries again next turn). */
bool mailbox_push(struct mailbox *m, void *msg);
/* Producer: make every pushed slot visible. Returns true if there was any. */
bool mailbox_publish(struct mailbox *m);

/* Consumer: the next visible message, or NULL. */
void *mailbox_pop(struct mailbox *m);
/* Consumer: true if a message is visible (seq_cst: used in the sleep check). */
bool mailbox_has_mail(struct mailbox *m);

#endif
