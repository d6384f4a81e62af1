/* acl: the users set, the rules of ACL SETUSER, how a user is described
 * (ACL LIST), and the check of a command (core/acl.h says how the parts
 * fit; ACL LOG is acl_log.c). */
#include "core/acl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mimalloc.h>

#include "core/args.h"
#include "core/glob.h"

/* ---- the command rows: categories, key permissions, channels --------- */

/* Which arguments of a command are channels (PUBLISH's, the SUBSCRIBE
 * family's): Redis 7.0 has no key specs for them, its ACL check names them. */
enum channel_args { CHAN_NONE, CHAN_FIRST, CHAN_ALL, CHAN_PATTERNS };

static size_t    nrows;       /* command_count_all() */
static size_t    nwords;      /* 64-bit words of a command bitmap */
static uint32_t *row_categories;
static uint8_t  *row_first_key, *row_other_keys, *row_channels;
static const struct command **row_of; /* index -> row */
static const struct command **row_container; /* index -> its container, or NULL */

static void set_row(const struct command *cmd, const struct command *container)
{
    if (cmd->index < 0 || (size_t)cmd->index >= nrows)
        return;
    row_of[cmd->index] = cmd;
    row_container[cmd->index] = container;
    char name[96];
    if (container)
        snprintf(name, sizeof(name), "%s|%s", container->name, cmd->name);
    else
        snprintf(name, sizeof(name), "%s", cmd->name);
    /* the data table is sorted by name: a binary search */
    size_t lo = 0, hi = acl_command_infos_len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(acl_command_infos[mid].name, name);
        if (c == 0) {
            row_categories[cmd->index] = acl_command_infos[mid].categories;
            row_first_key[cmd->index] = acl_command_infos[mid].first_key;
            row_other_keys[cmd->index] = acl_command_infos[mid].other_keys;
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!container) {
        if (!strcmp(name, "publish") || !strcmp(name, "spublish"))
            row_channels[cmd->index] = CHAN_FIRST;
        else if (!strcmp(name, "subscribe") || !strcmp(name, "ssubscribe"))
            row_channels[cmd->index] = CHAN_ALL;
        else if (!strcmp(name, "psubscribe"))
            row_channels[cmd->index] = CHAN_PATTERNS;
    }
}

void acl_setup_commands(void)
{
    if (row_of)
        return;
    nrows = command_count_all();
    nwords = (nrows + 63) / 64;
    row_categories = mi_zalloc(nrows * sizeof(uint32_t));
    row_first_key = mi_zalloc(nrows);
    row_other_keys = mi_zalloc(nrows);
    row_channels = mi_zalloc(nrows);
    row_of = mi_zalloc(nrows * sizeof(*row_of));
    row_container = mi_zalloc(nrows * sizeof(*row_container));
    if (!row_categories || !row_first_key || !row_other_keys || !row_channels || !row_of || !row_container)
        abort();
    size_t n;
    const struct command *t = command_table(&n);
    for (size_t i = 0; i < n; i++) {
        set_row(&t[i], NULL);
        for (const struct command *s = t[i].subcommands; s && s->name; s++)
            set_row(s, &t[i]);
    }
}

uint32_t acl_command_categories(const struct command *cmd)
{
    acl_setup_commands();
    return cmd->index >= 0 && (size_t)cmd->index < nrows ? row_categories[cmd->index] : 0;
}

int acl_category_find(const char *name, size_t len)
{
    for (int i = 0; i < ACL_CATEGORIES; i++)
        if (strlen(acl_category_names[i]) == len && strncasecmp(acl_category_names[i], name, len) == 0)
            return i;
    return -1;
}

/* ---- users -------------------------------------------------------------- */

