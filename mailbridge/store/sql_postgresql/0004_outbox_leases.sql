ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_expires_at DOUBLE PRECISION;
ALTER TABLE outbox ADD COLUMN requeued_at TEXT;
