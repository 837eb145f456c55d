// `postoffice import | export | backup | restore`: moving mail in and out, and the data dir's backups.
// They run beside a running server (SQLite serialises the writers; WAL keeps readers going).
import type { Config } from '../config/config.js';
import { backup, restore } from '../move/backup.js';
import { exportUser } from '../move/export.js';
import { formatSummary, importPath } from '../move/import.js';
import { importImap, isImapUrl } from '../move/imap-import.js';
import { Progress } from '../move/progress.js';
import { SourceError } from '../move/source.js';
import { openToolStore, StoreError } from '../store/index.js';

export const MOVE_COMMANDS = ['import', 'export', 'backup', 'restore'];

export const MOVE_USAGE = `  import ADDRESS PATH [--mailbox NAME]         an mbox file, a Maildir (Maildir++ subfolders too) or a folder tree of them
  import ADDRESS imap[s]://USER@HOST[:PORT] [--mailbox NAME] [--insecure]
                                               every mailbox of another IMAP server (password: stdin or POSTOFFICE_IMPORT_PASSWORD)
  export ADDRESS PATH --format mbox|maildir [--mailbox NAME]
  backup PATH                                  a consistent snapshot of the store, TLS and DKIM keys (safe while serving)
  restore PATH                                 a backup into an empty data dir`;

export class MoveUsage extends Error {}
export { SourceError as MoveError };

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new MoveUsage(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

/** Reads a password typed at a terminal without echoing it (Enter ends it, Ctrl-C aborts). */
function askPassword(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let pw = '';
    const done = (err: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err); else resolve(pw);
    };
    const onData = (b: Buffer) => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new SourceError('cancelled'));
        if (ch === '\u007f' || ch === '\b') pw = pw.slice(0, -1);
        else if (pw.length < 1024) pw += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Runs one of MOVE_COMMANDS; returns the exit status. */
export async function moveCommand(config: Config, cmd: string, argv: string[], readStdin: () => string): Promise<number> {
  const args = [...argv];
  if ((cmd === 'restore' || cmd === 'backup') && config.storeUrl) {
    throw new StoreError('invalid', `${cmd}: the store is PostgreSQL (storeUrl); back it up with pg_dump or pg_basebackup, and the data dir's TLS and DKIM keys with it`);
  }
  if (cmd === 'restore') {
    if (args.length !== 1) throw new MoveUsage('restore: expected PATH (a folder made by postoffice backup)');
    const r = restore(args[0], config.dataDir);
    process.stdout.write(`restored ${r.users} user(s) and ${r.messages} message(s) into ${config.dataDir} (integrity ok; ${r.keys.length ? r.keys.join(' and ') + ' keys' : 'no keys'})\n`);
    return 0;
  }
  const mailbox = option(args, '--mailbox');
  const format = option(args, '--format');
  const batch = option(args, '--batch');
  if (batch !== undefined && !/^[1-9]\d{0,5}$/.test(batch)) throw new MoveUsage('--batch: a number of messages per transaction (1-999999)');
  const insecureAt = args.indexOf('--insecure');
  if (insecureAt >= 0) args.splice(insecureAt, 1);
  const bad = args.find((a) => a.startsWith('--'));
  if (bad) throw new MoveUsage(`${cmd}: unknown option ${bad}`);
  if (cmd === 'backup') {
    if (args.length !== 1 || mailbox || format) throw new MoveUsage('backup: expected PATH');
  } else if (args.length !== 2) throw new MoveUsage(`${cmd}: expected ADDRESS PATH`);
  if (cmd === 'export' && format !== 'mbox' && format !== 'maildir') throw new MoveUsage('export: --format mbox or --format maildir');
  if (cmd === 'import' && format) throw new MoveUsage('import: the format is found out from PATH (no --format)');

  const store = await openToolStore(config.dataDir, {
    storeUrl: config.storeUrl, bodyCacheBytes: 0,
    mimeLimits: { maxDepth: config.mimeMaxDepth, maxParts: config.mimeMaxParts, maxHeaders: config.mimeMaxHeaders },
  });
  try {
    if (cmd === 'backup') {
      const r = await backup(store, config.dataDir, args[0]);
      process.stdout.write(`backup ${r.path}: ${r.users} user(s), ${r.messages} message(s), ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(1)} s ` +
        `(integrity ok; ${r.keys.length ? r.keys.join(' and ') + ' keys' : 'no keys'})\n`);
      return 0;
    }
    const user = await store.users.get(args[0].toLowerCase());
    if (!user) throw new StoreError('notfound', `no such user: ${args[0]}`);
    const progress = new Progress();
    if (cmd === 'export') {
      const s = await exportUser(store, user, args[1], { format: format as 'mbox' | 'maildir', mailbox, progress });
      process.stdout.write(formatSummary('exported', s).replace(/; 0 already there \(skipped\)/, '').replace(' into ', ' from '));
      return 0;
    }
    const opts = { mailbox, maxBytes: config.maxMessageBytes, progress, batchMessages: batch ? Number(batch) : undefined };
    const s = isImapUrl(args[1])
      ? await importImap(store, user, args[1], { ...opts, insecure: insecureAt >= 0, password: async () => process.env.POSTOFFICE_IMPORT_PASSWORD ?? (process.stdin.isTTY ? await askPassword(`password for ${args[1]}: `) : readStdin()) })
      : await importPath(store, user, args[1], opts);
    // a message that failed is listed in the summary; the others are in: still a success
    process.stdout.write(formatSummary('imported', s));
    return 0;
  } finally {
    await store.close();
  }
}
