// `postoffice import ADDRESS imap[s]://user@host[:port]`: every mailbox of another IMAP server,
// with flags and internal dates, through imapflow. Resumable: a message whose Message-ID and
// size (RFC822.SIZE) a mailbox already holds is not even downloaded; anything else that is
// already there (same bytes) is skipped by the store, so a second run copies only what is missing.
import { ImapFlow } from 'imapflow';
import type { Store, UserRecord } from '../store/index.js';
import { Batcher, ensureMailbox, type ImportOptions, type ImportSummary } from './import.js';
import { SourceError } from './source.js';

export function isImapUrl(s: string): boolean {
  return /^imaps?:\/\//i.test(s);
}

/** UIDs fetched with their bytes per FETCH command (bounds what one response holds in memory) */
const FETCH_CHUNK = 100;
/** Our special-use mailboxes (RFC 6154) that a source's mailbox of the same use goes into. */
const MAPPED_USES = new Set(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive']);
/** virtual views of other mailboxes (Gmail's All Mail, Starred): copying them would duplicate every message */
const VIRTUAL_USES = new Set(['\\All', '\\Flagged']);

export interface ImapImportOptions extends ImportOptions {
  password: () => string | Promise<string>;
  /** accept a certificate that does not verify (a self-signed test server) */
  insecure?: boolean;
}

export async function importImap(store: Store, user: UserRecord, url: string, opts: ImapImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  let u: URL;
  try { u = new URL(url); } catch { throw new SourceError(`not an IMAP URL: ${url}`); }
  const secure = u.protocol === 'imaps:';
  const login = decodeURIComponent(u.username);
  if (!login) throw new SourceError('the IMAP URL needs a user name: imaps://USER@HOST[:PORT]');
  if (u.password) throw new SourceError('give the password on stdin or in POSTOFFICE_IMPORT_PASSWORD, not in the URL');
  const pass = await opts.password();
  if (!pass) throw new SourceError('no password: give it on stdin or in POSTOFFICE_IMPORT_PASSWORD');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : secure ? 993 : 143;

  const client = new ImapFlow({
    host, port, secure, auth: { user: login, pass }, logger: false, disableAutoIdle: true,
    // imap://: STARTTLS when offered (imapflow's default); a plaintext LOGIN only where the server allows it
    tls: { rejectUnauthorized: !opts.insecure, servername: /^[\d.:]+$/.test(host) ? undefined : host },
  });
  client.on('error', () => { /* reported by the command that fails */ });
  try {
    await client.connect();
  } catch (err) {
    const e = err as Error & { authenticationFailed?: boolean; responseText?: string };
    throw new SourceError(`cannot sign in to ${host}:${port} as ${login}: ${e.authenticationFailed ? 'authentication failed' : e.responseText ?? e.message}`);
  }
  const sum: ImportSummary = { mailboxes: [], imported: 0, duplicates: 0, failed: [], skippedFiles: [], bytes: 0, seconds: 0 };
  try {
    const boxes = await client.list();
    let batcher: Batcher | null = null;
    for (const box of boxes) {
      if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) continue;
      if (box.specialUse && VIRTUAL_USES.has(box.specialUse)) { sum.skippedFiles.push({ file: box.path, reason: `a virtual mailbox (${box.specialUse}): its messages are in the others` }); continue; }
      const name = targetName(box.path, box.delimiter, box.specialUse, opts.mailbox);
      const mb = name.startsWith('\\')
        ? (await store.mailboxes.list(user.id)).find((m) => m.specialUse === name) ?? await ensureMailbox(store, user, box.path.split(box.delimiter || '/').join('/'))
        : await ensureMailbox(store, user, name);
      sum.mailboxes.push(mb.name);
      if (batcher) await batcher.setMailbox(mb);
      else batcher = new Batcher(store, mb, sum, opts);

      const lock = await client.getMailboxLock(box.path, { readOnly: true });
      try {
        const exists = client.mailbox ? client.mailbox.exists : 0;
        if (!exists) continue;
        const held = new Set((await store.messages.digests(mb.id)).filter((d) => d.messageId).map((d) => `${d.messageId}\n${d.size}`));
        // 1. what the source holds: UID, size and Message-ID only (RFC 9051 §6.4.5 FETCH)
        const wanted: number[] = [];
        let skipped = 0;
        for await (const m of client.fetch('1:*', { uid: true, size: true, envelope: true }, { uid: false })) {
          const id = m.envelope?.messageId?.trim();
          if (id && held.has(`${id}\n${m.size}`)) { skipped++; continue; }
          if ((m.size ?? 0) > opts.maxBytes) { sum.failed.push({ where: `${box.path} UID ${m.uid}`, reason: `larger than ${opts.maxBytes} bytes` }); continue; }
          wanted.push(m.uid);
        }
        sum.duplicates += skipped;
        opts.progress?.folder(mb.name, { messages: wanted.length });
        // 2. the missing ones with their bytes (BODY.PEEK[]: the source's \Seen stays as it was), flags and INTERNALDATE
        for (let i = 0; i < wanted.length; i += FETCH_CHUNK) {
          const uids = wanted.slice(i, i + FETCH_CHUNK);
          const got = new Set<number>();
          for await (const m of client.fetch(uids.join(','), { uid: true, flags: true, internalDate: true, source: true }, { uid: true })) {
            got.add(m.uid);
            if (!m.source) { sum.failed.push({ where: `${box.path} UID ${m.uid}`, reason: 'the server sent no bytes' }); continue; }
            const flags = [...(m.flags ?? [])].filter((f) => f !== '\\Recent');
            const date = m.internalDate ? new Date(m.internalDate).getTime() : Date.now();
            await batcher.add(m.source, flags, Number.isFinite(date) ? date : Date.now(), `${box.path} UID ${m.uid}`, `${u.protocol}//${login}@${host}:${port}/${box.path}`);
          }
          for (const uid of uids) if (!got.has(uid)) sum.failed.push({ where: `${box.path} UID ${uid}`, reason: 'expunged on the source meanwhile' });
        }
      } finally {
        lock.release();
      }
    }
    await batcher?.flush();
  } finally {
    await client.logout().catch(() => client.close());
  }
  opts.progress?.done();
  sum.seconds = (Date.now() - started) / 1000;
  return sum;
}

/**
 * Where a source mailbox goes: its name with our '/' delimiter (INBOX stays INBOX); a special-use
 * mailbox (Gmail's "[Gmail]/Sent Mail", Outlook's "Sent Items") into ours of the same use
 * (returned as the use, e.g. "\\Sent"); under `prefix` (--mailbox) when one is given.
 */
export function targetName(path: string, delimiter: string | undefined, specialUse: string | undefined, prefix?: string): string {
  const name = delimiter ? path.split(delimiter).join('/') : path;
  const inbox = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
  if (prefix) return `${prefix}/${inbox}`;
  if (specialUse && MAPPED_USES.has(specialUse)) return specialUse;
  return inbox;
}
