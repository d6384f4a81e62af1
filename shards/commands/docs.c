/* docs: what COMMAND DOCS and COMMAND INFO say about a command beyond its
 * row: how long it takes (complexity), its arguments (for redis-cli's hints
 * and the client libraries that read them), its key specs where a single
 * range with flags derived from the row would be wrong (RENAME's two keys,
 * MSET's overwrite, XREAD's after STREAMS, MIGRATE's, which its row does
 * not name), from which COMMAND INFO also derives first/last/step and
 * movablekeys as Redis does, and its tips.
 *
 * Data, one entry per command name ("set", "client|list"), looked up by
 * COMMAND only (not on the command path). A row without an entry still
 * answers: its summary, since and group, no arguments, one key spec derived
 * from its first/last/step.
 *
 * Arguments are written as a syntax line, parsed when asked for:
 *   - words separated by spaces; `name#type` is an argument (type: key,
 *     string, integer, double, pattern, unix-time; none: string, or key for
 *     a name that is "key"); an UPPER-CASE word is a token, and so is a word of symbols only
 *     ("*", "~", "=" alone);
 *   - `""` is a token too, the empty word (MIGRATE's key);
 *   - a token before one item is that item's token (EX seconds#integer);
 *     before several, inside a group, the group's (AUTH username password);
 *     alone, a pure-token argument named as the token in lower case;
 *   - [ ... ] an optional group, ( ... ) a required one; alternatives in a
 *     group are separated by |: a oneof; a group of one alternative of
 *     several items is a block; { ... } is a block even of one item;
 *     `name=` before a group names it (else it takes its first argument's
 *     name);
 *   - `...` after an item: it may be repeated (flag "multiple").
 * Key arguments get key_spec_index 0, 1, ... in the order they appear.
 *
 * Key specs, several separated by ';', each as Redis writes one:
 *   ["notes"] flags... begin find
 * begin: an index; WORD@startfrom, the argument after WORD searched from
 * startfrom on (backwards from the end when negative); or `unknown` (and
 * no find). find: `lastkey keystep [limit]` (lastkey relative to the
 * begin, negative from the end; limit: XREAD's half of the rest), or
 * `keynum keynumidx firstkey keystep` (a count at begin + keynumidx).
 * A row without specs gets one from its first/last/step (introspection.c).
 *
 * Tips (COMMAND INFO's): Redis's, by name, in command_tips. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimalloc.h>

#include "shards/commands/docs.h"

static const struct command_doc docs[] = {
    /* strings */
    { "get", "O(1)", "key", NULL },
    { "set", "O(1)", "key value condition=[NX|XX] [GET] expiration=[EX seconds#integer|"
      "PX milliseconds#integer|EXAT unix-time-seconds#unix-time|PXAT unix-time-milliseconds#unix-time|KEEPTTL]",
      "\"RW and ACCESS due to the optional `GET` argument\" RW access update variable_flags 1 0 1" },
    { "setnx", "O(1)", "key value", "OW insert 1 0 1" },
    { "setex", "O(1)", "key seconds#integer value", "OW update 1 0 1" },
    { "psetex", "O(1)", "key milliseconds#integer value", "OW update 1 0 1" },
    { "getset", "O(1)", "key value", "RW access update 1 0 1" },
    { "getdel", "O(1)", "key", "RW access delete 1 0 1" },
    { "getex", "O(1)", "key expiration=[EX seconds#integer|PX milliseconds#integer|"
      "EXAT unix-time-seconds#unix-time|PXAT unix-time-milliseconds#unix-time|PERSIST]",
      "\"RW and UPDATE because it changes the TTL\" RW access update 1 0 1" },
    { "mget", "O(N) for N keys", "key...", "RO access 1 -1 1" },
    { "mset", "O(N) for N keys", "data=(key value)...", "OW update 1 -1 2" },
    { "msetnx", "O(N) for N keys", "data=(key value)...", "OW insert 1 -1 2" },
    { "append", "O(1) amortized", "key value", "RW insert 1 0 1" },
    { "strlen", "O(1)", "key", "RO 1 0 1" },
    { "incr", "O(1)", "key", "RW access update 1 0 1" },
    { "decr", "O(1)", "key", "RW access update 1 0 1" },
    { "incrby", "O(1)", "key increment#integer", "RW access update 1 0 1" },
    { "decrby", "O(1)", "key decrement#integer", "RW access update 1 0 1" },
    { "incrbyfloat", "O(1)", "key increment#double", "RW access update 1 0 1" },
    { "getrange", "O(N), N the length returned", "key start#integer end#integer", NULL },
    { "substr", "O(N), N the length returned", "key start#integer end#integer", NULL },
    { "setrange", "O(1) plus copying the value", "key offset#integer value", "RW update 1 0 1" },
    { "lcs", "O(N*M), N and M the lengths of the two strings",
      "key1#key key2#key [LEN] [IDX] [MINMATCHLEN len#integer] [WITHMATCHLEN]", "RO access 1 1 1" },
    { "setbit", "O(1)", "key offset#integer value#integer", "RW access update 1 0 1" },
    { "getbit", "O(1)", "key offset#integer", NULL },
    { "bitcount", "O(N)", "key index=[start#integer end#integer unit=[BYTE|BIT]]", NULL },
    { "bitpos", "O(N)", "key bit#integer index=[start#integer end_index=[end#integer unit=[BYTE|BIT]]]", NULL },
    { "bitop", "O(N)", "operation#string destkey#key key...", "OW update 2 0 1; RO access 3 -1 1" },
    { "bitfield", "O(1) for each subcommand specified",
      "key operation=[GET encoding offset#integer|write=([OVERFLOW (WRAP|SAT|FAIL)] "
      "(SET encoding offset#integer value#integer|INCRBY encoding offset#integer increment#integer))]...",
      "\"This command allows both access and modification of the key\" RW access update variable_flags 1 0 1" },
    { "bitfield_ro", "O(1) for each subcommand specified", "key [GET encoding offset#integer]...", "RO access 1 0 1" },

    /* keyspace */
    { "del", "O(N) for N keys", "key...", "RM delete 1 -1 1" },
    { "unlink", "O(1) per key", "key...", "RM delete 1 -1 1" },
    { "exists", "O(N) for N keys", "key...", "RO 1 -1 1" },
    { "touch", "O(N) for N keys", "key...", "RO 1 -1 1" },
    { "type", "O(1)", "key", "RO 1 0 1" },
    { "rename", "O(1)", "key newkey#key", "RW access delete 1 0 1; OW update 2 0 1" },
    /* hashes and sets: the rows whose key spec differs from the one
     * derived from their flags */
    { "hsetnx", "O(1)", "key field#string value#string", "RW insert 1 0 1" },
    { "hexists", "O(1)", "key field#string", "RO 1 0 1" },
    { "hlen", "O(1)", "key", "RO 1 0 1" },
    { "hstrlen", "O(1)", "key field#string", "RO 1 0 1" },
    { "hdel", "O(N) where N is the number of fields to be removed", "key field#string...", "RW delete 1 0 1" },
    { "hincrby", "O(1)", "key field#string increment#integer", "RW access update 1 0 1" },
    { "hincrbyfloat", "O(1)", "key field#string increment#double", "RW access update 1 0 1" },
    { "sadd", "O(1) for each element added", "key member#string...", "RW insert 1 0 1" },
    { "srem", "O(N) where N is the number of members to be removed", "key member#string...", "RW delete 1 0 1" },
    { "sismember", "O(1)", "key member#string", "RO 1 0 1" },
    { "scard", "O(1)", "key", "RO 1 0 1" },
    { "spop", "O(N) where N is the value of the passed count", "key [count#integer]", "RW access delete 1 0 1" },
    { "smove", "O(1)", "source#key destination#key member#string", "RW access delete 1 0 1; RW insert 2 0 1" },
    { "sinterstore", "O(N*M) worst case", "destination#key key...", "RW update 1 0 1; RO access 2 -1 1" },
    { "sunionstore", "O(N) where N is the total number of elements in all given sets", "destination#key key...",
      "OW update 1 0 1; RO access 2 -1 1" },
    { "sdiffstore", "O(N) where N is the total number of elements in all given sets", "destination#key key...",
      "OW update 1 0 1; RO access 2 -1 1" },
    /* sorted sets: the rows whose key spec differs from the one derived
     * from their flags */
    { "zincrby", "O(log(N)) where N is the number of elements in the sorted set.",
      "key increment#integer member#string", "RW access update 1 0 1" },
    { "zrem", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
      "key member#string...", "RW delete 1 0 1" },
    { "zcard", "O(1)", "key", "RO 1 0 1" },
    { "sort", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
      "key [BY pattern#pattern] [LIMIT offset#integer count#integer] [GET pattern#pattern...] order=[ASC|DESC] "
      "[ALPHA] [STORE destination#key]",
      /* Redis adds a spec of unknown place for BY/GET's keys, which
       * ringkv refuses (README, Limitations): no spec for them here */
      "RO access 1 0 1; \"For the optional STORE keyword. It is marked 'unknown' because the keyword can appear "
      "anywhere in the argument array\" OW update unknown" },
    { "sort_ro", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
      "key [BY pattern#pattern] [LIMIT offset#integer count#integer] [GET pattern#pattern...] order=[ASC|DESC] "
      "[ALPHA]", "RO access 1 0 1" },
    { "zrangestore", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
      "dst#key src#key min#string max#string sortby=[BYSCORE|BYLEX] [REV] [LIMIT offset#integer count#integer]",
      "OW update 1 0 1; RO access 2 0 1" },
    { "zremrangebyrank", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
      "key start#integer stop#integer", "RW delete 1 0 1" },
    { "zremrangebyscore", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
      "key min#double max#double", "RW delete 1 0 1" },
    { "zremrangebylex", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
      "key min#string max#string", "RW delete 1 0 1" },
    { "zpopmin", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
      "key [count#integer]", "RW access delete 1 0 1" },
    { "zpopmax", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
      "key [count#integer]", "RW access delete 1 0 1" },
    /* lists */
    { "lpush", "O(1) for each element added", "key element#string...", "RW insert 1 0 1" },
    { "rpush", "O(1) for each element added", "key element#string...", "RW insert 1 0 1" },
    { "lpushx", "O(1) for each element added", "key element#string...", "RW insert 1 0 1" },
    { "rpushx", "O(1) for each element added", "key element#string...", "RW insert 1 0 1" },
    { "lpop", "O(N) where N is the number of elements returned", "key [count#integer]", "RW access delete 1 0 1" },
    { "rpop", "O(N) where N is the number of elements returned", "key [count#integer]", "RW access delete 1 0 1" },
    { "llen", "O(1)", "key", "RO 1 0 1" },
    { "linsert", "O(N) where N is the number of elements to traverse before seeing the value pivot",
      "key where=(BEFORE|AFTER) pivot#string element#string", "RW insert 1 0 1" },
    { "lrem", "O(N+M) where N is the length of the list and M is the number of elements removed",
      "key count#integer element#string", "RW delete 1 0 1" },
    { "ltrim", "O(N) where N is the number of elements to be removed by the operation",
      "key start#integer stop#integer", "RW delete 1 0 1" },
    { "lmove", "O(1)", "source#key destination#key wherefrom=(LEFT|RIGHT) whereto=(LEFT|RIGHT)",
      "RW access delete 1 0 1; RW insert 2 0 1" },
    { "rpoplpush", "O(1)", "source#key destination#key", "RW access delete 1 0 1; RW insert 2 0 1" },
    { "blpop", "O(N) where N is the number of provided keys", "key... timeout#double", "RW access delete 1 -2 1" },
    { "brpop", "O(N) where N is the number of provided keys", "key... timeout#double", "RW access delete 1 -2 1" },
    { "bzpopmin", "O(log(N)) with N being the number of elements in the sorted set.", "key... timeout#double",
      "RW access delete 1 -2 1" },
    { "bzpopmax", "O(log(N)) with N being the number of elements in the sorted set.", "key... timeout#double",
      "RW access delete 1 -2 1" },
    { "blmove", "O(1)", "source#key destination#key wherefrom=(LEFT|RIGHT) whereto=(LEFT|RIGHT) timeout#double",
      "RW access delete 1 0 1; RW insert 2 0 1" },
    { "brpoplpush", "O(1)", "source#key destination#key timeout#double", "RW access delete 1 0 1; RW insert 2 0 1" },
    { "object|encoding", "O(1)", "key", "RO 2 0 1" },
    { "object|freq", "O(1)", "key", "RO 2 0 1" },
    { "object|idletime", "O(1)", "key", "RO 2 0 1" },
    { "object|refcount", "O(1)", "key", "RO 2 0 1" },
    { "memory|usage", "O(N) where N is the number of samples", "key [SAMPLES count#integer]", "RO 2 0 1" },
    { "dump", "O(1) to access the key and O(N*M) to serialize it", "key", "RO access 1 0 1" },
    /* MIGRATE's row has no keys (it runs on shard 0 and finds them
     * itself); COMMAND describes them as Redis does */
    { "migrate", "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target "
      "instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two "
      "instances is performed.",
      "host port#integer key_or_empty_string=(key|\"\") destination-db#integer timeout#integer [COPY] [REPLACE] "
      "authentication=[[AUTH password]|username_password=[AUTH2 username password]] [KEYS key...]",
      "RW access delete 3 0 1; RW access delete incomplete KEYS@-2 -1 1" },
    { "restore", "O(1) to create the new key and O(N*M) to reconstruct the serialized value",
      "key ttl#integer serialized-value#string [REPLACE] [ABSTTL] [IDLETIME seconds#integer] [FREQ frequency#integer]",
      "OW update 1 0 1" },
    { "restore-asking", "O(1) to create the new key and O(N*M) to reconstruct the serialized value",
      "key ttl#integer serialized-value#string [REPLACE] [ABSTTL] [IDLETIME seconds#integer] [FREQ frequency#integer]",
      "OW update 1 0 1" },
    { "renamenx", "O(1)", "key newkey#key", "RW access delete 1 0 1; OW insert 2 0 1" },
    { "copy", "O(1) for strings", "source#key destination#key [DB destination-db#integer] [REPLACE]",
      "RO access 1 0 1; OW update 2 0 1" },
    { "expire", "O(1)", "key seconds#integer condition=[NX|XX|GT|LT]", "RW update 1 0 1" },
    { "pexpire", "O(1)", "key milliseconds#integer condition=[NX|XX|GT|LT]", "RW update 1 0 1" },
    { "expireat", "O(1)", "key unix-time-seconds#unix-time condition=[NX|XX|GT|LT]", "RW update 1 0 1" },
    { "pexpireat", "O(1)", "key unix-time-milliseconds#unix-time condition=[NX|XX|GT|LT]", "RW update 1 0 1" },
    { "ttl", "O(1)", "key", NULL },
    { "pttl", "O(1)", "key", NULL },
    { "expiretime", "O(1)", "key", NULL },
    { "pexpiretime", "O(1)", "key", NULL },
    { "persist", "O(1)", "key", "RW update 1 0 1" },
    { "keys", "O(N), N the keys of the database", "pattern#pattern", NULL },
    { "scan", "O(1) per call, O(N) for a whole iteration",
      "cursor#integer [MATCH pattern#pattern] [COUNT count#integer] [TYPE type]", NULL },
    { "randomkey", "O(1)", "", NULL },
    { "dbsize", "O(1)", "", NULL },
    { "flushdb", "O(N), N the keys of the database", "flush-type=[ASYNC|SYNC]", NULL },
    { "flushall", "O(N), N the keys of the database", "flush-type=[ASYNC|SYNC]", NULL },
    { "move", "O(1)", "key db#integer", "RW access update 1 0 1" },
    { "swapdb", "O(1)", "index1#integer index2#integer", NULL },

    /* HyperLogLog */
    { "pfadd", "O(1) to add every element.", "key [element...]", "RW insert 1 0 1" },
    { "pfdebug", "N/A", "subcommand key", "RW access 2 0 1" },
    { "pfselftest", "N/A", "", NULL },
    { "pfcount", "O(1) with a very small average constant time when called with a single key. "
      "O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
      "key...", "\"RW because it may change the internal representation of the key, and propagate to replicas\" "
      "RW access 1 -1 1" },
    { "pfmerge", "O(N) to merge N HyperLogLogs, but with high constant times.",
      "destkey#key sourcekey#key...", "RW access insert 1 0 1; RO access 2 -1 1" },

    /* geo: GEORADIUS[BYMEMBER]'s STORE/STOREDIST keys: Redis's keyword
     * specs; found by command_keys (CMD_STORE_GEO) */
    { "geoadd", "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
      "key condition=[NX|XX] [CH] longitude_latitude_member=(longitude#double latitude#double member)...",
      "RW update 1 0 1" },
    { "geodist", "O(log(N))", "key member1 member2 unit=[M|KM|FT|MI]", NULL },
    { "geohash", "O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
      "key member...", NULL },
    { "geopos", "O(N) where N is the number of members requested.", "key member...", NULL },
    { "georadius", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
      "key longitude#double latitude#double radius#double unit=(M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] count=[COUNT count#integer [ANY]] order=[ASC|DESC] [STORE key] [STOREDIST key]",
      "RO access 1 0 1; OW update STORE@6 0 1; OW update STOREDIST@6 0 1" },
    { "georadius_ro", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
      "key longitude#double latitude#double radius#double unit=(M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] count=[COUNT count#integer [ANY]] order=[ASC|DESC]", "RO access 1 0 1" },
    { "georadiusbymember", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
      "key member radius#double unit=(M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] count=[COUNT count#integer [ANY]] order=[ASC|DESC] [STORE key] [STOREDIST key]",
      "RO access 1 0 1; OW update STORE@5 0 1; OW update STOREDIST@5 0 1" },
    { "georadiusbymember_ro", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
      "key member radius#double unit=(M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] count=[COUNT count#integer [ANY]] order=[ASC|DESC]", "RO access 1 0 1" },
    { "geosearch", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
      "key from=(FROMMEMBER member|FROMLONLAT longitude_latitude=(longitude#double latitude#double)) "
      "by=(circle=(BYRADIUS radius#double unit=(M|KM|FT|MI))|box=(BYBOX width#double height#double unit=(M|KM|FT|MI))) "
      "order=[ASC|DESC] count=[COUNT count#integer [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]", "RO access 1 0 1" },
    { "geosearchstore", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
      "destination#key source#key from=(FROMMEMBER member|FROMLONLAT longitude_latitude=(longitude#double latitude#double)) "
      "by=(circle=(BYRADIUS radius#double unit=(M|KM|FT|MI))|box=(BYBOX width#double height#double unit=(M|KM|FT|MI))) "
      "order=[ASC|DESC] count=[COUNT count#integer [ANY]] [STOREDIST]", "OW update 1 0 1; RO access 2 0 1" },

    /* connection */
    { "ping", "O(1)", "[message]", NULL },
    { "echo", "O(1)", "message", NULL },
    { "hello", "O(1)", "arguments=[protover#integer [AUTH username password] [SETNAME clientname]]", NULL },
    { "auth", "O(N), N the passwords of the user", "[username] password", NULL },
    { "quit", "O(1)", "", NULL },
    { "reset", "O(1)", "", NULL },
    { "select", "O(1)", "index#integer", NULL },
    { "client", "Depends on subcommand.", "", NULL },
    { "client|id", "O(1)", "", NULL },
    { "client|getname", "O(1)", "", NULL },
    { "client|setname", "O(1)", "connection-name", NULL },
    { "client|list", "O(N), N the client connections",
      "[TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID client-id#integer...]", NULL },
    { "client|info", "O(1)", "", NULL },
    { "client|kill", "O(N), N the client connections",
      "filter=(ip:port|new-format=([ID client-id#integer]|[TYPE (NORMAL|MASTER|SLAVE|REPLICA|PUBSUB)]|"
      "[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no])...)", NULL },
    { "client|pause", "O(1)", "timeout#integer mode=[WRITE|ALL]", NULL },
    { "client|unpause", "O(N), N the paused clients", "", NULL },
    { "client|help", "O(1)", "", NULL },
    { "client|reply", "O(1)", "action=(ON|OFF|SKIP)", NULL },
    { "client|no-evict", "O(1)", "enabled=(ON|OFF)", NULL },
    { "client|no-touch", "O(1)", "enabled=(ON|OFF)", NULL },
    { "client|getredir", "O(1)", "", NULL },
    { "client|tracking", "O(1)",
      "status=(ON|OFF) [REDIRECT client-id#integer] [PREFIX prefix...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]", NULL },
    { "client|trackinginfo", "O(1)", "", NULL },
    { "client|caching", "O(1)", "mode=(YES|NO)", NULL },
    { "client|unblock", "O(log N), N the client connections", "client-id#integer unblock-type=[TIMEOUT|ERROR]", NULL },

    /* server */
    { "info", "O(1)", "[section...]", NULL },
    { "config", "Depends on subcommand.", "", NULL },
    { "config|get", "O(N), N the parameters asked for", "{parameter}...", NULL },
    { "config|set", "O(N), N the parameters given", "data=(parameter value)...", NULL },
    { "config|resetstat", "O(1)", "", NULL },
    { "config|rewrite", "O(1)", "", NULL },
    { "config|help", "O(1)", "", NULL },
    { "command", "O(N), N the commands", "", NULL },
    { "command|count", "O(1)", "", NULL },
    { "command|info", "O(N), N the commands asked for", "[command-name...]", NULL },
    { "command|docs", "O(N), N the commands asked for", "[command-name...]", NULL },
    { "command|list", "O(N), N the commands",
      "[FILTERBY filterby=(MODULE module-name|ACLCAT category|PATTERN pattern#pattern)]", NULL },
    { "command|getkeys", "O(N), N the arguments of the command", "", NULL },
    { "command|getkeysandflags", "O(N), N the arguments of the command", "", NULL },
    { "command|help", "O(1)", "", NULL },
    { "time", "O(1)", "", NULL },
    { "lolwut", "", "[VERSION version#integer]", NULL },
    { "slowlog", "Depends on subcommand.", "", NULL },
    { "slowlog|get", "O(N), N the entries returned", "[count#integer]", NULL },
    { "slowlog|len", "O(1)", "", NULL },
    { "slowlog|reset", "O(N), N the entries of the slow log", "", NULL },
    { "slowlog|help", "O(1)", "", NULL },
    { "shutdown", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
      "nosave-save=[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", NULL },
    { "save", "O(N) where N is the total number of keys in all databases", "", NULL },
    { "bgsave", "O(1)", "[SCHEDULE]", NULL },
    { "bgrewriteaof", "O(1)", NULL, NULL },
    { "lastsave", "O(1)", "", NULL },
    { "debug", "Depends on subcommand.", "", NULL },
    { "eval", "Depends on the script that is executed.", "script numkeys#integer [key...] [arg...]",
      "\"We cannot tell how the keys will be used so we assume the worst, RW and UPDATE\" RW access update 2 keynum 0 1 1" },
    { "evalsha", "Depends on the script that is executed.", "sha1 numkeys#integer [key...] [arg...]", NULL },
    { "eval_ro", "Depends on the script that is executed.", "script numkeys#integer [key...] [arg...]",
      "\"We cannot tell how the keys will be used so we assume the worst, RO and ACCESS\" RO access 2 keynum 0 1 1" },
    { "evalsha_ro", "Depends on the script that is executed.", "sha1 numkeys#integer [key...] [arg...]", NULL },
    { "fcall", "Depends on the function that is executed.", "function numkeys#integer [key...] [arg...]",
      "\"We cannot tell how the keys will be used so we assume the worst, RW and UPDATE\" RW access update 2 keynum 0 1 1" },
    { "fcall_ro", "Depends on the function that is executed.", "function numkeys#integer [key...] [arg...]",
      "\"We cannot tell how the keys will be used so we assume the worst, RO and ACCESS\" RO access 2 keynum 0 1 1" },
    { "script", "Depends on subcommand.", "", NULL },
    { "script|load", "O(N) with N being the length in bytes of the script body.", "script", NULL },
    { "script|exists", "O(N) with N being the number of scripts to check (so checking a single script is an "
      "O(1) operation).", "sha1...", NULL },
    { "script|flush", "O(N) with N being the number of scripts in cache", "async=[ASYNC|SYNC]", NULL },
    { "script|kill", "O(1)", "", NULL },
    { "script|debug", "O(1)", "mode=(YES|SYNC|NO)", NULL },
    { "script|help", "O(1)", "", NULL },
    { "function", "Depends on subcommand.", "", NULL },
    { "function|load", "O(1) (considering compilation time is redundant)", "[REPLACE] function-code",
      NULL },
    { "function|delete", "O(1)", "library-name", NULL },
    { "function|flush", "O(N) where N is the number of functions deleted", "async=[ASYNC|SYNC]", NULL },
    { "function|kill", "O(1)", "", NULL },
    { "function|list", "O(N) where N is the number of functions", "[LIBRARYNAME library-name-pattern] [WITHCODE]",
      NULL },
    { "function|stats", "O(1)", "", NULL },
    { "function|dump", "O(N) where N is the number of functions", "", NULL },
    { "function|restore", "O(N) where N is the number of functions on the payload",
      "serialized-value policy=[FLUSH|APPEND|REPLACE]", NULL },
    { "function|help", "O(1)", "", NULL },

    /* pub/sub */
    { "subscribe", "O(N), N the channels", "channel#string...", NULL },
    { "unsubscribe", "O(N), N the clients subscribed", "[channel#string...]", NULL },
    { "psubscribe", "O(N), N the patterns", "{pattern#pattern}...", NULL },
    { "punsubscribe", "O(N+M), N and M the patterns", "[pattern#pattern...]", NULL },
    { "publish", "O(N+M), N the subscribers and M the patterns", "channel#string message", NULL },
    { "pubsub", "Depends on subcommand.", "", NULL },
    { "pubsub|channels", "O(N), N the active channels", "[pattern#pattern]", NULL },
    { "pubsub|numsub", "O(N), N the channels asked for", "[channel#string...]", NULL },
    { "pubsub|numpat", "O(1)", "", NULL },
    { "pubsub|help", "O(1)", "", NULL },
    { "pubsub|shardchannels", "O(N), N the active shard channels", "[pattern#pattern]", NULL },
    { "pubsub|shardnumsub", "O(N), N the shard channels asked for", "[shardchannel#string...]", NULL },
    { "ssubscribe", "O(N), N the shard channels", "shardchannel#string...", "not_key 1 -1 1" },
    { "sunsubscribe", "O(N), N the clients subscribed", "[shardchannel#string...]", "not_key 1 -1 1" },
    { "spublish", "O(N), N the subscribers", "shardchannel#string message", "not_key 1 0 1" },

    /* transactions */
    { "multi", "O(1)", "", NULL },
    { "exec", "Depends on the commands queued", "", NULL },
    { "discard", "O(N), N the commands queued", "", NULL },
    { "watch", "O(1) per key", "key...", "RO 1 -1 1" },
    { "unwatch", "O(1)", "", NULL },

    /* replication */
    { "replicaof", "O(1)", "args=(host-port=(host port#integer)|no-one=(NO ONE))", NULL },
    { "slaveof", "O(1)", "args=(host-port=(host port#integer)|no-one=(NO ONE))", NULL },
    { "role", "O(1)", "", NULL },
    { "replconf", "O(1)", "", NULL },
    { "psync", "O(1) (a full sync: O(N), N the keys)", "replicationid#string offset#integer", NULL },
    { "sync", "O(N), N the keys", "", NULL },
    { "failover", "O(1)", "[TO host port#integer [FORCE]] [ABORT] [TIMEOUT milliseconds#integer]", NULL },
    { "wait", "O(1)", "numreplicas#integer timeout#integer", NULL },

    /* cluster (the cluster layer's rows) */
    { "cluster", "Depends on subcommand.", "", NULL },
    { "cluster|keyslot", "O(N), N the bytes of the key", "key#string", NULL },
    { "cluster|countkeysinslot", "O(N), N the keys of the slot's shard", "slot#integer", NULL },
    { "cluster|getkeysinslot", "O(N), N the keys of the slot's shard", "slot#integer count#integer", NULL },
    { "cluster|myid", "O(1)", "", NULL },
    { "cluster|nodes", "O(N), N the nodes", "", NULL },
    { "cluster|slots", "O(N), N the nodes", "", NULL },
    { "cluster|shards", "O(N), N the nodes", "", NULL },
    { "cluster|info", "O(1)", "", NULL },
    { "cluster|help", "O(1)", "", NULL },
    { "cluster|failover", "O(1)", "options=[FORCE|TAKEOVER]", NULL },
    { "cluster|addslots", "O(N), N the slots", "slot#integer...", NULL },
    { "cluster|addslotsrange", "O(N), N the slots", "range=(start-slot#integer end-slot#integer)...", NULL },
    { "cluster|delslots", "O(N), N the slots", "slot#integer...", NULL },
    { "cluster|delslotsrange", "O(N), N the slots", "range=(start-slot#integer end-slot#integer)...", NULL },
    { "cluster|count-failure-reports", "O(N), N the failure reports", "node-id", NULL },
    { "cluster|forget", "O(1)", "node-id", NULL },
    { "cluster|meet", "O(1)", "ip port#integer [cluster_bus_port#integer]", NULL },
    { "cluster|replicas", "O(1)", "node-id", NULL },
    { "cluster|slaves", "O(1)", "node-id", NULL },
    { "cluster|replicate", "O(1)", "node-id", NULL },
    { "cluster|reset", "O(N), N the known nodes", "reset-type=[HARD|SOFT]", NULL },
    { "cluster|set-config-epoch", "O(1)", "config-epoch#integer", NULL },
    { "cluster|setslot", "O(1)",
      "slot#integer subcommand=(IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE)", NULL },
    { "cluster|bumpepoch", "O(1)", "", NULL },
    { "cluster|flushslots", "O(1)", "", NULL },
    { "cluster|links", "O(N), N the nodes", "", NULL },
    { "cluster|saveconfig", "O(1)", "", NULL },

    /* streams */
    { "xadd", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
      "key [NOMKSTREAM] trim=[strategy=(MAXLEN|MINID) operator=[=|~] threshold [LIMIT count#integer]] "
      "id_or_auto=(*|id) field_value=(field value)...",
      "\"UPDATE instead of INSERT because of the optional trimming feature\" RW update 1 0 1" },
    { "xlen", "O(1)", "key", "RO 1 0 1" },
    { "xrange", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking "
      "for the first 10 elements with COUNT), you can consider it O(1).",
      "key start end [COUNT count#integer]", "RO access 1 0 1" },
    { "xrevrange", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for "
      "the first 10 elements with COUNT), you can consider it O(1).",
      "key end start [COUNT count#integer]", "RO access 1 0 1" },
    { "xdel", "O(1) for each single item to delete in the stream, regardless of the stream size.", "key id...",
      "RW delete 1 0 1" },
    { "xtrim", "O(N), with N being the number of evicted entries. Constant times are very small however, since "
      "entries are organized in macro nodes containing multiple entries that can be released with a single "
      "deallocation.",
      "key trim=(strategy=(MAXLEN|MINID) operator=[=|~] threshold [LIMIT count#integer])", "RW delete 1 0 1" },
    { "xsetid", "O(1)", "key last-id [ENTRIESADDED entries_added#integer] [MAXDELETEDID max_deleted_entry_id]",
      "RW update 1 0 1" },
    { "xread", "For each stream mentioned: O(N) with N being the number of elements being returned, it means that "
      "XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in "
      "order to serve the M clients blocked on the stream getting new data.",
      "[COUNT count#integer] [BLOCK milliseconds#integer] STREAMS streams=(key... id...)",
      "RO access STREAMS@1 -1 1 2" },
    { "xreadgroup", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant "
      "(e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when "
      "XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting "
      "new data.",
      "GROUP group_consumer=(group consumer) [COUNT count#integer] [BLOCK milliseconds#integer] [NOACK] "
      "STREAMS streams=(key... id...)", "RO access STREAMS@4 -1 1 2" },
    { "xack", "O(1) for each message ID processed.", "key group id...", "RW update 1 0 1" },
    { "xpending", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries "
      "per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When "
      "the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an "
      "additional O(N) time for iterating every consumer.",
      "key group filters=[[IDLE min-idle-time#integer] start end count#integer [consumer]]", "RO access 1 0 1" },
    { "xclaim", "O(log N) with N being the number of messages in the PEL of the consumer group.",
      "key group consumer min-idle-time id... [IDLE ms#integer] [TIME unix-time-milliseconds#unix-time] "
      "[RETRYCOUNT count#integer] [FORCE] [JUSTID] [LASTID id]", "RW update 1 0 1" },
    { "xautoclaim", "O(1) if COUNT is small.",
      "key group consumer min-idle-time start [COUNT count#integer] [JUSTID]", "RW delete 1 0 1" },
    { "xgroup", "Depends on subcommand.", "", NULL },
    { "xgroup|create", "O(1)",
      "key groupname id_or_dollar=(id|$) [MKSTREAM] [ENTRIESREAD entries_read#integer]", "RW insert 2 0 1" },
    { "xgroup|setid", "O(1)", "key groupname id_or_dollar=(id|$) [ENTRIESREAD entries_read#integer]",
      "RW update 2 0 1" },
    { "xgroup|destroy", "O(N) where N is the number of entries in the group's pending entries list (PEL).",
      "key groupname", "RW delete 2 0 1" },
    { "xgroup|createconsumer", "O(1)", "key groupname consumername", "RW insert 2 0 1" },
    { "xgroup|delconsumer", "O(1)", "key groupname consumername", "RW delete 2 0 1" },
    { "xgroup|help", "O(1)", "", NULL },
    { "xinfo", "Depends on subcommand.", "", NULL },
    { "xinfo|stream", "O(1)", "key full=[FULL [COUNT count#integer]]", "RO access 2 0 1" },
    { "xinfo|groups", "O(1)", "key", "RO access 2 0 1" },
    { "xinfo|consumers", "O(1)", "key groupname", "RO access 2 0 1" },
    { "xinfo|help", "O(1)", "", NULL },
};

