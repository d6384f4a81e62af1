/* config: the CONFIG_OPTIONS table expanded into descriptors, CONFIG SET,
 * and reading values back (CONFIG GET, --help). The other two ways values
 * arrive, a redis.conf-style file and --flags, are config_load.c; CONFIG
 * REWRITE is config_rewrite.c; what the three share is config_table.h.
 *
 * Every value goes through option_apply(), which parses the text for the
 * option's type, checks its range and stores it with a relaxed atomic store
 * (option_parse alone is the check). Strings are copied and the pointer
 * swapped whole; the copy replaced is freed at once when nothing else can
 * be reading it (start-up, a private config), or handed to the caller
 * (config_set_shared), which frees it once no shard can hold it. */
#include "core/config.h"
#include "core/config_table.h"
#include "core/glob.h"
#include "core/output_limits.h"
#include "core/keyspace_events.h"
#include "core/numbers.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mimalloc.h>

const struct option_desc config_options[] = {
#define CONFIG_DESC(name, field, type, def, flags, words, help) \
    { name, offsetof(struct config, field), type, def, flags, words, help },
    CONFIG_OPTIONS(CONFIG_DESC)
#undef CONFIG_DESC
#define CONFIG_DESC_IGNORED(name, field, def) \
    { name, offsetof(struct config, ignored_##field), CONF_STRING, def, CONF_RUNTIME | CONF_IGNORED, NULL, \
      "Redis's; no meaning in ringkv: accepted, shown by CONFIG GET, ignored" },
    CONFIG_IGNORED(CONFIG_DESC_IGNORED)
#undef CONFIG_DESC_IGNORED
};
_Static_assert(sizeof(config_options) / sizeof(config_options[0]) == CONFIG_NOPTIONS, "option count");

/* Accepted ranges of the integer options; any option not listed takes any
 * value of its type that parses (memory: >= 0). */
struct option_range {
    const char *name;
    long long   min, max;
};

static const struct option_range ranges[] = {
    { "port",                    0, 65535 },
    { "threads",                 0, 1024 },
    { "recv-buffers",            1, 32768 },
    { "maxmemory-samples",       1, INT_MAX },
    { "maxmemory-eviction-tenacity", 0, 100 },
    { "timeout",                 0, INT_MAX },
    { "tcp-keepalive",           0, INT_MAX },
    { "tcp-backlog",             0, INT_MAX },
    { "maxclients",              1, 4294967295LL },
    { "databases",               1, 65536 },
    { "proto-max-bulk-len",      1024 * 1024, LLONG_MAX },
    { "client-query-buffer-limit", 1024 * 1024, LLONG_MAX },
    { "slowlog-log-slower-than", -1, LLONG_MAX },
    { "slowlog-max-len",         0, LLONG_MAX },
    { "hz",                      1, 500 },
    { "latency-monitor-threshold", 0, LLONG_MAX },
    { "hash-max-listpack-entries", 0, LLONG_MAX },
    { "hash-max-listpack-value", 0, LLONG_MAX },
    { "set-max-intset-entries",  0, LLONG_MAX },
    { "set-max-listpack-entries", 0, LLONG_MAX },
    { "set-max-listpack-value",  0, LLONG_MAX },
    { "zset-max-listpack-entries", 0, LLONG_MAX },
    { "zset-max-listpack-value", 0, LLONG_MAX },
    { "list-max-listpack-size",  INT_MIN, INT_MAX },
    { "list-compress-depth",     0, INT_MAX },
    { "stream-node-max-entries", 0, LLONG_MAX },
};

static void option_range_of(const struct option_desc *o, long long *min, long long *max)
{
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (strcmp(ranges[i].name, o->name) == 0) {
            *min = ranges[i].min;
            *max = ranges[i].max;
            return;
        }
    }
    *min = o->type == CONF_INT ? LLONG_MIN : 0;
    *max = LLONG_MAX;
}

static long long *option_field(struct config *cfg, const struct option_desc *o)
{
    return (long long *)(void *)((char *)cfg + o->offset);
}

