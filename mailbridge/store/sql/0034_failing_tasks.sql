-- What fails at each try and is tried again, for `mailbridge status`, which reads the
-- database alone (mailbridge.store.failing): the mailbox (IMAP) and each periodic job
-- (the moderation digest, the spam report, housekeeping). Only /metrics (this
-- process's gauges) and the log said so: a login the IMAP server refused, a digest
-- template that fails. A row while it fails; deleted once a try succeeds.
CREATE TABLE failing_tasks (
    name       TEXT PRIMARY KEY,   -- imap, moderation-digest, spam-report, housekeeping
    failures   INTEGER NOT NULL,   -- tries failed in a row
    since      TEXT NOT NULL,      -- the first of them (ISO 8601 UTC)
    last_at    TEXT NOT NULL,      -- the last of them
    last_error TEXT NOT NULL       -- what the last said, one line, addresses masked
);
