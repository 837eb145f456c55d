// What every SMTP hook needs: the listener it serves, the store, the authenticator, the config.
import type { SMTPServerSession } from 'smtp-server';
import type { Authenticator } from '../auth/authenticate.js';
import type { ConnectionLimiter } from '../auth/limits.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { NO_RECORDER, type Recorder } from '../log/transcript.js';
import type { Resolution, Store } from '../store/index.js';
import type { InboundAuth } from './inbound-auth.js';
import type { SmtpReply } from '../mail/errors.js';

/** The three SMTP listeners: MX (25), implicit-TLS submission (465), STARTTLS submission (587). */
export type SmtpListener = 'smtp' | 'smtps' | 'submission';

export interface SmtpContext {
  listener: SmtpListener;
  config: Config;
  store: Store;
  auth: Authenticator;
  limiter: ConnectionLimiter;
  log: Logger;
  /** port 25 only: SPF/DKIM/DMARC/ARC checks (absent: config inboundAuth off, or a submission listener) */
  inboundAuth?: InboundAuth;
  /** an extra say on each recipient, after ours accepted it (see RcptPolicy) */
  rcptPolicy?: RcptPolicy;
}

/**
 * A recipient check supplied by whoever starts the post office: return an SmtpReply to refuse the
 * recipient, or null to accept it. `postoffice lab` injects its faults this way (greylisting, 4xx
 * tempfails, 550 rejects for one message's envelope); `serve` sets none.
 */
export type RcptPolicy = (rcpt: { listener: SmtpListener; sid: string; client: string; mailFrom: string; rcptTo: string }) => SmtpReply | null | Promise<SmtpReply | null>;

/** The authenticated user of a session (set by onAuth). */
export interface SessionUser { id: number; address: string }

/** Per-transaction state kept beside smtp-server's session. */
export interface TransactionState {
  rcpts: Map<string, Resolution & { kind: 'local' | 'remote' }>;
}

const states = new WeakMap<SMTPServerSession, TransactionState>();

export function txState(session: SMTPServerSession): TransactionState {
  let s = states.get(session);
  if (!s) {
    s = { rcpts: new Map() };
    states.set(session, s);
  }
  return s;
}
export function resetTx(session: SMTPServerSession): void {
  states.delete(session);
}

/** Our id for the current transaction: `${sid}.${n}`; it appears in Received:, logs and trace. */
export function transactionId(session: SMTPServerSession): string {
  return `${session.id}.${session.transaction}`;
}

/** The transcript recorders of open sessions, by session id (smtp-server's logger names only that). */
const recorders = new Map<string, Recorder>();
export function setRecorder(sid: string, rec: Recorder | null): void {
  if (rec) recorders.set(sid, rec);
  else recorders.delete(sid);
}
/** The session's recorder; NO_RECORDER when transcripts are off. */
export function recorderOf(sid: string): Recorder {
  return recorders.get(sid) ?? NO_RECORDER;
}
