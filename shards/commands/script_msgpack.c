/* script_msgpack: the cmsgpack library Redis gives scripts (MessagePack,
 * https://github.com/msgpack/msgpack/blob/master/spec.md), written here
 * for ringkv: cmsgpack.pack(v1, v2, ...) -> one string of their encodings
 * one after another; cmsgpack.unpack(s) -> every value in s;
 * cmsgpack.unpack_one(s [, offset]) -> the next offset (-1 at the end) and
 * one value; cmsgpack.unpack_limit(s, limit [, offset]) -> the next offset
 * and up to limit values. Queue libraries pass their arguments to their
 * scripts this way (BullMQ's scripts unpack every job's options).
 *
 * The encoding is the one Redis's scripts produce, so that a client
 * comparing bytes sees the same ones: a number that is a whole value in
 * 64 bits is the shortest integer form, any other a float32 if that holds
 * it exactly, else a float64; a string the shortest str form (fixstr, str8,
 * str16, str32); a table whose keys are exactly 1..n an array, any other
 * a map (an empty table is an empty array); nil, and anything without a
 * MessagePack form (functions, userdata), nil; tables nested past 16
 * levels (a table that holds itself) nil. Decoding takes what Redis's
 * scripts take: integers and floats become numbers (a uint64 past
 * int64's range its int64), str strings, arrays and maps tables (a nil
 * key raises "table index is nil"); bin and the extensions are bad data. A truncated input raises "Missing bytes in
 * input.", an extension or an unknown byte "Bad data format in input.";
 * nesting deeper than the Lua stack allows raises too. No length from the
 * input makes room before its bytes are there: a table is sized at most
 * by the bytes left. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "shards/commands/script.h"

#define PACK_MAX_NESTING 16

/* ---- encoding ---------------------------------------------------------- */

/* The string being made. Its bytes are a userdata at stack slot `slot`
 * (collected if an error ends the call half way), replaced by a bigger one
 * as it grows; values are pushed and popped above it freely. */
struct packer {
    lua_State     *L;
    int            slot;
    unsigned char *p;
    size_t         len, cap;
};

static void room(struct packer *pk, size_t n)
{
    if (pk->cap - pk->len >= n)
        return;
    size_t cap = pk->cap * 2;
    while (cap - pk->len < n)
        cap *= 2;
    unsigned char *q = lua_newuserdata(pk->L, cap);
    memcpy(q, pk->p, pk->len);
    lua_replace(pk->L, pk->slot);
    pk->p = q;
    pk->cap = cap;
}

static void put_bytes(struct packer *pk, const void *s, size_t n)
{
    room(pk, n);
    memcpy(pk->p + pk->len, s, n);
    pk->len += n;
}

static void put_byte(struct packer *pk, unsigned char c)
{
    put_bytes(pk, &c, 1);
}

/* tag, then v in `bytes` bytes, big-endian */
static void put_head(struct packer *pk, unsigned char tag, uint64_t v, int bytes)
{
    unsigned char h[9];
    h[0] = tag;
    for (int i = 0; i < bytes; i++)
        h[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    put_bytes(pk, h, (size_t)bytes + 1);
}

static void pack_integer(struct packer *pk, int64_t n)
{
    if (n >= 0) {
        uint64_t u = (uint64_t)n;
        if (u <= 0x7f)
            put_byte(pk, (unsigned char)u);
        else if (u <= 0xff)
            put_head(pk, 0xcc, u, 1);
        else if (u <= 0xffff)
            put_head(pk, 0xcd, u, 2);
        else if (u <= 0xffffffffu)
            put_head(pk, 0xce, u, 4);
        else
            put_head(pk, 0xcf, u, 8);
    } else if (n >= -32) {
        put_byte(pk, (unsigned char)(0xe0 | (n & 0x1f)));
    } else if (n >= INT8_MIN) {
        put_head(pk, 0xd0, (uint64_t)n & 0xff, 1);
    } else if (n >= INT16_MIN) {
        put_head(pk, 0xd1, (uint64_t)n & 0xffff, 2);
    } else if (n >= INT32_MIN) {
        put_head(pk, 0xd2, (uint64_t)n & 0xffffffffu, 4);
    } else {
        put_head(pk, 0xd3, (uint64_t)n, 8);
    }
}

static void pack_number(struct packer *pk, lua_Number d)
{
    /* whole and within int64's range (2^63 itself is not) */
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        pack_integer(pk, (int64_t)d);
        return;
    }
    float f = (float)d;
    if ((double)f == d) {
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        put_head(pk, 0xca, bits, 4);
    } else { /* NaN too: it equals no float */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        put_head(pk, 0xcb, bits, 8);
    }
}

static void pack_string(struct packer *pk, const char *s, size_t len)
{
    if (len < 32)
        put_byte(pk, (unsigned char)(0xa0 | len));
    else if (len <= 0xff)
        put_head(pk, 0xd9, len, 1);
    else if (len <= 0xffff)
        put_head(pk, 0xda, len, 2);
    else
        put_head(pk, 0xdb, len, 4);
    put_bytes(pk, s, len);
}

