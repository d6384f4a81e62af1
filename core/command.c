/* command: the command table's machinery (see core/command.h): the layers
 * that handle commands register their rows (shards/commands/table.c,
 * replication/module.c) before the first lookup; command_setup copies them
 * into one table, numbers them and indexes their names.
 *
 * Lookup happens once per request, so command_setup builds a small
 * open-addressing hash of the names; command_lookup lower-cases the name
 * 8 bytes at a time, hashes those words and compares them with the slot's,
 * without allocating. */
#include "core/command.h"
#include "core/numbers.h"

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
    uint64_t word[NAME_MAX_LEN / 8]; /* the name, 8 bytes a word, zero-padded */
};

static struct name_slot name_index[NAME_SLOTS];
static size_t rows_all;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

/* Names are hashed and compared 8 bytes at a time, lower-cased in a
 * register: the lookup runs once per request, and a byte loop with a case
 * fold per byte cost ~100 instructions for "get".
 *
 * The n (1..8) bytes at p as the low bytes of a word, the rest zero,
 * without reading past p + n (two overlapping loads; the bytes they share
 * are the same, so or-ing them is harmless). */
static inline uint64_t load_upto8(const char *p, size_t n)
{
    if (n >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        return x;
    }
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        return (uint64_t)lo | ((uint64_t)hi << (8 * (n - 4)));
    }
    return (uint64_t)(unsigned char)p[0] | ((uint64_t)(unsigned char)p[n / 2] << (8 * (n / 2))) |
           ((uint64_t)(unsigned char)p[n - 1] << (8 * (n - 1)));
}

/* ASCII A..Z of each byte of x to a..z; every other byte unchanged. */
static inline uint64_t fold_ascii8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t low7 = x & ~high;                       /* no carry between bytes below */
    uint64_t ge_a = low7 + (0x80 - 'A') * ones;      /* high bit: >= 'A' */
    uint64_t gt_z = low7 + (0x7f - 'Z') * ones;      /* high bit: > 'Z' */
    uint64_t upper = ge_a & ~gt_z & ~x & high;       /* ASCII and in A..Z */
    return x | (upper >> 2);                         /* 0x80 >> 2 = the case bit */
}

/* The lower-cased name as words (word[] zeroed past it) and its hash. */
static inline uint32_t name_key(const char *p, size_t n, uint64_t word[NAME_MAX_LEN / 8])
{
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < NAME_MAX_LEN / 8; i++)
        word[i] = 0;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = fold_ascii8(load_upto8(p + i, n - i < 8 ? n - i : 8));
        word[i / 8] = w;
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    }
    return (uint32_t)(h ^ (h >> 32));
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
    int next = 0;
    for (size_t i = 0; i < table_rows; i++) {
        struct command *c = &table[i];
        c->index = next++;
        for (struct command *s = (struct command *)c->subcommands; s && s->name; s++)
            s->index = next++;

        size_t len = strlen(c->name);
        if (len == 0 || len > NAME_MAX_LEN)
            abort(); /* a row's name must be findable */
        struct name_slot e = { c, 0, (uint32_t)len, { 0 } };
        e.hash = name_key(c->name, len, e.word);
        size_t slot = e.hash & (NAME_SLOTS - 1);
        while (name_index[slot].cmd)
            slot = (slot + 1) & (NAME_SLOTS - 1);
        name_index[slot] = e;
    }
    rows_all = (size_t)next;
    __atomic_store_n(&built, true, __ATOMIC_RELEASE); /* after the index: command_lookup reads it unlocked */
}

void command_setup(void)
{
    pthread_once(&setup_once, build);
}

bool command_needs_no_connection(const struct command *cmd)
{
    static const char *const names[] = { "time", "ping", "echo", "select" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(cmd->name, names[i]) == 0)
            return true;
    return false;
}

