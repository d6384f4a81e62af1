/* crc64: the CRC-64 Redis puts at the end of a DUMP payload and an RDB
 * file: the Jones polynomial (0xad93d23594c935a9), reflected in and out,
 * initial value 0, no final xor. crc64(0, "123456789", 9) is
 * 0xe9c6d914c4b8d9ca.
 *
 * A payload may be as large as proto-max-bulk-len and is checked on the
 * shard that restores it, and a full sync sums every value it sends: on
 * x86-64 CPUs with PCLMULQDQ, inputs of 128 bytes and more are folded 64
 * bytes a step with carry-less multiplication (about 5 GB/s here); other
 * input takes eight bytes a step (eight 256-entry tables, built once;
 * about 1.1 GB/s). Both give the same result (tests/unit/test_serialize.c). */
#ifndef RINGKV_CRC64_H
#define RINGKV_CRC64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Continue crc over p[0..n): crc64(crc64(0, a), b) == crc64(0, a b). */
uint64_t crc64(uint64_t crc, const void *p, size_t n);

/* Does this CPU take the carry-less multiplication path (for tests)? */
bool crc64_uses_clmul(void);

#endif
