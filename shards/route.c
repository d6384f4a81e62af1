/* route: from a parsed command to where it runs. The table lookup and the
 * checks every command passes (arity, auth, subscribe mode, pauses, MULTI's
 * queue, the write gate), then the row's flags and key positions decide:
 * here, one other shard, split per shard, every shard, or a scratch store
 * (dispatch.h has the rules). EXEC replays its queue through the same path. */
#include "shards/dispatch.h"
#include "shards/dispatch_internal.h"

#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/blocking.h"
#include "shards/blocking_move.h"
#include "shards/message.h"
#include "shards/monitor.h"
#include "shards/node.h"
#include "shards/hold.h"
#include "shards/scratch.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

static int key_shard(const struct shard *sh, struct slice key);

/* A blocking command (a row with a merge: BLPOP, BRPOP, BLMPOP) whose keys are on
 * several shards: one part per shard, each with the whole argument list
 * (a shard finds only its own keys) and one shared claim, so that one part
 * only takes elements (shards/blocking.h); the merge keeps its reply. The
 * connection reads nothing more until every part is back. */
static void route_blocking_parts(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                                 const struct slice *argv)
{
    int n = sh->node->nshards;
    bool *has = mi_calloc((size_t)n, sizeof *has);
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    long long nk;
    if ((cmd->flags & CMD_NUMKEYS) && parse_ll(argv[cmd->first_key - 1], &nk) && nk > 0 &&
        nk <= argc - cmd->first_key)
        last = cmd->first_key + (int)nk - 1; /* the counted keys (blocking_shard_of checked them) */
    if (cmd->flags & CMD_STREAMS_KEYS) {
        int nkeys = command_keys(cmd, argc, argv, NULL, 0);
        int *idx = mi_malloc(sizeof(int) * (size_t)(nkeys ? nkeys : 1));
        command_keys(cmd, argc, argv, idx, nkeys);
        for (int k = 0; k < nkeys; k++)
            has[key_shard(sh, argv[idx[k]])] = true;
        mi_free(idx);
        last = 0; /* no range below */
    }
    for (int i = cmd->first_key; i > 0 && i <= last && i < argc; i += cmd->key_step ? cmd->key_step : 1)
        has[key_shard(sh, argv[i])] = true;
    struct pending *p = session_pending_add(s, STAGE_MERGE);
    p->cmd = cmd;
    p->holds = true;
    p->count_once = true;
    s->blocked = true;
    for (int t = 0; t < n; t++)
        p->nparts += has[t];
    p->parts = mi_calloc((size_t)p->nparts, sizeof(struct buf));
    void *claim = blocking_claim_new();
    int part = 0;
    for (int t = 0; t < n; t++) {
        if (!has[t])
            continue;
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, t, p, part++, argv, argc);
        m->cmd = cmd;
        m->value = 1; /* may block (blocking.c) */
        m->arg = claim;
        p->waiting++;
        dispatch_send_request(sh, s, m);
    }
    mi_free(has);
}

/* The shard holding every key a blocking command waits on, or -1 when they
 * are on several. A CMD_NUMKEYS row's keys are the counted ones. */
static int blocking_shard_of(const struct shard *sh, const struct command *cmd, int argc,
                             const struct slice *argv, int gate_slot)
{
    if (gate_slot >= 0)
        return shard_of_slot(sh->node, (unsigned)gate_slot);
    int first = cmd->first_key, last;
    if (cmd->flags & CMD_STREAMS_KEYS) {
        int nkeys = command_keys(cmd, argc, argv, NULL, 0), owner = -1;
        int *idx = mi_malloc(sizeof(int) * (size_t)(nkeys ? nkeys : 1));
        command_keys(cmd, argc, argv, idx, nkeys);
        for (int k = 0; k < nkeys && owner != -2; k++) {
            int o = key_shard(sh, argv[idx[k]]);
            owner = owner >= 0 && o != owner ? -2 : o;
        }
        mi_free(idx);
        return owner == -2 ? -1 : owner >= 0 ? owner : sh->id;
    }
    if (cmd->flags & CMD_NUMKEYS) {
        long long nk;
        if (first < 2 || first - 1 >= argc || !parse_ll(argv[first - 1], &nk) || nk <= 0)
            return sh->id; /* the handler's own error, here */
        last = nk > argc - first ? argc - 1 : first + (int)nk - 1;
    } else {
        last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    }
    int owner = -1;
    for (int i = first; i > 0 && i <= last && i < argc; i += cmd->key_step ? cmd->key_step : 1) {
        int o = key_shard(sh, argv[i]);
        if (owner >= 0 && o != owner)
            return -1;
        owner = o;
    }
    return owner >= 0 ? owner : sh->id;
}

/* Whether a blocking row's command may block: XREAD and XREADGROUP only
 * with BLOCK before STREAMS (without it, over several shards, they read
 * every key on a scratch store, as any command of several keys, instead
 * of one shard's in parts). */
