// The image for real (npm run test:docker; skipped in npm test): podman builds the Dockerfile
// (FROM node:20-slim, a local stand-in made by ../shared/tools/docker/build-base.sh when missing),
// podman-compose starts docker-compose.yml as a user would (the standard ports on this host, no
// password given), then from the host: the generated password is in the log, the container turns
// healthy, the tutorial mail goes in through 465 and comes out through 993 and 995 (Python's
// smtplib, imaplib, poplib), the documented `user passwd` works, the mail, the account and the
// password survive `down` and `up` (the named volume), and a volume whose first user still has the
// old example password `change-me` gets a generated one on the next start.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/lab.js';

const ENABLED = process.env.POSTOFFICE_TEST_DOCKER === '1';
const PROJECT = 'postoffice-dockertest';
const CONTAINER = `${PROJECT}_postoffice_1`; // podman-compose's name: project_service_index
const VOLUME = `${PROJECT}_postoffice-data`;
const IMAGE = 'postoffice:latest'; // docker-compose.yml's image:
const PORTS = [25, 465, 587, 110, 995, 143, 993, 8080];
const LAB = process.env.DOCKER_LAB_DIR ?? '/var/tmp/docker-lab';
const BUILD_BASE = process.env.DOCKER_BUILD_BASE ?? path.resolve(ROOT, '..', 'shared', 'tools', 'docker', 'build-base.sh');

const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? path.join(LAB, 'containers.conf') };
delete env.POSTOFFICE_ADMIN_PASSWORD; // as a user who did not set one

interface Run { code: number; out: string; err: string }

/** a command to its end; stdout and stderr kept (the last 64 KiB of each) */
function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; extraEnv?: NodeJS.ProcessEnv; unset?: string[] } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv = { ...env, ...opts.extraEnv };
    for (const k of opts.unset ?? []) delete childEnv[k];
    const child = spawn(cmd, args, { cwd: ROOT, env: childEnv, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    const keep = (s: string, d: Buffer) => (s + d.toString('utf8')).slice(-65536);
    child.stdout!.on('data', (d: Buffer) => { out = keep(out, d); });
    child.stderr!.on('data', (d: Buffer) => { err = keep(err, d); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => { err += String(e); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code: code ?? (signal ? 128 : 1), out, err }); });
    if (opts.input !== undefined) child.stdin!.on('error', () => { /* the command may not read it all */ }).end(opts.input);
  });
}

async function must(cmd: string, args: string[], opts?: Parameters<typeof sh>[2]): Promise<string> {
  const r = await sh(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}\n${r.err.slice(-3000)}\n${r.out.slice(-3000)}`);
  return r.out;
}

const compose = (...args: string[]) => must('podman-compose', ['-p', PROJECT, '-f', 'docker-compose.yml', ...args], { timeoutMs: 300_000 });
const logs = async () => { const r = await sh('podman', ['logs', CONTAINER]); return r.out + r.err; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    if ((last = await fn()) !== undefined) return last;
    await sleep(500);
  }
  assert.fail(`timed out waiting for ${what}\n--- container log ---\n${(await logs()).slice(-4000)}`);
}

/** podman runs HEALTHCHECKs from systemd timers; without systemd (CI, this VM) run them as the timer would */
async function healthy(): Promise<string> {
  return until('the container to be healthy', 90_000, async () => {
    const r = await sh('podman', ['healthcheck', 'run', CONTAINER]);
    const status = (await must('podman', ['inspect', '--format', '{{.State.Health.Status}}', CONTAINER])).trim();
    return r.code === 0 && status === 'healthy' ? status : undefined;
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(false)).listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

// the mail client of the README's tutorial, from the host through the published ports
const PY = String.raw`
import imaplib, json, poplib, smtplib, ssl, sys
from email.message import EmailMessage
from email import message_from_bytes
from email.header import decode_header, make_header
op, user, pw = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl._create_unverified_context()   # the self-signed certificate of a first start
out = {}
if op == 'send':
    m = EmailMessage()
    m['From'] = user; m['To'] = user; m['Subject'] = '你好'
    m['Message-ID'] = '<tutorial-docker@example.test>'
    m.set_content('My first mail through my own post office.')
    with smtplib.SMTP_SSL('127.0.0.1', 465, context=ctx, timeout=30) as s:
        s.login(user, pw)
        out['refused'] = s.send_message(m)
elif op == 'read':
    i = imaplib.IMAP4_SSL('127.0.0.1', 993, ssl_context=ctx, timeout=30)
    i.login(user, pw)
    i.select('INBOX', readonly=True)
    typ, ids = i.search(None, 'HEADER', 'Message-ID', 'tutorial-docker@example.test')
    ids = ids[0].split()
    out['imap'] = {'count': len(ids)}
    if ids:
        typ, data = i.fetch(ids[-1], '(BODY.PEEK[])')
        msg = message_from_bytes(data[0][1])
        out['imap'].update(subject=str(make_header(decode_header(msg['Subject']))), body=msg.get_payload(decode=True).decode().strip())
    i.logout()
    p = poplib.POP3_SSL('127.0.0.1', 995, context=ctx, timeout=30)
    p.user(user); p.pass_(pw)
    n = p.stat()[0]
    msgs = [message_from_bytes(b'\r\n'.join(p.retr(k)[1])) for k in range(1, n + 1)]
    mine = [m for m in msgs if m['Message-ID'] == '<tutorial-docker@example.test>']
    out['pop3'] = {'count': len(mine), 'subject': str(make_header(decode_header(mine[0]['Subject']))) if mine else None}
    p.quit()
elif op == 'login':
    try:
        i = imaplib.IMAP4_SSL('127.0.0.1', 993, ssl_context=ctx, timeout=30)
        i.login(user, pw); i.logout(); out['imap'] = 'OK'
    except imaplib.IMAP4.error as e:
        out['imap'] = 'NO ' + str(e)
print(json.dumps(out, ensure_ascii=False))
`;

// the dashboard sign-in, from inside the container (plain HTTP takes passwords on loopback only)
const SIGN_IN = String.raw`
const [address, password] = process.argv.slice(-2);
const base = 'http://127.0.0.1:8080';
const cookies = (r) => r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
const form = await fetch(base + '/login');
const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())[1];
const login = await fetch(base + '/login', { method: 'POST', redirect: 'manual',
  headers: { cookie: cookies(form), origin: base, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ _csrf: csrf, address, password }) });
