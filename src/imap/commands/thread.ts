import type { MimeTree } from '../../mail/mime.js';
import { headerFieldValues } from '../../mail/headers.js';
import type { ImapCommand } from '../types.js';
import { checkCharset, ImapNo } from '../wire.js';
import { runSearch } from './search.js';
import { sentDate, subjectInfo } from './sort.js';

/** What threading needs of one message. */
interface Item { num: number; seq: number; date: number; base: string; reply: boolean; messageId: string | null; refs: string[] }

/** A node of the thread tree: a message, or a dummy standing for one that is referred to but absent. */
interface Node { item: Item | null; parent: Node | null; children: Node[] }

const MSGID = /<[^<>\s]+>/g;
/** the longest ancestor walk and the most references of one message that threading follows */
const MAX_DEPTH = 10_000;
const MAX_REFS = 100;

/** Sent date of a (sorted) node: its message's, or for a dummy its first child's. */
function nodeDate(n: Node): [number, number] {
  if (n.item) return [n.item.date, n.item.seq];
  return n.children.length ? nodeDate(n.children[0]) : [0, 0];
}
const byDate = (a: Node, b: Node) => { const [da, sa] = nodeDate(a); const [db, sb] = nodeDate(b); return da - db || sa - sb; };

/** RFC 5256 §4 thread-list syntax: a chain of single children is "1 2 3", several children are nested lists. */
function render(n: Node): string {
  let out = '';
  for (let cur: Node | null = n; cur;) {
    if (cur.item) out += (out ? ' ' : '') + cur.item.num;
    if (cur.children.length === 1 && cur.item) { cur = cur.children[0]; continue; }
    if (cur.children.length) out += (out ? ' ' : '') + cur.children.map((c) => `(${render(c)})`).join('');
    cur = null;
  }
  return out;
}

/** RFC 5256 §4 ORDEREDSUBJECT: by base subject, then sent date; each subject's first message is the parent of the rest. */
function orderedSubject(items: Item[]): Node[] {
  const sorted = [...items].sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : a.date - b.date || a.seq - b.seq));
  const roots: Node[] = [];
  let last: Node | null = null;
  for (const it of sorted) {
    const node: Node = { item: it, parent: null, children: [] };
    if (last && last.item!.base === it.base) { node.parent = last; last.children.push(node); continue; }
    roots.push(node);
    last = node;
  }
  return roots.sort(byDate);
}

