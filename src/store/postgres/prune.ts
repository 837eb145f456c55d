// Retention: old transcripts, the oldest beyond the byte cap, then journey rows and access
// steps go; in chunks, a transaction each, so that no transaction holds many rows.
import type { Pg } from './context.js';

const PRUNE_CHUNK = 5000;
/** transcripts deleted per transaction (each takes its lines along) */
const SESSIONS = 100;

/** Drops old transcripts, the oldest beyond the byte cap, then journey rows and access steps; in chunks, a transaction each. */
export async function prune(pg: Pg, opts: { transcriptsBefore: number; transcriptMaxBytes: number; journeyBefore: number }): Promise<{ transcripts: number; journey: number }> {
  let transcripts = 0;
  let journey = 0;
  for (;;) {
    const n = await pg.db.tx((t) => t.run('DELETE FROM transcripts WHERE id IN (SELECT id FROM transcripts WHERE started < $1 ORDER BY started LIMIT $2)', [opts.transcriptsBefore, SESSIONS]));
    transcripts += n;
    if (n < SESSIONS) break;
  }
  for (;;) {
    // everything past the newest transcriptMaxBytes, oldest first
    const n = await pg.db.tx((t) => t.run(`DELETE FROM transcripts WHERE id IN (SELECT id FROM (
        SELECT id, SUM(bytes) OVER (ORDER BY started DESC, id DESC) AS total FROM transcripts) x WHERE total > $1 LIMIT $2)`, [opts.transcriptMaxBytes, SESSIONS]));
    transcripts += n;
    if (n < SESSIONS) break;
  }
  for (;;) {
    const n = await pg.db.tx((t) => t.run('DELETE FROM journey WHERE id IN (SELECT id FROM journey WHERE time < $1 LIMIT $2)', [opts.journeyBefore, PRUNE_CHUNK]));
    journey += n;
    if (n < PRUNE_CHUNK) break;
  }
  for (;;) {
    const n = await pg.db.tx((t) => t.run(`DELETE FROM journey_access WHERE ctid = ANY(ARRAY(SELECT ctid FROM journey_access WHERE time < $1 LIMIT $2))`, [opts.journeyBefore, PRUNE_CHUNK]));
    journey += n;
    if (n < PRUNE_CHUNK) break;
  }
  await pg.db.tx((t) => t.run(`DELETE FROM access_sessions s WHERE s.started < $1 AND NOT EXISTS (SELECT 1 FROM journey_access a WHERE a.session_id = s.id)`, [opts.journeyBefore]));
  return { transcripts, journey };
}
