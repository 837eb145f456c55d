-- 020: IMAP subscriptions by name (RFC 3501 §6.3.6), as SQLite's 080: a subscription outlives the
-- mailbox it named (DELETE and RENAME leave it alone) and CREATE does not add one. The user's
-- default mailboxes are subscribed when the user is made; what was subscribed until now stays so.
CREATE TABLE subscriptions (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
);
INSERT INTO subscriptions (user_id, name) SELECT user_id, name FROM mailboxes WHERE subscribed ON CONFLICT DO NOTHING;
