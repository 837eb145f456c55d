-- 001: the mailbox store, the outbound queue, the journey and the lab's tables, on PostgreSQL.
-- The same schema as the SQLite store (src/store/migrations/001..060), in PostgreSQL's types:
-- times are BIGINT ms since epoch, flags a text[], message bytes bytea. Names that SQLite
-- compares with COLLATE NOCASE (addresses, domains) are stored lower-cased and compared by lower().

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE domains (
  name    TEXT PRIMARY KEY,            -- lower-case
  created BIGINT NOT NULL
);

CREATE TABLE users (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  address       TEXT NOT NULL,
  domain        TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,
  password_hash TEXT NOT NULL,
  created       BIGINT NOT NULL,
  admin         BOOLEAN NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX users_address ON users (lower(address));
CREATE INDEX users_domain ON users (domain);

-- source is a full address or '@domain' (catch-all); target a local or remote address.
CREATE TABLE aliases (
  id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source  TEXT NOT NULL,
  target  TEXT NOT NULL,
  created BIGINT NOT NULL
);
CREATE UNIQUE INDEX aliases_pair ON aliases (lower(source), lower(target));
CREATE INDEX aliases_target ON aliases (lower(target));

CREATE TABLE mailboxes (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,           -- UTF-8, '/' is the hierarchy delimiter, 'INBOX' for the inbox
  special_use   TEXT,                    -- RFC 6154: \Sent \Drafts \Trash \Junk \Archive ...
  subscribed    BOOLEAN NOT NULL DEFAULT true,
  uidvalidity   BIGINT NOT NULL,
  uidnext       BIGINT NOT NULL DEFAULT 1,
  highestmodseq BIGINT NOT NULL DEFAULT 1,
  recent_uid    BIGINT NOT NULL DEFAULT 0, -- RFC 3501 \Recent: UIDs above this are recent to the next session
  created       BIGINT NOT NULL,
  UNIQUE (user_id, name)
);

-- The raw RFC 5322 bytes, stored once, content-addressed, shared by every copy and queue entry.
-- An identity is never reused: a blob id names the same bytes forever (caches rely on it).
CREATE TABLE blobs (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sha256      TEXT NOT NULL UNIQUE,
  size        BIGINT NOT NULL,
  refs        BIGINT NOT NULL DEFAULT 0,
  message_id  TEXT,            -- the Message-ID header, for trace
  subject     TEXT,
  created     BIGINT NOT NULL,
  mime        TEXT NOT NULL,   -- JSON MimeTree (body structure with offsets, envelope): parsed once
  raw         BYTEA NOT NULL,
  search_text TEXT NOT NULL    -- decoded text of the body parts, for SEARCH TEXT/BODY
);
CREATE INDEX blobs_message_id ON blobs (message_id);

-- A mailbox copy of a message.
CREATE TABLE messages (
  mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid           BIGINT NOT NULL,
  modseq        BIGINT NOT NULL,
  flags         TEXT[] NOT NULL DEFAULT '{}',
  internal_date BIGINT NOT NULL,          -- ms since epoch
  blob_id       BIGINT NOT NULL REFERENCES blobs(id),
  size          BIGINT NOT NULL,
  msg_id        TEXT,                     -- our transaction id (journey key)
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_blob ON messages (blob_id);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);

-- Expunged UIDs stay as tombstones with their MODSEQ (RFC 7162 QRESYNC VANISHED).
CREATE TABLE expunged (
  mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid        BIGINT NOT NULL,
  modseq     BIGINT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);

-- The outbound queue: one entry per (message, remote domain). A node works an entry while it
-- holds its lease (lease_node until lease_until); a node that dies lets go when the lease expires.
CREATE TABLE queue (
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  msg_id       TEXT NOT NULL,
  blob_id      BIGINT NOT NULL REFERENCES blobs(id),
  mail_from    TEXT NOT NULL,           -- '' for the null reverse-path
  domain       TEXT NOT NULL,           -- lower-case
  rcpts        TEXT NOT NULL,           -- JSON: [{ address, status: 'pending'|'delivered'|'bounced', reply? }]
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_attempt BIGINT NOT NULL,
  last_reply   TEXT,
  status       TEXT NOT NULL DEFAULT 'queued',
  data         TEXT NOT NULL DEFAULT '{}',
  created      BIGINT NOT NULL,
  updated      BIGINT NOT NULL,
  lease_node   TEXT,
  lease_until  BIGINT
);
CREATE INDEX queue_due ON queue (status, next_attempt);
CREATE INDEX queue_msg ON queue (msg_id);
CREATE INDEX queue_blob ON queue (blob_id);

-- The journey of a message: every agent's steps, in the same transaction as the change.
CREATE TABLE journey (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  msg_id     TEXT NOT NULL,
  message_id TEXT,
  time       BIGINT NOT NULL,
  agent      TEXT NOT NULL,
  step       TEXT NOT NULL,
  details    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX journey_msg ON journey (msg_id);
CREATE INDEX journey_message_id ON journey (message_id);
CREATE INDEX journey_time ON journey (time);

-- "MDA <- MUA" steps, kept compact (one row per message, session and step).
CREATE TABLE access_sessions (
  id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sid      TEXT NOT NULL UNIQUE,
  "user"   TEXT NOT NULL,
  protocol TEXT NOT NULL,
  client   TEXT,
  started  BIGINT NOT NULL
);

CREATE TABLE journey_access (
  msg_id     TEXT NOT NULL,
  session_id BIGINT NOT NULL,
  step       TEXT NOT NULL,
  time       BIGINT NOT NULL,
  mailbox    TEXT,
  uid        BIGINT NOT NULL,
  PRIMARY KEY (msg_id, session_id, step)
);

-- The lab's protocol transcripts (config transcripts).
CREATE TABLE transcripts (
  id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sid       TEXT NOT NULL UNIQUE,
  protocol  TEXT NOT NULL,
  local     TEXT,
  remote    TEXT,
  "user"    TEXT,
  tls       TEXT,
  started   BIGINT NOT NULL,
  ended     BIGINT,
  msg_ids   TEXT NOT NULL DEFAULT '[]',
  lines     INTEGER NOT NULL DEFAULT 0,
  bytes     INTEGER NOT NULL DEFAULT 0,
  truncated BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX transcripts_started ON transcripts (started);

CREATE TABLE transcript_lines (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transcript_id BIGINT NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
  lines         TEXT NOT NULL
);
CREATE INDEX transcript_lines_session ON transcript_lines (transcript_id, id);

CREATE TABLE transcript_msgs (
  msg_id        TEXT NOT NULL,
  transcript_id BIGINT NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
  PRIMARY KEY (msg_id, transcript_id)
);
CREATE INDEX transcript_msgs_session ON transcript_msgs (transcript_id);

-- Per-user submission limits.
CREATE TABLE submissions (
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  time       BIGINT NOT NULL,
  recipients INTEGER NOT NULL,
  msg_id     TEXT NOT NULL
);
CREATE INDEX submissions_user_time ON submissions (user_id, time);
