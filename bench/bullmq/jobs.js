// bench/bullmq/jobs.js (run by bench/bullmq/run): N jobs through a BullMQ
// queue on the server at PORT with key prefix PREFIX: every job must be
// processed exactly once; prints the time adding and processing took.
// usage: node jobs.js PORT [N] [PREFIX]
const { Queue, Worker } = require('bullmq');
const port = +process.argv[2], N = +(process.argv[3] || 20000), prefix = process.argv[4] || '{bull}';
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
(async () => {
  const q = new Queue('bench', { connection, prefix });
  await q.obliterate({ force: true });
  const seen = new Map(); let done = 0, failed = 0; let resolve; const all = new Promise(r => resolve = r);
  const workers = [];
  const t0 = Date.now();
  for (let i = 0; i < N; i += 500) {
    const batch = []; for (let j = i; j < Math.min(N, i + 500); j++) batch.push({ name: 'j', data: { n: j } });
    await q.addBulk(batch);
  }
  const tAdded = Date.now();
  for (let w = 0; w < 2; w++) {
    const wk = new Worker('bench', async job => { seen.set(job.data.n, (seen.get(job.data.n) || 0) + 1); return job.data.n; },
      { connection, prefix, concurrency: 50, removeOnComplete: { count: 0 } });
    wk.on('completed', () => { if (++done === N) resolve(); });
    wk.on('failed', (j, e) => { failed++; console.log('failed', e.message); });
    workers.push(wk);
  }
  await all;
  const t1 = Date.now();
  let twice = 0, missing = 0; for (let j = 0; j < N; j++) { const c = seen.get(j) || 0; if (c === 0) missing++; if (c > 1) twice++; }
  console.log(JSON.stringify({ port, N, add_ms: tAdded - t0, process_ms: t1 - tAdded, jobs_per_s: Math.round(N / ((t1 - tAdded) / 1000)), failed, twice, missing }));
  for (const w of workers) await w.close(); await q.close(); process.exit(0);
})();
