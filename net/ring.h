/* ring: one shard's io_uring and the small helpers around it.
 *
 * A ring is set up by the thread that will use it, with
 * SINGLE_ISSUER | DEFER_TASKRUN (completions are processed only when this
 * thread asks for them: no interrupts of the data path), falling back to
 * COOP_TASKRUN and then to no flags on kernels that refuse. Its fd is
 * registered so io_uring_enter skips the fd lookup.
 *
 * user_data layout (64 bits): the low 3 bits are the operation, the rest is
 * a pointer aligned to 8 bytes (a connection) or a small index shifted left
 * by 3 (a listener). */
#ifndef RINGKV_RING_H
#define RINGKV_RING_H

#include <liburing.h>
#include <stdint.h>

enum ring_op {
    OP_IGNORE = 0, /* completions nobody waits for (cancels, wake-ups sent) */
    OP_ACCEPT = 1, /* multishot accept; payload: listener index */
    OP_RECV   = 2, /* multishot recv; payload: struct conn * */
    OP_SEND   = 3, /* send; payload: struct conn * */
    OP_TICK   = 4, /* the periodic timer */
    OP_WAKE   = 5, /* another shard posted to our mailboxes (IORING_OP_MSG_RING) */
    OP_CONNECT = 6, /* outgoing connect; payload: struct conn * */
    OP_RECV_OWN = 7, /* one recv into the conn's own buffer; payload: struct conn * */
};

static inline uint64_t ud_make(enum ring_op op, const void *p) { return (uint64_t)(uintptr_t)p | (uint64_t)op; }
static inline uint64_t ud_make_index(enum ring_op op, unsigned i) { return ((uint64_t)i << 3) | (uint64_t)op; }
static inline enum ring_op ud_op(uint64_t ud) { return (enum ring_op)(ud & 7); }
static inline void *ud_ptr(uint64_t ud) { return (void *)(uintptr_t)(ud & ~(uint64_t)7); }
static inline unsigned ud_index(uint64_t ud) { return (unsigned)(ud >> 3); }

/* Set up r with sq_entries submission slots. Returns 0 or -errno. *mode is
 * set to a short text naming the flags the kernel accepted. */
int ring_setup(struct io_uring *r, unsigned sq_entries, const char **mode);

/* A free submission slot: submits what is queued when the queue is full.
 * Never returns NULL. */
struct io_uring_sqe *ring_sqe(struct io_uring *r);

/* Provided-buffer ring for multishot recv: nbufs buffers of bufsize bytes,
 * group id bgid. */
struct buf_pool {
    struct io_uring_buf_ring *br;
    char    *mem;
    unsigned nbufs;
    unsigned bufsize;
    unsigned bgid;
    unsigned mask;
};
int  buf_pool_setup(struct io_uring *r, struct buf_pool *p, unsigned bgid, unsigned nbufs, unsigned bufsize);
void buf_pool_teardown(struct io_uring *r, struct buf_pool *p);
static inline char *buf_pool_data(struct buf_pool *p, unsigned bid) { return p->mem + (size_t)bid * p->bufsize; }
/* Give buffer bid back to the kernel (its bytes were consumed or copied). */
static inline void buf_pool_recycle(struct buf_pool *p, unsigned bid)
{
    io_uring_buf_ring_add(p->br, buf_pool_data(p, bid), p->bufsize, (unsigned short)bid, p->mask, 0);
    io_uring_buf_ring_advance(p->br, 1);
}

#endif
