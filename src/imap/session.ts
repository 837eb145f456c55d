// RFC 3501 §3 (states), §5.2 and §7.4.1 (when untagged updates may be sent), §5.5 (one command
// at a time here: pipelined commands wait their turn). The session owns the socket: it feeds the
// parser, runs each command in the state the table allows, writes every reply and pushes the
// changes other sessions made to the selected mailbox.
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { ConnectionLimiter, Slot } from '../auth/limits.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { endpoint, openRecorder, sinkFor, tlsLine, type Recorder } from '../log/transcript.js';
import { isLoopback } from '../mail/address.js';
import type { AccessStep, MailboxChange, MailboxRecord, Store, UserRecord } from '../store/index.js';
import { TLS_POLICY, type TlsManager } from '../tls/tls.js';
import { COMMANDS } from './commands/index.js';
import { enablesCondstore } from './grammar/index.js';
import { ImapParser } from './parser.js';
import type { After, ImapCmd, ImapCommand, ImapReply, Selected, SessionState } from './types.js';
import { ImapTranscript } from './transcript.js';
import { capabilities } from './capabilities.js';
import type { MailboxHub } from './hub.js';
import { compactSet, ImapBad, ImapNo } from './wire.js';


export interface ImapOptions {
  /** ms of silence before an authenticated client is dropped (RFC 3501 §5.4: at least 30 min) */
  idleTimeoutMs: number;
  /** ms of silence before a client that has not logged in is dropped */
  preauthTimeoutMs: number;
  /** BAD replies in a row before BYE */
  maxErrors: number;
  /** commands allowed before a successful login */
  maxPreauthCommands: number;
  /** failed logins in one session before BYE */
  maxLoginFailures: number;
}

/** size of an output buffer; responses are encoded into it and written when 256 KiB are queued */
const OUT_CHUNK = 300 * 1024;
/** the first buffer of a reply: most replies are short */
const SMALL_CHUNK = 16 * 1024;
/** output buffers (of those two sizes) whose bytes the kernel has taken, ready for reuse by any session */
const freeChunks = new Map<number, Buffer[]>([[OUT_CHUNK, []], [SMALL_CHUNK, []]]);
const MAX_FREE_CHUNKS = 16;
/** literals at least this big are written as they are (message bytes are immutable), not copied */
const NO_COPY_BYTES = 2048;

function recycle(chunks: Buffer[]): void {
  for (const c of chunks) {
    const free = freeChunks.get(c.length)!;
    if (free.length < MAX_FREE_CHUNKS) free.push(c);
  }
}

export const DEFAULT_OPTIONS: ImapOptions = {
  idleTimeoutMs: 30 * 60_000, preauthTimeoutMs: 60_000, maxErrors: 10, maxPreauthCommands: 25, maxLoginFailures: 3,
};

export interface ImapContext {
  listener: 'imap' | 'imaps';
  config: Config;
  store: Store;
  auth: Authenticator;
  tls: TlsManager;
  log: Logger;
  options: ImapOptions;
  /** per-mailbox fan-out of store.events (one per listener) */
  hub: MailboxHub;
  /** connection limits shared with every listener */
  limiter?: ConnectionLimiter;
}


let sessions = 0;

