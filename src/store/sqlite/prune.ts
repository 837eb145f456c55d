// Retention (store/retention.ts runs it): drops old transcripts (by start), then the oldest beyond
// the byte cap, then journey rows and access steps older than journeyBefore. Each step deletes in
// chunks, one write job each, so deliveries keep committing between them.
import type { Row } from './open.js';
import type { Writer } from './writer.js';

/** rows one retention job deletes before it lets other writes commit */
const PRUNE_CHUNK = 5000;
/** transcript sessions per job (a session is at most TRANSCRIPT_MAX_BYTES: a chunk is bounded in bytes too) */
const SESSIONS = 100;

export async function prune(w: Writer, opts: { transcriptsBefore: number; transcriptMaxBytes: number; journeyBefore: number }): Promise<{ transcripts: number; journey: number }> {
  let transcripts = 0;
  let journey = 0;
  for (;;) {
    const n = await w.write((tx) => tx.st('DELETE FROM transcripts WHERE id IN (SELECT id FROM transcripts WHERE started < ? ORDER BY started LIMIT ?)')
      .run(opts.transcriptsBefore, SESSIONS).changes);
    transcripts += n;
    if (n < SESSIONS) break;
  }
  const over = await w.write((tx) => {
    let total = 0;
    const ids: number[] = [];
    for (const r of tx.st('SELECT id, bytes FROM transcripts ORDER BY started DESC, id DESC').iterate() as IterableIterator<Row>) {
      total += r.bytes as number;
      if (total > opts.transcriptMaxBytes) ids.push(r.id as number);
    }
    return ids;
  });
  for (let i = 0; i < over.length; i += SESSIONS) {
    const chunk = over.slice(i, i + SESSIONS);
    transcripts += await w.write((tx) => {
      const del = tx.st('DELETE FROM transcripts WHERE id = ?');
      let n = 0;
      for (const id of chunk) n += del.run(id).changes;
      return n;
    });
  }
  for (;;) {
    const n = await w.write((tx) => tx.st('DELETE FROM journey WHERE id IN (SELECT id FROM journey WHERE time < ? LIMIT ?)')
      .run(opts.journeyBefore, PRUNE_CHUNK).changes);
    journey += n;
    if (n < PRUNE_CHUNK) break;
  }
  // journey_access is the big table and has no index on time: walk it once in key order, a
  // chunk per job, and note the sessions that still have steps
  const live = new Set<number>();
  let cursor: [string, number, string] | null = null;
  for (;;) {
    const res: { n: number; last: [string, number, string] | null } = await w.write((tx) => {
      const rows = (cursor
        ? tx.st(`SELECT msg_id, session_id, step, time FROM journey_access WHERE (msg_id, session_id, step) > (?, ?, ?)
            ORDER BY msg_id, session_id, step LIMIT ?`).all(...cursor, PRUNE_CHUNK)
        : tx.st('SELECT msg_id, session_id, step, time FROM journey_access ORDER BY msg_id, session_id, step LIMIT ?').all(PRUNE_CHUNK)) as Row[];
      const del = tx.st('DELETE FROM journey_access WHERE msg_id = ? AND session_id = ? AND step = ?');
      let n = 0;
      for (const r of rows) {
        if ((r.time as number) < opts.journeyBefore) n += del.run(r.msg_id, r.session_id, r.step).changes;
        else live.add(r.session_id as number);
      }
      const l = rows[rows.length - 1];
      return { n, last: rows.length < PRUNE_CHUNK || !l ? null : [l.msg_id as string, l.session_id as number, l.step as string] };
    });
    journey += res.n;
    if (!res.last) break;
    cursor = res.last;
  }
  // sessions that began before the cutoff and have no step left. (A session older than the
  // retention that fetched again behind the walk would lose its name in trace: not worth an index.)
  await w.write((tx) => {
    const del = tx.st('DELETE FROM access_sessions WHERE id = ?');
    for (const r of tx.st('SELECT id FROM access_sessions WHERE started < ?').all(opts.journeyBefore) as Row[]) {
      if (!live.has(r.id as number)) del.run(r.id);
    }
  });
  return { transcripts, journey };
}
