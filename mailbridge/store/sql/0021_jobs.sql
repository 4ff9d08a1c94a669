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

-- Per-client-IP hourly limits of the web's open doors (comments, new threads, sign-in
-- and privacy link emails), counted here when several daemons share the database,
-- so that the limit is the limit whichever daemon a request reaches. The client is
-- a keyed hash of its IP address, never the address. Rows past a day are purged.
CREATE TABLE rate_hits (
    id     INTEGER PRIMARY KEY,
    scope  TEXT NOT NULL,
    client TEXT NOT NULL,
    at     REAL NOT NULL
);
CREATE INDEX rate_hits_by_client ON rate_hits (scope, client, at);
CREATE INDEX rate_hits_by_time ON rate_hits (at);

-- Comments whose moderation emails a daemon is building: with several daemons on one
-- database each takes its own batch (mailbridge.notify.moderation_mailer), instead of
-- every daemon drafting every email and all but one dropping theirs. A claim runs out,
-- so the rows of a daemon killed meanwhile are built by another.
ALTER TABLE moderation_mail_queue ADD COLUMN claimed_by TEXT;
ALTER TABLE moderation_mail_queue ADD COLUMN claimed_until REAL;
