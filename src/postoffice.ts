// The whole post office in one process: the store (MDA), TLS, and the listeners of every
// agent on the mail path. `postoffice serve` and the tests start it through here.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Authenticator } from './auth/authenticate.js';
import { ConnectionLimiter } from './auth/limits.js';
import type { Config, Ports } from './config/config.js';
import { startImap, type ImapOptions } from './imap/index.js';
import type { Logger } from './log/log.js';
import { metrics } from './log/metrics.js';
import { Pop3Server } from './pop3/index.js';
import { QueueRunner, type QueueRunnerOptions } from './relay/queue-runner.js';
import { Resolver } from './relay/mx.js';
import { InboundAuth } from './smtp/inbound-auth.js';
import { startSmtp, type SmtpListener } from './smtp/index.js';
import type { RcptPolicy } from './smtp/context.js';
import { openStore, type Store } from './store/index.js';
import { startPruner } from './store/retention.js';
import { TlsManager, type SelfSignedPolicy } from './tls/tls.js';
import { ACME_TLS_ALPN, AcmeManager, acmeNamesOf, acmeDirectoryOf, type AcmeOptions } from './tls/acme.js';
import { startDashboard, type DashboardOffice } from './trace/http.js';

export interface ListenerInfo { name: keyof Ports; port: number; state: 'listening' | 'disabled' }

export interface Postoffice {
  config: Config;
  store: Store;
  tls: TlsManager;
  /** built-in ACME (config acme), else null */
  acme: AcmeManager | null;
  auth: Authenticator;
  limiter: ConnectionLimiter;
  listeners: ListenerInfo[];
  /** MTA out: the queue runner (null when disabled by the start options) */
  relay: QueueRunner | null;
  /** the bound port of a listener (tests use port 0) */
  port(name: keyof Ports): number;
  close(): Promise<void>;
}

export interface StartOptions {
  /** bind every enabled listener to an ephemeral port (tests): the configured number only says "enabled" */
  ephemeralPorts?: boolean;
  /** IMAP session limits (tests shorten the timeouts) */
  imap?: Partial<ImapOptions>;
  /** MTA out: false disables the queue runner (it always runs in `serve`); an object overrides its options */
  relay?: false | Partial<Omit<QueueRunnerOptions, 'store' | 'config' | 'log'>>;
  /** bind these listeners to these ports instead (0: ephemeral), e.g. the lab's port 25 behind its wire */
  bindPorts?: Partial<Ports>;
  /** an extra recipient check on every SMTP listener (the lab's fault injection; see RcptPolicy) */
  rcptPolicy?: RcptPolicy;
  /** the self-signed certificate's validity and renewal schedule (tests make it short-lived) */
  tls?: Partial<SelfSignedPolicy>;
  /** ACME: a CA to trust for the directory and shorter backoff (tests against pebble) */
  acme?: Pick<AcmeOptions, 'directoryCa' | 'backoffMs'>;
}