static bool may_block(const struct command *cmd, int argc, const struct slice *argv)
{
    if (!(cmd->flags & CMD_STREAMS_KEYS))
        return true;
    for (int i = 1; i < argc && !slice_eq_nocase(argv[i], "streams"); i++)
        if (slice_eq_nocase(argv[i], "block"))
            return true;
    return false;
}

static int key_shard(const struct shard *sh, struct slice key)
{
    return shard_of_slot(sh->node, key_slot(key.ptr, key.len));
}

/* Every shard runs the command; the merge combines. */
static void route_all_shards(struct shard *sh, struct session *s, const struct command *cmd,
                             int argc, const struct slice *argv)
{
    int n = sh->node->nshards;
    struct pending *p = session_pending_add(s, STAGE_MERGE);
    p->cmd = cmd;
    p->nparts = n;
    p->parts = mi_calloc((size_t)n, sizeof(struct buf));
    p->log_once = true;
    p->count_once = true;
    for (int t = 0; t < n; t++) {
        if (t == sh->id)
            continue;
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, t, p, t, argv, argc);
        m->cmd = cmd;
        p->waiting++;
        dispatch_send_request(sh, s, m);
    }
    p->usec += dispatch_run_uncounted(sh, cmd, argc, argv, &p->parts[sh->id], s->client.proto, &s->client,
                                      s->client.id);
    if (p->waiting == 0) {
        dispatch_slow_record(sh, p->usec, argc, argv, &s->client);
        pending_complete(sh, p);
    }
}

/* Would a part of a split command that may add memory (MSET) be refused
 * with -OOM on its shard? Each part checks on its own shard, so without
 * this the parts of the shards still under their share would be written:
 * Redis makes one check for the whole command. Under noeviction a shard
 * over its share refuses (read from the used_memory the shards publish
 * every turn: a turn old at most); the other policies make room on each
 * shard, and the per-part check stays for what this cannot see. */
static bool split_over_memory(struct shard *sh, const int *owner, int nk)
{
    size_t limit = shard_memory_limit(sh);
    if (limit == 0 || config_load(&sh->node->config, maxmemory_policy) != EVICT_NOEVICTION)
        return false;
    for (int k = 0; k < nk; k++) {
        const struct shard *t = sh->node->shards[owner[k]];
        uint64_t used = owner[k] == sh->id ? shard_used_memory(sh)
                                           : __atomic_load_n(&t->stats.used_memory, __ATOMIC_RELAXED);
        if (used > limit)
            return true;
    }
    return false;
}

/* Keys over several shards, command splittable: one sub-command per shard
 * with that shard's keys (each key with the key_step-1 arguments after it). */
static void route_split(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                        const struct slice *argv, const int *idx, const int *owner, int nk)
{
    if ((cmd->flags & CMD_DENYOOM) && split_over_memory(sh, owner, nk)) {
        session_reply_error(s, ERR_OOM);
        stats_command_rejected(&sh->stats, cmd->index);
        return;
    }
    int n = sh->node->nshards;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    int *part_of_shard = mi_malloc(sizeof(int) * (size_t)n);
    for (int t = 0; t < n; t++)
        part_of_shard[t] = -1;
    struct pending *p = session_pending_add(s, STAGE_MERGE);
    p->cmd = cmd;
    p->count_once = true;
    if (config_load(&sh->node->config, slowlog_slower_than) >= 0) {
        /* logged once, as sent, with the time of all its parts */
        pending_keep_command(sh, p, argc, argv);
        p->log_once = true;
    }
    p->nkeys = nk;
    p->part_of_key = mi_malloc(sizeof(int) * (size_t)nk);
    int *part_shard = mi_malloc(sizeof(int) * (size_t)n);
    for (int k = 0; k < nk; k++) {
        int t = owner[k];
        if (part_of_shard[t] < 0) {
            part_of_shard[t] = p->nparts;
            part_shard[p->nparts] = t;
            p->nparts++;
        }
        p->part_of_key[k] = part_of_shard[t];
    }
    p->parts = mi_calloc((size_t)p->nparts, sizeof(struct buf));
    struct slice *sub = mi_malloc(sizeof(struct slice) * (size_t)argc);
    int local_part = -1;
    int local_argc = 0;
    struct slice *local_argv = NULL;
    for (int part = 0; part < p->nparts; part++) {
        int t = part_shard[part];
        int sc = 0;
        for (int i = 0; i < cmd->first_key; i++)
            sub[sc++] = argv[i];
        for (int k = 0; k < nk; k++)
            if (owner[k] == t)
                for (int j = 0; j < step && idx[k] + j < argc; j++)
                    sub[sc++] = argv[idx[k] + j];
        for (int i = idx[nk - 1] + step; i < argc; i++)
            sub[sc++] = argv[i];
        if (t == sh->id) {
            local_part = part;
            local_argc = sc;
            local_argv = mi_malloc(sizeof(struct slice) * (size_t)sc);
            memcpy(local_argv, sub, sizeof(struct slice) * (size_t)sc);
            continue;
        }
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, t, p, part, sub, sc);
        m->cmd = cmd;
        p->waiting++;
        dispatch_send_request(sh, s, m);
    }
    if (local_part >= 0) {
        uint64_t usec = dispatch_run_uncounted(sh, cmd, local_argc, local_argv, &p->parts[local_part],
                                               s->client.proto, &s->client, s->client.id);
        p->usec += usec;
        if (!p->log_once)
            dispatch_slow_record(sh, usec, local_argc, local_argv, &s->client);
        mi_free(local_argv);
    }
    mi_free(sub);
    mi_free(part_shard);
    mi_free(part_of_shard);
    if (p->waiting == 0)
        pending_complete(sh, p);
}

