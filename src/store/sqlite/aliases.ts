// Aliases (address -> address, or @domain catch-all) and envelope recipient resolution.
import { normalizeDomain, parseAddress } from '../../mail/address.js';
import { StoreError } from '../errors.js';
import type { AliasRecord, Resolution } from '../types.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

/** RFC 5321 §3.6: a local-part may be an alias; expand to users (depth-bounded), else catch-all. */
export function resolve(r: Reader, address: string): Resolution {
  const a = parseAddress(address);
  if (!a) return { kind: 'unknown' };
  if (!r.st('SELECT 1 FROM domains WHERE name = ?').get(a.domain)) return { kind: 'remote' };
  const users = new Map<number, string>();
  const remote = new Set<string>();
  const seen = new Set<string>();
  const userSt = r.st('SELECT id, address FROM users WHERE address = ?');
  const aliasSt = r.st('SELECT target FROM aliases WHERE source = ?');
  const domainSt = r.st('SELECT 1 FROM domains WHERE name = ?');
  const expand = (key: string, depth: number, allowCatchAll: boolean): boolean => {
    if (depth > 8 || seen.has(key)) return false;
    seen.add(key);
    const u = userSt.get(key) as Row | undefined;
    if (u) { users.set(u.id as number, u.address as string); return true; }
    let targets = (aliasSt.all(key) as Row[]).map((t) => t.target as string);
    if (targets.length === 0) {
      // sub-addressing: alice+news@ -> alice@
      const plus = key.indexOf('+');
      if (plus > 0 && plus < key.indexOf('@')) return expand(key.slice(0, plus) + key.slice(key.indexOf('@')), depth + 1, allowCatchAll);
      if (allowCatchAll) targets = (aliasSt.all(key.slice(key.indexOf('@'))) as Row[]).map((t) => t.target as string);
    }
    if (targets.length === 0) return false;
    let any = false;
    for (const t of targets) {
      const ta = parseAddress(t);
      if (!ta) continue;
      if (domainSt.get(ta.domain)) any = expand(ta.key, depth + 1, false) || any;
      else { remote.add(ta.key); any = true; }
    }
    return any;
  };
  if (!expand(a.key, 0, true) || (users.size === 0 && remote.size === 0)) return { kind: 'unknown' };
  return { kind: 'local', users: [...users].map(([userId, addr]) => ({ userId, address: addr })), remote: [...remote] };
}

export const aliasReads = {
  list: async (r: Reader): Promise<AliasRecord[]> =>
    (r.st('SELECT source, target, created FROM aliases ORDER BY source, target').all() as Row[])
      .map((a) => ({ source: a.source as string, target: a.target as string, created: a.created as number })),
};

export const aliasWrites = {
  add: (w: Writer, source: string, target: string): Promise<boolean> => {
    const src = source.trim().toLowerCase();
    const catchAll = src.startsWith('@');
    const srcDomain = catchAll ? normalizeDomain(src.slice(1)) : parseAddress(src)?.domain;
    const tgt = parseAddress(target);
    if (!srcDomain) return Promise.reject(new StoreError('invalid', `not an address or @domain: ${source}`));
    if (!tgt) return Promise.reject(new StoreError('invalid', `not an address: ${target}`));
    return w.write((tx) => {
      if (!tx.st('SELECT 1 FROM domains WHERE name = ?').get(srcDomain)) throw new StoreError('invalid', `${srcDomain} is not a local domain`);
      if (!catchAll && tx.st('SELECT 1 FROM users WHERE address = ?').get(src)) throw new StoreError('exists', `${src} is a user, not an alias`);
      return tx.st('INSERT INTO aliases (source, target, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(src, tgt.key, Date.now()).changes > 0;
    });
  },
  del: (w: Writer, source: string, target?: string): Promise<number> =>
    w.write((tx) => (target
      ? tx.st('DELETE FROM aliases WHERE source = ? AND target = ?').run(source.trim(), target.trim())
      : tx.st('DELETE FROM aliases WHERE source = ?').run(source.trim())).changes),
};
