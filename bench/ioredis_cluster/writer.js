// bench/ioredis_cluster/writer.js (run by bench/ioredis_cluster/run): an
// ioredis Cluster client writing while the cluster changes: W workers each
// INCR a counter of 500 of their own and SET a new key, in turn, for S
// seconds, remembering every acknowledged value; then every key is read
// back. Prints {ops, errors, keys, lost, errs}: errors the client could not
// retry through, lost the keys read back with another value than the last
// one acknowledged.
// usage: node writer.js PORT[,PORT...] SECONDS [WORKERS]
const Redis = require('ioredis');
const ports = process.argv[2].split(',').map(Number);
const seconds = Number(process.argv[3] || 20), workers = Number(process.argv[4] || 20);
const c = new Redis.Cluster(ports.map(port => ({ host: '127.0.0.1', port })),
  { scaleReads: 'master', maxRedirections: 64, retryDelayOnMoved: 0, retryDelayOnTryAgain: 50 });
const acked = new Map(), errs = new Map();
let ops = 0, errors = 0;
function failed(e) { errors++; errs.set(e.message, (errs.get(e.message) || 0) + 1); }
async function worker(id) {
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const k = `c:${id}:${i % 500}`, s = `s:${id}:${i}`;
    try { acked.set(k, String(await c.incr(k))); ops++; } catch (e) { failed(e); }
    try { await c.set(s, String(i)); acked.set(s, String(i)); ops++; } catch (e) { failed(e); }
  }
}
(async () => {
  await Promise.all([...Array(workers).keys()].map(worker));
  let lost = 0;
  for (const [k, v] of acked) {
    const got = await c.get(k);
    if (got !== v && ++lost <= 5) console.error('lost', k, 'acknowledged', v, 'read', got);
  }
  console.log(JSON.stringify({ ops, errors, keys: acked.size, lost, errs: [...errs] }));
  c.disconnect();
})();
