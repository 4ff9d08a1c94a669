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