export class ImapSession {
  state: SessionState = 'not-authenticated';
  user: UserRecord | null = null;
  /** this connection's place in the connection limits (evictable until login) */
  slot: Slot | null = null;
  selected: Selected | null = null;
  readonly parser: ImapParser;
  readonly sid: string;
  readonly log: Logger;
  /** the session's transcript (config transcripts): NO_RECORDER when off, and then no wire tap */
  readonly rec: Recorder;
  private readonly wire: ImapTranscript | null;
  sock: net.Socket;
  secure: boolean;
  /** ENABLEd extensions (RFC 5161): CONDSTORE, QRESYNC, IMAP4REV2 */
  readonly enabled = new Set<string>();
  /** CONDSTORE is on once ENABLEd or any command used it (RFC 7162 §3.1) */
  condstore = false;
  clientId: Record<string, string> | null = null;
  /** RFC 5182 SEARCHRES: the UIDs saved by SEARCH RETURN (SAVE), named "$" */
  searchRes: number[] = [];
  /** messages whose body this session fetched already (journey: first fetch only) */
  readonly fetchedBodies = new Set<number>();
  loginFailures = 0;
  private errors = 0;
  private preauthCommands = 0;
  /** Queued output: finished segments, and the buffer being filled (strings are encoded straight into it). */
  private segs: Buffer[] = [];
  /** full-size output buffers in `segs`: back to freeChunks once written */
  private chunks: Buffer[] = [];
  private cur: Buffer = Buffer.allocUnsafe(0);
  private off = 0;
  /** text written since the last bytes, encoded together (see write) */
  private text = '';
  /** where the bytes not yet in a segment begin in `cur` */
  private segStart = 0;
  private outBytes = 0;
  private busy = false;
  private closed = false;
  private lineWaiter: ((l: string | null) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private onChange = (c: MailboxChange) => this.changed(c);
  /** called when something arrives for the selected mailbox while IDLE waits */
  idleWake: (() => void) | null = null;
  private updating: Promise<void> = Promise.resolve();
  private readonly owned = new WeakSet<object>();
  /** RFC 4978 COMPRESS=DEFLATE: raw deflate in both directions once started */
  private deflate: zlib.DeflateRaw | null = null;
  private inflate: zlib.InflateRaw | null = null;
  get compressed(): boolean { return this.deflate !== null; }

  constructor(readonly ctx: ImapContext, sock: net.Socket, readonly remoteAddress: string) {
    this.sid = `i${(++sessions).toString(36)}${Date.now().toString(36).slice(-4)}`;
    this.log = ctx.log.child({ sid: this.sid, proto: ctx.listener, remote: remoteAddress });
    this.rec = openRecorder(sinkFor(ctx.config, ctx.store), {
      sid: this.sid, protocol: ctx.listener, log: this.log,
      local: endpoint(sock.localAddress, sock.localPort), remote: endpoint(sock.remoteAddress, sock.remotePort),
    });
    this.wire = this.rec.on ? new ImapTranscript(this.rec) : null;
    if (this.wire && sock instanceof tls.TLSSocket) this.rec.tls(tlsLine(sock));
    this.sock = sock;
    this.secure = ctx.listener === 'imaps';
    this.parser = new ImapParser({ maxAppendLiteral: ctx.config.maxMessageBytes, maxLine: ctx.config.imapMaxLineBytes });
    this.attach(sock);
  }

  get isLoopback(): boolean {
    return isLoopback(this.remoteAddress);
  }

  /** RFC 3501 §6.2.3: LOGINDISABLED until TLS, unless the operator allows plaintext on loopback. */
  get plaintextAuthAllowed(): boolean {
    return this.secure || (this.ctx.config.allowPlaintextAuthOnLoopback && this.isLoopback);
  }

  /** RFC 9051 §5.1: once IMAP4rev2 is enabled, mailbox names travel as UTF-8, not modified UTF-7 */
  get utf8Names(): boolean { return this.enabled.has('IMAP4REV2'); }

  start(): void {
    this.send(`* OK [CAPABILITY ${capabilities(this)}] postoffice IMAP4rev1 ready`);
    void this.flush();
    this.touch();
  }

  // ------------------------------------------------------------------ socket

  private readonly handlers = {
    data: (d: Buffer) => this.onData(d),
    error: (err: Error) => this.log.debug({ err: err.message }, 'socket error'),
    close: () => this.cleanup(),
  };

  private attach(sock: net.Socket): void {
    sock.on('data', this.handlers.data);
    sock.on('error', this.handlers.error);
    sock.on('close', this.handlers.close);
  }

  private detach(sock: net.Socket): void {
    sock.off('data', this.handlers.data);
    sock.off('close', this.handlers.close);
  }

  private onData(d: Buffer): void {
    if (this.closed) return;
    this.slot?.touch();
    this.touch();
    this.parser.push(d);
    this.wire?.read(d);
    if (this.lineWaiter) this.serveLine();
    else if (!this.busy) void this.pump();
  }

  touch(): void {
    if (this.user) this.slot?.authenticated();
    if (this.timer) clearTimeout(this.timer);
    const ms = this.user ? this.ctx.options.idleTimeoutMs : this.ctx.options.preauthTimeoutMs;
    this.timer = setTimeout(() => {
      this.log.info('idle timeout');
      this.bye('Autologout; idle for too long');
    }, ms);
    this.timer.unref?.();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.selected) this.ctx.hub.unwatch(this.selected.mailbox.id, this.onChange);
    this.lineWaiter?.(null);
    this.lineWaiter = null;
    this.idleWake?.();
    this.rec.end();
  }

  get isClosed(): boolean { return this.closed; }

