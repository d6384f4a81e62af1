/* config: the CONFIG_OPTIONS table expanded into descriptors, and the three
 * ways values reach them: a redis.conf-style file, --flags, CONFIG SET.
 *
 * Every value goes through option_apply(), which parses the text for the
 * option's type, checks its range and stores it with a relaxed atomic store
 * (option_parse alone is the check). Strings are copied and the pointer
 * swapped whole; the copy replaced is freed at once when nothing else can
 * be reading it (start-up, a private config), or handed to the caller
 * (config_set_shared), which frees it once no shard can hold it. */
#include "core/config.h"
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

#include "ringkv_version.h"

/* Files included from files nest at most this deep (include loops end here). */
#define CONFIG_MAX_INCLUDE_DEPTH 16

/* One option, as the X-macro table declares it. */
struct option_desc {
    const char      *name;
    size_t           offset;  /* of its long long field in struct config */
    enum config_type type;
    const char      *def;     /* default, as text */
    int              flags;   /* CONF_RUNTIME */
    const char      *words;   /* CONF_ENUM: the accepted words, space separated */
    const char      *help;
};

static const struct option_desc options[] = {
#define CONFIG_DESC(name, field, type, def, flags, words, help) \
    { name, offsetof(struct config, field), type, def, flags, words, help },
    CONFIG_OPTIONS(CONFIG_DESC)
#undef CONFIG_DESC
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

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
    { "timeout",                 0, INT_MAX },
    { "tcp-keepalive",           0, INT_MAX },
    { "tcp-backlog",             0, INT_MAX },
    { "maxclients",              1, 4294967295LL },
    { "databases",               1, INT_MAX },
    { "proto-max-bulk-len",      1024 * 1024, LLONG_MAX },
    { "client-query-buffer-limit", 1024 * 1024, LLONG_MAX },
    { "slowlog-log-slower-than", -1, LLONG_MAX },
    { "slowlog-max-len",         0, LLONG_MAX },
    { "hz",                      1, 500 },
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

static long long option_load(const struct config *cfg, const struct option_desc *o)
{
    const long long *p = (const long long *)(const void *)((const char *)cfg + o->offset);
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static const struct option_desc *option_find(const char *name)
{
    if (strcasecmp(name, "slaveof") == 0) /* Redis's old name, still accepted */
        name = "replicaof";
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcasecmp(options[i].name, name) == 0)
            return &options[i];
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
        /* accepted so that redis.conf files load, but ringkv cannot do it */
        if (v && (strcmp(o->name, "daemonize") == 0 || strcmp(o->name, "appendonly") == 0)) {
            snprintf(why, whylen, "ringkv does not support '%s yes'", o->name);
            return why;
        }
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
    case CONF_STRING:
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
static const char *option_apply(struct config *cfg, const struct option_desc *o,
                                const char *value, char **retired, char *why, size_t whylen)
{
    long long v = 0;
    const char *reason = option_parse(o, value, &v, why, whylen);
    if (reason != NULL)
        return reason;
    if (o->type == CONF_STRING) {
        char *copy = mi_strdup(value);
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
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct option_desc *o = &options[i];
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

/* ---- redis.conf lines ---- */

struct words {
    char  **w;
    size_t  n, cap;
};

static void words_free(struct words *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        mi_free(ws->w[i]);
    mi_free(ws->w);
    ws->w = NULL;
    ws->n = ws->cap = 0;
}

static void words_push(struct words *ws, const char *p, size_t n)
{
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 8;
        ws->w = mi_realloc(ws->w, ws->cap * sizeof(char *));
        if (ws->w == NULL)
            abort();
    }
    char *s = mi_malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    ws->w[ws->n++] = s;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Split a line into words as Redis's sdssplitargs does: blanks separate,
 * "..." understands \n \r \t \b \a \xHH and \<c>, '...' only \', and a
 * closing quote must be followed by a blank or the end. Returns 0, or -1 on
 * unbalanced quotes (ws then holds nothing). */
static int split_words(const char *line, struct words *ws)
{
    const char *p = line;
    char  *cur = NULL;
    size_t len = 0, cap = 0;
#define PUT(ch) do { \
        if (len == cap) { cap = cap ? cap * 2 : 64; cur = mi_realloc(cur, cap); if (!cur) abort(); } \
        cur[len++] = (char)(ch); \
    } while (0)
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        bool inq = false, insq = false, done = false;
        len = 0;
        while (!done) {
            if (inq) {
                if (p[0] == '\\' && p[1] == 'x' && hex_digit((unsigned char)p[2]) >= 0 &&
                    hex_digit((unsigned char)p[3]) >= 0) {
                    PUT(hex_digit((unsigned char)p[2]) * 16 + hex_digit((unsigned char)p[3]));
                    p += 3;
                } else if (p[0] == '\\' && p[1]) {
                    p++;
                    switch (*p) {
                    case 'n': PUT('\n'); break;
                    case 'r': PUT('\r'); break;
                    case 't': PUT('\t'); break;
                    case 'b': PUT('\b'); break;
                    case 'a': PUT('\a'); break;
                    default:  PUT(*p); break;
                    }
                } else if (*p == '"') {
                    if (p[1] && !isspace((unsigned char)p[1]))
                        goto unbalanced;
                    done = true;
                } else if (*p == '\0') {
                    goto unbalanced;
                } else {
                    PUT(*p);
                }
            } else if (insq) {
                if (p[0] == '\\' && p[1] == '\'') {
                    p++;
                    PUT('\'');
                } else if (*p == '\'') {
                    if (p[1] && !isspace((unsigned char)p[1]))
                        goto unbalanced;
                    done = true;
                } else if (*p == '\0') {
                    goto unbalanced;
                } else {
                    PUT(*p);
                }
            } else {
                switch (*p) {
                case ' ': case '\n': case '\r': case '\t': case '\0':
                    done = true;
                    break;
                case '"':  inq = true; break;
                case '\'': insq = true; break;
                default:   PUT(*p); break;
                }
            }
            if (*p)
                p++;
        }
        words_push(ws, cur ? cur : "", len);
    }
#undef PUT
    mi_free(cur);
    return 0;
unbalanced:
    mi_free(cur);
    words_free(ws);
    return -1;
}

static void config_fatal(char *err, size_t errlen, int lineno, const char *line, const char *reason)
{
    snprintf(err, errlen,
             "\n*** FATAL CONFIG FILE ERROR (ringkv " RINGKV_VERSION ") ***\n"
             "Reading the configuration file, at line %d\n"
             ">>> '%s'\n"
             "%s",
             lineno, line, reason);
}

static int load_file_depth(struct config *cfg, const char *path, int depth, char *err, size_t errlen);

/* Apply one directive (words[0] is the name). Returns NULL, or why not. */
static const char *apply_words(struct config *cfg, struct words *ws, int depth,
                               char *why, size_t whylen, char *err, size_t errlen,
                               bool *nested_error)
{
    *nested_error = false;
    if (strcasecmp(ws->w[0], "include") == 0) {
        if (ws->n != 2)
            return "wrong number of arguments";
        if (depth >= CONFIG_MAX_INCLUDE_DEPTH)
            return "include nested too deep";
        if (load_file_depth(cfg, ws->w[1], depth + 1, err, errlen) != 0) {
            *nested_error = true;
            return "include failed";
        }
        return NULL;
    }
    const struct option_desc *o = option_find(ws->w[0]);
    if (o == NULL)
        return "Bad directive or wrong number of arguments";
    if (o->type == CONF_STRING) {
        /* several words (bind 127.0.0.1 ::1, save 900 1 300 10) join with one space */
        size_t total = 1;
        for (size_t i = 1; i < ws->n; i++)
            total += strlen(ws->w[i]) + 1;
        char *joined = mi_malloc(total);
        if (joined == NULL)
            abort();
        joined[0] = '\0';
        size_t at = 0;
        for (size_t i = 1; i < ws->n; i++) {
            size_t l = strlen(ws->w[i]);
            if (i > 1)
                joined[at++] = ' ';
            memcpy(joined + at, ws->w[i], l);
            at += l;
            joined[at] = '\0';
        }
        const char *r = option_apply(cfg, o, joined, NULL, why, whylen);
        mi_free(joined);
        return r;
    }
    if (ws->n != 2)
        return "wrong number of arguments";
    return option_apply(cfg, o, ws->w[1], NULL, why, whylen);
}

static int load_file_depth(struct config *cfg, const char *path, int depth, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    char  *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    char why[512];
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        /* trim blanks at both ends, as Redis does before reporting the line */
        while (n > 0 && isspace((unsigned char)line[n - 1]))
            line[--n] = '\0';
        char *start = line;
        while (*start && isspace((unsigned char)*start))
            start++;
        if (*start == '\0' || *start == '#')
            continue;
        struct words ws = { 0 };
        if (split_words(start, &ws) != 0) {
            config_fatal(err, errlen, lineno, start, "Unbalanced quotes in configuration line");
            rc = -1;
            break;
        }
        if (ws.n == 0) {
            words_free(&ws);
            continue;
        }
        bool nested = false;
        const char *reason = apply_words(cfg, &ws, depth, why, sizeof(why), err, errlen, &nested);
        words_free(&ws);
        if (reason != NULL) {
            if (!nested)
                config_fatal(err, errlen, lineno, start, reason);
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    return load_file_depth(cfg, path, 0, err, errlen);
}

/* ---- command line ---- */

int config_from_args(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int i = 1;
    if (i < argc && strncmp(argv[i], "--", 2) != 0) {
        if (config_load_file(cfg, argv[i], err, errlen) != 0)
            return -1;
        i++;
    }
    int flagno = 0;
    char why[512];
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            snprintf(err, errlen, "Invalid argument '%s': options are given as --name value", argv[i]);
            return -1;
        }
        flagno++;
        struct words ws = { 0 };
        words_push(&ws, argv[i] + 2, strlen(argv[i] + 2));
        i++;
        while (i < argc && strncmp(argv[i], "--", 2) != 0) {
            words_push(&ws, argv[i], strlen(argv[i]));
            i++;
        }
        /* `--save` alone means `save ""`, as in Redis */
        const struct option_desc *o = option_find(ws.w[0]);
        if (ws.n == 1 && o != NULL && o->type == CONF_STRING)
            words_push(&ws, "", 0);
        bool nested = false;
        const char *reason = apply_words(cfg, &ws, 0, why, sizeof(why), err, errlen, &nested);
        if (reason != NULL && !nested) {
            /* show the flag as Redis does: name "value" "value" */
            char shown[1024];
            size_t at = (size_t)snprintf(shown, sizeof(shown), "%s", ws.w[0]);
            for (size_t k = 1; k < ws.n && at < sizeof(shown); k++)
                at += (size_t)snprintf(shown + at, sizeof(shown) - at, " \"%s\"", ws.w[k]);
            config_fatal(err, errlen, flagno, shown, reason);
        }
        words_free(&ws);
        if (reason != NULL)
            return -1;
    }
    return 0;
}

/* ---- reading values ---- */

static const char *option_text(const struct config *cfg, const struct option_desc *o,
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

void config_get(const struct config *cfg, const char *pattern, config_visit_fn *fn, void *arg)
{
    char value[512];
    size_t plen = strlen(pattern);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct option_desc *o = &options[i];
        if (!glob_match(pattern, plen, o->name, strlen(o->name), true))
            continue;
        if (o->type == CONF_STRING) {
            /* whole, however long: a string replaced meanwhile is freed only
             * once every shard is between commands (config_set_shared) */
            const char *str = (const char *)(intptr_t)option_load(cfg, o);
            fn(arg, o->name, str ? str : "");
        } else {
            fn(arg, o->name, option_text(cfg, o, value, sizeof(value)));
        }
    }
}

static const char *type_word(const struct option_desc *o)
{
    switch (o->type) {
    case CONF_INT:    return "<number>";
    case CONF_MEMORY: return "<bytes>";
    case CONF_BOOL:   return "<yes|no>";
    case CONF_STRING: return "<text>";
    case CONF_ENUM:   return "<word>";
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
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct option_desc *o = &options[i];
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
}

/* ---- CONFIG REWRITE ---- */

#define REWRITE_SIGNATURE "# Generated by CONFIG REWRITE"

/* A growing text: the new file's content. */
struct text {
    char  *p;
    size_t len, cap;
};

static void text_put(struct text *t, const char *s, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n)
            cap *= 2;
        t->p = mi_realloc(t->p, cap);
        if (t->p == NULL)
            abort();
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void text_puts(struct text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

/* A byte split_words would not take as itself outside quotes (blanks,
 * quotes, the escape character, control and non-ASCII bytes). */
static bool byte_needs_quotes(unsigned char c)
{
    return c <= ' ' || c >= 127 || c == '"' || c == '\'' || c == '\\';
}

static bool word_is_plain(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (byte_needs_quotes((unsigned char)s[i]))
            return false;
    return true;
}

/* Plain words separated by single spaces: the file parser joins the words of
 * a string option with one space, so this text reads back as itself. */
static bool words_are_plain(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!word_is_plain(p, n))
            return false;
        if (!e)
            return true;
        p = e + 1;
    }
}

/* s in double quotes, escaped the way split_words undoes it. */
static void text_put_quoted(struct text *t, const char *s)
{
    text_put(t, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\\': text_puts(t, "\\\\"); break;
        case '"':  text_puts(t, "\\\""); break;
        case '\n': text_puts(t, "\\n"); break;
        case '\r': text_puts(t, "\\r"); break;
        case '\t': text_puts(t, "\\t"); break;
        case '\a': text_puts(t, "\\a"); break;
        case '\b': text_puts(t, "\\b"); break;
        default:
            if (*p < ' ' || *p >= 127) {
                char hex[8];
                snprintf(hex, sizeof(hex), "\\x%02x", *p);
                text_puts(t, hex);
            } else {
                text_put(t, (const char *)p, 1);
            }
        }
    }
    text_put(t, "\"", 1);
}

