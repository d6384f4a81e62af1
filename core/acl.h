/* acl: Redis 7.0's ACL users (without selectors): who may run which
 * commands on which keys and channels, and with which passwords.
 *
 * The users of a node form one immutable set (struct acl_users). A change
 * (ACL SETUSER, DELUSER, LOAD, CONFIG SET requirepass) builds a new set from
 * the current one and publishes it whole with one release store; the old
 * set is handed back to the caller, who frees it once every shard has passed
 * a point between two commands (shards/dispatch.h, dispatch_free_later). So
 * the command path reads users without a lock: one acquire load of the
 * current set, and a connection's user is re-found by its id only when the
 * set's generation changed since it last looked (acl_client_user).
 *
 * Changes are rare and come from any shard: they are serialised by a mutex
 * that only writers take (and ACL LOG, which is written on refusals only),
 * never a command that passes its checks.
 *
 * The check of one command is a bit test in the user's command bitmap,
 * indexed by the row's index in the command table (core/command.h), then,
 * only for a user without allkeys, a glob of each key against the user's
 * key patterns with the read/write permission the key needs, and, only
 * without allchannels, of the channels of PUBLISH and the SUBSCRIBE family. */
#ifndef RINGKV_ACL_H
#define RINGKV_ACL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/client.h"
#include "core/command.h"
#include "core/sha256.h"

/* Redis 7.0's categories, in ACL CAT's order (acl_category_names). */
enum acl_category {
    ACL_CAT_KEYSPACE = 1u << 0, ACL_CAT_READ = 1u << 1, ACL_CAT_WRITE = 1u << 2,
    ACL_CAT_SET = 1u << 3, ACL_CAT_SORTEDSET = 1u << 4, ACL_CAT_LIST = 1u << 5,
    ACL_CAT_HASH = 1u << 6, ACL_CAT_STRING = 1u << 7, ACL_CAT_BITMAP = 1u << 8,
    ACL_CAT_HYPERLOGLOG = 1u << 9, ACL_CAT_GEO = 1u << 10, ACL_CAT_STREAM = 1u << 11,
    ACL_CAT_PUBSUB = 1u << 12, ACL_CAT_ADMIN = 1u << 13, ACL_CAT_FAST = 1u << 14,
    ACL_CAT_SLOW = 1u << 15, ACL_CAT_BLOCKING = 1u << 16, ACL_CAT_DANGEROUS = 1u << 17,
    ACL_CAT_CONNECTION = 1u << 18, ACL_CAT_TRANSACTION = 1u << 19, ACL_CAT_SCRIPTING = 1u << 20,
};
#define ACL_CATEGORIES 21
extern const char *const acl_category_names[ACL_CATEGORIES];

/* What a key needs of a pattern: %R~, %W~, or both (~). */
enum { ACL_KEY_READ = 1u << 0, ACL_KEY_WRITE = 1u << 1, ACL_KEY_RW = 3 };

/* One row of the data table (core/acl_categories.c): a command by its
 * name ("get", "client|list"), its categories, and what its first key and
 * its other keys need. */
struct acl_command_info {
    const char *name;
    uint32_t    categories;
    uint8_t     first_key;
    uint8_t     other_keys;
};
extern const struct acl_command_info acl_command_infos[];
extern const size_t acl_command_infos_len;

enum acl_user_flag {
    ACL_USER_ON           = 1u << 0,
    ACL_USER_NOPASS       = 1u << 1,
    ACL_USER_ALLKEYS      = 1u << 2,
    ACL_USER_ALLCHANNELS  = 1u << 3,
    ACL_USER_ALLCOMMANDS  = 1u << 4, /* +@all: the commands of the future too (its rules start "+@all") */
    ACL_USER_SANITIZE     = 1u << 5, /* sanitize-payload (shown only; ringkv always checks payloads) */
    ACL_USER_SKIP_SANITIZE = 1u << 6,
};

struct acl_pattern {
    char   *text;
    size_t  len;
    uint8_t perm; /* ACL_KEY_* (keys); unused for channels */
};

struct acl_user {
    char               *name;
    uint64_t            id;        /* kept across changes; new for a new user (and on ACL LOAD) */
    uint32_t            flags;     /* enum acl_user_flag */
    int                 npasswords;
    uint8_t           (*passwords)[SHA256_DIGEST_LEN];
    uint64_t           *allowed;   /* one bit per command row index */
    int                 nkeys;
    struct acl_pattern *keys;
    int                 nchannels;
    struct acl_pattern *channels;
    bool                unrestricted; /* every command, key and channel: the command path checks nothing */
};

struct acl_users {
    uint64_t          generation;
    int               n;
    struct acl_user **users; /* sorted by name */
};

/* One ACL LOG entry. */
struct acl_log_entry {
    uint64_t count;
    char     reason[16];  /* "command", "key", "channel", "auth" */
    char     context[16]; /* "toplevel", "multi", "lua" */
    char    *object;
    char    *username;
    int64_t  created_ms, updated_ms;
    char    *client_info;
};

struct acl {
    _Atomic(const struct acl_users *) users;
    pthread_mutex_t  write_lock;   /* changes of users only */
    uint64_t         next_id;      /* under write_lock */
    atomic_bool      pubsub_all;   /* acl-pubsub-default allchannels: new users get &* */
    pthread_mutex_t  log_lock;     /* ACL LOG, written on refusals */
    struct acl_log_entry *log;     /* newest first */
    int              nlog;
    atomic_llong     log_max;      /* acllog-max-len */
};

/* Once, after command_setup: the per-row categories and key permissions. */
void acl_setup_commands(void);

