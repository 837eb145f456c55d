-- 090: a mailbox of a million messages opens (SELECT), counts (STATUS) and narrows a header
-- SEARCH without reading a row per message.
--
-- The counters live on the mailbox row and are kept by triggers on messages, so that every path
-- that adds, removes or re-flags a copy (deliver, append, import, copy, move, expunge, POP3,
-- RENAME INBOX, a mailbox or user deleted, another process on the same file) keeps them exact in
-- its own transaction. "Unseen" and "\Deleted" are always written as these two expressions over
-- the space-separated flags column; the queries repeat them word for word so that the planner
-- uses the partial indexes below.

ALTER TABLE mailboxes ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN unseen   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN deleted  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN size     INTEGER NOT NULL DEFAULT 0;

UPDATE mailboxes SET (messages, unseen, deleted, size) = (
  SELECT COUNT(*),
         COALESCE(SUM(instr(' ' || m.flags || ' ', ' \Seen ') = 0), 0),
         COALESCE(SUM(instr(' ' || m.flags || ' ', ' \Deleted ') > 0), 0),
         COALESCE(SUM(m.size), 0)
  FROM messages m WHERE m.mailbox_id = mailboxes.id);

CREATE TRIGGER messages_counters_insert AFTER INSERT ON messages BEGIN
  UPDATE mailboxes SET messages = messages + 1, size = size + NEW.size,
    unseen  = unseen  + (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0),
    deleted = deleted + (instr(' ' || NEW.flags || ' ', ' \Deleted ') > 0)
  WHERE id = NEW.mailbox_id;
END;

CREATE TRIGGER messages_counters_delete AFTER DELETE ON messages BEGIN
  UPDATE mailboxes SET messages = messages - 1, size = size - OLD.size,
    unseen  = unseen  - (instr(' ' || OLD.flags || ' ', ' \Seen ') = 0),
    deleted = deleted - (instr(' ' || OLD.flags || ' ', ' \Deleted ') > 0)
  WHERE id = OLD.mailbox_id;
END;

CREATE TRIGGER messages_counters_flags AFTER UPDATE OF flags ON messages WHEN OLD.flags IS NOT NEW.flags BEGIN
  UPDATE mailboxes SET
    unseen  = unseen  + (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0)    - (instr(' ' || OLD.flags || ' ', ' \Seen ') = 0),
    deleted = deleted + (instr(' ' || NEW.flags || ' ', ' \Deleted ') > 0) - (instr(' ' || OLD.flags || ' ', ' \Deleted ') > 0)
  WHERE id = NEW.mailbox_id;
END;

-- RFC 3501 §7.1 [UNSEEN n]: the first message without \Seen; EXPUNGE: the messages with \Deleted.
-- Only those rows are in these indexes (few \Deleted ever; unseen ones are the newest, mostly).
CREATE INDEX messages_unseen  ON messages(mailbox_id, uid) WHERE instr(' ' || flags || ' ', ' \Seen ') = 0;
CREATE INDEX messages_deleted ON messages(mailbox_id, uid) WHERE instr(' ' || flags || ' ', ' \Deleted ') > 0;
-- RFC 7162 CHANGEDSINCE (001 made it; kept here in case an older file lacks it)
CREATE INDEX IF NOT EXISTS messages_modseq ON messages(mailbox_id, modseq);

-- RFC 3501 §7.2.6 FLAGS: the keywords used in a mailbox so far, written (by the store's one
-- helper, sqlite/copies.ts noteKeywords) whenever a copy gets flags; they go with the mailbox.
CREATE TABLE mailbox_keywords (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  keyword    TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, keyword)
) WITHOUT ROWID;

WITH RECURSIVE split(mailbox_id, word, rest) AS (
  SELECT mailbox_id, '', flags || ' ' FROM (SELECT DISTINCT mailbox_id, flags FROM messages WHERE flags <> '')
  UNION ALL
  SELECT mailbox_id, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1) FROM split WHERE rest <> ''
)
INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword)
  SELECT mailbox_id, word FROM split WHERE word <> '' AND substr(word, 1, 1) <> '\';

-- SEARCH SUBJECT/FROM/TO/... (RFC 3501 §6.4.4): each blob's indexed header text
-- (mail/search-text.ts headerSearchText), written with the blob and gone with it. A narrow table,
-- so that a header search reads a few hundred bytes per message instead of the message. A blob
-- without a row (too long a text, or not yet backfilled) is always a SEARCH candidate.
CREATE TABLE blob_headers (
  blob_id INTEGER PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
  text    TEXT NOT NULL
);
-- the blobs that were here before: the writer backfills their text in small batches, newest
-- first, down from this id (sqlite/backfill.ts), while the store serves
INSERT OR REPLACE INTO meta (key, value) SELECT 'header_text_backfill', CAST(MAX(id) AS TEXT) FROM blobs HAVING MAX(id) IS NOT NULL;
