// Built-in ACME (RFC 8555) with acme-client: a certificate for the hostname (and config acmeNames)
// from Let's Encrypt or any ACME CA, proven with the HTTP-01 challenge (RFC 8555 §8.3) that the
// HTTP listener answers at /.well-known/acme-challenge/<token> (trace/http.ts, a public route), or
// with config acmeChallenge tls-alpn-01 the TLS-ALPN-01 challenge (RFC 8737) that the HTTPS listener
// answers: a handshake offering the `acme-tls/1` protocol gets the challenge certificate (tlsAlpnOptions).
// The account key, certificate and key live in dataDir/acme/ (0600). The certificate is renewed at
// two thirds of its lifetime, with backoff after a failure; TlsManager.install() hands it to every
// listener through 'reload' (no restart, open connections keep theirs). Until the first one
// arrives, and whenever ACME is off, the self-signed certificate (or the operator's) serves.
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import acme from 'acme-client';
import forge from 'node-forge';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { genRsaKey, type TlsManager, type TlsMaterial } from './tls.js';

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

/** The certificate's names: hostname (common name), config acmeNames, and mta-sts.DOMAIN for each configured domain when mtaSts is on. */
export function acmeNamesOf(config: Pick<Config, 'hostname' | 'acmeNames' | 'mtaSts' | 'domains'>): string[] {
  // RFC 8461 §3.3: senders fetch the policy from mta-sts.DOMAIN over verified HTTPS
  const mtaSts = config.mtaSts === 'none' ? [] : config.domains.map((d) => `mta-sts.${d}`);
  return [...new Set([config.hostname, ...config.acmeNames, ...mtaSts].map((n) => n.toLowerCase()))];
}
export function acmeDirectoryOf(config: Pick<Config, 'acmeDirectory' | 'acmeStaging'>): string {
  return config.acmeDirectory ?? (config.acmeStaging ? LETS_ENCRYPT_STAGING : LETS_ENCRYPT);
}

const MIN = 60_000;
/** waits after the 1st, 2nd, ... failed attempt in a row (the last repeats) */
export const ACME_BACKOFF_MS = [MIN, 5 * MIN, 30 * MIN, 2 * 60 * MIN, 6 * 60 * MIN];
/** setTimeout's longest delay is ~24.8 days: longer waits are taken in steps of a day */
const MAX_TIMER_MS = 86_400_000;

export interface AcmeOptions {
  dataDir: string;
  /** the certificate's names: the hostname first (its common name), then the others */
  names: string[];
  email: string | null;
  directoryUrl: string;
  log: Logger;
  /** PEM CA certificates to trust for the ACME directory besides the system's (tests: pebble's) */
  directoryCa?: string;
  /** waits after failures (tests shorten them) */
  backoffMs?: number[];
  /** the challenge type: http-01 (default; the HTTP listener) or tls-alpn-01 (the HTTPS listener) */
  challenge?: AcmeChallengeType;
}

export type AcmeChallengeType = 'http-01' | 'tls-alpn-01';
/** RFC 8737 §6.2: the ALPN protocol of the TLS-ALPN-01 challenge */
export const ACME_TLS_ALPN = 'acme-tls/1';
/** RFC 8737 §6.1: id-pe-acmeIdentifier */
const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

export interface AcmeStatus {
  state: 'obtaining' | 'valid' | 'failing' | 'stopped';
  names: string[];
  directoryUrl: string;
  /** the last failure, one line with what to do */
  lastError: string | null;
  /** when the next attempt (renewal or retry) is due, ISO time */
  nextAttempt: string | null;
  validTo: string | null;
}

/**
 * A failed order as one line with what to do. acme-client passes on the CA's problem detail
 * (RFC 8555 §6.7: dns, connection, unauthorized, rateLimited, ...) as the error's message.
 */
