/* keyspace_events: notify-keyspace-events's letters to bits and back
 * (see keyspace_events.h). */
#include "core/keyspace_events.h"

#include <stddef.h>

/* The class letters A stands for, in the order CONFIG GET writes them;
 * n follows them, outside A. */
static const struct { char letter; int bit; } classes[] = {
    { 'g', KEV_GENERIC }, { '$', KEV_STRING }, { 'l', KEV_LIST },    { 's', KEV_SET },
    { 'h', KEV_HASH },    { 'z', KEV_ZSET },   { 'x', KEV_EXPIRED }, { 'e', KEV_EVICTED },
    { 't', KEV_STREAM },  { 'd', KEV_MODULE }, { 'n', KEV_NEW },
};

int keyspace_events_parse(const char *text)
{
    int flags = 0;
    for (const char *p = text; *p; p++) {
        int bit = 0;
        switch (*p) {
        case 'A': bit = KEV_ALL; break;
        case 'K': bit = KEV_KEYSPACE; break;
        case 'E': bit = KEV_KEYEVENT; break;
        case 'm': bit = KEV_KEY_MISS; break;
        default:
            for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
                if (classes[i].letter == *p)
                    bit = classes[i].bit;
        }
        if (!bit)
            return -1;
        flags |= bit;
    }
    return flags;
}

void keyspace_events_text(int flags, char *out)
{
    size_t n = 0;
    if ((flags & KEV_ALL) == KEV_ALL) {
        out[n++] = 'A';
    } else {
        for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
            if (flags & classes[i].bit)
                out[n++] = classes[i].letter;
    }
    if (flags & KEV_KEYSPACE)
        out[n++] = 'K';
    if (flags & KEV_KEYEVENT)
        out[n++] = 'E';
    if (flags & KEV_KEY_MISS)
        out[n++] = 'm';
    out[n] = '\0';
}
