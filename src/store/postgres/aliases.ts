// Aliases (address or @domain catch-all to addresses) and the resolution of a recipient
// address to local users and remote addresses.
import { normalizeDomain, parseAddress } from '../../mail/address.js';
import { StoreError } from '../errors.js';
import type { AliasRecord, Resolution } from '../types.js';
import type { Pg } from './context.js';
import { txt } from './db.js';

/** RFC 5321 §3.6: a local-part may be an alias; expand to users (depth-bounded), else catch-all. */
export async function resolve(pg: Pg, address: string): Promise<Resolution> {
  const a = parseAddress(address);
  if (!a) return { kind: 'unknown' };
  const isDomain = async (d: string) => !!(await pg.db.readOne('SELECT 1 FROM domains WHERE name = $1', [d]));
  if (!(await isDomain(a.domain))) return { kind: 'remote' };
  const users = new Map<number, string>();
  const remote = new Set<string>();
  const seen = new Set<string>();
  const aliasTargets = async (key: string) => (await pg.db.read('SELECT target FROM aliases WHERE lower(source) = lower($1) ORDER BY id', [txt(key)])).map((r) => r.target as string);
  const expand = async (key: string, depth: number, allowCatchAll: boolean): Promise<boolean> => {
    if (depth > 8 || seen.has(key)) return false;
    seen.add(key);
    const u = await pg.db.readOne('SELECT id, address FROM users WHERE lower(address) = lower($1)', [txt(key)]);
    if (u) { users.set(u.id as number, u.address as string); return true; }
    let targets = await aliasTargets(key);
    if (targets.length === 0) {
      // sub-addressing: alice+news@ -> alice@
      const plus = key.indexOf('+');
      if (plus > 0 && plus < key.indexOf('@')) return expand(key.slice(0, plus) + key.slice(key.indexOf('@')), depth + 1, allowCatchAll);
      if (allowCatchAll) targets = await aliasTargets(key.slice(key.indexOf('@')));
    }
    if (targets.length === 0) return false;
    let any = false;
    for (const tg of targets) {
      const ta = parseAddress(tg);
      if (!ta) continue;
      if (await isDomain(ta.domain)) any = (await expand(ta.key, depth + 1, false)) || any;
      else { remote.add(ta.key); any = true; }
    }
    return any;
  };
  if (!(await expand(a.key, 0, true)) || (users.size === 0 && remote.size === 0)) return { kind: 'unknown' };
  return { kind: 'local', users: [...users].map(([userId, addr]) => ({ userId, address: addr })), remote: [...remote] };
}

export const aliases = {
  add: (pg: Pg, source: string, target: string): Promise<boolean> => {
    const src = source.trim().toLowerCase();
    const catchAll = src.startsWith('@');
    const srcDomain = catchAll ? normalizeDomain(src.slice(1)) : parseAddress(src)?.domain;
    const tgt = parseAddress(target);
    if (!srcDomain) return Promise.reject(new StoreError('invalid', `not an address or @domain: ${source}`));
    if (!tgt) return Promise.reject(new StoreError('invalid', `not an address: ${target}`));
    return pg.db.tx(async (t) => {
      if (!(await t.one('SELECT 1 FROM domains WHERE name = $1', [srcDomain]))) throw new StoreError('invalid', `${srcDomain} is not a local domain`);
      if (!catchAll && (await t.one('SELECT 1 FROM users WHERE lower(address) = $1', [src]))) throw new StoreError('exists', `${src} is a user, not an alias`);
      return (await t.run('INSERT INTO aliases (source, target, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [txt(src), txt(tgt.key), Date.now()])) > 0;
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