/* Keys over several shards, not splittable: fetch copies, run here. */
static void route_scratch(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                          const struct slice *argv, const int *idx, const int *owner, int nk)
{
    int n = sh->node->nshards;
    struct pending *p = session_pending_add(s, STAGE_EXPORT);
    p->cmd = cmd;
    p->holds = true;
    p->nkeys = nk;
    pending_keep_command(sh, p, argc, argv);
    const struct slice *args = p->argv;
    p->part_of_key = mi_malloc(sizeof(int) * (size_t)nk);
    p->part_shard = mi_malloc(sizeof(int) * (size_t)n);
    int *part_of_shard = mi_malloc(sizeof(int) * (size_t)n);
    for (int t = 0; t < n; t++)
        part_of_shard[t] = -1;
    for (int k = 0; k < nk; k++) {
        int t = owner[k];
        if (part_of_shard[t] < 0) {
            part_of_shard[t] = p->nparts;
            p->part_shard[p->nparts++] = t;
        }
        p->part_of_key[k] = part_of_shard[t];
    }
    p->parts = mi_calloc((size_t)p->nparts, sizeof(struct buf));
    struct slice *keys = mi_malloc(sizeof(struct slice) * (size_t)nk);
    /* COPY ... DB n: the destination's copy from database n (its shard is
     * not the source's, or the command would not need copies) */
    int dest_db = dispatch_dest_db(sh, cmd, argc, args, p->db);
    int dest_shard = dest_db != p->db && nk > DISPATCH_DEST_KEY ? owner[DISPATCH_DEST_KEY] : -1;
    for (int part = 0; part < p->nparts; part++) {
        int t = p->part_shard[part];
        int db = t == dest_shard ? dest_db : p->db;
        int kc = 0;
        for (int k = 0; k < nk; k++)
            if (owner[k] == t)
                keys[kc++] = args[idx[k]];
        if (t == sh->id) {
            keys_export(shard_db(sh, db), kc, keys, &p->parts[part], shard_now_ms(sh));
            continue;
        }
        struct shard_msg *m = msg_create(MSG_EXPORT, sh->id, t, p, part, keys, kc);
        p->waiting++;
        dispatch_send_request_in(sh, s, m, db);
    }
    mi_free(keys);
    mi_free(part_of_shard);
    s->blocked = true;
    if (p->waiting == 0)
        pending_complete(sh, p);
}

/* Over maxmemory even after evicting what the policy allows from this
 * shard's part of the keyspace (the part the connection's commands are
 * checked against before they are queued). */
static bool over_memory(struct shard *sh)
{
    size_t limit = shard_memory_limit(sh);
    if (limit == 0)
        return false;
    long long policy = config_load(&sh->node->config, maxmemory_policy);
    return !shard_make_room(sh, limit, (int)policy, shard_now_ms(sh));
}

const char *dispatch_exec_refusal(struct shard *sh, const struct session *s)
{
    if (s->multi_denyoom && over_memory(sh))
        return ERR_OOM;
    return s->multi_writes ? node_write_refusal(sh->node) : NULL;
}

/* Inside MULTI: keep the command (as RESP) for EXEC and answer +QUEUED. */
static void queue_command(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                          const struct slice *argv)
{
    size_t limit = (size_t)config_load(&sh->node->config, client_query_buffer_limit);
    size_t need = 16;
    for (int i = 0; i < argc; i++)
        need += argv[i].len + 16;
    if (s->multi_cmds.len + need > limit) {
        session_reply_error(s, "ERR MULTI queue over client-query-buffer-limit");
        return;
    }
    resp_encode_command(&s->multi_cmds, argc, argv);
    s->multi_count++;
    if (cmd->flags & CMD_WRITE)
        s->multi_writes = true;
    if (cmd->flags & CMD_DENYOOM)
        s->multi_denyoom = true;
    struct reply r = { session_reply_target(s), s->client.proto };
    reply_simple(&r, "QUEUED");
}

