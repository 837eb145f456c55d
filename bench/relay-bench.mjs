// Relay throughput: N queued messages relayed to a local sink MX (smtp-server that discards),
// through the real queue runner, MX look-up (a dns2 server on loopback) and SMTP client, with
// 16 concurrent connections. Run after `npm run build`:
//   node bench/relay-bench.mjs [N=2000] [concurrency=16] [--tls] [--size=BYTES]
// Prints one JSON line: messages/s from the first attempt to the empty queue.
import DNS from 'dns2';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSink } from './sink-client.mjs';
import { loadConfig } from '../dist/src/config/config.js';
import { silentLogger } from '../dist/src/log/log.js';
import { QueueRunner } from '../dist/src/relay/queue-runner.js';
import { SqliteStore } from '../dist/src/store/index.js';

const args = process.argv.slice(2);
const pos = args.filter((a) => !a.startsWith('--'));
const N = Number(pos[0] ?? 2000);
const C = Number(pos[1] ?? 16);
const TLS = args.includes('--tls');
const SIZE = Number((args.find((a) => a.startsWith('--size=')) ?? '--size=4096').slice(7));


const sink = await startSink(TLS);
const sinkPort = sink.port;

// DNS: sink.bench.test MX -> 127.0.0.1
const T = DNS.Packet.TYPE;
const dns = DNS.createUDPServer((req, send) => {
  const res = DNS.Packet.createResponseFromRequest(req);
  const [q] = req.questions;
  const base = { name: q.name, class: 1, ttl: 300 };
  if (q.type === T.MX && q.name === 'sink.bench.test') res.answers.push({ ...base, type: T.MX, priority: 10, exchange: 'mx.sink.bench.test' });
  if (q.type === T.A && q.name === 'mx.sink.bench.test') res.answers.push({ ...base, type: T.A, address: '127.0.0.1' });
  send(res);
});
await dns.listen(0, '127.0.0.1');

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-relay-bench-'));
const config = loadConfig({
  POSTOFFICE_DATA_DIR: dataDir, POSTOFFICE_DOMAINS: 'bench.test', POSTOFFICE_HOSTNAME: 'mx.bench.test', POSTOFFICE_LOG_LEVEL: 'silent',
  POSTOFFICE_DNS_SERVERS: `127.0.0.1:${dns.address().port}`, POSTOFFICE_RELAY_PORT: String(sinkPort),
});
const store = new SqliteStore({ dataDir });
await store.domains.add('bench.test');

// fill the queue (group-committed in batches), one recipient per message like a newsletter would not
const body = 'x'.repeat(76) + '\r\n';
const lines = Math.max(1, Math.floor(SIZE / body.length));
for (let i = 0; i < N; i += 200) {
  const batch = [];
  for (let j = i; j < Math.min(N, i + 200); j++) {
    const raw = Buffer.from(`From: <a@bench.test>\r\nTo: <r${j}@sink.bench.test>\r\nSubject: bench ${j}\r\nMessage-ID: <${j}@bench.test>\r\n\r\n${body.repeat(lines)}`);
    batch.push(store.deliver({ msgId: `bench.${j}`, mailFrom: 'a@bench.test', raw, relayRaw: raw, local: [], remote: [`r${j}@sink.bench.test`], journey: [], queueData: {} }));
  }
  await Promise.all(batch);
}

const runner = new QueueRunner({ store, config, log: silentLogger, concurrency: C, domainConcurrency: C, pollMs: 20 });
const t0 = performance.now();
runner.start();
// cheap progress check (the queue itself is looked at once at the end)
while (runner.stats.delivered + runner.stats.bounced < N || runner.busy > 0) await new Promise((r) => setTimeout(r, 10));
const secs = (performance.now() - t0) / 1000;
await runner.stop();
const left = (await store.queue.list()).length;
const { sunk, connections } = await sink.stats();
const result = {
  bench: 'relay', messages: N, concurrency: C, tls: TLS, sizeBytes: SIZE, seconds: Number(secs.toFixed(2)),
  messagesPerSecond: Number((N / secs).toFixed(1)), sunk, connections, deferred: runner.stats.deferred, leftInQueue: left, storeCommits: store.stats.commits, storeJobs: store.stats.jobs,
};
console.log(JSON.stringify(result));
await store.close();
sink.close();
dns.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
