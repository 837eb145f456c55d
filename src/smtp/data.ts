// RFC 5321 §4.1.1.4 DATA: add the trace headers, commit the message (mailboxes and queue in
// one transaction), and only then answer 250 (DESIGN: "the one transaction").
import { randomBytes } from 'node:crypto';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { toCrlf } from '../mail/dot-stuffing.js';
import { hasField, headerBlock } from '../mail/headers.js';
import { SmtpReply } from '../mail/errors.js';
import { parseMime } from '../mail/mime.js';
import { receivedHeader, returnPathHeader, rfc5322Date } from '../mail/received.js';
import type { JourneyEvent, LocalRecipient } from '../store/index.js';
import { recordMessage } from '../log/transcript.js';
import { metrics } from '../log/metrics.js';
import { recorderOf, resetTx, transactionId, txState, type SessionUser, type SmtpContext } from './context.js';
import { enforce, stripForgedResults, type InboundAuthResult } from './inbound-auth.js';
import { ownsAddress } from './mail-from.js';
import { checkLocalHeaderFrom } from './sender-policy.js';
import { reserveSubmission } from './submission-limits.js';
import { sendSuccessReport } from './success-report.js';

export interface DataOutcome { msgId: string; stored: number; queued: number; size: number }

/** Read the DATA stream, keeping at most `limit` bytes (the rest is drained, never buffered). */
function readBody(stream: SMTPServerDataStream, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    stream.on('end', () => resolve(size > limit || stream.sizeExceeded ? null : Buffer.concat(chunks, size)));
    stream.on('error', reject);
  });
}

