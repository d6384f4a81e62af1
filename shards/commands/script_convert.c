/* script_convert: between RESP and Lua values, by Redis's rules.
 *
 * A command's reply seen by the script (redis.call's result): an integer
 * is a number, a bulk string a string, a nil bulk or nil array false, an
 * array a table (1-based), a status {ok=text}, an error {err=text}.
 * The script's return value seen by the client: a number is an integer
 * (truncated), a string a bulk, a table with a string err field an error,
 * one with a string ok field a status, any other table the array of its
 * elements 1.. up to the first nil, true is 1, false and nil are nil.
 *
 * Commands run from scripts always answer in RESP2 (redis.setresp(3) is
 * refused), so the reader meets no RESP3 types. A reply the script builds
 * may nest tables as deep as it likes: past RESP_MAX_DEPTH levels (64, as
 * deep as the server's own RESP reader walks) the element is an error in
 * place, as Redis writes one when its Lua stack is exhausted (there, some
 * thousands of levels), so the conversion's recursion is bounded. */
#include "shards/commands/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <limits.h>
#include <mimalloc.h>
#include <string.h>

#include "core/reply.h"
#include "core/resp.h"

#define SCRIPT_REPLY_DEPTH RESP_MAX_DEPTH

void script_push_error_text(lua_State *L, const char *text, size_t len)
{
    const char *code = "ERR", *msg = text;
    size_t code_len = 3, msg_len = len;
    if (len > 0 && text[0] == '-') {
        const char *space = memchr(text + 1, ' ', len - 1);
        if (space) {
            code = text + 1;
            code_len = (size_t)(space - code);
            msg = space + 1;
            msg_len = len - (size_t)(msg - text);
        } else {
            msg = text + 1;
            msg_len = len - 1;
        }
    }
    while (msg_len > 0 && (msg[msg_len - 1] == '\r' || msg[msg_len - 1] == '\n'))
        msg_len--;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, code_len);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, msg_len);
    luaL_pushresult(&b);
}

/* {key=text} */
static void push_field_table(lua_State *L, const char *key, const char *text, size_t len)
{
    lua_createtable(L, 0, 1);
    lua_pushlstring(L, text, len);
    lua_setfield(L, -2, key);
}

static void push_value(lua_State *L, struct resp_reader *rd)
{
    struct slice s;
    long long n;
    luaL_checkstack(L, 4, "reply too deep");
    switch (resp_peek(rd)) {
    case ':':
        if (resp_read_int(rd, &n)) {
            lua_pushnumber(L, (lua_Number)n);
            return;
        }
        break;
    case '$':
        if (resp_read_string(rd, &s)) {
            if (s.ptr)
                lua_pushlstring(L, s.ptr, s.len);
            else
                lua_pushboolean(L, 0);
            return;
        }
        break;
    case '+':
        if (resp_read_string(rd, &s)) {
            push_field_table(L, "ok", s.ptr, s.len);
            return;
        }
        break;
    case '-':
        if (resp_read_error(rd, &s)) {
            /* the reply's own code kept: "-WRONGTYPE ..." is {err="WRONGTYPE ..."} */
            lua_createtable(L, 0, 1);
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            luaL_addchar(&b, '-');
            luaL_addlstring(&b, s.ptr, s.len);
            luaL_pushresult(&b);
            size_t len;
            const char *dashed = lua_tolstring(L, -1, &len);
            script_push_error_text(L, dashed, len);
            lua_remove(L, -2);
            lua_setfield(L, -2, "err");
            return;
        }
        break;
    case '*':
        if (resp_read_aggregate(rd, &n)) {
            if (n < 0) {
                lua_pushboolean(L, 0);
                return;
            }
            lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
            for (long long i = 0; i < n; i++) {
                push_value(L, rd);
                lua_rawseti(L, -2, (int)(i + 1));
            }
            return;
        }
        break;
    default:
        break;
    }
    /* not a value a command run here writes: nothing sensible to give */
    lua_pushboolean(L, 0);
    rd->p = rd->end;
}

void script_push_reply(lua_State *L, const char *p, size_t len)
{
    struct resp_reader rd;
    resp_reader_init(&rd, p, len);
    push_value(L, &rd);
}

/* A Lua number as Redis's reply takes it: truncated toward zero; NaN and
 * what no long long holds become LLONG_MIN, what C's conversion gives for
 * them on the machines Redis runs on. */
static long long number_to_ll(lua_Number d)
{
    if (isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
        return LLONG_MIN;
    return (long long)d;
}

/* A status line with CR and LF made spaces (a status is one line). */
static void write_status(struct reply *r, const char *s, size_t n)
{
    char small[256];
    char *copy = n < sizeof small ? small : mi_malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        copy[i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
    copy[n] = '\0';
    reply_simple(r, copy);
    if (copy != small)
        mi_free(copy);
}

static void write_value(lua_State *L, struct reply *r, int depth)
{
    size_t n;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        const char *s = lua_tolstring(L, -1, &n);
        reply_bulk(r, s, n);
        return;
    }
    case LUA_TNUMBER:
        reply_int(r, number_to_ll(lua_tonumber(L, -1)));
        return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, -1))
            reply_int(r, 1);
        else
            reply_null(r);
        return;
    case LUA_TTABLE:
        break;
    default:
        reply_null(r);
        return;
    }
    if (depth >= SCRIPT_REPLY_DEPTH || !lua_checkstack(L, 4)) {
        reply_error(r, "ERR reached lua stack limit");
        return;
    }
    lua_pushliteral(L, "err");
    lua_rawget(L, -2);
    if (lua_type(L, -1) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, -1, &n);
        reply_errorf(r, "%.*s", (int)(n > INT_MAX ? INT_MAX : n), s);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_pushliteral(L, "ok");
    lua_rawget(L, -2);
    if (lua_type(L, -1) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, -1, &n);
        write_status(r, s, n);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    size_t count = 0;
    for (;;) {
        lua_rawgeti(L, -1, (int)count + 1);
        bool end = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (end || count == INT_MAX - 1)
            break;
        count++;
    }
    reply_array(r, count);
    for (size_t i = 1; i <= count; i++) {
        lua_rawgeti(L, -1, (int)i);
        write_value(L, r, depth + 1);
        lua_pop(L, 1);
    }
}

void script_write_reply(lua_State *L, struct reply *r)
{
    write_value(L, r, 0);
}
