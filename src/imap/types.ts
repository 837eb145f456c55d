// The shapes shared by the IMAP parser, the session and the command handlers: the typed command
// union the parser builds from bytes (RFC 3501 §9, RFC 9051 §9 and the extensions' grammars), the
// state of a session, and what a handler answers. Handlers import these types, never the session.
import type { FlagOp, MailboxChange, MailboxRecord } from '../store/index.js';
import type { Section } from './render.js';
import type { ImapSession } from './session.js';
import type { UidRanges, UidVector } from './uid-vector.js';
import type { SeqSet } from './wire.js';

/** RFC 3501 §3: not authenticated -> authenticated <-> selected -> logout. */
export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** RFC 3501 §9 sequence-set / uid-set ("*" kept as Infinity), or RFC 5182 §2.1 "$", the saved result. */
export type SeqArg = { saved: true } | { saved: false; set: SeqSet };

// ------------------------------------------------------------------ FETCH (grammar/fetch.ts)

export type FetchSimple = 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'UID' | 'MODSEQ' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' | 'PREVIEW';

/** RFC 3501 §6.4.5 fetch-att, RFC 3516 §4 BINARY[...] / BINARY.SIZE[...], RFC 7162 §3.1.4.1 MODSEQ. */
export type FetchItem =
  | { k: FetchSimple }
  | { k: 'SECTION'; peek: boolean; binary: boolean; sizeOnly: boolean; section: Section; partial: [number, number | null] | null; label: string };

// ------------------------------------------------------------------ SEARCH (grammar/search.ts)

/** RFC 3501 §6.4.4 search-key (RFC 9051 §6.4.4), RFC 7162 §3.1.5 MODSEQ; sets are not yet resolved against a mailbox. */
export type SearchKey =
  | { k: 'all' }
  | { k: 'flag'; flag: string; set: boolean }
  | { k: 'new' } | { k: 'old' } | { k: 'recent'; set: boolean }
  | { k: 'not'; a: SearchKey } | { k: 'or'; a: SearchKey; b: SearchKey } | { k: 'and'; keys: SearchKey[] }
  /** a sequence set, or with uid a UID set ("UID 1:*") */
  | { k: 'seq'; set: SeqSet } | { k: 'uid'; set: SeqSet }
  /** RFC 5182 §2.1: "$" (as a sequence set or after UID) */
  | { k: 'saved' }
  | { k: 'size'; larger: boolean; n: number }
  | { k: 'date'; field: 'internal' | 'sent'; op: 'before' | 'on' | 'since'; day: number }
  | { k: 'header'; name: string; value: string }
  /** FROM / TO / CC / BCC: the envelope's addresses (RFC 3501 §6.4.4 "in the envelope structure's ... field") */
  | { k: 'address'; field: 'from' | 'to' | 'cc' | 'bcc'; value: string }
  | { k: 'body'; value: string } | { k: 'text'; value: string }
  | { k: 'modseq'; n: number }
  /** RFC 5032 WITHIN: OLDER / YOUNGER than an interval in seconds, by INTERNALDATE */
  | { k: 'within'; older: boolean; secs: number };

/** RFC 4731 §3.1 search-return-opt, RFC 5182 §2.4 SAVE. */
export type SearchReturn = 'MIN' | 'MAX' | 'COUNT' | 'ALL' | 'SAVE';

/** RFC 5256 §3 sort-key, RFC 5957 §3 DISPLAYFROM / DISPLAYTO. */
export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

/** RFC 3502 §6 append-message (MULTIAPPEND), RFC 4469 §5 CATENATE: the message as one literal or as parts. */
export interface AppendMessage {
  flags: string[];
  date: number | null;
  data:
    /** binary: it came as a literal8 (RFC 3516 §4.3) */
    | { kind: 'literal'; bytes: Buffer; binary: boolean; utf8?: boolean }
    /** RFC 4469 §5 cat-part = "TEXT" SP literal / "URL" SP astring */
    | { kind: 'catenate'; parts: ({ text: Buffer } | { url: string })[] };
}

// ------------------------------------------------------------------ the commands

export interface Qresync { uidValidity: number; modseq: number; known: SeqSet | null }

/** RFC 5258 §3 list-select-opts (upper case; REMOTE is accepted and means nothing here). */
export interface ListSelect { subscribed: boolean; specialUse: boolean; recursiveMatch: boolean; remote: boolean }
/** RFC 5258 §3 list-return-opts, RFC 5819 STATUS, RFC 6154 SPECIAL-USE. */
export interface ListReturn { subscribed: boolean; children: boolean; specialUse: boolean; status: string[] | null }