export async function onData(ctx: SmtpContext, stream: SMTPServerDataStream, session: SMTPServerSession): Promise<DataOutcome> {
  const sent = await readBody(stream, ctx.config.maxMessageBytes);
  const rec = recorderOf(session.id);
  if (rec.on) {
    // the transcript shows the header and the first lines; the rest is a byte count
    if (sent) recordMessage(rec, 'C', sent);
    else rec.note(`<message over ${ctx.config.maxMessageBytes} bytes, not kept>`);
    rec.client('.');
  }
  if (!sent) throw new SmtpReply(552, '5.3.4', `message exceeds fixed maximum message size ${ctx.config.maxMessageBytes}`);
  // RFC 5321 §2.3.8: CR and LF occur in DATA only as CRLF. DATA ends only at <CRLF>.<CRLF>
  // (smtp-server); bare LF or CR are normalised to CRLF here, so a "<LF>.<LF>" smuggled inside
  // stays a line of this message and can never end it at a later hop (SMTP smuggling).
  let body = toCrlf(sent);
  const normalised = body !== sent;
  const msgId = transactionId(session);
  const user = session.user as SessionUser | undefined;
  const env = session.envelope;
  const mailFrom = env.mailFrom ? env.mailFrom.address : '';
  const rcpts = env.rcptTo.map((r) => r.address);
  const state = txState(session);
  resetTx(session);
  if (user) await checkHeaderFrom(ctx, user, body);
  // Port 25: RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC (and ARC) on the bytes as received
  let verdicts: InboundAuthResult | null = null;
  let disposition: 'deliver' | 'quarantine' = 'deliver';
  if (ctx.inboundAuth && ctx.listener === 'smtp' && !user) {
    verdicts = await ctx.inboundAuth.check(body, { ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', mailFrom });
    disposition = await enforce(verdicts, mailFrom, {
      dmarcReject: ctx.config.dmarcReject, dmarcQuarantine: ctx.config.dmarcQuarantine, spfRejectLocalDomains: ctx.config.spfRejectLocalDomains,
      isLocalDomain: (d) => ctx.store.domains.isLocal(d),
    });
    // RFC 8601 §5: verdicts claiming to be ours that we did not write are removed
    body = stripForgedResults(body, ctx.config.hostname);
  }
  // Port 25: a header From: in one of our own domains only from hosts its SPF permits (sender-policy.ts)
  if (ctx.listener === 'smtp' && !user) await checkLocalHeaderFrom(ctx, session, body, verdicts);

  // Who gets it: local users (deduplicated; aliases expanded) and remote recipients.
  const local = new Map<number, LocalRecipient>();
  const remote = new Set<string>();
  const storedFor = new Set<string>(); // RCPT TO addresses that reach a local mailbox
  for (const rcpt of rcpts) {
    const r = state.rcpts.get(rcpt) ?? (await ctx.store.users.resolve(rcpt));
    if (r.kind === 'local') {
      if (r.users.length) storedFor.add(rcpt);
      // a quarantined message goes to each user's \Junk mailbox (RFC 6154), or INBOX if there is none
      for (const u of r.users) if (!local.has(u.userId)) local.set(u.userId, { userId: u.userId, address: u.address, rcptTo: rcpt, ...(disposition === 'quarantine' ? { mailbox: '\\Junk' } : {}) });
      for (const x of r.remote) remote.add(x);
    } else if (r.kind === 'remote') remote.add(rcpt);
  }

  // RFC 5321 §4.4 trace fields; RFC 3848 "with" keywords.
  const tls = session.tlsOptions ? { version: session.tlsOptions.version ?? '', cipher: session.tlsOptions.name } : null;
  const withProto = `ESMTP${tls ? 'S' : ''}${user ? 'A' : ''}`;
  const now = new Date();
  let headers = receivedHeader({
    helo: session.hostNameAppearsAs || 'unknown', remoteAddress: session.remoteAddress,
    remoteName: session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : undefined,
    by: ctx.config.hostname, with: withProto, tls, id: msgId, for: rcpts.length === 1 ? rcpts[0] : undefined, date: now,
  });
  // RFC 8601 §5: our Authentication-Results sits right under our Received: (the same hop added both)
  if (verdicts) headers += verdicts.header;
  // RFC 6409 §8: a submission server may add the Date and Message-ID a client left out
  if (ctx.listener !== 'smtp') {
    if (!hasField(body, 'date')) headers += `Date: ${rfc5322Date(now)}\r\n`;
    if (!hasField(body, 'message-id')) headers += `Message-ID: <${randomBytes(12).toString('hex')}.${msgId}@${ctx.config.hostname}>\r\n`;
  }
  const relayRaw = Buffer.concat([Buffer.from(headers, 'latin1'), body]);
  const raw = local.size ? Buffer.concat([Buffer.from(returnPathHeader(mailFrom), 'latin1'), relayRaw]) : relayRaw;

  const journey: JourneyEvent[] = [];
  // the session's transcript, when transcripts are on (the dashboard links the hop to it)
  const sid = rec.on ? { sid: session.id } : {};
  if (user) journey.push({ msgId, agent: 'MUA', step: 'submitted', details: { user: user.address, listener: ctx.listener, client: session.remoteAddress, ...sid } });
  journey.push({
    msgId, agent: 'MTA in', step: 'received',
    details: {
      ...sid, listener: ctx.listener, client: session.remoteAddress, helo: session.hostNameAppearsAs || null, tls: tls ? `${tls.version} ${tls.cipher}` : null,
      user: user?.address ?? null, mailFrom, rcptTo: rcpts, size: raw.length, reply: `250 2.6.0 Ok: queued as ${msgId}`,
      ...(normalised ? { bareLineEndsNormalised: true } : {}),
      ...(disposition === 'quarantine' ? { quarantined: 'DMARC' } : {}),
      ...(verdicts ? { auth: { spf: verdicts.spf, dkim: verdicts.dkim, dmarc: verdicts.dmarc, arc: verdicts.arc, spfDomain: verdicts.spfDomain, dkimDomains: verdicts.dkimDomains, fromDomain: verdicts.fromDomain, dmarcPolicy: verdicts.dmarcPolicy, dnsUnavailable: verdicts.dnsUnavailable } } : {}),
    },
  });
  const dsn = env.dsn;
  // RFC 3461 NOTIFY per recipient (absent: the default), kept with queued mail and used below
  const notify = Object.fromEntries(env.rcptTo.filter((r) => r.dsn?.notify).map((r) => [r.address, r.dsn!.notify!]));
  // per-user submission limits: counted now, committed with the message (451 4.7.1 when over)
  const quota = user ? await reserveSubmission(ctx, session, user, rcpts.length) : null;
  const result = await ctx.store.deliver({
    msgId, mailFrom, raw, relayRaw, local: [...local.values()], remote: [...remote], journey,
    queueData: {
      user: user?.address ?? null,
      ...(dsn ? { ret: dsn.ret, envid: dsn.envid } : {}),
      notify,
    },
    ...(user ? { submission: { userId: user.id, recipients: rcpts.length } } : {}),
  }).finally(() => quota?.done());
  metrics.received.inc({ office: ctx.config.hostname, listener: ctx.listener });
  if (result.stored.length) {
    metrics.delivered.inc({ office: ctx.config.hostname }, result.stored.length);
    metrics.deliveryLatency.observe({ office: ctx.config.hostname, kind: 'stored' }, (Date.now() - now.getTime()) / 1000);
  }
  // RFC 3461 §6.2.1 a: NOTIFY=SUCCESS for a recipient stored here (smtp/success-report.ts)
  const success = rcpts.filter((r) => storedFor.has(r) && notify[r]?.includes('SUCCESS'));
  if (success.length && result.stored.length) {
    const about = { msgId, mailFrom, arrival: now, envid: dsn?.envid ?? null, ret: dsn?.ret ?? null, notify };
    void sendSuccessReport(ctx, about, raw, success).catch((err) => ctx.log.error({ err, id: msgId, code: 'DSN_FAILED' }, 'success report failed'));
  }
  return { msgId, stored: result.stored.length, queued: result.queued.length, size: raw.length };
}

/** RFC 6409 §8.3 / issue 6: on submission, From: (and Sender:) must be the user's own addresses. */
async function checkHeaderFrom(ctx: SmtpContext, user: SessionUser, body: Buffer): Promise<void> {
  const env = parseMime(headerBlock(body)).envelope;
  const from = (env.from ?? []).filter((a) => a.host !== null);
  // sender defaults to from in an ENVELOPE; check it only when the header is really there
  const claimed = [...from, ...(env.sender && env.sender !== env.from ? env.sender : [])];
  for (const a of claimed) {
    const addr = `${a.mailbox}@${a.host}`;
    if (!(await ownsAddress(ctx, user, addr))) throw new SmtpReply(553, '5.7.1', `header From <${addr}> not owned by user ${user.address}`);
  }
}
