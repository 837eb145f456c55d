// MTA out, step two: the SMTP client. Hand one queue entry (one message, the pending recipients of one domain)
// to the domain's MX hosts in order (RFC 5321 §5.1), all recipients in one transaction, with
// nodemailer's SMTP client: EHLO, opportunistic STARTTLS (verified only where TLS is required),
// SIZE / 8BITMIME / SMTPUTF8 / PIPELINING when the server offers them.
// Per recipient: 2xx delivered, 5xx bounced, 4xx or no answer deferred (the next MX is tried).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { rootCertificates } from 'node:tls';
import { format } from 'node:util';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { endpoint, openRecorder, recordMessage, tlsLine, type Recorder, type TranscriptSink } from '../log/transcript.js';
import { mxMatches } from '../mail/mta-sts.js';
import type { CachedPolicy, MtaStsResolver } from './mta-sts.js';
import { socketOf, tlsSocketOf } from './nodemailer-socket.js';
import { tlsResultOf, type TlsReporter } from './tls-rpt.js';
import type { Resolver, DnsExchange } from './mx.js';

export type Outcome = 'delivered' | 'deferred' | 'bounced';

export interface RcptResult {
  outcome: Outcome;
  /** the reply as on the wire, or our own text for local failures */
  reply: string;
  /** RFC 3463 enhanced status */
  status: string;
  /** the MX host that gave the reply */
  remoteMta: string | null;
  /** the transcript of the SMTP session that gave it (transcripts on) */
  sid?: string;
}

/** A step for the journey (the queue runner adds msgId and agent). */
export interface RelayStep { step: string; details: Record<string, unknown>; time?: number }

export interface RelayRequest {
  mailFrom: string;          // '' for the null reverse-path
  domain: string;
  rcpts: string[];
  raw: Buffer;
  /** our id of the message: the transcripts of its sessions are linked to it */
  msgId?: string;
}

export interface RelayContext {
  hostname: string;          // our EHLO name
  resolver: Resolver;
  port: number;              // config.relayPort
  smarthost: string | null;  // host:port: everything goes there instead
  smarthostUser?: string | null;
  smarthostPassword?: string | null;
  /** per destination domain: STARTTLS with a verified certificate, or no delivery */
  requireTls: boolean;
  /** our listen address: outbound connections leave from it (see sourceAddress) */
  listen?: string;
  connectTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
  /** sessions kept open between messages to the same host */
  cache?: ConnectionCache;
  /** where protocol transcripts go (config transcripts on), else none are made */
  transcripts?: TranscriptSink | null;
  /** RFC 8461: honour the destination's MTA-STS policy (config relayMtaSts), else null */
  mtaSts?: MtaStsResolver | null;
  /** RFC 8460: where sessions under an MTA-STS policy are counted for TLS reports */
  tlsRpt?: TlsReporter | null;
  /** the MTA-STS policy this delivery applies (set by relay()) */
  sts?: CachedPolicy | null;
  /** more CA certificates to trust when verifying an MX (tests) */
  tlsCa?: string[];
}

export interface RelayAttempt {
  results: Map<string, RcptResult>;
  steps: RelayStep[];
}

interface Target { host: string; port: number; preference: number | null; addresses: string[]; auth: boolean }

/** RFC 3463: the enhanced status in a reply, or one made from its class. */
export function enhancedStatus(reply: string, fallback?: string): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  if (m) return m[1];
  const c = reply.charAt(0);
  return c === '2' ? '2.0.0' : c === '5' ? '5.0.0' : c === '4' ? '4.0.0' : fallback ?? '4.4.1';
}

function outcomeOf(code: number | undefined): Outcome {
  if (!code) return 'deferred';
  if (code >= 200 && code < 300) return 'delivered';
  if (code >= 500) return 'bounced';
  return 'deferred';
}

/** Bind outbound connections to our listen address, unless it is a wildcard or a loopback
 *  address that cannot reach a non-loopback destination. */
export function sourceAddress(listen: string | undefined, destination: string): string | undefined {
  if (!listen || listen === '0.0.0.0' || listen === '::' || !net.isIP(listen)) return undefined;
  const loop = (a: string) => a.startsWith('127.') || a === '::1';
  if (loop(listen) && !loop(destination)) return undefined;
  if (net.isIP(listen) !== net.isIP(destination)) return undefined;
  return listen;
}

function has8bit(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) if (raw[i] > 0x7f) return true;
  return false;
}

