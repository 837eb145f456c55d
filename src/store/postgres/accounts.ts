// Domains and users: a user gets the default special-use mailboxes (RFC 6154) when made, and
// takes its mailboxes, copies and aliases along when deleted. Addresses compare case-blind.
import { normalizeDomain, parseAddress } from '../../mail/address.js';
import { DEFAULT_MAILBOXES } from '../defaults.js';
import { StoreError } from '../errors.js';
import type { DomainRecord, Resolution, UserRecord } from '../types.js';
import { resolve } from './aliases.js';
import type { Pg } from './context.js';
import { txt } from './db.js';
import { createMailboxTx, deleteMailboxTx } from './mailboxes.js';
import { userRow } from './rows.js';

export const domains = {
  add: (pg: Pg, name: string): Promise<boolean> => {
    const d = normalizeDomain(name);
    if (!d) return Promise.reject(new StoreError('invalid', `not a domain name: ${name}`));
    return pg.db.tx(async (t) => (await t.run('INSERT INTO domains (name, created) VALUES ($1, $2) ON CONFLICT DO NOTHING', [d, Date.now()])) > 0);
  },
  del: (pg: Pg, name: string): Promise<boolean> =>
    pg.db.tx(async (t) => {
      const d = name.toLowerCase();
      const users = (await t.one('SELECT COUNT(*) AS n FROM users WHERE domain = $1', [d]))!.n as number;
      if (users > 0) throw new StoreError('inuse', `domain ${d} still has ${users} user(s); delete them first`);
      await t.run('DELETE FROM aliases WHERE lower(source) = $1 OR lower(source) LIKE $2', ['@' + d, '%@' + d.replace(/[\\%_]/g, '\\$&')]);
      return (await t.run('DELETE FROM domains WHERE name = $1', [d])) > 0;
    }),
  list: async (pg: Pg): Promise<DomainRecord[]> =>
    (await pg.db.read('SELECT d.name, d.created, (SELECT COUNT(*) FROM users u WHERE u.domain = d.name) AS users FROM domains d ORDER BY d.name'))
      .map((r) => ({ name: r.name as string, created: r.created as number, users: r.users as number })),
  isLocal: async (pg: Pg, name: string): Promise<boolean> => !!(await pg.db.readOne('SELECT 1 FROM domains WHERE name = $1', [name.toLowerCase()])),
};

export const users = {
  add: (pg: Pg, address: string, passwordHash: string): Promise<UserRecord> => {
    const a = parseAddress(address);
    if (!a) return Promise.reject(new StoreError('invalid', `not an address: ${address}`));
    return pg.db.tx(async (t) => {
      if (!(await t.one('SELECT 1 FROM domains WHERE name = $1', [a.domain]))) {
        throw new StoreError('invalid', `${a.domain} is not a local domain (add it first: postoffice domain add ${a.domain})`);
      }
      const r = await t.one('INSERT INTO users (address, domain, password_hash, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING *',
        [txt(a.key), a.domain, passwordHash, Date.now()]);
      if (!r) throw new StoreError('exists', `user ${a.key} already exists`);
      for (const [name, use] of DEFAULT_MAILBOXES) await createMailboxTx(t, r.id as number, name, use, true);
      return userRow(r);
    });
  },
  del: (pg: Pg, address: string): Promise<boolean> =>
    pg.db.tx(async (t) => {
      const u = await t.one('SELECT id, address FROM users WHERE lower(address) = lower($1)', [address.trim()]);
      if (!u) return false;
      const boxes = await t.q('SELECT id FROM mailboxes WHERE user_id = $1 ORDER BY id', [u.id]);
      for (const b of boxes) await deleteMailboxTx(t, b.id as number);
      await t.run('DELETE FROM aliases WHERE lower(target) = lower($1)', [u.address]);
      await t.run('DELETE FROM users WHERE id = $1', [u.id]);
      return true;
    }),
  list: async (pg: Pg, domain?: string): Promise<UserRecord[]> =>
    (domain
      ? await pg.db.read('SELECT * FROM users WHERE domain = $1 ORDER BY address', [domain.toLowerCase()])
      : await pg.db.read('SELECT * FROM users ORDER BY address')).map(userRow),
  get: async (pg: Pg, address: string): Promise<UserRecord | null> => {
    const r = await pg.db.readOne('SELECT * FROM users WHERE lower(address) = lower($1)', [txt(address.trim())]);
    return r ? userRow(r) : null;
  },
  getById: async (pg: Pg, id: number): Promise<UserRecord | null> => {
    const r = await pg.db.readOne('SELECT * FROM users WHERE id = $1', [id]);
    return r ? userRow(r) : null;
  },
  passwordHash: async (pg: Pg, address: string) => {
    const r = await pg.db.readOne('SELECT * FROM users WHERE lower(address) = lower($1)', [txt(address.trim())]);
    return r ? { user: userRow(r), hash: r.password_hash as string } : null;
  },
  setPassword: (pg: Pg, address: string, passwordHash: string): Promise<boolean> =>
    pg.db.tx(async (t) => (await t.run('UPDATE users SET password_hash = $1 WHERE lower(address) = lower($2)', [passwordHash, txt(address.trim())])) > 0),
  setAdmin: (pg: Pg, address: string, on: boolean): Promise<boolean> =>
    pg.db.tx(async (t) => (await t.run('UPDATE users SET admin = $1 WHERE lower(address) = lower($2)', [on, txt(address.trim())])) > 0),
  resolve: (pg: Pg, address: string): Promise<Resolution> => resolve(pg, address),
  sendAs: async (pg: Pg, userId: number): Promise<string[]> => {
    const u = await pg.db.readOne('SELECT address FROM users WHERE id = $1', [userId]);
    if (!u) return [];
    const own = u.address as string;
    const aliases = (await pg.db.read(`SELECT source FROM aliases WHERE lower(target) = lower($1) AND source NOT LIKE '@%' ORDER BY id`, [own])).map((r) => r.source as string);
    return [own, ...aliases];
  },
  usage: async (pg: Pg, userId: number) => {
    const r = (await pg.db.readOne(`SELECT COALESCE(SUM(m.size), 0) AS bytes, COUNT(*) AS n FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = $1`, [userId]))!;
    return { bytes: r.bytes as number, messages: r.n as number };
  },
};
