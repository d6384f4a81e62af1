/* introspection: COMMAND (COUNT, INFO, DOCS, LIST, HELP), TIME and
 * SHUTDOWN. All CMD_CONN, on the connection's thread; COMMAND reads the
 * table of core/command.c. (CLUSTER is the cluster layer's:
 * shards/cluster/commands.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <mimalloc.h>

#include "shards/commands/commands.h"
#include "shards/commands/docs.h"
#include "core/clock.h"
#include "shards/commands/server.h"
#include "core/log.h"
#include "core/glob.h"
#include "core/numbers.h"
#include "shards/node.h"
#include "shards/persist.h"
#include "shards/shard.h"
#include "shards/store/slot.h"

/* --------------------------------------------------------------- COMMAND */

/* The flags COMMAND shows, in Redis's order (may_replicate is hidden, as
 * Redis hides it; movablekeys, which follows from the key specs
 * (legacy_range_of), comes after no_multi, then allow_busy). */
static const struct {
    uint64_t    flag;
    const char *name;
} command_flag_names[] = {
    { CMD_WRITE, "write" }, { CMD_READONLY, "readonly" }, { CMD_DENYOOM, "denyoom" },
    { CMD_ADMIN, "admin" }, { CMD_PUBSUB, "pubsub" }, { CMD_NOSCRIPT, "noscript" },
    { CMD_BLOCKING, "blocking" }, { CMD_LOADING, "loading" }, { CMD_STALE, "stale" },
    { CMD_SKIP_MONITOR, "skip_monitor" }, { CMD_SKIP_SLOWLOG, "skip_slowlog" }, { CMD_ASKING, "asking" },
    { CMD_FAST, "fast" }, { CMD_NOAUTH, "no_auth" }, { CMD_NO_MANDATORY_KEYS, "no_mandatory_keys" },
    { CMD_NO_MULTI, "no_multi" },
};

/* ACL categories: Redis 7.0's (core/acl_categories.c); for a command
 * Redis does not have, as Redis would derive them from its flags and group. */
static size_t command_categories(const struct command *cmd, const char **out)
{
    static const char *const at_names[ACL_CATEGORIES] = {
        "@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string", "@bitmap",
        "@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow", "@blocking",
        "@dangerous", "@connection", "@transaction", "@scripting",
    };
    size_t n = 0;
    uint32_t bits = acl_command_categories(cmd);
    if (bits) {
        for (int i = 0; i < ACL_CATEGORIES; i++)
            if (bits & (1u << i))
                out[n++] = at_names[i];
        return n;
    }
    if (cmd->flags & CMD_WRITE) out[n++] = "@write";
    if (cmd->flags & CMD_READONLY) out[n++] = "@read";
    if (cmd->group) {
        if (strcmp(cmd->group, "string") == 0) out[n++] = "@string";
        else if (strcmp(cmd->group, "generic") == 0) out[n++] = "@keyspace";
        else if (strcmp(cmd->group, "connection") == 0) out[n++] = "@connection";
        else if (strcmp(cmd->group, "hash") == 0) out[n++] = "@hash";
        else if (strcmp(cmd->group, "set") == 0) out[n++] = "@set";
    }
    if (cmd->flags & CMD_ADMIN) {
        out[n++] = "@admin";
        out[n++] = "@dangerous";
    }
    if (cmd->flags & CMD_PUBSUB) out[n++] = "@pubsub";
    out[n++] = (cmd->flags & CMD_FAST) ? "@fast" : "@slow";
    return n;
}

/* A command's key specs: docs.c's when written out, else one range from
 * the row's first/last/step with flags from its own (RW update for a
 * write, RO access for a read). */
