// Per-user submission limits: what each user submitted in the last day (rows written by deliver).
import type { SubmissionRecord } from '../types.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import type { Tx, Writer } from './writer.js';

/** Inside deliver's transaction: count the message for its user, and drop that user's rows older than a day. */
export function recordSubmission(tx: Tx, userId: number, time: number, recipients: number, msgId: string): void {
  tx.st('INSERT INTO submissions (user_id, time, recipients, msg_id) VALUES (?, ?, ?, ?)').run(userId, time, recipients, msgId);
  tx.st('DELETE FROM submissions WHERE user_id = ? AND time < ?').run(userId, time - 86_400_000);
}

export const submissionReads = {
  count: async (r: Reader, userId: number, since: number): Promise<{ messages: number; recipients: number }> => {
    const row = r.st('SELECT count(*) AS messages, coalesce(sum(recipients), 0) AS recipients FROM submissions WHERE user_id = ? AND time >= ?').get(userId, since) as Row;
    return { messages: row.messages as number, recipients: row.recipients as number };
  },
  recent: async (r: Reader, userId: number, since: number, limit: number): Promise<SubmissionRecord[]> =>
    (r.st('SELECT time, recipients, msg_id FROM submissions WHERE user_id = ? AND time >= ? ORDER BY time DESC LIMIT ?').all(userId, since, limit) as Row[])
      .map((row) => ({ time: row.time as number, recipients: row.recipients as number, msgId: row.msg_id as string })),
};

export const submissionWrites = {
  reset: (w: Writer, userId: number): Promise<number> =>
    w.write((tx) => tx.st('DELETE FROM submissions WHERE user_id = ?').run(userId).changes),
};
