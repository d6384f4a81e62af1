/* aof_manifest: Redis 7's multi-part AOF manifest (`<appendfilename>.manifest`
 * in appenddirname): one line a file, `file <name> seq <n> type <b|h|i>`,
 * the base (b) first, then the history files (h: left by a rewrite, to be
 * deleted) and the incr files (i) in the order they are appended. A name
 * with spaces or special bytes is written quoted, as Redis's sdscatrepr.
 * Text in, text out: the files themselves are shards/aof.c's. */
#ifndef RINGKV_AOF_MANIFEST_H
#define RINGKV_AOF_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

#define AOF_MANIFEST_FILES_MAX 256
#define AOF_NAME_MAX 256

struct aof_file {
    char     name[AOF_NAME_MAX];
    uint64_t seq;
    char     type; /* 'b' base, 'h' history, 'i' incr */
};

struct aof_manifest {
    struct aof_file base;   /* base.name[0] == '\0': none */
    struct aof_file incr[AOF_MANIFEST_FILES_MAX];
    int             nincr;  /* in seq order */
};

/* Parse text[0..len): 0, or -1 with Redis-like reasons in err ("Invalid AOF
 * manifest file format", a name that is a path, more than one base...).
 * History lines are skipped. */
int aof_manifest_parse(const char *text, size_t len, struct aof_manifest *m, char *err, size_t errlen);

/* The manifest's text for m, appended to out. */
void aof_manifest_format(const struct aof_manifest *m, struct buf *out);

#endif
