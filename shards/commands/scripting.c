/* scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis 7.0's
 * scripting with Lua 5.1).
 *
 * Where a script runs: EVAL is a key command whose keys are the numkeys
 * ones (CMD_NUMKEYS), so the router sends it to its keys' shard, which runs
 * it to the end on its own thread: atomic, as any command there. Keys on
 * several shards: it runs on a scratch store with copies of them and its
 * writes are applied to their owners afterwards (shards/route.c), atomic
 * per shard but not isolated across shards, ringkv's rule for every
 * cross-shard command. No keys: it runs on the connection's shard.
 * script_engine.c has what a script may do there.
 *
 * Every shard has its own Lua state and its own compiled scripts, made on
 * its first script; nothing of them is shared. A script must still be
 * found by EVALSHA on whatever shard its keys route to, so the bodies EVAL
 * and SCRIPT LOAD were given go into one registry for the node, which a
 * shard reads only when a sha is not compiled in its own state (once per
 * script and shard, and after SCRIPT FLUSH). The registry is a hash table
 * under a mutex: the lock is taken on that cold path only (and by SCRIPT
 * LOAD, EXISTS and FLUSH), never by a script found in the shard's own
 * cache, which is what EVAL and EVALSHA of a known script cost; a mutex
 * lets SCRIPT FLUSH free the bodies, which a lock-free list could only do
 * at the node's end. SCRIPT FLUSH empties the registry and moves its epoch
 * on; a shard compares the epoch (one atomic load) before each script and
 * drops its compiled scripts when it moved. */
#include "shards/commands/commands.h"

#include <ctype.h>
#include <lua.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/commands/script.h"
#include "shards/node.h"
#include "shards/shard.h"

#define ERR_NOSCRIPT "NOSCRIPT No matching script. Please use EVAL."
#define REGISTRY_BUCKETS 256

struct script_body {
    struct script_body *next;   /* in its bucket */
    char                sha[SHA1_HEX_LEN + 1];
    size_t              len;
    char                body[];
};

struct script_registry {
    pthread_mutex_t      lock;
    struct script_body  *buckets[REGISTRY_BUCKETS]; /* by the sha's first two hex digits */
    size_t               count, bytes;              /* scripts kept, bytes of their bodies */
    atomic_uint_fast64_t epoch; /* moved on by every SCRIPT FLUSH */
};

static unsigned bucket_of(const char *sha)
{
    static const char hex[] = "0123456789abcdef";
    return (unsigned)((strchr(hex, sha[0]) - hex) * 16 + (strchr(hex, sha[1]) - hex));
}

static struct script_body *registry_find_locked(struct script_registry *reg, const char *sha)
{
    for (struct script_body *b = reg->buckets[bucket_of(sha)]; b; b = b->next)
        if (memcmp(b->sha, sha, SHA1_HEX_LEN) == 0)
            return b;
    return NULL;
}

static bool registry_has(struct script_registry *reg, const char *sha)
{
    pthread_mutex_lock(&reg->lock);
    bool has = registry_find_locked(reg, sha) != NULL;
    pthread_mutex_unlock(&reg->lock);
    return has;
}

static void registry_add(struct script_registry *reg, const char *sha, const char *body, size_t len)
{
    pthread_mutex_lock(&reg->lock);
    if (!registry_find_locked(reg, sha)) {
        struct script_body *b = mi_malloc(sizeof *b + len);
        memcpy(b->sha, sha, sizeof b->sha);
        b->len = len;
        memcpy(b->body, body, len);
        unsigned at = bucket_of(sha);
        b->next = reg->buckets[at];
        reg->buckets[at] = b;
        reg->count++;
        reg->bytes += len;
    }
    pthread_mutex_unlock(&reg->lock);
}

/* A copy of the body of sha (mi_free it), or NULL if none. */
static char *registry_copy(struct script_registry *reg, const char *sha, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&reg->lock);
    struct script_body *b = registry_find_locked(reg, sha);
    if (b) {
        copy = mi_malloc(b->len ? b->len : 1);
        memcpy(copy, b->body, b->len);
        *len = b->len;
    }
    pthread_mutex_unlock(&reg->lock);
    return copy;
}

static void registry_empty_locked(struct script_registry *reg)
{
    for (int i = 0; i < REGISTRY_BUCKETS; i++) {
        struct script_body *b = reg->buckets[i];
        while (b) {
            struct script_body *next = b->next;
            mi_free(b);
            b = next;
        }
        reg->buckets[i] = NULL;
    }
    reg->count = 0;
    reg->bytes = 0;
}

