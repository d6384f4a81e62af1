/* script: what the scripting files share (private to them).
 *   scripting.c       EVAL, EVALSHA, their _RO forms and SCRIPT; the node's
 *                     registry of script bodies; each shard's cache
 *   script_engine.c   a shard's Lua state: the sandbox, the redis library
 *                     (redis.call runs a command on the script's store)
 *   script_convert.c  RESP replies to Lua values and back
 *   script_msgpack.c  the cmsgpack library scripts get
 *   functions.c       FCALL, FCALL_RO and FUNCTION; the node's registry of
 *                     function libraries
 */
#ifndef RINGKV_SCRIPT_H
#define RINGKV_SCRIPT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/command.h"
#include "core/sha1.h"

struct lua_State;
struct shard;

/* One shard's scripting: its Lua state (created on the shard's first
 * script, never shared with another thread) and what the script running
 * now may do. */
struct script_shard {
    struct lua_State *L;
    uint64_t          registry_epoch; /* the registry's epoch the cache matches (scripting.c) */
    uint64_t          rand_state;     /* math.random's generator (48 bits, as lrand48) */
    /* the script running now, NULL between scripts */
    struct exec_ctx  *ctx;
    bool              read_only;      /* EVAL_RO, EVALSHA_RO */
    int               nkeys;          /* its declared keys: ctx->argv[3 .. 3 + nkeys - 1] */
    int64_t           started_ms;     /* when it started (monotonic) */
    uint64_t          functions_epoch; /* the function registry's epoch its functions match (functions.c) */
    bool              ending;         /* killed: the hook raises at every instruction until it is out */
    /* It touched a key of another shard it did not declare: it holds every
     * other shard (shards/hold.h) until it ends; or, finding them held by
     * someone else before it wrote anything, it is ended to run again
     * once it can hold them (wants_hold: the hook raises until it is out). */
    bool              holding;
    bool              wants_hold;
    bool              learning;       /* holding only for its first run: given up once it is busy */
    bool              touched_other;  /* it ran a command on another shard's keys */
    /* Past busy-reply-threshold a script is busy: listed here for SCRIPT
     * KILL, which runs on another shard's thread and reads or asks these
     * (the shard's scripting pointer is published with a release store) */
    _Atomic int64_t   busy_since_ms;  /* 0: none busy */
    atomic_bool       wrote;          /* it called a write command: it cannot be killed */
    atomic_bool       kill;           /* SCRIPT KILL asked it to end */
    char              busy_name[128];  /* its sha, or the function's name */
};

/* ---- script_msgpack.c ---- */

/* Push the cmsgpack library's table (pack, unpack, unpack_one,
 * unpack_limit), as luaopen_cjson does cjson's. */
int luaopen_cmsgpack(struct lua_State *L);

/* ---- script_struct.c ---- */

/* Push the struct library's table (pack, unpack, size). */
int luaopen_struct(struct lua_State *L);

/* ---- script_engine.c ---- */

/* What a script's shebang line (Redis 7: "#!lua flags=no-writes,...")
 * says; a script without one has none of these (not even SCRIPT_SHEBANG). */
enum script_flag {
    SCRIPT_SHEBANG          = 1 << 0, /* it has the line: writes must be declared */
    SCRIPT_NO_WRITES        = 1 << 1,
    SCRIPT_ALLOW_OOM        = 1 << 2,
    SCRIPT_ALLOW_STALE      = 1 << 3,
    SCRIPT_NO_CLUSTER       = 1 << 4,
    SCRIPT_ALLOW_CROSS_SLOT = 1 << 5,
};

/* A new Lua state with Redis's sandbox and library; NULL if out of memory. */
struct lua_State *script_engine_new(struct script_shard *ss);
/* Compile body as the script named sha and keep the function (and the
 * flags of its shebang line) in the state's cache; false with Redis's
 * error (a shebang's, or the compiler's) written into err. */
bool script_engine_compile(struct script_shard *ss, const char *sha, const char *body, size_t len, char *err,
                           size_t errlen);
/* The flags of the script named sha (enum script_flag), or -1 if it is not
 * compiled in this state. */
int script_engine_flags(struct script_shard *ss, const char *sha);
/* Drop every compiled script (SCRIPT FLUSH). */
void script_engine_forget_all(struct script_shard *ss);
/* Run the compiled script sha with ctx's KEYS (nkeys of them from argv[3])
 * and ARGV, its reply (or Redis's error) to ctx->reply. */
