-- 040: a million-message mailbox without a pass over its rows (issue 15). SELECT, STATUS and SEARCH
-- read what the writers keep, in the writing transaction, on whichever node writes:
--  * counters on the mailbox row (messages, unseen, deleted, size), kept by triggers on messages;
--  * the keywords used in the mailbox so far (RFC 3501 §7.2.6 FLAGS), kept by the same triggers;
--  * partial indexes for the first unseen message (RFC 3501 §7.1 UNSEEN) and \Deleted (EXPUNGE);
--  * the indexed header text of each blob (mail/search-text.ts), in a narrow table of its own so
--    that a SEARCH prefilter reads it without the bytes; it goes with its blob.
-- The triggers are per statement, over transition tables: an insert, update or delete of many rows
-- (an import, MOVE, STORE on 1:*) updates each mailbox row once. A column list (UPDATE OF flags)
-- cannot be given with transition tables; every update of messages changes flags anyway.

-- no write to messages while the counters are taken (writers wait for this migration's COMMIT)
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE mailboxes
  ADD COLUMN messages BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN unseen   BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN deleted  BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN size     BIGINT NOT NULL DEFAULT 0;

CREATE TABLE mailbox_keywords (
  mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  keyword    TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, keyword)
);

CREATE TABLE blob_headers (
  blob_id BIGINT PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
  text    TEXT NOT NULL           -- headerSearchText(): folded 'name: value' lines and envelope addresses
);

-- the planner uses these when a query repeats the predicate as written here
CREATE INDEX messages_unseen ON messages (mailbox_id, uid) WHERE NOT ('\Seen' = ANY(flags));
CREATE INDEX messages_deleted ON messages (mailbox_id, uid) WHERE '\Deleted' = ANY(flags);

-- rows in (INSERT; the copies an INSERT ... ON CONFLICT DO UPDATE adds)
CREATE FUNCTION messages_counted_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE mailboxes b SET messages = b.messages + d.n, unseen = b.unseen + d.unseen, deleted = b.deleted + d.deleted, size = b.size + d.size
    FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE NOT ('\Seen' = ANY(flags))) AS unseen,
            count(*) FILTER (WHERE '\Deleted' = ANY(flags)) AS deleted, sum(size) AS size
          FROM new_rows GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id;
  -- RFC 3501 §7.2.6: a keyword once used in the mailbox stays announced in its FLAGS
  INSERT INTO mailbox_keywords (mailbox_id, keyword)
    SELECT DISTINCT mailbox_id, k FROM new_rows, unnest(flags) AS k WHERE left(k, 1) <> '\'
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

-- rows changed (flags, by STORE; MODSEQ with them): what they count now less what they counted before, by mailbox
CREATE FUNCTION messages_counted_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE mailboxes b SET messages = b.messages + d.n, unseen = b.unseen + d.unseen, deleted = b.deleted + d.deleted, size = b.size + d.size
    FROM (SELECT mailbox_id, sum(n) AS n, sum(unseen) AS unseen, sum(deleted) AS deleted, sum(size) AS size FROM (
            SELECT mailbox_id, 1 AS n, (NOT ('\Seen' = ANY(flags)))::int AS unseen, ('\Deleted' = ANY(flags))::int AS deleted, size FROM new_rows
            UNION ALL
            SELECT mailbox_id, -1, -(NOT ('\Seen' = ANY(flags)))::int, -('\Deleted' = ANY(flags))::int, -size FROM old_rows) x
          GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id AND (d.n <> 0 OR d.unseen <> 0 OR d.deleted <> 0 OR d.size <> 0);
  INSERT INTO mailbox_keywords (mailbox_id, keyword)
    SELECT DISTINCT mailbox_id, k FROM new_rows, unnest(flags) AS k WHERE left(k, 1) <> '\'
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

-- rows out (EXPUNGE, MOVE, POP3 removal, a mailbox deleted)
CREATE FUNCTION messages_counted_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE mailboxes b SET messages = b.messages - d.n, unseen = b.unseen - d.unseen, deleted = b.deleted - d.deleted, size = b.size - d.size
    FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE NOT ('\Seen' = ANY(flags))) AS unseen,
            count(*) FILTER (WHERE '\Deleted' = ANY(flags)) AS deleted, sum(size) AS size
          FROM old_rows GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id;
  RETURN NULL;
END $$;

-- The store's own inserts (postgres/copies.ts insertCopy, insertCopies: every delivery, APPEND,
-- import, COPY, MOVE, RENAME INBOX) count themselves in the UPDATE of the mailbox row that takes
-- their UIDs (a second UPDATE of that row per delivery cost ~100 us of server time) and say so for
-- the rest of their transaction with set_config('postoffice.counted', 'on', true); the trigger
-- counts every other insert (migrate-store, SQL by hand).
CREATE TRIGGER messages_counted_in AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  WHEN (current_setting('postoffice.counted', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION messages_counted_in();
CREATE TRIGGER messages_counted_changed AFTER UPDATE ON messages
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION messages_counted_changed();
CREATE TRIGGER messages_counted_out AFTER DELETE ON messages
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION messages_counted_out();

-- what is there now
UPDATE mailboxes b SET messages = s.n, unseen = s.unseen, deleted = s.deleted, size = s.size
  FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE NOT ('\Seen' = ANY(flags))) AS unseen,
          count(*) FILTER (WHERE '\Deleted' = ANY(flags)) AS deleted, sum(size) AS size
        FROM messages GROUP BY mailbox_id) s
  WHERE b.id = s.mailbox_id;
INSERT INTO mailbox_keywords (mailbox_id, keyword)
  SELECT DISTINCT mailbox_id, k FROM messages, unnest(flags) AS k WHERE left(k, 1) <> '\'
  ON CONFLICT DO NOTHING;
-- the blobs that were here before get their header text in the background, newest first, down
-- from this id (postgres/backfill.ts), while the nodes serve
INSERT INTO meta (key, value) SELECT 'header_text_backfill', MAX(id)::text FROM blobs HAVING MAX(id) IS NOT NULL
  ON CONFLICT (key) DO UPDATE SET value = excluded.value;
