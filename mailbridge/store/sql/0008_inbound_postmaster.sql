-- Issue 8, finding 9: mail to postmaster@ the reply domain (RFC 5321 requires the
-- mailbox) is accepted and kept for the operator with its own disposition.
-- SQLite cannot change a CHECK constraint in place: rebuild the table (and bounces,
-- which references it), as 0005 did.
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
                    'unsubscribed', 'postmaster')),
    reason      TEXT,
    detail      TEXT,
    checks      TEXT NOT NULL DEFAULT '{}',
    comment_id  INTEGER REFERENCES comments(id),
    deliveries  INTEGER NOT NULL DEFAULT 1
);
INSERT INTO inbound_log SELECT id, dedup_key, stage, message_id, received_at, peer, helo,
    mail_from, rcpt_to, size, headers, raw, address_id, status, reason, detail, checks,
    comment_id, deliveries FROM inbound_messages;
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
