/* refusals: commands of Redis 7 that ringkv does not have, answered with a
 * text that says what is missing instead of "unknown command", so a user
 * (and the client library showing the error) learns it at once:
 *  - MOVE and SWAPDB: ringkv has one database, 0. Redis's texts where they
 *    apply (MOVE to 0 is "source and destination objects are the same",
 *    SWAPDB 0 0 swaps nothing and answers +OK); a database other than 0 is
 *    Redis's "DB index is out of range" naming the one database.
 * SELECT n (n != 0) is connection.c's, with Redis's text exactly. */
#include <limits.h>

#include "shards/commands/commands.h"
#include "core/numbers.h"
#include "core/reply.h"

#define ERR_ONE_DB "ERR DB index is out of range (ringkv has one database, 0)"

/* A database index as Redis reads it: an integer in int range. */
static bool db_index(struct slice s, long long *db)
{
    return parse_ll(s, db) && *db >= INT_MIN && *db <= INT_MAX;
}

/* MOVE key db: runs on the key's shard, but never moves it. */
void cmd_move(struct exec_ctx *ctx)
{
    long long db;
    if (!db_index(ctx->argv[2], &db)) {
        reply_error(ctx->reply, ERR_NOT_INT);
        return;
    }
    if (db == 0)
        reply_error(ctx->reply, "ERR source and destination objects are the same");
    else
        reply_error(ctx->reply, ERR_ONE_DB);
}

/* SWAPDB index1 index2 */
void cmd_swapdb(struct exec_ctx *ctx)
{
    long long a, b;
    if (!db_index(ctx->argv[1], &a)) {
        reply_error(ctx->reply, "ERR invalid first DB index");
        return;
    }
    if (!db_index(ctx->argv[2], &b)) {
        reply_error(ctx->reply, "ERR invalid second DB index");
        return;
    }
    if (a != 0 || b != 0)
        reply_error(ctx->reply, ERR_ONE_DB);
    else
        reply_ok(ctx->reply); /* database 0 with itself: nothing to swap */
}
