// The journey (every agent records each step of a message) and the access steps of IMAP and
// POP3 sessions: recording, one message's trace, and the dashboard's newest messages.
import { accessRow, inJourneyOrder, journeyRow } from '../journey-rows.js';
import type { AccessSession, AccessStep, JourneyEvent, JourneyRow, JourneySummary } from '../types.js';
import type { Pg } from './context.js';
import { txt, type PgTx, type Row } from './db.js';

/** one statement for every event (ids in the events' order) */
export async function insertJourney(t: PgTx, events: JourneyEvent[]): Promise<void> {
  if (!events.length) return;
  const now = Date.now();
  await t.run(`INSERT INTO journey (msg_id, message_id, time, agent, step, details)
    SELECT m, mi, tm, a, st, d FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x(m, mi, tm, a, st, d, i) ORDER BY i`,
  [events.map((e) => txt(e.msgId)), events.map((e) => txt(e.messageId ?? null)), events.map((e) => e.time ?? now), events.map((e) => e.agent),
    events.map((e) => txt(e.step)), events.map((e) => JSON.stringify(e.details ?? {}))]);
}

export const journey = {
  record: (pg: Pg, events: JourneyEvent[]): Promise<void> => pg.db.tx((t) => insertJourney(t, events)),
  accessed: (pg: Pg, session: AccessSession, step: 'fetched' | 'retrieved', messages: AccessStep[]): Promise<void> =>
    pg.db.tx(async (t) => {
      const s = await t.one(`INSERT INTO access_sessions (sid, "user", protocol, client, started) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (sid) DO UPDATE SET client = excluded.client RETURNING id`, [txt(session.sid), txt(session.user), session.protocol, txt(session.client), Date.now()]);
      if (!messages.length) return;
      const now = Date.now();
      await t.run(`INSERT INTO journey_access (msg_id, session_id, step, time, mailbox, uid)
        SELECT m, $2, $3, tm, mb, u FROM unnest($1::text[], $4::bigint[], $5::text[], $6::bigint[]) AS x(m, tm, mb, u)
        ON CONFLICT DO NOTHING`,
      [messages.map((m) => txt(m.msgId)), s!.id, step, messages.map((m) => m.time ?? now), messages.map((m) => txt(m.mailbox)), messages.map((m) => m.uid)]);
    }),
  trace: async (pg: Pg, id: string): Promise<JourneyRow[]> => {
    const bare = txt(id.trim().replace(/^<|>$/g, ''))!;
    const ids = new Set<string>([bare]);
    for (const r of await pg.db.read('SELECT DISTINCT msg_id FROM journey WHERE message_id IN ($1, $2)', [bare, `<${bare}>`])) ids.add(r.msg_id as string);
    const rows: JourneyRow[] = [];
    for (const m of ids) {
      for (const r of await pg.db.read('SELECT * FROM journey WHERE msg_id = $1 ORDER BY time, id', [m])) rows.push(journeyRow(r));
      for (const r of await pg.db.read(`SELECT a.msg_id, a.step, a.time, a.mailbox, a.uid, s.sid, s."user", s.protocol, s.client
        FROM journey_access a JOIN access_sessions s ON s.id = a.session_id WHERE a.msg_id = $1`, [m])) rows.push(accessRow(r));
    }
    return inJourneyOrder(rows);
  },
  // The newest messages by their newest step (after afterId), walked newest first a page at a time,
  // so a dashboard page reads a few hundred rows however long the journey is; a message with a step
  // at or after beforeTime was on a newer page already.
  recent: async (pg: Pg, opts: { limit: number; afterId?: number; beforeTime?: number }): Promise<JourneySummary[]> => {
    const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 1000));
    const before = opts.beforeTime ?? Number.MAX_SAFE_INTEGER;
    const after = opts.afterId ?? 0;
    const PAGE = 500;
    const seen = new Set<string>();
    const picked: Row[] = [];
    let cursor: [number, number] | null = null;
    while (picked.length < limit) {
      const rows: Row[] = cursor
        ? await pg.db.read('SELECT msg_id, time, id FROM journey WHERE time < $1 AND id > $2 AND (time, id) < ($3, $4) ORDER BY time DESC, id DESC LIMIT $5', [before, after, cursor[0], cursor[1], PAGE])
        : await pg.db.read('SELECT msg_id, time, id FROM journey WHERE time < $1 AND id > $2 ORDER BY time DESC, id DESC LIMIT $3', [before, after, PAGE]);
      const fresh: string[] = [];
      for (const r of rows) {
        const m = r.msg_id as string;
        if (!seen.has(m)) { seen.add(m); fresh.push(m); }
      }
      if (fresh.length) {
        const agg = new Map((await pg.db.read(`SELECT msg_id, MIN(time) AS first, MAX(time) AS last, MAX(id) AS last_id, COUNT(*) AS steps, MAX(message_id) AS message_id
          FROM journey WHERE msg_id = ANY($1::text[]) GROUP BY msg_id`, [fresh])).map((r) => [r.msg_id as string, r]));
        for (const m of fresh) {
          const a = agg.get(m);
          if (a && (a.last as number) < before) picked.push(a);
          if (picked.length >= limit) break;
        }
      }
      if (rows.length < PAGE) break;
      const l = rows[rows.length - 1];
      cursor = [l.time as number, l.id as number];
    }
    if (!picked.length) return [];
    const ids = picked.map((r) => r.msg_id as string);
    const extra = new Map((await pg.db.read(`SELECT m AS msg_id, l.agent, l.step,
        (SELECT COUNT(*) FROM journey_access x WHERE x.msg_id = m) AS access
      FROM unnest($1::text[]) AS m, LATERAL (SELECT agent, step FROM journey WHERE msg_id = m ORDER BY time DESC, id DESC LIMIT 1) l`, [ids])).map((r) => [r.msg_id as string, r]));
    const mids = [...new Set(picked.map((r) => r.message_id as string | null).filter((x): x is string => !!x))];
    const subjects = new Map(mids.length
      ? (await pg.db.read('SELECT DISTINCT ON (message_id) message_id, subject FROM blobs WHERE message_id = ANY($1::text[])', [mids])).map((r) => [r.message_id as string, (r.subject as string) ?? null])
      : []);
    return picked.map((r) => {
      const x = extra.get(r.msg_id as string)!;
      const messageId = (r.message_id as string) ?? null;
      return {
        msgId: r.msg_id as string, messageId, subject: messageId ? subjects.get(messageId) ?? null : null,
        first: r.first as number, last: r.last as number, lastAgent: x.agent as string, lastStep: x.step as string,
        lastId: r.last_id as number, steps: (r.steps as number) + (x.access as number),
      };
    });
  },
  lastId: async (pg: Pg): Promise<number> => ((await pg.db.readOne('SELECT MAX(id) AS id FROM journey'))?.id as number | null) ?? 0,
};
