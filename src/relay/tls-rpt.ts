// SMTP TLS Reporting (RFC 8460) for the MTA-STS policies the relay applied: every session to an MX
// of a domain with a policy counts as a success or a failure of a given result type (§4.3); once a
// UTC day is over, each domain that publishes `_smtp._tls` TXT with a rua gets one aggregate report
// (§4.4 JSON, gzip): by mail through our own queue to its mailto: addresses (§5.3), by HTTPS POST to
// its https: ones (§5.4, retried with backoff for up to a day, §5.5). Counts live in memory: a
// restart loses the day's counts so far (reports are advisory).
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { gzipSync } from 'node:zlib';
import type { Logger } from '../log/log.js';
import { policyText } from '../mail/mta-sts.js';
import type { Store } from '../store/types.js';
import type { CachedPolicy } from './mta-sts.js';
import type { Resolver } from './mx.js';

/** RFC 8460 §4.3 result types (the STS and TLS negotiation ones we can tell apart). */
export type TlsResult =
  | 'success' | 'starttls-not-supported' | 'certificate-host-mismatch' | 'certificate-expired'
  | 'certificate-not-trusted' | 'validation-failure' | 'sts-policy-fetch-error';

export interface TlsSession { result: TlsResult; mx?: string; ip?: string; error?: string }

/** A TLS error (nodemailer's or Node's) as a §4.3 result type. */
export function tlsResultOf(err: { code?: string; message?: string } | string): TlsResult {
  const text = typeof err === 'string' ? err : `${err.code ?? ''} ${err.message ?? ''}`;
  if (/CERT_HAS_EXPIRED|certificate has expired|CERT_NOT_YET_VALID/i.test(text)) return 'certificate-expired';
  if (/ALTNAME|Hostname\/IP does not match|host ?name mismatch/i.test(text)) return 'certificate-host-mismatch';
  if (/SELF_SIGNED|self.signed|UNABLE_TO_GET_ISSUER|unable to get (local )?issuer|UNABLE_TO_VERIFY|not trusted/i.test(text)) return 'certificate-not-trusted';
  if (/STARTTLS|ETLS/i.test(text) && !/certificate/i.test(text)) return 'starttls-not-supported';
  return 'validation-failure';
}

interface Failure { resultType: TlsResult; receivingMx: string | null; receivingIp: string | null; count: number; reason?: string }
interface DomainDay { policy: CachedPolicy | null; success: number; failures: Map<string, Failure> }

const DAY_MS = 86_400_000;
const dayOf = (t: number) => Math.floor(t / DAY_MS) * DAY_MS;
/** §4.4 failure-details kept per domain and day at most (one per distinct result/MX/address) */
const MAX_DETAILS = 100;

export interface TlsReporterOptions {
  store: Store;
  resolver: Resolver;
  /** our host name: organization-name and TLS-Report-Submitter */
  hostname: string;
  /** the From: address of reports (postmaster@ our first domain) */
  from: string;
  now?: () => number;
  log?: Logger;
  /** PEM CA certificates trusted for https: rua endpoints besides the system's (tests) */
  ca?: string[];
  /** waits before the 2nd, 3rd, ... HTTPS POST of a report (tests shorten them); default ~1 day in all */
  retryMs?: number[];
  /** one HTTPS POST's time limit */
  timeoutMs?: number;
}

const MIN = 60_000;
/** §5.5: retry for up to 24 hours with growing waits (1 + 5 + 30 min + 2 + 6 + 15 h) */
export const HTTPS_RETRY_MS = [MIN, 5 * MIN, 30 * MIN, 120 * MIN, 360 * MIN, 900 * MIN];
/** https: rua URIs followed per domain at most (and mailto: ones) */
const MAX_RUA = 10;

export interface HttpsReportResult { url: string; reportId: string; status: number | null; error?: string; attempt: number }

