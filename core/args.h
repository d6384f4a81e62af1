/* args: splitting a line into arguments with Redis's rules (sdssplitargs),
 * the one splitter for what arrives as text: inline commands (core/resp.c)
 * and redis.conf lines (core/config_load.c).
 *
 * Words are separated by spaces, tabs, CR or LF. A word may be quoted:
 * "double quotes" decode \n \r \t \b \a, \xHH and \<any>; 'single quotes'
 * decode only \'. A closing quote must be followed by a separator or the
 * end of the line. A NUL byte ends the line. */
#ifndef RINGKV_ARGS_H
#define RINGKV_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include "core/buf.h"

/* Called for each word in order. A word without quotes points into the
 * line; a word with quotes points into scratch, where it was decoded. */
typedef void args_word_fn(void *arg, struct slice word);

/* Split line[0..len). scratch must hold len bytes (decoding never makes a
 * word longer); *scratch_used (may be NULL) is set to the bytes of it used.
 * Returns the number of words, or -1 on unbalanced quotes (words before the
 * bad one have been passed to fn). */
int args_split(const char *line, size_t len, char *scratch, size_t *scratch_used,
               args_word_fn *fn, void *arg);

#endif
