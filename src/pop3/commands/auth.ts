import { Pop3Err } from '../errors.js';
import type { Pop3Session } from '../session.js';
import type { Pop3Command, Pop3Reply } from '../types.js';

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** RFC 4616 §2: authzid NUL authcid NUL passwd; an authzid other than the login is refused. */
async function plain(s: Pop3Session, response: string): Promise<Pop3Reply> {
  if (response === '*') throw new Pop3Err('authentication cancelled');
  const text = response === '=' ? '' : response;
  if (!B64.test(text)) throw new Pop3Err('invalid base64 in SASL response');
  const parts = Buffer.from(text, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3 || !parts[1] || !parts[2]) throw new Pop3Err('malformed PLAIN response', 'AUTH');
  const [authzid, authcid, password] = parts;
  if (authzid && authzid.toLowerCase() !== authcid.toLowerCase()) throw new Pop3Err('authorization identity must be the login', 'AUTH');
  return s.login(authcid, password);
}

// RFC 5034 §4 AUTH: SASL PLAIN (RFC 4616), with or without an initial response.
export const auth: Pop3Command<'AUTH'> = {
  states: ['authorization'],
  run(s, { mechanism, initial }) {
    // a bare AUTH lists the mechanisms (as RFC 1734 clients expect)
    if (mechanism === null) return { ok: 'methods supported', lines: s.authAllowed() ? ['PLAIN'] : [] };
    if (mechanism !== 'PLAIN') throw new Pop3Err('unsupported authentication mechanism');
    if (!s.authAllowed()) throw new Pop3Err('plaintext authentication disallowed on non-secure connections; use STLS', 'AUTH');
    if (initial !== null) return plain(s, initial);
    return { challenge: '', next: (line) => plain(s, line) };
  },
};
