// RFC 5321 §4.5.2 / RFC 1939 §3: a line that starts with "." is sent with one more ".".

/** Byte-stuff a message body for a multi-line response; line ends must already be CRLF. */
export function dotStuff(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let start = 0;
  if (buf.length > 0 && buf[0] === 0x2e) out.push(Buffer.from('.'));
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x2e) {
      out.push(buf.subarray(start, i + 1), Buffer.from('.'));
      start = i + 1;
    }
  }
  out.push(buf.subarray(start));
  return out.length === 1 ? buf : Buffer.concat(out);
}

/** Normalise every line end to CRLF (bare LF and bare CR become CRLF). */
export function toCrlf(buf: Buffer): Buffer {
  let bare = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x0d) {
      if (buf[i + 1] !== 0x0a) { bare = true; break; }
      i++;
    } else if (c === 0x0a) { bare = true; break; }
  }
  if (!bare) return buf;
  const out = Buffer.allocUnsafe(buf.length * 2);
  let n = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x0d) {
      out[n++] = 0x0d; out[n++] = 0x0a;
      if (buf[i + 1] === 0x0a) i++;
    } else if (c === 0x0a) {
      out[n++] = 0x0d; out[n++] = 0x0a;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}