char *acl_dup_bytes(const char *p, size_t n)
{
    char *s = mi_malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static struct acl_user *user_new(const char *name, size_t nlen, uint64_t id)
{
    acl_setup_commands();
    struct acl_user *u = mi_zalloc(sizeof(*u));
    u->allowed = mi_zalloc(nwords * sizeof(uint64_t));
    if (!u || !u->allowed)
        abort();
    u->name = acl_dup_bytes(name, nlen);
    u->id = id;
    return u;
}

static void user_free(struct acl_user *u)
{
    if (!u)
        return;
    mi_free(u->name);
    mi_free(u->passwords);
    mi_free(u->allowed);
    for (int i = 0; i < u->nkeys; i++)
        mi_free(u->keys[i].text);
    mi_free(u->keys);
    for (int i = 0; i < u->nchannels; i++)
        mi_free(u->channels[i].text);
    mi_free(u->channels);
    mi_free(u);
}

static struct acl_pattern *patterns_copy(const struct acl_pattern *p, int n)
{
    if (n == 0)
        return NULL;
    struct acl_pattern *c = mi_malloc((size_t)n * sizeof(*c));
    if (!c)
        abort();
    for (int i = 0; i < n; i++) {
        c[i] = p[i];
        c[i].text = acl_dup_bytes(p[i].text, p[i].len);
    }
    return c;
}

static struct acl_user *user_copy(const struct acl_user *o)
{
    struct acl_user *u = user_new(o->name, strlen(o->name), o->id);
    u->flags = o->flags;
    u->npasswords = o->npasswords;
    if (o->npasswords) {
        u->passwords = mi_malloc((size_t)o->npasswords * SHA256_DIGEST_LEN);
        memcpy(u->passwords, o->passwords, (size_t)o->npasswords * SHA256_DIGEST_LEN);
    }
    memcpy(u->allowed, o->allowed, nwords * sizeof(uint64_t));
    u->nkeys = o->nkeys;
    u->keys = patterns_copy(o->keys, o->nkeys);
    u->nchannels = o->nchannels;
    u->channels = patterns_copy(o->channels, o->nchannels);
    u->unrestricted = o->unrestricted;
    return u;
}

/* What the command path reads instead of the bitmap when nothing is
 * forbidden. */
static void user_settle(struct acl_user *u)
{
    bool all = true;
    for (size_t i = 0; i < nrows && all; i++)
        if (!(u->allowed[i / 64] >> (i % 64) & 1))
            all = false;
    u->unrestricted = all && (u->flags & ACL_USER_ALLKEYS) && (u->flags & ACL_USER_ALLCHANNELS);
}

const struct acl_user *acl_find(const struct acl_users *set, const char *name, size_t len)
{
    int lo = 0, hi = set->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const char *un = set->users[mid]->name;
        size_t ul = strlen(un);
        int c = memcmp(un, name, ul < len ? ul : len);
        if (c == 0)
            c = ul < len ? -1 : ul > len ? 1 : 0;
        if (c == 0)
            return set->users[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct acl_user *acl_default_user(const struct acl_users *set)
{
    return acl_find(set, "default", 7);
}

void acl_client_set_user(struct client *c, const struct acl_users *set, const struct acl_user *u)
{
    c->acl_user_id = u->id;
    c->acl_user = u;
    c->acl_gen = set->generation;
}

bool acl_auth_required(const struct acl_users *set)
{
    const struct acl_user *d = acl_default_user(set);
    return !d || !(d->flags & ACL_USER_NOPASS) || !(d->flags & ACL_USER_ON);
}

const struct acl_user *acl_authenticate(const struct acl_users *set, const char *name, size_t nlen,
                                        const char *pass, size_t plen)
{
    const struct acl_user *u = acl_find(set, name, nlen);
    if (!u || !(u->flags & ACL_USER_ON))
        return NULL;
    if (u->flags & ACL_USER_NOPASS)
        return u;
    uint8_t d[SHA256_DIGEST_LEN];
    sha256(pass, plen, d);
    /* compare every stored digest whole, in time that depends only on
     * how many there are */
    bool ok = false;
    for (int i = 0; i < u->npasswords; i++) {
        unsigned char diff = 0;
        for (int k = 0; k < SHA256_DIGEST_LEN; k++)
            diff |= (unsigned char)(d[k] ^ u->passwords[i][k]);
        ok |= diff == 0;
    }
    return ok ? u : NULL;
}

/* ---- the rules ---------------------------------------------------------- */

#define E_SYNTAX   "Syntax error"
#define E_UNKNOWN  "Unknown command or category name in ACL"
#define E_HASH     "The password hash must be exactly 64 characters and contain only lowercase " \
                   "hexadecimal characters"
#define E_NOPASS   "The password you are trying to remove from the user does not exist"
#define E_ALLKEYS  "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does " \
                   "not have any effect. Try 'resetkeys' to start with an empty list of patterns"
#define E_ALLCHAN  "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and " \
                   "does not have any effect. Try 'resetchannels' to start with an empty list of channels"
#define E_SELECTOR "Selectors are not supported by ringkv"

static int password_index(const struct acl_user *u, const uint8_t d[SHA256_DIGEST_LEN])
{
    for (int i = 0; i < u->npasswords; i++)
        if (memcmp(u->passwords[i], d, SHA256_DIGEST_LEN) == 0)
            return i;
    return -1;
}

static void password_add(struct acl_user *u, const uint8_t d[SHA256_DIGEST_LEN])
{
    u->flags &= ~(uint32_t)ACL_USER_NOPASS;
    if (password_index(u, d) >= 0)
        return;
    u->passwords = mi_realloc(u->passwords, (size_t)(u->npasswords + 1) * SHA256_DIGEST_LEN);
    if (!u->passwords)
        abort();
    memcpy(u->passwords[u->npasswords++], d, SHA256_DIGEST_LEN);
}

static bool password_remove(struct acl_user *u, const uint8_t d[SHA256_DIGEST_LEN])
{
    u->flags &= ~(uint32_t)ACL_USER_NOPASS;
    int i = password_index(u, d);
    if (i < 0)
        return false;
    memmove(u->passwords[i], u->passwords[i + 1], (size_t)(u->npasswords - i - 1) * SHA256_DIGEST_LEN);
    u->npasswords--;
    return true;
}

static bool parse_hash(const char *p, size_t n, uint8_t d[SHA256_DIGEST_LEN])
{
    if (n != SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            d[i / 2] = (uint8_t)(v << 4);
        else
            d[i / 2] |= (uint8_t)v;
    }
    return true;
}

static void patterns_clear(struct acl_pattern **p, int *n)
{
    for (int i = 0; i < *n; i++)
        mi_free((*p)[i].text);
    mi_free(*p);
    *p = NULL;
    *n = 0;
}

/* Add a pattern, or widen the permission of the same one. */
static void pattern_add(struct acl_pattern **p, int *n, const char *text, size_t len, uint8_t perm)
{
    for (int i = 0; i < *n; i++)
        if ((*p)[i].len == len && memcmp((*p)[i].text, text, len) == 0) {
            (*p)[i].perm |= perm;
            return;
        }
    *p = mi_realloc(*p, (size_t)(*n + 1) * sizeof(**p));
    if (!*p)
        abort();
    (*p)[*n] = (struct acl_pattern){ acl_dup_bytes(text, len), len, perm };
    (*n)++;
}

static void allow_row(struct acl_user *u, size_t i, bool allow)
{
    if (allow)
        u->allowed[i / 64] |= 1ull << (i % 64);
    else
        u->allowed[i / 64] &= ~(1ull << (i % 64));
}

/* A command and all its subcommands. */
static void allow_command(struct acl_user *u, const struct command *cmd, bool allow)
{
    if (cmd->index >= 0)
        allow_row(u, (size_t)cmd->index, allow);
    for (const struct command *s = cmd->subcommands; s && s->name; s++)
        if (s->index >= 0)
            allow_row(u, (size_t)s->index, allow);
}

static int command_rule(struct acl_user *u, const char *op, size_t len, const char **why)
{
    bool allow = op[0] == '+';
    const char *name = op + 1;
    size_t nlen = len - 1;
    if (nlen == 0) {
        *why = E_UNKNOWN;
        return -1;
    }
    if (name[0] == '@') {
        if (nlen == 4 && strncasecmp(name, "@all", 4) == 0) {
            memset(u->allowed, allow ? 0xff : 0, nwords * sizeof(uint64_t));
            if (allow)
                u->flags |= ACL_USER_ALLCOMMANDS;
            else
                u->flags &= ~(uint32_t)ACL_USER_ALLCOMMANDS;
            return 0;
        }
        int cat = acl_category_find(name + 1, nlen - 1);
        if (cat < 0) {
            *why = E_UNKNOWN;
            return -1;
        }
        for (size_t i = 0; i < nrows; i++)
            if (row_categories[i] & (1u << cat))
                allow_row(u, i, allow);
        return 0;
    }
    const char *bar = memchr(name, '|', nlen);
    struct slice first = { name, bar ? (size_t)(bar - name) : nlen };
    const struct command *cmd = command_lookup(first);
    if (!cmd) {
        *why = E_UNKNOWN;
        return -1;
    }
    if (bar) {
        struct slice sub = { bar + 1, nlen - first.len - 1 };
        const struct command *s = cmd->subcommands ? command_lookup_sub(cmd, sub) : NULL;
        if (!s) {
            *why = E_UNKNOWN;
            return -1;
        }
        allow_command(u, s, allow);
    } else {
        allow_command(u, cmd, allow);
    }
    return 0;
}

static void reset_channels(struct acl_user *u, bool pubsub_all)
{
    patterns_clear(&u->channels, &u->nchannels);
    if (pubsub_all)
        u->flags |= ACL_USER_ALLCHANNELS;
    else
        u->flags &= ~(uint32_t)ACL_USER_ALLCHANNELS;
}

/* Apply one rule; 0, or -1 with *why. */
static int user_apply(struct acl_user *u, const char *op, size_t len, bool pubsub_all, const char **why)
{
    *why = E_SYNTAX;
#define IS(word) (len == sizeof(word) - 1 && strncasecmp(op, word, len) == 0)
    if (IS("on")) {
        u->flags |= ACL_USER_ON;
    } else if (IS("off")) {
        u->flags &= ~(uint32_t)ACL_USER_ON;
    } else if (IS("skip-sanitize-payload")) {
        u->flags = (u->flags & ~(uint32_t)ACL_USER_SANITIZE) | ACL_USER_SKIP_SANITIZE;
    } else if (IS("sanitize-payload")) {
        u->flags = (u->flags & ~(uint32_t)ACL_USER_SKIP_SANITIZE) | ACL_USER_SANITIZE;
    } else if (IS("nopass")) {
        u->flags |= ACL_USER_NOPASS;
        u->npasswords = 0;
    } else if (IS("resetpass")) {
        u->flags &= ~(uint32_t)ACL_USER_NOPASS;
        u->npasswords = 0;
    } else if (IS("allkeys")) {
        patterns_clear(&u->keys, &u->nkeys);
        u->flags |= ACL_USER_ALLKEYS;
    } else if (IS("resetkeys")) {
        patterns_clear(&u->keys, &u->nkeys);
        u->flags &= ~(uint32_t)ACL_USER_ALLKEYS;
    } else if (IS("allchannels")) {
        patterns_clear(&u->channels, &u->nchannels);
        u->flags |= ACL_USER_ALLCHANNELS;
    } else if (IS("resetchannels")) {
        reset_channels(u, false);
    } else if (IS("allcommands")) {
        return command_rule(u, "+@all", 5, why);
    } else if (IS("nocommands")) {
        return command_rule(u, "-@all", 5, why);
    } else if (IS("clearselectors")) {
        /* no selectors to clear */
    } else if (IS("reset")) {
        const char *w;
        user_apply(u, "resetpass", 9, pubsub_all, &w);
        user_apply(u, "resetkeys", 9, pubsub_all, &w);
        reset_channels(u, pubsub_all);
        user_apply(u, "off", 3, pubsub_all, &w);
        user_apply(u, "sanitize-payload", 16, pubsub_all, &w);
        command_rule(u, "-@all", 5, &w);
    } else if (len >= 1 && (op[0] == '>' || op[0] == '<')) {
        uint8_t d[SHA256_DIGEST_LEN];
        sha256(op + 1, len - 1, d);
        if (op[0] == '>') {
            password_add(u, d);
        } else if (!password_remove(u, d)) {
            *why = E_NOPASS;
            return -1;
        }
    } else if (len >= 1 && (op[0] == '#' || op[0] == '!')) {
        uint8_t d[SHA256_DIGEST_LEN];
        if (!parse_hash(op + 1, len - 1, d)) {
            *why = E_HASH;
            return -1;
        }
        if (op[0] == '#') {
            password_add(u, d);
        } else if (!password_remove(u, d)) {
            *why = E_NOPASS;
            return -1;
        }
    } else if (len >= 1 && (op[0] == '~' || op[0] == '%')) {
        uint8_t perm = ACL_KEY_RW;
        size_t at = 1;
        if (op[0] == '%') {
            perm = 0;
            for (; at < len && op[at] != '~'; at++) {
                char c = (char)toupper((unsigned char)op[at]);
                if (c == 'R')
                    perm |= ACL_KEY_READ;
                else if (c == 'W')
                    perm |= ACL_KEY_WRITE;
                else
                    return -1;
            }
            if (perm == 0 || at == len)
                return -1;
            at++;
        }
        if (u->flags & ACL_USER_ALLKEYS) {
            *why = E_ALLKEYS;
            return -1;
        }
        if (len - at == 1 && op[at] == '*' && perm == ACL_KEY_RW) {
            patterns_clear(&u->keys, &u->nkeys);
            u->flags |= ACL_USER_ALLKEYS;
        } else {
            pattern_add(&u->keys, &u->nkeys, op + at, len - at, perm);
        }
    } else if (len >= 1 && op[0] == '&') {
        if (u->flags & ACL_USER_ALLCHANNELS) {
            *why = E_ALLCHAN;
            return -1;
        }
        if (len == 2 && op[1] == '*') {
            patterns_clear(&u->channels, &u->nchannels);
            u->flags |= ACL_USER_ALLCHANNELS;
        } else {
            pattern_add(&u->channels, &u->nchannels, op + 1, len - 1, 0);
        }
    } else if (len >= 1 && (op[0] == '+' || op[0] == '-')) {
        return command_rule(u, op, len, why);
    } else if (len >= 1 && op[0] == '(') {
        *why = E_SELECTOR;
        return -1;
    } else {
        return -1;
    }
#undef IS
    return 0;
}

/* ---- sets --------------------------------------------------------------- */

static int user_cmp(const void *a, const void *b)
{
    return strcmp((*(struct acl_user *const *)a)->name, (*(struct acl_user *const *)b)->name);
}

static struct acl_users *set_new(int cap)
{
    struct acl_users *s = mi_zalloc(sizeof(*s));
    s->users = mi_zalloc((size_t)(cap > 0 ? cap : 1) * sizeof(struct acl_user *));
    if (!s || !s->users)
        abort();
    return s;
}

/* Publish next (sorted here) in place of the current set, whose address
 * goes to *retired. Under write_lock. */
static void publish(struct acl *a, struct acl_users *next, const struct acl_users **retired)
{
    qsort(next->users, (size_t)next->n, sizeof(next->users[0]), user_cmp);
    for (int i = 0; i < next->n; i++)
        user_settle(next->users[i]);
    const struct acl_users *cur = atomic_load_explicit(&a->users, memory_order_relaxed);
    next->generation = cur ? cur->generation + 1 : 1;
    atomic_store_explicit(&a->users, next, memory_order_release);
    *retired = cur;
}

/* A copy of the current set, every user copied (user i of the copy is
 * user i of the current set), room for one more. */
static struct acl_users *set_copy(const struct acl_users *cur)
{
    struct acl_users *s = set_new(cur->n + 1);
    for (int i = 0; i < cur->n; i++)
        s->users[i] = user_copy(cur->users[i]);
    s->n = cur->n;
    return s;
}

void acl_users_free(const struct acl_users *set)
{
    if (!set)
        return;
    for (int i = 0; i < set->n; i++)
        user_free(set->users[i]);
    mi_free(set->users);
    mi_free((void *)set);
}

static void ptrs_push(char ***ptrs, int *n, int *cap, void *p)
{
    if (!p)
        return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        *ptrs = mi_realloc(*ptrs, (size_t)*cap * sizeof(char *));
        if (!*ptrs)
            abort();
    }
    (*ptrs)[(*n)++] = p;
}

char **acl_users_pointers(const struct acl_users *set, int *n)
{
    char **ptrs = NULL;
    int cap = 0;
    *n = 0;
    for (int i = 0; i < set->n; i++) {
        struct acl_user *u = set->users[i];
        ptrs_push(&ptrs, n, &cap, u->name);
        ptrs_push(&ptrs, n, &cap, u->passwords);
        ptrs_push(&ptrs, n, &cap, u->allowed);
        for (int k = 0; k < u->nkeys; k++)
            ptrs_push(&ptrs, n, &cap, u->keys[k].text);
        ptrs_push(&ptrs, n, &cap, u->keys);
        for (int k = 0; k < u->nchannels; k++)
            ptrs_push(&ptrs, n, &cap, u->channels[k].text);
        ptrs_push(&ptrs, n, &cap, u->channels);
        ptrs_push(&ptrs, n, &cap, u);
    }
    ptrs_push(&ptrs, n, &cap, set->users);
    ptrs_push(&ptrs, n, &cap, (void *)set);
    return ptrs;
}

static struct acl_user *default_user_new(uint64_t id)
{
    struct acl_user *d = user_new("default", 7, id);
    const char *why;
    user_apply(d, "on", 2, false, &why);
    user_apply(d, "nopass", 6, false, &why);
    user_apply(d, "~*", 2, false, &why);
    user_apply(d, "&*", 2, false, &why);
    user_apply(d, "+@all", 5, false, &why);
    return d;
}

void acl_init(struct acl *a)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->write_lock, NULL);
    pthread_mutex_init(&a->log_lock, NULL);
    atomic_store(&a->log_max, 128);
    a->next_id = 1; /* 0 is the default user's: a new client's zeroed id names it */
    struct acl_users *s = set_new(1);
    s->users[s->n++] = default_user_new(0);
    const struct acl_users *old;
    publish(a, s, &old);
}

