-- Issue 10: what Akismet's comment-check was sent about a web comment and what it
-- believes of it now, so that a moderator's contrary decision is reported to it
-- (submit-spam, submit-ham) with the same fields, as Akismet asks. The reader's IP
-- address and browser are kept only for this: housekeeping forgets a row after 30 days.
CREATE TABLE akismet_checks (
    comment_id INTEGER PRIMARY KEY REFERENCES comments(id) ON DELETE CASCADE,
    form TEXT NOT NULL,  -- the fields sent, as a JSON object, without the API key
    -- what Akismet believes of it: its answer, then what it was last told
    believed TEXT NOT NULL CHECK (believed IN ('spam', 'ham')),
    -- what the moderators decided last (a report is due while the two differ)
    wanted TEXT NOT NULL CHECK (wanted IN ('spam', 'ham')),
    checked_at REAL NOT NULL
);
CREATE INDEX akismet_checks_by_age ON akismet_checks (checked_at);
