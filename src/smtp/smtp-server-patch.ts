// What we change inside smtp-server, in one place. smtp-server owns SMTP's parser and session and
// offers hooks (onConnect, onAuth, onMailFrom, onRcptTo, onData, onClose) and a logger; for four
// needs it offers none, so its connection class's prototype is patched here, and nowhere else:
//
// 1. RFC 3463 / RFC 2034: smtp-server puts an enhanced status code derived from the reply code
//    alone in front of an error's text (550 -> "5.1.1" for every 550). Our replies carry their own
//    ("550 5.7.1 relaying denied"), so for those send() is told not to add one. (The only option,
//    hideENHANCEDSTATUSCODES, also stops advertising ENHANCEDSTATUSCODES in EHLO.)
// 2. RFC 5321 §4.3.1: smtp-server holds every greeting back a fixed 100 ms to catch clients that
//    talk first. That caps a listener at sessions/0.1 s new connections per second, so the delay
//    is the listener's option `greetDelayMs` (config smtpGreetDelayMs, port 25 only); the
//    early-talker check itself stays ("421 You talk too soon").
// 3. The connection limits (connection-slots.ts) evict the longest-idle session: they need each
//    session's connection (to send its 421) and to hear of every command (activity).
// 4. ...and whether a DATA body is being received (never evict a transfer under way).
// 5. Session ids (and so our message ids, "sid.n") begin with the time: smtp-server's are 80
//    random bits, which scatter every row keyed by message id (the journey, a mailbox's
//    "fetched" steps) over the whole of its index, so each commit rewrote pages all over the
//    file. Ids that sort by time put a mailbox's messages, and the steps of reading them, side
//    by side (measured: 8 clients fetching 5,000 new messages, three rounds on one store, cost
//    the server 670-740 ms of CPU a round with random ids, growing with the table, 450-560 ms now).
//
// The internals relied on are named in SMTP_SERVER_INTERNALS; test/smtp/smtp-server-internals.test.ts
// fails with their names if an smtp-server update changes them, and package.json pins the
// version this was written against (3.21.6).
import { randomBytes } from 'node:crypto';
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/** The members of smtp-server's SMTPConnection this file uses (none is public API). */
export const SMTP_SERVER_INTERNALS = {
  /** prototype methods wrapped or replaced here */
  methods: ['send', 'init', '_setListeners', 'connectionReady', '_onCommand'],
  /** instance fields read here */
  fields: ['_server', 'session', 'name', '_dataStream', 'id'],
} as const;

type SendFn = (code: number, data: unknown, context?: unknown) => void;
interface ConnectionInternals {
  id: string;
  session: SMTPServerSession;
  name: string;
  send: SendFn;
  init(): void;
  _setListeners(cb: () => void): void;
  connectionReady(next?: unknown): void;
  _onCommand(command: Buffer, callback: unknown): void;
  _server: { options: SMTPServerOptions & { greetDelayMs?: number }; connections: Set<unknown> };
  /** the body stream of a DATA command being received, else false/null */
  _dataStream: unknown;
}

/** What is missing from smtp-server for this patch to work ([] when nothing is). */
export function missingInternals(): string[] {
  const proto = SMTPConnection.prototype as unknown as Record<string, unknown>;
  return SMTP_SERVER_INTERNALS.methods.filter((m) => typeof proto[m] !== 'function').map((m) => `SMTPConnection.prototype.${m}()`);
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * 5. A session id that sorts by time: the milliseconds since 1970 in 10 base-32 digits, then 40
 * random bits in 8 (smtp-server's alphabet, 0-9a-v; 18 characters).
 */
export function sessionId(now = Date.now()): string {
  return now.toString(32).padStart(10, '0') + randomBytes(5).readUIntBE(0, 5).toString(32).padStart(8, '0');
}
const connections = new WeakMap<SMTPServerSession, ConnectionInternals>();
const commandListeners = new Set<(session: SMTPServerSession) => void>();

const proto = SMTPConnection.prototype as unknown as ConnectionInternals & { __postoffice?: boolean };
if (!proto.__postoffice) {
  const missing = missingInternals();
  if (missing.length) throw new Error(`smtp-server internals changed: ${missing.join(', ')} not found; see src/smtp/smtp-server-patch.ts`);
  // 1. our own enhanced status codes are not doubled
  const send = proto.send;
  proto.send = function (this: ConnectionInternals, code: number, data: unknown, context?: unknown) {
    return send.call(this, code, data, typeof data === 'string' && ENHANCED.test(data) ? false : context);
  };
  // 2. the greeting delay is the listener's (this is smtp-server's init() with the 100 ms made an option)
  proto.init = function (this: ConnectionInternals) {
    // 5. (init runs right after the constructor, before the session is used or logged)
    this.id = this.session.id = sessionId();
    this._setListeners(() => {
      const opts = this._server.options;
      if (opts.maxClients && this._server.connections.size > opts.maxClients) {
        return this.send(421, this.name + ' Too many connected clients, try again in a moment', false);
      }
      setTimeout(() => this.connectionReady(), opts.greetDelayMs ?? 100).unref();
    });
  };
  // 3. each session's connection, and every command it sends
  const ready = proto.connectionReady;
  proto.connectionReady = function (this: ConnectionInternals, next?: unknown) {
    connections.set(this.session, this);
    return ready.call(this, next);
  };
  const command = proto._onCommand;
  proto._onCommand = function (this: ConnectionInternals, cmd: Buffer, callback: unknown) {
    for (const fn of commandListeners) fn(this.session);
    return command.call(this, cmd, callback);
  };
  proto.__postoffice = true;
}

/** The listener option this patch adds to smtp-server's (2.). */
export type PatchedServerOptions = SMTPServerOptions & { greetDelayMs: number };

/** Call `fn` for every command a client sends (3.: the connection limits' activity); returns how to stop. */
export function onEveryCommand(fn: (session: SMTPServerSession) => void): () => void {
  commandListeners.add(fn);
  return () => commandListeners.delete(fn);
}

/** Send a reply on the session's connection (3.; a 421 closes it). False when it is gone. */
export function sendOn(session: SMTPServerSession, code: number, text: string): boolean {
  const c = connections.get(session);
  if (!c) return false;
  c.send(code, text);
  return true;
}

/** Whether the session is receiving a DATA body now (4.). */
export function receivingData(session: SMTPServerSession): boolean {
  return !!connections.get(session)?._dataStream;
}

/** The connection closed: forget it. */
export function forgetConnection(session: SMTPServerSession): void {
  connections.delete(session);
}
