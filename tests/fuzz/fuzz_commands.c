/* libFuzzer target for the command handlers: the input is a sequence of
 * commands, each run through its row's real handler on one store, in
 * process (as tests/unit/test_keyspace_cmds.c runs them: no sockets, a lone
 * shard of a node that is only its config, a clock the input moves), with the store's invariants checked after each.
 *
 * Any row of the command table can be picked, so rows other engineers add
 * (lists, sorted sets) are covered once registered; rows that need a
 * connection, another shard or the replication shard are skipped
 * (CMD_CONN, CMD_ALL_SHARDS, CMD_SHARD0, CMD_PROTECTED, CMD_PUBSUB,
 * CMD_NO_REPLY, CMD_EXEC), except FLUSHALL, which has an op of its own; so is
 * PFSELFTEST, which reads nothing of the input and takes a second.
 *
 * The byte code: a first byte choosing the encoding limits (set_limits: 0
 * the defaults, else small ones), then one command after the other until
 * the input ends:
 *   op        0xff: FLUSHALL (then the memory count must be back to where
 *                   the empty store started);
 *             0xfe: the clock moves on by (next byte) * 50 ms;
 *             0xfd: a row by name: next byte n, then n bytes of name (the
 *                   seeds use this form, which survives rows being added);
 *             else: the row (op % number of rows), a container's row
 *                   picking its subcommand with the next byte.
 *   argc      a byte: that many arguments after the name (and the
 *             subcommand), at most 23, raised to the row's least; a row of
 *             fixed arity takes its arity whatever the byte.
 *   each arg  a byte: >= 230 raw bytes (next byte % 72 of them, taken from
 *             the input); else at a key position of the row one of 4 keys
 *             (byte % 4); else < 40 a key, < 100 a field/member, < 170 a
 *             number (edge values), else an option word (the next byte
 *             choosing which).
 *
 * Checked after every command: the reply is exactly one RESP value; every
 * key SCAN meets is found, TYPE answers its type, and OBJECT ENCODING one of
 * that type's encodings (an "int" string is an integer's text); a
 * string holds no object and a collection is not empty (hashes and sets:
 * their length is what walking them counts, an intset holds integers
 * only, a listpack or intset no more elements, nor longer ones, than its
 * limits allow; a stream walked either way is as long as it says, in
 * order, and its groups' PELs agree with their consumers'; a collection
 * encoded for another shard decodes to as many elements); store_count
 * equals the keys SCAN meets plus the ones whose time has
 * passed but are not yet removed. After FLUSHALL, and at the end of each
 * input, the store's memory count is exactly what it was when empty.
 *
 * Not covered: what needs more than one shard (cross-shard commands run on
 * a scratch store in the server, see shards/route.c), and blocking or
 * connection state. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/command.h"
#include "core/reply.h"
#include "core/resp.h"
#include "core/config.h"
#include "core/crc64.h"
#include "shards/commands/commands.h"
#include "shards/node.h"
#include "shards/shard.h"
#include "shards/store/hash.h"
#include "shards/store/set.h"
#include "shards/store/store.h"
#include "shards/store/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz_commands: check failed: %s (%s:%d)\n", #cond,  \
                    __FILE__, __LINE__);                                         \
            abort();                                                             \
        }                                                                        \
    } while (0)

/* after CHECK, which it uses */
#include "tests/fuzz/stream_check.h"

#define START_MS 1700000000000LL
#define MAX_ARGS 24
#define MAX_ROWS 512

/* ---- the rows it may run ---------------------------------------------- */

/* the lone shard every command runs on, of a node that is only its config */
static struct node  node;
static struct shard shard;

static const struct command *rows[MAX_ROWS];
static size_t nrows;
static const struct command *row_flushall, *row_object_encoding, *row_type;
static bool print_commands; /* FUZZ_COMMANDS_PRINT: each command run, to stderr */

#define SKIPPED (CMD_CONN | CMD_ALL_SHARDS | CMD_SHARD0 | CMD_PROTECTED | CMD_PUBSUB | \
                 CMD_NO_REPLY | CMD_EXEC)

/* FUZZ_COMMANDS_ONLY=x,geo,pf: only the rows whose name starts with one of
 * these (a run on a few families; the others' seeds then do nothing). */