function parseHostPort(s: string, defPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  return m ? { host: m[1], port: m[2] ? Number(m[2]) : defPort } : { host: s, port: defPort };
}

type SmtpError = Error & { code?: string; responseCode?: number; response?: string; command?: string; rejectedErrors?: SmtpError[]; recipient?: string };

/** An open SMTP session kept for the next message to the same host (RFC 5321 §3.3: several
 *  transactions per session), as Postfix's connection cache does. */
interface Cached {
  conn: SMTPConnection;
  log: { transcript: string[]; rec: Recorder; message: Buffer | null };
  tls: string | null;
  features: string[];
  uses: number;
  timer: NodeJS.Timeout | null;
}

/** Idle sessions by destination (address, port, TLS policy), closed after idleMs or maxUses messages. */
export class ConnectionCache {
  private readonly idle = new Map<string, Cached[]>();
  constructor(readonly idleMs = 2000, readonly maxUses = 100) {}

  take(key: string): Cached | null {
    const list = this.idle.get(key);
    while (list?.length) {
      const c = list.pop()!;
      if (c.timer) clearTimeout(c.timer);
      c.timer = null;
      if (!c.conn.destroyed && c.conn.stage === 'connected') return c;
    }
    return null;
  }

  put(key: string, c: Cached): void {
    if (c.uses >= this.maxUses || this.idleMs <= 0) { c.conn.quit(); return; }
    const list = this.idle.get(key) ?? [];
    this.idle.set(key, list);
    list.push(c);
    c.timer = setTimeout(() => {
      const i = list.indexOf(c);
      if (i >= 0) list.splice(i, 1);
      c.conn.quit();
    }, this.idleMs);
    c.timer.unref();
  }

  closeAll(): void {
    for (const list of this.idle.values()) for (const c of list.splice(0)) { if (c.timer) clearTimeout(c.timer); c.conn.quit(); }
  }
}

/** RFC 4954 §4: an AUTH command's initial response and the lines after it carry the credentials. */
class AuthRedactor {
  private inAuth = false;
  client(line: string): string {
    if (/^AUTH /i.test(line)) {
      this.inAuth = true;
      const parts = line.split(' ');
      return parts.length > 2 ? `${parts[0]} ${parts[1]} ***` : line;
    }
    return this.inAuth ? '***' : line;
  }
  server(line: string): void {
    if (this.inAuth && !line.startsWith('334')) this.inAuth = false;
  }
}

/** The journey's link to the session's transcript (transcripts on). */
function sidOf(rec: Recorder): { sid?: string } {
  return rec.on ? { sid: rec.sid } : {};
}

