// `postoffice lab`: a little internet on one machine. Two post offices, 163.test on 127.0.0.2 and
// sina.test on 127.0.0.3, each with its own data dir, listeners on the dev ports and a wire in
// front of its MX port (lab/wire.ts); a DNS server publishing their MX, A, SPF, DKIM and DMARC
// records (lab/dns.ts); one dashboard for both. The lab sends mail between them through the
// offices' own submission ports, with faults armed on request (lab/faults.ts), and follows each
// message's journey across both offices.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { hashPassword } from '../auth/password.js';
import { loadConfig, type Config, type Ports } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { startPostoffice, type Postoffice } from '../postoffice.js';
import { dkimKeyAsync } from '../relay/dkim.js';
import { joinedTrace, type OfficeRow } from '../trace/journey.js';
import { startDashboard, type DashboardHandle } from '../trace/http.js';
import { officeZones, startDnsServer, type DnsServer } from './dns.js';
import { describeFault, Faults, parseFault, type FaultSpec } from './faults.js';
import { labRoutes } from './routes.js';
import { Wire } from './wire.js';

/** The dev ports (INTERFACE.md); the lab adds its port offset to each. */
export const DEV_PORTS: Omit<Ports, 'http'> = { smtp: 2525, smtps: 2465, submission: 2587, imap: 2143, imaps: 2993, pop3: 2110, pop3s: 2995 };

export interface OfficePlan { domain: string; ip: string; hostname: string; user: string }

/** The two post offices of the seed's story: a 163.com user writes to a friend at sina.com. */
export const OFFICES: OfficePlan[] = [
  { domain: '163.test', ip: '127.0.0.2', hostname: 'mx.163.test', user: 'me@163.test' },
  { domain: 'sina.test', ip: '127.0.0.3', hostname: 'mx.sina.test', user: 'friend@sina.test' },
];

/** The relay's retry schedule in the lab: seconds, not minutes, so retries are watched live. */
export const LAB_RETRY = ['5s', '10s', '20s'];
export const LAB_EXPIRE = '2m';
/** how long the lab's relay waits for a greeting (the `slow` fault holds it back longer) */
export const LAB_GREETING_TIMEOUT_MS = 4000;

export interface LabOptions {
  /** the lab's data dir: DIR/163.test, DIR/sina.test, DIR/lab.json */
  dir: string;
  /** added to every dev port of the post offices (when the dev ports are taken) */
  portOffset?: number;
  /** the dashboard's port on 127.0.0.1 (default 8080; 0: ephemeral) */
  httpPort?: number;
  /** the DNS server's preferred port on 127.0.0.1 (default 2053 + offset; a busy one falls back to any) */
  dnsPort?: number;
  log: Logger;
  logLevel?: string;
}

/** DIR/lab.json: the password of the lab's users and the token of its control API (mode 0600). */
export interface LabFile {
  password: string;
  token: string;
  created: string;
  /** where the running lab's dashboard is (read by `lab send`) */
  url?: string;
  pid?: number;
  offices?: { domain: string; ip: string; hostname: string; user: string; ports: Record<string, number> }[];
}

export class LabError extends Error {}

export interface LabOffice extends OfficePlan {
  config: Config;
  po: Postoffice;
  wire: Wire;
  /** the ports clients use: the dev ports, port 25's being the wire's */
  ports: Record<keyof Omit<Ports, 'http'>, number>;
}

export interface SendRequest {
  from: string;
  to: string;
  subject: string;
  text?: string;
  html?: string;
  attachments?: { filename: string; content: string | Buffer; contentType?: string }[];
  fault?: string;
}

export interface SendResult {
  /** our id at the sending office (journey key) */
  msgId: string;
  messageId: string;
  reply: string;
  fault: string | null;
  journeyUrl: string;
}

export interface JourneyState {
  rows: OfficeRow[];
  /** every recipient stored or bounced (and a bounce, if one was sent, stored) */
  done: boolean;
  outcome: 'delivered' | 'bounced' | 'partly bounced' | 'in progress';
  attempts: number;
}

export function labFilePath(dir: string): string {
  return path.join(dir, 'lab.json');
}

