import type { MailboxRecord } from '../../store/index.js';
import type { ImapCommand, ImapSession } from '../types.js';
import { decodeMailboxName, mailboxOut } from '../wire.js';
import { statusLine } from './status.js';
import { user } from './util.js';

/**
 * RFC 3501 §6.3.8 pattern matching: "*" matches anything, "%" anything but the delimiter "/".
 * A dynamic program over (pattern, name) positions, O(pattern x name): no regular expression, so
 * a pattern like "*a*a*a*...b" cannot make it backtrack for ever.
 */
export function patternMatcher(ref: string, pattern: string): (name: string) => boolean {
  let full = ref && !pattern.startsWith('/') ? ref + pattern : pattern;
  // INBOX is case-insensitive (§5.1); the store always spells it "INBOX"
  full = full.replace(/^INBOX(?=\/|$)/i, 'INBOX');
  const p = [...full];
  return (name: string) => {
    const n = [...name];
    // cur[j]: pattern[0..i) matches name[0..j)
    let cur = new Uint8Array(n.length + 1);
    cur[0] = 1;
    for (let i = 0; i < p.length; i++) {
      const next = new Uint8Array(n.length + 1);
      const c = p[i];
      if (c === '*' || c === '%') {
        let open = 0;
        for (let j = 0; j <= n.length; j++) {
          if (cur[j]) open = 1;
          next[j] = open;
          if (c === '%' && n[j] === '/') open = 0; // "%" stops at the delimiter
        }
      } else {
        for (let j = 0; j < n.length; j++) if (cur[j] && n[j] === c) next[j + 1] = 1;
      }
      cur = next;
    }
    return cur[n.length] === 1;
  };
}

interface ListOptions {
  subscribedOnly: boolean; specialUseOnly: boolean; recursiveMatch: boolean;
  returnSubscribed: boolean; returnChildren: boolean; returnSpecialUse: boolean; returnStatus: string[] | null;
  lsub: boolean;
}

/** Every proper ancestor of a "/"-separated name: "a/b/c" -> "a", "a/b". */
function ancestors(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) out.push(name.slice(0, i));
  return out;
}