static size_t command_key_specs(const struct command *cmd, const char *fullname,
                                struct doc_key_spec *out, size_t max)
{
    size_t n = doc_key_specs(command_doc_find(fullname), out, max);
    if (n > 0 || cmd->first_key <= 0 || max == 0)
        return n;
    memset(out, 0, sizeof(*out));
    bool write = cmd->flags & CMD_WRITE;
    if ((cmd->flags & CMD_DEST_NUMKEYS) && max >= 2) {
        /* the destination, then the counted sources (Redis's two specs) */
        memset(&out[1], 0, sizeof(out[1]));
        snprintf(out[0].flags[0], sizeof(out[0].flags[0]), "OW");
        snprintf(out[0].flags[1], sizeof(out[0].flags[1]), "update");
        out[0].nflags = 2;
        out[0].index = cmd->first_key;
        out[0].keystep = 1;
        snprintf(out[1].flags[0], sizeof(out[1].flags[0]), "RO");
        snprintf(out[1].flags[1], sizeof(out[1].flags[1]), "access");
        out[1].nflags = 2;
        out[1].index = cmd->first_key + 1;
        out[1].keynum = true;
        out[1].firstkey = 1;
        out[1].keystep = 1;
        return 2;
    }
    if (cmd->flags & CMD_NUMKEYS) {
        /* the count just before the keys; Redis's flags: a script's keys
         * may be anything (RW access update), the write rows pop (RW access
         * delete: LMPOP, BLMPOP, ZMPOP, BZMPOP) */
        bool script = cmd->flags & CMD_MAY_REPLICATE;
        snprintf(out->flags[0], sizeof(out->flags[0]), "%s", write || script ? "RW" : "RO");
        snprintf(out->flags[1], sizeof(out->flags[1]), "access");
        out->nflags = 2;
        if (write || script)
            snprintf(out->flags[out->nflags++], sizeof(out->flags[0]), "%s", script ? "update" : "delete");
        out->index = cmd->first_key - 1;
        out->keynum = true;
        out->firstkey = 1;
        out->keystep = 1;
        return 1;
    }
    snprintf(out->flags[0], sizeof(out->flags[0]), "%s", write ? "RW" : "RO");
    snprintf(out->flags[1], sizeof(out->flags[1]), "%s", write ? "update" : "access");
    out->nflags = 2;
    out->index = cmd->first_key;
    out->lastkey = cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key;
    out->keystep = cmd->key_step > 0 ? cmd->key_step : 1;
    return 1;
}

/* COMMAND INFO's first/last/step and movablekeys, from the key specs as
 * Redis 7 derives them (populateCommandLegacyRangeSpec): the range that
 * the plain specs (at an index, a range of step 1, each following the
 * one before) cover; a spec of another kind, or an incomplete one, makes
 * the keys movable. */
struct legacy_range {
    int  first, last, step; /* last absolute, or negative from the end */
    bool movable;
};

static struct legacy_range legacy_range_of(const struct doc_key_spec *specs, size_t n)
{
    struct legacy_range lr = { 0, 0, 0, false };
    if (n == 0)
        return lr;
    const struct doc_key_spec *s0 = &specs[0];
    if (n == 1 && s0->begin == DOC_BEGIN_INDEX && !s0->keynum) {
        lr.first = s0->index;
        lr.last = s0->lastkey >= 0 ? s0->index + s0->lastkey : s0->lastkey;
        lr.step = s0->keystep;
        lr.movable = doc_key_spec_has(s0, "incomplete");
        return lr;
    }
    int first = 0;
    unsigned last = 0, prev_last = 0; /* unsigned: a negative last (from the end) is the biggest */
    for (size_t i = 0; i < n; i++) {
        const struct doc_key_spec *s = &specs[i];
        if (s->begin != DOC_BEGIN_INDEX || s->keynum || s->keystep != 1 ||
            (prev_last && prev_last != (unsigned)(s->index - 1))) {
            lr.movable = true;
            continue;
        }
        if (doc_key_spec_has(s, "incomplete"))
            lr.movable = true;
        if (first == 0 || s->index < first)
            first = s->index;
        int abs_last = s->lastkey >= 0 ? s->index + s->lastkey : s->lastkey;
        if ((unsigned)abs_last > last)
            last = (unsigned)abs_last;
        prev_last = last;
    }
    if (first == 0) {
        lr.movable = true;
        return lr;
    }
    lr.first = first;
    lr.last = (int)last;
    lr.step = 1;
    return lr;
}

