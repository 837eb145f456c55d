import type { ImapCommand, ImapSession } from '../types.js';
import { ImapNo, mailboxArg } from '../wire.js';
import { storeNo, user } from './util.js';

const SPECIAL_USE = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'];

/** A name the store may hold: "/"-separated, no empty levels, no wildcards, bounded. */
export function validName(name: string): string {
  const n = name.endsWith('/') ? name.slice(0, -1) : name;
  if (!n || n.startsWith('/') || n.includes('//')) throw new ImapNo('CANNOT', 'invalid mailbox name');
  // eslint-disable-next-line no-control-regex
  if (/[*%\x00-\x1f\x7f]/.test(n)) throw new ImapNo('CANNOT', 'mailbox names may not contain *, % or control characters');
  if (Buffer.byteLength(n) > 512 || n.split('/').length > 32) throw new ImapNo('CANNOT', 'mailbox name too long');
  return n;
}

/** Create the missing superiors of a name (§6.3.3: the server SHOULD create them). */
export async function createParents(s: ImapSession, userId: number, name: string): Promise<void> {
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (!(await s.ctx.store.mailboxes.get(userId, p))) await s.ctx.store.mailboxes.create(userId, p).catch(() => undefined);
  }
}

// RFC 3501 §6.3.3 CREATE, with RFC 6154 §3 USE (CREATE-SPECIAL-USE).
export const create: ImapCommand<'CREATE'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const name = validName(mailboxArg(cmd.mailbox, s.utf8Names));
    let use: string | null = null;
    if (cmd.use) {
      const uses = cmd.use;
      if (uses.length > 1) throw new ImapNo('USEATTR', 'only one special-use attribute per mailbox');
      if (uses.length) {
        use = SPECIAL_USE.find((x) => x.toLowerCase() === uses[0].toLowerCase()) ?? null;
        if (!use) throw new ImapNo('USEATTR', `unsupported special-use attribute ${uses[0]}`);
      }
    }
    if (name === 'INBOX' || (await s.ctx.store.mailboxes.get(u.id, name))) throw new ImapNo('ALREADYEXISTS', 'mailbox already exists');
    await createParents(s, u.id, name);
    await s.ctx.store.mailboxes.create(u.id, name, use).catch(storeNo);
    return 'CREATE completed';
  },
};
