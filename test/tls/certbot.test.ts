// Certificates from certbot when postoffice runs as uid 10025 (the Docker image's user): certbot's
// live/NAME/*.pem are relative links into archive/NAME/, which is 0700 root. The server, started as
// uid 10025 like the image does, refuses to start with one line naming the fix; after the fix the
// README gives (group 10025 may read live/ and archive/) it serves the certificate, and picks up a
// certbot-style renewal (new archive files, links moved) without a restart. Mounting live/ alone
// (links dangling) names the other half of the fix: mount all of /etc/letsencrypt.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { silentLogger } from '../../src/log/log.js';
import { makeSelfSigned, TlsManager } from '../../src/tls/tls.js';
import { ROOT } from '../helpers/lab.js';

const UID = 10025;
const NAME = 'mail.certbot.test';
const isRoot = process.getuid?.() === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

/** What certbot leaves in /etc/letsencrypt after issuing (n = 1) or renewing (n = 2, ...). */
async function certbotIssue(le: string, n: number): Promise<string> {
  const archive = path.join(le, 'archive', NAME);
  const live = path.join(le, 'live', NAME);
  mkdirSync(archive, { recursive: true, mode: 0o700 });
  mkdirSync(live, { recursive: true, mode: 0o700 });
  chmodSync(path.join(le, 'archive'), 0o700);
  chmodSync(path.join(le, 'live'), 0o700);
  const m = await makeSelfSigned(NAME);
  writeFileSync(path.join(archive, `cert${n}.pem`), m.cert, { mode: 0o644 });
  writeFileSync(path.join(archive, `chain${n}.pem`), '', { mode: 0o644 });
  writeFileSync(path.join(archive, `fullchain${n}.pem`), m.cert, { mode: 0o644 });
  writeFileSync(path.join(archive, `privkey${n}.pem`), m.key, { mode: 0o600 });
  for (const f of ['cert', 'chain', 'fullchain', 'privkey']) {
    // certbot's relative links, replaced atomically on renewal
    const tmp = path.join(live, `.${f}.tmp`);
    symlinkSync(`../../archive/${NAME}/${f}${n}.pem`, tmp);
    renameSync(tmp, path.join(live, `${f}.pem`));
  }
  return new X509Certificate(m.cert).fingerprint256;
}

/** The README's fix, run on the host once (and as certbot's deploy hook after each renewal). */
function grantGroup(le: string, gid: number): void {
  for (const dir of ['live', 'archive'].flatMap((top) => [path.join(le, top), path.join(le, top, NAME)])) {
    chownSync(dir, 0, gid);
    chmodSync(dir, 0o750);
  }
  // files in archive/ (the links in live/ need nothing)
  for (const f of ['cert', 'chain', 'fullchain', 'privkey']) {
    for (let n = 1; n <= 9; n++) {
      const p = path.join(le, 'archive', NAME, `${f}${n}.pem`);
      try { chownSync(p, 0, gid); chmodSync(p, f === 'privkey' ? 0o640 : 0o644); } catch { /* not issued */ }
    }
  }
}

interface Server { proc: ChildProcess; output: () => string; exited: Promise<number | null> }

/** `postoffice serve` as uid 10025, POP3S only, with the certificate from le/live/NAME. */
async function serveAsUser(t: TestContext, le: string, port: number): Promise<Server> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'postoffice-certbot-data-'));
  chownSync(data, UID, UID);
  t.after(() => rmSync(data, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, POSTOFFICE_DATA_DIR: data, POSTOFFICE_HOSTNAME: NAME, POSTOFFICE_DOMAINS: 'certbot.test',
    POSTOFFICE_LISTEN: '127.0.0.1', POSTOFFICE_LOG_LEVEL: 'info', POSTOFFICE_DNS_SERVERS: '127.0.0.1:9', POSTOFFICE_INBOUND_AUTH: 'false',
    POSTOFFICE_TLS_CERT: path.join(le, 'live', NAME, 'fullchain.pem'), POSTOFFICE_TLS_KEY: path.join(le, 'live', NAME, 'privkey.pem'),
  };
  for (const p of ['SMTP', 'SMTPS', 'SUBMISSION', 'IMAP', 'IMAPS', 'POP3', 'HTTP']) env[`POSTOFFICE_${p}_PORT`] = '0';
  env.POSTOFFICE_POP3S_PORT = String(port);
  let out = '';
  const proc = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'serve'], { env, uid: UID, gid: UID, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  t.after(() => { if (proc.exitCode === null) proc.kill('SIGTERM'); });
  return { proc, output: () => out, exited };
}

