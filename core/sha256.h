/* sha256: SHA-256 (FIPS 180-4), for the passwords of ACL users: a user's
 * passwords are kept only as their digests, shown by ACL GETUSER and ACL
 * LIST as 64 lower-case hex digits (the form the #<hash> rule takes), as
 * Redis keeps them. */
#ifndef RINGKV_SHA256_H
#define RINGKV_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN    64

/* The digest of len bytes at data. */
void sha256(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_LEN]);
/* The same as 64 lower-case hex digits and a terminating NUL. */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);

#endif
