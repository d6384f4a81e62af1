/* notify: keyspace notifications (see notify.h). */
#include "shards/notify.h"

#include <mimalloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/command.h"
#include "core/config.h"
#include "core/keyspace_events.h"
#include "shards/dispatch.h"
#include "shards/message.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/store.h"
#include "shards/subscriptions.h"

/* How a command's changes are named. */
enum rule_kind {
    RULE_EDIT,   /* each key changed: the event; a key left empty: then "del" */
    RULE_STORE,  /* a destination written: the event; emptied: "del" only */
    RULE_SET,    /* "set", then "expire" if the arguments give a time */
    RULE_DEL,    /* each key removed: "del" */
    RULE_TTL,    /* by what became of each key: "expire", "persist", "del" */
    RULE_RENAME, /* the key removed "rename_from", then the one written "rename_to" */
    RULE_LMOVE,  /* the destination's push, then the source's pop (and "del") */
    RULE_SMOVE,  /* the source's "srem" (and "del"), then the destination's "sadd" */
    RULE_MOVE,   /* MOVE: "move_from" in the source database, "move_to" in the target's */
};

struct rule {
    const char    *command;
    enum rule_kind kind;
    int            cls;   /* the class of the command's own event */
    const char    *event; /* NULL: chosen from the arguments (event_of) */
};

/* The commands that change keys and the names Redis gives their events.
 * A writing command not listed here publishes nothing. */
