-- A mail service's events about a person go with their address row, whoever deletes
-- it. 0035 keyed mail_events.address_id to addresses without ON DELETE: the previous
-- release (schema 0032), still running beside an upgraded daemon on one PostgreSQL,
-- knows nothing of this table, and its erasure ("DELETE FROM addresses") and its spam
-- purge of unreferenced addresses failed on the key for anyone a service had reported
-- a bounce or complaint of. This release's erasure deletes them itself, first.
ALTER TABLE mail_events DROP CONSTRAINT mail_events_address_id_fkey;
ALTER TABLE mail_events ADD CONSTRAINT mail_events_address_id_fkey
    FOREIGN KEY (address_id) REFERENCES addresses(id) ON DELETE CASCADE;
