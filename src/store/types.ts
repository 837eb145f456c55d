// The store interface: the only way into the mailbox store, the queue and the journey.
// Every call returns a Promise so that a second backend (PostgreSQL, several nodes)
// can serve it asynchronously; the protocols never see SQL.
import type { EventEmitter } from 'node:events';

export interface UserRecord { id: number; address: string; domain: string; created: number; /** may sign in to the dashboard's admin pages */ admin: boolean }
export interface AliasRecord { source: string; target: string; created: number }
export interface DomainRecord { name: string; created: number; users: number }

export interface MailboxRecord {
  id: number;
  userId: number;
  name: string;               // UTF-8, '/' delimiter, 'INBOX'
  specialUse: string | null;  // '\Sent' ...
  subscribed: boolean;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
}

export interface MailboxStatus extends MailboxRecord {
  messages: number;
  unseen: number;
  recent: number;
  size: number;
  deleted: number;
}

/**
 * What SELECT needs of a mailbox (RFC 3501 §6.3.1), read at one point in time, without a record per
 * message: a million-message mailbox opens from its UID vector and counters.
 */
export interface MailboxView {
  mailbox: MailboxRecord;
  /** every live UID, ascending; shared between sessions (a cache): callers copy it, never change it */
  uids: Uint32Array;
  /** the UID of the first message without \Seen (RFC 3501 §7.1 UNSEEN), 0 when every message is seen */
  firstUnseen: number;
  /** the keywords (flags without a leading backslash) used in this mailbox so far (RFC 3501 §7.2.6 FLAGS) */
  keywords: string[];
  /** how many messages are above the \Recent watermark (not yet taken by a read-write SELECT) */
  recent: number;
}

/** One mailbox copy of a message, as SELECT/FETCH need it (no body). */
export interface MessageRecord {
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: number;  // ms since epoch
  size: number;          // octets of the stored raw bytes (CRLF)
  blobId: number;
  msgId: string | null;  // our transaction id: journey key
}

export type FlagOp = 'set' | 'add' | 'remove';

export interface FlagChange { uid: number; flags: string[]; modseq: number }

/** What the store announces after a commit. */
export type MailboxChange =
  | { mailboxId: number; kind: 'exists'; uids: number[]; modseq: number }
  | { mailboxId: number; kind: 'flags'; changes: FlagChange[]; modseq: number; origin?: unknown }
  | { mailboxId: number; kind: 'expunge'; uids: number[]; modseq: number; origin?: unknown }
  | { mailboxId: number; kind: 'deleted' };

export interface JourneyEvent {
  msgId: string;            // our transaction id
  messageId?: string | null; // Message-ID header
  agent: 'MUA' | 'MTA in' | 'MTA out' | 'MDA' | 'MUA access';
  step: string;
  details?: Record<string, unknown>;
  time?: number;
}
/** The flag states the store keeps a partial index of (messages.flagCandidates). */
export type FlagIndex = 'unseen' | 'deleted' | 'flagged';
/** A reading session (IMAP or POP3) as the journey names it. */
export interface AccessSession { sid: string; user: string; protocol: string; client: string | null }
/** A message a reading session fetched (IMAP) or retrieved (POP3): the "MDA <- MUA" step. */
export interface AccessStep { msgId: string; uid: number; mailbox: string | null; time?: number }

export interface JourneyRow extends Required<Omit<JourneyEvent, 'details'>> { id: number; details: Record<string, unknown> }

/** One message of an import (mbox, Maildir, another IMAP server): stored with its own flags and internal date. */
export interface ImportItem { raw: Buffer; flags: string[]; internalDate: number; /** our id for the journey ("imp-....n") */ msgId: string; /** where it came from, for the journey (a file, a folder, a URL) */ source?: string }
/** What became of one ImportItem: stored, already in the mailbox (same bytes), or refused (unparsable). */
export type ImportOutcome = { uid: number } | { duplicate: true } | { failed: string };

/** A local recipient of a delivery: the user and the mailbox (default INBOX). */
export interface LocalRecipient { userId: number; address: string; rcptTo: string; /** a mailbox name or a special use such as "\\Junk" (default INBOX; INBOX when missing) */ mailbox?: string }