static void reply_key_spec(struct reply *r, const struct doc_key_spec *ks)
{
    reply_map(r, ks->notes ? 4 : 3);
    if (ks->notes) {
        reply_bulk_str(r, "notes");
        reply_bulk(r, ks->notes, ks->notes_len);
    }
    reply_bulk_str(r, "flags");
    reply_set(r, (size_t)ks->nflags);
    for (int f = 0; f < ks->nflags; f++)
        reply_simple(r, ks->flags[f]);
    reply_bulk_str(r, "begin_search");
    reply_map(r, 2);
    reply_bulk_str(r, "type");
    if (ks->begin == DOC_BEGIN_UNKNOWN) {
        reply_bulk_str(r, "unknown");
        reply_bulk_str(r, "spec");
        reply_map(r, 0);
        reply_bulk_str(r, "find_keys");
        reply_map(r, 2);
        reply_bulk_str(r, "type");
        reply_bulk_str(r, "unknown");
        reply_bulk_str(r, "spec");
        reply_map(r, 0);
        return;
    }
    if (ks->begin == DOC_BEGIN_KEYWORD) {
        reply_bulk_str(r, "keyword");
        reply_bulk_str(r, "spec");
        reply_map(r, 2);
        reply_bulk_str(r, "keyword");
        reply_bulk_str(r, ks->keyword);
        reply_bulk_str(r, "startfrom");
        reply_int(r, ks->startfrom);
    } else {
        reply_bulk_str(r, "index");
        reply_bulk_str(r, "spec");
        reply_map(r, 1);
        reply_bulk_str(r, "index");
        reply_int(r, ks->index);
    }
    reply_bulk_str(r, "find_keys");
    reply_map(r, 2);
    reply_bulk_str(r, "type");
    if (ks->keynum) {
        reply_bulk_str(r, "keynum");
        reply_bulk_str(r, "spec");
        reply_map(r, 3);
        reply_bulk_str(r, "keynumidx");
        reply_int(r, ks->keynumidx);
        reply_bulk_str(r, "firstkey");
        reply_int(r, ks->firstkey);
        reply_bulk_str(r, "keystep");
        reply_int(r, ks->keystep);
        return;
    }
    reply_bulk_str(r, "range");
    reply_bulk_str(r, "spec");
    reply_map(r, 3);
    reply_bulk_str(r, "lastkey");
    reply_int(r, ks->lastkey);
    reply_bulk_str(r, "keystep");
    reply_int(r, ks->keystep);
    reply_bulk_str(r, "limit");
    reply_int(r, ks->limit);
}

