/* functions: Redis 7's functions. FUNCTION LOAD|LIST|DELETE|FLUSH|DUMP|
 * RESTORE|KILL|STATS|HELP, FCALL and FCALL_RO.
 *
 * The node keeps the libraries (name, code, and what each registered: its
 * functions' names, flags and descriptions) in one registry under a mutex,
 * changed by FUNCTION LOAD, DELETE, FLUSH and RESTORE, read by LIST, STATS
 * and DUMP: none of them is on the data path. Every change moves the
 * registry's epoch on. A shard runs the libraries' code in its own Lua
 * state (script_engine.c) on its first FCALL after a change, so FCALL of a
 * known function takes no lock: one atomic load of the epoch. FUNCTION LOAD
 * runs the code on the loading connection's shard first, to find what it
 * registers (a library that fails to load leaves nothing).
 *
 * FCALL routes as EVAL does (its keys counted by numkeys) and runs as a
 * script with a shebang line: a function without the no-writes flag may
 * write, and is refused where writes are (a replica, min-replicas-to-write);
 * with it, its writes are refused, and FCALL_RO runs only those. A
 * function's writes reach replicas as its effects, as a script's do. */
#include "shards/commands/commands.h"
#include "shards/commands/server.h"

#include <mimalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/crc64.h"
#include "core/glob.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/commands/script.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/serialize.h"

#define RDB_OPCODE_FUNCTION2 245 /* FUNCTION DUMP: a library's code follows */
#define DUMP_RDB_VERSION     10
#define ERR_PAYLOAD          "ERR DUMP payload version or checksum are wrong"

struct library {
    struct library     *next;
    char               *code;
    size_t              len;
    struct library_desc desc;
};

struct function_registry {
    pthread_mutex_t      lock;
    struct library      *libs;
    atomic_uint_fast64_t epoch; /* moved on by every change; shards compare theirs */
};

struct function_registry *function_registry_new(void)
{
    struct function_registry *reg = mi_zalloc(sizeof *reg);
    pthread_mutex_init(&reg->lock, NULL);
    atomic_init(&reg->epoch, 1);
    return reg;
}

static void library_free(struct library *lib)
{
    library_desc_free(&lib->desc);
    mi_free(lib->code);
    mi_free(lib);
}

static void free_all_locked(struct function_registry *reg)
{
    for (struct library *l = reg->libs, *next; l; l = next) {
        next = l->next;
        library_free(l);
    }
    reg->libs = NULL;
}

void function_registry_free(struct function_registry *reg)
{
    if (!reg)
        return;
    free_all_locked(reg);
    pthread_mutex_destroy(&reg->lock);
    mi_free(reg);
}

static struct library *find_library_locked(struct function_registry *reg, const char *name, struct library ***at)
{
    for (struct library **p = &reg->libs; *p; p = &(*p)->next) {
        if (strcmp((*p)->desc.name, name) == 0) {
            if (at)
                *at = p;
            return *p;
        }
    }
    return NULL;
}

/* The library (other than `except`) that has a function of this name. */
static struct library *function_owner_locked(struct function_registry *reg, const char *fn,
                                             const struct library *except)
{
    for (struct library *l = reg->libs; l; l = l->next) {
        if (l == except)
            continue;
        for (int i = 0; i < l->desc.nfns; i++)
            if (strcmp(l->desc.fns[i].name, fn) == 0)
                return l;
    }
    return NULL;
}

/* Enter a loaded library (desc moved in, code copied); replace: one of
 * the same name goes. NULL, or Redis's error. */
static const char *registry_add_locked(struct function_registry *reg, struct library_desc *desc, const char *code,
                                       size_t len, bool replace, char *err, size_t errlen)
{
    struct library **at = NULL;
    struct library *old = find_library_locked(reg, desc->name, &at);
    if (old && !replace) {
        snprintf(err, errlen, "ERR Library '%s' already exists", desc->name);
        return err;
    }
    for (int i = 0; i < desc->nfns; i++) {
        if (function_owner_locked(reg, desc->fns[i].name, old)) {
            snprintf(err, errlen, "ERR Function %s already exists", desc->fns[i].name);
            return err;
        }
    }
    if (old) {
        *at = old->next;
        library_free(old);
    }
    struct library *lib = mi_zalloc(sizeof *lib);
    lib->code = mi_malloc(len ? len : 1);
    memcpy(lib->code, code, len);
    lib->len = len;
    lib->desc = *desc;
    memset(desc, 0, sizeof *desc);
    lib->next = reg->libs;
    reg->libs = lib;
    atomic_fetch_add_explicit(&reg->epoch, 1, memory_order_acq_rel);
    return NULL;
}

