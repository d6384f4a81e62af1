#!/usr/bin/python3
# RQ, Python's job queue, against a server (tests/interop/test_rq.c):
#
#   rq_queue.py <port> <jobs>
#
# RQ keeps each job, each queue and each registry in keys of their own, and
# enqueues and finishes jobs with WATCH/MULTI/EXEC over several of them
# (on a ringkv of several shards: transactions over several shards). Jobs
# are enqueued (one failing, one depending on another, one scheduled a
# second ahead), a worker (in this process) runs them all; every result
# must be there, the failed job in the failed registry, the dependent and
# the scheduled ones finished. Prints "ok ..." or what went wrong (exit 1).
import sys
import time
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.registry import FailedJobRegistry, FinishedJobRegistry


def add(a, b):
    return a + b


def boom():
    raise ValueError('boom')


def main():
    # the jobs by their module's name (RQ refuses __main__'s functions): this
    # file, imported again from its own directory (sys.path[0])
    import rq_queue
    port, n = int(sys.argv[1]), int(sys.argv[2])
    r = Redis(port=port)
    r.flushall()
    q = Queue('default', connection=r)
    jobs = [q.enqueue(rq_queue.add, i, i) for i in range(n)]
    bad = q.enqueue(rq_queue.boom, retry=Retry(max=1))
    dep = q.enqueue(rq_queue.add, 1, 1, depends_on=jobs[0])
    later = q.enqueue_in(timedelta(seconds=1), rq_queue.add, 5, 5)
    w = SimpleWorker([q], connection=r)
    w.work(burst=True, with_scheduler=True)
    time.sleep(1.5)
    w.work(burst=True, with_scheduler=True)
    wrong = [i for i, j in enumerate(jobs) if j.latest_result() is None or j.latest_result().return_value != 2 * i]
    if wrong:
        print('FAIL: jobs without their result: %s' % wrong[:10])
        return 1
    states = (dep.get_status(), bad.get_status(), later.get_status())
    if states != ('finished', 'failed', 'finished'):
        print('FAIL: dependent, failing, scheduled jobs: %s' % (states,))
        return 1
    finished, failed = FinishedJobRegistry(queue=q).count, FailedJobRegistry(queue=q).count
    if finished != n + 2 or failed != 1 or q.count != 0:
        print('FAIL: finished %d failed %d queued %d' % (finished, failed, q.count))
        return 1
    print('ok %d jobs run, a failed one retried and kept, a dependent and a scheduled one run' % n)
    return 0


if __name__ == '__main__':
    sys.exit(main())
