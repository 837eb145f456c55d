// Session transcripts (SMTP, IMAP, POP3 conversations, bounded in lines, bytes and message
// ids per session), written in parts as a session goes on, read by sid or message id.
import { TRANSCRIPT_MAX_BYTES, TRANSCRIPT_MAX_LINES, TRANSCRIPT_MAX_MSGIDS } from '../defaults.js';
import type { Transcript, TranscriptLine, TranscriptSession, TranscriptSummary } from '../types.js';
import type { Pg } from './context.js';
import { txt, type PgTx, type Row } from './db.js';

function transcriptRow(r: Row): TranscriptSummary & { truncated: boolean; id: number } {
  return {
    id: r.id as number, sid: r.sid as string, protocol: r.protocol as string, local: (r.local as string) ?? null, remote: (r.remote as string) ?? null,
    user: (r.user as string) ?? null, tls: (r.tls as string) ?? null, started: r.started as number, ended: (r.ended as number) ?? null,
    msgIds: JSON.parse(r.msg_ids as string) as string[], lines: r.lines as number, bytes: r.bytes as number, truncated: !!r.truncated,
  };
}

async function writeTranscriptTx(t: PgTx, s: TranscriptSession, lines: TranscriptLine[]): Promise<void> {
  const row = (await t.one(`INSERT INTO transcripts (sid, protocol, local, remote, "user", tls, started, ended) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (sid) DO UPDATE SET protocol = excluded.protocol, local = COALESCE(excluded.local, transcripts.local), remote = COALESCE(excluded.remote, transcripts.remote),
      "user" = COALESCE(excluded."user", transcripts."user"), tls = COALESCE(excluded.tls, transcripts.tls), ended = COALESCE(excluded.ended, transcripts.ended)
    RETURNING id, msg_ids, lines, bytes, truncated`, [
    txt(String(s.sid)), txt(String(s.protocol)), txt(s.local ?? null), txt(s.remote ?? null), txt(s.user ?? null), txt(s.tls ?? null), s.started ?? Date.now(), s.ended ?? null]))!;
  const id = row.id as number;
  let msgIds: string[] | null = null;
  if (s.msgIds?.length) {
    const have = JSON.parse(row.msg_ids as string) as string[];
    const known = new Set(have);
    const add: string[] = [];
    for (const m of s.msgIds) {
      if (have.length >= TRANSCRIPT_MAX_MSGIDS) break;
      if (typeof m !== 'string' || known.has(m)) continue;
      known.add(m);
      have.push(m);
      add.push(txt(m)!);
    }
    if (add.length) await t.run('INSERT INTO transcript_msgs (msg_id, transcript_id) SELECT m, $2 FROM unnest($1::text[]) AS m ON CONFLICT DO NOTHING', [add, id]);
    msgIds = have;
  }
  let n = row.lines as number;
  let bytes = row.bytes as number;
  let truncated = !!row.truncated;
  const kept: [number, string, string][] = [];
  for (const l of lines) {
    const text = String(l.text ?? '');
    const size = Buffer.byteLength(text) + 8;
    if (truncated || n >= TRANSCRIPT_MAX_LINES || bytes + size > TRANSCRIPT_MAX_BYTES) { truncated = true; continue; }
    kept.push([Number(l.t) || Date.now(), String(l.dir), text]);
    n++;
    bytes += size;
  }
  if (kept.length) await t.run('INSERT INTO transcript_lines (transcript_id, lines) VALUES ($1, $2)', [id, JSON.stringify(kept)]);
  await t.run('UPDATE transcripts SET lines = $1, bytes = $2, truncated = $3, msg_ids = COALESCE($4, msg_ids) WHERE id = $5',
    [n, bytes, truncated, msgIds && JSON.stringify(msgIds), id]);
}

export const transcripts = {
  write: (pg: Pg, session: TranscriptSession, lines: TranscriptLine[]): Promise<void> => pg.db.tx((t) => writeTranscriptTx(t, session, lines)),
  get: async (pg: Pg, sid: string): Promise<Transcript | null> => {
    const r = await pg.db.readOne('SELECT * FROM transcripts WHERE sid = $1', [txt(sid)]);
    if (!r) return null;
    const { id: _id, lines: _n, bytes: _b, ...session } = transcriptRow(r);
    const lines: TranscriptLine[] = [];
    for (const b of await pg.db.read('SELECT lines FROM transcript_lines WHERE transcript_id = $1 ORDER BY id', [r.id])) {
      for (const [tm, dir, text] of JSON.parse(b.lines as string) as [number, TranscriptLine['dir'], string][]) lines.push({ t: tm, dir, text });
    }
    return { ...session, lines };
  },
  list: async (pg: Pg, opts: { limit: number; msgId?: string; beforeStarted?: number }): Promise<TranscriptSummary[]> => {
    const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 1000));
    const before = opts.beforeStarted ?? Number.MAX_SAFE_INTEGER;
    const rows = opts.msgId !== undefined
      ? await pg.db.read(`SELECT t.* FROM transcript_msgs m JOIN transcripts t ON t.id = m.transcript_id WHERE m.msg_id = $1 AND t.started < $2
          ORDER BY t.started DESC, t.id DESC LIMIT $3`, [txt(opts.msgId), before, limit])
      : await pg.db.read('SELECT * FROM transcripts WHERE started < $1 ORDER BY started DESC, id DESC LIMIT $2', [before, limit]);
    return rows.map((r) => {
      const { id: _id, truncated: _t, ...summary } = transcriptRow(r);
      return summary;
    });
  },
};
