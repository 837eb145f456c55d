// Per-user submission limits (465/587): a stolen password must not burn the server's reputation.
// Messages and recipients per hour and per day (config submission*); past them the command gets
// 451 4.7.1 (RFC 5321 §4.2.5 / RFC 3463: a temporary refusal by policy), with one log line and one
// journey step per transaction saying which limit and how much was used.
//
// Where the counts live: every accepted submission is a row written in the delivery's own
// transaction (store.submissions, Delivery.submission), so they survive a restart and kill -9
// exactly, `postoffice user limits ADDRESS` reads them from another process, and its --reset
// takes effect at once. At DATA one user's reservations take turns: each reads the committed count
// only once the user's earlier reservation has committed or failed, so the count is exact (nothing of
// that user is half-way between "reserved" and "visible in the store"), and sessions of one user
// submitting at the same moment can neither slip under the limit together nor be refused for a
// message counted twice. (Taking turns costs nothing real: one commit is milliseconds, the limits
// are per hour.)
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

/** One per store (per post office): every SMTP listener of it shares the turns of each user. */
export class SubmissionLimits {
  /** per user: settles when the user's newest reservation has committed or failed */
  private readonly turns = new Map<number, Promise<void>>();

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

  async usage(userId: number): Promise<SubmissionUsage> {
    return this.committed(userId);
  }

  /** Would `messages` more messages with `recipients` more recipients pass a limit? (MAIL: committed counts only) */
  async check(userId: number, messages: number, recipients: number): Promise<{ limit: string; used: number; max: number } | null> {
    if (!this.enabled) return null;
    return exceeded(await this.committed(userId), this.quota, messages, recipients);
  }

  /**
   * Reserve one message with `recipients` recipients, or say which limit it would pass. Call
   * `done` once the delivery committed (its row is then in the store) or failed: the user's next
   * reservation waits for it.
   */
  async reserve(userId: number, recipients: number): Promise<{ over: { limit: string; used: number; max: number } } | { done(): void }> {
    if (!this.enabled) return { done: () => undefined };
    const before = this.turns.get(userId);
    let finish!: () => void;
    const mine = new Promise<void>((resolve) => { finish = resolve; });
    const turn = (before ?? Promise.resolve()).then(() => mine);
    this.turns.set(userId, turn);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      finish();
      if (this.turns.get(userId) === turn) this.turns.delete(userId);
    };
    try {
      await before;
      const over = exceeded(await this.committed(userId), this.quota, 1, recipients);
      if (over) { end(); return { over }; }
      return { done: end };
    } catch (err) {
      end();
      throw err;
    }
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
