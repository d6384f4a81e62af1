/* prefetch: before a pipeline's commands run, prefetch what the first key
 * of each of the next few will touch in this shard's store, so their
 * lookups overlap their cache misses instead of taking them one after
 * another (the lookup's miss on the entry is most of a SET's or GET's time
 * once the table outgrows the cache). */
#include "shards/dispatch.h"
#include "shards/dispatch_internal.h"

#include "shards/store/store.h"

#include <string.h>

/* The RESP integer at *p up to "\r\n" (at most 18 digits), moving *p past
 * it; -1 if it is not one or not complete within end. */
static long long scan_int(const char **p, const char *end)
{
    long long v = 0;
    const char *q = *p;
    int digits = 0;
    while (q < end && *q >= '0' && *q <= '9' && digits < 18) {
        v = v * 10 + (*q++ - '0');
        digits++;
    }
    if (!digits || end - q < 2 || q[0] != '\r' || q[1] != '\n')
        return -1;
    *p = q + 2;
    return v;
}

/* A pipeline: before running its commands, prefetch what the first key of
 * each of the next few will touch in this shard's store, so their lookups
 * overlap their cache misses instead of taking them one after another (the
 * lookup's miss on the entry is most of a SET's or GET's time once the table
 * outgrows the cache). Scans complete multibulk commands only and stops at
 * anything else; a key that lives on another shard costs a wasted prefetch.
 *
 * A pipeline whose first two commands name the same key is taken for a
 * pipeline on one key (HSET/SADD/LPUSH/ZADD on one collection, as
 * redis-benchmark's tests and queue consumers send): the scan stops there,
 * since that key's entry is in the cache after its first command. Scanning
 * and hashing its sixteen keys anyway was a tenth of such a pipeline's
 * instructions (callgrind, redis-benchmark -t sadd -P 16); checking only
 * the second key costs a pipeline of distinct keys one comparison. */
#define PREFETCH_MAX 16

void dispatch_prefetch_pipeline(struct shard *sh, const char *p, size_t n)
{
    uint64_t h[PREFETCH_MAX];
    int k = 0;
    struct slice key = { NULL, 0 }, first = { NULL, 0 };
    const char *end = p + n;
    while (k < PREFETCH_MAX && end - p > 4 && *p == '*') {
        p++;
        long long argc = scan_int(&p, end);
        if (argc < 1 || argc > 1024)
            break;
        bool complete = true;
        for (long long i = 0; i < argc; i++) {
            if (p >= end || *p != '$') {
                complete = false;
                break;
            }
            p++;
            long long len = scan_int(&p, end);
            if (len < 0 || end - p < len + 2) {
                complete = false;
                break;
            }
            if (i == 1)
                key = (struct slice){ p, (size_t)len };
            p += len + 2;
        }
        if (!complete)
            break;
        if (argc < 2)
            continue;
        if (k == 0)
            first = key;
        else if (k == 1 && key.len == first.len && memcmp(key.ptr, first.ptr, key.len) == 0)
            return; /* one key: nothing to overlap */
        h[k++] = store_key_hash(key);
    }
    if (k < 2)
        return; /* a single command: nothing to overlap with */
    for (int i = 0; i < k; i++)
        store_prefetch_bucket(sh->store, h[i]);
    for (int i = 0; i < k; i++)
        store_prefetch_entry(sh->store, h[i]);
}