static const struct rule rules[] = {
    { "set", RULE_SET, KEV_STRING, "set" },
    { "setex", RULE_SET, KEV_STRING, "set" },
    { "psetex", RULE_SET, KEV_STRING, "set" },
    { "setnx", RULE_SET, KEV_STRING, "set" },
    { "mset", RULE_SET, KEV_STRING, "set" },
    { "msetnx", RULE_SET, KEV_STRING, "set" },
    { "getset", RULE_SET, KEV_STRING, "set" },
    { "setrange", RULE_EDIT, KEV_STRING, "setrange" },
    { "append", RULE_EDIT, KEV_STRING, "append" },
    { "incr", RULE_EDIT, KEV_STRING, "incrby" },
    { "decr", RULE_EDIT, KEV_STRING, "incrby" },
    { "incrby", RULE_EDIT, KEV_STRING, "incrby" },
    { "decrby", RULE_EDIT, KEV_STRING, "incrby" },
    { "incrbyfloat", RULE_EDIT, KEV_STRING, "incrbyfloat" },
    { "setbit", RULE_EDIT, KEV_STRING, "setbit" },
    { "bitfield", RULE_EDIT, KEV_STRING, "setbit" },
    { "bitop", RULE_STORE, KEV_STRING, "set" },
    { "pfadd", RULE_EDIT, KEV_STRING, "pfadd" },
    { "pfmerge", RULE_STORE, KEV_STRING, "pfadd" },
    { "del", RULE_DEL, KEV_GENERIC, "del" },
    { "unlink", RULE_DEL, KEV_GENERIC, "del" },
    { "getdel", RULE_DEL, KEV_GENERIC, "del" },
    { "expire", RULE_TTL, KEV_GENERIC, "expire" },
    { "pexpire", RULE_TTL, KEV_GENERIC, "expire" },
    { "expireat", RULE_TTL, KEV_GENERIC, "expire" },
    { "pexpireat", RULE_TTL, KEV_GENERIC, "expire" },
    { "persist", RULE_TTL, KEV_GENERIC, "persist" },
    { "getex", RULE_TTL, KEV_GENERIC, "expire" },
    { "rename", RULE_RENAME, KEV_GENERIC, "rename_to" },
    { "renamenx", RULE_RENAME, KEV_GENERIC, "rename_to" },
    { "copy", RULE_STORE, KEV_GENERIC, "copy_to" },
    { "move", RULE_MOVE, KEV_GENERIC, "move_to" },
    { "restore", RULE_STORE, KEV_GENERIC, "restore" },
    { "sort", RULE_STORE, KEV_LIST, "sortstore" },
    { "lpush", RULE_EDIT, KEV_LIST, "lpush" },
    { "lpushx", RULE_EDIT, KEV_LIST, "lpush" },
    { "rpush", RULE_EDIT, KEV_LIST, "rpush" },
    { "rpushx", RULE_EDIT, KEV_LIST, "rpush" },
    { "linsert", RULE_EDIT, KEV_LIST, "linsert" },
    { "lset", RULE_EDIT, KEV_LIST, "lset" },
    { "lrem", RULE_EDIT, KEV_LIST, "lrem" },
    { "ltrim", RULE_EDIT, KEV_LIST, "ltrim" },
    { "lpop", RULE_EDIT, KEV_LIST, "lpop" },
    { "rpop", RULE_EDIT, KEV_LIST, "rpop" },
    { "blpop", RULE_EDIT, KEV_LIST, "lpop" },
    { "brpop", RULE_EDIT, KEV_LIST, "rpop" },
    { "lmpop", RULE_EDIT, KEV_LIST, NULL },
    { "blmpop", RULE_EDIT, KEV_LIST, NULL },
    { "lmove", RULE_LMOVE, KEV_LIST, NULL },
    { "blmove", RULE_LMOVE, KEV_LIST, NULL },
    { "rpoplpush", RULE_LMOVE, KEV_LIST, NULL },
    { "brpoplpush", RULE_LMOVE, KEV_LIST, NULL },
    { "sadd", RULE_EDIT, KEV_SET, "sadd" },
    { "srem", RULE_EDIT, KEV_SET, "srem" },
    { "spop", RULE_EDIT, KEV_SET, "spop" },
    { "smove", RULE_SMOVE, KEV_SET, NULL },
    { "sinterstore", RULE_STORE, KEV_SET, "sinterstore" },
    { "sunionstore", RULE_STORE, KEV_SET, "sunionstore" },
    { "sdiffstore", RULE_STORE, KEV_SET, "sdiffstore" },
    { "hset", RULE_EDIT, KEV_HASH, "hset" },
    { "hsetnx", RULE_EDIT, KEV_HASH, "hset" },
    { "hmset", RULE_EDIT, KEV_HASH, "hset" },
    { "hdel", RULE_EDIT, KEV_HASH, "hdel" },
    { "hincrby", RULE_EDIT, KEV_HASH, "hincrby" },
    { "hincrbyfloat", RULE_EDIT, KEV_HASH, "hincrbyfloat" },
    { "zadd", RULE_EDIT, KEV_ZSET, NULL },
    { "zincrby", RULE_EDIT, KEV_ZSET, "zincr" },
    { "zrem", RULE_EDIT, KEV_ZSET, "zrem" },
    { "zremrangebyscore", RULE_EDIT, KEV_ZSET, "zremrangebyscore" },
    { "zremrangebyrank", RULE_EDIT, KEV_ZSET, "zremrangebyrank" },
    { "zremrangebylex", RULE_EDIT, KEV_ZSET, "zremrangebylex" },
    { "zpopmin", RULE_EDIT, KEV_ZSET, "zpopmin" },
    { "zpopmax", RULE_EDIT, KEV_ZSET, "zpopmax" },
    { "bzpopmin", RULE_EDIT, KEV_ZSET, "zpopmin" },
    { "bzpopmax", RULE_EDIT, KEV_ZSET, "zpopmax" },
    { "zmpop", RULE_EDIT, KEV_ZSET, NULL },
    { "bzmpop", RULE_EDIT, KEV_ZSET, NULL },
    { "zunionstore", RULE_STORE, KEV_ZSET, "zunionstore" },
    { "zinterstore", RULE_STORE, KEV_ZSET, "zinterstore" },
    { "zdiffstore", RULE_STORE, KEV_ZSET, "zdiffstore" },
    { "zrangestore", RULE_STORE, KEV_ZSET, "zrangestore" },
    { "geoadd", RULE_EDIT, KEV_ZSET, "zadd" },
    { "geosearchstore", RULE_STORE, KEV_ZSET, "geosearchstore" },
    { "georadius", RULE_STORE, KEV_ZSET, "georadiusstore" },
    { "georadiusbymember", RULE_STORE, KEV_ZSET, "georadiusstore" },
    { "xadd", RULE_EDIT, KEV_STREAM, "xadd" },
    { "xdel", RULE_EDIT, KEV_STREAM, "xdel" },
    { "xtrim", RULE_EDIT, KEV_STREAM, "xtrim" },
    { "xsetid", RULE_EDIT, KEV_STREAM, "xsetid" },
    /* subcommands: "container|subcommand" */
    { "xgroup|create", RULE_EDIT, KEV_STREAM, "xgroup-create" },
    { "xgroup|setid", RULE_EDIT, KEV_STREAM, "xgroup-setid" },
    { "xgroup|destroy", RULE_EDIT, KEV_STREAM, "xgroup-destroy" },
    { "xgroup|createconsumer", RULE_EDIT, KEV_STREAM, "xgroup-createconsumer" },
    { "xgroup|delconsumer", RULE_EDIT, KEV_STREAM, "xgroup-delconsumer" },
};

