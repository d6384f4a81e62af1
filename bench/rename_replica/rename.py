# bench/rename_replica/rename.py MASTER_PORT REPLICA_PORT slot|across (see run)
import sys
import threading
import time

import redis

mport, rport, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
m, r = redis.Redis(port=mport), redis.Redis(port=rport)
A, B = ('{t}bh', '{t}bh2') if mode == 'slot' else ('bh', 'bh2')
m.flushall()
for i in range(0, 300000, 1000):
    m.hset(A, mapping={f'field-with-a-long-name-{j}': j for j in range(i, i + 1000)})
r.replicaof('127.0.0.1', mport)
while True:
    ri = r.info('replication')
    if ri['master_link_status'] == 'up' and not ri.get('master_sync_in_progress'):
        break
    time.sleep(0.1)
time.sleep(2)
pinger_conn = redis.Redis(port=mport)
for _ in range(4):
    src, dst = (A, B) if m.exists(A) else (B, A)
    waits, stop = [], [False]

    def pinger():
        while not stop[0]:
            t = time.perf_counter()
            pinger_conn.ping()
            waits.append((time.perf_counter() - t) * 1000)

    th = threading.Thread(target=pinger)
    th.start()
    time.sleep(0.3)
    before = m.info('replication')['master_repl_offset']
    t = time.perf_counter()
    m.rename(src, dst)
    took = (time.perf_counter() - t) * 1000
    time.sleep(2)
    stop[0] = True
    th.join()
    sent = m.info('replication')['master_repl_offset'] - before
    print(f'{mode}: RENAME {took:.2f} ms, {sent} stream bytes; PINGs {len(waits)}, longest {max(waits):.1f} ms, '
          f'{sum(1 for w in waits if w > 10)} over 10 ms')