/* COMMAND INFO's tips, redis-server 7.0's: how a cluster client spreads
 * a command over the nodes and merges their answers (request_policy,
 * response_policy), and whether its output varies from call to call
 * (nondeterministic_output[_order]). They hold for ringkv as for Redis:
 * each of its nodes answers for itself, and these outputs vary as
 * Redis's do. */
static const struct {
    const char *name;
    const char *tips;
} command_tip_rows[] = {
    { "client|info", "nondeterministic_output" },
    { "client|list", "nondeterministic_output" },
    { "cluster|bumpepoch", "nondeterministic_output" },
    { "cluster|count-failure-reports", "nondeterministic_output" },
    { "cluster|getkeysinslot", "nondeterministic_output" },
    { "cluster|info", "nondeterministic_output" },
    { "cluster|links", "nondeterministic_output" },
    { "cluster|nodes", "nondeterministic_output" },
    { "cluster|replicas", "nondeterministic_output" },
    { "cluster|shards", "nondeterministic_output" },
    { "cluster|slaves", "nondeterministic_output" },
    { "cluster|slots", "nondeterministic_output" },
    { "command", "nondeterministic_output_order" },
    { "command|docs", "nondeterministic_output_order" },
    { "command|info", "nondeterministic_output_order" },
    { "command|list", "nondeterministic_output_order" },
    { "config|set", "request_policy:all_nodes response_policy:all_succeeded" },
    { "dbsize", "request_policy:all_shards response_policy:agg_sum" },
    { "del", "request_policy:multi_shard response_policy:agg_sum" },
    { "dump", "nondeterministic_output" },
    { "exists", "request_policy:multi_shard response_policy:agg_sum" },
    { "flushall", "request_policy:all_shards response_policy:all_succeeded" },
    { "flushdb", "request_policy:all_shards response_policy:all_succeeded" },
    { "function|delete", "request_policy:all_shards response_policy:all_succeeded" },
    { "function|flush", "request_policy:all_shards response_policy:all_succeeded" },
    { "function|kill", "request_policy:all_shards response_policy:one_succeeded" },
    { "function|list", "nondeterministic_output_order" },
    { "function|load", "request_policy:all_shards response_policy:all_succeeded" },
    { "function|restore", "request_policy:all_shards response_policy:all_succeeded" },
    { "function|stats", "nondeterministic_output request_policy:all_shards response_policy:special" },
    { "hgetall", "nondeterministic_output_order" },
    { "hkeys", "nondeterministic_output_order" },
    { "hrandfield", "nondeterministic_output" },
    { "hscan", "nondeterministic_output" },
    { "hvals", "nondeterministic_output_order" },
    { "info", "nondeterministic_output request_policy:all_shards response_policy:special" },
    { "keys", "request_policy:all_shards nondeterministic_output_order" },
    { "lastsave", "nondeterministic_output" },
    { "latency|doctor", "nondeterministic_output request_policy:all_nodes response_policy:special" },
    { "latency|graph", "nondeterministic_output request_policy:all_nodes response_policy:special" },
    { "latency|histogram", "nondeterministic_output request_policy:all_nodes response_policy:special" },
    { "latency|history", "nondeterministic_output request_policy:all_nodes response_policy:special" },
    { "latency|latest", "nondeterministic_output request_policy:all_nodes response_policy:special" },
    { "latency|reset", "request_policy:all_nodes response_policy:all_succeeded" },
    { "memory|doctor", "nondeterministic_output request_policy:all_shards response_policy:special" },
    { "memory|malloc-stats", "nondeterministic_output request_policy:all_shards response_policy:special" },
    { "memory|purge", "request_policy:all_shards response_policy:all_succeeded" },
    { "memory|stats", "nondeterministic_output request_policy:all_shards response_policy:special" },
    { "mget", "request_policy:multi_shard" },
    { "migrate", "nondeterministic_output" },
    { "mset", "request_policy:multi_shard response_policy:all_succeeded" },
    { "msetnx", "request_policy:multi_shard response_policy:agg_min" },
    { "object|encoding", "nondeterministic_output" },
    { "object|freq", "nondeterministic_output" },
    { "object|idletime", "nondeterministic_output" },
    { "object|refcount", "nondeterministic_output" },
    { "ping", "request_policy:all_shards response_policy:all_succeeded" },
    { "pttl", "nondeterministic_output" },
    { "randomkey", "request_policy:all_shards nondeterministic_output" },
    { "scan", "nondeterministic_output request_policy:special" },
    { "script|exists", "request_policy:all_shards response_policy:agg_logical_and" },
    { "script|flush", "request_policy:all_nodes response_policy:all_succeeded" },
    { "script|kill", "request_policy:all_shards response_policy:one_succeeded" },
    { "script|load", "request_policy:all_nodes response_policy:all_succeeded" },
    { "sdiff", "nondeterministic_output_order" },
    { "sinter", "nondeterministic_output_order" },
    { "slowlog|get", "request_policy:all_nodes nondeterministic_output" },
    { "slowlog|len", "request_policy:all_nodes response_policy:agg_sum nondeterministic_output" },
    { "slowlog|reset", "request_policy:all_nodes response_policy:all_succeeded" },
    { "smembers", "nondeterministic_output_order" },
    { "spop", "nondeterministic_output" },
    { "srandmember", "nondeterministic_output" },
    { "sscan", "nondeterministic_output" },
    { "sunion", "nondeterministic_output_order" },
    { "time", "nondeterministic_output" },
    { "touch", "request_policy:multi_shard response_policy:agg_sum" },
    { "ttl", "nondeterministic_output" },
    { "unlink", "request_policy:multi_shard response_policy:agg_sum" },
    { "wait", "request_policy:all_shards response_policy:agg_min" },
    { "xadd", "nondeterministic_output" },
    { "xautoclaim", "nondeterministic_output" },
    { "xclaim", "nondeterministic_output" },
    { "xinfo|consumers", "nondeterministic_output" },
    { "xpending", "nondeterministic_output" },
    { "xtrim", "nondeterministic_output" },
    { "zrandmember", "nondeterministic_output" },
    { "zscan", "nondeterministic_output" },
};

