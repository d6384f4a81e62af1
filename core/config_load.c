/* config_load: options from a redis.conf-style file (one "name value..."
 * per line, # comments, quoted values, include) and from the command line
 * (`ringkv [config-file] [--name value ...]`). Start-up only: values are
 * stored through option_apply, replaced strings freed at once. */
#include "core/config.h"
#include "core/args.h"
#include "core/config_table.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mimalloc.h>

#include "ringkv_version.h"

/* Files included from files nest at most this deep (include loops end here). */
#define CONFIG_MAX_INCLUDE_DEPTH 16

/* ---- redis.conf lines ---- */


void words_free(struct words *ws)
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

static void push_word(void *arg, struct slice w)
{
    words_push(arg, w.ptr, w.len);
}

/* Split a line into words as Redis's sdssplitargs does (core/args.h).
 * Returns 0, or -1 on unbalanced quotes (ws then holds nothing). */
int split_words(const char *line, struct words *ws)
{
    size_t len = strlen(line);
    char *scratch = mi_malloc(len + 1);
    if (scratch == NULL)
        abort();
    int n = args_split(line, len, scratch, NULL, push_word, ws);
    mi_free(scratch);
    if (n < 0) {
        words_free(ws);
        return -1;
    }
    return 0;
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
/* A file's `save` lines add up, as Redis's: the first replaces the
 * default, each later one adds its points (save 900 1 / save 300 10 /
 * save 60 10000, the classic redis.conf), and `save ""` clears them.
 * Set while a file (and its includes) is being read. */
static bool save_line_seen;

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
        if (strcmp(o->name, "save") == 0) {
            const char *had = config_str(cfg, save);
            if (save_line_seen && joined[0] && had && had[0]) {
                size_t l = strlen(had) + 1 + strlen(joined) + 1;
                char *both = mi_malloc(l);
                if (both == NULL)
                    abort();
                snprintf(both, l, "%s %s", had, joined);
                mi_free(joined);
                joined = both;
            }
            save_line_seen = true;
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
    save_line_seen = false;
    int rc = load_file_depth(cfg, path, 0, err, errlen);
    save_line_seen = false; /* a --save flag after the file replaces, as Redis's */
    return rc;
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
        /* `--save` alone means `save ""`, as in Redis (and a class list alone, none) */
        const struct option_desc *o = option_find(ws.w[0]);
        if (ws.n == 1 && o != NULL && (o->type == CONF_STRING || o->type == CONF_EVENTS))
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
