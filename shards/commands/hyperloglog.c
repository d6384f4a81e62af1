/* hyperloglog: PFADD, PFCOUNT and PFMERGE over Redis's own representation.
 *
 * An HLL is a plain string, so that GET, SET, DUMP/RESTORE, replication and
 * the store see nothing special: the bytes are those redis-server writes
 * after the same commands, and PFCOUNT gives the same number. The layout, as
 * Redis publishes it:
 *
 *   "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cardinality
 *   cache (8 bytes, little endian; bit 7 of the last byte set means "not
 *   valid") | registers
 *
 * Dense: 16384 registers of 6 bits, packed from the least significant bit of
 * each byte up (12288 bytes). Sparse: run-length opcodes over the registers
 * in order; ZERO (00xxxxxx: 1..64 zero registers), XZERO (01xxxxxx yyyyyyyy:
 * 1..16384 zero registers) and VAL (1vvvvvxx: 1..4 registers of value
 * 1..32). A sparse HLL turns dense when a register needs more than 32, or
 * when its string would pass hll-sparse-max-bytes. Each step below (where a
 * sparse opcode is split, which neighbours are merged afterwards) follows
 * Redis's, since the bytes are to be identical, not merely equivalent.
 *
 * An element's hash is MurmurHash64A (seed 0xadc83b19): its low 14 bits
 * choose the register, the position of the first set bit in the rest (+1)
 * is the value offered to it. The estimate is Ertl's improved estimator
 * over the histogram of register values, as Redis 7 computes it.
 *
 * Sparse HLLs are edited in a working copy (struct hll) and written back
 * once per command; dense ones, whose size never changes, in place. */
#include "shards/commands/commands.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <mimalloc.h>

#include "shards/shard.h"
#include "shards/node.h"
#include "shards/store/store.h"

#define HLL_P          14
#define HLL_Q          (64 - HLL_P)
#define HLL_REGISTERS  (1 << HLL_P)
#define HLL_P_MASK     (HLL_REGISTERS - 1)
#define HLL_BITS       6
#define HLL_REG_MAX    ((1 << HLL_BITS) - 1)
#define HLL_HDR_SIZE   16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_DENSE      0
#define HLL_SPARSE     1
#define HLL_ENCODING_BYTE 4
#define HLL_CARD_BYTE     8
/* 0.5 / ln(2): the estimator's constant for an infinite number of registers. */
#define HLL_ALPHA_INF  0.721347520444481703680

#define SPARSE_VAL_MAX_VALUE 32
#define SPARSE_VAL_MAX_LEN   4
#define SPARSE_ZERO_MAX_LEN  64
#define SPARSE_XZERO_MAX_LEN 16384

#define ERR_NOT_HLL  "WRONGTYPE Key is not a valid HyperLogLog string value."
#define ERR_CORRUPT  "INVALIDOBJ Corrupted HLL object detected"

/* ---- sparse opcodes ---- */

static inline bool op_is_zero(const uint8_t *p) { return (*p & 0xc0) == 0x00; }
static inline bool op_is_xzero(const uint8_t *p) { return (*p & 0xc0) == 0x40; }
static inline bool op_is_val(const uint8_t *p) { return (*p & 0x80) != 0; }
static inline int zero_len(const uint8_t *p) { return (*p & 0x3f) + 1; }
static inline int xzero_len(const uint8_t *p) { return (((*p & 0x3f) << 8) | p[1]) + 1; }
static inline int val_value(const uint8_t *p) { return ((*p >> 2) & 0x1f) + 1; }
static inline int val_len(const uint8_t *p) { return (*p & 0x3) + 1; }

static inline void set_zero(uint8_t *p, int len) { *p = (uint8_t)(len - 1); }
static inline void set_xzero(uint8_t *p, int len)
{
    p[0] = (uint8_t)(((len - 1) >> 8) | 0x40);
    p[1] = (uint8_t)((len - 1) & 0xff);
}
static inline void set_val(uint8_t *p, int value, int len)
{
    *p = (uint8_t)(0x80 | ((value - 1) << 2) | (len - 1));
}

/* ---- dense registers ---- */

