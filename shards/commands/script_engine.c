/* script_engine: a shard's Lua 5.1 state, as Redis 7.0 sets up its own.
 *
 * The sandbox: the base, table, string and math libraries, cjson and bit
 * (Debian's lua-cjson and LuaBitOp, the libraries Redis gives scripts too)
 * and cmsgpack and struct (script_msgpack.c, script_struct.c),
 * without dofile, loadfile, print, setfenv, getfenv and newproxy (no files,
 * no output, no way around the globals' protection) and without
 * precompiled chunks (see "loading code" below); no os, io, debug or
 * package. The globals table is read-only: a script reading a global that
 * does not exist gets "Script attempted to access nonexistent global
 * variable", one writing any gets "Attempt to modify a readonly table"
 * (Redis's texts). It is done with a proxy: the real globals live in a
 * table of their own, the thread's globals table is empty with a locked
 * metatable whose __index reads the real ones and whose __newindex refuses,
 * so that chunks made by loadstring are held to it too. The libraries are
 * read-only proxies the same way (rawset into any of them refused), so no
 * script changes what the shard's later scripts see. math.random draws
 * from a generator of the shard's own (C's rand() is shared state behind a
 * lock), not reseeded per script: Redis 7.0's is not either.
 *
 * The redis library: call and pcall run a command on the store of its
 * keys' shard (dispatch_run_nested: it is journaled and counted as if a
 * client had sent it, so a replica gets the script's effects), after the
 * checks Redis makes (noscript commands, arity, writes from read-only
 * scripts, a replica's or min-replicas' refusal). A command for keys of
 * another shard runs on that shard's thread while the script holds every
 * shard (shards/hold.h: from the script's start if its declared keys are
 * on several shards, in its first run, and in the runs of one whose first
 * run touched another shard; else from that call on); one over keys of
 * several shards runs on copies (run_across), LMOVE and RPOPLPUSH as a pop
 * and a push (run_move_held). In cluster mode a key must be on this shard.
 * Commands that run on the connection's thread or on every shard are
 * refused, except TIME, PING, ECHO and SELECT, which need nothing of the
 * connection.
 * Also error_reply, status_reply, sha1hex, log, setresp (2 only),
 * set_repl and replicate_commands (no-ops: ringkv always replicates a
 * script's effects), the LOG_ and REPL_ constants and REDIS_VERSION. */
#include "shards/commands/script.h"
#include "core/acl.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua-bitop.h>
#include <lua-cjson.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/commands/commands.h"
#include "shards/dispatch.h"
#include "shards/hold.h"
#include "shards/monitor.h"
#include "shards/scratch.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/slot.h"
#include "ringkv_version.h"

/* LUA_REGISTRYINDEX fields */
#define CACHE_FIELD    "ringkv.scripts"  /* the compiled scripts, by sha */
#define FLAGS_FIELD    "ringkv.flags"    /* the flags of those with a shebang line, by sha */
#define GLOBALS_FIELD  "ringkv.globals"  /* the real globals, behind the proxy */
#define READONLY_FIELD "ringkv.readonly" /* the read-only proxies: proxy -> true */

#define ERR_NON_LOCAL_CLUSTER "ERR Script attempted to access a non local key in a cluster node script"
#define ERR_NOT_HERE_FROM_SCRIPT \
    "ERR This command runs on the connection or on every shard in ringkv: it is not allowed from scripts"

/* A script's SELECT (a valid database or not: SELECT's own checks answer
 * that). Redis 7 selects it for the rest of the script, not for its caller:
 * the script's calls here, those it makes on other shards (shards/hold.c)
 * and its copies (run_across) all go by the shard's selected database, so
 * selecting it and the script's store is all; run_called selects the
 * caller's again at the end. Over copies of its keys (a scratch store) a
 * script cannot reach another database: refused there. */
static bool is_select(const struct command *cmd, const struct exec_ctx *ctx)
{
    return cmd->fn == cmd_select && ctx->shard;
}

static bool select_elsewhere(const struct exec_ctx *ctx, int argc, const struct slice *argv)
{
    long long db;
    return argc == 2 && parse_ll(argv[1], &db) && db >= 0 && db < ctx->shard->ndbs && db != ctx->shard->db;
}

static struct script_shard *shard_state(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* The Lua state's memory comes from the shard's heap (mimalloc's
 * per-thread heap), so used_memory counts it. */
static void *lua_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        mi_free(ptr);
        return NULL;
    }
    return mi_realloc(ptr, nsize);
}

/* ---- errors as Redis's scripts see them ---------------------------------- */

/* Push {err=text} where text is normalised as Redis's luaPushErrorBuff
 * does; text_has_code: it starts with its error code ("WRONGTYPE ..."). */
static void push_error_table(lua_State *L, const char *text, bool text_has_code)
{
    lua_createtable(L, 0, 1);
    if (text_has_code) {
        lua_pushfstring(L, "-%s", text);
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        script_push_error_text(L, s, n);
        lua_remove(L, -2);
    } else {
        script_push_error_text(L, text, strlen(text));
    }
    lua_setfield(L, -2, "err");
}

/* redis.call raises the error table; redis.pcall returns it. */
static int call_failed(lua_State *L, bool raise, const char *text, bool text_has_code)
{
    push_error_table(L, text, text_has_code);
    if (raise)
        return lua_error(L);
    return 1;
}

/* ---- redis.call, redis.pcall ------------------------------------------------ */

static void busy_hook(lua_State *L, lua_Debug *ar);

/* Where a script's command for this key runs: on the store the script runs
 * against (KEY_HERE), or on another shard (its id: run there while the
 * script holds every shard, shards/hold.h). */
#define KEY_HERE   (-1)
#define KEY_ACROSS (-2) /* a command over keys of several shards, held: run_across */

/* May the script touch this key, and where (see the file's comment)? NULL
 * with *where set, or the refusal. */
static const char *key_place(const struct script_shard *ss, struct slice key, int *where)
{
    const struct exec_ctx *ctx = ss->ctx;
    struct shard *sh = ctx->shard;
    *where = KEY_HERE;
    if (ctx->store != sh->store) {
        /* a scratch store holds copies of the script's declared keys only */
        for (int k = 0; k < ss->nkeys; k++) {
            struct slice d = ctx->argv[3 + k];
            if (d.len == key.len && memcmp(d.ptr, key.ptr, key.len) == 0)
                return NULL;
        }
        return "ERR Script attempted to access a key it did not declare, in a script whose keys are on "
               "several shards: declare every key in KEYS";
    }
    unsigned slot = key_slot(key.ptr, key.len);
    int owner = shard_of_slot(sh->node, slot);
    if (!sh->node->key_gate) {
        if (owner != sh->id)
            *where = owner;
        return NULL;
    }
    /* cluster mode: the slots served to anyone first (one load and a bit
     * test, as the router does), the gate itself for the others */
    const uint64_t *served = atomic_load_explicit(&sh->node->key_gate_served, memory_order_acquire);
    char text[160];
    if (!(served && ((served[slot >> 6] >> (slot & 63)) & 1)) &&
        sh->node->key_gate(sh->node, (int)slot, false, 0, text, sizeof text))
        return ERR_NON_LOCAL_CLUSTER;
    if (owner != sh->id)
        return "ERR Script attempted to access a key of another shard than the one it runs on: declare its "
               "keys in KEYS, and keep them on one shard with a hash tag ({...})";
    return NULL;
}

#define CALL_ARGS_SMALL 16


/* May the script's caller run this command (its ACL user, found again by
 * id in the current users set: the one the script started under may have
 * been replaced since)? NULL, or Redis's text; the refusal is logged in
 * ACL LOG with the context "lua". */
