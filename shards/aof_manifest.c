/* aof_manifest: see aof_manifest.h. */
#include "shards/aof_manifest.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One word of a line at *p: plain up to a space, or "quoted" with Redis's
 * escapes (\\ \" \n \r \t \xHH). false if unbalanced or too long. */
static bool word(const char **p, const char *end, char *out, size_t outlen)
{
    const char *q = *p;
    size_t n = 0;
    if (q < end && *q == '"') {
        q++;
        for (;;) {
            if (q >= end)
                return false;
            char c = *q++;
            if (c == '"')
                break;
            if (c == '\\' && q < end) {
                char e = *q++;
                if (e == 'n') c = '\n';
                else if (e == 'r') c = '\r';
                else if (e == 't') c = '\t';
                else if (e == 'x' && end - q >= 2) {
                    char hex[3] = { q[0], q[1], 0 };
                    c = (char)strtol(hex, NULL, 16);
                    q += 2;
                } else c = e;
            }
            if (n + 1 >= outlen)
                return false;
            out[n++] = c;
        }
    } else {
        while (q < end && *q != ' ' && *q != '\t') {
            if (n + 1 >= outlen)
                return false;
            out[n++] = *q++;
        }
    }
    out[n] = '\0';
    *p = q;
    return n > 0;
}

int aof_manifest_parse(const char *text, size_t len, struct aof_manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *lend = eol ? eol : end;
        if (lend > p && lend[-1] == '\r')
            lend--;
        const char *q = p;
        p = eol ? eol + 1 : end;
        while (q < lend && (*q == ' ' || *q == '\t'))
            q++;
        if (q == lend || *q == '#')
            continue;
        struct aof_file f = { .type = 0 };
        bool have_name = false, have_seq = false;
        while (q < lend) {
            char key[32], val[AOF_NAME_MAX];
            if (!word(&q, lend, key, sizeof key))
                goto bad;
            while (q < lend && (*q == ' ' || *q == '\t'))
                q++;
            if (!word(&q, lend, val, sizeof val))
                goto bad;
            while (q < lend && (*q == ' ' || *q == '\t'))
                q++;
            if (strcmp(key, "file") == 0) {
                if (strchr(val, '/')) {
                    snprintf(err, errlen, "File can't be a path, just a filename");
                    return -1;
                }
                memcpy(f.name, val, strlen(val) + 1);
                have_name = true;
            } else if (strcmp(key, "seq") == 0) {
                char *e;
                f.seq = strtoull(val, &e, 10);
                if (*e)
                    goto bad;
                have_seq = true;
            } else if (strcmp(key, "type") == 0) {
                if (strlen(val) != 1 || !strchr("bhi", val[0]))
                    goto bad;
                f.type = val[0];
            } /* other keys: a later version's, ignored as Redis does */
        }
        if (!have_name || !have_seq || !f.type)
            goto bad;
        if (f.type == 'b') {
            if (m->base.name[0]) {
                snprintf(err, errlen, "Found duplicate base file information");
                return -1;
            }
            m->base = f;
        } else if (f.type == 'i') {
            if (m->nincr == AOF_MANIFEST_FILES_MAX) {
                snprintf(err, errlen, "Too many incr files in the AOF manifest (ringkv reads %d)",
                         AOF_MANIFEST_FILES_MAX);
                return -1;
            }
            if (m->nincr && f.seq <= m->incr[m->nincr - 1].seq) {
                snprintf(err, errlen, "Found a non-monotonic sequence number");
                return -1;
            }
            m->incr[m->nincr++] = f;
        }
    }
    if (!m->base.name[0] && m->nincr == 0) {
        snprintf(err, errlen, "Found an empty AOF manifest");
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen, "Invalid AOF manifest file format");
    return -1;
}

/* A name as Redis writes it: plain if it has no space or special byte. */
static void put_name(struct buf *out, const char *name)
{
    bool plain = true;
    for (const char *c = name; *c; c++)
        if (*c <= ' ' || *c == '"' || *c == '\\' || (unsigned char)*c >= 127)
            plain = false;
    if (plain) {
        buf_append_str(out, name);
        return;
    }
    buf_append_str(out, "\"");
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c == '"' || *c == '\\')
            buf_printf(out, "\\%c", *c);
        else if (*c == '\n')
            buf_append_str(out, "\\n");
        else if (*c == '\r')
            buf_append_str(out, "\\r");
        else if (*c == '\t')
            buf_append_str(out, "\\t");
        else if (*c < ' ' || *c >= 127)
            buf_printf(out, "\\x%02x", *c);
        else
            buf_append(out, c, 1);
    }
    buf_append_str(out, "\"");
}

static void put_line(struct buf *out, const struct aof_file *f)
{
    buf_append_str(out, "file ");
    put_name(out, f->name);
    buf_printf(out, " seq %llu type %c\n", (unsigned long long)f->seq, f->type);
}

void aof_manifest_format(const struct aof_manifest *m, struct buf *out)
{
    if (m->base.name[0])
        put_line(out, &m->base);
    for (int i = 0; i < m->nincr; i++)
        put_line(out, &m->incr[i]);
}