export function explainAcmeError(err: unknown, names: string[], directoryUrl: string, challenge: AcmeChallengeType = 'http-01'): string {
  const msg = String((err as Error)?.message ?? err).replace(/\s+/g, ' ').trim();
  const list = names.join(', ');
  if (challenge === 'tls-alpn-01') {
    // RFC 8737 §3: the CA connects to port 443 of each name and asks for the acme-tls/1 protocol
    if (/connection refused|timeout|timed out|connect(ion)? (reset|error)|unreachable|EHOSTUNREACH|ECONNREFUSED/i.test(msg) && !/DNS problem|NXDOMAIN/i.test(msg)) {
      return `ACME: the CA could not reach port 443 of ${list}: ${msg}. Open TCP port 443 to this server's HTTPS listener (firewall, NAT port forward, Docker: publish 443 to ports.https) for the TLS-ALPN-01 challenge`;
    }
    if (/unauthorized|acme-tls|ALPN|acmeIdentifier|key authorization|incorrect validation certificate|tls: /i.test(msg)) {
      return `ACME: port 443 of ${list} answered, but not with our TLS-ALPN-01 certificate: ${msg}. Another server or a TLS-terminating proxy answers there: pass port 443 through to postoffice's HTTPS listener unterminated, or use acmeChallenge http-01`;
    }
  }
  if (/rate ?limit|too many (certificates|failed|new orders|registrations)/i.test(msg)) {
    return `ACME rate limit reached for ${list}: ${msg}. Wait until the time the CA names (postoffice retries with backoff); test with POSTOFFICE_ACME_STAGING=1 first`;
  }
  if (/NXDOMAIN|no valid (A|AAAA)|DNS problem|no such host|SERVFAIL|lookup .* (on|failed)|could not resolve/i.test(msg)) {
    return `ACME: DNS of ${list} does not point here: ${msg}. Publish A/AAAA records for every name with this server's public address (postoffice dns prints them)`;
  }
  if (/connection refused|timeout|timed out|connect(ion)? (reset|error)|unreachable|Fetching http|EHOSTUNREACH|ECONNREFUSED/i.test(msg)) {
    return `ACME: the CA could not reach port 80 of ${list}: ${msg}. Open TCP port 80 to this server (firewall, NAT port forward, Docker -p 80:8080) for the HTTP-01 challenge`;
  }
  if (/unauthorized|key authorization|invalid response|404/i.test(msg)) {
    return `ACME: port 80 of ${list} answered, but not with our challenge: ${msg}. Another web server or proxy answers there: forward /.well-known/acme-challenge/ to postoffice's HTTP listener`;
  }
  if (/ENOTFOUND|EAI_AGAIN|certificate|self.signed|ECONNRESET|directory/i.test(msg)) {
    return `ACME: cannot talk to the CA at ${directoryUrl}: ${msg}. Check outbound HTTPS and POSTOFFICE_ACME_DIRECTORY`;
  }
  return `ACME certificate for ${list} failed: ${msg}`;
}

/**
 * RFC 2986 CSR (node-forge): common name the first name, every name in subjectAltName. (acme-client's
 * own CSR code needs one copy of @peculiar/asn1-schema, and mailauth pins another.)
 */
export function csrFor(names: string[], keyPem: string): string {
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  csr.setSubject([{ name: 'commonName', value: names[0] }]);
  csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) }] }]);
  csr.sign(key, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/**
 * RFC 8737 §3: the self-signed TLS-ALPN-01 certificate for one name: subjectAltName that name only,
 * and the critical id-pe-acmeIdentifier extension holding the SHA-256 digest of the key
 * authorization as a DER OCTET STRING. (node-forge: acme-client's createAlpnCertificate needs
 * @peculiar/x509, see csrFor.)
 */
export async function tlsAlpnCertificate(name: string, keyAuthorization: string): Promise<{ cert: string; key: string }> {
  const keyPem = await genRsaKey();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: name }]);
  cert.setIssuer([{ name: 'commonName', value: name }]);
  const digest = createHash('sha256').update(keyAuthorization).digest('binary');
  const { asn1 } = forge;
  cert.setExtensions([
    { name: 'subjectAltName', altNames: [{ type: 2, value: name }] },
    { id: ACME_IDENTIFIER_OID, critical: true, value: asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, digest)).getBytes() },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

/** Obtains and renews the ACME certificate and installs it in the TlsManager. */
export class AcmeManager {
  /** HTTP-01 key authorizations by token, answered by the HTTP listener while an order is open */
  private readonly challenges = new Map<string, string>();
  /** TLS-ALPN-01 challenge certificates by (lower-case) name, answered by the HTTPS listener while an order is open */
  private readonly alpnChallenges = new Map<string, tls.SecureContext>();
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private running: Promise<boolean> | null = null;
  private stopped = false;
  private status: AcmeStatus;
  readonly dir: string;

  constructor(private readonly opts: AcmeOptions, private readonly tls: TlsManager) {
    this.dir = path.join(opts.dataDir, 'acme');
    this.status = { state: 'obtaining', names: opts.names, directoryUrl: opts.directoryUrl, lastError: null, nextAttempt: null, validTo: null };
  }

  private file(name: 'account.key' | 'account.json' | 'cert.pem' | 'key.pem'): string {
    return path.join(this.dir, name);
  }

