import type { ImapCommand } from '../types.js';
import { highestModseqCode, recordChunks, reportExpunged, resolveSet, selected, writable } from './util.js';

// RFC 3501 §6.4.3 EXPUNGE (all \Deleted), RFC 4315 §2.1 UID EXPUNGE (only \Deleted ones in the set).
export const expunge: ImapCommand<'EXPUNGE'> = {
  states: ['selected'],
  async run(s, cmd) {
    const sel = selected(s);
    writable(sel);
    let uids: number[] | undefined;
    if (cmd.set) {
      const targets = resolveSet(sel, cmd.set, true, s.searchRes);
      uids = [];
      for await (const { recs } of recordChunks(s, sel, targets)) for (const r of recs.values()) if (r.flags.includes('\\Deleted')) uids.push(r.uid);
      if (!uids.length) return 'EXPUNGE completed';
    }
    // flush others' changes first so sequence numbers in our EXPUNGE responses are right
    await s.sendUpdates(true);
    const gone = await s.ctx.store.messages.expunge(sel.mailbox.id, uids, { origin: s });
    reportExpunged(s, sel, gone);
    return `${await highestModseqCode(s, sel)}EXPUNGE completed`;
  },
};