/** Open a session: connect, banner, EHLO, STARTTLS (and EHLO again). */
async function open(ctx: RelayContext, target: Target, ip: string, steps: RelayStep[]): Promise<{ cached: Cached } | { err: SmtpError; transcript: string[] }> {
  const rec = openRecorder(ctx.transcripts ?? null, {
    sid: `r${randomBytes(5).toString('hex')}`, protocol: 'relay', remote: endpoint(ip, target.port), log: { warn() {} },
  });
  const log = { transcript: [] as string[], rec, message: null as Buffer | null };
  const auth = new AuthRedactor();
  // nodemailer masks AUTH itself; we mask again, in the journey and in the transcript
  const logger = {
    level: 'debug',
    debug(entry: { tnx?: string }, msg: string, ...args: unknown[]) {
      const text = format(msg, ...args);
      const lines = entry.tnx === 'server' ? text.split(/\r?\n/) : entry.tnx === 'client' ? [text] : [];
      for (const raw of lines) {
        const line = entry.tnx === 'client' ? auth.client(raw) : raw;
        if (entry.tnx === 'server') auth.server(line);
        if (log.transcript.length <= 200) log.transcript.push(`${entry.tnx === 'server' ? 'S' : 'C'}: ${line.slice(0, 500)}`); // bound the journey
        if (log.rec.on) { if (entry.tnx === 'server') log.rec.server(line); else log.rec.client(line); }
      }
    },
    info(entry: { tnx?: string }, msg: string) {
      if (!log.rec.on) return;
      // the message went out (DATA): its excerpt, as the receiving side would show it
      if (entry.tnx === 'message' && log.message) { recordMessage(log.rec, 'C', log.message); log.rec.client('.'); log.message = null; }
      if (entry.tnx === 'smtp' && /upgraded with STARTTLS/.test(msg)) {
        const sock = tlsSocketOf(conn);
        if (sock) log.rec.tls(tlsLine(sock));
      }
    },
    warn() {}, error() {}, trace() {}, fatal() {},
  };
  const servername = net.isIP(target.host) || target.host.startsWith('[') ? undefined : target.host;
  const conn = new SMTPConnection({
    host: ip, port: target.port, name: ctx.hostname, servername,
    requireTLS: ctx.requireTls, opportunisticTLS: !ctx.requireTls,
    // RFC 7435 opportunistic security: encrypt whenever offered; verify only where TLS is required
    tls: { rejectUnauthorized: ctx.requireTls, servername, ...(ctx.tlsCa?.length ? { ca: [...rootCertificates, ...ctx.tlsCa] } : {}) },
    localAddress: sourceAddress(ctx.listen, ip),
    connectionTimeout: ctx.connectTimeoutMs ?? 30_000, greetingTimeout: ctx.greetingTimeoutMs ?? 60_000,
    socketTimeout: ctx.socketTimeoutMs ?? 300_000, socketCloseTimeout: 0,
    logger: logger as never, transactionLog: true,
  });
  conn.on('error', () => { /* reported through the pending command */ });
  conn.once('end', () => rec.end());
  const where = { host: target.host, ip, port: target.port };
  // a failed connect is reported through 'error' (not always through the callback)
  const err = await settle<SmtpError | undefined>(conn, (done) => conn.connect((e) => done(e as SmtpError | undefined)), (e) => e);
  const banner = log.transcript.find((l) => l.startsWith('S: '))?.slice(3) ?? null;
  if (err) {
    conn.close();
    if (rec.on) rec.note(`connection to ${endpoint(ip, target.port)} failed: ${err.message.slice(0, 300)}`);
    rec.end();
    steps.push({ time: Date.now(), step: 'connect failed', details: { ...where, ...sidOf(rec), banner, error: err.message.slice(0, 300), transcript: log.transcript } });
    return { err, transcript: log.transcript };
  }
  const sock = socketOf(conn);
  if (sock) rec.local(endpoint(sock.localAddress, sock.localPort));
  const tsock = conn.secure ? tlsSocketOf(conn) : null;
  const tlsInfo = tsock ? `${tsock.getProtocol()} ${tsock.getCipher()?.name ?? ''}`.trim() : null;
  const ehloAt = log.transcript.map((l) => l.startsWith('C: EHLO')).lastIndexOf(true);
  const features = ehloAt >= 0 ? log.transcript.slice(ehloAt + 2).filter((l) => /^S: 250[ -]/.test(l)).map((l) => l.slice(7)) : [];
  steps.push({ time: Date.now(), step: 'connected', details: { ...where, ...sidOf(rec), preference: target.preference, banner, tls: tlsInfo, ehlo: features } });
  if (target.auth && ctx.smarthostUser) {
    const e = await settle<SmtpError | null>(conn, (done) => conn.login({ user: ctx.smarthostUser!, pass: ctx.smarthostPassword ?? '' }, (x) => done((x as SmtpError) ?? null)), (x) => x);
    if (e) {
      conn.close();
      rec.end();
      steps.push({ time: Date.now(), step: 'auth failed', details: { ...where, ...sidOf(rec), error: e.message.slice(0, 300), transcript: log.transcript } });
      return { err: Object.assign(e, { code: e.code ?? 'EAUTH' }), transcript: log.transcript };
    }
    steps.push({ time: Date.now(), step: 'authenticated', details: { ...where, ...sidOf(rec), user: ctx.smarthostUser } });
  }
  return { cached: { conn, log, tls: tlsInfo, features, uses: 0, timer: null } };
}

/** RFC 8460 §4.3: one session under an MTA-STS policy, as a success or a failure type (connection failures are no TLS result). */
function reportTls(ctx: RelayContext, target: Target, ip: string, o: { cached: Cached } | { err: SmtpError }): void {
  const at = { mx: target.host, ip };
  if ('err' in o) {
    const e = o.err;
    if (e.code === 'ETLS' || /TLS|certificate|CERT_|self.signed|issuer/i.test(e.message)) ctx.tlsRpt!.record(ctx.sts!.domain, ctx.sts!, { ...at, result: tlsResultOf(e), error: e.message });
    return;
  }
  const sock = tlsSocketOf(o.cached.conn);
  if (!o.cached.conn.secure || !sock) { ctx.tlsRpt!.record(ctx.sts!.domain, ctx.sts!, { ...at, result: 'starttls-not-supported' }); return; }
  if (sock.authorized) ctx.tlsRpt!.record(ctx.sts!.domain, ctx.sts!, { ...at, result: 'success' });
  else ctx.tlsRpt!.record(ctx.sts!.domain, ctx.sts!, { ...at, result: tlsResultOf(String(sock.authorizationError ?? '')), error: String(sock.authorizationError ?? '') });
}

