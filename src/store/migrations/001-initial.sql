-- 001: the mailbox store, the outbound queue and the journey, in one database.

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE domains (
  name    TEXT PRIMARY KEY COLLATE NOCASE,
  created INTEGER NOT NULL
);

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  address       TEXT NOT NULL UNIQUE COLLATE NOCASE,
  domain        TEXT NOT NULL COLLATE NOCASE REFERENCES domains(name) ON DELETE CASCADE,
  password_hash TEXT NOT NULL,
  created       INTEGER NOT NULL
);

-- source is a full address or '@domain' (catch-all); target a local or remote address.
CREATE TABLE aliases (
  id      INTEGER PRIMARY KEY,
  source  TEXT NOT NULL COLLATE NOCASE,
  target  TEXT NOT NULL COLLATE NOCASE,
  created INTEGER NOT NULL,
  UNIQUE (source, target)
);

CREATE TABLE mailboxes (
  id            INTEGER PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,           -- UTF-8, '/' is the hierarchy delimiter, 'INBOX' for the inbox
  special_use   TEXT,                    -- RFC 6154: \Sent \Drafts \Trash \Junk \Archive ...
  subscribed    INTEGER NOT NULL DEFAULT 1,
  uidvalidity   INTEGER NOT NULL,
  uidnext       INTEGER NOT NULL DEFAULT 1,
  highestmodseq INTEGER NOT NULL DEFAULT 1,
  recent_uid    INTEGER NOT NULL DEFAULT 0, -- RFC 3501 \Recent: UIDs above this are recent to the next session
  created       INTEGER NOT NULL,
  UNIQUE (user_id, name)
);

-- The raw RFC 5322 bytes, stored once, content-addressed, shared by every copy and queue entry.
-- Large columns come last: SQLite walks a row's overflow pages to reach the columns after them.
CREATE TABLE blobs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a blob id names the same bytes forever
  sha256      TEXT NOT NULL UNIQUE,
  size        INTEGER NOT NULL,
  refs        INTEGER NOT NULL DEFAULT 0,
  message_id  TEXT,            -- the Message-ID header, for trace
  subject     TEXT,
  created     INTEGER NOT NULL,
  mime        TEXT NOT NULL,   -- JSON MimeTree (body structure with offsets, envelope): parsed once
  raw         BLOB NOT NULL,
  search_text TEXT NOT NULL    -- decoded text of the body parts, for SEARCH TEXT/BODY (read least)
);
CREATE INDEX blobs_message_id ON blobs(message_id);

-- A mailbox copy of a message.
CREATE TABLE messages (
  id            INTEGER PRIMARY KEY,
  mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid           INTEGER NOT NULL,
  modseq        INTEGER NOT NULL,
  flags         TEXT NOT NULL DEFAULT '',  -- space-separated, e.g. '\Seen $Label1'
  internal_date INTEGER NOT NULL,          -- ms since epoch
  blob_id       INTEGER NOT NULL REFERENCES blobs(id),
  size          INTEGER NOT NULL,
  msg_id        TEXT,                      -- our transaction id (journey key)
  UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_blob ON messages(blob_id);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);

-- Expunged UIDs stay as tombstones with their MODSEQ (RFC 7162 QRESYNC VANISHED).
CREATE TABLE expunged (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid        INTEGER NOT NULL,
  modseq     INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

-- The outbound queue: one entry per (message, remote domain).
CREATE TABLE queue (
  id           INTEGER PRIMARY KEY,
  msg_id       TEXT NOT NULL,           -- our transaction id
  blob_id      INTEGER NOT NULL REFERENCES blobs(id),
  mail_from    TEXT NOT NULL,           -- '' for the null reverse-path
  domain       TEXT NOT NULL COLLATE NOCASE,
  rcpts        TEXT NOT NULL,           -- JSON: [{ address, status: 'pending'|'delivered'|'bounced', reply? }]
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,        -- ms since epoch
  last_reply   TEXT,
  status       TEXT NOT NULL DEFAULT 'queued',  -- queued | delivered | bounced
  data         TEXT NOT NULL DEFAULT '{}',      -- JSON: DSN envid/ret, user, warned ...
  created      INTEGER NOT NULL,
  updated      INTEGER NOT NULL
);
CREATE INDEX queue_due ON queue(status, next_attempt);
CREATE INDEX queue_msg ON queue(msg_id);

-- The journey of a message: every agent's steps, in the same transaction as the change.
CREATE TABLE journey (
  id         INTEGER PRIMARY KEY,
  msg_id     TEXT NOT NULL,     -- our transaction id
  message_id TEXT,              -- the Message-ID header, when known
  time       INTEGER NOT NULL,  -- ms since epoch
  agent      TEXT NOT NULL,     -- 'MTA in', 'MTA out', 'MDA', 'MUA access'
  step       TEXT NOT NULL,     -- received, stored, queued, delivered, fetched ...
  details    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX journey_msg ON journey(msg_id);
CREATE INDEX journey_message_id ON journey(message_id);