static void reply_command_info(struct reply *r, const struct command *cmd, const char *fullname)
{
    reply_array(r, 10);
    reply_bulk_str(r, fullname);
    reply_int(r, cmd->arity);

    struct doc_key_spec specs[4];
    size_t nspecs = command_key_specs(cmd, fullname, specs, 4);
    struct legacy_range lr = legacy_range_of(specs, nspecs);

    size_t nflags = (size_t)lr.movable + !!(cmd->flags & CMD_ALLOW_BUSY);
    for (size_t i = 0; i < sizeof(command_flag_names) / sizeof(command_flag_names[0]); i++)
        if (cmd->flags & command_flag_names[i].flag)
            nflags++;
    reply_set(r, nflags);
    for (size_t i = 0; i < sizeof(command_flag_names) / sizeof(command_flag_names[0]); i++)
        if (cmd->flags & command_flag_names[i].flag)
            reply_simple(r, command_flag_names[i].name);
    if (lr.movable)
        reply_simple(r, "movablekeys");
    if (cmd->flags & CMD_ALLOW_BUSY)
        reply_simple(r, "allow_busy");

    reply_int(r, lr.first);
    reply_int(r, lr.last);
    reply_int(r, lr.step);

    const char *cats[ACL_CATEGORIES];
    size_t ncats = command_categories(cmd, cats);
    reply_set(r, ncats);
    for (size_t i = 0; i < ncats; i++)
        reply_simple(r, cats[i]);

    /* tips (docs.c): space separated */
    const char *tips = command_tips(fullname);
    size_t ntips = 0;
    for (const char *t = tips; t && *t; ntips++) {
        t = strchr(t, ' ');
        t = t ? t + 1 : NULL;
    }
    reply_set(r, ntips);
    for (const char *t = tips; t && *t;) {
        const char *end = strchr(t, ' ');
        size_t len = end ? (size_t)(end - t) : strlen(t);
        reply_bulk(r, t, len);
        t = end ? end + 1 : NULL;
    }

    /* key specs: docs.c's where written out, else one for the row's range */
    reply_set(r, nspecs);
    for (size_t k = 0; k < nspecs; k++)
        reply_key_spec(r, &specs[k]);

    /* subcommands */
    size_t nsub = 0;
    for (const struct command *s = cmd->subcommands; s && s->name && !(cmd->flags & CMD_HIDDEN_SUBS); s++)
        nsub++;
    if (nsub == 0) {
        reply_set(r, 0);
        return;
    }
    reply_array(r, nsub);
    char full[128];
    for (const struct command *s = cmd->subcommands; s && s->name; s++) {
        snprintf(full, sizeof(full), "%s|%s", cmd->name, s->name);
        reply_command_info(r, s, full);
    }
}

/* Find "name" or "container|sub"; NULL if unknown. fullname gets the
 * lower-case name Redis reports. */
static const struct command *lookup_fullname(struct slice name, char *fullname, size_t n)
{
    const char *bar = memchr(name.ptr, '|', name.len);
    const struct command *cmd;
    if (bar == NULL) {
        cmd = command_lookup(name);
        if (cmd)
            snprintf(fullname, n, "%s", cmd->name);
        return cmd;
    }
    struct slice top = { name.ptr, (size_t)(bar - name.ptr) };
    struct slice sub = { bar + 1, name.len - top.len - 1 };
    const struct command *parent = command_lookup(top);
    if (parent == NULL || parent->subcommands == NULL || (parent->flags & CMD_HIDDEN_SUBS))
        return NULL;
    cmd = command_lookup_sub(parent, sub);
    if (cmd)
        snprintf(fullname, n, "%s|%s", parent->name, cmd->name);
    return cmd;
}

void cmd_command(struct exec_ctx *ctx)
{
    size_t n = 0;
    const struct command *table = command_table(&n);
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_command_info(ctx->reply, &table[i], table[i].name);
}

void cmd_command_count(struct exec_ctx *ctx)
{
    size_t n = 0;
    command_table(&n);
    reply_int(ctx->reply, (long long)n);
}

void cmd_command_info(struct exec_ctx *ctx)
{
    if (ctx->argc <= 2) {
        cmd_command(ctx);
        return;
    }
    reply_array(ctx->reply, (size_t)(ctx->argc - 2));
    char full[128];
    for (int i = 2; i < ctx->argc; i++) {
        const struct command *cmd = lookup_fullname(ctx->argv[i], full, sizeof(full));
        if (cmd == NULL)
            reply_null(ctx->reply);
        else
            reply_command_info(ctx->reply, cmd, full);
    }
}

static bool docs_has_subcommands(const struct command *cmd)
{
    return cmd->subcommands && cmd->subcommands->name && !(cmd->flags & CMD_HIDDEN_SUBS);
}

