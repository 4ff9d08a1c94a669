-- SQLite's instr(), which outbox._DOMAIN_SQL uses, as a function of the same name, so
-- the statement (and this index's expression, which must match it) is one for both.
CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT strpos(haystack, needle) $$;

CREATE INDEX outbox_queued_by_domain
    ON outbox (lower(substr(rcpt_to, instr(rcpt_to, '@') + 1)), next_attempt_at)
    WHERE status = 'queued';