const char *command_tips(const char *fullname)
{
    for (size_t i = 0; i < sizeof(command_tip_rows) / sizeof(command_tip_rows[0]); i++)
        if (strcmp(command_tip_rows[i].name, fullname) == 0)
            return command_tip_rows[i].tips;
    return NULL;
}

const struct command_doc *command_doc_find(const char *fullname)
{
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        if (strcmp(docs[i].name, fullname) == 0)
            return &docs[i];
    return NULL;
}

/* ---- the syntax line, parsed into a tree of arguments ------------------- */

struct doc_arg {
    char   name[64];
    const char *type;         /* "key", "string", ..., "oneof", "block", "pure-token" */
    char   token[32];         /* "" if none */
    bool   empty_token;       /* the token is the empty word (MIGRATE's "" for its key) */
    bool   optional, multiple;
    int    key_spec_index;    /* key arguments: their position among the keys */
    struct doc_arg *kids;     /* oneof / block */
    size_t nkids;
};

struct parser {
    const char *p;
    int         keys;         /* key arguments numbered so far */
};

static void skip_spaces(struct parser *ps)
{
    while (*ps->p == ' ')
        ps->p++;
}

static bool is_word_char(char c)
{
    return c && c != ' ' && c != '[' && c != ']' && c != '(' && c != ')' && c != '{' && c != '}' &&
           c != '|' && c != '=';
}