/* summary, since, group, complexity (docs.c), arguments (docs.c: redis-cli
 * builds its hints from them), subcommands */
static void reply_command_docs(struct reply *r, const struct command *cmd, const char *fullname)
{
    const struct command_doc *d = command_doc_find(fullname);
    bool complexity = d && d->complexity;
    bool args = doc_has_arguments(d);
    reply_map(r, 3 + (size_t)complexity + (size_t)args + (size_t)docs_has_subcommands(cmd));
    reply_bulk_str(r, "summary");
    reply_bulk_str(r, cmd->summary ? cmd->summary : "");
    reply_bulk_str(r, "since");
    reply_bulk_str(r, cmd->since ? cmd->since : "1.0.0");
    reply_bulk_str(r, "group");
    reply_bulk_str(r, cmd->group ? cmd->group : "server");
    if (complexity) {
        reply_bulk_str(r, "complexity");
        reply_bulk_str(r, d->complexity);
    }
    if (args) {
        reply_bulk_str(r, "arguments");
        reply_doc_arguments(r, d);
    }
    if (docs_has_subcommands(cmd)) {
        size_t nsub = 0;
        for (const struct command *s = cmd->subcommands; s->name; s++)
            nsub++;
        reply_bulk_str(r, "subcommands");
        reply_map(r, nsub);
        char full[128];
        for (const struct command *s = cmd->subcommands; s->name; s++) {
            snprintf(full, sizeof(full), "%s|%s", cmd->name, s->name);
            reply_bulk_str(r, full);
            reply_command_docs(r, s, full);
        }
    }
}

void cmd_command_docs(struct exec_ctx *ctx)
{
    char full[128];
    if (ctx->argc <= 2) {
        size_t n = 0;
        const struct command *table = command_table(&n);
        reply_map(ctx->reply, n);
        for (size_t i = 0; i < n; i++) {
            reply_bulk_str(ctx->reply, table[i].name);
            reply_command_docs(ctx->reply, &table[i], table[i].name);
        }
        return;
    }
    size_t found = 0;
    for (int i = 2; i < ctx->argc; i++)
        if (lookup_fullname(ctx->argv[i], full, sizeof(full)))
            found++;
    reply_map(ctx->reply, found);
    for (int i = 2; i < ctx->argc; i++) {
        const struct command *cmd = lookup_fullname(ctx->argv[i], full, sizeof(full));
        if (cmd == NULL)
            continue;
        reply_bulk_str(ctx->reply, full);
        reply_command_docs(ctx->reply, cmd, full);
    }
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT cat | PATTERN pattern] */
struct list_filter {
    int          kind; /* 0 none, 1 module, 2 aclcat, 3 pattern */
    struct slice arg;
    struct buf   names;  /* the matching names, each as a RESP bulk */
    size_t       count;
    int          proto;
};

static void list_visit(void *arg, const struct command *cmd, const char *fullname)
{
    struct list_filter *f = arg;
    if (f->kind == 1)
        return; /* ringkv has no modules */
    if (f->kind == 2) {
        const char *cats[ACL_CATEGORIES];
        size_t nc = command_categories(cmd, cats);
        bool hit = false;
        for (size_t i = 0; i < nc; i++) {
            const char *c = cats[i] + 1; /* without '@' */
            struct slice want = f->arg;
            if (want.len > 0 && want.ptr[0] == '@') {
                want.ptr++;
                want.len--;
            }
            if (slice_eq_nocase(want, c))
                hit = true;
        }
        if (!hit)
            return;
    }
    if (f->kind == 3 && !glob_match(f->arg.ptr, f->arg.len, fullname, strlen(fullname), true))
        return;
    struct reply r = { &f->names, f->proto };
    reply_bulk_str(&r, fullname);
    f->count++;
}