/* One change the store made while the command ran. */
struct change {
    size_t key_at, klen; /* in notify_shard.keys */
    int    op;           /* enum journal_op */
    int    db;           /* the database of the store that changed */
};

/* The keys the command names and whether each was there before it ran
 * (for "new", "keymiss" and "expired"; only looked at when those classes
 * are on). */
struct looked {
    int  at;      /* argv index */
    bool existed;
    /* here but past its time when the command began, and no "expired" yet:
     * a write that replaces it (SET) makes no DEL of it, but Redis's
     * lookup expires it first */
    bool stale;
};

struct notify_shard {
    const struct rule **by_index; /* per command row (command->index), built on first use */
    size_t              nrows;
    /* the command running, between notify_command_begin and _end */
    bool                active;
    bool                quiet;   /* notify_quiet */
    const struct command *cmd;
    const struct rule  *rule;
    int                 argc;
    const struct slice *argv;
    int                 flags;
    int                 cmd_db;  /* the command's database */
    int                 db;      /* the database of the events added now (event_add) */
    int                 nlooked;
    struct looked      *looked;
    int                 looked_cap;
    int                *key_idx;    /* command_keys's answer */
    int                 key_idx_cap;
    struct buf          keys;
    struct change      *changes;
    size_t              nchanges, cap;
    /* the events made, as channel and message texts in text, (start, len)
     * pairs in spans, until they are posted */
    struct buf          text;
    size_t             *spans;
    size_t              nspans, spans_cap;
};

static int flags_now(const struct shard *sh)
{
    return (int)config_load(&sh->node->config, notify_keyspace_events);
}

static struct notify_shard *state_of(struct shard *sh)
{
    if (!sh->notify) {
        struct notify_shard *ns = mi_zalloc(sizeof *ns);
        if (!ns)
            abort();
        ns->nrows = command_count_all();
        ns->by_index = mi_calloc(ns->nrows ? ns->nrows : 1, sizeof *ns->by_index);
        if (!ns->by_index)
            abort();
        for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
            const char *name = rules[i].command, *bar = strchr(name, '|');
            const struct command *c = command_lookup((struct slice){ name, bar ? (size_t)(bar - name) : strlen(name) });
            if (c && bar)
                c = command_lookup_sub(c, (struct slice){ bar + 1, strlen(bar + 1) });
            if (c && c->index >= 0 && (size_t)c->index < ns->nrows)
                ns->by_index[c->index] = &rules[i];
        }
        buf_init(&ns->keys);
        buf_init(&ns->text);
        sh->notify = ns;
    }
    return sh->notify;
}

