// RFC 1939 §3: one POP3 session. It owns the socket, the state (AUTHORIZATION, TRANSACTION,
// UPDATE) and the only writes to the peer; commands run one at a time in the order received, so
// a pipelining client (RFC 2449 §6.6) gets every answer in order.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { sleep } from '../auth/authenticate.js';
import type { Slot } from '../auth/limits.js';
import type { Logger } from '../log/log.js';
import { endpoint, openRecorder, recordMessage, sinkFor, tlsLine, type Recorder } from '../log/transcript.js';
import { isLoopback } from '../mail/address.js';
import type { AccessStep, Store, UserRecord } from '../store/index.js';
import { TLS_POLICY } from '../tls/tls.js';
import { DotStuffer } from './body.js';
import { COMMANDS } from './commands/index.js';
import { Pop3Err } from './errors.js';
import { Maildrop, type DropMessage } from './maildrop.js';
import { needMore, parseCommand, Pop3Parser, type NeedMore, type Pop3Cmd } from './parser.js';
import type { Pop3Context } from './server.js';
import type { Pop3Reply, Pop3State } from './types.js';

const CHUNK = 64 * 1024;
/** while a command runs, the socket is paused only once this much input waits (pipelining) */
const PAUSE_AT = 16 * 1024;
const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.');
/** lines of a multi-line answer (LIST, UIDL, CAPA) kept in a transcript */
const TRANSCRIPT_LIST_LINES = 20;

/** RFC 1939 §7 PASS and RFC 5034 AUTH's initial response carry the password: the transcript shows ***. */
export function redactPop3(line: string): string {
  const sp = line.indexOf(' ');
  const kw = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  if (kw === 'PASS' && sp >= 0) return `${line.slice(0, sp)} ***`;
  if (kw === 'AUTH') {
    const parts = line.split(' ');
    if (parts.length > 2) return `${parts[0]} ${parts[1]} ***`;
  }
  return line;
}


/** maildrop locks being released by this process's ended sessions, per store and key */
const releasing = new WeakMap<Store, Map<string, Promise<void>>>();
export class Pop3Session {
  readonly sid = randomBytes(5).toString('hex');
  readonly log: Logger;
  /** the session's transcript (config transcripts); NO_RECORDER, which records nothing, when off */
  readonly rec: Recorder;
  readonly remoteAddress: string;
  state: Pop3State = 'authorization';
  secure: boolean;
  user: UserRecord | null = null;
  /** this connection's place in the connection limits (evictable until login) */
  slot: Slot | null = null;
  /** RFC 1939 §7 USER: the name waiting for PASS */
  pendingUser: string | null = null;
  maildrop!: Maildrop;

