/* lzf: decompressing LZF, the compression Redis applies to strings longer
 * than 20 bytes in its RDB files and DUMP payloads (rdbcompression yes).
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

#endif