static int find_index(const struct acl_users *s, const char *name, size_t len)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->users[i]->name) == len && memcmp(s->users[i]->name, name, len) == 0)
            return i;
    return -1;
}

static bool name_ok(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (name[i] == ' ' || name[i] == '\0')
            return false;
    return len > 0;
}

int acl_setuser(struct acl *a, const char *name, size_t nlen, int nrules, const struct slice *rules,
                const struct acl_users **retired, char *err, size_t errlen)
{
    *retired = NULL;
    if (!name_ok(name, nlen)) {
        snprintf(err, errlen, "ERR Usernames can't contain spaces or null characters");
        return -1;
    }
    pthread_mutex_lock(&a->write_lock);
    const struct acl_users *cur = atomic_load_explicit(&a->users, memory_order_relaxed);
    struct acl_users *next = set_copy(cur);
    int i = find_index(next, name, nlen);
    struct acl_user *u;
    if (i < 0) {
        u = user_new(name, nlen, a->next_id++);
        reset_channels(u, atomic_load(&a->pubsub_all));
        next->users[next->n++] = u;
    } else {
        u = next->users[i];
    }
    for (int r = 0; r < nrules; r++) {
        const char *why;
        if (user_apply(u, rules[r].ptr, rules[r].len, atomic_load(&a->pubsub_all), &why) != 0) {
            snprintf(err, errlen, "ERR Error in ACL SETUSER modifier '%.*s': %s",
                     (int)(rules[r].len > 128 ? 128 : rules[r].len), rules[r].ptr, why);
            for (char *c = err; *c; c++)
                if (*c == '\r' || *c == '\n')
                    *c = ' ';
            acl_users_free(next);
            pthread_mutex_unlock(&a->write_lock);
            return -1;
        }
    }
    publish(a, next, retired);
    pthread_mutex_unlock(&a->write_lock);
    return 0;
}