/* Are the keys of the table at the top exactly 1..n? */
static bool table_is_array(lua_State *L)
{
    lua_Number max = 0, count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_Number k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k <= 0 || k != floor(k)) {
            lua_pop(L, 1);
            return false;
        }
        if (k > max)
            max = k;
        count++;
    }
    return max == count;
}

static void pack_value(struct packer *pk, int level);

static void pack_table(struct packer *pk, int level)
{
    lua_State *L = pk->L;
    luaL_checkstack(L, 3, "cmsgpack: nesting too deep");
    if (table_is_array(L)) {
        size_t n = lua_objlen(L, -1);
        if (n <= 15)
            put_byte(pk, (unsigned char)(0x90 | n));
        else if (n <= 0xffff)
            put_head(pk, 0xdc, n, 2);
        else
            put_head(pk, 0xdd, n, 4);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (int)i);
            pack_value(pk, level + 1);
        }
        return;
    }
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    if (n <= 15)
        put_byte(pk, (unsigned char)(0x80 | n));
    else if (n <= 0xffff)
        put_head(pk, 0xde, n, 2);
    else
        put_head(pk, 0xdf, n, 4);
    lua_pushnil(L);
    while (lua_next(L, -2)) {  /* table key value */
        lua_pushvalue(L, -2);   /* table key value key */
        pack_value(pk, level + 1);
        pack_value(pk, level + 1); /* the value; the key stays for lua_next */
    }
}

/* Encode the value at the top of the stack and pop it. */
static void pack_value(struct packer *pk, int level)
{
    lua_State *L = pk->L;
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level >= PACK_MAX_NESTING)
        t = LUA_TNIL;
    switch (t) {
    case LUA_TBOOLEAN:
        put_byte(pk, lua_toboolean(L, -1) ? 0xc3 : 0xc2);
        break;
    case LUA_TNUMBER:
        pack_number(pk, lua_tonumber(L, -1));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        pack_string(pk, s, len);
        break;
    }
    case LUA_TTABLE:
        pack_table(pk, level);
        break;
    default:
        put_byte(pk, 0xc0);
        break;
    }
    lua_pop(L, 1);
}

static int cmsgpack_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    luaL_checkstack(L, 4, "cmsgpack: too many values");
    struct packer pk = { L, nargs + 1, NULL, 0, 64 };
    pk.p = lua_newuserdata(L, pk.cap);
    for (int i = 1; i <= nargs; i++) {
        lua_pushvalue(L, i);
        pack_value(&pk, 0);
    }
    lua_pushlstring(L, (const char *)pk.p, pk.len);
    return 1;
}

/* ---- decoding ---------------------------------------------------------- */

enum { UNPACK_OK, UNPACK_EOF, UNPACK_BADFMT };

struct unpacker {
    const unsigned char *p;
    size_t               left;
    int                  err;
};

/* The next n bytes, or NULL (the error set) if the input has fewer. */
static const unsigned char *take(struct unpacker *u, size_t n)
{
    if (u->left < n) {
        u->err = UNPACK_EOF;
        return NULL;
    }
    const unsigned char *at = u->p;
    u->p += n;
    u->left -= n;
    return at;
}

static uint64_t be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* A length of `bytes` bytes, or false (the error set). */
static bool take_len(struct unpacker *u, int bytes, size_t *out)
{
    const unsigned char *p = take(u, (size_t)bytes);
    if (!p)
        return false;
    *out = (size_t)be(p, bytes);
    return true;
}

static void unpack_value(lua_State *L, struct unpacker *u);

static void unpack_string(lua_State *L, struct unpacker *u, size_t len)
{
    const unsigned char *s = take(u, len);
    if (s)
        lua_pushlstring(L, (const char *)s, len);
}

static void unpack_array(lua_State *L, struct unpacker *u, size_t n)
{
    luaL_checkstack(L, 2, "cmsgpack: nesting too deep");
    /* sized by what the input can hold: an element takes a byte at least */
    lua_createtable(L, (int)(n < u->left ? n : u->left), 0);
    for (size_t i = 1; i <= n; i++) {
        unpack_value(L, u);
        if (u->err) {
            lua_pop(L, 1);
            return;
        }
        lua_rawseti(L, -2, (int)i);
    }
}

static void unpack_map(lua_State *L, struct unpacker *u, size_t n)
{
    luaL_checkstack(L, 3, "cmsgpack: nesting too deep");
    lua_createtable(L, 0, (int)(n < u->left / 2 ? n : u->left / 2));
    for (size_t i = 0; i < n; i++) {
        unpack_value(L, u);
        if (u->err) {
            lua_pop(L, 1);
            return;
        }
        unpack_value(L, u);
        if (u->err) {
            lua_pop(L, 2);
            return;
        }
        lua_rawset(L, -3); /* a nil key raises "table index is nil", as in Redis */
    }
}

/* Push the next value (nothing, with u->err set, if the input is cut or
 * bad). */