const overview = await fetch(base + '/', { redirect: 'manual', headers: { cookie: cookies(login) } });
console.log(JSON.stringify({ login: login.status, location: login.headers.get('location'), overview: overview.status }));
`;

async function py(op: 'send' | 'read' | 'login', user: string, pw: string): Promise<Record<string, unknown>> {
  return JSON.parse(await must('python3', ['-c', PY, op, user, pw], { timeoutMs: 90_000 })) as Record<string, unknown>;
}

async function cleanUp(): Promise<void> {
  await sh('podman-compose', ['-p', PROJECT, '-f', 'docker-compose.yml', 'down'], { timeoutMs: 120_000 });
  await sh('podman', ['rm', '-f', CONTAINER]);
  await sh('podman', ['volume', 'rm', '-f', VOLUME]);
  await sh('podman', ['network', 'rm', '-f', `${PROJECT}_default`]);
}

test('docker compose up: generated password in the log, healthy, the tutorial mail through 465 -> 993/995, kept across down/up', { skip: !ENABLED && 'run by `npm run test:docker` (podman, podman-compose, root)', timeout: 1_800_000 }, async (t) => {
  const timings: string[] = [];
  const lap = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const v = await fn();
    timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    return v;
  };
  t.after(() => t.diagnostic(`timings: ${timings.join(', ')}`));

  for (const tool of ['podman', 'podman-compose', 'python3']) {
    assert.equal((await sh('sh', ['-c', `command -v ${tool}`])).code, 0, `${tool} is not installed (apt-get install podman podman-compose)`);
  }

  // 1. the base image (a stand-in for node:20-slim; nothing can be pulled here)
  if ((await sh('podman', ['image', 'exists', 'node:20-slim'])).code !== 0 || !existsSync(env.CONTAINERS_CONF!)) {
    assert.ok(existsSync(BUILD_BASE), `no node:20-slim image and no ${BUILD_BASE} to build one`);
    // it writes LAB/containers.conf itself (podman fails on a CONTAINERS_CONF that is not there yet)
    await lap('base image', () => must(BUILD_BASE, [LAB], { timeoutMs: 900_000, extraEnv: { REUSE_ROOTFS: '1' }, unset: ['CONTAINERS_CONF'] }));
  }

  // 2. the image, as the README says (docker format: OCI images drop HEALTHCHECK)
  await lap('image build', () => must('podman', ['build', '--format', 'docker', '--network=host', '-t', IMAGE, '.'], { timeoutMs: 1_200_000 }));
  const history = JSON.parse(await must('podman', ['history', '--format', 'json', IMAGE])) as { size: number; CreatedBy?: string; createdBy?: string; comment?: string }[];
  const base = history.at(-1)!;
  const layers = history.slice(0, -1).filter((h) => h.size > 0);
  t.diagnostic(`layers over the base (${(base.size / 1e6).toFixed(0)} MB): ${layers.map((h) => `${(h.size / 1e6).toFixed(2)} MB ${(h.CreatedBy ?? h.createdBy ?? '').replace(/\s+/g, ' ').slice(0, 60)}`).join('; ')}`);
  for (const h of layers) assert.ok(h.size < 90e6, `a ${(h.size / 1e6).toFixed(0)} MB layer (a copy of the node binary?): ${h.CreatedBy ?? h.createdBy}`);
  const inspect = JSON.parse(await must('podman', ['image', 'inspect', IMAGE]))[0];
  assert.ok((inspect.Healthcheck ?? inspect.Config?.Healthcheck)?.Test?.join(' ').includes('healthcheck.mjs'), 'the image has its HEALTHCHECK');

  // 3. up, as a user would: the standard ports of this host
  await cleanUp();
  const busy = (await Promise.all(PORTS.map(async (p) => ((await portFree(p)) ? null : p)))).filter((p) => p !== null);
  assert.deepEqual(busy, [], `host ports ${busy.join(', ')} are in use: docker-compose.yml publishes ${PORTS.join(', ')}`);
  t.after(cleanUp);
  await lap('first up', () => compose('up', '-d'));

  const password = await lap('password in the log', () => until('the generated password in the log', 60_000, async () => /generated password: (\S+)/.exec(await logs())?.[1]));
  assert.match(password, /^[A-Za-z0-9_-]{24}$/);
  const log1 = await logs();
  assert.match(log1, /POSTOFFICE_ADMIN_PASSWORD is not set, so admin@example\.test got a generated password/);
  assert.match(log1, /user passwd admin@example\.test --password-stdin/);
  assert.equal(log1.split(password).length - 1, 1, 'the password appears once in the log');

  assert.equal(await lap('healthy', healthy), 'healthy');
  const ps = await must('podman', ['ps', '--filter', `name=${CONTAINER}`, '--format', '{{.Status}}']);
  assert.match(ps, /\(healthy\)/);

  // the server: uid 10025, no capability but binding ports below 1024
  const top = await must('podman', ['top', CONTAINER, 'user', 'capeff', 'args']);
  const server = top.split('\n').find((l) => l.includes('cli/main.js serve'));
  assert.ok(server, top);
  assert.match(server, /^postoffice\s+NET_BIND_SERVICE\s/, top);

  // 4. the tutorial mail in through 465, out through 993 and 995; the example password is no way in
  assert.deepEqual(await lap('send 465', () => py('send', 'admin@example.test', password)), { refused: {} });
  const want = { imap: { count: 1, subject: '你好', body: 'My first mail through my own post office.' }, pop3: { count: 1, subject: '你好' } };
  assert.deepEqual(await lap('read 993+995', () => until('the mail in INBOX', 30_000, async () => {
    const r = await py('read', 'admin@example.test', password);
    return (r.imap as { count: number }).count >= 1 ? r : undefined;
  })), want);
  assert.match(String((await py('login', 'admin@example.test', 'change-me')).imap), /^NO .*AUTHENTICATIONFAILED/);

  // the account is a dashboard admin; its password changes as the log says (exec, stdin)
  const signIn = JSON.parse(await must('podman', ['exec', CONTAINER, 'node', '--input-type=module', '-e', SIGN_IN, 'admin@example.test', password]));
  assert.deepEqual(signIn, { login: 303, location: '/', overview: 200 }, 'signed in to the dashboard as an admin');
  assert.match(await compose('exec', '-T', 'postoffice', 'postoffice', 'user', 'list'), /^admin@example\.test\s+1 message\(s\).*admin$/m);
  const second = 'a new password, chosen';
  const changed = await must('podman-compose', ['-p', PROJECT, '-f', 'docker-compose.yml', 'exec', '-T', 'postoffice', 'postoffice', 'user', 'passwd', 'admin@example.test', '--password-stdin'], { input: `${second}\n` });
  assert.match(changed, /password changed for admin@example\.test/);
  assert.match(String((await py('login', 'admin@example.test', password)).imap), /^NO /);
  assert.equal((await py('login', 'admin@example.test', second)).imap, 'OK');

  // 5. down and up: the named volume keeps the mail, the account and its password; no new password
  await lap('down', () => compose('down'));
  assert.notEqual((await sh('podman', ['container', 'exists', CONTAINER])).code, 0, 'down removed the container');
  await lap('second up', () => compose('up', '-d'));
  assert.equal(await lap('healthy again', healthy), 'healthy');
  assert.doesNotMatch(await logs(), /generated password/);
  assert.deepEqual(await py('read', 'admin@example.test', second), want);

  // 6. a volume made with the earlier docker-compose.yml (`POSTOFFICE_ADMIN_PASSWORD: change-me`):
  // the next start replaces that password and says so once
  await must('podman-compose', ['-p', PROJECT, '-f', 'docker-compose.yml', 'exec', '-T', 'postoffice', 'postoffice', 'user', 'passwd', 'admin@example.test', '--password-stdin'], { input: 'change-me\n' });
  await compose('down');
  await compose('up', '-d');
  const third = await until('the replaced password in the log', 60_000, async () => /generated password: (\S+)/.exec(await logs())?.[1]);
  assert.match(await logs(), /admin@example\.test still had the example password change-me of an earlier docker-compose\.yml/);
  await healthy();
  assert.match(String((await py('login', 'admin@example.test', 'change-me')).imap), /^NO /);
  assert.deepEqual(await py('read', 'admin@example.test', third), want);
});