/* This shard's state with the node's functions: loaded again when the
 * registry changed since (each library's code run in it); NULL with the
 * error answered. */
static struct script_shard *shard_functions(struct exec_ctx *ctx)
{
    struct function_registry *reg = ctx->shard->node->functions;
    struct script_shard *ss = reg ? shard_scripting(ctx) : NULL;
    if (!reg && ctx->reply)
        reply_error(ctx->reply, "ERR functions are not set up on this node");
    if (!ss)
        return NULL;
    uint64_t epoch = atomic_load_explicit(&reg->epoch, memory_order_acquire);
    if (ss->functions_epoch == epoch)
        return ss;
    /* the codes copied out, then run without the lock */
    pthread_mutex_lock(&reg->lock);
    epoch = atomic_load_explicit(&reg->epoch, memory_order_acquire);
    size_t n = 0;
    for (struct library *l = reg->libs; l; l = l->next)
        n++;
    struct buf *codes = mi_calloc(n ? n : 1, sizeof *codes);
    size_t i = 0;
    for (struct library *l = reg->libs; l; l = l->next, i++) {
        buf_init(&codes[i]);
        buf_append(&codes[i], l->code, l->len);
    }
    pthread_mutex_unlock(&reg->lock);
    script_engine_forget_functions(ss);
    for (i = 0; i < n; i++) {
        struct library_desc d;
        char err[256];
        if (script_engine_load_library(ss, codes[i].data, codes[i].len, true, &d, err, sizeof err))
            library_desc_free(&d);
        buf_free(&codes[i]);
    }
    mi_free(codes);
    ss->functions_epoch = epoch;
    return ss;
}

/* ---- FCALL, FCALL_RO ----------------------------------------------------- */

static void fcall_generic(struct exec_ctx *ctx, bool read_only)
{
    long long nkeys;
    if (!script_numkeys(ctx, "ERR Bad number of keys provided", &nkeys))
        return;
    struct script_shard *ss = shard_functions(ctx);
    if (!ss)
        return;
    char name[128];
    struct slice fn = ctx->argv[1];
    int flags = fn.len < sizeof name ? (memcpy(name, fn.ptr, fn.len), name[fn.len] = '\0',
                                         script_engine_function_flags(ss, name))
                                     : -1;
    if (flags < 0) {
        reply_error(ctx->reply, "ERR Function not found");
        return;
    }
    if (!script_flags_allow(ctx, flags, &read_only, "ERR Can not run a function on cluster, 'no-cluster' flag is set."))
        return;
    script_engine_run_function(ss, ctx, name, (int)nkeys, read_only);
}

void cmd_fcall(struct exec_ctx *ctx)
{
    fcall_generic(ctx, false);
}

void cmd_fcall_ro(struct exec_ctx *ctx)
{
    fcall_generic(ctx, true);
}

/* ---- FUNCTION ------------------------------------------------------------ */

/* FUNCTION LOAD [REPLACE] code */
void cmd_function_load(struct exec_ctx *ctx)
{
    bool replace = false;
    if (ctx->argc == 4) {
        if (!slice_eq_nocase(ctx->argv[2], "replace")) {
            reply_errorf(ctx->reply, "ERR Unknown option given: %.*s", (int)ctx->argv[2].len, ctx->argv[2].ptr);
            return;
        }
        replace = true;
    } else if (ctx->argc != 3) {
        reply_error(ctx->reply, "ERR wrong number of arguments for 'function|load' command");
        return;
    }
    struct script_shard *ss = shard_functions(ctx);
    if (!ss)
        return;
    struct slice code = ctx->argv[ctx->argc - 1];
    struct library_desc d;
    char err[512];
    if (!script_engine_load_library(ss, code.ptr, code.len, false, &d, err, sizeof err)) {
        reply_error(ctx->reply, err);
        return;
    }
    char name[256];
    snprintf(name, sizeof name, "%s", d.name);
    struct function_registry *reg = ctx->shard->node->functions;
    pthread_mutex_lock(&reg->lock);
    const char *refused = registry_add_locked(reg, &d, code.ptr, code.len, replace, err, sizeof err);
    pthread_mutex_unlock(&reg->lock);
    library_desc_free(&d);
    if (refused)
        reply_error(ctx->reply, refused);
    else
        reply_bulk_str(ctx->reply, name);
}

