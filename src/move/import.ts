// `postoffice import ADDRESS PATH`: mbox files and Maildirs into a user's mailboxes, through the
// store's batched append (one transaction per batch, not per message). The MDA records an
// 'imported' journey step for every message stored. Re-running imports nothing new: bytes a
// mailbox already holds are skipped by the store.
import { readFileSync, statSync } from 'node:fs';
import { InternalError } from '../mail/errors.js';
import { headerText } from '../mail/headers.js';
import { StoreError, type ImportItem, type MailboxRecord, type Store, type UserRecord } from '../store/index.js';
import { cleanFlags } from './flags.js';
import { listMaildir } from './maildir.js';
import { readMbox } from './mbox.js';
import { Progress } from './progress.js';
import { discover } from './source.js';

export interface ImportSummary {
  mailboxes: string[];
  imported: number;
  duplicates: number;
  failed: { where: string; reason: string }[];
  skippedFiles: { file: string; reason: string }[];
  bytes: number;
  seconds: number;
}

export interface ImportOptions {
  /** --mailbox: the mailbox of a single source, or the parent of a tree's */
  mailbox?: string;
  /** a message larger than this is reported and skipped (config maxMessageBytes) */
  maxBytes: number;
  /** a batch is one transaction: at most this many messages ... */
  batchMessages?: number;
  /** ... and about this many bytes */
  batchBytes?: number;
  progress?: Progress;
}

/** The mailbox, created when missing (with its parents, as IMAP CREATE would leave them). */
export async function ensureMailbox(store: Store, user: UserRecord, name: string): Promise<MailboxRecord> {
  const found = await store.mailboxes.get(user.id, name);
  if (found) return found;
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join('/');
    if (!(await store.mailboxes.get(user.id, parent))) await store.mailboxes.create(user.id, parent);
  }
  return store.mailboxes.create(user.id, name);
}

/** The Date: header of a message as ms since epoch, or null (RFC 5322 §3.6.1). */
export function dateHeader(raw: Buffer): number | null {
  const head = headerText(raw, 64 * 1024);
  const m = /^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(head);
  if (!m) return null;
  const t = Date.parse(m[1].replace(/\s+/g, ' ').replace(/\([^)]*\)/g, '').trim());
  return Number.isFinite(t) ? t : null;
}

let runCounter = 0;

/** A stream of import items into batches written one transaction each; counts into `sum`. */
export class Batcher {
  private items: ImportItem[] = [];
  private where: string[] = [];
  private bytes = 0;
  private readonly msgPrefix = `imp${Date.now().toString(36)}${(runCounter++).toString(36)}`;
  private n = 0;

  constructor(private readonly store: Store, private mailbox: MailboxRecord, private readonly sum: ImportSummary,
    private readonly opts: ImportOptions) {}

  async setMailbox(mb: MailboxRecord): Promise<void> {
    await this.flush();
    this.mailbox = mb;
  }

  async add(raw: Buffer, flags: string[], internalDate: number, where: string, source: string): Promise<void> {
    this.items.push({ raw, flags: cleanFlags(flags), internalDate, msgId: `${this.msgPrefix}.${++this.n}`, source });
    this.where.push(where);
    this.bytes += raw.length;
    if (this.items.length >= (this.opts.batchMessages ?? 500) || this.bytes >= (this.opts.batchBytes ?? 16 << 20)) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.items.length === 0) return;
    const items = this.items;
    const where = this.where;
    const bytes = this.bytes;
    this.items = [];
    this.where = [];
    this.bytes = 0;
    const outcomes = await this.store.messages.appendMany(this.mailbox.id, items);
    outcomes.forEach((o, i) => {
      if ('uid' in o) this.sum.imported++;
      else if ('duplicate' in o) this.sum.duplicates++;
      else this.sum.failed.push({ where: where[i], reason: o.failed });
    });
    this.sum.bytes += bytes;
    this.opts.progress?.tick(items.length, bytes);
  }
}

