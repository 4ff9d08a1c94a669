-- Issue 12: the live bridge to a WordPress site (mailbridge.bridges.wordpress).
-- No foreign keys to comments here: a comment deleted in mailbridge must leave its
-- link behind (the bridge then trashes it in WordPress), not fail the delete.

-- Which WordPress post is which thread.
CREATE TABLE wp_posts (
    post_id   INTEGER PRIMARY KEY,
    thread_id INTEGER NOT NULL UNIQUE REFERENCES threads(id)
);

-- Every WordPress comment the bridge has seen, with what it last knew of it there.
-- comment_id is NULL for a comment held in WordPress that is not mirrored (yet);
-- wp_status 'deleted' is a tombstone: that comment is never created again.
CREATE TABLE wp_comments (
    wp_id        INTEGER PRIMARY KEY,
    comment_id   INTEGER UNIQUE,
    post_id      INTEGER NOT NULL,
    wp_status    TEXT NOT NULL CHECK (wp_status IN ('approved', 'hold', 'spam', 'trash', 'deleted')),
    content_hash TEXT NOT NULL DEFAULT '',  -- sha256 of WordPress's raw content, last seen
    body_hash    TEXT NOT NULL DEFAULT '',  -- sha256 of mailbridge's text, last in step
    updated_at   TEXT NOT NULL
);
CREATE INDEX wp_comments_by_status ON wp_comments (wp_status);

-- Comments whose state WordPress must be brought to (the outbox pattern): marked by
-- trigger in the transaction that changed them, so no code path can forget one.
CREATE TABLE wp_push (
    comment_id      INTEGER PRIMARY KEY,
    version         INTEGER NOT NULL DEFAULT 1,
    queued_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error      TEXT
);

-- The poll cursor, the last successful poll, the last error.
CREATE TABLE wp_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TRIGGER wp_push_on_insert AFTER INSERT ON comments
WHEN EXISTS (SELECT 1 FROM wp_posts WHERE thread_id = NEW.thread_id) BEGIN
    INSERT INTO wp_push (comment_id) VALUES (NEW.id)
        ON CONFLICT (comment_id) DO UPDATE SET version = version + 1, next_attempt_at = 0;
END;

CREATE TRIGGER wp_push_on_update AFTER UPDATE OF status, body ON comments
WHEN EXISTS (SELECT 1 FROM wp_posts WHERE thread_id = NEW.thread_id) BEGIN
    INSERT INTO wp_push (comment_id) VALUES (NEW.id)
        ON CONFLICT (comment_id) DO UPDATE SET version = version + 1, next_attempt_at = 0;
END;

CREATE TRIGGER wp_push_on_delete AFTER DELETE ON comments
WHEN EXISTS (SELECT 1 FROM wp_comments WHERE comment_id = OLD.id) BEGIN
    INSERT INTO wp_push (comment_id) VALUES (OLD.id)
        ON CONFLICT (comment_id) DO UPDATE SET version = version + 1, next_attempt_at = 0;
END;

-- Decisions taken in wp-admin are recorded with their own channel: rebuild the audit
-- table to widen its CHECK (SQLite cannot alter one in place).
CREATE TABLE moderation_decisions_new (
    id           INTEGER PRIMARY KEY,
    comment_id   INTEGER NOT NULL REFERENCES comments(id),
    decided_at   TEXT NOT NULL,
    previous     TEXT NOT NULL CHECK (previous IN ('pending', 'approved', 'rejected', 'spam')),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
    moderator_address_id INTEGER REFERENCES addresses(id),
    channel      TEXT NOT NULL
        CHECK (channel IN ('link', 'reply', 'queue', 'api', 'cli', 'auto', 'wordpress')),
    CHECK (previous != status)
);
INSERT INTO moderation_decisions_new SELECT * FROM moderation_decisions;
DROP TABLE moderation_decisions;
ALTER TABLE moderation_decisions_new RENAME TO moderation_decisions;
CREATE INDEX moderation_decisions_by_comment ON moderation_decisions (comment_id, id);
