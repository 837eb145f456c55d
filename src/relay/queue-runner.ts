// MTA out, step three: the queue runner. It leases due entries from the durable queue
// (store.queue.claim: several nodes may work one queue, each entry goes to one of them), runs
// deliveries with a global and a per-destination-domain concurrency limit, and writes each
// attempt's outcome and journey in one store transaction: delivered, deferred (retry per the
// schedule, a delay warning after relayDelayWarning), or bounced (RFC 3464 DSN to the sender,
// never for the null reverse-path), and bounced on expiry.
//
// State lives only in the database, so the runner survives restarts and SIGKILL: an entry is
// removed only after its outcome is committed. The edge inherent to SMTP remains: a crash after
// the remote's 250 but before our commit re-sends on restart (at-least-once, never lost); the
// same holds for a DSN, which is committed before the entry it reports on.
//
// Several nodes: an entry is leased to the node that claimed it until relayLease from then; the
// node renews the leases it holds every third of that, and reschedule/finish end them. A node
// that dies holds its entries until their leases run out; then another node takes them.
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type Config } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { metrics } from '../log/metrics.js';
import { sinkFor } from '../log/transcript.js';
import { parseAddress } from '../mail/address.js';
import type { JourneyEvent, QueueEntry, Store } from '../store/types.js';
import { dkimKeyAsync, signMessage, type DkimKey } from './dkim.js';
import { reportId, type DsnRecipient, type NoReport, type ReportKind } from '../mail/dsn.js';
import { countFields, headerText, unfold } from '../mail/headers.js';
import { blocklistSentence, noteBlocklists, recogniseBlocklist } from './blocklist.js';
import { decide } from './decide.js';
import { sendReport, type Carry } from './report.js';
import { ConnectionCache, relay, type RcptResult, type RelayContext } from './smtp-client.js';
import { Resolver } from './mx.js';
import { MtaStsResolver } from './mta-sts.js';
import { TlsReporter } from './tls-rpt.js';

import { parseDuration } from '../mail/duration.js';

export { parseDuration };

export interface QueueRunnerOptions {
  store: Store;
  config: Config;
  log: Logger;
  resolver?: Resolver;
  pollMs?: number;
  concurrency?: number;
  domainConcurrency?: number;
  /** delays between attempts in ms; the last one repeats */
  retrySchedule?: number[];
  /** ms after arrival before the sender is told of a delay (0 = never) */
  delayWarningMs?: number;
  /** ms after arrival when what is left is bounced */
  expireMs?: number;
  /** SMTP client timeouts (tests shorten them) */
  connectTimeoutMs?: number;
  /** ms to wait for the 220 greeting (the lab shortens it to show a slow server being given up on) */
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
  /** an idle session to an MX is kept this long for the next message (0 = one message per session) */
  connectionIdleMs?: number;
  /** messages per session before it is closed */
  messagesPerConnection?: number;
  /** more CA certificates to trust for MX hosts, MTA-STS policy hosts and TLS-RPT https: endpoints (tests) */
  tlsCa?: string[];
  /** port of MTA-STS policy hosts (443; tests use another) */
  mtaStsHttpsPort?: number;
  /** waits between HTTPS POSTs of a TLS report (tests shorten them; default tls-rpt.ts HTTPS_RETRY_MS) */
  tlsRptRetryMs?: number[];
  /** this node's name in queue leases (default config nodeId, else host name/bind address) */
  node?: string;
  /** ms a claimed entry stays leased to this node unless renewed (default config relayLease) */
  leaseMs?: number;
}

const AGENT = 'MTA out' as const;
/** Received: fields beyond which a message is taken to loop (Postfix's hopcount_limit) */
const MAX_HOPS = 50;
const iso = (ms: number) => new Date(ms).toISOString();

export class QueueRunner {
  readonly resolver: Resolver;
  /** RFC 8461: remote domains' MTA-STS policies, cached per max_age (config relayMtaSts) */
  readonly mtaSts: MtaStsResolver | null;
  /** RFC 8460: daily TLS reports to the domains whose MTA-STS policies we applied */
  readonly tlsReports: TlsReporter | null;
  private reportTimer: NodeJS.Timeout | null = null;
  private readonly store: Store;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly domainConcurrency: number;
  private readonly schedule: number[];
  private readonly delayWarningMs: number;
  private readonly expireMs: number;
  private readonly opts: QueueRunnerOptions;
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly perDomain = new Map<string, number>();
  private readonly keys = new Map<string, Promise<DkimKey | null>>();
  /** sessions kept open for the next message to the same MX (per-connection message limit) */
  private readonly cache: ConnectionCache;
  private timer: NodeJS.Timeout | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  /** this node, as queue leases name it */
  readonly node: string;
  private readonly leaseMs: number;
  /** entries leased to this node and not started yet (their domain was at its limit) */
  private ready: QueueEntry[] = [];
  private readyAt = 0;
  private ticking = false;
  private again = false;
  private wakePending = false;
  private stopped = false;
  /** for the bench and tests */
  readonly stats = { attempts: 0, delivered: 0, deferred: 0, bounced: 0 };

