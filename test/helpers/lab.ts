// The lab for tests: a real postoffice on 127.0.0.1 with ephemeral ports, a fresh data dir
// and real SQLite; real sockets, real clients. Nothing is mocked.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/auth/password.js';
import { loadConfig, type Config, type Ports } from '../../src/config/config.js';
import { silentLogger, type Logger } from '../../src/log/log.js';
import { startPostoffice, type Postoffice, type StartOptions } from '../../src/postoffice.js';
import { pgDatabase } from './pg.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function fixture(name: string): Buffer {
  return readFileSync(path.join(ROOT, 'test', 'fixtures', name));
}

export interface Lab {
  po: Postoffice;
  config: Config;
  dataDir: string;
  port(name: keyof Ports): number;
  /** connect to a listener; TLS for the implicit-TLS ones (self-signed: not verified) */
  connect(name: keyof Ports): Promise<net.Socket>;
  /** deliver raw bytes to a local address straight through the store (as the MDA does) */
  deliver(to: string, raw: Buffer): Promise<{ msgId: string; uid: number }>;
  close(): Promise<void>;
}

let deliveries = 0;

export interface LabOptions {
  users?: Record<string, string>;
  env?: Record<string, string>;
  dataDir?: string;
  /** more start options (ephemeral ports are always on), e.g. a short-lived self-signed certificate */
  start?: Omit<StartOptions, 'ephemeralPorts'>;
  /** where the post office logs (silent by default) */
  log?: Logger;
}

export function labEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    POSTOFFICE_DATA_DIR: dataDir,
    POSTOFFICE_LOG_LEVEL: 'silent',
    POSTOFFICE_LISTEN: '127.0.0.1',
    // tests never ask a resolver off this machine: DNS goes to loopback (tests that need answers run
    // a dns2 server and set their own), and port-25 SPF/DKIM/DMARC checks are on only where a test asks
    POSTOFFICE_DNS_SERVERS: '127.0.0.1:9',
    POSTOFFICE_INBOUND_AUTH: 'false',
    ...extra,
  };
}

export async function startLab(t: TestContext | null, opts: LabOptions = {}): Promise<Lab> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'postoffice-test-'));
  // POSTOFFICE_TEST_STORE=postgres: every lab on a fresh database of the private PostgreSQL cluster (test/helpers/pg.ts)
  const env = process.env.POSTOFFICE_TEST_STORE === 'postgres' && !opts.env?.POSTOFFICE_STORE_URL
    ? { ...opts.env, POSTOFFICE_STORE_URL: await pgDatabase(t) }
    : opts.env;
  const config = loadConfig(labEnv(dataDir, env));
  const po = await startPostoffice(config, opts.log ?? silentLogger, { ...opts.start, ephemeralPorts: true });
  for (const [address, pw] of Object.entries(opts.users ?? {})) {
    if (!(await po.store.users.get(address))) await po.store.users.add(address, await hashPassword(pw));
  }
  const lab: Lab = {
    po, config, dataDir,
    port: (name) => po.port(name),
    connect: (name) => new Promise((resolve, reject) => {
      const port = po.port(name);
      const s = name === 'smtps' || name === 'imaps' || name === 'pop3s'
        ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s))
        : net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    }),
    deliver: async (to, raw) => {
      const r = await po.store.users.resolve(to);
      if (r.kind !== 'local') throw new Error(`${to} is not a local user`);
      const msgId = `lab.${++deliveries}`;
      const res = await po.store.deliver({
        msgId, mailFrom: 'lab@example.test', raw, remote: [], journey: [],
        local: r.users.map((u) => ({ userId: u.userId, address: u.address, rcptTo: to })),
      });
      return { msgId, uid: res.stored[0].uid };
    },
    close: async () => {
      await po.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  t?.after(() => lab.close());
  return lab;
}

/**
 * Run a transcript against a socket: "C: line" is sent, "S: line" must match the next
 * server line exactly, "..." matches the rest of a line. Returns every server line read.
 */
export async function transcript(sock: net.Socket, script: string): Promise<string[]> {
  const reader = lineReader(sock);
  const seen: string[] = [];
  for (const raw of script.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const kind = raw.slice(0, 2);
    const text = raw.slice(3);
    if (kind === 'C:') sock.write(text + '\r\n');
    else if (kind === 'S:') {
      const line = await reader.next();
      seen.push(line);
      const ok = text.endsWith('...') ? line.startsWith(text.slice(0, -3)) : line === text;
      if (!ok) throw new Error(`transcript: expected ${JSON.stringify(text)}, got ${JSON.stringify(line)}\nso far:\n${seen.join('\n')}`);
    } else throw new Error(`transcript: bad line ${raw}`);
  }
  return seen;
}

/** Read CRLF lines from a socket, one at a time (bounded wait). */
export function lineReader(sock: net.Socket, timeoutMs = 10_000) {
  let buf = '';
  const lines: string[] = [];
  const waiters: ((l: string | null) => void)[] = [];
  let closed = false;
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  sock.on('close', () => { closed = true; for (const w of waiters.splice(0)) w(null); });
  return {
    next(): Promise<string> {
      const l = lines.shift();
      if (l !== undefined) return Promise.resolve(l);
      if (closed) return Promise.reject(new Error('connection closed'));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for a server line')), timeoutMs);
        waiters.push((line) => { clearTimeout(timer); line === null ? reject(new Error('connection closed')) : resolve(line); });
      });
    },
  };
}