void notify_quiet(struct shard *sh, bool on)
{
    if (!sh->notify && !(on && (flags_now(sh) & (KEV_KEYSPACE | KEV_KEYEVENT))))
        return; /* never on: nothing to keep quiet */
    state_of(sh)->quiet = on;
}

void notify_free(struct shard *sh)
{
    struct notify_shard *ns = sh->notify;
    if (!ns)
        return;
    mi_free(ns->by_index);
    buf_free(&ns->keys);
    buf_free(&ns->text);
    mi_free(ns->changes);
    mi_free(ns->spans);
    mi_free(ns->looked);
    mi_free(ns->key_idx);
    mi_free(ns);
    sh->notify = NULL;
}

/* ---- publishing ------------------------------------------------------------ */

static void span_add(struct notify_shard *ns, size_t start)
{
    if (ns->nspans + 2 > ns->spans_cap) {
        ns->spans_cap = ns->spans_cap ? ns->spans_cap * 2 : 16;
        ns->spans = mi_realloc(ns->spans, ns->spans_cap * sizeof *ns->spans);
        if (!ns->spans)
            abort();
    }
    ns->spans[ns->nspans++] = start;
    ns->spans[ns->nspans++] = ns->text.len - start;
}

/* One message: its channel, then its text. */
static void message_add(struct notify_shard *ns, const char *prefix, const char *a, size_t alen,
                        const char *b, size_t blen)
{
    size_t start = ns->text.len;
    buf_append_str(&ns->text, prefix);
    buf_append(&ns->text, a, alen);
    span_add(ns, start);
    start = ns->text.len;
    buf_append(&ns->text, b, blen);
    span_add(ns, start);
}

/* The event on key, if its class is on (Redis's notifyKeyspaceEvent). */
static void event_add(struct notify_shard *ns, int flags, int cls, const char *event, struct slice key)
{
    if (!(flags & cls))
        return;
    size_t elen = strlen(event);
    char prefix[40];
    if (flags & KEV_KEYSPACE) {
        snprintf(prefix, sizeof(prefix), "__keyspace@%d__:", ns->db);
        message_add(ns, prefix, key.ptr, key.len, event, elen);
    }
    if (flags & KEV_KEYEVENT) {
        snprintf(prefix, sizeof(prefix), "__keyevent@%d__:", ns->db);
        message_add(ns, prefix, event, elen, key.ptr, key.len);
    }
}

/* At every shard: hand the messages (argv: channel, text, ...) to the
 * shard's subscribers; back home: freed. */
static void deliver_message(struct shard *sh, struct shard_msg *m)
{
    if (m->answered) {
        msg_free(m);
        return;
    }
    int64_t now = shard_now_ms(sh);
    for (int i = 0; i + 1 < m->argc; i += 2)
        pubsub_publish(sh, m->argv[i], m->argv[i + 1], now);
    m->answered = true;
    msg_post(sh, m, m->home);
}

/* Post the events made to every shard, this one too: as a message, so
 * that they follow the reply of the command that made them. */
static void post_events(struct shard *sh, struct notify_shard *ns)
{
    if (ns->nspans == 0)
        return;
    int n = (int)(ns->nspans / 2);
    struct slice few[16];
    struct slice *args = n <= 16 ? few : mi_malloc(sizeof *args * (size_t)n);
    if (!args)
        abort();
    for (int i = 0; i < n; i++)
        args[i] = (struct slice){ ns->text.data + ns->spans[2 * i], ns->spans[2 * i + 1] };
    for (int target = 0; target < sh->node->nshards; target++) {
        struct shard_msg *m = msg_create(0, sh->id, target, NULL, -1, args, n);
        m->handler = deliver_message;
        msg_post(sh, m, target);
    }
    if (args != few)
        mi_free(args);
    ns->nspans = 0;
    ns->text.len = 0;
}

