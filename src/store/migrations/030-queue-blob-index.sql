-- 030: the relay releases a blob when a queue entry finishes; with foreign keys on, deleting
-- the blob row checks queue.blob_id, which without this index scans the whole queue.
CREATE INDEX IF NOT EXISTS queue_blob ON queue(blob_id);