export interface Delivery {
  msgId: string;            // our transaction id, e.g. "k3f9a.1"
  mailFrom: string;         // '' for the null reverse-path
  /** Bytes for local mailboxes (with Received: and Return-Path:) */
  raw: Buffer;
  local: LocalRecipient[];
  /** Remote recipients, queued for relay with these bytes (Received: but no Return-Path:) */
  remote: string[];
  relayRaw?: Buffer;
  /** Kept with the queue entries of the remote recipients (DSN parameters, submitting user) */
  queueData?: QueueData;
  /** a submission by an authenticated user: counted (in the same transaction) for the per-user limits */
  submission?: { userId: number; recipients: number };
  journey: JourneyEvent[];
  internalDate?: number;
  flags?: string[];
}

export interface DeliveryResult {
  stored: { address: string; mailbox: string; uid: number; mailboxId: number }[];
  queued: { id: number; domain: string; rcpts: string[] }[];
  messageId: string | null;
}

/** One message a user submitted (465/587), as the per-user submission limits count it. */
export interface SubmissionRecord { time: number; recipients: number; msgId: string }

export interface QueueRcpt { address: string; status: 'pending' | 'delivered' | 'bounced'; reply?: string }
/** What a queue entry keeps beside its recipients: written by MTA in (Delivery.queueData), read by MTA out. */
export interface QueueData {
  /** the submitting user: its mail is DKIM-signed for a From: domain of ours (absent or null: relayed in) */
  user?: string | null;
  /** RFC 3461 §4.3 RET (FULL | HDRS) and §4.4 ENVID of the transaction */
  ret?: string | null;
  envid?: string | null;
  /** RFC 3461 §4.1 NOTIFY per recipient (absent: the default, FAILURE and DELAY) */
  notify?: Record<string, string[]>;
  /** this entry is a report (DSN) about the message of that id */
  reportFor?: string;
  /** the sender has been sent its one delay warning */
  warned?: boolean;
}
export interface QueueEntry {
  id: number;
  msgId: string;
  blobId: number;
  mailFrom: string;
  domain: string;
  rcpts: QueueRcpt[];
  attempts: number;
  nextAttempt: number;
  lastReply: string | null;
  status: 'queued' | 'delivered' | 'bounced';
  data: QueueData;
  created: number;
  updated: number;
  size: number;
  /** the node that holds the entry (queue.claim) and until when (ms since epoch); null when none does */
  leaseNode?: string | null;
  leaseUntil?: number | null;
}

/** What `queue.reschedule` changes on an entry that stays queued (fields left out keep their value). */
export type QueueReschedule = Partial<Pick<QueueEntry, 'rcpts' | 'attempts' | 'nextAttempt' | 'lastReply' | 'data'>>;
/** How a queue entry ended (`queue.finish`): every recipient delivered or bounced. */
export type QueueOutcome = Pick<QueueEntry, 'rcpts' | 'attempts' | 'lastReply'> & Partial<Pick<QueueEntry, 'data'>>;

/** One line of a protocol session as the learner sees it: C = client, S = server, TLS = the handshake (version, cipher), note = what the server did (e.g. "<4012 bytes of DATA elided>"). */
export interface TranscriptLine { t: number /* ms since epoch */; dir: 'C' | 'S' | 'TLS' | 'note'; text: string }

/** A recorded protocol session (SMTP in and out, IMAP, POP3). Lines are redacted before they reach the store. */
export interface TranscriptSession {
  sid: string;              // the session id of the logs (SMTP: also the prefix of our msgId "sid.n")
  protocol: string;         // smtp | smtps | submission | relay | imap | imaps | pop3 | pop3s
  local: string | null;     // our end, "ip:port"
  remote: string | null;    // the peer, "ip:port" (relay: the remote MX)
  user: string | null;      // the authenticated user, when there is one
  tls: string | null;       // "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up
  started: number;
  ended: number | null;     // null while the session is open
  msgIds: string[];         // our ids of the messages it carried or fetched (the journey's msgId)
}
export interface TranscriptSummary extends TranscriptSession { lines: number; bytes: number }
export interface Transcript extends TranscriptSession { lines: TranscriptLine[]; truncated: boolean }

/** A message as the dashboard lists it: the newest journey step of each msgId. */
export interface JourneySummary {
  msgId: string; messageId: string | null; subject: string | null;
  first: number; last: number; lastAgent: string; lastStep: string; lastId: number; steps: number;
}

/** Parsed once at delivery and kept beside the bytes (see mail/mime.ts for its shape). */
export interface BlobMeta {
  mime: unknown; searchText: string; messageId: string | null; subject: string | null;
  /** searchText is what analyze.ts searchTextFromRaw decodes from the bytes again (a single text/plain part): a store may keep a mark instead */
  textFromRaw?: boolean;
  /** the indexed header text for SEARCH (mail/search-text.ts headerSearchText), made at delivery; null or absent: none (always a candidate) */
  headerText?: string | null;
}

