// MTA in, port 25: who really sent this? SPF, DKIM, DMARC and ARC through mailauth, with DNS
// asked through our own stub resolver (config dnsServers). The verdicts go into an
// Authentication-Results: header and the journey; two of them can refuse the message.
// A DNS failure is never a reason to refuse: the verdict is then "temperror" and the mail is kept.
import { authenticate, spf, type AuthenticateResult } from 'mailauth';
import { SmtpReply } from '../mail/errors.js';
import { headerEnd } from '../mail/headers.js';

/** The part of the relay's dns2 Resolver (src/relay/mx.ts) used here; postoffice.ts passes it in. */
export interface DnsQuerier {
  query(name: string, type: 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME'): Promise<{ rcode: string; answers: { data: string; preference?: number }[] }>;
}

/** What mailauth wants: node's dns.promises.resolve shape, errors carrying node's codes. */
export type MailauthResolver = (name: string, rrtype: string) => Promise<string[][] | string[]>;

export type AuthVerdict = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy' | 'skipped';

export interface InboundAuthResult {
  spf: AuthVerdict;
  dkim: AuthVerdict;
  dmarc: AuthVerdict;
  arc: AuthVerdict;
  /** the sending domain each verdict is about */
  spfDomain: string | null;
  dkimDomains: string[];
  /** the signing domains whose DKIM signature verified */
  dkimPassDomains: string[];
  fromDomain: string | null;
  /** DMARC policy published for the From: domain (none/quarantine/reject), if any */
  dmarcPolicy: string | null;
  dmarcPct: number | null;
  /** "Authentication-Results: ..." + CRLF, ready to prepend */
  header: string;
  /** the DNS was out of reach (timeout or circuit open) */
  dnsUnavailable: boolean;
}

export interface InboundAuthOptions {
  dns: DnsQuerier;
  hostname: string;
  /** total time one message may spend waiting for DNS, ms */
  timeoutMs: number;
  /** after a message saw only DNS timeouts and the probe failed too, skip DNS this long (ms): an offline lab stays fast */
  breakerMs?: number;
  /** a name of our own (a local domain) asked to tell "resolver out of reach" from "the sender's DNS is silent" */
  probeName: string;
}

function dnsError(code: string, name: string): Error & { code: string } {
  return Object.assign(new Error(`${code} ${name}`), { code });
}

const RCODE_ERRORS: Record<string, string> = { NXDOMAIN: 'ENOTFOUND', SERVFAIL: 'ESERVFAIL', REFUSED: 'EREFUSED', FORMERR: 'EFORMERR', NOTIMP: 'ENOTIMP', TIMEOUT: 'ETIMEOUT' };
const TYPES = new Set(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME']);

/** The inbound checker: one per port-25 listener, sharing the DNS circuit breaker. */
export class InboundAuth {
  private downUntil = 0;
  constructor(private readonly opts: InboundAuthOptions) {}

  /** A resolver for one message: every query shares the message's deadline. */
  private resolverFor(deadline: number, seen: { answered: number; timedOut: number }): MailauthResolver {
    const dns = this.opts.dns;
    return async (name, rrtype) => {
      const type = rrtype.toUpperCase();
      if (!TYPES.has(type)) throw dnsError('ENOTIMP', name);
      const left = deadline - Date.now();
      if (left <= 0 || Date.now() < this.downUntil) {
        seen.timedOut++;
        throw dnsError('ETIMEOUT', name);
      }
      let timer: NodeJS.Timeout | undefined;
      const answer = await Promise.race([
        dns.query(name, type as 'TXT'),
        new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), left); }),
      ]).finally(() => clearTimeout(timer));
      if (!answer || answer.rcode === 'TIMEOUT') {
        seen.timedOut++;
        throw dnsError('ETIMEOUT', name);
      }
      seen.answered++;
      if (answer.rcode !== 'NOERROR') throw dnsError(RCODE_ERRORS[answer.rcode] ?? 'ESERVFAIL', name);
      if (!answer.answers.length) throw dnsError('ENODATA', name);
      if (type === 'TXT') return answer.answers.map((a) => [a.data]);
      if (type === 'MX') return answer.answers.map((a) => ({ exchange: a.data.replace(/\.$/, ''), priority: a.preference ?? 0 })) as unknown as string[];
      return answer.answers.map((a) => a.data.replace(/\.$/, ''));
    };
  }

  private async resolverAnswers(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const probe = this.opts.dns.query(this.opts.probeName, 'TXT').then((a) => a.rcode !== 'TIMEOUT', () => false);
    const limit = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), Math.min(500, this.opts.timeoutMs)); });
    return Promise.race([probe, limit]).finally(() => clearTimeout(timer));
  }

  /** RFC 7208 / RFC 6376 / RFC 7489 / RFC 8617: check one message as received on port 25. */
  async check(message: Buffer, env: { ip: string; helo: string; mailFrom: string }): Promise<InboundAuthResult> {
    const started = Date.now();
    const deadline = started + this.opts.timeoutMs;
    const seen = { answered: 0, timedOut: 0 };
    let res: AuthenticateResult | null = null;
    try {
      res = await authenticate(message, {
        ip: env.ip, helo: env.helo || undefined,
        // RFC 7208 §2.4: a null reverse-path is checked as postmaster@<HELO> (never the message's own Return-Path:)
        sender: env.mailFrom || `postmaster@${env.helo || 'unknown'}`, mta: this.opts.hostname,
        resolver: this.resolverFor(deadline, seen), disableBimi: true,
      });
    } catch {
      res = null; // mailauth itself failed (malformed input): report temperror below, never crash
    }
    // DNS never answered for this message. Either the resolver is out of reach (an offline lab: stop
    // asking for a while) or the sender's own DNS is silent (an attacker must not switch our checks
    // off that way): ask the resolver about one of our own names to tell which.
    const wasDown = started < this.downUntil; // already known to be down: no second probe
    if (seen.timedOut && !seen.answered && !wasDown && !(await this.resolverAnswers())) this.downUntil = Date.now() + (this.opts.breakerMs ?? 30_000);
    return summarise(res, this.opts.hostname, env, seen.timedOut > 0);
  }

  /**
   * RFC 7208 §4 check_host() alone, for MAIL FROM time (localSenderOnPort25): may `ip` send mail
   * from `sender`'s domain? (A null sender is checked as postmaster@<HELO>, §2.4.) DNS out of reach
   * gives temperror, with the same circuit breaker as check().
   */
  async spf(env: { ip: string; helo: string; sender: string }): Promise<AuthVerdict> {
    const started = Date.now();
    const seen = { answered: 0, timedOut: 0 };
    let result: AuthVerdict = 'temperror';
    try {
      const r = await spf({
        ip: env.ip, helo: env.helo || undefined, sender: env.sender || `postmaster@${env.helo || 'unknown'}`, mta: this.opts.hostname,
        resolver: this.resolverFor(started + this.opts.timeoutMs, seen),
      } as Parameters<typeof spf>[0]);
      result = verdict((r as { status?: { result?: string } }).status?.result);
    } catch {
      result = 'temperror';
    }
    const wasDown = started < this.downUntil;
    if (seen.timedOut && !seen.answered && !wasDown && !(await this.resolverAnswers())) this.downUntil = Date.now() + (this.opts.breakerMs ?? 30_000);
    return result;
  }
}

