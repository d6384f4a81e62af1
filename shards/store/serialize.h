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
 * Collections: a hash is written as RDB_TYPE_HASH (a count, then field and
 * value as RDB strings), a set as RDB_TYPE_SET (a count, then members),
 * whatever our encoding: the plain forms every Redis reads, converting
 * them by its own thresholds. A list and a sorted set are written as Redis
 * 7.0 writes them: a list as RDB_TYPE_LIST_QUICKLIST_2 (a count of nodes,
 * each a container, PACKED, and a listpack of at most 8 KB, or of one
 * longer element), a sorted set as RDB_TYPE_ZSET_LISTPACK while ours is a
 * listpack (member then score, ascending) and as RDB_TYPE_ZSET_2 past that
 * (a count, then member and a binary double, highest first). Read are
 * those and the other forms Redis writes or wrote: RDB_TYPE_HASH_LISTPACK,
 * RDB_TYPE_SET_INTSET, (7.2) RDB_TYPE_SET_LISTPACK, (6 and older)
 * RDB_TYPE_HASH_ZIPLIST, RDB_TYPE_ZSET_ZIPLIST and RDB_TYPE_LIST_QUICKLIST
 * (nodes of ziplists), and the oldest RDB_TYPE_LIST, RDB_TYPE_LIST_ZIPLIST
 * and RDB_TYPE_ZSET (scores as text); a blob (an RDB string, maybe LZF) in
 * Redis's listpack, intset or ziplist layout. A decoded collection is
 * built into our own encoding by the thresholds its commands use
 * (hash-max-listpack-*, set-max-*, list-max-listpack-size,
 * zset-max-listpack-*). An empty collection, a field or member twice, a
 * score that is no number or NaN, is bad data (as Redis has it); a
 * quicklist's empty nodes are skipped (as Redis does).
 *
 * A stream is written as Redis 7.0 writes it (RDB_TYPE_STREAM_LISTPACKS_2:
 * its nodes, each as its master ID's 16 bytes and a listpack laid out as
 * Redis's, then its length, last ID, first ID, max deleted ID, entries
 * added and its consumer groups); read are that and the forms
 * of Redis 5 to 6.2 (RDB_TYPE_STREAM_LISTPACKS) and 7.2+ (_3), rebuilt
 * entry by entry (a deleted entry's tombstone is not kept) by the node
 * limits of stream.h, with its consumer groups, consumers and PELs.
 *
 * Types: a type byte we cannot decode (modules) is refused whole,
 * as Redis refuses a payload it cannot load ("Bad data format"). A new
 * value type adds its case to serialize_object, serialize_decode (the
 * cases are there, named) and decoded_value_build.
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
#include "shards/store/hash.h"
#include "shards/store/list.h"
#include "shards/store/set.h"
#include "shards/store/stream.h"
#include "shards/store/zset.h"
#include "shards/store/store.h"

#define SERIALIZE_RDB_VERSION     10 /* written */
#define SERIALIZE_RDB_VERSION_MAX 12 /* the newest read */
#define SERIALIZE_FOOTER_LEN      10 /* version + crc */

/* RDB type bytes (Redis's rdb.h). Only those a value of the store can be
 * are written; only those listed here as decoded are read. */
enum rdb_type {
    RDB_TYPE_STRING           = 0,
    RDB_TYPE_LIST             = 1,  /* read only (RDB 6 and older) */
    RDB_TYPE_SET              = 2,
    RDB_TYPE_ZSET             = 3,  /* read only: scores as text (RDB 7 and older) */
    RDB_TYPE_HASH             = 4,
    RDB_TYPE_ZSET_2           = 5,  /* a big sorted set: binary double scores */
    RDB_TYPE_LIST_ZIPLIST     = 10, /* read only (Redis 3.0 and older) */
    RDB_TYPE_SET_INTSET       = 11,
    RDB_TYPE_ZSET_ZIPLIST     = 12, /* read only (Redis 6 and older) */
    RDB_TYPE_HASH_ZIPLIST     = 13, /* Redis 6 and older (RDB 9) */
    RDB_TYPE_LIST_QUICKLIST   = 14, /* read only: ziplist nodes (Redis 3.2 to 6) */
    RDB_TYPE_HASH_LISTPACK    = 16,
    RDB_TYPE_ZSET_LISTPACK    = 17, /* a small sorted set */
    RDB_TYPE_LIST_QUICKLIST_2 = 18, /* a list: listpack (or plain) nodes */
    RDB_TYPE_SET_LISTPACK     = 20,
    RDB_TYPE_STREAM_LISTPACKS   = 15, /* read only: a stream of Redis 5 to 6.2 */
    RDB_TYPE_STREAM_LISTPACKS_2 = 19, /* a stream (Redis 7.0) */
    RDB_TYPE_STREAM_LISTPACKS_3 = 21, /* read only: a stream of Redis 7.2+ (consumers' active time) */
};

/* Append e's object (type byte and body), without the footer. false (and
 * nothing appended) for a type that has no serialization yet. */
bool serialize_object(const struct entry *e, struct buf *out);

/* Append e's whole DUMP payload: object, version, crc. false (nothing
 * appended) as serialize_object. */
bool serialize_dump(const struct entry *e, struct buf *out);

/* A part of e's collection (a hash, set, sorted set or list), for moving a
 * big one in bounded parts (a slot move: shards/commands/migrate_slots.c):
 * a whole DUMP payload (footer included) of a collection of e's type that
 * holds the elements a scan from cursor visits (a list: from index
 * cursor, head to tail), in the plain forms (RDB_TYPE_HASH, _SET, _ZSET_2,
 * _LIST_QUICKLIST_2), count elements at most and about `bytes` of body
 * (checked between scan steps sized by the elements' bytes: passed by
 * about one element; one element at least, so an element bigger than
 * `bytes` is a part of its own). Returns the next cursor (0: this part ends the scan) and the
 * elements written in *elems; 0 elements (the scan's last buckets were
 * empty): nothing is appended. A hash's, set's or sorted set's scan
 * visits every element present all along once at least (an element may
 * come twice if the collection is resized between parts: the receiver
 * adds parts with decoded_value_add_to, which takes that). */
uint64_t serialize_dump_part(const struct entry *e, uint64_t cursor, size_t count, size_t bytes, struct buf *out,
                             size_t *elems);

/* Does the payload end in a version we read and the right checksum? (Redis
 * answers "DUMP payload version or checksum are wrong" when not.) */
bool serialize_payload_valid(const char *p, size_t n);

/* The version check alone, for a payload from a source already trusted
 * (a master's full sync): the checksum is not computed again. */
bool serialize_payload_version_ok(const char *p, size_t n);

/* A value decoded from a payload, held aside until it is stored. A plain
 * string is not copied: it points into the payload, which must outlive it.
 * A collection is checked whole by serialize_decode and built (in a store,
 * still aside) by decoded_value_build. */
struct decoded_value {
    enum value_type type;
    struct slice    string;   /* TYPE_STRING: the string (in the payload or in own) */
    struct buf      own;      /* bytes the decoder had to make (an integer's text, LZF) */
    uint8_t         rdb_type; /* a collection: its RDB type */
    struct slice    body;     /* its elements' bytes (in the payload or in own) */
    uint64_t        count;    /* its elements (a hash: fields), checked */
    uint64_t        nodes;    /* a quicklist's nodes (its body's count) */
    void           *object;   /* built by decoded_value_build, in store */
    struct store   *store;
};

/* The encoding thresholds a collection is built by (the config's). */
struct serialize_limits {
    struct hash_limits hash;
    struct set_limits  set;
    struct list_limits list;
    struct zset_limits zset;
    struct stream_limits stream;
};

/* Decode the object of a payload that serialize_payload_valid accepted
 * (p[0..n) is the whole payload, footer included). true and *v filled
 * (release it with decoded_value_free), or false if the object is not one
 * we can decode (an unknown type, a bad encoding, lengths past its end):
 * Redis's "Bad data format". */
bool serialize_decode(const char *p, size_t n, struct decoded_value *v);

/* Build a decoded collection's object in s, aside (no key is touched), by
 * lim's thresholds (NULL: Redis's defaults). false if an element comes
 * twice (Redis's "Bad data format"); v is then released. Nothing to do for
 * a string, or a value already built. */
bool decoded_value_build(struct store *s, struct decoded_value *v, const struct serialize_limits *lim);

/* Store v under key with the expiry (unix ms, 0: none), replacing what
 * key held; journals what the store did (a SET with the absolute expiry; a
 * collection's SET carries its object). A collection not built yet is
 * built first, with the default thresholds: false if that fails, and then
 * nothing changed. v is left empty. */
bool decoded_value_store(struct store *s, struct slice key, struct decoded_value *v, int64_t expire_at_ms);

/* Add a decoded collection's elements to *obj, a collection of type t
 * built earlier in s (a part of a big collection moved in parts, added to
 * what came before), by lim's thresholds (NULL: the defaults); *obj may
 * move (a compact encoding grows or converts). An element already there
 * is no error (a hash's field or a zset's member takes the new value, a
 * set keeps it). false for another type, a string, or data it cannot
 * decode (then *obj may hold part of v's elements: the caller drops it).
 * v is released either way; *obj stays the caller's. */
bool decoded_value_add_to(struct store *s, struct decoded_value *v, enum value_type t, void **obj,
                          const struct serialize_limits *lim);

void decoded_value_free(struct decoded_value *v);

/* An RDB file's objects follow one another with no footer between them
 * (shards/store/rdb.c): serialize_decode of the object at the start of
 * p[0..n) (no footer), with *used (if not NULL) set to its bytes, so the
 * caller finds the next one. A counted body's walk (walk_elements) notes
 * where its last element ended; a new type's walk must too. */
bool serialize_decode_object(const char *p, size_t n, struct decoded_value *v, size_t *used);
/* The same with the type byte apart from the body at p (in a file the
 * key sits between them); *used counts the body's bytes. */
bool serialize_decode_body(unsigned type, const char *p, size_t n, struct decoded_value *v, size_t *used);

/* The framing of an RDB file around the objects: lengths and strings
 * (keys, AUX fields) as the objects' own (read with serialize_get_string,
 * below). serialize_put_file_string writes an integer's text as an
 * integer, and with compress a string past 20 bytes LZF-compressed when
 * that saves 4 bytes (Redis's rdbcompression). serialize_get_len takes
 * p[0..n) and sets *used to the bytes read; false if they are not a plain
 * length. */
void serialize_put_len(struct buf *out, uint64_t len);
void serialize_put_file_string(struct buf *out, const char *s, size_t len, bool compress);
bool serialize_get_len(const char *p, size_t n, uint64_t *len, size_t *used);

/* An RDB string on its own (FUNCTION DUMP's library code): its length and
 * bytes appended to out; read back from *p (before end), plain or encoded,
 * *s pointing at the bytes (in scratch when they were encoded), *p moved
 * past it; false if it is malformed. */
void serialize_put_string(struct buf *out, const char *p, size_t n);
bool serialize_get_string(const char **p, const char *end, struct slice *s, struct buf *scratch);

#endif
