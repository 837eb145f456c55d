// `postoffice export ADDRESS PATH --format mbox|maildir`: a user's mailboxes as files that mutt,
// Thunderbird (ImportExportTools) and dovecot read. mbox: one mboxrd file per mailbox, children of
// "X" in "X.sbd/" (Thunderbird's layout; each file opens alone in mutt). maildir: a Maildir++ tree,
// INBOX at its root, "A/B" as ".A.B" (names in modified UTF-7, as dovecot keeps them).
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { MailboxRecord, Store, UserRecord } from '../store/index.js';
import { MaildirWriter } from './maildir.js';
import { mboxEntry } from './mbox.js';
import { Progress } from './progress.js';
import { SourceError } from './source.js';
import { encodeMutf7 } from '../mail/mutf7.js';

export interface ExportSummary { mailboxes: string[]; imported: number; duplicates: number; failed: { where: string; reason: string }[]; bytes: number; seconds: number }

function refuseExisting(p: string, dir: boolean): void {
  if (!existsSync(p)) return;
  if (dir && statSync(p).isDirectory() && readdirSync(p).length === 0) return;
  throw new SourceError(`${p} exists already; export writes only to a new ${dir ? 'or empty folder' : 'file'}`);
}

/** Appends to a file through a 1 MiB buffer. */
class FileSink {
  private readonly fd: number;
  private parts: Buffer[] = [];
  private size = 0;
  constructor(file: string) { this.fd = openSync(file, 'wx', 0o600); }
  write(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= 1 << 20) this.flush();
  }
  private flush(): void {
    const b = Buffer.concat(this.parts, this.size);
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off);
    this.parts = [];
    this.size = 0;
  }
  close(): void { this.flush(); closeSync(this.fd); }
}

export async function exportUser(store: Store, user: UserRecord, dest: string, opts: { format: 'mbox' | 'maildir'; mailbox?: string; progress?: Progress }): Promise<ExportSummary> {
  const started = Date.now();
  const sum: ExportSummary = { mailboxes: [], imported: 0, duplicates: 0, failed: [], bytes: 0, seconds: 0 };
  let boxes: MailboxRecord[];
  if (opts.mailbox) {
    const mb = await store.mailboxes.get(user.id, opts.mailbox);
    if (!mb) throw new SourceError(`${user.address} has no mailbox ${opts.mailbox}`);
    boxes = [mb];
  } else boxes = (await store.mailboxes.list(user.id)).sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : 1));

  // one mailbox with --mailbox: PATH is that mbox file / that Maildir; else PATH is the tree's root
  const single = !!opts.mailbox;
  refuseExisting(dest, !(single && opts.format === 'mbox'));
  if (!(single && opts.format === 'mbox')) mkdirSync(dest, { recursive: true, mode: 0o700 });
  const names = new Set(boxes.map((b) => b.name));

  for (const mb of boxes) {
    const list = await store.messages.list(mb.id);
    opts.progress?.folder(mb.name, { messages: list.length });
    sum.mailboxes.push(mb.name);
    if (opts.format === 'mbox') {
      const parts = mb.name.split('/');
      const file = single ? dest : path.join(dest, ...parts.slice(0, -1).map((p) => `${p}.sbd`), parts[parts.length - 1]);
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const sink = new FileSink(file);
      try {
        for (const m of list) {
          const raw = await store.messages.raw(m.blobId).catch(() => null);
          if (!raw) { sum.failed.push({ where: `${mb.name} UID ${m.uid}`, reason: 'expunged meanwhile' }); continue; }
          const e = mboxEntry(raw, m.flags, m.internalDate);
          sink.write(e);
          sum.imported++;
          sum.bytes += e.length;
          opts.progress?.tick(1, e.length);
        }
      } finally {
        sink.close();
      }
    } else {
      const dir = single || mb.name === 'INBOX' ? dest : path.join(dest, '.' + mb.name.split('/').map(encodeMutf7).join('.'));
      const w = new MaildirWriter(dir);
      for (const m of list) {
        const raw = await store.messages.raw(m.blobId).catch(() => null);
        if (!raw) { sum.failed.push({ where: `${mb.name} UID ${m.uid}`, reason: 'expunged meanwhile' }); continue; }
        const n = w.add(raw, m.flags, m.internalDate);
        sum.imported++;
        sum.bytes += n;
        opts.progress?.tick(1, n);
      }
      w.finish();
    }
  }
  if (!single && opts.format === 'maildir' && !names.has('INBOX')) new MaildirWriter(dest); // a Maildir++ root is itself a Maildir
  opts.progress?.done();
  sum.seconds = (Date.now() - started) / 1000;
  return sum;
}
