import type { MimeTree } from '../../mail/mime.js';
import type { AccessStep, MessageRecord } from '../../store/index.js';
import type { Token } from '../parser.js';
import { binaryBytes, parseSection, renderedItem, sectionBytes, type Section } from '../render.js';
import type { ImapCommand, ImapSession } from '../session.js';
import { compactSet, formatDateTime, ImapBad, inSet, parseSeqSet, resolveStar, tokAtom, tokList, tokNumber } from '../wire.js';
import { clientFlags, records, resolveSet, selected, type Target } from './util.js';

type Simple = 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'UID' | 'MODSEQ' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT';
const SIMPLE: Simple[] = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT'];

type Item =
  | { k: Simple }
  | { k: 'SECTION'; peek: boolean; binary: boolean; sizeOnly: boolean; section: Section; partial: [number, number | null] | null; label: string };

const MACROS: Record<string, Simple[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** RFC 3501 §6.4.5 fetch-att, RFC 3516 §4 BINARY[...], BINARY.SIZE[...]. */
export function parseItem(text: string): Item {
  const u = text.toUpperCase();
  if ((SIMPLE as string[]).includes(u)) return { k: u as Simple };
  const m = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](?:<(\d{1,15})(?:\.(\d{1,15}))?>)?$/i.exec(text);
  if (!m) throw new ImapBad(`unknown fetch item ${text.slice(0, 60)}`);
  const kind = m[1].toUpperCase();
  const binary = kind.startsWith('BINARY');
  const section = parseSection(m[2]);
  if (binary && section.kind !== '') throw new ImapBad('BINARY takes part numbers only');
  const sizeOnly = kind === 'BINARY.SIZE';
  if (sizeOnly && m[3] !== undefined) throw new ImapBad('BINARY.SIZE takes no partial');
  const partial: [number, number | null] | null = m[3] !== undefined ? [Number(m[3]), m[4] !== undefined ? Number(m[4]) : null] : null;
  if (partial && partial[1] === 0 && false) throw new ImapBad('invalid partial');
  const name = sizeOnly ? 'BINARY.SIZE' : binary ? 'BINARY' : 'BODY';
  const label = `${name}[${binary ? section.path.join('.') : section.label}]${partial ? `<${partial[0]}>` : ''}`;
  return { k: 'SECTION', peek: kind.endsWith('.PEEK'), binary, sizeOnly, section, partial, label };
}

function parseItems(t: Token | undefined): Item[] {
  if (!t) throw new ImapBad('missing fetch items');
  if (t.t === 'atom' && MACROS[t.v.toUpperCase()]) return MACROS[t.v.toUpperCase()].map((k) => ({ k }));
  const list = t.t === 'list' ? t.v : [t];
  if (!list.length) throw new ImapBad('empty fetch item list');
  return list.map((x) => parseItem(tokAtom(x, 'fetch item')));
}

/** does this item return (part of) the body, and does it set \Seen? */
function bodyItem(i: Item): { body: boolean; seen: boolean } {
  if (i.k === 'RFC822' || i.k === 'RFC822.TEXT') return { body: true, seen: true };
  if (i.k !== 'SECTION') return { body: false, seen: false };
  const headerOnly = i.section.kind === 'HEADER' || i.section.kind === 'HEADER.FIELDS' || i.section.kind === 'HEADER.FIELDS.NOT' || i.section.kind === 'MIME';
  return { body: !headerOnly && !i.sizeOnly, seen: !i.peek && !i.sizeOnly };
}

function literal(s: ImapSession, b: Buffer, binary: boolean): void {
  s.write(`${binary && b.includes(0) ? '~' : ''}{${b.length}}\r\n`);
  s.write(b);
}

