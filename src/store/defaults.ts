// What every store backend starts a user with, and the bounds it keeps: the same for SQLite and PostgreSQL.

/** The special-use set every new user gets (RFC 6154), all empty. */
export const DEFAULT_MAILBOXES: [string, string | null][] = [
  ['INBOX', null], ['Sent', '\\Sent'], ['Drafts', '\\Drafts'], ['Trash', '\\Trash'], ['Junk', '\\Junk'], ['Archive', '\\Archive'],
];

/** what one transcript session keeps: lines beyond either bound are dropped and the session marked truncated */
export const TRANSCRIPT_MAX_LINES = 2000;
export const TRANSCRIPT_MAX_BYTES = 256 * 1024;
/** message ids linked to one transcript session (a POP3 session may retrieve thousands) */
export const TRANSCRIPT_MAX_MSGIDS = 1000;
