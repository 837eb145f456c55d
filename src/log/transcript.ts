// Protocol transcripts (config `transcripts`): a session records its C:/S: lines, the TLS
// handshake and notes, already redacted (the session knows which line carries a password), and
// this recorder hands them to a sink (the store) in batches: every few seconds or N lines, and at
// the end; never one write per line. With transcripts off a session holds NO_RECORDER, whose
// `on` is false: call sites test it before building any text, so the hot path pays one branch.

/** One line as stored: C = client, S = server, TLS = the handshake, note = what the server did. */
export interface RecordedLine { t: number; dir: 'C' | 'S' | 'TLS' | 'note'; text: string }

/** What the store keeps about the session (the store's TranscriptSession). */
export interface RecordedSession {
  sid: string;
  protocol: string;
  local: string | null;
  remote: string | null;
  user: string | null;
  tls: string | null;
  started: number;
  ended: number | null;
  /** new since the last batch; the store adds them to those it has */
  msgIds: string[];
}

export type TranscriptSink = (session: RecordedSession, lines: RecordedLine[]) => Promise<void>;

export interface Recorder {
  readonly on: boolean;
  readonly sid: string;
  client(text: string): void;
  server(text: string): void;
  /** the handshake as one line: "TLSv1.3 TLS_AES_256_GCM_SHA384"; also kept on the session */
  tls(desc: string): void;
  note(text: string): void;
  user(address: string): void;
  /** our end, once it is known (an outbound connection learns it after connecting) */
  local(endpoint: string | null): void;
  msgId(id: string): void;
  /** writes what is left and marks the session ended; later calls are ignored */
  end(): void;
}

/** The recorder of a session that records nothing (transcripts off). */
export const NO_RECORDER: Recorder = Object.freeze({
  on: false, sid: '',
  client() {}, server() {}, tls() {}, note() {}, user() {}, local() {}, msgId() {}, end() {},
});

/** A batch goes to the store after this many lines or this long after its first line. */
export const BATCH_LINES = 200;
export const BATCH_MS = 3000;
/** The store keeps 2,000 lines / 256 KiB per session (store/defaults.ts); past that, one
 *  more line is sent so that the store marks the session truncated, and the rest is dropped here. */
const KEEP_LINES = 2001;
const KEEP_BYTES = 256 * 1024 + 1024;
/** longest line kept; the rest is cut with a count */
export const MAX_LINE_CHARS = 1000;
const MAX_MSGIDS = 1000;

/** A line as it is kept: no CR/LF, bounded. */
export function clip(text: string, max = MAX_LINE_CHARS): string {
  const t = text.replace(/\r?\n$/, '').replace(/\r?\n|\r/g, ' ');
  return t.length > max ? `${t.slice(0, max)}… (${t.length - max} more characters)` : t;
}

export interface RecorderErrorLog { warn(obj: object, msg: string): void }

export interface OpenOptions {
  sid: string;
  protocol: string;
  local?: string | null;
  remote?: string | null;
  /** for a write that fails (logged once per session, never thrown) */
  log: RecorderErrorLog;
}

class BatchingRecorder implements Recorder {
  readonly on = true;
  readonly sid: string;
  private readonly meta: RecordedSession;
  private lines: RecordedLine[] = [];
  private msgIds: string[] = [];
  private readonly seenIds = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private count = 0;
  private bytes = 0;
  private ended = false;
  private dirty = false;
  private failed = false;

  constructor(private readonly sink: TranscriptSink, opts: OpenOptions, private readonly log: RecorderErrorLog) {
    this.sid = opts.sid;
    this.meta = {
      sid: opts.sid, protocol: opts.protocol, local: opts.local ?? null, remote: opts.remote ?? null,
      user: null, tls: null, started: Date.now(), ended: null, msgIds: [],
    };
  }