static inline int dense_get(const uint8_t *regs, int i)
{
    size_t byte = (size_t)i * HLL_BITS / 8;
    unsigned fb = (unsigned)(i * HLL_BITS) & 7;
    unsigned v = regs[byte] >> fb;

    /* The last register lies within its byte: never read past the end. */
    if (fb > 8 - HLL_BITS)
        v |= (unsigned)regs[byte + 1] << (8 - fb);
    return (int)(v & HLL_REG_MAX);
}

static inline void dense_put(uint8_t *regs, int i, int value)
{
    size_t byte = (size_t)i * HLL_BITS / 8;
    unsigned fb = (unsigned)(i * HLL_BITS) & 7;

    regs[byte] = (uint8_t)((regs[byte] & ~(HLL_REG_MAX << fb)) | ((unsigned)value << fb));
    if (fb > 8 - HLL_BITS) {
        unsigned high = 8 - fb;
        regs[byte + 1] = (uint8_t)((regs[byte + 1] & ~(HLL_REG_MAX >> high)) |
                                   ((unsigned)value >> high));
    }
}

/* Raise register i to value if it is lower: 1 if it changed. */
static inline int dense_raise(uint8_t *regs, int i, int value)
{
    if (dense_get(regs, i) >= value)
        return 0;
    dense_put(regs, i, value);
    return 1;
}

/* ---- hashing ---- */