export async function startPostoffice(config: Config, log: Logger, opts: StartOptions = {}): Promise<Postoffice> {
  const bindPort = (name: keyof Ports) => opts.bindPorts?.[name] ?? (opts.ephemeralPorts ? 0 : config.ports[name] ?? 0);
  const store = await openStore(config.dataDir, {
    storeUrl: config.storeUrl,
    commitDelayMs: config.commitDelayMs,
    bodyCacheBytes: config.bodyCacheBytes,
    mimeLimits: { maxDepth: config.mimeMaxDepth, maxParts: config.mimeMaxParts, maxHeaders: config.mimeMaxHeaders },
  });
  const closers: (() => Promise<void>)[] = [];
  try {
    for (const d of config.domains) await store.domains.add(d);
    const tls = await TlsManager.create({ dataDir: config.dataDir, hostname: config.hostname, cert: config.tlsCert, key: config.tlsKey, log, selfSigned: opts.tls });
    closers.push(async () => tls.close());
    let acme: AcmeManager | null = null;
    if (config.acme) {
      if (config.acmeChallenge === 'http-01' && !config.ports.http) throw new Error('acme (POSTOFFICE_ACME) needs the HTTP listener for its HTTP-01 challenge: set ports.http (POSTOFFICE_HTTP_PORT), reachable as port 80, or acmeChallenge tls-alpn-01 (POSTOFFICE_ACME_CHALLENGE) with ports.https on 443');
      if (config.acmeChallenge === 'tls-alpn-01' && !config.ports.https) throw new Error('acmeChallenge tls-alpn-01 (POSTOFFICE_ACME_CHALLENGE) needs the HTTPS listener: set ports.https (POSTOFFICE_HTTPS_PORT), reachable as port 443');
      acme = new AcmeManager({
        dataDir: config.dataDir, names: acmeNamesOf(config), email: config.acmeEmail, directoryUrl: acmeDirectoryOf(config), challenge: config.acmeChallenge,
        log: log.child({ proto: 'acme' }), ...opts.acme,
      }, tls);
      const a = acme;
      closers.push(async () => a.stop());
    }
    const auth = new Authenticator(store, { cacheTtlMs: config.authCacheTtlMs });
    const limiter = new ConnectionLimiter(config.maxConnections, config.maxConnectionsPerIp, {
      stressPreauthTimeoutMs: config.stressPreauthTimeoutMs,
      onEvict: (slot, why, limit) => {
        metrics.evicted.inc({ office: config.hostname, cause: why });
        log.warn({ client: slot.ip, why, limit, open: limiter.open, fromClient: limiter.openFrom(slot.ip) }, 'connection evicted: it had not logged in and a limit was reached');
      },
    });
    const listeners: ListenerInfo[] = [];

    // port 25's SPF/DKIM/DMARC checks ask the same kind of dns2 resolver as the relay (config dnsServers)
    const inboundAuth = config.inboundAuth
      ? new InboundAuth({ dns: new Resolver({ servers: config.dnsServers, timeoutMs: config.inboundAuthTimeoutMs }), hostname: config.hostname, timeoutMs: config.inboundAuthTimeoutMs, probeName: config.domains[0] })
      : undefined;
    for (const name of ['smtp', 'smtps', 'submission'] as SmtpListener[]) {
      if (!config.ports[name]) { listeners.push({ name, port: 0, state: 'disabled' }); continue; }
      const h = await startSmtp({ listener: name, config, store, auth, limiter, log: log.child({ proto: name }), rcptPolicy: opts.rcptPolicy, ...(name === 'smtp' ? { inboundAuth } : {}) }, tls, bindPort(name), config.listen);
      closers.push(h.close);
      listeners.push({ name, port: h.port, state: 'listening' });
    }
    const pop3 = new Pop3Server({ config, store, auth, tls, log, limiter }, { idleTimeoutMs: config.pop3IdleTimeoutMs, maxAuthFailures: config.maxLoginFailures }); // sessions log {sid, proto, remote}
    for (const name of ['pop3', 'pop3s'] as const) {
      if (!config.ports[name]) { listeners.push({ name, port: 0, state: 'disabled' }); continue; }
      const h = await pop3.listen(name, bindPort(name), config.listen);
      closers.push(h.close);
      listeners.push({ name, port: h.port, state: 'listening' });
    }
    const imapOptions = {
      idleTimeoutMs: config.imapIdleTimeoutMs, preauthTimeoutMs: config.imapPreauthTimeoutMs,
      maxPreauthCommands: config.imapMaxPreauthCommands, maxLoginFailures: config.maxLoginFailures, ...opts.imap,
    };
    for (const name of ['imap', 'imaps'] as const) {
      if (!config.ports[name]) { listeners.push({ name, port: 0, state: 'disabled' }); continue; }
      const h = await startImap({ listener: name, config, store, auth, tls, limiter, log: log.child({ proto: name }), options: imapOptions }, bindPort(name), config.listen);
      closers.push(h.close);
      listeners.push({ name, port: h.port, state: 'listening' });
    }
    if (config.ports.http || config.ports.https) {
      // the dashboard of this one post office (the lab shows two in one dashboard: src/lab/); with
      // ports.http 0 and ports.https on, its routes serve over HTTPS only
      const office: DashboardOffice = { name: config.domains[0] ?? config.hostname, store, hostname: config.hostname, listen: config.listen, listeners: () => listeners, limiter, auth };
      const h = await startDashboard({ offices: [office], port: config.ports.http ? bindPort('http') : null, host: config.listen, config, log: log.child({ proto: 'http' }), acme,
        certificate: () => ({ source: tls.source, daysLeft: tls.daysLeft(), validTo: tls.info().validTo }) });
      closers.push(h.close);
      listeners.push(config.ports.http ? { name: 'http', port: h.port, state: 'listening' } : { name: 'http', port: 0, state: 'disabled' });
      if (config.ports.https) {
        // the same routes over TLS (RFC 8461 §3.3: senders fetch the MTA-STS policy over HTTPS on 443);
        // SNICallback hands out the current certificate, so ACME renewals apply here too
        // RFC 8737 §3: with acmeChallenge tls-alpn-01, a handshake offering acme-tls/1 gets the challenge
        // certificate, and the connection ends after the handshake (no HTTP on it)
        const tlsOptions = acme && config.acmeChallenge === 'tls-alpn-01' ? acme.tlsAlpnOptions(tls.serverOptions()) : tls.serverOptions();
        const server = https.createServer({ ...tlsOptions, requestTimeout: 10_000, headersTimeout: 10_000 }, (req, res) => h.app.routing(req, res));
        server.prependListener('secureConnection', (sock: import('node:tls').TLSSocket) => { if (sock.alpnProtocol === ACME_TLS_ALPN) sock.end(); });
        await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(bindPort('https'), config.listen, () => { server.off('error', reject); resolve(); }); });
        closers.push(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
        listeners.push({ name: 'https', port: (server.address() as AddressInfo).port, state: 'listening' });
      } else listeners.push({ name: 'https', port: 0, state: 'disabled' });
    } else listeners.push({ name: 'http', port: 0, state: 'disabled' }, { name: 'https', port: 0, state: 'disabled' });

    // ACME orders only once the HTTP (or HTTPS) listener can answer its challenges
    acme?.start();

    // retention of the journey and the transcripts: once soon after start, then hourly
    const pruner = startPruner(store, config, log);
    closers.push(() => pruner.stop());

    let relay: QueueRunner | null = null;
    if (opts.relay !== false) {
      const r = new QueueRunner({ ...(opts.relay ?? {}), store, config, log }).start();
      relay = r;
      closers.push(() => r.stop());
    }

    return {
      config, store, tls, acme, auth, limiter, listeners, relay,
      port(name) {
        const l = listeners.find((x) => x.name === name && x.state === 'listening');
        if (!l) throw new Error(`listener ${name} is not running`);
        return l.port;
      },
      // SIGTERM: every listener stops accepting at once; transactions in flight finish (SMTP gives
      // them 5 s), IMAP sessions get BYE; then the store commits what is pending and closes.
      async close() {
        await Promise.all(closers.map((c) => c().catch(() => undefined)));
        await store.close();
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await store.close();
    throw err;
  }
}
