#!/usr/bin/env python3
"""bench/failover: the write gap after kill -9 of a master (issue 10).

    bench/failover/failover.py [--runs N] [--timeout MS] [--only ringkv|redis]

Each run starts a fresh cluster of six nodes (3 masters + 1 replica each)
on loopback, in a temp directory:

  ringkv  build/ringkv x6 --cluster-enabled yes --cluster-node-timeout MS,
          three redis-sentinel processes, `build/ringkv-cluster create
          --replicas 1 --sentinels ...` (down-after-milliseconds = MS);
  redis   redis-server x6 --cluster-enabled yes --cluster-node-timeout MS,
          `redis-cli --cluster create --cluster-replicas 1 --cluster-yes`.

One writer (this process, one connection, plain RESP) writes keys of one
slot ({fo}:<n>), each SET followed by WAIT 1 100. After 3 s of writing it
kills the slot's master with SIGKILL, then keeps writing: on any error or a
dead connection it asks a live node's CLUSTER SLOTS for the slot's master
and goes on there. It stops 2 s after the first SET taken by the new master.

  gap   = first SET answered +OK after the kill (when its +OK arrives)  -  last write WAIT
          acknowledged (>= 1 replica) before the kill       (ms)
  lost  = writes WAIT acknowledged before the kill that GET does not find
          on the new master

Runs alternate ringkv, redis, ringkv, ... (interleaved); medians at the end.
Every server at its defaults otherwise; nothing pinned (the machine's 2 CPUs
are shared by the writer, 6 servers and 3 Sentinels, mostly idle).

Where ringkv's time goes is read from the Sentinels' logs (kept when a run
fails, or with --keep): +sdown (down-after-milliseconds after the kill),
+odown, +elected-leader, +failover-state-send-slaveof-noone, +promoted-slave
(the Sentinel's next INFO of the replica), +switch-master. The phases are
printed per run.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RINGKV = os.environ.get("RINGKV_BIN", os.path.join(ROOT, "build", "ringkv"))
TOOL = os.environ.get("RINGKV_CLUSTER", os.path.join(ROOT, "build", "ringkv-cluster"))


def now_ms():
    return time.monotonic() * 1000.0


def free_port():
    """A free loopback port whose +10000 (Redis Cluster's bus port) is free too."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p + 10000 > 65535:
            continue
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", p + 10000))
        except OSError:
            continue
        finally:
            b.close()
        return p


class Conn:
    """A minimal RESP2 client: one command at a time."""

    def __init__(self, port, timeout=3.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                d = self.s.recv(65536)
                if not d:
                    raise ConnectionError("closed")
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError("bad reply %r" % line)

    def cmd(self, *args):
        self.send(*args)
        return self.read()


def wait_ping(port, limit=10.0):
    end = time.time() + limit
    while time.time() < end:
        try:
            c = Conn(port, 0.5)
            if c.cmd("PING") == "PONG":
                c.close()
                return
            c.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("port %d did not answer PING" % port)


class Cluster:
    def __init__(self, kind, timeout_ms, keep):
        self.kind = kind
        self.timeout_ms = timeout_ms
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="ringkv-failover-%s-" % kind)
        self.procs = {}  # port -> Popen
        self.sentinels = []  # (port, Popen)

    def start(self):
        ports = [free_port() for _ in range(6)]
        for p in ports:
            conf = os.path.join(self.dir, "nodes-%d.conf" % p)
            log = os.path.join(self.dir, "node-%d.log" % p)
            if self.kind == "ringkv":
                # from a file: Sentinel's promotion sends CONFIG REWRITE
                cfile = os.path.join(self.dir, "ringkv-%d.conf" % p)
                with open(cfile, "w") as f:
                    f.write("port %d\nbind 127.0.0.1\ncluster-enabled yes\ncluster-config-file %s\n"
                            "cluster-node-timeout %d\nlogfile %s\nsave \"\"\n" % (p, conf, self.timeout_ms, log))
                args = [RINGKV, cfile]
            else:
                args = ["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                        "--cluster-config-file", conf, "--cluster-node-timeout", str(self.timeout_ms),
                        "--logfile", log, "--dir", self.dir, "--save", "", "--appendonly", "no"]
            self.procs[p] = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
        for p in ports:
            wait_ping(p)
        addrs = ["127.0.0.1:%d" % p for p in ports]
        if self.kind == "ringkv":
            for i in range(3):
                sp = free_port()
                conf = os.path.join(self.dir, "sentinel-%d.conf" % i)
                with open(conf, "w") as f:
                    f.write("port %d\nbind 127.0.0.1\ndaemonize no\nloglevel verbose\nlogfile %s\ndir %s\n"
                            % (sp, os.path.join(self.dir, "sentinel-%d.log" % i), self.dir))
                pr = subprocess.Popen(["redis-sentinel", conf], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                self.sentinels.append((sp, pr))
            for sp, _ in self.sentinels:
                wait_ping(sp)
            sl = ",".join("127.0.0.1:%d" % sp for sp, _ in self.sentinels)
            cmd = [TOOL, "create"] + addrs + ["--replicas", "1", "--sentinels", sl]
        else:
            cmd = ["redis-cli", "--cluster", "create"] + addrs + ["--cluster-replicas", "1", "--cluster-yes"]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit("%s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
        # every node says cluster_state:ok, and every master has its replica
        # online (redis-server's diskless sync waits 5 s for more replicas)
        for p in ports:
            end = time.time() + 60
            while True:
                c = Conn(p)
                ok = "cluster_state:ok" in c.cmd("CLUSTER", "INFO")
                info = c.cmd("INFO", "replication")
                c.close()
                if ok and ("role:slave" in info or ("connected_slaves:1" in info and "state=online" in info)):
                    break
                if time.time() > end:
                    raise SystemExit("node %d not settled:\n%s" % (p, info))
                time.sleep(0.1)

    def live(self):
        return [p for p, pr in self.procs.items() if pr.poll() is None]

    def master_of(self, slot, avoid=None):
        """The master port for slot as a live node's CLUSTER SLOTS says."""
        for p in self.live():
            try:
                c = Conn(p, 1.0)
                slots = c.cmd("CLUSTER", "SLOTS")
                c.close()
            except OSError:
                continue
            if isinstance(slots, Exception):
                continue
            for r in slots:
                if r[0] <= slot <= r[1]:
                    return r[2][1]
        return None

    def stop(self, failed=False):
        for pr in list(self.procs.values()) + [pr for _, pr in self.sentinels]:
            if pr.poll() is None:
                pr.kill()
            pr.wait()
        if failed or self.keep:
            print("  (logs kept in %s)" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def sentinel_phases(self, kill_wall):
        """ms after the kill of each Sentinel event (the earliest over the
        Sentinels), from their logs' wall-clock times."""
        events = ["+sdown master", "+odown", "+elected-leader", "+failover-state-send-slaveof-noone",
                  "+promoted-slave", "+switch-master"]
        out = {}
        for i in range(len(self.sentinels)):
            path = os.path.join(self.dir, "sentinel-%d.log" % i)
            try:
                lines = open(path).read().splitlines()
            except OSError:
                continue
            for line in lines:
                m = re.match(r"\d+:X (\d+ \w+ \d+ [\d:.]+) [#*-] (.*)", line)
                if not m:
                    continue
                for e in events:
                    if m.group(2).startswith(e):
                        t = time.mktime(time.strptime(m.group(1).split(".")[0], "%d %b %Y %H:%M:%S"))
                        t += int(m.group(1).split(".")[1]) / 1000.0
                        ms = (t - kill_wall) * 1000.0
                        if ms > -50 and (e not in out or ms < out[e]):
                            out[e] = ms
        return out


def one_run(kind, timeout_ms, keep):
    cl = Cluster(kind, timeout_ms, keep)
    failed = True
    try:
        cl.start()
        c0 = Conn(cl.live()[0])
        slot = c0.cmd("CLUSTER", "KEYSLOT", "{fo}")
        c0.close()
        victim = cl.master_of(slot)
        acked = []
        n = 0
        conn = Conn(victim)
        start = now_ms()
        last_ack = None
        while now_ms() - start < 3000:
            key = "{fo}:%d" % n
            n += 1
            conn.send("SET", key, key)
            conn.send("WAIT", 1, 100)
            ok, w = conn.read(), conn.read()
            if ok == "OK" and isinstance(w, int) and w >= 1:
                acked.append(key)
                last_ack = now_ms()
        cl.procs[victim].send_signal(signal.SIGKILL)
        cl.procs[victim].wait()
        kill_t, kill_wall = now_ms(), time.time()
        conn.close()
        conn, target, first_ok = None, None, None
        while True:
            t = now_ms()
            if t - kill_t > 120000:
                raise SystemExit("%s: no write taken 120 s after the kill" % kind)
            if first_ok and t - first_ok > 2000:
                break
            if conn is None:
                target = cl.master_of(slot)
                if target is None or target == victim:
                    time.sleep(0.01)
                    continue
                try:
                    conn = Conn(target, 2.0)
                except OSError:
                    conn = None
                    time.sleep(0.01)
                    continue
            key = "{fo}:%d" % n
            n += 1
            try:
                conn.send("SET", key, key)
                conn.send("WAIT", 1, 100)
                ok = conn.read()
                ok_t = now_ms()  # the SET's answer, not WAIT's 100 ms timeout after it
                w = conn.read()
            except OSError:
                conn.close()
                conn = None
                continue
            if ok == "OK":
                if first_ok is None:
                    first_ok = ok_t
                if isinstance(w, int) and w >= 1:
                    acked.append(key)
            else:
                conn.close()
                conn = None
                time.sleep(0.01)
        conn.close()
        # every acknowledged write read back from the new master
        c = Conn(target)
        lost = sum(1 for k in acked if c.cmd("GET", k) != k)
        c.close()
        phases = cl.sentinel_phases(kill_wall) if kind == "ringkv" else {}
        failed = False
        return {"gap": first_ok - last_ack, "after_kill": first_ok - kill_t, "acked": len(acked),
                "lost": lost, "phases": phases}
    finally:
        cl.stop(failed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=2000, help="cluster-node-timeout (ms)")
    ap.add_argument("--only", choices=["ringkv", "redis"])
    ap.add_argument("--keep", action="store_true", help="keep the logs")
    o = ap.parse_args()
    kinds = [o.only] if o.only else ["ringkv", "redis"]
    res = {k: [] for k in kinds}
    for r in range(o.runs):
        for k in kinds:
            x = one_run(k, o.timeout, o.keep)
            res[k].append(x)
            ph = " ".join("%s=%.0f" % (e.split()[0], v) for e, v in sorted(x["phases"].items(), key=lambda i: i[1]))
            print("run %d %-6s gap %6.0f ms (first write %6.0f ms after the kill)  acked %5d  lost %d  %s"
                  % (r + 1, k, x["gap"], x["after_kill"], x["acked"], x["lost"], ph), flush=True)
    print()
    print("%-8s %5s %12s %12s %12s %10s" % ("cluster", "runs", "gap_median", "gap_min", "gap_max", "lost_sum"))
    for k in kinds:
        g = [x["gap"] for x in res[k]]
        print("%-8s %5d %10.0fms %10.0fms %10.0fms %10d" % (k, len(g), statistics.median(g), min(g), max(g),
                                                           sum(x["lost"] for x in res[k])))


if __name__ == "__main__":
    main()