  /**
   * Use the stored certificate if it is still good for these names, and schedule its renewal;
   * else order one now (in the background: the listeners serve the self-signed one meanwhile).
   */
  start(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const stored = this.stored();
    if (stored) {
      this.tls.install(stored, 'acme', `stored in ${this.dir}`);
      this.status.state = 'valid';
      this.status.validTo = new X509Certificate(stored.cert).validTo;
      this.schedule(this.renewAt(stored.cert) - Date.now());
    } else this.schedule(0);
  }

  /** The stored certificate, when it exists, parses, covers every configured name and has not expired. */
  private stored(): TlsMaterial | null {
    if (!existsSync(this.file('cert.pem')) || !existsSync(this.file('key.pem'))) return null;
    try {
      const m = { cert: readFileSync(this.file('cert.pem'), 'utf8'), key: readFileSync(this.file('key.pem'), 'utf8') };
      tls.createSecureContext(m);
      const x = new X509Certificate(m.cert);
      if (Date.parse(x.validTo) <= Date.now()) return null;
      const sans = (x.subjectAltName ?? '').split(/,\s*/).map((s) => s.replace(/^DNS:/, '').toLowerCase());
      if (!this.opts.names.every((n) => sans.includes(n.toLowerCase()))) {
        this.opts.log.info({ have: sans, want: this.opts.names }, 'ACME: the stored certificate does not cover every configured name; ordering a new one');
        return null;
      }
      return m;
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message, dir: this.dir }, 'ACME: the stored certificate is unusable; ordering a new one');
      return null;
    }
  }

  /** Two thirds of the way from notBefore to notAfter (Let's Encrypt's 90 days: after 60). */
  renewAt(certPem: string): number {
    const x = new X509Certificate(certPem);
    const from = Date.parse(x.validFrom);
    const to = Date.parse(x.validTo);
    return from + ((to - from) * 2) / 3;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const at = Date.now() + Math.max(0, delayMs);
    this.status.nextAttempt = new Date(at).toISOString();
    const tick = () => {
      const left = at - Date.now();
      if (left > 0) { this.timer = setTimeout(tick, Math.min(left, MAX_TIMER_MS)); this.timer.unref(); return; }
      void this.renew('scheduled');
    };
    this.timer = setTimeout(tick, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
    this.timer.unref();
  }

  /**
   * Order a certificate now (first one, scheduled renewal, or forced), install it, and schedule the
   * next renewal; on failure log one line with what to do and retry after the backoff. Resolves to
   * whether a new certificate is in use.
   */
  renew(why: string): Promise<boolean> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const material = await this.order();
        if (this.stopped) return false;
        this.store(material);
        this.tls.install(material, 'acme', why);
        this.failures = 0;
        const x = new X509Certificate(material.cert);
        this.status = { ...this.status, state: 'valid', lastError: null, validTo: x.validTo };
        this.schedule(this.renewAt(material.cert) - Date.now());
        this.opts.log.info({ names: this.opts.names, issuer: x.issuer, validTo: x.validTo, renewAt: this.status.nextAttempt }, `ACME certificate obtained for ${this.opts.names.join(', ')}`);
        return true;
      } catch (err) {
        const line = explainAcmeError(err, this.opts.names, this.opts.directoryUrl, this.opts.challenge);
        const backoff = this.opts.backoffMs ?? ACME_BACKOFF_MS;
        const wait = backoff[Math.min(this.failures, backoff.length - 1)];
        this.failures++;
        this.status = { ...this.status, state: 'failing', lastError: line };
        this.schedule(wait);
        this.opts.log.error({ code: 'ACME_FAILED', attempt: this.failures, retryAt: this.status.nextAttempt, source: this.tls.source }, line);
        return false;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** RFC 8555 §7: account (made once, key kept), order, HTTP-01 authorizations, finalize with a new key. */
  private async order(): Promise<TlsMaterial> {
    if (this.opts.directoryCa) {
      // acme-client talks through its own axios instance: trust the test CA's directory there
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, this.opts.directoryCa] });
    }
    const accountKey = await this.accountKey();
    const account = this.accountUrl();
    const client = new acme.Client({
      directoryUrl: this.opts.directoryUrl, accountKey, ...(account ? { accountUrl: account } : {}),
      backoffAttempts: 10, backoffMin: 1000, backoffMax: 10_000,
    });
    // §7.3: the account (its key made once and kept; its URL remembered per directory)
    // (saved at once: a retry after a failed order uses the account, instead of creating it again, which
    // acme-client turns into an empty account update that some CAs refuse)
    if (!account) {
      await client.createAccount({ termsOfServiceAgreed: true, ...(this.opts.email ? { contact: [`mailto:${this.opts.email}`] } : {}) });
      this.saveAccountUrl(client.getAccountUrl());
    }
    // §7.4: the order for every name
    const order = await client.createOrder({ identifiers: this.opts.names.map((value) => ({ type: 'dns', value })) });
    const authorizations = await client.getAuthorizations(order);
    // §7.5, §8.3: prove each name with HTTP-01 (the CA fetches the key authorization from port 80)
    await Promise.all(authorizations.map(async (authz) => {
      if (authz.status === 'valid') return;
      const type = this.opts.challenge ?? 'http-01';
      const challenge = authz.challenges.find((c) => c.type === type);
      if (!challenge) throw new Error(`the CA offers no ${type} challenge for ${authz.identifier.value}`);
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      const name = authz.identifier.value.toLowerCase();
      if (type === 'tls-alpn-01') this.alpnChallenges.set(name, tls.createSecureContext(await tlsAlpnCertificate(name, keyAuthorization)));
      else this.challenges.set(challenge.token, keyAuthorization);
      try {
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      } catch (err) {
        await client.deactivateAuthorization(authz).catch(() => undefined);
        throw err;
      } finally {
        this.challenges.delete(challenge.token);
        this.alpnChallenges.delete(name);
      }
    }));
    // §7.4: finalize with a CSR for a new key, then download the chain (leaf + intermediates)
    const key = await genRsaKey();
    const finalized = await client.finalizeOrder(order, csrFor(this.opts.names, key));
    const cert = await client.getCertificate(finalized);
    return { cert, key };
  }

  private async accountKey(): Promise<Buffer> {
    const f = this.file('account.key');
    if (existsSync(f)) return readFileSync(f);
    const k = await acme.crypto.createPrivateRsaKey(2048);
    writeFileSync(f, k, { mode: 0o600 });
    return k;
  }
  private accountUrl(): string | null {
    try {
      const j = JSON.parse(readFileSync(this.file('account.json'), 'utf8')) as { url?: string; directoryUrl?: string };
      return j.directoryUrl === this.opts.directoryUrl && j.url ? j.url : null;
    } catch {
      return null;
    }
  }
  private saveAccountUrl(url: string): void {
    writeFileSync(this.file('account.json'), JSON.stringify({ url, directoryUrl: this.opts.directoryUrl, email: this.opts.email }) + '\n', { mode: 0o600 });
  }

  /** Key first, then certificate, each written aside and renamed into place (0600). */
  private store(m: TlsMaterial): void {
    for (const [name, data] of [['key.pem', m.key], ['cert.pem', m.cert]] as const) {
      const f = this.file(name);
      writeFileSync(f + '.tmp', data, { mode: 0o600 });
      renameSync(f + '.tmp', f);
    }
  }

  /** RFC 8555 §8.3: the key authorization for a token of an open order, or undefined. */
  challengeResponse(token: string): string | undefined {
    return this.challenges.get(token);
  }

  /**
   * RFC 8737 §3: TLS server options that answer a handshake offering `acme-tls/1` for a name with an
   * open TLS-ALPN-01 challenge with that challenge's certificate, and every other handshake as
   * base does (http/1.1 when offered). The caller ends acme-tls/1 connections after the handshake.
   */
  tlsAlpnOptions(base: tls.TlsOptions): tls.TlsOptions {
    const challengeSockets = new WeakSet<tls.TLSSocket>();
    const challenges = this.alpnChallenges;
    const baseSni = base.SNICallback;
    const { ALPNProtocols: _unused, ...rest } = base;
    return {
      ...rest,
      // Node calls ALPNCallback before SNICallback, both with the connection's TLSSocket as this
      ALPNCallback: function (this: tls.TLSSocket, { servername, protocols }: { servername: string; protocols: string[] }): string | undefined {
        if (protocols.includes(ACME_TLS_ALPN) && servername && challenges.has(servername.toLowerCase())) {
          challengeSockets.add(this);
          return ACME_TLS_ALPN;
        }
        // §6.2: acme-tls/1 without an open challenge is refused (no_application_protocol), like any unknown protocol
        return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
      } as unknown as tls.TlsOptions['ALPNCallback'],
      SNICallback(this: tls.TLSSocket, servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void {
        const ctx = challengeSockets.has(this) ? challenges.get(servername.toLowerCase()) : undefined;
        if (ctx) return cb(null, ctx);
        if (baseSni) return baseSni.call(this, servername, cb);
        cb(null, undefined);
      },
    };
  }

  info(): AcmeStatus {
    return { ...this.status };
  }

  stop(): void {
    this.stopped = true;
    this.status.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
