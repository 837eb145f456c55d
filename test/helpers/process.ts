// A postoffice as a separate process (`postoffice serve`), for crash and restart tests.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import type { TestContext } from 'node:test';
import { hashPassword } from '../../src/auth/password.js';
import { SqliteStore } from '../../src/store/index.js';
import { ROOT } from './lab.js';

/** A fresh data dir (removed after the test) with example.test and the given users, for `serve` processes. */
export async function seedDataDir(t: TestContext, prefix: string, users: Record<string, string>): Promise<string> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `postoffice-${prefix}-`));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const store = new SqliteStore({ dataDir });
  await store.domains.add('example.test');
  for (const [address, pw] of Object.entries(users)) await store.users.add(address, await hashPassword(pw));
  await store.close();
  return dataDir;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface ServeProcess { child: ChildProcess; ports: Record<string, number>; output: () => string; stop(signal?: NodeJS.Signals): Promise<number | null> }

/** Start `postoffice serve` with the given data dir; SMTP listeners on free ports, others disabled unless asked. */
export async function startServe(dataDir: string, env: Record<string, string> = {}, ports?: Record<string, number>): Promise<ServeProcess> {
  const p = ports ?? { smtp: await freePort(), smtps: await freePort(), submission: await freePort() };
  const portEnv: Record<string, string> = {
    POSTOFFICE_SMTP_PORT: String(p.smtp ?? 0), POSTOFFICE_SMTPS_PORT: String(p.smtps ?? 0), POSTOFFICE_SUBMISSION_PORT: String(p.submission ?? 0),
    POSTOFFICE_IMAP_PORT: String(p.imap ?? 0), POSTOFFICE_IMAPS_PORT: String(p.imaps ?? 0), POSTOFFICE_POP3_PORT: String(p.pop3 ?? 0),
    POSTOFFICE_POP3S_PORT: String(p.pop3s ?? 0), POSTOFFICE_HTTP_PORT: String(p.http ?? 0),
  };
  let out = '';
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, POSTOFFICE_DATA_DIR: dataDir, POSTOFFICE_LOG_LEVEL: 'warn', POSTOFFICE_DNS_SERVERS: '127.0.0.1:9', POSTOFFICE_INBOUND_AUTH: 'false', ...portEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    // every listener asked for is up (they open one after another)
    const ready = Promise.all(Object.values(p).filter((n) => n > 0).map((n) => waitForPort(n)));
    await Promise.race([ready, exited.then((c) => { throw new Error(`serve exited early (${c}): ${out}`); })]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child, ports: p, output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
