-- Issue 8: a moderator may change their mind while the links are valid, so every
-- decision is kept: which comment, when, from what to what, by whom and through
-- which channel. Append-only: rows are never updated or deleted.
CREATE TABLE moderation_decisions (
    id           INTEGER PRIMARY KEY,
    comment_id   INTEGER NOT NULL REFERENCES comments(id),
    decided_at   TEXT NOT NULL,
    previous     TEXT NOT NULL CHECK (previous IN ('pending', 'approved', 'rejected', 'spam')),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
    -- The moderator: the address the link was sent to. NULL when unknown (a link
    -- minted before links named their moderator) or for the operator's command.
    moderator_address_id INTEGER REFERENCES addresses(id),
    -- How: 'link' (a moderation email's link), 'cli' (the operator's command); the
    -- others are reserved for later ways to moderate, so adding one needs no migration.
    channel      TEXT NOT NULL CHECK (channel IN ('link', 'reply', 'queue', 'api', 'cli')),
    CHECK (previous != status)
);
CREATE INDEX moderation_decisions_by_comment ON moderation_decisions (comment_id, id);

-- A batched notification of a comment that is unpublished before it goes out is
-- withdrawn, not lost: publishing the comment again sends it after all.
ALTER TABLE pending_notifications ADD COLUMN withdrawn_at TEXT;
