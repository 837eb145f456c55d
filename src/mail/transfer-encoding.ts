// RFC 2045 §6 Content-Transfer-Encoding: decode a body to its octets, and octets to text.

/** RFC 2045 §6.7 quoted-printable -> octets (soft line breaks removed, =XX decoded). */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== 0x3d) { out[n++] = c; continue; }
    const a = body[i + 1], b = body[i + 2];
    if (a === 0x0d && b === 0x0a) { i += 2; continue; }        // soft break =CRLF
    if (a === 0x0a) { i += 1; continue; }                        // soft break =LF
    const hex = (x: number) => (x >= 0x30 && x <= 0x39 ? x - 0x30 : x >= 0x41 && x <= 0x46 ? x - 55 : x >= 0x61 && x <= 0x66 ? x - 87 : -1);
    const h = hex(a), l = hex(b);
    if (h >= 0 && l >= 0) { out[n++] = h * 16 + l; i += 2; } else out[n++] = c;
  }
  return out.subarray(0, n);
}

/** The octets of a body in the given transfer encoding (7bit, 8bit, binary: as they are). */
export function decodeTransferEncoding(body: Buffer, encoding: string): Buffer {
  switch (encoding.toLowerCase()) {
    case 'base64': return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
    case 'quoted-printable': return decodeQuotedPrintable(body);
    default: return body;
  }
}

/** Octets in a charset -> text; null when the charset is unknown here. */
export function decodeCharset(octets: Buffer, charset: string | undefined): string | null {
  const cs = (charset || 'us-ascii').toLowerCase();
  try {
    return new TextDecoder(cs === 'us-ascii' || cs === 'ascii' ? 'utf-8' : cs).decode(octets);
  } catch {
    return null;
  }
}
