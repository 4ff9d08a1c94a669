-- Leases for outgoing mail: a row in 'sending' belongs to the worker named in
-- lease_owner until lease_expires_at (Unix seconds), which that worker renews while
-- the send runs. Only an expired lease is taken back, so two workers (or a restart
-- while the old process still runs) never send the same row at once.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_expires_at REAL;
-- When the operator queued a failed message again (`mailbridge outbox --retry`): the
-- give-up clock restarts there instead of at created_at.
ALTER TABLE outbox ADD COLUMN requeued_at TEXT;
