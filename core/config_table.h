/* config_table: the option table and the helpers the config files share
 * (config.c, config_load.c, config_rewrite.c). Private to them: everything
 * else goes through core/config.h. */
#ifndef RINGKV_CONFIG_TABLE_H
#define RINGKV_CONFIG_TABLE_H

#include <stddef.h>
#include "core/config.h"

/* One option, as the X-macro table declares it. */
struct option_desc {
    const char      *name;
    size_t           offset;  /* of its long long field in struct config */
    enum config_type type;
    const char      *def;     /* default, as text */
    int              flags;   /* CONF_RUNTIME */
    const char      *words;   /* CONF_ENUM: the accepted words, space separated */
    const char      *help;
};

/* Every option, in CONFIG_OPTIONS order then CONFIG_IGNORED's (config.c),
 * and how many. */
extern const struct option_desc config_options[];
#define CONFIG_COUNT_ONE(name, field, type, def, flags, words, help) + 1
#define CONFIG_COUNT_IGNORED(name, field, def) + 1
enum { CONFIG_NOPTIONS = 0 CONFIG_OPTIONS(CONFIG_COUNT_ONE) CONFIG_IGNORED(CONFIG_COUNT_IGNORED) };
#undef CONFIG_COUNT_ONE
#undef CONFIG_COUNT_IGNORED

/* The option named name (case-insensitive; Redis's old names such as
 * "slaveof" or "slave-read-only" find the new one), or NULL. */
const struct option_desc *option_find(const char *name);
/* Its current value (a string's pointer cast to long long). */
long long option_load(const struct config *cfg, const struct option_desc *o);
/* Parse value and store it; NULL or the reason it was refused (in why). A
 * string replaced goes to *retired, or is freed at once when retired is NULL. */
const char *option_apply(struct config *cfg, const struct option_desc *o,
                         const char *value, char **retired, char *why, size_t whylen);
/* Text of its current value into out (memory as bytes, bools yes/no). */
const char *option_text(const struct config *cfg, const struct option_desc *o,
                        char *out, size_t outlen);

/* The words of one redis.conf line (config_load.c). */
struct words {
    char  **w;
    size_t  n, cap;
};
/* Split line into words as Redis's sdssplitargs (quotes, escapes); 0, or
 * -1 for unbalanced quotes. */
int split_words(const char *line, struct words *ws);
void words_free(struct words *ws);

#endif
