/* debug: the DEBUG subcommands tools rely on, and a clear refusal for the
 * rest of Redis 7's list.
 *
 * Who may run DEBUG is enable-debug-command (no, yes, local), checked by the
 * dispatcher for every row flagged CMD_PROTECTED before it runs (route.c),
 * with Redis's text.
 *
 * What ringkv has:
 *  - SLEEP <seconds>: sleeps on the shard thread of the connection: that
 *    shard's clients, and every request other shards send it (commands on
 *    its keys, the all-shards ones) wait, as a busy Redis would make them;
 *    the other shards' clients whose keys live elsewhere go on.
 *  - OBJECT <key>: Redis's line, run on the key's shard. The encoding is the
 *    one Redis would choose for the value (int, embstr, raw); serializedlength
 *    is the RDB length without LZF compression; lru and lru_seconds_idle are
 *    in ticks of the store's LRU clock, which counts accesses, not seconds.
 *  - SET-ACTIVE-EXPIRE 0|1: stops or restarts every shard's expiry sweep
 *    (keys past their time still read as missing).
 *  - SET-STAGING-IDLE <ms>: the time after which a big collection whose
 *    parts a slot move was sending here, staged with no part since, is
 *    dropped (staging.h; 0: STAGING_IDLE_MS, 30 s): for tests, which
 *    would otherwise wait 30 s to see it.
 *  - POPULATE <count> [prefix] [size]: every shard adds the keys
 *    prefix:0..count-1 it owns that do not exist yet (values "value:N",
 *    padded or cut to size), as Redis does.
 *  - DIGEST, DIGEST-VALUE <key>...: Redis 7's SHA1 digests of the dataset
 *    and of values, the same hex as redis-server's for the same data
 *    (digest.c says how they are computed); DIGEST runs on every shard,
 *    each hashing its own keys, and the merge adds the parts.
 *  - PROTOCOL <type>: Redis's sample reply of each RESP type, in RESP2 or
 *    RESP3 as the connection speaks.
 *  - RELOAD [MERGE] [NOFLUSH] [NOSAVE]: persist.c (cmd_debug_reload): at
 *    SAVE's park of every shard, the file is written, then each shard
 *    empties its store and loads its keys back on its own thread; nothing
 *    goes to replicas or the AOF, as in Redis. Refused inside MULTI.
 *  - CHANGE-REPL-ID: on shard 0, through the replication module's hook.
 *  - ERROR <string>, LOG <message>, HELP.
 * The other subcommands of Redis 7's DEBUG HELP (crashes, the allocator's
 * and the encodings' internals, AOF loading, ...) answer that ringkv does
 * not have them (debug_refused); anything else is an unknown subcommand. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mimalloc.h>

#include "shards/commands/commands.h"
#include "shards/commands/server.h"
#include "core/config.h"
#include "core/log.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/slot.h"
#include "shards/store/store.h"

/* Redis's answer to a DEBUG subcommand given the wrong arguments. */
static void debug_usage_error(struct exec_ctx *ctx)
{
    struct slice s = ctx->argv[1];
    reply_errorf(ctx->reply, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                 (int)(s.len > 128 ? 128 : s.len), s.ptr);
}

void cmd_debug_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANGE-REPL-ID",
        "    Give the node a new replication ID and forget the second one (a replica",
        "    that later asks to continue the old one gets a full sync). For tests.",
        "DIGEST",
        "    The SHA1 digest of the whole dataset as 40 hex digits, computed as Redis",
        "    computes it (all zeros when empty).",
        "DIGEST-VALUE <key> [<key> ...]",
        "    The digest of each key's value (type, contents, whether it expires).",
        "ERROR <string>",
        "    Answer <string> as an error reply (to test how a client handles errors).",
        "LOG <message>",
        "    Write <message> to the server's log.",
        "OBJECT <key>",
        "    One line on how the key's value is held: encoding, serialized length, and",
        "    its LRU clock (ringkv's counts accesses, not seconds).",
        "PROTOCOL <type>",
        "    A sample reply of <type>: string, integer, double, bignum, null, array,",
        "    set, map, attrib, push, verbatim, true, false (as RESP2 or RESP3 gives it).",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Add the keys <prefix>:0 .. <prefix>:<count>-1 (prefix 'key') that do not",
        "    exist, with values 'value:<n>' (padded or cut to <size> bytes when given);",
        "    replicas get them as SETs.",
        "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
        "    Save the RDB file, empty the dataset and load the file back, every shard",
        "    paused meanwhile. NOSAVE: load the file as it is; NOFLUSH: keep the keys",
        "    here (a key also in the file is an error, unless MERGE: the file's wins).",
        "    The function libraries stay as they are.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    0: keys past their time are removed only when touched; 1: also in the",
        "    background again (the default).",
        "SET-STAGING-IDLE <milliseconds>",
        "    Drop a big collection a slot move was sending here in parts once no part",
        "    came for <milliseconds> (0: the default, 30000).",
        "SLEEP <seconds>",
        "    Keep the connection's shard thread busy for <seconds> (decimals allowed):",
        "    its clients wait, other shards go on.",
        "HELP",
        "    Prints this help.",
        "Redis's other DEBUG subcommands answer that ringkv does not have them.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}

