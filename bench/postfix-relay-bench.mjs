// The same load as bench/relay-bench.mjs, relayed by Postfix: N queued messages to a local sink
// (smtp-server that discards, no STARTTLS), at most 16 concurrent connections, timed from the
// release of the queue to the last message sunk. Runs a private Postfix instance (own config and
// queue under a temp dir, no listening ports; root needed) and stops it afterwards:
//   node bench/postfix-relay-bench.mjs [N=2000] [concurrency=16]
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startSink } from './sink-client.mjs';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 2000);
const C = Number(process.argv[3] ?? 16);
const SIZE = 4096;


const sink = await startSink(false);
const sinkPort = sink.port;

const dir = mkdtempSync(path.join(os.tmpdir(), 'pfbench-'));
const etc = path.join(dir, 'etc');
mkdirSync(etc);
const master = readFileSync('/etc/postfix/master.cf', 'utf8')
  .split('\n').map((l) => (/^smtp\s+inet\b/.test(l) || /^(submission|smtps)\s+inet\b/.test(l) ? '#' + l : l)).join('\n');
writeFileSync(path.join(etc, 'master.cf'), master);
writeFileSync(path.join(etc, 'main.cf'), [
  `queue_directory = ${dir}/spool`, `data_directory = ${dir}/data`, 'mail_owner = postfix', 'setgid_group = postdrop',
  'myhostname = pf.bench.test', 'mydomain = bench.test', 'myorigin = bench.test', 'mydestination =', 'inet_interfaces = loopback-only', 'inet_protocols = ipv4',
  `relayhost = [127.0.0.1]:${sinkPort}`, `default_destination_concurrency_limit = ${C}`, `smtp_destination_concurrency_limit = ${C}`,
  'default_process_limit = 200', 'smtp_tls_security_level = none', 'compatibility_level = 3.6', `maillog_file = ${dir}/maillog`, 'maillog_file_prefixes = /tmp, /var',
  'defer_transports = smtp', 'alias_maps =', 'alias_database =', 'local_recipient_maps =', 'smtputf8_enable = no',
  'in_flow_delay = 0', 'smtp_connection_cache_on_demand = yes',
].join('\n') + '\n');
execFileSync('chmod', ['755', dir]); // the postfix user must reach data/
mkdirSync(path.join(dir, 'data'));
mkdirSync(path.join(dir, 'spool'));
execFileSync('chown', ['postfix', path.join(dir, 'data')]);
const pf = (...a) => execFileSync('script', ['-qc', ['postfix', '-c', etc, ...a].join(' '), '/dev/null'], { stdio: 'inherit' }); // script: postfix reports on a tty
pf('check');
pf('start');
try {
  // queue N messages (held by defer_transports = smtp)
  const body = ('x'.repeat(76) + '\r\n').repeat(Math.floor(SIZE / 78));
  const jobs = [];
  for (let i = 0; i < N; i++) {
    const msg = `From: <a@bench.test>\nTo: <r${i}@sink.bench.test>\nSubject: bench ${i}\nMessage-ID: <${i}@pf.bench.test>\n\n${body}`;
    jobs.push(() => new Promise((resolve, reject) => {
      const p = execFile('/usr/sbin/sendmail', ['-C', etc, '-f', 'a@bench.test', `r${i}@sink.bench.test`], (err) => (err ? reject(err) : resolve()));
      p.stdin.end(msg);
    }));
  }
  for (let i = 0; i < jobs.length; i += 16) await Promise.all(jobs.slice(i, i + 16).map((j) => j()));
  // wait until every message sits in the queue
  for (;;) {
    const q = (await run('postqueue', ['-c', etc, '-j'], { maxBuffer: 256 * 1024 * 1024 })).stdout.split('\n').filter(Boolean).length;
    if (q >= N) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  // release: let smtp deliver, flush the queue, time until the sink has all N
  execFileSync('postconf', ['-c', etc, '-e', 'defer_transports =']);
  pf('reload');
  const t0 = performance.now();
  execFileSync('postqueue', ['-c', etc, '-f']);
  let st;
  while ((st = await sink.stats()).sunk < N && performance.now() - t0 < 600_000) await new Promise((r) => setTimeout(r, 10));
  const secs = (performance.now() - t0) / 1000;
  const { sunk, connections } = st;
  console.log(JSON.stringify({ bench: 'relay-postfix', postfix: execFileSync('postconf', ['-c', etc, '-h', 'mail_version']).toString().trim(), messages: N, concurrency: C, sizeBytes: SIZE, seconds: Number(secs.toFixed(2)), messagesPerSecond: Number((N / secs).toFixed(1)), sunk, connections }));
} finally {
  try { pf('stop'); } catch { /* already stopped */ }
  sink.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
