#!/usr/bin/env bash
# bench/acl/run.sh: what ACL users cost on the command path (bench/RESULTS.md,
# "ACL users (wt-acl)").
#
#   bench/acl/run.sh BEFORE_RINGKV AFTER_RINGKV [ROUNDS]
#
# Three servers, each alone on one shard thread (--threads 1 --pin no):
# ringkv built before the ACL users, and after it twice: one whose clients
# are the default user (~* &* +@all: the command path checks nothing past
# one load and one compare) and one where the load logs in as a user
# limited to `~app:* +get +set` (a bit test and a glob of the key per
# command). Each is filled with 100,000 keys app:000000000000.. and then
# sent
#
#   redis-benchmark -p PORT [--user app -a pw] -n 2000000 -r 100000 -c 50 -P 16 \
#       GET app:__rand_int__
#
# Each round runs the three cases once, in that order (ROUNDS, default 7).
# For each run: the server's CPU (utime + stime from /proc/PID/stat)
# divided by the 2,000,000 GETs, and the load average at its start, one
# line per run on stdout (case, round, load, CPU us per GET). Every server
# started here is stopped on exit.
set -euo pipefail
BEFORE=${1:?before binary}
AFTER=${2:?after binary}
ROUNDS=${3:-7}
N=2000000
dir=$(mktemp -d /tmp/acl-bench.XXXXXX)
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

p_before=$(port); p_default=$(port); p_limited=$(port)
start before "$p_before" "$BEFORE" --port "$p_before" --threads 1 --pin no
start default "$p_default" "$AFTER" --port "$p_default" --threads 1 --pin no
start limited "$p_limited" "$AFTER" --port "$p_limited" --threads 1 --pin no
redis-cli -p "$p_limited" ACL SETUSER app on '>pw' '~app:*' +get +set >/dev/null
for p in "$p_before" "$p_default" "$p_limited"; do
    redis-benchmark -p "$p" -n 200000 -r 100000 -c 50 -P 16 -q SET app:__rand_int__ xxxxxxxx >/dev/null
done
hz=$(getconf CLK_TCK)

run() { # name port pid round [auth...]
    local name=$1 p=$2 pid=$3 round=$4
    shift 4
    local l t0 t1
    l=$(load)
    t0=$(cpu_ticks "$pid")
    redis-benchmark -p "$p" "$@" -n "$N" -r 100000 -c 50 -P 16 -q GET app:__rand_int__ >/dev/null 2>&1
    t1=$(cpu_ticks "$pid")
    awk -v n="$name" -v r="$round" -v l="$l" -v d=$((t1 - t0)) -v hz="$hz" -v N="$N" \
        'BEGIN { printf "%s %d %s %.3f\n", n, r, l, d / hz * 1e6 / N }'
}

for r in $(seq "$ROUNDS"); do
    run before "$p_before" "$pid_before" "$r"
    run default "$p_default" "$pid_default" "$r"
    run limited "$p_limited" "$pid_limited" "$r" --user app -a pw
done
