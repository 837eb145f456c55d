// MTA out: what one delivery attempt means for its queue entry, as a pure function (no I/O, no
// clock: `now` is given). The queue runner (queue-runner.ts) makes the attempt, asks decide(), then
// sends the reports and commits the entry's new state with the journey.
//
// Per pending recipient: 2xx delivered, 5xx bounced, 4xx or no answer deferred (smtp-client.ts).
// RFC 5321 §4.5.4.1: retry per the schedule; after the queue lifetime, what is still deferred is
// bounced (4.4.7). RFC 3464 reports: failure for the bounced, one delay warning after
// relayDelayWarning, and "relayed" (RFC 3461 §6.2.1 d) when the sender asked NOTIFY=SUCCESS
// (whether a recipient's NOTIFY wants a report is mail/dsn.ts reportRecipients).
import type { DsnRecipient } from '../mail/dsn.js';
import type { QueueData, QueueEntry, QueueRcpt } from '../store/types.js';
import type { RcptResult } from './smtp-client.js';

export interface RetryPolicy {
  /** delays between attempts in ms; the last one repeats */
  schedule: number[];
  /** ms after arrival when what is left is bounced */
  expireMs: number;
  /** ms after arrival before the sender is told of a delay (0 = never) */
  delayWarningMs: number;
}

export interface Decision {
  /** this attempt's number (the entry's attempts + 1) */
  attempt: number;
  delivered: string[];
  /** still pending, tried again at nextAttempt */
  deferred: string[];
  /** refused for good, or expired (those are in `expired` too) */
  bounced: string[];
  /** deferred until the queue lifetime ran out: bounced with 4.4.7 */
  expired: string[];
  /** ms since the entry was queued */
  age: number;
  /** each recipient's result, the expired ones rewritten as bounces */
  results: Map<string, RcptResult>;
  /** RFC 3464 reports to send (each still filtered by the recipients' NOTIFY) */
  reports: { success: DsnRecipient[] | null; failure: DsnRecipient[] | null; delay: DsnRecipient[] | null };
  /** the entry's new state: the recipients, the last reply, its data */
  rcpts: QueueRcpt[];
  lastReply: string | null;
  data: QueueData;
  /** when a recipient is still pending: the next try (per the schedule, never after the expiry); else null */
  nextAttempt: number | null;
}

/**
 * The outcome of one attempt on `entry`, whose pending recipients got `results` (a recipient
 * without a result counts as deferred).
 */
export function decide(entry: Pick<QueueEntry, 'rcpts' | 'attempts' | 'created' | 'lastReply' | 'data'>, results: ReadonlyMap<string, RcptResult>, now: number, policy: RetryPolicy): Decision {
  const pending = entry.rcpts.filter((r) => r.status === 'pending').map((r) => r.address);
  const attempt = entry.attempts + 1;
  const out = new Map(results);
  const byOutcome = (o: RcptResult['outcome']) => pending.filter((r) => (out.get(r)?.outcome ?? 'deferred') === o);
  const delivered = byOutcome('delivered');
  let bounced = byOutcome('bounced');
  let deferred = byOutcome('deferred');
  const data: QueueData = { ...entry.data };
  // the reply of the attempt (before an expiry rewrites it), else the one before
  const lastReply = [...results.values()].map((r) => r.reply).pop() ?? entry.lastReply;

  // RFC 3461 §6.2.1 d: NOTIFY=SUCCESS, and the next hop is not told of it (no DSN parameters are
  // passed on): a "relayed" report, as Postfix sends
  const wantsSuccess = Object.values(entry.data.notify ?? {}).some((n) => n.includes('SUCCESS'));
  const success = delivered.length && wantsSuccess ? delivered.map((r): DsnRecipient => {
    const x = out.get(r)!;
    return { address: r, action: 'relayed', status: x.status.startsWith('2') ? x.status : '2.0.0', remoteMta: x.remoteMta, diagnostic: x.reply };
  }) : null;

  // RFC 5321 §4.5.4.1: give up after the queue lifetime; what is left is bounced (4.4.7)
  const age = now - entry.created;
  let expired: string[] = [];
  if (deferred.length && age >= policy.expireMs) {
    for (const r of deferred) {
      const x = out.get(r);
      out.set(r, { outcome: 'bounced', status: '4.4.7', remoteMta: x?.remoteMta ?? null, reply: `delivery time expired after ${attempt} attempt(s); last reply: ${x?.reply ?? entry.lastReply ?? 'none'}` });
    }
    expired = deferred;
    bounced = [...bounced, ...deferred];
    deferred = [];
  }
  // the next try per the schedule, but no later than the expiry (which then bounces what is left)
  const s = policy.schedule.length ? policy.schedule : [300_000];
  const next = Math.max(now + 1000, Math.min(now + s[Math.min(attempt - 1, s.length - 1)], entry.created + policy.expireMs));

  const failure = bounced.length ? bounced.map((r): DsnRecipient => {
    const x = out.get(r)!;
    return { address: r, action: 'failed', status: x.status.startsWith('2') ? '5.0.0' : x.status, remoteMta: x.remoteMta, diagnostic: x.reply };
  }) : null;
  // RFC 3464 "delayed" report, once, after relayDelayWarning
  let delay: DsnRecipient[] | null = null;
  if (deferred.length && policy.delayWarningMs > 0 && age >= policy.delayWarningMs && !data.warned) {
    data.warned = true;
    delay = deferred.map((r) => {
      const x = out.get(r);
      return { address: r, action: 'delayed', status: x?.status.startsWith('4') ? x.status : '4.4.1', remoteMta: x?.remoteMta ?? null, diagnostic: x?.reply ?? null };
    });
  }

  const rcpts: QueueRcpt[] = entry.rcpts.map((r) => {
    const x = out.get(r.address);
    if (r.status !== 'pending' || !x) return r;
    return { address: r.address, status: bounced.includes(r.address) ? 'bounced' : x.outcome === 'delivered' ? 'delivered' : 'pending', reply: x.reply };
  });
  const left = rcpts.some((r) => r.status === 'pending');
  return {
    attempt, delivered, deferred, bounced, expired, age, results: out,
    reports: { success, failure, delay },
    rcpts, lastReply, data, nextAttempt: left ? next : null,
  };
}