function verdict(v: string | undefined): AuthVerdict {
  if (v === 'temperr') return 'temperror';
  return (v ?? 'none') as AuthVerdict;
}

/** The strongest DKIM verdict among the signatures (RFC 8601 §2.7.1 allows one result per signature). */
function dkimVerdict(results: { status: { result: string } }[]): AuthVerdict {
  if (!results.length) return 'none';
  for (const want of ['pass', 'temperror', 'fail', 'policy', 'neutral', 'permerror']) {
    if (results.some((r) => verdict(r.status.result) === want)) return want as AuthVerdict;
  }
  return verdict(results[0].status.result);
}

function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1).toLowerCase() : null;
}

function summarise(res: AuthenticateResult | null, hostname: string, env: { mailFrom: string; helo: string }, dnsUnavailable: boolean): InboundAuthResult {
  if (!res) {
    const spfDomain = domainOf(env.mailFrom) ?? (env.helo || null);
    return {
      spf: 'temperror', dkim: 'temperror', dmarc: 'temperror', arc: 'none', spfDomain, dkimDomains: [], dkimPassDomains: [], fromDomain: null,
      dmarcPolicy: null, dmarcPct: null, dnsUnavailable,
      // RFC 8601 §2.2: authserv-id first, then one "method=result" per check
      header: `Authentication-Results: ${hostname};\r\n spf=temperror smtp.mailfrom=${env.mailFrom || 'postmaster@' + (env.helo || 'unknown')};\r\n dkim=temperror;\r\n dmarc=temperror\r\n`,
    };
  }
  const dkimResults = (res.dkim?.results ?? []) as unknown as { status: { result: string }; signingDomain?: string; info?: string }[];
  const dmarc = res.dmarc || null;
  const arc = res.arc || null;
  const spf = res.spf || null;
  const parts: string[] = [];
  // RFC 8601 §2.7: dkim (one per signature), spf, arc, dmarc, each as mailauth formats it
  if (dkimResults.length) for (const r of dkimResults) parts.push(r.info ?? `dkim=${verdict(r.status.result)}`);
  else parts.push('dkim=none');
  parts.push(spf?.info ?? 'spf=none');
  parts.push(arc && arc.info ? arc.info : `arc=${verdict(arc ? arc.status?.result : 'none')}`); // RFC 8617 §10.1
  parts.push(dmarc?.info ?? 'dmarc=none');
  const oneLine = (s: string) => s.replace(/\r?\n[ \t]*/g, ' ').replace(/[^\x20-\x7e]/g, '?');
  const header = `Authentication-Results: ${hostname};\r\n ${parts.map(oneLine).join(';\r\n ')}\r\n`;
  return {
    spf: verdict(spf?.status?.result),
    dkim: dkimVerdict(dkimResults),
    dmarc: verdict(dmarc ? dmarc.status.result : 'none'),
    arc: verdict(arc ? arc.status?.result : 'none'),
    spfDomain: spf ? (spf as unknown as { domain?: string }).domain ?? null : null,
    dkimDomains: [...new Set(dkimResults.map((r) => r.signingDomain).filter((d): d is string => !!d))],
    dkimPassDomains: [...new Set(dkimResults.filter((r) => verdict(r.status.result) === 'pass').map((r) => r.signingDomain?.toLowerCase()).filter((d): d is string => !!d))],
    fromDomain: (res.dkim as unknown as { headerFrom?: string[] })?.headerFrom?.map((a) => domainOf(a)).find((d): d is string => !!d) ?? null,
    dmarcPolicy: dmarc?.policy ?? null,
    dmarcPct: typeof dmarc?.pct === 'number' ? dmarc.pct : null,
    header,
    dnsUnavailable,
  };
}

