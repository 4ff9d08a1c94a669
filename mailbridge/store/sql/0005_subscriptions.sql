-- Issue 5: subscriptions people control, double opt-in, batched notifications, and
-- mailto: unsubscribes in the inbound log.

-- An address is confirmed once its owner proved they read it: by clicking the
-- confirmation link, by replying to a notification, or by the operator's import.
ALTER TABLE addresses ADD COLUMN confirmed_at TEXT;
ALTER TABLE addresses ADD COLUMN confirmation_sent_at TEXT;

-- What each address wants to hear about: per thread (thread_id) or for the whole
-- site (thread_id NULL). level: 'replies' (answers to my comments), 'thread' (every
-- new comment), 'none'. A per-thread row wins over the site-wide one.
CREATE TABLE subscriptions (
    id          INTEGER PRIMARY KEY,
    address_id  INTEGER NOT NULL REFERENCES addresses(id),
    thread_id   INTEGER REFERENCES threads(id),
    level       TEXT NOT NULL CHECK (level IN ('replies', 'thread', 'none')),
    source      TEXT NOT NULL,       -- web, email, import, unsubscribe link, mailto, ...
    updated_at  TEXT NOT NULL
);
-- NULL thread_id means site-wide; one row per (address, thread) and one site-wide.
CREATE UNIQUE INDEX subscriptions_one ON subscriptions (address_id, coalesce(thread_id, 0));
CREATE INDEX subscriptions_by_thread ON subscriptions (thread_id, level);

-- What people asked for before the subscriptions table: their comments' notify flag.
INSERT INTO subscriptions (address_id, thread_id, level, source, updated_at)
    SELECT address_id, thread_id, 'replies', 'comment', max(created_at)
    FROM comments WHERE notify = 1 AND address_id IS NOT NULL
    GROUP BY address_id, thread_id;
UPDATE addresses SET confirmed_at = created_at
    WHERE id IN (SELECT address_id FROM comments WHERE notify = 1 AND source != 'web');

-- The first time a comment is published its readers are notified; never again after
-- an unpublish and republish.
ALTER TABLE comments ADD COLUMN published_at TEXT;
UPDATE comments SET published_at = coalesce(moderated_at, created_at) WHERE status = 'approved';

-- A subscription asked for on the web waits here until its address is confirmed.
CREATE TABLE subscription_requests (
    id          INTEGER PRIMARY KEY,
    address_id  INTEGER NOT NULL REFERENCES addresses(id),
    thread_id   INTEGER REFERENCES threads(id),
    level       TEXT NOT NULL CHECK (level IN ('replies', 'thread')),
    created_at  TEXT NOT NULL,
    UNIQUE (address_id, thread_id)
);

-- Notifications due to a person, gathered for a short window and then sent as one
-- email (or one digest).
CREATE TABLE pending_notifications (
    id          INTEGER PRIMARY KEY,
    address_id  INTEGER NOT NULL REFERENCES addresses(id),
    comment_id  INTEGER NOT NULL REFERENCES comments(id),
    why         TEXT NOT NULL CHECK (why IN ('reply', 'thread')),
    created_at  TEXT NOT NULL,
    due_at      REAL NOT NULL,
    UNIQUE (address_id, comment_id)
);
CREATE INDEX pending_by_due ON pending_notifications (due_at);

-- The inbound log learns one more disposition: a mailto: unsubscribe.
CREATE TABLE inbound_log (
    id          INTEGER PRIMARY KEY,
    dedup_key   TEXT UNIQUE,
    stage       TEXT NOT NULL CHECK (stage IN ('rcpt', 'data')),
    message_id  TEXT,
    received_at TEXT NOT NULL,
    peer        TEXT NOT NULL,
    helo        TEXT NOT NULL,
    mail_from   TEXT NOT NULL,
    rcpt_to     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    headers     TEXT,
    raw         BLOB,
    address_id  INTEGER REFERENCES addresses(id),
    status      TEXT NOT NULL CHECK (status IN (
                    'received', 'accepted', 'held', 'rejected', 'dropped', 'bounce', 'refused',
                    'unsubscribed')),
    reason      TEXT,
    detail      TEXT,
    checks      TEXT NOT NULL DEFAULT '{}',
    comment_id  INTEGER REFERENCES comments(id),
    deliveries  INTEGER NOT NULL DEFAULT 1
);
INSERT INTO inbound_log SELECT id, dedup_key, stage, message_id, received_at, peer, helo,
    mail_from, rcpt_to, size, headers, raw, address_id, status, reason, detail, checks,
    comment_id, deliveries FROM inbound_messages;
-- bounces references inbound_messages: rebuild it against the new table too.
CREATE TABLE bounces_new (
    id          INTEGER PRIMARY KEY,
    inbound_id  INTEGER NOT NULL REFERENCES inbound_log(id),
    outbox_id   INTEGER REFERENCES outbox(id),
    address_id  INTEGER REFERENCES addresses(id),
    kind        TEXT NOT NULL CHECK (kind IN ('hard', 'soft')),
    status      TEXT NOT NULL,
    diagnostic  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (inbound_id, address_id)
);
INSERT INTO bounces_new SELECT * FROM bounces;
DROP TABLE bounces;
DROP TABLE inbound_messages;
ALTER TABLE inbound_log RENAME TO inbound_messages;
ALTER TABLE bounces_new RENAME TO bounces;
CREATE INDEX inbound_by_time ON inbound_messages (received_at);
CREATE INDEX inbound_by_address ON inbound_messages (address_id, received_at);
CREATE INDEX inbound_by_status ON inbound_messages (status, reason);
