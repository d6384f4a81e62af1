/* command: the command table's machinery (see core/command.h): the layers
 * that handle commands register their rows (shards/commands/table.c,
 * replication/module.c) before the first lookup; command_setup copies them
 * into one table, numbers them and indexes their names.
 *
 * Lookup happens once per request, so command_setup builds a small
 * open-addressing hash of the names; command_lookup hashes the lower-cased
 * name and compares case-insensitively, without allocating. */
#include "core/command.h"

#include <mimalloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MAX 256           /* top-level rows of every part together */

/* The registered rows, copied into one table by command_setup. */
static struct command table[TABLE_MAX];
static size_t table_rows;

/* Name hash: open addressing, linear probing, at most half full. */
#define NAME_SLOTS 512          /* power of two, > 2 * TABLE_MAX */
#define NAME_MAX_LEN 32         /* longer names are never commands */

struct name_slot {
    const struct command *cmd; /* NULL = empty */
    uint32_t hash;
    uint32_t len;
};

static struct name_slot name_index[NAME_SLOTS];
static size_t rows_all;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

/* FNV-1a over the ASCII-lower-cased bytes. */
static uint32_t name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        h ^= c;
        h *= 16777619u;
    }
    return h;
}

static bool built;

void command_register(const struct command *rows, size_t n)
{
    if (built || table_rows + n > TABLE_MAX)
        abort(); /* registration comes before the first lookup, and fits */
    memcpy(table + table_rows, rows, n * sizeof(*rows));
    table_rows += n;
}

static void build(void)
{
    _Static_assert(NAME_SLOTS >= 2 * TABLE_MAX, "name index too small");
    built = true;
    int next = 0;
    for (size_t i = 0; i < table_rows; i++) {
        struct command *c = &table[i];
        c->index = next++;
        for (struct command *s = (struct command *)c->subcommands; s && s->name; s++)
            s->index = next++;

        size_t len = strlen(c->name);
        uint32_t h = name_hash(c->name, len);
        size_t slot = h & (NAME_SLOTS - 1);
        while (name_index[slot].cmd)
            slot = (slot + 1) & (NAME_SLOTS - 1);
        name_index[slot] = (struct name_slot){ c, h, (uint32_t)len };
    }
    rows_all = (size_t)next;
}

void command_setup(void)
{
    pthread_once(&setup_once, build);
}

/* Is p[0..n) the lower-case name, ignoring ASCII case? (Inline: a name is a
 * few bytes, and strncasecmp's call and locale cost more than the compare.) */
static inline bool name_eq(const char *name, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        if (c != (unsigned char)name[i])
            return false;
    }
    return true;
}

const struct command *command_lookup(struct slice name)
{
    if (name.len == 0 || name.len > NAME_MAX_LEN)
        return NULL;
    command_setup();
    uint32_t h = name_hash(name.ptr, name.len);
    for (size_t slot = h & (NAME_SLOTS - 1);; slot = (slot + 1) & (NAME_SLOTS - 1)) {
        const struct name_slot *e = &name_index[slot];
        if (!e->cmd)
            return NULL;
        if (e->hash == h && e->len == name.len && name_eq(e->cmd->name, name.ptr, name.len))
            return e->cmd;
    }
}

const struct command *command_lookup_sub(const struct command *cmd, struct slice sub)
{
    if (!cmd || !cmd->subcommands)
        return NULL;
    for (const struct command *s = cmd->subcommands; s->name; s++)
        if (slice_eq_nocase(sub, s->name))
            return s;
    return NULL;
}

const struct command *command_table(size_t *n)
{
    command_setup();
    *n = table_rows;
    return table;
}

size_t command_count_all(void)
{
    command_setup();
    return rows_all;
}

int command_keys(const struct command *cmd, int argc, const struct slice *argv, int *idx, int max)
{
    (void)argv;
    if (cmd->first_key <= 0 || cmd->first_key >= argc)
        return 0;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    if (last >= argc)
        last = argc - 1;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    int n = 0;
    for (int i = cmd->first_key; i <= last; i += step) {
        if (n < max)
            idx[n] = i;
        n++;
    }
    return n;
}
