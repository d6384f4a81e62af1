/* sha1: SHA-1 (FIPS 180-4), for the names of scripts: EVAL's and SCRIPT
 * LOAD's digest of a script body, which EVALSHA and SCRIPT EXISTS are given
 * back as 40 lower-case hex digits, as Redis names them. Not for security. */
#ifndef RINGKV_SHA1_H
#define RINGKV_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20
#define SHA1_HEX_LEN    40

/* The digest of len bytes at data. */
void sha1(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_LEN]);
/* The same as 40 lower-case hex digits and a terminating NUL. */
void sha1_hex(const void *data, size_t len, char hex[SHA1_HEX_LEN + 1]);

#endif
