import type { ImapCommand } from '../session.js';
import { ImapBad, tokAtom } from '../wire.js';

// RFC 5161 ENABLE: turn on CONDSTORE, QRESYNC (RFC 7162) or IMAP4rev2 (RFC 9051) behaviour.
export const enable: ImapCommand = {
  states: ['authenticated'],
  async run(s, cmd) {
    if (!cmd.args.length) throw new ImapBad('ENABLE needs at least one capability');
    const done: string[] = [];
    for (const t of cmd.args) {
      const cap = tokAtom(t, 'capability');
      const u = cap.toUpperCase();
      if (u === 'CONDSTORE' || u === 'QRESYNC' || u === 'IMAP4REV2') {
        if (!s.enabled.has(u)) { s.enabled.add(u); done.push(cap); }
        if (u === 'QRESYNC' && !s.enabled.has('CONDSTORE')) { s.enabled.add('CONDSTORE'); }
        if (u !== 'IMAP4REV2') s.condstore = true;
      }
    }
    s.send(`* ENABLED${done.map((d) => ' ' + d).join('')}`);
    return 'ENABLE completed';
  },
};
