// Migration 040's one step that SQL cannot do: the indexed header text (mail/search-text.ts) of
// the blobs stored before it. Done in the background, in small batches, newest blob first, each
// its own transaction (deliveries keep committing between them; a restart goes on where it
// stopped: meta 'header_text_backfill' is the highest blob id still to do). One node at a time
// does it: a batch holds that meta row (FOR UPDATE SKIP LOCKED); another node finding it held
// waits and looks again, so the work goes on if the node doing it stops. Until a blob has its
// row it is simply always a SEARCH candidate: the store is correct at every point of the way.
import type { MimeTree } from '../../mail/mime.js';
import { headerSearchText } from '../../mail/search-text.js';
import type { Pg } from './context.js';

/** blobs parsed per transaction */
const BATCH = 200;
/** the header block is in the first bytes of a message; a longer one gets no text (always a candidate) */
const HEAD_BYTES = 256 * 1024;
/** how long a node waits while another node holds the backfill */
const BUSY_WAIT_MS = 2000;
/** failed batches in a row (a blob deleted under a batch, a lost connection) before giving up until the next start */
const FAILURES_MAX = 5;

/** more to do; the last batch done now; nothing (left) to do; another node holds the backfill */
type Outcome = 'more' | 'last' | 'done' | 'busy';

/** One batch; 'busy' while another node holds the backfill. */
export async function backfillBatch(pg: Pg, batch = BATCH): Promise<Outcome> {
  return pg.db.tx(async (t): Promise<Outcome> => {
    const mark = await t.one(`SELECT value FROM meta WHERE key = 'header_text_backfill' FOR UPDATE SKIP LOCKED`);
    if (!mark) return (await t.one(`SELECT 1 FROM meta WHERE key = 'header_text_backfill'`)) ? 'busy' : 'done';
    // blobs that have their text already (written since, or by an earlier run) are passed over
    const rows = await t.q(`SELECT id, mime, substring(raw FROM 1 FOR $3) AS head FROM blobs b WHERE id <= $1
      AND NOT EXISTS (SELECT 1 FROM blob_headers h WHERE h.blob_id = b.id) ORDER BY id DESC LIMIT $2`, [Number(mark.value), batch, HEAD_BYTES]);
    const ids: number[] = [];
    const texts: string[] = [];
    for (const r of rows) {
      try {
        const tree = JSON.parse(r.mime as string) as MimeTree;
        const head = r.head as Buffer;
        if (tree.root.bodyStart > head.length) continue; // the header block goes on past what was read: no text
        const text = headerSearchText(head, tree);
        if (text !== null) { ids.push(r.id as number); texts.push(text.replace(/\0/g, '')); }
      } catch {
        // an unreadable structure: no text, the message stays a candidate
      }
    }
    // a blob deleted since the read (its last copy expunged) gets no row
    if (ids.length) {
      await t.run(`INSERT INTO blob_headers (blob_id, text) SELECT v.id, v.text FROM unnest($1::bigint[], $2::text[]) AS v(id, text)
        WHERE EXISTS (SELECT 1 FROM blobs b WHERE b.id = v.id) ON CONFLICT DO NOTHING`, [ids, texts]);
    }
    const next = rows.length < batch ? 0 : (rows[rows.length - 1].id as number) - 1;
    if (next < 1) { await t.run(`DELETE FROM meta WHERE key = 'header_text_backfill'`); return 'last'; }
    await t.run(`UPDATE meta SET value = $1 WHERE key = 'header_text_backfill'`, [String(next)]);
    return 'more';
  });
}

/** Every batch until done or the store closes; resolves with the batches done here. */
export async function backfillHeaderText(pg: Pg, closed: () => boolean): Promise<number> {
  let n = 0;
  let failures = 0;
  while (!closed()) {
    let out: Outcome;
    try {
      out = await backfillBatch(pg);
      failures = 0;
    } catch {
      if (closed() || ++failures >= FAILURES_MAX) break;
      out = 'busy';
    }
    if (out === 'more' || out === 'last') n++;
    if (out === 'done' || out === 'last') break;
    if (out === 'more') { await new Promise((r) => setImmediate(r)); continue; }
    await new Promise((r) => setTimeout(r, BUSY_WAIT_MS).unref());
  }
  return n;
}
