#!/usr/bin/python3
# A cluster under load while its slots move (tests/interop/test_cluster_reshard.c):
#
#   reshard_load.py <port> <keys> fill
#       k:<i> = v<i> for i < keys, counters c:<j> = 0 (j < 1000), through
#       redis-py's RedisCluster.
#   reshard_load.py <port> <keys> run <command ...>
#       a writer (INCR of the counters, SET of new keys n:<i>) runs while
#       <command> (ringkv-cluster add/remove) does; then every key is read
#       back: k:* as filled, each counter at the value its last INCR
#       answered, each n:* acknowledged. Prints one line:
#         ok keys <n> incr <n> new <n> retried <n> tool <exit status>
#       then the writer's latency before the move (RESHARD_WARMUP seconds,
#       default 0.5) and during it: p50, p99, max (the longest wait, its
#       retries included), and the tool's output.
#       or "lost ..." / "wrong ..." / "surfaced ..." lines and exits 1.
#   reshard_load.py <port> <keys> run-any <command ...>
#       the same, whatever <command> exits with (one killed on purpose).
#   RESHARD_DUMP=<file>: also writes the move's start and end, then each
#       pair's start, ms and whether it met a redirection, a line each
#       (to see when in a move the slow pairs fall).
#
# "ask-unknown" counts the commands redis-py 4.3.4 could not send after an
# -ASK naming a node it did not know yet (its bug: see Writer.call), retried.
#
# The writer goes through redis-py's own redirection handling (MOVED, ASK,
# TRYAGAIN, CLUSTERDOWN); an error that reaches it anyway is retried up to
# 50 times ("retried") when the command surely did not run (a redirection or
# TRYAGAIN error text), and counted as "surfaced" otherwise: the test wants
# none of those.
import logging
import os
import subprocess
import sys
import threading
import time

import redis
from redis.cluster import RedisCluster

COUNTERS = 1000

# What the writer's waits are made of (the benchmark's "pause"): redis-py
# reloads the whole slot table (NodesManager.initialize: INFO and CLUSTER
# SLOTS of a node, parsed slot by slot) on every 10th -MOVED, and sleeps
# 50 ms between -TRYAGAIN retries after its first 8; both are timed here.
RELOADS = []      # ms each
REDIRECTS = {}    # answers -MOVED, -ASK, -TRYAGAIN met, by kind, over the run
WAITS = {"reload": 0.0, "backoff": 0, "ask_unknown": 0, "redirects": 0}  # of the current pair
_initialize = redis.cluster.NodesManager.initialize
_read_response = redis.connection.Connection.read_response
_sleep = time.sleep


def _timed_initialize(self):
    t0 = time.monotonic()
    try:
        return _initialize(self)
    finally:
        ms = (time.monotonic() - t0) * 1000
        RELOADS.append(ms)
        WAITS["reload"] += ms


def _counted_sleep(t):
    if t == 0.05:
        WAITS["backoff"] += 1
    _sleep(t)


def _counted_read_response(self, *args, **kwargs):
    # a -MOVED, -ASK or -TRYAGAIN answer: the pair pays one more round trip
    # (and redis-py's handling) for it, whatever the server's own latency
    try:
        return _read_response(self, *args, **kwargs)
    except (redis.exceptions.MovedError, redis.exceptions.AskError, redis.exceptions.TryAgainError) as e:
        WAITS["redirects"] += 1
        REDIRECTS[type(e).__name__] = REDIRECTS.get(type(e).__name__, 0) + 1
        raise


redis.cluster.NodesManager.initialize = _timed_initialize
redis.connection.Connection.read_response = _counted_read_response
redis.cluster.time = type("T", (), {"sleep": staticmethod(_counted_sleep), "time": time.time,
                                    "monotonic": time.monotonic})


def client(port):
    return RedisCluster(host="127.0.0.1", port=port, socket_timeout=10)


def fill(rc, keys):
    batch = {}
    for i in range(keys):
        batch["k:%d" % i] = "v%d" % i
        if len(batch) == 2000:
            rc.mset_nonatomic(batch)
            batch = {}
    for j in range(COUNTERS):
        batch["c:%d" % j] = "0"
    rc.mset_nonatomic(batch)


