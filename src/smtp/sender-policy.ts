// Port 25: our own domains cannot be spoofed (config localSenderOnPort25). We are authoritative
// for our domains and our users submit on 465/587 (RFC 6409, RFC 8314), so mail arriving on the MX
// that claims one of them, in MAIL FROM (RFC 5321 §4.1.1.2) or in the header From: (RFC 5322
// §3.6.2, what the reader sees), is a forgery ("the boss asks for a transfer") unless the domain's
// SPF record (RFC 7208) authorises the client: a second server of the same domain that publishes
// SPF still gets through, and so does mail our own DKIM key signed.
//   reject (default): refused with 550 5.7.1 unless SPF passes (SPF fail: 550 5.7.23 as before;
//                     DNS trouble: 451 4.4.3, RFC 7208 §8.6)
//   spf:              the behaviour before: refused only when SPF fails (spfRejectLocalDomains)
//   allow:            no check of its own
// The null reverse-path (bounces, RFC 5321 §4.5.5) is always accepted at MAIL.
import type { SMTPServerSession } from 'smtp-server';
import { parseAddress } from '../mail/address.js';
import { metrics } from '../log/metrics.js';
import { SmtpReply } from '../mail/errors.js';
import { headerBlock } from '../mail/headers.js';
import { parseMime } from '../mail/mime.js';
import { transactionId, type SmtpContext } from './context.js';
import type { AuthVerdict, InboundAuthResult } from './inbound-auth.js';

/** local domains whose SPF passed for this transaction's client (keyed by smtp-server's envelope) */
const passed = new WeakMap<object, Set<string>>();

function domainOf(address: string): string | null {
  const a = parseAddress(address);
  return a ? a.domain.toLowerCase() : null;
}

async function spfFor(ctx: SmtpContext, session: SMTPServerSession, sender: string): Promise<AuthVerdict | 'unchecked'> {
  if (!ctx.inboundAuth) return 'unchecked'; // inboundAuth off: nothing can pass
  return ctx.inboundAuth.spf({ ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', sender });
}

/** The refusal for a local domain claimed by a client its SPF does not permit. */
function refusal(ctx: SmtpContext, what: string, domain: string, spf: AuthVerdict | 'unchecked'): SmtpReply {
  if (spf === 'temperror') return new SmtpReply(451, '4.4.3', `${what}: cannot check the SPF record of ${domain} now; try again later`);
  if (spf === 'fail' && ctx.config.spfRejectLocalDomains) return new SmtpReply(550, '5.7.23', `SPF validation failed: this host may not send mail from ${domain}`);
  return new SmtpReply(550, '5.7.1', `${what}: ${domain} is a domain of this server; mail from it is accepted on port 25 only from hosts its SPF record permits (our users submit on port 465 or 587)`);
}

/** One log line and one journey step saying why, then the refusal. */
async function refuse(ctx: SmtpContext, session: SMTPServerSession, reply: SmtpReply, details: Record<string, unknown>): Promise<never> {
  const msgId = transactionId(session);
  const wire = `${reply.code} ${reply.wire}`;
  metrics.policyRefusals.inc({ office: ctx.config.hostname, policy: 'local-sender' });
  ctx.log.warn({ sid: session.id, id: msgId, client: session.remoteAddress, helo: session.hostNameAppearsAs || null, ...details, result: wire }, 'local sender refused on port 25');
  await ctx.store.journey.record([{
    msgId, agent: 'MTA in', step: 'refused',
    details: { why: 'one of our own domains claimed on port 25 (localSenderOnPort25)', listener: ctx.listener, client: session.remoteAddress, helo: session.hostNameAppearsAs || null, ...details, reply: wire },
  }]).catch((err: unknown) => ctx.log.error({ err, code: 'STORE_WRITE_FAILED' }, 'journey record failed'));
  throw reply;
}

/** MAIL FROM on port 25 in one of our domains: only from a client that domain's SPF permits. */
export async function checkLocalMailFrom(ctx: SmtpContext, address: string, session: SMTPServerSession): Promise<void> {
  if (ctx.config.localSenderOnPort25 !== 'reject' || !address) return;
  const domain = domainOf(address);
  if (!domain || !(await ctx.store.domains.isLocal(domain))) return;
  const spf = await spfFor(ctx, session, address);
  if (spf === 'pass') {
    let s = passed.get(session.envelope);
    if (!s) passed.set(session.envelope, (s = new Set()));
    s.add(domain);
    return;
  }
  await refuse(ctx, session, refusal(ctx, `sender <${address}>`, domain, spf), { cmd: 'MAIL', mailFrom: address, spf });
}

/**
 * DATA on port 25: a header From: in one of our domains passes only when that domain's SPF
 * permits the client (for MAIL FROM, or asked for the From: domain itself) or a DKIM signature of
 * that domain verifies (mail our own server signed and someone forwarded back to us).
 */
export async function checkLocalHeaderFrom(ctx: SmtpContext, session: SMTPServerSession, body: Buffer, verdicts: InboundAuthResult | null): Promise<void> {
  if (ctx.config.localSenderOnPort25 !== 'reject') return;
  const from = (parseMime(headerBlock(body)).envelope.from ?? []).filter((a) => a.host !== null && a.mailbox !== null);
  for (const a of from) {
    const address = `${a.mailbox}@${a.host}`;
    const domain = String(a.host).toLowerCase();
    if (!(await ctx.store.domains.isLocal(domain))) continue;
    if (passed.get(session.envelope)?.has(domain)) continue;
    if (verdicts && verdicts.spf === 'pass' && verdicts.spfDomain?.toLowerCase() === domain) continue;
    if (verdicts?.dkimPassDomains.includes(domain)) continue;
    const spf = await spfFor(ctx, session, `postmaster@${domain}`);
    if (spf === 'pass') continue;
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    await refuse(ctx, session, refusal(ctx, `header From <${address}>`, domain, spf), { cmd: 'DATA', mailFrom, headerFrom: address, spf, dkim: verdicts?.dkim ?? 'unchecked' });
  }
}
