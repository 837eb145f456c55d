// Protocol transcripts (config `transcripts`): written by the sessions in batches, bounded per
// session (TRANSCRIPT_MAX_*), read by the dashboard.
import { TRANSCRIPT_MAX_BYTES, TRANSCRIPT_MAX_LINES, TRANSCRIPT_MAX_MSGIDS } from '../defaults.js';
import type { Transcript, TranscriptLine, TranscriptSession, TranscriptSummary } from '../types.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import type { Tx, Writer } from './writer.js';

function transcriptRow(r: Row): TranscriptSummary & { truncated: boolean; id: number } {
  return {
    id: r.id as number, sid: r.sid as string, protocol: r.protocol as string, local: (r.local as string) ?? null, remote: (r.remote as string) ?? null,
    user: (r.user as string) ?? null, tls: (r.tls as string) ?? null, started: r.started as number, ended: (r.ended as number) ?? null,
    msgIds: JSON.parse(r.msg_ids as string) as string[], lines: r.lines as number, bytes: r.bytes as number, truncated: !!r.truncated,
  };
}

/** Upsert the session's row, link its new msgIds, append what fits of `lines` as one batch. */
function writeTranscript(tx: Tx, s: TranscriptSession, lines: TranscriptLine[]): void {
  const now = Date.now();
  const row = tx.st(`INSERT INTO transcripts (sid, protocol, local, remote, user, tls, started, ended) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (sid) DO UPDATE SET protocol = excluded.protocol, local = COALESCE(excluded.local, local), remote = COALESCE(excluded.remote, remote),
      user = COALESCE(excluded.user, user), tls = COALESCE(excluded.tls, tls), ended = COALESCE(excluded.ended, ended)
    RETURNING id, msg_ids, lines, bytes, truncated`).get(
    String(s.sid), String(s.protocol), s.local ?? null, s.remote ?? null, s.user ?? null, s.tls ?? null, s.started ?? now, s.ended ?? null) as Row;
  const id = row.id as number;
  let msgIds: string[] | null = null;
  if (s.msgIds?.length) {
    const have = JSON.parse(row.msg_ids as string) as string[];
    const known = new Set(have);
    const link = tx.st('INSERT OR IGNORE INTO transcript_msgs (msg_id, transcript_id) VALUES (?, ?)');
    for (const m of s.msgIds) {
      if (have.length >= TRANSCRIPT_MAX_MSGIDS) break;
      if (typeof m !== 'string' || known.has(m)) continue;
      known.add(m);
      have.push(m);
      link.run(m, id);
    }
    msgIds = have;
  }
  let n = row.lines as number;
  let bytes = row.bytes as number;
  let truncated = !!row.truncated;
  const kept: [number, string, string][] = [];
  for (const l of lines) {
    const text = String(l.text ?? '');
    const size = Buffer.byteLength(text) + 8; // the time and direction
    if (truncated || n >= TRANSCRIPT_MAX_LINES || bytes + size > TRANSCRIPT_MAX_BYTES) { truncated = true; continue; }
    kept.push([Number(l.t) || now, String(l.dir), text]);
    n++;
    bytes += size;
  }
  if (kept.length) tx.st('INSERT INTO transcript_lines (transcript_id, lines) VALUES (?, ?)').run(id, JSON.stringify(kept));
  tx.st('UPDATE transcripts SET lines = ?, bytes = ?, truncated = ?, msg_ids = COALESCE(?, msg_ids) WHERE id = ?')
    .run(n, bytes, truncated ? 1 : 0, msgIds && JSON.stringify(msgIds), id);
}

export const transcriptWrites = {
  write: (w: Writer, session: TranscriptSession, lines: TranscriptLine[]): Promise<void> => w.write((tx) => writeTranscript(tx, session, lines)),
};

export const transcriptReads = {
  get: async (r: Reader, sid: string): Promise<Transcript | null> => {
    const row = r.st('SELECT * FROM transcripts WHERE sid = ?').get(sid) as Row | undefined;
    if (!row) return null;
    const { id: _id, lines: _n, bytes: _b, ...session } = transcriptRow(row);
    const lines: TranscriptLine[] = [];
    for (const b of r.st('SELECT lines FROM transcript_lines WHERE transcript_id = ? ORDER BY id').all(row.id) as Row[]) {
      for (const [t, dir, text] of JSON.parse(b.lines as string) as [number, TranscriptLine['dir'], string][]) lines.push({ t, dir, text });
    }
    return { ...session, lines };
  },
  list: async (r: Reader, opts: { limit: number; msgId?: string; beforeStarted?: number }): Promise<TranscriptSummary[]> => {
    const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 1000));
    const before = opts.beforeStarted ?? Number.MAX_SAFE_INTEGER;
    const rows = (opts.msgId !== undefined
      ? r.st(`SELECT t.* FROM transcript_msgs m JOIN transcripts t ON t.id = m.transcript_id WHERE m.msg_id = ? AND t.started < ?
          ORDER BY t.started DESC, t.id DESC LIMIT ?`).all(opts.msgId, before, limit)
      : r.st('SELECT * FROM transcripts WHERE started < ? ORDER BY started DESC, id DESC LIMIT ?').all(before, limit)) as Row[];
    return rows.map((row) => {
      const { id: _id, truncated: _t, ...summary } = transcriptRow(row);
      return summary;
    });
  },
};
