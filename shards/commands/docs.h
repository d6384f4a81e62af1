/* docs: COMMAND DOCS's and COMMAND INFO's data beyond the rows (docs.c):
 * complexity, arguments, key specs and tips by command name. Private to
 * shards/commands (introspection.c). */
#ifndef RINGKV_COMMANDS_DOCS_H
#define RINGKV_COMMANDS_DOCS_H

#include <stdbool.h>
#include <stddef.h>
#include "core/reply.h"

struct command_doc {
    const char *name;       /* "set", "client|list" */
    const char *complexity;
    const char *syntax;     /* the arguments, in docs.c's grammar ("" none) */
    const char *key_specs;  /* "flags... index lastkey keystep[; ...]", NULL: from the row */
};

/* The entry of "name" or "container|sub", NULL if none. */
const struct command_doc *command_doc_find(const char *fullname);

/* Whether d has arguments, and the arguments array COMMAND DOCS gives. */
bool doc_has_arguments(const struct command_doc *d);
void reply_doc_arguments(struct reply *r, const struct command_doc *d);

/* d's key specs (up to max), 0 when d has none written out. */
enum doc_begin_search { DOC_BEGIN_INDEX, DOC_BEGIN_KEYWORD, DOC_BEGIN_UNKNOWN };
struct doc_key_spec {
    const char *notes;      /* Redis's note on the spec (not NUL-terminated), NULL: none */
    size_t      notes_len;
    char flags[6][16];
    int  nflags;
    /* begin_search: at index, after the word keyword (searched from
     * startfrom on, backwards from the end when negative), or unknown
     * (find_keys is unknown too) */
    enum doc_begin_search begin;
    int  index;
    char keyword[16];
    int  startfrom;
    /* find_keys "range": lastkey relative to the start, negative from the
     * end; limit > 0: 1/limit of the arguments left (XREAD's half) */
    int  lastkey, keystep, limit;
    /* find_keys "keynum" instead: the key count is at index + keynumidx,
     * the first key at index + firstkey (lastkey unused) */
    bool keynum;
    int  keynumidx, firstkey;
};
size_t doc_key_specs(const struct command_doc *d, struct doc_key_spec *out, size_t max);
/* Does the spec carry the flag (e.g. "not_key")? */
bool doc_key_spec_has(const struct doc_key_spec *ks, const char *flag);

/* COMMAND INFO's tips of a command ("nondeterministic_output
 * request_policy:all_shards ...", space separated; Redis's), NULL: none. */
const char *command_tips(const char *fullname);

#endif
