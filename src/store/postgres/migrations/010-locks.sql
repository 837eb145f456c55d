-- 010: what several nodes must agree on beyond the mailboxes. Locks with an expiry (RFC 1939 §8:
-- one POP3 session per maildrop, whichever node it is on): a node that dies lets go when `until`
-- passes. Login failures per client address and per account (auth/authenticate.ts), so a guesser
-- gains nothing by spreading attempts over the nodes behind a load balancer.
CREATE TABLE locks (
  key   TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until BIGINT NOT NULL            -- ms since epoch
);

CREATE TABLE login_failures (
  key      TEXT PRIMARY KEY,       -- 'ip:192.0.2.1', 'account:alice@example.test'
  failures INTEGER NOT NULL,
  last     BIGINT NOT NULL         -- ms since epoch of the latest failure
);
CREATE INDEX login_failures_last ON login_failures (last);
-- the queue runner's claim looks for due entries without a live lease
CREATE INDEX queue_lease ON queue (lease_until) WHERE lease_node IS NOT NULL;
