/* slowlog: a ring of the newest slow commands of one shard.
 *
 * The ring grows on demand up to slowlog-max-len and is rebuilt smaller,
 * keeping the newest entries, when that limit is lowered at run time (CONFIG
 * SET), so the oldest are dropped first, as Redis trims its list. Only the
 * owning shard touches it. */
#include "core/slowlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

void slowlog_init(struct slowlog *l)
{
    memset(l, 0, sizeof(*l));
}

static void entry_free(struct slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        buf_free(&e->argv[i]);
    mi_free(e->argv);
    memset(e, 0, sizeof(*e));
}

/* The i-th newest entry (0 = newest); i < count. */
static struct slowlog_entry *nth_newest(struct slowlog *l, size_t i)
{
    size_t at = (l->head + l->capacity - 1 - i) % l->capacity;
    return &l->ring[at];
}

void slowlog_reset(struct slowlog *l)
{
    for (size_t i = 0; i < l->count; i++)
        entry_free(nth_newest(l, i));
    l->count = 0;
    l->head = 0;
}

void slowlog_deinit(struct slowlog *l)
{
    slowlog_reset(l);
    mi_free(l->ring);
    l->ring = NULL;
    l->capacity = 0;
}

/* Rebuild the ring with room for cap entries, keeping the newest. */
static void slowlog_resize(struct slowlog *l, size_t cap)
{
    size_t keep = l->count < cap ? l->count : cap;
    struct slowlog_entry *ring = NULL;
    if (cap > 0) {
        ring = mi_calloc(cap, sizeof(*ring));
        if (ring == NULL)
            abort();
    }
    /* oldest kept first, newest at keep-1 */
    for (size_t i = 0; i < keep; i++)
        ring[keep - 1 - i] = *nth_newest(l, i);
    for (size_t i = keep; i < l->count; i++)
        entry_free(nth_newest(l, i));
    mi_free(l->ring);
    l->ring = ring;
    l->capacity = cap;
    l->count = keep;
    l->head = cap ? keep % cap : 0;
}

static void copy_args(struct slowlog_entry *e, int argc, const struct slice *argv)
{
    int kept = argc < SLOWLOG_MAX_ARGS ? argc : SLOWLOG_MAX_ARGS;
    e->argc = kept;
    e->argv = mi_calloc(kept > 0 ? (size_t)kept : 1, sizeof(struct buf));
    if (e->argv == NULL)
        abort();
    for (int j = 0; j < kept; j++) {
        struct buf *b = &e->argv[j];
        buf_init(b);
        if (kept != argc && j == kept - 1) {
            buf_printf(b, "... (%d more arguments)", argc - kept + 1);
        } else if (argv[j].len > SLOWLOG_MAX_ARG_LEN) {
            buf_append(b, argv[j].ptr, SLOWLOG_MAX_ARG_LEN);
            buf_printf(b, "... (%zu more bytes)", argv[j].len - SLOWLOG_MAX_ARG_LEN);
        } else {
            buf_append(b, argv[j].ptr, argv[j].len);
        }
    }
}

void slowlog_add(struct slowlog *l, uint64_t id, size_t max_len, int64_t now_s,
                 uint64_t usec, int argc, const struct slice *argv,
                 const char *addr, const char *name)
{
    if (l->capacity > max_len)
        slowlog_resize(l, max_len);         /* slowlog-max-len was lowered */
    if (max_len == 0)
        return;
    if (l->count == l->capacity && l->capacity < max_len) {
        /* grow on demand: max_len may be huge while few commands are slow */
        size_t cap = l->capacity ? l->capacity * 2 : 16;
        slowlog_resize(l, cap < max_len ? cap : max_len);
    }
    struct slowlog_entry *e = &l->ring[l->head];
    if (l->count == l->capacity)
        entry_free(e); /* the oldest */
    else
        l->count++;
    l->head = (l->head + 1) % l->capacity;

    e->id = id;
    e->time_s = now_s;
    e->usec = usec;
    copy_args(e, argc, argv);
    snprintf(e->addr, sizeof(e->addr), "%s", addr ? addr : "");
    snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
}
