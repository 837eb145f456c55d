import type { ImapCommand } from '../types.js';
import { ImapBad, ImapNo } from '../wire.js';
import { authenticateUser } from './login.js';

// RFC 3501 §6.2.2 AUTHENTICATE, RFC 4616 PLAIN, RFC 4959 SASL-IR (the initial response on the line).
export const authenticate: ImapCommand<'AUTHENTICATE'> = {
  states: ['not-authenticated'],
  async run(s, { mechanism, initial }) {
    if (mechanism !== 'PLAIN') throw new ImapNo('CANNOT', `mechanism ${mechanism.slice(0, 40)} is not supported`);
    if (!s.plaintextAuthAllowed) throw new ImapNo('PRIVACYREQUIRED', 'authentication is disabled until STARTTLS');
    let b64: string | null;
    if (initial !== null) b64 = initial;
    else {
      s.send('+ ');
      await s.flush();
      b64 = await s.readLine();
      if (b64 === null) return '';
    }
    if (b64 === '*') throw new ImapBad('authentication cancelled');
    if (b64 === '=') b64 = '';
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new ImapBad('invalid base64');
    const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
    if (parts.length !== 3) throw new ImapBad('invalid PLAIN response');
    const [authzid, authcid, password] = parts;
    if (authzid && authzid.toLowerCase() !== authcid.toLowerCase()) throw new ImapNo('AUTHORIZATIONFAILED', 'authorization identity not allowed');
    return authenticateUser(s, authcid, password);
  },
};
