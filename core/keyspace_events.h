/* keyspace_events: the classes of keyspace notifications a user turns on
 * with notify-keyspace-events, as Redis's letters (K E g $ l s h z x e t m
 * d n, and A for "g$lshzxetd"), held as bits. The config reads and writes
 * the option through these; the shards (shards/notify.h) publish an event
 * only if its class's bit and K or E are set. */
#ifndef RINGKV_KEYSPACE_EVENTS_H
#define RINGKV_KEYSPACE_EVENTS_H

enum keyspace_event_class {
    KEV_KEYSPACE = 1 << 0,  /* K: __keyspace@0__:<key>, message the event */
    KEV_KEYEVENT = 1 << 1,  /* E: __keyevent@0__:<event>, message the key */
    KEV_GENERIC  = 1 << 2,  /* g: del, expire, rename_from, copy_to, ... */
    KEV_STRING   = 1 << 3,  /* $ */
    KEV_LIST     = 1 << 4,  /* l */
    KEV_SET      = 1 << 5,  /* s */
    KEV_HASH     = 1 << 6,  /* h */
    KEV_ZSET     = 1 << 7,  /* z */
    KEV_EXPIRED  = 1 << 8,  /* x: a key's time passed */
    KEV_EVICTED  = 1 << 9,  /* e: maxmemory took a key */
    KEV_STREAM   = 1 << 10, /* t */
    KEV_KEY_MISS = 1 << 11, /* m: a read found no key (not part of A) */
    KEV_MODULE   = 1 << 12, /* d */
    KEV_NEW      = 1 << 13, /* n: a key was created (not part of A) */
    KEV_ALL = KEV_GENERIC | KEV_STRING | KEV_LIST | KEV_SET | KEV_HASH | KEV_ZSET | KEV_EXPIRED |
              KEV_EVICTED | KEV_STREAM | KEV_MODULE,
};

/* The error text Redis gives for a letter it does not know. */
#define KEYSPACE_EVENTS_INVALID "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

/* The bits of a string of class letters, or -1 if one is not a class. */
int keyspace_events_parse(const char *text);

/* The letters of flags as Redis writes them back (CONFIG GET): A when every
 * class of A is on, else each class letter in Redis's order, then K, E and
 * m. Like Redis 7.0, n is written only when A is not. out holds 32 bytes. */
void keyspace_events_text(int flags, char *out);

#endif
