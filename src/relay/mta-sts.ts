// MTA out: the MTA-STS policy (RFC 8461) of a destination domain, as the relay honours it. §3.3:
// look up _mta-sts.DOMAIN TXT; when its id differs from the cached policy's (or none is cached),
// fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt (certificate verified for that name, no
// redirects, bounded size and time); cache it for max_age. A fetch that fails keeps a cached
// policy that has not expired, else the domain is treated as having none (§3.3, §5).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { parsePolicy, parseStsTxt, POLICY_MAX_BYTES, type MtaStsPolicy } from '../mail/mta-sts.js';
import type { DnsExchange, Resolver } from './mx.js';

export interface CachedPolicy extends MtaStsPolicy { id: string; domain: string; fetchedAt: number; expiresAt: number }

/** What the look-up found, for the journey. */
export interface PolicyLookup {
  policy: CachedPolicy | null;
  /** fetched | cached | none (no TXT record) | failed (TXT present, fetch failed, nothing cached) */
  source: 'fetched' | 'cached' | 'none' | 'failed';
  error?: string;
  dns: DnsExchange[];
}

export interface MtaStsOptions {
  resolver: Resolver;
  /** port of the policy host (443; tests use another) */
  httpsPort?: number;
  /** more CA certificates to trust for the policy host (tests) */
  ca?: string[];
  timeoutMs?: number;
  now?: () => number;
  /** where the cache survives a restart (§3.3: a restart must not open a downgrade window), else memory only */
  file?: string;
}

export class MtaStsResolver {
  private readonly cache = new Map<string, CachedPolicy>();
  private readonly inflight = new Map<string, Promise<PolicyLookup>>();
  constructor(private readonly opts: MtaStsOptions) {
    if (opts.file) {
      try {
        const saved = JSON.parse(readFileSync(opts.file, 'utf8')) as CachedPolicy[];
        for (const p of Array.isArray(saved) ? saved : []) {
          if (p && typeof p.domain === 'string' && typeof p.expiresAt === 'number' && p.expiresAt > this.now() && Array.isArray(p.mx)) this.cache.set(p.domain, p);
        }
      } catch { /* no cache yet, or unreadable: start empty */ }
    }
  }

  private save(): void {
    if (!this.opts.file) return;
    try {
      writeFileSync(this.opts.file + '.tmp', JSON.stringify(this.policies()) + '\n', { mode: 0o600 });
      renameSync(this.opts.file + '.tmp', this.opts.file);
    } catch { /* the memory cache still applies */ }
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** §3.3 and §5.1: the policy that applies to mail for domain now (one look-up at a time per domain). */
  lookup(domain: string): Promise<PolicyLookup> {
    const d = domain.toLowerCase();
    let p = this.inflight.get(d);
    if (!p) {
      p = this.doLookup(d).finally(() => this.inflight.delete(d));
      this.inflight.set(d, p);
    }
    return p;
  }

  private async doLookup(d: string): Promise<PolicyLookup> {
    const dns: DnsExchange[] = [];
    const cached = this.cache.get(d);
    const valid = cached && cached.expiresAt > this.now() ? cached : null;
    if (cached && !valid) this.cache.delete(d);
    // §3.1: exactly one STSv1 record; none (or a failed look-up) leaves the cached policy in force
    let ids: string[] = [];
    try {
      const txt = await this.opts.resolver.query(`_mta-sts.${d}`, 'TXT', dns);
      ids = txt.answers.map((a) => parseStsTxt(a.data)).filter((x): x is string => !!x);
    } catch { /* as no record */ }
    if (ids.length !== 1) return valid ? { policy: valid, source: 'cached', dns } : { policy: null, source: 'none', dns };
    if (valid && valid.id === ids[0]) return { policy: valid, source: 'cached', dns };
    try {
      const policy = parsePolicy(await this.fetch(d));
      const now = this.now();
      const entry: CachedPolicy = { ...policy, id: ids[0], domain: d, fetchedAt: now, expiresAt: now + policy.maxAge * 1000 };
      this.cache.set(d, entry);
      this.save();
      return { policy: entry, source: 'fetched', dns };
    } catch (err) {
      const error = (err as Error).message.slice(0, 300);
      return valid ? { policy: valid, source: 'cached', error, dns } : { policy: null, source: 'failed', error, dns };
    }
  }

  /** §3.3: GET the policy over HTTPS from mta-sts.DOMAIN, its certificate verified for that name; 200 only, no redirects. */
  private async fetch(d: string): Promise<string> {
    const host = `mta-sts.${d}`;
    const a = await this.opts.resolver.query(host, 'A');
    const ip = a.answers.map((x) => x.data).find((x) => net.isIP(x));
    if (!ip) throw new Error(`${host} has no address (${a.rcode})`);
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    return new Promise<string>((resolve, reject) => {
      const req = https.request({
        host: ip, port: this.opts.httpsPort ?? 443, path: '/.well-known/mta-sts.txt', method: 'GET', servername: host,
        headers: { host, 'user-agent': 'postoffice MTA-STS' }, timeout: timeoutMs, agent: false,
        ...(this.opts.ca?.length ? { ca: [...tls.rootCertificates, ...this.opts.ca] } : {}),
      }, (res) => {
        if (res.statusCode !== 200) { res.resume(); reject(new Error(`https://${host}/.well-known/mta-sts.txt answered HTTP ${res.statusCode} (redirects are not followed)`)); return; }
        const type = String(res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (type !== 'text/plain') { res.resume(); reject(new Error(`https://${host}/.well-known/mta-sts.txt is ${type || 'untyped'}, not text/plain`)); return; }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > POLICY_MAX_BYTES) { req.destroy(new Error(`policy larger than ${POLICY_MAX_BYTES} bytes`)); return; }
          chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${host} within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new Error(`cannot fetch https://${host}/.well-known/mta-sts.txt: ${err.message}`)));
      req.end();
    });
  }

  /** The cached policies (for the dashboard and tests). */
  policies(): CachedPolicy[] {
    return [...this.cache.values()];
  }
}
