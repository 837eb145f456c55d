// Aliases (address -> address, or @domain catch-all) and envelope recipient resolution.
import { aliasPair, resolveAddress } from '../aliases.js';
import { StoreError } from '../errors.js';
import type { AliasRecord, Resolution } from '../types.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

/** RFC 5321 §3.6 recipient resolution (src/store/aliases.ts) over the read connection. */
export function resolve(r: Reader, address: string): Promise<Resolution> {
  const userSt = r.st('SELECT id, address FROM users WHERE address = ?');
  const aliasSt = r.st('SELECT target FROM aliases WHERE source = ?');
  const domainSt = r.st('SELECT 1 FROM domains WHERE name = ?');
  return resolveAddress({
    isLocalDomain: (d) => !!domainSt.get(d),
    user: (key) => {
      const u = userSt.get(key) as Row | undefined;
      return u ? { id: u.id as number, address: u.address as string } : null;
    },
    aliasTargets: (key) => (aliasSt.all(key) as Row[]).map((t) => t.target as string),
  }, address);
}

export const aliasReads = {
  list: async (r: Reader): Promise<AliasRecord[]> =>
    (r.st('SELECT source, target, created FROM aliases ORDER BY source, target').all() as Row[])
      .map((a) => ({ source: a.source as string, target: a.target as string, created: a.created as number })),
};

export const aliasWrites = {
  add: (w: Writer, source: string, target: string): Promise<boolean> => {
    let pair: ReturnType<typeof aliasPair>;
    try { pair = aliasPair(source, target); } catch (err) { return Promise.reject(err); }
    const { src, catchAll, srcDomain } = pair;
    return w.write((tx) => {
      if (!tx.st('SELECT 1 FROM domains WHERE name = ?').get(srcDomain)) throw new StoreError('invalid', `${srcDomain} is not a local domain`);
      if (!catchAll && tx.st('SELECT 1 FROM users WHERE address = ?').get(src)) throw new StoreError('exists', `${src} is a user, not an alias`);
      return tx.st('INSERT INTO aliases (source, target, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(src, pair.target, Date.now()).changes > 0;
    });
  },
  del: (w: Writer, source: string, target?: string): Promise<number> =>
    w.write((tx) => (target
      ? tx.st('DELETE FROM aliases WHERE source = ? AND target = ?').run(source.trim(), target.trim())
      : tx.st('DELETE FROM aliases WHERE source = ?').run(source.trim())).changes),
};