/* Keys that run to the end of the command in groups (MSET, MSETNX: key
 * value ...) come in whole groups. Redis checks this in the command itself
 * (the arity allows any count), so inside MULTI it is queued and fails in
 * EXEC's array; here it is checked before routing, since the parts of a
 * split command run on their own. */
static bool key_groups_whole(const struct command *cmd, int argc)
{
    if (cmd->first_key <= 0 || cmd->last_key >= 0 || cmd->key_step <= 1)
        return true;
    return (argc - cmd->first_key) % cmd->key_step == 0;
}

/* Run EXEC's queue from where it stopped until it ends or a scratch
 * command blocks the session (pending_complete calls this again when that
 * command is done). A call made while an outer one is looping (a scratch
 * command complete at once) leaves the rest to the outer one. */
void dispatch_replay_continue(struct shard *sh, struct session *s)
{
    if (s->replaying)
        return;
    s->replaying = true;
    struct resp_parser parser;
    resp_parser_init(&parser);
    /* the queue holds only commands the input limits (proto-max-bulk-len, as
     * set when each arrived) let through: reading them back checks nothing */
    struct resp_limits lim = { LLONG_MAX, LLONG_MAX, SIZE_MAX, false };
    while (s->exec_used < s->exec_cmds.len && !s->blocked && s->conn) {
        size_t consumed = 0;
        const char *err = NULL;
        if (resp_parse(&parser, s->exec_cmds.data + s->exec_used, s->exec_cmds.len - s->exec_used,
                       &lim, &consumed, &err) != RESP_DONE)
            break; /* cannot happen: the bytes were written by queue_command */
        s->exec_used += consumed;
        dispatch_execute(sh, s, (int)parser.argc, parser.argv);
    }
    resp_parser_deinit(&parser);
    s->replaying = false;
    if (s->blocked && s->conn)
        return;
    /* done; or the connection is gone, and the rest of the queue with it */
    buf_free(&s->exec_cmds);
    s->exec_used = 0;
    s->in_exec = false;
    s->client.asking = 0; /* it lasted the transaction */
    s->client.tracking_caching = false; /* CLIENT CACHING's too */
}

void dispatch_replay(struct shard *sh, struct session *s, struct buf *cmds)
{
    s->exec_muted = s->muting; /* EXEC's CLIENT REPLY verdict, for its commands */
    buf_free(&s->exec_cmds);
    s->exec_cmds = *cmds;
    buf_init(cmds);
    s->exec_used = 0;
    s->in_exec = true;
    dispatch_replay_continue(sh, s);
}

/* The slot of a command's first key (-1: it has none), and whether some
 * other key of it is in another slot: a command of several keys (the one-key
 * command is key_gate_passes's own). */
static int keys_slot(const struct command *cmd, int argc, const struct slice *argv, bool *cross)
{
    *cross = false;
    int small[64];
    int *idx = small;
    int nk = command_keys(cmd, argc, argv, idx, 64);
    if (nk > 64) {
        idx = mi_malloc(sizeof(int) * (size_t)nk);
        command_keys(cmd, argc, argv, idx, nk);
    }
    int first = -1;
    for (int k = 0; k < nk; k++) {
        int sl = (int)key_slot(argv[idx[k]].ptr, argv[idx[k]].len);
        if (k == 0)
            first = sl;
        else if (sl != first)
            *cross = true;
    }
    if (idx != small)
        mi_free(idx);
    return first;
}

#define KEY_GATE_REFUSED (-2) /* key_gate_passes: refused, the error answered */

/* Cluster mode, the gate asked (node.h key_gate): its verdict on keys whose
 * first is in slot `first` (cross: some other key is elsewhere), as
 * key_gate_passes returns it. Out of line: the common command never comes
 * here. */
static const char *key_gate_verdict(struct shard *sh, const struct session *s, const struct command *cmd,
                                    int first, bool cross, char *text, size_t cap)
{
    unsigned how = 0;
    if (s->client.asking || (cmd->flags & CMD_ASKING))
        how |= KEY_GATE_ASKING;
    /* a READONLY connection subscribes to shard channels on a replica (the
     * master's SPUBLISH reaches it through the stream), but SPUBLISH goes
     * to the master, whose replicas all get it */
    if (s->client.read_replica && !(cmd->flags & CMD_WRITE) &&
        (cmd->flags & (CMD_PUBSUB | CMD_ALL_SHARDS)) != (CMD_PUBSUB | CMD_ALL_SHARDS))
        how |= KEY_GATE_READ_HERE;
    return sh->node->key_gate(sh->node, first, cross, how, text, cap);
}

