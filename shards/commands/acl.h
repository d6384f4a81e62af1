/* cmd_acl: what the other command families and main ask of the ACL users
 * (shards/commands/acl.c; the users themselves are core/acl.h's). */
#ifndef RINGKV_CMD_ACL_H
#define RINGKV_CMD_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include "core/command.h"

struct node;
struct shard;

/* Before the shards start: the users from redis.conf's user lines or the
 * aclfile, and requirepass. 0, or -1 with err (Redis's text). */
int acl_node_start(struct node *n, char *err, size_t errlen);
/* The ACL command's rows. */
void acl_commands_register(void);

/* AUTH / HELLO AUTH: log the connection in as user (true), or log the
 * failure in ACL LOG (false: -WRONGPASS). */
bool acl_login(struct exec_ctx *ctx, struct slice user, struct slice pass);
/* Does the default user have nopass (AUTH <password> is then an error)? */
bool acl_default_has_nopass(const struct exec_ctx *ctx);
/* Must a new connection AUTH before its commands run? */
bool acl_needs_auth(const struct exec_ctx *ctx);
/* RESET: back to the default user, authenticated only if it needs no password. */
void acl_client_reset_user(struct exec_ctx *ctx);
/* After CONFIG SET of an option: requirepass sets the default user's
 * password (nopass when empty), acllog-max-len and acl-pubsub-default are
 * taken. */
void acl_config_changed(struct shard *sh, const char *name);

#endif