  /** Queue a line (CRLF added). */
  send(line: string): void {
    this.write(line);
    this.write('\r\n');
  }

  /**
   * Queue raw pieces (literals inside a response). Text is gathered and encoded in one go when
   * bytes follow or the output is flushed: a FETCH line is a handful of short strings.
   */
  write(piece: string | Buffer): void {
    if (this.wire) this.wire.wrote(piece);
    this.outBytes += piece.length;
    if (typeof piece === 'string') {
      this.text += piece;
      if (this.text.length >= 4096) this.encodeText();
      return;
    }
    if (this.text) this.encodeText();
    if (piece.length >= NO_COPY_BYTES) {
      this.cut();
      this.segs.push(piece); // a literal goes out as it is, never copied
    } else {
      if (this.cur.length - this.off < piece.length) this.rotate(piece.length);
      this.off += piece.copy(this.cur, this.off);
    }
  }

  private encodeText(): void {
    const t = this.text;
    this.text = '';
    const max = t.length * 3; // UTF-8 bytes of a JS string are at most 3 per UTF-16 unit
    if (this.cur.length - this.off < max) this.rotate(max);
    this.off += this.cur.write(t, this.off);
  }

  /** What was encoded since the last segment becomes one; the buffer goes on filling after it. */
  private cut(): void {
    if (this.off > this.segStart) {
      this.segs.push(this.cur.subarray(this.segStart, this.off));
      this.segStart = this.off;
    }
  }

  /** Close the buffer being filled (it becomes a segment) and start one with room for `need` bytes. */
  private rotate(need: number): void {
    this.cut();
    if (this.off > 0) {
      if (freeChunks.has(this.cur.length)) this.chunks.push(this.cur);
      this.cur = Buffer.allocUnsafe(0);
      this.off = 0;
      this.segStart = 0;
    }
    // a short reply gets a small buffer; a response that outgrows it continues in big ones
    if (need > this.cur.length) {
      const size = Math.max(this.segs.length ? OUT_CHUNK : SMALL_CHUNK, need);
      this.cur = freeChunks.get(size)?.pop() ?? Buffer.allocUnsafe(size);
    }
  }

  /**
   * Write what is queued once it is big, waiting for 'drain' (back-pressure). Then let the
   * event loop run: other sessions take turns with a long FETCH instead of waiting for its end.
   */
  maybeFlush(): Promise<void> | undefined {
    // no promise when there is nothing to do: a FETCH of 5,000 messages awaits only what it must
    return this.outBytes >= 256 * 1024 ? this.flushAndYield() : undefined;
  }

