-- The WordPress bridge's tables (sql/0017). wp_* ids are WordPress's: no identity.
CREATE TABLE wp_posts (
    post_id   BIGINT PRIMARY KEY,
    thread_id BIGINT NOT NULL UNIQUE REFERENCES threads(id)
);

CREATE TABLE wp_comments (
    wp_id        BIGINT PRIMARY KEY,
    comment_id   BIGINT UNIQUE,
    post_id      BIGINT NOT NULL,
    wp_status    TEXT NOT NULL CHECK (wp_status IN ('approved', 'hold', 'spam', 'trash', 'deleted')),
    content_hash TEXT NOT NULL DEFAULT '',
    body_hash    TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL
);
CREATE INDEX wp_comments_by_status ON wp_comments (wp_status);

CREATE TABLE wp_push (
    comment_id      BIGINT PRIMARY KEY,
    version         BIGINT NOT NULL DEFAULT 1,
    queued_at       TEXT NOT NULL DEFAULT mailbridge_utc_now(),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error      TEXT
);

CREATE TABLE wp_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- SQLite's triggers carry their condition in WHEN EXISTS (...); PostgreSQL allows no
-- subquery in WHEN, so the condition is the function's first test.
CREATE FUNCTION wp_push_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM wp_comments WHERE comment_id = OLD.id) THEN
            INSERT INTO wp_push (comment_id) VALUES (OLD.id)
                ON CONFLICT (comment_id) DO UPDATE
                SET version = wp_push.version + 1, next_attempt_at = 0;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM wp_posts WHERE thread_id = NEW.thread_id) THEN
        INSERT INTO wp_push (comment_id) VALUES (NEW.id)
            ON CONFLICT (comment_id) DO UPDATE
            SET version = wp_push.version + 1, next_attempt_at = 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER wp_push_on_insert AFTER INSERT ON comments
    FOR EACH ROW EXECUTE FUNCTION wp_push_mark();
CREATE TRIGGER wp_push_on_update AFTER UPDATE OF status, body ON comments
    FOR EACH ROW EXECUTE FUNCTION wp_push_mark();
CREATE TRIGGER wp_push_on_delete AFTER DELETE ON comments
    FOR EACH ROW EXECUTE FUNCTION wp_push_mark();

ALTER TABLE moderation_decisions DROP CONSTRAINT moderation_decisions_channel_check;
ALTER TABLE moderation_decisions ADD CONSTRAINT moderation_decisions_channel_check
    CHECK (channel IN ('link', 'reply', 'queue', 'api', 'cli', 'auto', 'wordpress'));