export interface InboundPolicy {
  dmarcReject: boolean;
  dmarcQuarantine: boolean;
  spfRejectLocalDomains: boolean;
  isLocalDomain(domain: string): Promise<boolean>;
}

/**
 * Refuse what the verdicts condemn, and say what is to be quarantined; a temperror or missing
 * record never refuses. The answer is 'quarantine' (file into the recipient's Junk) or 'deliver'.
 */
export async function enforce(r: InboundAuthResult, mailFrom: string, policy: InboundPolicy): Promise<'deliver' | 'quarantine'> {
  // RFC 7208 §8.4: "fail" means the domain owner says this host may not send for it. For our own
  // domains we know no one else may: refuse (RFC 7372 §3.2: 5.7.23 SPF validation failed).
  const senderDomain = domainOf(mailFrom);
  if (policy.spfRejectLocalDomains && r.spf === 'fail' && senderDomain && (await policy.isLocalDomain(senderDomain))) {
    throw new SmtpReply(550, '5.7.23', `SPF validation failed: this host may not send mail from ${senderDomain}`);
  }
  if (r.dmarc !== 'fail') return 'deliver';
  // RFC 7489 §6.3 pct: the policy applies to pct% of failing mail; the rest gets the next policy
  // down (reject -> quarantine -> none)
  const sampled = () => { const pct = r.dmarcPct ?? 100; return pct >= 100 || Math.random() * 100 < pct; };
  if (r.dmarcPolicy === 'reject') {
    // §6.6.4: refused; an operator who turned refusals off still gets it in Junk (§6.7 local policy)
    if (policy.dmarcReject && sampled()) {
      throw new SmtpReply(550, '5.7.1', `DMARC policy of ${r.fromDomain ?? 'the From: domain'} rejects this message (SPF and DKIM not aligned)`);
    }
    return policy.dmarcQuarantine ? 'quarantine' : 'deliver';
  }
  // §6.3 p=quarantine: "treat with suspicion": the recipient's Junk mailbox
  if (r.dmarcPolicy === 'quarantine' && policy.dmarcQuarantine && sampled()) return 'quarantine';
  return 'deliver';
}

/**
 * RFC 8601 §5: Authentication-Results claiming our authserv-id did not come from us: drop them
 * from the header block before adding ours, so a sender cannot forge our verdicts.
 */
export function stripForgedResults(message: Buffer, hostname: string): Buffer {
  const h = headerEnd(message);
  // only a CRLF message (DATA is normalised to CRLF before this) has its fields rewritten
  if (!h || h.bodyStart - h.fieldsEnd !== 2) return message;
  const end = h.fieldsEnd;
  const head = message.subarray(0, end).toString('latin1');
  if (!/(^|\n)authentication-results:/i.test(head)) return message;
  // whole fields: a line and its folded continuations (the authserv-id may sit on the next line)
  const fields = head.split(/\r\n(?![ \t])/).filter((f, i, a) => i < a.length - 1 || f !== '');
  const id = hostname.toLowerCase();
  const out = fields.filter((f) => {
    const m = /^authentication-results:\s*([^;\s]+)/i.exec(f.replace(/\r\n[ \t]+/g, ' '));
    return !m || m[1].toLowerCase() !== id;
  }).map((f) => f + '\r\n');
  const kept = out.join('');
  return kept.length === head.length ? message : Buffer.concat([Buffer.from(kept, 'latin1'), message.subarray(end)]);
}
