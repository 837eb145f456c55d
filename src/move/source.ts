// What a PATH given to `postoffice import` holds: one mbox file, one Maildir (with its Maildir++
// ".Sub.Folder" subfolders), or a folder tree of those (Thunderbird's "Name" + "Name.sbd/",
// mutt's ~/Mail, dovecot's LAYOUT=fs). Each becomes a mailbox ('/' separates levels).
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { isMaildir } from './maildir.js';
import { looksLikeMbox } from './mbox.js';
import { decodeMutf7 } from '../mail/mutf7.js';

export interface SourceFolder { mailbox: string; kind: 'mbox' | 'maildir'; path: string }

export class SourceError extends Error {}

/** files in a tree that are never mail: mail clients' indexes and settings */
const NOT_MAIL = /\.(msf|dat|json|html?|sqlite|db|lock|idx|index|log|txt|ini|xml)$|^(dovecot[.-].*|subscriptions|maildirfolder|courierimap.*)$/i;

function head(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(1024);
    return b.subarray(0, readSync(fd, b, 0, b.length, 0));
  } finally {
    closeSync(fd);
  }
}

/** A top-level "Inbox" is the INBOX (RFC 9051 §5.1: INBOX is case-insensitive). */
function mailboxName(parts: string[]): string {
  const name = parts.filter(Boolean).join('/');
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/**
 * The folders to import from `root`, each with its mailbox name. `base` (--mailbox) names the
 * mailbox of a single mbox or Maildir, and is the parent of a tree's mailboxes.
 * `skipped` hears of files in a tree that are not mbox files.
 */
export function discover(root: string, base?: string, skipped: (file: string, why: string) => void = () => {}): SourceFolder[] {
  let st;
  try { st = statSync(root); } catch { throw new SourceError(`no such file or folder: ${root}`); }
  if (st.isFile()) {
    if (st.size > 0 && !looksLikeMbox(head(root))) throw new SourceError(`${root} is not an mbox file (it does not start with a "From " line)`);
    return [{ mailbox: base ?? 'INBOX', kind: 'mbox', path: root }];
  }
  if (!st.isDirectory()) throw new SourceError(`${root} is neither a file nor a folder`);
  const out: SourceFolder[] = [];
  const prefix = base ? [base] : [];
  if (isMaildir(root)) {
    out.push({ mailbox: base ?? 'INBOX', kind: 'maildir', path: root });
    // Maildir++: ".Sub.Folder" beside cur/new/tmp; names in modified UTF-7 (dovecot)
    for (const name of readdirSync(root).sort()) {
      const p = path.join(root, name);
      if (name.startsWith('.') && name.length > 1 && name !== '..' && isMaildir(p)) {
        out.push({ mailbox: mailboxName([...prefix, ...name.slice(1).split('.').map((n) => decodeMutf7(n) ?? n)]), kind: 'maildir', path: p });
      }
    }
    walk(root, prefix, out, skipped, true);
    return out;
  }
  walk(root, prefix, out, skipped, false);
  if (out.length === 0) throw new SourceError(`no mbox file or Maildir found in ${root}`);
  return out;
}

function walk(dir: string, prefix: string[], out: SourceFolder[], skipped: (file: string, why: string) => void, inMaildir: boolean): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue; // hidden, or Maildir++ (handled above)
    if (inMaildir && (name === 'cur' || name === 'new' || name === 'tmp')) continue;
    const p = path.join(dir, name);
    let st;
    try { st = statSync(p); } catch { continue; }
    if (st.isDirectory()) {
      // Thunderbird keeps the children of mailbox "X" in "X.sbd/"
      const label = name.endsWith('.sbd') ? name.slice(0, -4) : name;
      if (isMaildir(p)) {
        out.push({ mailbox: mailboxName([...prefix, label]), kind: 'maildir', path: p });
        walk(p, [...prefix, label], out, skipped, true);
      } else walk(p, [...prefix, label], out, skipped, false);
    } else if (st.isFile()) {
      if (inMaildir || NOT_MAIL.test(name)) continue;
      if (st.size > 0 && !looksLikeMbox(head(p))) { skipped(p, 'not an mbox file'); continue; }
      out.push({ mailbox: mailboxName([...prefix, name.replace(/\.mbox$/i, '')]), kind: 'mbox', path: p });
    }
  }
}
