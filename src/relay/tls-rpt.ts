// SMTP TLS Reporting (RFC 8460) for the MTA-STS policies the relay applied: every session to an MX
// of a domain with a policy counts as a success or a failure of a given result type (§4.3); once a
// UTC day is over, each domain that publishes `_smtp._tls` TXT with a mailto: rua gets one aggregate
// report (§4.4 JSON, gzip, §5.3 mail) through our own queue. Counts live in memory: a restart
// loses the day's counts so far (reports are advisory).
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
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
}

export class TlsReporter {
  private readonly days = new Map<number, Map<string, DomainDay>>();
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
   * mail per domain and rua address. Returns the report ids queued.
   */
  async flush(force = false): Promise<string[]> {
    const today = dayOf(this.now());
    const sent: string[] = [];
    for (const [day, domains] of [...this.days]) {
      if (day >= today && !force) continue;
      this.days.delete(day);
      for (const [domain, d] of domains) {
        const rua = await this.rua(domain);
        if (!rua.length) continue;
        const id = `${new Date(day).toISOString().slice(0, 10)}.${randomBytes(6).toString('hex')}@${this.opts.hostname}`;
        const end = Math.min(day + DAY_MS, this.now()) - 1000;
        const report = this.report(domain, d, day, end, id);
        await this.mail(domain, rua, report, id, day, end);
        sent.push(id);
      }
    }
    return sent;
  }

  /** §3: the mailto: addresses of `_smtp._tls.DOMAIN` (https: reporting is not implemented). */
  private async rua(domain: string): Promise<string[]> {
    try {
      const txt = await this.opts.resolver.query(`_smtp._tls.${domain}`, 'TXT');
      const rec = txt.answers.map((a) => a.data).find((t) => /^v=TLSRPTv1\s*;/i.test(t));
      const m = rec ? /(?:^|;)\s*rua=([^;]+)/i.exec(rec) : null;
      return m ? m[1].split(',').map((u) => u.trim()).filter((u) => /^mailto:[^@\s]+@[^@\s]+$/i.test(u)).map((u) => decodeURIComponent(u.slice(7))) : [];
    } catch {
      return [];
    }
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
