#!/usr/bin/env bash
# bench/watch/run.sh: what WATCH costs (bench/RESULTS.md, "WATCH
# (optimistic transactions)").
#
#   bench/watch/run.sh BEFORE_RINGKV AFTER_RINGKV [ROUNDS]
#
# 1. The write path, which every store change now also passes through
#    WATCH's hook: redis-benchmark -t set -n 2000000 -r 100000 -c 50 -P 16
#    against ringkv --threads 1 built before and after.
# 2. A watched check-and-set, WATCH k / GET k / MULTI / SET k v / EXEC,
#    400,000 times from one connection (redis-cli --pipe) against
#    redis-server, ringkv --threads 1 (every key on the connection's
#    shard) and ringkv --threads 2 with the transactions alternating
#    between a key of each shard (half on the connection's shard, half
#    sent to the other one whole); and the same without WATCH (MULTI /
#    SET k v / EXEC) for reference.
# Each round runs every case once, in that order (ROUNDS, default 5). For
# each run: the server's CPU (utime + stime from /proc/PID/stat) divided by
# the SETs or transactions, and the load average at its start, one line
# per run on stdout (case, round, load, CPU us per op). Every server
# started here is stopped on exit.
set -euo pipefail
BEFORE=${1:?before binary}
AFTER=${2:?after binary}
ROUNDS=${3:-5}
TX=400000
dir=$(mktemp -d /tmp/watch-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

port() { echo $((40000 + RANDOM % 20000)); }
start() { # name port cmd...
    local name=$1 p=$2
    shift 2
    "$@" >"$dir/$name.log" 2>&1 &
    pids+=($!)
    eval "pid_$name=$!"
    for _ in $(seq 100); do
        redis-cli -p "$p" ping >/dev/null 2>&1 && return
        sleep 0.05
    done
    echo "$name did not start" >&2
    exit 1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
load() { cut -d' ' -f1 /proc/loadavg; }

p_before=$(port); p_after1=$(port); p_after2=$(port); p_redis=$(port)
start before "$p_before" "$BEFORE" --port "$p_before" --threads 1 --pin no
start after1 "$p_after1" "$AFTER" --port "$p_after1" --threads 1 --pin no
start after2 "$p_after2" "$AFTER" --port "$p_after2" --threads 2 --pin no
start redis "$p_redis" redis-server --port "$p_redis" --save '' --appendonly no

# The transaction streams, in RESP. {b} and {a} are on shards 0 and 1 of
# two (slots 3300 and 15495).
python3 - "$dir" "$TX" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
def cmd(*a):
    return ('*%d\r\n' % len(a) + ''.join('$%d\r\n%s\r\n' % (len(x), x) for x in a)).encode()
def write(name, watched, keys):
    with open('%s/%s' % (d, name), 'wb') as f:
        for i in range(n):
            k = keys[i % len(keys)]
            if watched:
                f.write(cmd('WATCH', k) + cmd('GET', k))
            f.write(cmd('MULTI') + cmd('SET', k, str(i)) + cmd('EXEC'))
write('watched_one', True, ['{b}counter'])
write('watched_two', True, ['{b}counter', '{a}counter'])
write('plain_one', False, ['{b}counter'])
write('plain_two', False, ['{b}counter', '{a}counter'])
PY

run_set() { # name port pid round
    redis-cli -p "$2" flushall >/dev/null
    local l t0 t1
    l=$(load); t0=$(cpu_ticks "$3")
    redis-benchmark -p "$2" -t set -n 2000000 -r 100000 -c 50 -P 16 -q >/dev/null
    t1=$(cpu_ticks "$3")
    awk -v n="$1" -v r="$4" -v l="$l" -v t=$((t1 - t0)) \
        'BEGIN { printf "set %s round %d load %s cpu_us_per_op %.3f\n", n, r, l, t * 10000 / 2000000 }'
}
run_tx() { # name port pid round stream
    redis-cli -p "$2" flushall >/dev/null
    local l t0 t1 out
    l=$(load); t0=$(cpu_ticks "$3")
    out=$(redis-cli -p "$2" --pipe <"$dir/$5" | tail -1)
    t1=$(cpu_ticks "$3")
    case "$out" in *"errors: 0"*) ;; *) echo "$1 $5: $out" >&2; exit 1 ;; esac
    awk -v n="$1" -v s="$5" -v r="$4" -v l="$l" -v t=$((t1 - t0)) -v tx="$TX" \
        'BEGIN { printf "tx %s %s round %d load %s cpu_us_per_op %.3f\n", s, n, r, l, t * 10000 / tx }'
}

for r in $(seq "$ROUNDS"); do
    run_set before "$p_before" "$pid_before" "$r"
    run_set after "$p_after1" "$pid_after1" "$r"
    for s in watched_one plain_one; do
        run_tx redis "$p_redis" "$pid_redis" "$r" "$s"
        run_tx ringkv1 "$p_after1" "$pid_after1" "$r" "$s"
    done
    for s in watched_two plain_two; do
        run_tx redis "$p_redis" "$pid_redis" "$r" "$s"
        run_tx ringkv2 "$p_after2" "$pid_after2" "$r" "$s"
    done
done
