// TLS for every listener: the certificate given by the operator (reloaded when its files
// change and on SIGHUP, without dropping connections) or a self-signed one made with
// node-forge on first start and kept in the data dir.
import { generateKeyPair, X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, renameSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import forge from 'node-forge';
import type { Logger } from '../log/log.js';
import { InternalError } from '../mail/errors.js';

export interface TlsMaterial { key: string; cert: string }

/** Issue 6: TLS 1.2 minimum, modern ciphers only, no compression (Node never compresses). */
export const TLS_POLICY = {
  minVersion: 'TLSv1.2' as const,
  ciphers: [
    'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  ].join(':'),
  honorCipherOrder: true,
};

function genRsaKey(): Promise<string> {
  // the key pair itself comes from Node's native crypto (node-forge's pure-JS RSA takes seconds)
  return new Promise((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
      (err, _pub, priv) => (err ? reject(err) : resolve(priv))));
}

/** A self-signed X.509 certificate (node-forge) for hostname, SAN: hostname, localhost, 127.0.0.1. */
export async function makeSelfSigned(hostname: string, days = 3650): Promise<TlsMaterial> {
  const keyPem = await genRsaKey();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(key.n, key.e);
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
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

export interface TlsEvents extends EventEmitter {
  on(event: 'reload', l: (m: TlsMaterial) => void): this;
}

/** Holds the current certificate and key; 'reload' tells listeners to swap their contexts. */
export class TlsManager extends EventEmitter {
  private material!: TlsMaterial;
  private ctx!: tls.SecureContext;
  private watched: string[] = [];
  readonly source: 'files' | 'self-signed';

  private constructor(
    private readonly log: Logger,
    private readonly files: { cert: string; key: string } | null,
  ) {
    super();
    this.source = files ? 'files' : 'self-signed';
  }

  /** Load POSTOFFICE_TLS_CERT/_KEY, or make (once) and reuse the self-signed pair in dataDir/tls. */
  static async create(opts: { dataDir: string; hostname: string; cert: string | null; key: string | null; log: Logger }): Promise<TlsManager> {
    if (opts.cert && opts.key) {
      const m = new TlsManager(opts.log, { cert: opts.cert, key: opts.key });
      m.set(readMaterial(opts.cert, opts.key));
      m.watch();
      return m;
    }
    const dir = path.join(opts.dataDir, 'tls');
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    let material: TlsMaterial;
    if (existsSync(certFile) && existsSync(keyFile)) {
      material = readMaterial(certFile, keyFile);
    } else {
      mkdirSync(dir, { recursive: true });
      material = await makeSelfSigned(opts.hostname);
      writeFileSync(keyFile + '.tmp', material.key, { mode: 0o600 });
      writeFileSync(certFile + '.tmp', material.cert, { mode: 0o644 });
      renameSync(keyFile + '.tmp', keyFile);
      renameSync(certFile + '.tmp', certFile);
      opts.log.info({ cert: certFile }, `made a self-signed certificate for ${opts.hostname}`);
    }
    const m = new TlsManager(opts.log, null);
    m.set(material);
    return m;
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

  close(): void {
    for (const f of this.watched) unwatchFile(f);
    this.watched = [];
  }
}

function readMaterial(certFile: string, keyFile: string): TlsMaterial {
  let cert: string, key: string;
  try {
    cert = readFileSync(certFile, 'utf8');
    key = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new InternalError('TLS_UNREADABLE', `cannot read TLS certificate/key (POSTOFFICE_TLS_CERT/_KEY): ${(err as Error).message}`);
  }
  try {
    tls.createSecureContext({ key, cert });
  } catch (err) {
    throw new InternalError('TLS_INVALID', `TLS certificate/key (POSTOFFICE_TLS_CERT/_KEY) unusable: ${(err as Error).message}`);
  }
  return { key, cert };
}