/* FUNCTION DELETE library-name */
void cmd_function_delete(struct exec_ctx *ctx)
{
    struct function_registry *reg = ctx->shard->node->functions;
    char name[256];
    struct slice a = ctx->argv[2];
    bool found = false;
    if (a.len < sizeof name) {
        memcpy(name, a.ptr, a.len);
        name[a.len] = '\0';
        pthread_mutex_lock(&reg->lock);
        struct library **at = NULL;
        struct library *lib = find_library_locked(reg, name, &at);
        if (lib) {
            *at = lib->next;
            library_free(lib);
            atomic_fetch_add_explicit(&reg->epoch, 1, memory_order_acq_rel);
            found = true;
        }
        pthread_mutex_unlock(&reg->lock);
    }
    if (found)
        reply_ok(ctx->reply);
    else
        reply_error(ctx->reply, "ERR Library not found");
}

/* FUNCTION FLUSH [ASYNC|SYNC] */
void cmd_function_flush(struct exec_ctx *ctx)
{
    if (ctx->argc > 3) {
        reply_error(ctx->reply, "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION "
                                "HELP.");
        return;
    }
    if (ctx->argc == 3 && !slice_eq_nocase(ctx->argv[2], "async") && !slice_eq_nocase(ctx->argv[2], "sync")) {
        reply_error(ctx->reply, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    struct function_registry *reg = ctx->shard->node->functions;
    pthread_mutex_lock(&reg->lock);
    free_all_locked(reg);
    atomic_fetch_add_explicit(&reg->epoch, 1, memory_order_acq_rel);
    pthread_mutex_unlock(&reg->lock);
    reply_ok(ctx->reply);
}

static void reply_library(struct reply *r, const struct library *l, bool with_code)
{
    reply_map(r, with_code ? 4 : 3);
    reply_bulk_str(r, "library_name");
    reply_bulk_str(r, l->desc.name);
    reply_bulk_str(r, "engine");
    reply_bulk_str(r, "LUA");
    reply_bulk_str(r, "functions");
    reply_array(r, (size_t)l->desc.nfns);
    for (int i = 0; i < l->desc.nfns; i++) {
        const struct function_desc *f = &l->desc.fns[i];
        reply_map(r, 3);
        reply_bulk_str(r, "name");
        reply_bulk_str(r, f->name);
        reply_bulk_str(r, "description");
        if (f->description)
            reply_bulk_str(r, f->description);
        else
            reply_null(r);
        reply_bulk_str(r, "flags");
        size_t nflags = 0;
        for (int bit = 1; bit <= SCRIPT_ALLOW_CROSS_SLOT; bit <<= 1)
            nflags += (f->flags & bit) && script_function_flag_name(bit);
        reply_set(r, nflags);
        for (int bit = 1; bit <= SCRIPT_ALLOW_CROSS_SLOT; bit <<= 1)
            if ((f->flags & bit) && script_function_flag_name(bit))
                reply_simple(r, script_function_flag_name(bit));
    }
    if (with_code) {
        reply_bulk_str(r, "library_code");
        reply_bulk(r, l->code, l->len);
    }
}

/* FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE] */
void cmd_function_list(struct exec_ctx *ctx)
{
    bool with_code = false;
    const struct slice *pattern = NULL;
    for (int i = 2; i < ctx->argc; i++) {
        if (slice_eq_nocase(ctx->argv[i], "withcode") && !with_code) {
            with_code = true;
        } else if (slice_eq_nocase(ctx->argv[i], "libraryname") && !pattern) {
            if (i + 1 >= ctx->argc) {
                reply_error(ctx->reply, "ERR library name argument was not given");
                return;
            }
            pattern = &ctx->argv[++i];
        } else {
            reply_errorf(ctx->reply, "ERR Unknown argument %.*s", (int)ctx->argv[i].len, ctx->argv[i].ptr);
            return;
        }
    }
    struct function_registry *reg = ctx->shard->node->functions;
    pthread_mutex_lock(&reg->lock);
    size_t n = 0;
    for (struct library *l = reg->libs; l; l = l->next)
        n += !pattern || glob_match(pattern->ptr, pattern->len, l->desc.name, strlen(l->desc.name), false);
    reply_array(ctx->reply, n);
    for (struct library *l = reg->libs; l; l = l->next)
        if (!pattern || glob_match(pattern->ptr, pattern->len, l->desc.name, strlen(l->desc.name), false))
            reply_library(ctx->reply, l, with_code);
    pthread_mutex_unlock(&reg->lock);
}

void function_registry_counts(const struct node *n, size_t *libs, size_t *fns, size_t *bytes)
{
    struct function_registry *reg = n->functions;
    *libs = *fns = *bytes = 0;
    if (!reg)
        return;
    pthread_mutex_lock(&reg->lock);
    for (struct library *l = reg->libs; l; l = l->next) {
        (*libs)++;
        *fns += (size_t)l->desc.nfns;
        *bytes += l->len;
    }
    pthread_mutex_unlock(&reg->lock);
}

/* FUNCTION STATS: the function running past busy-reply-threshold, if any
 * (others end before another command is served), and the counts. */
void cmd_function_stats(struct exec_ctx *ctx)
{
    size_t libs, fns, bytes;
    function_registry_counts(ctx->shard->node, &libs, &fns, &bytes);
    reply_map(ctx->reply, 2);
    reply_bulk_str(ctx->reply, "running_script");
    reply_null(ctx->reply);
    reply_bulk_str(ctx->reply, "engines");
    reply_map(ctx->reply, 1);
    reply_bulk_str(ctx->reply, "LUA");
    reply_map(ctx->reply, 2);
    reply_bulk_str(ctx->reply, "libraries_count");
    reply_int(ctx->reply, (long long)libs);
    reply_bulk_str(ctx->reply, "functions_count");
    reply_int(ctx->reply, (long long)fns);
}

void function_registry_records(struct function_registry *reg, struct buf *out)
{
    pthread_mutex_lock(&reg->lock);
    for (struct library *l = reg->libs; l; l = l->next) {
        unsigned char op = RDB_OPCODE_FUNCTION2;
        buf_append(out, &op, 1);
        serialize_put_string(out, l->code, l->len);
    }
    pthread_mutex_unlock(&reg->lock);
}

bool function_registry_load(struct shard *sh, struct slice code, char *err, size_t errlen)
{
    struct buf scratch;
    buf_init(&scratch);
    struct reply r = { &scratch, 2 };
    struct exec_ctx ctx = { .shard = sh, .store = sh->store, .reply = &r };
    struct script_shard *ss = shard_functions(&ctx);
    struct library_desc d;
    bool ok = ss && script_engine_load_library(ss, code.ptr, code.len, false, &d, err, errlen);
    if (!ss)
        snprintf(err, errlen, "no Lua state to load a function library in");
    if (ok) {
        struct function_registry *reg = sh->node->functions;
        pthread_mutex_lock(&reg->lock);
        const char *refused = registry_add_locked(reg, &d, code.ptr, code.len, true, err, errlen);
        pthread_mutex_unlock(&reg->lock);
        library_desc_free(&d);
        ok = refused == NULL;
    }
    buf_free(&scratch);
    return ok;
}

/* FUNCTION DUMP's payload, as Redis's: each library's code after the
 * FUNCTION2 opcode, then the RDB version and the CRC-64 of it all. */
void function_registry_dump(struct function_registry *reg, struct buf *out)
{
    size_t start = out->len;
    function_registry_records(reg, out);
    unsigned char tail[10] = { DUMP_RDB_VERSION & 0xff, DUMP_RDB_VERSION >> 8 };
    buf_append(out, tail, 2);
    uint64_t crc = crc64(0, out->data + start, out->len - start);
    for (int i = 0; i < 8; i++)
        tail[2 + i] = (unsigned char)(crc >> (8 * i));
    buf_append(out, tail + 2, 8);
}

void cmd_function_dump(struct exec_ctx *ctx)
{
    struct buf out;
    buf_init(&out);
    function_registry_dump(ctx->shard->node->functions, &out);
    reply_bulk(ctx->reply, out.data, out.len);
    buf_free(&out);
}

struct restored {
    struct library_desc d;
    struct slice        code;
    struct buf          scratch;
};
enum restore_policy { RESTORE_APPEND, RESTORE_REPLACE, RESTORE_FLUSH };

static bool desc_has_function(const struct library_desc *d, const char *fn)
{
    for (int k = 0; k < d->nfns; k++)
        if (strcmp(d->fns[k].name, fn) == 0)
            return true;
    return false;
}

/* Why the payload's libraries cannot all enter (Redis's errors), or NULL:
 * a library that exists (APPEND) or comes twice; a function that another
 * library which stays, or another of the payload, has. */
static const char *restore_refusal_locked(struct function_registry *reg, const struct restored *libs, size_t n,
                                          int policy, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const struct library_desc *d = &libs[i].d;
        struct library *existing = policy == RESTORE_FLUSH ? NULL : find_library_locked(reg, d->name, NULL);
        bool twice = false;
        for (size_t j = 0; j < i; j++)
            twice = twice || strcmp(libs[j].d.name, d->name) == 0;
        if ((existing && policy == RESTORE_APPEND) || twice) {
            snprintf(err, errlen, "ERR Library %s already exists", d->name);
            return err;
        }
        for (int k = 0; k < d->nfns; k++) {
            bool clash = policy != RESTORE_FLUSH && function_owner_locked(reg, d->fns[k].name, existing);
            for (size_t j = 0; j < i && !clash; j++)
                clash = desc_has_function(&libs[j].d, d->fns[k].name);
            if (clash) {
                snprintf(err, errlen, "ERR Function %s already exists", d->fns[k].name);
                return err;
            }
        }
    }
    return NULL;
}

/* FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: every library of the
 * payload loaded here first (nothing changes if one fails), then entered
 * as the policy says (APPEND: a library or function that exists is an
 * error; REPLACE: a library of the same name goes; FLUSH: all go first). */
void cmd_function_restore(struct exec_ctx *ctx)
{
    int policy = RESTORE_APPEND;
    if (ctx->argc == 4) {
        if (slice_eq_nocase(ctx->argv[3], "flush"))
            policy = RESTORE_FLUSH;
        else if (slice_eq_nocase(ctx->argv[3], "replace"))
            policy = RESTORE_REPLACE;
        else if (!slice_eq_nocase(ctx->argv[3], "append")) {
            reply_error(ctx->reply, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or "
                                    "REPLACE.");
            return;
        }
    } else if (ctx->argc != 3) {
        reply_error(ctx->reply, "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION "
                                "HELP.");
        return;
    }
    struct slice p = ctx->argv[2];
    if (p.len < 10 || !serialize_payload_version_ok(p.ptr, p.len) ||
        crc64(0, p.ptr, p.len - 8) != ((uint64_t)(unsigned char)p.ptr[p.len - 8] |
                                       (uint64_t)(unsigned char)p.ptr[p.len - 7] << 8 |
                                       (uint64_t)(unsigned char)p.ptr[p.len - 6] << 16 |
                                       (uint64_t)(unsigned char)p.ptr[p.len - 5] << 24 |
                                       (uint64_t)(unsigned char)p.ptr[p.len - 4] << 32 |
                                       (uint64_t)(unsigned char)p.ptr[p.len - 3] << 40 |
                                       (uint64_t)(unsigned char)p.ptr[p.len - 2] << 48 |
                                       (uint64_t)(unsigned char)p.ptr[p.len - 1] << 56)) {
        reply_error(ctx->reply, ERR_PAYLOAD);
        return;
    }
    struct script_shard *ss = shard_functions(ctx);
    if (!ss)
        return;
    /* each library: its code and what it registers */
    struct restored *libs = NULL;
    size_t n = 0;
    const char *at = p.ptr, *end = p.ptr + p.len - 10;
    const char *refused = NULL;
    char err[512];
    while (at < end && !refused) {
        if ((unsigned char)*at != RDB_OPCODE_FUNCTION2) {
            refused = "ERR given type is not a function";
            break;
        }
        at++;
        libs = mi_realloc(libs, (n + 1) * sizeof *libs);
        struct restored *l = &libs[n];
        buf_init(&l->scratch);
        memset(&l->d, 0, sizeof l->d);
        n++;
        if (!serialize_get_string(&at, end, &l->code, &l->scratch)) {
            refused = ERR_PAYLOAD;
            break;
        }
        if (!script_engine_load_library(ss, l->code.ptr, l->code.len, false, &l->d, err, sizeof err))
            refused = err;
    }
    struct function_registry *reg = ctx->shard->node->functions;
    if (!refused) {
        pthread_mutex_lock(&reg->lock);
        refused = restore_refusal_locked(reg, libs, n, policy, err, sizeof err);
        if (!refused) {
            if (policy == RESTORE_FLUSH)
                free_all_locked(reg);
            for (size_t i = 0; i < n; i++)
                registry_add_locked(reg, &libs[i].d, libs[i].code.ptr, libs[i].code.len, true, err, sizeof err);
            atomic_fetch_add_explicit(&reg->epoch, 1, memory_order_acq_rel);
        }
        pthread_mutex_unlock(&reg->lock);
    }
    for (size_t i = 0; i < n; i++) {
        library_desc_free(&libs[i].d);
        buf_free(&libs[i].scratch);
    }
    mi_free(libs);
    if (refused)
        reply_error(ctx->reply, refused);
    else
        reply_ok(ctx->reply);
}

/* FUNCTION KILL: as SCRIPT KILL (one board of busy scripts and functions) */
void cmd_function_kill(struct exec_ctx *ctx)
{
    cmd_script_kill(ctx);
}

void cmd_function_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}