// RFC 3501 §6.4.5 FETCH (and §6.4.8 UID FETCH), RFC 7162 §3.1.4 CHANGEDSINCE, §3.2.6 VANISHED.
export const fetch: ImapCommand = {
  states: ['selected'],
  noExpunge: true,
  async run(s, cmd) {
    const sel = selected(s);
    const a = cmd.args;
    const setText = tokAtom(a[0], 'sequence set');
    const targetsAll = resolveSet(sel, setText, cmd.uid, s.searchRes);
    const items = parseItems(a[1]);
    let changedSince: number | null = null;
    let vanished = false;
    if (a[2]) {
      const mods = tokList(a[2], 'fetch modifiers');
      for (let i = 0; i < mods.length; i++) {
        const m = tokAtom(mods[i], 'fetch modifier').toUpperCase();
        if (m === 'CHANGEDSINCE') changedSince = tokNumber(mods[++i], 'mod-sequence');
        else if (m === 'VANISHED') vanished = true;
        else throw new ImapBad(`unknown fetch modifier ${m}`);
      }
      if (vanished && (!cmd.uid || !s.enabled.has('QRESYNC') || changedSince === null)) throw new ImapBad('VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE');
      if (a.length > 3) throw new ImapBad('too many arguments');
    }
    if (changedSince !== null) s.condstore = true;
    if (items.some((i) => i.k === 'MODSEQ')) s.condstore = true;
    // RFC 3501 §6.4.8 UID FETCH always returns UID; RFC 7162 §3.2.4 so does every FETCH under QRESYNC
    if ((cmd.uid || s.enabled.has('QRESYNC')) && !items.some((i) => i.k === 'UID')) items.unshift({ k: 'UID' });
    if (changedSince !== null && !items.some((i) => i.k === 'MODSEQ')) items.push({ k: 'MODSEQ' });
    if (vanished && changedSince !== null) {
      const saved = new Set(s.searchRes);
      const set = setText === '$' ? null : resolveStar(parseSeqSet(setText), Number.MAX_SAFE_INTEGER);
      const gone = (await s.ctx.store.messages.expungedSince(sel.mailbox.id, changedSince)).filter((u) => (set ? inSet(set, u) : saved.has(u)));
      if (gone.length) s.send(`* VANISHED (EARLIER) ${compactSet(gone)}`);
    }
    if (!targetsAll.length) return 'FETCH completed';
    const recs = await records(s, sel, targetsAll);
    let targets: Target[] = targetsAll;
    if (changedSince !== null) targets = targets.filter((t) => (recs.get(t.uid)?.modseq ?? 0) > changedSince!);

    // the parsed structure is needed for ENVELOPE/BODY(STRUCTURE) and for parts of the message, not for all of it
    const needMeta = items.some((i) => i.k === 'ENVELOPE' || i.k === 'BODY' || i.k === 'BODYSTRUCTURE' ||
      i.k === 'RFC822.HEADER' || i.k === 'RFC822.TEXT' || (i.k === 'SECTION' && (i.section.path.length > 0 || i.section.kind !== '')));
    const needRaw = items.some((i) => i.k === 'SECTION' || i.k.startsWith('RFC822') && i.k !== 'RFC822.SIZE');
    const kinds = items.map(bodyItem);
    const setsSeen = !sel.readOnly && kinds.some((k) => k.seen);
    const isBodyFetch = kinds.some((k) => k.body);

    // §6.4.5: BODY[...] without .PEEK sets \Seen; the FETCH then includes the new FLAGS
    // (records are shared and read-only: a message whose flags change here gets a copy)
    const seenNow = new Set<number>();
    if (setsSeen) {
      const unseen = targets.filter((t) => { const r = recs.get(t.uid); return r && !r.flags.includes('\\Seen'); }).map((t) => t.uid);
      if (unseen.length) {
        const res = await s.ctx.store.messages.setFlags(sel.mailbox.id, unseen, 'add', ['\\Seen'], { origin: s });
        for (const c of res.changed) {
          const r = recs.get(c.uid);
          if (r) recs.set(c.uid, { ...r, flags: c.flags, modseq: c.modseq });
          seenNow.add(c.uid);
        }
      }
    }

    const journey: AccessStep[] = [];
    let missing = 0;
    for (const t of targets) {
      const r = recs.get(t.uid);
      if (!r) { missing++; continue; }
      let tree: MimeTree | null = null;
      let raw: Buffer | null = null;
      try {
        if (needMeta) tree = (await s.ctx.store.messages.meta(r.blobId)).mime as MimeTree;
        if (needRaw) raw = await s.ctx.store.messages.raw(r.blobId);
      } catch {
        missing++;
        continue; // expunged under us: the bytes are gone
      }
      s.write(`* ${t.seq} FETCH (`);
      let flagsSent = false;
      for (let i = 0; i < items.length; i++) {
        if (i > 0) s.write(' ');
        writeItem(s, sel, items[i], r, tree, raw);
        if (items[i].k === 'FLAGS') flagsSent = true;
      }
      if (seenNow.has(r.uid) && !flagsSent) s.write(` FLAGS ${clientFlags(s, sel, r)}`);
      // RFC 7162 §3.1.4: an implicit flag change reports its MODSEQ when CONDSTORE is on
      if (seenNow.has(r.uid) && s.condstore && !items.some((i) => i.k === 'MODSEQ')) s.write(` MODSEQ (${r.modseq})`);
      s.write(')\r\n');
      const flushing = s.maybeFlush();
      if (flushing) await flushing;
      if (isBodyFetch && r.msgId) {
        // the session remembers what it has recorded (up to a bound; the store ignores repeats anyway)
        const key = sel.mailbox.id * 2 ** 32 + r.uid;
        if (!s.fetchedBodies.has(key)) {
          if (s.fetchedBodies.size < 100_000) s.fetchedBodies.add(key);
          journey.push({ msgId: r.msgId, uid: r.uid, mailbox: sel.mailbox.name });
        }
      }
    }
    if (journey.length) s.recordFetched(journey);
    return missing ? 'FETCH completed (some messages were expunged)' : 'FETCH completed';
  },
};

