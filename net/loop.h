/* loop: a shard's io_uring event loop and its TCP connections. It knows no
 * protocol: it accepts connections, hands received bytes to the layer above
 * (struct loop_handlers), and sends whatever that layer put in a
 * connection's output buffer, once per connection per loop turn.
 *
 * One loop turn: wait for completions (or a wake-up), handle every one
 * (accepts, received bytes, finished sends, the tick), let the layer above
 * finish the turn (before_sleep: mailboxes, resumed connections), then queue
 * one send per connection with output, and submit everything in one
 * io_uring_enter that also waits for the next completions. No syscall is made
 * per request.
 *
 * Input: a multishot recv per connection into the loop's provided-buffer
 * ring. When the ring runs dry (some clients flood the node), a connection
 * whose recv ended for want of a buffer reads once into a small buffer of
 * its own and then rejoins the ring, so a quiet client is not left waiting
 * while the busy ones win every freed buffer. Bytes are given to on_data
 * straight from the kernel's buffer; what
 * on_data does not consume (a command cut in half) is copied to conn->in, and
 * later bytes are appended there. A connection whose input waits unconsumed
 * (paused, or yielded: it had its share of this turn) stops being read once
 * a few megabytes have piled up (INPUT_STOP_BYTES in loop.c), so TCP pushes
 * back on the sender, and is read again when the layer above has worked
 * them down. */
#ifndef RINGKV_LOOP_H
#define RINGKV_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "core/buf.h"

struct loop;
struct conn_owner;

struct conn {
    struct loop *loop;
    /* The layer above's state for this connection (a struct the layer above
     * defines; net/ only stores it and tests it for NULL). */
    struct conn_owner *owner;
    int          fd;
    unsigned     ops;          /* io_uring operations in flight for this conn */
    bool         recv_armed;   /* a multishot recv is active */
    bool         sending;      /* a send is in flight */
    bool         closing;      /* shut down: waiting for ops to finish */
    bool         connecting;   /* loop_connect in progress */
    bool         close_after_flush; /* close once out and the send in flight are gone */
    bool         paused;       /* on_data is not called until conn_resume */
    bool         queued;       /* on the loop's list of conns to send or resume */
    bool         resume;       /* call on_data on conn->in at the end of this turn */
    bool         yielded;      /* on the loop's list of conns to resume next turn */
    bool         recv_stopped; /* reading stopped while input piles up */
    char        *own_buf;      /* while a read into the conn's own buffer runs (the ring was dry) */
    struct buf   in;           /* received bytes; those before in_off are consumed */
    size_t       in_off;
    size_t       in_limit;     /* close the connection when `in` grows past this (0: no limit) */
    size_t       in_expect;    /* conn_input_expect's bytes, taken when the input is next kept */
    struct buf   out;          /* replies waiting for the end of the turn */
    /* Send fences (loop_release): out's first fenced_a bytes may go once the
     * loop's released mark reaches fence_a, those up to fenced_b once it
     * reaches fence_b (>= fence_a); bytes past fenced_b have no fence yet
     * (fenced_a == 0: none is held) */
    size_t       fenced_a, fenced_b;
    uint64_t     fence_a, fence_b;
    bool         held;         /* on the loop's list of conns waiting for a release */
    struct conn *next_held;
    struct buf   wire;         /* bytes of the send in flight */
    size_t       wire_off;     /* of wire, bytes already sent */
    /* Its reply buffer's size (the bigger of out's and wire's blocks, which
     * swap at each send) when the loop last looked, and whether it has had
     * one yet: struct loop_counts */
    size_t       reply_block;
    bool         reply_block_known;
    struct conn *next_queued;
    struct conn *next_yielded;
    struct conn *prev, *next;  /* every conn of the loop */
    struct sockaddr_storage peer;
    struct sockaddr_storage local;
};