  private sock: net.Socket;
  private parser: Pop3Parser;
  private busy = false;
  private paused = false;
  private closed = false;
  private closing = false;
  private upgrading = false;
  private closeAfterReply = false;
  private sasl: ((line: string) => Promise<Pop3Reply>) | null = null;
  private commandsBeforeLogin = 0;
  private authFailures = 0;
  /** the maildrop lock this session holds (store.locks, shared by every node): its key, and the timer that renews it */
  private lock: { key: string; renew: NodeJS.Timeout } | null = null;
  /** who holds the lock, as store.locks names it: unique across nodes */
  private readonly lockOwner = `pop3/${this.sid}/${randomBytes(4).toString('hex')}`;
  private writes = new Set<Promise<unknown>>();
  private seenQueue: number[] = [];
  private journeyQueue: AccessStep[] = [];
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly ctx: Pop3Context,
    readonly listener: 'pop3' | 'pop3s',
    socket: net.Socket,
  ) {
    this.sock = socket;
    this.parser = new Pop3Parser(ctx.config.pop3MaxLineBytes);
    this.secure = socket instanceof tls.TLSSocket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.log = ctx.log.child({ sid: this.sid, proto: listener, remote: this.remoteAddress });
    this.rec = openRecorder(sinkFor(ctx.config, ctx.store), {
      sid: this.sid, protocol: listener, log: this.log,
      local: endpoint(socket.localAddress, socket.localPort), remote: endpoint(socket.remoteAddress, socket.remotePort),
    });
    if (this.rec.on && socket instanceof tls.TLSSocket) this.rec.tls(tlsLine(socket));
    ctx.sessions.add(this);
    this.attach(socket);
    this.log.debug('pop3 connection');
    this.say('+OK postoffice POP3 server ready');
  }

  get store() {
    return this.ctx.store;
  }
  get config() {
    return this.ctx.config;
  }

  /** RFC 2595 §2.2: USER/PASS and AUTH only over TLS, or from loopback when the config allows it. */
  authAllowed(): boolean {
    return this.secure || (this.ctx.config.allowPlaintextAuthOnLoopback && isLoopback(this.remoteAddress));
  }
  /** RFC 2595 §4: STLS is offered on the plain listener until TLS is on. */
  stlsAvailable(): boolean {
    return this.listener === 'pop3' && !this.secure && this.state === 'authorization';
  }

  // ------------------------------------------------------------------ socket
  private onData = (chunk: Buffer) => {
    this.slot?.touch();
    this.parser.push(chunk);
    if (!this.busy) { void this.pump(); return; }
    // a command is running: the loop reads this when it is done; a flood waits in the kernel
    if (!this.paused && this.parser.buffered > PAUSE_AT) { this.paused = true; this.sock.pause(); }
  };
  private onClose = () => this.cleanup();
  private onError = (err: Error) => this.log.debug({ err: err.message }, 'pop3 socket error');
  private onTimeout = () => {
    // RFC 1939 §3: an autologout timer of at least 10 minutes; no UPDATE state on timeout
    this.log.info('pop3 idle timeout');
    if (this.busy) { this.sock.destroy(); return; } // stalled in the middle of a response: no line can be added
    this.say('-ERR autologout: idle for too long');
    this.close();
  };

  private attach(sock: net.Socket): void {
    this.sock = sock;
    sock.on('data', this.onData);
    sock.on('close', this.onClose);
    sock.on('error', this.onError);
    sock.on('timeout', this.onTimeout);
    sock.setTimeout(this.ctx.opts.idleTimeoutMs);
    if (typeof sock.setNoDelay === 'function') sock.setNoDelay(true);
  }

  private detach(sock: net.Socket): void {
    sock.off('data', this.onData);
    sock.off('timeout', this.onTimeout);
    sock.setTimeout(0);
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    this.rec.end();
    // a dropped connection never reaches UPDATE: nothing marked with DELE is deleted
    void this.unlock();
    this.ctx.sessions.delete(this);
    this.log.debug('pop3 connection closed');
  }

  /** Say a last line and close (the connection limits make room for a newcomer). */
  drop(line: string): void {
    this.say(line);
    this.close();
  }

  /** Close now (server shutdown). */
  destroy(): void {
    this.sock.destroy();
    this.cleanup();
  }

  /** One reply line: written, and recorded when transcripts are on. */
  private say(line: string): void {
    if (this.rec.on) this.rec.server(line);
    this.write(line + '\r\n');
  }

  private write(data: string | Buffer): boolean {
    if (this.closed || this.closing || this.sock.destroyed) return true;
    return this.sock.write(data);
  }

  private drain(): Promise<void> {
    if (this.closed || this.sock.destroyed || !this.sock.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { this.sock.off('drain', done); this.sock.off('close', done); resolve(); };
      this.sock.on('drain', done);
      this.sock.on('close', done);
    });
  }

  // ------------------------------------------------------------------ command loop
  private async pump(): Promise<void> {
    if (this.busy || this.closed || this.upgrading) return;
    this.busy = true;
    try {
      while (!this.closed && !this.closing && !this.upgrading) {
        const reply = await this.step();
        if (reply === needMore) break;
        if (reply === null) continue;
        await this.send(reply);
        if (this.closeAfterReply) { this.close(); break; }
      }
    } catch (err) {
      // a bug, never a crash: log it and drop this one connection
      this.log.error({ err, code: 'POP3_SESSION_FAILED' }, 'pop3 session error');
      this.sock.destroy();
    } finally {
      this.busy = false;
      if (this.paused && !this.closed && !this.closing && !this.upgrading) { this.paused = false; this.sock.resume(); }
    }
  }

  /** Read and run one command (or one SASL response line): its reply, needMore, or null when already answered. */
  private async step(): Promise<Pop3Reply | Pop3Err | NeedMore | null> {
    if (this.sasl) {
      const next = this.sasl;
      let line: string | NeedMore;
      try {
        line = this.parser.nextLine();
      } catch (err) {
        if (!(err instanceof Pop3Err)) throw err;
        this.sasl = null;
        return err;
      }
      if (line === needMore) return needMore;
      if (this.rec.on) this.rec.client(line === '*' ? line : '***'); // RFC 5034 §4: a SASL response
      this.sasl = null;
      return this.guard('AUTH', () => next(line));
    }
    let cmd: Pop3Cmd;
    try {
      const line = this.parser.nextLine();
      if (line === needMore) return needMore;
      if (this.rec.on) this.rec.client(redactPop3(line));
      cmd = parseCommand(line);
    } catch (err) {
      if (!(err instanceof Pop3Err)) throw err;
      return this.countCommand() ? null : err;
    }
    if (this.countCommand()) return null;
    return this.dispatch(cmd);
  }

  /** Before login only a few commands are allowed; then the connection is closed. True when closed. */
  private countCommand(): boolean {
    if (this.state !== 'authorization') return false;
    if (++this.commandsBeforeLogin <= this.ctx.opts.maxAuthorizationCommands) return false;
    this.say('-ERR too many commands without logging in');
    this.close();
    return true;
  }

  private async dispatch(cmd: Pop3Cmd): Promise<Pop3Reply | Pop3Err> {
    const handler = COMMANDS[cmd.verb];
    if (!handler.states.includes(this.state)) return new Pop3Err(`${cmd.verb} not valid in the ${this.state.toUpperCase()} state`);
    return this.guard(cmd.verb, () => (handler.run as (s: Pop3Session, c: Pop3Cmd) => Pop3Reply | Promise<Pop3Reply>)(this, cmd));
  }

  /** Where errors become replies: Pop3Err verbatim, anything else logged and answered generically. */
  private async guard(verb: string, fn: () => Pop3Reply | Promise<Pop3Reply>): Promise<Pop3Reply | Pop3Err> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Pop3Err) {
        this.log.info({ cmd: verb, reply: err.wire }, 'pop3 command refused');
        return err;
      }
      this.log.error({ err, cmd: verb, code: (err as { code?: string }).code ?? 'POP3_COMMAND_FAILED' }, 'command failed');
      return new Pop3Err('internal error, try again later', 'SYS/TEMP');
    }
  }

  private async send(reply: Pop3Reply | Pop3Err): Promise<void> {
    if (reply instanceof Pop3Err) { this.say(reply.wire); return; }
    if (typeof reply === 'string') { this.say(reply ? `+OK ${reply}` : '+OK'); return; }
    if ('challenge' in reply) {
      this.sasl = reply.next;
      this.say(`+ ${reply.challenge}`);
      return;
    }
    if (this.rec.on) this.recordReply(reply);
    if ('lines' in reply) {
      let out = `+OK ${reply.ok}\r\n`;
      for (const l of reply.lines) out += (l.startsWith('.') ? '.' : '') + l + '\r\n';
      this.write(out + '.\r\n');
      return;
    }
    if ('message' in reply) return this.sendMessage(reply.ok, reply.message);
    if (reply.after === 'stls') return this.startTls(`+OK ${reply.ok}\r\n`);
    this.write(`+OK ${reply.ok}\r\n`);
    this.close();
  }

  /** A multi-line or closing reply into the transcript: lists bounded, messages as an excerpt. */
  private recordReply(reply: Exclude<Pop3Reply, string | { challenge: string }>): void {
    this.rec.server(`+OK ${reply.ok}`);
    if ('lines' in reply) {
      for (const l of reply.lines.slice(0, TRANSCRIPT_LIST_LINES)) this.rec.server((l.startsWith('.') ? '.' : '') + l);
      if (reply.lines.length > TRANSCRIPT_LIST_LINES) this.rec.note(`<${reply.lines.length - TRANSCRIPT_LIST_LINES} more lines>`);
      this.rec.server('.');
    } else if ('message' in reply) {
      recordMessage(this.rec, 'S', reply.message);
      this.rec.server('.');
    }
  }

  /**
   * A multi-line message response. The store keeps every message with CRLF line ends, so when no
   * line starts with "." (no LF followed by a dot: one native scan) the stored bytes go out as
   * they are, in one writev with the status line and the terminator. Otherwise they are
   * byte-stuffed chunk by chunk, with back-pressure.
   */
  private async sendMessage(ok: string, raw: Buffer): Promise<void> {
    const head = `+OK ${ok}\r\n`;
    if (raw.length === 0 || (raw[0] !== DOT && raw.indexOf(LF_DOT) === -1)) {
      const crlfEnded = raw.length >= 2 && raw[raw.length - 2] === CR && raw[raw.length - 1] === LF;
      this.sock.cork();
      this.write(head);
      if (raw.length) this.write(raw);
      this.write(crlfEnded || raw.length === 0 ? '.\r\n' : '\r\n.\r\n');
      this.sock.uncork();
      await this.drain();
      return;
    }
    const stuffer = new DotStuffer();
    this.sock.cork();
    this.write(head);
    for (let off = 0; off < raw.length && !this.closed; off += CHUNK) {
      let full = false;
      for (const piece of stuffer.push(raw.subarray(off, off + CHUNK))) if (!this.write(piece)) full = true;
      if (full) { this.sock.uncork(); await this.drain(); this.sock.cork(); }
    }
    this.write(stuffer.end());
    this.sock.uncork();
    await this.drain();
  }

  private close(): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.sock.end();
    const s = this.sock;
    setTimeout(() => s.destroy(), 2000).unref();
  }

  /**
   * RFC 2595 §4 STLS. CVE-2011-0411: whatever the client pipelined after STLS in plaintext is
   * discarded: the socket is paused, the parser emptied, and the TLS layer reads fresh bytes.
   */
  private startTls(ok: string): void {
    const plain = this.sock;
    this.upgrading = true;
    plain.pause();
    this.detach(plain);
    this.parser.reset();
    this.paused = false;
    this.pendingUser = null;
    plain.write(ok);
    const secure = new tls.TLSSocket(plain, {
      isServer: true,
      secureContext: this.ctx.tls.context,
      SNICallback: (_name, cb) => cb(null, this.ctx.tls.context),
      ...TLS_POLICY,
    });
    secure.setTimeout(Math.min(this.ctx.opts.idleTimeoutMs, 30_000)); // the handshake
    const fail = () => { secure.destroy(); plain.destroy(); this.cleanup(); };
    secure.once('timeout', fail);
    secure.once('error', (err) => { this.log.info({ err: err.message }, 'pop3 STLS handshake failed'); fail(); });
    secure.once('secure', () => {
      secure.off('timeout', fail);
      this.secure = true;
      this.upgrading = false;
      this.attach(secure);
      if (this.rec.on) this.rec.tls(tlsLine(secure));
      this.log.debug({ tls: secure.getProtocol() }, 'pop3 STLS done');
      void this.pump();
    });
  }

  // ------------------------------------------------------------------ used by the commands
  /** RFC 1939 §7 PASS / RFC 5034 AUTH: check the password, lock the maildrop, enter TRANSACTION. */
  async login(name: string, pass: string): Promise<string> {
    const { user, delayMs } = await this.ctx.auth.login(name, pass, this.remoteAddress, 'pop3');
    if (!user) {
      await sleep(delayMs);
      if (++this.authFailures >= this.ctx.opts.maxAuthFailures) this.closeAfterReply = true;
      this.log.info({ user: name.slice(0, 320) }, 'pop3 login failed');
      throw new Pop3Err('invalid login', 'AUTH');
    }
    this.rec.user(user.address);
    const mb = await this.store.mailboxes.get(user.id, 'INBOX');
    if (!mb) throw new Pop3Err('no maildrop for this user', 'SYS/PERM');
    // gone while we waited: take no lock that cleanup() would never release
    if (this.closed || this.closing) throw new Pop3Err('connection closing');
    // RFC 1939 §8 / RFC 2449 §8.1.1: one session per maildrop, on whichever node it runs
    await this.lockMaildrop(mb.id);
    try {
      this.maildrop = await Maildrop.open(this.store, mb);
    } catch (err) {
      await this.unlock();
      throw err;
    }
    this.user = user;
    this.state = 'transaction';
    this.slot?.authenticated();
    const { count, size } = this.maildrop.stat();
    this.log.info({ user: user.address, messages: count }, 'pop3 login');
    return `${user.address} has ${count} message${count === 1 ? '' : 's'} (${size} octets)`;
  }

  /**
   * RFC 1939 §8: the exclusive-access lock on the maildrop, in the store (store.locks) so that it
   * holds across nodes. It expires after lockTtlMs unless renewed: this session renews it every
   * third of that while it lives, so a node that dies lets go of its maildrops after lockTtlMs.
   */
  private async lockMaildrop(mailboxId: number): Promise<void> {
    const key = `pop3-maildrop:${mailboxId}`;
    const ttl = this.ctx.opts.lockTtlMs;
    // a session of this node that just ended may still be letting go of it (a store round trip on
    // PostgreSQL): its client is gone, so the next login waits for that rather than getting IN-USE
    await releasing.get(this.store)?.get(key);
    let taken: boolean;
    try {
      taken = await this.store.locks.tryAcquire(key, this.lockOwner, ttl);
    } catch (err) {
      this.log.error({ err, code: 'STORE_LOCK_FAILED' }, 'pop3 maildrop lock failed');
      throw new Pop3Err('cannot lock the maildrop now, try again later', 'SYS/TEMP');
    }
    if (!taken) throw new Pop3Err('maildrop already locked by another POP3 session', 'IN-USE');
    const renew = setInterval(() => {
      this.store.locks.tryAcquire(key, this.lockOwner, ttl).then((ok) => {
        if (!ok && this.lock?.key === key) this.log.warn({ key }, 'pop3 maildrop lock lost (held longer than its time-to-live elsewhere)');
      }, (err: Error) => this.log.warn({ err: err.message }, 'pop3 maildrop lock not renewed'));
    }, Math.max(1000, Math.floor(ttl / 3)));
    renew.unref();
    this.lock = { key, renew };
    // the connection went away while the lock was being taken: cleanup() has run already
    if (this.closed) {
      await this.unlock();
      throw new Pop3Err('connection closing');
    }
  }

  /** Lets go of the maildrop lock (QUIT after UPDATE, a dropped connection); safe to call twice. */
  async unlock(): Promise<void> {
    const l = this.lock;
    if (!l) return;
    this.lock = null;
    clearInterval(l.renew);
    const pending = this.store.locks.release(l.key, this.lockOwner).then(() => undefined, (err: Error) => this.log.warn({ err: err.message }, 'pop3 maildrop lock not released (it expires on its own)'));
    let byKey = releasing.get(this.store);
    if (!byKey) releasing.set(this.store, (byKey = new Map()));
    byKey.set(l.key, pending);
    await pending;
    if (byKey.get(l.key) === pending) byKey.delete(l.key);
  }

  /**
   * RETR: \Seen flag and the "MDA <- MUA" journey step. They are batched (one setFlags and one
   * journey write per flush, sharing a group commit) so that RETR never waits for an fsync; QUIT
   * and a dropped connection flush what is left.
   */
  retrieved(m: DropMessage): void {
    if (!m.seen) {
      m.seen = true;
      this.seenQueue.push(m.uid);
    }
    if (m.msgId) {
      this.rec.msgId(m.msgId);
      this.journeyQueue.push({ msgId: m.msgId, uid: m.uid, mailbox: this.maildrop?.mailbox.name ?? null });
    }
    if (this.seenQueue.length + this.journeyQueue.length >= 512) this.flush();
    else if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), 250).unref();
  }

  private flush(): void {
    if (this.flushTimer) { clearTimeout(this.flushTimer); this.flushTimer = null; }
    if (!this.maildrop) return;
    const mailboxId = this.maildrop.mailbox.id;
    if (this.seenQueue.length) this.track(this.store.messages.setFlags(mailboxId, this.seenQueue.splice(0), 'add', ['\\Seen'], { origin: this }));
    if (this.journeyQueue.length && this.user) {
      const session = { sid: this.sid, user: this.user.address, protocol: this.listener, client: this.remoteAddress };
      this.track(this.store.journey.accessed(session, 'retrieved', this.journeyQueue.splice(0)));
    }
  }

  /** Flush and wait for the background writes (before UPDATE). */
  async settle(): Promise<void> {
    this.flush();
    await Promise.all([...this.writes]);
  }

  /** Close the connection after the current reply. */
  closeSoon(): void {
    this.closeAfterReply = true;
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((err) => this.log.error({ err, code: 'STORE_WRITE_FAILED' }, 'pop3 background write failed'));
    this.writes.add(q);
    void q.finally(() => this.writes.delete(q));
  }
}