function writeItem(s: ImapSession, sel: NonNullable<ImapSession['selected']>, it: Item, r: MessageRecord, tree: MimeTree | null, raw: Buffer | null): void {
  switch (it.k) {
    case 'UID': s.write(`UID ${r.uid}`); return;
    case 'FLAGS': s.write(`FLAGS ${clientFlags(s, sel, r)}`); return;
    case 'INTERNALDATE': s.write(`INTERNALDATE ${formatDateTime(r.internalDate)}`); return;
    case 'RFC822.SIZE': s.write(`RFC822.SIZE ${r.size}`); return;
    case 'MODSEQ': s.write(`MODSEQ (${r.modseq})`); return;
    case 'ENVELOPE': s.write('ENVELOPE '); s.write(renderedItem(tree!, it.k)); return;
    case 'BODY': s.write('BODY '); s.write(renderedItem(tree!, it.k)); return;
    case 'BODYSTRUCTURE': s.write('BODYSTRUCTURE '); s.write(renderedItem(tree!, it.k)); return;
    case 'RFC822': s.write('RFC822 '); literal(s, raw!, false); return;
    case 'RFC822.HEADER': {
      const root = tree ? tree.root : null;
      s.write('RFC822.HEADER ');
      literal(s, root ? raw!.subarray(root.headerStart, root.bodyStart) : headerOf(raw!), false);
      return;
    }
    case 'RFC822.TEXT': {
      const root = tree ? tree.root : null;
      s.write('RFC822.TEXT ');
      literal(s, root ? raw!.subarray(root.bodyStart) : raw!.subarray(headerOf(raw!).length), false);
      return;
    }
    case 'SECTION': {
      let bytes: Buffer | null;
      if (!tree) bytes = raw!; // BODY[] / BINARY[]: the whole message, no structure needed
      else if (it.binary) bytes = binaryBytes(raw!, tree, it.section.path);
      else bytes = sectionBytes(raw!, tree, it.section);
      if (it.sizeOnly) { s.write(`${it.label} ${bytes ? bytes.length : 0}`); return; }
      s.write(`${it.label} `);
      if (!bytes) bytes = Buffer.alloc(0); // a part that does not exist is empty (as Dovecot answers)
      if (it.partial) {
        const [o, l] = it.partial;
        bytes = o >= bytes.length ? Buffer.alloc(0) : bytes.subarray(o, l === null ? undefined : o + l);
      }
      literal(s, bytes, it.binary);
    }
  }
}

function headerOf(raw: Buffer): Buffer {
  const i = raw.indexOf('\r\n\r\n');
  return i >= 0 ? raw.subarray(0, i + 4) : raw;
}
