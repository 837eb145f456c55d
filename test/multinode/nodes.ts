// Several postoffice nodes on one PostgreSQL database, for the multi-node tests: each node is a
// real `postoffice serve` process bound to its own loopback address (127.0.0.2, 127.0.0.3, ...)
// with its own data dir (certificates, DKIM keys) and POSTOFFICE_STORE_URL pointing at a fresh
// database of the private test cluster (test/helpers/pg.ts). Processes, so that one can be
// killed with SIGKILL in the middle of its work.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { hashPassword } from '../../src/auth/password.js';
import { openToolStore, type Store } from '../../src/store/index.js';
import { pgDatabase } from '../helpers/pg.js';

/** the checkout (this file runs as dist/test/multinode/nodes.js) */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
export type Listener = 'smtp' | 'smtps' | 'submission' | 'imap' | 'imaps' | 'pop3' | 'pop3s' | 'http';
const ENV: Record<Listener, string> = {
  smtp: 'POSTOFFICE_SMTP_PORT', smtps: 'POSTOFFICE_SMTPS_PORT', submission: 'POSTOFFICE_SUBMISSION_PORT', imap: 'POSTOFFICE_IMAP_PORT',
  imaps: 'POSTOFFICE_IMAPS_PORT', pop3: 'POSTOFFICE_POP3_PORT', pop3s: 'POSTOFFICE_POP3S_PORT', http: 'POSTOFFICE_HTTP_PORT',
};

export interface PgNode {
  name: string;
  host: string;
  ports: Partial<Record<Listener, number>>;
  child: ChildProcess;
  output(): string;
  /** SIGTERM (graceful) by default; resolves when the process is gone */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A fresh database with the domain and users, and a store on it for the test's own checks (closed after the test). */
export async function sharedDatabase(t: TestContext, users: Record<string, string>, domain = 'example.test'): Promise<{ url: string; store: Store }> {
  const url = await pgDatabase(t, 'multinode');
  const store = await openToolStore('', { storeUrl: url });
  t.after(() => store.close());
  await store.domains.add(domain);
  for (const [address, pw] of Object.entries(users)) await store.users.add(address, await hashPassword(pw));
  return { url, store };
}

export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Starts `postoffice serve` as node `name` on `host` over the database `url`, with the given
 * listeners on free ports (the others off). Stopped (SIGKILL if still running) after the test.
 */
export async function startNode(t: TestContext, opts: { name: string; host: string; url: string; listeners?: Listener[]; env?: Record<string, string> }): Promise<PgNode> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `postoffice-node-${opts.name}-`));
  const ports: Partial<Record<Listener, number>> = {};
  const portEnv: Record<string, string> = {};
  for (const l of Object.keys(ENV) as Listener[]) {
    ports[l] = opts.listeners?.includes(l) ? await freePort(opts.host) : 0;
    portEnv[ENV[l]] = String(ports[l]);
  }
  let out = '';
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH, POSTOFFICE_DATA_DIR: dataDir, POSTOFFICE_STORE_URL: opts.url, POSTOFFICE_LISTEN: opts.host, POSTOFFICE_NODE_ID: opts.name,
      POSTOFFICE_HOSTNAME: `${opts.name}.mx.example.test`, POSTOFFICE_DOMAINS: 'example.test', POSTOFFICE_LOG_LEVEL: 'warn',
      POSTOFFICE_DNS_SERVERS: '127.0.0.1:9', POSTOFFICE_INBOUND_AUTH: 'false', POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true',
      ...portEnv, ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => { if (out.length < 1e6) out += d; });
  child.stderr!.on('data', (d: Buffer) => { if (out.length < 1e6) out += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const node: PgNode = {
    name: opts.name, host: opts.host, ports, child, output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  t.after(async () => {
    await node.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  try {
    // ready once it printed its start-up lines (written after every listener is up)
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => { if (out.includes('add a user')) { clearInterval(timer); resolve(); } }, 50);
      void exited.then(() => { clearInterval(timer); reject(new Error(`serve ${opts.name} exited early:\n${out}`)); });
    });
  } catch (err) {
    await node.stop('SIGKILL');
    throw err;
  }
  return node;
}

/** One message a sink accepted: who sent it (the relaying node's address), when, and the bytes. */
export interface Sunk { from: string; rcpts: string[]; raw: Buffer; at: number; remote: string; messageId: string }

/** A remote MX on 127.0.0.1 (smtp-server) that keeps what it is given; `delayMs` before each 250. */
export async function startSink(t: TestContext, opts: { delayMs?: number } = {}): Promise<{ port: number; received: Sunk[]; delayMs: number }> {
  const sink = { port: 0, received: [] as Sunk[], delayMs: opts.delayMs ?? 0 };
  const server = new SMTPServer({
    disabledCommands: ['AUTH', 'STARTTLS'], authOptional: true, logger: false, banner: 'sink',
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => setTimeout(() => {
        const raw = Buffer.concat(chunks);
        sink.received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcpts: session.envelope.rcptTo.map((r) => r.address), raw, at: Date.now(),
          remote: session.remoteAddress, messageId: /^Message-ID:\s*(\S+)/im.exec(raw.toString('latin1'))?.[1] ?? '',
        });
        cb(null, 'sunk');
      }, sink.delayMs));
    },
  });
  server.on('error', () => { /* a relaying node killed mid-session */ });
  sink.port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.server.address() as net.AddressInfo).port)));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return sink;
}

export async function waitUntil<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