/* ---- a command's events ----------------------------------------------------- */

static bool word_is(struct slice s, const char *w)
{
    return s.len == strlen(w) && strncasecmp(s.ptr, w, s.len) == 0;
}

static bool same_key(struct slice a, struct slice b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* The argument at i, or an empty one past the end. */
static struct slice arg_at(const struct notify_shard *ns, long i)
{
    return i >= 0 && i < ns->argc ? ns->argv[i] : (struct slice){ "", 0 };
}

/* The direction word after a counted list of keys (LMPOP's LEFT, ZMPOP's
 * MIN): numkeys at argv[at], the word after the keys. */
static struct slice word_after_keys(const struct notify_shard *ns, int at)
{
    struct slice n = arg_at(ns, at);
    long count = 0;
    for (size_t i = 0; i < n.len && n.ptr[i] >= '0' && n.ptr[i] <= '9' && count < 1000000; i++)
        count = count * 10 + (n.ptr[i] - '0');
    return arg_at(ns, at + 1 + count);
}

/* The event of a command whose name for it depends on its arguments. */
static const char *event_of(const struct notify_shard *ns)
{
    const char *name = ns->rule->command;
    if (strcmp(name, "zadd") == 0) {
        /* INCR among the options before the first score */
        for (int i = 2; i < ns->argc; i++) {
            struct slice a = ns->argv[i];
            if (word_is(a, "incr"))
                return "zincr";
            if (!(word_is(a, "nx") || word_is(a, "xx") || word_is(a, "gt") || word_is(a, "lt") ||
                  word_is(a, "ch")))
                break;
        }
        return "zadd";
    }
    if (strcmp(name, "lmpop") == 0)
        return word_is(word_after_keys(ns, 1), "left") ? "lpop" : "rpop";
    if (strcmp(name, "blmpop") == 0)
        return word_is(word_after_keys(ns, 2), "left") ? "lpop" : "rpop";
    if (strcmp(name, "zmpop") == 0)
        return word_is(word_after_keys(ns, 1), "min") ? "zpopmin" : "zpopmax";
    if (strcmp(name, "bzmpop") == 0)
        return word_is(word_after_keys(ns, 2), "min") ? "zpopmin" : "zpopmax";
    return ns->rule->event;
}

/* Does SET name a time (EX, PX, EXAT, PXAT)? SETEX and PSETEX always do. */
static bool set_gives_time(const struct notify_shard *ns)
{
    if (strcmp(ns->rule->command, "setex") == 0 || strcmp(ns->rule->command, "psetex") == 0)
        return true;
    if (strcmp(ns->rule->command, "set") != 0)
        return false;
    for (int i = 3; i < ns->argc; i++)
        if (word_is(ns->argv[i], "ex") || word_is(ns->argv[i], "px") || word_is(ns->argv[i], "exat") ||
            word_is(ns->argv[i], "pxat"))
            return true;
    return false;
}

static struct slice change_key(const struct notify_shard *ns, const struct change *c)
{
    return (struct slice){ ns->keys.data + c->key_at, c->klen };
}

/* The last change of key (what became of it), or NULL if it did not change. */
static const struct change *last_change(const struct notify_shard *ns, struct slice key)
{
    for (size_t i = ns->nchanges; i-- > 0;)
        if (same_key(change_key(ns, &ns->changes[i]), key))
            return &ns->changes[i];
    return NULL;
}

static bool first_change_of(const struct notify_shard *ns, size_t at)
{
    struct slice key = change_key(ns, &ns->changes[at]);
    for (size_t i = 0; i < at; i++)
        if (same_key(change_key(ns, &ns->changes[i]), key))
            return false;
    return true;
}

/* Was key there before the command ran? Keys it does not name: yes. */
static bool existed_before(const struct notify_shard *ns, struct slice key)
{
    for (int i = 0; i < ns->nlooked; i++)
        if (same_key(ns->argv[ns->looked[i].at], key))
            return ns->looked[i].existed;
    return true;
}

/* "new" for a key the command created (dbAdd's, before its first event). */
static void new_if_created(struct notify_shard *ns, struct slice key)
{
    if (!(ns->flags & KEV_NEW) || existed_before(ns, key))
        return;
    const struct change *c = last_change(ns, key);
    if (c && c->op != JOURNAL_DEL)
        event_add(ns, ns->flags, KEV_NEW, "new", key);
}

/* Each key the command changed, in the order of its first change. */
static void name_changes(struct notify_shard *ns)
{
    const struct rule *r = ns->rule;
    int f = ns->flags;
    const char *event = event_of(ns);
    ns->db = ns->cmd_db;
    switch (r->kind) {
    case RULE_MOVE: {
        /* moved: the key added in the target ("new"), gone from here */
        struct slice key = arg_at(ns, 1);
        int to = -1;
        for (size_t i = 0; i < ns->nchanges; i++)
            if (ns->changes[i].op != JOURNAL_DEL && ns->changes[i].db != ns->cmd_db)
                to = ns->changes[i].db;
        if (to < 0)
            return;
        if (ns->flags & KEV_NEW) {
            ns->db = to;
            event_add(ns, f, KEV_NEW, "new", key);
        }
        ns->db = ns->cmd_db;
        event_add(ns, f, KEV_GENERIC, "move_from", key);
        ns->db = to;
        event_add(ns, f, KEV_GENERIC, "move_to", key);
        ns->db = ns->cmd_db;
        return;
    }
    case RULE_RENAME:
        /* the new name is added (dbAdd's "new") before either event */
        for (size_t i = 0; i < ns->nchanges; i++)
            if (first_change_of(ns, i))
                new_if_created(ns, change_key(ns, &ns->changes[i]));
        for (size_t i = 0; i < ns->nchanges; i++)
            if (first_change_of(ns, i) && last_change(ns, change_key(ns, &ns->changes[i]))->op == JOURNAL_DEL)
                event_add(ns, f, KEV_GENERIC, "rename_from", change_key(ns, &ns->changes[i]));
        for (size_t i = 0; i < ns->nchanges; i++) {
            struct slice key = change_key(ns, &ns->changes[i]);
            if (first_change_of(ns, i) && last_change(ns, key)->op != JOURNAL_DEL)
                event_add(ns, f, KEV_GENERIC, "rename_to", key);
        }
        return;
    case RULE_LMOVE:
    case RULE_SMOVE: {
        struct slice src = arg_at(ns, 1), dst = arg_at(ns, 2);
        const char *push, *pop;
        if (r->kind == RULE_SMOVE) {
            push = "sadd";
            pop = "srem";
        } else if (strcmp(r->command, "lmove") == 0 || strcmp(r->command, "blmove") == 0) {
            pop = word_is(arg_at(ns, 3), "left") ? "lpop" : "rpop";
            push = word_is(arg_at(ns, 4), "left") ? "lpush" : "rpush";
        } else {
            pop = "rpop";
            push = "lpush";
        }
        const struct change *s = last_change(ns, src), *d = last_change(ns, dst);
        if (!s && !d)
            return;
        if (r->kind == RULE_SMOVE) {
            if (same_key(src, dst))
                return;
            event_add(ns, f, KEV_SET, pop, src);
            if (s && s->op == JOURNAL_DEL)
                event_add(ns, f, KEV_GENERIC, "del", src);
            new_if_created(ns, dst);
            event_add(ns, f, KEV_SET, push, dst);
            return;
        }
        new_if_created(ns, dst);
        event_add(ns, f, KEV_LIST, push, dst);
        event_add(ns, f, KEV_LIST, pop, src);
        if (s && s->op == JOURNAL_DEL)
            event_add(ns, f, KEV_GENERIC, "del", src);
        return;
    }
    default:
        break;
    }
    for (size_t i = 0; i < ns->nchanges; i++) {
        if (!first_change_of(ns, i))
            continue;
        struct slice key = change_key(ns, &ns->changes[i]);
        const struct change *last = last_change(ns, key);
        ns->db = ns->changes[i].db; /* COPY ... DB n: the destination's */
        bool gone = last->op == JOURNAL_DEL;
        switch (r->kind) {
        case RULE_EDIT:
            new_if_created(ns, key);
            event_add(ns, f, r->cls, event, key);
            if (r->cls == KEV_STREAM && strcmp(r->command, "xadd") == 0) {
                /* XADD's trim is a second change of the key: "xtrim" */
                size_t n = 0;
                for (size_t j = i; j < ns->nchanges; j++)
                    n += same_key(change_key(ns, &ns->changes[j]), key);
                if (n > 1)
                    event_add(ns, f, KEV_STREAM, "xtrim", key);
            }
            if (gone)
                event_add(ns, f, KEV_GENERIC, "del", key);
            break;
        case RULE_STORE:
            new_if_created(ns, key);
            event_add(ns, f, gone ? KEV_GENERIC : r->cls, gone ? "del" : event, key);
            break;
        case RULE_SET:
            new_if_created(ns, key);
            event_add(ns, f, KEV_STRING, "set", key);
            if (set_gives_time(ns))
                event_add(ns, f, KEV_GENERIC, "expire", key);
            break;
        case RULE_DEL:
            if (gone)
                event_add(ns, f, KEV_GENERIC, "del", key);
            break;
        case RULE_TTL:
            event_add(ns, f, KEV_GENERIC,
                      gone ? "del" : last->op == JOURNAL_PERSIST ? "persist" : "expire", key);
            break;
        default:
            break;
        }
    }
}

void notify_command_begin(struct shard *sh, struct store *store, const struct command *cmd, int argc,
                          const struct slice *argv, int64_t now_ms)
{
    int flags = flags_now(sh);
    if (!(flags & (KEV_KEYSPACE | KEV_KEYEVENT)))
        return;
    struct notify_shard *ns = state_of(sh);
    if (ns->active)
        notify_command_end(sh); /* EXEC's commands: each its own */
    if (ns->quiet)
        return; /* a replica's full sync applying the master's commands */
    ns->active = true;
    ns->cmd = cmd;
    ns->rule = cmd->index >= 0 && (size_t)cmd->index < ns->nrows ? ns->by_index[cmd->index] : NULL;
    ns->argc = argc;
    ns->argv = argv;
    ns->flags = flags;
    ns->cmd_db = ns->db = store_db(store);
    ns->nchanges = 0;
    ns->keys.len = 0;
    ns->nlooked = 0;
    bool misses = (flags & KEV_KEY_MISS) && (cmd->flags & CMD_READONLY);
    if (!misses && !((flags & (KEV_NEW | KEV_EXPIRED)) && ns->rule))
        return;
    /* which of its keys are there now ("new", "keymiss"), which past their
     * time ("expired") */
    int n = command_keys(cmd, argc, argv, NULL, 0);
    if (n > ns->looked_cap) {
        ns->looked_cap = n;
        ns->looked = mi_realloc(ns->looked, sizeof *ns->looked * (size_t)n);
        ns->key_idx = mi_realloc(ns->key_idx, sizeof *ns->key_idx * (size_t)n);
        if (!ns->looked || !ns->key_idx)
            abort();
    }
    if (n > 0)
        command_keys(cmd, argc, argv, ns->key_idx, n);
    for (int i = 0; i < n; i++) {
        struct looked *l = &ns->looked[ns->nlooked++];
        l->at = ns->key_idx[i];
        l->existed = store_peek(store, argv[l->at], now_ms) != NULL;
        l->stale = (flags & KEV_EXPIRED) && ns->rule && !l->existed && store_peek_expired(store, argv[l->at], now_ms);
    }
}

void notify_command_end(struct shard *sh)
{
    struct notify_shard *ns = sh->notify;
    if (!ns || !ns->active)
        return;
    ns->active = false;
    ns->db = ns->cmd_db;
    for (int i = 0; i < ns->nlooked; i++)
        if (ns->looked[i].stale)
            event_add(ns, ns->flags, KEV_EXPIRED, "expired", ns->argv[ns->looked[i].at]);
    if ((ns->flags & KEV_KEY_MISS) && (ns->cmd->flags & CMD_READONLY))
        for (int i = 0; i < ns->nlooked; i++)
            if (!ns->looked[i].existed)
                event_add(ns, ns->flags, KEV_KEY_MISS, "keymiss", ns->argv[ns->looked[i].at]);
    if (ns->rule && ns->nchanges)
        name_changes(ns);
    ns->nchanges = 0;
    ns->keys.len = 0;
    ns->db = ns->cmd_db;
    post_events(sh, ns);
}

/* A change outside a command (a replicated write's effects, a cross-shard
 * command's writes applied here): named by what it did. */
static void name_record(struct notify_shard *ns, int flags, const struct journal_record *rec)
{
    switch (rec->op) {
    case JOURNAL_SET:
        /* a master's SET k v PXAT t (its SET EX's form) */
        if (rec->type == TYPE_STRING)
            event_add(ns, flags, KEV_STRING, "set", rec->key);
        if (rec->type == TYPE_STRING && rec->expire_at_ms)
            event_add(ns, flags, KEV_GENERIC, "expire", rec->key);
        break;
    case JOURNAL_DEL:
        event_add(ns, flags, KEV_GENERIC, "del", rec->key);
        break;
    case JOURNAL_EXPIRE:
        event_add(ns, flags, KEV_GENERIC, "expire", rec->key);
        break;
    case JOURNAL_PERSIST:
        event_add(ns, flags, KEV_GENERIC, "persist", rec->key);
        break;
    case JOURNAL_FLUSH:
        break; /* FLUSHALL publishes nothing in Redis either */
    }
}

void notify_store_changed(struct shard *sh, const struct journal_record *rec)
{
    int flags = flags_now(sh);
    if (!(flags & (KEV_KEYSPACE | KEV_KEYEVENT)))
        return; /* the usual case: one load and a branch */
    struct notify_shard *ns = state_of(sh);
    int db_before = ns->db;
    ns->db = rec->db;
    if (rec->op == JOURNAL_DEL && rec->by_store) {
        /* the store's own: at once, ahead of the command's events */
        for (int i = 0; ns->active && i < ns->nlooked; i++)
            if (ns->looked[i].stale && same_key(ns->argv[ns->looked[i].at], rec->key))
                ns->looked[i].stale = false; /* its DEL is this one */
        event_add(ns, flags, rec->evicted ? KEV_EVICTED : KEV_EXPIRED, rec->evicted ? "evicted" : "expired",
                  rec->key);
        post_events(sh, ns);
        ns->db = db_before;
        return;
    }
    ns->db = db_before;
    if (ns->quiet)
        return;
    if (!ns->active) {
        ns->db = rec->db;
        name_record(ns, flags, rec);
        post_events(sh, ns);
        ns->db = db_before;
        return;
    }
    if (rec->op == JOURNAL_FLUSH)
        return;
    if (ns->nchanges == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 16;
        ns->changes = mi_realloc(ns->changes, ns->cap * sizeof *ns->changes);
        if (!ns->changes)
            abort();
    }
    ns->changes[ns->nchanges++] = (struct change){ ns->keys.len, rec->key.len, (int)rec->op, rec->db };
    buf_append(&ns->keys, rec->key.ptr, rec->key.len);
}
