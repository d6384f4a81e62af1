/* script_struct: the struct library Redis gives scripts (Roberto
 * Ierusalimschy's lua_struct, as Redis 7.0 embeds it), written here for
 * ringkv from its documented behaviour: struct.pack(fmt, v1, v2, ...) -> a
 * string of the values laid out as fmt says; struct.unpack(fmt, s [, pos])
 * -> the values read from s from byte pos (1 by default), then the
 * position after the last byte read; struct.size(fmt) -> how many bytes
 * pack makes of fmt.
 *
 * The format, read left to right (spaces are ignored):
 *   <  >   little-endian, big-endian (the machine's by default; Redis's
 *          has no "=")
 *   !n     align an item to the smaller of its size and n (a power of 2;
 *          ! alone is 8); by default nothing is aligned
 *   x      a zero byte (unpack skips a byte)
 *   b B    a signed, unsigned char
 *   h H    a signed, unsigned short (2 bytes)
 *   l L    a signed, unsigned long (8 bytes)
 *   T      a size_t (8 bytes, unsigned)
 *   in In  a signed, unsigned integer of n bytes (4 if no n; at most 32)
 *   f d    a float (4 bytes), a double (8)
 *   s      a string and a zero byte after it
 *   cn     a string of n bytes (1 if no n): pack cuts a longer one; c0
 *          packs the whole string, and unpacks as many bytes as the
 *          value before it says (which the string replaces in the
 *          results)
 *
 * What Redis's does at the edges, this does too, since scripts may rely on
 * the bytes: integers are 64-bit (bytes of an integer past the 8th pack as
 * zeros and unpack ignored; a signed one past 8 bytes sign-extends from the
 * bit x86's shift-count wrap gives); a number packed as an integer is
 * converted as gcc's x86-64 code converts a double (NaN and anything below
 * -2^63 to 0x8000000000000000, 2^64 and over to 0); an item whose size is
 * not a power of 2 (i3) is aligned by the same mask arithmetic, which does
 * not make its offset a multiple of its size; unpack's position is taken
 * as an unsigned size, so a negative one reads as very large; in
 * struct.size a letter or digit that is not an option adds nothing (pack
 * and unpack refuse it). The error texts are Redis's, the argument numbers
 * in them included (pack's "string too short" names the argument after
 * the short one). Tested against redis-server 7.0.15 (x86-64). */
#include <lauxlib.h>
#include <lua.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shards/commands/script.h"

#define STRUCT_INT_MAX   32 /* bytes of an i or I */
#define STRUCT_ALIGN_MAX 8  /* what "!" alone means: a double's alignment */

static const bool native_little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