void cmd_command_list(struct exec_ctx *ctx)
{
    struct list_filter f = { .kind = 0, .proto = ctx->reply->proto };
    buf_init(&f.names);
    if (ctx->argc == 5 && slice_eq_nocase(ctx->argv[2], "filterby")) {
        if (slice_eq_nocase(ctx->argv[3], "module")) f.kind = 1;
        else if (slice_eq_nocase(ctx->argv[3], "aclcat")) f.kind = 2;
        else if (slice_eq_nocase(ctx->argv[3], "pattern")) f.kind = 3;
        f.arg = ctx->argv[4];
    }
    if (ctx->argc != 2 && f.kind == 0) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    each_command(list_visit, &f);
    reply_array(ctx->reply, f.count);
    if (f.names.len)
        buf_append(ctx->reply->out, f.names.data, f.names.len);
    buf_free(&f.names);
}

/* BITFIELD only reads when every subcommand is a GET or an OVERFLOW with
 * all its arguments (Redis's bitfieldGetKeys: anything else, a SET, an
 * INCRBY or a syntax error, counts as a write). */
static bool bitfield_reads_only(int argc, const struct slice *argv)
{
    for (int i = 2; i < argc; i++) {
        int following = argc - i - 1;
        if (slice_eq_nocase(argv[i], "get") && following >= 2)
            i += 2;
        else if (slice_eq_nocase(argv[i], "overflow") && following >= 1)
            i += 1;
        else
            return false;
    }
    return true;
}

/* The flags of a key spec with variable_flags, for this call, as Redis's
 * getkeys procedures set them: SET is RW access update with GET, else OW
 * update; BITFIELD is RO access when it only reads, else RW access
 * update. */
static void variable_key_flags(const char *name, int argc, const struct slice *argv,
                               const char *const **flags, size_t *n)
{
    static const char *const read_access[] = { "RO", "access" };
    static const char *const read_write[] = { "RW", "access", "update" };
    static const char *const overwrite[] = { "OW", "update" };
    bool reads = false;

    if (strcmp(name, "bitfield") == 0) {
        reads = bitfield_reads_only(argc, argv);
        *flags = reads ? read_access : read_write;
        *n = reads ? 2 : 3;
        return;
    }
    for (int i = 1; i < argc; i++)
        if (slice_eq_nocase(argv[i], "get"))
            reads = true;
    *flags = reads ? read_write : overwrite;
    *n = reads ? 3 : 2;
}

/* MIGRATE's keys, as Redis finds them: the key argument when no KEYS
 * comes before the last argument (its specs); else as migrateGetKeys
 * does, the keys after KEYS (looked for from the options on, AUTH's and
 * AUTH2's arguments skipped), -1 when the key argument is given too. */
static int migrate_keys(int argc, const struct slice *argv, int *idx, int max)
{
    int first = 3, n = 1;
    int keys = argc - 2;
    while (keys >= 2 && !slice_eq_nocase(argv[keys], "keys"))
        keys--;
    for (int i = 6; keys >= 2 && i < argc; i++) {
        if (slice_eq_nocase(argv[i], "keys")) {
            if (argv[3].len > 0)
                return -1; /* "Cannot use both the KEY and KEYS options" */
            first = i + 1;
            n = argc - first;
            break;
        }
        if (slice_eq_nocase(argv[i], "auth"))
            i += 1;
        else if (slice_eq_nocase(argv[i], "auth2"))
            i += 2;
    }
    if (n > max)
        n = max;
    for (int k = 0; k < n; k++)
        idx[k] = first + k;
    return n;
}

/* COMMAND GETKEYS|GETKEYSANDFLAGS <command> [arg ...]: the keys the
 * command would touch, found by its key specs (each key with its spec's
 * flags), with Redis's errors. A spec with variable_flags (SET, BITFIELD)
 * says what this call does (variable_key_flags). */
