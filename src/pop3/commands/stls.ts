import { Pop3Err } from '../errors.js';
import type { Pop3Command } from '../types.js';

// RFC 2595 §4 STLS: start TLS on the plain listener; the session discards anything pipelined after it.
export const stls: Pop3Command<'STLS'> = {
  states: ['authorization'],
  run(s) {
    if (s.secure) throw new Pop3Err('already using TLS');
    if (!s.stlsAvailable()) throw new Pop3Err('STLS not available here');
    return { ok: 'Begin TLS negotiation', after: 'stls' };
  },
};
