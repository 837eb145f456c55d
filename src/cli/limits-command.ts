// `postoffice user limits ADDRESS [--reset]`: what a user submitted in the last hour and day
// against the per-user submission limits (smtp/submission-limits.ts), read from the store, so it
// works beside a running server; --reset forgets the counts (after a compromised account was
// secured), and the server sees that at once (it reads the counts from the store).
import type { Config } from '../config/config.js';
import { StoreError, type Store } from '../store/index.js';
import { DAY, HOUR, exceeded, quotaOf } from '../smtp/submission-limits.js';

const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

export async function userLimitsCommand(config: Config, store: Store, args: string[]): Promise<string> {
  const reset = args.includes('--reset');
  const rest = args.filter((a) => a !== '--reset');
  if (rest.length !== 1 || rest[0].startsWith('-')) throw new LimitsUsage('user limits: expected ADDRESS [--reset]');
  const user = await store.users.get(rest[0].toLowerCase());
  if (!user) throw new StoreError('notfound', `no such user: ${rest[0]}`);
  if (reset) {
    const n = await store.submissions.reset(user.id);
    return `forgot ${n} submission(s) of ${user.address}: the limits count from zero again\n`;
  }
  const now = Date.now();
  const q = quotaOf(config);
  const [hour, day] = await Promise.all([store.submissions.count(user.id, now - HOUR), store.submissions.count(user.id, now - DAY)]);
  const u = { messagesHour: hour.messages, recipientsHour: hour.recipients, messagesDay: day.messages, recipientsDay: day.recipients };
  const lim = (n: number) => (n > 0 ? String(n) : 'none');
  const rows: [string, number, number][] = [
    ['messages per hour', u.messagesHour, q.messagesPerHour], ['recipients per hour', u.recipientsHour, q.recipientsPerHour],
    ['messages per day', u.messagesDay, q.messagesPerDay], ['recipients per day', u.recipientsDay, q.recipientsPerDay],
  ];
  const out = [`${user.address}: submission limits (ports 465 and 587; config submission*)`, ''];
  out.push(`  ${'limit'.padEnd(22)}${'used'.padStart(8)}${'max'.padStart(8)}`);
  for (const [name, used, max] of rows) out.push(`  ${name.padEnd(22)}${String(used).padStart(8)}${lim(max).padStart(8)}`);
  out.push('');
  // the next message with one recipient: would it pass?
  const over = exceeded(u, q, 1, 1);
  if (over) {
    const window = over.limit.endsWith('hour') ? HOUR : DAY;
    const oldest = (await store.submissions.recent(user.id, now - window, 100_000)).at(-1);
    out.push(`status: LIMITED (${over.limit}: ${over.used} of ${over.max}); new mail gets 451 4.7.1${oldest ? ` until about ${iso(oldest.time + window)}` : ''}`);
    out.push(`  if the account was compromised: change its password, then \`postoffice user limits ${user.address} --reset\``);
  } else {
    out.push('status: ok');
  }
  const recent = await store.submissions.recent(user.id, now - DAY, 10);
  if (recent.length) {
    out.push('', 'latest submissions:');
    for (const r of recent) out.push(`  ${iso(r.time)}  ${r.msgId}  ${r.recipients} recipient(s)`);
  }
  return out.join('\n') + '\n';
}

/** A usage error of this subcommand (exit status 2, as the CLI's own). */
export class LimitsUsage extends Error {}
