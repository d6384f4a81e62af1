/* merge: combine the per-shard replies of a split or all-shards command into
 * the one reply the client sees (see the end of command.h).
 *
 * Every part is one complete RESP value in the client's protocol. Common rule
 * for all merges: if any part is an error, the merged reply is the first
 * error (in shard order), copied as it is. A part that is not a well-formed
 * value of the expected shape is a bug between shards; the client gets an
 * error rather than a broken stream. */
#include "core/command.h"
#include "core/resp.h"

#include <limits.h>
#include <mimalloc.h>
#include <stdbool.h>
#include <stdlib.h>

#define ERR_BAD_PART "ERR internal error: malformed reply from a shard"

/* Bytes of the one value in a part (0 if the part is not one whole value). */
static size_t part_len(const struct buf *b)
{
    if (b->len == 0)
        return 0;
    return resp_value_len(b->data, b->len);
}

static bool is_error(const struct buf *b)
{
    return b->len > 0 && (b->data[0] == '-' || b->data[0] == '!');
}

/* Copy the first error part to out; true if there was one. */
bool merge_copy_first_error(struct reply *out, const struct merge_input *in)
{
    for (int i = 0; i < in->nparts; i++) {
        const struct buf *b = &in->parts[i];
        if (!is_error(b))
            continue;
        size_t n = part_len(b);
        if (n)
            buf_append(out->out, b->data, n);
        else
            reply_error(out, ERR_BAD_PART);
        return true;
    }
    return false;
}

/* Parse the decimal number of a header line b[1..CR) (no validation of the
 * type byte); *hdr = bytes of the header line. */
static bool header_number(const char *b, size_t n, long long *v, size_t *hdr)
{
    const char *cr = n > 1 ? memchr(b + 1, '\r', n - 1) : NULL;
    if (!cr || (size_t)(cr - b) + 1 >= n || cr[1] != '\n')
        return false;
    size_t len = (size_t)(cr - b) - 1;
    if (len == 0 || len > 20)
        return false;
    const char *s = b + 1;
    bool neg = s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == len)
        return false;
    unsigned long long acc = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (ULLONG_MAX - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (neg ? acc > (unsigned long long)LLONG_MAX + 1 : acc > (unsigned long long)LLONG_MAX)
        return false;
    *v = neg ? (long long)(0ULL - acc) : (long long)acc;
    *hdr = (size_t)(cr - b) + 2;
    return true;
}

/* An array-like part: its element count and where its elements start.
 * Accepts *N and ~N; a null (*-1, _) counts as an empty array. */
static bool array_part(const struct buf *b, long long *count, size_t *body, size_t *end)
{
    size_t n = part_len(b);
    if (n == 0)
        return false;
    *end = n;
    if (b->data[0] == '_') {
        *count = 0;
        *body = n;
        return true;
    }
    if (b->data[0] != '*' && b->data[0] != '~')
        return false;
    if (!header_number(b->data, n, count, body))
        return false;
    if (*count == -1 && b->data[0] == '*') {
        *count = 0;
        return true;
    }
    return *count >= 0;
}

void merge_sum_int(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    long long sum = 0;
    for (int i = 0; i < in->nparts; i++) {
        const struct buf *b = &in->parts[i];
        long long v;
        size_t hdr;
        if (b->len == 0 || b->data[0] != ':' || !header_number(b->data, b->len, &v, &hdr) ||
            __builtin_add_overflow(sum, v, &sum)) {
            reply_error(out, ERR_BAD_PART);
            return;
        }
    }
    reply_int(out, sum);
}

void merge_first_ok(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    for (int i = 0; i < in->nparts; i++) {
        const struct buf *b = &in->parts[i];
        if (b->len >= 5 && memcmp(b->data, "+OK\r\n", 5) == 0)
            continue;
        /* not OK and not an error: pass it on as the shard said it */
        size_t n = part_len(b);
        if (n)
            buf_append(out->out, b->data, n);
        else
            reply_error(out, ERR_BAD_PART);
        return;
    }
    reply_ok(out);
}

void merge_by_key(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    if (!in->part_of_key) {
        merge_concat_arrays(out, in);
        return;
    }
    /* per part: the next element to take and how many remain */
    size_t cursor_small[64];
    long long left_small[64];
    size_t *cursor = cursor_small;
    long long *left = left_small;
    if (in->nparts > 64) {
        cursor = mi_malloc((size_t)in->nparts * sizeof(*cursor));
        left = mi_malloc((size_t)in->nparts * sizeof(*left));
        if (!cursor || !left)
            abort();
    }
    size_t start = out->out->len;
    bool ok = true;
    for (int i = 0; i < in->nparts && ok; i++) {
        size_t end;
        ok = array_part(&in->parts[i], &left[i], &cursor[i], &end);
    }
    if (ok) {
        reply_array(out, (size_t)(in->nkeys > 0 ? in->nkeys : 0));
        for (int k = 0; k < in->nkeys && ok; k++) {
            int i = in->part_of_key[k];
            if (i < 0 || i >= in->nparts || left[i] <= 0) {
                ok = false;
                break;
            }
            const struct buf *b = &in->parts[i];
            size_t n = resp_value_len(b->data + cursor[i], b->len - cursor[i]);
            if (n == 0) {
                ok = false;
                break;
            }
            buf_append(out->out, b->data + cursor[i], n);
            cursor[i] += n;
            left[i]--;
        }
    }
    if (!ok) {
        out->out->len = start;
        reply_error(out, ERR_BAD_PART);
    }
    if (cursor != cursor_small) {
        mi_free(cursor);
        mi_free(left);
    }
}

void merge_concat_arrays(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    long long total = 0;
    char type = '*';
    for (int i = 0; i < in->nparts; i++) {
        long long count;
        size_t body, end;
        if (!array_part(&in->parts[i], &count, &body, &end)) {
            reply_error(out, ERR_BAD_PART);
            return;
        }
        if (i == 0 && in->parts[0].data[0] == '~')
            type = '~';
        total += count;
    }
    buf_printf(out->out, "%c%lld\r\n", type, total);
    for (int i = 0; i < in->nparts; i++) {
        long long count;
        size_t body = 0, end = 0;
        array_part(&in->parts[i], &count, &body, &end);
        buf_append(out->out, in->parts[i].data + body, end - body);
    }
}

static bool is_nil(const struct buf *b)
{
    return (b->len >= 5 && (memcmp(b->data, "$-1\r\n", 5) == 0 || memcmp(b->data, "*-1\r\n", 5) == 0)) ||
           (b->len >= 3 && memcmp(b->data, "_\r\n", 3) == 0);
}

void merge_first_non_null(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    if (in->nparts <= 0) {
        reply_null(out);
        return;
    }
    int first = rand() % in->nparts;
    for (int j = 0; j < in->nparts; j++) {
        const struct buf *b = &in->parts[(first + j) % in->nparts];
        if (is_nil(b))
            continue;
        size_t n = part_len(b);
        if (n)
            buf_append(out->out, b->data, n);
        else
            reply_error(out, ERR_BAD_PART);
        return;
    }
    reply_null(out);
}
