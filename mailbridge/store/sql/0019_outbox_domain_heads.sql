-- Issue 14: fair leasing at a cost that does not grow with the backlog.
-- Each recipient domain's queued rows in due order, so the worker finds the head of
-- a domain's queue (and the next domain) by a seek instead of ranking every queued
-- row. Only queued rows: the sent history, never deleted, does not grow it. The
-- expression is outbox._DOMAIN_SQL, character for character (SQLite only uses an
-- expression index for the same expression).
CREATE INDEX outbox_queued_by_domain
    ON outbox (lower(substr(rcpt_to, instr(rcpt_to, '@') + 1)), next_attempt_at)
    WHERE status = 'queued';
