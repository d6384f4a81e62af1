/* reply: the response side of the Redis protocol. Appends RESP2 or RESP3
 * encodings to a buf; the protocol version travels with the reply target so
 * a command writes one reply and the encoding follows the client's HELLO. */
#ifndef RINGKV_REPLY_H
#define RINGKV_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include "core/buf.h"

struct reply {
    struct buf *out;  /* bytes are appended here */
    int         proto; /* 2 or 3 */
};

void reply_ok(struct reply *r);                        /* +OK */
void reply_simple(struct reply *r, const char *s);     /* +s */
/* -text; text starts with the error code, as Redis writes it:
 * reply_error(r, "ERR syntax error"), reply_error(r, "WRONGTYPE Operation ..."). */
void reply_error(struct reply *r, const char *text);
void reply_errorf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(struct reply *r, long long v);          /* :v */
void reply_bulk(struct reply *r, const void *p, size_t n); /* $n */
void reply_bulk_str(struct reply *r, const char *s);
void reply_bulk_ll(struct reply *r, long long v);      /* integer as a bulk string */
void reply_null(struct reply *r);                      /* $-1 / _ */
void reply_null_array(struct reply *r);                /* *-1 / _ */
void reply_array(struct reply *r, size_t n);           /* *n */
void reply_map(struct reply *r, size_t pairs);         /* %n / *2n */
void reply_set(struct reply *r, size_t n);             /* ~n / *n */
void reply_double(struct reply *r, double d);          /* ,d / bulk */
/* A double already formatted (GEOPOS's coordinates, as Redis prints them
 * with 17 decimals): ,text on RESP3, a bulk of the text on RESP2. */
void reply_double_text(struct reply *r, const char *text, size_t n);
void reply_bool(struct reply *r, bool b);              /* #t / :1 */
void reply_verbatim(struct reply *r, const char *p, size_t n); /* =n txt: / bulk */

/* The fixed error texts of Redis 7 that many commands share. */
#define ERR_SYNTAX      "ERR syntax error"
#define ERR_WRONGTYPE   "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NOT_INT     "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT   "ERR value is not a valid float"
#define ERR_OOM         "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_NOAUTH      "NOAUTH Authentication required."
#define ERR_NO_KEY      "ERR no such key"
#define ERR_OVERFLOW    "ERR increment or decrement would overflow"
#define ERR_EXPIRE_TIME "ERR invalid expire time in '%s' command"
#define ERR_ARITY       "ERR wrong number of arguments for '%s' command"

#endif