export function readLabFile(dir: string): LabFile | null {
  const f = labFilePath(dir);
  if (!existsSync(f)) return null;
  try {
    const j = JSON.parse(readFileSync(f, 'utf8')) as LabFile;
    return typeof j.password === 'string' && typeof j.token === 'string' ? j : null;
  } catch {
    return null;
  }
}

function writeLabFile(dir: string, f: LabFile): void {
  const tmp = `${labFilePath(dir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(f, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, labFilePath(dir));
}

/** 127.0.0.2 and .3 must be usable: Linux routes all of 127/8 to loopback, macOS only 127.0.0.1. */
async function checkAddress(ip: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) => reject(new LabError(
      `cannot listen on ${ip} (${err.code ?? err.message}): the lab puts its post offices on 127.0.0.2 and 127.0.0.3. ` +
      `Linux has them; on macOS add them first: sudo ifconfig lo0 alias 127.0.0.2 up && sudo ifconfig lo0 alias 127.0.0.3 up`)));
    s.listen(0, ip, () => s.close(() => resolve()));
  });
}

function inUse(what: string, err: unknown, hint: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new LabError(`${what} is in use (another lab or postoffice running?): ${hint}`);
  return err as Error;
}

export class Lab {
  readonly faults = new Faults();
  offices: LabOffice[] = [];
  dns!: DnsServer;
  dashboard: DashboardHandle | null = null;
  secrets!: LabFile;
  url = '';
  private closers: (() => Promise<void>)[] = [];

  private constructor(readonly opts: LabOptions) {}

  static async start(opts: LabOptions): Promise<Lab> {
    const lab = new Lab(opts);
    try {
      await lab.boot();
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  private async boot(): Promise<void> {
    const { dir, log } = this.opts;
    const offset = this.opts.portOffset ?? 0;
    for (const o of OFFICES) await checkAddress(o.ip);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const prev = readLabFile(dir);
    this.secrets = prev ?? { password: randomBytes(9).toString('base64url'), token: randomBytes(24).toString('base64url'), created: new Date().toISOString() };

    // the DNS first: the offices' config names it; its zones are filled once their keys exist
    this.dns = await startDnsServer({}, { ttl: 0, port: this.opts.dnsPort ?? 2053 + offset, override: this.faults.dnsOverride });
    this.closers.push(() => this.dns.close());

    const ports = Object.fromEntries(Object.entries(DEV_PORTS).map(([k, v]) => [k, v + offset])) as LabOffice['ports'];
    const configs = OFFICES.map((o) => loadConfig({
      POSTOFFICE_DATA_DIR: path.join(dir, o.domain),
      POSTOFFICE_HOSTNAME: o.hostname,
      POSTOFFICE_DOMAINS: o.domain,
      POSTOFFICE_LISTEN: o.ip,
      POSTOFFICE_SMTP_PORT: String(ports.smtp), POSTOFFICE_SMTPS_PORT: String(ports.smtps), POSTOFFICE_SUBMISSION_PORT: String(ports.submission),
      POSTOFFICE_IMAP_PORT: String(ports.imap), POSTOFFICE_IMAPS_PORT: String(ports.imaps),
      POSTOFFICE_POP3_PORT: String(ports.pop3), POSTOFFICE_POP3S_PORT: String(ports.pop3s),
      POSTOFFICE_HTTP_PORT: '0', // one dashboard for both, below
      POSTOFFICE_DNS_SERVERS: this.dns.server,
      POSTOFFICE_RELAY_PORT: String(ports.smtp),
      POSTOFFICE_RELAY_RETRY_SCHEDULE: LAB_RETRY.join(','),
      POSTOFFICE_RELAY_EXPIRE: LAB_EXPIRE,
      POSTOFFICE_RELAY_DELAY_WARNING: '0',
      POSTOFFICE_INBOUND_AUTH: 'true',
      POSTOFFICE_TRANSCRIPTS: 'on',
      POSTOFFICE_HTTP_TRACE_TOKEN: this.secrets.token,
      POSTOFFICE_LOG_LEVEL: this.opts.logLevel ?? 'warn',
    }));
    // the DKIM keys the zones publish are the ones the relays sign with (made once, kept in the data dirs)
    for (const [i, o] of OFFICES.entries()) {
      mkdirSync(configs[i].dataDir, { recursive: true, mode: 0o700 });
      await dkimKeyAsync(configs[i].dataDir, o.domain, configs[i].dkimSelector);
    }
    Object.assign(this.dns.zones, officeZones(OFFICES.map((o, i) => ({ config: configs[i], domain: o.domain, ip: o.ip }))));

    const passwordHash = await hashPassword(this.secrets.password);
    for (const [i, plan] of OFFICES.entries()) {
      const config = configs[i];
      const po = await startPostoffice(config, log.child({ office: plan.domain }), {
        // port 25 listens on an ephemeral port behind the wire, which holds the published MX port
        bindPorts: { smtp: 0 },
        rcptPolicy: this.faults.rcptPolicy,
        relay: { greetingTimeoutMs: LAB_GREETING_TIMEOUT_MS },
      }).catch((err) => { throw inUse(`a port of ${plan.ip} (${Object.values(ports).join(', ')})`, err, 'stop it, or give --port-offset N'); });
      this.closers.push(() => po.close());
      const wire = new Wire({ host: plan.ip, port: ports.smtp, target: { host: plan.ip, port: po.port('smtp') }, log });
      await wire.start().catch((err) => { throw inUse(`${plan.ip}:${ports.smtp}`, err, 'give --port-offset N'); });
      this.closers.push(() => wire.close());
      // the lab's user, its password the lab's (re-set on every start: DIR/lab.json is the truth)
      if (!(await po.store.users.get(plan.user))) await po.store.users.add(plan.user, passwordHash);
      else await po.store.users.setPassword(plan.user, passwordHash);
      await po.store.users.setAdmin(plan.user, true);
      this.offices.push({ ...plan, config, po, wire, ports });
    }

    const httpPort = this.opts.httpPort ?? 8080;
    this.dashboard = await startDashboard({
      offices: this.offices.map((o) => ({
        name: o.domain, store: o.po.store, hostname: o.hostname, listen: o.ip, limiter: o.po.limiter, relay: o.po.relay, auth: o.po.auth,
        // clients see port 25 where the wire is, and HTTP where the lab's one dashboard is
        listeners: () => o.po.listeners.map((l) => (l.name === 'smtp' ? { ...l, port: o.ports.smtp }
          : l.name === 'http' && this.dashboard ? { name: 'http' as const, port: this.dashboard.port, state: 'listening' as const } : l)),
      })),
      port: httpPort, host: '127.0.0.1', config: this.offices[0].config, log,
      extraRoutes: labRoutes(this),
    }).catch((err) => { throw inUse(`127.0.0.1:${httpPort}`, err, 'give --http-port N'); });
    const d = this.dashboard;
    this.closers.push(() => d.close());
    this.url = `http://127.0.0.1:${d.port}`;

    writeLabFile(dir, {
      ...this.secrets, url: this.url, pid: process.pid,
      offices: this.offices.map((o) => ({ domain: o.domain, ip: o.ip, hostname: o.hostname, user: o.user, ports: o.ports })),
    });
  }

  office(domain: string): LabOffice | undefined {
    return this.offices.find((o) => o.domain === domain.toLowerCase());
  }

  /** Arm the fault for this envelope, then submit the mail as its sender's MUA would (587, STARTTLS, AUTH). */
  async send(req: SendRequest): Promise<SendResult> {
    const from = req.from.trim().toLowerCase();
    const to = req.to.trim().toLowerCase();
    const sender = this.offices.find((o) => o.user === from);
    if (!sender) throw new LabError(`--from must be one of the lab's users: ${this.offices.map((o) => o.user).join(', ')}`);
    if (!/^[^\s@<>]+@[^\s@<>]+$/.test(to)) throw new LabError(`--to: not an address: ${req.to}`);
    const toDomain = to.split('@')[1];
    let fault: FaultSpec | null = null;
    let described: string | null = null;
    if (req.fault) {
      try { fault = parseFault(req.fault); } catch (err) { throw new LabError((err as Error).message); }
      const receiver = this.office(toDomain);
      if (!receiver || receiver === sender) throw new LabError(`fault ${fault.name}: the mail must travel between the post offices (from ${from} to an address at ${this.offices.filter((o) => o !== sender).map((o) => o.domain).join(', ')})`);
      described = describeFault(fault, to);
      switch (fault.name) {
        case 'greylist': case 'tempfail': case 'reject': this.faults.armRcpt(fault.name, from, to, fault.n); break;
        case 'null-mx': case 'dns-servfail': this.faults.armDns(fault.name, toDomain, fault.n); break;
        case 'slow': for (let i = 0; i < fault.n; i++) receiver.wire.arm({ kind: 'slow', delayMs: LAB_GREETING_TIMEOUT_MS + 4000 }, sender.ip); break;
        case 'tls-broken': for (let i = 0; i < fault.n; i++) receiver.wire.arm({ kind: 'tls-broken' }, sender.ip); break;
        case 'down': await receiver.wire.down(fault.n * 1000); break;
      }
    }
    const transport = nodemailer.createTransport({
      host: sender.ip, port: sender.ports.submission, secure: false, requireTLS: true, name: 'lab-mua.local',
      // the lab's certificate is self-signed
      tls: { rejectUnauthorized: false, servername: sender.hostname },
      auth: { user: from, pass: this.secrets.password },
      connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000,
    });
    try {
      const sent = await transport.sendMail({
        from, to, subject: req.subject, text: req.text, html: req.html, attachments: req.attachments,
        headers: fault ? { 'X-Lab-Fault': `${req.fault}: ${described}` } : {},
      });
      const msgId = /queued as (\S+)/.exec(sent.response)?.[1] ?? sent.messageId;
      return { msgId, messageId: sent.messageId, reply: sent.response, fault: described, journeyUrl: `${this.url}/messages/${encodeURIComponent(msgId)}` };
    } catch (err) {
      throw new LabError(`${sender.domain} refused the submission: ${(err as Error).message}`);
    } finally {
      transport.close();
    }
  }

  /** Both offices' rows of a message (and of the bounce it caused), and whether it has arrived. */
  async journey(id: string): Promise<JourneyState> {
    const offices = this.offices.map((o) => ({ name: o.domain, store: o.po.store }));
    const rows = await joinedTrace(offices, id);
    const dsns = [...new Set(rows.filter((r) => /^bounce sent$/.test(r.step) && typeof r.details.dsn === 'string').map((r) => r.details.dsn as string))];
    for (const d of dsns) rows.push(...(await joinedTrace(offices, d)).filter((r) => !rows.some((x) => x.msgId === r.msgId && x.id === r.id && x.step === r.step && x.office === r.office)));
    rows.sort((a, b) => a.time - b.time);
    return { rows, ...journeyStatus(rows) };
  }

  async close(): Promise<void> {
    for (const c of this.closers.reverse()) await c().catch(() => undefined);
    this.closers = [];
  }
}