static void command_getkeys(struct exec_ctx *ctx, bool with_flags)
{
    const struct slice *argv = ctx->argv + 2;
    int argc = ctx->argc - 2;
    const struct command *cmd = command_lookup(argv[0]);
    char full[128];
    if (!cmd) {
        reply_error(ctx->reply, "ERR Invalid command specified");
        return;
    }
    snprintf(full, sizeof(full), "%s", cmd->name);
    if (cmd->subcommands && argc >= 2 && !(cmd->flags & CMD_HIDDEN_SUBS)) {
        const struct command *sub = command_lookup_sub(cmd, argv[1]);
        if (!sub) {
            reply_error(ctx->reply, "ERR Invalid command specified");
            return;
        }
        snprintf(full, sizeof(full), "%s|%s", cmd->name, sub->name);
        cmd = sub;
    }
    struct doc_key_spec specs[4];
    size_t nspecs = command_key_specs(cmd, full, specs, 4), key_specs = 0;
    for (size_t k = 0; k < nspecs; k++)
        key_specs += !doc_key_spec_has(&specs[k], "not_key"); /* SSUBSCRIBE's channels are none */
    if (key_specs == 0) {
        reply_error(ctx->reply, "ERR The command has no key arguments");
        return;
    }
    if (!command_arity_ok(cmd, argc)) {
        reply_error(ctx->reply, "ERR Invalid number of arguments specified for command");
        return;
    }
    int nkeys = 0;
    int idx[256], spec_of[256];
    bool invalid = false; /* a spec whose keys are not where it says: none found, as Redis */
    for (size_t k = 0; k < nspecs && !invalid; k++) {
        if (doc_key_spec_has(&specs[k], "not_key"))
            continue; /* SSUBSCRIBE's channels: keys to the cluster only */
        if (specs[k].begin != DOC_BEGIN_INDEX)
            continue; /* after a word, or anywhere: the row's finder's (below) */
        int first = specs[k].index, last;
        if (specs[k].keynum) { /* the keys a count names (ZUNION, EVAL, LMPOP...) */
            long long nk;
            int at = first + specs[k].keynumidx;
            if (at >= argc || !parse_ll(argv[at], &nk) || nk < 0 || nk > argc) {
                invalid = true;
                break;
            }
            first += specs[k].firstkey;
            last = first + (int)nk - 1;
        } else {
            last = specs[k].lastkey >= 0 ? first + specs[k].lastkey : argc + specs[k].lastkey;
        }
        if (last >= argc || last < first || first >= argc) {
            invalid = true;
            break;
        }
        int step = specs[k].keystep > 0 ? specs[k].keystep : 1;
        for (int i = first; i <= last && nkeys < 256; i += step) {
            idx[nkeys] = i;
            spec_of[nkeys++] = (int)k;
        }
    }
    if (invalid)
        nkeys = 0;
    if (strcmp(full, "migrate") == 0) {
        /* its row has no keys (cmd_migrate finds them); its KEYS spec is
         * incomplete, so Redis finds them by migrateGetKeys: the same */
        nkeys = migrate_keys(argc, argv, idx, 256);
        if (nkeys < 0)
            nkeys = 0;
        for (int k = 0; k < nkeys; k++)
            spec_of[k] = 0;
    }
    if ((cmd->flags & CMD_STREAMS_KEYS) && nspecs > 0) {
        /* XREAD's keys: after STREAMS, as the command path finds them */
        nkeys = command_keys(cmd, argc, argv, idx, 256);
        if (nkeys > 256)
            nkeys = 256;
        for (int k = 0; k < nkeys; k++)
            spec_of[k] = 0;
    }
    if ((cmd->flags & CMD_STORE_KEY) && nkeys < 256) {
        /* SORT's STORE destination, GEORADIUS's STORE and STOREDIST ones,
         * found as the command path finds them (command_keys: the keys it
         * lists after the first, in its order) */
        int all[8];
        int n = command_keys(cmd, argc, argv, all, 8);
        for (int j = 1; j < n && j < 8 && nkeys < 256; j++) {
            idx[nkeys] = all[j];
            spec_of[nkeys++] = -1;
        }
    }
    if (nkeys == 0) {
        if (cmd->flags & CMD_NO_MANDATORY_KEYS)
            reply_array(ctx->reply, 0); /* EVAL ... 0 */
        else
            reply_error(ctx->reply, "ERR Invalid arguments specified for command");
        return;
    }
    reply_array(ctx->reply, (size_t)nkeys);
    for (int k = 0; k < nkeys; k++) {
        struct slice key = argv[idx[k]];
        if (!with_flags) {
            reply_bulk(ctx->reply, key.ptr, key.len);
            continue;
        }
        if (spec_of[k] < 0) { /* a STORE destination */
            reply_array(ctx->reply, 2);
            reply_bulk(ctx->reply, key.ptr, key.len);
            reply_set(ctx->reply, 2);
            reply_simple(ctx->reply, "OW");
            reply_simple(ctx->reply, "update");
            continue;
        }
        const struct doc_key_spec *s = &specs[spec_of[k]];
        bool variable = false;
        for (int f = 0; f < s->nflags; f++)
            if (strcmp(s->flags[f], "variable_flags") == 0)
                variable = true;
        reply_array(ctx->reply, 2);
        reply_bulk(ctx->reply, key.ptr, key.len);
        if (variable) {
            const char *const *fl;
            size_t nf;
            variable_key_flags(full, argc, argv, &fl, &nf);
            reply_set(ctx->reply, nf);
            for (size_t f = 0; f < nf; f++)
                reply_simple(ctx->reply, fl[f]);
            continue;
        }
        reply_set(ctx->reply, (size_t)s->nflags);
        for (int f = 0; f < s->nflags; f++)
            reply_simple(ctx->reply, s->flags[f]);
    }
}

