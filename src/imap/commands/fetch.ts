import type { MimeTree } from '../../mail/mime.js';
import { announceKeywords, noteReported } from '../flag-report.js';
import { preview } from '../preview.js';
import type { AccessStep, MessageRecord } from '../../store/index.js';
import { binaryBytes, renderedItem, sectionBytes } from '../render.js';
import type { FetchItem, ImapCommand, ImapSession } from '../types.js';
import { compactSet, formatDateTime, ImapBad, inSet, resolveStar, str } from '../wire.js';
import { clientFlags, recordChunks, resolveSet, selected, type Target } from './util.js';

type Item = FetchItem;

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

/** a FETCH of at least half of a mailbox up to this size reads the mailbox's list (see fetchRecords) */
const SHARED_LIST_MAX = 50_000;

/**
 * The records of the messages to fetch. A FETCH of most of a small mailbox (1:*, the common case)
 * takes the mailbox's list, which the store keeps (fresh by HIGHESTMODSEQ) and shares between
 * sessions: eight clients fetching one mailbox read it once, where messages.some reads every
 * record again for each FETCH. Otherwise the targets' records are read a chunk at a time
 * (recordChunks), and each chunk is answered before the next is read: a FETCH 1:* of a
 * million-message mailbox holds one chunk of records, not a million.
 * Either way a message expunged meanwhile has no record (the caller counts it as missing).
 */
async function* fetchRecords(s: ImapSession, sel: NonNullable<ImapSession['selected']>, targets: Target[]): AsyncGenerator<{ targets: Target[]; recs: Map<number, MessageRecord> }> {
  const n = sel.uids.length;
  if (n > SHARED_LIST_MAX || targets.length * 2 < n) {
    yield* recordChunks(s, sel, targets);
    return;
  }
  const recs = new Map<number, MessageRecord>();
  for (const r of await s.ctx.store.messages.list(sel.mailbox.id)) recs.set(r.uid, r);
  yield { targets, recs };
}

// RFC 3501 §6.4.5 FETCH (and §6.4.8 UID FETCH), RFC 7162 §3.1.4 CHANGEDSINCE, §3.2.6 VANISHED.
export const fetch: ImapCommand<'FETCH'> = {
  states: ['selected'],
  noExpunge: true,
  async run(s, cmd) {
    const sel = selected(s);
    const targetsAll = resolveSet(sel, cmd.set, cmd.uid, s.searchRes);
    const items = [...cmd.items];
    const { changedSince, vanished } = cmd;
    // RFC 7162 §3.2.6: VANISHED once QRESYNC is enabled (the grammar checked UID and CHANGEDSINCE)
    if (vanished && !s.enabled.has('QRESYNC')) throw new ImapBad('VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE');
    // RFC 3501 §6.4.8 UID FETCH always returns UID; RFC 7162 §3.2.4 so does every FETCH under QRESYNC
    if ((cmd.uid || s.enabled.has('QRESYNC')) && !items.some((i) => i.k === 'UID')) items.unshift({ k: 'UID' });
    if (changedSince !== null && !items.some((i) => i.k === 'MODSEQ')) items.push({ k: 'MODSEQ' });
    if (vanished && changedSince !== null) {
      const saved = new Set(s.searchRes);
      const set = cmd.set.saved ? null : resolveStar(cmd.set.set, Number.MAX_SAFE_INTEGER);
      const gone = (await s.ctx.store.messages.expungedSince(sel.mailbox.id, changedSince)).filter((u) => (set ? inSet(set, u) : saved.has(u)));
      if (gone.length) s.send(`* VANISHED (EARLIER) ${compactSet(gone)}`);
    }
    if (!targetsAll.length) return 'FETCH completed';

    // the parsed structure is needed for ENVELOPE/BODY(STRUCTURE) and for parts of the message, not for all of it
    const needMeta = items.some((i) => i.k === 'ENVELOPE' || i.k === 'BODY' || i.k === 'BODYSTRUCTURE' || i.k === 'PREVIEW' ||
      i.k === 'RFC822.HEADER' || i.k === 'RFC822.TEXT' || (i.k === 'SECTION' && (i.section.path.length > 0 || i.section.kind !== '')));
    const needRaw = items.some((i) => i.k === 'SECTION' || i.k === 'PREVIEW' || i.k.startsWith('RFC822') && i.k !== 'RFC822.SIZE');
    const kinds = items.map(bodyItem);
    const setsSeen = !sel.readOnly && kinds.some((k) => k.seen);
    const isBodyFetch = kinds.some((k) => k.body);
    const journey: AccessStep[] = [];
    let missing = 0;

    for await (const chunk of fetchRecords(s, sel, targetsAll)) {
      const recs = chunk.recs;
      let targets: Target[] = chunk.targets;
      if (changedSince !== null) targets = targets.filter((t) => (recs.get(t.uid)?.modseq ?? 0) > changedSince!);
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
        const showsFlags = seenNow.has(r.uid) || items.some((i) => i.k === 'FLAGS');
        // RFC 3501 §7.2.6: a keyword new to the client is announced before the FETCH shows it
        if (showsFlags) announceKeywords((l) => s.send(l), sel, r.flags);
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
        if (showsFlags) noteReported(sel, r.uid, r.modseq);
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
    // RFC 8970 §3 PREVIEW nstring: UTF-8 text, a literal when it is not plain ASCII
    case 'PREVIEW': s.write(`PREVIEW ${str(preview(raw!, tree!))}`); return;
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
