/* cmd_acl: the ACL command (SETUSER, GETUSER, DELUSER, USERS, LIST, WHOAMI,
 * CAT, GENPASS, LOG, LOAD, SAVE, DRYRUN, HELP), logging in as a user (AUTH,
 * HELLO AUTH: acl_login), and the users a node starts with (redis.conf's
 * user lines or the aclfile, requirepass). The users themselves, their
 * rules and the check are core/acl.c's; a set replaced here is freed once
 * every shard has passed a command boundary (dispatch_free_later).
 *
 * Every subcommand runs on the connection's thread (CMD_CONN). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <mimalloc.h>

#include "core/acl.h"
#include "core/config.h"
#include "core/file_replace.h"
#include "core/log.h"
#include "core/numbers.h"
#include "core/reply.h"
#include "shards/commands/acl.h"
#include "shards/commands/commands.h"
#include "shards/dispatch.h"
#include "shards/node.h"
#include "shards/shard.h"

#define ERR_NO_ACLFILE "ERR This Redis instance is not configured to use an ACL file. You may want to " \
                       "specify users via the ACL SETUSER command and then issue a CONFIG REWRITE " \
                       "(assuming you have a Redis configuration file set) in order to store users in " \
                       "the Redis configuration."
#define ERR_BOTH       "Configuring Redis with users defined in redis.conf and at the same setting an ACL " \
                       "file path is invalid. This setup is very likely to lead to configuration errors " \
                       "and security holes, please define either an ACL file or declare users directly " \
                       "in your redis.conf, but not both."

/* ---- the users a node starts with -------------------------------------- */

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *text = mi_malloc(cap);
    size_t got;
    while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            cap *= 2;
            text = mi_realloc(text, cap);
        }
    }
    fclose(f);
    if (!text)
        abort();
    text[len] = '\0';
    return text;
}

/* Options the ACL reads at run time (CONFIG SET acllog-max-len,
 * acl-pubsub-default): taken again whenever a command of the ACL runs. */
static void acl_take_options(struct node *n)
{
    atomic_store(&n->acl.log_max, config_load(&n->config, acllog_max_len));
    atomic_store(&n->acl.pubsub_all, config_load(&n->config, acl_pubsub_default) == 1);
}

int acl_node_start(struct node *n, char *err, size_t errlen)
{
    acl_init(&n->acl);
    acl_setup_commands();
    acl_take_options(n);
    const char *users = config_str(&n->config, user);
    const char *file = config_str(&n->config, aclfile);
    const char *pass = config_str(&n->config, requirepass);
    if (users && *users && file && *file) {
        snprintf(err, errlen, "%s", ERR_BOTH);
        return -1;
    }
    char *text = NULL;
    const char *source = NULL;
    if (users && *users) {
        /* config.c keeps the lines' words after "user", one line each */
        struct buf b;
        buf_init(&b);
        for (const char *p = users; *p;) {
            const char *eol = strchr(p, '\n');
            size_t len = eol ? (size_t)(eol - p) : strlen(p);
            buf_append_str(&b, "user ");
            buf_append(&b, p, len);
            buf_append_str(&b, "\n");
            p += len + (eol ? 1 : 0);
        }
        buf_append(&b, "", 1);
        text = mi_strdup(b.data);
        buf_free(&b);
        source = text;
    }
    if (file && *file) {
        text = read_file(file, err, errlen);
        if (!text)
            return -1;
        source = text;
    }
    const struct acl_users *old;
    int rc = acl_load_text(&n->acl, source ? source : "", pass, &old, err, errlen);
    mi_free(text);
    if (rc != 0)
        return -1;
    acl_users_free(old); /* no shard runs yet */
    return 0;
}

/* Free a replaced set once no shard can be reading it. */
static void retire(struct exec_ctx *ctx, const struct acl_users *old)
{
    if (!old)
        return;
    if (!ctx->shard) {
        acl_users_free(old);
        return;
    }
    int n;
    char **ptrs = acl_users_pointers(old, &n);
    dispatch_free_later(ctx->shard, ptrs, n);
}

