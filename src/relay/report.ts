// MTA out's RFC 3464 reports on a queue entry: a bounce, a delay warning, or a "relayed" success
// report (RFC 3461 §6.2.1 d). The report is built in mail/dsn.ts; here it goes to the sender as
// RFC 3461 §4.1 asks, through the same store.deliver as any mail: to the sender's local mailbox,
// or queued to the sender's domain.
import { reportMessage, reportRecipients, REPORT_STEPS, type DsnRecipient, type NoReport, type ReportAbout, type ReportKind } from '../mail/dsn.js';
import type { JourneyEvent, Store } from '../store/types.js';

/** The original's journey steps so far and how to make one more: a report commits them (and its
 *  own "sent" step) with itself and empties the list, so that once a report is in the sender's
 *  mailbox the trace shows it sent and why. */
export interface Carry { events: JourneyEvent[]; step: (step: string, details: Record<string, unknown>) => JourneyEvent }

/** Sends a report of this kind to the original's sender: null once it is committed (with the
 *  carried steps and its "sent" step), or why none was sent (the step to record instead). */
export async function sendReport(store: Store, o: {
  reportingMta: string; about: ReportAbout; original: () => Promise<Buffer>; recipients: DsnRecipient[]; kind: ReportKind;
  agent: JourneyEvent['agent']; dsnId: string; lastAttempt?: Date; willRetryUntil?: Date; carry: Carry;
}): Promise<NoReport | null> {
  const { about, kind } = o;
  const wanted = reportRecipients(about, kind, o.recipients);
  if (!Array.isArray(wanted)) return wanted;
  const raw = reportMessage({ ...o, recipients: wanted, original: await o.original() });
  const res = await store.users.resolve(about.mailFrom);
  const local = res.kind === 'local' ? res.users.map((u) => ({ userId: u.userId, address: u.address, rcptTo: about.mailFrom })) : [];
  const remote = res.kind === 'local' ? res.remote : res.kind === 'remote' ? [about.mailFrom] : [];
  if (!local.length && !remote.length) return { step: 'not reported', details: { why: `the sender ${about.mailFrom} is no local user`, kind } };
  const sent = o.carry.step(REPORT_STEPS[kind].sent, { dsn: o.dsnId, to: about.mailFrom, rcpts: wanted.map((r) => `${r.address} ${r.status}`) });
  await store.deliver({
    msgId: o.dsnId, mailFrom: '', raw: Buffer.concat([Buffer.from('Return-Path: <>\r\n'), raw]), relayRaw: raw, local, remote,
    journey: [...o.carry.events, sent, { msgId: o.dsnId, agent: o.agent, step: REPORT_STEPS[kind].created, details: { about: about.msgId, to: about.mailFrom, rcpts: wanted.map((r) => r.address) } }],
    queueData: { reportFor: about.msgId },
  });
  o.carry.events.length = 0;
  return null;
}