int acl_deluser(struct acl *a, int n, const struct slice *names, int *deleted,
                const struct acl_users **retired, char *err, size_t errlen)
{
    *retired = NULL;
    *deleted = 0;
    for (int k = 0; k < n; k++)
        if (names[k].len == 7 && memcmp(names[k].ptr, "default", 7) == 0) {
            snprintf(err, errlen, "ERR The 'default' user cannot be removed");
            return -1;
        }
    pthread_mutex_lock(&a->write_lock);
    const struct acl_users *cur = atomic_load_explicit(&a->users, memory_order_relaxed);
    struct acl_users *next = set_copy(cur);
    for (int k = 0; k < n; k++) {
        int i = find_index(next, names[k].ptr, names[k].len);
        if (i < 0)
            continue;
        user_free(next->users[i]);
        next->users[i] = next->users[--next->n];
        (*deleted)++;
    }
    publish(a, next, retired);
    pthread_mutex_unlock(&a->write_lock);
    return 0;
}

static void apply_requirepass(struct acl_user *d, const char *pass)
{
    const char *why;
    user_apply(d, "resetpass", 9, false, &why);
    if (pass && *pass) {
        uint8_t dg[SHA256_DIGEST_LEN];
        sha256(pass, strlen(pass), dg);
        password_add(d, dg);
    } else {
        user_apply(d, "nopass", 6, false, &why);
    }
}