void acl_config_changed(struct shard *sh, const char *name)
{
    struct node *n = sh->node;
    acl_take_options(n);
    if (strcasecmp(name, "requirepass") != 0)
        return;
    const struct acl_users *old;
    acl_set_requirepass(&n->acl, config_str(&n->config, requirepass), &old);
    int nptrs;
    char **ptrs = acl_users_pointers(old, &nptrs);
    dispatch_free_later(sh, ptrs, nptrs);
}

/* The connection's own user may be gone after a change: it is closed
 * once this reply is sent. */
static void close_if_gone(struct exec_ctx *ctx)
{
    if (ctx->client && !acl_client_user(acl_current(&ctx->shard->node->acl), ctx->client))
        ctx->client->close_after_reply = true;
}

/* ---- logging in --------------------------------------------------------- */

bool acl_login(struct exec_ctx *ctx, struct slice user, struct slice pass)
{
    if (!ctx->shard) { /* a unit test's context: the default user, no password */
        bool is_default = user.len == 7 && memcmp(user.ptr, "default", 7) == 0;
        if (is_default && ctx->client)
            ctx->client->authenticated = true;
        return is_default;
    }
    struct acl *a = &ctx->shard->node->acl;
    const struct acl_users *set = acl_current(a);
    const struct acl_user *u = acl_authenticate(set, user.ptr, user.len, pass.ptr, pass.len);
    if (!u) {
        char info[512];
        if (ctx->client)
            acl_client_info(ctx->client, "default", ctx->now_ms, info, sizeof(info));
        else
            info[0] = '\0';
        acl_log_add(a, "auth", "toplevel", "AUTH", 4, user.ptr, user.len, info, ctx->now_ms);
        return false;
    }
    if (ctx->client) {
        acl_client_set_user(ctx->client, set, u);
        ctx->client->authenticated = true;
    }
    return true;
}

bool acl_default_has_nopass(const struct exec_ctx *ctx)
{
    if (!ctx->shard)
        return true;
    const struct acl_user *d = acl_default_user(acl_current(&ctx->shard->node->acl));
    return d && (d->flags & ACL_USER_NOPASS);
}

bool acl_needs_auth(const struct exec_ctx *ctx)
{
    return ctx->shard && acl_auth_required(acl_current(&ctx->shard->node->acl));
}

void acl_client_reset_user(struct exec_ctx *ctx)
{
    if (!ctx->client)
        return;
    ctx->client->acl_user_id = 0; /* the default user */
    ctx->client->acl_gen = 0;
    ctx->client->acl_user = NULL;
    ctx->client->authenticated = !acl_needs_auth(ctx);
}

/* ---- ACL SETUSER GETUSER DELUSER USERS LIST WHOAMI ---------------------- */

static void cmd_acl_setuser(struct exec_ctx *ctx)
{
    struct node *n = ctx->shard->node;
    acl_take_options(n);
    char err[512];
    const struct acl_users *old;
    if (acl_setuser(&n->acl, ctx->argv[2].ptr, ctx->argv[2].len, ctx->argc - 3, ctx->argv + 3, &old, err,
                    sizeof(err)) != 0) {
        reply_error(ctx->reply, err);
        return;
    }
    retire(ctx, old);
    reply_ok(ctx->reply);
}

