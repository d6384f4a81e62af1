/* glob: Redis glob matching, one of the small core helpers. */
#ifndef RINGKV_GLOB_H
#define RINGKV_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* Redis glob matching (*, ?, [abc], [^a], [a-z], \x), as used by KEYS, SCAN
 * MATCH, PSUBSCRIBE and CONFIG GET. */
bool glob_match(const char *pattern, size_t plen, const char *s, size_t slen, bool nocase);

#endif
