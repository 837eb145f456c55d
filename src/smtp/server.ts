// MTA in: the three SMTP listeners on smtp-server, with our hooks adapted to its callbacks.
// Port 25 (MX): no AUTH, local recipients only. 465 (implicit TLS) and 587 (STARTTLS):
// submission, AUTH required and only over TLS (RFC 8314, RFC 6409).
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { Logger } from '../log/log.js';
import { endpoint, openRecorder, sinkFor, tlsLine } from '../log/transcript.js';
import { InternalError, SmtpReply } from '../mail/errors.js';
import { TLS_POLICY, type TlsManager } from '../tls/tls.js';
import { onAuth } from './auth.js';
import { holdSlot, releaseSlot, slotAuthenticated } from './connection-slots.js';
import { recorderOf, setRecorder, type SessionUser, type SmtpContext, type SmtpListener } from './context.js';
import { onData } from './data.js';
import { onMailFrom } from './mail-from.js';
import { onRcptTo } from './rcpt-to.js';
// smtp-server's prototype is patched there, once, before any listener starts (greetDelayMs, enhanced codes)
import './smtp-server-patch.js';
import type { PatchedServerOptions } from './smtp-server-patch.js';

/** Turn a thrown error into what smtp-server's callback wants: responseCode + "x.y.z text". */
function toSmtpError(err: unknown, log: Logger, what: string): Error & { responseCode: number } {
  if (err instanceof SmtpReply) return Object.assign(new Error(err.wire), { responseCode: err.code });
  const code = err instanceof InternalError ? err.code : 'SMTP_HOOK_FAILED';
  log.error({ err, code }, `${what} failed`);
  return Object.assign(new Error('4.3.0 local error in processing, try again later'), { responseCode: 451 });
}

function adapt<A extends unknown[], R>(log: Logger, what: string, fn: (...a: A) => Promise<R>) {
  return (...args: [...A, (err: Error | null, res?: R) => void]) => {
    const cb = args.pop() as (err: Error | null, res?: R) => void;
    fn(...(args as unknown as A)).then((r) => cb(null, r), (err) => {
      const e = toSmtpError(err, log, what);
      // every refusal is one log line (operators grep them; fail2ban-style tools read them)
      const session = args[args.length - 1] as SMTPServerSession;
      const arg = args[0] as { address?: string; username?: string };
      log.info({ sid: session.id, client: session.remoteAddress, cmd: what, arg: what === 'AUTH' ? arg.username : arg.address, result: `${e.responseCode} ${e.message}` }, 'smtp refused');
      cb(e);
    });
  };
}

/** RFC 4954 §4: the AUTH initial response and every continuation line carry credentials. */
export function redactSmtpCommand(command: string | undefined, line: string): string {
  if ((command ?? '').toUpperCase() !== 'AUTH') return line;
  const parts = line.trim().split(/\s+/);
  if (parts[0]?.toUpperCase() === 'AUTH') return parts.length > 2 ? `${parts[0]} ${parts[1]} ***` : parts.join(' ');
  return '***';
}

/**
 * smtp-server reports every command it reads and every reply it writes to its logger (debug,
 * tnx 'command' / 'send', with the connection id): that is the transcript. It masks AUTH itself;
 * we mask again, so a change there cannot leak a password here.
 */
function transcriptLogger() {
  const none = () => undefined;
  return {
    debug(entry: { tnx?: string; cid?: string; command?: string }, _msg: string, ...args: unknown[]) {
      if (!entry.cid) return;
      const rec = recorderOf(entry.cid);
      if (!rec.on) return;
      if (entry.tnx === 'command') rec.client(redactSmtpCommand(entry.command, String(args[0] ?? '')));
      else if (entry.tnx === 'send') for (const l of String(args[0] ?? '').split(/\r?\n/)) rec.server(l);
    },
    trace: none, info: none, warn: none, error: none, fatal: none,
  };
}

export interface SmtpListenerHandle { name: SmtpListener; server: SMTPServer; port: number; close(): Promise<void> }

