-- Issue 4: an inbound log that explains every outcome, bounce accounting, revocable
-- reply addresses, closed threads, and the one-explanation-per-hour table.

-- The inbound log gains: the stage a refusal happened at (RCPT refusals have no
-- message), the header block (kept after the raw body expires), the address the
-- reply address was sent to (for per-sender limits), the checks' results, and more
-- dispositions. SQLite cannot change a CHECK constraint in place: rebuild the table.
CREATE TABLE inbound_log (
    id          INTEGER PRIMARY KEY,
    dedup_key   TEXT UNIQUE,           -- NULL for RCPT-stage refusals
    stage       TEXT NOT NULL CHECK (stage IN ('rcpt', 'data')),
    message_id  TEXT,
    received_at TEXT NOT NULL,
    peer        TEXT NOT NULL,
    helo        TEXT NOT NULL,
    mail_from   TEXT NOT NULL,
    rcpt_to     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    headers     TEXT,                  -- the header block, kept when raw expires
    raw         BLOB,                  -- NULL once older than inbound.raw_retention_days
    address_id  INTEGER REFERENCES addresses(id),
    status      TEXT NOT NULL CHECK (status IN (
                    'received', 'accepted', 'held', 'rejected', 'dropped', 'bounce', 'refused')),
    reason      TEXT,                  -- machine-readable reason code
    detail      TEXT,                  -- what the sender was told (the SMTP reply)
    checks      TEXT NOT NULL DEFAULT '{}',  -- JSON: authentication, classification, ...
    comment_id  INTEGER REFERENCES comments(id),
    deliveries  INTEGER NOT NULL DEFAULT 1
);
INSERT INTO inbound_log (id, dedup_key, stage, message_id, received_at, peer, helo, mail_from,
                         rcpt_to, size, raw, status, reason, detail, comment_id, deliveries)
    SELECT id, dedup_key, 'data', message_id, received_at, peer, helo, mail_from, rcpt_to, size,
           raw, status, reason, detail, comment_id, deliveries
    FROM inbound_messages;
DROP TABLE inbound_messages;
ALTER TABLE inbound_log RENAME TO inbound_messages;
CREATE INDEX inbound_by_time ON inbound_messages (received_at);
CREATE INDEX inbound_by_address ON inbound_messages (address_id, received_at);
CREATE INDEX inbound_by_status ON inbound_messages (status, reason);

-- Per-address state: a key epoch (raising it revokes every reply address sent to it),
-- bounce counters, and when mailing it stopped.
ALTER TABLE addresses ADD COLUMN key_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE addresses ADD COLUMN hard_bounces INTEGER NOT NULL DEFAULT 0;
ALTER TABLE addresses ADD COLUMN soft_bounces INTEGER NOT NULL DEFAULT 0;
ALTER TABLE addresses ADD COLUMN last_bounce_at TEXT;
ALTER TABLE addresses ADD COLUMN suppressed_at TEXT;     -- no more mail to it
ALTER TABLE addresses ADD COLUMN suppressed_reason TEXT;

-- Every bounce received, what it said, and which outgoing message it was about.
CREATE TABLE bounces (
    id          INTEGER PRIMARY KEY,
    inbound_id  INTEGER NOT NULL REFERENCES inbound_messages(id),
    outbox_id   INTEGER REFERENCES outbox(id),
    address_id  INTEGER REFERENCES addresses(id),
    kind        TEXT NOT NULL CHECK (kind IN ('hard', 'soft')),
    status      TEXT NOT NULL,       -- enhanced status code, e.g. 5.1.1
    diagnostic  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (inbound_id, address_id)
);

-- Threads can be closed to new comments (WordPress comment_status = closed).
ALTER TABLE threads ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;

-- Held comments (authentication failed under the "hold" policy) carry the reason to
-- the moderator.
ALTER TABLE comments ADD COLUMN held_reason TEXT;
CREATE INDEX comments_by_time ON comments (thread_id, created_at);
CREATE INDEX comments_by_address ON comments (address_id, created_at);

-- At most one explanatory email per sender and hour.
CREATE TABLE rejection_replies (
    sender TEXT NOT NULL COLLATE NOCASE,
    hour   TEXT NOT NULL,            -- e.g. 2026-11-25T18
    reason TEXT NOT NULL,
    PRIMARY KEY (sender, hour)
);
