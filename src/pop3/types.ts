// The shapes shared by the POP3 session and its command handlers.
import type { Pop3Cmd, Pop3Verb } from './parser.js';
import type { Pop3Session } from './session.js';

/** RFC 1939 §3: AUTHORIZATION -> TRANSACTION -> UPDATE. */
export type Pop3State = 'authorization' | 'transaction' | 'update';

/** What a handler answers; only the session turns it into bytes on the socket. */
export type Pop3Reply =
  /** "+OK text" */
  | string
  /** "+OK text", then the lines (byte-stuffed), then "." */
  | { ok: string; lines: string[] }
  /** "+OK text", then the message bytes (CRLF, byte-stuffed, streamed), then "." */
  | { ok: string; message: Buffer }
  /** "+OK text", then close the connection (QUIT) or start TLS (STLS) */
  | { ok: string; after: 'close' | 'stls' }
  /** RFC 5034 §4: a "+ challenge" continuation; the client's next line goes to `next` */
  | { challenge: string; next: (line: string) => Promise<Pop3Reply> };

export interface Pop3Command<V extends Pop3Verb> {
  /** the states in which the command is valid; elsewhere the session answers -ERR */
  states: Pop3State[];
  run(s: Pop3Session, cmd: Extract<Pop3Cmd, { verb: V }>): Pop3Reply | Promise<Pop3Reply>;
}
