/* output_limits: the value of Redis's client-output-buffer-limit option.
 *
 * Per client class (normal, replica, pubsub) a hard limit, a soft limit and
 * the soft seconds: a client whose pending output passes the hard limit, or
 * stays over the soft limit for longer than the soft seconds, is closed
 * (0 turns a limit off). The option's text is "class hard soft seconds",
 * repeated; a setting names some classes and the others keep their values,
 * as in Redis (redis.conf gives one line per class). Limits are memory
 * values (32mb, 8388608); "slave" is the old name of "replica". */
#ifndef RINGKV_OUTPUT_LIMITS_H
#define RINGKV_OUTPUT_LIMITS_H

#include <stddef.h>

enum output_class { OUTPUT_NORMAL, OUTPUT_REPLICA, OUTPUT_PUBSUB, OUTPUT_CLASSES };

struct output_limit {
    long long hard, soft, soft_seconds;
};

/* Redis's defaults. */
#define OUTPUT_LIMITS_DEFAULT "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"

/* Apply text over limits: every class it names takes the new values, the
 * whole text or nothing. Returns NULL, or why it was refused (Redis's words,
 * e.g. "Wrong number of arguments in buffer limit configuration."). */
const char *output_limits_parse(const char *text, struct output_limit limits[OUTPUT_CLASSES]);

/* Every class, as CONFIG GET shows it (bytes, "slave" as Redis writes it). */
void output_limits_text(const struct output_limit limits[OUTPUT_CLASSES], char *out, size_t n);

#endif