static bool is_token(const char *w, size_t n)
{
    bool letter = false, symbols = n > 0;
    for (size_t i = 0; i < n; i++) {
        if (islower((unsigned char)w[i]))
            return false;
        if (isupper((unsigned char)w[i]))
            letter = true;
        if (isalnum((unsigned char)w[i]) || w[i] == '_' || w[i] == '-')
            symbols = false;
    }
    /* an upper-case word, or one of symbols only (XADD's "*", "=", "~") */
    return letter || symbols;
}

static void arg_free(struct doc_arg *a)
{
    for (size_t i = 0; i < a->nkids; i++)
        arg_free(&a->kids[i]);
    mi_free(a->kids);
}

static void push(struct doc_arg **v, size_t *n, const struct doc_arg *a)
{
    *v = mi_realloc(*v, sizeof(**v) * (*n + 1));
    if (!*v)
        abort();
    (*v)[(*n)++] = *a;
}

static void copy_text(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void parse_seq(struct parser *ps, struct doc_arg **out, size_t *nout, bool in_group);

/* One alternative of a group, as one argument: a single item, or a block of
 * several (a leading token then belongs to the block). */
static struct doc_arg alternative(struct doc_arg *items, size_t n, const char *lead_token)
{
    if (n == 1 && !lead_token)
        return items[0];
    if (n == 1 && lead_token && !items[0].token[0]) {
        snprintf(items[0].token, sizeof(items[0].token), "%s", lead_token);
        return items[0];
    }
    struct doc_arg b = { .type = "block", .kids = items, .nkids = n, .key_spec_index = -1 };
    snprintf(b.name, sizeof(b.name), "%s", n ? items[0].name : "block");
    if (lead_token)
        snprintf(b.token, sizeof(b.token), "%s", lead_token);
    return b;
}

/* A group after its opening bracket, up to and including the closing one. */
static struct doc_arg parse_group(struct parser *ps, char close, bool force_block)
{
    struct doc_arg *alts = NULL;
    size_t nalts = 0;
    for (;;) {
        struct doc_arg *items = NULL;
        size_t n = 0;
        parse_seq(ps, &items, &n, true);
        /* a token before several items is the group's (AUTH username
         * password), not its first item's; an optional first item's token
         * was written inside its brackets, so it stays its own (BITFIELD's
         * [OVERFLOW (WRAP|SAT|FAIL)] (SET ...|INCRBY ...)) */
        const char *lead = NULL;
        char lead_buf[32];
        if (n >= 2 && items[0].token[0] && !items[0].optional && strcmp(items[0].type, "pure-token") != 0) {
            snprintf(lead_buf, sizeof(lead_buf), "%s", items[0].token);
            lead = lead_buf;
            items[0].token[0] = '\0';
        }
        struct doc_arg a = alternative(items, n, lead);
        if (a.kids != items)
            mi_free(items);
        push(&alts, &nalts, &a);
        skip_spaces(ps);
        if (*ps->p == '|') {
            ps->p++;
            continue;
        }
        if (*ps->p == close)
            ps->p++;
        break;
    }
    if (nalts == 1 && (!force_block || strcmp(alts[0].type, "block") == 0)) {
        struct doc_arg a = alts[0];
        mi_free(alts);
        return a;
    }
    if (nalts == 1) { /* { x }: a block of one */
        struct doc_arg b = { .type = "block", .kids = alts, .nkids = 1, .key_spec_index = -1 };
        snprintf(b.name, sizeof(b.name), "%s", alts[0].name);
        return b;
    }
    struct doc_arg o = { .type = "oneof", .kids = alts, .nkids = nalts, .key_spec_index = -1 };
    snprintf(o.name, sizeof(o.name), "%s", alts[0].name);
    return o;
}

static void parse_seq(struct parser *ps, struct doc_arg **out, size_t *nout, bool in_group)
{
    char pending_token[32] = "";
    for (;;) {
        skip_spaces(ps);
        char c = *ps->p;
        if (!c || (in_group && (c == '|' || c == ']' || c == ')' || c == '}')))
            break;
        struct doc_arg a = { .key_spec_index = -1 };
        const char *w = ps->p;
        while (is_word_char(*ps->p))
            ps->p++;
        size_t wn = (size_t)(ps->p - w);
        const char *given_name = NULL;
        size_t given_len = 0;
        if (wn == 0 && *ps->p == '=' && (ps->p[1] == ' ' || ps->p[1] == '|' || ps->p[1] == ']' || ps->p[1] == ')')) {
            ps->p++; /* "=" alone is a token (XADD's operator), not a name's end */
            wn = 1;
        } else if (*ps->p == '=') { /* name=group */
            given_name = w;
            given_len = wn;
            ps->p++;
            w = ps->p;
            wn = 0;
        }
        if (wn == 0 && (*ps->p == '[' || *ps->p == '(' || *ps->p == '{')) {
            char open = *ps->p++;
            a = parse_group(ps, open == '[' ? ']' : open == '(' ? ')' : '}', open == '{');
            if (open == '[')
                a.optional = true;
            if (given_name)
                copy_text(a.name, sizeof(a.name), given_name, given_len);
        } else if (wn == 0) {
            ps->p++; /* a stray character: skip it */
            continue;
        } else {
            size_t dots = wn >= 3 && memcmp(w + wn - 3, "...", 3) == 0 ? 3 : 0;
            size_t len = wn - dots;
            const char *hash = memchr(w, '#', len);
            if (len == 2 && w[0] == '"' && w[1] == '"') {
                a.type = "pure-token";
                a.empty_token = true;
                snprintf(a.name, sizeof(a.name), "empty_string");
            } else if (!hash && is_token(w, len)) {
                if (!pending_token[0] && !dots) {
                    /* maybe the next item's token: decided below */
                    copy_text(pending_token, sizeof(pending_token), w, len);
                    continue;
                }
                a.type = "pure-token";
                copy_text(a.token, sizeof(a.token), w, len);
                for (size_t i = 0; i < len && i < sizeof(a.name) - 1; i++)
                    a.name[i] = (char)tolower((unsigned char)w[i]);
            } else {
                size_t nlen = hash ? (size_t)(hash - w) : len;
                copy_text(a.name, sizeof(a.name), w, nlen);
                static const char *const types[] = { "key", "string", "integer", "double", "pattern",
                                                     "unix-time" };
                a.type = strcmp(a.name, "key") == 0 ? "key" : "string";
                if (hash)
                    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
                        if (strlen(types[t]) == len - nlen - 1 && memcmp(types[t], hash + 1, len - nlen - 1) == 0)
                            a.type = types[t];
            }
            ps->p = w + wn; /* after any dots */
            if (dots)
                a.multiple = true;
        }
        if (strncmp(ps->p, "...", 3) == 0) {
            ps->p += 3;
            a.multiple = true;
        }
        if (pending_token[0]) {
            if (a.token[0] || (strcmp(a.type, "pure-token") == 0)) {
                /* two tokens in a row: the first stands alone */
                struct doc_arg t = { .type = "pure-token", .key_spec_index = -1 };
                snprintf(t.token, sizeof(t.token), "%s", pending_token);
                for (size_t i = 0; pending_token[i] && i < sizeof(t.name) - 1; i++)
                    t.name[i] = (char)tolower((unsigned char)pending_token[i]);
                push(out, nout, &t);
            } else {
                snprintf(a.token, sizeof(a.token), "%s", pending_token);
            }
            pending_token[0] = '\0';
        }
        push(out, nout, &a);
    }
    if (pending_token[0]) { /* a token at the end stands alone */
        struct doc_arg t = { .type = "pure-token", .key_spec_index = -1 };
        snprintf(t.token, sizeof(t.token), "%s", pending_token);
        for (size_t i = 0; pending_token[i] && i < sizeof(t.name) - 1; i++)
            t.name[i] = (char)tolower((unsigned char)pending_token[i]);
        push(out, nout, &t);
    }
}

/* Number the key arguments in the order they appear. */
static void number_keys(struct doc_arg *a, size_t n, int *next)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i].type, "key") == 0)
            a[i].key_spec_index = (*next)++;
        number_keys(a[i].kids, a[i].nkids, next);
    }
}