static const char *script_acl_refusal(struct exec_ctx *ctx, const struct command *cmd, int argc,
                                      const struct slice *argv)
{
    struct acl *a = &ctx->shard->node->acl;
    const struct acl_users *set = acl_current(a);
    if (!set)
        return NULL; /* a node without users set up (the fuzz target's): nothing to check */
    const struct acl_user *u = NULL;
    for (int i = 0; i < set->n && !u; i++)
        if (set->users[i]->id == ctx->acl_user_id)
            u = set->users[i];
    if (u && u->unrestricted)
        return NULL;
    int arg = -1;
    enum acl_denial why = u ? acl_check(u, cmd, argc, argv, &arg) : ACL_DENIED_CMD;
    if (why == ACL_OK)
        return NULL;
    char info[512], object[96];
    if (ctx->client)
        acl_client_info(ctx->client, u ? u->name : "", ctx->now_ms, info, sizeof(info));
    else
        snprintf(info, sizeof(info), "id=%llu", (unsigned long long)ctx->caller_id);
    const char *obj = object;
    size_t olen;
    if (arg >= 0) {
        obj = argv[arg].ptr;
        olen = argv[arg].len;
    } else {
        snprintf(object, sizeof(object), "%s", cmd->name);
        olen = strlen(object);
    }
    const char *name = u ? u->name : "";
    acl_log_add(a, why == ACL_DENIED_KEY ? "key" : why == ACL_DENIED_CHANNEL ? "channel" : "command", "lua",
                obj, olen, name, strlen(name), info, ctx->now_ms);
    switch (why) {
    case ACL_DENIED_KEY:
        return "The user executing the script can't access at least one of the keys mentioned in the "
               "command arguments";
    case ACL_DENIED_CHANNEL:
        return "The user executing the script can't publish to the channel mentioned in the command";
    default:
        return "The user executing the script can't run this command or subcommand";
    }
}

/* A command of the script run on a held shard, on that shard's thread. */
struct held_call {
    const struct exec_ctx *script;
    const struct command  *cmd;
    int                    argc;
    const struct slice    *argv;
    struct buf            *out;
    int                    db;   /* the script's database (its caller's) */
};

static void run_held_call(struct shard *sh, void *arg)
{
    struct held_call *c = arg;
    int before = sh->db;
    shard_select(sh, c->db); /* the call runs in the script's database there too */
    struct exec_ctx there = *c->script;
    there.shard = sh;
    there.store = sh->store;
    there.client = NULL;
    there.msg = NULL;
    dispatch_run_nested(&there, c->cmd, c->argc, c->argv, c->out);
    shard_select(sh, before);
}

/* A command of the script run on shard `at`, held (or here): its reply
 * appended to out. */
static void held_command(struct exec_ctx *ctx, int at, int argc, const struct slice *argv, struct buf *out)
{
    struct held_call call = { ctx, command_lookup(argv[0]), argc, argv, out, ctx->shard->db };
    hold_run(ctx->shard, at, run_held_call, &call);
}

static bool reply_is(const struct buf *b, const char *text)
{
    size_t n = strlen(text);
    return b->len == n && memcmp(b->data, text, n) == 0;
}

/* LMOVE and RPOPLPUSH from a list of one shard to one of another, the
 * script holding every shard: in Redis's order of checks (a missing
 * source: nil; a source, then a destination, of another type: WRONGTYPE),
 * then the pop on the source's shard and the push on the destination's,
 * nothing running between them (no copy of either list, as the copies of
 * run_across would make). A push refused (over maxmemory) puts the
 * element back where it was. false: not one of these (or a syntax error,
 * which run_across's run of the command answers). */
static bool run_move_held(struct exec_ctx *ctx, const struct command *cmd, int argc, const struct slice *argv,
                          struct buf *out)
{
    bool lmove = strcmp(cmd->name, "lmove") == 0;
    bool from_head = false, to_head = true;
    if (lmove ? argc != 5 || !list_parse_end(argv[3], &from_head) || !list_parse_end(argv[4], &to_head)
              : strcmp(cmd->name, "rpoplpush") != 0 || argc != 3)
        return false;
    struct node *n = ctx->shard->node;
    struct slice src = argv[1], dst = argv[2];
    int src_at = shard_of_slot(n, key_slot(src.ptr, src.len));
    int dst_at = shard_of_slot(n, key_slot(dst.ptr, dst.len));
    struct reply r = { out, 2 };
    struct buf got;
    buf_init(&got);
    struct slice type_src[] = { SLICE_LIT("TYPE"), src }, type_dst[] = { SLICE_LIT("TYPE"), dst };
    held_command(ctx, src_at, 2, type_src, &got);
    if (reply_is(&got, "+none\r\n")) {
        reply_null(&r);
        goto done;
    }
    bool src_list = reply_is(&got, "+list\r\n");
    buf_clear(&got);
    held_command(ctx, dst_at, 2, type_dst, &got);
    if (!src_list || !(reply_is(&got, "+list\r\n") || reply_is(&got, "+none\r\n"))) {
        reply_error(&r, ERR_WRONGTYPE);
        goto done;
    }
    buf_clear(&got);
    struct slice pop[] = { from_head ? SLICE_LIT("LPOP") : SLICE_LIT("RPOP"), src };
    held_command(ctx, src_at, 2, pop, &got);
    const char *crlf = got.len > 1 && got.data[0] == '$' ? memchr(got.data, '\r', got.len) : NULL;
    long long len = crlf ? strtoll(got.data + 1, NULL, 10) : -1;
    if (len < 0) { /* nothing popped after all: its reply is the answer */
        buf_append(out, got.data, got.len);
        goto done;
    }
    struct slice elem = { crlf + 2, (size_t)len };
    struct buf pushed;
    buf_init(&pushed);
    struct slice push[] = { to_head ? SLICE_LIT("LPUSH") : SLICE_LIT("RPUSH"), dst, elem };
    held_command(ctx, dst_at, 3, push, &pushed);
    if (pushed.len > 0 && pushed.data[0] == '-') {
        struct buf back;
        buf_init(&back);
        struct slice undo[] = { from_head ? SLICE_LIT("LPUSH") : SLICE_LIT("RPUSH"), src, elem };
        held_command(ctx, src_at, 3, undo, &back);
        buf_free(&back);
        buf_append(out, pushed.data, pushed.len);
    } else {
        reply_bulk(&r, elem.ptr, elem.len);
    }
    buf_free(&pushed);
done:
    buf_free(&got);
    return true;
}

/* A key's copy made on its shard's thread (keys_export) */
struct key_copy {
    struct slice key;
    struct buf  *out;
    int64_t      now;
    int          db;   /* the script's database */
};

static void export_key(struct shard *sh, void *arg)
{
    struct key_copy *c = arg;
    keys_export(shard_db(sh, c->db), 1, &c->key, c->out, c->now);
}

struct key_writes {
    const struct buf *records;
    int64_t           now;
    int               db;
};

static void apply_key_writes(struct shard *sh, void *arg)
{
    struct key_writes *w = arg;
    int before = sh->db;
    shard_select(sh, w->db);
    dispatch_apply_writes(sh, w->records, w->now);
    shard_select(sh, before);
}

/* A command over keys of several shards, the script holding every shard:
 * as a client's such command runs (shards/scratch.h), on copies of its
 * keys in a store of its own, its writes then applied on each key's
 * shard, but each step a call on the held shard, so that nothing runs
 * between them. */
