/* config: CONFIG GET, SET, RESETSTAT, REWRITE, HELP.
 *
 * GET, SET and HELP are CMD_CONN, on the connection's thread: CONFIG SET
 * writes the node's config with relaxed stores (core/config.h). RESETSTAT is
 * CMD_ALL_SHARDS, each shard on its own stats (merge_first_ok); REWRITE runs
 * on shard 0 (CMD_SHARD0), where the replication role is read.
 *
 * Subcommand handlers see the whole command: argv[0] is "CONFIG", argv[1]
 * the subcommand. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <mimalloc.h>

#include "shards/commands/acl.h"
#include "shards/commands/commands.h"
#include "shards/commands/server.h"
#include "core/config.h"
#include "core/log.h"
#include "core/stats.h"
#include "shards/dispatch.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/store.h"

/* ---------------------------------------------------------------- CONFIG */

struct config_pairs {
    const char **names; /* the table's names (static strings) */
    char       **values;
    size_t       n, cap;
};

static void config_pairs_add(void *arg, const char *name, const char *value)
{
    struct config_pairs *p = arg;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return; /* matched by an earlier pattern */
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->names = mi_realloc(p->names, p->cap * sizeof(*p->names));
        p->values = mi_realloc(p->values, p->cap * sizeof(*p->values));
        if (p->names == NULL || p->values == NULL)
            abort();
    }
    p->names[p->n] = name;
    p->values[p->n] = mi_strdup(value);
    if (p->values[p->n] == NULL)
        abort();
    p->n++;
}

void cmd_config_get(struct exec_ctx *ctx)
{
    struct config *cfg = &ctx->shard->node->config;
    struct config_pairs pairs = { 0 };
    for (int i = 2; i < ctx->argc; i++) {
        char *pattern = mi_malloc(ctx->argv[i].len + 1);
        if (pattern == NULL)
            abort();
        memcpy(pattern, ctx->argv[i].ptr, ctx->argv[i].len);
        pattern[ctx->argv[i].len] = '\0';
        config_get(cfg, pattern, config_pairs_add, &pairs);
        mi_free(pattern);
    }
    reply_map(ctx->reply, pairs.n);
    for (size_t i = 0; i < pairs.n; i++) {
        reply_bulk_str(ctx->reply, pairs.names[i]);
        reply_bulk_str(ctx->reply, pairs.values[i]);
        mi_free(pairs.values[i]);
    }
    mi_free(pairs.names);
    mi_free(pairs.values);
}

/* Option names are short; anything longer is simply unknown. */
#define CONFIG_NAME_MAX 128

void cmd_config_set(struct exec_ctx *ctx)
{
    struct config *cfg = &ctx->shard->node->config;
    if (ctx->argc < 4 || (ctx->argc - 2) % 2 != 0) {
        reply_errorf(ctx->reply, ERR_ARITY, "config|set");
        return;
    }
    int npairs = (ctx->argc - 2) / 2;
    char err[512];
    /* Redis 7 applies all or nothing: check every pair first, then apply
     * them. A concurrent CONFIG SET on another shard may interleave; each
     * option still ends up with a valid value. */
    char  (*names)[CONFIG_NAME_MAX] = mi_malloc((size_t)npairs * CONFIG_NAME_MAX);
    char  **values = mi_calloc((size_t)npairs, sizeof(char *));
    if (names == NULL || values == NULL)
        abort();
    bool ok = true;
    for (int i = 0; i < npairs && ok; i++) {
        struct slice name = ctx->argv[2 + 2 * i], value = ctx->argv[3 + 2 * i];
        if (!slice_to_cstr(name, names[i], CONFIG_NAME_MAX)) {
            reply_errorf(ctx->reply, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                         (int)(name.len > 256 ? 256 : name.len), name.ptr);
            ok = false;
            break;
        }
        for (int k = 0; k < i; k++) {
            if (strcasecmp(names[k], names[i]) == 0) {
                char canon[CONFIG_NAME_MAX];
                snprintf(canon, sizeof(canon), "%s", names[i]);
                for (char *p = canon; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                reply_errorf(ctx->reply, "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter", canon);
                ok = false;
                break;
            }
        }
        if (!ok)
            break;
        values[i] = mi_malloc(value.len + 1);
        if (values[i] == NULL)
            abort();
        memcpy(values[i], value.ptr, value.len);
        values[i][value.len] = '\0';
        if (config_check(names[i], values[i], err, sizeof(err)) != 0) {
            reply_error(ctx->reply, err);
            ok = false;
        }
    }
    if (ok) {
        /* the strings replaced: another shard may be reading one right now */
        char **retired = mi_calloc((size_t)npairs, sizeof(char *));
        if (retired == NULL)
            abort();
        int nretired = 0;
        for (int i = 0; i < npairs; i++) {
            config_set_shared(cfg, names[i], values[i], &retired[nretired], err, sizeof(err));
            if (retired[nretired] != NULL)
                nretired++;
            if (strcasecmp(names[i], "loglevel") == 0)
                log_set_level((int)config_load(cfg, loglevel));
            acl_config_changed(ctx->shard, names[i]);
        }
        dispatch_free_later(ctx->shard, retired, nretired);
        /* maxmemory, policy, timeouts, limits: the shards read the config
         * each loop turn or tick (hz, client-query-buffer-limit:
         * dispatch_tick), so nothing else needs telling */
        reply_ok(ctx->reply);
    }
    for (int i = 0; i < npairs; i++)
        mi_free(values[i]);
    mi_free(values);
    mi_free(names);
}

void cmd_config_resetstat(struct exec_ctx *ctx)
{
    /* the stats only: the slow log is SLOWLOG RESET's business, as in Redis */
    shard_stats_reset(&ctx->shard->stats, command_count_all());
    for (SHARD_EACH_DB(ctx->shard, d)) /* every database's hits, misses, expired, evicted */
        store_reset_stats(ctx->shard->dbs[d]);
    reply_ok(ctx->reply);
}

/* Runs on shard 0 (CMD_SHARD0): the replication role is read there. Sentinel
 * sends it inside MULTI after REPLICAOF during a failover, so the file
 * already holds the new master. */
void cmd_config_rewrite(struct exec_ctx *ctx)
{
    struct node *n = ctx->shard->node;
    if (n->config_file[0] == '\0') {
        reply_error(ctx->reply, "ERR The server is running without a config file");
        return;
    }
    char now[280], line[300], err[512];
    const char *replicaof = NULL;
    if (shard_modules_option(ctx->shard, "replicaof", now, sizeof(now))) {
        snprintf(line, sizeof(line), "replicaof %s", now);
        replicaof = line;
    }
    if (config_rewrite(&n->config, n->config_file, replicaof, err, sizeof(err)) != 0) {
        log_warning("CONFIG REWRITE failed: %s", err);
        reply_error(ctx->reply, err);
        return;
    }
    log_notice("CONFIG REWRITE executed with success.");
    reply_ok(ctx->reply);
}

void cmd_config_help(struct exec_ctx *ctx)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(ctx->reply, lines);
}
