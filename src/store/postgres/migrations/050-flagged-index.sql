-- 050: SEARCH FLAGGED (RFC 3501 §6.4.4) without a pass over the mailbox (see the SQLite store's
-- migration 100); message-reads.ts flagCandidates repeats this predicate as written.
CREATE INDEX IF NOT EXISTS messages_flagged ON messages (mailbox_id, uid) WHERE '\Flagged' = ANY(flags);
