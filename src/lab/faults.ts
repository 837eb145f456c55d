// Lab: faults to watch what goes wrong on the way and how mail recovers. A fault is armed just
// before the lab submits the message it is meant for, and is used up attempt by attempt. RCPT faults
// match the message's envelope (from, to); connection faults see only TCP, so they take the next
// connection from the sending office's address; DNS faults take the next MX question for the
// recipient's domain (another message to that domain at the same moment may take one instead):
//   greylist      RCPT answered 451 4.7.1 on the first try, accepted on the next (RFC 6647)
//   tempfail[:N]  RCPT answered 451 4.3.0 N times (default 2), then accepted
//   reject        RCPT answered 550 5.1.1: the sender gets an RFC 3464 bounce
//   slow[:N]      the greeting comes later than the relay waits for it, N times (default 1)
//   tls-broken[:N] STARTTLS is offered, then the handshake fails, N times (default 1)
//   down[:S]      nothing listens on the receiver's MX port for S seconds (default 12)
//   null-mx       DNS says the domain accepts no mail: MX 0 "." (RFC 7505), a bounce
//   dns-servfail[:N] DNS answers the MX question with SERVFAIL, N times (default 1)
// RCPT faults act through the receiving office's rcptPolicy, connection faults through its wire
// (lab/wire.ts), DNS faults through the lab's DNS (lab/dns.ts, TTL 0 so no cache hides them).
import { SmtpReply } from '../mail/errors.js';
import type { RcptPolicy } from '../smtp/context.js';
import type { DnsQuestion, Zone } from './dns.js';

export const FAULT_NAMES = ['greylist', 'tempfail', 'reject', 'slow', 'tls-broken', 'down', 'null-mx', 'dns-servfail'] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export interface FaultSpec {
  name: FaultName;
  /** how many attempts it spoils (down: seconds) */
  n: number;
}

const DEFAULT_N: Record<FaultName, number> = { greylist: 1, tempfail: 2, reject: 1, slow: 1, 'tls-broken': 1, down: 12, 'null-mx': 1, 'dns-servfail': 1 };
const MAX_N: Record<FaultName, number> = { greylist: 1, tempfail: 10, reject: 1, slow: 10, 'tls-broken': 10, down: 600, 'null-mx': 1, 'dns-servfail': 10 };

/** "tempfail:3" -> { name: 'tempfail', n: 3 }; throws with the list of faults on anything else. */
export function parseFault(s: string): FaultSpec {
  const m = /^([a-z-]+)(?::(\d{1,4}))?$/.exec(s.trim().toLowerCase());
  const name = m?.[1] as FaultName | undefined;
  if (!m || !name || !FAULT_NAMES.includes(name)) throw new Error(`unknown fault ${JSON.stringify(s)}: use one of ${FAULT_NAMES.join(', ')} (tempfail:N, slow:N, tls-broken:N, dns-servfail:N, down:SECONDS)`);
  const n = m[2] === undefined ? DEFAULT_N[name] : Number(m[2]);
  if (n < 1 || n > MAX_N[name]) throw new Error(`fault ${name}: ${n} is out of range 1-${MAX_N[name]}`);
  return { name, n };
}

/** What the fault will do, in one sentence (printed by `lab send` and kept in the journey). */
export function describeFault(f: FaultSpec, to: string): string {
  const domain = to.split('@')[1] ?? to;
  switch (f.name) {
    case 'greylist': return `${domain} greylists: the first RCPT TO <${to}> gets "451 4.7.1", a retry is accepted`;
    case 'tempfail': return `${domain} answers RCPT TO <${to}> with "451 4.3.0" ${f.n} time(s), then accepts`;
    case 'reject': return `${domain} answers RCPT TO <${to}> with "550 5.1.1": a permanent failure, the sender gets a bounce`;
    case 'slow': return `${domain}'s MX holds back its greeting longer than the sending MTA waits, ${f.n} time(s)`;
    case 'tls-broken': return `${domain}'s MX offers STARTTLS but the handshake fails, ${f.n} time(s)`;
    case 'down': return `nothing listens on ${domain}'s MX port for ${f.n} s`;
    case 'null-mx': return `DNS says ${domain} accepts no mail (null MX, RFC 7505): the sender gets a bounce`;
    case 'dns-servfail': return `DNS answers the MX question for ${domain} with SERVFAIL ${f.n} time(s)`;
  }
}

/** armed faults kept at most (the oldest go first): faults never reached must not pile up */
export const MAX_ARMED = 100;

interface RcptFault { from: string; to: string; name: 'greylist' | 'tempfail' | 'reject'; left: number; total: number }
interface DnsFault { domain: string; name: 'null-mx' | 'dns-servfail'; left: number }

/** The armed RCPT and DNS faults (connection faults live in each office's wire). */
export class Faults {
  private readonly rcpt: RcptFault[] = [];
  private readonly dns: DnsFault[] = [];
  /** faults applied so far, newest last (bounded) */
  readonly applied: { time: number; name: FaultName; what: string }[] = [];

  armRcpt(name: RcptFault['name'], from: string, to: string, n: number): void {
    this.rcpt.push({ from: from.toLowerCase(), to: to.toLowerCase(), name, left: n, total: n });
    if (this.rcpt.length > MAX_ARMED) this.rcpt.shift();
  }

  armDns(name: DnsFault['name'], domain: string, n: number): void {
    this.dns.push({ domain: domain.toLowerCase(), name, left: n });
    if (this.dns.length > MAX_ARMED) this.dns.shift();
  }

  /** Faults still waiting for their attempts. */
  get pending(): number {
    return this.rcpt.length + this.dns.length;
  }

  private note(name: FaultName, what: string): void {
    this.applied.push({ time: Date.now(), name, what });
    if (this.applied.length > 200) this.applied.shift();
  }

  /** The receiving office's recipient check: port 25 only, for the envelope the fault was armed for. */
  readonly rcptPolicy: RcptPolicy = ({ listener, mailFrom, rcptTo }) => {
    if (listener !== 'smtp') return null;
    const i = this.rcpt.findIndex((f) => f.from === mailFrom.toLowerCase() && f.to === rcptTo.toLowerCase());
    if (i < 0) return null;
    const f = this.rcpt[i];
    if (--f.left <= 0) this.rcpt.splice(i, 1);
    this.note(f.name, `RCPT TO <${rcptTo}>`);
    switch (f.name) {
      // RFC 6647 §2.1: greylisting answers a new (client, sender, recipient) with a temporary failure
      case 'greylist': return new SmtpReply(451, '4.7.1', `<${rcptTo}>: greylisted, please try again later (lab fault)`);
      case 'tempfail': return new SmtpReply(451, '4.3.0', `<${rcptTo}>: temporary failure ${f.total - f.left} of ${f.total}, try again later (lab fault)`);
      case 'reject': return new SmtpReply(550, '5.1.1', `<${rcptTo}>: no such user here (lab fault)`);
    }
  };

  /** The lab DNS's override: the MX question of a domain with an armed DNS fault. */
  readonly dnsOverride = (q: DnsQuestion): Zone | undefined => {
    if (q.type !== 'MX') return undefined;
    const i = this.dns.findIndex((f) => f.domain === q.name);
    if (i < 0) return undefined;
    const f = this.dns[i];
    if (--f.left <= 0) this.dns.splice(i, 1);
    this.note(f.name, `MX ${q.name}`);
    // RFC 7505 §3: a single MX record of preference 0 and the root as exchange
    return f.name === 'null-mx' ? { MX: [[0, '.']] } : { servfail: true };
  };
}