static void reply_args(struct reply *r, const struct doc_arg *a, size_t n)
{
    reply_array(r, n);
    for (size_t i = 0; i < n; i++) {
        bool token = a[i].token[0] || a[i].empty_token;
        size_t pairs = 2 + (a[i].key_spec_index >= 0) + token +
                       (a[i].optional || a[i].multiple) + (a[i].nkids > 0);
        reply_map(r, pairs);
        reply_bulk_str(r, "name");
        reply_bulk_str(r, a[i].name);
        reply_bulk_str(r, "type");
        reply_bulk_str(r, a[i].type);
        if (a[i].key_spec_index >= 0) {
            reply_bulk_str(r, "key_spec_index");
            reply_int(r, a[i].key_spec_index);
        }
        if (token) {
            reply_bulk_str(r, "token");
            reply_bulk_str(r, a[i].token);
        }
        if (a[i].optional || a[i].multiple) {
            reply_bulk_str(r, "flags");
            reply_set(r, (size_t)a[i].optional + (size_t)a[i].multiple);
            if (a[i].optional)
                reply_simple(r, "optional");
            if (a[i].multiple)
                reply_simple(r, "multiple");
        }
        if (a[i].nkids) {
            reply_bulk_str(r, "arguments");
            reply_args(r, a[i].kids, a[i].nkids);
        }
    }
}

