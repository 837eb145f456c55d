// mbox files (RFC 4155, application/mbox): messages one after another, each starting with a
// "From " line (the From_ line: envelope sender and asctime date). mboxrd quotes every body line
// matching /^>*From / with one more '>'; mboxo quoted only "From ". Read here as mboxrd (one '>'
// comes off), which is also what an mboxo reader does with the lines its writer quoted.
import { createReadStream } from 'node:fs';
import { mailboxFlagHeaders, parseStatusHeaders } from './flags.js';

/** One message read from an mbox: its bytes (LF or CRLF as in the file), flags from Status:/X-Status:/X-Keywords:, the From_ date. */
export interface MboxMessage {
  /** 1-based position in the file */
  n: number;
  /** byte offset of its From_ line */
  offset: number;
  raw: Buffer | null;
  flags: string[];
  /** ms since epoch from the From_ line, or null */
  date: number | null;
  /** why it cannot be imported (too big, truncated, not a message); raw is then null */
  error?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/**
 * The date of a From_ line, or null when the line is not one. RFC 4155 §2: "From " sender, then
 * an asctime date (`Tue Dec  1 13:37:04 2026`), by convention without a zone (read as UTC, as we
 * write it); also seen: a zone after the time or the year (`+0000`, Gmail Takeout's
 * `Sat Jan 03 12:00:00 +0000 2015`). Requiring a date keeps an unquoted "From " body line
 * (a broken mboxo writer) inside its message.
 */
export function fromLineDate(line: string): number | null {
  const m = /^From \S*\s+(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([+-]\d{4}|[A-Z]{3,4})\s+)?(\d{4})(?:\s+([+-]\d{4}))?\s*$/
    .exec(line.replace(/\r?\n$/, ''));
  if (!m) return null;
  const [, mon, day, hh, mm, ss, zone1, year, zone2] = m;
  let t = Date.UTC(Number(year), MONTHS.indexOf(mon), Number(day), Number(hh), Number(mm), Number(ss ?? 0));
  const zone = zone1 ?? zone2;
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const off = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) * 60_000;
    t -= zone[0] === '+' ? off : -off;
  }
  return Number.isFinite(t) ? t : null;
}

/** The From_ line we write: asctime in UTC (RFC 4155 §2). */
export function fromLine(sender: string, date: number): string {
  const d = new Date(date);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const safe = sender.replace(/[\s<>]/g, '') || 'MAILER-DAEMON';
  return `From ${safe} ${WEEKDAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}\n`;
}

/** Does the file start like an mbox (its first line a From_ line)? */
export function looksLikeMbox(head: Buffer): boolean {
  const nl = head.indexOf(0x0a);
  const first = head.subarray(0, nl < 0 ? head.length : nl + 1).toString('latin1');
  return fromLineDate(first) !== null;
}

/** A header section must start with a field (RFC 5322 §2.2: name ":" ...); checks the first line only. */
function startsWithHeader(raw: Buffer): boolean {
  const nl = raw.indexOf(0x0a);
  const line = raw.subarray(0, nl < 0 ? Math.min(raw.length, 1000) : nl).toString('latin1');
  return /^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(line);
}

interface Current { offset: number; date: number | null; parts: Buffer[]; size: number; tooBig: boolean }

/**
 * Reads an mbox file message by message with a bounded buffer: at most `maxBytes` of one
 * message are held (a bigger one is reported and skipped up to the next From_ line), the file
 * itself is streamed. A message that ends the file without a line end is a truncated file:
 * reported, not imported.
 */
