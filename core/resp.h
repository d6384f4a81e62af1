/* resp: the request side of the Redis protocol (RESP2/RESP3 multibulk and
 * inline commands). Knows nothing of sockets: it is fed bytes and hands back
 * argument vectors that point into those bytes.
 *
 * A command may arrive in pieces. The parser keeps its progress through the
 * current command (how many arguments it has already found and where) so a
 * large command delivered in many small reads is scanned once, not once per
 * read. The caller's contract: every call passes a buffer that starts at the
 * first byte of the command being parsed (bytes of earlier, completed commands
 * removed), holding at least the bytes passed to the previous call. The buffer
 * may move in memory between calls (offsets are kept, not pointers). */
#ifndef RINGKV_RESP_H
#define RINGKV_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

struct resp_limits {
    long long max_bulk_len;   /* proto-max-bulk-len: larger bulk = protocol error */
    long long max_args;       /* larger multibulk count = protocol error */
    size_t    max_inline_len; /* an inline command or a '*'/'$' header line longer than this = error */
    bool      strict;         /* a replication stream: multibulk only, and every line and
                                 bulk must end in CRLF (Redis skips those two bytes unchecked) */
};

/* Redis's values: proto-max-bulk-len 512mb, multibulk count up to INT_MAX is
 * accepted by Redis but ringkv bounds it at 1024*1024, inline 64kb. */
#define RESP_LIMITS_DEFAULT ((struct resp_limits){ 512LL * 1024 * 1024, 1024 * 1024, 64 * 1024, false })

enum resp_status {
    RESP_DONE = 0,   /* one complete command parsed: argc/argv valid, *consumed set */
    RESP_MORE,       /* need more bytes; nothing to do until they arrive */
    RESP_EMPTY,      /* consumed bytes held no command (a blank inline line): call again */
    RESP_ERROR,      /* protocol error: *err set to Redis's text; reply it and close */
};

struct resp_parser {
    /* progress through the current command (internal) */
    size_t     pos;       /* bytes of the current command already scanned */
    long long  want_args; /* multibulk count once read, -1 before */
    long long  bulk_len;  /* length of the bulk being read, -1 if at a '$' header */
    int        inline_cmd;
    size_t     scan;      /* how far the search for the current line's CR/LF has got */
    struct buf scratch;   /* decoded inline arguments that had quotes or escapes */
    char       errbuf[48]; /* text of a formatted error ("expected '$', got 'X'") */
    /* result: argc arguments, kept as offsets into the caller's buffer */
    size_t     argc;
    size_t     cap;
    size_t    *off;
    size_t    *len;
    struct slice *argv;   /* filled on RESP_DONE, pointing into the last buffer
                           * (an inline argument written with quotes or escapes
                           * points into p->scratch instead) */
};

/* After RESP_MORE: the bytes the current command is known to take at least,
 * from its first byte (what was scanned and the bulk being read, with its
 * CRLF); 0 when no bulk's length is known yet. A caller may make room for
 * them at once where a big argument would otherwise arrive into a buffer
 * grown by doubling, read after read. */
static inline size_t resp_parse_wants(const struct resp_parser *p)
{
    return p->bulk_len >= 0 ? p->pos + (size_t)p->bulk_len + 2 : 0;
}

void resp_parser_init(struct resp_parser *p);
void resp_parser_deinit(struct resp_parser *p);

/* Parse the command at the start of buf[0..n).
 * RESP_DONE: p->argc/p->argv hold the command (valid until buf changes or the
 *   next call) and *consumed is its byte length; the parser is reset for the next.
 * RESP_EMPTY: *consumed bytes may be dropped; call again on the rest.
 * RESP_MORE: *consumed = 0; call again with the same bytes and more.
 * RESP_ERROR: *err is the error text without the leading '-' or CRLF,
 *   e.g. "ERR Protocol error: invalid bulk length" (valid until the next
 *   call); the parser is reset. */
enum resp_status resp_parse(struct resp_parser *p, const char *buf, size_t n,
                            const struct resp_limits *lim, size_t *consumed,
                            const char **err);

/* Length of the one complete RESP value (any RESP2/RESP3 type) at the start
 * of buf[0..n), or 0 if it is incomplete or malformed. Used to split and
 * reassemble replies produced on other shards. An attribute ('|') is counted
 * together with the value it annotates, which follows it. Aggregates nested
 * deeper than RESP_MAX_DEPTH count as malformed. */
#define RESP_MAX_DEPTH 64
size_t resp_value_len(const char *buf, size_t n);

/* ---- writing a command ------------------------------------------------------
 * The one encoder of a command as the RESP multibulk a server reads
 * (*argc then one $len bulk per argument): the replication stream's
 * commands, a MULTI queue, the links to other nodes, the admin tool. */
void resp_encode_command(struct buf *out, int argc, const struct slice *argv);
/* The same for NUL-terminated arguments. */
void resp_encode_strings(struct buf *out, int argc, const char *const *argv);

/* ---- reading whole values ---------------------------------------------------
 * The one reader of RESP values the server itself receives: replies of other
 * shards (merges), a master's answers on the replication link. It walks a
 * buffer of complete values one at a time. Every read checks that the next
 * value is whole and of the type asked for, then moves past it (an
 * aggregate's read moves to its first element); when a read returns false
 * the reader has not moved. */
struct resp_reader {
    const char *p;    /* the next value */
    const char *end;  /* one past the last byte */
};

static inline void resp_reader_init(struct resp_reader *r, const char *buf, size_t n)
{
    r->p = buf;
    r->end = buf + n;
}
/* Type byte of the next value ('+', ':', '*', ...), 0 at the end. */
static inline char resp_peek(const struct resp_reader *r)
{
    return r->p < r->end ? r->p[0] : 0;
}
/* Any one value, whatever its type: raw = its bytes. */
bool resp_read_value(struct resp_reader *r, struct slice *raw);
/* ':' integer. */
bool resp_read_int(struct resp_reader *r, long long *v);
/* '$' bulk or '+' simple string: s = its text; a null bulk ($-1, _) gives
 * s->ptr NULL. Errors are not strings: use resp_read_error. */
bool resp_read_string(struct resp_reader *r, struct slice *s);
/* '-' or '!' error: s = its text without the type byte and CRLF. */
bool resp_read_error(struct resp_reader *r, struct slice *s);
/* The header of an array, set or push ('*', '~', '>'): *count elements follow,
 * each read on its own; a null array (*-1, _) gives *count = -1. A map ('%')
 * gives its number of pairs, each pair two values. */
bool resp_read_aggregate(struct resp_reader *r, long long *count);

#endif