void cmd_command_getkeys(struct exec_ctx *ctx)
{
    command_getkeys(ctx, false);
}

void cmd_command_getkeysandflags(struct exec_ctx *ctx)
{
    command_getkeys(ctx, true);
}

void cmd_command_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}

/* ------------------------------------------------------------------ TIME */

void cmd_time(struct exec_ctx *ctx)
{
    int64_t now_us = clock_unix_us();
    reply_array(ctx->reply, 2);
    reply_bulk_ll(ctx->reply, (long long)(now_us / 1000000));
    reply_bulk_ll(ctx->reply, (long long)(now_us % 1000000));
}

/* -------------------------------------------------------------- SHUTDOWN */

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. ringkv keeps nothing on disk,
 * so the modifiers only need to be well formed. On success the handler
 * writes NO reply (Redis closes the connection without answering): the
 * dispatcher must accept a command that produced no reply here, and the
 * connection is closed once what precedes it is sent. */
void cmd_shutdown(struct exec_ctx *ctx)
{
    bool nosave = false, save = false, abort_ = false;
    for (int i = 1; i < ctx->argc; i++) {
        struct slice a = ctx->argv[i];
        if (slice_eq_nocase(a, "nosave")) nosave = true;
        else if (slice_eq_nocase(a, "save")) save = true;
        else if (slice_eq_nocase(a, "now") || slice_eq_nocase(a, "force")) continue;
        else if (slice_eq_nocase(a, "abort")) abort_ = true;
        else {
            reply_error(ctx->reply, ERR_SYNTAX);
            return;
        }
    }
    if ((nosave && save) || (abort_ && ctx->argc != 2)) {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    if (abort_) {
        reply_error(ctx->reply, "ERR No shutdown in progress.");
        return;
    }
    log_warning("User requested shutdown...");
    persist_request_shutdown(ctx->shard->node, save, nosave); /* saves first: SAVE, or save points */
    if (ctx->client != NULL)
        ctx->client->close_after_reply = true;
}
