/* acl_log: ACL LOG, the node's list of refusals (a command, a key, a
 * channel) and failed logins, newest first, as Redis keeps it: the same
 * refusal within 60 s is counted in one entry, at most acllog-max-len
 * entries are kept. Written on refusals only, from any shard, under the
 * log's own lock (core/acl.h). */
#include "core/acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimalloc.h>

/* Redis groups the same refusal within this long into one entry. */
#define ACL_LOG_GROUP_MS 60000

static void entry_free(struct acl_log_entry *e)
{
    mi_free(e->object);
    mi_free(e->username);
    mi_free(e->client_info);
}

void acl_log_add(struct acl *a, const char *reason, const char *context, const char *object, size_t olen,
                 const char *username, size_t ulen, const char *client_info, int64_t now_ms)
{
    pthread_mutex_lock(&a->log_lock);
    long long max = atomic_load(&a->log_max);
    for (int i = 0; i < a->nlog; i++) {
        struct acl_log_entry *e = &a->log[i];
        if (strcmp(e->reason, reason) == 0 && strcmp(e->context, context) == 0 &&
            strlen(e->object) == olen && memcmp(e->object, object, olen) == 0 &&
            strlen(e->username) == ulen && memcmp(e->username, username, ulen) == 0 &&
            now_ms - e->updated_ms < ACL_LOG_GROUP_MS) {
            e->count++;
            e->updated_ms = now_ms;
            mi_free(e->client_info);
            e->client_info = acl_dup_bytes(client_info, strlen(client_info));
            /* the entry moves to the head, as the newest */
            struct acl_log_entry keep = *e;
            memmove(&a->log[1], &a->log[0], (size_t)i * sizeof(*e));
            a->log[0] = keep;
            pthread_mutex_unlock(&a->log_lock);
            return;
        }
    }
    if (max <= 0) {
        pthread_mutex_unlock(&a->log_lock);
        return;
    }
    a->log = mi_realloc(a->log, (size_t)(a->nlog + 1) * sizeof(*a->log));
    if (!a->log)
        abort();
    memmove(&a->log[1], &a->log[0], (size_t)a->nlog * sizeof(*a->log));
    struct acl_log_entry *e = &a->log[0];
    memset(e, 0, sizeof(*e));
    e->count = 1;
    snprintf(e->reason, sizeof(e->reason), "%s", reason);
    snprintf(e->context, sizeof(e->context), "%s", context);
    e->object = acl_dup_bytes(object, olen);
    e->username = acl_dup_bytes(username, ulen);
    e->created_ms = e->updated_ms = now_ms;
    e->client_info = acl_dup_bytes(client_info, strlen(client_info));
    a->nlog++;
    while (a->nlog > max)
        entry_free(&a->log[--a->nlog]);
    pthread_mutex_unlock(&a->log_lock);
}

void acl_log_reset(struct acl *a)
{
    pthread_mutex_lock(&a->log_lock);
    for (int i = 0; i < a->nlog; i++)
        entry_free(&a->log[i]);
    mi_free(a->log);
    a->log = NULL;
    a->nlog = 0;
    pthread_mutex_unlock(&a->log_lock);
}

void acl_client_info(const struct client *c, const char *user, int64_t now_ms, char *out, size_t cap)
{
    long long age = c->created_ms > 0 && now_ms > c->created_ms ? (now_ms - c->created_ms) / 1000 : 0;
    long long idle = c->last_active_ms > 0 && now_ms > c->last_active_ms
                         ? (now_ms - c->last_active_ms) / 1000 : 0;
    /* the buffers' fields are the connection's (net/), unknown here: 0 */
    snprintf(out, cap, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=N db=%d "
             "sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 "
             "obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=%s redir=-1 resp=%d",
             (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name, age, idle, c->db,
             c->last_cmd[0] ? c->last_cmd : "NULL", user, c->proto);
}