static void cmd_acl_getuser(struct exec_ctx *ctx)
{
    const struct acl_users *set = acl_current(&ctx->shard->node->acl);
    const struct acl_user *u = acl_find(set, ctx->argv[2].ptr, ctx->argv[2].len);
    struct reply *r = ctx->reply;
    if (!u) {
        reply_null(r);
        return;
    }
    reply_map(r, 6);
    reply_bulk_str(r, "flags");
    const char *flags[4];
    int nf = 0;
    flags[nf++] = u->flags & ACL_USER_ON ? "on" : "off";
    if (u->flags & ACL_USER_NOPASS)
        flags[nf++] = "nopass";
    if (u->flags & ACL_USER_SKIP_SANITIZE)
        flags[nf++] = "skip-sanitize-payload";
    if (u->flags & ACL_USER_SANITIZE)
        flags[nf++] = "sanitize-payload";
    reply_array(r, (size_t)nf);
    for (int i = 0; i < nf; i++)
        reply_bulk_str(r, flags[i]);
    reply_bulk_str(r, "passwords");
    reply_array(r, (size_t)u->npasswords);
    for (int i = 0; i < u->npasswords; i++) {
        static const char digits[] = "0123456789abcdef";
        char hex[SHA256_HEX_LEN];
        for (int k = 0; k < SHA256_DIGEST_LEN; k++) {
            hex[2 * k] = digits[u->passwords[i][k] >> 4];
            hex[2 * k + 1] = digits[u->passwords[i][k] & 15];
        }
        reply_bulk(r, hex, sizeof(hex));
    }
    struct buf b;
    buf_init(&b);
    acl_describe_commands(&b, u);
    reply_bulk_str(r, "commands");
    reply_bulk(r, b.data, b.len);
    b.len = 0;
    acl_describe_keys(&b, u);
    reply_bulk_str(r, "keys");
    reply_bulk(r, b.data ? b.data : "", b.len);
    b.len = 0;
    acl_describe_channels(&b, u);
    reply_bulk_str(r, "channels");
    reply_bulk(r, b.data ? b.data : "", b.len);
    buf_free(&b);
    reply_bulk_str(r, "selectors");
    reply_array(r, 0);
}

static void cmd_acl_deluser(struct exec_ctx *ctx)
{
    char err[256];
    int deleted;
    const struct acl_users *old;
    if (acl_deluser(&ctx->shard->node->acl, ctx->argc - 2, ctx->argv + 2, &deleted, &old, err,
                    sizeof(err)) != 0) {
        reply_error(ctx->reply, err);
        return;
    }
    retire(ctx, old);
    close_if_gone(ctx);
    reply_int(ctx->reply, deleted);
}

static void cmd_acl_users(struct exec_ctx *ctx)
{
    const struct acl_users *set = acl_current(&ctx->shard->node->acl);
    reply_array(ctx->reply, (size_t)set->n);
    for (int i = 0; i < set->n; i++)
        reply_bulk_str(ctx->reply, set->users[i]->name);
}

static void cmd_acl_list(struct exec_ctx *ctx)
{
    const struct acl_users *set = acl_current(&ctx->shard->node->acl);
    reply_array(ctx->reply, (size_t)set->n);
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < set->n; i++) {
        b.len = 0;
        acl_describe_user(&b, set->users[i]);
        reply_bulk(ctx->reply, b.data, b.len);
    }
    buf_free(&b);
}

static void cmd_acl_whoami(struct exec_ctx *ctx)
{
    const struct acl_user *u =
        ctx->client ? acl_client_user(acl_current(&ctx->shard->node->acl), ctx->client) : NULL;
    reply_bulk_str(ctx->reply, u ? u->name : "default");
}

/* ---- ACL CAT GENPASS ---------------------------------------------------- */

struct cat_walk {
    uint32_t     bit;
    struct buf   names; /* RESP bulks */
    size_t       n;
};

static void cat_add(struct cat_walk *w, const char *name)
{
    buf_printf(&w->names, "$%zu\r\n%s\r\n", strlen(name), name);
    w->n++;
}