long long option_load(const struct config *cfg, const struct option_desc *o)
{
    const long long *p = (const long long *)(const void *)((const char *)cfg + o->offset);
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Names Redis renamed and still accepts: the old one finds the new. */
static const struct {
    const char *old, *now;
} aliases[] = {
    { "slaveof",                        "replicaof" },
    { "slave-read-only",                "replica-read-only" },
    { "slave-priority",                 "replica-priority" },
    { "slave-serve-stale-data",         "replica-serve-stale-data" },
    { "slave-announce-ip",              "replica-announce-ip" },
    { "slave-announce-port",            "replica-announce-port" },
    { "slave-lazy-flush",               "replica-lazy-flush" },
    { "slave-ignore-maxmemory",         "replica-ignore-maxmemory" },
    { "repl-ping-slave-period",         "repl-ping-replica-period" },
    { "min-slaves-to-write",            "min-replicas-to-write" },
    { "min-slaves-max-lag",             "min-replicas-max-lag" },
    { "cluster-slave-validity-factor",  "cluster-replica-validity-factor" },
    { "cluster-slave-no-failover",      "cluster-replica-no-failover" },
    { "hash-max-ziplist-entries",       "hash-max-listpack-entries" },
    { "hash-max-ziplist-value",         "hash-max-listpack-value" },
    { "zset-max-ziplist-entries",       "zset-max-listpack-entries" },
    { "zset-max-ziplist-value",         "zset-max-listpack-value" },
    { "list-max-ziplist-size",          "list-max-listpack-size" },
    { "lua-time-limit",                 "busy-reply-threshold" },
};

const struct option_desc *option_find(const char *name)
{
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcasecmp(name, aliases[i].old) == 0) {
            name = aliases[i].now;
            break;
        }
    }
    for (size_t i = 0; i < CONFIG_NOPTIONS; i++)
        if (strcasecmp(config_options[i].name, name) == 0)
            return &config_options[i];
    return NULL;
}

/* ---- value parsing ---- */

/* Strict decimal integer as Redis's string2ll (core/numbers.h). */
static bool parse_strict_ll(const char *s, long long *out)
{
    return parse_ll((struct slice){ s, strlen(s) }, out);
}

long long config_parse_memory(const char *s)
{
    if (s == NULL)
        return -1;
    const char *u = s;
    while (*u >= '0' && *u <= '9')
        u++;
    size_t ndigits = (size_t)(u - s);
    if (ndigits == 0 || ndigits > 19)
        return -1;
    long long mul;
    if (*u == '\0' || strcasecmp(u, "b") == 0) mul = 1;
    else if (strcasecmp(u, "k") == 0) mul = 1000LL;
    else if (strcasecmp(u, "kb") == 0) mul = 1024LL;
    else if (strcasecmp(u, "m") == 0) mul = 1000LL * 1000;
    else if (strcasecmp(u, "mb") == 0) mul = 1024LL * 1024;
    else if (strcasecmp(u, "g") == 0) mul = 1000LL * 1000 * 1000;
    else if (strcasecmp(u, "gb") == 0) mul = 1024LL * 1024 * 1024;
    else return -1;
    unsigned long long v = 0;
    for (const char *p = s; p < u; p++)
        v = v * 10 + (unsigned)(*p - '0'); /* at most 19 digits: fits */
    if (v > (unsigned long long)LLONG_MAX / (unsigned long long)mul)
        return -1;
    return (long long)v * mul;
}

/* Index of word in an enum's space-separated word list, or -1. */
static int enum_index(const char *words, const char *word)
{
    size_t wl = strlen(word);
    int idx = 0;
    const char *p = words;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == wl && strncasecmp(p, word, n) == 0)
            return idx;
        idx++;
        if (!e)
            break;
        p = e + 1;
    }
    return -1;
}

/* The idx-th word of an enum into out. */
static const char *enum_word(const char *words, long long idx, char *out, size_t outlen)
{
    const char *p = words;
    for (long long i = 0; *p; i++) {
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (i == idx) {
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, p, n);
            out[n] = '\0';
            return out;
        }
        if (!e)
            break;
        p = e + 1;
    }
    snprintf(out, outlen, "%lld", idx);
    return out;
}

/* Parse value for option o into *out (strings: nothing to parse). Returns
 * NULL, or the reason it was refused (Redis's wording, without any prefix)
 * written into why. */
