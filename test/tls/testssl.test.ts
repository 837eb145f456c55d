// testssl.sh (Debian's package) against every TLS listener of a lab post office: implicit TLS on
// smtps/imaps/pop3s, STARTTLS on smtp/submission/imap/pop3. Fails on any VULNERABLE or NOT ok
// finding except the two a self-signed certificate cannot avoid: its chain of trust and the
// absence of CRL/OCSP. Read from testssl's JSON output, not from its coloured text.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Ports } from '../../src/config/config.js';
import { startLab } from '../helpers/lab.js';

/** Debian installs it as `testssl`, upstream's checkout as `testssl.sh`. */
function findTestssl(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of ['testssl', 'testssl.sh']) {
      const p = path.join(dir, name);
      if (dir && existsSync(p)) return p;
    }
  }
  return null;
}

interface Finding { id: string; severity: string; finding: string }

const SCANS: { listener: keyof Ports; starttls?: 'smtp' | 'imap' | 'pop3' }[] = [
  { listener: 'smtps' }, { listener: 'imaps' }, { listener: 'pop3s' },
  { listener: 'smtp', starttls: 'smtp' }, { listener: 'submission', starttls: 'smtp' },
  { listener: 'imap', starttls: 'imap' }, { listener: 'pop3', starttls: 'pop3' },
];

/** A self-signed certificate has no chain of trust and no CRL/OCSP URI: testssl rates both NOT ok. */
const ALLOWED = new Set(['cert_chain_of_trust', 'cert_revocation']);

/** What in one scan is a failure: a VULNERABLE finding, or NOT ok (MEDIUM and up), or a scan that could not run. */
function problems(findings: Finding[]): string[] {
  const out: string[] = [];
  for (const f of findings) {
    const id = f.id.replace(/ <cert#\d+>$/, ''); // several certificates: one entry per certificate
    const vulnerable = /vulnerable/i.test(f.finding) && !/not vulnerable/i.test(f.finding);
    const notOk = ['MEDIUM', 'HIGH', 'CRITICAL', 'FATAL'].includes(f.severity);
    if ((vulnerable || notOk) && !ALLOWED.has(id)) out.push(`${f.id} [${f.severity}] ${f.finding}`);
  }
  return out;
}

function scan(bin: string, port: number, starttls: string | undefined, jsonFile: string): Promise<{ findings: Finding[]; output: string }> {
  const args = [
    '--quiet', '--color', '0', '--fast', '--protocols', '--server-defaults', '--vulnerable',
    '--warnings', 'off', '--nodns', 'none', '--jsonfile', jsonFile,
    ...(starttls ? ['--starttls', starttls] : []), `127.0.0.1:${port}`,
  ];
  return new Promise((resolve, reject) => {
    // testssl's exit status counts findings and problems alike: the JSON is what is judged. The time-out
    // stays under npm test's 300 s per file, so that a hung scan fails with its own output
    execFile(bin, args, { timeout: 270_000, maxBuffer: 16 << 20, env: { ...process.env, TERM: 'dumb' } }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (!existsSync(jsonFile)) return reject(new Error(`testssl wrote no JSON (${err?.message ?? 'no error'}):\n${output.slice(-4000)}`));
      try {
        resolve({ findings: JSON.parse(readFileSync(jsonFile, 'utf8')) as Finding[], output });
      } catch (e) {
        reject(new Error(`testssl JSON unreadable: ${(e as Error).message}\n${output.slice(-4000)}`));
      }
    });
  });
}

const bin = findTestssl();

test('testssl.sh finds nothing VULNERABLE or NOT ok on any TLS port (465, 993, 995; STARTTLS on 25, 587, 143, 110)',
  { skip: bin ? false : 'testssl.sh is not installed (Debian: apt-get install testssl.sh; .ci/run installs it): TLS scan skipped', timeout: 600_000 },
  async (t) => {
    const lab = await startLab(t);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-testssl-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // the seven scans at once: each one mostly waits on its own openssl handshakes
    const results = await Promise.all(SCANS.map(async (s) => {
      const r = await scan(bin!, lab.port(s.listener), s.starttls, path.join(dir, `${s.listener}.json`));
      return { ...s, ...r };
    }));
    const failures: string[] = [];
    for (const r of results) {
      const name = `${r.listener}${r.starttls ? ' (STARTTLS)' : ''}`;
      const byId = new Map(r.findings.map((f) => [f.id.replace(/ <cert#\d+>$/, ''), f]));
      t.diagnostic(`${name}: ${['TLS1_2', 'TLS1_3', 'secure_client_renego', 'LUCKY13', 'ROBOT', 'cert_validityPeriod', 'cert_chain_of_trust']
        .map((id) => `${id}=${byId.get(id)?.finding ?? '?'}`).join('; ')}`);
      // the scan really ran: protocols, server defaults and the vulnerability section are all there
      for (const id of ['TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'cert_validityPeriod', 'secure_client_renego', 'LUCKY13', 'heartbleed']) {
        if (!byId.has(id)) failures.push(`${name}: testssl reported no ${id}\n${r.output.slice(-3000)}`);
      }
      for (const p of problems(r.findings)) failures.push(`${name}: ${p}`);
      // the policy itself, said positively (TLS_POLICY in src/tls/tls.ts)
      const is = (id: string, re: RegExp) => {
        const f = byId.get(id);
        if (f && !re.test(f.finding)) failures.push(`${name}: ${id} is "${f.finding}", expected ${re}`);
      };
      is('TLS1', /^not offered/);
      is('TLS1_1', /^not offered/);
      is('TLS1_2', /^offered/);
      is('TLS1_3', /^offered/);
      is('secure_client_renego', /^(likely )?not vulnerable/);
      is('LUCKY13', /^not vulnerable/);
      is('ROBOT', /not vulnerable, no RSA key transport cipher/);
    }
    if (failures.length) assert.fail(`testssl.sh findings:\n${failures.join('\n')}`);
  });
