-- 040: the "MDA <- MUA" steps of the journey, kept compact. A reading session (IMAP, POP3)
-- adds one per message it fetches: far more rows than every other step together, so they
-- live in one small WITHOUT ROWID table keyed by message, beside the session that read.

CREATE TABLE access_sessions (
  id       INTEGER PRIMARY KEY,
  sid      TEXT NOT NULL UNIQUE,   -- the session id in the logs
  user     TEXT NOT NULL,
  protocol TEXT NOT NULL,          -- imap, imaps, pop3, pop3s
  client   TEXT,                   -- the client's ID name, else its address
  started  INTEGER NOT NULL
);

CREATE TABLE journey_access (
  msg_id     TEXT NOT NULL,        -- our transaction id, as in journey.msg_id
  session_id INTEGER NOT NULL,     -- access_sessions.id
  step       TEXT NOT NULL,        -- fetched (IMAP), retrieved (POP3)
  time       INTEGER NOT NULL,
  mailbox    TEXT,
  uid        INTEGER NOT NULL,
  PRIMARY KEY (msg_id, session_id, step)
) WITHOUT ROWID;