/** Run one client call; whatever ends it first wins: its callback, an error, or the connection closing. */
function settle<T>(conn: SMTPConnection, start: (done: (v: T) => void) => void, onFail: (e: SmtpError) => T): Promise<T> {
  return new Promise<T>((resolve) => {
    let finished = false;
    const finish = (v: T) => {
      if (finished) return;
      finished = true;
      conn.off('error', onError);
      conn.off('end', onEnd);
      resolve(v);
    };
    const onError = (e: SmtpError) => finish(onFail(e));
    const onEnd = () => finish(onFail(Object.assign(new Error('connection closed'), { code: 'ECONNECTION' })));
    conn.on('error', onError);
    conn.on('end', onEnd);
    start(finish);
  });
}

type SendResult = { ok: true; accepted: string[]; rejectedErrors: SmtpError[]; response: string } | { ok: false; err: SmtpError };

/** One SMTP transaction with one address of one host: whatever it settles for the recipients. */
async function session(ctx: RelayContext, target: Target, ip: string, req: RelayRequest, rcpts: string[], steps: RelayStep[]): Promise<Map<string, RcptResult>> {
  const out = new Map<string, RcptResult>();
  const where = { host: target.host, ip, port: target.port };
  const failAll = (reply: string, status: string) => {
    for (const r of rcpts) out.set(r, { outcome: 'deferred', reply, status, remoteMta: target.host });
  };
  const key = `${ip}|${target.port}|${ctx.requireTls}|${target.auth}`;
  let c = ctx.cache?.take(key) ?? null;
  let reused = !!c;
  let info: SendResult;
  for (;;) {
    if (!c) {
      const o = await open(ctx, target, ip, steps);
      if (ctx.sts && ctx.tlsRpt) reportTls(ctx, target, ip, o);
      if ('err' in o) {
        // no session: refused, timeout, 4xx/5xx greeting, failed or missing TLS, AUTH refused -> next MX
        const e = o.err;
        failAll(e.response ?? `connect to ${target.host}[${ip}]:${target.port}: ${e.message}`.slice(0, 300),
          e.code === 'ETLS' ? '4.7.5' : e.response ? enhancedStatus(e.response).replace(/^5/, '4') : '4.4.1');
        return out;
      }
      c = o.cached;
    } else {
      c.log.transcript = [];
      steps.push({ time: Date.now(), step: 'connected', details: { ...where, ...sidOf(c.log.rec), reused: c.uses, tls: c.tls } });
    }
    const conn = c.conn;
    if (c.log.rec.on) {
      c.log.message = req.raw;
      if (req.msgId) c.log.rec.msgId(req.msgId);
    }
    info = await settle<SendResult>(conn, (done) => conn.send(
      { from: req.mailFrom || (false as unknown as string), to: rcpts, size: req.raw.length, use8BitMime: has8bit(req.raw) },
      req.raw,
      (e, i) => done(e ? { ok: false, err: e as SmtpError } : { ok: true, accepted: i!.accepted, rejectedErrors: (i!.rejectedErrors ?? []) as SmtpError[], response: i!.response }),
    ), (e) => ({ ok: false, err: e }));
    c.uses++;
    // a cached session the server had closed meanwhile: try once more on a fresh one
    if (!info.ok && reused && !info.err.responseCode) {
      conn.close();
      c = null;
      reused = false;
      continue;
    }
    break;
  }
  const transcript = c.log.transcript;
  let healthy = true;
  if (info.ok) {
    for (const r of info.accepted) out.set(r, { outcome: 'delivered', reply: info.response, status: enhancedStatus(info.response), remoteMta: target.host });
    for (const e of info.rejectedErrors) {
      const reply = e.response ?? e.message;
      if (e.recipient) out.set(e.recipient, { outcome: outcomeOf(e.responseCode), reply, status: enhancedStatus(reply), remoteMta: target.host });
    }
  } else {
    const e = info.err;
    const reply = e.response ?? e.message;
    if (e.code === 'EMESSAGE' && !e.responseCode) {
      // RFC 1870: the message is larger than the SIZE the server announced; it will not shrink
      for (const r of rcpts) out.set(r, { outcome: 'bounced', reply: `${target.host}: ${e.message}`.slice(0, 300), status: '5.3.4', remoteMta: target.host });
    } else if (e.command === 'RCPT TO' && e.rejectedErrors?.length) {
      // every recipient refused, each with its own reply
      for (const x of e.rejectedErrors) {
        const rr = x.response ?? x.message;
        if (x.recipient) out.set(x.recipient, { outcome: outcomeOf(x.responseCode), reply: rr, status: enhancedStatus(rr), remoteMta: target.host });
      }
    } else if (e.responseCode) {
      // MAIL FROM or DATA refused: the same answer for every recipient of the transaction
      const rejected = new Set((e.rejectedErrors ?? []).map((x) => x.recipient));
      for (const r of rcpts) if (!rejected.has(r)) out.set(r, { outcome: outcomeOf(e.responseCode), reply, status: enhancedStatus(reply), remoteMta: target.host });
      for (const x of e.rejectedErrors ?? []) {
        const rr = x.response ?? x.message;
        if (x.recipient) out.set(x.recipient, { outcome: outcomeOf(x.responseCode), reply: rr, status: enhancedStatus(rr), remoteMta: target.host });
      }
      if (e.responseCode === 421) healthy = false;
    } else {
      // the connection broke: nothing is known to be delivered
      failAll(`lost connection with ${target.host}[${ip}]: ${e.message}`.slice(0, 300), '4.4.2');
      healthy = false;
    }
  }
  for (const r of rcpts) if (!out.has(r)) out.set(r, { outcome: 'deferred', reply: 'no reply for this recipient', status: '4.4.2', remoteMta: target.host });
  if (c.log.rec.on) for (const x of out.values()) x.sid = c.log.rec.sid;
  steps.push({ time: Date.now(), step: 'session', details: { ...where, ...sidOf(c.log.rec), transcript: [...transcript] } });
  if (healthy && ctx.cache && c.conn.stage === 'connected') {
    // RFC 5321 §4.1.1.5: after a failed transaction RSET before the next one; after a
    // completed one the session is clean already
    if (!info.ok) {
      const ok = await settle<boolean>(c.conn, (done) => c!.conn.reset((e) => done(!e)), () => false);
      if (!ok) { c.conn.close(); return out; }
    }
    ctx.cache.put(key, c);
  } else if (healthy) c.conn.quit();
  else c.conn.close();
  return out;
}

