-- 030: the \Recent watermark (RFC 3501 §2.3.2) in a row of its own. An IMAP session takes it on
-- NOOP/IDLE while deliveries hold the mailbox row locked until their COMMIT (UIDs and MODSEQs are
-- taken under that lock): on the mailbox row it waited behind every delivery to the mailbox. A
-- mailbox without a row here still has its watermark in mailboxes.recent_uid (migrate-store writes
-- that column); the first claim moves it here.
CREATE TABLE mailbox_recent (
  mailbox_id BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
  recent_uid BIGINT NOT NULL
);
INSERT INTO mailbox_recent (mailbox_id, recent_uid) SELECT id, recent_uid FROM mailboxes WHERE recent_uid > 0;
