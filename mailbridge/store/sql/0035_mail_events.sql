-- Delivery events a mail service reports through its event webhook (Mailgun, SendGrid)
-- and abuse reports (ARF) about mail we sent (mailbridge.mail_events). One row per
-- event: a provider's retry of the same event is the same (provider, event_id) and
-- counts once. outbox_id and address_id are empty when the event names no message we
-- sent (it counts for nobody). The diagnostic is kept with addresses masked.
CREATE TABLE mail_events (
    id          INTEGER PRIMARY KEY,
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint', 'none')),
    outbox_id   INTEGER,
    address_id  INTEGER REFERENCES addresses(id),
    status      TEXT NOT NULL,
    diagnostic  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (provider, event_id)
);
CREATE INDEX mail_events_by_address ON mail_events (address_id);
CREATE INDEX mail_events_by_outbox ON mail_events (outbox_id);