void acl_set_requirepass(struct acl *a, const char *pass, const struct acl_users **retired)
{
    pthread_mutex_lock(&a->write_lock);
    const struct acl_users *cur = atomic_load_explicit(&a->users, memory_order_relaxed);
    struct acl_users *next = set_copy(cur);
    int i = find_index(next, "default", 7);
    if (i >= 0)
        apply_requirepass(next->users[i], pass);
    publish(a, next, retired);
    pthread_mutex_unlock(&a->write_lock);
}

struct rule_words {
    struct slice *w;
    int           n, cap;
};

static void push_rule_word(void *arg, struct slice s)
{
    struct rule_words *rw = arg;
    if (rw->n == rw->cap) {
        rw->cap = rw->cap ? rw->cap * 2 : 16;
        rw->w = mi_realloc(rw->w, (size_t)rw->cap * sizeof(*rw->w));
        if (!rw->w)
            abort();
    }
    rw->w[rw->n++] = s;
}

int acl_load_text(struct acl *a, const char *text, const char *requirepass,
                  const struct acl_users **retired, char *err, size_t errlen)
{
    *retired = NULL;
    pthread_mutex_lock(&a->write_lock);
    const struct acl_users *cur = atomic_load_explicit(&a->users, memory_order_relaxed);
    int cap = 8, lineno = 0;
    struct acl_users *next = set_new(cap);
    const struct acl_user *old_default = acl_default_user(cur);
    struct acl_user *d = default_user_new(old_default ? old_default->id : 0);
    if (requirepass)
        apply_requirepass(d, requirepass);
    next->users[next->n++] = d;
    bool default_named = false;
    const char *p = text;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        lineno++;
        char *line = acl_dup_bytes(p, ll);
        p = eol ? eol + 1 : p + ll;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        const char *start = line;
        while (*start == ' ' || *start == '\t')
            start++;
        if (*start == '\0' || *start == '#') {
            mi_free(line);
            continue;
        }
        char *scratch = mi_malloc(l + 1);
        struct rule_words rw = { 0 };
        int nw = args_split(start, strlen(start), scratch, NULL, push_rule_word, &rw);
        const char *problem = NULL;
        char why_buf[300];
        if (nw < 0) {
            problem = "Unbalanced quotes in configuration line";
        } else if (rw.n < 2 || !(rw.w[0].len == 4 && strncasecmp(rw.w[0].ptr, "user", 4) == 0)) {
            problem = "line should start with user keyword";
        } else if (!name_ok(rw.w[1].ptr, rw.w[1].len)) {
            problem = "Usernames can't contain spaces or null characters";
        } else {
            int i = find_index(next, rw.w[1].ptr, rw.w[1].len);
            bool is_default = rw.w[1].len == 7 && memcmp(rw.w[1].ptr, "default", 7) == 0;
            if (i >= 0 && !(is_default && !default_named)) {
                snprintf(why_buf, sizeof(why_buf), "Duplicate user '%.*s' found",
                         (int)(rw.w[1].len > 128 ? 128 : rw.w[1].len), rw.w[1].ptr);
                problem = why_buf;
            } else {
                struct acl_user *u;
                if (is_default) {
                    default_named = true;
                    u = next->users[i];
                } else {
                    u = user_new(rw.w[1].ptr, rw.w[1].len, a->next_id++);
                    if (next->n == cap) {
                        cap *= 2;
                        next->users = mi_realloc(next->users, (size_t)cap * sizeof(struct acl_user *));
                        if (!next->users)
                            abort();
                    }
                    next->users[next->n++] = u;
                }
                if (is_default) {
                    /* the line says all of it: from a user with nothing
                     * (what a new user is: no sanitize-payload shown) */
                    const char *w;
                    user_apply(u, "reset", 5, atomic_load(&a->pubsub_all), &w);
                    u->flags &= ~(uint32_t)ACL_USER_SANITIZE;
                } else {
                    reset_channels(u, atomic_load(&a->pubsub_all));
                }
                for (int r = 2; r < rw.n && !problem; r++) {
                    const char *why;
                    if (user_apply(u, rw.w[r].ptr, rw.w[r].len, atomic_load(&a->pubsub_all), &why) != 0) {
                        snprintf(why_buf, sizeof(why_buf), "Error in user declaration '%.*s': %s",
                                 (int)(rw.w[r].len > 128 ? 128 : rw.w[r].len), rw.w[r].ptr, why);
                        problem = why_buf;
                    }
                }
            }
        }
        mi_free(rw.w);
        mi_free(scratch);
        if (problem) {
            snprintf(err, errlen, "ERR /%d: %s", lineno, problem);
            mi_free(line);
            acl_users_free(next);
            pthread_mutex_unlock(&a->write_lock);
            return -1;
        }
        mi_free(line);
    }
    publish(a, next, retired);
    pthread_mutex_unlock(&a->write_lock);
    return 0;
}

