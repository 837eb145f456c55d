import { Pop3Err } from '../errors.js';
import type { Pop3Command } from '../types.js';
import { messageBytes } from './top.js';

// RFC 1939 §5 RETR: send the whole message (CRLF, byte-stuffed); it gets \Seen and a journey step.
export const retr: Pop3Command<'RETR'> = {
  states: ['transaction'],
  async run(s, { msg }) {
    const m = s.maildrop.live(msg);
    if (!m) throw new Pop3Err('no such message');
    const raw = await messageBytes(s, m.blobId);
    s.retrieved(m);
    return { ok: `${m.size} octets`, message: raw };
  },
};
