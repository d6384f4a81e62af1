/* libFuzzer target for the RESP request parser and resp_value_len.
 *
 * The input is fed to the parser in pieces whose sizes come from the first
 * byte (so the fuzzer explores split points too), over a buffer that moves
 * between calls, with the default limits or small ones. Invariants checked:
 * consumed <= bytes given; RESP_DONE/RESP_EMPTY consume something, RESP_MORE
 * nothing; arguments lie inside the consumed bytes (or the parser's scratch
 * for decoded inline words) and their lengths sum to no more than consumed;
 * errors are Redis protocol error texts; and the commands found are the same
 * as when the whole input is given at once (unless a "too big" limit fired,
 * which legitimately depends on how the bytes arrive). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "core/buf.h"
#include "core/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_resp: check failed: %s (%s:%d)\n", #cond, \
                    __FILE__, __LINE__);                                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

struct run {
    struct buf log;   /* canonical outcome text */
    bool       too_big;
};

static void log_u64(struct buf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%llu,", (unsigned long long)v);
    buf_append(b, tmp, (size_t)n);
}

/* Parse data[0..size) delivered in pieces (piece == 0: all at once). */
static void run_parser(const uint8_t *data, size_t size, uint8_t mode,
                       const struct resp_limits *lim, bool whole, struct run *out)
{
    struct resp_parser p;
    resp_parser_init(&p);
    struct buf pending;
    buf_init(&pending);
    buf_init(&out->log);
    out->too_big = false;

    uint32_t rng = 0x9e3779b9u ^ mode;
    size_t max_piece = (size_t)1 << (mode & 7); /* 1..128 */
    size_t at = 0;
    bool stop = false;

    while (at < size && !stop) {
        size_t piece = size - at;
        if (!whole) {
            rng = rng * 1103515245u + 12345u;
            size_t want = 1 + (rng >> 16) % max_piece;
            if (want < piece)
                piece = want;
        }
        buf_append(&pending, data + at, piece);
        at += piece;

        for (;;) {
            size_t n = pending.len;
            char *moved = mi_malloc(n ? n : 1); /* exact size: ASan sees overreads */
            if (n)
                memcpy(moved, pending.data, n);
            size_t consumed = (size_t)-1;
            const char *err = NULL;
            enum resp_status st = resp_parse(&p, moved, n, lim, &consumed, &err);
            CHECK(consumed <= n);
            if (st == RESP_DONE) {
                CHECK(consumed > 0);
                CHECK(p.argc > 0);
                size_t sum = 0;
                log_u64(&out->log, p.argc);
                for (size_t i = 0; i < p.argc; i++) {
                    const char *a = p.argv[i].ptr;
                    size_t l = p.argv[i].len;
                    bool in_buf = a >= moved && l <= consumed && a <= moved + consumed - l;
                    bool in_scratch = p.scratch.data && a >= p.scratch.data &&
                                      l <= p.scratch.len && a <= p.scratch.data + p.scratch.len - l;
                    CHECK(in_buf || in_scratch);
                    sum += l;
                    CHECK(sum <= consumed);
                    log_u64(&out->log, l);
                    buf_append(&out->log, a, l);
                }
                buf_append(&out->log, "|", 1);
            } else if (st == RESP_EMPTY) {
                CHECK(consumed > 0);
                buf_append(&out->log, "E|", 2);
            } else if (st == RESP_MORE) {
                CHECK(consumed == 0);
            } else {
                CHECK(st == RESP_ERROR);
                CHECK(err != NULL);
                CHECK(strncmp(err, "ERR Protocol error: ", 20) == 0);
                CHECK(strchr(err, '\r') == NULL && strchr(err, '\n') == NULL);
                if (strstr(err, "too big"))
                    out->too_big = true;
                buf_append_str(&out->log, err);
                stop = true;
            }
            mi_free(moved);
            if (st == RESP_MORE || st == RESP_ERROR)
                break;
            buf_consume(&pending, consumed);
        }
    }
    buf_free(&pending);
    resp_parser_deinit(&p);
}

static void check_value_len(const uint8_t *data, size_t size)
{
    size_t n = resp_value_len((const char *)data, size);
    CHECK(n <= size);
    if (n) {
        /* the value is self-delimiting: exactly n bytes, any fewer is incomplete */
        CHECK(resp_value_len((const char *)data, n) == n);
        CHECK(resp_value_len((const char *)data, n - 1) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        check_value_len(data, size);
        return 0;
    }
    uint8_t mode = data[0];
    const uint8_t *body = data + 1;
    size_t n = size - 1;

    struct resp_limits lim = RESP_LIMITS_DEFAULT;
    if (mode & 0x80)
        lim = (struct resp_limits){ .max_bulk_len = 40, .max_args = 8, .max_inline_len = 24 };

    struct run pieces, whole;
    run_parser(body, n, mode, &lim, false, &pieces);
    run_parser(body, n, mode, &lim, true, &whole);
    if (!pieces.too_big && !whole.too_big) {
        CHECK(pieces.log.len == whole.log.len);
        CHECK(pieces.log.len == 0 || memcmp(pieces.log.data, whole.log.data, pieces.log.len) == 0);
    }
    buf_free(&pieces.log);
    buf_free(&whole.log);

    check_value_len(body, n);
    check_value_len(data, size);
    return 0;
}
