/* state_file: the cluster config file's writer thread (see state_file.h). */
#include "shards/cluster/state_file.h"
#include "core/file_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/futex.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

/* One text handed over: the slot owns it until the writer takes it. */
struct handed {
    uint64_t ticket;
    size_t   len;
    char     text[];
};

struct state_file {
    char path[1024];
    _Atomic(struct handed *) slot;  /* the newest text not taken yet, or NULL */
    _Atomic uint32_t calls;         /* futex word: bumped by each hand and by stop */
    atomic_bool stop;
    _Atomic uint64_t durable;       /* the highest ticket in the file */
    _Atomic uint64_t failed;        /* the highest ticket whose write failed */
    atomic_int failed_errno;
    uint64_t handed;                /* shard 0: the last ticket handed */
    int bell;                       /* eventfd rung after each write */
    pthread_t thread;
};

int state_file_write(const char *path, const char *text, size_t len)
{
    return file_replace(path, text, len, 0644);
}

static void futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *writer_run(void *arg)
{
    struct state_file *f = arg;
    for (;;) {
        /* read the word before looking at the slot: a hand after the look
         * bumps it, so the wait below returns at once */
        uint32_t seen = atomic_load_explicit(&f->calls, memory_order_acquire);
        struct handed *h = atomic_exchange_explicit(&f->slot, NULL, memory_order_acq_rel);
        if (h) {
            if (state_file_write(f->path, h->text, h->len) == 0) {
                atomic_store_explicit(&f->durable, h->ticket, memory_order_release);
            } else {
                atomic_store_explicit(&f->failed_errno, errno, memory_order_relaxed);
                atomic_store_explicit(&f->failed, h->ticket, memory_order_release);
            }
            mi_free(h);
            uint64_t one = 1;
            while (write(f->bell, &one, sizeof(one)) < 0 && errno == EINTR)
                ;
            continue;
        }
        if (atomic_load_explicit(&f->stop, memory_order_acquire))
            break;
        syscall(SYS_futex, &f->calls, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
    }
    return NULL;
}

struct state_file *state_file_start(const char *path)
{
    struct state_file *f = mi_zalloc(sizeof(*f));
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->bell = eventfd(0, EFD_CLOEXEC);
    if (f->bell < 0) {
        mi_free(f);
        return NULL;
    }
    int rc = pthread_create(&f->thread, NULL, writer_run, f);
    if (rc != 0) {
        close(f->bell);
        mi_free(f);
        errno = rc;
        return NULL;
    }
    pthread_setname_np(f->thread, "cluster-file");
    return f;
}

int state_file_bell(const struct state_file *f)
{
    return f->bell;
}

uint64_t state_file_hand(struct state_file *f, const char *text, size_t len)
{
    struct handed *h = mi_malloc(sizeof(*h) + len);
    uint64_t ticket = ++f->handed;
    h->ticket = ticket;
    h->len = len;
    memcpy(h->text, text, len);
    struct handed *old = atomic_exchange_explicit(&f->slot, h, memory_order_acq_rel);
    mi_free(old); /* not taken yet: this newer one is written instead */
    atomic_fetch_add_explicit(&f->calls, 1, memory_order_release);
    futex_wake(&f->calls);
    return ticket; /* not h->ticket: the writer may have freed h already */
}

uint64_t state_file_handed(const struct state_file *f)
{
    return f->handed;
}

uint64_t state_file_durable(const struct state_file *f)
{
    return atomic_load_explicit(&f->durable, memory_order_acquire);
}

uint64_t state_file_failed(const struct state_file *f, int *err)
{
    uint64_t t = atomic_load_explicit(&f->failed, memory_order_acquire);
    if (err)
        *err = atomic_load_explicit(&f->failed_errno, memory_order_relaxed);
    return t;
}

void state_file_stop(struct state_file *f)
{
    if (!f)
        return;
    atomic_store_explicit(&f->stop, true, memory_order_release);
    atomic_fetch_add_explicit(&f->calls, 1, memory_order_release);
    futex_wake(&f->calls);
    pthread_join(f->thread, NULL);
    close(f->bell);
    mi_free(f);
}
