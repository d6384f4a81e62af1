#include "net/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int ring_setup(struct io_uring *r, unsigned sq_entries, const char **mode)
{
    static const struct { unsigned flags; const char *name; } tries[] = {
        { IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single-issuer+defer-taskrun" },
        { IORING_SETUP_COOP_TASKRUN, "coop-taskrun" },
        { 0, "plain" },
    };
    int ret = -EINVAL;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = tries[i].flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        p.cq_entries = sq_entries * 8;
        ret = io_uring_queue_init_params(sq_entries, r, &p);
        if (ret == -EINVAL) { /* maybe SUBMIT_ALL is unknown: try without it */
            p.flags &= ~IORING_SETUP_SUBMIT_ALL;
            ret = io_uring_queue_init_params(sq_entries, r, &p);
        }
        if (ret == 0) {
            if (mode) *mode = tries[i].name;
            io_uring_register_ring_fd(r); /* an optimisation: failure is fine */
            return 0;
        }
    }
    return ret;
}

struct io_uring_sqe *ring_sqe(struct io_uring *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(r);
    while (!sqe) {
        io_uring_submit(r);
        sqe = io_uring_get_sqe(r);
    }
    return sqe;
}

int buf_pool_setup(struct io_uring *r, struct buf_pool *p, unsigned bgid, unsigned nbufs, unsigned bufsize)
{
    memset(p, 0, sizeof(*p));
    size_t ring_bytes = (size_t)nbufs * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED)
        return -errno;
    p->mem = mmap(NULL, (size_t)nbufs * bufsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p->mem == MAP_FAILED) {
        munmap(br, ring_bytes);
        return -errno;
    }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)br;
    reg.ring_entries = nbufs;
    reg.bgid = (unsigned short)bgid;
    int ret = io_uring_register_buf_ring(r, &reg, 0);
    if (ret) {
        munmap(br, ring_bytes);
        munmap(p->mem, (size_t)nbufs * bufsize);
        return ret;
    }
    p->br = br;
    p->nbufs = nbufs;
    p->bufsize = bufsize;
    p->bgid = bgid;
    p->mask = io_uring_buf_ring_mask(nbufs);
    io_uring_buf_ring_init(p->br);
    for (unsigned i = 0; i < nbufs; i++)
        io_uring_buf_ring_add(p->br, buf_pool_data(p, i), bufsize, (unsigned short)i, p->mask, (int)i);
    io_uring_buf_ring_advance(p->br, (int)nbufs);
    return 0;
}

void buf_pool_teardown(struct io_uring *r, struct buf_pool *p)
{
    if (!p->br)
        return;
    io_uring_unregister_buf_ring(r, (int)p->bgid);
    munmap(p->br, (size_t)p->nbufs * sizeof(struct io_uring_buf));
    munmap(p->mem, (size_t)p->nbufs * p->bufsize);
    p->br = NULL;
}