static const char *option_parse(const struct option_desc *o, const char *value, long long *out,
                                char *why, size_t whylen)
{
    long long v = 0, min, max;
    option_range_of(o, &min, &max);
    switch (o->type) {
    case CONF_INT:
        if (!parse_strict_ll(value, &v))
            return "argument couldn't be parsed into an integer";
        break;
    case CONF_MEMORY:
        v = config_parse_memory(value);
        if (v < 0)
            return "argument must be a memory value";
        break;
    case CONF_BOOL:
        if (strcasecmp(value, "yes") == 0) v = 1;
        else if (strcasecmp(value, "no") == 0) v = 0;
        else return "argument must be 'yes' or 'no'";
        break;
    case CONF_ENUM: {
        int idx = enum_index(o->words, value);
        if (idx < 0) {
            size_t n = (size_t)snprintf(why, whylen, "argument(s) must be one of the following: ");
            for (const char *p = o->words; *p && n + 3 < whylen; p++) {
                if (*p == ' ') {
                    why[n++] = ',';
                    why[n++] = ' ';
                } else {
                    why[n++] = *p;
                }
            }
            why[n < whylen ? n : whylen - 1] = '\0';
            return why;
        }
        v = idx;
        break;
    }
    case CONF_EVENTS:
        v = keyspace_events_parse(value);
        if (v < 0)
            return KEYSPACE_EVENTS_INVALID;
        break;
    case CONF_STRING:
        if (strcmp(o->name, "appendfilename") == 0 && (strchr(value, '/') || !*value))
            return "appendfilename can't be a path, just a filename"; /* Redis's check */
        if (strcmp(o->name, "appenddirname") == 0 && (strchr(value, '/') || !*value))
            return "appenddirname can't be a path, just a dirname"; /* Redis's check */
        if (strcmp(o->name, "dbfilename") == 0 && strchr(value, '/'))
            return "dbfilename can't be a path, just a filename"; /* Redis's check: the file is in dir */
        if (strcmp(o->name, "save") == 0) {
            /* pairs of non-negative numbers, as Redis checks them */
            const char *p = value;
            int words = 0;
            while (*p) {
                while (*p == ' ')
                    p++;
                if (!*p)
                    break;
                char *end;
                long long x = strtoll(p, &end, 10);
                if (end == p || (*end && *end != ' ') || x < 0)
                    return "Invalid save parameters";
                p = end;
                words++;
            }
            if (words % 2)
                return "Invalid save parameters";
        }
        if (strcmp(o->name, "client-output-buffer-limit") == 0) {
            struct output_limit lim[OUTPUT_CLASSES];
            output_limits_parse(OUTPUT_LIMITS_DEFAULT, lim);
            return output_limits_parse(value, lim);
        }
        if (strcmp(o->name, "latency-tracking-info-percentiles") == 0) {
            /* Redis's checks and words: numbers, each in [0, 100] */
            const char *p = value;
            while (*p) {
                while (*p == ' ')
                    p++;
                if (!*p)
                    break;
                char *end;
                double d = strtod(p, &end);
                if (end == p || (*end != ' ' && *end != '\0'))
                    return "Invalid latency-tracking-info-percentiles parameters";
                if (d < 0.0 || d > 100.0)
                    return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
                p = end;
            }
        }
        return NULL;
    }
    if (o->type == CONF_INT || o->type == CONF_MEMORY) {
        if (v < min || v > max) {
            snprintf(why, whylen, "argument must be between %lld and %lld inclusive", min, max);
            return why;
        }
    }
    *out = v;
    return NULL;
}

/* Parse value for option o and store it; see option_parse for the result.
 * A string replaced goes to *retired (NULL if it was the default, which is
 * the table's literal), or is freed at once when retired is NULL. */