static uint64_t murmur64a(const uint8_t *data, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ (len * m);
    size_t blocks = len / 8;

    for (size_t b = 0; b < blocks; b++) {
        uint64_t k = 0;
        /* Little endian whatever the machine, as Redis reads the blocks. */
        for (int j = 7; j >= 0; j--)
            k = (k << 8) | data[b * 8 + (size_t)j];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    data += blocks * 8;
    switch (len & 7) {
    case 7: h ^= (uint64_t)data[6] << 48; /* fall through */
    case 6: h ^= (uint64_t)data[5] << 40; /* fall through */
    case 5: h ^= (uint64_t)data[4] << 32; /* fall through */
    case 4: h ^= (uint64_t)data[3] << 24; /* fall through */
    case 3: h ^= (uint64_t)data[2] << 16; /* fall through */
    case 2: h ^= (uint64_t)data[1] << 8;  /* fall through */
    case 1: h ^= (uint64_t)data[0];
            h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

/* The register an element falls in, and the value it offers: the run of
 * zero bits above the index bits, plus one (a sentinel bit past Q ends the
 * run at Q+1 at most). */
static int element_register(struct slice ele, int *value)
{
    uint64_t hash = murmur64a((const uint8_t *)ele.ptr, ele.len, 0xadc83b19ULL);
    int index = (int)(hash & HLL_P_MASK);

    hash >>= HLL_P;
    hash |= 1ULL << HLL_Q;
    *value = __builtin_ctzll(hash) + 1;
    return index;
}

/* ---- the string as an HLL ---- */

/* Redis's isHLLObjectOrReply test: the magic, a known encoding, and a dense
 * one of exactly its size. */
static bool is_hll(const uint8_t *p, size_t len)
{
    if (len < HLL_HDR_SIZE || memcmp(p, "HYLL", 4) != 0)
        return false;
    if (p[HLL_ENCODING_BYTE] > HLL_SPARSE)
        return false;
    return p[HLL_ENCODING_BYTE] != HLL_DENSE || len == HLL_DENSE_SIZE;
}

static inline bool cache_valid(const uint8_t *p) { return (p[HLL_CARD_BYTE + 7] & 0x80) == 0; }
static inline void cache_invalidate(uint8_t *p) { p[HLL_CARD_BYTE + 7] |= 0x80; }

static uint64_t cache_read(const uint8_t *p)
{
    uint64_t card = 0;

    for (int j = 7; j >= 0; j--)
        card = (card << 8) | p[HLL_CARD_BYTE + j];
    return card;
}

static void cache_write(uint8_t *p, uint64_t card)
{
    for (int j = 0; j < 8; j++)
        p[HLL_CARD_BYTE + j] = (uint8_t)(card >> (8 * j));
}

/* A working copy of an HLL that may change size. */
struct hll {
    uint8_t *bytes;
    size_t   len, cap;
};

static void hll_reserve(struct hll *h, size_t cap)
{
    if (cap <= h->cap)
        return;
    h->bytes = mi_realloc(h->bytes, cap);
    if (h->bytes == NULL)
        abort();
    h->cap = cap;
}

/* An empty HLL as Redis creates one: sparse, every register in XZERO runs,
 * the cache valid at 0. */
static void hll_init_empty(struct hll *h)
{
    int left = HLL_REGISTERS;

    hll_reserve(h, HLL_HDR_SIZE + 2 * ((HLL_REGISTERS + SPARSE_XZERO_MAX_LEN - 1) / SPARSE_XZERO_MAX_LEN));
    memset(h->bytes, 0, HLL_HDR_SIZE);
    memcpy(h->bytes, "HYLL", 4);
    h->bytes[HLL_ENCODING_BYTE] = HLL_SPARSE;
    h->len = HLL_HDR_SIZE;
    while (left > 0) {
        int run = left < SPARSE_XZERO_MAX_LEN ? left : SPARSE_XZERO_MAX_LEN;
        set_xzero(h->bytes + h->len, run);
        h->len += 2;
        left -= run;
    }
}

static void hll_init_copy(struct hll *h, const void *bytes, size_t len)
{
    hll_reserve(h, len + 3);
    memcpy(h->bytes, bytes, len);
    h->len = len;
}

/* Sparse to dense, keeping the header (the cache as it was). False if the
 * opcodes do not cover exactly the 16384 registers. */
static bool hll_to_dense(struct hll *h)
{
    uint8_t *dense, *p, *end;
    int idx = 0;

    if (h->bytes[HLL_ENCODING_BYTE] == HLL_DENSE)
        return true;
    dense = mi_zalloc(HLL_DENSE_SIZE + 3);
    if (dense == NULL)
        abort();
    memcpy(dense, h->bytes, HLL_HDR_SIZE);
    dense[HLL_ENCODING_BYTE] = HLL_DENSE;
    p = h->bytes + HLL_HDR_SIZE;
    end = h->bytes + h->len;
    while (p < end) {
        if (op_is_zero(p)) {
            idx += zero_len(p);
            p++;
        } else if (op_is_xzero(p)) {
            if (p + 1 >= end)
                break;
            idx += xzero_len(p);
            p += 2;
        } else {
            int run = val_len(p), value = val_value(p);
            if (idx + run > HLL_REGISTERS)
                break;
            while (run--)
                dense_put(dense + HLL_HDR_SIZE, idx++, value);
            p++;
        }
        if (idx > HLL_REGISTERS) /* corrupt, before the count overflows */
            break;
    }
    if (idx != HLL_REGISTERS || p < end) {
        mi_free(dense);
        return false;
    }
    mi_free(h->bytes);
    h->bytes = dense;
    h->len = HLL_DENSE_SIZE;
    h->cap = HLL_DENSE_SIZE + 3;
    return true;
}

/* Raise register index of a sparse HLL to count, as Redis's hllSparseSet:
 * 1 if it changed (the HLL may have turned dense), 0 if not, -1 if the
 * opcodes are corrupt. max_bytes is hll-sparse-max-bytes. */
static int sparse_raise(struct hll *h, int index, int count, long long max_bytes)
{
    uint8_t *sparse, *p, *end, *prev = NULL, *next;
    long first = 0, span = 0, runlen;
    bool zero, xzero;
    uint8_t seq[5], *n = seq;
    long last, len;
    int seqlen, oldlen, delta, scan;

    if (count > SPARSE_VAL_MAX_VALUE)
        goto promote;

    /* Find the opcode that covers the register. */
    sparse = p = h->bytes + HLL_HDR_SIZE;
    end = h->bytes + h->len;
    while (p < end) {
        int oplen = 1;

        if (op_is_zero(p)) {
            span = zero_len(p);
        } else if (op_is_val(p)) {
            span = val_len(p);
        } else {
            if (p + 1 >= end)
                return -1;
            span = xzero_len(p);
            oplen = 2;
        }
        if (index <= first + span - 1)
            break;
        prev = p;
        p += oplen;
        first += span;
    }
    if (span == 0 || p >= end)
        return -1;
    next = op_is_xzero(p) ? p + 2 : p + 1;
    if (next >= end)
        next = NULL;

    zero = op_is_zero(p);
    xzero = op_is_xzero(p);
    runlen = zero ? zero_len(p) : xzero ? xzero_len(p) : val_len(p);

    if (!zero && !xzero) {
        if (val_value(p) >= count)
            return 0;
        if (runlen == 1) {
            set_val(p, count, 1);
            goto updated;
        }
    }
    if (zero && runlen == 1) {
        set_val(p, count, 1);
        goto updated;
    }

    /* Split the run into what lies before the register (same kind), the
     * register itself, and what lies after. */
    last = first + span - 1;
    if (zero || xzero) {
        if (index != first) {
            len = index - first;
            if (len > SPARSE_ZERO_MAX_LEN) {
                set_xzero(n, (int)len);
                n += 2;
            } else {
                set_zero(n++, (int)len);
            }
        }
        set_val(n++, count, 1);
        if (index != last) {
            len = last - index;
            if (len > SPARSE_ZERO_MAX_LEN) {
                set_xzero(n, (int)len);
                n += 2;
            } else {
                set_zero(n++, (int)len);
            }
        }
    } else {
        int curval = val_value(p);

        if (index != first)
            set_val(n++, curval, (int)(index - first));
        set_val(n++, count, 1);
        if (index != last)
            set_val(n++, curval, (int)(last - index));
    }

    seqlen = (int)(n - seq);
    oldlen = xzero ? 2 : 1;
    delta = seqlen - oldlen;
    if (delta > 0 && (long long)h->len + delta > max_bytes)
        goto promote;
    if (delta > 0) {
        /* Room first: the pointers into the copy move with it. */
        size_t off_p = (size_t)(p - h->bytes), off_prev = prev ? (size_t)(prev - h->bytes) : 0;
        size_t off_next = next ? (size_t)(next - h->bytes) : 0;

        hll_reserve(h, h->len + (size_t)delta);
        p = h->bytes + off_p;
        prev = prev ? h->bytes + off_prev : NULL;
        next = next ? h->bytes + off_next : NULL;
        sparse = h->bytes + HLL_HDR_SIZE;
        end = h->bytes + h->len;
    }
    if (delta != 0 && next != NULL)
        memmove(next + delta, next, (size_t)(end - next));
    h->len = (size_t)((long)h->len + delta);
    memcpy(p, seq, (size_t)seqlen);
    end += delta;

updated:
    /* Merge equal neighbouring VAL opcodes around the change: up to five
     * opcodes from the one before it, as Redis scans. */
    p = prev ? prev : sparse;
    scan = 5;
    while (p < end && scan--) {
        if (op_is_xzero(p)) {
            p += 2;
            continue;
        }
        if (op_is_zero(p)) {
            p++;
            continue;
        }
        if (p + 1 < end && op_is_val(p + 1)) {
            int v1 = val_value(p), v2 = val_value(p + 1);
            int both = val_len(p) + val_len(p + 1);

            if (v1 == v2 && both <= SPARSE_VAL_MAX_LEN) {
                set_val(p + 1, v1, both);
                memmove(p, p + 1, (size_t)(end - p - 1));
                h->len--;
                end--;
                continue; /* the merged run may merge again to its right */
            }
        }
        p++;
    }
    cache_invalidate(h->bytes);
    return 1;

promote:
    if (!hll_to_dense(h))
        return -1;
    return dense_raise(h->bytes + HLL_HDR_SIZE, index, count);
}

/* Raise one register, whatever the encoding: 1 if it changed, -1 if corrupt. */
static int hll_raise(struct hll *h, int index, int count, long long max_bytes)
{
    if (h->bytes[HLL_ENCODING_BYTE] == HLL_DENSE)
        return dense_raise(h->bytes + HLL_HDR_SIZE, index, count);
    return sparse_raise(h, index, count, max_bytes);
}

/* max[i] = MAX(max[i], register i) over an HLL's registers; false if the
 * sparse opcodes do not cover exactly the 16384 registers. */
static bool merge_registers(uint8_t *max, const uint8_t *hll, size_t len)
{
    const uint8_t *p, *end;
    int i = 0;

    if (hll[HLL_ENCODING_BYTE] == HLL_DENSE) {
        for (i = 0; i < HLL_REGISTERS; i++) {
            int v = dense_get(hll + HLL_HDR_SIZE, i);
            if (v > max[i])
                max[i] = (uint8_t)v;
        }
        return true;
    }
    p = hll + HLL_HDR_SIZE;
    end = hll + len;
    while (p < end) {
        if (op_is_zero(p)) {
            i += zero_len(p);
            p++;
        } else if (op_is_xzero(p)) {
            if (p + 1 >= end)
                return false;
            i += xzero_len(p);
            p += 2;
        } else {
            int run = val_len(p), value = val_value(p);
            if (i + run > HLL_REGISTERS)
                return false;
            for (; run > 0; run--, i++)
                if (value > max[i])
                    max[i] = (uint8_t)value;
            p++;
        }
        /* past the registers already: corrupt (a long string of zero runs
         * would overflow the count) */
        if (i > HLL_REGISTERS)
            return false;
    }
    return i == HLL_REGISTERS;
}

/* ---- the estimate ---- */

static double hll_sigma(double x)
{
    double z = x, y = 1, prev;

    if (x == 1.)
        return INFINITY;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (prev != z);
    return z;
}

static double hll_tau(double x)
{
    double z, y = 1.0, prev;

    if (x == 0. || x == 1.)
        return 0.;
    z = 1 - x;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (prev != z);
    return z / 3;
}

/* Ertl's estimate from the histogram of register values (0..Q+1). */
static uint64_t estimate(const int *histo)
{
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - histo[HLL_Q + 1]) / m);

    for (int j = HLL_Q; j >= 1; --j) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * hll_sigma(histo[0] / m);
    return (uint64_t)llroundl(HLL_ALPHA_INF * m * m / z);
}

/* The cardinality of one HLL; false if its sparse opcodes are corrupt. */
static bool hll_count(const uint8_t *hll, size_t len, uint64_t *card)
{
    int histo[64] = { 0 };

    if (hll[HLL_ENCODING_BYTE] == HLL_DENSE) {
        for (int i = 0; i < HLL_REGISTERS; i++)
            histo[dense_get(hll + HLL_HDR_SIZE, i)]++;
    } else {
        const uint8_t *p = hll + HLL_HDR_SIZE, *end = hll + len;
        int idx = 0;

        while (p < end) {
            if (op_is_zero(p)) {
                histo[0] += zero_len(p);
                idx += zero_len(p);
                p++;
            } else if (op_is_xzero(p)) {
                if (p + 1 >= end)
                    return false;
                histo[0] += xzero_len(p);
                idx += xzero_len(p);
                p += 2;
            } else {
                histo[val_value(p)] += val_len(p);
                idx += val_len(p);
                p++;
            }
            if (idx > HLL_REGISTERS)
                return false;
        }
        if (idx != HLL_REGISTERS)
            return false;
    }
    *card = estimate(histo);
    return true;
}

/* ---- commands ---- */

static long long sparse_max_bytes(const struct exec_ctx *ctx)
{
    if (!ctx->shard || !ctx->shard->node)
        return 3000;
    return config_load(&ctx->shard->node->config, hll_sparse_max_bytes);
}

/* Replies and returns false unless e is missing or a string holding an HLL. */
static bool hll_or_reply(struct exec_ctx *ctx, struct entry *e)
{
    if (e == NULL)
        return true;
    if (entry_type(e) != TYPE_STRING) {
        reply_error(ctx->reply, ERR_WRONGTYPE);
        return false;
    }
    if (!is_hll((const uint8_t *)entry_value(e), entry_value_len(e))) {
        reply_error(ctx->reply, ERR_NOT_HLL);
        return false;
    }
    return true;
}

/* Write a working copy back as key's value: a new key, or e's value
 * replaced in place (its TTL kept, as Redis edits the string it has). */
static void hll_store(struct exec_ctx *ctx, struct slice key, struct entry *e, const struct hll *h)
{
    if (e == NULL)
        e = store_set(ctx->store, key, NULL, h->len, 0);
    else if (entry_value_len(e) != h->len)
        e = store_resize(ctx->store, e, h->len);
    memcpy(entry_value(e), h->bytes, h->len);
    store_string_set_form(e, STRING_RAW);
    store_changed(ctx->store, e);
}

void cmd_pfadd(struct exec_ctx *ctx)
{
    struct slice key = ctx->argv[1];
    struct entry *e = store_find(ctx->store, key, ctx->now_ms);
    struct hll h = { NULL, 0, 0 };
    long long max_bytes = sparse_max_bytes(ctx);
    int updated = 0;

    if (!hll_or_reply(ctx, e))
        return;

    /* A dense HLL never changes size: edit it where it is. */
    if (e != NULL && ((uint8_t *)entry_value(e))[HLL_ENCODING_BYTE] == HLL_DENSE) {
        uint8_t *hll = (uint8_t *)entry_value(e);

        for (int j = 2; j < ctx->argc; j++) {
            int value, index = element_register(ctx->argv[j], &value);
            updated += dense_raise(hll + HLL_HDR_SIZE, index, value);
        }
        store_string_set_form(e, STRING_RAW);
        if (updated) {
            cache_invalidate(hll);
            store_changed(ctx->store, e);
        }
        reply_int(ctx->reply, updated ? 1 : 0);
        return;
    }

    if (e == NULL) {
        hll_init_empty(&h);
        updated = 1; /* created: Redis counts it as an update (cache invalid) */
    } else {
        hll_init_copy(&h, entry_value(e), entry_value_len(e));
    }
    for (int j = 2; j < ctx->argc; j++) {
        int value, index = element_register(ctx->argv[j], &value);
        int r = hll_raise(&h, index, value, max_bytes);

        if (r < 0) {
            /* Redis keeps what the elements before this one changed (its
             * edits are in place), the cache marked invalid by them. */
            if (updated)
                hll_store(ctx, key, e, &h);
            mi_free(h.bytes);
            reply_error(ctx->reply, ERR_CORRUPT);
            return;
        }
        updated += r;
    }
    if (updated) {
        cache_invalidate(h.bytes);
        hll_store(ctx, key, e, &h);
    } else {
        store_string_set_form(e, STRING_RAW);
    }
    mi_free(h.bytes);
    reply_int(ctx->reply, updated ? 1 : 0);
}

void cmd_pfcount(struct exec_ctx *ctx)
{
    uint64_t card;

    if (ctx->argc > 2) {
        /* The union's estimate, from the highest value of each register
         * over the keys; nothing is written. */
        uint8_t *max = mi_zalloc(HLL_REGISTERS);
        int histo[64] = { 0 };

        if (max == NULL)
            abort();
        for (int j = 1; j < ctx->argc; j++) {
            struct entry *e = store_find(ctx->store, ctx->argv[j], ctx->now_ms);

            if (e == NULL)
                continue;
            if (!hll_or_reply(ctx, e)) {
                mi_free(max);
                return;
            }
            if (!merge_registers(max, (const uint8_t *)entry_value(e), entry_value_len(e))) {
                mi_free(max);
                reply_error(ctx->reply, ERR_CORRUPT);
                return;
            }
        }
        for (int i = 0; i < HLL_REGISTERS; i++)
            histo[max[i]]++;
        mi_free(max);
        reply_int(ctx->reply, (long long)estimate(histo));
        return;
    }

    struct entry *e = store_find(ctx->store, ctx->argv[1], ctx->now_ms);
    uint8_t *hll;

    if (e == NULL) {
        reply_int(ctx->reply, 0);
        return;
    }
    if (!hll_or_reply(ctx, e))
        return;
    hll = (uint8_t *)entry_value(e);
    store_string_set_form(e, STRING_RAW);
    if (cache_valid(hll)) {
        reply_int(ctx->reply, (long long)cache_read(hll));
        return;
    }
    if (!hll_count(hll, entry_value_len(e), &card)) {
        reply_error(ctx->reply, ERR_CORRUPT);
        return;
    }
    /* The count is cached in the value: a write, as in Redis. */
    cache_write(hll, card);
    store_changed(ctx->store, e);
    reply_int(ctx->reply, (long long)card);
}

void cmd_pfmerge(struct exec_ctx *ctx)
{
    struct slice dest = ctx->argv[1];
    uint8_t *max = mi_zalloc(HLL_REGISTERS);
    struct hll h = { NULL, 0, 0 };
    long long max_bytes = sparse_max_bytes(ctx);
    bool use_dense = false;
    struct entry *e;

    if (max == NULL)
        abort();
    /* The destination is a source too. */
    for (int j = 1; j < ctx->argc; j++) {
        const uint8_t *hll;

        e = store_find(ctx->store, ctx->argv[j], ctx->now_ms);
        if (e == NULL)
            continue;
        if (!hll_or_reply(ctx, e))
            goto out;
        hll = (const uint8_t *)entry_value(e);
        /* One dense source makes the result dense, as in Redis. */
        if (hll[HLL_ENCODING_BYTE] == HLL_DENSE)
            use_dense = true;
        if (!merge_registers(max, hll, entry_value_len(e))) {
            reply_error(ctx->reply, ERR_CORRUPT);
            goto out;
        }
    }

    e = store_peek(ctx->store, dest, ctx->now_ms);
    if (e == NULL)
        hll_init_empty(&h);
    else
        hll_init_copy(&h, entry_value(e), entry_value_len(e));
    if (use_dense && !hll_to_dense(&h)) {
        reply_error(ctx->reply, ERR_CORRUPT);
        goto out;
    }
    for (int i = 0; i < HLL_REGISTERS; i++) {
        if (max[i] != 0)
            hll_raise(&h, i, max[i], max_bytes);
    }
    cache_invalidate(h.bytes);
    hll_store(ctx, dest, e, &h);
    reply_ok(ctx->reply);
out:
    mi_free(h.bytes);
    mi_free(max);
}

/* ---- PFDEBUG, PFSELFTEST -------------------------------------------------- */

/* A sparse HLL's opcodes as Redis's PFDEBUG DECODE writes them: "z:n" a
 * ZERO run, "Z:n" an XZERO run, "v:value,n" a VAL run; false if they run
 * past the end. */
static bool sparse_decode(const uint8_t *p, const uint8_t *end, struct buf *out)
{
    while (p < end) {
        if (out->len)
            buf_append(out, " ", 1);
        if (op_is_zero(p)) {
            buf_printf(out, "z:%d", zero_len(p));
            p++;
        } else if (op_is_xzero(p)) {
            if (p + 1 >= end)
                return false;
            buf_printf(out, "Z:%d", xzero_len(p));
            p += 2;
        } else {
            buf_printf(out, "v:%d,%d", val_value(p), val_len(p));
            p++;
        }
    }
    return true;
}

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: Redis's debugging views of an
 * HLL (GETREG and TODENSE leave it dense, as Redis's do). */
void cmd_pfdebug(struct exec_ctx *ctx)
{
    struct slice sub = ctx->argv[1], key = ctx->argv[2];
    struct entry *e = store_find(ctx->store, key, ctx->now_ms);
    if (e == NULL) {
        reply_error(ctx->reply, "ERR The specified key does not exist");
        return;
    }
    if (!hll_or_reply(ctx, e))
        return;
    const uint8_t *v = (const uint8_t *)entry_value(e);
    size_t len = entry_value_len(e);
    bool sparse = v[HLL_ENCODING_BYTE] == HLL_SPARSE;
    if (slice_eq_nocase(sub, "encoding")) {
        reply_simple(ctx->reply, sparse ? "sparse" : "dense");
    } else if (slice_eq_nocase(sub, "decode")) {
        if (!sparse) {
            reply_error(ctx->reply, "ERR HLL encoding is not sparse");
            return;
        }
        struct buf out;
        buf_init(&out);
        if (sparse_decode(v + HLL_HDR_SIZE, v + len, &out))
            reply_bulk(ctx->reply, out.data ? out.data : "", out.len);
        else
            reply_error(ctx->reply, ERR_CORRUPT);
        buf_free(&out);
    } else if (slice_eq_nocase(sub, "getreg") || slice_eq_nocase(sub, "todense")) {
        struct hll h = { NULL, 0, 0 };
        hll_init_copy(&h, v, len);
        if (sparse) {
            if (!hll_to_dense(&h)) {
                mi_free(h.bytes);
                reply_error(ctx->reply, ERR_CORRUPT);
                return;
            }
            hll_store(ctx, key, e, &h);
        }
        if (slice_eq_nocase(sub, "todense")) {
            reply_int(ctx->reply, sparse ? 1 : 0);
        } else {
            reply_array(ctx->reply, HLL_REGISTERS);
            for (int i = 0; i < HLL_REGISTERS; i++)
                reply_int(ctx->reply, dense_get(h.bytes + HLL_HDR_SIZE, i));
        }
        mi_free(h.bytes);
    } else {
        reply_errorf(ctx->reply, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)sub.len, sub.ptr);
    }
}

/* PFSELFTEST: the registers' packing and the estimator checked here, as
 * Redis's self-test does: every dense register written and read back with
 * two patterns; one HLL filled with 100,000 distinct elements, sparse and
 * then dense, its estimate within 6 standard errors (1.04/sqrt(16384)) of
 * the truth at each checkpoint, and the same estimate from its sparse and
 * its dense form while it is still sparse. */
void cmd_pfselftest(struct exec_ctx *ctx)
{
    char failed[160] = "";
    uint8_t *regs = mi_zalloc(HLL_DENSE_SIZE - HLL_HDR_SIZE + 3);
    for (int pattern = 0; pattern < 2 && !failed[0]; pattern++) {
        for (int i = 0; i < HLL_REGISTERS; i++)
            dense_put(regs, i, pattern ? 63 - i % 64 : (i * 7) % 64);
        for (int i = 0; i < HLL_REGISTERS && !failed[0]; i++)
            if (dense_get(regs, i) != (pattern ? 63 - i % 64 : (i * 7) % 64))
                snprintf(failed, sizeof failed, "ERR TESTFAILED Register error at index %d", i);
    }
    mi_free(regs);

    struct hll h = { NULL, 0, 0 };
    hll_init_empty(&h);
    const double relerr = 1.04 / sqrt((double)HLL_REGISTERS);
    long checkpoint = 1;
    char ele[32];
    for (long n = 1; n <= 100000 && !failed[0]; n++) {
        int len = snprintf(ele, sizeof ele, "selftest:%ld", n), value;
        int index = element_register((struct slice){ ele, (size_t)len }, &value);
        if (hll_raise(&h, index, value, 3000) < 0) {
            snprintf(failed, sizeof failed, "ERR TESTFAILED sparse encoding corrupted after %ld elements", n);
            break;
        }
        if (n != checkpoint)
            continue;
        checkpoint *= 10;
        cache_invalidate(h.bytes);
        uint64_t card = 0;
        if (!hll_count(h.bytes, h.len, &card)) {
            snprintf(failed, sizeof failed, "ERR TESTFAILED unreadable HLL after %ld elements", n);
            break;
        }
        double err = fabs((double)card - (double)n);
        if (err > 6 * relerr * (double)n + 1)
            snprintf(failed, sizeof failed, "ERR TESTFAILED Too big error. card:%llu abserr:%.0f",
                     (unsigned long long)card, err);
        if (!failed[0] && h.bytes[HLL_ENCODING_BYTE] == HLL_SPARSE) {
            struct hll d = { NULL, 0, 0 };
            uint64_t dense_card = 0;
            hll_init_copy(&d, h.bytes, h.len);
            if (!hll_to_dense(&d) || !hll_count(d.bytes, d.len, &dense_card) || dense_card != card)
                snprintf(failed, sizeof failed, "ERR TESTFAILED sparse and dense estimates differ at %ld", n);
            mi_free(d.bytes);
        }
    }
    mi_free(h.bytes);
    if (failed[0])
        reply_error(ctx->reply, failed);
    else
        reply_ok(ctx->reply);
}