struct layout {
    bool   little;
    size_t align;
};

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static bool is_alnum(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The decimal number at *p (advanced past it), or dflt if there is none. */
static int read_count(lua_State *L, const char **p, int dflt)
{
    if (!is_digit(**p))
        return dflt;
    int n = 0;
    while (is_digit(**p)) {
        int d = **p - '0';
        if (n > (INT_MAX - d) / 10)
            luaL_error(L, "integral size overflow");
        n = n * 10 + d;
        (*p)++;
    }
    return n;
}

/* The bytes of one item of option c (0 for the options that are not items
 * and for s), reading the count after c, i and I. */
static size_t item_size(lua_State *L, int c, const char **p)
{
    switch (c) {
    case 'b': case 'B': case 'x':
        return 1;
    case 'h': case 'H':
        return 2;
    case 'l': case 'L': case 'T': case 'd':
        return 8;
    case 'f':
        return 4;
    case 'c':
        return (size_t)read_count(L, p, 1);
    case 'i': case 'I': {
        int n = read_count(L, p, 4);
        if (n > STRUCT_INT_MAX)
            luaL_error(L, "integral size %d is larger than limit of %d", n, STRUCT_INT_MAX);
        return (size_t)n;
    }
    default:
        return 0;
    }
}

/* The zero bytes before an item of option c and `size` bytes at offset pos:
 * to a multiple of the smaller of its size and the alignment (none for
 * strings). */
static size_t padding(const struct layout *lay, size_t pos, int c, size_t size)
{
    if (size == 0 || c == 'c')
        return 0;
    size_t a = size < lay->align ? size : lay->align;
    return (a - (pos & (a - 1))) & (a - 1);
}

/* The options that are not items: endianness, alignment, space. */
static void set_option(lua_State *L, int c, const char **p, struct layout *lay)
{
    switch (c) {
    case ' ':
        return;
    case '<':
        lay->little = true;
        return;
    case '>':
        lay->little = false;
        return;
    case '!': {
        int a = read_count(L, p, STRUCT_ALIGN_MAX);
        if (a <= 0 || (a & (a - 1)) != 0)
            luaL_error(L, "alignment %d is not a power of 2", a);
        lay->align = (size_t)a;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", c));
    }
}

/* A number as a 64-bit integer's bits, as gcc's x86-64 code converts a
 * double to an unsigned integer (Redis converts a negative one to a signed
 * integer first, which comes to the same): the out-of-range cases are what
 * the cvttsd2si instruction gives, 0x8000000000000000 for NaN and below
 * -2^63, and (less 2^63, then that bit put back) 0 from 2^64 up. Pack's
 * integers and unpack's c0 size both take a number this way. */
static uint64_t number_bits(lua_Number n)
{
    if (n >= 0x1p63) /* false for NaN */
        return n >= 0x1p64 ? 0 : (uint64_t)(int64_t)(n - 0x1p63) | UINT64_C(1) << 63;
    if (n >= -0x1p63)
        return (uint64_t)(int64_t)n;
    return UINT64_C(1) << 63; /* below -2^63, NaN */
}

/* size bytes of a float or double in the layout's byte order */
static void put_swapped(luaL_Buffer *b, const struct layout *lay, const void *v, size_t size)
{
    const unsigned char *s = v;
    for (size_t i = 0; i < size; i++)
        luaL_addchar(b, (char)s[lay->little == native_little ? i : size - 1 - i]);
}

static int struct_pack(lua_State *L)
{
    const char *p = luaL_checkstring(L, 1);
    struct layout lay = { native_little, 1 };
    int arg = 2;
    size_t total = 0;
    /* a missing value is reported "got nil", as Redis does (its buffer
     * starts after a nil) */
    lua_pushnil(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (*p) {
        int c = (unsigned char)*p++;
        size_t size = item_size(L, c, &p);
        size_t pad = padding(&lay, total, c, size);
        for (size_t i = 0; i < pad; i++)
            luaL_addchar(&b, '\0');
        total += pad;
        switch (c) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I': {
            uint64_t v = number_bits(luaL_checknumber(L, arg++));
            for (size_t i = 0; i < size; i++) {
                size_t k = lay.little ? i : size - 1 - i; /* byte k of the value */
                luaL_addchar(&b, k < 8 ? (char)(v >> (8 * k)) : '\0');
            }
            break;
        }
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            put_swapped(&b, &lay, &f, sizeof f);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            put_swapped(&b, &lay, &d, sizeof d);
            break;
        }
        case 'c': case 's': {
            size_t len;
            const char *s = luaL_checklstring(L, arg, &len);
            if (size == 0)
                size = len;
            if (len < size) /* Redis names the next argument */
                luaL_argerror(L, arg + 1, "string too short");
            arg++;
            luaL_addlstring(&b, s, size);
            if (c == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            set_option(L, c, &p, &lay);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

/* The integer of size bytes at s: the low 64 bits of it, sign-extended
 * from bit (size * 8 - 1) mod 64 if signed (Redis's shift, on x86). */
static lua_Number get_integer(const unsigned char *s, const struct layout *lay, bool sign, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = v << 8 | s[lay->little ? size - 1 - i : i];
    if (!sign)
        return (lua_Number)v;
    uint64_t high = ~UINT64_C(0) << ((size * 8 - 1) & 63);
    if (v & high)
        v |= high;
    return (lua_Number)(int64_t)v;
}

/* size bytes at s, in the layout's byte order, into v */
static void get_swapped(void *v, const struct layout *lay, const unsigned char *s, size_t size)
{
    unsigned char *d = v;
    for (size_t i = 0; i < size; i++)
        d[i] = s[lay->little == native_little ? i : size - 1 - i];
}

static int struct_unpack(lua_State *L)
{
    const char *p = luaL_checkstring(L, 1);
    size_t len;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &len);
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    struct layout lay = { native_little, 1 };
    int n = 0; /* values pushed */
    while (*p) {
        int c = (unsigned char)*p++;
        size_t size = item_size(L, c, &p);
        pos += padding(&lay, pos, c, size);
        luaL_argcheck(L, size <= len && pos <= len - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (c) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            lua_pushnumber(L, get_integer(data + pos, &lay, c >= 'a', size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            get_swapped(&f, &lay, data + pos, sizeof f);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            get_swapped(&d, &lay, data + pos, sizeof d);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1))
                    luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)number_bits(lua_tonumber(L, -1));
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= len && pos <= len - size, 2, "data string too short");
            }
            lua_pushlstring(L, (const char *)data + pos, size);
            n++;
            break;
        case 's': {
            const unsigned char *end = memchr(data + pos, '\0', len - pos);
            if (!end)
                luaL_error(L, "unfinished string in data");
            size = (size_t)(end - (data + pos)) + 1;
            lua_pushlstring(L, (const char *)data + pos, size - 1);
            n++;
            break;
        }
        default:
            set_option(L, c, &p, &lay);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)(pos + 1));
    return n + 1;
}

static int struct_size(lua_State *L)
{
    const char *p = luaL_checkstring(L, 1);
    struct layout lay = { native_little, 1 };
    size_t pos = 0;
    while (*p) {
        int c = (unsigned char)*p++;
        size_t size = item_size(L, c, &p);
        pos += padding(&lay, pos, c, size);
        if (c == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (c == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!is_alnum(c)) /* a letter that is not an option adds nothing */
            set_option(L, c, &p, &lay);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

static const luaL_Reg struct_functions[] = {
    { "pack", struct_pack },
    { "unpack", struct_unpack },
    { "size", struct_size },
    { NULL, NULL },
};

int luaopen_struct(lua_State *L)
{
    lua_newtable(L);
    luaL_register(L, NULL, struct_functions);
    return 1;
}