static void run_across(struct exec_ctx *ctx, const struct command *cmd, int argc, const struct slice *argv,
                       struct buf *out)
{
    struct shard *sh = ctx->shard;
    struct node *n = sh->node;
    struct write_capture_dest capd = { { false, n, mi_calloc((size_t)n->nshards, sizeof(struct buf)), NULL },
                                       { NULL, 0 }, 0 };
    struct store *copies = store_create(NULL, write_capture_dest_hook, &capd);
    store_set_db(copies, sh->db);
    int64_t now = ctx->now_ms;
    int nk = command_keys(cmd, argc, argv, NULL, 0);
    int *idx = mi_malloc(sizeof(int) * (size_t)(nk > 0 ? nk : 1));
    command_keys(cmd, argc, argv, idx, nk);
    /* COPY ... DB n: the destination copied from database n, its writes
     * applied there, its notifications named there */
    int dest_db = dispatch_dest_db(sh, cmd, argc, argv, sh->db);
    int dest_shard = -1;
    if (dest_db != sh->db && nk > DISPATCH_DEST_KEY) {
        capd.dest_key = argv[idx[DISPATCH_DEST_KEY]];
        capd.dest_db = dest_db;
        dest_shard = shard_of_slot(n, key_slot(capd.dest_key.ptr, capd.dest_key.len));
    }
    for (int k = 0; k < nk; k++) {
        struct slice key = argv[idx[k]];
        struct buf copy;
        buf_init(&copy);
        struct key_copy c = { key, &copy, now, k == DISPATCH_DEST_KEY && dest_shard >= 0 ? dest_db : sh->db };
        hold_run(sh, shard_of_slot(n, key_slot(key.ptr, key.len)), export_key, &c);
        const char *cursor = copy.data;
        if (cursor)
            key_import(copies, key, &cursor, now);
        buf_free(&copy);
    }
    mi_free(idx);
    capd.cap.on = true;
    capd.cap.notify = sh;
    struct exec_ctx on_copies = *ctx;
    on_copies.store = copies;
    dispatch_run_nested(&on_copies, cmd, argc, argv, out);
    capd.cap.on = false;
    store_destroy(copies);
    for (int t = 0; t < n->nshards; t++) {
        if (capd.cap.per_shard[t].len > 0) {
            struct key_writes w = { &capd.cap.per_shard[t], now, t == dest_shard ? dest_db : sh->db };
            hold_run(sh, t, apply_key_writes, &w);
        }
        buf_free(&capd.cap.per_shard[t]);
    }
    mi_free(capd.cap.per_shard);
}

/* A script that does not hold the other shards (one known to touch only
 * its own: hold.h) touched a key of another: it holds them for the rest of
 * its run, and from its start next time. NULL, or why not: if another
 * holds them and the script has written nothing, it is ended, to run
 * again once it can hold them (the caller asks it again:
 * exec_ctx.may_wait); having written, it cannot be undone, and gets
 * -TRYAGAIN. */
static const char *hold_others(struct script_shard *ss)
{
    struct exec_ctx *ctx = ss->ctx;
    struct shard *sh = ctx->shard;
    hold_mark(sh->node, ctx->argv[1].ptr, ctx->argv[1].len, HOLD_HOLDS);
    int rc = hold_all(sh);
    if (rc == 0) {
        ss->holding = true;
        return NULL;
    }
    if (rc == -2)
        return "ERR The server is shutting down";
    if (!atomic_load_explicit(&ss->wrote, memory_order_relaxed) && ctx->may_wait) {
        ss->wants_hold = true;
        lua_sethook(ss->L, busy_hook, LUA_MASKCOUNT, 1); /* raises at once, and again past any pcall */
        return "ERR Script restarts holding every shard";
    }
    return "TRYAGAIN Script touched a key of another shard it did not declare after it wrote, while another "
           "script held every shard: run it again";
}

/* XREAD or XREADGROUP with BLOCK: Redis 7 refuses it from a script when its
 * parser meets the option ("%s command is not allowed with BLOCK option
 * from scripts", the name as the script wrote it), so an option before it
 * that is wrong is the handler's to answer. */
static bool stream_read_blocks(const struct command *cmd, int argc, const struct slice *argv)
{
    if (cmd->name[0] != 'x') /* most calls: one byte looked at */
        return false;
    bool group = strcmp(cmd->name, "xreadgroup") == 0;
    if (!group && strcmp(cmd->name, "xread") != 0)
        return false;
    for (int i = 1; i < argc; i++) {
        int more = argc - i - 1;
        long long n;
        if (slice_eq_nocase(argv[i], "block") && more)
            return true;
        if (slice_eq_nocase(argv[i], "count") && more && parse_ll(argv[i + 1], &n))
            i++;
        else if (group && slice_eq_nocase(argv[i], "group") && more >= 2)
            i += 2;
        else if (!(group && slice_eq_nocase(argv[i], "noack")))
            return false; /* STREAMS, or the handler's error */
    }
    return false;
}

static int redis_call_common(lua_State *L, bool raise)
{
    struct script_shard *ss = shard_state(L);
    struct exec_ctx *ctx = ss->ctx;
    int argc = lua_gettop(L);
    if (!ctx)
        return call_failed(L, raise, "redis.call is only available while a script runs", false);
    if (argc == 0)
        return call_failed(L, raise, "Please specify at least one argument for this redis lib call", false);
    /* numbers as Redis 7.0 turns them into arguments (%.17g); each string
     * stays on the Lua stack while the command runs */
    for (int i = 1; i <= argc; i++) {
        int t = lua_type(L, i);
        if (t == LUA_TNUMBER) {
            char num[64];
            int n = snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, i));
            lua_pushlstring(L, num, (size_t)n);
            lua_replace(L, i);
        } else if (t != LUA_TSTRING) {
            return call_failed(L, raise, "Lua redis lib command arguments must be strings or integers", false);
        }
    }
    luaL_checkstack(L, 8, "too many arguments");
    struct slice small[CALL_ARGS_SMALL];
    struct slice *argv = argc <= CALL_ARGS_SMALL ? small : mi_malloc(sizeof(struct slice) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n;
        argv[i].ptr = lua_tolstring(L, i + 1, &n);
        argv[i].len = n;
    }
    const char *refused = NULL;
    bool refused_has_code = false;
    char refusal[128];
    int where = KEY_HERE;
    const struct command *cmd = command_lookup(argv[0]);
    const struct command *container = NULL;
    if (cmd && cmd->subcommands && (argc >= 2 || !cmd->fn)) {
        container = cmd; /* a container alone (SCRIPT) has too few arguments */
        cmd = argc >= 2 ? command_lookup_sub(container, argv[1]) : NULL;
    }
    if (!cmd && container && argc < 2) {
        refused = "Wrong number of args calling Redis command from script";
    } else if (!cmd) {
        refused = "Unknown Redis command called from script";
    } else if (!command_arity_ok(cmd, argc)) {
        refused = "Wrong number of args calling Redis command from script";
    } else if ((cmd->flags | (container ? container->flags : 0)) & CMD_NOSCRIPT) {
        refused = "This Redis command is not allowed from script";
    } else if ((cmd->flags & (CMD_CONN | CMD_ALL_SHARDS | CMD_SHARD0 | CMD_CURSOR | CMD_PROTECTED)) &&
               !((cmd->flags & CMD_CONN) && !container && command_needs_no_connection(cmd))) {
        refused = ERR_NOT_HERE_FROM_SCRIPT;
        refused_has_code = true;
    } else if (is_select(cmd, ctx) && ctx->store != ctx->shard->store && select_elsewhere(ctx, argc, argv)) {
        refused = "ERR SELECT of another database is not supported by ringkv in a script run on copies of its "
                  "keys";
        refused_has_code = true;
    } else if (stream_read_blocks(cmd, argc, argv)) {
        snprintf(refusal, sizeof refusal, "%.*s command is not allowed with BLOCK option from scripts",
                 (int)(argv[0].len > 32 ? 32 : argv[0].len), argv[0].ptr);
        refused = refusal;
    } else if ((cmd->flags & CMD_WRITE) && ss->read_only) {
        refused = "Write commands are not allowed from read-only scripts.";
    } else if ((cmd->flags & CMD_WRITE) && (refused = node_write_refusal(ctx->shard->node))) {
        refused_has_code = true; /* -READONLY, -NOREPLICAS */
    } else if ((cmd->flags & CMD_WRITE) &&
               atomic_load_explicit(&ctx->shard->node->repl_writes_paused, memory_order_relaxed)) {
        /* a FAILOVER began after the script was let through */
        refused = "READONLY You can't write while a FAILOVER hands this master over to a replica.";
        refused_has_code = true;
    } else if ((refused = script_acl_refusal(ctx, cmd, argc, argv)) != NULL) {
        /* the text is Redis's, without a code of its own: -ERR */
    } else {
        int few[16];
        int *idx = few;
        int nk = command_keys(cmd, argc, argv, few, 16);
        if (nk > 16) {
            idx = mi_malloc(sizeof(int) * (size_t)nk);
            command_keys(cmd, argc, argv, idx, nk);
        }
        bool differ = false;
        for (int k = 0; k < nk && !refused; k++) {
            int w;
            refused = key_place(ss, argv[idx[k]], &w);
            differ = differ || (k > 0 && w != where);
            where = w;
        }
        if (differ) /* keys of several shards: on copies, while the script holds every shard */
            where = KEY_ACROSS;
        if (!refused && (where >= 0 || where == KEY_ACROSS)) {
            ss->touched_other = true;
            if (!ss->holding)
                refused = hold_others(ss);
        }
        if (refused)
            refused_has_code = true;
        if (idx != few)
            mi_free(idx);
    }
    if (refused) {
        if (argv != small)
            mi_free(argv);
        return call_failed(L, raise, refused, refused_has_code);
    }
    if (cmd->flags & CMD_WRITE) /* SCRIPT KILL must not end it now (Redis's UNKILLABLE) */
        atomic_store_explicit(&ss->wrote, true, memory_order_relaxed);
    struct buf out;
    buf_init(&out);
    if (cmd->flags & CMD_CONN) {
        /* one of command_needs_no_connection's: called as it is, no client */
        struct reply r = { &out, 2 };
        struct exec_ctx conn_ctx = *ctx;
        conn_ctx.reply = &r;
        conn_ctx.argc = argc;
        conn_ctx.argv = argv;
        conn_ctx.client = NULL;
        bool elsewhere = is_select(cmd, ctx) && select_elsewhere(ctx, argc, argv);
        cmd->fn(&conn_ctx);
        if (elsewhere && out.len > 0 && out.data[0] == '+') {
            long long db;
            parse_ll(argv[1], &db);
            shard_select(ctx->shard, (int)db);
            ctx->store = ctx->shard->store;
        }
        if (ctx->shard && monitor_watching(ctx->shard->node)) /* as Redis shows it: after it ran (SELECT: in its db) */
            monitor_command_from(ctx->shard, "lua", argc, argv);
    } else if (where == KEY_HERE) {
        dispatch_run_nested(ctx, cmd, argc, argv, &out);
    } else if (where == KEY_ACROSS) {
        if (!run_move_held(ctx, cmd, argc, argv, &out))
            run_across(ctx, cmd, argc, argv, &out);
    } else {
        struct held_call call = { ctx, cmd, argc, argv, &out, ctx->shard->db };
        hold_run(ctx->shard, where, run_held_call, &call);
    }
    if (argv != small)
        mi_free(argv);
    /* out is freed before anything here may raise a Lua error (a longjmp) */
    if (out.len > 0 && out.data[0] == '-') {
        script_push_reply(L, out.data, out.len);
        buf_free(&out);
        if (raise)
            return lua_error(L);
        return 1;
    }
    if (out.len == 0)
        lua_pushboolean(L, 0);
    else
        script_push_reply(L, out.data, out.len);
    buf_free(&out);
    return 1;
}

