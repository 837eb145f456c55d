import { announceKeywords, noteReported } from '../flag-report.js';
import type { ImapCommand } from '../types.js';
import { checkFlags, compactSet } from '../wire.js';
import { clientFlags, recordChunks, resolveSet, selected, writable, type Target } from './util.js';
import type { MessageRecord } from '../../store/index.js';

// RFC 3501 §6.4.6 STORE (+FLAGS/-FLAGS/FLAGS[.SILENT]), RFC 7162 §3.1.3 UNCHANGEDSINCE / MODIFIED.
export const store: ImapCommand<'STORE'> = {
  states: ['selected'],
  noExpunge: true,
  async run(s, cmd) {
    const sel = selected(s);
    const targets = resolveSet(sel, cmd.set, cmd.uid, s.searchRes);
    const unchangedSince = cmd.unchangedSince ?? undefined;
    const { op, silent } = cmd;
    const flags = checkFlags(cmd.flags);
    writable(sel);
    if (!targets.length) return 'STORE completed';
    const res = await s.ctx.store.messages.setFlags(sel.mailbox.id, targets.map((t) => t.uid), op, flags, { unchangedSince, origin: s });
    const changed = new Map(res.changed.map((c) => [c.uid, c]));
    const failed = new Set(res.failed);
    const needRecords = !silent || unchangedSince !== undefined;
    // the records of the targets (for the FLAGS of those this STORE did not change), a chunk at a time
    const chunks = needRecords ? recordChunks(s, sel, targets) : noRecords(targets);
    for await (const { targets: part, recs } of chunks) {
      for (const t of part) {
        if (failed.has(t.uid)) continue;
        const c = changed.get(t.uid);
        const r = recs.get(t.uid);
        if (!r && !c) continue;
        const modseq = c?.modseq ?? r?.modseq;
        const items: string[] = [];
        if (cmd.uid || s.enabled.has('QRESYNC')) items.push(`UID ${t.uid}`);
        if (!silent) items.push(`FLAGS ${clientFlags(s, sel, { uid: t.uid, flags: c?.flags ?? r!.flags })}`);
        if (s.condstore && (!silent || (unchangedSince !== undefined && c))) items.push(`MODSEQ (${modseq})`);
        if (!silent || (unchangedSince !== undefined && c)) {
          if (silent && !items.some((x) => x.startsWith('UID '))) items.unshift(`UID ${t.uid}`);
          // RFC 3501 §7.2.6: a keyword new to the client is announced before the FETCH shows it
          if (!silent) announceKeywords((l) => s.send(l), sel, c?.flags ?? r!.flags);
          s.send(`* ${t.seq} FETCH (${items.join(' ')})`);
          if (!silent && modseq !== undefined) noteReported(sel, t.uid, modseq);
        }
        await s.maybeFlush();
      }
    }
    if (res.changed.length && res.changed[0].modseq > sel.mailbox.highestModseq) sel.mailbox.highestModseq = res.changed[0].modseq;
    if (failed.size) {
      const set = cmd.uid ? [...failed] : targets.filter((t) => failed.has(t.uid)).map((t) => t.seq);
      return `[MODIFIED ${compactSet(set)}] conditional STORE failed`;
    }
    return 'STORE completed';
  },
};

/** FLAGS.SILENT without UNCHANGEDSINCE reads no records: the targets as one chunk without any. */
async function* noRecords(targets: Target[]): AsyncGenerator<{ targets: Target[]; recs: Map<number, MessageRecord> }> {
  yield { targets, recs: new Map() };
}
