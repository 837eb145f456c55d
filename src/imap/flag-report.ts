// What the client of a selected mailbox has been told about flags, so that every untagged
// FETCH FLAGS it gets is announced and in order:
// - RFC 3501 §7.2.6: the FLAGS response lists the flags the mailbox uses; a keyword a message
//   gains must be announced in an untagged FLAGS (and PERMANENTFLAGS, §7.1) before a FETCH shows
//   it, or the client does not know the keyword exists.
// - RFC 7162 §3.1.3, §3.1.4: a message's MODSEQ only grows, and the FLAGS reported with it are its
//   state at that MODSEQ. A change another session made is queued; if this client has already seen
//   the message at a newer MODSEQ (its own STORE or FETCH came later), the queued report is stale
//   and sending it would roll the client's flags back.
// Pure helpers over the session's view; the session and the commands call them.

/** RFC 3501 §2.3.2 system flags (\Recent is not permanent and never stored) */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** The part of the selected-mailbox state these helpers keep. */
export interface FlagView {
  readOnly: boolean;
  /** keywords announced in FLAGS/PERMANENTFLAGS since SELECT */
  keywords: Set<string>;
  /** UID -> the highest MODSEQ at which the client was shown the message's flags */
  reported: Map<number, number>;
}

/** RFC 3501 §7.2.6 FLAGS and §7.1 PERMANENTFLAGS for the keywords known so far. */
export function flagsLines(keywords: Iterable<string>, readOnly: boolean): string[] {
  const flags = [...SYSTEM_FLAGS, ...keywords].join(' ');
  return [
    `* FLAGS (${flags})`,
    `* OK [PERMANENTFLAGS (${readOnly ? '' : flags + ' \\*'})] ${readOnly ? 'read-only' : 'flags permitted'}`,
  ];
}

/**
 * Before a FETCH that shows `flags`: announce any keyword among them the client has not been
 * told of (RFC 3501 §7.2.6). Lines go out through `send`, ahead of the FETCH.
 */
export function announceKeywords(send: (line: string) => void, view: FlagView, flags: readonly string[]): void {
  let fresh = false;
  for (const f of flags) {
    if (f.charCodeAt(0) === 0x5c /* \ */ || view.keywords.has(f)) continue;
    view.keywords.add(f);
    fresh = true;
  }
  if (fresh) for (const line of flagsLines(view.keywords, view.readOnly)) send(line);
}

/** Has the client already seen this message's flags at `modseq` or later? (then a report is stale) */
export function staleReport(view: FlagView, uid: number, modseq: number): boolean {
  const seen = view.reported.get(uid);
  return seen !== undefined && modseq <= seen;
}

/**
 * what `reported` may hold: past it the memory is given up (a FETCH 1:* FLAGS of a million messages
 * would keep a million entries). Forgetting is safe: a queued change is reported with the message's
 * flags and MODSEQ as read when it is sent (updates.ts), never older than what the client saw; it
 * may only repeat them.
 */
const MAX_REPORTED = 100_000;

/** The client was shown the message's flags as of `modseq`. */
export function noteReported(view: FlagView, uid: number, modseq: number): void {
  const seen = view.reported.get(uid);
  if (seen !== undefined && modseq <= seen) return;
  if (seen === undefined && view.reported.size >= MAX_REPORTED) view.reported.clear();
  view.reported.set(uid, modseq);
}
