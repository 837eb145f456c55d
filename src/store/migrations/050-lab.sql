-- 050: the learning lab. Admins of the dashboard, and the protocol transcripts the sessions
-- record (config `transcripts`), kept for transcriptRetention / transcriptMaxBytes.

ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;

-- One recorded session (SMTP in and out, IMAP, POP3). lines/bytes count what is stored.
CREATE TABLE transcripts (
  id        INTEGER PRIMARY KEY,
  sid       TEXT NOT NULL UNIQUE,       -- the session id of the logs
  protocol  TEXT NOT NULL,              -- smtp | smtps | submission | relay | imap | imaps | pop3 | pop3s
  local     TEXT,                       -- "ip:port"
  remote    TEXT,
  user      TEXT,
  tls       TEXT,                       -- "TLSv1.3 TLS_AES_256_GCM_SHA384"
  started   INTEGER NOT NULL,
  ended     INTEGER,                    -- null while the session is open
  msg_ids   TEXT NOT NULL DEFAULT '[]', -- JSON, in the order they came (bounded, as transcript_msgs)
  lines     INTEGER NOT NULL DEFAULT 0,
  bytes     INTEGER NOT NULL DEFAULT 0,
  truncated INTEGER NOT NULL DEFAULT 0  -- 1 once lines were dropped at the per-session bound
);
CREATE INDEX transcripts_started ON transcripts(started);

-- The lines, one row per batch the session handed over: JSON [[t, dir, text], ...].
-- A session writes every few seconds or N lines, and the dashboard always reads a whole session,
-- so a row per batch costs the writer one insert per flush instead of one per line, and keeps no
-- per-line row header or index entry (a line is ~40 bytes; a row and its index entry would double it).
CREATE TABLE transcript_lines (
  id            INTEGER PRIMARY KEY,
  transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
  lines         TEXT NOT NULL
);
CREATE INDEX transcript_lines_session ON transcript_lines(transcript_id, id);

-- Which sessions carried or fetched a message (our msgId): the dashboard's link from a hop.
CREATE TABLE transcript_msgs (
  msg_id        TEXT NOT NULL,
  transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
  PRIMARY KEY (msg_id, transcript_id)
) WITHOUT ROWID;
CREATE INDEX transcript_msgs_session ON transcript_msgs(transcript_id);

-- journeyRetention: the pruner drops journey rows by time.
CREATE INDEX journey_time ON journey(time);