function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => { const f = s.getPeerX509Certificate()!.fingerprint256; s.destroy(); resolve(f); });
    s.once('error', reject);
  });
}

async function eventually<T>(what: string, f: () => Promise<T | undefined>, server: Server): Promise<T> {
  for (let i = 0; i < 300; i++) {
    try { const v = await f(); if (v !== undefined) return v; } catch { /* not yet */ }
    if (server.proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; server output:\n${server.output()}`);
}

test('certbot layout, server as uid 10025: a clear refusal, then with group access it serves and follows renewals', { skip: isRoot ? false : 'needs root (to make a root-only archive/ and run the server as uid 10025)' }, async (t) => {
  const le = mkdtempSync(path.join(os.tmpdir(), 'letsencrypt-'));
  t.after(() => rmSync(le, { recursive: true, force: true }));
  chmodSync(le, 0o755);
  const first = await certbotIssue(le, 1);

  // as certbot leaves it: uid 10025 cannot follow the links into archive/
  const port = await freePort();
  const refused = await serveAsUser(t, le, port);
  assert.equal(await refused.exited, 1, refused.output());
  assert.match(refused.output(), /uid 10025 \(gid 10025\) may not read .*: certbot keeps live\/ and archive\/ for root only; once on the host: chgrp -R 10025 \/tmp\/letsencrypt-\w+\/live \/tmp\/letsencrypt-\w+\/archive && chmod -R g\+rX/);

  // the documented fix; the server starts and serves certbot's certificate
  grantGroup(le, UID);
  const server = await serveAsUser(t, le, port);
  assert.equal(await eventually('the certificate', async () => presented(port), server), first);

  // certbot renews: new archive files (the key 0600 root again), links moved, then its deploy hook
  const second = await certbotIssue(le, 2);
  grantGroup(le, UID);
  assert.notEqual(second, first);
  assert.equal(await eventually('the renewed certificate', async () => ((await presented(port)) === second ? second : undefined), server), second);
  assert.match(server.output(), /TLS certificate reloaded/);
});

test('certbot layout with only live/ mounted: the dangling link is named with the fix', async (t) => {
  const le = mkdtempSync(path.join(os.tmpdir(), 'letsencrypt-'));
  await certbotIssue(le, 1);
  const mounted = mkdtempSync(path.join(os.tmpdir(), 'certs-'));
  t.after(() => { for (const d of [le, mounted]) rmSync(d, { recursive: true, force: true }); });
  // what `-v /etc/letsencrypt/live/NAME:/certs` shows inside the container
  cpSync(path.join(le, 'live', NAME), mounted, { recursive: true, verbatimSymlinks: true });
  await assert.rejects(
    TlsManager.create({ dataDir: mounted, hostname: NAME, cert: path.join(mounted, 'fullchain.pem'), key: path.join(mounted, 'privkey.pem'), log: silentLogger }),
    (err: Error) => {
      assert.match(err.message, /fullchain\.pem links to \.\.\/\.\.\/archive\/mail\.certbot\.test\/fullchain1\.pem, which is not there: certbot's live\/ files link into archive\/, so mount all of \/etc\/letsencrypt at the same path/);
      return true;
    });
});