/* DEBUG SLEEP <seconds>: Redis reads the number with strtod (garbage is 0). */
void cmd_debug_sleep(struct exec_ctx *ctx)
{
    if (ctx->argc != 3) {
        debug_usage_error(ctx);
        return;
    }
    char num[64];
    size_t n = ctx->argv[2].len < sizeof(num) - 1 ? ctx->argv[2].len : sizeof(num) - 1;
    memcpy(num, ctx->argv[2].ptr, n);
    num[n] = '\0';
    double secs = strtod(num, NULL);
    if (secs > 0 && isfinite(secs)) {
        struct timespec ts = { (time_t)secs, (long)((secs - floor(secs)) * 1e9) };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    reply_ok(ctx->reply);
}

/* The RDB length of a string's length prefix. */
static size_t rdb_len_size(size_t len)
{
    if (len < 64)
        return 1;
    if (len < 16384)
        return 2;
    if (len <= UINT32_MAX)
        return 5;
    return 9;
}

/* Whether the value is an integer as Redis would store it (canonical
 * decimal, at most 20 characters). */
static bool value_is_int(const char *p, size_t n, long long *v)
{
    if (n == 0 || n > 20 || !parse_ll((struct slice){ p, n }, v))
        return false;
    char back[32];
    int len = format_ll(back, sizeof(back), *v);
    return (size_t)len == n && memcmp(back, p, n) == 0;
}

/* DEBUG OBJECT <key>, on the key's shard. */
void cmd_debug_object(struct exec_ctx *ctx)
{
    if (ctx->argc != 3) {
        debug_usage_error(ctx);
        return;
    }
    struct entry *e = store_peek(ctx->store, ctx->argv[2], ctx->now_ms);
    if (!e) {
        reply_error(ctx->reply, ERR_NO_KEY);
        return;
    }
    const char *val = entry_value(e);
    size_t len = entry_value_len(e);
    long long iv;
    bool is_int = value_is_int(val, len, &iv);
    enum string_form form = store_string_form(e);
    const char *encoding = form == STRING_RAW                  ? "raw"
                           : is_int && form == STRING_AS_SET ? "int"
                           : len <= 44                       ? "embstr"
                                                             : "raw";
    size_t serialized;
    if (is_int && iv >= -128 && iv <= 127)
        serialized = 2;
    else if (is_int && iv >= -32768 && iv <= 32767)
        serialized = 3;
    else if (is_int && iv >= INT32_MIN && iv <= INT32_MAX)
        serialized = 5;
    else
        serialized = rdb_len_size(len) + len;
    /* Redis shares the objects of 0..9999 unless an LRU/LFU policy needs
     * per-key access times */
    bool shared = false;
    if (is_int && iv >= 0 && iv < 10000 && ctx->shard) {
        const struct config *cfg = &ctx->shard->node->config;
        long long policy = config_load(cfg, maxmemory_policy);
        bool lru = policy == EVICT_ALLKEYS_LRU || policy == EVICT_VOLATILE_LRU ||
                   policy == EVICT_ALLKEYS_LFU || policy == EVICT_VOLATILE_LFU;
        shared = config_load(cfg, maxmemory) == 0 || !lru;
    }
    char line[256];
    snprintf(line, sizeof(line),
             "Value at:%p refcount:%d encoding:%s serializedlength:%zu lru:%u lru_seconds_idle:%u",
             (void *)e, shared ? INT_MAX : 1, encoding, serialized, store_entry_lru(e),
             store_entry_lru_age(ctx->store, e));
    reply_simple(ctx->reply, line);
}

/* DEBUG SET-ACTIVE-EXPIRE 0|1 (Redis takes any integer: 0 off, else on). */
void cmd_debug_set_active_expire(struct exec_ctx *ctx)
{
    long long on;
    if (ctx->argc != 3) {
        debug_usage_error(ctx);
        return;
    }
    if (!parse_ll(ctx->argv[2], &on)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (ctx->shard)
        atomic_store_explicit(&ctx->shard->node->active_expire_off, on == 0, memory_order_relaxed);
    reply_ok(ctx->reply);
}

/* DEBUG SET-STAGING-IDLE <ms>: every shard's bound on a staged
 * collection's idle time (staging_tick reads it each tick). */
void cmd_debug_set_staging_idle(struct exec_ctx *ctx)
{
    long long ms;
    if (ctx->argc != 3) {
        debug_usage_error(ctx);
        return;
    }
    if (!parse_ll(ctx->argv[2], &ms)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (ms < 0) {
        reply_error(ctx->reply, "ERR value is out of range");
        return;
    }
    if (ctx->shard)
        atomic_store_explicit(&ctx->shard->node->staging_idle_ms, (int64_t)ms, memory_order_relaxed);
    reply_ok(ctx->reply);
}

/* DEBUG ERROR <string>: the string as an error reply, as given (Redis 7
 * adds no code: "DEBUG ERROR boom" answers -boom). */
void cmd_debug_error(struct exec_ctx *ctx)
{
    if (ctx->argc != 3) {
        debug_usage_error(ctx);
        return;
    }
    struct slice s = ctx->argv[2];
    char *text = mi_malloc(s.len + 8);
    if (!text)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) /* an error is one line */
        text[n++] = s.ptr[i] == '\r' || s.ptr[i] == '\n' ? ' ' : s.ptr[i];
    text[n] = '\0';
    reply_error(ctx->reply, text);
    mi_free(text);
}

void cmd_debug_log(struct exec_ctx *ctx)
{
    if (ctx->argc != 3) {
        debug_usage_error(ctx);
        return;
    }
    log_warning("DEBUG LOG: %.*s", (int)(ctx->argv[2].len > 4096 ? 4096 : ctx->argv[2].len), ctx->argv[2].ptr);
    reply_ok(ctx->reply);
}

/* DEBUG POPULATE <count> [prefix] [size], on every shard for the keys it
 * owns. */
void cmd_debug_populate(struct exec_ctx *ctx)
{
    if (ctx->argc < 3 || ctx->argc > 5) {
        debug_usage_error(ctx);
        return;
    }
    long long count, size = 0;
    if (!parse_ll(ctx->argv[2], &count) || count < 0) {
        reply_error(ctx->reply, "ERR count is out of range");
        return;
    }
    struct slice prefix = ctx->argc > 3 ? ctx->argv[3] : SLICE_LIT("key");
    if (ctx->argc > 4 && (!parse_ll(ctx->argv[4], &size) || size < 0 || size > 512LL * 1024 * 1024)) {
        reply_error(ctx->reply, "ERR size is out of range");
        return;
    }
    char *key = mi_malloc(prefix.len + 32);
    char *val = mi_malloc((size_t)size + 32);
    if (!key || !val)
        abort();
    memcpy(key, prefix.ptr, prefix.len);
    key[prefix.len] = ':';
    for (long long j = 0; j < count; j++) {
        size_t klen = prefix.len + 1 + (size_t)format_ll(key + prefix.len + 1, 32, j);
        struct slice k = { key, klen };
        if (ctx->shard && shard_of_slot(ctx->shard->node, key_slot(key, klen)) != ctx->shard->id)
            continue;
        if (store_peek(ctx->store, k, ctx->now_ms))
            continue; /* Redis leaves existing keys alone */
        int vlen = snprintf(val, 32, "value:%lld", j);
        size_t n = (size_t)vlen;
        if (size > 0) {
            if ((size_t)size > n)
                memset(val + n, 0, (size_t)size - n);
            n = (size_t)size;
        }
        store_set(ctx->store, k, val, n, 0);
    }
    mi_free(key);
    mi_free(val);
    reply_ok(ctx->reply);
}

/* Redis 7's DEBUG subcommands ringkv does not have. */
void cmd_debug_refused(struct exec_ctx *ctx)
{
    char name[48];
    size_t n = ctx->argv[1].len < sizeof(name) - 1 ? ctx->argv[1].len : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = ctx->argv[1].ptr[i];
        name[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
    }
    name[n] = '\0';
    reply_errorf(ctx->reply, "ERR DEBUG %s is not supported by ringkv (it has the subcommands DEBUG HELP lists)",
                 name);
}

/* DEBUG PROTOCOL <type>: a sample reply of each RESP type, Redis's very
 * values (client libraries' test suites read them); in RESP2 each takes
 * the form Redis gives it there. An attribute and a push are followed by a
 * plain reply, as Redis sends them: the attribute is not a reply, and a
 * client that drops pushes must still find one. */
void cmd_debug_protocol(struct exec_ctx *ctx)
{
    if (ctx->argc != 3) {
        debug_usage_error(ctx);
        return;
    }
    struct slice t = ctx->argv[2];
    struct reply *r = ctx->reply;
    static const char bignum[] = "1234567999999999999999999999999999999";
    if (slice_eq_nocase(t, "string")) {
        reply_bulk_str(r, "Hello World");
    } else if (slice_eq_nocase(t, "integer")) {
        reply_int(r, 12345);
    } else if (slice_eq_nocase(t, "double")) {
        reply_double_text(r, "3.141", 5);
    } else if (slice_eq_nocase(t, "bignum")) {
        if (r->proto >= 3)
            buf_printf(r->out, "(%s\r\n", bignum);
        else
            reply_bulk_str(r, bignum);
    } else if (slice_eq_nocase(t, "null")) {
        reply_null(r);
    } else if (slice_eq_nocase(t, "array") || slice_eq_nocase(t, "set")) {
        if (slice_eq_nocase(t, "set"))
            reply_set(r, 3);
        else
            reply_array(r, 3);
        for (int j = 0; j < 3; j++)
            reply_int(r, j);
    } else if (slice_eq_nocase(t, "map")) {
        reply_map(r, 3);
        for (int j = 0; j < 3; j++) {
            reply_int(r, j);
            reply_bool(r, j == 1);
        }
    } else if (slice_eq_nocase(t, "attrib")) {
        if (r->proto >= 3) {
            buf_append_str(r->out, "|1\r\n");
            reply_bulk_str(r, "key-popularity");
            reply_array(r, 2);
            reply_bulk_str(r, "key:123");
            reply_int(r, 90);
        }
        reply_bulk_str(r, "Some real reply following the attribute");
    } else if (slice_eq_nocase(t, "push")) {
        if (r->proto < 3) {
            reply_error(r, "ERR RESP2 is not supported by this command");
            return;
        }
        buf_append_str(r->out, ">2\r\n");
        reply_bulk_str(r, "server-cpu-usage");
        reply_int(r, 42);
        reply_bulk_str(r, "Some real reply following the push reply");
    } else if (slice_eq_nocase(t, "verbatim")) {
        reply_verbatim(r, "This is a verbatim\nstring", 25);
    } else if (slice_eq_nocase(t, "true")) {
        reply_bool(r, true);
    } else if (slice_eq_nocase(t, "false")) {
        reply_bool(r, false);
    } else {
        reply_error(r, "ERR Wrong protocol type name. Please use one of the following: "
                       "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
    }
}

/* DEBUG CHANGE-REPL-ID, on shard 0: the replication layer's new id (a
 * replica that later asks to continue the old one gets a full sync). */
void cmd_debug_change_repl_id(struct exec_ctx *ctx)
{
    if (ctx->argc != 2) {
        debug_usage_error(ctx);
        return;
    }
    log_warning("Changing replication IDs after receiving DEBUG change-repl-id");
    if (!ctx->shard) {
        reply_ok(ctx->reply);
        return;
    }
    struct node *n = ctx->shard->node;
    for (int i = 0; i < n->nmodules; i++)
        if (n->modules[i]->change_repl_id)
            n->modules[i]->change_repl_id(ctx->shard);
    reply_ok(ctx->reply);
}