/** Mailbox names and patterns are as on the wire: modified UTF-7 or UTF-8 is the session's to decide (RFC 9051 §5.1). */
export type ImapArgs =
  | { verb: 'CAPABILITY' } | { verb: 'NOOP' } | { verb: 'LOGOUT' } | { verb: 'STARTTLS' } | { verb: 'NAMESPACE' }
  | { verb: 'IDLE' } | { verb: 'CHECK' } | { verb: 'CLOSE' } | { verb: 'UNSELECT' }
  | { verb: 'LOGIN'; user: string; password: string }
  | { verb: 'AUTHENTICATE'; mechanism: string; initial: string | null }
  | { verb: 'SELECT'; mailbox: string; condstore: boolean; qresync: Qresync | null }
  | { verb: 'EXAMINE'; mailbox: string; condstore: boolean; qresync: Qresync | null }
  | { verb: 'CREATE'; mailbox: string; use: string[] | null }
  | { verb: 'DELETE'; mailbox: string } | { verb: 'SUBSCRIBE'; mailbox: string } | { verb: 'UNSUBSCRIBE'; mailbox: string }
  | { verb: 'GETQUOTAROOT'; mailbox: string }
  | { verb: 'RENAME'; from: string; to: string }
  | { verb: 'LIST'; select: ListSelect | null; reference: string; patterns: string[]; returns: ListReturn | null }
  | { verb: 'LSUB'; reference: string; pattern: string }
  | { verb: 'STATUS'; mailbox: string; items: string[] }
  | { verb: 'APPEND'; mailbox: string; messages: AppendMessage[] }
  | { verb: 'ID'; params: [string, string | null][] | null }
  | { verb: 'ENABLE'; caps: string[] }
  | { verb: 'GETQUOTA'; root: string }
  | { verb: 'COMPRESS'; mechanism: string }
  | { verb: 'EXPUNGE'; uid: boolean; set: SeqArg | null }
  | { verb: 'FETCH'; uid: boolean; set: SeqArg; items: FetchItem[]; changedSince: number | null; vanished: boolean }
  | { verb: 'STORE'; uid: boolean; set: SeqArg; unchangedSince: number | null; op: FlagOp; silent: boolean; flags: string[] }
  | { verb: 'COPY'; uid: boolean; set: SeqArg; mailbox: string }
  | { verb: 'MOVE'; uid: boolean; set: SeqArg; mailbox: string }
  | { verb: 'SEARCH'; uid: boolean; ret: SearchReturn[] | null; charset: string | null; key: SearchKey }
  | { verb: 'SORT'; uid: boolean; ret: SearchReturn[] | null; criteria: { key: SortKey; reverse: boolean }[]; charset: string; key: SearchKey }
  | { verb: 'THREAD'; uid: boolean; algorithm: 'ORDEREDSUBJECT' | 'REFERENCES'; charset: string; key: SearchKey };

export type ImapVerb = ImapArgs['verb'];

/** A whole command: its tag and its typed arguments. */
export type ImapCmd = ImapArgs & { tag: string };
export type CmdOf<V extends ImapVerb> = Extract<ImapCmd, { verb: V }>;
export type ArgsOf<V extends ImapVerb> = Extract<ImapArgs, { verb: V }>;

/** The selected mailbox as this session knows it: its view of sequence numbers. */
export interface Selected {
  mailbox: MailboxRecord;
  readOnly: boolean;
  /** UIDs in sequence order: seq n is uids.at(n - 1) (uid-vector.ts) */
  uids: UidVector;
  /** the \Recent messages this session holds (RFC 3501 §2.3.2) */
  recent: UidRanges;
  /** changes other sessions made, not yet reported (updates.ts) */
  pending: MailboxChange[];
  gone: boolean;
  /** keywords announced in FLAGS/PERMANENTFLAGS since SELECT (flag-report.ts, RFC 3501 §7.2.6) */
  keywords: Set<string>;
  /** UID -> the highest MODSEQ at which the client was shown the message's flags (flag-report.ts) */
  reported: Map<number, number>;
}

// ------------------------------------------------------------------ what a handler answers

/** What the session does once the tagged reply is written (RFC 3501 §6.2.1, §6.1.3; RFC 4978 §3). */
export type After = 'starttls' | 'compress' | 'bye' | 'logout';

/** The text of the tagged OK (may start with "[CODE] "), and what follows it. */
export type ImapReply = string | { text: string; after?: After };

export interface ImapCommand<V extends ImapVerb = ImapVerb> {
  /** states in which the command is valid (RFC 3501 §6); elsewhere the session answers BAD */
  states: SessionState[];
  /** RFC 3501 §7.4.1: no EXPUNGE responses while FETCH, STORE or SEARCH (not UID ...) runs */
  noExpunge?: boolean;
  run(s: ImapSession, cmd: CmdOf<V>): Promise<ImapReply>;
}

export type { ImapSession };
