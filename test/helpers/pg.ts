// A private PostgreSQL cluster for the tests: Debian's initdb + pg_ctl in a temp dir, run as an
// unprivileged user (the server refuses root), listening on 127.0.0.1 only, its unix socket in the
// temp dir. One cluster per test process (a test file), started by the first test that asks and
// stopped when the process ends; every test gets a database of its own (CREATE DATABASE).
// initdb + start + stop cost about 1.5 s per file. POSTOFFICE_TEST_PG_URL (a superuser's
// postgres://... URL) uses that server instead.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';

/** where Debian puts the server binaries (the newest version installed) */
export function pgBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : null;
}

/** why the PostgreSQL tests cannot run here (null: they can) */
export function pgUnavailable(): string | null {
  if (process.env.POSTOFFICE_TEST_PG_URL) return null;
  return pgBinDir() ? null : 'PostgreSQL server binaries not installed (apt-get install postgresql)';
}

interface Cluster { url: string; stop: () => void; restart: () => void }

/** a loopback port nobody listens on (lab.ts imports this file: no import of process.ts, which imports lab.ts) */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

let cluster: Promise<Cluster> | null = null;
let databases = 0;

async function start(): Promise<Cluster> {
  const given = process.env.POSTOFFICE_TEST_PG_URL;
  if (given) return { url: given, stop: () => {}, restart: () => { throw new Error('POSTOFFICE_TEST_PG_URL: not our server to restart'); } };
  const bin = pgBinDir();
  if (!bin) throw new Error(pgUnavailable() ?? 'no PostgreSQL');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  writeFileSync(log, '');
  // the server will not run as root: as root, hand the temp dir to "nobody" and run as it
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(log, uid, gid);
    chmodSync(dir, 0o700);
  }
  const run = (cmd: string, args: string[]) => asRoot
    ? execFileSync('runuser', ['-u', 'nobody', '--', path.join(bin, cmd), ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
    : execFileSync(path.join(bin, cmd), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  const port = await freePort();
  // fsync stays on (durability is what the store promises); a small server
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=200 -c shared_buffers=32MB`;
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', opts, 'start']);
  } catch (err) {
    const e = err as { stderr?: Buffer };
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`private PostgreSQL cluster did not start: ${e.stderr?.toString().trim() ?? (err as Error).message}`, { cause: err });
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  };
  // a test process that ends in any way (even --test-force-exit) takes its cluster with it
  process.once('exit', stop);
  // every connection is cut (as when the server or its host restarts); the data stays
  const restart = () => {
    run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', opts, 'start']);
  };
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop, restart };
}

/** The superuser URL of this process's cluster (started on first use). */
export async function pgCluster(): Promise<string> {
  cluster ??= start();
  return (await cluster).url;
}

/** A fresh, empty database for one test; returns its URL. */
export async function pgDatabase(_t: TestContext | null, prefix = 'po'): Promise<string> {
  const admin = new URL(await pgCluster());
  const name = `${prefix}_${process.pid}_${++databases}_${Date.now().toString(36)}`.toLowerCase();
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin.toString());
  url.pathname = '/' + name;
  // not dropped after the test: the test's stores may still be closing then, and the cluster (with
  // every database) goes when the process ends
  return url.toString();
}

/** Restarts this process's cluster (immediate stop: every connection is cut, as in a crash). */
export async function restartPgCluster(): Promise<void> {
  if (!cluster) throw new Error('no cluster started');
  (await cluster).restart();
}

/** Stops this process's cluster now (otherwise it stops when the process exits). */
export async function stopPgCluster(): Promise<void> {
  if (!cluster) return;
  const c = await cluster;
  cluster = null;
  c.stop();
}
