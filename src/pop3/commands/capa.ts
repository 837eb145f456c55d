import type { Pop3Command } from '../types.js';

// RFC 2449 §5 CAPA: what this server does, as the current state and connection allow.
export const capa: Pop3Command<'CAPA'> = {
  states: ['authorization', 'transaction'],
  run(s) {
    const lines = ['TOP', 'UIDL'];
    if (s.state === 'authorization' && s.authAllowed()) lines.push('USER', 'SASL PLAIN');
    lines.push('RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER');
    if (s.stlsAvailable()) lines.push('STLS');
    lines.push('IMPLEMENTATION postoffice');
    return { ok: 'Capability list follows', lines };
  },
};
