#!/usr/bin/python3
# A differential run (tests/interop/test_differential.c): the same random
# commands sent to a redis-server 7 and to ringkv, every reply compared, and
# both keyspaces compared whole every 200 commands.
#
#   differential.py <redis port> <ringkv port> <seed> <commands>
#
# Prints "ok <commands> commands, <n> replies and <m> keyspaces compared",
# or each difference ("DIFF <i> <command>" and both replies, the recent
# commands on its keys) and exits 1. After a difference both keyspaces are
# flushed, so that one difference is not reported again and again.
#
# The commands: hashes, lists, sets, sorted sets and strings over a few
# keys (two with a hash tag, so that multi-key commands find keys of one
# slot in cluster-minded clients too), of every kind, so WRONGTYPE paths
# are taken as often as the others; arguments drawn from small sets so that
# members repeat and ranges meet. Left out on purpose, where Redis's answer
# is not fixed or ringkv differs by design (README):
#   - the random picks (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) but with
#     a count of 0;
#   - OBJECT ENCODING of sets and lists (ringkv names small sets and lists
#     as Redis 7.2 does, "listpack"; redis-server 7.0 says
#     "hashtable"/"intset"/"quicklist"), OBJECT REFCOUNT;
#   - lex ranges over a sorted set whose scores differ (Redis: "the
#     returned elements are unspecified");
#   - TTL, PTTL and EXPIRETIME a little apart (2 s; the servers set and
#     read their clocks moments apart);
#   - SORT of a set BY nosort without STORE (each server's set order);
#     SORT's BY and GET patterns (ringkv refuses them: README);
#   - DUMP payloads (each server's own encodings; RESTORE of the other's is
#     tested in tests/integration/test_dump.c).
import random
import sys

import redis

R = redis.Redis(port=int(sys.argv[1]))
K = redis.Redis(port=int(sys.argv[2]))
# the geo replies compared as sent (redis-py's parsers want the options
# its own methods pass, and would turn coordinates into floats)
GEO_COMMANDS = ('GEOADD', 'GEOPOS', 'GEODIST', 'GEOHASH', 'GEOSEARCH', 'GEOSEARCHSTORE', 'GEORADIUS',
                'GEORADIUS_RO', 'GEORADIUSBYMEMBER', 'GEORADIUSBYMEMBER_RO')
for c in (R, K):
    for name in GEO_COMMANDS:
        c.set_response_callback(name, lambda r, **options: r)
rnd = random.Random(int(sys.argv[3]))
N = int(sys.argv[4])

KEYS = [b'h1', b'l1', b's1', b'z1', b'str', b'{t}a', b'{t}b']


def k():
    return rnd.choice(KEYS)


def m():
    return rnd.choice([b'a', b'b', b'c', b'd', b'e', b'1', b'2', b'10', b'-3', b'3.5', b'', b'x' * rnd.randint(1, 80)])


def num():
    return str(rnd.choice([0, 1, -1, 2, 3, -2, 5, 10, 100, -100, rnd.randint(-20, 20)])).encode()


def score():
    return rnd.choice([b'1', b'2', b'-1', b'0', b'1.5', b'-inf', b'+inf', b'3e2', b'nan', b'abc', b'(1',
                       str(rnd.randint(-5, 5)).encode()])


def srange():
    return rnd.choice([b'-inf', b'+inf', b'(1', b'1', b'2', b'(2', b'0', b'-1', b'abc'])


def lex():
    return rnd.choice([b'-', b'+', b'[a', b'(a', b'[c', b'(d', b'a', b'[', b'[b'])


def idx():
    return str(rnd.randint(-6, 6)).encode()


def sort_options():
    opts = []
    for _ in range(rnd.randint(0, 3)):
        opts += rnd.choice([[b'ASC'], [b'DESC'], [b'ALPHA'], [b'LIMIT', idx(), idx()], [b'BY', b'nosort'],
                            [b'GET', b'#'], [b'FOO']])
    return opts