  constructor(opts: QueueRunnerOptions) {
    const c = opts.config;
    this.opts = opts;
    this.store = opts.store;
    this.config = c;
    this.log = opts.log.child({ proto: 'relay' });
    this.resolver = opts.resolver ?? new Resolver({ servers: c.dnsServers });
    this.mtaSts = c.relayMtaSts ? new MtaStsResolver({ resolver: this.resolver, httpsPort: opts.mtaStsHttpsPort, ca: opts.tlsCa, file: path.join(c.dataDir, 'mta-sts-policies.json') }) : null;
    this.tlsReports = c.relayMtaSts ? new TlsReporter({ store: this.store, resolver: this.resolver, hostname: c.hostname, from: `postmaster@${c.domains[0]}`, log: this.log, ca: opts.tlsCa, retryMs: opts.tlsRptRetryMs }) : null;
    this.pollMs = opts.pollMs ?? c.relayPollMs;
    this.concurrency = Math.max(1, opts.concurrency ?? c.relayConcurrency);
    this.domainConcurrency = Math.max(1, opts.domainConcurrency ?? c.relayDomainConcurrency);
    const dur = (key: string, v: string) => {
      try { return parseDuration(v); } catch (err) { throw new ConfigError(`invalid config: ${key}: ${(err as Error).message}`); }
    };
    this.schedule = opts.retrySchedule ?? c.relayRetrySchedule.map((v) => dur('relayRetrySchedule', v));
    if (this.schedule.length === 0) this.schedule = [parseDuration('5m')];
    this.delayWarningMs = opts.delayWarningMs ?? dur('relayDelayWarning', c.relayDelayWarning);
    this.expireMs = opts.expireMs ?? dur('relayExpire', c.relayExpire);
    this.cache = new ConnectionCache(opts.connectionIdleMs ?? 2000, opts.messagesPerConnection ?? 100);
    // the host name and bind address: two nodes on one machine (127.0.0.2, 127.0.0.3) differ too
    this.node = opts.node ?? c.nodeId ?? `${os.hostname()}/${c.listen}`;
    this.leaseMs = Math.max(1000, opts.leaseMs ?? dur('relayLease', c.relayLease));
  }