static void cmd_acl_cat(struct exec_ctx *ctx)
{
    if (ctx->argc == 2) {
        reply_array(ctx->reply, ACL_CATEGORIES);
        for (int i = 0; i < ACL_CATEGORIES; i++)
            reply_bulk_str(ctx->reply, acl_category_names[i]);
        return;
    }
    if (ctx->argc > 3) {
        reply_error(ctx->reply, "ERR unknown subcommand or wrong number of arguments for 'cat'. Try ACL HELP.");
        return;
    }
    int cat = acl_category_find(ctx->argv[2].ptr, ctx->argv[2].len);
    if (cat < 0) {
        reply_errorf(ctx->reply, "ERR Unknown category '%.*s'",
                     (int)(ctx->argv[2].len > 128 ? 128 : ctx->argv[2].len), ctx->argv[2].ptr);
        return;
    }
    struct cat_walk w = { .bit = 1u << cat };
    buf_init(&w.names);
    size_t n;
    const struct command *t = command_table(&n);
    char full[128];
    for (size_t i = 0; i < n; i++) {
        if (acl_command_categories(&t[i]) & w.bit)
            cat_add(&w, t[i].name);
        for (const struct command *s = t[i].subcommands; s && s->name; s++)
            if (acl_command_categories(s) & w.bit) {
                snprintf(full, sizeof(full), "%s|%s", t[i].name, s->name);
                cat_add(&w, full);
            }
    }
    reply_array(ctx->reply, w.n);
    buf_append(ctx->reply->out, w.names.data ? w.names.data : "", w.names.len);
    buf_free(&w.names);
}

static void cmd_acl_genpass(struct exec_ctx *ctx)
{
    long long bits = 256;
    if (ctx->argc > 3) {
        reply_error(ctx->reply, "ERR unknown subcommand or wrong number of arguments for 'genpass'. Try ACL HELP.");
        return;
    }
    if (ctx->argc == 3 && (!parse_ll(ctx->argv[2], &bits) || bits <= 0 || bits > 4096)) {
        reply_error(ctx->reply, "ERR ACL GENPASS argument must be the number of bits for the output "
                                "password, a positive number up to 4096");
        return;
    }
    size_t chars = (size_t)(bits + 3) / 4;
    unsigned char raw[512];
    size_t need = (chars + 1) / 2, got = 0;
    while (got < need) {
        ssize_t r = getrandom(raw + got, need - got, 0);
        if (r <= 0)
            abort();
        got += (size_t)r;
    }
    static const char digits[] = "0123456789abcdef";
    char hex[1025];
    for (size_t i = 0; i < chars; i++)
        hex[i] = digits[i % 2 == 0 ? raw[i / 2] >> 4 : raw[i / 2] & 15];
    reply_bulk(ctx->reply, hex, chars);
}

/* ---- ACL LOG ------------------------------------------------------------ */

static void cmd_acl_log(struct exec_ctx *ctx)
{
    struct acl *a = &ctx->shard->node->acl;
    acl_take_options(ctx->shard->node);
    long long count = 10;
    if (ctx->argc > 3) {
        reply_error(ctx->reply, "ERR unknown subcommand or wrong number of arguments for 'log'. Try ACL HELP.");
        return;
    }
    if (ctx->argc == 3) {
        if (slice_eq_nocase(ctx->argv[2], "reset")) {
            acl_log_reset(a);
            reply_ok(ctx->reply);
            return;
        }
        if (!parse_ll(ctx->argv[2], &count)) {
            reply_error(ctx->reply, ERR_NOT_INT);
            return;
        }
        if (count < 0)
            count = 0;
    }
    pthread_mutex_lock(&a->log_lock);
    size_t shown = (size_t)(count < a->nlog ? count : a->nlog);
    struct reply *r = ctx->reply;
    reply_array(r, shown);
    for (size_t i = 0; i < shown; i++) {
        const struct acl_log_entry *e = &a->log[i];
        reply_map(r, 7);
        reply_bulk_str(r, "count");
        reply_int(r, (long long)e->count);
        reply_bulk_str(r, "reason");
        reply_bulk_str(r, e->reason);
        reply_bulk_str(r, "context");
        reply_bulk_str(r, e->context);
        reply_bulk_str(r, "object");
        reply_bulk_str(r, e->object);
        reply_bulk_str(r, "username");
        reply_bulk_str(r, e->username);
        reply_bulk_str(r, "age-seconds");
        reply_double(r, (double)(ctx->now_ms - e->created_ms) / 1000.0);
        reply_bulk_str(r, "client-info");
        reply_bulk_str(r, e->client_info);
    }
    pthread_mutex_unlock(&a->log_lock);
}