export async function* readMbox(file: string, opts: { maxBytes: number; chunkBytes?: number }): AsyncGenerator<MboxMessage> {
  const stream = createReadStream(file, { highWaterMark: opts.chunkBytes ?? 1 << 20 });
  const st = { cur: null as Current | null, prevBlank: true, n: 0 };
  const ready: MboxMessage[] = [];

  const finish = (c: Current, truncated: boolean): MboxMessage => {
    const n = ++st.n;
    if (c.tooBig) return { n, offset: c.offset, raw: null, flags: [], date: c.date, error: `larger than ${opts.maxBytes} bytes` };
    if (truncated) return { n, offset: c.offset, raw: null, flags: [], date: c.date, error: 'truncated: the file ends in the middle of this message' };
    let raw = Buffer.concat(c.parts, c.size);
    // the blank line that separates it from the next From_ line belongs to the mbox, not the message
    if (raw.length >= 2 && raw[raw.length - 1] === 0x0a && raw[raw.length - 2] === 0x0a) raw = raw.subarray(0, raw.length - 1);
    else if (raw.length >= 4 && raw.subarray(raw.length - 4).equals(CRLFCRLF)) raw = raw.subarray(0, raw.length - 2);
    if (raw.length === 0 || !startsWithHeader(raw)) return { n, offset: c.offset, raw: null, flags: [], date: c.date, error: 'not a message: no header field at its start' };
    const { raw: stripped, flags } = parseStatusHeaders(raw);
    return { n, offset: c.offset, raw: stripped, flags, date: c.date };
  };
  const drop = (c: Current) => { c.tooBig = true; c.parts = []; c.size = 0; };

  const onLine = (given: Buffer, offset: number): void => {
    let line = given;
    // RFC 4155 §2: a message starts at a From_ line, normally after a blank line; like mutt, a
    // From_ line with a valid date starts one even without it (writers that leave out the blank)
    if (line[0] === 0x46 /* F */ && line.length >= 5 && line.toString('latin1', 0, 5) === 'From ') {
      const date = fromLineDate(line.toString('latin1', 0, Math.min(line.length, 1000)));
      if (date !== null || (st.cur === null && st.prevBlank)) {
        if (st.cur) ready.push(finish(st.cur, false));
        st.cur = { offset, date, parts: [], size: 0, tooBig: false };
        st.prevBlank = false;
        return;
      }
    }
    st.prevBlank = line.length === 1 || (line.length === 2 && line[0] === 0x0d);
    const cur = st.cur;
    if (!cur) {
      if (st.prevBlank) return; // blank lines before the first From_ line
      throw new Error('not an mbox file: it does not start with a "From " line');
    }
    if (cur.tooBig) return;
    // mboxrd: ">From ", ">>From " ... lose one '>'
    if (line[0] === 0x3e /* > */) {
      let i = 0;
      while (line[i] === 0x3e) i++;
      if (line.toString('latin1', i, i + 5) === 'From ') line = line.subarray(1);
    }
    if (cur.size + line.length > opts.maxBytes) return drop(cur);
    // a slice of the read chunk: a message holds on to at most the chunks it spans
    cur.parts.push(line);
    cur.size += line.length;
  };

  let carry: Buffer | null = null; // an incomplete last line of the previous chunk (at most maxBytes + 2)
  let pos = 0; // file offset of the next line
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    carry = null;
    let start = 0;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      onLine(buf.subarray(start, nl + 1), pos);
      pos += nl + 1 - start;
      start = nl + 1;
    }
    if (start < buf.length) {
      carry = buf.subarray(start);
      if (carry.length > opts.maxBytes + 2) {
        // one line longer than a message may be: the message is dropped, the line's bytes too
        if (st.cur) drop(st.cur);
        pos += carry.length;
        carry = null;
        st.prevBlank = false;
      }
    }
    while (ready.length) yield ready.shift()!;
  }
  if (carry && carry.length) {
    // the file does not end with a line end: its last message was cut off
    onLine(carry, pos);
    while (ready.length) yield ready.shift()!;
    if (st.cur) yield finish(st.cur, true);
    return;
  }
  if (st.cur) yield finish(st.cur, false);
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * One message as an mboxrd entry: From_ line, the bytes with LF line ends, Status:/X-Status:/
 * X-Keywords: added at the end of the header (what mutt, Thunderbird and dovecot read), every
 * /^>*From / line quoted with one more '>', and a blank line after it.
 */
export function mboxEntry(raw: Buffer, flags: string[], internalDate: number): Buffer {
  const text = raw.toString('latin1').replace(/\r\n/g, '\n');
  const end = text.indexOf('\n\n');
  const headEnd = end < 0 ? text.length : end + 1;
  const head = text.slice(0, headEnd);
  const body = end < 0 ? '' : text.slice(headEnd);
  const rp = /^Return-Path:[ \t]*<([^>\r\n]*)>/im.exec(head);
  const sender = rp?.[1] || 'MAILER-DAEMON';
  const headLines = (head.endsWith('\n') || head === '' ? head : head + '\n') + mailboxFlagHeaders(flags);
  const quoted = (headLines + body).replace(/^(>*From )/gm, '>$1');
  const tail = quoted.endsWith('\n') ? '\n' : '\n\n';
  return Buffer.from(fromLine(sender, internalDate) + quoted + tail, 'latin1');
}
