-- 100: the "MDA <- MUA" steps, laid out for the way they are written. Keyed by message id first
-- (040), each reading session's batch of steps went into every page that held the same messages'
-- steps of other sessions: with eight clients fetching the same 5,000 messages a step cost ~8 µs
-- of the writer's time and pages were left half full. Now a step's key begins with its bucket
-- (the first 6 characters of the message id: for our ids, which begin with the time in base 32,
-- a stretch of 2^20 ms, about 17 minutes) and then the session: a session's steps for the mail
-- of one stretch sit together (~2 µs a step), and a trace reads the one bucket of its message.
CREATE TABLE journey_access_new (
  bucket     TEXT NOT NULL,        -- substr(msg_id, 1, 6): src/store/journey-rows.ts accessBucket
  session_id INTEGER NOT NULL,     -- access_sessions.id
  step       TEXT NOT NULL,        -- fetched (IMAP), retrieved (POP3)
  msg_id     TEXT NOT NULL,        -- our transaction id, as in journey.msg_id
  time       INTEGER NOT NULL,
  mailbox    TEXT,
  uid        INTEGER NOT NULL,
  PRIMARY KEY (bucket, session_id, step, msg_id)
) WITHOUT ROWID;

INSERT INTO journey_access_new (bucket, session_id, step, msg_id, time, mailbox, uid)
  SELECT substr(msg_id, 1, 6), session_id, step, msg_id, time, mailbox, uid FROM journey_access
  ORDER BY substr(msg_id, 1, 6), session_id, step, msg_id;

DROP TABLE journey_access;
ALTER TABLE journey_access_new RENAME TO journey_access;