/** From the rows: every recipient's fate, and whether the journey is over. */
export function journeyStatus(rows: OfficeRow[]): Omit<JourneyState, 'rows'> {
  const first = rows.find((r) => r.agent === 'MTA in' && r.step === 'received');
  const rcpts = Array.isArray(first?.details.rcptTo) ? (first!.details.rcptTo as string[]).map((r) => r.toLowerCase()) : [];
  const attempts = rows.filter((r) => r.step === 'attempt').length;
  if (!first || !rcpts.length) return { done: false, outcome: 'in progress', attempts };
  const origin = first.office;
  const dsnIds = rows.filter((r) => r.step === 'bounce sent').map((r) => String(r.details.dsn));
  let stored = 0;
  let bounced = 0;
  for (const rcpt of rcpts) {
    const domain = rcpt.split('@')[1];
    if (rows.some((r) => r.step === 'bounced' && r.office === origin && String(r.details.rcpt ?? '').toLowerCase() === rcpt)) bounced++;
    else if (rows.some((r) => r.agent === 'MDA' && r.step === 'stored' && r.office === domain && !dsnIds.includes(r.msgId))) stored++;
  }
  // a bounce is over when it is in the sender's mailbox
  const dsnStored = dsnIds.every((d) => rows.some((r) => r.msgId === d && r.step === 'stored'));
  const done = stored + bounced === rcpts.length && dsnStored;
  const outcome = !done ? 'in progress' : bounced === 0 ? 'delivered' : stored === 0 ? 'bounced' : 'partly bounced';
  return { done, outcome, attempts };
}
