// Maildir (cr.yp.to/proto/maildir.html): one file per message in cur/ or new/ (tmp/ holds
// deliveries in progress and is never read). Flags are the ":2," info suffix of the file name;
// dovecot names keyword letters in the folder's dovecot-keywords file. Maildir++ keeps
// subfolders as ".Sub.Folder" directories beside cur/new/tmp of the INBOX.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maildirFlags, maildirInfo, parseDovecotKeywords } from './flags.js';

export interface MaildirEntry { file: string; name: string; flags: string[]; mtime: number; size: number }

export function isMaildir(dir: string): boolean {
  try {
    return statSync(path.join(dir, 'cur')).isDirectory() && statSync(path.join(dir, 'new')).isDirectory();
  } catch {
    return false;
  }
}

/** The messages of one Maildir (new/ and cur/), oldest first (by mtime, then by name). */
export function listMaildir(dir: string): MaildirEntry[] {
  const kwFile = path.join(dir, 'dovecot-keywords');
  const keywords = existsSync(kwFile) ? parseDovecotKeywords(readFileSync(kwFile, 'utf8')) : new Map<string, string>();
  const out: MaildirEntry[] = [];
  for (const sub of ['new', 'cur']) {
    const d = path.join(dir, sub);
    for (const name of readdirSync(d)) {
      if (name.startsWith('.')) continue;
      const file = path.join(d, name);
      let st;
      try { st = statSync(file); } catch { continue; } // gone meanwhile (a live Maildir)
      if (!st.isFile()) continue;
      out.push({ file, name, flags: sub === 'cur' ? maildirFlags(name, keywords) : [], mtime: st.mtimeMs, size: st.size });
    }
  }
  return out.sort((a, b) => a.mtime - b.mtime || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Writes Maildirs: unique names (time.MnPpid_seq.host), flags in the name, the internal date as mtime. */
export class MaildirWriter {
  private seq = 0;
  private readonly host = os.hostname().replace(/[/:]/g, '_');
  private readonly letters = new Map<string, string>();

  constructor(readonly dir: string) {
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true });
  }

  /** A message with LF line ends (as mail tools keep Maildir files) in cur/. */
  add(raw: Buffer, flags: string[], internalDate: number): number {
    for (const f of flags) {
      if (!f.startsWith('\\') && !this.letters.has(f) && this.letters.size < 26) this.letters.set(f, String.fromCharCode(97 + this.letters.size));
    }
    const body = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const secs = Math.floor(internalDate / 1000);
    const name = `${secs}.M${++this.seq}P${process.pid}.${this.host},S=${body.length}${maildirInfo(flags, this.letters)}`;
    // written in tmp/ first would be the rule for a live Maildir; this one is new and ours alone
    const file = path.join(this.dir, 'cur', name);
    writeFileSync(file, body, { flag: 'wx' });
    utimesSync(file, secs, secs);
    return body.length;
  }

  /** dovecot-keywords, when keywords were used */
  finish(): void {
    if (this.letters.size === 0) return;
    const lines = [...this.letters].map(([kw, l]) => `${l.charCodeAt(0) - 97} ${kw}\n`).join('');
    writeFileSync(path.join(this.dir, 'dovecot-keywords'), lines);
  }
}