static int redis_call(lua_State *L)
{
    return redis_call_common(L, true);
}

static int redis_pcall(lua_State *L)
{
    return redis_call_common(L, false);
}

/* ---- the rest of the redis library --------------------------------------- */

static int redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        push_error_table(L, "wrong number or type of arguments", false);
        return 1;
    }
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    lua_createtable(L, 0, 1);
    if (n > 0 && s[0] == '-') {
        script_push_error_text(L, s, n);
    } else {
        lua_pushfstring(L, "-%s", s);
        size_t dn;
        const char *d = lua_tolstring(L, -1, &dn);
        script_push_error_text(L, d, dn);
        lua_remove(L, -2);
    }
    lua_setfield(L, -2, "err");
    return 1;
}

static int redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        push_error_table(L, "wrong number or type of arguments", false);
        return 1;
    }
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int redis_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return call_failed(L, true, "wrong number of arguments", false);
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    char hex[SHA1_HEX_LEN + 1];
    sha1_hex(s ? s : "", s ? n : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* redis.log(level, message...): the arguments joined by spaces */
static int redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return call_failed(L, true, "redis.log() requires two arguments or more.", false);
    if (!lua_isnumber(L, 1))
        return call_failed(L, true, "First argument must be a number (log level).", false);
    lua_Number level = lua_tonumber(L, 1);
    if (level < LOG_DEBUG || level > LOG_WARNING)
        return call_failed(L, true, "Invalid debug level.", false);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        if (!s)
            continue;
        if (i > 2)
            luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, n);
    }
    luaL_pushresult(&b);
    log_msg((int)level, "%s", lua_tostring(L, -1));
    return 0;
}

static int redis_setresp(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return call_failed(L, true, "redis.setresp() requires one argument.", false);
    lua_Number v = lua_tonumber(L, 1);
    if (v != 2 && v != 3)
        return call_failed(L, true, "RESP version must be 2 or 3.", false);
    if (v == 3)
        return call_failed(L, true, "RESP3 replies in scripts are not supported by ringkv", false);
    return 0;
}

/* ringkv always replicates a script's effects (Redis 7's default): the
 * arguments are checked as Redis does and then ignored */
static int redis_set_repl(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return call_failed(L, true, "redis.set_repl() requires two arguments.", false);
    return 0;
}

static int redis_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int redis_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0); /* no debugger attached, ever */
    return 1;
}

static int redis_debug(lua_State *L)
{
    (void)L;
    return 0;
}

/* ---- math.random -------------------------------------------------------- */

/* The next number in [0, 1) of the shard's 48-bit linear congruential
 * generator (lrand48's constants: the top 31 bits of its state). */
static double next_random(struct script_shard *ss)
{
    ss->rand_state = (ss->rand_state * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
    return (double)(ss->rand_state >> 17) / 2147483648.0;
}

/* math.random([m [, n]]) with Lua 5.1's arguments and errors */
static int math_random(lua_State *L)
{
    lua_Number r = next_random(shard_state(L));
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L)
{
    struct script_shard *ss = shard_state(L);
    ss->rand_state = ((uint64_t)(uint32_t)luaL_checkint(L, 1) << 16) | 0x330E;
    return 0;
}

/* ---- loading code: text only --------------------------------------------- */

/* Lua 5.1 loads precompiled chunks as readily as text, and a crafted one
 * can break out of the virtual machine's checks: Redis patches its Lua to
 * refuse them, ringkv (with Debian's Lua) refuses them before Lua sees
 * them, in script bodies and in loadstring and load, with Redis's
 * answers. */
static bool is_binary_chunk(const char *s, size_t len)
{
    return len > 0 && s[0] == LUA_SIGNATURE[0];
}

/* The chunk at the top of the stack (a string) as loadstring returns it:
 * the function, or nil and the message. */
static int load_text_chunk(lua_State *L, const char *chunkname)
{
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (is_binary_chunk(s, len)) {
        lua_pushnil(L);
        lua_pushliteral(L, "binary chunks are not allowed");
        return 2;
    }
    if (luaL_loadbuffer(L, s, len, chunkname) == 0)
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* loadstring(string [, chunkname]) */
static int safe_loadstring(lua_State *L)
{
    const char *s = luaL_checkstring(L, 1);
    const char *chunkname = luaL_optstring(L, 2, s);
    lua_settop(L, 2);
    lua_pushvalue(L, 1);
    return load_text_chunk(L, chunkname);
}

/* load(func [, chunkname]): the pieces func returns, joined, then as
 * loadstring */
static int safe_load(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *chunkname = luaL_optstring(L, 2, "=(load)");
    lua_settop(L, 2);
    lua_pushliteral(L, "");
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1) || (lua_isstring(L, -1) && lua_objlen(L, -1) == 0)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1))
            return luaL_error(L, "reader function must return a string");
        lua_concat(L, 2);
    }
    return load_text_chunk(L, chunkname);
}

/* ---- the globals' protection -------------------------------------------- */

static int globals_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1))
        return 1;
    const char *name = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name);
}

static int globals_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* rawset(t, k, v), except into the globals or a library: a proxy's own
 * fields would shadow the real ones (KEYS, redis.call) for every later
 * script of the shard. */