void script_engine_run(struct script_shard *ss, struct exec_ctx *ctx, const char *sha, int nkeys, bool read_only);

/* Function libraries (FUNCTION LOAD, FCALL): what a library registered. */
struct function_desc {
    char *name;
    char *description; /* NULL: none given */
    int   flags;       /* enum script_flag, from the function's flags */
};
struct library_desc {
    char                 *name;
    struct function_desc *fns;
    int                   nfns;
};
void library_desc_free(struct library_desc *d);
/* Redis's rule for function and library names: [A-Za-z0-9_]+. */
bool script_name_ok(const char *s, size_t len);
/* A function flag's name ("no-writes"...), or NULL. */
const char *script_function_flag_name(int flag);
/* Run a library's code ("#!lua name=..." first) in the state: what it
 * registered in out (the caller frees it), its functions kept for FCALL if
 * keep; false with Redis's error in err. */
bool script_engine_load_library(struct script_shard *ss, const char *code, size_t len, bool keep,
                                struct library_desc *out, char *err, size_t errlen);
/* Forget every function kept (before loading the node's libraries again). */
void script_engine_forget_functions(struct script_shard *ss);
/* The flags of the kept function name, or -1 if there is none. */
int script_engine_function_flags(struct script_shard *ss, const char *name);
/* FCALL: run the kept function name with keys (nkeys of them from argv[3])
 * and args, its reply (or Redis's error) to ctx->reply. */
void script_engine_run_function(struct script_shard *ss, struct exec_ctx *ctx, const char *name, int nkeys,
                                bool read_only);

/* ---- scripting.c ---- */

/* This shard's scripting (its Lua state made on first use), its cache of
 * scripts dropped if a SCRIPT FLUSH came since; NULL with the error
 * answered if there is none. */
struct script_shard *shard_scripting(struct exec_ctx *ctx);

/* EVAL's and FCALL's numkeys (argv[2]), checked against the arguments;
 * false with Redis's error answered (not_int: the text for a non-number). */
bool script_numkeys(struct exec_ctx *ctx, const char *not_int, long long *nkeys);

/* Does a script's or function's declared flags let it run here now
 * (no-cluster: refused in cluster mode with the text given; no-writes: it
 * runs read-only; else it may write: refused by *_RO, or where writes are
 * refused)? false with the error answered. */
bool script_flags_allow(struct exec_ctx *ctx, int flags, bool *read_only, const char *no_cluster);

/* The script on ss's shard passed busy-reply-threshold: listed for SCRIPT
 * KILL, and the node answers -BUSY until script_busy_end. */
void script_busy_begin(struct shard *sh, struct script_shard *ss, const char *sha);
void script_busy_end(struct shard *sh, struct script_shard *ss);

/* ---- functions.c ---- */

struct function_registry;
struct function_registry *function_registry_new(void);
void function_registry_free(struct function_registry *reg);
/* FUNCTION DUMP's payload of every library, appended to out. */
void function_registry_dump(struct function_registry *reg, struct buf *out);
/* The libraries as RDB records (FUNCTION2, then the code), appended to out;
 * and one library's code read back from an RDB file (at start, on sh),
 * replacing one of the same name: false with the error in err. */
void function_registry_records(struct function_registry *reg, struct buf *out);
bool function_registry_load(struct shard *sh, struct slice code, char *err, size_t errlen);

/* ---- script_convert.c ---- */

/* The RESP2 reply at p (len bytes, one whole value) pushed as a Lua value
 * by Redis's rules (integer: number; bulk: string; nil: false; array:
 * table; status: {ok=...}; error: {err=...}). */
void script_push_reply(struct lua_State *L, const char *p, size_t len);
/* The Lua value on the top of the stack as the script's reply (number:
 * integer; string: bulk; table: array up to the first nil, {ok=} status,
 * {err=} error; false and nil: nil; true: 1). Leaves the stack as it was. */
void script_write_reply(struct lua_State *L, struct reply *r);
/* Redis's error-table text for an error reply or message: "-CODE msg" keeps
 * its code, a text without the '-' gets ERR (luaPushErrorBuff); the result
 * pushed as a string. */
void script_push_error_text(struct lua_State *L, const char *text, size_t len);

#endif
