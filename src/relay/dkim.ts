// RFC 6376 DKIM: outgoing mail of our own domains is signed (rsa-sha256, relaxed/relaxed) with
// a key per domain, made on first use and kept in dataDir/dkim/<domain>.<selector>.key.
import { createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';

export interface DkimKey { domain: string; selector: string; privateKey: string; file: string }

export function dkimKeyFile(dataDir: string, domain: string, selector: string): string {
  return path.join(dataDir, 'dkim', `${domain.toLowerCase()}.${selector}.key`);
}

const KEYGEN = { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as const;

/** Put a freshly made key in place unless another process got there first (link() never
 *  overwrites): whoever loses reads the winner's key, so every signer uses the published one. */
function install(file: string, privateKey: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, privateKey, { mode: 0o600 });
  try { linkSync(tmp, file); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; } finally { unlinkSync(tmp); }
}

/** The domain's signing key, made (2048-bit RSA, PKCS#8 PEM, mode 0600) if there is none yet. */
export function dkimKey(dataDir: string, domain: string, selector: string): DkimKey {
  const file = dkimKeyFile(dataDir, domain, selector);
  if (!existsSync(file)) install(file, generateKeyPairSync('rsa', KEYGEN).privateKey);
  return { domain: domain.toLowerCase(), selector, privateKey: readFileSync(file, 'utf8'), file };
}

/** The same, without blocking the event loop while a new key is made (the server's path). */
export async function dkimKeyAsync(dataDir: string, domain: string, selector: string, cancelled: () => boolean = () => false): Promise<DkimKey> {
  const file = dkimKeyFile(dataDir, domain, selector);
  if (!existsSync(file)) {
    const privateKey = await new Promise<string>((resolve, reject) => generateKeyPair('rsa', KEYGEN, (err, _pub, priv) => (err ? reject(err) : resolve(priv))));
    if (cancelled()) throw new Error('stopped before the key was stored');
    install(file, privateKey);
  }
  return { domain: domain.toLowerCase(), selector, privateKey: readFileSync(file, 'utf8'), file };
}

/** RFC 6376 §3.6.1: the TXT record value "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>". */
export function dkimTxt(privateKeyPem: string): string {
  const der = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'der' });
  return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
}

/** A TXT value as zone-file character-strings of at most 255 bytes each (RFC 1035 §3.3.14). */
export function txtStrings(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out;
}

/** Sign `raw`; returns the bytes with the DKIM-Signature field prepended (unchanged if signing failed). */
export async function signMessage(raw: Buffer, key: DkimKey): Promise<{ raw: Buffer; signed: boolean; error?: string }> {
  const res = await dkimSign(raw, {
    signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey, algorithm: 'rsa-sha256', canonicalization: 'relaxed/relaxed',
    signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey, algorithm: 'rsa-sha256', canonicalization: 'relaxed/relaxed' }],
  });
  if (res.errors.length || !/^DKIM-Signature:/i.test(res.signatures)) return { raw, signed: false, error: res.errors.map((e) => e.message).join('; ') || 'no signature' };
  return { raw: Buffer.concat([Buffer.from(res.signatures, 'latin1'), raw]), signed: true };
}
