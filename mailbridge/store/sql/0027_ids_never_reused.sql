-- mailbridge: foreign_keys off
-- Ids of addresses, comments and outbox rows are never given twice. Signed links carry
-- them (reply addresses, moderation, privacy, VERP bounces) and stay valid after the
-- row is deleted; without AUTOINCREMENT SQLite gave the deleted highest id to the next
-- row, so such a link acted on somebody else's row. SQLite cannot add AUTOINCREMENT to
-- a table: each is rebuilt as https://www.sqlite.org/lang_altertable.html#otheralter
-- says (the runner turns foreign keys off around this transaction and checks them
-- before it commits). Copying the rows with their ids starts sqlite_sequence at each
-- table's max(id). Every index and trigger of the three tables is created again
-- exactly as it was (DROP TABLE took them).
CREATE TABLE new_addresses (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    email                TEXT NOT NULL UNIQUE COLLATE NOCASE,  -- never shown publicly
    created_at           TEXT NOT NULL,
    key_epoch            INTEGER NOT NULL DEFAULT 0,
    hard_bounces         INTEGER NOT NULL DEFAULT 0,
    soft_bounces         INTEGER NOT NULL DEFAULT 0,
    last_bounce_at       TEXT,
    suppressed_at        TEXT,
    suppressed_reason    TEXT,
    confirmed_at         TEXT,
    confirmation_sent_at TEXT
);
INSERT INTO new_addresses (id, email, created_at, key_epoch, hard_bounces, soft_bounces,
        last_bounce_at, suppressed_at, suppressed_reason, confirmed_at, confirmation_sent_at)
    SELECT id, email, created_at, key_epoch, hard_bounces, soft_bounces,
        last_bounce_at, suppressed_at, suppressed_reason, confirmed_at, confirmation_sent_at
    FROM addresses;
DROP TABLE addresses;
ALTER TABLE new_addresses RENAME TO addresses;

CREATE TABLE new_comments (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id            INTEGER NOT NULL REFERENCES threads(id),
    parent_id            INTEGER REFERENCES comments(id),
    address_id           INTEGER REFERENCES addresses(id),
    author               TEXT NOT NULL,
    body                 TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
    source               TEXT NOT NULL CHECK (source IN ('import', 'web', 'email')),
    source_ref           TEXT,            -- import: id in the source file; email: inbound message id
    notify               INTEGER NOT NULL DEFAULT 0,  -- email the author when someone answers
    created_at           TEXT NOT NULL,
    moderated_at         TEXT,
    attachments          TEXT NOT NULL DEFAULT '[]',
    held_reason          TEXT,
    published_at         TEXT,
    elided               TEXT NOT NULL DEFAULT '',
    moderation_mailed_at TEXT,
    UNIQUE (thread_id, source, source_ref)
);
INSERT INTO new_comments (id, thread_id, parent_id, address_id, author, body, status, source,
        source_ref, notify, created_at, moderated_at, attachments, held_reason, published_at,
        elided, moderation_mailed_at)
    SELECT id, thread_id, parent_id, address_id, author, body, status, source,
        source_ref, notify, created_at, moderated_at, attachments, held_reason, published_at,
        elided, moderation_mailed_at
    FROM comments;
DROP TABLE comments;
ALTER TABLE new_comments RENAME TO comments;
CREATE INDEX comments_by_address ON comments (address_id, created_at);
CREATE INDEX comments_by_address_status ON comments (address_id, status);
CREATE INDEX comments_by_body_start ON comments (substr(body, 1, 48));
CREATE INDEX comments_by_parent ON comments (parent_id);
CREATE INDEX comments_by_thread ON comments (thread_id, status, id);
CREATE INDEX comments_by_time ON comments (thread_id, created_at);
CREATE INDEX comments_live_by_thread ON comments (thread_id, created_at, source)
    WHERE source != 'import';
CREATE INDEX comments_not_yet_mailed ON comments (status, moderation_mailed_at);
CREATE INDEX comments_web_by_address ON comments (address_id, created_at, source)
    WHERE source = 'web';
CREATE TRIGGER thread_version_on_delete AFTER DELETE ON comments
WHEN OLD.status = 'approved' BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = OLD.thread_id;
END;
CREATE TRIGGER thread_version_on_insert AFTER INSERT ON comments
WHEN NEW.status = 'approved' BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.thread_id;
END;
CREATE TRIGGER thread_version_on_update AFTER UPDATE ON comments
WHEN OLD.status = 'approved' OR NEW.status = 'approved' BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
        WHERE id IN (NEW.thread_id, OLD.thread_id);
END;
CREATE TRIGGER wp_push_on_delete AFTER DELETE ON comments
WHEN EXISTS (SELECT 1 FROM wp_comments WHERE comment_id = OLD.id) BEGIN
    INSERT INTO wp_push (comment_id) VALUES (OLD.id)
        ON CONFLICT (comment_id) DO UPDATE SET version = version + 1, next_attempt_at = 0;
END;
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

CREATE TABLE new_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,           -- moderation_request, reply_notification
    comment_id       INTEGER REFERENCES comments(id),
    message_id       TEXT NOT NULL UNIQUE,
    mail_from        TEXT NOT NULL,
    rcpt_to          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT,
    lease_owner      TEXT,
    lease_expires_at REAL,
    requeued_at      TEXT,
    UNIQUE (kind, comment_id, rcpt_to)       -- one email per event and recipient
);
INSERT INTO new_outbox (id, kind, comment_id, message_id, mail_from, rcpt_to, status, attempts,
        next_attempt_at, last_error, created_at, sent_at, lease_owner, lease_expires_at,
        requeued_at)
    SELECT id, kind, comment_id, message_id, mail_from, rcpt_to, status, attempts,
        next_attempt_at, last_error, created_at, sent_at, lease_owner, lease_expires_at,
        requeued_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE new_outbox RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_queued_by_domain
    ON outbox (lower(substr(rcpt_to, instr(rcpt_to, '@') + 1)), next_attempt_at)
    WHERE status = 'queued';
