/* micro_resp: RESP request parsing of a pipelined batch.
 *
 * The batch is what a client with pipeline depth 16 sends in one write:
 * 16 multibulk commands, 2 SET (16-byte key, 64-byte value) and 14 GET
 * (16-byte key), about the 1:10 SET:GET mix of bench/compare. Each round
 * parses the whole batch from one buffer with resp_parse, as a shard does
 * after a read; the result is ns per command (the batch time / 16).
 * parse_batch is the function to read in callgrind (Ir / commands). */
#include <inttypes.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/resp.h"
#include "bench/micro.h"

#define BATCH_COMMANDS 16
#define KEY_SIZE 16
#define VALUE_SIZE 64

static void build_batch(struct buf *b)
{
    char key[KEY_SIZE + 1], value[VALUE_SIZE + 1];
    memset(value, 'v', VALUE_SIZE);
    value[VALUE_SIZE] = '\0';
    for (int i = 0; i < BATCH_COMMANDS; i++) {
        snprintf(key, sizeof key, "key:%012d", i * 7919);
        if (i % 8 == 0)
            buf_printf(b, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
                       KEY_SIZE, key, VALUE_SIZE, value);
        else
            buf_printf(b, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", KEY_SIZE, key);
    }
}

/* Parse every command of batch[0..n); returns the commands parsed (or exits
 * on a parser result other than RESP_DONE: the batch is well formed). */
__attribute__((noinline)) static unsigned parse_batch(struct resp_parser *p, const char *batch, size_t n,
                                                      const struct resp_limits *lim)
{
    size_t off = 0;
    unsigned commands = 0;
    uint64_t bytes = 0;
    while (off < n) {
        size_t consumed = 0;
        const char *err = NULL;
        enum resp_status st = resp_parse(p, batch + off, n - off, lim, &consumed, &err);
        if (st != RESP_DONE) {
            fprintf(stderr, "micro_resp: unexpected parser status %d (%s)\n", (int)st, err ? err : "");
            exit(1);
        }
        bytes += p->argv[p->argc - 1].len;
        off += consumed;
        commands++;
    }
    micro_sink += bytes;
    return commands;
}

int main(int argc, char **argv)
{
    int quick = micro_quick(argc, argv, "RESP parsing of a pipelined batch of 16 SET/GET commands\n");
    if (quick < 0)
        return 2;
    uint64_t rounds = quick ? 1000 : 2000000;

    struct buf batch;
    buf_init(&batch);
    build_batch(&batch);
    struct resp_parser p;
    resp_parser_init(&p);
    const struct resp_limits lim = RESP_LIMITS_DEFAULT;

    printf("micro_resp: resp_parse over a pipelined batch of %d commands "
           "(2 SET with %d-byte key and %d-byte value, 14 GET with %d-byte key), "
           "%zu bytes; %" PRIu64 " rounds%s\n",
           BATCH_COMMANDS, KEY_SIZE, VALUE_SIZE, KEY_SIZE, batch.len, rounds, quick ? " (--quick)" : "");

    /* warm caches and the parser's argv arrays */
    for (int i = 0; i < 1000; i++)
        parse_batch(&p, batch.data, batch.len, &lim);

    uint64_t commands = 0;
    uint64_t t0 = micro_now_ns();
    for (uint64_t r = 0; r < rounds; r++)
        commands += parse_batch(&p, batch.data, batch.len, &lim);
    uint64_t dt = micro_now_ns() - t0;

    micro_report("resp_parse per command (pipelined 16)", commands, dt);
    printf("  %.2f ns per batch of %d, %.3f GB/s\n", (double)dt / (double)rounds, BATCH_COMMANDS,
           (double)batch.len * (double)rounds / (double)dt);

    resp_parser_deinit(&p);
    buf_free(&batch);
    return 0;
}