struct loop_handlers {
    /* A connection was accepted. May call conn_close. */
    void   (*on_open)(void *arg, struct conn *c);
    /* Bytes arrived (or conn_resume asked to look at conn->in again).
     * Returns how many leading bytes were consumed; the rest is kept. */
    size_t (*on_data)(void *arg, struct conn *c, const char *p, size_t n);
    /* The connection is closed; c is freed after this returns. */
    void   (*on_close)(void *arg, struct conn *c);
    /* The output of c drained below what it was paused for (a send finished). */
    void   (*on_sent)(void *arg, struct conn *c);
    /* An outgoing connection (loop_connect) is up (err 0: it is reading) or
     * failed (err = -errno: c is freed after this returns, without on_close). */
    void   (*on_connect)(void *arg, struct conn *c, int err);
    /* Every 1000/hz ms. */
    void   (*on_tick)(void *arg);
    /* End of every turn, before sends are queued: take in work posted by
     * other threads and publish what this one posted. Returns true if more
     * work is already waiting (the loop then does not sleep). */
    bool   (*before_sleep)(void *arg);
    /* Cheap check, made after the sleeping flag is set: is work waiting? */
    bool   (*has_work)(void *arg);
    /* The mark output made so far must wait for before it is sent (see
     * loop_release), or 0 if it may go at once; NULL: never a fence. Asked
     * when a connection with new output is about to send. */
    uint64_t (*output_fence)(void *arg);
};

struct loop_options {
    const int *listen_fds;
    int        nlisten;
    int        hz;
    unsigned   recv_buffers;     /* provided buffers (power of two) */
    unsigned   recv_buffer_size;
    unsigned   ring_entries;     /* submission queue size (0: 4096); the
                                  * completion queue has 8 times as many */
};

/* Create the loop on the calling thread (the ring is bound to it). Returns
 * NULL after logging why. */
struct loop *loop_create(const struct loop_options *o, const struct loop_handlers *h, void *arg);
/* Tick every 1000/hz ms (hz 1..1000), from the tick after the one now
 * armed on (CONFIG SET hz). */
void loop_set_hz(struct loop *l, int hz);
/* Run turns until *stop is set, then close every connection and return. */
void loop_run(struct loop *l, atomic_int *stop);
void loop_destroy(struct loop *l);

/* The layer above appended to c->out: send it at the end of this turn. */
void conn_flush(struct conn *c);
/* Close now (after_flush false) or once the output is sent (true). No
 * on_data is called after either. */
void conn_close(struct conn *c, bool after_flush);
/* Stop or restart handing input to on_data (back-pressure, a command
 * waiting on other shards). Resume looks at conn->in in this same turn. */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);
/* on_data has had its share of this turn (a link applying a flood of
 * writes must not hold back the other connections of the shard): what it
 * did not consume stays in conn->in, and on_data is called on it again next
 * turn, after that turn's completions. Call from on_data. */
void conn_yield(struct conn *c);
/* Turns run so far: lets on_data count what it did in the current turn. */
unsigned long long loop_turns(const struct loop *l);

/* Send fences: output appended while output_fence named a mark above the
 * released one is held (with whatever output follows it on that
 * connection) until the layer above releases that mark: it may go from
 * this turn's end. Marks only grow. (The AOF holds replies until their
 * writes are in the file: shards/aof_fence.c.) */
void loop_release(struct loop *l, uint64_t mark);

/* Connect to addr (IPv4 or IPv6, port set) without blocking; owner is
 * stored in the new conn. Returns the conn (not yet connected: see
 * on_connect) or NULL if no socket could be made. */
struct conn *loop_connect(struct loop *l, const struct sockaddr_storage *addr, struct conn_owner *owner);
/* host (a numeric IPv4 or IPv6 address, or "localhost") and port as the
 * address loop_connect takes. Returns 0, or -1 if host is not one. */
int loop_parse_addr(const char *host, int port, struct sockaddr_storage *ss);

/* Told by on_data, before it returns: the input it leaves unconsumed (a
 * command begun) will grow to `bytes` in all. The loop makes room for them
 * in one allocation when it keeps that input, instead of doubling its
 * buffer read after read (each time a copy and fresh pages to touch: a
 * 64 MB argument took 3-4 s to arrive on this machine, redis-server 0.55
 * s). Ignored when the input already has the room; bytes is bounded by the
 * caller (proto-max-bulk-len). */
static inline void conn_input_expect(struct conn *c, size_t bytes) { c->in_expect = bytes; }

/* Bytes received and not consumed yet. */
static inline size_t conn_input_bytes(const struct conn *c) { return c->in.len - c->in_off; }
/* Bytes queued for sending (out + in flight). */
static inline size_t conn_output_bytes(const struct conn *c) { return c->out.len + (c->wire.len - c->wire_off); }
/* Memory its output holds (the buffers' capacity, sent bytes included until
 * the buffer is reused): what maxmemory leaves out for a replica. */