static int safe_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_getfield(L, LUA_REGISTRYINDEX, READONLY_FIELD);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    if (lua_toboolean(L, -1)) {
        lua_pushliteral(L, "Attempt to modify a readonly table"); /* no position, as Redis's */
        return lua_error(L);
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Push a view of the table at stack index `of` (absolute): an empty table
 * whose reads go to it (strict: a name it lacks is Redis's "nonexistent
 * global variable" error), whose writes raise Redis's error, and whose
 * metatable is locked. */
static void push_view(lua_State *L, int of, bool strict)
{
    lua_newtable(L);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, of);
    if (strict)
        lua_pushcclosure(L, globals_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, globals_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* Replace the table at the top of the stack with a read-only proxy of it
 * (reads go through, writes raise Redis's error, its metatable is locked),
 * entered in READONLY_FIELD for safe_rawset. */
static void make_readonly_proxy(lua_State *L)
{
    push_view(L, lua_gettop(L), false);                /* real, proxy */
    lua_remove(L, -2);                                 /* proxy */
    lua_getfield(L, LUA_REGISTRYINDEX, READONLY_FIELD);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* ---- the state ---------------------------------------------------------- */

static void set_closure(lua_State *L, struct script_shard *ss, const char *name, lua_CFunction fn)
{
    lua_pushlightuserdata(L, ss);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
}

static void set_number(lua_State *L, const char *name, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

/* The redis library's LOG_ levels and version, into the table on the top
 * of the stack (scripts' and libraries' loading alike). */
static void set_log_and_version(lua_State *L)
{
    set_number(L, "LOG_DEBUG", LOG_DEBUG);
    set_number(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_number(L, "LOG_NOTICE", LOG_NOTICE);
    set_number(L, "LOG_WARNING", LOG_WARNING);
    lua_pushliteral(L, REDIS_COMPAT_VERSION); /* the version ringkv's INFO reports */
    lua_setfield(L, -2, "REDIS_VERSION");
    set_number(L, "REDIS_VERSION_NUM", 0x070000);
}

lua_State *script_engine_new(struct script_shard *ss)
{
    lua_State *L = lua_newstate(lua_alloc_fn, NULL);
    if (!L)
        return NULL;
    static const luaL_Reg libs[] = {
        { "", luaopen_base },
        { LUA_TABLIBNAME, luaopen_table },
        { LUA_STRLIBNAME, luaopen_string },
        { LUA_MATHLIBNAME, luaopen_math },
    };
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        lua_pushcfunction(L, libs[i].func);
        lua_pushstring(L, libs[i].name);
        lua_call(L, 1, 0);
    }
    lua_register(L, "rawset", safe_rawset);
    lua_register(L, "loadstring", safe_loadstring);
    lua_register(L, "load", safe_load);
    /* cjson and bit as globals, as Redis has them */
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    lua_pushcfunction(L, luaopen_bit);
    lua_call(L, 0, 1);
    lua_setglobal(L, "bit");
    lua_pushcfunction(L, luaopen_cmsgpack); /* ringkv's own (script_msgpack.c) */
    lua_call(L, 0, 1);
    lua_setglobal(L, "cmsgpack");
    lua_pushcfunction(L, luaopen_struct); /* ringkv's own (script_struct.c) */
    lua_call(L, 0, 1);
    lua_setglobal(L, "struct");
    static const char *const removed[] = { "dofile", "loadfile", "print", "setfenv", "getfenv", "newproxy" };
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    ss->rand_state = (clock_mono_ns() << 16) & ((1ULL << 48) - 1);
    lua_getglobal(L, LUA_MATHLIBNAME);
    set_closure(L, ss, "random", math_random);
    set_closure(L, ss, "randomseed", math_randomseed);
    lua_pop(L, 1);

    lua_newtable(L);
    set_closure(L, ss, "call", redis_call);
    set_closure(L, ss, "pcall", redis_pcall);
    set_closure(L, ss, "error_reply", redis_error_reply);
    set_closure(L, ss, "status_reply", redis_status_reply);
    set_closure(L, ss, "sha1hex", redis_sha1hex);
    set_closure(L, ss, "log", redis_log);
    set_closure(L, ss, "setresp", redis_setresp);
    set_closure(L, ss, "set_repl", redis_set_repl);
    set_closure(L, ss, "replicate_commands", redis_replicate_commands);
    set_closure(L, ss, "breakpoint", redis_breakpoint);
    set_closure(L, ss, "debug", redis_debug);
    set_log_and_version(L);
    set_number(L, "REPL_NONE", 0);
    set_number(L, "REPL_AOF", 1);
    set_number(L, "REPL_SLAVE", 2);
    set_number(L, "REPL_REPLICA", 2);
    set_number(L, "REPL_ALL", 3);
    lua_setglobal(L, "redis");

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_FIELD);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, FLAGS_FIELD);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "ringkv.functions");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "ringkv.function_flags");

    /* the libraries read-only, as Redis 7's: one script may not change
     * what the shard's later scripts call (the proxies hide the libraries
     * from pairs(), and the strings' metatable from getmetatable) */
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, READONLY_FIELD);
    static const char *const libraries[] = { "redis", LUA_STRLIBNAME, LUA_MATHLIBNAME, LUA_TABLIBNAME,
                                             LUA_COLIBNAME, "cjson", "bit", "cmsgpack", "struct" };
    for (size_t i = 0; i < sizeof libraries / sizeof libraries[0]; i++) {
        lua_getglobal(L, libraries[i]);
        make_readonly_proxy(L);
        lua_setglobal(L, libraries[i]);
    }
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    /* the globals so far become the real ones behind the read-only proxy */
    lua_pushvalue(L, LUA_GLOBALSINDEX);                /* real */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, GLOBALS_FIELD);
    push_view(L, lua_gettop(L), true);                 /* real, proxy (setmetatable(_G, ...) refused) */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "_G");                         /* real._G = proxy */
    lua_getfield(L, LUA_REGISTRYINDEX, READONLY_FIELD);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_replace(L, LUA_GLOBALSINDEX);                  /* real */
    lua_pop(L, 1);
    return L;
}

static bool compile_text(struct script_shard *ss, const char *sha, const char *body, size_t len, char *err,
                         size_t errlen);

/* The flags a script's shebang line or a function's registration may
 * declare (Redis 7's names). */
static const struct {
    const char *name;
    int         flag;
} known[] = {
    { "no-writes", SCRIPT_NO_WRITES }, { "allow-oom", SCRIPT_ALLOW_OOM }, { "allow-stale", SCRIPT_ALLOW_STALE },
    { "no-cluster", SCRIPT_NO_CLUSTER }, { "allow-cross-slot-keys", SCRIPT_ALLOW_CROSS_SLOT },
};

/* The next space-separated word of line[0..len) from *i: false at the end. */
static bool next_word(const char *line, size_t len, size_t *i, const char **w, int *wl)
{
    while (*i < len && line[*i] == ' ')
        (*i)++;
    if (*i >= len)
        return false;
    size_t start = *i;
    while (*i < len && line[*i] != ' ')
        (*i)++;
    *w = line + start;
    *wl = (int)(*i - start);
    return true;
}

/* Redis 7's shebang line, "#!lua [flags=f1,f2...]": its flags, or -1 with
 * Redis's error in err. */
static int shebang_flags(const char *line, size_t len, char *err, size_t errlen)
{
    int flags = SCRIPT_SHEBANG;
    size_t i = 0;
    const char *w;
    int wl;
    for (int word = 0; next_word(line, len, &i, &w, &wl); word++) {
        if (word == 0) {
            if (wl != 5 || memcmp(w, "#!lua", 5) != 0) {
                snprintf(err, errlen, "ERR Unexpected engine in script shebang: %.*s", wl, w);
                return -1;
            }
            continue;
        }
        if (wl < 6 || memcmp(w, "flags=", 6) != 0) {
            snprintf(err, errlen, "ERR Unknown lua shebang option: %.*s", wl, w);
            return -1;
        }
        for (int f = 6; f < wl;) {
            int end = f;
            while (end < wl && w[end] != ',')
                end++;
            size_t k = 0;
            for (; k < sizeof known / sizeof known[0]; k++)
                if ((size_t)(end - f) == strlen(known[k].name) && memcmp(w + f, known[k].name, (size_t)(end - f)) == 0)
                    break;
            if (k == sizeof known / sizeof known[0]) {
                snprintf(err, errlen, "ERR Unexpected flag in script shebang: %.*s", end - f, w + f);
                return -1;
            }
            flags |= known[k].flag;
            f = end + 1;
        }
    }
    return flags;
}