def bitfield_ops(read_only):
    """BITFIELD's subcommands: mostly good ones over a few small offsets (so
    fields overlap and strings grow), every OVERFLOW mode, the extremes of
    i64 and u63, and now and then a bad type, offset, value or word. The
    last valid offset is read only: a write there makes a 512 MB string."""
    def field(far=False):
        t = rnd.choice([b'u1', b'u4', b'i4', b'u8', b'i8', b'u13', b'i13', b'i16', b'u63', b'i64',
                        b'u64', b'i65', b'U8', b'x8'] if rnd.random() < .1 else
                       [b'u1', b'u4', b'i4', b'u8', b'i8', b'u13', b'i13', b'i16', b'u63', b'i64'])
        if rnd.random() < .3:
            o = b'#' + str(rnd.randint(0, 4)).encode()
        else:
            o = str(rnd.randint(0, 40)).encode()
        if rnd.random() < .05:
            o = rnd.choice([b'-1', b'#-1', b'#', b'x', b'4294967296', b'#536870912'] +
                           ([b'4294967295', b'#67108863'] if far else []))
        return [t, o]

    def value():
        return rnd.choice([num(), num(), b'127', b'128', b'255', b'256', b'-128', b'-129',
                           b'9223372036854775807', b'-9223372036854775808', b'x'])

    ops = []
    for _ in range(rnd.randint(0, 4)):
        r = rnd.random()
        if r < .4 or (read_only and r < .9):
            ops += [b'GET'] + field(far=True)
        elif r < .6:
            ops += [b'SET'] + field() + [value()]
        elif r < .8:
            ops += [b'INCRBY'] + field() + [value()]
        elif r < .97:
            ops += [b'OVERFLOW', rnd.choice([b'WRAP', b'SAT', b'FAIL', b'sat', b'BOGUS'])]
        else:
            ops += rnd.choice([[b'GET', b'u8'], [b'FOO'], [b'OVERFLOW']])
    return ops


def side():
    return rnd.choice([b'LEFT', b'RIGHT'])


# Geo: positions from a small set, so that members share places (ties in
# distance, whose order redis-server's sorts decide) and searches meet
# them; the Mercator edges, out-of-range and malformed ones too.
PLACES = [(b'13.361389', b'38.115556'), (b'15.087269', b'37.502669'), (b'13.583333', b'37.316667'),
          (b'14.2', b'37.9'), (b'2.3522', b'48.8566'), (b'-0.1278', b'51.5074'), (b'0', b'0'),
          (b'180', b'85.05112878'), (b'-180', b'-85.05112878'), (b'139.69', b'35.68'), (b'-73.98', b'40.75'),
          (b'13.4', b'38.0'), (b'0.0001', b'-0.0001'), (b'179.99', b'-84.9')]


def place():
    r = rnd.random()
    if r < .03:
        return rnd.choice([[b'200', b'10'], [b'10', b'86'], [b'abc', b'1'], [b'1', b''], [b'inf', b'0']])
    if r < .25:
        return [('%.6f' % rnd.uniform(12, 16)).encode(), ('%.6f' % rnd.uniform(36, 39)).encode()]
    if r < .35:
        return [repr(rnd.uniform(-180, 180)).encode(), repr(rnd.uniform(-85.05, 85.05)).encode()]
    return list(rnd.choice(PLACES))


def geo_member():
    return rnd.choice([m(), b'p%d' % rnd.randint(0, 60)])


def geo_unit():
    return rnd.choice([b'm', b'km', b'KM', b'mi', b'ft', b'km', b'km', b'yd'])


def geo_radius():
    return rnd.choice([b'0', b'1', b'50', b'100', b'200', b'500', b'1000', b'5000', b'20000', b'-1', b'x'])


def geo_options(store):
    opts = []
    for _ in range(rnd.randint(0, 4)):
        opts += rnd.choice([[b'WITHDIST'], [b'WITHCOORD'], [b'WITHHASH'], [b'ASC'], [b'DESC'],
                            [b'COUNT', rnd.choice([b'1', b'2', b'3', b'5', b'10', b'0', b'x'])],
                            [b'COUNT', rnd.choice([b'1', b'3', b'8'])], [b'ANY'], [b'FOO']])
    if store and rnd.random() < .3:
        opts += [rnd.choice([b'STORE', b'STOREDIST']), k()]
    return opts


def geo_search_args():
    args = []
    if rnd.random() < .5:
        args += [b'FROMMEMBER', geo_member()]
    elif rnd.random() < .95:
        args += [b'FROMLONLAT'] + place()
    if rnd.random() < .5:
        args += [b'BYRADIUS', geo_radius(), geo_unit()]
    elif rnd.random() < .95:
        args += [b'BYBOX', geo_radius(), geo_radius(), geo_unit()]
    if rnd.random() < .5:
        args = args[2:] + args[:2]
    return args


