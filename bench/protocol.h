/* protocol: the bytes of a request and the end of its reply, in RESP (any
 * Redis-compatible server) and in the memcached text protocol.
 *
 * Encoders write into a caller's buffer that has at least
 * protocol_request_max() bytes free and return the bytes written. The reply
 * scanner is context-free and incremental: given the unconsumed bytes of a
 * connection it says whether one whole reply is there and how long it is, so
 * a reply cut across reads is simply scanned again once more bytes arrived.
 * It knows no sockets. */
#ifndef RINGKV_BENCH_PROTOCOL_H
#define RINGKV_BENCH_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "keygen.h"

enum protocol { PROTO_RESP, PROTO_MEMCACHE };

/* What a request was; one request always has exactly one reply. */
enum request_kind { REQ_GET, REQ_SET, REQ_INCR, REQ_MGET, REQ_MSET };

/* Upper bound of one encoded request naming nkeys keys of kn and values up
 * to value_max bytes. */
size_t protocol_request_max(const struct keyname *kn, unsigned nkeys, size_t value_max);

/* GET (nkeys == 1) or MGET; memcached: "get k1 k2 ...". */
size_t protocol_encode_get(enum protocol p, char *out, const struct keyname *kn,
                           const uint64_t *keys, unsigned nkeys);
/* SET key value; memcached: "set key 0 0 len". */
size_t protocol_encode_set(enum protocol p, char *out, const struct keyname *kn,
                           uint64_t key, const char *value, size_t vlen);
/* INCR key; memcached: "incr key 1". */
size_t protocol_encode_incr(enum protocol p, char *out, const struct keyname *kn,
                            uint64_t key);
/* MSET k1 v k2 v ... (RESP only: memcached has no multi-set). */
size_t protocol_encode_mset(char *out, const struct keyname *kn, const uint64_t *keys,
                            unsigned nkeys, const char *value, size_t vlen);

/* What one reply said. */
struct reply_scan {
    int         error;      /* RESP '-', memcached ERROR / CLIENT_ERROR / SERVER_ERROR */
    uint32_t    values;     /* values returned: a bulk string, each non-nil MGET
                             * element, each memcached VALUE block */
    const char *text;       /* error: the line, without "\r\n" (points into buf) */
    size_t      text_len;
};

/* Scan one reply at buf[0..len). Returns its length (> 0) and fills r; 0 if
 * the reply is not complete yet; -1 if the bytes are not a valid reply (the
 * connection is out of step and should be dropped). */
long protocol_scan_reply(enum protocol p, const char *buf, size_t len, struct reply_scan *r);

#endif
