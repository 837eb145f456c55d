// Modified UTF-7 (RFC 3501 §5.1.3): how IMAP4rev1 names mailboxes on the wire, and how Dovecot
// names Maildir++ folders on disk ("&AOQ-" = "ä"). Printable ASCII stays, "&" is "&-", the rest is
// base64 (with "," for "/") of UTF-16BE between "&" and "-".

export function encodeMutf7(name: string): string {
  let out = '';
  let pending = '';
  const flush = () => {
    if (!pending) return;
    const buf = Buffer.alloc(pending.length * 2);
    for (let i = 0; i < pending.length; i++) buf.writeUInt16BE(pending.charCodeAt(i), i * 2);
    out += '&' + buf.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    pending = '';
  };
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c <= 0x7e && ch.length === 1) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else pending += ch;
  }
  flush();
  return out;
}

/** The UTF-8 name, or null when `wire` is not valid modified UTF-7 (an "&" run unterminated or not base64). */
export function decodeMutf7(wire: string): string | null {
  if (!wire.includes('&')) return wire;
  let out = '';
  for (let i = 0; i < wire.length; i++) {
    const c = wire[i];
    if (c !== '&') { out += c; continue; }
    const end = wire.indexOf('-', i);
    if (end < 0) return null;
    const b64 = wire.slice(i + 1, end);
    if (b64 === '') out += '&';
    else {
      if (!/^[A-Za-z0-9+,]+$/.test(b64)) return null;
      const buf = Buffer.from(b64.replace(/,/g, '/'), 'base64');
      for (let j = 0; j + 1 < buf.length; j += 2) out += String.fromCharCode(buf.readUInt16BE(j));
    }
    i = end;
  }
  return out;
}