__attribute__((noinline)) static int key_gate_asked(struct shard *sh, struct session *s, const struct command *cmd,
                                                    int first, bool cross)
{
    char text[160];
    const char *refused = key_gate_verdict(sh, s, cmd, first, cross, text, sizeof(text));
    if (refused) {
        session_reply_error(s, refused);
        stats_command_rejected(&sh->stats, cmd->index);
        return KEY_GATE_REFUSED;
    }
    return first;
}

/* Is the slot one the gate passes for any connection (node.h
 * key_gate_served)? One load and a bit test instead of asking it. */
static inline bool key_gate_serves(const struct shard *sh, unsigned slot)
{
    const uint64_t *served = atomic_load_explicit(&sh->node->key_gate_served, memory_order_acquire);
    return served && ((served[slot >> 6] >> (slot & 63)) & 1);
}

/* Cluster mode: the key gate's verdict on the keys of a command that has
 * some (node.h). The slot of each key is computed once here; when the gate
 * lets the command through, its keys are all in the slot returned (-1: it
 * has none), which routing reuses; KEY_GATE_REFUSED: refused, the error
 * answered. The common command, one key (GET, SET...) in a slot of this
 * node, is a key_slot call, a load and a bit test (bench/RESULTS.md,
 * "Cluster mode's cost"). */
static inline int key_gate_passes(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                                  const struct slice *argv)
{
    int k = cmd->first_key;
    if (k == cmd->last_key && !(cmd->flags & CMD_STORE_KEY)) { /* one key: no key list, never cross-slot */
        if (k >= argc)
            return -1;
        unsigned sl = key_slot(argv[k].ptr, argv[k].len);
        if (key_gate_serves(sh, sl))
            return (int)sl; /* this node's own slot: what the gate would say, without asking it */
        return key_gate_asked(sh, s, cmd, (int)sl, false);
    }
    bool cross;
    int first = keys_slot(cmd, argc, argv, &cross);
    if (first < 0)
        return -1;
    if (!cross && key_gate_serves(sh, (unsigned)first))
        return first;
    return key_gate_asked(sh, s, cmd, first, cross);
}

const char *dispatch_key_gate_refusal(struct shard *sh, const struct session *s, const struct command *cmd,
                                      int argc, const struct slice *argv, char *text, size_t cap)
{
    if (!sh->node->key_gate || cmd->first_key <= 0)
        return NULL;
    bool cross;
    int first = keys_slot(cmd, argc, argv, &cross);
    if (first < 0 || (!cross && key_gate_serves(sh, (unsigned)first)))
        return NULL;
    return key_gate_verdict(sh, s, cmd, first, cross, text, cap);
}

/* Copy a command name into a fixed field, cut to fit. */
static void copy_name(char *dst, size_t cap, const char *name)
{
    size_t n = strlen(name);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, name, n);
    dst[n] = '\0';
}

static void execute_command(struct shard *sh, struct session *s, int argc, const struct slice *argv);

/* May user run this command, on these keys and channels? If not, the
 * refusal is answered and logged (ACL LOG) and true returned. A refused
 * command is rare: the log's lock is taken only then. */
static bool acl_refuses(struct shard *sh, struct session *s, const struct acl_user *user,
                        const struct command *cmd, const struct command *container, int argc,
                        const struct slice *argv)
{
    int arg;
    enum acl_denial why = acl_check(user, cmd, argc, argv, &arg);
    if (why == ACL_OK)
        return false;
    char text[256], object[96], info[512];
    acl_denial_text(text, sizeof(text), why, cmd, container);
    const char *reason = why == ACL_DENIED_KEY ? "key" : why == ACL_DENIED_CHANNEL ? "channel" : "command";
    const char *obj = object;
    size_t olen;
    if (arg >= 0) {
        obj = argv[arg].ptr;
        olen = argv[arg].len;
    } else {
        if (container)
            snprintf(object, sizeof(object), "%s|%s", container->name, cmd->name);
        else
            snprintf(object, sizeof(object), "%s", cmd->name);
        olen = strlen(object);
    }
    int64_t now = shard_now_ms(sh);
    acl_client_info(&s->client, user->name, now, info, sizeof(info));
    acl_log_add(&sh->node->acl, reason, s->in_exec ? "multi" : "toplevel", obj, olen, user->name,
                strlen(user->name), info, now);
    session_reply_error(s, text);
    stats_command_rejected(&sh->stats, cmd->index);
    return true;
}

/* Run one command; then ASKING's flag (cluster mode) wears off as in
 * Redis: it lasts for the command after ASKING, or for the whole of the
 * transaction that command opens (MULTI ... EXEC or DISCARD). */
/* A script over keys of several shards runs here, holding every other
 * shard (shards/hold.h), not on copies of its keys (in cluster mode its
 * keys are of one slot, or it is refused before). */
static bool runs_holding(struct shard *sh, const struct command *cmd, int argc, const struct slice *argv)
{
    (void)argc;
    (void)argv;
    return (cmd->flags & CMD_RUNS_SCRIPT) && !sh->node->key_gate;
}