/** RFC 5256 §4 REFERENCES: the parent/child links of Message-ID, References and In-Reply-To, then subjects. */
function references(items: Item[]): Node[] {
  // (1) the id table: every Message-ID, and every one referred to (a dummy until its message is seen)
  const table = new Map<string, Node>();
  const container = (id: string): Node => {
    let n = table.get(id);
    if (!n) table.set(id, (n = { item: null, parent: null, children: [] }));
    return n;
  };
  // is a an ancestor of b? A walk longer than MAX_DEPTH counts as yes: no link is made, and a
  // crafted mailbox cannot make threading quadratic
  const isAncestor = (a: Node, b: Node) => {
    let steps = 0;
    for (let x: Node | null = b; x; x = x.parent) if (x === a || ++steps > MAX_DEPTH) return true;
    return false;
  };
  const unlink = (c: Node) => { if (c.parent) { c.parent.children = c.parent.children.filter((x) => x !== c); c.parent = null; } };
  const link = (p: Node, c: Node) => { c.parent = p; p.children.push(c); };
  let unique = 0;
  for (const it of items) {
    // a message without a Message-ID, or with one already seen, gets an id of its own
    let id = it.messageId;
    if (!id || table.get(id)?.item) id = `\0unique${++unique}`;
    const node = container(id);
    node.item = it;
    // (1B) link each reference to the next, where nothing links them yet and no loop follows
    const refs = it.refs.filter((r) => r !== id);
    for (let i = 0; i + 1 < refs.length; i++) {
      const p = container(refs[i]);
      const c = container(refs[i + 1]);
      if (c.parent || p === c || isAncestor(c, p)) continue;
      link(p, c);
    }
    // (1C) RFC 5256 §4 step 1.B: the last reference is this message's parent. A parent it already
    // has (from a truncated References elsewhere) is broken off first, and then no new link is
    // made if it would introduce a loop: the message is left a root
    const last = refs.length ? container(refs[refs.length - 1]) : null;
    unlink(node);
    if (last && last !== node && !isAncestor(node, last)) link(last, node);
  }
  // (2) the root set
  let roots = [...table.values()].filter((n) => !n.parent);
  // (4) prune dummies: empty ones go; others give their children to their parent, but a dummy
  // at the root keeps two or more children (it holds a thread whose first message is missing).
  // Children before parents, without recursion (a thread may be thousands of replies deep).
  const order: Node[] = [];
  for (const stack = [...roots]; stack.length;) { const n = stack.pop()!; order.push(n); for (const c of n.children) stack.push(c); }
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    const kids: Node[] = [];
    for (const c of n.children) {
      if (c.item) kids.push(c);
      else for (const g of c.children) kids.push(g);
    }
    n.children = kids;
    for (const c of kids) c.parent = n;
  }
  roots = roots.flatMap((n) => {
    if (n.item || n.children.length > 1) return [n];
    for (const c of n.children) c.parent = null;
    return n.children;
  });
  const sortTree = (root: Node) => {
    for (const stack = [root]; stack.length;) { const n = stack.pop()!; n.children.sort(byDate); for (const c of n.children) stack.push(c); }
  };
  roots.forEach(sortTree);
  // (5) gather threads by base subject
  const subjectOf = (n: Node): Item | null => n.item ?? n.children[0]?.item ?? null;
  const bySubject = new Map<string, Node>();
  for (const n of roots) {
    const it = subjectOf(n);
    if (!it || !it.base) continue;
    const old = bySubject.get(it.base);
    if (!old || (!n.item && old.item) || (old.item && old.item.reply && n.item && !it.reply)) bySubject.set(it.base, n);
  }
  const out: Node[] = [];
  const replaced = new Map<Node, Node>();
  for (const n of roots) {
    const it = subjectOf(n);
    const t0 = it && it.base ? bySubject.get(it.base) : undefined;
    const t = t0 && (replaced.get(t0) ?? t0);
    if (!t || t0 === n) {
      // the table's own thread (or the dummy that has taken its place) stays a thread
      const keep = replaced.get(n) ?? n;
      if (!out.includes(keep)) out.push(keep);
      continue;
    }
    if (!t.item && !n.item) {
      for (const c of n.children) { c.parent = t; t.children.push(c); }
    } else if (!t.item) {
      link(t, n);
    } else if (!t.item.reply && n.item?.reply) {
      link(t, n);
    } else {
      // neither holds the other: both under a new dummy, which takes the table one's place
      const d: Node = { item: null, parent: null, children: [] };
      const at = out.indexOf(t);
      t.parent = d;
      d.children.push(t);
      link(d, n);
      replaced.set(t0!, d);
      if (at >= 0) out[at] = d; // else the table's thread is still to come, and d goes out then
    }
  }
  // (6) threads by the date of their first message, children by date
  out.forEach(sortTree);
  return out.sort(byDate);
}

// RFC 5256 §3 THREAD / UID THREAD: the messages SEARCH would find, as threads.
export const thread: ImapCommand<'THREAD'> = {
  states: ['selected'],
  noExpunge: true,
  async run(s, cmd) {
    const sel = s.selected!;
    const { algorithm } = cmd;
    checkCharset(cmd.charset);
    const found = await runSearch(s, sel, cmd.key);
    const items: Item[] = [];
    let n = 0;
    for (const m of found) {
      if (++n % 200 === 0) await new Promise((res) => setImmediate(res)); // other sessions take turns
      try {
        const tree = (await s.ctx.store.messages.meta(m.r.blobId)).mime as MimeTree;
        const env = tree.envelope;
        const { base, reply } = subjectInfo(env.subject);
        let refs: string[] = [];
        if (algorithm === 'REFERENCES') {
          // References, or else the first Message-ID of In-Reply-To
          const raw = await s.ctx.store.messages.raw(m.r.blobId);
          const h = headerFieldValues(raw, tree.root).find((f) => f.name === 'references');
          refs = (h?.value.match(MSGID) ?? []).slice(-MAX_REFS);
          if (!refs.length && env.inReplyTo) refs = (env.inReplyTo.match(MSGID) ?? []).slice(0, 1);
        }
        const messageId = env.messageId?.match(MSGID)?.[0] ?? null;
        items.push({ num: cmd.uid ? m.r.uid : m.seq, seq: m.seq, date: sentDate(tree, m.r.internalDate), base, reply, messageId, refs });
      } catch {
        // expunged under us
      }
    }
    let line: string;
    try {
      const roots = algorithm === 'REFERENCES' ? references(items) : orderedSubject(items);
      line = `* THREAD${roots.length ? ' ' + roots.map((r) => `(${render(r)})`).join('') : ''}`;
    } catch (err) {
      // render() nests at every branching: a thread branching thousands of levels deep is refused
      if (err instanceof RangeError) throw new ImapNo('LIMIT', 'threads nested too deeply');
      throw err;
    }
    s.send(line);
    return 'THREAD completed';
  },
};
