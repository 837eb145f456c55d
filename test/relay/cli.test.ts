// `postoffice dns`, `postoffice doctor` and `postoffice queue` as an operator runs them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { dkimKey, dkimTxt, txtStrings } from '../../src/relay/dkim.js';
import { SqliteStore } from '../../src/store/index.js';
import { labEnv, ROOT } from '../helpers/lab.js';
import { startDns } from './dns-server.js';
import { startSink } from './sink.js';
import { enqueue } from './util.js';

const run = promisify(execFile);
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'postoffice-cli-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('postoffice dns DOMAIN prints MX, SPF, DKIM (strings of at most 255 bytes), DMARC and SRV records', { timeout: 60_000 }, async (t) => {
  const dataDir = tmp(t);
  const env = labEnv(dataDir, { POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test' });
  const r = await cli(env, 'dns', '163.test');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^163\.test\.\s+3600\s+IN\s+MX\s+10 mx\.163\.test\.$/m);
  assert.match(r.stdout, /^163\.test\.\s+3600\s+IN\s+TXT\s+"v=spf1 mx -all"$/m);
  assert.match(r.stdout, /^_dmarc\.163\.test\.\s+3600\s+IN\s+TXT\s+"v=DMARC1; p=quarantine;/m);
  assert.match(r.stdout, /^_submissions\._tcp\.163\.test\.\s+3600\s+IN\s+SRV\s+0 1 465 mx\.163\.test\.$/m);
  assert.match(r.stdout, /^autoconfig\.163\.test\.\s+3600\s+IN\s+CNAME\s+mx\.163\.test\.$/m);
  const dkim = /^postoffice\._domainkey\.163\.test\.\s+3600\s+IN\s+TXT\s+\(([^)]*)\)$/m.exec(r.stdout);
  assert.ok(dkim, 'the DKIM record is printed');
  const strings = [...dkim[1].matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  assert.ok(strings.length >= 2 && strings.every((s) => Buffer.byteLength(s) <= 255));
  // the key printed is the key the relay signs with
  assert.equal(strings.join(''), dkimTxt(dkimKey(dataDir, '163.test', 'postoffice').privateKey));
  const bad = await cli(env, 'dns', 'other.test');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /other\.test is not a local domain/);
});

test('postoffice doctor: one line per finding with what to do, against a dns2 server', { timeout: 60_000 }, async (t) => {
  const dataDir = tmp(t);
  const sink = await startSink();
  t.after(() => sink.close());
  const txt = dkimTxt(dkimKey(dataDir, '163.test', 'postoffice').privateKey);
  const dns = await startDns({
    '163.test': { MX: [[10, 'mx.163.test']], TXT: [['v=spf1 mx -all']] },
    'mx.163.test': { A: ['127.0.0.2'] },
    '2.0.0.127.in-addr.arpa': { PTR: ['mx.163.test'] },
    'postoffice._domainkey.163.test': { TXT: [txtStrings(txt)] },
    '_dmarc.163.test': { TXT: [['v=DMARC1; p=reject']] },
    // a second domain that got everything wrong
    'sina.test': { MX: [[10, 'mail.elsewhere.test']] },
    'postoffice._domainkey.sina.test': { TXT: [['v=DKIM1; k=rsa; p=AAAA']] },
  });
  t.after(() => dns.close());
  const env = labEnv(dataDir, { POSTOFFICE_DOMAINS: '163.test,sina.test', POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_DNS_SERVERS: dns.server });

  const good = await cli(env, 'doctor', '163.test', '--probe', `127.0.0.1:${sink.port}`);
  assert.match(good.stdout, /^ok\s+A\s+mx\.163\.test -> 127\.0\.0\.2$/m);
  assert.match(good.stdout, /^ok\s+PTR\s+127\.0\.0\.2 <- mx\.163\.test$/m);
  assert.match(good.stdout, /^ok\s+MX\s+163\.test -> mx\.163\.test$/m);
  assert.match(good.stdout, /^ok\s+SPF\s+/m);
  assert.match(good.stdout, /^ok\s+DKIM\s+postoffice\._domainkey\.163\.test matches our key$/m);
  assert.match(good.stdout, /^ok\s+DMARC\s+/m);
  assert.match(good.stdout, /^ok\s+port 25\s+outbound SMTP works/m);
  assert.match(good.stdout, /^WARN\s+TLS\s+no certificate yet/m);
  assert.equal(good.code, 0, good.stdout + good.stderr);

  const bad = await cli(env, 'doctor', 'sina.test', '--probe', '127.0.0.1:1');
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^WARN\s+MX\s+sina\.test MX is mail\.elsewhere\.test, not mx\.163\.test: .*publish "sina\.test\. MX 10 mx\.163\.test\."/m);
  assert.match(bad.stdout, /^FAIL\s+SPF\s+sina\.test has no SPF record: publish/m);
  assert.match(bad.stdout, /^FAIL\s+DKIM\s+.*publishes a different key than ours: replace it/m);
  assert.match(bad.stdout, /^WARN\s+DMARC\s+_dmarc\.sina\.test has no DMARC record: publish/m);
  assert.match(bad.stdout, /^FAIL\s+port 25\s+cannot reach 127\.0\.0\.1:1 .*set POSTOFFICE_SMARTHOST/m);
});

test('postoffice queue list | flush | del', { timeout: 60_000 }, async (t) => {
  const dataDir = tmp(t);
  const env = labEnv(dataDir, { POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test' });
  const store = new SqliteStore({ dataDir });
  await store.domains.add('163.test');
  await enqueue({ po: { store } }, 'me@163.test', ['a@remote.test', 'b@remote.test']);
  await enqueue({ po: { store } }, 'me@163.test', ['c@other.test']);
  const [first] = await store.queue.list();
  await store.queue.reschedule(first.id, { nextAttempt: Date.now() + 3_600_000, attempts: 1, lastReply: '451 4.3.0 later' });
  await store.close();

  const list = await cli(env, 'queue', 'list');
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID\s+MSG\s+FROM\s+TO/m);
  assert.match(list.stdout, new RegExp(`^${first.id}\\s+\\S+\\s+<me@163\\.test>\\s+a@remote\\.test,b@remote\\.test\\s+\\d+\\s+1\\s+.*451 4\\.3\\.0 later$`, 'm'));
  const flush = await cli(env, 'queue', 'flush');
  assert.match(flush.stdout, /^2 queue entr\(ies\) due now$/m);
  const del = await cli(env, 'queue', 'del', String(first.id));
  assert.equal(del.code, 0);
  const after = await cli(env, 'queue', 'list');
  assert.doesNotMatch(after.stdout, /a@remote\.test/);
  assert.match(after.stdout, /c@other\.test/);
});
