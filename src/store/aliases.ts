// Aliases and recipient resolution, the same for both backends: each backend answers three
// look-ups (is this a local domain, is this a user, what does this source point at) and the rules
// live here once.
import { normalizeDomain, parseAddress } from '../mail/address.js';
import { StoreError } from './errors.js';
import type { Resolution } from './types.js';

export interface AddressLookups {
  isLocalDomain(domain: string): Promise<boolean> | boolean;
  user(address: string): Promise<{ id: number; address: string } | null> | { id: number; address: string } | null;
  /** the targets of an alias source (an address or @domain), in the order they were added */
  aliasTargets(source: string): Promise<string[]> | string[];
}

/** RFC 5321 §3.6: a local-part may be an alias; expand to users (depth-bounded), else catch-all. */
export async function resolveAddress(look: AddressLookups, address: string): Promise<Resolution> {
  const a = parseAddress(address);
  if (!a) return { kind: 'unknown' };
  if (!(await look.isLocalDomain(a.domain))) return { kind: 'remote' };
  const users = new Map<number, string>();
  const remote = new Set<string>();
  const seen = new Set<string>();
  const expand = async (key: string, depth: number, allowCatchAll: boolean): Promise<boolean> => {
    if (depth > 8 || seen.has(key)) return false;
    seen.add(key);
    const u = await look.user(key);
    if (u) { users.set(u.id, u.address); return true; }
    let targets = await look.aliasTargets(key);
    if (targets.length === 0) {
      // sub-addressing: alice+news@ -> alice@
      const plus = key.indexOf('+');
      if (plus > 0 && plus < key.indexOf('@')) return expand(key.slice(0, plus) + key.slice(key.indexOf('@')), depth + 1, allowCatchAll);
      if (allowCatchAll) targets = await look.aliasTargets(key.slice(key.indexOf('@')));
    }
    if (targets.length === 0) return false;
    let any = false;
    for (const t of targets) {
      const ta = parseAddress(t);
      if (!ta) continue;
      if (await look.isLocalDomain(ta.domain)) any = (await expand(ta.key, depth + 1, false)) || any;
      else { remote.add(ta.key); any = true; }
    }
    return any;
  };
  if (!(await expand(a.key, 0, true)) || (users.size === 0 && remote.size === 0)) return { kind: 'unknown' };
  return { kind: 'local', users: [...users].map(([userId, addr]) => ({ userId, address: addr })), remote: [...remote] };
}

/** An alias to add: its source (address or @domain, lower case), the source's domain and the target. */
export function aliasPair(source: string, target: string): { src: string; catchAll: boolean; srcDomain: string; target: string } {
  const src = source.trim().toLowerCase();
  const catchAll = src.startsWith('@');
  const srcDomain = catchAll ? normalizeDomain(src.slice(1)) : parseAddress(src)?.domain;
  const tgt = parseAddress(target);
  if (!srcDomain) throw new StoreError('invalid', `not an address or @domain: ${source}`);
  if (!tgt) throw new StoreError('invalid', `not an address: ${target}`);
  return { src, catchAll, srcDomain, target: tgt.key };
}
