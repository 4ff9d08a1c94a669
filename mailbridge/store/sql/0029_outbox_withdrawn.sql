-- mailbridge: foreign_keys off
-- A notification still queued when the comment it carries is taken off the page (an
-- Undo, Reject or Spam; its writer's erasure) is withdrawn, not sent: the outbox learns
-- the status 'withdrawn' (SQLite cannot change a CHECK: the table is rebuilt as in
-- 0027, the runner turning foreign keys off around it), and "one email per event and
-- recipient" counts only rows not withdrawn, so that the comment published again is
-- notified afresh, once. outbox_items lists the comments each notification carries (a
-- digest carries several, each with its parent quoted), for whom and why: what is
-- withdrawn waits again as pending_notifications, and nobody is told twice.
CREATE TABLE new_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,           -- moderation_request, reply_notification
    comment_id       INTEGER REFERENCES comments(id),
    message_id       TEXT NOT NULL UNIQUE,
    mail_from        TEXT NOT NULL,
    rcpt_to          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed',
                                                     'withdrawn')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT,
    lease_owner      TEXT,
    lease_expires_at REAL,
    requeued_at      TEXT
);
INSERT INTO new_outbox (id, kind, comment_id, message_id, mail_from, rcpt_to, status, attempts,
        next_attempt_at, last_error, created_at, sent_at, lease_owner, lease_expires_at,
        requeued_at)
    SELECT id, kind, comment_id, message_id, mail_from, rcpt_to, status, attempts,
        next_attempt_at, last_error, created_at, sent_at, lease_owner, lease_expires_at,
        requeued_at
    FROM outbox;
-- The ids given so far, not the highest kept (as the copy would set it): an email
-- deleted since (an erasure's) keeps its id to itself, and its VERP bounces with it.
DELETE FROM sqlite_sequence WHERE name = 'new_outbox';
INSERT INTO sqlite_sequence (name, seq) SELECT 'new_outbox', seq FROM sqlite_sequence
    WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE new_outbox RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_queued_by_domain
    ON outbox (lower(substr(rcpt_to, instr(rcpt_to, '@') + 1)), next_attempt_at)
    WHERE status = 'queued';
CREATE UNIQUE INDEX outbox_once ON outbox (kind, comment_id, rcpt_to)
    WHERE status != 'withdrawn';

CREATE TABLE outbox_items (
    outbox_id  INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    comment_id INTEGER NOT NULL REFERENCES comments(id),
    address_id INTEGER NOT NULL REFERENCES addresses(id),
    why        TEXT NOT NULL CHECK (why IN ('reply', 'thread')),
    PRIMARY KEY (outbox_id, comment_id)
);
CREATE INDEX outbox_items_by_comment ON outbox_items (comment_id);

-- Publishing a comment sends what waited withdrawn under it (its replies approved
-- while it was off the page): found by comment, not by reading every waiting row.
CREATE INDEX pending_by_comment ON pending_notifications (comment_id);
