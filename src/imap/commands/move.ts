import type { ImapCommand } from '../types.js';
import { orderedSet } from '../wire.js';
import { copyTarget } from './copy.js';
import { highestModseqCode, reportExpunged, writable } from './util.js';

// RFC 6851 §3 MOVE: copy, then expunge the originals; COPYUID comes untagged, before the EXPUNGEs.
export const move: ImapCommand<'MOVE'> = {
  states: ['selected'],
  async run(s, cmd) {
    const { sel, targets, dst } = await copyTarget(s, cmd);
    writable(sel);
    if (!targets.length) return 'MOVE completed (no messages)';
    await s.sendUpdates(true);
    const r = await s.ctx.store.messages.move(sel.mailbox.id, targets.map((t) => t.uid), dst.id, { origin: s });
    if (!r.map.length) return 'MOVE completed (no messages)';
    s.send(`* OK [COPYUID ${r.uidValidity} ${orderedSet(r.map.map((m) => m[0]))} ${orderedSet(r.map.map((m) => m[1]))}] moved`);
    reportExpunged(s, sel, r.map.map((m) => m[0]));
    return `${await highestModseqCode(s, sel)}MOVE completed`;
  },
};
