-- 100: SEARCH FLAGGED (RFC 3501 §6.4.4) without a pass over the mailbox. Clients ask it of every
-- mailbox for their "flagged" or "starred" views; few messages carry \Flagged, so the partial
-- index is small and costs a write only when a copy is flagged. The query in
-- sqlite/message-reads.ts (flagCandidates) repeats this expression word for word.
CREATE INDEX IF NOT EXISTS messages_flagged ON messages(mailbox_id, uid) WHERE instr(' ' || flags || ' ', ' \Flagged ') > 0;