bool script_engine_compile(struct script_shard *ss, const char *sha, const char *body, size_t len, char *err,
                           size_t errlen)
{
    lua_State *L = ss->L;
    int flags = 0;
    char *text = NULL; /* the body with its shebang line emptied (line numbers kept) */
    if (len >= 2 && body[0] == '#' && body[1] == '!') {
        const char *nl = memchr(body, '\n', len);
        if (!nl) {
            snprintf(err, errlen, "ERR Invalid script shebang");
            return false;
        }
        flags = shebang_flags(body, (size_t)(nl - body), err, errlen);
        if (flags < 0)
            return false;
        size_t rest = len - (size_t)(nl - body);
        text = mi_malloc(rest);
        memcpy(text, nl, rest);
        body = text;
        len = rest;
    }
    bool ok = compile_text(ss, sha, body, len, err, errlen);
    mi_free(text);
    if (ok && flags) {
        lua_getfield(L, LUA_REGISTRYINDEX, FLAGS_FIELD);
        lua_pushinteger(L, flags);
        lua_setfield(L, -2, sha);
        lua_pop(L, 1);
    }
    return ok;
}

static bool compile_text(struct script_shard *ss, const char *sha, const char *body, size_t len, char *err,
                         size_t errlen)
{
    lua_State *L = ss->L;
    if (is_binary_chunk(body, len)) {
        /* Redis's parser, which never takes it for bytecode, stops there */
        snprintf(err, errlen, "ERR Error compiling script (new function): user_script:1: unexpected symbol "
                              "near 'char(27)'");
        return false;
    }
    if (luaL_loadbuffer(L, body, len, "@user_script") != 0) {
        snprintf(err, errlen, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_FIELD);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, sha);
    lua_pop(L, 2);
    return true;
}

int script_engine_flags(struct script_shard *ss, const char *sha)
{
    lua_State *L = ss->L;
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_FIELD);
    lua_getfield(L, -1, sha);
    bool has = lua_isfunction(L, -1);
    lua_pop(L, 2);
    if (!has)
        return -1;
    lua_getfield(L, LUA_REGISTRYINDEX, FLAGS_FIELD);
    lua_getfield(L, -1, sha);
    int flags = (int)lua_tointeger(L, -1); /* nil: 0 */
    lua_pop(L, 2);
    return flags;
}

/* Two registry fields emptied (a cache and its flags), the garbage gone. */
static void empty_fields(lua_State *L, const char *a, const char *b)
{
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, a);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, b);
    lua_gc(L, LUA_GCCOLLECT, 0);
}

void script_engine_forget_all(struct script_shard *ss)
{
    empty_fields(ss->L, CACHE_FIELD, FLAGS_FIELD);
}

/* The message handler of a script's pcall: whatever was raised becomes an
 * error table {err=...} (a string gets the code ERR, as Redis's
 * __redis__err__handler does) with where it was raised: the first Lua
 * function on the stack (error() and redis.call are C functions). */
static int error_handler(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TTABLE) {
        const char *text;
        switch (lua_type(L, 1)) {
        case LUA_TSTRING:
        case LUA_TNUMBER:
            text = lua_tostring(L, 1);
            break;
        case LUA_TNIL:
            text = "nil";
            break;
        case LUA_TBOOLEAN:
            text = lua_toboolean(L, 1) ? "true" : "false";
            break;
        default:
            text = lua_typename(L, lua_type(L, 1));
            break;
        }
        lua_createtable(L, 0, 3);
        lua_pushfstring(L, "ERR %s", text);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
    }
    lua_Debug ar;
    for (int level = 1; level <= 2; level++) {
        if (!lua_getstack(L, level, &ar) || !lua_getinfo(L, "Sl", &ar))
            break;
        if (strcmp(ar.what, "C") == 0)
            continue;
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, 1, "line");
        break;
    }
    lua_settop(L, 1);
    return 1;
}

/* The reply for the error table (or, past a failing handler, the string)
 * on the top of the stack. */
static void write_script_error(lua_State *L, struct reply *r, const char *sha)
{
    if (lua_type(L, -1) != LUA_TTABLE) {
        const char *s = lua_tostring(L, -1);
        reply_errorf(r, "ERR %s script: %s", s ? s : "unknown error", sha);
        return;
    }
    lua_getfield(L, -1, "err");
    lua_getfield(L, -2, "source");
    lua_getfield(L, -3, "line");
    const char *err = lua_type(L, -3) == LUA_TSTRING ? lua_tostring(L, -3) : NULL;
    const char *source = lua_tostring(L, -2);
    if (!err)
        reply_errorf(r, "ERR unknown error script: %s", sha);
    else if (source && lua_isnumber(L, -1))
        reply_errorf(r, "%s script: %s, on %s:%d.", err, sha, source, (int)lua_tointeger(L, -1));
    else
        reply_errorf(r, "%s", err);
    lua_pop(L, 3);
}