  private async flushAndYield(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  async flush(): Promise<void> {
    if (this.text) this.encodeText();
    this.rotate(0);
    const segs = this.segs;
    const chunks = this.chunks;
    this.segs = [];
    this.chunks = [];
    this.outBytes = 0;
    if (!segs.length || this.closed) return;
    if (this.deflate) {
      const d = this.deflate;
      d.write(segs.length === 1 ? segs[0] : Buffer.concat(segs));
      await new Promise<void>((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
      if (this.sock.writableNeedDrain) return this.drained();
      return;
    }
    // one writev for all segments, no concatenation
    this.sock.cork();
    let ok = true;
    for (let i = 0; i < segs.length - 1; i++) ok = this.sock.write(segs[i]) && ok;
    // once the last piece is written (or the socket is gone) the output buffers can be used again
    ok = this.sock.write(segs[segs.length - 1], chunks.length ? () => recycle(chunks) : undefined) && ok;
    this.sock.uncork();
    if (!ok) return this.drained();
  }

  /** Wait until the client has read what we wrote; one that stops reading is dropped after the idle timeout. */
  private async drained(): Promise<void> {
    if (this.closed) return;
    const sock = this.sock;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.info('client stopped reading; dropping it');
        sock.destroy();
        done();
      }, this.ctx.options.idleTimeoutMs);
      const done = () => { clearTimeout(timer); sock.off('drain', done); sock.off('close', done); resolve(); };
      sock.on('drain', done);
      sock.on('close', done);
    });
  }

  /** RFC 4978 §3: after the tagged OK, everything is raw DEFLATE; bytes already read are compressed. */
  startCompression(): void {
    const inflate = zlib.createInflateRaw({ chunkSize: 64 * 1024 });
    const deflate = zlib.createDeflateRaw({ level: 6 });
    const sock = this.sock;
    sock.off('data', this.handlers.data);
    sock.on('data', (d: Buffer) => inflate.write(d));
    inflate.on('data', (d: Buffer) => this.onData(d));
    inflate.on('error', (err) => { this.log.info({ err: err.message }, 'bad DEFLATE data'); sock.destroy(); this.cleanup(); });
    deflate.on('data', (d: Buffer) => { if (!sock.destroyed) sock.write(d); });
    deflate.on('error', () => sock.destroy());
    sock.on('close', () => { inflate.destroy(); deflate.destroy(); });
    this.inflate = inflate;
    this.deflate = deflate;
    if (this.wire) this.rec.note('DEFLATE on (RFC 4978): from here both directions are compressed on the wire; shown decompressed');
    const rest = this.parser.takeBuffered();
    if (rest.length) inflate.write(rest);
  }

  bye(text: string): void {
    if (this.closed) return;
    this.send(`* BYE ${text}`);
    void this.flush().then(() => this.sock.end());
    this.cleanup();
    setTimeout(() => this.sock.destroy(), 2000).unref();
  }

  /** Read one raw line from the client (AUTHENTICATE continuation, IDLE's DONE); null if closed. */
  readLine(): Promise<string | null> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(null);
      this.lineWaiter = resolve;
      this.touch(); // waiting for the client (IDLE, AUTHENTICATE) is subject to the idle timeout
      this.sock.resume();
      this.serveLine();
    });
  }

  private serveLine(): void {
    const w = this.lineWaiter;
    if (!w) return;
    const l = this.parser.nextLine();
    if (l === null) return;
    this.lineWaiter = null;
    if (l === 'toolong') { this.bye('line too long'); w(null); return; }
    w(l);
  }

  // ------------------------------------------------------------------ STARTTLS (RFC 3501 §6.2.1)

  async startTls(): Promise<void> {
    // anything the client pipelined after STARTTLS came in plaintext: discard it (CVE-2011-0411 class)
    this.parser.reset();
    const plain = this.sock;
    this.detach(plain);
    plain.pause();
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.ctx.tls.context, ...TLS_POLICY });
    this.sock = secure;
    this.secure = true;
    this.attach(secure);
    await new Promise<void>((resolve) => {
      secure.once('secure', () => { if (this.wire) this.rec.tls(tlsLine(secure)); resolve(); });
      secure.once('error', () => resolve());
      secure.once('close', () => resolve());
    });
  }

  // ------------------------------------------------------------------ the command loop

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed) {
        const r = this.parser.next();
        if (r.kind === 'needMore') break;
        if (r.kind === 'continue') { this.send('+ Ready for literal data'); await this.flush(); continue; }
        if (r.kind === 'linetoolong') { this.send('* BAD line too long'); this.bye('too much input without a line end'); break; }
        if (r.kind === 'toobig') {
          if (r.sync) {
            this.wire?.literalRefused();
            this.send(`${r.tag ?? '*'} NO [TOOBIG] literal of ${r.size} octets is too large`);
            await this.flush();
            if (this.countError()) break;
            continue;
          }
          this.send(`${r.tag ?? '*'} BAD [TOOBIG] non-synchronizing literal of ${r.size} octets is too large`);
          this.bye('cannot skip a non-synchronizing literal');
          break;
        }
        if (r.kind === 'bad') {
          this.send(`${r.tag ?? '*'} BAD ${r.message}`);
          await this.flush();
          if (this.countError()) break;
          continue;
        }
        this.sock.pause();
        await this.execute(r.cmd);
        if (!this.closed && !this.lineWaiter) this.sock.resume();
      }
    } catch (err) {
      this.log.error({ err }, 'session failed');
      this.bye('internal error');
    } finally {
      this.busy = false;
    }
  }

  private countError(): boolean {
    if (++this.errors >= this.ctx.options.maxErrors) {
      this.bye('too many errors');
      return true;
    }
    return false;
  }

  /**
   * Journey events are written after the reply that caused them (the tagged OK does not wait
   * for that commit); the session's next command waits for it, so its own view is in order.
   */
  private journeyWrite: Promise<void> | null = null;
  recordFetched(messages: AccessStep[]): void {
    if (this.wire) for (const m of messages) this.rec.msgId(m.msgId);
    const prev = this.journeyWrite;
    const session = { sid: this.sid, user: this.user!.address, protocol: this.ctx.listener, client: this.clientId?.name ?? this.remoteAddress };
    const next = this.ctx.store.journey.accessed(session, 'fetched', messages).catch((err: unknown) => this.log.error({ err }, 'journey record failed'));
    this.journeyWrite = prev ? prev.then(() => next) : next;
  }

  private async execute(cmd: ImapCmd): Promise<void> {
    // no idle timeout while a command runs (a slow login or a big FETCH is not idleness)
    if (this.timer) clearTimeout(this.timer);
    if (this.journeyWrite) { const w = this.journeyWrite; this.journeyWrite = null; await w; }
    try {
      await this.executeInner(cmd);
    } finally {
      if (!this.closed) this.touch();
    }
  }

  private async executeInner(cmd: ImapCmd): Promise<void> {
    const { tag, verb } = cmd;
    if (!this.user && ++this.preauthCommands > this.ctx.options.maxPreauthCommands) {
      this.bye('too many commands before login');
      return;
    }
    const handler = COMMANDS[verb] as ImapCommand;
    // RFC 3501 §7.4.1: no EXPUNGE during FETCH, STORE, SEARCH (UID versions excepted)
    const allowExpunge = !(handler.noExpunge && !('uid' in cmd && cmd.uid));
    let reply: ImapReply;
    try {
      if (!handler.states.includes(this.state)) {
        throw new ImapBad(this.state === 'not-authenticated' ? `${verb} needs login first` : this.state === 'authenticated' && handler.states.includes('selected') ? `${verb} needs a selected mailbox` : `${verb} not allowed now`);
      }
      if (enablesCondstore(cmd)) this.enableCondstore(verb);
      reply = await handler.run(this, cmd as never);
      if (this.wire && this.user) this.rec.user(this.user.address);
      this.errors = 0;
    } catch (err) {
      if (err instanceof ImapNo) {
        await this.sendUpdates(allowExpunge);
        this.send(`${tag} NO ${err.code ? `[${err.code}] ` : ''}${err.message}`);
        this.log.info({ cmd: verb, reply: err.message }, 'NO');
      } else if (err instanceof ImapBad) {
        this.send(`${tag} BAD ${err.code ? `[${err.code}] ` : ''}${err.message}`);
        this.log.info({ cmd: verb, reply: err.message }, 'BAD');
        await this.flush();
        this.countError();
      } else {
        this.log.error({ err, cmd: verb }, 'command failed');
        this.send(`${tag} NO [SERVERBUG] internal error, try again later`);
      }
      await this.flush();
      if (err instanceof ImapNo && err.after === 'bye') this.bye('too many failed logins');
      return;
    }
    if (this.closed) return;
    const text = typeof reply === 'string' ? reply : reply.text;
    const after: After | undefined = typeof reply === 'string' ? undefined : reply.after;
    // RFC 3501 §6.1.3: LOGOUT's BYE comes before its OK, and nothing else does
    if (after === 'logout') { this.send('* BYE postoffice logging out'); this.state = 'logout'; }
    else if (after !== 'starttls') await this.sendUpdates(allowExpunge);
    this.send(`${tag} OK ${text}`);
    await this.flush();
    if (after === 'starttls') await this.startTls();
    else if (after === 'compress') this.startCompression();
    else if (after === 'bye') this.bye('closing');
    this.touch();
    if (this.state === 'logout') {
      this.sock.end();
      this.cleanup();
    }
  }

  /**
   * RFC 7162 §3.1: the first CONDSTORE-enabling command turns CONDSTORE on; with a mailbox
   * selected, the server then reports its HIGHESTMODSEQ (SELECT/EXAMINE report it themselves).
   */
  private enableCondstore(verb: string): void {
    if (this.condstore) return;
    this.condstore = true;
    const sel = this.selected;
    if (sel && verb !== 'SELECT' && verb !== 'EXAMINE') this.send(`* OK [HIGHESTMODSEQ ${sel.mailbox.highestModseq}] CONDSTORE enabled`);
  }

  // ------------------------------------------------------------------ selected mailbox updates

  setSelected(sel: Selected | null): void {
    if (this.selected) this.ctx.hub.unwatch(this.selected.mailbox.id, this.onChange);
    if (sel && !this.closed) this.ctx.hub.watch(sel.mailbox.id, this.onChange);
    this.selected = sel;
    this.state = sel ? 'selected' : this.user ? 'authenticated' : 'not-authenticated';
  }

  private changed(c: MailboxChange): void {
    const sel = this.selected;
    if (!sel || c.mailboxId !== sel.mailbox.id) return;
    if ((c.kind === 'flags' || c.kind === 'expunge') && c.origin === this) {
      // our own STORE/EXPUNGE/MOVE answered already; keep only flag changes others made
      return;
    }
    // coalesce runs of the same kind, so a bulk delivery is one pending entry
    const last = sel.pending[sel.pending.length - 1];
    if (last && last.kind === 'exists' && c.kind === 'exists' && last.uids.length < 1_000_000) {
      // events are shared by every session: copy once, then grow our own copy
      if (!this.owned.has(last)) {
        const mine = { ...last, uids: [...last.uids] };
        this.owned.add(mine);
        sel.pending[sel.pending.length - 1] = mine;
      }
      const mine = sel.pending[sel.pending.length - 1] as typeof last;
      for (const u of c.uids) mine.uids.push(u);
      mine.modseq = Math.max(mine.modseq, c.modseq);
      this.idleWake?.();
      return;
    }
    if (sel.pending.length >= 10_000) {
      // a client that never lets us report is not worth an unbounded queue
      this.bye('too many pending mailbox changes; please reconnect');
      return;
    }
    sel.pending.push(c);
    this.idleWake?.();
  }

  /** Send pending EXISTS / EXPUNGE / FETCH FLAGS (RFC 3501 §7.4.1: expunges only when allowed). */
  sendUpdates(allowExpunge: boolean): Promise<void> {
    const p = this.updating.then(() => this.doSendUpdates(allowExpunge));
    this.updating = p.catch(() => undefined);
    return p;
  }

  private async doSendUpdates(allowExpunge: boolean): Promise<void> {
    const sel = this.selected;
    if (!sel || !sel.pending.length) return;
    const qresync = this.enabled.has('QRESYNC');
    const rev2 = this.enabled.has('IMAP4REV2');
    while (sel.pending.length) {
      const c = sel.pending[0];
      if (c.kind === 'deleted') {
        sel.pending = [];
        sel.gone = true;
        this.bye('the selected mailbox was deleted');
        return;
      }
      if (c.kind === 'expunge') {
        if (!allowExpunge) break;
        sel.pending.shift();
        const vanished: number[] = [];
        const gone = new Set(c.uids);
        for (let i = sel.uids.length - 1; i >= 0; i--) {
          if (!gone.has(sel.uids[i])) continue;
          if (qresync) vanished.push(sel.uids[i]);
          else this.send(`* ${i + 1} EXPUNGE`);
          sel.recent.delete(sel.uids[i]);
          sel.uids.splice(i, 1);
        }
        if (vanished.length) this.send(`* VANISHED ${compactSet(vanished)}`);
        if (c.modseq > sel.mailbox.highestModseq) sel.mailbox.highestModseq = c.modseq;
      } else if (c.kind === 'exists') {
        sel.pending.shift();
        const last = sel.uids.length ? sel.uids[sel.uids.length - 1] : 0;
        const fresh = c.uids.filter((u) => u > last).sort((a, b) => a - b);
        if (!fresh.length) continue;
        sel.uids.push(...fresh);
        if (!sel.readOnly) {
          const claimed = await this.ctx.store.mailboxes.claimRecent(sel.mailbox.id).catch(() => [] as number[]);
          for (const u of claimed) sel.recent.add(u);
        }
        this.send(`* ${sel.uids.length} EXISTS`);
        if (!rev2) this.send(`* ${sel.recent.size} RECENT`);
        if (c.modseq > sel.mailbox.highestModseq) sel.mailbox.highestModseq = c.modseq;
      } else {
        sel.pending.shift();
        const index = new Map<number, number>();
        if (c.changes.length > 8) sel.uids.forEach((u, i) => index.set(u, i + 1));
        for (const ch of c.changes) {
          const seq = index.size ? index.get(ch.uid) : sel.uids.indexOf(ch.uid) + 1;
          if (!seq) continue;
          const flags = sel.recent.has(ch.uid) && !rev2 ? [...ch.flags, '\\Recent'] : ch.flags;
          this.send(`* ${seq} FETCH (UID ${ch.uid} FLAGS (${flags.join(' ')})${this.condstore ? ` MODSEQ (${ch.modseq})` : ''})`);
        }
        if (c.modseq > sel.mailbox.highestModseq) sel.mailbox.highestModseq = c.modseq;
      }
      await this.maybeFlush();
    }
  }
}

export type { ImapNo, ImapBad };
