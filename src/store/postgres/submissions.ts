// Submission limits: what each user sent lately (deliveries record it, deliver.ts), counted
// for the per-user message and recipient limits.
import type { SubmissionRecord } from '../types.js';
import type { Pg } from './context.js';

export const submissions = {
  count: async (pg: Pg, userId: number, since: number): Promise<{ messages: number; recipients: number }> => {
    const r = (await pg.db.readOne('SELECT count(*) AS messages, coalesce(sum(recipients), 0) AS recipients FROM submissions WHERE user_id = $1 AND time >= $2', [userId, since]))!;
    return { messages: r.messages as number, recipients: r.recipients as number };
  },
  recent: async (pg: Pg, userId: number, since: number, limit: number): Promise<SubmissionRecord[]> =>
    (await pg.db.read('SELECT time, recipients, msg_id FROM submissions WHERE user_id = $1 AND time >= $2 ORDER BY time DESC LIMIT $3', [userId, since, limit]))
      .map((r) => ({ time: r.time as number, recipients: r.recipients as number, msgId: r.msg_id as string })),
  reset: (pg: Pg, userId: number): Promise<number> => pg.db.tx((t) => t.run('DELETE FROM submissions WHERE user_id = $1', [userId])),
};
