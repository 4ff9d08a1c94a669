-- Issue 10: trust. A moderator's "Approve and trust" (or `mailbridge trust add`) marks
-- an address trusted: its next comments are published at once (unless held, or
-- moderation.hold_everything). `mailbridge trust block` marks it blocked instead:
-- its comments are refused. One row per address; removing trust deletes it.
CREATE TABLE address_trust (
    address_id  INTEGER PRIMARY KEY REFERENCES addresses(id),
    trust       TEXT NOT NULL CHECK (trust IN ('trusted', 'blocked')),
    since       TEXT NOT NULL,
    -- Who decided: a moderator's address, or NULL for the operator's command.
    by_address_id INTEGER REFERENCES addresses(id)
);

-- Auto-approvals are decisions too, recorded with their own channel: rebuild the
-- audit table to widen its CHECK (SQLite cannot alter one in place).
CREATE TABLE moderation_decisions_new (
    id           INTEGER PRIMARY KEY,
    comment_id   INTEGER NOT NULL REFERENCES comments(id),
    decided_at   TEXT NOT NULL,
    previous     TEXT NOT NULL CHECK (previous IN ('pending', 'approved', 'rejected', 'spam')),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
    moderator_address_id INTEGER REFERENCES addresses(id),
    channel      TEXT NOT NULL CHECK (channel IN ('link', 'reply', 'queue', 'api', 'cli', 'auto')),
    CHECK (previous != status)
);
INSERT INTO moderation_decisions_new SELECT * FROM moderation_decisions;
DROP TABLE moderation_decisions;
ALTER TABLE moderation_decisions_new RENAME TO moderation_decisions;
CREATE INDEX moderation_decisions_by_comment ON moderation_decisions (comment_id, id);