GENS = [
    # hashes
    lambda: [b'HSET', k()] + sum([[m(), m()] for _ in range(rnd.randint(1, 3))], []),
    lambda: [b'HSETNX', k(), m(), m()], lambda: [b'HGET', k(), m()], lambda: [b'HMGET', k(), m(), m()],
    lambda: [b'HMSET', k(), m(), m()], lambda: [b'HDEL', k(), m(), m()], lambda: [b'HEXISTS', k(), m()],
    lambda: [b'HLEN', k()], lambda: [b'HSTRLEN', k(), m()], lambda: [b'HINCRBY', k(), m(), num()],
    lambda: [b'HINCRBYFLOAT', k(), m(), score()], lambda: [b'HGETALL', k()], lambda: [b'HKEYS', k()],
    lambda: [b'HVALS', k()], lambda: [b'HRANDFIELD', k(), b'0'],
    # lists
    lambda: [b'LPUSH', k(), m(), m()], lambda: [b'RPUSH', k(), m()], lambda: [b'LPUSHX', k(), m()],
    lambda: [b'RPUSHX', k(), m()], lambda: [b'LPOP', k()] + ([num()] if rnd.random() < .3 else []),
    lambda: [b'RPOP', k()] + ([num()] if rnd.random() < .3 else []), lambda: [b'LLEN', k()],
    lambda: [b'LRANGE', k(), idx(), idx()], lambda: [b'LINDEX', k(), idx()],
    lambda: [b'LINSERT', k(), rnd.choice([b'BEFORE', b'AFTER', b'X']), m(), m()], lambda: [b'LSET', k(), idx(), m()],
    lambda: [b'LREM', k(), idx(), m()], lambda: [b'LTRIM', k(), idx(), idx()],
    lambda: [b'LPOS', k(), m()] + rnd.choice([[], [b'RANK', idx()], [b'COUNT', num()], [b'MAXLEN', num()],
                                               [b'RANK', b'-1', b'COUNT', b'0']]),
    lambda: [b'LMOVE', k(), k(), side(), side()], lambda: [b'RPOPLPUSH', k(), k()],
    lambda: [b'LMPOP', rnd.choice([b'1', b'2', b'0']), k(), k(), side()] + ([b'COUNT', num()] if rnd.random() < .4 else []),
    # sets
    lambda: [b'SADD', k(), m(), m(), m()], lambda: [b'SREM', k(), m()], lambda: [b'SISMEMBER', k(), m()],
    lambda: [b'SMISMEMBER', k(), m(), m()], lambda: [b'SCARD', k()], lambda: [b'SMOVE', k(), k(), m()],
    lambda: [b'SMEMBERS', k()], lambda: [b'SINTER', k(), k()], lambda: [b'SUNION', k(), k()],
    lambda: [b'SDIFF', k(), k()], lambda: [b'SINTERCARD', b'2', k(), k()] + ([b'LIMIT', num()] if rnd.random() < .3 else []),
    lambda: [b'SINTERSTORE', k(), k(), k()], lambda: [b'SUNIONSTORE', k(), k(), k()],
    lambda: [b'SDIFFSTORE', k(), k(), k()], lambda: [b'SPOP', k(), b'0'], lambda: [b'SRANDMEMBER', k(), b'0'],
    # sorted sets
    lambda: [b'ZADD', k()] + rnd.choice([[b'NX'], [b'XX'], [b'GT'], [b'LT'], [b'CH'], [b'INCR'], [], [b'XX', b'CH'],
                                         [b'GT', b'CH']]) + sum([[score(), m()] for _ in range(rnd.randint(1, 3))], []),
    lambda: [b'ZINCRBY', k(), score(), m()], lambda: [b'ZREM', k(), m(), m()], lambda: [b'ZSCORE', k(), m()],
    lambda: [b'ZMSCORE', k(), m(), m()], lambda: [b'ZCARD', k()], lambda: [b'ZCOUNT', k(), srange(), srange()],
    lambda: [b'ZLEXCOUNT', k(), lex(), lex()], lambda: [b'ZRANK', k(), m()], lambda: [b'ZREVRANK', k(), m()],
    lambda: [b'ZRANGE', k(), idx(), idx()] + rnd.choice([[], [b'WITHSCORES'], [b'REV'], [b'REV', b'WITHSCORES']]),
    lambda: [b'ZRANGE', k(), srange(), srange(), b'BYSCORE'] + rnd.choice([[], [b'WITHSCORES'], [b'LIMIT', idx(), idx()], [b'REV']]),
    lambda: [b'ZRANGE', k(), lex(), lex(), b'BYLEX'] + rnd.choice([[], [b'LIMIT', idx(), idx()], [b'REV'], [b'WITHSCORES']]),
    lambda: [b'ZRANGESTORE', k(), k(), idx(), idx()],
    lambda: [b'ZRANGEBYSCORE', k(), srange(), srange()] + rnd.choice([[], [b'WITHSCORES'], [b'LIMIT', idx(), idx()]]),
    lambda: [b'ZREVRANGEBYSCORE', k(), srange(), srange()], lambda: [b'ZRANGEBYLEX', k(), lex(), lex()],
    lambda: [b'ZREVRANGEBYLEX', k(), lex(), lex()], lambda: [b'ZREVRANGE', k(), idx(), idx()],
    lambda: [b'ZREMRANGEBYRANK', k(), idx(), idx()], lambda: [b'ZREMRANGEBYSCORE', k(), srange(), srange()],
    lambda: [b'ZREMRANGEBYLEX', k(), lex(), lex()],
    lambda: [b'ZPOPMIN', k()] + ([num()] if rnd.random() < .3 else []),
    lambda: [b'ZPOPMAX', k()] + ([num()] if rnd.random() < .3 else []),
    lambda: [b'ZMPOP', b'2', k(), k(), rnd.choice([b'MIN', b'MAX'])] + ([b'COUNT', num()] if rnd.random() < .4 else []),
    lambda: [b'ZUNION', b'2', k(), k()] + rnd.choice([[], [b'WITHSCORES'], [b'AGGREGATE', b'MAX', b'WITHSCORES'],
                                                    [b'WEIGHTS', b'2', b'3', b'WITHSCORES']]),
    lambda: [b'ZINTER', b'2', k(), k(), b'WITHSCORES'], lambda: [b'ZDIFF', b'2', k(), k()],
    lambda: [b'ZUNIONSTORE', k(), b'2', k(), k()] + rnd.choice([[], [b'AGGREGATE', b'MIN'], [b'WEIGHTS', b'1', b'-1']]),
    lambda: [b'ZINTERSTORE', k(), b'2', k(), k()], lambda: [b'ZDIFFSTORE', k(), b'2', k(), k()],
    lambda: [b'ZINTERCARD', b'2', k(), k()], lambda: [b'ZRANDMEMBER', k(), b'0'],
    # HyperLogLog: a few elements or thousands (a sparse HLL past 3000 bytes turns dense), counts
    # and merges over keys of every kind (GET and the keyspace compare the HLLs' bytes)
    lambda: [b'PFADD', k()] + rnd.choice([[m() for _ in range(rnd.randint(0, 3))],
                                          [str(rnd.randint(0, 5000)).encode() for _ in range(rnd.randint(1, 3000))]]),
    lambda: [b'PFCOUNT', k()] + [k() for _ in range(rnd.randint(0, 2))],
    lambda: [b'PFMERGE', k()] + [k() for _ in range(rnd.randint(0, 2))],
    # geo: sorted sets scored by geohash, over the same keys (WRONGTYPE, and ZADD's scores read as places)
    lambda: [b'GEOADD', k()] + rnd.choice([[], [], [b'NX'], [b'XX'], [b'CH'], [b'XX', b'CH'], [b'NX', b'XX']]) +
    sum([place() + [geo_member()] for _ in range(rnd.randint(1, 4))], []),
    lambda: [b'GEOADD', k()] + sum([place() + [b'p%d' % rnd.randint(0, 60)] for _ in range(rnd.randint(10, 50))], []),
    lambda: [b'GEOPOS', k()] + [geo_member() for _ in range(rnd.randint(0, 3))],
    lambda: [b'GEOHASH', k()] + [geo_member() for _ in range(rnd.randint(0, 3))],
    lambda: [b'GEODIST', k(), geo_member(), geo_member()] + rnd.choice([[], [geo_unit()], [b'km', b'x']]),
    lambda: [b'GEOSEARCH', k()] + geo_search_args() + geo_options(False),
    lambda: [b'GEOSEARCH', k()] + geo_search_args() + geo_options(False),
    lambda: [b'GEOSEARCHSTORE', k(), k()] + geo_search_args() + geo_options(False) +
    ([b'STOREDIST'] if rnd.random() < .4 else []),
    lambda: [rnd.choice([b'GEORADIUS', b'GEORADIUS_RO']), k()] + place() + [geo_radius(), geo_unit()] +
    geo_options(True),
    lambda: [rnd.choice([b'GEORADIUSBYMEMBER', b'GEORADIUSBYMEMBER_RO']), k(), geo_member(), geo_radius(),
             geo_unit()] + geo_options(True),
    # strings and the keyspace
    lambda: [b'SET', k(), m()], lambda: [b'APPEND', k(), m()], lambda: [b'INCR', k()], lambda: [b'GETDEL', k()],
    lambda: [b'SET', k(), m(), b'GET'], lambda: [b'STRLEN', k()], lambda: [b'SETRANGE', k(), b'2', m()],
    lambda: [b'DEL', k(), k()], lambda: [b'UNLINK', k()], lambda: [b'TYPE', k()], lambda: [b'EXISTS', k(), k()],
    lambda: [b'COPY', k(), k()] + ([b'REPLACE'] if rnd.random() < .5 else []), lambda: [b'RENAME', k(), k()],
    lambda: [b'RENAMENX', k(), k()], lambda: [b'EXPIRE', k(), b'1000'] + rnd.choice([[], [b'NX'], [b'XX'], [b'GT']]),
    lambda: [b'PERSIST', k()], lambda: [b'TTL', k()], lambda: [b'OBJECT', b'ENCODING', k()], lambda: [b'DBSIZE'],
    # more strings: counters, ranges, bits, several keys, expiry forms
    lambda: [b'INCRBY', k(), num()], lambda: [b'DECRBY', k(), num()], lambda: [b'DECR', k()],
    lambda: [b'INCRBYFLOAT', k(), score()], lambda: [b'GETRANGE', k(), idx(), idx()],
    lambda: [b'SETNX', k(), m()], lambda: [b'GETSET', k(), m()], lambda: [b'MSET', k(), m(), k(), m()],
    lambda: [b'MSETNX', k(), m(), k(), m()], lambda: [b'MGET', k(), k(), k()], lambda: [b'GET', k()],
    lambda: [b'SET', k(), m()] + rnd.choice([[b'NX'], [b'XX'], [b'XX', b'GET'], [b'NX', b'GET'], [b'KEEPTTL'],
                                            [b'EX', b'100'], [b'EX', b'0'], [b'PX', b'-1'], [b'EX', b'x']]),
    lambda: [b'SETEX', k(), rnd.choice([b'100', b'0', b'-5', b'x']), m()],
    lambda: [b'GETEX', k()] + rnd.choice([[], [b'PERSIST'], [b'EX', b'100'], [b'EX', b'0'], [b'PX']]),
    lambda: [b'SETBIT', k(), str(rnd.randint(0, 40)).encode(), rnd.choice([b'0', b'1', b'2'])],
    lambda: [b'GETBIT', k(), str(rnd.randint(0, 40)).encode()],
    lambda: [b'BITCOUNT', k()] + rnd.choice([[], [idx(), idx()], [idx(), idx(), b'BIT'], [idx(), idx(), b'BYTE']]),
    lambda: [b'BITPOS', k(), rnd.choice([b'0', b'1'])] + rnd.choice([[], [idx()], [idx(), idx()], [idx(), idx(), b'BIT']]),
    lambda: [b'BITOP', rnd.choice([b'AND', b'OR', b'XOR', b'NOT']), k(), k()] + ([k()] if rnd.random() < .5 else []),
    lambda: [b'BITFIELD', k()] + bitfield_ops(False), lambda: [b'BITFIELD', k()] + bitfield_ops(False),
    lambda: [b'BITFIELD_RO', k()] + bitfield_ops(True),
    lambda: [b'LCS', k(), k()] + rnd.choice([[], [b'LEN'], [b'IDX'], [b'IDX', b'WITHMATCHLEN', b'MINMATCHLEN', b'1']]),
    lambda: [b'PEXPIRE', k(), rnd.choice([b'100000', b'-1', b'x'])] + rnd.choice([[], [b'LT'], [b'GT']]),
    lambda: [b'EXPIRETIME', k()], lambda: [b'TOUCH', k(), k()], lambda: [b'PTTL', k()],
    # SORT without BY/GET patterns (ringkv refuses those: README)
    lambda: [rnd.choice([b'SORT', b'SORT_RO']), k()] + sort_options() + ([b'STORE', k()] if rnd.random() < .3 else []),
]