const char *option_apply(struct config *cfg, const struct option_desc *o,
                                const char *value, char **retired, char *why, size_t whylen)
{
    long long v = 0;
    const char *reason = option_parse(o, value, &v, why, whylen);
    if (reason != NULL)
        return reason;
    if (o->type == CONF_STRING) {
        char limits[256];
        if (strcmp(o->name, "client-output-buffer-limit") == 0) {
            /* the classes named take new values, the others keep theirs */
            struct output_limit lim[OUTPUT_CLASSES];
            const char *now = (const char *)(intptr_t)option_load(cfg, o);
            output_limits_parse(OUTPUT_LIMITS_DEFAULT, lim);
            output_limits_parse(now ? now : "", lim);
            output_limits_parse(value, lim);
            output_limits_text(lim, limits, sizeof(limits));
            value = limits;
        }
        char *joined = NULL;
        const char *now = (const char *)(intptr_t)option_load(cfg, o);
        if (strcmp(o->name, "user") == 0 && now && *now) {
            /* every user line adds a user (core/acl.h reads them one a line) */
            size_t a = strlen(now), b = strlen(value);
            joined = mi_malloc(a + b + 2);
            if (joined == NULL)
                abort();
            memcpy(joined, now, a);
            joined[a] = '\n';
            memcpy(joined + a + 1, value, b + 1);
            value = joined;
        }
        char *copy = mi_strdup(value);
        mi_free(joined);
        if (copy == NULL)
            abort();
        char *old = (char *)(intptr_t)__atomic_exchange_n(option_field(cfg, o), (long long)(intptr_t)copy,
                                                           __ATOMIC_RELAXED);
        if (old == o->def)
            old = NULL;
        if (retired != NULL)
            *retired = old;
        else
            mi_free(old);
        return NULL;
    }
    __atomic_store_n(option_field(cfg, o), v, __ATOMIC_RELAXED);
    return NULL;
}

void config_init(struct config *cfg)
{
    char why[256];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
        const struct option_desc *o = &config_options[i];
        if (o->type == CONF_STRING) {
            /* defaults point at the table's literals: never freed, never written */
            __atomic_store_n(option_field(cfg, o), (long long)(intptr_t)o->def, __ATOMIC_RELAXED);
        } else if (option_apply(cfg, o, o->def, NULL, why, sizeof(why)) != NULL) {
            abort(); /* a default that does not parse is a bug in config.h */
        }
    }
}

/* config_set and friends: cfg NULL checks only; retired as option_apply. */
static int set_option(struct config *cfg, const char *name, const char *value, bool runtime,
                      char **retired, char *err, size_t errlen)
{
    const struct option_desc *o = option_find(name);
    if (o == NULL || value == NULL) {
        snprintf(err, errlen, "ERR Unknown option or number of arguments for CONFIG SET - '%s'", name);
        return -1;
    }
    if (runtime && !(o->flags & CONF_RUNTIME)) {
        snprintf(err, errlen, "ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config", o->name);
        return -1;
    }
    char why[512];
    long long v;
    const char *reason = cfg ? option_apply(cfg, o, value, retired, why, sizeof(why))
                             : option_parse(o, value, &v, why, sizeof(why));
    if (reason != NULL) {
        snprintf(err, errlen, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", o->name, reason);
        return -1;
    }
    return 0;
}

int config_set(struct config *cfg, const char *name, const char *value, bool runtime,
               char *err, size_t errlen)
{
    return set_option(cfg, name, value, runtime, NULL, err, errlen);
}

int config_check(const char *name, const char *value, char *err, size_t errlen)
{
    return set_option(NULL, name, value, true, NULL, err, errlen);
}

int config_set_shared(struct config *cfg, const char *name, const char *value, char **retired,
                      char *err, size_t errlen)
{
    *retired = NULL;
    return set_option(cfg, name, value, true, retired, err, errlen);
}

/* ---- reading values ---- */

const char *option_text(const struct config *cfg, const struct option_desc *o,
                               char *out, size_t outlen)
{
    long long v = option_load(cfg, o);
    switch (o->type) {
    case CONF_INT:
    case CONF_MEMORY:
        snprintf(out, outlen, "%lld", v);
        return out;
    case CONF_BOOL:
        snprintf(out, outlen, "%s", v ? "yes" : "no");
        return out;
    case CONF_ENUM:
        return enum_word(o->words, v, out, outlen);
    case CONF_EVENTS: {
        char letters[32];
        keyspace_events_text((int)v, letters);
        snprintf(out, outlen, "%s", letters);
        return out;
    }
    case CONF_STRING: {
        const char *s = (const char *)(intptr_t)v;
        snprintf(out, outlen, "%s", s ? s : "");
        return out;
    }
    }
    return out;
}

const char *config_value_text(const struct config *cfg, const char *name, char *out, size_t outlen)
{
    const struct option_desc *o = option_find(name);
    if (o == NULL || outlen == 0)
        return NULL;
    return option_text(cfg, o, out, outlen);
}

/* One option's value to fn, under the name asked for (its own or an old one). */
static void visit_option(const struct config *cfg, const struct option_desc *o, const char *name,
                         config_visit_fn *fn, void *arg)
{
    char value[512];
    if (o->type == CONF_STRING) {
        /* whole, however long: a string replaced meanwhile is freed only
         * once every shard is between commands (config_set_shared) */
        const char *str = (const char *)(intptr_t)option_load(cfg, o);
        fn(arg, name, str ? str : "");
    } else {
        fn(arg, name, option_text(cfg, o, value, sizeof(value)));
    }
}

void config_get(const struct config *cfg, const char *pattern, config_visit_fn *fn, void *arg)
{
    size_t plen = strlen(pattern);
    for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
        const struct option_desc *o = &config_options[i];
        if (glob_match(pattern, plen, o->name, strlen(o->name), true))
            visit_option(cfg, o, o->name, fn, arg);
    }
    /* the old names too, with the value of the option they name (as Redis
     * 7 lists them) */
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        const struct option_desc *o = option_find(aliases[i].now);
        if (o && glob_match(pattern, plen, aliases[i].old, strlen(aliases[i].old), true))
            visit_option(cfg, o, aliases[i].old, fn, arg);
    }
}