static void route_command(struct shard *sh, struct session *s, int argc, const struct slice *argv)
{
    execute_command(sh, s, argc, argv);
    if (s->client.asking == 2)
        s->client.asking = 1; /* ASKING itself ran: the next command is asking */
    else if (s->client.asking && !s->in_multi && !s->in_exec)
        s->client.asking = 0;
}

static void execute_command(struct shard *sh, struct session *s, int argc, const struct slice *argv)
{
    const struct command *cmd = command_lookup(argv[0]);
    const struct command *container = NULL;
    char text[256];
    if (!cmd) {
        session_unknown_command(s, argc, argv);
        return;
    }
    if (cmd->subcommands && (argc >= 2 || !cmd->fn)) {
        if (argc < 2) {
            snprintf(text, sizeof(text), ERR_ARITY, cmd->name);
            session_reply_error(s, text);
            return;
        }
        const struct command *sub = command_lookup_sub(cmd, argv[1]);
        if (!sub) {
            char upper[32];
            size_t i = 0;
            for (; cmd->name[i] && i < sizeof(upper) - 1; i++)
                upper[i] = (char)(cmd->name[i] >= 'a' && cmd->name[i] <= 'z' ? cmd->name[i] - 32 : cmd->name[i]);
            upper[i] = '\0';
            snprintf(text, sizeof(text), "ERR unknown subcommand '%.*s'. Try %s HELP.",
                     (int)(argv[1].len > 64 ? 64 : argv[1].len), argv[1].ptr, upper);
            for (char *c = text; *c; c++)
                if (*c == '\r' || *c == '\n') *c = ' ';
            session_reply_error(s, text);
            return;
        }
        if (!command_arity_ok(sub, argc)) {
            snprintf(text, sizeof(text), "ERR wrong number of arguments for '%s|%s' command", cmd->name, sub->name);
            session_reply_error(s, text);
            stats_command_rejected(&sh->stats, sub->index);
            return;
        }
        container = cmd;
        cmd = sub;
    } else if (!command_arity_ok(cmd, argc)) {
        snprintf(text, sizeof(text), ERR_ARITY, cmd->name);
        session_reply_error(s, text);
        stats_command_rejected(&sh->stats, cmd->index);
        return;
    }
    /* ACL (core/acl.h): one acquire load of the users set, the user found
     * again only when the set changed, and a check only for a user with
     * some restriction */
    const struct acl_users *users = acl_current(&sh->node->acl);
    const struct acl_user *user = acl_client_user(users, &s->client);
    if (!user) {
        /* the user was deleted: Redis has closed the connection already */
        s->client.close_after_reply = true;
        return;
    }
    if (!s->client.authenticated && !(cmd->flags & CMD_NOAUTH)) {
        if (acl_auth_required(users)) {
            session_reply_error(s, ERR_NOAUTH);
            stats_command_rejected(&sh->stats, cmd->index);
            return;
        }
        s->client.authenticated = true; /* the password was removed meanwhile */
    }
    if ((cmd->flags | (container ? container->flags : 0)) & CMD_PROTECTED) {
        /* enable-debug-command: no, yes, local (a loopback connection) */
        long long who = config_load(&sh->node->config, enable_debug_command);
        if (who == 0 || (who == 2 && !s->client.local)) {
            session_reply_error(s, "ERR DEBUG command not allowed. If the enable-debug-command option is "
                                   "set to \"local\", you can run it from a local connection, otherwise you "
                                   "need to set this option in the configuration file, and then restart the "
                                   "server.");
            stats_command_rejected(&sh->stats, cmd->index);
            return;
        }
    }
    s->client.last_active_ms = shard_now_ms(sh);
    if (s->client.tracking_caching && !s->in_multi && !s->in_exec && strncmp(s->client.last_cmd, "client|", 7) != 0)
        /* CLIENT CACHING's flag lasted one command (or one transaction)
         * after it, which was no CLIENT command (those keep it, as in
         * Redis): it wears off before this one */
        s->client.tracking_caching = false;
    if (s->last_cmd != cmd) { /* formatting the name per command would show in profiles */
        s->last_cmd = cmd;
        if (container)
            snprintf(s->client.last_cmd, sizeof(s->client.last_cmd), "%s|%s", container->name, cmd->name);
        else /* a plain copy: a pipeline alternating SET and GET comes here every command */
            copy_name(s->client.last_cmd, sizeof(s->client.last_cmd), cmd->name);
    }
    if (!user->unrestricted && acl_refuses(sh, s, user, cmd, container, argc, argv))
        return;

    /* cluster mode: where the keys live decides first, as in Redis */
    int gate_slot = -1;
    if (sh->node->key_gate) {
        if (cmd->first_key > 0) {
            gate_slot = key_gate_passes(sh, s, cmd, argc, argv);
            if (gate_slot == KEY_GATE_REFUSED)
                return;
        } else if ((cmd->flags & CMD_EXEC) && s->in_multi && s->multi_count > 0 && s->multi_crossslot) {
            /* the queue's keys are over several slots: Redis discards it */
            multi_session_end(s);
            session_reply_error(s, "CROSSSLOT Keys in request don't hash to the same slot");
            stats_command_rejected(&sh->stats, cmd->index);
            return;
        }
    }
    if (s->client.proto == 2 && !(cmd->flags & CMD_SUBSCRIBED) && pubsub_subscribed(s)) {
        snprintf(text, sizeof(text), "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                 "PING / QUIT / RESET are allowed in this context", cmd->name);
        session_reply_error(s, text);
        return;
    }
    if (atomic_load_explicit(&sh->node->busy_scripts, memory_order_relaxed) && !(cmd->flags & CMD_ALLOW_BUSY)) {
        session_reply_error(s, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
        stats_command_rejected(&sh->stats, cmd->index);
        return;
    }
    if (pause_any(sh->node) && pause_holds(sh, s, cmd)) {
        pause_hold(sh, s, cmd, argc, argv);
        return;
    }
    if (cmd->flags & CMD_WRITE) {
        /* also when queued: Redis refuses it then, and the EXEC aborts */
        const char *refused = node_write_refusal(sh->node);
        if (refused) {
            session_reply_error(s, refused);
            stats_command_rejected(&sh->stats, cmd->index);
            return;
        }
    }
    if (cmd->flags & CMD_WATCH) {
        if (s->in_multi) {
            /* the command's own error in Redis, not a refusal: the
             * transaction goes on (session_reply_error would abort it) */
            static const char inside[] = "ERR WATCH inside MULTI is not allowed";
            struct reply r = { session_reply_target(s), s->client.proto };
            reply_error(&r, inside);
            stats_error_reply(&sh->stats, inside, sizeof(inside) - 1);
            return;
        }
        /* the keys are remembered here, where EXEC will check them, before
         * the row goes to their shards to be watched there */
        session_watch(s, argc, argv);
    }
    if (s->in_multi && !(cmd->flags & CMD_NOT_QUEUED)) {
        const char *refused = NULL;
        if (cmd->flags & (CMD_NO_MULTI | CMD_NO_REPLY))
            refused = "ERR Command not allowed inside a transaction";
        else if (over_memory(sh))
            refused = ERR_OOM; /* queuing takes memory too: Redis refuses any command */
        if (refused) {
            session_reply_error(s, refused);
            stats_command_rejected(&sh->stats, cmd->index);
            return;
        }
        if (s->multi_count == 0) {
            s->multi_slot = -1;
            s->multi_crossslot = false;
        }
        if (gate_slot >= 0) {
            if (s->multi_slot < 0)
                s->multi_slot = gate_slot;
            else if (s->multi_slot != gate_slot)
                s->multi_crossslot = true;
        }
        queue_command(sh, s, cmd, argc, argv);
        return;
    }
    if (!key_groups_whole(cmd, argc)) {
        /* the command's own check, made before any part of it is sent to
         * another shard: a split MSET would write the parts that are whole */
        snprintf(text, sizeof(text), ERR_ARITY, cmd->name);
        session_reply_error(s, text);
        stats_command_done(&sh->stats, cmd->index, 0, true); /* Redis's MSET fails it as it runs */
        return;
    }
    if (monitor_watching(sh->node) && !monitor_command(sh, s, cmd, argc, argv))
        return;
    int n = sh->node->nshards;
    if (cmd->flags & CMD_SHARD0) {
        /* always as a message, even on shard 0, so the handler may keep it
         * (WAIT); and only once the earlier commands are done */
        struct pending *p = session_pending_add(s, STAGE_LAUNCH);
        p->cmd = cmd;
        struct shard_msg *m = msg_create(MSG_EXEC, sh->id, 0, p, -1, argv, argc);
        m->cmd = cmd;
        p->launch = m;
        p->waiting = 1;
        if (cmd->flags & CMD_HOLD_LATER) {
            p->holds = true;
            s->blocked = true;
        }
        if (s->head == p)
            pending_launch(sh, p);
        return;
    }
    if ((cmd->flags & CMD_BLOCKING) && !s->in_exec && may_block(cmd, argc, argv)) {
        int owner = blocking_shard_of(sh, cmd, argc, argv, gate_slot);
        if (owner >= 0) {
            /* always as a message, even here, so its shard may keep it until
             * a key gets elements (shards/blocking.h); nothing more is read
             * from the connection until it is answered */
            struct pending *p = session_pending_add(s, STAGE_EXEC);
            p->cmd = cmd;
            p->holds = true;
            s->blocked = true;
            struct shard_msg *m = msg_create(MSG_EXEC, sh->id, owner, p, -1, argv, argc);
            m->cmd = cmd;
            m->value = 1; /* may block (blocking.c) */
            p->waiting = 1;
            dispatch_send_request(sh, s, m);
            return;
        }
        if (cmd->merge) {
            route_blocking_parts(sh, s, cmd, argc, argv);
            return;
        }
        if ((strcmp(cmd->name, "blmove") == 0 || strcmp(cmd->name, "brpoplpush") == 0) && argc >= 4 &&
            blocking_move_route(sh, s, cmd, argc, argv, key_shard(sh, argv[1]), key_shard(sh, argv[2])))
            return;
        /* keys on several shards, not waited on in parts (BLMPOP): run
         * where they are copied, unblocking */
    }
    if (cmd->flags & CMD_ALL_SHARDS) {
        /* even alone: the merge shapes the reply (SLOWLOG GET) */
        route_all_shards(sh, s, cmd, argc, argv);
        return;
    }
    if (n == 1 || (cmd->flags & CMD_CONN)) {
        dispatch_run_here(sh, s, cmd, argc, argv);
        return;
    }
    int target = sh->id;
    if (cmd->flags & CMD_CURSOR) {
        unsigned long long cursor;
        if (argc > 1 && parse_ull(argv[1], &cursor))
            target = (int)(cursor % (unsigned long long)n);
    } else if (gate_slot >= 0) {
        target = shard_of_slot(sh->node, (unsigned)gate_slot); /* the gate saw one slot */
    } else if (cmd->first_key > 0) {
        int idx[256], owner[256];
        int nk = command_keys(cmd, argc, argv, idx, 256);
        if (nk > 256) {
            /* many keys: look them up in a heap array */
            int *bidx = mi_malloc(sizeof(int) * (size_t)nk), *bown = mi_malloc(sizeof(int) * (size_t)nk);
            command_keys(cmd, argc, argv, bidx, nk);
            bool same = true;
            for (int k = 0; k < nk; k++) {
                bown[k] = key_shard(sh, argv[bidx[k]]);
                same = same && bown[k] == bown[0];
            }
            if (same)
                target = bown[0];
            else if (runs_holding(sh, cmd, argc, argv))
                same = true; /* here: target is this shard */
            else if (cmd->flags & CMD_SPLIT)
                route_split(sh, s, cmd, argc, argv, bidx, bown, nk);
            else
                route_scratch(sh, s, cmd, argc, argv, bidx, bown, nk);
            mi_free(bidx);
            mi_free(bown);
            if (!same)
                return;
        } else if (nk > 0) {
            bool same = true;
            for (int k = 0; k < nk; k++) {
                owner[k] = key_shard(sh, argv[idx[k]]);
                same = same && owner[k] == owner[0];
            }
            if (!same && !runs_holding(sh, cmd, argc, argv)) {
                if (cmd->flags & CMD_SPLIT)
                    route_split(sh, s, cmd, argc, argv, idx, owner, nk);
                else
                    route_scratch(sh, s, cmd, argc, argv, idx, owner, nk);
                return;
            }
            if (same)
                target = owner[0];
        }
    }
    if (target == sh->id) {
        dispatch_run_here(sh, s, cmd, argc, argv);
        return;
    }
    struct pending *p = session_pending_add(s, STAGE_EXEC);
    p->cmd = cmd;
    struct shard_msg *m = msg_create(MSG_EXEC, sh->id, target, p, -1, argv, argc);
    m->cmd = cmd;
    p->waiting = 1;
    dispatch_send_request(sh, s, m);
}

/* CLIENT REPLY around the command path: whether this command's reply is
 * dropped is decided once, before anything answers it (an unknown command's
 * error is dropped too, as in Redis); every reply it gets then takes a muted
 * place in the queue (reply_queue.c). The commands an EXEC replays share
 * the EXEC's verdict, so its array is whole or absent. A command a pause
 * holds is decided again when it runs. */
void dispatch_execute(struct shard *sh, struct session *s, int argc, const struct slice *argv)
{
    if (!(s->muting | s->in_exec | s->client.reply_off | s->client.reply_skip_next | (s->client.asking != 0))) {
        /* the usual connection: nothing muted, not asking; what follows
         * would leave it so (costs ~20 instructions a command otherwise) */
        execute_command(sh, s, argc, argv);
        if (s->client.asking) /* it was ASKING: the next command is asking (route_command) */
            s->client.asking = 1;
        return;
    }
    bool outer = s->muting;
    bool skip = s->client.reply_skip_next;
    if (s->in_exec) {
        s->muting = s->exec_muted;
    } else {
        s->client.reply_skip_next = false; /* SKIP sets it again for the next one */
        s->muting = s->client.reply_off || skip;
    }
    const struct shard_msg *held = s->held;
    route_command(sh, s, argc, argv);
    if (s->held && s->held != held && !s->in_exec)
        s->client.reply_skip_next = skip;
    s->muting = outer;
}