async function listMailboxes(s: ImapSession, ref: string, patterns: string[], o: ListOptions): Promise<void> {
  const u = user(s);
  const boxes = await s.ctx.store.mailboxes.list(u.id);
  const byName = new Map<string, MailboxRecord>(boxes.map((b) => [b.name, b]));
  if (patterns.length === 1 && patterns[0] === '' && !o.lsub) {
    // §6.3.8: the delimiter and root of the reference
    s.send('* LIST (\\Noselect) "/" ""');
    return;
  }
  const res = patterns.map((p) => patternMatcher(ref, p));
  const matches = (n: string) => res.some((m) => m(n));
  const percentLevel = patterns.some((p) => p.endsWith('%'));
  const subscribedOnly = o.subscribedOnly || o.lsub;
  const subs = subscribedOnly || o.returnSubscribed ? new Set(await s.ctx.store.mailboxes.subscriptions(u.id)) : new Set<string>();
  // names with an existing child mailbox (\HasChildren, RFC 5258 §4 CHILDREN / RFC 3348)
  const parents = new Set<string>();
  for (const b of boxes) for (const a of ancestors(b.name)) parents.add(a);
  // names with a subscribed descendant: any (LSUB's \Noselect, RFC 3501 §6.3.9), and one that the
  // patterns do not return itself (RFC 5258 §3.5 RECURSIVEMATCH: CHILDINFO tells of children the
  // client would otherwise not see)
  const subParents = new Set<string>();
  const unmatchedSubParents = new Set<string>();
  if (subscribedOnly) {
    for (const n of subs) {
      const hidden = !matches(n);
      for (const a of ancestors(n)) { subParents.add(a); if (hidden) unmatchedSubParents.add(a); }
    }
  }
  // the candidates: existing mailboxes and their implied parents, or the subscribed names and theirs
  const names = new Set<string>();
  if (subscribedOnly) { for (const n of subs) names.add(n); for (const n of subParents) names.add(n); }
  else { for (const b of boxes) names.add(b.name); for (const n of parents) names.add(n); }
  const sorted = [...names].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  for (const n of sorted) {
    if (!matches(n)) continue;
    const b = byName.get(n);
    const attrs: string[] = [];
    let childInfo = false;
    if (o.lsub) {
      // RFC 3501 §6.3.9: a subscribed name is returned (\Noselect when it no longer exists); an
      // unsubscribed one only at a "%" level with a subscribed child, and then with \Noselect
      if (subs.has(n)) { if (!b) attrs.push('\\Noselect'); }
      else if (percentLevel && subParents.has(n)) attrs.push('\\Noselect');
      else continue;
    } else if (o.subscribedOnly) {
      // RFC 5258 §3.1 SUBSCRIBED returns subscribed names, existing or not (\NonExistent, §3.4);
      // §3.5 RECURSIVEMATCH adds the parents of subscribed names not otherwise returned
      childInfo = o.recursiveMatch && unmatchedSubParents.has(n);
      if (subs.has(n)) attrs.push('\\Subscribed');
      else if (!childInfo) continue;
      if (!b) attrs.push('\\NonExistent');
    } else if (!b) {
      // an implied parent: only a "%" level shows it (§6.3.8)
      if (!percentLevel) continue;
      attrs.push('\\NonExistent', '\\Noselect');
    } else if (o.returnSubscribed && subs.has(n)) attrs.push('\\Subscribed');
    if (o.specialUseOnly && !b?.specialUse) continue;
    // RFC 3348 §3: \HasChildren/\HasNoChildren tell of existing children, in LIST and LSUB alike
    if (!o.lsub || b) attrs.push(parents.has(n) ? '\\HasChildren' : '\\HasNoChildren');
    if (b?.specialUse) attrs.push(b.specialUse);
    const ext = childInfo ? ' ("CHILDINFO" ("SUBSCRIBED"))' : '';
    s.send(`* ${o.lsub ? 'LSUB' : 'LIST'} (${attrs.join(' ')}) "/" ${mailboxOut(n, s.utf8Names)}${ext}`);
    if (o.returnStatus && b) {
      const st = await s.ctx.store.mailboxes.status(b.id);
      if (st) s.send(statusLine(s, n, st, o.returnStatus));
    }
  }
}

/** A name or pattern from the client: modified UTF-7, or UTF-8 once IMAP4rev2 is enabled (RFC 9051 §5.1). */
function nameIn(s: ImapSession, wire: string): string {
  if (s.utf8Names) return wire;
  // a reference or pattern that is not modified UTF-7 matches no (decoded) name as it is: used raw
  try { return decodeMailboxName(wire); } catch { return wire; }
}


// RFC 3501 §6.3.8 LIST, with RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE.
export const list: ImapCommand<'LIST'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    // the options as the grammar read them (grammar/index.ts LIST); CHILDREN and SPECIAL-USE are always returned
    const o: ListOptions = {
      subscribedOnly: !!cmd.select?.subscribed, specialUseOnly: !!cmd.select?.specialUse, recursiveMatch: !!cmd.select?.recursiveMatch,
      returnSubscribed: !!cmd.select?.subscribed || !!cmd.returns?.subscribed,
      returnChildren: true, returnSpecialUse: true, returnStatus: cmd.returns?.status ?? null, lsub: false,
    };
    const ref = nameIn(s, cmd.reference);
    const patterns = cmd.patterns.map((p) => nameIn(s, p));
    await listMailboxes(s, ref, patterns, o);
    return 'LIST completed';
  },
};

// RFC 3501 §6.3.9 LSUB: LIST restricted to subscribed names.
export const lsub: ImapCommand<'LSUB'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const ref = nameIn(s, cmd.reference);
    const pattern = nameIn(s, cmd.pattern);
    await listMailboxes(s, ref, [pattern], {
      subscribedOnly: true, specialUseOnly: false, recursiveMatch: false, returnSubscribed: false,
      returnChildren: true, returnSpecialUse: true, returnStatus: null, lsub: true,
    });
    return 'LSUB completed';
  },
};
