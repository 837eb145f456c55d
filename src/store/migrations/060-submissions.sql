-- 060: per-user submission limits (config submissionMessagesPerHour ... PerDay). One row per
-- message a user submitted on 465/587, written in the delivery's own transaction, so the counts
-- survive a restart (and kill -9) exactly. Rows older than a day are dropped as new ones arrive.

CREATE TABLE submissions (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  time       INTEGER NOT NULL,     -- ms since epoch, when the message was accepted
  recipients INTEGER NOT NULL,     -- RCPT commands of that message
  msg_id     TEXT NOT NULL         -- our transaction id (journey key)
);
CREATE INDEX submissions_user_time ON submissions(user_id, time);
