// TLS for every listener: the certificate given by the operator (reloaded when its files
// change and on SIGHUP, without dropping connections) or a self-signed one made with
// node-forge on first start, kept in the data dir, and renewed before it expires.
// Every listener (SMTP 25/465/587, IMAP 143/993, POP3 110/995, implicit TLS and after
// STARTTLS) builds its context from TLS_POLICY, so there is one place to make it stricter.
import { constants, generateKeyPair, X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import forge from 'node-forge';
import { Gauge } from 'prom-client';
import type { Logger } from '../log/log.js';
import { registry } from '../log/metrics.js';
import { InternalError } from '../mail/errors.js';

export interface TlsMaterial { key: string; cert: string }

/**
 * The TLS policy of every listener (issues 6 and 19), checked by testssl.sh in test/tls/testssl.test.ts:
 * - TLS 1.2 minimum (RFC 8996 deprecates 1.0 and 1.1); TLS 1.3 with the three suites OpenSSL offers.
 * - TLS 1.2 suites: ECDHE key exchange with AEAD only (Mozilla's "intermediate" profile without DHE):
 *   no CBC (LUCKY13), no static-RSA key exchange (ROBOT, no forward secrecy).
 * - No client-initiated renegotiation (TLS <= 1.2): OpenSSL answers a client's renegotiation
 *   ClientHello with a no_renegotiation alert instead of a full handshake per request (a cheap
 *   DoS on the server's CPU). RFC 5746 secure renegotiation is still signalled; 1.3 has none.
 * - No compression (Node never compresses: CRIME).
 */
export const TLS_POLICY = {
  minVersion: 'TLSv1.2' as const,
  ciphers: [
    'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  ].join(':'),
  honorCipherOrder: true,
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
};

/** The self-signed certificate's life: issued for about a year, renewed a month before it ends. */
export interface SelfSignedPolicy {
  /** validity of a new certificate, in days (CA/Browser Forum's maximum is 397) */
  validityDays: number;
  /** renew when fewer days than this remain */
  renewBeforeDays: number;
  /** how often a running server checks (an unref'd timer) */
  checkEveryMs: number;
}
export const SELF_SIGNED: SelfSignedPolicy = { validityDays: 397, renewBeforeDays: 30, checkEveryMs: 86_400_000 };
const DAY_MS = 86_400_000;
/** a certificate in use that expires within this many days is warned about (log, doctor) */
export const EXPIRY_WARN_DAYS = 14;
/** makeSelfSigned backdates notBefore by a minute (clock skew); allow for it when judging a lifetime */
const BACKDATE_MS = 60_000;

/** A 2048-bit RSA private key, PKCS#8 PEM. */
export function genRsaKey(): Promise<string> {
  // the key pair itself comes from Node's native crypto (node-forge's pure-JS RSA takes seconds)
  return new Promise((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
      (err, _pub, priv) => (err ? reject(err) : resolve(priv))));
}

/** A self-signed X.509 certificate (node-forge) for hostname, SAN: hostname, localhost, 127.0.0.1. */
export async function makeSelfSigned(hostname: string, days = SELF_SIGNED.validityDays): Promise<TlsMaterial> {
  const keyPem = await genRsaKey();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(key.n, key.e);
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = new Date(Date.now() - BACKDATE_MS);
  cert.validity.notAfter = new Date(Date.now() + days * DAY_MS);
  const attrs = [{ name: 'commonName', value: hostname }, { name: 'organizationName', value: 'postoffice (self-signed)' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}

/** The running managers, for the /metrics gauge (the lab runs two post offices in one process). */
const live = new Set<TlsManager>();
new Gauge({
  name: 'postoffice_tls_certificate_days_left',
  help: 'Days until the TLS certificate in use expires, by host name and source (acme, files, self-signed)',
  labelNames: ['hostname', 'source'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const m of live) this.set({ hostname: m.hostname, source: m.source }, m.daysLeft());
  },
});

export interface TlsEvents extends EventEmitter {
  on(event: 'reload', l: (m: TlsMaterial) => void): this;
  on(event: 'renewed', l: (r: Renewal) => void): this;
}

/** A self-signed certificate replaced by a new one (clients that pinned the old fingerprint must re-accept). */
export interface Renewal { oldFingerprint: string; newFingerprint: string; validTo: string; reason: string }

/**
 * Holds the current certificate and key; 'reload' tells listeners to swap their contexts (new
 * connections and STARTTLS upgrades get the new one, open connections keep theirs).
 */
export class TlsManager extends EventEmitter {
  private material!: TlsMaterial;
  private ctx!: tls.SecureContext;
  private watched: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<boolean> | null = null;
  /** where the certificate in use comes from: the operator's files, our self-signed one, or ACME (tls/acme.ts) */
  source: 'files' | 'self-signed' | 'acme';

  private constructor(
    readonly hostname: string,
    private readonly log: Logger,
    private readonly files: { cert: string; key: string } | null,
    private readonly selfSigned: { dir: string; hostname: string } | null,
    private readonly policy: SelfSignedPolicy,
  ) {
    super();
    this.source = files ? 'files' : 'self-signed';
  }

  /**
   * Load POSTOFFICE_TLS_CERT/_KEY, or make (once) and reuse the self-signed pair in dataDir/tls,
   * renewing it at start and from a daily check when it is due (see SelfSignedPolicy).
   */
  static async create(opts: {
    dataDir: string; hostname: string; cert: string | null; key: string | null; log: Logger;
    selfSigned?: Partial<SelfSignedPolicy>;
  }): Promise<TlsManager> {
    const policy = { ...SELF_SIGNED, ...opts.selfSigned };
    if (opts.cert && opts.key) {
      const m = new TlsManager(opts.hostname, opts.log, { cert: opts.cert, key: opts.key }, null, policy);
      m.set(readMaterial(opts.cert, opts.key));
      m.watch();
      void m.renewIfDue('at start');
      m.startChecks();
      return m;
    }
    const dir = path.join(opts.dataDir, 'tls');
    const m = new TlsManager(opts.hostname, opts.log, null, { dir, hostname: opts.hostname }, policy);
    const { certFile, keyFile } = m.selfSignedFiles();
    if (existsSync(certFile) && existsSync(keyFile)) {
      m.set(readMaterial(certFile, keyFile));
      await m.renewIfDue('at start');
    } else {
      mkdirSync(dir, { recursive: true });
      m.set(await m.makeAndStore());
      opts.log.info({ cert: certFile, ...m.info() }, `made a self-signed certificate for ${opts.hostname}`);
    }
    m.startChecks();
    return m;
  }

  private selfSignedFiles(): { certFile: string; keyFile: string } {
    const dir = this.selfSigned?.dir ?? '';
    return { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') };
  }

  /** A new self-signed pair, written next to the old one and renamed into place (key first). */
  private async makeAndStore(): Promise<TlsMaterial> {
    const ss = this.selfSigned!;
    const material = await makeSelfSigned(ss.hostname, this.policy.validityDays);
    const { certFile, keyFile } = this.selfSignedFiles();
    writeFileSync(keyFile + '.tmp', material.key, { mode: 0o600 });
    writeFileSync(certFile + '.tmp', material.cert, { mode: 0o644 });
    renameSync(keyFile + '.tmp', keyFile);
    renameSync(certFile + '.tmp', certFile);
    return material;
  }

  /**
   * Why the current certificate should be replaced now, or null. A self-signed one is renewed when
   * fewer than renewBeforeDays remain, or when it was issued for longer than validityDays (the
   * 10-year certificates of earlier versions); an operator's is only warned about.
   */
  private dueReason(now = Date.now()): string | null {
    const x = new X509Certificate(this.material.cert);
    const from = Date.parse(x.validFrom);
    const to = Date.parse(x.validTo);
    const policy = this.policy;
    if (to - now < policy.renewBeforeDays * DAY_MS) {
      return to <= now ? `expired on ${x.validTo}` : `expires on ${x.validTo}, fewer than ${policy.renewBeforeDays} days from now`;
    }
    // X.509 times have whole seconds: allow the backdating and a second of rounding
    if (this.selfSigned && to - from > policy.validityDays * DAY_MS + BACKDATE_MS + 1000) {
      return `issued for ${Math.round((to - from) / DAY_MS)} days, more than ${policy.validityDays}`;
    }
    return null;
  }

  /**
   * The daily check (also run at start): renew a due self-signed certificate and swap it in through
   * 'reload' (open connections keep theirs), logging both fingerprints; an operator's certificate
   * close to its end is logged as a warning. Returns whether the certificate was replaced.
   */
  renewIfDue(why = 'scheduled check'): Promise<boolean> {
    if (this.renewing) return this.renewing;
    this.warnIfExpiring();
    // an ACME certificate is renewed by AcmeManager; this check only warns about it
    if (this.source === 'acme') return Promise.resolve(false);
    const reason = this.dueReason();
    if (!reason) return Promise.resolve(false);
    if (!this.selfSigned) {
      this.log.warn({ reason, ...this.info(), cert: this.files?.cert }, `TLS certificate (POSTOFFICE_TLS_CERT) ${reason}: renew it; postoffice reloads it when the file changes`);
      return Promise.resolve(false);
    }
    const old = this.info();
    this.renewing = (async () => {
      try {
        const m = await this.makeAndStore();
        this.set(m);
        const now = this.info();
        const renewal: Renewal = { oldFingerprint: old.fingerprint, newFingerprint: now.fingerprint, validTo: now.validTo, reason };
        // a warning: mail clients that pinned the old fingerprint ask their user again
        this.log.warn({ ...renewal, when: why, cert: this.selfSignedFiles().certFile },
          `self-signed TLS certificate renewed (${reason}): SHA-256 fingerprint ${old.fingerprint} -> ${now.fingerprint}`);
        this.emit('reload', m);
        this.emit('renewed', renewal);
        return true;
      } catch (err) {
        this.log.error({ err: (err as Error).message, reason }, 'self-signed TLS certificate renewal failed; keeping the old one');
        return false;
      } finally {
        this.renewing = null;
      }
    })();
    return this.renewing;
  }

  /** Days until the certificate in use expires (negative once it has). */
  daysLeft(now = Date.now()): number {
    return Math.floor((Date.parse(new X509Certificate(this.material.cert).validTo) - now) / DAY_MS);
  }

  /** The log warning of a certificate that expires within EXPIRY_WARN_DAYS (checked at start and daily). */
  warnIfExpiring(): boolean {
    const days = this.daysLeft();
    // the operator's files have their own warning from 30 days on (dueReason)
    if (days >= EXPIRY_WARN_DAYS || this.source === 'files') return false;
    const what = this.source === 'acme' ? 'the ACME certificate: its renewal is failing, the ACME_FAILED log lines say why'
      : 'the self-signed certificate: its renewal is failing, see the log';
    this.log.warn({ daysLeft: days, source: this.source, ...this.info() }, `TLS certificate expires in ${days} days (${what})`);
    return true;
  }

  /**
   * Use this certificate from now on (ACME's, tls/acme.ts): new connections and STARTTLS upgrades
   * get it through 'reload'; open connections keep theirs.
   */
  install(material: TlsMaterial, source: 'acme', reason: string): void {
    tls.createSecureContext({ ...material }); // throws on a broken pair before anything changes
    const old = this.info();
    this.set(material);
    this.source = source;
    this.log.info({ reason, source, oldFingerprint: old.fingerprint, ...this.info() }, `TLS certificate from ${source} installed (${reason})`);
    this.emit('reload', material);
  }

  private startChecks(): void {
    live.add(this);
    // unref'd: the check never keeps the process alive; renewIfDue logs its own failures
    this.timer = setInterval(() => void this.renewIfDue(), this.policy.checkEveryMs);
    this.timer.unref();
  }

  private set(material: TlsMaterial): void {
    this.ctx = tls.createSecureContext({ ...material, ...TLS_POLICY });
    this.material = material;
  }

  /** The current context: new connections and STARTTLS upgrades use it. */
  get context(): tls.SecureContext {
    return this.ctx;
  }
  get current(): TlsMaterial {
    return this.material;
  }
  /** Options for tls.createServer / new TLSSocket (SNICallback always hands out the current context). */
  serverOptions(): tls.TlsOptions {
    return { ...TLS_POLICY, SNICallback: (_name, cb) => cb(null, this.ctx), secureContext: this.ctx };
  }
  /** Subject, issuer and expiry of the current certificate. */
  info(): { subject: string; validTo: string; fingerprint: string } {
    const x = new X509Certificate(this.material.cert);
    return { subject: x.subject, validTo: x.validTo, fingerprint: x.fingerprint256 };
  }

  /** Re-read the operator's files; a broken pair is logged and the old one kept. */
  reload(reason: string): boolean {
    if (!this.files) return false;
    try {
      const m = readMaterial(this.files.cert, this.files.key);
      if (m.cert === this.material.cert && m.key === this.material.key) return false;
      this.set(m);
      this.log.info({ reason, ...this.info() }, 'TLS certificate reloaded');
      this.emit('reload', m);
      return true;
    } catch (err) {
      this.log.error({ err: (err as Error).message, reason }, 'TLS certificate reload failed; keeping the old one');
      return false;
    }
  }

  private watch(): void {
    if (!this.files) return;
    for (const f of [this.files.cert, this.files.key]) {
      // polling survives the rename-into-place that ACME clients do, where fs.watch loses the file
      watchFile(f, { interval: 2000, persistent: false }, () => this.reload(`${f} changed`));
      this.watched.push(f);
    }
  }

  /** Stop watching files and checking for renewal (the current context keeps serving). */
  close(): void {
    live.delete(this);
    for (const f of this.watched) unwatchFile(f);
    this.watched = [];
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * Why POSTOFFICE_TLS_CERT/_KEY cannot be read, in one line with what to do. The usual case is
 * certbot's layout in a container: live/NAME/*.pem are relative links into archive/NAME/, which
 * is missing when only live/NAME is mounted, and readable by root only while we run as uid 10025.
 */
export function explainUnreadable(err: NodeJS.ErrnoException): string {
  const file = err.path ?? '?';
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  let link: string | null = null;
  try { if (lstatSync(file).isSymbolicLink()) link = readlinkSync(file); } catch { /* the file itself is missing */ }
  // certbot's layout: <root>/live/<name>/*.pem (the links may be unreadable themselves: live/ is 0700)
  const le = /^(.*)\/live\/[^/]+\/[^/]+\.pem$/.exec(file)?.[1] ?? null;
  const certbot = le !== null || (link !== null && /archive\//.test(link));
  if (err.code === 'ENOENT' && link !== null) {
    return `cannot read TLS certificate/key (POSTOFFICE_TLS_CERT/_KEY): ${file} links to ${link}, which is not there` +
      (certbot ? ': certbot\'s live/ files link into archive/, so mount all of /etc/letsencrypt at the same path (e.g. /etc/letsencrypt:/etc/letsencrypt:ro) and point POSTOFFICE_TLS_CERT/_KEY at /etc/letsencrypt/live/NAME/' : '');
  }
  if (err.code === 'EACCES') {
    let target = file;
    try { target = realpathSync(file); } catch { /* keep the name given */ }
    const root = le ?? '/etc/letsencrypt';
    return `cannot read TLS certificate/key (POSTOFFICE_TLS_CERT/_KEY): uid ${uid} (gid ${gid}) may not read ${target}` +
      (certbot
        ? `: certbot keeps live/ and archive/ for root only; once on the host: chgrp -R ${gid} ${root}/live ${root}/archive && chmod -R g+rX ${root}/live ${root}/archive (and the same as a certbot --deploy-hook, for the files each renewal adds), or use POSTOFFICE_ACME=1 instead`
        : `: make it readable by uid ${uid} (or its group)`);
  }
  return `cannot read TLS certificate/key (POSTOFFICE_TLS_CERT/_KEY): ${err.message}`;
}

function readMaterial(certFile: string, keyFile: string): TlsMaterial {
  let cert: string, key: string;
  try {
    cert = readFileSync(certFile, 'utf8');
    key = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new InternalError('TLS_UNREADABLE', explainUnreadable(err as NodeJS.ErrnoException));
  }
  try {
    tls.createSecureContext({ key, cert });
  } catch (err) {
    throw new InternalError('TLS_INVALID', `TLS certificate/key (POSTOFFICE_TLS_CERT/_KEY) unusable: ${(err as Error).message}`);
  }
  return { key, cert };
}