/* "name value\n" for option o with cfg's current value. */
static void text_put_option(struct text *t, const struct config *cfg, const struct option_desc *o)
{
    text_puts(t, o->name);
    text_put(t, " ", 1);
    if (o->type == CONF_STRING) {
        const char *s = (const char *)(intptr_t)option_load(cfg, o);
        if (s == NULL)
            s = "";
        /* as Redis writes them: bind and save as their words, every other
         * string quoted */
        bool multi = strcmp(o->name, "bind") == 0 || strcmp(o->name, "save") == 0;
        if (multi && words_are_plain(s))
            text_puts(t, s);
        else
            text_put_quoted(t, s);
    } else {
        char value[128];
        text_puts(t, option_text(cfg, o, value, sizeof(value)));
    }
    text_put(t, "\n", 1);
}

static bool option_is_default(const struct config *cfg, const struct config *defaults,
                              const struct option_desc *o)
{
    long long v = option_load(cfg, o), d = option_load(defaults, o);
    if (o->type != CONF_STRING)
        return v == d;
    const char *s = (const char *)(intptr_t)v, *ds = (const char *)(intptr_t)d;
    return strcmp(s ? s : "", ds ? ds : "") == 0;
}

/* The whole file into *out (NUL-terminated); a missing file is empty. */
static int read_whole_file(const char *path, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    size_t cap = 4096, len = 0;
    char *p = mi_malloc(cap);
    if (p == NULL)
        abort();
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            p = mi_realloc(p, cap);
            if (p == NULL)
                abort();
        }
        size_t n = fread(p + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        mi_free(p);
        errno = saved ? saved : EIO;
        return -1;
    }
    p[len] = '\0';
    *out = p;
    *outlen = len;
    return 0;
}