RETRYABLE = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN")


class Writer(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.rc = client(port)
        self.stop = False
        self.counters = {}
        self.new = 0
        self.incr = 0
        self.retried = 0
        self.ask_unknown = 0
        self.surfaced = []
        self.lat = []  # (start, seconds) of each INCR/SET pair, retries included
        self.waits = []  # (start, ms reloading the table, TRYAGAIN back-offs, ask-unknown, redirects) of each pair

    # Tries of one command through redirections, 10 ms apart: 10 s. While an
    # interrupted move waits for its resume, redis-py 4.3.4 cannot follow an
    # -ASK to the new node (below) and retries; 0.5 s (50) was too short for
    # the resume under AddressSanitizer once (CI-like run), and 3 s (300)
    # in a release run beside another cluster test suite (load 10 on 2 CPUs:
    # "INCR: still refused after 300 tries" while the tool restarted).
    TRIES = 1000

    def call(self, *args):
        for _ in range(self.TRIES):
            try:
                return self.rc.execute_command(*args)
            except (redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError,
                    redis.exceptions.AskError, redis.exceptions.MovedError):
                self.retried += 1
            except redis.exceptions.ResponseError as e:
                if not str(e).startswith(RETRYABLE):
                    self.surfaced.append("%s: %s" % (args[0], e))
                    return None
                self.retried += 1
            except AttributeError:
                # redis-py 4.3.4 (Debian 12) follows -ASK with get_node() of the
                # address named and crashes when it does not know that node yet
                # (a new group's master before any -MOVED named it): raised
                # before the command is sent, so it did not run
                self.ask_unknown += 1
                WAITS["ask_unknown"] += 1
            except Exception as e:  # a connection error: the command may have run
                self.surfaced.append("%s: %r" % (args[0], e))
                return None
            time.sleep(0.01)
        self.surfaced.append("%s: still refused after %d tries" % (args[0], self.TRIES))
        return None

    def run(self):
        i = 0
        while not self.stop:
            j = i % COUNTERS
            t0 = time.monotonic()
            WAITS["reload"], WAITS["backoff"], WAITS["ask_unknown"], WAITS["redirects"] = 0.0, 0, 0, 0
            v = self.call("INCR", "c:%d" % j)
            if v is not None:
                self.counters[j] = v
                self.incr += 1
            if self.call("SET", "n:%d" % i, str(i)) is not None:
                self.new = i + 1
            else:
                break
            self.lat.append((t0, time.monotonic() - t0))
            self.waits.append((t0, WAITS["reload"], WAITS["backoff"], WAITS["ask_unknown"], WAITS["redirects"]))
            i += 1


def get_many(rc, names):
    """One GET a key (pipelined): a multi-key MGET of a slot left half moved
    answers -TRYAGAIN until the move is finished, as in Redis."""
    p = rc.pipeline()
    for n in names:
        p.get(n)
    return p.execute()


def verify(rc, keys, w):
    bad = []
    names = ["k:%d" % i for i in range(keys)]
    for s in range(0, keys, 5000):
        got = get_many(rc, names[s:s + 5000])
        for i, v in enumerate(got):
            if v != ("v%d" % (s + i)).encode():
                bad.append("wrong %s: %r" % (names[s + i], v))
    cn = ["c:%d" % j for j in range(COUNTERS)]
    got = get_many(rc, cn)
    for j, v in enumerate(got):
        want = w.counters.get(j, 0)
        if v is None or int(v) != want:
            bad.append("lost c:%d: %r, last acknowledged %d" % (j, v, want))
    nn = ["n:%d" % i for i in range(w.new)]
    for s in range(0, w.new, 5000):
        got = get_many(rc, nn[s:s + 5000])
        for i, v in enumerate(got):
            if v != str(s + i).encode():
                bad.append("lost %s: %r" % (nn[s + i], v))
    return bad


def pct(xs):
    if not xs:
        return "no samples"
    xs = sorted(xs)
    def at(q):
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000
    return "n %d p50 %.2f p99 %.2f max %.1f" % (len(xs), at(0.5), at(0.99), xs[-1] * 1000)


def main():
    # redis-py prints a traceback for each redirection it follows: not ours to see
    sys.stderr = open(os.devnull, "w")
    logging.disable(logging.CRITICAL)
    port, keys, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rc = client(port)
    if mode == "fill":
        fill(rc, keys)
        print("filled %d" % keys)
        return 0
    w = Writer(port)
    # the counters as an earlier run left them: a counter this run's writer
    # does not reach (fewer than COUNTERS pairs on a slow machine) must
    # still hold that value, not 0
    for j, v in enumerate(get_many(rc, ["c:%d" % j for j in range(COUNTERS)])):
        w.counters[j] = int(v) if v is not None else 0
    w.start()
    time.sleep(float(os.environ.get("RESHARD_WARMUP", "0.5")))  # the writer going before the move starts
    t_start = time.monotonic()
    tool = subprocess.run(sys.argv[4:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    t_end = time.monotonic()
    time.sleep(0.5)
    w.stop = True
    w.join()
    rc = client(port)  # a fresh view of the table
    bad = verify(rc, keys, w) + ["surfaced " + s for s in w.surfaced]
    if tool.returncode != 0 and mode != "run-any":
        bad.append("tool exited %d:\n%s" % (tool.returncode, tool.stdout.decode(errors="replace")))
    for b in bad[:20]:
        print(b)
    if bad:
        return 1
    print("ok keys %d incr %d new %d retried %d tool %d ask-unknown %d" % (keys, w.incr, w.new, w.retried,
                                                                         tool.returncode, w.ask_unknown))
    print("writer (INCR+SET, ms) before: %s; during: %s; move took %.2f s" % (
        pct([d for t, d in w.lat if t < t_start]), pct([d for t, d in w.lat if t_start <= t < t_end]),
        t_end - t_start))
    during = [(d * 1000, wr, wb, wa) for (t, d), (_, wr, wb, wa, _r) in zip(w.lat, w.waits) if t_start <= t < t_end]
    # the pairs answered without a redirection or a reload: the server's own
    # latency as a client sees it, apart from what moving slots costs a
    # Redis Cluster client by protocol
    plain = [d for (t, d), (_, wr, wb, wa, r) in zip(w.lat, w.waits)
             if t_start <= t < t_end and r == 0 and wr == 0 and wa == 0]
    redirected = sum(1 for (t, d), (_, wr, wb, wa, r) in zip(w.lat, w.waits)
                     if t_start <= t < t_end and (r or wr or wa))
    print("writer during, pairs with no redirection: %s; pairs redirected: %d (%.2f%%); redirections %s" % (
        pct(plain), redirected, 100.0 * redirected / max(1, redirected + len(plain)),
        " ".join("%s %d" % (k.replace("Error", ""), v) for k, v in sorted(REDIRECTS.items())) or "none"))
    if during:
        top = max(during)
        print("pause (during): longest pair %.1f ms (%.1f ms of it redis-py reloading the table, %d TRYAGAIN "
              "back-offs, %d ask-unknown retries); longest pair less its reloads %.1f ms; reloads %d, longest "
              "%.1f ms; back-offs %d; longest pair without ask-unknown retries %.1f ms" % (
                  top[0], top[1], top[2], top[3], max(d - wr for d, wr, wb, wa in during),
                  sum(1 for d, wr, wb, wa in during if wr > 0), max([wr for d, wr, wb, wa in during] + [0]),
                  sum(wb for d, wr, wb, wa in during), max([d for d, wr, wb, wa in during if wa == 0] + [0])))
    if os.environ.get("RESHARD_DUMP"):
        with open(os.environ["RESHARD_DUMP"], "w") as f:
            f.write("%f %f\n" % (t_start, t_end))
            for (t, d), (_, wr, wb, wa, r) in zip(w.lat, w.waits):
                f.write("%f %f %d\n" % (t, d * 1000, 1 if (r or wr or wa) else 0))
    sys.stdout.write(tool.stdout.decode(errors="replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
