/* pause: CLIENT PAUSE / CLIENT UNPAUSE and the write pause of a FAILOVER,
 * with Redis 6.2's semantics.
 *
 * While writes are paused, a client's write command is not refused: it is
 * held, and with it everything that client sent after it, until the pause
 * ends; then it runs as if it had just arrived (on a node that became a
 * replica meanwhile, that means -READONLY; in a cluster, a FAILOVER's old
 * master holds writes until its table names the new master, and they get
 * -MOVED to it). Reads from other clients go on.
 * CLIENT PAUSE ALL holds every command, CLIENT UNPAUSE included, until its
 * timeout. Queued commands inside MULTI count as what they are, and an EXEC
 * whose queue holds a write is a write. Replication links never pass
 * through here.
 *
 * The pause is the node's (atomics any shard reads on the command path: two
 * relaxed loads); each shard keeps its own list of sessions holding a
 * command and releases them from its loop: at once when CLIENT UNPAUSE or
 * the end of a FAILOVER posts MSG_UNPAUSE to every shard, at the next tick
 * when a pause's timeout runs out.
 *
 * While writes are paused the keyspace stands still, as in Redis: the
 * stores delete no key by themselves (pause_keeps_keys is their hold). A key
 * past its time reads as missing but stays, no DEL enters the stream, and a
 * FAILOVER's target can catch up with an offset that does not move; the
 * DELs flow once the pause ends. Eviction waits too (writes, which would
 * need the room, wait anyway). */
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/numbers.h"
#include "core/reply.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/session.h"
#include "shards/shard.h"

/* The CLIENT PAUSE in force at now_ms, PAUSE_NONE once its time is up. */
static int client_pause_mode(const struct node *n, int64_t now_ms)
{
    int mode = atomic_load_explicit(&n->client_pause_mode, memory_order_relaxed);
    if (mode != PAUSE_NONE && now_ms >= atomic_load_explicit(&n->client_pause_end_ms, memory_order_relaxed))
        return PAUSE_NONE;
    return mode;
}

bool pause_keeps_keys(void *shard, int64_t now_ms)
{
    const struct node *n = ((struct shard *)shard)->node;
    return atomic_load_explicit(&n->repl_writes_paused, memory_order_relaxed) != 0 ||
           client_pause_mode(n, now_ms) != PAUSE_NONE;
}

bool pause_any(const struct node *n)
{
    return atomic_load_explicit(&n->client_pause_mode, memory_order_relaxed) != PAUSE_NONE ||
           atomic_load_explicit(&n->repl_writes_paused, memory_order_relaxed) != 0;
}

bool pause_holds(struct shard *sh, const struct session *s, const struct command *cmd)
{
    const struct node *n = sh->node;
    if (s->in_exec)
        return false; /* EXEC already passed the check as a whole */
    int mode = client_pause_mode(n, shard_now_ms(sh));
    if (mode == PAUSE_ALL)
        return true;
    bool write = (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) ||
                 ((cmd->flags & CMD_EXEC) && s->in_multi && s->multi_writes);
    if (!write)
        return false;
    bool failover = atomic_load_explicit(&n->repl_writes_paused, memory_order_relaxed);
    if (failover && node_is_replica(n))
        /* a FAILOVER's old master: in a cluster its writes wait until its
         * table names the new master (then the key gate answers -MOVED to
         * it, as Redis Cluster's old master does), not -READONLY */
        return n->role_recorded && !n->role_recorded(n);
    if (node_write_refusal(n))
        return false; /* a replica's -READONLY (or -NOREPLICAS) comes first, as in Redis */
    return mode == PAUSE_WRITE || failover;
}

void pause_hold(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                const struct slice *argv)
{
    s->held = msg_create(MSG_EXEC, sh->id, sh->id, NULL, -1, argv, argc);
    s->held_cmd = cmd;
    sh->held = mi_realloc(sh->held, sizeof(*sh->held) * (size_t)(sh->nheld + 1));
    sh->held[sh->nheld++] = s;
    if (s->conn)
        conn_pause(s->conn);
}

static void unlist(struct shard *sh, int i)
{
    /* keep the order: clients held first are released first */
    memmove(&sh->held[i], &sh->held[i + 1], sizeof(*sh->held) * (size_t)(sh->nheld - i - 1));
    sh->nheld--;
}

void pause_release(struct shard *sh)
{
    for (int i = 0; i < sh->nheld;) {
        struct session *s = sh->held[i];
        struct shard_msg *m = s->held;
        if (pause_holds(sh, s, s->held_cmd)) {
            i++;
            continue;
        }
        unlist(sh, i);
        s->held = NULL;
        dispatch_run_held(sh, s, m->argc, m->argv);
        msg_free(m);
        /* the command may have been held again (a new pause): it is at the
         * list's end, and the loop does not look at it twice */
    }
}

void pause_session_end(struct shard *sh, struct session *s)
{
    if (!s->held)
        return;
    for (int i = 0; i < sh->nheld; i++)
        if (sh->held[i] == s) {
            unlist(sh, i);
            break;
        }
    msg_free(s->held);
    s->held = NULL;
}

/* Every shard looks at its held clients now (its own included). */
void pause_wake_all(struct shard *sh)
{
    for (int i = 0; i < sh->node->nshards; i++)
        msg_post(sh, msg_create(MSG_UNPAUSE, sh->id, i, NULL, -1, NULL, 0), i);
}

/* A pause never shortens or weakens one in force (Redis keeps the later
 * end and the stronger mode). */
void pause_start(struct node *n, int64_t now_ms, long long timeout_ms, int mode)
{
    int64_t end = timeout_ms > INT64_MAX - now_ms ? INT64_MAX : now_ms + timeout_ms;
    int old = client_pause_mode(n, now_ms);
    int64_t old_end = atomic_load(&n->client_pause_end_ms);
    if (old == PAUSE_NONE || end > old_end)
        atomic_store(&n->client_pause_end_ms, end);
    if (old == PAUSE_NONE || mode > old)
        atomic_store(&n->client_pause_mode, mode);
}

void pause_stop(struct shard *sh)
{
    struct node *n = sh->node;
    atomic_store(&n->client_pause_mode, PAUSE_NONE);
    atomic_store(&n->client_pause_end_ms, 0);
    pause_wake_all(sh);
}
