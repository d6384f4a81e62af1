/* args: Redis's argument splitting (see args.h). */
#include "core/args.h"

#include <string.h>

static inline bool is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r'); /* isspace() in the C locale */
}

static inline bool ends_word(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int args_split(const char *line, size_t len, char *scratch, size_t *scratch_used,
               args_word_fn *fn, void *arg)
{
    const char *nul = memchr(line, '\0', len);
    if (nul)
        len = (size_t)(nul - line);
    size_t L = len, i = 0, used = 0;
    int words = 0;
    if (scratch_used)
        *scratch_used = 0;
    for (;;) {
        while (i < L && is_space((unsigned char)line[i]))
            i++;
        if (i >= L)
            return words;

        size_t start = i;
        char *word = NULL; /* set once the word has a quote: decoded into scratch */
        char *out = NULL;
        bool inq = false, insq = false, done = false;
        while (!done) {
            if (inq || insq) {
                if (i >= L)
                    return -1;
                unsigned char c = (unsigned char)line[i];
                if (inq && c == '\\' && i + 3 < L && line[i + 1] == 'x' &&
                    hex_val((unsigned char)line[i + 2]) >= 0 && hex_val((unsigned char)line[i + 3]) >= 0) {
                    *out++ = (char)(hex_val((unsigned char)line[i + 2]) * 16 + hex_val((unsigned char)line[i + 3]));
                    i += 4;
                } else if (inq && c == '\\' && i + 1 < L) {
                    char e = line[i + 1];
                    switch (e) {
                    case 'n': e = '\n'; break;
                    case 'r': e = '\r'; break;
                    case 't': e = '\t'; break;
                    case 'b': e = '\b'; break;
                    case 'a': e = '\a'; break;
                    default: break;
                    }
                    *out++ = e;
                    i += 2;
                } else if (insq && c == '\\' && i + 1 < L && line[i + 1] == '\'') {
                    *out++ = '\'';
                    i += 2;
                } else if ((inq && c == '"') || (insq && c == '\'')) {
                    if (i + 1 < L && !is_space((unsigned char)line[i + 1]))
                        return -1;
                    i++;
                    done = true;
                } else {
                    *out++ = (char)c;
                    i++;
                }
            } else if (i >= L || ends_word(line[i])) {
                done = true;
            } else if (line[i] == '"' || line[i] == '\'') {
                if (!word) {
                    word = scratch + used;
                    memcpy(word, line + start, i - start);
                    out = word + (i - start);
                }
                inq = line[i] == '"';
                insq = !inq;
                i++;
            } else {
                if (word)
                    *out++ = line[i];
                i++;
            }
        }
        if (word) {
            size_t n = (size_t)(out - word);
            used += n;
            if (scratch_used)
                *scratch_used = used;
            fn(arg, (struct slice){ word, n });
        } else {
            fn(arg, (struct slice){ line + start, i - start });
        }
        words++;
    }
}
