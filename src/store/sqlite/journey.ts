// The journey: every agent's steps of a message (written in the transaction of the change they
// describe, see copies.ts insertJourney), the compact "MDA <- MUA" access steps, and the reads
// that make a trace and the dashboard's list.
import { accessRow, inJourneyOrder, journeyRow } from '../journey-rows.js';
import type { AccessSession, AccessStep, JourneyEvent, JourneyRow, JourneySummary } from '../types.js';
import { insertJourney } from './copies.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export const journeyWrites = {
  record: (w: Writer, events: JourneyEvent[]): Promise<void> => w.write((tx) => insertJourney(tx, events)),
  accessed: (w: Writer, session: AccessSession, step: 'fetched' | 'retrieved', messages: AccessStep[]): Promise<void> =>
    w.write((tx) => {
      const now = Date.now();
      const s = tx.st(`INSERT INTO access_sessions (sid, user, protocol, client, started) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (sid) DO UPDATE SET client = excluded.client RETURNING id`).get(session.sid, session.user, session.protocol, session.client, now) as Row;
      const st = tx.st('INSERT OR IGNORE INTO journey_access (msg_id, session_id, step, time, mailbox, uid) VALUES (?, ?, ?, ?, ?, ?)');
      for (const m of messages) st.run(m.msgId, s.id, step, m.time ?? now, m.mailbox, m.uid);
    }),
};

export const journeyReads = {
  /** by our id or by the Message-ID header (with or without <>) */
  trace: async (r: Reader, id: string): Promise<JourneyRow[]> => {
    const bare = id.trim().replace(/^<|>$/g, '');
    const ids = new Set<string>();
    ids.add(bare);
    for (const row of r.st('SELECT DISTINCT msg_id FROM journey WHERE message_id IN (?, ?)').all(bare, `<${bare}>`) as Row[]) ids.add(row.msg_id as string);
    const rows: JourneyRow[] = [];
    const st = r.st('SELECT * FROM journey WHERE msg_id = ? ORDER BY time, id');
    const acc = r.st(`SELECT a.msg_id, a.step, a.time, a.mailbox, a.uid, s.sid, s.user, s.protocol, s.client
      FROM journey_access a JOIN access_sessions s ON s.id = a.session_id WHERE a.msg_id = ?`);
    for (const m of ids) {
      for (const j of st.all(m) as Row[]) rows.push(journeyRow(j));
      for (const a of acc.all(m) as Row[]) rows.push(accessRow(a));
    }
    return inJourneyOrder(rows);
  },
  // The list follows the journey table (rows with ids, so a live view can ask for what came
  // after the last id it saw); `steps` also counts the compact access steps, as trace shows them.
  recent: async (r: Reader, opts: { limit: number; afterId?: number; beforeTime?: number }): Promise<JourneySummary[]> => {
    const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 1000));
    const before = opts.beforeTime ?? Number.MAX_SAFE_INTEGER;
    const rows = r.st('SELECT msg_id FROM journey WHERE time < ? AND id > ? ORDER BY time DESC, id DESC').iterate(before, opts.afterId ?? 0) as IterableIterator<Row>;
    const agg = r.st('SELECT MIN(time) AS first, MAX(time) AS last, MAX(id) AS last_id, COUNT(*) AS steps, MAX(message_id) AS message_id FROM journey WHERE msg_id = ?');
    const lastSt = r.st('SELECT agent, step FROM journey WHERE msg_id = ? ORDER BY time DESC, id DESC LIMIT 1');
    const accessSt = r.st('SELECT COUNT(*) AS n FROM journey_access WHERE msg_id = ?');
    const subjectSt = r.st('SELECT subject FROM blobs WHERE message_id = ? LIMIT 1');
    const seen = new Set<string>();
    const out: JourneySummary[] = [];
    for (const row of rows) {
      const msgId = row.msg_id as string;
      if (seen.has(msgId)) continue;
      seen.add(msgId);
      const a = agg.get(msgId) as Row;
      // a step at or after beforeTime: the message was on a newer page already
      if ((a.last as number) >= before) continue;
      const last = lastSt.get(msgId) as Row;
      const messageId = (a.message_id as string) ?? null;
      const subject = messageId ? ((subjectSt.get(messageId) as Row | undefined)?.subject as string | undefined) ?? null : null;
      out.push({
        msgId, messageId, subject, first: a.first as number, last: a.last as number, lastAgent: last.agent as string, lastStep: last.step as string,
        lastId: a.last_id as number, steps: (a.steps as number) + ((accessSt.get(msgId) as Row).n as number),
      });
      if (out.length >= limit) break;
    }
    return out;
  },
  lastId: async (r: Reader): Promise<number> => ((r.st('SELECT MAX(id) AS id FROM journey').get() as Row).id as number | null) ?? 0,
};
