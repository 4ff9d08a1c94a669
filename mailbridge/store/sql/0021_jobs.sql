-- Issue 16: several daemons on one database. Each periodic job (digests, the spam
-- report, housekeeping) has one row here, and the daemon that moves its due time
-- forward (a conditional UPDATE) is the one that runs it that time: chosen by the
-- database, whichever daemons are alive (mailbridge.jobs).
CREATE TABLE periodic_jobs (
    name     TEXT PRIMARY KEY,
    due_at   REAL NOT NULL,        -- epoch seconds of the next run
    last_by  TEXT,                 -- the daemon that ran it last (host:pid:random)
    last_at  REAL                  -- when it did
);

-- One value per name that every daemon on the database must agree on: the instance
-- secret's fingerprint, so a daemon with another secret refuses to start instead of
-- refusing the others' tokens.
CREATE TABLE instance_facts (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
