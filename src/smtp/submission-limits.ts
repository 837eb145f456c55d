// Per-user submission limits (465/587): a stolen password must not burn the server's reputation.
// Messages and recipients per hour and per day (config submission*); past them the command gets
// 451 4.7.1 (RFC 5321 §4.2.5 / RFC 3463: a temporary refusal by policy), with one log line and one
// journey step per transaction saying which limit and how much was used.
//
// Where the counts live: every accepted submission is a row written in the delivery's own
// transaction (store.submissions, Delivery.submission), so they survive a restart and kill -9
// exactly, `postoffice user limits ADDRESS` reads them from another process, and its --reset
// takes effect at once. Messages between their check at DATA and their commit are held in memory
// (in flight): the check and the reservation happen with no await between them, so sessions of
// one user submitting at the same moment cannot all slip under the limit together.
import type { SMTPServerSession } from 'smtp-server';
import type { Config } from '../config/config.js';
import { metrics } from '../log/metrics.js';
import { SmtpReply } from '../mail/errors.js';
import type { Store } from '../store/index.js';
import { transactionId, type SessionUser, type SmtpContext } from './context.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export interface SubmissionUsage {
  messagesHour: number;
  recipientsHour: number;
  messagesDay: number;
  recipientsDay: number;
}

export interface SubmissionQuota {
  messagesPerHour: number;
  recipientsPerHour: number;
  messagesPerDay: number;
  recipientsPerDay: number;
}

export function quotaOf(config: Config): SubmissionQuota {
  return {
    messagesPerHour: config.submissionMessagesPerHour, recipientsPerHour: config.submissionRecipientsPerHour,
    messagesPerDay: config.submissionMessagesPerDay, recipientsPerDay: config.submissionRecipientsPerDay,
  };
}

/** The first limit that `messages` more messages with `recipients` more recipients would pass, or null. */
export function exceeded(u: SubmissionUsage, q: SubmissionQuota, messages: number, recipients: number): { limit: string; used: number; max: number } | null {
  const checks: [string, number, number, number][] = [
    ['messages per hour', u.messagesHour, messages, q.messagesPerHour],
    ['messages per day', u.messagesDay, messages, q.messagesPerDay],
    ['recipients per hour', u.recipientsHour, recipients, q.recipientsPerHour],
    ['recipients per day', u.recipientsDay, recipients, q.recipientsPerDay],
  ];
  for (const [limit, used, more, max] of checks) if (max > 0 && more > 0 && used + more > max) return { limit, used, max };
  return null;
}

/** One per store (per post office): every SMTP listener of it shares the messages in flight. */
export class SubmissionLimits {
  /** reserved at DATA, not yet committed: per user */
  private readonly inflight = new Map<number, { messages: number; recipients: number }>();
  /** per user: how many reservations ended so far (a count read before one ended may miss its row) */
  private readonly ended = new Map<number, number>();

  constructor(private readonly store: Store, readonly quota: SubmissionQuota) {}

  get enabled(): boolean {
    const q = this.quota;
    return q.messagesPerHour > 0 || q.recipientsPerHour > 0 || q.messagesPerDay > 0 || q.recipientsPerDay > 0;
  }

  /** What the user submitted in the last hour and day (committed, from the store). */
  async committed(userId: number): Promise<SubmissionUsage> {
    const now = Date.now();
    const [hour, day] = await Promise.all([this.store.submissions.count(userId, now - HOUR), this.store.submissions.count(userId, now - DAY)]);
    return { messagesHour: hour.messages, recipientsHour: hour.recipients, messagesDay: day.messages, recipientsDay: day.recipients };
  }

  /** Committed plus in flight; call with no await between this and acting on it. */
  private withInflight(userId: number, u: SubmissionUsage): SubmissionUsage {
    const f = this.inflight.get(userId);
    if (!f) return u;
    return { messagesHour: u.messagesHour + f.messages, recipientsHour: u.recipientsHour + f.recipients, messagesDay: u.messagesDay + f.messages, recipientsDay: u.recipientsDay + f.recipients };
  }

  async usage(userId: number): Promise<SubmissionUsage> {
    return this.withInflight(userId, await this.committed(userId));
  }

  /** Would `messages` more messages with `recipients` more recipients pass a limit? */
  async check(userId: number, messages: number, recipients: number): Promise<{ limit: string; used: number; max: number } | null> {
    if (!this.enabled) return null;
    return exceeded(await this.usage(userId), this.quota, messages, recipients);
  }

