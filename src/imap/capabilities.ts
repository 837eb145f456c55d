// RFC 3501 §6.1.1 CAPABILITY: what this server advertises. Only what works fully is listed.
import type { ImapSession } from './session.js';

/** Extensions available after login (RFC 3501 §7.2.1: the list may change with state). */
export const EXTENSIONS = [
  'LITERAL+', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN',
  'SPECIAL-USE', 'CREATE-SPECIAL-USE', 'LIST-EXTENDED', 'LIST-STATUS', 'ESEARCH', 'CONDSTORE', 'QRESYNC',
  'QUOTA', 'QUOTA=RES-STORAGE', 'BINARY', 'STATUS=SIZE', 'SEARCHRES', 'COMPRESS=DEFLATE',
];

export function capabilities(s: ImapSession): string {
  const caps = ['IMAP4rev1', 'IMAP4rev2'];
  if (!s.user) {
    caps.push('LITERAL+', 'SASL-IR', 'ID', 'ENABLE');
    if (!s.secure) caps.push('STARTTLS');
    if (s.plaintextAuthAllowed) caps.push('AUTH=PLAIN');
    else caps.push('LOGINDISABLED');
    return caps.join(' ');
  }
  return [...caps, ...EXTENSIONS].join(' ');
}