/* ---- describing --------------------------------------------------------- */

static void buf_put(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

static void hex_of(const uint8_t d[SHA256_DIGEST_LEN], char hex[SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[SHA256_HEX_LEN] = '\0';
}

void acl_describe_keys(struct buf *out, const struct acl_user *u)
{
    if (u->flags & ACL_USER_ALLKEYS) {
        buf_put(out, "~*");
        return;
    }
    for (int i = 0; i < u->nkeys; i++) {
        if (i)
            buf_put(out, " ");
        uint8_t p = u->keys[i].perm;
        buf_put(out, p == ACL_KEY_RW ? "~" : p == ACL_KEY_READ ? "%R~" : "%W~");
        buf_append(out, u->keys[i].text, u->keys[i].len);
    }
}

void acl_describe_channels(struct buf *out, const struct acl_user *u)
{
    if (u->flags & ACL_USER_ALLCHANNELS) {
        buf_put(out, "&*");
        return;
    }
    for (int i = 0; i < u->nchannels; i++) {
        if (i)
            buf_put(out, " ");
        buf_put(out, "&");
        buf_append(out, u->channels[i].text, u->channels[i].len);
    }
}

static bool row_allowed(const uint64_t *bits, size_t i)
{
    return bits[i / 64] >> (i % 64) & 1;
}

/* A bitmap as rules, as Redis 7.0 describes one: from "+@all" (the user
 * was given +@all last of the two) or "-@all", categories that fit, then
 * the single commands (a container before its subcommands) still
 * different. Redis walks its command table in hash order, ringkv in table
 * order, and Redis's choice of categories is its own search: for simple
 * rules the texts are the same, in every case the commands are. */
void acl_describe_commands(struct buf *out, const struct acl_user *u)
{
    bool additive = !(u->flags & ACL_USER_ALLCOMMANDS);
    uint64_t *fake = mi_malloc(nwords * sizeof(uint64_t));
    if (!fake)
        abort();
    memset(fake, additive ? 0 : 0xff, nwords * sizeof(uint64_t));
    buf_put(out, additive ? "-@all" : "+@all");
    /* first the categories the bitmap holds whole (every command allowed,
     * or denied from +@all), largest first, each only if it still changes
     * something; then, in ACL CAT's order, those that would set right more
     * of the commands still wrong than they would set wrong */
    for (int pass = 0; pass < 2; pass++) {
        for (;;) {
            int best = -1;
            size_t best_fix = 0;
            for (int c = 0; c < ACL_CATEGORIES; c++) {
                size_t fix = 0, brk = 0;
                for (size_t i = 0; i < nrows; i++) {
                    if (!(row_categories[i] & (1u << c)))
                        continue;
                    bool want = row_allowed(u->allowed, i), now = row_allowed(fake, i);
                    if (want == additive && now != want)
                        fix++;
                    else if (want != additive && (pass == 0 || now == want))
                        brk++;
                }
                bool take = pass == 0 ? brk == 0 && fix > best_fix : fix > brk;
                if (take) {
                    best = c;
                    best_fix = fix;
                    if (pass == 1)
                        break; /* in order */
                }
            }
            if (best < 0)
                break;
            buf_put(out, additive ? " +@" : " -@");
            buf_put(out, acl_category_names[best]);
            for (size_t i = 0; i < nrows; i++)
                if (row_categories[i] & (1u << best)) {
                    if (additive)
                        fake[i / 64] |= 1ull << (i % 64);
                    else
                        fake[i / 64] &= ~(1ull << (i % 64));
                }
        }
    }
    size_t n;
    const struct command *t = command_table(&n);
    for (size_t k = 0; k < n; k++) {
        const struct command *cmd = &t[k];
        if (cmd->index < 0)
            continue;
        size_t i = (size_t)cmd->index;
        bool want = row_allowed(u->allowed, i);
        if (want != row_allowed(fake, i)) {
            buf_put(out, want ? " +" : " -");
            buf_put(out, cmd->name);
            /* the whole command, its subcommands too */
            if (want)
                fake[i / 64] |= 1ull << (i % 64);
            else
                fake[i / 64] &= ~(1ull << (i % 64));
            for (const struct command *sub = cmd->subcommands; sub && sub->name; sub++)
                if (sub->index >= 0) {
                    size_t j = (size_t)sub->index;
                    if (want)
                        fake[j / 64] |= 1ull << (j % 64);
                    else
                        fake[j / 64] &= ~(1ull << (j % 64));
                }
        }
        for (const struct command *sub = cmd->subcommands; sub && sub->name; sub++) {
            if (sub->index < 0)
                continue;
            size_t j = (size_t)sub->index;
            bool w = row_allowed(u->allowed, j);
            if (w != row_allowed(fake, j)) {
                buf_put(out, w ? " +" : " -");
                buf_put(out, cmd->name);
                buf_put(out, "|");
                buf_put(out, sub->name);
            }
        }
    }
    mi_free(fake);
}

void acl_describe_user(struct buf *out, const struct acl_user *u)
{
    buf_put(out, "user ");
    buf_put(out, u->name);
    buf_put(out, u->flags & ACL_USER_ON ? " on" : " off");
    if (u->flags & ACL_USER_NOPASS)
        buf_put(out, " nopass");
    if (u->flags & ACL_USER_SKIP_SANITIZE)
        buf_put(out, " skip-sanitize-payload");
    if (u->flags & ACL_USER_SANITIZE)
        buf_put(out, " sanitize-payload");
    for (int i = 0; i < u->npasswords; i++) {
        char hex[SHA256_HEX_LEN + 1];
        hex_of(u->passwords[i], hex);
        buf_put(out, " #");
        buf_put(out, hex);
    }
    if ((u->flags & ACL_USER_ALLKEYS) || u->nkeys) {
        buf_put(out, " ");
        acl_describe_keys(out, u);
    }
    if (u->flags & ACL_USER_ALLCHANNELS) {
        buf_put(out, " &*");
    } else {
        buf_put(out, " resetchannels");
        if (u->nchannels) {
            buf_put(out, " ");
            acl_describe_channels(out, u);
        }
    }
    buf_put(out, " ");
    acl_describe_commands(out, u);
}

void acl_users_text(struct buf *out, const struct acl_users *set)
{
    for (int i = 0; i < set->n; i++) {
        acl_describe_user(out, set->users[i]);
        buf_put(out, "\n");
    }
}

/* ---- the check ---------------------------------------------------------- */

static bool key_allowed(const struct acl_user *u, const struct slice *key, uint8_t need)
{
    for (int i = 0; i < u->nkeys; i++)
        if ((u->keys[i].perm & need) == need &&
            glob_match(u->keys[i].text, u->keys[i].len, key->ptr, key->len, false))
            return true;
    return false;
}

static bool channel_allowed(const struct acl_user *u, const struct slice *ch, bool literal)
{
    for (int i = 0; i < u->nchannels; i++) {
        const struct acl_pattern *p = &u->channels[i];
        /* a PSUBSCRIBE pattern must be one of the user's patterns as written */
        if (literal ? p->len == ch->len && memcmp(p->text, ch->ptr, ch->len) == 0
                    : glob_match(p->text, p->len, ch->ptr, ch->len, false))
            return true;
    }
    return false;
}

bool acl_channel_allowed(const struct acl_user *u, struct slice channel, bool pattern)
{
    return (u->flags & ACL_USER_ALLCHANNELS) || channel_allowed(u, &channel, pattern);
}

enum acl_denial acl_check(const struct acl_user *u, const struct command *cmd, int argc,
                          const struct slice *argv, int *arg)
{
    *arg = -1;
    if (u->unrestricted)
        return ACL_OK;
    size_t i = (size_t)cmd->index;
    /* the commands allowed before AUTH (AUTH, HELLO, QUIT, RESET) are
     * allowed to every user, as in Redis */
    if (!(cmd->flags & CMD_NOAUTH) && (cmd->index < 0 || i >= nrows || !(u->allowed[i / 64] >> (i % 64) & 1)))
        return ACL_DENIED_CMD;
    if (!(u->flags & ACL_USER_ALLKEYS) && cmd->first_key > 0) {
        int idx[256];
        int nk = command_keys(cmd, argc, argv, idx, 256);
        if (nk > 256)
            nk = 256; /* past these the row's keys are not named: Redis checks them all */
        for (int k = 0; k < nk; k++) {
            uint8_t need = k == 0 ? row_first_key[i] : row_other_keys[i];
            if (!key_allowed(u, &argv[idx[k]], need)) {
                *arg = idx[k];
                return ACL_DENIED_KEY;
            }
        }
    }
    if (!(u->flags & ACL_USER_ALLCHANNELS) && row_channels[i] != CHAN_NONE) {
        int last = row_channels[i] == CHAN_FIRST ? (argc > 1 ? 1 : 0) : argc - 1;
        for (int k = 1; k <= last; k++)
            if (!channel_allowed(u, &argv[k], row_channels[i] == CHAN_PATTERNS)) {
                *arg = k;
                return ACL_DENIED_CHANNEL;
            }
    }
    return ACL_OK;
}

void acl_denial_text(char *out, size_t cap, enum acl_denial why, const struct command *cmd,
                     const struct command *container)
{
    switch (why) {
    case ACL_DENIED_KEY:
        snprintf(out, cap, "NOPERM this user has no permissions to access one of the keys used as arguments");
        break;
    case ACL_DENIED_CHANNEL:
        snprintf(out, cap, "NOPERM this user has no permissions to access one of the channels used as arguments");
        break;
    default:
        if (container)
            snprintf(out, cap, "NOPERM this user has no permissions to run the '%s|%s' command",
                     container->name, cmd->name);
        else
            snprintf(out, cap, "NOPERM this user has no permissions to run the '%s' command", cmd->name);
        break;
    }
}