/* ---- ACL LOAD SAVE ------------------------------------------------------ */

static void cmd_acl_load(struct exec_ctx *ctx)
{
    struct node *n = ctx->shard->node;
    const char *file = config_str(&n->config, aclfile);
    if (!file || !*file) {
        reply_error(ctx->reply, ERR_NO_ACLFILE);
        return;
    }
    acl_take_options(n);
    char err[512];
    char *text = read_file(file, err, sizeof(err));
    if (!text) {
        reply_errorf(ctx->reply, "ERR %s", err);
        return;
    }
    const struct acl_users *old;
    /* the file's users replace every user: their clients are closed, as
     * Redis frees the users it had (the default user's stay) */
    int rc = acl_load_text(&n->acl, text, config_str(&n->config, requirepass), &old, err, sizeof(err));
    mi_free(text);
    if (rc != 0) {
        reply_error(ctx->reply, err);
        return;
    }
    retire(ctx, old);
    close_if_gone(ctx);
    reply_ok(ctx->reply);
}

static void cmd_acl_save(struct exec_ctx *ctx)
{
    struct node *n = ctx->shard->node;
    const char *file = config_str(&n->config, aclfile);
    if (!file || !*file) {
        reply_error(ctx->reply, ERR_NO_ACLFILE);
        return;
    }
    struct buf b;
    buf_init(&b);
    acl_users_text(&b, acl_current(&n->acl));
    int rc = file_replace(file, b.data ? b.data : "", b.len, 0600);
    buf_free(&b);
    if (rc != 0) {
        log_warning("ACL SAVE to %s failed: %s", file, strerror(errno));
        reply_error(ctx->reply, "ERR There was an error trying to save the ACLs. Please check the server "
                                "logs for more information");
        return;
    }
    reply_ok(ctx->reply);
}

/* ---- ACL DRYRUN HELP ---------------------------------------------------- */

static void cmd_acl_dryrun(struct exec_ctx *ctx)
{
    const struct acl_users *set = acl_current(&ctx->shard->node->acl);
    const struct acl_user *u = acl_find(set, ctx->argv[2].ptr, ctx->argv[2].len);
    if (!u) {
        reply_errorf(ctx->reply, "ERR User '%.*s' not found",
                     (int)(ctx->argv[2].len > 128 ? 128 : ctx->argv[2].len), ctx->argv[2].ptr);
        return;
    }
    int argc = ctx->argc - 3;
    const struct slice *argv = ctx->argv + 3;
    const struct command *cmd = command_lookup(argv[0]), *container = NULL;
    if (!cmd) {
        reply_errorf(ctx->reply, "ERR Command '%.*s' not found",
                     (int)(argv[0].len > 128 ? 128 : argv[0].len), argv[0].ptr);
        return;
    }
    if (cmd->subcommands && argc >= 2) {
        const struct command *sub = command_lookup_sub(cmd, argv[1]);
        if (sub) {
            container = cmd;
            cmd = sub;
        }
    }
    if (!command_arity_ok(cmd, argc)) {
        reply_errorf(ctx->reply, "ERR wrong number of arguments for '%s' command", cmd->name);
        return;
    }
    int arg;
    enum acl_denial why = acl_check(u, cmd, argc, argv, &arg);
    char text[512];
    switch (why) {
    case ACL_OK:
        reply_ok(ctx->reply);
        return;
    case ACL_DENIED_KEY:
        snprintf(text, sizeof(text), "This user has no permissions to access the '%.*s' key",
                 (int)(argv[arg].len > 128 ? 128 : argv[arg].len), argv[arg].ptr);
        break;
    case ACL_DENIED_CHANNEL:
        snprintf(text, sizeof(text), "This user has no permissions to access the '%.*s' channel",
                 (int)(argv[arg].len > 128 ? 128 : argv[arg].len), argv[arg].ptr);
        break;
    default:
        if (container)
            snprintf(text, sizeof(text), "This user has no permissions to run the '%s|%s' command",
                     container->name, cmd->name);
        else
            snprintf(text, sizeof(text), "This user has no permissions to run the '%s' command", cmd->name);
        break;
    }
    reply_bulk_str(ctx->reply, text);
}