  /**
   * Reserve one message with `recipients` recipients, or say which limit it would pass. Call
   * `done` once the delivery committed (its row is then in the store) or failed.
   */
  async reserve(userId: number, recipients: number): Promise<{ over: { limit: string; used: number; max: number } } | { done(): void }> {
    if (!this.enabled) return { done: () => undefined };
    // A count read while another reservation of this user ended (its row committed, its in-flight
    // hold released) may have missed that row: read again until no reservation ended meanwhile.
    let stored: SubmissionUsage;
    for (;;) {
      const before = this.ended.get(userId) ?? 0;
      stored = await this.committed(userId);
      if ((this.ended.get(userId) ?? 0) === before) break;
    }
    // from here to the reservation nothing awaits: no other session of this user can pass in between
    const over = exceeded(this.withInflight(userId, stored), this.quota, 1, recipients);
    if (over) return { over };
    const f = this.inflight.get(userId) ?? { messages: 0, recipients: 0 };
    f.messages += 1;
    f.recipients += recipients;
    this.inflight.set(userId, f);
    let released = false;
    return {
      done: () => {
        if (released) return;
        released = true;
        this.ended.set(userId, (this.ended.get(userId) ?? 0) + 1);
        f.messages -= 1;
        f.recipients -= recipients;
        if (f.messages <= 0 && this.inflight.get(userId) === f) this.inflight.delete(userId);
      },
    };
  }
}

const byStore = new WeakMap<Store, SubmissionLimits>();

/** The limits of this post office (made on first use, shared by its SMTP listeners). */
export function submissionLimits(ctx: SmtpContext): SubmissionLimits {
  let l = byStore.get(ctx.store);
  if (!l) byStore.set(ctx.store, (l = new SubmissionLimits(ctx.store, quotaOf(ctx.config))));
  return l;
}

/** One log line and one journey step per transaction, however many commands hit the limit. */
const told = new WeakMap<object, true>();

async function refuse(ctx: SmtpContext, session: SMTPServerSession, user: SessionUser, over: { limit: string; used: number; max: number }, cmd: string): Promise<never> {
  const reply = new SmtpReply(451, '4.7.1', `submission limit reached for ${user.address}: ${over.used} of ${over.max} ${over.limit}; try again later`);
  const key = session.envelope ?? session;
  metrics.policyRefusals.inc({ office: ctx.config.hostname, policy: 'submission-limit' });
  if (!told.has(key)) {
    told.set(key, true);
    const msgId = transactionId(session);
    ctx.log.warn({ sid: session.id, id: msgId, user: user.address, client: session.remoteAddress, cmd, limit: over.limit, used: over.used, max: over.max }, 'submission limit reached');
    await ctx.store.journey.record([{
      msgId, agent: 'MTA in', step: 'refused',
      details: { why: 'submission limit', user: user.address, listener: ctx.listener, client: session.remoteAddress, limit: over.limit, used: over.used, max: over.max, reply: `451 ${reply.wire}` },
    }]).catch((err: unknown) => ctx.log.error({ err, code: 'STORE_WRITE_FAILED' }, 'journey record failed'));
  }
  throw reply;
}

/** MAIL on 465/587: one more message must fit in the hour and the day. */
export async function checkSubmissionMail(ctx: SmtpContext, session: SMTPServerSession, user: SessionUser): Promise<void> {
  const over = await submissionLimits(ctx).check(user.id, 1, 1);
  if (over) await refuse(ctx, session, user, over, 'MAIL');
}

/** RCPT on 465/587: this recipient, after the `accepted` ones of the transaction, must fit. */
export async function checkSubmissionRcpt(ctx: SmtpContext, session: SMTPServerSession, user: SessionUser, accepted: number): Promise<void> {
  const over = await submissionLimits(ctx).check(user.id, 1, accepted + 1);
  if (over) await refuse(ctx, session, user, over, 'RCPT');
}

/** DATA: count the message before it is committed (concurrent sessions of one user are serialised here); `done` after the delivery. */
export async function reserveSubmission(ctx: SmtpContext, session: SMTPServerSession, user: SessionUser, recipients: number): Promise<{ done(): void }> {
  const r = await submissionLimits(ctx).reserve(user.id, recipients);
  if ('over' in r) return refuse(ctx, session, user, r.over, 'DATA');
  return r;
}
