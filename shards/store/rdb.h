/* rdb: Redis's RDB file, written from stores and read back, so that a
 * dump.rdb written by redis-server 7.0 loads here and ours loads there.
 *
 * The file: "REDIS0010" (the RDB version we write, Redis 7.0's), AUX
 * fields (opcode 0xFA, two strings: redis-ver, redis-bits, ctime,
 * used-mem, aof-base), then each database holding keys, in ascending
 * order, as Redis writes them: SELECTDB n (0xFE) and RESIZEDB (0xFB:
 * keys, keys with an expiry), then each of its keys: EXPIRETIME_MS (0xFC, 8 bytes
 * little-endian unix ms) when it has one, the value's type byte, the key
 * as an RDB string, the value's body; then EOF (0xFF) and the CRC-64
 * (core/crc64.h) of everything before it, 8 bytes little-endian (0 when
 * rdbchecksum is off, which readers take as "not checked").
 *
 * Each value is serialize_object's (shards/store/serialize.h): this file
 * knows the framing, never a type's body, so a type serialize.c learns is
 * saved and loaded with nothing to do here. A string value is the one
 * body written here, so that rdbcompression can LZF it as Redis does
 * (collections' elements are written plain: Redis reads both).
 *
 * Reading takes every version up to SERIALIZE_RDB_VERSION_MAX and the
 * opcodes Redis 7 writes: AUX, SELECTDB, RESIZEDB, EXPIRETIME (seconds)
 * and EXPIRETIME_MS, FREQ and IDLE (read and dropped), FUNCTION2 (a
 * function library's code: handed to the caller's record function, and
 * written by rdb_write_raw as the caller makes it); the old FUNCTION
 * (before Redis 7.0 GA) and MODULE_AUX (ringkv has no modules) refused. The whole file is checked
 * (its checksum) before a key is stored, and a value that does not
 * decode stops the reading with an error: the caller refuses to start
 * rather than serve what came before it. */
#ifndef RINGKV_RDB_H
#define RINGKV_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "shards/store/store.h"

/* Writing: the bytes go to fd in blocks of about 1 MB, the checksum kept
 * as they go. Blocking I/O: a forked child's or a blocking SAVE's. */
struct rdb_writer {
    int        fd;
    bool       compress;  /* rdbcompression */
    bool       checksum;  /* rdbchecksum */
    bool       failed;    /* a write failed (errno kept in err) */
    int        err;
    uint64_t   crc;
    uint64_t   bytes;     /* written so far */
    uint64_t   keys;      /* written so far */
    struct buf out;
    struct buf obj;       /* one value's object, reused */
};

/* Start a file on fd: the header and the AUX fields. */
void rdb_write_begin(struct rdb_writer *w, int fd, bool compress, bool checksum, int64_t now_ms,
                     uint64_t used_memory);
/* The keys written next are database db's: SELECTDB db and RESIZEDB (its
 * keys, of them with an expiry: hints to the reader). Once per database,
 * in ascending order; an empty database is not written (Redis's way). */
void rdb_write_db(struct rdb_writer *w, int db, uint64_t keys, uint64_t expires);
/* Every key of s alive at now_ms (the store is not changed: a frozen
 * store, a forked child's or a parked shard's). */
void rdb_write_store(struct rdb_writer *w, struct store *s, int64_t now_ms);
/* Records already in RDB form (FUNCTION2 ones), after the header: node-wide
 * state kept outside the stores. */
void rdb_write_raw(struct rdb_writer *w, const void *p, size_t n);
/* EOF and the checksum, flushed. 0, or -1 with errno set. */
int rdb_write_end(struct rdb_writer *w);

/* Reading. A file's keys are handed to fn in file order, each as its
 * database (the last SELECTDB's number, 0 before any), its key
 * (valid during the call), its value decoded (serialize.h: fn owns it,
 * to store or to free) and its expiry (unix ms, 0: none); fn returns
 * false to stop (then rdb_read answers -1). */
struct decoded_value;
typedef bool rdb_key_fn(void *arg, int db, struct slice key, struct decoded_value *v, int64_t expire_at_ms);

/* A record of node-wide state (FUNCTION2: a function library's code),
 * handed in file order; false (err filled) stops the reading. */
typedef bool rdb_record_fn(void *arg, unsigned op, struct slice body, char *err, size_t errlen);

struct rdb_read_info {
    unsigned version;
    uint64_t keys;
    /* in: what takes FUNCTION2 records; NULL: a file with one is refused */
    rdb_record_fn *record;
    void          *record_arg;
    /* in: the databases the reader has (SELECTDB n >= databases fails the
     * reading with Redis's FATAL line, bad_db set); 0: any */
    int            databases;
    bool           bad_db;
    uint64_t       bad_db_number; /* the SELECTDB refused */
};

/* Check p[0..n), a whole file, then (fn not NULL) hand every key to fn.
 * 0, or -1 with err saying what is wrong ("Wrong signature", "checksum
 * mismatch", "unexpected end of file"...). */
int rdb_read(const char *p, size_t n, rdb_key_fn *fn, void *arg, struct rdb_read_info *info, char *err,
             size_t errlen);

#endif