size_t config_ignored_names(const struct config *cfg, char *out, size_t outlen)
{
    size_t count = 0, at = 0;
    if (outlen > 0)
        out[0] = '\0';
    for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
        const struct option_desc *o = &config_options[i];
        /* a string still pointing at the table's literal was never given */
        if (!(o->flags & CONF_IGNORED) || (const char *)(intptr_t)option_load(cfg, o) == o->def)
            continue;
        count++;
        if (at < outlen) {
            int n = snprintf(out + at, outlen - at, "%s%s", at ? ", " : "", o->name);
            at += n > 0 ? (size_t)n : 0;
        }
    }
    return count;
}

static const char *type_word(const struct option_desc *o)
{
    switch (o->type) {
    case CONF_INT:    return "<number>";
    case CONF_MEMORY: return "<bytes>";
    case CONF_BOOL:   return "<yes|no>";
    case CONF_STRING: return "<text>";
    case CONF_ENUM:   return "<word>";
    case CONF_EVENTS: return "<classes>";
    }
    return "";
}

void config_print_help(FILE *f)
{
    fprintf(f,
            "Usage: ringkv [/path/to/ringkv.conf] [--name value ...]\n"
            "       ringkv --help\n"
            "       ringkv --version\n"
            "\n"
            "Every option can be given in the file as \"name value\" (redis.conf syntax)\n"
            "or on the command line as \"--name value\"; flags override the file.\n"
            "Memory sizes accept 1k (1000), 1kb (1024), m, mb, g, gb.\n"
            "\n"
            "Options:\n");
    for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
        const struct option_desc *o = &config_options[i];
        if (o->flags & CONF_IGNORED)
            continue; /* listed as a whole below */
        char head[128];
        snprintf(head, sizeof(head), "--%s %s", o->name, type_word(o));
        fprintf(f, "  %-42s default: %s%s%s\n", head,
                o->def[0] ? "" : "\"", o->def, o->def[0] ? "" : "\"");
        fprintf(f, "      %s", o->help);
        if (o->type == CONF_ENUM)
            fprintf(f, " (one of: %s)", o->words);
        if (o->flags & CONF_RUNTIME)
            fprintf(f, " [CONFIG SET]");
        fprintf(f, "\n");
    }
    fprintf(f,
            "\n"
            "Every other directive of Redis 7's redis.conf is accepted and ignored (it has\n"
            "no meaning in ringkv; CONFIG GET shows the value given, the start-up log lists\n"
            "the ones given, the README says why):\n");
    size_t col = 0;
    for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
        const struct option_desc *o = &config_options[i];
        if (!(o->flags & CONF_IGNORED))
            continue;
        size_t len = strlen(o->name);
        if (col > 0 && col + len + 1 > 78) {
            fprintf(f, "\n");
            col = 0;
        }
        col += (size_t)fprintf(f, "%s%s", col ? " " : "  ", o->name);
    }
    fprintf(f, "\n");
}
