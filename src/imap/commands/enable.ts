import type { ImapCommand } from '../types.js';

// RFC 5161 ENABLE: turn on CONDSTORE, QRESYNC (RFC 7162) or IMAP4rev2 (RFC 9051) behaviour.
export const enable: ImapCommand<'ENABLE'> = {
  states: ['authenticated'],
  async run(s, { caps }) {
    const done: string[] = [];
    for (const cap of caps) {
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