bool doc_has_arguments(const struct command_doc *d)
{
    return d && d->syntax && d->syntax[0];
}

void reply_doc_arguments(struct reply *r, const struct command_doc *d)
{
    struct parser ps = { d->syntax, 0 };
    struct doc_arg *args = NULL;
    size_t n = 0;
    parse_seq(&ps, &args, &n, false);
    int next = 0;
    number_keys(args, n, &next);
    reply_args(r, args, n);
    for (size_t i = 0; i < n; i++)
        arg_free(&args[i]);
    mi_free(args);
}

/* ---- key specs ---------------------------------------------------------- */

bool doc_key_spec_has(const struct doc_key_spec *ks, const char *flag)
{
    for (int i = 0; i < ks->nflags; i++)
        if (strcmp(ks->flags[i], flag) == 0)
            return true;
    return false;
}

static bool is_number(const char *w, size_t n)
{
    size_t i = n > 0 && w[0] == '-' ? 1 : 0;
    if (i == n)
        return false;
    for (; i < n; i++)
        if (!isdigit((unsigned char)w[i]))
            return false;
    return true;
}

/* One spec of the key_specs text, p..end (the grammar: the top of this
 * file). */
static void parse_key_spec(const char *p, const char *end, struct doc_key_spec *ks)
{
    memset(ks, 0, sizeof(*ks));
    ks->keystep = 1;
    while (p < end && *p == ' ')
        p++;
    if (p < end && *p == '"') {
        const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (close) {
            ks->notes = p + 1;
            ks->notes_len = (size_t)(close - p - 1);
            p = close + 1;
        }
    }
    const char *words[12];
    size_t lens[12], nw = 0;
    for (const char *q = p; q < end && nw < 12;) {
        while (q < end && *q == ' ')
            q++;
        const char *w = q;
        while (q < end && *q != ' ')
            q++;
        if (q > w) {
            words[nw] = w;
            lens[nw++] = (size_t)(q - w);
        }
    }
    size_t b = 0; /* the begin word: the first that is no flag */
    while (b < nw && !is_number(words[b], lens[b]) && !memchr(words[b], '@', lens[b]) &&
           !(lens[b] == 7 && memcmp(words[b], "unknown", 7) == 0)) {
        if ((size_t)ks->nflags < sizeof(ks->flags) / sizeof(ks->flags[0]))
            copy_text(ks->flags[ks->nflags++], sizeof(ks->flags[0]), words[b], lens[b]);
        b++;
    }
    if (b == nw)
        return;
    const char *at = memchr(words[b], '@', lens[b]);
    if (at) {
        ks->begin = DOC_BEGIN_KEYWORD;
        copy_text(ks->keyword, sizeof(ks->keyword), words[b], (size_t)(at - words[b]));
        ks->startfrom = atoi(at + 1);
    } else if (!is_number(words[b], lens[b])) {
        ks->begin = DOC_BEGIN_UNKNOWN;
        return;
    } else {
        ks->index = atoi(words[b]);
    }
    size_t f = b + 1;
    if (f < nw && lens[f] == 6 && memcmp(words[f], "keynum", 6) == 0) {
        ks->keynum = true;
        ks->keynumidx = f + 1 < nw ? atoi(words[f + 1]) : 0;
        ks->firstkey = f + 2 < nw ? atoi(words[f + 2]) : 1;
        ks->keystep = f + 3 < nw ? atoi(words[f + 3]) : 1;
        return;
    }
    ks->lastkey = f < nw ? atoi(words[f]) : 0;
    ks->keystep = f + 1 < nw ? atoi(words[f + 1]) : 1;
    ks->limit = f + 2 < nw ? atoi(words[f + 2]) : 0;
}

size_t doc_key_specs(const struct command_doc *d, struct doc_key_spec *out, size_t max)
{
    if (!d || !d->key_specs)
        return 0;
    size_t n = 0;
    const char *p = d->key_specs;
    while (*p && n < max) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        parse_key_spec(p, end, &out[n++]);
        p = *end ? end + 1 : end;
    }
    return n;
}
