// Domains and users: a user gets the default special-use mailboxes (RFC 6154) when made, and
// takes its mailboxes, copies and aliases along when deleted.
import { normalizeDomain, parseAddress } from '../../mail/address.js';
import { DEFAULT_MAILBOXES } from '../defaults.js';
import { StoreError } from '../errors.js';
import type { DomainRecord, Resolution, UserRecord } from '../types.js';
import { resolve } from './aliases.js';
import { createMailbox, deleteMailbox } from './mailboxes.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import { userRow } from './rows.js';
import type { Writer } from './writer.js';

export const domainReads = {
  list: async (r: Reader): Promise<DomainRecord[]> =>
    (r.st('SELECT d.name, d.created, (SELECT COUNT(*) FROM users u WHERE u.domain = d.name) AS users FROM domains d ORDER BY d.name').all() as Row[])
      .map((d) => ({ name: d.name as string, created: d.created as number, users: d.users as number })),
  isLocal: async (r: Reader, name: string): Promise<boolean> => !!r.st('SELECT 1 FROM domains WHERE name = ?').get(name.toLowerCase()),
};

export const domainWrites = {
  add: (w: Writer, name: string): Promise<boolean> => {
    const d = normalizeDomain(name);
    if (!d) return Promise.reject(new StoreError('invalid', `not a domain name: ${name}`));
    return w.write((tx) => tx.st('INSERT INTO domains (name, created) VALUES (?, ?) ON CONFLICT DO NOTHING').run(d, Date.now()).changes > 0);
  },
  del: (w: Writer, name: string): Promise<boolean> =>
    w.write((tx) => {
      const d = name.toLowerCase();
      const users = tx.st('SELECT COUNT(*) AS n FROM users WHERE domain = ?').get(d) as Row;
      if ((users.n as number) > 0) throw new StoreError('inuse', `domain ${d} still has ${users.n} user(s); delete them first`);
      tx.st(`DELETE FROM aliases WHERE source = ? OR source LIKE ?`).run('@' + d, '%@' + d);
      return tx.st('DELETE FROM domains WHERE name = ?').run(d).changes > 0;
    }),
};

export const userReads = {
  list: async (r: Reader, domain?: string): Promise<UserRecord[]> =>
    ((domain
      ? r.st('SELECT * FROM users WHERE domain = ? ORDER BY address').all(domain.toLowerCase())
      : r.st('SELECT * FROM users ORDER BY address').all()) as Row[]).map(userRow),
  get: async (r: Reader, address: string): Promise<UserRecord | null> => {
    const u = r.st('SELECT * FROM users WHERE address = ?').get(address.trim()) as Row | undefined;
    return u ? userRow(u) : null;
  },
  getById: async (r: Reader, id: number): Promise<UserRecord | null> => {
    const u = r.st('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return u ? userRow(u) : null;
  },
  passwordHash: async (r: Reader, address: string): Promise<{ user: UserRecord; hash: string } | null> => {
    const u = r.st('SELECT * FROM users WHERE address = ?').get(address.trim()) as Row | undefined;
    return u ? { user: userRow(u), hash: u.password_hash as string } : null;
  },
  resolve: async (r: Reader, address: string): Promise<Resolution> => resolve(r, address),
  sendAs: async (r: Reader, userId: number): Promise<string[]> => {
    const u = r.st('SELECT address FROM users WHERE id = ?').get(userId) as Row | undefined;
    if (!u) return [];
    const own = u.address as string;
    const aliases = (r.st(`SELECT source FROM aliases WHERE target = ? AND source NOT LIKE '@%'`).all(own) as Row[]).map((a) => a.source as string);
    return [own, ...aliases];
  },
  usage: async (r: Reader, userId: number): Promise<{ bytes: number; messages: number }> => {
    const u = r.st(`SELECT COALESCE(SUM(m.size), 0) AS bytes, COUNT(*) AS n FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = ?`).get(userId) as Row;
    return { bytes: u.bytes as number, messages: u.n as number };
  },
};

export const userWrites = {
  add: (w: Writer, address: string, passwordHash: string): Promise<UserRecord> => {
    const a = parseAddress(address);
    if (!a) return Promise.reject(new StoreError('invalid', `not an address: ${address}`));
    return w.write((tx) => {
      if (!tx.st('SELECT 1 FROM domains WHERE name = ?').get(a.domain)) {
        throw new StoreError('invalid', `${a.domain} is not a local domain (add it first: postoffice domain add ${a.domain})`);
      }
      const u = tx.st('INSERT INTO users (address, domain, password_hash, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *')
        .get(a.key, a.domain, passwordHash, Date.now()) as Row | undefined;
      if (!u) throw new StoreError('exists', `user ${a.key} already exists`);
      for (const [name, use] of DEFAULT_MAILBOXES) createMailbox(tx, u.id as number, name, use, true);
      return userRow(u);
    });
  },
  del: (w: Writer, address: string): Promise<boolean> =>
    w.write((tx) => {
      const u = tx.st('SELECT id FROM users WHERE address = ?').get(address) as Row | undefined;
      if (!u) return false;
      for (const b of tx.st('SELECT id FROM mailboxes WHERE user_id = ?').all(u.id) as Row[]) deleteMailbox(tx, b.id as number);
      tx.st('DELETE FROM aliases WHERE target = ?').run(address);
      tx.st('DELETE FROM users WHERE id = ?').run(u.id);
      return true;
    }),
  setPassword: (w: Writer, address: string, passwordHash: string): Promise<boolean> =>
    w.write((tx) => tx.st('UPDATE users SET password_hash = ? WHERE address = ?').run(passwordHash, address).changes > 0),
  setAdmin: (w: Writer, address: string, on: boolean): Promise<boolean> =>
    w.write((tx) => tx.st('UPDATE users SET admin = ? WHERE address = ?').run(on ? 1 : 0, address.trim()).changes > 0),
};