static void registry_flush(struct script_registry *reg)
{
    pthread_mutex_lock(&reg->lock);
    registry_empty_locked(reg);
    atomic_fetch_add_explicit(&reg->epoch, 1, memory_order_release);
    pthread_mutex_unlock(&reg->lock);
}

void scripting_registry_size(struct node *n, size_t *count, size_t *bytes)
{
    struct script_registry *reg = n->scripts;
    *count = *bytes = 0;
    if (!reg)
        return;
    pthread_mutex_lock(&reg->lock);
    *count = reg->count;
    *bytes = reg->bytes;
    pthread_mutex_unlock(&reg->lock);
}

/* ---- a shard's scripting ------------------------------------------------- */

/* This shard's scripting, its state made on first use and its compiled
 * scripts dropped if a SCRIPT FLUSH came since; NULL with the error
 * answered if there is none. */
struct script_shard *shard_scripting(struct exec_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    struct script_registry *reg = sh->node->scripts;
    if (!reg) {
        reply_error(ctx->reply, "ERR scripting is not set up on this node");
        return NULL;
    }
    uint64_t epoch = atomic_load_explicit(&reg->epoch, memory_order_acquire);
    struct script_shard *ss = sh->scripting;
    if (!ss) {
        ss = mi_zalloc(sizeof *ss);
        ss->L = script_engine_new(ss);
        if (!ss->L) {
            mi_free(ss);
            reply_error(ctx->reply, "ERR out of memory creating the Lua state");
            return NULL;
        }
        ss->registry_epoch = epoch;
        __atomic_store_n(&sh->scripting, ss, __ATOMIC_RELEASE); /* SCRIPT KILL reads it from other shards */
    } else if (ss->registry_epoch != epoch) {
        script_engine_forget_all(ss);
        ss->registry_epoch = epoch;
    }
    return ss;
}

/* A sha as given (EVALSHA, SCRIPT EXISTS), in lower case as the registry
 * keeps it: false if it cannot be one. Redis compares them ignoring case. */
static bool sha_arg(struct slice s, char sha[SHA1_HEX_LEN + 1])
{
    if (s.len != SHA1_HEX_LEN)
        return false;
    for (size_t i = 0; i < SHA1_HEX_LEN; i++) {
        char c = (char)tolower((unsigned char)s.ptr[i]);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        sha[i] = c;
    }
    sha[SHA1_HEX_LEN] = '\0';
    return true;
}

/* Compile body as sha on this shard and enter it in the registry; false
 * with the compile error answered. */
static bool compile_and_register(struct exec_ctx *ctx, struct script_shard *ss, const char *sha, struct slice body)
{
    char err[512];
    if (!script_engine_compile(ss, sha, body.ptr, body.len, err, sizeof err)) {
        reply_error(ctx->reply, err);
        return false;
    }
    registry_add(ctx->shard->node->scripts, sha, body.ptr, body.len);
    return true;
}

/* EVAL[SHA][_RO] script|sha numkeys key... arg... */
static void eval_generic(struct exec_ctx *ctx, bool by_sha, bool read_only)
{
    long long nkeys;
    if (!script_numkeys(ctx, ERR_NOT_INT, &nkeys))
        return;
    struct script_shard *ss = shard_scripting(ctx);
    if (!ss)
        return;
    char sha[SHA1_HEX_LEN + 1];
    if (by_sha) {
        if (!sha_arg(ctx->argv[1], sha)) {
            reply_error(ctx->reply, ERR_NOSCRIPT);
            return;
        }
    } else {
        sha1_hex(ctx->argv[1].ptr, ctx->argv[1].len, sha);
    }
    int flags = script_engine_flags(ss, sha);
    if (flags < 0) {
        if (by_sha) {
            /* another shard's EVAL or a SCRIPT LOAD: the body is in the registry */
            size_t len = 0;
            char *body = registry_copy(ctx->shard->node->scripts, sha, &len);
            if (!body) {
                reply_error(ctx->reply, ERR_NOSCRIPT);
                return;
            }
            char err[512];
            bool ok = script_engine_compile(ss, sha, body, len, err, sizeof err);
            mi_free(body);
            if (!ok) {
                reply_error(ctx->reply, err);
                return;
            }
        } else if (!compile_and_register(ctx, ss, sha, ctx->argv[1])) {
            return;
        }
        flags = script_engine_flags(ss, sha);
    }
    /* a script with a shebang line declares what it does, as Redis 7
     * checks it before running it */
    if ((flags & SCRIPT_SHEBANG) &&
        !script_flags_allow(ctx, flags, &read_only, "ERR Can not run script on cluster, 'no-cluster' flag is set."))
        return;
    script_engine_run(ss, ctx, sha, (int)nkeys, read_only);
}