export class TlsReporter {
  private readonly days = new Map<number, Map<string, DomainDay>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  /** every HTTPS POST's outcome, newest last (at most 100 kept; tests and logs read them) */
  readonly httpsResults: HttpsReportResult[] = [];
  constructor(private readonly opts: TlsReporterOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** Count one session (or one failed policy fetch) for the domain's policy. */
  record(domain: string, policy: CachedPolicy | null, s: TlsSession): void {
    const day = dayOf(this.now());
    let domains = this.days.get(day);
    if (!domains) this.days.set(day, (domains = new Map()));
    let d = domains.get(domain);
    if (!d) domains.set(domain, (d = { policy, success: 0, failures: new Map() }));
    if (policy) d.policy = policy;
    if (s.result === 'success') { d.success++; return; }
    const key = `${s.result}|${s.mx ?? ''}|${s.ip ?? ''}`;
    const f = d.failures.get(key);
    if (f) f.count++;
    else if (d.failures.size < MAX_DETAILS) d.failures.set(key, { resultType: s.result, receivingMx: s.mx ?? null, receivingIp: s.ip ?? null, count: 1, reason: s.error?.slice(0, 200) });
  }

  /**
   * Send the reports of every day that is over (all days, the current one too, with force): one
   * mail per domain to its mailto: addresses, one POST to each https: address (the first attempt
   * awaited, retries in the background). Returns the report ids sent.
   */
  async flush(force = false): Promise<string[]> {
    const today = dayOf(this.now());
    const sent: string[] = [];
    for (const [day, domains] of [...this.days]) {
      if (day >= today && !force) continue;
      this.days.delete(day);
      for (const [domain, d] of domains) {
        const { mailto, https: urls } = await this.rua(domain);
        if (!mailto.length && !urls.length) continue;
        const id = `${new Date(day).toISOString().slice(0, 10)}.${randomBytes(6).toString('hex')}@${this.opts.hostname}`;
        const end = Math.min(day + DAY_MS, this.now()) - 1000;
        const report = this.report(domain, d, day, end, id);
        if (mailto.length) await this.mail(domain, mailto, report, id, day, end);
        if (urls.length) {
          const gz = gzipSync(JSON.stringify(report));
          await Promise.all(urls.map((u) => this.postWithRetry(u, domain, gz, id, 1)));
        }
        sent.push(id);
      }
    }
    return sent;
  }

  /** §3: the mailto: addresses and https: URLs of `_smtp._tls.DOMAIN` (other schemes are ignored). */
  private async rua(domain: string): Promise<{ mailto: string[]; https: URL[] }> {
    try {
      const txt = await this.opts.resolver.query(`_smtp._tls.${domain}`, 'TXT');
      const rec = txt.answers.map((a) => a.data).find((t) => /^v=TLSRPTv1\s*;/i.test(t));
      const m = rec ? /(?:^|;)\s*rua=([^;]+)/i.exec(rec) : null;
      const uris = m ? m[1].split(',').map((u) => u.trim()).slice(0, MAX_RUA) : [];
      const urls: URL[] = [];
      for (const u of uris) {
        if (!/^https:\/\//i.test(u)) continue;
        try {
          const url = new URL(u);
          if (url.hostname && !url.username && !url.password) urls.push(url);
        } catch { /* not a URL: ignored */ }
      }
      return {
        mailto: uris.filter((u) => /^mailto:[^@\s]+@[^@\s]+$/i.test(u)).map((u) => decodeURIComponent(u.slice(7))),
        https: urls,
      };
    } catch {
      return { mailto: [], https: [] };
    }
  }

  /** §5.4, §5.5: POST the report; on failure try again after the next wait, until the waits run out. */
  private async postWithRetry(url: URL, domain: string, gz: Buffer, id: string, attempt: number): Promise<void> {
    const r = await this.post(url, domain, gz, id).then((status) => ({ status }), (err: Error) => ({ status: null, error: err.message.slice(0, 300) }));
    const ok = r.status !== null && r.status >= 200 && r.status < 300;
    const result: HttpsReportResult = { url: url.href, reportId: id, status: r.status, attempt, ...(ok ? {} : { error: 'error' in r && r.error ? r.error : `HTTP ${r.status}` }) };
    this.httpsResults.push(result);
    if (this.httpsResults.length > 100) this.httpsResults.shift();
    const waits = this.opts.retryMs ?? HTTPS_RETRY_MS;
    if (ok) { this.opts.log?.info({ domain, url: url.href, reportId: id, status: r.status, attempt }, 'TLS report (RFC 8460) posted'); return; }
    const wait = waits[attempt - 1];
    this.opts.log?.warn({ domain, url: url.href, reportId: id, error: result.error, attempt, retryInMs: wait ?? null }, wait === undefined ? 'TLS report (RFC 8460) not posted; giving up' : 'TLS report (RFC 8460) not posted; retrying');
    if (wait === undefined) return;
    const timer = setTimeout(() => { this.retries.delete(timer); void this.postWithRetry(url, domain, gz, id, attempt + 1); }, wait);
    timer.unref();
    this.retries.add(timer);
  }

  /**
   * §5.4: one HTTPS POST of the gzipped report (application/tlsrpt+gzip), the certificate verified
   * for the URL's host, which our resolver looks up (as for MX and MTA-STS hosts); no redirects.
   * Resolves to the HTTP status.
   */
  private async post(url: URL, domain: string, gz: Buffer, id: string): Promise<number> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let ip = host;
    if (!net.isIP(host)) {
      const a = await this.opts.resolver.query(host, 'A');
      const found = a.answers.map((x) => x.data).find((x) => net.isIP(x));
      if (!found) throw new Error(`${host} has no address (${a.rcode})`);
      ip = found;
    }
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    return new Promise<number>((resolve, reject) => {
      const req = https.request({
        host: ip, port: url.port ? Number(url.port) : 443, path: `${url.pathname}${url.search}`, method: 'POST',
        ...(net.isIP(host) ? {} : { servername: host }),
        headers: {
          host: url.host, 'content-type': 'application/tlsrpt+gzip', 'content-length': gz.length,
          'user-agent': 'postoffice TLS-RPT', 'tls-report-domain': domain, 'tls-report-submitter': this.opts.hostname, 'tls-report-id': id,
        },
        timeout: timeoutMs, agent: false,
        ...(this.opts.ca?.length ? { ca: [...tls.rootCertificates, ...this.opts.ca] } : {}),
      }, (res) => {
        res.resume(); // the answer's body is not needed (and not kept)
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new Error(`cannot POST to ${url.href}: ${err.message}`)));
      req.end(gz);
    });
  }

  /** Cancel pending HTTPS retries. */
  stop(): void {
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
  }

  /** §4.4 the JSON report. */
  private report(domain: string, d: DomainDay, start: number, end: number, id: string): Record<string, unknown> {
    const p = d.policy;
    const failures = [...d.failures.values()];
    return {
      'organization-name': this.opts.hostname,
      'date-range': { 'start-datetime': new Date(start).toISOString().replace(/\.\d{3}Z$/, 'Z'), 'end-datetime': new Date(end).toISOString().replace(/\.\d{3}Z$/, 'Z') },
      'contact-info': this.opts.from,
      'report-id': id,
      policies: [{
        policy: p
          ? { 'policy-type': 'sts', 'policy-string': policyText(p).trimEnd().split('\r\n'), 'policy-domain': domain, 'mx-host': p.mx }
          : { 'policy-type': 'no-policy-found', 'policy-domain': domain },
        summary: { 'total-successful-session-count': d.success, 'total-failure-session-count': failures.reduce((n, f) => n + f.count, 0) },
        'failure-details': failures.map((f) => ({
          'result-type': f.resultType,
          ...(f.receivingMx ? { 'receiving-mx-hostname': f.receivingMx } : {}),
          ...(f.receivingIp ? { 'receiving-ip': f.receivingIp } : {}),
          'failed-session-count': f.count,
          ...(f.reason ? { 'failure-reason-code': f.reason } : {}),
        })),
      }],
    };
  }

  /** §5.3: multipart/report; report-type="tlsrpt" with the gzipped JSON, queued like any mail. */
  private async mail(domain: string, rua: string[], report: Record<string, unknown>, id: string, start: number, end: number): Promise<void> {
    const host = this.opts.hostname;
    const boundary = `tlsrpt-${randomBytes(8).toString('hex')}`;
    const file = `${host}!${domain}!${Math.floor(start / 1000)}!${Math.floor(end / 1000)}.json.gz`;
    const gz = gzipSync(JSON.stringify(report)).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = Buffer.from([
      `From: <${this.opts.from}>`, `To: ${rua.map((r) => `<${r}>`).join(', ')}`,
      `Subject: Report Domain: ${domain} Submitter: ${host} Report-ID: <${id}>`,
      `Date: ${new Date(this.now()).toUTCString().replace('GMT', '+0000')}`, `Message-ID: <${id}>`,
      `TLS-Report-Domain: ${domain}`, `TLS-Report-Submitter: ${host}`,
      'MIME-Version: 1.0', `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`, '',
      `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', '',
      `This is an aggregate TLS report (RFC 8460) from ${host} about mail to ${domain}.`, '',
      `--${boundary}`, 'Content-Type: application/tlsrpt+gzip', 'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="${file}"`, '', gz, '',
      `--${boundary}--`, '',
    ].join('\r\n'));
    const msgId = `tlsrpt.${randomBytes(6).toString('hex')}`;
    await this.opts.store.deliver({
      msgId, mailFrom: this.opts.from, raw, relayRaw: raw, local: [], remote: rua,
      journey: [{ msgId, agent: 'MTA out', step: 'tls report', details: { domain, to: rua, reportId: id } }],
      queueData: { user: this.opts.from },
    });
  }
}