const struct command *command_lookup(struct slice name)
{
    if (name.len == 0 || name.len > NAME_MAX_LEN)
        return NULL;
    if (!__atomic_load_n(&built, __ATOMIC_ACQUIRE)) /* main built it before the shards started */
        command_setup();
    uint64_t word[NAME_MAX_LEN / 8];
    uint32_t h = name_key(name.ptr, name.len, word);
    size_t nwords = (name.len + 7) / 8;
    for (size_t slot = h & (NAME_SLOTS - 1);; slot = (slot + 1) & (NAME_SLOTS - 1)) {
        const struct name_slot *e = &name_index[slot];
        if (!e->cmd)
            return NULL;
        if (e->hash != h || e->len != name.len)
            continue;
        size_t i = 0;
        while (i < nwords && e->word[i] == word[i])
            i++;
        if (i == nwords)
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
    if (cmd->first_key <= 0 || cmd->first_key >= argc)
        return 0;
    if (cmd->flags & CMD_STREAMS_KEYS) {
        int at = cmd->first_key;
        while (at < argc && !slice_eq_nocase(argv[at], "streams"))
            at++;
        int n = at < argc ? (argc - at - 1) / 2 : 0;
        for (int k = 0; k < n && k < max; k++)
            idx[k] = at + 1 + k;
        return n;
    }
    if (cmd->flags & CMD_DEST_NUMKEYS) {
        /* the destination, then the counted keys (a count that is not one:
         * the destination alone, for the handler to answer its error) */
        int n = 0, first = cmd->first_key;
        if (max > 0)
            idx[0] = first;
        n++;
        long long nk;
        if (first + 1 < argc && parse_ll(argv[first + 1], &nk) && nk > 0 && nk <= argc - first - 2)
            for (int i = 0; i < (int)nk; i++, n++)
                if (n < max)
                    idx[n] = first + 2 + i;
        return n;
    }
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    if (last >= argc)
        last = argc - 1;
    if (cmd->flags & CMD_NUMKEYS) {
        /* only the counted keys (EVAL's ARGV after them are no keys); a
         * count that is not one has none: the handler answers its error */
        long long nk;
        if (!parse_ll(argv[cmd->first_key - 1], &nk) || nk < 0 || nk > argc - cmd->first_key)
            return 0;
        last = cmd->first_key + (int)nk - 1;
    }
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    int n = 0;
    for (int i = cmd->first_key; i <= last; i += step) {
        if (n < max)
            idx[n] = i;
        n++;
    }
    if ((cmd->flags & CMD_STORE_KEY) && (cmd->flags & CMD_STORE_GEO)) {
        /* GEORADIUS[BYMEMBER]: as Redis's key specs find them, the word
         * after the first STORE, then after the first STOREDIST, searched
         * from the first optional argument (-arity); a word with nothing
         * after it makes Redis fall back to georadiusGetKeys, which takes
         * the last STORE or STOREDIST from argv[5] on. The key the command
         * writes, the last given, is listed too when those miss it
         * (STORE a STORE b), so that it is routed where it lives. */
        static const char *const words[2] = { "store", "storedist" };
        int found[2] = { 0, 0 }, written = 0;
        bool complete = true;
        for (int w = 0; w < 2; w++) {
            for (int i = -cmd->arity; i < argc; i++) {
                if (slice_eq_nocase(argv[i], words[w])) {
                    if (i + 1 < argc)
                        found[w] = i + 1;
                    else
                        complete = false;
                    break;
                }
            }
        }
        for (int i = 5; i < argc; i++) {
            if ((slice_eq_nocase(argv[i], "store") || slice_eq_nocase(argv[i], "storedist")) && i + 1 < argc) {
                written = i + 1;
                i++;
            }
        }
        if (!complete) {
            found[0] = written;
            found[1] = 0;
        }
        for (int w = 0; w < 2; w++) {
            if (!found[w])
                continue;
            if (n < max)
                idx[n] = found[w];
            n++;
        }
        if (written && written != found[0] && written != found[1]) {
            if (n < max)
                idx[n] = written;
            n++;
        }
    } else if (cmd->flags & CMD_STORE_KEY) {
        /* SORT's options after the key, skipped by their arguments' count
         * so that a pattern spelled "store" is not taken for the word; the
         * last STORE wins, as in Redis */
        int store = 0;
        for (int i = last + 1; i < argc; i++) {
            if (slice_eq_nocase(argv[i], "limit"))
                i += 2;
            else if (slice_eq_nocase(argv[i], "get") || slice_eq_nocase(argv[i], "by"))
                i += 1;
            else if (slice_eq_nocase(argv[i], "store") && i + 1 < argc)
                store = i + 1; /* the next word is read as an option too, as Redis's */
        }
        if (store) {
            if (n < max)
                idx[n] = store;
            n++;
        }
    }
    return n;
}
