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

/* An array-like part (*N or ~N; a null array counts as empty): its element
 * count, and a reader positioned at its first element. */
static bool array_part(const struct buf *b, long long *count, struct resp_reader *elems)
{
    resp_reader_init(elems, b->data, part_len(b));
    char t = resp_peek(elems);
    if ((t != '*' && t != '~' && t != '_') || !resp_read_aggregate(elems, count))
        return false;
    if (*count == -1)
        *count = 0;
    return *count >= 0;
}

void merge_sum_int(struct reply *out, const struct merge_input *in)
{
    if (merge_copy_first_error(out, in))
        return;
    long long sum = 0;
    for (int i = 0; i < in->nparts; i++) {
        struct resp_reader rd;
        long long v;
        resp_reader_init(&rd, in->parts[i].data, in->parts[i].len);
        if (!resp_read_int(&rd, &v) || __builtin_add_overflow(sum, v, &sum)) {
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
    struct resp_reader cursor_small[64];
    long long left_small[64];
    struct resp_reader *cursor = cursor_small;
    long long *left = left_small;
    if (in->nparts > 64) {
        cursor = mi_malloc((size_t)in->nparts * sizeof(*cursor));
        left = mi_malloc((size_t)in->nparts * sizeof(*left));
        if (!cursor || !left)
            abort();
    }
    size_t start = out->out->len;
    bool ok = true;
    for (int i = 0; i < in->nparts && ok; i++)
        ok = array_part(&in->parts[i], &left[i], &cursor[i]);
    if (ok) {
        reply_array(out, (size_t)(in->nkeys > 0 ? in->nkeys : 0));
        for (int k = 0; k < in->nkeys && ok; k++) {
            int i = in->part_of_key[k];
            if (i < 0 || i >= in->nparts || left[i] <= 0) {
                ok = false;
                break;
            }
            struct slice v;
            if (!resp_read_value(&cursor[i], &v)) {
                ok = false;
                break;
            }
            buf_append(out->out, v.ptr, v.len);
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
        struct resp_reader elems;
        if (!array_part(&in->parts[i], &count, &elems)) {
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
        struct resp_reader elems;
        array_part(&in->parts[i], &count, &elems);
        buf_append(out->out, elems.p, (size_t)(elems.end - elems.p));
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