static void unpack_value(lua_State *L, struct unpacker *u)
{
    const unsigned char *p = take(u, 1);
    if (!p)
        return;
    unsigned char c = *p;
    size_t n;
    luaL_checkstack(L, 1, "too many return values at once; use unpack_one or unpack_limit instead.");
    if (c <= 0x7f) {
        lua_pushnumber(L, c);
        return;
    }
    if (c >= 0xe0) {
        lua_pushnumber(L, (signed char)c);
        return;
    }
    if ((c & 0xe0) == 0xa0) {
        unpack_string(L, u, c & 0x1f);
        return;
    }
    if ((c & 0xf0) == 0x90) {
        unpack_array(L, u, c & 0x0f);
        return;
    }
    if ((c & 0xf0) == 0x80) {
        unpack_map(L, u, c & 0x0f);
        return;
    }
    switch (c) {
    case 0xc0:
        lua_pushnil(L);
        return;
    case 0xc2:
    case 0xc3:
        lua_pushboolean(L, c == 0xc3);
        return;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: { /* uint 8..64 */
        int bytes = 1 << (c - 0xcc);
        if (!(p = take(u, (size_t)bytes)))
            return;
        uint64_t v = be(p, bytes);
        /* a uint64 past int64's range reads as its int64 (2^64-1: -1), as
         * Redis's scripts read it */
        lua_pushnumber(L, c == 0xcf ? (lua_Number)(int64_t)v : (lua_Number)v);
        return;
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: { /* int 8..64 */
        int bytes = 1 << (c - 0xd0);
        if (!(p = take(u, (size_t)bytes)))
            return;
        uint64_t v = be(p, bytes);
        int shift = 64 - 8 * bytes; /* sign-extend */
        lua_pushnumber(L, (lua_Number)((int64_t)(v << shift) >> shift));
        return;
    }
    case 0xca: {
        if (!(p = take(u, 4)))
            return;
        uint32_t bits = (uint32_t)be(p, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        lua_pushnumber(L, f);
        return;
    }
    case 0xcb: {
        if (!(p = take(u, 8)))
            return;
        uint64_t bits = be(p, 8);
        double d;
        memcpy(&d, &bits, sizeof d);
        lua_pushnumber(L, d);
        return;
    }
    case 0xd9: /* str8 */
        if (take_len(u, 1, &n))
            unpack_string(L, u, n);
        return;
    case 0xda:
        if (take_len(u, 2, &n))
            unpack_string(L, u, n);
        return;
    case 0xdb:
        if (take_len(u, 4, &n))
            unpack_string(L, u, n);
        return;
    case 0xdc: case 0xdd:
        if (take_len(u, c == 0xdc ? 2 : 4, &n))
            unpack_array(L, u, n);
        return;
    case 0xde: case 0xdf:
        if (take_len(u, c == 0xde ? 2 : 4, &n))
            unpack_map(L, u, n);
        return;
    default: /* 0xc1, bin (as Redis's scripts), the extensions */
        u->err = UNPACK_BADFMT;
        return;
    }
}

/* Decode up to `limit` values (all for 0) from byte `offset` of the string
 * argument. With a limit or an offset, the next offset (-1 once the input
 * is used up) comes first. */
static int unpack_from(lua_State *L, long long limit, long long offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    bool all = limit == 0 && offset == 0;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", (int)offset,
                          (int)limit);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)len);
    lua_settop(L, 1);
    struct unpacker u = { (const unsigned char *)s + offset, len - (size_t)offset, UNPACK_OK };
    int count = 0;
    while (u.left > 0 && (all || count < limit)) {
        unpack_value(L, &u);
        if (u.err == UNPACK_EOF)
            return luaL_error(L, "Missing bytes in input.");
        if (u.err == UNPACK_BADFMT)
            return luaL_error(L, "Bad data format in input.");
        count++;
    }
    if (all)
        return count;
    luaL_checkstack(L, 1, "cmsgpack: too many values");
    lua_pushinteger(L, u.left == 0 ? -1 : (lua_Integer)(len - u.left));
    lua_insert(L, 2);
    return count + 1;
}

static int cmsgpack_unpack(lua_State *L)
{
    return unpack_from(L, 0, 0);
}

static int cmsgpack_unpack_one(lua_State *L)
{
    long long offset = luaL_optinteger(L, 2, 0);
    return unpack_from(L, 1, offset);
}

static int cmsgpack_unpack_limit(lua_State *L)
{
    long long limit = luaL_checkinteger(L, 2);
    long long offset = luaL_optinteger(L, 3, 0);
    return unpack_from(L, limit, offset);
}

static const luaL_Reg cmsgpack_functions[] = {
    { "pack", cmsgpack_pack },
    { "unpack", cmsgpack_unpack },
    { "unpack_one", cmsgpack_unpack_one },
    { "unpack_limit", cmsgpack_unpack_limit },
    { NULL, NULL },
};

int luaopen_cmsgpack(lua_State *L)
{
    lua_newtable(L);
    luaL_register(L, NULL, cmsgpack_functions);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
