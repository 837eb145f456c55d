// The journey as `trace` returns it, the same for both backends: a journey table row, an access step
// (journey_access joined with its session) as a row, and their order.
import type { JourneyRow } from './types.js';

type Row = Record<string, unknown>;

/** a row of the journey table */
export function journeyRow(j: Row): JourneyRow {
  return { id: j.id as number, msgId: j.msg_id as string, messageId: (j.message_id as string) ?? null, time: j.time as number,
    agent: j.agent as JourneyRow['agent'], step: j.step as string, details: JSON.parse(j.details as string) as Record<string, unknown> };
}

/** an access step (a.msg_id, step, time, mailbox, uid with its session's sid, user, protocol, client) */
export function accessRow(a: Row): JourneyRow {
  const pop = (a.protocol as string).startsWith('pop3');
  const details: Record<string, unknown> = pop
    ? { user: a.user, proto: 'pop3', session: a.sid, client: a.client, uid: a.uid }
    : { user: a.user, session: a.sid, client: a.client, mailbox: a.mailbox, uid: a.uid };
  // id 0: a step kept in journey_access (sorted after the journey rows of its millisecond)
  return { id: 0, msgId: a.msg_id as string, messageId: null, time: a.time as number, agent: 'MUA access', step: a.step as string, details };
}

/** by time; in one millisecond, journey rows by id before access steps */
export function inJourneyOrder(rows: JourneyRow[]): JourneyRow[] {
  const order = (j: JourneyRow) => j.id || Number.MAX_SAFE_INTEGER;
  return rows.sort((a, b) => a.time - b.time || order(a) - order(b));
}