bool script_numkeys(struct exec_ctx *ctx, const char *not_int, long long *nkeys)
{
    const char *refused = NULL;
    if (!parse_ll(ctx->argv[2], nkeys))
        refused = not_int;
    else if (*nkeys > ctx->argc - 3)
        refused = "ERR Number of keys can't be greater than number of args";
    else if (*nkeys < 0)
        refused = "ERR Number of keys can't be negative";
    if (refused)
        reply_error(ctx->reply, refused);
    return !refused;
}

bool script_flags_allow(struct exec_ctx *ctx, int flags, bool *read_only, const char *no_cluster)
{
    if ((flags & SCRIPT_NO_CLUSTER) && ctx->shard->node->key_gate) {
        reply_error(ctx->reply, no_cluster);
        return false;
    }
    if (flags & SCRIPT_NO_WRITES) {
        *read_only = true;
        return true;
    }
    if (*read_only) {
        reply_error(ctx->reply, "ERR Can not execute a script with write flag using *_ro command.");
        return false;
    }
    const char *refused = node_write_refusal(ctx->shard->node);
    if (refused)
        reply_error(ctx->reply, refused);
    return !refused;
}

void cmd_eval(struct exec_ctx *ctx)
{
    eval_generic(ctx, false, false);
}

void cmd_evalsha(struct exec_ctx *ctx)
{
    eval_generic(ctx, true, false);
}

void cmd_eval_ro(struct exec_ctx *ctx)
{
    eval_generic(ctx, false, true);
}

void cmd_evalsha_ro(struct exec_ctx *ctx)
{
    eval_generic(ctx, true, true);
}

/* ---- SCRIPT ------------------------------------------------------------------ */

/* SCRIPT LOAD script: compiled here (a body that does not compile is not
 * kept), then in the registry for every shard. */
void cmd_script_load(struct exec_ctx *ctx)
{
    struct script_shard *ss = shard_scripting(ctx);
    if (!ss)
        return;
    char sha[SHA1_HEX_LEN + 1];
    sha1_hex(ctx->argv[2].ptr, ctx->argv[2].len, sha);
    if (!compile_and_register(ctx, ss, sha, ctx->argv[2]))
        return;
    reply_bulk(ctx->reply, sha, SHA1_HEX_LEN);
}

/* SCRIPT EXISTS sha...: 1 or 0 for each, from the registry (every script
 * any shard compiled is in it) */
void cmd_script_exists(struct exec_ctx *ctx)
{
    struct script_registry *reg = ctx->shard->node->scripts;
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    for (int i = 2; i < ctx->argc; i++) {
        char sha[SHA1_HEX_LEN + 1];
        reply_int(ctx->reply, reg && sha_arg(ctx->argv[i], sha) && registry_has(reg, sha));
    }
}

/* SCRIPT FLUSH [ASYNC|SYNC]: both the same here (the bodies are freed at
 * once; each shard drops its compiled scripts before its next script) */
