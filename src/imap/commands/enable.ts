import type { ImapCommand } from '../types.js';

// RFC 5161 ENABLE: turn on CONDSTORE, QRESYNC (RFC 7162), IMAP4rev2 (RFC 9051) or UTF8=ACCEPT (RFC 6855) behaviour.
export const enable: ImapCommand<'ENABLE'> = {
  states: ['authenticated'],
  async run(s, { caps }) {
    const done: string[] = [];
    for (const cap of caps) {
      const u = cap.toUpperCase();
      if (u === 'CONDSTORE' || u === 'QRESYNC' || u === 'IMAP4REV2' || u === 'UTF8=ACCEPT') {
        if (!s.enabled.has(u)) { s.enabled.add(u); done.push(cap); }
        if (u === 'QRESYNC' && !s.enabled.has('CONDSTORE')) { s.enabled.add('CONDSTORE'); }
        if (u === 'CONDSTORE' || u === 'QRESYNC') s.condstore = true;
      }
    }
    s.send(`* ENABLED${done.map((d) => ' ' + d).join('')}`);
    return 'ENABLE completed';
  },
};
