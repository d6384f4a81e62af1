/* key_locks: see key_locks.h. */
#include "shards/key_locks.h"

#include <mimalloc.h>
#include <string.h>
#include <xxhash.h>

#include "shards/dispatch.h"
#include "shards/shard.h"

struct key_lock {
    uint64_t owner;
    uint64_t hash;
    size_t   len;
    char    *key;
};

struct key_locks {
    struct key_lock *v;
    int              n, cap;
};

static const struct key_lock *find(const struct key_locks *kl, struct slice key, uint64_t hash)
{
    for (int i = 0; i < kl->n; i++)
        if (kl->v[i].hash == hash && kl->v[i].len == key.len && memcmp(kl->v[i].key, key.ptr, key.len) == 0)
            return &kl->v[i];
    return NULL;
}

bool key_locks_take(struct shard *sh, const struct slice *keys, int n, uint64_t owner)
{
    struct key_locks *kl = sh->key_locks;
    if (!kl)
        kl = sh->key_locks = mi_zalloc(sizeof(*kl));
    for (int k = 0; k < n; k++) {
        const struct key_lock *l = find(kl, keys[k], XXH3_64bits(keys[k].ptr, keys[k].len));
        if (l && l->owner != owner)
            return false;
    }
    for (int k = 0; k < n; k++) {
        uint64_t h = XXH3_64bits(keys[k].ptr, keys[k].len);
        if (find(kl, keys[k], h))
            continue;
        if (kl->n == kl->cap) {
            kl->cap = kl->cap ? kl->cap * 2 : 16;
            kl->v = mi_realloc(kl->v, sizeof(*kl->v) * (size_t)kl->cap);
        }
        char *copy = mi_malloc(keys[k].len ? keys[k].len : 1);
        memcpy(copy, keys[k].ptr, keys[k].len);
        kl->v[kl->n++] = (struct key_lock){ owner, h, keys[k].len, copy };
    }
    sh->key_locks_held = kl->n;
    return true;
}

void key_locks_release(struct shard *sh, uint64_t owner)
{
    struct key_locks *kl = sh->key_locks;
    if (!kl)
        return;
    int kept = 0;
    for (int i = 0; i < kl->n; i++) {
        if (kl->v[i].owner == owner)
            mi_free(kl->v[i].key);
        else
            kl->v[kept++] = kl->v[i];
    }
    bool released = kept != kl->n;
    kl->n = kept;
    sh->key_locks_held = kept;
    if (released)
        dispatch_key_waits_wake(sh);
}

bool key_locks_bar(const struct shard *sh, const struct command *cmd, int argc, const struct slice *argv,
                   uint64_t caller)
{
    const struct key_locks *kl = sh->key_locks;
    int small[16];
    int *idx = small;
    int nk = command_keys(cmd, argc, argv, idx, 16);
    if (nk > 16) {
        idx = mi_malloc(sizeof(int) * (size_t)nk);
        command_keys(cmd, argc, argv, idx, nk);
    }
    bool barred = false;
    for (int k = 0; k < nk && !barred; k++) {
        struct slice key = argv[idx[k]];
        const struct key_lock *l = find(kl, key, XXH3_64bits(key.ptr, key.len));
        barred = l && l->owner != caller;
    }
    if (idx != small)
        mi_free(idx);
    return barred;
}

bool key_locks_any_other(const struct shard *sh, const struct slice *keys, int n, uint64_t caller)
{
    const struct key_locks *kl = sh->key_locks;
    if (!kl || kl->n == 0)
        return false;
    for (int k = 0; k < n; k++) {
        const struct key_lock *l = find(kl, keys[k], XXH3_64bits(keys[k].ptr, keys[k].len));
        if (l && l->owner != caller)
            return true;
    }
    return false;
}

void key_locks_free(struct shard *sh)
{
    struct key_locks *kl = sh->key_locks;
    if (!kl)
        return;
    for (int i = 0; i < kl->n; i++)
        mi_free(kl->v[i].key);
    mi_free(kl->v);
    mi_free(kl);
    sh->key_locks = NULL;
    sh->key_locks_held = 0;
}
