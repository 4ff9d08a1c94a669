-- The first schema: threads, commenters' addresses, comments, inbound mail, outbox.
-- Dates are ISO 8601 UTC text; outbox scheduling uses Unix seconds (REAL).

CREATE TABLE addresses (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE COLLATE NOCASE,  -- never shown publicly
    created_at  TEXT NOT NULL
);

CREATE TABLE threads (
    id                INTEGER PRIMARY KEY,
    key               TEXT NOT NULL UNIQUE,            -- the slug in /threads/{key}
    title             TEXT NOT NULL,
    url               TEXT NOT NULL DEFAULT '',         -- the blog post itself
    author            TEXT NOT NULL DEFAULT '',
    author_address_id INTEGER REFERENCES addresses(id), -- moderates this thread
    created_at        TEXT NOT NULL
);

CREATE TABLE comments (
    id           INTEGER PRIMARY KEY,
    thread_id    INTEGER NOT NULL REFERENCES threads(id),
    parent_id    INTEGER REFERENCES comments(id),
    address_id   INTEGER REFERENCES addresses(id),
    author       TEXT NOT NULL,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
    source       TEXT NOT NULL CHECK (source IN ('import', 'web', 'email')),
    source_ref   TEXT,            -- import: id in the source file; email: inbound message id
    notify       INTEGER NOT NULL DEFAULT 0,  -- email the author when someone answers
    created_at   TEXT NOT NULL,
    moderated_at TEXT,
    UNIQUE (thread_id, source, source_ref)
);
CREATE INDEX comments_by_thread ON comments (thread_id, status, id);
CREATE INDEX comments_by_parent ON comments (parent_id);

CREATE TABLE inbound_messages (
    id          INTEGER PRIMARY KEY,
    dedup_key   TEXT NOT NULL UNIQUE,  -- sha256 of (Message-ID or raw bytes, recipient)
    message_id  TEXT,
    received_at TEXT NOT NULL,
    peer        TEXT NOT NULL,
    helo        TEXT NOT NULL,
    mail_from   TEXT NOT NULL,
    rcpt_to     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    raw         BLOB NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('received', 'accepted', 'rejected')),
    reason      TEXT,                  -- machine-readable code of a rejection
    detail      TEXT,                  -- what the sender was told
    comment_id  INTEGER REFERENCES comments(id),
    deliveries  INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,           -- moderation_request, reply_notification
    comment_id      INTEGER REFERENCES comments(id),
    message_id      TEXT NOT NULL UNIQUE,
    mail_from       TEXT NOT NULL,
    rcpt_to         TEXT NOT NULL,
    message         BLOB NOT NULL,           -- the composed RFC 5322 message
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (kind, comment_id, rcpt_to)       -- one email per event and recipient
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
