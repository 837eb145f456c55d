// Modified UTF-7 (RFC 3501 §5.1.3): how dovecot names Maildir++ folders on disk ("&AOQ-" = "ä").

/** Decodes a modified UTF-7 name; a malformed one is returned unchanged. */
export function decodeMutf7(s: string): string {
  if (!s.includes('&')) return s;
  let bad = false;
  const out = s.replace(/&([^-]*)-/g, (_, b64: string) => {
    if (b64 === '') return '&';
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) { bad = true; return ''; }
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2) { bad = true; return ''; }
    let r = '';
    for (let i = 0; i < bytes.length; i += 2) r += String.fromCharCode(bytes.readUInt16BE(i));
    return r;
  });
  return bad ? s : out;
}

/** Encodes a name in modified UTF-7: printable ASCII stays, "&" is "&-", the rest is base64 of UTF-16BE. */
export function encodeMutf7(s: string): string {
  let out = '';
  let run = '';
  const flush = () => {
    if (!run) return;
    const b = Buffer.alloc(run.length * 2);
    for (let i = 0; i < run.length; i++) b.writeUInt16BE(run.charCodeAt(i), i * 2);
    out += '&' + b.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    run = '';
  };
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c <= 0x7e) { flush(); out += ch === '&' ? '&-' : ch; } else run += ch;
  }
  flush();
  return out;
}