static inline size_t conn_output_memory(const struct conn *c) { return c->out.cap + c->wire.cap; }
/* Give back c's input buffer and its drained send buffer once they are
 * empty and bigger than keep bytes (from a tick, as Redis's clientsCron
 * resizes query buffers): a connection that once sent a big pipeline or
 * got a big reply does not hold its peak for ever. The input buffer only
 * holds copies of received bytes (reads go to the ring's buffers), the
 * out buffer is never in a send, and an empty wire buffer has no send in
 * flight, so nothing in the kernel points into any of them. */
void conn_trim_buffers(struct conn *c, size_t keep);

/* "ip:port" of an IPv4 or IPv6 address ("?:0" for another family). */
void conn_addr_text(const struct sockaddr_storage *a, char *out, size_t n);

/* TCP keepalive probes after `seconds` idle (0: off). */
void conn_set_keepalive(struct conn *c, int seconds);

/* Visit every open connection. */
typedef void loop_conn_fn(void *arg, struct conn *c);
void loop_each_conn(struct loop *l, loop_conn_fn *fn, void *arg);
size_t loop_conn_count(const struct loop *l);
/* Bytes the sends of every connection of l have written (the loop's
 * thread only). */
uint64_t loop_bytes_sent(const struct loop *l);
/* What the loop did, over every connection, ever (INFO stats). */
struct loop_counts {
    uint64_t reads;  /* receives that brought bytes: total_reads_processed */
    uint64_t writes; /* sends done: total_writes_processed */
    /* How often a connection's reply buffer (the bigger of its two
     * blocks) was found bigger than when the loop last looked (grown by
     * the replies written to it since: expands) and smaller (given back,
     * drained, by conn_trim_buffers or after a big send: shrinks). The
     * loop looks before each send and at each give-back, so one
     * connection counts at most one of each a send; a connection's first
     * block is not an expand (Redis allocates a client's reply buffer
     * with the client). reply_buffer_expands|shrinks. */
    uint64_t reply_expands, reply_shrinks;
};
/* The loop's thread only. */
const struct loop_counts *loop_counts(const struct loop *l);

/* Cross-shard wake-ups (ARCHITECTURE.md "Process model"): a loop about to sleep sets its flag;
 * another shard that posted work swaps the flag to 0 and, if it was set,
 * queues an IORING_OP_MSG_RING on its own ring to the sleeper's ring (sent
 * with its next submit: no extra syscall). */
void loop_wake(struct loop *self, struct loop *target);
/* Submit what the loop's ring has queued now (loop_wake's messages among
 * it), for a thread that must wait for another before its turn ends. */
void loop_submit(struct loop *l);
/* A doorbell for a thread of the process that has no loop (a shard
 * module's background thread: shards/cluster/state_file.c): loop_bell, on
 * the loop's thread, once, keeps a read armed on fd, an eventfd of the
 * caller's; the thread write()s to the eventfd, and the loop returns from
 * its wait (awake, it sees one more completion) and its turn runs the
 * layer above's turn hooks, which look for what the thread has done. No
 * syscall on the loop's side. The eventfd stays the caller's: it outlives
 * the loop (loop_destroy reaps the read) and the caller closes it once
 * nothing rings it any more. */
void loop_bell(struct loop *l, int fd);
/* A thread of the process that has no loop wakes a sleeping loop as
 * loop_wake does (a message on a small ring of its own, one syscall, none
 * if the loop is awake): the AOF's writer telling shards their replies may
 * go. NULL if no ring could be made (the loop then runs at its next
 * tick). Create and use on that one thread. */
struct loop_waker;
struct loop_waker *loop_waker_create(void);
void loop_waker_wake(struct loop_waker *w, struct loop *target);
void loop_waker_destroy(struct loop_waker *w);
/* Did the last turn bring no socket completions (the loop is about to wait,
 * unless mail or a handler keeps it busy)? For work worth batching while
 * busy and worth doing at once when idle. */
bool loop_turn_idle(const struct loop *l);
const char *loop_ring_mode(const struct loop *l);

#endif
