/* lzf: LZF, the compression Redis applies to strings longer than 20 bytes
 * in its RDB files and DUMP payloads (rdbcompression yes) and to a long
 * list's inner nodes (list-compress-depth): decompressing what Redis
 * wrote, and compressing a list's nodes (shards/store/list.c).
 *
 * The format is a sequence of chunks, each starting with a control byte c:
 *   c < 32: a literal run: the next c + 1 bytes are copied as they are;
 *   else:   a back reference: length c >> 5 (7 means: add the next byte),
 *           plus 2; distance ((c & 31) << 8) + the next byte + 1 back from
 *           the end of what was produced so far (it may overlap the bytes
 *           it produces: a run).
 * Nothing about the input is trusted: every read and write is checked. */
#ifndef RINGKV_LZF_H
#define RINGKV_LZF_H

#include <stdbool.h>
#include <stddef.h>

/* Decompress in[0..in_len) into out, which has room for exactly out_len
 * bytes. true if the input is well formed and produces exactly out_len
 * bytes; false otherwise (out's content is then unspecified). */
bool lzf_decompress_exact(const void *in, size_t in_len, void *out, size_t out_len);

/* Compress in[0..in_len) into out, which has room for out_cap bytes.
 * Returns the compressed size, or 0 when it does not fit in out_cap (the
 * caller keeps the bytes as they are). Greedy: each position is looked
 * up by its next three bytes in a table of the last position seen with
 * them (a hash, 8192 entries, on the stack: 32 KB), a match taken as long
 * as it goes (at most 264 bytes, at most 8192 back). Deterministic: the
 * same input gives the same output. */
size_t lzf_compress(const void *in, size_t in_len, void *out, size_t out_cap);

#endif