UNORDERED = {b'HGETALL', b'HKEYS', b'HVALS', b'SMEMBERS', b'SINTER', b'SUNION', b'SDIFF'}


def norm(cmd, r):
    if isinstance(r, Exception):
        return ('error', str(r))
    if isinstance(r, dict):
        return sorted(r.items())
    if cmd in UNORDERED and isinstance(r, (list, set)):
        return sorted(r)
    return r


def run(c, args):
    try:
        return c.execute_command(*args)
    except redis.ResponseError as e:
        return e


def state(c):
    out = {}
    for key in KEYS:
        t = c.type(key)
        if t == b'string':
            v = c.get(key)
        elif t == b'hash':
            v = sorted(c.hgetall(key).items())
        elif t == b'list':
            v = c.lrange(key, 0, -1)
        elif t == b'set':
            v = sorted(c.smembers(key))
        elif t == b'zset':
            v = c.zrange(key, 0, -1, withscores=True)
        else:
            v = None
        out[key] = (t, v, c.ttl(key) > 0)
    return out


def same_scores(a, b):
    """a and b equal but for the text of scores: ringkv writes a score in
    its shortest exact form, as Redis 7.2; redis-server 7.0 with %.17g
    (README), which the distances GEOSEARCHSTORE ... STOREDIST stores show."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_scores(x, y) for x, y in zip(a, b))
    if isinstance(a, bytes) and isinstance(b, bytes) and a != b:
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return a == b


def excused(args, a, b, lex_unspecified):
    if args[0].startswith(b'Z') and same_scores(a, b):
        return True
    if args[0] in (b'TTL', b'PTTL', b'EXPIRETIME') and isinstance(a, int) and isinstance(b, int):
        # the two servers set the expiry and read their clocks moments
        # apart (milliseconds on a loaded machine: 6 ms seen), and a
        # rounding boundary may fall between them
        return abs(a - b) <= (2000 if args[0] == b'PTTL' else 2) and (a < 0) == (b < 0)
    if args[0] == b'OBJECT':
        return run(R, [b'TYPE', args[2]]) in (b'set', b'list')
    if args[0] in (b'SORT', b'SORT_RO') and b'BY' in args and b'STORE' not in args:
        return run(R, [b'TYPE', args[1]]) == b'set'  # a set's own order
    if b'BYLEX' in args or b'LEX' in args[0]:
        return lex_unspecified
    return False


def lex_scores_differ(args):
    """Before a lex range runs: whether its key's scores differ (the
    geo sets' do), when Redis leaves the range's elements unspecified.
    Read before, since ZREMRANGEBYLEX may leave one score only."""
    if not (b'BYLEX' in args or b'LEX' in args[0]) or len(args) < 2:
        return False
    scores = run(R, [b'ZRANGE', args[1], b'0', b'-1', b'WITHSCORES'])
    return isinstance(scores, list) and len(set(scores[1::2])) > 1


def main():
    R.flushall()
    K.flushall()
    diffs, replies, states, recent = 0, 0, 0, []
    for i in range(N):
        args = rnd.choice(GENS)()
        lex_unspecified = lex_scores_differ(args)
        a, b = run(R, args), run(K, args)
        replies += 1
        recent = (recent + [args])[-30:]
        if norm(args[0], a) != norm(args[0], b) and not excused(args, a, b, lex_unspecified):
            diffs += 1
            print('DIFF %d %r\n  redis:  %.300r\n  ringkv: %.300r' % (i, args, a, b))
            for h in recent[:-1]:
                if any(x in h for x in args[1:3]):
                    print('    after %r' % (h,))
            R.flushall()
            K.flushall()
        elif lex_unspecified and args[0] == b'ZREMRANGEBYLEX' and a != b:
            # an excused removal leaves the two keyspaces apart: start again
            R.flushall()
            K.flushall()
        elif i % 200 == 199:
            sa, sb = state(R), state(K)
            states += 1
            if sa != sb:
                diffs += 1
                print('DIFF keyspace after command %d %r' % (i, args))
                for key in KEYS:
                    if sa[key] != sb[key]:
                        print('  %r redis: %.300r\n  %r ringkv: %.300r' % (key, sa[key], key, sb[key]))
                R.flushall()
                K.flushall()
        if diffs > 20:
            break
    if diffs:
        print('%d differences' % diffs)
        return 1
    print('ok %d commands, %d replies and %d keyspaces compared' % (N, replies, states))
    return 0


if __name__ == '__main__':
    sys.exit(main())
