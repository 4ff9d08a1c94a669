-- A mail service's events about a person go with their address row, whoever deletes
-- it. 0035 keyed mail_events.address_id to addresses without ON DELETE: the previous
-- release (schema 0032), still running beside an upgraded daemon on one PostgreSQL or
-- put back on a SQLite file after the upgrade, knows nothing of this table, and its
-- erasure ("DELETE FROM addresses") and its spam purge of unreferenced addresses failed
-- with "FOREIGN KEY constraint failed" for anyone a service had reported a bounce or
-- complaint of: `mailbridge person erase` refused, the hourly housekeeping rolled back.
-- This release's erasure deletes them itself, first (mailbridge.people.data).
-- SQLite cannot change a key in place: the table is made again, rows and ids as they were.
CREATE TABLE mail_events_new (
    id          INTEGER PRIMARY KEY,
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint', 'none')),
    outbox_id   INTEGER,
    address_id  INTEGER REFERENCES addresses(id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    diagnostic  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (provider, event_id)
);
INSERT INTO mail_events_new (id, provider, event_id, kind, outbox_id, address_id, status,
                             diagnostic, received_at)
    SELECT id, provider, event_id, kind, outbox_id, address_id, status, diagnostic,
           received_at FROM mail_events;
DROP TABLE mail_events;
ALTER TABLE mail_events_new RENAME TO mail_events;
CREATE INDEX mail_events_by_address ON mail_events (address_id);
CREATE INDEX mail_events_by_outbox ON mail_events (outbox_id);