  start(): this {
    // not unref'd: a relay-only server (every listener disabled) keeps running
    this.timer = setInterval(() => this.kick(), this.pollMs);
    // the leases this node holds are renewed while it lives (unref'd: the poll keeps the process)
    this.leaseTimer = setInterval(() => void this.renewLeases(), Math.max(300, Math.floor(this.leaseMs / 3)));
    this.leaseTimer.unref();
    // mail queued by this process is taken at once; the poll finds what other processes queue
    this.store.events.on('queued', this.onQueued);
    // what this node held before a restart (kill -9) is taken back at once, not after the lease
    this.store.queue.release(this.node)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'queue leases of an earlier run not released'))
      .finally(() => this.kick());
    // TLS reports go out once their UTC day is over: look hourly (unref'd)
    if (this.tlsReports) {
      const r = this.tlsReports;
      this.reportTimer = setInterval(() => void r.flush().catch((err: Error) => this.log.warn({ err: err.message }, 'TLS report (RFC 8460) not sent')), 3_600_000);
      this.reportTimer.unref();
    }
    return this;
  }

  /** New due entries: read the queue again now (once per turn of the event loop, however many). */
  private readonly onQueued = (): void => {
    if (this.wakePending || this.stopped) return;
    this.wakePending = true;
    setImmediate(() => {
      this.wakePending = false;
      this.readyAt = 0;
      this.kick();
    });
  };

  /** Make the DKIM keys of the local domains now (`serve` does, on first start) rather than on
   *  the first message; in the thread pool, so listeners keep answering meanwhile. */
  async prepareKeys(): Promise<void> {
    for (const d of await this.store.domains.list()) await this.key(d.name);
  }

  /** Stop taking new work; wait (bounded) for deliveries in flight. Unfinished ones stay queued. */
  async stop(waitMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.tlsReports?.stop();
    this.store.events.off('queued', this.onQueued);
    let t: NodeJS.Timeout | undefined;
    // entries taken but not started go back to the queue for the other nodes (those still in
    // flight keep their lease: another node takes them only once it expires)
    const unstarted = this.ready.map((e) => e.id);
    this.ready = [];
    const given = unstarted.length ? this.store.queue.release(this.node, unstarted).catch(() => 0) : Promise.resolve(0);
    await Promise.race([Promise.allSettled([given, ...this.inflight.values()]), new Promise((r) => { t = setTimeout(r, waitMs); })]);
    clearTimeout(t);
    this.cache.closeAll();
  }

  /** Look for due entries now (after a submission, a finished delivery, `queue flush`). */
  kick(): void {
    if (this.stopped) return;
    if (this.ticking) { this.again = true; return; }
    this.ticking = true;
    this.fill().catch((err) => this.log.error({ err, code: 'RELAY_POLL_FAILED' }, 'queue poll failed')).finally(() => {
      this.ticking = false;
      if (this.again) { this.again = false; setImmediate(() => this.kick()); }
    });
  }

  /** One line for the start-up banner. */
  describe(): string {
    const c = this.config;
    const via = c.smarthost ? `smarthost ${c.smarthost}${c.smarthostUser ? ' (AUTH)' : ''}` : `MX via ${this.resolver.serverLabels.join(', ')}, port ${c.relayPort}`;
    return `${via}; ${this.concurrency} at once (${this.domainConcurrency} per domain); DKIM selector ${c.dkimSelector}`;
  }

  get busy(): number {
    return this.inflight.size;
  }

  private async fill(): Promise<void> {
    let free = this.concurrency - this.inflight.size;
    if (free <= 0 || this.stopped) return;
    // due entries are leased in batches (store.queue.claim) and handed out from memory; more are
    // claimed when the batch runs dry or one poll interval after the last claim (so `queue flush`
    // and new mail are seen). A node holds at most `want` entries it has not started.
    const want = this.concurrency * 4;
    if (this.ready.length < want && (!this.ready.length || Date.now() - this.readyAt >= this.pollMs)) {
      this.readyAt = Date.now();
      const claimed = await this.store.queue.claim(this.node, this.readyAt, want - this.ready.length, this.leaseMs);
      if (this.stopped) {
        if (claimed.length) await this.store.queue.release(this.node, claimed.map((e) => e.id)).catch(() => 0);
        return;
      }
      const have = new Set(this.ready.map((e) => e.id));
      // an entry in flight whose lease ran out (a stalled event loop) may come back: never twice at once
      this.ready.push(...claimed.filter((e) => !this.inflight.has(e.id) && !have.has(e.id)));
    }
    const taken = new Set<QueueEntry>();
    for (const e of this.ready) {
      if (free <= 0 || this.stopped) break;
      if (this.inflight.has(e.id)) continue;
      const n = this.perDomain.get(e.domain) ?? 0;
      if (n >= this.domainConcurrency) continue;
      this.perDomain.set(e.domain, n + 1);
      taken.add(e);
      free--;
      const p = this.process(e)
        .catch((err) => {
          this.log.error({ err, code: 'RELAY_FAILED', queueId: e.id, id: e.msgId }, 'relay attempt failed');
          // keep a failing entry from being retried in a tight loop: it waits like a deferral
          return this.store.queue.reschedule(e.id, {
            attempts: e.attempts + 1, nextAttempt: Date.now() + this.schedule[Math.min(e.attempts, this.schedule.length - 1)],
            lastReply: `451 4.3.0 internal error: ${(err as Error).message}`.slice(0, 300),
          }, [{ msgId: e.msgId, agent: AGENT, step: 'internal error', details: { queueId: e.id, error: (err as Error).message } }]).catch(() => undefined);
        })
        .finally(() => {
          this.inflight.delete(e.id);
          const m = (this.perDomain.get(e.domain) ?? 1) - 1;
          if (m <= 0) this.perDomain.delete(e.domain); else this.perDomain.set(e.domain, m);
          this.kick();
        });
      this.inflight.set(e.id, p);
    }
    if (taken.size) this.ready = this.ready.filter((e) => !taken.has(e));
  }

  /** Extends the leases of what this node holds (in flight and taken); a lease lost meanwhile drops its entry from `ready`. */
  private async renewLeases(): Promise<void> {
    const ids = [...this.inflight.keys(), ...this.ready.map((e) => e.id)];
    if (!ids.length || this.stopped) return;
    try {
      const held = new Set(await this.store.queue.renew(this.node, ids, Date.now(), this.leaseMs));
      const lost = ids.filter((id) => !held.has(id));
      if (!lost.length) return;
      this.ready = this.ready.filter((e) => held.has(e.id));
      const inflightLost = lost.filter((id) => this.inflight.has(id));
      if (inflightLost.length) this.log.warn({ queueIds: inflightLost, node: this.node }, 'queue leases lost while delivering (held past relayLease?): another node may deliver them too');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'queue leases not renewed');
    }
  }

  /** The signing key of a domain (made once, off the event loop, on first need). */
  private key(domain: string): Promise<DkimKey | null> {
    let k = this.keys.get(domain);
    if (!k) {
      k = dkimKeyAsync(this.config.dataDir, domain, this.config.dkimSelector, () => this.stopped).catch((err) => {
        if (this.stopped) return null;
        this.log.error({ err, code: 'DKIM_KEY_FAILED', domain }, 'cannot make or read the DKIM key');
        this.keys.delete(domain);
        return null;
      });
      this.keys.set(domain, k);
    }
    return k;
  }

  /** RFC 6376: mail our users submitted is signed for the From: domain when that domain is ours. */
  private async sign(e: QueueEntry, raw: Buffer, events: JourneyEvent[]): Promise<Buffer> {
    if (!e.data.user || !e.mailFrom) return raw;
    const from = /^from:[^\r\n]*?([^\s<>"@]+@([^\s<>"]+))/im.exec(unfold(headerText(raw)));
    const domain = (from?.[2] ?? parseAddress(e.mailFrom)?.domain ?? '').toLowerCase().replace(/[>.]+$/, '');
    if (!domain || !(await this.store.domains.isLocal(domain))) return raw;
    const k = await this.key(domain);
    if (!k) return raw;
    const s = await signMessage(raw, k);
    events.push({ msgId: e.msgId, agent: AGENT, time: Date.now(), step: s.signed ? 'dkim signed' : 'dkim failed', details: { queueId: e.id, domain, selector: k.selector, ...(s.error ? { error: s.error } : {}) } });
    return s.raw;
  }

  private context(domain: string): RelayContext {
    const c = this.config;
    return {
      hostname: c.hostname, resolver: this.resolver, port: c.relayPort, smarthost: c.smarthost,
      smarthostUser: c.smarthostUser, smarthostPassword: c.smarthostPassword,
      requireTls: c.relayRequireTls.map((d) => d.toLowerCase()).includes(domain.toLowerCase()),
      listen: c.listen, connectTimeoutMs: this.opts.connectTimeoutMs, greetingTimeoutMs: this.opts.greetingTimeoutMs, socketTimeoutMs: this.opts.socketTimeoutMs, cache: this.cache,
      transcripts: sinkFor(c, this.store), mtaSts: this.mtaSts, tlsRpt: this.tlsReports, tlsCa: this.opts.tlsCa,
    };
  }

  /** One attempt for one queue entry (relay/smtp-client.ts), what it means (relay/decide.ts), its
   *  reports, and the entry's new state committed with its journey. */
  private async process(e: QueueEntry): Promise<void> {
    this.stats.attempts++;
    const events: JourneyEvent[] = [];
    const step = (step: string, details: Record<string, unknown>, time = Date.now()): JourneyEvent => ({ msgId: e.msgId, agent: AGENT, step, time, details: { queueId: e.id, ...details } });
    const ev = (s: string, details: Record<string, unknown>, time?: number) => events.push(step(s, details, time));
    const carry = { events, step };
    const pending = e.rcpts.filter((r) => r.status === 'pending').map((r) => r.address);
    const results = new Map<string, RcptResult>();
    if (pending.length) {
      let raw = await this.store.messages.raw(e.blobId);
      const hops = countFields(raw, 'received');
      if (hops > MAX_HOPS) {
        // RFC 5321 §6.3: a message with too many Received: fields is looping
        ev('mail loop', { received: hops });
        for (const r of pending) results.set(r, { outcome: 'bounced', reply: `too many hops (${hops} Received: header fields): mail loop`, status: '5.4.6', remoteMta: null });
      } else {
        ev('attempt', { attempt: e.attempts + 1, domain: e.domain, rcpts: pending, mailFrom: e.mailFrom || '<>' });
        raw = await this.sign(e, raw, events);
        const a = await relay(this.context(e.domain), { mailFrom: e.mailFrom, domain: e.domain, rcpts: pending, raw, msgId: e.msgId });
        for (const s of a.steps) ev(s.step, s.details, s.time);
        for (const [k, v] of a.results) results.set(k, v);
      }
    }
    const now = Date.now();
    const d = decide(e, results, now, { schedule: this.schedule, expireMs: this.expireMs, delayWarningMs: this.delayWarningMs });
    const { attempt, delivered, deferred, bounced } = d;

    for (const r of delivered) {
      const x = d.results.get(r)!;
      ev('delivered', { rcpt: r, host: x.remoteMta, reply: x.reply, ...(x.sid ? { sid: x.sid } : {}) });
    }
    this.stats.delivered += delivered.length;
    if (d.reports.success) {
      await this.report(e, d.reports.success, 'success', now, carry); // no success report wanted: nothing to say
    }
    if (d.expired.length) ev('expired', { rcpts: d.expired, age: `${Math.round(d.age / 1000)}s` });
    if (deferred.length) {
      const x = d.results.get(deferred[0]);
      ev('deferred', { rcpts: deferred, reply: x?.reply ?? null, attempt, nextAttempt: iso(d.nextAttempt!), ...(x?.sid ? { sid: x.sid } : {}) });
      this.stats.deferred += deferred.length;
    }

    // a refusal naming a blocklist: which list, and where the operator asks for delisting (relay/blocklist.ts)
    noteBlocklists(this.log, ev, { msgId: e.msgId, queueId: e.id, domain: e.domain }, [...bounced, ...deferred], d.results, this.config.hostname);
    // RFC 3464 failure report (committed before the entry changes: a crash may repeat it, never
    // lose it; the steps so far commit with it, so the trace shows it as soon as it exists)
    if (d.reports.failure) {
      this.stats.bounced += bounced.length;
      for (const r of bounced) {
        const x = d.results.get(r);
        ev('bounced', { rcpt: r, host: x?.remoteMta ?? null, reply: x?.reply ?? null, ...(x?.sid ? { sid: x.sid } : {}) });
      }
      const none = await this.report(e, d.reports.failure, 'failure', now, carry);
      if (none) ev(none.step, none.details);
    }
    // RFC 3464 "delayed" report, once, after relayDelayWarning
    if (d.reports.delay) {
      const none = await this.report(e, d.reports.delay, 'delay', now, carry);
      if (none) ev(none.step, none.details);
    }

    try {
      if (d.nextAttempt !== null) await this.store.queue.reschedule(e.id, { rcpts: d.rcpts, attempts: attempt, nextAttempt: d.nextAttempt, lastReply: d.lastReply, data: d.data }, events);
      else await this.store.queue.finish(e.id, { rcpts: d.rcpts, attempts: attempt, lastReply: d.lastReply, data: d.data }, events);
    } catch (err) {
      // deleted meanwhile (`postoffice queue del`): nothing left to record it on
      if ((err as { reason?: string }).reason === 'notfound') this.log.info({ queueId: e.id, id: e.msgId }, 'queue entry vanished during delivery');
      else throw err;
    }
    // /metrics: counted once the outcome is committed
    const office = { office: this.config.hostname };
    if (delivered.length) {
      metrics.relayed.inc(office, delivered.length);
      metrics.deliveryLatency.observe({ ...office, kind: 'relayed' }, (Date.now() - e.created) / 1000);
    }
    if (deferred.length) metrics.deferred.inc(office, deferred.length);
    if (bounced.length) metrics.bounced.inc(office, bounced.length);
    this.log.info({ id: e.msgId, queueId: e.id, domain: e.domain, attempt, delivered, deferred, bounced, reply: d.lastReply }, 'relay attempt');
  }

  /** An RFC 3464 report on this entry to its sender (relay/report.ts); a refusal that named a
   *  blocklist says which one and where to delist (relay/blocklist.ts). */
  private report(e: QueueEntry, recipients: DsnRecipient[], kind: ReportKind, now: number, carry: Carry): Promise<NoReport | null> {
    const mta = this.config.hostname;
    return sendReport(this.store, {
      reportingMta: mta, kind, agent: AGENT, lastAttempt: new Date(now),
      recipients: recipients.map((r) => {
        const hit = kind === 'success' ? null : recogniseBlocklist(r.diagnostic);
        return hit ? { ...r, blocklist: { list: hit.list, delist: hit.delist, sentence: blocklistSentence(hit, mta) } } : r;
      }),
      dsnId: reportId(e.msgId, kind, `${e.id}-${e.attempts + 1}`),
      willRetryUntil: kind === 'delay' ? new Date(e.created + this.expireMs) : undefined,
      about: { msgId: e.msgId, mailFrom: e.mailFrom, arrival: new Date(e.created), envid: e.data.envid ?? null, ret: e.data.ret ?? null, notify: e.data.notify ?? {} },
      original: () => this.store.messages.raw(e.blobId), carry,
    });
  }
}
