// RFC 3501 §6.1.1 CAPABILITY: what this server advertises. Only what works fully is listed.
import type { ImapSession } from './types.js';

/** Extensions available after login (RFC 3501 §7.2.1: the list may change with state). */
export const EXTENSIONS = [
  'LITERAL+', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN',
  'SPECIAL-USE', 'CREATE-SPECIAL-USE', 'LIST-EXTENDED', 'LIST-STATUS', 'ESEARCH', 'CONDSTORE', 'QRESYNC',
  'BINARY', 'STATUS=SIZE', 'SEARCHRES', 'SORT', 'SORT=DISPLAY', 'ESORT', 'MULTIAPPEND', 'CATENATE', 'WITHIN', 'PREVIEW', 'UTF8=ACCEPT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'COMPRESS=DEFLATE',
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
  // RFC 9208: only a configured limit is a quota worth reporting
  const quota = s.ctx.config.quotaBytes > 0 ? ['QUOTA', 'QUOTA=RES-STORAGE'] : [];
  return [...caps, ...EXTENSIONS, ...quota].join(' ');
}
