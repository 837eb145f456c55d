// The SMTP listeners' part in the shared connection limits (auth/limits.ts). smtp-server owns the
// connection; smtp-server-patch.ts finds each connection by its session (to send the 421 of an
// eviction) and reports each command the client sends (activity). A connection may be evicted
// only while it has not authenticated and has no transaction in progress (MAIL given, through
// DATA): a port-25 delivery under way is never cut for a newcomer.
import type { SMTPServerSession } from 'smtp-server';
import type { Slot } from '../auth/limits.js';
import { countConnection } from '../log/metrics.js';
import type { SmtpContext } from './context.js';
import { forgetConnection, onEveryCommand, receivingData, sendOn } from './smtp-server-patch.js';

const slots = new WeakMap<SMTPServerSession, Slot>();
/** /metrics: the open-connection count of each session's listener */
const uncount = new WeakMap<SMTPServerSession, () => void>();

onEveryCommand((session) => slots.get(session)?.touch());

/** Take a slot for a new SMTP session: null, or why it is refused ('per-ip' | 'total'). */
export function holdSlot(ctx: SmtpContext, session: SMTPServerSession): 'per-ip' | 'total' | null {
  const slot = ctx.limiter.acquire(session.remoteAddress);
  if (typeof slot === 'string') return slot;
  slots.set(session, slot);
  uncount.set(session, countConnection(ctx.config.hostname, ctx.listener));
  slot.attach({
    evictable: () => !session.user && !(session.envelope && session.envelope.mailFrom) && !receivingData(session),
    evict: (why) => {
      ctx.log.info({ sid: session.id, client: session.remoteAddress, why }, 'smtp connection evicted by the connection limits');
      // RFC 5321 §3.8: 421 and close; the client may come back later (smtp-server closes after a 421)
      sendOn(session, 421, `4.7.0 ${ctx.config.hostname} ${why}, try again later`);
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
  forgetConnection(session);
}
