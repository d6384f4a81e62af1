/* serialize: one entry's value as bytes and back, in Redis's format, so
 * that a DUMP from redis-server RESTOREs here and ours RESTOREs there, and
 * so that everything that moves a value between processes (DUMP/RESTORE,
 * MIGRATE; next, full sync and slot moves) has one serialization.
 *
 * A DUMP payload is Redis's:
 *
 *   object   the RDB serialization of the value: a type byte
 *            (RDB_TYPE_STRING = 0, ...) then the body of that type
 *   version  the RDB version, 2 bytes little-endian
 *   crc      CRC-64 (core/crc64.h) of object and version, 8 bytes
 *            little-endian
 *
 * A string's body is an RDB string: a length (the RDB length encoding: 6,
 * 14, 32 or 64 bits, by the first byte's top bits) and the bytes; or an
 * "encoded" string (first byte 11xxxxxx): an integer of 8, 16 or 32 bits
 * (little-endian, written back as its decimal text), or LZF-compressed
 * bytes (compressed length, original length, data; core/lzf.h).
 *
 * Writing, we do as Redis: a string that is the canonical text of an
 * integer fitting 32 bits becomes an encoded integer (so the payloads of
 * such strings are byte for byte Redis's); others are written plain, never
 * compressed (Redis reads both). We write RDB version 10 (Redis 7.0's: the
 * oldest that a server of today accepts and what Debian's redis-server 7.0
 * requires at most), and read every version up to 12 (Redis 7.4, 8.x),
 * since the encoding of what we decode did not change in them.
 *
 * Types: a type byte we cannot decode (the collections, until the store
 * has them; modules; streams) is refused whole, as Redis refuses a payload
 * it cannot load ("Bad data format"). A new value type adds its case to
 * serialize_object and serialize_decode, and its member to struct
 * decoded_value.
 *
 * Nothing in a payload is trusted: every length is checked against the
 * bytes there are, and a value is built aside and only then stored, so a
 * bad payload changes nothing. */
#ifndef RINGKV_SERIALIZE_H
#define RINGKV_SERIALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "shards/store/store.h"

#define SERIALIZE_RDB_VERSION     10 /* written */
#define SERIALIZE_RDB_VERSION_MAX 12 /* the newest read */
#define SERIALIZE_FOOTER_LEN      10 /* version + crc */

/* RDB type bytes (Redis's rdb.h). Only those a value of the store can be
 * are written; only those listed here as decoded are read. */
enum rdb_type {
    RDB_TYPE_STRING = 0,
};

/* Append e's object (type byte and body), without the footer. */
void serialize_object(const struct entry *e, struct buf *out);

/* Append e's whole DUMP payload: object, version, crc. */
void serialize_dump(const struct entry *e, struct buf *out);

/* Does the payload end in a version we read and the right checksum? (Redis
 * answers "DUMP payload version or checksum are wrong" when not.) */
bool serialize_payload_valid(const char *p, size_t n);

/* The version check alone, for a payload from a source already trusted
 * (a master's full sync): the checksum is not computed again. */
bool serialize_payload_version_ok(const char *p, size_t n);

/* A value decoded from a payload, held aside until it is stored. A plain
 * string is not copied: it points into the payload, which must outlive it. */
struct decoded_value {
    enum value_type type;
    struct slice    string; /* TYPE_STRING: the string (in the payload or in own) */
    struct buf      own;    /* bytes the decoder had to make (an integer's text, LZF) */
};

/* Decode the object of a payload that serialize_payload_valid accepted
 * (p[0..n) is the whole payload, footer included). true and *v filled
 * (release it with decoded_value_free), or false if the object is not one
 * we can decode (an unknown type, a bad encoding, lengths past its end):
 * Redis's "Bad data format". */
bool serialize_decode(const char *p, size_t n, struct decoded_value *v);

/* Store v under key with the expiry (unix ms, 0: none), replacing what
 * key held; journals what the store did (a SET with the absolute expiry).
 * v is left empty. */
void decoded_value_store(struct store *s, struct slice key, struct decoded_value *v, int64_t expire_at_ms);

void decoded_value_free(struct decoded_value *v);

#endif