  private add(dir: RecordedLine['dir'], text: string): void {
    if (this.ended) return;
    if (this.count >= KEEP_LINES || this.bytes >= KEEP_BYTES) return;
    const line = clip(text);
    this.count++;
    this.bytes += line.length + 8;
    this.lines.push({ t: Date.now(), dir, text: line });
    if (this.lines.length >= BATCH_LINES) this.flush();
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.ended) return;
    this.timer = setTimeout(() => this.flush(), BATCH_MS);
    this.timer.unref();
  }

  client(text: string): void { this.add('C', text); }
  server(text: string): void { this.add('S', text); }
  note(text: string): void { this.add('note', text); }
  tls(desc: string): void {
    this.meta.tls = desc;
    this.dirty = true;
    this.add('TLS', desc);
  }
  user(address: string): void {
    if (this.meta.user === address) return;
    this.meta.user = address;
    this.dirty = true;
    this.schedule();
  }
  local(endpoint: string | null): void {
    if (!endpoint || this.meta.local === endpoint) return;
    this.meta.local = endpoint;
    this.dirty = true;
    this.schedule();
  }
  msgId(id: string): void {
    if (this.ended || this.seenIds.has(id) || this.seenIds.size >= MAX_MSGIDS) return;
    this.seenIds.add(id);
    this.msgIds.push(id);
    this.schedule();
  }

  end(): void {
    if (this.ended) return;
    this.meta.ended = Date.now();
    this.dirty = true;
    this.flush();
    this.ended = true;
  }

  private flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (!this.lines.length && !this.msgIds.length && !this.dirty) return;
    const session = { ...this.meta, msgIds: this.msgIds };
    const lines = this.lines;
    this.lines = [];
    this.msgIds = [];
    this.dirty = false;
    // in order, one at a time: a session's batches never overtake each other
    this.chain = this.chain.then(() => this.sink(session, lines)).catch((err: unknown) => {
      if (this.failed) return;
      this.failed = true;
      this.log.warn({ err: (err as Error)?.message, code: 'TRANSCRIPT_WRITE_FAILED', sid: this.sid }, 'transcript write failed');
    });
  }
}

/** A recorder for one session, or NO_RECORDER when there is no sink (transcripts off). */
export function openRecorder(sink: TranscriptSink | null, opts: OpenOptions): Recorder {
  return sink ? new BatchingRecorder(sink, opts, opts.log) : NO_RECORDER;
}

/** "ip:port" of one end of a socket (IPv6 in brackets). */
export function endpoint(address: string | undefined | null, port: number | undefined | null): string | null {
  if (!address) return null;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a.includes(':') ? `[${a}]:${port ?? 0}` : `${a}:${port ?? 0}`;
}

/** The TLS line: protocol version and cipher of a connected TLS socket. */
export function tlsLine(sock: { getProtocol?(): string | null; getCipher?(): { name?: string } | null | undefined }): string {
  const v = sock.getProtocol?.() ?? 'TLS';
  const c = sock.getCipher?.()?.name ?? '';
  return `${v} ${c}`.trim();
}

/**
 * A message (or literal) as the transcript shows it: the header lines (at most `maxHeader`),
 * the first `bodyLines` lines of the body, and how many bytes were left out.
 * With `header: false` only the first `bodyLines` lines are kept.
 */
export function excerpt(bytes: Buffer, opts: { header?: boolean; maxHeader?: number; bodyLines?: number } = {}): { lines: string[]; elided: number } {
  const maxHeader = opts.maxHeader ?? 40;
  const bodyLines = opts.bodyLines ?? 3;
  const lines: string[] = [];
  // look at no more than the first 64 KiB: it is an excerpt
  const head = bytes.subarray(0, 64 * 1024).toString('latin1');
  let pos = 0;
  let inHeader = opts.header !== false;
  let headerCount = 0;
  let body = 0;
  while (pos < head.length) {
    const lf = head.indexOf('\n', pos);
    const end = lf < 0 ? head.length : lf + 1;
    if (lf < 0 && end === head.length && head.length < bytes.length) break; // a partial line at the 64 KiB cut
    const line = head.slice(pos, end).replace(/\r?\n$/, '');
    if (inHeader) {
      if (line === '') { inHeader = false; lines.push(''); pos = end; continue; }
      if (headerCount >= maxHeader) { inHeader = false; break; }
      headerCount++;
    } else {
      if (body >= bodyLines) break;
      body++;
    }
    lines.push(Buffer.from(line, 'latin1').toString('utf8'));
    pos = end;
  }
  return { lines, elided: bytes.length - Buffer.byteLength(head.slice(0, pos), 'latin1') };
}

/**
 * A message or literal into the transcript: its excerpt, then a note of what was left out.
 * `total`: the size of the whole when `bytes` is only its beginning.
 */
export function recordMessage(rec: Recorder, dir: 'C' | 'S', bytes: Buffer, what = 'the message', opts: { header?: boolean; bodyLines?: number; total?: number } = {}): void {
  const ex = excerpt(bytes, opts);
  for (const l of ex.lines) if (dir === 'C') rec.client(l); else rec.server(l);
  const elided = ex.elided + Math.max(0, (opts.total ?? bytes.length) - bytes.length);
  if (elided > 0) rec.note(`<${elided} bytes of ${what} elided>`);
}

/** The sink of a post office: its store, when the config says `transcripts: on`. */
export function sinkFor(config: { transcripts: string }, store: { transcripts: { write: TranscriptSink } }): TranscriptSink | null {
  return config.transcripts === 'on' ? (s, l) => store.transcripts.write(s, l) : null;
}
