#include "core/output_limits.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/numbers.h"

#define MAX_WORDS 64

static const char *const class_names[OUTPUT_CLASSES] = { "normal", "slave", "pubsub" };

static int class_of(const char *w)
{
    if (strcasecmp(w, "normal") == 0) return OUTPUT_NORMAL;
    if (strcasecmp(w, "replica") == 0 || strcasecmp(w, "slave") == 0) return OUTPUT_REPLICA;
    if (strcasecmp(w, "pubsub") == 0) return OUTPUT_PUBSUB;
    return -1; /* "master" too: Redis has no limits for its master link */
}

const char *output_limits_parse(const char *text, struct output_limit limits[OUTPUT_CLASSES])
{
    char copy[1024];
    if (strlen(text) >= sizeof(copy))
        return "Wrong number of arguments in buffer limit configuration.";
    strcpy(copy, text);
    char *w[MAX_WORDS];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_WORDS)
            return "Wrong number of arguments in buffer limit configuration.";
        w[n++] = t;
    }
    if (n % 4)
        return "Wrong number of arguments in buffer limit configuration.";
    /* check every class first: the whole text is taken or none of it */
    struct output_limit next[OUTPUT_CLASSES];
    memcpy(next, limits, sizeof(next));
    for (int i = 0; i < n; i += 4) {
        int cls = class_of(w[i]);
        if (cls < 0)
            return "Invalid client class specified in buffer limit configuration.";
        long long hard = config_parse_memory(w[i + 1]), soft = config_parse_memory(w[i + 2]), secs;
        if (hard < 0 || soft < 0 || !parse_ll((struct slice){ w[i + 3], strlen(w[i + 3]) }, &secs) ||
            secs < 0)
            return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        next[cls] = (struct output_limit){ hard, soft, secs };
    }
    memcpy(limits, next, sizeof(next));
    return NULL;
}

void output_limits_text(const struct output_limit limits[OUTPUT_CLASSES], char *out, size_t n)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < OUTPUT_CLASSES && at < n; i++)
        at += (size_t)snprintf(out + at, n - at, "%s%s %lld %lld %lld", i ? " " : "", class_names[i],
                               limits[i].hard, limits[i].soft, limits[i].soft_seconds);
}
