// Helpers for the import/export/backup tests: the CLI as an operator runs it, and a mailbox as
// an IMAP client sees it.
import { execFile } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { CLI } from '../helpers/process.js';
import type { Lab } from '../helpers/lab.js';

export function po(dataDir: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], {
      env: { ...process.env, POSTOFFICE_DATA_DIR: dataDir, POSTOFFICE_LOG_LEVEL: 'silent', ...opts.env }, timeout: 120_000, maxBuffer: 16 << 20,
    }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr }));
    child.stdin!.end(opts.input ?? '');
  });
}

export interface SeenMessage { source: string; flags: string[]; internalDate: number }

export async function imapClient(lab: Lab, user: string, pass: string): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: lab.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user, pass }, logger: false });
  await c.connect();
  return c;
}

/** Every mailbox of the user with its messages in UID order (bytes, flags without \Recent, internal date). */
export async function mailboxesOverImap(lab: Lab, user: string, pass: string): Promise<Map<string, SeenMessage[]>> {
  const c = await imapClient(lab, user, pass);
  const out = new Map<string, SeenMessage[]>();
  try {
    for (const box of await c.list()) {
      const lock = await c.getMailboxLock(box.path);
      const msgs: SeenMessage[] = [];
      try {
        if ((c.mailbox as { exists: number }).exists > 0) {
          for await (const m of c.fetch('1:*', { source: true, flags: true, internalDate: true, uid: true })) {
            msgs.push({ source: m.source!.toString('latin1'), flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(), internalDate: new Date(m.internalDate as Date).getTime() });
          }
        }
      } finally {
        lock.release();
      }
      out.set(box.path, msgs);
    }
  } finally {
    await c.logout().catch(() => undefined);
  }
  return out;
}