export async function importPath(store: Store, user: UserRecord, root: string, opts: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const sum: ImportSummary = { mailboxes: [], imported: 0, duplicates: 0, failed: [], skippedFiles: [], bytes: 0, seconds: 0 };
  const folders = discover(root, opts.mailbox, (file, reason) => sum.skippedFiles.push({ file, reason }));
  let batcher: Batcher | null = null;
  for (const folder of folders) {
    const mb = await ensureMailbox(store, user, folder.mailbox);
    sum.mailboxes.push(mb.name);
    if (batcher) await batcher.setMailbox(mb);
    else batcher = new Batcher(store, mb, sum, opts);
    if (folder.kind === 'mbox') {
      opts.progress?.folder(mb.name, { bytes: statSync(folder.path).size });
      try {
        for await (const m of readMbox(folder.path, { maxBytes: opts.maxBytes })) {
          const where = `${folder.path} message ${m.n} (byte ${m.offset})`;
          if (!m.raw) { sum.failed.push({ where, reason: m.error ?? 'unreadable' }); continue; }
          // RFC 4155: the From_ line's date is when the message arrived; else its Date: header
          const date = m.date ?? dateHeader(m.raw) ?? Date.now();
          await batcher.add(m.raw, m.flags, date, where, folder.path);
        }
      } catch (err) {
        // an unreadable file (permissions, I/O error) or not an mbox after all: the others go on
        if (err instanceof StoreError || err instanceof InternalError) throw err; // the store's trouble stops the import
        sum.failed.push({ where: folder.path, reason: `the rest of this file is not imported: ${(err as Error).message}` });
      }
    } else {
      let entries: ReturnType<typeof listMaildir>;
      try { entries = listMaildir(folder.path); } catch (err) { sum.failed.push({ where: folder.path, reason: `cannot list this Maildir: ${(err as Error).message}` }); continue; }
      opts.progress?.folder(mb.name, { messages: entries.length });
      for (const e of entries) {
        if (e.size > opts.maxBytes) { sum.failed.push({ where: e.file, reason: `larger than ${opts.maxBytes} bytes` }); continue; }
        let raw: Buffer;
        try { raw = readFileSync(e.file); } catch (err) { sum.failed.push({ where: e.file, reason: (err as Error).message }); continue; }
        if (!/^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(raw.toString('latin1', 0, Math.min(raw.length, 1000)))) {
          sum.failed.push({ where: e.file, reason: 'not a message: no header field at its start' });
          continue;
        }
        // Maildir: the file's mtime is the delivery time (dovecot's received date)
        await batcher.add(raw, e.flags, e.mtime, e.file, folder.path);
      }
    }
  }
  await batcher?.flush();
  opts.progress?.done();
  sum.seconds = (Date.now() - started) / 1000;
  return sum;
}

export function formatSummary(verb: string, s: { imported: number; duplicates: number; failed: { where: string; reason: string }[]; mailboxes: string[]; bytes: number; seconds: number; skippedFiles?: { file: string; reason: string }[] }): string {
  const rate = s.seconds > 0 ? ` (${Math.round((s.imported + s.duplicates + s.failed.length) / s.seconds)} messages/s, ${(s.bytes / 1e6 / s.seconds).toFixed(1)} MB/s)` : '';
  let out = `${verb} ${s.imported} message(s) into ${s.mailboxes.length} mailbox(es) in ${s.seconds.toFixed(1)} s${rate}; ` +
    `${s.duplicates} already there (skipped), ${s.failed.length} failed\n`;
  for (const f of s.failed.slice(0, 100)) out += `  failed: ${f.where}: ${f.reason}\n`;
  if (s.failed.length > 100) out += `  ... and ${s.failed.length - 100} more\n`;
  for (const f of s.skippedFiles ?? []) out += `  not imported: ${f.file}: ${f.reason}\n`;
  return out;
}
