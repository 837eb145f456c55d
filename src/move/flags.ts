// IMAP flags (RFC 9051 §2.3.2) as mbox and Maildir files carry them.
//   mbox: Status: (R = \Seen, O = not new) and X-Status: (A \Answered, F \Flagged, T \Draft, D \Deleted),
//         X-Keywords: (dovecot, mutt), X-Mozilla-Status: (Thunderbird) header fields.
//   Maildir: the ":2," info suffix of the file name (D F P R S T, then a-z for dovecot keywords).

const SYSTEM = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f]));

/** A flag as we store it: a system flag in its canonical spelling, or a keyword (an IMAP atom); null if neither. */
export function imapFlag(f: string): string | null {
  if (f.startsWith('\\')) return SYSTEM.get(f.toLowerCase()) ?? null; // \Recent is the server's, never imported
  // RFC 9051 §9 flag-keyword = atom: no SP, CTL, ( ) { % * " \ ]
  return /^[^\x00-\x20\x7f(){%*"\\\]]{1,100}$/.test(f) ? f : null;
}

export function cleanFlags(flags: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const f of flags) { const c = imapFlag(f); if (c) out.add(c); }
  return [...out];
}

const MBOX_FIELDS = /^(status|x-status|x-keywords|x-mozilla-status):/i;

/**
 * The flags of an mbox message, from its Status:, X-Status: and X-Keywords: fields, which are
 * then removed (they describe the mbox copy, not the message: dovecot hides them likewise), so
 * that a message exported and imported again has its original bytes. X-Mozilla-Status: is read
 * (when there is no Status:) but kept: it is Thunderbird's own.
 */
export function parseStatusHeaders(raw: Buffer): { raw: Buffer; flags: string[] } {
  let headEnd = raw.indexOf('\n\n');
  const crlf = raw.indexOf('\r\n\r\n');
  if (crlf >= 0 && (headEnd < 0 || crlf < headEnd)) headEnd = crlf;
  const head = raw.toString('latin1', 0, headEnd < 0 ? raw.length : headEnd + 1);
  if (!/^(status|x-status|x-keywords|x-mozilla-status):/im.test(head)) return { raw, flags: [] };
  const flags = new Set<string>();
  const keep: [number, number][] = [];
  let sawStatus = false;
  let mozilla: number | null = null;
  let i = 0;
  let keepFrom = 0;
  while (i < head.length) {
    let j = head.indexOf('\n', i);
    j = j < 0 ? head.length : j + 1;
    // a field with its continuation lines (RFC 5322 §2.2.3)
    while (j < head.length && (head[j] === ' ' || head[j] === '\t')) {
      const k = head.indexOf('\n', j);
      j = k < 0 ? head.length : k + 1;
    }
    const field = head.slice(i, j);
    const m = MBOX_FIELDS.exec(field);
    if (m) {
      const name = m[1].toLowerCase();
      const value = field.slice(m[0].length).replace(/\s+/g, ' ').trim();
      if (name === 'x-mozilla-status') {
        if (/^[0-9a-f]{1,4}$/i.test(value)) mozilla = parseInt(value, 16);
      } else {
        if (i > keepFrom) keep.push([keepFrom, i]);
        keepFrom = j;
        if (name === 'status') {
          sawStatus = true;
          if (value.includes('R')) flags.add('\\Seen');
        } else if (name === 'x-status') {
          sawStatus = true;
          if (value.includes('A')) flags.add('\\Answered');
          if (value.includes('F')) flags.add('\\Flagged');
          if (value.includes('T')) flags.add('\\Draft');
          if (value.includes('D')) flags.add('\\Deleted');
        } else {
          for (const k of value.split(/[\s,]+/)) { const f = k && imapFlag(k); if (f && !f.startsWith('\\')) flags.add(f); }
        }
      }
    }
    i = j;
  }
  if (!sawStatus && mozilla !== null) {
    if (mozilla & 0x1) flags.add('\\Seen');
    if (mozilla & 0x2) flags.add('\\Answered');
    if (mozilla & 0x4) flags.add('\\Flagged');
    if (mozilla & 0x8) flags.add('\\Deleted'); // expunged in Thunderbird, not yet compacted away
  }
  if (keep.length === 0 && keepFrom === 0) return { raw, flags: [...flags] };
  const parts = keep.map(([a, b]) => raw.subarray(a, b));
  parts.push(raw.subarray(keepFrom)); // latin1: one char per byte, so offsets in `head` are byte offsets
  return { raw: Buffer.concat(parts), flags: [...flags] };
}

/** Status:/X-Status:/X-Keywords: lines for an mbox copy (mutt reads the first two, dovecot all three). */
export function mailboxFlagHeaders(flags: string[]): string {
  const has = (f: string) => flags.includes(f);
  let out = `Status: ${has('\\Seen') ? 'RO' : 'O'}\n`;
  const x = (has('\\Answered') ? 'A' : '') + (has('\\Flagged') ? 'F' : '') + (has('\\Draft') ? 'T' : '') + (has('\\Deleted') ? 'D' : '');
  if (x) out += `X-Status: ${x}\n`;
  const kw = flags.filter((f) => !f.startsWith('\\'));
  if (kw.length) out += `X-Keywords: ${kw.join(' ')}\n`;
  return out;
}

const MAILDIR_LETTERS: [string, string][] = [['D', '\\Draft'], ['F', '\\Flagged'], ['R', '\\Answered'], ['S', '\\Seen'], ['T', '\\Deleted']];

/** The flags of a Maildir file name ("...:2,FRS"); lowercase letters are dovecot keywords (dovecot-keywords: "0 name"). */
export function maildirFlags(fileName: string, keywords: Map<string, string>): string[] {
  const at = fileName.lastIndexOf(':2,');
  if (at < 0) return [];
  const flags = new Set<string>();
  for (const ch of fileName.slice(at + 3)) {
    const sys = MAILDIR_LETTERS.find(([l]) => l === ch);
    if (sys) flags.add(sys[1]);
    else if (ch >= 'a' && ch <= 'z') { const k = keywords.get(ch); if (k) flags.add(k); }
  }
  return [...flags];
}

/** The ":2," suffix for these flags (letters in ASCII order, as the Maildir spec asks); keywords get letters from `letters`. */
export function maildirInfo(flags: string[], letters: Map<string, string>): string {
  const sys = MAILDIR_LETTERS.filter(([, f]) => flags.includes(f)).map(([l]) => l);
  const kw = flags.filter((f) => !f.startsWith('\\')).map((f) => letters.get(f)).filter((l): l is string => !!l);
  return ':2,' + [...sys, ...kw.sort()].join('');
}

/** dovecot-keywords: "N name" lines, N 0-25 naming letters a-z. */
export function parseDovecotKeywords(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)\s*$/.exec(line);
    if (m && Number(m[1]) < 26) { const f = imapFlag(m[2]); if (f && !f.startsWith('\\')) map.set(String.fromCharCode(97 + Number(m[1])), f); }
  }
  return map;
}
