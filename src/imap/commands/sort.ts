import { decodeMimeWords, type Address, type MimeTree } from '../../mail/mime.js';
import type { ImapCommand } from '../types.js';
import { checkCharset, headerDate, orderedSet } from '../wire.js';
import { runSearch, type Msg } from './search.js';


/**
 * RFC 5256 §2.1 base subject: encoded words decoded, white space folded, "Re:"/"Fw:"/"Fwd:"
 * leaders, "[blob]" prefixes, "(fwd)" trailers and a "[fwd: ...]" wrapper removed; then compared
 * case-insensitively (an approximation of i;unicode-casemap: NFKD, upper case). `reply`: a leader,
 * trailer or wrapper was removed (§4 REFERENCES step 5 treats the message as a reply or forward).
 */
export function subjectInfo(subject: string | null): { base: string; reply: boolean } {
  let s = decodeMimeWords(subject ?? '').replace(/[\t\r\n ]+/g, ' ');
  let reply = false;
  for (;;) {
    // (2) trailing "(fwd)" and white space
    for (;;) {
      const t = s.replace(/ +$/, '');
      const u = /\(fwd\)$/i.test(t) ? t.slice(0, -5) : t;
      if (u.length < t.length) reply = true;
      if (u === s) break;
      s = u;
    }
    // (3) leaders "*[blob] re|fw|fwd *WSP [blob] :", (4) a "[blob]" prefix if text remains; (5) repeat
    for (;;) {
      const space = /^ +/.exec(s);
      if (space) { s = s.slice(space[0].length); continue; }
      const lead = /^(?:\[[^[\]]*\] *)*(?:re|fwd?) *(?:\[[^[\]]*\] *)?:/i.exec(s);
      if (lead) { s = s.slice(lead[0].length); reply = true; continue; }
      const blob = /^\[[^[\]]*\] */.exec(s);
      if (blob && s.length > blob[0].length) { s = s.slice(blob[0].length); continue; }
      break;
    }
    // (6) "[fwd: subject]": unwrap and start again at (2)
    const fwd = /^\[fwd:(.*)\]$/i.exec(s);
    if (!fwd) break;
    s = fwd[1];
    reply = true;
  }
  return { base: s.normalize('NFKD').toUpperCase(), reply };
}

export function baseSubject(subject: string | null): string {
  return subjectInfo(subject).base;
}

/**
 * RFC 5256 §3: the addr-mailbox of the first address, for FROM/TO/CC. A group's first entry is
 * its name (as in ENVELOPE), so "undisclosed-recipients:;" sorts by that name, as Dovecot does.
 */
function firstMailbox(list: Address[] | null): string {
  const a = list?.[0];
  return a?.mailbox ? decodeMimeWords(a.mailbox).normalize('NFKD').toUpperCase() : '';
}

/**
 * RFC 5957 §3 DISPLAYFROM / DISPLAYTO: the first address's display name (RFC 2047 words decoded),
 * or, without one, its addr-spec; a group (RFC 5322 §3.4, host NIL in ENVELOPE) is shown by its
 * name. Compared like the other keys (i;unicode-casemap approximated: NFKD, upper case).
 */
function displayAddress(list: Address[] | null): string {
  const a = list?.[0];
  if (!a) return '';
  const name = a.name ? decodeMimeWords(a.name).trim() : '';
  const spec = a.host === null ? a.mailbox ?? '' : a.mailbox ? (a.host ? `${a.mailbox}@${a.host}` : a.mailbox) : '';
  return (name || spec).normalize('NFKD').toUpperCase();
}

/** RFC 5256 §2.2 sent date: the Date: header, or INTERNALDATE when it is missing or unparseable. */
export function sentDate(tree: MimeTree, internal: number): number {
  const t = headerDate(tree.envelope.date);
  return Number.isNaN(t) ? internal : t;
}

const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

// RFC 5256 §3 SORT / UID SORT: the messages SEARCH would find, in the order of the criteria
// (REVERSE flips the one after it); ties in sequence order.
export const sort: ImapCommand<'SORT'> = {
  states: ['selected'],
  noExpunge: true,
  async run(s, cmd) {
    const sel = s.selected!;
    const { criteria } = cmd;
    checkCharset(cmd.charset);
    const found = await runSearch(s, sel, cmd.key);

    const needMeta = criteria.some((c) => c.key !== 'ARRIVAL' && c.key !== 'SIZE');
    const rows: { m: Msg; v: (string | number)[] }[] = [];
    let n = 0;
    for (const m of found) {
      if (needMeta && ++n % 200 === 0) await new Promise((res) => setImmediate(res)); // other sessions take turns
      let tree: MimeTree | null = null;
      if (needMeta) {
        try {
          tree = (await s.ctx.store.messages.meta(m.r.blobId)).mime as MimeTree;
        } catch {
          continue; // expunged under us
        }
      }
      const env = tree?.envelope;
      rows.push({
        m,
        v: criteria.map(({ key }) => {
          switch (key) {
            case 'ARRIVAL': return m.r.internalDate;
            case 'SIZE': return m.r.size;
            case 'DATE': return sentDate(tree!, m.r.internalDate);
            case 'SUBJECT': return baseSubject(env!.subject);
            case 'FROM': return firstMailbox(env!.from);
            case 'TO': return firstMailbox(env!.to);
            case 'CC': return firstMailbox(env!.cc);
            case 'DISPLAYFROM': return displayAddress(env!.from);
            case 'DISPLAYTO': return displayAddress(env!.to);
          }
        }),
      });
    }
    rows.sort((a, b) => {
      for (let i = 0; i < criteria.length; i++) {
        const c = cmp(a.v[i], b.v[i]);
        if (c) return criteria[i].reverse ? -c : c;
      }
      return a.m.seq - b.m.seq;
    });
    const nums = rows.map((r) => (cmd.uid ? r.m.r.uid : r.m.seq));
    if (cmd.ret) {
      // RFC 5267 §3.1 ESORT: an ESEARCH response (RFC 4731 §3.1) where MIN and MAX are the first and
      // last message in sort order and ALL keeps that order (ranges only for ascending runs)
      let line = `* ESEARCH (TAG "${cmd.tag.replace(/["\\]/g, '')}")${cmd.uid ? ' UID' : ''}`;
      if (nums.length) {
        if (cmd.ret.includes('MIN')) line += ` MIN ${nums[0]}`;
        if (cmd.ret.includes('MAX')) line += ` MAX ${nums[nums.length - 1]}`;
        if (cmd.ret.includes('ALL')) line += ` ALL ${orderedSet(nums)}`;
      }
      if (cmd.ret.includes('COUNT')) line += ` COUNT ${nums.length}`;
      s.send(line);
    } else s.send(`* SORT${nums.length ? ' ' + nums.join(' ') : ''}`);
    return 'SORT completed';
  },
};