/* A table of n arguments from argv[from] (FCALL's keys and args). */
static void push_argument_list(lua_State *L, const struct slice *argv, int from, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, argv[from + i].ptr, argv[from + i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

/* KEYS or ARGV: n arguments from argv[from], into the table on the top */
static void set_argument_table(lua_State *L, const char *name, const struct slice *argv, int from, int n)
{
    push_argument_list(L, argv, from, n);
    lua_setfield(L, -2, name);
}

/* ---- a script that runs long -------------------------------------------
 *
 * Every BUSY_CHECK_EVERY virtual-machine instructions the count hook reads
 * the clock (as Redis's hook does). Past busy-reply-threshold the script is
 * busy (script_busy_begin: the node answers -BUSY, SCRIPT KILL may end it);
 * then each check looks whether SCRIPT KILL asked it to end, or the node is
 * shutting down, and if so raises an error out of the script, which its
 * caller gets. The shard's thread stays in the script until then: its own
 * connections wait, the others are answered. */
#define BUSY_CHECK_EVERY 100000
#define ERR_KILLED "Script killed by user with SCRIPT KILL..." /* the handler adds ERR */

static _Thread_local struct script_shard *running; /* the hook's script (hooks get only L) */

static void busy_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct script_shard *ss = running;
    if (!ss || !ss->ctx)
        return;
    if (ss->wants_hold) {
        lua_pushstring(L, "Script restarts holding every shard");
        lua_error(L);
    }
    struct shard *sh = ss->ctx->shard;
    if (!atomic_load_explicit(&ss->busy_since_ms, memory_order_relaxed)) {
        int64_t now = clock_mono_us() / 1000;
        long long threshold = config_load(&sh->node->config, busy_reply_threshold);
        if (threshold <= 0 || now - ss->started_ms < threshold)
            return;
        if (ss->learning && ss->holding && !ss->touched_other) {
            /* a first run held every shard to learn, and has touched only
             * its own: the others go back to their clients (answering
             * -BUSY, taking SCRIPT KILL), as for any script of one shard */
            hold_release(sh);
            ss->holding = false;
        }
        ss->learning = false;
        script_busy_begin(sh, ss, ss->busy_name);
        return;
    }
    bool stop = atomic_load_explicit(&ss->kill, memory_order_relaxed) ||
                atomic_load_explicit(&sh->node->shutdown, memory_order_relaxed);
    if (!stop)
        return;
    if (!ss->ending && !atomic_load_explicit(&sh->node->shutdown, memory_order_relaxed))
        log_warning("Lua script killed by user with SCRIPT KILL.");
    ss->ending = true;
    lua_sethook(L, busy_hook, LUA_MASKCOUNT, 1); /* a pcall in the script gets this again at once */
    lua_pushstring(L, ERR_KILLED);
    lua_error(L);
}

/* Is one of the script's declared keys on another shard? (One key: the
 * router sent the script to its shard.) */
static bool keys_elsewhere(const struct exec_ctx *ctx, int nkeys)
{
    for (int k = 0; k < nkeys && nkeys > 1; k++) {
        struct slice key = ctx->argv[3 + k];
        if (shard_of_slot(ctx->shard->node, key_slot(key.ptr, key.len)) != ctx->shard->id)
            return true;
    }
    return false;
}

/* Call the function on the stack under its nargs arguments (the error
 * handler at base + 1) for ctx: its reply, or its error naming it ("script:
 * name"), to ctx->reply; the stack back to base. */
static void run_called(struct script_shard *ss, struct exec_ctx *ctx, int base, int nargs, const char *name,
                       int nkeys, bool read_only)
{
    lua_State *L = ss->L;
    ss->ctx = ctx;
    ss->read_only = read_only;
    ss->nkeys = nkeys;
    ss->started_ms = clock_mono_us() / 1000;
    atomic_store_explicit(&ss->wrote, false, memory_order_relaxed);
    atomic_store_explicit(&ss->kill, false, memory_order_relaxed);
    ss->ending = false;
    size_t n = strlen(name);
    if (n >= sizeof ss->busy_name)
        n = sizeof ss->busy_name - 1;
    memcpy(ss->busy_name, name, n);
    ss->busy_name[n] = 0;
    ss->holding = false;
    ss->wants_hold = false;
    ss->learning = false;
    ss->touched_other = false;
    struct shard *sh = ctx->shard;
    enum hold_known seen = HOLD_LOCAL;
    if (ctx->store == sh->store && sh->node->nshards > 1 && !sh->node->key_gate) {
        /* over keys of several shards, one that touched another shard's
         * keys before, and a first run hold every shard from the start */
        seen = hold_known(sh->node, ctx->argv[1].ptr, ctx->argv[1].len);
        bool spans = keys_elsewhere(ctx, nkeys);
        if (seen != HOLD_LOCAL || spans) {
            int held = hold_all(sh);
            if (held == -1 && ctx->may_wait) {
                ctx->waits = true; /* asked again once the holder is done */
                ss->ctx = NULL;
                lua_settop(L, base);
                return;
            }
            if (held != 0 && (spans || seen == HOLD_HOLDS)) {
                /* it would touch another shard with nothing held: not run
                 * at all rather than half (inside MULTI, or waited past
                 * the bound, or the node stopping) */
                ss->ctx = NULL;
                lua_settop(L, base);
                reply_error(ctx->reply, held == -2 ? "ERR The server is shutting down"
                                                   : "TRYAGAIN Another script holds every shard: run it again");
                return;
            }
            ss->holding = held == 0;
            ss->learning = ss->holding && seen == HOLD_UNKNOWN && !spans;
        }
    }
    running = ss;
    int db = sh->db; /* a SELECT in the script lasts until its end (Redis 7) */
    struct store *store = ctx->store;
    lua_sethook(L, busy_hook, LUA_MASKCOUNT, BUSY_CHECK_EVERY);
    int rc = lua_pcall(L, nargs, 1, base + 1);
    lua_sethook(L, NULL, 0, 0);
    running = NULL;
    if (sh->db != db) {
        shard_select(sh, db);
        ctx->store = store;
    }
    if (ss->holding)
        hold_release(sh);
    ss->holding = false;
    if (seen == HOLD_UNKNOWN && !ss->wants_hold) /* what its first run did */
        hold_mark(sh->node, ctx->argv[1].ptr, ctx->argv[1].len, ss->touched_other ? HOLD_HOLDS : HOLD_LOCAL);
    if (atomic_load_explicit(&ss->busy_since_ms, memory_order_relaxed))
        script_busy_end(ctx->shard, ss);
    ss->ctx = NULL;
    if (ss->wants_hold) {
        ss->wants_hold = false;
        ctx->waits = true; /* it wrote nothing: run again, holding from its start */
        lua_settop(L, base);
        return;
    }
    if (rc == 0)
        script_write_reply(L, ctx->reply);
    else
        write_script_error(L, ctx->reply, name);
    lua_settop(L, base);
}

void script_engine_run(struct script_shard *ss, struct exec_ctx *ctx, const char *sha, int nkeys, bool read_only)
{
    lua_State *L = ss->L;
    int base = lua_gettop(L);
    lua_pushcfunction(L, error_handler);
    lua_getfield(L, LUA_REGISTRYINDEX, GLOBALS_FIELD);
    set_argument_table(L, "KEYS", ctx->argv, 3, nkeys);
    set_argument_table(L, "ARGV", ctx->argv, 3 + nkeys, ctx->argc - 3 - nkeys);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_FIELD);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
    run_called(ss, ctx, base, 0, sha, nkeys, read_only);
}

/* ---- function libraries (FUNCTION LOAD, FCALL) ---------------------------
 *
 * A library's code runs once in the state to register its functions: in an
 * environment of its own whose `redis` is the load-time library (only
 * register_function, log and the constants: anything else is Redis's
 * "nonexistent global variable" error) and whose other names are the
 * sandbox's globals, read-only. Once it has run, the environment's `redis`
 * is dropped so that the functions, which keep that environment, see the
 * whole redis library when they are called. The functions kept are in
 * FUNCTIONS_FIELD (name -> function) with their flags in FN_FLAGS_FIELD;
 * the one being loaded collects them in LOADING_FIELD first, so a library
 * that fails leaves nothing behind. */
#define FUNCTIONS_FIELD "ringkv.functions"
#define FN_FLAGS_FIELD  "ringkv.function_flags"
#define LOADING_FIELD   "ringkv.loading"


const char *script_function_flag_name(int flag)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].flag == flag)
            return known[i].name;
    return NULL;
}

bool script_name_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* A library's code runs at most this long when it is loaded (Redis's
 * limit): past it, the load fails. */
#define LOAD_TIMEOUT_MS 500
static _Thread_local int64_t load_started_ms;

static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (clock_mono_us() / 1000 - load_started_ms <= LOAD_TIMEOUT_MS)
        return;
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 1); /* a pcall in the code gets it again at once */
    lua_pushliteral(L, "FUNCTION LOAD timeout");
    lua_error(L);
}

/* register_function's error: raised without a position, as Redis's */
static int register_failed(lua_State *L, const char *text)
{
    lua_pushstring(L, text);
    return lua_error(L);
}

/* redis.register_function(name, callback) or
 * redis.register_function{function_name=, callback=, flags=, description=} */
static int redis_register_function(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2)
        return register_failed(L, "wrong number of arguments to redis.register_function");
    int flags = 0;
    if (argc == 1) {
        if (!lua_istable(L, 1))
            return register_failed(L, "calling redis.register_function with a single argument is only "
                                      "applicable to Lua table (representing named arguments).");
        lua_getfield(L, 1, "function_name");
        lua_getfield(L, 1, "callback");
        lua_getfield(L, 1, "description");
        lua_getfield(L, 1, "flags");                     /* t, name, cb, desc, flags */
        if (!lua_isnil(L, 5)) {
            if (!lua_istable(L, 5))
                return register_failed(L, "flags argument to redis.register_function must be a table "
                                          "representing function flags");
            for (int i = 1;; i++) {
                lua_rawgeti(L, 5, i);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    break;
                }
                const char *f = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
                size_t k = 0;
                for (; f && k < sizeof known / sizeof known[0]; k++)
                    if (strcmp(f, known[k].name) == 0)
                        break;
                if (!f || k == sizeof known / sizeof known[0])
                    return register_failed(L, "unknown flag given");
                flags |= known[k].flag;
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);                                   /* t, name, cb, desc */
        if (!lua_isnil(L, 4) && lua_type(L, 4) != LUA_TSTRING)
            return register_failed(L, "description argument given to redis.register_function must be a "
                                      "string");
    } else {
        lua_pushnil(L);                                  /* name, cb, desc */
    }
    int at = argc == 1 ? 2 : 1;                          /* name at `at`, callback after it */
    if (lua_type(L, at) != LUA_TSTRING)
        return register_failed(L, "function_name argument given to redis.register_function must be a "
                                  "string");
    if (!lua_isfunction(L, at + 1))
        return register_failed(L, "callback argument given to redis.register_function must be a function");
    size_t len;
    const char *name = lua_tolstring(L, at, &len);
    if (!script_name_ok(name, len))
        /* Redis 7.0 names the library in this error, for a function's name */
        return register_failed(L, "Library names can only contain letters, numbers, or underscores(_) and "
                                  "must be at least one character long");
    lua_getfield(L, LUA_REGISTRYINDEX, LOADING_FIELD);
    if (!lua_istable(L, -1))
        return register_failed(L, "redis.register_function can only be called on FUNCTION LOAD command");
    lua_getfield(L, -1, name);
    if (!lua_isnil(L, -1))
        return register_failed(L, "Function already exists in the library");
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);                            /* ..., loading, entry */
    lua_pushvalue(L, at + 1);
    lua_setfield(L, -2, "callback");
    lua_pushinteger(L, flags);
    lua_setfield(L, -2, "flags");
    lua_pushvalue(L, at + 2);
    lua_setfield(L, -2, "description");
    lua_setfield(L, -2, name);
    return 0;
}

