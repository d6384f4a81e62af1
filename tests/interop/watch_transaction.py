#!/usr/bin/python3
# redis-py's optimistic transactions against a server
# (tests/interop/test_redis_py_watch.c):
#
#   watch_transaction.py <port> <rounds>
#
# For counters under several hash tags (so, on a ringkv of several shards,
# on the connections' own shard and on others): two processes each run
# r.transaction(fn, key) `rounds` times, fn reading the counter and
# setting it one higher; the counter must end at exactly 2 * rounds (a
# lost update leaves it short). Then a pipeline's WATCH sees another
# client's write and its execute() raises WatchError, running nothing.
# Prints "ok ..." or what went wrong, and exits 1 then.
import multiprocessing
import sys

import redis

TAGS = ('{a}', '{b}', '{c}', '{d}')


def increment(port, key, rounds):
    r = redis.Redis(port=port)

    def step(pipe):
        n = int(pipe.get(key) or 0)
        pipe.multi()
        pipe.set(key, n + 1)

    for _ in range(rounds):
        r.transaction(step, key)


def main():
    port, rounds = int(sys.argv[1]), int(sys.argv[2])
    r = redis.Redis(port=port)
    for tag in TAGS:
        key = tag + 'counter'
        r.delete(key)
        procs = [multiprocessing.Process(target=increment, args=(port, key, rounds)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            if p.exitcode != 0:
                print('FAIL: a client process exited %d' % p.exitcode)
                return 1
        got = int(r.get(key) or 0)
        if got != 2 * rounds:
            print('FAIL: %s is %d after 2 x %d increments' % (key, got, rounds))
            return 1
    other = redis.Redis(port=port)
    for tag in TAGS:
        key = tag + 'k'
        r.set(key, 'before')
        with r.pipeline() as pipe:
            pipe.watch(key)
            other.set(key, 'other')
            pipe.multi()
            pipe.set(key, 'mine')
            try:
                pipe.execute()
                print('FAIL: execute() ran after another client wrote %s' % key)
                return 1
            except redis.WatchError:
                pass
        if r.get(key) != b'other':
            print('FAIL: %s is %r' % (key, r.get(key)))
            return 1
    print('ok %d tags x 2 x %d increments, WatchError on %d tags' % (len(TAGS), rounds, len(TAGS)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