/** Resolution of an envelope recipient. */
export type Resolution =
  | { kind: 'local'; users: { userId: number; address: string }[]; remote: string[] }
  | { kind: 'unknown' }   // a local domain, but no such user or alias
  | { kind: 'remote' };   // not one of our domains

export interface StoreEvents extends EventEmitter {
  on(event: 'change', listener: (c: MailboxChange) => void): this;
  off(event: 'change', listener: (c: MailboxChange) => void): this;
  emit(event: 'change', c: MailboxChange): boolean;
  /** queue entries became due now (a delivery with remote recipients, `queue flush`) in this process */
  on(event: 'queued', listener: () => void): this;
  off(event: 'queued', listener: () => void): this;
  emit(event: 'queued'): boolean;
}

export interface Store {
  readonly events: StoreEvents;
  close(): Promise<void>;

  domains: {
    add(name: string): Promise<boolean>;
    del(name: string): Promise<boolean>;
    list(): Promise<DomainRecord[]>;
    isLocal(name: string): Promise<boolean>;
  };
  users: {
    /** Creates the user and its special-use mailboxes (INBOX, Sent, Drafts, Trash, Junk, Archive). */
    add(address: string, passwordHash: string): Promise<UserRecord>;
    del(address: string): Promise<boolean>;
    list(domain?: string): Promise<UserRecord[]>;
    get(address: string): Promise<UserRecord | null>;
    getById(id: number): Promise<UserRecord | null>;
    passwordHash(address: string): Promise<{ user: UserRecord; hash: string } | null>;
    setPassword(address: string, passwordHash: string): Promise<boolean>;
    /** Envelope recipient -> local users (through aliases, catch-all, +detail), or unknown/remote. */
    resolve(address: string): Promise<Resolution>;
    /** The addresses a user may send as: its own and every alias that points at it. */
    sendAs(userId: number): Promise<string[]>;
    usage(userId: number): Promise<{ bytes: number; messages: number }>;
    /** grants or takes the dashboard's admin rights; false when there is no such user */
    setAdmin(address: string, on: boolean): Promise<boolean>;
  };
  aliases: {
    add(source: string, target: string): Promise<boolean>;
    del(source: string, target?: string): Promise<number>;
    list(): Promise<AliasRecord[]>;
  };
  mailboxes: {
    list(userId: number): Promise<MailboxRecord[]>;
    get(userId: number, name: string): Promise<MailboxRecord | null>;
    getById(id: number): Promise<MailboxRecord | null>;
    status(mailboxId: number): Promise<MailboxStatus | null>;
    create(userId: number, name: string, specialUse?: string | null): Promise<MailboxRecord>;
    /** Deletes the mailbox and its messages (IMAP DELETE). */
    delete(mailboxId: number): Promise<void>;
    /** Renames the mailbox and its children ("a" -> "b" moves "a/x" to "b/x"). RENAME INBOX moves its messages. */
    rename(userId: number, from: string, to: string): Promise<void>;
    subscribe(mailboxId: number, on: boolean): Promise<void>;
    /** RFC 3501 §6.3.6: the names the user subscribed to, whether or not such a mailbox exists now (the default mailboxes are subscribed when the user is made). */
    subscriptions(userId: number): Promise<string[]>;
    /** Subscribes or unsubscribes a name; it need not exist, and DELETE and RENAME leave subscriptions alone. */
    setSubscribed(userId: number, name: string, on: boolean): Promise<void>;
    /**
     * Takes the \Recent messages of the mailbox (RFC 3501 §2.3.2): raises the watermark to the highest UID
     * committed so far and returns the range it took, as UIDs: the recent messages are the live UIDs u with
     * after < u <= through (after === through when nothing was new). A range, not a list: the first SELECT
     * of a million-message import takes them all at once.
     */
    claimRecent(mailboxId: number): Promise<{ after: number; through: number }>;
    /** SELECT's view of the mailbox (uids from a shared vector kept current from the change events, counts from counters kept by the writer); null when it does not exist. */
    view(mailboxId: number): Promise<MailboxView | null>;
  };
  messages: {
    /** Every live copy in the mailbox, by UID: metadata only, never bodies. */
    /** every message of the mailbox by UID; shared and frozen: callers must not change it */
    list(mailboxId: number): Promise<readonly MessageRecord[]>;
    get(mailboxId: number, uid: number): Promise<MessageRecord | null>;
    /** the message bytes; possibly shared with other readers (a cache): callers must not change them */
    raw(blobId: number): Promise<Buffer>;
    meta(blobId: number): Promise<BlobMeta>;
    append(mailboxId: number, raw: Buffer, opts?: { flags?: string[]; internalDate?: number; journey?: JourneyEvent[] }): Promise<{ uid: number; uidValidity: number }>;
    setFlags(mailboxId: number, uids: number[], op: FlagOp, flags: string[], opts?: { unchangedSince?: number; origin?: unknown }): Promise<{ changed: FlagChange[]; failed: number[] }>;
    /**
     * RFC 3501 §6.4.3 EXPUNGE / RFC 4315 §2.1 UID EXPUNGE: removes the messages flagged \Deleted,
     * all of them or only those among `uids` (a UID without \Deleted stays); returns the removed UIDs.
     */
    expunge(mailboxId: number, uids?: number[], opts?: { origin?: unknown; journey?: JourneyEvent[] }): Promise<number[]>;
    /** Removes exactly the given UIDs, whatever their flags (RFC 1939 §6 POP3 UPDATE state); returns the removed UIDs. */
    remove(mailboxId: number, uids: number[], opts?: { origin?: unknown; journey?: JourneyEvent[] }): Promise<number[]>;
    copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<{ uidValidity: number; map: [number, number][] }>;
    move(fromMailboxId: number, uids: number[], toMailboxId: number, opts?: { origin?: unknown }): Promise<{ uidValidity: number; map: [number, number][] }>;
    /** UIDs expunged with MODSEQ above `modseq` (RFC 7162 VANISHED). */
    expungedSince(mailboxId: number, modseq: number): Promise<number[]>;
    /** Imports a batch in one transaction; bytes this mailbox already holds (same SHA-256) are skipped; each stored copy gets an MDA 'imported' journey step. */
    appendMany(mailboxId: number, items: ImportItem[]): Promise<ImportOutcome[]>;
    /** Message-ID and size of every live copy (an IMAP import compares them to copy only what is missing). */
    digests(mailboxId: number): Promise<{ uid: number; messageId: string | null; size: number }[]>;
    /** The records of these UIDs (any order, duplicates allowed), in UID order; UIDs not in the mailbox are left out. One or a few queries, never a whole-mailbox read. */
    some(mailboxId: number, uids: readonly number[]): Promise<MessageRecord[]>;
    /** The records with MODSEQ above `modseq`, in UID order (RFC 7162 CHANGEDSINCE, QRESYNC SELECT), from an index on (mailbox, modseq). */
    changedSince(mailboxId: number, modseq: number): Promise<MessageRecord[]>;
    /**
     * A prefilter for SEARCH of header fields (RFC 3501 §6.4.4 FROM/TO/CC/BCC/SUBJECT/HEADER): the UIDs,
     * ascending, of the messages whose indexed header text (mail/search-text.ts) contains every one of
     * `words` (already folded with that module's fold()); a superset of the matches: a message without
     * indexed text is always a candidate. The caller still tests each candidate.
     */
    headerCandidates(mailboxId: number, words: readonly string[]): Promise<number[]>;
    /**
     * A prefilter for SEARCH of the flags kept in partial indexes (RFC 3501 §6.4.4 UNSEEN, NEW,
     * DELETED, FLAGGED): the UIDs, ascending, of the messages without \Seen ('unseen'), with
     * \Deleted ('deleted') or with \Flagged ('flagged'), read from that index alone: no row per
     * message of the mailbox.
     */
    flagCandidates(mailboxId: number, which: FlagIndex): Promise<number[]>;
  };
  /** MDA: the one transaction that accepts a message (group-committed). */
  deliver(d: Delivery): Promise<DeliveryResult>;
  queue: {
    list(): Promise<QueueEntry[]>;
    get(id: number): Promise<QueueEntry | null>;
    del(id: number): Promise<boolean>;
    /** Entries due at `now`, oldest first. */
    due(now: number, limit: number): Promise<QueueEntry[]>;
    /** Makes every queued entry (or the one given) due now. */
    flush(id?: number): Promise<number>;
    /**
     * An attempt left recipients pending: the entry stays queued with these changes (and the journey
     * events, in the same transaction). StoreError 'notfound' when the entry is gone (`queue del`),
     * 'invalid' when the patch leaves no recipient pending (that is `finish`).
     */
    reschedule(id: number, patch: QueueReschedule, journey?: JourneyEvent[]): Promise<void>;
    /**
     * No recipient is pending any more: the entry leaves the queue and lets go of its bytes (the
     * journey keeps its history). Returns the entry as it ended, `status` 'delivered' (some recipient
     * was delivered) or 'bounced' (none was). StoreError 'notfound' when the entry is gone,
     * 'invalid' when a recipient is still pending (that is `reschedule`).
     */
    finish(id: number, outcome: QueueOutcome, journey?: JourneyEvent[]): Promise<QueueEntry>;
    /**
     * Several nodes, one queue: leases up to `limit` due entries (queued, next attempt at or before
     * `now`, no lease or an expired one) to `node` until `now + leaseMs`, oldest due first. No other
     * claim returns them until the lease expires or reschedule/finish/release ends it.
     */
    claim(node: string, now: number, limit: number, leaseMs: number): Promise<QueueEntry[]>;
    /** Extends the leases `node` still holds among `ids` to `now + leaseMs`; returns those ids (a lease lost meanwhile drops out). */
    renew(node: string, ids: number[], now: number, leaseMs: number): Promise<number[]>;
    /** Gives leases back without an attempt: those among `ids`, or every lease `node` holds (a restarted node takes back its own). */
    release(node: string, ids?: number[]): Promise<number>;
  };
  /**
   * Locks shared by every node on the store, with an expiry so that a node that dies lets go
   * (RFC 1939 §8: one POP3 session per maildrop).
   */
  locks: {
    /** Takes `key` for `owner` until `ttlMs` from now: true when it was free, expired, or already `owner`'s (then extended). */
    tryAcquire(key: string, owner: string, ttlMs: number): Promise<boolean>;
    /** Lets go of `key` if `owner` holds it; false when it did not. */
    release(key: string, owner: string): Promise<boolean>;
  };
  /** Login failures by key (a client address, an account), counted across nodes; forgotten `forgetAfterMs` after the last one. */
  penalties: {
    /** Counts one more failure for every key; returns the largest count among them (after this one). */
    fail(keys: string[], now: number, forgetAfterMs: number): Promise<number>;
    /** The current failure count of `key` (0 when none, or forgotten). */
    get(key: string, now: number, forgetAfterMs: number): Promise<number>;
    /** Forgets the keys' failures (a successful login). */
    clear(keys: string[]): Promise<void>;
  };
  journey: {
    record(events: JourneyEvent[]): Promise<void>;
    /** "MDA <- MUA" steps of one session (compact: one row each, a message at most once per session and step). */
    accessed(session: AccessSession, step: 'fetched' | 'retrieved', messages: AccessStep[]): Promise<void>;
    /** Every event of a message, by our id or by its Message-ID header (with or without <>). */
    trace(id: string): Promise<JourneyRow[]>;
    /** the newest messages by their last journey step, newest first; `afterId`: only those with a step after that journey row id (live updates) */
    recent(opts: { limit: number; afterId?: number; beforeTime?: number }): Promise<JourneySummary[]>;
    /** the largest journey row id so far (0 when empty): where a live view starts */
    lastId(): Promise<number>;
  };
  /** Per-user submission limits: what each user submitted lately (rows come with deliver's `submission`). */
  submissions: {
    /** what the user submitted at or after `since` (ms since epoch): messages, and recipients in all */
    count(userId: number, since: number): Promise<{ messages: number; recipients: number }>;
    /** the user's submissions at or after `since`, newest first, at most `limit` */
    recent(userId: number, since: number, limit: number): Promise<SubmissionRecord[]>;
    /** forgets the user's submissions (an operator lifting the limit after a compromise); how many were dropped */
    reset(userId: number): Promise<number>;
  };
  /** Protocol transcripts (config `transcripts`): written by the sessions, read by the dashboard. */
  transcripts: {
    /** creates or updates the session's row (metadata) and appends these lines; bounded per session by the store */
    write(session: TranscriptSession, lines: TranscriptLine[]): Promise<void>;
    get(sid: string): Promise<Transcript | null>;
    /** newest first; `msgId`: only sessions that carried or fetched that message */
    list(opts: { limit: number; msgId?: string; beforeStarted?: number }): Promise<TranscriptSummary[]>;
  };
  /** A consistent snapshot of the whole database into a new file (VACUUM INTO: one read transaction, writers go on). */
  backup(file: string): Promise<void>;
  /** Retention: drops transcripts older than `transcriptsBefore` (and the oldest beyond `transcriptMaxBytes`) and journey rows older than `journeyBefore`. */
  prune(opts: { transcriptsBefore: number; transcriptMaxBytes: number; journeyBefore: number }): Promise<{ transcripts: number; journey: number }>;
}