/* The library's shebang line, "#!lua name=<name>": the name, or NULL with
 * Redis's error in err. */
static char *library_name(const char *line, size_t len, char *err, size_t errlen)
{
    char *name = NULL;
    size_t i = 0;
    const char *w;
    int wl;
    for (int word = 0; next_word(line, len, &i, &w, &wl); word++) {
        if (word == 0) {
            if (wl != 5 || memcmp(w, "#!lua", 5) != 0) {
                snprintf(err, errlen, "ERR Engine '%.*s' not found", wl > 2 ? wl - 2 : 0, w + 2);
                return NULL;
            }
            continue;
        }
        if (wl < 5 || memcmp(w, "name=", 5) != 0) {
            snprintf(err, errlen, "ERR Invalid metadata value given: %.*s", wl, w);
            mi_free(name);
            return NULL;
        }
        mi_free(name);
        name = mi_malloc((size_t)wl - 4);
        memcpy(name, w + 5, (size_t)wl - 5);
        name[wl - 5] = '\0';
    }
    if (!name) {
        snprintf(err, errlen, "ERR Library name was not given");
        return NULL;
    }
    if (!script_name_ok(name, strlen(name))) {
        snprintf(err, errlen, "ERR Library names can only contain letters, numbers, or underscores(_) and "
                              "must be at least one character long");
        mi_free(name);
        return NULL;
    }
    return name;
}

void library_desc_free(struct library_desc *d)
{
    for (int i = 0; i < d->nfns; i++) {
        mi_free(d->fns[i].name);
        mi_free(d->fns[i].description);
    }
    mi_free(d->fns);
    mi_free(d->name);
    memset(d, 0, sizeof *d);
}

static char *copy_string(const char *s, size_t len)
{
    char *c = mi_malloc(len + 1);
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

/* The load-time environment of a library: a table reading the load-time
 * redis library first, then the sandbox's globals; writes refused. Leaves
 * it on the stack, and the table that holds `redis` (to drop it after). */
static void push_library_env(lua_State *L, struct script_shard *ss)
{
    lua_newtable(L);                                     /* holder */
    lua_newtable(L);                                     /* holder, real load-time redis */
    set_closure(L, ss, "register_function", redis_register_function);
    set_closure(L, ss, "log", redis_log);
    set_log_and_version(L);
    push_view(L, lua_gettop(L), true);                   /* holder, real, proxy */
    lua_remove(L, -2);                                   /* holder, proxy */
    lua_setfield(L, -2, "redis");                        /* holder */
    lua_createtable(L, 0, 1);                            /* holder, meta: to the globals */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    push_view(L, lua_gettop(L), false);                  /* holder, env */
}

bool script_engine_load_library(struct script_shard *ss, const char *code, size_t len, bool keep,
                                struct library_desc *out, char *err, size_t errlen)
{
    lua_State *L = ss->L;
    memset(out, 0, sizeof *out);
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, errlen, "ERR Missing library metadata");
        return false;
    }
    const char *nl = memchr(code, '\n', len);
    size_t line = nl ? (size_t)(nl - code) : len;
    char *name = library_name(code, line, err, errlen);
    if (!name)
        return false;
    const char *body = code + line; /* from the newline: line numbers kept */
    size_t blen = len - line;
    if (is_binary_chunk(body, blen)) {
        snprintf(err, errlen, "ERR Error compiling function: user_function:1: unexpected symbol near 'char(27)'");
        mi_free(name);
        return false;
    }
    if (luaL_loadbuffer(L, body, blen, "@user_function") != 0) {
        snprintf(err, errlen, "ERR Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        mi_free(name);
        return false;
    }
    int base = lua_gettop(L) - 1;                        /* chunk at base + 1 */
    lua_pushcfunction(L, error_handler);                 /* chunk, handler */
    lua_insert(L, -2);                                   /* handler, chunk */
    push_library_env(L, ss);                             /* handler, chunk, holder, env */
    lua_pushvalue(L, -1);
    lua_setfenv(L, base + 2);                            /* the chunk's env */
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADING_FIELD);
    lua_pushvalue(L, base + 2);                          /* ..., chunk */
    running = NULL;
    load_started_ms = clock_mono_us() / 1000;
    lua_sethook(L, load_hook, LUA_MASKCOUNT, BUSY_CHECK_EVERY);
    int rc = lua_pcall(L, 0, 0, base + 1);
    lua_sethook(L, NULL, 0, 0);
    lua_pushnil(L);
    lua_setfield(L, base + 3, "redis");                  /* the functions see the whole library now */
    bool ok = rc == 0;
    if (!ok) {
        const char *text = "unknown error";
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                text = lua_tostring(L, -1);
        } else if (lua_isstring(L, -1)) {
            text = lua_tostring(L, -1);
        }
        snprintf(err, errlen, "ERR Error registering functions: %s", text);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, LOADING_FIELD);
    int loading = lua_gettop(L);
    int count = 0;
    for (lua_pushnil(L); ok && lua_next(L, loading); lua_pop(L, 1))
        count++;
    if (ok && count == 0) {
        snprintf(err, errlen, "ERR No functions registered");
        ok = false;
    }
    if (ok) {
        out->name = name;
        name = NULL;
        out->fns = mi_calloc((size_t)count, sizeof *out->fns);
        lua_getfield(L, LUA_REGISTRYINDEX, FUNCTIONS_FIELD);
        lua_getfield(L, LUA_REGISTRYINDEX, FN_FLAGS_FIELD);   /* loading, functions, flags */
        for (lua_pushnil(L); lua_next(L, loading); lua_pop(L, 1)) {
            struct function_desc *f = &out->fns[out->nfns++]; /* key at -2, entry at -1 */
            size_t nlen, dlen;
            const char *fname = lua_tolstring(L, -2, &nlen);
            f->name = copy_string(fname, nlen);
            lua_getfield(L, -1, "flags");
            f->flags = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
            lua_getfield(L, -1, "description");
            const char *d = lua_tolstring(L, -1, &dlen);
            f->description = d ? copy_string(d, dlen) : NULL;
            lua_pop(L, 1);
            if (keep) {
                lua_getfield(L, -1, "callback");
                lua_setfield(L, loading + 1, f->name);
                lua_pushinteger(L, f->flags);
                lua_setfield(L, loading + 2, f->name);
            }
        }
    }
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADING_FIELD);
    lua_settop(L, base);
    mi_free(name);
    return ok;
}

void script_engine_forget_functions(struct script_shard *ss)
{
    empty_fields(ss->L, FUNCTIONS_FIELD, FN_FLAGS_FIELD);
}

int script_engine_function_flags(struct script_shard *ss, const char *name)
{
    lua_State *L = ss->L;
    lua_getfield(L, LUA_REGISTRYINDEX, FN_FLAGS_FIELD);
    lua_getfield(L, -1, name);
    int flags = lua_isnil(L, -1) ? -1 : (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    return flags;
}

void script_engine_run_function(struct script_shard *ss, struct exec_ctx *ctx, const char *name, int nkeys,
                                bool read_only)
{
    lua_State *L = ss->L;
    int base = lua_gettop(L);
    lua_pushcfunction(L, error_handler);
    lua_getfield(L, LUA_REGISTRYINDEX, FUNCTIONS_FIELD);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    push_argument_list(L, ctx->argv, 3, nkeys);
    push_argument_list(L, ctx->argv, 3 + nkeys, ctx->argc - 3 - nkeys);
    run_called(ss, ctx, base, 2, name, nkeys, read_only);
}