static bool chosen(const struct command *c)
{
    const char *only = getenv("FUZZ_COMMANDS_ONLY");
    if (!only)
        return true;
    for (const char *p = only; *p;) {
        size_t n = strcspn(p, ",");
        if (n && strncmp(c->name, p, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static bool runnable(const struct command *c)
{
    /* PFSELFTEST: its own checks, a second of work with nothing of the input */
    return c->fn && !(c->flags & SKIPPED) && strcmp(c->name, "pfselftest") != 0;
}

/* At exit: the modules' ends (scripting's closes the lone shard's Lua
 * state, whose cjson buffer is malloc'd), so LeakSanitizer sees what a
 * server's shutdown leaves. */
static void modules_end(void)
{
    for (int i = 0; i < node.nmodules; i++)
        if (node.modules[i]->teardown)
            node.modules[i]->teardown(&shard);
    for (int i = 0; i < node.nmodules; i++)
        if (node.modules[i]->node_teardown)
            node.modules[i]->node_teardown(&node);
}

static void dense_hll_once(void);
static void stream_payload_once(void);

static void table_once(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    commands_register();
    command_setup();
    dense_hll_once();
    stream_payload_once();
    config_init(&node.config);
    scripting_attach(&node); /* EVAL's registry: the lone shard's scripts */
    atexit(modules_end);
    node.nshards = 1;
    shard.node = &node;
    shard.id = 0;
    size_t n;
    const struct command *t = command_table(&n);
    for (size_t i = 0; i < n; i++) {
        const struct command *c = &t[i];
        if (c->subcommands) {
            /* a container runs when one of its subcommands does */
            bool any = false;
            for (const struct command *s = c->subcommands; s->name; s++)
                any |= runnable(s) && !(c->flags & CMD_PROTECTED);
            if (any && chosen(c) && nrows < MAX_ROWS)
                rows[nrows++] = c;
        } else if (runnable(c) && chosen(c) && nrows < MAX_ROWS) {
            rows[nrows++] = c;
        }
    }
    row_flushall = command_lookup((struct slice){ "flushall", 8 });
    const struct command *object = command_lookup((struct slice){ "object", 6 });
    row_object_encoding = command_lookup_sub(object, (struct slice){ "encoding", 8 });
    row_type = command_lookup((struct slice){ "type", 4 });
    CHECK(row_flushall && row_object_encoding && row_type);
    print_commands = getenv("FUZZ_COMMANDS_PRINT") != NULL;
    if (getenv("FUZZ_COMMANDS_ROWS")) /* which rows a run picks from */
        for (size_t i = 0; i < nrows; i++)
            fprintf(stderr, "%s%s", rows[i]->name, i + 1 < nrows ? " " : "\n");
}

/* ---- the argument alphabet ------------------------------------------- */

static const char *const keys[] = { "k0", "k1", "k2", "{k}3" };

static const char *const members[] = {
    "a", "b", "c", "f", "1", "2", "-1", "0", "3.5", "", "12345678901", "x y",
    "a-much-longer-member-that-does-not-fit-a-small-listpack-entry-of-64-bytes",
};

/* Huge negative counts are left out on purpose: SRANDMEMBER key -N answers
 * N elements in Redis too. LONG_MIN stays: it must be refused, not negated. */
static const char *const numbers[] = {
    "0", "-0", "1", "-1", "2", "3", "10", "100", "1000000", "-1000", "1e308", "-1e308",
    "nan", "-nan", "inf", "-inf", "+inf", "9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "18446744073709551615", "4294967295", "4294967296",
    "2147483647", "-2147483648", "1.5", "0.1", "-0.0", "1e-320", "0x10", " 1", "1 ",
    "01", "+1", "5e3", "99999999999999999999999", "1.7976931348623157e308", "(1", "(-inf",
};

/* Two words stand for binary strings (argument() swaps them): a dense HLL
 * whose registers take all kinds of values, and the same a byte short. */
#define DENSE_HLL       "<dense hll>"
#define DENSE_HLL_SHORT "<dense hll, a byte short>"
#define DENSE_HLL_LEN   (16 + 16384 * 6 / 8)
static char dense_hll[DENSE_HLL_LEN];

static void dense_hll_once(void)
{
    memcpy(dense_hll, "HYLL", 4); /* encoding 0: dense; the cache: invalid */
    dense_hll[15] = (char)0x80;
    for (size_t i = 16; i < DENSE_HLL_LEN; i++)
        dense_hll[i] = (char)(i * 37);
}

/* And a stream's DUMP payload (RESTORE's), made by ringkv and edited: the
 * entries 1-1 and 2-1, a group g with 2-1 pending for consumer7, whose
 * delivery time is -2^63 and the consumer's seen time 2^63 - 1 (a payload may
 * hold any); the CRC is added at start. */
#define STREAM_PAYLOAD "<stream payload>"
static const char stream_payload_body[] =
    "\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00"
    "\x00\x00\x01\x2b\x2b\x00\x00\x00\x11\x00\x02\x01\x00\x01\x01\x01"
    "\x81\x61\x02\x00\x01\x02\x01\x00\x01\x00\x01\x01\x01\x04\x01\x00"
    "\x01\x01\x01\x00\x01\x01\x01\x81\x62\x02\x02\x01\x06\x01\xff\x02"
    "\x02\x01\x01\x01\x00\x00\x02\x01\x01\x67\x02\x01\x02\x01\x00\x00"
    "\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00"
    "\x00\x00\x00\x00\x00\x80\x01\x01\x09\x63\x6f\x6e\x73\x75\x6d\x65"
    "\x72\x37\xff\xff\xff\xff\xff\xff\xff\x7f\x01\x00\x00\x00\x00\x00"
    "\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x0a\x00";
#define STREAM_PAYLOAD_LEN (sizeof stream_payload_body - 1 + 8)
static char stream_payload[STREAM_PAYLOAD_LEN];

static void stream_payload_once(void)
{
    size_t n = sizeof stream_payload_body - 1;
    memcpy(stream_payload, stream_payload_body, n);
    uint64_t crc = crc64(0, stream_payload, n);
    for (int i = 0; i < 8; i++)
        stream_payload[n + i] = (char)(crc >> (8 * i));
}

static const char *const words[] = {
    "NX", "XX", "GT", "LT", "CH", "INCR", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "GET",
    "PERSIST", "COUNT", "MATCH", "TYPE", "WITHSCORES", "WITHVALUES", "LIMIT", "BYSCORE",
    "BYLEX", "REV", "LEFT", "RIGHT", "BEFORE", "AFTER", "SUM", "MIN", "MAX", "WEIGHTS",
    "AGGREGATE", "REPLACE", "ABSTTL", "IDLETIME", "FREQ", "ASYNC", "SYNC", "IDX", "LEN",
    "MINMATCHLEN", "WITHMATCHLEN", "BIT", "BYTE", "OVERFLOW", "WRAP", "SAT", "FAIL",
    "INCRBY", "SET", "string", "hash", "set", "list", "zset", "*", "k*", "[a-", "-", "+",
    "[a", "(a", "?", "DB", "RANK", "MAXLEN", "FIELDS", "FNX", "FXX", "u8", "i64", "#1",
    "encoding", "usage", "SAMPLES", "ALPHA", "STORE", "BY", "ASC", "DESC", "nosort", "#",
    "i1", "u63", "i13", "u64", "#0", "#536870911",
    /* HyperLogLog strings (no NUL inside: the unused header bytes are 1): an
     * empty sparse HLL with its cache marked invalid, one whose opcodes cover
     * 16383 registers, one ending in half an XZERO, a dense header on a
     * string too short, and the magic alone */
    "HYLL\x01\x01\x01\x01\x80\x80\x80\x80\x80\x80\x80\x80\x7f\xff",
    "HYLL\x01\x01\x01\x01\x80\x80\x80\x80\x80\x80\x80\x80\x7f\xfe",
    "HYLL\x01\x01\x01\x01\x80\x80\x80\x80\x80\x80\x80\x80\x40",
    "HYLL\x02\x01\x01\x01\x80\x80\x80\x80\x80\x80\x80\x80\x7f\xff", "HYLL",
    /* geo: options, units, and places (the Mercator edges and just past them) */
    "FROMMEMBER", "FROMLONLAT", "BYRADIUS", "BYBOX", "WITHDIST", "WITHCOORD", "WITHHASH", "ANY",
    "STOREDIST", "m", "km", "mi", "ft", "KM", "13.361389", "38.115556", "180", "-180",
    "85.05112878", "-85.05112878", "85.05112879", "180.0000001", "5000",
    /* later: the southern edge just past it, a step under a metre; SORT's
     * patterns reading a hash's field (the keys are k0..k2, so k* meets
     * them for the members 0..2); a sparse HLL whose opcodes go past the
     * 16384 registers, and one ending in a register of the largest value;
     * a dense HLL (DENSE_HLL: built at start, it holds NUL bytes) and one
     * a byte short */
    "-85.05112879", "0.000001", "*->f", "k*->f", "k*->a", "k*", "GET",
    "HYLL\x01\x01\x01\x01\x80\x80\x80\x80\x80\x80\x80\x80\x7f\xff\x80",
    "HYLL\x01\x01\x01\x01\x80\x80\x80\x80\x80\x80\x80\x80\x7f\xfe\xfc",
    DENSE_HLL, DENSE_HLL_SHORT, STREAM_PAYLOAD,
};

/* The stream commands' option words and IDs: an alphabet of their own (the
 * words above keep their decoding), for the rows of the "stream" group. */
static const char *const stream_words[] = {
    "NOMKSTREAM", "MAXLEN", "MINID", "~", "=", "LIMIT", "*", "STREAMS", "BLOCK", "COUNT", "GROUP", "NOACK", "$",
    ">", "-", "+", "0-0", "0-1", "1-1", "1-*", "2", "5-0", "(1-1", "(2", "18446744073709551615-18446744073709551615",
    "18446744073709551615-*", "ENTRIESADDED", "MAXDELETEDID", "ENTRIESREAD", "MKSTREAM", "IDLE", "TIME",
    "RETRYCOUNT", "FORCE", "JUSTID", "LASTID", "FULL", "g", "g2", "c1", "c2", "-1-1", "1-x", "1-18446744073709551615",
    /* later: the last sequence of a small time, an ID past 2^64, counts and
     * idle times at the edges, the subcommands' and commands' names as
     * words */
    "5-18446744073709551615", "18446744073709551616-0", "1-18446744073709551616", "0", "1", "-1", "3", "1000",
    "9223372036854775807", "-9223372036854775808", "18446744073709551615", "CREATE", "SETID", "XCLAIM",
    "XAUTOCLAIM", "CONSUMERS", "CREATECONSUMER", "DELCONSUMER", "DESTROY", "GROUPS", "STREAM",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* EVAL's and EVALSHA's first argument, SCRIPT LOAD's and EXISTS's, FUNCTION
 * LOAD's and FCALL's: writes
 * and reads of the declared keys, replies of every kind back, errors raised
 * and returned, the globals' protection, a reply too deep to convert, one
 * that does not compile, another shard's command, shebang lines, bytecode;
 * the sha of "return 1".
 * An alphabet of its own, so that the words' decoding stays what the
 * seeds were written against. */
static const char *const scripts[] = {
    "return redis.call('set', KEYS[1], ARGV[1])", "return redis.call('get', KEYS[1])",
    "return {KEYS[1], ARGV[1], redis.call('type', KEYS[1]), redis.pcall('incr', KEYS[1])}",
    "redis.call('del', KEYS[1]) return redis.call('rpush', KEYS[1], ARGV[1], ARGV[2])",
    "return redis.call('hgetall', KEYS[1])", "return redis.call('smembers', KEYS[1])",
    "return redis.call(ARGV[1], KEYS[1], ARGV[2])", "return redis.pcall(ARGV[1], KEYS[1])",
    "return {1.5, -2, true, false, 'x', {ok='y'}, {err='z'}}", "error('x')", "error({err='E x'})",
    "x = 1", "return nosuch", "return redis.sha1hex(ARGV[1])", "return tonumber(ARGV[1])",
    "local t = {} local x = t for i = 1, 3000 do x[1] = {} x = x[1] end return t", "return (",
    "return redis.call('time')", "return redis.call('keys', '*')", "return 1",
    "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 1)",
    "#!lua flags=bogus\nreturn 1", "return loadstring(string.dump(function() return 1 end))",
    /* FUNCTION LOAD's code (FCALL's names are f, g): good, failing, odd */
    "#!lua name=l\nredis.register_function('f', function(k, a) return redis.call('set', k[1], a[1]) end)",
    ("#!lua name=m\nredis.register_function{function_name='g', callback=function(k) return redis.call('get', "
     "k[1]) end, flags={'no-writes'}, description='d'}"),
    "#!lua name=l\nredis.register_function('f')", "#!lua name=x y\n", "#!lua name=\nreturn", "#!lua",
    "#!lua name=l\nredis.register_function{function_name='f', callback=function() end, flags={1}}",
    "#!lua name=l\nredis.register_function(1, 2, 3)",
    "f", "g", "LIBRARYNAME", "WITHCODE", "APPEND", "FLUSH",
    /* later: cjson both ways, and past its nesting bound */
    "return cjson.encode(cjson.decode(ARGV[1]))", "return cjson.decode(string.rep('[', 1100) .. string.rep(']', 1100))",
    "local t = {} local x = t for i = 1, 1100 do x[1] = {} x = x[1] end return cjson.encode(t)",
    /* later: any command of up to six words, options included (XREAD's
     * BLOCK, refused from a script where its parser meets it) */
    "return redis.pcall(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], KEYS[1])",
    "return redis.pcall('xread', ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'STREAMS', KEYS[1], '$')",
};

/* ---- the encoding limits --------------------------------------------
 * A lone shard of a node whose config the input's first byte sets: small
 * limits make every conversion (listpack to hashtable, intset to listpack
 * ...) happen within a few commands. Set by name, so options that rows
 * added later read (zset-, list-) take part once they mean something. */

struct limit_choice {
    const char *option;
    int         shift;       /* the two bits of the first byte choosing the value */
    const char *values[4];   /* [0]: the default */
};

static const struct limit_choice limit_choices[] = {
    { "hash-max-listpack-entries", 0, { "512", "1", "2", "4" } },
    { "hash-max-listpack-value",   2, { "64", "0", "2", "8" } },
    { "set-max-listpack-value",    2, { "64", "0", "2", "8" } },
    { "zset-max-listpack-value",   2, { "64", "0", "2", "8" } },
    { "set-max-intset-entries",    4, { "512", "1", "2", "4" } },
    { "zset-max-listpack-entries", 4, { "128", "1", "2", "4" } },
    { "set-max-listpack-entries",  6, { "128", "1", "2", "4" } },
    { "list-max-listpack-size",    6, { "-2", "1", "2", "-1" } },
    { "list-compress-depth",       0, { "0", "1", "2", "1" } },
    { "hll-sparse-max-bytes",      2, { "3000", "18", "30", "100" } },
    { "stream-node-max-entries",   4, { "100", "1", "2", "0" } },
    { "stream-node-max-bytes",     6, { "4096", "1", "60", "0" } },
};

static void set_limits(uint8_t b)
{
    char err[256];
    for (size_t i = 0; i < sizeof(limit_choices) / sizeof(limit_choices[0]); i++) {
        const struct limit_choice *l = &limit_choices[i];
        /* an option this build does not know is no failure */
        (void)config_set(&node.config, l->option, l->values[(b >> l->shift) & 3], true, err,
                         sizeof err);
    }
}

/* ---- reading the input ----------------------------------------------- */

struct input {
    const uint8_t *p;
    size_t         n;
};

static bool more(const struct input *in) { return in->n > 0; }

static uint8_t byte(struct input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static struct slice text(const char *s) { return (struct slice){ s, strlen(s) }; }

static struct slice raw(struct input *in)
{
    size_t n = byte(in) % 72;
    if (n > in->n)
        n = in->n;
    struct slice s = { (const char *)in->p, n };
    in->p += n;
    in->n -= n;
    return s;
}

static bool is_key_position(const struct command *c, int argc, int i)
{
    if (c->first_key <= 0 || i < c->first_key)
        return false;
    int last = c->last_key < 0 ? argc + c->last_key : c->last_key;
    int step = c->key_step > 0 ? c->key_step : 1;
    return i <= last && (i - c->first_key) % step == 0;
}

static struct slice argument(struct input *in, const struct command *c, int argc, int i)
{
    uint8_t b = byte(in);
    if (b >= 230)
        return raw(in);
    if (is_key_position(c, argc, i) || b < 40)
        return text(keys[b % NELEM(keys)]);
    if (strcmp(c->group, "scripting") == 0 &&
        (strncmp(c->name, "eval", 4) == 0 ? i == 1 : (strcmp(c->name, "load") == 0 || strcmp(c->name, "exists") == 0)))
        return text(scripts[b % NELEM(scripts)]);
    if (strcmp(c->group, "stream") == 0 && b >= 100)
        return text(stream_words[b % NELEM(stream_words)]);
    if (b < 100)
        return text(members[b % NELEM(members)]);
    if (b < 170)
        return text(numbers[b % NELEM(numbers)]);
    /* the word by a byte of its own: 60 values of b would reach only 60 of
     * the words */
    const char *w = words[byte(in) % NELEM(words)];
    if (strcmp(w, DENSE_HLL) == 0)
        return (struct slice){ dense_hll, DENSE_HLL_LEN };
    if (strcmp(w, DENSE_HLL_SHORT) == 0)
        return (struct slice){ dense_hll, DENSE_HLL_LEN - 1 };
    if (strcmp(w, STREAM_PAYLOAD) == 0)
        return (struct slice){ stream_payload, STREAM_PAYLOAD_LEN };
    return text(w);
}

/* ---- running --------------------------------------------------------- */

/* One command as FUZZ_COMMANDS_PRINT shows it: the subcommand's byte (or
 * -), then the arguments, bytes outside printable ASCII, space, backslash
 * as \xHH: what tests/fuzz/seed.py reads back to write a seed (which
 * skips the replies' lines, indented). */
static void print_escaped(const char *p, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        unsigned char ch = (unsigned char)p[j];
        if (ch > ' ' && ch < 127 && ch != '\\')
            fputc(ch, stderr);
        else
            fprintf(stderr, "\\x%02x", ch);
    }
}

static void print_command(int sub, int argc, const struct slice *argv)
{
    if (sub >= 0)
        fprintf(stderr, "%d", sub);
    else
        fputc('-', stderr);
    for (int i = 0; i < argc; i++) {
        fputc(' ', stderr);
        if (argv[i].ptr == dense_hll || argv[i].ptr == stream_payload) { /* by the word standing for it */
            const char *word = argv[i].ptr == stream_payload ? STREAM_PAYLOAD
                             : argv[i].len == DENSE_HLL_LEN  ? DENSE_HLL
                                                             : DENSE_HLL_SHORT;
            for (const char *m = word; *m; m++)
                *m == ' ' ? fputs("\\x20", stderr) : fputc(*m, stderr);
            continue;
        }
        print_escaped(argv[i].ptr, argv[i].len);
        if (argv[i].len == 0)
            fputs("\\e", stderr);
    }
    fputc('\n', stderr);
}

struct world {
    struct store *store;
    struct buf    out;
    struct reply  reply;
    int64_t       now;
    size_t        empty_memory;
};

static void run(struct world *w, const struct command *c, int argc, const struct slice *argv)
{
    buf_clear(&w->out);
    struct exec_ctx ctx = {
        .shard = &shard, .store = w->store, .reply = &w->reply, .argc = argc, .argv = argv,
        .now_ms = w->now, .caller_id = 1,
    };
    c->fn(&ctx);
    if (print_commands && c != row_type && c != row_object_encoding) /* its reply, its start */
    {
        fputs("  -> ", stderr);
        print_escaped(w->out.data, w->out.len < 160 ? w->out.len : 160);
        fputc('\n', stderr);
    }
    /* exactly one reply, whole */
    CHECK(w->out.len > 0);
    CHECK(resp_value_len(w->out.data, w->out.len) == w->out.len);
}

/* ---- the invariants -------------------------------------------------- */

struct walk {
    size_t count;
    size_t longest; /* the longest field, value or member */
    bool   all_integers;
};

static bool integer_text(struct slice s)
{
    if (s.len == 0 || s.len > 20)
        return false;
    char tmp[24];
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = 0;
    char *end;
    long long v = strtoll(tmp, &end, 10);
    char again[24];
    snprintf(again, sizeof again, "%lld", v);
    return *end == 0 && strcmp(again, tmp) == 0;
}

static void count_field(void *arg, struct slice f, struct slice v)
{
    struct walk *wk = arg;
    wk->count++;
    if (f.len > wk->longest)
        wk->longest = f.len;
    if (v.len > wk->longest)
        wk->longest = v.len;
}

static void count_member(void *arg, struct slice m)
{
    struct walk *wk = arg;
    wk->count++;
    if (m.len > wk->longest)
        wk->longest = m.len;
    if (!integer_text(m))
        wk->all_integers = false;
}

static bool encoding_is(const char *reply, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        char want[64];
        snprintf(want, sizeof want, "$%zu\r\n%s\r\n", strlen(*allowed), *allowed);
        if (strcmp(reply, want) == 0)
            return true;
    }
    return false;
}

/* A collection as another shard gets it (a cross-shard command's keys,
 * shards/scratch.c): encoded, decoded on another store, as long, a stream
 * whole. */
static void check_copy(enum value_type t, const void *obj)
{
    static struct store *other;
    static struct buf enc;
    if (!other)
        other = store_create(NULL, NULL, NULL);
    buf_clear(&enc);
    store_object_encode(t, obj, &enc);
    void *copy = store_object_decode(other, t, enc.data, enc.len);
    CHECK(copy != NULL);
    CHECK(store_object_len(t, copy) == store_object_len(t, obj));
    if (t == TYPE_STREAM) {
        check_stream(copy);
        CHECK(stream_groups(copy) == stream_groups(obj));
    }
    struct slice key = { "copy", 4 };
    store_set_object(other, key, t, copy, 0);
    store_delete(other, key);
    while (store_lazy_free_step(other))
        ;
}

struct check {
    struct world *w;
    size_t        keys;
    /* what to look at once the scan is over: OBJECT ENCODING runs a
     * handler, which may touch the table the scan walks */
    char          names[64][80];
    size_t        lens[64];
    size_t        nnames;
};

static void check_entry(void *arg, struct entry *e)
{
    struct check *ck = arg;
    ck->keys++;
    enum value_type t = entry_type(e);
    void *obj = entry_object(e);
    if (t == TYPE_STRING) {
        CHECK(obj == NULL);
    } else {
        CHECK(obj != NULL);
        CHECK(store_object_len(t, obj) > 0 || t == TYPE_STREAM); /* a stream may be empty */
    }
    /* a small encoding holds only what its limits allow: Redis converts
     * to the next one as soon as an element or the count goes past them,
     * and never back (the limits are fixed for the whole input) */
    const struct config *cfg = &node.config;
    if (t == TYPE_HASH) {
        struct walk wk = { 0, 0, true };
        hash_foreach(obj, count_field, &wk);
        CHECK(wk.count == hash_len(obj));
        if (hash_is_listpack(obj)) {
            CHECK(wk.count <= (size_t)config_load(cfg, hash_max_listpack_entries));
            CHECK(wk.longest <= (size_t)config_load(cfg, hash_max_listpack_value));
        }
    } else if (t == TYPE_SET) {
        struct walk wk = { 0, 0, true };
        set_foreach(obj, count_member, &wk);
        CHECK(wk.count == set_len(obj));
        const char *enc = set_encoding(obj);
        if (strcmp(enc, "intset") == 0) {
            CHECK(wk.all_integers);
            CHECK(wk.count <= (size_t)config_load(cfg, set_max_intset_entries));
        } else if (strcmp(enc, "listpack") == 0) {
            CHECK(wk.count <= (size_t)config_load(cfg, set_max_listpack_entries));
            CHECK(wk.longest <= (size_t)config_load(cfg, set_max_listpack_value));
        }
    }
    if (t == TYPE_STREAM)
        check_stream(obj);
    if (t != TYPE_STRING)
        check_copy(t, obj);
    if (ck->nnames < NELEM(ck->names) && entry_key_len(e) < sizeof ck->names[0]) {
        memcpy(ck->names[ck->nnames], entry_key(e), entry_key_len(e));
        ck->lens[ck->nnames++] = entry_key_len(e);
    }
}

static void count_all(void *arg, struct entry *e)
{
    (void)e;
    (*(size_t *)arg)++;
}

static void check_store(struct world *w)
{
    struct check ck = { .w = w };
    uint64_t cursor = 0;
    do
        cursor = store_scan(w->store, cursor, 100, w->now, check_entry, &ck);
    while (cursor != 0);
    /* the keys whose time passed but are still there: a scan at a clock
     * before any expiry meets them too */
    size_t all = 0;
    cursor = 0;
    do
        cursor = store_scan(w->store, cursor, 100, 0, count_all, &all);
    while (cursor != 0);
    CHECK(all >= ck.keys);
    CHECK(store_count(w->store) == all);

    for (size_t i = 0; i < ck.nnames; i++) {
        struct slice key = { ck.names[i], ck.lens[i] };
        struct entry *e = store_peek(w->store, key, w->now);
        CHECK(e != NULL);
        enum value_type t = entry_type(e);
        /* TYPE answers the type the entry holds */
        struct slice targv[2] = { text("type"), key };
        run(w, row_type, 2, targv);
        char want[32];
        snprintf(want, sizeof want, "+%s\r\n", value_type_name(t));
        CHECK(w->out.len == strlen(want) && memcmp(w->out.data, want, w->out.len) == 0);

        struct slice argv[3] = { text("object"), text("encoding"), key };
        run(w, row_object_encoding, 3, argv);
        buf_append(&w->out, "", 1);
        static const char *const string_enc[] = { "int", "embstr", "raw", NULL };
        static const char *const list_enc[] = { "quicklist", "listpack", NULL };
        static const char *const set_enc[] = { "intset", "listpack", "hashtable", NULL };
        static const char *const zset_enc[] = { "listpack", "skiplist", NULL };
        static const char *const hash_enc[] = { "listpack", "hashtable", NULL };
        static const char *const stream_enc[] = { "stream", NULL };
        const char *const *allowed = t == TYPE_STRING ? string_enc
                                   : t == TYPE_LIST   ? list_enc
                                   : t == TYPE_SET    ? set_enc
                                   : t == TYPE_ZSET   ? zset_enc
                                   : t == TYPE_STREAM ? stream_enc
                                                      : hash_enc;
        if (!encoding_is(w->out.data, allowed)) {
            fprintf(stderr, "fuzz_commands: key %.*s of type %s has encoding %s", (int)key.len,
                    key.ptr, value_type_name(t), w->out.data);
            CHECK(!"an encoding of its type");
        }
        if (t == TYPE_STRING && strcmp(w->out.data, "$3\r\nint\r\n") == 0)
            CHECK(integer_text((struct slice){ entry_value(e), entry_value_len(e) }));
    }
}

static void flush_and_check(struct world *w)
{
    struct slice argv[2] = { text("flushall"), text("sync") };
    run(w, row_flushall, 2, argv);
    while (store_lazy_free_step(w->store))
        ;
    CHECK(store_count(w->store) == 0);
    if (store_used_memory(w->store) != w->empty_memory) {
        fprintf(stderr, "fuzz_commands: %zu bytes counted after FLUSHALL, %zu when empty\n",
                store_used_memory(w->store), w->empty_memory);
        CHECK(!"memory count back to empty");
    }
}

/* ---- one input ------------------------------------------------------- */

static const struct command *pick_row(struct input *in, uint8_t op)
{
    if (op == 0xfd) {
        size_t n = byte(in);
        if (n > in->n)
            n = in->n;
        struct slice name = { (const char *)in->p, n };
        in->p += n;
        in->n -= n;
        const struct command *c = command_lookup(name);
        if (!c)
            return NULL;
        for (size_t i = 0; i < nrows; i++)
            if (rows[i] == c)
                return c;
        return NULL;
    }
    return rows[op % nrows];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    table_once();
    struct world w;
    w.store = store_create(NULL, NULL, NULL);
    buf_init(&w.out);
    w.reply = (struct reply){ &w.out, 2 };
    w.now = START_MS;
    w.empty_memory = store_used_memory(w.store);

    struct input in = { data, size };
    uint8_t limits = byte(&in);
    if (print_commands)
        fprintf(stderr, "LIMITS %u\n", limits);
    set_limits(limits);
    shard.store = w.store;
    int commands = 0;
    while (more(&in) && commands++ < 256) {
        uint8_t op = byte(&in);
        if (op == 0xff) {
            if (print_commands)
                fputs("FLUSHALL\n", stderr);
            flush_and_check(&w);
            continue;
        }
        if (op == 0xfe) {
            uint8_t ticks = byte(&in);
            if (print_commands)
                fprintf(stderr, "CLOCK %u\n", ticks);
            w.now += (int64_t)ticks * 50;
            check_store(&w);
            continue;
        }
        const struct command *c = pick_row(&in, op);
        if (!c)
            continue;
        struct slice argv[MAX_ARGS];
        int argc = 0;
        argv[argc++] = text(c->name);
        const struct command *row = c;
        int sub = -1;
        if (c->subcommands) {
            /* the subcommand by the next byte, among the runnable ones */
            size_t nsub = 0;
            for (const struct command *s = c->subcommands; s->name; s++)
                nsub += runnable(s);
            uint8_t sb = byte(&in);
            sub = sb;
            size_t want = sb % nsub;
            for (const struct command *s = c->subcommands; s->name; s++)
                if (runnable(s) && want-- == 0) {
                    row = s;
                    break;
                }
            argv[argc++] = text(row->name);
        }
        int total = argc + byte(&in) % (MAX_ARGS - 1);
        if (total > MAX_ARGS)
            total = MAX_ARGS;
        if (row->arity >= 0)
            total = row->arity;
        else if (total < -row->arity)
            total = -row->arity;
        while (argc < total)
            argv[argc] = argument(&in, row, total, argc), argc++;
        if (print_commands)
            print_command(sub, argc, argv);
        run(&w, row, argc, argv);
        check_store(&w);
    }
    flush_and_check(&w);
    store_destroy(w.store);
    buf_free(&w.out);
    return 0;
}