export async function startSmtp(ctx: SmtpContext, tlsm: TlsManager, port: number, host: string): Promise<SmtpListenerHandle> {
  const { config, log } = ctx;
  const submission = ctx.listener !== 'smtp';
  const sink = sinkFor(config, ctx.store);
  const options: PatchedServerOptions = {
    greetDelayMs: submission ? 0 : config.smtpGreetDelayMs,
    name: config.hostname,
    banner: 'postoffice', // smtp-server writes "220 <name> ESMTP <banner>" (RFC 5321 §4.2)
    secure: ctx.listener === 'smtps',
    key: tlsm.current.key,
    cert: tlsm.current.cert,
    // the one TLS policy of every listener (ciphers, TLS 1.2+, no client-initiated renegotiation): smtp-server
    // builds its implicit-TLS and STARTTLS contexts from these options, and again on updateSecureContext
    ...TLS_POLICY,
    size: config.maxMessageBytes,
    hideSize: false,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    hideREQUIRETLS: true,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !submission,
    allowInsecureAuth: false,
    disabledCommands: submission ? [] : ['AUTH'],
    disableReverseLookup: true,
    maxRecipients: config.maxRecipients,
    maxCommandLength: config.smtpMaxLineBytes,
    socketTimeout: config.smtpSocketTimeoutMs,
    closeTimeout: 5000,
    // no pino output from smtp-server (we log one line per transaction); with transcripts on,
    // its debug lines feed the session's recorder
    logger: sink ? (transcriptLogger() as unknown as SMTPServerOptions['logger']) : false,
    // RFC 4954 §4 + RFC 3207: on 587, AUTH is neither offered nor accepted until TLS is up
    onConnect: ((session, cb) => {
      if (sink) {
        setRecorder(session.id, openRecorder(sink, {
          sid: session.id, protocol: ctx.listener, log,
          local: endpoint(session.localAddress, session.localPort), remote: endpoint(session.remoteAddress, session.remotePort),
        }));
      }
      // at a limit the longest-idle session that has not authenticated nor begun a transaction is evicted first
      const refused = holdSlot(ctx, session);
      if (refused) {
        log.warn({ sid: session.id, client: session.remoteAddress, limit: refused }, 'smtp connection refused: too many connections');
        // RFC 5321 §3.8: 421 closes the channel; the client retries later
        return cb(Object.assign(new Error(`4.7.0 ${config.hostname} too many connections${refused === 'per-ip' ? ' from your address' : ''}, try again later`), { responseCode: 421 }));
      }
      if (ctx.listener === 'submission') session.disabledCommands = ['AUTH'];
      cb();
    }) as SMTPServerOptions['onConnect'],
    onClose: ((session) => {
      recorderOf(session.id).end();
      setRecorder(session.id, null);
      releaseSlot(session);
    }) as SMTPServerOptions['onClose'],
    onSecure: ((socket, session, cb) => {
      const rec = recorderOf(session.id);
      if (rec.on) rec.tls(tlsLine(socket as unknown as Parameters<typeof tlsLine>[0]));
      if (ctx.listener === 'submission') session.disabledCommands = [];
      cb();
    }) as SMTPServerOptions['onSecure'],
    onAuth: adapt(log, 'AUTH', async (auth: Parameters<NonNullable<SMTPServerOptions['onAuth']>>[0], session: SMTPServerSession) => {
      const user = await onAuth(ctx, auth, session);
      slotAuthenticated(session);
      log.info({ sid: session.id, listener: ctx.listener, user: user.address, client: session.remoteAddress }, 'smtp auth ok');
      recorderOf(session.id).user(user.address);
      return { user };
    }) as SMTPServerOptions['onAuth'],
    onMailFrom: adapt(log, 'MAIL', (from, session) => onMailFrom(ctx, from, session)) as SMTPServerOptions['onMailFrom'],
    onRcptTo: adapt(log, 'RCPT', (rcpt, session) => onRcptTo(ctx, rcpt, session)) as SMTPServerOptions['onRcptTo'],
    onData: ((stream, session, cb) => {
      const user = session.user as SessionUser | undefined;
      const base = {
        sid: session.id, listener: ctx.listener, client: session.remoteAddress, helo: session.hostNameAppearsAs || null,
        tls: session.tlsOptions ? session.tlsOptions.version : null, user: user?.address ?? null,
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null, rcpts: session.envelope.rcptTo.map((r) => r.address),
      };
      onData(ctx, stream, session).then(
        (out) => {
          log.info({ ...base, id: out.msgId, size: out.size, stored: out.stored, queued: out.queued, result: 'accepted' }, 'smtp transaction');
          recorderOf(session.id).msgId(out.msgId);
          cb(null, `Ok: queued as ${out.msgId}`);
        },
        (err) => {
          const e = toSmtpError(err, log, 'DATA');
          log.info({ ...base, id: `${session.id}.${session.transaction}`, result: `${e.responseCode} ${e.message}` }, 'smtp transaction');
          cb(e);
        },
      );
    }) as SMTPServerOptions['onData'],
  };
  const server = new SMTPServer(options);
  server.on('error', (err) => log.warn({ err: err.message, listener: ctx.listener }, 'smtp connection error'));
  const onReload = (m: { key: string; cert: string }) => server.updateSecureContext({ key: m.key, cert: m.cert });
  tlsm.on('reload', onReload);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const addr = server.server.address();
  return {
    name: ctx.listener,
    server,
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((resolve) => {
      tlsm.off('reload', onReload);
      server.close(() => resolve());
    }),
  };
}
