// The SMTP listeners' part in the shared connection limits (auth/limits.ts). smtp-server owns the
// connection, so its prototype is extended here: each connection is found by its session (to send
// the 421 of an eviction), and each command the client sends counts as activity. A connection
// may be evicted only while it has not authenticated and has no transaction in progress
// (MAIL given, through DATA): a port-25 delivery under way is never cut for a newcomer.
import type { SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { Slot } from '../auth/limits.js';
import { countConnection } from '../log/metrics.js';
import type { SmtpContext } from './context.js';

interface ConnectionInternals {
  session: SMTPServerSession;
  connectionReady(next?: unknown): void;
  _onCommand(command: Buffer, callback: unknown): void;
  send(code: number, data: unknown, context?: unknown): void;
  _dataStream: unknown;
  __postofficeSlots?: boolean;
}

const connections = new WeakMap<SMTPServerSession, ConnectionInternals>();
const slots = new WeakMap<SMTPServerSession, Slot>();
/** /metrics: the open-connection count of each session's listener */
const uncount = new WeakMap<SMTPServerSession, () => void>();

const proto = SMTPConnection.prototype as unknown as ConnectionInternals;
if (!proto.__postofficeSlots) {
  const ready = proto.connectionReady;
  proto.connectionReady = function (this: ConnectionInternals, next?: unknown) {
    connections.set(this.session, this);
    return ready.call(this, next);
  };
  const onCommand = proto._onCommand;
  proto._onCommand = function (this: ConnectionInternals, command: Buffer, callback: unknown) {
    slots.get(this.session)?.touch();
    return onCommand.call(this, command, callback);
  };
  proto.__postofficeSlots = true;
}

/** Take a slot for a new SMTP session: null, or why it is refused ('per-ip' | 'total'). */
export function holdSlot(ctx: SmtpContext, session: SMTPServerSession): 'per-ip' | 'total' | null {
  const slot = ctx.limiter.acquire(session.remoteAddress);
  if (typeof slot === 'string') return slot;
  slots.set(session, slot);
  uncount.set(session, countConnection(ctx.config.hostname, ctx.listener));
  slot.attach({
    evictable: () => !session.user && !(session.envelope && session.envelope.mailFrom) && !connections.get(session)?._dataStream,
    evict: (why) => {
      ctx.log.info({ sid: session.id, client: session.remoteAddress, why }, 'smtp connection evicted by the connection limits');
      // RFC 5321 §3.8: 421 and close; the client may come back later (smtp-server closes after a 421)
      connections.get(session)?.send(421, `4.7.0 ${ctx.config.hostname} ${why}, try again later`);
    },
  });
  return null;
}

/** The session authenticated (AUTH succeeded): never evicted from now on. */
export function slotAuthenticated(session: SMTPServerSession): void {
  slots.get(session)?.authenticated();
}

/** The connection closed: give its slot back. */
export function releaseSlot(session: SMTPServerSession): void {
  slots.get(session)?.release();
  slots.delete(session);
  uncount.get(session)?.();
  uncount.delete(session);
  connections.delete(session);
}
