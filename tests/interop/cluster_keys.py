"""100k keys through redis-py's RedisCluster (Debian's python3-redis) on a
ringkv cluster: written and read back through the cluster client (its
pipeline, which sends each node its keys in one batch); then each key read
from the master of the group the table (CLUSTER SLOTS) says, with a plain
connection, which must not be redirected; and from that group's replicas
with READONLY, which hold their master's keys. Run by
tests/interop/test_cluster_tool.c: argv[1] is a node's port, argv[2] the
number of keys. Prints "ok <keys> keys ..." or raises."""
import sys
import time

import redis
import redis.cluster

port, nkeys = int(sys.argv[1]), int(sys.argv[2])
rc = redis.cluster.RedisCluster(host="127.0.0.1", port=port)
key = lambda i: "k100:%d" % i
times = {}

t = time.monotonic()
for start in range(0, nkeys, 20000):
    p = rc.pipeline()
    for i in range(start, min(nkeys, start + 20000)):
        p.set(key(i), str(i))
    assert all(r is True for r in p.execute())
times["set"] = time.monotonic() - t

t = time.monotonic()
for start in range(0, nkeys, 20000):
    p = rc.pipeline()
    for i in range(start, min(nkeys, start + 20000)):
        p.get(key(i))
    got = p.execute()
    bad = [i for i, v in zip(range(start, nkeys), got) if v != str(i).encode()]
    assert not bad, "read back wrong: %r" % bad[:5]
times["get"] = time.monotonic() - t

# the table, from one node: slot -> the group's nodes, master first
table = {}
for start, end, *nodes in redis.Redis(port=port).execute_command("CLUSTER SLOTS"):
    group = tuple(n[1] for n in nodes)
    for s in range(start, end + 1):
        table[s] = group
assert len(table) == 16384, "%d slots in CLUSTER SLOTS" % len(table)

by_group = {}
for i in range(nkeys):
    by_group.setdefault(table[rc.keyslot(key(i))], []).append(i)
assert len(by_group) >= 3, "keys in %d groups only" % len(by_group)

t = time.monotonic()
for group, ids in by_group.items():
    master = redis.Redis(port=group[0])
    # the replicas have every write the master acknowledged so far
    assert master.execute_command("WAIT", len(group) - 1, 10000) == len(group) - 1
    for nport in group:
        c = redis.Redis(port=nport)
        if nport != group[0]:
            try:
                c.get(key(ids[0]))
                raise AssertionError("a replica served a read without READONLY")
            except redis.exceptions.ResponseError as e:
                assert str(e).startswith("MOVED "), str(e)
            c.execute_command("READONLY")
        p = c.pipeline(transaction=False)
        for i in ids:
            p.get(key(i))
        got = p.execute()  # raises on a MOVED
        bad = [i for i, v in zip(ids, got) if v != str(i).encode()]
        assert not bad, "port %d: wrong values for %r" % (nport, bad[:5])
times["per node"] = time.monotonic() - t

print("ok %d keys, %d groups: %s" % (nkeys, len(by_group),
      ", ".join("%s %.1fs" % kv for kv in times.items())))
