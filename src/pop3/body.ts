// RFC 1939 §3: a multi-line response sends each line with CRLF, a line starting with "." gets
// one more ".", and the response ends with ".CRLF". Done chunk by chunk so that a 20 MB message
// is never copied whole; the state carries a CR or a line start across chunk boundaries.
import { toCrlf } from '../mail/dot-stuffing.js';
import { headerEnd } from '../mail/headers.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const DOTB = Buffer.from('.');

/** The octets a message has once every line end is CRLF (what RETR sends before byte-stuffing). */
export function crlfSize(raw: Buffer): number {
  let extra = 0;
  for (let i = raw.indexOf(LF); i !== -1; i = raw.indexOf(LF, i + 1)) if (i === 0 || raw[i - 1] !== CR) extra++;
  for (let i = raw.indexOf(CR); i !== -1; i = raw.indexOf(CR, i + 1)) if (raw[i + 1] !== LF) extra++;
  return raw.length + extra;
}

/** True when every CR is followed by LF and every LF preceded by CR, within the range [start, end). */
function clean(buf: Buffer, start: number, end: number): boolean {
  for (let i = buf.indexOf(LF, start); i !== -1 && i < end; i = buf.indexOf(LF, i + 1)) if (i === start || buf[i - 1] !== CR) return false;
  for (let i = buf.indexOf(CR, start); i !== -1 && i < end; i = buf.indexOf(CR, i + 1)) if (i + 1 >= end || buf[i + 1] !== LF) return false;
  return true;
}

/** Turns message bytes into the body of a multi-line response, one chunk at a time. */
export class DotStuffer {
  private lineStart = true;
  private pendingCR = false;

  /** The wire bytes for the next chunk of the message (pieces to write in order). */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    const out: Buffer[] = [];
    let start = 0;
    if (this.pendingCR && chunk[0] === LF) {
      // the CR held back from the previous chunk was half of a CRLF
      out.push(CRLF);
      this.pendingCR = false;
      this.lineStart = true;
      start = 1;
    }
    // a chunk ending in CR waits for the next one to tell CRLF from a bare CR
    let end = chunk.length;
    let holdCR = false;
    if (end > start && chunk[end - 1] === CR) { end--; holdCR = true; }
    if (!this.pendingCR && clean(chunk, start, end)) {
      // fast path: the line ends are already CRLF, only stuff dots
      const from = start;
      if (this.lineStart && end > start && chunk[start] === DOT) out.push(DOTB);
      for (let i = chunk.indexOf(LF, start); i !== -1 && i < end; i = chunk.indexOf(LF, i + 1)) {
        if (i + 1 < end && chunk[i + 1] === DOT) {
          out.push(chunk.subarray(start, i + 1), DOTB);
          start = i + 1;
        }
      }
      if (start < end) out.push(chunk.subarray(start, end));
      if (end > from) this.lineStart = chunk[end - 1] === LF;
    } else {
      out.push(this.slow(chunk.subarray(start, end)));
    }
    if (holdCR) this.pendingCR = true;
    return out;
  }

  /** Any line end, bare CR or bare LF, becomes CRLF; dots stuffed at line starts. */
  private slow(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length * 2 + 3);
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.pendingCR) {
        this.pendingCR = false;
        out[n++] = CR; out[n++] = LF;
        this.lineStart = true;
        if (c === LF) continue;
      }
      if (c === CR) { this.pendingCR = true; continue; }
      if (c === LF) { out[n++] = CR; out[n++] = LF; this.lineStart = true; continue; }
      if (this.lineStart && c === DOT) out[n++] = DOT;
      out[n++] = c;
      this.lineStart = false;
    }
    if (this.pendingCR) {
      // only reached when the chunk itself ends in CR, which push() holds back; be safe anyway
      this.pendingCR = false;
      out[n++] = CR; out[n++] = LF;
      this.lineStart = true;
    }
    return out.subarray(0, n);
  }

  /** The end of the response: CRLF if the message did not end with one, then ".CRLF". */
  end(): Buffer {
    if (this.pendingCR) { this.pendingCR = false; this.lineStart = true; return Buffer.from('\r\n.\r\n'); }
    return this.lineStart ? Buffer.from('.\r\n') : Buffer.concat([CRLF, Buffer.from('.\r\n')]);
  }
}

/** RFC 1939 §7 TOP: the header, the blank line and the first `n` body lines, with CRLF line ends. */
export function topOf(raw: Buffer, n: number): Buffer {
  const crlf = toCrlf(raw);
  const h = headerEnd(crlf, Infinity);
  if (!h) return crlf; // all header, no body
  let pos = h.bodyStart;
  for (let k = 0; k < n && pos < crlf.length; k++) {
    const lf = crlf.indexOf(LF, pos);
    pos = lf < 0 ? crlf.length : lf + 1;
  }
  return crlf.subarray(0, pos);
}