/* The node's ACL with the default user only ("on nopass ~* &* +@all"). */
void acl_init(struct acl *a);

/* The current set (acquire). */
static inline const struct acl_users *acl_current(struct acl *a)
{
    return atomic_load_explicit(&a->users, memory_order_acquire);
}

const struct acl_user *acl_find(const struct acl_users *set, const char *name, size_t len);
const struct acl_user *acl_default_user(const struct acl_users *set);

/* The user client c authenticated as, in set, or NULL if it no longer
 * exists (deleted, or replaced by ACL LOAD): the connection is then to be
 * closed, as Redis closes the clients of a user it frees. */
static inline const struct acl_user *acl_client_user(const struct acl_users *set, struct client *c)
{
    if (c->acl_gen == set->generation)
        return c->acl_user;
    const struct acl_user *found = NULL;
    for (int i = 0; i < set->n; i++)
        if (set->users[i]->id == c->acl_user_id) {
            found = set->users[i];
            break;
        }
    c->acl_user = found;
    c->acl_gen = set->generation;
    return found;
}

/* Make c a client of u (in set). */
void acl_client_set_user(struct client *c, const struct acl_users *set, const struct acl_user *u);

/* Does a client need AUTH before running commands (the default user has
 * passwords or is off)? */
bool acl_auth_required(const struct acl_users *set);

/* Check name/password: the user when they match and it is on, else NULL. */
const struct acl_user *acl_authenticate(const struct acl_users *set, const char *name, size_t nlen,
                                        const char *pass, size_t plen);

/* ---- changing the users: each returns 0 and publishes a new set, whose
 * predecessor goes to *retired (free with acl_users_free, or its pieces with
 * acl_users_pointers once no reader can hold it), or -1 with err set to
 * Redis's error text. */

/* ACL SETUSER name rules... (err: "ERR Error in ACL SETUSER modifier ..."). */
int acl_setuser(struct acl *a, const char *name, size_t nlen, int nrules, const struct slice *rules,
                const struct acl_users **retired, char *err, size_t errlen);
/* ACL DELUSER names...: *deleted counts those that existed. */
int acl_deluser(struct acl *a, int n, const struct slice *names, int *deleted,
                const struct acl_users **retired, char *err, size_t errlen);
/* requirepass: the default user's only password, or nopass when empty. */
void acl_set_requirepass(struct acl *a, const char *pass, const struct acl_users **retired);
/* Replace every user by those of `text`, lines of "user <name> <rules...>"
 * (an aclfile, or redis.conf's user lines); the default user is reset to
 * "on nopass ~* &* +@all" unless a line names it, and requirepass (if not
 * NULL or "") applies before the lines. Users other than default get new ids
 * (their clients are disconnected). */
int acl_load_text(struct acl *a, const char *text, const char *requirepass,
                  const struct acl_users **retired, char *err, size_t errlen);

/* Free a set no reader holds; or list its allocations (mi_ pointers, the
 * list itself too) for dispatch_free_later. */
void acl_users_free(const struct acl_users *set);
char **acl_users_pointers(const struct acl_users *set, int *n);

/* ---- describing users ---- */

/* ACL LIST's line of u ("user alice on #... ~k* resetchannels -@all +get"). */
void acl_describe_user(struct buf *out, const struct acl_user *u);
/* The command rules ("-@all +@string -append"), as Redis 7.0 describes them. */
void acl_describe_commands(struct buf *out, const struct acl_user *u);
/* Key patterns ("~a %R~b"), channels ("&c"), as ACL GETUSER gives them. */
void acl_describe_keys(struct buf *out, const struct acl_user *u);
void acl_describe_channels(struct buf *out, const struct acl_user *u);
/* The whole set as an aclfile (one ACL LIST line each, newline ended). */
void acl_users_text(struct buf *out, const struct acl_users *set);

/* Categories: the index of a name (without '@'), or -1; the bits of a row. */
int acl_category_find(const char *name, size_t len);
uint32_t acl_command_categories(const struct command *cmd);

/* ---- the check ---- */

enum acl_denial { ACL_OK = 0, ACL_DENIED_CMD, ACL_DENIED_KEY, ACL_DENIED_CHANNEL };

/* May u run cmd (a subcommand row when there is one) with these
 * arguments? ACL_OK, or why not and which argument (*arg, the key or
 * channel; -1 for the command). */
enum acl_denial acl_check(const struct acl_user *u, const struct command *cmd, int argc,
                          const struct slice *argv, int *arg);

/* May u be subscribed to this channel (pattern: a PSUBSCRIBE pattern,
 * which must be one of u's patterns as written)? */
bool acl_channel_allowed(const struct acl_user *u, struct slice channel, bool pattern);

/* Redis's texts for a denial (without the leading '-'). */
void acl_denial_text(char *out, size_t cap, enum acl_denial why, const struct command *cmd,
                     const struct command *container);

/* ---- ACL LOG ---- */

/* Add (or count again, when the same reason, context, object and user were
 * logged in the last 60 s) an entry. */
void acl_log_add(struct acl *a, const char *reason, const char *context, const char *object, size_t olen,
                 const char *username, size_t ulen, const char *client_info, int64_t now_ms);
void acl_log_reset(struct acl *a);
/* A client's line for an entry's client-info: CLIENT LIST's fields that
 * the protocol side knows (id, addresses, name, ages, cmd, user, resp). */
void acl_client_info(const struct client *c, const char *user, int64_t now_ms, char *out, size_t cap);

/* n bytes of p as a NUL-terminated copy (aborts when out of memory): the
 * users' names and patterns, the log's texts. */
char *acl_dup_bytes(const char *p, size_t n);

#endif