void cmd_script_flush(struct exec_ctx *ctx)
{
    if (ctx->argc == 3 && !slice_eq_nocase(ctx->argv[2], "async") && !slice_eq_nocase(ctx->argv[2], "sync")) {
        reply_error(ctx->reply, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    if (ctx->argc > 3) {
        reply_error(ctx->reply, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    struct script_registry *reg = ctx->shard->node->scripts;
    if (reg)
        registry_flush(reg);
    reply_ok(ctx->reply);
}

/* ---- busy scripts ---------------------------------------------------------
 *
 * A script runs on its shard's thread to its end; past busy-reply-threshold
 * its engine's hook lists it here (the shard's script_shard, whose pointer
 * other threads read with an acquire load) and counts it in the node's
 * busy_scripts, which makes the command path answer -BUSY to every command
 * but Redis's allow_busy ones (route.c). SCRIPT KILL, served by any other
 * shard's thread, asks it to end unless it wrote. */

void script_busy_begin(struct shard *sh, struct script_shard *ss, const char *sha)
{
    log_warning("Slow script detected: still in execution after %lld milliseconds. You can try killing the "
                "script using the SCRIPT KILL command. Script name is: %s.",
                (long long)(clock_mono_us() / 1000 - ss->started_ms), sha);
    atomic_store_explicit(&ss->busy_since_ms, clock_mono_us() / 1000, memory_order_release);
    atomic_fetch_add_explicit(&sh->node->busy_scripts, 1, memory_order_acq_rel);
}

void script_busy_end(struct shard *sh, struct script_shard *ss)
{
    atomic_store_explicit(&ss->busy_since_ms, 0, memory_order_release);
    atomic_store_explicit(&ss->kill, false, memory_order_relaxed);
    atomic_fetch_sub_explicit(&sh->node->busy_scripts, 1, memory_order_acq_rel);
}

/* SCRIPT KILL: the busy script of any shard (a shard's own connections
 * cannot reach it while its thread runs the script: the command comes in
 * on another shard's connection) */
void cmd_script_kill(struct exec_ctx *ctx)
{
    struct node *n = ctx->shard->node;
    for (int i = 0; i < n->nshards; i++) {
        struct shard *sh = n->shards ? n->shards[i] : (i == 0 ? ctx->shard : NULL); /* a test node may list none */
        struct script_shard *ss = sh ? __atomic_load_n(&sh->scripting, __ATOMIC_ACQUIRE) : NULL;
        if (!ss || !atomic_load_explicit(&ss->busy_since_ms, memory_order_acquire))
            continue;
        if (atomic_load_explicit(&ss->wrote, memory_order_relaxed)) {
            reply_error(ctx->reply, "UNKILLABLE Sorry the script already executed write commands against the "
                                    "dataset. You can either wait the script termination or kill the server in "
                                    "a hard way using the SHUTDOWN NOSAVE command.");
            return;
        }
        atomic_store_explicit(&ss->kill, true, memory_order_relaxed);
        reply_ok(ctx->reply);
        return;
    }
    reply_error(ctx->reply, "NOTBUSY No scripts in execution right now.");
}

/* SCRIPT DEBUG: no Lua debugger in ringkv */
void cmd_script_debug(struct exec_ctx *ctx)
{
    reply_error(ctx->reply, "ERR SCRIPT DEBUG is not supported by ringkv (no Lua debugger)");
}

void cmd_script_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(ctx->reply, lines[i]);
}

/* ---- the module: the registry and each shard's state ------------------- */

static void scripting_teardown(struct shard *sh)
{
    struct script_shard *ss = sh->scripting;
    if (!ss)
        return;
    lua_close(ss->L);
    mi_free(ss);
    sh->scripting = NULL;
}

static void scripting_node_teardown(struct node *n)
{
    struct script_registry *reg = n->scripts;
    if (!reg)
        return;
    registry_empty_locked(reg);
    pthread_mutex_destroy(&reg->lock);
    mi_free(reg);
    n->scripts = NULL;
    function_registry_free(n->functions);
    n->functions = NULL;
}

/* A full sync's replica gets the libraries as FUNCTION RESTORE ... FLUSH
 * (its own go, whatever it had). */
static void scripting_full_sync(struct shard *sh, void (*emit)(void *arg, int argc, const struct slice *argv),
                                void *arg)
{
    if (!sh->node->functions)
        return;
    struct buf payload;
    buf_init(&payload);
    function_registry_dump(sh->node->functions, &payload);
    struct slice argv[] = { SLICE_LIT("FUNCTION"), SLICE_LIT("RESTORE"), { payload.data, payload.len },
                            SLICE_LIT("FLUSH") };
    emit(arg, 4, argv);
    buf_free(&payload);
}

/* dump.rdb holds the function libraries as Redis's does (FUNCTION2 records
 * before the keys), and they are loaded back at start. */
static void scripting_rdb_save(struct node *n, struct buf *out)
{
    if (n->functions)
        function_registry_records(n->functions, out);
}

static bool scripting_rdb_load(struct shard *sh, unsigned op, struct slice body, char *err, size_t errlen)
{
    (void)op; /* FUNCTION2: the only record rdb.c hands over */
    char why[400];
    if (function_registry_load(sh, body, why, sizeof why))
        return true;
    snprintf(err, errlen, "Failed loading a function library: %s", why);
    return false;
}

static const struct shard_module scripting_module = {
    .name = "scripting",
    .full_sync = scripting_full_sync,
    .rdb_save = scripting_rdb_save,
    .rdb_load = scripting_rdb_load,
    .teardown = scripting_teardown,
    .node_teardown = scripting_node_teardown,
};

void scripting_attach(struct node *n)
{
    struct script_registry *reg = mi_zalloc(sizeof *reg);
    pthread_mutex_init(&reg->lock, NULL);
    atomic_init(&reg->epoch, 0);
    n->scripts = reg;
    n->functions = function_registry_new();
    node_attach_module(n, &scripting_module);
}
