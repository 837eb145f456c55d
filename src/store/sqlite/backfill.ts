// Migration 090's one step that SQL cannot do: the indexed header text (mail/search-text.ts) of
// the blobs stored before it. The writer does it in small batches, newest blob first, each its
// own write (so deliveries keep committing between them and a restart goes on where it stopped:
// meta 'header_text_backfill' is the highest blob id still to do). Until a blob has its row it
// is simply always a SEARCH candidate, so the store is correct at every point of the way.
import type { MimeTree } from '../../mail/mime.js';
import { headerSearchText } from '../../mail/search-text.js';
import type { Row } from './open.js';
import type { Writer } from './writer.js';

/** blobs parsed per write: a few ms of the writer each, so a delivery waits for at most one */
const BATCH = 200;

/** One batch; false when there is nothing left to do. */
export async function backfillBatch(w: Writer, batch = BATCH): Promise<boolean> {
  const mark = w.st(`SELECT value FROM meta WHERE key = 'header_text_backfill'`).get() as Row | undefined;
  if (!mark) return false;
  const upto = Number(mark.value);
  // read and parsed outside the transaction: the batch holds the writer only for its inserts
  const rows = w.st(`SELECT id, mime, substr(raw, 1, ?) AS head FROM blobs WHERE id <= ? ORDER BY id DESC LIMIT ?`)
    .all(256 * 1024, upto, batch) as Row[];
  const texts: [number, string][] = [];
  for (const r of rows) {
    try {
      const tree = JSON.parse(r.mime as string) as MimeTree;
      const head = r.head as Buffer;
      if (tree.root.bodyStart > head.length) continue; // a header block beyond what was read: no text
      const text = headerSearchText(head, tree);
      if (text) texts.push([r.id as number, text]);
    } catch {
      // an unreadable structure: no text, the message stays a candidate
    }
  }
  const next = rows.length < batch ? null : (rows[rows.length - 1].id as number) - 1;
  await w.write((tx) => {
    // a blob deleted meanwhile gets no row (the foreign key would refuse it)
    const ins = tx.st('INSERT OR IGNORE INTO blob_headers (blob_id, text) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM blobs WHERE id = ?)');
    for (const [id, text] of texts) ins.run(id, text, id);
    if (next === null || next < 1) tx.st(`DELETE FROM meta WHERE key = 'header_text_backfill'`).run();
    else tx.st(`UPDATE meta SET value = ? WHERE key = 'header_text_backfill'`).run(String(next));
  });
  return next !== null && next >= 1;
}

/** Every batch, one after the other, until done or the store closes; resolves with the number of batches. */
export async function backfillHeaderText(w: Writer): Promise<number> {
  let n = 0;
  try {
    while (await backfillBatch(w)) {
      n++;
      await new Promise((res) => setImmediate(res));
    }
  } catch {
    // the store closed (or the file is busy): the next start goes on from the mark
  }
  return n;
}
