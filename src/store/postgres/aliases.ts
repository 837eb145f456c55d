// Aliases (address or @domain catch-all to addresses) and the resolution of a recipient
// address to local users and remote addresses.
import { aliasPair, resolveAddress } from '../aliases.js';
import { StoreError } from '../errors.js';
import type { AliasRecord, Resolution } from '../types.js';
import type { Pg } from './context.js';
import { txt } from './db.js';

/** RFC 5321 §3.6 recipient resolution (src/store/aliases.ts) over the read pool. */
export function resolve(pg: Pg, address: string): Promise<Resolution> {
  return resolveAddress({
    isLocalDomain: async (d) => !!(await pg.db.readOne('SELECT 1 FROM domains WHERE name = $1', [d])),
    user: async (key) => {
      const u = await pg.db.readOne('SELECT id, address FROM users WHERE lower(address) = lower($1)', [txt(key)]);
      return u ? { id: u.id as number, address: u.address as string } : null;
    },
    aliasTargets: async (key) => (await pg.db.read('SELECT target FROM aliases WHERE lower(source) = lower($1) ORDER BY id', [txt(key)])).map((r) => r.target as string),
  }, address);
}

export const aliases = {
  add: (pg: Pg, source: string, target: string): Promise<boolean> => {
    let pair: ReturnType<typeof aliasPair>;
    try { pair = aliasPair(source, target); } catch (err) { return Promise.reject(err); }
    const { src, catchAll, srcDomain } = pair;
    return pg.db.tx(async (t) => {
      if (!(await t.one('SELECT 1 FROM domains WHERE name = $1', [srcDomain]))) throw new StoreError('invalid', `${srcDomain} is not a local domain`);
      if (!catchAll && (await t.one('SELECT 1 FROM users WHERE lower(address) = $1', [src]))) throw new StoreError('exists', `${src} is a user, not an alias`);
      return (await t.run('INSERT INTO aliases (source, target, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [txt(src), txt(pair.target), Date.now()])) > 0;
    });
  },
  del: (pg: Pg, source: string, target?: string): Promise<number> =>
    pg.db.tx((t) => (target
      ? t.run('DELETE FROM aliases WHERE lower(source) = lower($1) AND lower(target) = lower($2)', [txt(source.trim()), txt(target.trim())])
      : t.run('DELETE FROM aliases WHERE lower(source) = lower($1)', [txt(source.trim())]))),
  list: async (pg: Pg): Promise<AliasRecord[]> =>
    (await pg.db.read('SELECT source, target, created FROM aliases ORDER BY source, target'))
      .map((r) => ({ source: r.source as string, target: r.target as string, created: r.created as number })),
};
