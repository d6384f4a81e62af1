#include "shards/message.h"
#include "shards/store/store.h"

#include <mimalloc.h>
#include <string.h>

#include "shards/aof_fence.h"
#include "shards/dispatch.h"
#include "shards/mailbox.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "net/loop.h"

struct shard_msg *msg_create(int kind, int home, int target, struct pending *p,
                             int part, const struct slice *args, int argc)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += args[i].len + 1;
    struct shard_msg *m = mi_malloc(sizeof(*m) + sizeof(struct slice) * (size_t)argc + bytes);
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->home = home;
    m->target = target;
    m->pending = p;
    m->part = part;
    m->argc = argc;
    m->argv = (struct slice *)(m + 1);
    char *d = (char *)(m->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(d, args[i].ptr, args[i].len);
        d[args[i].len] = '\0';
        m->argv[i].ptr = d;
        m->argv[i].len = args[i].len;
        d += args[i].len + 1;
    }
    return m;
}

void msg_free(struct shard_msg *m)
{
    buf_free(&m->payload);
    buf_free(&m->reply);
    mi_free(m);
}

void msg_post(struct shard *sh, struct shard_msg *m, int to)
{
    struct mailbox *mb = node_mailbox(sh->node, sh->id, to);
    m->next = NULL;
    if (sh->overflow_head[to] || !mailbox_push(mb, m)) {
        if (sh->overflow_tail[to])
            sh->overflow_tail[to]->next = m;
        else
            sh->overflow_head[to] = m;
        sh->overflow_tail[to] = m;
    }
    sh->posted[to] = true;
}

bool mail_publish(struct shard *sh)
{
    bool more = false;
    aof_fence_publish(sh); /* the writes behind the replies it sends */
    for (int to = 0; to < sh->node->nshards; to++) {
        if (!sh->posted[to])
            continue;
        struct mailbox *mb = node_mailbox(sh->node, sh->id, to);
        while (sh->overflow_head[to] && mailbox_push(mb, sh->overflow_head[to])) {
            sh->overflow_head[to] = sh->overflow_head[to]->next;
            if (!sh->overflow_head[to])
                sh->overflow_tail[to] = NULL;
        }
        mailbox_publish(mb);
        if (to != sh->id)
            loop_wake(sh->loop, sh->node->shards[to]->loop);
        if (sh->overflow_head[to])
            more = true;
        else
            sh->posted[to] = false;
    }
    return more;
}

/* Before running a batch of requests from another shard, prefetch what the
 * first key of each will touch in our store, so their lookups overlap their
 * cache misses (as a pipeline from a client does, prefetch.c): the entries a
 * hop touches were last touched here, but the request itself arrives cold. */
#define MAIL_BATCH 16
static void prefetch_requests(struct shard *sh, struct shard_msg *const *batch, int n)
{
    uint64_t h[MAIL_BATCH];
    int k = 0;
    for (int i = 0; i < n; i++) {
        const struct shard_msg *m = batch[i];
        if (m->handler || m->answered || m->kind != MSG_EXEC || !m->cmd)
            continue;
        int first = m->cmd->first_key;
        if (first > 0 && first < m->argc)
            h[k++] = store_key_hash(m->argv[first]);
    }
    if (k < 2)
        return;
    for (int i = 0; i < k; i++)
        store_prefetch_bucket(sh->store, h[i]);
    for (int i = 0; i < k; i++)
        store_prefetch_entry(sh->store, h[i]);
}

bool mail_exchange(struct shard *sh)
{
    int n = sh->node->nshards;
    shard_clock_start(sh, false);
    mail_publish(sh);
    for (int from = 0; from < n; from++) {
        /* from == sh->id: messages a shard sends itself (replication
         * bookkeeping on shard 0), handled a turn later like any other */
        struct mailbox *mb = node_mailbox(sh->node, from, sh->id);
        struct shard_msg *batch[MAIL_BATCH];
        int budget = 4096; /* bounded, so one busy peer cannot starve our sockets */
        while (budget > 0) {
            int got = 0;
            while (got < MAIL_BATCH && (batch[got] = mailbox_pop(mb)) != NULL)
                got++;
            if (got == 0)
                break;
            budget -= got;
            prefetch_requests(sh, batch, got);
            for (int i = 0; i < got; i++)
                dispatch_message(sh, batch[i]);
        }
    }
    bool more = mail_publish(sh);
    return more || mail_waiting(sh);
}

bool mail_waiting(struct shard *sh)
{
    int n = sh->node->nshards;
    for (int from = 0; from < n; from++)
        if (mailbox_has_mail(node_mailbox(sh->node, from, sh->id)))
            return true;
    return false;
}
