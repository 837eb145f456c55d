// FETCH's arguments: the items and the modifiers (RFC 3501 §6.4.5 and §9 fetch, RFC 3516 §4 BINARY,
// RFC 7162 §3.1.4 CHANGEDSINCE and §3.2.6 VANISHED).
import { parseSection } from '../render.js';
import type { ArgsOf, FetchItem, FetchSimple } from '../types.js';
import { ImapBad } from '../wire.js';
import type { Args } from './args.js';

const SIMPLE: FetchSimple[] = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'PREVIEW'];

// RFC 3501 §9: fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")")
const MACROS: Record<string, FetchSimple[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** RFC 3501 §9 fetch-att (section, partial), RFC 3516 §4 "BINARY" [".PEEK"] section-binary [partial], "BINARY.SIZE" section-binary. */
export function fetchItem(text: string): FetchItem {
  const u = text.toUpperCase();
  if ((SIMPLE as string[]).includes(u)) return { k: u as FetchSimple };
  const m = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](?:<(\d{1,15})(?:\.(\d{1,15}))?>)?$/i.exec(text);
  if (!m) throw new ImapBad(`unknown fetch item ${text.slice(0, 60)}`);
  const kind = m[1].toUpperCase();
  const binary = kind.startsWith('BINARY');
  const section = parseSection(m[2]);
  if (binary && section.kind !== '') throw new ImapBad('BINARY takes part numbers only');
  const sizeOnly = kind === 'BINARY.SIZE';
  if (sizeOnly && m[3] !== undefined) throw new ImapBad('BINARY.SIZE takes no partial');
  const partial: [number, number | null] | null = m[3] !== undefined ? [Number(m[3]), m[4] !== undefined ? Number(m[4]) : null] : null;
  const name = sizeOnly ? 'BINARY.SIZE' : binary ? 'BINARY' : 'BODY';
  const label = `${name}[${binary ? section.path.join('.') : section.label}]${partial ? `<${partial[0]}>` : ''}`;
  return { k: 'SECTION', peek: kind.endsWith('.PEEK'), binary, sizeOnly, section, partial, label };
}

/**
 * RFC 8970 §6 fetch-att =/ "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod =
 * "LAZY". LAZY lets the server answer NIL when a preview is not at hand; ours always is, so it
 * changes nothing.
 */
function previewMods(l: Args): void {
  if (l.done) throw new ImapBad('empty PREVIEW modifier list');
  while (!l.done) {
    const m = l.atom('PREVIEW modifier').toUpperCase();
    if (m !== 'LAZY') throw new ImapBad(`unknown PREVIEW modifier ${m.slice(0, 40)}`);
  }
}

/** RFC 3501 §9 fetch (after "FETCH"), RFC 7162 §3.1.4.1 fetch-modifier "CHANGEDSINCE", §3.2.6 "VANISHED". */
export function fetchArgs(a: Args, uid: boolean): ArgsOf<'FETCH'> {
  const set = a.seqSet();
  let items: FetchItem[];
  const macro = !a.isList() && a.peek()?.t === 'atom' ? MACROS[(a.peek() as { v: string }).v.toUpperCase()] : undefined;
  if (macro) { a.next('fetch items'); items = macro.map((k) => ({ k })); }
  else if (a.isList()) {
    const l = a.list('fetch items');
    if (l.done) throw new ImapBad('empty fetch item list');
    items = [];
    while (!l.done) {
      const item = fetchItem(l.atom('fetch item'));
      if (item.k === 'PREVIEW' && l.isList()) previewMods(l.list('PREVIEW modifiers'));
      items.push(item);
    }
  } else {
    items = [fetchItem(a.atom('fetch items'))];
    // "FETCH 1 PREVIEW (LAZY)": the list is PREVIEW's when it starts with a preview-mod
    const next = a.peek();
    if (items[0].k === 'PREVIEW' && next?.t === 'list' && next.v[0]?.t === 'atom' && next.v[0].v.toUpperCase() === 'LAZY') previewMods(a.list('PREVIEW modifiers'));
  }
  let changedSince: number | null = null;
  let vanished = false;
  if (!a.done) {
    const mods = a.list('fetch modifiers');
    while (!mods.done) {
      const m = mods.atom('fetch modifier').toUpperCase();
      if (m === 'CHANGEDSINCE') changedSince = mods.number('mod-sequence');
      else if (m === 'VANISHED') vanished = true;
      else throw new ImapBad(`unknown fetch modifier ${m.slice(0, 40)}`);
    }
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with CHANGEDSINCE (the session checks QRESYNC)
    if (vanished && (!uid || changedSince === null)) throw new ImapBad('VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE');
    a.end();
  }
  return { verb: 'FETCH', uid, set, items, changedSince, vanished };
}
