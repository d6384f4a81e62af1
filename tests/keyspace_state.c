/* keyspace_state: see keyspace_state.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "keyspace_state.h"

static void text_add(char **t, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *t = realloc(*t, *cap);
        assert_non_null(*t);
    }
    memcpy(*t + *len, s, n);
    *len += n;
    (*t)[*len] = '\0';
}

static void text_str(char **t, size_t *len, size_t *cap, const char *s, size_t n)
{
    char head[32];
    int k = snprintf(head, sizeof head, "%zu:", n);
    text_add(t, len, cap, head, (size_t)k);
    for (size_t i = 0; i < n; i++) { /* bytes that are not text as \xHH: the state is a C string */
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x20 && b < 0x7f && b != '\\') {
            text_add(t, len, cap, s + i, 1);
        } else {
            char esc[8];
            snprintf(esc, sizeof esc, "\\x%02x", b);
            text_add(t, len, cap, esc, 4);
        }
    }
    text_add(t, len, cap, " ", 1);
}

static int cmp_rval(const void *a, const void *b)
{
    const struct rval *x = *(struct rval *const *)a, *y = *(struct rval *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

/* pairs (a hash's fields and values) sorted by their first element */
static int cmp_pair(const void *a, const void *b)
{
    return cmp_rval(a, b);
}

static struct rval *cmd_key(tconn *c, const char *verb, const char *key, const char *a1, const char *a2,
                            const char *a3)
{
    const char *argv[5] = { verb, key, a1, a2, a3 };
    int n = 2 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);
    size_t lens[5];
    for (int i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    tsendb(c, n, argv, lens);
    struct rval *v = tread(c, 10000);
    assert_non_null(v);
    return v;
}

/* Every key, sorted, with its type, its absolute expiry and its value in
 * a canonical form (a set's members sorted, a hash's fields sorted). */
char *keyspace_state(tconn *c)
{
    struct rval *keys = tcmd(c, "KEYS *");
    assert_int_equal(keys->type, R_ARRAY);
    qsort(keys->elem, keys->n, sizeof keys->elem[0], cmp_rval);
    char *t = NULL;
    size_t len = 0, cap = 0;
    text_add(&t, &len, &cap, "", 0);
    for (size_t i = 0; i < keys->n; i++) {
        const char *k = keys->elem[i]->str;
        text_str(&t, &len, &cap, k, keys->elem[i]->len);
        struct rval *type = cmd_key(c, "TYPE", k, NULL, NULL, NULL);
        text_str(&t, &len, &cap, type->str, type->len);
        struct rval *at = cmd_key(c, "PEXPIRETIME", k, NULL, NULL, NULL);
        char num[32];
        int nn = snprintf(num, sizeof num, "%lld", at->integer);
        text_str(&t, &len, &cap, num, (size_t)nn);
        rval_free(at);
        struct rval *v = NULL;
        if (strcmp(type->str, "string") == 0) {
            v = cmd_key(c, "GET", k, NULL, NULL, NULL);
            text_str(&t, &len, &cap, v->str, v->len);
        } else {
            if (strcmp(type->str, "hash") == 0)
                v = cmd_key(c, "HGETALL", k, NULL, NULL, NULL);
            else if (strcmp(type->str, "set") == 0)
                v = cmd_key(c, "SMEMBERS", k, NULL, NULL, NULL);
            else if (strcmp(type->str, "list") == 0)
                v = cmd_key(c, "LRANGE", k, "0", "-1", NULL);
            else if (strcmp(type->str, "zset") == 0)
                v = cmd_key(c, "ZRANGE", k, "0", "-1", "WITHSCORES");
            else if (strcmp(type->str, "stream") == 0)
                v = cmd_key(c, "XRANGE", k, "-", "+", NULL);
            else
                fail_msg("unexpected type %s", type->str);
            assert_true(v->type == R_ARRAY || v->type == R_MAP || v->type == R_SET);
            if (strcmp(type->str, "set") == 0)
                qsort(v->elem, v->n, sizeof v->elem[0], cmp_rval);
            if (strcmp(type->str, "hash") == 0) /* sort by field, each with its value */
                qsort(v->elem, v->n / 2, 2 * sizeof v->elem[0], cmp_pair);
            for (size_t j = 0; j < v->n; j++) {
                const struct rval *e = v->elem[j];
                if (e->type != R_ARRAY) {
                    text_str(&t, &len, &cap, e->str, e->len);
                    continue;
                }
                /* a stream entry: its ID, then its fields and values */
                text_str(&t, &len, &cap, e->elem[0]->str, e->elem[0]->len);
                for (size_t f = 0; f < e->elem[1]->n; f++)
                    text_str(&t, &len, &cap, e->elem[1]->elem[f]->str, e->elem[1]->elem[f]->len);
            }
        }
        rval_free(v);
        rval_free(type);
        text_add(&t, &len, &cap, "\n", 1);
    }
    rval_free(keys);
    return t;
}

void expect_same_keyspace(const char *a, const char *b)
{
    if (strcmp(a, b) != 0) {
        size_t i = 0;
        while (a[i] && a[i] == b[i])
            i++;
        size_t from = i > 80 ? i - 80 : 0;
        fail_msg("keyspaces differ at byte %zu:\n  before: ...%.160s\n  after:  ...%.160s", i, a + from, b + from);
    }
}

char *keyspace_state_dbs(tconn *c, int ndbs)
{
    char *t = NULL;
    size_t len = 0, cap = 0;
    text_add(&t, &len, &cap, "", 0);
    for (int d = 0; d < ndbs; d++) {
        expect_ok(tcmd(c, "SELECT %d", d));
        char *one = keyspace_state(c);
        if (*one) {
            char head[32];
            int n = snprintf(head, sizeof head, "db%d:\n", d);
            text_add(&t, &len, &cap, head, (size_t)n);
            text_add(&t, &len, &cap, one, strlen(one));
        }
        free(one);
    }
    expect_ok(tcmd(c, "SELECT 0"));
    return t;
}