/** Deliver the pending recipients of one entry: every MX in order until none is left pending. */
export async function relay(ctx: RelayContext, req: RelayRequest): Promise<RelayAttempt> {
  const steps: RelayStep[] = [];
  const results = new Map<string, RcptResult>();
  const exchanges: DnsExchange[] = [];
  let targets: Target[];

  if (ctx.smarthost) {
    const sh = parseHostPort(ctx.smarthost, 25);
    const addrs = net.isIP(sh.host) ? [sh.host] : await ctx.resolver.findTargets(sh.host).then((r) => {
      exchanges.push(...r.exchanges);
      return r.kind === 'hosts' ? r.hosts.flatMap((h) => h.addresses) : [];
    });
    steps.push({ time: Date.now(), step: 'smarthost', details: { host: sh.host, port: sh.port, addresses: addrs, dns: exchanges.map(fmtExchange) } });
    if (!addrs.length) {
      for (const r of req.rcpts) results.set(r, { outcome: 'deferred', reply: `smarthost ${sh.host}: no address`, status: '4.4.3', remoteMta: null });
      return { results, steps };
    }
    targets = [{ host: sh.host, port: sh.port, preference: null, addresses: addrs, auth: true }];
  } else {
    const found = await ctx.resolver.findTargets(req.domain);
    steps.push({ time: Date.now(), step: 'dns', details: { domain: req.domain, result: found.kind, ...(found.kind === 'hosts' ? {} : { reason: found.reason }), answers: found.exchanges.map(fmtExchange) } });
    if (found.kind !== 'hosts') {
      const outcome: Outcome = found.kind === 'permanent' ? 'bounced' : 'deferred';
      for (const r of req.rcpts) results.set(r, { outcome, reply: found.reason, status: found.status, remoteMta: null });
      return { results, steps };
    }
    targets = found.hosts.map((h) => ({ host: h.host, port: ctx.port, preference: h.preference, addresses: h.addresses, auth: false }));
    // RFC 5321 §5.1: if we are one of the MX hosts, only hosts of lower preference may be tried
    const self = targets.find((x) => x.host.toLowerCase() === ctx.hostname.toLowerCase());
    if (self) {
      targets = targets.filter((x) => (x.preference ?? 0) < (self.preference ?? 0));
      if (!targets.length) {
        const reason = `mail for ${req.domain} loops back to myself (${ctx.hostname} is its best MX, but ${req.domain} is not a local domain)`;
        for (const r of req.rcpts) results.set(r, { outcome: 'bounced', reply: reason, status: '5.4.6', remoteMta: null });
        steps.push({ time: Date.now(), step: 'mail loop', details: { domain: req.domain, reason } });
        return { results, steps };
      }
    }
  }

  // RFC 8461 §5: under an enforced MTA-STS policy, only the MX hosts it names, over verified TLS
  let enforced: string | null = null;
  let stsApplied: CachedPolicy | null = null;
  if (ctx.mtaSts && !ctx.smarthost) {
    const l = await ctx.mtaSts.lookup(req.domain);
    const p = l.policy;
    // a domain without a policy (the usual case) adds no step
    if (l.source !== 'none') steps.push({ time: Date.now(), step: 'mta-sts', details: {
      domain: req.domain, source: l.source, ...(p ? { mode: p.mode, mx: p.mx, maxAge: p.maxAge, id: p.id } : {}),
      ...(l.error ? { error: l.error } : {}), dns: l.dns.map(fmtExchange),
    } });
    if (p && p.mode !== 'none') stsApplied = p;
    if (l.source === 'failed') ctx.tlsRpt?.record(req.domain, null, { result: 'sts-policy-fetch-error', error: l.error });
    if (p?.mode === 'enforce') {
      enforced = `MTA-STS policy of ${req.domain} (enforce, mx: ${p.mx.join(', ')})`;
      // §4.1: an MX host the policy does not name is not a candidate
      const refused = targets.filter((x) => !mxMatches(x.host, p.mx));
      targets = targets.filter((x) => mxMatches(x.host, p.mx));
      if (refused.length) steps.push({ time: Date.now(), step: 'mta-sts mx refused', details: { domain: req.domain, hosts: refused.map((x) => x.host), policyMx: p.mx } });
      for (const x of refused) ctx.tlsRpt?.record(req.domain, p, { result: 'validation-failure', mx: x.host, error: 'MX host not named by the MTA-STS policy' });
      if (!targets.length) {
        const reason = `${enforced}: none of the MX hosts (${refused.map((x) => x.host).join(', ')}) is named by the policy`;
        for (const r of req.rcpts) results.set(r, { outcome: 'deferred', reply: reason, status: '4.7.5', remoteMta: null });
        return { results, steps };
      }
    }
  }
  const sctx: RelayContext = { ...ctx, requireTls: enforced ? true : ctx.requireTls, sts: stsApplied };

  let pending = [...req.rcpts];
  for (const t of targets) {
    for (const ip of t.addresses) {
      if (!pending.length) break;
      const got = await session(sctx, t, ip, req, pending, steps);
      for (const [rcpt, r] of got) results.set(rcpt, r);
      pending = pending.filter((r) => results.get(r)?.outcome === 'deferred');
    }
    if (!pending.length) break;
  }
  // the journey and the eventual bounce say why: no verified TLS where the policy demands it
  if (enforced) {
    for (const [rcpt, r] of results) {
      if (r.outcome === 'deferred' && (r.status === '4.7.5' || /TLS|certificate/i.test(r.reply))) results.set(rcpt, { ...r, reply: `${enforced} requires verified TLS: ${r.reply}`.slice(0, 500), status: '4.7.5' });
    }
  }
  return { results, steps };
}

/** A DNS exchange as one line for the journey: "MX 163.test @127.0.0.1:5353 NOERROR 10 mx.163.test ttl=300". */
export function fmtExchange(x: DnsExchange): string {
  const ans = x.answers.map((a) => `${a.preference !== undefined ? `${a.preference} ` : ''}${a.data || '.'} ttl=${a.ttl}`).join('; ');
  return `${x.type} ${x.question} @${x.server}${x.cached ? ' (cached)' : ''} ${x.rcode}${x.error ? ` (${x.error})` : ''}${ans ? ': ' + ans : ''}`;
}