/* The new content: old lines in order, option lines rewritten. */
static void rewrite_content(const struct config *cfg, char *old, size_t oldlen,
                            const char *replicaof_line, struct text *t)
{
    struct config defaults;
    config_init(&defaults);
    bool written[NOPTIONS] = { false };
    bool replicaof_written = false, has_signature = false, last_blank = true;
    size_t pos = 0;
    while (pos < oldlen) {
        char *line = old + pos;
        char *nl = memchr(line, '\n', oldlen - pos);
        size_t n = nl ? (size_t)(nl - line) : oldlen - pos;
        pos += n + (nl ? 1 : 0);
        line[n] = '\0'; /* the '\n' (or the terminating NUL) */

        const char *start = line;
        while (*start && isspace((unsigned char)*start))
            start++;
        const struct option_desc *o = NULL;
        bool is_replicaof = false;
        if (*start != '\0' && *start != '#') {
            struct words ws = { 0 };
            if (split_words(start, &ws) == 0 && ws.n > 0) {
                if (strcasecmp(ws.w[0], "replicaof") == 0 || strcasecmp(ws.w[0], "slaveof") == 0)
                    is_replicaof = true;
                else
                    o = option_find(ws.w[0]);
            }
            words_free(&ws);
        } else {
            size_t tl = strlen(start);
            while (tl > 0 && isspace((unsigned char)start[tl - 1]))
                tl--;
            if (tl == strlen(REWRITE_SIGNATURE) && memcmp(start, REWRITE_SIGNATURE, tl) == 0)
                has_signature = true;
        }

        if (is_replicaof) {
            if (!replicaof_written && replicaof_line != NULL) {
                text_puts(t, replicaof_line);
                text_put(t, "\n", 1);
                last_blank = false;
            }
            replicaof_written = true; /* later ones, or all for a master: dropped */
        } else if (o != NULL) {
            size_t i = (size_t)(o - options);
            if (!written[i]) {
                written[i] = true;
                text_put_option(t, cfg, o);
                last_blank = false;
            }
        } else {
            /* comments, blank, include and unknown lines stay as they were */
            text_put(t, line, n);
            text_put(t, "\n", 1);
            last_blank = *start == '\0';
        }
    }

    bool appended = false;
    for (size_t i = 0; i <= NOPTIONS; i++) {
        const struct option_desc *o = i < NOPTIONS ? &options[i] : NULL;
        if (o != NULL && (written[i] || strcmp(o->name, "replicaof") == 0 ||
                          option_is_default(cfg, &defaults, o)))
            continue;
        if (o == NULL && (replicaof_written || replicaof_line == NULL))
            continue;
        if (!appended && !has_signature) {
            if (!last_blank)
                text_put(t, "\n", 1);
            text_puts(t, REWRITE_SIGNATURE "\n");
        }
        appended = true;
        if (o != NULL) {
            text_put_option(t, cfg, o);
        } else {
            text_puts(t, replicaof_line);
            text_put(t, "\n", 1);
        }
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write content to a temporary file next to path, then rename it over path. */
static int replace_file(const char *path, const char *content, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = mi_malloc(plen + sizeof(".tmp-XXXXXX"));
    if (tmp == NULL)
        abort();
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp-XXXXXX", sizeof(".tmp-XXXXXX"));
    int fd = mkstemp(tmp);
    if (fd < 0) {
        mi_free(tmp);
        return -1;
    }
    /* keep the old file's permissions (it may hold a password); a new file
     * gets 0644 as Redis gives it */
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    int rc = 0;
    if (fchmod(fd, mode) != 0 || write_all(fd, content, len) != 0 || fsync(fd) != 0)
        rc = -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        unlink(tmp);
    mi_free(tmp);
    errno = saved;
    return rc;
}

int config_rewrite(const struct config *cfg, const char *path, const char *replicaof_line,
                   char *err, size_t errlen)
{
    /* through a symbolic link: rewrite the file it names, keep the link */
    char real[PATH_MAX];
    const char *target = realpath(path, real) != NULL ? real : path;
    char *old;
    size_t oldlen;
    if (read_whole_file(target, &old, &oldlen) != 0) {
        snprintf(err, errlen, "ERR Rewriting config file: %s", strerror(errno));
        return -1;
    }
    struct text t = { 0 };
    rewrite_content(cfg, old ? old : "", old ? oldlen : 0, replicaof_line, &t);
    mi_free(old);
    int rc = replace_file(target, t.p ? t.p : "", t.len);
    if (rc != 0)
        snprintf(err, errlen, "ERR Rewriting config file: %s", strerror(errno));
    mi_free(t.p);
    return rc;
}

/* ---- glob ---- */

static inline int fold(int c, bool nocase)
{
    return nocase ? tolower(c) : c;
}

/* Does the one-character token at pattern[*pi] (?, [class], \x or a literal)
 * match c? Advances *pi past the token. Mirrors Redis's stringmatchlen,
 * including its treatment of an unterminated class (closed at the end of
 * the pattern) and of a trailing backslash (a literal '\'). */
static bool token_match(const unsigned char *p, size_t plen, size_t *pi, unsigned char c, bool nocase)
{
    size_t i = *pi;
    switch (p[i]) {
    case '?':
        *pi = i + 1;
        return true;
    case '[': {
        i++;
        bool negate = i < plen && p[i] == '^';
        if (negate)
            i++;
        bool match = false;
        for (;;) {
            if (i >= plen)
                break;                      /* unterminated: the class ends here */
            if (p[i] == '\\' && plen - i >= 2) {
                i++;
                if (p[i] == c)
                    match = true;
            } else if (p[i] == ']') {
                break;
            } else if (plen - i >= 3 && p[i + 1] == '-') {
                int start = p[i], end = p[i + 2], ch = c;
                if (start > end) {
                    int t = start;
                    start = end;
                    end = t;
                }
                if (nocase) {
                    start = tolower(start);
                    end = tolower(end);
                    ch = tolower(ch);
                }
                i += 2;
                if (ch >= start && ch <= end)
                    match = true;
            } else if (fold(p[i], nocase) == fold(c, nocase)) {
                match = true;
            }
            i++;
        }
        *pi = i < plen ? i + 1 : plen;      /* past the ']' */
        return negate ? !match : match;
    }
    case '\\':
        if (plen - i >= 2) {
            *pi = i + 2;
            return fold(p[i + 1], nocase) == fold(c, nocase);
        }
        /* a trailing backslash is a literal one */
        /* fallthrough */
    default:
        *pi = i + 1;
        return fold(p[i], nocase) == fold(c, nocase);
    }
}

/* Iterative: on a mismatch, retry from the most recent '*' one character
 * further along the string. Only the latest star needs revisiting because
 * every other token matches exactly one character, so the work is bounded by
 * plen * slen whatever the pattern (no exponential blowup on "*a*a*a*b"). */
bool glob_match(const char *pattern, size_t plen, const char *s, size_t slen, bool nocase)
{
    const unsigned char *p = (const unsigned char *)pattern;
    const unsigned char *str = (const unsigned char *)s;
    size_t pi = 0, si = 0;
    size_t star_p = 0, star_s = 0;
    bool have_star = false;
    /* Redis's matcher never enters its loop for an empty string, so only an
     * empty pattern matches it; KEYS and SCAN treat a lone "*" as "every
     * key" before matching, so "*" matches the empty string here too. */
    if (slen == 0)
        return plen == 0 || (plen == 1 && p[0] == '*');
    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            while (pi < plen && p[pi] == '*')
                pi++;
            if (pi == plen)
                return true;
            have_star = true;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            size_t next = pi;
            if (token_match(p, plen, &next, str[si], nocase)) {
                pi = next;
                si++;
                continue;
            }
        }
        if (!have_star)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}