static void cmd_acl_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(ctx->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(ctx->reply, lines[i]);
}

/* ---- the rows ----------------------------------------------------------- */

#define F_ACL       (CMD_CONN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define F_ACL_ADMIN (F_ACL | CMD_ADMIN)

static struct command acl_subcommands[] = {
    ROW("cat",     -2, F_ACL, 0, 0, 0, cmd_acl_cat, NULL, "server", "6.0.0",
        "List the ACL categories or the commands inside a category"),
    ROW("deluser", -3, F_ACL_ADMIN, 0, 0, 0, cmd_acl_deluser, NULL, "server", "6.0.0",
        "Remove the specified ACL users and the associated rules"),
    ROW("dryrun",  -4, F_ACL_ADMIN, 0, 0, 0, cmd_acl_dryrun, NULL, "server", "7.0.0",
        "Returns whether the user can execute the given command without executing the command."),
    ROW("genpass", -2, F_ACL, 0, 0, 0, cmd_acl_genpass, NULL, "server", "6.0.0",
        "Generate a pseudorandom secure password to use for ACL users"),
    ROW("getuser", 3,  F_ACL_ADMIN, 0, 0, 0, cmd_acl_getuser, NULL, "server", "6.0.0",
        "Get the rules for a specific ACL user"),
    ROW("help",    2,  CMD_CONN | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_acl_help, NULL, "server", "6.0.0",
        "Show helpful text about the different subcommands"),
    ROW("list",    2,  F_ACL_ADMIN, 0, 0, 0, cmd_acl_list, NULL, "server", "6.0.0",
        "List the current ACL rules in ACL config file format"),
    ROW("load",    2,  F_ACL_ADMIN, 0, 0, 0, cmd_acl_load, NULL, "server", "6.0.0",
        "Reload the ACLs from the configured ACL file"),
    ROW("log",     -2, F_ACL_ADMIN, 0, 0, 0, cmd_acl_log, NULL, "server", "6.0.0",
        "List latest events denied because of ACLs in place"),
    ROW("save",    2,  F_ACL_ADMIN, 0, 0, 0, cmd_acl_save, NULL, "server", "6.0.0",
        "Save the current ACL rules in the configured ACL file"),
    ROW("setuser", -3, F_ACL_ADMIN, 0, 0, 0, cmd_acl_setuser, NULL, "server", "6.0.0",
        "Modify or create the rules for a specific ACL user"),
    ROW("users",   2,  F_ACL_ADMIN, 0, 0, 0, cmd_acl_users, NULL, "server", "6.0.0",
        "List the username of all the configured ACL rules"),
    ROW("whoami",  2,  F_ACL, 0, 0, 0, cmd_acl_whoami, NULL, "server", "6.0.0",
        "Return the name of the user associated to the current connection"),
    END_OF_SUBCOMMANDS,
};

static const struct command acl_rows[] = {
    CONTAINER("acl", -2, CMD_CONN, NULL, acl_subcommands, "server", "6.0.0",
              "A container for Access List Control commands "),
};

void acl_commands_register(void)
{
    command_register(acl_rows, sizeof(acl_rows) / sizeof(acl_rows[0]));
}
