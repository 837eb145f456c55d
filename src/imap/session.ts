// RFC 3501 §3 (states), §5.5 (one command at a time here: pipelined commands wait their turn).
// The session feeds the parser, runs each typed command in the states its handler names, writes
// the tagged reply and does what the handler asked to follow it (STARTTLS, COMPRESS, BYE, LOGOUT).
// Bytes out, DEFLATE and TLS are output.ts's; other sessions' changes are updates.ts's.
import type net from 'node:net';
import tls from 'node:tls';
import type { ConnectionLimiter, Slot } from '../auth/limits.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { endpoint, openRecorder, sinkFor, tlsLine, type Recorder } from '../log/transcript.js';
import { isLoopback } from '../mail/address.js';
import type { AccessStep, MailboxChange, Store, UserRecord } from '../store/index.js';
import type { TlsManager } from '../tls/tls.js';
import { COMMANDS } from './commands/index.js';
import { enablesCondstore } from './grammar/index.js';
import { ImapOutput } from './output.js';
import { ImapParser } from './parser.js';
import type { After, ImapCmd, ImapCommand, ImapReply, Selected, SessionState } from './types.js';
import { ImapTranscript } from './transcript.js';
import { capabilities } from './capabilities.js';
import type { MailboxHub } from './hub.js';
import { MailboxUpdates } from './updates.js';
import { ImapBad, ImapNo } from './wire.js';

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
  private busy = false;
  private closed = false;
  private lineWaiter: ((l: string | null) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** called when something arrives for the selected mailbox while IDLE waits */
  idleWake: (() => void) | null = null;
  private readonly out: ImapOutput;
  private readonly updates = new MailboxUpdates(this);
  get compressed(): boolean { return this.out.compressed; }
  get sock(): net.Socket { return this.out.sock; }

  constructor(readonly ctx: ImapContext, sock: net.Socket, readonly remoteAddress: string) {
    this.sid = `i${(++sessions).toString(36)}${Date.now().toString(36).slice(-4)}`;
    this.log = ctx.log.child({ sid: this.sid, proto: ctx.listener, remote: remoteAddress });
    this.rec = openRecorder(sinkFor(ctx.config, ctx.store), {
      sid: this.sid, protocol: ctx.listener, log: this.log,
      local: endpoint(sock.localAddress, sock.localPort), remote: endpoint(sock.remoteAddress, sock.remotePort),
    });
    this.wire = this.rec.on ? new ImapTranscript(this.rec) : null;
    if (this.wire && sock instanceof tls.TLSSocket) this.rec.tls(tlsLine(sock));
    this.secure = ctx.listener === 'imaps';
    this.parser = new ImapParser({ maxAppendLiteral: ctx.config.maxMessageBytes, maxLine: ctx.config.imapMaxLineBytes });
    this.out = new ImapOutput(sock, {
      log: this.log, rec: this.rec, wire: this.wire, drainTimeoutMs: ctx.options.idleTimeoutMs,
      onData: (d) => this.onData(d), onClose: () => this.cleanup(),
    });
  }

  get isLoopback(): boolean {
    return isLoopback(this.remoteAddress);
  }

  /** RFC 3501 §6.2.3: LOGINDISABLED until TLS, unless the operator allows plaintext on loopback. */
  get plaintextAuthAllowed(): boolean {
    return this.secure || (this.ctx.config.allowPlaintextAuthOnLoopback && this.isLoopback);
  }

  /** RFC 9051 §5.1, RFC 6855 §3: once IMAP4rev2 or UTF8=ACCEPT is enabled, mailbox names travel as UTF-8, not modified UTF-7 */
  get utf8Names(): boolean { return this.enabled.has('IMAP4REV2') || this.enabled.has('UTF8=ACCEPT'); }

  start(): void {
    this.send(`* OK [CAPABILITY ${capabilities(this)}] postoffice IMAP4rev1 ready`);
    void this.flush();
    this.touch();
  }

  // ------------------------------------------------------------------ socket

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
    this.out.close();
    if (this.timer) clearTimeout(this.timer);
    if (this.selected) this.ctx.hub.unwatch(this.selected.mailbox.id, this.updates.onChange);
    this.lineWaiter?.(null);
    this.lineWaiter = null;
    this.idleWake?.();
    this.rec.end();
  }

  get isClosed(): boolean { return this.closed; }

  /** Queue a line (CRLF added). */
  send(line: string): void { this.out.send(line); }

  /** Queue raw pieces (literals inside a response). */
  write(piece: string | Buffer): void { this.out.write(piece); }

  /** Write what is queued once it is big (back-pressure; others take turns with a long FETCH). */
  maybeFlush(): Promise<void> | undefined { return this.out.maybeFlush(); }

  flush(): Promise<void> { return this.out.flush(); }

  bye(text: string): void {
    if (this.closed) return;
    this.send(`* BYE ${text}`);
    const sock = this.sock;
    void this.flush().then(() => sock.end());
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

  /** RFC 3501 §6.2.1: anything the client pipelined after STARTTLS came in plaintext: discarded (CVE-2011-0411 class). */
  private async startTls(): Promise<void> {
    this.parser.reset();
    this.secure = true;
    await this.out.startTls(this.ctx.tls.context);
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
          // unknown verb, UID before a verb that takes none, or arguments against the verb's grammar
          this.send(`${r.tag ?? '*'} BAD ${r.message}`);
          this.log.info({ reply: r.message }, 'BAD');
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
    else if (after === 'compress') this.out.startCompression(this.parser.takeBuffered());
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
    if (this.selected) this.ctx.hub.unwatch(this.selected.mailbox.id, this.updates.onChange);
    if (sel && !this.closed) this.ctx.hub.watch(sel.mailbox.id, this.updates.onChange);
    this.selected = sel;
    this.state = sel ? 'selected' : this.user ? 'authenticated' : 'not-authenticated';
  }

  /**
   * A change to the selected mailbox that was announced while SELECT was still reading its view (an
   * asynchronous store such as PostgreSQL can hear a NOTIFY before its query answers): handled as if
   * it came now; updates.ts reports nothing the view already holds.
   */
  replayChange(c: MailboxChange): void {
    this.updates.onChange(c);
  }

  /** Send pending EXISTS / EXPUNGE / FETCH FLAGS (RFC 3501 §7.4.1: expunges only when allowed). */
  sendUpdates(allowExpunge: boolean): Promise<void> {
    return this.updates.send(allowExpunge);
  }
}

export type { ImapNo, ImapBad };
