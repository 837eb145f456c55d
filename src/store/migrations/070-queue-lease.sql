-- 070: queue leases (Store.queue.claim). A runner leases the due entries it takes to its node
-- until lease_until (ms since epoch) and renews them while it delivers; reschedule and finish
-- end the lease. Another runner (another process on this file) takes an entry only when it has
-- no lease or an expired one, so no entry is delivered by two at once, and one whose runner died
-- is taken again once its lease runs out.
ALTER TABLE queue ADD COLUMN lease_node TEXT;
ALTER TABLE queue ADD COLUMN lease_until INTEGER;
