CREATE TABLE periodic_jobs (
    name     TEXT PRIMARY KEY,
    due_at   DOUBLE PRECISION NOT NULL,
    last_by  TEXT,
    last_at  DOUBLE PRECISION
);

CREATE TABLE instance_facts (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE rate_hits (
    scope  TEXT NOT NULL,
    client TEXT NOT NULL,
    at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX rate_hits_by_client ON rate_hits (scope, client, at);
CREATE INDEX rate_hits_by_time ON rate_hits (at);
